/* The label meta and the custom events/queries of the alexnet plugin. */
#include "plugin/gstalexnetmeta.h"

static gboolean
label_meta_init (GstMeta * meta, gpointer params, GstBuffer * buffer)
{
  GstAlexnetLabelMeta *m = (GstAlexnetLabelMeta *) meta;
  (void) params;
  (void) buffer;
  m->class_index = -1;
  m->class_name = NULL;
  m->sample_id = NULL;
  m->sample_index = 0;
  m->epoch = 0;
  m->view = -1;
  m->n_views = 1;
  return TRUE;
}

static void
label_meta_free (GstMeta * meta, GstBuffer * buffer)
{
  GstAlexnetLabelMeta *m = (GstAlexnetLabelMeta *) meta;
  (void) buffer;
  g_free (m->class_name);
  g_free (m->sample_id);
}

static void
label_meta_copy_fields (GstAlexnetLabelMeta * dst,
    const GstAlexnetLabelMeta * src)
{
  dst->class_index = src->class_index;
  g_free (dst->class_name);
  dst->class_name = g_strdup (src->class_name);
  g_free (dst->sample_id);
  dst->sample_id = g_strdup (src->sample_id);
  dst->sample_index = src->sample_index;
  dst->epoch = src->epoch;
  dst->view = src->view;
  dst->n_views = src->n_views;
}

/* A label describes the image whatever is done to its pixels, so it is
 * copied on every transform (copy, scale, crop, colour conversion). */
static gboolean
label_meta_transform (GstBuffer * dest, GstMeta * meta, GstBuffer * buffer,
    GQuark type, gpointer data)
{
  GstAlexnetLabelMeta *src = (GstAlexnetLabelMeta *) meta;
  GstAlexnetLabelMeta *dst;
  (void) buffer;
  (void) type;
  (void) data;

  dst = gst_buffer_get_alexnet_label_meta (dest);
  if (dst == NULL)
    dst = (GstAlexnetLabelMeta *) gst_buffer_add_meta (dest,
        GST_ALEXNET_LABEL_META_INFO, NULL);
  if (dst == NULL)
    return FALSE;
  label_meta_copy_fields (dst, src);
  return TRUE;
}

GType
gst_alexnet_label_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };

  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("GstAlexnetLabelMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

const GstMetaInfo *
gst_alexnet_label_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) & info)) {
    const GstMetaInfo *mi = gst_meta_register (GST_ALEXNET_LABEL_META_API_TYPE,
        "GstAlexnetLabelMeta", sizeof (GstAlexnetLabelMeta),
        label_meta_init, label_meta_free, label_meta_transform);
    g_once_init_leave ((GstMetaInfo **) & info, (GstMetaInfo *) mi);
  }
  return info;
}

GstAlexnetLabelMeta *
gst_buffer_add_alexnet_label_meta (GstBuffer * buffer, gint class_index,
    const gchar * class_name, const gchar * sample_id)
{
  GstAlexnetLabelMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  m = (GstAlexnetLabelMeta *) gst_buffer_add_meta (buffer,
      GST_ALEXNET_LABEL_META_INFO, NULL);
  if (m == NULL)
    return NULL;
  m->class_index = class_index;
  m->class_name = g_strdup (class_name);
  m->sample_id = g_strdup (sample_id);
  return m;
}

GstAlexnetLabelMeta *
gst_alexnet_label_meta_copy_to (GstBuffer * dest, GstBuffer * src)
{
  GstAlexnetLabelMeta *s = gst_buffer_get_alexnet_label_meta (src);
  GstAlexnetLabelMeta *d;

  if (s == NULL)
    return NULL;
  d = gst_buffer_get_alexnet_label_meta (dest);
  if (d == NULL)
    d = (GstAlexnetLabelMeta *) gst_buffer_add_meta (dest,
        GST_ALEXNET_LABEL_META_INFO, NULL);
  if (d != NULL)
    label_meta_copy_fields (d, s);
  return d;
}

GstEvent *
gst_alexnet_event_new_classes (const gchar * const *names)
{
  GValue array = G_VALUE_INIT, item = G_VALUE_INIT;
  GstStructure *s;
  guint n = 0;

  /* A GstValueArray of strings (not a GStrv) so that it serialises, e.g. in
   * gst-launch-1.0 -v, and crosses process boundaries. */
  gst_value_array_init (&array, 0);
  g_value_init (&item, G_TYPE_STRING);
  for (; names != NULL && names[n] != NULL; n++) {
    g_value_set_string (&item, names[n]);
    gst_value_array_append_value (&array, &item);
  }
  g_value_unset (&item);
  s = gst_structure_new (GST_ALEXNET_CLASSES_EVENT_NAME,
      "n-classes", G_TYPE_UINT, n, NULL);
  gst_structure_take_value (s, "names", &array);
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM_STICKY, s);
}

gboolean
gst_alexnet_event_parse_classes (GstEvent * event, gchar *** names)
{
  const GstStructure *s;
  const GValue *array;
  guint n;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_DOWNSTREAM_STICKY)
    return FALSE;
  s = gst_event_get_structure (event);
  if (s == NULL || !gst_structure_has_name (s, GST_ALEXNET_CLASSES_EVENT_NAME))
    return FALSE;
  array = gst_structure_get_value (s, "names");
  if (array == NULL || !GST_VALUE_HOLDS_ARRAY (array))
    return FALSE;
  if (names != NULL) {
    n = gst_value_array_get_size (array);
    *names = g_new0 (gchar *, n + 1);
    for (guint i = 0; i < n; i++) {
      const GValue *v = gst_value_array_get_value (array, i);
      (*names)[i] = g_strdup (G_VALUE_HOLDS_STRING (v) ?
          g_value_get_string (v) : "");
    }
  }
  return TRUE;
}

GstEvent *
gst_alexnet_event_new_epoch (guint epoch, guint64 n_samples)
{
  GstStructure *s = gst_structure_new (GST_ALEXNET_EPOCH_EVENT_NAME,
      "epoch", G_TYPE_UINT, epoch, "n-samples", G_TYPE_UINT64, n_samples,
      NULL);
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM_STICKY, s);
}

gboolean
gst_alexnet_event_parse_epoch (GstEvent * event, guint * epoch,
    guint64 * n_samples)
{
  const GstStructure *s;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_DOWNSTREAM_STICKY)
    return FALSE;
  s = gst_event_get_structure (event);
  if (s == NULL || !gst_structure_has_name (s, GST_ALEXNET_EPOCH_EVENT_NAME))
    return FALSE;
  if (epoch != NULL && !gst_structure_get_uint (s, "epoch", epoch))
    return FALSE;
  if (n_samples != NULL
      && !gst_structure_get_uint64 (s, "n-samples", n_samples))
    return FALSE;
  return TRUE;
}

GstQuery *
gst_alexnet_query_new_target_size (void)
{
  return gst_query_new_custom (GST_QUERY_CUSTOM,
      gst_structure_new_empty (GST_ALEXNET_TARGET_SIZE_QUERY_NAME));
}

gboolean
gst_alexnet_query_is_target_size (GstQuery * query)
{
  const GstStructure *s;

  if (GST_QUERY_TYPE (query) != GST_QUERY_CUSTOM)
    return FALSE;
  s = gst_query_get_structure (query);
  return s != NULL && gst_structure_has_name (s,
      GST_ALEXNET_TARGET_SIZE_QUERY_NAME);
}

void
gst_alexnet_query_set_target_size (GstQuery * query, gint size)
{
  GstStructure *s = gst_query_writable_structure (query);
  gst_structure_set (s, "size", G_TYPE_INT, size, NULL);
}

gboolean
gst_alexnet_query_parse_target_size (GstQuery * query, gint * size)
{
  const GstStructure *s = gst_query_get_structure (query);
  return s != NULL && gst_structure_get_int (s, "size", size);
}
