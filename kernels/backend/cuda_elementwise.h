/* The bodies of the CUDA backend's small kernels, one output element (or
 * one row) per call, as functions of the flat index. A kernel is
 *   i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) ax_ew_xxx (i, ...);
 * and the host tests (tests/unit/test_cuda_maths.c) call the same functions
 * for every index, so what the GPU computes is checked on any machine. The
 * maths itself is layer_math.h's and colour_math.h's, shared with the CPU. */
#ifndef AX_CUDA_ELEMENTWISE_H
#define AX_CUDA_ELEMENTWISE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/util/hostdev.h"
#include "kernels/image/colour_math.h"
#include "kernels/backend/layer_math.h"

/* Threads per block of every elementwise kernel, and the blocks for n. */
#define AX_EW_THREADS 256

AX_HOSTDEV unsigned
ax_ew_blocks (size_t n)
{
  return (unsigned) ((n + AX_EW_THREADS - 1) / AX_EW_THREADS);
}

/* Bits of the flag word the softmax kernels raise (atomicOr on the GPU). */
#define AX_EW_BAD_LABEL 1u      /* a label outside [0, classes) */
#define AX_EW_BAD_LOGIT 2u      /* NaN or infinity in a logit */
#define AX_EW_BAD_LOSS 4u       /* the loss of a row is not finite */

AX_HOSTDEV void
ax_ew_fill (size_t i, float *dst, float value)
{
  dst[i] = value;
}

/* dst += alpha * src */
AX_HOSTDEV void
ax_ew_axpy (size_t i, float *dst, float alpha, const float *src)
{
  dst[i] += alpha * src[i];
}

/* 1 if element i is NaN or infinite (the kernel sums these atomically). */
AX_HOSTDEV unsigned
ax_ew_nonfinite (size_t i, const float *v)
{
  return !ax_isfinite (v[i]);
}

/* Forward (out = in) and backward (out = din, in = dout) alike; element i
 * draws the mask of index0 + i (ax_op.index0: a replica's shard of the
 * batch draws what one device would for those samples). */
AX_HOSTDEV void
ax_ew_dropout (size_t i, float *out, const float *in, uint64_t key,
    uint64_t index0, uint32_t threshold, float scale)
{
  out[i] = ax_dropout_apply (in[i], key, index0 + i, threshold, scale);
}

/* Row r of the softmax with cross-entropy: probabilities and loss, or the
 * AX_EW_BAD_* bits that say why not (nothing is written then). */
AX_HOSTDEV unsigned
ax_ew_softmax_row (int r, float *probs, float *losses, const float *logits,
    const int32_t *labels, int classes)
{
  const float *x = logits + (size_t) r * classes;
  int label = labels[r];
  if (label < 0 || label >= classes)
    return AX_EW_BAD_LABEL;
  for (int c = 0; c < classes; c++)
    if (!ax_isfinite (x[c]))
      return AX_EW_BAD_LOGIT;
  float loss = ax_softmax_xent_row (probs + (size_t) r * classes, x, classes,
      label);
  losses[r] = loss;
  return ax_isfinite (loss) ? 0u : AX_EW_BAD_LOSS;
}

/* Element i = r * classes + c of the gradient of scale * sum(losses). */
AX_HOSTDEV unsigned
ax_ew_softmax_grad (size_t i, float *dlogits, const float *probs,
    const int32_t *labels, int classes, float scale)
{
  int r = (int) (i / (size_t) classes), c = (int) (i % (size_t) classes);
  int label = labels[r];
  if (label < 0 || label >= classes)
    return AX_EW_BAD_LABEL;
  dlogits[i] = ax_softmax_xent_grad (probs[i], c == label, scale);
  return 0u;
}

AX_HOSTDEV void
ax_ew_sgd (size_t i, float *w, float *v, const float *g, float lr,
    float momentum, float weight_decay)
{
  ax_sgd_element (&w[i], &v[i], g[i], lr, momentum, weight_decay);
}

/* out[i] += bias[feature of i]: the fully connected layer's bias, out
 * (N, features) row-major. */
AX_HOSTDEV void
ax_ew_bias_rows (size_t i, float *out, const float *bias, int features)
{
  out[i] += bias[i % (size_t) features];
}

/* Output element i of the adaptive average pool: planes (a sample's
 * channel) of oh x ow cells, in NCHW order, over planes of ih x iw. */
AX_HOSTDEV void
ax_ew_avgpool (size_t i, float *out, const float *in, int ih, int iw, int oh,
    int ow)
{
  size_t cells = (size_t) oh * (size_t) ow, p = i / cells, r = i % cells;
  out[i] = ax_avgpool_cell (in + p * (size_t) ih * (size_t) iw, ih, iw, oh,
      ow, (int) (r / (size_t) ow), (int) (r % (size_t) ow));
}

/* Input element i of the adaptive average pool's gradient (din written,
 * gathered from the output gradient's planes). */
AX_HOSTDEV void
ax_ew_avgpool_grad (size_t i, float *din, const float *dout, int ih, int iw,
    int oh, int ow)
{
  size_t cells = (size_t) ih * (size_t) iw, p = i / cells, r = i % cells;
  din[i] = ax_avgpool_grad_cell (dout + p * (size_t) oh * (size_t) ow, ih,
      iw, oh, ow, (int) (r / (size_t) iw), (int) (r % (size_t) iw));
}

/* Byte i of the packed RGB pixels of an image (width * 3 bytes a row, rows
 * `stride` bytes apart, i counts the row_bytes * height image bytes) plus
 * the rounded offset of its channel (ax_colour_round_offset), clamped. */
AX_HOSTDEV void
ax_ew_colour_noise (size_t i, uint8_t *pixels, size_t row_bytes,
    size_t stride, int off_r, int off_g, int off_b)
{
  size_t y = i / row_bytes, x = i % row_bytes;
  int c = (int) (x % 3);
  int off = c == 0 ? off_r : (c == 1 ? off_g : off_b);
  uint8_t *p = pixels + y * stride + x;
  *p = ax_colour_add_clamp_u8 (*p, off);
}

#endif
