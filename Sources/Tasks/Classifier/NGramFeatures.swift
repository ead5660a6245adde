import SeqModels

/// The n-grams of a text that a classifier's bag of n-grams looks at: every run of 1 to
/// `order` consecutive tokens, kept when it occurs in at least `minDocumentCount` training
/// texts (at most `maxCount` of them, the most widespread first).
///
/// A text's features are the ids of its distinct known n-grams (presence, not counts, as in
/// NBSVM: on reviews a phrase said twice is not twice the evidence). An n-gram is written as
/// its tokens joined by one space (`"not good"`); the tokenizers never put a space inside a
/// token, so the spelling is unambiguous. Saved as `ngrams.json` (a `Vocabulary` without
/// special tokens) beside the model, so that any program can find a text's features from the
/// same tokens.
public struct NGramFeatures: Sendable, Equatable {
    /// How features are chosen; saved in the classifier's `config.json`.
    public struct Settings: Codable, Equatable, Sendable {
        /// Longest n-gram (1 = single tokens only).
        public var order: Int
        /// Fewest training texts an n-gram must occur in.
        public var minDocumentCount: Int
        /// Most n-grams kept.
        public var maxCount: Int

        public init(order: Int = 3, minDocumentCount: Int = 2, maxCount: Int = 1_000_000) {
            precondition(order >= 1 && minDocumentCount >= 1 && maxCount >= 1,
                         "n-gram order, minimum document count and maximum count must be positive")
            self.order = order
            self.minDocumentCount = minDocumentCount
            self.maxCount = maxCount
        }
    }

    public let settings: Settings
    /// Every kept n-gram by id.
    public let vocabulary: Vocabulary

    public static let fileName = "ngrams.json"

    public var count: Int { vocabulary.count }

    public init(settings: Settings, vocabulary: Vocabulary) {
        precondition(vocabulary.specials.isEmpty, "An n-gram vocabulary has no special tokens")
        self.settings = settings
        self.vocabulary = vocabulary
    }

    /// Counts in how many of `texts` (token lists) each n-gram occurs and keeps those that
    /// `settings` allow, most widespread first (ties in Unicode order, so the ids do not depend
    /// on the order of the texts).
    public init(counting texts: [[String]], settings: Settings) {
        var documentCounts: [String: Int] = [:]
        var seen = Set<String>()
        for tokens in texts {
            seen.removeAll(keepingCapacity: true)
            Self.forEachNGram(of: tokens, order: settings.order) { seen.insert($0) }
            for gram in seen { documentCounts[gram, default: 0] += 1 }
        }
        self.init(settings: settings,
                  vocabulary: Vocabulary(frequencies: documentCounts, specials: [],
                                         minFrequency: settings.minDocumentCount, maxSize: settings.maxCount))
    }

    /// The sorted ids of the distinct known n-grams of `tokens`.
    public func ids(of tokens: [String]) -> [Int] {
        var ids = Set<Int>()
        Self.forEachNGram(of: tokens, order: settings.order) { gram in
            if let id = vocabulary.id(of: gram) { ids.insert(id) }
        }
        return ids.sorted()
    }

    /// Calls `body` with every n-gram of `tokens` of length 1 to `order`, spelt as the tokens
    /// joined by single spaces.
    static func forEachNGram(of tokens: [String], order: Int, _ body: (String) -> Void) {
        for start in tokens.indices {
            var gram = tokens[start]
            body(gram)
            var end = start + 1
            while end < tokens.count && end - start < order {
                gram += " "
                gram += tokens[end]
                body(gram)
                end += 1
            }
        }
    }
}
