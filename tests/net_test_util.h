/* Comparing two nets in the core's tests (test_net, test_data_parallel,
 * the GPU suite): the normalised error of float arrays and of every
 * parameter buffer. Include after tests/ax_test.h. */
#ifndef AX_NET_TEST_UTIL_H
#define AX_NET_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/nn/net.h"
#include "kernels/nn/trainer.h"

/* A net call that must succeed, with the net's message when it does not. */
#define NET_OK(net, expr) do {                                            \
    ax_status st_ = (expr);                                               \
    AX_CHECK (st_ == AX_OK, "%s: %s (%s)", #expr, ax_status_str (st_),    \
        ax_net_last_error (net));                                         \
  } while (0)

/* One training step on `count` floats of images: forward with dropout,
 * the loss into *loss, backward and, if `update`, the paper's SGD with lr
 * 0.01, momentum 0.9, weight decay 0.0005. */
static inline void
ax_test_train_step (ax_net *net, const float *x, size_t count,
    const int32_t *labels, int batch, int update, float *loss)
{
  ax_sgd_step sgd = { 0.01f, 0.9f, 0.0005f };
  if (update) {
    /* the trainer's step: the one definition of forward, loss, backward,
     * update */
    ax_trainer_result r;
    (void) count;
    NET_OK (net, ax_trainer_net_step (net, x, labels, batch, &sgd, NULL, &r));
    *loss = r.loss;
    return;
  }
  NET_OK (net, ax_net_forward (net, x, count, 1));
  NET_OK (net, ax_net_loss (net, labels, (size_t) batch, loss));
  NET_OK (net, ax_net_backward (net));
}

/* max |a - b| / max |b| (the plain max |a - b| where b is all zero); a NaN
 * anywhere makes it NaN-like large, never 0. */
static inline double
ax_test_rel_error (const float *a, const float *b, size_t n)
{
  double err = 0.0, scale = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs ((double) a[i] - (double) b[i]);
    if (!(d <= err))
      err = d;
    scale = fmax (scale, fabs ((double) b[i]));
  }
  return scale > 0.0 ? err / scale : err;
}

/* Buffer `which` of parameter `p` in a new array (free it). */
static inline float *
ax_test_param_values (ax_net *net, int p, ax_param_buffer which)
{
  size_t n = ax_net_param (net, p)->count;
  float *v = calloc (n, sizeof *v);
  NET_OK (net, ax_net_param_get (net, p, which, v, n));
  return v;
}

/* 1 if parameter p has buffer `which` as floats: not an int64 buffer
 * (num_batches_tracked), and no gradient or momentum of a buffer (batch
 * norm's running statistics). */
static inline int
ax_test_param_has (ax_net *net, int p, ax_param_buffer which)
{
  const ax_param_info *i = ax_net_param (net, p);
  return i->dtype == AX_PARAM_F32 && (which == AX_PARAM_VALUE
      || !i->is_buffer);
}

/* The largest ax_test_rel_error of buffer `which` over every parameter of
 * two nets of one spec (b is the reference); *worst names its parameter. */
static inline double
ax_test_params_error (ax_net *a, ax_net *b, ax_param_buffer which,
    const char **worst)
{
  double most = 0.0;
  for (int p = 0; p < ax_net_n_params (b); p++) {
    if (!ax_test_param_has (b, p, which))
      continue;
    size_t n = ax_net_param (b, p)->count;
    float *x = ax_test_param_values (a, p, which);
    float *y = ax_test_param_values (b, p, which);
    double e = ax_test_rel_error (x, y, n);
    if (!(e <= most)) {
      most = e;
      *worst = ax_net_param (b, p)->name;
    }
    free (x);
    free (y);
  }
  return most;
}

/* A reference's value of a named record (count floats), or NULL after a
 * failed check: how the fixture tests look up PyTorch's arrays. */
typedef const float *(*ax_test_lookup) (const char *name, size_t count);

/* The largest ax_test_rel_error of buffer `which` over every parameter
 * against the reference records "<prefix><parameter name>" (infinite for a
 * missing one); *worst names its parameter. */
static inline double
ax_test_params_vs (ax_net *net, ax_param_buffer which, const char *prefix,
    ax_test_lookup lookup, const char **worst)
{
  double most = 0.0;
  char name[AX_NAME_MAX + 48];
  *worst = "";
  for (int p = 0; p < ax_net_n_params (net); p++) {
    const ax_param_info *i = ax_net_param (net, p);
    if (!ax_test_param_has (net, p, which))
      continue;
    int len = snprintf (name, sizeof name, "%s%s", prefix, i->name);
    const float *want = len < (int) sizeof name ? lookup (name, i->count)
        : NULL;
    float *got = ax_test_param_values (net, p, which);
    double e = want ? ax_test_rel_error (got, want, i->count) : INFINITY;
    if (getenv ("AX_TEST_VERBOSE"))     /* every tensor, when debugging */
      printf ("    %s: %.2e (got[0] %g, want[0] %g)\n", name, e,
          (double) got[0], want ? (double) want[0] : 0.0);
    if (!(e <= most)) {
      most = e;
      *worst = i->name;
    }
    free (got);
  }
  return most;
}

/* Deterministic values in [-scale, scale] by integer hashing, exact in
 * float64: gen_values in tests/data/gen_net_fixture.py and
 * gen_vgg_fixture.py, so that weights and images need not be stored. */
static inline void
ax_test_gen_values (float *v, size_t count, uint64_t stream, double scale)
{
  for (size_t i = 0; i < count; i++) {
    uint64_t h = ((uint64_t) i * 2654435761u + stream * 40503u + 12345u)
        & 0xffffffffu;
    h ^= h >> 15;
    h = (h * 2246822519u) & 0xffffffffu;
    h ^= h >> 13;
    double u = (double) ((int64_t) (h % 20001u) - 10000);
    v[i] = (float) (u / 10000.0 * scale);
  }
}

/* The generators' fill_formula: parameter p is stream p, weights in
 * +-sqrt(3 / fan_in), biases in +-0.1. Buffers (batch norm's running
 * statistics) keep their values, and count in p. */
static inline void
ax_test_set_formula_params (ax_net *net)
{
  for (int p = 0; p < ax_net_n_params (net); p++) {
    const ax_param_info *i = ax_net_param (net, p);
    if (i->is_buffer)
      continue;
    double scale = i->ndim == 1 ? 0.1
        : sqrt (3.0 / (double) (i->count / (size_t) i->dims[0]));
    float *v = malloc (i->count * sizeof *v);
    if (!v) {
      AX_CHECK (0, "out of memory");
      return;
    }
    ax_test_gen_values (v, i->count, (uint64_t) p, scale);
    const ax_net_spec *spec = ax_net_get_spec (net);
    if (spec->layers[i->layer].kind == AX_LAYER_BATCHNORM
        && strstr (i->name, ".weight"))
      for (size_t k = 0; k < i->count; k++)
        v[k] += 1.0f;           /* batch-norm scales about 1 */
    NET_OK (net, ax_net_param_set (net, p, AX_PARAM_VALUE, v, i->count));
    free (v);
  }
}

/* Every dropout layer of a spec drops with probability p. */
static inline void
ax_test_set_dropout (ax_net_spec *s, float p)
{
  for (int i = 0; i < s->n_layers; i++)
    if (s->layers[i].kind == AX_LAYER_DROPOUT)
      s->layers[i].p.dropout.p = p;
}

#endif
