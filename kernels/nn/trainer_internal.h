/* The trainer's state, shared by trainer.c (building it, checkpoints) and
 * trainer_run.c (the schedule, the step, evaluation, metrics lines). */
#ifndef AX_TRAINER_INTERNAL_H
#define AX_TRAINER_INTERNAL_H

#include <stdio.h>
#include <time.h>

#include "kernels/nn/trainer.h"

struct ax_trainer {
  ax_net_spec spec;
  ax_net *net;
  ax_backend *backends[AX_NET_MAX_REPLICAS];
  ax_device device_used;
  int batch;
  /* what the checkpoints say about the net; owns class_names and init */
  ax_net_checkpoint_info info;
  ax_rng rng;
  double momentum, weight_decay;
  uint64_t max_steps;
  double max_time;
  /* the run */
  double lr;                    /* the schedule's */
  uint64_t epoch;               /* epochs completed */
  uint64_t start_step;
  int copy_layers;              /* init_from copies matching layers only */
  ax_trainer_schedule schedule;
  double val_top1, val_top5;    /* last validation, -1 none */
  char *last_checkpoint;
  FILE *metrics;
  float *probs;                 /* batch x classes */
  int started;
  double t_start;               /* monotonic s at the first step */
  /* the report interval */
  double acc_loss, acc_t0;
  uint64_t acc_images, acc_top1_wrong, acc_top5_wrong, acc_steps;
  char err[512];
};

/* Monotonic seconds. */
static inline double
ax_trainer_clock_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

#endif
