import SeqModels

/// What one token of a language model is.
public enum TokenLevel: String, Codable, Sendable, CaseIterable {
    /// One Unicode character (a Swift `Character`) per token, whitespace included:
    /// one Chinese character is one token.
    case char
    /// Words and punctuation marks, as `WordTokenizer` splits them; generated text is
    /// joined with single spaces.
    case word

    /// The tokenizer of this level.
    public var tokenizer: any Tokenizer {
        switch self {
        case .char: return CharacterTokenizer()
        case .word: return WordTokenizer()
        }
    }

    /// Joins generated tokens back into text: characters as they are, words with spaces.
    public func join(_ tokens: [String]) -> String {
        switch self {
        case .char: return tokens.joined()
        case .word: return tokens.joined(separator: " ")
        }
    }
}

/// Which way a language model reads its text.
public enum ReadingDirection: String, Codable, Sendable, CaseIterable {
    /// From the first token to the last: the model predicts what follows.
    case forward
    /// From the last token to the first (trained on the reversed text): the model predicts
    /// what comes before. A tagger reads a word's right-hand context from it.
    case backward
}

/// How a training text becomes training examples.
public enum RecordMode: String, Codable, Sendable, CaseIterable {
    /// One record per non-empty line (a poem a line), framed as `<bos> tokens <eos>`;
    /// generation starts after `<bos>` and stops at `<eos>`.
    case lines
    /// The whole text as one token stream, cut into chunks of `sequenceLength` tokens for
    /// truncated back-propagation through time, in one of the `StreamSampling` schemes.
    /// Evaluation carries the state across a whole stream.
    case stream
}

/// How the chunks of a `stream` are batched for truncated back-propagation through time.
public enum StreamSampling: String, Codable, Sendable, CaseIterable {
    /// char-rnn's and PyTorch `word_language_model`'s scheme: the stream is cut into
    /// `batchSize` contiguous lanes; batch k holds chunk k of every lane, in lane order, and
    /// the LSTM state `(h, c)` at the end of batch k starts batch k+1 (values only: no
    /// gradient flows between batches). The state is reset at the start of every epoch and
    /// the batch order is the same every epoch.
    case consecutive
    /// Every chunk starts from a zero state; chunks are batched and shuffled afresh every
    /// epoch by the training loop.
    case random
}

/// The shape of a `LanguageModel` and how its text is tokenised, saved as `config.json`.
///
/// Parameters (PyTorch names, as in PyTorch's `word_language_model` example):
/// `embedding.weight` `[V, E]`, `lstm.*` (an `nn.LSTM(E, H, layers)`), `decoder.weight`
/// `[V, H]` and `decoder.bias` `[V]`, where V is the vocabulary size; with `adaptiveCutoffs`,
/// an `nn.AdaptiveLogSoftmaxWithLoss` as `decoder.head.weight`, `decoder.tail.0.0.weight`, ….
public struct GeneratorConfiguration: Codable, Equatable, Sendable {
    public var level: TokenLevel
    public var records: RecordMode
    public var vocabularySize: Int
    public var embeddingSize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    /// Dropout on the embeddings, between LSTM layers and on the last LSTM layer's output (training only).
    public var dropout: Float
    /// Tokens per training chunk in `stream` mode (the truncation length of BPTT).
    public var sequenceLength: Int
    /// The cutoffs of an adaptive softmax output layer (`AdaptiveLogSoftmax`), or `nil` for a
    /// full softmax (a `config.json` written before adaptive softmaxes existed has none).
    public var adaptiveCutoffs: [Int]?
    /// `.backward` for a model trained on the reversed text (`seqmodels lm pretrain
    /// --direction backward`); `nil` (a `config.json` of a generator) reads forward.
    public var direction: ReadingDirection?

    /// The direction the model reads in.
    public var readingDirection: ReadingDirection { direction ?? .forward }
    /// DropConnect on the LSTM's hidden-to-hidden weights in training (`RecurrentWeightDrop`);
    /// `nil` (every `config.json` written before it existed) is none.
    public var weightDrop: Float?

    /// The probability of dropping a hidden-to-hidden weight in training (0: none).
    public var recurrentWeightDrop: Float { weightDrop ?? 0 }

    public init(level: TokenLevel = .char, records: RecordMode = .stream, vocabularySize: Int,
                embeddingSize: Int = 64, hiddenSize: Int = 256, layerCount: Int = 2, dropout: Float = 0.1,
                sequenceLength: Int = 100, adaptiveCutoffs: [Int]? = nil, direction: ReadingDirection = .forward,
                weightDrop: Float = 0) {
        precondition(vocabularySize > 0 && embeddingSize > 0 && hiddenSize > 0 && layerCount > 0 && sequenceLength > 0,
                     "Generator sizes must be positive")
        precondition(dropout >= 0 && dropout < 1, "Dropout must be in [0, 1), got \(dropout)")
        precondition(weightDrop >= 0 && weightDrop < 1, "Weight drop must be in [0, 1), got \(weightDrop)")
        self.level = level
        self.records = records
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.dropout = dropout
        self.sequenceLength = sequenceLength
        if let cutoffs = adaptiveCutoffs {
            precondition(Self.validCutoffs(cutoffs, vocabularySize: vocabularySize),
                         "Adaptive softmax cutoffs must increase, be positive and stay below the vocabulary size \(vocabularySize), got \(cutoffs)")
        }
        self.adaptiveCutoffs = adaptiveCutoffs
        self.direction = direction == .forward ? nil : direction
        self.weightDrop = weightDrop == 0 ? nil : weightDrop
    }

    /// Checks a configuration read from a model directory before a model is built from it:
    /// positive sizes, probabilities in [0, 1), valid cutoffs, and no tensor larger than what
    /// `model.safetensors` stores (`Checkpoint.SizeCheck`).
    public func validate(against sizes: Checkpoint.SizeCheck) throws {
        for (name, value) in [("vocabularySize", vocabularySize), ("embeddingSize", embeddingSize), ("hiddenSize", hiddenSize),
                              ("layerCount", layerCount), ("sequenceLength", sequenceLength)] {
            try sizes.positive(value, name)
        }
        for (name, value) in [("dropout", dropout), ("weightDrop", recurrentWeightDrop)] where !(value >= 0 && value < 1) {
            throw sizes.failure("\(name) must be in [0, 1), got \(value)")
        }
        let V = vocabularySize, E = embeddingSize, H = hiddenSize
        try sizes.tensor([V, E], "the embedding")
        try sizes.tensor([4, H, max(E, H)], "an LSTM layer's weights")
        try sizes.tensor([layerCount, 4, H, H], "the LSTM's recurrent weights")
        if let cutoffs = adaptiveCutoffs {
            guard Self.validCutoffs(cutoffs, vocabularySize: V) else {
                throw sizes.failure("adaptiveCutoffs must increase, be positive and stay below vocabularySize \(V), got \(cutoffs)")
            }
            try sizes.tensor([cutoffs[0] + cutoffs.count, H], "the adaptive softmax's head")
            for (i, cluster) in AdaptiveLogSoftmax.clusterSizes(inputSize: H, classCount: V, cutoffs: cutoffs).enumerated() {
                try sizes.tensor([cluster.hidden, H], "the adaptive softmax's cluster \(i) projection")
                try sizes.tensor([cluster.classes, cluster.hidden], "the adaptive softmax's cluster \(i) output")
            }
        } else {
            try sizes.tensor([V, H], "the output layer")
        }
    }

    /// Whether `cutoffs` can cut a vocabulary of `vocabularySize` tokens.
    public static func validCutoffs(_ cutoffs: [Int], vocabularySize: Int) -> Bool {
        !cutoffs.isEmpty && cutoffs[0] > 0 && zip(cutoffs, cutoffs.dropFirst()).allSatisfy { $0 < $1 } && cutoffs.last! < vocabularySize
    }

    /// The cutoffs `generate train --softmax auto` uses: an adaptive softmax for vocabularies of
    /// 2,000 tokens or more (a character model of Chinese, a word model), with a head of the
    /// 1,000 most frequent tokens and a cluster up to the 4,000th; a full softmax below.
    public static func automaticCutoffs(vocabularySize: Int) -> [Int]? {
        guard vocabularySize >= 2_000 else { return nil }
        return [1_000, 4_000].filter { $0 < vocabularySize }
    }

    /// The configuration of the model's LSTM.
    public var lstm: LSTM.Configuration {
        LSTM.Configuration(inputSize: embeddingSize, hiddenSize: hiddenSize, layerCount: layerCount, dropout: dropout)
    }
}
