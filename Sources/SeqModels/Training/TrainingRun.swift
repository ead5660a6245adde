import Foundation

/// Everything a run must carry from one epoch to the next, saved in `resume/state.json`
/// after every complete epoch; the current parameters and the optimizer state go beside
/// it in the safetensors files it names (written first, so the state never names a file
/// that is not complete).
struct ResumeState: Codable {
    static let fileName = "state.json"
    /// The best epoch's parameters in states written before `bestParametersFile` existed.
    static let legacyBestParametersFileName = "best.safetensors"

    var version = 1
    var options: TrainerOptions
    var trainExamples: Int
    var epochsCompleted: Int
    /// The rate for the next epoch.
    var learningRate: Float
    var generator: SeededGenerator
    /// The safetensors file (inside `resume/`) with the optimizer state (`StateArchive` of a `SavedOptimizer`).
    var optimizerFile: String
    var schedule: ScheduleState
    var best: EpochRecord?
    var epochsWithoutImprovement: Int
    var history: [EpochRecord]
    /// The safetensors file (inside `resume/`) with the parameters after `epochsCompleted` epochs.
    var parametersFile: String
    /// With parameter averaging: the safetensors file (inside `resume/`) with the average, and its number of updates.
    var averageFile: String?
    var averageUpdates: Int?
    /// The model's `resumeRecipe` (absent from states written before it existed: not compared).
    var recipe: [String: String]?
    /// The safetensors file (inside `resume/`) with the best epoch's parameters, named after that
    /// epoch (`best-3.safetensors`), so that a save cut short between it and this state never
    /// pairs the state's `best` with another epoch's parameters. Absent from older states:
    /// `best.safetensors`.
    var bestParametersFile: String?
}

/// One call of `Trainer.fit`: the state of the loop and the files it writes.
struct TrainingRun<Model: TrainableModel> {
    let trainer: Trainer
    let options: TrainerOptions
    let train: [Model.Example]
    let dev: [Model.Example]
    let directory: URL
    let resumeDirectory: URL
    let batcher: LengthBucketBatcher
    let metrics: MetricsLog
    let chartURL: URL
    /// The processes training together (data parallelism), or `nil` alone; a group of one is `nil`.
    let group: (any ProcessGroup)?
    /// `trainer.progress` on the process that writes the files, silent on the others.
    let progress: any TrainingProgressReporter
    /// Scalars of the trainable parameters: the gradients a group sums at each step.
    let trainableCount: Int
    /// In a group: the steps taken and the seconds spent in their sums (reported at the end).
    var communication = (steps: 0, seconds: 0.0)

    var generator: SeededGenerator
    var optimizer: any Optimizer
    var schedule: ScheduleState
    var learningRate: Float
    var epochsCompleted = 0
    var best: EpochRecord?
    var bestParameters: [String: Tensor]?
    /// The file inside `resume/` holding `bestParameters` once saved (`ResumeState.bestParametersFile`).
    var bestParametersFile: String?
    /// The running average evaluated and saved in place of the parameters, when `options.parameterAveraging` is set.
    var average: ParameterAverage?
    var epochsWithoutImprovement = 0
    var history: [EpochRecord] = []
    let startTime: Double
    /// The model directory's device and inode when the run started (the leader's), so that a
    /// directory removed or moved away mid-run stops the run at the next save instead of being
    /// quietly made anew, incomplete, in its place.
    private var directoryIdentity: FileIdentity?

    init(trainer: Trainer, model: inout Model, train: [Model.Example], dev: [Model.Example], directory: URL, resume: Bool) throws {
        let options = trainer.options
        try options.validate()
        guard !train.isEmpty else { throw TrainingError.emptyTrainingSet }
        let lengths = train.map { model.length(of: $0) }
        if let empty = lengths.firstIndex(where: { $0 < 1 }) { throw TrainingError.emptyExample(index: empty) }
        if let threads = options.threads { BLAS.setThreadCount(threads) }

        self.trainer = trainer
        self.options = options
        self.train = train
        self.dev = dev
        self.directory = directory
        self.resumeDirectory = directory.appendingPathComponent(Trainer.resumeFolderName)
        self.batcher = try LengthBucketBatcher(lengths: lengths, maxSequences: options.batchSize, maxTokens: options.maxBatchTokens)
        self.metrics = MetricsLog(directory: directory)
        self.chartURL = directory.appendingPathComponent(LossCurveChart.fileName)
        self.group = trainer.processGroup.flatMap { $0.size > 1 ? $0 : nil }
        self.progress = trainer.processGroup?.isLeader ?? true ? trainer.progress : SilentProgress()
        var trainableCount = 0
        model.visitParameters(prefix: "") { _, parameter in
            if parameter.isTrainable { trainableCount += parameter.value.count }
        }
        self.trainableCount = trainableCount
        self.generator = SeededGenerator(seed: options.seed)
        self.optimizer = options.makeOptimizer()
        self.schedule = ScheduleState(options.schedule, learningRate: options.learningRate)
        self.learningRate = options.learningRate
        self.startTime = trainer.clock()
        self.average = options.parameterAveraging.map { ParameterAverage(of: model, decay: $0) }

        var leftovers: [String] = []
        if isLeader {
            try Self.createDirectory(directory)
            try Self.createDirectory(resumeDirectory)
            directoryIdentity = FileIdentity(of: directory)
            // Temporary files of saves cut short by a kill: never a file the run reads.
            leftovers = AtomicFile.removeLeftovers(in: directory) + AtomicFile.removeLeftovers(in: resumeDirectory)
        }
        if resume {
            try restore(into: &model)
        } else if isLeader {
            try clearResumeState()
            try metrics.rewrite([])
        }
        if let group {
            progress.note("data parallel: \(group.size) processes share every batch of \(options.batchSize) "
                          + "(this one is rank \(group.rank))")
        }
        progress.trainingStarted(TrainingStart(
            firstEpoch: epochsCompleted + 1, epochs: options.epochs, trainExamples: train.count, devExamples: dev.count,
            trainTokens: lengths.reduce(0, +), parameterCount: model.parameterCount, directory: directory))
        if let warning = BLASReport().warning { progress.note("warning: \(warning)") }
        if !leftovers.isEmpty {
            progress.note("removed \(leftovers.count) unfinished file(s) of an interrupted save: \(leftovers.joined(separator: ", "))")
        }
        if resume {
            progress.note("resumed after epoch \(epochsCompleted)"
                + (best.map { "; best dev \($0.metricName) so far \(ConsoleProgress.fixed($0.devMetric, 4)) at epoch \($0.epoch)" } ?? ""))
        }
    }

    // MARK: The loop

    mutating func train(_ model: inout Model, save: (Model, URL) throws -> Void) throws -> TrainingSummary {
        var stopReason = TrainingSummary.StopReason.completedEpochs
        if let patience = options.patience, epochsWithoutImprovement >= patience, epochsCompleted > 0 {
            stopReason = .earlyStopping
        }
        epochs: while stopReason == .completedEpochs && epochsCompleted < options.epochs {
            let epoch = epochsCompleted + 1
            let epochStart = trainer.clock()
            optimizer.learningRate = learningRate
            model.beginEpoch()
            let fixed = model.trainingBatches(of: train, batchSize: options.batchSize, generator: &generator)
                .map { Self.checked($0, exampleCount: train.count) }
            let batches = fixed ?? batcher.batches(using: &generator)
            var lossSum = 0.0, lossCount = 0, tokens = 0, done = 0
            var timeIsUp = false
            // Fixed batches (lanes carrying a state) keep each lane on one process all epoch.
            let laneCuts = fixed.flatMap { fixed in
                group.map { BatchSharding.cuts(lengths: fixed[0].map { batcher.lengths[$0] }, parts: $0.size) }
            }
            while done < batches.count {
                // One optimizer step: `batchesPerStep` batches (fewer at the end of the epoch).
                let step = Array(batches[done..<min(done + options.batchesPerStep, batches.count)])
                model.zeroGradients()
                let loss: BatchLoss
                if group == nil && step.count == 1 {
                    loss = model.accumulateGradients(on: step[0].map { train[$0] }, generator: &generator)
                } else {
                    let result = try accumulateStep(step, laneCuts: laneCuts, model: &model, epoch: epoch, firstBatch: done)
                    loss = result.loss
                    timeIsUp = result.stop
                }
                guard loss.sum.isFinite else {
                    throw divergence(epoch: epoch, batch: done + 1, of: batches.count, quantity: "loss", value: loss.sum)
                }
                if let clip = options.clipNorm {
                    let norm = clipGradientNorm(&model, maxNorm: clip)
                    guard norm.isFinite else {
                        throw divergence(epoch: epoch, batch: done + 1, of: batches.count, quantity: "gradient norm", value: Double(norm))
                    }
                }
                optimizer.step(&model)
                average?.update(from: &model)
                lossSum += loss.sum
                lossCount += loss.count
                tokens += step.reduce(0) { $0 + $1.reduce(0) { $0 + batcher.lengths[$1] } }
                done += step.count
                let elapsed = trainer.clock() - epochStart
                progress.batchEnded(BatchProgress(
                    epoch: epoch, epochs: options.epochs, batch: done, batches: batches.count, tokens: tokens,
                    loss: lossCount > 0 ? lossSum / Double(lossCount) : 0, seconds: elapsed))
                // With a group, rank 0's clock decided inside the step's sum, so all stop together.
                if group == nil, let limit = options.timeLimit, trainer.clock() - startTime >= limit { timeIsUp = true }
                if timeIsUp { break }
            }
            let trainSeconds = trainer.clock() - epochStart
            try checkParametersAgree(&model)
            let complete = done == batches.count
            let trainLoss = lossCount > 0 ? lossSum / Double(lossCount) : 0

            progress.evaluationStarted(epoch: epoch)
            // With averaging, the average is what gets evaluated and saved; training goes on from the parameters.
            average?.exchange(with: &model)
            let evaluation = dev.isEmpty
                ? Evaluation(metricName: "train_loss", metric: trainLoss, higherIsBetter: false)
                : try evaluate(model)
            let isBest = improves(evaluation)
            if isLeader { try checkDirectoryIsStillThere() }
            let record = EpochRecord(
                epoch: epoch, complete: complete, batches: done, tokens: tokens, trainLoss: trainLoss, evaluation: evaluation,
                learningRate: learningRate, seconds: trainer.clock() - epochStart,
                tokensPerSecond: trainSeconds > 0 ? Double(tokens) / trainSeconds : 0, isBest: isBest)
            if isBest {
                if isLeader { try save(model, directory) }
                best = record
                bestParameters = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.value) })
                epochsWithoutImprovement = 0
            } else if complete {
                epochsWithoutImprovement += 1
            }
            average?.exchange(with: &model)
            history.append(record)
            if isLeader {
                try metrics.append(record)
                try writeChart()
            }
            progress.epochEnded(record)

            if !complete {
                stopReason = .timeLimit
                break epochs
            }
            epochsCompleted = epoch
            let budgetUsed = try sharedBudgetUsed()
            learningRate = schedule.epochEnded(evaluation, options: options, currentRate: learningRate, budgetUsed: budgetUsed)
            if isLeader { try saveResumeState(model) }
            if timeIsUp {
                stopReason = .timeLimit
            } else if let patience = options.patience, epochsWithoutImprovement >= patience, epochsCompleted < options.epochs {
                stopReason = .earlyStopping
                progress.note("no better dev \(evaluation.metricName) for \(patience) epochs: stopping early")
            } else if let budgetUsed, budgetUsed >= 1, epochsCompleted < options.epochs {
                stopReason = .timeLimit
            }
        }
        if let group, communication.steps > 0 {
            let bytes = (trainableCount + 3) * MemoryLayout<Float>.size
            progress.note("data parallel: \(group.size) processes summed \(ConsoleProgress.fixed(Double(bytes) / 1e6, 1)) MB "
                          + "in each of \(communication.steps) steps, "
                          + "\(ConsoleProgress.fixed(1000 * communication.seconds / Double(communication.steps), 2)) ms per sum on rank 0 "
                          + "(waiting for the slowest process included)")
        }
        if stopReason == .timeLimit { progress.note("time limit reached: stopping; the best checkpoint is kept") }
        try restoreBest(into: &model)
        return TrainingSummary(stopReason: stopReason, epochsCompleted: epochsCompleted, best: best, history: history,
                               seconds: trainer.clock() - startTime)
    }

    /// The share of the time limit used so far (`nil` without a limit; 1 or more once it is
    /// spent). In a group it is rank 0's, summed to every process (one small collective call an
    /// epoch, only with a limit), so that all of them stop, and set their learning rate, alike.
    private func sharedBudgetUsed() throws -> Double? {
        guard let limit = options.timeLimit else { return nil }
        let used = (trainer.clock() - startTime) / limit
        guard let group else { return used }
        var shared = [group.isLeader ? used : 0]
        try group.sum(&shared)
        return shared[0]
    }

    // MARK: Data parallelism

    /// Whether this process writes the files: alone, or rank 0 of the group.
    var isLeader: Bool { group?.isLeader ?? true }

    /// One optimizer step's gradient from several batches (`TrainerOptions.accumulationSteps`),
    /// or from this process's shares of them when processes train together.
    ///
    /// After each batch, every trainable parameter's gradient times the batch's loss count is
    /// added into one buffer, which ends with the loss sum, the loss count and rank 0's
    /// time-is-up flag; a group sums that buffer once (one collective call per step, not per
    /// parameter or batch). Dividing by the total count leaves in every process the gradient of
    /// the mean loss over all the step's units: the update of one process training on one batch
    /// holding them all (each head's loss is the mean over `BatchLoss.count` units), up to the
    /// order of float additions.
    ///
    /// A share is a contiguous run of a batch with about the same tokens on every process
    /// (`BatchSharding`); with fixed batches (lanes whose state the model carries from batch to
    /// batch), each process keeps the lanes `laneCuts` gave it at the epoch's first batch.
    /// In a group, dropout draws from a generator seeded by the run's seed, the batch and the
    /// rank, not from the loop's generator, which thus stays the same in every process.
    private mutating func accumulateStep(_ batches: [[Int]], laneCuts: [Int]?, model: inout Model,
                                         epoch: Int, firstBatch: Int) throws -> (loss: BatchLoss, stop: Bool) {
        var buffer = [Float](repeating: 0, count: trainableCount + 3)
        var local = BatchLoss(sum: 0, count: 0)
        for (offset, batch) in batches.enumerated() {
            var share = 0..<batch.count
            if let group {
                let cuts = laneCuts ?? BatchSharding.cuts(lengths: batch.map { batcher.lengths[$0] }, parts: group.size)
                share = min(cuts[group.rank], batch.count)..<min(cuts[group.rank + 1], batch.count)
            }
            guard !share.isEmpty else { continue }
            model.zeroGradients()
            let examples = batch[share].map { train[$0] }
            let part: BatchLoss
            if let group {
                let seed = Self.stepSeed(options.seed, epoch: epoch, batch: firstBatch + offset)
                var dropout = SeededGenerator(seed: seed ^ (UInt64(group.rank + 1) &* 0xD1B5_4A32_D192_ED03))
                part = model.accumulateGradients(on: examples, generator: &dropout)
            } else {
                part = model.accumulateGradients(on: examples, generator: &generator)
            }
            Self.addGradients(of: &model, into: &buffer, scaledBy: Float(part.count))
            local.sum += part.count > 0 ? part.sum : 0
            local.count += part.count
        }
        var total = local
        var timeIsUp = false
        if let group {
            buffer[buffer.count - 3] = Float(local.sum)
            buffer[buffer.count - 2] = Float(local.count)
            buffer[buffer.count - 1] = group.isLeader && options.timeLimit.map { trainer.clock() - startTime >= $0 } == true ? 1 : 0
            let sumStart = trainer.clock()
            try group.sum(&buffer)
            communication.steps += 1
            communication.seconds += trainer.clock() - sumStart
            total = BatchLoss(sum: Double(buffer[buffer.count - 3]), count: Int(buffer[buffer.count - 2].rounded()))
            timeIsUp = buffer[buffer.count - 1] > 0
        }
        Self.copyGradients(from: buffer, into: &model, scaledBy: total.count > 0 ? 1 / Float(total.count) : 0)
        return (total, timeIsUp)
    }

    /// Adds every trainable parameter's gradient times `factor` into the start of `buffer`,
    /// in the order `visitParameters` gives (frozen ones have no gradient to share).
    private static func addGradients(of model: inout Model, into buffer: inout [Float], scaledBy factor: Float) {
        buffer.withUnsafeMutableBufferPointer { flat in
            var offset = 0
            model.visitParameters(prefix: "") { _, parameter in
                guard parameter.isTrainable else { return }
                parameter.gradient.withUnsafeBufferPointer { gradient in
                    for index in gradient.indices { flat[offset + index] += gradient[index] * factor }
                    offset += gradient.count
                }
            }
        }
    }

    /// Sets every trainable parameter's gradient to its part of `buffer` times `factor` (the
    /// inverse of `addGradients(of:into:scaledBy:)` into an empty buffer).
    private static func copyGradients(from buffer: [Float], into model: inout Model, scaledBy factor: Float) {
        buffer.withUnsafeBufferPointer { flat in
            var offset = 0
            model.visitParameters(prefix: "") { _, parameter in
                guard parameter.isTrainable else { return }
                parameter.gradient.withUnsafeMutableBufferPointer { gradient in
                    for index in gradient.indices { gradient[index] = flat[offset + index] * factor }
                    offset += gradient.count
                }
            }
        }
    }

    /// The seed of one step's dropout: a function of the run's seed and the step, so that it needs
    /// no state to resume.
    static func stepSeed(_ seed: UInt64, epoch: Int, batch: Int) -> UInt64 {
        var generator = SeededGenerator(seed: seed ^ (UInt64(epoch) << 32) ^ UInt64(batch))
        return generator.next()
    }

    /// The dev evaluation: alone, the model's own; in a group, each process evaluates its share of
    /// `dev` and the sums are added (`TrainableModel.evaluationSums`), or, for a model without
    /// sums, every process evaluates the whole set.
    private func evaluate(_ model: Model) throws -> Evaluation {
        guard let group else { return model.evaluate(on: dev) }
        // Every process has the same kind of model, so all take the same branch.
        guard var sums = model.evaluationSums(on: Array(dev[group.share(of: dev.count)])) else { return model.evaluate(on: dev) }
        let widths = try group.gather(sums.count)
        guard Set(widths).count == 1 else {
            throw ProcessGroupError("the processes' evaluation sums differ in length (\(widths)): are they running the same model?")
        }
        try group.sum(&sums)
        return model.evaluation(fromSums: sums)
    }

    /// Throws when the processes' parameters are no longer the same (they all apply the same
    /// update to the same start, so they should be bit for bit): checked after every epoch
    /// with one 64-bit fingerprint per process.
    private func checkParametersAgree(_ model: inout Model) throws {
        guard let group else { return }
        var fingerprint: UInt64 = 0xCBF2_9CE4_8422_2325
        model.visitParameters(prefix: "") { _, parameter in
            parameter.value.withUnsafeBufferPointer { values in
                for value in values { fingerprint = (fingerprint ^ UInt64(value.bitPattern)) &* 0x100_0000_01B3 }
            }
        }
        let all = try group.gather(withUnsafeBytes(of: fingerprint) { Array($0) })
        guard Set(all).count == 1 else {
            throw ProcessGroupError("the \(group.size) processes no longer hold the same parameters after an epoch "
                                    + "(their sums of gradients differed); train with --reduction ordered")
        }
    }

    /// `batches` from a model's `trainingBatches`, after checking that they are usable
    /// (a programmer error otherwise: the model built them).
    private static func checked(_ batches: [[Int]], exampleCount: Int) -> [[Int]] {
        precondition(!batches.isEmpty, "A model's training batches must not be empty")
        for batch in batches {
            precondition(!batch.isEmpty, "A model's training batch must hold at least one example")
            precondition(batch.allSatisfy { $0 >= 0 && $0 < exampleCount },
                         "A model's training batch names an example outside 0..<\(exampleCount): \(batch)")
        }
        return batches
    }

    /// Whether `evaluation` beats the best so far. The first epoch always does (so a
    /// checkpoint exists); a NaN metric never does, and anything but NaN beats a NaN best.
    private func improves(_ evaluation: Evaluation) -> Bool {
        guard let best else { return true }
        if evaluation.metric.isNaN { return false }
        if best.devMetric.isNaN { return true }
        return evaluation.isBetter(than: best.evaluation)
    }

    private func divergence(epoch: Int, batch: Int, of batches: Int, quantity: String, value: Double) -> TrainingError {
        .nonFiniteLoss(epoch: epoch, batch: batch, batches: batches, quantity: quantity, value: value,
                       lastCheckpointEpoch: best?.epoch, directory: directory.path)
    }

    /// Leaves the best epoch's parameters in `model` (from memory, or from `resume/best-EPOCH.safetensors`
    /// when the best epoch was trained before a resume).
    private mutating func restoreBest(into model: inout Model) throws {
        if bestParameters == nil, best != nil {
            let url = resumeDirectory.appendingPathComponent(bestParametersFile ?? ResumeState.legacyBestParametersFileName)
            bestParameters = try readParameters(url, for: model)
        }
        guard let bestParameters else { return }
        do {
            try model.loadParameters(bestParameters)
        } catch {
            throw TrainingError.cannotRead(path: resumeDirectory.path, reason: "\(error)")
        }
    }

    /// Throws when the model directory is no longer the one the run started with (removed,
    /// or moved away and perhaps replaced).
    private func checkDirectoryIsStillThere() throws {
        guard let directoryIdentity, FileIdentity(of: directory) != directoryIdentity else { return }
        throw TrainingError.cannotWrite(
            path: directory.path,
            reason: "the model directory was removed or moved away while training ran; the run stops here "
                + "instead of writing an incomplete model directory in its place")
    }

    private func writeChart() throws {
        let svg = LossCurveChart(records: history).svg()
        do {
            try AtomicFile.write([Data(svg.utf8)], to: chartURL)
        } catch let failure as AtomicFile.Failure {
            throw TrainingError.cannotWrite(path: chartURL.path, reason: failure.reason)
        }
    }

    // MARK: Resume state

    private mutating func saveResumeState(_ model: Model) throws {
        // A cut-short epoch never reaches here, so the best parameters saved for a resume
        // always belong to a complete epoch, as the state's `best` record does.
        if best?.epoch == epochsCompleted, let bestParameters {
            let file = "best-\(epochsCompleted).safetensors"
            try writeTensors(bestParameters.map { ($0.key, $0.value) }.sorted { $0.0 < $1.0 },
                             to: resumeDirectory.appendingPathComponent(file))
            bestParametersFile = file
        }
        let parametersFile = "parameters-\(epochsCompleted).safetensors"
        let optimizerFile = "optimizer-\(epochsCompleted).safetensors"
        let averageFile = average == nil ? nil : "average-\(epochsCompleted).safetensors"
        try writeTensors(model.namedParameters(), to: resumeDirectory.appendingPathComponent(parametersFile))
        if let average, let averageFile {
            try writeTensors(average.named(like: model), to: resumeDirectory.appendingPathComponent(averageFile))
        }
        let optimizerURL = resumeDirectory.appendingPathComponent(optimizerFile)
        do {
            try StateArchive.archive(SavedOptimizer(optimizer)).write(to: optimizerURL)
        } catch {
            throw TrainingError.cannotWrite(path: optimizerURL.path, reason: "\(error)")
        }
        let state = ResumeState(
            options: options, trainExamples: train.count, epochsCompleted: epochsCompleted, learningRate: learningRate,
            generator: generator, optimizerFile: optimizerFile, schedule: schedule, best: best,
            epochsWithoutImprovement: epochsWithoutImprovement, history: history, parametersFile: parametersFile,
            averageFile: averageFile, averageUpdates: average?.updates, recipe: model.resumeRecipe,
            bestParametersFile: bestParametersFile)
        let url = resumeDirectory.appendingPathComponent(ResumeState.fileName)
        do {
            try AtomicFile.write([try Self.encoder().encode(state)], to: url)
        } catch let failure as AtomicFile.Failure {
            throw TrainingError.cannotWrite(path: url.path, reason: failure.reason)
        }
        // The state now names the new files: older ones are no longer needed.
        let named = Set([parametersFile, optimizerFile, averageFile, bestParametersFile].compactMap { $0 })
        for file in (try? FileManager.default.contentsOfDirectory(atPath: resumeDirectory.path)) ?? []
        where Self.isEpochFile(file) && !named.contains(file) {
            try? FileManager.default.removeItem(at: resumeDirectory.appendingPathComponent(file))
        }
    }

    private mutating func restore(into model: inout Model) throws {
        let url = resumeDirectory.appendingPathComponent(ResumeState.fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { throw TrainingError.noResumeState(path: url.path) }
        let state: ResumeState
        do {
            state = try Self.decoder().decode(ResumeState.self, from: Data(contentsOf: url))
        } catch {
            throw TrainingError.cannotRead(path: url.path, reason: "not a resume state: \(error)")
        }
        // The state names files of its own folder only; anything else (a path) is not a state this program wrote.
        for file in [state.parametersFile, state.optimizerFile, state.averageFile, state.bestParametersFile].compactMap({ $0 })
        where file.isEmpty || file.contains("/") || file == "." || file == ".." {
            throw TrainingError.cannotRead(path: url.path, reason: "not a resume state: it names '\(file)', which is not a file of \(resumeDirectory.path)")
        }
        var differences = options.resumeIncompatibilities(with: state.options)
        if state.trainExamples != train.count {
            differences.append("training examples \(state.trainExamples) → \(train.count)")
        }
        if let saved = state.recipe {
            let current = model.resumeRecipe
            for name in Set(saved.keys).union(current.keys).sorted() where saved[name] != current[name] {
                differences.append("\(name) \(saved[name] ?? "unset") → \(current[name] ?? "unset")")
            }
        }
        guard differences.isEmpty else { throw TrainingError.resumeMismatch(path: url.path, differences: differences) }
        let parameters = try readParameters(resumeDirectory.appendingPathComponent(state.parametersFile), for: model)
        let optimizerURL = resumeDirectory.appendingPathComponent(state.optimizerFile)
        let optimizer: any Optimizer
        do {
            optimizer = try StateArchive.unarchive(SavedOptimizer.self, from: SafeTensors(contentsOf: optimizerURL)).optimizer
        } catch {
            throw TrainingError.cannotRead(path: optimizerURL.path, reason: "not an optimizer state: \(error)")
        }
        do {
            try optimizer.validateState(for: &model)
            try model.loadParameters(parameters)
        } catch {
            throw TrainingError.cannotRead(path: url.path, reason: "the saved state does not fit this model: \(error)")
        }
        if let decay = options.parameterAveraging {
            // The options match the saved ones (checked above), so the state has an average.
            guard let file = state.averageFile, let updates = state.averageUpdates else {
                throw TrainingError.cannotRead(path: url.path, reason: "the state has no parameter average")
            }
            let saved = try readParameters(resumeDirectory.appendingPathComponent(file), for: model)
            do {
                average = try ParameterAverage(of: model, decay: decay, updates: updates, named: saved)
            } catch {
                throw TrainingError.cannotRead(path: resumeDirectory.appendingPathComponent(file).path,
                                               reason: "the saved average does not fit this model: \(error)")
            }
        }
        self.optimizer = optimizer
        // A state from before epoch-named best files keeps its best parameters in the old file.
        bestParametersFile = state.bestParametersFile ?? (state.best == nil ? nil : ResumeState.legacyBestParametersFileName)
        generator = state.generator
        schedule = state.schedule
        learningRate = state.learningRate
        epochsCompleted = state.epochsCompleted
        best = state.best
        epochsWithoutImprovement = state.epochsWithoutImprovement
        history = state.history
        if isLeader {
            try metrics.rewrite(history)
            try writeChart()
        }
    }

    private func clearResumeState() throws {
        for file in (try? FileManager.default.contentsOfDirectory(atPath: resumeDirectory.path)) ?? []
        where file == ResumeState.fileName || Self.isEpochFile(file) {
            do {
                try FileManager.default.removeItem(at: resumeDirectory.appendingPathComponent(file))
            } catch {
                throw TrainingError.cannotWrite(path: resumeDirectory.appendingPathComponent(file).path,
                                                reason: "cannot remove the old resume state: \(error.localizedDescription)")
            }
        }
    }

    /// The files of `resume/` that belong to one epoch (replaced by a later epoch's), the best
    /// epoch's parameters among them.
    private static func isEpochFile(_ name: String) -> Bool {
        name.hasPrefix("parameters-") || name.hasPrefix("optimizer-") || name.hasPrefix("average-")
            || name.hasPrefix("best-") || name == ResumeState.legacyBestParametersFileName
    }

    private func writeTensors(_ tensors: [(name: String, value: Tensor)], to url: URL) throws {
        var file = SafeTensors(metadata: ["format": "pt"])
        for (name, value) in tensors { file.set(value, named: name) }
        do {
            try file.write(to: url)
        } catch {
            throw TrainingError.cannotWrite(path: url.path, reason: "\(error)")
        }
    }

    private func readParameters(_ url: URL, for model: Model) throws -> [String: Tensor] {
        do {
            let file = try SafeTensors(contentsOf: url)
            var tensors: [String: Tensor] = [:]
            for name in file.names { tensors[name] = try file.floatTensor(name) }
            return tensors
        } catch {
            throw TrainingError.cannotRead(path: url.path, reason: "\(error)")
        }
    }

    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    private static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }

    private static func createDirectory(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.cannotWrite(path: url.path, reason: "cannot create the directory: \(error.localizedDescription)")
        }
    }
}

/// A file's device and inode: what stays the same while a file is written and renamed, and
/// changes when it is removed and another made under its name.
struct FileIdentity: Equatable {
    var device: UInt64
    var inode: UInt64

    /// The identity of the file or directory at `url`, or `nil` when there is none.
    init?(of url: URL) {
        var status = stat()
        guard stat(url.path, &status) == 0 else { return nil }
        device = UInt64(truncatingIfNeeded: status.st_dev)
        inode = UInt64(truncatingIfNeeded: status.st_ino)
    }
}
