/* The network object: derives every shape from the spec, decides where each
 * activation lives when the net runs as towers, plans slabs and kernels once
 * per (spec, batch, placement) on every tower or replica, and fronts the
 * passes (loss, logits, activations, the replicas' gradient all-reduce).
 * The passes themselves are in net_towers.c, the parameters in
 * net_params.c. */
#include "kernels/nn/net_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLAB_PARAM, SLAB_GRAD, SLAB_MOM, SLAB_ACT, N_SLABS };

ax_status
net_fail (ax_net *net, ax_status status, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (net->err, sizeof net->err, fmt, ap);
  va_end (ap);
  return status;
}

const char *
ax_net_last_error (const ax_net *net)
{
  return net ? net->err : "";
}

const ax_net_spec *
ax_net_get_spec (const ax_net *net)
{
  return net ? &net->spec : NULL;
}

/* Layers that move no data: flatten, and an adaptive average pool to its
 * input's own size (the identity: torchvision's AlexNet at 224, VGG at
 * 224). Shapes must be derived. */
static int
is_view (const ax_net *net, int i)
{
  ax_layer_kind kind = net->spec.layers[i].kind;
  ax_shape in = net->shapes[i], out = net->shapes[i + 1];
  return kind == AX_LAYER_FLATTEN || (kind == AX_LAYER_AVGPOOL
      && in.h == out.h && in.w == out.w);
}

static int
has_params (ax_layer_kind kind)
{
  return kind == AX_LAYER_CONV || kind == AX_LAYER_FC
      || kind == AX_LAYER_BATCHNORM;
}

/* The op of layer `l` on input `in` (whole or local). */
static ax_op
layer_op (const ax_layer_spec *l, ax_shape in, int forward_only)
{
  ax_op op;
  memset (&op, 0, sizeof op);
  op.in = in;
  op.forward_only = forward_only;
  switch (l->kind) {
    case AX_LAYER_CONV: op.type = AX_OP_CONV; op.p.conv = l->p.conv; break;
    case AX_LAYER_FC: op.type = AX_OP_FC; op.p.fc = l->p.fc; break;
    case AX_LAYER_LRN: op.type = AX_OP_LRN; op.p.lrn = l->p.lrn; break;
    case AX_LAYER_MAXPOOL: op.type = AX_OP_MAXPOOL; op.p.pool = l->p.pool; break;
    case AX_LAYER_DROPOUT: op.type = AX_OP_DROPOUT; op.p.dropout = l->p.dropout; break;
    case AX_LAYER_BATCHNORM: op.type = AX_OP_BATCHNORM; op.p.bn = l->p.bn; break;
    case AX_LAYER_AVGPOOL: op.type = AX_OP_AVGPOOL; op.p.avgpool = l->p.avgpool; break;
    default: op.type = AX_OP_RELU; break;
  }
  return op;
}

/* 1 if every layer of `s` fits an h x w image (the shape rules only). */
static int
layers_fit (const ax_net_spec *s, int h, int w)
{
  ax_shape cur = ax_shape_make (1, s->in_c, h, w);
  for (int i = 0; i < s->n_layers; i++) {
    const ax_layer_spec *l = &s->layers[i];
    if (l->kind == AX_LAYER_FLATTEN) {
      size_t n = (size_t) cur.c * (size_t) cur.h * (size_t) cur.w;
      if (n > INT32_MAX)
        return 0;
      cur = ax_shape_make (1, (int) n, 1, 1);
      continue;
    }
    ax_op op = layer_op (l, cur, 0);
    ax_op_shapes_t sh;
    if (ax_op_shapes (&op, &sh) != AX_OK)
      return 0;
    cur = sh.out;
  }
  return 1;
}

/* The smallest height (width) the layers of `s` fit, the other side
 * ample: a window's output only grows with its input, and the two sides
 * shrink apart (a layer's window has a height and a width), so the image
 * fits exactly when both sides reach these. 0 if none up to `cap`. */
static int
min_side (const ax_net_spec *s, int height, int cap)
{
  if (!layers_fit (s, cap, cap))
    return 0;
  int lo = 1, hi = cap;         /* hi fits */
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (layers_fit (s, height ? mid : cap, height ? cap : mid))
      hi = mid;
    else
      lo = mid + 1;
  }
  return hi;
}

/* Why a layer's window does not fit: the image is too small for the
 * net (VGG's five 2x2 pools need at least 32x32 pixels). */
static ax_status
too_small (ax_net *net, const ax_layer_spec *l, ax_shape cur)
{
  const ax_net_spec *s = &net->spec;
  enum { CAP = 1024 };
  int mh = min_side (s, 1, CAP), mw = min_side (s, 0, CAP);
  if (!mh || !mw || (s->in_h >= mh && s->in_w >= mw))
    return net_fail (net, AX_ERR_SHAPE, "%s: parameters do not fit its "
        "input %dx%dx%dx%d", l->name, cur.n, cur.c, cur.h, cur.w);
  return net_fail (net, AX_ERR_SHAPE, "%s: the image is too small: %s needs "
      "at least %dx%d pixels, the image is %dx%d (%s gets %dx%d maps)",
      l->name, s->arch[0] ? s->arch : "this network", mw, mh, s->in_w,
      s->in_h, l->name, cur.w, cur.h);
}

/* Every whole shape, from the image to the logits. */
static ax_status
derive_shapes (ax_net *net)
{
  const ax_net_spec *s = &net->spec;
  ax_shape cur = ax_shape_make (net->cfg.batch, s->in_c, s->in_h, s->in_w);
  if (!ax_shape_valid (cur) || s->n_layers < 1 || s->n_layers > AX_NET_MAX_LAYERS)
    return net_fail (net, AX_ERR_INVALID_ARG, "spec: empty, or image %dx%dx%d",
        s->in_c, s->in_h, s->in_w);
  net->shapes[0] = cur;
  net->last_fc = -1;
  for (int i = 0; i < s->n_layers; i++) {
    const ax_layer_spec *l = &s->layers[i];
    ax_shape out = cur;
    if (l->kind == AX_LAYER_FLATTEN) {
      out = ax_shape_make (cur.n, cur.c * cur.h * cur.w, 1, 1);
    } else if ((unsigned) l->kind <= AX_LAYER_BATCHNORM) {
      ax_op op = layer_op (l, cur, 0);
      ax_op_shapes_t sh;
      ax_status st = ax_op_shapes (&op, &sh);
      if (st == AX_OK && l->kind == AX_LAYER_LRN
          && (l->groups < 1 || cur.c % l->groups))
        st = AX_ERR_INVALID_ARG;
      if (st == AX_ERR_SHAPE)
        return too_small (net, l, cur);
      if (st != AX_OK)
        return net_fail (net, st, "%s: parameters do not fit its input "
            "%dx%dx%dx%d", l->name, cur.n, cur.c, cur.h, cur.w);
      out = sh.out;
      if ((l->kind == AX_LAYER_CONV && !l->p.conv.has_bias)
          || (l->kind == AX_LAYER_FC && !l->p.fc.has_bias))
        return net_fail (net, AX_ERR_UNSUPPORTED, "%s: layers without a bias "
            "are not supported yet", l->name);
      if (l->kind == AX_LAYER_FC)
        net->last_fc = i;
    } else {
      return net_fail (net, AX_ERR_INVALID_ARG, "layer %d: unknown kind %d",
          i, (int) l->kind);
    }
    net->shapes[i + 1] = cur = out;
  }
  /* A forward-only net may end in a convolution with n_classes maps: the
   * class score map of dense evaluation (net_dense.h). */
  const ax_layer_spec *last = &s->layers[s->n_layers - 1];
  net->score_map = !net->cfg.training && last->kind == AX_LAYER_CONV
      && last->p.conv.out_channels == s->n_classes && net->last_fc < 0;
  if (!net->score_map && (net->last_fc != s->n_layers - 1
          || s->layers[net->last_fc].p.fc.out_features != s->n_classes))
    return net_fail (net, AX_ERR_INVALID_ARG, "the last layer must be a fully "
        "connected layer with n_classes (%d) outputs (or, in a forward-only "
        "net, a convolution with n_classes maps)", s->n_classes);
  return AX_OK;
}

/* Where each activation lives with T towers, and which layers gather
 * every tower's maps first (the exchanges). */
static ax_status
plan_dist (ax_net *net)
{
  int T = net->n_split;
  net->dist[0] = DIST_FULL;
  for (int i = 0; i < net->spec.n_layers; i++) {
    const ax_layer_spec *l = &net->spec.layers[i];
    net_dist d = net->dist[i], out = d;
    int gather = 0, ok = 1;
    if (T > 1 && l->kind == AX_LAYER_BATCHNORM)
      return net_fail (net, AX_ERR_UNSUPPORTED, "%s: batch norm does not run "
          "as the paper's two towers (AX_PLACE_TOWERS is AlexNet's); use "
          "one device (AX_PLACE_ONE) or data-parallel replicas "
          "(AX_PLACE_DATA)", l->name);
    if (T > 1) {
      switch (l->kind) {
        case AX_LAYER_CONV:
          gather = d == DIST_SPLIT && l->p.conv.groups == 1;
          ok = d != DIST_ROOT && l->p.conv.out_channels % T == 0
              && (l->p.conv.groups == 1
                  || (d == DIST_SPLIT && l->p.conv.groups % T == 0));
          out = DIST_SPLIT;
          break;
        case AX_LAYER_FC:
          gather = d == DIST_SPLIT;
          out = i == net->last_fc || d == DIST_ROOT ? DIST_ROOT : DIST_SPLIT;
          ok = out == DIST_ROOT || l->p.fc.out_features % T == 0;
          break;
        case AX_LAYER_LRN:
          ok = d != DIST_SPLIT || l->groups % T == 0;
          break;
        case AX_LAYER_DROPOUT:
          /* Masks are indexed over the whole tensor: drop after gathering. */
          gather = d == DIST_SPLIT;
          out = d == DIST_ROOT ? DIST_ROOT : DIST_FULL;
          break;
        default:
          break;
      }
      if (d == DIST_SPLIT && net->shapes[i].c % T)
        ok = 0;
    }
    if (!ok)
      return net_fail (net, AX_ERR_UNSUPPORTED, "%s: cannot be split over %d "
          "towers (groups or widths do not divide)", l->name, T);
    net->gathers[i] = gather;
    net->dist[i + 1] = T > 1 ? out : DIST_FULL;
  }
  return AX_OK;
}

/* Which ReLUs rectify their input in place: those right after a
 * convolution, fully connected or batch-norm layer (whose backward reads
 * its input, never its output) that they do not gather. The ReLU's
 * backward needs only its output (x > 0 exactly where relu(x) > 0), so
 * the producer's output is not kept: one activation less per layer
 * (VGG-16's training at batch 32: 1.7 GB). */
static void
plan_in_place (ax_net *net)
{
  memset (net->in_place, 0, sizeof net->in_place);
  memset (net->rectified_by, 0, sizeof net->rectified_by);
  for (int i = 1; i < net->spec.n_layers; i++) {
    ax_layer_kind below = net->spec.layers[i - 1].kind;
    if (net->spec.layers[i].kind != AX_LAYER_RELU || net->gathers[i]
        || is_view (net, i - 1)
        || (below != AX_LAYER_CONV && below != AX_LAYER_FC
            && below != AX_LAYER_BATCHNORM))
      continue;
    net->in_place[i] = 1;
    net->rectified_by[i - 1] = i + 1;
  }
}

/* A whole activation's shape on one tower: its maps when split, its
 * samples when the batch is split over replicas. */
static ax_shape
local_shape (const ax_net *net, ax_shape s, net_dist d)
{
  if (d == DIST_SPLIT)
    s.c /= net->n_split;
  s.n = net->local_batch;
  return s;
}

/* A tensor from slab `slab` of the tower; sizing only counts bytes. */
static ax_tensor
take (net_tower *tw, int slab, ax_shape s, ax_dtype type, int sizing,
    ax_status *st)
{
  ax_tensor t;
  memset (&t, 0, sizeof t);
  t.shape = s;
  t.dtype = type;
  size_t off = tw->used[slab];
  tw->used[slab] += ax_tensor_footprint (s, type);
  if (!sizing && *st == AX_OK)
    *st = ax_tensor_view (&t, &tw->slabs[slab], off, s, type);
  return t;
}

/* A tensor at byte `off` of slab `slab`, which grows to hold it. Every
 * offset here is a sum of footprints (ax_tensor_footprint: whole multiples
 * of AX_ALIGN), so each is aligned. */
static ax_tensor
place (net_tower *tw, int slab, size_t off, ax_shape s, int sizing,
    ax_status *st)
{
  ax_tensor t;
  memset (&t, 0, sizeof t);
  t.shape = s;
  t.dtype = AX_F32;
  size_t end = off + ax_tensor_footprint (s, AX_F32);
  if (end > tw->used[slab])
    tw->used[slab] = end;
  if (!sizing && *st == AX_OK)
    *st = ax_tensor_view (&t, &tw->slabs[slab], off, s, AX_F32);
  return t;
}

/* Lends kernel k its temporaries at byte `fwd` (forward) and `bwd`
 * (backward) of the activation slab, which grows to hold them. */
static void
place_temp (ax_net *net, net_tower *tw, ax_kernel *k, size_t fwd, size_t bwd,
    int sizing, ax_status *st)
{
  size_t bytes = ax_kernel_temp_bytes (k);
  if (!bytes)
    return;
  size_t top = (fwd > bwd ? fwd : bwd) + bytes;
  if (top > tw->used[SLAB_ACT])
    tw->used[SLAB_ACT] = top;
  if (sizing || *st != AX_OK)
    return;
  char *base = tw->slabs[SLAB_ACT].base;
  *st = ax_kernel_bind_temp (k, base + fwd,
      net->cfg.training ? base + bwd : NULL);
  if (*st != AX_OK)
    *st = net_fail (net, *st, "temporaries: %s",
        ax_backend_last_error (tw->be));
}

static ax_status
prepare (ax_net *net, net_tower *tw, const ax_op *op, ax_kernel **k,
    const char *name)
{
  if (*k)
    return AX_OK;
  ax_status st = ax_kernel_prepare (tw->be, op, k);
  if (st != AX_OK)
    return net_fail (net, st, "%s: %s", name, ax_backend_last_error (tw->be));
  return AX_OK;
}

/* The op tower t runs for layer i on input `in`. */
static ax_op
local_op (const ax_net *net, int i, int t, ax_shape in)
{
  const ax_layer_spec *l = &net->spec.layers[i];
  int T = net->n_split;
  ax_op op = layer_op (l, in, !net->cfg.training);
  if (l->kind == AX_LAYER_CONV && T > 1) {
    op.p.conv.out_channels /= T;
    if (op.p.conv.groups > 1)
      op.p.conv.groups /= T;
  } else if (l->kind == AX_LAYER_FC && net->dist[i + 1] == DIST_SPLIT) {
    op.p.fc.out_features /= T;
  } else if (l->kind == AX_LAYER_LRN) {
    /* Each group normalised apart: groups as samples of a (N*g, C/g) view. */
    int g = net->dist[i] == DIST_SPLIT ? l->groups / T : l->groups;
    op.in = ax_shape_make (in.n * g, in.c / g, in.h, in.w);
  } else if (l->kind == AX_LAYER_DROPOUT) {
    /* A replica draws the mask of its samples in the whole batch. */
    op.index0 = (uint64_t) net_first_sample (net, t)
        * ((size_t) in.c * in.h * in.w);
  }
  return op;
}

static ax_status
plan_params (ax_net *net, net_tower *tw, tower_layer *L, int i, int t,
    int sizing, ax_status *st)
{
  const ax_op_shapes_t *sh = ax_kernel_shapes (L->k);
  int train = net->cfg.training;
  L->has_params = 1;
  L->row0 = net->dist[i + 1] == DIST_SPLIT ? t * sh->out.c : 0;
  L->w = take (tw, SLAB_PARAM, sh->weight, AX_F32, sizing, st);
  L->b = take (tw, SLAB_PARAM, sh->bias, AX_F32, sizing, st);
  if (net->spec.layers[i].kind == AX_LAYER_BATCHNORM) {
    /* buffers: state like the parameters, but never trained */
    L->rmean = take (tw, SLAB_PARAM, sh->weight, AX_F32, sizing, st);
    L->rvar = take (tw, SLAB_PARAM, sh->weight, AX_F32, sizing, st);
  }
  if (!train)
    return *st;
  L->dw = take (tw, SLAB_GRAD, sh->weight, AX_F32, sizing, st);
  L->db = take (tw, SLAB_GRAD, sh->bias, AX_F32, sizing, st);
  L->vw = take (tw, SLAB_MOM, sh->weight, AX_F32, sizing, st);
  L->vb = take (tw, SLAB_MOM, sh->bias, AX_F32, sizing, st);
  ax_op sgd = { .type = AX_OP_SGD, .in = sh->weight };
  if (*st == AX_OK)
    *st = prepare (net, tw, &sgd, &L->sgd_w, "sgd");
  sgd.in = sh->bias;
  if (*st == AX_OK)
    *st = prepare (net, tw, &sgd, &L->sgd_b, "sgd");
  return *st;
}

/* Where the gradients and the kernels' temporaries go in backward. When
 * layer i's backward runs, the activations above it are dead (and in
 * forward, not yet written): from the end of layer i's own tensors
 * that its backward reads (end[i]) up, the slab is free, so its output's gradient, its input's
 * gradient and its temporaries are placed there, each layer's input
 * gradient just above end[i] unless that overlaps its output gradient.
 * VGG-16's training at batch 32 needs 1.6 GB less than with gradients and
 * temporaries of their own. With towers, another tower may still read a
 * gathering layer's input gradient (in its own tensors) after the
 * exchange until the next exchange below: nothing is placed below it
 * meanwhile. Activations other than the logits are therefore not kept
 * through backward (ax_net_activation refuses them then). */
static ax_status
plan_backward_memory (ax_net *net, net_tower *tw, const size_t *end,
    const size_t *bwd_end, const int *wants_din, int sizing)
{
  ax_status st = AX_OK;
  size_t p = 0;                 /* the current layer's output gradient */
  int have = 0;
  size_t floor_gather = 0;      /* end of the nearest gathering layer above */
  for (int i = net->spec.n_layers - 1; i >= 0 && st == AX_OK; i--) {
    tower_layer *L = &tw->layers[i];
    if (!L->runs)
      continue;
    size_t floor = bwd_end[i];
    if (net->n_split > 1 && floor_gather > floor)
      floor = floor_gather;
    ax_shape out = L->out.shape, in = L->in.shape;
    if (!have) {
      p = floor;
      have = 1;
    }
    L->dout = place (tw, SLAB_ACT, p, out, sizing, &st);
    size_t p_end = p + ax_tensor_footprint (out, AX_F32);
    if (!L->k) {                /* a view: the same gradient, reshaped */
      if (wants_din[i])
        L->din = net_reshaped (L->dout, in);
      continue;
    }
    size_t temp = p_end;
    if (net->gathers[i]) {
      /* the input gradient is in the layer's own tensors; the exchange
       * writes the one below after this layer's backward, when its
       * output gradient is dead */
      floor_gather = end[i];
      p = floor_gather > floor ? floor_gather : floor;
    } else if (wants_din[i]) {
      size_t bytes = ax_tensor_footprint (in, AX_F32);
      size_t q = floor + bytes <= p || floor >= p_end ? floor : p_end;
      L->din = place (tw, SLAB_ACT, q, in, sizing, &st);
      size_t q_end = q + bytes;
      temp = q_end > p_end ? q_end : p_end;
      p = q;
    }
    place_temp (net, tw, L->k, end[i], temp, sizing, &st);
  }
  return st;
}

/* One pass over the layers of tower t: kernels are prepared on the first
 * (sizing) pass, tensors made on the second once the slabs exist. The
 * logits and the loss's tensors come first in the activation slab (they
 * are read after backward), then the image and every layer's tensors in
 * order, then what backward places above them (plan_backward_memory). */
static ax_status
plan_tower (ax_net *net, int t, int sizing)
{
  net_tower *tw = &net->towers[t];
  int train = net->cfg.training, n = net->spec.n_layers;
  ax_status st = AX_OK;
  size_t end[AX_NET_MAX_LAYERS], bwd_end[AX_NET_MAX_LAYERS];
  int wants_din[AX_NET_MAX_LAYERS];
  memset (tw->used, 0, sizeof tw->used);
  ax_tensor logits;
  memset (&logits, 0, sizeof logits);
  int last_runs = net->dist[n] != DIST_ROOT || t == 0;
  if (last_runs) {
    logits = take (tw, SLAB_ACT, local_shape (net, net->shapes[n],
            net->dist[n]), AX_F32, sizing, &st);
    if (!net->score_map) {
      ax_shape ls = logits.shape;
      ax_op op = { .type = AX_OP_SOFTMAX_XENT, .in = ls };
      if (st == AX_OK)
        st = prepare (net, tw, &op, &tw->xent, "loss");
      tw->probs = take (tw, SLAB_ACT, ls, AX_F32, sizing, &st);
      tw->losses = take (tw, SLAB_ACT, ax_shape_make (ls.n, 1, 1, 1), AX_F32,
          sizing, &st);
      tw->labels = take (tw, SLAB_ACT, ax_shape_make (ls.n, 1, 1, 1), AX_I32,
          sizing, &st);
    }
  }
  tw->image = take (tw, SLAB_ACT, local_shape (net, net->shapes[0], DIST_FULL),
      AX_F32, sizing, &st);
  ax_tensor prev_out = tw->image;
  int below = 0;                /* a computed layer below (wants a gradient) */
  for (int i = 0; i < n && st == AX_OK; i++) {
    const ax_layer_spec *l = &net->spec.layers[i];
    tower_layer *L = &tw->layers[i];
    memset (&L->din, 0, sizeof L->din);
    memset (&L->dout, 0, sizeof L->dout);
    wants_din[i] = train && below;
    end[i] = bwd_end[i] = tw->used[SLAB_ACT];
    L->runs = net->dist[i + 1] != DIST_ROOT || t == 0;
    if (!L->runs)
      continue;
    ax_shape in = local_shape (net, net->shapes[i],
        net->gathers[i] ? DIST_FULL : net->dist[i]);
    ax_shape out = local_shape (net, net->shapes[i + 1], net->dist[i + 1]);
    if (is_view (net, i)) {
      L->in = net_reshaped (prev_out, in);
      L->out = net_reshaped (prev_out, out);
      prev_out = L->out;
      continue;
    }
    ax_op op = local_op (net, i, t, in);
    st = prepare (net, tw, &op, &L->k, l->name);
    if (st != AX_OK)
      break;
    ax_shape ws = ax_kernel_workspace_shape (L->k);
    L->in = net->gathers[i] ? take (tw, SLAB_ACT, in, AX_F32, sizing, &st) : prev_out;
    size_t out_at = tw->used[SLAB_ACT];
    L->out = i == n - 1 ? logits : net->in_place[i]
        ? net_reshaped (prev_out, out)
        : take (tw, SLAB_ACT, out, AX_F32, sizing, &st);
    L->has_ws = ax_shape_count (ws) > 0;
    if (L->has_ws)
      L->ws = take (tw, SLAB_ACT, ws, AX_F32, sizing, &st);
    if (train) {
      if (net->gathers[i]) {
        L->din = take (tw, SLAB_ACT, in, AX_F32, sizing, &st);
        L->share = take (tw, SLAB_ACT, local_shape (net, net->shapes[i],
                DIST_SPLIT), AX_F32, sizing, &st);
      }
      /* batch norm's backward always computes the input's gradient: give
       * it somewhere to go when nothing below wants it */
      if (l->kind == AX_LAYER_BATCHNORM && !net->gathers[i] && !below)
        L->din = take (tw, SLAB_ACT, in, AX_F32, sizing, &st);
      below = 1;
    }
    if (has_params (l->kind))
      plan_params (net, tw, L, i, t, sizing, &st);
    end[i] = bwd_end[i] = tw->used[SLAB_ACT];
    /* a convolution's or fc layer's backward never reads its output (an
     * in-place ReLU's backward above it has): from there up is free */
    if ((l->kind == AX_LAYER_CONV || l->kind == AX_LAYER_FC)
        && !net->gathers[i] && i != n - 1 && !net->in_place[i])
      bwd_end[i] = out_at;
    prev_out = L->out;
  }
  if (st != AX_OK)
    return st;
  if (!train) {
    for (int i = 0; i < n && st == AX_OK; i++)
      if (tw->layers[i].runs && tw->layers[i].k)
        place_temp (net, tw, tw->layers[i].k, end[i], 0, sizing,
            &st);
    return st;
  }
  return plan_backward_memory (net, tw, end, bwd_end, wants_din, sizing);
}

/* The whole of a slab as one tensor (for zeroing and finiteness checks). */
static ax_status
whole_slab (net_tower *tw, int slab, ax_tensor *t)
{
  memset (t, 0, sizeof *t);
  if (!tw->slabs[slab].base)
    return AX_OK;
  /* Slabs are whole multiples of AX_ALIGN bytes: rows of 16 floats keep
   * the dims in int range for any slab. */
  size_t rows = tw->slabs[slab].bytes / (16 * sizeof (float));
  if (rows > INT32_MAX)
    return AX_ERR_NO_MEMORY;
  ax_shape s = ax_shape_make ((int) rows, 16, 1, 1);
  ax_status st = ax_tensor_view (t, &tw->slabs[slab], 0, s, AX_F32);
  return st == AX_OK ? ax_tensor_fill (t, 0.0f) : st;
}

static ax_status
alloc_slabs (ax_net *net, net_tower *tw)
{
  for (int s = 0; s < N_SLABS; s++) {
    if (!tw->used[s])
      continue;
    ax_status st = ax_slab_alloc (tw->be, tw->used[s], &tw->slabs[s]);
    if (st != AX_OK)
      return net_fail (net, st, "%zu bytes of slab %d on %s", tw->used[s], s,
          ax_backend_name (tw->be));
  }
  ax_status st = whole_slab (tw, SLAB_PARAM, &tw->params_all);
  if (st == AX_OK)
    st = whole_slab (tw, SLAB_GRAD, &tw->grads_all);
  if (st == AX_OK)
    st = whole_slab (tw, SLAB_MOM, &tw->moms_all);
  /* Zeroing the activations too touches every page now rather than in the
   * first batch (about 3 GB at batch 128 for training). */
  ax_tensor acts;
  if (st == AX_OK)
    st = whole_slab (tw, SLAB_ACT, &acts);
  return st;
}

/* Which towers run each layer's backward: the logits' gradient starts on
 * the towers that hold logits (tower 0, or every replica); an exchange
 * hands it to every tower that holds a share. */
static void
plan_backward (ax_net *net)
{
  int n = net->spec.n_layers;
  for (int i = n - 1; i >= 0; i--) {
    for (int t = 0; t < net->n_towers; t++) {
      tower_layer *L = &net->towers[t].layers[i];
      int has = 0;
      if (i == n - 1) {
        has = L->runs;
      } else if (net->gathers[i + 1]) {
        for (int u = 0; u < net->n_split; u++)
          has |= net->towers[u].layers[i + 1].bwd;
      } else {
        has = net->towers[t].layers[i + 1].bwd;
      }
      L->bwd = net->cfg.training && L->runs && has;
    }
  }
}

/* Appends parameter (or buffer) `suffix` of layer i in `role`. */
static ax_param_info *
add_param (ax_net *net, int i, const char *suffix, net_param_role role)
{
  ax_param_info *p = &net->params[net->n_params];
  memset (p, 0, sizeof *p);
  snprintf (p->name, sizeof p->name, "%s.%s",
      net->spec.layers[i].param_prefix, suffix);
  p->layer = i;
  p->is_buffer = role >= ROLE_RUNNING_MEAN;
  p->dtype = role == ROLE_BATCHES_TRACKED ? AX_PARAM_I64 : AX_PARAM_F32;
  net->roles[net->n_params++] = role;
  return p;
}

/* A vector of `n` values: a bias, a per-channel parameter or buffer. */
static void
set_vector (ax_param_info *p, int n)
{
  p->ndim = 1;
  p->dims[0] = n;
  p->count = (size_t) n;
}

/* The parameters in PyTorch's state-dict order: weight, bias, then batch
 * norm's running_mean, running_var, num_batches_tracked. */
static void
describe_params (ax_net *net)
{
  static const char *const names[] = { "weight", "bias", "running_mean",
    "running_var", "num_batches_tracked" };
  net->n_params = 0;
  for (int i = 0; i < net->spec.n_layers; i++) {
    const ax_layer_spec *l = &net->spec.layers[i];
    if (!has_params (l->kind))
      continue;
    ax_op op = layer_op (l, net->shapes[i], 0);
    ax_op_shapes_t sh;
    ax_op_shapes (&op, &sh);    /* checked in derive_shapes */
    int bn = l->kind == AX_LAYER_BATCHNORM;
    for (int r = ROLE_WEIGHT; r <= (bn ? ROLE_BATCHES_TRACKED : ROLE_BIAS);
        r++) {
      ax_param_info *p = add_param (net, i, names[r], (net_param_role) r);
      ax_shape s = sh.weight;
      if (r == ROLE_BATCHES_TRACKED) {
        p->ndim = 0;            /* a scalar, as torchvision's int64 [] */
        p->count = 1;
      } else if (r != ROLE_WEIGHT || bn) {
        set_vector (p, r == ROLE_BIAS ? sh.bias.n : s.n);
      } else if (l->kind == AX_LAYER_CONV) {
        p->ndim = 4;
        p->dims[0] = s.n; p->dims[1] = s.c; p->dims[2] = s.h; p->dims[3] = s.w;
        p->count = ax_shape_count (s);
      } else {
        p->ndim = 2;
        p->dims[0] = s.n;
        p->dims[1] = s.c * s.h * s.w;
        p->count = ax_shape_count (s);
      }
    }
  }
}

/* Leading non-NULL backends of the config. */
static int
count_backends (const ax_net_config *cfg)
{
  int n = 0;
  while (n < AX_NET_MAX_REPLICAS && cfg->backends[n])
    n++;
  return n;
}

static ax_status
check_replicas (ax_net *net, const ax_net_config *cfg, int n)
{
  for (int r = 0; r < n; r++) {
    for (int q = 0; q < r; q++)
      if (cfg->backends[q] == cfg->backends[r])
        return net_fail (net, AX_ERR_INVALID_ARG, "data-parallel: replicas "
            "%d and %d on one backend instance; each needs its own", q, r);
  }
  for (int r = n; r < AX_NET_MAX_REPLICAS; r++)
    if (cfg->backends[r])
      return net_fail (net, AX_ERR_INVALID_ARG, "data-parallel: backend %d "
          "follows an empty entry; replicas are the leading backends", r);
  if (cfg->batch % n)
    return net_fail (net, AX_ERR_INVALID_ARG, "data-parallel: a batch of %d "
        "does not divide over %d replicas", cfg->batch, n);
  return AX_OK;
}

static ax_status
check_config (ax_net *net, const ax_net_spec *spec, const ax_net_config *cfg)
{
  if (!spec || !cfg || cfg->batch < 1 || !cfg->backends[0])
    return net_fail (net, AX_ERR_INVALID_ARG, "no spec, batch < 1 or no backend");
  if (cfg->placement == AX_PLACE_TOWERS
      && (!cfg->backends[1] || cfg->backends[1] == cfg->backends[0]))
    return net_fail (net, AX_ERR_INVALID_ARG,
        "two towers need two backend instances");
  if (cfg->placement == AX_PLACE_DATA)
    return check_replicas (net, cfg, count_backends (cfg));
  if (cfg->placement != AX_PLACE_ONE && cfg->placement != AX_PLACE_TOWERS)
    return net_fail (net, AX_ERR_INVALID_ARG, "unknown placement");
  return AX_OK;
}

/* The replicas' group, which sums their gradients after backward. */
static ax_status
make_group (ax_net *net)
{
  ax_backend *members[AX_MAX_TOWERS];
  for (int t = 0; t < net->n_towers; t++)
    members[t] = net->towers[t].be;
  ax_status st = ax_group_create (members, net->n_towers, &net->group);
  if (st != AX_OK)
    return net_fail (net, st, "data-parallel group: %s",
        ax_backend_last_error (members[0]));
  return AX_OK;
}

static ax_status
create (ax_net *net, const ax_net_spec *spec, const ax_net_config *cfg)
{
  ax_status st = check_config (net, spec, cfg);
  if (st != AX_OK)
    return st;
  net->spec = *spec;
  net->cfg = *cfg;
  net->n_split = cfg->placement == AX_PLACE_TOWERS ? 2 : 1;
  net->n_replicas = 1;
  if (cfg->placement == AX_PLACE_DATA)
    net->n_replicas = count_backends (cfg);
  net->n_towers = net->n_split * net->n_replicas;
  net->local_batch = cfg->batch / net->n_replicas;
  net->dropout_seed = 0x2012;
  for (int t = 0; t < net->n_towers; t++)
    net->towers[t].be = cfg->backends[t];
  if ((st = derive_shapes (net)) != AX_OK || (st = plan_dist (net)) != AX_OK)
    return st;
  plan_in_place (net);
  describe_params (net);
  for (int t = 0; t < net->n_towers && st == AX_OK; t++) {
    st = plan_tower (net, t, 1);
    if (st == AX_OK)
      st = alloc_slabs (net, &net->towers[t]);
    if (st == AX_OK)
      st = plan_tower (net, t, 0);
  }
  if (st != AX_OK)
    return net->err[0] ? st : net_fail (net, st, "planning: %s",
        ax_status_str (st));
  plan_backward (net);
  net->host_losses = calloc ((size_t) cfg->batch, sizeof (float));
  if (!net->host_losses)
    return net_fail (net, AX_ERR_NO_MEMORY, "losses");
  if (cfg->placement == AX_PLACE_DATA && cfg->training
      && (st = make_group (net)) != AX_OK)
    return st;
  return net->n_towers > 1 ? net_workers_start (net) : AX_OK;
}

ax_status
ax_net_create (const ax_net_spec *spec, const ax_net_config *cfg, ax_net **out,
    char *err, size_t err_size)
{
  if (!out)
    return AX_ERR_INVALID_ARG;
  *out = NULL;
  ax_net *net = calloc (1, sizeof *net);
  if (!net)
    return AX_ERR_NO_MEMORY;
  ax_status st = create (net, spec, cfg);
  if (st == AX_OK)
    st = net_reset_running_var (net);
  if (st != AX_OK) {
    if (err && err_size)
      snprintf (err, err_size, "%s", net->err[0] ? net->err : ax_status_str (st));
    ax_net_destroy (net);
    return st;
  }
  *out = net;
  return AX_OK;
}

void
ax_net_destroy (ax_net *net)
{
  if (!net)
    return;
  net_workers_stop (net);
  ax_group_destroy (net->group);
  for (int t = 0; t < AX_MAX_TOWERS; t++) {
    net_tower *tw = &net->towers[t];
    for (int i = 0; i < AX_NET_MAX_LAYERS; i++) {
      ax_kernel_release (tw->layers[i].k);
      ax_kernel_release (tw->layers[i].sgd_w);
      ax_kernel_release (tw->layers[i].sgd_b);
    }
    ax_kernel_release (tw->xent);
    for (int s = 0; s < N_SLABS; s++)
      ax_slab_free (&tw->slabs[s]);
  }
  ax_slab_free (&net->scratch);
  free (net->host_losses);
  free (net);
}

int
ax_net_n_replicas (const ax_net *net)
{
  return net ? net->n_replicas : 0;
}

size_t
ax_net_memory_bytes (const ax_net *net)
{
  size_t bytes = 0;
  for (int t = 0; net && t < net->n_towers; t++)
    for (int s = 0; s < N_SLABS; s++)
      bytes += net->towers[t].slabs[s].bytes;
  return bytes;
}

/* --- passes --- */

/* After a training forward, as PyTorch's BatchNorm2d and DDP: every batch
 * norm counts the batch (num_batches_tracked), and replica 0's running
 * statistics become every replica's (DDP broadcasts rank 0's buffers
 * before each forward; here right after, so an evaluation on any replica
 * sees them too). */
static ax_status
batchnorm_after_training (ax_net *net)
{
  for (int i = 0; i < net->spec.n_layers; i++) {
    if (net->spec.layers[i].kind != AX_LAYER_BATCHNORM)
      continue;
    net->batches_tracked[i]++;
    const tower_layer *L0 = &net->towers[0].layers[i];
    for (int t = 1; t < net->n_replicas; t++) {
      tower_layer *L = &net->towers[t].layers[i];
      ax_status st = ax_tensor_copy (&L->rmean, &L0->rmean);
      if (st == AX_OK)
        st = ax_tensor_copy (&L->rvar, &L0->rvar);
      if (st != AX_OK)
        return net_fail (net, st, "%s: running statistics to replica %d: %s",
            net->spec.layers[i].name, t,
            ax_backend_last_error (net->towers[t].be));
    }
  }
  return AX_OK;
}

ax_status
ax_net_forward (ax_net *net, const float *images, size_t count, int training)
{
  if (!net || !images)
    return AX_ERR_INVALID_ARG;
  if (count != ax_shape_count (net->shapes[0]))
    return net_fail (net, AX_ERR_SHAPE, "forward: %zu values for a batch of "
        "%d %dx%dx%d images (%zu)", count, net->cfg.batch, net->spec.in_c,
        net->spec.in_h, net->spec.in_w, ax_shape_count (net->shapes[0]));
  if (training && !net->cfg.training)
    return net_fail (net, AX_ERR_INVALID_ARG, "forward: training mode on an "
        "inference net");
  net->have_loss = 0;
  net->trained_forward = 0;
  net->backward_ran = 0;
  net->cmd_images = images;
  net->cmd_training = training;
  ax_status st = net_run (net, CMD_FORWARD);
  if (st == AX_OK && training)
    st = batchnorm_after_training (net);
  net->trained_forward = st == AX_OK && training;
  return st;
}

/* The replicas' gradients become their sum (the gradient of the whole
 * batch's mean loss: each replica scaled its logits' gradient by
 * 1 / batch), bitwise equal on every replica. */
static ax_status
allreduce_gradients (ax_net *net)
{
  ax_tensor *grads[AX_MAX_TOWERS];
  for (int t = 0; t < net->n_towers; t++)
    grads[t] = &net->towers[t].grads_all;
  ax_status st = ax_group_allreduce_sum (net->group, grads);
  if (st != AX_OK)
    return net_fail (net, st, "gradient all-reduce: %s",
        ax_backend_last_error (net->towers[0].be));
  return AX_OK;
}

ax_status
ax_net_loss (ax_net *net, const int32_t *labels, size_t count, float *mean_loss)
{
  if (!net || !labels || !mean_loss)
    return AX_ERR_INVALID_ARG;
  if (count != (size_t) net->cfg.batch)
    return net_fail (net, AX_ERR_SHAPE, "loss: %zu labels for a batch of %d",
        count, net->cfg.batch);
  if (net->score_map)
    return net_fail (net, AX_ERR_UNSUPPORTED, "loss: this net ends in a class "
        "score map (dense evaluation); average it first");
  /* Each tower holding logits (tower 0, or every replica) takes the loss
   * of its samples. */
  for (int t = 0; t < net->n_towers; t++) {
    net_tower *tw = &net->towers[t];
    if (!tw->xent)
      continue;
    size_t first = (size_t) net_first_sample (net, t);
    size_t n = (size_t) net->local_batch;
    ax_status st = ax_tensor_upload (&tw->labels, labels + first,
        n * sizeof *labels);
    if (st == AX_OK)
      st = ax_softmax_xent_forward (tw->xent, &tw->losses, &tw->probs,
          &tw->layers[net->spec.n_layers - 1].out, &tw->labels);
    if (st == AX_OK)
      st = ax_tensor_download (net->host_losses + first, n * sizeof (float),
          &tw->losses);
    if (st != AX_OK)
      return net_fail (net, st, "loss: %s", ax_backend_last_error (tw->be));
  }
  double sum = 0.0;
  for (size_t i = 0; i < count; i++)
    sum += net->host_losses[i];
  *mean_loss = (float) (sum / (double) count);
  net->have_loss = 1;
  return AX_OK;
}

ax_status
ax_net_backward (ax_net *net)
{
  if (!net)
    return AX_ERR_INVALID_ARG;
  if (!net->cfg.training || !net->have_loss || !net->trained_forward)
    return net_fail (net, AX_ERR_INVALID_ARG, "backward: %s",
        !net->cfg.training ? "an inference net"
        : !net->trained_forward ? "the last forward was not in training mode"
        : "no loss computed since the last forward");
  net->backward_ran = 1;
  ax_status st = net_run (net, CMD_BACKWARD);
  if (st == AX_OK && net->group)
    st = allreduce_gradients (net);
  return st;
}

ax_status
ax_net_update (ax_net *net, const ax_sgd_step *step)
{
  if (!net || !step)
    return AX_ERR_INVALID_ARG;
  if (!net->cfg.training)
    return net_fail (net, AX_ERR_INVALID_ARG, "update: an inference net");
  if (!isfinite (step->lr) || !isfinite (step->momentum)
      || !isfinite (step->weight_decay) || step->lr < 0.0f)
    return net_fail (net, AX_ERR_INVALID_ARG, "update: bad hyper-parameters");
  net->cmd_sgd = *step;
  ax_status st = net_run (net, CMD_UPDATE);
  if (st == AX_OK)
    net->step++;
  return st;
}

/* Whole-batch output `layer` (or the probabilities, layer -1) to host:
 * each replica's samples in order (one tower's tensor otherwise). */
static ax_status
download_batch (ax_net *net, int layer, float *host, size_t count)
{
  size_t per = count / (size_t) net->n_replicas;
  ax_status st = AX_OK;
  for (int t = 0; t < net->n_replicas && st == AX_OK; t++) {
    net_tower *tw = &net->towers[t];
    const ax_tensor *src = layer < 0 ? &tw->probs : &tw->layers[layer].out;
    st = ax_tensor_download (host + (size_t) t * per, per * sizeof *host, src);
    if (st != AX_OK)
      net_fail (net, st, "download: %s", ax_backend_last_error (tw->be));
  }
  return st;
}

ax_status
ax_net_logits (ax_net *net, float *host, size_t count)
{
  if (!net || !host)
    return AX_ERR_INVALID_ARG;
  size_t want = ax_shape_count (net->shapes[net->spec.n_layers]);
  if (count != want)
    return net_fail (net, AX_ERR_SHAPE, "logits: %zu values, not %zu", count,
        want);
  return download_batch (net, net->spec.n_layers - 1, host, count);
}

ax_status
ax_net_probs (ax_net *net, float *host, size_t count)
{
  if (!net || !host)
    return AX_ERR_INVALID_ARG;
  if (!net->have_loss)
    return net_fail (net, AX_ERR_INVALID_ARG, "probs: no loss computed");
  if (count != ax_shape_count (net->shapes[net->spec.n_layers]))
    return net_fail (net, AX_ERR_SHAPE, "probs: wrong count %zu", count);
  return download_batch (net, -1, host, count);
}

static int
find_layer (const ax_net *net, const char *name)
{
  for (int i = 0; name && i < net->spec.n_layers; i++)
    if (strcmp (net->spec.layers[i].name, name) == 0)
      return i;
  return -1;
}

ax_status
ax_net_activation_shape (const ax_net *net, const char *layer, ax_shape *shape)
{
  int i = net && shape ? find_layer (net, layer) : -1;
  if (i < 0)
    return AX_ERR_INVALID_ARG;
  *shape = net->shapes[i + 1];
  return AX_OK;
}

ax_status
ax_net_activation (ax_net *net, const char *layer, float *host, size_t count)
{
  int i = net && host ? find_layer (net, layer) : -1;
  if (i < 0)
    return net ? net_fail (net, AX_ERR_INVALID_ARG, "no layer %s",
        layer ? layer : "(null)") : AX_ERR_INVALID_ARG;
  if (net->backward_ran && i != net->spec.n_layers - 1)
    return net_fail (net, AX_ERR_INVALID_ARG, "activation %s: backward has "
        "reused the activations' memory since the last forward (only the "
        "logits are kept); ask after ax_net_forward", layer);
  if (net->rectified_by[i])
    return net_fail (net, AX_ERR_INVALID_ARG, "activation %s: its output is "
        "rectified in place by %s (as PyTorch's ReLU(inplace=True)); ask for "
        "%s", layer, net->spec.layers[net->rectified_by[i] - 1].name,
        net->spec.layers[net->rectified_by[i] - 1].name);
  ax_shape whole = net->shapes[i + 1];
  if (count != ax_shape_count (whole))
    return net_fail (net, AX_ERR_SHAPE, "activation %s: %zu values, not %zu",
        layer, count, ax_shape_count (whole));
  if (net->dist[i + 1] != DIST_SPLIT)
    return download_batch (net, i, host, count);
  /* Join the towers' maps on tower 0 (a buffer made on the first call). */
  ax_status st = AX_OK;
  size_t bytes = count * sizeof *host;
  if (net->scratch.bytes < bytes) {
    ax_slab_free (&net->scratch);
    st = ax_slab_alloc (net->towers[0].be, bytes, &net->scratch);
  }
  ax_tensor joined;
  if (st == AX_OK)
    st = ax_tensor_view (&joined, &net->scratch, 0, whole, AX_F32);
  int half = whole.c / net->n_split;
  for (int t = 0; t < net->n_split && st == AX_OK; t++)
    st = ax_tensor_copy_channels (&joined, t * half,
        &net->towers[t].layers[i].out, 0, half);
  if (st == AX_OK)
    st = ax_tensor_download (host, bytes, &joined);
  return st;
}
