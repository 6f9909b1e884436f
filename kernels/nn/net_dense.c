/* Dense evaluation: the fully convolutional form of a net (net_dense.h). */
#include "kernels/nn/net_dense.h"
#include "kernels/backend/layer_math.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ax_status
dense_fail (char *err, size_t err_size, ax_status st, const char *fmt, ...)
{
  if (err && err_size) {
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err, err_size, fmt, ap);
    va_end (ap);
  }
  return st;
}

/* Where the features end in `s`: the index of the first average pool or
 * flatten (-1 if none), and of the first fully connected layer. */
static void
feature_end (const ax_net_spec *s, int *end, int *first_fc)
{
  *end = *first_fc = -1;
  for (int i = 0; i < s->n_layers; i++) {
    ax_layer_kind k = s->layers[i].kind;
    if (*end < 0 && (k == AX_LAYER_AVGPOOL || k == AX_LAYER_FLATTEN))
      *end = i;
    if (*first_fc < 0 && k == AX_LAYER_FC)
      *first_fc = i;
  }
}

ax_status
ax_net_dense_spec (const ax_net *src, int img_h, int img_w,
    ax_net_spec *dense, char *err, size_t err_size)
{
  const ax_net_spec *s = ax_net_get_spec (src);
  if (!s || !dense || img_h < 1 || img_w < 1)
    return dense_fail (err, err_size, AX_ERR_INVALID_ARG, "dense: bad "
        "arguments");
  int end, first_fc;
  feature_end (s, &end, &first_fc);
  if (end < 1 || first_fc < end)
    return dense_fail (err, err_size, AX_ERR_UNSUPPORTED, "dense: %s has no "
        "convolutional features followed by fully connected layers", s->arch);
  if (img_h < s->in_h || img_w < s->in_w)
    return dense_fail (err, err_size, AX_ERR_SHAPE, "dense evaluation of a "
        "%dx%d image: the network needs at least its input size %dx%d",
        img_w, img_h, s->in_w, s->in_h);
  /* fc6's kernel: the features' map at the training size */
  ax_shape map;
  ax_status st = ax_net_activation_shape (src, s->layers[end - 1].name, &map);
  if (st != AX_OK)
    return dense_fail (err, err_size, st, "dense: no shape for %s",
        s->layers[end - 1].name);
  *dense = *s;
  dense->in_h = img_h;
  dense->in_w = img_w;
  dense->n_layers = 0;
  for (int i = 0; i < s->n_layers; i++) {
    const ax_layer_spec *l = &s->layers[i];
    ax_layer_spec d = *l;
    if (l->kind == AX_LAYER_DROPOUT || (i >= end && i < first_fc))
      continue;                 /* identity in evaluation; pool and flatten
                                 * go into fc6's kernel */
    if (l->kind == AX_LAYER_FC) {
      int first = i == first_fc;
      memset (&d.p, 0, sizeof d.p);
      d.kind = AX_LAYER_CONV;
      d.p.conv = (ax_conv_params) { l->p.fc.out_features, first ? map.h : 1,
        first ? map.w : 1, 1, 0, 1, l->p.fc.has_bias };
    } else if (i > first_fc && l->kind != AX_LAYER_RELU) {
      return dense_fail (err, err_size, AX_ERR_UNSUPPORTED, "dense: layer %s "
          "after the fully connected layers", l->name);
    }
    dense->layers[dense->n_layers++] = d;
  }
  return AX_OK;
}

/* fc6's weight [out, c * ph * pw] (after an adaptive pool from mh x mw to
 * ph x pw) as the equivalent convolution weight [out, c, mh, mw]: each
 * weight spread over its pool window (ax_adaptive_window, the pool's own
 * formula). */
static void
fold_fc6 (float *conv, const float *fc, int out, int c, int ph, int pw,
    int mh, int mw)
{
  memset (conv, 0, (size_t) out * c * mh * mw * sizeof *conv);
  for (int o = 0; o < out; o++)
    for (int k = 0; k < c; k++) {
      const float *w = fc + ((size_t) o * c + k) * ph * pw;
      float *d = conv + ((size_t) o * c + k) * mh * mw;
      for (int i = 0; i < ph; i++)
        for (int j = 0; j < pw; j++) {
          int y0, y1, x0, x1;
          ax_adaptive_window (i, ph, mh, &y0, &y1);
          ax_adaptive_window (j, pw, mw, &x0, &x1);
          float share = w[i * pw + j] / (float) ((y1 - y0) * (x1 - x0));
          for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
              d[y * mw + x] += share;
        }
    }
}

ax_status
ax_net_dense_load (ax_net *dense, ax_net *src)
{
  if (!dense || !src)
    return AX_ERR_INVALID_ARG;
  ax_status st = AX_OK;
  for (int p = 0; p < ax_net_n_params (dense) && st == AX_OK; p++) {
    const ax_param_info *d = ax_net_param (dense, p);
    int q = ax_net_param_find (src, d->name);
    const ax_param_info *s = q >= 0 ? ax_net_param (src, q) : NULL;
    if (!s || s->count > ((size_t) -1) / sizeof (float))
      return AX_ERR_INVALID_ARG;
    if (d->dtype == AX_PARAM_I64) {   /* batch norm's step counter */
      int64_t n = 0;
      st = s->dtype == AX_PARAM_I64 ? ax_net_param_get_i64 (src, q, &n, 1)
          : AX_ERR_SHAPE;
      if (st == AX_OK)
        st = ax_net_param_set_i64 (dense, p, &n, 1);
      continue;
    }
    const ax_net_spec *ss = ax_net_get_spec (src);
    int end, first_fc;
    feature_end (ss, &end, &first_fc);
    int fold = first_fc >= 0 && s->layer == first_fc && s->ndim == 2
        && d->ndim == 4;
    float *v = malloc (s->count * sizeof *v);
    float *w = fold ? malloc (d->count * sizeof *w) : v;
    if (!v || !w) {
      free (v);
      return AX_ERR_NO_MEMORY;
    }
    st = ax_net_param_get (src, q, AX_PARAM_VALUE, v, s->count);
    if (st == AX_OK && fold) {
      /* fc6 from the ordinary net: fold its average pool (the pool's
       * output, or the map itself where there is no pool) */
      int ph = d->dims[2], pw = d->dims[3];
      if (ss->layers[end].kind == AX_LAYER_AVGPOOL) {
        ph = ss->layers[end].p.avgpool.out_h;
        pw = ss->layers[end].p.avgpool.out_w;
      }
      size_t c = (size_t) d->dims[1];
      if (c * (size_t) ph * (size_t) pw != (size_t) s->dims[1]
          || s->dims[0] != d->dims[0])
        st = AX_ERR_SHAPE;
      else
        fold_fc6 (w, v, d->dims[0], (int) c, ph, pw, d->dims[2], d->dims[3]);
    } else if (st == AX_OK && d->count != s->count) {
      st = AX_ERR_SHAPE;
    }
    if (st == AX_OK)
      st = ax_net_param_set (dense, p, AX_PARAM_VALUE, w, d->count);
    if (w != v)
      free (w);
    free (v);
  }
  return st;
}

size_t
ax_net_dense_map_count (const ax_net *dense)
{
  const ax_net_spec *s = ax_net_get_spec (dense);
  ax_shape map;
  if (!s || s->n_layers < 1 || ax_net_activation_shape (dense,
          s->layers[s->n_layers - 1].name, &map) != AX_OK)
    return 0;
  return ax_shape_count (map);
}

ax_status
ax_net_dense_scores (ax_net *dense, const float *images, size_t count,
    float *map, float *scores)
{
  const ax_net_spec *s = ax_net_get_spec (dense);
  if (!s || !images || !map || !scores)
    return AX_ERR_INVALID_ARG;
  ax_shape m;
  const char *last = s->layers[s->n_layers - 1].name;
  ax_status st = ax_net_activation_shape (dense, last, &m);
  if (st == AX_OK)
    st = ax_net_forward (dense, images, count, 0);
  if (st == AX_OK)
    st = ax_net_activation (dense, last, map, ax_shape_count (m));
  if (st != AX_OK)
    return st;
  size_t hw = (size_t) m.h * (size_t) m.w;
  for (int n = 0; n < m.n; n++)
    for (int c = 0; c < m.c; c++) {
      const float *v = map + ((size_t) n * m.c + c) * hw;
      double sum = 0.0;
      for (size_t k = 0; k < hw; k++)
        sum += v[k];
      scores[(size_t) n * m.c + c] = (float) (sum / (double) hw);
    }
  return AX_OK;
}
