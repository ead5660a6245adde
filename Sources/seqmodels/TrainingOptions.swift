import ArgumentParser
import SeqModels

/// The training flags shared by `tag train`, `classify train` and `generate train`.
///
/// Every flag is optional: a command starts from its head's defaults (`TrainerOptions`)
/// and overrides only what was given, e.g.
///
///     seqmodels tag train --train train.xml --dev dev.xml --model tagger \
///         --epochs 30 --schedule plateau --decay 0.5 --patience 4 --time-limit 15 --seed 7 --threads 2
///     seqmodels tag train … --model tagger --resume     # continue after an interruption
struct TrainingOptions: ParsableArguments {
    @Option(help: "Most passes over the training set.")
    var epochs: Int?

    @Option(help: "Most examples per batch.")
    var batchSize: Int?

    @Option(help: "Most padded tokens per batch (examples × longest); batches of long sequences get fewer examples.")
    var maxBatchTokens: Int?

    @Option(help: "Initial learning rate.")
    var learningRate: Float?

    @Option(help: "Optimizer: adam, sgd or rmsprop (PyTorch's defaults otherwise).")
    var optimizer: TrainerOptions.OptimizerKind?

    @Option(help: "Momentum for sgd and rmsprop.")
    var momentum: Double?

    @Option(help: "L2 weight decay.")
    var weightDecay: Double?

    @Option(help: "Clip the global gradient norm to this value before each step; 0 turns clipping off.")
    var clipNorm: Float?

    @Option(help: "Learning-rate schedule: constant, step (× --decay every --step-size epochs) or plateau (× --decay after --plateau-patience epochs without a better dev metric).")
    var schedule: ScheduleKind?

    @Option(help: "Epochs between two decays of the step schedule.")
    var stepSize: Int = 5

    @Option(help: "Factor applied to the learning rate by the step and plateau schedules.")
    var decay: Double = 0.5

    @Option(help: "Epochs without a better dev metric that the plateau schedule tolerates before decaying.")
    var plateauPatience: Int = 1

    @Option(help: "Stop after this many epochs without a better dev metric (early stopping).")
    var patience: Int?

    @Option(help: "Stop after this many minutes of wall time (between batches), keeping the best checkpoint.")
    var timeLimit: Double?

    @Option(help: "Seed for initialisation, shuffling and dropout; the same seed and threads give the same model.")
    var seed: UInt64?

    @Option(help: "BLAS threads.")
    var threads: Int?

    @Flag(help: "Continue the interrupted run saved in the model directory (same options; --epochs, --patience, --time-limit may grow).")
    var resume = false

    /// The learning-rate schedules the command line offers.
    enum ScheduleKind: String, ExpressibleByArgument, CaseIterable {
        case constant, step, plateau
    }

    /// `defaults` (a head's recipe) with the flags given on the command line applied.
    /// - Throws: `ValidationError` naming the flag when a value is out of range.
    func trainerOptions(defaults: TrainerOptions = TrainerOptions()) throws -> TrainerOptions {
        var options = defaults
        if let epochs { options.epochs = epochs }
        if let batchSize { options.batchSize = batchSize }
        if let maxBatchTokens { options.maxBatchTokens = maxBatchTokens }
        if let learningRate { options.learningRate = learningRate }
        if let optimizer { options.optimizer = optimizer }
        if let momentum { options.momentum = momentum }
        if let weightDecay { options.weightDecay = weightDecay }
        if let clipNorm { options.clipNorm = clipNorm == 0 ? nil : clipNorm }
        switch schedule {
        case nil: break
        case .constant: options.schedule = .constant
        case .step: options.schedule = .step(stepSize: stepSize, gamma: decay)
        case .plateau: options.schedule = .plateau(factor: decay, patience: plateauPatience)
        }
        if let patience { options.patience = patience }
        if let timeLimit { options.timeLimit = timeLimit * 60 }
        if let seed { options.seed = seed }
        if let threads { options.threads = threads }
        do {
            try options.validate()
        } catch let error as TrainingError {
            throw ValidationError(error.description)
        }
        return options
    }

    func validate() throws {
        _ = try trainerOptions()
    }
}

extension TrainerOptions.OptimizerKind: ExpressibleByArgument {}
