/* The contract between cuda_loader.c (in the core) and the CUDA module
 * libaxcuda.so: the module exports one C function, AX_CUDA_MODULE_ENTRY,
 * that returns this table. The module fills in ax_backend_i tables and
 * struct heads compiled from the core's headers, so the loader refuses a
 * module built from other headers: the ABI version is bumped by hand when
 * this table changes, and the sizes catch a changed backend_impl.h. */
#ifndef AX_CUDA_MODULE_H
#define AX_CUDA_MODULE_H

#include "kernels/backend/backend_impl.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AX_CUDA_ABI_VERSION 4   /* 3: the batch norm slots; 4: the
                                 * adaptive average pool's */
#define AX_CUDA_MODULE_ENTRY "ax_cuda_module_v1"

typedef struct {
  uint32_t abi_version;         /* AX_CUDA_ABI_VERSION of the module */
  uint32_t table_size;          /* sizeof (ax_cuda_module) */
  uint32_t iface_size;          /* sizeof (ax_backend_i) */
  uint32_t backend_size;        /* sizeof (struct ax_backend) */
  uint32_t kernel_size;         /* sizeof (struct ax_kernel) */
  uint32_t op_size;             /* sizeof (ax_op) */
  const char *description;      /* "CUDA 13.0, cuDNN 9.19.0, ..." (built) */
  /* As ax_cuda_device_count, without the loading. */
  int (*device_count) (char *why, size_t why_size);
  ax_status (*backend_create) (int device, int deterministic,
      ax_backend **out, char *err, size_t err_size);
  int (*is_backend) (const ax_backend *be);
  ax_status (*colour_noise) (ax_backend *be, void *pixels, int width,
      int height, size_t stride, const int offsets[3]);
} ax_cuda_module;

typedef const ax_cuda_module *(*ax_cuda_module_entry) (void);

/* The module's entry point (defined in kernels/cuda/cu_backend.c). */
const ax_cuda_module *ax_cuda_module_v1 (void);

#ifdef __cplusplus
}
#endif
#endif
