#ifndef SEQMODELS_CKERNELS_H
#define SEQMODELS_CKERNELS_H

/*
 * Vectorised elementwise kernels for SeqModels.
 *
 * Raw-pointer kernels, called only from the Swift wrappers in
 * Sources/SeqModels/Tensor/Kernels.swift, which check shapes first.
 * All arrays are float32, row-major, and must not alias unless stated.
 * The activations use polynomial/rational approximations accurate to a few
 * ulp (max relative error < 5e-7 over the float range), which vectorise.
 */

#include <stddef.h>
#include <pthread.h>
/* Fused optimizer updates and norms (own header; SwiftPM uses this file as the umbrella). */
#include "CKernelsOptimizers.h"

#ifdef __cplusplus
extern "C" {
#endif

/// y[i] = exp(x[i]); y may equal x.
void sm_exp(const float *x, float *y, long n);
/// y[i] = 1 / (1 + exp(-x[i])); y may equal x.
void sm_sigmoid(const float *x, float *y, long n);
/// y[i] = tanh(x[i]); y may equal x.
void sm_tanh(const float *x, float *y, long n);

/// Row-wise log-softmax of a rows x cols matrix; y may equal x.
void sm_log_softmax_rows(const float *x, float *y, long rows, long cols);
/// Softmax cross-entropy of each row of the rows x cols logits x against targets[r]: nll[r] =
/// -log softmax(x_r)[targets[r]], and g (rows x cols, not x) = scales[r] * (softmax(x_r) -
/// onehot(targets[r])). A row whose scale is 0 gets g = 0 and nll = 0, its target unread.
void sm_softmax_cross_entropy_rows(const float *x, const long *targets, const float *scales, float *g,
                                   float *nll, long rows, long cols);

/*
 * LSTM cell, forward, for `rows` rows of hidden size H.
 * gates: rows x 4H, pre-activations in PyTorch order i,f,g,o on entry;
 *        activated sigma(i), sigma(f), tanh(g), sigma(o) on exit.
 * c_prev: rows x H (row stride H).
 * c, tanh_c: rows x H, written (row stride H).
 * h: written with row stride h_stride (lets the two directions of a
 *    bidirectional layer write into one concatenated output).
 */
void sm_lstm_cell_forward(float *gates, const float *c_prev, float *c, float *tanh_c,
                          float *h, long h_stride, long rows, long hidden);

/*
 * LSTM cell, backward, for `rows` rows.
 * gates, c_prev, tanh_c: as cached by the forward pass.
 * dh: gradient reaching h (output + recurrent), row stride H.
 * dc: on entry the gradient reaching c from the next step; on exit the
 *     gradient with respect to c_prev (row stride H).
 * dgates: rows x 4H, written: gradient with respect to the pre-activations.
 */
void sm_lstm_cell_backward(const float *gates, const float *c_prev, const float *tanh_c,
                           const float *dh, float *dc, float *dgates, long rows, long hidden);

/*
 * LSTM cell, forward, for inference: nothing is kept for a backward pass.
 * gates: rows x 4H pre-activations (i,f,g,o), read only.
 * c: rows x H, the previous cell state on entry, the new one on exit.
 * h: written with row stride h_stride.
 */
void sm_lstm_cell_inference(const float *gates, float *c, float *h, long h_stride, long rows, long hidden);

/*
 * The builds of the hot kernels (kernel_builds.h): the elementwise functions, the three cell
 * kernels above, the fused softmax cross-entropy, the optimizer updates and sm_gemm_packed below. Every kernel runs one build,
 * chosen when the library loads: the widest the processor can run ("avx512" with AVX-512
 * F/BW/CD/DQ/VL, "avx2" with AVX2 and FMA, else "baseline"), or the one the environment variable
 * SEQMODELS_KERNELS names (baseline, avx2, avx512, auto); a name the processor cannot run is
 * refused with a message on standard error and exit status 2. The table is for tests, which
 * check that the builds agree, and for reports.
 */
typedef struct {
    const char *name;
    void (*cell_forward)(float *gates, const float *c_prev, float *c, float *tanh_c,
                         float *h, long h_stride, long rows, long hidden);
    void (*cell_backward)(const float *gates, const float *c_prev, const float *tanh_c,
                          const float *dh, float *dc, float *dgates, long rows, long hidden);
    void (*cell_inference)(const float *gates, float *c, float *h, long h_stride, long rows, long hidden);
    void (*gemm_packed)(long m, long n, long k, const float *a, long lda, const float *packed,
                        float *c, long ldc);
    void (*softmax_cross_entropy_rows)(const float *x, const long *targets, const float *scales, float *g,
                                       float *nll, long rows, long cols);
} sm_kernel_build;
/* Sets *builds to the builds, baseline first; returns how many this processor can run. */
long sm_kernel_builds(const sm_kernel_build **builds);
/* The name of the build the kernels use. */
const char *sm_kernel_build_in_use(void);
/* The build SEQMODELS_KERNELS=`name` chooses on a processor that runs the first `runnable` builds:
 * its index in the table, or -1 with the reason written to `message` (as the library prints it
 * when it refuses). NULL, "" and "auto" choose the widest. */
long sm_kernel_choice_problem(const char *name, long runnable, char *message, long capacity);
/* The peak multiply-add rate of one thread with build `build`'s vectors, in GFLOP/s, measured for
 * about `seconds` (fma_peak.c); -1 when the processor cannot run that build. */
double sm_fma_peak_gflops(long build, double seconds);

/*
 * OpenBLAS's core (blas_core.c). When the library loads, unless OPENBLAS_CORETYPE is set, a
 * generic core that OpenBLAS picked on a processor with AVX2 and FMA is replaced by the one the
 * processor's features call for. Every function returns NULL / -1 where OpenBLAS (or its
 * DYNAMIC_ARCH entry points) is not what runs.
 * - sm_openblas_config: OpenBLAS's build string ("OpenBLAS 0.3.21 DYNAMIC_ARCH ... Haswell ...").
 * - sm_openblas_core: the core in use ("Cooperlake", "Prescott", ...).
 * - sm_openblas_replaced_core: the generic core that was replaced, or NULL when none was.
 * - sm_openblas_core_for_processor: the core this processor calls for (SkylakeX, Zen, Haswell), or NULL.
 * - sm_openblas_core_is_generic: 1 when `core` does not use AVX2 although this processor has it.
 * - sm_openblas_use_core: sets OpenBLAS up again with `core`; 0 on success. Only while no other
 *   thread calls BLAS.
 * - sm_openblas_repair_generic_core: what the library does when it loads: 1 replaced, 0 nothing to
 *   do, -1 could not.
 */
const char *sm_openblas_config(void);
const char *sm_openblas_core(void);
const char *sm_openblas_replaced_core(void);
const char *sm_openblas_core_for_processor(void);
int sm_processor_has_avx2_fma(void);
int sm_openblas_core_is_generic(const char *core);
int sm_openblas_use_core(const char *core);
int sm_openblas_repair_generic_core(void);

/*
 * OpenBLAS's idle threads (blas_threads.c): sm_openblas_sleep_idle_threads makes them sleep as
 * soon as a threaded call ends instead of spinning for about 0.1 s, and returns the wait now in
 * force (OPENBLAS_THREAD_TIMEOUT's N) or -1 when it cannot; sm_openblas_thread_timeout returns
 * that N, or -1 when OpenBLAS does not say.
 */
int sm_openblas_sleep_idle_threads(void);
int sm_openblas_thread_timeout(void);

/*
 * GEMM against a weight matrix packed once (packed_gemm.c): C (m x n) += A (m x k) . W.
 * sm_packed_size: floats needed for the packed W.
 * sm_pack_weights: packs W, given either as an n x k row-major matrix holding its
 *   transpose (w_is_n_by_k = 1, e.g. the LSTM's weight_hh for h . weight_hh^T) or as
 *   a k x n row-major matrix (w_is_n_by_k = 0); ldw is the row stride of `w`.
 * sm_gemm_packed: A row-major with row stride lda; C row-major with row stride ldc;
 *   adds into C (callers fill C with the bias or zeros first).
 */
#define SM_PANEL_WIDTH 16
long sm_packed_size(long n, long k);
void sm_pack_weights(const float *w, long ldw, long n, long k, int w_is_n_by_k, float *packed);
void sm_gemm_packed(long m, long n, long k, const float *a, long lda, const float *packed, float *c, long ldc);

/*
 * Spin barrier (spin_barrier.c) for threads that meet often and briefly, such as the
 * two halves of one LSTM direction after every time step. Waiters spin with a pause
 * instruction, then yield the core after a bounded spin. sm_spin_barrier_create
 * returns NULL when `parties` < 1 or memory runs out; every party calls
 * sm_spin_barrier_wait once per round; writes before a wait are visible to every
 * party after it. Destroy only when no thread is waiting.
 */
typedef struct sm_spin_barrier sm_spin_barrier;
sm_spin_barrier *sm_spin_barrier_create(long parties);
void sm_spin_barrier_destroy(sm_spin_barrier *barrier);
void sm_spin_barrier_wait(sm_spin_barrier *barrier);

/*
 * Restricts the CPUs of a thread started with `attr` to those the calling thread may run
 * on, less the one it runs on now (Linux; elsewhere `attr` is left alone, and the answer is
 * sm_second_cpu_allowed's, so that the two agree on every platform). A thread just
 * started otherwise tends to begin on its parent's CPU, where two threads meeting at a spin
 * barrier take turns instead of running together until the scheduler moves one (milliseconds).
 * Returns 0, or -1 when no other CPU is allowed (a spin barrier would then only cost time).
 */
int sm_thread_attr_avoid_current_cpu(pthread_attr_t *attr);

/*
 * Whether the calling thread may run on another CPU than the one it runs on now (Linux: its
 * affinity mask holds at least two CPUs; elsewhere 1 when the system has two or more online).
 * False on a one-CPU machine, or under `taskset -c 0`: exactly when sm_thread_attr_avoid_current_cpu fails.
 */
int sm_second_cpu_allowed(void);

/*
 * Tells the C allocator to keep freed memory for reuse instead of returning it to the
 * system after each LSTM pass (allocator.c says why). Process-wide; returns 1 when the
 * allocator took the settings (always on allocators other than glibc's), 0 otherwise.
 */
int sm_retain_freed_memory(void);
/* Bytes the allocator holds in blocks mapped on their own, and free bytes kept in its heaps
 * (glibc 2.33 and later; both -1 elsewhere). For tests of sm_retain_freed_memory. */
void sm_allocator_usage(long *mapped_bytes, long *free_bytes);

/* Flushes C's standard output: 0 when everything written to it so far reached its file, else
 * the errno of the failure (EIO when an earlier write failed and its errno is gone). */
int sm_flush_standard_output(void);

#ifdef __cplusplus
}
#endif
#endif
