// Padding and packing with the contract of PyTorch's `torch.nn.utils.rnn`:
// `pad_sequence`, `unpad_sequence`, `pack_padded_sequence`, `pack_sequence`,
// `pad_packed_sequence` and `unpack_sequence`, under their Swift names.
//
// Shapes. A sequence is `[length, features...]`; a padded batch is time-major
// `[T, B, features...]` or, with `batchFirst`, `[B, T, features...]`. Packed data is
// always `[rows, F]`, F being the product of the feature dimensions (PyTorch keeps the
// trailing dimensions; `PackedSequence` stores a matrix). A padded batch of rank 2,
// `[T, B]`, has one feature per token.
//
// The copy loops move whole rows with `update(from:count:)` (memcpy) through hoisted
// pointers, so packing stays fast in debug builds.

/// Pads sequences of different lengths to one tensor, as `torch.nn.utils.rnn.pad_sequence`.
///
/// Each sequence is `[length_i, features...]` with the same feature dimensions; lengths
/// may be zero. The result is `[T, B, features...]`, or `[B, T, features...]` when
/// `batchFirst`, with `T = max length_i` and every position past a sequence's end set
/// to `paddingValue`.
public func padSequence(_ sequences: [Tensor], batchFirst: Bool = false, paddingValue: Float = 0) -> Tensor {
    precondition(!sequences.isEmpty, "padSequence needs at least one sequence")
    let featureShape = Array(sequences[0].shape.dropFirst())
    for (i, s) in sequences.enumerated() {
        precondition(s.rank >= 1 && Array(s.shape.dropFirst()) == featureShape,
                     "padSequence: sequence \(i) has shape \(s.shape), expected [length] + \(featureShape)")
    }
    let features = featureShape.reduce(1, *)
    let batch = sequences.count
    let steps = sequences.map { $0.shape[0] }.max() ?? 0
    var padded = Tensor(shape: (batchFirst ? [batch, steps] : [steps, batch]) + featureShape, repeating: paddingValue)
    padded.withUnsafeMutableBufferPointer { out in
        guard let dst = out.baseAddress else { return }
        for (b, sequence) in sequences.enumerated() {
            let length = sequence.shape[0]
            sequence.withUnsafeBufferPointer { input in
                guard let src = input.baseAddress else { return }
                if batchFirst {
                    (dst + b &* steps &* features).update(from: src, count: length &* features)
                } else {
                    for t in 0..<length {
                        (dst + (t &* batch &+ b) &* features).update(from: src + t &* features, count: features)
                    }
                }
            }
        }
    }
    return padded
}

/// Packs a padded batch given each sequence's length, as `torch.nn.utils.rnn.pack_padded_sequence`.
///
/// `input` is `[T, B, features...]`, or `[B, T, features...]` when `batchFirst`;
/// `lengths` has one entry per sequence, in batch order. With `enforceSorted` the
/// lengths must be non-increasing and the result has no sorting indices; otherwise the
/// batch is sorted by decreasing length exactly as PyTorch does (ties included, see
/// `PackingLayout`) and `sortedIndices` records the order. Data past each length is ignored.
///
/// Throws `PackingError` when the number of lengths differs from B, a length is not
/// positive or exceeds T, or `enforceSorted` is true and the lengths are not sorted.
public func packPaddedSequence(_ input: Tensor, lengths: [Int], batchFirst: Bool = false,
                               enforceSorted: Bool = true) throws -> PackedSequence {
    precondition(input.rank >= 2, "packPaddedSequence needs a [T, B, features...] input, got \(input.shape)")
    let steps = batchFirst ? input.shape[1] : input.shape[0]
    let batch = batchFirst ? input.shape[0] : input.shape[1]
    guard lengths.count == batch else {
        throw PackingError.lengthCountMismatch(lengthCount: lengths.count, batchSize: batch)
    }
    if let bad = lengths.firstIndex(where: { $0 > steps }) {
        throw PackingError.lengthExceedsSteps(index: bad, length: lengths[bad], steps: steps)
    }
    let layout = try PackingLayout(lengths: lengths, enforceSorted: enforceSorted)
    return layout.packPadded(input, batchFirst: batchFirst)
}

/// Packs a list of sequences of different lengths, as `torch.nn.utils.rnn.pack_sequence`.
///
/// Each sequence is `[length_i, features...]` with the same feature dimensions. With
/// `enforceSorted` (PyTorch's default) the sequences must come in non-increasing length;
/// otherwise they are sorted as `packPaddedSequence` does. Throws `PackingError` for an
/// empty list, an empty sequence, or unsorted lengths under `enforceSorted`.
public func packSequence(_ sequences: [Tensor], enforceSorted: Bool = true) throws -> PackedSequence {
    guard let first = sequences.first else { throw PackingError.emptyBatch }
    let featureShape = Array(first.shape.dropFirst())
    for (i, s) in sequences.enumerated() {
        precondition(s.rank >= 1 && Array(s.shape.dropFirst()) == featureShape,
                     "packSequence: sequence \(i) has shape \(s.shape), expected [length] + \(featureShape)")
    }
    let layout = try PackingLayout(lengths: sequences.map { $0.shape[0] }, enforceSorted: enforceSorted)
    return layout.pack(sequences)
}

/// Pads a packed batch back to a dense tensor, as `torch.nn.utils.rnn.pad_packed_sequence`.
///
/// Returns `padded`, `[T, B, F]` (or `[B, T, F]` when `batchFirst`) in the *original*
/// batch order with `paddingValue` past each sequence's end, and `lengths` in that same
/// order. T is the longest length, or `totalLength` when given (to pad to a fixed size);
/// throws `PackingError.totalLengthTooShort` when `totalLength` is below the longest length.
public func padPackedSequence(_ sequence: PackedSequence, batchFirst: Bool = false, paddingValue: Float = 0,
                              totalLength: Int? = nil) throws -> (padded: Tensor, lengths: [Int]) {
    let layout = sequence.layout
    let steps = totalLength ?? layout.maxLength
    guard steps >= layout.maxLength else {
        throw PackingError.totalLengthTooShort(totalLength: steps, longestLength: layout.maxLength)
    }
    return (layout.padPacked(sequence.data, steps: steps, batchFirst: batchFirst, paddingValue: paddingValue),
            layout.lengths)
}

/// Cuts a padded batch back into one `[length_i, features...]` tensor per sequence, as
/// `torch.nn.utils.rnn.unpad_sequence`: the inverse of `padSequence`.
///
/// `padded` is `[T, B, features...]` (or `[B, T, features...]` when `batchFirst`). Throws
/// `PackingError` when the number of lengths differs from B, or a length is negative or above T.
public func unpadSequence(_ padded: Tensor, lengths: [Int], batchFirst: Bool = false) throws -> [Tensor] {
    precondition(padded.rank >= 2, "unpadSequence needs a [T, B, features...] input, got \(padded.shape)")
    let steps = batchFirst ? padded.shape[1] : padded.shape[0]
    let batch = batchFirst ? padded.shape[0] : padded.shape[1]
    guard lengths.count == batch else {
        throw PackingError.lengthCountMismatch(lengthCount: lengths.count, batchSize: batch)
    }
    if let bad = lengths.firstIndex(where: { $0 < 0 }) {
        throw PackingError.negativeLength(index: bad, length: lengths[bad])
    }
    if let bad = lengths.firstIndex(where: { $0 > steps }) {
        throw PackingError.lengthExceedsSteps(index: bad, length: lengths[bad], steps: steps)
    }
    let featureShape = Array(padded.shape.dropFirst(2))
    let features = featureShape.reduce(1, *)
    return padded.withUnsafeBufferPointer { input in
        lengths.enumerated().map { b, length in
            var out = Tensor(shape: [length] + featureShape)
            out.withUnsafeMutableBufferPointer { buffer in
                guard let dst = buffer.baseAddress, let src = input.baseAddress else { return }
                if batchFirst {
                    dst.update(from: src + b &* steps &* features, count: length &* features)
                } else {
                    for t in 0..<length {
                        (dst + t &* features).update(from: src + (t &* batch &+ b) &* features, count: features)
                    }
                }
            }
            return out
        }
    }
}

/// Splits a packed batch into one `[length_i, F]` tensor per sequence, in the original
/// batch order, as `torch.nn.utils.rnn.unpack_sequence`.
public func unpackSequence(_ sequence: PackedSequence) -> [Tensor] {
    let layout = sequence.layout
    let features = sequence.featureCount
    return sequence.data.withUnsafeBufferPointer { input in
        layout.lengths.indices.map { index in
            let length = layout.lengths[index], position = layout.sortedPosition(of: index)
            var out = Tensor(shape: [length, features])
            out.withUnsafeMutableBufferPointer { buffer in
                guard let dst = buffer.baseAddress, let src = input.baseAddress else { return }
                for t in 0..<length {
                    (dst + t &* features).update(from: src + (layout.stepOffsets[t] &+ position) &* features, count: features)
                }
            }
            return out
        }
    }
}

extension PackingLayout {
    /// Packs `sequences` (`[lengths[i], features...]` each, original order) into a `PackedSequence`.
    public func pack(_ sequences: [Tensor]) -> PackedSequence {
        precondition(sequences.count == batchSize, "pack needs \(batchSize) sequences for this layout, got \(sequences.count)")
        let features = sequences[0].shape.dropFirst().reduce(1, *)
        var data = Tensor(shape: [rowCount, features])
        data.withUnsafeMutableBufferPointer { out in
            guard let dst = out.baseAddress else { return }
            for (index, sequence) in sequences.enumerated() {
                precondition(sequence.shape[0] == lengths[index] && sequence.count == lengths[index] * features,
                             "Sequence \(index) has shape \(sequence.shape), the layout expects \(lengths[index]) steps of \(features) features")
                let position = sortedPosition(of: index)
                sequence.withUnsafeBufferPointer { input in
                    guard let src = input.baseAddress else { return }
                    for t in 0..<lengths[index] {
                        (dst + (stepOffsets[t] &+ position) &* features).update(from: src + t &* features, count: features)
                    }
                }
            }
        }
        return packedSequence(data: data)
    }

    /// Packs a padded `[T, B, features...]` (or `[B, T, features...]`) tensor whose batch
    /// dimension is in the original order; T must be at least `maxLength`.
    public func packPadded(_ input: Tensor, batchFirst: Bool = false) -> PackedSequence {
        precondition(input.rank >= 2, "packPadded needs a [T, B, features...] input, got \(input.shape)")
        let steps = batchFirst ? input.shape[1] : input.shape[0]
        let batch = batchFirst ? input.shape[0] : input.shape[1]
        precondition(batch == batchSize && steps >= maxLength,
                     "Padded input \(input.shape) does not fit a layout of \(batchSize) sequences up to \(maxLength) steps")
        let features = input.shape.dropFirst(2).reduce(1, *)
        var data = Tensor(shape: [rowCount, features])
        data.withUnsafeMutableBufferPointer { out in
            input.withUnsafeBufferPointer { padded in
                guard let dst = out.baseAddress, let src = padded.baseAddress else { return }
                for t in 0..<maxLength {
                    let offset = stepOffsets[t]
                    for p in 0..<batchSizes[t] {
                        let b = originalIndex(ofSortedPosition: p)
                        let from = batchFirst ? (b &* steps &+ t) &* features : (t &* batch &+ b) &* features
                        (dst + (offset &+ p) &* features).update(from: src + from, count: features)
                    }
                }
            }
        }
        return packedSequence(data: data)
    }

    /// Pads packed rows `[rowCount, F]` to `[steps, B, F]` (or `[B, steps, F]`) in the
    /// original batch order, `paddingValue` elsewhere; `steps` must be at least `maxLength`.
    public func padPacked(_ data: Tensor, steps: Int? = nil, batchFirst: Bool = false, paddingValue: Float = 0) -> Tensor {
        precondition(data.rank == 2 && data.shape[0] == rowCount,
                     "Packed data must be [\(rowCount), features] for this layout, got \(data.shape)")
        let steps = steps ?? maxLength
        precondition(steps >= maxLength, "Cannot pad to \(steps) steps sequences of up to \(maxLength)")
        let features = data.shape[1], batch = batchSize
        var padded = Tensor(shape: batchFirst ? [batch, steps, features] : [steps, batch, features], repeating: paddingValue)
        padded.withUnsafeMutableBufferPointer { out in
            data.withUnsafeBufferPointer { packed in
                guard let dst = out.baseAddress, let src = packed.baseAddress else { return }
                for t in 0..<maxLength {
                    let offset = stepOffsets[t]
                    for p in 0..<batchSizes[t] {
                        let b = originalIndex(ofSortedPosition: p)
                        let to = batchFirst ? (b &* steps &+ t) &* features : (t &* batch &+ b) &* features
                        (dst + to).update(from: src + (offset &+ p) &* features, count: features)
                    }
                }
            }
        }
        return padded
    }
}
