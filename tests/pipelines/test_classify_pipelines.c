/* The classification pipelines of pipelines/ run end to end with the small
 * checkpoint of tests/data: a folder of JPEGs into JSON lines, a video file
 * into an annotated video, the camera pipeline with a live test pattern
 * standing in for the camera; and a live source with a model too slow for
 * it, which must stay real-time by dropping late frames (QoS). */
#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <turbojpeg.h>

#include "plugin/gstalexnetclassmeta.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/nn/net.h"
#include "kernels/nn/net_checkpoint.h"
#include "tests/gst_test_util.h"

#ifndef PIPELINES_DIR
#error "PIPELINES_DIR must point at the pipelines/ folder"
#endif

static gchar *tmpdir, *datadir, *model_path;

/* --- a small data set: two classes, sizes below and above 72 --- */

static const struct {
  const gchar *cls, *name;
  gint w, h, gray;
} images[] = {
  {"fish", "1.jpg", 120, 90, 0},
  {"fish", "2.jpg", 64, 100, 0},
  {"fish", "3.jpg", 72, 72, 1},
  {"bird", "1.jpg", 300, 200, 0},
  {"bird", "2.jpg", 50, 40, 0},
};

#define N_IMAGES G_N_ELEMENTS (images)

static void
make_dataset (void)
{
  tjhandle tj = tjInitCompress ();

  for (guint i = 0; i < N_IMAGES; i++) {
    gint w = images[i].w, h = images[i].h;
    gint pf = images[i].gray ? TJPF_GRAY : TJPF_RGB, ps = tjPixelSize[pf];
    guint8 *px = g_malloc ((gsize) w * h * ps);
    unsigned char *jpeg = NULL;
    unsigned long len = 0;
    gchar *dir = g_build_filename (datadir, images[i].cls, NULL);
    gchar *path = g_build_filename (dir, images[i].name, NULL);

    for (gint y = 0; y < h; y++)
      for (gint x = 0; x < w; x++)
        for (gint c = 0; c < ps; c++)
          px[((gsize) y * w + x) * ps + c] =
              (guint8) ((x * (c + 2) + y * (3 - c) + i * 50) & 0xff);
    fail_unless (tjCompress2 (tj, px, w, 0, h, pf, &jpeg, &len,
            images[i].gray ? TJSAMP_GRAY : TJSAMP_420, 90, 0) == 0);
    fail_unless (g_mkdir_with_parents (dir, 0755) == 0);
    fail_unless (g_file_set_contents (path, (const gchar *) jpeg, len, NULL));
    tjFree (jpeg);
    g_free (px);
    g_free (path);
    g_free (dir);
  }
  tjDestroy (tj);
}

static gchar *
replace (gchar * desc, const gchar * what, const gchar * with)
{
  GString *s = g_string_new (desc);
  fail_unless (strstr (desc, what) != NULL, "no '%s' in %s", what, desc);
  g_string_replace (s, what, with, 0);
  g_free (desc);
  return g_string_free (s, FALSE);
}

/* --- running a pipeline --- */

typedef struct {
  guint buffers, with_meta;
  GstClockTimeDiff max_late, max_late_first_half, max_late_second_half;
  guint expected;               /* buffers the source sends, for halves */
} SinkStats;

/* At the sink: how late each buffer is against the pipeline clock. */
static GstPadProbeReturn
sink_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  SinkStats *st = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstElement *sink = gst_pad_get_parent_element (pad);
  GstClock *clock = gst_element_get_clock (sink);

  st->buffers++;
  if (gst_buffer_get_alexnet_class_meta (buf) != NULL)
    st->with_meta++;
  if (clock != NULL && GST_BUFFER_PTS_IS_VALID (buf)) {
    GstClockTimeDiff late = GST_CLOCK_DIFF (GST_BUFFER_PTS (buf),
        gst_clock_get_time (clock) - gst_element_get_base_time (sink));
    st->max_late = MAX (st->max_late, late);
    if (GST_BUFFER_PTS (buf) < st->expected / 2 * (GST_SECOND / 60))
      st->max_late_first_half = MAX (st->max_late_first_half, late);
    else
      st->max_late_second_half = MAX (st->max_late_second_half, late);
  }
  if (clock)
    gst_object_unref (clock);
  gst_object_unref (sink);
  return GST_PAD_PROBE_OK;
}

/* Runs @desc to EOS, timing what reaches the element named "sink" into
 * @st if any; returns the error message or NULL, and the pipeline in
 * @keep. */
static gchar *
run (const gchar * desc, SinkStats * st, GstElement ** keep)
{
  return run_pipeline (desc, st ? sink_probe : NULL, st, keep);
}

static guint64
infer_counter (GstElement * pipe, const gchar * name)
{
  GstElement *infer = gst_bin_get_by_name (GST_BIN (pipe), "infer");
  guint64 v = G_MAXUINT64;

  fail_unless (infer != NULL);
  g_object_get (infer, name, &v, NULL);
  gst_object_unref (infer);
  return v;
}

/* The lines of a JSON-lines file, each parsed (json-glib). */
static GPtrArray *
read_json_lines (const gchar * path)
{
  GPtrArray *parsers = g_ptr_array_new_with_free_func (g_object_unref);
  gchar *text = NULL, **lines;

  fail_unless (g_file_get_contents (path, &text, NULL, NULL), "no %s", path);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] && lines[i][0]; i++) {
    JsonParser *p = json_parser_new ();
    GError *err = NULL;
    fail_unless (json_parser_load_from_data (p, lines[i], -1, &err),
        "%s line %u: %s", path, i + 1, err ? err->message : "");
    fail_unless (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (p)));
    g_ptr_array_add (parsers, p);
  }
  g_strfreev (lines);
  g_free (text);
  return parsers;
}

static JsonObject *
line_object (GPtrArray * lines, guint i)
{
  return json_node_get_object (json_parser_get_root (lines->pdata[i]));
}

/* --- the pipelines --- */

static GPtrArray *
classify_folder (const gchar * batch, const gchar * out)
{
  gchar *desc = load_pipeline ("classify-folder", "DATA", datadir, "MODEL",
      model_path, "BATCH", batch, "OUT", out, NULL);
  GstElement *pipe = NULL;
  gchar *error = run (desc, NULL, &pipe);

  fail_unless (error == NULL, "%s", error);
  fail_unless_equals_uint64 (infer_counter (pipe, "processed"), N_IMAGES);
  gst_object_unref (pipe);
  g_free (desc);
  return read_json_lines (out);
}

GST_START_TEST (test_classify_folder)
{
  gchar *out4 = g_build_filename (tmpdir, "b4.jsonl", NULL);
  gchar *out1 = g_build_filename (tmpdir, "b1.jsonl", NULL);
  GPtrArray *b4 = classify_folder ("4", out4);
  GPtrArray *b1 = classify_folder ("1", out1);
  guint seen = 0;

  /* one line per image, each naming its file; batch 4 (one full batch and
   * one partial at EOS) gives what batch 1 gives */
  fail_unless_equals_int (b4->len, N_IMAGES);
  fail_unless_equals_int (b1->len, N_IMAGES);
  for (guint i = 0; i < b4->len; i++) {
    JsonObject *o = line_object (b4, i), *o1 = line_object (b1, i);
    const gchar *id = json_object_get_string_member (o, "id");
    JsonArray *top = json_object_get_array_member (o, "top_k");
    JsonArray *top1 = json_object_get_array_member (o1, "top_k");
    double sum = 0.0;

    fail_unless (g_str_has_prefix (id, datadir), "%s", id);
    fail_unless_equals_string (id, json_object_get_string_member (o1, "id"));
    for (guint j = 0; j < N_IMAGES; j++) {
      gchar *p = g_build_filename (datadir, images[j].cls, images[j].name,
          NULL);
      if (strcmp (p, id) == 0)
        seen |= 1u << j;
      g_free (p);
    }
    fail_unless_equals_int (json_array_get_length (top), 5);
    for (guint j = 0; j < 5; j++) {
      JsonObject *e = json_array_get_object_element (top, j);
      JsonObject *e1 = json_array_get_object_element (top1, j);
      double p = json_object_get_double_member (e, "probability");
      fail_unless (json_object_get_string_member (e, "label") != NULL);
      fail_unless (fabs (p - json_object_get_double_member (e1,
                  "probability")) < 1e-5);
      sum += p;
    }
    fail_unless (sum > 0.0 && sum <= 1.0 + 1e-5, "top-5 sum %g", sum);
  }
  fail_unless_equals_int (seen, (1u << N_IMAGES) - 1);
  g_ptr_array_unref (b4);
  g_ptr_array_unref (b1);
  g_free (out4);
  g_free (out1);
}

GST_END_TEST;

GST_START_TEST (test_classify_video)
{
  gchar *video = g_build_filename (tmpdir, "in.avi", NULL);
  gchar *out = g_build_filename (tmpdir, "out.avi", NULL);
  gchar *results = g_build_filename (tmpdir, "video.jsonl", NULL);
  gchar *desc, *error;
  GPtrArray *lines;
  SinkStats st = { 0 };
  const guint n_frames = 12;

  desc = g_strdup_printf ("videotestsrc num-buffers=%u pattern=ball ! "
      "video/x-raw,width=160,height=120,framerate=25/1 ! jpegenc ! avimux ! "
      "filesink location=%s", n_frames, video);
  error = run (desc, NULL, NULL);
  fail_unless (error == NULL, "%s", error);
  g_free (desc);

  desc = load_pipeline ("classify-video", "VIDEO", video, "MODEL", model_path,
      "BATCH", "5", "RESULTS", results, "OUT", out, NULL);
  error = run (desc, NULL, NULL);
  fail_unless (error == NULL, "%s", error);
  g_free (desc);

  /* every frame classified, in order, by its timestamp */
  lines = read_json_lines (results);
  fail_unless_equals_int (lines->len, n_frames);
  for (guint i = 0; i < lines->len; i++) {
    JsonObject *o = line_object (lines, i);
    fail_unless_equals_uint64 (json_object_get_int_member (o, "pts"),
        i * GST_SECOND / 25);
    fail_unless (g_str_has_prefix (json_object_get_string_member (o, "id"),
            "0:00:00."));
  }
  g_ptr_array_unref (lines);

  /* the annotated video plays back with every frame */
  desc = g_strdup_printf ("filesrc location=%s ! decodebin ! videoconvert ! "
      "video/x-raw,format=RGB ! fakesink name=sink", out);
  error = run (desc, &st, NULL);
  fail_unless (error == NULL, "%s", error);
  fail_unless_equals_int (st.buffers, n_frames);
  g_free (desc);
  g_free (video);
  g_free (out);
  g_free (results);
}

GST_END_TEST;

/* The camera pipeline, headless, with videotestsrc is-live=true standing in
 * for v4l2src and a fakesink that keeps time as a display does. */
GST_START_TEST (test_classify_camera_standin)
{
  gchar *desc = load_pipeline ("classify-camera", "DEVICE", "/dev/video0",
      "MODEL", model_path, NULL);
  GstElement *pipe = NULL;
  SinkStats st = { 0 };
  gchar *error;
  gint64 t0;

  desc = replace (desc, "v4l2src device=/dev/video0", "videotestsrc "
      "is-live=true num-buffers=30 ! video/x-raw,width=320,height=240,"
      "framerate=30/1");
  desc = replace (desc, "autovideosink", "fakesink name=sink sync=true "
      "qos=true max-lateness=20000000");
  t0 = g_get_monotonic_time ();
  error = run (desc, &st, &pipe);
  fail_unless (error == NULL, "%s", error);
  /* one second of video in about a second; what reached the sink was
   * classified */
  fail_unless (g_get_monotonic_time () - t0 < 5 * G_USEC_PER_SEC);
  fail_unless (st.buffers > 0);
  fail_unless_equals_int (st.with_meta, st.buffers);
  fail_unless (infer_counter (pipe, "processed") >= st.buffers);
  gst_object_unref (pipe);
  g_free (desc);
}

GST_END_TEST;

/* A checkpoint of the paper's net at half width and full input size: about
 * 0.4 GFLOP per view, so ten views per frame cannot keep up with 60 frames
 * a second on the test machine. */
static gchar *
write_slow_model (void)
{
  gchar *path = g_build_filename (tmpdir, "slow.safetensors", NULL);
  ax_net_checkpoint_info info;
  ax_net_config cfg = { 1, AX_PLACE_ONE, 0, { NULL, NULL } };
  ax_net_spec spec;
  ax_net *net = NULL;
  char err[512];

  fail_unless (ax_net_spec_alexnet_paper (&spec, 10, 224) == AX_OK);
  fail_unless (ax_net_spec_narrow (&spec, 2) == AX_OK);
  fail_unless (ax_cpu_backend_create (1, &cfg.backends[0]) == AX_OK);
  fail_unless (ax_net_create (&spec, &cfg, &net, err, sizeof err) == AX_OK,
      "%s", err);
  fail_unless (ax_net_init (net, AX_INIT_PAPER, 7) == AX_OK);
  memset (&info, 0, sizeof info);
  info.input_size = 224;
  info.has_normalization = 1;
  for (gint c = 0; c < 3; c++) {
    info.mean[c] = 0.45f;
    info.std[c] = 1.0f;
  }
  fail_unless (ax_net_checkpoint_save (net, path, &info, err, sizeof err) ==
      AX_OK, "%s", err);
  ax_net_destroy (net);
  ax_backend_destroy (cfg.backends[0]);
  return path;
}

/* No leaky queue: the element alone must keep a live stream real-time by
 * dropping the frames the sink reports late, before classifying them. */
GST_START_TEST (test_live_slow_model_drops_late_frames)
{
  gchar *slow = write_slow_model ();
  const guint n_frames = 120;   /* 2 s at 60 frames a second */
  gchar *desc = g_strdup_printf ("videotestsrc is-live=true num-buffers=%u ! "
      "video/x-raw,width=320,height=240,framerate=60/1 ! videoconvert qos=false ! "
      "video/x-raw,format=RGB ! alexnet-infer name=infer model=%s "
      "views=ten-crop ! fakesink name=sink sync=true qos=true "
      "max-lateness=20000000", n_frames, slow);
  GstElement *pipe = NULL;
  SinkStats st = { 0 };
  gchar *error;
  guint64 processed, dropped;
  gint64 t0, took;

  st.expected = n_frames;
  t0 = g_get_monotonic_time ();
  error = run (desc, &st, &pipe);
  took = g_get_monotonic_time () - t0;
  fail_unless (error == NULL, "%s", error);
  processed = infer_counter (pipe, "processed");
  dropped = infer_counter (pipe, "dropped");
  g_print ("live, slow model: %" G_GUINT64_FORMAT " frames classified, %"
      G_GUINT64_FORMAT " dropped, %u at the sink, %.2f s for %.2f s of "
      "video; lateness at the sink: max %.1f ms (first half %.1f, second "
      "half %.1f)\n", processed, dropped, st.buffers, took / 1e6,
      n_frames / 60.0, st.max_late / 1e6, st.max_late_first_half / 1e6,
      st.max_late_second_half / 1e6);
  /* every frame was classified or dropped; some were dropped */
  fail_unless_equals_uint64 (processed + dropped, n_frames);
  fail_unless (dropped > 0);
  fail_unless (processed > 0);
  /* real-time: the run lasts about as long as the video (plus start-up),
   * where classifying every frame would take several times longer */
  fail_unless (took < 2 * G_USEC_PER_SEC * n_frames / 60 + 3 *
      G_USEC_PER_SEC, "took %.2f s", took / 1e6);
  /* and lateness does not grow: classifying every frame would leave the
   * last ones about 6 s behind; what is left is the latency the element
   * reports (one frame's time, 0.2-0.4 s here, more on a busy machine) */
  fail_unless (st.max_late_second_half < 2 * GST_SECOND,
      "frames at the end are %.1f ms late", st.max_late_second_half / 1e6);
  gst_object_unref (pipe);
  g_free (desc);
  g_free (slow);
}

GST_END_TEST;

static void
setup (void)
{
  const gchar *dir = g_getenv ("ALEXNET_TEST_DATA");

  tmpdir = g_dir_make_tmp ("alexnet-classify-XXXXXX", NULL);
  fail_unless (tmpdir != NULL);
  datadir = g_build_filename (tmpdir, "data", NULL);
  model_path = g_build_filename (dir ? dir : "tests/data",
      "infer_model.safetensors", NULL);
  make_dataset ();
}

static void
teardown (void)
{
  remove_tree (tmpdir);
  g_free (datadir);
  g_free (tmpdir);
  g_free (model_path);
}

static Suite *
classify_pipelines_suite (void)
{
  Suite *s = suite_create ("classify-pipelines");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  tcase_add_checked_fixture (tc, setup, teardown);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_classify_folder);
  tcase_add_test (tc, test_classify_video);
  tcase_add_test (tc, test_classify_camera_standin);
  tcase_add_test (tc, test_live_slow_model_drops_late_frames);
  return s;
}

GST_CHECK_MAIN (classify_pipelines);
