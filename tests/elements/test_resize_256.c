/* resize-256 in a GstHarness: pixels against an independent float64
 * reference of Resize(S) + CenterCrop(S), label meta survival, caps changes
 * between buffers, the target-size query, and refused non-RGB caps. */
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
  return s;
}

GST_CHECK_MAIN (resize_256);
