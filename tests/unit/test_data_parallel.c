/* Data-parallel training (AX_PLACE_DATA) equals one device: replicas of the
 * small paper net on one-thread CPU instances against AX_PLACE_ONE with the
 * same weights and batch, dropout on: logits, probabilities, mean loss,
 * every gradient after the all-reduce, the dropout masks, weights and
 * momentum after three SGD steps; the replicas stay bitwise equal; an
 * inference net; checkpoints across placements; configuration errors. */
#include "kernels/cpu/cpu_backend.h"
#include "kernels/backend/layer_math.h"
#include "kernels/nn/net_checkpoint.h"
#include "kernels/nn/net_internal.h"
#include "tests/ax_test.h"
#include "tests/net_test_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { CLASSES = 10, SIZE = 99, DIV = 8, MAX_R = 3 };

/* floats in `b` images */
#define IMAGES(b) ((size_t) (b) * 3 * SIZE * SIZE)

static ax_backend *one, *rep[MAX_R];

static ax_net_spec
small_spec (void)
{
  ax_net_spec spec;
  ax_status st = ax_net_spec_alexnet_paper (&spec, CLASSES, SIZE);
  if (st == AX_OK)
    st = ax_net_spec_narrow (&spec, DIV);
  AX_CHECK (st == AX_OK, "small spec");
  return spec;
}

/* replicas 0: one device; else AX_PLACE_DATA over that many instances. */
static ax_net *
make_net (const ax_net_spec *spec, int batch, int replicas, int training)
{
  ax_net_config cfg = { batch, replicas ? AX_PLACE_DATA : AX_PLACE_ONE,
      training, { one } };
  for (int r = 0; r < replicas; r++)
    cfg.backends[r] = rep[r];
  ax_net *net = NULL;
  char err[512] = "";
  ax_status st = ax_net_create (spec, &cfg, &net, err, sizeof err);
  AX_CHECK (st == AX_OK, "create (%d replicas): %s: %s", replicas,
      ax_status_str (st), err);
  return net;
}

/* Nonzero if every replica's slab `which` (parameters, gradients or
 * momentum: the whole slab, padding included) equals replica 0's, byte
 * for byte. */
static int
replicas_identical (ax_net *net, int which)
{
  int same = 1;
  ax_tensor *t0 = which == 0 ? &net->towers[0].params_all
      : which == 1 ? &net->towers[0].grads_all : &net->towers[0].moms_all;
  size_t bytes = ax_tensor_bytes (t0);
  char *a = malloc (bytes), *b = malloc (bytes);
  NET_OK (net, ax_tensor_download (a, bytes, t0));
  for (int r = 1; r < ax_net_n_replicas (net); r++) {
    net_tower *tw = &net->towers[r];
    ax_tensor *t = which == 0 ? &tw->params_all
        : which == 1 ? &tw->grads_all : &tw->moms_all;
    same &= ax_tensor_bytes (t) == bytes;
    if (same) {
      NET_OK (net, ax_tensor_download (b, bytes, t));
      same &= memcmp (a, b, bytes) == 0;
    }
  }
  free (a);
  free (b);
  return same;
}

static float *
images (int batch, uint64_t seed)
{
  size_t n = (size_t) batch * 3 * SIZE * SIZE;
  float *x = malloc (n * sizeof *x);
  for (size_t i = 0; i < n; i++)
    x[i] = (float) ((double) (ax_mix64 (seed * 1000003u + i) >> 11)
        / 4503599627370496.0 - 1.0);
  return x;
}

/* The dropout masks of drop6 and drop7 over the whole batch: the same
 * units dropped (where both nets' inputs are clearly positive), about
 * half of them. */
static void
check_masks (ax_net *a, ax_net *b, const char *layer, const char *input)
{
  ax_shape s;
  AX_CHECK (ax_net_activation_shape (a, layer, &s) == AX_OK, "%s", layer);
  size_t n = ax_shape_count (s), positive = 0, dropped = 0, disagree = 0;
  float *ra = malloc (n * sizeof *ra), *da = malloc (n * sizeof *da);
  float *rb = malloc (n * sizeof *rb), *db = malloc (n * sizeof *db);
  NET_OK (a, ax_net_activation (a, input, ra, n));
  NET_OK (a, ax_net_activation (a, layer, da, n));
  NET_OK (b, ax_net_activation (b, input, rb, n));
  NET_OK (b, ax_net_activation (b, layer, db, n));
  for (size_t i = 0; i < n; i++) {
    if (ra[i] <= 1e-4f || rb[i] <= 1e-4f)
      continue;
    positive++;
    dropped += da[i] == 0.0f;
    disagree += (da[i] == 0.0f) != (db[i] == 0.0f);
  }
  double frac = positive ? (double) dropped / (double) positive : 0.0;
  AX_CHECK (positive > 100 && fabs (frac - 0.5) < 0.1, "%s dropped %.3f of "
      "%zu", layer, frac, positive);
  AX_CHECK (disagree == 0, "%s: %zu units dropped by one placement only",
      layer, disagree);
  free (ra);
  free (da);
  free (rb);
  free (db);
}

/* R replicas on batch against one device: everything a step produces. */
static void
compare_with_one_device (int replicas, int batch, int steps)
{
  ax_net_spec spec = small_spec ();
  ax_net *a = make_net (&spec, batch, 0, 1);
  ax_net *b = make_net (&spec, batch, replicas, 1);
  if (!a || !b)
    goto out;
  AX_CHECK (ax_net_n_replicas (b) == replicas && ax_net_n_replicas (a) == 1,
      "replica counts");
  NET_OK (a, ax_net_init (a, AX_INIT_TORCH, 5));
  NET_OK (b, ax_net_init (b, AX_INIT_TORCH, 5));
  const char *worst = "";
  AX_CHECK (ax_test_params_error (a, b, AX_PARAM_VALUE, &worst) == 0.0,
      "init differs (%s)", worst);
  AX_CHECK (replicas_identical (b, 0), "replicas start apart");
  float *x = images (batch, 11), la, lb;
  int32_t labels[8];
  for (int i = 0; i < batch; i++)
    labels[i] = (int32_t) ((i * 7 + 1) % CLASSES);
  /* the masks between the loss and backward, which reuses the
   * activations' memory */
  NET_OK (a, ax_net_forward (a, x, IMAGES (batch), 1));
  NET_OK (a, ax_net_loss (a, labels, (size_t) batch, &la));
  NET_OK (b, ax_net_forward (b, x, IMAGES (batch), 1));
  NET_OK (b, ax_net_loss (b, labels, (size_t) batch, &lb));
  check_masks (a, b, "drop6", "relu6");
  check_masks (a, b, "drop7", "relu7");
  NET_OK (a, ax_net_backward (a));
  NET_OK (b, ax_net_backward (b));

  float ga[8 * CLASSES], gb[8 * CLASSES], pa[8 * CLASSES], pb[8 * CLASSES];
  size_t nl = (size_t) batch * CLASSES;
  NET_OK (a, ax_net_logits (a, ga, nl));
  NET_OK (b, ax_net_logits (b, gb, nl));
  NET_OK (a, ax_net_probs (a, pa, nl));
  NET_OK (b, ax_net_probs (b, pb, nl));
  double e_logits = ax_test_rel_error (gb, ga, nl);
  double e_probs = ax_test_rel_error (pb, pa, nl);
  double e_grad = ax_test_params_error (b, a, AX_PARAM_GRAD, &worst);
  printf ("  %d replicas, batch %d, vs one device: logits %.1e, probs %.1e, "
      "loss %.8g vs %.8g, gradients %.1e (worst %s)\n", replicas, batch,
      e_logits, e_probs, (double) lb, (double) la, e_grad, worst);
  AX_CHECK (e_logits < 1e-5 && e_probs < 1e-5, "forward");
  AX_CHECK (fabs (la - lb) <= 1e-5 * fabs (la), "loss");
  AX_CHECK (e_grad < 1e-5, "gradients");
  AX_CHECK (replicas_identical (b, 1), "gradients differ between replicas "
      "after the all-reduce");

  ax_sgd_step sgd = { 0.01f, 0.9f, 0.0005f };
  NET_OK (a, ax_net_update (a, &sgd));
  NET_OK (b, ax_net_update (b, &sgd));
  for (int s = 1; s < steps; s++) {
    ax_test_train_step (a, x, IMAGES (batch), labels, batch, 1, &la);
    ax_test_train_step (b, x, IMAGES (batch), labels, batch, 1, &lb);
  }
  double e_w = ax_test_params_error (b, a, AX_PARAM_VALUE, &worst);
  const char *worst_v = "";
  double e_v = ax_test_params_error (b, a, AX_PARAM_MOMENTUM, &worst_v);
  printf ("  after %d steps: weights %.1e (worst %s), momentum %.1e (worst "
      "%s), loss %.8g vs %.8g\n", steps, e_w, worst, e_v, worst_v,
      (double) lb, (double) la);
  AX_CHECK (e_w < 1e-5 && e_v < 1e-4, "weights after %d steps", steps);
  AX_CHECK (ax_net_step (b) == (uint64_t) steps, "steps counted");
  AX_CHECK (replicas_identical (b, 0) && replicas_identical (b, 2),
      "replicas drifted apart: weights or momentum differ");
  free (x);
out:
  ax_net_destroy (a);
  ax_net_destroy (b);
}

static void
test_two_replicas (void)
{
  compare_with_one_device (2, 4, 3);
}

static void
test_three_replicas (void)
{
  compare_with_one_device (3, 6, 2);
}

/* Inference nets: the whole batch's logits and activations in order. */
static void
test_inference (void)
{
  enum { BATCH = 4 };
  ax_net_spec spec = small_spec ();
  ax_net *a = make_net (&spec, BATCH, 0, 0), *b = make_net (&spec, BATCH, 2, 0);
  if (a && b) {
    NET_OK (a, ax_net_init (a, AX_INIT_XAVIER, 9));
    NET_OK (b, ax_net_init (b, AX_INIT_XAVIER, 9));
    float *x = images (BATCH, 4), ga[BATCH * CLASSES], gb[BATCH * CLASSES];
    NET_OK (a, ax_net_forward (a, x, BATCH * 3 * SIZE * SIZE, 0));
    NET_OK (b, ax_net_forward (b, x, BATCH * 3 * SIZE * SIZE, 0));
    NET_OK (a, ax_net_logits (a, ga, BATCH * CLASSES));
    NET_OK (b, ax_net_logits (b, gb, BATCH * CLASSES));
    double e = ax_test_rel_error (gb, ga, BATCH * CLASSES);
    AX_CHECK (e < 1e-5, "inference logits %.1e", e);
    ax_shape s;
    AX_CHECK (ax_net_activation_shape (b, "pool5", &s) == AX_OK
        && s.n == BATCH, "pool5 shape over the whole batch");
    size_t n = ax_shape_count (s);
    float *fa = malloc (n * sizeof *fa), *fb = malloc (n * sizeof *fb);
    NET_OK (a, ax_net_activation (a, "pool5", fa, n));
    NET_OK (b, ax_net_activation (b, "pool5", fb, n));
    double e5 = ax_test_rel_error (fb, fa, n);
    AX_CHECK (e5 < 1e-5, "pool5 %.1e", e5);
    AX_CHECK (ax_net_backward (b) == AX_ERR_INVALID_ARG, "backward on an "
        "inference net");
    free (fa);
    free (fb);
    free (x);
  }
  ax_net_destroy (a);
  ax_net_destroy (b);
}

/* A checkpoint of replicas loads into one device and back (names and
 * layouts are the placement's business), momentum included. */
static void
test_checkpoint (void)
{
  enum { BATCH = 2 };
  char dir[] = "/tmp/dp-ckpt-XXXXXX", path[64], err[512] = "";
  ax_net_spec spec = small_spec ();
  ax_net *a = make_net (&spec, BATCH, 2, 1), *b = make_net (&spec, BATCH, 0, 1);
  ax_net *c = make_net (&spec, BATCH, 2, 1);
  if (!mkdtemp (dir) || !a || !b || !c)
    goto out;
  snprintf (path, sizeof path, "%s/dp.safetensors", dir);
  float *x = images (BATCH, 8), loss;
  int32_t labels[BATCH] = { 3, 4 };
  NET_OK (a, ax_net_init (a, AX_INIT_XAVIER, 2));
  ax_test_train_step (a, x, IMAGES (BATCH), labels, BATCH, 1, &loss);
  ax_test_train_step (a, x, IMAGES (BATCH), labels, BATCH, 1, &loss);
  ax_net_checkpoint_info info = { 0 };
  info.has_training_state = 1;
  AX_CHECK (ax_net_checkpoint_save (a, path, &info, err, sizeof err) == AX_OK,
      "save: %s", err);
  AX_CHECK (ax_net_checkpoint_load (b, path, 1, NULL, err, sizeof err)
      == AX_OK, "load into one device: %s", err);
  AX_CHECK (ax_net_checkpoint_load (c, path, 1, NULL, err, sizeof err)
      == AX_OK, "load into replicas: %s", err);
  const char *worst = "";
  AX_CHECK (ax_test_params_error (a, b, AX_PARAM_VALUE, &worst) == 0.0
      && ax_test_params_error (a, b, AX_PARAM_MOMENTUM, &worst) == 0.0
      && ax_test_params_error (a, c, AX_PARAM_VALUE, &worst) == 0.0
      && ax_test_params_error (a, c, AX_PARAM_MOMENTUM, &worst) == 0.0,
      "restored parameters differ (%s)", worst);
  AX_CHECK (ax_net_step (c) == 2, "step restored");
  AX_CHECK (replicas_identical (c, 0) && replicas_identical (c, 2),
      "a load left the replicas apart");
  /* Resumed, both go on in step. */
  ax_test_train_step (a, x, IMAGES (BATCH), labels, BATCH, 1, &loss);
  ax_test_train_step (c, x, IMAGES (BATCH), labels, BATCH, 1, &loss);
  AX_CHECK (ax_test_params_error (a, c, AX_PARAM_VALUE, &worst) == 0.0,
      "resumed replicas differ (%s)", worst);
  unlink (path);
  rmdir (dir);
  free (x);
out:
  ax_net_destroy (a);
  ax_net_destroy (b);
  ax_net_destroy (c);
}

static void
test_bad_config (void)
{
  ax_net_spec spec = small_spec ();
  ax_net *net = NULL;
  char err[256] = "";
  ax_net_config cfg = { 3, AX_PLACE_DATA, 1, { rep[0], rep[1] } };
  AX_CHECK (ax_net_create (&spec, &cfg, &net, err, sizeof err)
      == AX_ERR_INVALID_ARG && !net, "batch 3 over 2 replicas");
  AX_CHECK (strstr (err, "does not divide") != NULL, "message: %s", err);
  cfg.batch = 4;
  cfg.backends[1] = rep[0];
  AX_CHECK (ax_net_create (&spec, &cfg, &net, err, sizeof err)
      == AX_ERR_INVALID_ARG && !net, "two replicas on one instance");
  cfg.backends[1] = NULL;
  cfg.backends[2] = rep[1];
  AX_CHECK (ax_net_create (&spec, &cfg, &net, err, sizeof err)
      == AX_ERR_INVALID_ARG && !net, "a gap in the backends");
  cfg.backends[0] = NULL;
  AX_CHECK (ax_net_create (&spec, &cfg, &net, err, sizeof err)
      == AX_ERR_INVALID_ARG && !net, "no backend");
  /* One replica is a valid (if pointless) data-parallel net. */
  cfg.backends[0] = rep[0];
  cfg.backends[2] = NULL;
  AX_CHECK (ax_net_create (&spec, &cfg, &net, err, sizeof err) == AX_OK
      && ax_net_n_replicas (net) == 1, "one replica: %s", err);
  ax_net_destroy (net);
  net = NULL;
  /* A wrong image count is refused before any replica runs. */
  cfg.backends[1] = rep[1];
  AX_CHECK (ax_net_create (&spec, &cfg, &net, err, sizeof err) == AX_OK,
      "create: %s", err);
  if (net) {
    float *x = images (4, 1);
    int32_t labels[4] = { 0, 1, 2, 3 };
    float loss;
    AX_CHECK (ax_net_forward (net, x, 3 * 3 * SIZE * SIZE, 1) == AX_ERR_SHAPE,
        "short batch");
    AX_CHECK (ax_net_loss (net, labels, 3, &loss) == AX_ERR_SHAPE,
        "three labels");
    labels[3] = CLASSES;
    NET_OK (net, ax_net_forward (net, x, 4 * 3 * SIZE * SIZE, 1));
    AX_CHECK (ax_net_loss (net, labels, 4, &loss) == AX_ERR_INVALID_ARG,
        "a label out of range on the second replica");
    free (x);
  }
  ax_net_destroy (net);
}

int
main (void)
{
  if (ax_cpu_backend_create (0, &one) != AX_OK)
    return 1;
  for (int r = 0; r < MAX_R; r++)
    if (ax_cpu_backend_create (1, &rep[r]) != AX_OK)
      return 1;
  AX_RUN (test_two_replicas);
  AX_RUN (test_three_replicas);
  AX_RUN (test_inference);
  AX_RUN (test_checkpoint);
  AX_RUN (test_bad_config);
  for (int r = 0; r < MAX_R; r++)
    ax_backend_destroy (rep[r]);
  ax_backend_destroy (one);
  return ax_test_finish ();
}
