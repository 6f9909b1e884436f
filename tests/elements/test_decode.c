/* GstHarness tests of the decode element: JPEGs are made in the test with
 * tjCompress2 from images of flat 16x16 blocks of known colours, so the
 * decoded pixels, the DCT scaling and the bad-input policy can be checked. */
#include <string.h>
#include <turbojpeg.h>
#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "plugin/gstalexnetmeta.h"

#define BLOCK 16
#define TOL 6

static const guint8 palette[8][3] = {
  {200, 30, 40}, {30, 180, 60}, {40, 50, 210}, {230, 220, 40},
  {20, 20, 20}, {240, 240, 240}, {128, 64, 192}, {90, 160, 150},
};

static const guint8 *
block_colour (gint bx, gint by)
{
  return palette[(bx + 3 * by) % 8];
}

/* Packed pixels of @bpp bytes; block (bx, by) gets colour index
 * (bx + 3 by) % 8: RGB from the palette, gray = its red channel, CMYK =
 * (R, G, B, K) with K from a second palette entry. */
static guint8 *
make_blocks (gint width, gint height, gint pf)
{
  gint bpp = tjPixelSize[pf], x, y;
  guint8 *pix = g_malloc ((gsize) width * height * bpp);

  for (y = 0; y < height; y++) {
    for (x = 0; x < width; x++) {
      const guint8 *c = block_colour (x / BLOCK, y / BLOCK);
      guint8 *p = pix + ((gsize) y * width + x) * bpp;
      if (pf == TJPF_GRAY) {
        p[0] = c[0];
      } else if (pf == TJPF_CMYK) {
        p[0] = c[0];
        p[1] = c[1];
        p[2] = c[2];
        p[3] = 128 + c[1] / 2;
      } else {
        p[0] = c[0];
        p[1] = c[1];
        p[2] = c[2];
      }
    }
  }
  return pix;
}

/* A JPEG file of @width x @height flat blocks; returns a g_malloc'd copy. */
static guint8 *
make_jpeg (gint width, gint height, gint pf, gint subsamp, gint flags,
    gsize * size)
{
  tjhandle tj = tjInitCompress ();
  guint8 *pix = make_blocks (width, height, pf);
  unsigned char *jpeg = NULL;
  unsigned long jpeg_size = 0;
  guint8 *copy;

  fail_unless (tj != NULL);
  fail_unless (tjCompress2 (tj, pix, width, 0, height, pf, &jpeg, &jpeg_size,
          subsamp, 100, flags) == 0, "tjCompress2: %s", tjGetErrorStr2 (tj));
  copy = g_memdup2 (jpeg, jpeg_size);
  *size = jpeg_size;
  tjFree (jpeg);
  g_free (pix);
  tjDestroy (tj);
  return copy;
}

static GstBuffer *
wrap (guint8 * data, gsize size)
{
  return gst_buffer_new_wrapped (data, size);
}

static GstBuffer *
jpeg_buffer (gint width, gint height, gint pf, gint subsamp, gint flags)
{
  gsize size;
  guint8 *data = make_jpeg (width, height, pf, subsamp, flags, &size);
  return wrap (data, size);
}

static GstAlexnetLabelMeta *
add_label (GstBuffer * buf, gint class_index, const gchar * class_name,
    const gchar * sample_id)
{
  GstAlexnetLabelMeta *m = gst_buffer_add_alexnet_label_meta (buf,
      class_index, class_name, sample_id);

  fail_unless (m != NULL);
  return m;
}

static GstAlexnetLabelMeta *
get_label (GstBuffer * buf)
{
  return gst_buffer_get_alexnet_label_meta (buf);
}

static GstBus *
attach_bus (GstHarness * h)
{
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  return bus;
}

static GstHarness *
new_decode (const gchar * src_caps)
{
  GstHarness *h = gst_harness_new ("decode");
  /* most tests check the exact rule over every eighth; the default "fast"
   * set has its own test */
  gst_util_set_object_arg (G_OBJECT (h->element), "scale-factors", "all");
  gst_harness_set_src_caps_str (h, src_caps ? src_caps : "image/jpeg");
  return h;
}

static void
check_caps (GstHarness * h, gint width, gint height, gint fps_n, gint fps_d)
{
  GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
  GstVideoInfo info;

  fail_unless (caps != NULL);
  fail_unless (gst_video_info_from_caps (&info, caps));
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info), GST_VIDEO_FORMAT_RGB);
  fail_unless_equals_int (GST_VIDEO_INFO_WIDTH (&info), width);
  fail_unless_equals_int (GST_VIDEO_INFO_HEIGHT (&info), height);
  fail_unless_equals_int (GST_VIDEO_INFO_FPS_N (&info), fps_n);
  fail_unless_equals_int (GST_VIDEO_INFO_FPS_D (&info), fps_d);
  fail_unless_equals_int (GST_VIDEO_INFO_PAR_N (&info), 1);
  fail_unless_equals_int (GST_VIDEO_INFO_PAR_D (&info), 1);
  gst_caps_unref (caps);
}

/* Expected colour of a block for the kind of image made by make_blocks. */
static void
expected_rgb (gint pf, gint bx, gint by, gint rgb[3])
{
  const guint8 *c = block_colour (bx, by);
  gint i, k = 128 + c[1] / 2;

  for (i = 0; i < 3; i++) {
    if (pf == TJPF_GRAY)
      rgb[i] = c[0];
    else if (pf == TJPF_CMYK)
      rgb[i] = (c[i] * k + 127) / 255;    /* Adobe: R = C*K/255 */
    else
      rgb[i] = c[i];
  }
}

/* Checks the centre pixel of every whole block of a @width x @height image
 * decoded at @num/@denom of its size. */
static void
check_blocks (GstBuffer * buf, gint width, gint height, gint num, gint denom,
    gint pf)
{
  gint out_w = (width * num + denom - 1) / denom;
  gint out_h = (height * num + denom - 1) / denom;
  gint stride = GST_ROUND_UP_4 (out_w * 3), bx, by, i;
  GstMapInfo map;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  fail_unless_equals_int ((gint) map.size, stride * out_h);
  for (by = 0; by < height / BLOCK; by++) {
    for (bx = 0; bx < width / BLOCK; bx++) {
      gint x = (bx * BLOCK + BLOCK / 2) * num / denom;
      gint y = (by * BLOCK + BLOCK / 2) * num / denom;
      const guint8 *p = map.data + (gsize) y * stride + x * 3;
      gint rgb[3];
      expected_rgb (pf, bx, by, rgb);
      for (i = 0; i < 3; i++)
        fail_unless (ABS (p[i] - rgb[i]) <= TOL,
            "block %d,%d channel %d: got %d want %d", bx, by, i, p[i],
            rgb[i]);
    }
  }
  gst_buffer_unmap (buf, &map);
}

static void
decode_and_check (gint width, gint height, gint pf, gint subsamp, gint flags)
{
  GstHarness *h = new_decode (NULL);
  GstBuffer *out;

  out = gst_harness_push_and_pull (h, jpeg_buffer (width, height, pf,
          subsamp, flags));
  fail_unless (out != NULL);
  check_caps (h, width, height, 0, 1);
  check_blocks (out, width, height, 1, 1, pf);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_START_TEST (test_properties)
{
  GstElement *e = gst_element_factory_make ("decode", NULL);
  GParamSpec *ps;
  gint min_size = -1;
  guint64 max_pixels = 0, skipped = 1, decoded = 1;
  gboolean fast = TRUE;
  const gchar *ro[] = { "skipped", "decoded" };
  guint i;

  fail_unless (e != NULL);
  g_object_get (e, "min-size", &min_size, "max-pixels", &max_pixels,
      "fast-dct", &fast, "skipped", &skipped, "decoded", &decoded, NULL);
  fail_unless_equals_int (min_size, 0);
  fail_unless_equals_uint64 (max_pixels, 100000000);
  fail_unless (!fast);
  fail_unless_equals_uint64 (skipped, 0);
  fail_unless_equals_uint64 (decoded, 0);
  ps = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "on-error");
  fail_unless (ps != NULL && G_IS_PARAM_SPEC_ENUM (ps));
  fail_unless_equals_string (g_enum_get_value (G_PARAM_SPEC_ENUM
          (ps)->enum_class, G_PARAM_SPEC_ENUM (ps)->default_value)->value_nick,
      "skip");
  fail_unless (g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM (ps)->enum_class,
          "error") != NULL);
  for (i = 0; i < G_N_ELEMENTS (ro); i++) {
    ps = g_object_class_find_property (G_OBJECT_GET_CLASS (e), ro[i]);
    fail_unless (ps != NULL);
    fail_unless ((ps->flags & G_PARAM_WRITABLE) == 0, "%s writable", ro[i]);
    fail_unless (g_param_spec_get_blurb (ps) != NULL);
  }
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_rgb_420)
{
  decode_and_check (64, 48, TJPF_RGB, TJSAMP_420, 0);
}

GST_END_TEST;

GST_START_TEST (test_rgb_444_padded_stride)
{
  /* 50 * 3 = 150 bytes a row, padded to a stride of 152 */
  decode_and_check (50, 34, TJPF_RGB, TJSAMP_444, 0);
}

GST_END_TEST;

GST_START_TEST (test_grayscale)
{
  decode_and_check (48, 32, TJPF_GRAY, TJSAMP_GRAY, 0);
}

GST_END_TEST;

GST_START_TEST (test_cmyk)
{
  decode_and_check (64, 32, TJPF_CMYK, TJSAMP_444, 0);
}

GST_END_TEST;

GST_START_TEST (test_progressive)
{
  decode_and_check (64, 48, TJPF_RGB, TJSAMP_420, TJFLAG_PROGRESSIVE);
}

GST_END_TEST;

GST_START_TEST (test_fast_dct)
{
  GstHarness *h = new_decode (NULL);
  GstBuffer *out;

  g_object_set (h->element, "fast-dct", TRUE, NULL);
  out = gst_harness_push_and_pull (h, jpeg_buffer (64, 48, TJPF_RGB,
          TJSAMP_420, 0));
  check_blocks (out, 64, 48, 1, 1, TJPF_RGB);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* 640x480: each row gives min-size and the expected factor. Factors <= 1 of
 * libjpeg-turbo are n/8; shorter side 480 * n/8 must stay >= min-size. */
static const struct
{
  gint min_size, num, denom;
} scale_cases[] = {
  {0, 1, 1}, {50, 1, 8}, {60, 1, 8}, {61, 1, 4}, {100, 1, 4}, {224, 1, 2},
  {240, 1, 2}, {256, 5, 8}, {300, 5, 8}, {301, 3, 4}, {420, 7, 8},
  {421, 1, 1}, {480, 1, 1}, {1000, 1, 1},
};

GST_START_TEST (test_scaling_min_size)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (scale_cases); i++) {
    GstHarness *h = new_decode (NULL);
    gint num = scale_cases[i].num, denom = scale_cases[i].denom;
    GstBuffer *out;

    g_object_set (h->element, "min-size", scale_cases[i].min_size, NULL);
    out = gst_harness_push_and_pull (h, jpeg_buffer (640, 480, TJPF_RGB,
            TJSAMP_420, 0));
    fail_unless (out != NULL);
    check_caps (h, 640 * num / denom, 480 * num / denom, 0, 1);
    check_blocks (out, 640, 480, num, denom, TJPF_RGB);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* The default: only the factors libjpeg-turbo decodes with SIMD. */
static const struct {
  gint w, h, min_size, num, denom;
} fast_cases[] = {
  {640, 480, 256, 1, 1}, {640, 480, 240, 1, 2}, {640, 480, 200, 1, 2},
  {640, 480, 120, 1, 4}, {640, 480, 61, 1, 4}, {640, 480, 60, 1, 8},
  {1024, 768, 256, 1, 2}, {1024, 768, 192, 1, 4}, {500, 375, 256, 1, 1},
  {2048, 1536, 256, 1, 4},
};

GST_START_TEST (test_scaling_fast_default)
{
  for (guint i = 0; i < G_N_ELEMENTS (fast_cases); i++) {
    GstHarness *h = gst_harness_new ("decode");
    gint num = fast_cases[i].num, denom = fast_cases[i].denom;
    gint w = fast_cases[i].w, hh = fast_cases[i].h;
    GstBuffer *out;
    gint scales = -1;

    g_object_get (h->element, "scale-factors", &scales, NULL);
    fail_unless_equals_int (scales, 0); /* "fast" is the default */
    gst_harness_set_src_caps_str (h, "image/jpeg");
    g_object_set (h->element, "min-size", fast_cases[i].min_size, NULL);
    out = gst_harness_push_and_pull (h, jpeg_buffer (w, hh, TJPF_RGB,
            TJSAMP_420, 0));
    fail_unless (out != NULL);
    check_caps (h, (w * num + denom - 1) / denom, (hh * num + denom - 1) /
        denom, 0, 1);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

GST_START_TEST (test_scaling_portrait_and_odd)
{
  GstHarness *h = new_decode (NULL);
  GstBuffer *out;

  /* portrait 200x300, shorter side 200: 1/2 gives 100 >= 100 and 3/8 gives
   * 75 < 100, so 1/2: 100x150 */
  g_object_set (h->element, "min-size", 100, NULL);
  out = gst_harness_push_and_pull (h, jpeg_buffer (200, 300, TJPF_RGB,
          TJSAMP_444, 0));
  check_caps (h, 100, 150, 0, 1);
  gst_buffer_unref (out);
  /* 201x333 at 3/8: ceil(75.375) = 76 >= 76, ceil(124.875) = 125 */
  g_object_set (h->element, "min-size", 76, NULL);
  out = gst_harness_push_and_pull (h, jpeg_buffer (201, 333, TJPF_RGB,
          TJSAMP_444, 0));
  check_caps (h, 76, 125, 0, 1);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

static gint answer_size;
static gint queries_seen;

static GstPadProbeReturn
answer_target_size (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  GstQuery *query = GST_PAD_PROBE_INFO_QUERY (info);

  (void) pad;
  (void) data;
  if (!gst_alexnet_query_is_target_size (query))
    return GST_PAD_PROBE_OK;
  queries_seen++;
  gst_alexnet_query_set_target_size (query, answer_size);
  return GST_PAD_PROBE_HANDLED;
}

GST_START_TEST (test_scaling_query)
{
  GstHarness *h = new_decode (NULL);
  GstBuffer *out;
  gint i;

  answer_size = 256;
  queries_seen = 0;
  gst_pad_add_probe (h->sinkpad, GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM,
      answer_target_size, NULL, NULL);

  for (i = 0; i < 3; i++) {
    out = gst_harness_push_and_pull (h, jpeg_buffer (640, 480, TJPF_RGB,
            TJSAMP_420, 0));
    check_caps (h, 400, 300, 0, 1);     /* 5/8 */
    check_blocks (out, 640, 480, 5, 8, TJPF_RGB);
    gst_buffer_unref (out);
  }
  /* the answer is cached */
  fail_unless_equals_int (queries_seen, 1);

  /* after a reconfigure the decoder asks again */
  answer_size = 128;
  fail_unless (gst_harness_push_upstream_event (h,
          gst_event_new_reconfigure ()));
  out = gst_harness_push_and_pull (h, jpeg_buffer (640, 480, TJPF_RGB,
          TJSAMP_420, 0));
  check_caps (h, 240, 180, 0, 1);       /* 3/8 */
  gst_buffer_unref (out);
  fail_unless_equals_int (queries_seen, 2);

  /* and after new input caps */
  answer_size = 60;
  gst_harness_set_src_caps_str (h, "image/jpeg, framerate=5/1");
  out = gst_harness_push_and_pull (h, jpeg_buffer (640, 480, TJPF_RGB,
          TJSAMP_420, 0));
  check_caps (h, 80, 60, 5, 1);         /* 1/8 */
  gst_buffer_unref (out);
  fail_unless_equals_int (queries_seen, 3);

  /* min-size overrides the query */
  g_object_set (h->element, "min-size", 256, NULL);
  out = gst_harness_push_and_pull (h, jpeg_buffer (640, 480, TJPF_RGB,
          TJSAMP_420, 0));
  check_caps (h, 400, 300, 5, 1);
  gst_buffer_unref (out);
  fail_unless_equals_int (queries_seen, 3);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_no_answer_full_size)
{
  GstHarness *h = new_decode (NULL);
  GstBuffer *out;

  out = gst_harness_push_and_pull (h, jpeg_buffer (640, 480, TJPF_RGB,
          TJSAMP_420, 0));
  check_caps (h, 640, 480, 0, 1);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_label_meta_and_timestamps)
{
  GstHarness *h = new_decode (NULL);
  GstBuffer *in = jpeg_buffer (32, 32, TJPF_RGB, TJSAMP_420, 0), *out;
  GstAlexnetLabelMeta *m;

  add_label (in, 7, "tabby", "train/cat/001.jpg");
  GST_BUFFER_PTS (in) = 10 * GST_SECOND;
  GST_BUFFER_DTS (in) = 9 * GST_SECOND;
  GST_BUFFER_DURATION (in) = GST_SECOND;
  GST_BUFFER_OFFSET (in) = 42;
  out = gst_harness_push_and_pull (h, in);
  m = get_label (out);
  fail_unless (m != NULL);
  fail_unless_equals_int (m->class_index, 7);
  fail_unless_equals_string (m->class_name, "tabby");
  fail_unless_equals_string (m->sample_id, "train/cat/001.jpg");
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 10 * GST_SECOND);
  fail_unless_equals_uint64 (GST_BUFFER_DTS (out), 9 * GST_SECOND);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), GST_SECOND);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (out), 42);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

static gint
count_caps_events (GstHarness * h)
{
  GstEvent *ev;
  gint n = 0;

  while ((ev = gst_harness_try_pull_event (h)) != NULL) {
    if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS)
      n++;
    gst_event_unref (ev);
  }
  return n;
}

GST_START_TEST (test_caps_only_on_size_change)
{
  GstHarness *h = new_decode (NULL);

  gst_buffer_unref (gst_harness_push_and_pull (h, jpeg_buffer (64, 48,
              TJPF_RGB, TJSAMP_420, 0)));
  fail_unless_equals_int (count_caps_events (h), 1);
  gst_buffer_unref (gst_harness_push_and_pull (h, jpeg_buffer (64, 48,
              TJPF_GRAY, TJSAMP_GRAY, 0)));
  fail_unless_equals_int (count_caps_events (h), 0);
  gst_buffer_unref (gst_harness_push_and_pull (h, jpeg_buffer (32, 32,
              TJPF_RGB, TJSAMP_420, 0)));
  fail_unless_equals_int (count_caps_events (h), 1);
  check_caps (h, 32, 32, 0, 1);
  /* a RECONFIGURE re-checks the caps but does not push the same again */
  fail_unless (gst_harness_push_upstream_event (h,
          gst_event_new_reconfigure ()));
  gst_buffer_unref (gst_harness_push_and_pull (h, jpeg_buffer (32, 32,
              TJPF_RGB, TJSAMP_420, 0)));
  fail_unless_equals_int (count_caps_events (h), 0);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* stream-start, caps, segment must reach downstream in that order although
 * decode only knows its caps once the first image is decoded. */
GST_START_TEST (test_event_order)
{
  GstHarness *h = new_decode (NULL);
  GstEventType want[] = { GST_EVENT_STREAM_START, GST_EVENT_CAPS,
    GST_EVENT_SEGMENT
  };
  GstEvent *ev;
  guint i;

  ev = gst_harness_try_pull_event (h);
  fail_unless (ev != NULL && GST_EVENT_TYPE (ev) == want[0]);
  gst_event_unref (ev);
  ev = gst_harness_try_pull_event (h);
  fail_unless (ev == NULL, "segment must wait for the caps");
  gst_buffer_unref (gst_harness_push_and_pull (h, jpeg_buffer (32, 32,
              TJPF_RGB, TJSAMP_420, 0)));
  for (i = 1; i < G_N_ELEMENTS (want); i++) {
    ev = gst_harness_try_pull_event (h);
    fail_unless (ev != NULL);
    fail_unless_equals_string (GST_EVENT_TYPE_NAME (ev),
        gst_event_type_get_name (want[i]));
    gst_event_unref (ev);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_eos_without_images)
{
  GstHarness *h = new_decode (NULL);
  GstEvent *ev;
  gboolean seen_segment = FALSE, seen_eos = FALSE;

  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  while ((ev = gst_harness_try_pull_event (h)) != NULL) {
    if (GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT)
      seen_segment = TRUE;
    if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS)
      seen_eos = seen_segment;
    gst_event_unref (ev);
  }
  fail_unless (seen_eos, "segment then EOS expected");
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_keeps_framerate)
{
  GstHarness *h = new_decode ("image/jpeg, framerate=30/1, width=64, "
      "height=48");
  GstBuffer *out;

  out = gst_harness_push_and_pull (h, jpeg_buffer (64, 48, TJPF_RGB,
          TJSAMP_422, 0));
  check_caps (h, 64, 48, 30, 1);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Pops the next warning (or error) message and checks its text. */
static void
expect_message (GstBus * bus, GstMessageType type, const gchar * part1,
    const gchar * part2)
{
  GstMessage *msg = gst_bus_pop_filtered (bus, type);
  GError *err = NULL;
  gchar *dbg = NULL;

  fail_unless (msg != NULL, "no %s message on the bus",
      gst_message_type_get_name (type));
  if (type == GST_MESSAGE_WARNING)
    gst_message_parse_warning (msg, &err, &dbg);
  else
    gst_message_parse_error (msg, &err, &dbg);
  GST_INFO ("message: %s (%s)", err->message, dbg);
  fail_unless (strstr (err->message, part1) != NULL, "'%s' lacks '%s'",
      err->message, part1);
  if (part2 != NULL)
    fail_unless (strstr (err->message, part2) != NULL, "'%s' lacks '%s'",
        err->message, part2);
  g_error_free (err);
  g_free (dbg);
  gst_message_unref (msg);
}

static guint64
get_count (GstHarness * h, const gchar * name)
{
  guint64 v = 0;
  g_object_get (h->element, name, &v, NULL);
  return v;
}

static gsize
find_sos (const guint8 * d, gsize size)
{
  gsize i;

  for (i = 0; i + 1 < size; i++) {
    if (d[i] == 0xFF && d[i + 1] == 0xDA)
      return i;
  }
  fail ("no SOS marker");
  return 0;
}

/* A good JPEG cut in the middle of its entropy-coded data. */
static GstBuffer *
truncated_jpeg (void)
{
  gsize size, sos;
  guint8 *d = make_jpeg (64, 48, TJPF_RGB, TJSAMP_420, 0, &size);

  sos = find_sos (d, size);
  return wrap (d, sos + (size - sos) / 2);
}

/* A good JPEG with two bytes of its entropy-coded data replaced by a
 * restart marker that does not belong there. */
static GstBuffer *
corrupt_jpeg (void)
{
  gsize size, i;
  guint8 *d = make_jpeg (64, 48, TJPF_RGB, TJSAMP_420, 0, &size);

  i = find_sos (d, size);
  i += (size - i) / 2;
  d[i] = 0xFF;
  d[i + 1] = 0xD3;
  return wrap (d, size);
}

static GstBuffer *
png_bytes (void)
{
  static const guint8 png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
    0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 0, 16, 0, 0, 0, 16, 8, 2, 0, 0, 0
  };
  return wrap (g_memdup2 (png, sizeof (png)), sizeof (png));
}

static GstBuffer *
random_bytes (void)
{
  GRand *r = g_rand_new_with_seed (1234);
  guint8 *d = g_malloc (1000);
  gint i;

  for (i = 0; i < 1000; i++)
    d[i] = g_rand_int_range (r, 0, 256);
  g_rand_free (r);
  return wrap (d, 1000);
}

/* The SOF header of a JPEG patched to claim @width x @height. */
static GstBuffer *
patched_size_jpeg (guint16 width, guint16 height)
{
  gsize size, i;
  guint8 *d = make_jpeg (32, 32, TJPF_RGB, TJSAMP_420, 0, &size);

  for (i = 0; i + 8 < size; i++) {
    if (d[i] == 0xFF && (d[i + 1] == 0xC0 || d[i + 1] == 0xC2)) {
      d[i + 5] = height >> 8;
      d[i + 6] = height & 0xff;
      d[i + 7] = width >> 8;
      d[i + 8] = width & 0xff;
      return wrap (d, size);
    }
  }
  fail ("no SOF marker");
  return NULL;
}

GST_START_TEST (test_bad_inputs_skipped)
{
  GstHarness *h = new_decode (NULL);
  GstBus *bus = attach_bus (h);
  GstBuffer *bad[4], *out;
  const gchar *why[4] = { "corrupt", "corrupt", "not a JPEG", "not a JPEG" };
  gint i;

  bad[0] = corrupt_jpeg ();
  bad[1] = truncated_jpeg ();
  bad[2] = png_bytes ();
  bad[3] = random_bytes ();
  add_label (bad[0], 1, "dog", "val/dog/17.jpg");
  for (i = 1; i < 4; i++)
    GST_BUFFER_OFFSET (bad[i]) = 100 + i;

  for (i = 0; i < 4; i++) {
    gchar *name = i == 0 ? g_strdup ("val/dog/17.jpg") :
        g_strdup_printf ("offset %d", 100 + i);
    fail_unless_equals_int (gst_harness_push (h, bad[i]), GST_FLOW_OK);
    fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
    expect_message (bus, GST_MESSAGE_WARNING, name, why[i]);
    fail_unless_equals_uint64 (get_count (h, "skipped"), i + 1);
    g_free (name);
  }
  fail_unless_equals_uint64 (get_count (h, "decoded"), 0);

  /* the next good image still comes out */
  out = gst_harness_push_and_pull (h, jpeg_buffer (64, 48, TJPF_RGB,
          TJSAMP_420, 0));
  check_blocks (out, 64, 48, 1, 1, TJPF_RGB);
  gst_buffer_unref (out);
  fail_unless_equals_uint64 (get_count (h, "decoded"), 1);
  fail_unless_equals_uint64 (get_count (h, "skipped"), 4);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_on_error_error)
{
  GstHarness *h = new_decode (NULL);
  GstBus *bus = attach_bus (h);
  GstBuffer *bad = truncated_jpeg ();

  gst_util_set_object_arg (G_OBJECT (h->element), "on-error", "error");
  add_label (bad, 1, "dog", "val/dog/18.jpg");
  fail_unless_equals_int (gst_harness_push (h, bad), GST_FLOW_ERROR);
  expect_message (bus, GST_MESSAGE_ERROR, "val/dog/18.jpg", "Premature end");
  fail_unless_equals_uint64 (get_count (h, "skipped"), 0);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_max_pixels)
{
  GstHarness *h = new_decode (NULL);
  GstBus *bus = attach_bus (h);
  GstBuffer *out;

  /* 30000 x 30000 = 9e8 pixels > the default 1e8: refused from the header */
  fail_unless_equals_int (gst_harness_push (h, patched_size_jpeg (30000,
              30000)), GST_FLOW_OK);
  expect_message (bus, GST_MESSAGE_WARNING, "30000x30000", "max-pixels");
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  fail_unless_equals_uint64 (get_count (h, "skipped"), 1);

  /* a lower limit refuses a small image too, and lets a smaller one pass */
  g_object_set (h->element, "max-pixels", (guint64) 1000, NULL);
  fail_unless_equals_int (gst_harness_push (h, jpeg_buffer (40, 30, TJPF_RGB,
              TJSAMP_420, 0)), GST_FLOW_OK);
  expect_message (bus, GST_MESSAGE_WARNING, "40x30", "max-pixels");
  out = gst_harness_push_and_pull (h, jpeg_buffer (32, 16, TJPF_RGB,
          TJSAMP_420, 0));
  check_caps (h, 32, 16, 0, 1);
  gst_buffer_unref (out);

  /* with on-error=error the refusal is an error */
  gst_util_set_object_arg (G_OBJECT (h->element), "on-error", "error");
  fail_unless_equals_int (gst_harness_push (h, jpeg_buffer (40, 30, TJPF_RGB,
              TJSAMP_420, 0)), GST_FLOW_ERROR);
  expect_message (bus, GST_MESSAGE_ERROR, "40x30", "max-pixels");

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_not_negotiated)
{
  GstHarness *h = new_decode (NULL);
  GstBus *bus = attach_bus (h);

  gst_harness_set_sink_caps_str (h, "video/x-raw, format=I420");
  fail_unless_equals_int (gst_harness_push (h, jpeg_buffer (32, 32, TJPF_RGB,
              TJSAMP_420, 0)), GST_FLOW_NOT_NEGOTIATED);
  expect_message (bus, GST_MESSAGE_ERROR, "RGB", "videoconvert");
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_not_negotiated_capsfilter)
{
  /* linked first, restricted after: parse-time linking would refuse it */
  GstHarness *h = gst_harness_new_parse ("decode ! capsfilter name=cf");
  GstElement *cf = gst_bin_get_by_name (GST_BIN (h->element), "cf");
  GstCaps *i420 = gst_caps_from_string ("video/x-raw, format=I420");

  g_object_set (cf, "caps", i420, NULL);
  gst_caps_unref (i420);
  gst_object_unref (cf);
  gst_harness_set_src_caps_str (h, "image/jpeg");
  fail_unless_equals_int (gst_harness_push (h, jpeg_buffer (32, 32, TJPF_RGB,
              TJSAMP_420, 0)), GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (h);
}

GST_END_TEST;

static Suite *
decode_suite (void)
{
  Suite *s = suite_create ("decode");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_properties);
  tcase_add_test (tc, test_rgb_420);
  tcase_add_test (tc, test_rgb_444_padded_stride);
  tcase_add_test (tc, test_grayscale);
  tcase_add_test (tc, test_cmyk);
  tcase_add_test (tc, test_progressive);
  tcase_add_test (tc, test_fast_dct);
  tcase_add_test (tc, test_scaling_min_size);
  tcase_add_test (tc, test_scaling_fast_default);
  tcase_add_test (tc, test_scaling_portrait_and_odd);
  tcase_add_test (tc, test_scaling_query);
  tcase_add_test (tc, test_no_answer_full_size);
  tcase_add_test (tc, test_label_meta_and_timestamps);
  tcase_add_test (tc, test_caps_only_on_size_change);
  tcase_add_test (tc, test_event_order);
  tcase_add_test (tc, test_eos_without_images);
  tcase_add_test (tc, test_keeps_framerate);
  tcase_add_test (tc, test_bad_inputs_skipped);
  tcase_add_test (tc, test_on_error_error);
  tcase_add_test (tc, test_max_pixels);
  tcase_add_test (tc, test_not_negotiated);
  tcase_add_test (tc, test_not_negotiated_capsfilter);
  return s;
}

GST_CHECK_MAIN (decode);
