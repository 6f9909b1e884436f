/* Per-element maths of the hand-written layers (dropout, softmax with
 * cross-entropy, the SGD update, batch norm's running statistics), shared word for word by the CPU loops and
 * the CUDA kernels: AX_HOSTDEV is __host__ __device__ under nvcc. */
#ifndef AX_LAYER_MATH_H
#define AX_LAYER_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/util/hostdev.h"

/* NaN and infinity by their bits, so that -ffast-math cannot fold it away. */
AX_HOSTDEV int
ax_isfinite (float x)
{
  uint32_t u;
  memcpy (&u, &x, sizeof u);
  return (u & 0x7f800000u) != 0x7f800000u;
}

/* --- dropout: counter-based, so any element's mask bit can be computed
 * anywhere, in any order, on any device --- */

/* The splitmix64 finaliser: a bijective mix of 64 bits. */
AX_HOSTDEV uint64_t
ax_mix64 (uint64_t x)
{
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

/* One key per (seed, training step, layer stream), computed once per call. */
AX_HOSTDEV uint64_t
ax_dropout_key (uint64_t seed, uint64_t step, uint32_t stream)
{
  uint64_t k = ax_mix64 (seed + 0x9e3779b97f4a7c15ull);
  k = ax_mix64 (k ^ (step * 0xd1b54a32d192ed03ull));
  return ax_mix64 (k ^ ((uint64_t) stream * 0x8cb92ba72f3d8dd7ull + 1));
}

/* Elements with 24 random bits below this are dropped. */
AX_HOSTDEV uint32_t
ax_dropout_threshold (float p)
{
  return (uint32_t) (p * 16777216.0f);
}

AX_HOSTDEV float
ax_dropout_scale (float p)
{
  return 1.0f / (1.0f - p);
}

/* 1 if element `index` is kept under `key`. */
AX_HOSTDEV int
ax_dropout_keep (uint64_t key, uint64_t index, uint32_t threshold)
{
  uint32_t bits = (uint32_t) (ax_mix64 (key ^ ax_mix64 (index)) >> 40);
  return bits >= threshold;
}

/* Forward and backward are the same map: x -> keep ? x * scale : 0. */
AX_HOSTDEV float
ax_dropout_apply (float x, uint64_t key, uint64_t index, uint32_t threshold,
    float scale)
{
  return ax_dropout_keep (key, index, threshold) ? x * scale : 0.0f;
}

/* --- softmax with cross-entropy, one sample (row) at a time --- */

/* probs = softmax(logits); returns -log probs[label]. */
AX_HOSTDEV float
ax_softmax_xent_row (float *probs, const float *logits, int classes, int label)
{
  float max = logits[0];
  for (int c = 1; c < classes; c++)
    max = logits[c] > max ? logits[c] : max;
  float sum = 0.0f;
  for (int c = 0; c < classes; c++) {
    probs[c] = expf (logits[c] - max);
    sum += probs[c];
  }
  float inv = 1.0f / sum;
  for (int c = 0; c < classes; c++)
    probs[c] *= inv;
  return logf (sum) - (logits[label] - max);
}

/* d(scale * loss)/d logit of class c. */
AX_HOSTDEV float
ax_softmax_xent_grad (float prob, int is_label, float scale)
{
  return scale * (prob - (is_label ? 1.0f : 0.0f));
}

/* --- the paper's SGD update, one parameter at a time --- */

/* v = m v - wd lr w - lr g; w = w + v. */
AX_HOSTDEV void
ax_sgd_element (float *w, float *v, float g, float lr, float momentum,
    float weight_decay)
{
  float nv = momentum * *v - weight_decay * lr * *w - lr * g;
  *v = nv;
  *w += nv;
}

/* --- batch normalisation's running statistics, one channel at a time --- */

/* PyTorch's update after a training forward over n >= 2 values of a
 * channel whose batch mean and biased variance are `mean` and `var`: the
 * running variance takes the unbiased var * n / (n - 1). In double, as
 * PyTorch's CPU kernel computes it, then rounded to float. */
AX_HOSTDEV void
ax_bn_running_update (float *running_mean, float *running_var, float mean,
    float var, double momentum, double n)
{
  double unbiased = (double) var * n / (n - 1.0);
  *running_mean = (float) (momentum * (double) mean
      + (1.0 - momentum) * (double) *running_mean);
  *running_var = (float) (momentum * unbiased
      + (1.0 - momentum) * (double) *running_var);
}

#endif
