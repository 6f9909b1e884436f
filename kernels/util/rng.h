/* Seeded pseudo-random numbers for the whole project: shuffling, crops,
 * flips, colour noise, dropout and initialisation all draw from ax_rng so
 * that one seed reproduces a run, and the state can be saved in checkpoints. */
#ifndef AX_RNG_H
#define AX_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* xoshiro256** (Blackman & Vigna), seeded through splitmix64. */
typedef struct {
  uint64_t s[4];
  /* Box-Muller makes normals in pairs; the second one waits here. */
  int has_spare;
  double spare;
} ax_rng;

void ax_rng_seed (ax_rng *rng, uint64_t seed);
/* A generator for stream `stream` of `seed`: independent of other streams. */
void ax_rng_seed_stream (ax_rng *rng, uint64_t seed, uint64_t stream);
uint64_t ax_rng_u64 (ax_rng *rng);
/* Uniform in [0, n), unbiased (Lemire's method); n > 0. */
uint32_t ax_rng_below (ax_rng *rng, uint32_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double ax_rng_uniform (ax_rng *rng);
/* Standard normal N(0, 1). */
double ax_rng_normal (ax_rng *rng);
/* Fisher-Yates shuffle of n indices in place. */
void ax_rng_shuffle_u32 (ax_rng *rng, uint32_t *v, uint32_t n);

#ifdef __cplusplus
}
#endif
#endif
