/* Placeholder, replaced by the real element. */
#include <gst/gst.h>
#include "elements/gstalexnetelements.h"

typedef struct { GstElement parent; } GstResize256;
typedef struct { GstElementClass parent_class; } GstResize256Class;
G_DEFINE_TYPE (GstResize256, gst_resize_256, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (resize_256, "resize-256", GST_RANK_NONE, gst_resize_256_get_type ());

static void gst_resize_256_class_init (GstResize256Class * klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "resize-256",
      "Filter", "placeholder", "gst-alexnet");
}

static void gst_resize_256_init (GstResize256 * self) { (void) self; }
