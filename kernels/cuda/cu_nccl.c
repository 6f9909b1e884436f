/* The collectives of the CUDA backend on NCCL: one communicator per member
 * made together by ncclCommInitAll (one process, one device per member),
 * and an in-place sum queued on every member's stream in one NCCL group,
 * so later work on each stream sees the sum. */
#include "cu_internal.h"

#include <nccl.h>
#include <stdlib.h>

typedef struct {
  int n;
  ncclComm_t comms[];
} axcu_group;

/* ncclSystemError is any failed system call (sockets, shared memory,
 * threads), not only memory; ncclGetLastError has NCCL's own details. */
static ax_status
nccl_fail (axcu_backend *be, ncclResult_t r, const char *what)
{
  const char *detail = ncclGetLastError (NULL);
  return axcu_fail (be, AX_ERR_BACKEND, "%s: %s%s%s", what,
      ncclGetErrorString (r), detail && *detail ? ": " : "",
      detail ? detail : "");
}

ax_status
axcu_group_init (ax_backend **members, int n, void **state)
{
  axcu_backend *first = AXCU_BE (members[0]);
  int *devices = calloc ((size_t) n, sizeof *devices);
  if (!devices)
    return AX_ERR_NO_MEMORY;
  ax_status st = AX_OK;
  for (int i = 0; i < n && st == AX_OK; i++) {
    if (!axcu_is_backend (members[i])) {
      st = axcu_fail (first, AX_ERR_UNSUPPORTED, "group member %d is %s, "
          "not cuda", i, members[i]->iface->name);
      break;
    }
    devices[i] = AXCU_BE (members[i])->device;
    for (int j = 0; j < i; j++)
      if (devices[j] == devices[i])
        st = axcu_fail (first, AX_ERR_INVALID_ARG, "group members %d and %d "
            "are both on cuda:%d; NCCL needs one device per member", j, i,
            devices[i]);
  }
  axcu_group *g = st == AX_OK
      ? calloc (1, sizeof *g + (size_t) n * sizeof g->comms[0]) : NULL;
  if (st == AX_OK && !g)
    st = AX_ERR_NO_MEMORY;
  if (st == AX_OK) {
    ncclResult_t r = ncclCommInitAll (g->comms, n, devices);
    if (r != ncclSuccess)
      st = nccl_fail (first, r, "ncclCommInitAll");
  }
  free (devices);
  if (st != AX_OK) {
    free (g);
    return st;
  }
  g->n = n;
  *state = g;
  return AX_OK;
}

ax_status
axcu_group_allreduce_sum (void *state, ax_backend **members,
    ax_tensor **tensors, int n)
{
  axcu_group *g = state;
  axcu_backend *first = AXCU_BE (members[0]);
  size_t count = ax_shape_count (tensors[0]->shape);
  ax_status st = AX_OK;
  if (n != g->n)
    return axcu_fail (first, AX_ERR_INVALID_ARG, "group of %d, %d tensors",
        g->n, n);
  ncclResult_t r = ncclGroupStart ();
  if (r != ncclSuccess)
    return nccl_fail (first, r, "ncclGroupStart");
  for (int i = 0; i < n && st == AX_OK; i++) {
    axcu_backend *be = AXCU_BE (members[i]);
    cudaError_t e = cudaSetDevice (be->device);
    /* Errors go to members[0], as backend.h promises. */
    if (e != cudaSuccess)
      st = axcu_cuda_fail (first, e, "cudaSetDevice (a group member)");
    else if ((r = ncclAllReduce (tensors[i]->data, tensors[i]->data, count,
                ncclFloat, ncclSum, g->comms[i], be->stream)) != ncclSuccess)
      st = nccl_fail (first, r, "ncclAllReduce");
  }
  /* The group is closed whatever happened inside it. */
  r = ncclGroupEnd ();
  if (st == AX_OK && r != ncclSuccess)
    st = nccl_fail (first, r, "ncclGroupEnd");
  return st;
}

void
axcu_group_destroy (void *state)
{
  axcu_group *g = state;
  if (!g)
    return;
  /* One thread holds every rank: finalizing them one at a time could wait
   * in the first for the others (blocking communicators), so they are
   * finalized in one group and then destroyed, as NCCL's own
   * single-process example does. */
  if (ncclGroupStart () == ncclSuccess) {
    for (int i = 0; i < g->n; i++)
      if (g->comms[i])
        (void) ncclCommFinalize (g->comms[i]);
    (void) ncclGroupEnd ();
  }
  for (int i = 0; i < g->n; i++)
    if (g->comms[i])
      (void) ncclCommDestroy (g->comms[i]);
  free (g);
}
