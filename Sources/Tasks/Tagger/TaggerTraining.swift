import Foundation
import SeqModels
import Corpus

/// The tagger's training recipe: default loop options and the call into the shared `Trainer`.
public enum TaggerTraining {
    /// Loop defaults for the EWT target: Adam at 2e-3, batches of 32 sentences, gradient
    /// norm clipped at 5, the rate halved after an epoch without a better dev accuracy,
    /// early stopping after 4 such epochs, at most 30 epochs.
    public static let defaultOptions = TrainerOptions(
        epochs: 30, batchSize: 32, learningRate: 2e-3, optimizer: .adam, clipNorm: 5,
        schedule: .plateau(factor: 0.5, patience: 1), patience: 4)

    /// Name of the file, beside `config.json`, recording the loop options the model was trained with.
    public static let optionsFileName = "training.json"

    /// Builds a tagger from `train` (vocabularies, initialisation from `options.seed`), trains
    /// it with the shared loop and keeps the best epoch by dev accuracy in `directory`.
    /// `languageModels` (pretrained character models, frozen) add their features to every token;
    /// they are computed once for the training and dev sets, and copied into `directory`.
    /// With `processGroup`, every process of the group calls this with the same arguments and
    /// they train together (`Trainer.processGroup`); rank 0 writes `directory`.
    ///
    /// - Returns: the best tagger (as saved) and the loop's summary.
    /// - Throws: `TaskError` for an empty corpus, invalid hyperparameters or a dev tag the
    ///   training corpus lacks; `TrainingError` and `CheckpointError` from the loop and saving.
    public static func train(configuration: TaggerConfiguration, options: TrainerOptions,
                             train: [TaggedSentence], dev: [TaggedSentence], languageModels: [GeneratorModel] = [],
                             directory: URL, resume: Bool = false,
                             progress: any TrainingProgressReporter = SilentProgress(),
                             processGroup: (any ProcessGroup)? = nil) throws -> (tagger: Tagger, summary: TrainingSummary) {
        var generator = SeededGenerator(seed: options.seed)
        let training = train + caseVariants(of: train, share: configuration.caseVariants, seed: options.seed)
        var tagger = try Tagger(configuration: configuration, training: training, languageModels: languageModels,
                                generator: &generator)
        var trainExamples = try tagger.encode(training)
        var devExamples: [TaggerExample]
        do {
            devExamples = try tagger.encode(dev)
        } catch let error as TaskError {
            throw TaskError("development corpus: \(error.description)")
        }
        if !languageModels.isEmpty {
            let start = Date()
            tagger.attachContextualFeatures(&trainExamples)
            tagger.attachContextualFeatures(&devExamples)
            progress.note("character language models: features of \(trainExamples.count + devExamples.count) sentences "
                          + "computed in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        }
        if processGroup?.isLeader ?? true {
            try Checkpoint.writeJSON(options, named: optionsFileName, in: directory)
        }
        let trainer = Trainer(options: options, progress: progress, processGroup: processGroup)
        let summary = try trainer.fit(&tagger, train: trainExamples, dev: devExamples, in: directory, resume: resume) { model, directory in
            try model.save(to: directory)
        }
        return (tagger, summary)
    }

    /// Copies of about `share` of `sentences` in another case, chosen with `seed`: half all
    /// lower case, half in title case (each word's first letter upper case, the rest lower).
    /// A copy that would equal its sentence is left out. Tags are the sentence's.
    public static func caseVariants(of sentences: [TaggedSentence], share: Float, seed: UInt64) -> [TaggedSentence] {
        guard share > 0 else { return [] }
        var generator = SeededGenerator(seed: seed ^ 0x6361_7365)   // its own stream: initialisation is unchanged
        var variants: [TaggedSentence] = []
        for sentence in sentences {
            let draw = generator.nextFloat()
            guard draw < share else { continue }
            let tokens = draw < share / 2
                ? sentence.tokens.map { $0.lowercased() }
                : sentence.tokens.map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }
            guard tokens != sentence.tokens else { continue }
            var variant = sentence
            variant.tokens = tokens
            variants.append(variant)
        }
        return variants
    }
}
