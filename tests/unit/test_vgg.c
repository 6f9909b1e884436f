/* The VGG configurations of Simonyan and Zisserman (Table 1) through the
 * network description: the weight counts the paper gives for 1000 classes,
 * torchvision's parameter names, the 1x1 convolutions of C, the names a
 * checkpoint and torchvision use, and a narrowed VGG taking SGD steps on
 * the CPU backend; torchvision's batch-norm variants (names, parameter and
 * buffer counts, a step of vgg11_bn). */
#include "kernels/cpu/cpu_backend.h"
#include "kernels/nn/net.h"
#include "kernels/nn/trainer.h"
#include "kernels/nn/net_dense.h"
#include "kernels/nn/net_checkpoint.h"
#include "kernels/image/classify.h"
#include "tests/ax_test.h"
#include "tests/net_test_util.h"
#include "fixture_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ax_backend *cpu;
static ax_fixture fx;

/* PyTorch's record `name` (tests/data/vgg_fixture.bin, written by
 * gen_vgg_fixture.py), checked to hold count values. */
static const float *
fixture (const char *name, size_t count)
{
  return ax_fixture_values (&fx, name, count);
}


static ax_net *
make (const char *arch, int classes, int size, int div, int batch,
    int training)
{
  ax_net_spec spec;
  ax_net *net = NULL;
  char err[256];
  ax_status st = ax_net_spec_vgg (&spec, arch, classes, size);
  AX_CHECK (st == AX_OK, "%s: %s", arch, ax_status_str (st));
  if (st == AX_OK && div > 1)
    AX_CHECK ((st = ax_net_spec_narrow (&spec, div)) == AX_OK, "narrow");
  if (st != AX_OK)
    return NULL;
  ax_net_config cfg = { batch, AX_PLACE_ONE, training, { cpu } };
  st = ax_net_create (&spec, &cfg, &net, err, sizeof err);
  AX_CHECK (st == AX_OK, "%s: create: %s", arch, err);
  return net;
}

static void
test_weight_counts (void)
{
  static const struct { const char *arch; long long weights; int convs; }
  paper[] = {
    { "vgg-a", 132863336LL, 8 }, { "vgg-a-lrn", 132863336LL, 8 },
    { "vgg-b", 133047848LL, 10 }, { "vgg-c", 133638952LL, 13 },
    { "vgg-d", 138357544LL, 13 }, { "vgg-e", 143667240LL, 16 },
  };
  for (size_t i = 0; i < sizeof paper / sizeof paper[0]; i++) {
    ax_net *net = make (paper[i].arch, 1000, 224, 1, 1, 0);
    if (!net)
      continue;
    long long n = 0;
    int convs = 0;
    for (int p = 0; p < ax_net_n_params (net); p++)
      n += (long long) ax_net_param (net, p)->count;
    const ax_net_spec *s = ax_net_get_spec (net);
    for (int l = 0; l < s->n_layers; l++)
      convs += s->layers[l].kind == AX_LAYER_CONV;
    AX_CHECK (n == paper[i].weights, "%s: %lld weights, the paper %lld",
        paper[i].arch, n, paper[i].weights);
    AX_CHECK (convs == paper[i].convs, "%s: %d convolutions, want %d",
        paper[i].arch, convs, paper[i].convs);
    ax_shape pool5;
    AX_CHECK (ax_net_activation_shape (net, "pool5", &pool5) == AX_OK
        && pool5.c == 512 && pool5.h == 7 && pool5.w == 7,
        "%s: pool5 is not 512x7x7", paper[i].arch);
    printf ("  %s: %lld weights, %d conv layers\n", paper[i].arch, n, convs);
    ax_net_destroy (net);
  }
}

/* torchvision's vgg16 state dict names, in order, and C's 1x1 kernels. */
static void
test_names (void)
{
  static const int d_features[] = { 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24,
    26, 28 };
  ax_net_spec spec;
  AX_CHECK (ax_net_spec_vgg (&spec, "vgg16", 10, 224) == AX_OK
      && strcmp (spec.arch, "vgg-d") == 0, "vgg16 is %s", spec.arch);
  int c = 0, f = 0;
  for (int l = 0; l < spec.n_layers; l++) {
    char want[AX_NAME_MAX];
    if (spec.layers[l].kind == AX_LAYER_CONV && c < 13) {
      snprintf (want, sizeof want, "features.%d", d_features[c++]);
      AX_CHECK (strcmp (spec.layers[l].param_prefix, want) == 0,
          "conv %d is %s, torchvision's %s", c, spec.layers[l].param_prefix,
          want);
    } else if (spec.layers[l].kind == AX_LAYER_FC) {
      snprintf (want, sizeof want, "classifier.%d", 3 * f++);
      AX_CHECK (strcmp (spec.layers[l].param_prefix, want) == 0,
          "fc %d is %s, torchvision's %s", f, spec.layers[l].param_prefix,
          want);
    }
  }
  AX_CHECK (c == 13 && f == 3, "%d convs, %d fcs", c, f);

  AX_CHECK (ax_net_spec_vgg (&spec, "vgg-c", 10, 224) == AX_OK, "vgg-c");
  int ones = 0;
  for (int l = 0; l < spec.n_layers; l++)
    if (spec.layers[l].kind == AX_LAYER_CONV
        && spec.layers[l].p.conv.kernel_h == 1)
      ones++;
  AX_CHECK (ones == 3, "C has %d 1x1 convolutions, the paper 3", ones);

  const char *aliases[][2] = { { "vgg11", "vgg-a" }, { "vgg13", "vgg-b" },
    { "vgg19", "vgg-e" }, { "vgg-a-lrn", "vgg-a-lrn" } };
  for (size_t i = 0; i < 4; i++)
    AX_CHECK (ax_net_spec_by_arch (&spec, aliases[i][0], 10, 224) == AX_OK
        && strcmp (spec.arch, aliases[i][1]) == 0, "%s", aliases[i][0]);
  AX_CHECK (ax_net_spec_by_arch (&spec, "vgg17", 10, 224)
      == AX_ERR_UNSUPPORTED, "vgg17 accepted");
  AX_CHECK (ax_net_spec_vgg (&spec, "vgg-a-lrn", 10, 224) == AX_OK,
      "vgg-a-lrn");
  int lrn_at = -1;
  for (int l = 0; l < spec.n_layers; l++)
    if (spec.layers[l].kind == AX_LAYER_LRN)
      lrn_at = l;
  AX_CHECK (lrn_at == 2, "A-LRN's LRN at layer %d, want after relu1_1",
      lrn_at);
}

/* torchvision's batch-norm variants: trainable parameters as torchvision
 * counts them (sum of p.numel() over model.parameters()), and its buffers:
 * running_mean and running_var (floats) and num_batches_tracked (an int64
 * scalar) for each of the `convs` BatchNorm2d, in state-dict order. */
static void
test_bn_counts (void)
{
  static const struct { const char *arch, *paper; long long trained; int convs; }
  bn[] = {
    { "vgg11_bn", "vgg-a-bn", 132868840LL, 8 },
    { "vgg13_bn", "vgg-b-bn", 133053736LL, 10 },
    { "vgg16_bn", "vgg-d-bn", 138365992LL, 13 },
    { "vgg19_bn", "vgg-e-bn", 143678248LL, 16 },
  };
  for (size_t i = 0; i < sizeof bn / sizeof bn[0]; i++) {
    ax_net *net = make (bn[i].arch, 1000, 224, 1, 1, 0);
    if (!net)
      continue;
    const ax_net_spec *s = ax_net_get_spec (net);
    AX_CHECK (strcmp (s->arch, bn[i].paper) == 0, "%s is %s", bn[i].arch,
        s->arch);
    long long trained = 0, buffer_floats = 0, bn_width = 0;
    int counters = 0, buffers = 0, entries = ax_net_n_params (net);
    for (int p = 0; p < entries; p++) {
      const ax_param_info *pi = ax_net_param (net, p);
      if (!pi->is_buffer) {
        trained += (long long) pi->count;
      } else if (pi->dtype == AX_PARAM_I64) {
        counters++;
        AX_CHECK (pi->ndim == 0 && pi->count == 1, "%s is not a scalar",
            pi->name);
      } else {
        buffer_floats += (long long) pi->count;
      }
      buffers += pi->is_buffer;
    }
    for (int l = 0; l < s->n_layers; l++)
      if (s->layers[l].kind == AX_LAYER_BATCHNORM)
        bn_width += 2 * s->layers[l - 1].p.conv.out_channels;
    AX_CHECK (trained == bn[i].trained, "%s: %lld trained parameters, "
        "torchvision %lld", bn[i].arch, trained, bn[i].trained);
    AX_CHECK (counters == bn[i].convs && buffers == 3 * bn[i].convs
        && buffer_floats == bn_width, "%s: %d buffers, %d counters, %lld "
        "floats", bn[i].arch, buffers, counters, buffer_floats);
    /* torchvision's state dict: 2 per conv and fc, 5 per batch norm */
    AX_CHECK (entries == 2 * bn[i].convs + 6 + 5 * bn[i].convs, "%s: %d "
        "entries in the state dict", bn[i].arch, entries);
    printf ("  %s (%s): %lld parameters, %d buffers (%lld floats), %d "
        "layers\n", bn[i].arch, s->arch, trained, buffers, buffer_floats,
        s->n_layers);
    ax_net_destroy (net);
  }
}

/* vgg11_bn's module indices are torchvision's, and the state dict's order
 * with them. */
static void
test_bn_names (void)
{
  static const struct { int layer; ax_layer_kind kind; const char *prefix; }
  want[] = {
    { 0, AX_LAYER_CONV, "features.0" }, { 1, AX_LAYER_BATCHNORM, "features.1" },
    { 2, AX_LAYER_RELU, NULL }, { 3, AX_LAYER_MAXPOOL, NULL },
    { 4, AX_LAYER_CONV, "features.4" }, { 5, AX_LAYER_BATCHNORM, "features.5" },
    { 8, AX_LAYER_CONV, "features.8" }, { 9, AX_LAYER_BATCHNORM, "features.9" },
  };
  ax_net_spec spec;
  AX_CHECK (ax_net_spec_vgg (&spec, "vgg11_bn", 10, 224) == AX_OK
      && strcmp (spec.arch, "vgg-a-bn") == 0, "vgg11_bn");
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const ax_layer_spec *l = &spec.layers[want[i].layer];
    AX_CHECK (l->kind == want[i].kind && (!want[i].prefix
            || strcmp (l->param_prefix, want[i].prefix) == 0),
        "vgg11_bn layer %d: kind %d, %s", want[i].layer, (int) l->kind,
        l->param_prefix);
  }
  /* the last conv of vgg16_bn is features.40, its batch norm 41; the
   * classifier keeps its names */
  AX_CHECK (ax_net_spec_by_arch (&spec, "vgg-d-bn", 10, 224) == AX_OK,
      "vgg-d-bn");
  int last_bn = -1;
  for (int l = 0; l < spec.n_layers; l++)
    if (spec.layers[l].kind == AX_LAYER_BATCHNORM)
      last_bn = l;
  AX_CHECK (last_bn > 0 && strcmp (spec.layers[last_bn].param_prefix,
          "features.41") == 0 && strcmp (spec.layers[last_bn - 1].param_prefix,
          "features.40") == 0, "vgg16_bn's last batch norm is %s",
      last_bn > 0 ? spec.layers[last_bn].param_prefix : "missing");
  AX_CHECK (spec.layers[last_bn].p.bn.eps == 1e-5
      && spec.layers[last_bn].p.bn.momentum == 0.1, "BatchNorm2d's defaults");
  AX_CHECK (ax_net_spec_by_arch (&spec, "vgg19_bn", 10, 224) == AX_OK
      && spec.n_layers == 62, "vgg19_bn: %d layers", spec.n_layers);
  /* torchvision has no batch-norm C or A-LRN; no half-named variants */
  const char *refused[] = { "vgg-c-bn", "vgg-a-lrn-bn", "vgg16-bn", "vgg-d_bn",
    "vgg16_bn_bn" };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    AX_CHECK (ax_net_spec_by_arch (&spec, refused[i], 10, 224)
        == AX_ERR_UNSUPPORTED, "%s accepted", refused[i]);
  ax_net *net = make ("vgg11_bn", 10, 224, 16, 2, 1);
  if (!net)
    return;
  static const char *const order[] = { "features.0.weight", "features.0.bias",
    "features.1.weight", "features.1.bias", "features.1.running_mean",
    "features.1.running_var", "features.1.num_batches_tracked",
    "features.4.weight" };
  for (int p = 0; p < 8; p++)
    AX_CHECK (strcmp (ax_net_param (net, p)->name, order[p]) == 0,
        "entry %d is %s, torchvision's %s", p, ax_net_param (net, p)->name,
        order[p]);
  /* one SGD step trains it and counts the batch */
  AX_CHECK (ax_net_init (net, AX_INIT_TORCH, 11) == AX_OK, "init");
  size_t n = (size_t) 2 * 3 * 224 * 224;
  float *x = malloc (n * sizeof *x), mean[4] = { 0 };
  int32_t labels[2] = { 1, 7 };
  int64_t batches = -1;
  ax_sgd_step sgd = { 0.01f, 0.9f, 0.0005f };
  ax_trainer_result r;
  for (size_t i = 0; x && i < n; i++)
    x[i] = (float) (((i * 2654435761u) >> 9) % 1000) / 500.0f - 0.8f;
  ax_status st = x ? ax_trainer_net_step (net, x, labels, 2, &sgd, NULL, &r)
      : AX_ERR_NO_MEMORY;
  AX_CHECK (st == AX_OK && r.loss > 0 && r.loss < 10, "vgg11_bn step: %s, "
      "loss %g (%s)", ax_status_str (st), r.loss, ax_net_last_error (net));
  AX_CHECK (ax_net_param_get (net, 4, AX_PARAM_VALUE, mean, 4) == AX_OK
      && ax_net_param_get_i64 (net, 6, &batches, 1) == AX_OK
      && batches == 1 && (mean[0] != 0 || mean[1] != 0),
      "running_mean %g %g, num_batches_tracked %lld", mean[0], mean[1],
      (long long) batches);
  free (x);
  ax_net_destroy (net);
}

/* A VGG-A with every width divided by 16 runs the trainer's step on the
 * CPU backend: finite losses, and the weights move. (Whether it learns as
 * torchvision's does is for the PyTorch fixtures: issue 10.) */
static void
test_narrow_steps (void)
{
  /* 224: the adaptive average pool is the identity (other sizes:
   * test_other_sizes) */
  const int batch = 4, size = 224, classes = 3;
  ax_net *net = make ("vgg-a", classes, size, 16, batch, 1);
  if (!net)
    return;
  AX_CHECK (ax_net_init (net, AX_INIT_TORCH, 5) == AX_OK, "init");
  size_t n = (size_t) batch * 3 * size * size;
  float *x = malloc (n * sizeof *x);
  int32_t labels[4] = { 0, 1, 2, 1 };
  for (size_t i = 0; i < n; i++)
    x[i] = (float) (((i * 2654435761u) >> 7) % 1000) / 1000.0f - 0.5f;
  int p = ax_net_param_find (net, "features.0.weight");
  AX_CHECK (p >= 0, "no features.0.weight");
  size_t count = p >= 0 ? ax_net_param (net, p)->count : 0;
  float *w0 = malloc ((count + 1) * sizeof *w0), *w1 = malloc ((count + 1)
      * sizeof *w1);
  if (p >= 0)
    AX_CHECK (ax_net_param_get (net, p, AX_PARAM_VALUE, w0, count) == AX_OK,
        "get");
  ax_sgd_step sgd = { 0.01f, 0.9f, 0.0005f };
  for (int s = 0; s < 3; s++) {
    ax_trainer_result r;
    ax_status st = ax_trainer_net_step (net, x, labels, batch, &sgd, NULL, &r);
    AX_CHECK (st == AX_OK && r.loss > 0 && r.loss < 10, "step %d: %s, loss "
        "%g (%s)", s, ax_status_str (st), r.loss, ax_net_last_error (net));
    if (st != AX_OK)
      break;
  }
  if (p >= 0) {
    AX_CHECK (ax_net_param_get (net, p, AX_PARAM_VALUE, w1, count) == AX_OK,
        "get");
    AX_CHECK (memcmp (w0, w1, count * sizeof *w0) != 0,
        "features.0.weight did not move");
  }
  free (w0);
  free (w1);
  free (x);
  ax_net_destroy (net);
}

/* The fixtures' narrow VGG: conv widths / 32, hidden fc layers 32 wide,
 * no dropout. */
static ax_status
fixture_spec (ax_net_spec *spec, const char *arch, int classes, int size)
{
  ax_status st = ax_net_spec_vgg (spec, arch, classes, size);
  if (st == AX_OK)
    st = ax_net_spec_narrow (spec, 32);
  AX_CHECK (st == AX_OK, "%s spec", arch);
  for (int l = 0; l < spec->n_layers; l++)
    if (spec->layers[l].kind == AX_LAYER_FC && l != spec->n_layers - 1)
      spec->layers[l].p.fc.out_features = 32;
  ax_test_set_dropout (spec, 0.0f);
  return st;
}

/* First-step gradients against the fixture (float64), as
 * ax_test_params_vs compares them, except a convolution's bias just before
 * a batch norm: its exact gradient is 0 (the norm removes the mean), so
 * what float32 gives is rounding noise, with no relative error to speak
 * of; *zero receives its largest value against its weight's gradient as
 * the scale. */
static double
grads_vs (ax_net *net, const char *tag, const char **worst, double *zero)
{
  const ax_net_spec *s = ax_net_get_spec (net);
  double most = 0.0;
  *worst = "";
  *zero = 0.0;
  for (int p = 0; p < ax_net_n_params (net); p++) {
    const ax_param_info *i = ax_net_param (net, p);
    if (i->is_buffer)
      continue;
    char name[96];
    snprintf (name, sizeof name, "%s.g.%s", tag, i->name);
    const float *want = fixture (name, i->count);
    float *got = ax_test_param_values (net, p, AX_PARAM_GRAD);
    int before_bn = i->ndim == 1 && s->layers[i->layer].kind == AX_LAYER_CONV
        && i->layer + 1 < s->n_layers
        && s->layers[i->layer + 1].kind == AX_LAYER_BATCHNORM;
    double e = INFINITY;
    if (want && before_bn) {
      float *wg = ax_test_param_values (net, p - 1, AX_PARAM_GRAD);
      double d = 0.0, scale = 0.0;
      for (size_t k = 0; k < i->count; k++)
        d = fmax (d, fabs ((double) got[k]));
      for (size_t k = 0; k < ax_net_param (net, p - 1)->count; k++)
        scale = fmax (scale, fabs ((double) wg[k]));
      *zero = fmax (*zero, d / scale);
      free (wg);
      free (got);
      continue;
    } else if (want) {
      e = ax_test_rel_error (got, want, i->count);
    }
    if (!(e <= most)) {
      most = e;
      *worst = i->name;
    }
    free (got);
  }
  return most;
}

/* After the first training forward: the running statistics, and the batch
 * in evaluation mode (running statistics, the first weights). */
static void
check_bn_first_step (ax_net *net, const char *arch, const char *tag,
    const float *x, size_t n)
{
  double e_r = 0.0;
  for (int p = 0; p < ax_net_n_params (net); p++) {
    const ax_param_info *i = ax_net_param (net, p);
    if (!i->is_buffer || i->dtype != AX_PARAM_F32)
      continue;
    char name[96];
    snprintf (name, sizeof name, "%s.r.%s", tag, i->name);
    const float *want = fixture (name, i->count);
    float *got = ax_test_param_values (net, p, AX_PARAM_VALUE);
    e_r = fmax (e_r, want ? ax_test_rel_error (got, want, i->count)
        : INFINITY);
    free (got);
  }
  float logits[20];
  NET_OK (net, ax_net_forward (net, x, n, 0));
  NET_OK (net, ax_net_logits (net, logits, 20));
  char name[64];
  snprintf (name, sizeof name, "%s.eval0.logits", tag);
  const float *want = fixture (name, 20);
  double e_e = want ? ax_test_rel_error (logits, want, 20) : INFINITY;
  printf ("  %-9s after one forward: running statistics %.1e, evaluation "
      "logits %.1e\n", arch, e_r, e_e);
  AX_CHECK (e_r < 1e-5 && e_e < 1e-5, "%s: running statistics %.1e, "
      "evaluation logits %.1e", arch, e_r, e_e);
}

/* Every configuration against PyTorch in float64 (gen_vgg_fixture.py):
 * conv widths divided by 32, hidden fc layers 32 wide, 64x64, batch 2, no
 * dropout; the logits, the loss, every gradient and every weight after
 * three SGD steps on the same batch. (At 224x224 these 2-channel nets met
 * near-ties in max-pooling and ReLU that each oneDNN ISA broke its own
 * way: 10 % apart on AVX2 where AVX-512 matched.) */
static void
test_against_torch (void)
{
  static const char *const archs[][2] = { { "vgg-a", "A" }, { "vgg-a-lrn",
      "AL" }, { "vgg-b", "B" }, { "vgg-c", "C" }, { "vgg-d", "D" },
  { "vgg-e", "E" }, { "vgg11_bn", "Abn" }, { "vgg13_bn", "Bbn" },
  { "vgg16_bn", "Dbn" }, { "vgg19_bn", "Ebn" } };
  enum { BATCH = 2, SIZE = 64, CLASSES = 10 };
  const int32_t labels[BATCH] = { 3, 7 };
  size_t n = (size_t) BATCH * 3 * SIZE * SIZE;
  float *x = malloc (n * sizeof *x);
  if (!x)
    return;
  ax_test_gen_values (x, n, 999, 1.0);
  for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++) {
    const char *tag = archs[a][1];
    char name[64];
    ax_net_spec spec;
    ax_net *net = NULL;
    char err[256];
    ax_status st = fixture_spec (&spec, archs[a][0], CLASSES, SIZE);
    ax_net_config cfg = { BATCH, AX_PLACE_ONE, 1, { cpu } };
    if (st == AX_OK)
      st = ax_net_create (&spec, &cfg, &net, err, sizeof err);
    AX_CHECK (st == AX_OK, "%s: create: %s", archs[a][0], err);
    if (st != AX_OK)
      continue;
    ax_test_set_formula_params (net);
    float loss, l2, logits[BATCH * CLASSES];
    ax_test_train_step (net, x, n, labels, BATCH, 0, &loss);
    NET_OK (net, ax_net_logits (net, logits, BATCH * CLASSES));
    snprintf (name, sizeof name, "%s.logits", tag);
    const float *want_logits = fixture (name, BATCH * CLASSES);
    snprintf (name, sizeof name, "%s.loss", tag);
    const float *want_loss = fixture (name, 1);
    const char *worst_g, *worst_w;
    snprintf (name, sizeof name, "%s.g.", tag);
    int bn = strstr (archs[a][0], "_bn") != NULL;
    double zero;
    double e_g = grads_vs (net, tag, &worst_g, &zero);
    if (bn)
      check_bn_first_step (net, archs[a][0], tag, x, n);
    ax_sgd_step sgd = { 0.01f, 0.9f, 0.0005f };
    NET_OK (net, ax_net_update (net, &sgd));
    for (int s = 1; s < 3; s++)
      ax_test_train_step (net, x, n, labels, BATCH, 1, &l2);
    snprintf (name, sizeof name, "%s.w3.", tag);
    /* Dbn and Ebn after three steps: no reference (gen_vgg_fixture.py) */
    int three = !bn || strcmp (tag, "Abn") == 0 || strcmp (tag, "Bbn") == 0;
    double e_w = three ? ax_test_params_vs (net, AX_PARAM_VALUE, name,
        fixture, &worst_w) : 0.0;
    if (!three)
      worst_w = "(not compared)";
    double e_l = want_logits ? ax_test_rel_error (logits, want_logits,
        BATCH * CLASSES) : INFINITY;
    double e_loss = want_loss ? fabs (loss - want_loss[0]) / want_loss[0]
        : INFINITY;
    printf ("  %-9s vs PyTorch: logits %.1e, loss %.1e, gradients %.1e "
        "(worst %s), weights after 3 steps %.1e (worst %s)\n", archs[a][0],
        e_l, e_loss, e_g, worst_g, e_w, worst_w);
    AX_CHECK (e_l < 1e-5, "%s logits %.1e", archs[a][0], e_l);
    AX_CHECK (e_loss < 1e-5, "%s loss %.1e", archs[a][0], e_loss);
    /* 1e-5; for batch norm, whose per-channel sums cancel (a bias's
     * gradient sums 8,192 terms to a few of them), as close to the exact
     * answer as float32 gets: within 3x PyTorch's own float32 error
     * against it where that is more (the deep nets; each ISA's kernels
     * round their own way: 1.2e-5 on AVX2, 9.8e-6 on SSE4.1 for vgg16_bn,
     * whose PyTorch error is 4.7e-6) */
    double tol = 1e-5;
    {
      snprintf (name, sizeof name, "%s.t32err", tag);
      const float *t32 = fixture (name, 1);
      tol = !t32 ? 0.0 : bn ? fmax (tol, 3.0 * t32[0]) : tol;
      printf ("  %-9s PyTorch's float32 gradients against float64: %.1e\n",
          archs[a][0], t32 ? t32[0] : -1.0);
    }
    AX_CHECK (e_g < tol, "%s gradients %.1e (%s), tolerance %.1e",
        archs[a][0], e_g, worst_g, tol);
    if (bn)
      printf ("  %-9s biases before a batch norm (exact gradient 0): %.1e "
          "of their weights' gradients\n", archs[a][0], zero);
    AX_CHECK (zero < 1e-4, "%s: a bias before a batch norm has a gradient "
        "%.1e of its weight's, want about 0", archs[a][0], zero);
    AX_CHECK (e_w < 1e-5, "%s weights %.1e (%s)", archs[a][0], e_w, worst_w);
    if (bn && three) {
      /* the running statistics went with the weights (e_w); the counter,
       * and the batch in evaluation mode after the steps */
      int c = ax_net_param_find (net, "features.1.num_batches_tracked");
      int64_t steps = -1;
      AX_CHECK (c >= 0 && ax_net_param_get_i64 (net, c, &steps, 1) == AX_OK
          && steps == 3, "%s: num_batches_tracked %lld, want 3", archs[a][0],
          (long long) steps);
      NET_OK (net, ax_net_forward (net, x, n, 0));
      NET_OK (net, ax_net_logits (net, logits, BATCH * CLASSES));
      snprintf (name, sizeof name, "%s.eval.logits", tag);
      const float *want_eval = fixture (name, BATCH * CLASSES);
      double e_e = want_eval ? ax_test_rel_error (logits, want_eval,
          BATCH * CLASSES) : INFINITY;
      printf ("  %-9s evaluation mode after the steps: logits %.1e\n",
          archs[a][0], e_e);
      AX_CHECK (e_e < 1e-5, "%s evaluation logits %.1e", archs[a][0], e_e);
    }
    ax_net_destroy (net);
  }
  free (x);
}

static ax_net *
create (const ax_net_spec *spec, int batch, int training)
{
  ax_net *net = NULL;
  char err[256];
  ax_net_config cfg = { batch, AX_PLACE_ONE, training, { cpu } };
  ax_status st = ax_net_create (spec, &cfg, &net, err, sizeof err);
  AX_CHECK (st == AX_OK, "create %s %dx%d: %s", spec->arch, spec->in_w,
      spec->in_h, err);
  return st == AX_OK ? net : NULL;
}

/* The image (stream `stream`) and its mirror, h x w, as batch 2. */
static float *
image_and_mirror (int h, int w, uint64_t stream)
{
  size_t n = (size_t) 3 * h * w;
  float *x = malloc (2 * n * sizeof *x);
  if (!x)
    return NULL;
  ax_test_gen_values (x, n, stream, 1.0);
  for (size_t c = 0; c < 3; c++)
    for (int y = 0; y < h; y++)
      for (int i = 0; i < w; i++)
        x[n + (c * h + y) * w + i] = x[(c * h + y) * w + (w - 1 - i)];
  return x;
}

/* Dense evaluation (net_dense.h): at the training size it is the ordinary
 * net; at 256x320 and 384x480 it equals PyTorch's fully convolutional
 * net of the same weights, image and mirror; a dense net loads from
 * another; images below the training size are refused. */
static void
test_dense (void)
{
  enum { CLASSES = 10 };
  ax_net_spec spec, dspec;
  char err[256];
  if (fixture_spec (&spec, "vgg-a", CLASSES, 224) != AX_OK)
    return;
  ax_net *net = create (&spec, 2, 0);
  if (!net)
    return;
  ax_test_set_formula_params (net);

  /* Q = 224: the score map is 1x1, the scores are the logits */
  AX_CHECK (ax_net_dense_spec (net, 224, 224, &dspec, err, sizeof err)
      == AX_OK, "dense spec 224: %s", err);
  ax_net *d = create (&dspec, 2, 0);
  float *x = image_and_mirror (224, 224, 999);
  if (d && x) {
    NET_OK (d, ax_net_dense_load (d, net));
    float logits[2 * CLASSES], scores[2 * CLASSES];
    float *map = malloc (ax_net_dense_map_count (d) * sizeof *map);
    AX_CHECK (ax_net_dense_map_count (d) == 2 * CLASSES, "224: map of %zu",
        ax_net_dense_map_count (d));
    NET_OK (net, ax_net_forward (net, x, 2 * 3 * 224 * 224, 0));
    NET_OK (net, ax_net_logits (net, logits, 2 * CLASSES));
    NET_OK (d, ax_net_dense_scores (d, x, 2 * 3 * 224 * 224, map, scores));
    double e = ax_test_rel_error (scores, logits, 2 * CLASSES);
    printf ("  dense at Q=224 vs the centre evaluation: %.1e\n", e);
    AX_CHECK (e < 1e-5, "dense at 224 is not the ordinary net: %.1e", e);
    free (map);
  }
  free (x);
  ax_net_destroy (d);

  static const struct { int h, w; uint64_t stream; const char *tag; } q[] = {
    { 256, 320, 1000, "A.dense256" }, { 384, 480, 1001, "A.dense384" } };
  ax_net *first = NULL;
  for (int k = 0; k < 2; k++) {
    AX_CHECK (ax_net_dense_spec (net, q[k].h, q[k].w, &dspec, err,
            sizeof err) == AX_OK, "dense spec: %s", err);
    d = create (&dspec, 2, 0);
    x = image_and_mirror (q[k].h, q[k].w, q[k].stream);
    if (d && x) {
      /* the second loads from the first dense net: the plain copy */
      NET_OK (d, ax_net_dense_load (d, first ? first : net));
      size_t n = (size_t) 2 * 3 * q[k].h * q[k].w;
      float scores[2 * CLASSES], probs[CLASSES];
      float *map = malloc (ax_net_dense_map_count (d) * sizeof *map);
      NET_OK (d, ax_net_dense_scores (d, x, n, map, scores));
      ax_softmax_average (probs, scores, 2, CLASSES);
      char name[64];
      snprintf (name, sizeof name, "%s.scores", q[k].tag);
      const float *ws = fixture (name, 2 * CLASSES);
      snprintf (name, sizeof name, "%s.probs", q[k].tag);
      const float *wp = fixture (name, CLASSES);
      double es = ws ? ax_test_rel_error (scores, ws, 2 * CLASSES) : INFINITY;
      double ep = wp ? ax_test_rel_error (probs, wp, CLASSES) : INFINITY;
      printf ("  dense %dx%d vs PyTorch's fully convolutional net: scores "
          "%.1e, probabilities (with the mirror) %.1e\n", q[k].w, q[k].h, es,
          ep);
      AX_CHECK (es < 1e-5 && ep < 1e-5, "%s: scores %.1e, probs %.1e",
          q[k].tag, es, ep);
      free (map);
    }
    free (x);
    if (first)
      ax_net_destroy (d);
    else
      first = d;
  }
  ax_net_destroy (first);

  AX_CHECK (ax_net_dense_spec (net, 200, 300, &dspec, err, sizeof err)
      == AX_ERR_SHAPE && strstr (err, "at least"), "a 300x200 image for a "
      "224 net: %s", err);
  ax_net_destroy (net);
}

/* torchvision's vgg16 itself at 224x224, 1000 classes, evaluation mode. */
static void
test_full_d (void)
{
  ax_net *net = make ("vgg16", 1000, 224, 1, 1, 0);
  if (!net)
    return;
  ax_test_set_formula_params (net);
  size_t n = 3 * 224 * 224;
  float *x = malloc (n * sizeof *x), logits[1000];
  if (x) {
    ax_test_gen_values (x, n, 999, 1.0);
    NET_OK (net, ax_net_forward (net, x, n, 0));
    NET_OK (net, ax_net_logits (net, logits, 1000));
    const float *want = fixture ("D224.logits", 1000);
    double e = want ? ax_test_rel_error (logits, want, 1000) : INFINITY;
    printf ("  vgg16 at 224 vs torchvision: logits %.1e\n", e);
    AX_CHECK (e < 1e-5, "vgg16 logits %.1e", e);
  }
  free (x);
  ax_net_destroy (net);
}

/* --- inputs other than 224 (issue 10) --- */

/* PyTorch's adaptive pool window, written here apart from layer_math.h:
 * cell i of n over m reads [floor(i m / n), ceil((i + 1) m / n)). */
static void
torch_window (int i, int n, int m, int *lo, int *hi)
{
  *lo = (int) floor ((double) i * m / n);
  *hi = (int) ceil ((double) (i + 1) * m / n);
}

/* The same net as `with` without its average pool: fc6's weights
 * [out, c, 7, 7] folded onto pool5's [out, c, h, w] (each weight shared
 * over its window), so that the two nets compute the same function. */
static void
fold_params (ax_net *flat, ax_net *with, int c, int h, int w)
{
  for (int p = 0; p < ax_net_n_params (with); p++) {
    const ax_param_info *i = ax_net_param (with, p);
    int q = ax_net_param_find (flat, i->name);
    AX_CHECK (q >= 0, "%s not in the folded net", i->name);
    if (q < 0 || i->is_buffer)
      continue;
    float *v = ax_test_param_values (with, p, AX_PARAM_VALUE);
    size_t count = ax_net_param (flat, q)->count;
    if (strcmp (i->name, "classifier.0.weight") == 0) {
      int out = i->dims[0];
      float *f = calloc (count, sizeof *f);
      for (int o = 0; o < out; o++)
        for (int k = 0; k < c; k++)
          for (int a = 0; a < 7; a++)
            for (int b = 0; b < 7; b++) {
              int y0, y1, x0, x1;
              torch_window (a, 7, h, &y0, &y1);
              torch_window (b, 7, w, &x0, &x1);
              float share = v[(((size_t) o * c + k) * 7 + a) * 7 + b]
                  / (float) ((y1 - y0) * (x1 - x0));
              for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++)
                  f[(((size_t) o * c + k) * h + y) * w + x] += share;
            }
      NET_OK (flat, ax_net_param_set (flat, q, AX_PARAM_VALUE, f, count));
      free (f);
    } else {
      NET_OK (flat, ax_net_param_set (flat, q, AX_PARAM_VALUE, v, count));
    }
    free (v);
  }
}

/* fc6's gradient of the pooled net is the window mean of the folded
 * net's: the pooled input is the window means of pool5. */
static double
fc6_grad_error (ax_net *with, ax_net *flat, int c, int h, int w)
{
  int p = ax_net_param_find (with, "classifier.0.weight");
  int q = ax_net_param_find (flat, "classifier.0.weight");
  if (p < 0 || q < 0)
    return INFINITY;
  int out = ax_net_param (with, p)->dims[0];
  float *g = ax_test_param_values (with, p, AX_PARAM_GRAD);
  float *gf = ax_test_param_values (flat, q, AX_PARAM_GRAD);
  size_t n = ax_net_param (with, p)->count;
  float *want = calloc (n, sizeof *want);
  for (int o = 0; o < out; o++)
    for (int k = 0; k < c; k++)
      for (int a = 0; a < 7; a++)
        for (int b = 0; b < 7; b++) {
          int y0, y1, x0, x1;
          double sum = 0.0;
          torch_window (a, 7, h, &y0, &y1);
          torch_window (b, 7, w, &x0, &x1);
          for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
              sum += gf[(((size_t) o * c + k) * h + y) * w + x];
          want[(((size_t) o * c + k) * 7 + a) * 7 + b] = (float) (sum
              / ((y1 - y0) * (x1 - x0)));
        }
  double e = ax_test_rel_error (g, want, n);
  free (g);
  free (gf);
  free (want);
  return e;
}

/* torchvision's VGG at 32x32 (pool5 1x1, replicated to 7x7) and 64x64
 * (2x2 -> 7x7), VGG-A with widths / 16: against the same net without the
 * pool (fc6 folded onto pool5), which checks the pool's forward and
 * backward inside the net (the loss, every gradient); three SGD steps with
 * finite losses; and a 31x31 image refused with a message that says how
 * small a VGG may go. */
static void
test_other_sizes (void)
{
  enum { BATCH = 2, CLASSES = 3 };
  static const int sizes[] = { 32, 64 };
  const int32_t labels[BATCH] = { 2, 0 };
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    int size = sizes[k], side = size / 32, c = 512 / 16;
    ax_net_spec spec, flat;
    AX_CHECK (ax_net_spec_vgg (&spec, "vgg-a", CLASSES, size) == AX_OK
        && ax_net_spec_narrow (&spec, 16) == AX_OK, "vgg-a at %d", size);
    ax_test_set_dropout (&spec, 0.0f);
    flat = spec;
    flat.n_layers = 0;
    for (int l = 0; l < spec.n_layers; l++)
      if (spec.layers[l].kind != AX_LAYER_AVGPOOL)
        flat.layers[flat.n_layers++] = spec.layers[l];
    AX_CHECK (flat.n_layers == spec.n_layers - 1, "one average pool");
    ax_net *net = create (&spec, BATCH, 1), *ref = create (&flat, BATCH, 1);
    size_t n = (size_t) BATCH * 3 * size * size;
    float *x = malloc (n * sizeof *x);
    if (net && ref && x) {
      ax_shape s5, sa;
      NET_OK (net, ax_net_activation_shape (net, "pool5", &s5));
      NET_OK (net, ax_net_activation_shape (net, "avgpool", &sa));
      AX_CHECK (s5.c == c && s5.h == side && s5.w == side && sa.c == c
          && sa.h == 7 && sa.w == 7, "%d: pool5 %dx%dx%d, avgpool %dx%dx%d",
          size, s5.c, s5.h, s5.w, sa.c, sa.h, sa.w);
      ax_test_set_formula_params (net);
      fold_params (ref, net, c, side, side);
      ax_test_gen_values (x, n, 31 + (uint64_t) size, 1.0);
      float loss, loss_ref;
      ax_test_train_step (net, x, n, labels, BATCH, 0, &loss);
      ax_test_train_step (ref, x, n, labels, BATCH, 0, &loss_ref);
      /* every gradient but fc6's (whose shapes differ) */
      double e_g = 0.0;
      const char *worst = "";
      for (int p = 0; p < ax_net_n_params (net); p++) {
        const ax_param_info *i = ax_net_param (net, p);
        int q = ax_net_param_find (ref, i->name);
        if (q < 0 || strcmp (i->name, "classifier.0.weight") == 0)
          continue;
        float *a = ax_test_param_values (net, p, AX_PARAM_GRAD);
        float *b = ax_test_param_values (ref, q, AX_PARAM_GRAD);
        double e = ax_test_rel_error (a, b, i->count);
        if (!(e <= e_g)) {
          e_g = e;
          worst = i->name;
        }
        free (a);
        free (b);
      }
      double e_fc6 = fc6_grad_error (net, ref, c, side, side);
      double e_l = fabs ((double) loss - loss_ref) / fabs ((double) loss_ref);
      printf ("  vgg-a/16 at %dx%d (pool5 %dx%d -> 7x7) vs fc6 folded onto "
          "pool5: loss %.1e, gradients %.1e (worst %s), fc6 %.1e\n", size,
          size, side, side, e_l, e_g, worst, e_fc6);
      AX_CHECK (e_l < 1e-5 && e_g < 1e-5 && e_fc6 < 1e-5, "%d: the pool in "
          "the net: loss %.1e, gradients %.1e (%s), fc6 %.1e", size, e_l,
          e_g, worst, e_fc6);
      /* three SGD steps (with dropout as the spec had it: 0 here) */
      NET_OK (net, ax_net_init (net, AX_INIT_TORCH, 5));
      for (int st = 0; st < 3; st++) {
        float l = NAN;
        ax_test_train_step (net, x, n, labels, BATCH, 1, &l);
        AX_CHECK (isfinite (l) && l > 0.0f, "%d: step %d loss %g", size, st,
            (double) l);
      }
    }
    free (x);
    ax_net_destroy (net);
    ax_net_destroy (ref);
  }
  /* 31x31: pool5 gets nothing; the message says what the net needs */
  ax_net_spec spec;
  ax_net *net = NULL;
  char err[256] = "";
  ax_net_config cfg = { BATCH, AX_PLACE_ONE, 1, { cpu } };
  AX_CHECK (ax_net_spec_vgg (&spec, "vgg16", CLASSES, 31) == AX_OK, "spec 31");
  ax_status st = ax_net_create (&spec, &cfg, &net, err, sizeof err);
  printf ("  31x31: %s\n", err);
  AX_CHECK (st == AX_ERR_SHAPE && !net && strstr (err, "pool5")
      && strstr (err, "needs at least 32x32 pixels")
      && strstr (err, "31x31"), "31x31: %s (%s)", ax_status_str (st), err);
  /* 32 high and 31 wide: the width alone */
  spec.in_h = 32;
  st = ax_net_create (&spec, &cfg, &net, err, sizeof err);
  AX_CHECK (st == AX_ERR_SHAPE && !net && strstr (err, "needs at least 32x32")
      && strstr (err, "the image is 31x32"), "31 wide: %s", err);
  ax_net_destroy (net);
}

/* A checkpoint whose architecture and tensors disagree (metadata vgg-a,
 * tensors of a vgg-b: the same length of name, patched in the header) is
 * refused with a message naming a tensor, and the net is unchanged. */
static void
test_architecture_and_tensors_disagree (void)
{
  char path[] = "/tmp/vgg-disagree-XXXXXX", err[512];
  int fd = mkstemp (path);
  AX_CHECK (fd >= 0, "mkstemp");
  if (fd < 0)
    return;
  close (fd);
  ax_net *b = make ("vgg-b", 10, 32, 8, 1, 0), *a = make ("vgg-a", 10, 32, 8,
      1, 0);
  ax_net_checkpoint_info info = { 0 };
  info.input_size = 32;
  info.width_divisor = 8;
  if (!a || !b)
    goto out;
  AX_CHECK (ax_net_checkpoint_save (b, path, &info, err, sizeof err)
      == AX_OK, "save: %s", err);
  FILE *f = fopen (path, "r+b");
  AX_CHECK (f != NULL, "open");
  if (f) {
    char head[8192];
    size_t n = fread (head, 1, sizeof head, f);
    char *at = memmem (head, n, "\"vgg-b\"", 7);
    AX_CHECK (at != NULL, "no vgg-b in the header");
    if (at) {
      at[5] = 'a';
      fseek (f, 0, SEEK_SET);
      AX_CHECK (fwrite (head, 1, n, f) == n, "write");
    }
    fclose (f);
  }
  size_t count = ax_net_param (a, 0)->count;
  float *before = ax_test_param_values (a, 0, AX_PARAM_VALUE);
  ax_status st = ax_net_checkpoint_load (a, path, 0, NULL, err, sizeof err);
  float *after = ax_test_param_values (a, 0, AX_PARAM_VALUE);
  printf ("  vgg-a metadata, vgg-b tensors: %s\n", err);
  AX_CHECK (st != AX_OK && strstr (err, "features.") != NULL, "loaded: %s "
      "(%s)", ax_status_str (st), err);
  AX_CHECK (memcmp (before, after, count * sizeof *before) == 0,
      "a refused file changed the net");
  free (before);
  free (after);
out:
  unlink (path);
  ax_net_destroy (a);
  ax_net_destroy (b);
}

int
main (void)
{
  ax_status st = ax_cpu_backend_create (0, &cpu);
  AX_CHECK (st == AX_OK, "cpu backend: %s", ax_status_str (st));
  if (st != AX_OK)
    return ax_test_finish ();
  AX_RUN (test_names);
  AX_RUN (test_weight_counts);
  AX_RUN (test_narrow_steps);
  AX_RUN (test_architecture_and_tensors_disagree);
  AX_RUN (test_bn_names);
  AX_RUN (test_bn_counts);
  AX_RUN (test_other_sizes);
  const char *dir = getenv ("ALEXNET_TEST_DATA");
  char path[1024];
  snprintf (path, sizeof path, "%s/vgg_fixture.bin", dir ? dir : "tests/data");
  int have = ax_fixture_load (&fx, path);
  AX_CHECK (have, "%s (ALEXNET_TEST_DATA): written by gen_vgg_fixture.py",
      path);
  if (have) {
    AX_RUN (test_against_torch);
    AX_RUN (test_dense);
    AX_RUN (test_full_d);
  }
  ax_fixture_free (&fx);
  ax_backend_destroy (cpu);
  return ax_test_finish ();
}
