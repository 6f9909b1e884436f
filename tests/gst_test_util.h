/* Helpers shared by the element and pipeline tests: expecting an element to
 * refuse to start with a given message, and removing temporary folders. */
#ifndef GST_ALEXNET_TEST_UTIL_H
#define GST_ALEXNET_TEST_UTIL_H

#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <string.h>

/* Takes @el (floating or owned) to PAUSED, which must fail, and checks that
 * the first error on its bus contains every string of the NULL-terminated
 * list. The element is set back to NULL and unreffed. */
static inline void
check_start_fails_with (GstElement * el, const gchar * needle, ...)
{
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;
  va_list ap;

  gst_object_ref_sink (el);
  gst_element_set_bus (el, bus);
  fail_unless_equals_int (gst_element_set_state (el, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message");
  gst_message_parse_error (msg, &err, NULL);
  va_start (ap, needle);
  for (; needle != NULL; needle = va_arg (ap, const gchar *))
    fail_unless (strstr (err->message, needle) != NULL,
        "error does not mention \"%s\": %s", needle, err->message);
  va_end (ap);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (el, GST_STATE_NULL);
  gst_element_set_bus (el, NULL);
  gst_object_unref (bus);
  gst_object_unref (el);
}

/* Runs the pipeline @desc to EOS or an error (two minutes at most), with
 * @probe (if not NULL) on the sink pad of the element named "sink",
 * recomputing the latency whenever an element asks (live pipelines).
 * Returns the error's message (g_free it) or NULL at EOS; the stopped
 * pipeline goes to @keep when it is not NULL. */
static inline gchar *
run_pipeline (const gchar * desc, GstPadProbeCallback probe, gpointer data,
    GstElement ** keep)
{
  GError *err = NULL;
  GstElement *pipe = gst_parse_launch (desc, &err), *sink;
  GstBus *bus;
  gchar *result = NULL;
  gboolean done = FALSE;

  fail_unless (pipe != NULL, "cannot parse '%s': %s", desc,
      err ? err->message : "?");
  g_clear_error (&err);
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  if (sink && probe) {
    GstPad *pad = gst_element_get_static_pad (sink, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, probe, data, NULL);
    gst_object_unref (pad);
  }
  gst_clear_object (&sink);
  bus = gst_element_get_bus (pipe);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  while (!done) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_LATENCY);
    fail_unless (msg != NULL, "pipeline timed out: %s", desc);
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_LATENCY:
        gst_bin_recalculate_latency (GST_BIN (pipe));
        break;
      case GST_MESSAGE_ERROR:
        gst_message_parse_error (msg, &err, NULL);
        result = g_strdup (err->message);
        g_clear_error (&err);
        done = TRUE;
        break;
      default:
        done = TRUE;
        break;
    }
    gst_message_unref (msg);
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  if (keep)
    *keep = pipe;
  else
    gst_object_unref (pipe);
  return result;
}

/* rm -r @path (symbolic links are removed, not followed). */
static inline void
remove_tree (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  if (dir != NULL) {
    while ((name = g_dir_read_name (dir)) != NULL) {
      gchar *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR)
          && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
      g_free (child);
    }
    g_dir_close (dir);
  }
  g_rmdir (path);
}

/* The description of pipelines/NAME.pipeline with ${KEY} filled in from
 * the NULL-terminated key/value list (as scripts/run-pipeline.sh does). */
#ifdef PIPELINES_DIR
static inline gchar *
load_pipeline (const gchar * name, ...)
{
  gchar *path = g_strdup_printf ("%s/%s.pipeline", PIPELINES_DIR, name);
  gchar *text = NULL, **lines;
  GString *desc = g_string_new (NULL);
  const gchar *key;
  va_list ap;

  fail_unless (g_file_get_contents (path, &text, NULL, NULL), "no %s", path);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    if (lines[i][0] != '#') {
      g_string_append (desc, lines[i]);
      g_string_append_c (desc, ' ');
    }
  va_start (ap, name);
  while ((key = va_arg (ap, const gchar *)) != NULL) {
    const gchar *value = va_arg (ap, const gchar *);
    gchar *pattern = g_strdup_printf ("${%s}", key);
    g_string_replace (desc, pattern, value, 0);
    g_free (pattern);
  }
  va_end (ap);
  fail_if (strstr (desc->str, "${") != NULL, "unfilled value in %s: %s",
      name, desc->str);
  g_strfreev (lines);
  g_free (text);
  g_free (path);
  return g_string_free (desc, FALSE);
}
#endif

#endif
