/* Bad arguments return a status and a message, never a crash: mismatched
 * shapes, wrong kernels, NULL tensors, NaN in inputs, logits and gradients,
 * bad labels and parameters, tensors of another backend instance. Also the
 * copy between two instances (the tower exchange) and per-instance threads. */
#include "kernels/cpu/cpu_backend.h"
#include "backend_test_util.h"

#include "kernels/util/rng.h"

#include <math.h>

static ax_backend *be;
static arena mem;

#define CHECK_STATUS(expr, want) do {                                     \
    ax_status got_ = (expr);                                              \
    AX_CHECK (got_ == (want), "%s gave %s", #expr, ax_status_str (got_)); \
    if (got_ == (want) && got_ != AX_OK)                                  \
      printf ("  %-18s %s\n", ax_status_str (got_), ax_backend_last_error (be)); \
  } while (0)

static ax_kernel *
prepare (ax_op op)
{
  ax_kernel *k = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, &op, &k));
  return k;
}

static void
test_bad_op_parameters (void)
{
  ax_kernel *k = NULL;
  ax_op op = { .type = AX_OP_CONV, .in = ax_shape_make (2, 3, 8, 8),
    .p.conv = { 6, 3, 3, 1, 1, 2, 1 } };        /* 3 channels, 2 groups */
  CHECK_STATUS (ax_kernel_prepare (be, &op, &k), AX_ERR_INVALID_ARG);
  op.p.conv = (ax_conv_params) { 6, 13, 13, 4, 2, 1, 1 };  /* kernel > input */
  CHECK_STATUS (ax_kernel_prepare (be, &op, &k), AX_ERR_SHAPE);
  op = (ax_op) { .type = AX_OP_LRN, .in = ax_shape_make (1, 4, 2, 2),
    .p.lrn = { 4, 1e-4, 0.75, 2.0, 0 } };       /* even size */
  CHECK_STATUS (ax_kernel_prepare (be, &op, &k), AX_ERR_INVALID_ARG);
  op = (ax_op) { .type = AX_OP_DROPOUT, .in = ax_shape_make (1, 4, 1, 1),
    .p.dropout = { 1.0f, 0 } };
  CHECK_STATUS (ax_kernel_prepare (be, &op, &k), AX_ERR_INVALID_ARG);
  op = (ax_op) { .type = AX_OP_RELU, .in = ax_shape_make (0, 4, 1, 1) };
  CHECK_STATUS (ax_kernel_prepare (be, &op, &k), AX_ERR_SHAPE);
  op.type = (ax_op_type) 99;
  op.in = ax_shape_make (1, 1, 1, 1);
  CHECK_STATUS (ax_kernel_prepare (be, &op, &k), AX_ERR_INVALID_ARG);
  AX_CHECK (!ax_backend_supports_op (be, &op), "unknown op unsupported");
  AX_CHECK (k == NULL, "no kernel from a failed prepare");
}

static void
test_mismatched_tensors (void)
{
  ax_kernel *k = prepare ((ax_op) { .type = AX_OP_CONV,
        .in = ax_shape_make (2, 4, 8, 8), .p.conv = { 6, 3, 3, 1, 1, 2, 1 } });
  if (!k)
    return;
  arena_reset (&mem);
  ax_tensor x = arena_tensor (&mem, ax_shape_make (2, 4, 8, 8), AX_F32);
  ax_tensor w = arena_tensor (&mem, ax_shape_make (6, 2, 3, 3), AX_F32);
  ax_tensor b = arena_tensor (&mem, ax_shape_make (6, 1, 1, 1), AX_F32);
  ax_tensor y = arena_tensor (&mem, ax_shape_make (2, 6, 8, 8), AX_F32);
  ax_tensor w_full = arena_tensor (&mem, ax_shape_make (6, 4, 3, 3), AX_F32);
  ax_tensor y_small = arena_tensor (&mem, ax_shape_make (2, 6, 7, 8), AX_F32);
  ax_tensor x_i32 = arena_tensor (&mem, ax_shape_make (2, 4, 8, 8), AX_I32);
  CHECK_OK (be, ax_tensor_fill (&x, 0.5f));
  CHECK_OK (be, ax_tensor_fill (&w, 0.5f));
  CHECK_OK (be, ax_tensor_fill (&b, 0.5f));
  CHECK_OK (be, ax_conv_forward (k, &y, &x, &w, &b));
  CHECK_STATUS (ax_conv_forward (k, &y, &x, &w_full, &b), AX_ERR_SHAPE);
  CHECK_STATUS (ax_conv_forward (k, &y_small, &x, &w, &b), AX_ERR_SHAPE);
  CHECK_STATUS (ax_conv_forward (k, &y, &x_i32, &w, &b), AX_ERR_SHAPE);
  CHECK_STATUS (ax_conv_forward (k, &y, NULL, &w, &b), AX_ERR_INVALID_ARG);
  CHECK_STATUS (ax_conv_forward (k, &y, &x, &w, NULL), AX_ERR_INVALID_ARG);
  CHECK_STATUS (ax_fc_forward (k, &y, &x, &w, &b), AX_ERR_INVALID_ARG);
  CHECK_STATUS (ax_conv_forward (NULL, &y, &x, &w, &b), AX_ERR_INVALID_ARG);
  float host[4];
  CHECK_STATUS (ax_tensor_download (host, sizeof host, &x), AX_ERR_SHAPE);
  CHECK_STATUS (ax_tensor_upload (&x, host, sizeof host), AX_ERR_SHAPE);
  ax_tensor outside;
  CHECK_STATUS (ax_tensor_view (&outside, &mem.slab, mem.slab.bytes - 64,
          ax_shape_make (1, 1, 1, 17), AX_F32), AX_ERR_SHAPE);
  CHECK_STATUS (ax_tensor_view (&outside, &mem.slab, 4,
          ax_shape_make (1, 1, 1, 1), AX_F32), AX_ERR_INVALID_ARG);
  ax_kernel_release (k);
}

static void
test_nonfinite (void)
{
  ax_shape s = ax_shape_make (2, 5, 1, 1), per = ax_shape_make (2, 1, 1, 1);
  ax_kernel *xent = prepare ((ax_op) { .type = AX_OP_SOFTMAX_XENT, .in = s });
  ax_kernel *sgd = prepare ((ax_op) { .type = AX_OP_SGD, .in = s });
  if (!xent || !sgd)
    return;
  arena_reset (&mem);
  ax_tensor logits = arena_tensor (&mem, s, AX_F32);
  ax_tensor probs = arena_tensor (&mem, s, AX_F32);
  ax_tensor loss = arena_tensor (&mem, per, AX_F32);
  ax_tensor labels = arena_tensor (&mem, per, AX_I32);
  float bad[10] = { 0, 1, 2, NAN, 4, 5, 6, 7, 8, 9 };
  CHECK_STATUS (ax_tensor_upload (&logits, bad, sizeof bad), AX_ERR_NONFINITE);
  bad[3] = INFINITY;
  CHECK_STATUS (ax_tensor_upload (&logits, bad, sizeof bad), AX_ERR_NONFINITE);
  int32_t y[2] = { 1, 5 };                      /* 5 is out of range */
  CHECK_OK (be, ax_tensor_upload (&labels, y, sizeof y));
  CHECK_OK (be, ax_tensor_fill (&logits, 1.0f));
  CHECK_STATUS (ax_softmax_xent_forward (xent, &loss, &probs, &logits, &labels),
      AX_ERR_INVALID_ARG);
  y[1] = 4;
  CHECK_OK (be, ax_tensor_upload (&labels, y, sizeof y));
  CHECK_OK (be, ax_softmax_xent_forward (xent, &loss, &probs, &logits, &labels));
  CHECK_OK (be, ax_tensor_fill (&logits, NAN)); /* as a diverged net would */
  CHECK_STATUS (ax_tensor_check_finite (&logits), AX_ERR_NONFINITE);
  CHECK_STATUS (ax_softmax_xent_forward (xent, &loss, &probs, &logits, &labels),
      AX_ERR_NONFINITE);
  /* SGD refuses a NaN gradient and leaves the weights alone. */
  ax_tensor w = arena_tensor (&mem, s, AX_F32), v = arena_tensor (&mem, s, AX_F32);
  CHECK_OK (be, ax_tensor_fill (&w, 0.25f));
  CHECK_OK (be, ax_tensor_fill (&v, 0.0f));
  ax_sgd_step step = { 0.01f, 0.9f, 0.0005f };
  CHECK_STATUS (ax_sgd_update (sgd, &w, &v, &logits, &step), AX_ERR_NONFINITE);
  float after[10];
  CHECK_OK (be, ax_tensor_download (after, sizeof after, &w));
  AX_CHECK (after[0] == 0.25f && after[9] == 0.25f, "weights untouched");
  step.lr = NAN;
  CHECK_STATUS (ax_sgd_update (sgd, &w, &v, &probs, &step), AX_ERR_INVALID_ARG);
  ax_kernel_release (xent);
  ax_kernel_release (sgd);
}

/* Random parameters, sensible or not: prepare either succeeds or returns a
 * status, never crashes, and succeeds exactly when the shape rules accept
 * the op (the backend supports everything ops.c accepts). */
static void
test_random_parameters (void)
{
  ax_rng rng;
  ax_rng_seed (&rng, 77);
  int accepted = 0, disagreements = 0;
  for (int i = 0; i < 1500; i++) {
#define R(lo, hi) ((int) ax_rng_below (&rng, (hi) - (lo) + 1) + (lo))
    ax_op op = { .type = (ax_op_type) R (0, 4),
      .in = { R (-1, 3), R (-1, 34), R (-1, 12), R (-1, 12) } };
    op.p.conv = (ax_conv_params) { R (-1, 34), R (-1, 6), R (-1, 6), R (-1, 4),
      R (-1, 3), R (-1, 3), R (0, 1) };
    if (op.type == AX_OP_LRN)
      op.p.lrn = (ax_lrn_params) { R (-1, 7), R (-1, 2) * 1e-3, R (-1, 2) * 0.5,
        R (-1, 2), R (0, 1) };
    else if (op.type == AX_OP_MAXPOOL)
      op.p.pool = (ax_pool_params) { R (-1, 5), R (-1, 3), R (-1, 2) };
    else if (op.type == AX_OP_FC)
      op.p.fc = (ax_fc_params) { R (-1, 9), R (0, 1) };
#undef R
    ax_op_shapes_t shapes;
    ax_kernel *k = NULL;
    int valid = ax_op_shapes (&op, &shapes) == AX_OK;
    ax_status st = ax_kernel_prepare (be, &op, &k);
    if ((st == AX_OK) != valid) {
      disagreements++;
      printf ("  %s %dx%dx%dx%d: shapes %s, prepare %s (%s)\n",
          ax_op_name (op.type), op.in.n, op.in.c, op.in.h, op.in.w,
          valid ? "valid" : "invalid", ax_status_str (st),
          ax_backend_last_error (be));
    }
    accepted += st == AX_OK;
    ax_kernel_release (k);
  }
  printf ("  1500 random ops: %d prepared, %d disagreements\n", accepted,
      disagreements);
  AX_CHECK (disagreements == 0, "prepare agrees with the shape rules");
  AX_CHECK (accepted > 50 && accepted < 1400, "the draw tests both sides");
}

/* Two instances, as two towers: copies between them, and each refuses the
 * other's tensors. */
static void
test_two_instances (void)
{
  ax_backend *other = NULL;
  arena mem2;
  CHECK_OK (be, ax_cpu_backend_create (1, &other));
  if (!other || !arena_init (&mem2, other, 1 << 20))
    return;
  AX_CHECK (ax_cpu_backend_threads (other) == 1, "one thread asked for");
  ax_shape s = ax_shape_make (2, 3, 4, 5);
  arena_reset (&mem);
  ax_tensor a = arena_tensor (&mem, s, AX_F32);
  ax_tensor b = arena_tensor (&mem2, s, AX_F32);
  ax_tensor c = arena_tensor (&mem, s, AX_F32);
  float host[120], back[120];
  for (int i = 0; i < 120; i++)
    host[i] = (float) i * 0.5f;
  CHECK_OK (be, ax_tensor_upload (&a, host, sizeof host));
  CHECK_OK (be, ax_tensor_copy (&b, &a));
  CHECK_OK (be, ax_tensor_copy (&c, &b));
  CHECK_OK (be, ax_tensor_download (back, sizeof back, &c));
  AX_CHECK (memcmp (host, back, sizeof host) == 0, "copied there and back");
  ax_kernel *k = prepare ((ax_op) { .type = AX_OP_RELU, .in = s });
  if (k) {
    CHECK_STATUS (ax_relu_forward (k, &c, &b), AX_ERR_WRONG_BACKEND);
    ax_kernel_release (k);
  }
  ax_slab_free (&mem2.slab);
  ax_backend_destroy (other);
}

/* Host memory for uploads: aligned, usable for an upload, argument errors. */
static void
test_host_alloc (void)
{
  void *p = NULL;
  ax_shape s = ax_shape_make (1, 1, 1, 1000);
  CHECK_OK (be, ax_host_alloc (be, 1000 * sizeof (float), &p));
  AX_CHECK (p != NULL && (uintptr_t) p % AX_ALIGN == 0, "aligned: %p", p);
  if (p) {
    float *v = p, back[1000];
    for (int i = 0; i < 1000; i++)
      v[i] = (float) i;
    arena_reset (&mem);
    ax_tensor t = arena_tensor (&mem, s, AX_F32);
    CHECK_OK (be, ax_tensor_upload (&t, p, 1000 * sizeof (float)));
    CHECK_OK (be, ax_tensor_download (back, sizeof back, &t));
    AX_CHECK (memcmp (v, back, sizeof back) == 0, "uploaded from it");
  }
  ax_host_free (be, p);
  ax_host_free (be, NULL);
  AX_CHECK (ax_host_alloc (be, 0, &p) == AX_ERR_INVALID_ARG, "0 bytes");
  AX_CHECK (ax_host_alloc (NULL, 8, &p) == AX_ERR_INVALID_ARG, "no backend");
  AX_CHECK (ax_host_alloc (be, 8, NULL) == AX_ERR_INVALID_ARG, "no pointer");
}

int
main (void)
{
  if (ax_cpu_backend_create (0, &be) != AX_OK || !arena_init (&mem, be, 1 << 20)) {
    fprintf (stderr, "cannot create the CPU backend\n");
    return 1;
  }
  AX_RUN (test_bad_op_parameters);
  AX_RUN (test_mismatched_tensors);
  AX_RUN (test_nonfinite);
  AX_RUN (test_random_parameters);
  AX_RUN (test_two_instances);
  AX_RUN (test_host_alloc);
  ax_slab_free (&mem.slab);
  ax_backend_destroy (be);
  return ax_test_finish ();
}
