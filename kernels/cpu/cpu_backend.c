/* The CPU backend's table: creation with its own oneDNN engine, stream and
 * thread count, host memory, and kernel preparation dispatched per op to
 * cpu_conv.c, cpu_lrn_pool.c, cpu_batchnorm.c and cpu_loops.c. */
#include "kernels/cpu/cpu_internal.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static const ax_backend_i cpu_iface;

static void
cpu_destroy (ax_backend *backend)
{
  cpu_backend *be = CPU_BE (backend);
  if (be->stream)
    dnnl_stream_destroy (be->stream);
  if (be->engine)
    dnnl_engine_destroy (be->engine);
  cpu_free (be->arena);
  cpu_free (be->scratch);
  cpu_free (be->dweight);
  free (be);
}

ax_status
ax_cpu_backend_create (int n_threads, ax_backend **out)
{
  if (!out || n_threads < 0)
    return AX_ERR_INVALID_ARG;
  *out = NULL;
  cpu_backend *be = calloc (1, sizeof *be);
  if (!be)
    return AX_ERR_NO_MEMORY;
  be->head.iface = &cpu_iface;
  be->threads = n_threads ? n_threads : omp_get_max_threads ();
  be->blocked_conv = 1;
  be->chunk_bytes = CPU_CHUNK_BYTES;
  if (dnnl_engine_create (&be->engine, dnnl_cpu, 0) != dnnl_success
      || dnnl_stream_create (&be->stream, be->engine,
          dnnl_stream_default_flags) != dnnl_success) {
    cpu_destroy (&be->head);
    return AX_ERR_BACKEND;
  }
  *out = &be->head;
  return AX_OK;
}

int
ax_cpu_backend_threads (const ax_backend *be)
{
  return be && be->iface == &cpu_iface ? CPU_BE (be)->threads : 0;
}

void
ax_cpu_backend_set_blocked_conv (ax_backend *be, int on)
{
  if (be && be->iface == &cpu_iface)
    CPU_BE (be)->blocked_conv = on != 0;
}

void
ax_cpu_backend_set_chunk_bytes (ax_backend *be, size_t bytes)
{
  if (be && be->iface == &cpu_iface)
    CPU_BE (be)->chunk_bytes = bytes ? bytes : CPU_CHUNK_BYTES;
}

void
ax_cpu_backend_set_conv_algo (ax_backend *be, ax_conv_algo algo)
{
  if (be && be->iface == &cpu_iface && ax_conv_algo_name (algo))
    CPU_BE (be)->conv_algo = algo;
}

static const char *const conv_algo_names[] = { "auto", "direct", "winograd" };

const char *
ax_conv_algo_name (ax_conv_algo algo)
{
  return (unsigned) algo < sizeof conv_algo_names / sizeof conv_algo_names[0]
      ? conv_algo_names[algo] : NULL;
}

int
ax_conv_algo_parse (const char *name)
{
  for (size_t i = 0; name && i < sizeof conv_algo_names
      / sizeof conv_algo_names[0]; i++)
    if (strcmp (name, conv_algo_names[i]) == 0)
      return (int) i;
  return -1;
}

static ax_status
cpu_mem_alloc (ax_backend *be, size_t bytes, void **ptr)
{
  *ptr = cpu_alloc (bytes);
  if (!*ptr)
    return ax_backend_fail (be, AX_ERR_NO_MEMORY, "%zu bytes", bytes);
  return AX_OK;
}

static void
cpu_mem_free (ax_backend *be, void *ptr)
{
  (void) be;
  cpu_free (ptr);
}

static ax_status
cpu_memcpy (ax_backend *be, void *dst, const void *src, const ax_copy2d *c)
{
  (void) be;
  for (size_t r = 0; r < c->rows; r++)
    memmove ((char *) dst + r * c->dst_pitch,
        (const char *) src + r * c->src_pitch, c->width);
  return AX_OK;
}

static int
cpu_supports_op (ax_backend *be, const ax_op *op)
{
  (void) be;
  /* oneDNN's LRN wants an odd size; ops.c already insists on it. */
  return (unsigned) op->type < AX_OP_COUNT;
}

static void
cpu_release (ax_kernel *kernel)
{
  cpu_kernel *k = CPU_K (kernel);
  cpu_kernel_unbind (k);
  cpu_prim_destroy (&k->fwd);
  cpu_prim_destroy (&k->bwd_data);
  cpu_prim_destroy (&k->bwd_weights);
  cpu_prim_destroy (&k->infer);
  free (k);
}

static ax_status
cpu_prepare (ax_backend *backend, const ax_op *op, const ax_op_shapes_t *s,
    ax_kernel **out)
{
  cpu_backend *be = CPU_BE (backend);
  cpu_kernel *k = calloc (1, sizeof *k);
  ax_status st = AX_OK;
  if (!k)
    return AX_ERR_NO_MEMORY;
  switch (op->type) {
    case AX_OP_CONV: st = cpu_conv_prepare (be, k, op, s); break;
    case AX_OP_FC: st = cpu_fc_prepare (be, k, op, s); break;
    case AX_OP_RELU: st = cpu_relu_prepare (be, k, op, s); break;
    case AX_OP_LRN: st = cpu_lrn_prepare (be, k, op, s); break;
    case AX_OP_MAXPOOL: st = cpu_pool_prepare (be, k, op, s); break;
    case AX_OP_BATCHNORM: st = cpu_batchnorm_prepare (be, k, op, s); break;
    default: break;             /* the loops need nothing prepared */
  }
  if (st != AX_OK) {
    cpu_release (&k->head);
    return st;
  }
  *out = &k->head;
  return AX_OK;
}

static const ax_backend_i cpu_iface = {
  .name = "cpu",
  .host_memory = 1,
  .destroy = cpu_destroy,
  .alloc = cpu_mem_alloc,
  .free = cpu_mem_free,
  .upload = cpu_memcpy,
  .download = cpu_memcpy,
  .copy = cpu_memcpy,
  .copy_peer = NULL,
  .fill = cpu_fill,
  .axpy = cpu_axpy,
  .count_nonfinite = cpu_count_nonfinite,
  .supports_op = cpu_supports_op,
  .prepare = cpu_prepare,
  .release = cpu_release,
  .bind_temp = cpu_bind_temp,
  .conv_forward = cpu_weighted_forward,
  .conv_backward = cpu_weighted_backward,
  .relu_forward = cpu_relu_forward,
  .relu_backward = cpu_relu_backward,
  .lrn_forward = cpu_lrn_forward,
  .lrn_backward = cpu_lrn_backward,
  .maxpool_forward = cpu_maxpool_forward,
  .maxpool_backward = cpu_maxpool_backward,
  .fc_forward = cpu_weighted_forward,
  .fc_backward = cpu_weighted_backward,
  .dropout_forward = cpu_dropout_forward,
  .dropout_backward = cpu_dropout_backward,
  .softmax_xent_forward = cpu_softmax_xent_forward,
  .softmax_xent_backward = cpu_softmax_xent_backward,
  .sgd_update = cpu_sgd_update,
  .batchnorm_forward = cpu_batchnorm_forward,
  .batchnorm_backward = cpu_batchnorm_backward,
  .avgpool_forward = cpu_avgpool_forward,
  .avgpool_backward = cpu_avgpool_backward,
};
