/* Shared by the files of the CPU backend only: the backend and kernel
 * structs, and a thin layer over oneDNN primitives whose memory objects are
 * made once at prepare time and re-pointed at the tensors on every call. */
#ifndef AX_CPU_INTERNAL_H
#define AX_CPU_INTERNAL_H

#include "kernels/backend/backend_impl.h"
#include "kernels/cpu/cpu_backend.h"

#include <oneapi/dnnl/dnnl.h>

typedef struct {
  ax_backend head;
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  int threads;
  int blocked_conv;               /* convolutions in oneDNN's own layouts */
  size_t chunk_bytes;             /* of a blocked convolution's batch part */
  ax_conv_algo conv_algo;         /* ax_cpu_backend_set_conv_algo */
  /* The layout buffers of every primitive (cpu_adapter): temporaries of
   * one call, and one call runs at a time on an instance, so they share
   * this block, as large as the largest primitive needs (grown at
   * prepare time, never while running). One buffer per primitive kept VGG-16's
   * training at batch 32 at 17 GiB. */
  void *arena;
  size_t arena_bytes;
  /* For the same reason, oneDNN's scratchpads (the largest any primitive
   * of the instance needs) and the weight gradient of one convolution
   * before it is added in (the largest convolution's). */
  void *scratch;
  size_t scratch_bytes;
  float *dweight;
  size_t dweight_bytes;
  /* kernels whose layout buffers are in `arena` (not bound elsewhere:
   * ax_kernel_bind_temp); the arena is freed when none is left */
  int arena_users;
} cpu_backend;

#define CPU_MAX_ARGS 10
/* The default chunk_bytes (ax_cpu_backend_set_chunk_bytes). */
#define CPU_CHUNK_BYTES ((size_t) 64 << 20)

/* An argument for which the primitive chose its own (blocked) layout: the
 * tensor in its plain layout, a buffer in the chosen one, and the reorder
 * between them (plain -> buffer for inputs, buffer -> plain for outputs). */
typedef struct {
  dnnl_memory_t plain;            /* handle set to the tensor on every call */
  dnnl_primitive_t reorder;       /* NULL: the tensor is used directly */
  size_t offset;                  /* of its buffer in the backend's arena */
  int is_output;
  dnnl_memory_t scratch;          /* the reorder's scratchpad, if it needs one */
  size_t scratch_bytes;
} cpu_adapter;

/* A oneDNN primitive with one memory object per execution argument. */
typedef struct {
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  int nargs;
  dnnl_exec_arg_t args[CPU_MAX_ARGS];
  int ptr_index[CPU_MAX_ARGS];    /* where run() finds its data; -1: scratch */
  cpu_adapter adapt[CPU_MAX_ARGS];
  size_t temp_bytes;              /* of its layout buffers */
  char *temp;                     /* where they are (NULL: the arena) */
} cpu_prim;

/* One kernel type for every op; unused parts stay zero. */
typedef struct {
  ax_kernel head;
  cpu_prim fwd, bwd_data, bwd_weights;
  cpu_prim infer;                 /* batch norm in evaluation, in a training
                                   * kernel (fwd is the training forward) */
  /* A fully connected layer's weight gradient: one GEMM adding into the
   * gradient (dnnl_sgemm, beta 1) rather than a primitive writing a copy
   * as large as the weights (VGG-16's fc6: 392 MiB) that is then added */
  int gemm_dweight;
  dnnl_dim_t gemm_out, gemm_in, gemm_batch;
  int uses_arena;                 /* counted in arena_users */
  /* A convolution runs on `chunks` equal parts of the batch, of in_chunk
   * and out_chunk floats (cpu_conv.c); 1 for the other ops. */
  int chunks;
  size_t in_chunk, out_chunk;
  int own_pool;                   /* max pooling by cpu_loops.c's loop */
} cpu_kernel;

#define CPU_BE(be) ((cpu_backend *) (be))
#define CPU_K(k) ((cpu_kernel *) (k))

/* Records a failed oneDNN call and returns AX_ERR_BACKEND. */
ax_status cpu_dnnl_fail (cpu_backend *be, dnnl_status_t st, const char *what);
#define DNNL_TRY(be, call) do { dnnl_status_t s_ = (call); \
    if (s_ != dnnl_success) return cpu_dnnl_fail (be, s_, #call); } while (0)

/* Training keeps a workspace for backward; inference does not. */
static inline dnnl_prop_kind_t
prop_kind (const ax_op *op)
{
  return op->forward_only ? dnnl_forward_inference : dnnl_forward_training;
}

/* Plain NCHW (or OIHW, GOIHW, X) fp32 memory descriptor. */
dnnl_memory_desc_t cpu_md (int ndims, const dnnl_dim_t *dims,
    dnnl_format_tag_t tag);
dnnl_memory_desc_t cpu_md_shape (ax_shape s);
/* The same dimensions with the layout left to the primitive. */
dnnl_memory_desc_t cpu_md_any (const dnnl_memory_desc_t *plain);

/* Creates the primitive for `desc` (with user scratchpad), then binds a
 * memory object for each argument of `args` (ending in -1) in that order;
 * a workspace is bound only if the primitive has one. If `plain` is given
 * (the tensors' layouts, one per argument) and the primitive chose another
 * layout for an argument, a buffer and a reorder are made for it. */
ax_status cpu_prim_create (cpu_backend *be, cpu_prim *p,
    const_dnnl_op_desc_t desc, const_dnnl_primitive_desc_t hint,
    const int *args, const dnnl_memory_desc_t *plain);
void cpu_prim_destroy (cpu_prim *p);
size_t cpu_prim_arg_bytes (const cpu_prim *p, int arg);
/* Runs `p` with ptrs[i] as the data of args[i] as given to create. */
ax_status cpu_prim_run (cpu_backend *be, cpu_prim *p,
    void *const *ptrs);
/* Grows the instance's shared scratchpad to what the kernel's prims need,
 * and sets the kernel's temp_bytes (its prims' layout buffers). */
ax_status cpu_kernel_scratchpad (cpu_backend *be, cpu_kernel *k);
/* Grows one of the instance's shared buffers to `bytes` (at prepare time
 * only: running never allocates). */
ax_status cpu_shared_reserve (cpu_backend *be, void **buf, size_t *have,
    size_t bytes, const char *what);
/* C (m x n, row-major) += op(A) op(B) on the instance's threads (oneDNN's
 * dnnl_sgemm; trans 'T' or 'N', as BLAS). */
ax_status cpu_sgemm_add (cpu_backend *be, char transa, char transb,
    dnnl_dim_t m, dnnl_dim_t n, dnnl_dim_t k, const float *a, dnnl_dim_t lda,
    const float *b, dnnl_dim_t ldb, float *c, dnnl_dim_t ldc);

/* The backend table's bind_temp and release's part of it. */
ax_status cpu_bind_temp (ax_kernel *k, void *forward, void *backward);
void cpu_kernel_unbind (cpu_kernel *k);

void *cpu_alloc (size_t bytes);
void cpu_free (void *p);

/* Per-op preparation and the table's op slots, by file. Convolution and
 * fully connected share their slots ("weighted" ops: same oneDNN arguments). */
ax_status cpu_conv_prepare (cpu_backend *be, cpu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s);
ax_status cpu_fc_prepare (cpu_backend *be, cpu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s);
ax_status cpu_relu_prepare (cpu_backend *be, cpu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s);
ax_status cpu_lrn_prepare (cpu_backend *be, cpu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s);
ax_status cpu_pool_prepare (cpu_backend *be, cpu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s);
ax_status cpu_batchnorm_prepare (cpu_backend *be, cpu_kernel *k,
    const ax_op *op, const ax_op_shapes_t *s);

ax_status cpu_weighted_forward (ax_kernel *k, ax_tensor *out, const ax_tensor *in,
    const ax_tensor *weight, const ax_tensor *bias);
ax_status cpu_weighted_backward (ax_kernel *k, ax_tensor *din, ax_tensor *dweight,
    ax_tensor *dbias, const ax_tensor *dout, const ax_tensor *in,
    const ax_tensor *weight);
ax_status cpu_relu_forward (ax_kernel *k, ax_tensor *out, const ax_tensor *in);
ax_status cpu_relu_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout, const ax_tensor *out);
ax_status cpu_lrn_forward (ax_kernel *k, ax_tensor *out, ax_tensor *workspace,
    const ax_tensor *in);
ax_status cpu_lrn_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout, const ax_tensor *in, const ax_tensor *out,
    const ax_tensor *workspace);
ax_status cpu_own_maxpool_forward (ax_kernel *k, ax_tensor *out,
    ax_tensor *workspace, const ax_tensor *in);
ax_status cpu_own_maxpool_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout, const ax_tensor *workspace);
ax_status cpu_maxpool_forward (ax_kernel *k, ax_tensor *out,
    ax_tensor *workspace, const ax_tensor *in);
ax_status cpu_maxpool_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout, const ax_tensor *in, const ax_tensor *out,
    const ax_tensor *workspace);
ax_status cpu_dropout_forward (ax_kernel *k, ax_tensor *out,
    const ax_tensor *in, uint64_t key);
ax_status cpu_dropout_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout, uint64_t key);
ax_status cpu_softmax_xent_forward (ax_kernel *k, ax_tensor *losses,
    ax_tensor *probs, const ax_tensor *logits, const ax_tensor *labels);
ax_status cpu_softmax_xent_backward (ax_kernel *k, ax_tensor *dlogits,
    const ax_tensor *probs, const ax_tensor *labels, float scale);
ax_status cpu_sgd_update (ax_kernel *k, ax_tensor *weight,
    ax_tensor *velocity, const ax_tensor *grad, const ax_sgd_step *step);
ax_status cpu_batchnorm_forward (ax_kernel *k, ax_tensor *out,
    ax_tensor *workspace, ax_tensor *running_mean, ax_tensor *running_var,
    const ax_tensor *in, const ax_tensor *weight, const ax_tensor *bias,
    int training);
ax_status cpu_batchnorm_backward (ax_kernel *k, ax_tensor *din,
    ax_tensor *dweight, ax_tensor *dbias, const ax_tensor *dout,
    const ax_tensor *in, const ax_tensor *weight, const ax_tensor *workspace);
ax_status cpu_avgpool_forward (ax_kernel *k, ax_tensor *out,
    const ax_tensor *in);
ax_status cpu_avgpool_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout);
ax_status cpu_fill (ax_backend *be, ax_tensor *dst, float value);
ax_status cpu_axpy (ax_backend *be, ax_tensor *dst, float alpha,
    const ax_tensor *src);
ax_status cpu_count_nonfinite (ax_backend *be, const ax_tensor *t,
    size_t *count);
/* dst[i] += src[i], on the backend's threads. */
void cpu_accumulate (cpu_backend *be, float *dst, const float *src, size_t n);
/* dbias[c] += the sum of dout (N, C, H, W) over n, h, w, in double. */
void cpu_bias_grad (cpu_backend *be, float *dbias, const float *dout,
    ax_shape shape);

#endif
