/* gst-alexnet — random-crop-flip: AlexNet's train crops and test views.
 * Copyright (C) 2026 gst-alexnet authors
 * SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SECTION:element-random-crop-flip
 * @title: random-crop-flip
 *
 * Cuts #GstAlexnetRandomCropFlip:size x #GstAlexnetRandomCropFlip:size squares out of RGB
 * images of any shape at least that large in both dimensions, as AlexNet's
 * data augmentation does (and VGG's, from the whole image that
 * `resize-256 mode=isotropic` rescales):
 *
 * * `mode=train` (default): a random position (uniform over every position
 *   that fits, like torchvision's `RandomCrop`) and a left-right mirror with
 *   probability 0.5 (`RandomHorizontalFlip`), drawn from a generator seeded
 *   by #GstAlexnetRandomCropFlip:seed.
 * * `mode=center`: the centre crop (`CenterCrop`).
 * * `mode=ten-crop`: ten output buffers per input in torchvision's `TenCrop`
 *   order — top-left, top-right, bottom-left, bottom-right, centre, then the
 *   same five crops of the mirrored image. Each carries the input's
 *   timestamps and its label meta with `view` 0..9 and `n_views` 10.
 *
 * Inputs may change size between buffers (new caps in the middle of the
 * stream, as `resize-256` sends under scale jittering); an input smaller
 * than the crop in either dimension is an error.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 filesrc location=cat.jpg ! jpegdec ! videoconvert ! \
 *     resize-256 ! random-crop-flip seed=1 ! videoconvert ! autovideosink
 * gst-launch-1.0 filesrc location=cat.jpg ! jpegdec ! videoconvert ! \
 *     resize-256 ! random-crop-flip mode=ten-crop ! fakesink
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
#include "kernels/image/image_crop.h"
#include "kernels/util/rng.h"

GST_DEBUG_CATEGORY_STATIC (gst_alexnet_random_crop_flip_debug);
#define GST_CAT_DEFAULT gst_alexnet_random_crop_flip_debug

typedef enum
{
  GST_ALEXNET_RANDOM_CROP_FLIP_MODE_TRAIN,
  GST_ALEXNET_RANDOM_CROP_FLIP_MODE_CENTER,
  GST_ALEXNET_RANDOM_CROP_FLIP_MODE_TEN_CROP,
} GstAlexnetRandomCropFlipMode;

#define N_TEN_CROP_VIEWS 10

#define DEFAULT_PROP_SIZE 224
#define DEFAULT_PROP_MODE GST_ALEXNET_RANDOM_CROP_FLIP_MODE_TRAIN
#define DEFAULT_PROP_SEED -1

enum
{
  PROP_0,
  PROP_SIZE,
  PROP_MODE,
  PROP_SEED,
};

/* no framerate field: still images from decoders often have none */
#define CROP_CAPS "video/x-raw, format = (string) RGB, " \
    "width = (int) [ 1, max ], height = (int) [ 1, max ]"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (CROP_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (CROP_CAPS));

typedef struct
{
  GstVideoFilter parent;

  /* properties and the generator, under the object lock */
  gint size;
  GstAlexnetRandomCropFlipMode mode;
  gint64 seed;
  ax_rng rng;

  /* streaming state */
  ax_crop_pos centre;           /* for the negotiated input size */
  ax_crop_pos views[N_TEN_CROP_VIEWS];
  gint next_view;               /* ten-crop view to make of queued_buf */
} GstAlexnetRandomCropFlip;

typedef struct
{
  GstVideoFilterClass parent_class;
} GstAlexnetRandomCropFlipClass;

#define GST_TYPE_ALEXNET_RANDOM_CROP_FLIP (gst_alexnet_random_crop_flip_get_type ())
#define GST_ALEXNET_RANDOM_CROP_FLIP(obj) ((GstAlexnetRandomCropFlip *) (obj))
#define GST_TYPE_ALEXNET_RANDOM_CROP_FLIP_MODE (gst_alexnet_random_crop_flip_mode_get_type ())

G_DEFINE_TYPE (GstAlexnetRandomCropFlip, gst_alexnet_random_crop_flip,
    GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (random_crop_flip, "random-crop-flip",
    GST_RANK_NONE, GST_TYPE_ALEXNET_RANDOM_CROP_FLIP);

static GType
gst_alexnet_random_crop_flip_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ALEXNET_RANDOM_CROP_FLIP_MODE_TRAIN,
        "Random crop, mirrored with probability 0.5", "train"},
    {GST_ALEXNET_RANDOM_CROP_FLIP_MODE_CENTER, "Centre crop", "center"},
    {GST_ALEXNET_RANDOM_CROP_FLIP_MODE_TEN_CROP,
        "Ten views: four corners and centre, and their mirrors", "ten-crop"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstAlexnetRandomCropFlipMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void gst_alexnet_random_crop_flip_set_property (GObject * object,
    guint prop_id, const GValue * value, GParamSpec * pspec);
static void gst_alexnet_random_crop_flip_get_property (GObject * object,
    guint prop_id, GValue * value, GParamSpec * pspec);
static GstCaps *gst_alexnet_random_crop_flip_transform_caps (GstBaseTransform *
    trans, GstPadDirection direction, GstCaps * caps, GstCaps * filter);
static gboolean gst_alexnet_random_crop_flip_query (GstBaseTransform * trans,
    GstPadDirection direction, GstQuery * query);
static gboolean gst_alexnet_random_crop_flip_start (GstBaseTransform * trans);
static GstFlowReturn
gst_alexnet_random_crop_flip_submit_input_buffer (GstBaseTransform * trans,
    gboolean is_discont, GstBuffer * input);
static GstFlowReturn
gst_alexnet_random_crop_flip_generate_output (GstBaseTransform * trans,
    GstBuffer ** outbuf);
static gboolean gst_alexnet_random_crop_flip_set_info (GstVideoFilter * filter,
    GstCaps * incaps, GstVideoInfo * in_info, GstCaps * outcaps,
    GstVideoInfo * out_info);
static GstFlowReturn
gst_alexnet_random_crop_flip_transform_frame (GstVideoFilter * filter,
    GstVideoFrame * in_frame, GstVideoFrame * out_frame);

static void
gst_alexnet_random_crop_flip_class_init (GstAlexnetRandomCropFlipClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_alexnet_random_crop_flip_debug,
      "random-crop-flip", 0, "train crops and test views");

  gobject_class->set_property = gst_alexnet_random_crop_flip_set_property;
  gobject_class->get_property = gst_alexnet_random_crop_flip_get_property;

  g_object_class_install_property (gobject_class, PROP_SIZE,
      g_param_spec_int ("size", "Size",
          "Width and height of the square crops that are output", 1, 4096,
          DEFAULT_PROP_SIZE, G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "train: random crop and mirror with p=0.5; center: the centre crop; "
          "ten-crop: ten buffers per image (corners, centre, and mirrors)",
          GST_TYPE_ALEXNET_RANDOM_CROP_FLIP_MODE, DEFAULT_PROP_MODE,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_int64 ("seed", "Seed",
          "Seed of the random crops and mirrors: -1 picks a different one "
          "every run, >= 0 reproduces the same sequence (setting it restarts "
          "the sequence)", -1, G_MAXINT64, DEFAULT_PROP_SEED,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Random crop and flip", "Filter/Effect/Video",
      "Cuts size x size crops out of RGB images: random and mirrored for "
      "training, the centre or ten views for testing", "gst-alexnet authors");

  trans_class->transform_caps =
      GST_DEBUG_FUNCPTR (gst_alexnet_random_crop_flip_transform_caps);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_alexnet_random_crop_flip_query);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_alexnet_random_crop_flip_start);
  trans_class->submit_input_buffer =
      GST_DEBUG_FUNCPTR (gst_alexnet_random_crop_flip_submit_input_buffer);
  trans_class->generate_output =
      GST_DEBUG_FUNCPTR (gst_alexnet_random_crop_flip_generate_output);
  filter_class->set_info =
      GST_DEBUG_FUNCPTR (gst_alexnet_random_crop_flip_set_info);
  filter_class->transform_frame =
      GST_DEBUG_FUNCPTR (gst_alexnet_random_crop_flip_transform_frame);

  gst_type_mark_as_plugin_api (GST_TYPE_ALEXNET_RANDOM_CROP_FLIP_MODE, 0);
}

/* Call with the object lock held. */
static void
gst_alexnet_random_crop_flip_reseed (GstAlexnetRandomCropFlip * self)
{
  ax_rng_seed (&self->rng, gst_alexnet_seed_value (self->seed));
}

static void
gst_alexnet_random_crop_flip_init (GstAlexnetRandomCropFlip * self)
{
  self->size = DEFAULT_PROP_SIZE;
  self->mode = DEFAULT_PROP_MODE;
  self->seed = DEFAULT_PROP_SEED;
  self->next_view = 0;
  /* every image of a data set counts: do not drop late ones unless asked */
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), FALSE);
  gst_alexnet_random_crop_flip_reseed (self);
}

static void
gst_alexnet_random_crop_flip_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstAlexnetRandomCropFlip *self = GST_ALEXNET_RANDOM_CROP_FLIP (object);

  switch (prop_id) {
    case PROP_SIZE:
      GST_OBJECT_LOCK (self);
      self->size = g_value_get_int (value);
      GST_OBJECT_UNLOCK (self);
      gst_base_transform_reconfigure_src (GST_BASE_TRANSFORM (self));
      break;
    case PROP_MODE:
      GST_OBJECT_LOCK (self);
      self->mode = g_value_get_enum (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_SEED:
      GST_OBJECT_LOCK (self);
      self->seed = g_value_get_int64 (value);
      gst_alexnet_random_crop_flip_reseed (self);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_alexnet_random_crop_flip_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstAlexnetRandomCropFlip *self = GST_ALEXNET_RANDOM_CROP_FLIP (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SIZE:
      g_value_set_int (value, self->size);
      break;
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
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

static gint
gst_alexnet_random_crop_flip_get_size (GstAlexnetRandomCropFlip * self)
{
  gint size;

  GST_OBJECT_LOCK (self);
  size = self->size;
  GST_OBJECT_UNLOCK (self);
  return size;
}

/* Any input size gives size x size crops (inputs that are too small are
 * refused in set_info, with a message that names the sizes). */
static GstCaps *
gst_alexnet_random_crop_flip_transform_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, GstCaps * filter)
{
  GstAlexnetRandomCropFlip *self = GST_ALEXNET_RANDOM_CROP_FLIP (trans);

  return gst_alexnet_square_caps (direction, caps, filter,
      gst_alexnet_random_crop_flip_get_size (self), FALSE);
}

static gboolean
gst_alexnet_random_crop_flip_query (GstBaseTransform * trans,
    GstPadDirection direction, GstQuery * query)
{
  GstAlexnetRandomCropFlip *self = GST_ALEXNET_RANDOM_CROP_FLIP (trans);

  /* the shorter side must be at least the crop */
  if (direction == GST_PAD_SINK && gst_alexnet_query_is_target_size (query)) {
    gst_alexnet_query_set_target_size (query,
        gst_alexnet_random_crop_flip_get_size (self));
    return TRUE;
  }
  return
      GST_BASE_TRANSFORM_CLASS
      (gst_alexnet_random_crop_flip_parent_class)->query (trans, direction,
      query);
}

static gboolean
gst_alexnet_random_crop_flip_start (GstBaseTransform * trans)
{
  GstAlexnetRandomCropFlip *self = GST_ALEXNET_RANDOM_CROP_FLIP (trans);

  GST_OBJECT_LOCK (self);
  gst_alexnet_random_crop_flip_reseed (self);
  GST_OBJECT_UNLOCK (self);
  self->next_view = 0;
  return TRUE;
}

static gboolean
gst_alexnet_random_crop_flip_set_info (GstVideoFilter * filter,
    GstCaps * incaps, GstVideoInfo * in_info, GstCaps * outcaps,
    GstVideoInfo * out_info)
{
  GstAlexnetRandomCropFlip *self = GST_ALEXNET_RANDOM_CROP_FLIP (filter);
  gint w = GST_VIDEO_INFO_WIDTH (in_info), h = GST_VIDEO_INFO_HEIGHT (in_info);
  gint size = GST_VIDEO_INFO_WIDTH (out_info);
  (void) incaps;
  (void) outcaps;

  if (GST_VIDEO_INFO_HEIGHT (out_info) != size)
    goto not_square;
  if (w < size || h < size)
    goto too_small;

  self->centre = ax_center_crop_pos (w, h, size);
  ax_ten_crop_pos (self->views, w, h, size);
  GST_DEBUG_OBJECT (self, "%dx%d input, %dx%d crops", w, h, size, size);
  return TRUE;

  /* ERRORS */
not_square:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Output must be a square, got %dx%d", size,
            GST_VIDEO_INFO_HEIGHT (out_info)), (NULL));
    return FALSE;
  }
too_small:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("image %dx%d is smaller than the %dx%d crop", w, h, size, size),
        ("put resize-256 (size, or scale-min when jittering, >= %d) before "
            "random-crop-flip", size));
    return FALSE;
  }
}

static void
gst_alexnet_random_crop_flip_set_view (GstBuffer * buf, gint view, gint n_views)
{
  GstAlexnetLabelMeta *m = gst_buffer_get_alexnet_label_meta (buf);

  if (m != NULL) {
    m->view = view;
    m->n_views = n_views;
  }
}

static void
gst_alexnet_random_crop_flip_crop (GstAlexnetRandomCropFlip * self,
    GstVideoFrame * out, GstVideoFrame * in, const ax_crop_pos * pos)
{
  gint size = GST_VIDEO_FRAME_WIDTH (out);

  GST_LOG_OBJECT (self, "crop at %d,%d mirror %d", pos->x, pos->y, pos->mirror);
  ax_crop_flip_rgb (GST_VIDEO_FRAME_PLANE_DATA (out, 0),
      GST_VIDEO_FRAME_PLANE_STRIDE (out, 0),
      GST_VIDEO_FRAME_PLANE_DATA (in, 0),
      GST_VIDEO_FRAME_PLANE_STRIDE (in, 0), pos->x, pos->y, size, size,
      pos->mirror);
}

/* train and center: one crop per input */
static GstFlowReturn
gst_alexnet_random_crop_flip_transform_frame (GstVideoFilter * filter,
    GstVideoFrame * in_frame, GstVideoFrame * out_frame)
{
  GstAlexnetRandomCropFlip *self = GST_ALEXNET_RANDOM_CROP_FLIP (filter);
  ax_crop_pos pos;

  GST_OBJECT_LOCK (self);
  if (self->mode == GST_ALEXNET_RANDOM_CROP_FLIP_MODE_TRAIN)
    pos = ax_random_crop_pos (&self->rng, GST_VIDEO_FRAME_WIDTH (in_frame),
        GST_VIDEO_FRAME_HEIGHT (in_frame), GST_VIDEO_FRAME_WIDTH (out_frame));
  else
    pos = self->centre;
  GST_OBJECT_UNLOCK (self);

  gst_alexnet_random_crop_flip_crop (self, out_frame, in_frame, &pos);
  gst_alexnet_random_crop_flip_set_view (out_frame->buffer, 0, 1);
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_alexnet_random_crop_flip_submit_input_buffer (GstBaseTransform * trans,
    gboolean is_discont, GstBuffer * input)
{
  GstAlexnetRandomCropFlip *self = GST_ALEXNET_RANDOM_CROP_FLIP (trans);

  /* views of an earlier input left over after a failed push: drop them */
  if (trans->queued_buf != NULL) {
    gst_buffer_unref (trans->queued_buf);
    trans->queued_buf = NULL;
  }
  self->next_view = 0;
  return
      GST_BASE_TRANSFORM_CLASS
      (gst_alexnet_random_crop_flip_parent_class)->submit_input_buffer (trans,
      is_discont, input);
}

/* ten-crop: called until it gives no buffer; one view per call */
static GstFlowReturn
gst_alexnet_random_crop_flip_generate_output (GstBaseTransform * trans,
    GstBuffer ** outbuf)
{
  GstAlexnetRandomCropFlip *self = GST_ALEXNET_RANDOM_CROP_FLIP (trans);
  GstVideoFilter *filter = GST_VIDEO_FILTER (trans);
  GstBuffer *inbuf = trans->queued_buf;
  GstVideoFrame in_frame, out_frame;
  GstAlexnetRandomCropFlipMode mode;
  GstFlowReturn ret;
  gint view = self->next_view;

  GST_OBJECT_LOCK (self);
  mode = self->mode;
  GST_OBJECT_UNLOCK (self);

  if (mode != GST_ALEXNET_RANDOM_CROP_FLIP_MODE_TEN_CROP && view == 0)
    return
        GST_BASE_TRANSFORM_CLASS
        (gst_alexnet_random_crop_flip_parent_class)->generate_output (trans,
        outbuf);

  *outbuf = NULL;
  if (inbuf == NULL)
    return GST_FLOW_OK;
  if (!filter->negotiated)
    goto not_negotiated;

  ret = GST_BASE_TRANSFORM_GET_CLASS (trans)->prepare_output_buffer (trans,
      inbuf, outbuf);
  if (ret != GST_FLOW_OK || *outbuf == NULL)
    goto no_buffer;
  if (!gst_video_frame_map (&in_frame, &filter->in_info, inbuf, GST_MAP_READ))
    goto invalid_buffer;
  if (!gst_video_frame_map (&out_frame, &filter->out_info, *outbuf,
          GST_MAP_WRITE)) {
    gst_video_frame_unmap (&in_frame);
    goto invalid_buffer;
  }
  gst_alexnet_random_crop_flip_crop (self, &out_frame, &in_frame,
      &self->views[view]);
  gst_video_frame_unmap (&out_frame);
  gst_video_frame_unmap (&in_frame);

  gst_alexnet_random_crop_flip_set_view (*outbuf, view, N_TEN_CROP_VIEWS);
  if (view > 0)
    GST_BUFFER_FLAG_UNSET (*outbuf, GST_BUFFER_FLAG_DISCONT);

  self->next_view = view + 1;
  if (self->next_view == N_TEN_CROP_VIEWS) {
    trans->queued_buf = NULL;
    gst_buffer_unref (inbuf);
    self->next_view = 0;
  }
  return GST_FLOW_OK;

  /* ERRORS */
not_negotiated:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("ten-crop view requested before caps were negotiated"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
no_buffer:
  {
    GST_DEBUG_OBJECT (self, "no output buffer: %s", gst_flow_get_name (ret));
    return ret != GST_FLOW_OK ? ret : GST_FLOW_ERROR;
  }
invalid_buffer:
  {
    gst_buffer_unref (*outbuf);
    *outbuf = NULL;
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (NULL),
        ("could not map the input or output frame of view %d", view));
    return GST_FLOW_ERROR;
  }
}
