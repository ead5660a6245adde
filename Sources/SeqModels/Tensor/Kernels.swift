import CKernels

/// Safe, shape-checked entry points to the vectorised C kernels.
///
/// Each function works elementwise (or row-wise) on a whole tensor; the kernels
/// are compiled with optimisation in every build configuration.
public enum Kernels {
    /// Which build of the hot kernels (elementwise functions, the LSTM cell, optimizer updates and
    /// the product with packed weights) runs: the widest this processor can run, "avx512"
    /// (AVX-512 F/BW/CD/DQ/VL), "avx2" (AVX2 and FMA) or "baseline", whatever its vendor; or the
    /// one the environment variable `SEQMODELS_KERNELS` names (`baseline`, `avx2`, `avx512`,
    /// `auto`), read once when the library loads. A build the processor cannot run is refused
    /// then, with a message and exit status 2. For reports, tests and benchmarks.
    public static var build: String { String(cString: sm_kernel_build_in_use()) }

    /// The builds this processor can run, baseline first.
    public static var runnableBuilds: [String] {
        var table: UnsafePointer<sm_kernel_build>?
        let count = sm_kernel_builds(&table)
        guard let table else { return [] }
        return (0..<count).map { String(cString: table[$0].name) }
    }

    /// The reason `SEQMODELS_KERNELS=name` is refused on a processor that runs the first
    /// `runnableCount` builds (by default this one's), or nil when it names one of them (nil, ""
    /// and "auto" choose the widest).
    public static func refusal(ofBuildNamed name: String?, runnableCount: Int = runnableBuilds.count) -> String? {
        var message = [UInt8](repeating: 0, count: 512)
        let index = message.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { sm_kernel_choice_problem(name, runnableCount, $0.baseAddress, $0.count) }
        }
        guard index < 0 else { return nil }
        return String(decoding: message.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// The peak multiply-add rate of one core with a build's vectors, in GFLOP/s (two operations
    /// per multiply-add), measured on registers alone for about `seconds`; nil when the processor
    /// cannot run that build. The yardstick `seqmodels bench` measures the LSTM against.
    public static func measuredPeakGFLOPS(build: String, seconds: Double = 0.2) -> Double? {
        guard let index = runnableBuilds.firstIndex(of: build) else { return nil }
        let rate = sm_fma_peak_gflops(index, seconds)
        return rate > 0 ? rate : nil
    }

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
