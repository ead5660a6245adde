/// An affine map `y = x Wᵀ + b`, as PyTorch's `nn.Linear`.
///
/// Parameters: `weight` `[outputSize, inputSize]` and (optionally) `bias` `[outputSize]`,
/// both initialised as PyTorch does by default: `kaiming_uniform_(a: √5)` for the weight,
/// which is U(−1/√in, 1/√in), and U(−1/√in, 1/√in) for the bias (weight drawn first).
/// Inputs are row batches `[rows, inputSize]`; `forward` is one GEMM plus the bias rows,
/// `backward` two GEMMs (input and weight gradient) and a ones-vector GEMM for the bias.
public struct Linear: ParameterContainer, Sendable {
    /// `[outputSize, inputSize]`, PyTorch name `weight`.
    public var weight: Parameter
    /// `[outputSize]`, PyTorch name `bias`; `nil` for a layer built with `bias: false`.
    public var bias: Parameter?

    public var inputSize: Int { weight.value.shape[1] }
    public var outputSize: Int { weight.value.shape[0] }

    /// A layer with PyTorch's default initialisation drawn from `generator`.
    public init(inputSize: Int, outputSize: Int, bias: Bool = true, generator: inout SeededGenerator) {
        precondition(inputSize > 0 && outputSize > 0, "Linear sizes must be positive, got \(inputSize) -> \(outputSize)")
        let bound = 1 / Float(inputSize).squareRoot()
        weight = Parameter(.uniform([outputSize, inputSize], low: -bound, high: bound, using: &generator))
        self.bias = bias ? Parameter(.uniform([outputSize], low: -bound, high: bound, using: &generator)) : nil
    }

    /// `x Wᵀ + b` for `x` of shape `[rows, inputSize]`; returns `[rows, outputSize]`.
    public func forward(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2 && x.shape[1] == inputSize, "Linear input must be [rows, \(inputSize)], got \(x.shape)")
        let rows = x.shape[0], n = outputSize
        var y = Tensor(shape: [rows, n])
        if let b = bias {
            b.value.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { yp in
                    guard let src = bp.baseAddress, let dst = yp.baseAddress else { return }
                    for r in 0..<rows { dst.advanced(by: r &* n).update(from: src, count: n) }
                }
            }
        }
        y.addMatmul(x, weight.value, transposeB: true, beta: bias == nil ? 0 : 1)
        return y
    }

    /// Accumulates `dW += dYᵀ x` and `db += Σ_rows dY` into the gradients (when trainable)
    /// and returns the input gradient `dY W` (`[rows, inputSize]`).
    /// `input` must be the tensor given to `forward`; `outputGradient` is `[rows, outputSize]`.
    public mutating func backward(input: Tensor, outputGradient: Tensor) -> Tensor {
        precondition(input.rank == 2 && input.shape[1] == inputSize, "Linear input must be [rows, \(inputSize)], got \(input.shape)")
        let rows = input.shape[0]
        precondition(outputGradient.shape == [rows, outputSize],
                     "Linear output gradient must be [\(rows), \(outputSize)], got \(outputGradient.shape)")
        if weight.isTrainable {
            weight.gradient.addMatmul(outputGradient, input, transposeA: true)
        }
        if bias?.isTrainable == true, rows > 0 {
            let ones = [Float](repeating: 1, count: rows), n = outputSize
            outputGradient.withUnsafeBufferPointer { dy in
                bias!.gradient.withUnsafeMutableBufferPointer { db in
                    ones.withUnsafeBufferPointer { o in
                        BLAS.gemm(transposeA: false, transposeB: false, m: 1, n: n, k: rows,
                                  a: o.baseAddress!, lda: rows, b: dy.baseAddress!, ldb: n,
                                  beta: 1, c: db.baseAddress!, ldc: n)
                    }
                }
            }
        }
        return Tensor.matmul(outputGradient, weight.value)
    }

    public mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try visit(prefix + "weight", &weight)
        if bias != nil { try visit(prefix + "bias", &bias!) }
    }
}
