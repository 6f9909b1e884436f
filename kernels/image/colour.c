/* Colour statistics (exact integer sums), the symmetric 3x3 eigen-
 * decomposition of their covariance, and the paper's PCA colour noise. The
 * per-pixel maths lives in colour_math.h so the GPU can share it. */
#include "kernels/image/colour.h"

#include <math.h>
#include <string.h>

/* ---- PCA colour noise -------------------------------------------------- */

void
ax_pca_jitter_offsets (double delta[3], const double alpha[3],
    const double eigval[3], const double eigvec[3][3])
{
  for (int c = 0; c < 3; c++)
    delta[c] = ax_colour_offset (c, alpha, eigval, eigvec);
}

/* The hot loop, also built for AVX2 and AVX-512 and picked at run time.
 * clamp(v + offset) as a saturating add of the positive part and a
 * saturating subtraction of the negative part (one of them is 0): the
 * same value as ax_colour_add_clamp_u8, in byte lanes. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) \
    && defined(__ELF__)
__attribute__((target_clones ("arch=x86-64-v4", "arch=x86-64-v3",
            "default")))
#endif
static void
add_pattern_row (uint8_t *restrict p, size_t n, const uint8_t *restrict up,
    const uint8_t *restrict down)
{
  for (size_t i = 0; i < n; i++) {
    unsigned s = (unsigned) p[i] + up[i];
    uint8_t v = (uint8_t) (s > 255 ? 255 : s);
    p[i] = (uint8_t) (v > down[i] ? v - down[i] : 0);
  }
}

void
ax_pca_jitter_apply_rgb (uint8_t *pixels, int width, int height,
    size_t stride, const double delta[3])
{
  const int r = ax_colour_round_offset (delta[0]);
  const int g = ax_colour_round_offset (delta[1]);
  const int b = ax_colour_round_offset (delta[2]);

  /* The offsets repeat every 3 bytes: rows of up/down parts built once per
   * image, so the per-pixel loop is plain byte arithmetic that vectorises. */
  enum { MAX_ROW = 4096 * 3 };
  uint8_t up[MAX_ROW], down[MAX_ROW];
  const int off[3] = { r, g, b };
  const size_t n = (size_t) width * 3;

  if (r == 0 && g == 0 && b == 0)
    return;
  if (n > MAX_ROW) {            /* very wide images: the plain loop */
    for (int y = 0; y < height; y++) {
      uint8_t *p = pixels + (size_t) y * stride;
      for (size_t i = 0; i < n; i++)
        p[i] = ax_colour_add_clamp_u8 (p[i], off[i % 3]);
    }
    return;
  }
  for (size_t i = 0; i < n; i++) {
    int o = off[i % 3];
    up[i] = (uint8_t) (o > 0 ? (o > 255 ? 255 : o) : 0);
    down[i] = (uint8_t) (o < 0 ? (o < -255 ? 255 : -o) : 0);
  }
  for (int y = 0; y < height; y++)
    add_pattern_row (pixels + (size_t) y * stride, n, up, down);
}

void
ax_pca_jitter_rgb (uint8_t *pixels, int width, int height, size_t stride,
    const double alpha[3], const double eigval[3], const double eigvec[3][3])
{
  double delta[3];

  ax_pca_jitter_offsets (delta, alpha, eigval, eigvec);
  ax_pca_jitter_apply_rgb (pixels, width, height, stride, delta);
}

/* ---- Statistics accumulator -------------------------------------------- */

void
ax_colour_stats_init (ax_colour_stats *s)
{
  memset (s, 0, sizeof (*s));
}

void
ax_colour_stats_add_rgb (ax_colour_stats *s, const uint8_t *pixels,
    int width, int height, size_t stride)
{
  ax_colour_stats img;

  ax_colour_stats_init (&img);
  for (int y = 0; y < height; y++) {
    const uint8_t *p = pixels + (size_t) y * stride;
    /* One row of products fits 32 bits up to 66051 pixels wide; keep the
     * row sums in 64 bits anyway so any width is exact. */
    uint64_t sr = 0, sg = 0, sb = 0;
    uint64_t rr = 0, rg = 0, rb = 0, gg = 0, gb = 0, bb = 0;
    for (int x = 0; x < width; x++, p += 3) {
      const uint32_t r = p[0], g = p[1], b = p[2];
      sr += r;
      sg += g;
      sb += b;
      rr += r * r;
      rg += r * g;
      rb += r * b;
      gg += g * g;
      gb += g * b;
      bb += b * b;
    }
    img.sum[0] += sr;
    img.sum[1] += sg;
    img.sum[2] += sb;
    img.prod[AX_RR] += rr;
    img.prod[AX_RG] += rg;
    img.prod[AX_RB] += rb;
    img.prod[AX_GG] += gg;
    img.prod[AX_GB] += gb;
    img.prod[AX_BB] += bb;
  }
  img.images = 1;
  img.pixels = (uint64_t) width * (uint64_t) height;
  ax_colour_stats_merge (s, &img);
}

void
ax_colour_stats_merge (ax_colour_stats *dst, const ax_colour_stats *src)
{
  dst->images += src->images;
  dst->pixels += src->pixels;
  for (int c = 0; c < 3; c++)
    dst->sum[c] += src->sum[c];
  for (int k = 0; k < 6; k++)
    dst->prod[k] += src->prod[k];
}

/* P * S_cd - s_c * s_d, exactly where 128-bit integers exist. */
static double
centred_product (const ax_colour_stats *s, int c, int d, int k)
{
#ifdef __SIZEOF_INT128__
  __int128 num = (__int128) s->pixels * (__int128) s->prod[k] -
      (__int128) s->sum[c] * (__int128) s->sum[d];
  return (double) num;
#else
  return (double) s->pixels * (double) s->prod[k] -
      (double) s->sum[c] * (double) s->sum[d];
#endif
}

int
ax_colour_stats_finish (const ax_colour_stats *s, double mean[3],
    double std[3], double cov[3][3])
{
  static const int index[3][3] = {
    {AX_RR, AX_RG, AX_RB},
    {AX_RG, AX_GG, AX_GB},
    {AX_RB, AX_GB, AX_BB},
  };
  double c3[3][3];

  if (s->pixels == 0)
    return -1;
  const double p = (double) s->pixels;
  const double norm = 1.0 / (p * p * 255.0 * 255.0);
  for (int c = 0; c < 3; c++)
    for (int d = c; d < 3; d++)
      c3[c][d] = c3[d][c] = centred_product (s, c, d, index[c][d]) * norm;
  for (int c = 0; c < 3; c++) {
    if (mean)
      mean[c] = (double) s->sum[c] / (p * 255.0);
    if (std)
      std[c] = sqrt (c3[c][c] > 0.0 ? c3[c][c] : 0.0);
    if (cov)
      for (int d = 0; d < 3; d++)
        cov[c][d] = c3[c][d];
  }
  return 0;
}

/* ---- Symmetric 3x3 eigen-decomposition --------------------------------- */

/* One Jacobi rotation in the (p, q) plane that zeroes a[p][q]
 * (Numerical Recipes' stable form): a = J^T a J, v = v J. */
static void
jacobi_rotate (double a[3][3], double v[3][3], int p, int q)
{
  const double theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
  double t;

  if (fabs (theta) > 1e150)
    t = 0.5 / theta;
  else
    t = (theta >= 0.0 ? 1.0 : -1.0) / (fabs (theta) + sqrt (theta * theta + 1.0));
  const double c = 1.0 / sqrt (t * t + 1.0), s = t * c;

  for (int k = 0; k < 3; k++) {
    const double akp = a[k][p], akq = a[k][q];
    a[k][p] = c * akp - s * akq;
    a[k][q] = s * akp + c * akq;
  }
  for (int k = 0; k < 3; k++) {
    const double apk = a[p][k], aqk = a[q][k];
    a[p][k] = c * apk - s * aqk;
    a[q][k] = s * apk + c * aqk;
  }
  a[p][q] = a[q][p] = 0.0;
  for (int k = 0; k < 3; k++) {
    const double vkp = v[k][p], vkq = v[k][q];
    v[k][p] = c * vkp - s * vkq;
    v[k][q] = s * vkp + c * vkq;
  }
}

/* Sorts descending and applies the sign convention (largest-magnitude
 * component negative). */
static void
eigen_order (double a[3][3], double v[3][3], double eigval[3],
    double eigvec[3][3])
{
  int order[3] = { 0, 1, 2 };

  for (int i = 0; i < 3; i++)
    for (int j = i + 1; j < 3; j++)
      if (a[order[j]][order[j]] > a[order[i]][order[i]]) {
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
  for (int col = 0; col < 3; col++) {
    const int src = order[col];
    int big = 0;
    for (int k = 1; k < 3; k++)
      if (fabs (v[k][src]) > fabs (v[big][src]))
        big = k;
    const double sign = v[big][src] > 0.0 ? -1.0 : 1.0;
    eigval[col] = a[src][src];
    for (int k = 0; k < 3; k++)
      eigvec[k][col] = sign * v[k][src];
  }
}

int
ax_sym3_eigen (const double a_in[3][3], double eigval[3],
    double eigvec[3][3])
{
  static const int pairs[3][2] = { {0, 1}, {0, 2}, {1, 2} };
  double a[3][3], v[3][3];
  int sweeps = -1;

  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) {
      a[i][j] = i <= j ? a_in[i][j] : a_in[j][i];
      v[i][j] = i == j ? 1.0 : 0.0;
    }
  for (int sweep = 0; sweep < 50; sweep++) {
    const double off = fabs (a[0][1]) + fabs (a[0][2]) + fabs (a[1][2]);
    if (off == 0.0) {
      sweeps = sweep;
      break;
    }
    for (int k = 0; k < 3; k++) {
      const int p = pairs[k][0], q = pairs[k][1];
      const double g = 100.0 * fabs (a[p][q]);
      /* Once an off-diagonal element is below the rounding of both
       * diagonal ones it is zero for all purposes (after a few sweeps). */
      if (sweep > 3 && fabs (a[p][p]) + g == fabs (a[p][p]) &&
          fabs (a[q][q]) + g == fabs (a[q][q]))
        a[p][q] = a[q][p] = 0.0;
      else if (a[p][q] != 0.0)
        jacobi_rotate (a, v, p, q);
    }
  }
  eigen_order (a, v, eigval, eigvec);
  return sweeps;
}

void
ax_cmyk_to_rgb (uint8_t *rgb, int rgb_stride, const uint8_t *cmyk, int w,
    int h)
{
  for (int y = 0; y < h; y++) {
    const uint8_t *s = cmyk + (size_t) y * w * 4;
    uint8_t *d = rgb + (size_t) y * rgb_stride;
    for (int x = 0; x < w; x++, s += 4, d += 3) {
      unsigned k = s[3];
      d[0] = (uint8_t) ((s[0] * k + 127) / 255);
      d[1] = (uint8_t) ((s[1] * k + 127) / 255);
      d[2] = (uint8_t) ((s[2] * k + 127) / 255);
    }
  }
}
