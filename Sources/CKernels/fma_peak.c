#include "CKernels.h"
#include "kernel_builds.h"
#include <time.h>

/*
 * The peak multiply-add rate of one core, measured: independent chains of vector FMAs on
 * registers only (no loads), as many chains as hide the FMA latency of the processors seen so
 * far (4 cycles, two FMA units). The baseline build has no FMA instruction: its chains are a
 * multiply and an add, counted as two operations all the same. For `seqmodels bench`, which
 * compares the LSTM's GFLOP/s with it.
 */
typedef float sm_p4 __attribute__((vector_size(16), aligned(4)));
typedef float sm_p8 __attribute__((vector_size(32), aligned(4)));
typedef float sm_p16 __attribute__((vector_size(64), aligned(4)));

enum { SM_PEAK_CHAINS = 12, SM_PEAK_STEPS = 4096 };

/* Runs the chains for `rounds` x SM_PEAK_STEPS steps; returns a value that depends on every chain. */
#define SM_PEAK_BODY(name, vector, lanes)                                                    \
    static inline __attribute__((always_inline)) void name##_body(long rounds, float *out) { \
        vector acc[SM_PEAK_CHAINS];                                                          \
        vector scale, shift;                                                                 \
        for (int l = 0; l < (lanes); l++) { scale[l] = 0.999999f; shift[l] = 1e-7f; }        \
        for (int j = 0; j < SM_PEAK_CHAINS; j++)                                             \
            for (int l = 0; l < (lanes); l++) acc[j][l] = (float)(j + l);                    \
        for (long r = 0; r < rounds; r++) {                                                  \
            for (int s = 0; s < SM_PEAK_STEPS; s++) {                                        \
                _Pragma("clang loop unroll(full)")                                           \
                for (int j = 0; j < SM_PEAK_CHAINS; j++) acc[j] = acc[j] * scale + shift;    \
            }                                                                                \
            __asm__ volatile("" : "+m"(acc));                                                \
        }                                                                                    \
        float total = 0;                                                                     \
        for (int j = 0; j < SM_PEAK_CHAINS; j++)                                             \
            for (int l = 0; l < (lanes); l++) total += acc[j][l];                            \
        *out = total;                                                                        \
    }

SM_PEAK_BODY(sm_peak_4, sm_p4, 4)
static void sm_peak_baseline(long rounds, float *out) { sm_peak_4_body(rounds, out); }
#if SM_KERNEL_BUILDS_BY_PROCESSOR
SM_PEAK_BODY(sm_peak_8, sm_p8, 8)
SM_PEAK_BODY(sm_peak_16, sm_p16, 16)
SM_TARGET_AVX2 static void sm_peak_avx2(long rounds, float *out) { sm_peak_8_body(rounds, out); }
SM_TARGET_AVX512 static void sm_peak_avx512(long rounds, float *out) { sm_peak_16_body(rounds, out); }
#endif

static double sm_seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double sm_fma_peak_gflops(long build, double seconds) {
    if (build < 0 || build >= sm_kernel_builds_runnable()) return -1;
    void (*run)(long, float *) = sm_peak_baseline;
    long lanes = 4;
#if SM_KERNEL_BUILDS_BY_PROCESSOR
    if (build == 1) { run = sm_peak_avx2; lanes = 8; }
    if (build == 2) { run = sm_peak_avx512; lanes = 16; }
#endif
    const long rounds = 64;
    const double operations = 2.0 * SM_PEAK_CHAINS * SM_PEAK_STEPS * (double)lanes * (double)rounds;
    double best = 0, start = sm_seconds_now();
    float sink;
    run(4, &sink); /* wake the vector units up */
    do {
        double t0 = sm_seconds_now();
        run(rounds, &sink);
        double rate = operations / (sm_seconds_now() - t0) / 1e9;
        if (rate > best) best = rate;
    } while (sm_seconds_now() - start < seconds);
    volatile float kept = sink; /* the chains' result is used: the loops cannot be dropped */
    (void)kept;
    return best;
}
