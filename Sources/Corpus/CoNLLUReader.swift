#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which CoNLL-U column gives the tag: UPOS (column 4, universal tags) or XPOS (column 5,
/// the treebank's own tags, e.g. Penn Treebank for English EWT).
public enum CoNLLUTagColumn: String, Sendable, CaseIterable {
    case upos, xpos
}

/// A CoNLL-U sentence with everything the reader keeps: words, tags, identifier, text and
/// the comment lines as written (without `# `).
public struct CoNLLUSentence: Equatable, Sendable {
    public var tagged: TaggedSentence
    /// The value of `# text = …`, when present.
    public var text: String?
    /// Every comment line of the sentence, without the leading `#` and one space.
    public var comments: [String]
}

/// Streams the sentences of a CoNLL-U file (Universal Dependencies) as tagged sentences.
///
/// Tokens are the FORM column and tags the UPOS (default) or XPOS column of the word lines.
/// Multiword-token ranges (`1-2`) and empty nodes (`8.1`) are skipped, so a sentence holds
/// the syntactic words, as UD counts them. `# sent_id = …` becomes the sentence's `id`;
/// `# text = …` and all comments are kept in `CoNLLUSentence`. Sentences end at a blank
/// line (or the end of the file). Lines may end in LF or CRLF.
///
/// Errors name the file and line: a word line without exactly 10 tab-separated columns, an
/// empty FORM, an empty or `_` tag.
///
///     var sentences = try CoNLLUReader(contentsOf: "en_ewt-ud-train.conllu", tag: .upos)
///     while let sentence = try sentences.next() { … sentence.tokens, sentence.tags … }
public struct CoNLLUReader: TaggedSentenceSource {
    private var lines: LineReader
    public let tagColumn: CoNLLUTagColumn

    /// Opens `path`, streaming: memory holds one sentence at a time.
    public init(contentsOf path: String, tag: CoNLLUTagColumn = .upos) throws {
        lines = try LineReader(.file(path: path))
        tagColumn = tag
    }

    /// Reads CoNLL-U text held in memory; `name` stands for the file in error messages.
    public init(string: String, name: String = "<string>", tag: CoNLLUTagColumn = .upos) throws {
        lines = try LineReader(.bytes(Array(string.utf8), name: name))
        tagColumn = tag
    }

    /// The next sentence as tokens and tags, or `nil` at the end of the file.
    public mutating func next() throws -> TaggedSentence? {
        try nextSentence()?.tagged
    }

    /// The next sentence with its comments and text, or `nil` at the end of the file.
    public mutating func nextSentence() throws -> CoNLLUSentence? {
        var tokens: [String] = []
        var tags: [String] = []
        var comments: [String] = []
        var id: String?
        var text: String?
        var startLine: Int?
        let tagIndex = tagColumn == .upos ? 3 : 4
        while let line = try lines.nextLine() {
            let lineNumber = lines.lineNumber
            if line.utf8.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                if !tokens.isEmpty { break }
                if !comments.isEmpty {
                    throw CorpusError("a sentence with comments but no word lines", at: SourceLocation(file: lines.name, line: lineNumber))
                }
                continue
            }
            if startLine == nil { startLine = lineNumber }
            if line.utf8.first == 0x23 {  // "#"
                var comment = line.dropFirst()
                if comment.hasPrefix(" ") { comment = comment.dropFirst() }
                comments.append(String(comment))
                if let value = Self.value(of: "sent_id", in: comment) { id = value }
                if let value = Self.value(of: "text", in: comment) { text = value }
                continue
            }
            let location = SourceLocation(file: lines.name, line: lineNumber)
            var wordLine = line
            let form: String
            let tag: String
            switch Self.parseWordLine(&wordLine, tagIndex: tagIndex) {
            case .skipped:
                continue
            case .wrongColumnCount(let count):
                throw CorpusError("expected 10 tab-separated columns, found \(count)", at: location)
            case .word(let wordForm, let wordTag):
                form = wordForm
                tag = wordTag
            }
            if form.isEmpty { throw CorpusError("empty FORM", at: location) }
            if tag.isEmpty || tag == "_" {
                throw CorpusError("word \"\(form)\" has no \(tagColumn.rawValue.uppercased()) tag", at: location)
            }
            tokens.append(form)
            tags.append(tag)
        }
        guard !tokens.isEmpty, let startLine else {
            if !comments.isEmpty {
                throw CorpusError("a sentence with comments but no word lines", at: SourceLocation(file: lines.name, line: lines.lineNumber))
            }
            return nil
        }
        return CoNLLUSentence(
            tagged: TaggedSentence(id: id, tokens: tokens, tags: tags, location: SourceLocation(file: lines.name, line: startLine)),
            text: text, comments: comments)
    }

    private enum WordLine {
        case skipped
        case wrongColumnCount(Int)
        case word(form: String, tag: String)
    }

    /// Splits a word line at its tabs (with `memchr`, fast even in debug builds) and returns
    /// FORM and the tag, or `.skipped` for a multiword range (`1-2`) or an empty node (`8.1`).
    private static func parseWordLine(_ line: inout String, tagIndex: Int) -> WordLine {
        line.withUTF8 { bytes -> WordLine in
            guard let base = bytes.baseAddress else { return .wrongColumnCount(1) }
            let raw = UnsafeRawPointer(base)
            var tabs: [Int] = []
            tabs.reserveCapacity(10)
            var offset = 0
            while offset < bytes.count, let hit = memchr(raw + offset, 0x09, bytes.count - offset) {
                let index = raw.distance(to: UnsafeRawPointer(hit))
                tabs.append(index)
                offset = index + 1
            }
            guard tabs.count == 9 else { return .wrongColumnCount(tabs.count + 1) }
            if memchr(raw, 0x2D, tabs[0]) != nil || memchr(raw, 0x2E, tabs[0]) != nil { return .skipped }
            func column(_ index: Int) -> String {
                let start = index == 0 ? 0 : tabs[index - 1] + 1
                let end = index == 9 ? bytes.count : tabs[index]
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
            }
            return .word(form: column(1), tag: column(tagIndex))
        }
    }

    /// `value` from a comment `key = value` (or `key value`), or `nil` for another key.
    private static func value(of key: String, in comment: Substring) -> String? {
        guard comment.hasPrefix(key) else { return nil }
        let rest = comment.dropFirst(key.count)
        guard let first = rest.first, first == " " || first == "=" else { return nil }
        var value = rest.drop { $0 == " " }
        if value.first == "=" { value = value.dropFirst().drop { $0 == " " } }
        return String(value)
    }
}
