/* Helpers for tests that run ops on a backend: one slab per test program
 * handed out as tensors (an arena, reset between cases), and moving float64
 * host arrays in and out of F32 tensors. */
#ifndef AX_BACKEND_TEST_UTIL_H
#define AX_BACKEND_TEST_UTIL_H

#include "kernels/backend/backend.h"
#include "tests/ax_test.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  ax_backend *be;
  ax_slab slab;
  size_t used;
} arena;

static inline int
arena_init (arena *a, ax_backend *be, size_t bytes)
{
  memset (a, 0, sizeof *a);
  a->be = be;
  return ax_slab_alloc (be, bytes, &a->slab) == AX_OK;
}

static inline void
arena_reset (arena *a)
{
  a->used = 0;
}

/* A tensor from the arena; data stays NULL (and a check fails) if full. */
static inline ax_tensor
arena_tensor (arena *a, ax_shape shape, ax_dtype dtype)
{
  ax_tensor t = { shape, dtype, a->be, NULL };
  ax_status st = ax_tensor_view (&t, &a->slab, a->used, shape, dtype);
  AX_CHECK (st == AX_OK, "arena tensor: %s", ax_status_str (st));
  if (st == AX_OK)
    a->used += ax_tensor_footprint (shape, dtype);
  return t;
}

static inline ax_status
upload_doubles (ax_tensor *t, const double *v)
{
  size_t n = ax_shape_count (t->shape);
  float *f = malloc (n * sizeof *f);
  for (size_t i = 0; i < n; i++)
    f[i] = (float) v[i];
  ax_status st = ax_tensor_upload (t, f, n * sizeof *f);
  free (f);
  return st;
}

static inline ax_status
download_doubles (double *v, const ax_tensor *t)
{
  size_t n = ax_shape_count (t->shape);
  float *f = malloc (n * sizeof *f);
  ax_status st = ax_tensor_download (f, n * sizeof *f, t);
  for (size_t i = 0; i < n; i++)
    v[i] = f[i];
  free (f);
  return st;
}

/* Checks a status and prints the backend's message when it is not AX_OK. */
#define CHECK_OK(be, expr) do {                                           \
    ax_status st_ = (expr);                                               \
    AX_CHECK (st_ == AX_OK, "%s: %s (%s)", #expr, ax_status_str (st_),    \
        ax_backend_last_error (be));                                      \
  } while (0)

#endif
