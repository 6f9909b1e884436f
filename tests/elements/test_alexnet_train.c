/* alexnet-train: GstHarness runs of a narrowed AlexNet on 67x67 synthetic
 * frames (labels checked, max-steps, checkpoint interval and the atomic
 * final checkpoint, resume equal to one long run, divergence); and a whole
 * pipeline from a folder of generated JPEGs with a few corrupt files that
 * must learn. The schedules as plain functions are tested with the
 * trainer (tests/unit/test_trainer.c). */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <turbojpeg.h>

#include "kernels/io/checkpoint.h"
#include "kernels/nn/net_checkpoint.h"
#include "kernels/util/rng.h"
#include "plugin/gstalexnetmeta.h"
#include "tests/gst_test_util.h"

#define SIZE 67
#define CLASSES 4
#define BATCH 8

/* Class colours: the classes differ in hue and in a stripe pattern. */
static const guint8 palette[CLASSES][3] = {
  {200, 40, 40}, {40, 180, 60}, {50, 60, 210}, {200, 190, 40},
};

/* Pixels of one image of class `cls` (w x h RGB, packed): the class colour
 * with random brightness, noise, and stripes whose direction depends on
 * the class. */
static void
draw_image (guint8 * px, gint w, gint h, gint stride, gint cls, ax_rng * rng)
{
  gint shift = (gint) ax_rng_below (rng, 60) - 30;
  gint phase = (gint) ax_rng_below (rng, 8);

  for (gint y = 0; y < h; y++)
    for (gint x = 0; x < w; x++) {
      gboolean stripe = ((cls & 1 ? x : y) + phase) / 4 % 2 == 0;
      for (gint c = 0; c < 3; c++) {
        gint v = palette[cls][c] + shift + (stripe ? 30 : -30) +
            (gint) ax_rng_below (rng, 41) - 20;
        px[y * stride + 3 * x + c] = (guint8) CLAMP (v, 0, 255);
      }
    }
}

/* A labelled SIZE x SIZE frame; class_index < -1: no label meta at all. */
static GstBuffer *
make_frame (gint cls, gint class_index, guint epoch, guint64 id, ax_rng * rng)
{
  GstVideoInfo info;
  GstMapInfo map;
  GstBuffer *buf;
  gchar *sid;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, SIZE, SIZE);
  buf = gst_buffer_new_and_alloc (GST_VIDEO_INFO_SIZE (&info));
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  draw_image (map.data, SIZE, SIZE, GST_VIDEO_INFO_PLANE_STRIDE (&info, 0),
      cls, rng);
  gst_buffer_unmap (buf, &map);
  if (class_index >= -1) {
    GstAlexnetLabelMeta *meta;
    sid = g_strdup_printf ("synthetic/%d/%" G_GUINT64_FORMAT ".rgb", cls, id);
    meta = gst_buffer_add_alexnet_label_meta (buf, class_index, NULL, sid);
    meta->epoch = epoch;
    meta->sample_index = id;
    g_free (sid);
  }
  return buf;
}

/* ---------------------------------------------------------------- */
/* harness runs */

typedef struct
{
  GstHarness *h;
  GstElement *el;
  GstBus *bus;
  ax_rng rng;
  guint64 pushed;
} Trainer;

static void
trainer_new (Trainer * t, const gchar * props)
{
  gchar *desc = g_strdup_printf ("alexnet-train input-size=%d "
      "width-divisor=16 batch-size=%d num-classes=%d init=xavier seed=7 "
      "log-interval=1 %s", SIZE, BATCH, CLASSES, props);
  gchar *caps = g_strdup_printf ("video/x-raw,format=RGB,width=%d,"
      "height=%d,framerate=0/1", SIZE, SIZE);

  t->el = gst_parse_launch (desc, NULL);
  fail_unless (t->el != NULL, "%s", desc);
  t->bus = gst_bus_new ();
  gst_element_set_bus (t->el, t->bus);
  t->h = gst_harness_new_with_element (t->el, "sink", NULL);
  gst_harness_set_src_caps_str (t->h, caps);
  ax_rng_seed (&t->rng, 1234);
  t->pushed = 0;
  g_free (caps);
  g_free (desc);
}

static void
trainer_free (Trainer * t)
{
  gst_harness_teardown (t->h);
  gst_element_set_bus (t->el, NULL);
  gst_object_unref (t->el);
  gst_object_unref (t->bus);
}

/* Pushes `n` labelled frames (classes in turn) of the trainer's sequence;
 * returns the first flow return that is not OK, or OK. */
static GstFlowReturn
push_frames (Trainer * t, guint n, guint epoch)
{
  for (guint i = 0; i < n; i++) {
    gint cls = (gint) (t->pushed % CLASSES);
    GstFlowReturn ret = gst_harness_push (t->h, make_frame (cls, cls, epoch,
            t->pushed, &t->rng));
    t->pushed++;
    if (ret != GST_FLOW_OK)
      return ret;
  }
  return GST_FLOW_OK;
}

/* The first error on the bus (NULL if none); free with g_error_free. */
static GError *
pop_error (GstBus * bus)
{
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  GError *err = NULL;

  if (msg == NULL)
    return NULL;
  gst_message_parse_error (msg, &err, NULL);
  gst_message_unref (msg);
  return err;
}

static guint64
ckpt_meta_u64 (const gchar * path, const gchar * key)
{
  ax_checkpoint *ck;
  char err[256];
  const char *v;
  guint64 r;

  fail_unless (ax_checkpoint_open (path, &ck, err, sizeof err) == AX_CKPT_OK,
      "%s", err);
  v = ax_checkpoint_meta (ck, key);
  fail_unless (v != NULL, "%s has no %s", path, key);
  r = g_ascii_strtoull (v, NULL, 10);
  ax_checkpoint_close (ck);
  return r;
}

/* Largest |a - b| / max |b| over every tensor of two checkpoints, which
 * must hold the same tensors (names, shapes). */
static gdouble
ckpt_max_diff (const gchar * pa, const gchar * pb, guint * n_tensors)
{
  ax_checkpoint *a, *b;
  char err[256];
  gdouble worst = 0;

  fail_unless (ax_checkpoint_open (pa, &a, err, sizeof err) == AX_CKPT_OK,
      "%s", err);
  fail_unless (ax_checkpoint_open (pb, &b, err, sizeof err) == AX_CKPT_OK,
      "%s", err);
  fail_unless_equals_int (ax_checkpoint_n_tensors (a),
      ax_checkpoint_n_tensors (b));
  *n_tensors = ax_checkpoint_n_tensors (a);
  for (size_t i = 0; i < ax_checkpoint_n_tensors (a); i++) {
    const ax_ckpt_tensor *ta = ax_checkpoint_tensor_at (a, i);
    const ax_ckpt_tensor *tb = ax_checkpoint_find (b, ta->name);
    gsize n = ta->bytes / sizeof (gfloat);
    gfloat *fa, *fb;
    gdouble diff = 0, scale = 0;

    fail_unless (tb != NULL, "%s lacks %s", pb, ta->name);
    fail_unless_equals_int (ta->bytes, tb->bytes);
    fail_unless (ta->dtype == AX_CKPT_F32);
    fa = g_memdup2 (ta->data, ta->bytes);
    fb = g_memdup2 (tb->data, tb->bytes);
    for (gsize k = 0; k < n; k++) {
      diff = MAX (diff, fabs ((gdouble) fa[k] - fb[k]));
      scale = MAX (scale, fabs ((gdouble) fb[k]));
    }
    if (scale > 0)
      worst = MAX (worst, diff / scale);
    g_free (fa);
    g_free (fb);
  }
  ax_checkpoint_close (a);
  ax_checkpoint_close (b);
  return worst;
}

static gchar *
make_tmpdir (void)
{
  gchar *dir = g_dir_make_tmp ("alexnet-train-XXXXXX", NULL);
  fail_unless (dir != NULL);
  return dir;
}

GST_START_TEST (test_caps)
{
  GstElement *el = gst_element_factory_make ("alexnet-train", NULL);
  GstPad *pad;
  GstCaps *caps;
  GstStructure *s;
  gint w = 0;

  fail_unless (el != NULL);
  g_object_set (el, "input-size", 99, NULL);
  pad = gst_element_get_static_pad (el, "sink");
  caps = gst_pad_query_caps (pad, NULL);
  fail_unless_equals_int (gst_caps_get_size (caps), 1);
  s = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_get_int (s, "width", &w));
  fail_unless_equals_int (w, 99);
  fail_unless_equals_string (gst_structure_get_string (s, "format"), "RGB");
  gst_caps_unref (caps);
  gst_object_unref (pad);
  gst_object_unref (el);
}

GST_END_TEST;

GST_START_TEST (test_label_out_of_range)
{
  Trainer t;
  GError *err;
  GstFlowReturn ret = GST_FLOW_OK;

  trainer_new (&t, "");
  for (guint i = 0; i < 3 && ret == GST_FLOW_OK; i++)
    ret = gst_harness_push (t.h, make_frame (0, 0, 0, i, &t.rng));
  fail_unless_equals_int (ret, GST_FLOW_OK);
  ret = gst_harness_push (t.h, make_frame (1, 9, 0, 77, &t.rng));
  fail_unless_equals_int (ret, GST_FLOW_ERROR);
  err = pop_error (t.bus);
  fail_unless (err != NULL);
  fail_unless (strstr (err->message, "synthetic/1/77.rgb") != NULL, "%s",
      err->message);
  fail_unless (strstr (err->message, "out of range") != NULL, "%s",
      err->message);
  fail_unless (strstr (err->message, "9") != NULL, "%s", err->message);
  g_error_free (err);
  trainer_free (&t);
}

GST_END_TEST;

GST_START_TEST (test_label_missing)
{
  Trainer t;
  GError *err;

  trainer_new (&t, "");
  fail_unless_equals_int (gst_harness_push (t.h, make_frame (0, 0, 0, 0,
              &t.rng)), GST_FLOW_OK);
  /* no meta at all, then a meta without a class */
  fail_unless_equals_int (gst_harness_push (t.h, make_frame (1, -2, 0, 1,
              &t.rng)), GST_FLOW_ERROR);
  err = pop_error (t.bus);
  fail_unless (err != NULL);
  fail_unless (strstr (err->message, "buffer 1") != NULL, "%s",
      err->message);
  fail_unless (strstr (err->message, "no label") != NULL, "%s",
      err->message);
  g_error_free (err);
  trainer_free (&t);

  trainer_new (&t, "");
  fail_unless_equals_int (gst_harness_push (t.h, make_frame (2, -1, 0, 5,
              &t.rng)), GST_FLOW_ERROR);
  err = pop_error (t.bus);
  fail_unless (err != NULL);
  fail_unless (strstr (err->message, "synthetic/2/5.rgb") != NULL, "%s",
      err->message);
  fail_unless (strstr (err->message, "no label") != NULL, "%s",
      err->message);
  g_error_free (err);
  trainer_free (&t);
}

GST_END_TEST;

GST_START_TEST (test_no_classes)
{
  Trainer t;
  GError *err;

  trainer_new (&t, "num-classes=0");
  fail_unless_equals_int (push_frames (&t, 1, 0), GST_FLOW_ERROR);
  err = pop_error (t.bus);
  fail_unless (err != NULL);
  fail_unless (strstr (err->message, "num-classes") != NULL, "%s",
      err->message);
  g_error_free (err);
  trainer_free (&t);
}

GST_END_TEST;

/* lr-schedule=linear over max-steps=4: the rate of step k (0-based) is
 * 0.01 (1 - k/4), read back from the progress messages (the rate of the
 * next step); without a budget the element refuses to start. */
GST_START_TEST (test_linear_schedule_element)
{
  Trainer t;
  GstMessage *msg;
  GError *err;
  guint n = 0;

  trainer_new (&t, "max-steps=4 lr-schedule=linear learning-rate=0.01");
  fail_unless_equals_int (push_frames (&t, 3 * BATCH, 0), GST_FLOW_OK);
  fail_unless_equals_int (push_frames (&t, BATCH, 0), GST_FLOW_EOS);
  while ((msg = gst_bus_pop (t.bus))) {
    const GstStructure *s = gst_message_get_structure (msg);
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (s, "alexnet-train")) {
      guint64 step = 0;
      gdouble lr = -1;
      fail_unless (gst_structure_get_uint64 (s, "step", &step));
      fail_unless (gst_structure_get_double (s, "learning-rate", &lr));
      fail_unless (fabs (lr - 0.01 * (1.0 - step / 4.0)) < 1e-12,
          "step %" G_GUINT64_FORMAT ": lr %g", step, lr);
      n++;
    }
    gst_message_unref (msg);
  }
  fail_unless_equals_int (n, 4);
  trainer_free (&t);

  trainer_new (&t, "lr-schedule=cosine");
  fail_unless_equals_int (push_frames (&t, 1, 0), GST_FLOW_ERROR);
  err = pop_error (t.bus);
  fail_unless (err != NULL);
  fail_unless (strstr (err->message, "max-steps or max-time") != NULL, "%s",
      err->message);
  g_error_free (err);
  trainer_free (&t);
}

GST_END_TEST;

/* Data-parallel training on "GPUs": the simulated CUDA module (its devices
 * are CPU backends) takes the element's CUDA path on any machine: a
 * replica per device, no fallback warning; replicas that do not divide the
 * batch are refused. */
GST_START_TEST (test_replicas_on_simulated_gpus)
{
  const gchar *sim = g_getenv ("AX_TEST_SIM_CUDA_MODULE");
  Trainer t;
  GstMessage *msg;
  GError *err;
  guint64 step = 0;

  fail_unless (sim != NULL, "AX_TEST_SIM_CUDA_MODULE is not set");
  /* each check test runs in its own process: the loader reads this once */
  g_setenv ("AX_CUDA_MODULE", sim, TRUE);
  g_setenv ("AX_SIM_CUDA_DEVICES", "2", TRUE);
  trainer_new (&t, "max-steps=2 backend=cuda replicas=2 dropout=0.5");
  fail_unless_equals_int (push_frames (&t, BATCH, 0), GST_FLOW_OK);
  fail_unless_equals_int (push_frames (&t, BATCH, 0), GST_FLOW_EOS);
  g_object_get (t.el, "step", &step, NULL);
  fail_unless_equals_int (step, 2);
  while ((msg = gst_bus_pop (t.bus))) {
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING,
        "a warning on a machine with (simulated) GPUs");
    gst_message_unref (msg);
  }
  trainer_free (&t);

  /* 3 replicas of a batch of 8 */
  trainer_new (&t, "backend=cuda replicas=3");
  fail_unless_equals_int (push_frames (&t, 1, 0), GST_FLOW_ERROR);
  err = pop_error (t.bus);
  fail_unless (err != NULL);
  fail_unless (strstr (err->message, "does not divide") != NULL, "%s",
      err->message);
  g_error_free (err);
  trainer_free (&t);

  /* 2 replicas on 1 GPU: NCCL needs one each */
  g_setenv ("AX_SIM_CUDA_DEVICES", "1", TRUE);
  trainer_new (&t, "backend=cuda replicas=2");
  fail_unless_equals_int (push_frames (&t, 1, 0), GST_FLOW_ERROR);
  err = pop_error (t.bus);
  fail_unless (err != NULL);
  g_error_free (err);
  trainer_free (&t);
}

GST_END_TEST;

/* max-steps: the batch that reaches it returns EOS; the final checkpoint
 * holds that step; progress messages and the metrics file. */
GST_START_TEST (test_max_steps_and_metrics)
{
  gchar *dir = make_tmpdir ();
  gchar *ckpt = g_build_filename (dir, "m.safetensors", NULL);
  gchar *metrics = g_build_filename (dir, "m.jsonl", NULL);
  gchar *props = g_strdup_printf ("max-steps=3 checkpoint=%s "
      "metrics-location=%s backend=cuda", ckpt, metrics);
  Trainer t;
  GstMessage *msg;
  guint n_progress = 0, n_lines = 0;
  gboolean done = FALSE, warned = FALSE;
  gchar *text, **lines;
  guint64 step = 0;

  trainer_new (&t, props);
  fail_unless_equals_int (push_frames (&t, 2 * BATCH, 0), GST_FLOW_OK);
  fail_unless_equals_int (push_frames (&t, BATCH, 0), GST_FLOW_EOS);
  fail_unless_equals_int (t.pushed, 3 * BATCH);
  /* more data is refused */
  fail_unless_equals_int (push_frames (&t, 1, 0), GST_FLOW_EOS);
  fail_unless_equals_int (ckpt_meta_u64 (ckpt, "step"), 3);
  g_object_get (t.el, "step", &step, NULL);
  fail_unless_equals_int (step, 3);

  while ((msg = gst_bus_pop (t.bus))) {
    const GstStructure *s = gst_message_get_structure (msg);
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (s, "alexnet-train")) {
      gdouble loss = -1, lr = 0, ips = -1;
      fail_unless (gst_structure_get_double (s, "loss", &loss));
      fail_unless (gst_structure_get_double (s, "learning-rate", &lr));
      fail_unless (gst_structure_get_double (s, "images-per-second", &ips));
      fail_unless (gst_structure_has_field (s, "train-top1-error"));
      fail_unless (gst_structure_has_field (s, "train-top5-error"));
      fail_unless (gst_structure_has_field (s, "val-top1-error"));
      fail_unless (gst_structure_has_field (s, "time-left"));
      fail_unless (gst_structure_has_field (s, "epoch"));
      fail_unless (loss > 0 && isfinite (loss));
      fail_unless_equals_float (lr, 0.01);
      fail_unless (ips > 0);
      n_progress++;
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (s, "alexnet-train-done")) {
      done = TRUE;
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
      GError *err = NULL;
      gst_message_parse_warning (msg, &err, NULL);
      warned |= strstr (err->message, "CUDA") != NULL;
      g_error_free (err);
    }
    gst_message_unref (msg);
  }
  /* log-interval=1: one per step */
  fail_unless_equals_int (n_progress, 3);
  fail_unless (done);
  fail_unless (warned, "backend=cuda without CUDA did not warn");

  fail_unless (g_file_get_contents (metrics, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (gchar ** l = lines; *l; l++) {
    JsonParser *p;
    JsonObject *o;
    if (**l == '\0')
      continue;
    p = json_parser_new ();
    fail_unless (json_parser_load_from_data (p, *l, -1, NULL), "%s", *l);
    o = json_node_get_object (json_parser_get_root (p));
    fail_unless_equals_string (json_object_get_string_member (o, "type"),
        "train");
    fail_unless_equals_int (json_object_get_int_member (o, "step"),
        n_lines + 1);
    fail_unless (json_object_get_double_member (o, "loss") > 0);
    fail_unless (json_object_has_member (o, "images_per_second"));
    fail_unless (json_object_has_member (o, "learning_rate"));
    g_object_unref (p);
    n_lines++;
  }
  fail_unless_equals_int (n_lines, 3);
  g_strfreev (lines);
  g_free (text);

  trainer_free (&t);
  remove_tree (dir);
  g_free (props);
  g_free (metrics);
  g_free (ckpt);
  g_free (dir);
}

GST_END_TEST;

/* Files in `dir` other than `keep` (a temporary file left behind). */
static guint
count_other_files (const gchar * dir, const gchar * keep)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint n = 0;

  while ((name = g_dir_read_name (d)))
    if (strcmp (name, keep) != 0)
      n++;
  g_dir_close (d);
  return n;
}

/* checkpoint-interval=3: a checkpoint at step 3 while training goes on;
 * EOS writes the final one (step 5), with no temporary file left, and
 * the EOS message comes after it. The partial batch is left out. */
GST_START_TEST (test_checkpoint_interval_and_eos)
{
  gchar *dir = make_tmpdir ();
  gchar *ckpt = g_build_filename (dir, "c.safetensors", NULL);
  gchar *props = g_strdup_printf ("checkpoint-interval=3 checkpoint=%s",
      ckpt);
  Trainer t;
  guint64 step = 0;
  GstMessage *msg;
  gint64 deadline;

  trainer_new (&t, props);
  fail_unless_equals_int (push_frames (&t, 4 * BATCH, 0), GST_FLOW_OK);
  /* wait for the worker to finish step 4 */
  deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;
  do {
    g_usleep (10000);
    g_object_get (t.el, "step", &step, NULL);
  } while (step < 4 && g_get_monotonic_time () < deadline);
  fail_unless_equals_int (step, 4);
  fail_unless (g_file_test (ckpt, G_FILE_TEST_EXISTS));
  fail_unless_equals_int (ckpt_meta_u64 (ckpt, "step"), 3);

  fail_unless_equals_int (push_frames (&t, BATCH + 3, 0), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (t.h, gst_event_new_eos ()));
  fail_unless_equals_int (ckpt_meta_u64 (ckpt, "step"), 5);
  fail_unless_equals_int (ckpt_meta_u64 (ckpt, "epoch"), 1);
  fail_unless_equals_int (count_other_files (dir, "c.safetensors"), 0);
  msg = gst_bus_pop_filtered (t.bus, GST_MESSAGE_EOS);
  fail_unless (msg != NULL, "no EOS on the bus");
  gst_message_unref (msg);
  fail_unless (pop_error (t.bus) == NULL);

  trainer_free (&t);
  remove_tree (dir);
  g_free (props);
  g_free (ckpt);
  g_free (dir);
}

GST_END_TEST;

/* N steps, stop, resume for M steps == N + M steps in one run. */
static void
run_steps (const gchar * extra, guint skip_batches, guint batches,
    guint64 max_steps)
{
  Trainer t;
  gchar *props = g_strdup_printf ("%s max-steps=%" G_GUINT64_FORMAT
      " dropout=0.5", extra, max_steps);
  GstFlowReturn ret = GST_FLOW_OK;

  trainer_new (&t, props);
  /* the same frames as a run that pushed the first batches too */
  for (guint i = 0; i < skip_batches * BATCH; i++)
    gst_buffer_unref (make_frame (i % CLASSES, i % CLASSES, 0, i, &t.rng));
  t.pushed = skip_batches * BATCH;
  for (guint b = 0; b < batches && ret == GST_FLOW_OK; b++)
    ret = push_frames (&t, BATCH, 0);
  fail_unless_equals_int (ret, GST_FLOW_EOS);
  fail_unless (pop_error (t.bus) == NULL);
  trainer_free (&t);
  g_free (props);
}

static void
check_resume (const gchar * towers)
{
  gchar *dir = make_tmpdir ();
  gchar *one = g_build_filename (dir, "one.safetensors", NULL);
  gchar *part = g_build_filename (dir, "part.safetensors", NULL);
  gchar *resumed = g_build_filename (dir, "resumed.safetensors", NULL);
  gchar *props;
  guint n_tensors = 0;
  gdouble diff;
  const guint N = 3, M = 4;

  props = g_strdup_printf ("%s checkpoint=%s", towers, one);
  run_steps (props, 0, N + M, N + M);
  g_free (props);
  props = g_strdup_printf ("%s checkpoint=%s", towers, part);
  run_steps (props, 0, N, N);
  g_free (props);
  fail_unless_equals_int (ckpt_meta_u64 (part, "step"), N);
  /* the resumed run's other properties differ on purpose: the checkpoint
   * decides */
  props = g_strdup_printf ("%s resume=%s checkpoint=%s learning-rate=0.5 "
      "init=paper seed=99 width-divisor=1", towers, part, resumed);
  run_steps (props, N, M, N + M);
  g_free (props);

  fail_unless_equals_int (ckpt_meta_u64 (resumed, "step"), N + M);
  diff = ckpt_max_diff (one, resumed, &n_tensors);
  /* 16 parameters and 16 momentum buffers */
  fail_unless_equals_int (n_tensors, 32);
  GST_INFO ("%s: resumed vs one run: max relative difference %g", towers,
      diff);
  /* bitwise: the same operations on the same numbers */
  fail_unless (diff == 0.0, "resumed run differs: %g", diff);
  /* and the partial run really is different */
  diff = ckpt_max_diff (one, part, &n_tensors);
  fail_unless (diff > 1e-4, "%g", diff);

  remove_tree (dir);
  g_free (one);
  g_free (part);
  g_free (resumed);
  g_free (dir);
}

GST_START_TEST (test_resume_equals_one_run)
{
  check_resume ("towers=2");
  check_resume ("towers=1");
}

GST_END_TEST;

/* A learning rate far too high: the loss becomes NaN or infinite; the
 * error says so and names the checkpoint it started from, which is left
 * as it was. */
GST_START_TEST (test_diverges)
{
  gchar *dir = make_tmpdir ();
  gchar *ckpt = g_build_filename (dir, "good.safetensors", NULL);
  gchar *props, *before, *after;
  gsize len_before, len_after;
  Trainer t;
  GError *err = NULL;
  GstFlowReturn ret = GST_FLOW_OK;
  GstMessage *msg;

  props = g_strdup_printf ("checkpoint=%s max-steps=2", ckpt);
  run_steps (props, 0, 2, 2);
  g_free (props);
  fail_unless (g_file_get_contents (ckpt, &before, &len_before, NULL));

  props = g_strdup_printf ("init-from=%s checkpoint=%s "
      "checkpoint-interval=1000 learning-rate=1e30", ckpt, ckpt);
  trainer_new (&t, props);
  for (guint i = 0; i < 10 && ret == GST_FLOW_OK; i++)
    ret = push_frames (&t, BATCH, 0);
  if (ret == GST_FLOW_OK)
    gst_harness_push_event (t.h, gst_event_new_eos ());
  msg = gst_bus_pop_filtered (t.bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error after diverging");
  gst_message_parse_error (msg, &err, NULL);
  gst_message_unref (msg);
  GST_INFO ("%s", err->message);
  fail_unless (strstr (err->message, "diverged") != NULL, "%s",
      err->message);
  fail_unless (strstr (err->message, "NaN") != NULL
      || strstr (err->message, "inf") != NULL, "%s", err->message);
  fail_unless (strstr (err->message, ckpt) != NULL, "%s", err->message);
  fail_unless (strstr (err->message, "learning rate 1e+30") != NULL, "%s",
      err->message);
  g_error_free (err);
  trainer_free (&t);

  fail_unless (g_file_get_contents (ckpt, &after, &len_after, NULL));
  fail_unless_equals_int (len_before, len_after);
  fail_unless (memcmp (before, after, len_before) == 0,
      "the last good checkpoint was overwritten");

  remove_tree (dir);
  g_free (before);
  g_free (after);
  g_free (props);
  g_free (ckpt);
  g_free (dir);
}

GST_END_TEST;

/* Epochs from the label meta; the step schedule divides the lr after
 * every epoch, at most lr-drops times; a validation message per epoch. */
GST_START_TEST (test_epochs_step_schedule)
{
  Trainer t;
  GstMessage *msg;
  gdouble lrs[8];
  guint n = 0;
  guint64 epoch = 0;

  trainer_new (&t, "lr-schedule=step lr-step-epochs=1 lr-drops=2 "
      "learning-rate=0.01");
  for (guint e = 0; e < 4; e++)
    fail_unless_equals_int (push_frames (&t, 2 * BATCH + 1, e), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (t.h, gst_event_new_eos ()));
  while ((msg = gst_bus_pop (t.bus))) {
    const GstStructure *s = gst_message_get_structure (msg);
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (s, "alexnet-train-validation")) {
      fail_unless (n < G_N_ELEMENTS (lrs));
      fail_unless (gst_structure_get_double (s, "learning-rate", &lrs[n]));
      n++;
    }
    gst_message_unref (msg);
  }
  fail_unless_equals_int (n, 4);
  fail_unless (fabs (lrs[0] - 1e-3) < 1e-12, "%g", lrs[0]);
  fail_unless (fabs (lrs[1] - 1e-4) < 1e-12, "%g", lrs[1]);
  fail_unless (fabs (lrs[2] - 1e-4) < 1e-12, "%g", lrs[2]);
  fail_unless (fabs (lrs[3] - 1e-4) < 1e-12, "%g", lrs[3]);
  g_object_get (t.el, "epoch", &epoch, NULL);
  fail_unless_equals_int (epoch, 4);
  trainer_free (&t);
}

GST_END_TEST;


/* The schedule's state travels in the checkpoint: after two drops of two
 * allowed, a resumed run does not drop again. */
GST_START_TEST (test_resume_keeps_schedule)
{
  gchar *dir = make_tmpdir ();
  gchar *ckpt = g_build_filename (dir, "s.safetensors", NULL);
  gchar *props;
  Trainer t;
  GstMessage *msg;
  gdouble lr = 0;
  guint n = 0;

  props = g_strdup_printf ("lr-schedule=step lr-step-epochs=1 lr-drops=2 "
      "checkpoint=%s", ckpt);
  trainer_new (&t, props);
  for (guint e = 0; e < 2; e++)
    fail_unless_equals_int (push_frames (&t, BATCH, e), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (t.h, gst_event_new_eos ()));
  trainer_free (&t);
  g_free (props);
  fail_unless_equals_int (ckpt_meta_u64 (ckpt, "epoch"), 2);

  props = g_strdup_printf ("lr-schedule=step lr-step-epochs=1 lr-drops=2 "
      "resume=%s", ckpt);
  trainer_new (&t, props);
  for (guint e = 0; e < 2; e++)
    fail_unless_equals_int (push_frames (&t, BATCH, e), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (t.h, gst_event_new_eos ()));
  while ((msg = gst_bus_pop (t.bus))) {
    const GstStructure *s = gst_message_get_structure (msg);
    guint64 epoch = 0;
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (s, "alexnet-train-validation")) {
      fail_unless (gst_structure_get_double (s, "learning-rate", &lr));
      fail_unless (gst_structure_get_uint64 (s, "epoch", &epoch));
      fail_unless_equals_int (epoch, 3 + n);
      fail_unless (fabs (lr - 1e-4) < 1e-12, "%g", lr);
      n++;
    }
    gst_message_unref (msg);
  }
  fail_unless_equals_int (n, 2);
  trainer_free (&t);
  remove_tree (dir);
  g_free (props);
  g_free (ckpt);
  g_free (dir);
}

GST_END_TEST;

/* max-time: stops cleanly (EOS flow, final checkpoint) after the budget. */
GST_START_TEST (test_max_time)
{
  gchar *dir = make_tmpdir ();
  gchar *ckpt = g_build_filename (dir, "t.safetensors", NULL);
  gchar *props = g_strdup_printf ("max-time=0.3 checkpoint=%s", ckpt);
  Trainer t;
  GstFlowReturn ret = GST_FLOW_OK;
  gint64 t0 = g_get_monotonic_time ();
  guint64 step = 0;

  trainer_new (&t, props);
  while (ret == GST_FLOW_OK
      && g_get_monotonic_time () - t0 < 30 * G_TIME_SPAN_SECOND)
    ret = push_frames (&t, 1, 0);
  fail_unless_equals_int (ret, GST_FLOW_EOS);
  fail_unless (g_get_monotonic_time () - t0 >= 300000);
  g_object_get (t.el, "step", &step, NULL);
  fail_unless (step > 0);
  fail_unless_equals_int (ckpt_meta_u64 (ckpt, "step"), step);
  fail_unless (pop_error (t.bus) == NULL);
  trainer_free (&t);
  remove_tree (dir);
  g_free (props);
  g_free (ckpt);
  g_free (dir);
}

GST_END_TEST;

/* A validation pipeline that cannot be built is an error that says so. */
GST_START_TEST (test_bad_val_pipeline)
{
  Trainer t;
  GError *err;
  GstFlowReturn ret = GST_FLOW_OK;

  trainer_new (&t, "val-pipeline=\"no-such-element\"");
  for (guint i = 0; i < 4 && ret == GST_FLOW_OK; i++)
    ret = push_frames (&t, BATCH, i);
  /* the error is posted by the worker; EOS waits for it */
  gst_harness_push_event (t.h, gst_event_new_eos ());
  err = pop_error (t.bus);
  fail_unless (err != NULL);
  fail_unless (strstr (err->message, "validation pipeline") != NULL, "%s",
      err->message);
  g_error_free (err);
  trainer_free (&t);
}

GST_END_TEST;

/* ---------------------------------------------------------------- */
/* a whole pipeline from JPEG files */

static void
write_jpeg_set (const gchar * root, guint per_class, guint seed,
    guint corrupt)
{
  tjhandle tj = tjInitCompress ();
  ax_rng rng;
  const gint w = 80, h = 72;
  guint8 *px = g_malloc ((gsize) w * h * 3);

  ax_rng_seed (&rng, seed);
  for (gint c = 0; c < CLASSES; c++) {
    gchar *cdir = g_strdup_printf ("%s/class%d", root, c);
    fail_unless (g_mkdir_with_parents (cdir, 0755) == 0);
    for (guint i = 0; i < per_class; i++) {
      unsigned char *jpeg = NULL;
      unsigned long len = 0;
      gchar *path = g_strdup_printf ("%s/%03u.jpg", cdir, i);
      draw_image (px, w, h, 3 * w, c, &rng);
      fail_unless (tjCompress2 (tj, px, w, 0, h, TJPF_RGB, &jpeg, &len,
              TJSAMP_444, 90, 0) == 0);
      fail_unless (g_file_set_contents (path, (gchar *) jpeg, len, NULL));
      tjFree (jpeg);
      g_free (path);
    }
    if ((guint) c < corrupt) {
      gchar *path = g_strdup_printf ("%s/corrupt.jpg", cdir);
      fail_unless (g_file_set_contents (path, "\xff\xd8\xff\xe0 not a jpeg",
              -1, NULL));
      g_free (path);
    }
    g_free (cdir);
  }
  g_free (px);
  tjDestroy (tj);
}

/* The lines of an alexnet-infer results file: how many, and (*wrong) how
 * many whose first class is not the folder the image came from (the id is
 * the path: .../val/class2/007.jpg); `check` (may be NULL) sees each. */
static guint
count_wrong (const gchar * results, void (*check) (JsonObject * o),
    guint * wrong)
{
  gchar *text, **lines;
  guint n = 0;

  *wrong = 0;
  fail_unless (g_file_get_contents (results, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (gchar ** l = lines; *l; l++) {
    JsonParser *p;
    JsonObject *o, *top;
    gchar *cls;
    if (**l == '\0')
      continue;
    p = json_parser_new ();
    fail_unless (json_parser_load_from_data (p, *l, -1, NULL), "%s", *l);
    o = json_node_get_object (json_parser_get_root (p));
    if (check)
      check (o);
    top = json_array_get_object_element (json_object_get_array_member (o,
            "top_k"), 0);
    cls = g_path_get_basename (g_path_get_dirname
        (json_object_get_string_member (o, "id")));
    *wrong += strcmp (cls, json_object_get_string_member (top, "label")) != 0;
    n++;
    g_free (cls);
    g_object_unref (p);
  }
  g_strfreev (lines);
  g_free (text);
  return n;
}

/* A result of views=multi-crop scales=32,40 with the VGG checkpoint. */
static void
check_vgg_result (JsonObject * o)
{
  JsonArray *scales = json_object_get_array_member (o, "scales");
  fail_unless_equals_string (json_object_get_string_member (o, "evaluation"),
      "multi-crop");
  fail_unless_equals_string (json_object_get_string_member (o, "model"),
      "vgg-a-bn");
  fail_unless_equals_int (json_object_get_int_member (o, "views"), 100);
  fail_unless (json_array_get_length (scales) == 2
      && json_array_get_int_element (scales, 1) == 40);
}

GST_START_TEST (test_pipeline_learns)
{
  gchar *dir = make_tmpdir ();
  gchar *train = g_build_filename (dir, "train", NULL);
  gchar *val = g_build_filename (dir, "val", NULL);
  gchar *ckpt = g_build_filename (dir, "final.safetensors", NULL);
  gchar *metrics = g_build_filename (dir, "metrics.jsonl", NULL);
  gchar *desc;
  GstElement *pipeline, *decode;
  GstBus *bus;
  GstMessage *msg;
  GError *err = NULL;
  gdouble first_val = -1, last_val = -1, last_val5 = -1;
  guint n_val = 0, n_progress = 0, n_train_msgs = 0;
  guint64 skipped = 0;
  gint64 t0 = g_get_monotonic_time ();
  gboolean eos = FALSE;

  write_jpeg_set (train, 48, 1, 2);
  write_jpeg_set (val, 16, 2, 0);
  /* dropout off and a constant learning rate: in a run of 72 steps the
   * noise of dropout makes the held-out error jump between epochs (final
   * error 0 to 0.5 over six seeds with the defaults, 0 to 0.016 over
   * twelve seeds like this) */
  desc = g_strdup_printf ("dataset-src location=%s shuffle=true epochs=6 ! "
      "decode name=dec ! resize-256 size=76 ! random-crop-flip size=%d seed=3 "
      "! alexnet-train name=train input-size=%d width-divisor=8 "
      "batch-size=16 init=xavier seed=1 learning-rate=0.01 dropout=0 "
      "lr-schedule=constant log-interval=4 val-location=%s checkpoint=%s "
      "metrics-location=%s", train, SIZE, SIZE, val, ckpt, metrics);
  pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL, "%s", err ? err->message : desc);
  bus = gst_element_get_bus (pipeline);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  while (!eos && (msg = gst_bus_timed_pop (bus, 120 * GST_SECOND))) {
    const GstStructure *s = gst_message_get_structure (msg);
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_ERROR:
        gst_message_parse_error (msg, &err, NULL);
        fail ("error: %s", err->message);
        break;
      case GST_MESSAGE_EOS:
        eos = TRUE;
        break;
      case GST_MESSAGE_PROGRESS:
        n_progress++;
        break;
      case GST_MESSAGE_ELEMENT:
        if (gst_structure_has_name (s, "alexnet-train-validation")) {
          guint64 images = 0;
          fail_unless (gst_structure_get_uint64 (s, "images", &images));
          fail_unless_equals_int (images, 16 * CLASSES);
          gst_structure_get_double (s, "val-top1-error", &last_val);
          gst_structure_get_double (s, "val-top5-error", &last_val5);
          if (first_val < 0)
            first_val = last_val;
          n_val++;
        } else if (gst_structure_has_name (s, "alexnet-train")) {
          n_train_msgs++;
        }
        break;
      default:
        break;
    }
    gst_message_unref (msg);
  }
  fail_unless (eos, "no EOS");
  decode = gst_bin_get_by_name (GST_BIN (pipeline), "dec");
  g_object_get (decode, "skipped", &skipped, NULL);
  gst_object_unref (decode);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  GST_INFO ("%.1f s; validation top-1 error %.3f after the first epoch, "
      "%.3f (top-5 %.3f) after the last; %" G_GUINT64_FORMAT " skipped",
      (g_get_monotonic_time () - t0) / 1e6, first_val, last_val, last_val5,
      skipped);
  g_print ("test_pipeline_learns: %.1f s, val top-1 error %.3f -> %.3f, "
      "skipped %" G_GUINT64_FORMAT "\n", (g_get_monotonic_time () - t0) / 1e6,
      first_val, last_val, skipped);

  /* the corrupt files were skipped (6 epochs x 2 files) */
  fail_unless_equals_int (skipped, 12);
  fail_unless_equals_int (n_val, 6);
  fail_unless (n_train_msgs > 0);
  fail_unless (n_progress > 0, "no GST_MESSAGE_PROGRESS");
  /* chance is 0.75 with 4 classes */
  fail_unless (last_val < 0.25, "held-out top-1 error %.3f", last_val);
  fail_unless (g_file_test (ckpt, G_FILE_TEST_EXISTS));
  /* 6 epochs x (192 / 16) steps */
  fail_unless_equals_int (ckpt_meta_u64 (ckpt, "step"), 72);
  fail_unless_equals_int (ckpt_meta_u64 (ckpt, "epoch"), 6);

  gst_object_unref (bus);
  gst_object_unref (pipeline);

  /* alexnet-infer with the final checkpoint (its normalisation, its
   * narrowed architecture) finds the same error on the held-out set */
  {
    gchar *results = g_build_filename (dir, "results.jsonl", NULL);
    gchar *error;
    guint n = 0, wrong = 0;

    g_free (desc);
    desc = g_strdup_printf ("dataset-src location=%s ! decode ! "
        "alexnet-infer model=%s results-location=%s ! fakesink", val, ckpt,
        results);
    error = run_pipeline (desc, NULL, NULL, NULL);
    fail_unless (error == NULL, "%s: %s", desc, error);
    n = count_wrong (results, NULL, &wrong);
    g_free (results);
    fail_unless_equals_int (n, 16 * CLASSES);
    fail_unless (fabs ((gdouble) wrong / n - last_val) < 1e-9,
        "alexnet-infer: error %g, alexnet-train's validation %g",
        (gdouble) wrong / n, last_val);
  }

  remove_tree (dir);
  g_free (desc);
  g_free (metrics);
  g_free (ckpt);
  g_free (val);
  g_free (train);
  g_free (dir);
}

GST_END_TEST;

/* A narrowed VGG (A with batch norm, widths / 8, 32x32) learns the four
 * classes through a pipeline with the VGG paper's scale jittering (the
 * whole image rescaled to a shorter side drawn from [32, 48] per image,
 * random crops and mirrors), and alexnet-infer evaluates the checkpoint as
 * the paper does (multi-crop at two scales), saying so in the results. */
GST_START_TEST (test_vgg_pipeline_learns)
{
  gchar *dir = make_tmpdir ();
  gchar *train = g_build_filename (dir, "train", NULL);
  gchar *val = g_build_filename (dir, "val", NULL);
  gchar *ckpt = g_build_filename (dir, "vgg.safetensors", NULL);
  gchar *results = g_build_filename (dir, "results.jsonl", NULL);
  gchar *desc, *error;
  gdouble last_val = -1;
  guint n = 0, wrong = 0;
  gint64 t0 = g_get_monotonic_time ();

  write_jpeg_set (train, 48, 1, 0);
  write_jpeg_set (val, 16, 2, 0);
  desc = g_strdup_printf ("dataset-src location=%s shuffle=true epochs=12 ! "
      "decode ! resize-256 mode=isotropic scale-min=32 scale-max=48 seed=2 ! "
      "random-crop-flip size=32 seed=3 ! alexnet-train name=train "
      "arch=vgg11_bn input-size=32 width-divisor=8 batch-size=16 "
      "init=xavier seed=1 learning-rate=0.01 dropout=0 lr-schedule=constant "
      "val-location=%s checkpoint=%s", train, val, ckpt);
  error = run_pipeline (desc, NULL, NULL, NULL);
  fail_unless (error == NULL, "%s: %s", desc, error);
  fail_unless_equals_int (ckpt_meta_u64 (ckpt, "step"), 12 * 48 * CLASSES
      / 16);
  {
    ax_net_checkpoint_info info;
    char err[256];
    fail_unless (ax_net_checkpoint_read_info (ckpt, &info, err, sizeof err)
        == AX_OK, "%s", err);
    fail_unless_equals_string (info.arch, "vgg-a-bn");
    ax_net_checkpoint_info_clear (&info);
  }

  g_free (desc);
  desc = g_strdup_printf ("dataset-src location=%s ! decode ! alexnet-infer "
      "model=%s views=multi-crop scales=32,40 results-location=%s ! "
      "fakesink", val, ckpt, results);
  error = run_pipeline (desc, NULL, NULL, NULL);
  fail_unless (error == NULL, "%s: %s", desc, error);
  n = count_wrong (results, check_vgg_result, &wrong);
  last_val = n ? (gdouble) wrong / n : 1.0;
  g_print ("test_vgg_pipeline_learns: %.1f s, held-out top-1 error %.3f "
      "(multi-crop, Q = 32, 40)\n", (g_get_monotonic_time () - t0) / 1e6,
      last_val);
  fail_unless_equals_int (n, 16 * CLASSES);
  /* chance is 0.75 with 4 classes */
  fail_unless (last_val < 0.25, "held-out top-1 error %.3f", last_val);
  remove_tree (dir);
  g_free (results);
  g_free (desc);
  g_free (ckpt);
  g_free (val);
  g_free (train);
  g_free (dir);
}

GST_END_TEST;

static Suite *
alexnet_train_suite (void)
{
  Suite *s = suite_create ("alexnet-train");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_linear_schedule_element);
  tcase_add_test (tc, test_replicas_on_simulated_gpus);
  tcase_add_test (tc, test_caps);
  tcase_add_test (tc, test_label_out_of_range);
  tcase_add_test (tc, test_label_missing);
  tcase_add_test (tc, test_no_classes);
  tcase_add_test (tc, test_max_steps_and_metrics);
  tcase_add_test (tc, test_checkpoint_interval_and_eos);
  tcase_add_test (tc, test_resume_equals_one_run);
  tcase_add_test (tc, test_diverges);
  tcase_add_test (tc, test_epochs_step_schedule);
  tcase_add_test (tc, test_resume_keeps_schedule);
  tcase_add_test (tc, test_max_time);
  tcase_add_test (tc, test_bad_val_pipeline);
  tcase_add_test (tc, test_vgg_pipeline_learns);
  tcase_add_test (tc, test_pipeline_learns);
  return s;
}

GST_CHECK_MAIN (alexnet_train);
