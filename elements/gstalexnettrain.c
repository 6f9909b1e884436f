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
#include <gst/app/gstappsink.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "elements/gstalexnetelements.h"
#include "elements/gstalexnettrain.h"
#include "plugin/gstalexnetmeta.h"
#include "plugin/gstalexnetstats.h"
#include "kernels/net.h"
#include "kernels/net_checkpoint.h"
#include "kernels/cpu_backend.h"
#include "kernels/json.h"
#include "kernels/rng.h"

GST_DEBUG_CATEGORY_STATIC (gst_alexnet_train_debug);
#define GST_CAT_DEFAULT gst_alexnet_train_debug

typedef enum
{
  GST_ALEXNET_TRAIN_BACKEND_AUTO,
  GST_ALEXNET_TRAIN_BACKEND_CPU,
  GST_ALEXNET_TRAIN_BACKEND_CUDA,
} GstAlexnetTrainBackend;

typedef enum
{
  GST_ALEXNET_TRAIN_INIT_PAPER = AX_INIT_PAPER,
  GST_ALEXNET_TRAIN_INIT_XAVIER = AX_INIT_XAVIER,
  GST_ALEXNET_TRAIN_INIT_TORCH = AX_INIT_TORCH,
} GstAlexnetTrainInit;

#define DEFAULT_PROP_BATCH_SIZE 128
#define DEFAULT_PROP_LEARNING_RATE 0.01
#define DEFAULT_PROP_MOMENTUM 0.9
#define DEFAULT_PROP_WEIGHT_DECAY 0.0005
#define DEFAULT_PROP_DROPOUT 0.5
#define DEFAULT_PROP_SEED 0
#define DEFAULT_PROP_BACKEND GST_ALEXNET_TRAIN_BACKEND_AUTO
#define DEFAULT_PROP_TOWERS 2
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

/* One batch being filled by the streaming thread or trained by the worker. */
typedef struct
{
  gfloat *images;               /* batch x 3 x size x size */
  gint32 *labels;
  guint n;
  gboolean queued;              /* handed to the worker, not yet trained */
} TrainBatch;

/* Jobs for the worker, in order. */
enum
{
  JOB_TRAIN_0 = 0,              /* JOB_TRAIN_0 + i: train batch i */
  JOB_EPOCH_END = 2,            /* validation and the schedule */
  JOB_STOP = 3,
};

typedef struct
{
  GstBaseSink parent;

  /* properties, under the object lock */
  gint batch_size;
  gdouble learning_rate, momentum, weight_decay, dropout;
  gint64 seed;
  GstAlexnetTrainBackend backend;
  gint towers;
  gchar *arch;
  GstAlexnetTrainInit init;
  gint input_size, width_divisor, num_classes;
  gchar *checkpoint, *resume, *init_from, *metrics_location;
  guint64 checkpoint_interval, max_steps;
  gdouble max_time;
  guint log_interval;
  gchar *val_location, *val_pipeline, *stats_location;
  GstAlexnetLrScheduleMode lr_schedule_mode;
  gint lr_drops, lr_patience, lr_step_epochs;
  gdouble mean[3], std[3];
  gboolean use_std;

  /* streaming thread */
  GstVideoInfo info;
  gboolean have_info;
  gchar **class_names;          /* from the classes event or a checkpoint */
  guint stream_epoch;           /* epoch of the stream's current buffers */
  gboolean have_stream_epoch;
  guint64 epoch_samples;        /* from the epoch event, 0 unknown */
  guint64 buffers_seen;
  guint64 epoch_batches;        /* batches queued in the current epoch */
  guint64 steps_queued;         /* batches queued in this run */
  guint64 dropped;              /* images of partial batches left out */
  gboolean finished;
  gboolean setup_failed;        /* the network could not be built: error posted */
  gint fill;                    /* batch being filled */
  gfloat lut[3][256];           /* byte -> normalised float, per channel */

  /* the network and its state (the worker's while it runs) */
  ax_net *net;
  ax_backend *backends[2];
  ax_net_spec spec;
  gint size, batch;
  ax_rng rng;
  guint64 init_seed;
  gchar *init_json;
  gdouble lr;                   /* of the next step */
  guint64 epoch;                /* epochs completed */
  guint64 start_step;           /* step when this run began */
  GstAlexnetLrSchedule schedule;
  gdouble val_top1, val_top5;   /* last validation, -1 none */
  gchar *last_checkpoint;       /* last good checkpoint written or loaded */
  FILE *metrics;
  gfloat *probs;                /* batch x classes */
  TrainBatch val_batch;
  gint64 t_start;               /* monotonic us at the first step */
  /* log interval accumulators */
  gdouble acc_loss;
  guint64 acc_images, acc_top1_wrong, acc_top5_wrong, acc_steps;
  gint64 acc_t0;

  /* the worker and its hand-over, under `lock` */
  GMutex lock;
  GCond cond;
  GThread *worker;
  GQueue jobs;
  TrainBatch batches[2];
  gboolean failed;              /* the worker posted an error */
  gboolean budget_reached;      /* max-time */
  gboolean flushing;
} GstAlexnetTrain;

typedef struct
{
  GstBaseSinkClass parent_class;
} GstAlexnetTrainClass;

#define GST_TYPE_ALEXNET_TRAIN (gst_alexnet_train_get_type ())
#define GST_ALEXNET_TRAIN(obj) ((GstAlexnetTrain *) (obj))

G_DEFINE_TYPE (GstAlexnetTrain, gst_alexnet_train, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (alexnet_train, "alexnet-train", GST_RANK_NONE,
    GST_TYPE_ALEXNET_TRAIN);

#define GST_TYPE_ALEXNET_TRAIN_BACKEND (gst_alexnet_train_backend_get_type ())
static GType
gst_alexnet_train_backend_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ALEXNET_TRAIN_BACKEND_AUTO, "The best available (the CPU for now)",
        "auto"},
    {GST_ALEXNET_TRAIN_BACKEND_CPU, "The CPU (oneDNN)", "cpu"},
    {GST_ALEXNET_TRAIN_BACKEND_CUDA, "CUDA GPUs (cuDNN, cuBLAS)", "cuda"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static
        ("GstAlexnetTrainBackend", values));
  return type;
}

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
          "Where to compute (cuda falls back to the CPU, with a warning, in "
          "a build without CUDA)", GST_TYPE_ALEXNET_TRAIN_BACKEND,
          DEFAULT_PROP_BACKEND, rw));
  g_object_class_install_property (gobject_class, PROP_TOWERS,
      g_param_spec_int ("towers", "Towers",
          "2: the paper's two towers, each on its own device (on the CPU a "
          "one-thread instance each); 1: one device with grouped "
          "convolutions, all threads", 1, 2, DEFAULT_PROP_TOWERS, rw));
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
          "When to divide the learning rate by 10",
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
      g_param_spec_uint64 ("step", "Step", "SGD steps done (after a stop)",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_EPOCH,
      g_param_spec_uint64 ("epoch", "Epoch", "Epochs completed (after a "
          "stop)", 0, G_MAXUINT64, 0,
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

  gst_type_mark_as_plugin_api (GST_TYPE_ALEXNET_TRAIN_BACKEND, 0);
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
/* helpers */

static const gchar *
status_text (ax_status st)
{
  switch (st) {
    case AX_OK:
      return "ok";
    case AX_ERR_INVALID_ARG:
      return "invalid argument";
    case AX_ERR_SHAPE:
      return "shape mismatch";
    case AX_ERR_NONFINITE:
      return "NaN or infinity";
    case AX_ERR_NO_MEMORY:
      return "out of memory";
    case AX_ERR_UNSUPPORTED:
      return "unsupported";
    default:
      return "backend failure";
  }
}

/* A number for a JSON line, the same in every locale; NaN is null. */
static void
json_number (GString * s, const gchar * key, gdouble v)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (s, ",\"%s\":", key);
  if (!isfinite (v))
    g_string_append (s, "null");
  else
    g_string_append (s, g_ascii_formatd (buf, sizeof buf, "%.9g", v));
}

static void
metrics_write (GstAlexnetTrain * self, GString * line)
{
  if (self->metrics == NULL)
    return;
  g_string_append (line, "}\n");
  if (fputs (line->str, self->metrics) < 0 || fflush (self->metrics) != 0)
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
        ("Could not write the metrics file"), ("%s", g_strerror (errno)));
}

/* Counts of wrong top-1 and top-5 answers among n rows of probabilities. */
static void
count_errors (const gfloat * probs, const gint32 * labels, guint n,
    gint classes, guint64 * top1_wrong, guint64 * top5_wrong)
{
  for (guint i = 0; i < n; i++) {
    const gfloat *p = probs + (gsize) i * classes;
    gfloat target = p[labels[i]];
    gint above = 0;

    /* rank of the true class: classes strictly more probable, ties before */
    for (gint c = 0; c < classes; c++)
      if (p[c] > target || (p[c] == target && c < labels[i]))
        above++;
    if (above >= 1)
      (*top1_wrong)++;
    if (above >= 5)
      (*top5_wrong)++;
  }
}

/* One RGB frame into batch slot `index`: x' = (x / 255 - mean) / std, CHW. */
static void
frame_to_batch (GstAlexnetTrain * self, GstVideoFrame * frame,
    gfloat * images, guint index)
{
  const gint size = self->size;
  const gsize plane = (gsize) size * size;
  const guint8 *src = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  const gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  gfloat *r = images + (gsize) index * 3 * plane, *g = r + plane,
      *b = g + plane;

  for (gint y = 0; y < size; y++) {
    const guint8 *row = src + (gsize) y * stride;
    gsize o = (gsize) y * size;
    for (gint x = 0; x < size; x++) {
      r[o + x] = self->lut[0][row[3 * x]];
      g[o + x] = self->lut[1][row[3 * x + 1]];
      b[o + x] = self->lut[2][row[3 * x + 2]];
    }
  }
}

static gchar *
sample_name (GstAlexnetLabelMeta * meta, guint64 buffer_index)
{
  if (meta && meta->sample_id)
    return g_strdup_printf ("'%s' (buffer %" G_GUINT64_FORMAT ")",
        meta->sample_id, buffer_index);
  if (meta)
    return g_strdup_printf ("#%" G_GUINT64_FORMAT " (buffer %"
        G_GUINT64_FORMAT ")", meta->sample_index, buffer_index);
  return g_strdup_printf ("buffer %" G_GUINT64_FORMAT, buffer_index);
}

/* Checks the label of `buf`; posts an error naming the sample if it is
 * missing or out of range. */
static gboolean
check_label (GstAlexnetTrain * self, GstBuffer * buf, guint64 index,
    const gchar * stream, gint32 * label)
{
  GstAlexnetLabelMeta *meta = gst_buffer_get_alexnet_label_meta (buf);
  gint classes = self->spec.n_classes;
  gchar *name;

  if (meta != NULL && meta->class_index >= 0 && meta->class_index < classes) {
    *label = meta->class_index;
    return TRUE;
  }
  name = sample_name (meta, index);
  if (meta == NULL || meta->class_index < 0)
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Sample %s of the %s stream has no label: alexnet-train needs a "
            "label meta with a class index on every frame (dataset-src "
            "adds one)", name, stream), (NULL));
  else
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Sample %s of the %s stream has label %d, out of range: the "
            "network has %d classes (0..%d)", name, stream,
            meta->class_index, classes, classes - 1), (NULL));
  g_free (name);
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* checkpoints */

static gchar *
extra_json (GstAlexnetTrain * self)
{
  GString *s = g_string_new ("{\"lr_schedule\":{\"drops\":");
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (s, "%d,\"bad_epochs\":%d,\"best_error\":%s}}",
      self->schedule.drops, self->schedule.bad_epochs,
      g_ascii_formatd (buf, sizeof buf, "%.17g", self->schedule.best_error));
  return g_string_free (s, FALSE);
}

static void
parse_extra (GstAlexnetTrain * self, const gchar * text)
{
  ax_json *root;
  const ax_json *sched, *v;
  char err[128];

  if (text == NULL)
    return;
  root = ax_json_parse (text, strlen (text), err, sizeof err);
  if (root == NULL) {
    GST_WARNING_OBJECT (self, "checkpoint's extra metadata: %s", err);
    return;
  }
  sched = ax_json_get (root, "lr_schedule");
  if ((v = ax_json_get (sched, "drops")) && v->type == AX_JSON_NUMBER)
    self->schedule.drops = (gint) v->number;
  if ((v = ax_json_get (sched, "bad_epochs")) && v->type == AX_JSON_NUMBER)
    self->schedule.bad_epochs = (gint) v->number;
  if ((v = ax_json_get (sched, "best_error")) && v->type == AX_JSON_NUMBER)
    self->schedule.best_error = v->number;
  ax_json_free (root);
}

/* Saves the whole training state to the checkpoint property's path
 * (atomically: the previous file stays whole until the new one is). */
static gboolean
save_checkpoint (GstAlexnetTrain * self, const gchar * path)
{
  ax_net_checkpoint_info info;
  char err[512];
  gchar *extra;
  ax_status st;

  memset (&info, 0, sizeof info);
  info.input_size = self->size;
  info.class_names = self->class_names;
  info.has_normalization = 1;
  for (gint c = 0; c < 3; c++) {
    info.mean[c] = (float) self->mean[c];
    info.std[c] = (float) self->std[c];
  }
  info.lrn = AX_LRN_PAPER;
  for (gint i = 0; i < self->spec.n_layers; i++)
    if (self->spec.layers[i].kind == AX_LAYER_LRN) {
      info.lrn = self->spec.layers[i].p.lrn;
      break;
    }
  info.init = self->init_json;
  info.has_training_state = 1;
  info.step = ax_net_step (self->net);
  info.epoch = self->epoch;
  info.learning_rate = self->lr;
  info.dropout_seed = ax_net_dropout_seed (self->net);
  info.has_rng = 1;
  info.rng = self->rng;
  extra = extra_json (self);
  info.extra = extra;
  st = ax_net_checkpoint_save (self->net, path, &info, err, sizeof err);
  g_free (extra);
  if (st != AX_OK) {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Could not write the checkpoint %s: %s", path, err), (NULL));
    return FALSE;
  }
  g_free (self->last_checkpoint);
  self->last_checkpoint = g_strdup (path);
  GST_INFO_OBJECT (self, "checkpoint %s at step %" G_GUINT64_FORMAT, path,
      info.step);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* validation: an internal pipeline over the held-out set */

static gchar *
val_description (GstAlexnetTrain * self)
{
  gchar *desc = NULL;
  gint resize = (self->size * 256 + 112) / 224;

  GST_OBJECT_LOCK (self);
  if (self->val_pipeline)
    desc = g_strdup_printf ("%s ! appsink name=ax_val_sink sync=false",
        self->val_pipeline);
  else if (self->val_location) {
    gchar *loc = g_strescape (self->val_location, NULL);
    desc = g_strdup_printf ("dataset-src location=\"%s\" ! decode ! "
        "resize-256 size=%d ! random-crop-flip mode=center size=%d ! "
        "appsink name=ax_val_sink sync=false", loc, resize, self->size);
    g_free (loc);
  }
  GST_OBJECT_UNLOCK (self);
  return desc;
}

/* Evaluates the validation batch's first `n` images. */
static gboolean
val_batch_run (GstAlexnetTrain * self, guint n, guint64 * wrong1,
    guint64 * wrong5)
{
  const gsize image = (gsize) 3 * self->size * self->size;
  gint classes = self->spec.n_classes;
  ax_status st;

  /* the rest of a last partial batch repeats its first image */
  for (guint i = n; i < (guint) self->batch; i++) {
    memcpy (self->val_batch.images + i * image, self->val_batch.images,
        image * sizeof (gfloat));
    self->val_batch.labels[i] = self->val_batch.labels[0];
  }
  st = ax_net_forward (self->net, self->val_batch.images,
      image * self->batch, 0);
  if (st == AX_OK)
    st = ax_net_logits (self->net, self->probs,
        (gsize) self->batch * classes);
  if (st != AX_OK) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED,
        ("Validation failed: %s", status_text (st)),
        ("%s", ax_net_last_error (self->net)));
    return FALSE;
  }
  count_errors (self->probs, self->val_batch.labels, n, classes, wrong1,
      wrong5);
  return TRUE;
}

/* Runs the held-out set through the net; FALSE after posting an error.
 * *images is 0 when there is no validation set. */
static gboolean
validate (GstAlexnetTrain * self, guint64 * images, gdouble * top1,
    gdouble * top5)
{
  gchar *desc = val_description (self);
  GError *error = NULL;
  GstElement *pipeline;
  GstElement *appsink;
  GstCaps *caps;
  GstSample *sample;
  GstBus *bus;
  GstMessage *msg;
  GstVideoInfo info;
  guint64 wrong1 = 0, wrong5 = 0, count = 0;
  guint n = 0;
  gboolean ok = TRUE;

  *images = 0;
  if (desc == NULL)
    return TRUE;
  pipeline = gst_parse_launch (desc, &error);
  if (pipeline != NULL && (error != NULL || !GST_IS_BIN (pipeline)))
    gst_clear_object (&pipeline);
  if (pipeline == NULL)
    goto bad_pipeline;
  appsink = gst_bin_get_by_name (GST_BIN (pipeline), "ax_val_sink");
  caps = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "RGB",
      "width", G_TYPE_INT, self->size, "height", G_TYPE_INT, self->size,
      NULL);
  g_object_set (appsink, "caps", caps, "max-buffers", 8, NULL);
  gst_caps_unref (caps);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE)
    GST_WARNING_OBJECT (self, "validation pipeline did not start");

  while (ok && (sample = gst_app_sink_pull_sample (GST_APP_SINK (appsink)))) {
    GstBuffer *buf = gst_sample_get_buffer (sample);
    GstVideoFrame frame;

    if (!gst_video_info_from_caps (&info, gst_sample_get_caps (sample))
        || !gst_video_frame_map (&frame, &info, buf, GST_MAP_READ)) {
      gst_sample_unref (sample);
      continue;
    }
    ok = check_label (self, buf, count, "validation",
        &self->val_batch.labels[n]);
    if (ok)
      frame_to_batch (self, &frame, self->val_batch.images, n);
    gst_video_frame_unmap (&frame);
    gst_sample_unref (sample);
    count++;
    if (ok && ++n == (guint) self->batch) {
      ok = val_batch_run (self, n, &wrong1, &wrong5);
      n = 0;
    }
  }
  if (ok && n > 0)
    ok = val_batch_run (self, n, &wrong1, &wrong5);

  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  if (msg != NULL && ok) {
    GError *perr = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error (msg, &perr, &dbg);
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("The validation pipeline failed: %s", perr->message),
        ("%s: %s", desc, dbg ? dbg : ""));
    g_clear_error (&perr);
    g_free (dbg);
    ok = FALSE;
  }
  if (msg)
    gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (appsink);
  gst_object_unref (pipeline);
  g_free (desc);

  if (ok && count == 0) {
    GST_ELEMENT_WARNING (self, STREAM, FAILED,
        ("The validation set gave no images"), (NULL));
  }
  *images = count;
  *top1 = count ? (gdouble) wrong1 / count : -1.0;
  *top5 = count ? (gdouble) wrong5 / count : -1.0;
  return ok;

  /* ERRORS */
bad_pipeline:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Could not build the validation pipeline: %s",
            error ? error->message : "unknown error"), ("%s", desc));
    g_clear_error (&error);
    g_free (desc);
    return FALSE;
  }
}

/* ------------------------------------------------------------------ */
/* the worker */

static gboolean
is_playing (GstAlexnetTrain * self)
{
  gboolean playing;

  GST_OBJECT_LOCK (self);
  playing = GST_STATE (self) == GST_STATE_PLAYING;
  GST_OBJECT_UNLOCK (self);
  return playing;
}

static gdouble
elapsed_s (GstAlexnetTrain * self)
{
  return (g_get_monotonic_time () - self->t_start) / 1e6;
}

/* Progress: an element message, a metrics line and, once PLAYING, a
 * GST_MESSAGE_PROGRESS, for the steps since the last report. */
static void
report_progress (GstAlexnetTrain * self)
{
  guint64 step = ax_net_step (self->net);
  gdouble secs = (g_get_monotonic_time () - self->acc_t0) / 1e6;
  gdouble ips = secs > 0 ? self->acc_images / secs : 0.0;
  gdouble loss = self->acc_loss / MAX (self->acc_steps, 1);
  gdouble top1 = (gdouble) self->acc_top1_wrong / MAX (self->acc_images, 1);
  gdouble top5 = (gdouble) self->acc_top5_wrong / MAX (self->acc_images, 1);
  gdouble left = -1.0;
  guint64 max_steps;
  gdouble max_time;
  GstStructure *s;
  GString *line;

  GST_OBJECT_LOCK (self);
  max_steps = self->max_steps;
  max_time = self->max_time;
  GST_OBJECT_UNLOCK (self);
  if (max_steps > step && ips > 0)
    left = (max_steps - step) * (gdouble) self->batch / ips;
  if (max_time > 0) {
    gdouble t = MAX (max_time - elapsed_s (self), 0.0);
    left = left < 0 ? t : MIN (left, t);
  }

  s = gst_structure_new ("alexnet-train",
      "epoch", G_TYPE_UINT64, self->epoch,
      "step", G_TYPE_UINT64, step,
      "loss", G_TYPE_DOUBLE, loss,
      "train-top1-error", G_TYPE_DOUBLE, top1,
      "train-top5-error", G_TYPE_DOUBLE, top5,
      "val-top1-error", G_TYPE_DOUBLE, self->val_top1,
      "val-top5-error", G_TYPE_DOUBLE, self->val_top5,
      "learning-rate", G_TYPE_DOUBLE, self->lr,
      "images-per-second", G_TYPE_DOUBLE, ips,
      "time-left", G_TYPE_DOUBLE, left,
      "elapsed", G_TYPE_DOUBLE, elapsed_s (self), NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));

  if (is_playing (self)) {
    gchar *text = g_strdup_printf ("epoch %" G_GUINT64_FORMAT " step %"
        G_GUINT64_FORMAT " loss %.4f lr %g %.1f images/s", self->epoch, step,
        loss, self->lr, ips);
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_progress (GST_OBJECT (self),
            GST_PROGRESS_TYPE_CONTINUE, "train", text));
    g_free (text);
  }

  line = g_string_new ("{\"type\":\"train\"");
  g_string_append_printf (line, ",\"epoch\":%" G_GUINT64_FORMAT
      ",\"step\":%" G_GUINT64_FORMAT, self->epoch, step);
  json_number (line, "loss", loss);
  json_number (line, "train_top1_error", top1);
  json_number (line, "train_top5_error", top5);
  json_number (line, "val_top1_error", self->val_top1 < 0 ? NAN :
      self->val_top1);
  json_number (line, "val_top5_error", self->val_top5 < 0 ? NAN :
      self->val_top5);
  json_number (line, "learning_rate", self->lr);
  json_number (line, "images_per_second", ips);
  json_number (line, "time_left", left < 0 ? NAN : left);
  json_number (line, "elapsed", elapsed_s (self));
  metrics_write (self, line);
  g_string_free (line, TRUE);

  self->acc_loss = 0;
  self->acc_images = self->acc_top1_wrong = self->acc_top5_wrong = 0;
  self->acc_steps = 0;
  self->acc_t0 = g_get_monotonic_time ();
}

/* One SGD step on batch `b`; FALSE after posting an error. */
static gboolean
train_step (GstAlexnetTrain * self, TrainBatch * b)
{
  const gsize count = (gsize) 3 * self->size * self->size * self->batch;
  gint classes = self->spec.n_classes;
  ax_sgd_step sgd;
  gfloat loss = NAN;
  ax_status st;
  guint64 step = ax_net_step (self->net);
  gchar *path;

  GST_OBJECT_LOCK (self);
  sgd.lr = (float) self->lr;
  sgd.momentum = (float) self->momentum;
  sgd.weight_decay = (float) self->weight_decay;
  path = g_strdup (self->checkpoint);
  GST_OBJECT_UNLOCK (self);

  if (self->t_start == 0)
    self->t_start = self->acc_t0 = g_get_monotonic_time ();

  st = ax_net_forward (self->net, b->images, count, 1);
  if (st == AX_OK)
    st = ax_net_loss (self->net, b->labels, self->batch, &loss);
  if (st == AX_OK && !isfinite (loss))
    st = AX_ERR_NONFINITE;
  if (st == AX_OK)
    st = ax_net_probs (self->net, self->probs, (gsize) self->batch * classes);
  if (st == AX_OK)
    st = ax_net_backward (self->net);
  if (st == AX_OK)
    st = ax_net_update (self->net, &sgd);
  if (st == AX_ERR_NONFINITE)
    goto diverged;
  if (st != AX_OK)
    goto failed;

  self->acc_loss += loss;
  self->acc_steps++;
  self->acc_images += self->batch;
  count_errors (self->probs, b->labels, self->batch, classes,
      &self->acc_top1_wrong, &self->acc_top5_wrong);
  step = ax_net_step (self->net);
  if (step % self->log_interval == 0)
    report_progress (self);
  if (path && self->checkpoint_interval > 0
      && step % self->checkpoint_interval == 0
      && !save_checkpoint (self, path))
    goto save_failed;
  g_free (path);
  return TRUE;

  /* ERRORS */
diverged:
  {
    gchar *what = isnan (loss) ? g_strdup ("NaN") : isinf (loss) ?
        g_strdup ("infinite") : g_strdup ("not finite (NaN or infinity in "
        "the logits or gradients)");
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("training diverged: loss is %s at step %" G_GUINT64_FORMAT
            " (learning rate %g); the last good checkpoint is %s", what,
            step + 1, self->lr, self->last_checkpoint ? self->last_checkpoint :
            "none (none was written)"),
        ("%s", ax_net_last_error (self->net)));
    g_free (what);
    g_free (path);
    return FALSE;
  }
failed:
  {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED,
        ("Training step %" G_GUINT64_FORMAT " failed: %s", step,
            status_text (st)), ("%s", ax_net_last_error (self->net)));
    g_free (path);
    return FALSE;
  }
save_failed:
  {
    g_free (path);
    return FALSE;
  }
}

/* After an epoch: validation, the schedule, a message and a metrics line. */
static gboolean
epoch_end (GstAlexnetTrain * self)
{
  guint64 images = 0;
  gdouble top1 = -1, top5 = -1, factor;
  gboolean dropped;
  GstStructure *s;
  GString *line;

  if (!validate (self, &images, &top1, &top5))
    return FALSE;
  self->epoch++;
  if (images > 0) {
    self->val_top1 = top1;
    self->val_top5 = top5;
  }
  factor = gst_alexnet_lr_schedule_epoch_end (&self->schedule, self->epoch,
      images > 0 ? top1 : -1.0);
  dropped = factor != 1.0;
  self->lr *= factor;
  GST_INFO_OBJECT (self, "epoch %" G_GUINT64_FORMAT " done: val top-1 %.4f "
      "top-5 %.4f over %" G_GUINT64_FORMAT " images, lr %g%s", self->epoch,
      top1, top5, images, self->lr, dropped ? " (divided by 10)" : "");

  s = gst_structure_new ("alexnet-train-validation",
      "epoch", G_TYPE_UINT64, self->epoch,
      "step", G_TYPE_UINT64, ax_net_step (self->net),
      "images", G_TYPE_UINT64, images,
      "val-top1-error", G_TYPE_DOUBLE, top1,
      "val-top5-error", G_TYPE_DOUBLE, top5,
      "learning-rate", G_TYPE_DOUBLE, self->lr,
      "learning-rate-dropped", G_TYPE_BOOLEAN, dropped,
      "learning-rate-drops", G_TYPE_INT, self->schedule.drops, NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));

  line = g_string_new ("{\"type\":\"epoch\"");
  g_string_append_printf (line, ",\"epoch\":%" G_GUINT64_FORMAT
      ",\"step\":%" G_GUINT64_FORMAT ",\"val_images\":%" G_GUINT64_FORMAT,
      self->epoch, ax_net_step (self->net), images);
  json_number (line, "val_top1_error", images ? top1 : NAN);
  json_number (line, "val_top5_error", images ? top5 : NAN);
  json_number (line, "learning_rate", self->lr);
  g_string_append_printf (line, ",\"learning_rate_dropped\":%s",
      dropped ? "true" : "false");
  json_number (line, "elapsed", self->t_start ? elapsed_s (self) : 0.0);
  metrics_write (self, line);
  g_string_free (line, TRUE);
  return TRUE;
}

static gpointer
worker_loop (gpointer data)
{
  GstAlexnetTrain *self = data;
  gboolean ok = TRUE;

  for (;;) {
    gint job;
    gdouble max_time;

    g_mutex_lock (&self->lock);
    while (g_queue_is_empty (&self->jobs))
      g_cond_wait (&self->cond, &self->lock);
    job = GPOINTER_TO_INT (g_queue_pop_head (&self->jobs));
    g_mutex_unlock (&self->lock);

    if (job == JOB_STOP)
      break;
    if (ok && job == JOB_EPOCH_END)
      ok = epoch_end (self);
    else if (ok)
      ok = train_step (self, &self->batches[job - JOB_TRAIN_0]);

    GST_OBJECT_LOCK (self);
    max_time = self->max_time;
    GST_OBJECT_UNLOCK (self);

    g_mutex_lock (&self->lock);
    if (job != JOB_EPOCH_END)
      self->batches[job - JOB_TRAIN_0].queued = FALSE;
    if (!ok)
      self->failed = TRUE;
    if (max_time > 0 && self->t_start && elapsed_s (self) >= max_time)
      self->budget_reached = TRUE;
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
  }
  return NULL;
}

static void
queue_job (GstAlexnetTrain * self, gint job)
{
  g_mutex_lock (&self->lock);
  if (job < JOB_EPOCH_END)
    self->batches[job - JOB_TRAIN_0].queued = TRUE;
  g_queue_push_tail (&self->jobs, GINT_TO_POINTER (job));
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* Stops the worker after the jobs queued so far, or at once (`discard`:
 * the queued jobs are dropped). */
static void
join_worker (GstAlexnetTrain * self, gboolean discard)
{
  if (self->worker == NULL)
    return;
  if (discard) {
    g_mutex_lock (&self->lock);
    g_queue_clear (&self->jobs);
    g_mutex_unlock (&self->lock);
  }
  queue_job (self, JOB_STOP);
  g_thread_join (self->worker);
  self->worker = NULL;
}

/* ------------------------------------------------------------------ */
/* setting up the network */

static void
batch_alloc (TrainBatch * b, gsize image_floats, gint batch)
{
  b->images = g_malloc0 (image_floats * batch * sizeof (gfloat));
  b->labels = g_malloc0 ((gsize) batch * sizeof (gint32));
  b->n = 0;
  b->queued = FALSE;
}

static void
batch_free (TrainBatch * b)
{
  g_clear_pointer (&b->images, g_free);
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
            status_text (st)), (NULL));
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

/* Everything the first buffer needs: the spec (from a checkpoint, the
 * classes event or num-classes), backends, the net and its weights, the
 * batches and the worker. */
static gboolean
setup_network (GstAlexnetTrain * self)
{
  gchar *resume, *init_from, *arch, *stats_location, *metrics_location;
  gint classes, size, divisor, towers;
  gdouble dropout;
  gint64 seed;
  GstAlexnetTrainBackend backend;
  GstAlexnetTrainInit init;
  ax_net_checkpoint_info info;
  ax_net_config cfg;
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
  if (resume && info.has_normalization) {
    for (gint c = 0; c < 3; c++) {
      self->mean[c] = info.mean[c];
      self->std[c] = info.std[c];
    }
  } else {
    if (!load_normalization (self, stats_location))
      goto done;
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

  /* 3. backends and the net */
  if (backend == GST_ALEXNET_TRAIN_BACKEND_CUDA)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
        ("backend=cuda: this build has no CUDA backend, training on the CPU"),
        (NULL));
  memset (&cfg, 0, sizeof cfg);
  cfg.batch = self->batch;
  cfg.training = 1;
  cfg.placement = towers == 2 ? AX_PLACE_TOWERS : AX_PLACE_ONE;
  for (gint t = 0; t < towers; t++) {
    st = ax_cpu_backend_create (towers == 2 ? 1 : 0, &self->backends[t]);
    if (st != AX_OK)
      goto no_backend;
    cfg.backends[t] = self->backends[t];
  }
  st = ax_net_create (&self->spec, &cfg, &self->net, err, sizeof err);
  if (st != AX_OK)
    goto no_net;

  /* 4. weights and state */
  ax_rng_seed (&self->rng, seed >= 0 ? (guint64) seed :
      (guint64) g_get_real_time () ^ ((guint64) g_random_int () << 32));
  self->init_seed = ax_rng_u64 (&self->rng);
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
      parse_extra (self, info.extra);
      self->init_json = g_strdup (info.init);
    } else {
      gchar *src = g_strescape (init_from, NULL);
      self->init_json = g_strdup_printf ("{\"scheme\":\"imported\","
          "\"source\":\"%s\"}", src);
      g_free (src);
      ax_net_set_dropout_seed (self->net, ax_rng_u64 (&self->rng));
    }
    self->last_checkpoint = g_strdup (ckpt_path);
  } else {
    static const gchar *names[] = { "paper", "xavier", "torchvision" };
    st = ax_net_init (self->net, (ax_init) init, self->init_seed);
    if (st != AX_OK)
      goto no_net;
    ax_net_set_dropout_seed (self->net, ax_rng_u64 (&self->rng));
    self->init_json = g_strdup_printf ("{\"scheme\":\"%s\",\"seed\":\"%"
        G_GUINT64_FORMAT "\"}", names[init], self->init_seed);
  }
  self->start_step = ax_net_step (self->net);
  self->val_top1 = self->val_top5 = -1.0;

  /* 5. buffers, metrics file, worker */
  {
    gsize image = (gsize) 3 * size * size;
    batch_alloc (&self->batches[0], image, self->batch);
    batch_alloc (&self->batches[1], image, self->batch);
    batch_alloc (&self->val_batch, image, self->batch);
    self->probs = g_malloc0 ((gsize) self->batch * classes * sizeof (gfloat));
  }
  if (metrics_location) {
    self->metrics = fopen (metrics_location, resume ? "a" : "w");
    if (self->metrics == NULL)
      goto no_metrics;
  }
  self->fill = 0;
  self->failed = self->budget_reached = FALSE;
  self->worker = g_thread_new ("alexnet-train", worker_loop, self);
  GST_INFO_OBJECT (self, "%s, %d classes, %dx%d, widths /%d, batch %d, %s, "
      "%.1f MB, from step %" G_GUINT64_FORMAT, arch, classes, size, size,
      divisor, self->batch, towers == 2 ? "two towers" : "one device",
      ax_net_memory_bytes (self->net) / 1e6, self->start_step);
  ok = TRUE;
  goto done;

  /* ERRORS */
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
bad_std:
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
      ("The normalisation std must be positive, got %g %g %g", self->std[0],
          self->std[1], self->std[2]), (NULL));
  goto done;
no_backend:
  GST_ELEMENT_ERROR (self, LIBRARY, INIT,
      ("Could not create the CPU backend: %s", status_text (st)), (NULL));
  goto done;
no_net:
  GST_ELEMENT_ERROR (self, LIBRARY, INIT,
      ("Could not create the network (batch %d, %dx%d): %s", self->batch,
          size, size, status_text (st)), ("%s", err));
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
  join_worker (self, TRUE);
  g_queue_clear (&self->jobs);
  if (self->net) {
    ax_net_destroy (self->net);
    self->net = NULL;
  }
  for (gint t = 0; t < 2; t++)
    if (self->backends[t]) {
      ax_backend_destroy (self->backends[t]);
      self->backends[t] = NULL;
    }
  batch_free (&self->batches[0]);
  batch_free (&self->batches[1]);
  batch_free (&self->val_batch);
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
    queue_job (self, JOB_EPOCH_END);
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
  join_worker (self, FALSE);
  if (self->failed)
    return FALSE;
  GST_OBJECT_LOCK (self);
  path = g_strdup (self->checkpoint);
  GST_OBJECT_UNLOCK (self);
  if (self->acc_steps > 0)
    report_progress (self);
  if (path)
    ok = save_checkpoint (self, path);
  g_free (path);
  if (ok && is_playing (self))
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
              self->t_start ? elapsed_s (self) : 0.0, NULL)));
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
  if (!check_label (self, buffer, index, "training", &b->labels[b->n]))
    return GST_FLOW_ERROR;
  if (!gst_video_frame_map (&frame, &self->info, buffer, GST_MAP_READ))
    goto no_map;
  frame_to_batch (self, &frame, b->images, b->n);
  gst_video_frame_unmap (&frame);

  if (++b->n == (guint) self->batch) {
    b->n = 0;
    queue_job (self, JOB_TRAIN_0 + self->fill);
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
    join_worker (self, TRUE);
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
