/* Placeholder, replaced by the real element. */
#include <gst/gst.h>
#include "elements/gstalexnetelements.h"

typedef struct { GstElement parent; } GstAlexnetDecode;
typedef struct { GstElementClass parent_class; } GstAlexnetDecodeClass;
G_DEFINE_TYPE (GstAlexnetDecode, gst_alexnet_decode, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (alexnet_decode, "decode", GST_RANK_NONE, gst_alexnet_decode_get_type ());

static void gst_alexnet_decode_class_init (GstAlexnetDecodeClass * klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "decode",
      "Filter", "placeholder", "gst-alexnet");
}

static void gst_alexnet_decode_init (GstAlexnetDecode * self) { (void) self; }
