/// Why pretrained vectors could not be placed into an embedding table.
public enum EmbeddingError: Error, Equatable, CustomStringConvertible {
    /// A pretrained vector's length differs from the embedding dimension.
    case dimensionMismatch(id: Int, expected: Int, found: Int)

    public var description: String {
        switch self {
        case let .dimensionMismatch(id, expected, found):
            return "pretrained vector for id \(id) has \(found) components, but the embedding dimension is \(expected)"
        }
    }
}

/// A lookup table mapping token ids to dense vectors, as PyTorch's `nn.Embedding`.
///
/// The parameter `weight` is `[vocabularySize, dimension]`, initialised from N(0, 1)
/// like PyTorch, with the `paddingIndex` row (if any) set to zero. `forward` gathers one
/// row per id into an `[ids.count, dimension]` tensor; `backward` scatter-adds the output
/// gradient back into those rows, so repeated ids accumulate and the padding row never
/// receives gradient (it stays whatever it was, zero unless loaded otherwise).
///
/// Freezing (`isTrainable = false`, e.g. for fixed pretrained vectors) is PyTorch's
/// `requires_grad = False`: the weight is still visited, named and checkpointed, but
/// `backward` leaves its gradient at zero and optimizers and clipping skip it.
///
/// Ids are produced by a vocabulary, so an id outside `0..<vocabularySize` is a
/// programmer error and stops with a precondition.
public struct Embedding: ParameterContainer, Sendable {
    /// The table, `[vocabularySize, dimension]`, PyTorch name `weight`.
    public var weight: Parameter
    /// The id whose row stays zero and gets no gradient (PyTorch's `padding_idx`).
    public let paddingIndex: Int?

    /// Number of rows (distinct ids).
    public var vocabularySize: Int { weight.value.shape[0] }
    /// Length of each vector.
    public var dimension: Int { weight.value.shape[1] }

    /// Whether training updates the table; see the type's documentation.
    public var isTrainable: Bool {
        get { weight.isTrainable }
        set { weight.isTrainable = newValue }
    }

    /// A table with N(0, 1) entries drawn from `generator` in row-major order, the
    /// padding row zeroed afterwards (so the draws do not depend on `paddingIndex`).
    public init(vocabularySize: Int, dimension: Int, paddingIndex: Int? = nil, generator: inout SeededGenerator) {
        precondition(vocabularySize > 0 && dimension > 0, "Embedding sizes must be positive, got \(vocabularySize) x \(dimension)")
        if let p = paddingIndex {
            precondition(p >= 0 && p < vocabularySize, "Padding index \(p) is outside the vocabulary of \(vocabularySize)")
        }
        self.paddingIndex = paddingIndex
        var table = Tensor.normal([vocabularySize, dimension], using: &generator)
        if let p = paddingIndex {
            table.withUnsafeMutableBufferPointer { b in
                b.baseAddress!.advanced(by: p &* dimension).update(repeating: 0, count: dimension)
            }
        }
        self.weight = Parameter(table)
    }

    /// The vectors of `ids`, one row each: `[ids.count, dimension]`.
    public func forward(_ ids: [Int]) -> Tensor {
        let d = dimension, v = vocabularySize
        var out = Tensor(shape: [ids.count, d])
        weight.value.withUnsafeBufferPointer { table in
            out.withUnsafeMutableBufferPointer { dst in
                guard let src = table.baseAddress, let o = dst.baseAddress else { return }
                for (row, id) in ids.enumerated() {
                    precondition(id >= 0 && id < v, "Embedding id \(id) is outside the vocabulary of \(v)")
                    o.advanced(by: row &* d).update(from: src.advanced(by: id &* d), count: d)
                }
            }
        }
        return out
    }

    /// Adds `outputGradient` (`[ids.count, dimension]`) into the rows of `ids` of
    /// `weight.gradient`; skips the padding row, and does nothing when frozen.
    public mutating func backward(ids: [Int], outputGradient: Tensor) {
        let d = dimension, v = vocabularySize
        precondition(outputGradient.shape == [ids.count, d],
                     "Embedding output gradient must be [\(ids.count), \(d)], got \(outputGradient.shape)")
        guard weight.isTrainable else { return }
        let padding = paddingIndex ?? -1
        outputGradient.withUnsafeBufferPointer { g in
            weight.gradient.withUnsafeMutableBufferPointer { acc in
                guard let gp = g.baseAddress, let ap = acc.baseAddress else { return }
                for (row, id) in ids.enumerated() {
                    precondition(id >= 0 && id < v, "Embedding id \(id) is outside the vocabulary of \(v)")
                    if id == padding { continue }
                    BLAS.axpy(count: d, alpha: 1, x: gp.advanced(by: row &* d), y: ap.advanced(by: id &* d))
                }
            }
        }
    }

    /// Replaces the row of `id` with a pretrained `vector` (the padding row too, as
    /// `nn.Embedding.from_pretrained` does). Throws when the vector's length is not
    /// `dimension`, since pretrained files come from users.
    public mutating func setVector(_ vector: [Float], forID id: Int) throws {
        precondition(id >= 0 && id < vocabularySize, "Embedding id \(id) is outside the vocabulary of \(vocabularySize)")
        guard vector.count == dimension else {
            throw EmbeddingError.dimensionMismatch(id: id, expected: dimension, found: vector.count)
        }
        let d = dimension
        weight.value.withUnsafeMutableBufferPointer { b in
            vector.withUnsafeBufferPointer { src in
                b.baseAddress!.advanced(by: id &* d).update(from: src.baseAddress!, count: d)
            }
        }
    }

    public mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try visit(prefix + "weight", &weight)
    }
}
