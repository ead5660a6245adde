#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes rows of a CSV or TSV file with RFC 4180 quoting: a field is quoted when it holds
/// the delimiter, a quote or a line break (or starts with a space or tab, so that readers
/// which trim do not lose it), and quotes inside it are doubled. Records end in CRLF by
/// default, as RFC 4180 and the corpora in `../shared` do.
///
/// Used by `classify --input CSV --output CSV`, which copies every input column and
/// appends the prediction. Call `close()` when done to flush and see any write error.
public final class CSVWriter {
    private var file: UnsafeMutablePointer<FILE>?
    private let path: String
    public let format: CSVFormat
    public let lineTerminator: String
    private var rowsWritten = 0

    /// Creates (or truncates) `path`.
    public init(path: String, format: CSVFormat = .csv, lineTerminator: String = "\r\n") throws {
        precondition(lineTerminator == "\r\n" || lineTerminator == "\n", "Records end in CRLF or LF")
        guard let handle = fopen(path, "wb") else {
            throw CorpusError("cannot create file: \(String(cString: strerror(errno)))", at: SourceLocation(file: path, line: 0))
        }
        self.file = handle
        self.path = path
        self.format = format
        self.lineTerminator = lineTerminator
    }

    deinit {
        if let file { fclose(file) }
    }

    /// Appends one row. Throws when a TSV without quoting cannot represent a field.
    public func write(_ fields: [String]) throws {
        guard let file else { preconditionFailure("CSVWriter used after close()") }
        var line = try Self.record(fields, format: format, lineTerminator: lineTerminator, line: rowsWritten + 1, file: path)
        rowsWritten += 1
        let written = line.withUTF8 { bytes in fwrite(bytes.baseAddress, 1, bytes.count, file) }
        if written != line.utf8.count {
            throw CorpusError("write failed: \(String(cString: strerror(errno)))", at: SourceLocation(file: path, line: rowsWritten))
        }
    }

    /// Flushes and closes the file.
    public func close() throws {
        guard let file else { return }
        self.file = nil
        if fclose(file) != 0 {
            throw CorpusError("closing failed: \(String(cString: strerror(errno)))", at: SourceLocation(file: path, line: rowsWritten))
        }
    }

    /// One record as text, terminator included: the quoting rules above, for tests and for
    /// writers to other destinations.
    public static func record(_ fields: [String], format: CSVFormat = .csv, lineTerminator: String = "\r\n",
                              line: Int = 1, file: String = "<output>") throws -> String {
        var out = ""
        let delimiter = Character(Unicode.Scalar(format.delimiter))
        for (index, field) in fields.enumerated() {
            if index > 0 { out.append(delimiter) }
            let needsQuotes = field.utf8.contains { $0 == format.delimiter || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }
                || field.utf8.first == 0x20 || field.utf8.first == 0x09
                || (fields.count == 1 && field.isEmpty)  // a lone empty field would read back as a blank line
            if needsQuotes && format.quoting {
                out.append("\"")
                out.append(field.replacingAll("\"", with: "\"\""))
                out.append("\"")
            } else if needsQuotes && field.utf8.contains(where: { $0 == format.delimiter || $0 == 0x0A || $0 == 0x0D }) {
                throw CorpusError("field \(index) holds a delimiter or line break, which a format without quoting cannot write",
                                  at: SourceLocation(file: file, line: line))
            } else {
                out.append(field)
            }
        }
        out.append(lineTerminator)
        return out
    }
}

extension String {
    /// Replaces every occurrence of `target` (one ASCII character) by `replacement`.
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        out.reserveCapacity(utf8.count + 8)
        for character in self {
            if character == target { out.append(replacement) } else { out.append(character) }
        }
        return out
    }
}
