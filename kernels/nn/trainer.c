/* The trainer: building or restoring the network from settings and a
 * checkpoint, what it is, and its checkpoints (trainer.h). */
#include "kernels/nn/trainer_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/util/json.h"

/* A copy of s, or NULL for NULL. */
static char *
dup_str (const char *s)
{
  return s ? strdup (s) : NULL;
}

/* ---- building ---- */

void
ax_trainer_settings_init (ax_trainer_settings *s)
{
  memset (s, 0, sizeof *s);
  s->arch = "alexnet-paper";
  s->input_size = 224;
  s->width_divisor = 1;
  s->dropout = 0.5;
  s->init = AX_INIT_PAPER;
  s->std[0] = s->std[1] = s->std[2] = 1.0;
  s->use_std = 1;
  s->device = AX_DEVICE_CPU;
  s->towers = 1;
  s->replicas = 1;
  s->batch = 128;
  s->learning_rate = 0.01;
  s->momentum = 0.9;
  s->weight_decay = 0.0005;
  s->lr_mode = AX_TRAINER_LR_PLATEAU;
  s->lr_drops = 3;
  s->lr_patience = 1;
  s->lr_step_epochs = 30;
}

static ax_status
fail (ax_trainer_diag *d, ax_trainer_fault fault, ax_status st,
    const char *details, const char *fmt, ...)
    __attribute__ ((format (printf, 5, 6)));

static ax_status
fail (ax_trainer_diag *d, ax_trainer_fault fault, ax_status st,
    const char *details, const char *fmt, ...)
{
  va_list ap;

  d->fault = fault;
  va_start (ap, fmt);
  vsnprintf (d->error, sizeof d->error, fmt, ap);
  va_end (ap);
  snprintf (d->details, sizeof d->details, "%s", details ? details : "");
  return st;
}

static const char *
device_name (ax_device device)
{
  return device == AX_DEVICE_CUDA ? "cuda" : "cpu";
}

static int
count_names (const char *const *names)
{
  int n = 0;
  while (names && names[n])
    n++;
  return n;
}

/* n names in one owned NULL-terminated array (each name its own block). */
static char **
copy_names (const char *const *names, int n)
{
  char **out = calloc ((size_t) n + 1, sizeof *out);
  for (int i = 0; out && i < n; i++)
    if (!(out[i] = dup_str (names[i] ? names[i] : ""))) {
      while (i-- > 0)
        free (out[i]);
      free (out);
      return NULL;
    }
  return out;
}

static void
free_names (char **names)
{
  for (int i = 0; names && names[i]; i++)
    free (names[i]);
  free (names);
}

/* The spec from the arch, class count, input size and width divisor, the
 * dropout probability set on the dropout layers. */
static ax_status
build_spec (ax_trainer *t, const char *arch, int classes, int size,
    int divisor, double dropout, ax_trainer_diag *d)
{
  ax_status st = ax_net_spec_by_arch (&t->spec, arch, classes, size);

  if (st == AX_OK && divisor > 1)
    st = ax_net_spec_narrow (&t->spec, divisor);
  if (st != AX_OK)
    return fail (d, AX_TRAINER_FAULT_SETTINGS, st, NULL, "Cannot build the "
        "network %s for %d classes at %dx%d with widths divided by %d: %s",
        arch, classes, size, size, divisor, ax_status_str (st));
  for (int i = 0; i < t->spec.n_layers; i++)
    if (t->spec.layers[i].kind == AX_LAYER_DROPOUT)
      t->spec.layers[i].p.dropout.p = (float) dropout;
  return AX_OK;
}

/* Mean and std from a resumed checkpoint or the settings, as floats: the
 * checkpoint keeps them so, and a resumed run normalises exactly as the
 * run it continues. */
static ax_status
setup_normalization (ax_trainer *t, const ax_trainer_settings *s,
    const ax_net_checkpoint_info *resumed, ax_trainer_diag *d)
{
  float *mean = t->info.mean, *std = t->info.std;

  t->info.has_normalization = 1;
  for (int c = 0; c < 3; c++) {
    if (resumed) {
      mean[c] = resumed->mean[c];
      std[c] = resumed->std[c];
    } else {
      mean[c] = (float) s->mean[c];
      std[c] = s->use_std ? (float) s->std[c] : 1.0f;
    }
  }
  for (int c = 0; c < 3; c++)
    if (!(std[c] > 0))
      return fail (d, AX_TRAINER_FAULT_SETTINGS, AX_ERR_INVALID_ARG, NULL,
          "The normalisation std must be positive, got %g %g %g",
          (double) std[0], (double) std[1], (double) std[2]);
  return AX_OK;
}

/* The backends (on CUDA where asked and possible: ax_backends_create
 * places the towers or replicas on the GPUs; on the CPU two one-thread
 * instances for the towers, one per replica, or one with every thread)
 * and the training net for t->spec and t->batch. */
static ax_status
create_net (ax_trainer *t, const ax_trainer_settings *s, ax_trainer_diag *d)
{
  ax_backends_request req;
  ax_net_config cfg;
  char err[512] = "";
  ax_status st;

  memset (&req, 0, sizeof req);
  req.device = s->device;
  req.placement = s->replicas > 1 ? AX_PLACE_DATA :
      (s->towers == 2 ? AX_PLACE_TOWERS : AX_PLACE_ONE);
  req.n = s->replicas > 1 ? s->replicas : s->towers;
  req.deterministic = s->deterministic;
  req.conv_algo = s->conv_algo;
  if (s->replicas > 1 && t->batch % s->replicas != 0)
    return fail (d, AX_TRAINER_FAULT_SETTINGS, AX_ERR_INVALID_ARG, NULL,
        "batch-size %d does not divide into %d replicas", t->batch,
        s->replicas);
  st = ax_backends_create (&req, t->backends, &t->device_used,
      d->backend_note, sizeof d->backend_note, err, sizeof err);
  if (st != AX_OK)
    return fail (d, AX_TRAINER_FAULT_LIBRARY, st, err, "Could not create "
        "the backends (%s, %d): %s", device_name (s->device), req.n,
        ax_status_str (st));

  memset (&cfg, 0, sizeof cfg);
  cfg.batch = t->batch;
  cfg.training = 1;
  cfg.placement = req.placement;
  for (int i = 0; i < req.n; i++)
    cfg.backends[i] = t->backends[i];
  st = ax_net_create (&t->spec, &cfg, &t->net, err, sizeof err);
  if (st != AX_OK)
    return fail (d, AX_TRAINER_FAULT_LIBRARY, st, err, "Could not create "
        "the network (batch %d, %dx%d): %s", t->batch, t->spec.in_h,
        t->spec.in_w, ax_status_str (st));
  return AX_OK;
}

/* `init` of a fresh net ({"scheme":"paper","seed":"..."}) or of one
 * initialised from a checkpoint ({"scheme":"imported","source":"..."}). */
static char *
init_json (const char *scheme, uint64_t seed, const char *source)
{
  ax_json_writer w = { 0 };
  char text[32];

  ax_json_begin_object (&w);
  ax_json_key (&w, "scheme");
  ax_json_string (&w, scheme);
  if (source) {
    ax_json_key (&w, "source");
    ax_json_string (&w, source);
  } else {
    snprintf (text, sizeof text, "%llu", (unsigned long long) seed);
    ax_json_key (&w, "seed");
    ax_json_string (&w, text);
  }
  ax_json_end_object (&w);
  if (w.out.failed) {
    ax_strbuf_free (&w.out);
    return NULL;
  }
  return w.out.data;
}

/* The schedule's state in a checkpoint's `extra`. */
static char *
extra_json (const ax_trainer_schedule *s)
{
  ax_json_writer w = { 0 };

  ax_json_begin_object (&w);
  ax_json_key (&w, "lr_schedule");
  ax_json_begin_object (&w);
  ax_json_key (&w, "drops");
  ax_json_int (&w, s->drops);
  ax_json_key (&w, "bad_epochs");
  ax_json_int (&w, s->bad_epochs);
  ax_json_key (&w, "best_error");
  ax_json_double (&w, s->best_error);
  ax_json_end_object (&w);
  ax_json_end_object (&w);
  if (w.out.failed) {
    ax_strbuf_free (&w.out);
    return NULL;
  }
  return w.out.data;
}

/* The schedule's state back from `extra`; members it lacks stay. */
static void
parse_extra (ax_trainer_schedule *s, const char *text, ax_trainer_diag *d)
{
  const ax_json *sched, *v;
  ax_json *root;
  char err[128];

  if (text == NULL)
    return;
  root = ax_json_parse (text, strlen (text), err, sizeof err);
  if (root == NULL) {
    snprintf (d->warning, sizeof d->warning, "the checkpoint's extra "
        "metadata: %s", err);
    return;
  }
  sched = ax_json_get (root, "lr_schedule");
  if ((v = ax_json_get (sched, "drops")) && v->type == AX_JSON_NUMBER)
    s->drops = (int) v->number;
  if ((v = ax_json_get (sched, "bad_epochs")) && v->type == AX_JSON_NUMBER)
    s->bad_epochs = (int) v->number;
  if ((v = ax_json_get (sched, "best_error")) && v->type == AX_JSON_NUMBER)
    s->best_error = v->number;
  ax_json_free (root);
}

/* What network: a checkpoint says (checked against the settings);
 * otherwise the settings. Then the spec. */
/* init_from copies only some layers into a net of the settings' own
 * architecture (ax_net_checkpoint_copy_layers): when asked to, or when the
 * file is another VGG configuration (the paper's A to B-E). */
static int
copies_layers (const ax_trainer_settings *s, const ax_net_checkpoint_info *ck)
{
  ax_net_spec a, b;
  if (s->resume || !s->init_from)
    return 0;
  if (s->init_from_layers)
    return 1;
  return ax_net_arch_is_vgg (s->arch) && ax_net_arch_is_vgg (ck->arch)
      && ax_net_spec_by_arch (&a, s->arch, 1, 224) == AX_OK
      && ax_net_spec_by_arch (&b, ck->arch, 1, 224) == AX_OK
      && strcmp (a.arch, b.arch) != 0;
}

static ax_status
setup_spec (ax_trainer *t, const ax_trainer_settings *s, const char *ckpt,
    const ax_net_checkpoint_info *ck, ax_trainer_diag *d)
{
  const char *const *names = s->class_names;
  const char *arch = s->arch;
  int n_names = count_names (names), classes = s->n_classes;
  int divisor = s->width_divisor;

  if (ckpt && copies_layers (s, ck)) {
    t->copy_layers = 1;         /* the settings' net; classes as without */
    if (classes == 0 && names)
      classes = n_names;
  } else if (ckpt) {
    if (ck->input_size != s->input_size)
      return fail (d, AX_TRAINER_FAULT_SETTINGS, AX_ERR_INVALID_ARG, NULL,
          "%s was trained at input size %d, but input-size is %d", ckpt,
          ck->input_size, s->input_size);
    if ((classes > 0 && classes != ck->n_classes)
        || (names && n_names != ck->n_classes))
      return fail (d, AX_TRAINER_FAULT_SETTINGS, AX_ERR_INVALID_ARG, NULL,
          "%s has %d classes, but the stream (or num-classes) has %d", ckpt,
          ck->n_classes, classes > 0 ? classes : n_names);
    classes = ck->n_classes;
    arch = ck->arch;
    /* the checkpoint's architecture, narrowing included, wins */
    if (ck->width_divisor > 0)
      divisor = ck->width_divisor;
    if (ck->class_names && !names) {
      names = (const char *const *) ck->class_names;
      n_names = classes;
    }
  } else if (classes == 0 && names) {
    classes = n_names;
  }
  if (classes <= 0)
    return fail (d, AX_TRAINER_FAULT_CLASSES, AX_ERR_INVALID_ARG, NULL,
        "The number of classes is unknown: set num-classes, or feed the "
        "element from dataset-src, which announces its classes");
  if (names && n_names != classes) {
    snprintf (d->warning, sizeof d->warning, "%d class names for %d "
        "classes: not saved", n_names, classes);
    names = NULL;
  }
  if (names && !(t->info.class_names = copy_names (names, classes)))
    return fail (d, AX_TRAINER_FAULT_LIBRARY, AX_ERR_NO_MEMORY, NULL,
        "Out of memory");
  t->info.width_divisor = divisor;
  return build_spec (t, arch, classes, s->input_size, divisor, s->dropout,
      d);
}

/* The weights by the settings' scheme. */
static ax_status
init_weights (ax_trainer *t, const ax_trainer_settings *s, uint64_t seed,
    ax_trainer_diag *d)
{
  if ((unsigned) s->init > AX_INIT_TORCH)
    return fail (d, AX_TRAINER_FAULT_SETTINGS, AX_ERR_INVALID_ARG, NULL,
        "Unknown initialisation %d", (int) s->init);
  ax_status st = ax_net_init (t->net, s->init, seed);
  if (st != AX_OK)
    return fail (d, AX_TRAINER_FAULT_LIBRARY, st, ax_net_last_error (t->net),
        "Could not initialise the network: %s", ax_status_str (st));
  return AX_OK;
}

/* The weights and the state: from the checkpoint, or initialised. */
static ax_status
setup_state (ax_trainer *t, const ax_trainer_settings *s, const char *ckpt,
    ax_net_checkpoint_info *ck, ax_trainer_diag *d)
{
  static const char *schemes[] = { "paper", "xavier", "torchvision" };
  /* seeds below 2^63: the checkpoint reader takes integers as int64 */
  uint64_t init_seed;
  char err[512];
  ax_status st;

  ax_rng_seed (&t->rng, s->seed);
  init_seed = ax_rng_u64 (&t->rng) >> 1;
  t->epoch = 0;
  if (ckpt && t->copy_layers) {
    char copied[512], skipped[512];
    if ((st = init_weights (t, s, init_seed, d)) != AX_OK)
      return st;
    st = ax_net_checkpoint_copy_layers (t->net, ckpt, s->init_from_layers,
        copied, sizeof copied, skipped, sizeof skipped, err, sizeof err);
    if (st != AX_OK)
      return fail (d, AX_TRAINER_FAULT_CHECKPOINT, st, NULL, "Could not "
          "initialise from %s: %s", ckpt, err);
    if (!copied[0])
      return fail (d, AX_TRAINER_FAULT_CHECKPOINT, AX_ERR_INVALID_ARG, NULL,
          "init-from %s: no layer of it matches this %s by name and shapes%s"
          "%s", ckpt, t->spec.arch, skipped[0] ? " (other shapes: " : "",
          skipped[0] ? skipped : "");
    if (snprintf (d->note, sizeof d->note, "init-from %s (%s): copied %s; "
            "initialised (%s): the other layers%s%s", ckpt, ck->arch, copied,
            schemes[s->init], skipped[0] ? "; same name, other shapes: " : "",
            skipped) >= (int) sizeof d->note)
      d->note[sizeof d->note - 2] = '.';        /* cut short: a message */
    ax_net_set_dropout_seed (t->net, ax_rng_u64 (&t->rng) >> 1);
    t->info.init = init_json (schemes[s->init], init_seed, ckpt);
    if (!t->info.init || !(t->last_checkpoint = dup_str (ckpt)))
      return fail (d, AX_TRAINER_FAULT_LIBRARY, AX_ERR_NO_MEMORY, NULL,
          "Out of memory");
  } else if (ckpt) {
    int resume = s->resume != NULL;
    ax_net_checkpoint_info_clear (ck);
    st = ax_net_checkpoint_load (t->net, ckpt, resume, ck, err, sizeof err);
    if (st != AX_OK)
      return fail (d, AX_TRAINER_FAULT_CHECKPOINT, st, NULL, "Could not %s "
          "%s: %s", resume ? "resume from" : "initialise from", ckpt, err);
    if (resume) {
      t->epoch = ck->epoch;
      t->lr = ck->learning_rate;
      if (ck->has_rng)
        t->rng = ck->rng;
      parse_extra (&t->schedule, ck->extra, d);
      t->info.init = dup_str (ck->init);
    } else {
      t->info.init = init_json ("imported", 0, ckpt);
      ax_net_set_dropout_seed (t->net, ax_rng_u64 (&t->rng) >> 1);
    }
    if ((!t->info.init && (ck->init || !resume))
        || !(t->last_checkpoint = dup_str (ckpt)))
      return fail (d, AX_TRAINER_FAULT_LIBRARY, AX_ERR_NO_MEMORY, NULL,
          "Out of memory");
  } else {
    if ((st = init_weights (t, s, init_seed, d)) != AX_OK)
      return st;
    ax_net_set_dropout_seed (t->net, ax_rng_u64 (&t->rng) >> 1);
    t->info.init = init_json (schemes[s->init], init_seed, NULL);
    if (!t->info.init)
      return fail (d, AX_TRAINER_FAULT_LIBRARY, AX_ERR_NO_MEMORY, NULL,
          "Out of memory");
  }
  t->start_step = ax_net_step (t->net);
  t->val_top1 = t->val_top5 = -1.0;
  return AX_OK;
}

/* The metadata of the trainer's checkpoints, from the spec. */
static void
describe (ax_trainer *t)
{
  snprintf (t->info.arch, sizeof t->info.arch, "%s", t->spec.arch);
  t->info.n_classes = t->spec.n_classes;
  t->info.input_size = t->spec.in_h;
  t->info.lrn = AX_LRN_PAPER;
  for (int i = 0; i < t->spec.n_layers; i++)
    if (t->spec.layers[i].kind == AX_LAYER_LRN) {
      t->info.lrn = t->spec.layers[i].p.lrn;
      break;
    }
}

static ax_status
check_settings (const ax_trainer_settings *s, ax_trainer_diag *d)
{
  if (!s->arch || s->input_size < 1 || s->width_divisor < 1 || s->batch < 1
      || s->towers < 1 || s->towers > 2 || s->replicas < 1
      || s->replicas > AX_NET_MAX_REPLICAS)
    return fail (d, AX_TRAINER_FAULT_SETTINGS, AX_ERR_INVALID_ARG, NULL,
        "Bad trainer settings");
  if (ax_trainer_schedule_needs_budget (s->lr_mode) && s->max_steps == 0
      && s->max_time <= 0)
    return fail (d, AX_TRAINER_FAULT_SETTINGS, AX_ERR_INVALID_ARG, NULL,
        "lr-schedule=%s decays the learning rate over the training budget: "
        "set max-steps or max-time", s->lr_mode == AX_TRAINER_LR_LINEAR ?
        "linear" : "cosine");
  return AX_OK;
}

ax_status
ax_trainer_create (const ax_trainer_settings *s, ax_trainer **out,
    ax_trainer_diag *d)
{
  ax_net_checkpoint_info ck = { 0 };
  const char *ckpt;
  char err[512];
  ax_trainer *t;
  ax_status st;

  if (!s || !out || !d)
    return AX_ERR_INVALID_ARG;
  *out = NULL;
  memset (d, 0, sizeof *d);
  if ((st = check_settings (s, d)) != AX_OK)
    return st;
  if (!(t = calloc (1, sizeof *t)))
    return fail (d, AX_TRAINER_FAULT_LIBRARY, AX_ERR_NO_MEMORY, NULL,
        "Out of memory");
  t->batch = s->batch;
  t->lr = s->learning_rate;
  t->momentum = s->momentum;
  t->weight_decay = s->weight_decay;
  t->max_steps = s->max_steps;
  t->max_time = s->max_time;
  ax_trainer_schedule_init (&t->schedule, s->lr_mode, s->lr_drops,
      s->lr_patience, s->lr_step_epochs);

  ckpt = s->resume ? s->resume : s->init_from;
  if (ckpt && (st = ax_net_checkpoint_read_info (ckpt, &ck, err,
              sizeof err)) != AX_OK) {
    fail (d, AX_TRAINER_FAULT_CHECKPOINT, st, NULL, "Could not %s %s: %s",
        s->resume ? "resume from" : "initialise from", ckpt, err);
    goto failed;
  }
  if ((st = setup_spec (t, s, ckpt, &ck, d)) != AX_OK)
    goto failed;
  describe (t);
  st = setup_normalization (t, s, s->resume && ck.has_normalization ? &ck :
      NULL, d);
  if (st != AX_OK || (st = create_net (t, s, d)) != AX_OK
      || (st = setup_state (t, s, ckpt, &ck, d)) != AX_OK)
    goto failed;
  t->probs = calloc ((size_t) t->batch * t->spec.n_classes, sizeof *t->probs);
  if (!t->probs) {
    st = fail (d, AX_TRAINER_FAULT_LIBRARY, AX_ERR_NO_MEMORY, NULL,
        "Out of memory");
    goto failed;
  }
  if (s->metrics_location) {
    t->metrics = fopen (s->metrics_location, s->resume ? "a" : "w");
    if (t->metrics == NULL) {
      st = fail (d, AX_TRAINER_FAULT_METRICS, AX_ERR_IO, NULL, "Could not "
          "open the metrics file %s: %s", s->metrics_location,
          strerror (errno));
      goto failed;
    }
  }
  ax_net_checkpoint_info_clear (&ck);
  *out = t;
  return AX_OK;

failed:
  ax_net_checkpoint_info_clear (&ck);
  ax_trainer_free (t);
  return st;
}

void
ax_trainer_free (ax_trainer *t)
{
  if (!t)
    return;
  if (t->net)
    ax_net_destroy (t->net);
  ax_backends_destroy (t->backends, AX_NET_MAX_REPLICAS);
  if (t->metrics)
    fclose (t->metrics);
  free_names (t->info.class_names);
  free (t->info.init);
  free (t->last_checkpoint);
  free (t->probs);
  free (t);
}

/* ---- what it is ---- */

const ax_net_checkpoint_info *
ax_trainer_info (const ax_trainer *t)
{
  return &t->info;
}

void
ax_trainer_input_lut (const ax_trainer *t, float lut[3][256])
{
  ax_net_checkpoint_input_lut (&t->info, lut);
}

ax_net *ax_trainer_net (const ax_trainer *t) { return t->net; }
int ax_trainer_batch (const ax_trainer *t) { return t->batch; }
ax_device ax_trainer_device (const ax_trainer *t) { return t->device_used; }
uint64_t ax_trainer_epoch (const ax_trainer *t) { return t->epoch; }
uint64_t ax_trainer_start_step (const ax_trainer *t) { return t->start_step; }
double ax_trainer_lr (const ax_trainer *t) { return t->lr; }
const char *ax_trainer_last_error (const ax_trainer *t) { return t->err; }

const ax_trainer_schedule *
ax_trainer_get_schedule (const ax_trainer *t)
{
  return &t->schedule;
}

const char *
ax_trainer_last_checkpoint (const ax_trainer *t)
{
  return t->last_checkpoint;
}

/* ---- checkpoints ---- */

ax_status
ax_trainer_save (ax_trainer *t, const char *path)
{
  char *extra = extra_json (&t->schedule), *copy = dup_str (path);
  ax_status st;

  if (!extra || !copy) {
    snprintf (t->err, sizeof t->err, "out of memory");
    free (extra);
    free (copy);
    return AX_ERR_NO_MEMORY;
  }
  t->info.has_training_state = 1;
  t->info.step = ax_net_step (t->net);
  t->info.epoch = t->epoch;
  t->info.learning_rate = t->lr;
  t->info.dropout_seed = ax_net_dropout_seed (t->net);
  t->info.has_rng = 1;
  t->info.rng = t->rng;
  t->info.extra = extra;
  st = ax_net_checkpoint_save (t->net, path, &t->info, t->err, sizeof t->err);
  t->info.extra = NULL;
  free (extra);
  if (st != AX_OK) {
    free (copy);
    return st;
  }
  free (t->last_checkpoint);
  t->last_checkpoint = copy;
  return AX_OK;
}
