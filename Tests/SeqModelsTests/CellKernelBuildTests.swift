import CKernels
import Foundation
import SeqModels
import XCTest

/// The LSTM cell kernels are built several times (baseline, AVX2+FMA, AVX-512) and one build is
/// picked for the processor when the library loads. The builds with FMA must agree to the bit,
/// so that a model gives the same numbers on an AMD processor with AVX-512 as on an Intel one
/// without it; every build must compute the cell.
final class CellKernelBuildTests: XCTestCase {
    private struct Builds {
        let all: [sm_lstm_cell_build]
        var names: [String] { all.map { String(cString: $0.name) } }
    }

    private func runnableBuilds() -> Builds {
        var pointer: UnsafePointer<sm_lstm_cell_build>? = nil
        let count = sm_lstm_cell_builds(&pointer)
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
        XCTAssertTrue(builds.names.contains(Kernels.cellKernelBuild))
    }

    func testFMABuildsAgreeToTheBitAndComputeTheCell() throws {
        let builds = runnableBuilds()
        let fma = builds.all.filter { String(cString: $0.name) != "baseline" }
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
                build.forward(&activated, previous, &cell, &tanhCell, &h, stride, rows, hidden)
                var dc = upstream, dgates = [Float](repeating: 0, count: rows * 4 * hidden)
                build.backward(activated, previous, tanhCell, upstream, &dc, &dgates, rows, hidden)
                var inferenceCell = previous, inferenceH = [Float](repeating: 0, count: rows * stride)
                build.inference(gates, &inferenceCell, &inferenceH, stride, rows, hidden)
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
}
