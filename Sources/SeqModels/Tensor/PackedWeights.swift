import CKernels
import Dispatch

/// A weight matrix `W` (`k × n`) packed once for many products `C += A · W`.
///
/// The LSTM multiplies the same weights at every time step, with few rows each time
/// (the sequences still alive). A BLAS `sgemm` re-packs `W` on each of those calls and
/// blocks poorly for so few rows; this type packs `W` once per pass into column panels
/// and runs a register-blocked micro-kernel (C `sm_gemm_packed`) over them. At the step
/// shapes of `seqmodels bench lstm` that is about 1.5× OpenBLAS's speed for a GEMM and
/// 4× for a one-row product.
struct PackedWeights: Sendable {
    /// `k`: rows of `W`, i.e. columns of the left operand.
    let depth: Int
    /// `n`: columns of `W` and of the product.
    let width: Int
    private let storage: FloatBuffer

    /// Packs `W = matrixᵀ` for a matrix stored `[n, k]`, such as the LSTM's `weight_hh`
    /// `[4H, H]` in `h · weight_hhᵀ`.
    init(transposeOf matrix: Tensor) {
        precondition(matrix.rank == 2, "PackedWeights needs a matrix, got shape \(matrix.shape)")
        self.init(matrix, n: matrix.shape[0], k: matrix.shape[1], transposed: true)
    }

    /// Packs `W = matrix` for a matrix stored `[k, n]`.
    init(_ matrix: Tensor) {
        precondition(matrix.rank == 2, "PackedWeights needs a matrix, got shape \(matrix.shape)")
        self.init(matrix, n: matrix.shape[1], k: matrix.shape[0], transposed: false)
    }

    private init(_ matrix: Tensor, n: Int, k: Int, transposed: Bool) {
        depth = k
        width = n
        storage = FloatBuffer(uninitializedCount: sm_packed_size(n, k))
        matrix.withUnsafeBufferPointer { m in
            if let base = m.baseAddress {
                sm_pack_weights(base, transposed ? k : n, n, k, transposed ? 1 : 0, storage.pointer)
            }
        }
    }

    /// `C[m, n] += A[m, k] · W` for row-major `A` (row stride `lda`) and `C` (row stride `ldc`).
    func accumulateProduct(rows m: Int, a: UnsafePointer<Float>, lda: Int,
                           into c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(lda >= depth && ldc >= width, "Row strides (\(lda), \(ldc)) are shorter than the rows (\(depth), \(width))")
        guard m > 0, width > 0, depth > 0 else { return }
        sm_gemm_packed(m, width, depth, a, lda, storage.pointer, c, ldc)
    }

    /// `accumulateProduct(rows:a:lda:into:ldc:)` with the rows shared out between `threads`
    /// threads, for products over many rows (an LSTM's input projection of every step at once).
    /// The same sums to the bit as on one thread: each row's sum is an FMA chain over `k` that does
    /// not depend on the rows around it, so results do not change with the thread count.
    func accumulateProduct(rows m: Int, a: UnsafePointer<Float>, lda: Int,
                           into c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        let parts = min(max(threads, 1), max(m / Self.rowsPerThread, 1))
        guard parts > 1 else {
            accumulateProduct(rows: m, a: a, lda: lda, into: c, ldc: ldc)
            return
        }
        let rows = SharedRows(a: a, c: c)
        let share = (m + parts - 1) / parts
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let first = part * share, count = min(share, m - first)
            guard count > 0 else { return }
            accumulateProduct(rows: count, a: rows.a + first * lda, lda: lda, into: rows.c + first * ldc, ldc: ldc)
        }
    }

    /// Fewest rows worth a thread of their own.
    static let rowsPerThread = 64

    /// The operands of a product shared by rows: each thread reads and writes only its own rows.
    private struct SharedRows: @unchecked Sendable {
        let a: UnsafePointer<Float>
        let c: UnsafeMutablePointer<Float>
    }
}

/// `C += A · W` for products repeated with the same weights (the LSTM's time steps), by the
/// faster route for each call: the weights packed once (`PackedWeights`, one thread), or, when
/// BLAS has several threads and the product is large enough to split, BLAS.
///
/// On this project's 2-core machine a product of B=32 rows by a 128-unit LSTM's weights
/// (2 M multiply-adds) runs faster on the packed kernel than on two OpenBLAS threads, one
/// against a 256-unit LSTM's weights (8 M) slower: `blasThreshold` sits between.
struct RepeatedProduct: Sendable {
    private let packed: PackedWeights
    private let matrix: Tensor
    private let transposed: Bool
    private let threaded: Bool

    /// Multiply-adds from which a product goes to BLAS when it has several threads.
    static let blasThreshold = 4_000_000

    /// The product with `W = matrixᵀ` (`transposed`) or `W = matrix`. `threaded: false` keeps
    /// every product on the calling thread (inside work that is already split across threads).
    init(_ matrix: Tensor, transposed: Bool, threaded: Bool = BLAS.threadCount > 1) {
        self.packed = transposed ? PackedWeights(transposeOf: matrix) : PackedWeights(matrix)
        self.matrix = matrix
        self.transposed = transposed
        self.threaded = threaded
    }

    /// `C[m, n] += A[m, k] · W` for row-major `A` (row stride `lda`) and `C` (row stride `ldc`).
    func accumulateProduct(rows m: Int, a: UnsafePointer<Float>, lda: Int,
                           into c: UnsafeMutablePointer<Float>, ldc: Int) {
        let n = packed.width, k = packed.depth
        guard threaded && m * n * k >= Self.blasThreshold else {
            packed.accumulateProduct(rows: m, a: a, lda: lda, into: c, ldc: ldc)
            return
        }
        matrix.withUnsafeBufferPointer { w in
            BLAS.gemm(transposeA: false, transposeB: transposed, m: m, n: n, k: k, a: a, lda: lda,
                      b: w.baseAddress!, ldb: transposed ? k : n, beta: 1, c: c, ldc: ldc)
        }
    }
}
