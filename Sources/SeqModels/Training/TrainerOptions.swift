/// Everything that decides how `Trainer` trains, apart from the model and the data.
///
/// The values are recorded in the resume state (and heads may copy them into their model
/// configuration), so the type is `Codable`. Defaults suit a small LSTM tagger trained
/// with Adam; each head starts from its own defaults and lets the command line override
/// single fields (see `TrainingOptions` in the `seqmodels` tool).
///
/// ```swift
/// var options = TrainerOptions(epochs: 30, learningRate: 2e-3)
/// options.schedule = .plateau(factor: 0.5, patience: 1)
/// options.patience = 5
/// try options.validate()
/// ```
public struct TrainerOptions: Codable, Equatable, Sendable {
    /// Which optimizer updates the parameters (each with PyTorch's defaults for the rest).
    public enum OptimizerKind: String, Codable, CaseIterable, Sendable {
        /// Adam; `weightDecay` is an L2 term added to the gradient (`torch.optim.Adam`).
        case adam
        /// Adam with decoupled weight decay: `θ ← θ(1 − ηλ)` before each step, whatever the
        /// gradient's scale (`torch.optim.AdamW`).
        case adamw
        case sgd, rmsprop
    }

    /// How the learning rate changes from epoch to epoch.
    public enum Schedule: Codable, Equatable, Sendable {
        /// The same rate for every epoch.
        case constant
        /// Multiply the rate by `gamma` every `stepSize` epochs (`StepDecay`).
        case step(stepSize: Int, gamma: Double)
        /// Multiply the rate by `factor` after more than `patience` epochs without a better
        /// development metric (`ReduceOnPlateau`, its mode taken from `Evaluation.higherIsBetter`).
        case plateau(factor: Double, patience: Int)
        /// Half a cosine from the rate down to `minimumFactor` times it over `epochs` epochs, or over
        /// `timeLimit` when that ends first (`CosineAnnealing`: the rate follows whichever runs ahead).
        case cosine(epochs: Int, minimumFactor: Double)
    }

    /// Number of passes over the training set (the most; early stopping and the time limit may end sooner).
    public var epochs: Int
    /// Most examples per batch.
    public var batchSize: Int
    /// Most padded tokens (`examples × longest`) per batch, or `nil` for no limit.
    public var maxBatchTokens: Int?
    /// Initial learning rate.
    public var learningRate: Float
    public var optimizer: OptimizerKind
    /// SGD and RMSProp momentum (ignored by Adam).
    public var momentum: Double
    /// Weight decay λ: an L2 term added to the gradient (adam, sgd, rmsprop), or the decoupled
    /// decay `θ ← θ(1 − ηλ)` of adamw.
    public var weightDecay: Double
    /// Largest global gradient norm before a step (`clipGradientNorm`), or `nil` for no clipping.
    public var clipNorm: Float?
    public var schedule: Schedule
    /// Stop after this many epochs in a row without a better development metric; `nil` never stops early.
    public var patience: Int?
    /// Stop (between batches, keeping the best checkpoint) after this many seconds of wall time; `nil` for no limit.
    public var timeLimit: Double?
    /// Seed of the generator for shuffling and dropout.
    public var seed: UInt64
    /// BLAS threads (`BLAS.setThreadCount`); `nil` leaves the current setting.
    public var threads: Int?
    /// Decay of an exponential moving average of the parameters (`ParameterAverage`, e.g.
    /// 0.999), evaluated on the dev set and saved instead of the last step's parameters;
    /// `nil` evaluates and saves the parameters as trained.
    public var parameterAveraging: Double?
    /// Batches whose gradients are added before one optimizer step (gradient accumulation):
    /// the step follows the mean loss over all their units, as one batch this many times larger
    /// would, in the memory of one batch; with processes training together, they also sum their
    /// gradients once per step, not once per batch. `nil` or 1: a step per batch.
    public var accumulationSteps: Int?

    public init(epochs: Int = 20, batchSize: Int = 32, maxBatchTokens: Int? = nil, learningRate: Float = 1e-3,
                optimizer: OptimizerKind = .adam, momentum: Double = 0, weightDecay: Double = 0,
                clipNorm: Float? = 5, schedule: Schedule = .constant, patience: Int? = nil,
                timeLimit: Double? = nil, seed: UInt64 = 1, threads: Int? = nil, parameterAveraging: Double? = nil) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.maxBatchTokens = maxBatchTokens
        self.learningRate = learningRate
        self.optimizer = optimizer
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.clipNorm = clipNorm
        self.schedule = schedule
        self.patience = patience
        self.timeLimit = timeLimit
        self.seed = seed
        self.threads = threads
        self.parameterAveraging = parameterAveraging
    }

    /// Throws `TrainingError.invalidOption` naming the first value out of range
    /// (values come from the command line, so they are user input).
    public func validate() throws {
        func fail(_ option: String, _ problem: String) -> TrainingError { .invalidOption(option: option, problem: problem) }
        guard epochs >= 1 else { throw fail("epochs", "must be at least 1, got \(epochs)") }
        guard batchSize >= 1 else { throw fail("batch-size", "must be at least 1, got \(batchSize)") }
        if let tokens = maxBatchTokens, tokens < 1 { throw fail("max-batch-tokens", "must be at least 1, got \(tokens)") }
        guard learningRate.isFinite && learningRate > 0 else {
            throw fail("learning-rate", "must be a positive number, got \(learningRate)")
        }
        guard momentum.isFinite && momentum >= 0 && momentum < 1 else { throw fail("momentum", "must be in [0, 1), got \(momentum)") }
        guard weightDecay.isFinite && weightDecay >= 0 else { throw fail("weight-decay", "must be non-negative, got \(weightDecay)") }
        if let clip = clipNorm, !(clip.isFinite && clip > 0) { throw fail("clip-norm", "must be a positive number, got \(clip)") }
        switch schedule {
        case .constant: break
        case let .step(stepSize, gamma):
            guard stepSize >= 1 else { throw fail("step-size", "must be at least 1, got \(stepSize)") }
            guard gamma.isFinite && gamma > 0 && gamma <= 1 else { throw fail("decay", "must be in (0, 1], got \(gamma)") }
        case let .plateau(factor, patience):
            guard factor.isFinite && factor >= 0 && factor < 1 else { throw fail("decay", "must be in [0, 1) for the plateau schedule, got \(factor)") }
            guard patience >= 0 else { throw fail("plateau-patience", "must be non-negative, got \(patience)") }
        case let .cosine(epochs, factor):
            guard epochs >= 1 else { throw fail("epochs", "must be at least 1 for the cosine schedule, got \(epochs)") }
            guard factor.isFinite && factor >= 0 && factor <= 1 else { throw fail("decay", "must be in [0, 1] for the cosine schedule, got \(factor)") }
        }
        if let patience, patience < 1 { throw fail("patience", "must be at least 1, got \(patience)") }
        if let limit = timeLimit, !(limit.isFinite && limit > 0) { throw fail("time-limit", "must be a positive number, got \(limit)") }
        if let threads, threads < 1 { throw fail("threads", "must be at least 1, got \(threads)") }
        if let decay = parameterAveraging, !(decay > 0 && decay < 1) {
            throw fail("average-decay", "must be in (0, 1), got \(decay)")
        }
        if let steps = accumulationSteps, steps < 1 { throw fail("accumulate", "must be at least 1, got \(steps)") }
    }

    /// Batches per optimizer step (`accumulationSteps`, 1 when unset).
    public var batchesPerStep: Int { max(1, accumulationSteps ?? 1) }

    /// The optimizer these options describe, at the initial learning rate.
    func makeOptimizer() -> any Optimizer {
        switch optimizer {
        case .adam: return Adam(learningRate: learningRate, weightDecay: weightDecay)
        case .adamw: return Adam.adamW(learningRate: learningRate, weightDecay: weightDecay)
        case .sgd: return SGD(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
        case .rmsprop: return RMSProp(learningRate: learningRate, weightDecay: weightDecay, momentum: momentum)
        }
    }

    /// Names of the fields whose change would make a resumed run differ from an uninterrupted one.
    /// `epochs`, `patience`, `timeLimit` and `threads`' count may change between a run and its resumption.
    func resumeIncompatibilities(with saved: TrainerOptions) -> [String] {
        var differences: [String] = []
        if batchSize != saved.batchSize { differences.append("batch-size \(saved.batchSize) → \(batchSize)") }
        if maxBatchTokens != saved.maxBatchTokens {
            differences.append("max-batch-tokens \(saved.maxBatchTokens.map(String.init) ?? "none") → \(maxBatchTokens.map(String.init) ?? "none")")
        }
        if learningRate != saved.learningRate { differences.append("learning-rate \(saved.learningRate) → \(learningRate)") }
        if optimizer != saved.optimizer { differences.append("optimizer \(saved.optimizer.rawValue) → \(optimizer.rawValue)") }
        if momentum != saved.momentum { differences.append("momentum \(saved.momentum) → \(momentum)") }
        if weightDecay != saved.weightDecay { differences.append("weight-decay \(saved.weightDecay) → \(weightDecay)") }
        if clipNorm != saved.clipNorm {
            differences.append("clip-norm \(saved.clipNorm.map { "\($0)" } ?? "none") → \(clipNorm.map { "\($0)" } ?? "none")")
        }
        if schedule != saved.schedule { differences.append("schedule \(saved.schedule) → \(schedule)") }
        if seed != saved.seed { differences.append("seed \(saved.seed) → \(seed)") }
        if batchesPerStep != saved.batchesPerStep { differences.append("accumulate \(saved.batchesPerStep) → \(batchesPerStep)") }
        if parameterAveraging != saved.parameterAveraging {
            differences.append("average-decay \(saved.parameterAveraging.map { "\($0)" } ?? "none") → \(parameterAveraging.map { "\($0)" } ?? "none")")
        }
        return differences
    }
}

/// One of the three optimizers, as a `Codable` value for the resume state (an existential
/// `any Optimizer` cannot be decoded without knowing its type).
enum SavedOptimizer: Codable, Sendable {
    case adam(Adam)
    case sgd(SGD)
    case rmsprop(RMSProp)

    init(_ optimizer: any Optimizer) {
        switch optimizer {
        case let o as Adam: self = .adam(o)
        case let o as SGD: self = .sgd(o)
        case let o as RMSProp: self = .rmsprop(o)
        default: preconditionFailure("The trainer only makes Adam, SGD and RMSProp, not \(type(of: optimizer))")
        }
    }

    var optimizer: any Optimizer {
        switch self {
        case let .adam(o): return o
        case let .sgd(o): return o
        case let .rmsprop(o): return o
        }
    }
}

/// The learning-rate schedule of a run, as a `Codable` value saved in the resume state.
/// The plateau schedule is created after the first evaluation, when the direction of the
/// metric (`higherIsBetter`) is known; until then the initial rate applies.
enum ScheduleState: Codable, Sendable {
    case constant(ConstantLearningRate)
    case step(StepDecay)
    case plateau(ReduceOnPlateau?)
    case cosine(CosineAnnealing)

    init(_ schedule: TrainerOptions.Schedule, learningRate: Float) {
        switch schedule {
        case let .cosine(epochs, factor):
            self = .cosine(CosineAnnealing(initialLearningRate: learningRate, epochs: epochs, minimumLearningRate: learningRate * Float(factor)))
        case .constant: self = .constant(ConstantLearningRate(learningRate))
        case let .step(stepSize, gamma): self = .step(StepDecay(initialLearningRate: learningRate, stepSize: stepSize, gamma: gamma))
        case .plateau: self = .plateau(nil)
        }
    }

    /// Records the end of an epoch with its development evaluation and the share of the time
    /// limit used (`nil` without one; only the cosine follows it); returns the next rate.
    mutating func epochEnded(_ evaluation: Evaluation, options: TrainerOptions, currentRate: Float, budgetUsed: Double?) -> Float {
        switch self {
        case var .constant(s): let rate = s.epochEnded(metric: evaluation.metric); self = .constant(s); return rate
        case var .step(s): let rate = s.epochEnded(metric: evaluation.metric); self = .step(s); return rate
        case var .cosine(s):
            let rate = s.epochEnded(metric: evaluation.metric, budgetUsed: budgetUsed)
            self = .cosine(s)
            return rate
        case let .plateau(existing):
            guard case let .plateau(factor, patience) = options.schedule else { return currentRate }
            var s = existing ?? ReduceOnPlateau(initialLearningRate: currentRate, mode: evaluation.higherIsBetter ? .max : .min,
                                                factor: factor, patience: patience)
            let rate = s.epochEnded(metric: evaluation.metric)
            self = .plateau(s)
            return rate
        }
    }
}
