import Foundation

/// Chooses the learning rate epoch by epoch.
///
/// The training loop reads `learningRate` for the first epoch, then calls
/// `epochEnded(metric:)` once after every epoch with that epoch's development metric
/// (loss or accuracy; schedules that do not need it ignore it) and sets the returned rate
/// on the optimizer for the next epoch. Schedules are `Codable` values, saved with the
/// checkpoint so that a resumed run continues the same sequence. Rates are tracked in
/// `Double`, as PyTorch does, and handed out as `Float`.
public protocol LearningRateSchedule: Codable, Sendable {
    /// The rate to use for the coming epoch.
    var learningRate: Float { get }
    /// Records the end of an epoch and returns the rate for the next one.
    mutating func epochEnded(metric: Double) -> Float
}

/// The same rate for every epoch.
public struct ConstantLearningRate: LearningRateSchedule, Equatable {
    public let learningRate: Float
    public init(_ learningRate: Float) { self.learningRate = learningRate }
    public mutating func epochEnded(metric: Double) -> Float { learningRate }
}

/// Multiplies the rate by `gamma` every `stepSize` epochs, as `torch.optim.lr_scheduler.StepLR`
/// stepped once per epoch: epoch e (from 0) uses `initial · gamma^⌊e / stepSize⌋`.
public struct StepDecay: LearningRateSchedule, Equatable {
    public let stepSize: Int
    public let gamma: Double
    /// Epochs completed so far (PyTorch's `last_epoch`).
    public private(set) var epoch: Int = 0
    private var rate: Double

    public var learningRate: Float { Float(rate) }

    public init(initialLearningRate: Float, stepSize: Int, gamma: Double = 0.1) {
        precondition(stepSize > 0, "StepDecay needs a positive step size, got \(stepSize)")
        self.stepSize = stepSize
        self.gamma = gamma
        self.rate = Double(initialLearningRate)
    }

    public mutating func epochEnded(metric: Double) -> Float {
        epoch += 1
        if epoch % stepSize == 0 { rate *= gamma }
        return learningRate
    }
}

/// Half a cosine from the initial rate down to `minimumLearningRate` over `epochs` epochs, as
/// `torch.optim.lr_scheduler.CosineAnnealingLR(T_max: epochs, eta_min:)` stepped once per epoch
/// (its closed form): epoch e (from 0) uses `min + (initial − min) · (1 + cos(π e / epochs)) / 2`.
/// After `epochs` the rate stays at the minimum (PyTorch's would climb back up).
///
/// With a time budget (`epochEnded(metric:budgetUsed:)`) the cosine runs over whichever ends
/// first, the epochs or the time: the progress is `max(e / epochs, t / T)` for a run that has
/// used time t of its limit T after e epochs, and never goes back. When K equal epochs fill the
/// budget, epoch e uses `cos(π e / K)`, exactly the cosine over K epochs, without anyone knowing
/// K in advance; a slower processor gets fewer epochs, each annealed as far as the time allows.
/// A resumed run (whose time limit starts afresh) keeps the saved progress until its own share of
/// the new limit passes it.
///
/// Why: a run with a time limit ends at its best when the rate has come down by the end; a
/// constant rate keeps the last epochs noisy, the plateau schedule waits for epochs that
/// the time limit does not leave, and a cosine over an epoch count that the time cuts short
/// stops while the rate is still high.
public struct CosineAnnealing: LearningRateSchedule, Equatable {
    public let initialLearningRate: Double
    public let minimumLearningRate: Double
    public let epochs: Int
    /// Epochs completed so far.
    public private(set) var epoch: Int = 0
    /// How far down the cosine the run has come, in [0, 1]: `epoch / epochs`, or further when a
    /// time budget ran ahead of the epochs.
    public private(set) var progress: Double = 0

    public init(initialLearningRate: Float, epochs: Int, minimumLearningRate: Float = 0) {
        precondition(epochs > 0, "CosineAnnealing needs a positive number of epochs, got \(epochs)")
        self.initialLearningRate = Double(initialLearningRate)
        self.minimumLearningRate = Double(minimumLearningRate)
        self.epochs = epochs
    }

    public var learningRate: Float {
        Float(minimumLearningRate + (initialLearningRate - minimumLearningRate) * (1 + cos(Double.pi * progress)) / 2)
    }

    public mutating func epochEnded(metric: Double) -> Float {
        epochEnded(metric: metric, budgetUsed: nil)
    }

    /// Records the end of an epoch after `budgetUsed` (the share of a time limit spent so far,
    /// `nil` without one) and returns the rate for the next epoch.
    public mutating func epochEnded(metric: Double, budgetUsed: Double?) -> Float {
        epoch += 1
        let byTime = budgetUsed.map { $0.isFinite ? min(max($0, 0), 1) : 0 } ?? 0
        progress = max(progress, progressByEpochs, byTime)
        return learningRate
    }

    /// The progress the epochs alone give: `epoch / epochs`, held at 1 after the last.
    private var progressByEpochs: Double { min(Double(epoch), Double(epochs)) / Double(epochs) }

    private enum CodingKeys: String, CodingKey { case initialLearningRate, minimumLearningRate, epochs, epoch, progress }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        initialLearningRate = try container.decode(Double.self, forKey: .initialLearningRate)
        minimumLearningRate = try container.decode(Double.self, forKey: .minimumLearningRate)
        epochs = try container.decode(Int.self, forKey: .epochs)
        epoch = try container.decode(Int.self, forKey: .epoch)
        guard epochs > 0, epoch >= 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "a cosine schedule needs epochs > 0 and epoch ≥ 0, got \(epochs) and \(epoch)"))
        }
        // States saved before time budgets existed hold no progress: it was epoch / epochs then.
        let saved = try container.decodeIfPresent(Double.self, forKey: .progress) ?? progressByEpochs
        guard saved.isFinite, (0...1).contains(saved) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [CodingKeys.progress],
                                                    debugDescription: "a cosine schedule's progress must be in [0, 1], got \(saved)"))
        }
        progress = saved
    }
}

/// Lowers the rate when the development metric stops improving, as
/// `torch.optim.lr_scheduler.ReduceLROnPlateau` (same defaults and the same rules):
/// a metric is an improvement when it beats the best so far by the threshold
/// (`rel`: below `best · (1 − threshold)` in `.min` mode, above `best · (1 + threshold)` in
/// `.max`; `abs`: by `threshold` outright). After more than `patience` epochs without
/// improvement the rate becomes `max(rate · factor, minimumLearningRate)` (ignored when the
/// change is not above `epsilon`), and the next `cooldown` epochs are not counted as bad.
public struct ReduceOnPlateau: LearningRateSchedule, Equatable {
    /// Whether a lower (loss) or higher (accuracy) metric is better.
    public enum Mode: String, Codable, Sendable { case min, max }
    /// Whether `threshold` is relative to the best value or absolute.
    public enum ThresholdMode: String, Codable, Sendable { case relative = "rel", absolute = "abs" }

    public let mode: Mode
    public let factor: Double
    public let patience: Int
    public let threshold: Double
    public let thresholdMode: ThresholdMode
    public let cooldown: Int
    public let minimumLearningRate: Double
    public let epsilon: Double

    /// Best metric seen; `nil` before the first epoch (PyTorch starts from ±∞, which JSON cannot hold).
    public private(set) var best: Double?
    public private(set) var badEpochs = 0
    public private(set) var cooldownRemaining = 0
    private var rate: Double

    public var learningRate: Float { Float(rate) }

    public init(initialLearningRate: Float, mode: Mode = .min, factor: Double = 0.1, patience: Int = 10,
                threshold: Double = 1e-4, thresholdMode: ThresholdMode = .relative, cooldown: Int = 0,
                minimumLearningRate: Double = 0, epsilon: Double = 1e-8) {
        precondition(factor < 1 && factor >= 0, "ReduceOnPlateau factor must be in [0, 1), got \(factor)")
        precondition(patience >= 0 && cooldown >= 0, "ReduceOnPlateau patience and cooldown must be non-negative")
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.thresholdMode = thresholdMode
        self.cooldown = cooldown
        self.minimumLearningRate = minimumLearningRate
        self.epsilon = epsilon
        self.rate = Double(initialLearningRate)
    }

    private func isImprovement(_ a: Double) -> Bool {
        let best = self.best ?? (mode == .min ? .infinity : -.infinity)
        switch (mode, thresholdMode) {
        case (.min, .relative): return a < best * (1 - threshold)
        case (.min, .absolute): return a < best - threshold
        case (.max, .relative): return a > best * (threshold + 1)
        case (.max, .absolute): return a > best + threshold
        }
    }

    public mutating func epochEnded(metric: Double) -> Float {
        if isImprovement(metric) {
            best = metric
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if cooldownRemaining > 0 {
            cooldownRemaining -= 1
            badEpochs = 0
        }
        if badEpochs > patience {
            let reduced = Swift.max(rate * factor, minimumLearningRate)
            if rate - reduced > epsilon { rate = reduced }
            cooldownRemaining = cooldown
            badEpochs = 0
        }
        return learningRate
    }
}
