/* Placeholder, replaced by the real element. */
#include <gst/gst.h>
#include "elements/gstalexnetelements.h"

typedef struct { GstElement parent; } GstDatasetSrc;
typedef struct { GstElementClass parent_class; } GstDatasetSrcClass;
G_DEFINE_TYPE (GstDatasetSrc, gst_dataset_src, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (dataset_src, "dataset-src", GST_RANK_NONE, gst_dataset_src_get_type ());

static void gst_dataset_src_class_init (GstDatasetSrcClass * klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "dataset-src",
      "Filter", "placeholder", "gst-alexnet");
}

static void gst_dataset_src_init (GstDatasetSrc * self) { (void) self; }
