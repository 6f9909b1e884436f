/* Shared by the GPU tests: skipping honestly where there is no GPU (meson's
 * exit code 77 and a SKIP line with the reason), and the comparison every
 * check reports: max |a - b| / max (1, max |b|), b being the CPU's answer,
 * with any NaN or infinity in a a failure. */
#ifndef AX_CUDA_TEST_UTIL_H
#define AX_CUDA_TEST_UTIL_H

#include "kernels/cuda/cuda_backend.h"
#include "tests/ax_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define AX_TEST_SKIP 77

/* The number of usable devices, or exits 77 saying why there are none. */
static inline int
cuda_devices_or_skip (void)
{
  char why[1024] = "";
  int n = ax_cuda_device_count (why, sizeof why);
  if (n <= 0) {
    printf ("SKIP: no usable CUDA device: %s\n", why[0] ? why : "unknown");
    exit (AX_TEST_SKIP);
  }
  const char *desc = ax_cuda_module_description ();
  printf ("%d CUDA device%s; module %s\n", n, n == 1 ? "" : "s",
      desc ? desc : "?");
  return n;
}

/* A CUDA backend on `device`, or NULL with the reason printed. */
static inline ax_backend *
cuda_backend (int device, int deterministic)
{
  char err[512] = "";
  ax_backend *be = NULL;
  ax_status st = ax_cuda_backend_create (device, deterministic, &be, err,
      sizeof err);
  AX_CHECK (st == AX_OK, "CUDA backend on device %d: %s: %s", device,
      ax_status_str (st), err);
  return be;
}

static inline double
gpu_error (const float *a, const float *b, size_t n, size_t *nonfinite)
{
  double err = 0.0, scale = 1.0;
  *nonfinite = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite (a[i]))
      (*nonfinite)++;
    double d = fabs ((double) a[i] - (double) b[i]);
    if (!(d <= err))
      err = d;
    scale = fmax (scale, fabs ((double) b[i]));
  }
  return err / scale;
}

/* Prints and checks one comparison of a GPU result with the CPU's. */
#define CHECK_CLOSE(what, gpu, cpu, n, tol) do {                          \
    size_t bad_ = 0;                                                      \
    double e_ = gpu_error ((gpu), (cpu), (n), &bad_);                     \
    printf ("  %-34s %.2e (tolerance %.0e)\n", (what), e_, (double) (tol)); \
    AX_CHECK (e_ <= (tol) && bad_ == 0, "%s: error %.3e, %zu non-finite", \
        (what), e_, bad_);                                                \
  } while (0)

#endif
