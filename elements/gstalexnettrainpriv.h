/* alexnet-train's private parts, shared by the element
 * (gstalexnettrain.c: properties, caps, events, the batches being filled)
 * and its worker side (gstalexnettrainworker.c: training, validation,
 * progress, checkpoints). */
#ifndef __GST_ALEXNET_TRAIN_PRIV_H__
#define __GST_ALEXNET_TRAIN_PRIV_H__

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>
#include <gst/video/video.h>
#include <stdio.h>

#include "elements/gstalexnettrain.h"
#include "kernels/nn/net.h"
#include "elements/gstalexnetdevice.h"
#include "kernels/util/rng.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_alexnet_train_debug);


typedef enum
{
  GST_ALEXNET_TRAIN_INIT_PAPER = AX_INIT_PAPER,
  GST_ALEXNET_TRAIN_INIT_XAVIER = AX_INIT_XAVIER,
  GST_ALEXNET_TRAIN_INIT_TORCH = AX_INIT_TORCH,
} GstAlexnetTrainInit;

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
  ax_device backend;
  ax_device device_used;         /* what create_net got */
  gint towers;
  gint replicas;                /* > 1: data-parallel over that many devices */
  gboolean deterministic;       /* CUDA: deterministic algorithms only */
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
  gboolean setup_failed;        /* the net could not be built (error posted) */
  gint fill;                    /* batch being filled */
  gfloat lut[3][256];           /* byte -> normalised float, per channel */

  /* the network and its state (the worker's while it runs) */
  ax_net *net;
  ax_backend *backends[AX_NET_MAX_REPLICAS];
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

/* gstalexnettrainworker.c */
const gchar *gst_alexnet_train_status_text (ax_status st);
void gst_alexnet_train_frame_to_batch (GstAlexnetTrain * self,
    GstVideoFrame * frame, gfloat * images, guint index);
gboolean gst_alexnet_train_check_label (GstAlexnetTrain * self,
    GstBuffer * buf, guint64 index, const gchar * stream, gint32 * label);
void gst_alexnet_train_parse_extra (GstAlexnetTrain * self,
    const gchar * text);
gboolean gst_alexnet_train_save_checkpoint (GstAlexnetTrain * self,
    const gchar * path);
gboolean gst_alexnet_train_is_playing (GstAlexnetTrain * self);
gdouble gst_alexnet_train_elapsed_s (GstAlexnetTrain * self);
gdouble gst_alexnet_train_current_lr (GstAlexnetTrain * self);
void gst_alexnet_train_report_progress (GstAlexnetTrain * self);
gpointer gst_alexnet_train_worker_loop (gpointer data);
void gst_alexnet_train_queue_job (GstAlexnetTrain * self, gint job);
void gst_alexnet_train_join_worker (GstAlexnetTrain * self,
    gboolean discard);

G_END_DECLS
#endif
