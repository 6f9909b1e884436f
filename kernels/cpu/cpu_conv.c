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
} weighted_mds;

/* `adapt`: the op descs may leave layouts to oneDNN (format any); the
 * tensors' plain layouts are then reached through reorders. Without
 * `bwd_weights` (fc: cpu_sgemm_add) there is no weight-gradient prim. */
static ax_status
weighted_prims (cpu_backend *be, cpu_kernel *k, const weighted_mds *m,
    const_dnnl_op_desc_t fwd, const_dnnl_op_desc_t bwd_data,
    const_dnnl_op_desc_t bwd_weights, int adapt, int forward_only)
{
  dnnl_memory_desc_t fwd_plain[] = { m->src, m->weight, m->dst, m->bias };
  dnnl_memory_desc_t data_plain[] = { m->src, m->weight, m->dst };
  dnnl_memory_desc_t weight_plain[] = { m->src, m->dst, m->weight };
  int fwd_args[] = { DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST,
    m->has_bias ? DNNL_ARG_BIAS : -1, -1 };
  int data_args[] = { DNNL_ARG_DIFF_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_DST, -1 };
  /* the bias gradient is cpu_bias_grad's (sums in double) */
  int weight_args[] = { DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS,
    -1 };
  ax_status st = cpu_prim_create (be, &k->fwd, fwd, NULL, fwd_args,
      adapt ? fwd_plain : NULL);
  if (st == AX_OK && forward_only)
    return cpu_kernel_scratchpad (be, k);
  if (st == AX_OK)
    st = cpu_prim_create (be, &k->bwd_data, bwd_data, k->fwd.pd, data_args,
        adapt ? data_plain : NULL);
  if (st == AX_OK && bwd_weights)
    st = cpu_prim_create (be, &k->bwd_weights, bwd_weights, k->fwd.pd,
        weight_args, adapt ? weight_plain : NULL);
  if (st == AX_OK)
    st = cpu_kernel_scratchpad (be, k);
  if (st != AX_OK || !bwd_weights)
    return st;
  return cpu_shared_reserve (be, (void **) &be->dweight, &be->dweight_bytes,
      dnnl_memory_desc_get_size (&m->weight), "weight gradients");
}

/* Whether oneDNN implements the Winograd descriptors here (forward, and for
 * training both backward passes): primitive descriptors made and dropped. */
static int
wino_implemented (cpu_backend *be, const dnnl_convolution_desc_t *fwd,
    const dnnl_convolution_desc_t *bwd_data,
    const dnnl_convolution_desc_t *bwd_weights, int forward_only)
{
  dnnl_primitive_desc_t f = NULL, d = NULL, w = NULL;
  int ok = dnnl_primitive_desc_create (&f, fwd, NULL, be->engine, NULL)
      == dnnl_success;
  if (ok && !forward_only)
    ok = dnnl_primitive_desc_create (&d, bwd_data, NULL, be->engine, f)
        == dnnl_success && dnnl_primitive_desc_create (&w, bwd_weights, NULL,
        be->engine, f) == dnnl_success;
  if (w)
    dnnl_primitive_desc_destroy (w);
  if (d)
    dnnl_primitive_desc_destroy (d);
  if (f)
    dnnl_primitive_desc_destroy (f);
  return ok;
}

ax_status
cpu_conv_prepare (cpu_backend *be, cpu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s)
{
  const ax_conv_params *p = &op->p.conv;
  /* oneDNN sums a convolution's bias gradient over batch x H x W in float
   * (an error of 1e-5 at 224x224); cpu_bias_grad sums it in double. */
  weighted_mds m = { .has_bias = p->has_bias };
  int blocked = be->blocked_conv;
  /* In blocked layouts every call copies its big tensors (src, dst and
   * their gradients) to and from oneDNN's layout: VGG-16's conv1_2 at
   * batch 32 needs 822 MB of copies in backward. Run on chunks of the
   * batch whose src and dst fit be->chunk_bytes instead (oneDNN splits the work
   * over maps and pixels, so a chunk of a few images runs almost as fast:
   * about 7 % slower in VGG-16's backward). */
  ax_shape in = s->in, out = s->out;
  k->chunks = 1;
  /* (training only: a forward-only kernel's copies live for one call of
   * an inference net, and whole batches ran VGG-16's inference at batch
   * 16 15 % faster) */
  if (blocked && !op->forward_only) {
    size_t image = (ax_shape_count (in) + ax_shape_count (out))
        / (size_t) in.n * sizeof (float);
    while (in.n % 2 == 0 && (size_t) in.n * image > be->chunk_bytes) {
      in.n /= 2;
      out.n /= 2;
      k->chunks *= 2;
    }
  }
  k->in_chunk = ax_shape_count (in);
  k->out_chunk = ax_shape_count (out);
  m.src = cpu_md_shape (in);
  m.dst = cpu_md_shape (out);
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
    (out.h - 1) * p->stride + p->kernel_h - in.h - p->pad,
    (out.w - 1) * p->stride + p->kernel_w - in.w - p->pad };
  const dnnl_memory_desc_t *bias = p->has_bias ? &m.bias : NULL;
  /* Blocked layouts let oneDNN use its direct JIT kernels rather than
   * im2col + GEMM (conv1's weight gradient is ten times faster). */
  dnnl_memory_desc_t src = blocked ? cpu_md_any (&m.src) : m.src;
  dnnl_memory_desc_t weight = blocked ? cpu_md_any (&m.weight) : m.weight;
  dnnl_memory_desc_t dst = blocked ? cpu_md_any (&m.dst) : m.dst;
  int wino_shape = blocked && p->groups == 1 && p->kernel_h == 3
      && p->kernel_w == 3 && p->stride == 1;
  ax_conv_algo mode = be->conv_algo;
  int wino = wino_shape && (mode == AX_CONV_ALGO_WINOGRAD
      || (mode == AX_CONV_ALGO_AUTO && in.n >= AX_CONV_WINOGRAD_MIN_BATCH));
  dnnl_convolution_desc_t fwd, bwd_data, bwd_weights;
  for (;;) {
    dnnl_alg_kind_t alg = wino ? dnnl_convolution_winograd
        : dnnl_convolution_direct;
    DNNL_TRY (be, dnnl_convolution_forward_desc_init (&fwd,
            prop_kind (op), alg, &src, &weight, bias, &dst, strides, pad,
            pad_r));
    DNNL_TRY (be, dnnl_convolution_backward_data_desc_init (&bwd_data,
            alg, &src, &weight, &dst, strides, pad, pad_r));
    DNNL_TRY (be, dnnl_convolution_backward_weights_desc_init (&bwd_weights,
            alg, &src, &weight, NULL, &dst, strides, pad, pad_r));
    if (!wino || wino_implemented (be, &fwd, &bwd_data, &bwd_weights,
            op->forward_only))
      break;
    if (mode == AX_CONV_ALGO_WINOGRAD)
      return ax_backend_fail (&be->head, AX_ERR_UNSUPPORTED, "conv-algorithm "
          "winograd: oneDNN has no Winograd convolution for %dx%d maps of "
          "%d -> %d channels on this processor (it needs AVX-512); use "
          "auto or direct", in.h, in.w, in.c, out.c);
    wino = 0;
  }
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
  dnnl_inner_product_desc_t fwd, bwd_data;
  DNNL_TRY (be, dnnl_inner_product_forward_desc_init (&fwd,
          prop_kind (op), &m.src, &m.weight, bias, &m.dst));
  DNNL_TRY (be, dnnl_inner_product_backward_data_desc_init (&bwd_data,
          &m.src, &m.weight, &m.dst));
  /* dW (out x in) += dY^T (out x batch) X (batch x in) */
  k->chunks = 1;
  k->gemm_dweight = 1;
  k->gemm_out = s->out.c;
  k->gemm_in = (dnnl_dim_t) s->in.c * s->in.h * s->in.w;
  k->gemm_batch = s->in.n;
  return weighted_prims (be, k, &m, &fwd, &bwd_data, NULL, 0,
      op->forward_only);
}

ax_status
cpu_weighted_forward (ax_kernel *kernel, ax_tensor *out, const ax_tensor *in,
    const ax_tensor *weight, const ax_tensor *bias)
{
  cpu_kernel *k = CPU_K (kernel);
  cpu_backend *be = CPU_BE (kernel->backend);
  ax_status st = AX_OK;
  for (int c = 0; c < k->chunks && st == AX_OK; c++) {
    void *ptrs[] = { (float *) in->data + c * k->in_chunk, weight->data,
      (float *) out->data + c * k->out_chunk, bias ? bias->data : NULL };
    st = cpu_prim_run (be, &k->fwd, ptrs);
  }
  return st;
}

ax_status
cpu_weighted_backward (ax_kernel *kernel, ax_tensor *din, ax_tensor *dweight,
    ax_tensor *dbias, const ax_tensor *dout, const ax_tensor *in,
    const ax_tensor *weight)
{
  cpu_kernel *k = CPU_K (kernel);
  cpu_backend *be = CPU_BE (kernel->backend);
  ax_status st = AX_OK;
  for (int c = 0; din && c < k->chunks && st == AX_OK; c++) {
    void *ptrs[] = { (float *) din->data + c * k->in_chunk, weight->data,
      (float *) dout->data + c * k->out_chunk };
    st = cpu_prim_run (be, &k->bwd_data, ptrs);
  }
  if (st == AX_OK && k->gemm_dweight) {
    st = cpu_sgemm_add (be, 'T', 'N', k->gemm_out, k->gemm_in, k->gemm_batch,
        dout->data, k->gemm_out, in->data, k->gemm_in, dweight->data,
        k->gemm_in);
  }
  for (int c = 0; !k->gemm_dweight && c < k->chunks && st == AX_OK; c++) {
    void *ptrs[] = { (float *) in->data + c * k->in_chunk,
      (float *) dout->data + c * k->out_chunk, be->dweight };
    if ((st = cpu_prim_run (be, &k->bwd_weights, ptrs)) == AX_OK)
      cpu_accumulate (be, dweight->data, be->dweight,
          ax_shape_count (dweight->shape));
  }
  if (st == AX_OK && dbias)
    cpu_bias_grad (be, dbias->data, dout->data, dout->shape);
  return st;
}
