/* Registration of every element of the alexnet plugin, and what elements
 * share. */
#ifndef __GST_ALEXNET_ELEMENTS_H__
#define __GST_ALEXNET_ELEMENTS_H__

#include <gst/gst.h>

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_alexnet_debug);

GST_ELEMENT_REGISTER_DECLARE (dataset_src);
GST_ELEMENT_REGISTER_DECLARE (alexnet_decode);
GST_ELEMENT_REGISTER_DECLARE (resize_256);
GST_ELEMENT_REGISTER_DECLARE (random_crop_flip);
GST_ELEMENT_REGISTER_DECLARE (pca_jitter);
GST_ELEMENT_REGISTER_DECLARE (dataset_stats);
GST_ELEMENT_REGISTER_DECLARE (classify_overlay);
GST_ELEMENT_REGISTER_DECLARE (alexnet_infer);
GST_ELEMENT_REGISTER_DECLARE (alexnet_train);

/* transform_caps of the elements that make size x size squares of any
 * input (resize-256, random-crop-flip): towards the source every
 * structure of @caps becomes size x size, towards the sink any size;
 * @drop_par removes pixel-aspect-ratio (resize-256 changes it). Intersected
 * with @filter when given (gstalexnetcaps.c). */
GstCaps *gst_alexnet_square_caps (GstPadDirection direction, GstCaps * caps,
    GstCaps * filter, gint size, gboolean drop_par);

/* The generator seed a `seed` property stands for: itself, or for -1 (the
 * elements' "at random") 64 random bits (gstalexnetcaps.c). */
guint64 gst_alexnet_seed_value (gint64 seed);

G_END_DECLS
#endif
