/* The network's parameters and buffers (batch norm's running statistics
 * and num_batches_tracked) by name in PyTorch layout, whatever the
 * placement (tower t holds a block of rows of each split tensor; each
 * data-parallel replica holds all of them: set writes every replica, get
 * reads replica 0), the step counter and dropout seed, and the
 * initialisations (paper, Xavier, PyTorch's default), drawn in PyTorch
 * layout from per-tensor RNG streams; batch norm starts as PyTorch's. */
#include "kernels/nn/net_internal.h"
#include "kernels/backend/layer_math.h"
#include "kernels/util/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --- parameters --- */

int
ax_net_n_params (const ax_net *net)
{
  return net ? net->n_params : 0;
}

const ax_param_info *
ax_net_param (const ax_net *net, int index)
{
  return net && index >= 0 && index < net->n_params ? &net->params[index] : NULL;
}

int
ax_net_param_find (const ax_net *net, const char *name)
{
  for (int i = 0; net && name && i < net->n_params; i++)
    if (strcmp (net->params[i].name, name) == 0)
      return i;
  return -1;
}

/* Tower t's part of parameter `index` in buffer `which` (NULL if none):
 * rows [row0, row0 + rows) of the PyTorch tensor, from element *offset. */
static ax_tensor *
param_part (ax_net *net, int t, int index, ax_param_buffer which,
    size_t *offset)
{
  const ax_param_info *info = &net->params[index];
  tower_layer *L = &net->towers[t].layers[info->layer];
  net_param_role role = net->roles[index];
  int bias = role == ROLE_BIAS;
  if (!L->runs || !L->has_params)
    return NULL;
  if (role == ROLE_RUNNING_MEAN || role == ROLE_RUNNING_VAR) {
    *offset = 0;                /* batch norm: never split over towers */
    return role == ROLE_RUNNING_MEAN ? &L->rmean : &L->rvar;
  }
  *offset = (size_t) L->row0 * (info->count / (size_t) info->dims[0]);
  switch (which) {
    case AX_PARAM_VALUE: return bias ? &L->b : &L->w;
    case AX_PARAM_GRAD: return bias ? &L->db : &L->dw;
    default: return bias ? &L->vb : &L->vw;
  }
}

static ax_status
param_access (ax_net *net, int index, ax_param_buffer which, size_t count,
    const void *host, const char *fn)
{
  if (!net || !host || index < 0 || index >= net->n_params
      || (unsigned) which > AX_PARAM_MOMENTUM)
    return net ? net_fail (net, AX_ERR_INVALID_ARG, "%s: no parameter %d or "
        "no buffer", fn, index) : AX_ERR_INVALID_ARG;
  if (net->params[index].dtype != AX_PARAM_F32)
    return net_fail (net, AX_ERR_INVALID_ARG, "%s: %s is an int64 buffer "
        "(ax_net_param_get_i64, _set_i64)", fn, net->params[index].name);
  if (which != AX_PARAM_VALUE && net->params[index].is_buffer)
    return net_fail (net, AX_ERR_INVALID_ARG, "%s: %s is a buffer: it has no "
        "gradient or momentum", fn, net->params[index].name);
  if (which != AX_PARAM_VALUE && !net->cfg.training)
    return net_fail (net, AX_ERR_INVALID_ARG, "%s: an inference net keeps no "
        "gradients or momentum", fn);
  if (count != net->params[index].count)
    return net_fail (net, AX_ERR_SHAPE, "%s: %s holds %zu values, not %zu", fn,
        net->params[index].name, net->params[index].count, count);
  return AX_OK;
}

ax_status
ax_net_param_get (ax_net *net, int index, ax_param_buffer which, float *host,
    size_t count)
{
  ax_status st = param_access (net, index, which, count, host, "param_get");
  /* The towers of one replica (replicas are equal). */
  for (int t = 0; st == AX_OK && t < net->n_split; t++) {
    size_t offset = 0;
    const ax_tensor *part = param_part (net, t, index, which, &offset);
    if (part)
      st = ax_tensor_download (host + offset, ax_tensor_bytes (part), part);
  }
  return st;
}

ax_status
ax_net_param_set (ax_net *net, int index, ax_param_buffer which,
    const float *host, size_t count)
{
  ax_status st = param_access (net, index, which, count, host, "param_set");
  for (size_t i = 0; st == AX_OK && i < count; i++)
    if (!ax_isfinite (host[i]))
      return net_fail (net, AX_ERR_NONFINITE, "param_set: %s[%zu] is %g",
          net->params[index].name, i, (double) host[i]);
  for (size_t i = 0; st == AX_OK && net->roles[index] == ROLE_RUNNING_VAR
      && i < count; i++)
    if (host[i] < 0.0f)
      return net_fail (net, AX_ERR_INVALID_ARG, "param_set: %s[%zu] is %g: "
          "a variance is not negative", net->params[index].name, i,
          (double) host[i]);
  for (int t = 0; st == AX_OK && t < net->n_towers; t++) {
    size_t offset = 0;
    ax_tensor *part = param_part (net, t, index, which, &offset);
    if (part)
      st = ax_tensor_upload (part, host + offset, ax_tensor_bytes (part));
  }
  return st;
}

/* num_batches_tracked: one host counter per batch-norm layer. */
static ax_status
i64_access (ax_net *net, int index, size_t count, const void *host,
    const char *fn)
{
  if (!net || !host || index < 0 || index >= net->n_params)
    return net ? net_fail (net, AX_ERR_INVALID_ARG, "%s: no parameter %d",
        fn, index) : AX_ERR_INVALID_ARG;
  if (net->params[index].dtype != AX_PARAM_I64)
    return net_fail (net, AX_ERR_INVALID_ARG, "%s: %s is not an int64 "
        "buffer", fn, net->params[index].name);
  if (count != net->params[index].count)
    return net_fail (net, AX_ERR_SHAPE, "%s: %s holds %zu values, not %zu", fn,
        net->params[index].name, net->params[index].count, count);
  return AX_OK;
}

ax_status
ax_net_param_get_i64 (ax_net *net, int index, int64_t *host, size_t count)
{
  ax_status st = i64_access (net, index, count, host, "param_get_i64");
  if (st == AX_OK)
    host[0] = net->batches_tracked[net->params[index].layer];
  return st;
}

ax_status
ax_net_param_set_i64 (ax_net *net, int index, const int64_t *host,
    size_t count)
{
  ax_status st = i64_access (net, index, count, host, "param_set_i64");
  if (st == AX_OK && host[0] < 0)
    return net_fail (net, AX_ERR_INVALID_ARG, "param_set_i64: %s = %lld: a "
        "count is not negative", net->params[index].name,
        (long long) host[0]);
  if (st == AX_OK)
    net->batches_tracked[net->params[index].layer] = host[0];
  return st;
}

uint64_t
ax_net_step (const ax_net *net)
{
  return net ? net->step : 0;
}

void
ax_net_set_step (ax_net *net, uint64_t step)
{
  if (net)
    net->step = step;
}

uint64_t
ax_net_dropout_seed (const ax_net *net)
{
  return net ? net->dropout_seed : 0;
}

void
ax_net_set_dropout_seed (ax_net *net, uint64_t seed)
{
  if (net)
    net->dropout_seed = seed;
}

/* --- initialisation --- */

/* The next n values of parameter p's initialisation (its values in order
 * come from `rng`, n at a time). */
static void
init_values (float *v, size_t n, const ax_param_info *p,
    const ax_layer_spec *l, ax_init init, ax_rng *rng)
{
  int bias = p->ndim == 1;
  size_t receptive = p->ndim == 4 ? (size_t) p->dims[2] * p->dims[3] : 1;
  double fan_in = bias ? 0 : (double) p->dims[1] * receptive;
  double fan_out = (double) p->dims[0] * receptive;
  if (bias) {
    /* The bias's fan-in is its weight's: the weight precedes it. */
    const ax_param_info *w = p - 1;
    fan_in = (double) w->dims[1] * (w->ndim == 4 ? w->dims[2] * w->dims[3] : 1);
  }
  double bound = init == AX_INIT_XAVIER ? sqrt (6.0 / (fan_in + fan_out))
      : 1.0 / sqrt (fan_in);
  for (size_t i = 0; i < n; i++) {
    if (init == AX_INIT_PAPER)
      v[i] = bias ? l->bias_init : (float) (0.01 * ax_rng_normal (rng));
    else if (bias && init == AX_INIT_XAVIER)
      v[i] = 0.0f;
    else
      v[i] = (float) (bound * (2.0 * ax_rng_uniform (rng) - 1.0));
  }
}

/* Values [first, first + n) of parameter `index` (in PyTorch's element
 * order) from host, on every tower that holds some of them: ax_net_init
 * writes a tensor in pieces, so that it stages a few megabytes rather than
 * the largest tensor (VGG-16's fc6: 411 MB, which was the peak of a
 * training run's resident memory). */
static ax_status
param_set_range (ax_net *net, int index, size_t first, const float *host,
    size_t n)
{
  ax_status st = AX_OK;
  for (int t = 0; st == AX_OK && t < net->n_towers; t++) {
    size_t off = 0;
    ax_tensor *part = param_part (net, t, index, AX_PARAM_VALUE, &off);
    if (!part)
      continue;
    size_t end = off + ax_shape_count (part->shape);
    size_t a = first > off ? first : off, b = first + n < end ? first + n : end;
    if (a >= b)
      continue;
    ax_tensor piece = *part;
    piece.shape = ax_shape_make (1, 1, 1, (int) (b - a));
    piece.data = (char *) part->data + (a - off) * sizeof (float);
    st = ax_tensor_upload (&piece, host + (a - first),
        (b - a) * sizeof (float));
  }
  return st;
}

ax_status
net_reset_running_var (ax_net *net)
{
  ax_status st = AX_OK;
  for (int i = 0; i < net->n_params && st == AX_OK; i++) {
    if (net->roles[i] != ROLE_RUNNING_VAR)
      continue;
    size_t n = net->params[i].count;
    float *ones = malloc (n * sizeof *ones);
    if (!ones)
      return net_fail (net, AX_ERR_NO_MEMORY, "running variance");
    for (size_t k = 0; k < n; k++)
      ones[k] = 1.0f;
    st = ax_net_param_set (net, i, AX_PARAM_VALUE, ones, n);
    free (ones);
  }
  return st;
}

ax_status
ax_net_init (ax_net *net, ax_init init, uint64_t seed)
{
  enum { PIECE = 1 << 20 };     /* floats staged at a time */
  if (!net || (unsigned) init > AX_INIT_TORCH)
    return AX_ERR_INVALID_ARG;
  float *v = malloc (PIECE * sizeof *v);
  if (!v)
    return net_fail (net, AX_ERR_NO_MEMORY, "init: %d floats", PIECE);
  ax_status st = AX_OK;
  for (int i = 0; i < net->n_params && st == AX_OK; i++) {
    const ax_param_info *p = &net->params[i];
    if (p->dtype == AX_PARAM_I64) {
      const int64_t zero = 0;
      st = ax_net_param_set_i64 (net, i, &zero, 1);
      continue;
    }
    ax_rng rng;
    ax_rng_seed_stream (&rng, seed, (uint64_t) i);
    for (size_t first = 0; first < p->count && st == AX_OK; first += PIECE) {
      size_t n = p->count - first < PIECE ? p->count - first : PIECE;
      if (net->spec.layers[p->layer].kind == AX_LAYER_BATCHNORM) {
        /* PyTorch's reset_parameters and reset_running_stats, whatever
         * the scheme: weight 1, bias 0, running mean 0, running variance 1 */
        net_param_role r = net->roles[i];
        float value = r == ROLE_WEIGHT || r == ROLE_RUNNING_VAR ? 1.0f : 0.0f;
        for (size_t k = 0; k < n; k++)
          v[k] = value;
      } else {
        init_values (v, n, p, &net->spec.layers[p->layer], init, &rng);
      }
      st = param_set_range (net, i, first, v, n);
    }
  }
  free (v);
  for (int t = 0; t < net->n_towers && st == AX_OK; t++)
    if (net->towers[t].moms_all.data)
      st = ax_tensor_fill (&net->towers[t].moms_all, 0.0f);
  net->step = 0;
  return st;
}
