import XCTest
import GradientChecking
@testable import SeqModels

final class CrossEntropyTests: XCTestCase {
    /// Straightforward Double reference: Σ wᵢ(logΣexp(xᵢ) − xᵢ[tᵢ]) / (mean ? Σ wᵢ : 1).
    private func referenceLoss(_ logits: Tensor, _ targets: [Int], ignore: Int?, classWeights: [Float]?,
                               rowWeights: [Float]? = nil, mean: Bool) -> Double {
        let c = logits.shape[1]
        var total = 0.0, weightSum = 0.0
        for (i, t) in targets.enumerated() where t != ignore {
            let row = (0..<c).map { Double(logits[i, $0]) }
            let m = row.max()!
            let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
            let w = Double(classWeights?[t] ?? 1) * Double(rowWeights?[i] ?? 1)
            total += w * (lse - row[t])
            weightSum += w
        }
        return mean ? total / weightSum : total
    }

    private let logits = Tensor(rows: [[2, -1, 0.5], [0.1, 0.2, 0.3], [-3, 4, 1], [1, 1, 1]])
    private let targets = [0, 2, -100, 1]
    private let weights: [Float] = [0.5, 2, 1.5]

    func testMatchesPyTorchWithIgnoreIndexAndClassWeights() {
        // torch.nn.functional.cross_entropy on the same tensors (torch 2.13.0+cpu):
        // plain 0.7806221842765808, weight=w 0.9551987051963806, weight=w sum 3.8207948207855225.
        XCTAssertEqual(CrossEntropyLoss()(logits: logits, targets: targets).loss, 0.7806221842765808, accuracy: 1e-6)
        XCTAssertEqual(CrossEntropyLoss(classWeights: weights)(logits: logits, targets: targets).loss,
                       0.9551987051963806, accuracy: 1e-6)
        XCTAssertEqual(CrossEntropyLoss(classWeights: weights, reduction: .sum)(logits: logits, targets: targets).loss,
                       3.8207948207855225, accuracy: 3e-6)
        // The row targeted −100 gets no gradient.
        let g = CrossEntropyLoss(classWeights: weights)(logits: logits, targets: targets).gradient
        XCTAssertEqual(g.rows(2..<3).scalars, [0, 0, 0])
        XCTAssertEqual(g[3, 1], -1.0 / 3.0, accuracy: 1e-6)  // torch: -0.3333
    }

    func testGradientsMatchFiniteDifferencesForEveryVariant() {
        var g = SeededGenerator(seed: 21)
        let x = Tensor.normal([6, 5], standardDeviation: 2, using: &g)
        let t = [4, 0, 7, 2, 7, 1]
        let classWeights: [Float] = [1, 0.5, 2, 1.5, 0.25]
        let rowWeights: [Float] = [1, 0, 1, 0.5, 1, 2]
        let variants: [(String, CrossEntropyLoss, [Float]?)] = [
            ("mean", CrossEntropyLoss(ignoreIndex: 7), nil),
            ("sum", CrossEntropyLoss(ignoreIndex: 7, reduction: .sum), nil),
            ("weighted mean", CrossEntropyLoss(ignoreIndex: 7, classWeights: classWeights), nil),
            ("weighted sum", CrossEntropyLoss(ignoreIndex: 7, classWeights: classWeights, reduction: .sum), nil),
            ("row weights", CrossEntropyLoss(ignoreIndex: 7, classWeights: classWeights), rowWeights),
        ]
        for (name, loss, rows) in variants {
            let (value, gradient) = loss(logits: x, targets: t, rowWeights: rows)
            let reference = referenceLoss(x, t, ignore: 7, classWeights: loss.classWeights, rowWeights: rows,
                                          mean: loss.reduction == .mean)
            XCTAssertEqual(value, reference, accuracy: 1e-6 * max(1, abs(reference)), name)
            // Gradient entries are O(0.1) here while the Float32 loss is quantised at ~1e-7 · |loss|,
            // so tiny entries are compared with a floor of 1e-2; a wide step (O(h⁴) stencil) keeps
            // the quantisation noise of the differences small.
            checkGradient(of: { loss(logits: $0, targets: t, rowWeights: rows).loss }, analytic: gradient, at: x,
                          step: 1.0 / 32, tolerance: 1e-3, floor: 1e-2, name)
        }
    }

    /// Rows wider than the kernel's 16 lanes (and not a multiple of them) against a Double
    /// reference, loss and gradient, with an ignored row among them.
    func testWideRowsMatchADoubleReference() {
        var generator = SeededGenerator(seed: 11)
        for classes in [16, 37, 1002] {
            let logits = Tensor.normal([5, classes], standardDeviation: 3, using: &generator)
            let targets = [0, classes - 1, -100, classes / 2, 7]
            let (loss, gradient) = CrossEntropyLoss()(logits: logits, targets: targets)
            XCTAssertEqual(loss, referenceLoss(logits, targets, ignore: -100, classWeights: nil, mean: true), accuracy: 1e-5)
            for (i, t) in targets.enumerated() {
                let row = (0..<classes).map { Double(logits[i, $0]) }
                let m = row.max()!
                let sum = row.reduce(0) { $0 + exp($1 - m) }
                for j in 0..<classes {
                    let expected = t == -100 ? 0 : (exp(row[j] - m) / sum - (j == t ? 1 : 0)) / 4
                    XCTAssertEqual(Double(gradient[i, j]), expected, accuracy: 1e-7, "row \(i), class \(j) of \(classes)")
                }
            }
        }
    }

    /// A logit that is NaN or infinite, anywhere in a row, makes the loss NaN (so that training
    /// stops with its divergence message), even where the maximum and the exp would hide it.
    func testANonFiniteLogitAnywhereMakesTheLossNaN() {
        for bad in [Float.nan, .infinity, -.infinity] {
            for position in [1, 20] {
                var scalars = [Float](repeating: 0.5, count: 40)
                scalars[position] = bad
                let logits = Tensor(shape: [1, 40], scalars: scalars)
                XCTAssertTrue(CrossEntropyLoss()(logits: logits, targets: [3]).loss.isNaN, "\(bad) at \(position)")
            }
        }
    }

    func testIsStableForHugeLogits() {
        let x = Tensor(rows: [[1000, -1000, 0], [-5e4, 5e4, 0]])
        let (loss, gradient) = CrossEntropyLoss()(logits: x, targets: [1, 1])
        XCTAssertEqual(loss, 1000, accuracy: 1e-3)  // row 0 costs 2000, row 1 costs 0
        XCTAssertTrue(gradient.isFinite)
        XCTAssertEqual(gradient[0, 0], 0.5, accuracy: 1e-6)
        XCTAssertEqual(gradient[0, 1], -0.5, accuracy: 1e-6)
    }

    func testAllRowsIgnoredGivesZeroLossAndZeroGradient() {
        let (loss, gradient) = CrossEntropyLoss(ignoreIndex: 0)(logits: logits, targets: [0, 0, 0, 0])
        XCTAssertEqual(loss, 0)
        XCTAssertEqual(gradient, Tensor(shape: [4, 3]))
        let masked = CrossEntropyLoss()(logits: logits, targets: [0, 1, 2, 0], rowWeights: [0, 0, 0, 0])
        XCTAssertEqual(masked.loss, 0)
        XCTAssertEqual(masked.gradient, Tensor(shape: [4, 3]))
    }

    func testNilIgnoreIndexCountsEveryRow() {
        let x = Tensor(rows: [[0, 0], [0, 0]])
        XCTAssertEqual(CrossEntropyLoss(ignoreIndex: nil)(logits: x, targets: [0, 1]).loss, log(2), accuracy: 1e-6)
    }
}
