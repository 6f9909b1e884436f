/* The CPU backend against PyTorch: outputs and autograd gradients of conv
 * (11x11/4, grouped 5x5 and 3x3), LRN with the paper's constants, max-pool
 * 3/2, fc, softmax with cross-entropy and three SGD steps, from tests/data/layer_fixture.bin (gen_layer_fixture.py),
 * found through ALEXNET_TEST_DATA. Skips (77) when the fixture is absent. */
#include "kernels/cpu/cpu_backend.h"
#include "backend_test_util.h"
#include "layer_test_util.h"
#include "fixture_util.h"

static ax_fixture fx;
static ax_backend *be;
static arena mem;

/* The record `prefix.field` as float64, checked to hold count(shape). */
static double *
fixture (const char *prefix, const char *field, ax_shape shape)
{
  char name[64];
  snprintf (name, sizeof name, "%s.%s", prefix, field);
  size_t n = ax_shape_count (shape);
  const ax_fixture_record *r = ax_fixture_find (&fx, name);
  if (r) {
    size_t m = r->count;
    AX_CHECK (m == n, "%s holds %zu values, expected %zu", name, m, n);
    double *v = new_zeros (n);
    for (size_t j = 0; j < n && j < m; j++)
      v[j] = r->data[j];
    return v;
  }
  AX_CHECK (0, "%s missing from the fixture", name);
  return new_zeros (n);
}

static ax_tensor
tensor_from (const char *prefix, const char *field, ax_shape shape)
{
  ax_tensor t = arena_tensor (&mem, shape, AX_F32);
  double *v = fixture (prefix, field, shape);
  CHECK_OK (be, upload_doubles (&t, v));
  free (v);
  return t;
}

/* Compares a tensor with the record `prefix.field`. */
static void
compare (const char *prefix, const char *field, const ax_tensor *t)
{
  size_t n = ax_shape_count (t->shape);
  double *want = fixture (prefix, field, t->shape), *got = new_zeros (n);
  CHECK_OK (be, download_doubles (got, t));
  double err = normalised_error (got, want, n), peak = 0.0;
  for (size_t i = 0; i < n; i++)
    peak = fmax (peak, fabs (want[i]));
  printf ("  %s.%s: error %.1e (max |value| %.3g)\n", prefix, field, err, peak);
  AX_CHECK (peak > 0.0, "%s.%s is all zeros: a vacuous comparison", prefix,
      field);
  AX_CHECK (err < 2e-5, "%s.%s error %.1e", prefix, field, err);
  free (want);
  free (got);
}

static void
check_weighted (const char *prefix, const ax_op *op)
{
  ax_kernel *k = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, op, &k));
  if (!k)
    return;
  const ax_op_shapes_t *s = ax_kernel_shapes (k);
  arena_reset (&mem);
  ax_tensor x = tensor_from (prefix, "x", s->in);
  ax_tensor w = tensor_from (prefix, "w", s->weight);
  ax_tensor b = tensor_from (prefix, "b", s->bias);
  ax_tensor gy = tensor_from (prefix, "gy", s->out);
  ax_tensor y = arena_tensor (&mem, s->out, AX_F32);
  ax_tensor gx = arena_tensor (&mem, s->in, AX_F32);
  ax_tensor gw = arena_tensor (&mem, s->weight, AX_F32);
  ax_tensor gb = arena_tensor (&mem, s->bias, AX_F32);
  CHECK_OK (be, ax_tensor_fill (&gw, 0.0f));
  CHECK_OK (be, ax_tensor_fill (&gb, 0.0f));
  int conv = op->type == AX_OP_CONV;
  CHECK_OK (be, (conv ? ax_conv_forward : ax_fc_forward) (k, &y, &x, &w, &b));
  CHECK_OK (be, (conv ? ax_conv_backward : ax_fc_backward) (k, &gx, &gw, &gb,
          &gy, &x, &w));
  compare (prefix, "y", &y);
  compare (prefix, "gx", &gx);
  compare (prefix, "gw", &gw);
  compare (prefix, "gb", &gb);
  ax_kernel_release (k);
}

static void
test_conv_and_fc (void)
{
  ax_op op = { .type = AX_OP_CONV, .in = ax_shape_make (2, 3, 27, 27),
    .p.conv = { 8, 11, 11, 4, 2, 1, 1 } };
  check_weighted ("conv1", &op);
  op.in = ax_shape_make (2, 8, 7, 7);
  op.p.conv = (ax_conv_params) { 12, 5, 5, 1, 2, 2, 1 };
  check_weighted ("conv2", &op);
  op.in = ax_shape_make (3, 6, 5, 5);
  op.p.conv = (ax_conv_params) { 6, 3, 3, 1, 1, 2, 1 };
  check_weighted ("conv4", &op);
  op = (ax_op) { .type = AX_OP_FC, .in = ax_shape_make (4, 8, 3, 3),
    .p.fc = { 10, 1 } };
  check_weighted ("fc", &op);
}

static void
check_lrn_or_pool (const char *prefix, const ax_op *op)
{
  ax_kernel *k = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, op, &k));
  if (!k)
    return;
  const ax_op_shapes_t *s = ax_kernel_shapes (k);
  ax_shape ws_shape = ax_kernel_workspace_shape (k);
  arena_reset (&mem);
  ax_tensor x = tensor_from (prefix, "x", s->in);
  ax_tensor gy = tensor_from (prefix, "gy", s->out);
  ax_tensor y = arena_tensor (&mem, s->out, AX_F32);
  ax_tensor gx = arena_tensor (&mem, s->in, AX_F32);
  ax_tensor wst, *ws = NULL;
  if (ax_shape_count (ws_shape)) {
    wst = arena_tensor (&mem, ws_shape, AX_F32);
    ws = &wst;
  }
  if (op->type == AX_OP_LRN) {
    CHECK_OK (be, ax_lrn_forward (k, &y, ws, &x));
    CHECK_OK (be, ax_lrn_backward (k, &gx, &gy, &x, &y, ws));
  } else {
    CHECK_OK (be, ax_maxpool_forward (k, &y, ws, &x));
    CHECK_OK (be, ax_maxpool_backward (k, &gx, &gy, &x, &y, ws));
  }
  compare (prefix, "y", &y);
  compare (prefix, "gx", &gx);
  ax_kernel_release (k);
}

static void
test_lrn_and_pool (void)
{
  /* The paper's constants, alpha not divided: PyTorch got alpha = 5e-4. */
  ax_op op = { .type = AX_OP_LRN, .in = ax_shape_make (2, 9, 5, 5),
    .p.lrn = AX_LRN_PAPER };
  check_lrn_or_pool ("lrn", &op);
  op = (ax_op) { .type = AX_OP_MAXPOOL, .in = ax_shape_make (2, 4, 13, 13),
    .p.pool = { 3, 2, 0 } };
  check_lrn_or_pool ("pool", &op);
}

static void
test_softmax_xent (void)
{
  ax_shape s = ax_shape_make (4, 10, 1, 1), per = ax_shape_make (4, 1, 1, 1);
  ax_op op = { .type = AX_OP_SOFTMAX_XENT, .in = s };
  ax_kernel *k = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, &op, &k));
  if (!k)
    return;
  arena_reset (&mem);
  ax_tensor x = tensor_from ("xent", "x", s);
  ax_tensor probs = arena_tensor (&mem, s, AX_F32), gx = arena_tensor (&mem, s, AX_F32);
  ax_tensor losses = arena_tensor (&mem, per, AX_F32);
  ax_tensor labels = arena_tensor (&mem, per, AX_I32);
  ax_shape one = ax_shape_make (1, 1, 1, 1);
  double *lf = fixture ("xent", "labels", per), *want = fixture ("xent", "y", one);
  double *gy = fixture ("xent", "gy", one), l[4];
  int32_t li[4];
  for (int i = 0; i < 4; i++)
    li[i] = (int32_t) lf[i];
  CHECK_OK (be, ax_tensor_upload (&labels, li, sizeof li));
  CHECK_OK (be, ax_softmax_xent_forward (k, &losses, &probs, &x, &labels));
  /* The upstream gradient of the mean loss scales the logits' gradient. */
  CHECK_OK (be, ax_softmax_xent_backward (k, &gx, &probs, &labels,
          (float) (gy[0] / 4)));
  CHECK_OK (be, download_doubles (l, &losses));
  double mean = (l[0] + l[1] + l[2] + l[3]) / 4;
  printf ("  xent.y: %.7f vs %.7f\n", mean, want[0]);
  AX_CHECK_CLOSE (mean, want[0], 1e-6, 1e-6);
  compare ("xent", "gx", &gx);
  ax_kernel_release (k);
  free (lf);
  free (want);
  free (gy);
}

static void
test_sgd (void)
{
  ax_shape s = ax_shape_make (5, 7, 1, 1);
  ax_op op = { .type = AX_OP_SGD, .in = s };
  ax_kernel *k = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, &op, &k));
  if (!k)
    return;
  arena_reset (&mem);
  ax_tensor w = tensor_from ("sgd", "w0", s);
  ax_tensor v = arena_tensor (&mem, s, AX_F32), g = arena_tensor (&mem, s, AX_F32);
  double *grads = fixture ("sgd", "g", ax_shape_make (3, 5, 7, 1));
  ax_sgd_step step = { 0.01f, 0.9f, 0.0005f };
  CHECK_OK (be, ax_tensor_fill (&v, 0.0f));
  for (int i = 0; i < 3; i++) {
    CHECK_OK (be, upload_doubles (&g, grads + i * 35));
    CHECK_OK (be, ax_sgd_update (k, &w, &v, &g, &step));
  }
  compare ("sgd", "w3", &w);
  ax_kernel_release (k);
  free (grads);
}

int
main (void)
{
  const char *dir = getenv ("ALEXNET_TEST_DATA");
  char path[4096];
  snprintf (path, sizeof path, "%s/layer_fixture.bin", dir ? dir : ".");
  if (!ax_fixture_load (&fx, path)) {
    printf ("SKIP: no readable fixture at %s\n", path);
    return 77;
  }
  if (ax_cpu_backend_create (0, &be) != AX_OK || !arena_init (&mem, be, 8 << 20))
    return 1;
  AX_RUN (test_conv_and_fc);
  AX_RUN (test_lrn_and_pool);
  AX_RUN (test_softmax_xent);
  AX_RUN (test_sgd);
  ax_slab_free (&mem.slab);
  ax_backend_destroy (be);
  ax_fixture_free (&fx);
  return ax_test_finish ();
}
