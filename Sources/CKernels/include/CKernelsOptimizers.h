#ifndef SEQMODELS_CKERNELS_OPTIMIZERS_H
#define SEQMODELS_CKERNELS_OPTIMIZERS_H

/*
 * Fused optimizer updates and gradient-norm helpers for SeqModels.
 *
 * Each update walks one parameter tensor once, doing in a single pass what
 * PyTorch's single-tensor CPU path (torch/optim/{sgd,adam,rmsprop}.py) does in
 * several elementwise ops, in the same float32 order of operations. Scalars that
 * PyTorch computes in Python doubles (bias corrections, step sizes) are computed
 * by the Swift callers in double and passed here already rounded to float, as
 * PyTorch's kernels round them. Called only from
 * Sources/SeqModels/Training/Optimizers.swift, which checks the sizes.
 * Arrays are float32 of length n and must not alias.
 */

#ifdef __cplusplus
extern "C" {
#endif

/*
 * SGD. g = grad + weight_decay * param; with momentum != 0:
 * buf = first ? g : momentum * buf + (1 - dampening) * g, then
 * g = nesterov ? g + momentum * buf : buf; finally param -= lr * g.
 * `buf` may be NULL when momentum == 0.
 */
void sm_sgd_update(float *param, const float *grad, float *buf, long n,
                   float lr, float momentum, float one_minus_dampening, float weight_decay,
                   int nesterov, int first);

/*
 * Adam / AdamW for one step. decay_factor: param *= decay_factor first
 * (AdamW's 1 - lr * wd; pass 1 otherwise). weight_decay: L2 added to the
 * gradient (Adam; pass 0 for AdamW). m = lerp(m, g, one_minus_beta1);
 * v = beta2 * v + (1 - beta2) g^2; param -= step_size * m / (sqrt(v) / bc2_sqrt + eps).
 */
void sm_adam_update(float *param, const float *grad, float *m, float *v, long n,
                    float decay_factor, float weight_decay,
                    float one_minus_beta1, float beta2, float one_minus_beta2,
                    float step_size, float bias_correction2_sqrt, float eps);

/*
 * RMSProp. g = grad + weight_decay * param; sq = alpha * sq + (1 - alpha) g^2;
 * centered: ga = lerp(ga, g, 1 - alpha), avg = sqrt(sq - ga^2) + eps, else
 * avg = sqrt(sq) + eps; momentum > 0: buf = momentum * buf + g / avg,
 * param -= lr * buf; else param -= lr * g / avg. `grad_avg` may be NULL when
 * not centered, `buf` when momentum == 0.
 */
void sm_rmsprop_update(float *param, const float *grad, float *square_avg, float *grad_avg,
                       float *buf, long n, float lr, float alpha, float one_minus_alpha,
                       float eps, float weight_decay, float momentum, int centered);

/// Sum of x[i]^2, accumulated in double.
double sm_sum_of_squares(const float *x, long n);

#ifdef __cplusplus
}
#endif

#endif
