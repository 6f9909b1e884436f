/* The classification meta, and its forms as a bus message structure and as
 * a line of JSON. */
#include <math.h>
#include <string.h>

#include "plugin/gstalexnetclassmeta.h"
#include "plugin/gstalexnetmeta.h"

static gboolean
class_meta_init (GstMeta * meta, gpointer params, GstBuffer * buffer)
{
  GstAlexnetClassMeta *m = (GstAlexnetClassMeta *) meta;
  (void) params;
  (void) buffer;
  m->k = 0;
  m->top = NULL;
  m->n_classes = 0;
  m->probabilities = NULL;
  m->model = NULL;
  m->n_views = 1;
  return TRUE;
}

static void
class_meta_clear (GstAlexnetClassMeta * m)
{
  for (guint i = 0; i < m->k; i++)
    g_free (m->top[i].label);
  g_clear_pointer (&m->top, g_free);
  g_clear_pointer (&m->probabilities, g_free);
  g_clear_pointer (&m->model, g_free);
  m->k = 0;
  m->n_classes = 0;
}

static void
class_meta_free (GstMeta * meta, GstBuffer * buffer)
{
  (void) buffer;
  class_meta_clear ((GstAlexnetClassMeta *) meta);
}

static void
class_meta_set_top (GstAlexnetClassMeta * m, guint k, const gint * indices,
    const gfloat * probs, const gchar * const *labels)
{
  m->k = k;
  m->top = g_new0 (GstAlexnetClassEntry, k);
  for (guint i = 0; i < k; i++) {
    m->top[i].index = indices[i];
    m->top[i].probability = probs[i];
    m->top[i].label = g_strdup (labels != NULL ? labels[i] : NULL);
  }
}

static void
class_meta_copy_fields (GstAlexnetClassMeta * dst,
    const GstAlexnetClassMeta * src)
{
  class_meta_clear (dst);
  dst->k = src->k;
  dst->top = g_new0 (GstAlexnetClassEntry, src->k);
  for (guint i = 0; i < src->k; i++) {
    dst->top[i] = src->top[i];
    dst->top[i].label = g_strdup (src->top[i].label);
  }
  dst->n_classes = src->n_classes;
  dst->probabilities = src->n_classes > 0 ?
      g_memdup2 (src->probabilities, src->n_classes * sizeof (gfloat)) : NULL;
  dst->model = g_strdup (src->model);
  dst->n_views = src->n_views;
}

/* What the network saw does not change when the pixels are copied, scaled,
 * cropped or converted, so the result is copied on every transform. */
static gboolean
class_meta_transform (GstBuffer * dest, GstMeta * meta, GstBuffer * buffer,
    GQuark type, gpointer data)
{
  GstAlexnetClassMeta *src = (GstAlexnetClassMeta *) meta;
  GstAlexnetClassMeta *dst;
  (void) buffer;
  (void) type;
  (void) data;

  dst = gst_buffer_get_alexnet_class_meta (dest);
  if (dst == NULL)
    dst = (GstAlexnetClassMeta *) gst_buffer_add_meta (dest,
        GST_ALEXNET_CLASS_META_INFO, NULL);
  if (dst == NULL)
    return FALSE;
  class_meta_copy_fields (dst, src);
  return TRUE;
}

GType
gst_alexnet_class_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };

  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("GstAlexnetClassMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

const GstMetaInfo *
gst_alexnet_class_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) & info)) {
    const GstMetaInfo *mi = gst_meta_register (GST_ALEXNET_CLASS_META_API_TYPE,
        "GstAlexnetClassMeta", sizeof (GstAlexnetClassMeta),
        class_meta_init, class_meta_free, class_meta_transform);
    g_once_init_leave ((GstMetaInfo **) & info, (GstMetaInfo *) mi);
  }
  return info;
}

GstAlexnetClassMeta *
gst_buffer_add_alexnet_class_meta (GstBuffer * buffer, guint k,
    const gint * indices, const gfloat * probs, const gchar * const *labels,
    guint n_all, const gfloat * all_probs)
{
  GstAlexnetClassMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (k == 0 || (indices != NULL && probs != NULL), NULL);
  g_return_val_if_fail (n_all == 0 || all_probs != NULL, NULL);

  m = (GstAlexnetClassMeta *) gst_buffer_add_meta (buffer,
      GST_ALEXNET_CLASS_META_INFO, NULL);
  if (m == NULL)
    return NULL;
  class_meta_set_top (m, k, indices, probs, labels);
  if (n_all > 0) {
    m->n_classes = n_all;
    m->probabilities = g_memdup2 (all_probs, n_all * sizeof (gfloat));
  }
  return m;
}

void
gst_alexnet_class_meta_set_model (GstAlexnetClassMeta * meta,
    const gchar * model, gint n_views)
{
  g_return_if_fail (meta != NULL);
  g_free (meta->model);
  meta->model = g_strdup (model);
  meta->n_views = n_views;
}

gchar *
gst_alexnet_class_result_id (GstBuffer * buffer)
{
  GstAlexnetLabelMeta *label;
  GstClockTime pts;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  label = gst_buffer_get_alexnet_label_meta (buffer);
  if (label != NULL && label->sample_id != NULL)
    return g_strdup (label->sample_id);
  pts = GST_BUFFER_PTS (buffer);
  if (GST_CLOCK_TIME_IS_VALID (pts))
    return g_strdup_printf ("%" GST_TIME_FORMAT, GST_TIME_ARGS (pts));
  return NULL;
}

/* --- the bus message --- */

static void
array_append_double (GValue * array, gdouble v)
{
  GValue item = G_VALUE_INIT;
  g_value_init (&item, G_TYPE_DOUBLE);
  g_value_set_double (&item, v);
  gst_value_array_append_and_take_value (array, &item);
}

GstStructure *
gst_alexnet_class_meta_to_structure (const GstAlexnetClassMeta * meta,
    const gchar * id, GstClockTime pts)
{
  GValue indices = G_VALUE_INIT, labels = G_VALUE_INIT, probs = G_VALUE_INIT;
  GstStructure *s;

  g_return_val_if_fail (meta != NULL, NULL);
  s = gst_structure_new (GST_ALEXNET_CLASSIFICATION_MESSAGE_NAME,
      "id", G_TYPE_STRING, id, "pts", G_TYPE_UINT64, (guint64) pts,
      "k", G_TYPE_UINT, meta->k, "n-views", G_TYPE_INT, meta->n_views, NULL);
  if (meta->model != NULL)
    gst_structure_set (s, "model", G_TYPE_STRING, meta->model, NULL);

  gst_value_array_init (&indices, meta->k);
  gst_value_array_init (&labels, meta->k);
  gst_value_array_init (&probs, meta->k);
  for (guint i = 0; i < meta->k; i++) {
    GValue item = G_VALUE_INIT;

    g_value_init (&item, G_TYPE_INT);
    g_value_set_int (&item, meta->top[i].index);
    gst_value_array_append_and_take_value (&indices, &item);
    /* a NULL string in an array does not serialise: unknown is "" */
    g_value_init (&item, G_TYPE_STRING);
    g_value_set_string (&item, meta->top[i].label ? meta->top[i].label : "");
    gst_value_array_append_and_take_value (&labels, &item);
    array_append_double (&probs, meta->top[i].probability);
  }
  gst_structure_take_value (s, "top-k-indices", &indices);
  gst_structure_take_value (s, "top-k-labels", &labels);
  gst_structure_take_value (s, "top-k-probabilities", &probs);

  if (meta->n_classes > 0) {
    GValue all = G_VALUE_INIT;

    gst_value_array_init (&all, meta->n_classes);
    for (guint i = 0; i < meta->n_classes; i++)
      array_append_double (&all, meta->probabilities[i]);
    gst_structure_take_value (s, "probabilities", &all);
  }
  return s;
}

/* --- the JSON line --- */

/* A JSON string literal: quotes, backslashes and control characters
 * escaped, anything that is not UTF-8 replaced by U+FFFD, the rest (UTF-8
 * included) written as it is, which JSON allows. */
static void
json_append_string (GString * out, const gchar * str)
{
  gchar *valid;
  const guchar *p;

  if (str == NULL) {
    g_string_append (out, "null");
    return;
  }
  valid = g_utf8_make_valid (str, -1);
  g_string_append_c (out, '"');
  for (p = (const guchar *) valid; *p != '\0'; p++) {
    switch (*p) {
      case '"':
        g_string_append (out, "\\\"");
        break;
      case '\\':
        g_string_append (out, "\\\\");
        break;
      case '\b':
        g_string_append (out, "\\b");
        break;
      case '\f':
        g_string_append (out, "\\f");
        break;
      case '\n':
        g_string_append (out, "\\n");
        break;
      case '\r':
        g_string_append (out, "\\r");
        break;
      case '\t':
        g_string_append (out, "\\t");
        break;
      default:
        if (*p < 0x20)
          g_string_append_printf (out, "\\u%04x", *p);
        else
          g_string_append_c (out, (gchar) * p);
        break;
    }
  }
  g_string_append_c (out, '"');
  g_free (valid);
}

/* The shortest decimal (6 to 9 significant digits) that reads back as the
 * same float, whatever the locale; null for NaN and infinities, which JSON
 * cannot hold. */
static void
json_append_float (GString * out, gfloat v)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  const gchar *formats[] = { "%.6g", "%.7g", "%.8g", "%.9g" };

  if (!isfinite (v)) {
    g_string_append (out, "null");
    return;
  }
  for (guint i = 0; i < G_N_ELEMENTS (formats); i++) {
    g_ascii_formatd (buf, sizeof (buf), formats[i], v);
    if ((gfloat) g_ascii_strtod (buf, NULL) == v)
      break;
  }
  g_string_append (out, buf);
}

gchar *
gst_alexnet_class_meta_to_json_line (const GstAlexnetClassMeta * meta,
    const gchar * id, GstClockTime pts)
{
  GString *out;

  g_return_val_if_fail (meta != NULL, NULL);
  out = g_string_sized_new (128 + 64 * meta->k + 12 * meta->n_classes);

  g_string_append (out, "{\"id\":");
  json_append_string (out, id);
  if (GST_CLOCK_TIME_IS_VALID (pts))
    g_string_append_printf (out, ",\"pts\":%" G_GUINT64_FORMAT, pts);
  else
    g_string_append (out, ",\"pts\":null");
  if (meta->model != NULL) {
    g_string_append (out, ",\"model\":");
    json_append_string (out, meta->model);
  }
  g_string_append_printf (out, ",\"views\":%d,\"top_k\":[", meta->n_views);
  for (guint i = 0; i < meta->k; i++) {
    g_string_append_printf (out, "%s{\"index\":%d,\"label\":", i ? "," : "",
        meta->top[i].index);
    json_append_string (out, meta->top[i].label);
    g_string_append (out, ",\"probability\":");
    json_append_float (out, meta->top[i].probability);
    g_string_append_c (out, '}');
  }
  g_string_append_c (out, ']');
  if (meta->n_classes > 0) {
    g_string_append (out, ",\"probabilities\":[");
    for (guint i = 0; i < meta->n_classes; i++) {
      if (i > 0)
        g_string_append_c (out, ',');
      json_append_float (out, meta->probabilities[i]);
    }
    g_string_append_c (out, ']');
  }
  g_string_append (out, "}\n");
  return g_string_free (out, FALSE);
}

GstMessage *
gst_alexnet_classification_message_new (GstObject * src, GstBuffer * buffer)
{
  GstAlexnetClassMeta *meta;
  GstStructure *s;
  gchar *id;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  meta = gst_buffer_get_alexnet_class_meta (buffer);
  if (meta == NULL)
    return NULL;
  id = gst_alexnet_class_result_id (buffer);
  s = gst_alexnet_class_meta_to_structure (meta, id, GST_BUFFER_PTS (buffer));
  g_free (id);
  return gst_message_new_element (src, s);
}

gchar *
gst_alexnet_classification_json_line (GstBuffer * buffer)
{
  GstAlexnetClassMeta *meta;
  gchar *id, *line;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  meta = gst_buffer_get_alexnet_class_meta (buffer);
  if (meta == NULL)
    return NULL;
  id = gst_alexnet_class_result_id (buffer);
  line = gst_alexnet_class_meta_to_json_line (meta, id,
      GST_BUFFER_PTS (buffer));
  g_free (id);
  return line;
}
