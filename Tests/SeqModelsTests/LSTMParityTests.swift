import Foundation
import XCTest
import GradientChecking
@testable import SeqModels

/// The LSTM against PyTorch's `nn.LSTM`: forward outputs, final states and every gradient,
/// on fixtures written by `Tools/make_lstm_fixtures.py` (torch 2.13.0+cpu).
///
/// Each fixture holds an `nn.LSTM` state dict under the prefix `lstm.`, a time-major padded
/// input `(T, B, I)` with per-sequence `lengths` (unsorted, uneven in the packed cases),
/// optional `h0`/`c0`, the upstream gradients `grad_output`, `grad_h_n`, `grad_c_n`, and the
/// expected `output`, `h_n`, `c_n`, `grad_input`, `grad_h0`, `grad_c0` and `grad.lstm.<name>`
/// of the loss `Σ output⊙grad_output + Σ h_n⊙grad_h_n + Σ c_n⊙grad_c_n`. Expected values
/// are torch's float64 results for the float32 weights and inputs, rounded to float32.
///
/// Tolerances, elementwise `|actual − expected| ≤ atol + rtol·|expected|`:
/// forward (`output`, `h_n`, `c_n`) rtol 1e-5, atol 1e-6; gradients rtol 1e-4, atol 1e-6.
final class LSTMParityTests: XCTestCase {
    static let forwardTolerance = (relative: Float(1e-5), absolute: Float(1e-6))
    static let gradientTolerance = (relative: Float(1e-4), absolute: Float(1e-6))

    /// Every fixture case written by the generator; `testEveryFixtureIsChecked` keeps this list honest.
    static let cases = ["uni_l1", "uni_l1_state", "bi_l1", "bi_l1_nostate", "uni_l2", "bi_l3",
                        "packed_uni_l2_state", "packed_uni_l2", "packed_bi_l2_state", "packed_bi_l2"]

    private static func fixtureDirectory() throws -> URL {
        let root = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "test bundle has no Fixtures folder")
        return root.appendingPathComponent("lstm")
    }

    // MARK: - Cases

    func testUnidirectionalSingleLayerMatchesPyTorch() throws {
        try checkFixture("uni_l1")
        try checkFixture("uni_l1_state")
    }

    func testBidirectionalSingleLayerMatchesPyTorch() throws {
        try checkFixture("bi_l1")
        try checkFixture("bi_l1_nostate")
    }

    func testUnidirectionalTwoLayersWithInitialStateMatchesPyTorch() throws {
        try checkFixture("uni_l2")
    }

    func testBidirectionalThreeLayersMatchesPyTorch() throws {
        try checkFixture("bi_l3")
    }

    func testPackedUnsortedUnidirectionalTwoLayersMatchesPyTorch() throws {
        try checkFixture("packed_uni_l2_state")
        try checkFixture("packed_uni_l2")
    }

    func testPackedUnsortedBidirectionalTwoLayersMatchesPyTorch() throws {
        try checkFixture("packed_bi_l2_state")
        try checkFixture("packed_bi_l2")
    }

    /// No fixture file is left unchecked, and none of the listed ones is missing.
    func testEveryFixtureIsChecked() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.fixtureDirectory().path)
            .filter { $0.hasSuffix(".safetensors") }
            .map { String($0.dropLast(".safetensors".count)) }
        XCTAssertEqual(Set(files), Set(Self.cases))
    }

    // MARK: - Checking one fixture

    private func checkFixture(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let fixture = try SafeTensors(contentsOf: Self.fixtureDirectory().appendingPathComponent(name + ".safetensors"))
        let prefix = "lstm."
        let configuration = try LSTMStateDict.configuration(of: fixture, prefix: prefix)
        var unused = SeededGenerator(seed: 0)
        var lstm = LSTM(configuration, generator: &unused)
        var weights: [String: Tensor] = [:]
        for (parameterName, _) in lstm.namedParameters(prefix: prefix) {
            weights[parameterName] = try fixture.floatTensor(parameterName)
        }
        try lstm.loadParameters(weights, prefix: prefix)

        let input = try fixture.floatTensor("input")
        let T = input.shape[0]
        let lengths = try fixture.int64Array("lengths").map { Int($0) }
        let packed = try packPaddedSequence(input, lengths: lengths, enforceSorted: false)
        let initialState = fixture.contains("h0")
            ? LSTMState(hidden: try fixture.floatTensor("h0"), cell: try fixture.floatTensor("c0")) : nil
        XCTAssertEqual(fixture.contains("grad_h0"), initialState != nil, "\(name): grad_h0 present iff h0 is", file: file, line: line)

        var report = Report(name: name)
        let check = { (tensor: String, actual: Tensor, tolerance: (relative: Float, absolute: Float)) throws in
            try self.compare(actual, fixture.floatTensor(tensor), tensor: "\(name): \(tensor)",
                             tolerance: tolerance, report: &report, file: file, line: line)
        }

        // Inference path (no cache) and training path (cache, dropout 0) must both match. Inference
        // runs the directions one after the other with one thread, side by side with two.
        let threads = BLAS.threadCount
        defer { BLAS.setThreadCount(threads) }
        for threadCount in [1, 2] {
            BLAS.setThreadCount(threadCount)
            let (inferenceOutput, inferenceState) = lstm(packed, initialState: initialState)
            try check("output", padPackedSequence(inferenceOutput, totalLength: T).padded, Self.forwardTolerance)
            try check("h_n", inferenceState.hidden, Self.forwardTolerance)
            try check("c_n", inferenceState.cell, Self.forwardTolerance)
        }

        // Training path, likewise with one thread and with two (directions side by side).
        let untrained = lstm
        for threadCount in [1, 2] {
            BLAS.setThreadCount(threadCount)
            var lstm = untrained
            var generator = SeededGenerator(seed: 1)
            let (output, finalState, cache) = lstm.forward(packed, initialState: initialState, generator: &generator)
            try check("output", padPackedSequence(output, totalLength: T).padded, Self.forwardTolerance)
            try check("h_n", finalState.hidden, Self.forwardTolerance)
            try check("c_n", finalState.cell, Self.forwardTolerance)

            let outputGradient = try packPaddedSequence(fixture.floatTensor("grad_output"), lengths: lengths, enforceSorted: false).data
            let finalStateGradient = LSTMState(hidden: try fixture.floatTensor("grad_h_n"), cell: try fixture.floatTensor("grad_c_n"))
            let (inputGradient, initialStateGradient) = lstm.backward(cache, outputGradient: outputGradient,
                                                                      finalStateGradient: finalStateGradient)
            let paddedInputGradient = try padPackedSequence(packed.replacingData(inputGradient), totalLength: T).padded
            try check("grad_input", paddedInputGradient, Self.gradientTolerance)
            if initialState != nil {
                try check("grad_h0", initialStateGradient.hidden, Self.gradientTolerance)
                try check("grad_c0", initialStateGradient.cell, Self.gradientTolerance)
            }
            let gradients = lstm.namedGradients(prefix: prefix)
            XCTAssertEqual(Set(gradients.map { "grad." + $0.name }), Set(fixture.names.filter { $0.hasPrefix("grad.") }),
                           "\(name): parameter gradients in the fixture", file: file, line: line)
            for (parameterName, gradient) in gradients {
                try check("grad." + parameterName, gradient, Self.gradientTolerance)
            }
        }
        print(report.summary)
    }

    /// Largest errors seen in one fixture, printed so that runs can be compared.
    private struct Report {
        var name: String
        var forwardAbsolute: Float = 0, forwardRelative: Float = 0
        var gradientAbsolute: Float = 0, gradientRelative: Float = 0
        var summary: String {
            "LSTM parity \(name): forward max abs \(forwardAbsolute), max rel \(forwardRelative); "
                + "gradients max abs \(gradientAbsolute), max rel \(gradientRelative)"
        }
    }

    /// Elementwise `|actual − expected| ≤ atol + rtol·|expected|`; reports the first failing
    /// index with both values, and records the largest absolute and relative errors.
    private func compare(_ actual: Tensor, _ expected: Tensor, tensor: String, tolerance: (relative: Float, absolute: Float),
                         report: inout Report, file: StaticString, line: UInt) {
        guard actual.shape == expected.shape else {
            XCTFail("\(tensor): shape \(actual.shape), expected \(expected.shape)", file: file, line: line)
            return
        }
        var maxAbsolute: Float = 0, maxRelative: Float = 0
        var failures = 0
        let a = actual.scalars, e = expected.scalars
        for i in 0..<a.count {
            let error = abs(a[i] - e[i])
            maxAbsolute = max(maxAbsolute, error)
            if e[i] != 0 { maxRelative = max(maxRelative, error / abs(e[i])) }
            if !(error <= tolerance.absolute + tolerance.relative * abs(e[i])) {
                if failures == 0 {
                    XCTFail("\(tensor)\(multiIndex(i, shape: expected.shape)): SeqModels \(a[i]), PyTorch \(e[i]), "
                            + "|difference| \(error) > \(tolerance.absolute) + \(tolerance.relative)·|PyTorch|",
                            file: file, line: line)
                }
                failures += 1
            }
        }
        if failures > 1 {
            XCTFail("\(tensor): \(failures) of \(a.count) elements outside the tolerance", file: file, line: line)
        }
        if tolerance.relative == Self.forwardTolerance.relative {
            report.forwardAbsolute = max(report.forwardAbsolute, maxAbsolute)
            report.forwardRelative = max(report.forwardRelative, maxRelative)
        } else {
            report.gradientAbsolute = max(report.gradientAbsolute, maxAbsolute)
            report.gradientRelative = max(report.gradientRelative, maxRelative)
        }
    }

    private func multiIndex(_ flat: Int, shape: [Int]) -> String {
        var rest = flat
        var index = [Int](repeating: 0, count: shape.count)
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            index[d] = rest % shape[d]
            rest /= shape[d]
        }
        return "[" + index.map(String.init).joined(separator: ", ") + "]"
    }
}
