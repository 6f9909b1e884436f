/* Reading a labelled data set's sample list from a folder in ImageNet
 * layout or from a list file. */
#include "plugin/gstalexnetdataset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATASET_ERROR (g_quark_from_static_string ("alexnet-dataset-error"))

gboolean
gst_alexnet_dataset_is_image_name (const gchar * name)
{
  static const gchar *exts[] = { ".jpg", ".jpeg", ".jpe", ".jfif" };
  const gchar *dot = strrchr (name, '.');

  if (name[0] == '.' || dot == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (exts); i++)
    if (g_ascii_strcasecmp (dot, exts[i]) == 0)
      return TRUE;
  return FALSE;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* Sorted names of the entries of @dir_path that pass @keep. */
static GPtrArray *
sorted_entries (const gchar * dir_path, gboolean want_dirs, GError ** error)
{
  GDir *dir = g_dir_open (dir_path, 0, error);
  GPtrArray *names;
  const gchar *name;

  if (dir == NULL)
    return NULL;
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL) {
    gchar *full;
    gboolean is_dir;

    if (name[0] == '.')
      continue;
    full = g_build_filename (dir_path, name, NULL);
    is_dir = g_file_test (full, G_FILE_TEST_IS_DIR);
    g_free (full);
    if (want_dirs ? is_dir : (!is_dir
            && gst_alexnet_dataset_is_image_name (name)))
      g_ptr_array_add (names, g_strdup (name));
  }
  g_dir_close (dir);
  g_ptr_array_sort (names, compare_strings);
  return names;
}

static gboolean
too_many_classes (guint n_classes, guint max_classes, const gchar * location,
    GError ** error)
{
  if (n_classes <= max_classes)
    return FALSE;
  g_set_error (error, DATASET_ERROR, 7,
      "Data set '%s' has %u classes, above the limit max-classes=%u: "
      "raise dataset-src's max-classes if the data set really has that "
      "many.", location, n_classes, max_classes);
  return TRUE;
}

static gboolean
load_folder (GstAlexnetDataset * ds, const gchar * location,
    guint max_classes, GError ** error)
{
  GPtrArray *classes = sorted_entries (location, TRUE, error);
  GArray *samples;

  if (classes == NULL)
    return FALSE;
  if (classes->len == 0) {
    g_set_error (error, DATASET_ERROR, 1,
        "Data set folder '%s' has no class sub-folders (expected "
        "ImageNet layout: one sub-folder of images per class).", location);
    g_ptr_array_unref (classes);
    return FALSE;
  }
  if (too_many_classes (classes->len, max_classes, location, error)) {
    g_ptr_array_unref (classes);
    return FALSE;
  }
  for (guint c = 0; c < classes->len; c++) {
    const gchar *name = g_ptr_array_index (classes, c);
    if (!g_utf8_validate (name, -1, NULL)) {
      gchar *shown = g_strescape (name, NULL);
      g_set_error (error, DATASET_ERROR, 8,
          "Data set folder '%s': the class folder name '%s' is not valid "
          "UTF-8 (class names are stored in checkpoints as JSON): rename "
          "the folder.", location, shown);
      g_free (shown);
      g_ptr_array_unref (classes);
      return FALSE;
    }
  }

  samples = g_array_new (FALSE, FALSE, sizeof (GstAlexnetSample));
  for (guint c = 0; c < classes->len; c++) {
    gchar *class_dir = g_build_filename (location,
        (const gchar *) g_ptr_array_index (classes, c), NULL);
    GPtrArray *files = sorted_entries (class_dir, FALSE, error);

    if (files == NULL) {
      g_free (class_dir);
      g_array_unref (samples);
      g_ptr_array_unref (classes);
      return FALSE;
    }
    for (guint f = 0; f < files->len; f++) {
      GstAlexnetSample s;
      s.path = g_build_filename (class_dir,
          (const gchar *) g_ptr_array_index (files, f), NULL);
      s.label = (gint) c;
      s.index = samples->len;
      g_array_append_val (samples, s);
    }
    g_ptr_array_unref (files);
    g_free (class_dir);
  }

  ds->n_classes = classes->len;
  g_ptr_array_add (classes, NULL);
  ds->class_names = (gchar **) g_ptr_array_free (classes, FALSE);
  ds->n_samples = samples->len;
  ds->samples = (GstAlexnetSample *) g_array_free (samples, FALSE);
  if (ds->n_samples == 0) {
    g_set_error (error, DATASET_ERROR, 2,
        "Data set folder '%s' has %u class folders but no JPEG images "
        "(.jpg, .jpeg, .jpe, .jfif) in them.", location, ds->n_classes);
    gst_alexnet_dataset_clear (ds);
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse_index (const gchar * s, gint * out)
{
  gchar *end = NULL;
  gint64 v;

  if (!g_ascii_isdigit (s[0]))
    return FALSE;
  errno = 0;
  v = g_ascii_strtoll (s, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0 || v > G_MAXINT)
    return FALSE;
  *out = (gint) v;
  return TRUE;
}

/* Splits "path label" at the last run of blanks: paths may hold spaces. */
static gboolean
split_line (gchar * line, gchar ** path, gchar ** label)
{
  gchar *end = line + strlen (line);
  gchar *sep;

  while (end > line && g_ascii_isspace (end[-1]))
    *--end = '\0';
  sep = end;
  while (sep > line && !g_ascii_isspace (sep[-1]))
    sep--;
  if (sep == line)
    return FALSE;
  *label = sep;
  while (sep > line && g_ascii_isspace (sep[-1]))
    *--sep = '\0';
  *path = line;
  while (g_ascii_isspace (**path))
    (*path)++;
  return **path != '\0';
}

static gboolean
load_list (GstAlexnetDataset * ds, const gchar * location,
    guint max_classes, GError ** error)
{
  gchar *contents = NULL, **lines, *base;
  GArray *samples = g_array_new (FALSE, FALSE, sizeof (GstAlexnetSample));
  GPtrArray *labels = g_ptr_array_new ();
  GHashTable *names = g_hash_table_new (g_str_hash, g_str_equal);
  gint max_index = -1, kinds = 0;       /* bit 1: indices, bit 2: names */
  gboolean ok = FALSE;

  if (!g_file_get_contents (location, &contents, NULL, error))
    goto done_early;
  lines = g_strsplit (contents, "\n", -1);
  base = g_path_get_dirname (location);

  for (guint i = 0; lines[i] != NULL; i++) {
    gchar *path, *label;
    GstAlexnetSample s;
    gint idx;

    g_strchomp (lines[i]);
    if (lines[i][0] == '\0' || lines[i][0] == '#')
      continue;
    if (!split_line (lines[i], &path, &label)) {
      g_set_error (error, DATASET_ERROR, 3,
          "%s:%u: expected 'path label', got '%s'.", location, i + 1,
          lines[i]);
      goto done;
    }
    s.path = g_path_is_absolute (path) ? g_strdup (path) :
        g_build_filename (base, path, NULL);
    s.label = -1;
    s.index = samples->len;
    if (parse_index (label, &idx)) {
      if ((guint) idx >= max_classes) {
        g_set_error (error, DATASET_ERROR, 7,
            "%s:%u: label %d is above the limit of max-classes=%u classes "
            "(labels 0 .. %u): fix the label, or raise dataset-src's "
            "max-classes if the data set really has that many classes.",
            location, i + 1, idx, max_classes, max_classes - 1);
        g_free (s.path);
        goto done;
      }
      s.label = idx;
      max_index = MAX (max_index, idx);
      kinds |= 1;
    } else if (!g_utf8_validate (label, -1, NULL)) {
      gchar *shown = g_strescape (label, NULL);
      g_set_error (error, DATASET_ERROR, 8,
          "%s:%u: the class name '%s' is not valid UTF-8 (class names are "
          "stored in checkpoints as JSON): write the list in UTF-8.",
          location, i + 1, shown);
      g_free (shown);
      g_free (s.path);
      goto done;
    } else {
      g_hash_table_add (names, label);
      kinds |= 2;
    }
    g_array_append_val (samples, s);
    g_ptr_array_add (labels, label);
    if (kinds == 3) {
      g_set_error (error, DATASET_ERROR, 4,
          "%s:%u: labels mix class indices and class names.", location,
          i + 1);
      goto done;
    }
  }
  if (samples->len == 0) {
    g_set_error (error, DATASET_ERROR, 5, "List file '%s' has no samples.",
        location);
    goto done;
  }

  if (kinds == 1) {
    ds->n_classes = (guint) max_index + 1;
    ds->class_names = g_new0 (gchar *, ds->n_classes + 1);
    for (guint c = 0; c < ds->n_classes; c++)
      ds->class_names[c] = g_strdup_printf ("%u", c);
  } else {
    /* names sorted give the indices; then each sample's index by a hash
     * look-up (a search per sample was quadratic) */
    GList *keys;
    guint c = 0;

    if (too_many_classes (g_hash_table_size (names), max_classes, location,
            error))
      goto done;
    keys = g_list_sort (g_hash_table_get_keys (names), (GCompareFunc) strcmp);
    ds->n_classes = g_hash_table_size (names);
    ds->class_names = g_new0 (gchar *, ds->n_classes + 1);
    for (GList * l = keys; l != NULL; l = l->next, c++) {
      ds->class_names[c] = g_strdup (l->data);
      g_hash_table_insert (names, l->data, GUINT_TO_POINTER (c));
    }
    g_list_free (keys);
    for (guint i = 0; i < samples->len; i++) {
      const gchar *name = g_ptr_array_index (labels, i);
      g_array_index (samples, GstAlexnetSample, i).label =
          (gint) GPOINTER_TO_UINT (g_hash_table_lookup (names, name));
    }
  }
  ds->n_samples = samples->len;
  ds->samples = (GstAlexnetSample *) g_array_free (samples, FALSE);
  samples = NULL;
  ok = TRUE;

done:
  g_free (base);
  g_strfreev (lines);
done_early:
  if (samples != NULL) {
    for (guint i = 0; i < samples->len; i++)
      g_free (g_array_index (samples, GstAlexnetSample, i).path);
    g_array_unref (samples);
  }
  g_ptr_array_unref (labels);
  g_hash_table_unref (names);
  g_free (contents);
  return ok;
}

gboolean
gst_alexnet_dataset_load_full (GstAlexnetDataset * ds,
    const gchar * location, guint max_classes, GError ** error)
{
  memset (ds, 0, sizeof (*ds));
  g_return_val_if_fail (max_classes >= 1, FALSE);
  if (g_file_test (location, G_FILE_TEST_IS_DIR))
    return load_folder (ds, location, max_classes, error);
  if (g_file_test (location, G_FILE_TEST_IS_REGULAR))
    return load_list (ds, location, max_classes, error);
  g_set_error (error, DATASET_ERROR, 6,
      "Data set location '%s' does not exist.", location);
  return FALSE;
}

gboolean
gst_alexnet_dataset_load (GstAlexnetDataset * ds, const gchar * location,
    GError ** error)
{
  return gst_alexnet_dataset_load_full (ds, location,
      GST_ALEXNET_DATASET_MAX_CLASSES, error);
}

gboolean
gst_alexnet_dataset_read_sample (const gchar * path, guint64 max_size,
    gchar ** bytes, gsize * length, GError ** error)
{
  struct stat st;
  gchar *buf;
  gsize size, got = 0;
  /* O_NONBLOCK: a FIFO is refused below instead of blocking the open */
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

  if (fd < 0) {
    g_set_error (error, DATASET_ERROR, 9, "cannot open: %s",
        g_strerror (errno));
    return FALSE;
  }
  if (fstat (fd, &st) != 0) {
    g_set_error (error, DATASET_ERROR, 9, "cannot stat: %s",
        g_strerror (errno));
    goto failed;
  }
  if (!S_ISREG (st.st_mode)) {
    g_set_error (error, DATASET_ERROR, 10, "not a regular file (only "
        "regular files are read, not devices, FIFOs or folders)");
    goto failed;
  }
  if ((guint64) st.st_size > max_size) {
    g_set_error (error, DATASET_ERROR, 11, "%" G_GUINT64_FORMAT " bytes, "
        "above the limit max-file-size=%" G_GUINT64_FORMAT " (raise "
        "dataset-src's max-file-size to read it)", (guint64) st.st_size,
        max_size);
    goto failed;
  }
  size = (gsize) st.st_size;
  buf = g_try_malloc (MAX (size, 1));
  if (buf == NULL) {
    g_set_error (error, DATASET_ERROR, 12, "out of memory for %"
        G_GSIZE_FORMAT " bytes", size);
    goto failed;
  }
  while (got < size) {
    ssize_t r = read (fd, buf + got, size - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      g_set_error (error, DATASET_ERROR, 9, "read failed: %s",
          r < 0 ? g_strerror (errno) : "the file shrank while being read");
      g_free (buf);
      goto failed;
    }
    got += (gsize) r;
  }
  close (fd);
  *bytes = buf;
  *length = size;
  return TRUE;

failed:
  close (fd);
  return FALSE;
}

void
gst_alexnet_dataset_clear (GstAlexnetDataset * ds)
{
  for (guint64 i = 0; i < ds->n_samples; i++)
    g_free (ds->samples[i].path);
  g_free (ds->samples);
  g_strfreev (ds->class_names);
  memset (ds, 0, sizeof (*ds));
}
