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

#ifdef __cplusplus
}
#endif

#endif
