/* A network to and from a checkpoint file (safetensors, docs/checkpoint-
 * format.md): parameters under the network's own names, the description
 * needed to rebuild it (architecture, classes, input size, normalisation,
 * LRN constants) and, for resuming exactly, momentum, counters and RNG. */
#ifndef AX_NET_CHECKPOINT_H
#define AX_NET_CHECKPOINT_H

#include "kernels/nn/net.h"
#include "kernels/util/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a checkpoint says besides the weights. Strings are owned by the
 * struct after ax_net_checkpoint_read_info (free with _info_clear); when
 * saving they are only read. */
typedef struct {
  char arch[AX_NAME_MAX];         /* "alexnet-paper", "alexnet-torchvision" */
  int n_classes;
  int input_size;                 /* 224 */
  int width_divisor;              /* 1, or the ax_net_spec_narrow divisor of
                                   * a small (test) network */
  char **class_names;             /* n_classes names, or NULL */
  int has_normalization;
  float mean[3], std[3];          /* RGB, 0..1 scale: x' = (x - mean) / std */
  ax_lrn_params lrn;              /* the spec's LRN constants (informative) */
  char *init;                     /* JSON text, e.g. {"scheme":"xavier",...} */
  /* training state: meaningful when has_training_state */
  int has_training_state;         /* momentum.* tensors and counters present */
  uint64_t step;
  uint64_t epoch;
  double learning_rate;
  uint64_t dropout_seed;
  int has_rng;
  ax_rng rng;                     /* the trainer's RNG (shuffles, crops...) */
  char *extra;                    /* JSON text kept for the caller, or NULL */
} ax_net_checkpoint_info;

void ax_net_checkpoint_info_clear (ax_net_checkpoint_info *info);

/* The byte -> normalised float table (ax_rgb_norm_lut: torchvision's
 * ToTensor then Normalize, in float32) of a network whose checkpoint
 * metadata is `info`: its mean and std, or the identity x / 255 when it
 * has none. The one place a frame's normalisation is decided: alexnet-train
 * takes its table from the info it writes into its checkpoints, and
 * alexnet-infer from the info it reads, so both feed the network the same
 * numbers; a frame then becomes the input tensor by ax_rgb_to_chw. */
void ax_net_checkpoint_input_lut (const ax_net_checkpoint_info *info,
    float lut[3][256]);

/* Writes every parameter of `net` (and, when info->has_training_state, its
 * momentum buffers and counters) with the metadata of `info` (arch and
 * n_classes are taken from the net's spec) to `path`, atomically: the old
 * file stays whole until the new one is complete. */
ax_status ax_net_checkpoint_save (ax_net *net, const char *path,
    const ax_net_checkpoint_info *info, char *err, size_t err_size);

/* Reads only the metadata of `path`, so a caller can build the spec
 * (ax_net_spec_by_arch (info->arch, info->n_classes, info->input_size))
 * and the net before loading. Errors name the file and the problem. */
ax_status ax_net_checkpoint_read_info (const char *path,
    ax_net_checkpoint_info *info, char *err, size_t err_size);

/* Loads the parameters of `path` into `net`, checking that the file's
 * architecture and class count are the net's and that every parameter is
 * present with the net's shape; with `resume`, also momentum, step and
 * dropout seed (an error if the file has no training state). Nothing in
 * the net changes unless everything is valid. `info` (may be NULL)
 * receives the file's metadata. For alexnet-torchvision, the conv1..fc8
 * names and torchvision's features.N / classifier.N names are accepted
 * both ways. */
ax_status ax_net_checkpoint_load (ax_net *net, const char *path, int resume,
    ax_net_checkpoint_info *info, char *err, size_t err_size);

/* Initialisation from another architecture (the VGG paper trained A, then
 * started B to E from its first four conv layers and its fc layers):
 * copies into `net` the parameters (and batch-norm buffers) of every layer
 * of `path`'s network whose layer name (conv1_1, conv3_2, fc6, as
 * docs/network.md names them) is a layer of `net` with the same parameter
 * shapes, or only of those named in `only` (comma-separated; NULL: every
 * match). The other layers keep their values. `copied` receives the
 * copied layers' names, comma-separated ("" if none), and `skipped` those
 * with the name but other shapes. The file's metadata must describe a net
 * this library builds (architecture, classes, input size, width divisor);
 * nothing changes unless every copied tensor is valid. */
ax_status ax_net_checkpoint_copy_layers (ax_net *net, const char *path,
    const char *only, char *copied, size_t copied_size, char *skipped,
    size_t skipped_size, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif
