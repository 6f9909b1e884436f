/* Micro-benchmark, not a test: the CPU backend's convolution forward and
 * backward (data + weights) on AlexNet's conv1-conv5 shapes (groups 2 where
 * the paper splits the towers), printing ms per call and GFLOP/s.
 * Usage: conv_bench [batch=128] [threads=0: all] [repeats=3] [plain]
 * ("plain": im2col + GEMM on NCHW instead of oneDNN's blocked layouts). */
#include "kernels/cpu/cpu_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  const char *name;
  ax_shape in;            /* batch filled in at run time */
  ax_conv_params p;
} conv_layer;

static const conv_layer layers[] = {
  { "conv1", { 0, 3, 224, 224 }, { 96, 11, 11, 4, 2, 1, 1 } },
  { "conv2", { 0, 96, 27, 27 }, { 256, 5, 5, 1, 2, 2, 1 } },
  { "conv3", { 0, 256, 13, 13 }, { 384, 3, 3, 1, 1, 1, 1 } },
  { "conv4", { 0, 384, 13, 13 }, { 384, 3, 3, 1, 1, 2, 1 } },
  { "conv5", { 0, 384, 13, 13 }, { 256, 3, 3, 1, 1, 2, 1 } },
};

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
fail (ax_backend *be, ax_status st, const char *what)
{
  fprintf (stderr, "%s: %s (%s)\n", what, ax_status_str (st),
      ax_backend_last_error (be));
  return 1;
}

/* Slab layout: x, w, b, y, dy, dx, dw, db. */
static int
bench_layer (ax_backend *be, const conv_layer *l, int batch, int repeats,
    double totals[2])
{
  ax_op op = { .type = AX_OP_CONV, .in = l->in, .p.conv = l->p };
  op.in.n = batch;
  ax_kernel *k = NULL;
  ax_status st = ax_kernel_prepare (be, &op, &k);
  if (st != AX_OK)
    return fail (be, st, l->name);
  const ax_op_shapes_t *s = ax_kernel_shapes (k);
  ax_shape shapes[8] = { s->in, s->weight, s->bias, s->out, s->out, s->in,
    s->weight, s->bias };
  ax_tensor t[8];
  size_t bytes = 0;
  for (int i = 0; i < 8; i++)
    bytes += ax_tensor_footprint (shapes[i], AX_F32);
  ax_slab slab;
  if ((st = ax_slab_alloc (be, bytes, &slab)) != AX_OK)
    return fail (be, st, "slab");
  for (int i = 0, off = 0; i < 8; i++) {
    ax_tensor_view (&t[i], &slab, off, shapes[i], AX_F32);
    ax_tensor_fill (&t[i], 0.01f * (i + 1));
    off += ax_tensor_footprint (shapes[i], AX_F32);
  }
  double flops = 2.0 * ax_shape_count (s->out) * s->weight.c * s->weight.h
      * s->weight.w;
  /* conv1 needs no gradient for the image. */
  ax_tensor *din = l->in.c == 3 ? NULL : &t[5];
  double best[2] = { 1e30, 1e30 };
  for (int r = 0; r <= repeats; r++) {     /* r = 0 warms up */
    double t0 = now ();
    st = ax_conv_forward (k, &t[3], &t[0], &t[1], &t[2]);
    double t1 = now ();
    if (st == AX_OK)
      st = ax_conv_backward (k, din, &t[6], &t[7], &t[4], &t[0], &t[1]);
    double t2 = now ();
    if (st != AX_OK)
      return fail (be, st, l->name);
    if (r > 0) {
      best[0] = t1 - t0 < best[0] ? t1 - t0 : best[0];
      best[1] = t2 - t1 < best[1] ? t2 - t1 : best[1];
    }
  }
  double bwd_flops = flops * (din ? 2 : 1);
  printf ("%-6s %7.1f ms %7.1f GFLOP/s | backward %7.1f ms %7.1f GFLOP/s\n",
      l->name, best[0] * 1e3, flops / best[0] * 1e-9, best[1] * 1e3,
      bwd_flops / best[1] * 1e-9);
  totals[0] += best[0];
  totals[1] += best[1];
  ax_slab_free (&slab);
  ax_kernel_release (k);
  return 0;
}

int
main (int argc, char **argv)
{
  int batch = argc > 1 ? atoi (argv[1]) : 128;
  int threads = argc > 2 ? atoi (argv[2]) : 0;
  int repeats = argc > 3 ? atoi (argv[3]) : 3;
  int plain = argc > 4 && strcmp (argv[4], "plain") == 0;
  ax_backend *be = NULL;
  if (batch <= 0 || threads < 0 || repeats <= 0
      || ax_cpu_backend_create (threads, &be) != AX_OK) {
    fprintf (stderr, "usage: %s [batch] [threads] [repeats]\n", argv[0]);
    return 2;
  }
  ax_cpu_backend_set_blocked_conv (be, !plain);
  printf ("AlexNet convolutions, batch %d, %d threads, fp32, %s layouts, "
      "best of %d\n", batch, ax_cpu_backend_threads (be),
      plain ? "plain" : "blocked", repeats);
  double totals[2] = { 0, 0 };
  int rc = 0;
  for (size_t i = 0; i < sizeof layers / sizeof layers[0] && !rc; i++)
    rc = bench_layer (be, &layers[i], batch, repeats, totals);
  if (!rc)
    printf ("total  %7.1f ms forward, %7.1f ms backward: %.1f images/s "
        "through the convolutions alone\n", totals[0] * 1e3, totals[1] * 1e3,
        batch / (totals[0] + totals[1]));
  ax_backend_destroy (be);
  return rc;
}
