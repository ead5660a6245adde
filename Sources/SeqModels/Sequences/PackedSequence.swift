/// A batch of variable-length sequences stored without padding, as PyTorch's
/// `torch.nn.utils.rnn.PackedSequence`.
///
/// Sequences are sorted by decreasing length and stored time-major: first the
/// step-0 rows of every sequence, then the step-1 rows of every sequence still
/// alive, and so on. `batchSizes[t]` is how many sequences are alive at step `t`;
/// since they are sorted, the live rows at any step are always the first
/// `batchSizes[t]` sequences (a prefix). `data` has shape `[batchSizes.sum, features]`.
///
/// `sortedIndices[i]` is the original batch index of the i-th sorted sequence and
/// `unsortedIndices` is its inverse; both are `nil` when the batch was already
/// sorted (`enforceSorted`), as in PyTorch. Initial and final LSTM states are in
/// the *original* batch order.
///
/// Example: sequences `abc` and `x` pack to data `a x b c` with batch sizes `[2, 1, 1]`.
public struct PackedSequence: Equatable, Sendable {
    /// Packed rows, `[totalRows, features]`.
    public var data: Tensor
    /// Live sequences per time step, non-increasing, every entry ≥ 1.
    public let batchSizes: [Int]
    /// Original batch index of each sorted position, or `nil` when already sorted.
    public let sortedIndices: [Int]?
    /// Sorted position of each original batch index, or `nil` when already sorted.
    public let unsortedIndices: [Int]?

    /// Wraps already-packed data. `data.shape[0]` must equal `batchSizes.sum`.
    public init(data: Tensor, batchSizes: [Int], sortedIndices: [Int]? = nil) {
        precondition(data.rank == 2, "PackedSequence data must be [rows, features], got \(data.shape)")
        precondition(batchSizes.allSatisfy { $0 >= 1 }, "batchSizes must be positive: \(batchSizes)")
        precondition(zip(batchSizes, batchSizes.dropFirst()).allSatisfy { $0 >= $1 },
                     "batchSizes must be non-increasing: \(batchSizes)")
        precondition(data.shape[0] == batchSizes.reduce(0, +),
                     "PackedSequence has \(data.shape[0]) rows but batchSizes sum to \(batchSizes.reduce(0, +))")
        if let s = sortedIndices {
            precondition(s.count == (batchSizes.first ?? 0) && Set(s) == Set(0..<s.count),
                         "sortedIndices must be a permutation of the batch")
        }
        self.data = data
        self.batchSizes = batchSizes
        self.sortedIndices = sortedIndices
        if let s = sortedIndices {
            var inverse = [Int](repeating: 0, count: s.count)
            for (position, original) in s.enumerated() { inverse[original] = position }
            self.unsortedIndices = inverse
        } else {
            self.unsortedIndices = nil
        }
    }

    /// Number of sequences in the batch.
    public var batchSize: Int { batchSizes.first ?? 0 }
    /// Length of the longest sequence.
    public var maxLength: Int { batchSizes.count }
    /// Number of feature columns of each row.
    public var featureCount: Int { data.shape[1] }
    /// Total number of real (unpadded) tokens.
    public var rowCount: Int { data.shape[0] }

    /// First packed row of each time step: `stepOffsets[t]` (and a final entry = rowCount).
    public var stepOffsets: [Int] {
        var offsets = [0]
        offsets.reserveCapacity(batchSizes.count + 1)
        for b in batchSizes { offsets.append(offsets[offsets.count - 1] + b) }
        return offsets
    }

    /// Length of each sequence in sorted order (non-increasing).
    public var sortedLengths: [Int] {
        var lengths = [Int](repeating: 0, count: batchSize)
        for b in batchSizes { for i in 0..<b { lengths[i] += 1 } }
        return lengths
    }

    /// Length of each sequence in the original batch order.
    public var lengths: [Int] {
        let sorted = sortedLengths
        guard let unsorted = unsortedIndices else { return sorted }
        return unsorted.map { sorted[$0] }
    }

    /// The same batch structure with other row data (e.g. the output of a layer).
    public func replacingData(_ newData: Tensor) -> PackedSequence {
        precondition(newData.rank == 2 && newData.shape[0] == rowCount,
                     "Replacement data must have \(rowCount) rows, got \(newData.shape)")
        var copy = self
        copy.data = newData
        return copy
    }
}
