/* Groups of backends that sum tensors across themselves (the gradient
 * all-reduce of data-parallel training). Members of one kind with group
 * slots (NCCL on CUDA) use them; otherwise the sum goes through host
 * memory here, in a fixed order, so that every member ends bitwise equal. */
#include "kernels/backend/backend_impl.h"

#include <stdlib.h>
#include <string.h>

#define GROUP_MAX 64
/* Elements summed per block on the host: the block of member 0 stays in
 * cache while the others are added and it is copied out. */
#define HOST_BLOCK 4096

struct ax_group {
  int n;
  ax_backend *members[GROUP_MAX];
  int slots;              /* the members' own group slots run the sum */
  void *state;            /* from group_init */
  /* Host path for members whose memory is not host memory: the running
   * sum and one member's download. Grown on demand and kept, so a net
   * that reduces the same tensors every step allocates only once. */
  float *sum, *recv;
  size_t cap;             /* floats in each of sum and recv */
};

static int
all_host (const ax_group *g)
{
  for (int i = 0; i < g->n; i++)
    if (!g->members[i]->iface->host_memory)
      return 0;
  return 1;
}

ax_status
ax_group_create (ax_backend **members, int n, ax_group **out)
{
  if (!out)
    return AX_ERR_INVALID_ARG;
  *out = NULL;
  ax_backend *first = members && n > 0 ? members[0] : NULL;
  if (!members || n < 1 || n > GROUP_MAX)
    return ax_backend_fail (first, AX_ERR_INVALID_ARG,
        "group: %d members (1 to %d)", n, GROUP_MAX);
  for (int i = 0; i < n; i++) {
    if (!members[i])
      return ax_backend_fail (first, AX_ERR_INVALID_ARG,
          "group: member %d is NULL", i);
    for (int j = 0; j < i; j++)
      if (members[j] == members[i])
        return ax_backend_fail (first, AX_ERR_INVALID_ARG,
            "group: members %d and %d are one backend", j, i);
  }
  ax_group *g = calloc (1, sizeof *g);
  if (!g)
    return ax_backend_fail (first, AX_ERR_NO_MEMORY, "group");
  g->n = n;
  memcpy (g->members, members, (size_t) n * sizeof *members);
  const ax_backend_i *iface = members[0]->iface;
  int same = 1;
  for (int i = 1; i < n; i++)
    same &= members[i]->iface == iface;
  if (same && iface->group_init && iface->group_allreduce_sum) {
    ax_status st = iface->group_init (g->members, n, &g->state);
    if (st != AX_OK) {
      free (g);
      return st;
    }
    g->slots = 1;
  }
  *out = g;
  return AX_OK;
}

void
ax_group_destroy (ax_group *g)
{
  if (!g)
    return;
  if (g->slots && g->members[0]->iface->group_destroy)
    g->members[0]->iface->group_destroy (g->state);
  free (g->sum);
  free (g->recv);
  free (g);
}

static ax_status
check_tensors (ax_group *g, ax_tensor **tensors)
{
  ax_backend *be = g->members[0];
  if (!tensors)
    return ax_backend_fail (be, AX_ERR_INVALID_ARG, "allreduce: no tensors");
  for (int i = 0; i < g->n; i++) {
    const ax_tensor *t = tensors[i];
    if (!t || !t->backend || !t->data || !ax_shape_valid (t->shape))
      return ax_backend_fail (be, AX_ERR_INVALID_ARG,
          "allreduce: tensor %d is NULL or empty", i);
    if (t->backend != g->members[i])
      return ax_backend_fail (be, AX_ERR_WRONG_BACKEND,
          "allreduce: tensor %d is not on member %d", i, i);
    if (t->dtype != AX_F32 || !ax_shape_equal (t->shape, tensors[0]->shape))
      return ax_backend_fail (be, AX_ERR_SHAPE,
          "allreduce: tensor %d is not F32 %dx%dx%dx%d like tensor 0", i,
          tensors[0]->shape.n, tensors[0]->shape.c, tensors[0]->shape.h,
          tensors[0]->shape.w);
  }
  return AX_OK;
}

/* Every member in host memory: sum in place, block by block, member 0 +
 * member 1 + ... in that order, then copy the sum to the others. Blocks
 * are shared among the caller's OpenMP threads; each element's order of
 * summation stays the same, so the result does not depend on them. */
static void
sum_in_host_memory (ax_group *g, ax_tensor **tensors, size_t count)
{
  float *acc = tensors[0]->data;
  size_t blocks = (count + HOST_BLOCK - 1) / HOST_BLOCK;
#pragma omp parallel for schedule (static) if (blocks > 16)
  for (size_t b = 0; b < blocks; b++) {
    size_t b0 = b * HOST_BLOCK;
    size_t len = count - b0 < HOST_BLOCK ? count - b0 : HOST_BLOCK;
    for (int i = 1; i < g->n; i++) {
      const float *x = (const float *) tensors[i]->data + b0;
      for (size_t j = 0; j < len; j++)
        acc[b0 + j] += x[j];
    }
    for (int i = 1; i < g->n; i++)
      memcpy ((float *) tensors[i]->data + b0, acc + b0, len * sizeof *acc);
  }
}

static ax_status
grow (ax_group *g, size_t count)
{
  if (count <= g->cap)
    return AX_OK;
  float *sum = realloc (g->sum, count * sizeof *sum);
  if (sum)
    g->sum = sum;
  float *recv = sum ? realloc (g->recv, count * sizeof *recv) : NULL;
  if (recv)
    g->recv = recv;
  if (!sum || !recv)
    return ax_backend_fail (g->members[0], AX_ERR_NO_MEMORY,
        "allreduce: %zu floats of host scratch", count);
  g->cap = count;
  return AX_OK;
}

/* Some member's memory is not host memory: download each tensor (or read
 * it where it is host memory), sum in member order, write the sum back. */
static ax_status
sum_through_host (ax_group *g, ax_tensor **tensors, size_t count)
{
  size_t bytes = count * sizeof (float);
  ax_copy2d c = { bytes, 1, bytes, bytes };
  ax_status st = grow (g, count);
  for (int i = 0; i < g->n && st == AX_OK; i++) {
    ax_backend *be = g->members[i];
    const float *x = tensors[i]->data;
    float *dst = i == 0 ? g->sum : g->recv;
    if (!be->iface->host_memory) {
      st = be->iface->download (be, dst, tensors[i]->data, &c);
      x = dst;
    }
    if (st != AX_OK)
      break;
    if (i == 0 && x != g->sum)
      memcpy (g->sum, x, bytes);
    else if (i > 0)
      for (size_t j = 0; j < count; j++)
        g->sum[j] += x[j];
  }
  for (int i = 0; i < g->n && st == AX_OK; i++) {
    ax_backend *be = g->members[i];
    if (be->iface->host_memory)
      memcpy (tensors[i]->data, g->sum, bytes);
    else
      st = be->iface->upload (be, tensors[i]->data, g->sum, &c);
  }
  return st;
}

ax_status
ax_group_allreduce_sum (ax_group *g, ax_tensor **tensors)
{
  if (!g)
    return AX_ERR_INVALID_ARG;
  ax_status st = check_tensors (g, tensors);
  if (st != AX_OK)
    return st;
  if (g->slots)
    return g->members[0]->iface->group_allreduce_sum (g->state, g->members,
        tensors, g->n);
  size_t count = ax_shape_count (tensors[0]->shape);
  if (all_host (g)) {
    sum_in_host_memory (g, tensors, count);
    return AX_OK;
  }
  return sum_through_host (g, tensors, count);
}
