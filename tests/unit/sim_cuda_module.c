/* A simulated CUDA module for the host: the loader's real contract, with
 * "GPUs" that are one-thread CPU backends. AX_SIM_CUDA_DEVICES sets how many
 * devices it reports (default 2); every backend it creates is recorded, so
 * tests can check where ax_backends_create put the towers and replicas,
 * and the elements can run their CUDA path on a machine without a GPU. */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cuda/cuda_module.h"

#define MAX_CREATED 64

static int created_devices[MAX_CREATED];
static int n_created;

static int
sim_device_count (char *why, size_t why_size)
{
  const char *env = getenv ("AX_SIM_CUDA_DEVICES");
  int n = env ? atoi (env) : 2;
  if (n <= 0 && why && why_size)
    snprintf (why, why_size, "the simulated module has no devices");
  return n > 0 ? n : 0;
}

static ax_status
sim_backend_create (int device, int deterministic, ax_backend **out,
    char *err, size_t err_size)
{
  ax_status st;
  (void) deterministic;
  if (device < 0 || device >= sim_device_count (NULL, 0)) {
    snprintf (err, err_size, "no simulated device %d", device);
    return AX_ERR_INVALID_ARG;
  }
  st = ax_cpu_backend_create (1, out);
  if (st == AX_OK && n_created < MAX_CREATED)
    created_devices[n_created++] = device;
  return st;
}

static int
sim_is_backend (const ax_backend *be)
{
  (void) be;
  return 0;
}

static ax_status
sim_colour_noise (ax_backend *be, void *pixels, int width, int height,
    size_t stride, const int offsets[3])
{
  (void) be; (void) pixels; (void) width; (void) height; (void) stride;
  (void) offsets;
  return AX_ERR_UNSUPPORTED;
}

static const ax_cuda_module sim = {
  .abi_version = AX_CUDA_ABI_VERSION,
  .table_size = sizeof (ax_cuda_module),
  .iface_size = sizeof (ax_backend_i),
  .backend_size = sizeof (struct ax_backend),
  .kernel_size = sizeof (struct ax_kernel),
  .op_size = sizeof (ax_op),
  .description = "simulated CUDA module (CPU backends)",
  .device_count = sim_device_count,
  .backend_create = sim_backend_create,
  .is_backend = sim_is_backend,
  .colour_noise = sim_colour_noise,
};

const ax_cuda_module *
ax_cuda_module_v1 (void)
{
  return &sim;
}

/* For tests: how many backends were created, and on which devices. */
int
ax_sim_cuda_created (int *devices, int max)
{
  for (int i = 0; i < n_created && i < max; i++)
    devices[i] = created_devices[i];
  return n_created;
}

void
ax_sim_cuda_reset (void)
{
  n_created = 0;
}
