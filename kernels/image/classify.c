/* Normalisation of crops, softmax over views and top-k: classify.h. */
#include "kernels/image/classify.h"

#include <math.h>

void
ax_rgb_norm_lut (float lut[3][256], const float mean[3], const float std[3])
{
  for (int c = 0; c < 3; c++)
    for (int v = 0; v < 256; v++) {
      float x = (float) v / 255.0f;   /* ToTensor: float32 division */
      lut[c][v] = (x - mean[c]) / std[c];     /* Normalize: sub_, div_ */
    }
}

void
ax_rgb_to_chw (float *dst, const uint8_t *src, int src_stride, int w, int h,
    const float lut[3][256])
{
  size_t plane = (size_t) w * h;

  for (int y = 0; y < h; y++) {
    const uint8_t *row = src + (size_t) y * src_stride;
    float *r = dst + (size_t) y * w, *g = r + plane, *b = g + plane;
    for (int x = 0; x < w; x++) {
      r[x] = lut[0][row[3 * x]];
      g[x] = lut[1][row[3 * x + 1]];
      b[x] = lut[2][row[3 * x + 2]];
    }
  }
}

void
ax_softmax_average (float *probs, const float *logits, int n_views, int n)
{
  for (int i = 0; i < n; i++)
    probs[i] = 0.0f;
  for (int v = 0; v < n_views; v++) {
    const float *l = logits + (size_t) v * n;
    double max = l[0], sum = 0.0;
    for (int i = 1; i < n; i++)
      if (l[i] > max)
        max = l[i];
    for (int i = 0; i < n; i++)
      sum += exp ((double) l[i] - max);
    for (int i = 0; i < n; i++)
      probs[i] += (float) (exp ((double) l[i] - max) / sum / n_views);
  }
}

int
ax_top_k (int *indices, float *values, const float *probs, int n, int k)
{
  if (k > n)
    k = n;
  if (k < 0)
    k = 0;
  /* insertion into a sorted list of k: k is small (5) */
  int have = 0;
  for (int i = 0; i < n; i++) {
    float p = probs[i];
    if (have == k && !(p > values[k - 1]))
      continue;
    int j = have < k ? have++ : k - 1;
    while (j > 0 && p > values[j - 1]) {
      values[j] = values[j - 1];
      indices[j] = indices[j - 1];
      j--;
    }
    values[j] = p;
    indices[j] = i;
  }
  return have;
}
