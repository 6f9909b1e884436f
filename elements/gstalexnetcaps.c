/* Caps and property helpers shared by the elements (gstalexnetelements.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "elements/gstalexnetelements.h"

GstCaps *
gst_alexnet_square_caps (GstPadDirection direction, GstCaps * caps,
    GstCaps * filter, gint size, gboolean drop_par)
{
  GstCaps *ret = gst_caps_new_empty ();
  guint i, n = gst_caps_get_size (caps);

  for (i = 0; i < n; i++) {
    GstStructure *s = gst_structure_copy (gst_caps_get_structure (caps, i));
    GstCapsFeatures *f = gst_caps_get_features (caps, i);

    if (direction == GST_PAD_SINK)
      gst_structure_set (s, "width", G_TYPE_INT, size, "height", G_TYPE_INT,
          size, NULL);
    else
      gst_structure_set (s, "width", GST_TYPE_INT_RANGE, 1, G_MAXINT,
          "height", GST_TYPE_INT_RANGE, 1, G_MAXINT, NULL);
    if (drop_par)
      gst_structure_remove_field (s, "pixel-aspect-ratio");
    ret = gst_caps_merge_structure_full (ret, s,
        f ? gst_caps_features_copy (f) : NULL);
  }

  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, ret,
        GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (ret);
    ret = tmp;
  }
  return ret;
}

guint64
gst_alexnet_seed_value (gint64 seed)
{
  if (seed >= 0)
    return (guint64) seed;
  return ((guint64) g_random_int () << 32) | g_random_int ();
}
