/* gst-alexnet — alexnet-train's worker side: the trainer
 * (kernels/nn/trainer.h) built from the properties, its SGD step per batch
 * on the worker thread, validation through an internal pipeline at each
 * epoch end, progress messages, checkpoints when due.
 * Copyright (C) 2026 gst-alexnet authors
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/app/gstappsink.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "elements/gstalexnettrainpriv.h"
#include "plugin/gstalexnetmeta.h"
#include "plugin/gstalexnetstats.h"
#include "kernels/image/classify.h"
#include "kernels/image/image_resize.h"

#define GST_CAT_DEFAULT gst_alexnet_train_debug

static gpointer worker_loop (gpointer data);

/* One RGB frame into batch slot `index` with the trainer's table. */
void
gst_alexnet_train_frame_to_batch (GstAlexnetTrain * self, GstVideoFrame * frame,
    gfloat * images, guint index)
{
  ax_rgb_to_chw (images + (gsize) index * 3 * self->size * self->size,
      GST_VIDEO_FRAME_PLANE_DATA (frame, 0),
      GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0), self->size, self->size,
      (const float (*)[256]) self->lut);
}

/* ------------------------------------------------------------------ */
/* the trainer and its thread */

/* The images of a batch live in the first backend's host memory for
 * uploads (pinned on CUDA: the upload is a DMA straight from the batch,
 * queued without waiting; the worker's loss download synchronises before
 * the batch is handed back to be refilled). */
static gboolean
batch_alloc (GstAlexnetTrain * self, TrainBatch * b)
{
  if (ax_trainer_alloc_images (self->trainer, &b->images) != AX_OK)
    return FALSE;
  b->labels = g_malloc0 ((gsize) self->batch * sizeof (gint32));
  b->n = 0;
  b->queued = FALSE;
  return TRUE;
}

static void
batch_free (GstAlexnetTrain * self, TrainBatch * b)
{
  if (b->images)
    ax_trainer_free_images (self->trainer, b->images);
  b->images = NULL;
  g_clear_pointer (&b->labels, g_free);
}

/* The mean and std of the statistics file, if there is one, else of the
 * properties (a resumed run takes the checkpoint's instead). */
static gboolean
load_normalization (GstAlexnetTrain * self, const gchar * stats_location,
    gdouble mean[3], gdouble std[3])
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
    mean[c] = stats.mean[c];
    std[c] = stats.std[c];
  }
  return TRUE;
}

/* The trainer's settings from the properties (under the object lock);
 * the strings are copies for the caller to free. */
static void
get_settings (GstAlexnetTrain * self, ax_trainer_settings * s)
{
  *s = self->settings;
  s->arch = g_strdup (s->arch);
  s->resume = g_strdup (s->resume);
  s->init_from = g_strdup (s->init_from);
  s->init_from_layers = g_strdup (s->init_from_layers);
  /* the VGG paper's batch of 256, on one device: the two towers are
   * AlexNet's */
  if (ax_net_arch_is_vgg (s->arch)) {
    if (!self->batch_size_set)
      s->batch = 256;
    if (!self->towers_set)
      s->towers = 1;
  }
  s->metrics_location = g_strdup (s->metrics_location);
  /* -1: a seed from the clock */
  s->seed = self->seed >= 0 ? (guint64) self->seed :
      (guint64) g_get_real_time () ^ ((guint64) g_random_int () << 32);
  s->class_names = (const char *const *) self->class_names;
}

static void
free_settings (ax_trainer_settings * s)
{
  g_free ((gchar *) s->arch);
  g_free ((gchar *) s->resume);
  g_free ((gchar *) s->init_from);
  g_free ((gchar *) s->init_from_layers);
  g_free ((gchar *) s->metrics_location);
}

/* ------------------------------------------------------------------ */
/* checks before the first step: what would otherwise fail only when the
 * checkpoint is written, after all the training */

/* Room asked for one checkpoint beyond its estimated size: its header and
 * metadata (class names included in the estimate), and a margin. */
#define GST_ALEXNET_TRAIN_ROOM_MARGIN_BYTES (1 << 20)

/* Creates and removes a probe file in the folder of `file` (property
 * `prop`); posts an error naming both when that fails. */
static gboolean
probe_folder (GstAlexnetTrain * self, const gchar * prop, const gchar * file)
{
  gchar *dir = g_path_get_dirname (file);
  gchar *probe = g_strdup_printf ("%s/.alexnet-train-probe-%ld", dir,
      (long) getpid ());
  gint fd = g_open (probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  gint saved = errno;
  gboolean ok = fd >= 0;

  if (ok) {
    close (fd);
    if (g_unlink (probe) != 0)
      GST_WARNING_OBJECT (self, "could not remove the probe file %s: %s",
          probe, g_strerror (errno));
  } else {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("alexnet-train cannot write %s=%s: creating a file in its folder "
            "%s failed: %s. Make the folder writable (or create it), or set "
            "%s to a file in a writable folder", prop, file, dir,
            g_strerror (saved), prop), ("probe file %s", probe));
  }
  g_free (probe);
  g_free (dir);
  return ok;
}

/* The folders of the checkpoint and of the metrics file are writable: at
 * start, before any frame. */
gboolean
gst_alexnet_train_check_paths (GstAlexnetTrain * self)
{
  gchar *ckpt, *metrics;
  gboolean ok = TRUE;

  GST_OBJECT_LOCK (self);
  ckpt = g_strdup (self->checkpoint);
  metrics = g_strdup (self->settings.metrics_location);
  GST_OBJECT_UNLOCK (self);
  if (ckpt && !probe_folder (self, "checkpoint", ckpt))
    ok = FALSE;
  if (ok && metrics && !probe_folder (self, "metrics-location", metrics))
    ok = FALSE;
  g_free (ckpt);
  g_free (metrics);
  return ok;
}

/* One finite value in [lo, hi] (hi_open: below hi); posts an error naming
 * the property when not. */
static gboolean
check_range (GstAlexnetTrain * self, const gchar * prop, gdouble v,
    gdouble lo, gdouble hi, gboolean hi_open)
{
  if (isfinite (v) && v >= lo && (hi_open ? v < hi : v <= hi))
    return TRUE;
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
      ("alexnet-train: %s=%g is out of range: set a finite value in "
          "[%g, %g%s", prop, v, lo, hi, hi_open ? ")" : "]"), (NULL));
  return FALSE;
}

/* The hyper-parameters and the normalisation (from `source`: the mean and
 * std properties or the statistics file) before the net is built. */
static gboolean
check_hyper_parameters (GstAlexnetTrain * self, const ax_trainer_settings * s,
    const gchar * source)
{
  if (!check_range (self, "learning-rate", s->learning_rate, 0, G_MAXDOUBLE,
          FALSE)
      || !check_range (self, "momentum", s->momentum, 0, 1, FALSE)
      || !check_range (self, "weight-decay", s->weight_decay, 0, G_MAXDOUBLE,
          FALSE)
      || !check_range (self, "dropout", s->dropout, 0, 1, TRUE)
      || !check_range (self, "max-time", s->max_time, 0, G_MAXDOUBLE, FALSE))
    return FALSE;
  for (gint c = 0; c < 3; c++)
    if (!isfinite (s->mean[c]) || !isfinite (s->std[c])
        || (s->use_std && !(s->std[c] > 0)))
      goto bad_normalization;
  return TRUE;

  /* ERRORS */
bad_normalization:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("alexnet-train: the normalisation of %s is not usable: mean %g %g "
            "%g, std %g %g %g; each must be finite and each std above 0: fix "
            "it (or run dataset-stats again)", source, s->mean[0], s->mean[1],
            s->mean[2], s->std[0], s->std[1], s->std[2]), (NULL));
    return FALSE;
  }
}

/* The class names of the classes event are UTF-8 (they go into the
 * checkpoint's JSON header). */
static gboolean
check_class_names (GstAlexnetTrain * self, const gchar * const *names)
{
  for (guint i = 0; names && names[i]; i++)
    if (!g_utf8_validate (names[i], -1, NULL)) {
      gchar *shown = g_utf8_make_valid (names[i], -1);
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("alexnet-train: class name %u ('%s', as UTF-8) is not valid "
              "UTF-8, and checkpoints keep the class names as UTF-8: rename "
              "the class (its folder, or its line in the labels file) in "
              "UTF-8", i, shown), (NULL));
      g_free (shown);
      return FALSE;
    }
  return TRUE;
}

/* Bytes one checkpoint of the trainer takes, about: every parameter and
 * buffer, the momentum of every parameter, the class names, and a margin
 * for the header. */
static guint64
checkpoint_bytes (GstAlexnetTrain * self)
{
  ax_net *net = ax_trainer_net (self->trainer);
  const ax_net_checkpoint_info *info = ax_trainer_info (self->trainer);
  guint64 bytes = GST_ALEXNET_TRAIN_ROOM_MARGIN_BYTES;

  for (gint i = 0; i < ax_net_n_params (net); i++) {
    const ax_param_info *p = ax_net_param (net, i);
    guint64 one = (guint64) p->count * (p->dtype == AX_PARAM_I64 ? 8 : 4);
    bytes += p->is_buffer ? one : 2 * one;
  }
  for (gint i = 0; info->class_names && info->class_names[i]; i++)
    bytes += 8 + 2 * strlen (info->class_names[i]);
  return bytes;
}

/* Room for one checkpoint in its folder (statvfs), and under this
 * process's file-size limit (RLIMIT_FSIZE), once the net is built. */
static gboolean
check_room (GstAlexnetTrain * self)
{
  gchar *ckpt, *dir;
  struct statvfs vfs;
  struct rlimit lim;
  guint64 need, free_bytes;
  gboolean ok = TRUE;

  GST_OBJECT_LOCK (self);
  ckpt = g_strdup (self->checkpoint);
  GST_OBJECT_UNLOCK (self);
  if (ckpt == NULL)
    return TRUE;
  need = checkpoint_bytes (self);
  dir = g_path_get_dirname (ckpt);
  if (getrlimit (RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY
      && (guint64) lim.rlim_cur < need) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("alexnet-train cannot write checkpoint=%s: one checkpoint takes "
            "about %" G_GUINT64_FORMAT " bytes, above this process's file "
            "size limit of %" G_GUINT64_FORMAT " bytes (RLIMIT_FSIZE, "
            "ulimit -f): raise the limit, or train a smaller network",
            ckpt, need, (guint64) lim.rlim_cur), (NULL));
    ok = FALSE;
  } else if (statvfs (dir, &vfs) == 0) {
    free_bytes = (guint64) vfs.f_bavail * vfs.f_frsize;
    if (free_bytes < need) {
      GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
          ("alexnet-train cannot write checkpoint=%s: one checkpoint takes "
              "about %" G_GUINT64_FORMAT " bytes, and its folder %s has %"
              G_GUINT64_FORMAT " bytes free: free some space, or set "
              "checkpoint to a file on another disk", ckpt, need, dir,
              free_bytes), (NULL));
      ok = FALSE;
    }
  } else {
    GST_WARNING_OBJECT (self, "statvfs %s: %s: free space not checked", dir,
        g_strerror (errno));
  }
  g_free (dir);
  g_free (ckpt);
  return ok;
}

/* Posts why the trainer could not be created, in GStreamer's terms. */
static void
post_trainer_error (GstAlexnetTrain * self, const ax_trainer_diag * d)
{
  GQuark domain = GST_RESOURCE_ERROR;
  gint code = GST_RESOURCE_ERROR_SETTINGS;

  switch (d->fault) {
    case AX_TRAINER_FAULT_CHECKPOINT:
      code = GST_RESOURCE_ERROR_READ;
      break;
    case AX_TRAINER_FAULT_CLASSES:
      domain = GST_STREAM_ERROR;
      code = GST_STREAM_ERROR_FORMAT;
      break;
    case AX_TRAINER_FAULT_LIBRARY:
      domain = GST_LIBRARY_ERROR;
      code = GST_LIBRARY_ERROR_INIT;
      break;
    case AX_TRAINER_FAULT_METRICS:
      code = GST_RESOURCE_ERROR_OPEN_WRITE;
      break;
    default:
      break;
  }
  gst_element_message_full (GST_ELEMENT (self), GST_MESSAGE_ERROR, domain,
      code, g_strdup (d->error), d->details[0] ? g_strdup (d->details) : NULL,
      __FILE__, GST_FUNCTION, __LINE__);
}

/* Everything the first buffer needs: the trainer (the network from a
 * checkpoint, the classes event or num-classes, on its backends, with its
 * weights and state), the input table, the batches and the worker. */
gboolean
gst_alexnet_train_setup (GstAlexnetTrain * self)
{
  ax_trainer_settings s;
  ax_trainer_diag diag;
  const ax_net_checkpoint_info *info;
  gchar *stats_location;
  ax_status st;

  GST_OBJECT_LOCK (self);
  get_settings (self, &s);
  stats_location = g_strdup (self->stats_location);
  GST_OBJECT_UNLOCK (self);
  self->size = s.input_size;
  self->batch = s.batch;

  if (s.resume && s.init_from)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
        ("Both resume and init-from are set: resuming %s", s.resume), (NULL));
  if (!s.resume && !load_normalization (self, stats_location, s.mean, s.std))
    goto done;
  if (!check_hyper_parameters (self, &s, stats_location ? stats_location :
          "the mean and std properties")
      || !check_class_names (self, s.class_names))
    goto done;

  st = ax_trainer_create (&s, &self->trainer, &diag);
  if (diag.backend_note[0])
    gst_alexnet_warn_cpu_fallback (GST_ELEMENT (self),
        s.device == AX_DEVICE_CUDA, diag.backend_note);
  if (diag.warning[0])
    GST_WARNING_OBJECT (self, "%s", diag.warning);
  if (diag.note[0])
    GST_ELEMENT_INFO (self, RESOURCE, SETTINGS, ("%s", diag.note), (NULL));
  if (st != AX_OK) {
    post_trainer_error (self, &diag);
    goto done;
  }
  if (!check_room (self)) {
    ax_trainer_free (self->trainer);
    self->trainer = NULL;
    goto done;
  }
  info = ax_trainer_info (self->trainer);
  self->epoch = ax_trainer_epoch (self->trainer);
  ax_trainer_input_lut (self->trainer, self->lut);

  if (!batch_alloc (self, &self->batches[0])
      || !batch_alloc (self, &self->batches[1])
      || !batch_alloc (self, &self->val_batch))
    goto no_batches;
  self->fill = 0;
  self->failed = self->budget_reached = FALSE;
  self->worker = g_thread_new ("alexnet-train", worker_loop, self);
  GST_INFO_OBJECT (self, "%s, %d classes, %dx%d, widths /%d, batch %d, %s, "
      "%.1f MB, from step %" G_GUINT64_FORMAT, info->arch, info->n_classes,
      self->size, self->size, info->width_divisor, self->batch,
      s.replicas > 1 ? "data-parallel replicas" :
      (s.towers == 2 ? "two towers" : "one device"),
      ax_net_memory_bytes (ax_trainer_net (self->trainer)) / 1e6,
      ax_trainer_start_step (self->trainer));
  goto done;

  /* ERRORS */
no_batches:
  GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
      ("Could not allocate the batch buffers (%d images of %dx%d): %s",
          self->batch, self->size, self->size,
          ax_trainer_last_error (self->trainer)), (NULL));
  goto done;

done:
  free_settings (&s);
  g_free (stats_location);
  return self->worker != NULL;
}

void
gst_alexnet_train_teardown (GstAlexnetTrain * self)
{
  gst_alexnet_train_join_worker (self, TRUE);
  g_queue_clear (&self->jobs);
  if (self->trainer == NULL)
    return;
  /* the batches first: they are the backends' host memory */
  batch_free (self, &self->batches[0]);
  batch_free (self, &self->batches[1]);
  batch_free (self, &self->val_batch);
  ax_trainer_free (self->trainer);
  self->trainer = NULL;
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
  gint classes = ax_trainer_info (self->trainer)->n_classes;
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

/* Saves the whole training state to `path` (atomically: the previous file
 * stays whole until the new one is). */
static gboolean
save_checkpoint (GstAlexnetTrain * self, const gchar * path)
{
  if (ax_trainer_save (self->trainer, path) != AX_OK) {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Could not write the checkpoint %s: %s", path,
            ax_trainer_last_error (self->trainer)), (NULL));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "checkpoint %s at step %" G_GUINT64_FORMAT, path,
      ax_net_step (ax_trainer_net (self->trainer)));
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* validation: an internal pipeline over the held-out set */

/* The validation pipeline's description; *location (to free) is the data
 * set to set on its dataset-src, so that no path is quoted into it. */
static gchar *
val_description (GstAlexnetTrain * self, gchar ** location)
{
  gchar *desc = NULL;
  gint resize = ax_resize_size_for_input (self->size);

  *location = NULL;
  GST_OBJECT_LOCK (self);
  if (self->val_pipeline) {
    desc = g_strdup_printf ("%s ! appsink name=ax_val_sink sync=false",
        self->val_pipeline);
  } else if (self->val_location) {
    desc = g_strdup_printf ("dataset-src name=ax_val_src ! decode ! "
        "resize-256 size=%d ! random-crop-flip mode=center size=%d ! "
        "appsink name=ax_val_sink sync=false", resize, self->size);
    *location = g_strdup (self->val_location);
  }
  GST_OBJECT_UNLOCK (self);
  return desc;
}

/* Evaluates the validation batch's first `n` images. */
static gboolean
val_batch_run (GstAlexnetTrain * self, guint n, guint64 * wrong1,
    guint64 * wrong5)
{
  ax_status st = ax_trainer_evaluate (self->trainer, self->val_batch.images,
      self->val_batch.labels, n, wrong1, wrong5);

  if (st != AX_OK) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED,
        ("Validation failed: %s", ax_status_str (st)),
        ("%s", ax_trainer_last_error (self->trainer)));
    return FALSE;
  }
  return TRUE;
}

/* The held-out set's pipeline, its appsink set for the net's input. */
static GstElement *
val_pipeline_new (GstAlexnetTrain * self, const gchar * desc,
    const gchar * location, GstElement ** appsink)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  GstCaps *caps;

  if (pipeline != NULL && (error != NULL || !GST_IS_BIN (pipeline)))
    gst_clear_object (&pipeline);
  if (pipeline == NULL)
    goto bad_pipeline;
  if (location) {
    GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "ax_val_src");
    g_object_set (src, "location", location, NULL);
    gst_object_unref (src);
  }
  *appsink = gst_bin_get_by_name (GST_BIN (pipeline), "ax_val_sink");
  caps = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "RGB",
      "width", G_TYPE_INT, self->size, "height", G_TYPE_INT, self->size, NULL);
  g_object_set (*appsink, "caps", caps, "max-buffers", 8, NULL);
  gst_caps_unref (caps);
  return pipeline;

  /* ERRORS */
bad_pipeline:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Could not build the validation pipeline: %s",
            error ? error->message : "unknown error"), ("%s", desc));
    g_clear_error (&error);
    return NULL;
  }
}

/* Posts the validation pipeline's error, if it had one; FALSE then. */
static gboolean
val_pipeline_check (GstAlexnetTrain * self, GstElement * pipeline,
    const gchar * desc)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  GError *perr = NULL;
  gchar *dbg = NULL;

  gst_object_unref (bus);
  if (msg == NULL)
    return TRUE;
  gst_message_parse_error (msg, &perr, &dbg);
  GST_ELEMENT_ERROR (self, STREAM, FAILED,
      ("The validation pipeline failed: %s", perr->message),
      ("%s: %s", desc, dbg ? dbg : ""));
  g_clear_error (&perr);
  g_free (dbg);
  gst_message_unref (msg);
  return FALSE;
}

/* Runs the held-out set through the net; FALSE after posting an error.
 * *images is 0 when there is no validation set. */
static gboolean
validate (GstAlexnetTrain * self, guint64 * images, gdouble * top1,
    gdouble * top5)
{
  gchar *location, *desc = val_description (self, &location);
  GstElement *pipeline, *appsink = NULL;
  GstSample *sample;
  GstVideoInfo info;
  guint64 wrong1 = 0, wrong5 = 0, count = 0;
  guint n = 0;
  gboolean ok = TRUE;

  *images = 0;
  if (desc == NULL)
    return TRUE;
  pipeline = val_pipeline_new (self, desc, location, &appsink);
  g_free (location);
  if (pipeline == NULL) {
    g_free (desc);
    return FALSE;
  }
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
  if (!val_pipeline_check (self, pipeline, desc))
    ok = FALSE;
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

static void
warn_metrics (GstAlexnetTrain * self)
{
  GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
      ("Could not write the metrics file"),
      ("%s", ax_trainer_last_error (self->trainer)));
}

/* Progress: an element message, a metrics line and, once PLAYING, a
 * GST_MESSAGE_PROGRESS, for the steps since the last report. */
static void
report_progress (GstAlexnetTrain * self)
{
  ax_trainer_progress p;
  GstStructure *s;

  if (ax_trainer_report (self->trainer, &p) != AX_OK)
    warn_metrics (self);
  s = gst_structure_new ("alexnet-train",
      "epoch", G_TYPE_UINT64, p.epoch,
      "step", G_TYPE_UINT64, p.step,
      "loss", G_TYPE_DOUBLE, p.loss,
      "train-top1-error", G_TYPE_DOUBLE, p.train_top1,
      "train-top5-error", G_TYPE_DOUBLE, p.train_top5,
      "val-top1-error", G_TYPE_DOUBLE, p.val_top1,
      "val-top5-error", G_TYPE_DOUBLE, p.val_top5,
      "learning-rate", G_TYPE_DOUBLE, p.learning_rate,
      "images-per-second", G_TYPE_DOUBLE, p.images_per_second,
      "time-left", G_TYPE_DOUBLE, p.time_left,
      "elapsed", G_TYPE_DOUBLE, p.elapsed, NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));

  if (is_playing (self)) {
    gchar *text = g_strdup_printf ("epoch %" G_GUINT64_FORMAT " step %"
        G_GUINT64_FORMAT " loss %.4f lr %g %.1f images/s", p.epoch, p.step,
        p.loss, p.learning_rate, p.images_per_second);
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_progress (GST_OBJECT (self),
            GST_PROGRESS_TYPE_CONTINUE, "train", text));
    g_free (text);
  }
}

/* One SGD step on batch `b`, then the report and the checkpoint when due;
 * FALSE after posting an error. */
static gboolean
train_step (GstAlexnetTrain * self, TrainBatch * b)
{
  ax_trainer *t = self->trainer;
  ax_trainer_result r;
  ax_status st;
  gchar *path;
  guint64 interval;
  gboolean ok = TRUE;

  st = ax_trainer_step (t, b->images, b->labels, self->batch, &r);
  if (st == AX_ERR_NONFINITE)
    goto diverged;
  if (st != AX_OK)
    goto failed;

  if (r.step % self->log_interval == 0)
    report_progress (self);
  GST_OBJECT_LOCK (self);
  path = g_strdup (self->checkpoint);
  interval = self->checkpoint_interval;
  GST_OBJECT_UNLOCK (self);
  if (path && interval > 0 && r.step % interval == 0)
    ok = save_checkpoint (self, path);
  g_free (path);
  return ok;

  /* ERRORS */
diverged:
  {
    const gchar *what = isnan (r.loss) ? "NaN" : isinf (r.loss) ?
        "infinite" : "not finite (NaN or infinity in the logits or "
        "gradients)";
    const gchar *last = ax_trainer_last_checkpoint (t);

    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("training diverged: loss is %s at step %" G_GUINT64_FORMAT
            " (learning rate %g); the last good checkpoint is %s", what,
            r.step, ax_trainer_lr (t), last ? last : "none (none was written)"),
        ("%s", ax_trainer_last_error (t)));
    return FALSE;
  }
failed:
  {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED,
        ("Training step %" G_GUINT64_FORMAT " failed: %s", r.step - 1,
            ax_status_str (st)), ("%s", ax_trainer_last_error (t)));
    return FALSE;
  }
}

/* After an epoch: validation, the schedule, a message and a metrics line. */
static gboolean
epoch_end (GstAlexnetTrain * self)
{
  guint64 images = 0;
  gdouble top1 = -1, top5 = -1;
  ax_trainer_epoch_report r;
  GstStructure *s;

  if (!validate (self, &images, &top1, &top5))
    return FALSE;
  if (ax_trainer_epoch_end (self->trainer, images, top1, top5, &r) != AX_OK)
    warn_metrics (self);
  self->epoch = r.epoch;
  GST_INFO_OBJECT (self, "epoch %" G_GUINT64_FORMAT " done: val top-1 %.4f "
      "top-5 %.4f over %" G_GUINT64_FORMAT " images, lr %g%s", r.epoch,
      top1, top5, images, ax_trainer_lr (self->trainer),
      r.lr_dropped ? " (divided by 10)" : "");

  s = gst_structure_new ("alexnet-train-validation",
      "epoch", G_TYPE_UINT64, r.epoch,
      "step", G_TYPE_UINT64, r.step,
      "images", G_TYPE_UINT64, images,
      "val-top1-error", G_TYPE_DOUBLE, top1,
      "val-top5-error", G_TYPE_DOUBLE, top5,
      "learning-rate", G_TYPE_DOUBLE, r.learning_rate,
      "learning-rate-dropped", G_TYPE_BOOLEAN, r.lr_dropped,
      "learning-rate-drops", G_TYPE_INT, r.lr_drops, NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
  return TRUE;
}

static gpointer
worker_loop (gpointer data)
{
  GstAlexnetTrain *self = data;
  gboolean ok = TRUE;

  for (;;) {
    gint job;

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

    g_mutex_lock (&self->lock);
    if (job != JOB_EPOCH_END)
      self->batches[job - JOB_TRAIN_0].queued = FALSE;
    if (!ok)
      self->failed = TRUE;
    if (ax_trainer_time_up (self->trainer))
      self->budget_reached = TRUE;
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
  }
  return NULL;
}

/* Drains the worker and writes the final checkpoint; posts a summary. */
gboolean
gst_alexnet_train_finish (GstAlexnetTrain * self)
{
  ax_trainer *t = self->trainer;
  gchar *path;
  gboolean ok = TRUE;
  guint64 step;

  if (self->finished || t == NULL)
    return TRUE;
  self->finished = TRUE;
  gst_alexnet_train_join_worker (self, FALSE);
  if (self->failed)
    return FALSE;
  GST_OBJECT_LOCK (self);
  path = g_strdup (self->checkpoint);
  GST_OBJECT_UNLOCK (self);
  if (ax_trainer_unreported_steps (t) > 0)
    report_progress (self);
  if (path)
    ok = save_checkpoint (self, path);
  g_free (path);
  if (ok && is_playing (self))
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_progress (GST_OBJECT (self),
            GST_PROGRESS_TYPE_COMPLETE, "train", "training finished"));
  step = ax_net_step (ax_trainer_net (t));
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("alexnet-train-done",
              "step", G_TYPE_UINT64, step,
              "epoch", G_TYPE_UINT64, ax_trainer_epoch (t),
              "steps-this-run", G_TYPE_UINT64,
              step - ax_trainer_start_step (t),
              "images-left-out", G_TYPE_UINT64, self->dropped,
              "checkpoint", G_TYPE_STRING, ax_trainer_last_checkpoint (t),
              "elapsed", G_TYPE_DOUBLE, ax_trainer_elapsed_s (t), NULL)));
  return ok;
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
