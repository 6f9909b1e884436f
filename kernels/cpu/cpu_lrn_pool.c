/* ReLU, local response normalisation and max pooling of the CPU backend on
 * oneDNN. LRN takes the paper's alpha: oneDNN divides alpha by the size, so
 * it is given alpha * size unless the op says alpha is already divided. */
#include "kernels/cpu/cpu_internal.h"

/* Workspace of the forward prim, as a count of F32 elements. */
static void
set_workspace (cpu_kernel *k)
{
  size_t bytes = cpu_prim_arg_bytes (&k->fwd, DNNL_ARG_WORKSPACE);
  size_t floats = (bytes + sizeof (float) - 1) / sizeof (float);
  k->head.workspace = floats ? ax_shape_make (1, 1, 1, (int) floats)
      : ax_shape_make (0, 0, 0, 0);
}

ax_status
cpu_relu_prepare (cpu_backend *be, cpu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s)
{
  dnnl_memory_desc_t md = cpu_md_shape (s->in);
  dnnl_eltwise_desc_t fwd, bwd;
  int fwd_args[] = { DNNL_ARG_SRC, DNNL_ARG_DST, -1 };
  int bwd_args[] = { DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DST, -1 };
  DNNL_TRY (be, dnnl_eltwise_forward_desc_init (&fwd, prop_kind (op),
          dnnl_eltwise_relu_use_dst_for_bwd, &md, 0.0f, 0.0f));
  DNNL_TRY (be, dnnl_eltwise_backward_desc_init (&bwd,
          dnnl_eltwise_relu_use_dst_for_bwd, &md, &md, 0.0f, 0.0f));
  ax_status st = cpu_prim_create (be, &k->fwd, &fwd, NULL, fwd_args, NULL);
  if (st == AX_OK && !op->forward_only)
    st = cpu_prim_create (be, &k->bwd_data, &bwd, k->fwd.pd, bwd_args, NULL);
  return st == AX_OK ? cpu_kernel_scratchpad (be, k) : st;
}

ax_status
cpu_lrn_prepare (cpu_backend *be, cpu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s)
{
  const ax_lrn_params *p = &op->p.lrn;
  dnnl_memory_desc_t plain = cpu_md_shape (s->in), md = plain;
  float alpha = (float) (ax_lrn_alpha_per_term (p) * p->size);
  dnnl_lrn_desc_t fwd, bwd;
  int fwd_args[] = { DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE, -1 };
  int bwd_args[] = { DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_SRC,
    DNNL_ARG_WORKSPACE, -1 };
  dnnl_memory_desc_t fwd_plain[] = { plain, plain, plain };
  dnnl_memory_desc_t bwd_plain[] = { plain, plain, plain, plain };
  /* oneDNN has JIT LRN only for blocked layouts; on NCHW it falls back to
   * a reference backward (seconds per AlexNet batch). */
  if (s->in.c % 16 == 0) {
    dnnl_dim_t dims[4] = { s->in.n, s->in.c, s->in.h, s->in.w };
    md = cpu_md (4, dims, dnnl_nChw16c);
  }
  DNNL_TRY (be, dnnl_lrn_forward_desc_init (&fwd, prop_kind (op),
          dnnl_lrn_across_channels, &md, p->size, alpha, (float) p->beta,
          (float) p->k));
  DNNL_TRY (be, dnnl_lrn_backward_desc_init (&bwd, dnnl_lrn_across_channels,
          &md, &md, p->size, alpha, (float) p->beta, (float) p->k));
  ax_status st = cpu_prim_create (be, &k->fwd, &fwd, NULL, fwd_args,
      fwd_plain);
  if (st == AX_OK && !op->forward_only)
    st = cpu_prim_create (be, &k->bwd_data, &bwd, k->fwd.pd, bwd_args,
        bwd_plain);
  if (st != AX_OK)
    return st;
  set_workspace (k);
  return cpu_kernel_scratchpad (be, k);
}

ax_status
cpu_pool_prepare (cpu_backend *be, cpu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s)
{
  const ax_pool_params *p = &op->p.pool;
  if (p->kernel <= 15) {
    /* cpu_loops.c's loop; the window place of each maximum in a byte */
    size_t floats = (ax_shape_count (s->out) + 3) / 4;
    k->own_pool = 1;
    k->head.workspace = op->forward_only ? ax_shape_make (0, 0, 0, 0)
        : ax_shape_make (1, 1, 1, (int) floats);
    return AX_OK;
  }
  dnnl_memory_desc_t src = cpu_md_shape (s->in), dst = cpu_md_shape (s->out);
  dnnl_dims_t strides = { p->stride, p->stride };
  dnnl_dims_t kernel = { p->kernel, p->kernel };
  dnnl_dims_t pad = { p->pad, p->pad };
  dnnl_dims_t pad_r = {
    (s->out.h - 1) * p->stride + p->kernel - s->in.h - p->pad,
    (s->out.w - 1) * p->stride + p->kernel - s->in.w - p->pad };
  dnnl_pooling_desc_t fwd, bwd;
  int fwd_args[] = { DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE, -1 };
  int bwd_args[] = { DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_WORKSPACE,
    -1 };
  DNNL_TRY (be, dnnl_pooling_forward_desc_init (&fwd, prop_kind (op),
          dnnl_pooling_max, &src, &dst, strides, kernel, pad, pad_r));
  DNNL_TRY (be, dnnl_pooling_backward_desc_init (&bwd, dnnl_pooling_max,
          &src, &dst, strides, kernel, pad, pad_r));
  ax_status st = cpu_prim_create (be, &k->fwd, &fwd, NULL, fwd_args, NULL);
  if (st == AX_OK && !op->forward_only)
    st = cpu_prim_create (be, &k->bwd_data, &bwd, k->fwd.pd, bwd_args, NULL);
  if (st != AX_OK)
    return st;
  set_workspace (k);
  return cpu_kernel_scratchpad (be, k);
}

static void *
data_or_null (const ax_tensor *t)
{
  return t ? t->data : NULL;
}

ax_status
cpu_relu_forward (ax_kernel *k, ax_tensor *out, const ax_tensor *in)
{
  void *ptrs[] = { in->data, out->data };
  return cpu_prim_run (CPU_BE (k->backend), &CPU_K (k)->fwd, ptrs);
}

ax_status
cpu_relu_backward (ax_kernel *k, ax_tensor *din, const ax_tensor *dout,
    const ax_tensor *out)
{
  void *ptrs[] = { din->data, dout->data, out->data };
  return cpu_prim_run (CPU_BE (k->backend), &CPU_K (k)->bwd_data,
      ptrs);
}

ax_status
cpu_lrn_forward (ax_kernel *k, ax_tensor *out, ax_tensor *workspace,
    const ax_tensor *in)
{
  void *ptrs[] = { in->data, out->data, data_or_null (workspace) };
  return cpu_prim_run (CPU_BE (k->backend), &CPU_K (k)->fwd, ptrs);
}

ax_status
cpu_lrn_backward (ax_kernel *k, ax_tensor *din, const ax_tensor *dout,
    const ax_tensor *in, const ax_tensor *out, const ax_tensor *workspace)
{
  (void) out;
  void *ptrs[] = { din->data, dout->data, in->data, data_or_null (workspace) };
  return cpu_prim_run (CPU_BE (k->backend), &CPU_K (k)->bwd_data,
      ptrs);
}

ax_status
cpu_maxpool_forward (ax_kernel *k, ax_tensor *out, ax_tensor *workspace,
    const ax_tensor *in)
{
  if (CPU_K (k)->own_pool)
    return cpu_own_maxpool_forward (k, out, workspace, in);
  void *ptrs[] = { in->data, out->data, data_or_null (workspace) };
  return cpu_prim_run (CPU_BE (k->backend), &CPU_K (k)->fwd, ptrs);
}

ax_status
cpu_maxpool_backward (ax_kernel *k, ax_tensor *din, const ax_tensor *dout,
    const ax_tensor *in, const ax_tensor *out, const ax_tensor *workspace)
{
  (void) in;
  (void) out;
  if (CPU_K (k)->own_pool)
    return cpu_own_maxpool_backward (k, din, dout, workspace);
  void *ptrs[] = { din->data, dout->data, data_or_null (workspace) };
  return cpu_prim_run (CPU_BE (k->backend), &CPU_K (k)->bwd_data,
      ptrs);
}
