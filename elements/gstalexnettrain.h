/* alexnet-train's lr-schedule property: the trainer's schedules
 * (kernels/nn/trainer.h) under GStreamer names, value for value. */
#ifndef __GST_ALEXNET_TRAIN_H__
#define __GST_ALEXNET_TRAIN_H__

#include <glib.h>

#include "kernels/nn/trainer.h"

G_BEGIN_DECLS

typedef enum
{
  GST_ALEXNET_LR_SCHEDULE_PLATEAU = AX_TRAINER_LR_PLATEAU,
  GST_ALEXNET_LR_SCHEDULE_STEP = AX_TRAINER_LR_STEP,
  GST_ALEXNET_LR_SCHEDULE_CONSTANT = AX_TRAINER_LR_CONSTANT,
  GST_ALEXNET_LR_SCHEDULE_LINEAR = AX_TRAINER_LR_LINEAR,
  GST_ALEXNET_LR_SCHEDULE_COSINE = AX_TRAINER_LR_COSINE,
} GstAlexnetLrScheduleMode;

G_END_DECLS
#endif
