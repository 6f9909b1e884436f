/* gst-alexnet — resize-256: shorter side to S, centre crop S x S (or the
 * whole image rescaled isotropically, S fixed or drawn per image).
 * Copyright (C) 2026 gst-alexnet authors
 * SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SECTION:element-resize-256
 * @title: resize-256
 *
 * Rescales RGB images so that the shorter side becomes S pixels, exactly as
 * torchvision's `Resize(S)` does on PIL images (PIL's antialiased BILINEAR
 * filter, the same fixed point; the longer side becomes
 * `int(S * long / short)`), and outputs
 *
 * * `mode=centre-square` (default): the centre S x S square, as
 *   `Resize(S)` + `CenterCrop(S)` (the same crop offset): AlexNet's
 *   "shorter side to 256, centre crop 256x256";
 * * `mode=isotropic`: the whole rescaled image, nothing cut away: the VGG
 *   paper's isotropic rescale, from which random-crop-flip then cuts the
 *   224 x 224 training crops anywhere in the image.
 *
 * S is #GstAlexnetResize256:size, or, when #GstAlexnetResize256:scale-min and
 * #GstAlexnetResize256:scale-max are both set, drawn for every image
 * uniformly from the integers [scale-min, scale-max] (the VGG paper's
 * multi-scale training by scale jittering, S in [256, 512]) by a generator
 * seeded by #GstAlexnetResize256:seed. The output size then changes from one
 * image to the next: the element sends new caps downstream before every
 * image whose output size differs from the last one, as a decoder does when
 * the picture size changes.
 *
 * Input images may change size from one buffer to the next; the resampling
 * plan is rebuilt only when the geometry changes. An image that cannot be
 * resized sensibly — one whose resized image (shorter side the largest S
 * in use) would have a side above AX_RESIZE_MAX_SIDE (1,048,576) pixels,
 * e.g. a 1 x 60000 strip at S = 256, or whose own side is above it — is
 * skipped with a warning naming it and counted in
 * #GstAlexnetResize256:skipped, and the stream goes on with the next
 * image. The element answers the
 * "alexnet/target-size" query of `decode` with the largest S it may use.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 filesrc location=cat.jpg ! jpegdec ! videoconvert ! \
 *     resize-256 ! videoconvert ! autovideosink
 * gst-launch-1.0 dataset-src location=train/ shuffle=true ! decode ! \
 *     resize-256 mode=isotropic scale-min=256 scale-max=512 seed=1 ! \
 *     random-crop-flip size=224 seed=1 ! videoconvert ! autovideosink
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

#include "elements/gstalexnetelements.h"
#include "plugin/gstalexnetmeta.h"
#include "kernels/image/image_resize.h"
#include "kernels/util/rng.h"

GST_DEBUG_CATEGORY_STATIC (gst_alexnet_resize_256_debug);
#define GST_CAT_DEFAULT gst_alexnet_resize_256_debug

typedef enum
{
  GST_ALEXNET_RESIZE_256_MODE_CENTRE_SQUARE,
  GST_ALEXNET_RESIZE_256_MODE_ISOTROPIC,
} GstAlexnetResize256Mode;

#define DEFAULT_PROP_SIZE 256
#define DEFAULT_PROP_MODE GST_ALEXNET_RESIZE_256_MODE_CENTRE_SQUARE
#define DEFAULT_PROP_SCALE_MIN 0
#define DEFAULT_PROP_SCALE_MAX 0
#define DEFAULT_PROP_SEED -1

enum
{
  PROP_0,
  PROP_SIZE,
  PROP_MODE,
  PROP_SCALE_MIN,
  PROP_SCALE_MAX,
  PROP_SEED,
  PROP_SKIPPED,
};

/* no framerate field: still images from decoders often have none */
#define RESIZE_CAPS "video/x-raw, format = (string) RGB, " \
    "width = (int) [ 1, max ], height = (int) [ 1, max ]"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (RESIZE_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (RESIZE_CAPS));

typedef struct
{
  GstVideoFilter parent;

  /* properties, the range in force and the generator, under the object
   * lock */
  gint size;
  GstAlexnetResize256Mode mode;
  gint scale_min, scale_max;
  gint64 seed;
  gint jitter_min, jitter_max;  /* range S is drawn from; 0, 0: none */
  ax_rng rng;
  gint next_s;                  /* S of the next image, while jittering */

  guint64 skipped;              /* images too elongated to resize */

  /* streaming state */
  ax_resize_plan plan;          /* for the negotiated input and output */
  gboolean have_plan;
  gboolean skip_caps;           /* the negotiated input cannot be resized:
                                 * its images are skipped */
} GstAlexnetResize256;

typedef struct
{
  GstVideoFilterClass parent_class;
} GstAlexnetResize256Class;

#define GST_TYPE_ALEXNET_RESIZE_256 (gst_alexnet_resize_256_get_type ())
#define GST_ALEXNET_RESIZE_256(obj) ((GstAlexnetResize256 *) (obj))
#define GST_TYPE_ALEXNET_RESIZE_256_MODE (gst_alexnet_resize_256_mode_get_type ())

G_DEFINE_TYPE (GstAlexnetResize256, gst_alexnet_resize_256,
    GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (resize_256, "resize-256", GST_RANK_NONE,
    GST_TYPE_ALEXNET_RESIZE_256);

static GType
gst_alexnet_resize_256_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ALEXNET_RESIZE_256_MODE_CENTRE_SQUARE,
        "Shorter side to S, then the centre S x S square", "centre-square"},
    {GST_ALEXNET_RESIZE_256_MODE_ISOTROPIC,
        "Shorter side to S, the whole rescaled image", "isotropic"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstAlexnetResize256Mode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void gst_alexnet_resize_256_set_property (GObject * object,
    guint prop_id, const GValue * value, GParamSpec * pspec);
static void gst_alexnet_resize_256_get_property (GObject * object,
    guint prop_id, GValue * value, GParamSpec * pspec);
static void gst_alexnet_resize_256_finalize (GObject * object);
static GstCaps *gst_alexnet_resize_256_transform_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, GstCaps * filter);
static gboolean gst_alexnet_resize_256_query (GstBaseTransform * trans,
    GstPadDirection direction, GstQuery * query);
static gboolean gst_alexnet_resize_256_start (GstBaseTransform * trans);
static gboolean gst_alexnet_resize_256_stop (GstBaseTransform * trans);
static GstFlowReturn
gst_alexnet_resize_256_submit_input_buffer (GstBaseTransform * trans,
    gboolean is_discont, GstBuffer * input);
static gboolean gst_alexnet_resize_256_set_info (GstVideoFilter * filter,
    GstCaps * incaps, GstVideoInfo * in_info, GstCaps * outcaps,
    GstVideoInfo * out_info);
static GstFlowReturn gst_alexnet_resize_256_transform_frame (GstVideoFilter *
    filter, GstVideoFrame * in_frame, GstVideoFrame * out_frame);

static void
gst_alexnet_resize_256_class_init (GstAlexnetResize256Class * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_alexnet_resize_256_debug, "resize-256", 0,
      "shorter side to S, centre square or whole image");

  gobject_class->set_property = gst_alexnet_resize_256_set_property;
  gobject_class->get_property = gst_alexnet_resize_256_get_property;
  gobject_class->finalize = gst_alexnet_resize_256_finalize;

  g_object_class_install_property (gobject_class, PROP_SIZE,
      g_param_spec_int ("size", "Size",
          "Length S of the shorter side after resizing (and of both sides of "
          "the centre square in mode=centre-square), unless scale-min and "
          "scale-max are set", 1, 4096, DEFAULT_PROP_SIZE,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "centre-square: output the centre S x S square (AlexNet); "
          "isotropic: output the whole image rescaled to shorter side S, "
          "nothing cut away (VGG)", GST_TYPE_ALEXNET_RESIZE_256_MODE,
          DEFAULT_PROP_MODE, G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_SCALE_MIN,
      g_param_spec_int ("scale-min", "Scale minimum",
          "Scale jittering: with scale-max, S is drawn for every image "
          "uniformly from [scale-min, scale-max] (VGG: 256); 0 = unset, "
          "S is size", 0, 4096, DEFAULT_PROP_SCALE_MIN,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_SCALE_MAX,
      g_param_spec_int ("scale-max", "Scale maximum",
          "Scale jittering: the largest S drawn (VGG: 512); 0 = unset. Set "
          "both or neither; scale-min > scale-max is an error at start",
          0, 4096, DEFAULT_PROP_SCALE_MAX,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_int64 ("seed", "Seed",
          "Seed of the scale jittering: -1 picks a different one every run, "
          ">= 0 reproduces the same sequence of S (setting it restarts the "
          "sequence)", -1, G_MAXINT64, DEFAULT_PROP_SEED,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_SKIPPED,
      g_param_spec_uint64 ("skipped", "Skipped images",
          "Images skipped (with a warning) because resizing them would make "
          "a side longer than 1048576 pixels (AX_RESIZE_MAX_SIDE), e.g. a "
          "1x60000 strip at S = 256", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Resize shorter side and centre crop", "Filter/Converter/Video/Scaler",
      "Scales RGB images so the shorter side is S (PIL bilinear, "
      "antialiased; S = size, or drawn per image from [scale-min, "
      "scale-max]) and outputs the centre S x S square or the whole image",
      "gst-alexnet authors");

  /* an input that is already its own result goes through untouched */
  trans_class->passthrough_on_same_caps = TRUE;
  trans_class->transform_caps =
      GST_DEBUG_FUNCPTR (gst_alexnet_resize_256_transform_caps);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_alexnet_resize_256_query);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_alexnet_resize_256_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_alexnet_resize_256_stop);
  trans_class->submit_input_buffer =
      GST_DEBUG_FUNCPTR (gst_alexnet_resize_256_submit_input_buffer);
  filter_class->set_info = GST_DEBUG_FUNCPTR (gst_alexnet_resize_256_set_info);
  filter_class->transform_frame =
      GST_DEBUG_FUNCPTR (gst_alexnet_resize_256_transform_frame);

  gst_type_mark_as_plugin_api (GST_TYPE_ALEXNET_RESIZE_256_MODE, 0);
}

/* The generator's stream of the seed ("resize" in ASCII): the same seed on
 * random-crop-flip, which uses the seed itself, gives unrelated draws. */
#define SCALE_JITTER_STREAM G_GUINT64_CONSTANT (0x726573697a65)

/* Call with the object lock held. As random-crop-flip: -1 seeds from
 * GLib's generator, anything else reproduces the sequence. */
static void
gst_alexnet_resize_256_reseed (GstAlexnetResize256 * self)
{
  ax_rng_seed_stream (&self->rng, gst_alexnet_seed_value (self->seed),
      SCALE_JITTER_STREAM);
}

/* Call with the object lock held: draws the S of the next image. */
static void
gst_alexnet_resize_256_draw (GstAlexnetResize256 * self)
{
  if (self->jitter_max > 0)
    self->next_s = self->jitter_min + (gint) ax_rng_below (&self->rng,
        (guint32) (self->jitter_max - self->jitter_min + 1));
}

/* Call with the object lock held: S of the next image. */
static gint
gst_alexnet_resize_256_s (GstAlexnetResize256 * self)
{
  return self->jitter_max > 0 ? self->next_s : self->size;
}

/* NULL when scale-min and scale-max make a range of S (or are both unset),
 * else what is wrong with them. */
static const gchar *
gst_alexnet_resize_256_range_error (gint scale_min, gint scale_max)
{
  if (scale_min == 0 && scale_max == 0)
    return NULL;
  if (scale_min == 0 || scale_max == 0)
    return "only one of them is set (set both, or neither to use size)";
  if (scale_min < 1 || scale_max < 1)
    return "a shorter side must be at least 1";
  if (scale_min > scale_max)
    return "scale-min is larger than scale-max, the range is empty";
  return NULL;
}

/* Call with the object lock held: makes the properties the range in force
 * when they are one, and draws the next S from it. FALSE when they are not
 * a range: the range in force stays. */
static gboolean
gst_alexnet_resize_256_adopt_range (GstAlexnetResize256 * self)
{
  if (gst_alexnet_resize_256_range_error (self->scale_min,
          self->scale_max) != NULL)
    return FALSE;
  self->jitter_min = self->scale_min;
  self->jitter_max = self->scale_max;
  gst_alexnet_resize_256_draw (self);
  return TRUE;
}

static void
gst_alexnet_resize_256_init (GstAlexnetResize256 * self)
{
  self->size = DEFAULT_PROP_SIZE;
  self->mode = DEFAULT_PROP_MODE;
  self->scale_min = DEFAULT_PROP_SCALE_MIN;
  self->scale_max = DEFAULT_PROP_SCALE_MAX;
  self->seed = DEFAULT_PROP_SEED;
  self->jitter_min = self->jitter_max = 0;
  self->next_s = DEFAULT_PROP_SIZE;
  self->have_plan = FALSE;
  gst_alexnet_resize_256_reseed (self);
  /* every image of a data set counts: do not drop late ones unless asked */
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), FALSE);
}

static void
gst_alexnet_resize_256_finalize (GObject * object)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (object);

  if (self->have_plan)
    ax_resize_plan_clear (&self->plan);
  G_OBJECT_CLASS (gst_alexnet_resize_256_parent_class)->finalize (object);
}

static void
gst_alexnet_resize_256_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (object);
  gboolean adopted;

  switch (prop_id) {
    case PROP_SIZE:
      GST_OBJECT_LOCK (self);
      self->size = g_value_get_int (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_MODE:
      GST_OBJECT_LOCK (self);
      self->mode = g_value_get_enum (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_SCALE_MIN:
    case PROP_SCALE_MAX:
      /* while streaming, a new pair takes effect once it is a range (the
       * two are set one after the other); start refuses one that is not */
      GST_OBJECT_LOCK (self);
      if (prop_id == PROP_SCALE_MIN)
        self->scale_min = g_value_get_int (value);
      else
        self->scale_max = g_value_get_int (value);
      adopted = gst_alexnet_resize_256_adopt_range (self);
      GST_OBJECT_UNLOCK (self);
      if (!adopted)
        GST_DEBUG_OBJECT (self, "scale-min and scale-max are no range yet: "
            "the range in force stays");
      break;
    case PROP_SEED:
      GST_OBJECT_LOCK (self);
      self->seed = g_value_get_int64 (value);
      gst_alexnet_resize_256_reseed (self);
      gst_alexnet_resize_256_draw (self);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      return;
  }
  /* the next image may have another output size */
  gst_base_transform_reconfigure_src (GST_BASE_TRANSFORM (self));
}

static void
gst_alexnet_resize_256_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SIZE:
      g_value_set_int (value, self->size);
      break;
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case PROP_SCALE_MIN:
      g_value_set_int (value, self->scale_min);
      break;
    case PROP_SCALE_MAX:
      g_value_set_int (value, self->scale_max);
      break;
    case PROP_SEED:
      g_value_set_int64 (value, self->seed);
      break;
    case PROP_SKIPPED:
      g_value_set_uint64 (value, self->skipped);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* Output size of a w x h image with shorter side s; FALSE when it would be
 * too large to resize. */
static gboolean
gst_alexnet_resize_256_out_size (GstAlexnetResize256Mode mode, gint w, gint h,
    gint s, gint * out_w, gint * out_h)
{
  if (mode == GST_ALEXNET_RESIZE_256_MODE_CENTRE_SQUARE) {
    *out_w = *out_h = s;
    return TRUE;
  }
  return ax_resize_scaled_size (out_w, out_h, w, h, s) == 0;
}

/* Call with the object lock held: the largest S an image may be resized
 * to. */
static gint
gst_alexnet_resize_256_max_s (GstAlexnetResize256 * self)
{
  return self->jitter_max > 0 ? self->jitter_max : self->size;
}

/* TRUE when a w x h image can be resized to shorter side s: its sides and
 * those of the resized image are at most AX_RESIZE_MAX_SIDE. */
static gboolean
gst_alexnet_resize_256_can_resize (gint w, gint h, gint s)
{
  gint sw, sh;

  return w <= AX_RESIZE_MAX_SIDE && h <= AX_RESIZE_MAX_SIDE
      && ax_resize_scaled_size (&sw, &sh, w, h, s) == 0;
}

/* Sets a field to lo, or to [lo, hi] when hi > lo. */
static void
gst_alexnet_resize_256_set_side (GstStructure * s, const gchar * field,
    gint lo, gint hi)
{
  if (hi > lo)
    gst_structure_set (s, field, GST_TYPE_INT_RANGE, lo, hi, NULL);
  else
    gst_structure_set (s, field, G_TYPE_INT, lo, NULL);
}

static GstCaps *
gst_alexnet_resize_256_add_output (GstCaps * caps, const GstStructure * in,
    GstCapsFeatures * f, gint w_lo, gint w_hi, gint h_lo, gint h_hi)
{
  GstStructure *s = gst_structure_copy (in);

  gst_alexnet_resize_256_set_side (s, "width", w_lo, w_hi);
  gst_alexnet_resize_256_set_side (s, "height", h_lo, h_hi);
  /* pixels are taken as square, as PIL does */
  gst_structure_remove_field (s, "pixel-aspect-ratio");
  return gst_caps_merge_structure_full (caps, s,
      f ? gst_caps_features_copy (f) : NULL);
}

/* Towards the source. A structure of fixed size becomes the one output of
 * the next image (shorter side s), or s x s when it is too elongated to
 * resize at max_s (its images are skipped); one of open size every output
 * that a shorter side in [lo, hi] can give: a square, or an image whose
 * shorter side, either one, is in [lo, hi]. */
static GstCaps *
gst_alexnet_resize_256_output_caps (GstCaps * caps, GstCaps * filter,
    GstAlexnetResize256Mode mode, gint s, gint lo, gint hi, gint max_s)
{
  GstCaps *ret = gst_caps_new_empty ();
  guint i, n = gst_caps_get_size (caps);

  for (i = 0; i < n; i++) {
    const GstStructure *in = gst_caps_get_structure (caps, i);
    GstCapsFeatures *f = gst_caps_get_features (caps, i);
    gint w, h, out_w, out_h;

    if (gst_structure_get_int (in, "width", &w)
        && gst_structure_get_int (in, "height", &h)
        && !gst_alexnet_resize_256_can_resize (w, h, max_s)) {
      /* its images are skipped: an S x S stand-in, so that the stream
       * stays negotiated */
      ret = gst_alexnet_resize_256_add_output (ret, in, f, s, s, s, s);
    } else if (gst_structure_get_int (in, "width", &w)
        && gst_structure_get_int (in, "height", &h)) {
      if (gst_alexnet_resize_256_out_size (mode, w, h, s, &out_w, &out_h))
        ret = gst_alexnet_resize_256_add_output (ret, in, f, out_w, out_w,
            out_h, out_h);
    } else if (mode == GST_ALEXNET_RESIZE_256_MODE_CENTRE_SQUARE) {
      ret = gst_alexnet_resize_256_add_output (ret, in, f, lo, hi, lo, hi);
    } else {
      ret = gst_alexnet_resize_256_add_output (ret, in, f, lo, hi, lo,
          G_MAXINT);
      ret = gst_alexnet_resize_256_add_output (ret, in, f, lo, G_MAXINT, lo,
          hi);
    }
  }

  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, ret,
        GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (ret);
    ret = tmp;
  }
  return ret;
}

/* How renegotiation works. This is a GstVideoFilter (GstBaseTransform),
 * whose output caps follow from the input caps through transform_caps: here
 * they follow from the input caps and the S of the next image, which
 * transform_caps reads (next_s, drawn in advance). So the output size is
 * always negotiated by the base class's own path: a new input size comes as
 * a CAPS event; a new S marks the source pad for reconfiguration
 * (submit_input_buffer below, and set_property), and the base class's
 * submit_input_buffer then runs set_caps again (transform_caps, fixate,
 * set_info) and pushes the new caps downstream before the image, as a
 * decoder does when the picture size changes. (Pushing them with
 * gst_base_transform_update_src_caps instead would skip set_info, leaving
 * the plan and the output info of the last size.) A structure of fixed size
 * gives fixed caps, so the default fixate_caps has nothing left to choose:
 * downstream can refuse them (not-negotiated) but not change them.
 * Towards the sink, any input can give any output. */
static GstCaps *
gst_alexnet_resize_256_transform_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, GstCaps * filter)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (trans);
  GstAlexnetResize256Mode mode;
  GstCaps *ret;
  gint s, lo, hi;

  GST_OBJECT_LOCK (self);
  mode = self->mode;
  s = gst_alexnet_resize_256_s (self);
  lo = self->jitter_max > 0 ? self->jitter_min : s;
  hi = self->jitter_max > 0 ? self->jitter_max : s;
  GST_OBJECT_UNLOCK (self);

  if (direction == GST_PAD_SINK)
    ret = gst_alexnet_resize_256_output_caps (caps, filter, mode, s, lo, hi,
        MAX (hi, s));
  else
    ret = gst_alexnet_square_caps (direction, caps, filter, s, TRUE);

  GST_DEBUG_OBJECT (self, "%s %" GST_PTR_FORMAT " -> %" GST_PTR_FORMAT,
      direction == GST_PAD_SINK ? "sink" : "src", caps, ret);
  return ret;
}

static gboolean
gst_alexnet_resize_256_query (GstBaseTransform * trans,
    GstPadDirection direction, GstQuery * query)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (trans);
  gint size;

  /* decode asks what shorter side we need: the largest S we may use */
  if (direction == GST_PAD_SINK && gst_alexnet_query_is_target_size (query)) {
    GST_OBJECT_LOCK (self);
    size = self->jitter_max > 0 ? self->jitter_max : self->size;
    GST_OBJECT_UNLOCK (self);
    gst_alexnet_query_set_target_size (query, size);
    return TRUE;
  }
  return
      GST_BASE_TRANSFORM_CLASS (gst_alexnet_resize_256_parent_class)->query
      (trans, direction, query);
}

static gboolean
gst_alexnet_resize_256_start (GstBaseTransform * trans)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (trans);
  gint scale_min, scale_max;

  GST_OBJECT_LOCK (self);
  scale_min = self->scale_min;
  scale_max = self->scale_max;
  if (!gst_alexnet_resize_256_adopt_range (self)) {
    GST_OBJECT_UNLOCK (self);
    goto bad_range;
  }
  gst_alexnet_resize_256_reseed (self);
  gst_alexnet_resize_256_draw (self);
  GST_OBJECT_UNLOCK (self);
  return TRUE;

  /* ERRORS */
bad_range:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Invalid scale jittering range scale-min=%d scale-max=%d: %s",
            scale_min, scale_max,
            gst_alexnet_resize_256_range_error (scale_min, scale_max)),
        ("set 1 <= scale-min <= scale-max, or both to 0 to use size"));
    return FALSE;
  }
}

static gboolean
gst_alexnet_resize_256_stop (GstBaseTransform * trans)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (trans);

  if (self->have_plan)
    ax_resize_plan_clear (&self->plan);
  self->have_plan = FALSE;
  self->skip_caps = FALSE;
  return TRUE;
}

/* Drops an image that cannot be resized to shorter side s, with a warning
 * naming it and the limit. */
static void
gst_alexnet_resize_256_skip (GstAlexnetResize256 * self, GstBuffer * input,
    gint s)
{
  GstAlexnetLabelMeta *meta = gst_buffer_get_alexnet_label_meta (input);
  GstVideoInfo *in_info = &GST_VIDEO_FILTER (self)->in_info;
  gint w = GST_VIDEO_INFO_WIDTH (in_info), h = GST_VIDEO_INFO_HEIGHT (in_info);
  gdouble longer = (gdouble) s * MAX (w, h) / MAX (MIN (w, h), 1);
  guint64 n;

  GST_OBJECT_LOCK (self);
  n = ++self->skipped;
  GST_OBJECT_UNLOCK (self);
  GST_ELEMENT_WARNING (self, STREAM, FORMAT,
      ("resize-256 skipped %s%s%s (%dx%d): resized to shorter side "
          "%d its longer side would be %.0f pixels, above the limit of %d "
          "(AX_RESIZE_MAX_SIDE); %" G_GUINT64_FORMAT " image%s skipped so "
          "far (the skipped property)",
          meta && meta->sample_id ? "image '" : "an image",
          meta && meta->sample_id ? meta->sample_id : "",
          meta && meta->sample_id ? "'" : "", w, h, s,
          MAX (longer, (gdouble) MAX (w, h)), AX_RESIZE_MAX_SIDE, n,
          n == 1 ? "" : "s"), ("remove or crop the image, or lower size"));
  gst_buffer_unref (input);
}

/* The image just queued was negotiated with the S drawn for it (the base
 * class renegotiates first when the source pad was marked): draw the next
 * image's S, and mark the pad when that changes the output size. */
static GstFlowReturn
gst_alexnet_resize_256_submit_input_buffer (GstBaseTransform * trans,
    gboolean is_discont, GstBuffer * input)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (trans);
  GstVideoFilter *filter = GST_VIDEO_FILTER (trans);
  GstAlexnetResize256Mode mode;
  GstFlowReturn ret;
  gboolean jitter;
  gint s, out_w, out_h;

  GST_OBJECT_LOCK (self);
  s = gst_alexnet_resize_256_max_s (self);
  GST_OBJECT_UNLOCK (self);
  if (G_UNLIKELY (filter->negotiated && (self->skip_caps
              || !gst_alexnet_resize_256_can_resize (GST_VIDEO_INFO_WIDTH
                  (&filter->in_info), GST_VIDEO_INFO_HEIGHT
                  (&filter->in_info), s)))) {
    gst_alexnet_resize_256_skip (self, input, s);
    return GST_FLOW_OK;
  }

  ret = GST_BASE_TRANSFORM_CLASS
      (gst_alexnet_resize_256_parent_class)->submit_input_buffer (trans,
      is_discont, input);
  if (ret != GST_FLOW_OK)
    return ret;

  GST_OBJECT_LOCK (self);
  jitter = self->jitter_max > 0;
  gst_alexnet_resize_256_draw (self);
  mode = self->mode;
  s = gst_alexnet_resize_256_s (self);
  GST_OBJECT_UNLOCK (self);

  if (jitter && filter->negotiated
      && (!gst_alexnet_resize_256_out_size (mode,
              GST_VIDEO_INFO_WIDTH (&filter->in_info),
              GST_VIDEO_INFO_HEIGHT (&filter->in_info), s, &out_w, &out_h)
          || out_w != GST_VIDEO_INFO_WIDTH (&filter->out_info)
          || out_h != GST_VIDEO_INFO_HEIGHT (&filter->out_info))) {
    GST_LOG_OBJECT (self, "next S %d: renegotiating", s);
    gst_base_transform_reconfigure_src (trans);
  }
  return ret;
}

/* The negotiated caps say what to make: a square output is the centre
 * square of side S (also the whole image when the rescaled image is
 * square), any other the whole image rescaled to shorter side S. */
static gboolean
gst_alexnet_resize_256_set_info (GstVideoFilter * filter, GstCaps * incaps,
    GstVideoInfo * in_info, GstCaps * outcaps, GstVideoInfo * out_info)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (filter);
  gint w = GST_VIDEO_INFO_WIDTH (in_info), h = GST_VIDEO_INFO_HEIGHT (in_info);
  gint out_w = GST_VIDEO_INFO_WIDTH (out_info);
  gint out_h = GST_VIDEO_INFO_HEIGHT (out_info);
  gint s, sw, sh;
  (void) incaps;
  (void) outcaps;

  /* the plan's memory is kept across sizes (the plan is zeroed with the
   * instance, or cleared, before its first use) */
  self->have_plan = FALSE;
  GST_OBJECT_LOCK (self);
  s = gst_alexnet_resize_256_max_s (self);
  GST_OBJECT_UNLOCK (self);
  self->skip_caps = !gst_alexnet_resize_256_can_resize (w, h, s);
  if (self->skip_caps) {
    GST_DEBUG_OBJECT (self, "%dx%d cannot be resized to %d: skipping its "
        "images", w, h, s);
    return TRUE;
  }
  if (out_w == out_h) {
    if (ax_resize_plan_update (&self->plan, w, h, out_w) != 0)
      goto no_plan;
  } else {
    s = w <= h ? out_w : out_h;
    if (ax_resize_scaled_size (&sw, &sh, w, h, s) != 0 || sw != out_w
        || sh != out_h)
      goto bad_size;
    if (ax_resize_plan_update_window (&self->plan, w, h, sw, sh, 0, 0, sw,
            sh) != 0)
      goto no_plan;
  }
  self->have_plan = TRUE;
  GST_DEBUG_OBJECT (self, "%dx%d -> %dx%d, window of %dx%d at %d,%d", w, h,
      out_w, out_h, self->plan.scaled_w, self->plan.scaled_h,
      self->plan.crop_x, self->plan.crop_y);
  return TRUE;

  /* ERRORS */
bad_size:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Output %dx%d is neither a square nor the whole %dx%d image "
            "rescaled", out_w, out_h, w, h), (NULL));
    return FALSE;
  }
no_plan:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Could not prepare to resize %dx%d images to %dx%d", w, h, out_w,
            out_h), ("ax_resize_plan_update failed: bad size or out of "
            "memory"));
    return FALSE;
  }
}

static GstFlowReturn
gst_alexnet_resize_256_transform_frame (GstVideoFilter * filter,
    GstVideoFrame * in_frame, GstVideoFrame * out_frame)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (filter);

  if (G_UNLIKELY (!self->have_plan))
    goto not_negotiated;
  ax_resize_rgb (GST_VIDEO_FRAME_PLANE_DATA (out_frame, 0),
      GST_VIDEO_FRAME_PLANE_STRIDE (out_frame, 0),
      GST_VIDEO_FRAME_PLANE_DATA (in_frame, 0),
      GST_VIDEO_FRAME_PLANE_STRIDE (in_frame, 0), &self->plan);
  return GST_FLOW_OK;

  /* ERRORS */
not_negotiated:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("no resize plan: caps were not negotiated"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
}
