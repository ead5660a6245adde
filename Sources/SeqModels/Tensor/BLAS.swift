#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif
import CKernels

/// Thin, typed access to the BLAS routines SeqModels uses (OpenBLAS on Linux,
/// Accelerate on Apple platforms). All matrices are row-major; the leading
/// dimension is the row stride in elements (the number of columns of the stored matrix).
public enum BLAS {
    /// `C = alpha * op(A) * op(B) + beta * C`, with `op(A)` of shape m x k and `op(B)` k x n.
    @inlinable
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float,
                            c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // BLAS may skip the beta scaling when k == 0 on some builds; do it here (beta 0
            // writes zeros, as BLAS does, so C may be uninitialised then).
            for r in 0..<m { for j in 0..<n { c[r * ldc + j] = beta == 0 ? 0 : c[r * ldc + j] * beta } }
            return
        }
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `y = alpha * op(A) * x + beta * y` for a row-major m x n matrix A (`op(A)` is n x m when transposed).
    @inlinable
    public static func gemv(transposeA: Bool, m: Int, n: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
                            beta: Float, y: UnsafeMutablePointer<Float>) {
        guard m > 0, n > 0 else { return }
        cblas_sgemv(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), alpha, a, Int32(lda), x, 1, beta, y, 1)
    }

    /// `C = alpha * A * op(B) + beta * C` where A has `m` rows; a single row goes through
    /// GEMV, which OpenBLAS runs about 5x faster than a one-row GEMM (the LSTM's batch-1
    /// steps and the last steps of packed batches).
    @inlinable
    public static func rowsTimesMatrix(m: Int, n: Int, k: Int, transposeB: Bool,
                                       a: UnsafePointer<Float>, lda: Int,
                                       b: UnsafePointer<Float>, ldb: Int,
                                       beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 1 {
            // c (n) = op(B)ᵀ-style product: with B stored n x k (transposeB) it is B·a; with B k x n it is Bᵀ·a.
            if transposeB {
                gemv(transposeA: false, m: n, n: k, a: b, lda: ldb, x: a, beta: beta, y: c)
            } else {
                gemv(transposeA: true, m: k, n: n, a: b, lda: ldb, x: a, beta: beta, y: c)
            }
        } else {
            gemm(transposeA: false, transposeB: transposeB, m: m, n: n, k: k,
                 a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    /// `y += alpha * x`.
    @inlinable
    public static func axpy(count: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        cblas_saxpy(Int32(count), alpha, x, 1, y, 1)
    }

    /// `x *= alpha`.
    @inlinable
    public static func scal(count: Int, alpha: Float, x: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        cblas_sscal(Int32(count), alpha, x, 1)
    }

    /// Number of threads BLAS uses for one call. Set it once, at start-up, from the
    /// command line (`--threads`); it is process-wide in OpenBLAS.
    public static func setThreadCount(_ count: Int) {
        precondition(count >= 1, "Thread count must be at least 1")
        #if !canImport(Accelerate)
        openblas_set_num_threads(Int32(count))
        #endif
    }

    /// Makes BLAS's idle threads sleep as soon as a threaded call ends, instead of spinning for
    /// about a tenth of a second first (OpenBLAS: `OPENBLAS_THREAD_TIMEOUT` at its least, 2⁴
    /// cycles, unless the environment sets it). Returns whether the setting is in force.
    ///
    /// When SeqModels' own threads run between threaded BLAS calls (an LSTM's recurrences in
    /// training, on two threads), the spinning workers take cores from them. On this project's
    /// 2-core machine, `seqmodels bench lstm --shapes a,b --modes training --threads 2` ran
    /// shape (b) at 22,000–24,000 tokens/s with OpenBLAS's default wait and 29,000–31,000 with
    /// the least. Like `ProcessMemory.retainFreedMemory()`, this is a process-wide setting that
    /// the library never makes on its own: programs call it once at start-up, before any other
    /// thread uses BLAS (the `seqmodels` tool does). Accelerate has no such threads (false).
    @discardableResult
    public static func makeIdleThreadsSleepAtOnce() -> Bool {
        #if canImport(Accelerate)
        return false
        #else
        return sm_openblas_sleep_idle_threads() >= 0
        #endif
    }

    /// The number of threads BLAS will use.
    public static var threadCount: Int {
        #if canImport(Accelerate)
        return 1
        #else
        return Int(openblas_get_num_threads())
        #endif
    }
}

extension Tensor {
    /// Matrix product `op(a) * op(b)` of two rank-2 tensors.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul needs matrices, got \(a.shape) and \(b.shape)")
        let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (k2, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        precondition(k == k2, "matmul inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") x \(b.shape)\(transposeB ? "ᵀ" : "")")
        var c = Tensor(shape: [m, n])
        c.addMatmul(a, b, transposeA: transposeA, transposeB: transposeB, beta: 0)
        return c
    }

    /// `self = alpha * op(a) * op(b) + beta * self` for matrices of matching shapes.
    public mutating func addMatmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                                   alpha: Float = 1, beta: Float = 1) {
        precondition(a.rank == 2 && b.rank == 2 && rank == 2, "addMatmul needs matrices")
        let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let n = transposeB ? b.shape[0] : b.shape[1]
        precondition((transposeB ? b.shape[1] : b.shape[0]) == k && shape == [m, n],
                     "addMatmul shapes do not fit: \(a.shape), \(b.shape) into \(shape)")
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                withUnsafeMutableBufferPointer { pc in
                    guard let ap = pa.baseAddress, let bp = pb.baseAddress, let cp = pc.baseAddress else { return }
                    BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                              a: ap, lda: a.shape[1], b: bp, ldb: b.shape[1], beta: beta, c: cp, ldc: n)
                }
            }
        }
    }
}
