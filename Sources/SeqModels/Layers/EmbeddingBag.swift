/// Sums of table rows, one sum per bag of ids: PyTorch's `nn.EmbeddingBag(mode="sum")`.
///
/// The parameter `weight` is `[count, dimension]`. `forward` takes a batch of bags (each a list
/// of ids, possibly empty) and returns `[bags.count, dimension]`, row `b` being the sum of the
/// rows of `bags[b]` (zero for an empty bag); `backward` adds the output gradient of each bag
/// to every row it summed. An id repeated inside a bag counts as often as it appears.
///
/// A bag of n-gram ids with `dimension` equal to the number of labels is a linear model over
/// binary n-gram features (as NBSVM or fastText's bigram bags): `TextClassifier` adds it to the
/// BiLSTM's logits. For that use the table starts at zero (`init(count:dimension:)`), so the
/// model starts as if the bag were absent; `init(count:dimension:generator:)` draws N(0, 1)
/// entries as PyTorch does.
public struct EmbeddingBag: ParameterContainer, Sendable {
    /// The table, `[count, dimension]`, PyTorch name `weight`.
    public var weight: Parameter

    /// Number of rows (distinct ids).
    public var count: Int { weight.value.shape[0] }
    /// Length of each row and of each bag's sum.
    public var dimension: Int { weight.value.shape[1] }

    /// A table of zeros.
    public init(count: Int, dimension: Int) {
        precondition(count > 0 && dimension > 0, "EmbeddingBag sizes must be positive, got \(count) x \(dimension)")
        self.weight = Parameter(Tensor(shape: [count, dimension]))
    }

    /// A table with N(0, 1) entries drawn from `generator` in row-major order (PyTorch's initialisation).
    public init(count: Int, dimension: Int, generator: inout SeededGenerator) {
        precondition(count > 0 && dimension > 0, "EmbeddingBag sizes must be positive, got \(count) x \(dimension)")
        self.weight = Parameter(Tensor.normal([count, dimension], using: &generator))
    }

    /// The sum of each bag's rows, times `scale`: `[bags.count, dimension]`.
    public func forward(_ bags: [[Int]], scale: Float = 1) -> Tensor {
        let d = dimension, v = count
        var out = Tensor(shape: [bags.count, d])
        weight.value.withUnsafeBufferPointer { table in
            out.withUnsafeMutableBufferPointer { dst in
                guard let src = table.baseAddress, let o = dst.baseAddress else { return }
                for (b, bag) in bags.enumerated() {
                    let row = o.advanced(by: b &* d)
                    for id in bag {
                        precondition(id >= 0 && id < v, "EmbeddingBag id \(id) is outside the table of \(v) rows")
                        let r = src.advanced(by: id &* d)
                        for k in 0..<d { row[k] += r[k] }
                    }
                    if scale != 1 { for k in 0..<d { row[k] *= scale } }
                }
            }
        }
        return out
    }

    /// Adds `scale` times row `b` of `outputGradient` (`[bags.count, dimension]`) into the gradient
    /// of every id of `bags[b]`; does nothing when frozen.
    public mutating func backward(_ bags: [[Int]], outputGradient: Tensor, scale: Float = 1) {
        let d = dimension, v = count
        precondition(outputGradient.shape == [bags.count, d],
                     "EmbeddingBag output gradient must be [\(bags.count), \(d)], got \(outputGradient.shape)")
        guard weight.isTrainable else { return }
        outputGradient.withUnsafeBufferPointer { g in
            weight.gradient.withUnsafeMutableBufferPointer { acc in
                guard let gp = g.baseAddress, let ap = acc.baseAddress else { return }
                for (b, bag) in bags.enumerated() {
                    let row = gp.advanced(by: b &* d)
                    for id in bag {
                        precondition(id >= 0 && id < v, "EmbeddingBag id \(id) is outside the table of \(v) rows")
                        let target = ap.advanced(by: id &* d)
                        for k in 0..<d { target[k] += scale * row[k] }
                    }
                }
            }
        }
    }

    public mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try visit(prefix + "weight", &weight)
    }
}
