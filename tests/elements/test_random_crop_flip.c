/* random-crop-flip in a GstHarness. The test images encode each pixel's
 * position (R = x mod 256, G = y mod 256, B = the high bits), so every
 * output tells where it was cut from and whether it was mirrored, and is
 * then checked pixel by pixel. Square and non-square inputs, sizes changing
 * in the middle of the stream, and behind resize-256's scale jittering. */
#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gst/base/gstbasetransform.h>
#include <string.h>

#include "plugin/gstalexnetmeta.h"

static void
pix (guint8 * p, gint x, gint y)
{
  p[0] = x & 255;
  p[1] = y & 255;
  p[2] = (x >> 8) | ((y >> 8) << 4);
}

static GstBuffer *
make_image (gint w, gint h)
{
  GstVideoInfo info;
  GstVideoFrame f;
  GstBuffer *buf;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  fail_unless (gst_video_frame_map (&f, &info, buf, GST_MAP_WRITE));
  for (gint y = 0; y < h; y++)
    for (gint x = 0; x < w; x++)
      pix ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&f, 0)
          + y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0) + x * 3, x, y);
  gst_video_frame_unmap (&f);
  return buf;
}

static void
set_caps (GstHarness * h, gint w, gint hh)
{
  gchar *caps = g_strdup_printf ("video/x-raw,format=RGB,width=%d,height=%d,"
      "framerate=0/1", w, hh);
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
}

typedef struct
{
  gint x, y, mirror;
} Pos;

/* Where an S x S output was cut from; checks every pixel against that
 * window of the source and fails the test if any differs. */
static Pos
locate_and_check (GstBuffer * out, gint S)
{
  GstVideoInfo info;
  GstVideoFrame f;
  const guint8 *d;
  gint stride, bad = 0;
  Pos p;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, S, S);
  fail_unless (gst_video_frame_map (&f, &info, out, GST_MAP_READ));
  d = GST_VIDEO_FRAME_PLANE_DATA (&f, 0);
  stride = GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0);
  {
    gint x0 = d[0] | ((d[2] & 15) << 8), x1 = d[3] | ((d[5] & 15) << 8);
    p.mirror = x1 == x0 - 1;
    p.x = p.mirror ? x0 - (S - 1) : x0;
    p.y = d[1] | ((d[2] >> 4) << 8);
  }
  for (gint y = 0; y < S; y++)
    for (gint i = 0; i < S; i++) {
      guint8 want[3];
      pix (want, p.mirror ? p.x + S - 1 - i : p.x + i, p.y + y);
      bad += memcmp (d + y * stride + i * 3, want, 3) != 0;
    }
  gst_video_frame_unmap (&f);
  fail_unless (bad == 0, "crop at %d,%d mirror %d: %d wrong pixels", p.x, p.y,
      p.mirror, bad);
  return p;
}

static gint
out_size (GstHarness * h)
{
  GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
  GstVideoInfo info;
  fail_unless (gst_video_info_from_caps (&info, caps));
  gst_caps_unref (caps);
  fail_unless_equals_int (GST_VIDEO_INFO_WIDTH (&info),
      GST_VIDEO_INFO_HEIGHT (&info));
  return GST_VIDEO_INFO_WIDTH (&info);
}

GST_START_TEST (test_center)
{
  GstHarness *h = gst_harness_new ("random-crop-flip");
  GstBuffer *in, *out;
  GstAlexnetLabelMeta *m;
  Pos p;

  g_object_set (h->element, "mode", 1 /* center */ , NULL);
  set_caps (h, 256, 256);
  in = make_image (256, 256);
  gst_buffer_add_alexnet_label_meta (in, 4, "dog", "d/4.jpg");
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless_equals_int (out_size (h), 224);
  p = locate_and_check (out, 224);
  fail_unless (p.x == 16 && p.y == 16 && !p.mirror, "centre at %d,%d,%d",
      p.x, p.y, p.mirror);
  m = gst_buffer_get_alexnet_label_meta (out);
  fail_unless (m != NULL);
  fail_unless_equals_int (m->class_index, 4);
  fail_unless_equals_int (m->view, 0);
  fail_unless_equals_int (m->n_views, 1);
  gst_buffer_unref (out);

  /* odd margins: torchvision's int(round(3 / 2.0)) = 2 */
  set_caps (h, 227, 225);
  fail_unless_equals_int (gst_harness_push (h, make_image (227, 225)),
      GST_FLOW_OK);
  out = gst_harness_pull (h);
  p = locate_and_check (out, 224);
  fail_unless (p.x == 2 && p.y == 0, "odd centre at %d,%d", p.x, p.y);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* n train crops of a W x H image with the given seed. */
static void
train_crops (Pos * pos, gint n, gint64 seed, gint W, gint H)
{
  GstHarness *h = gst_harness_new ("random-crop-flip");

  g_object_set (h->element, "seed", seed, NULL);
  set_caps (h, W, H);
  for (gint i = 0; i < n; i++) {
    GstBuffer *out;
    fail_unless_equals_int (gst_harness_push (h, make_image (W, H)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    pos[i] = locate_and_check (out, 224);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
}

GST_START_TEST (test_train_statistics)
{
  enum { N = 600 };
  static Pos pos[N];
  gint seen_x[33] = { 0 }, seen_y[17] = { 0 }, flips = 0, cx = 0, cy = 0;

  train_crops (pos, N, 7, 256, 240);
  for (gint i = 0; i < N; i++) {
    fail_unless (pos[i].x >= 0 && pos[i].x <= 32 && pos[i].y >= 0
        && pos[i].y <= 16, "crop %d at %d,%d outside", i, pos[i].x, pos[i].y);
    seen_x[pos[i].x]++;
    seen_y[pos[i].y]++;
    flips += pos[i].mirror;
  }
  for (gint i = 0; i <= 32; i++)
    cx += seen_x[i] > 0;
  for (gint i = 0; i <= 16; i++)
    cy += seen_y[i] > 0;
  fail_unless_equals_int (cx, 33);
  fail_unless_equals_int (cy, 17);
  /* 0.5 +- 4.9 sigma (sigma = 0.0204) */
  fail_unless (ABS (flips - N / 2) <= 60, "%d flips of %d", flips, N);
}

GST_END_TEST;

GST_START_TEST (test_seed_reproducible)
{
  enum { N = 40 };
  Pos a[N], b[N], c[N];
  gint differ = 0;

  train_crops (a, N, 42, 256, 256);
  train_crops (b, N, 42, 256, 256);
  train_crops (c, N, 43, 256, 256);
  for (gint i = 0; i < N; i++) {
    fail_unless (a[i].x == b[i].x && a[i].y == b[i].y
        && a[i].mirror == b[i].mirror, "seed 42 differs at crop %d", i);
    differ += a[i].x != c[i].x || a[i].y != c[i].y || a[i].mirror != c[i].mirror;
  }
  fail_unless (differ > N / 2, "seeds 42 and 43 agree on %d of %d crops",
      N - differ, N);
}

GST_END_TEST;

GST_START_TEST (test_seed_property_restarts)
{
  GstHarness *h = gst_harness_new ("random-crop-flip");
  Pos first[8], again[8];
  gint64 seed = 0;

  g_object_get (h->element, "seed", &seed, NULL);
  fail_unless_equals_int64 (seed, -1);
  set_caps (h, 256, 256);
  for (gint pass = 0; pass < 2; pass++) {
    g_object_set (h->element, "seed", (gint64) 99, NULL);
    for (gint i = 0; i < 8; i++) {
      GstBuffer *out;
      fail_unless_equals_int (gst_harness_push (h, make_image (256, 256)),
          GST_FLOW_OK);
      out = gst_harness_pull (h);
      (pass ? again : first)[i] = locate_and_check (out, 224);
      gst_buffer_unref (out);
    }
  }
  for (gint i = 0; i < 8; i++)
    fail_unless (first[i].x == again[i].x && first[i].y == again[i].y
        && first[i].mirror == again[i].mirror, "crop %d differs", i);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_ten_crop)
{
  /* torchvision TenCrop of a 256x250 image, views in original coordinates */
  static const Pos want[10] = {
    {0, 0, 0}, {32, 0, 0}, {0, 26, 0}, {32, 26, 0}, {16, 13, 0},
    {32, 0, 1}, {0, 0, 1}, {32, 26, 1}, {0, 26, 1}, {16, 13, 1},
  };
  GstHarness *h = gst_harness_new ("random-crop-flip");

  g_object_set (h->element, "mode", 2 /* ten-crop */ , NULL);
  set_caps (h, 256, 250);
  for (gint image = 0; image < 2; image++) {
    GstBuffer *in = make_image (256, 250);
    GstAlexnetLabelMeta *m = gst_buffer_add_alexnet_label_meta (in, 11 + image,
        "owl", "birds/owl.jpg");
    m->sample_index = 500 + image;
    GST_BUFFER_PTS (in) = (3 + image) * GST_SECOND;
    GST_BUFFER_DURATION (in) = GST_SECOND;
    fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    fail_unless_equals_int (gst_harness_buffers_in_queue (h), 10);
    for (gint v = 0; v < 10; v++) {
      GstBuffer *out = gst_harness_pull (h);
      Pos p = locate_and_check (out, 224);
      fail_unless (p.x == want[v].x && p.y == want[v].y
          && p.mirror == want[v].mirror, "view %d at %d,%d,%d", v, p.x, p.y,
          p.mirror);
      m = gst_buffer_get_alexnet_label_meta (out);
      fail_unless (m != NULL, "view %d lost the label", v);
      fail_unless_equals_int (m->view, v);
      fail_unless_equals_int (m->n_views, 10);
      fail_unless_equals_int (m->class_index, 11 + image);
      fail_unless_equals_uint64 (m->sample_index, 500 + image);
      fail_unless_equals_string (m->sample_id, "birds/owl.jpg");
      fail_unless_equals_uint64 (GST_BUFFER_PTS (out),
          (3 + image) * GST_SECOND);
      fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), GST_SECOND);
      gst_buffer_unref (out);
    }
  }
  /* and back to one crop per input */
  g_object_set (h->element, "mode", 1, NULL);
  fail_unless_equals_int (gst_harness_push (h, make_image (256, 250)),
      GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 1);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_caps_change_between_buffers)
{
  GstHarness *h = gst_harness_new ("random-crop-flip");
  static const gint sizes[][2] = { {256, 256}, {300, 240}, {224, 224},
  {500, 375}, {256, 256}
  };

  g_object_set (h->element, "seed", (gint64) 3, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    GstBuffer *out;
    Pos p;
    set_caps (h, sizes[i][0], sizes[i][1]);
    fail_unless_equals_int (gst_harness_push (h, make_image (sizes[i][0],
                sizes[i][1])), GST_FLOW_OK);
    out = gst_harness_pull (h);
    fail_unless_equals_int (out_size (h), 224);
    p = locate_and_check (out, 224);
    fail_unless (p.x + 224 <= sizes[i][0] && p.y + 224 <= sizes[i][1]);
    gst_buffer_unref (out);
  }
  /* a smaller crop size, set while streaming */
  g_object_set (h->element, "size", 100, NULL);
  fail_unless_equals_int (gst_harness_push (h, make_image (256, 256)),
      GST_FLOW_OK);
  {
    GstBuffer *out = gst_harness_pull (h);
    fail_unless_equals_int (out_size (h), 100);
    locate_and_check (out, 100);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_too_small)
{
  GstHarness *h = gst_harness_new ("random-crop-flip");
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;

  gst_element_set_bus (h->element, bus);
  set_caps (h, 200, 180);
  fail_unless_equals_int (gst_harness_push (h, make_image (200, 180)),
      GST_FLOW_NOT_NEGOTIATED);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message");
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (strstr (err->message,
          "image 200x180 is smaller than the 224x224 crop") != NULL,
      "message: %s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_non_rgb_refused)
{
  GstHarness *h = gst_harness_new ("random-crop-flip");
  GstCaps *caps = gst_caps_from_string ("video/x-raw,format=I420,width=256,"
      "height=256,framerate=0/1");

  fail_if (gst_pad_query_accept_caps (GST_BASE_TRANSFORM_SINK_PAD
          (h->element), caps));
  gst_harness_set_src_caps (h, caps);
  fail_unless_equals_int (gst_harness_push (h,
          gst_buffer_new_allocate (NULL, 256 * 256 * 3 / 2, NULL)),
      GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_target_size_query)
{
  GstHarness *h = gst_harness_new ("random-crop-flip");
  GstQuery *q = gst_alexnet_query_new_target_size ();
  gint size = 0;

  fail_unless (gst_pad_peer_query (h->srcpad, q));
  fail_unless (gst_alexnet_query_parse_target_size (q, &size));
  fail_unless_equals_int (size, 224);
  gst_query_unref (q);
  g_object_set (h->element, "size", 227, NULL);
  q = gst_alexnet_query_new_target_size ();
  fail_unless (gst_pad_peer_query (h->srcpad, q));
  fail_unless (gst_alexnet_query_parse_target_size (q, &size));
  fail_unless_equals_int (size, 227);
  gst_query_unref (q);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Train crops of landscape and portrait images: every one inside the frame,
 * x over [0, W - size] and y over [0, H - size], both ends reached. */
GST_START_TEST (test_train_non_square)
{
  enum { N = 300 };
  static const gint sizes[][2] = { {300, 240}, {240, 300} };
  static Pos pos[N];

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    gint W = sizes[s][0], H = sizes[s][1];
    gint min_x = G_MAXINT, max_x = -1, min_y = G_MAXINT, max_y = -1;

    train_crops (pos, N, 11, W, H);
    for (gint i = 0; i < N; i++) {
      fail_unless (pos[i].x >= 0 && pos[i].y >= 0 && pos[i].x + 224 <= W
          && pos[i].y + 224 <= H, "%dx%d: crop %d at %d,%d outside", W, H, i,
          pos[i].x, pos[i].y);
      min_x = MIN (min_x, pos[i].x);
      max_x = MAX (max_x, pos[i].x);
      min_y = MIN (min_y, pos[i].y);
      max_y = MAX (max_y, pos[i].y);
    }
    fail_unless (min_x == 0 && max_x == W - 224 && min_y == 0
        && max_y == H - 224, "%dx%d: x in [%d, %d], y in [%d, %d]", W, H,
        min_x, max_x, min_y, max_y);
  }
}

GST_END_TEST;

/* The centre crop and the ten views of non-square images whose size
 * changes between buffers (new caps mid-stream). */
GST_START_TEST (test_views_non_square_caps_change)
{
  static const struct
  {
    gint w, h, cx, cy;
  } sizes[] = {
    {300, 240, 38, 8},
    {240, 301, 8, 38},          /* int(round(77 / 2.0)) = 38 */
    {225, 400, 0, 88},          /* int(round(1 / 2.0)) = 0 */
    {256, 256, 16, 16},
  };
  GstHarness *h = gst_harness_new ("random-crop-flip");

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    gint W = sizes[i].w, H = sizes[i].h, dx = W - 224, dy = H - 224;
    const Pos want[10] = {
      {0, 0, 0}, {dx, 0, 0}, {0, dy, 0}, {dx, dy, 0},
      {sizes[i].cx, sizes[i].cy, 0},
      /* the mirrored image's views, in the original's coordinates (its
       * centre is the mirrored image's: dx - cx, not cx, for odd dx) */
      {dx, 0, 1}, {0, 0, 1}, {dx, dy, 1}, {0, dy, 1},
      {dx - sizes[i].cx, sizes[i].cy, 1},
    };
    GstBuffer *out;
    Pos p;

    g_object_set (h->element, "mode", 1 /* center */ , NULL);
    set_caps (h, W, H);
    fail_unless_equals_int (gst_harness_push (h, make_image (W, H)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    fail_unless_equals_int (out_size (h), 224);
    p = locate_and_check (out, 224);
    fail_unless (p.x == sizes[i].cx && p.y == sizes[i].cy && !p.mirror,
        "%dx%d: centre at %d,%d,%d", W, H, p.x, p.y, p.mirror);
    gst_buffer_unref (out);

    g_object_set (h->element, "mode", 2 /* ten-crop */ , NULL);
    fail_unless_equals_int (gst_harness_push (h, make_image (W, H)),
        GST_FLOW_OK);
    fail_unless_equals_int (gst_harness_buffers_in_queue (h), 10);
    for (gint v = 0; v < 10; v++) {
      out = gst_harness_pull (h);
      p = locate_and_check (out, 224);
      fail_unless (p.x == want[v].x && p.y == want[v].y
          && p.mirror == want[v].mirror, "%dx%d: view %d at %d,%d,%d", W, H,
          v, p.x, p.y, p.mirror);
      gst_buffer_unref (out);
    }
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A frame too small in only one dimension, arriving as a caps change in the
 * middle of the stream, is refused with a message naming both sizes. */
GST_START_TEST (test_too_small_one_dimension)
{
  static const gint sizes[][2] = { {300, 200}, {200, 300} };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    GstHarness *h = gst_harness_new ("random-crop-flip");
    GstBus *bus = gst_bus_new ();
    GstMessage *msg;
    GError *err = NULL;
    gchar *want = g_strdup_printf ("image %dx%d is smaller than the 224x224 "
        "crop", sizes[i][0], sizes[i][1]);

    gst_element_set_bus (h->element, bus);
    set_caps (h, 256, 256);
    fail_unless_equals_int (gst_harness_push (h, make_image (256, 256)),
        GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));
    set_caps (h, sizes[i][0], sizes[i][1]);
    fail_unless_equals_int (gst_harness_push (h, make_image (sizes[i][0],
                sizes[i][1])), GST_FLOW_NOT_NEGOTIATED);
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    fail_unless (msg != NULL, "no error message");
    gst_message_parse_error (msg, &err, NULL);
    fail_unless (strstr (err->message, want) != NULL, "message: %s",
        err->message);
    g_error_free (err);
    gst_message_unref (msg);
    g_free (want);
    gst_element_set_bus (h->element, NULL);
    gst_object_unref (bus);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* Behind resize-256: plain (centre squares) and VGG-style (the whole image,
 * its shorter side jittered, so every buffer may bring new caps). Every
 * image gives one size x size crop with its label. */
GST_START_TEST (test_after_resize_256)
{
  static const gchar *pipelines[] = {
    "resize-256 size=48 ! random-crop-flip size=40 seed=1",
    "resize-256 mode=isotropic scale-min=40 scale-max=72 seed=1 ! "
        "random-crop-flip size=40 seed=1",
  };
  static const gint sizes[][2] = { {90, 60}, {50, 80}, {64, 64}, {41, 97} };

  for (guint p = 0; p < G_N_ELEMENTS (pipelines); p++) {
    GstHarness *h = gst_harness_new_parse (pipelines[p]);

    for (gint i = 0; i < 24; i++) {
      gint W = sizes[i % G_N_ELEMENTS (sizes)][0];
      gint H = sizes[i % G_N_ELEMENTS (sizes)][1];
      GstBuffer *in = make_image (W, H), *out;
      GstAlexnetLabelMeta *m;

      gst_buffer_add_alexnet_label_meta (in, i, "cat", "c.jpg");
      set_caps (h, W, H);
      fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
      out = gst_harness_pull (h);
      fail_unless (out != NULL);
      fail_unless_equals_int (out_size (h), 40);
      fail_unless_equals_int (gst_buffer_get_size (out),
          GST_ROUND_UP_4 (40 * 3) * 40);
      m = gst_buffer_get_alexnet_label_meta (out);
      fail_unless (m != NULL && m->class_index == i, "%s: image %d label",
          pipelines[p], i);
      gst_buffer_unref (out);
    }
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

static Suite *
random_crop_flip_suite (void)
{
  Suite *s = suite_create ("random-crop-flip");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_center);
  tcase_add_test (tc, test_train_statistics);
  tcase_add_test (tc, test_seed_reproducible);
  tcase_add_test (tc, test_seed_property_restarts);
  tcase_add_test (tc, test_ten_crop);
  tcase_add_test (tc, test_caps_change_between_buffers);
  tcase_add_test (tc, test_too_small);
  tcase_add_test (tc, test_non_rgb_refused);
  tcase_add_test (tc, test_target_size_query);
  tcase_add_test (tc, test_train_non_square);
  tcase_add_test (tc, test_views_non_square_caps_change);
  tcase_add_test (tc, test_too_small_one_dimension);
  tcase_add_test (tc, test_after_resize_256);
  return s;
}

GST_CHECK_MAIN (random_crop_flip);
