/* The trainer at work: the learning-rate schedules, the SGD step and its
 * error counts, evaluation, the clock and budget, the metrics lines
 * (trainer.h). */
#include "kernels/nn/trainer_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/util/json.h"

/* ---- the schedule ---- */

void
ax_trainer_schedule_init (ax_trainer_schedule *s, ax_trainer_lr_mode mode,
    int max_drops, int patience, int step_epochs)
{
  s->mode = mode;
  s->max_drops = max_drops;
  s->patience = patience > 0 ? patience : 1;
  s->threshold = 1e-4;
  s->step_epochs = step_epochs > 0 ? step_epochs : 1;
  s->best_error = 2.0;
  s->bad_epochs = 0;
  s->drops = 0;
}

double
ax_trainer_schedule_epoch_end (ax_trainer_schedule *s, uint64_t epochs_done,
    double val_error)
{
  if (s->drops >= s->max_drops)
    return 1.0;
  switch (s->mode) {
    case AX_TRAINER_LR_PLATEAU:
      if (val_error < 0.0)
        return 1.0;
      if (val_error < s->best_error - s->threshold) {
        s->best_error = val_error;
        s->bad_epochs = 0;
        return 1.0;
      }
      if (++s->bad_epochs < s->patience)
        return 1.0;
      s->bad_epochs = 0;
      s->drops++;
      return 0.1;
    case AX_TRAINER_LR_STEP:
      if (epochs_done == 0 || epochs_done % (uint64_t) s->step_epochs != 0)
        return 1.0;
      s->drops++;
      return 0.1;
    default:
      return 1.0;
  }
}

double
ax_trainer_schedule_budget_factor (const ax_trainer_schedule *s,
    double progress)
{
  double p = progress < 0.0 ? 0.0 : (progress > 1.0 ? 1.0 : progress);
  switch (s->mode) {
    case AX_TRAINER_LR_LINEAR:
      return 1.0 - p;
    case AX_TRAINER_LR_COSINE:
      return 0.5 * (1.0 + cos (M_PI * p));
    default:
      return 1.0;
  }
}

int
ax_trainer_schedule_needs_budget (ax_trainer_lr_mode mode)
{
  return mode == AX_TRAINER_LR_LINEAR || mode == AX_TRAINER_LR_COSINE;
}

/* ---- one step ---- */

/* Counts of wrong top-1 and top-5 answers among n rows of scores. */
static void
count_errors (const float *scores, const int32_t *labels, int n,
    int classes, uint64_t *top1_wrong, uint64_t *top5_wrong)
{
  for (int i = 0; i < n; i++) {
    const float *p = scores + (size_t) i * classes;
    float target = p[labels[i]];
    int above = 0;

    /* rank of the true class: classes strictly more probable, ties before */
    for (int c = 0; c < classes; c++)
      if (p[c] > target || (p[c] == target && c < labels[i]))
        above++;
    if (above >= 1)
      (*top1_wrong)++;
    if (above >= 5)
      (*top5_wrong)++;
  }
}

static size_t
image_floats (const ax_net_spec *spec)
{
  return (size_t) spec->in_c * spec->in_h * spec->in_w;
}

/* The result of a step not taken yet: step is the number it will have. */
static void
result_start (ax_trainer_result *r, const ax_net *net)
{
  r->loss = NAN;
  r->top1_wrong = r->top5_wrong = 0;
  r->step = net ? ax_net_step (net) + 1 : 0;
}

ax_status
ax_trainer_net_step (ax_net *net, const float *images, const int32_t *labels,
    int n, const ax_sgd_step *sgd, float *probs, ax_trainer_result *r)
{
  const ax_net_spec *spec;
  ax_status st;

  if (!r)
    return AX_ERR_INVALID_ARG;
  result_start (r, net);
  if (!net || !images || !labels || !sgd || n < 1)
    return AX_ERR_INVALID_ARG;
  spec = ax_net_get_spec (net);
  st = ax_net_forward (net, images, image_floats (spec) * n, 1);
  if (st == AX_OK)
    st = ax_net_loss (net, labels, (size_t) n, &r->loss);
  if (st == AX_OK && !isfinite (r->loss))
    st = AX_ERR_NONFINITE;
  if (st == AX_OK && probs)
    st = ax_net_probs (net, probs, (size_t) n * spec->n_classes);
  if (st == AX_OK)
    st = ax_net_backward (net);
  if (st == AX_OK)
    st = ax_net_update (net, sgd);
  if (st != AX_OK)
    return st;
  if (probs)
    count_errors (probs, labels, n, spec->n_classes, &r->top1_wrong,
        &r->top5_wrong);
  r->step = ax_net_step (net);
  return AX_OK;
}

double
ax_trainer_elapsed_s (const ax_trainer *t)
{
  return t->started ? ax_trainer_clock_s () - t->t_start : 0.0;
}

int
ax_trainer_time_up (const ax_trainer *t)
{
  return t->max_time > 0 && t->started
      && ax_trainer_elapsed_s (t) >= t->max_time;
}

double
ax_trainer_current_lr (const ax_trainer *t)
{
  double progress = 0.0;

  if (!ax_trainer_schedule_needs_budget (t->schedule.mode))
    return t->lr;
  if (t->max_steps > 0)
    progress = (double) ax_net_step (t->net) / (double) t->max_steps;
  if (t->max_time > 0 && t->started)
    progress = fmax (progress, ax_trainer_elapsed_s (t) / t->max_time);
  return t->lr * ax_trainer_schedule_budget_factor (&t->schedule, progress);
}

/* ---- running ---- */

ax_status
ax_trainer_alloc_images (ax_trainer *t, float **images)
{
  size_t bytes = image_floats (&t->spec) * t->batch * sizeof (float);
  void *p = NULL;
  ax_status st = ax_host_alloc (t->backends[0], bytes, &p);

  if (st != AX_OK) {
    snprintf (t->err, sizeof t->err, "%s",
        ax_backend_last_error (t->backends[0]));
    return st;
  }
  memset (p, 0, bytes);
  *images = p;
  return AX_OK;
}

void
ax_trainer_free_images (ax_trainer *t, float *images)
{
  if (images)
    ax_host_free (t->backends[0], images);
}

static void
keep_net_error (ax_trainer *t)
{
  snprintf (t->err, sizeof t->err, "%s", ax_net_last_error (t->net));
}

ax_status
ax_trainer_step (ax_trainer *t, const float *images, const int32_t *labels,
    int n, ax_trainer_result *r)
{
  ax_sgd_step sgd;
  ax_status st;

  if (n != t->batch) {
    result_start (r, t->net);
    snprintf (t->err, sizeof t->err, "%d images for a batch of %d", n,
        t->batch);
    return AX_ERR_INVALID_ARG;
  }
  if (!t->started) {
    t->started = 1;
    t->t_start = t->acc_t0 = ax_trainer_clock_s ();
  }
  sgd.lr = (float) ax_trainer_current_lr (t);
  sgd.momentum = (float) t->momentum;
  sgd.weight_decay = (float) t->weight_decay;
  st = ax_trainer_net_step (t->net, images, labels, n, &sgd, t->probs, r);
  if (st != AX_OK) {
    keep_net_error (t);
    return st;
  }
  t->acc_loss += r->loss;
  t->acc_steps++;
  t->acc_images += (uint64_t) n;
  t->acc_top1_wrong += r->top1_wrong;
  t->acc_top5_wrong += r->top5_wrong;
  return AX_OK;
}

ax_status
ax_trainer_evaluate (ax_trainer *t, float *images, int32_t *labels, int n,
    uint64_t *top1_wrong, uint64_t *top5_wrong)
{
  const size_t image = image_floats (&t->spec);
  ax_status st;

  if (n < 1 || n > t->batch)
    return AX_ERR_INVALID_ARG;
  for (int i = n; i < t->batch; i++) {
    memcpy (images + i * image, images, image * sizeof *images);
    labels[i] = labels[0];
  }
  st = ax_net_forward (t->net, images, image * t->batch, 0);
  if (st == AX_OK)
    st = ax_net_logits (t->net, t->probs,
        (size_t) t->batch * t->spec.n_classes);
  if (st != AX_OK) {
    keep_net_error (t);
    return st;
  }
  count_errors (t->probs, labels, n, t->spec.n_classes, top1_wrong,
      top5_wrong);
  return AX_OK;
}

/* ---- metrics ---- */

/* A number, or null when unknown. */
static void
put_number (ax_json_writer *w, const char *key, double v, int known)
{
  ax_json_key (w, key);
  if (known)
    ax_json_double (w, v);
  else
    ax_json_null (w);
}

/* Writes the line of `w` (which this frees) to the metrics file. */
static ax_status
metrics_write (ax_trainer *t, ax_json_writer *w)
{
  ax_status st = AX_OK;

  ax_strbuf_puts (&w->out, "\n");
  if (t->metrics && w->out.failed) {
    snprintf (t->err, sizeof t->err, "out of memory");
    st = AX_ERR_NO_MEMORY;
  } else if (t->metrics && (fputs (w->out.data, t->metrics) < 0
          || fflush (t->metrics) != 0)) {
    snprintf (t->err, sizeof t->err, "%s", strerror (errno));
    st = AX_ERR_IO;
  }
  ax_strbuf_free (&w->out);
  return st;
}

uint64_t
ax_trainer_unreported_steps (const ax_trainer *t)
{
  return t->acc_steps;
}

ax_status
ax_trainer_report (ax_trainer *t, ax_trainer_progress *p)
{
  double secs = ax_trainer_clock_s () - t->acc_t0;
  double images = (double) (t->acc_images > 0 ? t->acc_images : 1);
  ax_json_writer w = { 0 };

  p->epoch = t->epoch;
  p->step = ax_net_step (t->net);
  p->loss = t->acc_loss / (double) (t->acc_steps > 0 ? t->acc_steps : 1);
  p->train_top1 = (double) t->acc_top1_wrong / images;
  p->train_top5 = (double) t->acc_top5_wrong / images;
  p->val_top1 = t->val_top1;
  p->val_top5 = t->val_top5;
  p->learning_rate = ax_trainer_current_lr (t);
  p->images_per_second = secs > 0 ? (double) t->acc_images / secs : 0.0;
  p->elapsed = ax_trainer_elapsed_s (t);
  p->time_left = -1.0;
  if (t->max_steps > p->step && p->images_per_second > 0)
    p->time_left = (double) (t->max_steps - p->step) * t->batch
        / p->images_per_second;
  if (t->max_time > 0) {
    double left = fmax (t->max_time - p->elapsed, 0.0);
    p->time_left = p->time_left < 0 ? left : fmin (p->time_left, left);
  }

  ax_json_begin_object (&w);
  ax_json_key (&w, "type");
  ax_json_string (&w, "train");
  ax_json_key (&w, "epoch");
  ax_json_uint (&w, p->epoch);
  ax_json_key (&w, "step");
  ax_json_uint (&w, p->step);
  put_number (&w, "loss", p->loss, 1);
  put_number (&w, "train_top1_error", p->train_top1, 1);
  put_number (&w, "train_top5_error", p->train_top5, 1);
  put_number (&w, "val_top1_error", p->val_top1, p->val_top1 >= 0);
  put_number (&w, "val_top5_error", p->val_top5, p->val_top5 >= 0);
  put_number (&w, "learning_rate", p->learning_rate, 1);
  put_number (&w, "images_per_second", p->images_per_second, 1);
  put_number (&w, "time_left", p->time_left, p->time_left >= 0);
  put_number (&w, "elapsed", p->elapsed, 1);
  ax_json_end_object (&w);

  t->acc_loss = 0;
  t->acc_images = t->acc_top1_wrong = t->acc_top5_wrong = 0;
  t->acc_steps = 0;
  t->acc_t0 = ax_trainer_clock_s ();
  return metrics_write (t, &w);
}

ax_status
ax_trainer_epoch_end (ax_trainer *t, uint64_t val_images, double val_top1,
    double val_top5, ax_trainer_epoch_report *r)
{
  ax_json_writer w = { 0 };
  double factor;

  t->epoch++;
  if (val_images > 0) {
    t->val_top1 = val_top1;
    t->val_top5 = val_top5;
  }
  factor = ax_trainer_schedule_epoch_end (&t->schedule, t->epoch,
      val_images > 0 ? val_top1 : -1.0);
  t->lr *= factor;

  r->epoch = t->epoch;
  r->step = ax_net_step (t->net);
  r->val_images = val_images;
  r->val_top1 = val_images > 0 ? val_top1 : -1.0;
  r->val_top5 = val_images > 0 ? val_top5 : -1.0;
  r->learning_rate = ax_trainer_current_lr (t);
  r->lr_dropped = factor != 1.0;
  r->lr_drops = t->schedule.drops;
  r->elapsed = ax_trainer_elapsed_s (t);

  ax_json_begin_object (&w);
  ax_json_key (&w, "type");
  ax_json_string (&w, "epoch");
  ax_json_key (&w, "epoch");
  ax_json_uint (&w, r->epoch);
  ax_json_key (&w, "step");
  ax_json_uint (&w, r->step);
  ax_json_key (&w, "val_images");
  ax_json_uint (&w, r->val_images);
  put_number (&w, "val_top1_error", r->val_top1, val_images > 0);
  put_number (&w, "val_top5_error", r->val_top5, val_images > 0);
  put_number (&w, "learning_rate", r->learning_rate, 1);
  ax_json_key (&w, "learning_rate_dropped");
  ax_json_bool (&w, r->lr_dropped);
  put_number (&w, "elapsed", r->elapsed, 1);
  ax_json_end_object (&w);
  return metrics_write (t, &w);
}
