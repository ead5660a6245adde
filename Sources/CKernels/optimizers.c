#include "CKernelsOptimizers.h"
#include "kernel_builds.h"
#include <math.h>

/*
 * Each loop body mirrors the sequence of elementwise ops of PyTorch's
 * single-tensor optimizer path, so results agree to float rounding. No FMA
 * contraction is forced or forbidden: PyTorch's own vectorised CPU kernels
 * differ by an ulp between builds too.
 */
/* Each update is built once per build of kernel_builds.h and runs the chosen build. */
#define SM_UPDATE static inline __attribute__((always_inline))

/* torch.lerp: self + w * (end - self) when |w| < 0.5, else end - (end - self) * (1 - w). */
static inline float sm_lerp(float self, float end, float w) {
    return fabsf(w) < 0.5f ? self + w * (end - self) : end - (end - self) * (1.0f - w);
}

SM_UPDATE
void sm_sgd_update_body(float *restrict param, const float *restrict grad, float *restrict buf, long n,
                   float lr, float momentum, float one_minus_dampening, float weight_decay,
                   int nesterov, int first) {
    if (momentum == 0.0f || buf == 0) {
        for (long i = 0; i < n; i++) {
            float g = grad[i] + weight_decay * param[i];
            param[i] = param[i] + (-lr) * g;
        }
        return;
    }
    if (first) {
        for (long i = 0; i < n; i++) {
            float g = grad[i] + weight_decay * param[i];
            buf[i] = g;
            float d = nesterov ? g + momentum * g : g;
            param[i] = param[i] + (-lr) * d;
        }
        return;
    }
    for (long i = 0; i < n; i++) {
        float g = grad[i] + weight_decay * param[i];
        float b = buf[i] * momentum + one_minus_dampening * g;
        buf[i] = b;
        float d = nesterov ? g + momentum * b : b;
        param[i] = param[i] + (-lr) * d;
    }
}

SM_UPDATE
void sm_adam_update_body(float *restrict param, const float *restrict grad, float *restrict m, float *restrict v,
                    long n, float decay_factor, float weight_decay,
                    float one_minus_beta1, float beta2, float one_minus_beta2,
                    float step_size, float bias_correction2_sqrt, float eps) {
    const int small = fabsf(one_minus_beta1) < 0.5f;
    for (long i = 0; i < n; i++) {
        float p = param[i] * decay_factor;
        float g = grad[i] + weight_decay * p;
        float mi = small ? m[i] + one_minus_beta1 * (g - m[i])
                         : g - (g - m[i]) * (1.0f - one_minus_beta1);
        float vi = v[i] * beta2 + one_minus_beta2 * g * g;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bias_correction2_sqrt + eps;
        param[i] = p + (-step_size) * (mi / denom);
    }
}

SM_UPDATE
void sm_rmsprop_update_body(float *restrict param, const float *restrict grad, float *restrict square_avg,
                       float *restrict grad_avg, float *restrict buf, long n, float lr, float alpha,
                       float one_minus_alpha, float eps, float weight_decay, float momentum, int centered) {
    for (long i = 0; i < n; i++) {
        float g = grad[i] + weight_decay * param[i];
        float sq = square_avg[i] * alpha + one_minus_alpha * g * g;
        square_avg[i] = sq;
        float avg;
        if (centered) {
            float ga = sm_lerp(grad_avg[i], g, one_minus_alpha);
            grad_avg[i] = ga;
            avg = sqrtf(sq + (-1.0f) * ga * ga);
        } else {
            avg = sqrtf(sq);
        }
        avg = avg + eps;
        if (momentum > 0.0f) {
            float b = buf[i] * momentum + g / avg;
            buf[i] = b;
            param[i] = param[i] + (-lr) * b;
        } else {
            param[i] = param[i] + (-lr) * (g / avg);
        }
    }
}

static inline __attribute__((always_inline))
void sm_sum_of_squares_into_body(double *sum, const float *restrict x, long n) {
    /* Four partial sums so the loop vectorises without reassociation flags. */
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        double a = x[i], b = x[i + 1], c = x[i + 2], d = x[i + 3];
        s0 += a * a; s1 += b * b; s2 += c * c; s3 += d * d;
    }
    for (; i < n; i++) { double a = x[i]; s0 += a * a; }
    *sum = (s0 + s1) + (s2 + s3);
}

SM_KERNEL_BUILDS(sm_sgd_update,
                 (float *restrict param, const float *restrict grad, float *restrict buf, long n, float lr,
                  float momentum, float one_minus_dampening, float weight_decay, int nesterov, int first),
                 (param, grad, buf, n, lr, momentum, one_minus_dampening, weight_decay, nesterov, first))
SM_KERNEL_BUILDS(sm_adam_update,
                 (float *restrict param, const float *restrict grad, float *restrict m, float *restrict v,
                  long n, float decay_factor, float weight_decay, float one_minus_beta1, float beta2,
                  float one_minus_beta2, float step_size, float bias_correction2_sqrt, float eps),
                 (param, grad, m, v, n, decay_factor, weight_decay, one_minus_beta1, beta2, one_minus_beta2,
                  step_size, bias_correction2_sqrt, eps))
SM_KERNEL_BUILDS(sm_rmsprop_update,
                 (float *restrict param, const float *restrict grad, float *restrict square_avg,
                  float *restrict grad_avg, float *restrict buf, long n, float lr, float alpha,
                  float one_minus_alpha, float eps, float weight_decay, float momentum, int centered),
                 (param, grad, square_avg, grad_avg, buf, n, lr, alpha, one_minus_alpha, eps, weight_decay,
                  momentum, centered))
SM_KERNEL_BUILDS(sm_sum_of_squares_into, (double *sum, const float *restrict x, long n), (sum, x, n))

double sm_sum_of_squares(const float *x, long n) {
    double sum;
    sm_sum_of_squares_into(&sum, x, n);
    return sum;
}
