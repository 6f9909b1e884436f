/* Test-time evaluation as Simonyan and Zisserman evaluated (section 3.2 and
 * 4.3 of the VGG paper), for any net of the description, VGG or AlexNet:
 * each image rescaled isotropically to every test scale Q (its shorter
 * side), then
 *  - dense: the fully convolutional net (net_dense.h) over the whole
 *    rescaled image and over its mirror; each class score map averaged
 *    spatially, then the softmax; the two softmaxes averaged;
 *  - multi-crop: a 5x5 grid of crops of the input size and their mirrors
 *    (50 views per scale, ax_grid_crop_pos) through the ordinary net, their
 *    softmaxes averaged;
 *  - combined: the mean of the two;
 * and the results of the scales averaged. What alexnet-infer's
 * views=dense, multi-crop and combined run; usable by any program. See
 * docs/classifying.md. */
#ifndef AX_NET_EVAL_H
#define AX_NET_EVAL_H

#include <stdint.h>

#include "kernels/nn/net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  AX_EVAL_DENSE = 1,
  AX_EVAL_MULTI_CROP = 2,
  AX_EVAL_COMBINED = 3,         /* both */
} ax_eval_views;

#define AX_EVAL_MAX_SCALES 8
#define AX_EVAL_GRID 5
#define AX_EVAL_CROPS (2 * AX_EVAL_GRID * AX_EVAL_GRID)

/* "dense", "multi-crop", "combined": what results files call them. */
const char *ax_eval_views_name (ax_eval_views views);

/* Test scales from text such as "256,384,512": decimal integers separated
 * by commas (spaces allowed around them), each in [min_scale, 4096], at
 * most AX_EVAL_MAX_SCALES; a locale's decimal comma is no concern, as
 * these are integers. AX_ERR_INVALID_ARG with the reason in err for text
 * that cannot be parsed, an empty list or a scale out of range. */
ax_status ax_eval_parse_scales (const char *text, int min_scale,
    int scales[AX_EVAL_MAX_SCALES], int *n_scales, char *err,
    size_t err_size);

typedef struct ax_eval ax_eval;

/* An evaluator over `net` (forward-only; its batch must be AX_EVAL_CROPS
 * when views include multi-crop, any otherwise), whose dense nets are
 * planned on backend `be` (the net's own, one device) as images of new
 * sizes arrive (the last four sizes are kept). lut: the checkpoint's
 * normalisation (ax_net_checkpoint_input_lut). `net` and `be` must outlive
 * the evaluator. */
ax_status ax_eval_create (ax_net *net, ax_backend *be, ax_eval_views views,
    const int *scales, int n_scales, const float lut[3][256], ax_eval **out,
    char *err, size_t err_size);
void ax_eval_destroy (ax_eval *e);
/* The class probabilities (n_classes floats) of one packed RGB image of
 * w x h pixels, stride bytes per row. */
ax_status ax_eval_image (ax_eval *e, const uint8_t *rgb, int w, int h,
    int stride, float *probs);
/* What went wrong in the last failed call ("" if none). */
const char *ax_eval_last_error (const ax_eval *e);

#ifdef __cplusplus
}
#endif
#endif
