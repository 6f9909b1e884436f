/* alexnet-infer in a GstHarness: PyTorch's probabilities from a checkpoint
 * PyTorch made (tests/data/gen_infer_fixture.py), centre and ten-crop
 * views, ready crops and frames of other sizes, batches with caps changes
 * between their frames, the three forms of the result (meta, bus message,
 * JSON lines), top-k, output-all, a labels file, and models that cannot
 * be used (missing, truncated, wrong shapes or architecture). */
#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "plugin/gstalexnetmeta.h"
#include "plugin/gstalexnetclassmeta.h"
#include "kernels/io/checkpoint.h"
#include "kernels/image/image_crop.h"
#include "kernels/image/image_resize.h"
#include "kernels/nn/net_eval.h"
#include "tests/gst_test_util.h"

#define N_IMAGES 3
#define N_CLASSES 10
#define TOLERANCE 1e-5

static gchar *model_path, *tmpdir;
static ax_checkpoint *expected;

static const gchar *class_names[N_CLASSES] = { "tench", "goldfish",
  "white shark", "tiger shark", "hammerhead", "electric ray", "stingray",
  "cock", "hen", "ostrich"
};

static const ax_ckpt_tensor *
expect (const gchar * name)
{
  const ax_ckpt_tensor *t = ax_checkpoint_find (expected, name);
  fail_unless (t != NULL, "%s missing from infer_expected.safetensors", name);
  return t;
}

/* Image i of the fixture as an RGB buffer (default strides), PTS i s. */
static GstBuffer *
fixture_image (gint i, gint * w, gint * h)
{
  gchar name[16];
  const ax_ckpt_tensor *t;
  GstVideoInfo info;
  GstVideoFrame f;
  GstBuffer *buf;

  g_snprintf (name, sizeof name, "image%d", i);
  t = expect (name);
  fail_unless (t->shape.ndim == 3 && t->shape.dim[2] == 3);
  *h = (gint) t->shape.dim[0];
  *w = (gint) t->shape.dim[1];
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, *w, *h);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  fail_unless (gst_video_frame_map (&f, &info, buf, GST_MAP_WRITE));
  for (gint y = 0; y < *h; y++)
    memcpy ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&f, 0) +
        y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0),
        (const guint8 *) t->data + (gsize) y * *w * 3, (gsize) * w * 3);
  gst_video_frame_unmap (&f);
  GST_BUFFER_PTS (buf) = i * GST_SECOND;
  GST_BUFFER_DURATION (buf) = GST_SECOND;
  return buf;
}

static void
set_caps (GstHarness * h, gint w, gint hh)
{
  gchar *caps = g_strdup_printf ("video/x-raw,format=RGB,width=%d,height=%d,"
      "framerate=1/1", w, hh);
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
}

/* GstHarness answers latency queries as a live source; a file source
 * answers not live. */
static GstPadProbeReturn
answer_not_live (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstQuery *q = GST_PAD_PROBE_INFO_QUERY (info);
  (void) pad;
  (void) user_data;
  if (GST_QUERY_TYPE (q) != GST_QUERY_LATENCY)
    return GST_PAD_PROBE_OK;
  gst_query_set_latency (q, FALSE, 0, GST_CLOCK_TIME_NONE);
  return GST_PAD_PROBE_HANDLED;
}

/* alexnet-infer with the fixture model and `props`, fed by a source that
 * is not live (or live, with new_infer_live) */
static GstHarness *
new_infer_full (const gchar * props, gboolean live)
{
  gchar *desc = g_strdup_printf ("alexnet-infer name=infer model=\"%s\" %s",
      model_path, props);
  GstHarness *h = gst_harness_new_parse (desc);
  if (!live)
    gst_pad_add_probe (h->srcpad, GST_PAD_PROBE_TYPE_QUERY_UPSTREAM,
        answer_not_live, NULL, NULL);
  g_free (desc);
  return h;
}

static GstHarness *
new_infer (const gchar * props)
{
  return new_infer_full (props, FALSE);
}

/* Pushes the fixture images (each with its own caps) and checks every
 * output's whole probability vector against PyTorch's `which` row. */
static void
check_against_pytorch (const gchar * props, const gchar * which,
    gint n_views)
{
  GstHarness *h = new_infer (props);
  const ax_ckpt_tensor *want = expect (which);
  const float *p = want->data;
  double worst = 0.0;

  for (gint i = 0; i < N_IMAGES; i++) {
    gint w, hh;
    GstBuffer *in = fixture_image (i, &w, &hh);
    set_caps (h, w, hh);
    fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  for (gint i = 0; i < N_IMAGES; i++) {
    GstBuffer *out = gst_harness_pull (h);
    GstAlexnetClassMeta *m;
    fail_unless (out != NULL);
    m = gst_buffer_get_alexnet_class_meta (out);
    fail_unless (m != NULL, "image %d has no class meta", i);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND);
    fail_unless_equals_int (m->n_classes, N_CLASSES);
    fail_unless_equals_int (m->n_views, n_views);
    fail_unless_equals_string (m->model, "alexnet-paper");
    fail_unless_equals_string (m->evaluation, n_views == 10 ? "ten-crop" :
        "center");
    for (gint c = 0; c < N_CLASSES; c++) {
      double d = fabs (m->probabilities[c] - p[i * N_CLASSES + c]);
      worst = MAX (worst, d);
      fail_unless (d <= TOLERANCE, "%s image %d class %d: %.8f, PyTorch "
          "%.8f", which, i, c, m->probabilities[c], p[i * N_CLASSES + c]);
    }
    /* the top-k are the vector's largest, in order, with their names */
    for (guint j = 0; j < m->k; j++) {
      fail_unless_equals_float (m->top[j].probability,
          m->probabilities[m->top[j].index]);
      fail_unless_equals_string (m->top[j].label,
          class_names[m->top[j].index]);
      if (j > 0)
        fail_unless (m->top[j].probability <= m->top[j - 1].probability);
    }
    gst_buffer_unref (out);
  }
  GST_INFO ("%s (%s): largest difference from PyTorch %.3g", which, props,
      worst);
  g_print ("%s, %s: max |ours - PyTorch| = %.3g\n", which, props, worst);
  gst_harness_teardown (h);
}

GST_START_TEST (test_center_matches_pytorch)
{
  check_against_pytorch ("views=center output-all=true", "center", 1);
  /* batched (3 frames, two caps changes inside the batch) and two towers */
  check_against_pytorch ("views=center output-all=true batch-size=4",
      "center", 1);
  check_against_pytorch ("views=center output-all=true batch-size=2 "
      "towers=true", "center", 1);
}

GST_END_TEST;

/* The CUDA path of the element on simulated GPUs (a CUDA module whose
 * devices are CPU backends): PyTorch's probabilities, one device and the
 * towers on two "GPUs". */
GST_START_TEST (test_simulated_gpus_match_pytorch)
{
  const gchar *sim = g_getenv ("AX_TEST_SIM_CUDA_MODULE");

  fail_unless (sim != NULL, "AX_TEST_SIM_CUDA_MODULE is not set");
  /* each check test runs in its own process: the loader reads this once */
  g_setenv ("AX_CUDA_MODULE", sim, TRUE);
  check_against_pytorch ("views=center output-all=true backend=cuda",
      "center", 1);
  check_against_pytorch ("views=center output-all=true batch-size=2 "
      "towers=true backend=auto", "center", 1);
}

GST_END_TEST;

/* Counts the warnings that name `what` on a bus shared by `n` elements of
 * `props`, each classifying one frame. */
static guint
count_fallback_warnings (const gchar * props, gint n, const gchar * what)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h[4];
  GstMessage *msg;
  guint warnings = 0;

  for (gint i = 0; i < n; i++) {
    gint w, hh;
    GstBuffer *in = fixture_image (0, &w, &hh);
    /* the bus before the harness starts it: the net is built then */
    gchar *desc = g_strdup_printf ("alexnet-infer model=\"%s\" %s",
        model_path, props);
    GstElement *el = gst_parse_launch (desc, NULL);
    fail_unless (el != NULL);
    gst_element_set_bus (el, bus);
    h[i] = gst_harness_new_with_element (el, "sink", "src");
    gst_object_unref (el);
    g_free (desc);
    gst_pad_add_probe (h[i]->srcpad, GST_PAD_PROBE_TYPE_QUERY_UPSTREAM,
        answer_not_live, NULL, NULL);
    set_caps (h[i], w, hh);
    fail_unless_equals_int (gst_harness_push (h[i], in), GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h[i]));
  }
  while ((msg = gst_bus_pop (bus))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
      GError *err = NULL;
      gst_message_parse_warning (msg, &err, NULL);
      fail_unless (strstr (err->message, "no usable CUDA device") != NULL,
          "%s", err->message);
      warnings += strstr (err->message, what) != NULL;
      g_error_free (err);
    }
    gst_message_unref (msg);
  }
  for (gint i = 0; i < n; i++) {
    gst_element_set_bus (h[i]->element, NULL);
    gst_harness_teardown (h[i]);
  }
  gst_object_unref (bus);
  return warnings;
}

/* Without CUDA the CPU runs: backend=auto warns once per process,
 * backend=cuda every time it is asked for. */
GST_START_TEST (test_no_cuda_falls_back_to_cpu)
{
  g_setenv ("AX_CUDA_MODULE", "/nonexistent/libaxcuda.so", TRUE);
  fail_unless_equals_int (count_fallback_warnings ("backend=auto", 3,
          "backend=auto"), 1);
  fail_unless_equals_int (count_fallback_warnings ("backend=auto", 1,
          "backend=auto"), 0);
  fail_unless_equals_int (count_fallback_warnings ("backend=cuda", 2,
          "backend=cuda"), 2);
  /* the CPU still gives PyTorch's answers */
  check_against_pytorch ("views=center output-all=true backend=cuda",
      "center", 1);
}

GST_END_TEST;

GST_START_TEST (test_ten_crop_matches_pytorch)
{
  check_against_pytorch ("views=ten-crop output-all=true", "tencrop", 10);
  check_against_pytorch ("views=ten-crop output-all=true batch-size=3",
      "tencrop", 10);
}

GST_END_TEST;

/* A 63x63 frame is the network's input as it is: the same result as the
 * centre crop of image 0 cut beforehand. */
GST_START_TEST (test_ready_crop)
{
  GstHarness *h = new_infer ("output-all=true");
  const float *want = expect ("center")->data;
  GstVideoInfo info;
  GstVideoFrame src, dst;
  GstBuffer *img, *crop, *out;
  GstAlexnetClassMeta *m;
  gint w, hh;

  img = fixture_image (0, &w, &hh);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 63, 63);
  crop = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  {
    GstVideoInfo in_info;
    gst_video_info_set_format (&in_info, GST_VIDEO_FORMAT_RGB, w, hh);
    fail_unless (gst_video_frame_map (&src, &in_info, img, GST_MAP_READ));
    fail_unless (gst_video_frame_map (&dst, &info, crop, GST_MAP_WRITE));
    /* torchvision's CenterCrop(63) of 72: offset round(4.5) = 4 */
    for (gint y = 0; y < 63; y++)
      memcpy ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&dst, 0) +
          y * GST_VIDEO_FRAME_PLANE_STRIDE (&dst, 0),
          (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&src, 0) +
          (y + 4) * GST_VIDEO_FRAME_PLANE_STRIDE (&src, 0) + 4 * 3, 63 * 3);
    gst_video_frame_unmap (&dst);
    gst_video_frame_unmap (&src);
  }
  gst_buffer_unref (img);
  set_caps (h, 63, 63);
  out = gst_harness_push_and_pull (h, crop);
  fail_unless (out != NULL);
  m = gst_buffer_get_alexnet_class_meta (out);
  fail_unless (m != NULL);
  for (gint c = 0; c < N_CLASSES; c++)
    fail_unless (fabs (m->probabilities[c] - want[c]) <= TOLERANCE);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Frames wait for a full batch, which runs while the next one fills: a
 * batch goes on when the next is full; EOS lets everything through, in
 * order, each frame with its own result. */
GST_START_TEST (test_batch_holds_frames_until_full)
{
  GstHarness *h = new_infer ("batch-size=2 output-all=true");
  const float *want = expect ("center")->data;
  const guint out_after[5] = { 0, 0, 0, 2, 2 };
  gint w, hh;

  set_caps (h, 72, 72);
  for (gint i = 0; i < 5; i++) {
    GstBuffer *in = fixture_image (i % 2, &w, &hh);
    GST_BUFFER_PTS (in) = i * GST_SECOND;
    fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    fail_unless_equals_int (gst_harness_buffers_received (h), out_after[i]);
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  fail_unless_equals_int (gst_harness_buffers_received (h), 5);
  for (gint i = 0; i < 5; i++) {
    GstBuffer *out = gst_harness_pull (h);
    GstAlexnetClassMeta *m = gst_buffer_get_alexnet_class_meta (out);
    fail_unless (m != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND);
    for (gint c = 0; c < N_CLASSES; c++)
      fail_unless (fabs (m->probabilities[c] - want[(i % 2) * N_CLASSES + c])
          <= TOLERANCE, "frame %d class %d", i, c);
    gst_buffer_unref (out);
  }
  {
    guint64 processed = 0, dropped = 1;
    GstElement *infer = gst_bin_get_by_name (GST_BIN (h->element), "infer");
    g_object_get (infer, "processed", &processed, "dropped", &dropped, NULL);
    gst_object_unref (infer);
    fail_unless_equals_uint64 (processed, 5);
    fail_unless_equals_uint64 (dropped, 0);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A flush drops the held frames; caps that came with them still go
 * downstream, so the frames after the flush have the right caps. */
GST_START_TEST (test_flush_drops_held_frames_keeps_caps)
{
  GstHarness *h = new_infer ("batch-size=2");
  GstCaps *caps;
  GstStructure *st;
  gint w, hh, width = 0;

  /* a batch of two 72x72 frames running, then caps for 61x50 held with
   * image 2 */
  set_caps (h, 72, 72);
  for (gint i = 0; i < 2; i++)
    fail_unless_equals_int (gst_harness_push (h, fixture_image (0, &w, &hh)),
        GST_FLOW_OK);
  set_caps (h, 61, 50);
  fail_unless_equals_int (gst_harness_push (h, fixture_image (2, &w, &hh)),
      GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  {
    GstSegment seg;
    gst_segment_init (&seg, GST_FORMAT_TIME);
    fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
  }
  fail_unless_equals_int (gst_harness_push (h, fixture_image (2, &w, &hh)),
      GST_FLOW_OK);
  gst_harness_push_event (h, gst_event_new_eos ());
  fail_unless_equals_int (gst_harness_buffers_received (h), 1);
  caps = gst_pad_get_current_caps (h->sinkpad);
  st = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_get_int (st, "width", &width));
  fail_unless_equals_int (width, 61);
  gst_caps_unref (caps);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A live source never waits for a batch: one frame in, one frame out; the
 * element's time per frame is added to the latency. */
GST_START_TEST (test_live_source_runs_one_frame_at_a_time)
{
  GstHarness *h = new_infer_full ("batch-size=4 output-all=true", TRUE);
  const float *want = expect ("center")->data;
  gint w, hh;

  set_caps (h, 72, 72);
  for (gint i = 0; i < 2; i++) {
    GstBuffer *out;
    GstAlexnetClassMeta *m;
    fail_unless_equals_int (gst_harness_push (h, fixture_image (i, &w, &hh)),
        GST_FLOW_OK);
    fail_unless_equals_int (gst_harness_buffers_received (h), i + 1);
    out = gst_harness_pull (h);
    m = gst_buffer_get_alexnet_class_meta (out);
    for (gint c = 0; c < N_CLASSES; c++)
      fail_unless (fabs (m->probabilities[c] - want[i * N_CLASSES + c]) <=
          TOLERANCE);
    gst_buffer_unref (out);
  }
  /* the time a frame takes is reported as latency (the harness says 0) */
  {
    GstClockTime latency = gst_harness_query_latency (h);
    fail_unless (latency > 0 && latency < 10 * GST_SECOND,
        "latency %" GST_TIME_FORMAT, GST_TIME_ARGS (latency));
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_top_k_and_output_all_off)
{
  GstHarness *h = new_infer ("top-k=3");
  const float *want = expect ("center")->data;
  GstBuffer *out;
  GstAlexnetClassMeta *m;
  gint w, hh;

  set_caps (h, 72, 72);
  out = gst_harness_push_and_pull (h, fixture_image (0, &w, &hh));
  m = gst_buffer_get_alexnet_class_meta (out);
  fail_unless (m != NULL);
  fail_unless_equals_int (m->k, 3);
  fail_unless_equals_int (m->n_classes, 0);
  fail_unless (m->probabilities == NULL);
  /* PyTorch's three largest, in order */
  for (guint j = 0; j < 3; j++) {
    gint rank = 0;
    for (gint c = 0; c < N_CLASSES; c++)
      rank += want[c] > want[m->top[j].index];
    fail_unless_equals_int (rank, j);
    fail_unless (fabs (m->top[j].probability - want[m->top[j].index]) <=
        TOLERANCE);
  }
  gst_buffer_unref (out);
  gst_harness_teardown (h);

  /* top-k beyond the classes is clamped */
  h = new_infer ("top-k=50");
  set_caps (h, 72, 72);
  out = gst_harness_push_and_pull (h, fixture_image (0, &w, &hh));
  fail_unless_equals_int (gst_buffer_get_alexnet_class_meta (out)->k,
      N_CLASSES);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_labels_file_overrides)
{
  gchar *labels = g_build_filename (tmpdir, "labels.txt", NULL);
  gchar *props;
  GString *text = g_string_new (NULL);
  GstHarness *h;
  GstBuffer *out;
  GstAlexnetClassMeta *m;
  gint w, hh;

  for (gint c = 0; c < N_CLASSES; c++)
    g_string_append_printf (text, "class \"%d\"\r\n", c);
  fail_unless (g_file_set_contents (labels, text->str, -1, NULL));
  props = g_strdup_printf ("labels=\"%s\" top-k=%d", labels, N_CLASSES);
  h = new_infer (props);
  set_caps (h, 72, 72);
  out = gst_harness_push_and_pull (h, fixture_image (1, &w, &hh));
  m = gst_buffer_get_alexnet_class_meta (out);
  for (guint j = 0; j < m->k; j++) {
    gchar *want = g_strdup_printf ("class \"%d\"", m->top[j].index);
    fail_unless_equals_string (m->top[j].label, want);
    g_free (want);
  }
  gst_buffer_unref (out);
  gst_harness_teardown (h);

  /* nine names for ten classes: refused at start, naming the file */
  g_string_truncate (text, 0);
  for (gint c = 0; c < N_CLASSES - 1; c++)
    g_string_append_printf (text, "c%d\n", c);
  fail_unless (g_file_set_contents (labels, text->str, -1, NULL));
  {
    GstElement *el = gst_element_factory_make ("alexnet-infer", NULL);
    g_object_set (el, "model", model_path, "labels", labels, NULL);
    check_start_fails_with (el, labels, "9 class names", NULL);
  }
  g_string_free (text, TRUE);
  g_free (props);
  g_free (labels);
}

GST_END_TEST;

static GstBusSyncReply
collect_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  GPtrArray *msgs = user_data;
  (void) bus;
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
      && gst_message_has_name (msg, GST_ALEXNET_CLASSIFICATION_MESSAGE_NAME))
    g_ptr_array_add (msgs, gst_message_ref (msg));
  /* not queued: queued messages would hold the element that holds the bus;
   * a sync handler that drops a message unrefs it */
  gst_message_unref (msg);
  return GST_BUS_DROP;
}

/* The same result on the buffer, on the bus and in the results file; the
 * id is the label meta's sample id, else the timestamp. */
GST_START_TEST (test_bus_messages_and_results_file)
{
  gchar *results = g_build_filename (tmpdir, "results.jsonl", NULL);
  gchar *props = g_strdup_printf ("top-k=2 output-all=true batch-size=2 "
      "results-location=\"%s\"", results);
  GstHarness *h = new_infer (props);
  GPtrArray *msgs = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_message_unref);
  GstBus *bus = gst_bus_new ();
  GstAlexnetClassMeta *metas[N_IMAGES];
  GstBuffer *outs[N_IMAGES];
  gchar *text = NULL, **lines;
  gint w, hh;

  gst_bus_set_sync_handler (bus, collect_message, msgs, NULL);
  gst_element_set_bus (h->element, bus);
  set_caps (h, 72, 72);
  for (gint i = 0; i < N_IMAGES; i++) {
    GstBuffer *in = fixture_image (i < 2 ? i : 0, &w, &hh);
    GST_BUFFER_PTS (in) = i * GST_SECOND;
    if (i == 1)
      gst_buffer_add_alexnet_label_meta (in, 4, "hammerhead",
          "/data/val/hammerhead/1.jpg");
    fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  for (gint i = 0; i < N_IMAGES; i++) {
    outs[i] = gst_harness_pull (h);
    metas[i] = gst_buffer_get_alexnet_class_meta (outs[i]);
    fail_unless (metas[i] != NULL);
  }
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);     /* stops: the file is closed */

  /* bus: one message per image, in order, as the meta says */
  fail_unless_equals_int (msgs->len, N_IMAGES);
  for (guint i = 0; i < msgs->len; i++) {
    const GstStructure *s = gst_message_get_structure (msgs->pdata[i]);
    const GValue *probs = gst_structure_get_value (s, "top-k-probabilities");
    const GValue *idx = gst_structure_get_value (s, "top-k-indices");
    const GValue *all = gst_structure_get_value (s, "probabilities");
    guint k = 0;
    fail_unless (gst_structure_get_uint (s, "k", &k));
    fail_unless_equals_int (k, 2);
    fail_unless_equals_int (gst_value_array_get_size (probs), 2);
    fail_unless_equals_int (g_value_get_int (gst_value_array_get_value (idx,
                0)), metas[i]->top[0].index);
    fail_unless (all != NULL && gst_value_array_get_size (all) == N_CLASSES);
    fail_unless_equals_float (g_value_get_double (gst_value_array_get_value
            (probs, 0)), metas[i]->top[0].probability);
    fail_unless_equals_string (gst_structure_get_string (s, "id"),
        i == 1 ? "/data/val/hammerhead/1.jpg" : (i == 0 ? "0:00:00.000000000"
            : "0:00:02.000000000"));
  }

  /* results file: one JSON object per line, parsed with json-glib */
  fail_unless (g_file_get_contents (results, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  fail_unless_equals_int (g_strv_length (lines), N_IMAGES + 1);
  fail_unless_equals_string (lines[N_IMAGES], "");
  for (gint i = 0; i < N_IMAGES; i++) {
    JsonParser *parser = json_parser_new ();
    JsonObject *o, *top0;
    JsonArray *top, *all;
    GError *err = NULL;
    fail_unless (json_parser_load_from_data (parser, lines[i], -1, &err),
        "line %d: %s", i, err ? err->message : "");
    o = json_node_get_object (json_parser_get_root (parser));
    if (i == 1) {
      fail_unless_equals_string (json_object_get_string_member (o, "id"),
          "/data/val/hammerhead/1.jpg");
    } else {
      fail_unless_equals_uint64 (json_object_get_int_member (o, "pts"),
          i * GST_SECOND);
    }
    fail_unless_equals_int (json_object_get_int_member (o, "views"), 1);
    top = json_object_get_array_member (o, "top_k");
    fail_unless_equals_int (json_array_get_length (top), 2);
    top0 = json_array_get_object_element (top, 0);
    fail_unless_equals_int (json_object_get_int_member (top0, "index"),
        metas[i]->top[0].index);
    fail_unless_equals_string (json_object_get_string_member (top0, "label"),
        class_names[metas[i]->top[0].index]);
    fail_unless ((float) json_object_get_double_member (top0,
            "probability") == metas[i]->top[0].probability);
    all = json_object_get_array_member (o, "probabilities");
    fail_unless_equals_int (json_array_get_length (all), N_CLASSES);
    g_object_unref (parser);
  }
  for (gint i = 0; i < N_IMAGES; i++)
    gst_buffer_unref (outs[i]);
  g_strfreev (lines);
  g_free (text);
  gst_object_unref (bus);
  g_ptr_array_unref (msgs);
  g_free (props);
  g_free (results);
}

GST_END_TEST;

/* --- models that cannot be used: start fails naming the file --- */

static void
check_model_refused (const gchar * path, const gchar * problem)
{
  GstElement *el = gst_element_factory_make ("alexnet-infer", NULL);
  g_object_set (el, "model", path, NULL);
  check_start_fails_with (el, path, problem, NULL);
}

/* Copies the fixture model to `name` with tensor `bad` given shape
 * [out, in] (or left out when out is 0) and metadata `key` set to `value`
 * (left out when NULL). */
static gchar *
write_variant (const gchar * name, const gchar * bad, gint out_dim,
    const gchar * key, const gchar * value)
{
  gchar *path = g_build_filename (tmpdir, name, NULL);
  ax_checkpoint *ck;
  ax_checkpoint_writer *w = ax_checkpoint_writer_new ();
  float *junk = g_new0 (float, 4096);
  char err[512];

  fail_unless (ax_checkpoint_open (model_path, &ck, err, sizeof err) ==
      AX_CKPT_OK, "%s", err);
  for (size_t i = 0; i < ax_checkpoint_n_tensors (ck); i++) {
    const ax_ckpt_tensor *t = ax_checkpoint_tensor_at (ck, i);
    if (bad && strcmp (t->name, bad) == 0) {
      ax_ckpt_shape s = { 2, {out_dim, 3} };
      if (out_dim > 0)
        ax_checkpoint_writer_add (w, t->name, AX_CKPT_F32, &s, junk);
      continue;
    }
    ax_checkpoint_writer_add (w, t->name, t->dtype, &t->shape, t->data);
  }
  for (size_t i = 0; i < ax_checkpoint_n_meta (ck); i++) {
    const char *k = ax_checkpoint_meta_key_at (ck, i);
    if (key && strcmp (k, key) == 0 && value == NULL)
      continue;                 /* left out */
    ax_checkpoint_writer_set_meta (w, k, key && strcmp (k, key) == 0 ?
        value : ax_checkpoint_meta (ck, k));
  }
  fail_unless (ax_checkpoint_writer_write (w, path, err, sizeof err) ==
      AX_CKPT_OK, "%s", err);
  ax_checkpoint_writer_free (w);
  ax_checkpoint_close (ck);
  g_free (junk);
  return path;
}

GST_START_TEST (test_missing_truncated_mismatched_models)
{
  gchar *missing = g_build_filename (tmpdir, "no-such-model.safetensors",
      NULL);
  gchar *truncated = g_build_filename (tmpdir, "truncated.safetensors", NULL);
  gchar *text = NULL, *path;
  gsize len;

  check_model_refused (missing, "No such file");

  fail_unless (g_file_get_contents (model_path, &text, &len, NULL));
  fail_unless (g_file_set_contents (truncated, text, len / 2, NULL));
  check_model_refused (truncated, "truncated");
  g_free (text);

  path = write_variant ("wrong-shape.safetensors", "fc7.weight", 7, NULL,
      NULL);
  check_model_refused (path, "fc7.weight");
  g_free (path);
  path = write_variant ("no-fc8.safetensors", "fc8.bias", 0, NULL, NULL);
  check_model_refused (path, "fc8.bias");
  g_free (path);
  path = write_variant ("arch.safetensors", NULL, 0, "architecture",
      "alexnet-imaginary");
  check_model_refused (path, "alexnet-imaginary");
  g_free (path);
  /* torchvision's layer sizes for the paper's weights */
  path = write_variant ("tv.safetensors", NULL, 0, "architecture",
      "alexnet-torchvision");
  check_model_refused (path, "tv.safetensors");
  g_free (path);
  path = write_variant ("classes.safetensors", NULL, 0, "num_classes", "11");
  check_model_refused (path, "classes.safetensors");
  g_free (path);

  {
    GstElement *el = gst_element_factory_make ("alexnet-infer", NULL);
    check_start_fails_with (el, "model", NULL);
  }
  g_free (missing);
  g_free (truncated);
}

GST_END_TEST;

/* A checkpoint without the width_divisor key (as PyTorch tools may write
 * it): the widths are read from the tensors. */
GST_START_TEST (test_width_divisor_from_shapes)
{
  gchar *path = write_variant ("no-divisor.safetensors", NULL, 0,
      "width_divisor", NULL);
  gchar *saved = model_path;
  ax_checkpoint *ck;
  char err[256];

  fail_unless (ax_checkpoint_open (path, &ck, err, sizeof err) == AX_CKPT_OK);
  fail_unless (ax_checkpoint_meta (ck, "width_divisor") == NULL);
  ax_checkpoint_close (ck);
  model_path = path;
  check_against_pytorch ("output-all=true", "center", 1);
  model_path = saved;
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_caps)
{
  GstHarness *h = new_infer ("");
  GstBuffer *out;
  gint w, hh;

  /* RGB of any size passes; the frame is not changed */
  set_caps (h, 72, 72);
  {
    GstBuffer *in = fixture_image (0, &w, &hh);
    GstMapInfo a, b;
    out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
    fail_unless (gst_buffer_map (in, &a, GST_MAP_READ));
    fail_unless (gst_buffer_map (out, &b, GST_MAP_READ));
    fail_unless (a.size == b.size && memcmp (a.data, b.data, a.size) == 0);
    gst_buffer_unmap (in, &a);
    gst_buffer_unmap (out, &b);
    gst_buffer_unref (in);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);

  h = new_infer ("");
  gst_harness_set_src_caps_str (h, "video/x-raw,format=I420,width=72,"
      "height=72,framerate=1/1");
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_allocate (NULL,
              72 * 72 * 3 / 2, NULL)), GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (h);
}

GST_END_TEST;

static void
setup (void)
{
  const gchar *dir = g_getenv ("ALEXNET_TEST_DATA");
  gchar *path;
  char err[512];

  model_path = g_build_filename (dir ? dir : "tests/data",
      "infer_model.safetensors", NULL);
  path = g_build_filename (dir ? dir : "tests/data",
      "infer_expected.safetensors", NULL);
  fail_unless (ax_checkpoint_open (path, &expected, err, sizeof err) ==
      AX_CKPT_OK, "%s", err);
  g_free (path);
  tmpdir = g_dir_make_tmp ("alexnet-infer-XXXXXX", NULL);
  fail_unless (tmpdir != NULL);
}

static void
teardown (void)
{
  ax_checkpoint_close (expected);
  expected = NULL;
  remove_tree (tmpdir);
  g_free (tmpdir);
  g_free (model_path);
}

/* --- the VGG paper's evaluations --- */

/* One frame through alexnet-infer `props`: its whole probability vector
 * (N_CLASSES floats into probs) and its meta's views and evaluation. */
static void
classify_frame (const gchar * props, GstBuffer * frame, gint w, gint hh,
    float *probs, gint * n_views, gchar ** evaluation)
{
  gchar *full = g_strdup_printf ("output-all=true %s", props);
  GstHarness *h = new_infer (full);
  GstBuffer *out;
  GstAlexnetClassMeta *m;

  set_caps (h, w, hh);
  out = gst_harness_push_and_pull (h, frame);
  fail_unless (out != NULL);
  m = gst_buffer_get_alexnet_class_meta (out);
  fail_unless (m != NULL && m->n_classes == N_CLASSES, "%s: no result",
      props);
  memcpy (probs, m->probabilities, N_CLASSES * sizeof *probs);
  if (n_views)
    *n_views = m->n_views;
  if (evaluation)
    *evaluation = g_strdup (m->evaluation);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (full);
}

/* views=multi-crop is the mean of its 50 crops, each classified alone by
 * views=center (a frame of the input size is used as it is): the image
 * rescaled to Q = 80, the 5x5 grid of 63x63 crops and their mirrors. */
GST_START_TEST (test_multi_crop_is_its_crops)
{
  const gint q = 80, in = 63;
  gint w, hh, sw, sh, n_views;
  GstBuffer *img = fixture_image (1, &w, &hh);
  GstVideoInfo info;
  GstVideoFrame f;
  float got[N_CLASSES], want[N_CLASSES] = { 0 }, p[N_CLASSES];
  ax_crop_pos pos[AX_EVAL_CROPS];
  ax_resize_plan plan;
  guint8 *scaled;
  gchar *evaluation;

  fail_unless (ax_resize_scaled_size (&sw, &sh, w, hh, q) == 0);
  scaled = g_malloc ((gsize) sw * sh * 3);
  fail_unless (ax_resize_plan_init_window (&plan, w, hh, sw, sh, 0, 0, sw,
          sh) == 0);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, hh);
  fail_unless (gst_video_frame_map (&f, &info, img, GST_MAP_READ));
  ax_resize_rgb (scaled, sw * 3, GST_VIDEO_FRAME_PLANE_DATA (&f, 0),
      GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0), &plan);
  gst_video_frame_unmap (&f);
  ax_resize_plan_clear (&plan);

  classify_frame ("views=multi-crop scales=80", gst_buffer_ref (img), w, hh,
      got, &n_views, &evaluation);
  fail_unless_equals_int (n_views, AX_EVAL_CROPS);
  fail_unless_equals_string (evaluation, "multi-crop");
  g_free (evaluation);

  ax_grid_crop_pos (pos, AX_EVAL_GRID, sw, sh, in);
  for (gint v = 0; v < AX_EVAL_CROPS; v++) {
    GstVideoInfo ci;
    GstBuffer *crop;
    gst_video_info_set_format (&ci, GST_VIDEO_FORMAT_RGB, in, in);
    crop = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&ci), NULL);
    fail_unless (gst_video_frame_map (&f, &ci, crop, GST_MAP_WRITE));
    ax_crop_flip_rgb (GST_VIDEO_FRAME_PLANE_DATA (&f, 0),
        GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0), scaled, sw * 3, pos[v].x,
        pos[v].y, in, in, pos[v].mirror);
    gst_video_frame_unmap (&f);
    classify_frame ("views=center", crop, in, in, p, NULL, NULL);
    for (gint c = 0; c < N_CLASSES; c++)
      want[c] += p[c] / AX_EVAL_CROPS;
  }
  for (gint c = 0; c < N_CLASSES; c++)
    fail_unless (fabs (got[c] - want[c]) <= 1e-6, "class %d: multi-crop "
        "%.8f, its crops %.8f", c, got[c], want[c]);
  g_free (scaled);
  gst_buffer_unref (img);
}

GST_END_TEST;

/* dense and combined: combined is the mean of dense and multi-crop; two
 * scales are the mean of each; the results name the evaluation and the
 * scales; a frame the same size as Q = the input is one view. */
GST_START_TEST (test_dense_and_combined)
{
  gint w, hh, nv;
  GstBuffer *img = fixture_image (2, &w, &hh);
  float d[N_CLASSES], m[N_CLASSES], c[N_CLASSES], d2[N_CLASSES],
      d70[N_CLASSES];
  gchar *ev;

  classify_frame ("views=dense scales=80", gst_buffer_ref (img), w, hh, d,
      &nv, &ev);
  fail_unless_equals_int (nv, 2);
  fail_unless_equals_string (ev, "dense");
  g_free (ev);
  classify_frame ("views=multi-crop scales=80", gst_buffer_ref (img), w, hh,
      m, NULL, NULL);
  classify_frame ("views=combined scales=80", gst_buffer_ref (img), w, hh, c,
      &nv, &ev);
  fail_unless_equals_int (nv, AX_EVAL_CROPS + 2);
  fail_unless_equals_string (ev, "combined");
  g_free (ev);
  for (gint k = 0; k < N_CLASSES; k++)
    fail_unless (fabs (c[k] - 0.5 * (d[k] + m[k])) <= 1e-6, "combined");
  classify_frame ("views=dense scales=70", gst_buffer_ref (img), w, hh, d70,
      NULL, NULL);
  classify_frame ("views=dense scales=\"80, 70\"", gst_buffer_ref (img), w,
      hh, d2, &nv, NULL);
  fail_unless_equals_int (nv, 4);
  for (gint k = 0; k < N_CLASSES; k++)
    fail_unless (fabs (d2[k] - 0.5 * (d[k] + d70[k])) <= 1e-6, "scales");
  gst_buffer_unref (img);
}

GST_END_TEST;

GST_START_TEST (test_bad_scales)
{
  static const gchar *bad[][2] = { { "256;384", "256,384,512" },
  { "50", "at least" }, { "80,", "expected a number" }, { "0,5", "outside" } };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    GstElement *el = gst_element_factory_make ("alexnet-infer", NULL);
    g_object_set (el, "model", model_path, "views", 4, "scales", bad[i][0],
        NULL);
    check_start_fails_with (el, "scales", bad[i][1], NULL);
  }
}

GST_END_TEST;

static Suite *
alexnet_infer_suite (void)
{
  Suite *s = suite_create ("alexnet-infer");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  tcase_add_checked_fixture (tc, setup, teardown);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_center_matches_pytorch);
  tcase_add_test (tc, test_ten_crop_matches_pytorch);
  tcase_add_test (tc, test_simulated_gpus_match_pytorch);
  tcase_add_test (tc, test_no_cuda_falls_back_to_cpu);
  tcase_add_test (tc, test_ready_crop);
  tcase_add_test (tc, test_batch_holds_frames_until_full);
  tcase_add_test (tc, test_flush_drops_held_frames_keeps_caps);
  tcase_add_test (tc, test_live_source_runs_one_frame_at_a_time);
  tcase_add_test (tc, test_top_k_and_output_all_off);
  tcase_add_test (tc, test_labels_file_overrides);
  tcase_add_test (tc, test_bus_messages_and_results_file);
  tcase_add_test (tc, test_missing_truncated_mismatched_models);
  tcase_add_test (tc, test_width_divisor_from_shapes);
  tcase_add_test (tc, test_caps);
  tcase_add_test (tc, test_multi_crop_is_its_crops);
  tcase_add_test (tc, test_dense_and_combined);
  tcase_add_test (tc, test_bad_scales);
  return s;
}

GST_CHECK_MAIN (alexnet_infer);
