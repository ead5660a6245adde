/// Inverted dropout, as PyTorch's `nn.Dropout` in training mode.
///
/// Each element is kept with probability `1 − p` and scaled by `1/(1 − p)`, or zeroed,
/// so the expected output equals the input and evaluation needs no rescaling (simply
/// do not call it). The mask is returned by `forward` and handed back to `backward`,
/// which keeps the layer a stateless value. One uniform draw per element, in row-major
/// order, from the caller's `SeededGenerator`: the same seed gives the same mask.
public struct Dropout: Sendable, Equatable {
    /// Probability of zeroing an element, in `[0, 1)`.
    public let probability: Float

    public init(probability: Float) {
        precondition(probability >= 0 && probability < 1, "Dropout probability must be in [0, 1), got \(probability)")
        self.probability = probability
    }

    /// `x ⊙ mask` and the mask (entries 0 or `1/(1 − p)`, same shape as `x`).
    /// With `p = 0` the output is `x` and the mask all ones, and no random number is drawn.
    public func forward(_ x: Tensor, generator: inout SeededGenerator) -> (output: Tensor, mask: Tensor) {
        if probability == 0 { return (x, Tensor(shape: x.shape, repeating: 1)) }
        var mask = Tensor(shape: x.shape)
        var y = x
        mask.withUnsafeMutableBufferPointer { mb in
            y.withUnsafeMutableBufferPointer { yb in
                guard let m = mb.baseAddress, let o = yb.baseAddress else { return }
                Self.drawMask(probability: probability, into: m, applyingTo: o, count: mb.count, generator: &generator)
            }
        }
        return (y, mask)
    }

    /// The input gradient: `outputGradient ⊙ mask`.
    public func backward(outputGradient: Tensor, mask: Tensor) -> Tensor {
        precondition(outputGradient.shape == mask.shape,
                     "Dropout gradient \(outputGradient.shape) and mask \(mask.shape) differ in shape")
        if probability == 0 { return outputGradient }
        var g = outputGradient
        mask.withUnsafeBufferPointer { mb in
            g.withUnsafeMutableBufferPointer { gb in
                guard let m = mb.baseAddress, let o = gb.baseAddress else { return }
                Self.applyMask(m, to: o, count: gb.count)
            }
        }
        return g
    }

    /// Draws a mask for `count` values and applies it in place: `mask[i]` is `1/(1 − p)` when the
    /// i-th uniform draw is at least `p` and 0 otherwise, and `values[i] *= mask[i]`. The one
    /// definition of the mask, shared by `forward` and the LSTM's dropout between layers.
    static func drawMask(probability p: Float, into mask: UnsafeMutablePointer<Float>, applyingTo values: UnsafeMutablePointer<Float>,
                         count: Int, generator: inout SeededGenerator) {
        let keepScale = 1 / (1 - p)
        for i in 0..<count {
            let keep: Float = generator.nextFloat() >= p ? keepScale : 0
            mask[i] = keep
            values[i] = values[i] * keep
        }
    }

    /// `values[i] *= mask[i]` for `count` values: the backward pass through a drawn mask.
    static func applyMask(_ mask: UnsafePointer<Float>, to values: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { values[i] = values[i] * mask[i] }
    }
}
