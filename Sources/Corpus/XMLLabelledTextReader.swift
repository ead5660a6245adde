import CXMLReader

/// Where labelled documents live in an XML file, for the classifier.
///
/// ```xml
/// <review label="pos">A wonderful film.</review>                       <!-- .attribute("label"), .content -->
/// <item><sentiment>pos</sentiment><body>Loved it.</body></item>         <!-- .childElement(…) twice -->
/// ```
public struct XMLLabelledTextMapping: Equatable, Sendable {
    /// Where a value (label or text) is read from.
    public enum Field: Equatable, Sendable {
        /// An attribute of the record element.
        case attribute(String)
        /// The text content of the first child element (any depth) with this local name.
        case childElement(String)
        /// The record's whole text content, minus the label's child element if any.
        case content
    }

    /// Local name of the record element (`review`).
    public var recordElement: String
    /// Where the label is; `.content` is not allowed here.
    public var label: Field
    /// Where the text is.
    public var text: Field
    /// Namespace URI the record element must be in (`nil`: any; `""`: none).
    public var namespace: String?

    /// Makes a mapping; values are trimmed of leading and trailing XML whitespace.
    public init(recordElement: String = "review", label: Field = .attribute("label"),
                text: Field = .content, namespace: String? = nil) {
        precondition(label != .content, "A label cannot be the record's whole content")
        self.recordElement = recordElement
        self.label = label
        self.text = text
        self.namespace = namespace
    }
}

/// Streams labelled documents (text + label) from XML, one record in memory at a time,
/// with the same safety as `XMLSentenceReader` (no network, DTD, external or expanded
/// entities). A record without a label or with empty text throws a `CorpusError` naming
/// file, line and column, or with the `.skip` policy is skipped and counted in `report`.
public struct XMLLabelledTextReader: LabelledTextSource {
    /// The layout this reader follows.
    public let mapping: XMLLabelledTextMapping
    private let state: State

    /// Opens `path`; throws a `CorpusError` when the file cannot be opened.
    public init(path: String, mapping: XMLLabelledTextMapping = XMLLabelledTextMapping(),
                policy: XMLInvalidRecordPolicy = .fail) throws(CorpusError) {
        self.mapping = mapping
        self.state = try State(path: path, mapping: mapping, policy: policy)
    }

    /// What was read and skipped so far.
    public var report: XMLImportReport { state.report }

    /// The next valid labelled text, or `nil` at the end of the file.
    public mutating func next() throws(CorpusError) -> LabelledText? {
        try state.nextRecord()
    }
}

extension XMLLabelledTextReader {
    final class State {
        let parser: XMLPullParser
        let policy: XMLInvalidRecordPolicy
        var report = XMLImportReport(recordName: "record")

        private let recordName: UnsafePointer<CChar>
        private let namespace: UnsafePointer<CChar>?
        private let labelAttribute: UnsafePointer<CChar>?
        private let labelChild: UnsafePointer<CChar>?
        private let textAttribute: UnsafePointer<CChar>?
        private let textChild: UnsafePointer<CChar>?

        private var recordDepth = -1
        private var recordOrdinal: UInt64 = 0
        private var recordLocation: SourceLocation?
        private var label: String?
        private var text: String?
        private var labelBytes: [UInt8] = []
        private var textBytes: [UInt8] = []
        private var labelChildDepth = -1  // depth of the label child being read
        private var textChildDepth = -1   // depth of the text child being read
        private var labelChildSeen = false
        private var textChildSeen = false

        init(path: String, mapping: XMLLabelledTextMapping, policy: XMLInvalidRecordPolicy) throws(CorpusError) {
            let parser = try XMLPullParser(path: path)
            self.parser = parser
            self.policy = policy
            recordName = parser.intern(mapping.recordElement)
            namespace = mapping.namespace.map { parser.intern($0) }
            func split(_ field: XMLLabelledTextMapping.Field) -> (UnsafePointer<CChar>?, UnsafePointer<CChar>?) {
                switch field {
                case .attribute(let name): return (parser.intern(name), nil)
                case .childElement(let name): return (nil, parser.intern(name))
                case .content: return (nil, nil)
                }
            }
            (labelAttribute, labelChild) = split(mapping.label)
            (textAttribute, textChild) = split(mapping.text)
        }

        func nextRecord() throws(CorpusError) -> LabelledText? {
            while true {
                switch parser.next() {
                case .startElement:
                    try startElement()
                case .endElement:
                    if let record = try endElement() { return record }
                case .text, .whitespace:
                    guard recordDepth >= 0, let value = parser.value else { continue }
                    if labelChildDepth >= 0 {
                        appendCString(value, to: &labelBytes)
                    } else if textChildDepth >= 0 || (textChild == nil && textAttribute == nil) {
                        appendCString(value, to: &textBytes)
                    }
                case .entityReference:
                    throw parser.entityReferenceError()
                case .error:
                    throw parser.parseError()
                case .endOfDocument:
                    return nil
                }
            }
        }

        private func startElement() throws(CorpusError) {
            let name = parser.localName
            if recordDepth < 0 {
                guard name == recordName, parser.isInNamespace(namespace) else { return }
                recordDepth = parser.depth
                recordOrdinal = parser.elementOrdinal
                recordLocation = parser.cheapLocation
                label = try trimmedAttribute(labelAttribute)
                text = try trimmedAttribute(textAttribute)
                labelBytes.removeAll(keepingCapacity: true)
                textBytes.removeAll(keepingCapacity: true)
                labelChildSeen = false
                textChildSeen = false
                if parser.isEmptyElement { _ = try finishRecord() }
                return
            }
            if labelChildDepth >= 0 || textChildDepth >= 0 { return }
            if let labelChild, name == labelChild, !labelChildSeen {
                labelChildSeen = true
                if parser.isEmptyElement { label = "" } else { labelChildDepth = parser.depth }
            } else if let textChild, name == textChild, !textChildSeen {
                textChildSeen = true
                if parser.isEmptyElement { text = "" } else { textChildDepth = parser.depth }
            }
        }

        private func trimmedAttribute(_ name: UnsafePointer<CChar>?) throws(CorpusError) -> String? {
            guard let name, let value = try parser.attribute(name) else { return nil }
            return trimmedString(value)
        }

        private func endElement() throws(CorpusError) -> LabelledText? {
            guard recordDepth >= 0 else { return nil }
            let depth = parser.depth
            if depth == labelChildDepth {
                label = trimmedString(labelBytes)
                labelChildDepth = -1
            } else if depth == textChildDepth {
                text = trimmedString(textBytes)
                textChildDepth = -1
            } else if depth == recordDepth {
                return try finishRecord()
            }
            return nil
        }

        private func finishRecord() throws(CorpusError) -> LabelledText? {
            recordDepth = -1
            if textChild == nil && textAttribute == nil { text = trimmedString(textBytes) }
            let label = self.label ?? "", text = self.text ?? ""
            if label.isEmpty || text.isEmpty {
                let kind: XMLRecordProblem = label.isEmpty ? .missingLabel : .emptyText
                if policy == .fail {
                    let message = label.isEmpty ? "the record has no label" : "the record has no text"
                    throw CorpusError(message, at: parser.locationOfStartTag(recordOrdinal))
                }
                report.skippedRecords += 1
                report.problems[kind, default: 0] += 1
                return nil
            }
            report.records += 1
            return LabelledText(text: text, label: label, location: recordLocation)
        }
    }
}
