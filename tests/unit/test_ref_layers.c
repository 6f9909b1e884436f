/* The float64 reference layers checked against themselves: every backward
 * pass against central finite differences of its forward pass, on small
 * random shapes with groups, strides, padding and odd sizes. */
#include "tests/ref/ref_layers.h"
#include "kernels/backend/ops.h"
#include "tests/ax_test.h"
#include "layer_test_util.h"

#include <string.h>

/* The scalar loss sum(out * r) of a layer, evaluated by `loss`. */
typedef double (*loss_fn) (void *ctx);

static double
weighted_sum (const double *out, const double *r, size_t n)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += out[i] * r[i];
  return s;
}

/* Normalised max error between `analytic` and central differences of
 * `loss` with respect to each element of x. */
static double
finite_difference_error (loss_fn loss, void *ctx, double *x, size_t n,
    const double *analytic)
{
  const double h = 1e-5;
  double *numeric = new_zeros (n);
  for (size_t i = 0; i < n; i++) {
    double saved = x[i];
    x[i] = saved + h;
    double up = loss (ctx);
    x[i] = saved - h;
    double down = loss (ctx);
    x[i] = saved;
    numeric[i] = (up - down) / (2 * h);
  }
  double err = normalised_error (analytic, numeric, n);
  free (numeric);
  return err;
}

#define FD_TOL 1e-7

/* --- convolution --- */

typedef struct {
  ax_shape in_shape;
  ax_conv_params p;
  double *in, *w, *b, *out, *r;
  size_t n_out;
} conv_case;

static double
conv_loss (void *ctx)
{
  conv_case *c = ctx;
  ref_conv_forward (c->out, c->in, c->w, c->b, c->in_shape, &c->p);
  return weighted_sum (c->out, c->r, c->n_out);
}

static void
check_conv (ax_shape in_shape, ax_conv_params p)
{
  ax_op op = { .type = AX_OP_CONV, .in = in_shape, .p.conv = p };
  ax_op_shapes_t s;
  AX_CHECK (ax_op_shapes (&op, &s) == AX_OK, "conv shapes");
  conv_case c = { in_shape, p, NULL, NULL, NULL, NULL, NULL,
    ax_shape_count (s.out) };
  size_t n_in = ax_shape_count (s.in), n_w = ax_shape_count (s.weight);
  c.in = new_uniform (n_in, -1, 1);
  c.w = new_uniform (n_w, -1, 1);
  c.b = p.has_bias ? new_uniform (p.out_channels, -1, 1) : NULL;
  c.out = new_zeros (c.n_out);
  c.r = new_uniform (c.n_out, -1, 1);
  double *din = new_zeros (n_in), *dw = new_zeros (n_w);
  double *db = p.has_bias ? new_zeros (p.out_channels) : NULL;
  ref_conv_backward (din, dw, db, c.r, c.in, c.w, in_shape, &p);
  double e_in = finite_difference_error (conv_loss, &c, c.in, n_in, din);
  double e_w = finite_difference_error (conv_loss, &c, c.w, n_w, dw);
  double e_b = p.has_bias ? finite_difference_error (conv_loss, &c, c.b,
      p.out_channels, db) : 0.0;
  printf ("  conv %dx%dx%dx%d k%dx%d s%d p%d g%d: fd error in %.1e w %.1e b %.1e\n",
      in_shape.n, in_shape.c, in_shape.h, in_shape.w, p.kernel_h, p.kernel_w,
      p.stride, p.pad, p.groups, e_in, e_w, e_b);
  AX_CHECK (e_in < FD_TOL && e_w < FD_TOL && e_b < FD_TOL, "conv gradients");
  /* Backward accumulates into dw: a second call doubles it. */
  double *dw2 = new_zeros (n_w);
  memcpy (dw2, dw, n_w * sizeof *dw);
  ref_conv_backward (NULL, dw2, NULL, c.r, c.in, c.w, in_shape, &p);
  AX_CHECK_CLOSE (dw2[0], 2 * dw[0], 1e-12, 1e-12);
  free (c.in); free (c.w); free (c.b); free (c.out); free (c.r);
  free (din); free (dw); free (db); free (dw2);
}

static void
test_conv_gradients (void)
{
  check_conv (ax_shape_make (2, 4, 7, 7),
      (ax_conv_params) { 6, 3, 3, 1, 1, 2, 1 });
  check_conv (ax_shape_make (1, 3, 13, 11),
      (ax_conv_params) { 4, 5, 5, 4, 2, 1, 1 });
  check_conv (ax_shape_make (2, 6, 6, 5),
      (ax_conv_params) { 4, 3, 2, 2, 0, 2, 0 });
}

/* --- fully connected --- */

typedef struct {
  int batch, in_f, out_f;
  double *in, *w, *b, *out, *r;
} fc_case;

static double
fc_loss (void *ctx)
{
  fc_case *c = ctx;
  ref_fc_forward (c->out, c->in, c->w, c->b, c->batch, c->in_f, c->out_f);
  return weighted_sum (c->out, c->r, (size_t) c->batch * c->out_f);
}

static void
test_fc_gradients (void)
{
  fc_case c = { 3, 20, 7, NULL, NULL, NULL, NULL, NULL };
  size_t n_in = 60, n_w = 140, n_out = 21;
  c.in = new_uniform (n_in, -1, 1);
  c.w = new_uniform (n_w, -1, 1);
  c.b = new_uniform (7, -1, 1);
  c.out = new_zeros (n_out);
  c.r = new_uniform (n_out, -1, 1);
  double *din = new_zeros (n_in), *dw = new_zeros (n_w), *db = new_zeros (7);
  ref_fc_backward (din, dw, db, c.r, c.in, c.w, 3, 20, 7);
  double e_in = finite_difference_error (fc_loss, &c, c.in, n_in, din);
  double e_w = finite_difference_error (fc_loss, &c, c.w, n_w, dw);
  double e_b = finite_difference_error (fc_loss, &c, c.b, 7, db);
  printf ("  fc 3x20 -> 7: fd error in %.1e w %.1e b %.1e\n", e_in, e_w, e_b);
  AX_CHECK (e_in < FD_TOL && e_w < FD_TOL && e_b < FD_TOL, "fc gradients");
  free (c.in); free (c.w); free (c.b); free (c.out); free (c.r);
  free (din); free (dw); free (db);
}

/* --- ReLU, LRN, max-pool: layers with one input --- */

typedef struct {
  ax_op op;
  double *in, *out, *r;
  size_t n_out;
} unary_case;

static void
unary_forward (unary_case *c)
{
  size_t n = ax_shape_count (c->op.in);
  switch (c->op.type) {
    case AX_OP_RELU: ref_relu_forward (c->out, c->in, n); break;
    case AX_OP_LRN: ref_lrn_forward (c->out, c->in, c->op.in, &c->op.p.lrn); break;
    case AX_OP_AVGPOOL:
      ref_avgpool_forward (c->out, c->in, c->op.in, c->op.p.avgpool.out_h,
          c->op.p.avgpool.out_w);
      break;
    default: ref_maxpool_forward (c->out, c->in, c->op.in, &c->op.p.pool); break;
  }
}

static double
unary_loss (void *ctx)
{
  unary_case *c = ctx;
  unary_forward (c);
  return weighted_sum (c->out, c->r, c->n_out);
}

static double
unary_error (ax_op op, double lo, double hi)
{
  ax_op_shapes_t s;
  ax_op_shapes (&op, &s);
  size_t n_in = ax_shape_count (s.in);
  unary_case c = { op, new_uniform (n_in, lo, hi), NULL, NULL,
    ax_shape_count (s.out) };
  c.out = new_zeros (c.n_out);
  c.r = new_uniform (c.n_out, -1, 1);
  /* ReLU's kink: keep inputs away from zero. */
  for (size_t i = 0; op.type == AX_OP_RELU && i < n_in; i++)
    if (fabs (c.in[i]) < 1e-3)
      c.in[i] = 0.5;
  double *din = new_zeros (n_in);
  unary_forward (&c);
  switch (op.type) {
    case AX_OP_RELU: ref_relu_backward (din, c.r, c.out, n_in); break;
    case AX_OP_LRN: ref_lrn_backward (din, c.r, c.in, op.in, &op.p.lrn); break;
    case AX_OP_AVGPOOL:
      ref_avgpool_backward (din, c.r, op.in, op.p.avgpool.out_h,
          op.p.avgpool.out_w);
      break;
    default: ref_maxpool_backward (din, c.r, c.in, op.in, &op.p.pool); break;
  }
  double err = finite_difference_error (unary_loss, &c, c.in, n_in, din);
  free (c.in); free (c.out); free (c.r); free (din);
  return err;
}

static void
test_relu_gradients (void)
{
  double e = unary_error ((ax_op) { .type = AX_OP_RELU,
        .in = ax_shape_make (2, 3, 5, 7) }, -1, 1);
  printf ("  relu: fd error %.1e\n", e);
  AX_CHECK (e < FD_TOL, "relu gradient");
}

static void
test_lrn_gradients (void)
{
  /* Large inputs so that alpha * sum a^2 is comparable to k. */
  ax_shape s = ax_shape_make (2, 7, 3, 4);
  double paper = unary_error ((ax_op) { .type = AX_OP_LRN, .in = s,
        .p.lrn = AX_LRN_PAPER }, -30, 30);
  double caffe = unary_error ((ax_op) { .type = AX_OP_LRN, .in = s,
        .p.lrn = AX_LRN_CAFFE }, -30, 30);
  ax_lrn_params strong = { 3, 0.3, 0.75, 1.0, 0 };
  double big = unary_error ((ax_op) { .type = AX_OP_LRN, .in = s,
        .p.lrn = strong }, -3, 3);
  printf ("  lrn: fd error paper %.1e caffe %.1e strong %.1e\n", paper,
      caffe, big);
  AX_CHECK (paper < FD_TOL && caffe < FD_TOL && big < FD_TOL, "lrn gradient");
}

static void
test_maxpool_gradients (void)
{
  double a = unary_error ((ax_op) { .type = AX_OP_MAXPOOL,
        .in = ax_shape_make (2, 3, 9, 9), .p.pool = { 3, 2, 0 } }, -1, 1);
  double b = unary_error ((ax_op) { .type = AX_OP_MAXPOOL,
        .in = ax_shape_make (1, 2, 8, 11), .p.pool = { 3, 2, 1 } }, -1, 1);
  printf ("  maxpool 3/2: fd error %.1e, padded odd %.1e\n", a, b);
  AX_CHECK (a < FD_TOL && b < FD_TOL, "maxpool gradient");
}

/* --- adaptive average pool --- */

static void
test_avgpool_gradients (void)
{
  static const struct { int h, w, oh, ow; } cases[] = {
    { 10, 10, 7, 7 }, { 13, 9, 6, 4 }, { 1, 1, 7, 7 }, { 2, 2, 7, 7 },
    { 3, 5, 7, 7 }, { 6, 6, 6, 6 }, { 5, 8, 3, 8 },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ax_op op = { .type = AX_OP_AVGPOOL, .in = ax_shape_make (2, 3, cases[i].h,
          cases[i].w), .p.avgpool = { cases[i].oh, cases[i].ow } };
    double e = unary_error (op, -1, 1);
    printf ("  avgpool %dx%d -> %dx%d: fd error %.1e\n", cases[i].h,
        cases[i].w, cases[i].oh, cases[i].ow, e);
    AX_CHECK (e < FD_TOL, "avgpool %dx%d -> %dx%d gradient", cases[i].h,
        cases[i].w, cases[i].oh, cases[i].ow);
  }
}

/* PyTorch's windows on numbers worked by hand: 3 -> 2 overlaps (rows
 * [0, 2) and [1, 3)), 2 -> 3 repeats (rows [0, 1), [0, 2), [1, 2)), 1 -> 7
 * replicates, and the gradients add where windows overlap. */
static void
test_avgpool_by_hand (void)
{
  double in[3] = { 1, 2, 4 }, out[3], d[3], one[2] = { 1, 1 };
  ref_avgpool_forward (out, in, ax_shape_make (1, 1, 1, 3), 1, 2);
  AX_CHECK (out[0] == 1.5 && out[1] == 3.0, "3 -> 2: %g %g", out[0], out[1]);
  ref_avgpool_backward (d, one, ax_shape_make (1, 1, 1, 3), 1, 2);
  AX_CHECK (d[0] == 0.5 && d[1] == 1.0 && d[2] == 0.5, "3 -> 2 gradient: %g "
      "%g %g", d[0], d[1], d[2]);
  ref_avgpool_forward (out, in, ax_shape_make (1, 1, 2, 1), 3, 1);
  AX_CHECK (out[0] == 1.0 && out[1] == 1.5 && out[2] == 2.0, "2 -> 3: %g %g "
      "%g", out[0], out[1], out[2]);
  double ones[3] = { 1, 1, 1 };
  ref_avgpool_backward (d, ones, ax_shape_make (1, 1, 2, 1), 3, 1);
  AX_CHECK (d[0] == 1.5 && d[1] == 1.5, "2 -> 3 gradient: %g %g", d[0], d[1]);
  double big[49], dbig[49], g = 0.0;
  for (int i = 0; i < 49; i++)
    dbig[i] = i;
  ref_avgpool_forward (big, in + 2, ax_shape_make (1, 1, 1, 1), 7, 7);
  int same = 1;
  for (int i = 0; i < 49; i++)
    same &= big[i] == 4.0;
  AX_CHECK (same, "1 -> 7x7 replicates the value");
  ref_avgpool_backward (&g, dbig, ax_shape_make (1, 1, 1, 1), 7, 7);
  AX_CHECK (g == 49.0 * 48.0 / 2.0, "1 -> 7x7 gradient: the sum, %g", g);
}

/* --- softmax with cross-entropy --- */

typedef struct {
  int batch, classes;
  double *logits, *probs, *losses;
  int32_t *labels;
} xent_case;

static double
xent_loss (void *ctx)
{
  xent_case *c = ctx;
  ref_softmax_xent_forward (c->losses, c->probs, c->logits, c->labels,
      c->batch, c->classes);
  double sum = 0.0;
  for (int i = 0; i < c->batch; i++)
    sum += c->losses[i];
  return sum / c->batch;
}

static void
test_softmax_xent_gradients (void)
{
  int32_t labels[4] = { 0, 4, 2, 4 };
  xent_case c = { 4, 5, new_uniform (20, -3, 3), new_zeros (20),
    new_zeros (4), labels };
  double *d = new_zeros (20);
  xent_loss (&c);
  ref_softmax_xent_backward (d, c.probs, labels, 4, 5, 1.0 / 4);
  double e = finite_difference_error (xent_loss, &c, c.logits, 20, d);
  printf ("  softmax-xent: fd error %.1e\n", e);
  AX_CHECK (e < FD_TOL, "softmax-xent gradient");
  free (c.logits); free (c.probs); free (c.losses); free (d);
}

/* --- batch norm (training mode: the batch's statistics) --- */

typedef struct {
  ax_shape s;
  ax_bn_params p;
  double *in, *w, *b, *out, *r, *rm, *rv;
} bn_case;

static double
bn_loss (void *ctx)
{
  bn_case *c = ctx;
  ref_batchnorm_forward (c->out, NULL, NULL, c->rm, c->rv, c->in, c->w, c->b,
      c->s, &c->p, 1);
  return weighted_sum (c->out, c->r, ax_shape_count (c->s));
}

static void
check_bn (ax_shape s)
{
  size_t n = ax_shape_count (s), C = (size_t) s.c;
  bn_case c = { s, AX_BN_TORCH, new_uniform (n, -2, 3),
    new_uniform (C, 0.5, 1.5), new_uniform (C, -1, 1), new_zeros (n),
    new_uniform (n, -1, 1), new_zeros (C), new_zeros (C) };
  double *din = new_zeros (n), *dw = new_zeros (C), *db = new_zeros (C);
  ref_batchnorm_backward (din, dw, db, c.r, c.in, c.w, s, &c.p);
  double e_in = finite_difference_error (bn_loss, &c, c.in, n, din);
  double e_w = finite_difference_error (bn_loss, &c, c.w, C, dw);
  double e_b = finite_difference_error (bn_loss, &c, c.b, C, db);
  printf ("  batchnorm %dx%dx%dx%d: fd error in %.1e w %.1e b %.1e\n", s.n,
      s.c, s.h, s.w, e_in, e_w, e_b);
  AX_CHECK (e_in < FD_TOL && e_w < FD_TOL && e_b < FD_TOL,
      "batchnorm gradients");
  /* The normalised maps of each channel have mean 0 and (biased) variance
   * var / (var + eps) before the affine part: with w = 1, b = 0. */
  for (size_t i = 0; i < C; i++) {
    c.w[i] = 1.0;
    c.b[i] = 0.0;
  }
  ref_batchnorm_forward (c.out, NULL, NULL, c.rm, c.rv, c.in, c.w, c.b, s,
      &c.p, 1);
  double m0 = 0.0, v0 = 0.0, per = (double) n / C;
  for (int i = 0; i < s.n; i++)
    for (size_t j = 0; j < (size_t) s.h * s.w; j++) {
      double y = c.out[((size_t) i * C) * s.h * s.w + j];
      m0 += y / per;
      v0 += y * y / per;
    }
  AX_CHECK (fabs (m0) < 1e-12 && fabs (v0 - 1.0) < 1e-3, "channel 0: mean "
      "%g, variance %g", m0, v0);
  free (c.in); free (c.w); free (c.b); free (c.out); free (c.r); free (c.rm);
  free (c.rv); free (din); free (dw); free (db);
}

static void
test_batchnorm_gradients (void)
{
  check_bn (ax_shape_make (3, 4, 5, 3));
  check_bn (ax_shape_make (5, 3, 1, 1));  /* after a fully connected layer */
  check_bn (ax_shape_make (1, 2, 4, 4));  /* one sample: over H*W only */
}

/* PyTorch's running statistics on numbers worked by hand: one channel
 * holding 1, 2, 3, 4 has mean 2.5, biased variance 1.25 (the
 * normalisation's) and unbiased variance 5/3 (the running variance's). */
static void
test_batchnorm_running_stats (void)
{
  ax_bn_params p = AX_BN_TORCH;
  double in[4] = { 1, 2, 3, 4 }, out[4], w = 2.0, b = 0.5, rm = 0.0, rv = 1.0;
  double mean, var;
  ref_batchnorm_forward (out, &mean, &var, &rm, &rv, in, &w, &b,
      ax_shape_make (2, 1, 1, 2), &p, 1);
  AX_CHECK_CLOSE (mean, 2.5, 0, 1e-15);
  AX_CHECK_CLOSE (var, 1.25, 0, 1e-15);
  AX_CHECK_CLOSE (rm, 0.9 * 0.0 + 0.1 * 2.5, 0, 1e-15);
  AX_CHECK_CLOSE (rv, 0.9 * 1.0 + 0.1 * 5.0 / 3.0, 0, 1e-15);
  AX_CHECK_CLOSE (out[0], (1 - 2.5) / sqrt (1.25 + 1e-5) * 2.0 + 0.5, 0,
      1e-15);
  /* evaluation: the running statistics, which stay as they are */
  double rm1 = rm, rv1 = rv;
  ref_batchnorm_forward (out, NULL, NULL, &rm, &rv, in, &w, &b,
      ax_shape_make (2, 1, 1, 2), &p, 0);
  AX_CHECK (rm == rm1 && rv == rv1, "evaluation changed the statistics");
  AX_CHECK_CLOSE (out[3], (4 - rm) / sqrt (rv + 1e-5) * 2.0 + 0.5, 0, 1e-15);
}

int
main (void)
{
  ax_rng_seed (&test_rng, 20121203);
  AX_RUN (test_conv_gradients);
  AX_RUN (test_fc_gradients);
  AX_RUN (test_relu_gradients);
  AX_RUN (test_lrn_gradients);
  AX_RUN (test_maxpool_gradients);
  AX_RUN (test_avgpool_gradients);
  AX_RUN (test_avgpool_by_hand);
  AX_RUN (test_softmax_xent_gradients);
  AX_RUN (test_batchnorm_gradients);
  AX_RUN (test_batchnorm_running_stats);
  return ax_test_finish ();
}
