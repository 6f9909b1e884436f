/* Convolution (with groups) and fully connected layers of the CPU backend
 * on oneDNN. Tensors are in PyTorch's plain layouts (NCHW data, [out,
 * in/groups, kh, kw] weights); convolutions may run in oneDNN's blocked
 * layouts behind reorders. Both share the same execution arguments. */
#include "kernels/cpu/cpu_internal.h"

#include <string.h>

/* Memory descriptors of the four tensors of a weighted op. */
typedef struct {
  dnnl_memory_desc_t src, weight, bias, dst;
  int has_bias;
  int own_dbias;        /* the bias gradient is cpu_bias_grad's, not oneDNN's */
} weighted_mds;

/* `adapt`: the op descs may leave layouts to oneDNN (format any); the
 * tensors' plain layouts are then reached through reorders. */
static ax_status
weighted_prims (cpu_backend *be, cpu_kernel *k, const weighted_mds *m,
    const_dnnl_op_desc_t fwd, const_dnnl_op_desc_t bwd_data,
    const_dnnl_op_desc_t bwd_weights, int adapt, int forward_only)
{
  dnnl_memory_desc_t fwd_plain[] = { m->src, m->weight, m->dst, m->bias };
  dnnl_memory_desc_t data_plain[] = { m->src, m->weight, m->dst };
  dnnl_memory_desc_t weight_plain[] = { m->src, m->dst, m->weight, m->bias };
  int fwd_args[] = { DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST,
    m->has_bias ? DNNL_ARG_BIAS : -1, -1 };
  int data_args[] = { DNNL_ARG_DIFF_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_DST, -1 };
  int weight_args[] = { DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS,
    m->has_bias && !m->own_dbias ? DNNL_ARG_DIFF_BIAS : -1, -1 };
  ax_status st = cpu_prim_create (be, &k->fwd, fwd, NULL, fwd_args,
      adapt ? fwd_plain : NULL);
  if (st == AX_OK && forward_only)
    return cpu_kernel_scratchpad (be, k);
  if (st == AX_OK)
    st = cpu_prim_create (be, &k->bwd_data, bwd_data, k->fwd.pd, data_args,
        adapt ? data_plain : NULL);
  if (st == AX_OK)
    st = cpu_prim_create (be, &k->bwd_weights, bwd_weights, k->fwd.pd,
        weight_args, adapt ? weight_plain : NULL);
  if (st == AX_OK)
    st = cpu_kernel_scratchpad (be, k);
  if (st != AX_OK)
    return st;
  k->dweight_tmp = cpu_alloc (dnnl_memory_desc_get_size (&m->weight));
  int dnnl_dbias = m->has_bias && !m->own_dbias;
  k->dbias_tmp = dnnl_dbias ? cpu_alloc (dnnl_memory_desc_get_size (&m->bias))
      : NULL;
  if (!k->dweight_tmp || (dnnl_dbias && !k->dbias_tmp))
    return ax_backend_fail (&be->head, AX_ERR_NO_MEMORY, "weight gradients");
  return AX_OK;
}

ax_status
cpu_conv_prepare (cpu_backend *be, cpu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s)
{
  const ax_conv_params *p = &op->p.conv;
  /* oneDNN sums a convolution's bias gradient over batch x H x W in float
   * (an error of 1e-5 at 224x224); cpu_bias_grad sums it in double. */
  weighted_mds m = { .has_bias = p->has_bias, .own_dbias = p->has_bias };
  m.src = cpu_md_shape (s->in);
  m.dst = cpu_md_shape (s->out);
  if (p->groups == 1) {
    dnnl_dim_t w[4] = { s->weight.n, s->weight.c, s->weight.h, s->weight.w };
    m.weight = cpu_md (4, w, dnnl_oihw);
  } else {
    dnnl_dim_t w[5] = { p->groups, s->weight.n / p->groups, s->weight.c,
      s->weight.h, s->weight.w };
    m.weight = cpu_md (5, w, dnnl_goihw);
  }
  if (p->has_bias) {
    dnnl_dim_t b[1] = { p->out_channels };
    m.bias = cpu_md (1, b, dnnl_x);
  }
  dnnl_dims_t strides = { p->stride, p->stride };
  dnnl_dims_t pad = { p->pad, p->pad };
  /* Right padding so that oneDNN's output size matches ours exactly. */
  dnnl_dims_t pad_r = {
    (s->out.h - 1) * p->stride + p->kernel_h - s->in.h - p->pad,
    (s->out.w - 1) * p->stride + p->kernel_w - s->in.w - p->pad };
  const dnnl_memory_desc_t *bias = p->has_bias ? &m.bias : NULL;
  /* Blocked layouts let oneDNN use its direct JIT kernels rather than
   * im2col + GEMM (conv1's weight gradient is ten times faster). */
  int blocked = be->blocked_conv;
  dnnl_memory_desc_t src = blocked ? cpu_md_any (&m.src) : m.src;
  dnnl_memory_desc_t weight = blocked ? cpu_md_any (&m.weight) : m.weight;
  dnnl_memory_desc_t dst = blocked ? cpu_md_any (&m.dst) : m.dst;
  dnnl_convolution_desc_t fwd, bwd_data, bwd_weights;
  DNNL_TRY (be, dnnl_convolution_forward_desc_init (&fwd,
          prop_kind (op), dnnl_convolution_direct, &src, &weight,
          bias, &dst, strides, pad, pad_r));
  DNNL_TRY (be, dnnl_convolution_backward_data_desc_init (&bwd_data,
          dnnl_convolution_direct, &src, &weight, &dst, strides, pad,
          pad_r));
  DNNL_TRY (be, dnnl_convolution_backward_weights_desc_init (&bwd_weights,
          dnnl_convolution_direct, &src, &weight, NULL, &dst, strides,
          pad, pad_r));
  return weighted_prims (be, k, &m, &fwd, &bwd_data, &bwd_weights, blocked,
      op->forward_only);
}

ax_status
cpu_fc_prepare (cpu_backend *be, cpu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s)
{
  weighted_mds m = { .has_bias = op->p.fc.has_bias };
  m.src = cpu_md_shape (s->in);
  dnnl_dim_t w[4] = { s->weight.n, s->weight.c, s->weight.h, s->weight.w };
  m.weight = cpu_md (4, w, dnnl_oihw);
  dnnl_dim_t d[2] = { s->out.n, s->out.c };
  m.dst = cpu_md (2, d, dnnl_nc);
  if (m.has_bias) {
    dnnl_dim_t b[1] = { s->out.c };
    m.bias = cpu_md (1, b, dnnl_x);
  }
  const dnnl_memory_desc_t *bias = m.has_bias ? &m.bias : NULL;
  dnnl_inner_product_desc_t fwd, bwd_data, bwd_weights;
  DNNL_TRY (be, dnnl_inner_product_forward_desc_init (&fwd,
          prop_kind (op), &m.src, &m.weight, bias, &m.dst));
  DNNL_TRY (be, dnnl_inner_product_backward_data_desc_init (&bwd_data,
          &m.src, &m.weight, &m.dst));
  DNNL_TRY (be, dnnl_inner_product_backward_weights_desc_init (&bwd_weights,
          &m.src, &m.weight, bias, &m.dst));
  return weighted_prims (be, k, &m, &fwd, &bwd_data, &bwd_weights, 0,
      op->forward_only);
}

ax_status
cpu_weighted_forward (ax_kernel *kernel, ax_tensor *out, const ax_tensor *in,
    const ax_tensor *weight, const ax_tensor *bias)
{
  cpu_kernel *k = CPU_K (kernel);
  void *ptrs[] = { in->data, weight->data, out->data, bias ? bias->data : NULL };
  return cpu_prim_run (CPU_BE (kernel->backend), k, &k->fwd, ptrs);
}

ax_status
cpu_weighted_backward (ax_kernel *kernel, ax_tensor *din, ax_tensor *dweight,
    ax_tensor *dbias, const ax_tensor *dout, const ax_tensor *in,
    const ax_tensor *weight)
{
  cpu_kernel *k = CPU_K (kernel);
  cpu_backend *be = CPU_BE (kernel->backend);
  ax_status st;
  if (din) {
    void *ptrs[] = { din->data, weight->data, dout->data };
    if ((st = cpu_prim_run (be, k, &k->bwd_data, ptrs)) != AX_OK)
      return st;
  }
  void *ptrs[] = { in->data, dout->data, k->dweight_tmp, k->dbias_tmp };
  if ((st = cpu_prim_run (be, k, &k->bwd_weights, ptrs)) != AX_OK)
    return st;
  cpu_accumulate (be, dweight->data, k->dweight_tmp,
      ax_shape_count (dweight->shape));
  if (dbias && k->dbias_tmp)
    cpu_accumulate (be, dbias->data, k->dbias_tmp,
        ax_shape_count (dbias->shape));
  else if (dbias)
    cpu_bias_grad (be, dbias->data, dout->data, dout->shape);
  return AX_OK;
}
