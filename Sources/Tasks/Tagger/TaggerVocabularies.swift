import SeqModels
import Corpus

/// The three vocabularies of a tagger: words (`<pad>`, `<unk>`, then by frequency),
/// characters (`<pad>`, `<unk>`, then by frequency) and tags (no specials, by frequency).
/// Saved as `words.json`, `characters.json` and `tags.json` beside the parameters.
public struct TaggerVocabularies: Equatable, Sendable {
    public var words: Vocabulary
    public var characters: Vocabulary
    public var tags: Vocabulary

    public init(words: Vocabulary, characters: Vocabulary, tags: Vocabulary) {
        self.words = words
        self.characters = characters
        self.tags = tags
    }

    /// Counts the words, characters and tags of a training corpus.
    public init(training sentences: [TaggedSentence], minWordFrequency: Int = 1) {
        var wordCounts: [String: Int] = [:], characterCounts: [String: Int] = [:], tagCounts: [String: Int] = [:]
        for sentence in sentences {
            for (word, tag) in zip(sentence.tokens, sentence.tags) {
                wordCounts[word, default: 0] += 1
                tagCounts[tag, default: 0] += 1
            }
        }
        for (word, count) in wordCounts {
            for character in word { characterCounts[String(character), default: 0] += count }
        }
        words = Vocabulary(frequencies: wordCounts, specials: [.padding, .unknown], minFrequency: minWordFrequency)
        characters = Vocabulary(frequencies: characterCounts, specials: [.padding, .unknown])
        tags = Vocabulary(frequencies: tagCounts, specials: [])
    }

    static let wordsFile = "words.json"
    static let charactersFile = "characters.json"
    static let tagsFile = "tags.json"
}

/// One sentence encoded for a tagger: word ids, character ids of each word (truncated to
/// the configuration's `maxWordLength`), tag ids (empty when tagging untagged text), which
/// words are unknown to the word vocabulary (out-of-vocabulary, for evaluation), and for a
/// tagger with character language models the tokens themselves and, once computed, their
/// contextual features `[tokens, C]` (`Tagger.attachContextualFeatures`).
public struct TaggerExample: Equatable, Sendable {
    public var words: [Int]
    public var characters: [[Int]]
    public var tags: [Int]
    public var isUnknownWord: [Bool]
    /// The tokens as written: what the character language models read (empty for a tagger without them).
    public var tokens: [String]
    /// The language models' features `[tokens, C]`, computed once for a training set; `nil`:
    /// computed with the batch that needs them.
    public var contextualFeatures: Tensor?

    public init(words: [Int], characters: [[Int]], tags: [Int], isUnknownWord: [Bool], tokens: [String] = [],
                contextualFeatures: Tensor? = nil) {
        precondition(characters.count == words.count && (tags.isEmpty || tags.count == words.count)
                     && isUnknownWord.count == words.count && (tokens.isEmpty || tokens.count == words.count),
                     "A tagger example needs one entry per token")
        precondition(contextualFeatures.map { $0.rank == 2 && $0.shape[0] == words.count } ?? true,
                     "Contextual features need one row per token")
        self.words = words
        self.characters = characters
        self.tags = tags
        self.isUnknownWord = isUnknownWord
        self.tokens = tokens
        self.contextualFeatures = contextualFeatures
    }

    /// Number of tokens.
    public var count: Int { words.count }
}
