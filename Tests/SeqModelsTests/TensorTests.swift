import XCTest
@testable import SeqModels

final class TensorTests: XCTestCase {
    func testMatmulMatchesHandComputedProduct() {
        let a = Tensor(rows: [[1, 2, 3], [4, 5, 6]])
        let b = Tensor(rows: [[7, 8], [9, 10], [11, 12]])
        XCTAssertEqual(Tensor.matmul(a, b), Tensor(rows: [[58, 64], [139, 154]]))
        XCTAssertEqual(Tensor.matmul(b, a, transposeA: true, transposeB: true),
                       Tensor(rows: [[58, 139], [64, 154]]))
    }

    func testKernelsMatchLibm() {
        var g = SeededGenerator(seed: 1)
        var xs = (0..<4000).map { _ in g.nextFloat(in: -30..<30) }
        xs += [0, 1e-6, -1e-6, 3e-4, -5e-4, 88, -88, 100, -100, 1e-30]
        let x = Tensor(shape: [xs.count], scalars: xs)
        let s = Kernels.sigmoid(x), t = Kernels.tanh(x), e = Kernels.exp(x)
        for i in 0..<xs.count {
            let v = Double(xs[i])
            let refS = 1 / (1 + Foundation.exp(-v)), refT = Foundation.tanh(v)
            XCTAssertEqual(Double(s[flat: i]), refS, accuracy: 4e-7 * max(refS, 1e-30) + 1e-30, "sigmoid(\(v))")
            XCTAssertEqual(Double(t[flat: i]), refT, accuracy: 4e-7 * max(abs(refT), 1e-30), "tanh(\(v))")
            if abs(v) < 80 {
                let refE = Foundation.exp(v)
                XCTAssertEqual(Double(e[flat: i]), refE, accuracy: 4e-7 * refE, "exp(\(v))")
            }
        }
    }

    func testLogSoftmaxIsStableForLargeLogits() {
        let x = Tensor(rows: [[1000, 1001, 1002], [-1000, 0, 1000]])
        let y = Kernels.logSoftmax(x)
        XCTAssertTrue(y.isFinite)
        XCTAssertEqual(y[0, 2], -0.40760596, accuracy: 1e-6)
        XCTAssertEqual(y[1, 2], 0, accuracy: 1e-6)
    }

    func testSeededGeneratorIsDeterministic() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let xa = (0..<10).map { _ in a.next() }, xb = (0..<10).map { _ in b.next() }, xc = (0..<10).map { _ in c.next() }
        XCTAssertEqual(xa, xb)
        XCTAssertNotEqual(xa, xc)
    }
}
import Foundation
