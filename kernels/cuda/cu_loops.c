/* The CUDA backend's slots that run its own small kernels (cu_kernels.cu):
 * fill, axpy, the finiteness count, dropout, softmax with cross-entropy,
 * the SGD update and the colour noise. Where the slot must answer a
 * question about the data (a count, a bad label, a non-finite loss), a
 * kernel raises a word on the device and the slot waits for it. */
#include "cu_internal.h"
#include "kernels/backend/cuda_elementwise.h"

/* A launch's error, with the kernel's name. */
static ax_status
launched (axcu_backend *be, cudaError_t e, const char *kernel)
{
  return e == cudaSuccess ? AX_OK : axcu_cuda_fail (be, e, kernel);
}

ax_status
axcu_fill (ax_backend *backend, ax_tensor *dst, float value)
{
  axcu_backend *be = AXCU_BE (backend);
  SET_DEVICE (be);
  return launched (be, axcu_launch_fill (be->stream, dst->data,
          ax_shape_count (dst->shape), value), "fill kernel");
}

ax_status
axcu_axpy (ax_backend *backend, ax_tensor *dst, float alpha,
    const ax_tensor *src)
{
  axcu_backend *be = AXCU_BE (backend);
  SET_DEVICE (be);
  return launched (be, axcu_launch_axpy (be->stream, dst->data, alpha,
          src->data, ax_shape_count (dst->shape)), "axpy kernel");
}

/* Queues the count and waits for it. */
static ax_status
count_nonfinite (axcu_backend *be, const ax_tensor *t, size_t *count)
{
  unsigned long long bad = 0;
  ax_status st = axcu_clear_word (be);
  if (st == AX_OK)
    st = launched (be, axcu_launch_count_nonfinite (be->stream, t->data,
            ax_shape_count (t->shape), be->d_word), "count_nonfinite kernel");
  if (st == AX_OK)
    st = axcu_read_word (be, &bad, "count_nonfinite");
  *count = (size_t) bad;
  return st;
}

ax_status
axcu_count_nonfinite (ax_backend *backend, const ax_tensor *t, size_t *count)
{
  axcu_backend *be = AXCU_BE (backend);
  SET_DEVICE (be);
  return count_nonfinite (be, t, count);
}

static ax_status
dropout (ax_kernel *k, float *out, const float *in, size_t n, uint64_t key)
{
  axcu_backend *be = AXCU_BE (k->backend);
  float p = k->op.p.dropout.p;
  SET_DEVICE (be);
  return launched (be, axcu_launch_dropout (be->stream, out, in, n, key,
          k->op.index0, ax_dropout_threshold (p), ax_dropout_scale (p)),
      "dropout kernel");
}

ax_status
axcu_dropout_forward (ax_kernel *k, ax_tensor *out, const ax_tensor *in,
    uint64_t key)
{
  return dropout (k, out->data, in->data, ax_shape_count (in->shape), key);
}

ax_status
axcu_dropout_backward (ax_kernel *k, ax_tensor *din, const ax_tensor *dout,
    uint64_t key)
{
  return dropout (k, din->data, dout->data, ax_shape_count (dout->shape),
      key);
}

ax_status
axcu_softmax_xent_forward (ax_kernel *k, ax_tensor *losses, ax_tensor *probs,
    const ax_tensor *logits, const ax_tensor *labels)
{
  axcu_backend *be = AXCU_BE (k->backend);
  int n = logits->shape.n, classes = logits->shape.c;
  unsigned long long bad = 0;
  SET_DEVICE (be);
  ax_status st = axcu_clear_word (be);
  if (st == AX_OK)
    st = launched (be, axcu_launch_softmax_rows (be->stream, probs->data,
            losses->data, logits->data, labels->data, n, classes, be->d_word),
        "softmax_xent kernel");
  if (st == AX_OK)
    st = axcu_read_word (be, &bad, "softmax_xent_forward");
  if (st != AX_OK)
    return st;
  /* In the CPU backend's order of checks. */
  if (bad & AX_EW_BAD_LABEL)
    return axcu_fail (be, AX_ERR_INVALID_ARG,
        "softmax_xent_forward: a label is outside [0, %d)", classes);
  if (bad & AX_EW_BAD_LOGIT)
    return axcu_fail (be, AX_ERR_NONFINITE,
        "softmax_xent_forward: NaN or infinity in the logits");
  if (bad & AX_EW_BAD_LOSS)
    return axcu_fail (be, AX_ERR_NONFINITE,
        "softmax_xent_forward: the loss is not finite");
  return AX_OK;
}

ax_status
axcu_softmax_xent_backward (ax_kernel *k, ax_tensor *dlogits,
    const ax_tensor *probs, const ax_tensor *labels, float scale)
{
  axcu_backend *be = AXCU_BE (k->backend);
  int n = probs->shape.n, classes = probs->shape.c;
  unsigned long long bad = 0;
  SET_DEVICE (be);
  ax_status st = axcu_clear_word (be);
  if (st == AX_OK)
    st = launched (be, axcu_launch_softmax_grad (be->stream, dlogits->data,
            probs->data, labels->data, n, classes, scale, be->d_word),
        "softmax_xent gradient kernel");
  if (st == AX_OK)
    st = axcu_read_word (be, &bad, "softmax_xent_backward");
  if (st == AX_OK && (bad & AX_EW_BAD_LABEL))
    return axcu_fail (be, AX_ERR_INVALID_ARG,
        "softmax_xent_backward: a label is outside [0, %d)", classes);
  return st;
}

/* Checks the whole gradient before touching w or v: one count (and one
 * wait) per call. */
ax_status
axcu_sgd_update (ax_kernel *k, ax_tensor *weight, ax_tensor *velocity,
    const ax_tensor *grad, const ax_sgd_step *step)
{
  axcu_backend *be = AXCU_BE (k->backend);
  size_t n = ax_shape_count (weight->shape), bad = 0;
  SET_DEVICE (be);
  ax_status st = count_nonfinite (be, grad, &bad);
  if (st != AX_OK)
    return st;
  if (bad)
    return axcu_fail (be, AX_ERR_NONFINITE,
        "sgd_update: NaN or infinity in the gradient (%zu elements)", bad);
  return launched (be, axcu_launch_sgd (be->stream, weight->data,
          velocity->data, grad->data, n, step->lr, step->momentum,
          step->weight_decay), "sgd kernel");
}

ax_status
axcu_colour_noise (ax_backend *backend, void *pixels, int width, int height,
    size_t stride, const int offsets[3])
{
  axcu_backend *be = AXCU_BE (backend);
  SET_DEVICE (be);
  if (offsets[0] == 0 && offsets[1] == 0 && offsets[2] == 0)
    return AX_OK;               /* nothing changes, as on the CPU */
  return launched (be, axcu_launch_colour_noise (be->stream, pixels, width,
          height, stride, offsets[0], offsets[1], offsets[2]),
      "colour noise kernel");
}
