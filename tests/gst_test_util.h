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

#endif
