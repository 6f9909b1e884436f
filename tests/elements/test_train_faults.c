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

static Suite *
train_faults_suite (void)
{
  Suite *s = suite_create ("train-faults");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_stale_temp_files_removed);
  return s;
}

GST_CHECK_MAIN (train_faults);
