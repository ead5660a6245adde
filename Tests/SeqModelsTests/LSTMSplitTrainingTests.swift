import XCTest
@testable import SeqModels

/// Training that shares the recurrence of one LSTM direction between two threads by sequences
/// (forward and backward) gives the results of the unshared recurrence to the bit.
final class LSTMSplitTrainingTests: BLASThreadCountTestCase {
    /// Uneven lengths, unsorted, so that rows end at different steps and the parts differ in length.
    private let lengths = [4, 9, 1, 7, 9, 3, 6]

    /// Every result of one forward and backward pass, as bit patterns by name.
    private func trainingResults(_ model: LSTM, input: PackedSequence, initialState: LSTMState?,
                                 outputGradient: Tensor, finalStateGradient: LSTMState?,
                                 split: LSTM.DirectionSplit) -> [String: [UInt32]] {
        var lstm = model
        var generator = SeededGenerator(seed: 5)
        let (output, finalState, cache) = lstm.forward(input, initialState: initialState, generator: &generator, split: split)
        let (inputGradient, initialGradient) = lstm.backward(cache, outputGradient: outputGradient,
                                                             finalStateGradient: finalStateGradient, split: split)
        var results: [String: [UInt32]] = [
            "output": output.data.scalars.map(\.bitPattern),
            "hN": finalState.hidden.scalars.map(\.bitPattern), "cN": finalState.cell.scalars.map(\.bitPattern),
            "grad input": inputGradient.scalars.map(\.bitPattern),
            "grad h0": initialGradient.hidden.scalars.map(\.bitPattern), "grad c0": initialGradient.cell.scalars.map(\.bitPattern),
        ]
        lstm.visitParameters(prefix: "grad ") { name, parameter in results[name] = parameter.gradient.scalars.map(\.bitPattern) }
        return results
    }

    func testSplitRecurrencesMatchTheUnsplitOnesBitForBit() throws {
        BLAS.setThreadCount(2)
        for (layers, hidden) in [(1, 37), (2, 24)] {
            var generator = SeededGenerator(seed: UInt64(layers * 100 + hidden))
            let lstm = LSTM(inputSize: 11, hiddenSize: hidden, layerCount: layers, dropout: 0.25, generator: &generator)
            let layout = try PackingLayout(lengths: lengths)
            let input = layout.packedSequence(data: .uniform([layout.rowCount, 11], low: -1, high: 1, using: &generator))
            let outputGradient = Tensor.uniform([layout.rowCount, hidden], low: -1, high: 1, using: &generator)
            let stateShape = [layers, lengths.count, hidden]
            let state = LSTMState(hidden: .uniform(stateShape, low: -1, high: 1, using: &generator),
                                  cell: .uniform(stateShape, low: -1, high: 1, using: &generator))
            let stateGradient = LSTMState(hidden: .uniform(stateShape, low: -1, high: 1, using: &generator),
                                          cell: .uniform(stateShape, low: -1, high: 1, using: &generator))
            XCTAssertNotNil(LSTM.DirectionSplit.always.sequenceBoundary(directions: 1, batchSizes: layout.batchSizes, hidden: hidden),
                            "the split under test must happen")
            for (initial, finalGradient) in [(nil, nil), (state, stateGradient)] as [(LSTMState?, LSTMState?)] {
                let label = "layers \(layers), H \(hidden), states \(initial != nil)"
                let expected = trainingResults(lstm, input: input, initialState: initial, outputGradient: outputGradient,
                                               finalStateGradient: finalGradient, split: .never)
                let actual = trainingResults(lstm, input: input, initialState: initial, outputGradient: outputGradient,
                                             finalStateGradient: finalGradient, split: .always)
                XCTAssertEqual(Set(actual.keys), Set(expected.keys), label)
                for (name, bits) in expected {
                    XCTAssertEqual(actual[name], bits, "\(name), \(label)")
                }
                XCTAssertTrue(expected["grad h0"]!.contains { $0 != 0 }, "the initial-state gradient must be exercised: " + label)
            }
        }
    }

    /// The public entry points split at the default thresholds for a batch of 16 128-unit sequences,
    /// and give at two threads what they give at one.
    func testMeasuredSplitOfPublicTrainingEqualsOneThread() throws {
        var generator = SeededGenerator(seed: 13)
        let lstm = LSTM(inputSize: 8, hiddenSize: 128, layerCount: 1, generator: &generator)
        let layout = try PackingLayout(lengths: Array(repeating: 17, count: 16))
        let input = layout.packedSequence(data: .uniform([layout.rowCount, 8], low: -1, high: 1, using: &generator))
        let outputGradient = Tensor.uniform([layout.rowCount, 128], low: -1, high: 1, using: &generator)
        BLAS.setThreadCount(2)
        XCTAssertNotNil(LSTM.DirectionSplit.measured.sequenceBoundary(directions: 1, batchSizes: layout.batchSizes, hidden: 128))
        let twoThreads = trainingResults(lstm, input: input, initialState: nil, outputGradient: outputGradient,
                                         finalStateGradient: nil, split: .measured)
        BLAS.setThreadCount(1)
        let oneThread = trainingResults(lstm, input: input, initialState: nil, outputGradient: outputGradient,
                                        finalStateGradient: nil, split: .measured)
        for (name, bits) in oneThread { XCTAssertEqual(twoThreads[name], bits, name) }
    }
}
