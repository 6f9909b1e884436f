/* The CPU backend's oneDNN layers against the float64 references: forward
 * outputs, data gradients and accumulated parameter gradients of conv (with
 * groups), fc, ReLU, LRN (paper and Caffe constants), max-pool 3/2 and
 * batch norm (training and evaluation, plain and blocked layouts); and its
 * own loop for the adaptive average pool (down, up and the identity). */
#include "kernels/cpu/cpu_backend.h"
#include "tests/ref/ref_layers.h"
#include "backend_test_util.h"
#include "layer_test_util.h"

static ax_backend *be;
static arena mem;

#define TOL 2e-5

/* --- conv and fc: forward, backward data, accumulated weight gradients --- */

typedef struct {
  ax_shape in, out, weight, bias;
  double *x, *w, *b, *dout, *dw0, *db0;  /* inputs, and the gradients' start */
} weighted_data;

static void
weighted_data_init (weighted_data *d, const ax_op_shapes_t *s)
{
  d->in = s->in; d->out = s->out; d->weight = s->weight; d->bias = s->bias;
  d->x = new_uniform (ax_shape_count (s->in), -1, 1);
  d->w = new_uniform (ax_shape_count (s->weight), -1, 1);
  d->b = new_uniform (ax_shape_count (s->bias), -1, 1);
  d->dout = new_uniform (ax_shape_count (s->out), -1, 1);
  d->dw0 = new_uniform (ax_shape_count (s->weight), -1, 1);
  d->db0 = new_uniform (ax_shape_count (s->bias), -1, 1);
}

static void
weighted_data_clear (weighted_data *d)
{
  free (d->x); free (d->w); free (d->b); free (d->dout); free (d->dw0);
  free (d->db0);
}

/* Runs the op on the backend; fills out, din, dw, db (host arrays). */
static void
run_weighted (const ax_op *op, const weighted_data *d, double *out,
    double *din, double *dw, double *db)
{
  ax_kernel *k = NULL;
  int has_bias = ax_shape_count (d->bias) > 0;
  CHECK_OK (be, ax_kernel_prepare (be, op, &k));
  if (!k)
    return;
  arena_reset (&mem);
  ax_tensor x = arena_tensor (&mem, d->in, AX_F32);
  ax_tensor w = arena_tensor (&mem, d->weight, AX_F32);
  ax_tensor y = arena_tensor (&mem, d->out, AX_F32);
  ax_tensor dy = arena_tensor (&mem, d->out, AX_F32);
  ax_tensor dx = arena_tensor (&mem, d->in, AX_F32);
  ax_tensor dwt = arena_tensor (&mem, d->weight, AX_F32);
  ax_tensor b, dbt;
  if (has_bias) {
    b = arena_tensor (&mem, d->bias, AX_F32);
    dbt = arena_tensor (&mem, d->bias, AX_F32);
    CHECK_OK (be, upload_doubles (&b, d->b));
    CHECK_OK (be, upload_doubles (&dbt, d->db0));
  }
  CHECK_OK (be, upload_doubles (&x, d->x));
  CHECK_OK (be, upload_doubles (&w, d->w));
  CHECK_OK (be, upload_doubles (&dy, d->dout));
  CHECK_OK (be, upload_doubles (&dwt, d->dw0));
  int conv = op->type == AX_OP_CONV;
  CHECK_OK (be, (conv ? ax_conv_forward : ax_fc_forward) (k, &y, &x, &w,
          has_bias ? &b : NULL));
  CHECK_OK (be, (conv ? ax_conv_backward : ax_fc_backward) (k, &dx, &dwt,
          has_bias ? &dbt : NULL, &dy, &x, &w));
  CHECK_OK (be, download_doubles (out, &y));
  CHECK_OK (be, download_doubles (din, &dx));
  CHECK_OK (be, download_doubles (dw, &dwt));
  if (has_bias)
    CHECK_OK (be, download_doubles (db, &dbt));
  ax_kernel_release (k);
}

/* check_weighted's tolerance: TOL, but Winograd's (test_conv) */
static double weighted_tol = TOL;

static void
check_weighted (const ax_op *op, const char *label)
{
  ax_op_shapes_t s;
  AX_CHECK (ax_op_shapes (op, &s) == AX_OK, "%s: shapes", label);
  weighted_data d;
  weighted_data_init (&d, &s);
  size_t n_in = ax_shape_count (s.in), n_out = ax_shape_count (s.out);
  size_t n_w = ax_shape_count (s.weight), n_b = ax_shape_count (s.bias);
  double *out = new_zeros (n_out), *din = new_zeros (n_in);
  double *dw = new_zeros (n_w), *db = new_zeros (n_b);
  double *r_out = new_zeros (n_out), *r_din = new_zeros (n_in);
  double *r_dw = new_zeros (n_w), *r_db = new_zeros (n_b);
  memcpy (r_dw, d.dw0, n_w * sizeof (double));
  memcpy (r_db, d.db0, n_b * sizeof (double));
  const double *b = n_b ? d.b : NULL;
  if (op->type == AX_OP_CONV) {
    ref_conv_forward (r_out, d.x, d.w, b, s.in, &op->p.conv);
    ref_conv_backward (r_din, r_dw, n_b ? r_db : NULL, d.dout, d.x, d.w, s.in,
        &op->p.conv);
  } else {
    int in_f = s.in.c * s.in.h * s.in.w;
    ref_fc_forward (r_out, d.x, d.w, b, s.in.n, in_f, s.out.c);
    ref_fc_backward (r_din, r_dw, n_b ? r_db : NULL, d.dout, d.x, d.w, s.in.n,
        in_f, s.out.c);
  }
  run_weighted (op, &d, out, din, dw, db);
  double e_out = normalised_error (out, r_out, n_out);
  double e_in = normalised_error (din, r_din, n_in);
  double e_w = normalised_error (dw, r_dw, n_w);
  double e_b = n_b ? normalised_error (db, r_db, n_b) : 0.0;
  printf ("  %s: error out %.1e din %.1e dw %.1e db %.1e\n", label, e_out,
      e_in, e_w, e_b);
  AX_CHECK (e_out < weighted_tol && e_in < weighted_tol && e_w < weighted_tol
      && e_b < weighted_tol, "%s: tolerance %.0e", label, weighted_tol);
  weighted_data_clear (&d);
  free (out); free (din); free (dw); free (db);
  free (r_out); free (r_din); free (r_dw); free (r_db);
}

static void
conv_cases (const char *layout)
{
  static const struct {
    ax_shape in;
    ax_conv_params p;
    const char *what;
  } cases[] = {
    { { 2, 4, 9, 9 }, { 6, 3, 3, 1, 1, 2, 1 }, "3x3 pad 1 groups 2" },
    { { 2, 3, 23, 23 }, { 8, 11, 11, 4, 2, 1, 1 }, "11x11 stride 4 pad 2" },
    { { 3, 6, 7, 5 }, { 4, 3, 5, 2, 0, 2, 0 }, "3x5 stride 2 odd groups 2 no bias" },
    { { 2, 8, 6, 6 }, { 10, 5, 5, 1, 2, 2, 1 }, "5x5 pad 2 groups 2" },
    { { 2, 32, 7, 7 }, { 32, 3, 3, 1, 1, 2, 1 }, "3x3 32 maps groups 2" },
    { { 2, 16, 9, 9 }, { 48, 5, 5, 1, 2, 1, 1 }, "5x5 16 -> 48 maps" },
    { { 4, 8, 10, 10 }, { 8, 3, 3, 1, 1, 1, 1 }, "3x3 8 maps, batch 4" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ax_op op = { .type = AX_OP_CONV, .in = cases[i].in, .p.conv = cases[i].p };
    char label[128];
    snprintf (label, sizeof label, "conv %s, %s", cases[i].what, layout);
    check_weighted (&op, label);
  }
}

/* Both ways the CPU backend runs convolutions must agree with the reference. */
static void
test_conv (void)
{
  ax_cpu_backend_set_blocked_conv (be, 1);
  ax_cpu_backend_set_conv_algo (be, AX_CONV_ALGO_DIRECT);
  conv_cases ("blocked");
  /* on the smallest parts of the batch there are (one image each), whose
   * layout copies are that much smaller: a part's copies are the fixed
   * ones (the weights, padded to the ISA's channel blocks) and one image's,
   * both read off whole batches of 4 and 8 */
  ax_op op = { .type = AX_OP_CONV, .in = { 4, 8, 10, 10 },
    .p.conv = { 8, 3, 3, 1, 1, 1, 1 } };
  ax_op op8 = op;
  op8.in.n = 8;
  ax_kernel *whole = NULL, *whole8 = NULL, *part = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, &op, &whole));
  CHECK_OK (be, ax_kernel_prepare (be, &op8, &whole8));
  ax_cpu_backend_set_chunk_bytes (be, 1);
  CHECK_OK (be, ax_kernel_prepare (be, &op, &part));
  size_t tw = ax_kernel_temp_bytes (whole), tp = ax_kernel_temp_bytes (part);
  size_t t8 = ax_kernel_temp_bytes (whole8);
  size_t image = t8 > tw ? (t8 - tw) / 4 : 0;
  size_t fixed = tw > 4 * image ? tw - 4 * image : 0;
  printf ("  layout copies of a batch of 4: %zu bytes (%zu fixed, %zu per "
      "image), of its parts %zu\n", tw, fixed, image, tp);
  AX_CHECK (image > 0 && tp > 0 && tp < tw && tp <= fixed + image,
      "parts' copies %zu, whole %zu, fixed %zu + %zu per image", tp, tw,
      fixed, image);
  ax_kernel_release (whole);
  ax_kernel_release (whole8);
  ax_kernel_release (part);
  conv_cases ("blocked, the batch in parts");
  ax_cpu_backend_set_chunk_bytes (be, 0);
  ax_cpu_backend_set_blocked_conv (be, 0);
  conv_cases ("plain");
  ax_cpu_backend_set_blocked_conv (be, 1);
  /* Winograd F(4x4, 3x3) for the 3x3 stride-1 ungrouped cases (the others
   * stay direct): 1e-4 of the float64 reference where oneDNN has it on
   * this processor (AVX-512); elsewhere forcing it is a clear error */
  ax_cpu_backend_set_conv_algo (be, AX_CONV_ALGO_WINOGRAD);
  ax_kernel *w = NULL;
  ax_status st = ax_kernel_prepare (be, &op, &w);
  if (st == AX_OK) {
    ax_kernel_release (w);
    weighted_tol = 1e-4;
    conv_cases ("blocked, winograd");
    weighted_tol = TOL;
  } else {
    const char *why = ax_backend_last_error (be);
    printf ("  winograd: not on this processor, refused: %s\n", why);
    AX_CHECK (st == AX_ERR_UNSUPPORTED && strstr (why, "winograd"),
        "forced winograd: %s (%s)", ax_status_str (st), why);
  }
  ax_cpu_backend_set_conv_algo (be, AX_CONV_ALGO_AUTO);
}

static void
test_fc (void)
{
  ax_op op = { .type = AX_OP_FC, .in = ax_shape_make (3, 5, 3, 3),
    .p.fc = { 7, 1 } };
  check_weighted (&op, "fc 5x3x3 -> 7");
  op.in = ax_shape_make (4, 33, 1, 1);
  op.p.fc = (ax_fc_params) { 10, 0 };
  check_weighted (&op, "fc 33 -> 10 no bias");
  /* VGG's classifier narrowed: a batch of 16 from 64 maps of 7x7 */
  op.in = ax_shape_make (16, 64, 7, 7);
  op.p.fc = (ax_fc_params) { 512, 1 };
  check_weighted (&op, "fc 64x7x7 -> 512, batch 16");
}

/* --- ReLU, LRN, max-pool: one input, one output, maybe a workspace --- */

static void
run_unary (ax_kernel *k, const double *x, const double *dout, double *out,
    double *din)
{
  const ax_op_shapes_t *s = ax_kernel_shapes (k);
  ax_shape ws_shape = ax_kernel_workspace_shape (k);
  arena_reset (&mem);
  ax_tensor tx = arena_tensor (&mem, s->in, AX_F32);
  ax_tensor ty = arena_tensor (&mem, s->out, AX_F32);
  ax_tensor tdy = arena_tensor (&mem, s->out, AX_F32);
  ax_tensor tdx = arena_tensor (&mem, s->in, AX_F32);
  ax_tensor tws, *ws = NULL;
  if (ax_shape_count (ws_shape)) {
    tws = arena_tensor (&mem, ws_shape, AX_F32);
    ws = &tws;
  }
  CHECK_OK (be, upload_doubles (&tx, x));
  CHECK_OK (be, upload_doubles (&tdy, dout));
  switch (ax_kernel_op (k)->type) {
    case AX_OP_RELU:
      CHECK_OK (be, ax_relu_forward (k, &ty, &tx));
      CHECK_OK (be, ax_relu_backward (k, &tdx, &tdy, &ty));
      break;
    case AX_OP_LRN:
      CHECK_OK (be, ax_lrn_forward (k, &ty, ws, &tx));
      CHECK_OK (be, ax_lrn_backward (k, &tdx, &tdy, &tx, &ty, ws));
      break;
    case AX_OP_AVGPOOL:
      CHECK_OK (be, ax_avgpool_forward (k, &ty, &tx));
      CHECK_OK (be, ax_avgpool_backward (k, &tdx, &tdy));
      break;
    default:
      CHECK_OK (be, ax_maxpool_forward (k, &ty, ws, &tx));
      CHECK_OK (be, ax_maxpool_backward (k, &tdx, &tdy, &tx, &ty, ws));
      break;
  }
  CHECK_OK (be, download_doubles (out, &ty));
  CHECK_OK (be, download_doubles (din, &tdx));
}

/* Backend against reference; returns the forward output for more checks. */
static double *
check_unary (const ax_op *op, double lo, double hi, const char *label)
{
  ax_op_shapes_t s;
  ax_kernel *k = NULL;
  AX_CHECK (ax_op_shapes (op, &s) == AX_OK, "%s: shapes", label);
  CHECK_OK (be, ax_kernel_prepare (be, op, &k));
  size_t n_in = ax_shape_count (s.in), n_out = ax_shape_count (s.out);
  double *x = new_uniform (n_in, lo, hi), *dout = new_uniform (n_out, -1, 1);
  double *out = new_zeros (n_out), *din = new_zeros (n_in);
  double *r_out = new_zeros (n_out), *r_din = new_zeros (n_in);
  if (k)
    run_unary (k, x, dout, out, din);
  switch (op->type) {
    case AX_OP_RELU:
      ref_relu_forward (r_out, x, n_in);
      ref_relu_backward (r_din, dout, r_out, n_in);
      break;
    case AX_OP_LRN:
      ref_lrn_forward (r_out, x, s.in, &op->p.lrn);
      ref_lrn_backward (r_din, dout, x, s.in, &op->p.lrn);
      break;
    case AX_OP_AVGPOOL:
      ref_avgpool_forward (r_out, x, s.in, op->p.avgpool.out_h,
          op->p.avgpool.out_w);
      ref_avgpool_backward (r_din, dout, s.in, op->p.avgpool.out_h,
          op->p.avgpool.out_w);
      break;
    default:
      ref_maxpool_forward (r_out, x, s.in, &op->p.pool);
      ref_maxpool_backward (r_din, dout, x, s.in, &op->p.pool);
      break;
  }
  double e_out = normalised_error (out, r_out, n_out);
  double e_in = normalised_error (din, r_din, n_in);
  printf ("  %s: error out %.1e din %.1e\n", label, e_out, e_in);
  AX_CHECK (e_out < TOL && e_in < TOL, "%s", label);
  ax_kernel_release (k);
  free (x); free (dout); free (din); free (r_out); free (r_din);
  return out;
}

static void
test_relu (void)
{
  ax_op op = { .type = AX_OP_RELU, .in = ax_shape_make (2, 3, 5, 7) };
  free (check_unary (&op, -1, 1, "relu"));
}

static void
test_lrn (void)
{
  /* Inputs up to 30 so that alpha * sum a^2 is comparable to k, and the
   * two conventions for alpha give visibly different outputs. */
  ax_op op = { .type = AX_OP_LRN, .in = ax_shape_make (2, 9, 5, 3) };
  ax_rng saved = test_rng;
  op.p.lrn = AX_LRN_PAPER;
  double *paper = check_unary (&op, -30, 30, "lrn paper k=2 n=5 alpha=1e-4");
  test_rng = saved;
  op.p.lrn = AX_LRN_PAPER;
  op.p.lrn.alpha_divided_by_size = 1;
  double *divided = check_unary (&op, -30, 30, "lrn alpha divided by n");
  size_t n = ax_shape_count (op.in);
  double diff = normalised_error (paper, divided, n);
  printf ("  paper vs divided alpha differ by %.1e\n", diff);
  AX_CHECK (diff > 1e-2, "the alpha convention must matter for this input");
  op.p.lrn = AX_LRN_CAFFE;
  free (check_unary (&op, -30, 30, "lrn caffe k=1 alpha/n"));
  op.p.lrn = (ax_lrn_params) { 3, 0.5, 0.75, 1.0, 0 };
  free (check_unary (&op, -3, 3, "lrn size 3 strong alpha"));
  /* 32 maps: the backend runs oneDNN's JIT LRN in a blocked layout. */
  op.in = ax_shape_make (2, 32, 6, 5);
  op.p.lrn = AX_LRN_PAPER;
  free (check_unary (&op, -30, 30, "lrn paper, 32 maps (blocked)"));
  op.p.lrn = AX_LRN_CAFFE;
  free (check_unary (&op, -30, 30, "lrn caffe, 32 maps (blocked)"));
  free (paper);
  free (divided);
}

static void
test_maxpool (void)
{
  ax_op op = { .type = AX_OP_MAXPOOL, .in = ax_shape_make (2, 3, 13, 13),
    .p.pool = { 3, 2, 0 } };
  free (check_unary (&op, -1, 1, "maxpool 3/2 13 -> 6"));
  op.in = ax_shape_make (3, 2, 8, 11);
  op.p.pool = (ax_pool_params) { 3, 2, 1 };
  free (check_unary (&op, -1, 1, "maxpool 3/2 pad 1 odd sizes"));
  op.in = ax_shape_make (2, 4, 55, 55);
  op.p.pool = (ax_pool_params) { 3, 2, 0 };
  free (check_unary (&op, -1, 1, "maxpool 3/2 55 -> 27"));
}

/* torchvision's adaptive average pool: VGG's pool5 to 7x7 from 10x10
 * (320x320 images), AlexNet's to 6x6 from 13x9; up from 1x1 (VGG at 32),
 * 2x2 (at 64) and 3x5; the identity (224), which copies. */
static void
test_avgpool (void)
{
  static const struct { ax_shape in; int oh, ow; const char *what; } cases[] = {
    { { 2, 5, 10, 10 }, 7, 7, "10x10 -> 7x7 (VGG at 320)" },
    { { 3, 4, 13, 9 }, 6, 4, "13x9 -> 6x4" },
    { { 2, 6, 1, 1 }, 7, 7, "1x1 -> 7x7 (VGG at 32)" },
    { { 2, 5, 2, 2 }, 7, 7, "2x2 -> 7x7 (VGG at 64)" },
    { { 2, 3, 3, 5 }, 7, 7, "3x5 -> 7x7" },
    { { 2, 8, 6, 6 }, 6, 6, "6x6 -> 6x6 (the identity)" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ax_op op = { .type = AX_OP_AVGPOOL, .in = cases[i].in,
      .p.avgpool = { cases[i].oh, cases[i].ow } };
    char label[96];
    snprintf (label, sizeof label, "avgpool %s", cases[i].what);
    ax_rng saved = test_rng;
    double *out = check_unary (&op, -1, 1, label);
    if (cases[i].oh == cases[i].in.h && cases[i].ow == cases[i].in.w) {
      /* the same draws as check_unary's input: the identity is a copy */
      test_rng = saved;
      size_t n = ax_shape_count (op.in);
      double *x = new_uniform (n, -1, 1);
      AX_CHECK (memcmp (x, out, n * sizeof *x) == 0, "%s: not the input",
          label);
      free (x);
    }
    free (out);
  }
  /* forward-only: the same numbers, no backward */
  ax_op op = { .type = AX_OP_AVGPOOL, .in = ax_shape_make (2, 3, 5, 4),
    .p.avgpool = { 3, 3 }, .forward_only = 1 };
  ax_kernel *k = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, &op, &k));
  if (k) {
    const ax_op_shapes_t *s = ax_kernel_shapes (k);
    AX_CHECK (s->out.h == 3 && s->out.w == 3 && s->out.c == 3
        && ax_shape_count (ax_kernel_workspace_shape (k)) == 0, "shapes");
    arena_reset (&mem);
    ax_tensor x = arena_tensor (&mem, s->in, AX_F32);
    ax_tensor y = arena_tensor (&mem, s->out, AX_F32);
    CHECK_OK (be, ax_tensor_fill (&x, 2.5f));
    CHECK_OK (be, ax_avgpool_forward (k, &y, &x));
    float v[2 * 3 * 3 * 3];
    CHECK_OK (be, ax_tensor_download (v, sizeof v, &y));
    int all = 1;
    for (int i = 0; i < 2 * 3 * 3 * 3; i++)
      all &= v[i] == 2.5f;
    AX_CHECK (all, "the mean of a constant");
    ax_status back = ax_avgpool_backward (k, &x, &y);
    AX_CHECK (back == AX_ERR_INVALID_ARG, "forward-only backward: %s",
        ax_status_str (back));
    ax_kernel_release (k);
  }
  /* out 0 is refused */
  op.p.avgpool.out_w = 0;
  k = NULL;
  AX_CHECK (ax_kernel_prepare (be, &op, &k) == AX_ERR_INVALID_ARG && !k,
      "avgpool to 3x0 accepted");
}

/* --- batch norm: a training forward (the batch's statistics, the running
 * ones updated), its backward, then evaluation on the updated running
 * statistics by the same kernel and by a forward-only one --- */

#define BN_TOL 1e-5

typedef struct {
  double *x, *w, *b, *rm, *rv, *dout, *dw, *db;   /* inputs, gradient start */
} bn_data;

typedef struct {
  double *out, *din, *dw, *db, *rm, *rv, *eval, *infer;
} bn_result;

static void
bn_result_alloc (bn_result *r, size_t n, size_t C)
{
  r->out = new_zeros (n); r->din = new_zeros (n); r->eval = new_zeros (n);
  r->infer = new_zeros (n); r->dw = new_zeros (C); r->db = new_zeros (C);
  r->rm = new_zeros (C); r->rv = new_zeros (C);
}

static void
bn_result_free (bn_result *r)
{
  free (r->out); free (r->din); free (r->eval); free (r->infer);
  free (r->dw); free (r->db); free (r->rm); free (r->rv);
}

static void
bn_reference (const bn_data *d, ax_shape s, const ax_bn_params *p,
    bn_result *r)
{
  size_t C = (size_t) s.c;
  memcpy (r->rm, d->rm, C * sizeof (double));
  memcpy (r->rv, d->rv, C * sizeof (double));
  memcpy (r->dw, d->dw, C * sizeof (double));
  memcpy (r->db, d->db, C * sizeof (double));
  ref_batchnorm_forward (r->out, NULL, NULL, r->rm, r->rv, d->x, d->w, d->b,
      s, p, 1);
  ref_batchnorm_backward (r->din, r->dw, r->db, d->dout, d->x, d->w, s, p);
  ref_batchnorm_forward (r->eval, NULL, NULL, r->rm, r->rv, d->x, d->w, d->b,
      s, p, 0);
  memcpy (r->infer, r->eval, ax_shape_count (s) * sizeof (double));
}

/* The same on the backend: `k` prepared for training, `kf` forward-only. */
static void
bn_backend (ax_kernel *k, ax_kernel *kf, const bn_data *d, bn_result *r)
{
  const ax_op_shapes_t *s = ax_kernel_shapes (k);
  ax_shape c = s->weight;
  arena_reset (&mem);
  ax_tensor x = arena_tensor (&mem, s->in, AX_F32);
  ax_tensor y = arena_tensor (&mem, s->out, AX_F32);
  ax_tensor dy = arena_tensor (&mem, s->out, AX_F32);
  ax_tensor dx = arena_tensor (&mem, s->in, AX_F32);
  ax_tensor ye = arena_tensor (&mem, s->out, AX_F32);
  ax_tensor yi = arena_tensor (&mem, s->out, AX_F32);
  ax_tensor w = arena_tensor (&mem, c, AX_F32);
  ax_tensor b = arena_tensor (&mem, c, AX_F32);
  ax_tensor rm = arena_tensor (&mem, c, AX_F32);
  ax_tensor rv = arena_tensor (&mem, c, AX_F32);
  ax_tensor dw = arena_tensor (&mem, c, AX_F32);
  ax_tensor db = arena_tensor (&mem, c, AX_F32);
  ax_tensor ws = arena_tensor (&mem, ax_kernel_workspace_shape (k), AX_F32);
  CHECK_OK (be, upload_doubles (&x, d->x));
  CHECK_OK (be, upload_doubles (&w, d->w));
  CHECK_OK (be, upload_doubles (&b, d->b));
  CHECK_OK (be, upload_doubles (&rm, d->rm));
  CHECK_OK (be, upload_doubles (&rv, d->rv));
  CHECK_OK (be, upload_doubles (&dy, d->dout));
  CHECK_OK (be, upload_doubles (&dw, d->dw));
  CHECK_OK (be, upload_doubles (&db, d->db));
  CHECK_OK (be, ax_batchnorm_forward (k, &y, &ws, &rm, &rv, &x, &w, &b, 1));
  CHECK_OK (be, ax_batchnorm_backward (k, &dx, &dw, &db, &dy, &x, &w, &ws));
  CHECK_OK (be, ax_batchnorm_forward (k, &ye, NULL, &rm, &rv, &x, &w, &b, 0));
  CHECK_OK (be, ax_batchnorm_forward (kf, &yi, NULL, &rm, &rv, &x, &w, &b,
          0));
  CHECK_OK (be, download_doubles (r->out, &y));
  CHECK_OK (be, download_doubles (r->din, &dx));
  CHECK_OK (be, download_doubles (r->dw, &dw));
  CHECK_OK (be, download_doubles (r->db, &db));
  CHECK_OK (be, download_doubles (r->rm, &rm));
  CHECK_OK (be, download_doubles (r->rv, &rv));
  CHECK_OK (be, download_doubles (r->eval, &ye));
  CHECK_OK (be, download_doubles (r->infer, &yi));
  /* what a forward-only kernel and an evaluation refuse */
  ax_status train = ax_batchnorm_forward (kf, &y, &ws, &rm, &rv, &x, &w, &b,
      1);
  ax_status back = ax_batchnorm_backward (kf, &dx, &dw, &db, &dy, &x, &w,
      &ws);
  AX_CHECK (train == AX_ERR_INVALID_ARG && back == AX_ERR_INVALID_ARG,
      "forward-only kernel: training %s, backward %s", ax_status_str (train),
      ax_status_str (back));
  AX_CHECK (ax_shape_count (ax_kernel_workspace_shape (kf)) == 0,
      "a forward-only batch norm keeps no workspace");
}

static void
check_batchnorm (ax_shape in, const char *label)
{
  ax_op op = { .type = AX_OP_BATCHNORM, .in = in, .p.bn = AX_BN_TORCH };
  ax_kernel *k = NULL, *kf = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, &op, &k));
  op.forward_only = 1;
  CHECK_OK (be, ax_kernel_prepare (be, &op, &kf));
  if (!k || !kf)
    return;
  size_t n = ax_shape_count (in), C = (size_t) in.c;
  /* a mean off zero and unequal channels, as after a convolution */
  bn_data d = { new_uniform (n, -2, 3), new_uniform (C, 0.5, 1.5),
    new_uniform (C, -1, 1), new_uniform (C, -0.5, 0.5),
    new_uniform (C, 0.5, 2), new_uniform (n, -1, 1), new_uniform (C, -1, 1),
    new_uniform (C, -1, 1) };
  bn_result want, got;
  bn_result_alloc (&want, n, C);
  bn_result_alloc (&got, n, C);
  bn_reference (&d, in, &op.p.bn, &want);
  bn_backend (k, kf, &d, &got);
  double e[8] = {
    normalised_error (got.out, want.out, n),
    normalised_error (got.din, want.din, n),
    normalised_error (got.dw, want.dw, C),
    normalised_error (got.db, want.db, C),
    normalised_error (got.rm, want.rm, C),
    normalised_error (got.rv, want.rv, C),
    normalised_error (got.eval, want.eval, n),
    normalised_error (got.infer, want.infer, n) };
  printf ("  batchnorm %s: error out %.1e din %.1e dw %.1e db %.1e running "
      "mean %.1e var %.1e, eval %.1e forward-only %.1e\n", label, e[0], e[1],
      e[2], e[3], e[4], e[5], e[6], e[7]);
  for (int i = 0; i < 8; i++)
    AX_CHECK (e[i] < BN_TOL, "%s: error %d is %.1e", label, i, e[i]);
  /* evaluation is not the training normalisation (the running statistics
   * are not the batch's), so the two checks above are not one */
  double diff = normalised_error (want.eval, want.out, n);
  AX_CHECK (diff > 1e-2, "%s: eval and training outputs differ by %.1e",
      label, diff);
  bn_result_free (&want);
  bn_result_free (&got);
  free (d.x); free (d.w); free (d.b); free (d.rm); free (d.rv);
  free (d.dout); free (d.dw); free (d.db);
  ax_kernel_release (k);
  ax_kernel_release (kf);
}

static void
test_batchnorm (void)
{
  check_batchnorm (ax_shape_make (2, 6, 5, 7), "2x6x5x7 (plain layout)");
  check_batchnorm (ax_shape_make (3, 3, 13, 11), "3x3x13x11 (plain layout)");
  check_batchnorm (ax_shape_make (2, 32, 6, 5), "2x32x6x5 (blocked layout)");
  check_batchnorm (ax_shape_make (1, 16, 7, 7), "1x16x7x7 one sample "
      "(blocked)");
  check_batchnorm (ax_shape_make (8, 5, 1, 1), "8x5x1x1 (after an fc)");
  /* One value per channel: no batch statistics (PyTorch refuses it too),
   * but evaluation works. */
  ax_op op = { .type = AX_OP_BATCHNORM, .in = ax_shape_make (1, 4, 1, 1),
    .p.bn = AX_BN_TORCH };
  ax_kernel *k = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, &op, &k));
  if (!k)
    return;
  arena_reset (&mem);
  ax_tensor x = arena_tensor (&mem, op.in, AX_F32);
  ax_tensor y = arena_tensor (&mem, op.in, AX_F32);
  ax_tensor c[4];
  for (int i = 0; i < 4; i++) {
    c[i] = arena_tensor (&mem, ax_shape_make (4, 1, 1, 1), AX_F32);
    CHECK_OK (be, ax_tensor_fill (&c[i], 1.0f));
  }
  ax_tensor ws = arena_tensor (&mem, ax_kernel_workspace_shape (k), AX_F32);
  CHECK_OK (be, ax_tensor_fill (&x, 2.0f));
  ax_status st = ax_batchnorm_forward (k, &y, &ws, &c[0], &c[1], &x, &c[2],
      &c[3], 1);
  AX_CHECK (st == AX_ERR_SHAPE, "training on one value per channel: %s",
      ax_status_str (st));
  CHECK_OK (be, ax_batchnorm_forward (k, &y, NULL, &c[0], &c[1], &x, &c[2],
          &c[3], 0));
  float v[4];
  CHECK_OK (be, ax_tensor_download (v, sizeof v, &y));
  AX_CHECK_CLOSE (v[0], 1.0 / sqrt (1.0 + 1e-5) + 1.0, 0, 1e-6);
  /* parameters ops.c refuses */
  ax_op bad = op;
  bad.p.bn.eps = 0.0;
  AX_CHECK (ax_kernel_prepare (be, &bad, &k) != AX_OK || !k, "eps 0");
  bad = op;
  bad.p.bn.momentum = 1.5;
  ax_kernel *k2 = NULL;
  AX_CHECK (ax_kernel_prepare (be, &bad, &k2) == AX_ERR_INVALID_ARG && !k2,
      "momentum 1.5 accepted");
  ax_kernel_release (k);
}

/* Random valid shapes: strides that do not divide the padded input, odd
 * sizes, kernels up to the input's size, groups of one or two. */
static void
test_random_shapes (void)
{
  ax_rng rng;
  ax_rng_seed (&rng, 4242);
  int conv_cases = 0, pool_cases = 0;
  while (conv_cases < 25 || pool_cases < 25) {
#define R(lo, hi) ((int) ax_rng_below (&rng, (hi) - (lo) + 1) + (lo))
    int groups = R (1, 2);
    ax_op op = { .type = AX_OP_CONV,
      .in = { R (1, 3), groups * R (1, 5), R (1, 13), R (1, 13) } };
    op.p.conv = (ax_conv_params) { groups * R (1, 5), R (1, 5), R (1, 5),
      R (1, 4), R (0, 2), groups, R (0, 1) };
    int pool = R (0, 1);
    if (pool) {
      op.type = AX_OP_MAXPOOL;
      op.p.pool = (ax_pool_params) { R (1, 4), R (1, 3), R (0, 1) };
    }
#undef R
    ax_op_shapes_t s;
    if (ax_op_shapes (&op, &s) != AX_OK || (pool ? pool_cases : conv_cases) >= 25)
      continue;
    char label[160];
    if (pool) {
      snprintf (label, sizeof label, "maxpool %dx%dx%dx%d k%d s%d p%d",
          op.in.n, op.in.c, op.in.h, op.in.w, op.p.pool.kernel,
          op.p.pool.stride, op.p.pool.pad);
      free (check_unary (&op, -1, 1, label));
      pool_cases++;
    } else {
      snprintf (label, sizeof label, "conv %dx%dx%dx%d -> %d k%dx%d s%d p%d g%d",
          op.in.n, op.in.c, op.in.h, op.in.w, op.p.conv.out_channels,
          op.p.conv.kernel_h, op.p.conv.kernel_w, op.p.conv.stride,
          op.p.conv.pad, op.p.conv.groups);
      check_weighted (&op, label);
      conv_cases++;
    }
  }
}

/* Kernels prepared forward-only (inference) need no workspace, give the
 * training forward's numbers, and refuse a backward pass. */
static void
test_forward_only (void)
{
  ax_op ops[3] = {
    { .type = AX_OP_LRN, .in = { 2, 32, 7, 7 }, .p.lrn = AX_LRN_PAPER },
    { .type = AX_OP_MAXPOOL, .in = { 2, 32, 7, 7 }, .p.pool = { 3, 2, 0 } },
    { .type = AX_OP_CONV, .in = { 2, 32, 7, 7 }, .p.conv = { 16, 3, 3, 1, 1, 2, 0 } },
  };
  for (int i = 0; i < 3; i++) {
    ax_kernel *train = NULL, *infer = NULL;
    ax_op op = ops[i];
    CHECK_OK (be, ax_kernel_prepare (be, &op, &train));
    op.forward_only = 1;
    CHECK_OK (be, ax_kernel_prepare (be, &op, &infer));
    if (!train || !infer)
      return;
    AX_CHECK (ax_shape_count (ax_kernel_workspace_shape (infer)) == 0,
        "no workspace when forward-only");
    const ax_op_shapes_t *s = ax_kernel_shapes (train);
    arena_reset (&mem);
    ax_tensor x = arena_tensor (&mem, s->in, AX_F32);
    ax_tensor a = arena_tensor (&mem, s->out, AX_F32);
    ax_tensor b = arena_tensor (&mem, s->out, AX_F32);
    ax_tensor w = arena_tensor (&mem, ax_shape_count (s->weight) ? s->weight
        : s->out, AX_F32);
    ax_shape ws_shape = ax_kernel_workspace_shape (train);
    ax_tensor ws = arena_tensor (&mem, ax_shape_count (ws_shape) ? ws_shape
        : s->out, AX_F32);
    double *v = new_uniform (ax_shape_count (s->in), -1, 1);
    CHECK_OK (be, upload_doubles (&x, v));
    CHECK_OK (be, ax_tensor_fill (&w, 0.1f));
    ax_tensor *ws_or_null = ax_shape_count (ws_shape) ? &ws : NULL;
    ax_status back = AX_OK;
    if (op.type == AX_OP_LRN) {
      CHECK_OK (be, ax_lrn_forward (train, &a, ws_or_null, &x));
      CHECK_OK (be, ax_lrn_forward (infer, &b, NULL, &x));
      back = ax_lrn_backward (infer, &x, &a, &x, &b, NULL);
    } else if (op.type == AX_OP_MAXPOOL) {
      CHECK_OK (be, ax_maxpool_forward (train, &a, ws_or_null, &x));
      CHECK_OK (be, ax_maxpool_forward (infer, &b, NULL, &x));
      back = ax_maxpool_backward (infer, &x, &a, &x, &b, NULL);
    } else {
      CHECK_OK (be, ax_conv_forward (train, &a, &x, &w, NULL));
      CHECK_OK (be, ax_conv_forward (infer, &b, &x, &w, NULL));
      back = ax_conv_backward (infer, &x, &w, NULL, &a, &x, &w);
    }
    size_t n = ax_shape_count (s->out);
    double *ra = new_zeros (n), *rb = new_zeros (n);
    CHECK_OK (be, download_doubles (ra, &a));
    CHECK_OK (be, download_doubles (rb, &b));
    double err = normalised_error (rb, ra, n);
    printf ("  %s forward-only vs training: %.1e\n", ax_op_name (op.type), err);
    AX_CHECK (err < 1e-6, "same forward");
    AX_CHECK (back == AX_ERR_INVALID_ARG, "backward refused: %s",
        ax_status_str (back));
    ax_kernel_release (train);
    ax_kernel_release (infer);
    free (v); free (ra); free (rb);
  }
}

int
main (void)
{
  ax_rng_seed (&test_rng, 1409);
  if (ax_cpu_backend_create (0, &be) != AX_OK || !arena_init (&mem, be, 64 << 20)) {
    fprintf (stderr, "cannot create the CPU backend\n");
    return 1;
  }
  printf ("cpu backend: %d threads\n", ax_cpu_backend_threads (be));
  AX_RUN (test_conv);
  AX_RUN (test_fc);
  AX_RUN (test_relu);
  AX_RUN (test_lrn);
  AX_RUN (test_maxpool);
  AX_RUN (test_avgpool);
  AX_RUN (test_forward_only);
  AX_RUN (test_batchnorm);
  AX_RUN (test_random_shapes);
  ax_slab_free (&mem.slab);
  ax_backend_destroy (be);
  return ax_test_finish ();
}
