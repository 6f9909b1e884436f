/* The trainer (kernels/nn/trainer.h): the learning-rate schedules; its
 * step against the same steps written with ax_net_forward / loss /
 * backward / update; a resume from its checkpoint continuing exactly, and
 * init-from taking the weights only; the metrics lines and the
 * checkpoint's JSON read back with the project's reader; the errors of
 * settings that do not fit; and its input table bit for bit the one
 * alexnet-infer derives from the checkpoint it wrote. */
#include "kernels/cpu/cpu_backend.h"
#include "kernels/image/classify.h"
#include "kernels/nn/trainer.h"
#include "kernels/util/json.h"
#include "kernels/util/rng.h"
#include "tests/ax_test.h"
#include "tests/net_test_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIZE 67
#define DIV 16
#define CLASSES 7
#define BATCH 4
#define IMAGE (3 * SIZE * SIZE)

static char dir[] = "/tmp/trainer-XXXXXX";

static char *
path_of (const char *name)
{
  return ax_test_path (dir, name);
}

/* ---- the schedules ---- */

static void
test_schedule_plateau (void)
{
  ax_trainer_schedule s;
  /* errors per epoch and whether the lr drops after it (patience 1) */
  const double err[] = { 0.9, 0.8, 0.8, 0.7, 0.75, 0.6, 0.6, 0.6, 0.6, 0.6 };
  const int drop[] = { 0, 0, 1, 0, 1, 0, 1, 0, 0, 0 };
  double lr = 0.01;

  ax_trainer_schedule_init (&s, AX_TRAINER_LR_PLATEAU, 3, 1, 1);
  for (int i = 0; i < 10; i++) {
    double f = ax_trainer_schedule_epoch_end (&s, i + 1, err[i]);
    AX_CHECK (f == (drop[i] ? 0.1 : 1.0), "epoch %d: factor %g", i + 1, f);
    lr *= f;
  }
  /* three drops at most */
  AX_CHECK (s.drops == 3, "%d drops", s.drops);
  AX_CHECK (fabs (lr - 1e-5) < 1e-12, "lr %g", lr);

  /* no validation: never drops */
  ax_trainer_schedule_init (&s, AX_TRAINER_LR_PLATEAU, 3, 1, 1);
  for (int i = 0; i < 10; i++)
    AX_CHECK (ax_trainer_schedule_epoch_end (&s, i + 1, -1.0) == 1.0,
        "dropped without validation at epoch %d", i + 1);

  /* patience 2: two epochs without improvement before a drop */
  ax_trainer_schedule_init (&s, AX_TRAINER_LR_PLATEAU, 3, 2, 1);
  AX_CHECK (ax_trainer_schedule_epoch_end (&s, 1, 0.5) == 1.0, "epoch 1");
  AX_CHECK (ax_trainer_schedule_epoch_end (&s, 2, 0.5) == 1.0, "epoch 2");
  AX_CHECK (ax_trainer_schedule_epoch_end (&s, 3, 0.4) == 1.0, "epoch 3");
  AX_CHECK (ax_trainer_schedule_epoch_end (&s, 4, 0.45) == 1.0, "epoch 4");
  AX_CHECK (ax_trainer_schedule_epoch_end (&s, 5, 0.41) == 0.1, "epoch 5");
  AX_CHECK (s.best_error == 0.4 && s.bad_epochs == 0 && s.drops == 1,
      "state %g %d %d", s.best_error, s.bad_epochs, s.drops);
}

static void
test_schedule_step (void)
{
  ax_trainer_schedule s;
  int drops_at[4] = { 0 }, n = 0;

  ax_trainer_schedule_init (&s, AX_TRAINER_LR_STEP, 3, 1, 30);
  for (uint64_t e = 1; e <= 200; e++)
    if (ax_trainer_schedule_epoch_end (&s, e, 0.5) != 1.0 && n < 4)
      drops_at[n++] = (int) e;
  AX_CHECK (n == 3 && drops_at[0] == 30 && drops_at[1] == 60
      && drops_at[2] == 90, "%d drops: %d %d %d", n, drops_at[0],
      drops_at[1], drops_at[2]);

  ax_trainer_schedule_init (&s, AX_TRAINER_LR_CONSTANT, 3, 1, 1);
  for (uint64_t e = 1; e <= 10; e++)
    AX_CHECK (ax_trainer_schedule_epoch_end (&s, e, 0.9) == 1.0,
        "constant dropped at epoch %d", (int) e);
}

/* The budget schedules: PyTorch's LinearLR to 0 and CosineAnnealingLR. */
static void
test_schedule_budget (void)
{
  ax_trainer_schedule s;

  ax_trainer_schedule_init (&s, AX_TRAINER_LR_LINEAR, 3, 1, 1);
  AX_CHECK (ax_trainer_schedule_budget_factor (&s, 0.0) == 1.0, "linear 0");
  AX_CHECK (fabs (ax_trainer_schedule_budget_factor (&s, 0.25) - 0.75)
      < 1e-15, "linear 0.25");
  AX_CHECK (ax_trainer_schedule_budget_factor (&s, 1.0) == 0.0, "linear 1");
  /* clamped outside [0, 1] */
  AX_CHECK (ax_trainer_schedule_budget_factor (&s, 2.0) == 0.0, "linear 2");
  AX_CHECK (ax_trainer_schedule_budget_factor (&s, -1.0) == 1.0, "linear -1");
  /* never drops at epoch ends */
  for (int i = 0; i < 10; i++)
    AX_CHECK (ax_trainer_schedule_epoch_end (&s, i + 1, 0.5) == 1.0,
        "linear dropped at epoch %d", i + 1);

  ax_trainer_schedule_init (&s, AX_TRAINER_LR_COSINE, 3, 1, 1);
  for (int i = 0; i <= 8; i++) {
    double p = i / 8.0;
    AX_CHECK (fabs (ax_trainer_schedule_budget_factor (&s, p)
            - 0.5 * (1.0 + cos (M_PI * p))) < 1e-15, "cosine %g", p);
  }
  /* the epoch schedules are not scaled */
  ax_trainer_schedule_init (&s, AX_TRAINER_LR_STEP, 3, 1, 1);
  AX_CHECK (ax_trainer_schedule_budget_factor (&s, 0.9) == 1.0, "step");
  AX_CHECK (ax_trainer_schedule_needs_budget (AX_TRAINER_LR_COSINE)
      && !ax_trainer_schedule_needs_budget (AX_TRAINER_LR_PLATEAU), "budget");
}

/* ---- trainers ---- */

static ax_trainer_settings
small_settings (void)
{
  ax_trainer_settings s;
  ax_trainer_settings_init (&s);
  s.n_classes = CLASSES;
  s.input_size = SIZE;
  s.width_divisor = DIV;
  s.batch = BATCH;
  s.init = AX_INIT_XAVIER;
  s.seed = 7;
  s.lr_mode = AX_TRAINER_LR_CONSTANT;
  return s;
}

static ax_trainer *
make_trainer (const ax_trainer_settings *s)
{
  ax_trainer_diag d;
  ax_trainer *t = NULL;
  ax_status st = ax_trainer_create (s, &t, &d);
  AX_CHECK (st == AX_OK && t != NULL, "create: %s (%s)", d.error, d.details);
  return t;
}

/* Batch k of a fixed sequence: images N(0, 1), labels in turn. */
static void
batch_k (int k, float *x, int32_t *labels)
{
  ax_rng rng;
  ax_rng_seed (&rng, 1000 + (uint64_t) k);
  for (size_t i = 0; i < (size_t) BATCH * IMAGE; i++)
    x[i] = (float) ax_rng_normal (&rng);
  for (int i = 0; i < BATCH; i++)
    labels[i] = (int32_t) ((k * BATCH + i) % CLASSES);
}

/* 1 when every parameter (`which`) of a and b is equal bit for bit. */
static int
same_params (ax_net *a, ax_net *b, ax_param_buffer which)
{
  int same = ax_net_n_params (a) == ax_net_n_params (b);
  for (int p = 0; same && p < ax_net_n_params (a); p++) {
    size_t n = ax_net_param (a, p)->count;
    float *u = calloc (n, sizeof *u), *v = calloc (n, sizeof *v);
    same = u && v && ax_net_param_get (a, p, which, u, n) == AX_OK
        && ax_net_param_get (b, p, which, v, n) == AX_OK
        && memcmp (u, v, n * sizeof *u) == 0;
    free (u);
    free (v);
  }
  return same;
}

/* The seed of the initial weights and the dropout seed of `seed`. */
static void
derived_seeds (uint64_t seed, uint64_t *init_seed, uint64_t *dropout_seed)
{
  ax_rng rng;
  ax_rng_seed (&rng, seed);
  *init_seed = ax_rng_u64 (&rng) >> 1;
  *dropout_seed = ax_rng_u64 (&rng) >> 1;
}

/* Wrong top-1 and top-5 answers of n rows by ax_top_k. */
static void
count_by_top_k (const float *probs, const int32_t *labels, int n,
    uint64_t *wrong1, uint64_t *wrong5)
{
  for (int i = 0; i < n; i++) {
    int idx[5];
    float val[5];
    int k = ax_top_k (idx, val, probs + (size_t) i * CLASSES, CLASSES, 5);
    int in5 = 0;
    for (int j = 0; j < k; j++)
      in5 |= idx[j] == labels[i];
    *wrong1 += idx[0] != labels[i];
    *wrong5 += !in5;
  }
}

/* The trainer's step is forward (dropout on), loss, backward and the
 * paper's update at its settings, on weights initialised from its seed. */
static void
test_step_equals_net_calls (void)
{
  ax_trainer_settings s = small_settings ();
  ax_trainer *t;
  ax_backend *be = NULL;
  ax_net *net = NULL, *ref = NULL;
  ax_net_config cfg = { BATCH, AX_PLACE_ONE, 1, { NULL } };
  ax_sgd_step sgd = { 0.02f, 0.8f, 0.001f };
  float *x = malloc ((size_t) BATCH * IMAGE * sizeof *x);
  float probs[BATCH * CLASSES];
  int32_t labels[BATCH];
  uint64_t init_seed, dropout_seed, wrong1 = 0, wrong5 = 0;
  char err[512] = "";

  s.learning_rate = 0.02;
  s.momentum = 0.8;
  s.weight_decay = 0.001;
  t = make_trainer (&s);
  if (!t)
    return;
  net = ax_trainer_net (t);
  AX_CHECK (ax_cpu_backend_create (0, &be) == AX_OK, "CPU backend");
  cfg.backends[0] = be;
  AX_CHECK (ax_net_create (ax_net_get_spec (net), &cfg, &ref, err,
          sizeof err) == AX_OK, "%s", err);
  if (!ref)
    goto out;
  derived_seeds (s.seed, &init_seed, &dropout_seed);
  AX_CHECK (ax_net_init (ref, AX_INIT_XAVIER, init_seed) == AX_OK, "init");
  ax_net_set_dropout_seed (ref, dropout_seed);
  AX_CHECK (same_params (net, ref, AX_PARAM_VALUE), "initial weights");
  AX_CHECK (ax_net_dropout_seed (net) == dropout_seed, "dropout seed");

  for (int k = 0; k < 3; k++) {
    ax_trainer_result r;
    float loss = 0;
    batch_k (k, x, labels);
    AX_CHECK (ax_trainer_step (t, x, labels, BATCH, &r) == AX_OK, "step: %s",
        ax_trainer_last_error (t));
    AX_CHECK (ax_net_forward (ref, x, (size_t) BATCH * IMAGE, 1) == AX_OK
        && ax_net_loss (ref, labels, BATCH, &loss) == AX_OK
        && ax_net_probs (ref, probs, BATCH * CLASSES) == AX_OK
        && ax_net_backward (ref) == AX_OK
        && ax_net_update (ref, &sgd) == AX_OK, "net calls: %s",
        ax_net_last_error (ref));
    AX_CHECK (r.loss == loss, "step %d: loss %.9g vs %.9g", k + 1,
        (double) r.loss, (double) loss);
    AX_CHECK (r.step == (uint64_t) k + 1, "step counter %llu",
        (unsigned long long) r.step);
    wrong1 = wrong5 = 0;
    count_by_top_k (probs, labels, BATCH, &wrong1, &wrong5);
    AX_CHECK (r.top1_wrong == wrong1 && r.top5_wrong == wrong5,
        "step %d: errors %llu %llu vs %llu %llu", k + 1,
        (unsigned long long) r.top1_wrong, (unsigned long long) r.top5_wrong,
        (unsigned long long) wrong1, (unsigned long long) wrong5);
  }
  AX_CHECK (same_params (net, ref, AX_PARAM_VALUE), "weights after 3 steps");
  AX_CHECK (same_params (net, ref, AX_PARAM_MOMENTUM), "momentum");
  /* a batch of the wrong size is refused */
  {
    ax_trainer_result r;
    AX_CHECK (ax_trainer_step (t, x, labels, BATCH - 1, &r)
        == AX_ERR_INVALID_ARG, "short batch taken");
  }
out:
  ax_net_destroy (ref);
  ax_trainer_free (t);
  if (be)
    ax_backend_destroy (be);
  free (x);
}

/* A checkpoint's `init` JSON: its scheme and one string member. */
static void
check_init_json (const char *json, const char *scheme, const char *key,
    const char *value)
{
  char err[128] = "";
  ax_json *j = json ? ax_json_parse (json, strlen (json), err, sizeof err)
      : NULL;
  const ax_json *s = ax_json_get (j, "scheme"), *v = ax_json_get (j, key);
  AX_CHECK (j != NULL, "init %s: %s", json ? json : "(none)", err);
  AX_CHECK (s && s->type == AX_JSON_STRING && !strcmp (s->string, scheme),
      "init %s: scheme", json ? json : "(none)");
  AX_CHECK (v && v->type == AX_JSON_STRING && !strcmp (v->string, value),
      "init %s: %s is not %s", json ? json : "(none)", key, value);
  ax_json_free (j);
}

/* Save after 3 steps and an epoch, continue 2 steps; resume the file and
 * take the same 2 steps: the same losses, weights and momentum. init-from
 * takes the weights only. */
static void
test_resume_continues (void)
{
  ax_trainer_settings s = small_settings ();
  /* a name that JSON must escape: the init-from source */
  const char *ckpt = path_of ("a \"quoted\" \\ name.safetensors");
  float *x = malloc ((size_t) BATCH * IMAGE * sizeof *x);
  int32_t labels[BATCH];
  float loss[2][2];
  ax_trainer *t[2], *c;
  ax_trainer_epoch_report ep;
  char seed[32];
  uint64_t init_seed, dropout_seed;

  s.lr_mode = AX_TRAINER_LR_PLATEAU;
  s.lr_patience = 2;
  t[0] = make_trainer (&s);
  if (!t[0])
    return;
  derived_seeds (s.seed, &init_seed, &dropout_seed);
  snprintf (seed, sizeof seed, "%llu", (unsigned long long) init_seed);
  check_init_json (ax_trainer_info (t[0])->init, "xavier", "seed", seed);
  for (int k = 0; k < 3; k++) {
    ax_trainer_result r;
    batch_k (k, x, labels);
    AX_CHECK (ax_trainer_step (t[0], x, labels, BATCH, &r) == AX_OK, "step");
  }
  /* schedule state to keep: best 0.5 after epoch 1, one bad epoch after 2 */
  AX_CHECK (ax_trainer_epoch_end (t[0], 10, 0.5, 0.25, &ep) == AX_OK, "ep");
  AX_CHECK (ax_trainer_epoch_end (t[0], 10, 0.6, 0.25, &ep) == AX_OK, "ep");
  AX_CHECK (ep.epoch == 2 && !ep.lr_dropped, "epoch %llu",
      (unsigned long long) ep.epoch);
  AX_CHECK (ax_trainer_save (t[0], ckpt) == AX_OK, "save: %s",
      ax_trainer_last_error (t[0]));
  AX_CHECK (ax_trainer_last_checkpoint (t[0])
      && !strcmp (ax_trainer_last_checkpoint (t[0]), ckpt), "last");

  /* the settings the checkpoint overrides differ */
  s.resume = ckpt;
  s.seed = 99;
  s.learning_rate = 0.5;
  s.init = AX_INIT_PAPER;
  t[1] = make_trainer (&s);
  if (!t[1])
    goto out;
  AX_CHECK (ax_trainer_start_step (t[1]) == 3 && ax_trainer_epoch (t[1]) == 2
      && ax_trainer_lr (t[1]) == ax_trainer_lr (t[0]), "resumed state");
  AX_CHECK (ax_trainer_get_schedule (t[1])->best_error == 0.5
      && ax_trainer_get_schedule (t[1])->bad_epochs == 1
      && ax_trainer_get_schedule (t[1])->drops == 0, "schedule %g %d %d",
      ax_trainer_get_schedule (t[1])->best_error,
      ax_trainer_get_schedule (t[1])->bad_epochs,
      ax_trainer_get_schedule (t[1])->drops);
  check_init_json (ax_trainer_info (t[1])->init, "xavier", "seed", seed);
  for (int k = 3; k < 5; k++)
    for (int i = 0; i < 2; i++) {
      ax_trainer_result r;
      batch_k (k, x, labels);
      AX_CHECK (ax_trainer_step (t[i], x, labels, BATCH, &r) == AX_OK,
          "step");
      loss[i][k - 3] = r.loss;
    }
  AX_CHECK (loss[0][0] == loss[1][0] && loss[0][1] == loss[1][1],
      "losses %.9g %.9g vs %.9g %.9g", (double) loss[0][0],
      (double) loss[0][1], (double) loss[1][0], (double) loss[1][1]);
  AX_CHECK (same_params (ax_trainer_net (t[0]), ax_trainer_net (t[1]),
          AX_PARAM_VALUE), "weights after resuming");
  AX_CHECK (same_params (ax_trainer_net (t[0]), ax_trainer_net (t[1]),
          AX_PARAM_MOMENTUM), "momentum after resuming");
  /* the RNG state goes on from the checkpoint's into the next one */
  {
    const char *again = path_of ("again.safetensors");
    ax_net_checkpoint_info i0 = { 0 }, i1 = { 0 };
    char err[512] = "";
    AX_CHECK (ax_trainer_save (t[0], ckpt) == AX_OK
        && ax_trainer_save (t[1], again) == AX_OK, "save");
    AX_CHECK (ax_net_checkpoint_read_info (ckpt, &i0, err, sizeof err)
        == AX_OK && ax_net_checkpoint_read_info (again, &i1, err,
            sizeof err) == AX_OK, "%s", err);
    AX_CHECK (i0.has_rng && i1.has_rng && !memcmp (i0.rng.s, i1.rng.s,
            sizeof i0.rng.s) && i0.step == 5 && i1.step == 5, "rng, step");
    ax_net_checkpoint_info_clear (&i0);
    ax_net_checkpoint_info_clear (&i1);
    unlink (again);
  }
  ax_trainer_free (t[1]);

  /* init-from: the weights, a fresh optimiser, the source in init */
  s.resume = NULL;
  s.init_from = ckpt;
  c = make_trainer (&s);
  if (c) {
    ax_net *a = ax_trainer_net (c);
    AX_CHECK (ax_trainer_start_step (c) == 0 && ax_trainer_epoch (c) == 0
        && ax_trainer_lr (c) == 0.5, "init-from state");
    check_init_json (ax_trainer_info (c)->init, "imported", "source", ckpt);
    AX_CHECK (ax_net_n_params (a) > 0, "params");
    ax_trainer_free (c);
  }
out:
  ax_trainer_free (t[0]);
  unlink (ckpt);
  free (x);
}

/* The member `key` of a parsed line exists and has `type`. */
static int
has (const ax_json *line, const char *key, ax_json_type type)
{
  const ax_json *v = ax_json_get (line, key);
  return v && v->type == type;
}

/* Two steps, a report and an epoch end: two JSON lines with the keys of
 * docs/elements/alexnet-train.md; unknown values null. */
static void
test_metrics_lines (void)
{
  static const char *train_keys[] = { "loss", "train_top1_error",
    "train_top5_error", "learning_rate", "images_per_second", "elapsed" };
  ax_trainer_settings s = small_settings ();
  const char *metrics = path_of ("metrics.jsonl");
  float *x = malloc ((size_t) BATCH * IMAGE * sizeof *x);
  int32_t labels[BATCH];
  ax_trainer_progress p;
  ax_trainer_epoch_report ep;
  ax_trainer *t;
  char text[4096], *nl;
  size_t len;
  FILE *f;

  s.metrics_location = metrics;
  if (!(t = make_trainer (&s)))
    return;
  for (int k = 0; k < 2; k++) {
    ax_trainer_result r;
    batch_k (k, x, labels);
    AX_CHECK (ax_trainer_step (t, x, labels, BATCH, &r) == AX_OK, "step");
  }
  AX_CHECK (ax_trainer_unreported_steps (t) == 2, "unreported");
  AX_CHECK (ax_trainer_report (t, &p) == AX_OK, "report");
  AX_CHECK (ax_trainer_unreported_steps (t) == 0, "reported");
  AX_CHECK (p.step == 2 && p.epoch == 0 && p.loss > 0 && p.val_top1 == -1
      && p.time_left == -1 && p.learning_rate == 0.01, "progress");
  AX_CHECK (ax_trainer_epoch_end (t, 0, -1, -1, &ep) == AX_OK, "epoch end");
  ax_trainer_free (t);

  f = fopen (metrics, "r");
  AX_CHECK (f != NULL, "%s", metrics);
  len = f ? fread (text, 1, sizeof text - 1, f) : 0;
  text[len] = '\0';
  if (f)
    fclose (f);
  nl = strchr (text, '\n');
  AX_CHECK (nl && nl[1] && strchr (nl + 1, '\n') == text + len - 1,
      "two lines: %s", text);
  for (char *line = text; nl; line = nl + 1, nl = strchr (line, '\n')) {
    char err[128] = "";
    ax_json *j = ax_json_parse (line, (size_t) (nl - line), err, sizeof err);
    const ax_json *type = ax_json_get (j, "type");
    AX_CHECK (j && type && type->type == AX_JSON_STRING, "%.*s: %s",
        (int) (nl - line), line, err);
    if (!j || !type || type->type != AX_JSON_STRING)
      break;
    AX_CHECK (has (j, "epoch", AX_JSON_NUMBER) && has (j, "step",
            AX_JSON_NUMBER) && has (j, "val_top1_error", AX_JSON_NULL)
        && has (j, "val_top5_error", AX_JSON_NULL), "%s line", type->string);
    if (!strcmp (type->string, "train")) {
      for (size_t i = 0; i < sizeof train_keys / sizeof *train_keys; i++)
        AX_CHECK (has (j, train_keys[i], AX_JSON_NUMBER), "train %s",
            train_keys[i]);
      AX_CHECK (has (j, "time_left", AX_JSON_NULL), "time_left");
      AX_CHECK (ax_json_get (j, "step")->integer == 2, "step");
    } else {
      AX_CHECK (!strcmp (type->string, "epoch"), "type %s", type->string);
      AX_CHECK (has (j, "val_images", AX_JSON_NUMBER)
          && has (j, "learning_rate_dropped", AX_JSON_BOOL)
          && has (j, "elapsed", AX_JSON_NUMBER)
          && ax_json_get (j, "epoch")->integer == 1, "epoch line");
    }
    ax_json_free (j);
  }
  unlink (metrics);
  free (x);
}

/* Settings that do not fit fail with the fault and message that say so. */
static void
test_bad_settings (void)
{
  static const char *const names[] = { "a", "b", NULL };
  struct {
    const char *what;
    ax_trainer_fault fault;
    const char *says;
  } cases[] = {
    { "no classes", AX_TRAINER_FAULT_CLASSES, "number of classes" },
    { "no budget", AX_TRAINER_FAULT_SETTINGS, "max-steps or max-time" },
    { "replicas", AX_TRAINER_FAULT_SETTINGS, "does not divide" },
    { "missing checkpoint", AX_TRAINER_FAULT_CHECKPOINT, "resume from" },
    { "bad std", AX_TRAINER_FAULT_SETTINGS, "std must be positive" },
    { "metrics", AX_TRAINER_FAULT_METRICS, "metrics file" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    ax_trainer_settings s = small_settings ();
    ax_trainer_diag d;
    ax_trainer *t = NULL;
    switch (i) {
      case 0: s.n_classes = 0; break;
      case 1: s.lr_mode = AX_TRAINER_LR_COSINE; break;
      case 2: s.replicas = 3; break;
      case 3: s.resume = path_of ("none.safetensors"); break;
      case 4: s.std[1] = 0; break;
      default: s.metrics_location = path_of ("no/such/dir/m.jsonl"); break;
    }
    AX_CHECK (ax_trainer_create (&s, &t, &d) != AX_OK && t == NULL
        && d.fault == cases[i].fault && strstr (d.error, cases[i].says),
        "%s: fault %d: %s", cases[i].what, (int) d.fault, d.error);
  }
  /* class names: their count decides, or is dropped when it disagrees */
  {
    ax_trainer_settings s = small_settings ();
    ax_trainer *t;
    s.n_classes = 0;
    s.class_names = names;
    if ((t = make_trainer (&s))) {
      const ax_net_checkpoint_info *info = ax_trainer_info (t);
      AX_CHECK (info->n_classes == 2 && info->class_names
          && !strcmp (info->class_names[1], "b"), "names");
      ax_trainer_free (t);
    }
  }
}

/* ---- the input ---- */

/* The trainer's table on a frame with a padded stride is bit for bit what
 * alexnet-infer gets from the checkpoint the trainer wrote (read_info,
 * ax_net_checkpoint_input_lut, ax_rgb_to_chw), and that is torchvision's
 * float32 arithmetic, not the same formula in double. */
static void
test_input_matches_infer (void)
{
  static const double mean[3] = { 0.485, 0.456, 0.406 };
  static const double std[3] = { 0.229, 0.224, 0.225 };
  const int w = SIZE, h = SIZE - 4, stride = 3 * SIZE + 5;
  uint8_t *frame = malloc ((size_t) stride * h);
  float *a = malloc ((size_t) 3 * w * h * sizeof *a);
  float *b = malloc ((size_t) 3 * w * h * sizeof *b);
  ax_rng rng;

  ax_rng_seed (&rng, 5);
  for (int i = 0; i < stride * h; i++)
    frame[i] = (uint8_t) ax_rng_below (&rng, 256);
  for (int use_std = 0; use_std <= 1; use_std++) {
    ax_trainer_settings s = small_settings ();
    const char *ckpt = path_of ("lut.safetensors");
    ax_net_checkpoint_info info = { 0 };
    float mine[3][256], infer[3][256], dbl[3][256];
    char err[512] = "";
    ax_trainer *t;
    int differ = 0;

    memcpy (s.mean, mean, sizeof mean);
    memcpy (s.std, std, sizeof std);
    s.use_std = use_std;
    if (!(t = make_trainer (&s)))
      continue;
    ax_trainer_input_lut (t, mine);
    AX_CHECK (ax_trainer_save (t, ckpt) == AX_OK, "save: %s",
        ax_trainer_last_error (t));
    ax_trainer_free (t);
    AX_CHECK (ax_net_checkpoint_read_info (ckpt, &info, err, sizeof err)
        == AX_OK, "%s", err);
    AX_CHECK (info.has_normalization && info.mean[0] == (float) mean[0]
        && info.std[0] == (use_std ? (float) std[0] : 1.0f),
        "normalisation %g %g", (double) info.mean[0], (double) info.std[0]);
    ax_net_checkpoint_input_lut (&info, infer);
    ax_net_checkpoint_info_clear (&info);
    unlink (ckpt);

    ax_rgb_to_chw (a, frame, stride, w, h, (const float (*)[256]) mine);
    ax_rgb_to_chw (b, frame, stride, w, h, (const float (*)[256]) infer);
    AX_CHECK (memcmp (mine, infer, sizeof mine) == 0, "tables, use_std %d",
        use_std);
    AX_CHECK (memcmp (a, b, (size_t) 3 * w * h * sizeof *a) == 0,
        "frames, use_std %d", use_std);
    /* a pixel by hand: the green of (x 5, y 2) */
    AX_CHECK (a[(size_t) w * h + 2 * w + 5] ==
        mine[1][frame[2 * stride + 3 * 5 + 1]], "pixel");

    for (int c = 0; c < 3; c++)
      for (int v = 0; v < 256; v++) {
        dbl[c][v] = (float) ((v / 255.0 - mean[c]) / (use_std ? std[c] : 1));
        differ += dbl[c][v] != mine[c][v];
      }
    AX_CHECK (differ > 0, "use_std %d: the table equals the double one",
        use_std);
  }
  free (frame);
  free (a);
  free (b);
}

/* init-from another VGG configuration: a narrowed A initialises a D (the
 * paper's recipe); the layers whose names and shapes match are copied, the
 * others keep their init, and the note says which. */
static void
test_init_from_shallower_vgg (void)
{
  ax_trainer_settings s = small_settings ();
  ax_trainer_diag d;
  ax_trainer *a, *t = NULL;
  const char *ckpt = path_of ("vgg-a.safetensors");
  s.arch = "vgg-a";
  s.input_size = 32;
  s.width_divisor = 8;
  if (!(a = make_trainer (&s)))
    return;
  AX_CHECK (ax_trainer_save (a, ckpt) == AX_OK, "save");
  ax_net *na = ax_trainer_net (a);

  s.arch = "vgg16";
  s.init_from = ckpt;
  s.seed = 8;
  AX_CHECK (ax_trainer_create (&s, &t, &d) == AX_OK, "D from A: %s (%s)",
      d.error, d.details);
  if (t) {
    ax_net *nd = ax_trainer_net (t);
    printf ("  %s\n", d.note);
    AX_CHECK (strstr (d.note, "copied conv1_1,conv2_1,conv3_1,conv3_2,"
            "conv4_1,conv4_2,conv5_1,conv5_2,fc6,fc7,fc8;") != NULL,
        "note: %s", d.note);
    AX_CHECK (strcmp (ax_net_get_spec (nd)->arch, "vgg-d") == 0, "arch %s",
        ax_net_get_spec (nd)->arch);
    /* A's conv3_2 (features.8) is D's conv3_2 (features.12); D's conv3_3
     * (features.14) is its own */
    int pa = ax_net_param_find (na, "features.8.weight");
    int pd = ax_net_param_find (nd, "features.12.weight");
    int pd3 = ax_net_param_find (nd, "features.14.weight");
    AX_CHECK (pa >= 0 && pd >= 0 && pd3 >= 0, "names");
    if (pa >= 0 && pd >= 0 && pd3 >= 0) {
      float *wa = ax_test_param_values (na, pa, AX_PARAM_VALUE);
      float *wd = ax_test_param_values (nd, pd, AX_PARAM_VALUE);
      float *w3 = ax_test_param_values (nd, pd3, AX_PARAM_VALUE);
      size_t n = ax_net_param (nd, pd)->count;
      AX_CHECK (memcmp (wa, wd, n * sizeof *wa) == 0, "conv3_2 not copied");
      AX_CHECK (memcmp (wa, w3, n * sizeof *wa) != 0, "conv3_3 copied");
      free (wa);
      free (wd);
      free (w3);
    }
    ax_trainer_free (t);
    t = NULL;
  }
  /* the paper's own selection; other classes: fc8 has other shapes */
  s.init_from_layers = "conv1_1,conv2_1,conv3_1,conv3_2,fc6,fc7,fc8";
  s.n_classes = CLASSES + 1;
  AX_CHECK (ax_trainer_create (&s, &t, &d) == AX_OK, "selected: %s",
      d.error);
  if (t)
    AX_CHECK (strstr (d.note, "copied conv1_1,conv2_1,conv3_1,conv3_2,fc6,"
            "fc7;") && strstr (d.note, "other shapes: fc8"), "note: %s",
        d.note);
  ax_trainer_free (t);
  t = NULL;
  /* nothing matches: an error, not a silent random start */
  s.init_from_layers = "conv9_9";
  AX_CHECK (ax_trainer_create (&s, &t, &d) != AX_OK && t == NULL
      && strstr (d.error, "no layer"), "nothing copied: %s", d.error);
  ax_trainer_free (a);
}

int
main (void)
{
  if (!mkdtemp (dir)) {
    perror ("mkdtemp");
    return 1;
  }
  AX_RUN (test_schedule_plateau);
  AX_RUN (test_schedule_step);
  AX_RUN (test_schedule_budget);
  AX_RUN (test_step_equals_net_calls);
  AX_RUN (test_resume_continues);
  AX_RUN (test_metrics_lines);
  AX_RUN (test_bad_settings);
  AX_RUN (test_input_matches_infer);
  AX_RUN (test_init_from_shallower_vgg);
  rmdir (dir);
  return ax_test_finish ();
}
