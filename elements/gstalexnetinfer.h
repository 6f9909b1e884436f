/* alexnet-infer's parts, shared by its two files: gstalexnetinfer.c (the
 * element: properties, start and stop, events, queries, the chain) and
 * gstalexnetinferbatch.c (the model, what happens to a frame: live
 * sources, QoS, preparation, batches on the worker thread, results).
 * Private to the element. */
#ifndef __GST_ALEXNET_INFER_H__
#define __GST_ALEXNET_INFER_H__

#include <stdio.h>

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/base/gstbasetransform.h>

#include "kernels/image/image_resize.h"
#include "kernels/nn/net.h"
#include "kernels/nn/net_checkpoint.h"
#include "kernels/nn/net_infer.h"
#include "kernels/nn/net_eval.h"
#include "gstalexnetdevice.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_alexnet_infer_debug);

typedef enum
{
  GST_ALEXNET_INFER_VIEWS_CENTER,
  GST_ALEXNET_INFER_VIEWS_TEN_CROP,
  GST_ALEXNET_INFER_VIEWS_DENSE,        /* the VGG paper's evaluations */
  GST_ALEXNET_INFER_VIEWS_MULTI_CROP,
  GST_ALEXNET_INFER_VIEWS_COMBINED,
} GstAlexnetInferViews;


#define N_TEN_CROP_VIEWS 10
#define MAX_TOP_K 1000

typedef struct
{
  GstBaseTransform parent;

  /* properties, under the object lock */
  gchar *model_location;
  gchar *labels_location;
  guint top_k;
  GstAlexnetInferViews views;
  guint batch_size;
  ax_device backend;
  gint conv_algo;                /* an ax_conv_algo */
  gboolean towers;
  gint threads;
  gint resize_size;
  gchar *scales_text;           /* "256,384,512", or NULL: resize-size */
  gchar *results_location;
  gboolean output_all;
  gboolean post_messages;
  guint64 processed, dropped;
  GstClockTime earliest_time;   /* from QoS events: frames before it are late */
  gdouble proportion;

  /* set in start(), used by the streaming thread */
  ax_net_checkpoint_info info;
  gboolean have_info;
  gchar *run_model, *run_results;       /* model-location, results-location
                                         * and threads as they were at start */
  gint run_threads;
  ax_infer_net model;            /* the net and its backends */
  ax_net *net;                  /* model.net */
  gint net_frames;              /* frames per network batch */
  gint n_views;                 /* 1 or 10; AX_EVAL_CROPS with multi-crop */
  GstAlexnetInferViews run_views;       /* views as they were at start */
  gint scales[AX_EVAL_MAX_SCALES], n_scales;    /* test scales */
  ax_eval *eval;                /* dense, multi-crop, combined: the frame's
                                 * evaluation, one frame at a time */
  gchar eval_err[512];          /* why the last frame could not be evaluated */
  gint input_size, resize;      /* network input side, resize side */
  gint n_classes;
  gchar **labels;               /* n_classes names (override or checkpoint) */
  float lut[3][256];
  /* two batches: one is filled while the network runs the other */
  float *input[2];              /* net_frames * n_views * 3 * input^2 */
  float *logits[2];             /* net_frames * n_views * n_classes */
  gint cur;                     /* the batch being filled */
  float *probs;                 /* n_classes */
  guint8 *resized, *crop;       /* resize x resize and input x input RGB */
  ax_resize_plan plan;
  gboolean have_plan;
  FILE *results;
  gint k;
  gboolean live_checked;
  gboolean live;                /* upstream is a live source */
  GstClockTime latency;         /* added to upstream's in latency queries */
  GstClockTime window_max;      /* slowest frame of the current window */
  gint window_frames;

  /* held frames and the events between them, in order: first n_ready
   * items that may go on (their frames classified), then the frames of
   * the batch in flight (inflight_frames, run by the worker on batch
   * `inflight`), then the frames_in_batch of the batch being filled */
  GQueue pending;
  guint n_ready;
  gint inflight_frames, inflight;
  gint frames_in_batch;

  /* the worker thread that runs batches while frames keep arriving (file
   * sources with batch-size > 1) */
  GThread *worker;
  GMutex lock;
  GCond cond;
  gboolean job, job_done, quit;
  ax_status job_status;

  /* the frames arriving now */
  GstVideoInfo in_info;         /* their caps */
  gboolean have_in_info;
  GstSegment segment;           /* their segment */
} GstAlexnetInfer;

typedef struct
{
  GstBaseTransformClass parent_class;
} GstAlexnetInferClass;

#define GST_TYPE_ALEXNET_INFER (gst_alexnet_infer_get_type ())
#define GST_ALEXNET_INFER(obj) ((GstAlexnetInfer *) (obj))
/* --- gstalexnetinferbatch.c --- */

/* The model: (re)builds the network for `frames` frames per batch from
 * the file (err names it and the problem); one pass on zeros, timed; the
 * class names of a labels file. */
gboolean gst_alexnet_infer_build_net (GstAlexnetInfer * self,
    const gchar * path, gint frames, gboolean towers, gint threads,
    gchar * err, gsize err_size);
GstClockTime gst_alexnet_infer_warm_up (GstAlexnetInfer * self);
gchar **gst_alexnet_infer_read_labels (const gchar * path, gint n_classes,
    gchar * err, gsize err_size);

/* Live sources and QoS. */
void gst_alexnet_infer_update_latency (GstAlexnetInfer * self,
    GstClockTime took);
void gst_alexnet_infer_check_live (GstAlexnetInfer * self);
gboolean gst_alexnet_infer_is_late (GstAlexnetInfer * self, GstBuffer * buf);

/* Batches: a frame's views into slot `slot` of the batch being filled;
 * the full batch to the worker; the batch in flight finished and its
 * results attached; the batch being filled run here and now; everything
 * held dropped. */
gboolean gst_alexnet_infer_prepare (GstAlexnetInfer * self, GstBuffer * buf,
    gint slot);
void gst_alexnet_infer_send_to_worker (GstAlexnetInfer * self);
GstFlowReturn gst_alexnet_infer_finish_inflight (GstAlexnetInfer * self);
GstFlowReturn gst_alexnet_infer_run_batch (GstAlexnetInfer * self);
void gst_alexnet_infer_clear_pending (GstAlexnetInfer * self);
gpointer gst_alexnet_infer_worker (gpointer data);

G_END_DECLS
#endif
