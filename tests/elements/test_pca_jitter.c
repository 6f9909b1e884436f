/* pca-jitter through GstHarness: exact offsets from the same seed's alpha
 * draws, their statistics over many images, reproducibility, sigma=0,
 * clamping, label meta, a statistics file in use, bad files and bad caps. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "kernels/util/rng.h"
#include "plugin/gstalexnetmeta.h"
#include "plugin/gstalexnetstats.h"
#include "tests/gst_test_util.h"

/* ImageNet values as published (design.md), written out here so the test
 * does not depend on the code it checks. */
static const double eigval[3] = { 0.2175, 0.0188, 0.0045 };
static const double eigvec[3][3] = {
  {-0.5675, 0.7192, 0.4009},
  {-0.5808, -0.0045, -0.8140},
  {-0.5836, -0.6948, 0.4203},
};

/* width 13 makes GStreamer pad the rows to 40 bytes */
#define W 13
#define H 7

static gchar *
rgb_caps (gint w, gint h)
{
  return g_strdup_printf ("video/x-raw,format=RGB,width=%d,height=%d,"
      "framerate=0/1", w, h);
}

static GstHarness *
jitter_harness (const gchar * props, gint w, gint h)
{
  gchar *launch = g_strdup_printf ("pca-jitter %s", props);
  gchar *caps = rgb_caps (w, h);
  GstHarness *hr = gst_harness_new_parse (launch);
  gst_harness_set_src_caps_str (hr, caps);
  g_free (caps);
  g_free (launch);
  return hr;
}

/* A frame filled with `value` (value < 0: random from rng), padding 0xEE. */
static GstBuffer *
make_frame (gint w, gint h, gint value, ax_rng * rng)
{
  GstVideoInfo info;
  GstMapInfo map;
  GstBuffer *buf;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  buf = gst_buffer_new_and_alloc (GST_VIDEO_INFO_SIZE (&info));
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  memset (map.data, 0xEE, map.size);
  for (gint y = 0; y < h; y++)
    for (gint x = 0; x < 3 * w; x++)
      map.data[y * GST_VIDEO_INFO_PLANE_STRIDE (&info, 0) + x] =
          (guint8) (value >= 0 ? value : (gint) ax_rng_below (rng, 256));
  gst_buffer_unmap (buf, &map);
  return buf;
}

/* The expected offsets of the next image, computed directly. */
static void
next_offsets (ax_rng * rng, double sigma, double delta[3])
{
  double alpha[3];
  for (int i = 0; i < 3; i++)
    alpha[i] = sigma * ax_rng_normal (rng);
  for (int c = 0; c < 3; c++) {
    delta[c] = 0.0;
    for (int i = 0; i < 3; i++)
      delta[c] += eigvec[c][i] * eigval[i] * alpha[i];
    delta[c] *= 255.0;
  }
}

static guint8
expected_value (guint8 in, double delta)
{
  return (guint8) fmin (255.0, fmax (0.0, floor (in + delta + 0.5)));
}

/* Compares every pixel of out with in + delta; padding is not checked. */
static gint
count_wrong (GstBuffer * in, GstBuffer * out, gint w, gint h,
    const double delta[3])
{
  GstVideoInfo info;
  GstMapInfo mi, mo;
  gint wrong = 0;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  gst_buffer_map (in, &mi, GST_MAP_READ);
  gst_buffer_map (out, &mo, GST_MAP_READ);
  for (gint y = 0; y < h; y++)
    for (gint x = 0; x < 3 * w; x++) {
      gsize i = y * GST_VIDEO_INFO_PLANE_STRIDE (&info, 0) + x;
      wrong += mo.data[i] != expected_value (mi.data[i], delta[x % 3]);
    }
  gst_buffer_unmap (out, &mo);
  gst_buffer_unmap (in, &mi);
  return wrong;
}

static void
check_exact (const gchar * props, guint64 seed, double sigma, gint value,
    gint n)
{
  GstHarness *hr = jitter_harness (props, W, H);
  ax_rng rng, pixels;

  ax_rng_seed (&rng, seed);
  ax_rng_seed (&pixels, 77);
  for (gint i = 0; i < n; i++) {
    GstBuffer *in = make_frame (W, H, value, &pixels);
    GstBuffer *out;
    double delta[3];

    /* keep a reference: the element works in place on a writable copy */
    fail_unless_equals_int (gst_harness_push (hr, gst_buffer_ref (in)),
        GST_FLOW_OK);
    out = gst_harness_pull (hr);
    next_offsets (&rng, sigma, delta);
    fail_unless_equals_int (count_wrong (in, out, W, H, delta), 0);
    gst_buffer_unref (out);
    gst_buffer_unref (in);
  }
  gst_harness_teardown (hr);
}

GST_START_TEST (test_flat_exact_offsets)
{
  check_exact ("seed=42", 42, 0.1, 128, 30);
  check_exact ("seed=5 sigma=0.37", 5, 0.37, 100, 30);
}

GST_END_TEST;

GST_START_TEST (test_random_image_exact)
{
  check_exact ("seed=11 sigma=0.5", 11, 0.5, -1, 20);
}

GST_END_TEST;

/* Large sigma on bright and dark images: results clamp at 255 and 0 and
 * still equal the direct computation. */
GST_START_TEST (test_clamping)
{
  GstHarness *hr = jitter_harness ("seed=3 sigma=5", 4, 3);
  ax_rng rng, unused;
  gint saw_255 = 0, saw_0 = 0;

  ax_rng_seed (&rng, 3);
  for (gint i = 0; i < 20; i++) {
    GstBuffer *in = make_frame (4, 3, i % 2 ? 250 : 5, &unused);
    GstBuffer *out;
    GstMapInfo map;
    double delta[3];

    gst_harness_push (hr, gst_buffer_ref (in));
    out = gst_harness_pull (hr);
    next_offsets (&rng, 5.0, delta);
    fail_unless_equals_int (count_wrong (in, out, 4, 3, delta), 0);
    gst_buffer_map (out, &map, GST_MAP_READ);
    saw_255 += map.data[0] == 255 || map.data[1] == 255 || map.data[2] == 255;
    saw_0 += map.data[0] == 0 || map.data[1] == 0 || map.data[2] == 0;
    gst_buffer_unmap (out, &map);
    gst_buffer_unref (out);
    gst_buffer_unref (in);
  }
  fail_unless (saw_255 > 0 && saw_0 > 0, "no clamping seen (%d, %d)",
      saw_255, saw_0);
  gst_harness_teardown (hr);
}

GST_END_TEST;

/* Over many images the offset is uniform across each image, its mean is
 * near 0 and its covariance near 255^2 sigma^2 V diag(lambda^2) V^T. */
GST_START_TEST (test_offset_statistics)
{
  const gint n = 4000;
  const double sigma = 1.0;
  GstHarness *hr = jitter_harness ("seed=2024 sigma=1.0", 3, 2);
  double sum[3] = { 0 }, prod[3][3] = { {0} }, want[3][3];
  ax_rng unused;

  for (gint i = 0; i < n; i++) {
    GstBuffer *out;
    GstMapInfo map;
    double d[3];

    gst_harness_push (hr, make_frame (3, 2, 128, &unused));
    out = gst_harness_pull (hr);
    gst_buffer_map (out, &map, GST_MAP_READ);
    for (gint c = 0; c < 3; c++)
      d[c] = (double) map.data[c] - 128.0;
    /* the same offset on every pixel (stride of 3x2 RGB is 12) */
    for (gint y = 0; y < 2; y++)
      for (gint x = 0; x < 9; x++)
        fail_unless_equals_int (map.data[y * 12 + x], map.data[x % 3]);
    gst_buffer_unmap (out, &map);
    gst_buffer_unref (out);
    for (gint c = 0; c < 3; c++) {
      sum[c] += d[c];
      for (gint e = 0; e < 3; e++)
        prod[c][e] += d[c] * d[e];
    }
  }
  gst_harness_teardown (hr);

  for (gint c = 0; c < 3; c++)
    for (gint e = 0; e < 3; e++) {
      want[c][e] = 0.0;
      for (gint k = 0; k < 3; k++)
        want[c][e] += eigvec[c][k] * eigval[k] * eigval[k] * eigvec[e][k];
      want[c][e] *= 255.0 * 255.0 * sigma * sigma;
    }
  for (gint c = 0; c < 3; c++) {
    double mean = sum[c] / n;
    fail_unless (fabs (mean) < 4.0 * sqrt (want[c][c] / n) + 0.1,
        "mean offset of channel %d is %g", c, mean);
    for (gint e = 0; e < 3; e++) {
      double cov = prod[c][e] / n - (sum[c] / n) * (sum[e] / n);
      /* sampling error ~ sqrt(2/n) of the scale, plus rounding (1/12) */
      double tol = 0.08 * sqrt (want[c][c] * want[e][e]) + 0.2;
      fail_unless (fabs (cov - want[c][e]) < tol,
          "cov[%d][%d] = %g, expected %g +- %g", c, e, cov, want[c][e], tol);
    }
  }
}

GST_END_TEST;

static GstBuffer *
run_one (const gchar * props, GstBuffer * in)
{
  GstHarness *hr = jitter_harness (props, W, H);
  GstBuffer *out;

  gst_harness_push (hr, gst_buffer_copy (in));
  gst_harness_push (hr, gst_buffer_copy (in));
  gst_buffer_unref (gst_harness_pull (hr));
  out = gst_harness_pull (hr);
  gst_harness_teardown (hr);
  return out;
}

static gboolean
same_bytes (GstBuffer * a, GstBuffer * b)
{
  GstMapInfo ma, mb;
  gboolean same;

  gst_buffer_map (a, &ma, GST_MAP_READ);
  gst_buffer_map (b, &mb, GST_MAP_READ);
  same = ma.size == mb.size && memcmp (ma.data, mb.data, ma.size) == 0;
  gst_buffer_unmap (b, &mb);
  gst_buffer_unmap (a, &ma);
  return same;
}

GST_START_TEST (test_same_seed_same_output)
{
  ax_rng rng;
  GstBuffer *in, *a, *b, *c;

  ax_rng_seed (&rng, 1);
  in = make_frame (W, H, -1, &rng);
  a = run_one ("seed=9", in);
  b = run_one ("seed=9", in);
  c = run_one ("seed=10", in);
  fail_unless (same_bytes (a, b), "same seed, different output");
  fail_if (same_bytes (a, c), "different seeds, same output");
  fail_if (same_bytes (a, in), "no noise added");
  gst_buffer_unref (a);
  gst_buffer_unref (b);
  gst_buffer_unref (c);
  gst_buffer_unref (in);
}

GST_END_TEST;

GST_START_TEST (test_sigma_zero_identity)
{
  GstHarness *hr = jitter_harness ("sigma=0", W, H);
  GstElement *el;
  ax_rng rng;
  GstBuffer *in, *out;

  ax_rng_seed (&rng, 4);
  in = make_frame (W, H, -1, &rng);
  gst_harness_push (hr, gst_buffer_ref (in));
  out = gst_harness_pull (hr);
  fail_unless (out == in, "sigma=0 should pass the buffer through");
  fail_unless (same_bytes (out, in));
  gst_buffer_unref (out);

  /* switching the noise on while playing */
  el = gst_harness_find_element (hr, "pca-jitter");
  g_object_set (el, "sigma", 0.5, NULL);
  gst_object_unref (el);
  gst_harness_push (hr, gst_buffer_copy (in));
  out = gst_harness_pull (hr);
  fail_if (same_bytes (out, in), "sigma=0.5 changed nothing");
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_harness_teardown (hr);
}

GST_END_TEST;

GST_START_TEST (test_label_meta_survives)
{
  GstHarness *hr = jitter_harness ("seed=1", W, H);
  GstBuffer *in, *out;
  GstAlexnetLabelMeta *meta;
  ax_rng unused;

  in = make_frame (W, H, 60, &unused);
  meta = gst_buffer_add_alexnet_label_meta (in, 7, "tabby", "cats/1.jpg");
  meta->epoch = 3;
  /* a second reference forces the element to work on a copy */
  gst_harness_push (hr, gst_buffer_ref (in));
  out = gst_harness_pull (hr);
  meta = gst_buffer_get_alexnet_label_meta (out);
  fail_unless (meta != NULL, "label meta lost");
  fail_unless_equals_int (meta->class_index, 7);
  fail_unless_equals_string (meta->class_name, "tabby");
  fail_unless_equals_string (meta->sample_id, "cats/1.jpg");
  fail_unless_equals_int (meta->epoch, 3);
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_harness_teardown (hr);
}

GST_END_TEST;

/* A statistics file with lambda = (1, 0, 0) and V = I moves only red. */
GST_START_TEST (test_stats_file_used)
{
  GstAlexnetStats stats;
  GError *err = NULL;
  gchar *dir = g_dir_make_tmp ("pca-jitter-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "stats.json", NULL);
  gchar *props;
  GstHarness *hr;
  ax_rng rng, unused;

  gst_alexnet_stats_init_imagenet (&stats);
  memset (stats.eigenvectors, 0, sizeof (stats.eigenvectors));
  for (int i = 0; i < 3; i++)
    stats.eigenvectors[i][i] = 1.0;
  stats.eigenvalues[0] = 1.0;
  stats.eigenvalues[1] = stats.eigenvalues[2] = 0.0;
  fail_unless (gst_alexnet_stats_save (path, &stats, &err), "%s",
      err ? err->message : "");

  props = g_strdup_printf ("seed=8 sigma=0.1 stats-location=\"%s\"", path);
  hr = jitter_harness (props, W, H);
  ax_rng_seed (&rng, 8);
  for (int i = 0; i < 5; i++) {
    GstBuffer *out;
    GstMapInfo map;
    double alpha0 = 0.1 * ax_rng_normal (&rng);
    ax_rng_normal (&rng);
    ax_rng_normal (&rng);

    gst_harness_push (hr, make_frame (W, H, 128, &unused));
    out = gst_harness_pull (hr);
    gst_buffer_map (out, &map, GST_MAP_READ);
    fail_unless_equals_int (map.data[0], expected_value (128, 255.0 * alpha0));
    fail_unless_equals_int (map.data[1], 128);
    fail_unless_equals_int (map.data[2], 128);
    gst_buffer_unmap (out, &map);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (hr);
  g_unlink (path);
  g_rmdir (dir);
  g_free (props);
  g_free (path);
  g_free (dir);
}

GST_END_TEST;

/* Starting with `location` must fail with an error naming it and saying
 * `problem`. */
static void
check_start_fails (const gchar * location, const gchar * problem)
{
  GstElement *el = gst_element_factory_make ("pca-jitter", NULL);

  g_object_set (el, "stats-location", location, NULL);
  check_start_fails_with (el, location, problem, NULL);
}

GST_START_TEST (test_bad_stats_file)
{
  gchar *dir = g_dir_make_tmp ("pca-jitter-XXXXXX", NULL);
  gchar *missing = g_build_filename (dir, "missing.json", NULL);
  gchar *bad_json = g_build_filename (dir, "bad.json", NULL);
  gchar *bad_tag = g_build_filename (dir, "tag.json", NULL);
  gchar *short_field = g_build_filename (dir, "short.json", NULL);

  g_file_set_contents (bad_json, "{\"format\": ", -1, NULL);
  g_file_set_contents (bad_tag, "{\"format\": \"something-else\"}", -1, NULL);
  g_file_set_contents (short_field,
      "{\"format\": \"gst-alexnet-stats\", \"version\": 1, "
      "\"mean\": [0.5, 0.5], \"std\": [1, 1, 1]}", -1, NULL);

  check_start_fails (missing, "No such file");
  check_start_fails (bad_json, "not valid JSON");
  check_start_fails (bad_tag, "not a statistics file");
  check_start_fails (short_field, "\"mean\" must be a list of 3 numbers");

  g_unlink (bad_json);
  g_unlink (bad_tag);
  g_unlink (short_field);
  g_rmdir (dir);
  g_free (missing);
  g_free (bad_json);
  g_free (bad_tag);
  g_free (short_field);
  g_free (dir);
}

GST_END_TEST;

GST_START_TEST (test_non_rgb_not_negotiated)
{
  GstHarness *hr = gst_harness_new_parse ("pca-jitter seed=1");
  GstBuffer *buf;

  gst_harness_set_src_caps_str (hr,
      "video/x-raw,format=I420,width=16,height=16,framerate=0/1");
  buf = gst_buffer_new_and_alloc (16 * 16 * 3 / 2);
  fail_unless_equals_int (gst_harness_push (hr, buf),
      GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (hr);
}

GST_END_TEST;

static Suite *
pca_jitter_suite (void)
{
  Suite *s = suite_create ("pca-jitter");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_flat_exact_offsets);
  tcase_add_test (tc, test_random_image_exact);
  tcase_add_test (tc, test_clamping);
  tcase_add_test (tc, test_offset_statistics);
  tcase_add_test (tc, test_same_seed_same_output);
  tcase_add_test (tc, test_sigma_zero_identity);
  tcase_add_test (tc, test_label_meta_survives);
  tcase_add_test (tc, test_stats_file_used);
  tcase_add_test (tc, test_bad_stats_file);
  tcase_add_test (tc, test_non_rgb_not_negotiated);
  return s;
}

GST_CHECK_MAIN (pca_jitter);
