import XCTest
@testable import SeqModels
import Corpus
@testable import Tasks

/// Finite-difference checks of the character encoder and of the whole tagger's loss.
final class TaggerGradientTests: XCTestCase {
    /// A tagger small enough to check every parameter numerically, with dropout off.
    static func tinyTagger(seed: UInt64 = 3, dropout: Float = 0, wordDropout: Float = 0) -> (Tagger, [TaggerExample]) {
        let sentences = [
            TaggedSentence(tokens: ["the", "cat", "sat", "."], tags: ["DET", "NOUN", "VERB", "PUNCT"]),
            TaggedSentence(tokens: ["cats", "sleep"], tags: ["NOUN", "VERB"]),
            TaggedSentence(tokens: ["a", "dog", "ran"], tags: ["DET", "NOUN", "VERB"]),
        ]
        var configuration = TaggerConfiguration()
        configuration.wordEmbeddingSize = 3
        configuration.characterEmbeddingSize = 2
        configuration.characterHiddenSize = 2
        configuration.hiddenSize = 3
        configuration.layerCount = 2
        configuration.dropout = dropout
        configuration.wordDropout = wordDropout
        var generator = SeededGenerator(seed: seed)
        var tagger = try! Tagger(configuration: configuration, training: sentences, generator: &generator)
        // Scale the N(0, 1) embeddings down so that no unit saturates and differences stay accurate.
        tagger.wordEmbedding.weight.value.scale(by: 0.5)
        tagger.characterEncoder.embedding.weight.value.scale(by: 0.5)
        // The training words plus one unknown word ("cow") and a repeated spelling ("cat").
        var examples = try! tagger.encode(sentences)
        examples.append(contentsOf: try! tagger.encode([TaggedSentence(tokens: ["cow", "cat"], tags: ["NOUN", "NOUN"])]))
        return (tagger, examples)
    }

    func testCharacterEncoderGradientsMatchFiniteDifferences() {
        var generator = SeededGenerator(seed: 11)
        let encoder = CharacterEncoder(characterCount: 6, embeddingSize: 3, hiddenSize: 2, generator: &generator)
        let words = [[1, 2, 3], [4], [2, 5, 5, 1], [3, 1]]
        let projection = randomProjection([words.count, 4], seed: 5)
        var analytic = encoder
        analytic.zeroGradients()
        var unused = SeededGenerator(seed: 0)
        let (output, cache) = analytic.forward(words, generator: &unused)
        XCTAssertEqual(output.shape, [4, 4])
        XCTAssertEqual(output.maxAbsoluteDifference(encoder(words)), 0, "training and inference outputs agree without dropout")
        analytic.backward(cache, outputGradient: projection)
        for (name, gradient) in analytic.namedGradients() {
            XCTAssertGreaterThan(gradient.squaredNorm, 0, "\(name) receives gradient")
            let value = encoder.namedParameters().first { $0.name == name }!.value
            checkGradient(of: { x in
                var probe = encoder
                probe.setParameter(name, to: x)
                return projectedSum(probe(words), projection)
            }, analytic: gradient, at: value, name)
        }
    }

    func testTaggerLossGradientsMatchFiniteDifferences() {
        let (tagger, examples) = Self.tinyTagger()
        var analytic = tagger
        analytic.zeroGradients()
        var generator = SeededGenerator(seed: 1)
        let loss = analytic.accumulateGradients(on: examples, generator: &generator)
        XCTAssertEqual(loss.count, 11)
        XCTAssertGreaterThan(loss.mean, 0)
        for (name, gradient) in analytic.namedGradients() {
            let value = tagger.namedParameters().first { $0.name == name }!.value
            // At most 8 elements per tensor, spread over it, to stay fast in debug builds.
            let stride = max(1, value.count / 8)
            checkGradient(of: { x in
                var probe = tagger
                probe.setParameter(name, to: x)
                var g = SeededGenerator(seed: 1)
                return probe.accumulateGradients(on: examples, generator: &g).mean
            }, analytic: gradient, at: value, stencil: .threePoint,
               elements: Array(Swift.stride(from: 0, to: value.count, by: stride)), name)
        }
    }

    func testWordEmbeddingRowsOfUnusedWordsGetNoGradient() {
        let (tagger, examples) = Self.tinyTagger()
        var model = tagger
        model.zeroGradients()
        var generator = SeededGenerator(seed: 1)
        _ = model.accumulateGradients(on: Array(examples.prefix(1)), generator: &generator)   // "the cat sat ."
        let gradient = model.wordEmbedding.weight.gradient
        let width = gradient.shape[1]
        for id in 0..<gradient.shape[0] {
            let row = Tensor(shape: [width], scalars: Array(gradient.scalars[(id * width)..<((id + 1) * width)]))
            let used = examples[0].words.contains(id)
            XCTAssertEqual(row.squaredNorm > 0, used, "row \(id) (\(model.vocabularies.words.token(of: id)))")
        }
    }

    func testTrainingWithDropoutIsDeterministicForASeed() {
        let (tagger, examples) = Self.tinyTagger(dropout: 0.3, wordDropout: 0.3)
        func run(seed: UInt64) -> (Double, [(name: String, gradient: Tensor)]) {
            var model = tagger
            model.zeroGradients()
            var generator = SeededGenerator(seed: seed)
            let loss = model.accumulateGradients(on: examples, generator: &generator)
            return (loss.sum, model.namedGradients())
        }
        let (a, ga) = run(seed: 9), (b, gb) = run(seed: 9), (c, _) = run(seed: 10)
        XCTAssertEqual(a, b)
        XCTAssertEqual(ga.map(\.gradient), gb.map(\.gradient))
        XCTAssertNotEqual(a, c, "another seed draws other dropout masks")
    }
}

extension ParameterContainer {
    /// Replaces the value of the parameter called `name` (for finite differences).
    mutating func setParameter(_ name: String, to value: Tensor) {
        var found = false
        visitParameters(prefix: "") { n, parameter in
            if n == name { parameter.value = value; found = true }
        }
        precondition(found, "no parameter named \(name)")
    }
}

// MARK: - Finite differences
// The SeqModels test target's `GradientCheck.swift`, file-private here: test targets cannot share
// files, and the classifier tests keep their own `projectedSum` in this module.

/// The outcome of comparing an analytic gradient with central finite differences.
private struct GradientCheckReport: CustomStringConvertible {
    /// Largest `|analytic − numeric| / max(|analytic| + |numeric|, floor)` over the elements.
    var worstRelativeError: Double
    /// Flat offset and multi-index of the element with that error.
    var worstOffset: Int
    var worstIndex: [Int]
    var analyticAtWorst: Double
    var numericAtWorst: Double
    /// Number of elements compared.
    var checkedCount: Int

    var description: String {
        "worst relative error \(worstRelativeError) at \(worstIndex) (flat \(worstOffset)): analytic \(analyticAtWorst), numeric \(numericAtWorst), over \(checkedCount) elements"
    }
}

/// Multi-index of a flat row-major offset.
private func multiIndex(_ offset: Int, shape: [Int]) -> [Int] {
    var rest = offset
    var index = [Int](repeating: 0, count: shape.count)
    for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
        index[d] = rest % shape[d]
        rest /= shape[d]
    }
    return index
}

/// Which central-difference formula `checkGradient` uses.
private enum DifferenceStencil {
    /// `(f(x+h) − f(x−h)) / 2h`: error O(h²).
    case threePoint
    /// `(8(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h))) / 12h`: error O(h⁴), so a large `h`
    /// (which keeps Float32 rounding noise small) still gives an accurate derivative.
    case fivePoint
}

/// Compares `analytic` (the claimed gradient of `loss` at `x`) with central differences,
/// element by element (five-point stencil by default).
///
/// `loss` should accumulate in `Double` (see `projectedSum`). With Float32 forward passes
/// rounding noise grows like 1/h, so prefer a largish `h` (the default 1/128, a power of
/// two so that `x ± h` is exact for moderate `x`) with the five-point stencil. Pass `elements` to check a subset of a large
/// tensor. The relative error uses `floor` in the denominator so that gradients that are
/// (correctly) near zero do not blow it up. Fails the calling test, naming the worst
/// element, when the worst error exceeds `tolerance`; returns the report either way.
@discardableResult
private func checkGradient(of loss: (Tensor) -> Double, analytic: Tensor, at x: Tensor,
                   step h: Float = 1.0 / 128, stencil: DifferenceStencil = .fivePoint, tolerance: Double = 1e-2, floor: Double = 1e-3,
                   elements: [Int]? = nil, _ label: String = "",
                   file: StaticString = #filePath, line: UInt = #line) -> GradientCheckReport {
    precondition(analytic.shape == x.shape, "analytic gradient \(analytic.shape) must have the shape of x \(x.shape)")
    var report = GradientCheckReport(worstRelativeError: 0, worstOffset: 0, worstIndex: multiIndex(0, shape: x.shape),
                                     analyticAtWorst: 0, numericAtWorst: 0, checkedCount: 0)
    var probe = x
    func evaluate(_ value: Float, _ i: Int) -> Double {
        probe[flat: i] = value
        return loss(probe)
    }
    for i in elements ?? Array(0..<x.count) {
        let original = x[flat: i]
        let numeric: Double
        switch stencil {
        case .threePoint:
            // The step actually taken in Float32, not the nominal h.
            let width = Double(original + h) - Double(original - h)
            numeric = (evaluate(original + h, i) - evaluate(original - h, i)) / width
        case .fivePoint:
            // Steps of ±h, ±2h, rounded to Float32 and used as rounded (h a power of two keeps them exact).
            let p1 = original + h, m1 = original - h, p2 = original + 2 * h, m2 = original - 2 * h
            let width = (Double(p1) - Double(m1)) * 6
            numeric = (8 * (evaluate(p1, i) - evaluate(m1, i)) - (evaluate(p2, i) - evaluate(m2, i))) / width
        }
        probe[flat: i] = original
        let a = Double(analytic[flat: i])
        let error = abs(a - numeric) / max(abs(a) + abs(numeric), floor)
        report.checkedCount += 1
        if error > report.worstRelativeError || report.checkedCount == 1 {
            report.worstRelativeError = error
            report.worstOffset = i
            report.worstIndex = multiIndex(i, shape: x.shape)
            report.analyticAtWorst = a
            report.numericAtWorst = numeric
        }
    }
    XCTAssertLessThanOrEqual(report.worstRelativeError, tolerance, "\(label) gradient check: \(report)", file: file, line: line)
    return report
}

/// A fixed random tensor `R` for turning a tensor-valued output into the scalar
/// `Σ output ⊙ R`, whose gradient with respect to the output is `R` itself.
private func randomProjection(_ shape: [Int], seed: UInt64) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return Tensor.uniform(shape, low: -1, high: 1, using: &g)
}

/// `Σ output ⊙ projection`, accumulated in `Double`.
private func projectedSum(_ output: Tensor, _ projection: Tensor) -> Double {
    precondition(output.shape == projection.shape, "projection \(projection.shape) must match output \(output.shape)")
    var s = 0.0
    output.withUnsafeBufferPointer { o in
        projection.withUnsafeBufferPointer { r in
            for i in 0..<o.count { s += Double(o[i]) * Double(r[i]) }
        }
    }
    return s
}
