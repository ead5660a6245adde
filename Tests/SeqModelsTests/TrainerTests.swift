import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import GradientChecking
import XCTest
@testable import SeqModels

/// A softmax classifier over fixed features with input dropout: the smallest model that
/// exercises everything the trainer relies on (parameters, gradients, the generator in
/// training, an evaluation). Knobs let tests script the dev metric or poison a batch.
private struct TinyClassifier: TrainableModel {
    struct Example {
        var features: [Float]
        var label: Int
        var length: Int
    }

    final class Script {
        /// Dev metrics returned by `evaluate`, one per call, instead of the accuracy.
        var metrics: [Double] = []
        var evaluations = 0
        /// Training batches run so far (drives the fake clock of the time-limit tests).
        var batches = 0
        /// The 1-based batch (counted over the whole run) whose loss becomes NaN.
        var poisonBatch: Int?
        /// The parameters seen by each training batch (those after the previous step), when recording.
        var recordsParameters = false
        var parametersSeen: [[Float]] = []
    }

    var linear: Linear
    var dropout = Dropout(probability: 0.2)
    var script: Script?

    init(features: Int, classes: Int, seed: UInt64, script: Script? = nil) {
        var generator = SeededGenerator(seed: seed)
        linear = Linear(inputSize: features, outputSize: classes, generator: &generator)
        self.script = script
    }

    mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try linear.visitParameters(prefix: prefix + "linear.", visit)
    }

    func length(of example: Example) -> Int { example.length }

    private func inputs(_ batch: [Example]) -> Tensor {
        Tensor(shape: [batch.count, linear.inputSize], scalars: batch.flatMap(\.features))
    }

    mutating func accumulateGradients(on batch: [Example], generator: inout SeededGenerator) -> BatchLoss {
        let (x, mask) = dropout.forward(inputs(batch), generator: &generator)
        let (loss, gradient) = CrossEntropyLoss()(logits: linear.forward(x), targets: batch.map(\.label))
        _ = linear.backward(input: x, outputGradient: gradient)
        _ = mask
        if let script {
            if script.recordsParameters { script.parametersSeen.append(namedParameters().flatMap(\.value.scalars)) }
            script.batches += 1
            if script.batches == script.poisonBatch { return BatchLoss(sum: .nan, count: batch.count) }
        }
        return BatchLoss(sum: loss * Double(batch.count), count: batch.count)
    }

    func evaluate(on examples: [Example]) -> Evaluation {
        let logits = linear.forward(inputs(examples))
        let (loss, _) = CrossEntropyLoss()(logits: logits, targets: examples.map(\.label))
        var correct = 0
        let classes = linear.outputSize
        for (row, example) in examples.enumerated() {
            let scores = (0..<classes).map { logits[row, $0] }
            if scores.firstIndex(of: scores.max()!) == example.label { correct += 1 }
        }
        var metric = Double(correct) / Double(examples.count)
        if let script, script.evaluations < script.metrics.count {
            metric = script.metrics[script.evaluations]
            script.evaluations += 1
        }
        return Evaluation(metricName: "accuracy", metric: metric, details: ["loss": loss])
    }
}

/// Three Gaussian clusters in 6 dimensions.
private func clusters(count: Int, seed: UInt64) -> [TinyClassifier.Example] {
    var generator = SeededGenerator(seed: seed)
    let centres: [[Float]] = [[2, 0, 0, 1, 0, 0], [0, 2, 0, 0, 1, 0], [0, 0, 2, 0, 0, 1]]
    return (0..<count).map { i in
        let label = i % 3
        let features = centres[label].map { $0 + 1.2 * generator.nextNormal() }
        return TinyClassifier.Example(features: features, label: label, length: 1 + generator.nextInt(below: 5))
    }
}

/// A clock that reads the number of training batches run so far (one "second" each).
private func batchClock(_ script: TinyClassifier.Script) -> () -> Double {
    { Double(script.batches) }
}

final class TrainerTests: XCTestCase {
    private var directories: [URL] = []
    private let train = clusters(count: 96, seed: 1)
    private let dev = clusters(count: 45, seed: 2)

    override func tearDown() {
        for directory in directories { try? FileManager.default.removeItem(at: directory) }
        directories = []
        super.tearDown()
    }

    private func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("trainer-tests-\(UUID().uuidString)", isDirectory: true)
        directories.append(url)
        return url
    }

    private func model(seed: UInt64 = 5, script: TinyClassifier.Script? = nil) -> TinyClassifier {
        TinyClassifier(features: 6, classes: 3, seed: seed, script: script)
    }

    /// Saves like a head would: parameters and a config through `Checkpoint`.
    private func save(_ model: TinyClassifier, _ directory: URL) throws {
        try Checkpoint.save(model, config: ["kind": "tiny"], to: directory)
    }

    private func parameters(_ model: TinyClassifier) -> [[UInt32]] {
        model.namedParameters().map { $0.value.scalars.map(\.bitPattern) }
    }

    private func options(epochs: Int = 6) -> TrainerOptions {
        TrainerOptions(epochs: epochs, batchSize: 16, learningRate: 0.05, clipNorm: 1, seed: 9)
    }

    // MARK: Training

    func testLossDecreasesAndDevAccuracyBeatsChance() throws {
        var model = model()
        let before = model.evaluate(on: dev).metric
        let summary = try Trainer(options: options()).fit(&model, train: train, dev: dev, in: temporaryDirectory(), save: save)
        XCTAssertEqual(summary.history.count, 6)
        XCTAssertEqual(summary.stopReason, .completedEpochs)
        XCTAssertLessThan(summary.history.last!.trainLoss, summary.history.first!.trainLoss * 0.8)
        XCTAssertGreaterThan(summary.best!.devMetric, 0.7)
        XCTAssertGreaterThan(summary.best!.devMetric, before)
        XCTAssertEqual(summary.history.map(\.batches), Array(repeating: 6, count: 6))
        XCTAssertEqual(summary.history.first!.tokens, train.reduce(0) { $0 + $1.length })
    }

    func testSameSeedGivesBitIdenticalWeightsAndOtherSeedDoesNot() throws {
        var a = model(), b = model(), c = model()
        try Trainer(options: options(epochs: 3)).fit(&a, train: train, dev: dev, in: temporaryDirectory(), save: save)
        try Trainer(options: options(epochs: 3)).fit(&b, train: train, dev: dev, in: temporaryDirectory(), save: save)
        var other = options(epochs: 3)
        other.seed = 10
        try Trainer(options: other).fit(&c, train: train, dev: dev, in: temporaryDirectory(), save: save)
        XCTAssertEqual(parameters(a), parameters(b))
        XCTAssertNotEqual(parameters(a), parameters(c))
    }

    func testBestCheckpointIsTheBestDevEpochAndTheModelEndsWithIt() throws {
        var options = self.options(epochs: 8)
        options.optimizer = .sgd
        options.learningRate = 2   // large steps: the dev accuracy goes up and down
        options.clipNorm = nil
        var saves: [(epochs: Int, parameters: [[UInt32]])] = []
        var model = model()
        let directory = temporaryDirectory()
        let reporter = RecordingProgress()
        let summary = try Trainer(options: options, progress: reporter).fit(&model, train: train, dev: dev, in: directory) { m, url in
            saves.append((reporter.records.count + 1, self.parameters(m)))
            try self.save(m, url)
        }
        let metrics = summary.history.map(\.devMetric)
        XCTAssertTrue(zip(metrics, metrics.dropFirst()).contains { $0 > $1 }, "the premise: dev accuracy also falls \(metrics)")
        let bestEpoch = metrics.indices.max { metrics[$0] < metrics[$1] || (metrics[$0] == metrics[$1] && $0 > $1) }! + 1
        XCTAssertEqual(summary.best?.epoch, bestEpoch, "the first epoch with the highest dev accuracy \(metrics)")
        XCTAssertEqual(saves.map(\.epochs), summary.history.filter(\.isBest).map(\.epoch))
        XCTAssertEqual(saves.last?.epochs, bestEpoch)
        XCTAssertEqual(parameters(model), saves.last?.parameters, "fit leaves the best epoch's weights in the model")
        var reloaded = self.model(seed: 77)
        try Checkpoint.loadParameters(into: &reloaded, from: directory)
        XCTAssertEqual(parameters(reloaded), saves.last?.parameters)
        XCTAssertEqual(reloaded.evaluate(on: dev).metric, summary.best?.devMetric)
    }

    func testEarlyStoppingAfterPatienceEpochsWithoutABetterMetric() throws {
        let script = TinyClassifier.Script()
        script.metrics = [0.5, 0.6, 0.55, 0.6, 0.58, 0.9, 0.95]
        var options = self.options(epochs: 7)
        options.patience = 3
        var model = model(script: script)
        let summary = try Trainer(options: options).fit(&model, train: train, dev: dev, in: temporaryDirectory(), save: save)
        XCTAssertEqual(summary.stopReason, .earlyStopping)
        XCTAssertEqual(summary.epochsCompleted, 5, "epochs 3, 4, 5 bring nothing better than 0.6 (an equal metric is no improvement)")
        XCTAssertEqual(summary.best?.epoch, 2)
    }

    func testANaNDevMetricNeverBlocksLaterCheckpoints() throws {
        let script = TinyClassifier.Script()
        script.metrics = [.nan, 0.5, .nan, 0.4]
        var model = model(script: script)
        let summary = try Trainer(options: options(epochs: 4)).fit(&model, train: train, dev: dev, in: temporaryDirectory(), save: save)
        XCTAssertEqual(summary.history.map(\.isBest), [true, true, false, false])
        XCTAssertEqual(summary.best?.epoch, 2)
    }

    func testPlateauScheduleHalvesTheRateAfterPatienceBadEpochs() throws {
        let script = TinyClassifier.Script()
        script.metrics = [0.5, 0.4, 0.45, 0.6, 0.5, 0.5]
        var options = self.options(epochs: 6)
        options.schedule = .plateau(factor: 0.5, patience: 1)
        var model = model(script: script)
        let summary = try Trainer(options: options).fit(&model, train: train, dev: dev, in: temporaryDirectory(), save: save)
        // Two epochs in a row without a higher accuracy (2, 3) exceed patience 1: epoch 4 runs at half the rate;
        // epochs 5, 6 are bad again: the rate after epoch 6 would halve once more.
        XCTAssertEqual(summary.history.map(\.learningRate), [0.05, 0.05, 0.05, 0.025, 0.025, 0.025])
    }

    func testStepScheduleDecaysEveryStepSizeEpochs() throws {
        var options = self.options(epochs: 5)
        options.schedule = .step(stepSize: 2, gamma: 0.1)
        var model = model()
        let summary = try Trainer(options: options).fit(&model, train: train, dev: dev, in: temporaryDirectory(), save: save)
        XCTAssertEqual(summary.history.map(\.learningRate), [0.05, 0.05, Float(0.05 * 0.1), Float(0.05 * 0.1), Float(0.05 * 0.1 * 0.1)])
    }

    // MARK: Resume

    /// Runs 6 epochs straight, and 3 + resume to 6 from a differently initialised model.
    func testResumedRunReachesBitIdenticalWeights() throws {
        var options = self.options(epochs: 6)
        options.schedule = .plateau(factor: 0.5, patience: 0)
        options.patience = 10
        var straight = model()
        let straightDirectory = temporaryDirectory()
        let straightSummary = try Trainer(options: options).fit(&straight, train: train, dev: dev, in: straightDirectory, save: save)

        let directory = temporaryDirectory()
        var first = model()
        var shortOptions = options
        shortOptions.epochs = 3
        try Trainer(options: shortOptions).fit(&first, train: train, dev: dev, in: directory, save: save)
        var resumed = model(seed: 1234)
        let summary = try Trainer(options: options).fit(&resumed, train: train, dev: dev, in: directory, resume: true, save: save)

        XCTAssertEqual(parameters(resumed), parameters(straight))
        XCTAssertEqual(summary.epochsCompleted, 6)
        XCTAssertEqual(summary.history.map(\.trainLoss), straightSummary.history.map(\.trainLoss))
        XCTAssertEqual(summary.history.map(\.learningRate), straightSummary.history.map(\.learningRate))
        XCTAssertEqual(summary.best?.epoch, straightSummary.best?.epoch)
        XCTAssertEqual(try lastWeights(directory, epoch: 6), try lastWeights(straightDirectory, epoch: 6),
                       "the last epoch's weights match too, not only the best")
        XCTAssertEqual(try MetricsLog(directory: directory).read().map(\.epoch), [1, 2, 3, 4, 5, 6])
    }

    // MARK: Parameter averaging

    func testParameterAverageFollowsItsDecayScheduleAndSwapsWithTheModel() throws {
        var model = model()
        let start = model.namedParameters().flatMap(\.value.scalars)
        var average = ParameterAverage(of: model, decay: 0.9)
        var expected = start.map(Double.init)
        var decays: [Double] = []
        for step in 1...100 {
            let values = model.namedParameters().map { ($0.name, Tensor(shape: $0.value.shape, scalars: $0.value.scalars.map { $0 + Float(step % 7) * 0.01 })) }
            try model.loadParameters(Dictionary(uniqueKeysWithValues: values))
            let d = average.nextDecay
            decays.append(d)
            average.update(from: &model)
            let current = model.namedParameters().flatMap(\.value.scalars)
            expected = zip(expected, current).map { d * $0 + (1 - d) * Double($1) }
        }
        XCTAssertEqual(decays[0], 0.1, accuracy: 1e-12, "the first update mostly takes the parameters")
        XCTAssertEqual(decays[1], 2.0 / 11, accuracy: 1e-12)
        XCTAssertEqual(decays[99], 0.9, "capped at the decay")
        XCTAssertEqual(average.updates, 100)
        let trained = model.namedParameters().flatMap(\.value.scalars)
        average.exchange(with: &model)
        let averaged = model.namedParameters().flatMap(\.value.scalars)
        for (a, e) in zip(averaged, expected) { XCTAssertEqual(Double(a), e, accuracy: 1e-5) }
        XCTAssertNotEqual(averaged, trained)
        average.exchange(with: &model)
        XCTAssertEqual(model.namedParameters().flatMap(\.value.scalars), trained, "a second exchange restores the parameters")
    }

    /// With averaging, the dev set sees and the checkpoint holds the average of the parameters
    /// after every step, while training itself follows the same path as without it.
    func testAveragedRunEvaluatesAndSavesTheAverageOfEveryStep() throws {
        var options = self.options(epochs: 1)
        options.optimizer = .sgd
        options.learningRate = 0.5
        var plain = model()
        try Trainer(options: options).fit(&plain, train: train, dev: dev, in: temporaryDirectory(), save: save)

        options.parameterAveraging = 0.999
        let script = TinyClassifier.Script()
        script.recordsParameters = true
        var averaged = model(script: script)
        let directory = temporaryDirectory()
        let summary = try Trainer(options: options).fit(&averaged, train: train, dev: dev, in: directory, save: save)

        // Steps 1…6 start from parameters 0…5; the plain run ends at parameters 6.
        let steps = script.parametersSeen + [plain.namedParameters().flatMap(\.value.scalars)]
        XCTAssertEqual(steps.count, 7)
        var expected = steps[0].map(Double.init)
        for n in 0..<6 {
            let d = min(0.999, Double(1 + n) / Double(10 + n))
            expected = zip(expected, steps[n + 1]).map { d * $0 + (1 - d) * Double($1) }
        }
        let result = averaged.namedParameters().flatMap(\.value.scalars)
        for (a, e) in zip(result, expected) { XCTAssertEqual(Double(a), e, accuracy: 1e-5) }
        XCTAssertNotEqual(result, steps[6], "the model ends with the average, not the last parameters")
        var reloaded = model(seed: 77)
        try Checkpoint.loadParameters(into: &reloaded, from: directory)
        XCTAssertEqual(parameters(reloaded), parameters(averaged))
        XCTAssertEqual(reloaded.evaluate(on: dev).metric, summary.best?.devMetric, "the dev metric is the average's")
    }

    func testAveragedRunResumesToTheSameWeightsAndRefusesAnotherDecay() throws {
        var options = self.options(epochs: 4)
        options.parameterAveraging = 0.9
        var straight = model()
        let straightSummary = try Trainer(options: options).fit(&straight, train: train, dev: dev, in: temporaryDirectory(), save: save)

        let directory = temporaryDirectory()
        var first = model()
        var shortOptions = options
        shortOptions.epochs = 2
        try Trainer(options: shortOptions).fit(&first, train: train, dev: dev, in: directory, save: save)
        var other = options
        other.parameterAveraging = nil
        var refused = model()
        XCTAssertThrowsError(try Trainer(options: other).fit(&refused, train: train, dev: dev, in: directory, resume: true, save: save)) {
            XCTAssertTrue("\($0)".contains("average-decay 0.9 → none"), "\($0)")
        }
        var resumed = model(seed: 1234)
        let summary = try Trainer(options: options).fit(&resumed, train: train, dev: dev, in: directory, resume: true, save: save)
        XCTAssertEqual(parameters(resumed), parameters(straight))
        XCTAssertEqual(summary.history.map(\.devMetric), straightSummary.history.map(\.devMetric))
        XCTAssertEqual(summary.history.map(\.evaluation.details), straightSummary.history.map(\.evaluation.details))
    }

    /// A cosine over 100 epochs with a time limit that four epochs fill anneals as the cosine over
    /// four epochs does: the same rates and the same weights, bit for bit.
    func testCosineOverATimeLimitThatFourEpochsFillIsTheCosineOverFourEpochs() throws {
        var overEpochs = options(epochs: 4)
        overEpochs.schedule = .cosine(epochs: 4, minimumFactor: 0)
        var byEpochs = model()
        let epochsSummary = try Trainer(options: overEpochs).fit(&byEpochs, train: train, dev: dev, in: temporaryDirectory(), save: save)

        var overTime = options(epochs: 100)
        overTime.schedule = .cosine(epochs: 100, minimumFactor: 0)
        overTime.timeLimit = 24   // 6 batches an epoch, one second a batch
        let script = TinyClassifier.Script()
        var byTime = model(script: script)
        let timeSummary = try Trainer(options: overTime, clock: batchClock(script))
            .fit(&byTime, train: train, dev: dev, in: temporaryDirectory(), save: save)

        XCTAssertEqual(timeSummary.stopReason, .timeLimit)
        XCTAssertEqual(timeSummary.epochsCompleted, 4)
        let expected = (0..<4).map { Float(0.05 * (1 + cos(Double.pi * Double($0) / 4)) / 2) }
        XCTAssertEqual(epochsSummary.history.map(\.learningRate), expected)
        XCTAssertEqual(timeSummary.history.map(\.learningRate), expected)
        XCTAssertEqual(parameters(byTime), parameters(byEpochs))
    }

    /// A run cut by the time limit in the middle of epoch 4 resumes from epoch 3's state.
    func testRunCutByTheTimeLimitResumesToTheSameWeights() throws {
        var options = self.options(epochs: 5)
        options.schedule = .step(stepSize: 2, gamma: 0.5)
        var straight = model()
        let straightDirectory = temporaryDirectory()
        let straightSummary = try Trainer(options: options).fit(&straight, train: train, dev: dev, in: straightDirectory, save: save)

        let directory = temporaryDirectory()
        let script = TinyClassifier.Script()
        var cut = model(script: script)
        var limited = options
        limited.timeLimit = 20.5   // 6 batches per epoch: stops after batch 3 of epoch 4
        let cutSummary = try Trainer(options: limited, clock: batchClock(script)).fit(&cut, train: train, dev: dev, in: directory, save: save)
        XCTAssertEqual(cutSummary.stopReason, .timeLimit)
        XCTAssertEqual(cutSummary.epochsCompleted, 3)
        XCTAssertEqual(cutSummary.history.last?.complete, false)
        XCTAssertEqual(cutSummary.history.last?.batches, 3)

        var resumed = model(seed: 99)
        let summary = try Trainer(options: options).fit(&resumed, train: train, dev: dev, in: directory, resume: true, save: save)
        XCTAssertEqual(summary.epochsCompleted, 5)
        XCTAssertEqual(summary.history.map(\.complete), [true, true, true, true, true], "the cut epoch is trained again")
        XCTAssertEqual(parameters(resumed), parameters(straight))
        XCTAssertEqual(summary.history.map(\.trainLoss), straightSummary.history.map(\.trainLoss))
        XCTAssertEqual(try lastWeights(directory, epoch: 5), try lastWeights(straightDirectory, epoch: 5))
    }

    /// The parameters after `epoch` as saved for resuming (the model ends with the best epoch's instead).
    private func lastWeights(_ directory: URL, epoch: Int) throws -> [String: [UInt32]] {
        let file = try SafeTensors(contentsOf: directory.appendingPathComponent("resume/parameters-\(epoch).safetensors"))
        return try Dictionary(uniqueKeysWithValues: file.names.map { ($0, try file.floatTensor($0).scalars.map(\.bitPattern)) })
    }

    func testResumeRefusesChangedOptionsAndMissingState() throws {
        let directory = temporaryDirectory()
        var model = model()
        XCTAssertThrowsError(try Trainer(options: options()).fit(&model, train: train, dev: dev, in: directory, resume: true, save: save)) {
            guard case .noResumeState = $0 as? TrainingError else { return XCTFail("\($0)") }
        }
        try Trainer(options: options(epochs: 1)).fit(&model, train: train, dev: dev, in: directory, save: save)
        var changed = options()
        changed.seed = 3
        changed.batchSize = 8
        XCTAssertThrowsError(try Trainer(options: changed).fit(&model, train: train, dev: dev, in: directory, resume: true, save: save)) {
            let description = "\($0)"
            XCTAssertTrue(description.contains("seed 9 → 3") && description.contains("batch-size 16 → 8"), description)
        }
    }

    /// A state naming a file outside `resume/` (edited, or not written by SeqModels) is refused
    /// before anything is read.
    func testResumeRefusesAStateThatNamesAFileOutsideItsFolder() throws {
        let directory = temporaryDirectory()
        var model = model()
        try Trainer(options: options(epochs: 1)).fit(&model, train: train, dev: dev, in: directory, save: save)
        let stateURL = directory.appendingPathComponent("resume/state.json")
        let state = try String(contentsOf: stateURL, encoding: .utf8)
        XCTAssertTrue(state.contains("\"parametersFile\":\"parameters-1.safetensors\""), state)
        try state.replacingOccurrences(of: "\"parametersFile\":\"parameters-1.safetensors\"",
                                       with: "\"parametersFile\":\"../model.safetensors\"")
            .write(to: stateURL, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Trainer(options: options(epochs: 2)).fit(&model, train: train, dev: dev, in: directory, resume: true, save: save)) {
            guard case let .cannotRead(path, reason) = $0 as? TrainingError else { return XCTFail("\($0)") }
            XCTAssertEqual(path, stateURL.path)
            XCTAssertTrue(reason.contains("names '../model.safetensors', which is not a file of"), reason)
        }
    }

    /// The best epoch's parameters are kept under that epoch's name, so a save cut short after
    /// them and before the state never leaves the state's best paired with another epoch's
    /// parameters; a later best replaces them.
    func testResumeFolderKeepsTheStatesFilesOnlyWithTheBestEpochNamed() throws {
        let directory = temporaryDirectory()
        var model = model()
        var options = self.options(epochs: 3)
        options.patience = 10
        let summary = try Trainer(options: options).fit(&model, train: train, dev: dev, in: directory, save: save)
        let best = try XCTUnwrap(summary.best?.epoch)
        let resume = directory.appendingPathComponent("resume")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: resume.path).sorted(),
                       ["best-\(best).safetensors", "optimizer-3.safetensors", "parameters-3.safetensors", "state.json"])
        let state = try String(contentsOf: resume.appendingPathComponent("state.json"), encoding: .utf8)
        XCTAssertTrue(state.contains("\"bestParametersFile\":\"best-\(best).safetensors\""), state)
        // The best parameters on disk are the model's (the run ends with the best epoch's).
        let saved = try SafeTensors(contentsOf: resume.appendingPathComponent("best-\(best).safetensors"))
        for (name, value) in model.namedParameters() { XCTAssertEqual(try saved.floatTensor(name), value, name) }
    }

    /// A state written before the best parameters were named after their epoch (`best.safetensors`,
    /// no `bestParametersFile`) still resumes to the model of a run never interrupted.
    func testAnOlderStateWithItsBestParametersInBestSafetensorsStillResumes() throws {
        var options = self.options(epochs: 5)
        options.patience = 10
        var straight = model()
        try Trainer(options: options).fit(&straight, train: train, dev: dev, in: temporaryDirectory(), save: save)

        let directory = temporaryDirectory()
        var first = model()
        var short = options
        short.epochs = 3
        let summary = try Trainer(options: short).fit(&first, train: train, dev: dev, in: directory, save: save)
        let best = try XCTUnwrap(summary.best?.epoch)
        let resume = directory.appendingPathComponent("resume")
        try FileManager.default.moveItem(at: resume.appendingPathComponent("best-\(best).safetensors"),
                                         to: resume.appendingPathComponent("best.safetensors"))
        let stateURL = resume.appendingPathComponent("state.json")
        var state = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: stateURL)) as? [String: Any])
        XCTAssertNotNil(state.removeValue(forKey: "bestParametersFile"))
        try JSONSerialization.data(withJSONObject: state).write(to: stateURL)

        var resumed = model(seed: 1234)
        try Trainer(options: options).fit(&resumed, train: train, dev: dev, in: directory, resume: true, save: save)
        XCTAssertEqual(parameters(resumed), parameters(straight))
    }

    /// Temporary files of atomic writes cut short by a kill (`.NAME.tmp-PID-NUMBER`) are removed
    /// when the next run starts; files that only look similar are left alone.
    func testLeftoversOfAnInterruptedSaveAreRemovedWhenTheNextRunStarts() throws {
        let directory = temporaryDirectory()
        let resume = directory.appendingPathComponent("resume")
        try FileManager.default.createDirectory(at: resume, withIntermediateDirectories: true)
        let leftovers = [directory.appendingPathComponent(".model.safetensors.tmp-4242-1234567890"),
                         resume.appendingPathComponent(".state.json.tmp-17-99")]
        let kept = [directory.appendingPathComponent("notes.tmp-1-2"), directory.appendingPathComponent(".notes.tmp-x-2"),
                    directory.appendingPathComponent(".tmp-1-2"), resume.appendingPathComponent(".state.json.tmp-17")]
        for url in leftovers + kept { try Data("x".utf8).write(to: url) }
        var model = model()
        try Trainer(options: options(epochs: 1)).fit(&model, train: train, dev: dev, in: directory, save: save)
        for url in leftovers { XCTAssertFalse(FileManager.default.fileExists(atPath: url.path), url.lastPathComponent) }
        for url in kept { XCTAssertTrue(FileManager.default.fileExists(atPath: url.path), url.lastPathComponent) }
    }

    /// The optimizer state goes through `StateArchive` (floats as tensors, the rest as JSON):
    /// every optimizer must come back equal, including empty buffers and all hyperparameters.
    func testOptimizerStateArchiveRoundTripsExactly() throws {
        var generator = SeededGenerator(seed: 3)
        var model = model()
        let optimizers: [any Optimizer] = [
            Adam(learningRate: 0.01, weightDecay: 0.1), Adam.adamW(learningRate: 0.02),
            SGD(learningRate: 0.1, momentum: 0.9, nesterov: true), SGD(learningRate: 0.1),
            RMSProp(learningRate: 0.01, momentum: 0.5, centered: true), RMSProp(learningRate: 0.01),
        ]
        for var optimizer in optimizers {
            for _ in 0..<3 {
                model.visitParameters(prefix: "") { _, p in p.gradient = .normal(p.value.shape, using: &generator) }
                optimizer.step(&model)
            }
            let file = try SafeTensors(data: StateArchive.archive(SavedOptimizer(optimizer)).serialized())
            let back = try StateArchive.unarchive(SavedOptimizer.self, from: file).optimizer
            switch (optimizer, back) {
            case let (a as Adam, b as Adam): XCTAssertEqual(a, b)
            case let (a as SGD, b as SGD): XCTAssertEqual(a, b)
            case let (a as RMSProp, b as RMSProp): XCTAssertEqual(a, b)
            default: XCTFail("\(type(of: optimizer)) came back as \(type(of: back))")
            }
        }
    }

    // MARK: Stopping

    func testNonFiniteLossStopsWithItsEpochAndBatchAndKeepsTheLastGoodCheckpoint() throws {
        let script = TinyClassifier.Script()
        script.poisonBatch = 6 * 2 + 4   // epoch 3, batch 4
        let directory = temporaryDirectory()
        var model = model(script: script)
        var lastSaved: [[UInt32]] = []
        XCTAssertThrowsError(try Trainer(options: options()).fit(&model, train: train, dev: dev, in: directory) { m, url in
            lastSaved = self.parameters(m)
            try self.save(m, url)
        }) { error in
            guard case let .nonFiniteLoss(epoch, batch, batches, quantity, _, lastCheckpointEpoch, _) = error as? TrainingError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual([epoch, batch, batches], [3, 4, 6])
            XCTAssertEqual(quantity, "loss")
            XCTAssertNotNil(lastCheckpointEpoch)
            XCTAssertTrue("\(error)".contains("epoch 3, batch 4 of 6"), "\(error)")
        }
        var reloaded = self.model(seed: 42)
        try Checkpoint.loadParameters(into: &reloaded, from: directory)
        XCTAssertEqual(parameters(reloaded), lastSaved)
        XCTAssertTrue(reloaded.namedParameters().allSatisfy { $0.value.isFinite })
        XCTAssertEqual(try MetricsLog(directory: directory).read().count, 2)
    }

    func testTimeLimitStopsBetweenBatchesAndEvaluatesTheCutEpoch() throws {
        let script = TinyClassifier.Script()
        var options = self.options(epochs: 10)
        options.timeLimit = 7.5   // stops after batch 8: epoch 2, batch 2
        var model = model(script: script)
        var saves = 0
        let summary = try Trainer(options: options, clock: batchClock(script)).fit(&model, train: train, dev: dev, in: temporaryDirectory()) {
            saves += 1
            try self.save($0, $1)
        }
        XCTAssertEqual(script.batches, 8)
        XCTAssertEqual(summary.stopReason, .timeLimit)
        XCTAssertEqual(summary.epochsCompleted, 1)
        XCTAssertEqual(summary.history.map(\.complete), [true, false])
        XCTAssertEqual(summary.history.map(\.batches), [6, 2])
        XCTAssertGreaterThanOrEqual(saves, 1)
    }

    // MARK: Files and progress

    func testMetricsLinesParseAsJSONWithOneLinePerEpoch() throws {
        let directory = temporaryDirectory()
        var model = model()
        let summary = try Trainer(options: options(epochs: 4)).fit(&model, train: train, dev: dev, in: directory, save: save)
        let text = try String(contentsOf: directory.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 4)
        for (index, line) in lines.enumerated() {
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            XCTAssertEqual(object["epoch"] as? Int, index + 1)
            XCTAssertEqual(object["metric_name"] as? String, "accuracy")
            for key in ["train_loss", "dev_metric", "learning_rate", "seconds", "tokens_per_second"] {
                XCTAssertNotNil(object[key] as? Double, "\(key) in \(line)")
            }
            XCTAssertNotNil((object["dev_details"] as? [String: Any])?["loss"])
        }
        XCTAssertEqual(try MetricsLog(directory: directory).read(), summary.history)
        // A fresh run in the same directory starts a fresh log.
        try Trainer(options: options(epochs: 1)).fit(&model, train: train, dev: dev, in: directory, save: save)
        XCTAssertEqual(try MetricsLog(directory: directory).read().count, 1)
    }

    func testCurvesSVGIsWellFormedXMLWithOnePointPerEpochAndCurve() throws {
        let directory = temporaryDirectory()
        var model = model()
        try Trainer(options: options(epochs: 5)).fit(&model, train: train, dev: dev, in: directory, save: save)
        let data = try Data(contentsOf: directory.appendingPathComponent("curves.svg"))
        let counter = ClassCounter()
        let parser = XMLParser(data: data)
        parser.delegate = counter
        XCTAssertTrue(parser.parse(), "curves.svg is not well-formed: \(String(describing: parser.parserError))")
        XCTAssertEqual(counter.root, "svg")
        XCTAssertEqual(counter.counts["train-point"], 5)
        XCTAssertEqual(counter.counts["dev-point"], 5)
        XCTAssertEqual(counter.counts["best"], 1)
    }

    func testConsoleProgressPrintsOneLinePerEpochWhenNotATerminal() throws {
        var plain = ""
        var live = ""
        var model = model()
        try Trainer(options: options(epochs: 2), progress: ConsoleProgress(interactive: false) { plain += $0 })
            .fit(&model, train: train, dev: dev, in: temporaryDirectory(), save: save)
        try Trainer(options: options(epochs: 2), progress: ConsoleProgress(interactive: true, minimumRedrawInterval: 0) { live += $0 })
            .fit(&model, train: train, dev: dev, in: temporaryDirectory(), save: save)
        let lines = plain.split(separator: "\n")
        XCTAssertEqual(lines.filter { $0.hasPrefix("epoch ") }.count, 2, plain)
        XCTAssertTrue(lines[1].hasPrefix("epoch 1/2  loss ") && lines[1].contains("dev accuracy") && lines[1].contains("(loss "), plain)
        XCTAssertFalse(plain.contains("\r"))
        XCTAssertTrue(live.contains("\r\u{1B}[K") && live.contains("ETA") && live.contains("tok/s") && live.contains("6/6"), live)
    }

    func testInvalidOptionsAreRejectedWithTheFlagName() {
        var model = model()
        var bad = options()
        bad.learningRate = -1
        XCTAssertThrowsError(try Trainer(options: bad).fit(&model, train: train, dev: dev, in: temporaryDirectory(), save: save)) {
            XCTAssertEqual("\($0)", "--learning-rate must be a positive number, got -1.0")
        }
        var badDecay = options()
        badDecay.parameterAveraging = 1
        XCTAssertThrowsError(try Trainer(options: badDecay).fit(&model, train: train, dev: dev, in: temporaryDirectory(), save: save)) {
            XCTAssertEqual("\($0)", "--average-decay must be in (0, 1), got 1.0")
        }
        XCTAssertThrowsError(try Trainer(options: options()).fit(&model, train: [], dev: dev, in: temporaryDirectory(), save: save)) {
            XCTAssertEqual($0 as? TrainingError, .emptyTrainingSet)
        }
    }
}

/// Records epoch ends (to know which epoch a save belongs to).
private final class RecordingProgress: TrainingProgressReporter {
    var records: [EpochRecord] = []
    func epochEnded(_ record: EpochRecord) { records.append(record) }
}

/// Counts elements by their `class` attribute and remembers the root element.
private final class ClassCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]
    var root: String?
    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        if root == nil { root = elementName }
        if let name = attributeDict["class"] { counts[name, default: 0] += 1 }
    }
}

/// A softmax classifier whose batches carry a state: each batch's inputs are scaled by
/// `1 + tanh(previous batch loss) / 2`, so the weights depend on what is carried and on
/// its reset at every epoch. Its batches are fixed (`order`), as consecutive BPTT's lanes.
private struct CarryingClassifier: TrainableModel {
    typealias Example = TinyClassifier.Example

    final class Log {
        var batches: [[Int]] = []
        var epochsBegun = 0
        /// Training batches run so far (drives the fake clock).
        var batchesRun = 0
    }

    var linear: Linear
    let order: [[Int]]
    /// Example index by its first feature (distinct Gaussian draws).
    let indexOfFirstFeature: [Float: Int]
    let log: Log
    var carried: Float?

    init(examples: [Example], order: [[Int]], seed: UInt64, log: Log) {
        var generator = SeededGenerator(seed: seed)
        linear = Linear(inputSize: 6, outputSize: 3, generator: &generator)
        self.order = order
        indexOfFirstFeature = Dictionary(uniqueKeysWithValues: examples.enumerated().map { ($0.element.features[0], $0.offset) })
        self.log = log
    }

    mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try linear.visitParameters(prefix: prefix + "linear.", visit)
    }

    func length(of example: Example) -> Int { example.length }

    func trainingBatches(of examples: [Example], batchSize: Int, generator: inout SeededGenerator) -> [[Int]]? { order }

    mutating func beginEpoch() {
        carried = nil
        log.epochsBegun += 1
    }

    mutating func accumulateGradients(on batch: [Example], generator: inout SeededGenerator) -> BatchLoss {
        let scale = 1 + Foundation.tanh(carried ?? 0) / 2
        let x = Tensor(shape: [batch.count, 6], scalars: batch.flatMap { $0.features.map { $0 * scale } })
        let (loss, gradient) = CrossEntropyLoss()(logits: linear.forward(x), targets: batch.map(\.label))
        _ = linear.backward(input: x, outputGradient: gradient)
        carried = Float(loss)
        log.batches.append(batch.map { indexOfFirstFeature[$0.features[0]]! })
        log.batchesRun += 1
        return BatchLoss(sum: loss * Double(batch.count), count: batch.count)
    }

    func evaluate(on examples: [Example]) -> Evaluation {
        let x = Tensor(shape: [examples.count, 6], scalars: examples.flatMap(\.features))
        let (loss, _) = CrossEntropyLoss()(logits: linear.forward(x), targets: examples.map(\.label))
        return Evaluation(metricName: "loss", metric: loss, higherIsBetter: false)
    }
}

extension TrainerTests {
    /// Batches of 10 examples in reverse index order (the last one holds 6).
    private var reverseOrder: [[Int]] {
        let indices = Array(train.indices.reversed())
        return stride(from: 0, to: indices.count, by: 10).map { Array(indices[$0..<min($0 + 10, indices.count)]) }
    }

    private func carrying(seed: UInt64 = 5, log: CarryingClassifier.Log = .init()) -> CarryingClassifier {
        CarryingClassifier(examples: train, order: reverseOrder, seed: seed, log: log)
    }

    private func saveCarrying(_ model: CarryingClassifier, _ directory: URL) throws {
        try Checkpoint.save(model, config: ["kind": "carrying"], to: directory)
    }

    private func bitPatterns(_ model: CarryingClassifier) -> [[UInt32]] {
        model.namedParameters().map { $0.value.scalars.map(\.bitPattern) }
    }

    func testAModelsOwnBatchesAreTrainedInItsOrderEveryEpochAfterItBegins() throws {
        let log = CarryingClassifier.Log()
        var model = carrying(log: log)
        let summary = try Trainer(options: options(epochs: 2)).fit(&model, train: train, dev: dev, in: temporaryDirectory(),
                                                                  save: saveCarrying)
        XCTAssertEqual(log.batches, reverseOrder + reverseOrder)
        XCTAssertEqual(log.epochsBegun, 2)
        XCTAssertEqual(summary.history.map(\.batches), [10, 10])
        XCTAssertEqual(summary.history.map(\.tokens), [train.reduce(0) { $0 + $1.length }, train.reduce(0) { $0 + $1.length }])
    }

    func testCarriedStateIsResetEachEpochSoACutRunResumesToTheSameWeights() throws {
        var options = self.options(epochs: 4)
        options.schedule = .step(stepSize: 1, gamma: 0.7)
        var straight = carrying()
        let straightDirectory = temporaryDirectory()
        let straightSummary = try Trainer(options: options).fit(&straight, train: train, dev: dev, in: straightDirectory,
                                                                save: saveCarrying)

        // Cut in the middle of epoch 3 (10 batches an epoch), then resumed.
        let log = CarryingClassifier.Log()
        var cut = carrying(log: log)
        var limited = options
        limited.timeLimit = 24.5
        let directory = temporaryDirectory()
        let cutSummary = try Trainer(options: limited, clock: { Double(log.batchesRun) })
            .fit(&cut, train: train, dev: dev, in: directory, save: saveCarrying)
        XCTAssertEqual(cutSummary.epochsCompleted, 2)
        XCTAssertEqual(cutSummary.history.last?.batches, 5)

        var resumed = carrying(seed: 77)
        let summary = try Trainer(options: options).fit(&resumed, train: train, dev: dev, in: directory, resume: true,
                                                        save: saveCarrying)
        XCTAssertEqual(summary.history.map(\.trainLoss), straightSummary.history.map(\.trainLoss))
        XCTAssertEqual(bitPatterns(resumed), bitPatterns(straight))
        XCTAssertEqual(try lastWeights(directory, epoch: 4), try lastWeights(straightDirectory, epoch: 4))
    }
}

/// Data parallelism (`Trainer.processGroup`) with a group of threads standing for processes.
final class DataParallelTrainerTests: XCTestCase {
    private let train = clusters(count: 96, seed: 1)
    private let dev = clusters(count: 45, seed: 2)

    private func directory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("data-parallel-\(UUID().uuidString)", isDirectory: true)
    }

    private static func options() -> TrainerOptions {
        TrainerOptions(epochs: 4, batchSize: 16, learningRate: 0.05, clipNorm: 1, seed: 9)
    }

    /// Trains a fresh model with dropout `dropout`, alone or as `rank` of `group`; returns its parameters.
    private static func trained(dropout: Float, train: [TinyClassifier.Example], dev: [TinyClassifier.Example], in directory: URL,
                                group: (any ProcessGroup)?) throws -> (parameters: [Float], summary: TrainingSummary) {
        var model = TinyClassifier(features: 6, classes: 3, seed: 5)
        model.dropout = Dropout(probability: dropout)
        let summary = try Trainer(options: options(), processGroup: group).fit(&model, train: train, dev: dev, in: directory) {
            try Checkpoint.save($0, config: ["kind": "tiny"], to: $1)
        }
        return (model.namedParameters().flatMap(\.value.scalars), summary)
    }

    func testAGroupTrainsTheModelOneProcessTrains() throws {
        let train = self.train, dev = self.dev
        let aloneDirectory = directory(), sharedDirectory = directory()
        defer { [aloneDirectory, sharedDirectory].forEach { try? FileManager.default.removeItem(at: $0) } }
        let alone = try Self.trained(dropout: 0, train: train, dev: dev, in: aloneDirectory, group: nil)
        for size in [2, 3] {
            let members = try LocalProcessGroup.run(size: size) { group in
                try Self.trained(dropout: 0, train: train, dev: dev, in: sharedDirectory, group: group)
            }
            for member in members {
                XCTAssertEqual(member.parameters, members[0].parameters, "every member holds the same parameters")
                XCTAssertEqual(member.summary.history.map(\.devMetric), alone.summary.history.map(\.devMetric))
                XCTAssertEqual(member.summary.history.map(\.tokens), alone.summary.history.map(\.tokens))
                for (a, b) in zip(member.summary.history, alone.summary.history) {
                    XCTAssertEqual(a.trainLoss, b.trainLoss, accuracy: 1e-5)
                }
            }
            let difference = zip(members[0].parameters, alone.parameters).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(difference, 1e-5, "\(size) members")
            XCTAssertGreaterThan(zip(alone.parameters, TinyClassifier(features: 6, classes: 3, seed: 5)
                .namedParameters().flatMap(\.value.scalars)).map { abs($0 - $1) }.max() ?? 0, 0.1, "training moved the parameters")
        }
        // Rank 0 alone wrote the directory: the checkpoint, the metrics, the resume state.
        XCTAssertEqual(try String(contentsOf: sharedDirectory.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").count, 4)
        XCTAssertTrue(FileManager.default.fileExists(atPath: sharedDirectory.appendingPathComponent("resume/state.json").path))
    }

    /// With a time limit every member stops and sets its learning rate by rank 0's clock, even
    /// when its own clock runs twice as fast: the members stay identical and end together.
    func testMembersFollowRankZerosClockForTheTimeLimitAndTheCosine() throws {
        let train = self.train, dev = self.dev
        let shared = directory()
        defer { try? FileManager.default.removeItem(at: shared) }
        let members = try LocalProcessGroup.run(size: 2) { group in
            let script = TinyClassifier.Script()
            var model = TinyClassifier(features: 6, classes: 3, seed: 5, script: script)
            model.dropout = Dropout(probability: 0)
            var options = Self.options()
            options.epochs = 50
            options.schedule = .cosine(epochs: 50, minimumFactor: 0)
            options.timeLimit = 12   // rank 0: a second a batch it runs, 6 batches an epoch
            let speed = group.rank == 0 ? 1.0 : 2.0
            let summary = try Trainer(options: options, processGroup: group, clock: { speed * Double(script.batches) })
                .fit(&model, train: train, dev: dev, in: shared) { try Checkpoint.save($0, config: ["kind": "tiny"], to: $1) }
            return (model.namedParameters().flatMap(\.value.scalars), summary)
        }
        XCTAssertEqual(members[0].0, members[1].0)
        for summary in members.map(\.1) {
            XCTAssertEqual(summary.stopReason, .timeLimit)
            XCTAssertEqual(summary.epochsCompleted, 2)
            XCTAssertEqual(summary.history.map(\.learningRate), [0.05, 0.025])
        }
    }

    /// With dropout each member draws its own masks; they still apply the same summed update.
    func testMembersWithDropoutStayIdenticalAndLearn() throws {
        let train = self.train, dev = self.dev
        let shared = directory()
        defer { try? FileManager.default.removeItem(at: shared) }
        let members = try LocalProcessGroup.run(size: 2) { group in
            try Self.trained(dropout: 0.2, train: train, dev: dev, in: shared, group: group)
        }
        XCTAssertEqual(members[0].parameters, members[1].parameters)
        XCTAssertGreaterThan(members[0].summary.best?.devMetric ?? 0, 0.8)
    }

    /// The tiny classifier with the epoch's batches fixed: consecutive runs of `size` examples.
    private struct FixedBatches: TrainableModel {
        var model: TinyClassifier
        let size: Int
        mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
            try model.visitParameters(prefix: prefix, visit)
        }
        func length(of example: TinyClassifier.Example) -> Int { model.length(of: example) }
        mutating func accumulateGradients(on batch: [TinyClassifier.Example], generator: inout SeededGenerator) -> BatchLoss {
            model.accumulateGradients(on: batch, generator: &generator)
        }
        func evaluate(on examples: [TinyClassifier.Example]) -> Evaluation { model.evaluate(on: examples) }
        func trainingBatches(of examples: [TinyClassifier.Example], batchSize: Int, generator: inout SeededGenerator) -> [[Int]]? {
            stride(from: 0, to: examples.count, by: size).map { Array($0..<min($0 + size, examples.count)) }
        }
    }

    private static func trainedInFixedBatches(of size: Int, accumulating steps: Int, train: [TinyClassifier.Example],
                                              dev: [TinyClassifier.Example], in directory: URL,
                                              group: (any ProcessGroup)? = nil) throws -> [Float] {
        var model = FixedBatches(model: TinyClassifier(features: 6, classes: 3, seed: 5), size: size)
        model.model.dropout = Dropout(probability: 0)
        var options = options()
        options.accumulationSteps = steps
        try Trainer(options: options, processGroup: group).fit(&model, train: train, dev: dev, in: directory) { _, _ in }
        return model.namedParameters().flatMap(\.value.scalars)
    }

    /// Two batches of 8 accumulated make the step one batch of the same 16 examples makes, alone
    /// and with each of two members taking its share of both batches.
    func testAccumulatedBatchesStepAsOneLargerBatch() throws {
        let train = self.train, dev = self.dev
        let directories = [directory(), directory(), directory()]
        defer { directories.forEach { try? FileManager.default.removeItem(at: $0) } }
        let large = try Self.trainedInFixedBatches(of: 16, accumulating: 1, train: train, dev: dev, in: directories[0])
        let accumulated = try Self.trainedInFixedBatches(of: 8, accumulating: 2, train: train, dev: dev, in: directories[1])
        let small = try Self.trainedInFixedBatches(of: 8, accumulating: 1, train: train, dev: dev, in: directories[1])
        let members = try LocalProcessGroup.run(size: 2) { group in
            try Self.trainedInFixedBatches(of: 8, accumulating: 2, train: train, dev: dev, in: directories[2], group: group)
        }
        func largestDifference(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? .infinity }
        XCTAssertLessThan(largestDifference(accumulated, large), 1e-5)
        XCTAssertLessThan(largestDifference(members[0], large), 1e-5)
        XCTAssertEqual(members[0], members[1])
        XCTAssertGreaterThan(largestDifference(small, large), 1e-3, "twice the steps of half the size move elsewhere")
        var options = Self.options()
        options.accumulationSteps = 0
        XCTAssertThrowsError(try options.validate()) { XCTAssertEqual("\($0)", "--accumulate must be at least 1, got 0") }
    }

    func testBatchesAreCutByTokens() {
        XCTAssertEqual(BatchSharding.cuts(lengths: [5, 1, 1, 1, 1, 1], parts: 2), [0, 1, 6])
        XCTAssertEqual(BatchSharding.cuts(lengths: [2, 2, 2, 2], parts: 2), [0, 2, 4])
        XCTAssertEqual(BatchSharding.cuts(lengths: [3], parts: 3), [0, 0, 1, 1])
        XCTAssertEqual(BatchSharding.cuts(lengths: [], parts: 2), [0, 0, 0])
        XCTAssertEqual((0..<3).map { LocalProcessGroup.share(of: 10, part: $0, parts: 3) }, [0..<4, 4..<7, 7..<10])
    }
}
