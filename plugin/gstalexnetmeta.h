/* Metas and events shared by the elements of the alexnet plugin: the label
 * that travels with every image, and the sticky events that announce the
 * class names and the epoch of a data set stream. */
#ifndef __GST_ALEXNET_META_H__
#define __GST_ALEXNET_META_H__

#include "plugin/gstalexnetapi.h"
#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * GstAlexnetLabelMeta:
 * @class_index: class of the image, -1 when unknown
 * @class_name: name of that class, or %NULL
 * @sample_id: where the image came from (its path), or %NULL
 * @sample_index: position of the sample in the data set's list
 * @epoch: epoch the sample belongs to (0-based)
 * @view: view index of a crop (0..@n_views-1), -1 for the whole image
 * @n_views: number of views made of the source image (1 unless ten-crop)
 *
 * The label of one image. Every element of the plugin copies it from its
 * input to its output buffers; ten-crop views carry their view index and the
 * same @sample_id and @sample_index so results can be averaged later.
 */
typedef struct {
  GstMeta meta;
  gint class_index;
  gchar *class_name;
  gchar *sample_id;
  guint64 sample_index;
  guint epoch;
  gint view;
  gint n_views;
} GstAlexnetLabelMeta;

GST_ALEXNET_API GType gst_alexnet_label_meta_api_get_type (void);
GST_ALEXNET_API const GstMetaInfo *gst_alexnet_label_meta_get_info (void);
#define GST_ALEXNET_LABEL_META_API_TYPE (gst_alexnet_label_meta_api_get_type ())
#define GST_ALEXNET_LABEL_META_INFO (gst_alexnet_label_meta_get_info ())

#define gst_buffer_get_alexnet_label_meta(b) \
  ((GstAlexnetLabelMeta *) gst_buffer_get_meta ((b), GST_ALEXNET_LABEL_META_API_TYPE))

GST_ALEXNET_API GstAlexnetLabelMeta *gst_buffer_add_alexnet_label_meta (GstBuffer * buffer,
    gint class_index, const gchar * class_name, const gchar * sample_id);

/* Copies the label meta of @src (if any) onto @dest; returns the copy. */
GST_ALEXNET_API GstAlexnetLabelMeta *gst_alexnet_label_meta_copy_to (GstBuffer * dest,
    GstBuffer * src);

/* Sticky downstream event with the ordered class names of a data set. */
#define GST_ALEXNET_CLASSES_EVENT_NAME "alexnet/classes"
GST_ALEXNET_API GstEvent *gst_alexnet_event_new_classes (const gchar * const *names);
/* Returns TRUE if @event is a classes event; *names is a new strv. */
GST_ALEXNET_API gboolean gst_alexnet_event_parse_classes (GstEvent * event, gchar *** names);

/* Sticky downstream event sent before the first buffer of every epoch. */
#define GST_ALEXNET_EPOCH_EVENT_NAME "alexnet/epoch"
GST_ALEXNET_API GstEvent *gst_alexnet_event_new_epoch (guint epoch, guint64 n_samples);
GST_ALEXNET_API gboolean gst_alexnet_event_parse_epoch (GstEvent * event, guint * epoch,
    guint64 * n_samples);

/* Custom query a decoder sends downstream: "what is the smallest shorter
 * side you need?" Elements that resize or crop answer it. */
#define GST_ALEXNET_TARGET_SIZE_QUERY_NAME "alexnet/target-size"
GST_ALEXNET_API GstQuery *gst_alexnet_query_new_target_size (void);
GST_ALEXNET_API gboolean gst_alexnet_query_is_target_size (GstQuery * query);
GST_ALEXNET_API void gst_alexnet_query_set_target_size (GstQuery * query, gint size);
GST_ALEXNET_API gboolean gst_alexnet_query_parse_target_size (GstQuery * query, gint * size);

G_END_DECLS
#endif
