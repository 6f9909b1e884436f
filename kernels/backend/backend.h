/* The backend interface: memory slabs, transfers and the layer operations of
 * one device, behind an opaque handle. The network calls only these
 * functions; every argument is checked here, once, for every backend. */
#ifndef AX_BACKEND_H
#define AX_BACKEND_H

#include "kernels/backend/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One allocation of device memory; tensors are views into it. */
typedef struct {
  ax_backend *backend;
  void *base;             /* opaque device address */
  size_t bytes;
} ax_slab;

/* An op prepared for one input shape on one backend (library primitives
 * created, scratch memory allocated): made at plan time, run every batch.
 * A kernel is used by one thread at a time. */
typedef struct ax_kernel ax_kernel;

/* Tensors inside a slab start on this boundary (bytes). */
#define AX_ALIGN 64

/* --- the backend itself --- */
void ax_backend_destroy (ax_backend *be);
const char *ax_backend_name (const ax_backend *be);
/* Details of the last error on this backend ("" if none). */
const char *ax_backend_last_error (const ax_backend *be);
/* Nonzero if the backend implements `op` for its input shape. */
int ax_backend_supports_op (ax_backend *be, const ax_op *op);

/* --- memory, planned once: slabs, and tensors as views into them --- */
ax_status ax_slab_alloc (ax_backend *be, size_t bytes, ax_slab *slab);
void ax_slab_free (ax_slab *slab);
/* Bytes a tensor takes in a slab, rounded up to AX_ALIGN. */
size_t ax_tensor_footprint (ax_shape shape, ax_dtype dtype);
/* Makes `t` a view of `slab` at byte `offset` (a multiple of AX_ALIGN). */
ax_status ax_tensor_view (ax_tensor *t, ax_slab *slab, size_t offset,
    ax_shape shape, ax_dtype dtype);

/* Host memory for data uploaded again and again (a batch of images):
 * page-locked where that helps the backend (CUDA: cudaHostAlloc, so an
 * upload from it is a DMA straight from it, with no staging copy, queued
 * without waiting), plain memory aligned to AX_ALIGN otherwise. An upload
 * from it may still be reading it after ax_tensor_upload returns, until
 * the backend's next synchronising call (a download, a finiteness check):
 * change it only after one, as PyTorch's pin_memory + non_blocking copies
 * want. Free it with ax_host_free on the same backend, before the backend
 * is destroyed. */
ax_status ax_host_alloc (ax_backend *be, size_t bytes, void **ptr);
void ax_host_free (ax_backend *be, void *ptr);

/* --- data movement --- */
/* Host -> device; rejects NaN and infinity in F32 data (AX_ERR_NONFINITE). */
ax_status ax_tensor_upload (ax_tensor *dst, const void *host, size_t bytes);
ax_status ax_tensor_download (void *host, size_t bytes, const ax_tensor *src);
/* Any backend to any backend (same shape and type): the tower exchange. */
ax_status ax_tensor_copy (ax_tensor *dst, const ax_tensor *src);
/* Maps [src_channel, src_channel + channels) of every sample of `src` into
 * maps from `dst_channel` of `dst` (same N, H, W, type), on any two
 * backends: how a tower receives the other tower's maps for conv3. */
ax_status ax_tensor_copy_channels (ax_tensor *dst, int dst_channel,
    const ax_tensor *src, int src_channel, int channels);
ax_status ax_tensor_fill (ax_tensor *dst, float value);
/* dst += alpha * src (same backend, shape and F32): sums gradients, e.g.
 * the two towers' gradients of the maps they exchanged. */
ax_status ax_tensor_axpy (ax_tensor *dst, float alpha, const ax_tensor *src);
/* AX_ERR_NONFINITE if `t` holds a NaN or an infinity. */
ax_status ax_tensor_check_finite (const ax_tensor *t);

/* --- collectives across backends (data-parallel training) --- */
/* A group of n backends (one replica of the net each) that sum tensors
 * across themselves: NCCL between CUDA devices, a host sum otherwise.
 * Members: 1 to 64 distinct backends; the group does not own them (destroy
 * the group first). Errors are recorded on members[0]
 * (ax_backend_last_error). */
typedef struct ax_group ax_group;
ax_status ax_group_create (ax_backend **members, int n, ax_group **out);
void ax_group_destroy (ax_group *g);
/* tensors[i] lives on members[i]; all F32 of one shape. Afterwards every
 * tensor holds the elementwise sum of all of them, bitwise equal on every
 * member. Members of one kind whose table has group slots use them (NCCL);
 * otherwise the sum is formed on the host in member order (member 0 +
 * member 1 + ...): in place when every member is host memory (nothing is
 * allocated), else through two host buffers that the group grows to the
 * largest tensor reduced so far and keeps (allocated on the first call at
 * a size, never again for the same size). One thread at a time. */
ax_status ax_group_allreduce_sum (ax_group *g, ax_tensor **tensors);

/* --- kernels --- */
ax_status ax_kernel_prepare (ax_backend *be, const ax_op *op, ax_kernel **out);
void ax_kernel_release (ax_kernel *k);
const ax_op *ax_kernel_op (const ax_kernel *k);
const ax_op_shapes_t *ax_kernel_shapes (const ax_kernel *k);
/* What forward keeps for backward beyond its output, as an F32 tensor
 * shape; count 0 means the op needs none (pass NULL). */
ax_shape ax_kernel_workspace_shape (const ax_kernel *k);
/* Bytes of temporaries one call needs beside its tensors (the CPU
 * backend's copies in oneDNN's blocked layouts); 0 for none. Until bound,
 * a kernel takes them from a block its backend instance shares among its
 * kernels; ax_kernel_bind_temp lends them from the caller's memory instead
 * (a net's free activation memory): `forward` for the forward calls,
 * `backward` for the backward ones (may be NULL for a forward-only
 * kernel), each temp_bytes on the kernel's backend, not touched between
 * calls. Once every kernel of an instance is bound, the shared block is
 * freed. */
size_t ax_kernel_temp_bytes (const ax_kernel *k);
ax_status ax_kernel_bind_temp (ax_kernel *k, void *forward, void *backward);

/* --- layer operations: outputs first, then inputs. Data gradients are
 * written; parameter gradients are accumulated (+=). --- */
ax_status ax_conv_forward (ax_kernel *k, ax_tensor *out, const ax_tensor *in,
    const ax_tensor *weight, const ax_tensor *bias);
/* din may be NULL (first layer: no gradient for the image). */
ax_status ax_conv_backward (ax_kernel *k, ax_tensor *din, ax_tensor *dweight,
    ax_tensor *dbias, const ax_tensor *dout, const ax_tensor *in,
    const ax_tensor *weight);
ax_status ax_relu_forward (ax_kernel *k, ax_tensor *out, const ax_tensor *in);
ax_status ax_relu_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout, const ax_tensor *out);
ax_status ax_lrn_forward (ax_kernel *k, ax_tensor *out, ax_tensor *workspace,
    const ax_tensor *in);
ax_status ax_lrn_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout, const ax_tensor *in, const ax_tensor *out,
    const ax_tensor *workspace);
ax_status ax_maxpool_forward (ax_kernel *k, ax_tensor *out,
    ax_tensor *workspace, const ax_tensor *in);
ax_status ax_maxpool_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout, const ax_tensor *in, const ax_tensor *out,
    const ax_tensor *workspace);
ax_status ax_fc_forward (ax_kernel *k, ax_tensor *out, const ax_tensor *in,
    const ax_tensor *weight, const ax_tensor *bias);
ax_status ax_fc_backward (ax_kernel *k, ax_tensor *din, ax_tensor *dweight,
    ax_tensor *dbias, const ax_tensor *dout, const ax_tensor *in,
    const ax_tensor *weight);
/* Batch normalisation (ops.h, ax_bn_params): weight, bias, running_mean
 * and running_var are (C,1,1,1). training = 1 (a kernel not prepared
 * forward-only): normalises with the batch's statistics, keeps what
 * backward needs in `workspace` (ax_kernel_workspace_shape) and updates
 * running_mean and running_var in place; needs more than one value per
 * channel (N*H*W > 1, AX_ERR_SHAPE otherwise, as PyTorch refuses).
 * training = 0: normalises with running_mean and running_var, which are
 * only read; `workspace` is not used (may be NULL). */
ax_status ax_batchnorm_forward (ax_kernel *k, ax_tensor *out,
    ax_tensor *workspace, ax_tensor *running_mean, ax_tensor *running_var,
    const ax_tensor *in, const ax_tensor *weight, const ax_tensor *bias,
    int training);
/* The gradients of the last training-mode forward (its `in` and
 * `workspace`): din written (required: every backend computes it),
 * dweight and dbias accumulated. */
ax_status ax_batchnorm_backward (ax_kernel *k, ax_tensor *din,
    ax_tensor *dweight, ax_tensor *dbias, const ax_tensor *dout,
    const ax_tensor *in, const ax_tensor *weight, const ax_tensor *workspace);
/* Adaptive average pooling (ops.h, ax_avgpool_params): no workspace, no
 * parameters; backward needs only the output's gradient (din written). */
ax_status ax_avgpool_forward (ax_kernel *k, ax_tensor *out,
    const ax_tensor *in);
ax_status ax_avgpool_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout);
/* The mask is a pure function of (seed, step, params.stream, index): the
 * backward pass recomputes it, and every backend draws the same one. */
ax_status ax_dropout_forward (ax_kernel *k, ax_tensor *out,
    const ax_tensor *in, uint64_t seed, uint64_t step);
ax_status ax_dropout_backward (ax_kernel *k, ax_tensor *din,
    const ax_tensor *dout, uint64_t seed, uint64_t step);
/* losses (N,1,1,1) F32, probs like logits, labels (N,1,1,1) I32.
 * AX_ERR_NONFINITE if a logit or a loss is not finite, AX_ERR_INVALID_ARG
 * if a label is out of range. */
ax_status ax_softmax_xent_forward (ax_kernel *k, ax_tensor *losses,
    ax_tensor *probs, const ax_tensor *logits, const ax_tensor *labels);
/* dlogits = scale * (probs - onehot(labels)): the gradient of
 * scale * sum(losses); scale = 1/N for the mean loss. */
ax_status ax_softmax_xent_backward (ax_kernel *k, ax_tensor *dlogits,
    const ax_tensor *probs, const ax_tensor *labels, float scale);
/* v = momentum v - weight_decay lr w - lr grad; w += v. Refuses a
 * non-finite gradient (AX_ERR_NONFINITE) and leaves w and v untouched. */
ax_status ax_sgd_update (ax_kernel *k, ax_tensor *weight, ax_tensor *velocity,
    const ax_tensor *grad, const ax_sgd_step *step);

#ifdef __cplusplus
}
#endif
#endif
