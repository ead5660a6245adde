import CXMLReader
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One node kind from the C reader (`sm_xml_node_kind`).
enum XMLNodeKind: Int32 {
    case error = -1
    case endOfDocument = 0
    case startElement = 1
    case endElement = 2
    case text = 3
    case whitespace = 4
    case entityReference = 5
}

/// The owner of one open `sm_xml_reader`: a thin Swift face on the safe C pull reader,
/// shared by the sentence and labelled-text readers. Closing happens in `deinit`.
///
/// Names handed out by `intern` are owned by the reader's dictionary and live as long
/// as this object; element names compare equal to them as pointers, so matching an
/// element costs a pointer comparison and no `String`.
final class XMLPullParser {
    let path: String
    private let handle: OpaquePointer

    /// Opens `path`; a missing or unreadable file is a `CorpusError` at line 1.
    init(path: String) throws(CorpusError) {
        self.path = path
        var message: UnsafeMutablePointer<CChar>? = nil
        guard let handle = sm_xml_open(path, &message) else {
            let text = message.map { String(cString: $0) } ?? "cannot open \(path)"
            sm_xml_free_string(message)
            throw CorpusError(text, at: SourceLocation(file: path, line: 1))
        }
        self.handle = handle
    }

    deinit { sm_xml_close(handle) }

    /// Advances to the next element start, element end, text or entity reference.
    @inline(__always) func next() -> XMLNodeKind {
        XMLNodeKind(rawValue: sm_xml_next(handle)) ?? .error
    }

    /// `name` interned in the reader's dictionary (stable until the parser goes away).
    func intern(_ name: String) -> UnsafePointer<CChar> {
        sm_xml_intern(handle, name)
    }

    /// The current element's interned local name.
    @inline(__always) var localName: UnsafePointer<CChar> { sm_xml_local_name(handle) }

    /// Whether the current element is in `namespace` (`nil`: any; `""`: none).
    func isInNamespace(_ namespace: UnsafePointer<CChar>?) -> Bool {
        guard let namespace else { return true }
        guard let uri = sm_xml_namespace_uri(handle) else { return namespace.pointee == 0 }
        return strcmp(uri, namespace) == 0
    }

    /// The current text node's bytes (valid until `next()`).
    @inline(__always) var value: UnsafePointer<CChar>? { sm_xml_value(handle) }

    /// The current element's attribute with this local name, in any namespace, or `nil`
    /// when absent. Throws when the value refers to a user-declared entity.
    @inline(__always) func attribute(_ localName: UnsafePointer<CChar>) throws(CorpusError) -> UnsafePointer<CChar>? {
        if let value = sm_xml_attribute(handle, localName, nil) { return value }
        if let message = sm_xml_error_message(handle) {
            throw CorpusError(String(cString: message), at: locationOfStartTag(elementOrdinal))
        }
        return nil
    }

    /// The attribute `localName` (when given) of the current element as a String, or `nil`.
    func attributeString(_ localName: UnsafePointer<CChar>?) throws(CorpusError) -> String? {
        guard let localName, let value = try attribute(localName) else { return nil }
        return String(cString: value)
    }

    @inline(__always) var isEmptyElement: Bool { sm_xml_is_empty_element(handle) != 0 }
    @inline(__always) var depth: Int { Int(sm_xml_depth(handle)) }
    @inline(__always) var elementOrdinal: UInt64 { UInt64(sm_xml_element_ordinal(handle)) }

    /// External resources libxml2 asked for and this reader refused.
    var refusedLoads: Int { Int(sm_xml_refused_loads(handle)) }

    /// Location of the current element's start tag as far as is cheap: file and line
    /// (no column; `nil` line beyond what libxml2 2.9 records, 65,534).
    var cheapLocation: SourceLocation? {
        let line = sm_xml_line(handle)
        return line > 0 ? SourceLocation(file: path, line: line) : nil
    }

    /// Exact line and column of the `ordinal`-th start tag, found by rescanning the file
    /// (for error messages only).
    func locationOfStartTag(_ ordinal: UInt64) -> SourceLocation {
        var line = 0, column = 0
        if sm_xml_locate_start_tag(handle, ordinal, &line, &column) == 0 {
            return SourceLocation(file: path, line: line, column: column)
        }
        return SourceLocation(file: path, line: sm_xml_line(handle))
    }

    /// The error behind an `.error` node: libxml2's message with its line and column.
    func parseError() -> CorpusError {
        let message = sm_xml_error_message(handle).map { String(cString: $0) } ?? "unreadable XML"
        let line = Int(sm_xml_error_line(handle)), column = Int(sm_xml_error_column(handle))
        return CorpusError(
            message,
            at: SourceLocation(file: path, line: max(line, 1), column: column > 0 ? column : nil))
    }

    /// The error for an entity reference node: entities are never expanded.
    func entityReferenceError() -> CorpusError {
        let name = String(cString: localName)
        return CorpusError(
            "the entity reference &\(name); is not expanded (user-declared entities are refused "
                + "for safety); write the text or a numeric character reference instead",
            at: locationOfStartTag(elementOrdinal))
    }
}

/// Bytes of a C string appended to `buffer`.
@inline(__always) func appendCString(_ string: UnsafePointer<CChar>, to buffer: inout [UInt8]) {
    let count = strlen(string)
    string.withMemoryRebound(to: UInt8.self, capacity: count) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: $0, count: count))
    }
}

/// `bytes` without leading and trailing XML whitespace, as a String.
func trimmedString(_ bytes: [UInt8]) -> String {
    var start = 0, end = bytes.count
    while start < end, isXMLWhitespace(bytes[start]) { start += 1 }
    while end > start, isXMLWhitespace(bytes[end - 1]) { end -= 1 }
    return String(decoding: bytes[start..<end], as: UTF8.self)
}

/// A C string without leading and trailing XML whitespace, as a String.
func trimmedString(_ string: UnsafePointer<CChar>) -> String {
    let count = strlen(string)
    return string.withMemoryRebound(to: UInt8.self, capacity: count) { p in
        var start = 0, end = count
        while start < end, isXMLWhitespace(p[start]) { start += 1 }
        while end > start, isXMLWhitespace(p[end - 1]) { end -= 1 }
        return String(decoding: UnsafeBufferPointer(start: p + start, count: end - start), as: UTF8.self)
    }
}

@inline(__always) func isXMLWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
}
