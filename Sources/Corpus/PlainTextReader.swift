import SeqModels

/// One record of a plain-text corpus read a line at a time (a poem, a sentence), with the
/// line it came from.
public struct TextRecord: Equatable, Sendable {
    public var text: String
    public var location: SourceLocation

    public init(text: String, location: SourceLocation) {
        self.text = text
        self.location = location
    }
}

/// Plain UTF-8 text for generation, read whole as characters or words, or one record per line.
///
/// **Line breaks.** CRLF is normalised to LF in every mode (a lone CR is kept), so a file
/// gives the same characters, words and records whether it was saved with CRLF or LF, and
/// a character model never learns a `"\r\n"` token. A final newline is kept as it is in
/// the file (`belling_the_cat.txt` has none). A leading UTF-8 byte-order mark is dropped.
///
/// **Characters.** Units are Swift `Character`s (extended grapheme clusters), so a
/// character outside the BMP (CJK Extension B in the Tang poems, emoji) is one unit, as is
/// a letter with its combining accents.
public enum PlainTextReader {
    /// The whole text of `path`, CRLF normalised to LF; invalid UTF-8 is an error naming its line.
    public static func text(contentsOf path: String) throws -> String {
        try text(of: .file(path: path))
    }

    /// The file's characters, in order (newlines included).
    public static func characters(contentsOf path: String) throws -> [Character] {
        Array(try text(contentsOf: path))
    }

    /// The file's words, by `tokenizer` (default: whitespace-separated, as given).
    public static func words(contentsOf path: String, tokenizer: some Tokenizer = PreTokenizedTokenizer()) throws -> [String] {
        tokenizer.tokenize(try text(contentsOf: path))
    }

    static func text(of input: ByteInput) throws -> String {
        let chunks = try ByteChunkReader(input)
        var bytes: [UInt8] = []
        var chunk: [UInt8] = []
        while try chunks.readChunk(into: &chunk) { bytes.append(contentsOf: chunk) }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        // CRLF -> LF, in place.
        var write = 0
        bytes.withUnsafeMutableBufferPointer { buffer in
            var read = 0
            let count = buffer.count
            while read < count {
                let byte = buffer[read]
                if !(byte == 0x0D && read &+ 1 < count && buffer[read &+ 1] == 0x0A) {
                    buffer[write] = byte
                    write &+= 1
                }
                read &+= 1
            }
        }
        bytes.removeSubrange(write...)
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        // Find the line of the first invalid sequence, for the message.
        var line = 1
        for piece in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            if String(validating: piece, as: UTF8.self) == nil { break }
            line += 1
        }
        throw CorpusError("invalid UTF-8", at: SourceLocation(file: input.name, line: line))
    }
}

/// Streams a plain-text file one record per line (a poem a line), in constant memory.
///
/// Lines end at LF or CRLF (the CR is removed); blank lines (only whitespace) are skipped
/// unless `skipsBlankLines` is `false`. Characters outside the BMP are kept intact.
public struct LineRecordReader {
    private var lines: LineReader
    public let skipsBlankLines: Bool

    public init(contentsOf path: String, skipsBlankLines: Bool = true) throws {
        lines = try LineReader(.file(path: path))
        self.skipsBlankLines = skipsBlankLines
    }

    /// Reads text held in memory; `name` stands for the file in error messages.
    public init(string: String, name: String = "<string>", skipsBlankLines: Bool = true) throws {
        lines = try LineReader(.bytes(Array(string.utf8), name: name))
        self.skipsBlankLines = skipsBlankLines
    }

    /// The next record, or `nil` at the end of the file.
    public mutating func next() throws -> TextRecord? {
        while let line = try lines.nextLine() {
            if skipsBlankLines && line.allSatisfy(\.isWhitespace) { continue }
            return TextRecord(text: line, location: SourceLocation(file: lines.name, line: lines.lineNumber))
        }
        return nil
    }
}
