/* Convolution (with groups) of the CUDA backend on cuDNN's legacy API:
 * descriptors and the three algorithms chosen once at prepare time within
 * a workspace budget (deterministic ones only when asked), forward with
 * the bias added by cudnnAddTensor, backward with the weight and bias
 * gradients accumulated (beta = 1) as backend.h wants. */
#include "cu_internal.h"

#include <string.h>

/* The most workspace one convolution may ask for; cuDNN's fastest
 * algorithms (FFT) can want gigabytes for conv1 at batch 128. */
#define WORKSPACE_MAX ((size_t) 1 << 30)

/* The fields the three perf structs share. */
typedef struct {
  int algo;
  cudnnStatus_t status;
  size_t memory;
  cudnnDeterminism_t determinism;
  cudnnMathType_t math;
} candidate;

/* Fastest first (cuDNN's heuristic order): the first that ran, fits the
 * workspace, computes in plain fp32 (unless TF32 is allowed) and is
 * deterministic when that is asked. `nondeterministic` names algorithms to
 * refuse in deterministic mode whatever the heuristic says. -1 if none. */
static int
pick (const axcu_backend *be, const candidate *c, int n, size_t limit,
    const int *nondeterministic, int n_nondet)
{
  for (int i = 0; i < n; i++) {
    int bad_math = !be->tf32 && (c[i].math == CUDNN_TENSOR_OP_MATH
        || c[i].math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION);
    int nondet = c[i].determinism != CUDNN_DETERMINISTIC;
    for (int j = 0; j < n_nondet; j++)
      nondet |= c[i].algo == nondeterministic[j];
    if (c[i].status == CUDNN_STATUS_SUCCESS && c[i].memory <= limit
        && !bad_math && !(be->deterministic && nondet))
      return i;
  }
  return -1;
}

#define MAX_PERF 32

#define COPY_PERF(dst, src, n) do {                                        \
    for (int i_ = 0; i_ < (n); i_++) {                                      \
      (dst)[i_].algo = (int) (src)[i_].algo;                                \
      (dst)[i_].status = (src)[i_].status;                                  \
      (dst)[i_].memory = (src)[i_].memory;                                  \
      (dst)[i_].determinism = (src)[i_].determinism;                        \
      (dst)[i_].math = (src)[i_].mathType;                                  \
    }                                                                       \
  } while (0)

/* FMA math keeps A100/H100 from running fp32 convolutions as TF32. */
static cudnnMathType_t
base_math (const axcu_backend *be)
{
  return be->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
}

static ax_status
no_algorithm (axcu_backend *be, const char *what, size_t limit, int n)
{
  return axcu_fail (be, AX_ERR_UNSUPPORTED, "convolution %s: none of the %d "
      "algorithms cuDNN offers fits %zu bytes of workspace%s%s", what, n,
      limit, be->deterministic ? " and is deterministic" : "",
      be->tf32 ? "" : " in plain fp32");
}

static ax_status
choose_forward (axcu_backend *be, axcu_kernel *k, size_t limit, size_t *ws)
{
  cudnnConvolutionFwdAlgoPerf_t perf[MAX_PERF];
  candidate c[MAX_PERF];
  int n = 0;
  DNN_TRY (be, cudnnGetConvolutionForwardAlgorithm_v7 (be->dnn, k->x, k->w,
          k->conv, k->y, MAX_PERF, &n, perf));
  COPY_PERF (c, perf, n);
  int i = pick (be, c, n, limit, NULL, 0);
  if (i < 0)
    return no_algorithm (be, "forward", limit, n);
  k->fwd_algo = perf[i].algo;
  k->fwd_math = perf[i].mathType;
  DNN_TRY (be, cudnnSetConvolutionMathType (k->conv, k->fwd_math));
  DNN_TRY (be, cudnnGetConvolutionForwardWorkspaceSize (be->dnn, k->x, k->w,
          k->conv, k->y, k->fwd_algo, ws));
  return AX_OK;
}

static ax_status
choose_backward (axcu_backend *be, axcu_kernel *k, size_t limit,
    size_t *ws_data, size_t *ws_filter)
{
  cudnnConvolutionBwdDataAlgoPerf_t data[MAX_PERF];
  cudnnConvolutionBwdFilterAlgoPerf_t filter[MAX_PERF];
  candidate c[MAX_PERF];
  /* Atomics: the header says so of these. */
  static const int data_nondet[] = { CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 };
  static const int filter_nondet[] = { CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3 };
  int n = 0;
  DNN_TRY (be, cudnnSetConvolutionMathType (k->conv, base_math (be)));
  DNN_TRY (be, cudnnGetConvolutionBackwardDataAlgorithm_v7 (be->dnn, k->w,
          k->y, k->conv, k->x, MAX_PERF, &n, data));
  COPY_PERF (c, data, n);
  int i = pick (be, c, n, limit, data_nondet, 1);
  if (i < 0)
    return no_algorithm (be, "backward data", limit, n);
  k->bwd_data_algo = data[i].algo;
  k->bwd_data_math = data[i].mathType;
  DNN_TRY (be, cudnnSetConvolutionMathType (k->conv, k->bwd_data_math));
  DNN_TRY (be, cudnnGetConvolutionBackwardDataWorkspaceSize (be->dnn, k->w,
          k->y, k->conv, k->x, k->bwd_data_algo, ws_data));
  n = 0;
  DNN_TRY (be, cudnnSetConvolutionMathType (k->conv, base_math (be)));
  DNN_TRY (be, cudnnGetConvolutionBackwardFilterAlgorithm_v7 (be->dnn, k->x,
          k->y, k->conv, k->w, MAX_PERF, &n, filter));
  COPY_PERF (c, filter, n);
  i = pick (be, c, n, limit, filter_nondet, 2);
  if (i < 0)
    return no_algorithm (be, "backward filter", limit, n);
  k->bwd_filter_algo = filter[i].algo;
  k->bwd_filter_math = filter[i].mathType;
  DNN_TRY (be, cudnnSetConvolutionMathType (k->conv, k->bwd_filter_math));
  DNN_TRY (be, cudnnGetConvolutionBackwardFilterWorkspaceSize (be->dnn, k->x,
          k->y, k->conv, k->w, k->bwd_filter_algo, ws_filter));
  return AX_OK;
}

/* A quarter of the free memory, at most WORKSPACE_MAX. */
static size_t
workspace_limit (void)
{
  size_t free_bytes = 0, total = 0;
  if (cudaMemGetInfo (&free_bytes, &total) != cudaSuccess) {
    (void) cudaGetLastError ();
    return (size_t) 64 << 20;
  }
  return free_bytes / 4 < WORKSPACE_MAX ? free_bytes / 4 : WORKSPACE_MAX;
}

ax_status
axcu_conv_prepare (axcu_backend *be, axcu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s)
{
  const ax_conv_params *p = &op->p.conv;
  ax_status st = axcu_tensor_desc (be, &k->x, s->in);
  if (st == AX_OK)
    st = axcu_tensor_desc (be, &k->y, s->out);
  if (st == AX_OK && p->has_bias)
    st = axcu_tensor_desc (be, &k->bias,
        ax_shape_make (1, p->out_channels, 1, 1));
  if (st != AX_OK)
    return st;
  DNN_TRY (be, cudnnCreateFilterDescriptor (&k->w));
  /* [out, in/groups, kh, kw], PyTorch's layout, is cuDNN's KCRS. */
  DNN_TRY (be, cudnnSetFilter4dDescriptor (k->w, CUDNN_DATA_FLOAT,
          CUDNN_TENSOR_NCHW, s->weight.n, s->weight.c, s->weight.h,
          s->weight.w));
  DNN_TRY (be, cudnnCreateConvolutionDescriptor (&k->conv));
  DNN_TRY (be, cudnnSetConvolution2dDescriptor (k->conv, p->pad, p->pad,
          p->stride, p->stride, 1, 1, CUDNN_CROSS_CORRELATION,
          CUDNN_DATA_FLOAT));
  DNN_TRY (be, cudnnSetConvolutionGroupCount (k->conv, p->groups));
  DNN_TRY (be, cudnnSetConvolutionMathType (k->conv, base_math (be)));
  int n, c, h, w;
  DNN_TRY (be, cudnnGetConvolution2dForwardOutputDim (k->conv, k->x, k->w,
          &n, &c, &h, &w));
  if (n != s->out.n || c != s->out.c || h != s->out.h || w != s->out.w)
    return axcu_fail (be, AX_ERR_UNSUPPORTED, "conv: cuDNN makes %dx%dx%dx%d "
        "of this input, the op %dx%dx%dx%d", n, c, h, w, s->out.n, s->out.c,
        s->out.h, s->out.w);
  size_t limit = workspace_limit (), ws = 0, ws_data = 0, ws_filter = 0;
  st = choose_forward (be, k, limit, &ws);
  if (st == AX_OK && !op->forward_only)
    st = choose_backward (be, k, limit, &ws_data, &ws_filter);
  if (st != AX_OK)
    return st;
  if (ws_data > ws)
    ws = ws_data;
  if (ws_filter > ws)
    ws = ws_filter;
  return axcu_reserve_workspace (be, ws);
}

ax_status
axcu_conv_forward (ax_kernel *kernel, ax_tensor *out, const ax_tensor *in,
    const ax_tensor *weight, const ax_tensor *bias)
{
  axcu_kernel *k = AXCU_K (kernel);
  axcu_backend *be = AXCU_BE (kernel->backend);
  const float one = 1.0f, zero = 0.0f;
  SET_DEVICE (be);
  DNN_TRY (be, cudnnSetConvolutionMathType (k->conv, k->fwd_math));
  DNN_TRY (be, cudnnConvolutionForward (be->dnn, &one, k->x, in->data, k->w,
          weight->data, k->conv, k->fwd_algo, be->workspace,
          be->workspace_bytes, &zero, k->y, out->data));
  if (bias)
    DNN_TRY (be, cudnnAddTensor (be->dnn, &one, k->bias, bias->data, &one,
            k->y, out->data));
  return AX_OK;
}

ax_status
axcu_conv_backward (ax_kernel *kernel, ax_tensor *din, ax_tensor *dweight,
    ax_tensor *dbias, const ax_tensor *dout, const ax_tensor *in,
    const ax_tensor *weight)
{
  axcu_kernel *k = AXCU_K (kernel);
  axcu_backend *be = AXCU_BE (kernel->backend);
  const float one = 1.0f, zero = 0.0f;
  SET_DEVICE (be);
  if (din) {
    DNN_TRY (be, cudnnSetConvolutionMathType (k->conv, k->bwd_data_math));
    DNN_TRY (be, cudnnConvolutionBackwardData (be->dnn, &one, k->w,
            weight->data, k->y, dout->data, k->conv, k->bwd_data_algo,
            be->workspace, be->workspace_bytes, &zero, k->x, din->data));
  }
  DNN_TRY (be, cudnnSetConvolutionMathType (k->conv, k->bwd_filter_math));
  DNN_TRY (be, cudnnConvolutionBackwardFilter (be->dnn, &one, k->x, in->data,
          k->y, dout->data, k->conv, k->bwd_filter_algo, be->workspace,
          be->workspace_bytes, &one, k->w, dweight->data));
  if (dbias)
    DNN_TRY (be, cudnnConvolutionBackwardBias (be->dnn, &one, k->y,
            dout->data, &one, k->bias, dbias->data));
  return AX_OK;
}
