import XCTest
@testable import SeqModels

/// The packed-weights GEMM (`PackedWeights`, C `sm_gemm_packed`) against a double-precision
/// product, over the row counts that pick its different blockings (1 and 2 rows with several
/// panels at once, evenly sized 3–6-row blocks, chunks of 72 rows) and widths that leave a
/// partial panel.
final class PackedWeightsTests: XCTestCase {
    private let rowCounts = [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 17, 32, 71, 72, 73, 150]
    private let widths = [1, 17, 64, 100, 130]
    private let depths = [1, 48]

    func testProductsMatchDoublePrecisionForEveryBlocking() {
        var g = SeededGenerator(seed: 5)
        for n in widths {
            for k in depths {
                let stored = Tensor.normal([n, k], using: &g)        // W = storedᵀ, as for weight_hh
                let packed = PackedWeights(transposeOf: stored)
                let transposedScalars = (0..<k).flatMap { q in (0..<n).map { j in stored[j, q] } }
                let plain = PackedWeights(Tensor(shape: [k, n], scalars: transposedScalars))   // the same W as [k, n]
                for m in rowCounts {
                    let lda = k + 3, ldc = n + 5                    // strided rows on both sides
                    let a = Tensor.normal([m, lda], using: &g)
                    let initial = Tensor.normal([m, ldc], using: &g)
                    for (name, weights) in [("transposed", packed), ("plain", plain)] {
                        var c = initial
                        a.withUnsafeBufferPointer { ap in
                            c.withUnsafeMutableBufferPointer { cp in
                                weights.accumulateProduct(rows: m, a: ap.baseAddress!, lda: lda, into: cp.baseAddress!, ldc: ldc)
                            }
                        }
                        let (as_, ws, cs, c0) = (a.scalars, stored.scalars, c.scalars, initial.scalars)
                        var worst = 0.0, worstAt = (0, 0)
                        for i in 0..<m {
                            for j in 0..<ldc {
                                var expected = Double(c0[i * ldc + j])
                                if j < n {
                                    for q in 0..<k { expected += Double(as_[i * lda + q]) * Double(ws[j * k + q]) }
                                }
                                let error = abs(Double(cs[i * ldc + j]) - expected) / (Double(k).squareRoot() * 4 + abs(expected))
                                if error > worst { (worst, worstAt) = (error, (i, j)) }
                            }
                        }
                        XCTAssertLessThan(worst, 1e-6, "\(name) m=\(m) n=\(n) k=\(k), worst at \(worstAt)")
                    }
                }
            }
        }
    }

    /// Each row's result is the same, bit for bit, whatever rows it is computed with: the
    /// property that lets the LSTM change how many rows a step multiplies (packed batches,
    /// a direction split over two threads) without changing its numbers.
    func testEachRowIsBitIdenticalWhateverTheRowsAroundIt() {
        var g = SeededGenerator(seed: 9)
        let n = 100, k = 48
        let weights = PackedWeights(transposeOf: Tensor.normal([n, k], using: &g))
        let a = Tensor.normal([150, k], using: &g)
        func product(rows: Range<Int>) -> [[UInt32]] {
            var c = Tensor(shape: [rows.count, n])
            a.withUnsafeBufferPointer { ap in
                c.withUnsafeMutableBufferPointer { cp in
                    weights.accumulateProduct(rows: rows.count, a: ap.baseAddress! + rows.lowerBound * k, lda: k,
                                              into: cp.baseAddress!, ldc: n)
                }
            }
            return (0..<rows.count).map { i in (0..<n).map { c[i, $0].bitPattern } }
        }
        let all = product(rows: 0..<150)
        for m in [1, 2, 3, 5, 7, 13, 72, 73] {
            for start in [0, 1, 40, 150 - m] {
                XCTAssertEqual(product(rows: start..<(start + m)), Array(all[start..<(start + m)]), "rows \(start)..<\(start + m)")
            }
        }
    }
}
