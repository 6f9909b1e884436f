/* The CUDA backend's table and the module's entry point: creation (device,
 * stream, cuDNN and cuBLAS handles bound to the stream, peer access),
 * error messages, kernel preparation dispatched per op to cu_conv.c,
 * cu_layers.c, cu_batchnorm.c and cu_loops.c, and the device count the
 * loader reports. */
#include "cu_internal.h"
#include "kernels/cuda/cuda_module.h"

#include <nccl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ax_backend_i axcu_iface;

ax_status
axcu_fail (axcu_backend *be, ax_status status, const char *fmt, ...)
{
  if (be) {
    char msg[sizeof be->head.last_error - 16];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    snprintf (be->head.last_error, sizeof be->head.last_error, "cuda:%d: %s",
        be->device, msg);
  }
  return status;
}

ax_status
axcu_cuda_fail (axcu_backend *be, cudaError_t e, const char *what)
{
  /* Clears a non-sticky error so that the next call does not report it. */
  (void) cudaGetLastError ();
  ax_status st = e == cudaErrorMemoryAllocation ? AX_ERR_NO_MEMORY
      : AX_ERR_BACKEND;
  return axcu_fail (be, st, "%s: %s (%s)", what, cudaGetErrorString (e),
      cudaGetErrorName (e));
}

ax_status
axcu_dnn_fail (axcu_backend *be, cudnnStatus_t s, const char *what)
{
  ax_status st = s == CUDNN_STATUS_ALLOC_FAILED ? AX_ERR_NO_MEMORY
      : AX_ERR_BACKEND;
  return axcu_fail (be, st, "%s: %s", what, cudnnGetErrorString (s));
}

ax_status
axcu_blas_fail (axcu_backend *be, cublasStatus_t s, const char *what)
{
  ax_status st = s == CUBLAS_STATUS_ALLOC_FAILED ? AX_ERR_NO_MEMORY
      : AX_ERR_BACKEND;
  return axcu_fail (be, st, "%s: %s", what, cublasGetStatusString (s));
}

ax_status
axcu_malloc (axcu_backend *be, size_t bytes, void **ptr, const char *what)
{
  cudaError_t e = cudaMalloc (ptr, bytes);
  if (e == cudaSuccess)
    return AX_OK;
  *ptr = NULL;
  (void) cudaGetLastError ();
  return axcu_fail (be, AX_ERR_NO_MEMORY, "cudaMalloc of %zu bytes (%s): %s",
      bytes, what, cudaGetErrorString (e));
}

ax_status
axcu_sync (axcu_backend *be, const char *what)
{
  cudaError_t e = cudaStreamSynchronize (be->stream);
  return e == cudaSuccess ? AX_OK : axcu_cuda_fail (be, e, what);
}

ax_status
axcu_clear_word (axcu_backend *be)
{
  CUDA_TRY (be, cudaMemsetAsync (be->d_word, 0, sizeof *be->d_word,
          be->stream));
  return AX_OK;
}

ax_status
axcu_read_word (axcu_backend *be, unsigned long long *value, const char *what)
{
  CUDA_TRY (be, cudaMemcpyAsync (be->h_word, be->d_word, sizeof *be->d_word,
          cudaMemcpyDeviceToHost, be->stream));
  ax_status st = axcu_sync (be, what);
  *value = st == AX_OK ? *be->h_word : 0;
  return st;
}

ax_status
axcu_reserve_workspace (axcu_backend *be, size_t bytes)
{
  if (bytes <= be->workspace_bytes)
    return AX_OK;
  /* Prepare time: whatever runs with the old workspace finishes first. */
  ax_status st = axcu_sync (be, "workspace");
  if (st != AX_OK)
    return st;
  size_t old = be->workspace_bytes;
  CUDA_TRY (be, cudaFree (be->workspace));
  be->workspace = NULL;
  be->workspace_bytes = 0;
  st = axcu_malloc (be, bytes, &be->workspace, "cuDNN workspace");
  if (st == AX_OK) {
    be->workspace_bytes = bytes;
  } else if (old > 0) {
    /* The kernels prepared before this one still need theirs: without it
     * their next convolution would get no workspace. The message stays. */
    char msg[sizeof be->head.last_error];
    memcpy (msg, be->head.last_error, sizeof msg);
    if (axcu_malloc (be, old, &be->workspace, "cuDNN workspace") == AX_OK)
      be->workspace_bytes = old;
    memcpy (be->head.last_error, msg, sizeof msg);
  }
  return st;
}

int
axcu_is_backend (const ax_backend *be)
{
  return be && be->iface == &axcu_iface;
}

/* --- creation --- */

static void
axcu_destroy (ax_backend *backend)
{
  axcu_backend *be = AXCU_BE (backend);
  if (cudaSetDevice (be->device) == cudaSuccess && be->stream)
    (void) cudaStreamSynchronize (be->stream);
  axcu_staging_free (be);
  for (int d = 0; be->peer_ready && d < be->n_devices; d++)
    if (be->peer_ready[d]) {
      /* Each was made on its own device. */
      (void) cudaSetDevice (d);
      (void) cudaEventDestroy (be->peer_ready[d]);
    }
  (void) cudaSetDevice (be->device);
  free (be->peer_ready);
  if (be->copied)
    (void) cudaEventDestroy (be->copied);
  if (be->blas)
    (void) cublasDestroy (be->blas);
  if (be->dnn)
    (void) cudnnDestroy (be->dnn);
  (void) cudaFree (be->workspace);
  (void) cudaFree (be->d_word);
  (void) cudaFreeHost (be->h_word);
  if (be->stream)
    (void) cudaStreamDestroy (be->stream);
  (void) cudaGetLastError ();
  free (be);
}

/* Peer access where the hardware has it, so that copy_peer runs as one DMA
 * rather than through host memory; without it copies still work. */
static void
enable_peer_access (axcu_backend *be)
{
  for (int d = 0; d < be->n_devices; d++) {
    int can = 0;
    if (d == be->device
        || cudaDeviceCanAccessPeer (&can, be->device, d) != cudaSuccess
        || !can)
      continue;
    /* Already enabled by an earlier backend on this device: fine. */
    if (cudaDeviceEnablePeerAccess (d, 0) != cudaSuccess)
      (void) cudaGetLastError ();
  }
}

static ax_status
setup (axcu_backend *be)
{
  int count = 0;
  struct cudaDeviceProp prop;
  CUDA_TRY (be, cudaGetDeviceCount (&count));
  if (be->device >= count)
    return axcu_fail (be, AX_ERR_INVALID_ARG, "no CUDA device %d (%d found)",
        be->device, count);
  be->n_devices = count;
  CUDA_TRY (be, cudaGetDeviceProperties (&prop, be->device));
  if (prop.major < 8)
    return axcu_fail (be, AX_ERR_UNSUPPORTED, "%s has compute capability "
        "%d.%d; this build has code for 8.0 and newer", prop.name,
        prop.major, prop.minor);
  SET_DEVICE (be);
  CUDA_TRY (be, cudaStreamCreateWithFlags (&be->stream,
          cudaStreamNonBlocking));
  DNN_TRY (be, cudnnCreate (&be->dnn));
  DNN_TRY (be, cudnnSetStream (be->dnn, be->stream));
  BLAS_TRY (be, cublasCreate (&be->blas));
  BLAS_TRY (be, cublasSetStream (be->blas, be->stream));
  /* Plain fp32 SGEMM (no TF32) unless asked, to stay close to the CPU. */
  BLAS_TRY (be, cublasSetMathMode (be->blas, be->tf32
          ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  for (int s = 0; s < 2; s++)
    CUDA_TRY (be, cudaEventCreateWithFlags (&be->stage_done[s],
            cudaEventDisableTiming));
  CUDA_TRY (be, cudaEventCreateWithFlags (&be->copied,
          cudaEventDisableTiming));
  ax_status st = axcu_malloc (be, sizeof *be->d_word, (void **) &be->d_word,
      "flags");
  if (st != AX_OK)
    return st;
  CUDA_TRY (be, cudaMallocHost ((void **) &be->h_word, sizeof *be->h_word));
  be->peer_ready = calloc ((size_t) count, sizeof *be->peer_ready);
  if (!be->peer_ready)
    return axcu_fail (be, AX_ERR_NO_MEMORY, "peer events");
  enable_peer_access (be);
  return AX_OK;
}

static ax_status
axcu_backend_create (int device, int deterministic, ax_backend **out,
    char *err, size_t err_size)
{
  if (!out || device < 0)
    return AX_ERR_INVALID_ARG;
  *out = NULL;
  axcu_backend *be = calloc (1, sizeof *be);
  if (!be)
    return AX_ERR_NO_MEMORY;
  be->head.iface = &axcu_iface;
  be->device = device;
  be->deterministic = deterministic != 0;
  const char *tf32 = getenv ("AX_CUDA_TF32");
  be->tf32 = tf32 && strcmp (tf32, "1") == 0;
  ax_status st = setup (be);
  if (st != AX_OK) {
    if (err && err_size)
      snprintf (err, err_size, "%s", be->head.last_error);
    /* Not being able to start is "no CUDA here" for the caller. */
    if (st == AX_ERR_BACKEND)
      st = AX_ERR_UNSUPPORTED;
    axcu_destroy (&be->head);
    return st;
  }
  *out = &be->head;
  return AX_OK;
}

static int
axcu_device_count (char *why, size_t why_size)
{
  int count = 0, usable = 0;
  cudaError_t e = cudaGetDeviceCount (&count);
  if (e != cudaSuccess) {
    (void) cudaGetLastError ();
    /* Without an NVIDIA driver the runtime answers "driver version is
     * insufficient" (it finds no libcuda, or only the toolkit's stub):
     * say what that usually means before the runtime's words. */
    char hint[128] = "";
    if (e == cudaErrorInsufficientDriver)
      snprintf (hint, sizeof hint, "no NVIDIA driver for this CUDA runtime "
          "(no GPU, or a driver older than CUDA %d.%d); ",
          CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10);
    else if (e == cudaErrorNoDevice)
      snprintf (hint, sizeof hint, "no CUDA device; ");
    if (why && why_size)
      snprintf (why, why_size, "%scudaGetDeviceCount: %s (%s)", hint,
          cudaGetErrorString (e), cudaGetErrorName (e));
    return 0;
  }
  /* Devices 0..usable-1 all run this build's code (sm_80 and newer). */
  for (; usable < count; usable++) {
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties (&prop, usable) != cudaSuccess
        || prop.major < 8) {
      if (why && why_size)
        snprintf (why, why_size, "CUDA device %d is older than compute "
            "capability 8.0; devices from it on are not used", usable);
      break;
    }
  }
  if (count == 0 && why && why_size)
    snprintf (why, why_size, "no CUDA device");
  return usable;
}

/* --- kernels --- */

static int
axcu_supports_op (ax_backend *be, const ax_op *op)
{
  (void) be;
  if (op->type == AX_OP_LRN) {
    const ax_lrn_params *p = &op->p.lrn;
    return p->size >= CUDNN_LRN_MIN_N && p->size <= CUDNN_LRN_MAX_N
        && p->k >= CUDNN_LRN_MIN_K && p->beta >= CUDNN_LRN_MIN_BETA;
  }
  return (unsigned) op->type < AX_OP_COUNT;
}

static void
axcu_release (ax_kernel *kernel)
{
  axcu_kernel *k = AXCU_K (kernel);
  axcu_backend *be = AXCU_BE (kernel->backend);
  if (be)
    (void) cudaSetDevice (be->device);
  if (k->x)
    cudnnDestroyTensorDescriptor (k->x);
  if (k->y)
    cudnnDestroyTensorDescriptor (k->y);
  if (k->bias)
    cudnnDestroyTensorDescriptor (k->bias);
  if (k->w)
    cudnnDestroyFilterDescriptor (k->w);
  if (k->conv)
    cudnnDestroyConvolutionDescriptor (k->conv);
  if (k->act)
    cudnnDestroyActivationDescriptor (k->act);
  if (k->lrn)
    cudnnDestroyLRNDescriptor (k->lrn);
  if (k->pool)
    cudnnDestroyPoolingDescriptor (k->pool);
  if (k->ones) {
    /* A kernel may be released right after its last use was queued. */
    if (be)
      (void) cudaStreamSynchronize (be->stream);
    (void) cudaFree (k->ones);
  }
  free (k);
}

static ax_status
axcu_prepare (ax_backend *backend, const ax_op *op, const ax_op_shapes_t *s,
    ax_kernel **out)
{
  axcu_backend *be = AXCU_BE (backend);
  SET_DEVICE (be);
  axcu_kernel *k = calloc (1, sizeof *k);
  ax_status st = AX_OK;
  if (!k)
    return AX_ERR_NO_MEMORY;
  k->head.backend = backend;
  switch (op->type) {
    case AX_OP_CONV: st = axcu_conv_prepare (be, k, op, s); break;
    case AX_OP_FC: st = axcu_fc_prepare (be, k, op, s); break;
    case AX_OP_RELU: st = axcu_relu_prepare (be, k, op, s); break;
    case AX_OP_LRN: st = axcu_lrn_prepare (be, k, op, s); break;
    case AX_OP_MAXPOOL: st = axcu_pool_prepare (be, k, op, s); break;
    case AX_OP_BATCHNORM: st = axcu_batchnorm_prepare (be, k, op, s); break;
    default: break;             /* the small kernels need nothing */
  }
  if (st != AX_OK) {
    axcu_release (&k->head);
    return st;
  }
  *out = &k->head;
  return AX_OK;
}

static const ax_backend_i axcu_iface = {
  .name = "cuda",
  .host_memory = 0,
  .destroy = axcu_destroy,
  .alloc = axcu_alloc,
  .free = axcu_free,
  .host_alloc = axcu_host_alloc,
  .host_free = axcu_host_free,
  .upload = axcu_upload,
  .download = axcu_download,
  .copy = axcu_copy,
  .copy_peer = axcu_copy_peer,
  .fill = axcu_fill,
  .axpy = axcu_axpy,
  .count_nonfinite = axcu_count_nonfinite,
  .group_init = axcu_group_init,
  .group_allreduce_sum = axcu_group_allreduce_sum,
  .group_destroy = axcu_group_destroy,
  .supports_op = axcu_supports_op,
  .prepare = axcu_prepare,
  .release = axcu_release,
  .conv_forward = axcu_conv_forward,
  .conv_backward = axcu_conv_backward,
  .relu_forward = axcu_relu_forward,
  .relu_backward = axcu_relu_backward,
  .lrn_forward = axcu_lrn_forward,
  .lrn_backward = axcu_lrn_backward,
  .maxpool_forward = axcu_maxpool_forward,
  .maxpool_backward = axcu_maxpool_backward,
  .fc_forward = axcu_fc_forward,
  .fc_backward = axcu_fc_backward,
  .dropout_forward = axcu_dropout_forward,
  .dropout_backward = axcu_dropout_backward,
  .softmax_xent_forward = axcu_softmax_xent_forward,
  .softmax_xent_backward = axcu_softmax_xent_backward,
  .sgd_update = axcu_sgd_update,
  .batchnorm_forward = axcu_batchnorm_forward,
  .batchnorm_backward = axcu_batchnorm_backward,
  .avgpool_forward = axcu_avgpool_forward,
  .avgpool_backward = axcu_avgpool_backward,
};

/* --- the module's entry point --- */

#define STR_(x) #x
#define STR(x) STR_ (x)

static const ax_cuda_module axcu_module = {
  .abi_version = AX_CUDA_ABI_VERSION,
  .table_size = sizeof (ax_cuda_module),
  .iface_size = sizeof (ax_backend_i),
  .backend_size = sizeof (struct ax_backend),
  .kernel_size = sizeof (struct ax_kernel),
  .op_size = sizeof (ax_op),
  .description = "built with CUDA runtime " STR (CUDART_VERSION) ", cuDNN "
      STR (CUDNN_MAJOR) "." STR (CUDNN_MINOR) "." STR (CUDNN_PATCHLEVEL)
      ", cuBLAS " STR (CUBLAS_VER_MAJOR) "." STR (CUBLAS_VER_MINOR)
      ", NCCL " STR (NCCL_MAJOR) "." STR (NCCL_MINOR),
  .device_count = axcu_device_count,
  .backend_create = axcu_backend_create,
  .is_backend = axcu_is_backend,
  .colour_noise = axcu_colour_noise,
};

__attribute__ ((visibility ("default"))) const ax_cuda_module *
ax_cuda_module_v1 (void)
{
  return &axcu_module;
}
