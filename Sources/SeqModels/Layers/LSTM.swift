import CKernels
import Dispatch

/// Hidden and cell states of a (possibly stacked, bidirectional) LSTM.
///
/// Both tensors have PyTorch's shape `[directions * layers, batch, hidden]`; slice
/// `layer * directions + direction` belongs to that layer and direction (direction 1
/// is the reverse one). The batch dimension is in the *original* batch order of the
/// packed input, whatever its sorting.
public struct LSTMState: Equatable, Sendable {
    public var hidden: Tensor
    public var cell: Tensor

    public init(hidden: Tensor, cell: Tensor) {
        precondition(hidden.rank == 3 && hidden.shape == cell.shape,
                     "LSTM states must both be [directions*layers, batch, hidden], got \(hidden.shape) and \(cell.shape)")
        self.hidden = hidden
        self.cell = cell
    }

    /// All-zero states.
    public static func zeros(slices: Int, batch: Int, hidden: Int) -> LSTMState {
        LSTMState(hidden: Tensor(shape: [slices, batch, hidden]), cell: Tensor(shape: [slices, batch, hidden]))
    }
}

/// A multi-layer, optionally bidirectional LSTM with PyTorch's `nn.LSTM` semantics.
///
/// Gates are laid out i, f, g, o; `c' = f⊙c + i⊙g`, `h' = o⊙tanh(c')`. Parameters are
/// named as in `nn.LSTM.state_dict()`: `weight_ih_l{k}` `[4H, I]` (I = input size for
/// layer 0, `directions * H` above), `weight_hh_l{k}` `[4H, H]`, `bias_ih_l{k}` and
/// `bias_hh_l{k}` `[4H]`, with suffix `_reverse` for the backward direction.
///
/// Input and output are `PackedSequence`s: output rows are `[rows, directions * H]`,
/// the forward direction in the first H columns. The reverse direction starts each
/// sequence at its own last token, so padding costs nothing. `forward` caches what
/// `backward` needs in an `LSTM.Cache` value; `backward` accumulates parameter
/// gradients and returns the gradients of the input and of the initial state.
public struct LSTM: ParameterContainer, Sendable {
    /// The shape of an LSTM, as recorded in model configs.
    public struct Configuration: Codable, Equatable, Sendable {
        public var inputSize: Int
        public var hiddenSize: Int
        public var layerCount: Int
        public var bidirectional: Bool
        /// Dropout probability applied to the outputs of every layer but the last (training only).
        public var dropout: Float

        public init(inputSize: Int, hiddenSize: Int, layerCount: Int = 1, bidirectional: Bool = false, dropout: Float = 0) {
            precondition(inputSize > 0 && hiddenSize > 0 && layerCount > 0, "LSTM sizes must be positive")
            precondition(dropout >= 0 && dropout < 1, "LSTM dropout must be in [0, 1)")
            self.inputSize = inputSize
            self.hiddenSize = hiddenSize
            self.layerCount = layerCount
            self.bidirectional = bidirectional
            self.dropout = dropout
        }

        public var directionCount: Int { bidirectional ? 2 : 1 }
        /// Width of the output rows: `directions * hiddenSize`.
        public var outputSize: Int { directionCount * hiddenSize }
    }

    public let configuration: Configuration

    /// The four parameters of one layer in one direction.
    public struct Cell: Sendable, Equatable {
        /// `[4H, inputSize]`, gate blocks i, f, g, o.
        public var weightIH: Parameter
        /// `[4H, H]`.
        public var weightHH: Parameter
        /// `[4H]`.
        public var biasIH: Parameter
        /// `[4H]`.
        public var biasHH: Parameter
    }

    /// Parameters per layer and direction: `cells[layer * directions + direction]`.
    public var cells: [Cell] {
        didSet {
            // Weights packed from the old parameters must not serve again. A cache that another copy
            // of this model still shares stays with that copy (whose parameters it does match).
            if isKnownUniquelyReferenced(&inferenceWeights) {
                inferenceWeights.removeAll()
            } else {
                inferenceWeights = InferenceWeightCache()
            }
        }
    }

    /// Inference's packed weights, kept between passes while `cells` stays unchanged.
    private var inferenceWeights = InferenceWeightCache()

    /// How many directions' (or halves') packed weights this value holds for inference (for tests).
    var cachedInferenceWeightCount: Int { inferenceWeights.count }

    /// An LSTM initialised as PyTorch does: every parameter from U(−1/√H, 1/√H).
    public init(_ configuration: Configuration, generator: inout SeededGenerator) {
        self.configuration = configuration
        let h = configuration.hiddenSize
        let bound = 1 / Float(h).squareRoot()
        var cells: [Cell] = []
        for layer in 0..<configuration.layerCount {
            let inputWidth = layer == 0 ? configuration.inputSize : configuration.outputSize
            for _ in 0..<configuration.directionCount {
                cells.append(Cell(
                    weightIH: Parameter(.uniform([4 * h, inputWidth], low: -bound, high: bound, using: &generator)),
                    weightHH: Parameter(.uniform([4 * h, h], low: -bound, high: bound, using: &generator)),
                    biasIH: Parameter(.uniform([4 * h], low: -bound, high: bound, using: &generator)),
                    biasHH: Parameter(.uniform([4 * h], low: -bound, high: bound, using: &generator))))
            }
        }
        self.cells = cells
    }

    /// Convenience initialiser spelling out the configuration.
    public init(inputSize: Int, hiddenSize: Int, layerCount: Int = 1, bidirectional: Bool = false,
                dropout: Float = 0, generator: inout SeededGenerator) {
        self.init(Configuration(inputSize: inputSize, hiddenSize: hiddenSize, layerCount: layerCount,
                                bidirectional: bidirectional, dropout: dropout), generator: &generator)
    }

    /// PyTorch's name suffix for a layer and direction: `_l0`, `_l1_reverse`.
    public static func parameterSuffix(layer: Int, direction: Int) -> String {
        "_l\(layer)" + (direction == 1 ? "_reverse" : "")
    }

    public mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        let directions = configuration.directionCount
        for index in cells.indices {
            let suffix = LSTM.parameterSuffix(layer: index / directions, direction: index % directions)
            try visit(prefix + "weight_ih" + suffix, &cells[index].weightIH)
            try visit(prefix + "weight_hh" + suffix, &cells[index].weightHH)
            try visit(prefix + "bias_ih" + suffix, &cells[index].biasIH)
            try visit(prefix + "bias_hh" + suffix, &cells[index].biasHH)
        }
    }

    // MARK: - Forward

    /// What `backward` needs from one forward pass. Opaque to callers.
    public struct Cache: Sendable {
        fileprivate let batchSizes: [Int]
        fileprivate let sortedIndices: [Int]?
        fileprivate let rowCount: Int
        /// Per layer: its input rows `[N, inputWidth]` (after inter-layer dropout).
        fileprivate let layerInputs: [FloatBuffer]
        /// Per layer above the first: the dropout mask applied to its input, or nil.
        fileprivate let dropoutMasks: [FloatBuffer?]
        /// Per layer and direction: activated gates `[N, 4H]`, previous h and c `[N, H]`, tanh(c) `[N, H]`.
        fileprivate let gates: [FloatBuffer]
        fileprivate let previousHidden: [FloatBuffer]
        fileprivate let previousCell: [FloatBuffer]
        fileprivate let tanhCell: [FloatBuffer]
    }

    /// Runs the LSTM for inference (no dropout, nothing cached).
    ///
    /// - Parameters:
    ///   - input: packed rows `[N, inputSize]`.
    ///   - initialState: `(h0, c0)`, each `[directions * layers, batch, H]` in the original batch order; zeros when nil.
    /// - Returns: the packed output rows `[N, directions * H]` and the final states `(hN, cN)` in the original
    ///   batch order. For the reverse direction `hN` is its state after the *first* token, as in PyTorch.
    ///
    /// Inference keeps nothing for a backward pass: it projects the input a few time steps at a
    /// time and holds one `[batch, H]` cell state per direction, so memory stays at the output's
    /// size whatever the batch. The weights are packed for the multiplications on the first pass
    /// and kept for the next ones until a parameter changes (`cells`). With `BLAS.threadCount` ≥ 2
    /// the two directions of a layer run on two threads, and a one-direction layer with enough work
    /// is shared between two threads, by sequences or by hidden units (same results to the bit as
    /// on one thread).
    public func callAsFunction(_ input: PackedSequence, initialState: LSTMState? = nil) -> (output: PackedSequence, finalState: LSTMState) {
        let result = inference(input, initialState: initialState, split: .measured)
        return (result.output, result.finalState)
    }

    /// `callAsFunction(_:initialState:)` with the choice to split one direction across two threads
    /// made by `split`; `splitLayers` counts the layers that ran split. For tests and measurements.
    func inference(_ input: PackedSequence, initialState: LSTMState?,
                   split: DirectionSplit) -> (output: PackedSequence, finalState: LSTMState, splitLayers: Int) {
        checkShapes(input, initialState: initialState)
        let result = infer(rows: input.data, batchSizes: input.batchSizes, offsets: input.stepOffsets,
                           sortedIndices: input.sortedIndices, initialState: initialState, split: split)
        return (input.replacingData(result.output), result.finalState, result.splitLayers)
    }

    /// Inference on packed rows that repeat a few distinct vectors, such as embedded tokens:
    /// packed row `r` is row `rowIndices[r]` of `distinctRows` (`[U, inputSize]`).
    ///
    /// Gives what `callAsFunction(layout.packedSequence(data: rows))` gives, but projects each
    /// distinct vector through the first layer's input weights once: a batch of 500 reviews has
    /// about 120,000 tokens and 12,000 distinct words, so the first layer's input product
    /// shrinks tenfold and the rows are never gathered into one large tensor.
    public func callAsFunction(distinctRows: Tensor, rowIndices: [Int], layout: PackingLayout,
                               initialState: LSTMState? = nil) -> (output: PackedSequence, finalState: LSTMState) {
        let result = inference(distinctRows: distinctRows, rowIndices: rowIndices, layout: layout,
                               initialState: initialState, split: .measured)
        return (result.output, result.finalState)
    }

    /// `callAsFunction(distinctRows:rowIndices:layout:initialState:)` with the split chosen by `split`,
    /// as `inference(_:initialState:split:)`.
    func inference(distinctRows: Tensor, rowIndices: [Int], layout: PackingLayout, initialState: LSTMState?,
                   split: DirectionSplit) -> (output: PackedSequence, finalState: LSTMState, splitLayers: Int) {
        precondition(distinctRows.rank == 2 && distinctRows.shape[1] == configuration.inputSize,
                     "LSTM expects distinct rows [U, \(configuration.inputSize)], got \(distinctRows.shape)")
        precondition(rowIndices.count == layout.rowCount,
                     "Need one row index per packed row (\(layout.rowCount)), got \(rowIndices.count)")
        let distinctCount = distinctRows.shape[0]
        precondition(rowIndices.allSatisfy { $0 >= 0 && $0 < distinctCount }, "Row indices must be in 0..<\(distinctCount)")
        if let s = initialState {
            let expected = [configuration.directionCount * configuration.layerCount, layout.batchSize, configuration.hiddenSize]
            precondition(s.hidden.shape == expected, "LSTM initial state must be \(expected), got \(s.hidden.shape)")
        }
        let result = distinctRows.withUnsafeBufferPointer { rows in
            infer(rows.baseAddress.map { .distinctRows(BorrowedRows(pointer: $0), count: distinctCount, indices: rowIndices) },
                  batchSizes: layout.batchSizes, offsets: layout.stepOffsets,
                  sortedIndices: layout.sortedIndices, initialState: initialState, split: split)
        }
        return (layout.packedSequence(data: result.output), result.finalState, result.splitLayers)
    }

    /// How inference (and, by sequences only, training) shares a layer's one direction between two
    /// threads, when `BLAS.threadCount` ≥ 2 and there is enough work, counted in multiply-adds of
    /// the recurrent products (live rows × 4H × H per step).
    ///
    /// Two ways, both bit-identical to one thread (the packed kernel computes every element as
    /// the same sum whatever rows and columns it is given):
    /// - by sequences: each thread runs the whole direction for its own sequences of the batch.
    ///   The threads never wait for each other, since no row depends on another sequence's rows.
    /// - by hidden units: each thread computes half of the units of every sequence, and the two
    ///   meet at a barrier after every step (each step needs the whole `h` of the step before).
    ///   For batches too small to share out by sequences.
    struct DirectionSplit: Sendable {
        /// What `plan(directions:batchSizes:hidden:)` chose for a layer.
        enum Plan: Equatable, Sendable {
            /// One thread.
            case none
            /// Two threads, the first taking the (sorted) sequences `0..<boundary`, the second the rest.
            case sequences(boundary: Int)
            /// Two threads, one per range of hidden units.
            case units([Range<Int>])
        }

        /// Fewest in an average step for a split by units: the halves meet at a barrier after every step.
        var minimumStepWork: Int
        /// Fewest in the whole layer: a split layer hands work to a second thread.
        var minimumLayerWork: Int
        /// Fewest sequences for each thread of a split by sequences; smaller batches split by units.
        var minimumSequencesPerPart: Int

        /// The default: from benchmark shape (a) (32 rows, H = 128: 2 M per step, 73 M per layer) up,
        /// by sequences from 8 sequences. By sequences no thread ever waits, where the barrier waits
        /// of the split by units took 11% of (b)'s time, and a partner descheduled by the machine
        /// stalls only its own half of the batch; with the packed weights kept between passes, (b)
        /// at two threads ran at a median of 82,000 tokens/s split by sequences against 77,000 split
        /// by units (eight interleaved runs each).
        static let measured = DirectionSplit(minimumStepWork: 1 << 20, minimumLayerWork: 1 << 24, minimumSequencesPerPart: 4)
        /// Split whenever there are one direction and two threads: by sequences when there are
        /// two or more, else by units (tests).
        static let always = DirectionSplit(minimumStepWork: 0, minimumLayerWork: 0, minimumSequencesPerPart: 1)
        /// Split by units whenever there are one direction and two threads (tests).
        static let alwaysByUnits = DirectionSplit(minimumStepWork: 0, minimumLayerWork: 0, minimumSequencesPerPart: .max)
        /// Never split (tests).
        static let never = DirectionSplit(minimumStepWork: .max, minimumLayerWork: .max, minimumSequencesPerPart: .max)

        /// The plan for a layer of `directions` over packed rows with these batch sizes.
        func plan(directions: Int, batchSizes: [Int], hidden H: Int) -> Plan {
            let steps = batchSizes.count, B = batchSizes.first ?? 0
            guard directions == 1, steps > 0, BLAS.threadCount >= 2 else { return .none }
            let rowCount = batchSizes.reduce(0, +), perRow = 4 * H * H
            guard rowCount * perRow >= minimumLayerWork else { return .none }
            if minimumSequencesPerPart <= B / 2 {
                return .sequences(boundary: Self.balancedBoundary(batchSizes: batchSizes, minimumPerPart: minimumSequencesPerPart))
            }
            guard H >= 2, rowCount / steps * perRow >= minimumStepWork else { return .none }
            return .units(LSTM.halves(ofUnits: H))
        }

        /// The first sequence of the second part when `plan` splits by sequences, else nil. Training
        /// splits only this way: a split by units would meet at a barrier after every step of the
        /// forward and of the backward recurrence.
        func sequenceBoundary(directions: Int, batchSizes: [Int], hidden H: Int) -> Int? {
            guard case let .sequences(boundary) = plan(directions: directions, batchSizes: batchSizes, hidden: H) else { return nil }
            return boundary
        }

        /// The first sequence of the second part: the one that gives the two parts the most even
        /// numbers of rows (sorted sequences are longest first, so the first part has fewer).
        static func balancedBoundary(batchSizes: [Int], minimumPerPart: Int) -> Int {
            let B = batchSizes.first ?? 0, rowCount = batchSizes.reduce(0, +)
            // Sequence j (sorted position) has as many rows as there are steps with more than j alive.
            var lengths = [Int](repeating: 0, count: B)
            for size in batchSizes { for j in 0..<size { lengths[j] += 1 } }
            var best = minimumPerPart, bestImbalance = Int.max, rowsBefore = 0
            for boundary in 1..<B {
                rowsBefore += lengths[boundary - 1]
                guard boundary >= minimumPerPart && B - boundary >= minimumPerPart else { continue }
                let imbalance = abs(2 * rowsBefore - rowCount)
                if imbalance < bestImbalance { (best, bestImbalance) = (boundary, imbalance) }
            }
            return best
        }
    }

    /// The two halves of `H` hidden units for a split direction: the first ends at a multiple of 4
    /// near `H/2`, so that its `4·H₀` gate columns fill whole 16-column panels of the packed weights.
    static func halves(ofUnits H: Int) -> [Range<Int>] {
        let middle = min(max((H / 2 + 2) / 4 * 4, 1), H - 1)
        return [0..<middle, middle..<H]
    }

    /// The first layer's input for inference: packed rows, or distinct rows and an index per packed row.
    private enum InferenceInput: Sendable {
        case rows(BorrowedRows)
        case distinctRows(BorrowedRows, count: Int, indices: [Int])
    }

    /// Rows of floats that an inference pass reads but does not own: the caller's tensor, or the
    /// output of the layer below. Valid for the pass; Sendable so that the pass may hand it to its
    /// threads, which all finish before the pass returns.
    private struct BorrowedRows: @unchecked Sendable {
        let pointer: UnsafePointer<Float>
    }

    /// Rows of floats that an inference pass writes: a layer's output. As `BorrowedRows`.
    private struct WrittenRows: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<Float>
    }

    /// Inference over the packed rows of `input` (`[N, inputSize]`), read in place.
    private func infer(rows input: Tensor, batchSizes: [Int], offsets: [Int], sortedIndices: [Int]?,
                       initialState: LSTMState?, split: DirectionSplit) -> (output: Tensor, finalState: LSTMState, splitLayers: Int) {
        input.withUnsafeBufferPointer { rows in
            infer(rows.baseAddress.map { .rows(BorrowedRows(pointer: $0)) }, batchSizes: batchSizes, offsets: offsets,
                  sortedIndices: sortedIndices, initialState: initialState, split: split)
        }
    }

    /// The inference pass shared by both entry points; returns the packed output rows `[N, D·H]`.
    /// `firstInput` is nil only when there are no rows. `split` decides whether a one-direction
    /// layer runs in two parts on two threads; `splitLayers` counts the layers that did.
    private func infer(_ firstInput: InferenceInput?, batchSizes: [Int], offsets: [Int], sortedIndices: [Int]?,
                       initialState: LSTMState?, split: DirectionSplit) -> (output: Tensor, finalState: LSTMState, splitLayers: Int) {
        let config = configuration
        let H = config.hiddenSize, D = config.directionCount, L = config.layerCount
        let B = batchSizes.first ?? 0, N = offsets.last ?? 0
        let h0 = initialState.map { Self.sortedState($0.hidden, sortedIndices: sortedIndices) }
        let c0 = initialState.map { Self.sortedState($0.cell, sortedIndices: sortedIndices) }
        let hN = FloatBuffer(count: D * L * B * H)
        let cN = FloatBuffer(count: D * L * B * H)
        var splitLayers = 0
        // Two directions run side by side on two threads; a single direction may be split between two
        // threads by sequences or by hidden units (`DirectionSplit`), or else use BLAS's threads for large products.
        let parallel = Self.directionsSideBySide(D) && N > 1
        let threadedProducts = !parallel && BLAS.threadCount > 1
        let plan = split.plan(directions: D, batchSizes: batchSizes, hidden: H)
        // The last layer writes straight into the result's storage, the layers below into buffers
        // of their own; each direction writes its H columns of every row.
        let output = [Float](unsafeUninitializedCapacity: N * D * H) { result, initialized in
            initialized = 0
            guard let firstInput, let resultRows = result.baseAddress else { return }   // no rows: nothing to run
            let below = (0..<(L - 1)).map { _ in FloatBuffer(uninitializedCount: N * D * H) }
            let outputs = below.map { WrittenRows(pointer: $0.pointer) } + [WrittenRows(pointer: resultRows)]
            let run: @Sendable (_ layer: Int, _ direction: Int, _ units: Range<Int>, _ sequences: Range<Int>,
                                _ weights: InferenceWeights, _ barrier: SpinBarrier?) -> Void = { layer, direction, units, sequences, weights, barrier in
                let slice = layer * D + direction
                Self.inferDirection(reverse: direction == 1, units: units, sequences: sequences, weights: weights, barrier: barrier,
                                    hidden: H, input: layer == 0 ? firstInput : .rows(BorrowedRows(pointer: outputs[layer - 1].pointer)),
                                    inputWidth: layer == 0 ? config.inputSize : D * H, batchSizes: batchSizes, offsets: offsets,
                                    h0: h0.map { UnsafePointer($0.pointer + slice * B * H) },
                                    c0: c0.map { UnsafePointer($0.pointer + slice * B * H) },
                                    output: outputs[layer].pointer + direction * H, outputStride: D * H,
                                    hN: hN.pointer + slice * B * H, cN: cN.pointer + slice * B * H)
            }
            switch plan {
            case let .sequences(boundary):
                // Each part takes its own sequences through every layer, with no barrier and no wait
                // between layers: it reads only rows that it wrote itself, so the parts may even run in turn.
                let weights = (0..<L).map { packedWeights(slice: $0, units: 0..<H, threaded: false) }
                Self.forEachSequencePart(boundary: boundary, batch: B) { sequences in
                    for layer in 0..<L { run(layer, 0, 0..<H, sequences, weights[layer], nil) }
                }
                splitLayers = L
            case let .units(halves):
                for layer in 0..<L {
                    let weights = halves.map { packedWeights(slice: layer, units: $0, threaded: false) }
                    if ThreadPair.run({ part, barrier in run(layer, 0, halves[part], 0..<B, weights[part], barrier) }) {
                        splitLayers += 1
                    } else {
                        // No second thread could be had, and nothing ran: the whole layer runs here.
                        run(layer, 0, 0..<H, 0..<B, packedWeights(slice: layer, units: 0..<H, threaded: threadedProducts), nil)
                    }
                }
            case .none:
                for layer in 0..<L {
                    let weights = (0..<D).map { packedWeights(slice: layer * D + $0, units: 0..<H, threaded: threadedProducts) }
                    Self.forEachDirection(D, sideBySide: parallel) { run(layer, $0, 0..<H, 0..<B, weights[$0], nil) }
                }
            }
            withExtendedLifetime(below) {}
            initialized = N * D * H
        }
        let finalState = LSTMState(
            hidden: Self.unsortedState(hN, slices: D * L, batch: B, hidden: H, sortedIndices: sortedIndices),
            cell: Self.unsortedState(cN, slices: D * L, batch: B, hidden: H, sortedIndices: sortedIndices))
        return (Tensor(shape: [N, D * H], scalars: output), finalState, splitLayers)
    }

    /// The packed inference weights of layer and direction `slice` (its hidden units `units`),
    /// from this value's cache, packed on first use.
    private func packedWeights(slice: Int, units: Range<Int>, threaded: Bool) -> InferenceWeights {
        inferenceWeights.weights(InferenceWeightCache.Key(slice: slice, units: units, threaded: threaded)) {
            InferenceWeights(cells[slice], hidden: configuration.hiddenSize, units: units, threaded: threaded)
        }
    }

    /// Gate values (rows × 4H floats) projected at once in inference, a chunk of whole steps (at
    /// least one): 64 KiB, so that a chunk's gates stay in the core's cache beside the packed
    /// weights while its steps run. Chunks of 256 rows, whatever H (1 MiB of gates at H = 256),
    /// ran shapes (a) and (b) of `seqmodels bench lstm` 6–23% slower than 16,384 floats in three
    /// interleaved rounds, and (c) about the same; 4,096–16,384 measured alike within the noise.
    private static let inferenceGateFloatsPerChunk = 16_384

    /// One layer in one direction for inference, or the part of it given by `units` and
    /// `sequences` (sorted positions): writes those units' columns of those sequences' output rows
    /// (`output` points at the direction's first column, row stride `outputStride`) and of their
    /// final states (`[B, H]` each, sorted order). `h0`/`c0` are this slice's initial states, or nil
    /// for zeros. `weights`: the direction's (or its units') packed weights.
    ///
    /// A direction split by sequences runs this once per part, on two threads that never wait for
    /// each other: a part reads and writes only its own sequences' rows. A direction split in halves
    /// of its units runs this once per half, on two threads meeting at `barrier` after every step:
    /// each computes only its units' gate columns, but its recurrent product reads the full `h` of the
    /// step before from the output rows. Either way every gate value is the same sum, in the same
    /// order, as on one thread (the packed kernel computes each element alone, whatever rows and
    /// panels it is given), so the results are bit-identical.
    private static func inferDirection(reverse: Bool, units: Range<Int>, sequences: Range<Int>,
                                       weights: InferenceWeights, barrier: SpinBarrier?,
                                       hidden H: Int, input: InferenceInput, inputWidth: Int, batchSizes: [Int], offsets: [Int],
                                       h0: UnsafePointer<Float>?, c0: UnsafePointer<Float>?,
                                       output: UnsafeMutablePointer<Float>, outputStride ldOut: Int,
                                       hN: UnsafeMutablePointer<Float>, cN: UnsafeMutablePointer<Float>) {
        // This part's sequences: at step t its rows are the packed rows offsets[t] + s0 ..< offsets[t] + s0 + sizes[t].
        let s0 = sequences.lowerBound, S = sequences.count
        let sizes = Self.batchSizes(batchSizes, ofSequences: sequences), T = sizes.count
        guard T > 0 else { return }
        // Its rows before step t, in the order it keeps them (its gate rows).
        var local = [0]
        local.reserveCapacity(T + 1)
        for t in 0..<T { local.append(local[t] + sizes[t]) }
        let U = units.count, G = 4 * U
        // This part's units: its gate rows of the weights and bias, its columns of h, c, hN and cN.
        let first = units.lowerBound
        let hOut = output + first, hLast = hN + first, cLast = cN + first
        precondition(weights.units == units, "Inference weights for units \(weights.units), not \(units)")
        let recurrentWeights = weights.recurrent, inputWeights = weights.input, bias = weights.bias
        // Input projection: packed rows go through the packed weights a chunk at a time; distinct
        // rows are projected once here (bias included) and gathered per chunk.
        var projectedRows: FloatBuffer? = nil
        if case let .distinctRows(rows, count, _) = input {
            let projected = FloatBuffer(uninitializedCount: count * G)
            Self.fillRows(projected.pointer, rows: count, with: bias)
            inputWeights.accumulateProduct(rows: count, a: rows.pointer, lda: inputWidth, into: projected.pointer, ldc: G)
            projectedRows = projected
        }

        // Steps grouped into chunks of at most `inferenceGateFloatsPerChunk` gate values (at least one step).
        var chunks: [Range<Int>] = []
        var start = 0
        while start < T {
            var end = start + 1
            while end < T && (local[end + 1] - local[start]) * G <= inferenceGateFloatsPerChunk { end += 1 }
            chunks.append(start..<end)
            start = end
        }
        let largestChunk = chunks.map { local[$0.upperBound] - local[$0.lowerBound] }.max() ?? 0
        let gates = FloatBuffer(uninitializedCount: largestChunk * G)
        let cellState = FloatBuffer(count: S * U)   // c of each live sequence of this part, by sorted position - s0
        if let c0, !reverse { copyRows(from: c0 + s0 * H + first, stride: H, to: cellState.pointer, stride: U, rows: S, columns: U) }

        for chunk in reverse ? chunks.reversed() : chunks {
            let chunkFirst = local[chunk.lowerBound]
            switch input {
            case let .rows(rows):
                // One product per run of steps whose rows of this part are adjacent in the packed rows
                // (all of a step's rows are this part's: always so for a part that is the whole batch).
                var t = chunk.lowerBound
                while t < chunk.upperBound {
                    var end = t + 1
                    while end < chunk.upperBound && sizes[end - 1] == batchSizes[end - 1] { end += 1 }
                    let count = local[end] - local[t], into = gates.pointer + (local[t] - chunkFirst) * G
                    Self.fillRows(into, rows: count, with: bias)
                    inputWeights.accumulateProduct(rows: count, a: rows.pointer + (offsets[t] + s0) * inputWidth,
                                                   lda: inputWidth, into: into, ldc: G)
                    t = end
                }
            case let .distinctRows(_, _, indices):
                let projected = projectedRows!.pointer
                for t in chunk {
                    let into = gates.pointer + (local[t] - chunkFirst) * G, row = offsets[t] + s0
                    for r in 0..<sizes[t] {
                        (into + r * G).update(from: projected + indices[row + r] * G, count: G)
                    }
                }
            }
            for t in reverse ? Array(chunk.reversed()) : Array(chunk) {
                let rows = sizes[t], row = offsets[t] + s0   // this part's rows at t, and the packed row of the first
                let stepGates = gates.pointer + (local[t] - chunkFirst) * G
                if !reverse {
                    if t > 0 {
                        recurrentWeights.accumulateProduct(rows: rows, a: output + (offsets[t - 1] + s0) * ldOut, lda: ldOut,
                                                           into: stepGates, ldc: G)
                    } else if let h0 {
                        recurrentWeights.accumulateProduct(rows: rows, a: h0 + s0 * H, lda: H, into: stepGates, ldc: G)
                    }
                    sm_lstm_cell_inference(stepGates, cellState.pointer, hOut + row * ldOut, ldOut, rows, U)
                    // Sequences whose last token is at t: record their final state.
                    let ending = t + 1 < T ? sizes[t + 1] : 0
                    if ending < rows {
                        copyRows(from: hOut + (row + ending) * ldOut, stride: ldOut, to: hLast + (s0 + ending) * H, stride: H,
                                 rows: rows - ending, columns: U)
                        copyRows(from: cellState.pointer + ending * U, stride: U, to: cLast + (s0 + ending) * H, stride: H,
                                 rows: rows - ending, columns: U)
                    }
                } else {
                    // Rows alive at t + 1 continue from there; the others start here from (h0, c0).
                    let continuing = t + 1 < T ? sizes[t + 1] : 0
                    if continuing > 0 {
                        recurrentWeights.accumulateProduct(rows: continuing, a: output + (offsets[t + 1] + s0) * ldOut,
                                                           lda: ldOut, into: stepGates, ldc: G)
                    }
                    if continuing < rows {
                        let fresh = cellState.pointer + continuing * U
                        if let c0 {
                            copyRows(from: c0 + (s0 + continuing) * H + first, stride: H, to: fresh, stride: U,
                                     rows: rows - continuing, columns: U)
                        } else {
                            fresh.update(repeating: 0, count: (rows - continuing) * U)
                        }
                        if let h0 {
                            recurrentWeights.accumulateProduct(rows: rows - continuing, a: h0 + (s0 + continuing) * H, lda: H,
                                                               into: stepGates + continuing * G, ldc: G)
                        }
                    }
                    sm_lstm_cell_inference(stepGates, cellState.pointer, hOut + row * ldOut, ldOut, rows, U)
                }
                // Both halves of a split direction have written this step's h before either reads it.
                barrier?.wait()
            }
        }
        if reverse {
            // The reverse direction ends at step 0, where every sequence is alive.
            copyRows(from: hOut + s0 * ldOut, stride: ldOut, to: hLast + s0 * H, stride: H, rows: S, columns: U)
            copyRows(from: cellState.pointer, stride: U, to: cLast + s0 * H, stride: H, rows: S, columns: U)
        }
    }

    /// Runs the LSTM for training: applies inter-layer dropout (drawing from `generator`) and caches
    /// what `backward` needs. Shapes as in `callAsFunction`.
    ///
    /// With `BLAS.threadCount` ≥ 2, the two directions of a layer run side by side, and the
    /// recurrence of a one-direction layer with enough work is shared between two threads by
    /// sequences, as in inference (same results to the bit as on one thread). The input
    /// projection of all steps at once runs on the packed kernel with its rows shared by the
    /// threads (the same bits at any thread count).
    public func forward(_ input: PackedSequence, initialState: LSTMState? = nil,
                        generator: inout SeededGenerator) -> (output: PackedSequence, finalState: LSTMState, cache: Cache) {
        forward(input, initialState: initialState, generator: &generator, split: .measured)
    }

    /// `forward(_:initialState:generator:)` with the choice to split a one-direction recurrence by
    /// sequences made by `split` (only its split by sequences applies). For tests and measurements.
    func forward(_ input: PackedSequence, initialState: LSTMState?, generator: inout SeededGenerator,
                 split: DirectionSplit) -> (output: PackedSequence, finalState: LSTMState, cache: Cache) {
        checkShapes(input, initialState: initialState)
        let config = configuration
        let H = config.hiddenSize, D = config.directionCount, L = config.layerCount
        let B = input.batchSize, N = input.rowCount
        let batchSizes = input.batchSizes
        let offsets = input.stepOffsets
        let sortedIndices = input.sortedIndices

        // Initial and final states in sorted batch order, one [B, H] block per (layer, direction).
        let h0 = initialState.map { Self.sortedState($0.hidden, sortedIndices: sortedIndices) }
        let c0 = initialState.map { Self.sortedState($0.cell, sortedIndices: sortedIndices) }
        let hN = FloatBuffer(count: D * L * B * H)
        let cN = FloatBuffer(count: D * L * B * H)

        var layerInput = FloatBuffer(input.data)
        var layerInputs: [FloatBuffer] = []
        var dropoutMasks: [FloatBuffer?] = []
        var gatesCache: [FloatBuffer] = [], hPrevCache: [FloatBuffer] = [], cPrevCache: [FloatBuffer] = [], tanhCache: [FloatBuffer] = []

        for layer in 0..<L {
            let inputWidth = layer == 0 ? config.inputSize : D * H
            var mask: FloatBuffer? = nil
            if layer > 0 && config.dropout > 0 {
                let m = FloatBuffer(uninitializedCount: N * inputWidth)   // every entry is drawn
                Dropout.drawMask(probability: config.dropout, into: m.pointer, applyingTo: layerInput.pointer,
                                 count: N * inputWidth, generator: &generator)
                mask = m
            }
            layerInputs.append(layerInput)
            dropoutMasks.append(mask)
            let output = FloatBuffer(uninitializedCount: N * D * H)   // every row of every direction is written
            var passes: [TrainingPass] = []
            for direction in 0..<D {
                let cell = cells[layer * D + direction]
                // Written in full before being read: the bias fill, the cell kernel, and every row of
                // hPrev and cPrev by the recurrence (zeros where a sequence starts from a zero state).
                let pass = TrainingPass(gates: FloatBuffer(uninitializedCount: N * 4 * H), cell: FloatBuffer(uninitializedCount: N * H),
                                        tanhCell: FloatBuffer(uninitializedCount: N * H),
                                        previousHidden: FloatBuffer(uninitializedCount: N * H),
                                        previousCell: FloatBuffer(uninitializedCount: N * H))
                // Input projection of every step at once, gates = X W_ihᵀ + (b_ih + b_hh), on the
                // packed kernel with the rows shared by the threads (same bits at any thread count).
                Self.fillRows(pass.gates.pointer, rows: N, with: Self.gateBias(cell))
                PackedWeights(transposeOf: cell.weightIH.value)
                    .accumulateProduct(rows: N, a: layerInput.pointer, lda: inputWidth, into: pass.gates.pointer, ldc: 4 * H,
                                       threads: BLAS.threadCount)
                passes.append(pass)
            }
            // The recurrences: two directions side by side on two threads, or one direction shared
            // between two threads by sequences.
            let parallel = Self.directionsSideBySide(D)
            let threadedProducts = !parallel && BLAS.threadCount > 1
            let layerPasses = passes
            let recur: @Sendable (_ direction: Int, _ sequences: Range<Int>, _ weights: RepeatedProduct) -> Void = { direction, sequences, weights in
                let slice = layer * D + direction
                Self.trainingRecurrence(layerPasses[direction], recurrentWeights: weights, reverse: direction == 1,
                                        sequences: sequences, hidden: H, batchSizes: batchSizes,
                                        offsets: offsets, h0: h0.map { UnsafePointer($0.pointer + slice * B * H) },
                                        c0: c0.map { UnsafePointer($0.pointer + slice * B * H) },
                                        output: output.pointer + direction * H, outputStride: D * H,
                                        hN: hN.pointer + slice * B * H, cN: cN.pointer + slice * B * H)
            }
            if let boundary = split.sequenceBoundary(directions: D, batchSizes: batchSizes, hidden: H) {
                let weights = RepeatedProduct(cells[layer].weightHH.value, transposed: true, threaded: false)
                Self.forEachSequencePart(boundary: boundary, batch: B) { recur(0, $0, weights) }
            } else {
                Self.forEachDirection(D, sideBySide: parallel) { direction in
                    recur(direction, 0..<B, RepeatedProduct(cells[layer * D + direction].weightHH.value, transposed: true,
                                                            threaded: threadedProducts))
                }
            }
            for pass in passes {
                gatesCache.append(pass.gates); hPrevCache.append(pass.previousHidden)
                cPrevCache.append(pass.previousCell); tanhCache.append(pass.tanhCell)
            }
            layerInput = output
        }

        let finalState = LSTMState(
            hidden: Self.unsortedState(hN, slices: D * L, batch: B, hidden: H, sortedIndices: sortedIndices),
            cell: Self.unsortedState(cN, slices: D * L, batch: B, hidden: H, sortedIndices: sortedIndices))
        let output = input.replacingData(layerInput.tensor(shape: [N, D * H]))
        let cache = Cache(batchSizes: batchSizes, sortedIndices: sortedIndices, rowCount: N,
                          layerInputs: layerInputs, dropoutMasks: dropoutMasks, gates: gatesCache,
                          previousHidden: hPrevCache, previousCell: cPrevCache, tanhCell: tanhCache)
        return (output, finalState, cache)
    }

    /// The buffers of one layer and direction in a training pass: activated gates `[N, 4H]`,
    /// the cell states `[N, H]` and their tanh, and each row's previous h and c `[N, H]`.
    private struct TrainingPass: Sendable {
        let gates: FloatBuffer
        let cell: FloatBuffer
        let tanhCell: FloatBuffer
        let previousHidden: FloatBuffer
        let previousCell: FloatBuffer
    }

    /// The recurrence of one layer and direction in training, after the input projection is in
    /// `pass.gates`, or the part of it given by `sequences` (sorted positions): fills the pass's
    /// buffers, the direction's H columns of `output` and its final states, for those sequences'
    /// rows. `recurrentWeights` multiplies by `weight_hhᵀ`. Pointers as in `inferDirection`.
    ///
    /// Two parts over different sequences may run at once: each reads and writes only its own
    /// sequences' rows, and every product is the same sum for a row whatever rows surround it
    /// (the packed kernel), so splitting changes no bit.
    private static func trainingRecurrence(_ pass: TrainingPass, recurrentWeights: RepeatedProduct, reverse: Bool,
                                           sequences: Range<Int>, hidden H: Int, batchSizes: [Int], offsets: [Int],
                                           h0: UnsafePointer<Float>?, c0: UnsafePointer<Float>?,
                                           output outColumn: UnsafeMutablePointer<Float>, outputStride ldOut: Int,
                                           hN: UnsafeMutablePointer<Float>, cN: UnsafeMutablePointer<Float>) {
        // This part's sequences: at step t its rows are the packed rows offsets[t] + s0 ..< offsets[t] + s0 + sizes[t].
        let s0 = sequences.lowerBound, S = sequences.count
        let sizes = Self.batchSizes(batchSizes, ofSequences: sequences), T = sizes.count
        guard T > 0 else { return }
        let gates = pass.gates, cAll = pass.cell, tanhC = pass.tanhCell, hPrev = pass.previousHidden, cPrev = pass.previousCell
        func step(_ t: Int, recurrent: Bool) {
            let rows = sizes[t], off = offsets[t] + s0
            if recurrent {
                recurrentWeights.accumulateProduct(rows: rows, a: hPrev.pointer + off * H, lda: H,
                                                   into: gates.pointer + off * 4 * H, ldc: 4 * H)
            }
            sm_lstm_cell_forward(gates.pointer + off * 4 * H, cPrev.pointer + off * H,
                                 cAll.pointer + off * H, tanhC.pointer + off * H,
                                 outColumn + off * ldOut, ldOut, rows, H)
        }
        if !reverse {
            for t in 0..<T {
                let rows = sizes[t], off = offsets[t] + s0
                if t == 0 {
                    if let h0, let c0 {
                        copyRows(from: h0 + s0 * H, stride: H, to: hPrev.pointer + off * H, stride: H, rows: rows, columns: H)
                        copyRows(from: c0 + s0 * H, stride: H, to: cPrev.pointer + off * H, stride: H, rows: rows, columns: H)
                    } else {
                        (hPrev.pointer + off * H).update(repeating: 0, count: rows * H)
                        (cPrev.pointer + off * H).update(repeating: 0, count: rows * H)
                    }
                } else {
                    let prev = offsets[t - 1] + s0
                    copyRows(from: outColumn + prev * ldOut, stride: ldOut, to: hPrev.pointer + off * H, stride: H, rows: rows, columns: H)
                    copyRows(from: cAll.pointer + prev * H, stride: H, to: cPrev.pointer + off * H, stride: H, rows: rows, columns: H)
                }
                step(t, recurrent: t > 0 || h0 != nil)
                // Sequences whose last token is at t: record their final state.
                let ending = t + 1 < T ? sizes[t + 1] : 0
                if ending < rows {
                    copyRows(from: outColumn + (off + ending) * ldOut, stride: ldOut, to: hN + (s0 + ending) * H, stride: H,
                             rows: rows - ending, columns: H)
                    copyRows(from: cAll.pointer + (off + ending) * H, stride: H, to: cN + (s0 + ending) * H, stride: H,
                             rows: rows - ending, columns: H)
                }
            }
        } else {
            for t in stride(from: T - 1, through: 0, by: -1) {
                let rows = sizes[t], off = offsets[t] + s0
                // Rows alive at t + 1 continue from there; the others start here from (h0, c0).
                let continuing = t + 1 < T ? sizes[t + 1] : 0
                if continuing > 0 {
                    let next = offsets[t + 1] + s0
                    copyRows(from: outColumn + next * ldOut, stride: ldOut, to: hPrev.pointer + off * H, stride: H, rows: continuing, columns: H)
                    copyRows(from: cAll.pointer + next * H, stride: H, to: cPrev.pointer + off * H, stride: H, rows: continuing, columns: H)
                }
                if continuing < rows {
                    if let h0, let c0 {
                        copyRows(from: h0 + (s0 + continuing) * H, stride: H, to: hPrev.pointer + (off + continuing) * H, stride: H,
                                 rows: rows - continuing, columns: H)
                        copyRows(from: c0 + (s0 + continuing) * H, stride: H, to: cPrev.pointer + (off + continuing) * H, stride: H,
                                 rows: rows - continuing, columns: H)
                    } else {
                        (hPrev.pointer + (off + continuing) * H).update(repeating: 0, count: (rows - continuing) * H)
                        (cPrev.pointer + (off + continuing) * H).update(repeating: 0, count: (rows - continuing) * H)
                    }
                }
                step(t, recurrent: continuing > 0 || h0 != nil)
            }
            // The reverse direction ends at step 0, where every sequence is alive.
            copyRows(from: outColumn + s0 * ldOut, stride: ldOut, to: hN + s0 * H, stride: H, rows: S, columns: H)
            copyRows(from: cAll.pointer + s0 * H, stride: H, to: cN + s0 * H, stride: H, rows: S, columns: H)
        }
    }

    /// The recurrence of one layer and direction in `backward`, back in time, or the part of it
    /// given by `sequences` (sorted positions), as `trainingRecurrence`. On entry `dh` (`[N, H]`)
    /// holds the gradient of the direction's output rows; from it and the final states' gradients
    /// this writes the gradient of the gates' pre-activations (`gatesGradient`, `[N, 4H]`) and of
    /// the initial states (`[B, H]` each, sorted order; zero on entry) for those sequences' rows.
    /// `recurrentWeights` multiplies by `weight_hh`.
    private static func trainingRecurrenceBackward(_ cache: Cache, slice: Int, recurrentWeights: RepeatedProduct, reverse: Bool,
                                                   sequences: Range<Int>, hidden H: Int, dh: FloatBuffer,
                                                   finalHiddenGradient dhN: UnsafePointer<Float>?,
                                                   finalCellGradient dcN: UnsafePointer<Float>?,
                                                   gatesGradient dgates: FloatBuffer,
                                                   initialHiddenGradient dh0: UnsafeMutablePointer<Float>,
                                                   initialCellGradient dc0: UnsafeMutablePointer<Float>) {
        let batchSizes = cache.batchSizes
        let s0 = sequences.lowerBound, S = sequences.count
        let sizes = Self.batchSizes(batchSizes, ofSequences: sequences), T = sizes.count
        guard T > 0 else { return }
        var offsets = [0]   // packed row of each step's first row
        for b in batchSizes { offsets.append(offsets[offsets.count - 1] + b) }
        let gates = cache.gates[slice], cPrev = cache.previousCell[slice], tanhC = cache.tanhCell[slice]
        let dc = FloatBuffer(count: S * H)   // running gradient w.r.t. c of this part's live rows, by position - s0
        if !reverse {
            for t in stride(from: T - 1, through: 0, by: -1) {
                let rows = sizes[t], off = offsets[t] + s0
                // Sequences ending at t receive the final-state gradients.
                let ending = t + 1 < T ? sizes[t + 1] : 0
                if ending < rows {
                    if let g = dhN {
                        addRows(from: g + (s0 + ending) * H, stride: H, to: dh.pointer + (off + ending) * H, stride: H,
                                rows: rows - ending, columns: H)
                    }
                    if let g = dcN {
                        copyRows(from: g + (s0 + ending) * H, stride: H, to: dc.pointer + ending * H, stride: H,
                                 rows: rows - ending, columns: H)
                    }
                }
                sm_lstm_cell_backward(gates.pointer + off * 4 * H, cPrev.pointer + off * H, tanhC.pointer + off * H,
                                      dh.pointer + off * H, dc.pointer, dgates.pointer + off * 4 * H, rows, H)
                if t > 0 {
                    // dh of step t-1 (its first `rows` rows of this part) += dgates_t W_hh.
                    recurrentWeights.accumulateProduct(rows: rows, a: dgates.pointer + off * 4 * H, lda: 4 * H,
                                                       into: dh.pointer + (offsets[t - 1] + s0) * H, ldc: H)
                } else {
                    // dh0's rows are still zero: each is written once.
                    recurrentWeights.accumulateProduct(rows: rows, a: dgates.pointer + off * 4 * H, lda: 4 * H,
                                                       into: dh0 + s0 * H, ldc: H)
                    copyRows(from: dc.pointer, stride: H, to: dc0 + s0 * H, stride: H, rows: rows, columns: H)
                }
            }
        } else {
            let scratch = FloatBuffer(count: S * H)
            for t in 0..<T {
                let rows = sizes[t], off = offsets[t] + s0
                if t == 0 {
                    if let g = dhN { addRows(from: g + s0 * H, stride: H, to: dh.pointer + off * H, stride: H, rows: rows, columns: H) }
                    if let g = dcN { copyRows(from: g + s0 * H, stride: H, to: dc.pointer, stride: H, rows: rows, columns: H) }
                }
                sm_lstm_cell_backward(gates.pointer + off * 4 * H, cPrev.pointer + off * H, tanhC.pointer + off * H,
                                      dh.pointer + off * H, dc.pointer, dgates.pointer + off * 4 * H, rows, H)
                // Gradient w.r.t. this step's h_prev: rows that continued from t+1 pass it there,
                // rows that started here pass it (and dc) to the initial state.
                scratch.pointer.update(repeating: 0, count: rows * H)
                recurrentWeights.accumulateProduct(rows: rows, a: dgates.pointer + off * 4 * H, lda: 4 * H,
                                                   into: scratch.pointer, ldc: H)
                let continuing = t + 1 < T ? sizes[t + 1] : 0
                if continuing > 0 {
                    addRows(from: scratch.pointer, stride: H, to: dh.pointer + (offsets[t + 1] + s0) * H, stride: H,
                            rows: continuing, columns: H)
                }
                if continuing < rows {
                    copyRows(from: scratch.pointer + continuing * H, stride: H, to: dh0 + (s0 + continuing) * H, stride: H,
                             rows: rows - continuing, columns: H)
                    copyRows(from: dc.pointer + continuing * H, stride: H, to: dc0 + (s0 + continuing) * H, stride: H,
                             rows: rows - continuing, columns: H)
                }
            }
        }
    }

    /// Whether the `directions` of a layer run side by side, one thread each: with two directions
    /// and at least two BLAS threads (`--threads`).
    private static func directionsSideBySide(_ directions: Int) -> Bool {
        directions == 2 && BLAS.threadCount >= 2
    }

    /// Runs `work(direction)` for every direction: on as many threads when `sideBySide`, else in turn.
    private static func forEachDirection(_ directions: Int, sideBySide: Bool, _ work: @Sendable (Int) -> Void) {
        if sideBySide {
            DispatchQueue.concurrentPerform(iterations: directions, execute: work)
        } else {
            for direction in 0..<directions { work(direction) }
        }
    }

    /// The batch sizes of the part of a packed batch made of the sequences `sequences` (sorted
    /// positions), without the steps where it has no row: at step t it has `sizes[t]` rows, from
    /// packed row `offsets[t] + sequences.lowerBound` on. Batch sizes never grow, so the part's
    /// steps are the first ones.
    private static func batchSizes(_ batchSizes: [Int], ofSequences sequences: Range<Int>) -> [Int] {
        Array(batchSizes.lazy.map { min(max($0 - sequences.lowerBound, 0), sequences.count) }.prefix { $0 > 0 })
    }

    /// Runs `work(sequences)` for the two parts of a direction split by sequences at `boundary`
    /// (`DirectionSplit.Plan.sequences`), sorted positions `0..<boundary` and `boundary..<B`, side by
    /// side on two threads. The parts never wait for each other, so they may also run in turn.
    private static func forEachSequencePart(boundary: Int, batch B: Int, _ work: @Sendable (Range<Int>) -> Void) {
        let parts = [0..<boundary, boundary..<B]
        DispatchQueue.concurrentPerform(iterations: parts.count) { work(parts[$0]) }
    }

    /// Preconditions shared by inference and training: input width and initial-state shapes.
    private func checkShapes(_ input: PackedSequence, initialState: LSTMState?) {
        let config = configuration
        precondition(input.featureCount == config.inputSize,
                     "LSTM expects \(config.inputSize) input features, got \(input.featureCount)")
        if let s = initialState {
            let expected = [config.directionCount * config.layerCount, input.batchSize, config.hiddenSize]
            precondition(s.hidden.shape == expected, "LSTM initial state must be \(expected), got \(s.hidden.shape)")
        }
    }

    // MARK: - Backward

    /// Back-propagates through the pass that produced `cache`.
    ///
    /// - Parameters:
    ///   - cache: what `forward` kept of the pass.
    ///   - outputGradient: gradient of the loss with respect to the packed output rows, `[N, directions * H]`.
    ///   - finalStateGradient: gradients with respect to `(hN, cN)`, `[directions * layers, batch, H]`, if the loss uses them.
    /// - Returns: the gradient with respect to the packed input rows `[N, inputSize]` and with respect to the
    ///   initial state `(h0, c0)` (original batch order). Parameter gradients are *added* to `gradient`.
    ///
    /// Threads as in `forward`: the recurrence back in time of a one-direction layer with enough
    /// work is shared between two threads by sequences.
    public mutating func backward(_ cache: Cache, outputGradient: Tensor,
                                  finalStateGradient: LSTMState? = nil) -> (inputGradient: Tensor, initialStateGradient: LSTMState) {
        backward(cache, outputGradient: outputGradient, finalStateGradient: finalStateGradient, split: .measured)
    }

    /// `backward(_:outputGradient:finalStateGradient:)` with the split chosen by `split`, as in
    /// `forward(_:initialState:generator:split:)`.
    mutating func backward(_ cache: Cache, outputGradient: Tensor, finalStateGradient: LSTMState?,
                           split: DirectionSplit) -> (inputGradient: Tensor, initialStateGradient: LSTMState) {
        let config = configuration
        let H = config.hiddenSize, D = config.directionCount, L = config.layerCount
        let batchSizes = cache.batchSizes
        let N = cache.rowCount, B = batchSizes.first ?? 0
        precondition(outputGradient.shape == [N, D * H],
                     "LSTM output gradient must be [\(N), \(D * H)], got \(outputGradient.shape)")
        if let g = finalStateGradient {
            precondition(g.hidden.shape == [D * L, B, H], "LSTM final-state gradient must be [\(D * L), \(B), \(H)], got \(g.hidden.shape)")
        }
        let dhN = finalStateGradient.map { Self.sortedState($0.hidden, sortedIndices: cache.sortedIndices) }
        let dcN = finalStateGradient.map { Self.sortedState($0.cell, sortedIndices: cache.sortedIndices) }
        let dh0 = FloatBuffer(count: D * L * B * H)
        let dc0 = FloatBuffer(count: D * L * B * H)
        let ones = FloatBuffer(count: N)
        ones.pointer.update(repeating: 1, count: N)

        var upstream = FloatBuffer(outputGradient)   // gradient w.r.t. this layer's output rows [N, D*H]
        for layer in stride(from: L - 1, through: 0, by: -1) {
            let inputWidth = layer == 0 ? config.inputSize : D * H
            let layerInput = cache.layerInputs[layer]
            let inputGradient = FloatBuffer(uninitializedCount: N * inputWidth)   // the first direction's product sets it
            // The recurrences, back in time: two directions side by side on two threads. Every
            // row of the gates' gradient is written once, by the cell kernel of its step.
            let dgatesAll = (0..<D).map { _ in FloatBuffer(uninitializedCount: N * 4 * H) }
            let parallel = Self.directionsSideBySide(D)
            let threadedProducts = !parallel && BLAS.threadCount > 1
            let layerUpstream = upstream
            let weights = cells.map(\.weightHH.value)
            // The gradient of each direction's output rows, `[N, H]`, which its recurrence adds to.
            let outputGradient: @Sendable (Int) -> FloatBuffer = { direction in
                let dh = FloatBuffer(uninitializedCount: N * H)
                copyRows(from: layerUpstream.pointer + direction * H, stride: D * H, to: dh.pointer, stride: H, rows: N, columns: H)
                return dh
            }
            let recur: @Sendable (_ direction: Int, _ sequences: Range<Int>, _ weights: RepeatedProduct, _ dh: FloatBuffer) -> Void = {
                direction, sequences, recurrentWeights, dh in
                let slice = layer * D + direction
                Self.trainingRecurrenceBackward(
                    cache, slice: slice, recurrentWeights: recurrentWeights, reverse: direction == 1, sequences: sequences,
                    hidden: H, dh: dh,
                    finalHiddenGradient: dhN.map { UnsafePointer($0.pointer + slice * B * H) },
                    finalCellGradient: dcN.map { UnsafePointer($0.pointer + slice * B * H) },
                    gatesGradient: dgatesAll[direction],
                    initialHiddenGradient: dh0.pointer + slice * B * H, initialCellGradient: dc0.pointer + slice * B * H)
            }
            if let boundary = split.sequenceBoundary(directions: D, batchSizes: batchSizes, hidden: H) {
                let recurrentWeights = RepeatedProduct(weights[layer], transposed: false, threaded: false)
                let dh = outputGradient(0)
                Self.forEachSequencePart(boundary: boundary, batch: B) { recur(0, $0, recurrentWeights, dh) }
            } else {
                Self.forEachDirection(D, sideBySide: parallel) { direction in
                    recur(direction, 0..<B, RepeatedProduct(weights[layer * D + direction], transposed: false, threaded: threadedProducts),
                          outputGradient(direction))
                }
            }
            for direction in 0..<D {
                let slice = layer * D + direction
                let hPrev = cache.previousHidden[slice]
                let dgates = dgatesAll[direction]
                // Weight gradients for all steps at once, in one product: dgatesᵀ [X | h_prev] is
                // [∂W_ih | ∂W_hh]. BLAS then packs the [N, 4H] gradient once rather than once per
                // weight (a product of shape (d) of `seqmodels bench lstm` copied 52 MiB each time).
                let width = inputWidth + H
                let joined = FloatBuffer(uninitializedCount: N * width)
                copyRows(from: layerInput.pointer, stride: inputWidth, to: joined.pointer, stride: width, rows: N, columns: inputWidth)
                copyRows(from: hPrev.pointer, stride: H, to: joined.pointer + inputWidth, stride: width, rows: N, columns: H)
                let weightGradients = FloatBuffer(uninitializedCount: 4 * H * width)
                BLAS.gemm(transposeA: true, transposeB: false, m: 4 * H, n: width, k: N,
                          a: dgates.pointer, lda: 4 * H, b: joined.pointer, ldb: width,
                          beta: 0, c: weightGradients.pointer, ldc: width)
                cells[slice].weightIH.gradient.withUnsafeMutableBufferPointer { g in
                    addRows(from: weightGradients.pointer, stride: width, to: g.baseAddress!, stride: inputWidth,
                            rows: 4 * H, columns: inputWidth)
                }
                cells[slice].weightHH.gradient.withUnsafeMutableBufferPointer { g in
                    addRows(from: weightGradients.pointer + inputWidth, stride: width, to: g.baseAddress!, stride: H,
                            rows: 4 * H, columns: H)
                }
                // Both biases receive the column sums of the gates' gradient: summed once (one read
                // of dgates), added to each.
                let biasGradient = FloatBuffer(count: 4 * H)
                BLAS.gemm(transposeA: false, transposeB: false, m: 1, n: 4 * H, k: N,
                          a: ones.pointer, lda: N, b: dgates.pointer, ldb: 4 * H,
                          beta: 0, c: biasGradient.pointer, ldc: 4 * H)
                for keyPath in [\Cell.biasIH, \Cell.biasHH] {
                    cells[slice][keyPath: keyPath].gradient.withUnsafeMutableBufferPointer { g in
                        BLAS.axpy(count: 4 * H, alpha: 1, x: biasGradient.pointer, y: g.baseAddress!)
                    }
                }
                cells[slice].weightIH.value.withUnsafeBufferPointer { w in
                    BLAS.gemm(transposeA: false, transposeB: false, m: N, n: inputWidth, k: 4 * H,
                              a: dgates.pointer, lda: 4 * H, b: w.baseAddress!, ldb: inputWidth,
                              beta: direction == 0 ? 0 : 1, c: inputGradient.pointer, ldc: inputWidth)
                }
            }
            if let mask = cache.dropoutMasks[layer] {
                Dropout.applyMask(mask.pointer, to: inputGradient.pointer, count: N * inputWidth)
            }
            upstream = inputGradient
        }

        let initialStateGradient = LSTMState(
            hidden: Self.unsortedState(dh0, slices: D * L, batch: B, hidden: H, sortedIndices: cache.sortedIndices),
            cell: Self.unsortedState(dc0, slices: D * L, batch: B, hidden: H, sortedIndices: cache.sortedIndices))
        return (upstream.tensor(shape: [N, config.inputSize]), initialStateGradient)
    }

    // MARK: - Helpers


    /// `bias_ih + bias_hh` of a cell: the `[4H]` row every gate pre-activation starts from.
    static func gateBias(_ cell: Cell) -> [Float] {
        zip(cell.biasIH.value.scalars, cell.biasHH.value.scalars).map { $0 + $1 }
    }

    /// Writes `row` into each of `rows` consecutive rows of its width starting at `destination`.
    private static func fillRows(_ destination: UnsafeMutablePointer<Float>, rows: Int, with row: [Float]) {
        row.withUnsafeBufferPointer { source in
            for r in 0..<rows { (destination + r * source.count).update(from: source.baseAddress!, count: source.count) }
        }
    }

    /// A `[slices, B, H]` state in original batch order, reordered to sorted order.
    private static func sortedState(_ state: Tensor, sortedIndices: [Int]?) -> FloatBuffer {
        let buffer = FloatBuffer(state)
        guard let order = sortedIndices else { return buffer }
        let slices = state.shape[0], B = state.shape[1], H = state.shape[2]
        let result = FloatBuffer(count: buffer.count)
        for s in 0..<slices {
            for (position, original) in order.enumerated() {
                (result.pointer + (s * B + position) * H).update(from: buffer.pointer + (s * B + original) * H, count: H)
            }
        }
        return result
    }

    /// A `[slices, B, H]` buffer in sorted order, returned as a tensor in the original batch order.
    private static func unsortedState(_ buffer: FloatBuffer, slices: Int, batch B: Int, hidden H: Int, sortedIndices: [Int]?) -> Tensor {
        guard let order = sortedIndices else { return buffer.tensor(shape: [slices, B, H]) }
        let result = FloatBuffer(count: buffer.count)
        for s in 0..<slices {
            for (position, original) in order.enumerated() {
                (result.pointer + (s * B + original) * H).update(from: buffer.pointer + (s * B + position) * H, count: H)
            }
        }
        return result.tensor(shape: [slices, B, H])
    }
}
