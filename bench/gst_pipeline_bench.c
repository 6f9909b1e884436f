/* gst-pipeline-bench: images per second through a GStreamer pipeline, without
 * process start-up, plugin scanning or pipeline construction.
 *
 *   gst-pipeline-bench 'dataset-src location=DIR ! decode ! ... ! fakesink'
 *
 * A probe on the sink's sink pad counts the buffers and notes when the first
 * and the last arrive; the figure is (buffers - 1) / (last - first).  Also
 * printed: buffers / (PLAYING requested .. EOS), which includes preroll and
 * the source's start (listing the folder, the first decode).  The sink is the
 * element named "benchsink", else the pipeline's only sink. */

#include <gst/gst.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  guint64 buffers;
  gint64 first_us, last_us;
} sink_count;

static GstPadProbeReturn
count_buffers (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  sink_count *c = user_data;
  gint64 now = g_get_monotonic_time ();
  (void) pad;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    c->buffers += gst_buffer_list_length (GST_PAD_PROBE_INFO_BUFFER_LIST (info));
  else
    c->buffers++;
  if (c->first_us == 0)
    c->first_us = now;
  c->last_us = now;
  return GST_PAD_PROBE_OK;
}

/* The element named "benchsink", else the one sink of the bin. */
static GstElement *
find_sink (GstElement * pipeline)
{
  GstElement *sink = NULL;
  GstIterator *it;
  GValue item = G_VALUE_INIT;

  if (GST_IS_BIN (pipeline)) {
    sink = gst_bin_get_by_name (GST_BIN (pipeline), "benchsink");
    if (sink)
      return sink;
    it = gst_bin_iterate_sinks (GST_BIN (pipeline));
    if (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
      sink = g_value_dup_object (&item);
      g_value_unset (&item);
    }
    gst_iterator_free (it);
  }
  return sink;
}

/* Say which plugin file each element of the pipeline came from, so a stale
 * installed copy is never measured by mistake. */
static void
print_plugins (GstElement * pipeline)
{
  GstIterator *it;
  GValue item = G_VALUE_INIT;
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);

  if (!GST_IS_BIN (pipeline))
    return;
  it = gst_bin_iterate_recurse (GST_BIN (pipeline));
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElementFactory *f = gst_element_get_factory (g_value_get_object (&item));
    GstPlugin *p = f ? GST_PLUGIN (gst_plugin_feature_get_plugin
        (GST_PLUGIN_FEATURE (f))) : NULL;

    if (p && !g_hash_table_contains (seen, gst_plugin_get_name (p))) {
      g_hash_table_add (seen, (gpointer) gst_plugin_get_name (p));
      printf ("plugin %s %s (%s)\n", gst_plugin_get_name (p),
          gst_plugin_get_version (p),
          gst_plugin_get_filename (p) ? gst_plugin_get_filename (p) :
          "built in");
    }
    if (p)
      gst_object_unref (p);
    g_value_unset (&item);
  }
  gst_iterator_free (it);
  g_hash_table_destroy (seen);
}

int
main (int argc, char **argv)
{
  GstElement *pipeline, *sink;
  GstPad *pad;
  GstBus *bus;
  GstMessage *msg;
  GError *err = NULL;
  sink_count count = { 0 };
  gint64 play_us, eos_us;
  gchar *desc;
  int rc = 0;

  gst_init (&argc, &argv);
  if (argc < 2) {
    fprintf (stderr, "usage: gst-pipeline-bench 'PIPELINE DESCRIPTION'\n"
        "  e.g. gst-pipeline-bench 'dataset-src location=photos epochs=2 ! "
        "decode ! resize-256 ! random-crop-flip ! pca-jitter ! fakesink'\n");
    return 2;
  }
  desc = g_strjoinv (" ", argv + 1);

  pipeline = gst_parse_launch (desc, &err);
  if (err) {
    fprintf (stderr, "gst-pipeline-bench: cannot build the pipeline: %s\n"
        "  pipeline: %s\n", err->message, desc);
    if (err->domain == GST_PARSE_ERROR
        && (err->code == GST_PARSE_ERROR_LINK
            || err->code == GST_PARSE_ERROR_NO_SUCH_PROPERTY))
      fprintf (stderr, "  The elements were found but do not have the pads or "
          "properties this pipeline needs: placeholder elements, or a build "
          "older than the real elements?\n");
    else if (err->domain == GST_PARSE_ERROR
        && err->code == GST_PARSE_ERROR_NO_SUCH_ELEMENT)
      fprintf (stderr, "  An element is missing: is GST_PLUGIN_PATH set to "
          "BUILD_DIR/elements (now: %s)?\n",
          g_getenv ("GST_PLUGIN_PATH") ? g_getenv ("GST_PLUGIN_PATH") :
          "unset");
    if (pipeline) {
      print_plugins (pipeline);
      gst_object_unref (pipeline);
    }
    g_error_free (err);
    g_free (desc);
    return 3;
  }
  print_plugins (pipeline);

  sink = find_sink (pipeline);
  pad = sink ? gst_element_get_static_pad (sink, "sink") : NULL;
  if (!pad) {
    fprintf (stderr, "gst-pipeline-bench: no sink with a \"sink\" pad found; "
        "end the pipeline with 'fakesink name=benchsink'\n");
    gst_object_unref (pipeline);
    return 3;
  }
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, count_buffers, &count, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);

  bus = gst_element_get_bus (pipeline);
  play_us = g_get_monotonic_time ();
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE)
    fprintf (stderr, "gst-pipeline-bench: the pipeline refused to start\n");
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  eos_us = g_get_monotonic_time ();

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gchar *dbg = NULL;
    gst_message_parse_error (msg, &err, &dbg);
    fprintf (stderr, "gst-pipeline-bench: error from %s: %s\n  %s\n",
        GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message,
        dbg ? dbg : "");
    g_clear_error (&err);
    g_free (dbg);
    rc = 1;
  } else if (count.buffers < 2) {
    fprintf (stderr, "gst-pipeline-bench: only %" G_GUINT64_FORMAT
        " buffers reached the sink; need at least 2 to time\n", count.buffers);
    rc = 1;
  } else {
    double span = (count.last_us - count.first_us) * 1e-6;
    double total = (eos_us - play_us) * 1e-6;
    printf ("buffers %" G_GUINT64_FORMAT "\n", count.buffers);
    printf ("first_to_last_s %.3f\n", span);
    printf ("playing_to_eos_s %.3f (%.1f images/s with start-up)\n", total,
        count.buffers / total);
    printf ("images_per_s %.1f\n", (count.buffers - 1) / span);
  }

  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_free (desc);
  return rc;
}
