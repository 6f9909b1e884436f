/* ReLU, local response normalisation and max pooling of the CUDA backend on
 * cuDNN, the fully connected layers on cuBLAS, and the adaptive average
 * pool on its own kernels (cuDNN's pooling has fixed windows). None keeps
 * a workspace from forward to backward: cuDNN's LRN and pooling backward
 * recompute from the input and output. LRN takes the paper's alpha; cuDNN divides
 * lrnAlpha by the size, so it gets alpha * size, as oneDNN does on the CPU. */
#include "cu_internal.h"

ax_status
axcu_tensor_desc (axcu_backend *be, cudnnTensorDescriptor_t *d, ax_shape s)
{
  DNN_TRY (be, cudnnCreateTensorDescriptor (d));
  DNN_TRY (be, cudnnSetTensor4dDescriptor (*d, CUDNN_TENSOR_NCHW,
          CUDNN_DATA_FLOAT, s.n, s.c, s.h, s.w));
  return AX_OK;
}

/* --- ReLU --- */

ax_status
axcu_relu_prepare (axcu_backend *be, axcu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s)
{
  (void) op;
  ax_status st = axcu_tensor_desc (be, &k->x, s->in);
  if (st != AX_OK)
    return st;
  DNN_TRY (be, cudnnCreateActivationDescriptor (&k->act));
  DNN_TRY (be, cudnnSetActivationDescriptor (k->act, CUDNN_ACTIVATION_RELU,
          CUDNN_PROPAGATE_NAN, 0.0));
  return AX_OK;
}

ax_status
axcu_relu_forward (ax_kernel *kernel, ax_tensor *out, const ax_tensor *in)
{
  axcu_kernel *k = AXCU_K (kernel);
  axcu_backend *be = AXCU_BE (kernel->backend);
  const float one = 1.0f, zero = 0.0f;
  SET_DEVICE (be);
  DNN_TRY (be, cudnnActivationForward (be->dnn, k->act, &one, k->x, in->data,
          &zero, k->x, out->data));
  return AX_OK;
}

/* din = dout where out > 0. The slot has no input; out stands for it too,
 * which gives the same mask (out > 0 exactly where in > 0). */
ax_status
axcu_relu_backward (ax_kernel *kernel, ax_tensor *din, const ax_tensor *dout,
    const ax_tensor *out)
{
  axcu_kernel *k = AXCU_K (kernel);
  axcu_backend *be = AXCU_BE (kernel->backend);
  const float one = 1.0f, zero = 0.0f;
  SET_DEVICE (be);
  DNN_TRY (be, cudnnActivationBackward (be->dnn, k->act, &one, k->x,
          out->data, k->x, dout->data, k->x, out->data, &zero, k->x,
          din->data));
  return AX_OK;
}

/* --- LRN: the net hands groups over as a (N*g, C/g, H, W) view --- */

ax_status
axcu_lrn_prepare (axcu_backend *be, axcu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s)
{
  const ax_lrn_params *p = &op->p.lrn;
  ax_status st = axcu_tensor_desc (be, &k->x, s->in);
  if (st != AX_OK)
    return st;
  DNN_TRY (be, cudnnCreateLRNDescriptor (&k->lrn));
  DNN_TRY (be, cudnnSetLRNDescriptor (k->lrn, (unsigned) p->size,
          ax_lrn_alpha_per_term (p) * p->size, p->beta, p->k));
  return AX_OK;
}

ax_status
axcu_lrn_forward (ax_kernel *kernel, ax_tensor *out, ax_tensor *workspace,
    const ax_tensor *in)
{
  axcu_kernel *k = AXCU_K (kernel);
  axcu_backend *be = AXCU_BE (kernel->backend);
  const float one = 1.0f, zero = 0.0f;
  (void) workspace;             /* none: count 0 */
  SET_DEVICE (be);
  DNN_TRY (be, cudnnLRNCrossChannelForward (be->dnn, k->lrn,
          CUDNN_LRN_CROSS_CHANNEL_DIM1, &one, k->x, in->data, &zero, k->x,
          out->data));
  return AX_OK;
}

ax_status
axcu_lrn_backward (ax_kernel *kernel, ax_tensor *din, const ax_tensor *dout,
    const ax_tensor *in, const ax_tensor *out, const ax_tensor *workspace)
{
  axcu_kernel *k = AXCU_K (kernel);
  axcu_backend *be = AXCU_BE (kernel->backend);
  const float one = 1.0f, zero = 0.0f;
  (void) workspace;
  SET_DEVICE (be);
  DNN_TRY (be, cudnnLRNCrossChannelBackward (be->dnn, k->lrn,
          CUDNN_LRN_CROSS_CHANNEL_DIM1, &one, k->x, out->data, k->x,
          dout->data, k->x, in->data, &zero, k->x, din->data));
  return AX_OK;
}

/* --- max pooling --- */

ax_status
axcu_pool_prepare (axcu_backend *be, axcu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s)
{
  const ax_pool_params *p = &op->p.pool;
  ax_status st = axcu_tensor_desc (be, &k->x, s->in);
  if (st == AX_OK)
    st = axcu_tensor_desc (be, &k->y, s->out);
  if (st != AX_OK)
    return st;
  DNN_TRY (be, cudnnCreatePoolingDescriptor (&k->pool));
  /* Overlapping windows (3/2) add into shared inputs in backward; the
   * deterministic mode avoids atomics there. */
  DNN_TRY (be, cudnnSetPooling2dDescriptor (k->pool, be->deterministic
          ? CUDNN_POOLING_MAX_DETERMINISTIC : CUDNN_POOLING_MAX,
          CUDNN_PROPAGATE_NAN, p->kernel, p->kernel, p->pad, p->pad,
          p->stride, p->stride));
  int n, c, h, w;
  DNN_TRY (be, cudnnGetPooling2dForwardOutputDim (k->pool, k->x, &n, &c, &h,
          &w));
  if (n != s->out.n || c != s->out.c || h != s->out.h || w != s->out.w)
    return axcu_fail (be, AX_ERR_UNSUPPORTED, "maxpool: cuDNN makes "
        "%dx%dx%dx%d of this input, the op %dx%dx%dx%d", n, c, h, w,
        s->out.n, s->out.c, s->out.h, s->out.w);
  return AX_OK;
}

ax_status
axcu_maxpool_forward (ax_kernel *kernel, ax_tensor *out, ax_tensor *workspace,
    const ax_tensor *in)
{
  axcu_kernel *k = AXCU_K (kernel);
  axcu_backend *be = AXCU_BE (kernel->backend);
  const float one = 1.0f, zero = 0.0f;
  (void) workspace;
  SET_DEVICE (be);
  DNN_TRY (be, cudnnPoolingForward (be->dnn, k->pool, &one, k->x, in->data,
          &zero, k->y, out->data));
  return AX_OK;
}

ax_status
axcu_maxpool_backward (ax_kernel *kernel, ax_tensor *din,
    const ax_tensor *dout, const ax_tensor *in, const ax_tensor *out,
    const ax_tensor *workspace)
{
  axcu_kernel *k = AXCU_K (kernel);
  axcu_backend *be = AXCU_BE (kernel->backend);
  const float one = 1.0f, zero = 0.0f;
  (void) workspace;
  SET_DEVICE (be);
  DNN_TRY (be, cudnnPoolingBackward (be->dnn, k->pool, &one, k->y, out->data,
          k->y, dout->data, k->x, in->data, &zero, k->x, din->data));
  return AX_OK;
}

/* --- adaptive average pooling: own kernels (cu_kernels.cu), one thread
 * per output cell forward and per input cell backward --- */

ax_status
axcu_avgpool_forward (ax_kernel *kernel, ax_tensor *out, const ax_tensor *in)
{
  axcu_backend *be = AXCU_BE (kernel->backend);
  const ax_op_shapes_t *s = &kernel->shapes;
  SET_DEVICE (be);
  CUDA_TRY (be, axcu_launch_avgpool (be->stream, out->data, in->data,
          (size_t) s->in.n * (size_t) s->in.c, s->in.h, s->in.w, s->out.h,
          s->out.w));
  return AX_OK;
}

ax_status
axcu_avgpool_backward (ax_kernel *kernel, ax_tensor *din,
    const ax_tensor *dout)
{
  axcu_backend *be = AXCU_BE (kernel->backend);
  const ax_op_shapes_t *s = &kernel->shapes;
  SET_DEVICE (be);
  CUDA_TRY (be, axcu_launch_avgpool_grad (be->stream, din->data, dout->data,
          (size_t) s->in.n * (size_t) s->in.c, s->in.h, s->in.w, s->out.h,
          s->out.w));
  return AX_OK;
}

/* --- fully connected on cuBLAS ---
 * Row-major in (N, K), weight (O, K), out (N, O) are column-major
 * in^T (K x N), W^T (K x O), out^T (O x N), so:
 *   out^T = (W^T)^T in^T         gemm (T, N): O x N, inner K
 *   din^T = W^T dout^T           gemm (N, N): K x N, inner O
 *   dW^T += in^T (dout^T)^T      gemm (N, T): K x O, inner N
 *   db   += dout^T ones          gemv (N): O, over N */

ax_status
axcu_fc_prepare (axcu_backend *be, axcu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s)
{
  if (op->forward_only || !op->p.fc.has_bias)
    return AX_OK;
  ax_status st = axcu_malloc (be, (size_t) s->in.n * sizeof (float),
      (void **) &k->ones, "fc ones");
  if (st != AX_OK)
    return st;
  CUDA_TRY (be, axcu_launch_fill (be->stream, k->ones, (size_t) s->in.n,
          1.0f));
  return AX_OK;
}

ax_status
axcu_fc_forward (ax_kernel *kernel, ax_tensor *out, const ax_tensor *in,
    const ax_tensor *weight, const ax_tensor *bias)
{
  axcu_backend *be = AXCU_BE (kernel->backend);
  const ax_op_shapes_t *s = &kernel->shapes;
  int N = s->in.n, O = s->out.c, K = s->in.c * s->in.h * s->in.w;
  const float one = 1.0f, zero = 0.0f;
  SET_DEVICE (be);
  BLAS_TRY (be, cublasSgemm (be->blas, CUBLAS_OP_T, CUBLAS_OP_N, O, N, K,
          &one, weight->data, K, in->data, K, &zero, out->data, O));
  if (bias)
    CUDA_TRY (be, axcu_launch_bias_rows (be->stream, out->data, bias->data,
            N, O));
  return AX_OK;
}

ax_status
axcu_fc_backward (ax_kernel *kernel, ax_tensor *din, ax_tensor *dweight,
    ax_tensor *dbias, const ax_tensor *dout, const ax_tensor *in,
    const ax_tensor *weight)
{
  axcu_kernel *k = AXCU_K (kernel);
  axcu_backend *be = AXCU_BE (kernel->backend);
  const ax_op_shapes_t *s = &kernel->shapes;
  int N = s->in.n, O = s->out.c, K = s->in.c * s->in.h * s->in.w;
  const float one = 1.0f, zero = 0.0f;
  SET_DEVICE (be);
  if (din)
    BLAS_TRY (be, cublasSgemm (be->blas, CUBLAS_OP_N, CUBLAS_OP_N, K, N, O,
            &one, weight->data, K, dout->data, O, &zero, din->data, K));
  BLAS_TRY (be, cublasSgemm (be->blas, CUBLAS_OP_N, CUBLAS_OP_T, K, O, N,
          &one, in->data, K, dout->data, O, &one, dweight->data, K));
  if (dbias)
    BLAS_TRY (be, cublasSgemv (be->blas, CUBLAS_OP_N, O, N, &one, dout->data,
            O, k->ones, 1, &one, dbias->data, 1));
  return AX_OK;
}
