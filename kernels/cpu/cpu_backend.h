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

/* How blocked 3x3, stride-1, ungrouped convolutions (all of VGG's; AlexNet's
 * conv3-5 in towers) compute, for kernels prepared from now on:
 *  - AUTO (the default): oneDNN's Winograd F(4x4, 3x3) where oneDNN
 *    implements it on this processor (AVX-512) and the batch (the part of
 *    it a kernel runs on) is at least AX_CONV_WINOGRAD_MIN_BATCH; direct
 *    elsewhere (batch 1 is faster direct).
 *  - DIRECT: oneDNN's direct convolutions always; agrees with a float64
 *    reference to 1e-5 (the PyTorch-equivalence tests).
 *  - WINOGRAD: Winograd for every such layer, whatever the batch; a layer
 *    oneDNN cannot run so here fails to prepare (AX_ERR_UNSUPPORTED).
 * Winograd does about 2.25x fewer multiplications; it rounds differently
 * (gradients within about 1e-4 of float64's rather than 1e-5). Other
 * convolutions and the plain layout (ax_cpu_backend_set_blocked_conv off)
 * are direct in every mode. */
typedef enum {
  AX_CONV_ALGO_AUTO = 0,
  AX_CONV_ALGO_DIRECT,
  AX_CONV_ALGO_WINOGRAD,
} ax_conv_algo;
#define AX_CONV_WINOGRAD_MIN_BATCH 8
void ax_cpu_backend_set_conv_algo (ax_backend *be, ax_conv_algo algo);
/* The algorithm's name ("auto", "direct", "winograd"; NULL if unknown), and
 * back (-1 for a name that is none of them). */
const char *ax_conv_algo_name (ax_conv_algo algo);
int ax_conv_algo_parse (const char *name);

#ifdef __cplusplus
}
#endif
#endif
