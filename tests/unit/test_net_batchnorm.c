/* Batch norm in the network: a small net with batch norm after a
 * convolution, on the image and after a fully connected layer against a
 * float64 reference of the whole chain (logits, loss, every gradient, the
 * running statistics and num_batches_tracked in training, evaluation on the
 * running statistics, the SGD update with weight decay); the buffers' API;
 * forward-only nets; data-parallel replicas (each shard's own statistics,
 * replica 0's running statistics everywhere); towers refused; checkpoints
 * (torchvision's buffer names, num_batches_tracked as an I64 scalar) and
 * damaged ones. */
#include "kernels/cpu/cpu_backend.h"
#include "kernels/io/checkpoint.h"
#include "kernels/nn/net_checkpoint.h"
#include "tests/ref/ref_layers.h"
#include "tests/ax_test.h"
#include "tests/net_test_util.h"
#include "layer_test_util.h"

#include <string.h>
#include <unistd.h>

#define TOL 1e-5
enum { SIZE = 8, CLASSES = 4 };

static ax_backend *one, *rep[2];
static char dir[] = "/tmp/net-bn-XXXXXX";

/* image -> bn0 -> conv -> bn -> relu -> pool -> flatten -> fc 10 -> bn
 * (per feature, as BatchNorm1d) -> relu -> fc CLASSES */
static void
small_spec (ax_net_spec *s)
{
  memset (s, 0, sizeof *s);
  snprintf (s->arch, sizeof s->arch, "bn-test");
  s->in_c = 3;
  s->in_h = s->in_w = SIZE;
  s->n_classes = CLASSES;
  ax_layer_spec l[9];
  memset (l, 0, sizeof l);
  const char *names[9] = { "bn0", "conv1", "bn1", "relu1", "pool1", "flatten",
    "fc1", "bn2", "relu2" };
  const char *prefix[9] = { "features.0", "features.1", "features.2", "", "",
    "", "classifier.0", "classifier.1", "" };
  ax_layer_kind kinds[9] = { AX_LAYER_BATCHNORM, AX_LAYER_CONV,
    AX_LAYER_BATCHNORM, AX_LAYER_RELU, AX_LAYER_MAXPOOL, AX_LAYER_FLATTEN,
    AX_LAYER_FC, AX_LAYER_BATCHNORM, AX_LAYER_RELU };
  for (int i = 0; i < 9; i++) {
    l[i].kind = kinds[i];
    l[i].groups = 1;
    snprintf (l[i].name, sizeof l[i].name, "%s", names[i]);
    snprintf (l[i].param_prefix, sizeof l[i].param_prefix, "%s",
        prefix[i][0] ? prefix[i] : names[i]);
    if (kinds[i] == AX_LAYER_BATCHNORM)
      l[i].p.bn = AX_BN_TORCH;
  }
  l[1].p.conv = (ax_conv_params) { 6, 3, 3, 1, 1, 1, 1 };
  l[4].p.pool = (ax_pool_params) { 2, 2, 0 };
  l[6].p.fc = (ax_fc_params) { 10, 1 };
  for (int i = 0; i < 9; i++)
    ax_net_spec_add (s, &l[i]);
  ax_layer_spec out = { .kind = AX_LAYER_FC, .groups = 1 };
  snprintf (out.name, sizeof out.name, "fc2");
  snprintf (out.param_prefix, sizeof out.param_prefix, "classifier.3");
  out.p.fc = (ax_fc_params) { CLASSES, 1 };
  ax_net_spec_add (s, &out);
}

static ax_net *
make (int batch, ax_placement place, int training, ax_backend *a,
    ax_backend *b, ax_status *status, char *err, size_t err_size)
{
  ax_net_spec spec;
  ax_net *net = NULL;
  small_spec (&spec);
  ax_net_config cfg = { batch, place, training, { a, b } };
  ax_status st = ax_net_create (&spec, &cfg, &net, err, err_size);
  if (status)
    *status = st;
  else
    AX_CHECK (st == AX_OK, "create: %s", err);
  return net;
}

static ax_net *
make_one (int batch, int training)
{
  char err[256] = "";
  return make (batch, AX_PLACE_ONE, training, one, NULL, NULL, err, sizeof err);
}

/* Torch-like weights, then batch norm parameters and running statistics
 * away from their start (1, 0, 0, 1), so that each one shows. */
static void
set_params (ax_net *net, uint64_t seed)
{
  NET_OK (net, ax_net_init (net, AX_INIT_TORCH, seed));
  for (int p = 0; p < ax_net_n_params (net); p++) {
    const ax_param_info *i = ax_net_param (net, p);
    if (i->dtype != AX_PARAM_F32
        || ax_net_get_spec (net)->layers[i->layer].kind != AX_LAYER_BATCHNORM)
      continue;
    int var = strstr (i->name, "running_var") != NULL;
    int weight = strstr (i->name, ".weight") != NULL;
    float *v = malloc (i->count * sizeof *v);
    for (size_t k = 0; k < i->count; k++)
      v[k] = (float) (var ? 0.5 + ax_rng_uniform (&test_rng)
          : weight ? 0.5 + ax_rng_uniform (&test_rng)
          : ax_rng_uniform (&test_rng) - 0.5);
    NET_OK (net, ax_net_param_set (net, p, AX_PARAM_VALUE, v, i->count));
    free (v);
  }
}

static void
copy_params (ax_net *dst, ax_net *src)
{
  for (int p = 0; p < ax_net_n_params (src); p++) {
    const ax_param_info *i = ax_net_param (src, p);
    if (i->dtype == AX_PARAM_I64) {
      int64_t c;
      NET_OK (src, ax_net_param_get_i64 (src, p, &c, 1));
      NET_OK (dst, ax_net_param_set_i64 (dst, p, &c, 1));
      continue;
    }
    float *v = ax_test_param_values (src, p, AX_PARAM_VALUE);
    NET_OK (dst, ax_net_param_set (dst, p, AX_PARAM_VALUE, v, i->count));
    free (v);
  }
}

static float *
images (int batch, uint64_t seed)
{
  size_t n = (size_t) batch * 3 * SIZE * SIZE;
  float *x = malloc (n * sizeof *x);
  ax_rng rng;
  ax_rng_seed (&rng, seed);
  /* a mean off zero per channel, as pixels have */
  for (size_t i = 0; i < n; i++)
    x[i] = (float) (2.0 * ax_rng_uniform (&rng) + (double) (i / 64 % 3));
  return x;
}

/* --- the float64 reference of the whole chain --- */

typedef struct {
  const ax_net_spec *spec;
  int batch;
  ax_shape shapes[AX_NET_MAX_LAYERS + 1];
  double *act[AX_NET_MAX_LAYERS + 1];     /* act[0] the image */
  /* per layer: weight, bias (and their gradients), running statistics */
  double *w[AX_NET_MAX_LAYERS], *b[AX_NET_MAX_LAYERS];
  double *dw[AX_NET_MAX_LAYERS], *db[AX_NET_MAX_LAYERS];
  double *rm[AX_NET_MAX_LAYERS], *rv[AX_NET_MAX_LAYERS];
  double *probs, loss;
} ref_net;

static double *
from_net (ax_net *net, const char *prefix, const char *what)
{
  char name[96];
  snprintf (name, sizeof name, "%s.%s", prefix, what);
  int p = ax_net_param_find (net, name);
  AX_CHECK (p >= 0, "no %s", name);
  if (p < 0)
    return NULL;
  size_t n = ax_net_param (net, p)->count;
  float *f = ax_test_param_values (net, p, AX_PARAM_VALUE);
  double *d = malloc (n * sizeof *d);
  for (size_t i = 0; i < n; i++)
    d[i] = f[i];
  free (f);
  return d;
}

static void
ref_init (ref_net *r, ax_net *net, const float *x)
{
  memset (r, 0, sizeof *r);
  r->spec = ax_net_get_spec (net);
  r->batch = 0;
  for (int i = 0; i <= r->spec->n_layers; i++)
    NET_OK (net, i == 0 ? AX_OK : ax_net_activation_shape (net,
            r->spec->layers[i - 1].name, &r->shapes[i]));
  r->batch = r->shapes[1].n;
  r->shapes[0] = ax_shape_make (r->batch, 3, SIZE, SIZE);
  for (int i = 0; i <= r->spec->n_layers; i++)
    r->act[i] = calloc (ax_shape_count (r->shapes[i]), sizeof (double));
  for (size_t i = 0; i < ax_shape_count (r->shapes[0]); i++)
    r->act[0][i] = x[i];
  for (int i = 0; i < r->spec->n_layers; i++) {
    const ax_layer_spec *l = &r->spec->layers[i];
    if (l->kind != AX_LAYER_CONV && l->kind != AX_LAYER_FC
        && l->kind != AX_LAYER_BATCHNORM)
      continue;
    r->w[i] = from_net (net, l->param_prefix, "weight");
    r->b[i] = from_net (net, l->param_prefix, "bias");
    char name[96];
    snprintf (name, sizeof name, "%s.weight", l->param_prefix);
    size_t nw = ax_net_param (net, ax_net_param_find (net, name))->count;
    snprintf (name, sizeof name, "%s.bias", l->param_prefix);
    size_t nb = ax_net_param (net, ax_net_param_find (net, name))->count;
    r->dw[i] = calloc (nw, sizeof (double));
    r->db[i] = calloc (nb, sizeof (double));
    if (l->kind == AX_LAYER_BATCHNORM) {
      r->rm[i] = from_net (net, l->param_prefix, "running_mean");
      r->rv[i] = from_net (net, l->param_prefix, "running_var");
    }
  }
  r->probs = calloc (ax_shape_count (r->shapes[r->spec->n_layers]),
      sizeof (double));
}

static void
ref_free (ref_net *r)
{
  for (int i = 0; i <= r->spec->n_layers; i++)
    free (r->act[i]);
  for (int i = 0; i < r->spec->n_layers; i++) {
    free (r->w[i]); free (r->b[i]); free (r->dw[i]); free (r->db[i]);
    free (r->rm[i]); free (r->rv[i]);
  }
  free (r->probs);
}

static void
ref_forward (ref_net *r, int training)
{
  for (int i = 0; i < r->spec->n_layers; i++) {
    const ax_layer_spec *l = &r->spec->layers[i];
    ax_shape s = r->shapes[i];
    size_t n = ax_shape_count (s);
    double *in = r->act[i], *out = r->act[i + 1];
    switch (l->kind) {
      case AX_LAYER_CONV:
        ref_conv_forward (out, in, r->w[i], r->b[i], s, &l->p.conv);
        break;
      case AX_LAYER_BATCHNORM:
        ref_batchnorm_forward (out, NULL, NULL, r->rm[i], r->rv[i], in,
            r->w[i], r->b[i], s, &l->p.bn, training);
        break;
      case AX_LAYER_RELU:
        ref_relu_forward (out, in, n);
        break;
      case AX_LAYER_MAXPOOL:
        ref_maxpool_forward (out, in, s, &l->p.pool);
        break;
      case AX_LAYER_FC:
        ref_fc_forward (out, in, r->w[i], r->b[i], s.n, s.c * s.h * s.w,
            l->p.fc.out_features);
        break;
      default:
        memcpy (out, in, n * sizeof *out);
    }
  }
}

static void
ref_loss_backward (ref_net *r, const int32_t *labels)
{
  int L = r->spec->n_layers, N = r->batch;
  double losses[64];
  ref_softmax_xent_forward (losses, r->probs, r->act[L], labels, N, CLASSES);
  r->loss = 0.0;
  for (int i = 0; i < N; i++)
    r->loss += losses[i] / N;
  double *dout = calloc (ax_shape_count (r->shapes[L]), sizeof *dout);
  ref_softmax_xent_backward (dout, r->probs, labels, N, CLASSES, 1.0 / N);
  for (int i = L - 1; i >= 0; i--) {
    const ax_layer_spec *l = &r->spec->layers[i];
    ax_shape s = r->shapes[i];
    size_t n = ax_shape_count (s);
    double *din = calloc (n, sizeof *din), *in = r->act[i];
    switch (l->kind) {
      case AX_LAYER_CONV:
        ref_conv_backward (din, r->dw[i], r->db[i], dout, in, r->w[i], s,
            &l->p.conv);
        break;
      case AX_LAYER_BATCHNORM:
        ref_batchnorm_backward (din, r->dw[i], r->db[i], dout, in, r->w[i], s,
            &l->p.bn);
        break;
      case AX_LAYER_RELU:
        ref_relu_backward (din, dout, r->act[i + 1], n);
        break;
      case AX_LAYER_MAXPOOL:
        ref_maxpool_backward (din, dout, in, s, &l->p.pool);
        break;
      case AX_LAYER_FC:
        ref_fc_backward (din, r->dw[i], r->db[i], dout, in, r->w[i], s.n,
            s.c * s.h * s.w, l->p.fc.out_features);
        break;
      default:
        memcpy (din, dout, n * sizeof *din);
    }
    free (dout);
    dout = din;
  }
  free (dout);
}

/* The net's `which` of parameter `name` against a reference array. */
static double
param_error (ax_net *net, const char *prefix, const char *what,
    ax_param_buffer which, const double *want)
{
  char name[96];
  snprintf (name, sizeof name, "%s.%s", prefix, what);
  int p = ax_net_param_find (net, name);
  if (p < 0 || !want)
    return INFINITY;
  size_t n = ax_net_param (net, p)->count;
  float *f = ax_test_param_values (net, p, which);
  double *d = malloc (n * sizeof *d);
  for (size_t i = 0; i < n; i++)
    d[i] = f[i];
  double e = normalised_error (d, want, n);
  free (f);
  free (d);
  return e;
}

/* max |db - want| over the larger of max |want| and max |dw_want|. */
static double
bias_grad_error (ax_net *net, const char *prefix, const double *want,
    const double *dw_want)
{
  char name[96];
  snprintf (name, sizeof name, "%s.bias", prefix);
  int p = ax_net_param_find (net, name);
  snprintf (name, sizeof name, "%s.weight", prefix);
  int q = ax_net_param_find (net, name);
  if (p < 0 || q < 0)
    return INFINITY;
  size_t n = ax_net_param (net, p)->count, m = ax_net_param (net, q)->count;
  float *f = ax_test_param_values (net, p, AX_PARAM_GRAD);
  double err = 0.0, scale = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs (f[i] - want[i]);
    err = d <= err ? err : d;
    scale = fmax (scale, fabs (want[i]));
  }
  for (size_t i = 0; i < m; i++)
    scale = fmax (scale, fabs (dw_want[i]));
  free (f);
  return scale > 0.0 ? err / scale : err;
}

static double
logits_error (ax_net *net, const double *want, size_t n)
{
  float *f = malloc (n * sizeof *f);
  double *d = malloc (n * sizeof *d);
  NET_OK (net, ax_net_logits (net, f, n));
  for (size_t i = 0; i < n; i++)
    d[i] = f[i];
  double e = normalised_error (d, want, n);
  free (f);
  free (d);
  return e;
}

static int64_t
batches_tracked (ax_net *net, const char *prefix)
{
  char name[96];
  int64_t c = -1;
  snprintf (name, sizeof name, "%s.num_batches_tracked", prefix);
  int p = ax_net_param_find (net, name);
  AX_CHECK (p >= 0, "no %s", name);
  if (p >= 0)
    NET_OK (net, ax_net_param_get_i64 (net, p, &c, 1));
  return c;
}

/* A training step against the reference: logits, loss, gradients, running
 * statistics, the counter, then evaluation and the update. */
static void
test_against_reference (void)
{
  enum { N = 5 };
  ax_net *net = make_one (N, 1);
  if (!net)
    return;
  set_params (net, 3);
  float *x = images (N, 7);
  int32_t labels[N] = { 0, 3, 1, 2, 3 };
  ref_net r;
  ref_init (&r, net, x);
  const ax_net_spec *spec = ax_net_get_spec (net);
  size_t nl = (size_t) N * CLASSES;
  float loss;

  ref_forward (&r, 1);
  ref_loss_backward (&r, labels);
  ax_test_train_step (net, x, (size_t) N * 3 * SIZE * SIZE, labels, N, 0,
      &loss);
  double e_logits = logits_error (net, r.act[spec->n_layers], nl);
  double e_loss = fabs (loss - r.loss) / r.loss, e_g = 0.0, e_stats = 0.0;
  for (int i = 0; i < spec->n_layers; i++) {
    const ax_layer_spec *l = &spec->layers[i];
    if (!r.w[i])
      continue;
    /* A bias before a batch norm has a gradient of 0 (the normalisation
     * takes the mean away): its error is against the weight's scale. */
    double e = fmax (param_error (net, l->param_prefix, "weight",
            AX_PARAM_GRAD, r.dw[i]), bias_grad_error (net, l->param_prefix,
            r.db[i], r.dw[i]));
    printf ("  %-12s gradients %.1e", l->param_prefix, e);
    e_g = fmax (e_g, e);
    if (l->kind == AX_LAYER_BATCHNORM) {
      double s = fmax (param_error (net, l->param_prefix, "running_mean",
              AX_PARAM_VALUE, r.rm[i]), param_error (net, l->param_prefix,
              "running_var", AX_PARAM_VALUE, r.rv[i]));
      printf (", running statistics %.1e", s);
      e_stats = fmax (e_stats, s);
      AX_CHECK (batches_tracked (net, l->param_prefix) == 1,
          "%s counted %lld batches", l->param_prefix,
          (long long) batches_tracked (net, l->param_prefix));
    }
    printf ("\n");
  }
  printf ("  training: logits %.1e, loss %.1e, gradients %.1e, running "
      "statistics %.1e\n", e_logits, e_loss, e_g, e_stats);
  AX_CHECK (e_logits < TOL && e_loss < TOL && e_g < TOL && e_stats < TOL,
      "training against the reference");

  /* evaluation: the (updated) running statistics, which stay */
  ref_forward (&r, 0);
  NET_OK (net, ax_net_forward (net, x, (size_t) N * 3 * SIZE * SIZE, 0));
  double e_eval = logits_error (net, r.act[spec->n_layers], nl);
  double e_kept = param_error (net, "features.2", "running_var",
      AX_PARAM_VALUE, r.rv[2]);
  printf ("  evaluation: logits %.1e, running statistics kept %.1e\n",
      e_eval, e_kept);
  AX_CHECK (e_eval < TOL && e_kept < TOL, "evaluation");
  AX_CHECK (batches_tracked (net, "features.2") == 1, "evaluation counted");
  AX_CHECK (ax_net_backward (net) == AX_ERR_INVALID_ARG,
      "backward after an evaluation");

  /* the update: SGD with momentum and weight decay on batch norm's weight
   * and bias too (PyTorch's SGD decays every parameter) */
  ax_test_train_step (net, x, (size_t) N * 3 * SIZE * SIZE, labels, N, 0,
      &loss);
  double *w = from_net (net, "features.2", "weight");
  double *g = malloc (6 * sizeof *g), v[6] = { 0 };
  float *gf = ax_test_param_values (net, ax_net_param_find (net,
          "features.2.weight"), AX_PARAM_GRAD);
  for (int i = 0; i < 6; i++)
    g[i] = gf[i];
  ax_sgd_step sgd = { 0.1f, 0.9f, 0.01f };
  NET_OK (net, ax_net_update (net, &sgd));
  ref_sgd_update (w, v, g, 6, 0.1f, 0.9f, 0.01f);
  double e_sgd = param_error (net, "features.2", "weight", AX_PARAM_VALUE, w);
  double e_v = param_error (net, "features.2", "weight", AX_PARAM_MOMENTUM,
      v);
  printf ("  update of bn1.weight: %.1e, momentum %.1e\n", e_sgd, e_v);
  AX_CHECK (e_sgd < 1e-6 && e_v < 1e-6, "batch norm's SGD update");
  AX_CHECK (batches_tracked (net, "features.2") == 2, "two training passes");
  free (w); free (g); free (gf);
  ref_free (&r);
  free (x);
  ax_net_destroy (net);
}

/* What the buffers' API accepts and refuses, and ax_net_init's start. */
static void
test_buffer_api (void)
{
  ax_net *net = make_one (2, 1);
  if (!net)
    return;
  set_params (net, 4);
  int rm = ax_net_param_find (net, "features.2.running_mean");
  int rv = ax_net_param_find (net, "features.2.running_var");
  int nb = ax_net_param_find (net, "features.2.num_batches_tracked");
  int w = ax_net_param_find (net, "features.2.weight");
  AX_CHECK (rm >= 0 && rv == rm + 1 && nb == rm + 2 && w == rm - 2,
      "state-dict order: %d %d %d %d", w, rm, rv, nb);
  if (rm < 0 || rv < 0 || nb < 0 || w < 0)
    return;
  const ax_param_info *i = ax_net_param (net, nb);
  AX_CHECK (i->is_buffer && i->dtype == AX_PARAM_I64 && i->ndim == 0
      && i->count == 1, "num_batches_tracked: an int64 scalar buffer");
  i = ax_net_param (net, rm);
  AX_CHECK (i->is_buffer && i->dtype == AX_PARAM_F32 && i->ndim == 1
      && i->dims[0] == 6, "running_mean: 6 floats");
  AX_CHECK (!ax_net_param (net, w)->is_buffer, "weight is trained");
  float v[6], saved[6];
  int64_t c = 5;
  AX_CHECK (ax_net_param_get (net, rm, AX_PARAM_GRAD, v, 6)
      == AX_ERR_INVALID_ARG, "a buffer's gradient");
  AX_CHECK (ax_net_param_set (net, rm, AX_PARAM_MOMENTUM, v, 6)
      == AX_ERR_INVALID_ARG, "a buffer's momentum");
  AX_CHECK (ax_net_param_get (net, nb, AX_PARAM_VALUE, v, 1)
      == AX_ERR_INVALID_ARG, "an int64 buffer as floats");
  AX_CHECK (ax_net_param_get_i64 (net, w, &c, 1) == AX_ERR_INVALID_ARG,
      "a weight as int64");
  AX_CHECK (ax_net_param_get_i64 (net, nb, &c, 2) == AX_ERR_SHAPE, "count");
  NET_OK (net, ax_net_param_get (net, rv, AX_PARAM_VALUE, saved, 6));
  memcpy (v, saved, sizeof v);
  v[3] = -0.5f;
  AX_CHECK (ax_net_param_set (net, rv, AX_PARAM_VALUE, v, 6)
      == AX_ERR_INVALID_ARG, "a negative variance");
  AX_CHECK (strstr (ax_net_last_error (net), "running_var") != NULL, "%s",
      ax_net_last_error (net));
  NET_OK (net, ax_net_param_get (net, rv, AX_PARAM_VALUE, v, 6));
  AX_CHECK (memcmp (v, saved, sizeof v) == 0, "a refused set changed it");
  c = -1;
  AX_CHECK (ax_net_param_set_i64 (net, nb, &c, 1) == AX_ERR_INVALID_ARG,
      "a negative count");
  c = 1LL << 40;                /* beyond a float's integers */
  NET_OK (net, ax_net_param_set_i64 (net, nb, &c, 1));
  AX_CHECK (batches_tracked (net, "features.2") == (1LL << 40), "2^40");
  NET_OK (net, ax_net_init (net, AX_INIT_PAPER, 9));
  NET_OK (net, ax_net_param_get (net, rv, AX_PARAM_VALUE, v, 6));
  float m[6], wv[6], bv[6];
  NET_OK (net, ax_net_param_get (net, rm, AX_PARAM_VALUE, m, 6));
  NET_OK (net, ax_net_param_get (net, w, AX_PARAM_VALUE, wv, 6));
  NET_OK (net, ax_net_param_get (net, w + 1, AX_PARAM_VALUE, bv, 6));
  int reset = batches_tracked (net, "features.2") == 0;
  for (int k = 0; k < 6; k++)
    reset &= v[k] == 1.0f && m[k] == 0.0f && wv[k] == 1.0f && bv[k] == 0.0f;
  AX_CHECK (reset, "init: weight 1, bias 0, running 0 and 1, count 0");
  ax_net_destroy (net);
}

/* An inference net normalises with the running statistics, as a training
 * net's evaluation does; it keeps no gradient of them. */
static void
test_forward_only (void)
{
  enum { N = 3 };
  ax_net *train = make_one (N, 1), *infer = make_one (N, 0);
  if (!train || !infer)
    return;
  set_params (train, 5);
  copy_params (infer, train);
  float *x = images (N, 8), a[N * CLASSES], b[N * CLASSES];
  size_t n = (size_t) N * 3 * SIZE * SIZE;
  NET_OK (train, ax_net_forward (train, x, n, 0));
  NET_OK (infer, ax_net_forward (infer, x, n, 0));
  NET_OK (train, ax_net_logits (train, a, N * CLASSES));
  NET_OK (infer, ax_net_logits (infer, b, N * CLASSES));
  double e = ax_test_rel_error (b, a, N * CLASSES);
  printf ("  forward-only vs a training net's evaluation: %.1e\n", e);
  AX_CHECK (e < 1e-6, "forward-only net");
  AX_CHECK (ax_net_forward (infer, x, n, 1) == AX_ERR_INVALID_ARG,
      "training an inference net");
  AX_CHECK (batches_tracked (infer, "features.2") == 0, "counted");
  free (x);
  ax_net_destroy (train);
  ax_net_destroy (infer);
}

/* Two replicas of batch 2 each: replica r normalises its shard with the
 * shard's statistics (a one-device net of batch 2 on it); the running
 * statistics are replica 0's, and replica 1 evaluates with them. */
static void
test_data_parallel (void)
{
  enum { N = 4, H = 2 };
  char err[256] = "";
  ax_status st;
  ax_net *dp = make (N, AX_PLACE_DATA, 1, rep[0], rep[1], &st, err,
      sizeof err);
  AX_CHECK (st == AX_OK, "data-parallel: %s", err);
  ax_net *half[2] = { make_one (H, 1), make_one (H, 1) };
  ax_net *whole = make_one (N, 1);
  if (!dp || !half[0] || !half[1] || !whole)
    return;
  set_params (dp, 6);
  copy_params (half[0], dp);
  copy_params (half[1], dp);
  float *x = images (N, 9), loss;
  int32_t labels[N] = { 1, 0, 3, 2 };
  size_t per = (size_t) 3 * SIZE * SIZE;
  float l_dp[N * CLASSES], l_half[N * CLASSES];
  ax_test_train_step (dp, x, N * per, labels, N, 0, &loss);
  NET_OK (dp, ax_net_logits (dp, l_dp, N * CLASSES));
  for (int r = 0; r < 2; r++) {
    ax_test_train_step (half[r], x + r * H * per, H * per, labels + r * H, H,
        0, &loss);
    NET_OK (half[r], ax_net_logits (half[r], l_half + r * H * CLASSES,
            H * CLASSES));
  }
  double e_logits = ax_test_rel_error (l_dp, l_half, N * CLASSES);
  const char *worst = "";
  double e_stats = 0.0, e_grad = 0.0;
  for (int p = 0; p < ax_net_n_params (dp); p++) {
    const ax_param_info *i = ax_net_param (dp, p);
    if (i->dtype != AX_PARAM_F32)
      continue;
    float *a = ax_test_param_values (dp, p, i->is_buffer ? AX_PARAM_VALUE
        : AX_PARAM_GRAD);
    float *b0 = ax_test_param_values (half[0], p, i->is_buffer
        ? AX_PARAM_VALUE : AX_PARAM_GRAD);
    float *b1 = ax_test_param_values (half[1], p, i->is_buffer
        ? AX_PARAM_VALUE : AX_PARAM_GRAD);
    /* the whole batch's mean gradient: the mean of the halves' */
    for (size_t k = 0; !i->is_buffer && k < i->count; k++)
      b0[k] = 0.5f * (b0[k] + b1[k]);
    double e = ax_test_rel_error (a, b0, i->count);
    if (i->is_buffer)
      e_stats = fmax (e_stats, e);
    else if (!(e <= e_grad)) {
      e_grad = e;
      worst = i->name;
    }
    free (a); free (b0); free (b1);
  }
  printf ("  data-parallel vs one device per shard: logits %.1e, running "
      "statistics (replica 0's) %.1e, gradients %.1e (%s)\n", e_logits,
      e_stats, e_grad, worst);
  AX_CHECK (e_logits < 1e-6 && e_stats < 1e-6 && e_grad < TOL,
      "data-parallel batch norm");
  AX_CHECK (batches_tracked (dp, "features.0") == 1, "counted once");
  /* evaluation on both replicas with replica 0's statistics */
  copy_params (whole, half[0]);
  float e_dp[N * CLASSES], e_whole[N * CLASSES];
  NET_OK (dp, ax_net_forward (dp, x, N * per, 0));
  NET_OK (whole, ax_net_forward (whole, x, N * per, 0));
  NET_OK (dp, ax_net_logits (dp, e_dp, N * CLASSES));
  NET_OK (whole, ax_net_logits (whole, e_whole, N * CLASSES));
  double e_eval = ax_test_rel_error (e_dp, e_whole, N * CLASSES);
  printf ("  data-parallel evaluation vs one device: %.1e\n", e_eval);
  AX_CHECK (e_eval < 1e-6, "replica 1 evaluates with replica 0's "
      "statistics");
  free (x);
  ax_net_destroy (dp);
  ax_net_destroy (half[0]);
  ax_net_destroy (half[1]);
  ax_net_destroy (whole);
}

static void
test_towers_refused (void)
{
  char err[256] = "";
  ax_status st;
  ax_net *net = make (2, AX_PLACE_TOWERS, 1, rep[0], rep[1], &st, err,
      sizeof err);
  AX_CHECK (st == AX_ERR_UNSUPPORTED && !net, "towers: %s",
      ax_status_str (st));
  AX_CHECK (strstr (err, "batch norm") && strstr (err, "AX_PLACE_TOWERS"),
      "message: %s", err);
  printf ("  towers: %s\n", err);
  ax_net_destroy (net);
}

/* --- checkpoints --- */

static char *
path_of (const char *name)
{
  return ax_test_path (dir, name);
}

/* Copies `src` to `dst` with tensor `name` replaced (dtype, shape, data),
 * or left out (data NULL). */
static void
rewrite (const char *src, const char *dst, const char *name,
    ax_ckpt_dtype dtype, const ax_ckpt_shape *shape, const void *data)
{
  ax_checkpoint *ck = NULL;
  char err[512];
  AX_CHECK (ax_checkpoint_open (src, &ck, err, sizeof err) == AX_CKPT_OK,
      "%s", err);
  if (!ck)
    return;
  ax_checkpoint_writer *w = ax_checkpoint_writer_new ();
  for (size_t i = 0; i < ax_checkpoint_n_tensors (ck); i++) {
    const ax_ckpt_tensor *t = ax_checkpoint_tensor_at (ck, i);
    if (strcmp (t->name, name) != 0)
      ax_checkpoint_writer_add (w, t->name, t->dtype, &t->shape, t->data);
    else if (data)
      ax_checkpoint_writer_add (w, t->name, dtype, shape, data);
  }
  for (size_t i = 0; i < ax_checkpoint_n_meta (ck); i++) {
    const char *key = ax_checkpoint_meta_key_at (ck, i);
    ax_checkpoint_writer_set_meta (w, key, ax_checkpoint_meta (ck, key));
  }
  AX_CHECK (ax_checkpoint_writer_write (w, dst, err, sizeof err)
      == AX_CKPT_OK, "%s", err);
  ax_checkpoint_writer_free (w);
  ax_checkpoint_close (ck);
}

/* Loading `path` fails with `want` and a message holding `words`, and the
 * net keeps its count of 7. */
static void
load_fails (ax_net *net, const char *path, ax_status want, const char *words)
{
  char err[512] = "";
  ax_status st = ax_net_checkpoint_load (net, path, 0, NULL, err, sizeof err);
  AX_CHECK (st == want && strstr (err, words), "%s: %s (%s), want %s with "
      "'%s'", path, ax_status_str (st), err, ax_status_str (want), words);
  AX_CHECK (batches_tracked (net, "features.2") == 7, "a failed load "
      "changed the net");
  printf ("  refused: %s\n", err);
}

static void
test_checkpoint (void)
{
  enum { N = 2 };
  ax_net *a = make_one (N, 1), *b = make_one (N, 1);
  if (!a || !b)
    return;
  set_params (a, 10);
  float *x = images (N, 11), loss;
  int32_t labels[N] = { 2, 1 };
  for (int s = 0; s < 2; s++)
    ax_test_train_step (a, x, (size_t) N * 3 * SIZE * SIZE, labels, N, 1,
        &loss);
  char err[512] = "";
  ax_net_checkpoint_info info = { .has_training_state = 1, .epoch = 1,
    .learning_rate = 0.01 };
  char good[256];
  snprintf (good, sizeof good, "%s", path_of ("bn.safetensors"));
  AX_CHECK (ax_net_checkpoint_save (a, good, &info, err, sizeof err)
      == AX_OK, "save: %s", err);
  /* torchvision's names and types */
  ax_checkpoint *ck = NULL;
  AX_CHECK (ax_checkpoint_open (good, &ck, err, sizeof err) == AX_CKPT_OK,
      "%s", err);
  if (ck) {
    const ax_ckpt_tensor *t = ax_checkpoint_find (ck,
        "features.2.num_batches_tracked");
    int64_t c = 0;
    if (t && t->dtype == AX_CKPT_I64 && t->bytes == 8)
      memcpy (&c, t->data, 8);
    AX_CHECK (t && t->dtype == AX_CKPT_I64 && t->shape.ndim == 0 && c == 2,
        "num_batches_tracked: I64 [] = 2, got %s %lld", t
        ? ax_ckpt_dtype_name (t->dtype) : "none", (long long) c);
    t = ax_checkpoint_find (ck, "classifier.1.running_var");
    AX_CHECK (t && t->dtype == AX_CKPT_F32 && t->shape.ndim == 1
        && t->shape.dim[0] == 10, "classifier.1.running_var: F32 [10]");
    AX_CHECK (ax_checkpoint_find (ck, "momentum.features.2.weight")
        && !ax_checkpoint_find (ck, "momentum.features.2.running_mean")
        && !ax_checkpoint_find (ck, "momentum.features.2.num_batches_tracked"),
        "momentum of the trained parameters only");
    ax_checkpoint_close (ck);
  }
  AX_CHECK (ax_net_checkpoint_load (b, good, 1, NULL, err, sizeof err)
      == AX_OK, "load: %s", err);
  const char *worst = "";
  double e = ax_test_params_error (b, a, AX_PARAM_VALUE, &worst);
  double ev = ax_test_params_error (b, a, AX_PARAM_MOMENTUM, &worst);
  AX_CHECK (e == 0.0 && ev == 0.0, "round trip: %g %g (%s)", e, ev, worst);
  AX_CHECK (batches_tracked (b, "features.2") == 2
      && batches_tracked (b, "classifier.1") == 2, "counts restored");

  /* damaged files: refused before anything changes */
  int64_t seven = 7;
  NET_OK (b, ax_net_param_set_i64 (b, ax_net_param_find (b,
              "features.2.num_batches_tracked"), &seven, 1));
  ax_ckpt_shape scalar = { 0, { 0 } }, one_elem = { 1, { 1 } };
  float f = 2.0f;
  int64_t negative = -3;
  const char *p = path_of ("f32-count.safetensors");
  rewrite (good, p, "features.2.num_batches_tracked", AX_CKPT_F32, &scalar, &f);
  load_fails (b, p, AX_ERR_FORMAT, "expected I64");
  p = path_of ("negative-count.safetensors");
  rewrite (good, p, "features.2.num_batches_tracked", AX_CKPT_I64, &scalar,
      &negative);
  load_fails (b, p, AX_ERR_FORMAT, "not negative");
  p = path_of ("shaped-count.safetensors");
  rewrite (good, p, "features.2.num_batches_tracked", AX_CKPT_I64, &one_elem,
      &seven);
  load_fails (b, p, AX_ERR_FORMAT, "expected []");
  float var[6] = { 1, 1, -0.25f, 1, 1, 1 }, mean[6] = { 0, 0, 0, NAN, 0, 0 };
  ax_ckpt_shape six = { 1, { 6 } };
  p = path_of ("negative-var.safetensors");
  rewrite (good, p, "features.2.running_var", AX_CKPT_F32, &six, var);
  load_fails (b, p, AX_ERR_FORMAT, "negative variance");
  p = path_of ("nan-mean.safetensors");
  rewrite (good, p, "features.2.running_mean", AX_CKPT_F32, &six, mean);
  load_fails (b, p, AX_ERR_NONFINITE, "NaN");
  p = path_of ("no-mean.safetensors");
  rewrite (good, p, "features.2.running_mean", AX_CKPT_F32, &six, NULL);
  load_fails (b, p, AX_ERR_FORMAT, "no tensor 'features.2.running_mean'");
  /* a state dict from before PyTorch counted batches: the count is 0 */
  p = path_of ("no-count.safetensors");
  rewrite (good, p, "features.2.num_batches_tracked", AX_CKPT_I64, &scalar,
      NULL);
  AX_CHECK (ax_net_checkpoint_load (b, p, 0, NULL, err, sizeof err) == AX_OK,
      "without num_batches_tracked: %s", err);
  AX_CHECK (batches_tracked (b, "features.2") == 0
      && batches_tracked (b, "classifier.1") == 2, "a missing count is 0");
  free (x);
  ax_net_destroy (a);
  ax_net_destroy (b);
}

int
main (void)
{
  ax_rng_seed (&test_rng, 1502);
  if (!mkdtemp (dir)) {
    perror ("mkdtemp");
    return 1;
  }
  if (ax_cpu_backend_create (0, &one) != AX_OK
      || ax_cpu_backend_create (1, &rep[0]) != AX_OK
      || ax_cpu_backend_create (1, &rep[1]) != AX_OK) {
    fprintf (stderr, "cannot create the CPU backends\n");
    return 1;
  }
  AX_RUN (test_against_reference);
  AX_RUN (test_buffer_api);
  AX_RUN (test_forward_only);
  AX_RUN (test_data_parallel);
  AX_RUN (test_towers_refused);
  AX_RUN (test_checkpoint);
  ax_backend_destroy (one);
  ax_backend_destroy (rep[0]);
  ax_backend_destroy (rep[1]);
  static const char *const files[] = { "bn.safetensors",
    "f32-count.safetensors", "negative-count.safetensors",
    "shaped-count.safetensors", "negative-var.safetensors",
    "nan-mean.safetensors", "no-mean.safetensors", "no-count.safetensors" };
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    unlink (path_of (files[i]));
  rmdir (dir);
  return ax_test_finish ();
}
