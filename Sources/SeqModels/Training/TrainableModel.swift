/// The loss of one batch: a sum over its units (tokens, documents) and how many units there were.
///
/// Kept as a sum and a count so that epoch averages weigh every unit equally, whatever
/// the batch sizes.
public struct BatchLoss: Equatable, Sendable {
    public var sum: Double
    public var count: Int

    public init(sum: Double, count: Int) {
        self.sum = sum
        self.count = count
    }

    /// Mean loss per unit (0 for an empty batch).
    public var mean: Double { count > 0 ? sum / Double(count) : 0 }
}

/// The result of evaluating a model on a development set.
///
/// `metric` is the number the training loop selects the best checkpoint by and stops
/// early on (accuracy for a tagger or classifier, negative perplexity or loss for a
/// generator: see `higherIsBetter`); `details` are extra named figures for the log.
public struct Evaluation: Equatable, Sendable {
    public var metricName: String
    public var metric: Double
    public var higherIsBetter: Bool
    public var details: [String: Double]

    public init(metricName: String, metric: Double, higherIsBetter: Bool = true, details: [String: Double] = [:]) {
        self.metricName = metricName
        self.metric = metric
        self.higherIsBetter = higherIsBetter
        self.details = details
    }

    /// Whether this evaluation is strictly better than `other` (same metric).
    public func isBetter(than other: Evaluation) -> Bool {
        higherIsBetter ? metric > other.metric : metric < other.metric
    }
}

/// A model that the shared training loop (`Trainer`) can train: the three task heads
/// (tagger, classifier, generator) conform to it.
///
/// The loop owns batching (length buckets), shuffling, optimizer steps, clipping,
/// schedules, evaluation, checkpoints, early stopping, time limits, resume and progress;
/// the model owns what a batch means: `accumulateGradients` runs forward and backward on
/// one batch, adding into the parameters' gradients (the loop zeroes them between steps).
///
/// A model whose batches must come in a fixed order (truncated BPTT over a stream with the
/// LSTM state carried from batch to batch) implements `trainingBatches(of:batchSize:generator:)`
/// and `beginEpoch()`; the defaults keep the loop's length-bucketed, shuffled batches and
/// carry nothing between batches.
public protocol TrainableModel: ParameterContainer {
    /// One training example: a tagged sentence, a labelled review, a text chunk.
    associatedtype Example

    /// Number of units (tokens) in `example`; the loop buckets batches by it.
    func length(of example: Example) -> Int

    /// Forward and backward on one batch in training mode (dropout on, drawing from
    /// `generator`); adds into parameter gradients and returns the summed loss.
    /// The loss must be the *mean* over the batch's units for the gradient scale,
    /// as in PyTorch's default reduction; `BatchLoss` still reports sum and count.
    mutating func accumulateGradients(on batch: [Example], generator: inout SeededGenerator) -> BatchLoss

    /// Evaluates in inference mode (no dropout) on `examples`.
    func evaluate(on examples: [Example]) -> Evaluation

    /// The batches of one training epoch as indices into `examples`, in the order they are to
    /// be trained, or `nil` for the loop's own length-bucketed, shuffled batches
    /// (`LengthBucketBatcher` with `TrainerOptions.batchSize` and `maxBatchTokens`).
    ///
    /// Called once at the start of every epoch, after `beginEpoch()`. Any randomness must
    /// be drawn from `generator` (the loop's, saved for resuming), so that a resumed run
    /// reproduces the same batches. Every index should appear in exactly one batch; no
    /// batch may be empty. The default returns `nil` without drawing anything.
    func trainingBatches(of examples: [Example], batchSize: Int, generator: inout SeededGenerator) -> [[Int]]?

    /// Called by the loop at the start of every training epoch (also the first one after a
    /// resume): drop whatever the model carries from batch to batch, such as an LSTM state,
    /// so that every epoch, resumed or not, starts alike. The default does nothing.
    mutating func beginEpoch()

    /// The choices of the head's recipe that a resumed run must share with the run it continues
    /// and that neither the parameters' shapes nor `TrainerOptions` show, by name (a generator's
    /// sampling scheme, chunk length and stride). The loop saves them with its resume state and
    /// refuses a resume whose values differ, naming each. The default is empty.
    var resumeRecipe: [String: String] { get }

    /// Sums over `examples` (counts, summed losses, a confusion matrix) from which
    /// `evaluation(fromSums:)` computes what `evaluate(on:)` returns, such that the sums of the
    /// parts of a set add up to the sums of the whole: processes training together evaluate a
    /// share of the dev set each and add their sums. `nil` (the default) when the evaluation
    /// cannot be split; every process then evaluates the whole set.
    func evaluationSums(on examples: [Example]) -> [Double]?

    /// The evaluation of a set from its `evaluationSums` (added over its parts).
    func evaluation(fromSums sums: [Double]) -> Evaluation
}

extension TrainableModel {
    /// The loop's own batches (length buckets, shuffled).
    public func trainingBatches(of examples: [Example], batchSize: Int, generator: inout SeededGenerator) -> [[Int]]? { nil }

    /// Nothing to reset.
    public mutating func beginEpoch() {}

    /// Nothing beyond the parameters and the options.
    public var resumeRecipe: [String: String] { [:] }

    /// The evaluation cannot be split.
    public func evaluationSums(on examples: [Example]) -> [Double]? { nil }

    /// Never called for a model whose `evaluationSums` is `nil`.
    public func evaluation(fromSums sums: [Double]) -> Evaluation {
        preconditionFailure("\(Self.self) returns evaluationSums but does not implement evaluation(fromSums:)")
    }
}
