/* classify-overlay through GstHarness: the box is where the documented
 * layout puts it (inside changed, every other byte untouched, guard bytes
 * after the frame included), the glyphs are the font's, frames without a
 * classification go through as the same buffer, small frames are clipped,
 * all corners, packed RGB and planar YUV formats, refused formats. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <string.h>

#include "kernels/image/font5x7.h"
#include "plugin/gstalexnetclassmeta.h"

#define GUARD 64                /* bytes after the frame that must not change */
#define GREY 200

static const gint top_indices[3] = { 281, 285, 282 };
static const gfloat top_probs[3] = { 0.973f, 0.02f, 0.005f };
static const gchar *const top_labels[3] = { "tabby", "Egyptian cat",
  "tiger cat"
};

/* The layout of docs/elements/classify-overlay.md, written out again here
 * so that the test does not depend on the code it checks. */
typedef struct
{
  gint x, y, w, h;
  gint pad, line_h, gap;
} Box;

static Box
expected_box (gint fw, gint fh, gint s, gint n_lines, gint cells,
    gboolean bars, const gchar * position)
{
  Box b;
  gint margin = 2 * s, mx, my;

  b.pad = 2 * s;
  b.gap = 2 * s;
  b.line_h = 8 * s + (bars ? 3 * s : 0);
  b.w = MIN (cells * 6 * s - s + 2 * b.pad, fw);
  b.h = MIN (2 * b.pad + n_lines * b.line_h + (n_lines - 1) * b.gap, fh);
  mx = MIN (margin, (fw - b.w) / 2);
  my = MIN (margin, (fh - b.h) / 2);
  b.x = g_str_has_suffix (position, "left") ? mx : fw - b.w - mx;
  b.y = g_str_has_prefix (position, "top") ? my : fh - b.h - my;
  return b;
}

static GstHarness *
overlay_harness (const gchar * props, const gchar * format, gint w, gint h)
{
  gchar *launch = g_strdup_printf ("classify-overlay %s", props);
  GstHarness *hr = gst_harness_new_parse (launch);
  gchar *caps = g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,"
      "framerate=0/1", format, w, h);

  gst_harness_set_src_caps_str (hr, caps);
  g_free (caps);
  g_free (launch);
  return hr;
}

/* A frame of every colour component @value (YUV: Y = value, U = V = 128),
 * with 0xEE in row padding, unused bytes (the x of RGBx) and GUARD bytes
 * after the frame. */
static GstBuffer *
make_frame (GstVideoFormat format, gint w, gint h, gint value)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;

  gst_video_info_set_format (&info, format, w, h);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info) + GUARD,
      NULL);
  gst_buffer_memset (buf, 0, 0xEE, gst_buffer_get_size (buf));
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
  for (guint c = 0; c < GST_VIDEO_INFO_N_COMPONENTS (&info); c++) {
    guint8 v = GST_VIDEO_INFO_IS_YUV (&info) && c > 0 ? 128 : value;
    for (gint y = 0; y < GST_VIDEO_FRAME_COMP_HEIGHT (&frame, c); y++)
      for (gint x = 0; x < GST_VIDEO_FRAME_COMP_WIDTH (&frame, c); x++)
        GST_VIDEO_FRAME_COMP_DATA (&frame, c)[y *
            GST_VIDEO_FRAME_COMP_STRIDE (&frame, c) +
            x * GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, c)] = v;
  }
  gst_video_frame_unmap (&frame);
  return buf;
}

static void
add_result (GstBuffer * buf, guint k, const gchar * const *labels)
{
  fail_unless (gst_buffer_add_alexnet_class_meta (buf, k, top_indices,
          top_probs, labels, 0, NULL) != NULL);
}

/* Pushes @in (kept) and pulls the result. */
static GstBuffer *
push_pull (GstHarness * hr, GstBuffer * in)
{
  GstBuffer *out;

  fail_unless_equals_int (gst_harness_push (hr, gst_buffer_ref (in)),
      GST_FLOW_OK);
  out = gst_harness_pull (hr);
  fail_unless (out != NULL);
  return out;
}

/* TRUE for the bytes the overlay may write: samples of the three colour
 * components whose frame pixels meet the box. */
static gboolean *
writable_bytes (const GstVideoInfo * info, const Box * b, gsize size)
{
  gboolean *mask = g_new0 (gboolean, size);

  for (guint c = 0; c < 3; c++) {
    const GstVideoFormatInfo *f = info->finfo;
    gint ws = GST_VIDEO_FORMAT_INFO_W_SUB (f, c);
    gint hs = GST_VIDEO_FORMAT_INFO_H_SUB (f, c);
    gsize base = GST_VIDEO_INFO_PLANE_OFFSET (info,
        GST_VIDEO_FORMAT_INFO_PLANE (f, c)) + GST_VIDEO_FORMAT_INFO_POFFSET (f,
        c);

    if (b->w <= 0 || b->h <= 0)
      continue;
    for (gint sy = b->y >> hs; sy <= (b->y + b->h - 1) >> hs; sy++)
      for (gint sx = b->x >> ws; sx <= (b->x + b->w - 1) >> ws; sx++)
        mask[base + sy * GST_VIDEO_INFO_COMP_STRIDE (info, c) +
            sx * GST_VIDEO_INFO_COMP_PSTRIDE (info, c)] = TRUE;
  }
  return mask;
}

/* Every byte outside the box's samples equal (guard bytes included); every
 * pixel inside the box changed (RGB: some channel; YUV: Y). */
static void
check_box (GstBuffer * in, GstBuffer * out, GstVideoFormat format, gint w,
    gint h, const Box * b)
{
  GstVideoInfo info;
  GstMapInfo mi, mo;
  gboolean *mask;
  gint wrong = 0, unchanged = 0;

  gst_video_info_set_format (&info, format, w, h);
  fail_unless_equals_int (gst_buffer_get_size (out),
      GST_VIDEO_INFO_SIZE (&info) + GUARD);
  gst_buffer_map (in, &mi, GST_MAP_READ);
  gst_buffer_map (out, &mo, GST_MAP_READ);
  mask = writable_bytes (&info, b, mo.size);
  for (gsize i = 0; i < mo.size; i++)
    wrong += !mask[i] && mi.data[i] != mo.data[i];
  fail_unless_equals_int (wrong, 0);

  for (gint y = b->y; y < b->y + b->h; y++)
    for (gint x = b->x; x < b->x + b->w; x++) {
      gboolean changed = FALSE;
      guint n = GST_VIDEO_INFO_IS_YUV (&info) ? 1 : 3;
      for (guint c = 0; c < n; c++) {
        gsize at = GST_VIDEO_INFO_PLANE_OFFSET (&info,
            GST_VIDEO_FORMAT_INFO_PLANE (info.finfo, c)) +
            GST_VIDEO_FORMAT_INFO_POFFSET (info.finfo, c) +
            y * GST_VIDEO_INFO_COMP_STRIDE (&info, c) +
            x * GST_VIDEO_INFO_COMP_PSTRIDE (&info, c);
        changed |= mi.data[at] != mo.data[at];
      }
      unchanged += !changed;
    }
  fail_unless_equals_int (unchanged, 0);
  g_free (mask);
  gst_buffer_unmap (out, &mo);
  gst_buffer_unmap (in, &mi);
}

static void
run_and_check_box (const gchar * props, GstVideoFormat format, gint w,
    gint h, guint k, const Box * b)
{
  GstHarness *hr = overlay_harness (props,
      gst_video_format_to_string (format), w, h);
  GstBuffer *in = make_frame (format, w, h, GREY);
  GstBuffer *out;

  add_result (in, k, top_labels);
  out = push_pull (hr, in);
  check_box (in, out, format, w, h, b);
  /* the result travels on */
  fail_unless (gst_buffer_get_alexnet_class_meta (out) != NULL);
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_harness_teardown (hr);
}

/* The lines of the three results are "tabby  97.3%", "Egyptian cat  2.0%"
 * and "tiger cat  0.5%": 18 cells at most. */
GST_START_TEST (test_box_inside_changed_outside_untouched)
{
  Box b = expected_box (320, 240, 2, 3, 18, TRUE, "top-left");

  fail_unless_equals_int (b.x, 4);
  fail_unless_equals_int (b.w, 18 * 12 - 2 + 8);
  run_and_check_box ("", GST_VIDEO_FORMAT_RGB, 320, 240, 3, &b);
  /* width 161: rows padded to 484 bytes */
  b = expected_box (161, 120, 1, 3, 18, TRUE, "top-left");
  run_and_check_box ("scale=1", GST_VIDEO_FORMAT_RGB, 161, 120, 3, &b);
}

GST_END_TEST;

GST_START_TEST (test_positions)
{
  const gchar *positions[] = { "top-left", "top-right", "bottom-left",
    "bottom-right"
  };

  for (guint i = 0; i < G_N_ELEMENTS (positions); i++) {
    gchar *props = g_strdup_printf ("position=%s", positions[i]);
    Box b = expected_box (321, 241, 2, 3, 18, TRUE, positions[i]);

    run_and_check_box (props, GST_VIDEO_FORMAT_RGB, 321, 241, 3, &b);
    g_free (props);
  }
}

GST_END_TEST;

GST_START_TEST (test_top_k_and_bars)
{
  Box b;

  /* one line only: "tabby  97.3%" */
  b = expected_box (320, 240, 2, 1, 12, TRUE, "top-left");
  run_and_check_box ("top-k=1", GST_VIDEO_FORMAT_RGB, 320, 240, 3, &b);
  /* more asked for than the meta holds */
  b = expected_box (320, 240, 2, 3, 18, TRUE, "top-left");
  run_and_check_box ("top-k=10", GST_VIDEO_FORMAT_RGB, 320, 240, 3, &b);
  b = expected_box (320, 240, 2, 2, 18, FALSE, "bottom-right");
  run_and_check_box ("top-k=2 show-bars=false position=bottom-right",
      GST_VIDEO_FORMAT_RGB, 320, 240, 3, &b);
  b = expected_box (640, 480, 4, 3, 18, TRUE, "top-right");
  run_and_check_box ("scale=4 position=top-right", GST_VIDEO_FORMAT_RGB, 640,
      480, 3, &b);
}

GST_END_TEST;

GST_START_TEST (test_no_meta_untouched)
{
  GstHarness *hr = overlay_harness ("", "RGB", 64, 48);
  GstBuffer *in = make_frame (GST_VIDEO_FORMAT_RGB, 64, 48, GREY);
  GstBuffer *with = make_frame (GST_VIDEO_FORMAT_RGB, 64, 48, GREY);
  GstBuffer *out;
  Box b = expected_box (64, 48, 2, 3, 18, TRUE, "top-left");

  for (gint i = 0; i < 2; i++) {
    /* handed on as it is: the very same buffer, not a copy */
    out = push_pull (hr, in);
    fail_unless (out == in);
    fail_unless (gst_buffer_get_alexnet_class_meta (out) == NULL);
    gst_buffer_unref (out);
    /* and a classified frame in between is drawn on */
    if (i == 0) {
      add_result (with, 3, top_labels);
      out = push_pull (hr, with);
      fail_unless (out != with);
      check_box (with, out, GST_VIDEO_FORMAT_RGB, 64, 48, &b);
      gst_buffer_unref (out);
    }
  }
  gst_buffer_unref (with);
  gst_buffer_unref (in);
  gst_harness_teardown (hr);
}

GST_END_TEST;

/* Every font pixel of each cell of @text (already as drawn: '?' for
 * non-ASCII) is a @scale x @scale square of white, every other pixel of
 * the cell the box over GREY. */
static void
check_text (GstBuffer * out, gint w, gint h, gint x0, gint y0, gint scale,
    const gchar * text)
{
  const guint8 bg = (GREY * (255 - 160) + 127) / 255;
  GstVideoInfo info;
  GstMapInfo map;
  gint wrong = 0;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  gst_buffer_map (out, &map, GST_MAP_READ);
  for (gint i = 0; text[i] != '\0'; i++) {
    const guint8 *glyph = ax_font5x7[(guchar) text[i] - AX_FONT_FIRST];
    for (gint y = 0; y < 8 * scale; y++)
      for (gint x = 0; x < 6 * scale; x++) {
        gboolean ink = (glyph[y / scale] >> (7 - x / scale)) & 1;
        const guint8 *p = map.data + (y0 + y) * info.stride[0] +
            (x0 + i * 6 * scale + x) * 3;
        guint8 want = ink ? 255 : bg;
        if (p[0] != want || p[1] != want || p[2] != want) {
          if (wrong++ < 5)
            GST_ERROR ("'%c' (cell %d) pixel %d,%d: %d, want %d", text[i], i,
                x, y, p[0], want);
        }
      }
  }
  gst_buffer_unmap (out, &map);
  fail_unless_equals_int (wrong, 0);
}

static void
check_lines (const gchar * props, gint w, gint h, gint scale,
    guint k, const gchar * const *labels, const gchar * const *drawn)
{
  GstHarness *hr = overlay_harness (props, "RGB", w, h);
  GstBuffer *in = make_frame (GST_VIDEO_FORMAT_RGB, w, h, GREY);
  GstBuffer *out;
  Box b = expected_box (w, h, scale, k, 1, FALSE, "top-left");

  add_result (in, k, labels);
  out = push_pull (hr, in);
  for (guint i = 0; i < k; i++)
    check_text (out, w, h, b.x + b.pad, b.y + b.pad + i * (b.line_h + b.gap),
        scale, drawn[i]);
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_harness_teardown (hr);
}

GST_START_TEST (test_glyphs)
{
  const gchar *const labels[3] = { "Ag{|}~ 0Xy", "caf\xc3\xa9 \xe2\x9c\x93",
    "bad \xff\xfe byte"
  };
  const gchar *const drawn[3] = { "Ag{|}~ 0Xy  97.3%", "caf? ?  2.0%",
    "bad ?? byte  0.5%"
  };

  check_lines ("show-bars=false scale=1", 320, 240, 1, 3, labels, drawn);
  check_lines ("show-bars=false scale=3", 640, 480, 3, 3, labels, drawn);
  check_lines ("show-bars=false", 320, 240, 2, 3, labels, drawn);
}

GST_END_TEST;

/* Every printable character once, against the table. */
GST_START_TEST (test_whole_font)
{
  gchar ascii[AX_FONT_LAST - AX_FONT_FIRST + 2];
  const gchar *labels[2], *drawn[2];
  gchar *line0, *line1;

  for (gint c = AX_FONT_FIRST; c <= AX_FONT_LAST; c++)
    ascii[c - AX_FONT_FIRST] = (gchar) c;
  ascii[AX_FONT_LAST - AX_FONT_FIRST + 1] = '\0';
  labels[0] = ascii + 48;
  labels[1] = g_strndup (ascii, 48);
  line0 = g_strdup_printf ("%s  97.3%%", labels[0]);
  line1 = g_strdup_printf ("%s  2.0%%", labels[1]);
  drawn[0] = line0;
  drawn[1] = line1;
  check_lines ("show-bars=false scale=1", 400, 100, 1, 2, labels, drawn);
  g_free ((gchar *) labels[1]);
  g_free (line0);
  g_free (line1);
}

GST_END_TEST;

/* A label too long for the frame is cut and ends in "..", so the
 * probability stays in view. */
GST_START_TEST (test_long_label_cut)
{
  const gchar *const labels[1] = { "a label far too long for this frame" };
  /* (100 - 4 - 4) / 6 = 15 cells: 15 - "97.3%" - 2 spaces = 8 */
  const gchar *const drawn[1] = { "a labe..  97.3%" };

  check_lines ("show-bars=false scale=1", 100, 60, 1, 1, labels, drawn);
}

GST_END_TEST;

/* Frames smaller than the box: nothing is written outside the frame (row
 * padding, x bytes and guard bytes checked; valgrind checks the rest). */
GST_START_TEST (test_small_frames)
{
  const GstVideoFormat formats[] = { GST_VIDEO_FORMAT_RGB,
    GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_xRGB, GST_VIDEO_FORMAT_I420,
    GST_VIDEO_FORMAT_NV12, GST_VIDEO_FORMAT_Y42B
  };
  const gint sizes[][2] = { {1, 1}, {2, 2}, {3, 5}, {7, 5}, {32, 24},
  {33, 25}
  };

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++)
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
      for (gint scale = 1; scale <= 4; scale += 3) {
        gint w = sizes[s][0], h = sizes[s][1];
        gchar *props = g_strdup_printf ("scale=%d position=%s", scale,
            s % 2 ? "bottom-right" : "top-left");
        Box b = expected_box (w, h, scale, 3, 18, TRUE,
            s % 2 ? "bottom-right" : "top-left");

        fail_unless (b.x >= 0 && b.y >= 0 && b.x + b.w <= w
            && b.y + b.h <= h);
        run_and_check_box (props, formats[f], w, h, 3, &b);
        g_free (props);
      }
}

GST_END_TEST;

/* Packed RGB orders and YUV layouts: same box, other bytes untouched. */
GST_START_TEST (test_formats)
{
  const GstVideoFormat formats[] = { GST_VIDEO_FORMAT_BGR,
    GST_VIDEO_FORMAT_RGBx, GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_xRGB,
    GST_VIDEO_FORMAT_xBGR, GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_YV12,
    GST_VIDEO_FORMAT_NV12, GST_VIDEO_FORMAT_NV21, GST_VIDEO_FORMAT_Y42B,
    GST_VIDEO_FORMAT_Y444
  };

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    /* odd sizes and positions: chroma samples half in the box */
    Box b = expected_box (317, 239, 2, 3, 18, TRUE, "bottom-right");
    run_and_check_box ("position=bottom-right", formats[f], 317, 239, 3, &b);
  }
}

GST_END_TEST;

/* White text on I420 is white in the frame's range: Y 235, U = V = 128. */
GST_START_TEST (test_yuv_colours)
{
  GstHarness *hr = overlay_harness ("show-bars=false scale=1", "I420", 64,
      48);
  GstBuffer *in = make_frame (GST_VIDEO_FORMAT_I420, 64, 48, GREY);
  GstBuffer *out;
  GstVideoInfo info;
  GstVideoFrame frame;
  const gchar *const labels[1] = { "|" };
  Box b = expected_box (64, 48, 1, 1, 1, FALSE, "top-left");
  gint x = b.x + b.pad + 2, y = b.y + b.pad;   /* the bar of '|' */

  add_result (in, 1, labels);
  out = push_pull (hr, in);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, 64, 48);
  fail_unless (gst_video_frame_map (&frame, &info, out, GST_MAP_READ));
  for (gint i = 0; i < 7; i++)
    fail_unless_equals_int (GST_VIDEO_FRAME_COMP_DATA (&frame, 0)[(y + i) *
            GST_VIDEO_FRAME_COMP_STRIDE (&frame, 0) + x], 235);
  /* beside it, the box darkens the grey */
  fail_unless (GST_VIDEO_FRAME_COMP_DATA (&frame, 0)[y *
          GST_VIDEO_FRAME_COMP_STRIDE (&frame, 0) + x + 1] < 120);
  fail_unless_equals_int (GST_VIDEO_FRAME_COMP_DATA (&frame, 1)[(y / 2) *
          GST_VIDEO_FRAME_COMP_STRIDE (&frame, 1) + x / 2], 128);
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_harness_teardown (hr);
}

GST_END_TEST;

GST_START_TEST (test_refused_formats)
{
  const gchar *formats[] = { "GRAY8", "RGBA", "RGB16", "I420_10LE" };

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++) {
    GstHarness *hr = overlay_harness ("", formats[i], 32, 24);
    GstBuffer *buf = gst_buffer_new_allocate (NULL, 32 * 24 * 4, NULL);

    add_result (buf, 3, top_labels);
    fail_unless_equals_int (gst_harness_push (hr, buf),
        GST_FLOW_NOT_NEGOTIATED);
    gst_harness_teardown (hr);
  }
}

GST_END_TEST;

GST_START_TEST (test_properties)
{
  GstElement *el = gst_element_factory_make ("classify-overlay", NULL);
  guint top_k = 0;
  gint scale = 0, position = -1;
  gboolean bars = FALSE;

  fail_unless (el != NULL);
  g_object_get (el, "top-k", &top_k, "scale", &scale, "position", &position,
      "show-bars", &bars, NULL);
  fail_unless_equals_int (top_k, 3);
  fail_unless_equals_int (scale, 2);
  fail_unless_equals_int (position, 0);
  fail_unless (bars);
  gst_util_set_object_arg (G_OBJECT (el), "position", "bottom-left");
  g_object_set (el, "top-k", 7, "scale", 5, "show-bars", FALSE, NULL);
  g_object_get (el, "top-k", &top_k, "scale", &scale, "position", &position,
      "show-bars", &bars, NULL);
  fail_unless_equals_int (top_k, 7);
  fail_unless_equals_int (scale, 5);
  fail_unless_equals_int (position, 2);
  fail_if (bars);
  gst_object_unref (el);
}

GST_END_TEST;

static Suite *
classify_overlay_suite (void)
{
  Suite *s = suite_create ("classify-overlay");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_box_inside_changed_outside_untouched);
  tcase_add_test (tc, test_positions);
  tcase_add_test (tc, test_top_k_and_bars);
  tcase_add_test (tc, test_no_meta_untouched);
  tcase_add_test (tc, test_glyphs);
  tcase_add_test (tc, test_whole_font);
  tcase_add_test (tc, test_long_label_cut);
  tcase_add_test (tc, test_small_frames);
  tcase_add_test (tc, test_formats);
  tcase_add_test (tc, test_yuv_colours);
  tcase_add_test (tc, test_refused_formats);
  tcase_add_test (tc, test_properties);
  return s;
}

GST_CHECK_MAIN (classify_overlay);
