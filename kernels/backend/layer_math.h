/* Per-element maths of the hand-written layers (dropout, softmax with
 * cross-entropy, the SGD update, batch norm's running statistics, the
 * adaptive average pool), shared word for word by the CPU loops and
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

/* --- adaptive average pooling (PyTorch's AdaptiveAvgPool2d), one plane
 * (a sample's channel) at a time --- */

/* The window of output cell i of n along an axis of m input cells:
 * [floor(i m / n), ceil((i + 1) m / n)), as PyTorch computes it. Windows
 * overlap when m is not a multiple of n, and repeat a cell when n > m.
 * Turned round (ax_adaptive_window (j, m, n)) it is the run of output
 * cells whose windows hold input cell j of m: j lies in window i exactly
 * when floor(j n / m) <= i < ceil((j + 1) n / m). */
AX_HOSTDEV void
ax_adaptive_window (int i, int n, int m, int *lo, int *hi)
{
  *lo = (int) (((int64_t) i * m) / n);
  *hi = (int) ((((int64_t) i + 1) * m + n - 1) / n);
}

/* Output cell (y, x) of an oh x ow pool of the ih x iw plane `in`: the
 * mean of its window (the sum in window order, then divided by its
 * size). */
AX_HOSTDEV float
ax_avgpool_cell (const float *in, int ih, int iw, int oh, int ow, int y,
    int x)
{
  int y0, y1, x0, x1;
  ax_adaptive_window (y, oh, ih, &y0, &y1);
  ax_adaptive_window (x, ow, iw, &x0, &x1);
  float sum = 0.0f;
  for (int r = y0; r < y1; r++)
    for (int c = x0; c < x1; c++)
      sum += in[(size_t) r * iw + c];
  return sum / (float) ((y1 - y0) * (x1 - x0));
}

/* The gradient of input cell (y, x) of the ih x iw plane from the oh x ow
 * output gradient `dout`: every output cell whose window holds (y, x)
 * gives it an equal share of its gradient (gathered, so each input cell
 * is written once, by one thread on a GPU, with no atomics). */
AX_HOSTDEV float
ax_avgpool_grad_cell (const float *dout, int ih, int iw, int oh, int ow,
    int y, int x)
{
  int i0, i1, j0, j1;
  ax_adaptive_window (y, ih, oh, &i0, &i1);
  ax_adaptive_window (x, iw, ow, &j0, &j1);
  float sum = 0.0f;
  for (int i = i0; i < i1; i++) {
    int y0, y1;
    ax_adaptive_window (i, oh, ih, &y0, &y1);
    for (int j = j0; j < j1; j++) {
      int x0, x1;
      ax_adaptive_window (j, ow, iw, &x0, &x1);
      sum += dout[(size_t) i * ow + j] / (float) ((y1 - y0) * (x1 - x0));
    }
  }
  return sum;
}

/* --- max pooling (a square window, stride, zero-free padding: padded
 * cells never win, as PyTorch's -inf padding), one plane at a time --- */

/* Output cell (y, x) of max pooling the ih x iw plane `in`: the largest
 * value of its window, the first in row-major window order on ties, NaN
 * if the window holds one (PyTorch's rule); *arg receives its place in
 * the window (ky * kernel + kx). */
AX_HOSTDEV float
ax_maxpool_cell (const float *in, int ih, int iw, int kernel, int stride,
    int pad, int y, int x, int *arg)
{
  int y0 = y * stride - pad, x0 = x * stride - pad;
  float best = 0.0f;
  int found = 0;
  *arg = 0;
  for (int ky = 0; ky < kernel; ky++) {
    int r = y0 + ky;
    if (r < 0 || r >= ih)
      continue;
    for (int kx = 0; kx < kernel; kx++) {
      int c = x0 + kx;
      if (c < 0 || c >= iw)
        continue;
      float v = in[(size_t) r * iw + c];
      if (!found || v > best || (v != v && best == best)) {
        best = v;
        *arg = ky * kernel + kx;
        found = 1;
      }
    }
  }
  return best;
}

#endif
