/* The trainer: a network built or restored from settings and a checkpoint
 * on its backends, the SGD step with its error counts, the learning-rate
 * schedules, the metrics lines and the checkpoints of a training run.
 * What alexnet-train runs on its worker thread; usable by any program (the
 * benchmarks, the tests). Plain C, no GStreamer; see docs/network.md. */
#ifndef AX_TRAINER_H
#define AX_TRAINER_H

#include "kernels/nn/net.h"
#include "kernels/nn/net_backends.h"
#include "kernels/nn/net_checkpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- the learning-rate schedule --- */

typedef enum {
  AX_TRAINER_LR_PLATEAU = 0,    /* /10 when the validation error stops improving */
  AX_TRAINER_LR_STEP,           /* /10 every step_epochs epochs */
  AX_TRAINER_LR_CONSTANT,       /* never changes */
  AX_TRAINER_LR_LINEAR,         /* to 0 at the end of the budget */
  AX_TRAINER_LR_COSINE,         /* half a cosine to 0 at the end of the budget */
} ax_trainer_lr_mode;

typedef struct {
  ax_trainer_lr_mode mode;
  int max_drops;                /* 3 in the paper */
  int patience;                 /* epochs without improvement before a drop */
  double threshold;             /* an improvement is a fall of more than this */
  int step_epochs;              /* STEP: drop after every this many epochs */
  /* state, saved in checkpoints */
  double best_error;            /* best validation top-1 error; > 1: none */
  int bad_epochs;               /* epochs since the best */
  int drops;                    /* drops done */
} ax_trainer_schedule;

void ax_trainer_schedule_init (ax_trainer_schedule *s, ax_trainer_lr_mode mode,
    int max_drops, int patience, int step_epochs);
/* Called once an epoch is complete: `epochs_done` epochs so far (1 after
 * the first) and that epoch's validation top-1 error (< 0 when there was
 * no validation: the plateau schedule then does nothing). Returns the
 * factor to multiply the learning rate by: 1 or 0.1. */
double ax_trainer_schedule_epoch_end (ax_trainer_schedule *s,
    uint64_t epochs_done, double val_error);
/* The multiplier of the budget schedules at `progress` (0 at the first
 * step, 1 when max_steps or max_time is reached, whichever comes first):
 * linear 1 - p, cosine (1 + cos (pi p)) / 2 (PyTorch's LinearLR to 0 and
 * CosineAnnealingLR with eta_min 0); 1 for the epoch-driven schedules. */
double ax_trainer_schedule_budget_factor (const ax_trainer_schedule *s,
    double progress);
/* 1 for the schedules that need max_steps or max_time. */
int ax_trainer_schedule_needs_budget (ax_trainer_lr_mode mode);

/* --- one step on any net --- */

typedef struct {
  float loss;                   /* mean cross-entropy over the batch */
  uint64_t top1_wrong;          /* images whose class was not the most probable */
  uint64_t top5_wrong;          /* ... not among the five most probable */
  uint64_t step;                /* the step counter afterwards (on failure:
                                 * the number of the step that failed) */
} ax_trainer_result;

/* One SGD step of `net` on n images (NCHW floats, n x C x H x W; n is the
 * net's batch) and their labels: forward with dropout, the loss, backward,
 * the update with `sgd`. `probs` (n x classes floats, or NULL) receives
 * the softmax of the batch, from which the top-1 and top-5 errors are
 * counted (0 without it). AX_ERR_NONFINITE when the loss or a gradient is
 * NaN or infinite: the weights are then unchanged. */
ax_status ax_trainer_net_step (ax_net *net, const float *images,
    const int32_t *labels, int n, const ax_sgd_step *sgd, float *probs,
    ax_trainer_result *result);

/* --- the trainer --- */

/* What to train. Strings are only read during ax_trainer_create. */
typedef struct {
  /* the network; a checkpoint's own description (architecture, classes,
   * width divisor) wins */
  const char *arch;             /* "alexnet-paper", "alexnet-torchvision" */
  int n_classes;                /* 0: the class names', or the checkpoint's */
  const char *const *class_names;       /* NULL-terminated, or NULL */
  int input_size;               /* side of the square input */
  int width_divisor;            /* ax_net_spec_narrow's; 1: full width */
  double dropout;               /* of the dropout layers */
  ax_init init;                 /* without a checkpoint */
  uint64_t seed;                /* of the initial weights and dropout masks */
  /* the input normalisation (0..1 scale), unless resuming: the
   * checkpoint's then */
  double mean[3], std[3];
  int use_std;                  /* 0: divide by 1 (subtract the mean only) */
  /* checkpoints to start from */
  const char *resume;           /* the whole training state, or NULL */
  const char *init_from;        /* the weights only (ignored with resume) */
  const char *init_from_layers; /* copy only these layers of init_from
                                 * (comma-separated layer names), into a
                                 * net of `arch` initialised by `init`;
                                 * NULL: every layer when init_from is the
                                 * same architecture, every layer whose
                                 * name and shapes match when it is another
                                 * VGG configuration */
  /* where it runs */
  ax_device device;
  int towers;                   /* 1: one device; 2: the paper's two towers */
  int replicas;                 /* > 1: data-parallel (replaces the towers) */
  int deterministic;            /* CUDA: deterministic algorithms only */
  int conv_algo;                /* CPU: an ax_conv_algo (0: auto) */
  /* SGD and the schedule */
  int batch;
  double learning_rate, momentum, weight_decay;
  ax_trainer_lr_mode lr_mode;
  int lr_drops, lr_patience, lr_step_epochs;
  uint64_t max_steps;           /* the budget: steps (0: none) */
  double max_time;              /* ... and seconds of training (0: none) */
  const char *metrics_location; /* JSON-lines file (appended to when
                                 * resuming), or NULL */
} ax_trainer_settings;

/* The paper's network and recipe (224 x 224, batch 128, lr 0.01, momentum
 * 0.9, weight decay 0.0005, dropout 0.5, plateau schedule with three
 * drops), one CPU device, no normalisation (mean 0, std 1); n_classes 0. */
void ax_trainer_settings_init (ax_trainer_settings *s);

typedef enum {
  AX_TRAINER_FAULT_NONE = 0,
  AX_TRAINER_FAULT_SETTINGS,    /* the settings (or them and the checkpoint)
                                 * do not fit together */
  AX_TRAINER_FAULT_CHECKPOINT,  /* a checkpoint could not be read or loaded */
  AX_TRAINER_FAULT_CLASSES,     /* the number of classes is unknown */
  AX_TRAINER_FAULT_LIBRARY,     /* backends, the network or its init failed */
  AX_TRAINER_FAULT_METRICS,     /* the metrics file could not be opened */
} ax_trainer_fault;

/* What ax_trainer_create says besides its status. */
typedef struct {
  ax_trainer_fault fault;
  char error[640];              /* what failed, for a person; "" on success */
  char details[512];            /* a library's own message, or "" */
  char backend_note[512];       /* why the CPU runs where CUDA was wanted, or "" */
  char warning[256];            /* a problem that did not stop it, or "" */
  char note[1024];              /* what init_from copied, or "" */
} ax_trainer_diag;

typedef struct ax_trainer ax_trainer;

/* Builds the network of the settings, or of the checkpoint to resume or
 * initialise from (checked against the settings: input size, classes), on
 * backends placed as ax_backends_create places them; initialises or loads
 * it; opens the metrics file. On failure *out is NULL, nothing is left
 * allocated and diag says why. */
ax_status ax_trainer_create (const ax_trainer_settings *settings,
    ax_trainer **out, ax_trainer_diag *diag);
/* Destroys the net, then its backends (free the batches of
 * ax_trainer_alloc_images first); NULL is fine. */
void ax_trainer_free (ax_trainer *t);

/* The metadata the trainer writes into its checkpoints: architecture,
 * classes and their names, input size, width divisor, normalisation (as
 * floats), LRN constants, init. */
const ax_net_checkpoint_info *ax_trainer_info (const ax_trainer *t);
/* The byte -> normalised float table of the network's input, the one
 * alexnet-infer derives from the checkpoint (ax_net_checkpoint_input_lut
 * on ax_trainer_info): frames become the input by ax_rgb_to_chw. */
void ax_trainer_input_lut (const ax_trainer *t, float lut[3][256]);

ax_net *ax_trainer_net (const ax_trainer *t);
int ax_trainer_batch (const ax_trainer *t);
ax_device ax_trainer_device (const ax_trainer *t);  /* what runs it */
uint64_t ax_trainer_epoch (const ax_trainer *t);    /* epochs completed */
uint64_t ax_trainer_start_step (const ax_trainer *t);       /* at create */
double ax_trainer_lr (const ax_trainer *t);  /* the schedule's, before the
                                              * budget decay */
/* The learning rate of the next step: the schedule's times the budget
 * decay at the fraction of max_steps or max_time used, whichever is
 * further along. */
double ax_trainer_current_lr (const ax_trainer *t);
const ax_trainer_schedule *ax_trainer_get_schedule (const ax_trainer *t);
/* The last checkpoint written or started from, or NULL. */
const char *ax_trainer_last_checkpoint (const ax_trainer *t);
/* Seconds since the first step (0 before it). */
double ax_trainer_elapsed_s (const ax_trainer *t);
/* 1 once max_time seconds of training are spent. */
int ax_trainer_time_up (const ax_trainer *t);
/* Details of the last failure ("" if none). */
const char *ax_trainer_last_error (const ax_trainer *t);

/* A batch of images (batch x 3 x size x size floats, zeroed) in the first
 * backend's host memory for uploads (pinned on CUDA: the upload is a DMA
 * straight from it). */
ax_status ax_trainer_alloc_images (ax_trainer *t, float **images);
void ax_trainer_free_images (ax_trainer *t, float *images);

/* One SGD step (ax_trainer_net_step) on a batch at the current learning
 * rate; the loss and error counts also add up for the next report. The
 * first step starts the clock. */
ax_status ax_trainer_step (ax_trainer *t, const float *images,
    const int32_t *labels, int n, ax_trainer_result *result);

/* Evaluates the first n (1..batch) of a batch of images without dropout
 * and adds their wrong top-1 and top-5 answers to the counts; the rest of
 * the batch is overwritten with copies of the first image. */
ax_status ax_trainer_evaluate (ax_trainer *t, float *images, int32_t *labels,
    int n, uint64_t *top1_wrong, uint64_t *top5_wrong);

/* The steps since the last report, as a "train" metrics line. */
typedef struct {
  uint64_t epoch, step;
  double loss;                  /* mean over those steps */
  double train_top1, train_top5;        /* error rates over their images */
  double val_top1, val_top5;    /* the last validation's, -1: none yet */
  double learning_rate;         /* of the next step */
  double images_per_second;
  double time_left;             /* s until the budget is spent, -1: no budget */
  double elapsed;               /* s since the first step */
} ax_trainer_progress;

uint64_t ax_trainer_unreported_steps (const ax_trainer *t);
/* Fills *p, writes it to the metrics file and starts the next interval.
 * AX_ERR_IO when the line could not be written (*p is filled anyway). */
ax_status ax_trainer_report (ax_trainer *t, ax_trainer_progress *p);

/* An epoch's end, as an "epoch" metrics line. */
typedef struct {
  uint64_t epoch, step;
  uint64_t val_images;          /* 0: no validation */
  double val_top1, val_top5;    /* -1 without validation */
  double learning_rate;         /* of the next step, after the schedule */
  int lr_dropped;               /* the schedule divided it by 10 */
  int lr_drops;                 /* drops so far */
  double elapsed;
} ax_trainer_epoch_report;

/* Counts the epoch, keeps the validation errors (val_images of them, -1
 * without), applies the schedule and writes the metrics line. AX_ERR_IO
 * when the line could not be written (*r is filled anyway). */
ax_status ax_trainer_epoch_end (ax_trainer *t, uint64_t val_images,
    double val_top1, double val_top5, ax_trainer_epoch_report *r);

/* Writes the whole training state to `path` (atomically): the net, its
 * momentum, counters, learning rate, RNG and, as `extra`, the schedule's
 * state. */
ax_status ax_trainer_save (ax_trainer *t, const char *path);

#ifdef __cplusplus
}
#endif
#endif
