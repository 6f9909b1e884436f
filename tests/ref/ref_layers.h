/* Naive float64 reference layers, written for clarity rather than speed:
 * the ground truth that every backend is tested against, and whose backward
 * passes are themselves checked against finite differences. */
#ifndef AX_REF_LAYERS_H
#define AX_REF_LAYERS_H

#include "kernels/backend/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Shapes as in ops.h: data NCHW, conv weight [out, in/groups, kh, kw],
 * fc weight [out, C*H*W]. Backward writes din and accumulates (+=) dw, db;
 * din, b and db may be NULL. */
void ref_conv_forward (double *out, const double *in, const double *w,
    const double *b, ax_shape in_shape, const ax_conv_params *p);
void ref_conv_backward (double *din, double *dw, double *db,
    const double *dout, const double *in, const double *w, ax_shape in_shape,
    const ax_conv_params *p);

void ref_relu_forward (double *out, const double *in, size_t n);
void ref_relu_backward (double *din, const double *dout, const double *out,
    size_t n);

void ref_lrn_forward (double *out, const double *in, ax_shape shape,
    const ax_lrn_params *p);
void ref_lrn_backward (double *din, const double *dout, const double *in,
    ax_shape shape, const ax_lrn_params *p);

/* Ties go to the first maximum in row-major window order. */
void ref_maxpool_forward (double *out, const double *in, ax_shape in_shape,
    const ax_pool_params *p);
void ref_maxpool_backward (double *din, const double *dout, const double *in,
    ax_shape in_shape, const ax_pool_params *p);

void ref_fc_forward (double *out, const double *in, const double *w,
    const double *b, int batch, int in_features, int out_features);
void ref_fc_backward (double *din, double *dw, double *db, const double *dout,
    const double *in, const double *w, int batch, int in_features,
    int out_features);

/* The same mask as every backend (layer_math.h), in float64. */
void ref_dropout (double *out, const double *in, size_t n, uint64_t key,
    float p);

void ref_softmax_xent_forward (double *losses, double *probs,
    const double *logits, const int32_t *labels, int batch, int classes);
void ref_softmax_xent_backward (double *dlogits, const double *probs,
    const int32_t *labels, int batch, int classes, double scale);

void ref_sgd_update (double *w, double *v, const double *g, size_t n,
    double lr, double momentum, double weight_decay);

/* torch.nn.BatchNorm2d. training: normalises each channel with the mean and
 * biased variance of its N*H*W values (written to mean and var, C each, if
 * not NULL) and updates running_mean and running_var (momentum, unbiased
 * variance); otherwise normalises with running_mean and running_var.
 * Backward is training mode's, from the batch statistics of `in`: din
 * written, dw and db accumulated. */
void ref_batchnorm_forward (double *out, double *mean, double *var,
    double *running_mean, double *running_var, const double *in,
    const double *w, const double *b, ax_shape shape, const ax_bn_params *p,
    int training);
void ref_batchnorm_backward (double *din, double *dw, double *db,
    const double *dout, const double *in, const double *w, ax_shape shape,
    const ax_bn_params *p);

/* torch.nn.AdaptiveAvgPool2d((oh, ow)) of `in` (shape s), written from
 * PyTorch's definition with floor and ceil in float64 (not layer_math.h's
 * integer form): out cell (i, j) is the mean of rows [floor(i H / oh),
 * ceil((i + 1) H / oh)) and columns likewise. Backward scatters each
 * output gradient in equal shares over its window, adding where windows
 * overlap; din written. */
void ref_avgpool_forward (double *out, const double *in, ax_shape s, int oh,
    int ow);
void ref_avgpool_backward (double *din, const double *dout, ax_shape s,
    int oh, int ow);

#ifdef __cplusplus
}
#endif
#endif
