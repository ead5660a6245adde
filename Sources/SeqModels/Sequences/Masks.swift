// Masks from sequence lengths: which positions of a padded batch hold real tokens.
// They weight losses and pooling over padded tensors (`1` = token, `0` = padding), like
// Keras' `sequence_mask` and the masks PyTorch users build from `lengths`.

/// Validates mask lengths and returns the number of time steps of the mask.
private func maskSteps(_ lengths: [Int], maxLength: Int?) throws -> Int {
    if let bad = lengths.firstIndex(where: { $0 < 0 }) {
        throw PackingError.negativeLength(index: bad, length: lengths[bad])
    }
    let longest = lengths.max() ?? 0
    guard let steps = maxLength else { return longest }
    if steps < 0 {
        throw PackingError.nonPositiveLimit(name: "maxLength", value: steps)
    }
    if let bad = lengths.firstIndex(where: { $0 > steps }) {
        throw PackingError.lengthExceedsSteps(index: bad, length: lengths[bad], steps: steps)
    }
    return steps
}

/// A float mask of real tokens: `[B, T]` when `batchFirst` (the default), else `[T, B]`,
/// with 1 where `t < lengths[b]` and 0 elsewhere.
///
/// T is `maxLength` when given, else the longest length. Lengths may be zero (an
/// all-padding row). Throws `PackingError` for a negative length, or a length above `maxLength`.
public func sequenceMask(lengths: [Int], maxLength: Int? = nil, batchFirst: Bool = true) throws -> Tensor {
    let steps = try maskSteps(lengths, maxLength: maxLength)
    let batch = lengths.count
    var mask = Tensor(shape: batchFirst ? [batch, steps] : [steps, batch])
    mask.withUnsafeMutableBufferPointer { out in
        guard let dst = out.baseAddress else { return }
        for (b, length) in lengths.enumerated() {
            if batchFirst {
                (dst + b &* steps).update(repeating: 1, count: length)
            } else {
                for t in 0..<length { dst[t &* batch &+ b] = 1 }
            }
        }
    }
    return mask
}

/// The Boolean form of `sequenceMask`: `mask[b][t]` when `batchFirst` (the default), else
/// `mask[t][b]`, true exactly at real tokens. Same lengths rules and errors.
public func sequenceMaskBool(lengths: [Int], maxLength: Int? = nil, batchFirst: Bool = true) throws -> [[Bool]] {
    let steps = try maskSteps(lengths, maxLength: maxLength)
    if batchFirst {
        return lengths.map { length in
            [Bool](repeating: true, count: length) + [Bool](repeating: false, count: steps - length)
        }
    }
    return (0..<steps).map { t in lengths.map { t < $0 } }
}
