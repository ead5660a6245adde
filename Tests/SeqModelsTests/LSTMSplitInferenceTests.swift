import XCTest
@testable import SeqModels

/// Inference that runs one LSTM direction as two halves of its hidden units on two threads
/// (`LSTM.DirectionSplit`, `ThreadPair`, `SpinBarrier`) gives the one-thread results to the bit.
final class LSTMSplitInferenceTests: XCTestCase {
    private var savedThreadCount = 1

    override func setUp() {
        super.setUp()
        savedThreadCount = BLAS.threadCount
    }

    override func tearDown() {
        BLAS.setThreadCount(savedThreadCount)
        super.tearDown()
    }

    /// Uneven lengths, unsorted, so that rows end at different steps.
    private let lengths = [4, 9, 1, 7, 9, 3]

    private func assertBitIdentical(_ actual: Tensor, _ expected: Tensor, _ message: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
        XCTAssertEqual(actual.scalars.map(\.bitPattern), expected.scalars.map(\.bitPattern), message, file: file, line: line)
    }

    /// Packed rows, one and two layers, odd and even hidden sizes, with and without `(h0, c0)`:
    /// the split at two threads equals the one-thread pass exactly, output and final states.
    func testSplitDirectionMatchesOneThreadBitForBitOnPackedRows() throws {
        for (layers, hidden) in [(1, 37), (2, 37), (2, 24)] {
            var generator = SeededGenerator(seed: UInt64(layers * 100 + hidden))
            let lstm = LSTM(inputSize: 11, hiddenSize: hidden, layerCount: layers, generator: &generator)
            let layout = try PackingLayout(lengths: lengths)
            let input = layout.packedSequence(data: .uniform([layout.rowCount, 11], low: -1, high: 1, using: &generator))
            let state = LSTMState(hidden: .uniform([layers, lengths.count, hidden], low: -1, high: 1, using: &generator),
                                  cell: .uniform([layers, lengths.count, hidden], low: -1, high: 1, using: &generator))
            for initial in [nil, state] {
                let label = "layers \(layers), H \(hidden), initial state \(initial != nil)"
                BLAS.setThreadCount(1)
                let expected = lstm.inference(input, initialState: initial, split: .always)
                XCTAssertEqual(expected.splitLayers, 0, "one thread never splits: " + label)
                BLAS.setThreadCount(2)
                let actual = lstm.inference(input, initialState: initial, split: .always)
                XCTAssertEqual(actual.splitLayers, layers, "every layer splits at two threads: " + label)
                assertBitIdentical(actual.output.data, expected.output.data, "output, " + label)
                assertBitIdentical(actual.finalState.hidden, expected.finalState.hidden, "hN, " + label)
                assertBitIdentical(actual.finalState.cell, expected.finalState.cell, "cN, " + label)
                XCTAssertEqual(actual.output.sortedIndices, expected.output.sortedIndices, label)
            }
        }
    }

    /// The distinct-rows entry point (embedded tokens) splits the same way, its one-off projection
    /// of the distinct rows included.
    func testSplitDirectionMatchesOneThreadBitForBitOnDistinctRows() throws {
        var generator = SeededGenerator(seed: 11)
        let hidden = 37, layers = 2
        let lstm = LSTM(inputSize: 5, hiddenSize: hidden, layerCount: layers, generator: &generator)
        let distinct = Tensor.uniform([6, 5], low: -1, high: 1, using: &generator)
        let tokens: [[Int]] = [[0, 1, 2, 1], [3], [2, 2, 0, 3, 1, 5, 0], [1, 4]]
        let layout = try PackingLayout(sequences: tokens)
        let rowIndices = layout.pack(tokens)
        let state = LSTMState(hidden: .uniform([layers, tokens.count, hidden], low: -1, high: 1, using: &generator),
                              cell: .uniform([layers, tokens.count, hidden], low: -1, high: 1, using: &generator))
        for initial in [nil, state] {
            let label = "initial state \(initial != nil)"
            BLAS.setThreadCount(1)
            let expected = lstm.inference(distinctRows: distinct, rowIndices: rowIndices, layout: layout,
                                          initialState: initial, split: .always)
            BLAS.setThreadCount(2)
            let actual = lstm.inference(distinctRows: distinct, rowIndices: rowIndices, layout: layout,
                                        initialState: initial, split: .always)
            XCTAssertEqual(expected.splitLayers, 0, label)
            XCTAssertEqual(actual.splitLayers, layers, label)
            assertBitIdentical(actual.output.data, expected.output.data, "output, " + label)
            assertBitIdentical(actual.finalState.hidden, expected.finalState.hidden, "hN, " + label)
            assertBitIdentical(actual.finalState.cell, expected.finalState.cell, "cN, " + label)
        }
    }

    /// With the default thresholds, 17 steps of 16 rows of a 128-unit LSTM split at two threads, and
    /// the public entry point gives the same bits at two threads as at one.
    func testMeasuredSplitOfPublicInferenceEqualsOneThread() throws {
        var generator = SeededGenerator(seed: 12)
        let lstm = LSTM(inputSize: 8, hiddenSize: 128, layerCount: 1, generator: &generator)
        let layout = try PackingLayout(lengths: Array(repeating: 17, count: 16))
        let input = layout.packedSequence(data: .uniform([layout.rowCount, 8], low: -1, high: 1, using: &generator))
        BLAS.setThreadCount(1)
        let (expected, expectedState) = lstm(input)
        BLAS.setThreadCount(2)
        XCTAssertEqual(lstm.inference(input, initialState: nil, split: .measured).splitLayers, 1)
        let (actual, actualState) = lstm(input)
        assertBitIdentical(actual.data, expected.data, "output")
        assertBitIdentical(actualState.hidden, expectedState.hidden, "hN")
        assertBitIdentical(actualState.cell, expectedState.cell, "cN")
    }

    /// Only one direction at two or more threads splits, and the measured threshold keeps small
    /// steps (a one-sentence, small-model step) on one thread while the benchmark's shapes split.
    func testSplitIsChosenForOneDirectionWithEnoughWorkPerStep() {
        BLAS.setThreadCount(2)
        let benchmarkA = (rowCount: 32 * 35, steps: 35, hidden: 128)
        XCTAssertTrue(LSTM.DirectionSplit.measured.splits(directions: 1, rowCount: benchmarkA.rowCount,
                                                          steps: benchmarkA.steps, hidden: benchmarkA.hidden))
        XCTAssertFalse(LSTM.DirectionSplit.measured.splits(directions: 2, rowCount: benchmarkA.rowCount,
                                                           steps: benchmarkA.steps, hidden: benchmarkA.hidden))
        XCTAssertFalse(LSTM.DirectionSplit.measured.splits(directions: 1, rowCount: 20, steps: 20, hidden: 64))
        XCTAssertTrue(LSTM.DirectionSplit.always.splits(directions: 1, rowCount: 1, steps: 1, hidden: 2))
        XCTAssertFalse(LSTM.DirectionSplit.always.splits(directions: 1, rowCount: 1, steps: 1, hidden: 1),
                       "one unit cannot be halved")
        BLAS.setThreadCount(1)
        XCTAssertFalse(LSTM.DirectionSplit.always.splits(directions: 1, rowCount: 32 * 35, steps: 35, hidden: 128))
    }

    /// The halves cover the units in order, are never empty, differ by at most four units, and the
    /// first holds a multiple of four units (its gate columns fill whole packed panels) when H ≥ 6.
    func testHalvesCoverTheUnitsAndAlignToPanels() {
        for hidden in 2...300 {
            let halves = LSTM.halves(ofUnits: hidden)
            XCTAssertEqual(halves.count, 2)
            XCTAssertEqual(halves[0].lowerBound, 0, "H \(hidden)")
            XCTAssertEqual(halves[0].upperBound, halves[1].lowerBound, "H \(hidden)")
            XCTAssertEqual(halves[1].upperBound, hidden, "H \(hidden)")
            XCTAssertFalse(halves[0].isEmpty || halves[1].isEmpty, "H \(hidden)")
            XCTAssertLessThanOrEqual(abs(halves[0].count - halves[1].count), 4, "H \(hidden)")
            if hidden >= 6 { XCTAssertEqual(halves[0].count % 4, 0, "H \(hidden)") }
        }
        XCTAssertEqual(LSTM.halves(ofUnits: 128), [0..<64, 64..<128])
        XCTAssertEqual(LSTM.halves(ofUnits: 37), [0..<20, 20..<37])
    }

    /// The two parts of a `ThreadPair` really run at once and see each other's writes after every
    /// barrier: each writes the round number into its slot, and after the barrier reads the
    /// partner's slot, for many rounds.
    func testThreadPairPartsMeetAtEveryBarrier() {
        let rounds = 300
        let slots = FloatBuffer(count: 2)
        let mismatches = FloatBuffer(count: 2)
        let ran = ThreadPair.run { part, barrier in
            for round in 1...rounds {
                slots.pointer[part] = Float(round)
                barrier.wait()
                if slots.pointer[1 - part] != Float(round) { mismatches.pointer[part] += 1 }
                barrier.wait()   // nobody writes the next round before both have read this one
            }
        }
        XCTAssertTrue(ran)
        XCTAssertEqual(mismatches.pointer[0], 0)
        XCTAssertEqual(mismatches.pointer[1], 0)
        XCTAssertEqual(slots.pointer[0], Float(rounds))
        XCTAssertEqual(slots.pointer[1], Float(rounds))
    }
}
