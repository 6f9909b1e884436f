/* The layer operations of backend.h: each checks the kernel's op type and
 * every tensor's backend, type and shape against the shapes planned at
 * prepare time, then calls the backend's slot. */
#include "kernels/backend/backend_impl.h"
#include "kernels/backend/layer_math.h"

static ax_status
check_kernel (ax_kernel *k, ax_op_type type, const char *fn)
{
  if (!k)
    return AX_ERR_INVALID_ARG;
  if (k->op.type != type)
    return ax_backend_fail (k->backend, AX_ERR_INVALID_ARG,
        "%s called with a %s kernel", fn, ax_op_name (k->op.type));
  return AX_OK;
}

/* Backward passes need a kernel prepared for training. */
static ax_status
check_trainable (ax_kernel *k, const char *fn)
{
  if (k->op.forward_only)
    return ax_backend_fail (k->backend, AX_ERR_INVALID_ARG,
        "%s: the kernel was prepared forward-only", fn);
  return AX_OK;
}

static ax_status
check_tensor (ax_kernel *k, const char *fn, const char *name,
    const ax_tensor *t, ax_shape want, ax_dtype dtype)
{
  if (!t || !t->data)
    return ax_backend_fail (k->backend, AX_ERR_INVALID_ARG, "%s: %s is NULL",
        fn, name);
  if (t->backend != k->backend)
    return ax_backend_fail (k->backend, AX_ERR_WRONG_BACKEND,
        "%s: %s is on another backend instance (%s) than the kernel (%s)",
        fn, name, ax_backend_name (t->backend), ax_backend_name (k->backend));
  if (t->dtype != dtype || !ax_shape_equal (t->shape, want))
    return ax_backend_fail (k->backend, AX_ERR_SHAPE,
        "%s: %s is %dx%dx%dx%d%s, expected %dx%dx%dx%d%s", fn, name,
        t->shape.n, t->shape.c, t->shape.h, t->shape.w,
        t->dtype == AX_I32 ? " i32" : "", want.n, want.c, want.h, want.w,
        dtype == AX_I32 ? " i32" : "");
  return AX_OK;
}

/* Optional tensors: absent if the op has no such tensor (count 0). */
static ax_status
check_optional (ax_kernel *k, const char *fn, const char *name,
    const ax_tensor *t, ax_shape want)
{
  if (ax_shape_count (want) == 0)
    return t ? ax_backend_fail (k->backend, AX_ERR_INVALID_ARG,
        "%s: %s given but the op has none", fn, name) : AX_OK;
  return check_tensor (k, fn, name, t, want, AX_F32);
}

#define TRY(expr) do { ax_status st_ = (expr); if (st_ != AX_OK) return st_; } while (0)
#define KERNEL(type) TRY (check_kernel (k, type, __func__))
#define BACKWARD(type) do { KERNEL (type); \
    TRY (check_trainable (k, __func__)); } while (0)
#define F32(t, shape) TRY (check_tensor (k, __func__, #t, t, shape, AX_F32))
#define OPT(t, shape) TRY (check_optional (k, __func__, #t, t, shape))
#define SH (k->shapes)

ax_status
ax_conv_forward (ax_kernel *k, ax_tensor *out, const ax_tensor *in,
    const ax_tensor *weight, const ax_tensor *bias)
{
  KERNEL (AX_OP_CONV);
  F32 (out, SH.out); F32 (in, SH.in); F32 (weight, SH.weight);
  OPT (bias, SH.bias);
  return k->backend->iface->conv_forward (k, out, in, weight, bias);
}

ax_status
ax_conv_backward (ax_kernel *k, ax_tensor *din, ax_tensor *dweight,
    ax_tensor *dbias, const ax_tensor *dout, const ax_tensor *in,
    const ax_tensor *weight)
{
  BACKWARD (AX_OP_CONV);
  if (din)
    F32 (din, SH.in);
  F32 (dweight, SH.weight); OPT (dbias, SH.bias);
  F32 (dout, SH.out); F32 (in, SH.in); F32 (weight, SH.weight);
  return k->backend->iface->conv_backward (k, din, dweight, dbias, dout, in,
      weight);
}

ax_status
ax_relu_forward (ax_kernel *k, ax_tensor *out, const ax_tensor *in)
{
  KERNEL (AX_OP_RELU);
  F32 (out, SH.out); F32 (in, SH.in);
  return k->backend->iface->relu_forward (k, out, in);
}

ax_status
ax_relu_backward (ax_kernel *k, ax_tensor *din, const ax_tensor *dout,
    const ax_tensor *out)
{
  BACKWARD (AX_OP_RELU);
  F32 (din, SH.in); F32 (dout, SH.out); F32 (out, SH.out);
  return k->backend->iface->relu_backward (k, din, dout, out);
}

ax_status
ax_lrn_forward (ax_kernel *k, ax_tensor *out, ax_tensor *workspace,
    const ax_tensor *in)
{
  KERNEL (AX_OP_LRN);
  F32 (out, SH.out); OPT (workspace, k->workspace); F32 (in, SH.in);
  return k->backend->iface->lrn_forward (k, out, workspace, in);
}

ax_status
ax_lrn_backward (ax_kernel *k, ax_tensor *din, const ax_tensor *dout,
    const ax_tensor *in, const ax_tensor *out, const ax_tensor *workspace)
{
  BACKWARD (AX_OP_LRN);
  F32 (din, SH.in); F32 (dout, SH.out); F32 (in, SH.in); F32 (out, SH.out);
  OPT (workspace, k->workspace);
  return k->backend->iface->lrn_backward (k, din, dout, in, out, workspace);
}

ax_status
ax_maxpool_forward (ax_kernel *k, ax_tensor *out, ax_tensor *workspace,
    const ax_tensor *in)
{
  KERNEL (AX_OP_MAXPOOL);
  F32 (out, SH.out); OPT (workspace, k->workspace); F32 (in, SH.in);
  return k->backend->iface->maxpool_forward (k, out, workspace, in);
}

ax_status
ax_maxpool_backward (ax_kernel *k, ax_tensor *din, const ax_tensor *dout,
    const ax_tensor *in, const ax_tensor *out, const ax_tensor *workspace)
{
  BACKWARD (AX_OP_MAXPOOL);
  F32 (din, SH.in); F32 (dout, SH.out); F32 (in, SH.in); F32 (out, SH.out);
  OPT (workspace, k->workspace);
  return k->backend->iface->maxpool_backward (k, din, dout, in, out,
      workspace);
}

ax_status
ax_fc_forward (ax_kernel *k, ax_tensor *out, const ax_tensor *in,
    const ax_tensor *weight, const ax_tensor *bias)
{
  KERNEL (AX_OP_FC);
  F32 (out, SH.out); F32 (in, SH.in); F32 (weight, SH.weight);
  OPT (bias, SH.bias);
  return k->backend->iface->fc_forward (k, out, in, weight, bias);
}

ax_status
ax_fc_backward (ax_kernel *k, ax_tensor *din, ax_tensor *dweight,
    ax_tensor *dbias, const ax_tensor *dout, const ax_tensor *in,
    const ax_tensor *weight)
{
  BACKWARD (AX_OP_FC);
  if (din)
    F32 (din, SH.in);
  F32 (dweight, SH.weight); OPT (dbias, SH.bias);
  F32 (dout, SH.out); F32 (in, SH.in); F32 (weight, SH.weight);
  return k->backend->iface->fc_backward (k, din, dweight, dbias, dout, in,
      weight);
}

ax_status
ax_dropout_forward (ax_kernel *k, ax_tensor *out, const ax_tensor *in,
    uint64_t seed, uint64_t step)
{
  KERNEL (AX_OP_DROPOUT);
  F32 (out, SH.out); F32 (in, SH.in);
  return k->backend->iface->dropout_forward (k, out, in,
      ax_dropout_key (seed, step, k->op.p.dropout.stream));
}

ax_status
ax_dropout_backward (ax_kernel *k, ax_tensor *din, const ax_tensor *dout,
    uint64_t seed, uint64_t step)
{
  BACKWARD (AX_OP_DROPOUT);
  F32 (din, SH.in); F32 (dout, SH.out);
  return k->backend->iface->dropout_backward (k, din, dout,
      ax_dropout_key (seed, step, k->op.p.dropout.stream));
}

ax_status
ax_softmax_xent_forward (ax_kernel *k, ax_tensor *losses, ax_tensor *probs,
    const ax_tensor *logits, const ax_tensor *labels)
{
  ax_shape per_sample = ax_shape_make (k ? k->shapes.in.n : 0, 1, 1, 1);
  KERNEL (AX_OP_SOFTMAX_XENT);
  F32 (losses, per_sample); F32 (probs, SH.out); F32 (logits, SH.in);
  TRY (check_tensor (k, __func__, "labels", labels, per_sample, AX_I32));
  return k->backend->iface->softmax_xent_forward (k, losses, probs, logits,
      labels);
}

ax_status
ax_softmax_xent_backward (ax_kernel *k, ax_tensor *dlogits,
    const ax_tensor *probs, const ax_tensor *labels, float scale)
{
  ax_shape per_sample = ax_shape_make (k ? k->shapes.in.n : 0, 1, 1, 1);
  BACKWARD (AX_OP_SOFTMAX_XENT);
  F32 (dlogits, SH.in); F32 (probs, SH.out);
  TRY (check_tensor (k, __func__, "labels", labels, per_sample, AX_I32));
  if (!ax_isfinite (scale))
    return ax_backend_fail (k->backend, AX_ERR_NONFINITE, "%s: scale %g",
        __func__, (double) scale);
  return k->backend->iface->softmax_xent_backward (k, dlogits, probs, labels,
      scale);
}

ax_status
ax_sgd_update (ax_kernel *k, ax_tensor *weight, ax_tensor *velocity,
    const ax_tensor *grad, const ax_sgd_step *step)
{
  KERNEL (AX_OP_SGD);
  F32 (weight, SH.in); F32 (velocity, SH.in); F32 (grad, SH.in);
  if (!step || !ax_isfinite (step->lr) || !ax_isfinite (step->momentum)
      || !ax_isfinite (step->weight_decay))
    return ax_backend_fail (k->backend, AX_ERR_INVALID_ARG,
        "%s: missing or non-finite hyper-parameters", __func__);
  return k->backend->iface->sgd_update (k, weight, velocity, grad, step);
}

ax_status
ax_batchnorm_forward (ax_kernel *k, ax_tensor *out, ax_tensor *workspace,
    ax_tensor *running_mean, ax_tensor *running_var, const ax_tensor *in,
    const ax_tensor *weight, const ax_tensor *bias, int training)
{
  KERNEL (AX_OP_BATCHNORM);
  F32 (out, SH.out); F32 (in, SH.in); F32 (weight, SH.weight);
  F32 (bias, SH.bias); F32 (running_mean, SH.weight);
  F32 (running_var, SH.weight);
  if (!training)
    return k->backend->iface->batchnorm_forward (k, out, NULL, running_mean,
        running_var, in, weight, bias, 0);
  TRY (check_trainable (k, __func__));
  F32 (workspace, k->workspace);
  if ((size_t) SH.in.n * SH.in.h * SH.in.w < 2)
    return ax_backend_fail (k->backend, AX_ERR_SHAPE, "%s: expected more "
        "than 1 value per channel when training, got input %dx%dx%dx%d",
        __func__, SH.in.n, SH.in.c, SH.in.h, SH.in.w);
  return k->backend->iface->batchnorm_forward (k, out, workspace,
      running_mean, running_var, in, weight, bias, 1);
}

ax_status
ax_batchnorm_backward (ax_kernel *k, ax_tensor *din, ax_tensor *dweight,
    ax_tensor *dbias, const ax_tensor *dout, const ax_tensor *in,
    const ax_tensor *weight, const ax_tensor *workspace)
{
  BACKWARD (AX_OP_BATCHNORM);
  F32 (din, SH.in); F32 (dweight, SH.weight); F32 (dbias, SH.bias);
  F32 (dout, SH.out); F32 (in, SH.in); F32 (weight, SH.weight);
  F32 (workspace, k->workspace);
  return k->backend->iface->batchnorm_backward (k, din, dweight, dbias, dout,
      in, weight, workspace);
}

ax_status
ax_avgpool_forward (ax_kernel *k, ax_tensor *out, const ax_tensor *in)
{
  KERNEL (AX_OP_AVGPOOL);
  F32 (out, SH.out); F32 (in, SH.in);
  return k->backend->iface->avgpool_forward (k, out, in);
}

ax_status
ax_avgpool_backward (ax_kernel *k, ax_tensor *din, const ax_tensor *dout)
{
  BACKWARD (AX_OP_AVGPOOL);
  F32 (din, SH.in); F32 (dout, SH.out);
  return k->backend->iface->avgpool_backward (k, din, dout);
}
