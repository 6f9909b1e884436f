/* Placeholder, replaced by the real element. */
#include <gst/gst.h>
#include "elements/gstalexnetelements.h"

typedef struct { GstElement parent; } GstDatasetStats;
typedef struct { GstElementClass parent_class; } GstDatasetStatsClass;
G_DEFINE_TYPE (GstDatasetStats, gst_dataset_stats, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (dataset_stats, "dataset-stats", GST_RANK_NONE, gst_dataset_stats_get_type ());

static void gst_dataset_stats_class_init (GstDatasetStatsClass * klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "dataset-stats",
      "Filter", "placeholder", "gst-alexnet");
}

static void gst_dataset_stats_init (GstDatasetStats * self) { (void) self; }
