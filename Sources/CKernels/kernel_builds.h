#ifndef SEQMODELS_KERNEL_BUILDS_H
#define SEQMODELS_KERNEL_BUILDS_H
/*
 * Which build of the hot kernels (the LSTM cell kernels in kernels.c, the packed GEMM in
 * packed_gemm.c) this processor runs. Private to CKernels. Static inline, so that the ifunc
 * resolvers, which run while the program is being relocated, call it directly rather than
 * through a relocation that may not be done yet.
 *
 * Builds, in order of the features they need: 0 baseline, 1 AVX2+FMA (x86-64-v3), 2 AVX-512
 * (x86-64-v4). AVX-512 runs on AMD processors only: AMD cores keep their clock for 512-bit
 * work, where Intel's Skylake-generation servers lower theirs, which would slow the 256-bit
 * code around the kernels; Intel processors get the AVX2 build.
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

/* The index of the build the kernels use. */
static inline long sm_kernel_build_chosen(void) {
    long runnable = sm_kernel_builds_runnable();
    if (runnable == 3 && !__builtin_cpu_is("amd")) return 1;
    return runnable - 1;
}

/* The body of an ifunc resolver: returns the build of a kernel that sm_kernel_build_chosen picks. */
#define SM_RESOLVE_KERNEL_BUILD(baseline, avx2, avx512)                     \
    switch (sm_kernel_build_chosen()) {                                     \
    case 2: return avx512;                                                  \
    case 1: return avx2;                                                    \
    default: return baseline;                                               \
    }
#else
#define SM_KERNEL_BUILDS_BY_PROCESSOR 0
static inline long sm_kernel_builds_runnable(void) { return 1; }
static inline long sm_kernel_build_chosen(void) { return 0; }
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
