import Foundation
import GradientChecking
import SeqModels
import XCTest

/// The CRF against a brute-force reference (every tag sequence enumerated, PyTorch's autograd
/// for the gradients: `Tools/make_crf_fixtures.py`), against finite differences, and its
/// Viterbi decoding against exhaustive search.
final class CRFTests: XCTestCase {
    private struct Case: Decodable {
        var name: String
        var lengths: [Int]
        var batch_sizes: [Int]
        var tags: Int
        var emissions, transitions, start_transitions, end_transitions: [Float]
        var gold: [Int]
        var loss: Double
        var grad_emissions, grad_transitions, grad_start_transitions, grad_end_transitions: [Double]
        var viterbi: [Int]
    }

    private func cases() throws -> [Case] {
        guard let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw XCTSkip("test fixtures are not bundled")
        }
        struct File: Decodable { var cases: [Case] }
        let data = try Data(contentsOf: root.appendingPathComponent("crf/crf.json"))
        return try JSONDecoder().decode(File.self, from: data).cases
    }

    private func crf(_ c: Case) -> CRF {
        var generator = SeededGenerator(seed: 0)
        var crf = CRF(tagCount: c.tags, generator: &generator)
        crf.transitions.value = Tensor(shape: [c.tags, c.tags], scalars: c.transitions)
        crf.startTransitions.value = Tensor(shape: [c.tags], scalars: c.start_transitions)
        crf.endTransitions.value = Tensor(shape: [c.tags], scalars: c.end_transitions)
        return crf
    }

    private func assertClose(_ actual: [Float], _ expected: [Double], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, label, file: file, line: line)
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            // float32 results of double sums: within a few float32 ulps of values of order 1.
            XCTAssertEqual(Double(a), e, accuracy: 2e-6 + 1e-5 * abs(e), "\(label)[\(i)]", file: file, line: line)
        }
    }

    func testLossGradientsAndViterbiMatchTheBruteForceReference() throws {
        let all = try cases()
        XCTAssertEqual(all.count, 4)
        for c in all {
            var model = crf(c)
            let emissions = Tensor(shape: [c.gold.count, c.tags], scalars: c.emissions)
            let (loss, emissionsGradient) = model.negativeLogLikelihood(emissions: emissions, batchSizes: c.batch_sizes, tags: c.gold)
            XCTAssertEqual(loss, c.loss, accuracy: 1e-9 * max(1, abs(c.loss)), c.name)
            assertClose(emissionsGradient.scalars, c.grad_emissions, "\(c.name): emissions")
            assertClose(model.transitions.gradient.scalars, c.grad_transitions, "\(c.name): transitions")
            assertClose(model.startTransitions.gradient.scalars, c.grad_start_transitions, "\(c.name): start")
            assertClose(model.endTransitions.gradient.scalars, c.grad_end_transitions, "\(c.name): end")
            XCTAssertEqual(model.decode(emissions: emissions, batchSizes: c.batch_sizes), c.viterbi, c.name)
        }
    }

    /// The emissions' gradient of the NLL is marginal − one-hot(gold) per row, so the reference's
    /// gradient plus the gold one-hot is PyTorch's brute-force marginal (every sequence enumerated).
    func testMarginalsMatchTheBruteForceReference() throws {
        for c in try cases() {
            let emissions = Tensor(shape: [c.gold.count, c.tags], scalars: c.emissions)
            let marginals = crf(c).marginals(emissions: emissions, batchSizes: c.batch_sizes)
            XCTAssertEqual(marginals.shape, [c.gold.count, c.tags])
            var expected = c.grad_emissions
            for (row, tag) in c.gold.enumerated() { expected[row * c.tags + tag] += 1 }
            assertClose(marginals.scalars, expected, "\(c.name): marginals")
            for row in 0..<c.gold.count {
                let sum = (0..<c.tags).reduce(Float(0)) { $0 + marginals.scalars[row * c.tags + $1] }
                XCTAssertEqual(sum, 1, accuracy: 1e-5, "\(c.name): row \(row) sums to 1")
            }
        }
    }

    func testGradientsMatchFiniteDifferences() throws {
        let c = try cases()[3]
        let emissions = Tensor(shape: [c.gold.count, c.tags], scalars: c.emissions)
        var analytic = crf(c)
        let scale = 0.25
        let (_, emissionsGradient) = analytic.negativeLogLikelihood(emissions: emissions, batchSizes: c.batch_sizes, tags: c.gold,
                                                                   gradientScale: scale)
        let reference = crf(c)
        checkGradient(of: { scale * reference.negativeLogLikelihood(emissions: $0, batchSizes: c.batch_sizes, tags: c.gold) },
                      analytic: emissionsGradient, at: emissions, tolerance: 1e-3, "emissions")
        for (name, gradient) in analytic.namedGradients() {
            let value = reference.namedParameters().first { $0.name == name }!.value
            checkGradient(of: { x in
                var probe = reference
                probe.visitParameters(prefix: "") { n, parameter in if n == name { parameter.value = x } }
                return scale * probe.negativeLogLikelihood(emissions: emissions, batchSizes: c.batch_sizes, tags: c.gold)
            }, analytic: gradient, at: value, tolerance: 1e-3, name)
        }
    }

    /// Strong transition scores overrule the emissions: a tagger whose CRF forbids a tag after
    /// another never predicts that pair, which a per-token argmax would.
    func testViterbiFollowsTheTransitionsWhereTheArgmaxWouldNot() {
        var generator = SeededGenerator(seed: 1)
        var crf = CRF(tagCount: 2, generator: &generator)
        crf.transitions.value = Tensor(shape: [2, 2], scalars: [0, 0, -100, 0])   // tag 0 never follows tag 1
        crf.startTransitions.value = Tensor(shape: [2], scalars: [0, 0])
        crf.endTransitions.value = Tensor(shape: [2], scalars: [0, 0])
        // One sequence of 3 tokens; per-token argmax: 1, 0, 0.
        let emissions = Tensor(shape: [3, 2], scalars: [0, 1, 2, 0, 2, 0])
        XCTAssertEqual(crf.decode(emissions: emissions, batchSizes: [1, 1, 1]), [0, 0, 0])
        // The argmax path scores 1 − 100 + 2 + 2 = −95 and the best one 0 + 2 + 2 = 4: its loss is 99 nats more.
        let forbidden = crf.negativeLogLikelihood(emissions: emissions, batchSizes: [1, 1, 1], tags: [1, 0, 0])
        let best = crf.negativeLogLikelihood(emissions: emissions, batchSizes: [1, 1, 1], tags: [0, 0, 0])
        XCTAssertEqual(forbidden - best, 99, accuracy: 1e-9)
    }
}
