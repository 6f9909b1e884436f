/* The CPU backend's hand-written layers: dropout (reproducible masks, rate
 * and scale, backward = same mask), softmax with cross-entropy (against the
 * reference and a worked example) and the paper's SGD update. */
#include "kernels/cpu/cpu_backend.h"
#include "kernels/backend/layer_math.h"
#include "tests/ref/ref_layers.h"
#include "backend_test_util.h"
#include "layer_test_util.h"

static ax_backend *be;
static arena mem;

static ax_kernel *
prepare (ax_op op)
{
  ax_kernel *k = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, &op, &k));
  return k;
}

/* --- dropout --- */

static void
dropout_run (ax_kernel *k, ax_tensor *y, const ax_tensor *x, uint64_t seed,
    uint64_t step, double *out)
{
  CHECK_OK (be, ax_dropout_forward (k, y, x, seed, step));
  CHECK_OK (be, download_doubles (out, y));
}

static void
test_dropout (void)
{
  ax_shape s = ax_shape_make (8, 4096, 1, 1);
  size_t n = ax_shape_count (s);
  ax_kernel *k = prepare ((ax_op) { .type = AX_OP_DROPOUT, .in = s,
        .p.dropout = { 0.5f, 6 } });
  if (!k)
    return;
  arena_reset (&mem);
  ax_tensor x = arena_tensor (&mem, s, AX_F32), y = arena_tensor (&mem, s, AX_F32);
  double *in = new_uniform (n, 0.5, 1.5), *a = new_zeros (n), *b = new_zeros (n);
  double *ref = new_zeros (n);
  CHECK_OK (be, upload_doubles (&x, in));

  dropout_run (k, &y, &x, 42, 7, a);
  dropout_run (k, &y, &x, 42, 7, b);
  AX_CHECK (memcmp (a, b, n * sizeof *a) == 0, "same seed and step, same mask");
  ref_dropout (ref, in, n, ax_dropout_key (42, 7, 6), 0.5f);
  AX_CHECK (normalised_error (a, ref, n) == 0.0, "the reference's mask");

  size_t dropped = 0, exact = 0;
  for (size_t i = 0; i < n; i++) {
    dropped += a[i] == 0.0;
    exact += a[i] == 0.0 || a[i] == (double) ((float) in[i] * 2.0f);
  }
  double rate = (double) dropped / n;
  printf ("  dropout p=0.5: dropped %.4f of %zu, kept ones scaled by 2\n",
      rate, n);
  AX_CHECK (fabs (rate - 0.5) < 0.01, "rate %.4f", rate);
  AX_CHECK (exact == n, "kept values are exactly doubled");

  dropout_run (k, &y, &x, 42, 8, b);
  size_t same = 0;
  for (size_t i = 0; i < n; i++)
    same += (a[i] == 0.0) == (b[i] == 0.0);
  AX_CHECK (same < n * 0.6, "another step draws another mask (%zu same)", same);

  /* Backward of a gradient of ones: the mask times 2, where forward kept. */
  ax_tensor dy = arena_tensor (&mem, s, AX_F32), dx = arena_tensor (&mem, s, AX_F32);
  CHECK_OK (be, ax_tensor_fill (&dy, 1.0f));
  CHECK_OK (be, ax_dropout_backward (k, &dx, &dy, 42, 7));
  CHECK_OK (be, download_doubles (b, &dx));
  size_t agree = 0;
  for (size_t i = 0; i < n; i++)
    agree += b[i] == (a[i] != 0.0 ? 2.0 : 0.0);
  AX_CHECK (agree == n, "backward uses forward's mask (%zu of %zu)", agree, n);
  ax_kernel_release (k);
  free (in); free (a); free (b); free (ref);
}

/* --- softmax with cross-entropy --- */

static void
test_softmax_xent_example (void)
{
  /* logits (1, 2, 3), label 2: loss = log(e + e^2 + e^3) - 3. */
  ax_shape s = ax_shape_make (1, 3, 1, 1);
  ax_kernel *k = prepare ((ax_op) { .type = AX_OP_SOFTMAX_XENT, .in = s });
  if (!k)
    return;
  arena_reset (&mem);
  ax_tensor logits = arena_tensor (&mem, s, AX_F32);
  ax_tensor probs = arena_tensor (&mem, s, AX_F32);
  ax_tensor dlogits = arena_tensor (&mem, s, AX_F32);
  ax_tensor loss = arena_tensor (&mem, ax_shape_make (1, 1, 1, 1), AX_F32);
  ax_tensor label = arena_tensor (&mem, ax_shape_make (1, 1, 1, 1), AX_I32);
  float x[3] = { 1, 2, 3 }, l, p[3], d[3];
  int32_t y = 2;
  CHECK_OK (be, ax_tensor_upload (&logits, x, sizeof x));
  CHECK_OK (be, ax_tensor_upload (&label, &y, sizeof y));
  CHECK_OK (be, ax_softmax_xent_forward (k, &loss, &probs, &logits, &label));
  CHECK_OK (be, ax_softmax_xent_backward (k, &dlogits, &probs, &label, 1.0f));
  CHECK_OK (be, ax_tensor_download (&l, sizeof l, &loss));
  CHECK_OK (be, ax_tensor_download (p, sizeof p, &probs));
  CHECK_OK (be, ax_tensor_download (d, sizeof d, &dlogits));
  double z = exp (1) + exp (2) + exp (3);
  AX_CHECK_CLOSE (l, log (z) - 3, 1e-6, 1e-6);
  AX_CHECK_CLOSE (p[0], exp (1) / z, 1e-7, 1e-6);
  AX_CHECK_CLOSE (d[2], exp (3) / z - 1, 1e-7, 1e-6);
  AX_CHECK_CLOSE (d[1], exp (2) / z, 1e-7, 1e-6);
  ax_kernel_release (k);
}

static void
test_softmax_xent_random (void)
{
  int batch = 16, classes = 1000;
  ax_shape s = ax_shape_make (batch, classes, 1, 1), per = ax_shape_make (batch, 1, 1, 1);
  ax_kernel *k = prepare ((ax_op) { .type = AX_OP_SOFTMAX_XENT, .in = s });
  if (!k)
    return;
  arena_reset (&mem);
  ax_tensor logits = arena_tensor (&mem, s, AX_F32);
  ax_tensor probs = arena_tensor (&mem, s, AX_F32);
  ax_tensor dlogits = arena_tensor (&mem, s, AX_F32);
  ax_tensor loss = arena_tensor (&mem, per, AX_F32);
  ax_tensor label = arena_tensor (&mem, per, AX_I32);
  size_t n = (size_t) batch * classes;
  double *x = new_uniform (n, -20, 20), *p = new_zeros (n), *d = new_zeros (n);
  double *l = new_zeros (batch), *rp = new_zeros (n), *rd = new_zeros (n);
  double *rl = new_zeros (batch);
  int32_t y[16];
  for (int i = 0; i < batch; i++)
    y[i] = (int32_t) ax_rng_below (&test_rng, classes);
  CHECK_OK (be, upload_doubles (&logits, x));
  CHECK_OK (be, ax_tensor_upload (&label, y, sizeof y));
  CHECK_OK (be, ax_softmax_xent_forward (k, &loss, &probs, &logits, &label));
  CHECK_OK (be, ax_softmax_xent_backward (k, &dlogits, &probs, &label,
          1.0f / batch));
  CHECK_OK (be, download_doubles (l, &loss));
  CHECK_OK (be, download_doubles (p, &probs));
  CHECK_OK (be, download_doubles (d, &dlogits));
  ref_softmax_xent_forward (rl, rp, x, y, batch, classes);
  ref_softmax_xent_backward (rd, rp, y, batch, classes, 1.0 / batch);
  double el = normalised_error (l, rl, batch), ep = normalised_error (p, rp, n);
  double ed = normalised_error (d, rd, n);
  printf ("  softmax-xent 16x1000: error loss %.1e probs %.1e grad %.1e\n",
      el, ep, ed);
  AX_CHECK (el < 1e-5 && ep < 1e-5 && ed < 1e-5, "softmax-xent vs reference");
  ax_kernel_release (k);
  free (x); free (p); free (d); free (l); free (rp); free (rd); free (rl);
}

/* --- SGD --- */

static void
test_sgd (void)
{
  ax_shape s = ax_shape_make (96, 3, 11, 11);
  size_t n = ax_shape_count (s);
  ax_kernel *k = prepare ((ax_op) { .type = AX_OP_SGD, .in = s });
  if (!k)
    return;
  arena_reset (&mem);
  ax_tensor w = arena_tensor (&mem, s, AX_F32), v = arena_tensor (&mem, s, AX_F32);
  ax_tensor g = arena_tensor (&mem, s, AX_F32);
  double *rw = new_uniform (n, -0.05, 0.05), *rv = new_zeros (n), *rg = new_zeros (n);
  double *out_w = new_zeros (n), *out_v = new_zeros (n);
  CHECK_OK (be, upload_doubles (&w, rw));
  CHECK_OK (be, ax_tensor_fill (&v, 0.0f));
  ax_sgd_step step = { 0.01f, 0.9f, 0.0005f };
  for (int t = 0; t < 5; t++) {
    fill_uniform (rg, n, -1, 1);
    CHECK_OK (be, upload_doubles (&g, rg));
    CHECK_OK (be, ax_sgd_update (k, &w, &v, &g, &step));
    ref_sgd_update (rw, rv, rg, n, 0.01, 0.9, 0.0005);
  }
  CHECK_OK (be, download_doubles (out_w, &w));
  CHECK_OK (be, download_doubles (out_v, &v));
  double ew = normalised_error (out_w, rw, n), ev = normalised_error (out_v, rv, n);
  printf ("  sgd 5 steps: error w %.1e v %.1e\n", ew, ev);
  AX_CHECK (ew < 1e-5 && ev < 1e-5, "sgd vs formula");
  /* One step by hand: w=1, v=0.5, g=2: v = 0.45 - 5e-6 - 0.02; w = 1 + v. */
  float one_w = 1.0f, one_v = 0.5f;
  ax_sgd_element (&one_w, &one_v, 2.0f, 0.01f, 0.9f, 0.0005f);
  AX_CHECK_CLOSE (one_v, 0.45 - 0.000005 - 0.02, 1e-7, 0);
  AX_CHECK_CLOSE (one_w, 1.0 + 0.45 - 0.000005 - 0.02, 1e-7, 0);
  ax_kernel_release (k);
  free (rw); free (rv); free (rg); free (out_w); free (out_v);
}

int
main (void)
{
  ax_rng_seed (&test_rng, 2012);
  if (ax_cpu_backend_create (0, &be) != AX_OK || !arena_init (&mem, be, 16 << 20)) {
    fprintf (stderr, "cannot create the CPU backend\n");
    return 1;
  }
  AX_RUN (test_dropout);
  AX_RUN (test_softmax_xent_example);
  AX_RUN (test_softmax_xent_random);
  AX_RUN (test_sgd);
  ax_slab_free (&mem.slab);
  ax_backend_destroy (be);
  return ax_test_finish ();
}
