/* Helpers shared by the layer tests: random arrays from the project's RNG,
 * float/double conversion, and the normalised maximum error that every
 * comparison reports (max |a - b| over max |b|). */
#ifndef AX_LAYER_TEST_UTIL_H
#define AX_LAYER_TEST_UTIL_H

#include "kernels/util/rng.h"

#include <math.h>
#include <stdlib.h>

static ax_rng test_rng;

/* Uniform in [lo, hi), rounded to float so that float and double copies of
 * the same data agree exactly. */
static inline void
fill_uniform (double *v, size_t n, double lo, double hi)
{
  for (size_t i = 0; i < n; i++)
    v[i] = (float) (lo + (hi - lo) * ax_rng_uniform (&test_rng));
}

static inline double *
new_uniform (size_t n, double lo, double hi)
{
  double *v = malloc ((n ? n : 1) * sizeof *v);
  fill_uniform (v, n, lo, hi);
  return v;
}

static inline double *
new_zeros (size_t n)
{
  return calloc (n ? n : 1, sizeof (double));
}

/* max |a - b| / max |b| (or the absolute error if b is all zeros). */
static inline double
normalised_error (const double *a, const double *b, size_t n)
{
  double err = 0.0, scale = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs (a[i] - b[i]);
    if (!(d <= err))              /* also catches NaN */
      err = d;
    scale = fmax (scale, fabs (b[i]));
  }
  return scale > 0.0 ? err / scale : err;
}

#endif
