/* Reading and writing the colour statistics file (docs/stats-format.md)
 * with the core's strict JSON reader and its one writer
 * (kernels/util/json.h). Every failure names the file and says what is
 * wrong. */
#include "plugin/gstalexnetstats.h"

#include <glib/gstdio.h>
#include <stdarg.h>

#include "kernels/util/json.h"
#include <math.h>
#include <string.h>

G_DEFINE_QUARK (gst - alexnet - stats - error - quark, gst_alexnet_stats_error);

void
gst_alexnet_stats_init_imagenet (GstAlexnetStats * stats)
{
  static const gdouble mean[3] = { 0.485, 0.456, 0.406 };
  static const gdouble std[3] = { 0.229, 0.224, 0.225 };
  static const gdouble eigval[3] = { 0.2175, 0.0188, 0.0045 };
  static const gdouble eigvec[3][3] = {
    {-0.5675, 0.7192, 0.4009},
    {-0.5808, -0.0045, -0.8140},
    {-0.5836, -0.6948, 0.4203},
  };

  memset (stats, 0, sizeof (*stats));
  memcpy (stats->mean, mean, sizeof (mean));
  memcpy (stats->std, std, sizeof (std));
  memcpy (stats->eigenvalues, eigval, sizeof (eigval));
  memcpy (stats->eigenvectors, eigvec, sizeof (eigvec));
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 3; c++)
      for (int k = 0; k < 3; k++)
        stats->covariance[r][c] += eigvec[r][k] * eigval[k] * eigvec[c][k];
}

/* ---- loading ----------------------------------------------------------- */

/* Larger than any statistics file (a few hundred bytes); refused before
 * reading it. */
#define STATS_MAX_BYTES (1 << 20)

static gboolean
format_error (GError ** error, const gchar * fmt, ...)
G_GNUC_PRINTF (2, 3);

     static gboolean format_error (GError ** error, const gchar * fmt, ...)
{
  va_list ap;
  gchar *msg;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, GST_ALEXNET_STATS_ERROR,
      GST_ALEXNET_STATS_ERROR_FORMAT, msg);
  g_free (msg);
  return FALSE;
}

static gboolean
read_numbers (const ax_json * array, gdouble * out, guint n)
{
  if (array->type != AX_JSON_ARRAY || array->count != n)
    return FALSE;
  for (guint i = 0; i < n; i++) {
    if (array->items[i].type != AX_JSON_NUMBER)
      return FALSE;
    out[i] = array->items[i].number;
  }
  return TRUE;
}

/* A member holding 3 numbers (!matrix) or 3 rows of 3 numbers. */
static gboolean
read_field (const gchar * path, const ax_json * root, const gchar * name,
    gboolean matrix, gdouble * out, GError ** error)
{
  const ax_json *node = ax_json_get (root, name);
  gboolean ok;

  if (node == NULL)
    return format_error (error, "%s: the field \"%s\" is missing", path, name);
  if (!matrix) {
    ok = read_numbers (node, out, 3);
  } else {
    ok = node->type == AX_JSON_ARRAY && node->count == 3;
    for (guint r = 0; ok && r < 3; r++)
      ok = read_numbers (&node->items[r], out + 3 * r, 3);
  }
  if (!ok)
    return format_error (error, "%s: the field \"%s\" must be %s", path,
        name, matrix ? "3 rows of 3 numbers" : "a list of 3 numbers");
  return TRUE;
}

/* An optional non-negative integer member; absent reads as 0. */
static gboolean
read_count (const gchar * path, const ax_json * root, const gchar * name,
    guint64 * out, GError ** error)
{
  const ax_json *node = ax_json_get (root, name);

  *out = 0;
  if (node == NULL)
    return TRUE;
  if (node->type != AX_JSON_NUMBER || !node->is_integer || node->integer < 0)
    return format_error (error, "%s: the field \"%s\" must be a "
        "non-negative integer", path, name);
  *out = (guint64) node->integer;
  return TRUE;
}

/* Every value finite and possible on the 0..1 scale (docs/stats-format.md):
 * a std of 0 or 1e300 would divide a frame into infinities, and a
 * checkpoint written with them cannot be loaded again. */
static gboolean
check_range (const gchar * path, const gchar * name, const gdouble * v,
    guint n, gdouble lo, gdouble hi, gboolean open_lo, GError ** error)
{
  for (guint i = 0; i < n; i++)
    if (!isfinite (v[i]) || v[i] > hi || v[i] < lo || (open_lo && v[i] == lo))
      return format_error (error, "%s: \"%s\" value %u is %g, outside "
          "%s%g, %g] (a statistics file on the 0..1 scale; recompute it with "
          "dataset-stats)", path, name, i, v[i], open_lo ? "(" : "[", lo, hi);
  return TRUE;
}

static gboolean
check_values (const gchar * path, const GstAlexnetStats * s, GError ** error)
{
  return check_range (path, "mean", s->mean, 3, 0.0, 1.0, FALSE, error) &&
      check_range (path, "std", s->std, 3, 0.0, 1.0, TRUE, error) &&
      check_range (path, "covariance", &s->covariance[0][0], 9, -1.0, 1.0,
      FALSE, error) &&
      check_range (path, "eigenvalues", s->eigenvalues, 3,
      -GST_ALEXNET_STATS_EIGEN_ROUNDING, 1.0, FALSE, error) &&
      check_range (path, "eigenvectors", &s->eigenvectors[0][0], 9,
      -1.0 - GST_ALEXNET_STATS_EIGEN_ROUNDING,
      1.0 + GST_ALEXNET_STATS_EIGEN_ROUNDING, FALSE, error);
}

static const gchar *
string_member (const ax_json * root, const gchar * name)
{
  const ax_json *node = ax_json_get (root, name);

  return node && node->type == AX_JSON_STRING ? node->string : NULL;
}

static gboolean
check_header (const gchar * path, const ax_json * root, GError ** error)
{
  const gchar *format = string_member (root, "format");
  const gchar *scale = string_member (root, "scale");
  const ax_json *version = ax_json_get (root, "version");

  if (g_strcmp0 (format, GST_ALEXNET_STATS_FORMAT) != 0)
    return format_error (error, "%s: not a statistics file (\"format\" is "
        "%s%s%s, expected \"" GST_ALEXNET_STATS_FORMAT "\")", path,
        format ? "\"" : "", format ? format : "missing", format ? "\"" : "");
  if (version == NULL || version->type != AX_JSON_NUMBER
      || !version->is_integer || version->integer != GST_ALEXNET_STATS_VERSION)
    return format_error (error, "%s: unsupported \"version\" (this build "
        "reads version %d)", path, GST_ALEXNET_STATS_VERSION);
  if (scale != NULL && strcmp (scale, "0..1") != 0)
    return format_error (error, "%s: unsupported \"scale\" \"%s\" "
        "(expected \"0..1\")", path, scale);
  return TRUE;
}

gboolean
gst_alexnet_stats_load (const gchar * path, GstAlexnetStats * out,
    GError ** error)
{
  gchar *text = NULL, why[256];
  gsize length = 0;
  ax_json *root;
  GstAlexnetStats s;
  GStatBuf st;
  gboolean ok = FALSE;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (g_stat (path, &st) == 0 && st.st_size > STATS_MAX_BYTES)
    return format_error (error, "%s: %" G_GUINT64_FORMAT " bytes is too "
        "large for a statistics file", path, (guint64) st.st_size);
  /* GFileError messages already name the file */
  if (!g_file_get_contents (path, &text, &length, error))
    return FALSE;
  root = ax_json_parse (text, length, why, sizeof why);
  g_free (text);
  if (root == NULL) {
    g_set_error (error, GST_ALEXNET_STATS_ERROR,
        GST_ALEXNET_STATS_ERROR_PARSE, "%s: not valid JSON: %s", path, why);
    return FALSE;
  }
  memset (&s, 0, sizeof (s));
  if (root->type != AX_JSON_OBJECT)
    format_error (error, "%s: the file must hold one JSON object", path);
  else if (check_header (path, root, error) &&
      read_count (path, root, "images", &s.images, error) &&
      read_count (path, root, "pixels", &s.pixels, error) &&
      read_field (path, root, "mean", FALSE, s.mean, error) &&
      read_field (path, root, "std", FALSE, s.std, error) &&
      read_field (path, root, "covariance", TRUE, &s.covariance[0][0], error) &&
      read_field (path, root, "eigenvalues", FALSE, s.eigenvalues, error) &&
      read_field (path, root, "eigenvectors", TRUE, &s.eigenvectors[0][0],
          error) && check_values (path, &s, error)) {
    *out = s;
    ok = TRUE;
  }
  ax_json_free (root);
  return ok;
}

/* ---- saving ------------------------------------------------------------ */

static void
add_matrix (ax_json_writer * w, const gchar * name, const gdouble m[3][3])
{
  ax_json_key (w, name);
  ax_json_begin_array (w);
  for (int r = 0; r < 3; r++)
    ax_json_doubles (w, m[r], 3);
  ax_json_end_array (w);
}

/* The file's text, pretty-printed, with its final newline; NULL when out
 * of memory. Through the project's one JSON writer: numbers the shortest
 * that read back exactly, the same in every locale. */
static gchar *
stats_to_json (const GstAlexnetStats * s, gsize * length)
{
  ax_json_writer w = { 0 };
  gchar *text = NULL;

  w.pretty = 1;
  ax_json_begin_object (&w);
  ax_json_key (&w, "format");
  ax_json_string (&w, GST_ALEXNET_STATS_FORMAT);
  ax_json_key (&w, "version");
  ax_json_int (&w, GST_ALEXNET_STATS_VERSION);
  ax_json_key (&w, "images");
  ax_json_uint (&w, s->images);
  ax_json_key (&w, "pixels");
  ax_json_uint (&w, s->pixels);
  ax_json_key (&w, "scale");
  ax_json_string (&w, "0..1");
  ax_json_key (&w, "mean");
  ax_json_doubles (&w, s->mean, 3);
  ax_json_key (&w, "std");
  ax_json_doubles (&w, s->std, 3);
  add_matrix (&w, "covariance", s->covariance);
  ax_json_key (&w, "eigenvalues");
  ax_json_doubles (&w, s->eigenvalues, 3);
  add_matrix (&w, "eigenvectors", s->eigenvectors);
  ax_json_end_object (&w);
  ax_strbuf_puts (&w.out, "\n");
  if (!w.out.failed) {
    text = g_strndup (w.out.data, w.out.len);
    *length = w.out.len;
  }
  ax_strbuf_free (&w.out);
  return text;
}

gboolean
gst_alexnet_stats_save (const gchar * path, const GstAlexnetStats * stats,
    GError ** error)
{
  gsize length = 0;
  gchar *text;
  gboolean ok;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (stats != NULL, FALSE);

  for (int i = 0; i < 3; i++)
    if (!isfinite (stats->mean[i]) || !isfinite (stats->std[i]) ||
        !isfinite (stats->eigenvalues[i]))
      goto not_finite;
  for (int i = 0; i < 9; i++)
    if (!isfinite ((&stats->covariance[0][0])[i])
        || !isfinite ((&stats->eigenvectors[0][0])[i]))
      goto not_finite;

  if (!(text = stats_to_json (stats, &length))) {
    g_set_error (error, GST_ALEXNET_STATS_ERROR, GST_ALEXNET_STATS_ERROR_VALUE,
        "%s: not written, out of memory", path);
    return FALSE;
  }
  /* CONSISTENT: a temporary file in the same folder, fsync, rename. */
  ok = g_file_set_contents_full (path, text, length,
      G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0644,
      error);
  g_free (text);
  return ok;

  /* ERRORS */
not_finite:
  {
    g_set_error (error, GST_ALEXNET_STATS_ERROR, GST_ALEXNET_STATS_ERROR_VALUE,
        "%s: not written, the statistics are not finite numbers", path);
    return FALSE;
  }
}
