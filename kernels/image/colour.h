/* Colour statistics and colour noise of the AlexNet paper (section 4.1):
 * exact per-channel sums over RGB images, the mean, std and 3x3 covariance
 * on a 0..1 scale, its eigen-decomposition, and the per-image PCA jitter. */
#ifndef AX_COLOUR_H
#define AX_COLOUR_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/image/colour_math.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- PCA colour noise -------------------------------------------------- */

/* The three per-image offsets in 0..255 units:
 *   delta = 255 * V (alpha o lambda),  V's columns the eigenvectors.
 * alpha: the three draws ~ N(0, sigma) made once per image by the caller;
 * eigval: lambda on the 0..1 scale; eigvec[row][column]. */
void ax_pca_jitter_offsets (double delta[3], const double alpha[3],
    const double eigval[3], const double eigvec[3][3]);

/* Adds delta to every pixel of a packed RGB 8-bit image (3 bytes a pixel,
 * rows `stride` bytes apart), rounding to nearest (see
 * ax_colour_round_offset) and clamping to 0..255. In place. */
void ax_pca_jitter_apply_rgb (uint8_t *pixels, int width, int height,
    size_t stride, const double delta[3]);

/* Both steps: offsets from alpha, then applied to the image. */
void ax_pca_jitter_rgb (uint8_t *pixels, int width, int height,
    size_t stride, const double alpha[3], const double eigval[3],
    const double eigvec[3][3]);

/* ---- Statistics accumulator -------------------------------------------- */

/* Exact integer sums over any number of RGB images (values 0..255). The
 * products are indexed AX_RR, AX_RG, AX_RB, AX_GG, AX_GB, AX_BB. uint64 holds
 * the product sums of up to 2.8e14 pixels (ImageNet at 256x256: 8e10). */
enum { AX_RR, AX_RG, AX_RB, AX_GG, AX_GB, AX_BB };

typedef struct {
  uint64_t images;
  uint64_t pixels;
  uint64_t sum[3];
  uint64_t prod[6];
} ax_colour_stats;

void ax_colour_stats_init (ax_colour_stats *s);
/* Sums one packed RGB image (3 bytes a pixel, rows `stride` bytes apart)
 * into its own totals, then merges them into s. */
void ax_colour_stats_add_rgb (ax_colour_stats *s, const uint8_t *pixels,
    int width, int height, size_t stride);
/* dst += src (e.g. totals of several workers or shards). */
void ax_colour_stats_merge (ax_colour_stats *dst, const ax_colour_stats *src);
/* Mean, std and covariance on the 0..1 scale, float64. The covariance is
 * the population one (divided by the pixel count P); std[c] is
 * sqrt (cov[c][c]). Any output may be NULL. Returns 0, or -1 when no pixel
 * was seen (outputs untouched). */
int ax_colour_stats_finish (const ax_colour_stats *s, double mean[3],
    double std[3], double cov[3][3]);

/* ---- Symmetric 3x3 eigen-decomposition --------------------------------- */

/* Cyclic Jacobi in float64 on the symmetric matrix a (only its upper
 * triangle is read). eigval sorted descending; eigvec[row][column] with the
 * columns the unit eigenvectors. Sign convention: in each eigenvector the
 * component of largest magnitude is NEGATIVE (the first such component on a
 * tie). For an all-positive covariance such as ImageNet's this makes the
 * first principal vector all negative, as in the published ImageNet vectors.
 * Returns the number of sweeps used, or -1 if it did not converge (the
 * outputs then hold the last iterate). */
int ax_sym3_eigen (const double a[3][3], double eigval[3],
    double eigvec[3][3]);

/* Adobe CMYK as JPEG decoders return it (stored inverted: 255 = no ink)
 * to packed RGB: R = C*K/255 rounded, likewise G from M and B from Y.
 * `cmyk` holds h rows of w 4-byte pixels, tightly packed. */
void ax_cmyk_to_rgb (uint8_t *rgb, int rgb_stride, const uint8_t *cmyk,
    int w, int h);

#ifdef __cplusplus
}
#endif
#endif
