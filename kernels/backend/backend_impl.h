/* For writers of backends only: the table of operations a backend fills in,
 * and the common heads of the backend and kernel structs. backend.c checks
 * every argument before a slot is called, so slots may trust their inputs. */
#ifndef AX_BACKEND_IMPL_H
#define AX_BACKEND_IMPL_H

#include "kernels/backend/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A transfer of `rows` rows of `width` bytes, each row `dst_pitch` and
 * `src_pitch` bytes after the previous one (cudaMemcpy2D's shape). A plain
 * copy is one row. */
typedef struct {
  size_t width, rows, dst_pitch, src_pitch;
} ax_copy2d;

typedef struct {
  /* Short name for messages: "cpu", "cuda:0". */
  const char *name;
  /* Nonzero if device addresses are ordinary host pointers. */
  int host_memory;
  /* Frees the backend; its kernels and slabs are already released. */
  void (*destroy) (ax_backend *be);
  /* `bytes` of device memory aligned to AX_ALIGN, into *ptr. */
  ax_status (*alloc) (ax_backend *be, size_t bytes, void **ptr);
  /* Frees memory from alloc. */
  void (*free) (ax_backend *be, void *ptr);
  /* Host memory for uploads (ax_host_alloc); NULL: aligned malloc. */
  ax_status (*host_alloc) (ax_backend *be, size_t bytes, void **ptr);
  void (*host_free) (ax_backend *be, void *ptr);
  /* Host -> device, a 2-D block (ax_copy2d). */
  ax_status (*upload) (ax_backend *be, void *dst, const void *host,
      const ax_copy2d *c);
  /* Device -> host. */
  ax_status (*download) (ax_backend *be, void *host, const void *src,
      const ax_copy2d *c);
  /* Device -> same device. */
  ax_status (*copy) (ax_backend *be, void *dst, const void *src,
      const ax_copy2d *c);
  /* Device of `src_be` -> device of `be` when neither is host memory
   * (cudaMemcpy2DPeer, NCCL); NULL if unsupported. */
  ax_status (*copy_peer) (ax_backend *be, void *dst, ax_backend *src_be,
      const void *src, const ax_copy2d *c);
  /* Sets every element of an F32 tensor. */
  ax_status (*fill) (ax_backend *be, ax_tensor *dst, float value);
  /* dst += alpha * src, F32 tensors of one shape on this backend. */
  ax_status (*axpy) (ax_backend *be, ax_tensor *dst, float alpha,
      const ax_tensor *src);
  /* Counts NaN and infinite elements of an F32 tensor into *count. */
  ax_status (*count_nonfinite) (ax_backend *be, const ax_tensor *t, size_t *count);
  /* Collectives over a group of backends of this kind (members[0] is this
   * backend): NCCL on CUDA. NULL: backend_group.c sums through host memory.
   * group_allreduce_sum gets checked tensors (tensors[i] on members[i], F32,
   * one shape) and must leave every member with bitwise equal sums. */
  ax_status (*group_init) (ax_backend **members, int n, void **state);
  ax_status (*group_allreduce_sum) (void *state, ax_backend **members,
      ax_tensor **tensors, int n);
  void (*group_destroy) (void *state);
  /* Nonzero if prepare would succeed for this op (shapes already valid). */
  int (*supports_op) (ax_backend *be, const ax_op *op);
  /* Builds a kernel for op; its head is filled in by backend.c afterwards. */
  ax_status (*prepare) (ax_backend *be, const ax_op *op,
      const ax_op_shapes_t *shapes, ax_kernel **out);
  /* Frees a kernel from prepare. */
  void (*release) (ax_kernel *k);
  /* Lends a kernel with temp_bytes > 0 its temporaries (backend.h,
   * ax_kernel_bind_temp); NULL for a backend whose kernels need none. */
  ax_status (*bind_temp) (ax_kernel *k, void *forward, void *backward);

  /* The layer operations, as in backend.h (NULL tensors as allowed there). */
  ax_status (*conv_forward) (ax_kernel *k, ax_tensor *out, const ax_tensor *in,
      const ax_tensor *weight, const ax_tensor *bias);
  ax_status (*conv_backward) (ax_kernel *k, ax_tensor *din, ax_tensor *dweight,
      ax_tensor *dbias, const ax_tensor *dout, const ax_tensor *in,
      const ax_tensor *weight);
  ax_status (*relu_forward) (ax_kernel *k, ax_tensor *out, const ax_tensor *in);
  ax_status (*relu_backward) (ax_kernel *k, ax_tensor *din,
      const ax_tensor *dout, const ax_tensor *out);
  ax_status (*lrn_forward) (ax_kernel *k, ax_tensor *out, ax_tensor *workspace,
      const ax_tensor *in);
  ax_status (*lrn_backward) (ax_kernel *k, ax_tensor *din,
      const ax_tensor *dout, const ax_tensor *in, const ax_tensor *out,
      const ax_tensor *workspace);
  ax_status (*maxpool_forward) (ax_kernel *k, ax_tensor *out,
      ax_tensor *workspace, const ax_tensor *in);
  ax_status (*maxpool_backward) (ax_kernel *k, ax_tensor *din,
      const ax_tensor *dout, const ax_tensor *in, const ax_tensor *out,
      const ax_tensor *workspace);
  ax_status (*fc_forward) (ax_kernel *k, ax_tensor *out, const ax_tensor *in,
      const ax_tensor *weight, const ax_tensor *bias);
  ax_status (*fc_backward) (ax_kernel *k, ax_tensor *din, ax_tensor *dweight,
      ax_tensor *dbias, const ax_tensor *dout, const ax_tensor *in,
      const ax_tensor *weight);
  /* Dropout: element i of the tensor draws the mask of index
   * k->op.index0 + i under `key` (layer_math.h). */
  ax_status (*dropout_forward) (ax_kernel *k, ax_tensor *out,
      const ax_tensor *in, uint64_t key);
  ax_status (*dropout_backward) (ax_kernel *k, ax_tensor *din,
      const ax_tensor *dout, uint64_t key);
  ax_status (*softmax_xent_forward) (ax_kernel *k, ax_tensor *losses,
      ax_tensor *probs, const ax_tensor *logits, const ax_tensor *labels);
  ax_status (*softmax_xent_backward) (ax_kernel *k, ax_tensor *dlogits,
      const ax_tensor *probs, const ax_tensor *labels, float scale);
  ax_status (*sgd_update) (ax_kernel *k, ax_tensor *weight,
      ax_tensor *velocity, const ax_tensor *grad, const ax_sgd_step *step);
  /* Batch norm (workspace NULL when training is 0). */
  ax_status (*batchnorm_forward) (ax_kernel *k, ax_tensor *out,
      ax_tensor *workspace, ax_tensor *running_mean, ax_tensor *running_var,
      const ax_tensor *in, const ax_tensor *weight, const ax_tensor *bias,
      int training);
  ax_status (*batchnorm_backward) (ax_kernel *k, ax_tensor *din,
      ax_tensor *dweight, ax_tensor *dbias, const ax_tensor *dout,
      const ax_tensor *in, const ax_tensor *weight,
      const ax_tensor *workspace);
  /* Adaptive average pooling. */
  ax_status (*avgpool_forward) (ax_kernel *k, ax_tensor *out,
      const ax_tensor *in);
  ax_status (*avgpool_backward) (ax_kernel *k, ax_tensor *din,
      const ax_tensor *dout);
} ax_backend_i;

/* Head of every backend; a backend embeds it as its first member. */
struct ax_backend {
  const ax_backend_i *iface;
  char last_error[512];
};

/* Head of every kernel; a backend embeds it as its first member. */
struct ax_kernel {
  ax_backend *backend;
  ax_op op;
  ax_op_shapes_t shapes;
  ax_shape workspace;     /* F32 elements kept from forward to backward */
  size_t temp_bytes;      /* temporaries of one call (ax_kernel_temp_bytes) */
};

/* Records a message for ax_backend_last_error and returns `status`. */
ax_status ax_backend_fail (ax_backend *be, ax_status status,
    const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
