/* gst-alexnet — alexnet-train's worker side: one SGD step per batch,
 * validation through an internal pipeline at each epoch end, the schedule,
 * progress messages, the metrics file and checkpoints.
 * Copyright (C) 2026 gst-alexnet authors
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/app/gstappsink.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "elements/gstalexnettrainpriv.h"
#include "plugin/gstalexnetmeta.h"
#include "kernels/nn/net_checkpoint.h"
#include "kernels/util/json.h"

#define GST_CAT_DEFAULT gst_alexnet_train_debug

const gchar *
gst_alexnet_train_status_text (ax_status st)
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
void
gst_alexnet_train_frame_to_batch (GstAlexnetTrain * self, GstVideoFrame * frame,
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
gboolean
gst_alexnet_train_check_label (GstAlexnetTrain * self, GstBuffer * buf,
    guint64 index, const gchar * stream, gint32 * label)
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

void
gst_alexnet_train_parse_extra (GstAlexnetTrain * self, const gchar * text)
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
gboolean
gst_alexnet_train_save_checkpoint (GstAlexnetTrain * self, const gchar * path)
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
        ("Validation failed: %s", gst_alexnet_train_status_text (st)),
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
    ok = gst_alexnet_train_check_label (self, buf, count, "validation",
        &self->val_batch.labels[n]);
    if (ok)
      gst_alexnet_train_frame_to_batch (self, &frame, self->val_batch.images,
          n);
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

gboolean
gst_alexnet_train_is_playing (GstAlexnetTrain * self)
{
  gboolean playing;

  GST_OBJECT_LOCK (self);
  playing = GST_STATE (self) == GST_STATE_PLAYING;
  GST_OBJECT_UNLOCK (self);
  return playing;
}

gdouble
gst_alexnet_train_elapsed_s (GstAlexnetTrain * self)
{
  return (g_get_monotonic_time () - self->t_start) / 1e6;
}

/* Progress: an element message, a metrics line and, once PLAYING, a
 * GST_MESSAGE_PROGRESS, for the steps since the last report. */
void
gst_alexnet_train_report_progress (GstAlexnetTrain * self)
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
    gdouble t = MAX (max_time - gst_alexnet_train_elapsed_s (self), 0.0);
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
      "learning-rate", G_TYPE_DOUBLE, gst_alexnet_train_current_lr (self),
      "images-per-second", G_TYPE_DOUBLE, ips,
      "time-left", G_TYPE_DOUBLE, left,
      "elapsed", G_TYPE_DOUBLE, gst_alexnet_train_elapsed_s (self), NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));

  if (gst_alexnet_train_is_playing (self)) {
    gchar *text = g_strdup_printf ("epoch %" G_GUINT64_FORMAT " step %"
        G_GUINT64_FORMAT " loss %.4f lr %g %.1f images/s", self->epoch, step,
        loss, gst_alexnet_train_current_lr (self), ips);
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
  json_number (line, "learning_rate", gst_alexnet_train_current_lr (self));
  json_number (line, "images_per_second", ips);
  json_number (line, "time_left", left < 0 ? NAN : left);
  json_number (line, "elapsed", gst_alexnet_train_elapsed_s (self));
  metrics_write (self, line);
  g_string_free (line, TRUE);

  self->acc_loss = 0;
  self->acc_images = self->acc_top1_wrong = self->acc_top5_wrong = 0;
  self->acc_steps = 0;
  self->acc_t0 = g_get_monotonic_time ();
}

/* The learning rate of the next step: the schedule's (after its drops)
 * times the budget decay at the fraction of max-steps or max-time used,
 * whichever is further along. */
gdouble
gst_alexnet_train_current_lr (GstAlexnetTrain * self)
{
  gdouble progress = 0.0;
  guint64 max_steps;
  gdouble max_time;

  if (!gst_alexnet_lr_schedule_needs_budget (self->schedule.mode))
    return self->lr;
  GST_OBJECT_LOCK (self);
  max_steps = self->max_steps;
  max_time = self->max_time;
  GST_OBJECT_UNLOCK (self);
  if (max_steps > 0)
    progress = (gdouble) ax_net_step (self->net) / (gdouble) max_steps;
  if (max_time > 0 && self->t_start)
    progress = MAX (progress, gst_alexnet_train_elapsed_s (self) / max_time);
  return self->lr * gst_alexnet_lr_schedule_budget_factor (&self->schedule,
      progress);
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

  if (self->t_start == 0)
    self->t_start = self->acc_t0 = g_get_monotonic_time ();

  sgd.lr = (float) gst_alexnet_train_current_lr (self);
  GST_OBJECT_LOCK (self);
  sgd.momentum = (float) self->momentum;
  sgd.weight_decay = (float) self->weight_decay;
  path = g_strdup (self->checkpoint);
  GST_OBJECT_UNLOCK (self);

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
    gst_alexnet_train_report_progress (self);
  if (path && self->checkpoint_interval > 0
      && step % self->checkpoint_interval == 0
      && !gst_alexnet_train_save_checkpoint (self, path))
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
            gst_alexnet_train_status_text (st)),
        ("%s", ax_net_last_error (self->net)));
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
      "learning-rate", G_TYPE_DOUBLE, gst_alexnet_train_current_lr (self),
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
  json_number (line, "learning_rate", gst_alexnet_train_current_lr (self));
  g_string_append_printf (line, ",\"learning_rate_dropped\":%s",
      dropped ? "true" : "false");
  json_number (line, "elapsed",
      self->t_start ? gst_alexnet_train_elapsed_s (self) : 0.0);
  metrics_write (self, line);
  g_string_free (line, TRUE);
  return TRUE;
}

gpointer
gst_alexnet_train_worker_loop (gpointer data)
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
    if (max_time > 0 && self->t_start
        && gst_alexnet_train_elapsed_s (self) >= max_time)
      self->budget_reached = TRUE;
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
  }
  return NULL;
}

void
gst_alexnet_train_queue_job (GstAlexnetTrain * self, gint job)
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
void
gst_alexnet_train_join_worker (GstAlexnetTrain * self, gboolean discard)
{
  if (self->worker == NULL)
    return;
  if (discard) {
    g_mutex_lock (&self->lock);
    g_queue_clear (&self->jobs);
    g_mutex_unlock (&self->lock);
  }
  gst_alexnet_train_queue_job (self, JOB_STOP);
  g_thread_join (self->worker);
  self->worker = NULL;
}
