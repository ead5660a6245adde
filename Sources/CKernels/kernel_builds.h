#ifndef SEQMODELS_KERNEL_BUILDS_H
#define SEQMODELS_KERNEL_BUILDS_H
/*
 * The builds of the hot kernels (elementwise functions, LSTM cells and optimizer updates in
 * kernels.c and optimizers.c, the packed GEMM in packed_gemm.c) and which one runs. Private to
 * CKernels.
 *
 * Builds, in order of the features they need: 0 baseline (x86-64 with SSE2, or any other
 * processor), 1 AVX2+FMA (x86-64-v3), 2 AVX-512 (x86-64-v4). Every kernel runs the build that
 * kernel_choice.c picked once, when the library loaded: the widest this processor can run,
 * whatever its vendor (measured fastest on AMD Zen 4 and on Intel Xeon model 207, the AVX-512
 * processors of this project), unless the environment variable SEQMODELS_KERNELS names another
 * (`baseline`, `avx2`, `avx512`; one the processor cannot run is refused at load time).
 *
 * The choice is a constructor, not an ifunc resolver: resolvers run while the program is being
 * relocated, when the C library may not have its environment yet, and cannot say why they
 * refuse a build.
 */
#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define SM_KERNEL_BUILDS_BY_PROCESSOR 1
#define SM_TARGET_AVX2 __attribute__((target("arch=x86-64-v3")))
#define SM_TARGET_AVX512 __attribute__((target("arch=x86-64-v4,tune=znver4")))

/* How many builds this processor can run. */
static inline long sm_kernel_builds_runnable(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("x86-64-v3")) return 1;
    if (!__builtin_cpu_supports("x86-64-v4")) return 2;
    return 3;
}
#else
#define SM_KERNEL_BUILDS_BY_PROCESSOR 0
static inline long sm_kernel_builds_runnable(void) { return 1; }
#endif

/* The index of the build every kernel runs: written once, by kernel_choice.c's constructor,
 * before any code of the program runs; baseline until then. Read it through
 * sm_kernel_build_index. */
extern int sm_kernel_build_index_chosen;
static inline int sm_kernel_build_index(void) { return sm_kernel_build_index_chosen; }

/*
 * SM_KERNEL_BUILDS(name, parameters, arguments): given `static inline` function name##_body
 * (always inlined), defines name##_baseline, name##_avx2 and name##_avx512 (each the body
 * compiled for its target) and `void name parameters`, which calls the chosen build.
 */
#if SM_KERNEL_BUILDS_BY_PROCESSOR
#define SM_KERNEL_BUILDS(name, parameters, arguments)                       \
    static void name##_baseline parameters { name##_body arguments; }       \
    SM_TARGET_AVX2 static void name##_avx2 parameters { name##_body arguments; }      \
    SM_TARGET_AVX512 static void name##_avx512 parameters { name##_body arguments; }  \
    void name parameters {                                                  \
        switch (sm_kernel_build_index()) {                                  \
        case 2: name##_avx512 arguments; break;                             \
        case 1: name##_avx2 arguments; break;                               \
        default: name##_baseline arguments; break;                          \
        }                                                                   \
    }
#else
#define SM_KERNEL_BUILDS(name, parameters, arguments)                       \
    static void name##_baseline parameters { name##_body arguments; }       \
    void name parameters { name##_baseline arguments; }
#endif

/* The builds of sm_gemm_packed (packed_gemm.c), for the table of builds in kernels.c. */
#define SM_GEMM_PACKED_PARAMETERS (long m, long n, long k, const float *a, long lda, const float *packed, \
                                   float *c, long ldc)
void sm_gemm_packed_baseline SM_GEMM_PACKED_PARAMETERS;
#if SM_KERNEL_BUILDS_BY_PROCESSOR
SM_TARGET_AVX2 void sm_gemm_packed_avx2 SM_GEMM_PACKED_PARAMETERS;
SM_TARGET_AVX512 void sm_gemm_packed_avx512 SM_GEMM_PACKED_PARAMETERS;
#endif
#endif
