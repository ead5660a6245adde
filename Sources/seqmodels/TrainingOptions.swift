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

    @Option(help: "Optimizer: adam, adamw (Adam with decoupled weight decay), sgd or rmsprop (PyTorch's defaults otherwise).")
    var optimizer: TrainerOptions.OptimizerKind?

    @Option(help: "Momentum for sgd and rmsprop.")
    var momentum: Double?

    @Option(help: "Weight decay: an L2 term in the gradient for adam, sgd and rmsprop; for adamw the weights shrink by (1 - rate × decay) each step (default 0.01 there, as PyTorch's AdamW).")
    var weightDecay: Double?

    @Option(help: "Clip the global gradient norm to this value before each step; 0 turns clipping off.")
    var clipNorm: Float?

    @Option(help: "Learning-rate schedule: constant, step (× --decay every --step-size epochs), plateau (× --decay after --plateau-patience epochs without a better dev metric) or cosine (half a cosine down to --decay × the rate, default 0, over --epochs, or over --time-limit when that ends first).")
    var schedule: ScheduleKind?

    @Option(help: "Epochs between two decays of the step schedule (default: 5).")
    var stepSize: Int?

    @Option(help: "Factor applied to the learning rate by the step and plateau schedules (default: 0.5).")
    var decay: Double?

    @Option(help: "Epochs without a better dev metric that the plateau schedule tolerates before decaying (default: 1).")
    var plateauPatience: Int?

    @Option(help: "Stop after this many epochs without a better dev metric (early stopping).")
    var patience: Int?

    @Option(help: "Stop after this many minutes of wall time (between batches), keeping the best checkpoint.")
    var timeLimit: Double?

    @Option(help: "Seed for initialisation, shuffling and dropout; the same seed and threads give the same model.")
    var seed: UInt64?

    @Option(help: "BLAS threads.")
    var threads: Int?

    @Option(help: "Evaluate and save an exponential moving average of the parameters, with this decay per step (e.g. 0.999); 0 turns it off.")
    var averageDecay: Double?

    @Option(help: "Add the gradients of this many batches before each optimizer step (gradient accumulation: a batch this many times larger in the memory of one; under mpirun, one sum of the processes' gradients per step).")
    var accumulate: Int?

    @Flag(help: "Continue the interrupted run saved in the model directory (same options; --epochs, --patience, --time-limit may grow).")
    var resume = false

    @Option(help: "Under mpirun: how the processes add their gradients: library (Open MPI's MPI_Allreduce) or ordered (in rank order on every process, the same sums whatever algorithm Open MPI picks).")
    var reduction: MPIProcessGroup.Reduction = .library

    /// The processes of the `mpirun` job that train together, or `nil` alone.
    var processGroup: (any ProcessGroup)? { Launch.sharedGroup?.with(reduction: reduction) }

    /// Progress on standard error from the process that writes the model (alone, or rank 0); none from the others.
    var progress: any TrainingProgressReporter { Launch.isLeader ? ConsoleProgress.standardError() : SilentProgress() }

    /// The learning-rate schedules the command line offers.
    enum ScheduleKind: String, ExpressibleByArgument, CaseIterable {
        case constant, step, plateau, cosine
    }

    /// `defaults` (a head's recipe) with the flags given on the command line applied.
    /// Call it first thing in `run()` (there is no `validate()`: whether `--decay` fits
    /// depends on the head's default schedule).
    /// - Throws: `ValidationError` naming the flag when a value is out of range or a
    ///   schedule flag does not fit the schedule.
    func trainerOptions(defaults: TrainerOptions = TrainerOptions()) throws -> TrainerOptions {
        var options = defaults
        if let epochs { options.epochs = epochs }
        if let batchSize { options.batchSize = batchSize }
        if let maxBatchTokens { options.maxBatchTokens = maxBatchTokens }
        if let learningRate { options.learningRate = learningRate }
        if let optimizer {
            options.optimizer = optimizer
            if optimizer == .adamw && weightDecay == nil { options.weightDecay = Adam.adamWDefaultWeightDecay }
        }
        if let momentum { options.momentum = momentum }
        if let weightDecay { options.weightDecay = weightDecay }
        if let clipNorm { options.clipNorm = clipNorm == 0 ? nil : clipNorm }
        // The schedule's parameters start from the head's schedule when it is of the same kind.
        var step = (size: 5, gamma: 0.5), plateau = (factor: 0.5, patience: 1)
        var kind = ScheduleKind.constant
        switch defaults.schedule {
        case .constant: break
        case let .step(size, gamma): step = (size, gamma); kind = .step
        case let .plateau(factor, patience): plateau = (factor, patience); kind = .plateau
        case .cosine: kind = .cosine
        }
        kind = schedule ?? kind
        if kind == .constant, decay != nil || stepSize != nil || plateauPatience != nil {
            throw ValidationError("--decay, --step-size and --plateau-patience need --schedule step or plateau")
        }
        if kind == .step, plateauPatience != nil { throw ValidationError("--plateau-patience needs --schedule plateau") }
        if kind == .plateau, stepSize != nil { throw ValidationError("--step-size needs --schedule step") }
        if kind == .cosine, stepSize != nil || plateauPatience != nil {
            throw ValidationError("--step-size and --plateau-patience do not apply to --schedule cosine (it anneals over --epochs or --time-limit)")
        }
        switch kind {
        case .constant:
            options.schedule = .constant
        case .step:
            options.schedule = .step(stepSize: stepSize ?? step.size, gamma: decay ?? step.gamma)
        case .plateau:
            options.schedule = .plateau(factor: decay ?? plateau.factor, patience: plateauPatience ?? plateau.patience)
        case .cosine:
            options.schedule = .cosine(epochs: options.epochs, minimumFactor: decay ?? 0)
        }
        if let patience { options.patience = patience }
        if let timeLimit { options.timeLimit = timeLimit * 60 }
        if let seed { options.seed = seed }
        if let threads { options.threads = threads }
        if let averageDecay { options.parameterAveraging = averageDecay == 0 ? nil : averageDecay }
        if let accumulate { options.accumulationSteps = accumulate }
        do {
            try options.validate()
        } catch let error as TrainingError {
            throw ValidationError(error.description)
        }
        return options
    }

    /// A trainer with these options over `defaults`, reporting progress on standard error
    /// (a live bar on a terminal, one line per epoch otherwise). Pass `resume` to `fit`.
    func trainer(defaults: TrainerOptions = TrainerOptions()) throws -> Trainer {
        Trainer(options: try trainerOptions(defaults: defaults), progress: progress, processGroup: processGroup)
    }
}

extension TrainerOptions.OptimizerKind: ExpressibleByArgument {}
extension MPIProcessGroup.Reduction: ExpressibleByArgument {}
