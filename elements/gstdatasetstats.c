/* dataset-stats: a sink that measures the colour statistics of a stream of
 * RGB images — per-channel mean and std, the 3x3 covariance and its
 * principal components — and writes them to the statistics file that
 * pca-jitter and the network elements read (docs/stats-format.md). */

/**
 * SECTION:element-dataset-stats
 * @title: dataset-stats
 *
 * Accumulates exact integer sums of every RGB channel and of the six
 * distinct channel products over the whole stream (any image sizes, sizes
 * may change between images). At EOS — or after #GstAlexnetDatasetStats:max-images
 * images — it computes the mean, std and covariance on a 0..1 scale and the
 * covariance's eigenvalues and eigenvectors, writes them atomically to
 * #GstAlexnetDatasetStats:location and posts an element message named
 * `dataset-stats` with the fields `location` (string), `images`, `pixels`
 * (guint64), and `mean`, `std`, `eigenvalues` (#GstValueArray of 3 doubles).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 dataset-src location=train/ ! decode ! resize-256 ! \
 *     dataset-stats location=train-stats.json
 * ]|
 * and then
 * |[
 * gst-launch-1.0 dataset-src location=train/ shuffle=true ! decode ! resize-256 ! \
 *     random-crop-flip ! pca-jitter stats-location=train-stats.json ! videoconvert ! autovideosink
 * ]|
 */

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "elements/gstalexnetelements.h"
#include "kernels/image/colour.h"
#include "plugin/gstalexnetstats.h"

GST_DEBUG_CATEGORY_STATIC (gst_alexnet_dataset_stats_debug);
#define GST_CAT_DEFAULT gst_alexnet_dataset_stats_debug

enum
{
  PROP_0,
  PROP_LOCATION,
  PROP_MAX_IMAGES,
  PROP_IMAGES,
};

#define DEFAULT_PROP_LOCATION NULL
#define DEFAULT_PROP_MAX_IMAGES 0

#define GST_TYPE_ALEXNET_DATASET_STATS (gst_alexnet_dataset_stats_get_type ())
G_DECLARE_FINAL_TYPE (GstAlexnetDatasetStats, gst_alexnet_dataset_stats, GST,
    ALEXNET_DATASET_STATS, GstBaseSink);

struct _GstAlexnetDatasetStats
{
  GstBaseSink parent;

  /* properties, under the object lock (images too) */
  gchar *location;
  guint64 max_images;
  guint64 images;

  /* streaming state */
  GstVideoInfo info;
  ax_colour_stats acc;
  gboolean written;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE ("RGB")));

G_DEFINE_TYPE (GstAlexnetDatasetStats, gst_alexnet_dataset_stats,
    GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (dataset_stats, "dataset-stats", GST_RANK_NONE,
    GST_TYPE_ALEXNET_DATASET_STATS);

static void gst_alexnet_dataset_stats_finalize (GObject * object);
static void gst_alexnet_dataset_stats_set_property (GObject * object,
    guint prop_id, const GValue * value, GParamSpec * pspec);
static void gst_alexnet_dataset_stats_get_property (GObject * object,
    guint prop_id, GValue * value, GParamSpec * pspec);
static gboolean gst_alexnet_dataset_stats_start (GstBaseSink * sink);
static gboolean gst_alexnet_dataset_stats_set_caps (GstBaseSink * sink,
    GstCaps * caps);
static GstFlowReturn gst_alexnet_dataset_stats_render (GstBaseSink * sink,
    GstBuffer * buffer);
static gboolean gst_alexnet_dataset_stats_event (GstBaseSink * sink,
    GstEvent * event);

static void
gst_alexnet_dataset_stats_class_init (GstAlexnetDatasetStatsClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *sink_class = GST_BASE_SINK_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_alexnet_dataset_stats_debug, "dataset-stats", 0,
      "data set colour statistics");

  gobject_class->finalize = gst_alexnet_dataset_stats_finalize;
  gobject_class->set_property = gst_alexnet_dataset_stats_set_property;
  gobject_class->get_property = gst_alexnet_dataset_stats_get_property;

  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "Statistics file to write at EOS (required; replaced atomically)",
          DEFAULT_PROP_LOCATION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MAX_IMAGES,
      g_param_spec_uint64 ("max-images", "Maximum images",
          "Stop after this many images and write their statistics "
          "(0: the whole stream)", 0, G_MAXUINT64, DEFAULT_PROP_MAX_IMAGES,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_IMAGES,
      g_param_spec_uint64 ("images", "Images",
          "Number of images measured since the element started",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class,
      "Data set colour statistics", "Sink/Video",
      "Measures the RGB mean, std, covariance and principal components of "
      "a stream of images and writes them to a statistics file", "gst-alexnet");

  sink_class->start = GST_DEBUG_FUNCPTR (gst_alexnet_dataset_stats_start);
  sink_class->set_caps = GST_DEBUG_FUNCPTR (gst_alexnet_dataset_stats_set_caps);
  sink_class->render = GST_DEBUG_FUNCPTR (gst_alexnet_dataset_stats_render);
  sink_class->event = GST_DEBUG_FUNCPTR (gst_alexnet_dataset_stats_event);
}

static void
gst_alexnet_dataset_stats_init (GstAlexnetDatasetStats * self)
{
  self->location = g_strdup (DEFAULT_PROP_LOCATION);
  self->max_images = DEFAULT_PROP_MAX_IMAGES;
  gst_video_info_init (&self->info);
  ax_colour_stats_init (&self->acc);
  /* statistics need every image, not the ones that happen to be on time */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}

static void
gst_alexnet_dataset_stats_finalize (GObject * object)
{
  GstAlexnetDatasetStats *self = GST_ALEXNET_DATASET_STATS (object);

  g_free (self->location);
  G_OBJECT_CLASS (gst_alexnet_dataset_stats_parent_class)->finalize (object);
}

static void
gst_alexnet_dataset_stats_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstAlexnetDatasetStats *self = GST_ALEXNET_DATASET_STATS (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION:
      g_free (self->location);
      self->location = g_value_dup_string (value);
      break;
    case PROP_MAX_IMAGES:
      self->max_images = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_alexnet_dataset_stats_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstAlexnetDatasetStats *self = GST_ALEXNET_DATASET_STATS (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION:
      g_value_set_string (value, self->location);
      break;
    case PROP_MAX_IMAGES:
      g_value_set_uint64 (value, self->max_images);
      break;
    case PROP_IMAGES:
      g_value_set_uint64 (value, self->images);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* Refuses to start without a location or with one whose folder cannot be
 * written, so a long pass over a data set does not end in nothing. */
static gboolean
gst_alexnet_dataset_stats_start (GstBaseSink * sink)
{
  GstAlexnetDatasetStats *self = GST_ALEXNET_DATASET_STATS (sink);
  gchar *location, *folder = NULL;

  GST_OBJECT_LOCK (self);
  location = g_strdup (self->location);
  self->images = 0;
  GST_OBJECT_UNLOCK (self);

  if (location == NULL || location[0] == '\0')
    goto no_location;
  folder = g_path_get_dirname (location);
  if (!g_file_test (folder, G_FILE_TEST_IS_DIR))
    goto no_folder;
  if (g_access (folder, W_OK) != 0)
    goto not_writable;

  ax_colour_stats_init (&self->acc);
  gst_video_info_init (&self->info);
  self->written = FALSE;
  g_free (folder);
  g_free (location);
  return TRUE;

  /* ERRORS */
no_location:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No statistics file given: set the \"location\" property."), (NULL));
    g_free (location);
    return FALSE;
  }
no_folder:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Cannot write the statistics file \"%s\": the folder \"%s\" does "
            "not exist.", location, folder), (NULL));
    g_free (folder);
    g_free (location);
    return FALSE;
  }
not_writable:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Cannot write the statistics file \"%s\": the folder \"%s\" is not "
            "writable.", location, folder), GST_ERROR_SYSTEM);
    g_free (folder);
    g_free (location);
    return FALSE;
  }
}

static gboolean
gst_alexnet_dataset_stats_set_caps (GstBaseSink * sink, GstCaps * caps)
{
  GstAlexnetDatasetStats *self = GST_ALEXNET_DATASET_STATS (sink);

  if (!gst_video_info_from_caps (&self->info, caps))
    goto invalid_caps;
  return TRUE;

  /* ERRORS */
invalid_caps:
  {
    GST_WARNING_OBJECT (self, "invalid caps %" GST_PTR_FORMAT, caps);
    return FALSE;
  }
}

static GstStructure *
stats_message_structure (const gchar * location, const GstAlexnetStats * s)
{
  GstStructure *st = gst_structure_new ("dataset-stats",
      "location", G_TYPE_STRING, location,
      "images", G_TYPE_UINT64, s->images,
      "pixels", G_TYPE_UINT64, s->pixels, NULL);
  const struct
  {
    const gchar *name;
    const gdouble *v;
  } fields[] = {
    {"mean", s->mean}, {"std", s->std}, {"eigenvalues", s->eigenvalues},
  };

  for (guint f = 0; f < G_N_ELEMENTS (fields); f++) {
    GValue array = G_VALUE_INIT, item = G_VALUE_INIT;
    g_value_init (&array, GST_TYPE_ARRAY);
    g_value_init (&item, G_TYPE_DOUBLE);
    for (int i = 0; i < 3; i++) {
      g_value_set_double (&item, fields[f].v[i]);
      gst_value_array_append_value (&array, &item);
    }
    gst_structure_take_value (st, fields[f].name, &array);
    g_value_unset (&item);
  }
  return st;
}

/* Computes the statistics of what was seen, writes the file and posts the
 * message. FALSE after posting an error. */
static gboolean
gst_alexnet_dataset_stats_write (GstAlexnetDatasetStats * self)
{
  GstAlexnetStats stats;
  GError *err = NULL;
  gchar *location;

  self->written = TRUE;
  GST_OBJECT_LOCK (self);
  location = g_strdup (self->location);
  GST_OBJECT_UNLOCK (self);

  if (ax_colour_stats_finish (&self->acc, stats.mean, stats.std,
          stats.covariance) != 0)
    goto no_images;
  stats.images = self->acc.images;
  stats.pixels = self->acc.pixels;
  if (ax_sym3_eigen ((const double (*)[3]) stats.covariance,
          stats.eigenvalues, stats.eigenvectors) < 0)
    GST_WARNING_OBJECT (self, "eigen-decomposition did not converge");
  if (!gst_alexnet_stats_save (location, &stats, &err))
    goto write_failed;

  GST_INFO_OBJECT (self, "wrote %s: %" G_GUINT64_FORMAT " images, mean %g %g "
      "%g, eigenvalues %g %g %g", location, stats.images, stats.mean[0],
      stats.mean[1], stats.mean[2], stats.eigenvalues[0],
      stats.eigenvalues[1], stats.eigenvalues[2]);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          stats_message_structure (location, &stats)));
  g_free (location);
  return TRUE;

  /* ERRORS */
no_images:
  {
    GST_ELEMENT_WARNING (self, STREAM, FAILED,
        ("No images received: the statistics file \"%s\" was not written.",
            location), (NULL));
    g_free (location);
    return TRUE;
  }
write_failed:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Could not write the statistics file \"%s\": %s", location,
            err->message), (NULL));
    g_clear_error (&err);
    g_free (location);
    return FALSE;
  }
}

static GstFlowReturn
gst_alexnet_dataset_stats_render (GstBaseSink * sink, GstBuffer * buffer)
{
  GstAlexnetDatasetStats *self = GST_ALEXNET_DATASET_STATS (sink);
  GstVideoFrame frame;
  guint64 images, max_images;

  if (self->written)
    return GST_FLOW_EOS;
  if (GST_VIDEO_INFO_FORMAT (&self->info) != GST_VIDEO_FORMAT_RGB)
    goto not_negotiated;
  if (!gst_video_frame_map (&frame, &self->info, buffer, GST_MAP_READ))
    goto map_failed;
  ax_colour_stats_add_rgb (&self->acc, GST_VIDEO_FRAME_PLANE_DATA (&frame, 0),
      GST_VIDEO_FRAME_WIDTH (&frame), GST_VIDEO_FRAME_HEIGHT (&frame),
      (size_t) GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0));
  gst_video_frame_unmap (&frame);

  GST_OBJECT_LOCK (self);
  images = ++self->images;
  max_images = self->max_images;
  GST_OBJECT_UNLOCK (self);

  if (max_images > 0 && images >= max_images) {
    GST_INFO_OBJECT (self, "max-images (%" G_GUINT64_FORMAT ") reached",
        max_images);
    return gst_alexnet_dataset_stats_write (self) ? GST_FLOW_EOS :
        GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;

  /* ERRORS */
not_negotiated:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("image arrived before RGB caps"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
map_failed:
  {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("Could not read an image."), ("buffer %" GST_PTR_FORMAT
            " does not fit the caps", buffer));
    return GST_FLOW_ERROR;
  }
}

/* Writes the file at EOS, before the EOS message is posted, so that an
 * application that stops on EOS finds the file and the message. */
static gboolean
gst_alexnet_dataset_stats_event (GstBaseSink * sink, GstEvent * event)
{
  GstAlexnetDatasetStats *self = GST_ALEXNET_DATASET_STATS (sink);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && !self->written) {
    if (!gst_alexnet_dataset_stats_write (self)) {
      gst_event_unref (event);
      return FALSE;
    }
  }
  return GST_BASE_SINK_CLASS (gst_alexnet_dataset_stats_parent_class)->
      event (sink, event);
}
