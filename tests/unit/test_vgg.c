/* The VGG configurations of Simonyan and Zisserman (Table 1) through the
 * network description: the weight counts the paper gives for 1000 classes,
 * torchvision's parameter names, the 1x1 convolutions of C, the names a
 * checkpoint and torchvision use, and a narrowed VGG taking SGD steps on
 * the CPU backend. */
#include "kernels/cpu/cpu_backend.h"
#include "kernels/nn/net.h"
#include "kernels/nn/trainer.h"
#include "tests/ax_test.h"
#include "tests/net_test_util.h"
#include "fixture_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ax_backend *cpu;
static ax_fixture fx;

/* PyTorch's record `name` (tests/data/vgg_fixture.bin, written by
 * gen_vgg_fixture.py), checked to hold count values. */
static const float *
fixture (const char *name, size_t count)
{
  const ax_fixture_record *r = ax_fixture_find (&fx, name);
  AX_CHECK (r != NULL, "%s missing from the fixture", name);
  if (!r)
    return NULL;
  AX_CHECK (r->count == count, "%s: %zu values, expected %zu", name,
      r->count, count);
  return r->count == count ? r->data : NULL;
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

/* A VGG-A with every width divided by 16 runs the trainer's step on the
 * CPU backend: finite losses, and the weights move. (Whether it learns as
 * torchvision's does is for the PyTorch fixtures: issue 10.) */
static void
test_narrow_steps (void)
{
  /* 224: the adaptive average pool is only the identity yet */
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

/* Every configuration against PyTorch (gen_vgg_fixture.py): conv widths
 * divided by 32, hidden fc layers 32 wide, 224x224, batch 2, no dropout;
 * the logits, the loss, every gradient and every weight after three SGD
 * steps on the same batch. */
static void
test_against_torch (void)
{
  static const char *const archs[][2] = { { "vgg-a", "A" }, { "vgg-a-lrn",
      "AL" }, { "vgg-b", "B" }, { "vgg-c", "C" }, { "vgg-d", "D" },
  { "vgg-e", "E" } };
  enum { BATCH = 2, SIZE = 224, CLASSES = 10 };
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
    ax_status st = ax_net_spec_vgg (&spec, archs[a][0], CLASSES, SIZE);
    if (st == AX_OK)
      st = ax_net_spec_narrow (&spec, 32);
    AX_CHECK (st == AX_OK, "%s spec", archs[a][0]);
    for (int l = 0; l < spec.n_layers; l++)
      if (spec.layers[l].kind == AX_LAYER_FC && l != spec.n_layers - 1)
        spec.layers[l].p.fc.out_features = 32;
    ax_test_set_dropout (&spec, 0.0f);
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
    double e_g = ax_test_params_vs (net, AX_PARAM_GRAD, name, fixture,
        &worst_g);
    ax_sgd_step sgd = { 0.01f, 0.9f, 0.0005f };
    NET_OK (net, ax_net_update (net, &sgd));
    for (int s = 1; s < 3; s++)
      ax_test_train_step (net, x, n, labels, BATCH, 1, &l2);
    snprintf (name, sizeof name, "%s.w3.", tag);
    double e_w = ax_test_params_vs (net, AX_PARAM_VALUE, name, fixture,
        &worst_w);
    double e_l = want_logits ? ax_test_rel_error (logits, want_logits,
        BATCH * CLASSES) : INFINITY;
    double e_loss = want_loss ? fabs (loss - want_loss[0]) / want_loss[0]
        : INFINITY;
    printf ("  %-9s vs PyTorch: logits %.1e, loss %.1e, gradients %.1e "
        "(worst %s), weights after 3 steps %.1e (worst %s)\n", archs[a][0],
        e_l, e_loss, e_g, worst_g, e_w, worst_w);
    AX_CHECK (e_l < 1e-5, "%s logits %.1e", archs[a][0], e_l);
    AX_CHECK (e_loss < 1e-5, "%s loss %.1e", archs[a][0], e_loss);
    AX_CHECK (e_g < 1e-5, "%s gradients %.1e (%s)", archs[a][0], e_g, worst_g);
    AX_CHECK (e_w < 1e-5, "%s weights %.1e (%s)", archs[a][0], e_w, worst_w);
    ax_net_destroy (net);
  }
  free (x);
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
  const char *dir = getenv ("ALEXNET_TEST_DATA");
  char path[1024];
  snprintf (path, sizeof path, "%s/vgg_fixture.bin", dir ? dir : "tests/data");
  int have = ax_fixture_load (&fx, path);
  AX_CHECK (have, "%s (ALEXNET_TEST_DATA): written by gen_vgg_fixture.py",
      path);
  if (have) {
    AX_RUN (test_against_torch);
    AX_RUN (test_full_d);
  }
  ax_fixture_free (&fx);
  ax_backend_destroy (cpu);
  return ax_test_finish ();
}
