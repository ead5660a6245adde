import Foundation
import XCTest
import SeqModels
@testable import Tasks

final class GeneratorModelTests: XCTestCase {
    /// Loss of the model as a function of one parameter's value (inference, mean per token).
    private func meanLoss(_ model: LanguageModel, _ examples: [TokenSequence]) -> Double {
        model.loss(on: examples).mean
    }

    func testGradientsMatchFiniteDifferencesForEveryParameter() {
        checkEveryGradient(adaptiveCutoffs: nil)
    }

    /// The same with an adaptive softmax of two clusters (every target cluster is hit).
    func testAdaptiveSoftmaxGradientsMatchFiniteDifferencesForEveryParameter() {
        checkEveryGradient(adaptiveCutoffs: [3, 5])
    }

    private func checkEveryGradient(adaptiveCutoffs: [Int]?, file: StaticString = #filePath, line: UInt = #line) {
        var generator = SeededGenerator(seed: 11)
        let configuration = GeneratorConfiguration(vocabularySize: 7, embeddingSize: 3, hiddenSize: 4, layerCount: 2, dropout: 0,
                                                   adaptiveCutoffs: adaptiveCutoffs)
        var model = LanguageModel(configuration, generator: &generator)
        let batch = [TokenSequence(inputs: [4, 5, 6, 1, 4], targets: [5, 6, 1, 4, 2]),
                     TokenSequence(inputs: [6, 6, 3], targets: [6, 3, 5])]
        model.zeroGradients()
        let batchLoss = model.accumulateGradients(on: batch, generator: &generator)
        XCTAssertEqual(batchLoss.count, 8)
        XCTAssertEqual(batchLoss.mean, meanLoss(model, batch), accuracy: 1e-5, "training and inference losses differ without dropout",
                       file: file, line: line)

        let gradients = Dictionary(uniqueKeysWithValues: model.namedGradients().map { ($0.name, $0.gradient) })
        var worst = 0.0
        var worstName = ""
        let h: Float = 1.0 / 32   // large (exact in binary) to keep Float32 noise low; the 5-point stencil is O(h⁴)
        for (name, value) in model.namedParameters() {
            for i in 0..<value.count {
                func lossAt(_ x: Float) -> Double {
                    var probe = model
                    probe.visitParameters(prefix: "") { n, p in if n == name { p.value[flat: i] = x } }
                    return meanLoss(probe, batch)
                }
                let x = value[flat: i]
                let numeric = (8 * (lossAt(x + h) - lossAt(x - h)) - (lossAt(x + 2 * h) - lossAt(x - 2 * h))) / (12 * Double(h))
                let analytic = Double(gradients[name]![flat: i])
                let error = abs(analytic - numeric) / max(abs(analytic) + abs(numeric), 1e-3)
                if error > worst { worst = error; worstName = "\(name)[\(i)] analytic \(analytic) numeric \(numeric)" }
            }
        }
        XCTAssertLessThan(worst, 1e-2, "worst gradient error at \(worstName)", file: file, line: line)
    }

    func testEvaluationWindowsCarryTheStateExactly() {
        var generator = SeededGenerator(seed: 5)
        var model = LanguageModel(GeneratorConfiguration(vocabularySize: 9, embeddingSize: 4, hiddenSize: 6, layerCount: 2, dropout: 0),
                                  generator: &generator)
        let examples = (0..<5).map { k in
            let n = 3 + 4 * k
            return TokenSequence(inputs: (0..<n).map { 4 + ($0 * 7 + k) % 5 }, targets: (0..<n).map { 4 + ($0 * 3 + k + 1) % 5 })
        }
        let whole = model.loss(on: examples)
        model.evaluationWindow = 3
        model.evaluationBatchSize = 2
        let windowed = model.loss(on: examples)
        XCTAssertEqual(whole.count, examples.reduce(0) { $0 + $1.count })
        XCTAssertEqual(windowed.count, whole.count)
        XCTAssertEqual(windowed.sum, whole.sum, accuracy: 1e-4 * whole.sum)
        let evaluation = model.evaluate(on: examples)
        XCTAssertFalse(evaluation.higherIsBetter)
        XCTAssertEqual(evaluation.details["perplexity"]!, Foundation.exp(evaluation.metric), accuracy: 1e-9)
    }

    func testTrainingLowersTheLossOnASmallText() throws {
        let data = try GeneratorData(text: "abcabcabdabcabcabd", level: .char, mode: .stream, sequenceLength: 6,
                                     validationFraction: 0)
        var generator = SeededGenerator(seed: 2)
        var model = LanguageModel(GeneratorConfiguration(vocabularySize: data.vocabulary.count, embeddingSize: 4,
                                                         hiddenSize: 12, layerCount: 1, dropout: 0), generator: &generator)
        let before = model.evaluate(on: data.training).metric
        _ = GeneratorTestSupport.fit(&model, on: data.training, steps: 80, learningRate: 0.05)
        let after = model.evaluate(on: data.training).metric
        XCTAssertLessThan(after, before / 3, "loss before \(before), after \(after)")
    }

    func testDropoutMakesTrainingStochasticAndLeavesEvaluationAlone() {
        var generator = SeededGenerator(seed: 8)
        var model = LanguageModel(GeneratorConfiguration(vocabularySize: 8, embeddingSize: 4, hiddenSize: 5, layerCount: 2, dropout: 0.5),
                                  generator: &generator)
        let batch = [TokenSequence(inputs: [4, 5, 6, 7], targets: [5, 6, 7, 4])]
        var g1 = SeededGenerator(seed: 1), g2 = SeededGenerator(seed: 2)
        let a = model.accumulateGradients(on: batch, generator: &g1).sum
        let b = model.accumulateGradients(on: batch, generator: &g2).sum
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(model.loss(on: batch).sum, model.loss(on: batch).sum)
    }

    func testSaveAndLoadRoundTripGivesTheSameModel() throws {
        let original = GeneratorTestSupport.untrainedModel(tokens: ["a", "b", "c", "\n"])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("generator-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try original.save(to: directory)
        let loaded = try GeneratorModel.load(from: directory)
        XCTAssertEqual(loaded.configuration, original.configuration)
        XCTAssertEqual(loaded.vocabulary, original.vocabulary)
        for ((n1, v1), (n2, v2)) in zip(loaded.model.namedParameters(), original.model.namedParameters()) {
            XCTAssertEqual(n1, n2)
            XCTAssertEqual(v1, v2)
        }
        XCTAssertEqual(Set(loaded.model.namedParameters().map(\.name)),
                       ["embedding.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
                        "decoder.weight", "decoder.bias"])
    }

    /// A config.json is read back before any model is built from it: a size that is not
    /// positive, or a tensor larger than all that model.safetensors stores, is a clear error,
    /// never a trap or an allocation of the size asked for (found by fuzzing model directories).
    func testAConfigurationNoStoredModelCanHaveIsRefusedBeforeAnythingIsBuilt() throws {
        let original = GeneratorTestSupport.untrainedModel(tokens: ["a", "b"])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("generator-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try original.save(to: directory)
        for (edit, expected) in [({ (c: inout GeneratorConfiguration) in c.hiddenSize = -3 }, "hiddenSize must be at least 1, got -3"),
                                 ({ $0.hiddenSize = 1 << 40 }, "an LSTM layer's weights would have the shape"),
                                 ({ $0.vocabularySize = Int.max / 2 }, "the embedding would have the shape"),
                                 ({ $0.dropout = 1.5 }, "dropout must be in [0, 1), got 1.5"),
                                 ({ $0.adaptiveCutoffs = [3, 2] }, "adaptiveCutoffs must increase")] {
            var configuration = original.configuration
            edit(&configuration)
            try Checkpoint.writeJSON(configuration, named: Checkpoint.configFileName, in: directory)
            XCTAssertThrowsError(try GeneratorModel.load(from: directory)) { error in
                XCTAssertTrue("\(error)".contains("config.json: \(expected)"), "\(error)")
            }
        }
    }

    func testLoadingADirectoryWithAMismatchedVocabularyIsAClearError() throws {
        let original = GeneratorTestSupport.untrainedModel(tokens: ["a", "b"])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("generator-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try original.save(to: directory)
        try Checkpoint.writeJSON(Vocabulary(tokens: ["a", "b", "c"]), named: GeneratorModel.vocabularyFileName, in: directory)
        XCTAssertThrowsError(try GeneratorModel.load(from: directory)) { error in
            XCTAssertTrue(String(describing: error).contains("vocabulary.json has 7 tokens"), "\(error)")
        }
    }
}
