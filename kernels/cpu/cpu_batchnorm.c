/* Batch normalisation (torch.nn.BatchNorm2d) of the CPU backend, as loops
 * over plain NCHW maps. Not oneDNN's batch_normalization: it sums the
 * statistics and the backward's reductions in float, and over one channel
 * of a 224x224 batch (10^5 to 10^6 values) that loses up to 1 % of the
 * input gradient where PyTorch, summing in double, loses 1e-6 (VGG-B-bn's
 * first block against PyTorch, tests/unit/test_vgg.c). Here every
 * per-channel sum is in double: the mean, then the biased variance about
 * it (two passes), and backward's sums of dy and dy * (x - mean).
 * Training writes the batch's mean and biased variance into the workspace
 * ([0, C) and [C, 2C)), which backward reads, and updates the running
 * statistics with layer_math.h's ax_bn_running_update; evaluation uses the
 * running statistics. Channels run in parallel on the backend's threads. */
#include "kernels/cpu/cpu_internal.h"
#include "kernels/backend/layer_math.h"

#include <math.h>

ax_status
cpu_batchnorm_prepare (cpu_backend *be, cpu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s)
{
  (void) be;
  (void) op;
  if (!op->forward_only)        /* the batch's mean and variance, kept from
                                 * forward to backward */
    k->head.workspace = ax_shape_make (1, 1, 1, 2 * s->in.c);
  return AX_OK;
}

/* out = x * a + b over the n planes of channel c (hw values each, C
 * channels apart). */
static void
scale_shift (float *out, const float *in, int n, int C, int c, size_t hw,
    float a, float b)
{
  for (int i = 0; i < n; i++) {
    size_t off = ((size_t) i * C + c) * hw;
    const float *x = in + off;
    float *y = out + off;
#pragma omp simd
    for (size_t j = 0; j < hw; j++)
      y[j] = x[j] * a + b;
  }
}

ax_status
cpu_batchnorm_forward (ax_kernel *kernel, ax_tensor *out,
    ax_tensor *workspace, ax_tensor *running_mean, ax_tensor *running_var,
    const ax_tensor *in, const ax_tensor *weight, const ax_tensor *bias,
    int training)
{
  cpu_backend *be = CPU_BE (kernel->backend);
  const ax_shape s = kernel->shapes.in;
  const int n = s.n, C = s.c;
  const size_t hw = (size_t) s.h * (size_t) s.w;
  const double eps = kernel->op.p.bn.eps, momentum = kernel->op.p.bn.momentum;
  const double count = (double) n * (double) hw;
  const float *x = in->data, *g = weight->data, *b = bias->data;
  float *y = out->data, *rm = running_mean->data, *rv = running_var->data;
  float *mean = training ? workspace->data : NULL;
  float *var = training ? mean + C : NULL;
#pragma omp parallel for num_threads (be->threads) schedule (static)
  for (int c = 0; c < C; c++) {
    double m, v;
    if (training) {
      double sum = 0.0, sq = 0.0;
      for (int i = 0; i < n; i++) {
        const float *p = x + ((size_t) i * C + c) * hw;
#pragma omp simd reduction (+:sum)
        for (size_t j = 0; j < hw; j++)
          sum += p[j];
      }
      m = sum / count;
      for (int i = 0; i < n; i++) {
        const float *p = x + ((size_t) i * C + c) * hw;
#pragma omp simd reduction (+:sq)
        for (size_t j = 0; j < hw; j++) {
          double d = (double) p[j] - m;
          sq += d * d;
        }
      }
      v = sq / count;
      mean[c] = (float) m;
      var[c] = (float) v;
    } else {
      m = rm[c];
      v = rv[c];
    }
    /* as PyTorch's CPU kernel: the statistics in double, rounded to float,
     * then alpha = invstd * weight and beta = bias - mean * alpha in float,
     * so that outputs round alike and a ReLU after them cuts at the same
     * values */
    float fm = (float) m, invstd = (float) (1.0 / sqrt (v + eps));
    float a = invstd * g[c];
    scale_shift (y, x, n, C, c, hw, a, b[c] - fm * a);
    if (training)
      ax_bn_running_update (&rm[c], &rv[c], mean[c], var[c], momentum,
          count);
  }
  return AX_OK;
}

ax_status
cpu_batchnorm_backward (ax_kernel *kernel, ax_tensor *din,
    ax_tensor *dweight, ax_tensor *dbias, const ax_tensor *dout,
    const ax_tensor *in, const ax_tensor *weight, const ax_tensor *workspace)
{
  cpu_backend *be = CPU_BE (kernel->backend);
  const ax_shape s = kernel->shapes.in;
  const int n = s.n, C = s.c;
  const size_t hw = (size_t) s.h * (size_t) s.w;
  const double eps = kernel->op.p.bn.eps, count = (double) n * (double) hw;
  const float *x = in->data, *dy = dout->data, *g = weight->data;
  const float *mean = workspace->data, *var = mean + C;
  float *dx = din->data, *dg = dweight->data, *db = dbias->data;
#pragma omp parallel for num_threads (be->threads) schedule (static)
  for (int c = 0; c < C; c++) {
    const double m = mean[c], inv = 1.0 / sqrt ((double) var[c] + eps);
    double sdy = 0.0, sdyx = 0.0;
    for (int i = 0; i < n; i++) {
      size_t off = ((size_t) i * C + c) * hw;
      const float *p = x + off, *q = dy + off;
#pragma omp simd reduction (+:sdy, sdyx)
      for (size_t j = 0; j < hw; j++) {
        sdy += q[j];
        sdyx += (double) q[j] * ((double) p[j] - m);
      }
    }
    /* din = g inv (dy - mean(dy) - xhat mean(dy xhat)), xhat = (x - m) inv */
    const float k1 = (float) ((double) g[c] * inv);
    const float k2 = (float) (sdy / count);
    const float k3 = (float) (sdyx / count * inv * inv);
    const float fm = (float) m;
    for (int i = 0; i < n; i++) {
      size_t off = ((size_t) i * C + c) * hw;
      const float *p = x + off, *q = dy + off;
      float *r = dx + off;
#pragma omp simd
      for (size_t j = 0; j < hw; j++)
        r[j] = k1 * (q[j] - k2 - (p[j] - fm) * k3);
    }
    dg[c] += (float) (sdyx * inv);
    db[c] += (float) sdy;
  }
  return AX_OK;
}
