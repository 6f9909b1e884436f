/* The colour statistics file of a data set (docs/stats-format.md): written
 * by dataset-stats, read by pca-jitter and, for input normalisation, by the
 * network elements. JSON, saved atomically. */
#ifndef __GST_ALEXNET_STATS_H__
#define __GST_ALEXNET_STATS_H__

#include "plugin/gstalexnetapi.h"
#include <glib.h>

G_BEGIN_DECLS

#define GST_ALEXNET_STATS_FORMAT "gst-alexnet-stats"
#define GST_ALEXNET_STATS_VERSION 1
/* Loading refuses values that are not finite or not possible on the 0..1
 * scale: mean in [0, 1], std in (0, 1], covariance in [-1, 1], eigenvalues
 * in [0, 1] and eigenvector components in [-1, 1], the last two with this
 * much slack for the rounding of a measured decomposition. */
#define GST_ALEXNET_STATS_EIGEN_ROUNDING 1e-9

/**
 * GstAlexnetStats:
 * @images: number of images the statistics were computed over (0: unknown)
 * @pixels: number of pixels (0: unknown)
 * @mean: per-channel mean, R G B, on the 0..1 scale
 * @std: per-channel standard deviation, 0..1 scale
 * @covariance: 3x3 RGB covariance, 0..1 scale
 * @eigenvalues: eigenvalues of the covariance, descending
 * @eigenvectors: eigenvectors as COLUMNS: eigenvectors[row][column]
 */
typedef struct {
  guint64 images;
  guint64 pixels;
  gdouble mean[3];
  gdouble std[3];
  gdouble covariance[3][3];
  gdouble eigenvalues[3];
  gdouble eigenvectors[3][3];
} GstAlexnetStats;

#define GST_ALEXNET_STATS_ERROR (gst_alexnet_stats_error_quark ())
GST_ALEXNET_API GQuark gst_alexnet_stats_error_quark (void);

typedef enum {
  GST_ALEXNET_STATS_ERROR_PARSE,        /* not JSON */
  GST_ALEXNET_STATS_ERROR_FORMAT,       /* wrong tag, version or field */
  GST_ALEXNET_STATS_ERROR_VALUE,        /* nothing to write (no pixels) */
} GstAlexnetStatsError;

/* The widely used ImageNet values (design.md): mean, std, PCA eigenvalues
 * and eigenvectors as published; the covariance rebuilt as V diag(l) V^T;
 * images and pixels 0. */
GST_ALEXNET_API void gst_alexnet_stats_init_imagenet (GstAlexnetStats * stats);

/* Reads @path into @out. A missing file, malformed JSON, a wrong format tag
 * or version, a missing, non-numeric or wrong-length field, or a value
 * outside the limits above fails with a
 * GError whose message names the file and the problem; @out is then
 * untouched. */
GST_ALEXNET_API gboolean gst_alexnet_stats_load (const gchar * path, GstAlexnetStats * out,
    GError ** error);

/* Writes @stats to @path atomically: a temporary file in the same folder,
 * fsync, rename. */
GST_ALEXNET_API gboolean gst_alexnet_stats_save (const gchar * path,
    const GstAlexnetStats * stats, GError ** error);

G_END_DECLS
#endif
