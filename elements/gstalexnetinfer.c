/* gst-alexnet — alexnet-infer: classifies every frame that passes through.
 * Copyright (C) 2026 gst-alexnet authors
 * SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SECTION:element-alexnet-infer
 * @title: alexnet-infer
 *
 * Runs a checkpoint of AlexNet (#GstAlexnetInfer:model, a safetensors file
 * as docs/checkpoint-format.md describes) on every RGB frame and hands the
 * frame on unchanged, with its classification attached three ways: a
 * #GstAlexnetClassMeta on the buffer, an `alexnet-classification` element
 * message on the bus and, when #GstAlexnetInfer:results-location is set,
 * one JSON object per line in that file.
 *
 * Frames of any size are prepared as `resize-256` and `random-crop-flip`
 * prepare them, with the same code: shorter side to
 * #GstAlexnetInfer:resize-size, centre square, then the centre crop of the
 * network's input size (`views=center`) or the paper's ten views with their
 * softmax averaged (`views=ten-crop`). A frame that already has the
 * network's input size is used as it is. The VGG paper's evaluations take
 * the whole frame rescaled to every test scale of #GstAlexnetInfer:scales:
 * `views=dense` (the fully connected layers as convolutions over the image
 * and its mirror), `views=multi-crop` (a 5x5 grid of crops and their
 * mirrors) or `views=combined` (both), one frame at a time. Normalisation
 * (mean, std) comes from the checkpoint.
 *
 * With #GstAlexnetInfer:batch-size above 1, frames are held until a batch
 * is full (or at EOS), then pushed in order with their results; events
 * that arrive in between are held with them, so caps and segments stay in
 * step with the frames. Live sources always run one frame at a time, and
 * frames that a downstream sink reports late (QoS) are dropped before
 * they are classified, so latency never grows.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 dataset-src location=data/val ! decode ! \
 *     alexnet-infer model=alexnet.safetensors batch-size=64 \
 *     results-location=results.jsonl ! fakesink
 * gst-launch-1.0 dataset-src location=data/val ! decode ! \
 *     alexnet-infer model=vgg16.safetensors views=combined \
 *     scales=256,384,512 results-location=results.jsonl ! fakesink
 * gst-launch-1.0 -m v4l2src ! videoconvert ! queue leaky=downstream \
 *     max-size-buffers=1 ! alexnet-infer model=alexnet.safetensors ! \
 *     classify-overlay ! videoconvert ! autovideosink
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/base/gstbasetransform.h>

#include "elements/gstalexnetelements.h"
#include "elements/gstalexnetinfer.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/image/classify.h"
#include "plugin/gstalexnetmeta.h"
#include "plugin/gstalexnetclassmeta.h"

GST_DEBUG_CATEGORY (gst_alexnet_infer_debug);
#define GST_CAT_DEFAULT gst_alexnet_infer_debug

#define DEFAULT_PROP_MODEL NULL
#define DEFAULT_PROP_LABELS NULL
#define DEFAULT_PROP_TOP_K 5
#define DEFAULT_PROP_VIEWS GST_ALEXNET_INFER_VIEWS_CENTER
#define DEFAULT_PROP_BATCH_SIZE 1
#define DEFAULT_PROP_BACKEND AX_DEVICE_AUTO
#define DEFAULT_PROP_CONV_ALGORITHM AX_CONV_ALGO_AUTO
#define DEFAULT_PROP_TOWERS FALSE
#define DEFAULT_PROP_THREADS 0
#define DEFAULT_PROP_RESIZE_SIZE 0
#define DEFAULT_PROP_SCALES NULL
#define DEFAULT_PROP_RESULTS_LOCATION NULL
#define DEFAULT_PROP_OUTPUT_ALL FALSE
#define DEFAULT_PROP_POST_MESSAGES TRUE

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_LABELS,
  PROP_TOP_K,
  PROP_VIEWS,
  PROP_BATCH_SIZE,
  PROP_BACKEND,
  PROP_CONV_ALGORITHM,
  PROP_TOWERS,
  PROP_THREADS,
  PROP_RESIZE_SIZE,
  PROP_SCALES,
  PROP_RESULTS_LOCATION,
  PROP_OUTPUT_ALL,
  PROP_POST_MESSAGES,
  PROP_PROCESSED,
  PROP_DROPPED,
};

/* no framerate field: still images from decoders often have none */
#define INFER_CAPS "video/x-raw, format = (string) RGB, " \
    "width = (int) [ 1, max ], height = (int) [ 1, max ]"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (INFER_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (INFER_CAPS));

#define GST_TYPE_ALEXNET_INFER_VIEWS (gst_alexnet_infer_views_get_type ())

G_DEFINE_TYPE (GstAlexnetInfer, gst_alexnet_infer, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (alexnet_infer, "alexnet-infer", GST_RANK_NONE,
    GST_TYPE_ALEXNET_INFER);

static GType
gst_alexnet_infer_views_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ALEXNET_INFER_VIEWS_CENTER, "The centre crop", "center"},
    {GST_ALEXNET_INFER_VIEWS_TEN_CROP,
          "Ten views (four corners, centre and their mirrors), softmax averaged",
        "ten-crop"},
    {GST_ALEXNET_INFER_VIEWS_DENSE,
          "The VGG paper's dense evaluation: the fc layers as convolutions "
          "over the whole image and its mirror, class scores averaged over "
          "the map, softmaxes averaged", "dense"},
    {GST_ALEXNET_INFER_VIEWS_MULTI_CROP,
          "The VGG paper's multi-crop evaluation: a 5x5 grid of crops and "
          "their mirrors (50 per scale), softmax averaged", "multi-crop"},
    {GST_ALEXNET_INFER_VIEWS_COMBINED,
          "The mean of dense and multi-crop evaluation", "combined"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstAlexnetInferViews", values);
    g_once_init_leave (&type, t);
  }
  return type;
}


static void gst_alexnet_infer_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_alexnet_infer_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static void gst_alexnet_infer_finalize (GObject * object);
static gboolean gst_alexnet_infer_start (GstBaseTransform * trans);
static gboolean gst_alexnet_infer_stop (GstBaseTransform * trans);
static gboolean gst_alexnet_infer_query (GstBaseTransform * trans,
    GstPadDirection direction, GstQuery * query);
static gboolean gst_alexnet_infer_propose_allocation (GstBaseTransform *
    trans, GstQuery * decide_query, GstQuery * query);
static gboolean gst_alexnet_infer_sink_event (GstBaseTransform * trans,
    GstEvent * event);
static gboolean gst_alexnet_infer_src_event (GstBaseTransform * trans,
    GstEvent * event);
static GstFlowReturn gst_alexnet_infer_submit_input_buffer (GstBaseTransform
    * trans, gboolean is_discont, GstBuffer * input);
static GstFlowReturn gst_alexnet_infer_generate_output (GstBaseTransform *
    trans, GstBuffer ** outbuf);

static void
gst_alexnet_infer_class_init (GstAlexnetInferClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  GST_DEBUG_CATEGORY_INIT (gst_alexnet_infer_debug, "alexnet-infer", 0,
      "AlexNet classification of frames");

  gobject_class->set_property = gst_alexnet_infer_set_property;
  gobject_class->get_property = gst_alexnet_infer_get_property;
  gobject_class->finalize = gst_alexnet_infer_finalize;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Checkpoint (safetensors) of the network: weights, architecture, "
          "input size, normalisation and class names", DEFAULT_PROP_MODEL, rw));
  g_object_class_install_property (gobject_class, PROP_LABELS,
      g_param_spec_string ("labels", "Labels",
          "Text file of class names, one per line in class order, replacing "
          "the checkpoint's", DEFAULT_PROP_LABELS, rw));
  g_object_class_install_property (gobject_class, PROP_TOP_K,
      g_param_spec_uint ("top-k", "Top k",
          "Number of most probable classes reported per image (at most the "
          "number of classes)", 1, MAX_TOP_K, DEFAULT_PROP_TOP_K, rw));
  g_object_class_install_property (gobject_class, PROP_VIEWS,
      g_param_spec_enum ("views", "Views",
          "center: the centre crop; ten-crop: AlexNet's ten views with "
          "their softmax averaged; dense, multi-crop, combined: the VGG "
          "paper's evaluations at every test scale (see scales), one frame "
          "at a time", GST_TYPE_ALEXNET_INFER_VIEWS,
          DEFAULT_PROP_VIEWS, rw));
  g_object_class_install_property (gobject_class, PROP_BATCH_SIZE,
      g_param_spec_uint ("batch-size", "Batch size",
          "Frames classified together (file sources; frames are held until "
          "the batch is full). Live sources always use 1", 1, 4096,
          DEFAULT_PROP_BATCH_SIZE, rw));
  g_object_class_install_property (gobject_class, PROP_BACKEND,
      g_param_spec_enum ("backend", "Backend", "Device the network runs on",
          GST_TYPE_ALEXNET_BACKEND, DEFAULT_PROP_BACKEND, rw));
  g_object_class_install_property (gobject_class, PROP_CONV_ALGORITHM,
      g_param_spec_enum ("conv-algorithm", "Convolution algorithm",
          GST_ALEXNET_CONV_ALGORITHM_BLURB, GST_TYPE_ALEXNET_CONV_ALGORITHM,
          DEFAULT_PROP_CONV_ALGORITHM, rw));
  g_object_class_install_property (gobject_class, PROP_TOWERS,
      g_param_spec_boolean ("towers", "Towers",
          "Run the paper's two towers on two devices (on the CPU: two "
          "one-thread instances) instead of one device with grouped "
          "convolutions; the results are the same", DEFAULT_PROP_TOWERS, rw));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads",
          "CPU threads of the one-device placement (0: one per core)", 0,
          1024, DEFAULT_PROP_THREADS, rw));
  g_object_class_install_property (gobject_class, PROP_RESIZE_SIZE,
      g_param_spec_int ("resize-size", "Resize size",
          "Shorter side frames are resized to before cropping (0: input "
          "size x 256 / 224, i.e. 256 for 224)", 0, 4096,
          DEFAULT_PROP_RESIZE_SIZE, rw));
  g_object_class_install_property (gobject_class, PROP_SCALES,
      g_param_spec_string ("scales", "Test scales",
          "views=dense, multi-crop, combined: the shorter sides Q the whole "
          "image is rescaled to, comma-separated (e.g. 256,384,512; at "
          "least the network's input, at most 8), whose softmaxes are "
          "averaged (NULL: resize-size)", DEFAULT_PROP_SCALES, rw));
  g_object_class_install_property (gobject_class, PROP_RESULTS_LOCATION,
      g_param_spec_string ("results-location", "Results location",
          "JSON-lines file written with one object per image (NULL: none)",
          DEFAULT_PROP_RESULTS_LOCATION, rw));
  g_object_class_install_property (gobject_class, PROP_OUTPUT_ALL,
      g_param_spec_boolean ("output-all", "Output all",
          "Keep the whole probability vector in the meta, the message and "
          "the results file", DEFAULT_PROP_OUTPUT_ALL, rw));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post an alexnet-classification element message per image",
          DEFAULT_PROP_POST_MESSAGES, rw));
  g_object_class_install_property (gobject_class, PROP_PROCESSED,
      g_param_spec_uint64 ("processed", "Processed",
          "Frames classified since start", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_DROPPED,
      g_param_spec_uint64 ("dropped", "Dropped",
          "Late frames dropped under QoS since start", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "AlexNet classifier", "Filter/Analyzer/Video",
      "Classifies RGB frames with an AlexNet checkpoint: top-k classes as "
      "buffer meta, bus messages and JSON lines", "gst-alexnet authors");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_alexnet_infer_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_alexnet_infer_stop);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_alexnet_infer_query);
  trans_class->propose_allocation =
      GST_DEBUG_FUNCPTR (gst_alexnet_infer_propose_allocation);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_alexnet_infer_sink_event);
  trans_class->src_event = GST_DEBUG_FUNCPTR (gst_alexnet_infer_src_event);
  trans_class->submit_input_buffer =
      GST_DEBUG_FUNCPTR (gst_alexnet_infer_submit_input_buffer);
  trans_class->generate_output =
      GST_DEBUG_FUNCPTR (gst_alexnet_infer_generate_output);

  gst_type_mark_as_plugin_api (GST_TYPE_ALEXNET_INFER_VIEWS, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_ALEXNET_BACKEND, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_ALEXNET_CONV_ALGORITHM, 0);
}

static void
gst_alexnet_infer_init (GstAlexnetInfer * self)
{
  self->top_k = DEFAULT_PROP_TOP_K;
  self->views = DEFAULT_PROP_VIEWS;
  self->batch_size = DEFAULT_PROP_BATCH_SIZE;
  self->backend = DEFAULT_PROP_BACKEND;
  self->conv_algo = DEFAULT_PROP_CONV_ALGORITHM;
  self->towers = DEFAULT_PROP_TOWERS;
  self->threads = DEFAULT_PROP_THREADS;
  self->resize_size = DEFAULT_PROP_RESIZE_SIZE;
  self->output_all = DEFAULT_PROP_OUTPUT_ALL;
  self->post_messages = DEFAULT_PROP_POST_MESSAGES;
  self->earliest_time = GST_CLOCK_TIME_NONE;
  g_queue_init (&self->pending);
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
  /* frames pass through unchanged, with a meta added */
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), TRUE);
}

static void
gst_alexnet_infer_finalize (GObject * object)
{
  GstAlexnetInfer *self = GST_ALEXNET_INFER (object);

  g_free (self->model_location);
  g_free (self->labels_location);
  g_free (self->results_location);
  g_free (self->scales_text);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (gst_alexnet_infer_parent_class)->finalize (object);
}

static void
gst_alexnet_infer_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstAlexnetInfer *self = GST_ALEXNET_INFER (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_location);
      self->model_location = g_value_dup_string (value);
      break;
    case PROP_LABELS:
      g_free (self->labels_location);
      self->labels_location = g_value_dup_string (value);
      break;
    case PROP_TOP_K:
      self->top_k = g_value_get_uint (value);
      break;
    case PROP_VIEWS:
      self->views = g_value_get_enum (value);
      break;
    case PROP_BATCH_SIZE:
      self->batch_size = g_value_get_uint (value);
      break;
    case PROP_BACKEND:
      self->backend = g_value_get_enum (value);
      break;
    case PROP_CONV_ALGORITHM:
      self->conv_algo = g_value_get_enum (value);
      break;
    case PROP_TOWERS:
      self->towers = g_value_get_boolean (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_SCALES:
      g_free (self->scales_text);
      self->scales_text = g_value_dup_string (value);
      break;
    case PROP_RESIZE_SIZE:
      self->resize_size = g_value_get_int (value);
      break;
    case PROP_RESULTS_LOCATION:
      g_free (self->results_location);
      self->results_location = g_value_dup_string (value);
      break;
    case PROP_OUTPUT_ALL:
      self->output_all = g_value_get_boolean (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_alexnet_infer_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstAlexnetInfer *self = GST_ALEXNET_INFER (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_location);
      break;
    case PROP_LABELS:
      g_value_set_string (value, self->labels_location);
      break;
    case PROP_TOP_K:
      g_value_set_uint (value, self->top_k);
      break;
    case PROP_VIEWS:
      g_value_set_enum (value, self->views);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_uint (value, self->batch_size);
      break;
    case PROP_BACKEND:
      g_value_set_enum (value, self->backend);
      break;
    case PROP_CONV_ALGORITHM:
      g_value_set_enum (value, self->conv_algo);
      break;
    case PROP_TOWERS:
      g_value_set_boolean (value, self->towers);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_SCALES:
      g_value_set_string (value, self->scales_text);
      break;
    case PROP_RESIZE_SIZE:
      g_value_set_int (value, self->resize_size);
      break;
    case PROP_RESULTS_LOCATION:
      g_value_set_string (value, self->results_location);
      break;
    case PROP_OUTPUT_ALL:
      g_value_set_boolean (value, self->output_all);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_PROCESSED:
      g_value_set_uint64 (value, self->processed);
      break;
    case PROP_DROPPED:
      g_value_set_uint64 (value, self->dropped);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* ---- start and stop ---- */

static gboolean
gst_alexnet_infer_start (GstBaseTransform * trans)
{
  GstAlexnetInfer *self = GST_ALEXNET_INFER (trans);
  gchar *model, *labels, *results, *scales;
  gboolean towers;
  gint threads, resize, batch;
  gchar err[1024];

  GST_OBJECT_LOCK (self);
  model = g_strdup (self->model_location);
  labels = g_strdup (self->labels_location);
  results = g_strdup (self->results_location);
  towers = self->towers;
  threads = self->threads;
  resize = self->resize_size;
  batch = (gint) self->batch_size;
  scales = g_strdup (self->scales_text);
  self->run_views = self->views;
  self->n_views = self->views == GST_ALEXNET_INFER_VIEWS_TEN_CROP ?
      N_TEN_CROP_VIEWS : self->views == GST_ALEXNET_INFER_VIEWS_MULTI_CROP
      || self->views == GST_ALEXNET_INFER_VIEWS_COMBINED ? AX_EVAL_CROPS : 1;
  /* the VGG evaluations take one frame at a time: a frame's views (50 per
   * scale for multi-crop) are the network's batch */
  if (self->views >= GST_ALEXNET_INFER_VIEWS_DENSE)
    batch = 1;
  self->k = (gint) self->top_k;
  self->processed = self->dropped = 0;
  self->earliest_time = GST_CLOCK_TIME_NONE;
  GST_OBJECT_UNLOCK (self);
  /* kept for the streaming thread (freed in stop) */
  g_free (self->run_model);
  g_free (self->run_results);
  self->run_model = model;
  self->run_results = results;
  self->run_threads = threads;

  if (model == NULL || model[0] == '\0')
    goto no_model;
  if (ax_net_checkpoint_read_info (model, &self->info, err, sizeof err)
      != AX_OK)
    goto bad_model;
  self->have_info = TRUE;
  if (!gst_alexnet_infer_build_net (self, model, batch, towers, threads, err,
          sizeof err))
    goto bad_model;

  self->input_size = self->info.input_size;
  self->resize = resize > 0 ? resize :
      ax_resize_size_for_input (self->input_size);
  if (self->resize < self->input_size)
    goto bad_resize;
  self->n_scales = 1;
  self->scales[0] = self->resize;
  if (scales != NULL && scales[0] != '\0'
      && self->run_views < GST_ALEXNET_INFER_VIEWS_DENSE)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("scales=%s is ignored: "
            "views=center and ten-crop use resize-size (%d); the test "
            "scales are for dense, multi-crop and combined", scales,
            self->resize), (NULL));
  else if (scales != NULL && scales[0] != '\0'
      && ax_eval_parse_scales (scales, self->input_size, self->scales,
          &self->n_scales, err, sizeof err) != AX_OK)
    goto bad_scales;
  if (self->run_views >= GST_ALEXNET_INFER_VIEWS_DENSE) {
    ax_eval_views v = self->run_views == GST_ALEXNET_INFER_VIEWS_DENSE ?
        AX_EVAL_DENSE : self->run_views == GST_ALEXNET_INFER_VIEWS_MULTI_CROP
        ? AX_EVAL_MULTI_CROP : AX_EVAL_COMBINED;
    ax_net_checkpoint_input_lut (&self->info, self->lut);
    if (ax_eval_create (self->net, self->model.backends[0], v, self->scales,
            self->n_scales, (const float (*)[256]) self->lut, &self->eval,
            err, sizeof err) != AX_OK)
      goto bad_scales;
  }
  self->n_classes = self->info.n_classes;
  self->k = MIN (self->k, self->n_classes);
  if (labels != NULL) {
    self->labels = gst_alexnet_infer_read_labels (labels, self->n_classes,
        err, sizeof err);
    if (self->labels == NULL)
      goto bad_labels;
  } else if (self->info.class_names != NULL) {
    self->labels = g_new0 (gchar *, self->n_classes + 1);
    for (gint i = 0; i < self->n_classes; i++)
      self->labels[i] = g_strdup (self->info.class_names[i]);
  }
  ax_net_checkpoint_input_lut (&self->info, self->lut);

  for (gint b = 0; b < 2; b++) {
    self->input[b] = g_new0 (float, (gsize) batch * self->n_views * 3 *
        self->input_size * self->input_size);
    self->logits[b] = g_new0 (float, (gsize) batch * self->n_views *
        self->n_classes);
  }
  self->cur = 0;
  self->probs = g_new0 (float, self->n_classes);
  self->resized = g_new (guint8, (gsize) self->resize * self->resize * 3);
  self->crop = g_new (guint8, (gsize) self->input_size * self->input_size * 3);
  memset (&self->plan, 0, sizeof self->plan);
  self->have_plan = FALSE;

  gst_alexnet_infer_warm_up (self);
  self->live = FALSE;
  self->latency = self->window_max = 0;
  self->window_frames = 0;

  if (results != NULL && results[0] != '\0') {
    self->results = fopen (results, "w");
    if (self->results == NULL)
      goto bad_results;
  }
  self->frames_in_batch = self->inflight_frames = 0;
  self->n_ready = 0;
  self->live_checked = FALSE;
  if (batch > 1) {
    self->job = self->job_done = self->quit = FALSE;
    self->worker = g_thread_new ("alexnet-infer", gst_alexnet_infer_worker,
        self);
  }
  self->have_in_info = FALSE;
  gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
  g_free (labels);
  g_free (scales);
  return TRUE;

  /* ERRORS */
no_model:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No model: set the 'model' property to a checkpoint file"), (NULL));
    goto failed;
  }
bad_model:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not load the model: %s", err), (NULL));
    goto failed;
  }
bad_resize:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("resize-size %d is smaller than the network's input %d",
            self->resize, self->input_size), (NULL));
    goto failed;
  }
bad_scales:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Cannot evaluate at these scales: %s", err), (NULL));
    goto failed;
  }
bad_labels:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not read the labels: %s", err), (NULL));
    goto failed;
  }
bad_results:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Could not open the results file %s: %s", results,
            g_strerror (errno)), (NULL));
    goto failed;
  }
failed:
  {
    g_free (labels);
    g_free (scales);
    gst_alexnet_infer_stop (trans);
    return FALSE;
  }
}

static gboolean
gst_alexnet_infer_stop (GstBaseTransform * trans)
{
  GstAlexnetInfer *self = GST_ALEXNET_INFER (trans);
  gboolean ok = TRUE;

  gst_alexnet_infer_clear_pending (self);
  if (self->worker != NULL) {
    g_mutex_lock (&self->lock);
    self->quit = TRUE;
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
    g_thread_join (self->worker);
    self->worker = NULL;
  }
  ax_eval_destroy (self->eval);
  self->eval = NULL;
  ax_infer_net_close (&self->model);
  self->net = NULL;
  g_clear_pointer (&self->run_model, g_free);
  g_clear_pointer (&self->run_results, g_free);
  if (self->have_info)
    ax_net_checkpoint_info_clear (&self->info);
  self->have_info = FALSE;
  g_strfreev (self->labels);
  self->labels = NULL;
  for (gint b = 0; b < 2; b++) {
    g_clear_pointer (&self->input[b], g_free);
    g_clear_pointer (&self->logits[b], g_free);
  }
  g_clear_pointer (&self->probs, g_free);
  g_clear_pointer (&self->resized, g_free);
  g_clear_pointer (&self->crop, g_free);
  if (self->have_plan)
    ax_resize_plan_clear (&self->plan);
  self->have_plan = FALSE;
  if (self->results != NULL) {
    if (fclose (self->results) != 0) {
      GST_ELEMENT_WARNING (self, RESOURCE, CLOSE,
          ("Could not finish writing the results file: %s",
              g_strerror (errno)), (NULL));
      ok = FALSE;
    }
    self->results = NULL;
  }
  return ok;
}

/* ---- queries and events ---- */

static gboolean
gst_alexnet_infer_query (GstBaseTransform * trans, GstPadDirection direction,
    GstQuery * query)
{
  GstAlexnetInfer *self = GST_ALEXNET_INFER (trans);

  /* decode asks how small it may decode: our resize side */
  if (direction == GST_PAD_SINK && gst_alexnet_query_is_target_size (query)) {
    gint size;
    GST_OBJECT_LOCK (self);
    size = self->resize > 0 ? self->resize : self->resize_size;
    for (gint i = 0; self->eval != NULL && i < self->n_scales; i++)
      size = MAX (size, self->scales[i]);
    GST_OBJECT_UNLOCK (self);
    if (size <= 0)
      return FALSE;
    gst_alexnet_query_set_target_size (query, size);
    return TRUE;
  }
  if (direction == GST_PAD_SRC && GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    gboolean live;
    GstClockTime min, max, latency;
    if (!GST_BASE_TRANSFORM_CLASS (gst_alexnet_infer_parent_class)->query
        (trans, direction, query))
      return FALSE;
    gst_query_parse_latency (query, &live, &min, &max);
    GST_OBJECT_LOCK (self);
    latency = self->latency;
    GST_OBJECT_UNLOCK (self);
    if (live) {
      min += latency;
      if (GST_CLOCK_TIME_IS_VALID (max))
        max += latency;
      gst_query_set_latency (query, live, min, max);
    }
    return TRUE;
  }
  return GST_BASE_TRANSFORM_CLASS (gst_alexnet_infer_parent_class)->query
      (trans, direction, query);
}

/* A batch holds its frames: ask upstream pools for that many more. */
static gboolean
gst_alexnet_infer_propose_allocation (GstBaseTransform * trans,
    GstQuery * decide_query, GstQuery * query)
{
  GstAlexnetInfer *self = GST_ALEXNET_INFER (trans);
  guint held = 2 * MAX (self->net_frames, 1), i;

  if (!GST_BASE_TRANSFORM_CLASS
      (gst_alexnet_infer_parent_class)->propose_allocation (trans, decide_query,
          query))
    return FALSE;
  for (i = 0; i < gst_query_get_n_allocation_pools (query); i++) {
    GstBufferPool *pool = NULL;
    guint size, min, max;
    gst_query_parse_nth_allocation_pool (query, i, &pool, &size, &min, &max);
    min += held;
    if (max != 0 && max < min)
      max = min;
    gst_query_set_nth_allocation_pool (query, i, pool, size, min, max);
    if (pool)
      gst_object_unref (pool);
  }
  return TRUE;
}

static gboolean
gst_alexnet_infer_src_event (GstBaseTransform * trans, GstEvent * event)
{
  GstAlexnetInfer *self = GST_ALEXNET_INFER (trans);

  if (GST_EVENT_TYPE (event) == GST_EVENT_QOS) {
    gdouble proportion;
    GstClockTimeDiff diff;
    GstClockTime timestamp;

    gst_event_parse_qos (event, NULL, &proportion, &diff, &timestamp);
    GST_OBJECT_LOCK (self);
    self->proportion = proportion;
    /* a late frame: skip everything up to where the sink will be when
     * the next one is ready (twice the lateness, as video decoders do) */
    if (diff > 0)
      self->earliest_time = timestamp + 2 * diff;
    else
      self->earliest_time = timestamp + diff;
    GST_OBJECT_UNLOCK (self);
  }
  return GST_BASE_TRANSFORM_CLASS (gst_alexnet_infer_parent_class)->src_event
      (trans, event);
}


/* Pushes everything pending (after the batches ran), outside the chain
 * function: at EOS and other events that must not wait. */
static GstFlowReturn
gst_alexnet_infer_drain (GstAlexnetInfer * self)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);
  GstFlowReturn ret;
  GstMiniObject *item;

  ret = gst_alexnet_infer_finish_inflight (self);
  if (ret == GST_FLOW_OK && self->frames_in_batch > 0)
    ret = gst_alexnet_infer_run_batch (self);
  self->n_ready = 0;
  while ((item = g_queue_pop_head (&self->pending)) != NULL) {
    if (GST_IS_EVENT (item))
      GST_BASE_TRANSFORM_CLASS (gst_alexnet_infer_parent_class)->sink_event
          (trans, GST_EVENT_CAST (item));
    else if (ret == GST_FLOW_OK)
      ret = gst_pad_push (trans->srcpad, GST_BUFFER_CAST (item));
    else
      gst_buffer_unref (GST_BUFFER_CAST (item));
  }
  return ret;
}

static gboolean
gst_alexnet_infer_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstAlexnetInfer *self = GST_ALEXNET_INFER (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      if (!gst_video_info_from_caps (&self->in_info, caps)) {
        GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
            ("invalid caps %" GST_PTR_FORMAT, caps));
        gst_event_unref (event);
        return FALSE;
      }
      self->have_in_info = TRUE;
      break;
    }
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->segment);
      break;
    case GST_EVENT_FLUSH_STOP:{
      /* held frames are dropped, but caps held with them still describe
       * the frames to come: they follow the flush downstream */
      GstEvent *caps = NULL;
      for (GList * l = self->pending.tail; l != NULL && !caps; l = l->prev)
        if (GST_IS_EVENT (l->data)
            && GST_EVENT_TYPE (l->data) == GST_EVENT_CAPS)
          caps = gst_event_ref (l->data);
      gst_alexnet_infer_clear_pending (self);
      GST_OBJECT_LOCK (self);
      self->earliest_time = GST_CLOCK_TIME_NONE;
      GST_OBJECT_UNLOCK (self);
      if (caps == NULL)
        break;
      if (!GST_BASE_TRANSFORM_CLASS (gst_alexnet_infer_parent_class)->sink_event
          (trans, event)) {
        gst_event_unref (caps);
        return FALSE;
      }
      return
          GST_BASE_TRANSFORM_CLASS (gst_alexnet_infer_parent_class)->sink_event
          (trans, caps);
    }
    case GST_EVENT_EOS:
    case GST_EVENT_SEGMENT_DONE:
    case GST_EVENT_GAP:
      /* the frames held so far are all there will be for now */
      gst_alexnet_infer_drain (self);
      break;
    default:
      break;
  }

  /* serialized events wait behind the frames held before them */
  if (GST_EVENT_IS_SERIALIZED (event) && !g_queue_is_empty (&self->pending)
      && GST_EVENT_TYPE (event) != GST_EVENT_FLUSH_STOP) {
    g_queue_push_tail (&self->pending, event);
    return TRUE;
  }
  return GST_BASE_TRANSFORM_CLASS (gst_alexnet_infer_parent_class)->sink_event
      (trans, event);
}

/* ---- frames ---- */

static GstFlowReturn
gst_alexnet_infer_submit_input_buffer (GstBaseTransform * trans,
    gboolean is_discont, GstBuffer * input)
{
  GstAlexnetInfer *self = GST_ALEXNET_INFER (trans);
  gint64 t0;
  (void) is_discont;

  if (G_UNLIKELY (!self->have_in_info))
    goto not_negotiated;
  if (G_UNLIKELY (!self->live_checked))
    gst_alexnet_infer_check_live (self);
  if (G_UNLIKELY (self->net == NULL))
    goto no_net;
  if (gst_alexnet_infer_is_late (self, input)) {
    gst_buffer_unref (input);
    return GST_BASE_TRANSFORM_FLOW_DROPPED;
  }
  t0 = g_get_monotonic_time ();
  if (!gst_alexnet_infer_prepare (self, input, self->frames_in_batch))
    goto bad_frame;
  g_queue_push_tail (&self->pending, input);
  self->frames_in_batch++;
  if (self->frames_in_batch < self->net_frames)
    return GST_FLOW_OK;
  if (self->worker == NULL || self->live) {
    GstFlowReturn ret = gst_alexnet_infer_run_batch (self);
    if (self->live)
      gst_alexnet_infer_update_latency (self,
          (GstClockTime) (g_get_monotonic_time () - t0) * GST_USECOND);
    return ret;
  }
  /* the previous batch's frames go on, this one runs while the next
   * arrives */
  {
    GstFlowReturn ret = gst_alexnet_infer_finish_inflight (self);
    if (ret != GST_FLOW_OK)
      return ret;
  }
  gst_alexnet_infer_send_to_worker (self);
  return GST_FLOW_OK;

  /* ERRORS */
not_negotiated:
  {
    gst_buffer_unref (input);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("a frame arrived before its caps"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
no_net:
  {
    gst_buffer_unref (input);
    return GST_FLOW_ERROR;
  }
bad_frame:
  {
    gst_buffer_unref (input);
    if (self->eval_err[0] != '\0')
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
          ("Could not evaluate a %dx%d frame: %s",
              GST_VIDEO_INFO_WIDTH (&self->in_info),
              GST_VIDEO_INFO_HEIGHT (&self->in_info), self->eval_err),
          (NULL));
    else
      GST_ELEMENT_ERROR (self, STREAM, FORMAT, (NULL),
          ("could not map or resize a %dx%d frame",
              GST_VIDEO_INFO_WIDTH (&self->in_info),
              GST_VIDEO_INFO_HEIGHT (&self->in_info)));
    return GST_FLOW_ERROR;
  }
}

/* Called until it gives no buffer: the held frames once their batch ran,
 * with the events that came between them. */
static GstFlowReturn
gst_alexnet_infer_generate_output (GstBaseTransform * trans,
    GstBuffer ** outbuf)
{
  GstAlexnetInfer *self = GST_ALEXNET_INFER (trans);
  GstMiniObject *item;

  *outbuf = NULL;
  while (self->n_ready > 0) {
    item = g_queue_pop_head (&self->pending);
    self->n_ready--;
    if (GST_IS_BUFFER (item)) {
      *outbuf = GST_BUFFER_CAST (item);
      return GST_FLOW_OK;
    }
    GST_BASE_TRANSFORM_CLASS (gst_alexnet_infer_parent_class)->sink_event
        (trans, GST_EVENT_CAST (item));
  }
  return GST_FLOW_OK;
}
