/* Batch normalisation (torch.nn.BatchNorm2d) of the CPU backend on oneDNN's
 * batch_normalization primitive with separate scale and shift
 * (dnnl_use_scale | dnnl_use_shift). Training writes the batch's mean and
 * biased variance into the workspace ([0, C) and [C, 2C)), which backward
 * reads, then updates the running statistics with layer_math.h's
 * ax_bn_running_update; evaluation runs the primitive with the running
 * statistics as global ones (dnnl_use_global_stats). */
#include "kernels/cpu/cpu_internal.h"
#include "kernels/backend/layer_math.h"

/* The data layout: oneDNN's JIT batch norm is fastest on blocked maps, so
 * (as LRN) channels in blocks of 16 when they divide, behind reorders. */
static dnnl_memory_desc_t
bn_data_md (const ax_op_shapes_t *s)
{
  if (s->in.c % 16 == 0) {
    dnnl_dim_t dims[4] = { s->in.n, s->in.c, s->in.h, s->in.w };
    return cpu_md (4, dims, dnnl_nChw16c);
  }
  return cpu_md_shape (s->in);
}

ax_status
cpu_batchnorm_prepare (cpu_backend *be, cpu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s)
{
  const unsigned affine = dnnl_use_scale | dnnl_use_shift;
  const float eps = (float) op->p.bn.eps;
  dnnl_memory_desc_t plain = cpu_md_shape (s->in), md = bn_data_md (s);
  dnnl_dim_t c[1] = { s->in.c };
  dnnl_memory_desc_t ch = cpu_md (1, c, dnnl_x);
  dnnl_batch_normalization_desc_t train, infer, bwd;
  /* forward: src, dst, scale, shift, mean, variance */
  int fwd_args[] = { DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_SCALE,
    DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, -1 };
  dnnl_memory_desc_t fwd_plain[] = { plain, plain, ch, ch, ch, ch };
  /* backward: src, mean, variance, diff_dst, scale, shift (an input of
   * oneDNN 2.6's backward with dnnl_use_shift, though unused), diff_src,
   * diff_scale, diff_shift */
  int bwd_args[] = { DNNL_ARG_SRC, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE,
    DNNL_ARG_DIFF_DST, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_DIFF_SRC,
    DNNL_ARG_DIFF_SCALE, DNNL_ARG_DIFF_SHIFT, -1 };
  dnnl_memory_desc_t bwd_plain[] = { plain, ch, ch, plain, ch, ch, plain, ch,
    ch };
  ax_status st;

  DNNL_TRY (be, dnnl_batch_normalization_forward_desc_init (&infer,
          dnnl_forward_inference, &md, eps, affine | dnnl_use_global_stats));
  if (op->forward_only) {
    st = cpu_prim_create (be, &k->infer, &infer, NULL, fwd_args, fwd_plain);
    return st == AX_OK ? cpu_kernel_scratchpad (be, k) : st;
  }
  DNNL_TRY (be, dnnl_batch_normalization_forward_desc_init (&train,
          dnnl_forward_training, &md, eps, affine));
  DNNL_TRY (be, dnnl_batch_normalization_backward_desc_init (&bwd,
          dnnl_backward, &md, &md, eps, affine));
  st = cpu_prim_create (be, &k->fwd, &train, NULL, fwd_args, fwd_plain);
  if (st == AX_OK)
    st = cpu_prim_create (be, &k->infer, &infer, NULL, fwd_args, fwd_plain);
  if (st == AX_OK)
    st = cpu_prim_create (be, &k->bwd_data, &bwd, k->fwd.pd, bwd_args,
        bwd_plain);
  if (st == AX_OK)
    st = cpu_kernel_scratchpad (be, k);
  if (st != AX_OK)
    return st;
  /* the batch's mean and variance, kept from forward to backward */
  k->head.workspace = ax_shape_make (1, 1, 1, 2 * s->in.c);
  /* backward writes the weight and bias gradients here, then += */
  k->dweight_tmp = cpu_alloc ((size_t) s->in.c * sizeof (float));
  k->dbias_tmp = cpu_alloc ((size_t) s->in.c * sizeof (float));
  if (!k->dweight_tmp || !k->dbias_tmp)
    return ax_backend_fail (&be->head, AX_ERR_NO_MEMORY, "batch norm "
        "gradients");
  return AX_OK;
}

ax_status
cpu_batchnorm_forward (ax_kernel *kernel, ax_tensor *out,
    ax_tensor *workspace, ax_tensor *running_mean, ax_tensor *running_var,
    const ax_tensor *in, const ax_tensor *weight, const ax_tensor *bias,
    int training)
{
  cpu_kernel *k = CPU_K (kernel);
  cpu_backend *be = CPU_BE (kernel->backend);
  const ax_op_shapes_t *s = &kernel->shapes;
  int C = s->in.c;
  if (!training) {
    void *ptrs[] = { in->data, out->data, weight->data, bias->data,
      running_mean->data, running_var->data };
    return cpu_prim_run (be, k, &k->infer, ptrs);
  }
  float *mean = workspace->data, *var = mean + C;
  void *ptrs[] = { in->data, out->data, weight->data, bias->data, mean, var };
  ax_status st = cpu_prim_run (be, k, &k->fwd, ptrs);
  if (st != AX_OK)
    return st;
  float *rm = running_mean->data, *rv = running_var->data;
  double n = (double) s->in.n * s->in.h * s->in.w;
  for (int c = 0; c < C; c++)
    ax_bn_running_update (&rm[c], &rv[c], mean[c], var[c],
        kernel->op.p.bn.momentum, n);
  return AX_OK;
}

ax_status
cpu_batchnorm_backward (ax_kernel *kernel, ax_tensor *din,
    ax_tensor *dweight, ax_tensor *dbias, const ax_tensor *dout,
    const ax_tensor *in, const ax_tensor *weight, const ax_tensor *workspace)
{
  cpu_kernel *k = CPU_K (kernel);
  cpu_backend *be = CPU_BE (kernel->backend);
  int C = kernel->shapes.in.c;
  float *mean = workspace->data, *var = mean + C;
  /* the shift is not read without a fused ReLU: the scale stands in */
  void *ptrs[] = { in->data, mean, var, dout->data, weight->data,
    weight->data, din->data, k->dweight_tmp, k->dbias_tmp };
  ax_status st = cpu_prim_run (be, k, &k->bwd_data, ptrs);
  if (st != AX_OK)
    return st;
  cpu_accumulate (be, dweight->data, k->dweight_tmp, (size_t) C);
  cpu_accumulate (be, dbias->data, k->dbias_tmp, (size_t) C);
  return AX_OK;
}
