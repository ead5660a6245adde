import CKernels

/// Safe, shape-checked entry points to the vectorised C kernels.
///
/// Each function works elementwise (or row-wise) on a whole tensor; the kernels
/// are compiled with optimisation in every build configuration.
public enum Kernels {
    /// Which build of the hot kernels (the LSTM cell and the product with packed weights) this
    /// processor runs: "avx512" (AMD processors with AVX-512), "avx2" (AVX2 and FMA) or
    /// "baseline". For benchmark reports.
    public static var build: String { String(cString: sm_kernel_build_in_use()) }

    /// Elementwise `exp`.
    public static func exp(_ x: Tensor) -> Tensor { map(x, sm_exp) }
    /// Elementwise logistic sigmoid `1 / (1 + exp(-x))`.
    public static func sigmoid(_ x: Tensor) -> Tensor { map(x, sm_sigmoid) }
    /// Elementwise hyperbolic tangent.
    public static func tanh(_ x: Tensor) -> Tensor { map(x, sm_tanh) }

    /// Row-wise log-softmax of a `[rows, classes]` matrix.
    public static func logSoftmax(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2, "logSoftmax needs a [rows, classes] matrix, got \(x.shape)")
        var y = x
        let rows = x.shape[0], cols = x.shape[1]
        y.withUnsafeMutableBufferPointer { buffer in
            guard let p = buffer.baseAddress else { return }
            sm_log_softmax_rows(p, p, rows, cols)
        }
        return y
    }

    private static func map(_ x: Tensor, _ kernel: (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void) -> Tensor {
        var y = x
        y.withUnsafeMutableBufferPointer { buffer in
            guard let p = buffer.baseAddress else { return }
            kernel(p, p, buffer.count)
        }
        return y
    }
}
