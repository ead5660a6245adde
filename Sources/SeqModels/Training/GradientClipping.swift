import CKernels

/// The global L2 norm of all trainable gradients of `model`, accumulated in `Double`.
public func gradientNorm<Model: ParameterContainer>(_ model: inout Model) -> Double {
    var sum = 0.0
    model.visitParameters(prefix: "") { _, parameter in
        guard parameter.isTrainable else { return }
        sum += parameter.gradient.withUnsafeBufferPointer { sm_sum_of_squares($0.baseAddress, $0.count) }
    }
    return sum.squareRoot()
}

/// Rescales the gradients so that their global L2 norm is at most `maxNorm`, as
/// `torch.nn.utils.clip_grad_norm_(parameters, maxNorm)`: with `N` the norm over all
/// trainable gradients together, every gradient is multiplied by `maxNorm / (N + 1e-6)`
/// when that factor is below 1, and left alone otherwise.
///
/// Returns `N`, the norm *before* clipping (log it: a growing norm warns of divergence).
/// Unlike PyTorch (which then turns every gradient into NaN), a non-finite norm leaves the
/// gradients untouched, so the caller can see it and skip the step.
@discardableResult
public func clipGradientNorm<Model: ParameterContainer>(_ model: inout Model, maxNorm: Float) -> Float {
    precondition(maxNorm > 0, "Gradient clipping needs a positive maximum norm, got \(maxNorm)")
    let norm = Float(gradientNorm(&model))
    guard norm.isFinite else { return norm }
    let coefficient = maxNorm / (norm + 1e-6)
    if coefficient < 1 {
        model.visitParameters(prefix: "") { _, parameter in
            guard parameter.isTrainable else { return }
            parameter.gradient.scale(by: coefficient)
        }
    }
    return norm
}
