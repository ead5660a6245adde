/// Why a batch of variable-length sequences could not be packed, padded or masked.
///
/// Lengths usually come from data (sentence lengths, a `totalLength` option), so
/// these are thrown errors with messages a user can act on, worded after PyTorch's.
public enum PackingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No sequences at all: a packed batch needs at least one.
    case emptyBatch
    /// `lengths[index]` is zero or negative; packing needs every sequence to hold a token.
    case nonPositiveLength(index: Int, length: Int)
    /// `lengths[index]` is negative (masks accept zero lengths, never negative ones).
    case negativeLength(index: Int, length: Int)
    /// `lengths[index]` is longer than the padded input's `steps` time steps.
    case lengthExceedsSteps(index: Int, length: Int, steps: Int)
    /// The number of lengths differs from the batch size of the padded input.
    case lengthCountMismatch(lengthCount: Int, batchSize: Int)
    /// `enforceSorted` was requested but `lengths[index]` is longer than the one before it.
    case notSortedByDecreasingLength(index: Int, length: Int, previousLength: Int)
    /// `totalLength` is shorter than the longest sequence, which would cut it.
    case totalLengthTooShort(totalLength: Int, longestLength: Int)
    /// A batching limit (`maxSequences`, `maxTokens`) is zero or negative.
    case nonPositiveLimit(name: String, value: Int)

    /// What went wrong, in one sentence naming the offending sequence or value.
    public var description: String {
        switch self {
        case .emptyBatch:
            return "cannot pack an empty batch: at least one sequence is needed"
        case let .nonPositiveLength(index, length):
            return "every sequence must have a length greater than 0, but sequence \(index) has length \(length)"
        case let .negativeLength(index, length):
            return "lengths cannot be negative, but sequence \(index) has length \(length)"
        case let .lengthExceedsSteps(index, length, steps):
            return "sequence \(index) has length \(length), but the padded input has only \(steps) time steps"
        case let .lengthCountMismatch(lengthCount, batchSize):
            return "expected one length per sequence, but got \(lengthCount) lengths for a batch of \(batchSize)"
        case let .notSortedByDecreasingLength(index, length, previousLength):
            return "lengths must be sorted in decreasing order when enforceSorted is true, but sequence \(index) "
                + "has length \(length) after a sequence of length \(previousLength); "
                + "pass enforceSorted: false to sort the batch instead"
        case let .totalLengthTooShort(totalLength, longestLength):
            return "totalLength must be at least the length of the longest sequence, but got totalLength "
                + "\(totalLength) and a longest sequence of \(longestLength)"
        case let .nonPositiveLimit(name, value):
            return "\(name) must be positive, but got \(value)"
        }
    }
}

/// Where each token of a batch of variable-length sequences goes when packed, for any
/// element type: token ids, tag ids, characters, or tensor rows.
///
/// This is the bookkeeping of PyTorch's `pack_padded_sequence` without the data: the
/// sequences are ordered by decreasing length and laid out time-major, so packed row
/// `stepOffsets[t] + p` holds step `t` of the sequence at sorted position `p`, and only
/// the first `batchSizes[t]` sorted sequences are alive at step `t`.
///
/// The usual path of a task head is: build the layout from sentence lengths, `pack`
/// the token ids and the targets with it (both come out in packed row order), run an
/// embedding over the packed ids to get a `[rows, features]` tensor, and wrap that
/// with `packedSequence(data:)` for the LSTM. Per-token outputs of the LSTM are then
/// already aligned with the packed targets; `unpack` turns per-row predictions back
/// into one array per sentence in the original order.
///
/// ```swift
/// let layout = try PackingLayout(lengths: sentences.map(\.count))
/// let ids = layout.pack(sentences)          // [Int], packed row order
/// let targets = layout.pack(tags)           // aligned with ids
/// let input = layout.packedSequence(data: embedding(ids))
/// ```
///
/// With `enforceSorted: false` the order of sequences of equal length is the one
/// PyTorch 2.13 produces on the CPU (see `torchDescendingOrder`), and `sortedIndices`
/// is always set, even when the lengths happen to be sorted already, as in PyTorch.
/// With `enforceSorted: true` the lengths must already be non-increasing and both
/// index arrays are `nil`.
public struct PackingLayout: Equatable, Sendable {
    /// Length of each sequence, in the original batch order.
    public let lengths: [Int]
    /// Live sequences per time step, non-increasing; `batchSizes.count` is the longest length.
    public let batchSizes: [Int]
    /// Original batch index of each sorted position, or `nil` when the input was already sorted.
    public let sortedIndices: [Int]?
    /// Sorted position of each original batch index, or `nil` when the input was already sorted.
    public let unsortedIndices: [Int]?
    /// First packed row of each time step, plus a final entry equal to `rowCount`.
    public let stepOffsets: [Int]

    /// Lays out sequences of the given lengths (original batch order).
    ///
    /// Throws `PackingError` when there are no lengths, a length is not positive, or
    /// `enforceSorted` is true and the lengths increase somewhere.
    public init(lengths: [Int], enforceSorted: Bool = false) throws {
        guard !lengths.isEmpty else { throw PackingError.emptyBatch }
        if let bad = lengths.firstIndex(where: { $0 <= 0 }) {
            throw PackingError.nonPositiveLength(index: bad, length: lengths[bad])
        }
        if enforceSorted {
            for i in 1..<lengths.count where lengths[i] > lengths[i - 1] {
                throw PackingError.notSortedByDecreasingLength(index: i, length: lengths[i], previousLength: lengths[i - 1])
            }
            self.init(lengths: lengths, sortedIndices: nil)
        } else {
            self.init(lengths: lengths, sortedIndices: torchDescendingOrder(lengths))
        }
    }

    /// Lays out sequences with the same lengths as those given (original batch order).
    public init<Element>(sequences: [[Element]], enforceSorted: Bool = false) throws {
        try self.init(lengths: sequences.map(\.count), enforceSorted: enforceSorted)
    }

    /// The layout of an existing packed batch (its lengths, order and row offsets).
    public init(_ packed: PackedSequence) {
        self.init(lengths: packed.lengths, sortedIndices: packed.sortedIndices)
    }

    /// Builds the layout from validated positive lengths and an optional sorting permutation.
    internal init(lengths: [Int], sortedIndices: [Int]?) {
        let batch = lengths.count
        self.lengths = lengths
        self.sortedIndices = sortedIndices
        if let order = sortedIndices {
            var inverse = [Int](repeating: 0, count: batch)
            for (position, original) in order.enumerated() { inverse[original] = position }
            self.unsortedIndices = inverse
        } else {
            self.unsortedIndices = nil
        }
        // Sorted lengths are non-increasing, so batchSizes[t] = #{p : sortedLength[p] > t}
        // is found by walking the sorted lengths from the shortest up.
        let sortedLengths = sortedIndices.map { $0.map { lengths[$0] } } ?? lengths
        let longest = sortedLengths.first ?? 0
        var sizes = [Int](repeating: 0, count: longest)
        var alive = batch
        for t in 0..<longest {
            while alive > 0 && sortedLengths[alive - 1] <= t { alive -= 1 }
            sizes[t] = alive
        }
        self.batchSizes = sizes
        var offsets = [Int](repeating: 0, count: longest + 1)
        for t in 0..<longest { offsets[t + 1] = offsets[t] + sizes[t] }
        self.stepOffsets = offsets
    }

    /// Number of sequences.
    public var batchSize: Int { lengths.count }
    /// Length of the longest sequence (number of time steps).
    public var maxLength: Int { batchSizes.count }
    /// Total number of tokens, i.e. of packed rows.
    public var rowCount: Int { stepOffsets[stepOffsets.count - 1] }
    /// Lengths in sorted (non-increasing) order.
    public var sortedLengths: [Int] { sortedIndices.map { $0.map { lengths[$0] } } ?? lengths }

    /// Sorted position of the sequence at original index `sequence`.
    @inlinable
    public func sortedPosition(of sequence: Int) -> Int {
        unsortedIndices?[sequence] ?? sequence
    }

    /// Original index of the sequence at sorted position `position`.
    @inlinable
    public func originalIndex(ofSortedPosition position: Int) -> Int {
        sortedIndices?[position] ?? position
    }

    /// Packed row of token `step` of sequence `sequence` (original batch order).
    public func row(sequence: Int, step: Int) -> Int {
        precondition(sequence >= 0 && sequence < lengths.count, "Sequence \(sequence) out of range for a batch of \(lengths.count)")
        precondition(step >= 0 && step < lengths[sequence],
                     "Step \(step) out of range for sequence \(sequence) of length \(lengths[sequence])")
        return stepOffsets[step] + sortedPosition(of: sequence)
    }

    /// For every packed row, the original index of its sequence (`[rowCount]`).
    public var rowSequences: [Int] {
        var result = [Int](repeating: 0, count: rowCount)
        for t in 0..<batchSizes.count {
            for p in 0..<batchSizes[t] { result[stepOffsets[t] + p] = originalIndex(ofSortedPosition: p) }
        }
        return result
    }

    /// Concatenates `sequences` (original batch order, one element per token) into packed row order.
    ///
    /// `sequences[i].count` must equal `lengths[i]`. Use it for token ids, targets, or any per-token value.
    public func pack<Element>(_ sequences: [[Element]]) -> [Element] {
        precondition(sequences.count == lengths.count,
                     "pack needs \(lengths.count) sequences for this layout, got \(sequences.count)")
        let total = rowCount
        return [Element](unsafeUninitializedCapacity: total) { buffer, initialized in
            guard let out = buffer.baseAddress else { initialized = 0; return }
            stepOffsets.withUnsafeBufferPointer { offsets in
                for (index, sequence) in sequences.enumerated() {
                    precondition(sequence.count == lengths[index],
                                 "Sequence \(index) has \(sequence.count) elements but the layout expects \(lengths[index])")
                    let position = sortedPosition(of: index)
                    sequence.withUnsafeBufferPointer { tokens in
                        for t in 0..<tokens.count {
                            (out + (offsets[t] &+ position)).initialize(to: tokens[t])
                        }
                    }
                }
            }
            initialized = total
        }
    }

    /// Splits packed rows (one value per token, packed row order) back into one array per
    /// sequence, in the original batch order and with the original lengths.
    public func unpack<Element>(_ rows: [Element]) -> [[Element]] {
        precondition(rows.count == rowCount, "unpack needs \(rowCount) rows for this layout, got \(rows.count)")
        return rows.withUnsafeBufferPointer { source in
            stepOffsets.withUnsafeBufferPointer { offsets in
                (0..<lengths.count).map { index in
                    let position = sortedPosition(of: index)
                    let length = lengths[index]
                    return [Element](unsafeUninitializedCapacity: length) { buffer, initialized in
                        for t in 0..<length {
                            (buffer.baseAddress! + t).initialize(to: source[offsets[t] &+ position])
                        }
                        initialized = length
                    }
                }
            }
        }
    }

    /// A `PackedSequence` with this layout and the given rows (`[rowCount, features]`,
    /// packed row order, e.g. the embeddings of `pack(tokenIds)`).
    public func packedSequence(data: Tensor) -> PackedSequence {
        precondition(data.rank == 2 && data.shape[0] == rowCount,
                     "Packed data must be [\(rowCount), features] for this layout, got \(data.shape)")
        return PackedSequence(data: data, batchSizes: batchSizes, sortedIndices: sortedIndices)
    }
}

extension PackedSequence {
    /// The layout of this batch: lengths, order and row offsets, reusable for per-token
    /// values that are not tensors (targets, predicted tags).
    public var layout: PackingLayout { PackingLayout(self) }
}

/// The order in which PyTorch 2.13 on the CPU sorts `lengths` by decreasing value:
/// `torch.sort(lengths, descending=True).indices`, which `pack_padded_sequence`
/// uses as `sorted_indices` when `enforce_sorted=False`.
///
/// That sort is *not* stable. ATen sorts (value, index) pairs with libstdc++'s
/// `std::sort` (introsort: median-of-three quicksort down to runs of 16, heapsort
/// past a depth of 2·⌊log₂ n⌋, then insertion sort) under the comparator `a > b`.
/// Up to 16 sequences this equals a stable sort (equal lengths keep their batch
/// order); above 16, equal lengths come out in the order the partitioning leaves
/// them. This function replays that algorithm step by step so that a batch packed
/// here has the same `sorted_indices` as in PyTorch, tie for tie. The test
/// `testTieOrderMatchesPyTorch` checks it against orders produced by torch
/// (`Tools/make_packing_fixtures.py`).
internal func torchDescendingOrder(_ lengths: [Int]) -> [Int] {
    var keys = lengths
    var indices = Array(0..<lengths.count)
    keys.withUnsafeMutableBufferPointer { k in
        indices.withUnsafeMutableBufferPointer { v in
            var sorter = LibstdcxxIntrosort(keys: k.baseAddress!, values: v.baseAddress!)
            sorter.sort(count: k.count)
        }
    }
    return indices
}

/// A step-for-step replay of libstdc++'s `std::sort` on (key, value) pairs ordered by
/// decreasing key, the algorithm behind PyTorch's CPU `sort(descending=True)`.
/// Function names follow `bits/stl_algo.h` and `bits/stl_heap.h`.
private struct LibstdcxxIntrosort {
    let keys: UnsafeMutablePointer<Int>
    let values: UnsafeMutablePointer<Int>
    static let threshold = 16

    /// `comp(a, b)`: true when `a` goes strictly before `b` (larger key).
    @inline(__always) func before(_ a: Int, _ b: Int) -> Bool { keys[a] > keys[b] }
    @inline(__always) func swapAt(_ a: Int, _ b: Int) {
        let k = keys[a]; keys[a] = keys[b]; keys[b] = k
        let v = values[a]; values[a] = values[b]; values[b] = v
    }
    @inline(__always) func move(from source: Int, to destination: Int) {
        keys[destination] = keys[source]
        values[destination] = values[source]
    }

    mutating func sort(count: Int) {
        guard count > 0 else { return }
        let lg = Int.bitWidth - 1 - count.leadingZeroBitCount
        introsortLoop(0, count, depthLimit: lg * 2)
        finalInsertionSort(0, count)
    }

    func introsortLoop(_ first: Int, _ lastIn: Int, depthLimit depthIn: Int) {
        var last = lastIn, depth = depthIn
        while last - first > Self.threshold {
            if depth == 0 {
                heapSort(first, last)
                return
            }
            depth -= 1
            let cut = unguardedPartitionPivot(first, last)
            introsortLoop(cut, last, depthLimit: depth)
            last = cut
        }
    }

    func unguardedPartitionPivot(_ first: Int, _ last: Int) -> Int {
        let mid = first + (last - first) / 2
        moveMedianToFirst(first, first + 1, mid, last - 1)
        return unguardedPartition(first + 1, last, pivot: first)
    }

    func moveMedianToFirst(_ result: Int, _ a: Int, _ b: Int, _ c: Int) {
        if before(a, b) {
            if before(b, c) { swapAt(result, b) }
            else if before(a, c) { swapAt(result, c) }
            else { swapAt(result, a) }
        } else if before(a, c) { swapAt(result, a) }
        else if before(b, c) { swapAt(result, c) }
        else { swapAt(result, b) }
    }

    func unguardedPartition(_ firstIn: Int, _ lastIn: Int, pivot: Int) -> Int {
        var first = firstIn, last = lastIn
        while true {
            while before(first, pivot) { first += 1 }
            last -= 1
            while before(pivot, last) { last -= 1 }
            if !(first < last) { return first }
            swapAt(first, last)
            first += 1
        }
    }

    func finalInsertionSort(_ first: Int, _ last: Int) {
        if last - first > Self.threshold {
            insertionSort(first, first + Self.threshold)
            for i in (first + Self.threshold)..<last { unguardedLinearInsert(i) }
        } else {
            insertionSort(first, last)
        }
    }

    func insertionSort(_ first: Int, _ last: Int) {
        guard first != last else { return }
        var i = first + 1
        while i < last {
            if before(i, first) {
                let key = keys[i], value = values[i]
                var j = i
                while j > first { move(from: j - 1, to: j); j -= 1 }
                keys[first] = key; values[first] = value
            } else {
                unguardedLinearInsert(i)
            }
            i += 1
        }
    }

    func unguardedLinearInsert(_ lastIn: Int) {
        var last = lastIn
        let key = keys[last], value = values[last]
        var next = last - 1
        while key > keys[next] {
            move(from: next, to: last)
            last = next
            next -= 1
        }
        keys[last] = key; values[last] = value
    }

    // Heapsort fallback: std::__partial_sort(first, last, last) = make_heap + sort_heap.
    func heapSort(_ first: Int, _ lastIn: Int) {
        let length = lastIn - first
        if length >= 2 {
            var parent = (length - 2) / 2
            while true {
                adjustHeap(first, hole: parent, length: length, key: keys[first + parent], value: values[first + parent])
                if parent == 0 { break }
                parent -= 1
            }
        }
        var last = lastIn
        while last - first > 1 {
            last -= 1
            let key = keys[last], value = values[last]
            move(from: first, to: last)
            adjustHeap(first, hole: 0, length: last - first, key: key, value: value)
        }
    }

    func adjustHeap(_ first: Int, hole holeIn: Int, length: Int, key: Int, value: Int) {
        let top = holeIn
        var hole = holeIn, child = holeIn
        while child < (length - 1) / 2 {
            child = 2 * (child + 1)
            if before(first + child, first + child - 1) { child -= 1 }
            move(from: first + child, to: first + hole)
            hole = child
        }
        if length & 1 == 0 && child == (length - 2) / 2 {
            child = 2 * (child + 1)
            move(from: first + child - 1, to: first + hole)
            hole = child - 1
        }
        // std::__push_heap with comp(parent, value): parent key > value key.
        var parent = (hole - 1) / 2
        while hole > top && keys[first + parent] > key {
            move(from: first + parent, to: first + hole)
            hole = parent
            parent = (hole - 1) / 2
        }
        keys[first + hole] = key; values[first + hole] = value
    }
}
