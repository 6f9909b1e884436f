/* Whole pipelines through gst_parse_launch: the ready pipelines of
 * pipelines/ over a small data set of generated JPEGs (several sizes,
 * grayscale, CMYK, one corrupt file), checking what reaches the sink. */
#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <string.h>
#include <turbojpeg.h>

#include "plugin/gstalexnetmeta.h"
#include "tests/gst_test_util.h"

#ifndef PIPELINES_DIR
#error "PIPELINES_DIR must point at the pipelines/ folder"
#endif

static gchar *tmpdir, *datadir;
static const guint n_good = 7;  /* good JPEGs written by make_dataset () */

static void
write_jpeg (tjhandle tj, const gchar * path, gint w, gint h, gint pf,
    gint subsamp, guint seed)
{
  gint ps = tjPixelSize[pf];
  guint8 *px = g_malloc ((gsize) w * h * ps);
  unsigned char *jpeg = NULL;
  unsigned long len = 0;

  for (gint y = 0; y < h; y++)
    for (gint x = 0; x < w; x++)
      for (gint c = 0; c < ps; c++)
        px[((gsize) y * w + x) * ps + c] =
            (guint8) ((x * (c + 1) + y * 3 + seed * 40) & 0xff);
  fail_unless (tjCompress2 (tj, px, w, 0, h, pf, &jpeg, &len, subsamp, 90,
          0) == 0, "%s", tjGetErrorStr2 (tj));
  fail_unless (g_file_set_contents (path, (const gchar *) jpeg, len, NULL));
  tjFree (jpeg);
  g_free (px);
}

/* 3 classes; sizes from smaller than the crop to larger than 256; one
 * grayscale and one CMYK image; one corrupt file in class "b". */
static void
make_dataset (void)
{
  tjhandle tj = tjInitCompress ();
  struct {
    const gchar *cls, *name;
    gint w, h, pf, ss;
  } imgs[] = {
    {"a", "1.jpg", 500, 375, TJPF_RGB, TJSAMP_420},
    {"a", "2.jpg", 375, 500, TJPF_RGB, TJSAMP_444},
    {"a", "3.jpg", 64, 48, TJPF_RGB, TJSAMP_420},
    {"b", "1.jpg", 320, 240, TJPF_GRAY, TJSAMP_GRAY},
    {"b", "2.jpg", 300, 300, TJPF_CMYK, TJSAMP_444},
    {"c", "1.jpg", 1024, 768, TJPF_RGB, TJSAMP_420},
    {"c", "2.jpg", 257, 999, TJPF_RGB, TJSAMP_422},
  };
  gchar *corrupt;

  fail_unless (tj != NULL);
  G_STATIC_ASSERT (G_N_ELEMENTS (imgs) == 7);
  for (guint i = 0; i < G_N_ELEMENTS (imgs); i++) {
    gchar *dir = g_build_filename (datadir, imgs[i].cls, NULL);
    gchar *path = g_build_filename (dir, imgs[i].name, NULL);
    fail_unless (g_mkdir_with_parents (dir, 0755) == 0);
    write_jpeg (tj, path, imgs[i].w, imgs[i].h, imgs[i].pf, imgs[i].ss, i);
    g_free (path);
    g_free (dir);
  }
  corrupt = g_build_filename (datadir, "b", "9-corrupt.jpg", NULL);
  fail_unless (g_file_set_contents (corrupt, "\xff\xd8\xff\xe0 not really",
          -1, NULL));
  g_free (corrupt);
  tjDestroy (tj);
}

typedef struct {
  guint buffers;
  guint with_label;
  guint bad_label;
  gint width, height;
  guint views_seen;             /* bit mask of view indices */
} SinkStats;

static GstPadProbeReturn
count_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  SinkStats *st = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstAlexnetLabelMeta *m = gst_buffer_get_alexnet_label_meta (buf);
  GstCaps *caps = gst_pad_get_current_caps (pad);

  if (caps) {
    GstVideoInfo vi;
    if (gst_video_info_from_caps (&vi, caps)) {
      st->width = GST_VIDEO_INFO_WIDTH (&vi);
      st->height = GST_VIDEO_INFO_HEIGHT (&vi);
    }
    gst_caps_unref (caps);
  }
  st->buffers++;
  if (m) {
    gchar *dir = g_path_get_basename (g_path_get_dirname (m->sample_id));
    st->with_label++;
    /* the label must name the folder the file came from */
    if (m->class_name == NULL || strcmp (dir, m->class_name) != 0)
      st->bad_label++;
    if (m->view >= 0 && m->view < 32)
      st->views_seen |= 1u << m->view;
    g_free (dir);
  }
  return GST_PAD_PROBE_OK;
}

/* Runs @desc to EOS (or error), counting what reaches the element named
 * "sink" into @st if any. Returns the error message or NULL. */
static gchar *
run (const gchar * desc, SinkStats * st, GstElement ** keep)
{
  if (st)
    memset (st, 0, sizeof (*st));
  return run_pipeline (desc, st ? count_buffer : NULL, st, keep);
}

static guint64
get_u64 (GstElement * pipe, const gchar * factory, const gchar * prop)
{
  GstIterator *it = gst_bin_iterate_elements (GST_BIN (pipe));
  GValue v = G_VALUE_INIT;
  guint64 out = G_MAXUINT64;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && strcmp (GST_OBJECT_NAME (f), factory) == 0)
      g_object_get (e, prop, &out, NULL);
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  return out;
}

GST_START_TEST (test_train_crops_pipeline)
{
  gchar *desc = load_pipeline ("train-crops-fakesink", "DATA", datadir, NULL);
  gchar *named, *error;
  SinkStats st;
  GstElement *pipe = NULL;

  named = g_strconcat (desc, " name=sink", NULL);
  error = run (named, &st, &pipe);
  fail_unless (error == NULL, "%s", error);
  /* every good image comes out as a labelled 224x224 crop; the corrupt
   * one is skipped and counted */
  fail_unless_equals_int (st.buffers, n_good);
  fail_unless_equals_int (st.with_label, n_good);
  fail_unless_equals_int (st.bad_label, 0);
  fail_unless_equals_int (st.width, 224);
  fail_unless_equals_int (st.height, 224);
  fail_unless_equals_int (get_u64 (pipe, "decode", "skipped"), 1);
  gst_object_unref (pipe);
  g_free (named);
  g_free (desc);
}

GST_END_TEST;

GST_START_TEST (test_preview_pipeline_headless)
{
  gchar *desc = load_pipeline ("preview-train-crops", "DATA", datadir, NULL);
  gchar *error;
  SinkStats st;

  /* no display here: the same pipeline into a fakesink that keeps pace */
  {
    GString *s = g_string_new (desc);
    g_string_replace (s, "autovideosink", "fakesink name=sink sync=true", 0);
    g_free (desc);
    desc = g_string_free (s, FALSE);
  }
  {
    gint64 t0 = g_get_monotonic_time ();
    error = run (desc, &st, NULL);
    fail_unless (error == NULL, "%s", error);
    /* framerate=5/1 paces 7 images over more than a second */
    fail_unless (g_get_monotonic_time () - t0 > 1000000);
  }
  fail_unless_equals_int (st.buffers, n_good);
  fail_unless_equals_int (st.width, 224);
  g_free (desc);
}

GST_END_TEST;

GST_START_TEST (test_stats_then_jitter_pipelines)
{
  gchar *stats = g_build_filename (tmpdir, "stats.json", NULL);
  gchar *crops = g_build_filename (tmpdir, "crops", NULL);
  gchar *desc = load_pipeline ("dataset-stats", "DATA", datadir, "OUT", stats,
      NULL);
  gchar *error = run (desc, NULL, NULL);
  gchar *text = NULL;

  fail_unless (error == NULL, "%s", error);
  fail_unless (g_file_get_contents (stats, &text, NULL, NULL));
  fail_unless (strstr (text, "\"eigenvectors\"") != NULL);
  fail_unless (strstr (text, "\"images\" : 7") != NULL
      || strstr (text, "\"images\": 7") != NULL, "%s", text);
  g_free (desc);

  fail_unless (g_mkdir_with_parents (crops, 0755) == 0);
  /* all 8 files: the 7 good ones give a crop each, the corrupt one none */
  desc = load_pipeline ("save-train-crops", "DATA", datadir, "COUNT", "8",
      "STATS", stats, "OUT", crops, NULL);
  error = run (desc, NULL, NULL);
  fail_unless (error == NULL, "%s", error);
  for (guint i = 0; i < 8; i++) {
    gchar *png = g_strdup_printf ("%s/crop-%03u.png", crops, i);
    fail_unless (g_file_test (png, G_FILE_TEST_IS_REGULAR) == (i < n_good),
        "%s %s", png, i < n_good ? "missing" : "unexpected");
    g_free (png);
  }
  g_free (text);
  g_free (desc);
  g_free (stats);
  g_free (crops);
}

GST_END_TEST;

GST_START_TEST (test_ten_crop_pipeline)
{
  gchar *desc = g_strdup_printf ("dataset-src location=%s ! decode ! "
      "resize-256 ! random-crop-flip mode=ten-crop ! fakesink name=sink",
      datadir);
  SinkStats st;
  gchar *error = run (desc, &st, NULL);

  fail_unless (error == NULL, "%s", error);
  fail_unless_equals_int (st.buffers, 10 * n_good);
  fail_unless_equals_int (st.views_seen, 0x3ff);
  fail_unless_equals_int (st.bad_label, 0);
  g_free (desc);
}

GST_END_TEST;

/* Any RGB source feeds the image stages, like a camera would. */
GST_START_TEST (test_live_source_pipeline)
{
  SinkStats st;
  gchar *error = run ("videotestsrc is-live=true num-buffers=5 ! "
      "video/x-raw,width=320,height=240 ! videoconvert ! resize-256 ! "
      "random-crop-flip mode=center ! pca-jitter ! fakesink name=sink",
      &st, NULL);

  fail_unless (error == NULL, "%s", error);
  fail_unless_equals_int (st.buffers, 5);
  fail_unless_equals_int (st.width, 224);
}

GST_END_TEST;

GST_START_TEST (test_caps_that_cannot_be_met)
{
  gchar *desc = g_strdup_printf ("dataset-src location=%s ! decode ! "
      "video/x-raw,format=I420 ! fakesink", datadir);
  gchar *error = run (desc, NULL, NULL);

  fail_unless (error != NULL, "decode to I420 should fail");
  g_free (error);
  g_free (desc);
}

GST_END_TEST;

static void
setup (void)
{
  tmpdir = g_dir_make_tmp ("alexnet-pipelines-XXXXXX", NULL);
  fail_unless (tmpdir != NULL);
  datadir = g_build_filename (tmpdir, "data", NULL);
  make_dataset ();
}

static void
teardown (void)
{
  remove_tree (tmpdir);
  g_free (datadir);
  g_free (tmpdir);
}

static Suite *
pipelines_suite (void)
{
  Suite *s = suite_create ("pipelines");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  tcase_add_checked_fixture (tc, setup, teardown);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_train_crops_pipeline);
  tcase_add_test (tc, test_preview_pipeline_headless);
  tcase_add_test (tc, test_stats_then_jitter_pipelines);
  tcase_add_test (tc, test_ten_crop_pipeline);
  tcase_add_test (tc, test_live_source_pipeline);
  tcase_add_test (tc, test_caps_that_cannot_be_met);
  return s;
}

GST_CHECK_MAIN (pipelines);
