/* Memory is planned at prepare time: running the layers of a small network
 * forward and backward must not allocate buffers. malloc and friends are
 * interposed here to count what each op allocates once warm. Two things
 * inside oneDNN do allocate per call and cannot be told otherwise through
 * its API: the C API's argument map (a few small blocks) and the GEMM
 * driver's packing buffers behind the fully connected layers (bounded by its
 * block sizes, not by the batch). The test holds every other op to small
 * blocks and the fc layers to a fixed bound. */
#include "kernels/cpu/cpu_backend.h"
#include "backend_test_util.h"

#include <malloc.h>

#if defined(__SANITIZE_ADDRESS__)
int
main (void)
{
  printf ("SKIP: malloc is the sanitizer's in this build\n");
  return 77;
}
#else

#include "alloc_count.h"

/* The most bytes one call of an fc op, or of any other op, allocated. */
static size_t fc_peak, other_peak;

#define BATCH 16

static ax_backend *be;
static arena mem;

/* conv (blocked, groups 2) -> relu -> lrn -> pool -> fc -> dropout ->
 * softmax-xent, forward and backward, and an SGD step on the fc weights. */
typedef struct {
  ax_kernel *conv, *relu, *lrn, *pool, *fc, *drop, *xent, *sgd;
  ax_tensor x, cw, cb, c, r, l, lws, p, pws, fw, fb, f, d, probs, loss, labels;
  ax_tensor dc, dr, dl, dp, df, dd, dcw, dcb, dfw, dfb, v;
} small_net;

static ax_kernel *
prep (ax_op op)
{
  ax_kernel *k = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, &op, &k));
  return k;
}

static ax_tensor
t (ax_shape s)
{
  ax_tensor x = arena_tensor (&mem, s, AX_F32);
  CHECK_OK (be, ax_tensor_fill (&x, 0.1f));
  return x;
}

static int
net_init (small_net *n)
{
  ax_shape in = ax_shape_make (BATCH, 32, 12, 12), c = ax_shape_make (BATCH, 32, 12, 12);
  ax_shape p = ax_shape_make (BATCH, 32, 5, 5), f = ax_shape_make (BATCH, 10, 1, 1);
  n->conv = prep ((ax_op) { .type = AX_OP_CONV, .in = in, .p.conv = { 32, 3, 3, 1, 1, 2, 1 } });
  n->relu = prep ((ax_op) { .type = AX_OP_RELU, .in = c });
  n->lrn = prep ((ax_op) { .type = AX_OP_LRN, .in = c, .p.lrn = AX_LRN_PAPER });
  n->pool = prep ((ax_op) { .type = AX_OP_MAXPOOL, .in = c, .p.pool = { 3, 2, 0 } });
  n->fc = prep ((ax_op) { .type = AX_OP_FC, .in = p, .p.fc = { 10, 1 } });
  n->drop = prep ((ax_op) { .type = AX_OP_DROPOUT, .in = f, .p.dropout = { 0.5f, 1 } });
  n->xent = prep ((ax_op) { .type = AX_OP_SOFTMAX_XENT, .in = f });
  n->sgd = prep ((ax_op) { .type = AX_OP_SGD, .in = ax_shape_make (10, 32, 5, 5) });
  if (!n->conv || !n->relu || !n->lrn || !n->pool || !n->fc || !n->drop
      || !n->xent || !n->sgd)
    return 0;
  ax_shape lws = ax_kernel_workspace_shape (n->lrn), pws = ax_kernel_workspace_shape (n->pool);
  n->x = t (in); n->cw = t (ax_shape_make (32, 16, 3, 3)); n->cb = t (ax_shape_make (32, 1, 1, 1));
  n->c = t (c); n->r = t (c); n->l = t (c); n->p = t (p);
  n->lws = t (ax_shape_count (lws) ? lws : ax_shape_make (1, 1, 1, 1));
  n->pws = t (ax_shape_count (pws) ? pws : ax_shape_make (1, 1, 1, 1));
  n->fw = t (ax_shape_make (10, 32, 5, 5)); n->fb = t (ax_shape_make (10, 1, 1, 1));
  n->f = t (f); n->d = t (f); n->probs = t (f); n->loss = t (ax_shape_make (BATCH, 1, 1, 1));
  n->labels = arena_tensor (&mem, ax_shape_make (BATCH, 1, 1, 1), AX_I32);
  int32_t labels[BATCH];
  for (int i = 0; i < BATCH; i++)
    labels[i] = i % 10;
  CHECK_OK (be, ax_tensor_upload (&n->labels, labels, sizeof labels));
  n->dc = t (c); n->dr = t (c); n->dl = t (c); n->dp = t (p); n->df = t (f); n->dd = t (f);
  n->dcw = t (n->cw.shape); n->dcb = t (n->cb.shape); n->dfw = t (n->fw.shape);
  n->dfb = t (n->fb.shape); n->v = t (n->fw.shape);
  return 1;
}

/* Runs one op and records the bytes it allocated. */
#define OP(is_fc, expr) do {                                              \
    size_t before_ = n_bytes;                                             \
    CHECK_OK (be, expr);                                                  \
    size_t used_ = n_bytes - before_;                                     \
    size_t *peak_ = (is_fc) ? &fc_peak : &other_peak;                     \
    *peak_ = used_ > *peak_ ? used_ : *peak_;                             \
  } while (0)

static void
net_step (small_net *n, uint64_t step)
{
  ax_tensor *lws = ax_shape_count (ax_kernel_workspace_shape (n->lrn)) ? &n->lws : NULL;
  ax_tensor *pws = ax_shape_count (ax_kernel_workspace_shape (n->pool)) ? &n->pws : NULL;
  ax_sgd_step sgd = { 0.01f, 0.9f, 0.0005f };
  OP (0, ax_conv_forward (n->conv, &n->c, &n->x, &n->cw, &n->cb));
  OP (0, ax_relu_forward (n->relu, &n->r, &n->c));
  OP (0, ax_lrn_forward (n->lrn, &n->l, lws, &n->r));
  OP (0, ax_maxpool_forward (n->pool, &n->p, pws, &n->l));
  OP (1, ax_fc_forward (n->fc, &n->f, &n->p, &n->fw, &n->fb));
  OP (0, ax_dropout_forward (n->drop, &n->d, &n->f, 7, step));
  OP (0, ax_softmax_xent_forward (n->xent, &n->loss, &n->probs, &n->d, &n->labels));
  OP (0, ax_softmax_xent_backward (n->xent, &n->dd, &n->probs, &n->labels,
          1.0f / BATCH));
  OP (0, ax_dropout_backward (n->drop, &n->df, &n->dd, 7, step));
  OP (1, ax_fc_backward (n->fc, &n->dp, &n->dfw, &n->dfb, &n->df, &n->p, &n->fw));
  OP (0, ax_maxpool_backward (n->pool, &n->dl, &n->dp, &n->l, &n->p, pws));
  OP (0, ax_lrn_backward (n->lrn, &n->dr, &n->dl, &n->r, &n->l, lws));
  OP (0, ax_relu_backward (n->relu, &n->dc, &n->dr, &n->r));
  OP (0, ax_conv_backward (n->conv, NULL, &n->dcw, &n->dcb, &n->dc, &n->x, &n->cw));
  OP (0, ax_sgd_update (n->sgd, &n->fw, &n->v, &n->dfw, &sgd));
}

static void
test_no_buffers_per_step (void)
{
  small_net n;
  memset (&n, 0, sizeof n);
  if (!net_init (&n))
    return;
  net_step (&n, 0);                       /* warm: thread pools, caches */
  counting = 1;
  for (uint64_t s = 1; s <= 3; s++)
    net_step (&n, s);
  counting = 0;
  printf ("  3 steps of 15 ops: %zu allocations, %zu bytes; most in one call: "
      "%zu bytes (fc), %zu bytes (other ops); one activation is %zu bytes\n",
      n_allocs, n_bytes, fc_peak, other_peak, ax_tensor_bytes (&n.c));
  AX_CHECK (other_peak <= 4096, "only small blocks outside fc: %zu", other_peak);
  AX_CHECK (fc_peak <= (1 << 20), "fc: GEMM packing only: %zu", fc_peak);
  ax_kernel *ks[] = { n.conv, n.relu, n.lrn, n.pool, n.fc, n.drop, n.xent, n.sgd };
  for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
    ax_kernel_release (ks[i]);
}

/* Batch norm in both layouts (blocked, 32 channels; plain, 6): training
 * forward, backward and evaluation allocate only small blocks. */
static void
test_batchnorm_no_buffers (void)
{
  for (int c = 6; c <= 32; c += 26) {
    ax_shape in = ax_shape_make (BATCH, c, 12, 12), ch = ax_shape_make (c, 1, 1, 1);
    ax_kernel *k = prep ((ax_op) { .type = AX_OP_BATCHNORM, .in = in,
          .p.bn = AX_BN_TORCH });
    if (!k)
      return;
    arena_reset (&mem);
    ax_tensor x = t (in), y = t (in), dy = t (in), dx = t (in);
    ax_tensor w = t (ch), b = t (ch), dw = t (ch), db = t (ch), rm = t (ch);
    ax_tensor rv = t (ch), ws = t (ax_kernel_workspace_shape (k));
    other_peak = 0;
    for (int s = 0; s < 4; s++) {
      counting = s > 0;           /* the first: warm */
      OP (0, ax_batchnorm_forward (k, &y, &ws, &rm, &rv, &x, &w, &b, 1));
      OP (0, ax_batchnorm_backward (k, &dx, &dw, &db, &dy, &x, &w, &ws));
      OP (0, ax_batchnorm_forward (k, &y, NULL, &rm, &rv, &x, &w, &b, 0));
    }
    counting = 0;
    printf ("  batch norm, %d channels: most in one call %zu bytes\n", c,
        other_peak);
    AX_CHECK (other_peak <= 4096, "batch norm: only small blocks: %zu",
        other_peak);
    ax_kernel_release (k);
  }
}

/* The adaptive average pool (VGG's pool5 2x2 -> 7x7), forward and
 * backward: the backend's own loop allocates nothing. */
static void
test_avgpool_no_buffers (void)
{
  ax_shape in = ax_shape_make (BATCH, 32, 2, 2);
  ax_kernel *k = prep ((ax_op) { .type = AX_OP_AVGPOOL, .in = in,
        .p.avgpool = { 7, 7 } });
  if (!k)
    return;
  arena_reset (&mem);
  ax_shape out = ax_kernel_shapes (k)->out;
  ax_tensor x = t (in), y = t (out), dy = t (out), dx = t (in);
  size_t before = n_allocs;
  for (int s = 0; s < 4; s++) {
    counting = s > 0;             /* the first: warm */
    OP (0, ax_avgpool_forward (k, &y, &x));
    OP (0, ax_avgpool_backward (k, &dx, &dy));
  }
  counting = 0;
  printf ("  avgpool 2x2 -> 7x7: %zu allocations in 3 steps\n",
      n_allocs - before);
  AX_CHECK (n_allocs == before, "avgpool allocated %zu times",
      n_allocs - before);
  ax_kernel_release (k);
}

int
main (void)
{
  if (ax_cpu_backend_create (0, &be) != AX_OK || !arena_init (&mem, be, 16 << 20))
    return 1;
  AX_RUN (test_no_buffers_per_step);
  AX_RUN (test_batchnorm_no_buffers);
  AX_RUN (test_avgpool_no_buffers);
  ax_slab_free (&mem.slab);
  ax_backend_destroy (be);
  return ax_test_finish ();
}
#endif
