import Foundation
import SeqModels

/// The model and data choices of `generate train` (the optimisation ones live in `TrainerOptions`).
///
/// The defaults aim at tinyshakespeare at character level: a 2×256 LSTM over 64-wide
/// embeddings, chunks of 100 characters, dropout 0.1, with `defaultTrainerOptions`
/// (Adam 2e-3, batches of 32 chunks, clipping at 5, learning rate halved when the
/// validation loss stops improving).
public struct GeneratorRecipe: Codable, Equatable, Sendable {
    public var level: TokenLevel
    public var records: RecordMode
    public var embeddingSize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    public var dropout: Float
    /// Tokens per training chunk (`stream` mode).
    public var sequenceLength: Int
    /// Tokens between the starts of two chunks; `nil` is `sequenceLength` (no overlap).
    public var stride: Int?
    /// Share of the text held out for validation: the end of the stream, or the last lines.
    public var validationFraction: Double

    public init(level: TokenLevel = .char, records: RecordMode = .stream, embeddingSize: Int = 64, hiddenSize: Int = 256,
                layerCount: Int = 2, dropout: Float = 0.1, sequenceLength: Int = 100, stride: Int? = nil,
                validationFraction: Double = 0.1) {
        self.level = level
        self.records = records
        self.embeddingSize = embeddingSize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.dropout = dropout
        self.sequenceLength = sequenceLength
        self.stride = stride
        self.validationFraction = validationFraction
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
    }
}

/// A `LanguageModel` that, each time the training loop evaluates it (once per epoch), also
/// generates a short sample from a fixed prefix and hands it to `showSample`, so a person
/// sees the model learn. Everything else is the wrapped model's.
struct SamplingDuringTraining: TrainableModel {
    var model: LanguageModel
    let vocabulary: Vocabulary
    let prefix: String
    let length: Int
    let showSample: (String) -> Void

    mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try model.visitParameters(prefix: prefix, visit)
    }

    func length(of example: TokenSequence) -> Int { example.count }

    mutating func accumulateGradients(on batch: [TokenSequence], generator: inout SeededGenerator) -> BatchLoss {
        model.accumulateGradients(on: batch, generator: &generator)
    }

    func evaluate(on examples: [TokenSequence]) -> Evaluation {
        let evaluation = model.evaluate(on: examples)
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
    ///   - samplePrefix, sampleLength: after each epoch a sample of `sampleLength` tokens from
    ///     `samplePrefix` (temperature 0.8, seed 0) goes to `showSample`; 0 turns it off.
    /// - Returns: the best model and the training summary.
    /// - Throws: `TaskError` for unusable text or recipe values, `TrainingError` from the loop,
    ///   `CheckpointError` when the directory cannot be written.
    public static func train(text: String, recipe: GeneratorRecipe, options: TrainerOptions, directory: URL,
                             resume: Bool = false, progress: any TrainingProgressReporter = SilentProgress(),
                             samplePrefix: String = "", sampleLength: Int = 0,
                             showSample: @escaping (String) -> Void = { _ in }) throws -> (model: GeneratorModel, summary: TrainingSummary) {
        try recipe.validate()
        let data = try GeneratorData(text: text, level: recipe.level, mode: recipe.records, sequenceLength: recipe.sequenceLength,
                                     stride: recipe.stride, validationFraction: recipe.validationFraction)
        let configuration = GeneratorConfiguration(level: recipe.level, records: recipe.records, vocabularySize: data.vocabulary.count,
                                                   embeddingSize: recipe.embeddingSize, hiddenSize: recipe.hiddenSize,
                                                   layerCount: recipe.layerCount, dropout: recipe.dropout,
                                                   sequenceLength: recipe.sequenceLength)
        var generator = SeededGenerator(seed: options.seed)
        var model = SamplingDuringTraining(model: LanguageModel(configuration, generator: &generator), vocabulary: data.vocabulary,
                                           prefix: samplePrefix, length: sampleLength, showSample: showSample)
        let vocabulary = data.vocabulary
        let trainer = Trainer(options: options, progress: progress)
        let summary = try trainer.fit(&model, train: data.training, dev: data.validation, in: directory, resume: resume) { best, directory in
            try GeneratorModel(model: best.model, vocabulary: vocabulary).save(to: directory)
        }
        return (GeneratorModel(model: model.model, vocabulary: vocabulary), summary)
    }
}
