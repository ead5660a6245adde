#include "CKernels.h"
#include "kernel_builds.h"
#include <stddef.h>

/*
 * GEMM with the right-hand matrix packed once, for the LSTM's products with its
 * weights: C (m x n) += A (m x k) . W, where W is the same for every time step.
 *
 * OpenBLAS re-packs W on every call; at the LSTM's step shapes (m = batch rows,
 * k = hidden size) that packing and its small-m blocking cost about a third of the
 * step. Here W is packed once per pass into panels of SM_PANEL_WIDTH (16) columns,
 * each panel k rows of 16 contiguous floats (zero-padded past n), and a register-blocked
 * micro-kernel computes a block of rows against one or more panels at a time.
 *
 * Two micro-kernels, over the same packed panels (kernel_builds.h says which build runs):
 * - 8-wide vectors (the baseline and AVX2+FMA builds): 6 rows x 16 columns, twelve 8-wide
 *   accumulators of the 16 registers, one broadcast of A and two panel loads per k. Row
 *   blocks are sized evenly (5 or 6 rows rather than a remainder of 1 or 2), and one or two
 *   rows (the last steps of a packed batch, a single sentence) meet several panels at once,
 *   so that at least eight accumulators are in flight.
 * - 16-wide vectors (the AVX-512 build): 8 rows x 3 panels (48 columns), twenty-four of the
 *   32 registers, three panel loads and eight broadcasts per 24 FMAs: per multiply-add, a third
 *   of the 8-wide kernel's loads and under half its instructions. One to three rows meet four
 *   panels at once (a single row's product is bound by reading the weights). On this project's
 *   Zen 4 machine, which runs a 512-bit FMA as two 256-bit halves (the same peak as AVX2), it
 *   ran the step products of `seqmodels bench lstm` (32 rows by 1024 columns, k = 128 and 256)
 *   at 103-108 GFLOP/s against the 8-wide kernel's 76 (medians of 21 interleaved rounds) while
 *   the machine was busy, and at 107-112 against 89-106 when it was quieter: the gain is largest
 *   when the core is shared.
 * One driver (sm_gemm_packed_blocks) runs both. Every element of C is the same sum, in the
 * same order (an FMA chain over k, then one add into C), whatever the blocking and vector
 * width, so the two FMA builds agree to the bit.
 *
 * The loops use the compiler's vector extensions, which become AVX2+FMA or AVX-512 in the
 * builds with those targets and pairs of 4-wide vectors in the baseline build.
 */

typedef float sm_v8 __attribute__((vector_size(32), aligned(4)));
typedef float sm_v16 __attribute__((vector_size(64), aligned(4)));
#define SM_LOAD(p) (*(const sm_v8 *)(p))
#define SM_STORE(p, v) (*(sm_v8 *)(p) = (v))
#define SM_LOAD16(p) (*(const sm_v16 *)(p))
#define SM_STORE16(p, v) (*(sm_v16 *)(p) = (v))

enum { SM_ROWS_PER_CHUNK = 72 };

long sm_packed_size(long n, long k) {
    return ((n + SM_PANEL_WIDTH - 1) / SM_PANEL_WIDTH) * SM_PANEL_WIDTH * k;
}

void sm_pack_weights(const float *w, long ldw, long n, long k, int w_is_n_by_k, float *packed) {
    long panels = (n + SM_PANEL_WIDTH - 1) / SM_PANEL_WIDTH;
    for (long p = 0; p < panels; p++) {
        float *dst = packed + p * k * SM_PANEL_WIDTH;
        long first = p * SM_PANEL_WIDTH;
        long columns = n - first < SM_PANEL_WIDTH ? n - first : SM_PANEL_WIDTH;
        if (w_is_n_by_k) {
            /* W given as its transpose (n x k): column j of W is row j of w. */
            /* Read rows of w contiguously; the strided writes stay within one panel (in L1). */
            for (long c = 0; c < SM_PANEL_WIDTH; c++) {
                const float *src = w + (first + c) * ldw;
                if (c < columns) {
                    for (long kk = 0; kk < k; kk++) dst[kk * SM_PANEL_WIDTH + c] = src[kk];
                } else {
                    for (long kk = 0; kk < k; kk++) dst[kk * SM_PANEL_WIDTH + c] = 0;
                }
            }
        } else {
            for (long kk = 0; kk < k; kk++) {
                for (long c = 0; c < columns; c++) dst[kk * SM_PANEL_WIDTH + c] = w[kk * ldw + first + c];
                for (long c = columns; c < SM_PANEL_WIDTH; c++) dst[kk * SM_PANEL_WIDTH + c] = 0;
            }
        }
    }
}

/* The micro-kernels: `rows` rows of A times `group` consecutive panels, added into C; only the
 * last panel of the block may have fewer than 16 `columns`. With constant `rows` and `group`
 * after inlining, the accumulators live in registers. Each element of C is the same sum in
 * both: an FMA chain over k, then one add into C.
 * 8-wide: two vectors per panel row, so 2 * rows * group accumulators: at most 12 of the 16
 * registers (6 rows and 1 panel; 1 or 2 rows and 4 or 2 panels make 8). The array has room for
 * the 7- and 8-row blocks that the driver's switch names but reaches only when 16-wide. */
static inline __attribute__((always_inline))
void sm_block_8_wide(int rows, int group, long k, const float *a, long lda, const float *panels,
                     float *c, long ldc, long columns) {
    sm_v8 acc[16];
    for (int q = 0; q < 2 * rows * group; q++) acc[q] = (sm_v8){0};
    for (long kk = 0; kk < k; kk++) {
        sm_v8 b[8];
        for (int g = 0; g < group; g++) {
            const float *row = panels + g * k * SM_PANEL_WIDTH + kk * SM_PANEL_WIDTH;
            b[2 * g] = SM_LOAD(row);
            b[2 * g + 1] = SM_LOAD(row + 8);
        }
        for (int r = 0; r < rows; r++) {
            float x = a[r * lda + kk];
            for (int g = 0; g < group; g++) {
                acc[2 * (r * group + g)] += x * b[2 * g];
                acc[2 * (r * group + g) + 1] += x * b[2 * g + 1];
            }
        }
    }
    for (int r = 0; r < rows; r++) {
        for (int g = 0; g < group; g++) {
            float *out = c + r * ldc + g * SM_PANEL_WIDTH;
            sm_v8 lo = acc[2 * (r * group + g)], hi = acc[2 * (r * group + g) + 1];
            if (g < group - 1 || columns == SM_PANEL_WIDTH) {
                SM_STORE(out, SM_LOAD(out) + lo);
                SM_STORE(out + 8, SM_LOAD(out + 8) + hi);
            } else {
                float spill[SM_PANEL_WIDTH];
                SM_STORE(spill, lo);
                SM_STORE(spill + 8, hi);
                for (long j = 0; j < columns; j++) out[j] += spill[j];
            }
        }
    }
}

/* 16-wide: one vector per panel row; rows * group <= 24 (of the 32 registers). */
static inline __attribute__((always_inline))
void sm_block_16_wide(int rows, int group, long k, const float *a, long lda, const float *panels,
                      float *c, long ldc, long columns) {
    sm_v16 acc[24];
    for (int q = 0; q < rows * group; q++) acc[q] = (sm_v16){0};
    for (long kk = 0; kk < k; kk++) {
        sm_v16 b[4];
        for (int g = 0; g < group; g++) b[g] = SM_LOAD16(panels + g * k * SM_PANEL_WIDTH + kk * SM_PANEL_WIDTH);
        for (int r = 0; r < rows; r++) {
            float x = a[r * lda + kk];
            for (int g = 0; g < group; g++) acc[r * group + g] += x * b[g];
        }
    }
    for (int r = 0; r < rows; r++) {
        for (int g = 0; g < group; g++) {
            float *out = c + r * ldc + g * SM_PANEL_WIDTH;
            if (g < group - 1 || columns == SM_PANEL_WIDTH) {
                SM_STORE16(out, SM_LOAD16(out) + acc[r * group + g]);
            } else {
                float spill[SM_PANEL_WIDTH];
                SM_STORE16(spill, acc[r * group + g]);
                for (long j = 0; j < columns; j++) out[j] += spill[j];
            }
        }
    }
}

/* How many panels a block of `rows` rows meets at once. 8-wide: one row 4 and two rows 2 (a lone
 * row against one panel keeps only two accumulators in flight, and the FMA units wait on them),
 * more rows 1. 16-wide: up to three rows 4, more rows 3. Every block of a chunk meets the same
 * panels: a chunk of several blocks has blocks of 3 rows or more (8-wide) or of 4 or more (16-wide). */
#define SM_PANELS_PER_BLOCK(wide, rows) ((wide) ? ((rows) <= 3 ? 4 : 3) : ((rows) == 1 ? 4 : (rows) == 2 ? 2 : 1))

/* One block of `rows` rows against the panels from `p` on: a whole group of full panels when
 * there are enough, else one panel (the last, possibly partial, included). Returns the panels done. */
static inline __attribute__((always_inline))
long sm_block_at(int wide, int rows, long p, long fullPanels, long n, long k,
                 const float *a, long lda, const float *packed, float *c, long ldc) {
    const int group = SM_PANELS_PER_BLOCK(wide, rows);
    const float *panel = packed + p * k * SM_PANEL_WIDTH;
    float *out = c + p * SM_PANEL_WIDTH;
    if (p + group <= fullPanels) {
        if (wide) sm_block_16_wide(rows, group, k, a, lda, panel, out, ldc, SM_PANEL_WIDTH);
        else sm_block_8_wide(rows, group, k, a, lda, panel, out, ldc, SM_PANEL_WIDTH);
        return group;
    }
    long first = p * SM_PANEL_WIDTH;
    long columns = n - first < SM_PANEL_WIDTH ? n - first : SM_PANEL_WIDTH;
    if (wide) sm_block_16_wide(rows, 1, k, a, lda, panel, out, ldc, columns);
    else sm_block_8_wide(rows, 1, k, a, lda, panel, out, ldc, columns);
    return 1;
}

/* The driver of both micro-kernels (`wide`: 16-wide vectors, else 8-wide). */
static inline __attribute__((always_inline))
void sm_gemm_packed_blocks(int wide, long m, long n, long k, const float *a, long lda, const float *packed,
                           float *c, long ldc) {
    const long rowsPerBlock = wide ? 8 : 6;
    long panels = (n + SM_PANEL_WIDTH - 1) / SM_PANEL_WIDTH, fullPanels = n / SM_PANEL_WIDTH;
    /* Rows in chunks whose A block stays in L2; within a chunk, each group of panels meets every row. */
    for (long chunk = 0; chunk < m; chunk += SM_ROWS_PER_CHUNK) {
        long rows = m - chunk < SM_ROWS_PER_CHUNK ? m - chunk : SM_ROWS_PER_CHUNK;
        const float *ac = a + chunk * lda;
        float *cc = c + chunk * ldc;
        /* As few blocks as full blocks need, their sizes as even as possible: a block of r rows
         * keeps r (16-wide) or 2r (8-wide) accumulators per panel in flight, so 32 rows run as
         * 6+6+5+5+5+5 rather than 6+6+6+6+6+2 (8-wide) and as 8+8+8+8 (16-wide). */
        long blocks = (rows + rowsPerBlock - 1) / rowsPerBlock;
        long base = rows / blocks, larger = rows % blocks;
        for (long p = 0; p < panels;) {
            long done = 0, i = 0;
            for (long b = 0; b < blocks; b++) {
                long size = base + (b < larger ? 1 : 0);
                const float *ab = ac + i * lda;
                float *cb = cc + i * ldc;
#define SM_BLOCK(R) sm_block_at(wide, R, p, fullPanels, n, k, ab, lda, packed, cb, ldc)
                switch (size) {
                case 8: done = SM_BLOCK(8); break;   /* 16-wide only */
                case 7: done = SM_BLOCK(7); break;   /* 16-wide only */
                case 6: done = SM_BLOCK(6); break;
                case 5: done = SM_BLOCK(5); break;
                case 4: done = SM_BLOCK(4); break;
                case 3: done = SM_BLOCK(3); break;
                case 2: done = SM_BLOCK(2); break;
                default: done = SM_BLOCK(1); break;
                }
#undef SM_BLOCK
                i += size;
            }
            p += done;
        }
    }
}

void sm_gemm_packed_baseline SM_GEMM_PACKED_PARAMETERS {
    sm_gemm_packed_blocks(0, m, n, k, a, lda, packed, c, ldc);
}

#if SM_KERNEL_BUILDS_BY_PROCESSOR
SM_TARGET_AVX2 void sm_gemm_packed_avx2 SM_GEMM_PACKED_PARAMETERS {
    sm_gemm_packed_blocks(0, m, n, k, a, lda, packed, c, ldc);
}

SM_TARGET_AVX512 void sm_gemm_packed_avx512 SM_GEMM_PACKED_PARAMETERS {
    sm_gemm_packed_blocks(1, m, n, k, a, lda, packed, c, ldc);
}

/* The build chosen when the library loaded (kernel_builds.h). */
void sm_gemm_packed SM_GEMM_PACKED_PARAMETERS {
    switch (sm_kernel_build_index()) {
    case 2: sm_gemm_packed_avx512(m, n, k, a, lda, packed, c, ldc); break;
    case 1: sm_gemm_packed_avx2(m, n, k, a, lda, packed, c, ldc); break;
    default: sm_gemm_packed_baseline(m, n, k, a, lda, packed, c, ldc); break;
    }
}
#else
void sm_gemm_packed SM_GEMM_PACKED_PARAMETERS { sm_gemm_packed_baseline(m, n, k, a, lda, packed, c, ldc); }
#endif
