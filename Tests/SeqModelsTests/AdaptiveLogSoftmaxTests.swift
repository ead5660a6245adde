import Foundation
import GradientChecking
import SeqModels
import XCTest

/// The adaptive softmax against PyTorch's `nn.AdaptiveLogSoftmaxWithLoss` with the same weights
/// (`Tools/make_adaptive_softmax_fixtures.py`), and against finite differences.
final class AdaptiveLogSoftmaxTests: XCTestCase {
    private struct Case: Decodable {
        struct Values: Decodable { var shape: [Int]; var values: [Float] }
        var name: String
        var in_features, n_classes: Int
        var cutoffs: [Int]
        var div_value: Double
        var head_bias: Bool
        var parameters: [String: Values]
        var input: [Float]
        var targets: [Int]
        var loss: Double
        var grad_input: [Float]
        var grad_parameters: [String: [Float]]
        var log_prob: [Float]
    }

    private func cases() throws -> [Case] {
        guard let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else { throw XCTSkip("test fixtures are not bundled") }
        struct File: Decodable { var cases: [Case] }
        let data = try Data(contentsOf: root.appendingPathComponent("adaptive_softmax/adaptive_softmax.json"))
        return try JSONDecoder().decode(File.self, from: data).cases
    }

    private func layer(_ c: Case) throws -> AdaptiveLogSoftmax {
        var generator = SeededGenerator(seed: 0)
        var layer = AdaptiveLogSoftmax(inputSize: c.in_features, classCount: c.n_classes, cutoffs: c.cutoffs, divValue: c.div_value,
                                       headBias: c.head_bias, generator: &generator)
        XCTAssertEqual(Set(layer.namedParameters().map(\.name)), Set(c.parameters.keys), "PyTorch's names and no others")
        try layer.loadParameters(c.parameters.mapValues { Tensor(shape: $0.shape, scalars: $0.values) })
        return layer
    }

    private func assertClose(_ actual: [Float], _ expected: [Float], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, label, file: file, line: line)
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            XCTAssertEqual(a, e, accuracy: 1e-6 + 1e-5 * abs(e), "\(label)[\(i)]", file: file, line: line)
        }
    }

    func testLossGradientsAndLogProbabilitiesMatchPyTorch() throws {
        for c in try cases() {
            var model = try layer(c)
            let input = Tensor(shape: [c.targets.count, c.in_features], scalars: c.input)
            assertClose(model.logProbabilities(input).scalars, c.log_prob, "\(c.name): log_prob")
            let (loss, inputGradient) = model.loss(input: input, targets: c.targets)
            XCTAssertEqual(loss, c.loss, accuracy: 1e-5 * abs(c.loss), c.name)
            assertClose(inputGradient.scalars, c.grad_input, "\(c.name): input gradient")
            for (name, gradient) in model.namedGradients() {
                assertClose(gradient.scalars, try XCTUnwrap(c.grad_parameters[name]), "\(c.name): \(name)")
            }
        }
    }

    func testLogProbabilitiesAreNormalisedAndTheLossIsTheirMeanAtTheTargets() throws {
        var generator = SeededGenerator(seed: 3)
        var model = AdaptiveLogSoftmax(inputSize: 10, classCount: 50, cutoffs: [8, 20, 35], divValue: 2, generator: &generator)
        let input = Tensor.uniform([6, 10], low: -2, high: 2, using: &generator)
        let targets = [0, 7, 8, 21, 40, 49]
        let logProbabilities = model.logProbabilities(input)
        var expected = 0.0
        for r in 0..<6 {
            let row = (0..<50).map { Double(logProbabilities[r, $0]) }
            XCTAssertEqual(row.map(Foundation.exp).reduce(0, +), 1, accuracy: 1e-5, "row \(r) sums to one")
            expected -= row[targets[r]]
        }
        XCTAssertEqual(model.negativeLogLikelihood(input: input, targets: targets), expected, accuracy: 1e-4)
        XCTAssertEqual(model.loss(input: input, targets: targets).loss, expected / 6, accuracy: 1e-5)
    }

    func testGradientsMatchFiniteDifferences() throws {
        var generator = SeededGenerator(seed: 5)
        let reference = AdaptiveLogSoftmax(inputSize: 8, classCount: 24, cutoffs: [5, 14], divValue: 2, headBias: true, generator: &generator)
        let input = Tensor.uniform([7, 8], low: -1, high: 1, using: &generator)
        let targets = [0, 4, 5, 13, 14, 23, 9]
        var analytic = reference
        let (_, inputGradient) = analytic.loss(input: input, targets: targets)
        // The loss is computed in float32 (its layers' products): finite differences carry its
        // rounding, so the default tolerance (1e-2 relative, 1e-3 floor) applies; the PyTorch
        // parity test above holds the gradients to 1e-5.
        checkGradient(of: { reference.lossValue(input: $0, targets: targets) }, analytic: inputGradient, at: input, "input")
        for (name, gradient) in analytic.namedGradients() {
            let value = reference.namedParameters().first { $0.name == name }!.value
            checkGradient(of: { x in
                var probe = reference
                probe.visitParameters(prefix: "") { n, parameter in if n == name { parameter.value = x } }
                return probe.lossValue(input: input, targets: targets)
            }, analytic: gradient, at: value, name)
        }
    }
}

private extension AdaptiveLogSoftmax {
    /// The loss alone, on a copy (gradients discarded).
    func lossValue(input: Tensor, targets: [Int]) -> Double {
        var copy = self
        return copy.loss(input: input, targets: targets).loss
    }
}
