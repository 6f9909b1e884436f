/* An inference network straight from a checkpoint file: the spec rebuilt
 * from the file's metadata (architecture, classes, input size, width
 * divisor), planned for a batch on the CPU or CUDA (one device or the
 * paper's two towers) and loaded. What alexnet-infer runs; usable by any program. */
#ifndef AX_NET_INFER_H
#define AX_NET_INFER_H

#include "kernels/nn/net.h"
#include "kernels/nn/net_backends.h"
#include "kernels/nn/net_checkpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  ax_net *net;
  ax_backend *backends[2];      /* owned: one, or one per tower */
  int width_divisor;            /* the ax_net_spec_narrow divisor used */
} ax_infer_net;

/* Builds and loads the network of `path` (whose metadata the caller read
 * into `info` with ax_net_checkpoint_read_info) for `batch` images:
 * towers = 0 runs one backend (a CPU instance of `threads` threads, 0: one
 * per core), towers = 1 the paper's two towers, on `device` as
 * ax_backends_create places them; where CUDA was wanted but cannot run,
 * the CPU is used and `note` (may be NULL) says why; conv_algo is the CPU's
 * ax_conv_algo (0: auto). Without a width_divisor key the
 * divisor is read from the width of conv1.weight (features.0.weight)
 * against the full architecture's, so narrowed checkpoints written by
 * other tools load too. On failure `m` is left empty and err says what is
 * wrong, starting with the file's name. */
ax_status ax_infer_net_open (ax_infer_net *m, const char *path,
    const ax_net_checkpoint_info *info, int batch, int towers, int threads,
    ax_device device, int conv_algo, char *note, size_t note_size, char *err,
    size_t err_size);
/* Destroys the net, then its backends; `m` may be empty. */
void ax_infer_net_close (ax_infer_net *m);

#ifdef __cplusplus
}
#endif
#endif
