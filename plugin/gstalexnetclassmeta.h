/* The classification meta: what alexnet-infer found in an image (the top-k
 * classes with their probabilities, optionally the whole probability
 * vector), and the two other forms of the same result: the element message
 * on the bus and one line of a JSON-lines results file. */
#ifndef __GST_ALEXNET_CLASS_META_H__
#define __GST_ALEXNET_CLASS_META_H__

#include "plugin/gstalexnetapi.h"
#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * GstAlexnetClassEntry:
 * @index: class index (row of the network's last layer)
 * @label: class name, or %NULL when the classes are not known
 * @probability: softmax probability, 0..1
 *
 * One of the top-k classes of a #GstAlexnetClassMeta.
 */
typedef struct {
  gint index;
  gchar *label;
  gfloat probability;
} GstAlexnetClassEntry;

#define GST_ALEXNET_CLASS_META_MAX_SCALES 8

/**
 * GstAlexnetClassMeta:
 * @k: number of entries in @top
 * @top: the k most probable classes, most probable first
 * @n_classes: length of @probabilities, 0 when the whole vector is not kept
 * @probabilities: the probability of every class (owned), or %NULL
 * @model: name of the network that produced the result ("alexnet"), or %NULL
 * @n_views: number of views whose softmax was averaged (1, or 10 for the
 *   paper's ten-crop test; per test scale 2 for dense evaluation, 50 for
 *   multi-crop, 52 for both)
 * @evaluation: how the views were made ("center", "ten-crop", "dense",
 *   "multi-crop", "combined"), or %NULL
 * @n_scales: number of test scales in @scales (0 when unknown)
 * @scales: the shorter sides the image was rescaled to, whose results were
 *   averaged
 *
 * The classification of one image. Its API has no tags, so every transform
 * (GStreamer's own videoconvert, videoscale, videoflip, queue... and the
 * plugin's elements) copies it to its output buffer.
 */
typedef struct {
  GstMeta meta;
  guint k;
  GstAlexnetClassEntry *top;
  guint n_classes;
  gfloat *probabilities;
  gchar *model;
  gint n_views;
  gchar *evaluation;
  gint n_scales;
  gint scales[GST_ALEXNET_CLASS_META_MAX_SCALES];
} GstAlexnetClassMeta;

GST_ALEXNET_API GType gst_alexnet_class_meta_api_get_type (void);
GST_ALEXNET_API const GstMetaInfo *gst_alexnet_class_meta_get_info (void);
#define GST_ALEXNET_CLASS_META_API_TYPE (gst_alexnet_class_meta_api_get_type ())
#define GST_ALEXNET_CLASS_META_INFO (gst_alexnet_class_meta_get_info ())

#define gst_buffer_get_alexnet_class_meta(b) \
  ((GstAlexnetClassMeta *) gst_buffer_get_meta ((b), GST_ALEXNET_CLASS_META_API_TYPE))

/* Adds a classification to @buffer. @indices, @probs (and @labels, which
 * may be NULL or hold NULLs) have @k entries, most probable first; they are
 * copied. @all_probs (@n_all floats, or NULL with @n_all 0) is the whole
 * probability vector, copied too. @model is NULL and @n_views 1 until set. */
GST_ALEXNET_API GstAlexnetClassMeta *gst_buffer_add_alexnet_class_meta (GstBuffer * buffer,
    guint k, const gint * indices, const gfloat * probs,
    const gchar * const * labels, guint n_all, const gfloat * all_probs);

/* Sets the model name (copied, may be NULL) and the number of views. */
GST_ALEXNET_API void gst_alexnet_class_meta_set_model (GstAlexnetClassMeta * meta,
    const gchar * model, gint n_views);

/* Sets how the result was made: @evaluation (copied, may be NULL) and the
 * @n_scales test scales (at most GST_ALEXNET_CLASS_META_MAX_SCALES). */
GST_ALEXNET_API void gst_alexnet_class_meta_set_evaluation (GstAlexnetClassMeta * meta,
    const gchar * evaluation, const gint * scales, gint n_scales);

/* The id under which a result is reported: the sample id (the image's path)
 * of the buffer's label meta, else its PTS as "h:mm:ss.nnnnnnnnn", else
 * NULL. Free with g_free(). */
GST_ALEXNET_API gchar *gst_alexnet_class_result_id (GstBuffer * buffer);

/* The body of the element message alexnet-infer posts on the bus:
 *
 *   alexnet-classification, id=(string), pts=(guint64) (GST_CLOCK_TIME_NONE
 *     when unknown), k=(uint), n-views=(int), [model=(string),]
 *     [evaluation=(string), scales=(int)< ... >,]
 *     top-k-indices=(int)< ... >, top-k-labels=(string)< ... >,
 *     top-k-probabilities=(double)< ... >
 *     [, probabilities=(double)< ... > when the whole vector is kept]
 *
 * The arrays are GstValueArrays, so the message serialises (gst-launch-1.0
 * -m) and gst_structure_from_string() reads it back. A NULL label is "". */
#define GST_ALEXNET_CLASSIFICATION_MESSAGE_NAME "alexnet-classification"
GST_ALEXNET_API GstStructure *gst_alexnet_class_meta_to_structure (const GstAlexnetClassMeta *
    meta, const gchar * id, GstClockTime pts);

/* One line of a JSON-lines results file, '\n' included:
 *
 *   {"id":"/data/cat.jpg","pts":null,"model":"alexnet-paper","views":1,
 *    "evaluation":"center","scales":[256],
 *    "top_k":[{"index":281,"label":"tabby","probability":0.973}, ...],
 *    "probabilities":[...]}
 *
 * "id" and "pts" (nanoseconds) are null when unknown, "model",
 * "evaluation" and "scales" are left out when not set, "probabilities" when the vector is not kept; a NULL label is
 * null. Strings are escaped as JSON requires; bytes that are not UTF-8
 * become U+FFFD. Numbers are the shortest decimal that reads back as the
 * same float; a NaN or infinite probability is written as null. Free with
 * g_free(). */
GST_ALEXNET_API gchar *gst_alexnet_class_meta_to_json_line (const GstAlexnetClassMeta * meta,
    const gchar * id, GstClockTime pts);

/* The two above for the class meta of @buffer, with the id of
 * gst_alexnet_class_result_id() and the buffer's PTS; NULL when the buffer
 * has no class meta. The message is an element message from @src. */
GST_ALEXNET_API GstMessage *gst_alexnet_classification_message_new (GstObject * src,
    GstBuffer * buffer);
GST_ALEXNET_API gchar *gst_alexnet_classification_json_line (GstBuffer * buffer);

G_END_DECLS
#endif
