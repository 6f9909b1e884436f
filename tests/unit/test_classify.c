/* kernels/image/classify.h: normalisation as torchvision computes it, softmax
 * averaged over views against a float64 reference, top-k order and ties. */
#include <math.h>
#include <string.h>

#include "kernels/image/classify.h"
#include "tests/ax_test.h"

static void
test_norm_lut_and_planes (void)
{
  const float mean[3] = { 0.485f, 0.456f, 0.406f };
  const float std[3] = { 0.229f, 0.224f, 0.225f };
  float lut[3][256], out[3 * 2 * 3];
  /* 3x2 image, rows 12 bytes apart (3 pixels + 3 bytes of padding) */
  uint8_t img[2 * 12];

  ax_rgb_norm_lut (lut, mean, std);
  /* ToTensor then Normalize, in float32 */
  for (int c = 0; c < 3; c++)
    for (int v = 0; v < 256; v += 17) {
      float x = (float) v / 255.0f;
      AX_CHECK (lut[c][v] == (x - mean[c]) / std[c], "c %d v %d", c, v);
    }
  for (int i = 0; i < 24; i++)
    img[i] = (uint8_t) (i * 10);
  ax_rgb_to_chw (out, img, 12, 3, 2, lut);
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < 2; y++)
      for (int x = 0; x < 3; x++)
        AX_CHECK (out[c * 6 + y * 3 + x] == lut[c][img[y * 12 + x * 3 + c]],
            "c %d y %d x %d", c, y, x);
}

static void
test_softmax_average (void)
{
  /* two views of four classes; large logits must not overflow */
  const float logits[8] = { 1.0f, 2.0f, 3.0f, 4.0f, 1000.0f, 999.0f, -5.0f,
    1000.0f
  };
  float p[4];
  double want[4] = { 0 }, sum = 0.0;

  ax_softmax_average (p, logits, 2, 4);
  for (int v = 0; v < 2; v++) {
    double m = -INFINITY, s = 0.0;
    for (int i = 0; i < 4; i++)
      m = fmax (m, logits[v * 4 + i]);
    for (int i = 0; i < 4; i++)
      s += exp (logits[v * 4 + i] - m);
    for (int i = 0; i < 4; i++)
      want[i] += exp (logits[v * 4 + i] - m) / s / 2.0;
  }
  for (int i = 0; i < 4; i++) {
    AX_CHECK_CLOSE (p[i], want[i], 1e-7, 1e-6);
    sum += p[i];
  }
  AX_CHECK_CLOSE (sum, 1.0, 1e-6, 0.0);
}

static void
test_top_k (void)
{
  const float probs[7] = { 0.1f, 0.3f, 0.05f, 0.3f, 0.2f, 0.0f, 0.05f };
  int idx[7];
  float val[7];

  AX_CHECK (ax_top_k (idx, val, probs, 7, 3) == 3, "k");
  /* ties: the lower index first */
  AX_CHECK (idx[0] == 1 && idx[1] == 3 && idx[2] == 4, "%d %d %d", idx[0],
      idx[1], idx[2]);
  AX_CHECK (val[0] == 0.3f && val[2] == 0.2f, "values");
  AX_CHECK (ax_top_k (idx, val, probs, 7, 50) == 7, "clamped to n");
  for (int i = 1; i < 7; i++)
    AX_CHECK (val[i] <= val[i - 1], "order at %d", i);
  AX_CHECK (idx[4] == 2 && idx[5] == 6 && idx[6] == 5, "%d %d %d", idx[4],
      idx[5], idx[6]);
  AX_CHECK (ax_top_k (idx, val, probs, 7, 0) == 0, "k 0");
}

int
main (void)
{
  AX_RUN (test_norm_lut_and_planes);
  AX_RUN (test_softmax_average);
  AX_RUN (test_top_k);
  return ax_test_finish ();
}
