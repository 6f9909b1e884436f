/* The classification meta: fields survive buffer copies and stock GStreamer
 * transforms; the bus message structure and the JSON line hold the same
 * result and read back (gst_structure_from_string, json-glib) exactly, with
 * labels full of quotes, backslashes, control characters and UTF-8. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "plugin/gstalexnetclassmeta.h"
#include "plugin/gstalexnetmeta.h"

#define K 3
#define N_ALL 5

static const gint top_indices[K] = { 281, 285, 0 };
static const gfloat top_probs[K] = { 0.973f, 0.02f, 1e-7f };
static const gchar *const top_labels[K] = { "tabby", "Egyptian cat", NULL };
static const gfloat all_probs[N_ALL] = { 1e-7f, 0.25f, 0.3333333f, -0.0f,
  0.973f
};

static GstBuffer *
classified_buffer (gsize size, gboolean with_all)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, size, NULL);
  GstAlexnetClassMeta *m;

  gst_buffer_memset (buf, 0, 0x80, size);
  m = gst_buffer_add_alexnet_class_meta (buf, K, top_indices, top_probs,
      top_labels, with_all ? N_ALL : 0, with_all ? all_probs : NULL);
  fail_unless (m != NULL);
  gst_alexnet_class_meta_set_model (m, "alexnet", 10);
  return buf;
}

static void
check_class (GstBuffer * buf, gboolean with_all)
{
  GstAlexnetClassMeta *m = gst_buffer_get_alexnet_class_meta (buf);

  fail_unless (m != NULL, "classification meta lost");
  fail_unless_equals_int (gst_buffer_get_n_meta (buf,
          GST_ALEXNET_CLASS_META_API_TYPE), 1);
  fail_unless_equals_int (m->k, K);
  for (guint i = 0; i < K; i++) {
    fail_unless_equals_int (m->top[i].index, top_indices[i]);
    fail_unless_equals_float (m->top[i].probability, top_probs[i]);
    fail_unless_equals_string (m->top[i].label, top_labels[i]);
  }
  fail_unless_equals_string (m->model, "alexnet");
  fail_unless_equals_int (m->n_views, 10);
  if (with_all) {
    fail_unless_equals_int (m->n_classes, N_ALL);
    fail_unless (memcmp (m->probabilities, all_probs, sizeof all_probs) == 0);
  } else {
    fail_unless_equals_int (m->n_classes, 0);
    fail_unless (m->probabilities == NULL);
  }
}

GST_START_TEST (test_add_and_copy)
{
  GstBuffer *buf = classified_buffer (16, TRUE);
  GstBuffer *copy = gst_buffer_copy (buf);
  gint index = 3;
  gfloat p = 1.0f;
  GstAlexnetClassMeta *m;

  check_class (buf, TRUE);
  /* the copy owns its strings and its vector */
  gst_buffer_unref (buf);
  check_class (copy, TRUE);
  gst_buffer_unref (copy);

  buf = classified_buffer (16, FALSE);
  copy = gst_buffer_copy (buf);
  gst_buffer_unref (buf);
  check_class (copy, FALSE);
  gst_buffer_unref (copy);

  /* no labels at all; defaults of model and views */
  buf = gst_buffer_new ();
  m = gst_buffer_add_alexnet_class_meta (buf, 1, &index, &p, NULL, 0, NULL);
  fail_unless (m != NULL);
  fail_unless (m->top[0].label == NULL);
  fail_unless (m->model == NULL);
  fail_unless_equals_int (m->n_views, 1);
  gst_buffer_unref (buf);

  /* a buffer without one has none */
  buf = gst_buffer_new ();
  fail_unless (gst_buffer_get_alexnet_class_meta (buf) == NULL);
  gst_buffer_unref (buf);
}

GST_END_TEST;

/* Stock elements that users put between alexnet-infer and a sink must keep
 * the result. */
static void
check_through (const gchar * launch, const gchar * in_caps)
{
  GstHarness *h = gst_harness_new_parse (launch);
  GstBuffer *out;

  gst_harness_set_src_caps_str (h, in_caps);
  out = gst_harness_push_and_pull (h, classified_buffer (32 * 24 * 3, TRUE));
  fail_unless (out != NULL, "%s gave no buffer", launch);
  check_class (out, TRUE);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_START_TEST (test_through_stock_elements)
{
  const gchar *caps = "video/x-raw,format=RGB,width=32,height=24,"
      "framerate=0/1";
  check_through ("videoconvert ! capsfilter caps=video/x-raw,format=I420",
      caps);
  check_through ("videoscale ! capsfilter caps=video/x-raw,width=16,height=12",
      caps);
  check_through ("videoconvert ! videoscale ! "
      "capsfilter caps=video/x-raw,format=BGRx,width=64,height=48", caps);
  check_through ("videoflip method=horizontal-flip", caps);
  check_through ("queue", caps);
}

GST_END_TEST;

GST_START_TEST (test_result_id)
{
  GstBuffer *buf = gst_buffer_new ();
  gchar *id;

  fail_unless (gst_alexnet_class_result_id (buf) == NULL);
  GST_BUFFER_PTS (buf) = 3 * GST_SECOND + 5;
  id = gst_alexnet_class_result_id (buf);
  fail_unless_equals_string (id, "0:00:03.000000005");
  g_free (id);
  /* the sample path wins over the timestamp */
  gst_buffer_add_alexnet_label_meta (buf, 2, "cat", "/data/cat/1.jpg");
  id = gst_alexnet_class_result_id (buf);
  fail_unless_equals_string (id, "/data/cat/1.jpg");
  g_free (id);
  gst_buffer_unref (buf);
}

GST_END_TEST;

static void
check_message_structure (const GstStructure * s, const gchar * id,
    guint64 pts, gboolean with_all)
{
  const GValue *indices, *labels, *probs, *all;
  guint k = 0;
  gint views = 0;
  guint64 t = 0;

  fail_unless (gst_structure_has_name (s, "alexnet-classification"));
  fail_unless_equals_string (gst_structure_get_string (s, "id"), id);
  fail_unless (gst_structure_get_uint64 (s, "pts", &t));
  fail_unless_equals_uint64 (t, pts);
  fail_unless (gst_structure_get_uint (s, "k", &k));
  fail_unless_equals_int (k, K);
  fail_unless (gst_structure_get_int (s, "n-views", &views));
  fail_unless_equals_int (views, 10);
  fail_unless_equals_string (gst_structure_get_string (s, "model"), "alexnet");

  indices = gst_structure_get_value (s, "top-k-indices");
  labels = gst_structure_get_value (s, "top-k-labels");
  probs = gst_structure_get_value (s, "top-k-probabilities");
  fail_unless (indices && GST_VALUE_HOLDS_ARRAY (indices));
  fail_unless (labels && GST_VALUE_HOLDS_ARRAY (labels));
  fail_unless (probs && GST_VALUE_HOLDS_ARRAY (probs));
  fail_unless_equals_int (gst_value_array_get_size (indices), K);
  fail_unless_equals_int (gst_value_array_get_size (labels), K);
  fail_unless_equals_int (gst_value_array_get_size (probs), K);
  for (guint i = 0; i < K; i++) {
    const GValue *l = gst_value_array_get_value (labels, i);
    fail_unless_equals_int (g_value_get_int (gst_value_array_get_value
            (indices, i)), top_indices[i]);
    fail_unless_equals_float ((gfloat) g_value_get_double
        (gst_value_array_get_value (probs, i)), top_probs[i]);
    fail_unless_equals_string (g_value_get_string (l),
        top_labels[i] ? top_labels[i] : "");
  }

  all = gst_structure_get_value (s, "probabilities");
  if (!with_all) {
    fail_unless (all == NULL);
    return;
  }
  fail_unless (all && GST_VALUE_HOLDS_ARRAY (all));
  fail_unless_equals_int (gst_value_array_get_size (all), N_ALL);
  for (guint i = 0; i < N_ALL; i++)
    fail_unless_equals_float ((gfloat) g_value_get_double
        (gst_value_array_get_value (all, i)), all_probs[i]);
}

GST_START_TEST (test_message_round_trip)
{
  for (gint with_all = 0; with_all < 2; with_all++) {
    GstBuffer *buf = classified_buffer (8, with_all);
    GstAlexnetClassMeta *m = gst_buffer_get_alexnet_class_meta (buf);
    GstStructure *s = gst_alexnet_class_meta_to_structure (m, "/d/a b.jpg",
        42 * GST_MSECOND);
    GstMessage *msg;
    gchar *text;
    GstStructure *back;

    check_message_structure (s, "/d/a b.jpg", 42 * GST_MSECOND, with_all);
    /* as gst-launch-1.0 -m prints it, and back */
    text = gst_structure_to_string (s);
    back = gst_structure_from_string (text, NULL);
    fail_unless (back != NULL, "does not read back: %s", text);
    check_message_structure (back, "/d/a b.jpg", 42 * GST_MSECOND, with_all);
    gst_structure_free (back);
    g_free (text);

    msg = gst_message_new_element (NULL, s);
    fail_unless (gst_message_has_name (msg, "alexnet-classification"));
    gst_message_unref (msg);
    gst_buffer_unref (buf);
  }
}

GST_END_TEST;

/* Parses one line (which must end in exactly one '\n') into an object. */
static JsonObject *
parse_line (JsonParser * parser, const gchar * line)
{
  gsize len = strlen (line);
  GError *err = NULL;
  JsonNode *root;

  fail_unless (len > 0 && line[len - 1] == '\n', "no newline: %s", line);
  fail_unless (strchr (line, '\n') == line + len - 1, "two lines: %s", line);
  fail_unless (json_parser_load_from_data (parser, line, -1, &err),
      "not JSON (%s): %s", err ? err->message : "", line);
  root = json_parser_get_root (parser);
  fail_unless (JSON_NODE_HOLDS_OBJECT (root));
  return json_node_get_object (root);
}

static void
check_json_top (JsonObject * o, guint k, const gint * indices,
    const gfloat * probs, const gchar * const *labels)
{
  JsonArray *top = json_object_get_array_member (o, "top_k");

  fail_unless (top != NULL);
  fail_unless_equals_int (json_array_get_length (top), k);
  for (guint i = 0; i < k; i++) {
    JsonObject *e = json_array_get_object_element (top, i);
    fail_unless_equals_int (json_object_get_int_member (e, "index"),
        indices[i]);
    fail_unless_equals_float ((gfloat) json_object_get_double_member (e,
            "probability"), probs[i]);
    if (labels == NULL || labels[i] == NULL)
      fail_unless (json_object_get_null_member (e, "label"));
    else
      fail_unless_equals_string (json_object_get_string_member (e, "label"),
          labels[i]);
  }
}

GST_START_TEST (test_json_round_trip)
{
  JsonParser *parser = json_parser_new ();
  GstBuffer *buf = classified_buffer (8, TRUE);
  GstAlexnetClassMeta *m = gst_buffer_get_alexnet_class_meta (buf);
  gchar *line = gst_alexnet_class_meta_to_json_line (m, "/d/\"x\".jpg",
      1500 * GST_MSECOND);
  JsonObject *o = parse_line (parser, line);
  JsonArray *all;

  fail_unless_equals_string (json_object_get_string_member (o, "id"),
      "/d/\"x\".jpg");
  fail_unless_equals_int64 (json_object_get_int_member (o, "pts"),
      1500 * GST_MSECOND);
  fail_unless_equals_string (json_object_get_string_member (o, "model"),
      "alexnet");
  fail_unless_equals_int (json_object_get_int_member (o, "views"), 10);
  check_json_top (o, K, top_indices, top_probs, top_labels);
  all = json_object_get_array_member (o, "probabilities");
  fail_unless (all != NULL);
  fail_unless_equals_int (json_array_get_length (all), N_ALL);
  for (guint i = 0; i < N_ALL; i++)
    fail_unless_equals_float ((gfloat) json_array_get_double_element (all, i),
        all_probs[i]);
  /* short numbers where a float allows them */
  fail_unless (strstr (line, "\"probability\":0.973}") != NULL, "%s", line);
  g_free (line);

  /* unknown id and pts are null; no vector, no model: keys left out */
  gst_buffer_unref (buf);
  buf = gst_buffer_new ();
  m = gst_buffer_add_alexnet_class_meta (buf, K, top_indices, top_probs,
      NULL, 0, NULL);
  line = gst_alexnet_class_meta_to_json_line (m, NULL, GST_CLOCK_TIME_NONE);
  o = parse_line (parser, line);
  fail_unless (json_object_get_null_member (o, "id"));
  fail_unless (json_object_get_null_member (o, "pts"));
  fail_if (json_object_has_member (o, "model"));
  fail_if (json_object_has_member (o, "probabilities"));
  fail_unless_equals_int (json_object_get_int_member (o, "views"), 1);
  check_json_top (o, K, top_indices, top_probs, NULL);
  g_free (line);
  gst_buffer_unref (buf);
  g_object_unref (parser);
}

GST_END_TEST;

/* Labels come from files people write: every character must come back. */
GST_START_TEST (test_json_escaping)
{
  const gchar *const labels[] = {
    "say \"cheese\"", "C:\\photos\\cat", "tab\there\nnew line\r",
    "\x01\x1f\x7f bell\b form\f", "café ☕ 猫 \xf0\x9f\x90\x88",
    "</script>\u2028", "{\"a\":[1,2]}", ""
  };
  const guint k = G_N_ELEMENTS (labels);
  gint indices[G_N_ELEMENTS (labels)];
  gfloat probs[G_N_ELEMENTS (labels)];
  JsonParser *parser = json_parser_new ();
  GstBuffer *buf = gst_buffer_new ();
  GstAlexnetClassMeta *m;
  gchar *line;
  JsonObject *o;

  for (guint i = 0; i < k; i++) {
    indices[i] = i * 100;
    probs[i] = 1.0f / (i + 1);
  }
  m = gst_buffer_add_alexnet_class_meta (buf, k, indices, probs, labels, 0,
      NULL);
  gst_alexnet_class_meta_set_model (m, "alex\"net\\v2", 1);
  line = gst_alexnet_class_meta_to_json_line (m, "dir\\\"quoted\"\n.jpg", 0);
  o = parse_line (parser, line);
  fail_unless_equals_string (json_object_get_string_member (o, "id"),
      "dir\\\"quoted\"\n.jpg");
  fail_unless_equals_string (json_object_get_string_member (o, "model"),
      "alex\"net\\v2");
  fail_unless_equals_int64 (json_object_get_int_member (o, "pts"), 0);
  check_json_top (o, k, indices, probs, labels);
  g_free (line);
  gst_buffer_unref (buf);

  /* bytes that are not UTF-8 become U+FFFD: the line stays valid JSON */
  buf = gst_buffer_new ();
  {
    const gchar *bad[] = { "caf\xe9 \xff" };
    gint idx = 1;
    gfloat p = 0.5f;
    m = gst_buffer_add_alexnet_class_meta (buf, 1, &idx, &p, bad, 0, NULL);
  }
  line = gst_alexnet_class_meta_to_json_line (m, "\xc3", 0);
  fail_unless (g_utf8_validate (line, -1, NULL), "not UTF-8: %s", line);
  o = parse_line (parser, line);
  fail_unless_equals_string (json_object_get_string_member (o, "id"),
      "\xef\xbf\xbd");
  {
    JsonArray *top = json_object_get_array_member (o, "top_k");
    JsonObject *e = json_array_get_object_element (top, 0);
    fail_unless_equals_string (json_object_get_string_member (e, "label"),
        "caf\xef\xbf\xbd \xef\xbf\xbd");
  }
  g_free (line);
  gst_buffer_unref (buf);
  g_object_unref (parser);
}

GST_END_TEST;

/* JSON has no NaN or infinity: they are written as null, and the line is
 * still valid. */
GST_START_TEST (test_json_non_finite)
{
  const gint indices[3] = { 0, 1, 2 };
  const gfloat probs[3] = { NAN, INFINITY, 1e-45f };
  JsonParser *parser = json_parser_new ();
  GstBuffer *buf = gst_buffer_new ();
  GstAlexnetClassMeta *m = gst_buffer_add_alexnet_class_meta (buf, 3,
      indices, probs, NULL, 3, probs);
  gchar *line = gst_alexnet_class_meta_to_json_line (m, "x", 0);
  JsonObject *o = parse_line (parser, line);
  JsonArray *top = json_object_get_array_member (o, "top_k");
  JsonArray *all = json_object_get_array_member (o, "probabilities");

  fail_unless (json_object_get_null_member (json_array_get_object_element
          (top, 0), "probability"));
  fail_unless (json_object_get_null_member (json_array_get_object_element
          (top, 1), "probability"));
  fail_unless_equals_float ((gfloat) json_object_get_double_member
      (json_array_get_object_element (top, 2), "probability"), 1e-45f);
  fail_unless (json_array_get_null_element (all, 0));
  fail_unless (json_array_get_null_element (all, 1));
  g_free (line);
  gst_buffer_unref (buf);
  g_object_unref (parser);
}

GST_END_TEST;

/* The buffer-level helpers alexnet-infer calls: id from the label meta,
 * else the PTS; NULL without a class meta. */
GST_START_TEST (test_buffer_helpers)
{
  JsonParser *parser = json_parser_new ();
  GstBuffer *buf = classified_buffer (8, FALSE);
  GstBuffer *plain = gst_buffer_new ();
  GstMessage *msg;
  gchar *line;
  JsonObject *o;
  const GstStructure *s;

  GST_BUFFER_PTS (buf) = 2 * GST_SECOND;
  msg = gst_alexnet_classification_message_new (NULL, buf);
  fail_unless (msg != NULL);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_ELEMENT);
  s = gst_message_get_structure (msg);
  check_message_structure (s, "0:00:02.000000000", 2 * GST_SECOND, FALSE);
  gst_message_unref (msg);
  line = gst_alexnet_classification_json_line (buf);
  o = parse_line (parser, line);
  fail_unless_equals_string (json_object_get_string_member (o, "id"),
      "0:00:02.000000000");
  fail_unless_equals_int64 (json_object_get_int_member (o, "pts"),
      2 * GST_SECOND);
  g_free (line);

  gst_buffer_add_alexnet_label_meta (buf, 281, "tabby", "/val/cat.jpg");
  msg = gst_alexnet_classification_message_new (NULL, buf);
  check_message_structure (gst_message_get_structure (msg), "/val/cat.jpg",
      2 * GST_SECOND, FALSE);
  gst_message_unref (msg);
  line = gst_alexnet_classification_json_line (buf);
  o = parse_line (parser, line);
  fail_unless_equals_string (json_object_get_string_member (o, "id"),
      "/val/cat.jpg");
  g_free (line);

  fail_unless (gst_alexnet_classification_message_new (NULL, plain) == NULL);
  fail_unless (gst_alexnet_classification_json_line (plain) == NULL);
  gst_buffer_unref (plain);
  gst_buffer_unref (buf);
  g_object_unref (parser);
}

GST_END_TEST;

static Suite *
class_meta_suite (void)
{
  Suite *s = suite_create ("class-meta");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_add_and_copy);
  tcase_add_test (tc, test_through_stock_elements);
  tcase_add_test (tc, test_result_id);
  tcase_add_test (tc, test_message_round_trip);
  tcase_add_test (tc, test_json_round_trip);
  tcase_add_test (tc, test_json_escaping);
  tcase_add_test (tc, test_json_non_finite);
  tcase_add_test (tc, test_buffer_helpers);
  return s;
}

GST_CHECK_MAIN (class_meta);
