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
public struct PreTokenizedTokenizer: Tokenizer {
    public init() {}

    public func tokenize(_ text: String) -> [String] {
        text.split(whereSeparator: \.isWhitespace).map(String.init)
    }
}
