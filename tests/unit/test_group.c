/* Groups of backends (ax_group): the all-reduce sum on three one-thread CPU
 * instances is exact where the sum is exact, is summed in member order
 * ((m0 + m1) + m2, bitwise) and leaves every member bitwise equal; the same
 * through host buffers when a member's memory is not host memory (a CPU
 * instance that pretends so); a kind with group slots gets the work (how
 * NCCL plugs in); argument errors. */
#include "kernels/backend/backend_impl.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/backend/layer_math.h"
#include "backend_test_util.h"

#include <math.h>

enum { M = 3 };

static ax_backend *be[M];
static arena mem[M];

/* member i's tensor of `count` floats, filled by fn (i, j) */
static void
make_tensors (ax_tensor *t, ax_tensor **p, size_t count,
    float (*fn) (int, size_t))
{
  float *v = malloc (count * sizeof *v);
  for (int i = 0; i < M; i++) {
    arena_reset (&mem[i]);
    t[i] = arena_tensor (&mem[i], ax_shape_make ((int) count, 1, 1, 1), AX_F32);
    for (size_t j = 0; j < count; j++)
      v[j] = fn (i, j);
    CHECK_OK (be[i], ax_tensor_upload (&t[i], v, count * sizeof *v));
    p[i] = &t[i];
  }
  free (v);
}

/* Multiples of 1/8 below 2^10: every partial sum is exact in float. */
static float
exact_value (int i, size_t j)
{
  return (float) ((double) ((long) (j % 97) - 48) * (i + 1) / 8.0);
}

/* Arbitrary floats of mixed magnitudes: the order of the sum shows. */
static float
rough_value (int i, size_t j)
{
  uint64_t h = ax_mix64 ((uint64_t) i * 1000003u + j);
  double u = (double) (h >> 11) / 9007199254740992.0;
  return (float) ((u - 0.5) * pow (10.0, (double) ((h >> 3) % 7) - 3.0));
}

/* Checks every member holds, bitwise, the sum in member order. */
static void
check_sums (ax_tensor **p, size_t count, float (*fn) (int, size_t),
    const char *what)
{
  float *got = malloc (count * sizeof *got);
  size_t wrong = 0, differ = 0;
  for (int i = 0; i < M; i++) {
    CHECK_OK (be[i], ax_tensor_download (got, count * sizeof *got, p[i]));
    for (size_t j = 0; j < count; j++) {
      float want = fn (0, j);
      for (int m = 1; m < M; m++)
        want += fn (m, j);
      differ += memcmp (&got[j], &want, sizeof want) != 0;
      if (fn == exact_value) {
        double exact = 0.0;
        for (int m = 0; m < M; m++)
          exact += fn (m, j);
        wrong += (double) got[j] != exact;
      }
    }
  }
  AX_CHECK (differ == 0, "%s: %zu elements are not ((m0 + m1) + m2) bitwise",
      what, differ);
  AX_CHECK (wrong == 0, "%s: %zu elements not the exact sum", what, wrong);
  free (got);
}

static void
reduce_and_check (ax_group *g, size_t count, float (*fn) (int, size_t),
    const char *what)
{
  ax_tensor t[M], *p[M];
  make_tensors (t, p, count, fn);
  CHECK_OK (be[0], ax_group_allreduce_sum (g, p));
  check_sums (p, count, fn, what);
}

/* Host memory: summed in place. 10007 floats span several blocks, 200003
 * enough to share them among OpenMP threads. */
static void
test_host_sum (void)
{
  ax_group *g = NULL;
  CHECK_OK (be[0], ax_group_create (be, M, &g));
  if (!g)
    return;
  reduce_and_check (g, 10007, exact_value, "exact");
  reduce_and_check (g, 10007, rough_value, "rough");
  reduce_and_check (g, 5, rough_value, "short");
  reduce_and_check (g, 200003, rough_value, "blocks over threads");
  ax_group_destroy (g);

  /* A group of one leaves its tensor alone. */
  ax_tensor t[M], *p[M];
  make_tensors (t, p, 100, rough_value);
  CHECK_OK (be[0], ax_group_create (be, 1, &g));
  CHECK_OK (be[0], ax_group_allreduce_sum (g, p));
  float got[100];
  CHECK_OK (be[0], ax_tensor_download (got, sizeof got, p[0]));
  size_t moved = 0;
  for (size_t j = 0; j < 100; j++)
    moved += got[j] != rough_value (0, j);
  AX_CHECK (moved == 0, "a group of one changed %zu elements", moved);
  ax_group_destroy (g);
}

/* A CPU instance whose table says its memory is not host memory: the group
 * must then download, sum on the host and upload. */
static ax_backend_i device_like;

static void
test_through_host (void)
{
  const ax_backend_i *cpu = be[1]->iface;
  device_like = *cpu;
  device_like.host_memory = 0;
  device_like.name = "device-like";
  for (int pretend = 1; pretend <= 2; pretend++) {
    /* 1: member 1 pretends (mixed kinds); 2: every member pretends. */
    for (int i = 0; i < M; i++)
      if (pretend == 2 || i == 1)
        be[i]->iface = &device_like;
    ax_group *g = NULL;
    CHECK_OK (be[0], ax_group_create (be, M, &g));
    if (g) {
      reduce_and_check (g, 10007, exact_value, "through host, exact");
      reduce_and_check (g, 10007, rough_value, "through host, rough");
      reduce_and_check (g, 20000, rough_value, "through host, larger");
      reduce_and_check (g, 7, rough_value, "through host, smaller");
    }
    ax_group_destroy (g);
    for (int i = 0; i < M; i++)
      be[i]->iface = cpu;
  }
}

/* A kind with group slots does the work itself. */
static ax_backend_i with_slots;
static int n_init, n_reduce, n_destroy, slot_n;
static void *slot_state = &slot_state;

static ax_status
slot_init (ax_backend **members, int n, void **state)
{
  n_init++;
  slot_n = n;
  for (int i = 0; i < n; i++)
    AX_CHECK (members[i] == be[i], "slot init: member %d", i);
  *state = slot_state;
  return AX_OK;
}

static ax_status
slot_reduce (void *state, ax_backend **members, ax_tensor **tensors, int n)
{
  n_reduce++;
  AX_CHECK (state == slot_state && n == M && tensors[0]->backend == members[0],
      "slot arguments");
  return AX_OK;
}

static void
slot_destroy (void *state)
{
  n_destroy += state == slot_state;
}

static void
test_slots (void)
{
  const ax_backend_i *cpu = be[0]->iface;
  with_slots = *cpu;
  with_slots.group_init = slot_init;
  with_slots.group_allreduce_sum = slot_reduce;
  with_slots.group_destroy = slot_destroy;
  ax_tensor t[M], *p[M];
  ax_group *g = NULL;

  /* Mixed kinds (one with slots, two without): the host sum. */
  be[0]->iface = &with_slots;
  CHECK_OK (be[0], ax_group_create (be, M, &g));
  AX_CHECK (n_init == 0, "slots used for a mixed group");
  if (g)
    reduce_and_check (g, 300, exact_value, "mixed kinds");
  ax_group_destroy (g);
  g = NULL;

  for (int i = 0; i < M; i++)
    be[i]->iface = &with_slots;
  CHECK_OK (be[0], ax_group_create (be, M, &g));
  make_tensors (t, p, 300, exact_value);
  CHECK_OK (be[0], ax_group_allreduce_sum (g, p));
  CHECK_OK (be[0], ax_group_allreduce_sum (g, p));
  ax_group_destroy (g);
  AX_CHECK (n_init == 1 && slot_n == M && n_reduce == 2 && n_destroy == 1,
      "slots: %d inits (n %d), %d reductions, %d destroys", n_init, slot_n,
      n_reduce, n_destroy);
  /* The slot was trusted with the sum: the tensors are as they were. */
  float got[300];
  CHECK_OK (be[1], ax_tensor_download (got, sizeof got, p[1]));
  AX_CHECK (got[5] == exact_value (1, 5), "the host sum ran too");
  for (int i = 0; i < M; i++)
    be[i]->iface = cpu;
}

static void
test_errors (void)
{
  ax_group *g = NULL;
  ax_backend *dup[M] = { be[0], be[1], be[0] };
  ax_backend *hole[M] = { be[0], NULL, be[2] };
  AX_CHECK (ax_group_create (be, M, NULL) == AX_ERR_INVALID_ARG, "no out");
  AX_CHECK (ax_group_create (NULL, M, &g) == AX_ERR_INVALID_ARG && !g,
      "no members");
  AX_CHECK (ax_group_create (be, 0, &g) == AX_ERR_INVALID_ARG && !g, "n 0");
  AX_CHECK (ax_group_create (be, -1, &g) == AX_ERR_INVALID_ARG && !g, "n -1");
  AX_CHECK (ax_group_create (dup, M, &g) == AX_ERR_INVALID_ARG && !g,
      "duplicate member");
  AX_CHECK (strstr (ax_backend_last_error (be[0]), "one backend") != NULL,
      "message: %s", ax_backend_last_error (be[0]));
  AX_CHECK (ax_group_create (hole, M, &g) == AX_ERR_INVALID_ARG && !g,
      "NULL member");

  CHECK_OK (be[0], ax_group_create (be, M, &g));
  ax_tensor t[M], *p[M];
  make_tensors (t, p, 64, exact_value);
  AX_CHECK (ax_group_allreduce_sum (NULL, p) == AX_ERR_INVALID_ARG, "no group");
  AX_CHECK (ax_group_allreduce_sum (g, NULL) == AX_ERR_INVALID_ARG,
      "no tensors");
  ax_tensor *missing[M] = { p[0], NULL, p[2] };
  AX_CHECK (ax_group_allreduce_sum (g, missing) == AX_ERR_INVALID_ARG,
      "NULL tensor");
  ax_tensor *swapped[M] = { p[1], p[0], p[2] };
  AX_CHECK (ax_group_allreduce_sum (g, swapped) == AX_ERR_WRONG_BACKEND,
      "tensor on another member");
  ax_tensor shorter = t[2];
  shorter.shape.n = 63;
  ax_tensor *mixed[M] = { p[0], p[1], &shorter };
  AX_CHECK (ax_group_allreduce_sum (g, mixed) == AX_ERR_SHAPE, "shapes");
  ax_tensor ints = t[1];
  ints.dtype = AX_I32;
  ax_tensor *typed[M] = { p[0], &ints, p[2] };
  AX_CHECK (ax_group_allreduce_sum (g, typed) == AX_ERR_SHAPE, "I32");
  /* No failed call changed anything. */
  float got[64];
  CHECK_OK (be[2], ax_tensor_download (got, sizeof got, p[2]));
  AX_CHECK (got[10] == exact_value (2, 10), "a refused call changed data");
  ax_group_destroy (g);
  ax_group_destroy (NULL);
}

int
main (void)
{
  for (int i = 0; i < M; i++)
    if (ax_cpu_backend_create (1, &be[i]) != AX_OK
        || !arena_init (&mem[i], be[i], 1 << 21))
      return 1;
  AX_RUN (test_host_sum);
  AX_RUN (test_through_host);
  AX_RUN (test_slots);
  AX_RUN (test_errors);
  for (int i = 0; i < M; i++) {
    ax_slab_free (&mem[i].slab);
    ax_backend_destroy (be[i]);
  }
  return ax_test_finish ();
}
