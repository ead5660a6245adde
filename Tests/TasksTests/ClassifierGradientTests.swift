import XCTest
import GradientChecking
import SeqModels
@testable import Tasks

final class ClassifierGradientTests: XCTestCase {
    /// An unsorted batch of three sequences (lengths 2, 4, 3) with 6 features, as a bidirectional LSTM would emit.
    private func packedBatch(generator: inout SeededGenerator) throws -> PackedSequence {
        let layout = try PackingLayout(lengths: [2, 4, 3])
        return layout.packedSequence(data: .normal([layout.rowCount, 6], using: &generator))
    }

    func testPoolingGradientsMatchFiniteDifferencesForEveryMode() throws {
        for pooling in SequencePooling.allCases {
            var generator = SeededGenerator(seed: 11)
            let packed = try packedBatch(generator: &generator)
            let width = pooling.outputSize(featureCount: 6)
            let projection = Tensor.normal([3, width], using: &generator)
            let (_, cache) = pooling.forward(packed, bidirectional: true)
            let analytic = pooling.backward(cache, pooledGradient: projection)
            let loss = { (data: Tensor) -> Double in
                projectedSum(pooling.forward(packed.replacingData(data), bidirectional: true).pooled, projection)
            }
            checkGradient(of: loss, analytic: analytic, at: packed.data, tolerance: 1e-3, "\(pooling)")
        }
    }

    func testPoolingLooksOnlyAtEachSequencesOwnTokens() throws {
        // Sequence 0 = rows [1, 2], sequence 1 = [10, 20, 30] (one feature, not bidirectional).
        let layout = try PackingLayout(lengths: [2, 3])
        let data = Tensor(rows: layout.pack([[1, 2], [10, 20, 30]]).map { [Float($0)] })
        let packed = layout.packedSequence(data: data)
        XCTAssertEqual(SequencePooling.max.forward(packed, bidirectional: false).pooled.scalars, [2, 30])
        XCTAssertEqual(SequencePooling.mean.forward(packed, bidirectional: false).pooled.scalars, [1.5, 20])
        XCTAssertEqual(SequencePooling.last.forward(packed, bidirectional: false).pooled.scalars, [2, 30])
        XCTAssertEqual(SequencePooling.maxMean.forward(packed, bidirectional: false).pooled.scalars, [2, 1.5, 30, 20])
    }

    func testLastPoolingTakesTheReverseHalfAtTheFirstToken() throws {
        // Two features: forward half [0], reverse half [1]. Sequence [a, b, c] with rows (t, 100 + t).
        let layout = try PackingLayout(lengths: [3])
        let data = Tensor(rows: [[0, 100], [1, 101], [2, 102]])
        let pooled = SequencePooling.last.forward(layout.packedSequence(data: data), bidirectional: true).pooled
        XCTAssertEqual(pooled.scalars, [2, 100])
    }

    /// A tiny two-layer bidirectional classifier with dropout off, so that the loss is a function of the parameters.
    /// With `ngrams`, a bag of five n-gram features (random weights, so that the check does not
    /// start from the zero initialisation) and no feature dropout.
    private func tinyClassifier(pooling: SequencePooling, classWeights: [Float]? = nil, ngrams: Bool = false) -> TextClassifier {
        var generator = SeededGenerator(seed: 5)
        let configuration = TextClassifier.Configuration(
            vocabularySize: 7, embeddingDimension: 4, hiddenSize: 3, layerCount: 2, bidirectional: true,
            embeddingDropout: 0, dropout: 0, pooling: pooling, labelCount: 3, paddingID: 0,
            ngramBag: ngrams ? .init(featureCount: 5, dropout: 0) : nil)
        var model = TextClassifier(configuration, classWeights: classWeights, generator: &generator)
        if ngrams { model.ngrams?.weight.value = .normal([5, 3], using: &generator) }
        return model
    }

    /// Feature ids are read only by a classifier with a bag of n-grams.
    private let tinyBatch = [
        ClassifierExample(tokenIDs: [1, 2, 3], featureIDs: [0, 2], label: 0),
        ClassifierExample(tokenIDs: [4, 5, 6, 1, 2], featureIDs: [1, 2, 4], label: 2),
        ClassifierExample(tokenIDs: [6], featureIDs: [], label: 1),
        ClassifierExample(tokenIDs: [3, 3, 5, 1], featureIDs: [3], label: 2),
    ]

    func testWholeClassifierGradientsMatchFiniteDifferences() {
        var skipped = 0, checked = 0
        defer { XCTAssertLessThan(skipped * 10, checked, "most elements must be checked, \(skipped) of \(checked) skipped") }
        for (pooling, weights, ngrams) in [(SequencePooling.maxMean, nil, false), (.last, [Float](arrayLiteral: 0.5, 2, 1), false),
                                           (.mean, nil, false), (.mean, nil, true)] {
            var model = tinyClassifier(pooling: pooling, classWeights: weights, ngrams: ngrams)
            let baseWinners = Self.maxPoolingWinners(model, tinyBatch)
            var generator = SeededGenerator(seed: 1)
            model.zeroGradients()
            _ = model.accumulateGradients(on: tinyBatch, generator: &generator)
            let gradients = Dictionary(uniqueKeysWithValues: model.namedGradients().map { ($0.name, $0.gradient) })
            XCTAssertEqual(gradients["ngrams.weight"] != nil, ngrams, "the bag's weight is a parameter exactly when configured")
            for (name, value) in model.namedParameters() {
                let loss = { (probe: Tensor) -> Double in
                    var copy = model
                    copy.visitParameters(prefix: "") { n, p in if n == name { p.value = probe } }
                    // Inference logits equal training ones with dropout off; no backward needed.
                    let logits = copy.logits(for: self.tinyBatch.map(\.input))
                    return CrossEntropyLoss(ignoreIndex: nil, classWeights: weights)(logits: logits, targets: self.tinyBatch.map(\.label)).loss
                }
                // Every element of the small tensors; a spread-out sample of the larger ones.
                let elements = value.count <= 12 ? Array(0..<value.count) : Array(stride(from: 0, to: value.count, by: value.count / 11))
                // Max pooling has kinks where a winner changes: probes across one are skipped.
                let isSmooth = { (probe: Tensor) -> Bool in
                    var copy = model
                    copy.visitParameters(prefix: "") { n, p in if n == name { p.value = probe } }
                    return Self.maxPoolingWinners(copy, self.tinyBatch) == baseWinners
                }
                let report = checkGradient(of: loss, analytic: gradients[name]!, at: value, tolerance: 1e-2, elements: elements,
                                           isSmooth: pooling == .maxMean ? isSmooth : nil, "\(pooling) \(ngrams) \(name)")
                XCTAssertLessThanOrEqual(report.skippedCount * 2, elements.count, "\(pooling) \(name): too many kinks to check: \(report)")
                skipped += report.skippedCount
                checked += elements.count
            }
        }
    }

    /// The packed row that wins each max-pooled feature, for the batch in inference mode.
    private static func maxPoolingWinners(_ model: TextClassifier, _ batch: [ClassifierExample]) -> [Int32] {
        let layout = try! PackingLayout(lengths: batch.map(\.tokenIDs.count))
        let embedded = model.embedding.forward(layout.pack(batch.map(\.tokenIDs)))
        let (encoded, _) = model.lstm(layout.packedSequence(data: embedded))
        return SequencePooling.max.forward(encoded, bidirectional: true).cache.argmax
    }

    func testPaddingRowGetsNoGradientAndFrozenEmbeddingsNone() {
        var model = tinyClassifier(pooling: .maxMean)
        var generator = SeededGenerator(seed: 2)
        _ = model.accumulateGradients(on: tinyBatch, generator: &generator)
        let embeddingGradient = model.embedding.weight.gradient
        XCTAssertEqual(Array(embeddingGradient.scalars[0..<4]), [0, 0, 0, 0])
        XCTAssertGreaterThan(embeddingGradient.squaredNorm, 0)

        var frozen = tinyClassifier(pooling: .maxMean)
        frozen.embedding.isTrainable = false
        _ = frozen.accumulateGradients(on: tinyBatch, generator: &generator)
        XCTAssertEqual(frozen.embedding.weight.gradient.squaredNorm, 0)
        XCTAssertGreaterThan(frozen.output.weight.gradient.squaredNorm, 0)
    }

    func testFeatureDropoutDropsFeaturesAndScalesTheRest() {
        // Only the bag can change the loss here: LSTM and output weights are the same in both runs.
        var generator = SeededGenerator(seed: 3)
        let configuration = TextClassifier.Configuration(
            vocabularySize: 7, embeddingDimension: 4, hiddenSize: 3, embeddingDropout: 0, dropout: 0, pooling: .mean,
            labelCount: 3, paddingID: 0, ngramBag: .init(featureCount: 200, dropout: 0.5))
        var model = TextClassifier(configuration, generator: &generator)
        let example = ClassifierExample(tokenIDs: [1, 2], featureIDs: Array(0..<200), label: 0)
        var dropping = SeededGenerator(seed: 4)
        _ = model.accumulateGradients(on: [example], generator: &dropping)
        let gradient = model.ngrams!.weight.gradient
        let touched = (0..<200).filter { row in (0..<3).contains { gradient[row, $0] != 0 } }
        XCTAssertGreaterThan(touched.count, 70, "about half of the 200 features are kept")
        XCTAssertLessThan(touched.count, 130, "about half of the 200 features are dropped")
        // A kept feature's gradient is the logits' gradient scaled by 1 / (1 - 0.5).
        let first = touched[0], second = touched[1]
        for label in 0..<3 { XCTAssertEqual(gradient[first, label], gradient[second, label], accuracy: 1e-7) }
        let probabilities = model.probabilities(for: [ClassifierInput(tokenIDs: [1, 2])]).scalars  // bag at zero: the LSTM's alone
        XCTAssertEqual(gradient[first, 0], 2 * (probabilities[0] - 1), accuracy: 1e-5)
        XCTAssertEqual(gradient[first, 1], 2 * probabilities[1], accuracy: 1e-5)
    }
}
