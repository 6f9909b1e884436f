/* dataset-src: labelled images from a folder or list file. */
#ifndef __GST_DATASET_SRC_H__
#define __GST_DATASET_SRC_H__

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>
#include "plugin/gstalexnetdataset.h"

G_BEGIN_DECLS
#define GST_TYPE_ALEXNET_DATASET_SRC (gst_alexnet_dataset_src_get_type ())
G_DECLARE_FINAL_TYPE (GstAlexnetDatasetSrc, gst_alexnet_dataset_src, GST,
    ALEXNET_DATASET_SRC, GstPushSrc)
     struct _GstAlexnetDatasetSrc
     {
       GstPushSrc parent;

       /* properties */
       gchar *location;
       gboolean shuffle;
       gint64 seed;
       guint epochs;
       guint shard_index;
       guint shard_count;
       gint fps_n, fps_d;
       guint max_classes;
       guint64 max_file_size;

       /* state, from start() on */
       GstAlexnetDataset dataset;
       guint64 effective_seed;
       guint32 *order;          /* this epoch's order of all samples */
       guint64 per_shard;       /* samples this shard reads per epoch */
       guint epoch;
       guint64 pos;             /* position within this shard's epoch */
       guint64 produced;
       guint64 skipped;
       guint64 epoch_read;      /* files read in this epoch */
       guint64 epoch_skipped;   /* files skipped in this epoch */
       gchar *last_skip;        /* the last skipped file and why */
       gboolean classes_sent;
       gboolean epoch_sent;
     };

G_END_DECLS
#endif
