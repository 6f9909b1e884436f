/* Reading and writing the colour statistics file (docs/stats-format.md)
 * with json-glib. Every failure names the file and says what is wrong. */
#include "plugin/gstalexnetstats.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

G_DEFINE_QUARK (gst-alexnet-stats-error-quark, gst_alexnet_stats_error);

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

static gboolean
read_numbers (JsonArray * array, gdouble * out, guint n)
{
  if (json_array_get_length (array) != n)
    return FALSE;
  for (guint i = 0; i < n; i++) {
    JsonNode *node = json_array_get_element (array, i);
    GType t;
    if (!JSON_NODE_HOLDS_VALUE (node))
      return FALSE;
    t = json_node_get_value_type (node);
    if (t != G_TYPE_DOUBLE && t != G_TYPE_INT64)
      return FALSE;
    out[i] = json_node_get_double (node);
  }
  return TRUE;
}

/* A member holding 3 numbers (rows == 0) or 3 rows of 3 numbers. */
static gboolean
read_field (const gchar * path, JsonObject * root, const gchar * name,
    gboolean matrix, gdouble * out, GError ** error)
{
  JsonNode *node = json_object_get_member (root, name);
  JsonArray *array;

  if (node == NULL)
    goto missing;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    goto wrong_shape;
  array = json_node_get_array (node);
  if (!matrix) {
    if (!read_numbers (array, out, 3))
      goto wrong_shape;
    return TRUE;
  }
  if (json_array_get_length (array) != 3)
    goto wrong_shape;
  for (guint r = 0; r < 3; r++) {
    JsonNode *row = json_array_get_element (array, r);
    if (!JSON_NODE_HOLDS_ARRAY (row) ||
        !read_numbers (json_node_get_array (row), out + 3 * r, 3))
      goto wrong_shape;
  }
  return TRUE;

  /* ERRORS */
missing:
  g_set_error (error, GST_ALEXNET_STATS_ERROR, GST_ALEXNET_STATS_ERROR_FORMAT,
      "%s: the field \"%s\" is missing", path, name);
  return FALSE;
wrong_shape:
  g_set_error (error, GST_ALEXNET_STATS_ERROR, GST_ALEXNET_STATS_ERROR_FORMAT,
      "%s: the field \"%s\" must be %s", path, name,
      matrix ? "3 rows of 3 numbers" : "a list of 3 numbers");
  return FALSE;
}

/* An optional non-negative integer member; absent reads as 0. */
static gboolean
read_count (const gchar * path, JsonObject * root, const gchar * name,
    guint64 * out, GError ** error)
{
  JsonNode *node = json_object_get_member (root, name);

  *out = 0;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64 ||
      json_node_get_int (node) < 0) {
    g_set_error (error, GST_ALEXNET_STATS_ERROR,
        GST_ALEXNET_STATS_ERROR_FORMAT,
        "%s: the field \"%s\" must be a non-negative integer", path, name);
    return FALSE;
  }
  *out = (guint64) json_node_get_int (node);
  return TRUE;
}

static gboolean
check_header (const gchar * path, JsonObject * root, GError ** error)
{
  const gchar *format = json_object_get_string_member_with_default (root,
      "format", NULL);
  const gchar *scale = json_object_get_string_member_with_default (root,
      "scale", NULL);
  JsonNode *version = json_object_get_member (root, "version");

  if (g_strcmp0 (format, GST_ALEXNET_STATS_FORMAT) != 0) {
    g_set_error (error, GST_ALEXNET_STATS_ERROR,
        GST_ALEXNET_STATS_ERROR_FORMAT,
        "%s: not a statistics file (\"format\" is %s%s%s, expected \""
        GST_ALEXNET_STATS_FORMAT "\")", path, format ? "\"" : "",
        format ? format : "missing", format ? "\"" : "");
    return FALSE;
  }
  if (version == NULL || !JSON_NODE_HOLDS_VALUE (version) ||
      json_node_get_value_type (version) != G_TYPE_INT64 ||
      json_node_get_int (version) != GST_ALEXNET_STATS_VERSION) {
    g_set_error (error, GST_ALEXNET_STATS_ERROR,
        GST_ALEXNET_STATS_ERROR_FORMAT,
        "%s: unsupported \"version\" (this build reads version %d)", path,
        GST_ALEXNET_STATS_VERSION);
    return FALSE;
  }
  if (scale != NULL && strcmp (scale, "0..1") != 0) {
    g_set_error (error, GST_ALEXNET_STATS_ERROR,
        GST_ALEXNET_STATS_ERROR_FORMAT,
        "%s: unsupported \"scale\" \"%s\" (expected \"0..1\")", path, scale);
    return FALSE;
  }
  return TRUE;
}

gboolean
gst_alexnet_stats_load (const gchar * path, GstAlexnetStats * out,
    GError ** error)
{
  JsonParser *parser = json_parser_new ();
  JsonNode *root_node;
  JsonObject *root;
  GstAlexnetStats s;
  GError *err = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (!json_parser_load_from_file (parser, path, &err))
    goto load_failed;
  root_node = json_parser_get_root (parser);
  if (root_node == NULL || !JSON_NODE_HOLDS_OBJECT (root_node))
    goto not_object;
  root = json_node_get_object (root_node);

  memset (&s, 0, sizeof (s));
  if (check_header (path, root, error) &&
      read_count (path, root, "images", &s.images, error) &&
      read_count (path, root, "pixels", &s.pixels, error) &&
      read_field (path, root, "mean", FALSE, s.mean, error) &&
      read_field (path, root, "std", FALSE, s.std, error) &&
      read_field (path, root, "covariance", TRUE, &s.covariance[0][0], error) &&
      read_field (path, root, "eigenvalues", FALSE, s.eigenvalues, error) &&
      read_field (path, root, "eigenvectors", TRUE, &s.eigenvectors[0][0],
          error)) {
    *out = s;
    ok = TRUE;
  }
  g_object_unref (parser);
  return ok;

  /* ERRORS */
load_failed:
  {
    /* GFileError messages already name the file; JSON ones do not. */
    if (err->domain == G_FILE_ERROR)
      g_propagate_error (error, err);
    else {
      g_set_error (error, GST_ALEXNET_STATS_ERROR,
          GST_ALEXNET_STATS_ERROR_PARSE, "%s: not valid JSON: %s", path,
          err->message);
      g_error_free (err);
    }
    g_object_unref (parser);
    return FALSE;
  }
not_object:
  {
    g_set_error (error, GST_ALEXNET_STATS_ERROR,
        GST_ALEXNET_STATS_ERROR_FORMAT,
        "%s: the file must hold one JSON object", path);
    g_object_unref (parser);
    return FALSE;
  }
}

/* ---- saving ------------------------------------------------------------ */

static void
add_vector (JsonBuilder * b, const gchar * name, const gdouble * v)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (int i = 0; i < 3; i++)
    json_builder_add_double_value (b, v[i]);
  json_builder_end_array (b);
}

static void
add_matrix (JsonBuilder * b, const gchar * name, const gdouble m[3][3])
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (int r = 0; r < 3; r++) {
    json_builder_begin_array (b);
    for (int c = 0; c < 3; c++)
      json_builder_add_double_value (b, m[r][c]);
    json_builder_end_array (b);
  }
  json_builder_end_array (b);
}

static gchar *
stats_to_json (const GstAlexnetStats * s, gsize * length)
{
  JsonBuilder *b = json_builder_new ();
  JsonGenerator *gen = json_generator_new ();
  JsonNode *root;
  gchar *text;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, GST_ALEXNET_STATS_FORMAT);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, GST_ALEXNET_STATS_VERSION);
  json_builder_set_member_name (b, "images");
  json_builder_add_int_value (b, (gint64) s->images);
  json_builder_set_member_name (b, "pixels");
  json_builder_add_int_value (b, (gint64) s->pixels);
  json_builder_set_member_name (b, "scale");
  json_builder_add_string_value (b, "0..1");
  add_vector (b, "mean", s->mean);
  add_vector (b, "std", s->std);
  add_matrix (b, "covariance", s->covariance);
  add_vector (b, "eigenvalues", s->eigenvalues);
  add_matrix (b, "eigenvectors", s->eigenvectors);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, length);
  json_node_unref (root);
  g_object_unref (gen);
  g_object_unref (b);
  return text;
}

gboolean
gst_alexnet_stats_save (const gchar * path, const GstAlexnetStats * stats,
    GError ** error)
{
  gsize length;
  gchar *text, *data;
  gboolean ok;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (stats != NULL, FALSE);

  for (int i = 0; i < 3; i++)
    if (!isfinite (stats->mean[i]) || !isfinite (stats->std[i]) ||
        !isfinite (stats->eigenvalues[i]))
      goto not_finite;

  text = stats_to_json (stats, &length);
  data = g_strconcat (text, "\n", NULL);
  /* CONSISTENT: a temporary file in the same folder, fsync, rename. */
  ok = g_file_set_contents_full (path, data, length + 1,
      G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0644,
      error);
  g_free (data);
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
