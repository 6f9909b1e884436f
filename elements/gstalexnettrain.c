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
 * docs/training.md. The network is #GstAlexnetTrain:arch: the paper's
 * AlexNet, torchvision's, or one of Simonyan and Zisserman's VGG
 * configurations with their recipe (docs/vgg.md).
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -e dataset-src location=train/ shuffle=true epochs=90 ! \
 *     decode ! resize-256 ! random-crop-flip ! pca-jitter ! \
 *     alexnet-train checkpoint=alexnet.safetensors val-location=val/ \
 *     metrics-location=metrics.jsonl
 * gst-launch-1.0 -e dataset-src location=train/ shuffle=true epochs=74 ! \
 *     decode ! resize-256 mode=isotropic scale-min=256 scale-max=512 ! \
 *     random-crop-flip size=224 ! alexnet-train arch=vgg-d \
 *     init-from=vgg-a.safetensors checkpoint=vgg-d.safetensors val-location=val/
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>
#include <gst/video/video.h>

#include "elements/gstalexnetelements.h"
#include "elements/gstalexnettrainpriv.h"
#include "kernels/cpu/cpu_backend.h"
#include "plugin/gstalexnetmeta.h"
#include "plugin/gstalexnetstats.h"

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
#define DEFAULT_PROP_CONV_ALGORITHM AX_CONV_ALGO_AUTO
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
  PROP_CONV_ALGORITHM,
  PROP_ARCH,
  PROP_INIT,
  PROP_INPUT_SIZE,
  PROP_WIDTH_DIVISOR,
  PROP_NUM_CLASSES,
  PROP_CHECKPOINT,
  PROP_CHECKPOINT_INTERVAL,
  PROP_RESUME,
  PROP_INIT_FROM,
  PROP_INIT_FROM_LAYERS,
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
static gboolean gst_alexnet_train_set_caps (GstBaseSink * sink, GstCaps * caps);
static gboolean gst_alexnet_train_event (GstBaseSink * sink, GstEvent * event);
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
          "run", GST_TYPE_ALEXNET_BACKEND, DEFAULT_PROP_BACKEND, rw));
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
  g_object_class_install_property (gobject_class, PROP_CONV_ALGORITHM,
      g_param_spec_enum ("conv-algorithm", "Convolution algorithm",
          GST_ALEXNET_CONV_ALGORITHM_BLURB, GST_TYPE_ALEXNET_CONV_ALGORITHM,
          DEFAULT_PROP_CONV_ALGORITHM, rw));
  g_object_class_install_property (gobject_class, PROP_ARCH,
      g_param_spec_string ("arch", "Architecture",
          "alexnet-paper, alexnet-torchvision, or a VGG: vgg-a, vgg-a-lrn, "
          "vgg-b, vgg-c, vgg-d, vgg-e, vgg-a-bn, vgg-b-bn, vgg-d-bn, "
          "vgg-e-bn (or torchvision's vgg11 ... vgg19_bn); a VGG trains with "
          "the VGG paper's batch of 256 on one device unless batch-size or "
          "towers are set (a resumed run takes the checkpoint's)",
          DEFAULT_PROP_ARCH, rw));
  g_object_class_install_property (gobject_class, PROP_INIT,
      g_param_spec_enum ("init", "Initialisation",
          "How the weights start (ignored with resume or init-from)",
          GST_TYPE_ALEXNET_TRAIN_INIT, DEFAULT_PROP_INIT, rw));
  g_object_class_install_property (gobject_class, PROP_INPUT_SIZE,
      g_param_spec_int ("input-size", "Input size",
          "Side of the square input frames (224 in the papers; VGG needs at "
          "least 32, AlexNet 63)", 32, 4096,
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
          "momentum, step and epoch start at zero. From another VGG "
          "configuration (the paper's A into B-E), only the layers whose "
          "names (conv1_1, fc6...) and shapes match are copied, the others "
          "initialised by init; the element says which", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_INIT_FROM_LAYERS,
      g_param_spec_string ("init-from-layers", "Layers to initialise from",
          "Copy only these layers of init-from, comma-separated (the VGG "
          "paper's: conv1_1,conv2_1,conv3_1,conv3_2,fc6,fc7,fc8), the others "
          "initialised by init (NULL: see init-from)", NULL, rw));
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
      g_param_spec_uint64 ("epoch", "Epoch", "Epochs completed so far", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

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
  ax_trainer_settings *s = &self->settings;
  GstAlexnetStats imagenet;

  ax_trainer_settings_init (s);
  s->batch = DEFAULT_PROP_BATCH_SIZE;
  s->learning_rate = DEFAULT_PROP_LEARNING_RATE;
  s->momentum = DEFAULT_PROP_MOMENTUM;
  s->weight_decay = DEFAULT_PROP_WEIGHT_DECAY;
  s->dropout = DEFAULT_PROP_DROPOUT;
  s->device = DEFAULT_PROP_BACKEND;
  s->towers = DEFAULT_PROP_TOWERS;
  s->replicas = DEFAULT_PROP_REPLICAS;
  s->deterministic = DEFAULT_PROP_DETERMINISTIC;
  s->conv_algo = DEFAULT_PROP_CONV_ALGORITHM;
  s->arch = g_strdup (DEFAULT_PROP_ARCH);
  s->init = (ax_init) DEFAULT_PROP_INIT;
  s->input_size = DEFAULT_PROP_INPUT_SIZE;
  s->width_divisor = DEFAULT_PROP_WIDTH_DIVISOR;
  s->n_classes = DEFAULT_PROP_NUM_CLASSES;
  s->max_steps = DEFAULT_PROP_MAX_STEPS;
  s->max_time = DEFAULT_PROP_MAX_TIME;
  s->lr_mode = (ax_trainer_lr_mode) DEFAULT_PROP_LR_SCHEDULE;
  s->lr_drops = DEFAULT_PROP_LR_DROPS;
  s->lr_patience = DEFAULT_PROP_LR_PATIENCE;
  s->lr_step_epochs = DEFAULT_PROP_LR_STEP_EPOCHS;
  gst_alexnet_stats_init_imagenet (&imagenet);
  for (gint c = 0; c < 3; c++) {
    s->mean[c] = imagenet.mean[c];
    s->std[c] = imagenet.std[c];
  }
  s->use_std = TRUE;
  self->seed = DEFAULT_PROP_SEED;
  self->checkpoint_interval = DEFAULT_PROP_CHECKPOINT_INTERVAL;
  self->log_interval = DEFAULT_PROP_LOG_INTERVAL;
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

  g_free ((gchar *) self->settings.arch);
  g_free ((gchar *) self->settings.resume);
  g_free ((gchar *) self->settings.init_from);
  g_free ((gchar *) self->settings.init_from_layers);
  g_free ((gchar *) self->settings.metrics_location);
  g_free (self->checkpoint);
  g_free (self->val_location);
  g_free (self->val_pipeline);
  g_free (self->stats_location);
  g_strfreev (self->class_names);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (gst_alexnet_train_parent_class)->finalize (object);
}

/* Where each read-write property is kept (mean and std apart): the
 * trainer's settings or the element's own fields. The enums are stored
 * as the trainer's enums, value for value. */
#define SETTING(f) G_STRUCT_OFFSET (GstAlexnetTrain, settings.f)
#define OWN(f) G_STRUCT_OFFSET (GstAlexnetTrain, f)
static const gsize prop_offset[PROP_STEP] = {
  [PROP_BATCH_SIZE] = SETTING (batch),
  [PROP_LEARNING_RATE] = SETTING (learning_rate),
  [PROP_MOMENTUM] = SETTING (momentum),
  [PROP_WEIGHT_DECAY] = SETTING (weight_decay),
  [PROP_DROPOUT] = SETTING (dropout),
  [PROP_SEED] = OWN (seed),
  [PROP_BACKEND] = SETTING (device),
  [PROP_TOWERS] = SETTING (towers),
  [PROP_REPLICAS] = SETTING (replicas),
  [PROP_DETERMINISTIC] = SETTING (deterministic),
  [PROP_CONV_ALGORITHM] = SETTING (conv_algo),
  [PROP_ARCH] = SETTING (arch),
  [PROP_INIT] = SETTING (init),
  [PROP_INPUT_SIZE] = SETTING (input_size),
  [PROP_WIDTH_DIVISOR] = SETTING (width_divisor),
  [PROP_NUM_CLASSES] = SETTING (n_classes),
  [PROP_CHECKPOINT] = OWN (checkpoint),
  [PROP_CHECKPOINT_INTERVAL] = OWN (checkpoint_interval),
  [PROP_RESUME] = SETTING (resume),
  [PROP_INIT_FROM] = SETTING (init_from),
  [PROP_INIT_FROM_LAYERS] = SETTING (init_from_layers),
  [PROP_MAX_STEPS] = SETTING (max_steps),
  [PROP_MAX_TIME] = SETTING (max_time),
  [PROP_LOG_INTERVAL] = OWN (log_interval),
  [PROP_METRICS_LOCATION] = SETTING (metrics_location),
  [PROP_VAL_LOCATION] = OWN (val_location),
  [PROP_VAL_PIPELINE] = OWN (val_pipeline),
  [PROP_LR_SCHEDULE] = SETTING (lr_mode),
  [PROP_LR_DROPS] = SETTING (lr_drops),
  [PROP_LR_PATIENCE] = SETTING (lr_patience),
  [PROP_LR_STEP_EPOCHS] = SETTING (lr_step_epochs),
  [PROP_STATS_LOCATION] = OWN (stats_location),
  [PROP_USE_STD] = SETTING (use_std),
};

G_STATIC_ASSERT (sizeof (ax_device) == sizeof (gint)
    && sizeof (ax_init) == sizeof (gint)
    && sizeof (ax_trainer_lr_mode) == sizeof (gint));

/* A property's value into its field, by the value's type. */
static void
field_set (gpointer field, const GValue * value)
{
  switch (G_TYPE_FUNDAMENTAL (G_VALUE_TYPE (value))) {
    case G_TYPE_INT:
      *(gint *) field = g_value_get_int (value);
      break;
    case G_TYPE_UINT:
      *(guint *) field = g_value_get_uint (value);
      break;
    case G_TYPE_INT64:
      *(gint64 *) field = g_value_get_int64 (value);
      break;
    case G_TYPE_UINT64:
      *(guint64 *) field = g_value_get_uint64 (value);
      break;
    case G_TYPE_DOUBLE:
      *(gdouble *) field = g_value_get_double (value);
      break;
    case G_TYPE_BOOLEAN:
      *(gboolean *) field = g_value_get_boolean (value);
      break;
    case G_TYPE_ENUM:
      *(gint *) field = g_value_get_enum (value);
      break;
    case G_TYPE_STRING:
      g_free (*(gchar **) field);
      *(gchar **) field = g_value_dup_string (value);
      break;
    default:
      g_return_if_reached ();
  }
}

static void
field_get (gconstpointer field, GValue * value)
{
  switch (G_TYPE_FUNDAMENTAL (G_VALUE_TYPE (value))) {
    case G_TYPE_INT:
      g_value_set_int (value, *(const gint *) field);
      break;
    case G_TYPE_UINT:
      g_value_set_uint (value, *(const guint *) field);
      break;
    case G_TYPE_INT64:
      g_value_set_int64 (value, *(const gint64 *) field);
      break;
    case G_TYPE_UINT64:
      g_value_set_uint64 (value, *(const guint64 *) field);
      break;
    case G_TYPE_DOUBLE:
      g_value_set_double (value, *(const gdouble *) field);
      break;
    case G_TYPE_BOOLEAN:
      g_value_set_boolean (value, *(const gboolean *) field);
      break;
    case G_TYPE_ENUM:
      g_value_set_enum (value, *(const gint *) field);
      break;
    case G_TYPE_STRING:
      g_value_set_string (value, *(const gchar * const *) field);
      break;
    default:
      g_return_if_reached ();
  }
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
  if (prop_id == PROP_MEAN)
    set_rgb_array (self->settings.mean, value, object, "mean");
  else if (prop_id == PROP_STD)
    set_rgb_array (self->settings.std, value, object, "std");
  else if (prop_id > PROP_0 && prop_id < PROP_STEP && prop_offset[prop_id])
    field_set (G_STRUCT_MEMBER_P (self, prop_offset[prop_id]), value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  /* set by the user: an architecture's defaults do not replace it */
  if (prop_id == PROP_BATCH_SIZE)
    self->batch_size_set = TRUE;
  else if (prop_id == PROP_TOWERS)
    self->towers_set = TRUE;
  GST_OBJECT_UNLOCK (self);
}

static void
gst_alexnet_train_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstAlexnetTrain *self = GST_ALEXNET_TRAIN (object);

  GST_OBJECT_LOCK (self);
  if (prop_id == PROP_MEAN)
    get_rgb_array (self->settings.mean, value);
  else if (prop_id == PROP_STD)
    get_rgb_array (self->settings.std, value);
  else if (prop_id == PROP_STEP)
    g_value_set_uint64 (value, self->trainer ?
        ax_net_step (ax_trainer_net (self->trainer)) : 0);
  else if (prop_id == PROP_EPOCH)
    g_value_set_uint64 (value, self->epoch);
  else if (prop_id > PROP_0 && prop_id < PROP_STEP && prop_offset[prop_id])
    field_get (G_STRUCT_MEMBER_P (self, prop_offset[prop_id]), value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (self);
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
  self->epoch = 0;
  /* an unwritable folder would be found only at the first checkpoint */
  return gst_alexnet_train_check_paths (self);
}

static gboolean
gst_alexnet_train_stop (GstBaseSink * sink)
{
  GstAlexnetTrain *self = GST_ALEXNET_TRAIN (sink);

  gst_alexnet_train_teardown (self);
  g_clear_pointer (&self->class_names, g_strfreev);
  return TRUE;
}

static gint
get_input_size (GstAlexnetTrain * self)
{
  gint size;

  GST_OBJECT_LOCK (self);
  size = self->settings.input_size;
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

  if (self->trainer == NULL)
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
        if (self->trainer == NULL) {
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
        if (!gst_alexnet_train_finish (self)) {
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
  if (G_UNLIKELY (self->trainer == NULL)) {
    if (!gst_alexnet_train_setup (self)) {
      self->setup_failed = TRUE;
      return GST_FLOW_ERROR;
    }
  }

  g_mutex_lock (&self->lock);
  budget = self->budget_reached;
  g_mutex_unlock (&self->lock);
  GST_OBJECT_LOCK (self);
  max_steps = self->settings.max_steps;
  GST_OBJECT_UNLOCK (self);
  if (max_steps > 0 && ax_trainer_start_step (self->trainer) +
      self->steps_queued >= max_steps)
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
    if (max_steps > 0 && ax_trainer_start_step (self->trainer) +
        self->steps_queued >= max_steps)
      goto budget_done;
  }
  return GST_FLOW_OK;

  /* ERRORS */
not_negotiated:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL), ("buffer before caps"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
budget_done:
  {
    GST_INFO_OBJECT (self, "budget reached: stopping");
    return gst_alexnet_train_finish (self) ? GST_FLOW_EOS : GST_FLOW_ERROR;
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
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map a frame"), (NULL));
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
