import XCTest
import GradientChecking
@testable import SeqModels

final class LayerGradientTests: XCTestCase {
    // MARK: Linear

    func testLinearGradientsMatchFiniteDifferences() {
        var g = SeededGenerator(seed: 7)
        let layer = Linear(inputSize: 5, outputSize: 4, generator: &g)
        let x = Tensor.normal([3, 5], using: &g)
        let r = randomProjection([3, 4], seed: 8)

        var trained = layer
        let dx = trained.backward(input: x, outputGradient: r)

        checkGradient(of: { projectedSum(layer.forward($0), r) }, analytic: dx, at: x, tolerance: 1e-3, "input")
        checkGradient(of: { w in
            var l = layer; l.weight.value = w; return projectedSum(l.forward(x), r)
        }, analytic: trained.weight.gradient, at: layer.weight.value, tolerance: 1e-3, "weight")
        checkGradient(of: { b in
            var l = layer; l.bias!.value = b; return projectedSum(l.forward(x), r)
        }, analytic: trained.bias!.gradient, at: layer.bias!.value, tolerance: 1e-3, "bias")
    }

    func testLinearBackwardAccumulatesAcrossCalls() {
        var g = SeededGenerator(seed: 3)
        var layer = Linear(inputSize: 3, outputSize: 2, generator: &g)
        let x = Tensor.normal([4, 3], using: &g), dy = Tensor.normal([4, 2], using: &g)
        _ = layer.backward(input: x, outputGradient: dy)
        let once = layer.weight.gradient, onceBias = layer.bias!.gradient
        _ = layer.backward(input: x, outputGradient: dy)
        var twice = once; twice.scale(by: 2)
        var twiceBias = onceBias; twiceBias.scale(by: 2)
        XCTAssertLessThan(layer.weight.gradient.maxAbsoluteDifference(twice), 1e-6)
        XCTAssertLessThan(layer.bias!.gradient.maxAbsoluteDifference(twiceBias), 1e-6)
    }

    func testLinearInitialisationFollowsPyTorchBounds() {
        var g = SeededGenerator(seed: 11)
        let layer = Linear(inputSize: 16, outputSize: 32, generator: &g)
        let bound: Float = 0.25  // 1/√16
        XCTAssertTrue(layer.weight.value.scalars.allSatisfy { abs($0) <= bound })
        XCTAssertTrue(layer.bias!.value.scalars.allSatisfy { abs($0) <= bound })
        // Uniform on [−b, b] has variance b²/3; 512 samples put the estimate well within 25%.
        let variance = layer.weight.value.squaredNorm / Double(layer.weight.value.count)
        XCTAssertEqual(variance, Double(bound * bound) / 3, accuracy: 0.25 * Double(bound * bound) / 3)
        XCTAssertEqual(layer.namedParameters().map(\.name), ["weight", "bias"])
        XCTAssertEqual(layer.weight.value.shape, [32, 16])
    }

    func testLinearWithoutBiasHasOnlyAWeight() {
        var g = SeededGenerator(seed: 2)
        var layer = Linear(inputSize: 3, outputSize: 2, bias: false, generator: &g)
        XCTAssertEqual(layer.namedParameters(prefix: "head.").map(\.name), ["head.weight"])
        let x = Tensor(rows: [[1, 2, 3]])
        XCTAssertEqual(layer.forward(x), Tensor.matmul(x, layer.weight.value, transposeB: true))
        _ = layer.backward(input: x, outputGradient: Tensor(rows: [[1, -1]]))
        XCTAssertEqual(layer.weight.gradient, Tensor(rows: [[1, 2, 3], [-1, -2, -3]]))
    }

    // MARK: Embedding

    func testEmbeddingForwardGathersRows() {
        var g = SeededGenerator(seed: 5)
        let e = Embedding(vocabularySize: 6, dimension: 3, generator: &g)
        let out = e.forward([4, 0, 4])
        XCTAssertEqual(out.shape, [3, 3])
        XCTAssertEqual(out.rows(0..<1).scalars, e.weight.value.rows(4..<5).scalars)
        XCTAssertEqual(out.rows(1..<2).scalars, e.weight.value.rows(0..<1).scalars)
        XCTAssertEqual(out.rows(2..<3).scalars, e.weight.value.rows(4..<5).scalars)
    }

    func testEmbeddingGradientWithRepeatedIdsAndPaddingMatchesFiniteDifferences() {
        var g = SeededGenerator(seed: 9)
        var e = Embedding(vocabularySize: 7, dimension: 4, paddingIndex: 0, generator: &g)
        XCTAssertEqual(e.weight.value.rows(0..<1).scalars, [0, 0, 0, 0], "padding row starts at zero")
        let ids = [3, 0, 5, 3, 3, 0, 1]
        let r = randomProjection([ids.count, 4], seed: 10)
        let snapshot = e
        e.backward(ids: ids, outputGradient: r)

        // Finite differences see the padding row's true dependence; PyTorch and we zero it.
        var expected = e.weight.gradient
        XCTAssertEqual(expected.rows(0..<1).scalars, [0, 0, 0, 0], "padding row gets no gradient")
        for j in 0..<4 { expected[0, j] = r[1, j] + r[5, j] }
        checkGradient(of: { w in
            var l = snapshot; l.weight.value = w; return projectedSum(l.forward(ids), r)
        }, analytic: expected, at: snapshot.weight.value, tolerance: 1e-3, "embedding")
        // Row 3 appears three times: its gradient is the sum of three output rows.
        for j in 0..<4 {
            XCTAssertEqual(e.weight.gradient[3, j], r[0, j] + r[3, j] + r[4, j], accuracy: 1e-6)
            XCTAssertEqual(e.weight.gradient[2, j], 0, "unused id has no gradient")
        }
    }

    // MARK: EmbeddingBag

    func testEmbeddingBagSumsRowsAndItsGradientMatchesFiniteDifferences() {
        var g = SeededGenerator(seed: 21)
        let bag = EmbeddingBag(count: 6, dimension: 3, generator: &g)
        let bags = [[1, 4], [], [5, 5, 0], [2]]
        let out = bag.forward(bags, scale: 2)
        XCTAssertEqual(out.shape, [4, 3])
        for j in 0..<3 {
            XCTAssertEqual(out[0, j], 2 * (bag.weight.value[1, j] + bag.weight.value[4, j]), accuracy: 1e-6)
            XCTAssertEqual(out[1, j], 0, "an empty bag sums to zero")
            XCTAssertEqual(out[2, j], 2 * (2 * bag.weight.value[5, j] + bag.weight.value[0, j]), accuracy: 1e-6)
        }
        let r = randomProjection([4, 3], seed: 22)
        var trained = bag
        trained.backward(bags, outputGradient: r, scale: 2)
        checkGradient(of: { w in
            var l = bag; l.weight.value = w; return projectedSum(l.forward(bags, scale: 2), r)
        }, analytic: trained.weight.gradient, at: bag.weight.value, tolerance: 1e-3, "embedding bag")
        XCTAssertEqual(trained.weight.gradient.rows(3..<4).scalars, [0, 0, 0], "an id in no bag gets no gradient")
    }

    func testZeroInitialisedEmbeddingBagStartsAtZeroAndFrozenGetsNoGradient() {
        var bag = EmbeddingBag(count: 4, dimension: 2)
        XCTAssertEqual(bag.weight.value.squaredNorm, 0)
        bag.weight.isTrainable = false
        bag.backward([[1, 2]], outputGradient: Tensor(rows: [[1, 1]]))
        XCTAssertEqual(bag.weight.gradient.squaredNorm, 0)
        XCTAssertEqual(bag.namedParameters(prefix: "ngrams.").map(\.name), ["ngrams.weight"])
    }

    func testFrozenEmbeddingKeepsZeroGradientAndIsSkippedByOptimizers() throws {
        var g = SeededGenerator(seed: 4)
        var e = Embedding(vocabularySize: 4, dimension: 2, generator: &g)
        try e.setVector([0.5, -0.5], forID: 2)
        XCTAssertEqual(e.forward([2]).scalars, [0.5, -0.5])
        e.isTrainable = false
        let before = e.weight.value
        e.backward(ids: [2, 1], outputGradient: Tensor(rows: [[1, 1], [2, 2]]))
        XCTAssertEqual(e.weight.gradient, Tensor(shape: [4, 2]))
        var sgd = SGD(learningRate: 0.1, weightDecay: 0.5)
        sgd.step(&e)
        XCTAssertEqual(e.weight.value, before, "weight decay must not touch a frozen table")
        XCTAssertEqual(e.namedParameters().map(\.name), ["weight"], "frozen weights are still checkpointed")
    }

    func testPretrainedVectorOfWrongLengthThrows() {
        var g = SeededGenerator(seed: 4)
        var e = Embedding(vocabularySize: 4, dimension: 3, generator: &g)
        XCTAssertThrowsError(try e.setVector([1, 2], forID: 1)) { error in
            XCTAssertEqual(error as? EmbeddingError, .dimensionMismatch(id: 1, expected: 3, found: 2))
            XCTAssertTrue("\(error)".contains("3"))
        }
    }

    // MARK: Dropout

    func testDropoutBackwardUsesTheForwardMask() {
        var g = SeededGenerator(seed: 12)
        let d = Dropout(probability: 0.3)
        let x = Tensor.normal([6, 5], using: &g)
        let (y, mask) = d.forward(x, generator: &g)
        let r = randomProjection([6, 5], seed: 13)
        let dx = d.backward(outputGradient: r, mask: mask)
        checkGradient(of: { projectedSum(d.backward(outputGradient: $0, mask: mask), r) },
                      analytic: dx, at: x, tolerance: 1e-3, "dropout")
        let scale: Float = 1 / 0.7
        for i in 0..<x.count {
            XCTAssertTrue(mask[flat: i] == 0 || mask[flat: i] == scale, "mask entry \(mask[flat: i])")
            XCTAssertEqual(y[flat: i], x[flat: i] * mask[flat: i])
            XCTAssertEqual(dx[flat: i], r[flat: i] * mask[flat: i])
        }
    }

    func testDropoutMaskHasMeanOneAndDropsTheRightFraction() {
        var g = SeededGenerator(seed: 14)
        let (_, mask) = Dropout(probability: 0.25).forward(Tensor(shape: [200, 100], repeating: 1), generator: &g)
        let mean = mask.scalars.reduce(0.0) { $0 + Double($1) } / Double(mask.count)
        let dropped = Double(mask.scalars.filter { $0 == 0 }.count) / Double(mask.count)
        // 20 000 Bernoulli draws: the standard error of the dropped fraction is 0.003.
        XCTAssertEqual(mean, 1, accuracy: 0.02)
        XCTAssertEqual(dropped, 0.25, accuracy: 0.015)
    }

    func testDropoutWithZeroProbabilityIsIdentityAndDrawsNothing() {
        var g = SeededGenerator(seed: 15)
        let x = Tensor.normal([3, 4], using: &g)
        let before = g
        let (y, mask) = Dropout(probability: 0).forward(x, generator: &g)
        XCTAssertEqual(y, x)
        XCTAssertEqual(mask, Tensor(shape: [3, 4], repeating: 1))
        XCTAssertEqual(g, before, "no random number drawn")
    }

    func testDropoutIsDeterministicForASeed() {
        let x = Tensor(shape: [10, 10], repeating: 1)
        var a = SeededGenerator(seed: 16), b = SeededGenerator(seed: 16), c = SeededGenerator(seed: 17)
        let d = Dropout(probability: 0.5)
        XCTAssertEqual(d.forward(x, generator: &a).mask, d.forward(x, generator: &b).mask)
        XCTAssertNotEqual(d.forward(x, generator: &a).mask, d.forward(x, generator: &c).mask)
    }
}

final class GradientCheckTests: XCTestCase {
    func testGradientCheckNamesTheWrongElement() {
        let r = randomProjection([2, 3], seed: 1)
        let x = Tensor(rows: [[1, 2, 3], [4, 5, 6]])
        // d/dx Σ x²⊙r = 2x⊙r; break element [1, 2].
        var analytic = x
        for i in 0..<x.count { analytic[flat: i] = 2 * x[flat: i] * r[flat: i] }
        let good = checkGradient(of: { y in
            var s = 0.0
            for i in 0..<y.count { s += Double(y[flat: i] * y[flat: i]) * Double(r[flat: i]) }
            return s
        }, analytic: analytic, at: x, step: 1e-2, tolerance: 1e-3)
        XCTAssertLessThan(good.worstRelativeError, 1e-3)
        analytic[1, 2] += 0.5
        let bad = checkGradient(of: { y in
            var s = 0.0
            for i in 0..<y.count { s += Double(y[flat: i] * y[flat: i]) * Double(r[flat: i]) }
            return s
        }, analytic: analytic, at: x, step: 1e-2, tolerance: .infinity)
        XCTAssertEqual(bad.worstIndex, [1, 2])
        XCTAssertGreaterThan(bad.worstRelativeError, 0.01)
    }
}
