/* Faults around alexnet-train's checkpoints: the temporary files of a dead
 * writer removed beside the checkpoint (a live writer's kept), and what
 * fails late checked before the first step (hyper-parameters, unwritable
 * folders, a file-size limit below one checkpoint) with the previous
 * checkpoint left byte-identical. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/io/checkpoint.h"
#include "plugin/gstalexnetmeta.h"
#include "tests/gst_test_util.h"

#define SIZE 67
#define CLASSES 4
#define BATCH 4

/* ---------------------------------------------------------------- */
/* training runs in forked children: each starts from this process, which
 * runs no GStreamer pipeline and no compute threads itself, so that a
 * child never inherits a thread pool; a child says how it went by its exit
 * status. */

enum
{
  CHILD_OK = 0,
  CHILD_NO_ELEMENT = 10,
  CHILD_FLOW = 11,              /* an unexpected flow return */
  CHILD_NO_ERROR = 12,          /* a refusal expected, none came */
  CHILD_WRONG_ERROR = 13,       /* it did not say what was expected */
  CHILD_TRAINED = 14,           /* a step ran before the refusal */
  CHILD_SETUP = 15,
};

/* A labelled SIZE x SIZE frame of class cls: its colour and some noise. */
static GstBuffer *
make_frame (gint cls, guint64 i)
{
  static const guint8 colour[CLASSES][3] = {
    {200, 40, 40}, {40, 180, 60}, {50, 60, 210}, {200, 190, 40},
  };
  GstVideoInfo info;
  GstMapInfo map;
  GstBuffer *buf;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, SIZE, SIZE);
  buf = gst_buffer_new_and_alloc (GST_VIDEO_INFO_SIZE (&info));
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (gsize k = 0; k < map.size; k++)
    map.data[k] = (guint8) (colour[cls][k % 3] + (k * 7 + i * 13) % 31);
  gst_buffer_unmap (buf, &map);
  gst_buffer_add_alexnet_label_meta (buf, cls, NULL, NULL);
  return buf;
}

typedef struct
{
  GstHarness *h;
  GstElement *el;
  GstBus *bus;
} Run;

/* In a child: the element with `props` in a harness, PLAYING. */
static gboolean
run_new (Run * r, const gchar * props)
{
  gchar *desc = g_strdup_printf ("alexnet-train input-size=%d "
      "width-divisor=16 batch-size=%d num-classes=%d init=xavier seed=7 "
      "log-interval=1000 %s", SIZE, BATCH, CLASSES, props);

  r->el = gst_parse_launch (desc, NULL);
  g_free (desc);
  if (r->el == NULL)
    return FALSE;
  r->bus = gst_bus_new ();
  gst_element_set_bus (r->el, r->bus);
  r->h = gst_harness_new_with_element (r->el, "sink", NULL);
  gst_harness_set_src_caps_str (r->h, "video/x-raw,format=RGB,width=67,"
      "height=67,framerate=0/1");
  return TRUE;
}

/* Pushes frames until the element stops taking them (max-steps: EOS). */
static GstFlowReturn
run_push (Run * r, guint64 max_frames)
{
  GstFlowReturn ret = GST_FLOW_OK;

  for (guint64 i = 0; i < max_frames && ret == GST_FLOW_OK; i++)
    ret = gst_harness_push (r->h, make_frame ((gint) (i % CLASSES), i));
  return ret;
}

/* The first error's message on the run's bus, or NULL (g_free it). */
static gchar *
run_error (Run * r)
{
  GstMessage *msg = gst_bus_pop_filtered (r->bus, GST_MESSAGE_ERROR);
  GError *err = NULL;
  gchar *text;

  if (msg == NULL)
    return NULL;
  gst_message_parse_error (msg, &err, NULL);
  text = g_strdup (err->message);
  g_error_free (err);
  gst_message_unref (msg);
  return text;
}

/* Runs `child` in a forked process; returns its wait status. */
static gint
in_child (gint (*child) (gpointer), gpointer data)
{
  pid_t pid = fork ();
  gint status = 0;

  fail_unless (pid >= 0, "fork: %s", g_strerror (errno));
  if (pid == 0)
    _exit (child (data));
  fail_unless (waitpid (pid, &status, 0) == pid);
  return status;
}

#define fail_unless_child_ok(status, what) \
  fail_unless (WIFEXITED (status) && WEXITSTATUS (status) == CHILD_OK, \
      "%s: child %s %d", what, WIFEXITED (status) ? "exited with" : \
      "killed by signal", WIFEXITED (status) ? WEXITSTATUS (status) : \
      WTERMSIG (status))

/* A child that trains to max-steps and writes its checkpoint. */
static gint
train_child (gpointer props)
{
  Run r;
  GstFlowReturn ret;
  gchar *err;

  if (!run_new (&r, props))
    return CHILD_NO_ELEMENT;
  ret = run_push (&r, 100000);
  err = run_error (&r);
  if (err)
    g_printerr ("train_child: %s\n", err);
  gst_harness_teardown (r.h);
  return ret == GST_FLOW_EOS && err == NULL ? CHILD_OK : CHILD_FLOW;
}

typedef struct
{
  const gchar *props;
  const gchar *needle;          /* the refusal must contain it */
  struct rlimit fsize;          /* RLIM_INFINITY: none */
  uid_t uid;                    /* 0: as we are */
  gboolean at_start;            /* refused going to PAUSED, not at a frame */
  const gchar *const *classes;  /* a classes event before the frames */
} Refusal;

/* Refused at READY -> PAUSED, saying f->needle. */
static gint
refused_at_start (Refusal * f)
{
  gchar *desc = g_strdup_printf ("alexnet-train num-classes=%d %s", CLASSES,
      f->props);
  GstElement *el = gst_parse_launch (desc, NULL);
  GstBus *bus = gst_bus_new ();
  gchar *err;
  gint code = CHILD_OK;
  Run r;

  g_free (desc);
  if (el == NULL)
    return CHILD_NO_ELEMENT;
  gst_element_set_bus (el, bus);
  r.bus = bus;
  if (gst_element_set_state (el, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE)
    code = CHILD_FLOW;
  err = run_error (&r);
  if (code == CHILD_OK && err == NULL)
    code = CHILD_NO_ERROR;
  else if (code == CHILD_OK && strstr (err, f->needle) == NULL)
    code = CHILD_WRONG_ERROR;
  if (code != CHILD_OK)
    g_printerr ("refused_at_start (%s): %s\n", f->props, err ? err : "none");
  g_free (err);
  gst_element_set_state (el, GST_STATE_NULL);
  gst_object_unref (el);
  gst_object_unref (bus);
  return code;
}

/* A child that must be refused at its first frame, before any step,
 * saying `needle`. */
static gint
refused_child (gpointer data)
{
  Refusal *f = data;
  Run r;
  GstFlowReturn ret;
  guint64 step = 1;
  gchar *err;
  gint code = CHILD_OK;

  signal (SIGXFSZ, SIG_IGN);
  if (f->fsize.rlim_cur != RLIM_INFINITY
      && setrlimit (RLIMIT_FSIZE, &f->fsize) != 0)
    return CHILD_SETUP;
  if (f->uid != 0 && setuid (f->uid) != 0)
    return CHILD_SETUP;
  if (f->at_start)
    return refused_at_start (f);
  if (!run_new (&r, f->props))
    return CHILD_NO_ELEMENT;
  if (f->classes)
    gst_harness_push_event (r.h, gst_alexnet_event_new_classes (f->classes));
  ret = run_push (&r, 3 * BATCH);
  g_object_get (r.el, "step", &step, NULL);
  err = run_error (&r);
  if (ret != GST_FLOW_ERROR)
    code = CHILD_FLOW;
  else if (err == NULL)
    code = CHILD_NO_ERROR;
  else if (strstr (err, f->needle) == NULL)
    code = CHILD_WRONG_ERROR;
  else if (step != 0)
    code = CHILD_TRAINED;
  if (code != CHILD_OK)
    g_printerr ("refused_child (%s): flow %d, step %" G_GUINT64_FORMAT
        ", error: %s\n", f->props, ret, step, err ? err : "none");
  g_free (err);
  gst_harness_teardown (r.h);
  return code;
}

/* A PID that no process has: a child that has exited and been reaped. */
static pid_t
dead_pid (void)
{
  pid_t pid = fork ();
  int status;

  fail_unless (pid >= 0, "fork: %s", g_strerror (errno));
  if (pid == 0)
    _exit (0);
  fail_unless (waitpid (pid, &status, 0) == pid);
  fail_unless (kill (pid, 0) == -1 && errno == ESRCH);
  return pid;
}

static void
touch (const gchar * path)
{
  fail_unless (g_file_set_contents (path, "partial", -1, NULL), "%s", path);
}

/* The writer removes "<ckpt>.tmp-PID-N" of a dead PID, and nothing else:
 * not a live writer's (this process's, its parent's), not a name that only
 * looks like it, not another checkpoint's. */
GST_START_TEST (test_stale_temp_files_removed)
{
  gchar *dir = g_dir_make_tmp ("train-faults-XXXXXX", NULL);
  gchar *ckpt = g_build_filename (dir, "w.safetensors", NULL);
  pid_t dead = dead_pid ();
  gchar *stale = g_strdup_printf ("%s.tmp-%d-0", ckpt, (gint) dead);
  gchar *stale2 = g_strdup_printf ("%s.tmp-%d-17", ckpt, (gint) dead);
  gchar *own = g_strdup_printf ("%s.tmp-%d-3", ckpt, (gint) getpid ());
  gchar *parent = g_strdup_printf ("%s.tmp-%d-0", ckpt, (gint) getppid ());
  gchar *lookalike = g_strdup_printf ("%s.tmp-%d-0.bak", ckpt, (gint) dead);
  gchar *other = g_strdup_printf ("%s/x.safetensors.tmp-%d-0", dir,
      (gint) dead);
  ax_checkpoint_writer *w = ax_checkpoint_writer_new ();
  ax_ckpt_shape shape = { 1, {4} };
  const float data[4] = { 1, 2, 3, 4 };
  char err[256];

  touch (stale);
  touch (stale2);
  touch (own);
  touch (parent);
  touch (lookalike);
  touch (other);
  fail_unless (ax_checkpoint_writer_add (w, "t", AX_CKPT_F32, &shape,
          data) == AX_CKPT_OK);
  fail_unless (ax_checkpoint_writer_write (w, ckpt, err, sizeof err) ==
      AX_CKPT_OK, "%s", err);
  ax_checkpoint_writer_free (w);

  fail_if (g_file_test (stale, G_FILE_TEST_EXISTS), "%s stayed", stale);
  fail_if (g_file_test (stale2, G_FILE_TEST_EXISTS), "%s stayed", stale2);
  fail_unless (g_file_test (own, G_FILE_TEST_EXISTS), "live %s removed", own);
  fail_unless (g_file_test (parent, G_FILE_TEST_EXISTS), "live %s removed",
      parent);
  fail_unless (g_file_test (lookalike, G_FILE_TEST_EXISTS));
  fail_unless (g_file_test (other, G_FILE_TEST_EXISTS));
  fail_unless (g_file_test (ckpt, G_FILE_TEST_EXISTS));
  remove_tree (dir);
  g_free (other);
  g_free (lookalike);
  g_free (parent);
  g_free (own);
  g_free (stale2);
  g_free (stale);
  g_free (ckpt);
  g_free (dir);
}

GST_END_TEST;

/* Bytes of a file (g_free them). */
static gchar *
file_bytes (const gchar * path, gsize * len)
{
  gchar *data = NULL;

  fail_unless (g_file_get_contents (path, &data, len, NULL), "%s", path);
  return data;
}

/* No file in `dir` but `keep`. */
static void
check_only_file (const gchar * dir, const gchar * keep)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  fail_unless (d != NULL);
  while ((name = g_dir_read_name (d)))
    fail_unless (strcmp (name, keep) == 0, "%s left in %s", name, dir);
  g_dir_close (d);
}

static Refusal
refusal (const gchar * props, const gchar * needle)
{
  Refusal f = { props, needle, {RLIM_INFINITY, RLIM_INFINITY}, 0, FALSE,
    NULL
  };
  return f;
}

/* Writes dir/prev.safetensors by one step of training; returns its path. */
static gchar *
previous_checkpoint (const gchar * dir)
{
  gchar *prev = g_build_filename (dir, "prev.safetensors", NULL);
  /* a small rate (resumed runs keep it): the frames are easy, and at the
   * paper's 0.01 a few hundred steps of them can diverge */
  gchar *props = g_strdup_printf ("max-steps=1 learning-rate=0.0005 "
      "checkpoint=%s", prev);

  fail_unless_child_ok (in_child (train_child, props), "first run");
  fail_unless (g_file_test (prev, G_FILE_TEST_EXISTS));
  g_free (props);
  return prev;
}

/* Folders that cannot be written are refused going to PAUSED, before any
 * frame: a missing one (checkpoint, metrics-location) and a read-only one,
 * whose previous checkpoint stays byte-identical. As root, whom modes do
 * not stop, the read-only case runs as nobody. */
GST_START_TEST (test_unwritable_folders_refused_at_start)
{
  gchar *dir = g_dir_make_tmp ("train-faults-XXXXXX", NULL);
  gchar *prev = previous_checkpoint (dir), *before, *after, *props;
  gsize n_before, n_after;
  Refusal f;

  f = refusal ("checkpoint=/nonexistent-folder/c.safetensors",
      "checkpoint=/nonexistent-folder/c.safetensors");
  f.at_start = TRUE;
  fail_unless_child_ok (in_child (refused_child, &f), "missing folder");
  f = refusal ("metrics-location=/nonexistent-folder/m.jsonl",
      "metrics-location");
  f.at_start = TRUE;
  fail_unless_child_ok (in_child (refused_child, &f), "missing metrics folder");

  before = file_bytes (prev, &n_before);
  fail_unless (g_chmod (dir, 0555) == 0);
  props = g_strdup_printf ("resume=%s checkpoint=%s max-steps=3", prev, prev);
  f = refusal (props, "Permission denied");
  f.at_start = TRUE;
  f.uid = geteuid () == 0 ? 65534 : 0;
  fail_unless_child_ok (in_child (refused_child, &f), "read-only folder");
  fail_unless (g_chmod (dir, 0700) == 0);
  after = file_bytes (prev, &n_after);
  fail_unless (n_after == n_before && memcmp (before, after, n_before) == 0,
      "the previous checkpoint changed");
  check_only_file (dir, "prev.safetensors");

  remove_tree (dir);
  g_free (props);
  g_free (after);
  g_free (before);
  g_free (prev);
  g_free (dir);
}

GST_END_TEST;

/* A file-size limit below one checkpoint (RLIMIT_FSIZE: a full disk for
 * this process) is refused at the first frame, before any step, and the
 * previous checkpoint it would have replaced stays byte-identical. */
GST_START_TEST (test_file_size_limit_refused_before_training)
{
  gchar *dir = g_dir_make_tmp ("train-faults-XXXXXX", NULL);
  gchar *prev = previous_checkpoint (dir), *before, *after, *props;
  gsize n_before, n_after;
  Refusal f;

  before = file_bytes (prev, &n_before);
  props = g_strdup_printf ("resume=%s checkpoint=%s max-steps=3", prev, prev);
  f = refusal (props, "RLIMIT_FSIZE");
  f.fsize.rlim_cur = f.fsize.rlim_max = n_before / 2;
  fail_unless_child_ok (in_child (refused_child, &f), "file-size limit");
  after = file_bytes (prev, &n_after);
  fail_unless (n_after == n_before && memcmp (before, after, n_before) == 0,
      "the previous checkpoint changed");
  check_only_file (dir, "prev.safetensors");

  remove_tree (dir);
  g_free (props);
  g_free (after);
  g_free (before);
  g_free (prev);
  g_free (dir);
}

GST_END_TEST;

/* A class name that is not UTF-8 and a normalisation that cannot be used
 * are refused at the first frame, before any step (the checkpoint would
 * have refused the name only at the end). */
GST_START_TEST (test_bad_names_and_normalization_refused)
{
  static const gchar *const names[] = { "cat", "dog", "caf\xe9", "owl", NULL };
  gchar *dir = g_dir_make_tmp ("train-faults-XXXXXX", NULL);
  gchar *props = g_strdup_printf ("num-classes=0 checkpoint=%s/c.safetensors",
      dir);
  Refusal f = refusal (props, "UTF-8");

  f.classes = names;
  fail_unless_child_ok (in_child (refused_child, &f), "class name");
  f = refusal ("std=<0.0,1.0,1.0>", "std");
  fail_unless_child_ok (in_child (refused_child, &f), "std 0");
  check_only_file (dir, "");
  remove_tree (dir);
  g_free (props);
  g_free (dir);
}

GST_END_TEST;

/* A child that resumes from `ckpt` and trains with a checkpoint after
 * every step until it is killed (or a refusal: its exit code). */
static gint
endless_child (gpointer ckpt)
{
  gchar *props = g_strdup_printf ("resume=%s checkpoint=%s "
      "checkpoint-interval=1 max-steps=1000000", (gchar *) ckpt,
      (gchar *) ckpt);
  Run r;
  GstFlowReturn ret;

  if (!run_new (&r, props))
    return CHILD_NO_ELEMENT;
  ret = run_push (&r, G_MAXUINT64);
  g_printerr ("endless_child: flow %d: %s\n", ret, run_error (&r));
  return CHILD_FLOW;
}

/* SIGKILL at random moments of runs that write a checkpoint after every
 * step: the checkpoint always opens and the next run resumes from it
 * (later steps), including after kills during a write (a temporary file
 * left), whose temporary files the next write removes. */
GST_START_TEST (test_sigkill_leaves_a_checkpoint_that_resumes)
{
  gchar *dir = g_dir_make_tmp ("train-faults-XXXXXX", NULL);
  gchar *ckpt = previous_checkpoint (dir), *props;
  GRand *rand = g_rand_new_with_seed (11);
  guint64 last_step = 1;
  guint during_write = 0;
  const guint trials = 12;

  /* (more trials until one hit a write: most do within the first 12) */
  guint k;
  for (k = 0; k < trials || (during_write == 0 && k < 40); k++) {
    pid_t pid = fork ();
    gint status = 0;
    ax_checkpoint *ck;
    char err[256];
    const char *step;
    GDir *d;
    const gchar *name;

    fail_unless (pid >= 0);
    if (pid == 0)
      _exit (endless_child (ckpt));
    /* the run takes ~0.1 s to start: kill it at 0.1 .. 0.6 s */
    g_usleep (g_rand_int_range (rand, 100000, 600000));
    fail_unless (kill (pid, SIGKILL) == 0);
    fail_unless (waitpid (pid, &status, 0) == pid);
    fail_unless (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL,
        "trial %u: the run ended by itself (status %d)", k, status);

    fail_unless (ax_checkpoint_open (ckpt, &ck, err, sizeof err) ==
        AX_CKPT_OK, "trial %u: %s", k, err);
    step = ax_checkpoint_meta (ck, "step");
    fail_unless (step != NULL);
    fail_unless (g_ascii_strtoull (step, NULL, 10) >= last_step,
        "trial %u: step %s after %" G_GUINT64_FORMAT, k, step, last_step);
    last_step = g_ascii_strtoull (step, NULL, 10);
    ax_checkpoint_close (ck);
    d = g_dir_open (dir, 0, NULL);
    while ((name = g_dir_read_name (d)))
      during_write += strstr (name, ".tmp-") != NULL;
    g_dir_close (d);
  }
  g_print ("test_sigkill: %u kills, %u during a write, at step %"
      G_GUINT64_FORMAT "\n",
      k, during_write, last_step);
  fail_unless (last_step > 1, "no run trained");
  fail_unless (during_write > 0, "no kill in %u hit a checkpoint write", k);

  /* a last run to the end: resumes, trains, and leaves no temporary file */
  props = g_strdup_printf ("resume=%s checkpoint=%s max-steps=%"
      G_GUINT64_FORMAT, ckpt, ckpt, last_step + 2);
  fail_unless_child_ok (in_child (train_child, props), "last run");
  check_only_file (dir, "prev.safetensors");
  remove_tree (dir);
  g_rand_free (rand);
  g_free (props);
  g_free (ckpt);
  g_free (dir);
}

GST_END_TEST;

static Suite *
train_faults_suite (void)
{
  Suite *s = suite_create ("train-faults");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_stale_temp_files_removed);
  tcase_add_test (tc, test_unwritable_folders_refused_at_start);
  tcase_add_test (tc, test_file_size_limit_refused_before_training);
  tcase_add_test (tc, test_bad_names_and_normalization_refused);
  tcase_add_test (tc, test_sigkill_leaves_a_checkpoint_that_resumes);
  return s;
}

GST_CHECK_MAIN (train_faults);
