/* alexnet-train's learning-rate schedule as plain functions, so the tests
 * can drive it without a network: the paper's "divide by 10 when the
 * validation error stops improving", at most a few times, a fixed step
 * schedule, or a decay over the training budget (max-steps/max-time). */
#ifndef __GST_ALEXNET_TRAIN_H__
#define __GST_ALEXNET_TRAIN_H__

#include <glib.h>
#include <math.h>

G_BEGIN_DECLS

typedef enum
{
  GST_ALEXNET_LR_SCHEDULE_PLATEAU = 0,  /* /10 when val error stops improving */
  GST_ALEXNET_LR_SCHEDULE_STEP,         /* /10 every step-epochs epochs */
  GST_ALEXNET_LR_SCHEDULE_CONSTANT,     /* never changes */
  GST_ALEXNET_LR_SCHEDULE_LINEAR,       /* to 0 at the end of the budget */
  GST_ALEXNET_LR_SCHEDULE_COSINE,       /* half a cosine to 0 at the end */
} GstAlexnetLrScheduleMode;

typedef struct
{
  GstAlexnetLrScheduleMode mode;
  gint max_drops;               /* 3 in the paper */
  gint patience;                /* epochs without improvement before a drop */
  gdouble threshold;            /* an improvement is a fall of more than this */
  gint step_epochs;             /* STEP: drop after every this many epochs */
  /* state, saved in checkpoints */
  gdouble best_error;           /* best validation top-1 error; > 1: none */
  gint bad_epochs;              /* epochs since the best */
  gint drops;                   /* drops done */
} GstAlexnetLrSchedule;

static inline void
gst_alexnet_lr_schedule_init (GstAlexnetLrSchedule * s,
    GstAlexnetLrScheduleMode mode, gint max_drops, gint patience,
    gint step_epochs)
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

/* Called once an epoch is complete: `epochs_done` epochs so far (1 after the
 * first) and the validation top-1 error of this epoch (< 0 when there was no
 * validation: the plateau schedule then does nothing). Returns the factor
 * to multiply the learning rate by: 1 or 0.1. */
static inline gdouble
gst_alexnet_lr_schedule_epoch_end (GstAlexnetLrSchedule * s,
    guint64 epochs_done, gdouble val_error)
{
  if (s->drops >= s->max_drops)
    return 1.0;
  switch (s->mode) {
    case GST_ALEXNET_LR_SCHEDULE_PLATEAU:
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
    case GST_ALEXNET_LR_SCHEDULE_STEP:
      if (epochs_done == 0 || epochs_done % (guint64) s->step_epochs != 0)
        return 1.0;
      s->drops++;
      return 0.1;
    case GST_ALEXNET_LR_SCHEDULE_CONSTANT:
    default:
      return 1.0;
  }
}

/* The multiplier of the budget schedules at `progress` (0 at the first
 * step, 1 when max-steps or max-time is reached, whichever comes first):
 * linear 1 - p, cosine (1 + cos (pi p)) / 2 (PyTorch's LinearLR to 0 and
 * CosineAnnealingLR with eta_min 0); 1 for the epoch-driven schedules. */
static inline gdouble
gst_alexnet_lr_schedule_budget_factor (const GstAlexnetLrSchedule * s,
    gdouble progress)
{
  gdouble p = progress < 0.0 ? 0.0 : (progress > 1.0 ? 1.0 : progress);
  switch (s->mode) {
    case GST_ALEXNET_LR_SCHEDULE_LINEAR:
      return 1.0 - p;
    case GST_ALEXNET_LR_SCHEDULE_COSINE:
      return 0.5 * (1.0 + cos (G_PI * p));
    default:
      return 1.0;
  }
}

static inline gboolean
gst_alexnet_lr_schedule_needs_budget (GstAlexnetLrScheduleMode mode)
{
  return mode == GST_ALEXNET_LR_SCHEDULE_LINEAR
      || mode == GST_ALEXNET_LR_SCHEDULE_COSINE;
}

G_END_DECLS
#endif
