/* The CPU backend's layer over oneDNN primitives: memory descriptors, the
 * primitive with its memory objects made once at prepare time, execution on
 * the instance's thread count, and the user-managed scratchpad. */
#include "kernels/cpu/cpu_internal.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl_debug.h>

ax_status
cpu_dnnl_fail (cpu_backend *be, dnnl_status_t st, const char *what)
{
  return ax_backend_fail (&be->head, AX_ERR_BACKEND, "oneDNN: %s: %s",
      dnnl_status2str (st), what);
}

void *
cpu_alloc (size_t bytes)
{
  void *p = NULL;
  size_t rounded = (bytes + AX_ALIGN - 1) / AX_ALIGN * AX_ALIGN;
  if (posix_memalign (&p, AX_ALIGN, rounded ? rounded : AX_ALIGN))
    return NULL;
  return p;
}

void
cpu_free (void *p)
{
  free (p);
}

dnnl_memory_desc_t
cpu_md (int ndims, const dnnl_dim_t *dims, dnnl_format_tag_t tag)
{
  dnnl_memory_desc_t md;
  if (dnnl_memory_desc_init_by_tag (&md, ndims, dims, dnnl_f32, tag)
      != dnnl_success)
    memset (&md, 0, sizeof md);   /* a zero desc makes the op desc fail */
  return md;
}

dnnl_memory_desc_t
cpu_md_shape (ax_shape s)
{
  dnnl_dim_t dims[4] = { s.n, s.c, s.h, s.w };
  return cpu_md (4, dims, dnnl_nchw);
}

dnnl_memory_desc_t
cpu_md_any (const dnnl_memory_desc_t *plain)
{
  return cpu_md (plain->ndims, plain->dims, dnnl_format_tag_any);
}

/* Runs with the instance's thread count, and gives the calling thread its
 * own count back afterwards. */
static int
threads_enter (cpu_backend *be)
{
  int before = omp_get_max_threads ();
  omp_set_num_threads (be->threads);
  return before;
}

static void
bind_arg (cpu_prim *p, int arg, dnnl_memory_t mem, int ptr_index)
{
  p->ptr_index[p->nargs] = ptr_index;
  p->args[p->nargs].arg = arg;
  p->args[p->nargs].memory = mem;
  p->nargs++;
}

/* A primitive attribute asking for a user-managed scratchpad, so that no
 * execution allocates: the kernel's scratchpad is passed in instead. */
static dnnl_status_t
user_scratchpad_attr (dnnl_primitive_attr_t *attr)
{
  dnnl_status_t st = dnnl_primitive_attr_create (attr);
  if (st == dnnl_success)
    st = dnnl_primitive_attr_set_scratchpad_mode (*attr,
        dnnl_scratchpad_mode_user);
  return st;
}

static ax_status
create_pd (cpu_backend *be, cpu_prim *p, const_dnnl_op_desc_t desc,
    const_dnnl_primitive_desc_t hint)
{
  dnnl_primitive_attr_t attr;
  DNNL_TRY (be, user_scratchpad_attr (&attr));
  dnnl_status_t st = dnnl_primitive_desc_create (&p->pd, desc, attr,
      be->engine, hint);
  dnnl_primitive_attr_destroy (attr);
  if (st != dnnl_success)
    return cpu_dnnl_fail (be, st, "dnnl_primitive_desc_create");
  return AX_OK;
}

static int
is_output_arg (int arg)
{
  return arg == DNNL_ARG_DST || arg == DNNL_ARG_DIFF_SRC
      || arg == DNNL_ARG_DIFF_WEIGHTS || arg == DNNL_ARG_DIFF_BIAS
      || arg == DNNL_ARG_DIFF_SCALE || arg == DNNL_ARG_DIFF_SHIFT;
}

/* Buffer and reorder for argument `arg` when the layout the primitive
 * chose differs from the tensor's plain one. */
static ax_status
adapter_create (cpu_backend *be, cpu_adapter *a, int arg,
    const dnnl_memory_desc_t *chosen, const dnnl_memory_desc_t *plain,
    size_t *arena_used)
{
  dnnl_primitive_desc_t rpd;
  dnnl_primitive_attr_t attr;
  if (dnnl_memory_desc_equal (chosen, plain))
    return AX_OK;
  a->is_output = is_output_arg (arg);
  DNNL_TRY (be, dnnl_memory_create (&a->plain, plain, be->engine,
          DNNL_MEMORY_NONE));
  DNNL_TRY (be, user_scratchpad_attr (&attr));
  dnnl_status_t st = a->is_output
      ? dnnl_reorder_primitive_desc_create (&rpd, chosen, be->engine, plain,
          be->engine, attr)
      : dnnl_reorder_primitive_desc_create (&rpd, plain, be->engine, chosen,
          be->engine, attr);
  dnnl_primitive_attr_destroy (attr);
  if (st != dnnl_success)
    return cpu_dnnl_fail (be, st, "reorder descriptor");
  const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md (rpd,
      dnnl_query_scratchpad_md, 0);
  a->scratch_bytes = smd ? dnnl_memory_desc_get_size (smd) : 0;
  if (a->scratch_bytes)
    st = dnnl_memory_create (&a->scratch, smd, be->engine, DNNL_MEMORY_NONE);
  if (st == dnnl_success)
    st = dnnl_primitive_create (&a->reorder, rpd);
  dnnl_primitive_desc_destroy (rpd);
  if (st != dnnl_success)
    return cpu_dnnl_fail (be, st, "reorder");
  /* its place in the arena, after the primitive's other buffers */
  a->offset = *arena_used;
  *arena_used += (dnnl_memory_desc_get_size (chosen) + AX_ALIGN - 1)
      / AX_ALIGN * AX_ALIGN;
  return AX_OK;
}

ax_status
cpu_shared_reserve (cpu_backend *be, void **buf, size_t *have, size_t bytes,
    const char *what)
{
  if (bytes <= *have)
    return AX_OK;
  void *p = cpu_alloc (bytes);
  if (!p)
    return ax_backend_fail (&be->head, AX_ERR_NO_MEMORY, "%s of %zu bytes",
        what, bytes);
  cpu_free (*buf);
  *buf = p;
  *have = bytes;
  return AX_OK;
}

static ax_status
prim_create (cpu_backend *be, cpu_prim *p, const_dnnl_op_desc_t desc,
    const_dnnl_primitive_desc_t hint, const int *args,
    const dnnl_memory_desc_t *plain)
{
  ax_status st = create_pd (be, p, desc, hint);
  if (st != AX_OK)
    return st;
  DNNL_TRY (be, dnnl_primitive_create (&p->prim, p->pd));
  size_t arena_used = 0;
  for (int i = 0; args[i] >= 0; i++) {
    const dnnl_memory_desc_t *md =
        dnnl_primitive_desc_query_md (p->pd, dnnl_query_exec_arg_md, args[i]);
    dnnl_memory_t mem = NULL;
    if (args[i] == DNNL_ARG_WORKSPACE && (!md || dnnl_memory_desc_get_size (md) == 0))
      continue;
    if (!md || p->nargs + 1 >= CPU_MAX_ARGS)
      return ax_backend_fail (&be->head, AX_ERR_BACKEND,
          "oneDNN primitive has no argument %d", args[i]);
    DNNL_TRY (be, dnnl_memory_create (&mem, md, be->engine, DNNL_MEMORY_NONE));
    bind_arg (p, args[i], mem, i);
    if (plain && args[i] != DNNL_ARG_WORKSPACE) {
      ax_status st = adapter_create (be, &p->adapt[p->nargs - 1], args[i], md,
          &plain[i], &arena_used);
      if (st != AX_OK)
        return st;
    }
  }
  p->temp_bytes = arena_used;
  if ((st = cpu_shared_reserve (be, &be->arena, &be->arena_bytes, arena_used,
              "layout buffers")) != AX_OK)
    return st;
  /* The scratchpad always comes last; run() points it at the instance's. */
  const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md (p->pd,
      dnnl_query_scratchpad_md, 0);
  if (smd && dnnl_memory_desc_get_size (smd) > 0) {
    dnnl_memory_t mem = NULL;
    DNNL_TRY (be, dnnl_memory_create (&mem, smd, be->engine, DNNL_MEMORY_NONE));
    bind_arg (p, DNNL_ARG_SCRATCHPAD, mem, -1);
  }
  return AX_OK;
}

/* oneDNN sizes its work split by the thread count when it creates a
 * primitive, so create with the count it will run with. */
ax_status
cpu_prim_create (cpu_backend *be, cpu_prim *p, const_dnnl_op_desc_t desc,
    const_dnnl_primitive_desc_t hint, const int *args,
    const dnnl_memory_desc_t *plain)
{
  int before = threads_enter (be);
  ax_status st = prim_create (be, p, desc, hint, args, plain);
  omp_set_num_threads (before);
  return st;
}

void
cpu_prim_destroy (cpu_prim *p)
{
  for (int i = 0; i < p->nargs; i++) {
    dnnl_memory_destroy (p->args[i].memory);
    if (p->adapt[i].reorder)
      dnnl_primitive_destroy (p->adapt[i].reorder);
    if (p->adapt[i].plain)
      dnnl_memory_destroy (p->adapt[i].plain);
    if (p->adapt[i].scratch)
      dnnl_memory_destroy (p->adapt[i].scratch);
  }
  if (p->prim)
    dnnl_primitive_destroy (p->prim);
  if (p->pd)
    dnnl_primitive_desc_destroy (p->pd);
  memset (p, 0, sizeof *p);
}

size_t
cpu_prim_arg_bytes (const cpu_prim *p, int arg)
{
  const dnnl_memory_desc_t *md = p->pd ? dnnl_primitive_desc_query_md (p->pd,
      dnnl_query_exec_arg_md, arg) : NULL;
  return md ? dnnl_memory_desc_get_size (md) : 0;
}

ax_status
cpu_kernel_scratchpad (cpu_backend *be, cpu_kernel *k)
{
  cpu_prim *prims[4] = { &k->fwd, &k->bwd_data, &k->bwd_weights, &k->infer };
  size_t bytes = 0;
  for (int i = 0; i < 4; i++) {
    if (prims[i]->temp_bytes > k->head.temp_bytes)
      k->head.temp_bytes = prims[i]->temp_bytes;
    size_t b = cpu_prim_arg_bytes (prims[i], DNNL_ARG_SCRATCHPAD);
    bytes = b > bytes ? b : bytes;
    for (int j = 0; j < prims[i]->nargs; j++) {
      b = prims[i]->adapt[j].scratch_bytes;
      bytes = b > bytes ? b : bytes;
    }
  }
  if (k->head.temp_bytes && !k->uses_arena) {
    k->uses_arena = 1;
    be->arena_users++;
  }
  return cpu_shared_reserve (be, &be->scratch, &be->scratch_bytes, bytes,
      "scratchpad");
}

void
cpu_kernel_unbind (cpu_kernel *k)
{
  cpu_backend *be = CPU_BE (k->head.backend);
  if (!k->uses_arena)
    return;
  k->uses_arena = 0;
  if (--be->arena_users == 0) {
    cpu_free (be->arena);
    be->arena = NULL;
    be->arena_bytes = 0;
  }
}

ax_status
cpu_bind_temp (ax_kernel *kernel, void *forward, void *backward)
{
  cpu_kernel *k = CPU_K (kernel);
  k->fwd.temp = forward;
  k->infer.temp = forward;
  k->bwd_data.temp = backward;
  k->bwd_weights.temp = backward;
  cpu_kernel_unbind (k);
  return AX_OK;
}

/* Runs the reorders of the inputs (outputs = 0) or of the outputs. */
static dnnl_status_t
run_adapters (cpu_backend *be, cpu_prim *p, int outputs)
{
  for (int i = 0; i < p->nargs; i++) {
    cpu_adapter *a = &p->adapt[i];
    if (!a->reorder || a->is_output != outputs)
      continue;
    dnnl_exec_arg_t args[3] = {
      { DNNL_ARG_FROM, outputs ? p->args[i].memory : a->plain },
      { DNNL_ARG_TO, outputs ? a->plain : p->args[i].memory },
      { DNNL_ARG_SCRATCHPAD, a->scratch } };
    if (a->scratch) {
      dnnl_status_t st = dnnl_memory_set_data_handle (a->scratch, be->scratch);
      if (st != dnnl_success)
        return st;
    }
    dnnl_status_t st = dnnl_primitive_execute (a->reorder, be->stream,
        a->scratch ? 3 : 2, args);
    if (st != dnnl_success)
      return st;
  }
  return dnnl_success;
}

ax_status
cpu_prim_run (cpu_backend *be, cpu_prim *p, void *const *ptrs)
{
  for (int i = 0; i < p->nargs; i++) {
    int j = p->ptr_index[i];
    void *data = j < 0 ? be->scratch : ptrs[j];
    if (p->adapt[i].reorder) {
      DNNL_TRY (be, dnnl_memory_set_data_handle (p->adapt[i].plain, data));
      data = (p->temp ? p->temp : (char *) be->arena) + p->adapt[i].offset;
    }
    DNNL_TRY (be, dnnl_memory_set_data_handle (p->args[i].memory, data));
  }
  int before = threads_enter (be);
  dnnl_status_t st = run_adapters (be, p, 0);
  if (st == dnnl_success)
    st = dnnl_primitive_execute (p->prim, be->stream, p->nargs, p->args);
  if (st == dnnl_success)
    st = run_adapters (be, p, 1);
  if (st == dnnl_success)
    st = dnnl_stream_wait (be->stream);
  omp_set_num_threads (before);
  if (st != dnnl_success)
    return cpu_dnnl_fail (be, st, "dnnl_primitive_execute");
  return AX_OK;
}

ax_status
cpu_sgemm_add (cpu_backend *be, char transa, char transb, dnnl_dim_t m,
    dnnl_dim_t n, dnnl_dim_t k, const float *a, dnnl_dim_t lda,
    const float *b, dnnl_dim_t ldb, float *c, dnnl_dim_t ldc)
{
  int before = threads_enter (be);
  dnnl_status_t st = dnnl_sgemm (transa, transb, m, n, k, 1.0f, a, lda, b,
      ldb, 1.0f, c, ldc);
  omp_set_num_threads (before);
  if (st != dnnl_success)
    return cpu_dnnl_fail (be, st, "dnnl_sgemm");
  return AX_OK;
}

void
cpu_accumulate (cpu_backend *be, float *dst, const float *src, size_t n)
{
#pragma omp parallel for num_threads (be->threads) schedule (static)
  for (size_t i = 0; i < n; i++)
    dst[i] += src[i];
}
