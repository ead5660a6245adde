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
 * Two micro-kernels, over the same packed panels (kernel_builds.h says which build runs where):
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
 *   at 103-108 GFLOP/s against the 8-wide kernel's 76 (medians of 21 interleaved rounds).
 * Every element of C is the same sum, in the same order (an FMA chain over k, then one add
 * into C), whatever the blocking and vector width, so the two FMA builds agree to the bit.
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

enum { SM_ROWS_PER_BLOCK = 6, SM_ROWS_PER_CHUNK = 72 };

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

/* rows (1...6) rows of A times one panel, added into `columns` columns of C. With a
 * constant `rows` after inlining, the accumulators live in registers. */
static inline __attribute__((always_inline))
void sm_panel_block(int rows, long k, const float *a, long lda, const float *panel,
                    float *c, long ldc, long columns) {
    sm_v8 lo[SM_ROWS_PER_BLOCK], hi[SM_ROWS_PER_BLOCK];
    for (int r = 0; r < rows; r++) { lo[r] = (sm_v8){0}; hi[r] = (sm_v8){0}; }
    for (long kk = 0; kk < k; kk++) {
        sm_v8 b0 = SM_LOAD(panel + kk * SM_PANEL_WIDTH);
        sm_v8 b1 = SM_LOAD(panel + kk * SM_PANEL_WIDTH + 8);
        for (int r = 0; r < rows; r++) {
            float x = a[r * lda + kk];
            lo[r] += x * b0;
            hi[r] += x * b1;
        }
    }
    for (int r = 0; r < rows; r++) {
        float *row = c + r * ldc;
        if (columns == SM_PANEL_WIDTH) {
            SM_STORE(row, SM_LOAD(row) + lo[r]);
            SM_STORE(row + 8, SM_LOAD(row + 8) + hi[r]);
        } else {
            float spill[SM_PANEL_WIDTH];
            SM_STORE(spill, lo[r]);
            SM_STORE(spill + 8, hi[r]);
            for (long j = 0; j < columns; j++) row[j] += spill[j];
        }
    }
}

/* One or two rows against `group` consecutive panels at once (group * rows == 4): a lone row
 * against one panel keeps only two accumulators in flight, and the FMA units wait on them;
 * four panels give eight. Each output element is the same sum as in sm_panel_block. */
static inline __attribute__((always_inline))
void sm_few_rows_panels(int rows, int group, long k, const float *a, long lda, const float *panels,
                        float *c, long ldc) {
    sm_v8 acc[8];
    for (int q = 0; q < 8; q++) acc[q] = (sm_v8){0};
    for (long kk = 0; kk < k; kk++) {
        for (int g = 0; g < group; g++) {
            const float *row = panels + g * k * SM_PANEL_WIDTH + kk * SM_PANEL_WIDTH;
            sm_v8 b0 = SM_LOAD(row), b1 = SM_LOAD(row + 8);
            for (int r = 0; r < rows; r++) {
                float x = a[r * lda + kk];
                acc[(g * rows + r) * 2] += x * b0;
                acc[(g * rows + r) * 2 + 1] += x * b1;
            }
        }
    }
    for (int g = 0; g < group; g++) {
        for (int r = 0; r < rows; r++) {
            float *out = c + r * ldc + g * SM_PANEL_WIDTH;
            SM_STORE(out, SM_LOAD(out) + acc[(g * rows + r) * 2]);
            SM_STORE(out + 8, SM_LOAD(out + 8) + acc[(g * rows + r) * 2 + 1]);
        }
    }
}

static inline __attribute__((always_inline))
void sm_gemm_packed_8_wide(long m, long n, long k, const float *a, long lda, const float *packed, float *c, long ldc) {
    long panels = (n + SM_PANEL_WIDTH - 1) / SM_PANEL_WIDTH;
    /* Rows in chunks whose A block stays in L2; within a chunk, each panel (in L1) meets every row. */
    for (long chunk = 0; chunk < m; chunk += SM_ROWS_PER_CHUNK) {
        long rows = m - chunk < SM_ROWS_PER_CHUNK ? m - chunk : SM_ROWS_PER_CHUNK;
        /* As few blocks as 6-row blocks need, their sizes as even as possible: a block of r
         * rows keeps 2r accumulators in flight, and below 4 rows the FMA units wait on them, so
         * 32 rows run as 6+6+5+5+5+5 rather than 6+6+6+6+6+2. */
        long blocks = (rows + SM_ROWS_PER_BLOCK - 1) / SM_ROWS_PER_BLOCK;
        long base = rows / blocks, larger = rows % blocks;
        /* One or two rows: whole groups of full panels at a time; the panels left, as usual below. */
        long p = 0, fullPanels = n / SM_PANEL_WIDTH;
        const float *ac = a + chunk * lda;
        float *cc = c + chunk * ldc;
        if (rows == 1) {
            for (; p + 4 <= fullPanels; p += 4)
                sm_few_rows_panels(1, 4, k, ac, lda, packed + p * k * SM_PANEL_WIDTH, cc + p * SM_PANEL_WIDTH, ldc);
        } else if (rows == 2) {
            for (; p + 2 <= fullPanels; p += 2)
                sm_few_rows_panels(2, 2, k, ac, lda, packed + p * k * SM_PANEL_WIDTH, cc + p * SM_PANEL_WIDTH, ldc);
        }
        for (; p < panels; p++) {
            const float *panel = packed + p * k * SM_PANEL_WIDTH;
            long first = p * SM_PANEL_WIDTH;
            long columns = n - first < SM_PANEL_WIDTH ? n - first : SM_PANEL_WIDTH;
            long i = chunk;
            for (long b = 0; b < blocks; b++) {
                long size = base + (b < larger ? 1 : 0);
                const float *ab = a + i * lda;
                float *cb = c + i * ldc + first;
                switch (size) {
                case 6: sm_panel_block(6, k, ab, lda, panel, cb, ldc, columns); break;
                case 5: sm_panel_block(5, k, ab, lda, panel, cb, ldc, columns); break;
                case 4: sm_panel_block(4, k, ab, lda, panel, cb, ldc, columns); break;
                case 3: sm_panel_block(3, k, ab, lda, panel, cb, ldc, columns); break;
                case 2: sm_panel_block(2, k, ab, lda, panel, cb, ldc, columns); break;
                default: sm_panel_block(1, k, ab, lda, panel, cb, ldc, columns); break;
                }
                i += size;
            }
        }
    }
}

/* The 16-wide micro-kernel: `rows` (1...8) rows of A times `group` (1...4, rows * group <= 24)
 * consecutive panels, added into C; only the last panel of the block may have fewer than 16
 * `columns`. With constant `rows` and `group` after inlining, the accumulators live in registers. */
enum { SM_WIDE_ROWS_PER_BLOCK = 8, SM_WIDE_PANELS_PER_BLOCK = 3, SM_WIDE_ACCUMULATORS = 24 };

static inline __attribute__((always_inline))
void sm_wide_block(int rows, int group, long k, const float *a, long lda, const float *panels,
                   float *c, long ldc, long columns) {
    sm_v16 acc[SM_WIDE_ACCUMULATORS];
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

/* One block of `rows` rows against the panels from `p` on: a whole group of full panels when
 * there are enough, else one panel (the last, possibly partial, included). Returns the panels done. */
static inline __attribute__((always_inline))
long sm_wide_rows(int rows, int group, long p, long fullPanels, long n, long k,
                  const float *a, long lda, const float *packed, float *c, long ldc) {
    const float *panel = packed + p * k * SM_PANEL_WIDTH;
    float *out = c + p * SM_PANEL_WIDTH;
    if (p + group <= fullPanels) {
        sm_wide_block(rows, group, k, a, lda, panel, out, ldc, SM_PANEL_WIDTH);
        return group;
    }
    long first = p * SM_PANEL_WIDTH;
    long columns = n - first < SM_PANEL_WIDTH ? n - first : SM_PANEL_WIDTH;
    sm_wide_block(rows, 1, k, a, lda, panel, out, ldc, columns);
    return 1;
}

static inline __attribute__((always_inline))
void sm_gemm_packed_16_wide(long m, long n, long k, const float *a, long lda, const float *packed, float *c, long ldc) {
    long panels = (n + SM_PANEL_WIDTH - 1) / SM_PANEL_WIDTH, fullPanels = n / SM_PANEL_WIDTH;
    /* Rows in chunks whose A block stays in L2; within a chunk, each group of panels meets every row. */
    for (long chunk = 0; chunk < m; chunk += SM_ROWS_PER_CHUNK) {
        long rows = m - chunk < SM_ROWS_PER_CHUNK ? m - chunk : SM_ROWS_PER_CHUNK;
        const float *ac = a + chunk * lda;
        float *cc = c + chunk * ldc;
        /* As few blocks as 8-row blocks need, their sizes as even as possible: from 4 rows on,
         * every block has 4 to 8 rows and meets SM_WIDE_PANELS_PER_BLOCK panels at a time; 1 to
         * 3 rows make one block that meets 4. So all blocks of a chunk take the same panels. */
        long blocks = (rows + SM_WIDE_ROWS_PER_BLOCK - 1) / SM_WIDE_ROWS_PER_BLOCK;
        long base = rows / blocks, larger = rows % blocks;
        for (long p = 0; p < panels;) {
            long done = 0, i = 0;
            for (long b = 0; b < blocks; b++) {
                long size = base + (b < larger ? 1 : 0);
                const float *ab = ac + i * lda;
                float *cb = cc + i * ldc;
#define SM_WIDE(R, G) sm_wide_rows(R, G, p, fullPanels, n, k, ab, lda, packed, cb, ldc)
                switch (size) {
                case 8: done = SM_WIDE(8, SM_WIDE_PANELS_PER_BLOCK); break;
                case 7: done = SM_WIDE(7, SM_WIDE_PANELS_PER_BLOCK); break;
                case 6: done = SM_WIDE(6, SM_WIDE_PANELS_PER_BLOCK); break;
                case 5: done = SM_WIDE(5, SM_WIDE_PANELS_PER_BLOCK); break;
                case 4: done = SM_WIDE(4, SM_WIDE_PANELS_PER_BLOCK); break;
                case 3: done = SM_WIDE(3, 4); break;
                case 2: done = SM_WIDE(2, 4); break;
                default: done = SM_WIDE(1, 4); break;
                }
#undef SM_WIDE
                i += size;
            }
            p += done;
        }
    }
}

void sm_gemm_packed_baseline SM_GEMM_PACKED_PARAMETERS {
    sm_gemm_packed_8_wide(m, n, k, a, lda, packed, c, ldc);
}

#if SM_KERNEL_BUILDS_BY_PROCESSOR
SM_TARGET_AVX2 void sm_gemm_packed_avx2 SM_GEMM_PACKED_PARAMETERS {
    sm_gemm_packed_8_wide(m, n, k, a, lda, packed, c, ldc);
}

SM_TARGET_AVX512 void sm_gemm_packed_avx512 SM_GEMM_PACKED_PARAMETERS {
    sm_gemm_packed_16_wide(m, n, k, a, lda, packed, c, ldc);
}

/* The ifunc resolver (see kernels.c): it runs while the program is being relocated. */
static void (*sm_resolve_gemm_packed(void)) SM_GEMM_PACKED_PARAMETERS {
    SM_RESOLVE_KERNEL_BUILD(sm_gemm_packed_baseline, sm_gemm_packed_avx2, sm_gemm_packed_avx512)
}

void sm_gemm_packed SM_GEMM_PACKED_PARAMETERS __attribute__((ifunc("sm_resolve_gemm_packed")));
#else
void sm_gemm_packed SM_GEMM_PACKED_PARAMETERS { sm_gemm_packed_baseline(m, n, k, a, lda, packed, c, ldc); }
#endif
