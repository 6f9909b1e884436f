/* Dense evaluation (Simonyan and Zisserman, section 3.2): the fully
 * connected layers applied as convolutions over a whole image, so that one
 * pass gives a class score map, which is averaged spatially. fc6 becomes a
 * convolution whose kernel is the map it saw at the training input size
 * (7x7 for VGG at 224, 6x6 for AlexNet), with the adaptive average pool
 * before it folded into its weights; fc7 and fc8 become 1x1 convolutions.
 * At the training size the score map is 1x1 and equals the logits of the
 * ordinary net. See docs/classifying.md. */
#ifndef AX_NET_DENSE_H
#define AX_NET_DENSE_H

#include "kernels/nn/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The fully convolutional spec of `src`'s spec for img_h x img_w images.
 * AX_ERR_SHAPE, with the reason in err, when the image is smaller than the
 * training input in either dimension (the score map would be empty);
 * AX_ERR_UNSUPPORTED for a net without fully connected layers. */
ax_status ax_net_dense_spec (const ax_net *src, int img_h, int img_w,
    ax_net_spec *dense, char *err, size_t err_size);

/* Sets every parameter of `dense` (a net of an ax_net_dense_spec) from
 * `src`: the ordinary net, whose fc weights are folded and reshaped, or
 * another dense net of the same source (a plain copy). */
ax_status ax_net_dense_load (ax_net *dense, ax_net *src);

/* One forward pass of `dense` over its batch (NCHW floats, count =
 * batch * C * H * W), then the class score map averaged spatially: the
 * scores (batch x n_classes, before any softmax) into `scores`. `map` is
 * caller scratch of ax_net_dense_map_count floats. */
ax_status ax_net_dense_scores (ax_net *dense, const float *images,
    size_t count, float *map, float *scores);
size_t ax_net_dense_map_count (const ax_net *dense);

#ifdef __cplusplus
}
#endif
#endif
