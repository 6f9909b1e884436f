/* alexnet-train's private parts, shared by the element
 * (gstalexnettrain.c: properties, caps, events, the batches being filled)
 * and its worker side (gstalexnettrainworker.c: the trainer and its
 * thread, validation, progress, checkpoints). */
#ifndef __GST_ALEXNET_TRAIN_PRIV_H__
#define __GST_ALEXNET_TRAIN_PRIV_H__

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>
#include <gst/video/video.h>
#include <stdio.h>

#include "elements/gstalexnettrain.h"
#include "elements/gstalexnetdevice.h"
#include "kernels/nn/trainer.h"

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

  /* properties, under the object lock: the trainer's settings (their
   * strings owned here; no class names) and the element's own */
  ax_trainer_settings settings;
  gint64 seed;                  /* -1: one from the clock */
  gboolean batch_size_set, towers_set;  /* by the user: kept for a VGG */
  gchar *checkpoint, *val_location, *val_pipeline, *stats_location;
  guint64 checkpoint_interval;
  guint log_interval;

  /* streaming thread */
  GstVideoInfo info;
  gboolean have_info;
  gchar **class_names;          /* from the classes event */
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
  gfloat lut[3][256];           /* byte -> normalised float (the trainer's) */

  /* the trainer (the worker's while it runs) */
  ax_trainer *trainer;
  gint size, batch;
  guint64 epoch;                /* epochs completed, kept after a stop */
  TrainBatch val_batch;

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
gboolean gst_alexnet_train_check_paths (GstAlexnetTrain * self);
gboolean gst_alexnet_train_setup (GstAlexnetTrain * self);
void gst_alexnet_train_teardown (GstAlexnetTrain * self);
gboolean gst_alexnet_train_finish (GstAlexnetTrain * self);
void gst_alexnet_train_frame_to_batch (GstAlexnetTrain * self,
    GstVideoFrame * frame, gfloat * images, guint index);
gboolean gst_alexnet_train_check_label (GstAlexnetTrain * self,
    GstBuffer * buf, guint64 index, const gchar * stream, gint32 * label);
void gst_alexnet_train_queue_job (GstAlexnetTrain * self, gint job);
void gst_alexnet_train_join_worker (GstAlexnetTrain * self,
    gboolean discard);

G_END_DECLS
#endif
