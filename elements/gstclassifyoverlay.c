/* gst-alexnet — classify-overlay: the top-k classes of a frame drawn on it.
 * Copyright (C) 2026 gst-alexnet authors
 * SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SECTION:element-classify-overlay
 * @title: classify-overlay
 *
 * Draws what the network sees on the frame: a semi-transparent box in a
 * corner with one line "label  97.3%" for each of the first
 * #GstAlexnetClassifyOverlay:top-k classes of the frame's #GstAlexnetClassMeta
 * (the meta alexnet-infer adds), most probable first, and under each line a
 * bar as long as the probability. The text uses a built-in 5x7 bitmap font
 * (printable ASCII; any other character is drawn as '?'), magnified
 * #GstAlexnetClassifyOverlay:scale times. Labels too long for the frame are cut
 * and end in "..". The box is clipped to the frame: nothing is written
 * outside it, whatever the frame's size.
 *
 * Frames without a classification meta go through untouched (passthrough,
 * not even copied). Works in place on packed RGB and on 8-bit planar and
 * semi-planar YUV; the box, text and bars are converted to the frame's
 * colorimetry.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 uridecodebin uri=file:///videos/cats.mp4 ! videoconvert ! \
 *     alexnet-infer checkpoint=alexnet.safetensors ! \
 *     classify-overlay top-k=5 position=bottom-left ! videoconvert ! \
 *     autovideosink
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>
#include <math.h>
#include <string.h>

#include "elements/gstalexnetelements.h"
#include "kernels/image/font5x7.h"
#include "kernels/image/overlay_draw.h"
#include "plugin/gstalexnetclassmeta.h"

GST_DEBUG_CATEGORY_STATIC (gst_alexnet_classify_overlay_debug);
#define GST_CAT_DEFAULT gst_alexnet_classify_overlay_debug

/**
 * GstAlexnetClassifyOverlayPosition:
 * @GST_ALEXNET_CLASSIFY_OVERLAY_TOP_LEFT: top left corner
 * @GST_ALEXNET_CLASSIFY_OVERLAY_TOP_RIGHT: top right corner
 * @GST_ALEXNET_CLASSIFY_OVERLAY_BOTTOM_LEFT: bottom left corner
 * @GST_ALEXNET_CLASSIFY_OVERLAY_BOTTOM_RIGHT: bottom right corner
 *
 * The corner of the frame where the box is drawn.
 */
typedef enum
{
  GST_ALEXNET_CLASSIFY_OVERLAY_TOP_LEFT,
  GST_ALEXNET_CLASSIFY_OVERLAY_TOP_RIGHT,
  GST_ALEXNET_CLASSIFY_OVERLAY_BOTTOM_LEFT,
  GST_ALEXNET_CLASSIFY_OVERLAY_BOTTOM_RIGHT,
} GstAlexnetClassifyOverlayPosition;

#define MAX_TOP_K 20

#define DEFAULT_PROP_TOP_K 3
#define DEFAULT_PROP_SCALE 2
#define DEFAULT_PROP_POSITION GST_ALEXNET_CLASSIFY_OVERLAY_TOP_LEFT
#define DEFAULT_PROP_SHOW_BARS TRUE

enum
{
  PROP_0,
  PROP_TOP_K,
  PROP_SCALE,
  PROP_POSITION,
  PROP_SHOW_BARS,
};

/* Colours of the layer (straight alpha): box, text, bar track, bar. */
static const guint8 box_rgba[4] = { 0, 0, 0, 160 };
static const guint8 text_rgba[4] = { 255, 255, 255, 255 };
static const guint8 track_rgba[4] = { 96, 96, 96, 200 };
static const guint8 bar_rgba[4] = { 64, 200, 64, 255 };

/* 8-bit formats whose three colour components GstVideoFrame addresses
 * directly; no framerate field, still images often have none. */
#define OVERLAY_CAPS "video/x-raw, format = (string) { RGB, BGR, RGBx, " \
    "BGRx, xRGB, xBGR, I420, YV12, NV12, NV21, Y42B, Y444 }, " \
    "width = (int) [ 1, max ], height = (int) [ 1, max ]"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (OVERLAY_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (OVERLAY_CAPS));

#define GST_TYPE_ALEXNET_CLASSIFY_OVERLAY (gst_alexnet_classify_overlay_get_type ())
G_DECLARE_FINAL_TYPE (GstAlexnetClassifyOverlay, gst_alexnet_classify_overlay,
    GST, ALEXNET_CLASSIFY_OVERLAY, GstVideoFilter);

struct _GstAlexnetClassifyOverlay
{
  GstVideoFilter parent;

  /* properties, under the object lock */
  guint top_k;
  gint scale;
  GstAlexnetClassifyOverlayPosition position;
  gboolean show_bars;

  /* set in set_info: layer RGB -> the frame's components */
  gfloat matrix[3][4];

  /* drawn into for every frame (streaming thread only) */
  ax_layer layer;
};

#define GST_TYPE_ALEXNET_CLASSIFY_OVERLAY_POSITION \
    (gst_alexnet_classify_overlay_position_get_type ())

static GType
gst_alexnet_classify_overlay_position_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ALEXNET_CLASSIFY_OVERLAY_TOP_LEFT, "Top left corner", "top-left"},
    {GST_ALEXNET_CLASSIFY_OVERLAY_TOP_RIGHT, "Top right corner", "top-right"},
    {GST_ALEXNET_CLASSIFY_OVERLAY_BOTTOM_LEFT, "Bottom left corner",
        "bottom-left"},
    {GST_ALEXNET_CLASSIFY_OVERLAY_BOTTOM_RIGHT, "Bottom right corner",
        "bottom-right"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t =
        g_enum_register_static ("GstAlexnetClassifyOverlayPosition", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

G_DEFINE_TYPE (GstAlexnetClassifyOverlay, gst_alexnet_classify_overlay,
    GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (classify_overlay, "classify-overlay",
    GST_RANK_NONE, GST_TYPE_ALEXNET_CLASSIFY_OVERLAY);

static void gst_alexnet_classify_overlay_finalize (GObject * object);
static void gst_alexnet_classify_overlay_set_property (GObject * object,
    guint prop_id, const GValue * value, GParamSpec * pspec);
static void gst_alexnet_classify_overlay_get_property (GObject * object,
    guint prop_id, GValue * value, GParamSpec * pspec);
static void gst_alexnet_classify_overlay_before_transform (GstBaseTransform *
    trans, GstBuffer * buffer);
static gboolean gst_alexnet_classify_overlay_set_info (GstVideoFilter * filter,
    GstCaps * incaps, GstVideoInfo * in_info, GstCaps * outcaps,
    GstVideoInfo * out_info);
static GstFlowReturn
gst_alexnet_classify_overlay_transform_frame_ip (GstVideoFilter * filter,
    GstVideoFrame * frame);

static void
gst_alexnet_classify_overlay_class_init (GstAlexnetClassifyOverlayClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_alexnet_classify_overlay_debug,
      "classify-overlay", 0, "top-k classes drawn on the frame");

  gobject_class->finalize = gst_alexnet_classify_overlay_finalize;
  gobject_class->set_property = gst_alexnet_classify_overlay_set_property;
  gobject_class->get_property = gst_alexnet_classify_overlay_get_property;

  g_object_class_install_property (gobject_class, PROP_TOP_K,
      g_param_spec_uint ("top-k", "Top k",
          "Number of classes drawn, most probable first (at most as many as "
          "the classification meta holds)", 1, MAX_TOP_K, DEFAULT_PROP_TOP_K,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_SCALE,
      g_param_spec_int ("scale", "Scale",
          "Magnification of the 5x7 font: each character takes "
          "6*scale x 8*scale pixels", 1, 16, DEFAULT_PROP_SCALE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_POSITION,
      g_param_spec_enum ("position", "Position",
          "Corner of the frame where the box is drawn",
          GST_TYPE_ALEXNET_CLASSIFY_OVERLAY_POSITION, DEFAULT_PROP_POSITION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_SHOW_BARS,
      g_param_spec_boolean ("show-bars", "Show bars",
          "Draw a bar under each line, as long as the class's probability",
          DEFAULT_PROP_SHOW_BARS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Classification overlay", "Filter/Effect/Video",
      "Draws the top-k classes and probabilities of a frame's "
      "classification meta on the frame", "gst-alexnet authors");
  gst_type_mark_as_plugin_api (GST_TYPE_ALEXNET_CLASSIFY_OVERLAY_POSITION, 0);

  /* frames without a result are handed on as they are, not even mapped */
  trans_class->transform_ip_on_passthrough = FALSE;
  trans_class->before_transform =
      GST_DEBUG_FUNCPTR (gst_alexnet_classify_overlay_before_transform);
  filter_class->set_info =
      GST_DEBUG_FUNCPTR (gst_alexnet_classify_overlay_set_info);
  filter_class->transform_frame_ip =
      GST_DEBUG_FUNCPTR (gst_alexnet_classify_overlay_transform_frame_ip);
}

static void
gst_alexnet_classify_overlay_init (GstAlexnetClassifyOverlay * self)
{
  self->top_k = DEFAULT_PROP_TOP_K;
  self->scale = DEFAULT_PROP_SCALE;
  self->position = DEFAULT_PROP_POSITION;
  self->show_bars = DEFAULT_PROP_SHOW_BARS;
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}

static void
gst_alexnet_classify_overlay_finalize (GObject * object)
{
  GstAlexnetClassifyOverlay *self = GST_ALEXNET_CLASSIFY_OVERLAY (object);

  ax_layer_free (&self->layer);
  G_OBJECT_CLASS (gst_alexnet_classify_overlay_parent_class)->finalize (object);
}

static void
gst_alexnet_classify_overlay_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstAlexnetClassifyOverlay *self = GST_ALEXNET_CLASSIFY_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_TOP_K:
      self->top_k = g_value_get_uint (value);
      break;
    case PROP_SCALE:
      self->scale = g_value_get_int (value);
      break;
    case PROP_POSITION:
      self->position = g_value_get_enum (value);
      break;
    case PROP_SHOW_BARS:
      self->show_bars = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_alexnet_classify_overlay_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstAlexnetClassifyOverlay *self = GST_ALEXNET_CLASSIFY_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_TOP_K:
      g_value_set_uint (value, self->top_k);
      break;
    case PROP_SCALE:
      g_value_set_int (value, self->scale);
      break;
    case PROP_POSITION:
      g_value_set_enum (value, self->position);
      break;
    case PROP_SHOW_BARS:
      g_value_set_boolean (value, self->show_bars);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* Passthrough for frames without a result, decided per frame before the
 * base class makes the buffer writable (which could copy it). */
static void
gst_alexnet_classify_overlay_before_transform (GstBaseTransform * trans,
    GstBuffer * buffer)
{
  gboolean has_result = gst_buffer_get_alexnet_class_meta (buffer) != NULL;

  gst_base_transform_set_passthrough (trans, !has_result);
}

/* The matrix that turns the layer's RGB into the frame's components: the
 * identity for RGB, the frame's YCbCr matrix and range for YUV. */
static gboolean
gst_alexnet_classify_overlay_set_info (GstVideoFilter * filter,
    GstCaps * incaps, GstVideoInfo * in_info, GstCaps * outcaps,
    GstVideoInfo * out_info)
{
  GstAlexnetClassifyOverlay *self = GST_ALEXNET_CLASSIFY_OVERLAY (filter);
  gint offset[GST_VIDEO_MAX_COMPONENTS], scale[GST_VIDEO_MAX_COMPONENTS];
  gdouble kr, kb;
  (void) incaps;
  (void) outcaps;
  (void) out_info;

  memset (self->matrix, 0, sizeof (self->matrix));
  if (GST_VIDEO_INFO_IS_RGB (in_info)) {
    for (gint c = 0; c < 3; c++)
      self->matrix[c][c] = 1.0f;
    return TRUE;
  }
  if (!GST_VIDEO_INFO_IS_YUV (in_info))
    goto unsupported;

  if (!gst_video_color_matrix_get_Kr_Kb (in_info->colorimetry.matrix, &kr, &kb)) {
    kr = 0.299;                 /* BT.601 when the caps do not say */
    kb = 0.114;
  }
  gst_video_color_range_offsets (in_info->colorimetry.range, in_info->finfo,
      offset, scale);
  ax_ycbcr_matrix (self->matrix, kr, kb, offset, scale);
  return TRUE;

  /* ERRORS */
unsupported:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("classify-overlay cannot draw on %s frames",
            GST_VIDEO_INFO_NAME (in_info)), (NULL));
    return FALSE;
  }
}

/* Where everything goes, in pixels; see docs/elements/classify-overlay.md. */
typedef struct
{
  guint n_lines;
  gchar *text[MAX_TOP_K];
  gfloat probability[MAX_TOP_K];
  gint scale, pad, line_h, gap, bar_gap, bar_h, inner_w;
  gint x, y, w, h;              /* the box, inside the frame */
} OverlayLayout;

/* "label  97.3%", the label cut to fit @max_cells cells when it can be. */
static gchar *
format_line (const GstAlexnetClassEntry * e, gint max_cells)
{
  gchar *label = e->label ? g_strdup (e->label) :
      g_strdup_printf ("class %d", e->index);
  gchar *pct = g_strdup_printf ("%.1f%%", e->probability * 100.0);
  gint label_cells = ax_text_cells (label), pct_cells = ax_text_cells (pct);
  gint room = max_cells - pct_cells - 2;
  gchar *line;

  if (label_cells > room && room >= 3) {
    gint keep = (gint) ax_text_cell_bytes (label, room - 2);
    while (keep > 1 && label[keep - 1] == ' ')
      keep--;                   /* "tabby,.." rather than "tabby, .." */
    line = g_strdup_printf ("%.*s..  %s", keep, label, pct);
  } else
    line = g_strdup_printf ("%s  %s", label, pct);
  g_free (label);
  g_free (pct);
  return line;
}

static void
layout_compute (OverlayLayout * lo, const GstAlexnetClassMeta * meta,
    guint top_k, gint scale, GstAlexnetClassifyOverlayPosition position,
    gboolean show_bars, gint frame_w, gint frame_h)
{
  const gint cell_w = AX_FONT_CELL_W * scale, cell_h = AX_FONT_CELL_H * scale;
  gint margin = 2 * scale, max_cells, cells = 0, mx, my;

  lo->n_lines = MIN (MIN (top_k, meta->k), MAX_TOP_K);
  lo->scale = scale;
  lo->pad = 2 * scale;
  lo->gap = 2 * scale;
  lo->bar_gap = show_bars ? scale : 0;
  lo->bar_h = show_bars ? 2 * scale : 0;
  lo->line_h = cell_h + lo->bar_gap + lo->bar_h;
  max_cells = MAX (0, (frame_w - 2 * margin - 2 * lo->pad) / cell_w);

  for (guint i = 0; i < lo->n_lines; i++) {
    lo->text[i] = format_line (&meta->top[i], max_cells);
    lo->probability[i] = meta->top[i].probability;
    cells = MAX (cells, ax_text_cells (lo->text[i]));
  }
  /* the last cell's blank column is not part of the text */
  lo->inner_w = MAX (0, cells * cell_w - scale);
  lo->w = MIN (lo->inner_w + 2 * lo->pad, frame_w);
  lo->h = MIN ((gint) (2 * lo->pad + lo->n_lines * lo->line_h +
          (lo->n_lines - 1) * lo->gap), frame_h);
  mx = MIN (margin, (frame_w - lo->w) / 2);
  my = MIN (margin, (frame_h - lo->h) / 2);
  lo->x = position == GST_ALEXNET_CLASSIFY_OVERLAY_TOP_LEFT
      || position == GST_ALEXNET_CLASSIFY_OVERLAY_BOTTOM_LEFT ? mx :
      frame_w - lo->w - mx;
  lo->y = position == GST_ALEXNET_CLASSIFY_OVERLAY_TOP_LEFT
      || position == GST_ALEXNET_CLASSIFY_OVERLAY_TOP_RIGHT ? my :
      frame_h - lo->h - my;
}

static void
layout_clear (OverlayLayout * lo)
{
  for (guint i = 0; i < lo->n_lines; i++)
    g_free (lo->text[i]);
  lo->n_lines = 0;
}

/* Box, lines and bars into the layer, in the layer's coordinates. */
static void
layout_draw (const OverlayLayout * lo, ax_layer * layer)
{
  ax_layer_fill (layer, 0, 0, lo->w, lo->h, box_rgba);
  for (guint i = 0; i < lo->n_lines; i++) {
    gint ty = lo->pad + i * (lo->line_h + lo->gap);
    gint by = ty + AX_FONT_CELL_H * lo->scale + lo->bar_gap;
    gfloat p = lo->probability[i];

    ax_layer_text (layer, lo->pad, ty, lo->scale, lo->text[i], text_rgba);
    if (lo->bar_h == 0)
      continue;
    p = isfinite (p) ? CLAMP (p, 0.0f, 1.0f) : 0.0f;
    ax_layer_fill (layer, lo->pad, by, lo->inner_w, lo->bar_h, track_rgba);
    ax_layer_fill (layer, lo->pad, by, (gint) lroundf (p * lo->inner_w),
        lo->bar_h, bar_rgba);
  }
}

static GstFlowReturn
gst_alexnet_classify_overlay_transform_frame_ip (GstVideoFilter * filter,
    GstVideoFrame * frame)
{
  GstAlexnetClassifyOverlay *self = GST_ALEXNET_CLASSIFY_OVERLAY (filter);
  GstAlexnetClassMeta *meta = gst_buffer_get_alexnet_class_meta (frame->buffer);
  gint frame_w = GST_VIDEO_FRAME_WIDTH (frame);
  gint frame_h = GST_VIDEO_FRAME_HEIGHT (frame);
  OverlayLayout lo = { 0 };
  ax_frame_comp comps[3];
  guint top_k;
  gint scale;
  GstAlexnetClassifyOverlayPosition position;
  gboolean show_bars;

  if (meta == NULL || meta->k == 0)
    return GST_FLOW_OK;

  GST_OBJECT_LOCK (self);
  top_k = self->top_k;
  scale = self->scale;
  position = self->position;
  show_bars = self->show_bars;
  GST_OBJECT_UNLOCK (self);

  layout_compute (&lo, meta, top_k, scale, position, show_bars, frame_w,
      frame_h);
  if (ax_layer_reset (&self->layer, lo.w, lo.h) != 0)
    goto no_memory;
  layout_draw (&lo, &self->layer);
  layout_clear (&lo);
  ax_layer_to_components (&self->layer, (const float (*)[4]) self->matrix);

  for (gint c = 0; c < 3; c++) {
    comps[c].data = GST_VIDEO_FRAME_COMP_DATA (frame, c);
    comps[c].pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, c);
    comps[c].stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, c);
    comps[c].w_sub = GST_VIDEO_FORMAT_INFO_W_SUB (frame->info.finfo, c);
    comps[c].h_sub = GST_VIDEO_FORMAT_INFO_H_SUB (frame->info.finfo, c);
  }
  ax_layer_blend (&self->layer, lo.x, lo.y, frame_w, frame_h, comps);
  return GST_FLOW_OK;

  /* ERRORS */
no_memory:
  {
    layout_clear (&lo);
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Not enough memory to draw a %dx%d overlay", lo.w, lo.h), (NULL));
    return GST_FLOW_ERROR;
  }
}
