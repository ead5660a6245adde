import XCTest
@testable import SeqModels

/// An `LSTM` keeps its packed inference weights between passes (`InferenceWeightCache`); these
/// tests check that a pass never runs on weights packed from parameters that have since changed,
/// whichever way they changed and whichever copy of the model changed them.
final class LSTMInferenceCacheTests: XCTestCase {
    private let lengths = [5, 2, 4]

    private func model(seed: UInt64 = 3, layers: Int = 2, bidirectional: Bool = true) -> LSTM {
        var generator = SeededGenerator(seed: seed)
        return LSTM(inputSize: 6, hiddenSize: 8, layerCount: layers, bidirectional: bidirectional, generator: &generator)
    }

    private func input() throws -> PackedSequence {
        var generator = SeededGenerator(seed: 11)
        let layout = try PackingLayout(lengths: lengths)
        return layout.packedSequence(data: .uniform([layout.rowCount, 6], low: -1, high: 1, using: &generator))
    }

    /// A model that has never run, with `change` applied: its result is computed from its parameters alone.
    private func fresh(_ change: (inout LSTM) -> Void) -> LSTM {
        var lstm = model()
        change(&lstm)
        return lstm
    }

    func testRepeatedPassesReuseThePackedWeights() throws {
        let lstm = model(), x = try input()
        XCTAssertEqual(lstm.cachedInferenceWeightCount, 0)
        let first = bits(lstm, x)
        // Two layers × two directions, packed on the first pass and kept.
        XCTAssertEqual(lstm.cachedInferenceWeightCount, 4)
        XCTAssertEqual(bits(lstm, x), first)
        XCTAssertEqual(lstm.cachedInferenceWeightCount, 4)
    }

    /// Runs a model, applies `change`, runs it again: the second pass must differ from the first
    /// and equal the pass of a model that had the change before it ever ran.
    private func assertTheNextPassSees(_ change: (inout LSTM) -> Void, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try input()
        var lstm = model()
        let before = bits(lstm, x)
        change(&lstm)
        XCTAssertEqual(lstm.cachedInferenceWeightCount, 0, "a change empties the cache", file: file, line: line)
        let after = bits(lstm, x)
        XCTAssertNotEqual(after, before, "the change must matter for the test to mean anything", file: file, line: line)
        XCTAssertEqual(after, bits(fresh(change), x), file: file, line: line)
    }

    func testChangingAWeightInPlaceIsSeenByTheNextPass() throws {
        try assertTheNextPassSees { lstm in
            lstm.cells[3].weightHH.value.withUnsafeMutableBufferPointer { w in
                for i in w.indices { w[i] *= 0.5 }
            }
        }
    }

    func testAnOptimizerStepIsSeenByTheNextPass() throws {
        // Gradients of ones, one SGD step: every parameter moves through `visitParameters`.
        try assertTheNextPassSees { lstm in
            lstm.visitParameters(prefix: "") { _, parameter in
                parameter.gradient = Tensor(shape: parameter.value.shape, repeating: 1)
            }
            var optimizer = SGD(learningRate: 0.1)
            optimizer.step(&lstm)
        }
    }

    func testReplacingTheBiasesIsSeenByTheNextPass() throws {
        try assertTheNextPassSees { lstm in
            var cells = lstm.cells
            cells[0].biasIH = Parameter(Tensor(shape: [32], repeating: 2))
            lstm.cells = cells
        }
    }

    /// Copies share a cache until one changes: the changed copy runs on its new weights, the
    /// other keeps its own, whichever ran first.
    func testCopiesKeepTheirOwnWeights() throws {
        let x = try input()
        let change: (inout LSTM) -> Void = { lstm in
            lstm.cells[0].weightIH.value.withUnsafeMutableBufferPointer { w in w[0] += 1 }
        }
        let original = model()
        let originalBits = bits(original, x)   // fills the cache that the copy below shares
        var copy = original
        change(&copy)
        let changedBits = bits(copy, x)
        XCTAssertNotEqual(changedBits, originalBits)
        XCTAssertEqual(changedBits, bits(fresh(change), x))
        XCTAssertEqual(bits(original, x), originalBits, "the unchanged copy still runs on its own weights")

        // The other order: the copy changes before either has run.
        let second = model()
        var secondCopy = second
        change(&secondCopy)
        XCTAssertEqual(bits(secondCopy, x), changedBits)
        XCTAssertEqual(bits(second, x), originalBits)
    }

    /// Passes on several threads at once over one model build each entry once and agree.
    func testConcurrentPassesShareOneCache() throws {
        let lstm = model(), x = try input()
        let expected = bits(model(), x)
        let results = UnsafeMutableBufferPointer<[UInt32]>.allocate(capacity: 8)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        let sink = UncheckedSendable(results)
        DispatchQueue.concurrentPerform(iterations: 8) { i in sink.value[i] = bits(lstm, x) }
        for i in 0..<8 { XCTAssertEqual(results[i], expected, "pass \(i)") }
        XCTAssertEqual(lstm.cachedInferenceWeightCount, 4)
    }
}

/// Output and final states of one inference pass, as bit patterns.
private func bits(_ lstm: LSTM, _ input: PackedSequence) -> [UInt32] {
    let (output, state) = lstm(input)
    return (output.data.scalars + state.hidden.scalars + state.cell.scalars).map(\.bitPattern)
}

/// Lets the concurrent test write its results from the threads of `concurrentPerform`, each to its own slot.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
