import SeqModels

/// Every hyperparameter of a `Tagger`, saved as the model directory's `config.json`.
///
/// The defaults are sized for the EWT target (≥ 94.5% UPOS accuracy within 15 minutes of
/// training on two CPU cores): word embeddings of 100, a character BiLSTM of 2 × 32 over
/// character embeddings of 32, a 2-layer BiLSTM of 2 × 128, dropout 0.33 on its input,
/// between layers and on its output, and word dropout 0.1.
public struct TaggerConfiguration: Codable, Equatable, Sendable {
    /// Always `"pos-tagger"`: tells a tagger's directory from another head's.
    public var task: String = TaggerConfiguration.taskName
    /// Format version of the model directory.
    public var version: Int = 1
    /// Length of a word's embedding.
    public var wordEmbeddingSize: Int = 100
    /// Length of a character's embedding.
    public var characterEmbeddingSize: Int = 32
    /// Hidden size of each direction of the character BiLSTM (a word's spelling vector has twice this).
    public var characterHiddenSize: Int = 32
    /// Hidden size of each direction of the sentence BiLSTM.
    public var hiddenSize: Int = 128
    /// Number of stacked sentence BiLSTM layers.
    public var layerCount: Int = 2
    /// Dropout on the BiLSTM input, between its layers and on its output (training only).
    public var dropout: Float = 0.33
    /// Probability of replacing a word by `<unk>` during training, so that the model learns
    /// to tag from spelling and context when the word is unknown.
    public var wordDropout: Float = 0.1
    /// Words seen fewer times in training get `<unk>` (1: every training word has an embedding).
    public var minWordFrequency: Int = 1
    /// Longer words keep their first and last `maxWordLength / 2` characters.
    public var maxWordLength: Int = 24
    /// Share of the training sentences also trained on in another case: half of them all lower
    /// case, half in title case (every word capitalised, as in headlines), so that text written
    /// in another case than edited prose still tags well. Chosen with the training seed.
    public var caseVariants: Float = 0.2
    /// How tags are chosen from the per-token scores: a softmax per token, or a CRF over the
    /// whole sentence (`tag train --crf`), which learns which tags follow which.
    public var outputLayer: OutputLayer = .softmax
    /// Subdirectories of the model directory holding pretrained character language models
    /// (`tag train --char-lm DIR`), whose hidden states at each token feed the sentence BiLSTM
    /// beside the word and spelling vectors (`ContextualStringEmbeddings`); empty: none.
    public var characterLanguageModels: [String] = []

    /// The tagger's output layers.
    public enum OutputLayer: String, Codable, Sendable, CaseIterable {
        /// Cross-entropy per token; each token's tag is its own argmax.
        case softmax
        /// A linear-chain CRF (`CRF`): sentence-level negative log-likelihood, Viterbi decoding.
        case crf
    }

    /// The value of `task` for taggers.
    public static let taskName = "pos-tagger"

    /// The defaults above.
    public init() {}

    private enum CodingKeys: String, CodingKey {
        case task, version, wordEmbeddingSize, characterEmbeddingSize, characterHiddenSize, hiddenSize, layerCount,
             dropout, wordDropout, minWordFrequency, maxWordLength, caseVariants, outputLayer, characterLanguageModels
    }

    /// Reads a `config.json`; a key that a model directory written before it existed lacks
    /// (`outputLayer`, `caseVariants`, `characterLanguageModels`) takes its default: older taggers
    /// load as they were trained (`caseVariants` only matters to training).
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = TaggerConfiguration()
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try container.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        task = try value(.task, defaults.task)
        version = try value(.version, defaults.version)
        wordEmbeddingSize = try value(.wordEmbeddingSize, defaults.wordEmbeddingSize)
        characterEmbeddingSize = try value(.characterEmbeddingSize, defaults.characterEmbeddingSize)
        characterHiddenSize = try value(.characterHiddenSize, defaults.characterHiddenSize)
        hiddenSize = try value(.hiddenSize, defaults.hiddenSize)
        layerCount = try value(.layerCount, defaults.layerCount)
        dropout = try value(.dropout, defaults.dropout)
        wordDropout = try value(.wordDropout, defaults.wordDropout)
        minWordFrequency = try value(.minWordFrequency, defaults.minWordFrequency)
        maxWordLength = try value(.maxWordLength, defaults.maxWordLength)
        caseVariants = try value(.caseVariants, defaults.caseVariants)
        outputLayer = try value(.outputLayer, defaults.outputLayer)
        characterLanguageModels = try value(.characterLanguageModels, defaults.characterLanguageModels)
    }

    /// Checks the values a user may set, with a message naming the offending one.
    public func validate() throws {
        func positive(_ value: Int, _ name: String) throws {
            guard value > 0 else { throw TaskError("\(name) must be positive, got \(value)") }
        }
        try positive(wordEmbeddingSize, "word embedding size")
        try positive(characterEmbeddingSize, "character embedding size")
        try positive(characterHiddenSize, "character hidden size")
        try positive(hiddenSize, "hidden size")
        try positive(layerCount, "layer count")
        try positive(minWordFrequency, "minimum word frequency")
        guard maxWordLength >= 2 else { throw TaskError("maximum word length must be at least 2, got \(maxWordLength)") }
        guard dropout >= 0 && dropout < 1 else { throw TaskError("dropout must be in [0, 1), got \(dropout)") }
        guard wordDropout >= 0 && wordDropout < 1 else { throw TaskError("word dropout must be in [0, 1), got \(wordDropout)") }
        for name in characterLanguageModels where name.isEmpty || name.contains("/") || name.hasPrefix(".") {
            throw TaskError("a character language model's directory must be a plain subdirectory name, got '\(name)'")
        }
        guard caseVariants >= 0 && caseVariants <= 1 else { throw TaskError("the share of case variants must be in [0, 1], got \(caseVariants)") }
    }

    /// Checks a configuration read from a model directory (after `validate()`), with the
    /// directory's vocabularies, before a tagger is built from it: every tensor such a tagger
    /// has must hold no more numbers than `model.safetensors` stores (`Checkpoint.SizeCheck`).
    public func validate(against sizes: Checkpoint.SizeCheck, vocabularies: TaggerVocabularies) throws {
        try sizes.tensor([vocabularies.words.count, wordEmbeddingSize], "the word embedding")
        try sizes.tensor([vocabularies.characters.count, characterEmbeddingSize], "the character embedding")
        try sizes.tensor([2, 4, characterHiddenSize, max(characterEmbeddingSize, characterHiddenSize)], "the character LSTM")
        // Both terms are bounded by the checks above, so their sum cannot overflow.
        try sizes.tensor([2, 4, hiddenSize, wordEmbeddingSize + 2 * characterHiddenSize], "the first LSTM layer's input weights")
        try sizes.tensor([layerCount, 2, 4, hiddenSize, hiddenSize], "the LSTM's recurrent weights")
        try sizes.tensor([vocabularies.tags.count, 2, hiddenSize], "the output layer")
    }
}
