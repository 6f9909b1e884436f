/* Crops of packed 8-bit RGB images, optionally mirrored left-right, and the
 * crop positions of AlexNet's data augmentation: random train crops, the
 * centre crop, and torchvision's TenCrop views. */
#ifndef AX_IMAGE_CROP_H
#define AX_IMAGE_CROP_H

#include <stdint.h>

#include "kernels/util/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A crop window of the source image; mirror != 0 flips it left-right. */
typedef struct {
  int x, y;
  int mirror;
} ax_crop_pos;

/* dst (w x h, dst_stride) = src window at (x, y), mirrored if asked.
 * The caller guarantees the window lies inside the source image. */
void ax_crop_flip_rgb (uint8_t *dst, int dst_stride, const uint8_t *src,
    int src_stride, int x, int y, int w, int h, int mirror);

/* Centre crop offsets as torchvision's CenterCrop: int(round((W - size) /
 * 2.0)), round half to even. Needs src_w, src_h >= size. */
ax_crop_pos ax_center_crop_pos (int src_w, int src_h, int size);

/* The ten views of torchvision's TenCrop(size): top-left, top-right,
 * bottom-left, bottom-right, centre, then the same five crops of the
 * mirrored image (so view 5, the mirrored image's top-left, is the
 * original's top-right window mirrored). Needs src_w, src_h >= size. */
void ax_ten_crop_pos (ax_crop_pos pos[10], int src_w, int src_h, int size);

/* The VGG paper's multi-crop views: an n x n regular grid of size x size
 * windows spanning the image (window j of a row at x = j * (src_w - size)
 * / (n - 1), rounded down; n = 1: the centre crop), row by row, then the
 * same n * n windows mirrored: 2 n^2 positions (50 for the paper's n = 5).
 * Needs src_w, src_h >= size and n >= 1. */
void ax_grid_crop_pos (ax_crop_pos *pos, int n, int src_w, int src_h,
    int size);

/* A train crop: x uniform in [0, src_w - size], y in [0, src_h - size],
 * mirror with probability 0.5, drawn in that order from rng. */
ax_crop_pos ax_random_crop_pos (ax_rng *rng, int src_w, int src_h, int size);

#ifdef __cplusplus
}
#endif
#endif
