import XCTest
@testable import SeqModels

/// Inference that runs one LSTM direction on two threads (`LSTM.DirectionSplit`), by sequences or
/// as two halves of its hidden units (`ThreadPair`, `SpinBarrier`), gives the one-thread results to the bit.
final class LSTMSplitInferenceTests: BLASThreadCountTestCase {
    /// Uneven lengths, unsorted, so that rows end at different steps.
    private let lengths = [4, 9, 1, 7, 9, 3]

    private func assertBitIdentical(_ actual: Tensor, _ expected: Tensor, _ message: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
        XCTAssertEqual(actual.scalars.map(\.bitPattern), expected.scalars.map(\.bitPattern), message, file: file, line: line)
    }

    /// The two ways to split, each checked below.
    private let splits: [(name: String, split: LSTM.DirectionSplit)] = [("by sequences", .always), ("by units", .alwaysByUnits)]

    /// How many of `layers` layers run split at two threads. The halves of hidden units meet at a
    /// spin barrier and need two CPUs at once: on one CPU (a one-CPU machine, `taskset -c 0`) that
    /// split falls back to one thread, and must still give the same bits.
    private func expectedSplitLayers(_ name: String, layers: Int) -> Int {
        name == "by units" && !ThreadPair.hasSecondCPU ? 0 : layers
    }

    /// Packed rows, one and two layers, odd and even hidden sizes, with and without `(h0, c0)`:
    /// the split at two threads equals the one-thread pass exactly, output and final states.
    func testSplitDirectionMatchesOneThreadBitForBitOnPackedRows() throws {
        for (layers, hidden) in [(1, 37), (2, 37), (2, 24)] {
          for (name, split) in splits {
            var generator = SeededGenerator(seed: UInt64(layers * 100 + hidden))
            let lstm = LSTM(inputSize: 11, hiddenSize: hidden, layerCount: layers, generator: &generator)
            let layout = try PackingLayout(lengths: lengths)
            let input = layout.packedSequence(data: .uniform([layout.rowCount, 11], low: -1, high: 1, using: &generator))
            let state = LSTMState(hidden: .uniform([layers, lengths.count, hidden], low: -1, high: 1, using: &generator),
                                  cell: .uniform([layers, lengths.count, hidden], low: -1, high: 1, using: &generator))
            for initial in [nil, state] {
                let label = "\(name), layers \(layers), H \(hidden), initial state \(initial != nil)"
                BLAS.setThreadCount(1)
                let expected = lstm.inference(input, initialState: initial, split: split)
                XCTAssertEqual(expected.splitLayers, 0, "one thread never splits: " + label)
                BLAS.setThreadCount(2)
                let actual = lstm.inference(input, initialState: initial, split: split)
                XCTAssertEqual(actual.splitLayers, expectedSplitLayers(name, layers: layers),
                               "every layer splits at two threads (with a second CPU): " + label)
                assertBitIdentical(actual.output.data, expected.output.data, "output, " + label)
                assertBitIdentical(actual.finalState.hidden, expected.finalState.hidden, "hN, " + label)
                assertBitIdentical(actual.finalState.cell, expected.finalState.cell, "cN, " + label)
                XCTAssertEqual(actual.output.sortedIndices, expected.output.sortedIndices, label)
            }
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
        for (name, split) in splits {
          for initial in [nil, state] {
            let label = "\(name), initial state \(initial != nil)"
            BLAS.setThreadCount(1)
            let expected = lstm.inference(distinctRows: distinct, rowIndices: rowIndices, layout: layout,
                                          initialState: initial, split: split)
            BLAS.setThreadCount(2)
            let actual = lstm.inference(distinctRows: distinct, rowIndices: rowIndices, layout: layout,
                                        initialState: initial, split: split)
            XCTAssertEqual(expected.splitLayers, 0, label)
            XCTAssertEqual(actual.splitLayers, expectedSplitLayers(name, layers: layers), label)
            assertBitIdentical(actual.output.data, expected.output.data, "output, " + label)
            assertBitIdentical(actual.finalState.hidden, expected.finalState.hidden, "hN, " + label)
            assertBitIdentical(actual.finalState.cell, expected.finalState.cell, "cN, " + label)
          }
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

    /// Only one direction at two or more threads splits; the measured thresholds keep small layers
    /// (a one-sentence, small-model pass) on one thread, split the benchmark's batches by sequences,
    /// and batches of too few sequences by units.
    func testPlanSplitsOneDirectionWithEnoughWork() {
        BLAS.setThreadCount(2)
        let benchmarkA = Array(repeating: 32, count: 35)   // 32 sequences of 35 steps, H = 128
        XCTAssertEqual(LSTM.DirectionSplit.measured.plan(directions: 1, batchSizes: benchmarkA, hidden: 128),
                       .sequences(boundary: 16))
        XCTAssertEqual(LSTM.DirectionSplit.measured.plan(directions: 2, batchSizes: benchmarkA, hidden: 128), .none)
        XCTAssertEqual(LSTM.DirectionSplit.measured.plan(directions: 1, batchSizes: Array(repeating: 1, count: 20), hidden: 64),
                       .none)
        XCTAssertEqual(LSTM.DirectionSplit.measured.plan(directions: 1, batchSizes: Array(repeating: 4, count: 100), hidden: 256),
                       .units([0..<128, 128..<256]), "four sequences are too few to share out")
        XCTAssertEqual(LSTM.DirectionSplit.always.plan(directions: 1, batchSizes: [1], hidden: 2), .units([0..<1, 1..<2]))
        XCTAssertEqual(LSTM.DirectionSplit.always.plan(directions: 1, batchSizes: [1], hidden: 1), .none,
                       "one unit cannot be halved")
        BLAS.setThreadCount(1)
        XCTAssertEqual(LSTM.DirectionSplit.always.plan(directions: 1, batchSizes: benchmarkA, hidden: 128), .none)
    }

    /// The boundary between the two parts of a split by sequences evens out their rows: sorted
    /// sequences of lengths 9, 9, 7, 4, 3, 1 (33 rows) split after the second (18 and 15 rows).
    func testSequenceBoundaryEvensOutTheRows() throws {
        let layout = try PackingLayout(lengths: lengths)
        XCTAssertEqual(LSTM.DirectionSplit.balancedBoundary(batchSizes: layout.batchSizes, minimumPerPart: 1), 2)
        XCTAssertEqual(LSTM.DirectionSplit.balancedBoundary(batchSizes: layout.batchSizes, minimumPerPart: 3), 3)
        XCTAssertEqual(LSTM.DirectionSplit.balancedBoundary(batchSizes: Array(repeating: 32, count: 35), minimumPerPart: 4), 16)
        XCTAssertEqual(LSTM.DirectionSplit.balancedBoundary(batchSizes: [2, 2, 1], minimumPerPart: 1), 1)
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
    func testThreadPairPartsMeetAtEveryBarrier() throws {
        guard ThreadPair.hasSecondCPU else {
            XCTAssertFalse(ThreadPair.run { _, _ in }, "with one CPU allowed, a pair must refuse to run (its barrier would only cost time)")
            throw XCTSkip("this process may run on one CPU only (a one-CPU machine or taskset): the two parts cannot run at once")
        }
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
