/* The alexnet GStreamer plugin: one library that registers every element of
 * the project (data set source, image stages, statistics, overlay). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>
#include "elements/gstalexnetelements.h"
#include "plugin/gstalexnetmeta.h"
#include "plugin/gstalexnetclassmeta.h"

GST_DEBUG_CATEGORY (gst_alexnet_debug);

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ok = TRUE;

  GST_DEBUG_CATEGORY_INIT (gst_alexnet_debug, "alexnet", 0, "alexnet plugin");
  /* Register the meta APIs up front so they exist before any element runs. */
  (void) gst_alexnet_label_meta_get_info ();
  (void) gst_alexnet_class_meta_get_info ();

  ok &= GST_ELEMENT_REGISTER (dataset_src, plugin);
  ok &= GST_ELEMENT_REGISTER (alexnet_decode, plugin);
  ok &= GST_ELEMENT_REGISTER (resize_256, plugin);
  ok &= GST_ELEMENT_REGISTER (random_crop_flip, plugin);
  ok &= GST_ELEMENT_REGISTER (pca_jitter, plugin);
  ok &= GST_ELEMENT_REGISTER (dataset_stats, plugin);
  ok &= GST_ELEMENT_REGISTER (classify_overlay, plugin);
  ok &= GST_ELEMENT_REGISTER (alexnet_infer, plugin);
  ok &= GST_ELEMENT_REGISTER (alexnet_train, plugin);
  return ok;
}

/* GST_PLUGIN_DEFINE leaves the descriptor's padding to zero-initialisation. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, alexnet,
    "AlexNet (Krizhevsky et al. 2012) training and inference elements",
    plugin_init, PACKAGE_VERSION, "LGPL", "gst-alexnet",
    "https://example.invalid/gst-alexnet")
