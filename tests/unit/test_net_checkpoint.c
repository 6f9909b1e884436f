/* A network to a checkpoint and back: metadata round trip, parameters and
 * momentum restored exactly on either placement, an exact resume, and the
 * errors for missing, truncated, foreign, mismatched and non-finite files. */
#include "kernels/io/checkpoint.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/nn/net_checkpoint.h"
#include "kernels/nn/trainer.h"
#include "tests/ax_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 2
#define SIZE 67
#define DIV 16
#define CLASSES 3

static ax_backend *one, *tower[2];
static char dir[] = "/tmp/net-ckpt-XXXXXX";

static ax_net *
make_net (const char *arch, int n_classes, ax_placement place)
{
  ax_net_spec spec;
  ax_net_config cfg = { BATCH, place, 1, { one, NULL } };
  ax_net *net = NULL;
  char err[512] = "";

  if (place == AX_PLACE_TOWERS) {
    cfg.backends[0] = tower[0];
    cfg.backends[1] = tower[1];
  }
  /* torchvision's adaptive pool needs the full 224 input (narrowed anyway) */
  int size = strcmp (arch, "alexnet-torchvision") == 0 ? 224 : SIZE;
  AX_CHECK (ax_net_spec_by_arch (&spec, arch, n_classes, size) == AX_OK
      && ax_net_spec_narrow (&spec, DIV) == AX_OK, "spec %s", arch);
  AX_CHECK (ax_net_create (&spec, &cfg, &net, err, sizeof err) == AX_OK,
      "create: %s", err);
  return net;
}

static char *
path_of (const char *name)
{
  return ax_test_path (dir, name);
}

/* The trainer's SGD step on fixed data (the same for every call with
 * `seed`). */
static void
train_step (ax_net *net, uint64_t seed)
{
  static float x[BATCH * 3 * SIZE * SIZE];
  int32_t labels[BATCH] = { 1, 2 };
  ax_sgd_step step = { 0.01f, 0.9f, 0.0005f };
  ax_trainer_result r;
  ax_rng rng;

  ax_rng_seed (&rng, seed);
  for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
    x[i] = (float) ax_rng_normal (&rng);
  AX_CHECK (ax_trainer_net_step (net, x, labels, BATCH, &step, NULL, &r)
      == AX_OK, "train step: %s", ax_net_last_error (net));
}

/* Largest |a - b| over every parameter (and momentum). */
static double
max_diff (ax_net *a, ax_net *b, ax_param_buffer which)
{
  double worst = 0.0;
  for (int i = 0; i < ax_net_n_params (a); i++) {
    size_t n = ax_net_param (a, i)->count;
    float *u = malloc (n * sizeof *u), *v = malloc (n * sizeof *v);
    ax_net_param_get (a, i, which, u, n);
    ax_net_param_get (b, i, which, v, n);
    for (size_t k = 0; k < n; k++)
      if (fabs ((double) u[k] - v[k]) > worst)
        worst = fabs ((double) u[k] - v[k]);
    free (u);
    free (v);
  }
  return worst;
}

static ax_net_checkpoint_info
sample_info (void)
{
  static char *names[] = { "cat", "dog \"quoted\"", "b\xc3\xa4r", NULL };
  ax_net_checkpoint_info info = { 0 };
  info.class_names = names;
  info.has_normalization = 1;
  info.mean[0] = 0.485f, info.mean[1] = 0.456f, info.mean[2] = 0.406f;
  info.std[0] = 0.229f, info.std[1] = 0.224f, info.std[2] = 0.225f;
  info.init = "{\"scheme\":\"xavier\",\"seed\":\"7\"}";
  info.has_training_state = 1;
  info.epoch = 4;
  info.learning_rate = 0.001;
  info.has_rng = 1;
  ax_rng_seed (&info.rng, 99);
  (void) ax_rng_normal (&info.rng);     /* leaves a spare pending */
  return info;
}

static void
test_round_trip_and_resume (void)
{
  ax_net *a = make_net ("alexnet-paper", CLASSES, AX_PLACE_ONE);
  ax_net *b = make_net ("alexnet-paper", CLASSES, AX_PLACE_ONE);
  ax_net *t = make_net ("alexnet-paper", CLASSES, AX_PLACE_TOWERS);
  ax_net_checkpoint_info info = sample_info (), got;
  char err[512] = "";

  ax_net_init (a, AX_INIT_XAVIER, 7);
  ax_net_set_dropout_seed (a, 0xfedcba9876543210ULL);  /* >= 2^63 */
  train_step (a, 1);
  train_step (a, 2);
  AX_CHECK (ax_net_checkpoint_save (a, path_of ("a.safetensors"), &info, err,
          sizeof err) == AX_OK, "save: %s", err);

  AX_CHECK (ax_net_checkpoint_read_info (path_of ("a.safetensors"), &got,
          err, sizeof err) == AX_OK, "read info: %s", err);
  AX_CHECK (strcmp (got.arch, "alexnet-paper") == 0, "arch %s", got.arch);
  AX_CHECK (got.n_classes == CLASSES && got.input_size == SIZE
      && got.width_divisor == DIV, "classes %d size %d divisor %d",
      got.n_classes, got.input_size, got.width_divisor);
  AX_CHECK (got.class_names && strcmp (got.class_names[1], "dog \"quoted\"")
      == 0 && strcmp (got.class_names[2], "b\xc3\xa4r") == 0, "class names");
  AX_CHECK (got.has_normalization && got.mean[1] == 0.456f
      && got.std[2] == 0.225f, "normalization");
  AX_CHECK (got.has_training_state && got.step == 2 && got.epoch == 4
      && got.learning_rate == 0.001
      && got.dropout_seed == 0xfedcba9876543210ULL,
      "training state step %llu", (unsigned long long) got.step);
  AX_CHECK (got.has_rng && memcmp (got.rng.s, info.rng.s, sizeof got.rng.s)
      == 0 && got.rng.has_spare && got.rng.spare == info.rng.spare, "rng");
  AX_CHECK (got.init && strstr (got.init, "xavier"), "init");
  ax_net_checkpoint_info_clear (&got);

  /* resume: everything restored, and the next step is the same */
  AX_CHECK (ax_net_checkpoint_load (b, path_of ("a.safetensors"), 1, NULL,
          err, sizeof err) == AX_OK, "load: %s", err);
  AX_CHECK (max_diff (a, b, AX_PARAM_VALUE) == 0.0, "weights differ");
  AX_CHECK (max_diff (a, b, AX_PARAM_MOMENTUM) == 0.0, "momentum differs");
  AX_CHECK (ax_net_step (b) == 2
      && ax_net_dropout_seed (b) == 0xfedcba9876543210ULL,
      "counters");
  train_step (a, 3);
  train_step (b, 3);
  AX_CHECK (max_diff (a, b, AX_PARAM_VALUE) == 0.0, "resumed step differs");

  /* the other placement reads the same file (the split is internal) */
  AX_CHECK (ax_net_checkpoint_load (t, path_of ("a.safetensors"), 0, NULL,
          err, sizeof err) == AX_OK, "load as towers: %s", err);
  train_step (b, 4);            /* b moves on; t must equal the file */
  AX_CHECK (max_diff (t, b, AX_PARAM_VALUE) > 0.0, "test is not sensitive");
  AX_CHECK (ax_net_checkpoint_load (b, path_of ("a.safetensors"), 0, NULL,
          err, sizeof err) == AX_OK, "reload");
  AX_CHECK (max_diff (t, b, AX_PARAM_VALUE) == 0.0, "towers load differs");
  ax_net_destroy (a);
  ax_net_destroy (b);
  ax_net_destroy (t);
}

/* Copies file `from` to `to` keeping the first `bytes` bytes. */
static void
truncate_copy (const char *from, const char *to, long bytes)
{
  FILE *f = fopen (from, "rb"), *g = fopen (to, "wb");
  char *buf = malloc ((size_t) bytes);
  AX_CHECK (f && g && buf && fread (buf, 1, (size_t) bytes, f) ==
      (size_t) bytes && fwrite (buf, 1, (size_t) bytes, g) == (size_t) bytes,
      "copy");
  free (buf);
  if (f)
    fclose (f);
  if (g)
    fclose (g);
}

/* Rewrites checkpoint `from` as `to`, renaming tensors with `rename` and
 * putting NaN into tensor `poison` (when not NULL). */
/* When set, rewrite () writes this metadata value instead of the file's. */
static const char *meta_key, *meta_value;

static void
rewrite (const char *from, const char *to, const char *(*rename) (const char
        *), const char *poison)
{
  ax_checkpoint *ck = NULL;
  ax_checkpoint_writer *w = ax_checkpoint_writer_new ();
  char err[256];
  void **copies;
  size_t n;

  AX_CHECK (ax_checkpoint_open (from, &ck, err, sizeof err) == AX_CKPT_OK,
      "%s", err);
  n = ax_checkpoint_n_tensors (ck);
  copies = calloc (n, sizeof *copies);
  for (size_t i = 0; i < n; i++) {
    const ax_ckpt_tensor *t = ax_checkpoint_tensor_at (ck, i);
    copies[i] = malloc (t->bytes ? t->bytes : 1);
    memcpy (copies[i], t->data, t->bytes);
    if (poison && strcmp (t->name, poison) == 0)
      ((float *) copies[i])[1] = NAN;
    ax_checkpoint_writer_add (w, rename ? rename (t->name) : t->name,
        t->dtype, &t->shape, copies[i]);
  }
  for (size_t i = 0; i < ax_checkpoint_n_meta (ck); i++) {
    const char *k = ax_checkpoint_meta_key_at (ck, i);
    ax_checkpoint_writer_set_meta (w, k, meta_key && strcmp (k, meta_key) == 0
        ? meta_value : ax_checkpoint_meta (ck, k));
  }
  AX_CHECK (ax_checkpoint_writer_write (w, to, err, sizeof err) ==
      AX_CKPT_OK, "%s", err);
  for (size_t i = 0; i < n; i++)
    free (copies[i]);
  free (copies);
  ax_checkpoint_writer_free (w);
  ax_checkpoint_close (ck);
}

static const char *
to_paper_names (const char *name)
{
  static char out[128];
  static const char *const map[][2] = { {"features.0.", "conv1."},
    {"features.3.", "conv2."}, {"features.6.", "conv3."},
    {"features.8.", "conv4."}, {"features.10.", "conv5."},
    {"classifier.1.", "fc6."}, {"classifier.4.", "fc7."},
    {"classifier.6.", "fc8."} };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strncmp (name, map[i][0], strlen (map[i][0])) == 0) {
      snprintf (out, sizeof out, "%s%s", map[i][1], name + strlen (map[i][0]));
      return out;
    }
  return name;
}

/* Loading `path` into `net` must fail with `want` naming the file and
 * saying `needle`, and leave the net's weights as they were. */
static void
expect_load_error (ax_net *net, const char *path, int resume,
    ax_status want, const char *needle)
{
  ax_net *ref = make_net (ax_net_get_spec (net)->arch,
      ax_net_get_spec (net)->n_classes, AX_PLACE_ONE);
  char err[512] = "";
  ax_status st;

  ax_net_init (net, AX_INIT_XAVIER, 5);
  ax_net_init (ref, AX_INIT_XAVIER, 5);
  st = ax_net_checkpoint_load (net, path, resume, NULL, err, sizeof err);
  AX_CHECK (st == want, "%s: status %s, want %s (%s)", path,
      ax_status_str (st), ax_status_str (want), err);
  AX_CHECK (strstr (err, path) != NULL, "error does not name the file: %s",
      err);
  AX_CHECK (strstr (err, needle) != NULL, "error '%s' lacks '%s'", err,
      needle);
  AX_CHECK (max_diff (net, ref, AX_PARAM_VALUE) == 0.0,
      "a failed load changed the weights (%s)", path);
  ax_net_destroy (ref);
}

static void
test_errors (void)
{
  ax_net *paper = make_net ("alexnet-paper", CLASSES, AX_PLACE_ONE);
  ax_net *tv = make_net ("alexnet-torchvision", CLASSES, AX_PLACE_ONE);
  ax_net *four = make_net ("alexnet-paper", 4, AX_PLACE_ONE);
  ax_net_checkpoint_info info = sample_info ();
  char err[512];
  long size;
  FILE *f;

  info.has_training_state = 0;
  ax_net_init (paper, AX_INIT_PAPER, 1);
  AX_CHECK (ax_net_checkpoint_save (paper, path_of ("w.safetensors"), &info,
          err, sizeof err) == AX_OK, "save: %s", err);
  f = fopen (path_of ("w.safetensors"), "rb");
  fseek (f, 0, SEEK_END);
  size = ftell (f);
  fclose (f);
  truncate_copy (path_of ("w.safetensors"), path_of ("cut.safetensors"),
      size / 2);
  rewrite (path_of ("w.safetensors"), path_of ("nan.safetensors"), NULL,
      "conv3.weight");

  expect_load_error (paper, path_of ("missing.safetensors"), 0, AX_ERR_IO,
      "missing");
  expect_load_error (paper, path_of ("cut.safetensors"), 0, AX_ERR_FORMAT,
      "truncated");
  expect_load_error (tv, path_of ("w.safetensors"), 0, AX_ERR_FORMAT,
      "alexnet-paper");
  expect_load_error (four, path_of ("w.safetensors"), 0, AX_ERR_FORMAT,
      "3 classes");
  expect_load_error (paper, path_of ("w.safetensors"), 1, AX_ERR_FORMAT,
      "no training state");
  expect_load_error (paper, path_of ("nan.safetensors"), 0,
      AX_ERR_NONFINITE, "conv3.weight");
  /* a learning rate that is not finite or negative is refused at load,
   * naming the field (it once failed later as "invalid argument") */
  {
    static const char *bad_lr[] = { "inf", "nan", "-0.1", "1e999" };
    ax_net_checkpoint_info full = sample_info (), got;
    AX_CHECK (ax_net_checkpoint_save (paper, path_of ("t.safetensors"), &full,
            err, sizeof err) == AX_OK, "save: %s", err);
    for (size_t i = 0; i < sizeof bad_lr / sizeof bad_lr[0]; i++) {
      meta_key = "learning_rate";
      meta_value = bad_lr[i];
      rewrite (path_of ("t.safetensors"), path_of ("lr.safetensors"), NULL,
          NULL);
      meta_key = meta_value = NULL;
      ax_status st = ax_net_checkpoint_read_info (path_of ("lr.safetensors"),
          &got, err, sizeof err);
      AX_CHECK (st == AX_ERR_FORMAT && strstr (err, "'learning_rate'")
          && strstr (err, "lr.safetensors"), "learning_rate %s: %s",
          bad_lr[i], st == AX_OK ? "accepted" : err);
      if (st == AX_OK)
        ax_net_checkpoint_info_clear (&got);
    }
  }
  ax_net_destroy (paper);
  ax_net_destroy (tv);
  ax_net_destroy (four);
}

static void
test_torchvision_names (void)
{
  ax_net *a = make_net ("alexnet-torchvision", CLASSES, AX_PLACE_ONE);
  ax_net *b = make_net ("alexnet-torchvision", CLASSES, AX_PLACE_ONE);
  ax_net_checkpoint_info info = { 0 };
  ax_checkpoint *ck = NULL;
  char err[512];

  ax_net_init (a, AX_INIT_TORCH, 3);
  AX_CHECK (ax_net_checkpoint_save (a, path_of ("tv.safetensors"), &info,
          err, sizeof err) == AX_OK, "save: %s", err);
  AX_CHECK (ax_checkpoint_open (path_of ("tv.safetensors"), &ck, err,
          sizeof err) == AX_CKPT_OK
      && ax_checkpoint_find (ck, "features.0.weight") != NULL,
      "torchvision's own names in the file");
  ax_checkpoint_close (ck);
  /* the same weights under the paper's layer names load too */
  rewrite (path_of ("tv.safetensors"), path_of ("tv-renamed.safetensors"),
      to_paper_names, NULL);
  AX_CHECK (ax_net_checkpoint_load (b, path_of ("tv-renamed.safetensors"), 0,
          NULL, err, sizeof err) == AX_OK, "load renamed: %s", err);
  AX_CHECK (max_diff (a, b, AX_PARAM_VALUE) == 0.0, "renamed load differs");
  ax_net_destroy (a);
  ax_net_destroy (b);
}

int
main (void)
{
  if (!mkdtemp (dir) || ax_cpu_backend_create (0, &one) != AX_OK
      || ax_cpu_backend_create (1, &tower[0]) != AX_OK
      || ax_cpu_backend_create (1, &tower[1]) != AX_OK)
    return 1;
  AX_RUN (test_round_trip_and_resume);
  AX_RUN (test_errors);
  AX_RUN (test_torchvision_names);
  {
    const char *names[] = { "a.safetensors", "w.safetensors",
      "cut.safetensors", "nan.safetensors", "tv.safetensors",
      "tv-renamed.safetensors" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      unlink (path_of (names[i]));
    rmdir (dir);
  }
  ax_backend_destroy (tower[0]);
  ax_backend_destroy (tower[1]);
  ax_backend_destroy (one);
  return ax_test_finish ();
}
