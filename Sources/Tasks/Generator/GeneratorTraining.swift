import Foundation
import SeqModels

/// The model and data choices of `generate train` (the optimisation ones live in `TrainerOptions`).
///
/// The defaults aim at tinyshakespeare at character level: a 2×256 LSTM over 64-wide
/// embeddings, chunks of 100 characters, consecutive sampling, dropout 0.1, with
/// `defaultTrainerOptions` (Adam 2e-3, batches of 32 chunks, clipping at 5, learning rate
/// halved when the validation loss stops improving).
public struct GeneratorRecipe: Codable, Equatable, Sendable {
    public var level: TokenLevel
    public var records: RecordMode
    public var embeddingSize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    public var dropout: Float
    /// DropConnect on the LSTM's hidden-to-hidden weights (`RecurrentWeightDrop`), as
    /// AWD-LSTM's weight drop; 0 (the default) is none.
    public var weightDrop: Float = 0
    /// Tokens per training chunk (`stream` mode).
    public var sequenceLength: Int
    /// Tokens between the starts of two chunks; `nil` is `sequenceLength` (no overlap).
    /// Only `random` sampling accepts another stride.
    public var stride: Int?
    /// How `stream` chunks are batched (ignored for `lines`).
    ///
    /// The default is `consecutive`, as in char-rnn and PyTorch's `word_language_model`:
    /// evaluation and sampling run the LSTM over long stretches with the state carried, and
    /// consecutive training shows the model exactly that (chunks that start from the state
    /// the text before them left), so it learns dependencies longer than one chunk and
    /// spends no steps recovering from an artificial zero state at every chunk start. For
    /// a 1 MB text such as tinyshakespeare, 32 lanes of ~28,000 characters give the same
    /// number of batches per epoch as random chunks, so nothing is lost in speed. `random`
    /// (fresh zero state per chunk, shuffled chunks) suits short texts, where overlapping
    /// chunks (`stride`) and reshuffling matter more than long context.
    public var sampling: StreamSampling
    /// Share of the text held out for validation: the end of the stream, or the last lines.
    public var validationFraction: Double
    /// The output layer: a full softmax, an adaptive one with given cutoffs, or (`automatic`)
    /// whichever `GeneratorConfiguration.automaticCutoffs` picks for the vocabulary's size.
    public var softmax: Softmax = .automatic
    /// `.backward` trains on the reversed text: a model of what precedes, as a tagger's
    /// right-to-left character language model (`seqmodels lm pretrain --direction backward`).
    public var direction: ReadingDirection = .forward
    /// Training tokens seen fewer times become `<unk>` (a word model of a large corpus).
    public var minFrequency = 1
    /// Most tokens in the vocabulary, the most frequent kept (`nil`: every training token).
    public var maxVocabularySize: Int?

    /// The generator's output layers.
    public enum Softmax: Codable, Equatable, Sendable {
        case automatic
        case full
        case adaptive(cutoffs: [Int])

        /// The adaptive cutoffs for a vocabulary of `size` tokens, or `nil` for a full softmax.
        public func cutoffs(vocabularySize size: Int) throws -> [Int]? {
            switch self {
            case .automatic: return GeneratorConfiguration.automaticCutoffs(vocabularySize: size)
            case .full: return nil
            case let .adaptive(cutoffs):
                guard GeneratorConfiguration.validCutoffs(cutoffs, vocabularySize: size) else {
                    throw TaskError("the adaptive softmax cutoffs \(cutoffs) must increase, be positive and stay below "
                                    + "the vocabulary's \(size) tokens")
                }
                return cutoffs
            }
        }
    }

    public init(level: TokenLevel = .char, records: RecordMode = .stream, embeddingSize: Int = 64, hiddenSize: Int = 256,
                layerCount: Int = 2, dropout: Float = 0.1, sequenceLength: Int = 100, stride: Int? = nil,
                sampling: StreamSampling = .consecutive, validationFraction: Double = 0.1, softmax: Softmax = .automatic,
                direction: ReadingDirection = .forward) {
        self.level = level
        self.records = records
        self.embeddingSize = embeddingSize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.dropout = dropout
        self.sequenceLength = sequenceLength
        self.stride = stride
        self.sampling = sampling
        self.validationFraction = validationFraction
        self.softmax = softmax
        self.direction = direction
    }

    /// Every choice of the recipe by name, as `TrainableModel.resumeRecipe` wants them: a run
    /// resumes only with the recipe it started with (the sampling scheme, for one, changes
    /// neither the parameters' shapes nor the number of chunks).
    var resumeRecipe: [String: String] {
        var recipe = ["level": level.rawValue, "records": records.rawValue, "embedding size": "\(embeddingSize)",
                      "hidden size": "\(hiddenSize)", "layers": "\(layerCount)", "dropout": "\(dropout)",
                      "sequence length": "\(sequenceLength)", "stride": stride.map { "\($0)" } ?? "sequence length",
                      "sampling": sampling.rawValue, "validation fraction": "\(validationFraction)", "softmax": "\(softmax)"]
        // Named only when they differ from the defaults, so that runs saved before they existed still resume.
        if direction == .backward { recipe["direction"] = direction.rawValue }
        if weightDrop != 0 { recipe["weight drop"] = "\(weightDrop)" }
        if minFrequency != 1 { recipe["minimum frequency"] = "\(minFrequency)" }
        if let maxVocabularySize { recipe["vocabulary size"] = "\(maxVocabularySize)" }
        return recipe
    }

    /// The optimisation defaults of the generator head.
    public static var defaultTrainerOptions: TrainerOptions {
        TrainerOptions(epochs: 50, batchSize: 32, learningRate: 2e-3, optimizer: .adam, clipNorm: 5,
                       schedule: .plateau(factor: 0.5, patience: 1))
    }

    /// Throws `TaskError` for sizes a user gave out of range.
    public func validate() throws {
        for (name, value) in [("embedding size", embeddingSize), ("hidden size", hiddenSize), ("number of layers", layerCount),
                              ("sequence length", sequenceLength), ("chunk stride", stride ?? 1)] where value < 1 {
            throw TaskError("the \(name) must be at least 1, got \(value)")
        }
        guard dropout >= 0 && dropout < 1 else { throw TaskError("the dropout must be in [0, 1), got \(dropout)") }
        guard weightDrop >= 0 && weightDrop < 1 else { throw TaskError("the weight drop must be in [0, 1), got \(weightDrop)") }
        if records == .stream && sampling == .consecutive, let stride, stride != sequenceLength {
            throw TaskError("a chunk stride (\(stride)) other than the sequence length (\(sequenceLength)) needs random sampling: "
                            + "consecutive sampling cuts the stream into contiguous lanes without overlap")
        }
    }
}

/// A `LanguageModel` as the training loop sees it: it carries the LSTM state from batch to
/// batch under consecutive sampling, and each time the loop evaluates it (once per epoch)
/// it also generates a short sample from a fixed prefix and hands it to `showSample`, so a
/// person sees the model learn. Everything else is the wrapped model's.
struct TrainingLanguageModel: TrainableModel {
    var model: LanguageModel
    let vocabulary: Vocabulary
    /// The fixed batches of consecutive sampling (`GeneratorData.trainingBatches`), or `nil`
    /// for random sampling and `lines` records (fresh zero state per batch, the loop's batches).
    let consecutiveBatches: [[Int]]?
    let prefix: String
    let length: Int
    let showSample: (String) -> Void
    /// The recipe's data choices that a resumed run must keep (`TrainableModel.resumeRecipe`).
    let resumeRecipe: [String: String]
    /// The state `(h, c)` `[layers, lanes, H]` at the end of the last training batch of this
    /// epoch (consecutive sampling only); never used by evaluation.
    private(set) var carriedState: LSTMState?

    init(model: LanguageModel, vocabulary: Vocabulary, consecutiveBatches: [[Int]]? = nil,
         prefix: String = "", length: Int = 0, showSample: @escaping (String) -> Void = { _ in },
         resumeRecipe: [String: String] = [:]) {
        self.model = model
        self.vocabulary = vocabulary
        self.consecutiveBatches = consecutiveBatches
        self.prefix = prefix
        self.length = length
        self.showSample = showSample
        self.resumeRecipe = resumeRecipe
    }

    mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try model.visitParameters(prefix: prefix, visit)
    }

    func length(of example: TokenSequence) -> Int { example.count }

    func trainingBatches(of examples: [TokenSequence], batchSize: Int, generator: inout SeededGenerator) -> [[Int]]? {
        if let consecutiveBatches {
            precondition(consecutiveBatches.reduce(0) { $0 + $1.count } == examples.count,
                         "The consecutive batches must cover the \(examples.count) training chunks")
        }
        return consecutiveBatches
    }

    mutating func beginEpoch() {
        carriedState = nil
    }

    mutating func accumulateGradients(on batch: [TokenSequence], generator: inout SeededGenerator) -> BatchLoss {
        guard consecutiveBatches != nil else { return model.accumulateGradients(on: batch, generator: &generator) }
        // Batch k+1 holds the lanes of batch k that still have a chunk: a prefix of them.
        let initial = carriedState.map { state -> LSTMState in
            precondition(state.hidden.shape[1] >= batch.count, "A consecutive batch cannot have more lanes than the one before it")
            return LanguageModel.firstRows(state, count: batch.count)
        }
        let (loss, finalState) = model.accumulateGradients(on: batch, initialState: initial, generator: &generator)
        carriedState = finalState
        return loss
    }

    func evaluate(on examples: [TokenSequence]) -> Evaluation {
        evaluation(fromSums: model.evaluationCounts(on: examples))
    }

    func evaluationSums(on examples: [TokenSequence]) -> [Double]? {
        model.evaluationSums(on: examples)
    }

    /// The model's evaluation, after the epoch's sample (once per evaluation, as `evaluate`).
    func evaluation(fromSums sums: [Double]) -> Evaluation {
        let evaluation = model.evaluation(fromSums: sums)
        if length > 0 {
            // A fixed seed, so samples of successive epochs differ only by what the model learnt.
            var generator = SeededGenerator(seed: 0)
            let generatorModel = GeneratorModel(model: model, vocabulary: vocabulary)
            if let sample = try? generatorModel.sample(prefix: prefix, length: length,
                                                       options: SamplingOptions(temperature: 0.8), generator: &generator) {
                showSample(sample.text)
            }
        }
        return evaluation
    }
}

/// The training recipe of the generator head: text → vocabulary and examples → `Trainer`.
public enum GeneratorTraining {
    /// Trains a language model on `text` and writes the best one (by validation loss) into `directory`.
    ///
    /// - Parameters:
    ///   - text: the training text (a validation share is held out as `recipe` says).
    ///   - recipe: tokens, records, network shape and softmax.
    ///   - options: the training loop's options.
    ///   - directory: where the best model, metrics and resume state go.
    ///   - resume: continue the run saved in `directory`.
    ///   - progress: receives the loop's progress.
    ///   - processGroup: the processes that train together, each calling this with the same
    ///     arguments (`Trainer.processGroup`); `nil` trains alone.
    ///   - samplePrefix: the prefix of the sample shown after each epoch.
    ///   - sampleLength: tokens of that sample; 0 turns it off.
    ///   - showSample: receives the sample (temperature 0.8, seed 0).
    /// - Returns: the best model and the training summary.
    /// - Throws: `TaskError` for unusable text or recipe values, `TrainingError` from the loop,
    ///   `CheckpointError` when the directory cannot be written.
    public static func train(text: String, recipe: GeneratorRecipe, options: TrainerOptions, directory: URL,
                             resume: Bool = false, progress: any TrainingProgressReporter = SilentProgress(),
                             processGroup: (any ProcessGroup)? = nil, samplePrefix: String = "", sampleLength: Int = 0,
                             showSample: @escaping (String) -> Void = { _ in }) throws -> (model: GeneratorModel, summary: TrainingSummary) {
        try recipe.validate()
        try options.validate()
        let data = try GeneratorData(text: text, level: recipe.level, mode: recipe.records, sequenceLength: recipe.sequenceLength,
                                     stride: recipe.stride, sampling: recipe.sampling, lanes: options.batchSize,
                                     validationFraction: recipe.validationFraction, minFrequency: recipe.minFrequency,
                                     maxVocabularySize: recipe.maxVocabularySize, direction: recipe.direction)
        let configuration = GeneratorConfiguration(level: recipe.level, records: recipe.records, vocabularySize: data.vocabulary.count,
                                                   embeddingSize: recipe.embeddingSize, hiddenSize: recipe.hiddenSize,
                                                   layerCount: recipe.layerCount, dropout: recipe.dropout,
                                                   sequenceLength: recipe.sequenceLength,
                                                   adaptiveCutoffs: try recipe.softmax.cutoffs(vocabularySize: data.vocabulary.count),
                                                   direction: recipe.direction, weightDrop: recipe.weightDrop)
        var generator = SeededGenerator(seed: options.seed)
        var model = TrainingLanguageModel(model: LanguageModel(configuration, generator: &generator), vocabulary: data.vocabulary,
                                          consecutiveBatches: data.trainingBatches,
                                          prefix: samplePrefix, length: sampleLength, showSample: showSample,
                                          resumeRecipe: recipe.resumeRecipe)
        let vocabulary = data.vocabulary
        let trainer = Trainer(options: options, progress: progress, processGroup: processGroup)
        let summary = try trainer.fit(&model, train: data.training, dev: data.validation, in: directory, resume: resume) { best, directory in
            try GeneratorModel(model: best.model, vocabulary: vocabulary).save(to: directory)
        }
        return (GeneratorModel(model: model.model, vocabulary: vocabulary), summary)
    }
}
