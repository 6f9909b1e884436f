/* The passes one tower runs (forward, backward, update) and, for the
 * two-tower and data-parallel placements, a worker thread per tower (or
 * replica) that runs them. Towers meet at a barrier before every exchange;
 * a tower that failed keeps meeting the barriers (skipping its work) so
 * that the others never wait forever. Replicas exchange nothing during the
 * passes: their gradients are summed after backward (net.c). */
#include "kernels/nn/net_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define RUN(expr) do { if (st == AX_OK) st = (expr); } while (0)

static double
clock_s (const ax_net *net)
{
  struct timespec ts;
  if (!net->profiling)
    return 0.0;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

void
ax_net_set_profiling (ax_net *net, int on)
{
  if (!net)
    return;
  net->profiling = on;
  for (int t = 0; t < AX_MAX_TOWERS; t++)
    for (int i = 0; i < AX_NET_MAX_LAYERS; i++)
      net->towers[t].layers[i].fwd_s = net->towers[t].layers[i].bwd_s = 0.0;
}

ax_status
ax_net_profile (const ax_net *net, int layer, int tower, double *forward_s,
    double *backward_s)
{
  if (!net || layer < 0 || layer >= net->spec.n_layers || tower < 0
      || tower >= net->n_towers || !forward_s || !backward_s)
    return AX_ERR_INVALID_ARG;
  *forward_s = net->towers[tower].layers[layer].fwd_s;
  *backward_s = net->towers[tower].layers[layer].bwd_s;
  return AX_OK;
}

static void
sync_towers (ax_net *net)
{
  if (net->n_towers > 1)
    pthread_barrier_wait (&net->exchange);
}

static const ax_tensor *
opt (const ax_tensor *t, int present)
{
  return present ? t : NULL;
}

static ax_status
layer_forward (ax_net *net, const ax_layer_spec *l, tower_layer *L,
    int training)
{
  ax_tensor *ws = L->has_ws ? &L->ws : NULL;
  switch (l->kind) {
    case AX_LAYER_CONV:
      return ax_conv_forward (L->k, &L->out, &L->in, &L->w, &L->b);
    case AX_LAYER_FC:
      return ax_fc_forward (L->k, &L->out, &L->in, &L->w, &L->b);
    case AX_LAYER_RELU:
      return ax_relu_forward (L->k, &L->out, &L->in);
    case AX_LAYER_LRN: {
      ax_shape ks = ax_kernel_shapes (L->k)->in;
      ax_tensor out = net_reshaped (L->out, ks), in = net_reshaped (L->in, ks);
      return ax_lrn_forward (L->k, &out, ws, &in);
    }
    case AX_LAYER_MAXPOOL:
      return ax_maxpool_forward (L->k, &L->out, ws, &L->in);
    case AX_LAYER_DROPOUT:
      return training ? ax_dropout_forward (L->k, &L->out, &L->in,
          net->dropout_seed, net->step) : ax_tensor_copy (&L->out, &L->in);
    case AX_LAYER_BATCHNORM:
      return ax_batchnorm_forward (L->k, &L->out, training ? ws : NULL,
          &L->rmean, &L->rvar, &L->in, &L->w, &L->b, training);
    case AX_LAYER_AVGPOOL:      /* no kernel: the identity, a view */
      return L->k ? ax_avgpool_forward (L->k, &L->out, &L->in) : AX_OK;
    default:
      return AX_OK;             /* views */
  }
}

static ax_status
layer_backward (ax_net *net, const ax_layer_spec *l, tower_layer *L)
{
  const ax_tensor *ws = opt (&L->ws, L->has_ws);
  ax_tensor *din = L->din.data ? &L->din : NULL;
  if (l->kind == AX_LAYER_CONV)
    return ax_conv_backward (L->k, din, &L->dw, &L->db, &L->dout, &L->in, &L->w);
  if (l->kind == AX_LAYER_FC)
    return ax_fc_backward (L->k, din, &L->dw, &L->db, &L->dout, &L->in, &L->w);
  if (l->kind == AX_LAYER_BATCHNORM)   /* din: never NULL (net.c) */
    return ax_batchnorm_backward (L->k, &L->din, &L->dw, &L->db, &L->dout,
        &L->in, &L->w, ws);
  if (!din)
    return AX_OK;               /* nothing below wants a gradient */
  switch (l->kind) {
    case AX_LAYER_RELU:
      return ax_relu_backward (L->k, din, &L->dout, &L->out);
    case AX_LAYER_LRN: {
      ax_shape ks = ax_kernel_shapes (L->k)->in;
      ax_tensor d = net_reshaped (*din, ks), dout = net_reshaped (L->dout, ks);
      ax_tensor in = net_reshaped (L->in, ks), out = net_reshaped (L->out, ks);
      return ax_lrn_backward (L->k, &d, &dout, &in, &out, ws);
    }
    case AX_LAYER_MAXPOOL:
      return ax_maxpool_backward (L->k, din, &L->dout, &L->in, &L->out, ws);
    case AX_LAYER_DROPOUT:
      return ax_dropout_backward (L->k, din, &L->dout, net->dropout_seed,
          net->step);
    case AX_LAYER_AVGPOOL:
      return L->k ? ax_avgpool_backward (L->k, din, &L->dout) : AX_OK;
    default:
      return AX_OK;
  }
}

ax_status
net_tower_forward (ax_net *net, int t, const float *images, int training)
{
  net_tower *tw = &net->towers[t];
  /* A replica's shard of the batch; a tower reads every image. */
  size_t image = ax_shape_count (tw->image.shape) / (size_t) net->local_batch;
  ax_status st = ax_tensor_upload (&tw->image,
      images + (size_t) net_first_sample (net, t) * image,
      ax_tensor_bytes (&tw->image));
  for (int i = 0; i < net->spec.n_layers; i++) {
    tower_layer *L = &tw->layers[i];
    double t0 = clock_s (net);
    if (net->gathers[i]) {
      /* The exchange: every tower's share of the previous maps. */
      sync_towers (net);
      int half = net->shapes[i].c / net->n_split;
      for (int u = 0; u < net->n_split && L->runs; u++)
        RUN (ax_tensor_copy_channels (&L->in, u * half,
                &net->towers[u].layers[i - 1].out, 0, half));
    }
    if (L->runs)
      RUN (layer_forward (net, &net->spec.layers[i], L, training));
    L->fwd_s += clock_s (net) - t0;
  }
  return st;
}

/* Tower t's share of the gradient of the maps layer i gathered: the sum
 * over the towers that ran layer i's backward of their gradient's rows. */
static ax_status
exchange_gradients (ax_net *net, int t, int i)
{
  tower_layer *L = &net->towers[t].layers[i];
  tower_layer *P = &net->towers[t].layers[i - 1];
  int half = net->shapes[i].c / net->n_split, first = 1;
  ax_status st = AX_OK;
  if (!P->bwd)
    return AX_OK;
  for (int u = 0; u < net->n_split; u++) {
    const tower_layer *U = &net->towers[u].layers[i];
    if (!U->bwd)
      continue;
    if (first) {
      RUN (ax_tensor_copy_channels (&P->dout, 0, &U->din, t * half, half));
    } else {
      RUN (ax_tensor_copy_channels (&L->share, 0, &U->din, t * half, half));
      RUN (ax_tensor_axpy (&P->dout, 1.0f, &L->share));
    }
    first = 0;
  }
  return st;
}

ax_status
net_tower_backward (ax_net *net, int t)
{
  net_tower *tw = &net->towers[t];
  int n = net->spec.n_layers;
  ax_status st = ax_tensor_fill (&tw->grads_all, 0.0f);
  /* 1 / batch on every replica too: their sum is the whole batch's mean. */
  if (tw->xent)
    RUN (ax_softmax_xent_backward (tw->xent, &tw->layers[n - 1].dout,
            &tw->probs, &tw->labels, 1.0f / (float) net->cfg.batch));
  for (int i = n - 1; i >= 0; i--) {
    tower_layer *L = &tw->layers[i];
    double t0 = clock_s (net);
    if (L->bwd)
      RUN (layer_backward (net, &net->spec.layers[i], L));
    if (net->gathers[i]) {
      sync_towers (net);
      RUN (exchange_gradients (net, t, i));
    }
    L->bwd_s += clock_s (net) - t0;
  }
  return st;
}

ax_status
net_tower_update (ax_net *net, int t, const ax_sgd_step *sgd)
{
  net_tower *tw = &net->towers[t];
  /* All towers check their gradients before any changes a weight. */
  ax_status st = ax_tensor_check_finite (&tw->grads_all);
  tw->st = st;
  sync_towers (net);
  for (int u = 0; u < net->n_towers; u++)
    if (net->towers[u].st != AX_OK && st == AX_OK)
      st = net->towers[u].st;
  for (int i = 0; i < net->spec.n_layers; i++) {
    tower_layer *L = &tw->layers[i];
    if (!L->runs || !L->has_params)
      continue;
    RUN (ax_sgd_update (L->sgd_w, &L->w, &L->vw, &L->dw, sgd));
    RUN (ax_sgd_update (L->sgd_b, &L->b, &L->vb, &L->db, sgd));
  }
  return st;
}

static ax_status
run_command (ax_net *net, int t)
{
  switch (net->cmd) {
    case CMD_FORWARD:
      return net_tower_forward (net, t, net->cmd_images, net->cmd_training);
    case CMD_BACKWARD:
      return net_tower_backward (net, t);
    case CMD_UPDATE:
      return net_tower_update (net, t, &net->cmd_sgd);
    default:
      return AX_OK;
  }
}

/* Waits until every worker exists (or creation failed: returns 0), so
 * that no worker reaches a barrier whose other parties never come. */
static int
wait_for_all_workers (ax_net *net)
{
  pthread_mutex_lock (&net->startup);
  while (net->workers_state == 0)
    pthread_cond_wait (&net->started, &net->startup);
  int ok = net->workers_state > 0;
  pthread_mutex_unlock (&net->startup);
  return ok;
}

static void *
worker (void *arg)
{
  ax_net *net = ((net_worker_arg *) arg)->net;
  int t = ((net_worker_arg *) arg)->t;
  if (!wait_for_all_workers (net))
    return NULL;
  for (;;) {
    pthread_barrier_wait (&net->start);
    if (net->cmd == CMD_QUIT)
      break;
    net_tower *tw = &net->towers[t];
    ax_status st = run_command (net, t);
    tw->st = st;
    if (st != AX_OK)
      snprintf (tw->err, sizeof tw->err, "%s", ax_backend_last_error (tw->be));
    pthread_barrier_wait (&net->done);
  }
  return NULL;
}

ax_status
net_run (ax_net *net, net_cmd cmd)
{
  net->cmd = cmd;
  if (net->n_towers == 1) {
    net_tower *tw = &net->towers[0];
    tw->st = run_command (net, 0);
    if (tw->st != AX_OK)
      snprintf (tw->err, sizeof tw->err, "%s", ax_backend_last_error (tw->be));
  } else {
    pthread_barrier_wait (&net->start);
    pthread_barrier_wait (&net->done);
  }
  for (int t = 0; t < net->n_towers; t++)
    if (net->towers[t].st != AX_OK)
      return net_fail (net, net->towers[t].st, "%s %d: %s (%s)",
          net->n_replicas > 1 ? "replica" : "tower", t,
          ax_status_str (net->towers[t].st), net->towers[t].err);
  return AX_OK;
}

/* Starts one worker per tower. The workers wait for a go (or an abort if
 * a thread could not be made) before they touch the barriers. */
ax_status
net_workers_start (ax_net *net)
{
  int T = net->n_towers, made = 0;
  if (pthread_barrier_init (&net->start, NULL, (unsigned) T + 1))
    return net_fail (net, AX_ERR_NO_MEMORY, "barriers");
  if (pthread_barrier_init (&net->done, NULL, (unsigned) T + 1)) {
    pthread_barrier_destroy (&net->start);
    return net_fail (net, AX_ERR_NO_MEMORY, "barriers");
  }
  if (pthread_barrier_init (&net->exchange, NULL, (unsigned) T)) {
    pthread_barrier_destroy (&net->start);
    pthread_barrier_destroy (&net->done);
    return net_fail (net, AX_ERR_NO_MEMORY, "barriers");
  }
  pthread_mutex_init (&net->startup, NULL);
  pthread_cond_init (&net->started, NULL);
  net->workers_state = 0;
  net->have_workers = 1;
  for (; made < T; made++) {
    net->worker_args[made].net = net;
    net->worker_args[made].t = made;
    if (pthread_create (&net->threads[made], NULL, worker,
            &net->worker_args[made]))
      break;
  }
  pthread_mutex_lock (&net->startup);
  net->workers_state = made == T ? 1 : -1;
  pthread_cond_broadcast (&net->started);
  pthread_mutex_unlock (&net->startup);
  net->threads_started = made;
  if (made < T) {
    net_workers_stop (net);
    return net_fail (net, AX_ERR_NO_MEMORY, "worker thread %d", made);
  }
  return AX_OK;
}

void
net_workers_stop (ax_net *net)
{
  if (!net->have_workers)
    return;
  if (net->workers_state > 0) {
    net->cmd = CMD_QUIT;
    pthread_barrier_wait (&net->start);
  }
  for (int t = 0; t < net->threads_started; t++)
    pthread_join (net->threads[t], NULL);
  pthread_barrier_destroy (&net->start);
  pthread_barrier_destroy (&net->done);
  pthread_barrier_destroy (&net->exchange);
  pthread_mutex_destroy (&net->startup);
  pthread_cond_destroy (&net->started);
  net->threads_started = 0;
  net->have_workers = 0;
}
