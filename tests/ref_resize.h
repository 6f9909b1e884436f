/* The independent float64 reference of torchvision's Resize(S) +
 * CenterCrop(S) on PIL images (BILINEAR with antialiasing), shared by the
 * kernel's unit test and resize-256's element test. */
#ifndef AX_TEST_REF_RESIZE_H
#define AX_TEST_REF_RESIZE_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* torchvision: shorter side to S, longer int(S * long / short), crop at
 * int(round(d / 2.0)) — rint rounds half to even as Python's round. */
static inline void
ref_geometry (int w, int h, int S, int *sw, int *sh, int *cx, int *cy)
{
  if (w <= h) {
    *sw = S;
    *sh = (int) floor ((double) S * h / w);
  } else {
    *sh = S;
    *sw = (int) floor ((double) S * w / h);
  }
  *cx = (int) rint ((*sw - S) / 2.0);
  *cy = (int) rint ((*sh - S) / 2.0);
}

/* Weights of output o along an axis: a triangle of half-width
 * max(in/out, 1) around the output centre, in input units, normalised. */
static inline void
ref_weights (double *wt, int in, int out, int o)
{
  double scale = (double) in / out, fs = scale > 1.0 ? scale : 1.0;
  double centre = (o + 0.5) * scale, sum = 0.0;
  for (int i = 0; i < in; i++) {
    double d = fabs (i + 0.5 - centre) / fs;
    wt[i] = d < 1.0 ? 1.0 - d : 0.0;
    sum += wt[i];
  }
  for (int i = 0; i < in; i++)
    wt[i] /= sum;
}

/* Float64 resize of the whole w x h image to sw x sh, output the window
 * (cx, cy, S, S) as S*S*3 bytes; separable, rounded once at the end. */
static inline void
ref_resize (uint8_t *dst, const uint8_t *src, int stride, int w, int h,
    int sw, int sh, int cx, int cy, int S)
{
  double *wx = malloc (sizeof (double) * w), *wy = malloc (sizeof (double) * h);
  double *rows = malloc (sizeof (double) * (size_t) h * S * 3);

  for (int ox = 0; ox < S; ox++) {
    ref_weights (wx, w, sw, cx + ox);
    for (int y = 0; y < h; y++)
      for (int c = 0; c < 3; c++) {
        double a = 0.0;
        for (int x = 0; x < w; x++)
          a += wx[x] * src[(size_t) y * stride + x * 3 + c];
        rows[((size_t) y * S + ox) * 3 + c] = a;
      }
  }
  for (int oy = 0; oy < S; oy++) {
    ref_weights (wy, h, sh, cy + oy);
    for (int i = 0; i < S * 3; i++) {
      double a = 0.0;
      for (int y = 0; y < h; y++)
        a += wy[y] * rows[(size_t) y * S * 3 + i];
      long v = lround (a);
      dst[(size_t) oy * S * 3 + i] = (uint8_t) (v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
  free (wx);
  free (wy);
  free (rows);
}

/* Resize(S) + CenterCrop(S) of a w x h image. */
static inline void
ref_resize_center (uint8_t *dst, const uint8_t *src, int stride, int w,
    int h, int S)
{
  int sw, sh, cx, cy;
  ref_geometry (w, h, S, &sw, &sh, &cx, &cy);
  ref_resize (dst, src, stride, w, h, sw, sh, cx, cy, S);
}

#endif
