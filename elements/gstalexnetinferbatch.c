/* gst-alexnet — alexnet-infer: the model, and what happens to a frame.
 * Copyright (C) 2026 gst-alexnet authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Live sources and QoS, the preparation of a frame's views (the same
 * resize and crop code as resize-256 and random-crop-flip), the batches
 * (the worker thread runs one while the next is prepared) and the results
 * (class meta, bus message, JSON line). The element itself is in
 * gstalexnetinfer.c; the two share gstalexnetinfer.h. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <string.h>

#include "elements/gstalexnetinfer.h"
#include "plugin/gstalexnetclassmeta.h"
#include "kernels/image/classify.h"
#include "kernels/image/image_crop.h"

#define GST_CAT_DEFAULT gst_alexnet_infer_debug

/* (Re)builds the network for `frames` frames per batch from the model
 * file; on failure err names the file and the problem. */
gboolean
gst_alexnet_infer_build_net (GstAlexnetInfer * self, const gchar * path,
    gint frames, gboolean towers, gint threads, gchar * err, gsize err_size)
{
  char note[512];

  ax_infer_net_close (&self->model);
  self->net = NULL;
  if (ax_infer_net_open (&self->model, path, &self->info,
          frames * self->n_views, towers, threads, self->backend,
          self->conv_algo, note,
          sizeof note, err, err_size) != AX_OK)
    return FALSE;
  if (note[0])
    gst_alexnet_warn_cpu_fallback (GST_ELEMENT (self),
        self->backend == AX_DEVICE_CUDA, note);
  self->net = self->model.net;
  self->net_frames = frames;
  GST_INFO_OBJECT (self, "%s: %s /%d, %dx%d input, %d classes, %d frames x "
      "%d views per batch, %s", path, self->info.arch,
      self->model.width_divisor, self->info.input_size,
      self->info.input_size, self->info.n_classes, frames, self->n_views,
      towers ? "towers" : "one device");
  return TRUE;
}

/* One forward pass on zeros (oneDNN's first pass touches its buffers and
 * is about twice as slow); returns its duration in nanoseconds. */
GstClockTime
gst_alexnet_infer_warm_up (GstAlexnetInfer * self)
{
  gsize n = (gsize) self->net_frames * self->n_views * 3 * self->input_size *
      self->input_size;
  float *zeros = g_new0 (float, n);
  gint64 t0 = g_get_monotonic_time ();

  if (ax_net_forward (self->net, zeros, n, 0) != AX_OK)
    GST_WARNING_OBJECT (self, "warm-up pass failed: %s",
        ax_net_last_error (self->net));
  g_free (zeros);
  return (GstClockTime) (g_get_monotonic_time () - t0) * GST_USECOND;
}

/* Class names from a text file, one per line; the count must match. */
gchar **
gst_alexnet_infer_read_labels (const gchar * path, gint n_classes,
    gchar * err, gsize err_size)
{
  gchar *text = NULL, **lines;
  GError *error = NULL;
  guint n;

  if (!g_file_get_contents (path, &text, NULL, &error)) {
    g_snprintf (err, err_size, "%s", error->message);
    g_error_free (error);
    return NULL;
  }
  lines = g_strsplit (text, "\n", -1);
  g_free (text);
  n = g_strv_length (lines);
  /* a last line ending in '\n' leaves an empty string behind */
  if (n > 0 && lines[n - 1][0] == '\0') {
    g_free (lines[n - 1]);
    lines[--n] = NULL;
  }
  for (guint i = 0; i < n; i++)
    g_strchomp (lines[i]);      /* "\r" of files written on Windows */
  if ((gint) n != n_classes) {
    g_snprintf (err, err_size, "%s: %u class names for a network of %d "
        "classes", path, n, n_classes);
    g_strfreev (lines);
    return NULL;
  }
  return lines;
}

/* A live pipeline must know how long a frame takes here, or the sink
 * finds every frame late: report more as soon as a frame took longer than
 * said (with a quarter to spare), less when the slowest of the last 32
 * frames took under half of it (a passing hiccup does not stay in the
 * latency), and have the pipeline ask again. */
#define LATENCY_WINDOW 32

void
gst_alexnet_infer_update_latency (GstAlexnetInfer * self, GstClockTime took)
{
  GstClockTime before, after;

  GST_OBJECT_LOCK (self);
  before = after = self->latency;
  self->window_max = MAX (self->window_max, took);
  if (took > before)
    after = took + took / 4;
  else if (++self->window_frames == LATENCY_WINDOW) {
    if (self->window_max + self->window_max / 4 < before / 2)
      after = self->window_max + self->window_max / 4;
    self->window_frames = 0;
    self->window_max = 0;
  }
  self->latency = after;
  GST_OBJECT_UNLOCK (self);
  if (after == before)
    return;
  GST_INFO_OBJECT (self, "a frame took %" GST_TIME_FORMAT ": latency %"
      GST_TIME_FORMAT, GST_TIME_ARGS (took), GST_TIME_ARGS (after));
  gst_element_post_message (GST_ELEMENT_CAST (self),
      gst_message_new_latency (GST_OBJECT_CAST (self)));
}

/* Upstream's latency query says whether the source is live; a live source
 * runs one frame at a time whatever batch-size says. */
void
gst_alexnet_infer_check_live (GstAlexnetInfer * self)
{
  GstQuery *q = gst_query_new_latency ();
  gboolean live = FALSE;
  gchar err[1024];

  self->live_checked = TRUE;
  if (gst_pad_peer_query (GST_BASE_TRANSFORM_SINK_PAD (self), q))
    gst_query_parse_latency (q, &live, NULL, NULL);
  gst_query_unref (q);
  if (!live)
    return;
  self->live = TRUE;
  if (self->net_frames != 1) {
    GST_INFO_OBJECT (self, "live source: batches of one frame");
    if (!gst_alexnet_infer_build_net (self, self->run_model, 1,
            self->model.backends[1] != NULL, self->run_threads, err,
            sizeof err)) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
          ("Could not load the model: %s", err), (NULL));
      return;
    }
    gst_alexnet_infer_warm_up (self);
  }
  /* what one frame takes is the latency this element adds */
  gst_alexnet_infer_update_latency (self, gst_alexnet_infer_warm_up (self));
}

/* TRUE when QoS says the frame would be late: it is dropped unclassified. */
gboolean
gst_alexnet_infer_is_late (GstAlexnetInfer * self, GstBuffer * buf)
{
  GstClockTime pts = GST_BUFFER_PTS (buf), rt, earliest;

  if (!gst_base_transform_is_qos_enabled (GST_BASE_TRANSFORM (self))
      || self->segment.format != GST_FORMAT_TIME || !GST_CLOCK_TIME_IS_VALID
      (pts))
    return FALSE;
  rt = gst_segment_to_running_time (&self->segment, GST_FORMAT_TIME, pts);
  GST_OBJECT_LOCK (self);
  earliest = self->earliest_time;
  GST_OBJECT_UNLOCK (self);
  if (!GST_CLOCK_TIME_IS_VALID (rt) || !GST_CLOCK_TIME_IS_VALID (earliest)
      || rt > earliest)
    return FALSE;

  {
    GstClockTime stream_time = gst_segment_to_stream_time (&self->segment,
        GST_FORMAT_TIME, pts);
    GstMessage *msg;
    guint64 processed, dropped;

    GST_OBJECT_LOCK (self);
    dropped = ++self->dropped;
    processed = self->processed;
    GST_OBJECT_UNLOCK (self);
    GST_DEBUG_OBJECT (self, "late frame at %" GST_TIME_FORMAT " (earliest %"
        GST_TIME_FORMAT "): dropped", GST_TIME_ARGS (rt),
        GST_TIME_ARGS (earliest));
    msg = gst_message_new_qos (GST_OBJECT_CAST (self), self->live, rt,
        stream_time, pts, GST_BUFFER_DURATION (buf));
    gst_message_set_qos_values (msg, (gint64) (earliest - rt),
        self->proportion, 1000000);
    gst_message_set_qos_stats (msg, GST_FORMAT_BUFFERS, processed, dropped);
    gst_element_post_message (GST_ELEMENT_CAST (self), msg);
  }
  return TRUE;
}

/* The views of one frame, normalised, into batch slot `slot`. */
gboolean
gst_alexnet_infer_prepare (GstAlexnetInfer * self, GstBuffer * buf, gint slot)
{
  GstVideoFrame frame;
  const guint8 *square;
  gint square_stride, w, h, in = self->input_size, r = self->resize;
  gsize view_floats = (gsize) 3 * in * in;
  ax_crop_pos pos[N_TEN_CROP_VIEWS];

  self->eval_err[0] = '\0';
  if (!gst_video_frame_map (&frame, &self->in_info, buf, GST_MAP_READ))
    return FALSE;
  w = GST_VIDEO_FRAME_WIDTH (&frame);
  h = GST_VIDEO_FRAME_HEIGHT (&frame);
  square = GST_VIDEO_FRAME_PLANE_DATA (&frame, 0);
  square_stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);

  if (self->eval != NULL) {
    /* the VGG evaluations: the whole frame, every scale, here (one frame
     * per batch); the probabilities wait in self->probs for the report */
    ax_status st = ax_eval_image (self->eval, square, w, h, square_stride,
        self->probs);
    gst_video_frame_unmap (&frame);
    if (st != AX_OK)
      g_strlcpy (self->eval_err, ax_eval_last_error (self->eval),
          sizeof self->eval_err);
    return st == AX_OK;
  }

  if (w == in && h == in) {
    r = in;                     /* a ready crop: the views are cut from it */
  } else if (w != r || h != r) {
    /* resize-256: shorter side to r, centre r x r */
    if (!self->have_plan || self->plan.src_w != w || self->plan.src_h != h) {
      self->have_plan = FALSE;
      if (ax_resize_plan_update (&self->plan, w, h, r) != 0) {
        gst_video_frame_unmap (&frame);
        return FALSE;
      }
      self->have_plan = TRUE;
    }
    ax_resize_rgb (self->resized, r * 3, square, square_stride, &self->plan);
    square = self->resized;
    square_stride = r * 3;
  }

  if (self->n_views == 1)
    pos[0] = ax_center_crop_pos (r, r, in);
  else
    ax_ten_crop_pos (pos, r, r, in);
  for (gint v = 0; v < self->n_views; v++) {
    float *dst = self->input[self->cur] + ((gsize) slot * self->n_views + v)
        * view_floats;
    ax_crop_flip_rgb (self->crop, in * 3, square, square_stride, pos[v].x,
        pos[v].y, in, in, pos[v].mirror);
    ax_rgb_to_chw (dst, self->crop, in * 3, in, in, self->lut);
  }
  gst_video_frame_unmap (&frame);
  return TRUE;
}

/* Waits for the batch in flight, if any; its status. */
static ax_status
gst_alexnet_infer_wait_worker (GstAlexnetInfer * self)
{
  ax_status st;

  if (self->inflight_frames == 0)
    return AX_OK;
  g_mutex_lock (&self->lock);
  while (!self->job_done)
    g_cond_wait (&self->cond, &self->lock);
  self->job_done = FALSE;
  st = self->job_status;
  g_mutex_unlock (&self->lock);
  return st;
}

/* Drops everything held (after the batch in flight, if any, finished). */
void
gst_alexnet_infer_clear_pending (GstAlexnetInfer * self)
{
  GstMiniObject *item;

  gst_alexnet_infer_wait_worker (self);
  while ((item = g_queue_pop_head (&self->pending)) != NULL)
    gst_mini_object_unref (item);
  self->frames_in_batch = self->inflight_frames = 0;
  self->n_ready = 0;
}

/* Forward pass of batch `b` into its logits. Whole batches always: slots
 * past the frames gathered hold an earlier batch's frames, harmlessly. */
static ax_status
gst_alexnet_infer_forward (GstAlexnetInfer * self, gint b)
{
  gsize in = (gsize) self->net_frames * self->n_views * 3 * self->input_size
      * self->input_size;
  gsize out = (gsize) self->net_frames * self->n_views * self->n_classes;
  ax_status st;

  if (self->eval != NULL)
    return AX_OK;               /* evaluated as it was prepared */
  st = ax_net_forward (self->net, self->input[b], in, 0);

  return st == AX_OK ? ax_net_logits (self->net, self->logits[b], out) : st;
}

gpointer
gst_alexnet_infer_worker (gpointer data)
{
  GstAlexnetInfer *self = data;

  g_mutex_lock (&self->lock);
  while (TRUE) {
    ax_status st;
    while (!self->job && !self->quit)
      g_cond_wait (&self->cond, &self->lock);
    if (self->quit)
      break;
    self->job = FALSE;
    g_mutex_unlock (&self->lock);
    st = gst_alexnet_infer_forward (self, self->inflight);
    g_mutex_lock (&self->lock);
    self->job_status = st;
    self->job_done = TRUE;
    g_cond_broadcast (&self->cond);
  }
  g_mutex_unlock (&self->lock);
  return NULL;
}

/* Hands the full batch being filled to the worker; frames go on filling
 * the other. */
void
gst_alexnet_infer_send_to_worker (GstAlexnetInfer * self)
{
  g_mutex_lock (&self->lock);
  self->inflight = self->cur;
  self->inflight_frames = self->frames_in_batch;
  self->job = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  self->frames_in_batch = 0;
  self->cur ^= 1;
}

/* The result of frame `slot` onto its buffer, the bus and the file. */
static gboolean
gst_alexnet_infer_report (GstAlexnetInfer * self, GstBuffer ** bufp,
    const float *logits, gint slot)
{
  gint idx[MAX_TOP_K];
  gfloat val[MAX_TOP_K];
  const gchar *names[MAX_TOP_K];
  GstAlexnetClassMeta *meta;
  gboolean output_all, post;
  gint k;

  GST_OBJECT_LOCK (self);
  output_all = self->output_all;
  post = self->post_messages;
  GST_OBJECT_UNLOCK (self);

  if (self->eval == NULL)
    ax_softmax_average (self->probs, logits + (gsize) slot * self->n_views *
        self->n_classes, self->n_views, self->n_classes);
  k = ax_top_k (idx, val, self->probs, self->n_classes, self->k);
  for (gint i = 0; i < k; i++)
    names[i] = self->labels ? self->labels[idx[i]] : NULL;

  *bufp = gst_buffer_make_writable (*bufp);
  meta = gst_buffer_add_alexnet_class_meta (*bufp, k, idx, val, names,
      output_all ? self->n_classes : 0, output_all ? self->probs : NULL);
  gst_alexnet_class_meta_set_model (meta, self->info.arch,
      self->eval == NULL ? self->n_views : self->n_scales
      * (self->run_views == GST_ALEXNET_INFER_VIEWS_DENSE ? 2 :
          self->run_views == GST_ALEXNET_INFER_VIEWS_MULTI_CROP ?
          AX_EVAL_CROPS : AX_EVAL_CROPS + 2));
  gst_alexnet_class_meta_set_evaluation (meta, self->run_views ==
      GST_ALEXNET_INFER_VIEWS_CENTER ? "center" : self->run_views ==
      GST_ALEXNET_INFER_VIEWS_TEN_CROP ? "ten-crop" :
      ax_eval_views_name ((ax_eval_views) (self->run_views -
              GST_ALEXNET_INFER_VIEWS_DENSE + 1)), self->scales,
      self->n_scales);

  if (post)
    gst_element_post_message (GST_ELEMENT_CAST (self),
        gst_alexnet_classification_message_new (GST_OBJECT_CAST (self),
            *bufp));
  if (self->results != NULL) {
    gchar *line = gst_alexnet_classification_json_line (*bufp);
    gboolean ok = fputs (line, self->results) >= 0;
    g_free (line);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

/* The results of batch `b` onto its `n` frames, the first not yet
 * classified in the queue; they and the events before the next frame may
 * then go on. */
static GstFlowReturn
gst_alexnet_infer_attach (GstAlexnetInfer * self, ax_status st, gint b,
    gint n)
{
  GList *l = g_queue_peek_nth_link (&self->pending, self->n_ready);
  guint pos = self->n_ready;
  gint slot = 0;

  if (st != AX_OK)
    goto net_failed;
  for (; l != NULL; l = l->next, pos++) {
    GstBuffer *buf;
    if (!GST_IS_BUFFER (l->data))
      continue;
    if (slot == n)
      break;
    buf = GST_BUFFER_CAST (l->data);
    if (!gst_alexnet_infer_report (self, &buf, self->logits[b], slot++)) {
      l->data = buf;
      goto write_failed;
    }
    l->data = buf;
  }
  self->n_ready = pos;
  if (self->results != NULL && fflush (self->results) != 0)
    goto write_failed;
  GST_OBJECT_LOCK (self);
  self->processed += n;
  GST_OBJECT_UNLOCK (self);
  GST_LOG_OBJECT (self, "classified %d frames", n);
  return GST_FLOW_OK;

  /* ERRORS */
net_failed:
  {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("The network failed: %s", ax_net_last_error (self->net)),
        ("status %s", ax_status_str (st)));
    gst_alexnet_infer_clear_pending (self);
    return GST_FLOW_ERROR;
  }
write_failed:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Could not write the results file %s: %s", self->run_results,
            g_strerror (errno)), (NULL));
    gst_alexnet_infer_clear_pending (self);
    return GST_FLOW_ERROR;
  }
}

/* Waits for the batch the worker runs and attaches its results. */
GstFlowReturn
gst_alexnet_infer_finish_inflight (GstAlexnetInfer * self)
{
  gint n = self->inflight_frames;
  ax_status st;

  if (n == 0)
    return GST_FLOW_OK;
  st = gst_alexnet_infer_wait_worker (self);
  self->inflight_frames = 0;
  return gst_alexnet_infer_attach (self, st, self->inflight, n);
}

/* Runs the batch being filled here and now (live sources, the last
 * partial batch), after the one in flight. */
GstFlowReturn
gst_alexnet_infer_run_batch (GstAlexnetInfer * self)
{
  GstFlowReturn ret = gst_alexnet_infer_finish_inflight (self);
  gint n = self->frames_in_batch;

  if (ret != GST_FLOW_OK)
    return ret;
  self->frames_in_batch = 0;
  return gst_alexnet_infer_attach (self, gst_alexnet_infer_forward (self,
          self->cur), self->cur, n);
}
