/// Splits a text into tokens (strings), before a `Vocabulary` turns them into ids.
public protocol Tokenizer: Sendable {
    /// The tokens of `text`, in order.
    func tokenize(_ text: String) -> [String]
}

/// Words and punctuation, for English-like text: splits at whitespace, and makes every
/// punctuation mark or symbol (emoji included) a token of its own.
///
/// The rule, character by character (Swift `Character`s, so emoji and characters outside
/// the BMP stay whole):
/// - Letters, digits and combining marks build a word.
/// - An apostrophe (`'` or `’`) between two letters stays inside the word, so contractions
///   and names stay whole: `don't`, `it's`, `O'Brien` are one token each (unlike the Penn
///   Treebank's `do n't`; whole words suit classification and generation better).
/// - A hyphen between two letters or digits stays inside (`well-known`, `covid-19`), and a
///   `.` or `,` between two digits stays inside (`3.5`, `10,000`).
/// - Any other punctuation or symbol is one token: `"Great!!"` → `"`, `Great`, `!`, `!`, `"`.
/// - A CJK ideograph (Chinese characters, kanji) is a token on its own, since those
///   scripts do not put spaces between words.
/// With `lowercased`, tokens are lowercased (Unicode-aware).
public struct WordTokenizer: Tokenizer {
    public var lowercased: Bool

    public init(lowercased: Bool = false) {
        self.lowercased = lowercased
    }

    public func tokenize(_ text: String) -> [String] {
        if let tokens = text.utf8.withContiguousStorageIfAvailable({ bytes in
            bytes.allSatisfy { $0 < 0x80 } ? tokenizeASCII(bytes) : nil
        }), let tokens {
            return tokens
        }
        return tokenizeCharacters(text)
    }

    /// The same rule over ASCII bytes: a fast path (IMDB is ASCII) that gives exactly the
    /// tokens `tokenizeCharacters` gives for ASCII text.
    func tokenizeASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> [String] {
        @inline(__always) func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }
        @inline(__always) func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
        @inline(__always) func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) }
        var tokens: [String] = []
        var wordStart: Int?
        let count = bytes.count
        func token(_ range: Range<Int>) -> String {
            let piece = UnsafeBufferPointer(rebasing: bytes[range])
            guard lowercased else { return String(decoding: piece, as: UTF8.self) }
            return String(unsafeUninitializedCapacity: piece.count) { out in
                for (index, byte) in piece.enumerated() { out[index] = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }
                return piece.count
            }
        }
        var index = 0
        while index < count {
            let byte = bytes[index]
            if isLetter(byte) || isDigit(byte) {
                if wordStart == nil { wordStart = index }
            } else if isSpace(byte) {
                if let start = wordStart { tokens.append(token(start..<index)); wordStart = nil }
            } else {
                var joins = false
                if wordStart != nil, index > 0, index + 1 < count {
                    let previous = bytes[index - 1]
                    let following = bytes[index + 1]
                    switch byte {
                    case 0x27: joins = isLetter(previous) && isLetter(following)  // '
                    case 0x2D: joins = (isLetter(previous) || isDigit(previous)) && (isLetter(following) || isDigit(following))  // -
                    case 0x2E, 0x2C: joins = isDigit(previous) && isDigit(following)  // . ,
                    default: joins = false
                    }
                }
                if !joins {
                    if let start = wordStart { tokens.append(token(start..<index)); wordStart = nil }
                    tokens.append(token(index..<(index + 1)))
                }
            }
            index += 1
        }
        if let start = wordStart { tokens.append(token(start..<count)) }
        return tokens
    }

    /// The rule over `Character`s, for any text.
    func tokenizeCharacters(_ text: String) -> [String] {
        var tokens: [String] = []
        var word = ""
        let characters = Array(text)
        func flush() {
            if !word.isEmpty {
                tokens.append(lowercased ? word.lowercased() : word)
                word = ""
            }
        }
        for (index, character) in characters.enumerated() {
            if character.isWhitespace {
                flush()
            } else if Self.isIdeograph(character) {
                flush()
                tokens.append(String(character))
            } else if Self.isWordCharacter(character) {
                word.append(character)
            } else {
                let previous = index > 0 ? characters[index - 1] : nil
                let following = index + 1 < characters.count ? characters[index + 1] : nil
                if !word.isEmpty, let previous, let following, Self.joins(character, previous, following) {
                    word.append(character)
                } else {
                    flush()
                    tokens.append(lowercased ? String(character).lowercased() : String(character))
                }
            }
        }
        flush()
        return tokens
    }

    /// Whether `joiner` between `previous` and `following` stays inside a word.
    private static func joins(_ joiner: Character, _ previous: Character, _ following: Character) -> Bool {
        switch joiner {
        case "'", "’":
            return previous.isLetter && following.isLetter
        case "-":
            return isWordCharacter(previous) && isWordCharacter(following) && !isIdeograph(following)
        case ".", ",":
            return previous.isNumber && following.isNumber
        default:
            return false
        }
    }

    private static func isWordCharacter(_ character: Character) -> Bool {
        if character.isLetter || character.isNumber { return true }
        // A lone combining mark (after whitespace) still belongs to word text.
        guard let scalar = character.unicodeScalars.first else { return false }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }

    static func isIdeograph(_ character: Character) -> Bool {
        character.unicodeScalars.first?.properties.isIdeographic ?? false
    }
}

/// One token per `Character` (extended grapheme cluster): Chinese gives one token per
/// character, an emoji with modifiers or a character outside the BMP is one token, and
/// `"\r\n"` is one token (as Swift treats it as one `Character`).
///
/// Whitespace is kept by default, since a character-level generator must learn spaces and
/// line breaks; `droppingWhitespace` removes it (e.g. for Chinese reviews).
public struct CharacterTokenizer: Tokenizer {
    public var keepsWhitespace: Bool

    public init(keepsWhitespace: Bool = true) {
        self.keepsWhitespace = keepsWhitespace
    }

    /// A tokenizer that drops whitespace characters.
    public static var droppingWhitespace: CharacterTokenizer { CharacterTokenizer(keepsWhitespace: false) }

    public func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        tokens.reserveCapacity(text.utf8.count)
        for character in text where keepsWhitespace || !character.isWhitespace {
            tokens.append(String(character))
        }
        return tokens
    }
}

/// Text that is already tokenised: tokens are the whitespace-separated pieces, as given
/// (e.g. SST-2's lower-cased PTB tokens, or `belling_the_cat.txt`).
///
/// Whitespace is any Unicode scalar with the `White_Space` property (space, tab, line
/// breaks, no-break and ideographic spaces). Scanning scalars rather than `Character`s is
/// ~20x faster and splits the same text (a combining mark after a space is the rare case
/// that differs: it starts the next token).
public struct PreTokenizedTokenizer: Tokenizer {
    public init() {}

    public func tokenize(_ text: String) -> [String] {
        if let tokens = text.utf8.withContiguousStorageIfAvailable({ bytes -> [String]? in
            guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
            var tokens: [String] = []
            var start: Int?
            for index in 0..<bytes.count {
                let byte = bytes[index]
                if byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) {
                    if let tokenStart = start {
                        tokens.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[tokenStart..<index]), as: UTF8.self))
                        start = nil
                    }
                } else if start == nil {
                    start = index
                }
            }
            if let tokenStart = start {
                tokens.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[tokenStart...]), as: UTF8.self))
            }
            return tokens
        }), let tokens {
            return tokens  // ASCII fast path
        }
        var tokens: [String] = []
        let scalars = text.unicodeScalars
        var start: String.Index?
        var index = scalars.startIndex
        while index != scalars.endIndex {
            let value = scalars[index].value
            let isSpace = value < 0x80 ? (value == 0x20 || (value >= 0x09 && value <= 0x0D)) : scalars[index].properties.isWhitespace
            if isSpace {
                if let tokenStart = start {
                    tokens.append(String(scalars[tokenStart..<index]))
                    start = nil
                }
            } else if start == nil {
                start = index
            }
            scalars.formIndex(after: &index)
        }
        if let tokenStart = start { tokens.append(String(scalars[tokenStart...])) }
        return tokens
    }
}
