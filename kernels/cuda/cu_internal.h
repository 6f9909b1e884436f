/* Shared by the files of the CUDA module only: the backend and kernel
 * structs, the checks that turn every CUDA, cuDNN, cuBLAS and NCCL status
 * into an ax_status with a message, and the launchers of cu_kernels.cu.
 * Plain C: only cu_kernels.cu goes through nvcc. */
#ifndef AX_CU_INTERNAL_H
#define AX_CU_INTERNAL_H

#include "kernels/backend/backend_impl.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "cu_kernels.h"

/* Each pinned staging buffer of an upload holds at most this much; bigger
 * uploads go in pieces (a batch of 128 224x224 images is 77 MB: one). */
#define AXCU_STAGE_MAX ((size_t) 128 << 20)

typedef struct {
  ax_backend head;
  int device;
  int deterministic;            /* only CUDNN_DETERMINISTIC algorithms */
  int tf32;                     /* AX_CUDA_TF32=1: tensor cores for fp32 */
  cudaStream_t stream;
  cudnnHandle_t dnn;
  cublasHandle_t blas;
  /* cuDNN's workspace, shared by every kernel of this backend (they run
   * one after another on the one stream); grown at prepare time. */
  void *workspace;
  size_t workspace_bytes;
  /* Two pinned staging buffers for uploads, used in turn; stage_done[s]
   * is recorded after the copy out of buffer s, which the next use of s
   * waits for (only that copy, not the compute queued before it). */
  void *stage[2];
  size_t stage_bytes[2];
  cudaEvent_t stage_done[2];
  int stage_next;
  /* A word for counts and flags that kernels raise, and its pinned host
   * copy; every op that uses them waits for the answer before returning. */
  unsigned long long *d_word;
  unsigned long long *h_word;
  /* copy_peer: an event on each source device (recorded on the source
   * backend's stream), and one on this device (recorded after the copy). */
  int n_devices;
  cudaEvent_t *peer_ready;
  cudaEvent_t copied;
} axcu_backend;

/* One kernel type for every op; the parts an op does not use stay zero. */
typedef struct {
  ax_kernel head;
  cudnnTensorDescriptor_t x, y, bias;   /* bias: also batch norm's
                                         * (1, C, 1, 1) parameters */
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
  cudnnConvolutionFwdAlgo_t fwd_algo;
  cudnnConvolutionBwdDataAlgo_t bwd_data_algo;
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo;
  /* cuDNN pairs an algorithm with a math type: each call sets its own on
   * the descriptor first (a kernel is used by one thread at a time) */
  cudnnMathType_t fwd_math, bwd_data_math, bwd_filter_math;
  cudnnActivationDescriptor_t act;
  cudnnLRNDescriptor_t lrn;
  cudnnPoolingDescriptor_t pool;
  float *ones;                  /* fc: N ones, for the bias gradient */
} axcu_kernel;

#define AXCU_BE(be) ((axcu_backend *) (be))
#define AXCU_K(k) ((axcu_kernel *) (k))

/* Records a message for ax_backend_last_error; returns status. */
ax_status axcu_fail (axcu_backend *be, ax_status status, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
ax_status axcu_cuda_fail (axcu_backend *be, cudaError_t e, const char *what);
ax_status axcu_dnn_fail (axcu_backend *be, cudnnStatus_t s, const char *what);
ax_status axcu_blas_fail (axcu_backend *be, cublasStatus_t s,
    const char *what);

/* Each evaluates `call` and returns from the calling function with a
 * status and a message naming the call when it fails. */
#define CUDA_TRY(be, call) do { cudaError_t e_ = (call);                    \
    if (e_ != cudaSuccess) return axcu_cuda_fail (be, e_, #call); } while (0)
#define DNN_TRY(be, call) do { cudnnStatus_t s_ = (call);                   \
    if (s_ != CUDNN_STATUS_SUCCESS) return axcu_dnn_fail (be, s_, #call);   \
  } while (0)
#define BLAS_TRY(be, call) do { cublasStatus_t s_ = (call);                 \
    if (s_ != CUBLAS_STATUS_SUCCESS) return axcu_blas_fail (be, s_, #call); \
  } while (0)
/* The first thing every entry point does: the calling thread may be any. */
#define SET_DEVICE(be) CUDA_TRY (be, cudaSetDevice ((be)->device))

/* cudaMalloc with AX_ERR_NO_MEMORY and the byte count on failure. */
ax_status axcu_malloc (axcu_backend *be, size_t bytes, void **ptr,
    const char *what);
/* Waits for the backend's stream (a failure of queued work shows here). */
ax_status axcu_sync (axcu_backend *be, const char *what);
/* Sets *word to 0, runs nothing else: the caller launches the kernel that
 * raises it, then axcu_read_word waits and reads it. */
ax_status axcu_clear_word (axcu_backend *be);
ax_status axcu_read_word (axcu_backend *be, unsigned long long *value,
    const char *what);
/* Grows the shared cuDNN workspace to at least `bytes` (prepare time). */
ax_status axcu_reserve_workspace (axcu_backend *be, size_t bytes);

/* The table's slots, by file. */
/* cu_memory.c */
ax_status axcu_alloc (ax_backend *be, size_t bytes, void **ptr);
void axcu_free (ax_backend *be, void *ptr);
ax_status axcu_host_alloc (ax_backend *be, size_t bytes, void **ptr);
void axcu_host_free (ax_backend *be, void *ptr);
ax_status axcu_upload (ax_backend *be, void *dst, const void *host,
    const ax_copy2d *c);
ax_status axcu_download (ax_backend *be, void *host, const void *src,
    const ax_copy2d *c);
ax_status axcu_copy (ax_backend *be, void *dst, const void *src,
    const ax_copy2d *c);
ax_status axcu_copy_peer (ax_backend *be, void *dst, ax_backend *src_be,
    const void *src, const ax_copy2d *c);
void axcu_staging_free (axcu_backend *be);
/* cu_conv.c */
ax_status axcu_conv_prepare (axcu_backend *be, axcu_kernel *k,
    const ax_op *op, const ax_op_shapes_t *s);
ax_status axcu_conv_forward (ax_kernel *k, ax_tensor *out,
    const ax_tensor *in, const ax_tensor *weight, const ax_tensor *bias);
ax_status axcu_conv_backward (ax_kernel *k, ax_tensor *din,
    ax_tensor *dweight, ax_tensor *dbias, const ax_tensor *dout,
    const ax_tensor *in, const ax_tensor *weight);
/* cu_layers.c: ReLU, LRN, max pooling on cuDNN; the fully connected
 * layers on cuBLAS; the adaptive average pool on own kernels */
ax_status axcu_tensor_desc (axcu_backend *be, cudnnTensorDescriptor_t *d,
    ax_shape s);
ax_status axcu_relu_prepare (axcu_backend *be, axcu_kernel *k,
    const ax_op *op, const ax_op_shapes_t *s);
ax_status axcu_lrn_prepare (axcu_backend *be, axcu_kernel *k,
    const ax_op *op, const ax_op_shapes_t *s);
ax_status axcu_pool_prepare (axcu_backend *be, axcu_kernel *k,
    const ax_op *op, const ax_op_shapes_t *s);
ax_status axcu_fc_prepare (axcu_backend *be, axcu_kernel *k,
    const ax_op *op, const ax_op_shapes_t *s);
ax_status axcu_relu_forward (ax_kernel *k, ax_tensor *out,
    const ax_tensor *in);
ax_status axcu_relu_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout, const ax_tensor *out);
ax_status axcu_lrn_forward (ax_kernel *k, ax_tensor *out,
    ax_tensor *workspace, const ax_tensor *in);
ax_status axcu_lrn_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout, const ax_tensor *in, const ax_tensor *out,
    const ax_tensor *workspace);
ax_status axcu_maxpool_forward (ax_kernel *k, ax_tensor *out,
    ax_tensor *workspace, const ax_tensor *in);
ax_status axcu_maxpool_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout, const ax_tensor *in, const ax_tensor *out,
    const ax_tensor *workspace);
ax_status axcu_fc_forward (ax_kernel *k, ax_tensor *out,
    const ax_tensor *in, const ax_tensor *weight, const ax_tensor *bias);
ax_status axcu_fc_backward (ax_kernel *k, ax_tensor *din,
    ax_tensor *dweight, ax_tensor *dbias, const ax_tensor *dout,
    const ax_tensor *in, const ax_tensor *weight);
ax_status axcu_avgpool_forward (ax_kernel *k, ax_tensor *out,
    const ax_tensor *in);
ax_status axcu_avgpool_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout);
/* cu_batchnorm.c: batch norm on cuDNN */
ax_status axcu_batchnorm_prepare (axcu_backend *be, axcu_kernel *k,
    const ax_op *op, const ax_op_shapes_t *s);
ax_status axcu_batchnorm_forward (ax_kernel *k, ax_tensor *out,
    ax_tensor *workspace, ax_tensor *running_mean, ax_tensor *running_var,
    const ax_tensor *in, const ax_tensor *weight, const ax_tensor *bias,
    int training);
ax_status axcu_batchnorm_backward (ax_kernel *k, ax_tensor *din,
    ax_tensor *dweight, ax_tensor *dbias, const ax_tensor *dout,
    const ax_tensor *in, const ax_tensor *weight, const ax_tensor *workspace);
/* cu_loops.c: the small kernels */
ax_status axcu_fill (ax_backend *be, ax_tensor *dst, float value);
ax_status axcu_axpy (ax_backend *be, ax_tensor *dst, float alpha,
    const ax_tensor *src);
ax_status axcu_count_nonfinite (ax_backend *be, const ax_tensor *t,
    size_t *count);
ax_status axcu_dropout_forward (ax_kernel *k, ax_tensor *out,
    const ax_tensor *in, uint64_t key);
ax_status axcu_dropout_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout, uint64_t key);
ax_status axcu_softmax_xent_forward (ax_kernel *k, ax_tensor *losses,
    ax_tensor *probs, const ax_tensor *logits, const ax_tensor *labels);
ax_status axcu_softmax_xent_backward (ax_kernel *k, ax_tensor *dlogits,
    const ax_tensor *probs, const ax_tensor *labels, float scale);
ax_status axcu_sgd_update (ax_kernel *k, ax_tensor *weight,
    ax_tensor *velocity, const ax_tensor *grad, const ax_sgd_step *step);
ax_status axcu_colour_noise (ax_backend *be, void *pixels, int width,
    int height, size_t stride, const int offsets[3]);
/* cu_nccl.c */
ax_status axcu_group_init (ax_backend **members, int n, void **state);
ax_status axcu_group_allreduce_sum (void *state, ax_backend **members,
    ax_tensor **tensors, int n);
void axcu_group_destroy (void *state);
/* cu_backend.c */
int axcu_is_backend (const ax_backend *be);

#endif
