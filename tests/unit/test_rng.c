/* ax_rng: reproducible, unbiased in range, and the normal deviates have the
 * right first two moments; shuffles are permutations. */
#include "kernels/util/rng.h"
#include "tests/ax_test.h"

#include <stdlib.h>
#include <string.h>

static void
test_reproducible (void)
{
  ax_rng a, b, c;
  ax_rng_seed (&a, 42);
  ax_rng_seed (&b, 42);
  ax_rng_seed (&c, 43);
  int same_c = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t x = ax_rng_u64 (&a), y = ax_rng_u64 (&b), z = ax_rng_u64 (&c);
    AX_CHECK (x == y, "draw %d differs for the same seed", i);
    same_c += (x == z);
  }
  AX_CHECK (same_c == 0, "%d draws equal for different seeds", same_c);

  ax_rng s0, s1;
  ax_rng_seed_stream (&s0, 7, 0);
  ax_rng_seed_stream (&s1, 7, 1);
  AX_CHECK (ax_rng_u64 (&s0) != ax_rng_u64 (&s1), "streams coincide");
}

static void
test_below_uniform (void)
{
  ax_rng r;
  ax_rng_seed (&r, 1);
  enum { N = 7, DRAWS = 70000 };
  int count[N] = { 0 };
  for (int i = 0; i < DRAWS; i++) {
    uint32_t v = ax_rng_below (&r, N);
    AX_CHECK (v < N, "value %u out of range", v);
    if (v < N)
      count[v]++;
  }
  /* chi-square with 6 degrees of freedom; 22.5 is the 0.999 quantile */
  double chi2 = 0, expect = DRAWS / (double) N;
  for (int i = 0; i < N; i++)
    chi2 += (count[i] - expect) * (count[i] - expect) / expect;
  AX_CHECK (chi2 < 22.5, "chi-square %g", chi2);
}

static void
test_normal_moments (void)
{
  ax_rng r;
  ax_rng_seed (&r, 3);
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; i++) {
    double x = ax_rng_normal (&r);
    s += x;
    s2 += x * x;
  }
  double mean = s / n, var = s2 / n - mean * mean;
  AX_CHECK (fabs (mean) < 0.01, "mean %g", mean);
  AX_CHECK (fabs (var - 1.0) < 0.02, "variance %g", var);
  for (int i = 0; i < 1000; i++) {
    double u = ax_rng_uniform (&r);
    AX_CHECK (u >= 0.0 && u < 1.0, "uniform %g", u);
  }
}

static void
test_shuffle_permutation (void)
{
  ax_rng r;
  ax_rng_seed (&r, 5);
  uint32_t v[100], seen[100];
  for (uint32_t i = 0; i < 100; i++)
    v[i] = i;
  ax_rng_shuffle_u32 (&r, v, 100);
  memset (seen, 0, sizeof seen);
  int moved = 0;
  for (uint32_t i = 0; i < 100; i++) {
    AX_CHECK (v[i] < 100, "index %u", v[i]);
    if (v[i] < 100)
      seen[v[i]]++;
    moved += (v[i] != i);
  }
  for (int i = 0; i < 100; i++)
    AX_CHECK (seen[i] == 1, "%d seen %u times", i, seen[i]);
  AX_CHECK (moved > 80, "only %d moved", moved);
}

int
main (void)
{
  AX_RUN (test_reproducible);
  AX_RUN (test_below_uniform);
  AX_RUN (test_normal_moments);
  AX_RUN (test_shuffle_permutation);
  return ax_test_finish ();
}
