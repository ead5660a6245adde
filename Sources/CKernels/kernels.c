#include "CKernels.h"
#include "kernel_builds.h"
#include <math.h>
#include <string.h>
#include <stdint.h>

/*
 * Each kernel is built once per build of kernel_builds.h (baseline, AVX2+FMA, AVX-512 on x86-64
 * Linux; baseline elsewhere) and runs the build chosen when the library loaded. The loops are
 * written so that the compiler vectorises them (no branches, no libm calls in the bodies).
 */
/* The arrays a kernel loop touches never overlap (checked by the Swift callers), but
 * clang ignores `restrict` on block-scope pointers and its runtime overlap checks fail
 * on strided rows, falling back to scalar code. Say so explicitly.
 * Two vectors per iteration: one vector's chain (exp, divide, tanh, divide) is long enough
 * that the cores sat waiting on it; interleaving two made the cell kernels 1.4-1.6x faster
 * for H = 48, 100, 128 and 256 (same results, bit for bit: each element's arithmetic is
 * unchanged). Four helped at H >= 128 but lost at H = 48, the classifier's width. */
#if defined(__clang__)
#define SM_INDEPENDENT_ITERATIONS _Pragma("clang loop vectorize(assume_safety) interleave_count(2)")
#elif defined(__GNUC__)
#define SM_INDEPENDENT_ITERATIONS _Pragma("GCC ivdep")
#else
#define SM_INDEPENDENT_ITERATIONS
#endif

/* exp with Cephes-style range reduction: x = n ln2 + r, |r| <= ln2/2.
 * n is rounded with the 1.5 * 2^23 trick (no floorf/rintf call, which would stop
 * vectorisation on baseline x86-64), and 2^n is built in the exponent bits. */
static inline float sm_expf(float x) {
    x = fminf(fmaxf(x, -87.33654f), 88.72283f);
    const float shifter = 12582912.0f; /* 1.5 * 2^23 */
    float shifted = x * 1.44269504088896341f + shifter;
    int32_t shifted_bits;
    memcpy(&shifted_bits, &shifted, sizeof shifted_bits);
    int32_t n = shifted_bits - 0x4B400000; /* bits of the shifter: n = round(x / ln2) */
    float fx = shifted - shifter;
    float r = x - fx * 0.693359375f;
    r = r - fx * -2.12194440e-4f;
    float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r2 + r + 1.0f;
    /* 2^n for n in [-126, 128]: split in two factors so both stay normal. */
    int32_t n1 = n >> 1;
    int32_t n2 = n - n1;
    int32_t b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
    float s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    return p * s1 * s2;
}

static inline float sm_sigmoidf(float x) {
    return 1.0f / (1.0f + sm_expf(-x));
}

/* Rational approximation of tanh on [-9, 9] (as in Eigen), clamped beyond. */
static inline float sm_tanhf(float x) {
    const float clamp = 7.90531110763549805f;
    float ax = fminf(fmaxf(x, -clamp), clamp);
    float x2 = ax * ax;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * ax;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    float y = p / q;
    /* For tiny |x| the approximation equals x to within rounding; keep it exact. */
    return fabsf(x) < 4e-4f ? x : y;
}

#define SM_ELEMENTWISE_KERNEL(name, function)                                                  \
    static inline __attribute__((always_inline)) void name##_body(const float *x, float *y, long n) { \
        for (long i = 0; i < n; i++) y[i] = function(x[i]);                                   \
    }                                                                                          \
    SM_KERNEL_BUILDS(name, (const float *x, float *y, long n), (x, y, n))

SM_ELEMENTWISE_KERNEL(sm_exp, sm_expf)
SM_ELEMENTWISE_KERNEL(sm_sigmoid, sm_sigmoidf)
SM_ELEMENTWISE_KERNEL(sm_tanh, sm_tanhf)

static inline __attribute__((always_inline))
void sm_log_softmax_rows_body(const float *x, float *y, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = -INFINITY;
        for (long j = 0; j < cols; j++) m = fmaxf(m, xr[j]);
        float s = 0.0f;
        for (long j = 0; j < cols; j++) s += sm_expf(xr[j] - m);
        /* (x - m) - log(s), not x - (m + log s): keeps precision for large logits. */
        float ls = logf(s);
        for (long j = 0; j < cols; j++) yr[j] = (xr[j] - m) - ls;
    }
}
SM_KERNEL_BUILDS(sm_log_softmax_rows, (const float *x, float *y, long rows, long cols), (x, y, rows, cols))

/*
 * Softmax cross-entropy fused (CrossEntropyLoss's training pass): one exp per element where a
 * log-softmax, then an exp of it, then a scaling took two exps and five passes over the row.
 * The row's maximum and sum run in 16 partial lanes, each element added in order into lane
 * j % 16 and the lanes summed in order at the end, so that the compiler vectorises them and
 * every build adds in the same order (a plain running sum is a chain it must keep scalar).
 */
#define SM_LANES 16
static inline __attribute__((always_inline))
void sm_softmax_cross_entropy_rows_body(const float *x, const long *targets, const float *scales, float *g,
                                        float *nll, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *gr = g + r * cols;
        const float scale = scales[r];
        if (scale == 0.0f) {
            for (long j = 0; j < cols; j++) gr[j] = 0.0f;
            nll[r] = 0.0f;
            continue;
        }
        const long full = cols - cols % SM_LANES;
        /* fmaxf and the clamped exp would hide a NaN or infinite logit; x * 0 keeps it (NaN). */
        float lanes[SM_LANES], finite[SM_LANES];
        for (int k = 0; k < SM_LANES; k++) { lanes[k] = -INFINITY; finite[k] = 0.0f; }
        for (long j = 0; j < full; j += SM_LANES)
            for (int k = 0; k < SM_LANES; k++) {
                lanes[k] = fmaxf(lanes[k], xr[j + k]);
                finite[k] += xr[j + k] * 0.0f;
            }
        for (long j = full; j < cols; j++) {
            lanes[0] = fmaxf(lanes[0], xr[j]);
            finite[0] += xr[j] * 0.0f;
        }
        float m = lanes[0], check = finite[0];
        for (int k = 1; k < SM_LANES; k++) { m = fmaxf(m, lanes[k]); check += finite[k]; }

        for (int k = 0; k < SM_LANES; k++) lanes[k] = 0.0f;
        for (long j = 0; j < full; j += SM_LANES)
            for (int k = 0; k < SM_LANES; k++) {
                const float e = sm_expf(xr[j + k] - m);
                gr[j + k] = e;
                lanes[k] += e;
            }
        for (long j = full; j < cols; j++) {
            const float e = sm_expf(xr[j] - m);
            gr[j] = e;
            lanes[0] += e;
        }
        float s = 0.0f;
        for (int k = 0; k < SM_LANES; k++) s += lanes[k];

        const long t = targets[r];
        nll[r] = -((xr[t] - m) - logf(s)) + check;   /* NaN when a logit is not finite */
        const float factor = scale / s;
        for (long j = 0; j < cols; j++) gr[j] *= factor;
        gr[t] -= scale;
    }
}
SM_KERNEL_BUILDS(sm_softmax_cross_entropy_rows,
                 (const float *x, const long *targets, const float *scales, float *g, float *nll, long rows, long cols),
                 (x, targets, scales, g, nll, rows, cols))

/*
 * The LSTM cell kernels, in every build of kernel_builds.h. On this project's
 * Zen 4 machine the AVX-512 build made the inference cell about 1.45x faster at H = 100, 128
 * and 256 in a microbenchmark: the 32 registers hold the polynomial constants that the AVX2
 * build reloads on every iteration. Both FMA builds compute every element with the same
 * operations, so they agree to the bit; the baseline build, without FMA, rounds differently.
 *
 * Units run as a main part, a multiple of 32, two vectors per iteration
 * (SM_INDEPENDENT_ITERATIONS), and a rest one vector at a time, so that H = 48 does not
 * leave 16 units to scalar code in the 16-wide build (which then ran slower than AVX2).
 */
#if defined(__clang__)
#define SM_ONE_VECTOR_ITERATIONS _Pragma("clang loop vectorize(assume_safety) interleave_count(1)")
#else
#define SM_ONE_VECTOR_ITERATIONS SM_INDEPENDENT_ITERATIONS
#endif

#define SM_FOR_UNITS(count, ...)                                                   \
    do {                                                                           \
        const long sm_main = (count) - (count) % 32;                               \
        SM_INDEPENDENT_ITERATIONS                                                  \
        for (long j = 0; j < sm_main; j++) __VA_ARGS__                             \
        SM_ONE_VECTOR_ITERATIONS                                                   \
        for (long j = sm_main; j < (count); j++) __VA_ARGS__                       \
    } while (0)

static inline __attribute__((always_inline))
void sm_lstm_cell_forward_body(float *gates, const float *c_prev, float *c, float *tanh_c,
                               float *h, long h_stride, long rows, long hidden) {
    const long H = hidden;
    for (long r = 0; r < rows; r++) {
        float *restrict gi = gates + r * 4 * H;
        float *restrict gf = gi + H;
        float *restrict gg = gi + 2 * H;
        float *restrict go = gi + 3 * H;
        const float *restrict cp = c_prev + r * H;
        float *restrict cr = c + r * H;
        float *restrict tc = tanh_c + r * H;
        float *restrict hr = h + r * h_stride;
        SM_FOR_UNITS(H, {
            float i = sm_sigmoidf(gi[j]);
            float f = sm_sigmoidf(gf[j]);
            float g = sm_tanhf(gg[j]);
            float o = sm_sigmoidf(go[j]);
            float cn = f * cp[j] + i * g;
            float t = sm_tanhf(cn);
            gi[j] = i; gf[j] = f; gg[j] = g; go[j] = o;
            cr[j] = cn;
            tc[j] = t;
            hr[j] = o * t;
        });
    }
}

static inline __attribute__((always_inline))
void sm_lstm_cell_inference_body(const float *gates, float *c, float *h, long h_stride, long rows, long hidden) {
    const long H = hidden;
    for (long r = 0; r < rows; r++) {
        const float *restrict gi = gates + r * 4 * H;
        const float *restrict gf = gi + H;
        const float *restrict gg = gi + 2 * H;
        const float *restrict go = gi + 3 * H;
        float *restrict cr = c + r * H;
        float *restrict hr = h + r * h_stride;
        SM_FOR_UNITS(H, {
            float cn = sm_sigmoidf(gf[j]) * cr[j] + sm_sigmoidf(gi[j]) * sm_tanhf(gg[j]);
            cr[j] = cn;
            hr[j] = sm_sigmoidf(go[j]) * sm_tanhf(cn);
        });
    }
}

static inline __attribute__((always_inline))
void sm_lstm_cell_backward_body(const float *gates, const float *c_prev, const float *tanh_c,
                                const float *dh, float *dc, float *dgates, long rows, long hidden) {
    const long H = hidden;
    for (long r = 0; r < rows; r++) {
        const float *restrict gi = gates + r * 4 * H;
        const float *restrict gf = gi + H;
        const float *restrict gg = gi + 2 * H;
        const float *restrict go = gi + 3 * H;
        const float *restrict cp = c_prev + r * H;
        const float *restrict tc = tanh_c + r * H;
        const float *restrict dhr = dh + r * H;
        float *restrict dcr = dc + r * H;
        float *restrict di = dgates + r * 4 * H;
        float *restrict df = di + H;
        float *restrict dg = di + 2 * H;
        float *restrict dov = di + 3 * H;
        SM_FOR_UNITS(H, {
            float i = gi[j], f = gf[j], g = gg[j], o = go[j], t = tc[j];
            float dhj = dhr[j];
            float dcj = dcr[j] + dhj * o * (1.0f - t * t);
            di[j] = dcj * g * i * (1.0f - i);
            df[j] = dcj * cp[j] * f * (1.0f - f);
            dg[j] = dcj * i * (1.0f - g * g);
            dov[j] = dhj * t * o * (1.0f - o);
            dcr[j] = dcj * f;
        });
    }
}

#define SM_CELL_FORWARD_PARAMETERS (float *gates, const float *c_prev, float *c, float *tanh_c, \
                                    float *h, long h_stride, long rows, long hidden)
#define SM_CELL_FORWARD_ARGUMENTS (gates, c_prev, c, tanh_c, h, h_stride, rows, hidden)
#define SM_CELL_INFERENCE_PARAMETERS (const float *gates, float *c, float *h, long h_stride, long rows, long hidden)
#define SM_CELL_INFERENCE_ARGUMENTS (gates, c, h, h_stride, rows, hidden)
#define SM_CELL_BACKWARD_PARAMETERS (const float *gates, const float *c_prev, const float *tanh_c, \
                                     const float *dh, float *dc, float *dgates, long rows, long hidden)
#define SM_CELL_BACKWARD_ARGUMENTS (gates, c_prev, tanh_c, dh, dc, dgates, rows, hidden)

SM_KERNEL_BUILDS(sm_lstm_cell_forward, SM_CELL_FORWARD_PARAMETERS, SM_CELL_FORWARD_ARGUMENTS)
SM_KERNEL_BUILDS(sm_lstm_cell_inference, SM_CELL_INFERENCE_PARAMETERS, SM_CELL_INFERENCE_ARGUMENTS)
SM_KERNEL_BUILDS(sm_lstm_cell_backward, SM_CELL_BACKWARD_PARAMETERS, SM_CELL_BACKWARD_ARGUMENTS)

/* Every build, in the order of kernel_builds.h's indices. */
static const sm_kernel_build sm_builds[] = {
    {"baseline", sm_lstm_cell_forward_baseline, sm_lstm_cell_backward_baseline, sm_lstm_cell_inference_baseline,
     sm_gemm_packed_baseline, sm_softmax_cross_entropy_rows_baseline},
#if SM_KERNEL_BUILDS_BY_PROCESSOR
    {"avx2", sm_lstm_cell_forward_avx2, sm_lstm_cell_backward_avx2, sm_lstm_cell_inference_avx2, sm_gemm_packed_avx2,
     sm_softmax_cross_entropy_rows_avx2},
    {"avx512", sm_lstm_cell_forward_avx512, sm_lstm_cell_backward_avx512, sm_lstm_cell_inference_avx512,
     sm_gemm_packed_avx512, sm_softmax_cross_entropy_rows_avx512},
#endif
};

long sm_kernel_builds(const sm_kernel_build **builds) {
    *builds = sm_builds;
    return sm_kernel_builds_runnable();
}

const char *sm_kernel_build_in_use(void) {
    return sm_builds[sm_kernel_build_index()].name;
}
