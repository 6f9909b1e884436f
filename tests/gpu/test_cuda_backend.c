/* The CUDA backend against the CPU backend, op by op: every layer forward
 * and backward on random inputs, small and AlexNet-sized (conv1 11x11/4
 * pad 2, grouped conv2, conv3, LRN, pool 3/2, fc6, the adaptive average
 * pool down and up, batch norm in training and evaluation with its
 * running statistics), parameter gradients
 * accumulated onto random starting values, the small kernels, the error
 * statuses, transfers of every kind and the colour noise. Needs a GPU;
 * without one it prints SKIP and exits 77. docs/cuda.md has the tolerances. */
#include "kernels/image/colour.h"
#include "kernels/cpu/cpu_backend.h"
#include "tests/unit/backend_test_util.h"
#include "tests/unit/layer_test_util.h"
#include "cuda_test_util.h"

static ax_backend *cpu, *gpu;
static arena cmem, gmem;

/* Host copies of an op's tensors. dw and db hold the starting values the
 * backward accumulates onto, and then the result. */
typedef struct {
  float *x, *w, *b, *dy;
  float *y, *dx, *dw, *db;
} op_io;

typedef struct {
  const char *name;
  ax_op op;
  double tol;
  int no_din;             /* the first layer: no data gradient */
} op_case;

static float *
random_floats (size_t n, float lo, float hi)
{
  float *v = malloc ((n ? n : 1) * sizeof *v);
  for (size_t i = 0; i < n; i++)
    v[i] = (float) (lo + (hi - lo) * ax_rng_uniform (&test_rng));
  return v;
}

static ax_tensor
tensor (arena *a, ax_shape s, const float *v)
{
  ax_tensor t = arena_tensor (a, s, AX_F32);
  if (v && t.data)
    CHECK_OK (a->be, ax_tensor_upload (&t, v, ax_shape_count (s) * 4));
  return t;
}

static void
fetch (arena *a, float *host, const ax_tensor *t)
{
  CHECK_OK (a->be, ax_tensor_download (host, ax_shape_count (t->shape) * 4, t));
}

/* Runs forward and backward of c on one backend from the inputs of `in`;
 * writes y, dx, dw, db of `out` (dw, db start as in's). */
static void
run_op (arena *a, const op_case *c, const op_io *in, op_io *out)
{
  ax_backend *be = a->be;
  ax_kernel *k = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, &c->op, &k));
  if (!k)
    return;
  const ax_op_shapes_t *s = ax_kernel_shapes (k);
  ax_shape wss = ax_kernel_workspace_shape (k);
  arena_reset (a);
  ax_tensor x = tensor (a, s->in, in->x), y = tensor (a, s->out, NULL);
  ax_tensor dy = tensor (a, s->out, in->dy), dx = tensor (a, s->in, NULL);
  ax_tensor w = { 0 }, b = { 0 }, dw = { 0 }, db = { 0 }, ws = { 0 };
  int has_w = ax_shape_count (s->weight) > 0;
  int has_b = ax_shape_count (s->bias) > 0;
  if (has_w) {
    w = tensor (a, s->weight, in->w);
    dw = tensor (a, s->weight, in->dw);
  }
  if (has_b) {
    b = tensor (a, s->bias, in->b);
    db = tensor (a, s->bias, in->db);
  }
  if (ax_shape_count (wss))
    ws = tensor (a, wss, NULL);
  ax_tensor *pws = ax_shape_count (wss) ? &ws : NULL;
  ax_tensor *pb = has_b ? &b : NULL, *pdb = has_b ? &db : NULL;
  ax_tensor *pdx = c->no_din ? NULL : &dx;
  switch (c->op.type) {
    case AX_OP_CONV:
      CHECK_OK (be, ax_conv_forward (k, &y, &x, &w, pb));
      CHECK_OK (be, ax_conv_backward (k, pdx, &dw, pdb, &dy, &x, &w));
      break;
    case AX_OP_FC:
      CHECK_OK (be, ax_fc_forward (k, &y, &x, &w, pb));
      CHECK_OK (be, ax_fc_backward (k, pdx, &dw, pdb, &dy, &x, &w));
      break;
    case AX_OP_RELU:
      CHECK_OK (be, ax_relu_forward (k, &y, &x));
      CHECK_OK (be, ax_relu_backward (k, &dx, &dy, &y));
      break;
    case AX_OP_LRN:
      CHECK_OK (be, ax_lrn_forward (k, &y, pws, &x));
      CHECK_OK (be, ax_lrn_backward (k, &dx, &dy, &x, &y, pws));
      break;
    case AX_OP_MAXPOOL:
      CHECK_OK (be, ax_maxpool_forward (k, &y, pws, &x));
      CHECK_OK (be, ax_maxpool_backward (k, &dx, &dy, &x, &y, pws));
      break;
    case AX_OP_DROPOUT:
      CHECK_OK (be, ax_dropout_forward (k, &y, &x, 77, 3));
      CHECK_OK (be, ax_dropout_backward (k, &dx, &dy, 77, 3));
      break;
    case AX_OP_AVGPOOL:
      CHECK_OK (be, ax_avgpool_forward (k, &y, &x));
      CHECK_OK (be, ax_avgpool_backward (k, &dx, &dy));
      break;
    default:
      AX_CHECK (0, "op %d not handled", c->op.type);
  }
  fetch (a, out->y, &y);
  if (!c->no_din)
    fetch (a, out->dx, &dx);
  if (has_w)
    fetch (a, out->dw, &dw);
  if (has_b)
    fetch (a, out->db, &db);
  ax_kernel_release (k);
}

static void
alloc_outputs (op_io *io, const ax_op_shapes_t *s)
{
  io->y = calloc (ax_shape_count (s->out), 4);
  io->dx = calloc (ax_shape_count (s->in), 4);
  io->dw = calloc (ax_shape_count (s->weight) + 1, 4);
  io->db = calloc (ax_shape_count (s->bias) + 1, 4);
}

static void
free_io (op_io *io)
{
  free (io->x); free (io->w); free (io->b); free (io->dy);
  free (io->y); free (io->dx); free (io->dw); free (io->db);
}

static void
compare_op (const op_case *c)
{
  ax_op_shapes_t s;
  AX_CHECK (ax_op_shapes (&c->op, &s) == AX_OK, "%s: shapes", c->name);
  if (!ax_backend_supports_op (gpu, &c->op)) {
    printf ("  %s: not supported by the CUDA backend, skipped\n", c->name);
    return;
  }
  size_t nin = ax_shape_count (s.in), nout = ax_shape_count (s.out);
  size_t nw = ax_shape_count (s.weight), nb = ax_shape_count (s.bias);
  /* Inputs of both signs; positive for LRN's sums to matter less. */
  op_io in = { 0 }, on_cpu = { 0 }, on_gpu = { 0 };
  in.x = random_floats (nin, -1, 1);
  in.dy = random_floats (nout, -1, 1);
  in.w = random_floats (nw, -0.1f, 0.1f);
  in.b = random_floats (nb, -0.5f, 0.5f);
  in.dw = random_floats (nw, -1, 1);
  in.db = random_floats (nb, -1, 1);
  alloc_outputs (&on_cpu, &s);
  alloc_outputs (&on_gpu, &s);
  run_op (&cmem, c, &in, &on_cpu);
  run_op (&gmem, c, &in, &on_gpu);
  char what[96];
  snprintf (what, sizeof what, "%s forward", c->name);
  CHECK_CLOSE (what, on_gpu.y, on_cpu.y, nout, c->tol);
  if (!c->no_din) {
    snprintf (what, sizeof what, "%s data gradient", c->name);
    CHECK_CLOSE (what, on_gpu.dx, on_cpu.dx, nin, c->tol);
  }
  if (nw) {
    snprintf (what, sizeof what, "%s weight gradient (+=)", c->name);
    CHECK_CLOSE (what, on_gpu.dw, on_cpu.dw, nw, c->tol);
  }
  if (nb) {
    snprintf (what, sizeof what, "%s bias gradient (+=)", c->name);
    CHECK_CLOSE (what, on_gpu.db, on_cpu.db, nb, c->tol);
  }
  free_io (&in);
  free_io (&on_cpu);
  free_io (&on_gpu);
}

#define CONV(n, c, h, w, o, k, st, pad, g) ((ax_op) { .type = AX_OP_CONV,    \
      .in = ax_shape_make (n, c, h, w), .p.conv = { o, k, k, st, pad, g, 1 } })
#define POOL(n, c, h, w, k, st, pad) ((ax_op) { .type = AX_OP_MAXPOOL,        \
      .in = ax_shape_make (n, c, h, w), .p.pool = { k, st, pad } })
#define LRN(n, c, h, w, prm) ((ax_op) { .type = AX_OP_LRN,                    \
      .in = ax_shape_make (n, c, h, w), .p.lrn = prm })
#define FC(n, c, h, w, o) ((ax_op) { .type = AX_OP_FC,                        \
      .in = ax_shape_make (n, c, h, w), .p.fc = { o, 1 } })
#define AVG(n, c, h, w, oh, ow) ((ax_op) { .type = AX_OP_AVGPOOL,             \
      .in = ax_shape_make (n, c, h, w), .p.avgpool = { oh, ow } })

static void
test_layers (void)
{
  ax_op relu = { .type = AX_OP_RELU, .in = ax_shape_make (3, 5, 7, 9) };
  ax_op drop = { .type = AX_OP_DROPOUT, .in = ax_shape_make (4, 1000, 1, 1),
    .p.dropout = { 0.5f, 2 } };
  op_case cases[] = {
    { "conv 3x3 small", CONV (2, 3, 13, 13, 4, 3, 1, 1, 1), 1e-4, 0 },
    { "conv 5x5 groups 2 small", CONV (2, 4, 9, 9, 6, 5, 1, 2, 2), 1e-4, 0 },
    { "conv1 11x11/4 pad 2", CONV (4, 3, 224, 224, 96, 11, 4, 2, 1), 1e-4, 1 },
    { "conv2 5x5 pad 2 groups 2", CONV (2, 96, 27, 27, 256, 5, 1, 2, 2),
      1e-4, 0 },
    { "conv3 3x3 pad 1", CONV (2, 256, 13, 13, 384, 3, 1, 1, 1), 1e-4, 0 },
    { "relu", relu, 1e-6, 0 },
    { "lrn paper small", LRN (2, 7, 5, 5, AX_LRN_PAPER), 1e-5, 0 },
    { "lrn caffe small", LRN (2, 7, 5, 5, AX_LRN_CAFFE), 1e-5, 0 },
    { "lrn1 paper 96x55x55", LRN (4, 96, 55, 55, AX_LRN_PAPER), 1e-5, 0 },
    { "lrn2 per tower (N*2, 128)", LRN (4, 128, 27, 27, AX_LRN_PAPER),
      1e-5, 0 },
    { "pool 3/2 small", POOL (2, 3, 9, 9, 3, 2, 0), 1e-6, 0 },
    { "pool 3/2 pad 1", POOL (2, 3, 8, 8, 3, 2, 1), 1e-6, 0 },
    { "pool1 3/2 96x55x55", POOL (4, 96, 55, 55, 3, 2, 0), 1e-6, 0 },
    { "fc small", FC (3, 5, 2, 2, 7), 1e-5, 0 },
    { "fc6 9216 -> 4096", FC (4, 256, 6, 6, 4096), 1e-4, 0 },
    { "dropout 0.5", drop, 0.0, 0 },
    /* the adaptive pool: the CPU's maths (layer_math.h) on both */
    { "avgpool 10x10 -> 7x7 (VGG at 320)", AVG (4, 512, 10, 10, 7, 7), 1e-6,
      0 },
    { "avgpool 1x1 -> 7x7 (VGG at 32)", AVG (4, 512, 1, 1, 7, 7), 1e-6, 0 },
    { "avgpool 2x2 -> 7x7 (VGG at 64)", AVG (4, 512, 2, 2, 7, 7), 1e-6, 0 },
    { "avgpool 13x9 -> 6x6", AVG (3, 256, 13, 9, 6, 6), 1e-6, 0 },
    { "avgpool 3x5 -> 7x7", AVG (2, 5, 3, 5, 7, 7), 1e-6, 0 },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    compare_op (&cases[i]);
}

/* Batch norm: host copies of its tensors; rm, rv start as the running
 * statistics and dw, db as the gradients' starting values, then hold the
 * results. */
typedef struct {
  float *x, *w, *b, *dy;
  float *y, *dx, *dw, *db, *rm, *rv, *eval;
} bn_io;

/* A training forward (the running statistics updated), its backward, then
 * an evaluation forward on the updated statistics, on one backend. */
static void
run_bn (arena *a, const ax_op *op, const bn_io *in, bn_io *out)
{
  ax_backend *be = a->be;
  ax_kernel *k = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, op, &k));
  if (!k)
    return;
  const ax_op_shapes_t *s = ax_kernel_shapes (k);
  arena_reset (a);
  ax_tensor x = tensor (a, s->in, in->x), y = tensor (a, s->out, NULL);
  ax_tensor dy = tensor (a, s->out, in->dy), dx = tensor (a, s->in, NULL);
  ax_tensor ye = tensor (a, s->out, NULL);
  ax_tensor w = tensor (a, s->weight, in->w), b = tensor (a, s->bias, in->b);
  ax_tensor dw = tensor (a, s->weight, in->dw);
  ax_tensor db = tensor (a, s->bias, in->db);
  ax_tensor rm = tensor (a, s->weight, in->rm);
  ax_tensor rv = tensor (a, s->weight, in->rv);
  ax_tensor ws = tensor (a, ax_kernel_workspace_shape (k), NULL);
  CHECK_OK (be, ax_batchnorm_forward (k, &y, &ws, &rm, &rv, &x, &w, &b, 1));
  CHECK_OK (be, ax_batchnorm_backward (k, &dx, &dw, &db, &dy, &x, &w, &ws));
  CHECK_OK (be, ax_batchnorm_forward (k, &ye, NULL, &rm, &rv, &x, &w, &b, 0));
  fetch (a, out->y, &y);
  fetch (a, out->dx, &dx);
  fetch (a, out->dw, &dw);
  fetch (a, out->db, &db);
  fetch (a, out->rm, &rm);
  fetch (a, out->rv, &rv);
  fetch (a, out->eval, &ye);
  ax_kernel_release (k);
}

static void
compare_bn (const char *name, ax_shape shape, double tol)
{
  ax_op op = { .type = AX_OP_BATCHNORM, .in = shape, .p.bn = AX_BN_TORCH };
  size_t n = ax_shape_count (shape), C = (size_t) shape.c;
  bn_io in = { random_floats (n, -2, 3), random_floats (C, 0.5f, 1.5f),
    random_floats (C, -1, 1), random_floats (n, -1, 1), NULL, NULL,
    random_floats (C, -1, 1), random_floats (C, -1, 1),
    random_floats (C, -0.5f, 0.5f), random_floats (C, 0.5f, 2), NULL };
  bn_io io[2];
  for (int i = 0; i < 2; i++) {
    io[i] = in;
    io[i].y = calloc (n, 4); io[i].dx = calloc (n, 4);
    io[i].eval = calloc (n, 4); io[i].dw = calloc (C, 4);
    io[i].db = calloc (C, 4); io[i].rm = calloc (C, 4);
    io[i].rv = calloc (C, 4);
  }
  run_bn (&cmem, &op, &in, &io[0]);
  run_bn (&gmem, &op, &in, &io[1]);
  struct { const char *what; float *g, *c; size_t n; } r[] = {
    { "forward (training)", io[1].y, io[0].y, n },
    { "data gradient", io[1].dx, io[0].dx, n },
    { "weight gradient (+=)", io[1].dw, io[0].dw, C },
    { "bias gradient (+=)", io[1].db, io[0].db, C },
    { "running mean", io[1].rm, io[0].rm, C },
    { "running variance (unbiased)", io[1].rv, io[0].rv, C },
    { "forward (evaluation)", io[1].eval, io[0].eval, n },
  };
  for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
    char what[96];
    snprintf (what, sizeof what, "%s %s", name, r[i].what);
    CHECK_CLOSE (what, r[i].g, r[i].c, r[i].n, tol);
  }
  for (int i = 0; i < 2; i++) {
    free (io[i].y); free (io[i].dx); free (io[i].eval); free (io[i].dw);
    free (io[i].db); free (io[i].rm); free (io[i].rv);
  }
  free (in.x); free (in.w); free (in.b); free (in.dy); free (in.dw);
  free (in.db); free (in.rm); free (in.rv);
}

static void
test_batchnorm (void)
{
  compare_bn ("bn small", ax_shape_make (2, 6, 5, 7), 1e-5);
  compare_bn ("bn after fc", ax_shape_make (8, 5, 1, 1), 1e-5);
  /* sums over 12544 values a channel */
  compare_bn ("bn 64x56x56 (vgg)", ax_shape_make (4, 64, 56, 56), 1e-4);
}

/* Softmax with cross-entropy, the SGD update and their error statuses. */
static void
test_loss_and_sgd (void)
{
  enum { N = 9, C = 1000 };
  ax_shape s = ax_shape_make (N, C, 1, 1), per = ax_shape_make (N, 1, 1, 1);
  ax_op xent = { .type = AX_OP_SOFTMAX_XENT, .in = s };
  ax_kernel *kc = NULL, *kg = NULL;
  CHECK_OK (cpu, ax_kernel_prepare (cpu, &xent, &kc));
  CHECK_OK (gpu, ax_kernel_prepare (gpu, &xent, &kg));
  if (!kc || !kg)
    return;
  float *x = random_floats (N * C, -10, 10), pc[N * C], pg[N * C], lc[N], lg[N];
  int32_t labels[N] = { 0, 999, 3, 3, 500, 17, 42, 998, 1 };
  arena *ar[2] = { &cmem, &gmem };
  ax_kernel *ks[2] = { kc, kg };
  float *probs[2] = { pc, pg }, *losses[2] = { lc, lg };
  for (int b = 0; b < 2; b++) {
    arena_reset (ar[b]);
    ax_tensor tx = tensor (ar[b], s, x), tp = tensor (ar[b], s, NULL);
    ax_tensor tl = tensor (ar[b], per, NULL), td = tensor (ar[b], s, NULL);
    ax_tensor lab = arena_tensor (ar[b], per, AX_I32);
    CHECK_OK (ar[b]->be, ax_tensor_upload (&lab, labels, sizeof labels));
    CHECK_OK (ar[b]->be, ax_softmax_xent_forward (ks[b], &tl, &tp, &tx, &lab));
    fetch (ar[b], losses[b], &tl);
    CHECK_OK (ar[b]->be, ax_softmax_xent_backward (ks[b], &td, &tp, &lab,
            1.0f / N));
    fetch (ar[b], probs[b], &td);
    if (b == 1) {
      /* The GPU's statuses: a label out of range, a NaN logit. */
      int32_t bad[N];
      memcpy (bad, labels, sizeof bad);
      bad[4] = C;
      CHECK_OK (gpu, ax_tensor_upload (&lab, bad, sizeof bad));
      AX_CHECK (ax_softmax_xent_forward (kg, &tl, &tp, &tx, &lab)
          == AX_ERR_INVALID_ARG, "bad label: %s", ax_backend_last_error (gpu));
      AX_CHECK (ax_softmax_xent_backward (kg, &td, &tp, &lab, 1.0f)
          == AX_ERR_INVALID_ARG, "bad label in backward");
      CHECK_OK (gpu, ax_tensor_upload (&lab, labels, sizeof labels));
      CHECK_OK (gpu, ax_tensor_fill (&tx, NAN));
      AX_CHECK (ax_softmax_xent_forward (kg, &tl, &tp, &tx, &lab)
          == AX_ERR_NONFINITE, "NaN logits: %s", ax_backend_last_error (gpu));
    }
  }
  CHECK_CLOSE ("softmax_xent losses", lg, lc, N, 1e-5);
  CHECK_CLOSE ("softmax_xent gradient", pg, pc, N * C, 1e-6);
  ax_kernel_release (kc);
  ax_kernel_release (kg);

  /* SGD: three steps, then a NaN gradient changes nothing. */
  ax_shape ps = ax_shape_make (4096, 9, 1, 1);
  size_t n = ax_shape_count (ps);
  ax_op sgd = { .type = AX_OP_SGD, .in = ps };
  CHECK_OK (cpu, ax_kernel_prepare (cpu, &sgd, &kc));
  CHECK_OK (gpu, ax_kernel_prepare (gpu, &sgd, &kg));
  float *w = random_floats (n, -1, 1), *v = random_floats (n, -0.1f, 0.1f);
  float *g = random_floats (n, -2, 2), *wc = calloc (n, 4), *wg = calloc (n, 4);
  float *after = calloc (n, 4);
  ax_sgd_step step = { 0.01f, 0.9f, 0.0005f };
  float *outs[2] = { wc, wg };
  for (int b = 0; b < 2 && kc && kg; b++) {
    ax_kernel *k = b ? kg : kc;
    arena_reset (ar[b]);
    ax_tensor tw = tensor (ar[b], ps, w), tv = tensor (ar[b], ps, v);
    ax_tensor tg = tensor (ar[b], ps, g);
    for (int r = 0; r < 3; r++)
      CHECK_OK (ar[b]->be, ax_sgd_update (k, &tw, &tv, &tg, &step));
    fetch (ar[b], outs[b], &tw);
    if (b == 1) {
      CHECK_OK (gpu, ax_tensor_fill (&tg, 1.0f));
      /* One NaN, at element 1000: a one-element view. */
      ax_tensor one = tg;
      one.shape = ax_shape_make (1, 1, 1, 1);
      one.data = (char *) tg.data + 4 * 1000;
      CHECK_OK (gpu, ax_tensor_fill (&one, NAN));
      AX_CHECK (ax_tensor_check_finite (&tg) == AX_ERR_NONFINITE,
          "count_nonfinite sees one NaN");
      AX_CHECK (ax_sgd_update (kg, &tw, &tv, &tg, &step) == AX_ERR_NONFINITE,
          "NaN gradient refused");
      fetch (&gmem, after, &tw);
      AX_CHECK (memcmp (after, wg, n * 4) == 0, "weights untouched");
    }
  }
  AX_CHECK (memcmp (wc, wg, n * 4) == 0, "three SGD steps: the CPU's bits");
  ax_kernel_release (kc);
  ax_kernel_release (kg);
  free (x); free (w); free (v); free (g); free (wc); free (wg); free (after);
}

/* --- the small kernels without a kernel object, and transfers --- */

static void
test_fill_axpy (void)
{
  ax_shape s = ax_shape_make (3, 7, 5, 11);
  size_t n = ax_shape_count (s);
  float *x = random_floats (n, -2, 2), *y = random_floats (n, -2, 2);
  float *c = calloc (n, 4), *g = calloc (n, 4);
  arena *ar[2] = { &cmem, &gmem };
  float *out[2] = { c, g };
  for (int b = 0; b < 2; b++) {
    arena_reset (ar[b]);
    ax_tensor tx = tensor (ar[b], s, x), ty = tensor (ar[b], s, y);
    CHECK_OK (ar[b]->be, ax_tensor_axpy (&ty, -0.37f, &tx));
    CHECK_OK (ar[b]->be, ax_tensor_axpy (&ty, 2.5f, &ty));
    fetch (ar[b], out[b], &ty);
  }
  AX_CHECK (memcmp (c, g, n * 4) == 0, "axpy: the CPU's bits");
  arena_reset (&gmem);
  ax_tensor t = tensor (&gmem, s, NULL);
  CHECK_OK (gpu, ax_tensor_fill (&t, 0.625f));
  fetch (&gmem, g, &t);
  size_t wrong = 0;
  for (size_t i = 0; i < n; i++)
    wrong += g[i] != 0.625f;
  AX_CHECK (wrong == 0, "fill: %zu wrong", wrong);
  CHECK_OK (gpu, ax_tensor_check_finite (&t));
  free (x); free (y); free (c); free (g);
}

static void
round_trip (size_t n, const char *what)
{
  ax_shape s = ax_shape_make (1, 1, 1, (int) n);
  float *v = random_floats (n, -1e3f, 1e3f), *back = calloc (n, 4);
  arena_reset (&gmem);
  ax_tensor t = tensor (&gmem, s, v);
  fetch (&gmem, back, &t);
  AX_CHECK (memcmp (v, back, n * 4) == 0, "%s: the same bits back", what);
  free (v);
  free (back);
}

static void
test_transfers (void)
{
  round_trip (1000003, "upload and download, 4 MB");
  /* More than one staging buffer holds (AXCU_STAGE_MAX, 128 MB). */
  round_trip ((size_t) 40 << 20, "upload in pieces, 160 MB");

  /* The host buffer is free again when upload returns. */
  enum { N = 1 << 20 };
  ax_shape s = ax_shape_make (1, 1, 1, N);
  float *h = malloc (N * 4), *back = malloc (N * 4);
  arena_reset (&gmem);
  ax_tensor t[3];
  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < N; i++)
      h[i] = (float) (k + 1);
    t[k] = tensor (&gmem, s, h);
  }
  for (int k = 0; k < 3; k++) {
    fetch (&gmem, back, &t[k]);
    int wrong = 0;
    for (int i = 0; i < N; i++)
      wrong += back[i] != (float) (k + 1);
    AX_CHECK (wrong == 0, "upload %d: %d wrong values", k, wrong);
  }
  free (h);
  free (back);

  /* From pinned memory (ax_host_alloc): a DMA queued without staging; the
   * memory is left alone until the download synchronises. */
  float *pinned = NULL;
  CHECK_OK (gpu, ax_host_alloc (gpu, N * 4, (void **) &pinned));
  if (pinned) {
    back = malloc (N * 4);
    for (int i = 0; i < N; i++)
      pinned[i] = (float) i * 0.25f;
    arena_reset (&gmem);
    ax_tensor tp = tensor (&gmem, s, NULL);
    CHECK_OK (gpu, ax_tensor_upload (&tp, pinned, N * 4));
    fetch (&gmem, back, &tp);
    AX_CHECK (memcmp (pinned, back, N * 4) == 0, "upload from pinned memory");
    free (back);
    ax_host_free (gpu, pinned);
  }

  /* Maps between backends: 2-D uploads, downloads and device copies. */
  ax_shape a = ax_shape_make (2, 6, 5, 5), b = ax_shape_make (2, 8, 5, 5);
  size_t na = ax_shape_count (a), nb = ax_shape_count (b);
  float *va = random_floats (na, -1, 1), *out = calloc (na, 4);
  float *gb = calloc (nb, 4);
  arena_reset (&cmem);
  ax_tensor ca = tensor (&cmem, a, va), cb = tensor (&cmem, a, NULL);
  ax_tensor g1 = tensor (&gmem, b, NULL), g2 = tensor (&gmem, a, NULL);
  CHECK_OK (gpu, ax_tensor_fill (&g1, -5.0f));
  CHECK_OK (gpu, ax_tensor_copy_channels (&g1, 2, &ca, 1, 3));
  CHECK_OK (gpu, ax_tensor_copy_channels (&g2, 0, &g1, 0, 8 - 2));
  CHECK_OK (cpu, ax_tensor_copy (&cb, &g2));
  fetch (&cmem, out, &cb);
  fetch (&gmem, gb, &g1);
  size_t wrong = 0;
  for (int n = 0; n < 2; n++)
    for (int c = 0; c < 6; c++)
      for (int i = 0; i < 25; i++) {
        float want = c >= 2 && c < 5 ? va[(n * 6 + c - 1) * 25 + i] : -5.0f;
        wrong += out[(n * 6 + c) * 25 + i] != want;
      }
  AX_CHECK (wrong == 0, "maps moved CPU -> GPU -> GPU -> CPU: %zu wrong",
      wrong);
  AX_CHECK (gb[(1 * 8 + 7) * 25 + 24] == -5.0f, "maps outside left alone");
  free (va); free (out); free (gb);
}

/* Between two backends (two streams): the copy sees all the work queued
 * on the source before it, and work queued on the source after it does
 * not reach the copy. */
static void
copy_between (ax_backend *other, const char *what)
{
  arena o;
  if (!other || !arena_init (&o, other, (size_t) 64 << 20))
    return;
  ax_shape s = ax_shape_make (4, 256, 13, 13), part = ax_shape_make (4, 128,
      13, 13);
  size_t n = ax_shape_count (s);
  float *back = malloc (n * 4);
  arena_reset (&gmem);
  ax_tensor src = tensor (&gmem, s, NULL), one = tensor (&gmem, s, NULL);
  ax_tensor dst = tensor (&o, s, NULL), half = tensor (&o, part, NULL);
  CHECK_OK (gpu, ax_tensor_fill (&src, 0.0f));
  CHECK_OK (gpu, ax_tensor_fill (&one, 1.0f));
  for (int r = 0; r < 200; r++)
    CHECK_OK (gpu, ax_tensor_axpy (&src, 1.0f, &one));
  CHECK_OK (other, ax_tensor_copy (&dst, &src));
  CHECK_OK (other, ax_tensor_copy_channels (&half, 0, &src, 64, 128));
  CHECK_OK (gpu, ax_tensor_fill (&src, -1.0f));
  fetch (&o, back, &dst);
  size_t wrong = 0;
  for (size_t i = 0; i < n; i++)
    wrong += back[i] != 200.0f;
  fetch (&o, back, &half);
  for (size_t i = 0; i < n / 2; i++)
    wrong += back[i] != 200.0f;
  AX_CHECK (wrong == 0, "%s: %zu values not the source's at the copy", what,
      wrong);
  printf ("  %s: copies ordered on both streams\n", what);
  ax_slab_free (&o.slab);
  free (back);
}

static void
test_copy_between_backends (void)
{
  ax_backend *second = cuda_backend (0, 0);
  copy_between (second, "two backends on device 0");
  ax_backend_destroy (second);
}

static void
test_copy_between_devices (void)
{
  ax_backend *second = cuda_backend (1, 0);
  copy_between (second, "device 0 -> device 1");
  ax_backend_destroy (second);
}

static void
test_colour_noise (void)
{
  static const double eigval[3] = { 0.2175, 0.0188, 0.0045 };
  static const double eigvec[3][3] = { { -0.5675, 0.7192, 0.4009 },
    { -0.5808, -0.0045, -0.8140 }, { -0.5836, -0.6948, 0.4203 } };
  int w = 227, h = 131;
  size_t stride = (size_t) w * 3 + 7, bytes = stride * h;
  size_t words = (bytes + 3) / 4;
  uint8_t *cpu_px = calloc (words, 4), *gpu_px = calloc (words, 4);
  for (size_t i = 0; i < bytes; i++)
    cpu_px[i] = (uint8_t) ax_rng_u64 (&test_rng);
  memcpy (gpu_px, cpu_px, bytes);
  double alpha[3] = { 0.3, -1.2, 2.0 };
  ax_pca_jitter_rgb (cpu_px, w, h, stride, alpha, eigval, eigvec);
  /* The image as I32 words, only to move its bytes. */
  arena_reset (&gmem);
  ax_tensor t = arena_tensor (&gmem, ax_shape_make (1, 1, 1, (int) words),
      AX_I32);
  CHECK_OK (gpu, ax_tensor_upload (&t, gpu_px, words * 4));
  CHECK_OK (gpu, ax_cuda_colour_noise (gpu, t.data, w, h, stride, alpha,
          eigval, eigvec));
  CHECK_OK (gpu, ax_tensor_download (gpu_px, words * 4, &t));
  AX_CHECK (memcmp (cpu_px, gpu_px, bytes) == 0, "colour noise: the CPU's "
      "bytes");
  AX_CHECK (ax_cuda_colour_noise (cpu, t.data, w, h, stride, alpha, eigval,
          eigvec) == AX_ERR_WRONG_BACKEND, "not on a CPU backend");
  free (cpu_px);
  free (gpu_px);
}

int
main (void)
{
  int devices = cuda_devices_or_skip ();
  unsetenv ("AX_CUDA_TF32");            /* the tolerances are for fp32 */
  ax_rng_seed (&test_rng, 2012);
  if (ax_cpu_backend_create (0, &cpu) != AX_OK
      || !(gpu = cuda_backend (0, 0))
      || !arena_init (&cmem, cpu, (size_t) 512 << 20)
      || !arena_init (&gmem, gpu, (size_t) 512 << 20))
    return 1;
  AX_RUN (test_layers);
  AX_RUN (test_batchnorm);
  AX_RUN (test_loss_and_sgd);
  AX_RUN (test_fill_axpy);
  AX_RUN (test_transfers);
  AX_RUN (test_copy_between_backends);
  if (devices > 1)
    AX_RUN (test_copy_between_devices);
  AX_RUN (test_colour_noise);
  ax_slab_free (&gmem.slab);
  ax_slab_free (&cmem.slab);
  ax_backend_destroy (gpu);
  ax_backend_destroy (cpu);
  return ax_test_finish ();
}
