/* The VGG paper's test-time evaluation (kernels/nn/net_eval.h) on a
 * narrowed VGG-A with formula weights: multi-crop is the mean of its 50
 * crops classified one by one; dense at the training size is the centre
 * evaluation of the image and its mirror; combined is the mean of the two;
 * several scales are the mean of each; test scales parse strictly. */
#include "kernels/cpu/cpu_backend.h"
#include "kernels/image/classify.h"
#include "kernels/image/image_crop.h"
#include "kernels/image/image_resize.h"
#include "kernels/nn/net.h"
#include "kernels/nn/net_eval.h"
#include "tests/ax_test.h"
#include "tests/net_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CLASSES = 10, SIZE = 224 };

static ax_backend *cpu;
static float lut[3][256];

/* The fixtures' narrow VGG-A (test_vgg.c), forward-only, `batch` images,
 * with formula weights: the same weights whatever the batch. */
static ax_net *
make_arch (const char *arch, int batch)
{
  ax_net_spec spec;
  ax_net *net = NULL;
  char err[256];
  ax_status st = ax_net_spec_vgg (&spec, arch, CLASSES, SIZE);
  if (st == AX_OK)
    st = ax_net_spec_narrow (&spec, 32);
  for (int l = 0; l < spec.n_layers; l++)
    if (spec.layers[l].kind == AX_LAYER_FC && l != spec.n_layers - 1)
      spec.layers[l].p.fc.out_features = 32;
  ax_net_config cfg = { batch, AX_PLACE_ONE, 0, { cpu } };
  if (st == AX_OK)
    st = ax_net_create (&spec, &cfg, &net, err, sizeof err);
  AX_CHECK (st == AX_OK, "net: %s", err);
  if (net)
    ax_test_set_formula_params (net);
  return net;
}

static ax_net *
make_net (int batch)
{
  return make_arch ("vgg-a", batch);
}

/* A w x h RGB image with some structure (so that crops differ). */
static uint8_t *
make_image (int w, int h)
{
  uint8_t *p = malloc ((size_t) w * h * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        p[((size_t) y * w + x) * 3 + c] = (uint8_t) ((x * (c + 1) * 7
                + y * (3 - c) * 5 + ((x * y) >> 4)) & 255);
  return p;
}

static ax_eval *
make_eval (ax_net *net, ax_eval_views views, const int *scales, int n)
{
  ax_eval *e = NULL;
  char err[256];
  ax_status st = ax_eval_create (net, cpu, views, scales, n,
      (const float (*)[256]) lut, &e, err, sizeof err);
  AX_CHECK (st == AX_OK, "evaluator: %s", err);
  return e;
}

/* probs of one image through the evaluator */
static void
eval (ax_eval *e, const uint8_t *img, int w, int h, float *probs)
{
  ax_status st = e ? ax_eval_image (e, img, w, h, w * 3, probs)
      : AX_ERR_INVALID_ARG;
  AX_CHECK (st == AX_OK, "evaluation: %s (%s)", ax_status_str (st),
      ax_eval_last_error (e));
}

/* The softmax of one 224 crop (or any 224x224 RGB) through a batch-1 net. */
static void
classify_one (ax_net *one, const uint8_t *rgb, int stride, float *probs)
{
  float x[3 * SIZE * SIZE], logits[CLASSES];
  ax_rgb_to_chw (x, rgb, stride, SIZE, SIZE, (const float (*)[256]) lut);
  NET_OK (one, ax_net_forward (one, x, 3 * SIZE * SIZE, 0));
  NET_OK (one, ax_net_logits (one, logits, CLASSES));
  ax_softmax_average (probs, logits, 1, CLASSES);
}

static void
test_multi_crop_is_its_crops (void)
{
  const int w = 300, h = 260, q = 256;
  ax_net *net = make_net (AX_EVAL_CROPS), *one = make_net (1);
  uint8_t *img = make_image (w, h);
  ax_eval *e = net ? make_eval (net, AX_EVAL_MULTI_CROP, &q, 1) : NULL;
  if (!e || !one)
    goto out;
  float got[CLASSES], want[CLASSES] = { 0 }, p[CLASSES];
  eval (e, img, w, h, got);
  /* by hand: the image rescaled to 256 (shorter side), 50 crops */
  int sw, sh;
  AX_CHECK (ax_resize_scaled_size (&sw, &sh, w, h, q) == 0 && sh == q
      && sw == 295, "scaled %dx%d", sw, sh);
  ax_resize_plan plan;
  uint8_t *scaled = malloc ((size_t) sw * sh * 3), crop[SIZE * SIZE * 3];
  AX_CHECK (ax_resize_plan_init_window (&plan, w, h, sw, sh, 0, 0, sw, sh)
      == 0, "plan");
  ax_resize_rgb (scaled, sw * 3, img, w * 3, &plan);
  ax_resize_plan_clear (&plan);
  ax_crop_pos pos[AX_EVAL_CROPS];
  ax_grid_crop_pos (pos, AX_EVAL_GRID, sw, sh, SIZE);
  for (int v = 0; v < AX_EVAL_CROPS; v++) {
    ax_crop_flip_rgb (crop, SIZE * 3, scaled, sw * 3, pos[v].x, pos[v].y,
        SIZE, SIZE, pos[v].mirror);
    classify_one (one, crop, SIZE * 3, p);
    for (int c = 0; c < CLASSES; c++)
      want[c] += p[c] / AX_EVAL_CROPS;
  }
  double err = ax_test_rel_error (got, want, CLASSES);
  printf ("  multi-crop vs its 50 crops one by one: %.1e\n", err);
  AX_CHECK (err < 1e-5, "multi-crop is not the mean of its crops: %.1e",
      err);
  free (scaled);
out:
  ax_eval_destroy (e);
  free (img);
  ax_net_destroy (net);
  ax_net_destroy (one);
}

static void
test_dense_and_combined (void)
{
  const int q = SIZE, q2[2] = { 224, 256 };
  ax_net *net = make_net (AX_EVAL_CROPS), *one = make_net (1);
  uint8_t *img = make_image (SIZE, SIZE), mirror[SIZE * SIZE * 3];
  ax_eval *d = net ? make_eval (net, AX_EVAL_DENSE, &q, 1) : NULL;
  ax_eval *m = net ? make_eval (net, AX_EVAL_MULTI_CROP, &q, 1) : NULL;
  ax_eval *c = net ? make_eval (net, AX_EVAL_COMBINED, &q, 1) : NULL;
  ax_eval *two = net ? make_eval (net, AX_EVAL_COMBINED, q2, 2) : NULL;
  ax_eval *c256 = net ? make_eval (net, AX_EVAL_COMBINED, &q2[1], 1) : NULL;
  if (!d || !m || !c || !two || !c256 || !one)
    goto out;
  float pd[CLASSES], pm[CLASSES], pc[CLASSES], a[CLASSES], b[CLASSES],
      want[CLASSES];
  eval (d, img, SIZE, SIZE, pd);
  classify_one (one, img, SIZE * 3, a);
  ax_crop_flip_rgb (mirror, SIZE * 3, img, SIZE * 3, 0, 0, SIZE, SIZE, 1);
  classify_one (one, mirror, SIZE * 3, b);
  for (int k = 0; k < CLASSES; k++)
    want[k] = 0.5f * (a[k] + b[k]);
  double e1 = ax_test_rel_error (pd, want, CLASSES);
  printf ("  dense at Q=224 vs the centre evaluation (and mirror): %.1e\n",
      e1);
  AX_CHECK (e1 < 1e-5, "dense at the training size: %.1e", e1);

  eval (m, img, SIZE, SIZE, pm);
  eval (c, img, SIZE, SIZE, pc);
  for (int k = 0; k < CLASSES; k++)
    want[k] = 0.5f * (pd[k] + pm[k]);
  double e2 = ax_test_rel_error (pc, want, CLASSES);
  AX_CHECK (e2 < 1e-6, "combined is not the mean of dense and multi-crop: "
      "%.1e", e2);
  /* a 224 image at Q = 224: all 50 crops are the image or its mirror */
  double e3 = ax_test_rel_error (pm, pd, CLASSES);
  AX_CHECK (e3 < 1e-5, "multi-crop of a 224 image at 224: %.1e", e3);

  float p2[CLASSES], p256[CLASSES];
  eval (two, img, SIZE, SIZE, p2);
  eval (c256, img, SIZE, SIZE, p256);
  for (int k = 0; k < CLASSES; k++)
    want[k] = 0.5f * (pc[k] + p256[k]);
  double e4 = ax_test_rel_error (p2, want, CLASSES);
  AX_CHECK (e4 < 1e-6, "scales 224,256 are not the mean of each: %.1e", e4);
  double e5 = ax_test_rel_error (p256, pc, CLASSES);
  AX_CHECK (e5 > 1e-4, "Q = 256 gave Q = 224's result (%.1e): no rescale?",
      e5);
out:
  ax_eval_destroy (d);
  ax_eval_destroy (m);
  ax_eval_destroy (c);
  ax_eval_destroy (two);
  ax_eval_destroy (c256);
  free (img);
  ax_net_destroy (net);
  ax_net_destroy (one);
}

static void
test_bad_arguments (void)
{
  int s[AX_EVAL_MAX_SCALES], n = 0;
  char err[256];
  AX_CHECK (ax_eval_parse_scales ("256,384,512", 224, s, &n, err, sizeof err)
      == AX_OK && n == 3 && s[0] == 256 && s[1] == 384 && s[2] == 512,
      "256,384,512: %s", err);
  AX_CHECK (ax_eval_parse_scales (" 256 , 384 ", 224, s, &n, err, sizeof err)
      == AX_OK && n == 2 && s[1] == 384, "spaces: %s", err);
  static const char *bad[] = { "", "256;384", "256,", ",256", "0,5", "100",
    "256.5", "-256", "99999999999999999999", "256,384,512,256,384,512,256,"
        "384,512", "abc", "256 384" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    AX_CHECK (ax_eval_parse_scales (bad[i], 224, s, &n, err, sizeof err)
        == AX_ERR_INVALID_ARG && strstr (err, "scales"), "\"%s\" accepted "
        "(%s)", bad[i], err);
  }
  printf ("  e.g. %s\n", err);

  /* multi-crop needs a batch of 50; dense does not; a scale below the input
   * is refused; an image below the input fails with a message */
  ax_net *one = make_net (1);
  ax_eval *e = NULL;
  int q = 256, low = 200;
  if (!one)
    return;
  AX_CHECK (ax_eval_create (one, cpu, AX_EVAL_MULTI_CROP, &q, 1,
          (const float (*)[256]) lut, &e, err, sizeof err)
      == AX_ERR_INVALID_ARG && strstr (err, "batch"), "multi-crop on batch "
      "1: %s", err);
  AX_CHECK (ax_eval_create (one, cpu, AX_EVAL_DENSE, &low, 1,
          (const float (*)[256]) lut, &e, err, sizeof err)
      == AX_ERR_INVALID_ARG && strstr (err, "below"), "Q 200: %s", err);
  e = make_eval (one, AX_EVAL_DENSE, &q, 1);
  uint8_t *img = make_image (256, 256);
  float p[CLASSES];
  if (e)
    AX_CHECK (ax_eval_image (e, img, 256, 256, 256 * 3, p) == AX_OK, "dense "
        "on batch 1: %s", ax_eval_last_error (e));
  free (img);
  ax_eval_destroy (e);
  ax_net_destroy (one);
}

/* A batch-norm VGG (its buffers, the step counter included, go to the
 * dense net too): dense at the training size is the centre evaluation. */
static void
test_dense_batchnorm (void)
{
  const int q = SIZE;
  ax_net *net = make_arch ("vgg11_bn", 1), *one = make_arch ("vgg11_bn", 1);
  uint8_t *img = make_image (SIZE, SIZE), mirror[SIZE * SIZE * 3];
  ax_eval *d = net ? make_eval (net, AX_EVAL_DENSE, &q, 1) : NULL;
  if (d && one) {
    float pd[CLASSES], a[CLASSES], b[CLASSES], want[CLASSES];
    eval (d, img, SIZE, SIZE, pd);
    classify_one (one, img, SIZE * 3, a);
    ax_crop_flip_rgb (mirror, SIZE * 3, img, SIZE * 3, 0, 0, SIZE, SIZE, 1);
    classify_one (one, mirror, SIZE * 3, b);
    for (int k = 0; k < CLASSES; k++)
      want[k] = 0.5f * (a[k] + b[k]);
    double e = ax_test_rel_error (pd, want, CLASSES);
    printf ("  vgg11_bn dense at Q=224 vs the centre evaluation: %.1e\n", e);
    AX_CHECK (e < 1e-5, "batch-norm dense: %.1e", e);
  }
  ax_eval_destroy (d);
  free (img);
  ax_net_destroy (net);
  ax_net_destroy (one);
}

int
main (void)
{
  ax_status st = ax_cpu_backend_create (0, &cpu);
  AX_CHECK (st == AX_OK, "cpu backend: %s", ax_status_str (st));
  if (st != AX_OK)
    return ax_test_finish ();
  const float mean[3] = { 0.485f, 0.456f, 0.406f }, sd[3] = { 0.229f, 0.224f,
    0.225f };
  ax_rgb_norm_lut (lut, mean, sd);
  AX_RUN (test_multi_crop_is_its_crops);
  AX_RUN (test_dense_and_combined);
  AX_RUN (test_bad_arguments);
  AX_RUN (test_dense_batchnorm);
  ax_backend_destroy (cpu);
  return ax_test_finish ();
}
