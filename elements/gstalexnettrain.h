/* alexnet-train's learning-rate schedule as plain functions, so the tests
 * can drive it without a network: the paper's "divide by 10 when the
 * validation error stops improving", at most a few times, or a fixed step
 * schedule. */
#ifndef __GST_ALEXNET_TRAIN_H__
#define __GST_ALEXNET_TRAIN_H__

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  GST_ALEXNET_LR_SCHEDULE_PLATEAU = 0,  /* /10 when val error stops improving */
  GST_ALEXNET_LR_SCHEDULE_STEP,         /* /10 every step-epochs epochs */
  GST_ALEXNET_LR_SCHEDULE_CONSTANT,     /* never changes */
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

G_END_DECLS
#endif
