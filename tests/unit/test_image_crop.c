/* ax_crop_flip_rgb copies the right pixels (checked one by one), mirrors,
 * honours strides; ten-crop positions follow torchvision's TenCrop; random
 * train crops cover the whole range and flip half of the time. */
#include "kernels/image/image_crop.h"
#include "tests/ax_test.h"

#include <stdlib.h>
#include <string.h>

/* Pixel (x, y) channel c of the test image: unique enough to locate it. */
static uint8_t
pix (int x, int y, int c)
{
  return (uint8_t) (x * 7 + y * 13 + c * 101 + (x * y) % 17);
}

static uint8_t *
make_image (int w, int h, int stride)
{
  uint8_t *img = malloc ((size_t) stride * h);
  memset (img, 0xEE, (size_t) stride * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        img[(size_t) y * stride + x * 3 + c] = pix (x, y, c);
  return img;
}

static void
check_crop (int W, int H, int src_pad, int x, int y, int w, int h, int dst_pad,
    int mirror)
{
  int stride = W * 3 + src_pad, dstride = w * 3 + dst_pad, bad = 0, pad = 0;
  uint8_t *src = make_image (W, H, stride);
  uint8_t *dst = malloc ((size_t) dstride * h);

  memset (dst, 0x5A, (size_t) dstride * h);
  ax_crop_flip_rgb (dst, dstride, src, stride, x, y, w, h, mirror);
  for (int r = 0; r < h; r++) {
    for (int i = 0; i < w; i++) {
      int sx = mirror ? x + w - 1 - i : x + i;
      for (int c = 0; c < 3; c++)
        bad += dst[(size_t) r * dstride + i * 3 + c] != pix (sx, y + r, c);
    }
    for (int i = w * 3; i < dstride; i++)
      pad += dst[(size_t) r * dstride + i] != 0x5A;
  }
  AX_CHECK (bad == 0, "%dx%d crop %dx%d+%d+%d mirror %d: %d wrong values", W,
      H, w, h, x, y, mirror, bad);
  AX_CHECK (pad == 0, "crop wrote %d bytes of row padding", pad);
  free (src);
  free (dst);
}

static void
test_crop_pixels (void)
{
  check_crop (256, 256, 0, 0, 0, 224, 224, 0, 0);
  check_crop (256, 256, 0, 32, 32, 224, 224, 0, 1);
  check_crop (37, 29, 5, 3, 7, 11, 13, 9, 0);
  check_crop (37, 29, 5, 26, 16, 11, 13, 9, 1);
  check_crop (9, 9, 0, 8, 8, 1, 1, 0, 1);
  check_crop (9, 9, 3, 0, 0, 9, 9, 1, 1);
}

static void
test_mirror_twice (void)
{
  /* Mirroring a mirrored crop gives the plain crop back. */
  int W = 31, H = 20, s = W * 3;
  uint8_t *src = make_image (W, H, s);
  uint8_t a[20 * 31 * 3], b[20 * 31 * 3], c[20 * 31 * 3];
  ax_crop_flip_rgb (a, s, src, s, 0, 0, W, H, 1);
  ax_crop_flip_rgb (b, s, a, s, 0, 0, W, H, 1);
  ax_crop_flip_rgb (c, s, src, s, 0, 0, W, H, 0);
  AX_CHECK (memcmp (b, c, sizeof (b)) == 0, "mirror twice is not identity");
  AX_CHECK (memcmp (a, c, sizeof (a)) != 0, "mirror did nothing");
  AX_CHECK (a[0] == pix (W - 1, 0, 0) && a[1] == pix (W - 1, 0, 1)
      && a[2] == pix (W - 1, 0, 2), "mirror keeps channel order");
  free (src);
}

static void
test_center (void)
{
  ax_crop_pos p = ax_center_crop_pos (256, 256, 224);
  AX_CHECK (p.x == 16 && p.y == 16 && !p.mirror, "256->224 centre %d,%d",
      p.x, p.y);
  /* torchvision: int(round(1 / 2.0)) = 0, int(round(3 / 2.0)) = 2,
   * int(round(5 / 2.0)) = 2 (half to even) */
  p = ax_center_crop_pos (225, 227, 224);
  AX_CHECK (p.x == 0 && p.y == 2, "odd margins %d,%d", p.x, p.y);
  p = ax_center_crop_pos (229, 224, 224);
  AX_CHECK (p.x == 2 && p.y == 0, "margin 5: %d,%d", p.x, p.y);
}

/* The VGG paper's 5x5 grid and its mirrors on a 300x260 image, 224 crops:
 * x steps of 76 / 4 = 19, y of 36 / 4 = 9; the corners reach the edges. */
static void
test_grid_crop (void)
{
  ax_crop_pos pos[50];
  ax_grid_crop_pos (pos, 5, 300, 260, 224);
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 5; j++)
      for (int m = 0; m < 2; m++) {
        const ax_crop_pos *p = &pos[m * 25 + i * 5 + j];
        AX_CHECK (p->x == 19 * j && p->y == 9 * i && p->mirror == m,
            "grid view %d: %d,%d,%d", m * 25 + i * 5 + j, p->x, p->y,
            p->mirror);
      }
  AX_CHECK (pos[24].x + 224 == 300 && pos[24].y + 224 == 260,
      "the last window does not reach the corner");
  /* a margin that 4 does not divide: rounded down, still inside */
  ax_grid_crop_pos (pos, 5, 230, 224, 224);
  AX_CHECK (pos[1].x == 1 && pos[2].x == 3 && pos[3].x == 4 && pos[4].x == 6
      && pos[4].y == 0, "grid over a margin of 6: %d %d %d %d", pos[1].x,
      pos[2].x, pos[3].x, pos[4].x);
  /* n = 1: the centre crop and its mirror */
  ax_grid_crop_pos (pos, 1, 256, 250, 224);
  AX_CHECK (pos[0].x == 16 && pos[0].y == 13 && !pos[0].mirror
      && pos[1].x == 16 && pos[1].mirror, "1x1 grid");
}

static void
test_ten_crop (void)
{
  /* expected views of a 256x250 image, 224 crop: the last five are the
   * five crops of the mirrored image, expressed in original coordinates */
  static const int want[10][3] = {
    { 0, 0, 0 }, { 32, 0, 0 }, { 0, 26, 0 }, { 32, 26, 0 }, { 16, 13, 0 },
    { 32, 0, 1 }, { 0, 0, 1 }, { 32, 26, 1 }, { 0, 26, 1 }, { 16, 13, 1 },
  };
  ax_crop_pos pos[10];
  ax_ten_crop_pos (pos, 256, 250, 224);
  for (int i = 0; i < 10; i++)
    AX_CHECK (pos[i].x == want[i][0] && pos[i].y == want[i][1]
        && pos[i].mirror == want[i][2], "view %d: %d,%d,%d want %d,%d,%d", i,
        pos[i].x, pos[i].y, pos[i].mirror, want[i][0], want[i][1],
        want[i][2]);

  /* margin 3: centre x = round(1.5) = 2; in the mirrored image also 2,
   * which is x = 3 - 2 = 1 of the original */
  ax_ten_crop_pos (pos, 227, 224, 224);
  AX_CHECK (pos[4].x == 2 && pos[9].x == 1 && pos[9].mirror,
      "odd-margin centre views %d and %d", pos[4].x, pos[9].x);

  /* view 5's pixels are the mirrored image's top-left window */
  {
    int W = 12, H = 9, S = 8, s = W * 3;
    uint8_t *src = make_image (W, H, s), flipped[12 * 9 * 3];
    uint8_t v5[8 * 8 * 3], tl[8 * 8 * 3];
    ax_ten_crop_pos (pos, W, H, S);
    ax_crop_flip_rgb (flipped, s, src, s, 0, 0, W, H, 1);
    ax_crop_flip_rgb (tl, S * 3, flipped, s, 0, 0, S, S, 0);
    ax_crop_flip_rgb (v5, S * 3, src, s, pos[5].x, pos[5].y, S, S,
        pos[5].mirror);
    AX_CHECK (memcmp (v5, tl, sizeof (tl)) == 0,
        "view 5 is not the top-left crop of the mirrored image");
    free (src);
  }
}

static void
test_random_stats (void)
{
  ax_rng rng;
  const int W = 256, H = 240, S = 224, N = 20000;
  int seen_x[33] = { 0 }, seen_y[17] = { 0 }, flips = 0, out = 0;
  int covered_x = 0, covered_y = 0;
  double mean_x = 0.0;

  ax_rng_seed (&rng, 1234);
  for (int i = 0; i < N; i++) {
    ax_crop_pos p = ax_random_crop_pos (&rng, W, H, S);

    if (p.x < 0 || p.x > W - S || p.y < 0 || p.y > H - S) {
      out++;
      continue;
    }
    seen_x[p.x]++;
    seen_y[p.y]++;
    flips += p.mirror != 0;
    mean_x += p.x;
  }
  for (int i = 0; i <= W - S; i++)
    covered_x += seen_x[i] > 0;
  for (int i = 0; i <= H - S; i++)
    covered_y += seen_y[i] > 0;
  mean_x /= N;
  AX_CHECK (out == 0, "%d crops outside the image", out);
  AX_CHECK (covered_x == W - S + 1, "x covers %d of %d positions", covered_x,
      W - S + 1);
  AX_CHECK (covered_y == H - S + 1, "y covers %d of %d positions", covered_y,
      H - S + 1);
  /* 0.5 +- 5 sigma, sigma = sqrt(0.25 / N) = 0.0035 */
  AX_CHECK (fabs ((double) flips / N - 0.5) < 0.018, "flip rate %.4f",
      (double) flips / N);
  AX_CHECK (fabs (mean_x - 16.0) < 0.5, "mean x %.3f, want 16", mean_x);
  /* a crop as large as the image can only sit at 0,0 */
  {
    ax_crop_pos p = ax_random_crop_pos (&rng, S, S, S);
    AX_CHECK (p.x == 0 && p.y == 0, "full-size crop at %d,%d", p.x, p.y);
  }
}

static void
test_random_reproducible (void)
{
  ax_rng a, b, c;
  int diff_c = 0, same_b = 1;
  ax_rng_seed (&a, 5);
  ax_rng_seed (&b, 5);
  ax_rng_seed (&c, 6);
  for (int i = 0; i < 100; i++) {
    ax_crop_pos p = ax_random_crop_pos (&a, 256, 256, 224);
    ax_crop_pos q = ax_random_crop_pos (&b, 256, 256, 224);
    ax_crop_pos r = ax_random_crop_pos (&c, 256, 256, 224);
    same_b &= p.x == q.x && p.y == q.y && p.mirror == q.mirror;
    diff_c += p.x != r.x || p.y != r.y || p.mirror != r.mirror;
  }
  AX_CHECK (same_b, "same seed gave different crops");
  AX_CHECK (diff_c > 90, "different seeds agreed on %d of 100 crops",
      100 - diff_c);
}

int
main (void)
{
  AX_RUN (test_crop_pixels);
  AX_RUN (test_mirror_twice);
  AX_RUN (test_center);
  AX_RUN (test_ten_crop);
  AX_RUN (test_grid_crop);
  AX_RUN (test_random_stats);
  AX_RUN (test_random_reproducible);
  return ax_test_finish ();
}
