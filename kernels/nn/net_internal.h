/* Shared by net.c (planning, parameters, loss) and net_towers.c (the
 * passes each tower runs, and the worker threads): the network object.
 * A "tower" here is one backend instance with its share of the work: a
 * half of every split layer (AX_PLACE_TOWERS), or a whole net on a shard of
 * the batch (a replica, AX_PLACE_DATA), or everything (AX_PLACE_ONE). */
#ifndef AX_NET_INTERNAL_H
#define AX_NET_INTERNAL_H

#include "kernels/nn/net.h"

#include <pthread.h>

#define AX_MAX_TOWERS AX_NET_MAX_REPLICAS
/* weight, bias and batch norm's three buffers */
#define AX_NET_MAX_PARAMS (AX_NET_MAX_LAYERS * 5)

/* What a parameter (ax_param_info) is of its layer. */
typedef enum {
  ROLE_WEIGHT, ROLE_BIAS, ROLE_RUNNING_MEAN, ROLE_RUNNING_VAR,
  ROLE_BATCHES_TRACKED,
} net_param_role;

/* Where an activation lives when the net runs as towers. */
typedef enum {
  DIST_FULL,              /* every tower holds all of it (the image, gathers) */
  DIST_SPLIT,             /* tower t holds maps [t C/T, (t+1) C/T) */
  DIST_ROOT,              /* only tower 0 holds it (the logits) */
} net_dist;

/* One layer on one tower. Tensors are in the layer's local shapes: the
 * kernel's (LRN over channel groups runs on a (N*g, C/g, H, W) view). */
typedef struct {
  int runs;               /* forward runs on this tower */
  int bwd;                /* backward runs on this tower */
  ax_kernel *k;           /* NULL for views (flatten, identity avg-pool) */
  ax_tensor in, out, ws;  /* in: the gathered copy when the layer gathers */
  ax_tensor din, dout;    /* din.data NULL: no gradient for the input */
  ax_tensor share;        /* backward exchange: another tower's share */
  int has_ws;
  /* Parameters: rows [row0, row0 + rows) of the PyTorch tensors. */
  int has_params, row0;
  ax_tensor w, b, dw, db, vw, vb;
  ax_tensor rmean, rvar;  /* batch norm's running statistics (buffers, in
                           * the parameter slab) */
  ax_kernel *sgd_w, *sgd_b;
  double fwd_s, bwd_s;    /* profiling: seconds spent, exchanges included */
} tower_layer;

typedef struct {
  ax_backend *be;
  ax_slab slabs[4];       /* parameters, gradients, momentum, activations
                           * (with backward's gradients and temporaries
                           * above them: net.c, plan_backward_memory) */
  size_t used[4];
  ax_tensor image;
  ax_tensor params_all, grads_all, moms_all; /* whole slabs: zeroing, checks */
  tower_layer layers[AX_NET_MAX_LAYERS];
  /* the towers that run the last layer (tower 0, or every replica): the
   * loss of their samples */
  ax_kernel *xent;
  ax_tensor probs, losses, labels;
  ax_status st;           /* of the tower's part of the current command */
  char err[256];
} net_tower;

typedef struct {
  struct ax_net *net;
  int t;
} net_worker_arg;

typedef enum { CMD_FORWARD, CMD_BACKWARD, CMD_UPDATE, CMD_QUIT } net_cmd;

struct ax_net {
  ax_net_spec spec;
  ax_net_config cfg;
  int n_towers;           /* backend instances (and workers when > 1) */
  int n_split;            /* towers that split each layer: 2 for
                           * AX_PLACE_TOWERS, else 1 */
  int n_replicas;         /* towers that split the batch: AX_PLACE_DATA */
  int local_batch;        /* batch / n_replicas */
  ax_group *group;        /* the replicas' gradient all-reduce (training) */
  /* Whole shapes: [0] the image, [i + 1] the output of layer i. */
  ax_shape shapes[AX_NET_MAX_LAYERS + 1];
  net_dist dist[AX_NET_MAX_LAYERS + 1];
  int gathers[AX_NET_MAX_LAYERS];
  /* A ReLU that rectifies its producer's output in place (as PyTorch's
   * ReLU(inplace=True)): in_place[relu] is 1 and rectified_by[producer]
   * is the ReLU's index + 1 (net.c, plan_in_place). */
  int in_place[AX_NET_MAX_LAYERS];
  int rectified_by[AX_NET_MAX_LAYERS];
  int last_fc;
  int score_map;                /* forward-only, ends in a conv: a class
                                 * score map (dense evaluation), no loss */
  net_tower towers[AX_MAX_TOWERS];
  int n_params;
  ax_param_info params[AX_NET_MAX_PARAMS];
  net_param_role roles[AX_NET_MAX_PARAMS];
  /* batch norm's num_batches_tracked of each layer (host: one counter for
   * every tower and replica) */
  int64_t batches_tracked[AX_NET_MAX_LAYERS];
  float *host_losses;
  ax_slab scratch;        /* ax_net_activation's join buffer (lazily, once) */
  int have_loss;
  int trained_forward;    /* the last forward ran in training mode */
  int backward_ran;       /* since the last forward: activations other
                           * than the logits are overwritten */
  int profiling;
  uint64_t step, dropout_seed;
  char err[512];
  /* The workers (more than one tower): one thread per tower. */
  int have_workers;       /* barriers, mutex and threads exist */
  int threads_started;
  int workers_state;      /* 0 starting, 1 all made, -1 creation failed */
  pthread_mutex_t startup;
  pthread_cond_t started;
  pthread_t threads[AX_MAX_TOWERS];
  net_worker_arg worker_args[AX_MAX_TOWERS];
  pthread_barrier_t start, done, exchange;
  net_cmd cmd;
  const float *cmd_images;
  int cmd_training;
  ax_sgd_step cmd_sgd;
};

/* A view of t's memory as another shape of the same count: flatten, and
 * LRN over channel groups as (N*g, C/g, H, W). Only the descriptor. */
static inline ax_tensor
net_reshaped (ax_tensor t, ax_shape s)
{
  t.shape = s;
  return t;
}

/* The first sample of the batch that tower t holds: t * local_batch for a
 * replica, 0 for a tower of the whole batch. */
static inline int
net_first_sample (const ax_net *net, int t)
{
  return net->n_replicas > 1 ? t * net->local_batch : 0;
}

/* The passes of one tower (net_towers.c). */
ax_status net_tower_forward (ax_net *net, int t, const float *images,
    int training);
ax_status net_tower_backward (ax_net *net, int t);
ax_status net_tower_update (ax_net *net, int t, const ax_sgd_step *sgd);
/* Runs cmd on every tower (on the workers for towers) and returns the
 * first failing tower's status, its message in net->err. */
ax_status net_run (ax_net *net, net_cmd cmd);
ax_status net_workers_start (ax_net *net);
void net_workers_stop (ax_net *net);

/* Records a message in net->err and returns status. */
/* Batch norm's running variances to 1, as PyTorch's modules start (the
 * rest of a new net is zero). */
ax_status net_reset_running_var (ax_net *net);
ax_status net_fail (ax_net *net, ax_status status, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

#endif
