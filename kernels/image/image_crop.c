/* Crop + mirror of RGB images and the positions of train/test crops. */
#include "kernels/image/image_crop.h"

#include <string.h>

void
ax_crop_flip_rgb (uint8_t *dst, int dst_stride, const uint8_t *src,
    int src_stride, int x, int y, int w, int h, int mirror)
{
  for (int r = 0; r < h; r++) {
    const uint8_t *restrict in = src + (size_t) (y + r) * src_stride
        + (size_t) x * 3;
    uint8_t *restrict out = dst + (size_t) r * dst_stride;

    if (!mirror) {
      memcpy (out, in, (size_t) w * 3);
    } else {
      const uint8_t *last = in + (size_t) (w - 1) * 3;
      for (int i = 0; i < w; i++) {
        out[3 * i + 0] = last[-3 * i + 0];
        out[3 * i + 1] = last[-3 * i + 1];
        out[3 * i + 2] = last[-3 * i + 2];
      }
    }
  }
}

/* Python's int(round(d / 2.0)) for d >= 0: halves go to the even side. */
static int
half_round_even (int d)
{
  int q = d / 2;
  return q + ((d & 1) && (q & 1));
}

ax_crop_pos
ax_center_crop_pos (int src_w, int src_h, int size)
{
  ax_crop_pos p;
  p.x = half_round_even (src_w - size);
  p.y = half_round_even (src_h - size);
  p.mirror = 0;
  return p;
}

void
ax_ten_crop_pos (ax_crop_pos pos[10], int src_w, int src_h, int size)
{
  const int dx = src_w - size, dy = src_h - size;
  ax_crop_pos c = ax_center_crop_pos (src_w, src_h, size);

  pos[0] = (ax_crop_pos) { 0, 0, 0 };
  pos[1] = (ax_crop_pos) { dx, 0, 0 };
  pos[2] = (ax_crop_pos) { 0, dy, 0 };
  pos[3] = (ax_crop_pos) { dx, dy, 0 };
  pos[4] = c;
  /* The same five windows taken from the mirrored image: a window at x in
   * the mirrored image is the window at dx - x of the original, mirrored. */
  for (int i = 0; i < 5; i++) {
    pos[5 + i].x = dx - pos[i].x;
    pos[5 + i].y = pos[i].y;
    pos[5 + i].mirror = 1;
  }
}

void
ax_grid_crop_pos (ax_crop_pos *pos, int n, int src_w, int src_h, int size)
{
  if (n == 1) {
    pos[0] = ax_center_crop_pos (src_w, src_h, size);
    pos[1] = pos[0];
    pos[1].mirror = 1;
    return;
  }
  const long dx = src_w - size, dy = src_h - size;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      ax_crop_pos p = { (int) (j * dx / (n - 1)), (int) (i * dy / (n - 1)), 0 };
      pos[i * n + j] = p;
      p.mirror = 1;
      pos[n * n + i * n + j] = p;
    }
}

ax_crop_pos
ax_random_crop_pos (ax_rng *rng, int src_w, int src_h, int size)
{
  ax_crop_pos p;
  p.x = (int) ax_rng_below (rng, (uint32_t) (src_w - size + 1));
  p.y = (int) ax_rng_below (rng, (uint32_t) (src_h - size + 1));
  p.mirror = (int) (ax_rng_u64 (rng) >> 63);
  return p;
}
