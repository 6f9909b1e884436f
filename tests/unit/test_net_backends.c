/* Device selection (ax_backends_create) on the host, through the loader's
 * real path with a simulated CUDA module (sim_cuda_module.c: its "GPUs"
 * are CPU backends and it records the device of every backend it makes):
 * where the towers and the replicas go for 0, 1 and 2 GPUs, the CPU
 * fallback and its note, the placements that cannot be met, and nets (with
 * batch norm too) stepping on the simulated GPUs. Run with
 * AX_CUDA_MODULE naming the simulated module (tests/meson.build). */
#include "kernels/nn/net_backends.h"
#include "kernels/nn/trainer.h"
#include "kernels/cuda/cuda_backend.h"
#include "tests/ax_test.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef int (*created_fn) (int *devices, int max);
typedef void (*reset_fn) (void);
static created_fn sim_created;
static reset_fn sim_reset;

/* Requests backends and checks the simulated devices they landed on
 * (want_devices[0] < 0: the CPU, nothing made by the module). */
static void
expect (ax_device device, ax_placement placement, int n, int gpus,
    ax_device want_used, const int *want_devices, const char *want_note)
{
  ax_backends_request req = { device, placement, n, 0, 0, 0 };
  ax_backend *be[AX_NET_MAX_REPLICAS];
  ax_device used = (ax_device) -1;
  char note[512], err[512], env[16];
  int got[64], n_got;

  snprintf (env, sizeof env, "%d", gpus);
  setenv ("AX_SIM_CUDA_DEVICES", env, 1);
  sim_reset ();
  ax_status st = ax_backends_create (&req, be, &used, note, sizeof note,
      err, sizeof err);
  AX_CHECK (st == AX_OK, "%d backends, %d GPUs: %s", n, gpus, err);
  if (st != AX_OK)
    return;
  AX_CHECK (used == want_used, "used %d, expected %d (%d GPUs)", (int) used,
      (int) want_used, gpus);
  for (int i = 0; i < n; i++)
    AX_CHECK (be[i] != NULL, "backend %d", i);
  n_got = sim_created (got, 64);
  if (want_devices[0] < 0) {
    AX_CHECK (n_got == 0, "%d simulated GPU backends made", n_got);
  } else {
    AX_CHECK (n_got == n, "%d simulated GPU backends, expected %d", n_got, n);
    for (int i = 0; i < n && i < n_got; i++)
      AX_CHECK (got[i] == want_devices[i], "backend %d on device %d, "
          "expected %d", i, got[i], want_devices[i]);
  }
  if (want_note)
    AX_CHECK (strstr (note, want_note) != NULL, "note \"%s\" lacks \"%s\"",
        note, want_note);
  else
    AX_CHECK (note[0] == '\0', "unexpected note: %s", note);
  ax_backends_destroy (be, n);
  for (int i = 0; i < n; i++)
    AX_CHECK (be[i] == NULL, "destroy clears %d", i);
}

static void
test_placements_on_gpus (void)
{
  const int d0[] = { 0 }, d00[] = { 0, 0 }, d01[] = { 0, 1 };
  const int d012[] = { 0, 1, 2 }, cpu[] = { -1 };

  /* one device: GPU 0 */
  expect (AX_DEVICE_AUTO, AX_PLACE_ONE, 1, 2, AX_DEVICE_CUDA, d0, NULL);
  /* the paper's towers: a GPU each; on one GPU both on it */
  expect (AX_DEVICE_CUDA, AX_PLACE_TOWERS, 2, 2, AX_DEVICE_CUDA, d01, NULL);
  expect (AX_DEVICE_AUTO, AX_PLACE_TOWERS, 2, 1, AX_DEVICE_CUDA, d00, NULL);
  /* data-parallel: a GPU per replica */
  expect (AX_DEVICE_CUDA, AX_PLACE_DATA, 3, 4, AX_DEVICE_CUDA, d012, NULL);
  /* the CPU when asked, whatever the GPUs */
  expect (AX_DEVICE_CPU, AX_PLACE_TOWERS, 2, 2, AX_DEVICE_CPU, cpu, NULL);
  /* no GPU: the CPU, with the reason */
  expect (AX_DEVICE_AUTO, AX_PLACE_ONE, 1, 0, AX_DEVICE_CPU, cpu,
      "no usable CUDA device (the simulated module has no devices)");
  expect (AX_DEVICE_CUDA, AX_PLACE_DATA, 3, 0, AX_DEVICE_CPU, cpu,
      "using the CPU");
}

static void
test_unmet (void)
{
  ax_backends_request req = { AX_DEVICE_AUTO, AX_PLACE_DATA, 3, 0, 0, 0 };
  ax_backend *be[AX_NET_MAX_REPLICAS];
  ax_device used;
  char note[256], err[256];

  /* NCCL needs a device per replica: an error, not a silent CPU run */
  setenv ("AX_SIM_CUDA_DEVICES", "2", 1);
  sim_reset ();
  AX_CHECK (ax_backends_create (&req, be, &used, note, sizeof note, err,
          sizeof err) == AX_ERR_INVALID_ARG, "3 replicas on 2 GPUs");
  AX_CHECK (strstr (err, "3 data-parallel replicas need 3 GPUs") != NULL,
      "%s", err);
  AX_CHECK (sim_created (NULL, 0) == 0, "nothing left made");
  /* bad requests */
  req.n = 0;
  AX_CHECK (ax_backends_create (&req, be, &used, note, sizeof note, err,
          sizeof err) == AX_ERR_INVALID_ARG, "n = 0");
  req.n = AX_NET_MAX_REPLICAS + 1;
  AX_CHECK (ax_backends_create (&req, be, &used, note, sizeof note, err,
          sizeof err) == AX_ERR_INVALID_ARG, "too many");
  AX_CHECK (ax_backends_create (NULL, be, &used, NULL, 0, NULL, 0)
      == AX_ERR_INVALID_ARG, "no request");
}

/* A net on two simulated GPUs trains a step like the same net on the CPU
 * (both are CPU code underneath: bitwise equal). */
static void
test_net_on_simulated_gpus (void)
{
  ax_backends_request req = { AX_DEVICE_CUDA, AX_PLACE_TOWERS, 2, 0, 0, 0 };
  ax_backend *be[2][AX_NET_MAX_REPLICAS];
  ax_net *net[2] = { NULL, NULL };
  ax_net_spec spec;
  ax_device used;
  char note[256], err[256];
  const int batch = 2, size = 67;
  size_t count = (size_t) batch * 3 * size * size;
  float *img = malloc (count * sizeof *img), loss[2];
  int32_t labels[] = { 1, 3 };

  setenv ("AX_SIM_CUDA_DEVICES", "2", 1);
  for (size_t i = 0; i < count; i++)
    img[i] = (float) ((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
  AX_CHECK (ax_net_spec_alexnet_paper (&spec, 4, size) == AX_OK, "spec");
  AX_CHECK (ax_net_spec_narrow (&spec, 16) == AX_OK, "narrow");
  for (int r = 0; r < 2; r++) {
    ax_net_config cfg = { batch, AX_PLACE_TOWERS, 1, { NULL } };
    req.device = r ? AX_DEVICE_CPU : AX_DEVICE_CUDA;
    AX_CHECK (ax_backends_create (&req, be[r], &used, note, sizeof note,
            err, sizeof err) == AX_OK, "%s", err);
    AX_CHECK (used == (r ? AX_DEVICE_CPU : AX_DEVICE_CUDA), "used");
    cfg.backends[0] = be[r][0];
    cfg.backends[1] = be[r][1];
    AX_CHECK (ax_net_create (&spec, &cfg, &net[r], err, sizeof err) == AX_OK,
        "%s", err);
    if (!net[r])
      goto out;
    ax_sgd_step step = { 0.01f, 0.9f, 0.0005f };
    ax_trainer_result res;
    AX_CHECK (ax_net_init (net[r], AX_INIT_XAVIER, 5) == AX_OK, "init");
    AX_CHECK (ax_trainer_net_step (net[r], img, labels, batch, &step, NULL,
            &res) == AX_OK, "step: %s", ax_net_last_error (net[r]));
    loss[r] = res.loss;
  }
  AX_CHECK (loss[0] == loss[1], "loss %.9g vs %.9g", loss[0], loss[1]);
  for (int i = 0; i < ax_net_n_params (net[0]); i++) {
    size_t n = ax_net_param (net[0], i)->count;
    float *a = malloc (n * sizeof *a), *b = malloc (n * sizeof *b);
    AX_CHECK (ax_net_param_get (net[0], i, AX_PARAM_VALUE, a, n) == AX_OK
        && ax_net_param_get (net[1], i, AX_PARAM_VALUE, b, n) == AX_OK
        && memcmp (a, b, n * sizeof *a) == 0, "%s after a step",
        ax_net_param (net[0], i)->name);
    free (a);
    free (b);
  }
out:
  for (int r = 0; r < 2; r++) {
    if (net[r])
      ax_net_destroy (net[r]);
    ax_backends_destroy (be[r], 2);
  }
  free (img);
}

/* conv 8 3x3 -> batch norm -> ReLU -> flatten -> fc 4, on 9x9 images. */
static void
bn_spec (ax_net_spec *spec)
{
  static const ax_layer_kind kinds[] = { AX_LAYER_CONV, AX_LAYER_BATCHNORM,
    AX_LAYER_RELU, AX_LAYER_FLATTEN, AX_LAYER_FC };
  static const char *const names[] = { "conv1", "bn1", "relu1", "flatten",
    "fc" };
  memset (spec, 0, sizeof *spec);
  snprintf (spec->arch, sizeof spec->arch, "bn-test");
  spec->in_c = 3;
  spec->in_h = spec->in_w = 9;
  spec->n_classes = 4;
  for (int i = 0; i < 5; i++) {
    ax_layer_spec l = { .kind = kinds[i], .groups = 1 };
    snprintf (l.name, sizeof l.name, "%s", names[i]);
    snprintf (l.param_prefix, sizeof l.param_prefix, "%s", names[i]);
    if (kinds[i] == AX_LAYER_CONV)
      l.p.conv = (ax_conv_params) { 8, 3, 3, 1, 1, 1, 1 };
    else if (kinds[i] == AX_LAYER_BATCHNORM)
      l.p.bn = AX_BN_TORCH;
    else if (kinds[i] == AX_LAYER_FC)
      l.p.fc = (ax_fc_params) { 4, 1 };
    ax_net_spec_add (spec, &l);
  }
}

/* Batch norm on two simulated GPUs as data-parallel replicas: the step,
 * the running statistics and the counters as on two CPU replicas. */
static void
test_batchnorm_on_simulated_gpus (void)
{
  ax_backends_request req = { AX_DEVICE_CUDA, AX_PLACE_DATA, 2, 0, 0, 0 };
  ax_backend *be[2][AX_NET_MAX_REPLICAS];
  ax_net *net[2] = { NULL, NULL };
  ax_net_spec spec;
  ax_device used;
  char note[256], err[256];
  enum { BATCH = 4 };
  size_t count = (size_t) BATCH * 3 * 9 * 9;
  float *img = malloc (count * sizeof *img), loss[2];
  int32_t labels[BATCH] = { 1, 3, 0, 2 };

  setenv ("AX_SIM_CUDA_DEVICES", "2", 1);
  for (size_t i = 0; i < count; i++)
    img[i] = (float) ((i * 2654435761u) % 1000) / 500.0f - 0.3f;
  bn_spec (&spec);
  memset (be, 0, sizeof be);
  for (int r = 0; r < 2; r++) {
    ax_net_config cfg = { BATCH, AX_PLACE_DATA, 1, { NULL } };
    req.device = r ? AX_DEVICE_CPU : AX_DEVICE_CUDA;
    AX_CHECK (ax_backends_create (&req, be[r], &used, note, sizeof note,
            err, sizeof err) == AX_OK, "%s", err);
    AX_CHECK (used == (r ? AX_DEVICE_CPU : AX_DEVICE_CUDA), "used");
    cfg.backends[0] = be[r][0];
    cfg.backends[1] = be[r][1];
    AX_CHECK (ax_net_create (&spec, &cfg, &net[r], err, sizeof err) == AX_OK,
        "%s", err);
    if (!net[r])
      goto out;
    ax_sgd_step step = { 0.1f, 0.9f, 0.0005f };
    ax_trainer_result res;
    AX_CHECK (ax_net_init (net[r], AX_INIT_TORCH, 5) == AX_OK, "init");
    for (int s = 0; s < 2; s++)
      AX_CHECK (ax_trainer_net_step (net[r], img, labels, BATCH, &step, NULL,
              &res) == AX_OK, "step: %s", ax_net_last_error (net[r]));
    loss[r] = res.loss;
  }
  AX_CHECK (loss[0] == loss[1], "loss %.9g vs %.9g", loss[0], loss[1]);
  int buffers = 0;
  for (int i = 0; i < ax_net_n_params (net[0]); i++) {
    const ax_param_info *p = ax_net_param (net[0], i);
    buffers += p->is_buffer;
    if (p->dtype == AX_PARAM_I64) {
      int64_t a = -1, b = -2;
      AX_CHECK (ax_net_param_get_i64 (net[0], i, &a, 1) == AX_OK
          && ax_net_param_get_i64 (net[1], i, &b, 1) == AX_OK && a == 2
          && b == 2, "%s: %lld and %lld", p->name, (long long) a,
          (long long) b);
      continue;
    }
    float *a = malloc (p->count * sizeof *a), *b = malloc (p->count * sizeof *b);
    AX_CHECK (ax_net_param_get (net[0], i, AX_PARAM_VALUE, a, p->count)
        == AX_OK && ax_net_param_get (net[1], i, AX_PARAM_VALUE, b, p->count)
        == AX_OK && memcmp (a, b, p->count * sizeof *a) == 0,
        "%s after two steps", p->name);
    free (a);
    free (b);
  }
  AX_CHECK (buffers == 3, "%d buffers", buffers);
out:
  for (int r = 0; r < 2; r++) {
    if (net[r])
      ax_net_destroy (net[r]);
    ax_backends_destroy (be[r], 2);
  }
  free (img);
}

int
main (void)
{
  const char *path = getenv ("AX_CUDA_MODULE");
  void *h;

  if (!path) {
    fprintf (stderr, "AX_CUDA_MODULE must name the simulated module\n");
    return 1;
  }
  /* the loader opens the same file: dlopen returns the same handle */
  h = dlopen (path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf (stderr, "%s: %s\n", path, dlerror ());
    return 1;
  }
  sim_created = (created_fn) dlsym (h, "ax_sim_cuda_created");
  sim_reset = (reset_fn) dlsym (h, "ax_sim_cuda_reset");
  if (!sim_created || !sim_reset) {
    fprintf (stderr, "%s is not the simulated module\n", path);
    return 1;
  }
  AX_CHECK (ax_cuda_device_count (NULL, 0) == 2, "the simulated module "
      "loads and reports its devices");
  AX_RUN (test_placements_on_gpus);
  AX_RUN (test_unmet);
  AX_RUN (test_net_on_simulated_gpus);
  AX_RUN (test_batchnorm_on_simulated_gpus);
  dlclose (h);
  return ax_test_finish ();
}
