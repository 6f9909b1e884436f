/* The paper's AlexNet at 224x224 on CUDA: training images/s at batch 128
 * (forward, loss, backward, update), inference images/s at batch 64 and
 * batch-1 latency (each up to the logits in host memory), for both
 * placements: one backend, and two towers (devices 0 and 1 when there are
 * two, else both on device 0 on two streams). Without a GPU it says so and
 * exits 0. AX_CUDA_TF32=1 lets cuDNN and cuBLAS use TF32 tensor cores.
 *
 *   build/bench/cuda_train_bench [--reps N] [--deterministic]
 */
#include "kernels/cuda/cuda_backend.h"
#include "kernels/nn/net.h"
#include "kernels/nn/trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

static ax_net *
make (int batch, int training, ax_placement place, ax_backend **be)
{
  ax_net_spec spec;
  ax_net_config cfg = { batch, place, training, { be[0], NULL } };
  if (place == AX_PLACE_TOWERS)
    cfg.backends[1] = be[1];
  ax_net *net = NULL;
  char err[512] = "";
  ax_status st = ax_net_spec_alexnet_paper (&spec, 1000, 224);
  if (st == AX_OK)
    st = ax_net_create (&spec, &cfg, &net, err, sizeof err);
  if (st == AX_OK && (st = ax_net_init (net, AX_INIT_PAPER, 1)) != AX_OK)
    snprintf (err, sizeof err, "%s", ax_net_last_error (net));
  if (st != AX_OK) {
    fprintf (stderr, "batch %d: %s: %s\n", batch, ax_status_str (st), err);
    ax_net_destroy (net);
    return NULL;
  }
  return net;
}

/* Seconds per step (the trainer's) or per batch up to its logits (inference),
 * over `reps` after one warm-up; -1 on failure. The logits' download waits
 * for the GPU, so the time is the work's, not its queueing's. */
static double
time_net (ax_net *net, int batch, int train, int reps)
{
  size_t n = (size_t) batch * 3 * 224 * 224;
  float *x = malloc (n * sizeof *x), *logits = malloc (batch * 1000 * 4);
  int32_t *labels = malloc ((size_t) batch * sizeof *labels);
  ax_sgd_step sgd = { 0.01f, 0.9f, 0.0005f };
  ax_status st = x && logits && labels ? AX_OK : AX_ERR_NO_MEMORY;
  ax_trainer_result step;
  double t0 = 0.0;
  for (size_t i = 0; x && i < n; i++)
    x[i] = (float) ((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
  for (int i = 0; labels && i < batch; i++)
    labels[i] = i % 1000;
  for (int r = 0; r <= reps && st == AX_OK; r++) {
    if (r == 1)
      t0 = now ();
    st = train ? ax_trainer_net_step (net, x, labels, batch, &sgd, NULL,
        &step) : ax_net_forward (net, x, n, 0);
    if (st == AX_OK)
      st = ax_net_logits (net, logits, (size_t) batch * 1000);
  }
  double dt = (now () - t0) / reps;
  if (st != AX_OK)
    fprintf (stderr, "run: %s\n", ax_net_last_error (net));
  free (x);
  free (logits);
  free (labels);
  return st == AX_OK ? dt : -1.0;
}

static void
bench_placement (const char *name, ax_placement place, ax_backend **be,
    int reps)
{
  double train = -1.0, infer = -1.0, latency = -1.0;
  ax_net *net = make (128, 1, place, be);
  if (net) {
    train = time_net (net, 128, 1, reps);
    ax_net_destroy (net);
  }
  if ((net = make (64, 0, place, be))) {
    infer = time_net (net, 64, 0, reps);
    ax_net_destroy (net);
  }
  if ((net = make (1, 0, place, be))) {
    latency = time_net (net, 1, 0, reps * 4);
    ax_net_destroy (net);
  }
  printf ("CUDA %-34s train b128 %7.0f img/s   infer b64 %7.0f img/s   "
      "b1 latency %6.2f ms\n", name, train > 0 ? 128.0 / train : 0.0,
      infer > 0 ? 64.0 / infer : 0.0, latency > 0 ? 1e3 * latency : 0.0);
}

int
main (int argc, char **argv)
{
  int reps = 10, deterministic = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--reps") == 0 && i + 1 < argc)
      reps = atoi (argv[++i]);
    else if (strcmp (argv[i], "--deterministic") == 0)
      deterministic = 1;
    else {
      fprintf (stderr, "usage: %s [--reps N] [--deterministic]\n", argv[0]);
      return 2;
    }
  }
  if (reps < 1)
    reps = 1;
  char why[1024] = "";
  int devices = ax_cuda_device_count (why, sizeof why);
  if (devices <= 0) {
    printf ("CUDA train bench: no usable CUDA device (%s); nothing measured\n",
        why);
    return 0;
  }
  printf ("CUDA train bench: %d device%s, %s, %s, TF32 %s\n", devices,
      devices == 1 ? "" : "s", ax_cuda_module_description (),
      deterministic ? "deterministic" : "fastest algorithms",
      getenv ("AX_CUDA_TF32") && strcmp (getenv ("AX_CUDA_TF32"), "1") == 0
      ? "on" : "off");
  ax_backend *be[2] = { NULL, NULL };
  char err[512] = "";
  if (ax_cuda_backend_create (0, deterministic, &be[0], err, sizeof err)
      != AX_OK
      || ax_cuda_backend_create (devices > 1 ? 1 : 0, deterministic, &be[1],
          err, sizeof err) != AX_OK) {
    fprintf (stderr, "CUDA backend: %s\n", err);
    ax_backend_destroy (be[0]);
    return 1;
  }
  bench_placement ("one backend (device 0)", AX_PLACE_ONE, be, reps);
  bench_placement (devices > 1 ? "towers (devices 0 and 1)"
      : "towers (device 0, two streams)", AX_PLACE_TOWERS, be, reps);
  ax_backend_destroy (be[1]);
  ax_backend_destroy (be[0]);
  return 0;
}
