/* Registration of every element of the alexnet plugin. */
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

G_END_DECLS
#endif
