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

/* File name extensions taken from class folders (case-insensitive). */
GST_ALEXNET_API gboolean gst_alexnet_dataset_is_image_name (const gchar * name);

/* Loads a folder (one sub-folder per class, sorted by name; files sorted by
 * name) or a list file ("path label" per line, label an index or a class
 * name; '#' comments; paths relative to the list's folder). Fails with a
 * message naming the location and the problem. */
GST_ALEXNET_API gboolean gst_alexnet_dataset_load (GstAlexnetDataset * ds,
    const gchar * location, GError ** error);
GST_ALEXNET_API void gst_alexnet_dataset_clear (GstAlexnetDataset * ds);

G_END_DECLS
#endif
