/// Splits a data set into batches of sequences of similar length, in a seeded random order.
///
/// Grouping sequences of similar length keeps padding (and the work of packing) close
/// to zero: a batch costs `count × longest` padded tokens and holds `Σ lengths` real
/// ones. Each epoch, `batches(using:)`
/// 1. orders the sequences by decreasing length, breaking ties by a random draw (so
///    which equal-length sequences share a batch changes from epoch to epoch),
/// 2. cuts that order greedily into batches of at most `maxSequences` sequences and,
///    when `maxTokens` is set, at most `maxTokens` padded tokens (`count × longest`);
///    a single sequence longer than `maxTokens` still gets a batch of its own,
/// 3. shuffles the order of the batches.
///
/// Every index appears in exactly one batch. Inside a batch the indices are in
/// non-increasing length, so `PackingLayout(lengths:enforceSorted: true)` accepts the
/// batch as it is and packing needs no sorting indices. The result depends only on the
/// lengths, the limits and the generator state.
///
/// ```swift
/// let batcher = try LengthBucketBatcher(lengths: sentences.map(\.count), maxSequences: 32, maxTokens: 2048)
/// for batch in batcher.batches(using: &generator) { /* batch: [Int] indices into sentences */ }
/// ```
public struct LengthBucketBatcher: Equatable, Sendable {
    /// Length of every sequence of the data set, by index.
    public let lengths: [Int]
    /// Most sequences in one batch.
    public let maxSequences: Int
    /// Most padded tokens (`count × longest length`) in one batch, or `nil` for no limit.
    public let maxTokens: Int?

    /// A batcher for sequences of the given lengths.
    ///
    /// Throws `PackingError` when a length is not positive (an empty sequence cannot be
    /// packed) or a limit is not positive.
    public init(lengths: [Int], maxSequences: Int, maxTokens: Int? = nil) throws {
        guard maxSequences > 0 else { throw PackingError.nonPositiveLimit(name: "maxSequences", value: maxSequences) }
        if let tokens = maxTokens, tokens <= 0 { throw PackingError.nonPositiveLimit(name: "maxTokens", value: tokens) }
        if let bad = lengths.firstIndex(where: { $0 <= 0 }) {
            throw PackingError.nonPositiveLength(index: bad, length: lengths[bad])
        }
        self.lengths = lengths
        self.maxSequences = maxSequences
        self.maxTokens = maxTokens
    }

    /// One epoch of batches (indices into `lengths`), drawing all randomness from `generator`.
    public func batches(using generator: inout SeededGenerator) -> [[Int]] {
        let count = lengths.count
        guard count > 0 else { return [] }
        // 1. Decreasing length; ties broken by a random key, then by index for totality.
        let tieBreak = (0..<count).map { _ in generator.next() }
        let order = lengths.withUnsafeBufferPointer { length in
            tieBreak.withUnsafeBufferPointer { key in
                (0..<count).sorted { a, b in
                    if length[a] != length[b] { return length[a] > length[b] }
                    if key[a] != key[b] { return key[a] < key[b] }
                    return a < b
                }
            }
        }
        // 2. Greedy cut: the first index of a batch is its longest sequence.
        var batches: [[Int]] = []
        var current: [Int] = []
        current.reserveCapacity(maxSequences)
        var longest = 0
        for index in order {
            let fitsCount = current.count < maxSequences
            let fitsTokens = maxTokens.map { (current.count + 1) * Swift.max(longest, lengths[index]) <= $0 } ?? true
            if !current.isEmpty && !(fitsCount && fitsTokens) {
                batches.append(current)
                current.removeAll(keepingCapacity: true)
            }
            if current.isEmpty { longest = lengths[index] }
            current.append(index)
        }
        if !current.isEmpty { batches.append(current) }
        // 3. Random batch order.
        generator.shuffle(&batches)
        return batches
    }

    /// One epoch of batches from a fresh generator seeded with `seed`.
    public func batches(seed: UInt64) -> [[Int]] {
        var generator = SeededGenerator(seed: seed)
        return batches(using: &generator)
    }

    /// Padded tokens over real tokens for `batches` of sequences with these `lengths`:
    /// `Σ count × longest / Σ lengths`, 1 when no batch needs padding.
    public static func paddingRatio(of batches: [[Int]], lengths: [Int]) -> Double {
        var padded = 0, real = 0
        for batch in batches {
            let batchLengths = batch.map { lengths[$0] }
            padded += batch.count * (batchLengths.max() ?? 0)
            real += batchLengths.reduce(0, +)
        }
        return real == 0 ? 1 : Double(padded) / Double(real)
    }
}
