/* gst-alexnet — resize-256: shorter side to S, centre crop S x S.
 * Copyright (C) 2026 gst-alexnet authors
 * SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SECTION:element-resize-256
 * @title: resize-256
 *
 * Rescales RGB images so that the shorter side becomes #GstAlexnetResize256:size
 * pixels and crops the centre #GstAlexnetResize256:size x #GstAlexnetResize256:size square,
 * exactly as torchvision's `Resize(S)` + `CenterCrop(S)` do on PIL images
 * (PIL's antialiased BILINEAR filter, the same fixed point, the same crop
 * offset). Input images may change size from one buffer to the next; the
 * resampling plan is rebuilt only when the size changes. The element answers
 * the "alexnet/target-size" query of `decode` with #GstAlexnetResize256:size.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=cat.jpg ! jpegdec ! videoconvert ! \
 *     resize-256 ! videoconvert ! autovideosink
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

GST_DEBUG_CATEGORY_STATIC (gst_alexnet_resize_256_debug);
#define GST_CAT_DEFAULT gst_alexnet_resize_256_debug

#define DEFAULT_PROP_SIZE 256

enum
{
  PROP_0,
  PROP_SIZE,
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

  gint size;                    /* property, under the object lock */
  ax_resize_plan plan;          /* for the current input size */
  gboolean have_plan;
} GstAlexnetResize256;

typedef struct
{
  GstVideoFilterClass parent_class;
} GstAlexnetResize256Class;

#define GST_TYPE_ALEXNET_RESIZE_256 (gst_alexnet_resize_256_get_type ())
#define GST_ALEXNET_RESIZE_256(obj) ((GstAlexnetResize256 *) (obj))

G_DEFINE_TYPE (GstAlexnetResize256, gst_alexnet_resize_256,
    GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (resize_256, "resize-256", GST_RANK_NONE,
    GST_TYPE_ALEXNET_RESIZE_256);

static void gst_alexnet_resize_256_set_property (GObject * object,
    guint prop_id, const GValue * value, GParamSpec * pspec);
static void gst_alexnet_resize_256_get_property (GObject * object,
    guint prop_id, GValue * value, GParamSpec * pspec);
static void gst_alexnet_resize_256_finalize (GObject * object);
static GstCaps *gst_alexnet_resize_256_transform_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, GstCaps * filter);
static gboolean gst_alexnet_resize_256_query (GstBaseTransform * trans,
    GstPadDirection direction, GstQuery * query);
static gboolean gst_alexnet_resize_256_stop (GstBaseTransform * trans);
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
      "shorter side to S and centre crop");

  gobject_class->set_property = gst_alexnet_resize_256_set_property;
  gobject_class->get_property = gst_alexnet_resize_256_get_property;
  gobject_class->finalize = gst_alexnet_resize_256_finalize;

  g_object_class_install_property (gobject_class, PROP_SIZE,
      g_param_spec_int ("size", "Size",
          "Length of the shorter side after resizing, and of both sides of "
          "the centre crop that is output", 1, 4096, DEFAULT_PROP_SIZE,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Resize shorter side and centre crop", "Filter/Converter/Video/Scaler",
      "Scales RGB images so the shorter side is 'size' (PIL bilinear, "
      "antialiased) and crops the centre size x size square",
      "gst-alexnet authors");

  /* a size x size input is its own result: hand it on untouched */
  trans_class->passthrough_on_same_caps = TRUE;
  trans_class->transform_caps =
      GST_DEBUG_FUNCPTR (gst_alexnet_resize_256_transform_caps);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_alexnet_resize_256_query);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_alexnet_resize_256_stop);
  filter_class->set_info = GST_DEBUG_FUNCPTR (gst_alexnet_resize_256_set_info);
  filter_class->transform_frame =
      GST_DEBUG_FUNCPTR (gst_alexnet_resize_256_transform_frame);
}

static void
gst_alexnet_resize_256_init (GstAlexnetResize256 * self)
{
  self->size = DEFAULT_PROP_SIZE;
  self->have_plan = FALSE;
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

  switch (prop_id) {
    case PROP_SIZE:
      GST_OBJECT_LOCK (self);
      self->size = g_value_get_int (value);
      GST_OBJECT_UNLOCK (self);
      gst_base_transform_reconfigure_src (GST_BASE_TRANSFORM (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_alexnet_resize_256_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (object);

  switch (prop_id) {
    case PROP_SIZE:
      GST_OBJECT_LOCK (self);
      g_value_set_int (value, self->size);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static gint
gst_alexnet_resize_256_get_size (GstAlexnetResize256 * self)
{
  gint size;

  GST_OBJECT_LOCK (self);
  size = self->size;
  GST_OBJECT_UNLOCK (self);
  return size;
}

/* Any input size becomes size x size; any output comes from any input. */
static GstCaps *
gst_alexnet_resize_256_transform_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, GstCaps * filter)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (trans);
  GstCaps *ret = gst_alexnet_square_caps (direction, caps, filter,
      gst_alexnet_resize_256_get_size (self), TRUE);

  GST_DEBUG_OBJECT (self, "%s %" GST_PTR_FORMAT " -> %" GST_PTR_FORMAT,
      direction == GST_PAD_SINK ? "sink" : "src", caps, ret);
  return ret;
}

static gboolean
gst_alexnet_resize_256_query (GstBaseTransform * trans,
    GstPadDirection direction, GstQuery * query)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (trans);

  /* decode asks what shorter side we need: exactly `size` */
  if (direction == GST_PAD_SINK && gst_alexnet_query_is_target_size (query)) {
    gst_alexnet_query_set_target_size (query,
        gst_alexnet_resize_256_get_size (self));
    return TRUE;
  }
  return
      GST_BASE_TRANSFORM_CLASS (gst_alexnet_resize_256_parent_class)->query
      (trans, direction, query);
}

static gboolean
gst_alexnet_resize_256_stop (GstBaseTransform * trans)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (trans);

  if (self->have_plan)
    ax_resize_plan_clear (&self->plan);
  self->have_plan = FALSE;
  return TRUE;
}

static gboolean
gst_alexnet_resize_256_set_info (GstVideoFilter * filter, GstCaps * incaps,
    GstVideoInfo * in_info, GstCaps * outcaps, GstVideoInfo * out_info)
{
  GstAlexnetResize256 *self = GST_ALEXNET_RESIZE_256 (filter);
  gint w = GST_VIDEO_INFO_WIDTH (in_info), h = GST_VIDEO_INFO_HEIGHT (in_info);
  gint size = GST_VIDEO_INFO_WIDTH (out_info);
  (void) incaps;
  (void) outcaps;

  if (GST_VIDEO_INFO_HEIGHT (out_info) != size)
    goto not_square;

  if (self->have_plan && self->plan.src_w == w && self->plan.src_h == h
      && self->plan.out_w == size)
    return TRUE;

  /* the plan's memory is kept across sizes (the plan is zeroed with the
   * instance, or cleared, before its first use) */
  self->have_plan = FALSE;
  if (ax_resize_plan_update (&self->plan, w, h, size) != 0)
    goto no_plan;
  self->have_plan = TRUE;
  GST_DEBUG_OBJECT (self, "%dx%d -> %dx%d, crop of %dx%d at %d,%d", w, h,
      size, size, self->plan.scaled_w, self->plan.scaled_h,
      self->plan.crop_x, self->plan.crop_y);
  return TRUE;

  /* ERRORS */
not_square:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Output must be a square, got %dx%d",
            size, GST_VIDEO_INFO_HEIGHT (out_info)), (NULL));
    return FALSE;
  }
no_plan:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Could not prepare to resize %dx%d images to %dx%d", w, h, size,
            size), ("ax_resize_plan_update failed: bad size or out of memory"));
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
