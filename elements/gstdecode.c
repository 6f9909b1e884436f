/* decode: JPEG images to packed RGB with libjpeg-turbo, scaled down in the
 * DCT domain when the smallest shorter side needed downstream is known.
 * Each input buffer holds one whole JPEG file. */
/* gst-alexnet
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-decode
 * @title: decode
 *
 * Decodes one JPEG file per input buffer into `video/x-raw,format=RGB` with
 * the TurboJPEG API of libjpeg-turbo. Grayscale JPEGs become R=G=B; CMYK and
 * YCCK JPEGs are converted with the Adobe (inverted) convention
 * R = C*K/255, G = M*K/255, B = Y*K/255.
 *
 * When a target shorter side T is known — from #GstAlexnetDecode:min-size,
 * or, when that is 0, from the "alexnet/target-size" query answered by a
 * downstream element such as resize-256 — the image is decoded at the
 * smallest libjpeg-turbo scaling factor (at most 1) whose scaled shorter
 * side is still at least T. That is much faster than decoding at full size
 * and resizing afterwards.
 *
 * A corrupt, truncated or non-JPEG buffer, or one whose header claims more
 * than #GstAlexnetDecode:max-pixels pixels, is dropped with a warning on the
 * bus and counted in #GstAlexnetDecode:skipped, unless
 * #GstAlexnetDecode:on-error is "error".
 *
 * Every input buffer must hold exactly one whole JPEG file, as dataset-src,
 * multifilesrc and MJPEG cameras deliver them; `filesrc` reads a file in
 * chunks, so use `multifilesrc` (or dataset-src) to read image files.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 multifilesrc location=img%04d.jpg caps=image/jpeg ! decode ! resize-256 ! videoconvert ! autovideosink
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <turbojpeg.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "elements/gstalexnetelements.h"
#include "kernels/image/colour.h"
#include "plugin/gstalexnetmeta.h"

GST_DEBUG_CATEGORY_STATIC (gst_alexnet_decode_debug);
#define GST_CAT_DEFAULT gst_alexnet_decode_debug

typedef enum
{
  GST_ALEXNET_DECODE_ON_ERROR_SKIP,
  GST_ALEXNET_DECODE_ON_ERROR_ERROR,
} GstAlexnetDecodeOnError;

typedef enum
{
  GST_ALEXNET_DECODE_SCALES_FAST,
  GST_ALEXNET_DECODE_SCALES_ALL,
} GstAlexnetDecodeScales;

enum
{
  PROP_0,
  PROP_MIN_SIZE,
  PROP_MAX_PIXELS,
  PROP_ON_ERROR,
  PROP_FAST_DCT,
  PROP_SCALES,
  PROP_SKIPPED,
  PROP_DECODED,
};

#define DEFAULT_PROP_MIN_SIZE 0
#define DEFAULT_PROP_MAX_PIXELS G_GUINT64_CONSTANT (100000000)
#define DEFAULT_PROP_ON_ERROR GST_ALEXNET_DECODE_ON_ERROR_SKIP
#define DEFAULT_PROP_FAST_DCT FALSE
#define DEFAULT_PROP_SCALES GST_ALEXNET_DECODE_SCALES_FAST

#define GST_TYPE_ALEXNET_DECODE_ON_ERROR (gst_alexnet_decode_on_error_get_type ())
static GType
gst_alexnet_decode_on_error_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {GST_ALEXNET_DECODE_ON_ERROR_SKIP,
        "Drop the image with a warning and go on", "skip"},
    {GST_ALEXNET_DECODE_ON_ERROR_ERROR,
        "Post an error and stop the stream", "error"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstAlexnetDecodeOnError", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* libjpeg-turbo 2.1 has SIMD inverse DCTs for 1/1, 1/2 and 1/4 (and 1/8 is
 * the DC term alone); the other eighths (7/8, 3/4, ...) go through plain C
 * and decode slower than the full size (bench/README.md has the figures). */
#define GST_TYPE_ALEXNET_DECODE_SCALES (gst_alexnet_decode_scales_get_type ())
static GType
gst_alexnet_decode_scales_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {GST_ALEXNET_DECODE_SCALES_FAST,
        "Only 1/2, 1/4 and 1/8, which libjpeg-turbo decodes fastest", "fast"},
    {GST_ALEXNET_DECODE_SCALES_ALL,
          "Every eighth (7/8, 3/4, ...): the least resizing left, but slower",
        "all"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstAlexnetDecodeScales", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("image/jpeg"));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("video/x-raw, format = (string) RGB, "
        "width = (int) [ 1, MAX ], height = (int) [ 1, MAX ], "
        "framerate = (fraction) [ 0/1, MAX ], "
        "pixel-aspect-ratio = (fraction) 1/1"));

#define MAX_SCALING_FACTORS 32

typedef struct
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* properties, under the object lock */
  gint min_size;
  guint64 max_pixels;
  GstAlexnetDecodeOnError on_error;
  gboolean fast_dct;
  GstAlexnetDecodeScales scales;
  guint64 skipped;
  guint64 decoded;

  /* streaming state */
  tjhandle tj;
  tjscalingfactor factors[MAX_SCALING_FACTORS]; /* <= 1, ascending */
  gint n_factors;
  gint fps_n, fps_d;            /* from the sink caps, 0/1 when absent */
  gboolean target_known;        /* the query was asked since last reconfigure */
  gint target_size;             /* its answer, 0 when nobody answered */
  gboolean need_caps;           /* push caps before the next buffer */
  gint out_width, out_height;   /* size of the caps last pushed */
  GList *pending_events;        /* serialized events held until first caps */
  guint64 n_buffers;            /* input buffers seen, to name samples */
  guint8 *cmyk;                 /* scratch for CMYK/YCCK images */
  gsize cmyk_size;
} GstAlexnetDecode;

typedef struct
{
  GstElementClass parent_class;
} GstAlexnetDecodeClass;

#define GST_TYPE_ALEXNET_DECODE (gst_alexnet_decode_get_type ())
#define GST_ALEXNET_DECODE(obj) \
  (G_TYPE_CHECK_INSTANCE_CAST ((obj), GST_TYPE_ALEXNET_DECODE, GstAlexnetDecode))
GType gst_alexnet_decode_get_type (void);

G_DEFINE_TYPE (GstAlexnetDecode, gst_alexnet_decode, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (alexnet_decode, "decode", GST_RANK_NONE,
    GST_TYPE_ALEXNET_DECODE);

static void gst_alexnet_decode_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_alexnet_decode_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static GstStateChangeReturn gst_alexnet_decode_change_state (GstElement *
    element, GstStateChange transition);
static GstFlowReturn gst_alexnet_decode_chain (GstPad * pad,
    GstObject * parent, GstBuffer * buf);
static gboolean gst_alexnet_decode_sink_event (GstPad * pad,
    GstObject * parent, GstEvent * event);

static void
gst_alexnet_decode_class_init (GstAlexnetDecodeClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_alexnet_decode_set_property;
  gobject_class->get_property = gst_alexnet_decode_get_property;

  g_object_class_install_property (gobject_class, PROP_MIN_SIZE,
      g_param_spec_int ("min-size", "Minimum shorter side",
          "Smallest shorter side the decoded image must keep; the JPEG is "
          "scaled down in the DCT domain as far as this allows "
          "(0 = ask downstream with the alexnet/target-size query, "
          "full size if nobody answers)",
          0, G_MAXINT, DEFAULT_PROP_MIN_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_MAX_PIXELS,
      g_param_spec_uint64 ("max-pixels", "Maximum pixels",
          "Refuse images whose header claims more pixels (width x height) "
          "than this, before allocating anything",
          1, G_MAXUINT64, DEFAULT_PROP_MAX_PIXELS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_ON_ERROR,
      g_param_spec_enum ("on-error", "On error",
          "What to do with a corrupt, truncated, non-JPEG or oversized image",
          GST_TYPE_ALEXNET_DECODE_ON_ERROR, DEFAULT_PROP_ON_ERROR,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_FAST_DCT,
      g_param_spec_boolean ("fast-dct", "Fast DCT",
          "Use the fast, less accurate inverse DCT and chroma upsampling",
          DEFAULT_PROP_FAST_DCT, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_SCALES,
      g_param_spec_enum ("scale-factors", "Scale factors",
          "Which DCT-domain scale factors may be used to shrink the image "
          "towards min-size or the size asked downstream",
          GST_TYPE_ALEXNET_DECODE_SCALES, DEFAULT_PROP_SCALES,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_SKIPPED,
      g_param_spec_uint64 ("skipped", "Skipped",
          "Number of images dropped because they could not be decoded "
          "(since the element last went to PAUSED)",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_DECODED,
      g_param_spec_uint64 ("decoded", "Decoded",
          "Number of images decoded (since the element last went to PAUSED)",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "JPEG to RGB decoder",
      "Codec/Decoder/Image",
      "Decodes one JPEG file per buffer to RGB with libjpeg-turbo, scaling "
      "down in the DCT domain to the size needed downstream", "gst-alexnet");

  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_alexnet_decode_change_state);

  gst_type_mark_as_plugin_api (GST_TYPE_ALEXNET_DECODE_ON_ERROR, 0);
  GST_DEBUG_CATEGORY_INIT (gst_alexnet_decode_debug, "decode", 0,
      "alexnet JPEG decoder");
}

static void
gst_alexnet_decode_init (GstAlexnetDecode * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_alexnet_decode_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_alexnet_decode_sink_event));
  GST_PAD_SET_ACCEPT_TEMPLATE (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->min_size = DEFAULT_PROP_MIN_SIZE;
  self->max_pixels = DEFAULT_PROP_MAX_PIXELS;
  self->on_error = DEFAULT_PROP_ON_ERROR;
  self->fast_dct = DEFAULT_PROP_FAST_DCT;
  self->scales = DEFAULT_PROP_SCALES;
  self->fps_n = 0;
  self->fps_d = 1;
}

static void
gst_alexnet_decode_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstAlexnetDecode *self = GST_ALEXNET_DECODE (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MIN_SIZE:
      self->min_size = g_value_get_int (value);
      break;
    case PROP_MAX_PIXELS:
      self->max_pixels = g_value_get_uint64 (value);
      break;
    case PROP_ON_ERROR:
      self->on_error = g_value_get_enum (value);
      break;
    case PROP_FAST_DCT:
      self->fast_dct = g_value_get_boolean (value);
      break;
    case PROP_SCALES:
      self->scales = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_alexnet_decode_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstAlexnetDecode *self = GST_ALEXNET_DECODE (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MIN_SIZE:
      g_value_set_int (value, self->min_size);
      break;
    case PROP_MAX_PIXELS:
      g_value_set_uint64 (value, self->max_pixels);
      break;
    case PROP_ON_ERROR:
      g_value_set_enum (value, self->on_error);
      break;
    case PROP_FAST_DCT:
      g_value_set_boolean (value, self->fast_dct);
      break;
    case PROP_SCALES:
      g_value_set_enum (value, self->scales);
      break;
    case PROP_SKIPPED:
      g_value_set_uint64 (value, self->skipped);
      break;
    case PROP_DECODED:
      g_value_set_uint64 (value, self->decoded);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* Keeps the scaling factors <= 1 that libjpeg-turbo offers, smallest first. */
static gboolean
gst_alexnet_decode_load_factors (GstAlexnetDecode * self)
{
  tjscalingfactor *all;
  int n_all = 0, i, j;

  all = tjGetScalingFactors (&n_all);
  if (all == NULL || n_all <= 0)
    return FALSE;
  self->n_factors = 0;
  for (i = 0; i < n_all && self->n_factors < MAX_SCALING_FACTORS; i++) {
    tjscalingfactor f = all[i];
    if (f.num <= 0 || f.denom <= 0 || f.num > f.denom)
      continue;
    /* insertion sort by value: a/b < c/d  <=>  a*d < c*b */
    for (j = self->n_factors; j > 0 &&
        f.num * self->factors[j - 1].denom <
        self->factors[j - 1].num * f.denom; j--)
      self->factors[j] = self->factors[j - 1];
    self->factors[j] = f;
    self->n_factors++;
  }
  return self->n_factors > 0;
}

static gboolean
gst_alexnet_decode_start (GstAlexnetDecode * self)
{
  if (!gst_alexnet_decode_load_factors (self))
    goto no_factors;
  self->tj = tjInitDecompress ();
  if (self->tj == NULL)
    goto no_handle;

  GST_OBJECT_LOCK (self);
  self->skipped = 0;
  self->decoded = 0;
  GST_OBJECT_UNLOCK (self);
  self->target_known = FALSE;
  self->target_size = 0;
  self->need_caps = TRUE;
  self->out_width = self->out_height = 0;
  self->n_buffers = 0;
  self->fps_n = 0;
  self->fps_d = 1;
  return TRUE;

  /* ERRORS */
no_factors:
  {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
        ("Could not initialise the JPEG decoder."),
        ("tjGetScalingFactors returned no scaling factor"));
    return FALSE;
  }
no_handle:
  {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
        ("Could not initialise the JPEG decoder."),
        ("tjInitDecompress failed: %s", tjGetErrorStr2 (NULL)));
    return FALSE;
  }
}

static void
gst_alexnet_decode_stop (GstAlexnetDecode * self)
{
  if (self->tj != NULL && tjDestroy (self->tj) != 0)
    GST_WARNING_OBJECT (self, "tjDestroy failed");
  self->tj = NULL;
  g_free (self->cmyk);
  self->cmyk = NULL;
  self->cmyk_size = 0;
  g_list_free_full (self->pending_events, (GDestroyNotify) gst_event_unref);
  self->pending_events = NULL;
}

static GstStateChangeReturn
gst_alexnet_decode_change_state (GstElement * element,
    GstStateChange transition)
{
  GstAlexnetDecode *self = GST_ALEXNET_DECODE (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED &&
      !gst_alexnet_decode_start (self))
    return GST_STATE_CHANGE_FAILURE;

  ret = GST_ELEMENT_CLASS (gst_alexnet_decode_parent_class)->change_state
      (element, transition);

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    gst_alexnet_decode_stop (self);
  return ret;
}

/* Pushes the serialized events held back until the first caps. */
static void
gst_alexnet_decode_push_pending (GstAlexnetDecode * self)
{
  GList *events = g_list_reverse (self->pending_events), *l;

  self->pending_events = NULL;
  for (l = events; l != NULL; l = l->next)
    gst_pad_push_event (self->srcpad, GST_EVENT (l->data));
  g_list_free (events);
}

static gboolean
gst_alexnet_decode_sink_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  GstAlexnetDecode *self = GST_ALEXNET_DECODE (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      const GstStructure *s;
      gint n = 0, d = 1;

      gst_event_parse_caps (event, &caps);
      s = gst_caps_get_structure (caps, 0);
      if (!gst_structure_get_fraction (s, "framerate", &n, &d) || d <= 0) {
        n = 0;
        d = 1;
      }
      self->fps_n = n;
      self->fps_d = d;
      /* our own caps are pushed with the next decoded image */
      self->need_caps = TRUE;
      self->target_known = FALSE;
      gst_event_unref (event);
      return TRUE;
    }
    case GST_EVENT_STREAM_START:
    case GST_EVENT_FLUSH_START:
    case GST_EVENT_FLUSH_STOP:
      break;
    case GST_EVENT_EOS:
      gst_alexnet_decode_push_pending (self);
      break;
    default:
      /* Sticky order is stream-start, caps, segment: hold serialized
       * events until the first image has given us caps to push. */
      if (GST_EVENT_IS_SERIALIZED (event) &&
          !gst_pad_has_current_caps (self->srcpad)) {
        self->pending_events = g_list_prepend (self->pending_events, event);
        return TRUE;
      }
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

/* The shorter side the decoded image must keep: the property, else the
 * cached answer of downstream to the target-size query, else 0. */
static gint
gst_alexnet_decode_target_size (GstAlexnetDecode * self)
{
  GstQuery *query;
  gint size = 0;

  GST_OBJECT_LOCK (self);
  size = self->min_size;
  GST_OBJECT_UNLOCK (self);
  if (size > 0)
    return size;

  if (!self->target_known) {
    query = gst_alexnet_query_new_target_size ();
    self->target_size = 0;
    if (gst_pad_peer_query (self->srcpad, query) &&
        gst_alexnet_query_parse_target_size (query, &size) && size > 0)
      self->target_size = size;
    gst_query_unref (query);
    self->target_known = TRUE;
    GST_DEBUG_OBJECT (self, "downstream target size: %d", self->target_size);
  }
  return self->target_size;
}

/* The smallest allowed scaling factor <= 1 whose scaled shorter side is
 * still >= target; 1/1 when there is no target or the image is already
 * smaller. "fast" allows 1/1, 1/2, 1/4 and 1/8 only. */
static tjscalingfactor
gst_alexnet_decode_pick_factor (GstAlexnetDecode * self, int width,
    int height, gint target)
{
  tjscalingfactor one = { 1, 1 };
  int shorter = MIN (width, height), i;

  if (target <= 0)
    return one;
  for (i = 0; i < self->n_factors; i++) {
    tjscalingfactor f = self->factors[i];
    if (self->scales == GST_ALEXNET_DECODE_SCALES_FAST &&
        !(f.num == 1 && (f.denom & (f.denom - 1)) == 0))
      continue;
    if (TJSCALED (shorter, f) >= target)
      return self->factors[i];
  }
  return one;
}

static gboolean
gst_alexnet_decode_negotiate (GstAlexnetDecode * self, gint width, gint height)
{
  GstCaps *caps, *current;
  gboolean ok, same;

  caps = gst_caps_new_simple ("video/x-raw",
      "format", G_TYPE_STRING, "RGB",
      "width", G_TYPE_INT, width, "height", G_TYPE_INT, height,
      "framerate", GST_TYPE_FRACTION, self->fps_n, self->fps_d,
      "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
  GST_DEBUG_OBJECT (self, "negotiating %" GST_PTR_FORMAT, caps);

  current = gst_pad_get_current_caps (self->srcpad);
  same = current != NULL && gst_caps_is_equal (current, caps);
  if (current != NULL)
    gst_caps_unref (current);

  /* after a RECONFIGURE the same caps are only checked, not pushed again */
  ok = gst_pad_peer_query_accept_caps (self->srcpad, caps) &&
      (same || gst_pad_push_event (self->srcpad, gst_event_new_caps (caps)));
  if (ok)
    ok = gst_pad_has_current_caps (self->srcpad);
  gst_caps_unref (caps);
  if (!ok)
    return FALSE;

  self->out_width = width;
  self->out_height = height;
  self->need_caps = FALSE;
  gst_alexnet_decode_push_pending (self);
  return TRUE;
}

/* Decodes @jpeg into @out (packed RGB, @stride bytes a row). Returns NULL
 * on success, else why it failed. */
static const gchar *
gst_alexnet_decode_decompress (GstAlexnetDecode * self, const guint8 * jpeg,
    gsize jpeg_size, gint colorspace, guint8 * out, gint stride, gint width,
    gint height, int flags)
{
  gsize need;

  if (colorspace != TJCS_CMYK && colorspace != TJCS_YCCK) {
    if (tjDecompress2 (self->tj, jpeg, jpeg_size, out, width, stride,
            height, TJPF_RGB, flags) != 0)
      return tjGetErrorStr2 (self->tj);
    return NULL;
  }

  /* CMYK goes through the scratch buffer, grown only when needed */
  need = (gsize) width *height * 4;
  if (need > self->cmyk_size) {
    g_free (self->cmyk);
    self->cmyk = g_try_malloc (need);
    self->cmyk_size = self->cmyk ? need : 0;
    if (self->cmyk == NULL)
      return "out of memory for the CMYK image";
  }
  if (tjDecompress2 (self->tj, jpeg, jpeg_size, self->cmyk, width,
          width * 4, height, TJPF_CMYK, flags) != 0)
    return tjGetErrorStr2 (self->tj);
  ax_cmyk_to_rgb (out, stride, self->cmyk, width, height);
  return NULL;
}

/* Drops a bad image (skip) or stops the stream (error). @reason is freed. */
static GstFlowReturn
gst_alexnet_decode_bad_image (GstAlexnetDecode * self, GstBuffer * buf,
    gchar * reason)
{
  GstAlexnetLabelMeta *label = gst_buffer_get_alexnet_label_meta (buf);
  GstAlexnetDecodeOnError policy;
  gchar *sample;

  if (label != NULL && label->sample_id != NULL)
    sample = g_strdup (label->sample_id);
  else if (GST_BUFFER_OFFSET_IS_VALID (buf))
    sample = g_strdup_printf ("buffer at offset %" G_GUINT64_FORMAT,
        GST_BUFFER_OFFSET (buf));
  else
    sample = g_strdup_printf ("input buffer #%" G_GUINT64_FORMAT,
        self->n_buffers);

  GST_OBJECT_LOCK (self);
  policy = self->on_error;
  if (policy == GST_ALEXNET_DECODE_ON_ERROR_SKIP)
    self->skipped++;
  GST_OBJECT_UNLOCK (self);

  if (policy == GST_ALEXNET_DECODE_ON_ERROR_ERROR) {
    GST_ELEMENT_ERROR (self, STREAM, DECODE,
        ("Could not decode image %s: %s", sample, reason),
        ("on-error=error; set on-error=skip to drop bad images"));
    g_free (sample);
    g_free (reason);
    return GST_FLOW_ERROR;
  }
  GST_ELEMENT_WARNING (self, STREAM, DECODE,
      ("Skipping image %s: %s", sample, reason), (NULL));
  g_free (sample);
  g_free (reason);
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_alexnet_decode_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstAlexnetDecode *self = GST_ALEXNET_DECODE (parent);
  GstMapInfo in, out;
  GstBuffer *outbuf = NULL;
  GstVideoInfo info;
  tjscalingfactor f;
  int width = 0, height = 0, subsamp = -1, colorspace = -1, flags;
  gint target, out_w, out_h;
  guint64 max_pixels;
  const gchar *failure;

  (void) pad;
  self->n_buffers++;
  if (G_UNLIKELY (self->tj == NULL))
    goto not_started;
  if (gst_pad_check_reconfigure (self->srcpad)) {
    self->target_known = FALSE;
    self->need_caps = TRUE;
  }
  if (!gst_buffer_map (buf, &in, GST_MAP_READ))
    goto map_failed;

  /* libjpeg-turbo 2.1 can return 0 without setting the size for some
   * damaged headers: the values start at 0 and are checked */
  if (tjDecompressHeader3 (self->tj, in.data, in.size, &width, &height,
          &subsamp, &colorspace) != 0 || width <= 0 || height <= 0)
    goto bad_header;

  GST_OBJECT_LOCK (self);
  max_pixels = self->max_pixels;
  flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
  if (self->fast_dct)
    flags |= TJFLAG_FASTDCT | TJFLAG_FASTUPSAMPLE;
  GST_OBJECT_UNLOCK (self);
  if ((guint64) width * (guint64) height > max_pixels)
    goto too_large;

  target = gst_alexnet_decode_target_size (self);
  f = gst_alexnet_decode_pick_factor (self, width, height, target);
  out_w = TJSCALED (width, f);
  out_h = TJSCALED (height, f);
  GST_LOG_OBJECT (self, "%dx%d (subsamp %d, colorspace %d) target %d -> "
      "%d/%d = %dx%d", width, height, subsamp, colorspace, target, f.num,
      f.denom, out_w, out_h);

  if (!gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, out_w, out_h))
    goto alloc_failed;
  outbuf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  if (outbuf == NULL)
    goto alloc_failed;
  if (!gst_buffer_map (outbuf, &out, GST_MAP_WRITE))
    goto alloc_failed;
  failure = gst_alexnet_decode_decompress (self, in.data, in.size,
      colorspace, out.data, GST_VIDEO_INFO_PLANE_STRIDE (&info, 0), out_w,
      out_h, flags);
  gst_buffer_unmap (outbuf, &out);
  if (failure != NULL)
    goto decode_failed;
  gst_buffer_unmap (buf, &in);

  if (self->need_caps || out_w != self->out_width || out_h != self->out_height) {
    if (!gst_alexnet_decode_negotiate (self, out_w, out_h))
      goto not_negotiated;
  }

  gst_buffer_copy_into (outbuf, buf, GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT))
    GST_BUFFER_FLAG_SET (outbuf, GST_BUFFER_FLAG_DISCONT);
  gst_alexnet_label_meta_copy_to (outbuf, buf);
  gst_buffer_unref (buf);

  GST_OBJECT_LOCK (self);
  self->decoded++;
  GST_OBJECT_UNLOCK (self);
  return gst_pad_push (self->srcpad, outbuf);

  /* ERRORS */
not_started:
  {
    gst_buffer_unref (buf);
    return GST_FLOW_FLUSHING;
  }
map_failed:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Could not read input buffer."),
        (NULL));
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
bad_header:
  {
    GstFlowReturn ret;
    gst_buffer_unmap (buf, &in);
    ret = gst_alexnet_decode_bad_image (self, buf,
        g_strdup_printf ("not a JPEG image or bad header (%s)",
            tjGetErrorStr2 (self->tj)));
    gst_buffer_unref (buf);
    return ret;
  }
too_large:
  {
    GstFlowReturn ret;
    gst_buffer_unmap (buf, &in);
    ret = gst_alexnet_decode_bad_image (self, buf,
        g_strdup_printf ("image of %dx%d pixels is larger than max-pixels=%"
            G_GUINT64_FORMAT, width, height, max_pixels));
    gst_buffer_unref (buf);
    return ret;
  }
alloc_failed:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Could not allocate a %dx%d RGB image.", out_w, out_h), (NULL));
    if (outbuf != NULL)
      gst_buffer_unref (outbuf);
    gst_buffer_unmap (buf, &in);
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
decode_failed:
  {
    GstFlowReturn ret;
    gst_buffer_unref (outbuf);
    gst_buffer_unmap (buf, &in);
    ret = gst_alexnet_decode_bad_image (self, buf,
        g_strdup_printf ("corrupt or truncated JPEG (%s)", failure));
    gst_buffer_unref (buf);
    return ret;
  }
not_negotiated:
  {
    GstCaps *peer = gst_pad_peer_query_caps (self->srcpad, NULL);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Downstream does not accept RGB video of %dx%d; put videoconvert "
            "after decode.", out_w, out_h),
        ("downstream accepts %" GST_PTR_FORMAT, peer));
    if (peer != NULL)
      gst_caps_unref (peer);
    gst_buffer_unref (outbuf);
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
}
