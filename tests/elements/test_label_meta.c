/* The label meta and the plugin's events: fields survive buffer copies and
 * stock GStreamer transforms (videoconvert, videoscale, videoflip), and the
 * classes/epoch events and target-size query round-trip. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "plugin/gstalexnetmeta.h"

static GstBuffer *
labelled_buffer (gsize size)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, size, NULL);
  GstAlexnetLabelMeta *m;

  gst_buffer_memset (buf, 0, 0x80, size);
  m = gst_buffer_add_alexnet_label_meta (buf, 7, "tabby", "/data/cat/1.jpg");
  fail_unless (m != NULL);
  m->sample_index = 1234;
  m->epoch = 3;
  m->view = 4;
  m->n_views = 10;
  return buf;
}

static void
check_label (GstBuffer * buf)
{
  GstAlexnetLabelMeta *m = gst_buffer_get_alexnet_label_meta (buf);

  fail_unless (m != NULL, "label meta lost");
  fail_unless_equals_int (m->class_index, 7);
  fail_unless_equals_string (m->class_name, "tabby");
  fail_unless_equals_string (m->sample_id, "/data/cat/1.jpg");
  fail_unless_equals_int (m->sample_index, 1234);
  fail_unless_equals_int (m->epoch, 3);
  fail_unless_equals_int (m->view, 4);
  fail_unless_equals_int (m->n_views, 10);
}

GST_START_TEST (test_meta_copy)
{
  GstBuffer *buf = labelled_buffer (16);
  GstBuffer *copy = gst_buffer_copy (buf);
  GstBuffer *other = gst_buffer_new_allocate (NULL, 4, NULL);

  check_label (copy);
  /* the copy owns its strings */
  gst_buffer_unref (buf);
  check_label (copy);
  fail_unless (gst_alexnet_label_meta_copy_to (other, copy) != NULL);
  check_label (other);
  /* copying again replaces rather than adds a second meta */
  fail_unless (gst_alexnet_label_meta_copy_to (other, copy) != NULL);
  fail_unless_equals_int (gst_buffer_get_n_meta (other,
          GST_ALEXNET_LABEL_META_API_TYPE), 1);
  gst_buffer_unref (copy);
  gst_buffer_unref (other);
  /* a buffer without a label has none to copy */
  buf = gst_buffer_new ();
  other = gst_buffer_new ();
  fail_unless (gst_alexnet_label_meta_copy_to (other, buf) == NULL);
  fail_unless (gst_buffer_get_alexnet_label_meta (other) == NULL);
  gst_buffer_unref (buf);
  gst_buffer_unref (other);
}

GST_END_TEST;

/* Stock elements that users put between ours must keep the label. */
static void
check_through (const gchar * launch, const gchar * in_caps)
{
  GstHarness *h = gst_harness_new_parse (launch);
  GstBuffer *out;

  gst_harness_set_src_caps_str (h, in_caps);
  out = gst_harness_push_and_pull (h, labelled_buffer (32 * 24 * 3));
  fail_unless (out != NULL, "%s gave no buffer", launch);
  check_label (out);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_START_TEST (test_meta_through_stock_elements)
{
  const gchar *caps = "video/x-raw,format=RGB,width=32,height=24,"
      "framerate=0/1";
  check_through ("videoconvert ! capsfilter caps=video/x-raw,format=I420", caps);
  check_through ("videoscale ! capsfilter caps=video/x-raw,width=16,height=12", caps);
  check_through ("videoflip method=horizontal-flip", caps);
  check_through ("queue", caps);
}

GST_END_TEST;

GST_START_TEST (test_events_and_query)
{
  const gchar *names[] = { "a", "b b", "c", NULL };
  GstEvent *ev = gst_alexnet_event_new_classes (names);
  gchar **parsed = NULL;
  guint epoch = 0;
  guint64 n = 0;
  GstQuery *q;
  gint size = 0;

  fail_unless (GST_EVENT_IS_STICKY (ev));
  fail_unless (gst_alexnet_event_parse_classes (ev, &parsed));
  fail_unless_equals_int (g_strv_length (parsed), 3);
  fail_unless_equals_string (parsed[1], "b b");
  fail_if (gst_alexnet_event_parse_epoch (ev, &epoch, &n));
  g_strfreev (parsed);
  gst_event_unref (ev);

  ev = gst_alexnet_event_new_epoch (5, 1000);
  fail_unless (gst_alexnet_event_parse_epoch (ev, &epoch, &n));
  fail_unless_equals_int (epoch, 5);
  fail_unless_equals_int (n, 1000);
  fail_if (gst_alexnet_event_parse_classes (ev, NULL));
  gst_event_unref (ev);

  q = gst_alexnet_query_new_target_size ();
  fail_unless (gst_alexnet_query_is_target_size (q));
  fail_if (gst_alexnet_query_parse_target_size (q, &size));
  gst_alexnet_query_set_target_size (q, 256);
  fail_unless (gst_alexnet_query_parse_target_size (q, &size));
  fail_unless_equals_int (size, 256);
  gst_query_unref (q);
  q = gst_query_new_latency ();
  fail_if (gst_alexnet_query_is_target_size (q));
  gst_query_unref (q);
}

GST_END_TEST;

static Suite *
label_meta_suite (void)
{
  Suite *s = suite_create ("label-meta");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_meta_copy);
  tcase_add_test (tc, test_meta_through_stock_elements);
  tcase_add_test (tc, test_events_and_query);
  return s;
}

GST_CHECK_MAIN (label_meta);
