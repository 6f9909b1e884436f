/* The network: a description as data (a list of layer specs, with builders
 * for the paper's AlexNet and torchvision's), and the network object that
 * plans memory and kernels once for (spec, batch, placement) and runs
 * forward, loss, backward and the paper's SGD update on one device or as
 * the paper's two towers. See docs/network.md. */
#ifndef AX_NET_H
#define AX_NET_H

#include "kernels/backend/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- the description --- */

typedef enum {
  AX_LAYER_CONV,          /* p.conv; groups = 2 keeps each tower on its own maps */
  AX_LAYER_RELU,
  AX_LAYER_LRN,           /* p.lrn; normalises within each of `groups` channel groups */
  AX_LAYER_MAXPOOL,       /* p.pool */
  AX_LAYER_AVGPOOL,       /* p.avgpool: torch.nn.AdaptiveAvgPool2d to out_h
                           * x out_w; a view (no data moves) when that is
                           * its input's size */
  AX_LAYER_DROPOUT,       /* p.dropout (inverted; identity in evaluation) */
  AX_LAYER_FLATTEN,       /* (N, C, H, W) seen as (N, C*H*W): no data moves */
  AX_LAYER_FC,            /* p.fc; the input flattened channel-major */
  AX_LAYER_BATCHNORM,     /* p.bn: torch.nn.BatchNorm2d over the channels;
                           * parameters weight, bias and buffers
                           * running_mean, running_var, num_batches_tracked */
} ax_layer_kind;

#define AX_NAME_MAX 32
/* vgg19_bn is 62 layers (53 feature modules, then avgpool, flatten and
 * the classifier's 7) */
#define AX_NET_MAX_LAYERS 96

typedef struct {
  ax_layer_kind kind;
  char name[AX_NAME_MAX];         /* "conv1", "pool5": for messages and activations */
  char param_prefix[AX_NAME_MAX]; /* "conv1" or "features.0": parameters are
                                   * "<prefix>.weight" and "<prefix>.bias"
                                   * (and batch norm's buffers
                                   * "<prefix>.running_mean" ...) */
  union {
    ax_conv_params conv;
    ax_lrn_params lrn;
    ax_pool_params pool;
    ax_fc_params fc;
    ax_dropout_params dropout;
    ax_bn_params bn;
    ax_avgpool_params avgpool;  /* out_h, out_w */
  } p;
  int groups;                     /* LRN only: 1, or 2 for the two towers */
  float bias_init;                /* the paper's initial bias (1 or 0) */
} ax_layer_spec;

typedef struct {
  char arch[AX_NAME_MAX];         /* "alexnet-paper", "alexnet-torchvision" */
  int in_c, in_h, in_w;           /* the image */
  int n_classes;
  int n_layers;
  ax_layer_spec layers[AX_NET_MAX_LAYERS];
} ax_net_spec;

/* The paper's AlexNet (design.md's table): 96/256/384/384/256 kernels,
 * groups 2 in conv2, conv4, conv5, LRN after ReLU 1 and 2, overlapping
 * max-pool, fc 4096-4096-n_classes with dropout 0.5, input in_size square
 * (224 in the paper; smaller sizes for tests, e.g. 67 or 99). */
ax_status ax_net_spec_alexnet_paper (ax_net_spec *spec, int n_classes,
    int in_size);
/* torchvision's single-tower AlexNet: 64/192/384/256/256, no LRN, adaptive
 * average pool to 6x6, dropout before fc6 and fc7; parameters named as
 * torchvision names them ("features.0.weight" ... "classifier.6.bias"). */
ax_status ax_net_spec_alexnet_torchvision (ax_net_spec *spec, int n_classes,
    int in_size);
/* Simonyan and Zisserman's VGG configuration `arch` (Table 1 of the
 * paper): "vgg-a", "vgg-a-lrn", "vgg-b", "vgg-c" (1x1 convolutions last in
 * blocks 3 to 5), "vgg-d", "vgg-e", or torchvision's names for A, B, D, E
 * ("vgg11", "vgg13", "vgg16", "vgg19"); spec->arch is the paper's name.
 * 3x3 convolutions with padding 1, 2x2 max-pools of stride 2, torchvision's
 * adaptive average pool to 7x7 (the identity at 224; any in_size is built,
 * and ax_net_create refuses one below 32, saying so), fc 4096-4096-
 * n_classes with dropout 0.5 after the first two; biases 0. Parameters are
 * named as torchvision names them ("features.0.weight",
 * "classifier.6.bias"; A-LRN's LRN takes an index too, C's as D's).
 * The batch-norm variants "vgg-a-bn", "vgg-b-bn", "vgg-d-bn", "vgg-e-bn"
 * (torchvision's "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn") put a
 * BatchNorm2d (AX_BN_TORCH) between every convolution and its ReLU, which
 * counts in features.N as in torchvision (vgg11_bn: features.0 conv,
 * features.1 batch norm, features.2 ReLU, features.3 pool, features.4
 * conv ...). AX_ERR_UNSUPPORTED for another name. */
ax_status ax_net_spec_vgg (ax_net_spec *spec, const char *arch, int n_classes,
    int in_size);
/* 1 when `arch` names one of the VGG configurations above (either name,
 * batch-norm variants included), else 0. */
int ax_net_arch_is_vgg (const char *arch);
/* The builder named by a spec's arch ("alexnet-paper",
 * "alexnet-torchvision", the VGG names above): how a checkpoint's metadata
 * rebuilds its net. AX_ERR_UNSUPPORTED for an unknown name. */
ax_status ax_net_spec_by_arch (ax_net_spec *spec, const char *arch,
    int n_classes, int in_size);
/* Divides every conv and hidden fc width of a spec by `div` (widths must
 * stay even where groups or towers split them): small nets for tests. */
ax_status ax_net_spec_narrow (ax_net_spec *spec, int div);
/* Appends a layer; AX_ERR_INVALID_ARG when full or the name is too long. */
ax_status ax_net_spec_add (ax_net_spec *spec, const ax_layer_spec *layer);

/* --- the network object --- */

typedef enum {
  AX_PLACE_ONE = 0,       /* one backend instance, grouped convolutions */
  AX_PLACE_TOWERS,        /* two backend instances, one tower each, each on
                           * its own worker thread (the paper's AlexNet: a
                           * spec with batch norm is AX_ERR_UNSUPPORTED) */
  AX_PLACE_DATA,          /* data-parallel: R backend instances (R
                           * replicas), each a whole net (as AX_PLACE_ONE)
                           * on batch / R images on its own worker thread;
                           * gradients summed across them (ax_group) after
                           * backward, as PyTorch's DDP does; batch norm
                           * normalises each replica's shard with its own
                           * statistics and replica 0's running statistics
                           * are every replica's (DDP's broadcast_buffers,
                           * without SyncBatchNorm) */
} ax_placement;

typedef enum {
  AX_INIT_PAPER = 0,      /* weights N(0, 0.01), biases from bias_init */
  AX_INIT_XAVIER,         /* Xavier-uniform weights, zero biases */
  AX_INIT_TORCH,          /* PyTorch's default (kaiming_uniform a=sqrt 5) */
} ax_init;

#define AX_NET_MAX_REPLICAS 8

typedef struct {
  int batch;              /* images per step, over all replicas */
  ax_placement placement;
  int training;           /* 0: inference only (no gradients, no momentum) */
  /* The backends: one for AX_PLACE_ONE, two (one per tower) for
   * AX_PLACE_TOWERS; for AX_PLACE_DATA one distinct instance per replica,
   * the replicas being the leading non-NULL entries (their number must
   * divide batch). Owned by the caller, who destroys them after the net. */
  ax_backend *backends[AX_NET_MAX_REPLICAS];
} ax_net_config;

typedef struct ax_net ax_net;

/* Plans every shape, slab and kernel for cfg->batch; nothing is allocated
 * afterwards. Parameters start at zero (batch norm's running variances at
 * 1, as PyTorch's): call ax_net_init or set them.
 * On failure the reason goes to err (err_size bytes; may be NULL). */
ax_status ax_net_create (const ax_net_spec *spec, const ax_net_config *cfg,
    ax_net **out, char *err, size_t err_size);
void ax_net_destroy (ax_net *net);
/* Details of the last error ("" if none). */
const char *ax_net_last_error (const ax_net *net);
const ax_net_spec *ax_net_get_spec (const ax_net *net);
/* Bytes of the slabs on all backends (parameters, gradients, momentum,
 * activations). */
size_t ax_net_memory_bytes (const ax_net *net);

/* Draws every parameter (`init`, a stream per parameter from `seed`),
 * zeroes the momentum and the step counter; batch norm starts as PyTorch's
 * whatever the scheme (weight 1, bias 0, running mean 0, running variance
 * 1, num_batches_tracked 0). */
ax_status ax_net_init (ax_net *net, ax_init init, uint64_t seed);

/* Forward pass over `batch` images (NCHW floats, count = batch*C*H*W).
 * training: dropout on (mask from the dropout seed and the step counter),
 * batch norm on the batch's statistics, updating its running statistics
 * and counting num_batches_tracked (as PyTorch's train()); otherwise
 * (eval()) batch norm uses the running statistics and changes nothing. */
ax_status ax_net_forward (ax_net *net, const float *images, size_t count,
    int training);
/* Softmax cross-entropy of the last forward's logits against labels
 * (count = batch); *mean_loss receives the mean over the batch. */
ax_status ax_net_loss (ax_net *net, const int32_t *labels, size_t count,
    float *mean_loss);
/* Gradients of the mean loss w.r.t. every parameter (written, not
 * accumulated), after a training-mode forward and ax_net_loss. Replicas
 * then sum theirs (ax_group), so each holds the whole batch's gradient. */
ax_status ax_net_backward (ax_net *net);
/* The paper's update on every parameter (v = m v - wd lr w - lr g; w += v),
 * then the step counter advances. Refuses non-finite gradients and then
 * changes nothing. */
ax_status ax_net_update (ax_net *net, const ax_sgd_step *step);
/* Logits (batch x classes) or probabilities (after ax_net_loss) to host. */
ax_status ax_net_logits (ax_net *net, float *host, size_t count);
ax_status ax_net_probs (ax_net *net, float *host, size_t count);
/* The output of the named layer (e.g. "relu7" for feature vectors) after
 * a forward, whole (both towers' maps joined, every replica's samples in
 * order), as (batch, C, H, W) floats. Refused (AX_ERR_INVALID_ARG) after a
 * backward, which reuses the activations' memory (the logits stay), and
 * for a convolution, fc or batch-norm layer whose output a ReLU rectifies
 * in place (the message names the ReLU). */
ax_status ax_net_activation (ax_net *net, const char *layer, float *host,
    size_t count);
ax_status ax_net_activation_shape (const ax_net *net, const char *layer,
    ax_shape *shape);
/* Replicas of an AX_PLACE_DATA net (1 for the other placements). */
int ax_net_n_replicas (const ax_net *net);

/* Profiling: with it on, each pass adds the time every layer takes (its
 * exchange included) on each tower (or replica); ax_net_profile reads the
 * sums. */
void ax_net_set_profiling (ax_net *net, int on);
ax_status ax_net_profile (const ax_net *net, int layer, int tower,
    double *forward_s, double *backward_s);

/* --- parameters by name, in PyTorch layout whatever the placement --- */

typedef enum {
  AX_PARAM_VALUE = 0,
  AX_PARAM_GRAD,
  AX_PARAM_MOMENTUM,      /* the paper's v; PyTorch's buffer is -v / lr */
} ax_param_buffer;

typedef enum {
  AX_PARAM_F32 = 0,       /* read and written with ax_net_param_get/_set */
  AX_PARAM_I64,           /* with ax_net_param_get_i64/_set_i64 */
} ax_param_dtype;

/* The network's state by name: its parameters (trained) and its buffers
 * (PyTorch's module buffers: batch norm's running_mean, running_var and
 * num_batches_tracked; not to be confused with ax_param_buffer above). A
 * buffer is saved and loaded with the parameters (checkpoints, state
 * dicts) but never trained: it has no gradient and no momentum
 * (AX_PARAM_GRAD and AX_PARAM_MOMENTUM are refused for it, and ax_net_init
 * resets it to PyTorch's start: running_mean 0, running_var 1, counter 0).
 * A training-mode forward updates the buffers; evaluation reads them. */
typedef struct {
  char name[AX_NAME_MAX + 24];    /* "conv2.weight", "features.1.running_var" */
  int ndim;                       /* 4 conv weight, 2 fc weight, 1 bias or a
                                   * per-channel vector, 0 a scalar */
  int dims[4];                    /* [out, in/groups, kh, kw], [out, in], [out] */
  size_t count;                   /* 1 for a scalar */
  int layer;                      /* index in the spec */
  int is_buffer;                  /* 1: a buffer, see above */
  ax_param_dtype dtype;           /* AX_PARAM_I64: num_batches_tracked (a
                                   * scalar, as torchvision's int64 []) */
} ax_param_info;

int ax_net_n_params (const ax_net *net);
const ax_param_info *ax_net_param (const ax_net *net, int index);
/* -1 if there is no such parameter or buffer. */
int ax_net_param_find (const ax_net *net, const char *name);
/* F32 parameters and buffers. Buffers have only AX_PARAM_VALUE
 * (AX_ERR_INVALID_ARG otherwise, and for an I64 one). A data-parallel
 * net's replicas hold equal values (see docs/network.md for batch norm's
 * running statistics): get reads replica 0, set writes every replica. */
ax_status ax_net_param_get (ax_net *net, int index, ax_param_buffer which,
    float *host, size_t count);
/* Rejects NaN and infinity (AX_ERR_NONFINITE) and, for running_var, a
 * negative value (AX_ERR_INVALID_ARG), and leaves the net as it was. */
ax_status ax_net_param_set (ax_net *net, int index, ax_param_buffer which,
    const float *host, size_t count);
/* I64 buffers (num_batches_tracked: count 1). set refuses a negative
 * count (AX_ERR_INVALID_ARG). */
ax_status ax_net_param_get_i64 (ax_net *net, int index, int64_t *host,
    size_t count);
ax_status ax_net_param_set_i64 (ax_net *net, int index, const int64_t *host,
    size_t count);

/* SGD steps taken (also the dropout mask counter); the dropout seed. */
uint64_t ax_net_step (const ax_net *net);
void ax_net_set_step (ax_net *net, uint64_t step);
uint64_t ax_net_dropout_seed (const ax_net *net);
void ax_net_set_dropout_seed (ax_net *net, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
