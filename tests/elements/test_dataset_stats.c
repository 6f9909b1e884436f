/* dataset-stats through GstHarness: the written file against a naive
 * float64 computation, max-images, the bus message, missing and unwritable
 * locations; the statistics file API (round trip, every kind of bad file);
 * and a file written by dataset-stats driving pca-jitter. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "kernels/util/rng.h"
#include "plugin/gstalexnetstats.h"
#include "tests/gst_test_util.h"

#define N_IMAGES 5
static const gint widths[N_IMAGES] = { 13, 8, 1, 31, 6 };
static const gint heights[N_IMAGES] = { 7, 8, 1, 10, 17 };

static gchar *tmp_dir;

static void
setup (void)
{
  tmp_dir = g_dir_make_tmp ("dataset-stats-XXXXXX", NULL);
}

/* removes the few files the tests make, then the folder */
static void
teardown (void)
{
  const gchar *name;
  GDir *dir = g_dir_open (tmp_dir, 0, NULL);
  while ((name = g_dir_read_name (dir)) != NULL) {
    gchar *path = g_build_filename (tmp_dir, name, NULL);
    g_unlink (path);
    g_free (path);
  }
  g_dir_close (dir);
  g_rmdir (tmp_dir);
  g_free (tmp_dir);
}

/* A random RGB frame of GStreamer's layout (rows padded to 4 bytes) with
 * correlated R and G. */
static GstBuffer *
random_frame (ax_rng * rng, gint w, gint h)
{
  GstVideoInfo info;
  GstMapInfo map;
  GstBuffer *buf;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  buf = gst_buffer_new_and_alloc (GST_VIDEO_INFO_SIZE (&info));
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  memset (map.data, 0xEE, map.size);
  for (gint y = 0; y < h; y++)
    for (gint x = 0; x < w; x++) {
      guint8 *p = map.data + y * GST_VIDEO_INFO_PLANE_STRIDE (&info, 0) + 3 * x;
      gint base = (gint) ax_rng_below (rng, 200);
      p[0] = (guint8) base;
      p[1] = (guint8) (base / 2 + (gint) ax_rng_below (rng, 56));
      p[2] = (guint8) (255 - base / 4 - (gint) ax_rng_below (rng, 50));
    }
  gst_buffer_unmap (buf, &map);
  return buf;
}

static void
set_caps (GstHarness * hr, gint w, gint h)
{
  gchar *caps = g_strdup_printf ("video/x-raw,format=RGB,width=%d,height=%d,"
      "framerate=0/1", w, h);
  gst_harness_set_src_caps_str (hr, caps);
  g_free (caps);
}

/* Naive two-pass float64 statistics of the first n frames. */
typedef struct
{
  double mean[3], std[3], cov[3][3];
  guint64 pixels;
} naive_stats;

static void
naive_compute (GstBuffer ** frames, gint n, naive_stats * out)
{
  double sum[3] = { 0 }, p = 0;

  memset (out, 0, sizeof (*out));
  for (gint pass = 0; pass < 2; pass++)
    for (gint i = 0; i < n; i++) {
      GstVideoInfo info;
      GstMapInfo map;
      gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, widths[i],
          heights[i]);
      gst_buffer_map (frames[i], &map, GST_MAP_READ);
      for (gint y = 0; y < heights[i]; y++)
        for (gint x = 0; x < widths[i]; x++) {
          const guint8 *px = map.data +
              y * GST_VIDEO_INFO_PLANE_STRIDE (&info, 0) + 3 * x;
          for (gint c = 0; c < 3; c++) {
            if (pass == 0)
              sum[c] += px[c] / 255.0;
            else
              for (gint d = 0; d < 3; d++)
                out->cov[c][d] += (px[c] / 255.0 - out->mean[c]) *
                    (px[d] / 255.0 - out->mean[d]);
          }
          if (pass == 0)
            p += 1;
        }
      gst_buffer_unmap (frames[i], &map);
      if (pass == 0 && i == n - 1)
        for (gint c = 0; c < 3; c++)
          out->mean[c] = sum[c] / p;
    }
  for (gint c = 0; c < 3; c++) {
    for (gint d = 0; d < 3; d++)
      out->cov[c][d] /= p;
    out->std[c] = sqrt (out->cov[c][c]);
  }
  out->pixels = (guint64) p;
}

#define assert_close(a, b, tol) \
  fail_unless (fabs ((a) - (b)) <= (tol), "%s = %.17g, expected %.17g", \
      #a, (double) (a), (double) (b))

/* The file's numbers against the naive ones, read with json-glib directly
 * (not with the loader under test). */
static void
check_file (const gchar * path, const naive_stats * want, guint64 images)
{
  JsonParser *parser = json_parser_new ();
  JsonObject *root;
  GstAlexnetStats s;
  GError *err = NULL;

  fail_unless (json_parser_load_from_file (parser, path, &err), "%s",
      err ? err->message : "");
  root = json_node_get_object (json_parser_get_root (parser));
  fail_unless_equals_string (json_object_get_string_member (root, "format"),
      "gst-alexnet-stats");
  fail_unless_equals_int (json_object_get_int_member (root, "version"), 1);
  fail_unless_equals_string (json_object_get_string_member (root, "scale"),
      "0..1");
  fail_unless_equals_uint64 (json_object_get_int_member (root, "images"),
      images);
  fail_unless_equals_uint64 (json_object_get_int_member (root, "pixels"),
      want->pixels);
  for (guint c = 0; c < 3; c++) {
    JsonArray *row = json_array_get_array_element (json_object_get_array_member
        (root, "covariance"), c);
    assert_close (json_array_get_double_element (json_object_get_array_member
            (root, "mean"), c), want->mean[c], 1e-13);
    assert_close (json_array_get_double_element (json_object_get_array_member
            (root, "std"), c), want->std[c], 1e-13);
    for (guint d = 0; d < 3; d++)
      assert_close (json_array_get_double_element (row, d), want->cov[c][d],
          1e-13);
  }
  g_object_unref (parser);

  /* eigen pairs of the naive covariance: cov v = lambda v, descending */
  fail_unless (gst_alexnet_stats_load (path, &s, &err), "%s",
      err ? err->message : "");
  fail_unless (s.eigenvalues[0] >= s.eigenvalues[1] &&
      s.eigenvalues[1] >= s.eigenvalues[2]);
  for (gint k = 0; k < 3; k++)
    for (gint r = 0; r < 3; r++) {
      double av = 0;
      for (gint c = 0; c < 3; c++)
        av += want->cov[r][c] * s.eigenvectors[c][k];
      assert_close (av, s.eigenvalues[k] * s.eigenvectors[r][k], 1e-12);
    }
}

static GstHarness *
stats_harness (const gchar * location, const gchar * extra)
{
  gchar *launch = g_strdup_printf ("dataset-stats location=\"%s\" %s",
      location, extra);
  GstHarness *hr = gst_harness_new_parse (launch);
  g_free (launch);
  return hr;
}

GST_START_TEST (test_file_vs_naive)
{
  gchar *path = g_build_filename (tmp_dir, "stats.json", NULL);
  GstHarness *hr = stats_harness (path, "");
  GstBuffer *frames[N_IMAGES];
  GstElement *el = gst_harness_find_element (hr, "dataset-stats");
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  const GstStructure *st;
  guint64 images;
  naive_stats want;
  ax_rng rng;

  gst_element_set_bus (hr->element, bus);
  ax_rng_seed (&rng, 31);
  for (gint i = 0; i < N_IMAGES; i++) {
    frames[i] = random_frame (&rng, widths[i], heights[i]);
    set_caps (hr, widths[i], heights[i]);
    fail_unless_equals_int (gst_harness_push (hr, gst_buffer_ref (frames[i])),
        GST_FLOW_OK);
  }
  g_object_get (el, "images", &images, NULL);
  fail_unless_equals_uint64 (images, N_IMAGES);
  fail_if (g_file_test (path, G_FILE_TEST_EXISTS), "written before EOS");
  fail_unless (gst_harness_push_event (hr, gst_event_new_eos ()));

  naive_compute (frames, N_IMAGES, &want);
  check_file (path, &want, N_IMAGES);

  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL, "no element message");
  st = gst_message_get_structure (msg);
  fail_unless (gst_structure_has_name (st, "dataset-stats"));
  fail_unless_equals_string (gst_structure_get_string (st, "location"), path);
  fail_unless (gst_structure_get_uint64 (st, "images", &images));
  fail_unless_equals_uint64 (images, N_IMAGES);
  assert_close (g_value_get_double (gst_value_array_get_value
          (gst_structure_get_value (st, "mean"), 1)), want.mean[1], 1e-13);
  fail_unless_equals_int (gst_value_array_get_size (gst_structure_get_value
          (st, "eigenvalues")), 3);
  gst_message_unref (msg);

  for (gint i = 0; i < N_IMAGES; i++)
    gst_buffer_unref (frames[i]);
  gst_element_set_bus (hr->element, NULL);
  gst_object_unref (bus);
  gst_object_unref (el);
  gst_harness_teardown (hr);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_max_images)
{
  gchar *path = g_build_filename (tmp_dir, "first2.json", NULL);
  GstHarness *hr = stats_harness (path, "max-images=2");
  GstBuffer *frames[N_IMAGES];
  naive_stats want;
  ax_rng rng;

  ax_rng_seed (&rng, 32);
  for (gint i = 0; i < 3; i++) {
    frames[i] = random_frame (&rng, widths[i], heights[i]);
    set_caps (hr, widths[i], heights[i]);
    fail_unless_equals_int (gst_harness_push (hr, gst_buffer_ref (frames[i])),
        i == 0 ? GST_FLOW_OK : GST_FLOW_EOS);
  }
  fail_unless (g_file_test (path, G_FILE_TEST_EXISTS), "not written at 2");
  naive_compute (frames, 2, &want);
  check_file (path, &want, 2);
  gst_harness_push_event (hr, gst_event_new_eos ());
  check_file (path, &want, 2);
  for (gint i = 0; i < 3; i++)
    gst_buffer_unref (frames[i]);
  gst_harness_teardown (hr);
  g_free (path);
}

GST_END_TEST;

/* Starting must fail with an error whose message holds `needle`. */
static void
check_start_fails (const gchar * location, const gchar * needle)
{
  GstElement *el = gst_element_factory_make ("dataset-stats", NULL);

  if (location)
    g_object_set (el, "location", location, NULL);
  check_start_fails_with (el, needle, NULL);
}

GST_START_TEST (test_bad_locations)
{
  gchar *nowhere = g_build_filename (tmp_dir, "no-such-folder", "s.json",
      NULL);

  check_start_fails (NULL, "\"location\"");
  check_start_fails ("", "\"location\"");
  check_start_fails (nowhere, nowhere);
  g_free (nowhere);
}

GST_END_TEST;

/* The folder is writable but the file cannot be made (it is a folder):
 * the error comes at EOS and names the file. */
GST_START_TEST (test_write_fails_at_eos)
{
  gchar *path = g_build_filename (tmp_dir, "a-folder", NULL);
  GstHarness *hr;
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;
  ax_rng rng;

  g_mkdir (path, 0755);
  hr = stats_harness (path, "");
  gst_element_set_bus (hr->element, bus);
  set_caps (hr, 4, 4);
  ax_rng_seed (&rng, 1);
  gst_harness_push (hr, random_frame (&rng, 4, 4));
  gst_harness_push_event (hr, gst_event_new_eos ());
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error for an unwritable file");
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (strstr (err->message, path) != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_bus (hr->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (hr);
  g_rmdir (path);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_no_images_no_file)
{
  gchar *path = g_build_filename (tmp_dir, "empty.json", NULL);
  GstHarness *hr = stats_harness (path, "");
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;

  gst_element_set_bus (hr->element, bus);
  set_caps (hr, 4, 4);
  gst_harness_push_event (hr, gst_event_new_eos ());
  fail_if (g_file_test (path, G_FILE_TEST_EXISTS));
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL, "no warning for an empty stream");
  gst_message_unref (msg);
  gst_element_set_bus (hr->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (hr);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_non_rgb_not_negotiated)
{
  gchar *path = g_build_filename (tmp_dir, "x.json", NULL);
  GstHarness *hr = stats_harness (path, "");

  gst_harness_set_src_caps_str (hr,
      "video/x-raw,format=GRAY8,width=4,height=4,framerate=0/1");
  fail_unless_equals_int (gst_harness_push (hr, gst_buffer_new_and_alloc (16)),
      GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (hr);
  g_free (path);
}

GST_END_TEST;

/* ---- the statistics file API ---- */

GST_START_TEST (test_stats_round_trip)
{
  gchar *path = g_build_filename (tmp_dir, "rt.json", NULL);
  GstAlexnetStats a, b;
  GError *err = NULL;

  gst_alexnet_stats_init_imagenet (&a);
  fail_unless_equals_float (a.mean[0], 0.485);
  fail_unless_equals_float (a.std[2], 0.225);
  fail_unless_equals_float (a.eigenvalues[1], 0.0188);
  fail_unless_equals_float (a.eigenvectors[1][2], -0.8140);
  fail_unless_equals_float (a.eigenvectors[2][1], -0.6948);
  a.images = 1281167;
  a.pixels = G_GUINT64_CONSTANT (83960000000);
  a.mean[1] = 1.0 / 3.0;        /* needs all 17 digits */
  fail_unless (gst_alexnet_stats_save (path, &a, &err), "%s",
      err ? err->message : "");
  memset (&b, 0, sizeof (b));
  fail_unless (gst_alexnet_stats_load (path, &b, &err), "%s",
      err ? err->message : "");
  fail_unless (memcmp (&a, &b, sizeof (a)) == 0, "round trip differs");
  /* no temporary file left beside it */
  {
    GDir *dir = g_dir_open (tmp_dir, 0, NULL);
    gint n = 0;
    while (g_dir_read_name (dir))
      n++;
    g_dir_close (dir);
    fail_unless_equals_int (n, 1);
  }
  g_free (path);
}

GST_END_TEST;

static const gchar *good_tail =
    "\"mean\": [0.5, 0.5, 0.5], \"std\": [0.2, 0.2, 0.2], "
    "\"covariance\": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "
    "\"eigenvalues\": [1, 1, 1], "
    "\"eigenvectors\": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}";

static void
check_load_fails (const gchar * name, const gchar * text, const gchar * needle)
{
  gchar *path = g_build_filename (tmp_dir, name, NULL);
  GstAlexnetStats s;
  GError *err = NULL;

  if (text)
    g_file_set_contents (path, text, -1, NULL);
  gst_alexnet_stats_init_imagenet (&s);
  fail_if (gst_alexnet_stats_load (path, &s, &err), "%s loaded", name);
  fail_unless (err != NULL);
  fail_unless (strstr (err->message, path) != NULL,
      "%s: message does not name the file: %s", name, err->message);
  fail_unless (strstr (err->message, needle) != NULL,
      "%s: message does not say \"%s\": %s", name, needle, err->message);
  fail_unless_equals_float (s.mean[0], 0.485);  /* untouched */
  g_error_free (err);
  g_free (path);
}

GST_START_TEST (test_stats_load_errors)
{
  gchar *good = g_strconcat ("{\"format\": \"gst-alexnet-stats\", "
      "\"version\": 1, ", good_tail, NULL);
  gchar *path = g_build_filename (tmp_dir, "good.json", NULL);
  gchar *text;
  GstAlexnetStats s;
  GError *err = NULL;

  g_file_set_contents (path, good, -1, NULL);
  fail_unless (gst_alexnet_stats_load (path, &s, &err), "%s",
      err ? err->message : "");
  fail_unless_equals_uint64 (s.images, 0);

  check_load_fails ("missing.json", NULL, "No such file");
  check_load_fails ("truncated.json", "{\"format\": \"gst-alexnet-st",
      "not valid JSON");
  check_load_fails ("array.json", "[1, 2, 3]", "one JSON object");
  text = g_strconcat ("{\"format\": \"other\", \"version\": 1, ", good_tail,
      NULL);
  check_load_fails ("tag.json", text, "not a statistics file");
  g_free (text);
  text = g_strconcat ("{\"format\": \"gst-alexnet-stats\", \"version\": 2, ",
      good_tail, NULL);
  check_load_fails ("version.json", text, "version");
  g_free (text);
  check_load_fails ("nomean.json", "{\"format\": \"gst-alexnet-stats\", "
      "\"version\": 1}", "\"mean\" is missing");
  check_load_fails ("short.json", "{\"format\": \"gst-alexnet-stats\", "
      "\"version\": 1, \"mean\": [1, 2]}", "\"mean\" must be a list of 3");
  check_load_fails ("string.json", "{\"format\": \"gst-alexnet-stats\", "
      "\"version\": 1, \"mean\": [1, \"2\", 3]}", "\"mean\" must be");
  check_load_fails ("row.json", "{\"format\": \"gst-alexnet-stats\", "
      "\"version\": 1, \"mean\": [1, 2, 3], \"std\": [1, 2, 3], "
      "\"covariance\": [[1, 0, 0], [0, 1], [0, 0, 1]]}",
      "\"covariance\" must be 3 rows of 3 numbers");
  text = g_strconcat ("{\"format\": \"gst-alexnet-stats\", \"version\": 1, "
      "\"images\": -4, ", good_tail, NULL);
  check_load_fails ("images.json", text, "\"images\"");
  g_free (text);
  /* values that would normalise frames into infinities */
  check_load_fails ("inf.json", "{\"format\": \"gst-alexnet-stats\", "
      "\"version\": 1, \"mean\": [0.5, 0.5, 0.5], \"std\": [1e999, 1, 1]}",
      "out of range");
  {
    gchar *t2 = g_strconcat ("{\"format\": \"gst-alexnet-stats\", "
        "\"version\": 1, \"mean\": [0.5, 0.5, 0.5], \"std\": [1e300, 0.2, "
        "0.2], \"covariance\": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "
        "\"eigenvalues\": [1, 1, 1], \"eigenvectors\": [[1, 0, 0], "
        "[0, 1, 0], [0, 0, 1]]}", NULL);
    check_load_fails ("huge_std.json", t2, "\"std\" value 0 is 1e+300");
    g_free (t2);
    t2 = g_strconcat ("{\"format\": \"gst-alexnet-stats\", "
        "\"version\": 1, \"mean\": [0.5, 0.5, 0.5], \"std\": [0.2, 0, "
        "0.2], \"covariance\": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "
        "\"eigenvalues\": [1, 1, 1], \"eigenvectors\": [[1, 0, 0], "
        "[0, 1, 0], [0, 0, 1]]}", NULL);
    check_load_fails ("zero_std.json", t2, "\"std\" value 1 is 0");
    g_free (t2);
    t2 = g_strconcat ("{\"format\": \"gst-alexnet-stats\", "
        "\"version\": 1, \"mean\": [0.5, 0.5, 0.5], \"std\": [0.2, 0.2, "
        "0.2], \"covariance\": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "
        "\"eigenvalues\": [1, 1, -0.5], \"eigenvectors\": [[1, 0, 0], "
        "[0, 1, 0], [0, 0, 1]]}", NULL);
    check_load_fails ("neg_eigen.json", t2, "\"eigenvalues\" value 2");
    g_free (t2);
  }
  /* nested 100,000 deep (200 KB): refused by the reader's depth bound, no
   * recursion that deep (it was a SIGSEGV) */
  {
    GString *deep = g_string_new ("{\"format\": \"gst-alexnet-stats\", "
        "\"version\": 1, \"x\": ");
    for (gint i = 0; i < 100000; i++)
      g_string_append_c (deep, '[');
    for (gint i = 0; i < 100000; i++)
      g_string_append_c (deep, ']');
    g_string_append_c (deep, '}');
    check_load_fails ("deep.json", deep->str, "nested deeper than");
    g_string_free (deep, TRUE);
  }
  g_free (good);
  g_free (path);
}

GST_END_TEST;

/* A file written by dataset-stats drives pca-jitter: with the same seed the
 * offsets are exactly those of the file's eigenvalues and eigenvectors. */
GST_START_TEST (test_round_trip_into_pca_jitter)
{
  gchar *path = g_build_filename (tmp_dir, "train.json", NULL);
  GstHarness *hr = stats_harness (path, "");
  GstAlexnetStats s;
  GError *err = NULL;
  gchar *launch;
  ax_rng rng, draws;

  ax_rng_seed (&rng, 33);
  set_caps (hr, 16, 16);
  for (gint i = 0; i < 4; i++)
    gst_harness_push (hr, random_frame (&rng, 16, 16));
  gst_harness_push_event (hr, gst_event_new_eos ());
  gst_harness_teardown (hr);
  fail_unless (gst_alexnet_stats_load (path, &s, &err), "%s",
      err ? err->message : "");

  launch = g_strdup_printf ("pca-jitter seed=12 sigma=2 stats-location=\"%s\"",
      path);
  hr = gst_harness_new_parse (launch);
  set_caps (hr, 2, 2);
  ax_rng_seed (&draws, 12);
  for (gint i = 0; i < 10; i++) {
    GstBuffer *in = gst_buffer_new_and_alloc (16);
    GstBuffer *out;
    GstMapInfo map;
    double alpha[3];

    gst_buffer_memset (in, 0, 128, 16);
    gst_harness_push (hr, in);
    out = gst_harness_pull (hr);
    for (gint k = 0; k < 3; k++)
      alpha[k] = 2.0 * ax_rng_normal (&draws);
    gst_buffer_map (out, &map, GST_MAP_READ);
    for (gint c = 0; c < 3; c++) {
      double delta = 0;
      for (gint k = 0; k < 3; k++)
        delta += s.eigenvectors[c][k] * alpha[k] * s.eigenvalues[k];
      delta *= 255.0;
      fail_unless_equals_int (map.data[c],
          (gint) fmin (255, fmax (0, floor (128 + delta + 0.5))));
    }
    gst_buffer_unmap (out, &map);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (hr);
  g_free (launch);
  g_free (path);
}

GST_END_TEST;

static Suite *
dataset_stats_suite (void)
{
  Suite *s = suite_create ("dataset-stats");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_file_vs_naive);
  tcase_add_test (tc, test_max_images);
  tcase_add_test (tc, test_bad_locations);
  tcase_add_test (tc, test_write_fails_at_eos);
  tcase_add_test (tc, test_no_images_no_file);
  tcase_add_test (tc, test_non_rgb_not_negotiated);
  tcase_add_test (tc, test_stats_round_trip);
  tcase_add_test (tc, test_stats_load_errors);
  tcase_add_test (tc, test_round_trip_into_pca_jitter);
  return s;
}

GST_CHECK_MAIN (dataset_stats);
