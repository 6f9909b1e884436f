/* The CUDA backend, loaded at run time: libaxcuda.so (kernels/cuda/) is a
 * separate module that links the CUDA runtime, cuDNN, cuBLAS and NCCL, and
 * cuda_loader.c finds it with dlopen, so everything else runs on machines
 * without CUDA. See docs/cuda.md. */
#ifndef AX_CUDA_BACKEND_H
#define AX_CUDA_BACKEND_H

#include "kernels/backend/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices; 0 when the module, the runtime, the
 * driver or a GPU is missing, with the reason written into why (may be
 * NULL). Loads the module once, thread-safe (pthread_once). */
int ax_cuda_device_count (char *why, size_t why_size);

/* A backend on CUDA device `device` with its own stream; deterministic != 0
 * selects deterministic cuDNN algorithms. AX_ERR_UNSUPPORTED with the
 * reason in err when CUDA is unavailable. Every call of the backend may
 * come from any thread (one at a time per backend): each sets the device. */
ax_status ax_cuda_backend_create (int device, int deterministic,
    ax_backend **out, char *err, size_t err_size);

/* Nonzero if this build compiled the CUDA module at all. */
int ax_cuda_built (void);

/* What the loaded module was built with ("built with CUDA runtime 13000,
 * cuDNN 9.19.0, ..."), or NULL when no module could be loaded (the reason
 * is then what ax_cuda_device_count writes). */
const char *ax_cuda_module_description (void);

/* Nonzero if `be` is a CUDA backend. */
int ax_cuda_is_backend (const ax_backend *be);

/* The colour noise of ax_pca_jitter_rgb (colour.h) on the GPU: `pixels` is
 * device memory of `be` (e.g. a slab's base) holding a packed RGB 8-bit
 * image, rows `stride` bytes apart; changed in place on the backend's
 * stream. The same bytes as the CPU function. */
ax_status ax_cuda_colour_noise (ax_backend *be, void *pixels, int width,
    int height, size_t stride, const double alpha[3], const double eigval[3],
    const double eigvec[3][3]);

#ifdef __cplusplus
}
#endif
#endif
