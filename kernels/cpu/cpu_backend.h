/* The CPU backend: oneDNN for convolution, LRN, pooling, ReLU and fully
 * connected layers, hand-written OpenMP loops for the rest; fp32. Each
 * instance has its own oneDNN engine, stream and thread count. */
#ifndef AX_CPU_BACKEND_H
#define AX_CPU_BACKEND_H

#include "kernels/backend/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* n_threads: OpenMP threads this instance runs its ops on; 0 takes
 * omp_get_max_threads() (OMP_NUM_THREADS, or one per core). */
ax_status ax_cpu_backend_create (int n_threads, ax_backend **out);
int ax_cpu_backend_threads (const ax_backend *be);
/* Convolutions prepared from now on run in oneDNN's blocked layouts behind
 * reorders (on, the default: faster) or straight on the plain tensors
 * (im2col + GEMM). Results agree to rounding; tests run both. */
void ax_cpu_backend_set_blocked_conv (ax_backend *be, int on);
/* Blocked convolutions of training (not forward-only) kernels prepared
 * from now on run on halves, quarters...
 * of the batch until a part's src and dst take at most `bytes` (0: the
 * default, 64 MiB), which bounds their layout copies. Tests make it small
 * to run the parts at small sizes. */
void ax_cpu_backend_set_chunk_bytes (ax_backend *be, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
