/* The CPU backend's hand-written loops, where oneDNN has nothing: fill,
 * axpy, finiteness checks, dropout, softmax with cross-entropy, the SGD
 * update and the adaptive average pool (oneDNN's average pooling has
 * fixed windows); and max pooling on plain NCHW, where oneDNN 2.6 has
 * only a slow generic loop (VGG-16's pool1 at batch 32: 666 ms forward on
 * AVX2, about a fifth of its conv1_2).
 * The per-element maths is layer_math.h's, shared with the CUDA kernels. */
#include "kernels/cpu/cpu_internal.h"
#include "kernels/backend/layer_math.h"

ax_status
cpu_fill (ax_backend *be, ax_tensor *dst, float value)
{
  float *d = dst->data;
  size_t n = ax_shape_count (dst->shape);
#pragma omp parallel for num_threads (CPU_BE (be)->threads) schedule (static)
  for (size_t i = 0; i < n; i++)
    d[i] = value;
  return AX_OK;
}

ax_status
cpu_axpy (ax_backend *be, ax_tensor *dst, float alpha, const ax_tensor *src)
{
  float *d = dst->data;
  const float *x = src->data;
  size_t n = ax_shape_count (dst->shape);
#pragma omp parallel for num_threads (CPU_BE (be)->threads) schedule (static)
  for (size_t i = 0; i < n; i++)
    d[i] += alpha * x[i];
  return AX_OK;
}

static size_t
count_nonfinite (int threads, const float *v, size_t n)
{
  size_t bad = 0;
#pragma omp parallel for num_threads (threads) reduction (+:bad) schedule (static)
  for (size_t i = 0; i < n; i++)
    bad += !ax_isfinite (v[i]);
  return bad;
}

ax_status
cpu_count_nonfinite (ax_backend *be, const ax_tensor *t, size_t *count)
{
  *count = count_nonfinite (CPU_BE (be)->threads, t->data,
      ax_shape_count (t->shape));
  return AX_OK;
}

static void
dropout (int threads, float *out, const float *in, size_t n, uint64_t key,
    float p, uint64_t index0)
{
  uint32_t threshold = ax_dropout_threshold (p);
  float scale = ax_dropout_scale (p);
#pragma omp parallel for num_threads (threads) schedule (static)
  for (size_t i = 0; i < n; i++)
    out[i] = ax_dropout_apply (in[i], key, index0 + i, threshold, scale);
}

ax_status
cpu_dropout_forward (ax_kernel *k, ax_tensor *out, const ax_tensor *in,
    uint64_t key)
{
  dropout (CPU_BE (k->backend)->threads, out->data, in->data,
      ax_shape_count (in->shape), key, k->op.p.dropout.p, k->op.index0);
  return AX_OK;
}

ax_status
cpu_dropout_backward (ax_kernel *k, ax_tensor *din, const ax_tensor *dout,
    uint64_t key)
{
  dropout (CPU_BE (k->backend)->threads, din->data, dout->data,
      ax_shape_count (dout->shape), key, k->op.p.dropout.p, k->op.index0);
  return AX_OK;
}

static int
labels_in_range (const int32_t *labels, int n, int classes)
{
  for (int i = 0; i < n; i++)
    if (labels[i] < 0 || labels[i] >= classes)
      return 0;
  return 1;
}

ax_status
cpu_softmax_xent_forward (ax_kernel *k, ax_tensor *losses, ax_tensor *probs,
    const ax_tensor *logits, const ax_tensor *labels)
{
  int n = logits->shape.n, classes = logits->shape.c;
  const int32_t *lab = labels->data;
  const float *x = logits->data;
  float *p = probs->data, *loss = losses->data;
  int threads = CPU_BE (k->backend)->threads;
  if (!labels_in_range (lab, n, classes))
    return ax_backend_fail (k->backend, AX_ERR_INVALID_ARG,
        "softmax_xent_forward: a label is outside [0, %d)", classes);
  if (count_nonfinite (threads, x, (size_t) n * classes))
    return ax_backend_fail (k->backend, AX_ERR_NONFINITE,
        "softmax_xent_forward: NaN or infinity in the logits");
#pragma omp parallel for num_threads (threads) schedule (static)
  for (int i = 0; i < n; i++)
    loss[i] = ax_softmax_xent_row (p + (size_t) i * classes,
        x + (size_t) i * classes, classes, lab[i]);
  if (count_nonfinite (threads, loss, n))
    return ax_backend_fail (k->backend, AX_ERR_NONFINITE,
        "softmax_xent_forward: the loss is not finite");
  return AX_OK;
}

ax_status
cpu_softmax_xent_backward (ax_kernel *k, ax_tensor *dlogits,
    const ax_tensor *probs, const ax_tensor *labels, float scale)
{
  int n = probs->shape.n, classes = probs->shape.c;
  const int32_t *lab = labels->data;
  const float *p = probs->data;
  float *d = dlogits->data;
  if (!labels_in_range (lab, n, classes))
    return ax_backend_fail (k->backend, AX_ERR_INVALID_ARG,
        "softmax_xent_backward: a label is outside [0, %d)", classes);
#pragma omp parallel for num_threads (CPU_BE (k->backend)->threads) schedule (static)
  for (int i = 0; i < n; i++)
    for (int c = 0; c < classes; c++) {
      size_t j = (size_t) i * classes + c;
      d[j] = ax_softmax_xent_grad (p[j], c == lab[i], scale);
    }
  return AX_OK;
}

ax_status
cpu_sgd_update (ax_kernel *k, ax_tensor *weight, ax_tensor *velocity,
    const ax_tensor *grad, const ax_sgd_step *step)
{
  int threads = CPU_BE (k->backend)->threads;
  size_t n = ax_shape_count (weight->shape);
  float *w = weight->data, *v = velocity->data;
  const float *g = grad->data;
  if (count_nonfinite (threads, g, n))
    return ax_backend_fail (k->backend, AX_ERR_NONFINITE,
        "sgd_update: NaN or infinity in the gradient");
  float lr = step->lr, momentum = step->momentum, wd = step->weight_decay;
#pragma omp parallel for num_threads (threads) schedule (static)
  for (size_t i = 0; i < n; i++)
    ax_sgd_element (&w[i], &v[i], g[i], lr, momentum, wd);
  return AX_OK;
}

/* Over the planes (a sample's channel) of `in`, every output cell, as the
 * CUDA kernel does (one cell per thread there). */
ax_status
cpu_avgpool_forward (ax_kernel *k, ax_tensor *out, const ax_tensor *in)
{
  const ax_op_shapes_t *s = &k->shapes;
  const int ih = s->in.h, iw = s->in.w, oh = s->out.h, ow = s->out.w;
  const size_t planes = (size_t) s->in.n * (size_t) s->in.c;
  const size_t in_plane = (size_t) ih * iw, out_plane = (size_t) oh * ow;
  const float *x = in->data;
  float *y = out->data;
#pragma omp parallel for num_threads (CPU_BE (k->backend)->threads) schedule (static)
  for (size_t p = 0; p < planes; p++)
    for (int i = 0; i < oh; i++)
      for (int j = 0; j < ow; j++)
        y[p * out_plane + (size_t) i * ow + j] = ax_avgpool_cell (
            x + p * in_plane, ih, iw, oh, ow, i, j);
  return AX_OK;
}

/* din written: each input cell gathers its shares of the output gradient. */
ax_status
cpu_avgpool_backward (ax_kernel *k, ax_tensor *din, const ax_tensor *dout)
{
  const ax_op_shapes_t *s = &k->shapes;
  const int ih = s->in.h, iw = s->in.w, oh = s->out.h, ow = s->out.w;
  const size_t planes = (size_t) s->in.n * (size_t) s->in.c;
  const size_t in_plane = (size_t) ih * iw, out_plane = (size_t) oh * ow;
  const float *dy = dout->data;
  float *dx = din->data;
#pragma omp parallel for num_threads (CPU_BE (k->backend)->threads) schedule (static)
  for (size_t p = 0; p < planes; p++)
    for (int y = 0; y < ih; y++)
      for (int x = 0; x < iw; x++)
        dx[p * in_plane + (size_t) y * iw + x] = ax_avgpool_grad_cell (
            dy + p * out_plane, ih, iw, oh, ow, y, x);
  return AX_OK;
}

/* Per channel, the sum over every sample's H x W plane in double with four
 * partial sums (a float running sum over 224 x 224 x batch terms would be
 * off by about 1e-5). */
void
cpu_bias_grad (cpu_backend *be, float *dbias, const float *dout,
    ax_shape shape)
{
  const int n = shape.n, c = shape.c;
  const size_t hw = (size_t) shape.h * (size_t) shape.w;
#pragma omp parallel for num_threads (be->threads) schedule (static)
  for (int j = 0; j < c; j++) {
    double s[4] = { 0.0, 0.0, 0.0, 0.0 };
    for (int i = 0; i < n; i++) {
      const float *d = dout + ((size_t) i * (size_t) c + (size_t) j) * hw;
      size_t k = 0;
      for (; k + 4 <= hw; k += 4) {
        s[0] += d[k];
        s[1] += d[k + 1];
        s[2] += d[k + 2];
        s[3] += d[k + 3];
      }
      for (; k < hw; k++)
        s[0] += d[k];
    }
    dbias[j] += (float) ((s[0] + s[1]) + (s[2] + s[3]));
  }
}

/* Max pooling, forward: one plane per iteration; in training the window
 * place of each output's maximum goes to the workspace as a byte. */
ax_status
cpu_own_maxpool_forward (ax_kernel *k, ax_tensor *out, ax_tensor *workspace,
    const ax_tensor *in)
{
  const ax_op_shapes_t *s = &k->shapes;
  const ax_pool_params *p = &k->op.p.pool;
  const int ih = s->in.h, iw = s->in.w, oh = s->out.h, ow = s->out.w;
  const size_t planes = (size_t) s->in.n * (size_t) s->in.c;
  const size_t in_plane = (size_t) ih * iw, out_plane = (size_t) oh * ow;
  const float *x = in->data;
  float *y = out->data;
  uint8_t *ws = workspace ? workspace->data : NULL;
#pragma omp parallel for num_threads (CPU_BE (k->backend)->threads) schedule (static)
  for (size_t q = 0; q < planes; q++)
    for (int i = 0; i < oh; i++)
      for (int j = 0; j < ow; j++) {
        int arg;
        size_t o = q * out_plane + (size_t) i * ow + j;
        y[o] = ax_maxpool_cell (x + q * in_plane, ih, iw, p->kernel,
            p->stride, p->pad, i, j, &arg);
        if (ws)
          ws[o] = (uint8_t) arg;
      }
  return AX_OK;
}

/* Max pooling, backward: din zeroed, then each output's gradient added to
 * the input cell that won its window (windows of a plane may overlap, so
 * a plane is one thread's). */
ax_status
cpu_own_maxpool_backward (ax_kernel *k, ax_tensor *din, const ax_tensor *dout,
    const ax_tensor *workspace)
{
  const ax_op_shapes_t *s = &k->shapes;
  const ax_pool_params *p = &k->op.p.pool;
  const int ih = s->in.h, iw = s->in.w, oh = s->out.h, ow = s->out.w;
  const size_t planes = (size_t) s->in.n * (size_t) s->in.c;
  const size_t in_plane = (size_t) ih * iw, out_plane = (size_t) oh * ow;
  const float *dy = dout->data;
  const uint8_t *ws = workspace->data;
  float *dx = din->data;
#pragma omp parallel for num_threads (CPU_BE (k->backend)->threads) schedule (static)
  for (size_t q = 0; q < planes; q++) {
    float *d = dx + q * in_plane;
    for (size_t e = 0; e < in_plane; e++)
      d[e] = 0.0f;
    for (int i = 0; i < oh; i++)
      for (int j = 0; j < ow; j++) {
        size_t o = q * out_plane + (size_t) i * ow + j;
        int ky = ws[o] / p->kernel, kx = ws[o] % p->kernel;
        int r = i * p->stride - p->pad + ky, c = j * p->stride - p->pad + kx;
        d[(size_t) r * iw + c] += dy[o];
      }
  }
  return AX_OK;
}
