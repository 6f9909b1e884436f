/* Shape rules of the layer operations, shared by every backend so that they
 * all accept and reject exactly the same arguments. */
#include "kernels/backend/ops.h"

#include <math.h>
#include <string.h>

static const char *const op_names[AX_OP_COUNT] = {
  "conv", "relu", "lrn", "maxpool", "fc", "dropout", "softmax_xent", "sgd",
  "batchnorm", "avgpool",
};

const char *
ax_op_name (ax_op_type type)
{
  return (unsigned) type < AX_OP_COUNT ? op_names[type] : "unknown-op";
}

/* Output length of a window sliding over `in` cells; -1 if it does not fit. */
static int
window_out (int in, int kernel, int stride, int pad)
{
  if (kernel <= 0 || stride <= 0 || pad < 0 || pad >= kernel)
    return -1;
  if (in + 2 * pad < kernel)
    return -1;
  return (in + 2 * pad - kernel) / stride + 1;
}

static ax_status
conv_shapes (const ax_conv_params *p, ax_op_shapes_t *s)
{
  int g = p->groups;
  if (g <= 0 || p->out_channels <= 0 || s->in.c % g || p->out_channels % g)
    return AX_ERR_INVALID_ARG;
  int oh = window_out (s->in.h, p->kernel_h, p->stride, p->pad);
  int ow = window_out (s->in.w, p->kernel_w, p->stride, p->pad);
  if (oh <= 0 || ow <= 0)
    return AX_ERR_SHAPE;
  s->out = ax_shape_make (s->in.n, p->out_channels, oh, ow);
  s->weight = ax_shape_make (p->out_channels, s->in.c / g, p->kernel_h,
      p->kernel_w);
  if (p->has_bias)
    s->bias = ax_shape_make (p->out_channels, 1, 1, 1);
  return AX_OK;
}

static ax_status
pool_shapes (const ax_pool_params *p, ax_op_shapes_t *s)
{
  int oh = window_out (s->in.h, p->kernel, p->stride, p->pad);
  int ow = window_out (s->in.w, p->kernel, p->stride, p->pad);
  if (oh <= 0 || ow <= 0)
    return p->kernel > 0 && p->stride > 0 && p->pad >= 0 && p->pad < p->kernel
        ? AX_ERR_SHAPE : AX_ERR_INVALID_ARG;
  s->out = ax_shape_make (s->in.n, s->in.c, oh, ow);
  return AX_OK;
}

static ax_status
lrn_check (const ax_lrn_params *p)
{
  /* An even size has no centre; oneDNN and cuDNN want it odd as well. */
  if (p->size <= 0 || p->size % 2 == 0 || !(p->k > 0) || !(p->alpha >= 0)
      || !(p->beta >= 0))
    return AX_ERR_INVALID_ARG;
  return AX_OK;
}

ax_status
ax_op_shapes (const ax_op *op, ax_op_shapes_t *s)
{
  if (!op || !s)
    return AX_ERR_INVALID_ARG;
  memset (s, 0, sizeof *s);
  s->in = op->in;
  if (!ax_shape_valid (op->in))
    return AX_ERR_SHAPE;
  s->out = op->in;
  switch (op->type) {
    case AX_OP_CONV:
      return conv_shapes (&op->p.conv, s);
    case AX_OP_RELU:
    case AX_OP_SGD:
      return AX_OK;
    case AX_OP_LRN:
      return lrn_check (&op->p.lrn);
    case AX_OP_MAXPOOL:
      return pool_shapes (&op->p.pool, s);
    case AX_OP_FC:
      if (op->p.fc.out_features <= 0)
        return AX_ERR_INVALID_ARG;
      s->out = ax_shape_make (op->in.n, op->p.fc.out_features, 1, 1);
      s->weight = ax_shape_make (op->p.fc.out_features, op->in.c, op->in.h,
          op->in.w);
      if (op->p.fc.has_bias)
        s->bias = ax_shape_make (op->p.fc.out_features, 1, 1, 1);
      return AX_OK;
    case AX_OP_DROPOUT:
      return op->p.dropout.p >= 0.0f && op->p.dropout.p < 1.0f
          ? AX_OK : AX_ERR_INVALID_ARG;
    case AX_OP_BATCHNORM:
      /* weight, bias (and the running statistics): one value per channel */
      if (!(op->p.bn.eps > 0.0 && op->p.bn.eps < HUGE_VAL)
          || !(op->p.bn.momentum >= 0.0 && op->p.bn.momentum <= 1.0))
        return AX_ERR_INVALID_ARG;
      s->weight = s->bias = ax_shape_make (op->in.c, 1, 1, 1);
      return AX_OK;
    case AX_OP_AVGPOOL:
      if (op->p.avgpool.out_h < 1 || op->p.avgpool.out_w < 1)
        return AX_ERR_INVALID_ARG;
      s->out = ax_shape_make (op->in.n, op->in.c, op->p.avgpool.out_h,
          op->p.avgpool.out_w);
      return AX_OK;
    case AX_OP_SOFTMAX_XENT:
      /* in = logits (N, classes, 1, 1); out = probabilities, same shape. */
      return op->in.h == 1 && op->in.w == 1 ? AX_OK : AX_ERR_SHAPE;
    default:
      return AX_ERR_INVALID_ARG;
  }
}
