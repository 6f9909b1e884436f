/* A stand-in for libaxcuda.so built from other headers: the right entry
 * point, a table of another ABI. test_cuda_loader checks that the loader
 * refuses it by name rather than calling into it. */
#include "kernels/cuda/cuda_module.h"

static const ax_cuda_module stale = {
  .abi_version = AX_CUDA_ABI_VERSION + 1000,
  .table_size = sizeof (ax_cuda_module),
  .iface_size = sizeof (ax_backend_i) + 8,  /* a slot added since */
  .backend_size = sizeof (struct ax_backend),
  .kernel_size = sizeof (struct ax_kernel),
  .op_size = sizeof (ax_op),
  .description = "stale",
};

const ax_cuda_module *
ax_cuda_module_v1 (void)
{
  return &stale;
}
