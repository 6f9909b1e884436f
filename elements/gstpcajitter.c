/* Placeholder, replaced by the real element. */
#include <gst/gst.h>
#include "elements/gstalexnetelements.h"

typedef struct { GstElement parent; } GstPcaJitter;
typedef struct { GstElementClass parent_class; } GstPcaJitterClass;
G_DEFINE_TYPE (GstPcaJitter, gst_pca_jitter, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (pca_jitter, "pca-jitter", GST_RANK_NONE, gst_pca_jitter_get_type ());

static void gst_pca_jitter_class_init (GstPcaJitterClass * klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "pca-jitter",
      "Filter", "placeholder", "gst-alexnet");
}

static void gst_pca_jitter_init (GstPcaJitter * self) { (void) self; }
