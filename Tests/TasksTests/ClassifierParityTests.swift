import Foundation
import SeqModels
import XCTest
@testable import Tasks

/// The classifier against PyTorch: `Tools/make_classifier_fixtures.py` runs the same tiny
/// two-layer BiLSTM classifier (unsorted batch, class weights) in torch and saves its
/// parameters, logits, loss and gradients.
final class ClassifierParityTests: XCTestCase {
    private func fixture(_ pooling: SequencePooling) throws -> SafeTensors {
        let folder = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let name = "parity_" + pooling.rawValue.replacingOccurrences(of: "+", with: "_") + ".safetensors"
        return try SafeTensors(contentsOf: folder.appendingPathComponent("classifier").appendingPathComponent(name))
    }

    func testLogitsLossAndGradientsMatchPyTorchForEveryPooling() throws {
        for pooling in SequencePooling.allCases {
            let file = try fixture(pooling)
            let configuration = TextClassifier.Configuration(
                vocabularySize: 9, embeddingDimension: 5, hiddenSize: 4, layerCount: 2, bidirectional: true,
                embeddingDropout: 0, dropout: 0, pooling: pooling, labelCount: 3, paddingID: 0)
            var generator = SeededGenerator(seed: 0)
            var model = TextClassifier(configuration, classWeights: try file.floatTensor("class_weights").scalars, generator: &generator)
            var parameters: [String: Tensor] = [:]
            for (name, _) in model.namedParameters() { parameters[name] = try file.floatTensor(name) }
            try model.loadParameters(parameters)

            let lengths = try file.int64Array("lengths").map(Int.init)
            let flat = try file.int64Array("ids").map(Int.init)
            let targets = try file.int64Array("targets").map(Int.init)
            var texts: [[Int]] = [], start = 0
            for n in lengths { texts.append(Array(flat[start..<(start + n)])); start += n }
            let batch = zip(texts, targets).map { ClassifierExample(tokenIDs: $0, label: $1) }

            let logits = model.logits(for: texts.map { ClassifierInput(tokenIDs: $0) })
            XCTAssertLessThan(logits.maxAbsoluteDifference(try file.floatTensor("logits")), 1e-5, "\(pooling) logits")

            model.zeroGradients()
            let loss = model.accumulateGradients(on: batch, generator: &generator)
            XCTAssertEqual(loss.mean, Double(try file.floatTensor("loss").scalars[0]), accuracy: 1e-5, "\(pooling) loss")
            for (name, gradient) in model.namedGradients() {
                let expected = try file.floatTensor("grad." + name)
                XCTAssertLessThan(gradient.maxAbsoluteDifference(expected), 1e-5, "\(pooling) gradient of \(name)")
            }
        }
    }
}
