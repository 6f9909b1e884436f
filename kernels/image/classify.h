/* The per-image arithmetic of classification that surrounds the network:
 * 8-bit RGB crops to normalised planar floats (as torchvision's ToTensor +
 * Normalize compute them), softmax averaged over views (the paper's
 * ten-crop test), and the k most probable classes. Plain C, no GStreamer. */
#ifndef AX_CLASSIFY_H
#define AX_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* lut[c][v] = ((float) v / 255 - mean[c]) / std[c], in float32 exactly as
 * torchvision's ToTensor() then Normalize(mean, std) compute it. */
void ax_rgb_norm_lut (float lut[3][256], const float mean[3],
    const float std[3]);

/* dst (3 planes of h x w floats, C-major as PyTorch's NCHW sample) from
 * src (h rows of w packed RGB pixels, src_stride bytes apart). */
void ax_rgb_to_chw (float *dst, const uint8_t *src, int src_stride, int w,
    int h, const float lut[3][256]);

/* probs[n] = mean over the n_views rows of logits (n_views x n) of their
 * softmax; each softmax is computed in double, max-subtracted. */
void ax_softmax_average (float *probs, const float *logits, int n_views,
    int n);

/* The k largest entries of probs[n], largest first (ties: lower index
 * first); k is clamped to n. Returns the number written. */
int ax_top_k (int *indices, float *values, const float *probs, int n, int k);

#ifdef __cplusplus
}
#endif
#endif
