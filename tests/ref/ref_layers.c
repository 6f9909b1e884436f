/* Naive float64 reference layers (see ref_layers.h): plain loops straight
 * from the formulas, with no blocking, no threads and no tricks. */
#include "tests/ref/ref_layers.h"
#include "kernels/backend/layer_math.h"

#include <math.h>
#include <string.h>

#define IDX(S, N, C, Y, X) \
  ((((size_t) (N) * (S).c + (C)) * (S).h + (Y)) * (S).w + (X))

static ax_shape
conv_out_shape (ax_shape in, const ax_conv_params *p)
{
  return ax_shape_make (in.n, p->out_channels,
      (in.h + 2 * p->pad - p->kernel_h) / p->stride + 1,
      (in.w + 2 * p->pad - p->kernel_w) / p->stride + 1);
}

/* Calls body(n, oc, oy, ox, ic, ky, kx, iy, ix) for every multiply-add of a
 * convolution that lands inside the input. */
#define CONV_LOOP(in, o, p, body) do {                                     \
    int cin_ = (in).c / (p)->groups, cout_ = (p)->out_channels / (p)->groups; \
    for (int n = 0; n < (o).n; n++)                                          \
      for (int oc = 0; oc < (o).c; oc++)                                     \
        for (int oy = 0; oy < (o).h; oy++)                                   \
          for (int ox = 0; ox < (o).w; ox++)                                 \
            for (int icg = 0; icg < cin_; icg++)                             \
              for (int ky = 0; ky < (p)->kernel_h; ky++)                     \
                for (int kx = 0; kx < (p)->kernel_w; kx++) {                 \
                  int ic = oc / cout_ * cin_ + icg;                          \
                  int iy = oy * (p)->stride - (p)->pad + ky;                 \
                  int ix = ox * (p)->stride - (p)->pad + kx;                 \
                  if (iy < 0 || iy >= (in).h || ix < 0 || ix >= (in).w)      \
                    continue;                                                \
                  size_t wi = (((size_t) oc * cin_ + icg) * (p)->kernel_h    \
                      + ky) * (p)->kernel_w + kx;                            \
                  body;                                                      \
                }                                                            \
  } while (0)

void
ref_conv_forward (double *out, const double *in, const double *w,
    const double *b, ax_shape s, const ax_conv_params *p)
{
  ax_shape o = conv_out_shape (s, p);
  for (int n = 0; n < o.n; n++)
    for (int oc = 0; oc < o.c; oc++)
      for (int y = 0; y < o.h; y++)
        for (int x = 0; x < o.w; x++)
          out[IDX (o, n, oc, y, x)] = b ? b[oc] : 0.0;
  CONV_LOOP (s, o, p,
      out[IDX (o, n, oc, oy, ox)] += w[wi] * in[IDX (s, n, ic, iy, ix)]);
}

void
ref_conv_backward (double *din, double *dw, double *db, const double *dout,
    const double *in, const double *w, ax_shape s, const ax_conv_params *p)
{
  ax_shape o = conv_out_shape (s, p);
  if (din)
    memset (din, 0, ax_shape_count (s) * sizeof *din);
  if (db)
    for (int n = 0; n < o.n; n++)
      for (int oc = 0; oc < o.c; oc++)
        for (size_t i = 0; i < (size_t) o.h * o.w; i++)
          db[oc] += dout[IDX (o, n, oc, 0, 0) + i];
  CONV_LOOP (s, o, p, {
        double g = dout[IDX (o, n, oc, oy, ox)];
        dw[wi] += g * in[IDX (s, n, ic, iy, ix)];
        if (din)
          din[IDX (s, n, ic, iy, ix)] += g * w[wi];
      });
}

void
ref_relu_forward (double *out, const double *in, size_t n)
{
  for (size_t i = 0; i < n; i++)
    out[i] = in[i] > 0 ? in[i] : 0.0;
}

void
ref_relu_backward (double *din, const double *dout, const double *out,
    size_t n)
{
  for (size_t i = 0; i < n; i++)
    din[i] = out[i] > 0 ? dout[i] : 0.0;
}

/* k + alpha' * sum of squares over the maps around c, at one pixel. */
static double
lrn_denominator (const double *in, ax_shape s, int n, int c, int y, int x,
    const ax_lrn_params *p)
{
  double sum = 0.0;
  for (int j = c - p->size / 2; j <= c + p->size / 2; j++)
    if (j >= 0 && j < s.c) {
      double a = in[IDX (s, n, j, y, x)];
      sum += a * a;
    }
  return p->k + ax_lrn_alpha_per_term (p) * sum;
}

void
ref_lrn_forward (double *out, const double *in, ax_shape s,
    const ax_lrn_params *p)
{
  for (int n = 0; n < s.n; n++)
    for (int c = 0; c < s.c; c++)
      for (int y = 0; y < s.h; y++)
        for (int x = 0; x < s.w; x++)
          out[IDX (s, n, c, y, x)] = in[IDX (s, n, c, y, x)]
              * pow (lrn_denominator (in, s, n, c, y, x, p), -p->beta);
}

/* din_i = dout_i d_i^-beta
 *   - 2 alpha' beta a_i sum_{c near i} dout_c a_c d_c^(-beta-1) */
void
ref_lrn_backward (double *din, const double *dout, const double *in,
    ax_shape s, const ax_lrn_params *p)
{
  double alpha = ax_lrn_alpha_per_term (p);
  for (int n = 0; n < s.n; n++)
    for (int i = 0; i < s.c; i++)
      for (int y = 0; y < s.h; y++)
        for (int x = 0; x < s.w; x++) {
          size_t at = IDX (s, n, i, y, x);
          double d = lrn_denominator (in, s, n, i, y, x, p);
          double g = dout[at] * pow (d, -p->beta), sum = 0.0;
          for (int c = i - p->size / 2; c <= i + p->size / 2; c++)
            if (c >= 0 && c < s.c) {
              size_t ac = IDX (s, n, c, y, x);
              double dc = lrn_denominator (in, s, n, c, y, x, p);
              sum += dout[ac] * in[ac] * pow (dc, -p->beta - 1.0);
            }
          din[at] = g - 2.0 * alpha * p->beta * in[at] * sum;
        }
}

static ax_shape
pool_out_shape (ax_shape in, const ax_pool_params *p)
{
  return ax_shape_make (in.n, in.c,
      (in.h + 2 * p->pad - p->kernel) / p->stride + 1,
      (in.w + 2 * p->pad - p->kernel) / p->stride + 1);
}

/* Index into `in` of the maximum of one window. */
static size_t
pool_argmax (const double *in, ax_shape s, int n, int c, int oy, int ox,
    const ax_pool_params *p)
{
  size_t best = (size_t) -1;
  for (int ky = 0; ky < p->kernel; ky++)
    for (int kx = 0; kx < p->kernel; kx++) {
      int y = oy * p->stride - p->pad + ky, x = ox * p->stride - p->pad + kx;
      if (y < 0 || y >= s.h || x < 0 || x >= s.w)
        continue;
      size_t at = IDX (s, n, c, y, x);
      if (best == (size_t) -1 || in[at] > in[best])
        best = at;
    }
  return best;
}

void
ref_maxpool_forward (double *out, const double *in, ax_shape s,
    const ax_pool_params *p)
{
  ax_shape o = pool_out_shape (s, p);
  for (int n = 0; n < o.n; n++)
    for (int c = 0; c < o.c; c++)
      for (int y = 0; y < o.h; y++)
        for (int x = 0; x < o.w; x++)
          out[IDX (o, n, c, y, x)] = in[pool_argmax (in, s, n, c, y, x, p)];
}

void
ref_maxpool_backward (double *din, const double *dout, const double *in,
    ax_shape s, const ax_pool_params *p)
{
  ax_shape o = pool_out_shape (s, p);
  memset (din, 0, ax_shape_count (s) * sizeof *din);
  for (int n = 0; n < o.n; n++)
    for (int c = 0; c < o.c; c++)
      for (int y = 0; y < o.h; y++)
        for (int x = 0; x < o.w; x++)
          din[pool_argmax (in, s, n, c, y, x, p)] += dout[IDX (o, n, c, y, x)];
}

void
ref_fc_forward (double *out, const double *in, const double *w,
    const double *b, int batch, int in_features, int out_features)
{
  for (int n = 0; n < batch; n++)
    for (int o = 0; o < out_features; o++) {
      double sum = b ? b[o] : 0.0;
      for (int i = 0; i < in_features; i++)
        sum += w[(size_t) o * in_features + i] * in[(size_t) n * in_features + i];
      out[(size_t) n * out_features + o] = sum;
    }
}

void
ref_fc_backward (double *din, double *dw, double *db, const double *dout,
    const double *in, const double *w, int batch, int in_features,
    int out_features)
{
  if (din)
    memset (din, 0, (size_t) batch * in_features * sizeof *din);
  for (int n = 0; n < batch; n++)
    for (int o = 0; o < out_features; o++) {
      double g = dout[(size_t) n * out_features + o];
      if (db)
        db[o] += g;
      for (int i = 0; i < in_features; i++) {
        dw[(size_t) o * in_features + i] += g * in[(size_t) n * in_features + i];
        if (din)
          din[(size_t) n * in_features + i] += g * w[(size_t) o * in_features + i];
      }
    }
}

void
ref_dropout (double *out, const double *in, size_t n, uint64_t key, float p)
{
  uint32_t threshold = ax_dropout_threshold (p);
  double scale = 1.0 / (1.0 - p);
  for (size_t i = 0; i < n; i++)
    out[i] = ax_dropout_keep (key, i, threshold) ? in[i] * scale : 0.0;
}

void
ref_softmax_xent_forward (double *losses, double *probs, const double *logits,
    const int32_t *labels, int batch, int classes)
{
  for (int n = 0; n < batch; n++) {
    const double *x = logits + (size_t) n * classes;
    double *pr = probs + (size_t) n * classes, max = x[0], sum = 0.0;
    for (int c = 1; c < classes; c++)
      max = fmax (max, x[c]);
    for (int c = 0; c < classes; c++)
      sum += pr[c] = exp (x[c] - max);
    for (int c = 0; c < classes; c++)
      pr[c] /= sum;
    losses[n] = -log (pr[labels[n]]);
  }
}

void
ref_softmax_xent_backward (double *dlogits, const double *probs,
    const int32_t *labels, int batch, int classes, double scale)
{
  for (int n = 0; n < batch; n++)
    for (int c = 0; c < classes; c++) {
      size_t j = (size_t) n * classes + c;
      dlogits[j] = scale * (probs[j] - (c == labels[n] ? 1.0 : 0.0));
    }
}

void
ref_sgd_update (double *w, double *v, const double *g, size_t n, double lr,
    double momentum, double weight_decay)
{
  for (size_t i = 0; i < n; i++) {
    v[i] = momentum * v[i] - weight_decay * lr * w[i] - lr * g[i];
    w[i] += v[i];
  }
}

/* Mean and biased variance of channel c over its N*H*W values. */
static void
channel_stats (const double *in, ax_shape s, int c, double *mean, double *var)
{
  double m = (double) s.n * s.h * s.w, sum = 0.0, sq = 0.0;
  for (int n = 0; n < s.n; n++)
    for (size_t i = 0; i < (size_t) s.h * s.w; i++)
      sum += in[IDX (s, n, c, 0, 0) + i];
  *mean = sum / m;
  for (int n = 0; n < s.n; n++)
    for (size_t i = 0; i < (size_t) s.h * s.w; i++) {
      double d = in[IDX (s, n, c, 0, 0) + i] - *mean;
      sq += d * d;
    }
  *var = sq / m;
}

void
ref_batchnorm_forward (double *out, double *mean, double *var,
    double *running_mean, double *running_var, const double *in,
    const double *w, const double *b, ax_shape s, const ax_bn_params *p,
    int training)
{
  double m = (double) s.n * s.h * s.w;
  for (int c = 0; c < s.c; c++) {
    double mu, v;
    if (training) {
      channel_stats (in, s, c, &mu, &v);
      if (mean)
        mean[c] = mu;
      if (var)
        var[c] = v;
      running_mean[c] = (1.0 - p->momentum) * running_mean[c]
          + p->momentum * mu;
      running_var[c] = (1.0 - p->momentum) * running_var[c]
          + p->momentum * v * m / (m - 1.0);
    } else {
      mu = running_mean[c];
      v = running_var[c];
    }
    double inv = 1.0 / sqrt (v + p->eps);
    for (int n = 0; n < s.n; n++)
      for (size_t i = 0; i < (size_t) s.h * s.w; i++) {
        size_t at = IDX (s, n, c, 0, 0) + i;
        out[at] = (in[at] - mu) * inv * w[c] + b[c];
      }
  }
}

/* With x^ = (x - mean) / sqrt(var + eps) over the m values of a channel:
 *   db = sum dout, dw = sum dout x^,
 *   din = w / sqrt(var + eps) (dout - db / m - x^ dw / m). */
void
ref_batchnorm_backward (double *din, double *dw, double *db,
    const double *dout, const double *in, const double *w, ax_shape s,
    const ax_bn_params *p)
{
  double m = (double) s.n * s.h * s.w;
  for (int c = 0; c < s.c; c++) {
    double mu, v, sum_dy = 0.0, sum_dy_xhat = 0.0;
    channel_stats (in, s, c, &mu, &v);
    double inv = 1.0 / sqrt (v + p->eps);
    for (int n = 0; n < s.n; n++)
      for (size_t i = 0; i < (size_t) s.h * s.w; i++) {
        size_t at = IDX (s, n, c, 0, 0) + i;
        sum_dy += dout[at];
        sum_dy_xhat += dout[at] * (in[at] - mu) * inv;
      }
    db[c] += sum_dy;
    dw[c] += sum_dy_xhat;
    for (int n = 0; n < s.n; n++)
      for (size_t i = 0; i < (size_t) s.h * s.w; i++) {
        size_t at = IDX (s, n, c, 0, 0) + i;
        double xhat = (in[at] - mu) * inv;
        din[at] = w[c] * inv * (dout[at] - sum_dy / m - xhat * sum_dy_xhat / m);
      }
  }
}

/* Window [lo, hi) of cell i of n over m cells, as PyTorch defines it. */
static void
adaptive_range (int i, int n, int m, int *lo, int *hi)
{
  *lo = (int) floor ((double) i * m / n);
  *hi = (int) ceil ((double) (i + 1) * m / n);
}

void
ref_avgpool_forward (double *out, const double *in, ax_shape s, int oh,
    int ow)
{
  ax_shape o = ax_shape_make (s.n, s.c, oh, ow);
  for (int n = 0; n < s.n; n++)
    for (int c = 0; c < s.c; c++)
      for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++) {
          int y0, y1, x0, x1;
          double sum = 0.0;
          adaptive_range (i, oh, s.h, &y0, &y1);
          adaptive_range (j, ow, s.w, &x0, &x1);
          for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
              sum += in[IDX (s, n, c, y, x)];
          out[IDX (o, n, c, i, j)] = sum / ((y1 - y0) * (x1 - x0));
        }
}

void
ref_avgpool_backward (double *din, const double *dout, ax_shape s, int oh,
    int ow)
{
  ax_shape o = ax_shape_make (s.n, s.c, oh, ow);
  memset (din, 0, ax_shape_count (s) * sizeof *din);
  for (int n = 0; n < s.n; n++)
    for (int c = 0; c < s.c; c++)
      for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++) {
          int y0, y1, x0, x1;
          adaptive_range (i, oh, s.h, &y0, &y1);
          adaptive_range (j, ow, s.w, &x0, &x1);
          double share = dout[IDX (o, n, c, i, j)] / ((y1 - y0) * (x1 - x0));
          for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
              din[IDX (s, n, c, y, x)] += share;
        }
}
