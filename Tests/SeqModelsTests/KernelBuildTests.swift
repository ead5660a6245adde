import CKernels
import Foundation
import SeqModels
import XCTest

/// The hot kernels (the LSTM cell kernels and the product with packed weights among them) are
/// built several times (baseline, AVX2+FMA, AVX-512) and one build runs (`ComputeReportTests`
/// checks which). The builds with FMA must agree to the bit, so that a model gives the same
/// numbers on a processor with AVX-512 as on one without it; every build must compute the cell
/// and the product.
final class KernelBuildTests: XCTestCase {
    private struct Builds {
        let all: [sm_kernel_build]
        var names: [String] { all.map { String(cString: $0.name) } }
        var withFMA: [sm_kernel_build] { all.filter { String(cString: $0.name) != "baseline" } }
    }

    private func runnableBuilds() -> Builds {
        var pointer: UnsafePointer<sm_kernel_build>? = nil
        let count = sm_kernel_builds(&pointer)
        guard let pointer, count > 0 else { return Builds(all: []) }
        return Builds(all: Array(UnsafeBufferPointer(start: pointer, count: count)))
    }

    /// Pre-activations that reach every branch of the activations: saturated, near zero, tiny
    /// (where tanh returns its argument), and ordinary values.
    private func preActivations(_ count: Int, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        let special: [Float] = [0, -0.0, 1e-5, -3e-4, 5e-4, 12, -12, 40, -40, 95, -95, 0.5, -2]
        var values: [Float] = []
        for i in 0..<count {
            let random: Float = generator.nextFloat() * 8 - 4
            values.append(i % 3 == 0 ? special[(i / 3) % special.count] : random)
        }
        return values
    }

    func testTheBuildInUseIsOneOfTheBuilds() {
        let builds = runnableBuilds()
        XCTAssertGreaterThanOrEqual(builds.all.count, 1)
        XCTAssertTrue(builds.names.contains(Kernels.build))
    }

    func testFMABuildsAgreeToTheBitAndComputeTheCell() throws {
        let builds = runnableBuilds()
        let fma = builds.withFMA
        if fma.count < 2 {
            throw XCTSkip("This processor runs \(builds.names) only: no two FMA builds to compare")
        }
        for hidden in [1, 5, 16, 31, 32, 33, 48, 100, 128] {
            let rows = 3, stride = hidden + 3
            let gates = preActivations(rows * 4 * hidden, seed: UInt64(hidden))
            let previous = preActivations(rows * hidden, seed: UInt64(hidden) + 1000).map { $0 / 2 }
            let upstream = preActivations(rows * hidden, seed: UInt64(hidden) + 2000)
            var results: [[String: [UInt32]]] = []
            for build in fma {
                var activated = gates, cell = [Float](repeating: 0, count: rows * hidden), tanhCell = cell
                var h = [Float](repeating: 0, count: rows * stride)
                build.cell_forward(&activated, previous, &cell, &tanhCell, &h, stride, rows, hidden)
                var dc = upstream, dgates = [Float](repeating: 0, count: rows * 4 * hidden)
                build.cell_backward(activated, previous, tanhCell, upstream, &dc, &dgates, rows, hidden)
                var inferenceCell = previous, inferenceH = [Float](repeating: 0, count: rows * stride)
                build.cell_inference(gates, &inferenceCell, &inferenceH, stride, rows, hidden)
                XCTAssertEqual(inferenceCell, cell, "inference and forward give the same c, H \(hidden)")
                XCTAssertEqual(inferenceH, h, "inference and forward give the same h, H \(hidden)")
                // The cell against Double arithmetic.
                for r in 0..<rows {
                    for j in 0..<hidden {
                        func gate(_ k: Int) -> Double { Double(gates[r * 4 * hidden + k * hidden + j]) }
                        func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
                        let c = sigmoid(gate(1)) * Double(previous[r * hidden + j]) + sigmoid(gate(0)) * Foundation.tanh(gate(2))
                        let expectedH = sigmoid(gate(3)) * Foundation.tanh(c)
                        XCTAssertEqual(Double(cell[r * hidden + j]), c, accuracy: 1e-6 * max(1, abs(c)))
                        XCTAssertEqual(Double(h[r * stride + j]), expectedH, accuracy: 1e-6 * max(1, abs(expectedH)))
                    }
                }
                results.append(["activated": activated, "c": cell, "tanh c": tanhCell, "h": h, "dc": dc, "dgates": dgates]
                    .mapValues { $0.map(\.bitPattern) })
            }
            for (index, result) in results.enumerated().dropFirst() {
                for (name, bits) in results[0] {
                    XCTAssertEqual(result[name], bits, "\(name), H \(hidden): \(fma[index].name.map { String(cString: $0) } ?? "?") differs from the first FMA build")
                }
            }
        }
    }

    /// The fused softmax cross-entropy of each build against Double arithmetic, and the FMA builds
    /// against each other to the bit: rows narrower and wider than its 16 lanes, logits from
    /// saturated to tiny, an ignored row (scale 0).
    func testEveryBuildComputesTheSoftmaxCrossEntropyAndTheFMABuildsAgreeToTheBit() throws {
        let builds = runnableBuilds()
        for columns in [1, 3, 16, 17, 65, 1002] {
            let rows = 4
            let logits = preActivations(rows * columns, seed: UInt64(columns) + 7)
            let targets = (0..<rows).map { ($0 * 7 + 3) % columns }
            let scales: [Float] = [0.25, 0.5, 0, 1]
            var results: [[UInt32]] = []
            for build in builds.all {
                var gradient = [Float](repeating: 9, count: rows * columns), losses = [Float](repeating: 9, count: rows)
                build.softmax_cross_entropy_rows(logits, targets, scales, &gradient, &losses, rows, columns)
                for r in 0..<rows {
                    let row = (0..<columns).map { Double(logits[r * columns + $0]) }
                    let m = row.max()!, sum = row.reduce(0) { $0 + Foundation.exp($1 - m) }
                    let scale = Double(scales[r])
                    XCTAssertEqual(Double(losses[r]), scale == 0 ? 0 : -(row[targets[r]] - m - Foundation.log(sum)), accuracy: 1e-5)
                    for j in 0..<columns {
                        let expected = scale * (Foundation.exp(row[j] - m) / sum - (j == targets[r] ? 1 : 0))
                        XCTAssertEqual(Double(gradient[r * columns + j]), expected, accuracy: 1e-6,
                                       "\(String(cString: build.name)), \(columns) columns, row \(r), column \(j)")
                    }
                }
                if String(cString: build.name) != "baseline" { results.append((gradient + losses).map(\.bitPattern)) }
            }
            for result in results.dropFirst() { XCTAssertEqual(result, results[0], "\(columns) columns: the FMA builds differ") }
        }
    }

    /// `C += A · W` for each build, with `W` (`k × n`) packed once: every build against a Double
    /// product, and the FMA builds against each other to the bit. The shapes reach every block of
    /// both micro-kernels: 1 to 3 rows (blocks meeting several panels), 4 to 8-row blocks, more rows
    /// than one chunk (72), full and partial last panels, and panel counts that leave a rest after
    /// whole groups of 2, 3 and 4 panels.
    func testEveryBuildComputesThePackedProductAndTheFMABuildsAgreeToTheBit() throws {
        let builds = runnableBuilds()
        let shapes: [(m: Int, n: Int, k: Int)] = [
            (1, 16, 1), (1, 96, 5), (1, 130, 7), (1, 1024, 64), (2, 400, 33), (3, 80, 20), (4, 48, 5), (5, 96, 17),
            (7, 112, 9), (8, 144, 16), (9, 50, 12), (13, 64, 3), (20, 1024, 32), (32, 512, 128),
            (33, 200, 40), (75, 160, 24), (150, 60, 10),
        ]
        for shape in shapes {
            let (m, n, k) = shape
            var generator = SeededGenerator(seed: UInt64(m * 10_000 + n * 10 + k))
            func uniform(_ count: Int) -> [Float] { (0..<count).map { _ in generator.nextFloat() * 2 - 1 } }
            let lda = k + 3, ldc = n + 5
            let a = uniform(m * lda), w = uniform(k * n)
            // Past column n, -0: a kernel that adds the zero padding of its last panel there makes it +0.
            let start = uniform(m * ldc).enumerated().map { $0.offset % ldc < n ? $0.element : -0.0 }
            var packed = [Float](repeating: .nan, count: sm_packed_size(n, k))
            sm_pack_weights(w, n, n, k, 0, &packed)
            var results: [String: [Float]] = [:]
            for build in builds.all {
                var c = start
                build.gemm_packed(m, n, k, a, lda, packed, &c, ldc)
                let name = String(cString: build.name)
                for i in 0..<m {
                    for j in 0..<ldc {
                        let index = i * ldc + j
                        guard j < n else {
                            XCTAssertEqual(c[index].bitPattern, start[index].bitPattern, "\(name) \(shape): wrote past column n at [\(i), \(j)]")
                            continue
                        }
                        var expected = Double(start[index]), magnitude = abs(expected)
                        for kk in 0..<k {
                            let term = Double(a[i * lda + kk]) * Double(w[kk * n + j])
                            expected += term
                            magnitude += abs(term)
                        }
                        XCTAssertEqual(Double(c[index]), expected, accuracy: 1e-6 * magnitude + 1e-30,
                                       "\(name) \(shape) at [\(i), \(j)]")
                    }
                }
                results[name] = c
            }
            let fma = builds.withFMA.map { String(cString: $0.name) }
            for name in fma.dropFirst() {
                XCTAssertEqual(results[name]?.map(\.bitPattern), results[fma[0]]?.map(\.bitPattern),
                               "\(shape): the \(name) build differs from the \(fma[0]) build")
            }
            // The function the library calls is the build in use.
            var c = start
            sm_gemm_packed(m, n, k, a, lda, packed, &c, ldc)
            XCTAssertEqual(c.map(\.bitPattern), results[Kernels.build]?.map(\.bitPattern), "\(shape): sm_gemm_packed is not the \(Kernels.build) build")
        }
        if builds.withFMA.count < 2 {
            throw XCTSkip("This processor runs \(builds.names) only: each build checked, but no two FMA builds to compare")
        }
    }
}
