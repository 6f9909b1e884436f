/* Placeholder, replaced by the real element. */
#include <gst/gst.h>
#include "elements/gstalexnetelements.h"

typedef struct { GstElement parent; } GstRandomCropFlip;
typedef struct { GstElementClass parent_class; } GstRandomCropFlipClass;
G_DEFINE_TYPE (GstRandomCropFlip, gst_random_crop_flip, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (random_crop_flip, "random-crop-flip", GST_RANK_NONE, gst_random_crop_flip_get_type ());

static void gst_random_crop_flip_class_init (GstRandomCropFlipClass * klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "random-crop-flip",
      "Filter", "placeholder", "gst-alexnet");
}

static void gst_random_crop_flip_init (GstRandomCropFlip * self) { (void) self; }
