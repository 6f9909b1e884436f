/* The list of samples of a labelled image data set: read from a folder in
 * ImageNet layout or from a list file. Used by dataset-src (and by tools
 * that need the same class indices). */
#ifndef __GST_ALEXNET_DATASET_H__
#define __GST_ALEXNET_DATASET_H__

#include "plugin/gstalexnetapi.h"
#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gchar *path;
  gint label;                   /* class index */
  guint64 index;                /* position in the list */
} GstAlexnetSample;

typedef struct {
  GstAlexnetSample *samples;
  guint64 n_samples;
  gchar **class_names;          /* NULL-terminated, n_classes entries */
  guint n_classes;
} GstAlexnetDataset;

/* Limits on what a data set may ask for. A list's integer label L makes
 * L + 1 classes (names "0" .. "L"), so without a bound one line could ask
 * for gigabytes; 100,000 is well above ImageNet-21k's 21,841 classes.
 * dataset-src's max-classes and max-file-size properties default to these. */
#define GST_ALEXNET_DATASET_MAX_CLASSES 100000
#define GST_ALEXNET_DATASET_MAX_FILE_SIZE (64 * 1024 * 1024)

/* File name extensions taken from class folders (case-insensitive). */
GST_ALEXNET_API gboolean gst_alexnet_dataset_is_image_name (const gchar * name);

/* Loads a folder (one sub-folder per class, sorted by name; files sorted by
 * name) or a list file ("path label" per line, label an index or a class
 * name; '#' comments; paths relative to the list's folder). Fails with a
 * message naming the location and the problem: also for more than
 * GST_ALEXNET_DATASET_MAX_CLASSES classes (a label at or above it) and for
 * class names that are not UTF-8 (checkpoints store them in JSON). */
GST_ALEXNET_API gboolean gst_alexnet_dataset_load (GstAlexnetDataset * ds,
    const gchar * location, GError ** error);
/* The same with another limit on the number of classes (at least 1). */
GST_ALEXNET_API gboolean gst_alexnet_dataset_load_full (GstAlexnetDataset *
    ds, const gchar * location, guint max_classes, GError ** error);

/* Reads one sample's file into *bytes (g_free it), *length: only a regular
 * file of at most @max_size bytes (opened without blocking, so a FIFO or
 * device is refused at once rather than read or waited on). Fails with a
 * message naming the problem (not the path: the caller names it). */
GST_ALEXNET_API gboolean gst_alexnet_dataset_read_sample (const gchar * path,
    guint64 max_size, gchar ** bytes, gsize * length, GError ** error);
GST_ALEXNET_API void gst_alexnet_dataset_clear (GstAlexnetDataset * ds);

G_END_DECLS
#endif
