import Foundation

/// Everything a run must carry from one epoch to the next, saved in `resume/state.json`
/// after every complete epoch; the current parameters and the optimizer state go beside
/// it in the safetensors files it names (written first, so the state never names a file
/// that is not complete).
struct ResumeState: Codable {
    static let fileName = "state.json"
    static let bestParametersFileName = "best.safetensors"

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

    var generator: SeededGenerator
    var optimizer: any Optimizer
    var schedule: ScheduleState
    var learningRate: Float
    var epochsCompleted = 0
    var best: EpochRecord?
    var bestParameters: [String: Tensor]?
    /// The running average evaluated and saved in place of the parameters, when `options.parameterAveraging` is set.
    var average: ParameterAverage?
    var epochsWithoutImprovement = 0
    var history: [EpochRecord] = []
    let startTime: Double

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
        self.generator = SeededGenerator(seed: options.seed)
        self.optimizer = options.makeOptimizer()
        self.schedule = ScheduleState(options.schedule, learningRate: options.learningRate)
        self.learningRate = options.learningRate
        self.startTime = trainer.clock()
        self.average = options.parameterAveraging.map { ParameterAverage(of: model, decay: $0) }

        try Self.createDirectory(directory)
        try Self.createDirectory(resumeDirectory)
        if resume {
            try restore(into: &model)
        } else {
            try clearResumeState()
            try metrics.rewrite([])
        }
        trainer.progress.trainingStarted(TrainingStart(
            firstEpoch: epochsCompleted + 1, epochs: options.epochs, trainExamples: train.count, devExamples: dev.count,
            trainTokens: lengths.reduce(0, +), parameterCount: model.parameterCount, directory: directory))
        if let warning = BLASReport().warning { trainer.progress.note("warning: \(warning)") }
        if resume {
            trainer.progress.note("resumed after epoch \(epochsCompleted)"
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
            let batches = model.trainingBatches(of: train, batchSize: options.batchSize, generator: &generator)
                .map { Self.checked($0, exampleCount: train.count) } ?? batcher.batches(using: &generator)
            var lossSum = 0.0, lossCount = 0, tokens = 0, done = 0
            var timeIsUp = false
            for batchIndices in batches {
                let batch = batchIndices.map { train[$0] }
                model.zeroGradients()
                let loss = model.accumulateGradients(on: batch, generator: &generator)
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
                tokens += batchIndices.reduce(0) { $0 + batcher.lengths[$1] }
                done += 1
                let elapsed = trainer.clock() - epochStart
                trainer.progress.batchEnded(BatchProgress(
                    epoch: epoch, epochs: options.epochs, batch: done, batches: batches.count, tokens: tokens,
                    loss: lossCount > 0 ? lossSum / Double(lossCount) : 0, seconds: elapsed))
                if let limit = options.timeLimit, trainer.clock() - startTime >= limit {
                    timeIsUp = true
                    break
                }
            }
            let trainSeconds = trainer.clock() - epochStart
            let complete = done == batches.count
            let trainLoss = lossCount > 0 ? lossSum / Double(lossCount) : 0

            trainer.progress.evaluationStarted(epoch: epoch)
            // With averaging, the average is what gets evaluated and saved; training goes on from the parameters.
            average?.exchange(with: &model)
            let evaluation = dev.isEmpty
                ? Evaluation(metricName: "train_loss", metric: trainLoss, higherIsBetter: false)
                : model.evaluate(on: dev)
            let isBest = improves(evaluation)
            let record = EpochRecord(
                epoch: epoch, complete: complete, batches: done, tokens: tokens, trainLoss: trainLoss, evaluation: evaluation,
                learningRate: learningRate, seconds: trainer.clock() - epochStart,
                tokensPerSecond: trainSeconds > 0 ? Double(tokens) / trainSeconds : 0, isBest: isBest)
            if isBest {
                try save(model, directory)
                best = record
                bestParameters = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.value) })
                epochsWithoutImprovement = 0
            } else if complete {
                epochsWithoutImprovement += 1
            }
            average?.exchange(with: &model)
            history.append(record)
            try metrics.append(record)
            try writeChart()
            trainer.progress.epochEnded(record)

            if !complete {
                stopReason = .timeLimit
                break epochs
            }
            epochsCompleted = epoch
            learningRate = schedule.epochEnded(evaluation, options: options, currentRate: learningRate)
            try saveResumeState(model)
            if timeIsUp {
                stopReason = .timeLimit
            } else if let patience = options.patience, epochsWithoutImprovement >= patience, epochsCompleted < options.epochs {
                stopReason = .earlyStopping
                trainer.progress.note("no better dev \(evaluation.metricName) for \(patience) epochs: stopping early")
            } else if let limit = options.timeLimit, trainer.clock() - startTime >= limit, epochsCompleted < options.epochs {
                stopReason = .timeLimit
            }
        }
        if stopReason == .timeLimit { trainer.progress.note("time limit reached: stopping; the best checkpoint is kept") }
        try restoreBest(into: &model)
        return TrainingSummary(stopReason: stopReason, epochsCompleted: epochsCompleted, best: best, history: history,
                               seconds: trainer.clock() - startTime)
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

    /// Leaves the best epoch's parameters in `model` (from memory, or from `resume/best.safetensors`
    /// when the best epoch was trained before a resume).
    private mutating func restoreBest(into model: inout Model) throws {
        if bestParameters == nil, best != nil {
            let url = resumeDirectory.appendingPathComponent(ResumeState.bestParametersFileName)
            bestParameters = try readParameters(url, for: model)
        }
        guard let bestParameters else { return }
        do {
            try model.loadParameters(bestParameters)
        } catch {
            throw TrainingError.cannotRead(path: resumeDirectory.path, reason: "\(error)")
        }
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
            try writeTensors(bestParameters.map { ($0.key, $0.value) }.sorted { $0.0 < $1.0 },
                             to: resumeDirectory.appendingPathComponent(ResumeState.bestParametersFileName))
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
            averageFile: averageFile, averageUpdates: average?.updates, recipe: model.resumeRecipe)
        let url = resumeDirectory.appendingPathComponent(ResumeState.fileName)
        do {
            try AtomicFile.write([try Self.encoder().encode(state)], to: url)
        } catch let failure as AtomicFile.Failure {
            throw TrainingError.cannotWrite(path: url.path, reason: failure.reason)
        }
        // The state now names the new files: older ones are no longer needed.
        for file in (try? FileManager.default.contentsOfDirectory(atPath: resumeDirectory.path)) ?? []
        where Self.isEpochFile(file) && file != parametersFile && file != optimizerFile && file != averageFile {
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
        generator = state.generator
        schedule = state.schedule
        learningRate = state.learningRate
        epochsCompleted = state.epochsCompleted
        best = state.best
        epochsWithoutImprovement = state.epochsWithoutImprovement
        history = state.history
        try metrics.rewrite(history)
        try writeChart()
    }

    private func clearResumeState() throws {
        for file in (try? FileManager.default.contentsOfDirectory(atPath: resumeDirectory.path)) ?? []
        where file == ResumeState.fileName || file == ResumeState.bestParametersFileName
            || Self.isEpochFile(file) {
            do {
                try FileManager.default.removeItem(at: resumeDirectory.appendingPathComponent(file))
            } catch {
                throw TrainingError.cannotWrite(path: resumeDirectory.appendingPathComponent(file).path,
                                                reason: "cannot remove the old resume state: \(error.localizedDescription)")
            }
        }
    }

    /// The files of `resume/` that belong to one epoch (replaced by the next epoch's).
    private static func isEpochFile(_ name: String) -> Bool {
        name.hasPrefix("parameters-") || name.hasPrefix("optimizer-") || name.hasPrefix("average-")
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
