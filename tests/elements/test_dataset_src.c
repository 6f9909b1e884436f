/* dataset-src: class indices from sorted folders, list files, epochs,
 * shuffling, disjoint shards, events, and errors for bad locations. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <string.h>

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
  return s;
}

GST_CHECK_MAIN (dataset_src);
