/* xoshiro256** with splitmix64 seeding, plus the few distributions the
 * project needs. Public-domain algorithms by Blackman and Vigna. */
#include "kernels/util/rng.h"

#include <math.h>

static uint64_t
splitmix64 (uint64_t *x)
{
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void
ax_rng_seed (ax_rng *rng, uint64_t seed)
{
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64 (&x);
  rng->has_spare = 0;
  rng->spare = 0.0;
}

void
ax_rng_seed_stream (ax_rng *rng, uint64_t seed, uint64_t stream)
{
  uint64_t x = stream;
  ax_rng_seed (rng, seed ^ splitmix64 (&x));
}

static inline uint64_t
rotl (uint64_t x, int k)
{
  return (x << k) | (x >> (64 - k));
}

uint64_t
ax_rng_u64 (ax_rng *rng)
{
  uint64_t *s = rng->s;
  uint64_t result = rotl (s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

uint32_t
ax_rng_below (ax_rng *rng, uint32_t n)
{
  uint64_t m = (ax_rng_u64 (rng) >> 32) * (uint64_t) n;
  uint32_t low = (uint32_t) m;
  if (low < n) {
    uint32_t threshold = (uint32_t) (-n) % n;
    while (low < threshold) {
      m = (ax_rng_u64 (rng) >> 32) * (uint64_t) n;
      low = (uint32_t) m;
    }
  }
  return (uint32_t) (m >> 32);
}

double
ax_rng_uniform (ax_rng *rng)
{
  return (double) (ax_rng_u64 (rng) >> 11) * 0x1.0p-53;
}

double
ax_rng_normal (ax_rng *rng)
{
  if (rng->has_spare) {
    rng->has_spare = 0;
    return rng->spare;
  }
  double u1, u2;
  do
    u1 = ax_rng_uniform (rng);
  while (u1 <= 0.0);
  u2 = ax_rng_uniform (rng);
  double r = sqrt (-2.0 * log (u1));
  double t = 2.0 * M_PI * u2;
  rng->spare = r * sin (t);
  rng->has_spare = 1;
  return r * cos (t);
}

void
ax_rng_shuffle_u32 (ax_rng *rng, uint32_t *v, uint32_t n)
{
  for (uint32_t i = n; i > 1; i--) {
    uint32_t j = ax_rng_below (rng, i);
    uint32_t tmp = v[i - 1];
    v[i - 1] = v[j];
    v[j] = tmp;
  }
}
