/* dataset-src: class indices from sorted folders, list files, epochs,
 * shuffling, disjoint shards, events, and errors for bad locations. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "plugin/gstalexnetdataset.h"
#include "plugin/gstalexnetmeta.h"
#include "tests/gst_test_util.h"

static gchar *tmpdir;

static void
write_file (const gchar * dir, const gchar * name, const gchar * contents)
{
  gchar *path = g_build_filename (dir, name, NULL);
  fail_unless (g_file_set_contents (path, contents, -1, NULL));
  g_free (path);
}

static gchar *
make_dir (const gchar * parent, const gchar * name)
{
  gchar *path = g_build_filename (parent, name, NULL);
  fail_unless (g_mkdir_with_parents (path, 0755) == 0);
  return path;
}

/* Folder with classes created out of order: "bird" (3), "ant" (2), "cat"
 * (5); plus files that are not images and hidden entries to be ignored.
 * File contents name the sample so the test can check what came out. */
static gchar *
make_folder_dataset (void)
{
  gchar *root = make_dir (tmpdir, "folder");
  const gchar *classes[] = { "bird", "ant", "cat" };
  const gint counts[] = { 3, 2, 5 };

  for (guint c = 0; c < 3; c++) {
    gchar *d = make_dir (root, classes[c]);
    for (gint i = 0; i < counts[c]; i++) {
      gchar *name = g_strdup_printf ("img%d.JPEG", i);
      gchar *content = g_strdup_printf ("%s/%d", classes[c], i);
      write_file (d, name, content);
      g_free (name);
      g_free (content);
    }
    write_file (d, "notes.txt", "not an image");
    write_file (d, ".hidden.jpg", "hidden");
    g_free (d);
  }
  write_file (root, "README", "top-level file, not a class");
  return root;
}

typedef struct {
  gint label;
  gchar *class_name;
  gchar *content;
  guint epoch;
  guint64 index;
} Sample;

static void
sample_clear (gpointer p)
{
  Sample *s = p;
  g_free (s->class_name);
  g_free (s->content);
}

/* Runs a dataset-src to EOS and returns what it emitted. */
static GArray *
run_src (GstHarness * h, gchar *** classes_out, guint * n_epoch_events)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (Sample));
  GstEvent *ev;
  GstBuffer *buf;
  gboolean eos = FALSE;

  g_array_set_clear_func (out, sample_clear);
  if (n_epoch_events)
    *n_epoch_events = 0;
  gst_harness_play (h);
  /* The harness queues events and buffers separately: wait for EOS, then
   * take every buffer. */
  while (!eos) {
    ev = gst_harness_pull_event (h);
    fail_unless (ev != NULL, "no EOS");
    {
      gchar **names = NULL;
      if (gst_alexnet_event_parse_classes (ev, &names) && classes_out) {
        g_strfreev (*classes_out);
        *classes_out = names;
      } else {
        g_strfreev (names);
      }
    }
    if (gst_alexnet_event_parse_epoch (ev, NULL, NULL) && n_epoch_events)
      (*n_epoch_events)++;
    eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
  }
  while ((buf = gst_harness_try_pull (h)) != NULL) {
    GstAlexnetLabelMeta *m = gst_buffer_get_alexnet_label_meta (buf);
    GstMapInfo map;
    Sample s;

    fail_unless (m != NULL, "buffer without label meta");
    fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
    s.label = m->class_index;
    s.class_name = g_strdup (m->class_name);
    s.content = g_strndup ((const gchar *) map.data, map.size);
    s.epoch = m->epoch;
    s.index = m->sample_index;
    {
      /* the sample id is the path of the file whose bytes we got */
      gchar *on_disk = NULL;
      fail_unless (m->sample_id != NULL);
      fail_unless (g_file_get_contents (m->sample_id, &on_disk, NULL, NULL));
      fail_unless_equals_string (on_disk, s.content);
      g_free (on_disk);
    }
    gst_buffer_unmap (buf, &map);
    g_array_append_val (out, s);
    gst_buffer_unref (buf);
  }
  return out;
}

static GstHarness *
new_src (const gchar * location)
{
  GstHarness *h = gst_harness_new ("dataset-src");
  g_object_set (h->element, "location", location, NULL);
  return h;
}

GST_START_TEST (test_folder_labels)
{
  gchar *root = make_folder_dataset ();
  GstHarness *h = new_src (root);
  gchar **classes = NULL;
  guint epochs = 0;
  GArray *out = run_src (h, &classes, &epochs);
  const gchar *expect_class[] = { "ant", "bird", "cat" };

  fail_unless_equals_int (out->len, 10);
  fail_unless (classes != NULL);
  fail_unless_equals_int (g_strv_length (classes), 3);
  fail_unless_equals_int (epochs, 1);
  for (guint i = 0; i < 3; i++)
    fail_unless_equals_string (classes[i], expect_class[i]);
  for (guint i = 0; i < out->len; i++) {
    Sample *s = &g_array_index (out, Sample, i);
    gchar **parts = g_strsplit (s->content, "/", 2);
    /* unshuffled: the list order, classes sorted, files sorted */
    fail_unless_equals_int (s->index, i);
    fail_unless (s->label >= 0 && s->label < 3);
    fail_unless_equals_string (parts[0], expect_class[s->label]);
    fail_unless_equals_string (s->class_name, expect_class[s->label]);
    g_strfreev (parts);
  }
  fail_unless_equals_string (g_array_index (out, Sample, 0).content, "ant/0");
  fail_unless_equals_string (g_array_index (out, Sample, 9).content, "cat/4");
  {
    guint64 n = 0;
    g_object_get (h->element, "n-samples", &n, NULL);
    fail_unless_equals_int (n, 10);
  }
  g_array_unref (out);
  g_strfreev (classes);
  gst_harness_teardown (h);
  g_free (root);
}

GST_END_TEST;

static gchar **
order_of (const gchar * root, gboolean shuffle, gint64 seed, guint epochs,
    guint shard_index, guint shard_count, guint * n_epoch_events)
{
  GstHarness *h = new_src (root);
  GArray *out;
  gchar **order;

  g_object_set (h->element, "shuffle", shuffle, "seed", seed, "epochs",
      epochs, "shard-index", shard_index, "shard-count", shard_count, NULL);
  out = run_src (h, NULL, n_epoch_events);
  order = g_new0 (gchar *, out->len + 1);
  for (guint i = 0; i < out->len; i++) {
    Sample *s = &g_array_index (out, Sample, i);
    fail_unless_equals_int (s->epoch, i / (out->len / epochs));
    order[i] = g_strdup (s->content);
  }
  g_array_unref (out);
  gst_harness_teardown (h);
  return order;
}

static gboolean
same_set (gchar ** a, guint off_a, gchar ** b, guint off_b, guint n)
{
  for (guint i = 0; i < n; i++) {
    gboolean found = FALSE;
    for (guint j = 0; j < n && !found; j++)
      found = strcmp (a[off_a + i], b[off_b + j]) == 0;
    if (!found)
      return FALSE;
  }
  return TRUE;
}

GST_START_TEST (test_shuffle_epochs)
{
  gchar *root = make_folder_dataset ();
  guint n_ev = 0;
  gchar **plain = order_of (root, FALSE, 0, 1, 0, 1, NULL);
  gchar **a = order_of (root, TRUE, 7, 3, 0, 1, &n_ev);
  gchar **b = order_of (root, TRUE, 7, 3, 0, 1, NULL);
  gchar **c = order_of (root, TRUE, 8, 3, 0, 1, NULL);
  gboolean epochs_differ = FALSE, seeds_differ = FALSE;

  fail_unless_equals_int (g_strv_length (a), 30);
  fail_unless_equals_int (n_ev, 3);
  for (guint i = 0; i < 30; i++)
    fail_unless_equals_string (a[i], b[i]);     /* same seed, same order */
  for (guint e = 0; e < 3; e++)
    fail_unless (same_set (a, e * 10, plain, 0, 10),
        "epoch %u is not a permutation of the data set", e);
  for (guint i = 0; i < 10; i++) {
    epochs_differ |= strcmp (a[i], a[10 + i]) != 0;
    seeds_differ |= strcmp (a[i], c[i]) != 0;
  }
  fail_unless (epochs_differ, "shuffle did not change between epochs");
  fail_unless (seeds_differ, "different seeds gave the same order");
  g_strfreev (plain);
  g_strfreev (a);
  g_strfreev (b);
  g_strfreev (c);
  g_free (root);
}

GST_END_TEST;

GST_START_TEST (test_shards_disjoint)
{
  gchar *root = make_folder_dataset ();
  gchar **shard[3];
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);

  /* 10 samples over 3 shards: 3 each, disjoint, in every epoch */
  for (guint k = 0; k < 3; k++) {
    shard[k] = order_of (root, TRUE, 11, 2, k, 3, NULL);
    fail_unless_equals_int (g_strv_length (shard[k]), 6);
  }
  for (guint e = 0; e < 2; e++) {
    g_hash_table_remove_all (seen);
    for (guint k = 0; k < 3; k++)
      for (guint i = 0; i < 3; i++) {
        const gchar *s = shard[k][e * 3 + i];
        fail_if (g_hash_table_contains (seen, s), "%s in two shards", s);
        g_hash_table_add (seen, (gpointer) s);
      }
    fail_unless_equals_int (g_hash_table_size (seen), 9);
  }
  for (guint k = 0; k < 3; k++)
    g_strfreev (shard[k]);
  g_hash_table_unref (seen);
  g_free (root);
}

GST_END_TEST;

GST_START_TEST (test_list_file)
{
  gchar *root = make_dir (tmpdir, "list");
  gchar *imgs = make_dir (root, "imgs");
  gchar *list = g_build_filename (root, "train.txt", NULL);
  gchar *abs = g_build_filename (imgs, "with space.JPEG", NULL);
  gchar *text;
  GstHarness *h;
  GArray *out;
  gchar **classes = NULL;

  write_file (imgs, "x.JPEG", "x");
  write_file (imgs, "y.JPEG", "y");
  write_file (imgs, "with space.JPEG", "z");
  text = g_strdup_printf ("# comment\nimgs/x.JPEG zebra\n\n"
      "imgs/y.JPEG  aardvark  \n%s zebra\n", abs);
  fail_unless (g_file_set_contents (list, text, -1, NULL));

  h = new_src (list);
  out = run_src (h, &classes, NULL);
  fail_unless_equals_int (out->len, 3);
  fail_unless_equals_int (g_strv_length (classes), 2);
  fail_unless_equals_string (classes[0], "aardvark");
  fail_unless_equals_string (classes[1], "zebra");
  fail_unless_equals_string (g_array_index (out, Sample, 0).content, "x");
  fail_unless_equals_int (g_array_index (out, Sample, 0).label, 1);
  fail_unless_equals_int (g_array_index (out, Sample, 1).label, 0);
  fail_unless_equals_string (g_array_index (out, Sample, 2).content, "z");
  g_array_unref (out);
  g_strfreev (classes);
  gst_harness_teardown (h);

  /* integer labels give indices directly */
  fail_unless (g_file_set_contents (list, "imgs/x.JPEG 4\nimgs/y.JPEG 0\n",
          -1, NULL));
  h = new_src (list);
  classes = NULL;
  out = run_src (h, &classes, NULL);
  fail_unless_equals_int (g_strv_length (classes), 5);
  fail_unless_equals_int (g_array_index (out, Sample, 0).label, 4);
  g_array_unref (out);
  g_strfreev (classes);
  gst_harness_teardown (h);

  g_free (text);
  g_free (abs);
  g_free (list);
  g_free (imgs);
  g_free (root);
}

GST_END_TEST;

static void
expect_start_error (const gchar * location, const gchar * needle)
{
  GstElement *src = gst_element_factory_make ("dataset-src", NULL);

  fail_unless (src != NULL);
  if (location)
    g_object_set (src, "location", location, NULL);
  check_start_fails_with (src, needle, NULL);
}

GST_START_TEST (test_bad_locations)
{
  gchar *missing = g_build_filename (tmpdir, "does-not-exist", NULL);
  gchar *empty = make_dir (tmpdir, "empty");
  gchar *no_images = make_dir (tmpdir, "no-images");
  gchar *cls = make_dir (no_images, "class0");
  gchar *bad_list = g_build_filename (tmpdir, "bad.txt", NULL);

  write_file (cls, "a.txt", "text");
  fail_unless (g_file_set_contents (bad_list, "justonefield\n", -1, NULL));
  expect_start_error (NULL, "location");
  expect_start_error (missing, "does not exist");
  expect_start_error (empty, "no class sub-folders");
  expect_start_error (no_images, "no JPEG images");
  expect_start_error (bad_list, "bad.txt:1");
  g_free (missing);
  g_free (empty);
  g_free (no_images);
  g_free (cls);
  g_free (bad_list);
}

GST_END_TEST;

GST_START_TEST (test_unreadable_file_skipped)
{
  gchar *root = make_dir (tmpdir, "unreadable");
  gchar *cls = make_dir (root, "c");
  gchar *link = g_build_filename (cls, "b-dangling.jpg", NULL);
  GstHarness *h;
  GArray *out;
  guint64 skipped = 0;

  write_file (cls, "a.jpg", "a");
  write_file (cls, "c.jpg", "c");
  fail_unless (symlink ("/nonexistent/target.jpg", link) == 0);
  h = new_src (root);
  out = run_src (h, NULL, NULL);
  /* the dangling link is skipped, the others come through */
  fail_unless_equals_int (out->len, 2);
  g_object_get (h->element, "skipped", &skipped, NULL);
  fail_unless_equals_int (skipped, 1);
  g_array_unref (out);
  gst_harness_teardown (h);
  g_free (link);
  g_free (cls);
  g_free (root);
}

GST_END_TEST;

/* Writes a list file @name in tmpdir with @text; returns its path. */
static gchar *
write_list (const gchar * name, const gchar * text)
{
  gchar *path = g_build_filename (tmpdir, name, NULL);
  fail_unless (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* A label far above any real data set used to allocate max label + 1 class
 * names (2147483647: 17 GB, then GLib-ERROR); labels above max-classes are
 * refused at start, naming the file, the line, the label and the limit. */
GST_START_TEST (test_label_limit)
{
  gchar *huge = write_list ("huge.txt", "a.jpg 0\nb.jpg 2147483647\n");
  gchar *big = write_list ("big.txt", "a.jpg 100000000\n");
  gchar *five = write_list ("five.txt", "a.jpg 0\nb.jpg 5\n");
  GstElement *src;
  GstAlexnetDataset ds;
  GError *err = NULL;
  guint max = 0;

  src = gst_element_factory_make ("dataset-src", NULL);
  g_object_get (src, "max-classes", &max, NULL);
  fail_unless_equals_int (max, GST_ALEXNET_DATASET_MAX_CLASSES);
  fail_unless_equals_int (max, 100000);
  g_object_set (src, "location", huge, NULL);
  check_start_fails_with (src, "huge.txt:2", "2147483647", "max-classes",
      "100000", NULL);
  expect_start_error (big, "big.txt:1");

  /* the limit is the property's: 5 needs 6 classes */
  src = gst_element_factory_make ("dataset-src", NULL);
  g_object_set (src, "location", five, "max-classes", 5, NULL);
  check_start_fails_with (src, "five.txt:2", "label 5", "max-classes=5",
      NULL);
  fail_unless (gst_alexnet_dataset_load_full (&ds, five, 6, &err));
  fail_unless_equals_int (ds.n_classes, 6);
  gst_alexnet_dataset_clear (&ds);

  /* the largest label the default allows */
  fail_unless (g_file_set_contents (five, "a.jpg 99999\n", -1, NULL));
  fail_unless (gst_alexnet_dataset_load (&ds, five, &err));
  fail_unless_equals_int (ds.n_classes, 100000);
  gst_alexnet_dataset_clear (&ds);
  fail_unless (g_file_set_contents (five, "a.jpg 100000\n", -1, NULL));
  fail_if (gst_alexnet_dataset_load (&ds, five, &err));
  fail_unless (strstr (err->message, "five.txt:1") != NULL, "%s",
      err->message);
  g_clear_error (&err);

  /* class names count against the limit as well, and so do folders */
  fail_unless (g_file_set_contents (five, "a.jpg x\nb.jpg y\nc.jpg z\n", -1,
          NULL));
  fail_if (gst_alexnet_dataset_load_full (&ds, five, 2, &err));
  fail_unless (strstr (err->message, "3 classes") != NULL, "%s",
      err->message);
  g_clear_error (&err);
  g_free (huge);
  g_free (big);
  g_free (five);
}

GST_END_TEST;

/* Class names go into checkpoints' JSON: a name that is not UTF-8 is
 * refused when the data set is opened, with the file and line. */
GST_START_TEST (test_class_name_not_utf8)
{
  gchar *list = write_list ("latin1.txt", "a.jpg good\nb.jpg caf\xe9\n");
  gchar *root = make_dir (tmpdir, "latin1-folder");
  gchar *cls = make_dir (root, "caf\xe9");

  expect_start_error (list, "latin1.txt:2");
  expect_start_error (list, "UTF-8");
  write_file (cls, "a.jpg", "a");
  expect_start_error (root, "UTF-8");
  g_free (list);
  g_free (cls);
  g_free (root);
}

GST_END_TEST;

/* 100,000 class names, given in reverse order: sorted into indices and
 * every sample's label found by name (a linear search per sample made
 * this 5 * 10^9 string comparisons). */
GST_START_TEST (test_many_class_names)
{
  const guint n = 100000;
  GString *text = g_string_new (NULL);
  gchar *list = g_build_filename (tmpdir, "many.txt", NULL);
  GstAlexnetDataset ds;
  GError *err = NULL;
  gint64 t0;
  gdouble seconds;

  for (guint i = 0; i < n; i++)
    g_string_append_printf (text, "img%u.jpg n%08u\n", i, n - 1 - i);
  fail_unless (g_file_set_contents (list, text->str, text->len, NULL));
  t0 = g_get_monotonic_time ();
  fail_unless (gst_alexnet_dataset_load (&ds, list, &err), "%s",
      err ? err->message : "");
  seconds = (g_get_monotonic_time () - t0) / 1e6;
  fail_unless_equals_int (ds.n_classes, n);
  fail_unless_equals_int (ds.n_samples, n);
  for (guint i = 0; i < n; i++) {
    gchar want[16];
    g_snprintf (want, sizeof want, "n%08u", i);
    fail_unless_equals_string (ds.class_names[i], want);
    fail_unless_equals_int (ds.samples[i].label, (gint) (n - 1 - i));
  }
  /* linear takes ~0.1 s here, the quadratic search took 12 s; no bound
   * under valgrind, which is some 50 times slower */
  if (!RUNNING_ON_VALGRIND)
    fail_unless (seconds < 5.0, "100000 class names took %.1f s", seconds);
  gst_alexnet_dataset_clear (&ds);
  g_string_free (text, TRUE);
  g_free (list);
}

GST_END_TEST;

/* Pops every message of @bus; returns how many were warnings and, in
 * @last_warning (to free), the last warning's text. */
static guint
count_warnings (GstBus * bus, gchar ** last_warning)
{
  GstMessage *msg;
  guint n = 0;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING)) != NULL) {
    GError *err = NULL;
    gst_message_parse_warning (msg, &err, NULL);
    if (last_warning) {
      g_free (*last_warning);
      *last_warning = g_strdup (err->message);
    }
    g_error_free (err);
    gst_message_unref (msg);
    n++;
  }
  return n;
}

/* Runs @src (taken) into a fakesink until an error, which must come within
 * 60 s and mention every string of the NULL-terminated list; *n_warnings
 * (if not NULL) gets the number of warnings posted before it. */
static void
expect_run_error (GstElement * src, guint * n_warnings, const gchar * needle,
    ...)
{
  GstElement *pipe = gst_pipeline_new (NULL);
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg;
  GError *err = NULL;
  va_list ap;
  guint warnings = 0;

  fail_unless (sink != NULL);
  gst_bin_add_many (GST_BIN (pipe), src, sink, NULL);
  fail_unless (gst_element_link (src, sink));
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  for (;;) {
    msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_WARNING);
    fail_unless (msg != NULL, "no error within 60 s");
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS, "EOS, not an error");
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      break;
    warnings++;
    gst_message_unref (msg);
  }
  gst_message_parse_error (msg, &err, NULL);
  va_start (ap, needle);
  for (; needle != NULL; needle = va_arg (ap, const gchar *))
    fail_unless (strstr (err->message, needle) != NULL,
        "error does not mention \"%s\": %s", needle, err->message);
  va_end (ap);
  if (n_warnings)
    *n_warnings = warnings;
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipe);
}

/* Only regular files are read: /dev/zero was read to 4 GB before being
 * skipped and a FIFO blocked forever; a file above max-file-size is
 * skipped too. Each is counted in 'skipped'. */
GST_START_TEST (test_special_files_skipped)
{
  gchar *root = make_dir (tmpdir, "special");
  gchar *fifo = g_build_filename (root, "fifo.jpg", NULL);
  gchar *sub = make_dir (root, "dir.jpg");
  gchar *text, *list;
  GstHarness *h;
  GstBus *bus = gst_bus_new ();
  GArray *out;
  guint64 skipped = 0, max_size = 0;
  gchar *last = NULL;

  fail_unless (mkfifo (fifo, 0644) == 0);
  write_file (root, "a.jpg", "a");
  write_file (root, "big.jpg", "0123456789");
  write_file (root, "z.jpg", "z");
  text = g_strdup_printf ("a.jpg 0\n/dev/zero 0\n%s 1\ndir.jpg 1\n"
      "big.jpg 1\nz.jpg 1\n", fifo);
  list = g_build_filename (root, "list.txt", NULL);
  fail_unless (g_file_set_contents (list, text, -1, NULL));

  h = new_src (list);
  g_object_get (h->element, "max-file-size", &max_size, NULL);
  fail_unless_equals_int (max_size, 64 * 1024 * 1024);
  g_object_set (h->element, "max-file-size", (guint64) 9, NULL);
  gst_element_set_bus (h->element, bus);
  out = run_src (h, NULL, NULL);
  fail_unless_equals_int (out->len, 2);
  fail_unless_equals_string (g_array_index (out, Sample, 0).content, "a");
  fail_unless_equals_string (g_array_index (out, Sample, 1).content, "z");
  g_object_get (h->element, "skipped", &skipped, NULL);
  fail_unless_equals_int (skipped, 4);
  /* four warnings naming the files, then the epoch's summary */
  fail_unless_equals_int (count_warnings (bus, &last), 5);
  fail_unless (strstr (last, "4 of 6") != NULL, "%s", last);
  gst_element_set_bus (h->element, NULL);
  g_array_unref (out);
  gst_harness_teardown (h);
  g_free (last);
  gst_object_unref (bus);
  g_free (text);
  g_free (list);
  g_free (fifo);
  g_free (sub);
  g_free (root);
}

GST_END_TEST;

GST_START_TEST (test_special_files_messages)
{
  gchar *root = make_dir (tmpdir, "special-msg");
  gchar *fifo = g_build_filename (root, "fifo.jpg", NULL);
  gchar *big = g_build_filename (root, "big.jpg", NULL);
  gchar *list = g_build_filename (root, "list.txt", NULL);
  gchar *text;
  GstElement *src;

  fail_unless (mkfifo (fifo, 0644) == 0);
  fail_unless (g_file_set_contents (big, "0123456789", -1, NULL));
  {
    GError *err = NULL;
    gchar *bytes = NULL;
    gsize len = 0;
    fail_unless (gst_alexnet_dataset_read_sample (big, 10, &bytes, &len,
            &err));
    fail_unless_equals_int (len, 10);
    fail_unless (memcmp (bytes, "0123456789", 10) == 0);
    g_free (bytes);
    bytes = NULL;
    fail_if (gst_alexnet_dataset_read_sample (big, 9, &bytes, &len, &err));
    fail_unless (strstr (err->message, "max-file-size") != NULL, "%s",
        err->message);
    fail_unless (strstr (err->message, "10 bytes") != NULL, "%s",
        err->message);
    g_clear_error (&err);
    fail_if (gst_alexnet_dataset_read_sample (fifo, 9, &bytes, &len, &err));
    fail_unless (strstr (err->message, "not a regular file") != NULL, "%s",
        err->message);
    g_clear_error (&err);
    fail_if (gst_alexnet_dataset_read_sample ("/dev/zero", 9, &bytes, &len,
            &err));
    fail_unless (strstr (err->message, "not a regular file") != NULL, "%s",
        err->message);
    g_clear_error (&err);
  }
  /* a list of only special files: nothing could be read */
  text = g_strdup_printf ("/dev/zero 0\n%s 0\n", fifo);
  fail_unless (g_file_set_contents (list, text, -1, NULL));
  src = gst_element_factory_make ("dataset-src", NULL);
  g_object_set (src, "location", list, NULL);
  expect_run_error (src, NULL, "list.txt", "2 files", NULL);
  g_free (text);
  g_free (list);
  g_free (big);
  g_free (fifo);
  g_free (root);
}

GST_END_TEST;

/* A data set none of whose files can be read is an error after one pass,
 * naming the location and the count, not an endless loop (epochs=0 spun
 * at 120,000 warnings a second) nor a quiet EOS (a training run that
 * exited 0 with no checkpoint). */
GST_START_TEST (test_all_missing_is_error)
{
  GString *text = g_string_new (NULL);
  gchar *list, *root = make_dir (tmpdir, "dangling");
  gchar *cls = make_dir (root, "c");
  GstElement *src;
  guint warnings = 0;

  for (guint i = 0; i < 50; i++)
    g_string_append_printf (text, "missing%u.jpg %u\n", i, i % 2);
  list = write_list ("all-missing.txt", text->str);
  for (guint epochs = 0; epochs < 2; epochs++) {
    src = gst_element_factory_make ("dataset-src", NULL);
    g_object_set (src, "location", list, "epochs", epochs, NULL);
    expect_run_error (src, &warnings, "all-missing.txt", "50 files", NULL);
    /* the first files are named, the rest only counted */
    fail_unless (warnings >= 1 && warnings <= 11, "%u warnings", warnings);
  }
  /* a folder whose images are all dangling links */
  for (guint i = 0; i < 3; i++) {
    gchar *link = g_strdup_printf ("%s/%u.jpg", cls, i);
    fail_unless (symlink ("/nonexistent/target.jpg", link) == 0);
    g_free (link);
  }
  src = gst_element_factory_make ("dataset-src", NULL);
  g_object_set (src, "location", root, "epochs", 0, NULL);
  expect_run_error (src, NULL, root, "3 files", NULL);
  g_string_free (text, TRUE);
  g_free (list);
  g_free (cls);
  g_free (root);
}

GST_END_TEST;

/* A data set with 10 % missing files runs to the end: the others come
 * through in every epoch, 'skipped' counts the bad ones and each epoch
 * ends with one summary warning; only the first files are warned about
 * one by one, so a long run does not flood the log. */
GST_START_TEST (test_some_missing_counted)
{
  gchar *root = make_dir (tmpdir, "some-missing");
  GString *text = g_string_new (NULL);
  gchar *list;
  GstHarness *h;
  GstBus *bus = gst_bus_new ();
  GArray *out;
  guint64 skipped = 0;
  gchar *last = NULL;
  guint warnings;

  for (guint i = 0; i < 30; i++) {
    gchar *name = g_strdup_printf ("%02u.jpg", i);
    if (i % 10 != 3)
      write_file (root, name, name);
    g_string_append_printf (text, "%s %u\n", name, i % 3);
    g_free (name);
  }
  list = g_build_filename (root, "list.txt", NULL);
  fail_unless (g_file_set_contents (list, text->str, -1, NULL));
  h = new_src (list);
  g_object_set (h->element, "epochs", 5, "shuffle", TRUE, NULL);
  gst_element_set_bus (h->element, bus);
  out = run_src (h, NULL, NULL);
  fail_unless_equals_int (out->len, 5 * 27);
  g_object_get (h->element, "skipped", &skipped, NULL);
  fail_unless_equals_int (skipped, 5 * 3);
  /* at most 10 named files, and one summary per epoch */
  warnings = count_warnings (bus, &last);
  fail_unless (warnings >= 5 && warnings <= 10 + 5, "%u warnings", warnings);
  fail_unless (strstr (last, "3 of 30") != NULL, "%s", last);
  fail_unless (strstr (last, "15 in all") != NULL, "%s", last);
  gst_element_set_bus (h->element, NULL);
  g_array_unref (out);
  gst_harness_teardown (h);
  g_free (last);
  gst_object_unref (bus);
  g_string_free (text, TRUE);
  g_free (list);
  g_free (root);
}

GST_END_TEST;

static void
setup (void)
{
  tmpdir = g_dir_make_tmp ("dataset-src-XXXXXX", NULL);
  fail_unless (tmpdir != NULL);
}

static void
teardown (void)
{
  remove_tree (tmpdir);
  g_free (tmpdir);
}

static Suite *
dataset_src_suite (void)
{
  Suite *s = suite_create ("dataset-src");
  TCase *tc = tcase_create ("general");

  tcase_add_checked_fixture (tc, setup, teardown);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_folder_labels);
  tcase_add_test (tc, test_shuffle_epochs);
  tcase_add_test (tc, test_shards_disjoint);
  tcase_add_test (tc, test_list_file);
  tcase_add_test (tc, test_bad_locations);
  tcase_add_test (tc, test_unreadable_file_skipped);
  tcase_add_test (tc, test_label_limit);
  tcase_add_test (tc, test_class_name_not_utf8);
  tcase_add_test (tc, test_many_class_names);
  tcase_add_test (tc, test_special_files_skipped);
  tcase_add_test (tc, test_special_files_messages);
  tcase_add_test (tc, test_all_missing_is_error);
  tcase_add_test (tc, test_some_missing_counted);
  return s;
}

GST_CHECK_MAIN (dataset_src);
