/* resize-256 in a GstHarness: pixels against an independent float64
 * reference of Resize(S) + CenterCrop(S) and of the whole Resize(S)
 * (mode=isotropic), label meta survival, caps changes between buffers, scale
 * jittering (range, seed, renegotiation per image, bad ranges), the
 * target-size query, refused non-RGB caps, and images too elongated to
 * resize skipped. */
#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gst/base/gstbasetransform.h>
#include <math.h>
#include <string.h>

#include "plugin/gstalexnetmeta.h"
#include "tests/ref_resize.h"

/* An RGB w x h buffer with GStreamer's default strides, LCG pixels. */
static GstBuffer *
make_image (gint w, gint h, guint64 seed)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;
  guint64 s = seed;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
  for (gint y = 0; y < h; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
    for (gint i = 0; i < w * 3; i++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      row[i] = (guint8) (s >> 56);
    }
  }
  gst_video_frame_unmap (&frame);
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

/* Pushes a w x h image, pulls the result, checks its caps and pixels;
 * returns the largest difference to the reference. */
static gint
push_and_check (GstHarness * h, gint w, gint hh, gint S, guint64 seed)
{
  GstBuffer *in = make_image (w, hh, seed), *out;
  GstVideoInfo in_info, out_info;
  GstVideoFrame fin, fout;
  GstCaps *caps;
  guint8 *ref = g_malloc ((gsize) S * S * 3);
  gint maxd = 0;

  set_caps (h, w, hh);
  gst_video_info_set_format (&in_info, GST_VIDEO_FORMAT_RGB, w, hh);
  fail_unless (gst_video_frame_map (&fin, &in_info, in, GST_MAP_READ));
  ref_resize_center (ref, GST_VIDEO_FRAME_PLANE_DATA (&fin, 0),
      GST_VIDEO_FRAME_PLANE_STRIDE (&fin, 0), w, hh, S);
  gst_video_frame_unmap (&fin);

  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (out != NULL);
  caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless (gst_video_info_from_caps (&out_info, caps));
  gst_caps_unref (caps);
  fail_unless_equals_int (GST_VIDEO_INFO_WIDTH (&out_info), S);
  fail_unless_equals_int (GST_VIDEO_INFO_HEIGHT (&out_info), S);
  fail_unless (gst_video_frame_map (&fout, &out_info, out, GST_MAP_READ));
  for (gint y = 0; y < S; y++) {
    const guint8 *row = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&fout, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&fout, 0);
    for (gint i = 0; i < S * 3; i++)
      maxd = MAX (maxd, ABS ((gint) row[i] - (gint) ref[y * S * 3 + i]));
  }
  gst_video_frame_unmap (&fout);
  gst_buffer_unref (out);
  g_free (ref);
  fail_unless (maxd <= 1, "%dx%d -> %d: max difference %d to the reference",
      w, hh, S, maxd);
  return maxd;
}

GST_START_TEST (test_default_size_pixels)
{
  GstHarness *h = gst_harness_new ("resize-256");
  gint size;

  g_object_get (h->element, "size", &size, NULL);
  fail_unless_equals_int (size, 256);
  push_and_check (h, 300, 200, 256, 1);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_sizes_change_between_buffers)
{
  GstHarness *h = gst_harness_new ("resize-256");

  g_object_set (h->element, "size", 48, NULL);
  push_and_check (h, 120, 90, 48, 2);   /* landscape, shrink 1.875 */
  push_and_check (h, 91, 157, 48, 3);   /* portrait, odd */
  push_and_check (h, 400, 97, 48, 4);   /* shrink ~2, wide */
  push_and_check (h, 28, 28, 48, 5);    /* upscale */
  push_and_check (h, 48, 48, 48, 6);    /* same size: passthrough */
  push_and_check (h, 120, 90, 48, 7);   /* back to the first size */
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_size_property_change)
{
  GstHarness *h = gst_harness_new ("resize-256");

  g_object_set (h->element, "size", 32, NULL);
  push_and_check (h, 100, 80, 32, 8);
  g_object_set (h->element, "size", 40, NULL);
  push_and_check (h, 100, 80, 40, 9);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_label_meta_survives)
{
  GstHarness *h = gst_harness_new ("resize-256");
  GstBuffer *in, *out;
  GstAlexnetLabelMeta *m;

  g_object_set (h->element, "size", 16, NULL);
  set_caps (h, 40, 30);
  in = make_image (40, 30, 10);
  m = gst_buffer_add_alexnet_label_meta (in, 7, "tabby", "cats/1.jpg");
  m->sample_index = 1234;
  m->epoch = 3;
  GST_BUFFER_PTS (in) = 5 * GST_SECOND;
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  out = gst_harness_pull (h);
  m = gst_buffer_get_alexnet_label_meta (out);
  fail_unless (m != NULL, "label meta lost");
  fail_unless_equals_int (m->class_index, 7);
  fail_unless_equals_string (m->class_name, "tabby");
  fail_unless_equals_string (m->sample_id, "cats/1.jpg");
  fail_unless_equals_uint64 (m->sample_index, 1234);
  fail_unless_equals_int (m->epoch, 3);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 5 * GST_SECOND);
  fail_unless_equals_int (gst_buffer_get_size (out),
      GST_ROUND_UP_4 (16 * 3) * 16);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_target_size_query)
{
  GstHarness *h = gst_harness_new ("resize-256");
  GstQuery *q;
  gint size = 0;

  q = gst_alexnet_query_new_target_size ();
  fail_unless (gst_pad_peer_query (h->srcpad, q));
  fail_unless (gst_alexnet_query_parse_target_size (q, &size));
  fail_unless_equals_int (size, 256);
  gst_query_unref (q);

  g_object_set (h->element, "size", 384, NULL);
  q = gst_alexnet_query_new_target_size ();
  fail_unless (gst_pad_peer_query (h->srcpad, q));
  fail_unless (gst_alexnet_query_parse_target_size (q, &size));
  fail_unless_equals_int (size, 384);
  gst_query_unref (q);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_caps_without_framerate)
{
  GstHarness *h = gst_harness_new ("resize-256");
  GstBuffer *out;

  g_object_set (h->element, "size", 8, NULL);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=20,"
      "height=12");
  fail_unless_equals_int (gst_harness_push (h, make_image (20, 12, 1)),
      GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless_equals_int (gst_buffer_get_size (out), GST_ROUND_UP_4 (8 * 3) * 8);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_non_rgb_refused)
{
  GstHarness *h = gst_harness_new ("resize-256");
  GstCaps *caps = gst_caps_from_string ("video/x-raw,format=GRAY8,width=20,"
      "height=20,framerate=0/1");

  fail_if (gst_pad_query_accept_caps (GST_BASE_TRANSFORM_SINK_PAD
          (h->element), caps));
  gst_harness_set_src_caps (h, caps);
  fail_unless_equals_int (gst_harness_push (h,
          gst_buffer_new_allocate (NULL, 400, NULL)),
      GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* The size of the output buffer just pulled, from the caps the harness got
 * with it (one buffer is pushed and pulled at a time). */
static void
current_out_size (GstHarness * h, gint * w, gint * hh)
{
  GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
  GstVideoInfo info;

  fail_unless (caps != NULL);
  fail_unless (gst_video_info_from_caps (&info, caps));
  gst_caps_unref (caps);
  *w = GST_VIDEO_INFO_WIDTH (&info);
  *hh = GST_VIDEO_INFO_HEIGHT (&info);
}

/* Pushes a w x h image and pulls the result; its size goes to *out_w,
 * *out_h, and its pixels, tightly packed, are returned. */
static guint8 *
push_and_pull (GstHarness * h, GstBuffer * in, gint * out_w, gint * out_h)
{
  GstVideoInfo info;
  GstVideoFrame f;
  GstBuffer *out;
  guint8 *pix;

  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (out != NULL);
  current_out_size (h, out_w, out_h);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, *out_w, *out_h);
  fail_unless_equals_int (gst_buffer_get_size (out),
      GST_VIDEO_INFO_SIZE (&info));
  fail_unless (gst_video_frame_map (&f, &info, out, GST_MAP_READ));
  pix = g_malloc ((gsize) * out_w * *out_h * 3);
  for (gint y = 0; y < *out_h; y++)
    memcpy (pix + (gsize) y * *out_w * 3,
        (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&f, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0), (gsize) * out_w * 3);
  gst_video_frame_unmap (&f);
  gst_buffer_unref (out);
  return pix;
}

/* Largest difference between the S x S window at (ox, oy) of a packed
 * out_w-wide output and the float64 reference of the window at (x0, y0) of
 * Resize(S) of the w x h input. */
static gint
window_diff_to_reference (const guint8 * out, gint out_w, gint ox, gint oy,
    GstBuffer * in, gint w, gint hh, gint S, gint x0, gint y0)
{
  GstVideoInfo info;
  GstVideoFrame f;
  guint8 *ref = g_malloc ((gsize) S * S * 3);
  gint sw, sh, cx, cy, maxd = 0;

  ref_geometry (w, hh, S, &sw, &sh, &cx, &cy);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, hh);
  fail_unless (gst_video_frame_map (&f, &info, in, GST_MAP_READ));
  ref_resize (ref, GST_VIDEO_FRAME_PLANE_DATA (&f, 0),
      GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0), w, hh, sw, sh, x0, y0, S);
  gst_video_frame_unmap (&f);
  for (gint y = 0; y < S; y++)
    for (gint i = 0; i < S * 3; i++)
      maxd = MAX (maxd, ABS ((gint) out[((gsize) (oy + y) * out_w + ox) * 3
                  + i] - (gint) ref[(gsize) y * S * 3 + i]));
  g_free (ref);
  return maxd;
}

/* mode=isotropic: the whole of torchvision's Resize(S), for landscape,
 * portrait, enlarged and square inputs: the size as torchvision computes it
 * (shorter side S, longer int(S * long / short)), the pixels against the
 * float64 reference at both ends of the longer side, and the centre window
 * equal byte for byte to the centre-square output of the same image. */
GST_START_TEST (test_isotropic_whole_image)
{
  static const struct
  {
    gint w, h, want_w, want_h;
  } cases[] = {
    {120, 90, 64, 48},          /* landscape, shrink 1.875 */
    {91, 157, 48, 82},          /* portrait, odd: 48 * 157 / 91 = 82.8 */
    {400, 97, 197, 48},         /* wide, shrink ~2 */
    {28, 20, 67, 48},           /* enlarged: 48 * 28 / 20 = 67.2 */
    {30, 30, 48, 48},           /* square */
  };
  GstHarness *iso = gst_harness_new ("resize-256");
  GstHarness *sq = gst_harness_new ("resize-256");

  gst_util_set_object_arg (G_OBJECT (iso->element), "mode", "isotropic");
  g_object_set (iso->element, "size", 48, NULL);
  g_object_set (sq->element, "size", 48, NULL);
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    gint w = cases[c].w, hh = cases[c].h, S = 48;
    gint sw, sh, cx, cy, ow, oh, qw, qh, d0, d1, bad = 0;
    GstBuffer *in = make_image (w, hh, 20 + c);
    guint8 *out, *square;

    ref_geometry (w, hh, S, &sw, &sh, &cx, &cy);
    fail_unless (sw == cases[c].want_w && sh == cases[c].want_h,
        "torchvision's size of %dx%d: %dx%d", w, hh, sw, sh);
    set_caps (iso, w, hh);
    out = push_and_pull (iso, gst_buffer_ref (in), &ow, &oh);
    fail_unless (ow == sw && oh == sh, "%dx%d -> %dx%d, want %dx%d", w, hh,
        ow, oh, sw, sh);
    d0 = window_diff_to_reference (out, ow, 0, 0, in, w, hh, S, 0, 0);
    d1 = window_diff_to_reference (out, ow, sw - S, sh - S, in, w, hh, S,
        sw - S, sh - S);
    fail_unless (d0 <= 1 && d1 <= 1, "%dx%d: differences %d, %d to the "
        "reference", w, hh, d0, d1);

    set_caps (sq, w, hh);
    square = push_and_pull (sq, gst_buffer_ref (in), &qw, &qh);
    fail_unless (qw == S && qh == S);
    for (gint y = 0; y < S; y++)
      bad += memcmp (square + (gsize) y * S * 3,
          out + ((gsize) (cy + y) * ow + cx) * 3, (gsize) S * 3) != 0;
    fail_unless (bad == 0, "%dx%d: %d rows of the centre window differ from "
        "the centre square", w, hh, bad);
    g_free (square);
    g_free (out);
    gst_buffer_unref (in);
  }
  gst_harness_teardown (sq);
  gst_harness_teardown (iso);
}

GST_END_TEST;

/* An image whose shorter side is already S is its own isotropic result. */
GST_START_TEST (test_isotropic_same_size_passthrough)
{
  GstHarness *h = gst_harness_new ("resize-256");
  GstBuffer *in = make_image (64, 48, 3), *out;

  gst_util_set_object_arg (G_OBJECT (h->element), "mode", "isotropic");
  g_object_set (h->element, "size", 48, NULL);
  set_caps (h, 64, 48);
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_ref (in)),
      GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (out == in, "not passed through");
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* The S of n images w x h under scale jittering in [lo, hi] with a seed;
 * every output's size and pixels are checked against torchvision's. */
static void
jittered_sizes (gint * S, gint n, const gchar * mode, gint lo, gint hi,
    gint64 seed, gint w, gint hh)
{
  GstHarness *h = gst_harness_new ("resize-256");
  gboolean iso = g_str_equal (mode, "isotropic");

  gst_util_set_object_arg (G_OBJECT (h->element), "mode", mode);
  g_object_set (h->element, "scale-min", lo, "scale-max", hi, "seed", seed,
      NULL);
  set_caps (h, w, hh);
  for (gint i = 0; i < n; i++) {
    GstBuffer *in = make_image (w, hh, 100 + i);
    gint ow, oh, sw, sh, cx, cy, d;
    guint8 *out = push_and_pull (h, gst_buffer_ref (in), &ow, &oh);

    S[i] = MIN (ow, oh);
    fail_unless (S[i] >= lo && S[i] <= hi, "image %d: S = %d outside [%d, %d]",
        i, S[i], lo, hi);
    ref_geometry (w, hh, S[i], &sw, &sh, &cx, &cy);
    if (iso)
      fail_unless (ow == sw && oh == sh, "image %d: %dx%d, want %dx%d", i, ow,
          oh, sw, sh);
    else
      fail_unless (ow == S[i] && oh == S[i], "image %d: %dx%d not square", i,
          ow, oh);
    /* (isotropic: the window at the start of the longer side) */
    d = window_diff_to_reference (out, ow, 0, 0, in, w, hh, S[i],
        iso ? 0 : cx, iso ? 0 : cy);
    fail_unless (d <= 1, "image %d (S = %d): difference %d to the reference",
        i, S[i], d);
    g_free (out);
    gst_buffer_unref (in);
  }
  gst_harness_teardown (h);
}

/* Scale jittering: every S in [scale-min, scale-max], more than one of them
 * over 30 images (new caps each time the size changes), the same seed the
 * same sequence, another seed another; in both modes. */
GST_START_TEST (test_jitter_range_and_seed)
{
  enum { N = 30 };
  static const gchar *modes[] = { "isotropic", "centre-square" };

  for (guint m = 0; m < G_N_ELEMENTS (modes); m++) {
    gint a[N], b[N], c[N], distinct = 0, differ = 0;
    gboolean seen[57] = { FALSE };

    jittered_sizes (a, N, modes[m], 40, 56, 5, 60, 45);
    jittered_sizes (b, N, modes[m], 40, 56, 5, 60, 45);
    jittered_sizes (c, N, modes[m], 40, 56, 6, 60, 45);
    for (gint i = 0; i < N; i++) {
      distinct += !seen[a[i]];
      seen[a[i]] = TRUE;
      fail_unless (a[i] == b[i], "%s: seed 5 gives S %d then %d at image %d",
          modes[m], a[i], b[i], i);
      differ += a[i] != c[i];
    }
    /* 17 values, 30 draws: fewer than 5 distinct ones is ~1e-9 likely */
    fail_unless (distinct >= 5, "%s: only %d distinct S in %d images",
        modes[m], distinct, N);
    fail_unless (differ > N / 2, "%s: seeds 5 and 6 agree on %d of %d S",
        modes[m], N - differ, N);
  }
}

GST_END_TEST;

/* Jittering in portrait images too, with the input size changing between
 * buffers: every output is the right isotropic size for its own input. */
GST_START_TEST (test_jitter_input_size_changes)
{
  static const gint sizes[][2] = { {60, 45}, {33, 71}, {50, 50}, {97, 40},
  {33, 71}
  };
  GstHarness *h = gst_harness_new ("resize-256");

  gst_util_set_object_arg (G_OBJECT (h->element), "mode", "isotropic");
  g_object_set (h->element, "scale-min", 24, "scale-max", 40, "seed",
      (gint64) 9, NULL);
  for (gint i = 0; i < 20; i++) {
    gint w = sizes[i % G_N_ELEMENTS (sizes)][0];
    gint hh = sizes[i % G_N_ELEMENTS (sizes)][1];
    gint ow, oh, sw, sh, cx, cy, S;
    guint8 *out;

    set_caps (h, w, hh);
    out = push_and_pull (h, make_image (w, hh, 200 + i), &ow, &oh);
    S = MIN (ow, oh);
    fail_unless (S >= 24 && S <= 40, "S = %d", S);
    ref_geometry (w, hh, S, &sw, &sh, &cx, &cy);
    fail_unless (ow == sw && oh == sh, "%dx%d -> %dx%d, want %dx%d", w, hh,
        ow, oh, sw, sh);
    g_free (out);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

/* The range may change while playing: a pair takes effect once it is a
 * range; until then the one in force stays. Both 0: back to size. */
GST_START_TEST (test_jitter_range_changed_while_playing)
{
  GstHarness *h = gst_harness_new ("resize-256");
  gint ow, oh;

  g_object_set (h->element, "size", 20, "scale-min", 30, "scale-max", 36,
      "seed", (gint64) 2, NULL);
  set_caps (h, 70, 50);
  for (gint step = 0; step < 4; step++) {
    gint lo[] = { 30, 30, 50, 20 }, hi[] = { 36, 36, 54, 20 };
    if (step == 1)
      g_object_set (h->element, "scale-min", 50, NULL); /* 50 > 36: kept */
    else if (step == 2)
      g_object_set (h->element, "scale-max", 54, NULL); /* [50, 54] */
    else if (step == 3)
      g_object_set (h->element, "scale-min", 0, "scale-max", 0, NULL);
    for (gint i = 0; i < 6; i++) {
      g_free (push_and_pull (h, make_image (70, 50, i), &ow, &oh));
      fail_unless (ow == oh && ow >= lo[step] && ow <= hi[step],
          "step %d: %dx%d outside [%d, %d]", step, ow, oh, lo[step], hi[step]);
    }
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

/* An empty range (or half of one) is refused when the element starts, with
 * an error on the bus that names both properties. */
GST_START_TEST (test_jitter_bad_range_error)
{
  static const struct
  {
    gint lo, hi;
    const gchar *why;
  } cases[] = {
    {300, 200, "scale-min is larger than scale-max"},
    {256, 0, "only one of them is set"},
    {0, 512, "only one of them is set"},
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    GstElement *e = gst_element_factory_make ("resize-256", NULL);
    GstBus *bus = gst_bus_new ();
    GstMessage *msg;
    GError *err = NULL;
    gchar *want = g_strdup_printf ("scale-min=%d scale-max=%d",
        cases[c].lo, cases[c].hi);

    fail_unless (e != NULL);
    gst_element_set_bus (e, bus);
    g_object_set (e, "scale-min", cases[c].lo, "scale-max", cases[c].hi, NULL);
    fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
        GST_STATE_CHANGE_FAILURE);
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    fail_unless (msg != NULL, "[%d, %d]: no error message", cases[c].lo,
        cases[c].hi);
    gst_message_parse_error (msg, &err, NULL);
    fail_unless (strstr (err->message, want) != NULL
        && strstr (err->message, cases[c].why) != NULL, "message: %s",
        err->message);
    g_error_free (err);
    gst_message_unref (msg);
    g_free (want);
    fail_unless_equals_int (gst_element_set_state (e, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    gst_element_set_bus (e, NULL);
    gst_object_unref (bus);
    gst_object_unref (e);
  }
}

GST_END_TEST;

GST_START_TEST (test_jitter_target_size_query)
{
  GstHarness *h = gst_harness_new ("resize-256");
  GstQuery *q = gst_alexnet_query_new_target_size ();
  gint size = 0;

  g_object_set (h->element, "scale-min", 256, "scale-max", 512, NULL);
  fail_unless (gst_pad_peer_query (h->srcpad, q));
  fail_unless (gst_alexnet_query_parse_target_size (q, &size));
  /* decode must keep enough pixels for the largest S */
  fail_unless_equals_int (size, 512);
  gst_query_unref (q);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* An image too elongated to resize (1 x 60000: at S = 256 its longer side
 * would be 15,360,000 pixels, above AX_RESIZE_MAX_SIDE) is skipped with a
 * warning and counted, not an error that stops the pipeline: the next,
 * normal image comes out, in both modes. */
GST_START_TEST (test_extreme_image_skipped)
{
  static const gchar *modes[] = { "centre-square", "isotropic" };

  for (guint m = 0; m < G_N_ELEMENTS (modes); m++) {
    GstHarness *h = gst_harness_new ("resize-256");
    GstBus *bus = gst_bus_new ();
    GstBuffer *in, *out;
    GstMessage *msg;
    GError *err = NULL;
    guint64 skipped = 0;
    gint ow = 0, oh = 0;

    gst_element_set_bus (h->element, bus);
    gst_util_set_object_arg (G_OBJECT (h->element), "mode", modes[m]);
    set_caps (h, 1, 60000);
    in = make_image (1, 60000, 40);
    gst_buffer_add_alexnet_label_meta (in, 2, NULL, "long/thin.jpg");
    fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    fail_unless (gst_harness_try_pull (h) == NULL, "%s: the 1x60000 image "
        "came out", modes[m]);
    /* (popping one type drops the others: the first message must be it) */
    msg = gst_bus_pop (bus);
    fail_unless (msg != NULL, "%s: no warning", modes[m]);
    fail_unless (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING,
        "%s: a %s message for a skipped image", modes[m],
        GST_MESSAGE_TYPE_NAME (msg));
    gst_message_parse_warning (msg, &err, NULL);
    fail_unless (strstr (err->message, "long/thin.jpg") != NULL
        && strstr (err->message, "1x60000") != NULL
        && strstr (err->message, "1048576") != NULL, "%s: %s", modes[m],
        err->message);
    g_error_free (err);
    gst_message_unref (msg);
    g_object_get (h->element, "skipped", &skipped, NULL);
    fail_unless_equals_uint64 (skipped, 1);

    /* a normal image after it: out, and of the right size */
    set_caps (h, 300, 200);
    fail_unless_equals_int (gst_harness_push (h, make_image (300, 200, 41)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    fail_unless (out != NULL);
    {
      GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
      GstStructure *s = gst_caps_get_structure (caps, 0);
      fail_unless (gst_structure_get_int (s, "width", &ow)
          && gst_structure_get_int (s, "height", &oh));
      gst_caps_unref (caps);
    }
    fail_unless_equals_int (oh, 256);
    fail_unless_equals_int (ow, m == 0 ? 256 : 384);
    gst_buffer_unref (out);
    fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL);
    g_object_get (h->element, "skipped", &skipped, NULL);
    fail_unless_equals_uint64 (skipped, 1);
    gst_element_set_bus (h->element, NULL);
    gst_object_unref (bus);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

static Suite *
resize_256_suite (void)
{
  Suite *s = suite_create ("resize-256");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_default_size_pixels);
  tcase_add_test (tc, test_sizes_change_between_buffers);
  tcase_add_test (tc, test_size_property_change);
  tcase_add_test (tc, test_label_meta_survives);
  tcase_add_test (tc, test_target_size_query);
  tcase_add_test (tc, test_caps_without_framerate);
  tcase_add_test (tc, test_non_rgb_refused);
  tcase_add_test (tc, test_isotropic_whole_image);
  tcase_add_test (tc, test_isotropic_same_size_passthrough);
  tcase_add_test (tc, test_jitter_range_and_seed);
  tcase_add_test (tc, test_jitter_input_size_changes);
  tcase_add_test (tc, test_jitter_range_changed_while_playing);
  tcase_add_test (tc, test_jitter_bad_range_error);
  tcase_add_test (tc, test_jitter_target_size_query);
  tcase_add_test (tc, test_extreme_image_skipped);
  return s;
}

GST_CHECK_MAIN (resize_256);
