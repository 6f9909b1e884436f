/* The classification meta, and its forms as a bus message structure and as
 * a line of JSON. */
#include <math.h>
#include <string.h>

#include "plugin/gstalexnetclassmeta.h"
#include "plugin/gstalexnetmeta.h"
#include "kernels/util/json.h"

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
  m->evaluation = NULL;
  m->n_scales = 0;
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
  g_clear_pointer (&m->evaluation, g_free);
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
  dst->evaluation = g_strdup (src->evaluation);
  dst->n_scales = src->n_scales;
  memcpy (dst->scales, src->scales, sizeof dst->scales);
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

void
gst_alexnet_class_meta_set_evaluation (GstAlexnetClassMeta * meta,
    const gchar * evaluation, const gint * scales, gint n_scales)
{
  g_return_if_fail (meta != NULL);
  g_return_if_fail (n_scales >= 0
      && n_scales <= GST_ALEXNET_CLASS_META_MAX_SCALES);
  g_return_if_fail (n_scales == 0 || scales != NULL);
  g_free (meta->evaluation);
  meta->evaluation = g_strdup (evaluation);
  meta->n_scales = n_scales;
  for (gint i = 0; i < n_scales; i++)
    meta->scales[i] = scales[i];
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
  if (meta->evaluation != NULL)
    gst_structure_set (s, "evaluation", G_TYPE_STRING, meta->evaluation,
        NULL);
  if (meta->n_scales > 0) {
    GValue scales = G_VALUE_INIT;

    gst_value_array_init (&scales, meta->n_scales);
    for (gint i = 0; i < meta->n_scales; i++) {
      GValue item = G_VALUE_INIT;

      g_value_init (&item, G_TYPE_INT);
      g_value_set_int (&item, meta->scales[i]);
      gst_value_array_append_and_take_value (&scales, &item);
    }
    gst_structure_take_value (s, "scales", &scales);
  }

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

/* Through the project's one JSON writer (kernels/util/json.h): strings
 * escaped as RFC 8259 says, bytes that are not UTF-8 as U+FFFD; floats as
 * the shortest decimal (6 to 9 digits) that reads back as the same float,
 * the same in every locale; NaN and infinities, which JSON cannot hold,
 * null. */
gchar *
gst_alexnet_class_meta_to_json_line (const GstAlexnetClassMeta * meta,
    const gchar * id, GstClockTime pts)
{
  ax_json_writer w = { 0 };
  gchar *line;

  g_return_val_if_fail (meta != NULL, NULL);

  ax_json_begin_object (&w);
  ax_json_key (&w, "id");
  ax_json_string (&w, id);
  ax_json_key (&w, "pts");
  if (GST_CLOCK_TIME_IS_VALID (pts))
    ax_json_uint (&w, pts);
  else
    ax_json_null (&w);
  if (meta->model != NULL) {
    ax_json_key (&w, "model");
    ax_json_string (&w, meta->model);
  }
  ax_json_key (&w, "views");
  ax_json_int (&w, meta->n_views);
  if (meta->evaluation != NULL) {
    ax_json_key (&w, "evaluation");
    ax_json_string (&w, meta->evaluation);
  }
  if (meta->n_scales > 0) {
    ax_json_key (&w, "scales");
    ax_json_begin_array (&w);
    for (gint i = 0; i < meta->n_scales; i++)
      ax_json_int (&w, meta->scales[i]);
    ax_json_end_array (&w);
  }
  ax_json_key (&w, "top_k");
  ax_json_begin_array (&w);
  for (guint i = 0; i < meta->k; i++) {
    ax_json_begin_object (&w);
    ax_json_key (&w, "index");
    ax_json_int (&w, meta->top[i].index);
    ax_json_key (&w, "label");
    ax_json_string (&w, meta->top[i].label);
    ax_json_key (&w, "probability");
    ax_json_float (&w, meta->top[i].probability);
    ax_json_end_object (&w);
  }
  ax_json_end_array (&w);
  if (meta->n_classes > 0) {
    ax_json_key (&w, "probabilities");
    ax_json_floats (&w, meta->probabilities, meta->n_classes);
  }
  ax_json_end_object (&w);
  if (w.out.failed) {
    ax_strbuf_free (&w.out);
    return NULL;
  }
  line = g_strconcat (w.out.data, "\n", NULL);
  ax_strbuf_free (&w.out);
  return line;
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
