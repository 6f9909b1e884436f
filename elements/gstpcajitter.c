/* pca-jitter: the colour noise of the AlexNet paper (section 4.1). Once per
 * image it draws alpha ~ N(0, sigma) for each of the three principal
 * components of the data set's RGB covariance and adds
 * 255 * V (alpha o lambda) to every pixel. The maths is in kernels/colour. */

/**
 * SECTION:element-pca-jitter
 * @title: pca-jitter
 *
 * Adds the paper's per-image colour noise to packed RGB frames, in place:
 * for each image three draws alpha_i ~ N(0, #GstAlexnetPcaJitter:sigma) are made
 * and sum_i alpha_i lambda_i p_i (times 255) is added to every pixel, where
 * p_i and lambda_i are the eigenvectors and eigenvalues of the RGB
 * covariance (0..1 scale) read from #GstAlexnetPcaJitter:stats-location — a file
 * written by dataset-stats — or, by default, the widely used ImageNet values
 * (eigenvalues 0.2175, 0.0188, 0.0045, used as lambda exactly as given).
 * Results are rounded to the nearest integer and clamped to 0..255.
 *
 * With #GstAlexnetPcaJitter:seed >= 0 the noise is reproducible: the n-th image
 * after the element starts always gets the same offsets. Labels
 * (#GstAlexnetLabelMeta) are left untouched. sigma=0 makes the element a
 * passthrough.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=100 ! video/x-raw,format=RGB,width=224,height=224 ! \
 *     pca-jitter sigma=0.1 seed=7 ! videoconvert ! autovideosink
 * ]|
 */

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

#include "elements/gstalexnetelements.h"
#include "kernels/image/colour.h"
#include "kernels/util/rng.h"
#include "plugin/gstalexnetstats.h"

GST_DEBUG_CATEGORY_STATIC (gst_alexnet_pca_jitter_debug);
#define GST_CAT_DEFAULT gst_alexnet_pca_jitter_debug

enum
{
  PROP_0,
  PROP_SIGMA,
  PROP_STATS_LOCATION,
  PROP_SEED,
};

#define DEFAULT_PROP_SIGMA 0.1
#define DEFAULT_PROP_STATS_LOCATION NULL
#define DEFAULT_PROP_SEED -1

#define GST_TYPE_ALEXNET_PCA_JITTER (gst_alexnet_pca_jitter_get_type ())
G_DECLARE_FINAL_TYPE (GstAlexnetPcaJitter, gst_alexnet_pca_jitter, GST,
    ALEXNET_PCA_JITTER, GstVideoFilter);

struct _GstAlexnetPcaJitter
{
  GstVideoFilter parent;

  /* properties, under the object lock */
  gdouble sigma;
  gchar *stats_location;
  gint64 seed;

  /* set in start() */
  GstAlexnetStats stats;
  ax_rng rng;
};

#define CAPS GST_VIDEO_CAPS_MAKE ("RGB")

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS));

G_DEFINE_TYPE (GstAlexnetPcaJitter, gst_alexnet_pca_jitter,
    GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (pca_jitter, "pca-jitter", GST_RANK_NONE,
    GST_TYPE_ALEXNET_PCA_JITTER);

static void gst_alexnet_pca_jitter_finalize (GObject * object);
static void gst_alexnet_pca_jitter_set_property (GObject * object,
    guint prop_id, const GValue * value, GParamSpec * pspec);
static void gst_alexnet_pca_jitter_get_property (GObject * object,
    guint prop_id, GValue * value, GParamSpec * pspec);
static gboolean gst_alexnet_pca_jitter_start (GstBaseTransform * trans);
static GstFlowReturn gst_alexnet_pca_jitter_transform_frame_ip (GstVideoFilter *
    filter, GstVideoFrame * frame);

static void
gst_alexnet_pca_jitter_class_init (GstAlexnetPcaJitterClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_alexnet_pca_jitter_debug, "pca-jitter", 0,
      "PCA colour noise");

  gobject_class->finalize = gst_alexnet_pca_jitter_finalize;
  gobject_class->set_property = gst_alexnet_pca_jitter_set_property;
  gobject_class->get_property = gst_alexnet_pca_jitter_get_property;

  g_object_class_install_property (gobject_class, PROP_SIGMA,
      g_param_spec_double ("sigma", "Sigma",
          "Standard deviation of the per-image draws alpha ~ N(0, sigma) "
          "along each principal component (0 disables the noise)",
          0.0, 100.0, DEFAULT_PROP_SIGMA,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_STATS_LOCATION,
      g_param_spec_string ("stats-location", "Statistics file",
          "Colour statistics file written by dataset-stats, read at start "
          "(none: the ImageNet eigenvalues and eigenvectors)",
          DEFAULT_PROP_STATS_LOCATION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_int64 ("seed", "Seed",
          "Seed of the noise, applied at start: >= 0 reproducible, "
          "-1 a different seed every run",
          -1, G_MAXINT64, DEFAULT_PROP_SEED,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "PCA colour noise", "Filter/Effect/Video",
      "Adds AlexNet's per-image colour noise along the RGB principal "
      "components of a data set", "gst-alexnet");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_alexnet_pca_jitter_start);
  filter_class->transform_frame_ip =
      GST_DEBUG_FUNCPTR (gst_alexnet_pca_jitter_transform_frame_ip);
}

static void
gst_alexnet_pca_jitter_init (GstAlexnetPcaJitter * self)
{
  self->sigma = DEFAULT_PROP_SIGMA;
  self->stats_location = g_strdup (DEFAULT_PROP_STATS_LOCATION);
  self->seed = DEFAULT_PROP_SEED;
  gst_alexnet_stats_init_imagenet (&self->stats);
  ax_rng_seed (&self->rng, 0);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}

static void
gst_alexnet_pca_jitter_finalize (GObject * object)
{
  GstAlexnetPcaJitter *self = GST_ALEXNET_PCA_JITTER (object);

  g_free (self->stats_location);
  G_OBJECT_CLASS (gst_alexnet_pca_jitter_parent_class)->finalize (object);
}

static void
gst_alexnet_pca_jitter_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstAlexnetPcaJitter *self = GST_ALEXNET_PCA_JITTER (object);

  switch (prop_id) {
    case PROP_SIGMA:{
      gdouble sigma = g_value_get_double (value);
      GST_OBJECT_LOCK (self);
      self->sigma = sigma;
      GST_OBJECT_UNLOCK (self);
      /* No noise: hand buffers on untouched, without making them writable. */
      gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self),
          sigma == 0.0);
      break;
    }
    case PROP_STATS_LOCATION:
      GST_OBJECT_LOCK (self);
      g_free (self->stats_location);
      self->stats_location = g_value_dup_string (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_SEED:
      GST_OBJECT_LOCK (self);
      self->seed = g_value_get_int64 (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_alexnet_pca_jitter_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstAlexnetPcaJitter *self = GST_ALEXNET_PCA_JITTER (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SIGMA:
      g_value_set_double (value, self->sigma);
      break;
    case PROP_STATS_LOCATION:
      g_value_set_string (value, self->stats_location);
      break;
    case PROP_SEED:
      g_value_set_int64 (value, self->seed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* Reads the statistics (or takes the ImageNet values) and seeds the
 * generator: ax_rng_seed (seed), then three ax_rng_normal draws per image. */
static gboolean
gst_alexnet_pca_jitter_start (GstBaseTransform * trans)
{
  GstAlexnetPcaJitter *self = GST_ALEXNET_PCA_JITTER (trans);
  GError *err = NULL;
  gchar *location;
  gint64 seed;

  GST_OBJECT_LOCK (self);
  location = g_strdup (self->stats_location);
  seed = self->seed;
  GST_OBJECT_UNLOCK (self);

  if (location == NULL || location[0] == '\0') {
    gst_alexnet_stats_init_imagenet (&self->stats);
  } else if (!gst_alexnet_stats_load (location, &self->stats, &err)) {
    goto load_failed;
  }
  if (seed < 0)
    seed = (gint64) (((guint64) g_random_int () << 31) ^ g_random_int ());
  ax_rng_seed (&self->rng, (guint64) seed);
  GST_INFO_OBJECT (self, "seed %" G_GINT64_FORMAT ", statistics from %s, "
      "eigenvalues %g %g %g", seed, location ? location : "ImageNet defaults",
      self->stats.eigenvalues[0], self->stats.eigenvalues[1],
      self->stats.eigenvalues[2]);
  g_free (location);
  return TRUE;

  /* ERRORS */
load_failed:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not use the colour statistics file \"%s\": %s", location,
            err->message), ("stats-location=%s", location));
    g_clear_error (&err);
    g_free (location);
    return FALSE;
  }
}

static GstFlowReturn
gst_alexnet_pca_jitter_transform_frame_ip (GstVideoFilter * filter,
    GstVideoFrame * frame)
{
  GstAlexnetPcaJitter *self = GST_ALEXNET_PCA_JITTER (filter);
  gdouble sigma, alpha[3];

  /* passthrough (sigma == 0): the frame is mapped read-only */
  if (gst_base_transform_is_passthrough (GST_BASE_TRANSFORM (filter)))
    return GST_FLOW_OK;

  GST_OBJECT_LOCK (self);
  sigma = self->sigma;
  GST_OBJECT_UNLOCK (self);

  for (int i = 0; i < 3; i++)
    alpha[i] = sigma * ax_rng_normal (&self->rng);
  GST_LOG_OBJECT (self, "alpha %g %g %g", alpha[0], alpha[1], alpha[2]);

  ax_pca_jitter_rgb (GST_VIDEO_FRAME_PLANE_DATA (frame, 0),
      GST_VIDEO_FRAME_WIDTH (frame), GST_VIDEO_FRAME_HEIGHT (frame),
      (size_t) GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0),
      alpha, self->stats.eigenvalues, self->stats.eigenvectors);
  return GST_FLOW_OK;
}
