/* The whole network on CUDA against the CPU backend: the same narrowed
 * paper AlexNet and the same weights on the CPU (one device) and on CUDA
 * as one backend (AX_PLACE_ONE) and as two towers (AX_PLACE_TOWERS: on
 * devices 0 and 1 when there are two, else both on device 0 on two
 * streams). Logits, loss, every gradient, then weights and momentum after
 * three SGD steps with dropout on; the full-size net's forward and
 * gradients; deterministic mode repeating itself bit for bit; the NCCL
 * group slots. Needs a GPU; without one it prints SKIP and exits 77. */
#include "kernels/backend/backend_impl.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/nn/net.h"
#include "tests/unit/backend_test_util.h"
#include "tests/unit/layer_test_util.h"
#include "cuda_test_util.h"
#include "tests/net_test_util.h"

#include <string.h>

static ax_backend *cpu, *gpu[2], *gpu_det;
static int devices;

static ax_net *
make_net (const ax_net_spec *spec, int batch, ax_placement place,
    ax_backend *b0, ax_backend *b1)
{
  ax_net_config cfg = { batch, place, 1, { b0, b1 } };
  ax_net *net = NULL;
  char err[512] = "";
  ax_status st = ax_net_create (spec, &cfg, &net, err, sizeof err);
  AX_CHECK (st == AX_OK, "create on %s: %s: %s", ax_backend_name (b0),
      ax_status_str (st), err);
  return net;
}

static void
copy_params (ax_net *dst, ax_net *src)
{
  for (int p = 0; p < ax_net_n_params (src); p++) {
    float *v = ax_test_param_values (src, p, AX_PARAM_VALUE);
    NET_OK (dst, ax_net_param_set (dst, p, AX_PARAM_VALUE, v,
            ax_net_param (src, p)->count));
    free (v);
  }
}

static float *
random_images (const ax_net_spec *s, int batch, size_t *count)
{
  *count = (size_t) batch * s->in_c * s->in_h * s->in_w;
  float *x = malloc (*count * sizeof *x);
  for (size_t i = 0; i < *count; i++)
    x[i] = (float) (2.0 * ax_rng_uniform (&test_rng) - 1.0);
  return x;
}

/* One CUDA placement against the CPU net `ref`, both fresh from the same
 * weights: a step without update, compared; then three steps with. */
static void
compare_nets (const char *name, ax_net *net, ax_net *ref,
    const ax_net_spec *spec, int batch, int steps, double tol)
{
  size_t n;
  float *x = random_images (spec, batch, &n), lg, lc;
  int classes = spec->n_classes;
  float *logits_g = malloc (sizeof (float) * batch * classes);
  float *logits_c = malloc (sizeof (float) * batch * classes);
  int32_t *labels = malloc (sizeof *labels * batch);
  for (int i = 0; i < batch; i++)
    labels[i] = (i * 7 + 1) % classes;
  copy_params (net, ref);
  ax_test_train_step (ref, x, n, labels, batch, 0, &lc);
  ax_test_train_step (net, x, n, labels, batch, 0, &lg);
  NET_OK (net, ax_net_logits (net, logits_g, (size_t) batch * classes));
  NET_OK (ref, ax_net_logits (ref, logits_c, (size_t) batch * classes));
  const char *worst = "";
  double e_logits = ax_test_rel_error (logits_g, logits_c,
      (size_t) batch * classes);
  double e_grad = ax_test_params_error (net, ref, AX_PARAM_GRAD, &worst);
  printf ("  %s: logits %.1e, loss %.7g vs %.7g, gradients %.1e (worst %s)\n",
      name, e_logits, (double) lg, (double) lc, e_grad, worst);
  AX_CHECK (e_logits < tol && fabs (lg - lc) <= tol * fabs (lc), "%s: forward",
      name);
  AX_CHECK (e_grad < 10 * tol, "%s: gradients", name);
  if (steps > 0) {
    ax_sgd_step sgd = { 0.01f, 0.9f, 0.0005f };
    NET_OK (ref, ax_net_update (ref, &sgd));
    NET_OK (net, ax_net_update (net, &sgd));
    for (int s = 1; s < steps; s++) {
      ax_test_train_step (ref, x, n, labels, batch, 1, &lc);
      ax_test_train_step (net, x, n, labels, batch, 1, &lg);
    }
    const char *worst_v = "";
    double e_w = ax_test_params_error (net, ref, AX_PARAM_VALUE, &worst);
    double e_v = ax_test_params_error (net, ref, AX_PARAM_MOMENTUM, &worst_v);
    printf ("  %s after %d steps: weights %.1e (worst %s), momentum %.1e "
        "(worst %s)\n", name, steps, e_w, worst, e_v, worst_v);
    AX_CHECK (e_w < tol && e_v < 10 * tol, "%s: weights after %d steps", name,
        steps);
  }
  free (x);
  free (logits_g);
  free (logits_c);
  free (labels);
}

static ax_net_spec
paper_spec (int in_size, int div, float dropout)
{
  ax_net_spec spec;
  ax_status st = ax_net_spec_alexnet_paper (&spec, 10, in_size);
  if (st == AX_OK && div > 1)
    st = ax_net_spec_narrow (&spec, div);
  AX_CHECK (st == AX_OK, "spec");
  for (int i = 0; i < spec.n_layers; i++)
    if (spec.layers[i].kind == AX_LAYER_DROPOUT)
      spec.layers[i].p.dropout.p = dropout;
  return spec;
}

/* Both CUDA placements against the CPU. */
static void
run_placements (const ax_net_spec *spec, int batch, int steps, double tol)
{
  ax_net *ref = make_net (spec, batch, AX_PLACE_ONE, cpu, NULL);
  ax_net *one = make_net (spec, batch, AX_PLACE_ONE, gpu[0], NULL);
  if (ref && one) {
    NET_OK (ref, ax_net_init (ref, AX_INIT_TORCH, 5));
    compare_nets ("CUDA one backend", one, ref, spec, batch, steps, tol);
  }
  ax_net_destroy (one);
  ax_net_destroy (ref);
  ref = make_net (spec, batch, AX_PLACE_ONE, cpu, NULL);
  ax_net *towers = make_net (spec, batch, AX_PLACE_TOWERS, gpu[0], gpu[1]);
  if (ref && towers) {
    NET_OK (ref, ax_net_init (ref, AX_INIT_TORCH, 5));
    compare_nets (devices > 1 ? "CUDA towers on devices 0 and 1"
        : "CUDA towers on device 0, two streams", towers, ref, spec, batch,
        steps, tol);
  }
  ax_net_destroy (towers);
  ax_net_destroy (ref);
  /* data-parallel: a replica per GPU, gradients summed by NCCL through
   * ax_group_allreduce_sum */
  if (devices < 2 || batch % 2 != 0) {
    printf ("  data-parallel replicas: needs two GPUs and an even batch, "
        "not run\n");
    return;
  }
  ref = make_net (spec, batch, AX_PLACE_ONE, cpu, NULL);
  ax_net *data = make_net (spec, batch, AX_PLACE_DATA, gpu[0], gpu[1]);
  if (ref && data) {
    NET_OK (ref, ax_net_init (ref, AX_INIT_TORCH, 5));
    compare_nets ("CUDA data-parallel on devices 0 and 1 (NCCL)", data, ref,
        spec, batch, steps, tol);
  }
  ax_net_destroy (data);
  ax_net_destroy (ref);
}

static void
test_small_net (void)
{
  ax_net_spec spec = paper_spec (99, 8, 0.5f);
  run_placements (&spec, 4, 3, 1e-4);
}

static void
test_full_size_net (void)
{
  ax_net_spec spec = paper_spec (224, 1, 0.5f);
  run_placements (&spec, 2, 0, 1e-4);
}

/* Deterministic mode: the same step twice gives the same bits. */
static void
test_deterministic (void)
{
  ax_net_spec spec = paper_spec (99, 4, 0.5f);
  enum { BATCH = 4 };
  ax_net *net = make_net (&spec, BATCH, AX_PLACE_ONE, gpu_det, NULL);
  if (!net)
    return;
  NET_OK (net, ax_net_init (net, AX_INIT_TORCH, 3));
  size_t n;
  float *x = random_images (&spec, BATCH, &n), loss[2];
  int32_t labels[BATCH] = { 3, 1, 4, 1 };
  float *grads[2][AX_NET_MAX_LAYERS * 2];
  for (int r = 0; r < 2; r++) {
    ax_test_train_step (net, x, n, labels, BATCH, 0, &loss[r]);
    for (int p = 0; p < ax_net_n_params (net); p++)
      grads[r][p] = ax_test_param_values (net, p, AX_PARAM_GRAD);
  }
  size_t differ = 0;
  for (int p = 0; p < ax_net_n_params (net); p++) {
    differ += memcmp (grads[0][p], grads[1][p],
        ax_net_param (net, p)->count * sizeof (float)) != 0;
    free (grads[0][p]);
    free (grads[1][p]);
  }
  printf ("  deterministic: loss %.9g, %.9g; %zu parameters' gradients "
      "differ\n", (double) loss[0], (double) loss[1], differ);
  AX_CHECK (loss[0] == loss[1] && differ == 0, "the same bits twice");
  free (x);
  ax_net_destroy (net);
}

/* The NCCL slots, called as backend.c's group code calls them. */
static void
test_group (void)
{
  ax_backend *same[2] = { gpu[0], gpu_det };
  void *state = NULL;
  AX_CHECK (gpu[0]->iface->group_init (same, 2, &state) == AX_ERR_INVALID_ARG,
      "two members on one device refused: %s",
      ax_backend_last_error (gpu[0]));
  if (devices < 2) {
    printf ("  all-reduce between devices: one device only, not run\n");
    return;
  }
  enum { N = 100003 };
  ax_backend *members[2] = { gpu[0], gpu[1] };
  ax_slab slabs[2];
  ax_tensor t[2], *tp[2] = { &t[0], &t[1] };
  float *h = malloc (N * sizeof *h);
  for (int m = 0; m < 2; m++) {
    CHECK_OK (members[m], ax_slab_alloc (members[m], N * 4, &slabs[m]));
    CHECK_OK (members[m], ax_tensor_view (&t[m], &slabs[m], 0,
            ax_shape_make (1, 1, 1, N), AX_F32));
    for (int i = 0; i < N; i++)
      h[i] = (float) (m ? 1000 + i : i);
    CHECK_OK (members[m], ax_tensor_upload (&t[m], h, N * 4));
  }
  CHECK_OK (gpu[0], gpu[0]->iface->group_init (members, 2, &state));
  if (state) {
    CHECK_OK (gpu[0], gpu[0]->iface->group_allreduce_sum (state, members, tp,
            2));
    for (int m = 0; m < 2; m++) {
      CHECK_OK (members[m], ax_tensor_download (h, N * 4, &t[m]));
      int wrong = 0;
      for (int i = 0; i < N; i++)
        wrong += h[i] != (float) (1000 + 2 * i);
      AX_CHECK (wrong == 0, "member %d: %d wrong sums", m, wrong);
    }
    gpu[0]->iface->group_destroy (state);
  }
  ax_slab_free (&slabs[0]);
  ax_slab_free (&slabs[1]);
  free (h);
}

int
main (void)
{
  devices = cuda_devices_or_skip ();
  unsetenv ("AX_CUDA_TF32");            /* the tolerances are for fp32 */
  ax_rng_seed (&test_rng, 99);
  if (ax_cpu_backend_create (0, &cpu) != AX_OK
      || !(gpu[0] = cuda_backend (0, 0))
      || !(gpu[1] = cuda_backend (devices > 1 ? 1 : 0, 0))
      || !(gpu_det = cuda_backend (0, 1)))
    return 1;
  AX_RUN (test_small_net);
  AX_RUN (test_full_size_net);
  AX_RUN (test_deterministic);
  AX_RUN (test_group);
  ax_backend_destroy (gpu_det);
  ax_backend_destroy (gpu[1]);
  ax_backend_destroy (gpu[0]);
  ax_backend_destroy (cpu);
  return ax_test_finish ();
}
