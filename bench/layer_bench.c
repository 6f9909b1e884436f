/* Micro-benchmark, not a test: forward and backward time of the CPU
 * backend's other AlexNet layers at batch 128 (LRN, max-pool, ReLU, fc,
 * dropout, softmax-xent), to see where a training step goes.
 * Usage: layer_bench [batch=128] [threads=0: all] [repeats=3] */
#include "kernels/cpu/cpu_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
  const char *name;
  ax_op op;
} layer;

/* Tensors: in, out, din, dout, weight, dweight, bias, dbias, workspace,
 * labels; those an op lacks get a 1-element stand-in. */
enum { IN, OUT, DIN, DOUT, W, DW, B, DB, WS, LABELS, N_TENSORS };

static ax_status
run (ax_kernel *k, ax_tensor *t, int backward)
{
  ax_tensor *ws = ax_shape_count (t[WS].shape) > 1 ? &t[WS] : NULL;
  switch (ax_kernel_op (k)->type) {
    case AX_OP_LRN:
      return backward ? ax_lrn_backward (k, &t[DIN], &t[DOUT], &t[IN], &t[OUT], ws)
          : ax_lrn_forward (k, &t[OUT], ws, &t[IN]);
    case AX_OP_MAXPOOL:
      return backward ? ax_maxpool_backward (k, &t[DIN], &t[DOUT], &t[IN], &t[OUT], ws)
          : ax_maxpool_forward (k, &t[OUT], ws, &t[IN]);
    case AX_OP_RELU:
      return backward ? ax_relu_backward (k, &t[DIN], &t[DOUT], &t[OUT])
          : ax_relu_forward (k, &t[OUT], &t[IN]);
    case AX_OP_FC:
      return backward ? ax_fc_backward (k, &t[DIN], &t[DW], &t[DB], &t[DOUT], &t[IN], &t[W])
          : ax_fc_forward (k, &t[OUT], &t[IN], &t[W], &t[B]);
    case AX_OP_DROPOUT:
      return backward ? ax_dropout_backward (k, &t[DIN], &t[DOUT], 1, 2)
          : ax_dropout_forward (k, &t[OUT], &t[IN], 1, 2);
    default:
      return backward ? ax_softmax_xent_backward (k, &t[DIN], &t[OUT], &t[LABELS], 0.01f)
          : ax_softmax_xent_forward (k, &t[DB], &t[OUT], &t[IN], &t[LABELS]);
  }
}

static int
bench (ax_backend *be, const layer *l, int repeats)
{
  ax_kernel *k = NULL;
  ax_status st = ax_kernel_prepare (be, &l->op, &k);
  if (st != AX_OK) {
    fprintf (stderr, "%s: %s (%s)\n", l->name, ax_status_str (st),
        ax_backend_last_error (be));
    return 1;
  }
  const ax_op_shapes_t *s = ax_kernel_shapes (k);
  ax_shape one = ax_shape_make (1, 1, 1, 1), per = ax_shape_make (s->in.n, 1, 1, 1);
  ax_shape ws = ax_kernel_workspace_shape (k);
  int xent = l->op.type == AX_OP_SOFTMAX_XENT;
  ax_shape shapes[N_TENSORS] = { s->in, s->out, s->in, s->out,
    ax_shape_count (s->weight) ? s->weight : one,
    ax_shape_count (s->weight) ? s->weight : one,
    ax_shape_count (s->bias) ? s->bias : xent ? per : one,
    ax_shape_count (s->bias) ? s->bias : xent ? per : one,
    ax_shape_count (ws) ? ws : one, per };
  ax_tensor t[N_TENSORS];
  size_t bytes = 0, off = 0;
  for (int i = 0; i < N_TENSORS; i++)
    bytes += ax_tensor_footprint (shapes[i], AX_F32);
  ax_slab slab;
  if (ax_slab_alloc (be, bytes, &slab) != AX_OK)
    return 1;
  for (int i = 0; i < N_TENSORS; i++) {
    ax_tensor_view (&t[i], &slab, off, shapes[i], i == LABELS ? AX_I32 : AX_F32);
    if (i != LABELS)
      ax_tensor_fill (&t[i], 0.5f);
    off += ax_tensor_footprint (shapes[i], AX_F32);
  }
  int32_t *labels = calloc (s->in.n, sizeof *labels);
  ax_tensor_upload (&t[LABELS], labels, s->in.n * sizeof *labels);
  free (labels);
  double best[2] = { 1e30, 1e30 };
  for (int r = 0; r <= repeats; r++)
    for (int b = 0; b < 2; b++) {
      double t0 = now ();
      if ((st = run (k, t, b)) != AX_OK) {
        fprintf (stderr, "%s: %s (%s)\n", l->name, ax_status_str (st),
            ax_backend_last_error (be));
        return 1;
      }
      double dt = now () - t0;
      if (r > 0 && dt < best[b])
        best[b] = dt;
    }
  printf ("%-8s %8.2f ms forward %8.2f ms backward\n", l->name,
      best[0] * 1e3, best[1] * 1e3);
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
  ax_backend *be = NULL;
  if (batch <= 0 || threads < 0 || repeats <= 0
      || ax_cpu_backend_create (threads, &be) != AX_OK)
    return 2;
#define LAYER(name, op_type, c, hw, field, ...) { name, { .type = op_type, \
      .in = { batch, c, hw, hw }, .p.field = __VA_ARGS__ } }
  const layer layers[] = {
    LAYER ("relu1", AX_OP_RELU, 96, 55, fc, { 0, 0 }),
    LAYER ("lrn1", AX_OP_LRN, 96, 55, lrn, AX_LRN_PAPER),
    LAYER ("pool1", AX_OP_MAXPOOL, 96, 55, pool, { 3, 2, 0 }),
    LAYER ("lrn2", AX_OP_LRN, 256, 27, lrn, AX_LRN_PAPER),
    LAYER ("pool2", AX_OP_MAXPOOL, 256, 27, pool, { 3, 2, 0 }),
    LAYER ("pool5", AX_OP_MAXPOOL, 256, 13, pool, { 3, 2, 0 }),
    LAYER ("fc6", AX_OP_FC, 256, 6, fc, { 4096, 1 }),
    LAYER ("drop6", AX_OP_DROPOUT, 4096, 1, dropout, { 0.5f, 6 }),
    LAYER ("fc7", AX_OP_FC, 4096, 1, fc, { 4096, 1 }),
    LAYER ("fc8", AX_OP_FC, 4096, 1, fc, { 1000, 1 }),
    LAYER ("xent", AX_OP_SOFTMAX_XENT, 1000, 1, fc, { 0, 0 }),
  };
  printf ("AlexNet's other layers, batch %d, %d threads, best of %d\n", batch,
      ax_cpu_backend_threads (be), repeats);
  int rc = 0;
  for (size_t i = 0; i < sizeof layers / sizeof layers[0] && !rc; i++)
    rc = bench (be, &layers[i], repeats);
  ax_backend_destroy (be);
  return rc;
}
