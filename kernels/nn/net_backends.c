/* Device selection for a placement: see net_backends.h. */
#include "kernels/nn/net_backends.h"

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cuda/cuda_backend.h"

#include <stdio.h>
#include <string.h>

void
ax_backends_destroy (ax_backend **out, int n)
{
  for (int i = 0; i < n; i++)
    if (out[i]) {
      ax_backend_destroy (out[i]);
      out[i] = NULL;
    }
}

static ax_status
create_cpu (const ax_backends_request *req, ax_backend **out, char *err,
    size_t err_size)
{
  for (int i = 0; i < req->n; i++) {
    ax_status st = ax_cpu_backend_create (req->n > 1 ? 1 : req->cpu_threads,
        &out[i]);
    if (st != AX_OK) {
      snprintf (err, err_size, "cannot start the CPU backend: %s",
          ax_status_str (st));
      ax_backends_destroy (out, i);
      return st;
    }
    ax_cpu_backend_set_conv_algo (out[i], (ax_conv_algo) req->conv_algo);
  }
  return AX_OK;
}

/* The CUDA backends; AX_ERR_UNSUPPORTED (with why) when CUDA cannot run
 * here, any other status for a placement that cannot be met. */
static ax_status
create_cuda (const ax_backends_request *req, ax_backend **out, char *why,
    size_t why_size)
{
  int count = ax_cuda_device_count (why, why_size);
  if (count <= 0)
    return AX_ERR_UNSUPPORTED;
  if (req->placement == AX_PLACE_DATA && req->n > count) {
    snprintf (why, why_size, "%d data-parallel replicas need %d GPUs (one "
        "each, for NCCL); this machine has %d", req->n, req->n, count);
    return AX_ERR_INVALID_ARG;
  }
  for (int i = 0; i < req->n; i++) {
    /* towers: 0 and 1 on two GPUs, both on 0 (two streams) on one */
    int device = req->placement == AX_PLACE_ONE ? 0 : i % count;
    char e[256] = "";
    ax_status st = ax_cuda_backend_create (device, req->deterministic,
        &out[i], e, sizeof e);
    if (st != AX_OK) {
      snprintf (why, why_size, "CUDA device %d: %s", device, e);
      ax_backends_destroy (out, i);
      return st == AX_ERR_INVALID_ARG ? AX_ERR_UNSUPPORTED : st;
    }
  }
  return AX_OK;
}

ax_status
ax_backends_create (const ax_backends_request *req, ax_backend **out,
    ax_device *used, char *note, size_t note_size, char *err,
    size_t err_size)
{
  char why[384] = "";
  ax_status st;

  if (note && note_size)
    note[0] = '\0';
  if (err && err_size)
    err[0] = '\0';
  if (!req || !out || !used || req->n < 1 || req->n > AX_NET_MAX_REPLICAS) {
    if (err && err_size)
      snprintf (err, err_size, "bad backend request");
    return AX_ERR_INVALID_ARG;
  }
  for (int i = 0; i < req->n; i++)
    out[i] = NULL;

  if (req->device != AX_DEVICE_CPU) {
    st = create_cuda (req, out, why, sizeof why);
    if (st == AX_OK) {
      *used = AX_DEVICE_CUDA;
      return AX_OK;
    }
    if (st != AX_ERR_UNSUPPORTED) {
      if (err && err_size)
        snprintf (err, err_size, "%s", why);
      return st;
    }
    if (note && note_size)
      snprintf (note, note_size, "no usable CUDA device (%s): using the CPU",
          why);
  }
  st = create_cpu (req, out, err, err_size);
  if (st == AX_OK)
    *used = AX_DEVICE_CPU;
  return st;
}
