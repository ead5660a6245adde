import Foundation
import SeqModels

/// How a classifier turns a raw text into token ids: tokenizer, length limit, and which end
/// of a long text to keep. Saved in the model's `config.json`, so that prediction prepares
/// texts exactly as training did.
public struct TextPreparation: Codable, Equatable, Sendable {
    /// The tokenizers a classifier can use.
    public enum TokenizerKind: String, Codable, Sendable, CaseIterable {
        /// `WordTokenizer(lowercased: true)`: words and punctuation, lowercased; CJK ideographs one by one.
        case words
        /// `WordTokenizer(lowercased: false)`.
        case casedWords = "cased-words"
        /// One token per character, whitespace dropped (Chinese reviews).
        case characters
        /// Whitespace-separated tokens as given (pre-tokenised corpora such as SST-2).
        case whitespace
    }

    /// Which tokens of a text longer than `maxLength` are kept.
    public enum Truncation: String, Codable, Sendable, CaseIterable {
        /// The first `maxLength` tokens.
        case head
        /// The last `maxLength` tokens (reviews often end with the verdict).
        case tail
        /// The first ⌈maxLength/2⌉ and the last ⌊maxLength/2⌋ tokens.
        case both
    }

    public var tokenizer: TokenizerKind
    /// Most tokens kept per text, or `nil` for no limit.
    public var maxLength: Int?
    public var truncation: Truncation
    /// Whether HTML line breaks (`<br />`, `<br/>`, `<br>`, as in IMDB's reviews) become spaces
    /// before tokenising, instead of four tokens of markup each.
    public var removesLineBreakTags: Bool

    public init(tokenizer: TokenizerKind = .words, maxLength: Int? = 600, truncation: Truncation = .both,
                removesLineBreakTags: Bool = true) {
        if let m = maxLength { precondition(m > 0, "maxLength must be positive, got \(m)") }
        self.tokenizer = tokenizer
        self.maxLength = maxLength
        self.truncation = truncation
        self.removesLineBreakTags = removesLineBreakTags
    }

    /// The tokens of `text`, cut to `maxLength`.
    public func tokens(of text: String) -> [String] {
        let text = removesLineBreakTags ? Self.removingLineBreakTags(text) : text
        let all: [String]
        switch tokenizer {
        case .words: all = WordTokenizer(lowercased: true).tokenize(text)
        case .casedWords: all = WordTokenizer(lowercased: false).tokenize(text)
        case .characters: all = CharacterTokenizer.droppingWhitespace.tokenize(text)
        case .whitespace: all = PreTokenizedTokenizer().tokenize(text)
        }
        return truncate(all)
    }

    /// `text` with every `<br />`, `<br/>` and `<br>` replaced by a space. Works on the UTF-8
    /// bytes (the tags are ASCII): Foundation's `replacingOccurrences` took a tenth of the
    /// time of classifying IMDB.
    static func removingLineBreakTags(_ text: String) -> String {
        let tags: [[UInt8]] = [Array("<br />".utf8), Array("<br/>".utf8), Array("<br>".utf8)]
        let utf8 = Array(text.utf8)
        var output: [UInt8] = []
        var index = 0, copied = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "<"), let tag = tags.first(where: { tag in
                index + tag.count <= utf8.count && utf8[index..<(index + tag.count)].elementsEqual(tag)
            }) {
                if output.isEmpty { output.reserveCapacity(utf8.count) }
                output.append(contentsOf: utf8[copied..<index])
                output.append(UInt8(ascii: " "))
                index += tag.count
                copied = index
            } else {
                index += 1
            }
        }
        if copied == 0 { return text }
        output.append(contentsOf: utf8[copied...])
        return String(decoding: output, as: UTF8.self)
    }

    /// `tokens` cut to `maxLength` following `truncation`.
    public func truncate<T>(_ tokens: [T]) -> [T] {
        guard let m = maxLength, tokens.count > m else { return tokens }
        switch truncation {
        case .head: return Array(tokens.prefix(m))
        case .tail: return Array(tokens.suffix(m))
        case .both:
            let front = (m + 1) / 2
            return Array(tokens.prefix(front)) + Array(tokens.suffix(m - front))
        }
    }
}
