/* Per-pixel maths of the colour noise (PCA jitter), shared by the CPU code
 * and the CUDA kernel (through cuda_elementwise.h): AX_HOSTDEV (hostdev.h)
 * is __host__ __device__ under nvcc, plain static inline under a C
 * compiler, so the host tests run exactly the code the GPU runs. */
#ifndef AX_COLOUR_MATH_H
#define AX_COLOUR_MATH_H

#include <math.h>
#include <stdint.h>

#include "kernels/util/hostdev.h"

/* Offset of channel c (0 = R, 1 = G, 2 = B) in 0..255 units:
 *   delta[c] = 255 * sum_i eigvec[c][i] * alpha[i] * eigval[i]
 * eigvec holds the eigenvectors as COLUMNS (eigvec[row][column]). */
AX_HOSTDEV double
ax_colour_offset (int c, const double alpha[3], const double eigval[3],
    const double eigvec[3][3])
{
  return 255.0 * (eigvec[c][0] * alpha[0] * eigval[0] +
      eigvec[c][1] * alpha[1] * eigval[1] +
      eigvec[c][2] * alpha[2] * eigval[2]);
}

/* Rounds an offset to the nearest integer, halves upwards (floor (x + 0.5)),
 * saturated to +-1024 (anything beyond +-255 already clamps every pixel).
 * Because pixel values are integers, round (v + delta) == v + round (delta)
 * with this rule, so the rounding happens once per image, not per pixel. */
AX_HOSTDEV int
ax_colour_round_offset (double delta)
{
  if (!(delta > -1024.0))       /* also catches NaN */
    return delta != delta ? 0 : -1024;
  if (delta > 1024.0)
    return 1024;
  return (int) floor (delta + 0.5);
}

/* v + offset, clamped to 0..255. */
AX_HOSTDEV uint8_t
ax_colour_add_clamp_u8 (uint8_t v, int offset)
{
  int x = (int) v + offset;
  return (uint8_t) (x < 0 ? 0 : (x > 255 ? 255 : x));
}

#endif
