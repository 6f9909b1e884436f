/* The VGG paper's test-time evaluation (net_eval.h). */
#include "kernels/nn/net_eval.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/image/classify.h"
#include "kernels/image/image_crop.h"
#include "kernels/image/image_resize.h"
#include "kernels/nn/net_dense.h"

#define N_DENSE_NETS 4

typedef struct {
  int h, w;
  ax_net *net;
  uint64_t used;                /* the evaluator's clock at the last use */
} dense_entry;

struct ax_eval {
  ax_net *net;
  ax_backend *be;
  ax_eval_views views;
  int scales[AX_EVAL_MAX_SCALES], n_scales;
  float lut[3][256];
  int in, classes;
  ax_resize_plan plan;
  int have_plan;
  uint8_t *rgb, *mirror, *crop; /* the rescaled image, its mirror, a crop */
  size_t rgb_bytes, mirror_bytes;
  float *dense_in, *map;        /* dense input (image and mirror), score map */
  size_t dense_in_floats, map_floats;
  float *crops, *logits;        /* AX_EVAL_CROPS inputs and their logits */
  float *part;                  /* n_classes: one scale's probabilities */
  float *scores;                /* 2 x n_classes: dense, image and mirror */
  dense_entry dense[N_DENSE_NETS];
  uint64_t clock;
  char err[512];
};

static ax_status
eval_fail (ax_eval *e, ax_status st, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (e->err, sizeof e->err, fmt, ap);
  va_end (ap);
  return st;
}

const char *
ax_eval_views_name (ax_eval_views views)
{
  switch (views) {
    case AX_EVAL_DENSE: return "dense";
    case AX_EVAL_MULTI_CROP: return "multi-crop";
    case AX_EVAL_COMBINED: return "combined";
  }
  return "unknown";
}

ax_status
ax_eval_parse_scales (const char *text, int min_scale,
    int scales[AX_EVAL_MAX_SCALES], int *n_scales, char *err, size_t err_size)
{
  const char *p = text;
  int n = 0;
  if (err && err_size)
    err[0] = '\0';
  if (!text || !scales || !n_scales)
    return AX_ERR_INVALID_ARG;
  for (;;) {
    while (*p == ' ')
      p++;
    if (*p < '0' || *p > '9') {
      if (err)
        snprintf (err, err_size, "scales \"%s\": expected a number at "
            "\"%s\" (write them as 256,384,512)", text, p);
      return AX_ERR_INVALID_ARG;
    }
    long v = 0;
    while (*p >= '0' && *p <= '9' && v <= 4096)
      v = v * 10 + (*p++ - '0');
    if (v < min_scale || v > 4096) {
      if (err)
        snprintf (err, err_size, "scales \"%s\": %ld is outside [%d, 4096] "
            "(a test scale is the shorter side the image is rescaled to, "
            "at least the network's input)", text, v, min_scale);
      return AX_ERR_INVALID_ARG;
    }
    if (n == AX_EVAL_MAX_SCALES) {
      if (err)
        snprintf (err, err_size, "scales \"%s\": more than %d", text,
            AX_EVAL_MAX_SCALES);
      return AX_ERR_INVALID_ARG;
    }
    scales[n++] = (int) v;
    while (*p == ' ')
      p++;
    if (*p == '\0')
      break;
    if (*p != ',') {
      if (err)
        snprintf (err, err_size, "scales \"%s\": unexpected \"%s\" (write "
            "them as 256,384,512)", text, p);
      return AX_ERR_INVALID_ARG;
    }
    p++;
  }
  *n_scales = n;
  return AX_OK;
}

void
ax_eval_destroy (ax_eval *e)
{
  if (!e)
    return;
  for (int i = 0; i < N_DENSE_NETS; i++)
    ax_net_destroy (e->dense[i].net);
  if (e->have_plan)
    ax_resize_plan_clear (&e->plan);
  free (e->rgb);
  free (e->mirror);
  free (e->crop);
  free (e->dense_in);
  free (e->map);
  free (e->crops);
  free (e->logits);
  free (e->part);
  free (e->scores);
  free (e);
}

ax_status
ax_eval_create (ax_net *net, ax_backend *be, ax_eval_views views,
    const int *scales, int n_scales, const float lut[3][256], ax_eval **out,
    char *err, size_t err_size)
{
  const ax_net_spec *s = ax_net_get_spec (net);
  if (err && err_size)
    err[0] = '\0';
  if (!s || !be || !scales || !lut || !out || n_scales < 1
      || n_scales > AX_EVAL_MAX_SCALES || views < AX_EVAL_DENSE
      || views > AX_EVAL_COMBINED)
    return AX_ERR_INVALID_ARG;
  *out = NULL;
  ax_eval *e = calloc (1, sizeof *e);
  if (!e)
    return AX_ERR_NO_MEMORY;
  e->net = net;
  e->be = be;
  e->views = views;
  e->n_scales = n_scales;
  memcpy (e->scales, scales, (size_t) n_scales * sizeof *scales);
  memcpy (e->lut, lut, sizeof e->lut);
  e->in = s->in_h;
  e->classes = s->n_classes;
  ax_status st = AX_OK;
  ax_shape in;
  if (s->in_h != s->in_w)
    st = eval_fail (e, AX_ERR_UNSUPPORTED, "the network's input is not "
        "square");
  for (int i = 0; st == AX_OK && i < n_scales; i++)
    if (scales[i] < e->in)
      st = eval_fail (e, AX_ERR_INVALID_ARG, "test scale %d is below the "
          "network's input size %d", scales[i], e->in);
  if (st == AX_OK && (views & AX_EVAL_MULTI_CROP)
      && (ax_net_activation_shape (net, s->layers[0].name, &in) != AX_OK
          || in.n != AX_EVAL_CROPS))
    st = eval_fail (e, AX_ERR_INVALID_ARG, "multi-crop evaluation needs a "
        "net of batch %d (its %d crops of a scale)", AX_EVAL_CROPS,
        AX_EVAL_CROPS);
  if (st == AX_OK) {
    size_t crop = (size_t) 3 * e->in * e->in;
    e->crop = malloc (crop);
    e->part = malloc ((size_t) e->classes * sizeof *e->part);
    e->scores = malloc ((size_t) 2 * e->classes * sizeof *e->scores);
    if (views & AX_EVAL_MULTI_CROP) {
      e->crops = malloc (AX_EVAL_CROPS * crop * sizeof *e->crops);
      e->logits = malloc ((size_t) AX_EVAL_CROPS * e->classes
          * sizeof *e->logits);
    }
    if (!e->crop || !e->part || !e->scores || ((views & AX_EVAL_MULTI_CROP)
            && (!e->crops || !e->logits)))
      st = eval_fail (e, AX_ERR_NO_MEMORY, "out of memory");
  }
  if (st != AX_OK) {
    if (err)
      snprintf (err, err_size, "%s", e->err);
    ax_eval_destroy (e);
    return st;
  }
  *out = e;
  return AX_OK;
}

const char *
ax_eval_last_error (const ax_eval *e)
{
  return e ? e->err : "";
}

/* Grows *buf to at least `bytes`. */
static int
grow (void **buf, size_t *have, size_t bytes)
{
  if (bytes <= *have)
    return 0;
  void *p = realloc (*buf, bytes);
  if (!p)
    return -1;
  *buf = p;
  *have = bytes;
  return 0;
}

/* The dense net for h x w images: kept, or planned now and loaded from a
 * kept one (or the ordinary net), replacing the least recently used. */
static ax_status
dense_net (ax_eval *e, int h, int w, ax_net **out)
{
  dense_entry *slot = &e->dense[0], *source = NULL;
  e->clock++;
  for (int i = 0; i < N_DENSE_NETS; i++) {
    dense_entry *d = &e->dense[i];
    if (d->net && d->h == h && d->w == w) {
      d->used = e->clock;
      *out = d->net;
      return AX_OK;
    }
    if (d->net)
      source = d;
    if (!d->net || (slot->net && d->used < slot->used))
      slot = d;
  }
  ax_net_spec spec;
  char err[256];
  ax_status st = ax_net_dense_spec (e->net, h, w, &spec, err, sizeof err);
  if (st != AX_OK)
    return eval_fail (e, st, "%s", err);
  ax_net_config cfg = { 2, AX_PLACE_ONE, 0, { e->be } };
  ax_net *net = NULL;
  st = ax_net_create (&spec, &cfg, &net, err, sizeof err);
  if (st != AX_OK)
    return eval_fail (e, st, "dense net for %dx%d images: %s", w, h, err);
  st = ax_net_dense_load (net, source && source != slot ? source->net
      : e->net);
  if (st != AX_OK) {
    const char *why = ax_net_last_error (net)[0] ? ax_net_last_error (net)
        : ax_net_last_error (e->net);
    eval_fail (e, st, "dense net for %dx%d images: loading the weights: %s%s",
        w, h, why[0] ? why : "", why[0] ? "" : ax_status_str (st));
    ax_net_destroy (net);
    return st;
  }
  ax_net_destroy (slot->net);
  *slot = (dense_entry) { h, w, net, e->clock };
  *out = net;
  return AX_OK;
}

/* Dense evaluation of the rescaled image (e->rgb, w x h) into e->part. */
static ax_status
eval_dense (ax_eval *e, int w, int h)
{
  ax_net *d;
  ax_status st = dense_net (e, h, w, &d);
  if (st != AX_OK)
    return st;
  size_t one = (size_t) 3 * h * w, map = ax_net_dense_map_count (d);
  if (grow ((void **) &e->dense_in, &e->dense_in_floats, 2 * one
          * sizeof (float)) != 0 || grow ((void **) &e->map, &e->map_floats,
          map * sizeof (float)) != 0)
    return eval_fail (e, AX_ERR_NO_MEMORY, "out of memory");
  ax_crop_flip_rgb (e->mirror, w * 3, e->rgb, w * 3, 0, 0, w, h, 1);
  ax_rgb_to_chw (e->dense_in, e->rgb, w * 3, w, h, e->lut);
  ax_rgb_to_chw (e->dense_in + one, e->mirror, w * 3, w, h, e->lut);
  st = ax_net_dense_scores (d, e->dense_in, 2 * one, e->map, e->scores);
  if (st != AX_OK)
    return eval_fail (e, st, "dense evaluation: %s", ax_net_last_error (d));
  ax_softmax_average (e->part, e->scores, 2, e->classes);
  return AX_OK;
}

/* Multi-crop evaluation of the rescaled image into e->part. */
static ax_status
eval_multi_crop (ax_eval *e, int w, int h)
{
  ax_crop_pos pos[AX_EVAL_CROPS];
  size_t one = (size_t) 3 * e->in * e->in;
  ax_grid_crop_pos (pos, AX_EVAL_GRID, w, h, e->in);
  for (int v = 0; v < AX_EVAL_CROPS; v++) {
    ax_crop_flip_rgb (e->crop, e->in * 3, e->rgb, w * 3, pos[v].x, pos[v].y,
        e->in, e->in, pos[v].mirror);
    ax_rgb_to_chw (e->crops + (size_t) v * one, e->crop, e->in * 3, e->in,
        e->in, e->lut);
  }
  ax_status st = ax_net_forward (e->net, e->crops, AX_EVAL_CROPS * one, 0);
  if (st == AX_OK)
    st = ax_net_logits (e->net, e->logits, (size_t) AX_EVAL_CROPS
        * e->classes);
  if (st != AX_OK)
    return eval_fail (e, st, "multi-crop evaluation: %s",
        ax_net_last_error (e->net));
  ax_softmax_average (e->part, e->logits, AX_EVAL_CROPS, e->classes);
  return AX_OK;
}

ax_status
ax_eval_image (ax_eval *e, const uint8_t *rgb, int w, int h, int stride,
    float *probs)
{
  if (!e || !rgb || !probs || w < 1 || h < 1 || stride < 3 * w)
    return AX_ERR_INVALID_ARG;
  e->err[0] = '\0';
  int parts = (e->views == AX_EVAL_COMBINED ? 2 : 1) * e->n_scales;
  memset (probs, 0, (size_t) e->classes * sizeof *probs);
  for (int q = 0; q < e->n_scales; q++) {
    int sw, sh;
    if (ax_resize_scaled_size (&sw, &sh, w, h, e->scales[q]) != 0)
      return eval_fail (e, AX_ERR_INVALID_ARG, "a %dx%d image cannot be "
          "rescaled to %d", w, h, e->scales[q]);
    size_t bytes = (size_t) sw * sh * 3;
    if (grow ((void **) &e->rgb, &e->rgb_bytes, bytes) != 0
        || grow ((void **) &e->mirror, &e->mirror_bytes, bytes) != 0)
      return eval_fail (e, AX_ERR_NO_MEMORY, "out of memory");
    e->have_plan = 0;
    if (ax_resize_plan_update_window (&e->plan, w, h, sw, sh, 0, 0, sw, sh)
        != 0)
      return eval_fail (e, AX_ERR_NO_MEMORY, "resize plan for %dx%d -> "
          "%dx%d", w, h, sw, sh);
    e->have_plan = 1;
    ax_resize_rgb (e->rgb, sw * 3, rgb, stride, &e->plan);
    for (int v = AX_EVAL_DENSE; v <= AX_EVAL_MULTI_CROP; v <<= 1) {
      if (!(e->views & v))
        continue;
      ax_status st = v == AX_EVAL_DENSE ? eval_dense (e, sw, sh)
          : eval_multi_crop (e, sw, sh);
      if (st != AX_OK)
        return st;
      for (int c = 0; c < e->classes; c++)
        probs[c] += e->part[c] / (float) parts;
    }
  }
  return AX_OK;
}
