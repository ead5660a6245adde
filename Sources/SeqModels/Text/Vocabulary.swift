/// The special tokens a vocabulary may reserve, with fixed strings and a fixed order.
public enum SpecialToken: String, Codable, Sendable, CaseIterable, Comparable {
    /// Padding, `<pad>`.
    case padding = "<pad>"
    /// Unknown tokens, `<unk>`: what `id(of:)` returns for a token not in the vocabulary.
    case unknown = "<unk>"
    /// Beginning of sequence, `<bos>`.
    case beginOfSequence = "<bos>"
    /// End of sequence, `<eos>`.
    case endOfSequence = "<eos>"

    public static func < (a: SpecialToken, b: SpecialToken) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A problem encoding tokens, or reading a vocabulary.
public enum VocabularyError: Error, Equatable, CustomStringConvertible {
    /// A token is not in a vocabulary that has no `<unk>` (e.g. a tag set meeting a new tag).
    case unknownToken(String)

    public var description: String {
        switch self {
        case .unknownToken(let token): return "\"\(token)\" is not in the vocabulary, which has no <unk>"
        }
    }
}

/// A mapping between tokens and integer ids: the specials first, then tokens by decreasing
/// frequency.
///
/// **Ids.** The special tokens present come first, in the fixed order `<pad>`, `<unk>`,
/// `<bos>`, `<eos>`; with all four (the default) their ids are 0, 1, 2, 3. With a subset,
/// the present ones keep that order and take the first ids (e.g. `[.padding]` for a tag
/// vocabulary: `<pad>` = 0, tags from 1; `[]`: tags from 0). Then come the counted tokens,
/// most frequent first, ties broken by comparing the tokens' Unicode scalar values
/// lexicographically — deterministic whatever the order of the data. Tokens are Swift
/// strings, so canonically equivalent spellings (`é` and `e` + U+0301) are one token, and
/// ties compare the scalars of the canonical (NFC) form: that is Swift's `String` order.
///
/// **Limits.** Tokens seen fewer than `minFrequency` times are left out; `maxSize` bounds
/// the total count, specials included. A token spelt like a special (`<unk>` in the text)
/// is not counted as an ordinary token: it maps to the special when present.
///
/// Value type, `Codable` (JSON: the special tokens and the tokens in id order), saved next
/// to a model's weights.
public struct Vocabulary: Equatable, Sendable, Codable {
    /// The special tokens present, in id order.
    public let specials: [SpecialToken]
    /// Every token by id: `tokens[id]`.
    public let tokens: [String]
    private let ids: [String: Int]

    /// The vocabulary of exactly `tokens` (after the specials), in the given order.
    /// Duplicates and tokens spelt like specials are dropped, keeping the first occurrence.
    public init(tokens: [String], specials: [SpecialToken] = SpecialToken.allCases) {
        let orderedSpecials = Array(Set(specials)).sorted()
        var all = orderedSpecials.map(\.rawValue)
        var ids: [String: Int] = [:]
        for (id, token) in all.enumerated() { ids[token] = id }
        for token in tokens where ids[token] == nil && SpecialToken(rawValue: token) == nil {
            ids[token] = all.count
            all.append(token)
        }
        self.specials = orderedSpecials
        self.tokens = all
        self.ids = ids
    }

    /// Counts tokens and keeps those seen at least `minFrequency` times, most frequent first
    /// (ties by Unicode scalars), at most `maxSize` entries in all (specials included).
    public init(frequencies: [String: Int], specials: [SpecialToken] = SpecialToken.allCases,
                minFrequency: Int = 1, maxSize: Int? = nil) {
        precondition(minFrequency >= 1, "minFrequency must be at least 1")
        let specialCount = Set(specials).count
        precondition(maxSize.map { $0 >= specialCount } ?? true, "maxSize must leave room for the special tokens")
        var kept = frequencies.filter { $0.value >= minFrequency && SpecialToken(rawValue: $0.key) == nil }
            .map { (token: $0.key, count: $0.value) }
        kept.sort { a, b in
            if a.count != b.count { return a.count > b.count }
            return a.token < b.token  // Swift's order: scalar values of the NFC form
        }
        if let maxSize { kept = Array(kept.prefix(maxSize - specialCount)) }
        self.init(tokens: kept.map(\.token), specials: specials)
    }

    /// Counts the tokens of `sequences` and builds the vocabulary as `init(frequencies:…)`.
    public init<S: Sequence>(counting sequences: S, specials: [SpecialToken] = SpecialToken.allCases,
                             minFrequency: Int = 1, maxSize: Int? = nil) where S.Element: Sequence, S.Element.Element == String {
        var frequencies: [String: Int] = [:]
        for sequence in sequences {
            for token in sequence { frequencies[token, default: 0] += 1 }
        }
        self.init(frequencies: frequencies, specials: specials, minFrequency: minFrequency, maxSize: maxSize)
    }

    /// The number of entries, specials included: the size of an embedding or output layer.
    public var count: Int { tokens.count }

    /// The id of a special token, or `nil` when this vocabulary does not reserve it.
    public func id(of special: SpecialToken) -> Int? { specials.firstIndex(of: special) }

    public var paddingID: Int? { id(of: .padding) }
    public var unknownID: Int? { id(of: .unknown) }
    public var beginID: Int? { id(of: .beginOfSequence) }
    public var endID: Int? { id(of: .endOfSequence) }

    /// Whether `token` has an id of its own (specials included).
    public func contains(_ token: String) -> Bool { ids[token] != nil }

    /// The id of `token`; an unknown token gets the `<unk>` id. `nil` only when the token is
    /// unknown and the vocabulary has no `<unk>`.
    public func id(of token: String) -> Int? { ids[token] ?? unknownID }

    /// The token of `id`. `id` must be in `0..<count`.
    public func token(of id: Int) -> String {
        precondition(id >= 0 && id < tokens.count, "Token id \(id) is outside the vocabulary (0..<\(tokens.count))")
        return tokens[id]
    }

    /// The ids of `tokens`, unknown ones as `<unk>`; throws on an unknown token only when
    /// the vocabulary has no `<unk>`.
    public func encode(_ tokens: [String]) throws -> [Int] {
        try tokens.map { token in
            guard let id = id(of: token) else { throw VocabularyError.unknownToken(token) }
            return id
        }
    }

    /// The tokens of `ids` (each in `0..<count`).
    public func decode(_ ids: [Int]) -> [String] { ids.map(token(of:)) }

    private enum CodingKeys: String, CodingKey { case specials, tokens }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let specials = try container.decode([SpecialToken].self, forKey: .specials)
        let tokens = try container.decode([String].self, forKey: .tokens)
        let ordinary = Array(tokens.dropFirst(specials.count))
        guard specials == specials.sorted(), Set(specials).count == specials.count,
              Array(tokens.prefix(specials.count)) == specials.map(\.rawValue) else {
            throw DecodingError.dataCorruptedError(forKey: .tokens, in: container,
                debugDescription: "the vocabulary must start with its special tokens in the order <pad>, <unk>, <bos>, <eos>")
        }
        self.init(tokens: ordinary, specials: specials)
        guard self.tokens == tokens else {
            throw DecodingError.dataCorruptedError(forKey: .tokens, in: container,
                debugDescription: "the vocabulary holds a duplicate token or an ordinary token spelt like a special")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(specials, forKey: .specials)
        try container.encode(tokens, forKey: .tokens)
    }

    public static func == (a: Vocabulary, b: Vocabulary) -> Bool {
        a.specials == b.specials && a.tokens == b.tokens
    }
}
