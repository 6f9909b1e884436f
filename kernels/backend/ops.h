/* The layer operations, described once for every backend: the op type, the
 * input shape and the parameters. ax_op_shapes derives every other shape
 * (output, weight, bias) and rejects impossible parameters. */
#ifndef AX_OPS_H
#define AX_OPS_H

#include "kernels/backend/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  AX_OP_CONV,             /* convolution with groups, stride, padding, bias */
  AX_OP_RELU,             /* max(x, 0) */
  AX_OP_LRN,              /* local response normalisation across channels */
  AX_OP_MAXPOOL,          /* max pooling */
  AX_OP_FC,               /* fully connected (inner product) */
  AX_OP_DROPOUT,          /* inverted dropout with a counter-based mask */
  AX_OP_SOFTMAX_XENT,     /* softmax with cross-entropy against labels */
  AX_OP_SGD,              /* SGD with momentum and weight decay (the paper's) */
  AX_OP_BATCHNORM,        /* batch normalisation over channels (BatchNorm2d) */
  AX_OP_AVGPOOL,          /* adaptive average pooling (AdaptiveAvgPool2d) */
  AX_OP_COUNT
} ax_op_type;

typedef struct {
  int out_channels;
  int kernel_h, kernel_w;
  int stride;             /* same in both directions */
  int pad;                /* zero padding on every side */
  int groups;             /* 1, or 2 for the paper's two towers on one device */
  int has_bias;
} ax_conv_params;

/* b = a / (k + alpha' * sum over `size` adjacent maps of a^2)^beta where
 * alpha' = alpha (the paper) or alpha / size (Caffe, cuDNN, oneDNN, PyTorch,
 * chosen with alpha_divided_by_size). */
typedef struct {
  int size;
  double alpha, beta, k;
  int alpha_divided_by_size;
} ax_lrn_params;

#define AX_LRN_PAPER ((ax_lrn_params) { 5, 1e-4, 0.75, 2.0, 0 })
#define AX_LRN_CAFFE ((ax_lrn_params) { 5, 1e-4, 0.75, 1.0, 1 })

/* The factor in front of the sum of squares, whatever the convention. */
static inline double
ax_lrn_alpha_per_term (const ax_lrn_params *p)
{
  return p->alpha_divided_by_size ? p->alpha / p->size : p->alpha;
}

typedef struct {
  int kernel;             /* square window */
  int stride;
  int pad;                /* padded cells never win the max */
} ax_pool_params;

typedef struct {
  int out_features;       /* the input is flattened C*H*W, channel-major */
  int has_bias;
} ax_fc_params;

typedef struct {
  float p;                /* probability of dropping; kept units scale 1/(1-p) */
  uint32_t stream;        /* tells apart the masks of two layers at one step */
} ax_dropout_params;

/* torch.nn.BatchNorm2d (affine, tracking running statistics): over the
 * N*H*W values of each channel c,
 *   y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c
 * with the batch's mean and biased variance in training, after which
 *   running_mean = (1 - momentum) running_mean + momentum mean
 *   running_var = (1 - momentum) running_var + momentum var * n / (n - 1)
 * (the unbiased variance, n = N*H*W), and with running_mean and running_var
 * in evaluation. */
typedef struct {
  double eps;             /* > 0; PyTorch's 1e-5 */
  double momentum;        /* in [0, 1]; PyTorch's 0.1 */
} ax_bn_params;

#define AX_BN_TORCH ((ax_bn_params) { 1e-5, 0.1 })

/* torch.nn.AdaptiveAvgPool2d((out_h, out_w)): output cell (i, j) of each
 * map is the mean of input rows [floor(i H / out_h), ceil((i + 1) H /
 * out_h)) and columns likewise (layer_math.h's ax_adaptive_window): any
 * input size, windows overlapping or repeating (out larger than in). */
typedef struct {
  int out_h, out_w;       /* >= 1 */
} ax_avgpool_params;

/* Per-call hyper-parameters of the SGD update (lr changes during training). */
typedef struct {
  float lr, momentum, weight_decay;
} ax_sgd_step;

typedef struct {
  ax_op_type type;
  ax_shape in;            /* input shape; the parameter shape for SGD */
  union {
    ax_conv_params conv;
    ax_lrn_params lrn;
    ax_pool_params pool;
    ax_fc_params fc;
    ax_dropout_params dropout;
    ax_bn_params bn;
    ax_avgpool_params avgpool;
  } p;
  int forward_only;       /* inference: no backward, no workspace */
  /* Dropout: the mask index of the input's element 0 (element i draws the
   * mask of index0 + i). 0 unless the input is a shard of a larger batch
   * (a data-parallel replica's samples), whose parts then draw the masks
   * the whole batch would. */
  uint64_t index0;
} ax_op;

/* Every shape an op touches. Absent tensors have count 0 (all dims 0). */
typedef struct {
  ax_shape in, out, weight, bias;
} ax_op_shapes_t;

/* Fills `shapes` for `op`; AX_ERR_INVALID_ARG or AX_ERR_SHAPE if the
 * parameters do not fit the input. */
ax_status ax_op_shapes (const ax_op *op, ax_op_shapes_t *shapes);

const char *ax_op_name (ax_op_type type);

#ifdef __cplusplus
}
#endif
#endif
