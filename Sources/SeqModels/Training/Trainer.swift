import Foundation

/// The training loop shared by every task head.
///
/// `fit` trains a `TrainableModel` epoch by epoch:
/// 1. the model's `beginEpoch()` is called, then the training examples are cut into
///    length-bucketed batches (`LengthBucketBatcher`, a new seeded order every epoch), unless
///    the model fixes the epoch's batches itself (`TrainableModel.trainingBatches`, e.g. the
///    lanes of consecutive truncated BPTT);
/// 2. per batch: zero the gradients, `accumulateGradients`, clip by global norm, one
///    optimizer step; a NaN or infinite loss or gradient norm stops the run with
///    `TrainingError.nonFiniteLoss` (the best checkpoint saved so far stays as it is);
/// 3. after the epoch: evaluate on the development set; when the metric beats the best so
///    far, hand the model to `save` (which writes the checkpoint into the model directory);
///    append the epoch to `metrics.jsonl`, redraw `curves.svg`, step the learning-rate
///    schedule, and save the resume state into `directory/resume/`;
/// 4. stop after `epochs`, after `patience` epochs without a better metric, or when
///    `timeLimit` runs out (checked between batches: the cut epoch is still evaluated and
///    may become the best checkpoint).
///
/// Everything random draws from one `SeededGenerator(seed:)` (batch order and the model's
/// dropout), and the resume state holds the parameters, the optimizer and schedule state,
/// the generator, the best metric and the history: a run stopped after any complete epoch
/// and resumed with `resume: true` ends with bit-identical weights to an uninterrupted run
/// with the same options and thread count.
///
/// ```swift
/// let trainer = Trainer(options: TrainerOptions(epochs: 20, patience: 3), progress: ConsoleProgress.standardError())
/// let summary = try trainer.fit(&tagger, train: train, dev: dev, in: modelDirectory) { model, directory in
///     try Checkpoint.save(model, config: model.configuration, to: directory)
/// }
/// print(summary)
/// ```
public struct Trainer {
    public var options: TrainerOptions
    public var progress: any TrainingProgressReporter
    /// Seconds on a monotonic clock; tests replace it to test the time limit.
    public var clock: () -> Double
    /// The processes that train this model together (`MPIProcessGroup` under `mpirun`), or
    /// `nil` to train alone. In a group every process runs `fit` with the same model, data
    /// and options: each batch is split between them by tokens, the gradients are summed, and
    /// rank 0 alone writes the directory and reports progress.
    public var processGroup: (any ProcessGroup)?

    /// Name of the folder inside the model directory that holds the resume state.
    public static let resumeFolderName = "resume"

    public init(options: TrainerOptions, progress: any TrainingProgressReporter = SilentProgress(),
                processGroup: (any ProcessGroup)? = nil,
                clock: @escaping () -> Double = { ProcessInfo.processInfo.systemUptime }) {
        self.options = options
        self.progress = progress
        self.processGroup = processGroup
        self.clock = clock
    }

    /// Trains `model` on `train`, selecting the best epoch by its evaluation on `dev`.
    ///
    /// - Parameters:
    ///   - model: the freshly initialised model; on return it holds the parameters of the
    ///     best epoch (the ones `save` last received). With `resume`, its parameters are
    ///     replaced by the saved ones (it must have the same shapes).
    ///   - train: the training examples (at least one; every length at least 1).
    ///   - dev: the development examples; when empty, the epoch's training loss serves as
    ///     the metric (lower is better).
    ///   - directory: the model directory; created if missing. It receives the best
    ///     checkpoint (through `save`), `metrics.jsonl`, `curves.svg` and `resume/`.
    ///   - resume: continue from the state saved in `directory/resume/` by an earlier run
    ///     with the same options (`epochs`, `patience`, `timeLimit` and `threads` may differ).
    ///   - save: writes the best model so far into the directory (parameters, config,
    ///     vocabularies); each file should be written atomically, as `Checkpoint` does.
    /// - Throws: `TrainingError` for invalid options, an empty training set, a non-finite
    ///   loss, missing or mismatching resume state and unwritable files; whatever `save` throws.
    @discardableResult
    public func fit<Model: TrainableModel>(
        _ model: inout Model, train: [Model.Example], dev: [Model.Example], in directory: URL,
        resume: Bool = false, save: (Model, URL) throws -> Void
    ) throws -> TrainingSummary {
        var run = try TrainingRun(trainer: self, model: &model, train: train, dev: dev, directory: directory, resume: resume)
        do {
            let summary = try run.train(&model, save: save)
            progress.trainingEnded(summary)
            return summary
        } catch {
            progress.trainingFailed(error)
            throw error
        }
    }
}

/// How a training run ended.
public struct TrainingSummary: Equatable, Sendable, CustomStringConvertible {
    public enum StopReason: String, Codable, Equatable, Sendable {
        /// All `epochs` were trained.
        case completedEpochs
        /// `patience` epochs in a row brought no better development metric.
        case earlyStopping
        /// The time limit ran out.
        case timeLimit
    }

    public var stopReason: StopReason
    /// Complete epochs trained, counting those before a resume.
    public var epochsCompleted: Int
    /// The epoch whose model is the saved checkpoint (`nil` only if none was saved).
    public var best: EpochRecord?
    /// Every epoch of the run, including those before a resume and a cut-short last one.
    public var history: [EpochRecord]
    /// Wall time of this call (not counting time before a resume).
    public var seconds: Double

    public var description: String {
        let why: String
        switch stopReason {
        case .completedEpochs: why = "finished \(epochsCompleted) epochs"
        case .earlyStopping: why = "stopped early after \(epochsCompleted) epochs (no better dev metric)"
        case .timeLimit: why = "stopped by the time limit after \(epochsCompleted) complete epochs"
        }
        guard let best else { return "\(why) in \(ConsoleProgress.fixed(seconds, 1)) s; no checkpoint saved" }
        return "\(why) in \(ConsoleProgress.fixed(seconds, 1)) s; best dev \(best.metricName) "
            + "\(ConsoleProgress.fixed(best.devMetric, 4)) at epoch \(best.epoch)"
    }
}

/// Why training could not start or had to stop; descriptions are written for the person
/// running the command.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    case invalidOption(option: String, problem: String)
    case emptyTrainingSet
    case emptyExample(index: Int)
    /// The loss (or the gradient norm) of a batch was NaN or infinite.
    case nonFiniteLoss(epoch: Int, batch: Int, batches: Int, quantity: String, value: Double,
                       lastCheckpointEpoch: Int?, directory: String)
    case noResumeState(path: String)
    case resumeMismatch(path: String, differences: [String])
    case cannotWrite(path: String, reason: String)
    case cannotRead(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidOption(option, problem):
            return "--\(option) \(problem)"
        case .emptyTrainingSet:
            return "the training set is empty: nothing to train on"
        case let .emptyExample(index):
            return "training example \(index + 1) is empty (length 0); remove it or check the input"
        case let .nonFiniteLoss(epoch, batch, batches, quantity, value, last, directory):
            let kept = last.map { "the checkpoint of epoch \($0) in \(directory) is kept" }
                ?? "no checkpoint was saved yet"
            return "training diverged: the \(quantity) became \(value) in epoch \(epoch), batch \(batch) of \(batches); "
                + "stopped, \(kept). Try a lower --learning-rate or a --clip-norm."
        case let .noResumeState(path):
            return "\(path): no resume state to continue from; train without --resume to start afresh"
        case let .resumeMismatch(path, differences):
            return "\(path): the saved run used other options, so resuming would not reproduce it: "
                + differences.joined(separator: ", ") + "; resume with the original options or train without --resume"
        case let .cannotWrite(path, reason):
            return "\(path): cannot write: \(reason)"
        case let .cannotRead(path, reason):
            return "\(path): cannot read: \(reason)"
        }
    }
}
