/* gst-alexnet — alexnet-train: a sink that batches labelled RGB crops and
 * trains AlexNet with the compute core (SGD, validation, checkpoints).
 * Copyright (C) 2026 gst-alexnet authors
 * SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SECTION:element-alexnet-train
 * @title: alexnet-train
 *
 * Collects `input-size` x `input-size` RGB frames and their
 * #GstAlexnetLabelMeta into batches of #GstAlexnetTrain:batch-size images
 * (normalised, planar float), and trains the network on a worker thread
 * while the streaming thread fills the next batch. After every epoch it
 * can measure the top-1 and top-5 error on a held-out set (an internal
 * pipeline over #GstAlexnetTrain:val-location) and divides the learning
 * rate by 10 when that error stops improving (at most three times).
 * Progress is posted on the bus; checkpoints are safetensors files
 * (docs/checkpoint-format.md). See docs/elements/alexnet-train.md and
 * docs/training.md.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -e dataset-src location=train/ shuffle=true epochs=90 ! \
 *     decode ! resize-256 ! random-crop-flip ! pca-jitter ! \
 *     alexnet-train checkpoint=alexnet.safetensors val-location=val/ \
 *     metrics-location=metrics.jsonl
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>
#include <gst/video/video.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "elements/gstalexnetelements.h"
#include "elements/gstalexnettrainpriv.h"
#include "plugin/gstalexnetmeta.h"
#include "plugin/gstalexnetstats.h"
#include "kernels/nn/net_checkpoint.h"

GST_DEBUG_CATEGORY (gst_alexnet_train_debug);
#define GST_CAT_DEFAULT gst_alexnet_train_debug


#define DEFAULT_PROP_BATCH_SIZE 128
#define DEFAULT_PROP_LEARNING_RATE 0.01
#define DEFAULT_PROP_MOMENTUM 0.9
#define DEFAULT_PROP_WEIGHT_DECAY 0.0005
#define DEFAULT_PROP_DROPOUT 0.5
#define DEFAULT_PROP_SEED 0
#define DEFAULT_PROP_BACKEND AX_DEVICE_AUTO
#define DEFAULT_PROP_TOWERS 2
#define DEFAULT_PROP_REPLICAS 1
#define DEFAULT_PROP_DETERMINISTIC FALSE
#define DEFAULT_PROP_ARCH "alexnet-paper"
#define DEFAULT_PROP_INIT GST_ALEXNET_TRAIN_INIT_PAPER
#define DEFAULT_PROP_INPUT_SIZE 224
#define DEFAULT_PROP_WIDTH_DIVISOR 1
#define DEFAULT_PROP_NUM_CLASSES 0
#define DEFAULT_PROP_CHECKPOINT_INTERVAL 0
#define DEFAULT_PROP_MAX_STEPS 0
#define DEFAULT_PROP_MAX_TIME 0.0
#define DEFAULT_PROP_LOG_INTERVAL 10
#define DEFAULT_PROP_LR_SCHEDULE GST_ALEXNET_LR_SCHEDULE_PLATEAU
#define DEFAULT_PROP_LR_DROPS 3
#define DEFAULT_PROP_LR_PATIENCE 1
#define DEFAULT_PROP_LR_STEP_EPOCHS 30

enum
{
  PROP_0,
  PROP_BATCH_SIZE,
  PROP_LEARNING_RATE,
  PROP_MOMENTUM,
  PROP_WEIGHT_DECAY,
  PROP_DROPOUT,
  PROP_SEED,
  PROP_BACKEND,
  PROP_TOWERS,
  PROP_REPLICAS,
  PROP_DETERMINISTIC,
  PROP_ARCH,
  PROP_INIT,
  PROP_INPUT_SIZE,
  PROP_WIDTH_DIVISOR,
  PROP_NUM_CLASSES,
  PROP_CHECKPOINT,
  PROP_CHECKPOINT_INTERVAL,
  PROP_RESUME,
  PROP_INIT_FROM,
  PROP_MAX_STEPS,
  PROP_MAX_TIME,
  PROP_LOG_INTERVAL,
  PROP_METRICS_LOCATION,
  PROP_VAL_LOCATION,
  PROP_VAL_PIPELINE,
  PROP_LR_SCHEDULE,
  PROP_LR_DROPS,
  PROP_LR_PATIENCE,
  PROP_LR_STEP_EPOCHS,
  PROP_STATS_LOCATION,
  PROP_MEAN,
  PROP_STD,
  PROP_USE_STD,
  PROP_STEP,
  PROP_EPOCH,
};

#define TRAIN_CAPS "video/x-raw, format = (string) RGB, " \
    "width = (int) [ 1, max ], height = (int) [ 1, max ]"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (TRAIN_CAPS));


G_DEFINE_TYPE (GstAlexnetTrain, gst_alexnet_train, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (alexnet_train, "alexnet-train", GST_RANK_NONE,
    GST_TYPE_ALEXNET_TRAIN);


#define GST_TYPE_ALEXNET_TRAIN_INIT (gst_alexnet_train_init_get_type ())
static GType
gst_alexnet_train_init_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ALEXNET_TRAIN_INIT_PAPER, "The paper's: weights N(0, 0.01), biases "
          "1 in conv2, conv4, conv5, fc6, fc7", "paper"},
    {GST_ALEXNET_TRAIN_INIT_XAVIER, "Xavier-uniform weights, zero biases "
          "(learns from the first steps: for short runs)", "xavier"},
    {GST_ALEXNET_TRAIN_INIT_TORCH, "PyTorch's defaults (kaiming-uniform "
          "a=sqrt 5)", "torch"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstAlexnetTrainInit",
            values));
  return type;
}

#define GST_TYPE_ALEXNET_LR_SCHEDULE (gst_alexnet_lr_schedule_get_type ())
static GType
gst_alexnet_lr_schedule_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ALEXNET_LR_SCHEDULE_PLATEAU, "Divide by 10 when the validation "
          "error stops improving (the paper's)", "plateau"},
    {GST_ALEXNET_LR_SCHEDULE_STEP, "Divide by 10 every lr-step-epochs "
          "epochs", "step"},
    {GST_ALEXNET_LR_SCHEDULE_CONSTANT, "Keep the learning rate", "constant"},
    {GST_ALEXNET_LR_SCHEDULE_LINEAR, "Decay linearly to 0 at the end of the "
          "budget (max-steps or max-time)", "linear"},
    {GST_ALEXNET_LR_SCHEDULE_COSINE, "Decay along half a cosine to 0 at the "
          "end of the budget (max-steps or max-time)", "cosine"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static
        ("GstAlexnetLrScheduleMode", values));
  return type;
}

static void gst_alexnet_train_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_alexnet_train_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static void gst_alexnet_train_finalize (GObject * object);
static gboolean gst_alexnet_train_start (GstBaseSink * sink);
static gboolean gst_alexnet_train_stop (GstBaseSink * sink);
static GstCaps *gst_alexnet_train_get_caps (GstBaseSink * sink,
    GstCaps * filter);
static gboolean gst_alexnet_train_set_caps (GstBaseSink * sink,
    GstCaps * caps);
static gboolean gst_alexnet_train_event (GstBaseSink * sink,
    GstEvent * event);
static GstFlowReturn gst_alexnet_train_render (GstBaseSink * sink,
    GstBuffer * buffer);
static gboolean gst_alexnet_train_unlock (GstBaseSink * sink);
static gboolean gst_alexnet_train_unlock_stop (GstBaseSink * sink);

static GParamSpec *
rgb_array_spec (const gchar * name, const gchar * nick, const gchar * blurb)
{
  return gst_param_spec_array (name, nick, blurb,
      g_param_spec_double ("value", "Value", "One channel's value", -1e9,
          1e9, 0.0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS),
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
}

static void
gst_alexnet_train_class_init (GstAlexnetTrainClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *sink_class = GST_BASE_SINK_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  GST_DEBUG_CATEGORY_INIT (gst_alexnet_train_debug, "alexnet-train", 0,
      "AlexNet training sink");

  gobject_class->set_property = gst_alexnet_train_set_property;
  gobject_class->get_property = gst_alexnet_train_get_property;
  gobject_class->finalize = gst_alexnet_train_finalize;

  g_object_class_install_property (gobject_class, PROP_BATCH_SIZE,
      g_param_spec_int ("batch-size", "Batch size",
          "Images per SGD step", 1, 65536, DEFAULT_PROP_BATCH_SIZE, rw));
  g_object_class_install_property (gobject_class, PROP_LEARNING_RATE,
      g_param_spec_double ("learning-rate", "Learning rate",
          "Initial learning rate (a resumed run continues with the "
          "checkpoint's)", 0.0, G_MAXDOUBLE, DEFAULT_PROP_LEARNING_RATE, rw));
  g_object_class_install_property (gobject_class, PROP_MOMENTUM,
      g_param_spec_double ("momentum", "Momentum", "SGD momentum", 0.0, 1.0,
          DEFAULT_PROP_MOMENTUM, rw));
  g_object_class_install_property (gobject_class, PROP_WEIGHT_DECAY,
      g_param_spec_double ("weight-decay", "Weight decay",
          "L2 weight decay (v = m v - wd lr w - lr g)", 0.0, G_MAXDOUBLE,
          DEFAULT_PROP_WEIGHT_DECAY, rw));
  g_object_class_install_property (gobject_class, PROP_DROPOUT,
      g_param_spec_double ("dropout", "Dropout",
          "Probability of dropping an fc6/fc7 output in training", 0.0, 0.99,
          DEFAULT_PROP_DROPOUT, rw));
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_int64 ("seed", "Seed",
          "Seed of the initial weights and the dropout masks (-1 picks one "
          "at random)", -1, G_MAXINT64, DEFAULT_PROP_SEED, rw));
  g_object_class_install_property (gobject_class, PROP_BACKEND,
      g_param_spec_enum ("backend", "Backend",
          "Where to compute: auto uses CUDA where a GPU is present and "
          "works; cuda falls back to the CPU, with a warning, where none can "
          "run", GST_TYPE_ALEXNET_BACKEND,
          DEFAULT_PROP_BACKEND, rw));
  g_object_class_install_property (gobject_class, PROP_TOWERS,
      g_param_spec_int ("towers", "Towers",
          "2: the paper's two towers, each on its own device (on the CPU a "
          "one-thread instance each); 1: one device with grouped "
          "convolutions, all threads", 1, 2, DEFAULT_PROP_TOWERS, rw));
  g_object_class_install_property (gobject_class, PROP_REPLICAS,
      g_param_spec_int ("replicas", "Data-parallel replicas",
          "> 1: data-parallel training (as PyTorch's DDP) with a whole "
          "network per device, each on batch-size/replicas images, gradients "
          "summed across devices (NCCL on GPUs); replaces the towers. On "
          "CUDA one GPU per replica", 1, AX_NET_MAX_REPLICAS,
          DEFAULT_PROP_REPLICAS, rw));
  g_object_class_install_property (gobject_class, PROP_DETERMINISTIC,
      g_param_spec_boolean ("deterministic", "Deterministic",
          "CUDA: only deterministic cuDNN algorithms, so that a run repeats "
          "bit for bit (as torch.use_deterministic_algorithms); the CPU is "
          "deterministic anyway", DEFAULT_PROP_DETERMINISTIC, rw));
  g_object_class_install_property (gobject_class, PROP_ARCH,
      g_param_spec_string ("arch", "Architecture",
          "alexnet-paper or alexnet-torchvision (a resumed run takes the "
          "checkpoint's)", DEFAULT_PROP_ARCH, rw));
  g_object_class_install_property (gobject_class, PROP_INIT,
      g_param_spec_enum ("init", "Initialisation",
          "How the weights start (ignored with resume or init-from)",
          GST_TYPE_ALEXNET_TRAIN_INIT, DEFAULT_PROP_INIT, rw));
  g_object_class_install_property (gobject_class, PROP_INPUT_SIZE,
      g_param_spec_int ("input-size", "Input size",
          "Side of the square input frames (224 in the paper)", 35, 4096,
          DEFAULT_PROP_INPUT_SIZE, rw));
  g_object_class_install_property (gobject_class, PROP_WIDTH_DIVISOR,
      g_param_spec_int ("width-divisor", "Width divisor",
          "Divide every conv and hidden fc width by this (tests and quick "
          "experiments; 1 is the paper's network)", 1, 64,
          DEFAULT_PROP_WIDTH_DIVISOR, rw));
  g_object_class_install_property (gobject_class, PROP_NUM_CLASSES,
      g_param_spec_int ("num-classes", "Classes",
          "Number of classes (0: from the alexnet/classes event of "
          "dataset-src, or from the checkpoint)", 0, 1000000,
          DEFAULT_PROP_NUM_CLASSES, rw));
  g_object_class_install_property (gobject_class, PROP_CHECKPOINT,
      g_param_spec_string ("checkpoint", "Checkpoint",
          "Checkpoint file (safetensors) written every checkpoint-interval "
          "steps and at the end of the stream, atomically", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_CHECKPOINT_INTERVAL,
      g_param_spec_uint64 ("checkpoint-interval", "Checkpoint interval",
          "Write the checkpoint every this many steps (0: only at the end)",
          0, G_MAXUINT64, DEFAULT_PROP_CHECKPOINT_INTERVAL, rw));
  g_object_class_install_property (gobject_class, PROP_RESUME,
      g_param_spec_string ("resume", "Resume",
          "Continue the training saved in this checkpoint exactly: weights, "
          "momentum, step, epoch, learning rate, schedule, RNG", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_INIT_FROM,
      g_param_spec_string ("init-from", "Initialise from",
          "Start from the weights of this checkpoint (fine-tuning): "
          "momentum, step and epoch start at zero", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_STEPS,
      g_param_spec_uint64 ("max-steps", "Maximum steps",
          "Stop cleanly (final checkpoint, EOS) once the step counter "
          "reaches this (0: no limit)", 0, G_MAXUINT64,
          DEFAULT_PROP_MAX_STEPS, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_TIME,
      g_param_spec_double ("max-time", "Maximum time",
          "Stop cleanly after this many seconds of training (0: no limit)",
          0.0, G_MAXDOUBLE, DEFAULT_PROP_MAX_TIME, rw));
  g_object_class_install_property (gobject_class, PROP_LOG_INTERVAL,
      g_param_spec_uint ("log-interval", "Log interval",
          "Post progress and write a metrics line every this many steps", 1,
          G_MAXUINT, DEFAULT_PROP_LOG_INTERVAL, rw));
  g_object_class_install_property (gobject_class, PROP_METRICS_LOCATION,
      g_param_spec_string ("metrics-location", "Metrics file",
          "JSON-lines file of training and validation metrics (appended to "
          "when resuming)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_VAL_LOCATION,
      g_param_spec_string ("val-location", "Validation set",
          "Held-out data set (folder or list, as dataset-src reads) "
          "evaluated on its centre crops after every epoch", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_VAL_PIPELINE,
      g_param_spec_string ("val-pipeline", "Validation pipeline",
          "Instead of val-location: a gst-launch description whose last "
          "element outputs the labelled validation frames", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_LR_SCHEDULE,
      g_param_spec_enum ("lr-schedule", "Learning-rate schedule",
          "When to divide the learning rate by 10, or decay it over the "
          "budget",
          GST_TYPE_ALEXNET_LR_SCHEDULE, DEFAULT_PROP_LR_SCHEDULE, rw));
  g_object_class_install_property (gobject_class, PROP_LR_DROPS,
      g_param_spec_int ("lr-drops", "Learning-rate drops",
          "Divide the learning rate by 10 at most this many times", 0, 100,
          DEFAULT_PROP_LR_DROPS, rw));
  g_object_class_install_property (gobject_class, PROP_LR_PATIENCE,
      g_param_spec_int ("lr-patience", "Patience",
          "plateau: epochs without a better validation error before a drop",
          1, 1000, DEFAULT_PROP_LR_PATIENCE, rw));
  g_object_class_install_property (gobject_class, PROP_LR_STEP_EPOCHS,
      g_param_spec_int ("lr-step-epochs", "Step epochs",
          "step: divide the learning rate by 10 every this many epochs", 1,
          100000, DEFAULT_PROP_LR_STEP_EPOCHS, rw));
  g_object_class_install_property (gobject_class, PROP_STATS_LOCATION,
      g_param_spec_string ("stats-location", "Statistics file",
          "dataset-stats JSON file whose mean and std normalise the input "
          "(instead of the mean and std properties)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_MEAN,
      rgb_array_spec ("mean", "Mean", "Per-channel mean, R G B, 0..1 scale "
          "(ImageNet's by default)"));
  g_object_class_install_property (gobject_class, PROP_STD,
      rgb_array_spec ("std", "Std", "Per-channel standard deviation, 0..1 "
          "scale (ImageNet's by default; < 1, 1, 1 > subtracts the mean "
          "only, as the paper)"));
  g_object_class_install_property (gobject_class, PROP_USE_STD,
      g_param_spec_boolean ("use-std", "Divide by std",
          "Divide by the std (from stats-location or the std property); "
          "false subtracts the mean only, as the paper", TRUE, rw));
  g_object_class_install_property (gobject_class, PROP_STEP,
      g_param_spec_uint64 ("step", "Step", "SGD steps done so far",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_EPOCH,
      g_param_spec_uint64 ("epoch", "Epoch", "Epochs completed so far", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class,
      "AlexNet training sink", "Sink/Video",
      "Trains AlexNet on labelled RGB crops: SGD with momentum on a worker "
      "thread, validation, learning-rate schedule, checkpoints, progress",
      "gst-alexnet authors");

  sink_class->start = GST_DEBUG_FUNCPTR (gst_alexnet_train_start);
  sink_class->stop = GST_DEBUG_FUNCPTR (gst_alexnet_train_stop);
  sink_class->get_caps = GST_DEBUG_FUNCPTR (gst_alexnet_train_get_caps);
  sink_class->set_caps = GST_DEBUG_FUNCPTR (gst_alexnet_train_set_caps);
  sink_class->event = GST_DEBUG_FUNCPTR (gst_alexnet_train_event);
  sink_class->render = GST_DEBUG_FUNCPTR (gst_alexnet_train_render);
  sink_class->unlock = GST_DEBUG_FUNCPTR (gst_alexnet_train_unlock);
  sink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_alexnet_train_unlock_stop);

  gst_type_mark_as_plugin_api (GST_TYPE_ALEXNET_BACKEND, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_ALEXNET_TRAIN_INIT, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_ALEXNET_LR_SCHEDULE, 0);
}

static void
gst_alexnet_train_init (GstAlexnetTrain * self)
{
  GstAlexnetStats imagenet;

  self->batch_size = DEFAULT_PROP_BATCH_SIZE;
  self->learning_rate = DEFAULT_PROP_LEARNING_RATE;
  self->momentum = DEFAULT_PROP_MOMENTUM;
  self->weight_decay = DEFAULT_PROP_WEIGHT_DECAY;
  self->dropout = DEFAULT_PROP_DROPOUT;
  self->seed = DEFAULT_PROP_SEED;
  self->backend = DEFAULT_PROP_BACKEND;
  self->towers = DEFAULT_PROP_TOWERS;
  self->replicas = DEFAULT_PROP_REPLICAS;
  self->deterministic = DEFAULT_PROP_DETERMINISTIC;
  self->arch = g_strdup (DEFAULT_PROP_ARCH);
  self->init = DEFAULT_PROP_INIT;
  self->input_size = DEFAULT_PROP_INPUT_SIZE;
  self->width_divisor = DEFAULT_PROP_WIDTH_DIVISOR;
  self->num_classes = DEFAULT_PROP_NUM_CLASSES;
  self->checkpoint_interval = DEFAULT_PROP_CHECKPOINT_INTERVAL;
  self->max_steps = DEFAULT_PROP_MAX_STEPS;
  self->max_time = DEFAULT_PROP_MAX_TIME;
  self->log_interval = DEFAULT_PROP_LOG_INTERVAL;
  self->lr_schedule_mode = DEFAULT_PROP_LR_SCHEDULE;
  self->lr_drops = DEFAULT_PROP_LR_DROPS;
  self->lr_patience = DEFAULT_PROP_LR_PATIENCE;
  self->lr_step_epochs = DEFAULT_PROP_LR_STEP_EPOCHS;
  gst_alexnet_stats_init_imagenet (&imagenet);
  for (gint c = 0; c < 3; c++) {
    self->mean[c] = imagenet.mean[c];
    self->std[c] = imagenet.std[c];
  }
  self->use_std = TRUE;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->jobs);
  /* training consumes every frame as fast as it can */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_qos_enabled (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_last_sample_enabled (GST_BASE_SINK (self), FALSE);
}

static void
gst_alexnet_train_finalize (GObject * object)
{
  GstAlexnetTrain *self = GST_ALEXNET_TRAIN (object);

  g_free (self->arch);
  g_free (self->checkpoint);
  g_free (self->resume);
  g_free (self->init_from);
  g_free (self->metrics_location);
  g_free (self->val_location);
  g_free (self->val_pipeline);
  g_free (self->stats_location);
  g_strfreev (self->class_names);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (gst_alexnet_train_parent_class)->finalize (object);
}

static void
set_rgb_array (gdouble dst[3], const GValue * value, GObject * object,
    const gchar * name)
{
  if (gst_value_array_get_size (value) != 3) {
    g_warning ("%s: '%s' needs 3 values (R, G, B), got %u", G_OBJECT_TYPE_NAME
        (object), name, gst_value_array_get_size (value));
    return;
  }
  for (guint c = 0; c < 3; c++)
    dst[c] = g_value_get_double (gst_value_array_get_value (value, c));
}

static void
get_rgb_array (const gdouble src[3], GValue * value)
{
  GValue v = G_VALUE_INIT;

  g_value_init (&v, G_TYPE_DOUBLE);
  for (guint c = 0; c < 3; c++) {
    g_value_set_double (&v, src[c]);
    gst_value_array_append_value (value, &v);
  }
  g_value_unset (&v);
}

static void
gst_alexnet_train_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstAlexnetTrain *self = GST_ALEXNET_TRAIN (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_BATCH_SIZE:
      self->batch_size = g_value_get_int (value);
      break;
    case PROP_LEARNING_RATE:
      self->learning_rate = g_value_get_double (value);
      break;
    case PROP_MOMENTUM:
      self->momentum = g_value_get_double (value);
      break;
    case PROP_WEIGHT_DECAY:
      self->weight_decay = g_value_get_double (value);
      break;
    case PROP_DROPOUT:
      self->dropout = g_value_get_double (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_int64 (value);
      break;
    case PROP_BACKEND:
      self->backend = g_value_get_enum (value);
      break;
    case PROP_TOWERS:
      self->towers = g_value_get_int (value);
      break;
    case PROP_REPLICAS:
      self->replicas = g_value_get_int (value);
      break;
    case PROP_DETERMINISTIC:
      self->deterministic = g_value_get_boolean (value);
      break;
    case PROP_ARCH:
      g_free (self->arch);
      self->arch = g_value_dup_string (value);
      break;
    case PROP_INIT:
      self->init = g_value_get_enum (value);
      break;
    case PROP_INPUT_SIZE:
      self->input_size = g_value_get_int (value);
      break;
    case PROP_WIDTH_DIVISOR:
      self->width_divisor = g_value_get_int (value);
      break;
    case PROP_NUM_CLASSES:
      self->num_classes = g_value_get_int (value);
      break;
    case PROP_CHECKPOINT:
      g_free (self->checkpoint);
      self->checkpoint = g_value_dup_string (value);
      break;
    case PROP_CHECKPOINT_INTERVAL:
      self->checkpoint_interval = g_value_get_uint64 (value);
      break;
    case PROP_RESUME:
      g_free (self->resume);
      self->resume = g_value_dup_string (value);
      break;
    case PROP_INIT_FROM:
      g_free (self->init_from);
      self->init_from = g_value_dup_string (value);
      break;
    case PROP_MAX_STEPS:
      self->max_steps = g_value_get_uint64 (value);
      break;
    case PROP_MAX_TIME:
      self->max_time = g_value_get_double (value);
      break;
    case PROP_LOG_INTERVAL:
      self->log_interval = g_value_get_uint (value);
      break;
    case PROP_METRICS_LOCATION:
      g_free (self->metrics_location);
      self->metrics_location = g_value_dup_string (value);
      break;
    case PROP_VAL_LOCATION:
      g_free (self->val_location);
      self->val_location = g_value_dup_string (value);
      break;
    case PROP_VAL_PIPELINE:
      g_free (self->val_pipeline);
      self->val_pipeline = g_value_dup_string (value);
      break;
    case PROP_LR_SCHEDULE:
      self->lr_schedule_mode = g_value_get_enum (value);
      break;
    case PROP_LR_DROPS:
      self->lr_drops = g_value_get_int (value);
      break;
    case PROP_LR_PATIENCE:
      self->lr_patience = g_value_get_int (value);
      break;
    case PROP_LR_STEP_EPOCHS:
      self->lr_step_epochs = g_value_get_int (value);
      break;
    case PROP_STATS_LOCATION:
      g_free (self->stats_location);
      self->stats_location = g_value_dup_string (value);
      break;
    case PROP_MEAN:
      set_rgb_array (self->mean, value, object, "mean");
      break;
    case PROP_STD:
      set_rgb_array (self->std, value, object, "std");
      break;
    case PROP_USE_STD:
      self->use_std = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_alexnet_train_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstAlexnetTrain *self = GST_ALEXNET_TRAIN (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_BATCH_SIZE:
      g_value_set_int (value, self->batch_size);
      break;
    case PROP_LEARNING_RATE:
      g_value_set_double (value, self->learning_rate);
      break;
    case PROP_MOMENTUM:
      g_value_set_double (value, self->momentum);
      break;
    case PROP_WEIGHT_DECAY:
      g_value_set_double (value, self->weight_decay);
      break;
    case PROP_DROPOUT:
      g_value_set_double (value, self->dropout);
      break;
    case PROP_SEED:
      g_value_set_int64 (value, self->seed);
      break;
    case PROP_BACKEND:
      g_value_set_enum (value, self->backend);
      break;
    case PROP_TOWERS:
      g_value_set_int (value, self->towers);
      break;
    case PROP_REPLICAS:
      g_value_set_int (value, self->replicas);
      break;
    case PROP_DETERMINISTIC:
      g_value_set_boolean (value, self->deterministic);
      break;
    case PROP_ARCH:
      g_value_set_string (value, self->arch);
      break;
    case PROP_INIT:
      g_value_set_enum (value, self->init);
      break;
    case PROP_INPUT_SIZE:
      g_value_set_int (value, self->input_size);
      break;
    case PROP_WIDTH_DIVISOR:
      g_value_set_int (value, self->width_divisor);
      break;
    case PROP_NUM_CLASSES:
      g_value_set_int (value, self->num_classes);
      break;
    case PROP_CHECKPOINT:
      g_value_set_string (value, self->checkpoint);
      break;
    case PROP_CHECKPOINT_INTERVAL:
      g_value_set_uint64 (value, self->checkpoint_interval);
      break;
    case PROP_RESUME:
      g_value_set_string (value, self->resume);
      break;
    case PROP_INIT_FROM:
      g_value_set_string (value, self->init_from);
      break;
    case PROP_MAX_STEPS:
      g_value_set_uint64 (value, self->max_steps);
      break;
    case PROP_MAX_TIME:
      g_value_set_double (value, self->max_time);
      break;
    case PROP_LOG_INTERVAL:
      g_value_set_uint (value, self->log_interval);
      break;
    case PROP_METRICS_LOCATION:
      g_value_set_string (value, self->metrics_location);
      break;
    case PROP_VAL_LOCATION:
      g_value_set_string (value, self->val_location);
      break;
    case PROP_VAL_PIPELINE:
      g_value_set_string (value, self->val_pipeline);
      break;
    case PROP_LR_SCHEDULE:
      g_value_set_enum (value, self->lr_schedule_mode);
      break;
    case PROP_LR_DROPS:
      g_value_set_int (value, self->lr_drops);
      break;
    case PROP_LR_PATIENCE:
      g_value_set_int (value, self->lr_patience);
      break;
    case PROP_LR_STEP_EPOCHS:
      g_value_set_int (value, self->lr_step_epochs);
      break;
    case PROP_STATS_LOCATION:
      g_value_set_string (value, self->stats_location);
      break;
    case PROP_MEAN:
      get_rgb_array (self->mean, value);
      break;
    case PROP_STD:
      get_rgb_array (self->std, value);
      break;
    case PROP_USE_STD:
      g_value_set_boolean (value, self->use_std);
      break;
    case PROP_STEP:
      g_value_set_uint64 (value, self->net ? ax_net_step (self->net) : 0);
      break;
    case PROP_EPOCH:
      g_value_set_uint64 (value, self->epoch);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}
/* ------------------------------------------------------------------ */
/* setting up the network */

/* The images of a batch live in the first backend's host memory for
 * uploads (pinned on CUDA: the upload is a DMA straight from the batch,
 * queued without waiting; the worker's loss download synchronises before
 * the batch is handed back to be refilled). */
static gboolean
batch_alloc (GstAlexnetTrain * self, TrainBatch * b, gsize image_floats,
    gint batch)
{
  gsize bytes = image_floats * batch * sizeof (gfloat);
  void *p = NULL;

  if (ax_host_alloc (self->backends[0], bytes, &p) != AX_OK)
    return FALSE;
  memset (p, 0, bytes);
  b->images = p;
  b->labels = g_malloc0 ((gsize) batch * sizeof (gint32));
  b->n = 0;
  b->queued = FALSE;
  return TRUE;
}

static void
batch_free (GstAlexnetTrain * self, TrainBatch * b)
{
  if (b->images)
    ax_host_free (self->backends[0], b->images);
  b->images = NULL;
  g_clear_pointer (&b->labels, g_free);
}

/* The spec from the arch, class count, input size and width divisor, the
 * dropout probability set on the dropout layers. */
static gboolean
build_spec (GstAlexnetTrain * self, const gchar * arch, gint classes,
    gint size, gint divisor, gdouble dropout)
{
  ax_status st = ax_net_spec_by_arch (&self->spec, arch, classes, size);

  if (st == AX_OK && divisor > 1)
    st = ax_net_spec_narrow (&self->spec, divisor);
  if (st != AX_OK) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Cannot build the network %s for %d classes at %dx%d with widths "
            "divided by %d: %s", arch, classes, size, size, divisor,
            gst_alexnet_train_status_text (st)), (NULL));
    return FALSE;
  }
  for (gint i = 0; i < self->spec.n_layers; i++)
    if (self->spec.layers[i].kind == AX_LAYER_DROPOUT)
      self->spec.layers[i].p.dropout.p = (float) dropout;
  return TRUE;
}

static gboolean
load_normalization (GstAlexnetTrain * self, const gchar * stats_location)
{
  GstAlexnetStats stats;
  GError *error = NULL;

  if (stats_location == NULL)
    return TRUE;
  if (!gst_alexnet_stats_load (stats_location, &stats, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("Could not read the statistics file: %s", error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  for (gint c = 0; c < 3; c++) {
    self->mean[c] = stats.mean[c];
    self->std[c] = stats.std[c];
  }
  return TRUE;
}

/* Mean and std from a resumed checkpoint, the statistics file or the
 * properties, and the lookup table that applies them. */
static gboolean
setup_normalization (GstAlexnetTrain * self,
    const ax_net_checkpoint_info * resumed, const gchar * stats_location,
    gboolean use_std)
{
  if (resumed) {
    for (gint c = 0; c < 3; c++) {
      self->mean[c] = resumed->mean[c];
      self->std[c] = resumed->std[c];
    }
  } else {
    if (!load_normalization (self, stats_location))
      return FALSE;
    if (!use_std)
      self->std[0] = self->std[1] = self->std[2] = 1.0;
  }
  /* the checkpoint keeps mean and std as floats: round them here too, so
   * that a resumed run normalises exactly as the run it continues */
  for (gint c = 0; c < 3; c++) {
    self->mean[c] = (gfloat) self->mean[c];
    self->std[c] = (gfloat) self->std[c];
    if (!(self->std[c] > 0))
      goto bad_std;
    for (gint v = 0; v < 256; v++)
      self->lut[c][v] = (gfloat) ((v / 255.0 - self->mean[c]) / self->std[c]);
  }
  return TRUE;

  /* ERRORS */
bad_std:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("The normalisation std must be positive, got %g %g %g",
            self->std[0], self->std[1], self->std[2]), (NULL));
    return FALSE;
  }
}

/* The backends (on CUDA where asked and possible: ax_backends_create
 * places the towers or replicas on the GPUs; on the CPU two one-thread
 * instances for the towers, one per replica, or one with every thread)
 * and the training net for self->spec and self->batch. */
static gboolean
create_net (GstAlexnetTrain * self, ax_device device, gint towers,
    gint replicas)
{
  ax_backends_request req;
  ax_net_config cfg;
  ax_device used = AX_DEVICE_CPU;
  char err[512] = "", note[512] = "";
  ax_status st;

  memset (&req, 0, sizeof req);
  req.device = device;
  req.placement = replicas > 1 ? AX_PLACE_DATA :
      (towers == 2 ? AX_PLACE_TOWERS : AX_PLACE_ONE);
  req.n = replicas > 1 ? replicas : towers;
  GST_OBJECT_LOCK (self);
  req.deterministic = self->deterministic;
  GST_OBJECT_UNLOCK (self);
  if (replicas > 1 && self->batch % replicas != 0)
    goto bad_replicas;
  st = ax_backends_create (&req, self->backends, &used, note, sizeof note,
      err, sizeof err);
  if (st != AX_OK)
    goto no_backend;
  if (note[0])
    gst_alexnet_warn_cpu_fallback (GST_ELEMENT (self),
        device == AX_DEVICE_CUDA, note);
  self->device_used = used;

  memset (&cfg, 0, sizeof cfg);
  cfg.batch = self->batch;
  cfg.training = 1;
  cfg.placement = req.placement;
  for (gint t = 0; t < req.n; t++)
    cfg.backends[t] = self->backends[t];
  st = ax_net_create (&self->spec, &cfg, &self->net, err, sizeof err);
  if (st != AX_OK)
    goto no_net;
  return TRUE;

  /* ERRORS */
bad_replicas:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("batch-size %d does not divide into %d replicas", self->batch,
            replicas), (NULL));
    return FALSE;
  }
no_backend:
  {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
        ("Could not create the backends (%s, %d): %s",
            gst_alexnet_device_name (device), req.n,
            gst_alexnet_train_status_text (st)), ("%s", err));
    return FALSE;
  }
no_net:
  {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
        ("Could not create the network (batch %d, %dx%d): %s", self->batch,
            self->size, self->size, gst_alexnet_train_status_text (st)),
        ("%s", err));
    return FALSE;
  }
}

/* Everything the first buffer needs: the spec (from a checkpoint, the
 * classes event or num-classes), backends, the net and its weights, the
 * batches and the worker. */
static gboolean
setup_network (GstAlexnetTrain * self)
{
  gchar *resume, *init_from, *arch, *stats_location, *metrics_location;
  gint classes, size, divisor, towers, replicas;
  gdouble dropout;
  gint64 seed;
  ax_device backend;
  GstAlexnetTrainInit init;
  ax_net_checkpoint_info info;
  const gchar *ckpt_path;
  char err[512];
  ax_status st;
  gboolean ok = FALSE, have_info = FALSE, use_std;

  GST_OBJECT_LOCK (self);
  resume = g_strdup (self->resume);
  init_from = g_strdup (self->init_from);
  arch = g_strdup (self->arch);
  stats_location = g_strdup (self->stats_location);
  metrics_location = g_strdup (self->metrics_location);
  classes = self->num_classes;
  size = self->input_size;
  divisor = self->width_divisor;
  towers = self->towers;
  replicas = self->replicas;
  dropout = self->dropout;
  seed = self->seed;
  backend = self->backend;
  init = self->init;
  use_std = self->use_std;
  self->batch = self->batch_size;
  self->lr = self->learning_rate;
  gst_alexnet_lr_schedule_init (&self->schedule, self->lr_schedule_mode,
      self->lr_drops, self->lr_patience, self->lr_step_epochs);
  GST_OBJECT_UNLOCK (self);

  memset (&info, 0, sizeof info);
  self->size = size;
  if (gst_alexnet_lr_schedule_needs_budget (self->schedule.mode)
      && self->max_steps == 0 && self->max_time <= 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("lr-schedule=%s decays the learning rate over the training budget: "
            "set max-steps or max-time", self->schedule.mode ==
            GST_ALEXNET_LR_SCHEDULE_LINEAR ? "linear" : "cosine"), (NULL));
    goto done;
  }
  ckpt_path = resume ? resume : init_from;
  if (resume && init_from)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
        ("Both resume and init-from are set: resuming %s", resume), (NULL));

  /* 1. what network: a checkpoint says; otherwise the properties */
  if (ckpt_path) {
    if (ax_net_checkpoint_read_info (ckpt_path, &info, err, sizeof err)
        != AX_OK)
      goto bad_checkpoint;
    have_info = TRUE;
    if (info.input_size != size)
      goto wrong_size;
    if (classes > 0 && classes != info.n_classes)
      goto wrong_classes;
    if (self->class_names
        && g_strv_length (self->class_names) != (guint) info.n_classes)
      goto wrong_classes;
    classes = info.n_classes;
    g_free (arch);
    arch = g_strdup (info.arch);
    /* the checkpoint's architecture, narrowing included, wins */
    if (info.width_divisor > 0)
      divisor = info.width_divisor;
    if (info.class_names && !self->class_names) {
      self->class_names = g_new0 (gchar *, classes + 1);
      for (gint i = 0; i < classes; i++)
        self->class_names[i] = g_strdup (info.class_names[i]);
    }
  } else if (classes == 0 && self->class_names) {
    classes = g_strv_length (self->class_names);
  }
  if (classes <= 0)
    goto no_classes;
  if (self->class_names
      && g_strv_length (self->class_names) != (guint) classes) {
    GST_WARNING_OBJECT (self, "%u class names for %d classes: not saved",
        g_strv_length (self->class_names), classes);
    g_clear_pointer (&self->class_names, g_strfreev);
  }
  if (!build_spec (self, arch, classes, size, divisor, dropout))
    goto done;

  /* 2. normalisation: a resumed run keeps the checkpoint's */
  if (!setup_normalization (self, resume && info.has_normalization ?
          &info : NULL, stats_location, use_std))
    goto done;

  /* 3. backends and the net */
  if (!create_net (self, backend, towers, replicas))
    goto done;

  /* 4. weights and state */
  ax_rng_seed (&self->rng, seed >= 0 ? (guint64) seed :
      (guint64) g_get_real_time () ^ ((guint64) g_random_int () << 32));
  /* seeds below 2^63: the checkpoint reader takes integers as int64 */
  self->init_seed = ax_rng_u64 (&self->rng) >> 1;
  self->epoch = 0;
  if (ckpt_path) {
    ax_net_checkpoint_info_clear (&info);
    if (ax_net_checkpoint_load (self->net, ckpt_path, resume != NULL, &info,
            err, sizeof err) != AX_OK)
      goto bad_checkpoint;
    if (resume) {
      self->epoch = info.epoch;
      self->lr = info.learning_rate;
      if (info.has_rng)
        self->rng = info.rng;
      gst_alexnet_train_parse_extra (self, info.extra);
      self->init_json = g_strdup (info.init);
    } else {
      gchar *src = g_strescape (init_from, NULL);
      self->init_json = g_strdup_printf ("{\"scheme\":\"imported\","
          "\"source\":\"%s\"}", src);
      g_free (src);
      ax_net_set_dropout_seed (self->net, ax_rng_u64 (&self->rng) >> 1);
    }
    self->last_checkpoint = g_strdup (ckpt_path);
  } else {
    static const gchar *names[] = { "paper", "xavier", "torchvision" };
    st = ax_net_init (self->net, (ax_init) init, self->init_seed);
    if (st != AX_OK)
      goto bad_init;
    ax_net_set_dropout_seed (self->net, ax_rng_u64 (&self->rng) >> 1);
    self->init_json = g_strdup_printf ("{\"scheme\":\"%s\",\"seed\":\"%"
        G_GUINT64_FORMAT "\"}", names[init], self->init_seed);
  }
  self->start_step = ax_net_step (self->net);
  self->val_top1 = self->val_top5 = -1.0;

  /* 5. buffers, metrics file, worker */
  {
    gsize image = (gsize) 3 * size * size;
    if (!batch_alloc (self, &self->batches[0], image, self->batch)
        || !batch_alloc (self, &self->batches[1], image, self->batch)
        || !batch_alloc (self, &self->val_batch, image, self->batch))
      goto no_batches;
    self->probs = g_malloc0 ((gsize) self->batch * classes * sizeof (gfloat));
  }
  if (metrics_location) {
    self->metrics = fopen (metrics_location, resume ? "a" : "w");
    if (self->metrics == NULL)
      goto no_metrics;
  }
  self->fill = 0;
  self->failed = self->budget_reached = FALSE;
  self->worker = g_thread_new ("alexnet-train", gst_alexnet_train_worker_loop,
      self);
  GST_INFO_OBJECT (self, "%s, %d classes, %dx%d, widths /%d, batch %d, %s, "
      "%.1f MB, from step %" G_GUINT64_FORMAT, arch, classes, size, size,
      divisor, self->batch, replicas > 1 ? "data-parallel replicas" :
      (towers == 2 ? "two towers" : "one device"),
      ax_net_memory_bytes (self->net) / 1e6, self->start_step);
  ok = TRUE;
  goto done;

  /* ERRORS */
no_batches:
  GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
      ("Could not allocate the batch buffers (%d images of %dx%d): %s",
          self->batch, size, size, ax_backend_last_error (self->backends[0])),
      (NULL));
  goto done;
bad_checkpoint:
  GST_ELEMENT_ERROR (self, RESOURCE, READ,
      ("Could not %s %s: %s", resume ? "resume from" : "initialise from",
          ckpt_path, err), (NULL));
  goto done;
wrong_size:
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
      ("%s was trained at input size %d, but input-size is %d", ckpt_path,
          info.input_size, size), (NULL));
  goto done;
wrong_classes:
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
      ("%s has %d classes, but the stream (or num-classes) has %d",
          ckpt_path, info.n_classes, classes > 0 ? classes :
          (gint) g_strv_length (self->class_names)), (NULL));
  goto done;
no_classes:
  GST_ELEMENT_ERROR (self, STREAM, FORMAT,
      ("The number of classes is unknown: set num-classes, or feed the "
          "element from dataset-src, which announces its classes"), (NULL));
  goto done;
bad_init:
  GST_ELEMENT_ERROR (self, LIBRARY, INIT,
      ("Could not initialise the network: %s",
          gst_alexnet_train_status_text (st)),
      ("%s", ax_net_last_error (self->net)));
  goto done;
no_metrics:
  GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
      ("Could not open the metrics file %s: %s", metrics_location,
          g_strerror (errno)), (NULL));
  goto done;

done:
  if (have_info)
    ax_net_checkpoint_info_clear (&info);
  g_free (resume);
  g_free (init_from);
  g_free (arch);
  g_free (stats_location);
  g_free (metrics_location);
  return ok;
}

static void
teardown_network (GstAlexnetTrain * self)
{
  gst_alexnet_train_join_worker (self, TRUE);
  g_queue_clear (&self->jobs);
  if (self->net) {
    ax_net_destroy (self->net);
    self->net = NULL;
  }
  /* the batches first: they are the backend's host memory */
  batch_free (self, &self->batches[0]);
  batch_free (self, &self->batches[1]);
  batch_free (self, &self->val_batch);
  ax_backends_destroy (self->backends, AX_NET_MAX_REPLICAS);
  g_clear_pointer (&self->probs, g_free);
  g_clear_pointer (&self->init_json, g_free);
  g_clear_pointer (&self->last_checkpoint, g_free);
  if (self->metrics) {
    fclose (self->metrics);
    self->metrics = NULL;
  }
}

/* ------------------------------------------------------------------ */
/* the streaming side */

static gboolean
gst_alexnet_train_start (GstBaseSink * sink)
{
  GstAlexnetTrain *self = GST_ALEXNET_TRAIN (sink);

  self->have_info = FALSE;
  self->have_stream_epoch = FALSE;
  self->stream_epoch = 0;
  self->epoch_samples = 0;
  self->buffers_seen = 0;
  self->epoch_batches = 0;
  self->steps_queued = 0;
  self->dropped = 0;
  self->finished = FALSE;
  self->setup_failed = FALSE;
  self->flushing = FALSE;
  self->t_start = 0;
  self->acc_loss = 0;
  self->acc_images = self->acc_top1_wrong = self->acc_top5_wrong = 0;
  self->acc_steps = 0;
  self->epoch = 0;
  return TRUE;
}

static gboolean
gst_alexnet_train_stop (GstBaseSink * sink)
{
  GstAlexnetTrain *self = GST_ALEXNET_TRAIN (sink);

  teardown_network (self);
  g_clear_pointer (&self->class_names, g_strfreev);
  return TRUE;
}

static gint
get_input_size (GstAlexnetTrain * self)
{
  gint size;

  GST_OBJECT_LOCK (self);
  size = self->input_size;
  GST_OBJECT_UNLOCK (self);
  return size;
}

static GstCaps *
gst_alexnet_train_get_caps (GstBaseSink * sink, GstCaps * filter)
{
  GstAlexnetTrain *self = GST_ALEXNET_TRAIN (sink);
  gint size = get_input_size (self);
  GstCaps *caps = gst_caps_new_simple ("video/x-raw",
      "format", G_TYPE_STRING, "RGB",
      "width", G_TYPE_INT, size, "height", G_TYPE_INT, size, NULL);

  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, caps,
        GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = tmp;
  }
  return caps;
}

static gboolean
gst_alexnet_train_set_caps (GstBaseSink * sink, GstCaps * caps)
{
  GstAlexnetTrain *self = GST_ALEXNET_TRAIN (sink);
  gint size = get_input_size (self);

  if (!gst_video_info_from_caps (&self->info, caps))
    return FALSE;
  if (GST_VIDEO_INFO_WIDTH (&self->info) != size
      || GST_VIDEO_INFO_HEIGHT (&self->info) != size)
    goto wrong_size;
  self->have_info = TRUE;
  return TRUE;

  /* ERRORS */
wrong_size:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("alexnet-train needs %dx%d frames (input-size), got %dx%d: put "
            "random-crop-flip size=%d in front of it", size, size,
            GST_VIDEO_INFO_WIDTH (&self->info),
            GST_VIDEO_INFO_HEIGHT (&self->info), size), (NULL));
    return FALSE;
  }
}

/* Waits until batch `i` is free again (the worker trained it); FALSE when
 * the worker failed or the element is flushing. */
static gboolean
wait_batch_free (GstAlexnetTrain * self, gint i)
{
  gboolean ok;

  g_mutex_lock (&self->lock);
  while (self->batches[i].queued && !self->failed && !self->flushing)
    g_cond_wait (&self->cond, &self->lock);
  ok = !self->failed && !self->flushing;
  g_mutex_unlock (&self->lock);
  return ok;
}

/* Stream epoch over: leaves out a partial batch and queues the epoch's
 * validation. */
static void
end_stream_epoch (GstAlexnetTrain * self)
{
  TrainBatch *b = &self->batches[self->fill];

  if (self->net == NULL)
    return;
  if (b->n > 0) {
    GST_DEBUG_OBJECT (self, "leaving out the %u images of a partial batch",
        b->n);
    self->dropped += b->n;
    b->n = 0;
  }
  if (self->epoch_batches > 0)
    gst_alexnet_train_queue_job (self, JOB_EPOCH_END);
  self->epoch_batches = 0;
}

/* Drains the worker and writes the final checkpoint; posts a summary. */
static gboolean
finish (GstAlexnetTrain * self)
{
  gchar *path;
  gboolean ok = TRUE;

  if (self->finished || self->net == NULL)
    return TRUE;
  self->finished = TRUE;
  gst_alexnet_train_join_worker (self, FALSE);
  if (self->failed)
    return FALSE;
  GST_OBJECT_LOCK (self);
  path = g_strdup (self->checkpoint);
  GST_OBJECT_UNLOCK (self);
  if (self->acc_steps > 0)
    gst_alexnet_train_report_progress (self);
  if (path)
    ok = gst_alexnet_train_save_checkpoint (self, path);
  g_free (path);
  if (ok && gst_alexnet_train_is_playing (self))
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_progress (GST_OBJECT (self),
            GST_PROGRESS_TYPE_COMPLETE, "train", "training finished"));
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("alexnet-train-done",
              "step", G_TYPE_UINT64, ax_net_step (self->net),
              "epoch", G_TYPE_UINT64, self->epoch,
              "steps-this-run", G_TYPE_UINT64,
              ax_net_step (self->net) - self->start_step,
              "images-left-out", G_TYPE_UINT64, self->dropped,
              "checkpoint", G_TYPE_STRING, self->last_checkpoint,
              "elapsed", G_TYPE_DOUBLE,
              self->t_start ? gst_alexnet_train_elapsed_s (self) : 0.0, NULL)));
  return ok;
}

static gboolean
gst_alexnet_train_event (GstBaseSink * sink, GstEvent * event)
{
  GstAlexnetTrain *self = GST_ALEXNET_TRAIN (sink);
  gchar **names = NULL;
  guint epoch;
  guint64 n_samples;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CUSTOM_DOWNSTREAM_STICKY:
      if (gst_alexnet_event_parse_classes (event, &names)) {
        if (self->net == NULL) {
          g_strfreev (self->class_names);
          self->class_names = names;
        } else {
          g_strfreev (names);
        }
      } else if (gst_alexnet_event_parse_epoch (event, &epoch, &n_samples)) {
        if (self->have_stream_epoch && epoch != self->stream_epoch)
          end_stream_epoch (self);
        self->stream_epoch = epoch;
        self->have_stream_epoch = TRUE;
        self->epoch_samples = n_samples;
      }
      break;
    case GST_EVENT_EOS:
      if (!self->finished) {
        end_stream_epoch (self);
        if (!finish (self)) {
          gst_event_unref (event);
          return FALSE;
        }
      }
      break;
    default:
      break;
  }
  return GST_BASE_SINK_CLASS (gst_alexnet_train_parent_class)->event (sink,
      event);
}

static GstFlowReturn
gst_alexnet_train_render (GstBaseSink * sink, GstBuffer * buffer)
{
  GstAlexnetTrain *self = GST_ALEXNET_TRAIN (sink);
  GstAlexnetLabelMeta *meta;
  GstVideoFrame frame;
  TrainBatch *b;
  guint64 index = self->buffers_seen++;
  guint64 max_steps;
  gboolean budget;

  if (self->finished)
    return self->failed ? GST_FLOW_ERROR : GST_FLOW_EOS;
  if (G_UNLIKELY (!self->have_info))
    goto not_negotiated;
  if (G_UNLIKELY (self->setup_failed))
    return GST_FLOW_ERROR;
  if (G_UNLIKELY (self->net == NULL)) {
    if (!setup_network (self)) {
      self->setup_failed = TRUE;
      return GST_FLOW_ERROR;
    }
  }

  g_mutex_lock (&self->lock);
  budget = self->budget_reached;
  g_mutex_unlock (&self->lock);
  GST_OBJECT_LOCK (self);
  max_steps = self->max_steps;
  GST_OBJECT_UNLOCK (self);
  if (max_steps > 0 && self->start_step + self->steps_queued >= max_steps)
    budget = TRUE;
  if (budget)
    goto budget_done;

  /* a new epoch in the label meta ends the previous one */
  meta = gst_buffer_get_alexnet_label_meta (buffer);
  if (meta && self->have_stream_epoch && meta->epoch != self->stream_epoch)
    end_stream_epoch (self);
  if (meta) {
    self->stream_epoch = meta->epoch;
    self->have_stream_epoch = TRUE;
  }

  b = &self->batches[self->fill];
  if (!wait_batch_free (self, self->fill))
    goto worker_stopped;
  if (!gst_alexnet_train_check_label (self, buffer, index, "training",
          &b->labels[b->n]))
    return GST_FLOW_ERROR;
  if (!gst_video_frame_map (&frame, &self->info, buffer, GST_MAP_READ))
    goto no_map;
  gst_alexnet_train_frame_to_batch (self, &frame, b->images, b->n);
  gst_video_frame_unmap (&frame);

  if (++b->n == (guint) self->batch) {
    b->n = 0;
    gst_alexnet_train_queue_job (self, JOB_TRAIN_0 + self->fill);
    self->fill = 1 - self->fill;
    self->steps_queued++;
    self->epoch_batches++;
    if (max_steps > 0 && self->start_step + self->steps_queued >= max_steps)
      goto budget_done;
  }
  return GST_FLOW_OK;

  /* ERRORS */
not_negotiated:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("buffer before caps"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
budget_done:
  {
    GST_INFO_OBJECT (self, "budget reached: stopping");
    return finish (self) ? GST_FLOW_EOS : GST_FLOW_ERROR;
  }
worker_stopped:
  {
    if (self->flushing)
      return GST_FLOW_FLUSHING;
    self->finished = TRUE;
    gst_alexnet_train_join_worker (self, TRUE);
    return GST_FLOW_ERROR;
  }
no_map:
  {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map a frame"),
        (NULL));
    return GST_FLOW_ERROR;
  }
}

static gboolean
gst_alexnet_train_unlock (GstBaseSink * sink)
{
  GstAlexnetTrain *self = GST_ALEXNET_TRAIN (sink);

  g_mutex_lock (&self->lock);
  self->flushing = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
gst_alexnet_train_unlock_stop (GstBaseSink * sink)
{
  GstAlexnetTrain *self = GST_ALEXNET_TRAIN (sink);

  g_mutex_lock (&self->lock);
  self->flushing = FALSE;
  g_mutex_unlock (&self->lock);
  return TRUE;
}
