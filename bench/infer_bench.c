/* The compute core's inference speed, for bench/infer_bench.sh to hold the
 * alexnet-infer pipeline against: the paper's AlexNet (224x224, 1000
 * classes) at batch 64, forward pass plus the logits brought back to the
 * host, as the element runs it. Also writes the random-weight checkpoint
 * the pipeline loads.
 *
 *   build/bench/infer_bench [--reps N] [--batch B] [--towers]
 *   build/bench/infer_bench --write-checkpoint PATH
 */
#include "kernels/cpu/cpu_backend.h"
#include "kernels/nn/net.h"
#include "kernels/nn/net_checkpoint.h"

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

static int
make_net (int batch, int towers, ax_backend *be[2], ax_net **net)
{
  ax_net_spec spec;
  ax_net_config cfg = { batch, towers ? AX_PLACE_TOWERS : AX_PLACE_ONE, 0,
    { NULL, NULL } };
  char err[512];

  ax_net_spec_alexnet_paper (&spec, 1000, 224);
  for (int t = 0; t < (towers ? 2 : 1); t++) {
    if (ax_cpu_backend_create (towers ? 1 : 0, &be[t]) != AX_OK)
      return 0;
    cfg.backends[t] = be[t];
  }
  if (ax_net_create (&spec, &cfg, net, err, sizeof err) != AX_OK) {
    fprintf (stderr, "infer_bench: %s\n", err);
    return 0;
  }
  return ax_net_init (*net, AX_INIT_PAPER, 1) == AX_OK;
}

static int
write_checkpoint (const char *path)
{
  ax_backend *be[2] = { NULL, NULL };
  ax_net *net = NULL;
  ax_net_checkpoint_info info;
  const float mean[3] = { 0.485f, 0.456f, 0.406f };
  char err[512];
  int ok;

  memset (&info, 0, sizeof info);
  info.input_size = 224;
  info.has_normalization = 1;
  for (int c = 0; c < 3; c++) {
    info.mean[c] = mean[c];
    info.std[c] = 1.0f;
  }
  ok = make_net (1, 0, be, &net)
      && ax_net_checkpoint_save (net, path, &info, err, sizeof err) == AX_OK;
  if (!ok)
    fprintf (stderr, "infer_bench: cannot write %s: %s\n", path, err);
  ax_net_destroy (net);
  ax_backend_destroy (be[0]);
  return ok ? 0 : 1;
}

int
main (int argc, char **argv)
{
  int reps = 5, batch = 64, towers = 0;
  ax_backend *be[2] = { NULL, NULL };
  ax_net *net = NULL;

  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--write-checkpoint") == 0 && i + 1 < argc)
      return write_checkpoint (argv[i + 1]);
    else if (strcmp (argv[i], "--reps") == 0 && i + 1 < argc)
      reps = atoi (argv[++i]);
    else if (strcmp (argv[i], "--batch") == 0 && i + 1 < argc)
      batch = atoi (argv[++i]);
    else if (strcmp (argv[i], "--towers") == 0)
      towers = 1;
    else {
      fprintf (stderr, "usage: infer_bench [--reps N] [--batch B] [--towers]"
          " | --write-checkpoint PATH\n");
      return 2;
    }
  }
  if (reps < 1 || batch < 1 || !make_net (batch, towers, be, &net))
    return 1;

  size_t n = (size_t) batch * 3 * 224 * 224, nl = (size_t) batch * 1000;
  float *x = malloc (n * sizeof *x), *logits = malloc (nl * sizeof *logits);
  for (size_t i = 0; x && i < n; i++)
    x[i] = (float) ((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
  double t0 = 0.0;
  int ok = x && logits;
  for (int r = 0; r <= reps && ok; r++) {
    if (r == 1)
      t0 = now ();              /* the first pass is a warm-up */
    ok = ax_net_forward (net, x, n, 0) == AX_OK
        && ax_net_logits (net, logits, nl) == AX_OK;
  }
  if (ok)
    printf ("core_images_per_s %.1f\n", batch * reps / (now () - t0));
  else
    fprintf (stderr, "infer_bench: %s\n", ax_net_last_error (net));
  free (x);
  free (logits);
  ax_net_destroy (net);
  for (int t = 0; t < 2; t++)
    if (be[t])
      ax_backend_destroy (be[t]);
  return ok ? 0 : 1;
}
