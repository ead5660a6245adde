import XCTest
@testable import SeqModels

/// Finite-difference checks of `LSTM.backward` on packed batches with uneven lengths.
final class LSTMGradientTests: XCTestCase {
    /// A packed batch for sorted lengths (non-increasing), with an optional original order.
    static func packedBatch(sortedLengths: [Int], features: Int, sortedIndices: [Int]?, generator: inout SeededGenerator) -> PackedSequence {
        let T = sortedLengths.first ?? 0
        let batchSizes = (0..<T).map { t in sortedLengths.filter { $0 > t }.count }
        let rows = batchSizes.reduce(0, +)
        return PackedSequence(data: .uniform([rows, features], low: -1, high: 1, using: &generator),
                              batchSizes: batchSizes, sortedIndices: sortedIndices)
    }

    struct Case {
        var layers: Int
        var bidirectional: Bool
        var initialState: Bool
        var finalStateLoss: Bool
        var sortedLengths: [Int]
        var sortedIndices: [Int]?
    }

    /// loss = Σ output ⊙ R + Σ hN ⊙ Rh + Σ cN ⊙ Rc, in Double.
    func loss(_ lstm: LSTM, _ input: PackedSequence, _ state: LSTMState?, _ r: Tensor, _ rh: Tensor?, _ rc: Tensor?) -> Double {
        let (out, final) = lstm(input, initialState: state)
        var s = 0.0
        for i in 0..<out.data.count { s += Double(out.data[flat: i]) * Double(r[flat: i]) }
        if let rh, let rc {
            for i in 0..<rh.count { s += Double(final.hidden[flat: i]) * Double(rh[flat: i]) + Double(final.cell[flat: i]) * Double(rc[flat: i]) }
        }
        return s
    }

    /// Compares an analytic gradient with central differences on up to `samples` random entries.
    func check(_ name: String, analytic: Tensor, count: Int, samples: Int, generator: inout SeededGenerator,
               perturb: (Int, Float) -> Double, file: StaticString = #filePath, line: UInt = #line) {
        let eps: Float = 1e-2
        var indices = Array(0..<count)
        generator.shuffle(&indices)
        for i in indices.prefix(samples) {
            let numeric = (perturb(i, eps) - perturb(i, -eps)) / Double(2 * eps)
            let a = Double(analytic[flat: i])
            XCTAssertEqual(a, numeric, accuracy: 2e-3 + 1e-2 * abs(numeric), "\(name)[\(i)]", file: file, line: line)
        }
    }

    func runCase(_ c: Case, seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        let I = 3, H = 4, D = c.bidirectional ? 2 : 1
        var lstm = LSTM(inputSize: I, hiddenSize: H, layerCount: c.layers, bidirectional: c.bidirectional, generator: &g)
        let input = Self.packedBatch(sortedLengths: c.sortedLengths, features: I, sortedIndices: c.sortedIndices, generator: &g)
        let B = c.sortedLengths.count
        let state = c.initialState ? LSTMState(hidden: .uniform([D * c.layers, B, H], low: -1, high: 1, using: &g),
                                               cell: .uniform([D * c.layers, B, H], low: -1, high: 1, using: &g)) : nil
        let r = Tensor.uniform([input.rowCount, D * H], low: -1, high: 1, using: &g)
        let rh = c.finalStateLoss ? Tensor.uniform([D * c.layers, B, H], low: -1, high: 1, using: &g) : nil
        let rc = c.finalStateLoss ? Tensor.uniform([D * c.layers, B, H], low: -1, high: 1, using: &g) : nil

        var dropoutGenerator = SeededGenerator(seed: 1)
        let (_, _, cache) = lstm.forward(input, initialState: state, generator: &dropoutGenerator)
        let (dx, dState) = lstm.backward(cache, outputGradient: r,
                                         finalStateGradient: rh.map { LSTMState(hidden: $0, cell: rc!) })

        check("input", analytic: dx, count: dx.count, samples: 12, generator: &g) { i, e in
            var x = input
            x.data[flat: i] += e
            return loss(lstm, x, state, r, rh, rc)
        }
        for (name, gradient) in lstm.namedGradients() {
            check(name, analytic: gradient, count: gradient.count, samples: 8, generator: &g) { i, e in
                var copy = lstm
                copy.visitParameters(prefix: "") { n, p in if n == name { p.value[flat: i] += e } }
                return loss(copy, input, state, r, rh, rc)
            }
        }
        if let state {
            check("h0", analytic: dState.hidden, count: state.hidden.count, samples: 10, generator: &g) { i, e in
                var s = state
                s.hidden[flat: i] += e
                return loss(lstm, input, s, r, rh, rc)
            }
            check("c0", analytic: dState.cell, count: state.cell.count, samples: 10, generator: &g) { i, e in
                var s = state
                s.cell[flat: i] += e
                return loss(lstm, input, s, r, rh, rc)
            }
        }
    }

    func testUnidirectionalSingleLayerUnevenLengths() {
        runCase(Case(layers: 1, bidirectional: false, initialState: false, finalStateLoss: true, sortedLengths: [5, 3, 3, 1]), seed: 1)
    }

    func testBidirectionalSingleLayerWithInitialStateUnsorted() {
        runCase(Case(layers: 1, bidirectional: true, initialState: true, finalStateLoss: true,
                     sortedLengths: [6, 4, 2, 1], sortedIndices: [2, 0, 3, 1]), seed: 2)
    }

    func testStackedBidirectionalThreeLayers() {
        runCase(Case(layers: 3, bidirectional: true, initialState: true, finalStateLoss: true,
                     sortedLengths: [4, 4, 2], sortedIndices: [1, 2, 0]), seed: 3)
    }

    func testStackedUnidirectionalTwoLayersOutputLossOnly() {
        runCase(Case(layers: 2, bidirectional: false, initialState: false, finalStateLoss: false, sortedLengths: [5, 2]), seed: 4)
    }

    func testBidirectionalTwoLayersEqualLengthsNoInitialState() {
        runCase(Case(layers: 2, bidirectional: true, initialState: false, finalStateLoss: true, sortedLengths: [3, 3, 3]), seed: 5)
    }
}


/// Same seed and thread count: bit-identical weights after training.
final class LSTMDeterminismTests: XCTestCase {
    func trainedWeights(seed: UInt64) -> [Tensor] {
        var g = SeededGenerator(seed: seed)
        var lstm = LSTM(inputSize: 6, hiddenSize: 8, layerCount: 2, bidirectional: true, dropout: 0.3, generator: &g)
        var adam = Adam(learningRate: 1e-2)
        let input = LSTMGradientTests.packedBatch(sortedLengths: [7, 5, 5, 2], features: 6, sortedIndices: [3, 1, 0, 2], generator: &g)
        let target = Tensor.uniform([input.rowCount, 16], low: -1, high: 1, using: &g)
        for _ in 0..<5 {
            let (_, _, cache) = lstm.forward(input, generator: &g)   // dropout draws from g
            _ = lstm.backward(cache, outputGradient: target)
            adam.step(&lstm)
            lstm.zeroGradients()
        }
        return lstm.namedParameters().map(\.value)
    }

    func testSameSeedGivesBitIdenticalWeightsAndAnotherSeedDoesNot() {
        let a = trainedWeights(seed: 11), b = trainedWeights(seed: 11), c = trainedWeights(seed: 12)
        XCTAssertEqual(a.map(\.scalars).map { $0.map(\.bitPattern) }, b.map(\.scalars).map { $0.map(\.bitPattern) })
        XCTAssertNotEqual(a, c)
    }
}

/// Batching must not change results: whatever path a step's recurrent product takes
/// (GEMV for one live row, GEMM for several), each sequence's outputs and final state
/// equal those of the sequence run alone.
final class LSTMBatchConsistencyTests: XCTestCase {
    func testLargePackedBatchMatchesEachSequenceAlone() throws {
        var g = SeededGenerator(seed: 21)
        let lstm = LSTM(inputSize: 5, hiddenSize: 6, layerCount: 2, bidirectional: true, generator: &g)
        let lengths = (0..<20).map { _ in 1 + g.nextInt(below: 9) }
        let sequences = lengths.map { Tensor.uniform([$0, 5], low: -1, high: 1, using: &g) }
        let batch = try packSequence(sequences, enforceSorted: false)
        let (output, state) = lstm(batch)
        let perSequence = unpackSequence(output)
        for (b, sequence) in sequences.enumerated() {
            let alone = try packSequence([sequence])
            let (single, singleState) = lstm(alone)
            XCTAssertLessThan(perSequence[b].maxAbsoluteDifference(single.data), 2e-6, "sequence \(b) output")
            for slice in 0..<4 {
                for j in 0..<6 {
                    XCTAssertEqual(state.hidden[slice, b, j], singleState.hidden[slice, 0, j], accuracy: 2e-6)
                    XCTAssertEqual(state.cell[slice, b, j], singleState.cell[slice, 0, j], accuracy: 2e-6)
                }
            }
        }
    }
}

extension LSTMGradientTests {
    func testBidirectionalWideBatchWithManyRowsPerStep() {
        var lengths = (0..<18).map { 1 + ($0 * 7) % 5 }
        lengths.sort(by: >)
        runCase(Case(layers: 1, bidirectional: true, initialState: true, finalStateLoss: true,
                     sortedLengths: lengths, sortedIndices: Array((0..<18).reversed())), seed: 6)
    }

    /// Inference on distinct rows plus an index per packed row (the classifier's embedded tokens)
    /// equals inference on the gathered rows, for a stacked BiLSTM with and without initial
    /// states, with the directions in turn and side by side.
    func testDistinctRowsInferenceEqualsGatheredRows() throws {
        var generator = SeededGenerator(seed: 7)
        let lstm = LSTM(inputSize: 5, hiddenSize: 6, layerCount: 2, bidirectional: true, generator: &generator)
        let distinct = Tensor.uniform([4, 5], low: -1, high: 1, using: &generator)
        let tokens: [[Int]] = [[0, 1, 2, 1], [3], [2, 2, 0, 3, 1, 0, 0], [1, 3]]
        let layout = try PackingLayout(sequences: tokens)
        let rowIndices = layout.pack(tokens)
        let gathered = Tensor(shape: [rowIndices.count, 5],
                              scalars: rowIndices.flatMap { Array(distinct.scalars[($0 * 5)..<($0 * 5 + 5)]) })
        let state = LSTMState(hidden: .uniform([4, 4, 6], low: -1, high: 1, using: &generator),
                              cell: .uniform([4, 4, 6], low: -1, high: 1, using: &generator))
        let threads = BLAS.threadCount
        defer { BLAS.setThreadCount(threads) }
        for threadCount in [1, 2] {
            BLAS.setThreadCount(threadCount)
            for initial in [nil, state] {
                let (expected, expectedState) = lstm(layout.packedSequence(data: gathered), initialState: initial)
                let (actual, actualState) = lstm(distinctRows: distinct, rowIndices: rowIndices, layout: layout, initialState: initial)
                XCTAssertEqual(actual, expected, "threads \(threadCount), initial state \(initial != nil)")
                XCTAssertEqual(actualState, expectedState, "threads \(threadCount), initial state \(initial != nil)")
            }
        }
    }
}
