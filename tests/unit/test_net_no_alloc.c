/* The network plans its memory once: the trainer's step (forward, loss,
 * probabilities and error counts, backward, update) on any placement
 * allocates no buffers (data-parallel included: the replicas' gradients
 * are summed in place). malloc and friends are interposed to count; as in test_no_alloc.c, oneDNN's C API
 * argument maps (small blocks) and its GEMM packing behind the fc layers
 * (bounded by block sizes, not by the batch) are the only allocations
 * allowed: the largest block stays under 1 MB whatever the batch, and the
 * number of allocations per step grows far less than the batch from 8 to 32
 * (the packing buffers grow with the matrices, by oneDNN's block sizes,
 * which depend on the ISA: about 1.1x on Xeon, 1.5x on Zen 4; a buffer per
 * sample or per batch-sized tensor would make it 4x). */
#include "kernels/cpu/cpu_backend.h"
#include "kernels/nn/net.h"
#include "kernels/nn/trainer.h"
#include "tests/ax_test.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
int
main (void)
{
  printf ("SKIP: malloc is the sanitizer's in this build\n");
  return 77;
}
#else

#include "alloc_count.h"

static ax_backend *one, *tower[2];

/* Largest block and bytes per step over three steps once warm. `single`
 * is the backend of a one-device net (the 2-thread one, or a one-thread
 * one like each replica's). */
static void
measure (ax_placement place, ax_backend *single, int batch, size_t *block,
    size_t *per_step, size_t *allocs)
{
  ax_net_spec spec;
  ax_net *net = NULL;
  *block = *per_step = (size_t) -1;
  if (ax_net_spec_alexnet_paper (&spec, 10, 99) != AX_OK
      || ax_net_spec_narrow (&spec, 4) != AX_OK)
    return;
  ax_net_config cfg = { batch, place, 1, { single, NULL } };
  if (place == AX_PLACE_TOWERS || place == AX_PLACE_DATA) {
    cfg.backends[0] = tower[0];
    cfg.backends[1] = tower[1];
  }
  ax_status st = ax_net_create (&spec, &cfg, &net, NULL, 0);
  AX_CHECK (st == AX_OK, "create: %s", ax_status_str (st));
  if (st != AX_OK)
    return;
  size_t n = (size_t) batch * 3 * 99 * 99;
  float *x = malloc (n * sizeof *x);
  float *probs = malloc ((size_t) batch * 10 * sizeof *probs);
  int32_t *labels = malloc ((size_t) batch * sizeof *labels);
  ax_trainer_result r;
  for (size_t i = 0; i < n; i++)
    x[i] = (float) ((i * 7919) % 1000) / 1000.0f - 0.5f;
  for (int i = 0; i < batch; i++)
    labels[i] = i % 10;
  ax_sgd_step sgd = { 0.01f, 0.9f, 0.0005f };
  st = ax_net_init (net, AX_INIT_XAVIER, 3);
  for (int s = 0; s < 4 && st == AX_OK; s++) {
    if (s == 1) {
      n_allocs = n_bytes = largest = 0;
      __atomic_store_n (&counting, 1, __ATOMIC_RELAXED);
    }
    st = ax_trainer_net_step (net, x, labels, batch, &sgd, probs, &r);
  }
  __atomic_store_n (&counting, 0, __ATOMIC_RELAXED);
  AX_CHECK (st == AX_OK, "steps: %s (%s)", ax_status_str (st),
      ax_net_last_error (net));
  ax_shape conv1;
  ax_net_activation_shape (net, "conv1", &conv1);
  printf ("  %s, batch %d: 3 steps: %zu allocations, %zu bytes, largest "
      "block %zu bytes; conv1's output is %zu bytes, the slabs %zu\n",
      place == AX_PLACE_ONE ? (single == one ? "one device"
      : "one device (1 thread)") : place == AX_PLACE_TOWERS ? "towers"
      : "2 replicas", batch, n_allocs,
      n_bytes, largest, ax_shape_count (conv1) * sizeof (float),
      ax_net_memory_bytes (net));
  *block = largest;
  *per_step = n_bytes / 3;
  *allocs = n_allocs / 3;
  free (x);
  free (probs);
  free (labels);
  ax_net_destroy (net);
}

static void
test_no_buffers_per_step (void)
{
  for (int place = 0; place < 2; place++) {
    size_t block8, step8, n8, block32, step32, n32;
    measure ((ax_placement) place, one, 8, &block8, &step8, &n8);
    measure ((ax_placement) place, one, 32, &block32, &step32, &n32);
    AX_CHECK (block8 <= (1 << 20) && block32 <= (1 << 20),
        "largest block %zu, %zu", block8, block32);
    AX_CHECK (n32 <= 2 * n8, "allocations per step grow with the "
        "batch: %zu -> %zu", n8, n32);
  }
}

/* Two replicas allocate what their kernels do on one device of the same
 * kind (a one-thread instance at the replica's batch), twice: the
 * all-reduce, the shards' loss and the workers add nothing. (oneDNN's GEMM
 * packing on one thread at batch 16 takes blocks of about 1.7 MB, over the
 * bound above.) */
static void
test_replicas_add_nothing (void)
{
  for (int batch = 8; batch <= 32; batch *= 4) {
    size_t block1, step1, n1, block2, step2, n2;
    measure (AX_PLACE_ONE, tower[0], batch / 2, &block1, &step1, &n1);
    measure (AX_PLACE_DATA, NULL, batch, &block2, &step2, &n2);
    AX_CHECK (block2 <= block1 && step2 <= 2 * step1 + step1 / 10
        && n2 <= 2 * n1 + n1 / 10, "batch %d: 2 replicas allocate %zu "
        "blocks, %zu bytes a step (largest %zu); one replica alone %zu, %zu "
        "(%zu)", batch, n2, step2, block2, n1, step1, block1);
  }
}

int
main (void)
{
  if (ax_cpu_backend_create (0, &one) != AX_OK
      || ax_cpu_backend_create (1, &tower[0]) != AX_OK
      || ax_cpu_backend_create (1, &tower[1]) != AX_OK)
    return 1;
  AX_RUN (test_no_buffers_per_step);
  AX_RUN (test_replicas_add_nothing);
  ax_backend_destroy (tower[0]);
  ax_backend_destroy (tower[1]);
  ax_backend_destroy (one);
  return ax_test_finish ();
}
#endif
