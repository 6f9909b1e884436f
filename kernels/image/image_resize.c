/* PIL-exact BILINEAR resize of RGB with a centre-crop window: coefficient
 * tables are computed once per plan exactly as PIL's precompute_coeffs and
 * normalize_coeffs_8bpc do. The per-frame passes come in two forms giving
 * the same bytes:
 * - portable: fixed-point loops the compiler vectorises, the vertical pass
 *   over whole rows, the horizontal one over strips of 16 rows transposed so
 *   that it looks like a vertical pass;
 * - AVX-512 (VBMI + VNNI, picked at run time): rows are worked on as they
 *   lie, byte permutes gather each output's input bytes and VNNI dot
 *   products do the sums exactly (see the comment before hpass_avx512). */
#include "kernels/image/image_resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__)
#define AX_HAVE_AVX512 1
#include <immintrin.h>
#define AX_AVX512 __attribute__((target ("avx512f,avx512bw,avx512vl," \
        "avx512vbmi,avx512vnni")))
#define AX_AVX512_INLINE AX_AVX512 static inline __attribute__((always_inline))
#else
#define AX_HAVE_AVX512 0
#endif

#define AX_PRECISION_BITS (32 - 8 - 2)  /* as PIL */
/* The hot loops are also built for SSE4.2, AVX2 and AVX-512 and picked at
 * run time (GCC function multiversioning); elsewhere plain portable C. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) \
    && defined(__ELF__)
#define AX_HOT __attribute__((target_clones ("arch=x86-64-v4", \
        "arch=x86-64-v3", "arch=x86-64-v2", "default")))
#else
#define AX_HOT
#endif
#define AX_STRIP 16                     /* rows per horizontal strip */
#define AX_STRIP_BYTES (AX_STRIP * 4)   /* lanes of one strip column: RGBx */
#define AX_STRIP_STRIDE AX_STRIP_BYTES  /* bytes between strip columns */
#define AX_TRANSPOSE_BLOCK 128          /* strip columns filled at a time */

void
ax_resize_geometry (int *scaled_w, int *scaled_h, int *crop_x, int *crop_y,
    int src_w, int src_h, int size)
{
  int sw, sh, dx, dy;

  if (src_w <= src_h) {
    sw = size;
    sh = (int) ((double) size * src_h / src_w);
  } else {
    sh = size;
    sw = (int) ((double) size * src_w / src_h);
  }
  /* int(round(d / 2.0)) with round half to even, d >= 0 */
  dx = sw - size;
  dy = sh - size;
  dx = (dx / 2) + ((dx & 1) && ((dx / 2) & 1));
  dy = (dy / 2) + ((dy & 1) && ((dy / 2) & 1));
  *scaled_w = sw;
  *scaled_h = sh;
  *crop_x = dx;
  *crop_y = dy;
}

int
ax_resize_scaled_size (int *scaled_w, int *scaled_h, int src_w, int src_h,
    int size)
{
  int shorter, longer, crop_x, crop_y;

  if (src_w < 1 || src_h < 1 || size < 1 || size > AX_RESIZE_MAX_SIDE)
    return -1;
  shorter = src_w <= src_h ? src_w : src_h;
  longer = src_w <= src_h ? src_h : src_w;
  /* (the bound first: the int conversion below must not overflow) */
  if ((double) size * longer / shorter >= AX_RESIZE_MAX_SIDE + 1.0)
    return -1;
  ax_resize_geometry (scaled_w, scaled_h, &crop_x, &crop_y, src_w, src_h,
      size);
  return 0;
}

static double
bilinear_filter (double x)
{
  if (x < 0.0)
    x = -x;
  if (x < 1.0)
    return 1.0 - x;
  return 0.0;
}

/* Taps per output along an axis of in_size inputs resized to scaled
 * outputs: PIL's ksize, at most the whole input. */
static int
axis_taps (int in_size, int scaled)
{
  double scale = (double) in_size / scaled;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  int taps = (int) ceil (filterscale) * 2 + 1;
  return taps < in_size ? taps : in_size;
}

/* Normalisation of n weights, PIL's w / ww * 2^22 rounded half away from
 * zero: the divisions dominate the plan's cost and are exact IEEE
 * operations, so doing them vectorised gives the same coefficients. */
AX_HOT static void
normalise_weights (int32_t *restrict coef, const double *restrict k,
    const double *restrict ww, size_t n)
{
  for (size_t j = 0; j < n; j++) {
    double w = k[j] / ww[j];
    w *= (double) (1 << AX_PRECISION_BITS);
    coef[j] = (int32_t) (w < 0 ? w - 0.5 : w + 0.5);
  }
}

/* Coefficients of outputs first..first+count-1 of that axis, as PIL
 * computes them. Each output gets exactly `taps` coefficients starting at
 * start[i], zero-padded; the start moves left where the window would run
 * past the input, so every read stays inside it. k: scratch of
 * 2 * count * taps doubles (the weights, then each one's divisor). */
static void
axis_coeffs (int32_t *coef, int32_t *start, double *k, int taps, int in_size,
    int scaled, int first, int count)
{
  double scale = (double) in_size / scaled;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = 1.0 * filterscale;
  double ss = 1.0 / filterscale;
  const size_t n = (size_t) count * taps;
  double *div = k + n;

  /* the triangle's weights of every output, in its taps-wide row */
  for (int i = 0; i < count; i++) {
    int xx = first + i;
    double center = (xx + 0.5) * scale;
    double ww = 0.0;
    int xmin = (int) (center - support + 0.5);
    int xmax = (int) (center + support + 0.5);
    double *kk = k + (size_t) i * taps;
    int s;
    if (xmin < 0)
      xmin = 0;
    if (xmax > in_size)
      xmax = in_size;
    xmax -= xmin;
    s = xmin;
    if (s + taps > in_size)
      s = in_size - taps;
    for (int t = 0; t < taps; t++)
      kk[t] = 0.0;
    for (int x = 0; x < xmax; x++) {
      double w = bilinear_filter ((x + xmin - center + 0.5) * ss);
      kk[(xmin - s) + x] = w;
      ww += w;
    }
    /* (a zero sum leaves the weights as they are, as PIL) */
    for (int t = 0; t < taps; t++)
      div[(size_t) i * taps + t] = ww != 0.0 ? ww : 1.0;
    start[i] = s;
  }
  normalise_weights (coef, k, div, n);
}

/* PIL's kernel size (2 ceil(scale) + 1) is an upper bound: the triangle
 * covers at most about 2 scale + 1 inputs, so for most scales the first or
 * last of each output's taps are zero. Shrinks every output to the widest
 * non-zero span, in place; returns the new tap count. */
static int
compact_taps (int32_t *coef, int32_t *start, int taps, int count,
    int in_size)
{
  int width = 1;

  for (int i = 0; i < count; i++) {
    const int32_t *c = coef + (size_t) i * taps;
    int lo = 0, hi = taps - 1;
    while (lo < hi && c[lo] == 0)
      lo++;
    while (hi > lo && c[hi] == 0)
      hi--;
    if (hi - lo + 1 > width)
      width = hi - lo + 1;
  }
  for (int i = 0; i < count; i++) {
    const int32_t *c = coef + (size_t) i * taps;
    int32_t *o = coef + (size_t) i * width;
    int32_t row[64];
    int lo = 0, s;
    if (taps > 64)
      return taps;              /* (never for the scales in use) keep all */
    while (lo < taps - 1 && c[lo] == 0)
      lo++;
    s = start[i] + lo;
    if (s + width > in_size)
      s = in_size - width;
    /* taps of the new window [s, s + width) from the old [start, +taps),
     * straight into place once the new row lies before the old one (a
     * small memcpy call per output costs more than the rest) */
    if ((size_t) i * taps >= (size_t) (i + 1) * width) {
      for (int t = 0; t < width; t++) {
        int old = s + t - start[i];
        o[t] = old >= 0 && old < taps ? c[old] : 0;
      }
    } else {
      for (int t = 0; t < width; t++) {
        int old = s + t - start[i];
        row[t] = old >= 0 && old < taps ? c[old] : 0;
      }
      memcpy (o, row, sizeof (int32_t) * (size_t) width);
    }
    start[i] = s;
  }
  return width;
}

/* A block of at least `bytes`, reusing *block when it is large enough. */
static void *
reuse_block (void **block, size_t *capacity, size_t bytes, size_t align)
{
  if (*block != NULL && *capacity >= bytes)
    return *block;
  free (*block);
  *block = align ? aligned_alloc (align, (bytes + align - 1) / align * align)
      : malloc (bytes);
  *capacity = *block ? bytes : 0;
  return *block;
}

/* ---- Run-time choice of the AVX-512 code ---- */

static int simd_allowed_state = -1;     /* -1: not probed yet */

/* The CPU (and OS) runs AVX-512 F/BW/VL with VBMI and VNNI. */
static int
simd_cpu (void)
{
#if AX_HAVE_AVX512
  __builtin_cpu_init ();
  return __builtin_cpu_supports ("avx512f")
      && __builtin_cpu_supports ("avx512bw")
      && __builtin_cpu_supports ("avx512vl")
      && __builtin_cpu_supports ("avx512vbmi")
      && __builtin_cpu_supports ("avx512vnni");
#else
  return 0;
#endif
}

static int
simd_allowed (void)
{
  if (simd_allowed_state < 0) {
    const char *e = getenv ("AX_RESIZE_PORTABLE");
    int off = e != NULL && *e != '\0' && strcmp (e, "0") != 0;
    simd_allowed_state = !off && simd_cpu ();
  }
  return simd_allowed_state;
}

int
ax_resize_set_simd (int allow)
{
  simd_allowed_state = allow && simd_cpu ();
  return simd_allowed_state;
}

/* ---- Tables of the AVX-512 passes ----
 *
 * A 22-bit coefficient c is written with three signed 8-bit digits,
 * c = d2 * 65536 + d1 * 256 + d0, so that a sum of pixel * coefficient
 * over up to 4 taps is three VNNI dot products (u8 pixels x s8 digits,
 * 4 products summed into an int32), combined Horner-wise:
 * ((32 + P2) << 8 + P1) << 8 + P0 = 2^21 + sum p c, exact in int32 (the
 * 32 becomes PIL's rounding constant 1 << 21). Taps beyond the fourth go
 * in further "quads" of 4. */

#define AX_FAST_MAX_HQUADS 2    /* horizontal: up to 8 taps */
#define AX_FAST_MAX_VQUADS 8    /* vertical: up to 32 taps */
#ifndef AX_HPREFETCH
#define AX_HPREFETCH 8          /* rows ahead the horizontal pass prefetches */
#endif
#ifndef AX_HROWS
#define AX_HROWS 4              /* rows the horizontal pass does at once */
#endif

/* Layout of plan->fast: this header, then the arrays it points to. */
typedef struct {
  int groups;                   /* 16-value groups per row, multiple of 4 */
  int hquads, vquads;           /* ceil (taps / 4) of each pass */
  int32_t *off;                 /* [groups] first source byte of a group */
  uint64_t *mask;               /* [groups] its bytes inside the row */
  uint8_t *htab;                /* [groups][hquads][4][64], 64-aligned */
  int32_t *vdig;                /* [out_h][vquads][3] digits d2, d1, d0 */
} fast_tables;

/* Digits d[0] = d2, d[1] = d1, d[2] = d0 of c; -1 if c does not fit. */
static int
split_coef (int32_t c, int8_t d[3])
{
  int32_t r = c;
  for (int k = 2; k >= 1; k--) {
    int32_t lo = ((r & 0xff) ^ 0x80) - 0x80;
    d[k] = (int8_t) lo;
    r = (r - lo) / 256;
  }
  if (r < -128 || r > 127)
    return -1;
  d[0] = (int8_t) r;
  return 0;
}

/* Four digits (taps 4q .. 4q+3 of coef[taps], missing taps 0) as a dword
 * with the first tap in its low byte: the layout a dot product reads. */
static int32_t
quad_digits (int8_t (*dig)[3], int taps, int q, int k)
{
  uint32_t v = 0;
  for (int b = 0; b < 4; b++)
    if (4 * q + b < taps)
      v |= (uint32_t) (uint8_t) dig[4 * q + b][k] << (8 * b);
  return (int32_t) v;
}

/* Builds plan->fast and sets fast_h / fast_v where the AVX-512 code can
 * run this plan (otherwise that pass stays portable).
 *
 * Horizontal: the row's n = out_w * 3 output values go in groups of 16
 * (one zmm of int32). A group reads one 64-byte window of the source row
 * from byte off; for each quad, an index vector says which window byte
 * each of the 64 dot-product lanes takes (lane 4j + b: value j, tap b) and
 * three digit vectors hold the matching coefficient digits. Needs every
 * group's inputs inside 64 bytes: about 16 / 3 outputs, i.e. shrinks up to
 * ~2.8x, which covers the data sets' (the decoder already shrinks by 2^k).
 * Vertical: per output row and quad, three dwords of digits. */
static void
build_fast_tables (ax_resize_plan *plan)
{
  const int n = plan->out_w * 3, ht = plan->h_taps, vt = plan->v_taps;
  const int row_bytes = plan->src_w * 3;
  const int groups = ((n + 15) / 16 + 3) & ~3;
  const int hq = (ht + 3) / 4, vq = (vt + 3) / 4;
  size_t head = (sizeof (fast_tables) + 63) & ~(size_t) 63;
  size_t offs = ((size_t) groups * (sizeof (int32_t) + sizeof (uint64_t))
      + 63) & ~(size_t) 63;
  size_t htab = (size_t) groups * hq * 256;
  size_t vdig = (size_t) plan->out_h * vq * 3 * sizeof (int32_t);
  int8_t dig[64][3];
  fast_tables *f;
  uint8_t *block;

  plan->fast_h = plan->fast_v = 0;
  if (!simd_allowed ()
      || (hq > AX_FAST_MAX_HQUADS && vq > AX_FAST_MAX_VQUADS))
    return;
  block = reuse_block (&plan->fast, &plan->fast_bytes,
      head + offs + htab + vdig, 64);
  if (block == NULL)
    return;                     /* the portable code needs no tables */
  f = (fast_tables *) block;
  f->groups = groups;
  f->hquads = hq;
  f->vquads = vq;
  f->mask = (uint64_t *) (block + head);
  f->off = (int32_t *) (f->mask + groups);
  f->htab = block + head + offs;
  f->vdig = (int32_t *) (f->htab + htab);

  /* vertical digits, row by row */
  plan->fast_v = vq <= AX_FAST_MAX_VQUADS && vt <= 64;
  for (int y = 0; y < plan->out_h && plan->fast_v; y++) {
    for (int t = 0; t < vt; t++)
      if (split_coef (plan->v_coef[(size_t) y * vt + t], dig[t]) != 0)
        plan->fast_v = 0;
    for (int q = 0; q < vq; q++)
      for (int k = 0; k < 3; k++)
        f->vdig[((size_t) y * vq + q) * 3 + k] = quad_digits (dig, vt, q, k);
  }

  /* horizontal groups: first each group's window (its values' lowest
   * first input byte), then, pixel by pixel, the lanes of its three values
   * (unused lanes: index 0, digits 0) */
  plan->fast_h = hq <= AX_FAST_MAX_HQUADS;
  if (!plan->fast_h)
    return;
  memset (f->htab, 0, htab);
  for (int g = 0; g < groups; g++) {
    f->off[g] = 16 * g < n ? row_bytes : 0;     /* padding: reads nothing */
    f->mask[g] = 0;
  }
  for (int x = 0; x < plan->out_w; x++)
    for (int g = 3 * x / 16; g <= (3 * x + 2) / 16; g++)
      if (3 * plan->h_start[x] < f->off[g])
        f->off[g] = 3 * plan->h_start[x];
  for (int g = 0; g < groups && 16 * g < n; g++)
    f->mask[g] = row_bytes - f->off[g] >= 64 ? ~(uint64_t) 0
        : ((uint64_t) 1 << (row_bytes - f->off[g])) - 1;
  for (int x = 0; x < plan->out_w; x++) {
    const int32_t *coef = plan->h_coef + (size_t) x * ht;
    uint32_t dq[AX_FAST_MAX_HQUADS][3];
    for (int t = 0; t < ht; t++)
      if (split_coef (coef[t], dig[t]) != 0) {
        plan->fast_h = 0;
        return;
      }
    /* the pixel's digits as dot-product dwords, shared by its 3 values */
    for (int q = 0; q < hq; q++)
      for (int k = 0; k < 3; k++)
        dq[q][k] = (uint32_t) quad_digits (dig, ht, q, k);
    for (int c = 0; c < 3; c++) {
      const int v = 3 * x + c, g = v / 16;
      const int first = 3 * plan->h_start[x] + c - f->off[g];
      uint8_t *lane = f->htab + (size_t) g * hq * 256 + 4 * (v % 16);
      if (first + 3 * (ht - 1) >= 64) {
        plan->fast_h = 0;
        return;
      }
      for (int q = 0; q < hq; q++) {
        uint32_t idx = 0;
        for (int b = 0; b < 4 && 4 * q + b < ht; b++)
          idx |= (uint32_t) (first + 3 * (4 * q + b)) << (8 * b);
        memcpy (lane + q * 256, &idx, 4);
        memcpy (lane + q * 256 + 64, &dq[q][0], 4);
        memcpy (lane + q * 256 + 128, &dq[q][1], 4);
        memcpy (lane + q * 256 + 192, &dq[q][2], 4);
      }
    }
  }
}

static int
plan_window (ax_resize_plan *plan, int src_w, int src_h,
    int scaled_w, int scaled_h, int crop_x, int crop_y, int out_w, int out_h)
{
  size_t n_hc, n_vc, tmp_bytes, strip_bytes;
  double *k;
  int32_t *mem;
  uint8_t *scratch;

  if (src_w < 1 || src_h < 1 || scaled_w < 1 || scaled_h < 1 || out_w < 1
      || out_h < 1 || crop_x < 0 || crop_y < 0 || crop_x + out_w > scaled_w
      || crop_y + out_h > scaled_h || src_w > AX_RESIZE_MAX_SIDE
      || src_h > AX_RESIZE_MAX_SIDE || scaled_w > AX_RESIZE_MAX_SIDE
      || scaled_h > AX_RESIZE_MAX_SIDE)
    return -1;

  plan->src_w = src_w;
  plan->src_h = src_h;
  plan->scaled_w = scaled_w;
  plan->scaled_h = scaled_h;
  plan->crop_x = crop_x;
  plan->crop_y = crop_y;
  plan->out_w = out_w;
  plan->out_h = out_h;
  plan->h_taps = axis_taps (src_w, scaled_w);
  plan->v_taps = axis_taps (src_h, scaled_h);

  /* taps and accumulators */
  n_hc = (size_t) out_w * plan->h_taps;
  n_vc = (size_t) out_h * plan->v_taps;
  mem = reuse_block (&plan->mem, &plan->mem_bytes,
      (n_hc + out_w + n_vc + out_h + (size_t) out_w * 3) * sizeof (int32_t)
      + sizeof (double) * 2 * (n_hc > n_vc ? n_hc : n_vc) + 8, 0);
  if (mem == NULL)
    return -1;
  plan->acc = mem;
  plan->h_coef = plan->acc + (size_t) out_w * 3;
  plan->h_start = plan->h_coef + n_hc;
  plan->v_coef = plan->h_start + out_w;
  plan->v_start = plan->v_coef + n_vc;
  /* filter scratch after the tables, 8-byte aligned */
  k = (double *) (((uintptr_t) (plan->v_start + out_h) + 7) & ~(uintptr_t) 7);
  axis_coeffs (plan->h_coef, plan->h_start, k, plan->h_taps, src_w,
      scaled_w, crop_x, out_w);
  axis_coeffs (plan->v_coef, plan->v_start, k, plan->v_taps, src_h,
      scaled_h, crop_y, out_h);
  plan->h_taps = compact_taps (plan->h_coef, plan->h_start, plan->h_taps,
      out_w, src_w);
  plan->v_taps = compact_taps (plan->v_coef, plan->v_start, plan->v_taps,
      out_h, src_h);
  /* the compacted tables are packed at the front of their old space */
  memmove (plan->h_coef + (size_t) out_w * plan->h_taps, plan->h_start,
      sizeof (int32_t) * (size_t) out_w);
  plan->h_start = plan->h_coef + (size_t) out_w * plan->h_taps;

  plan->row_first = plan->v_start[0];
  plan->row_count = plan->v_start[out_h - 1] + plan->v_taps - plan->row_first;
  plan->col_first = plan->h_start[0];
  plan->col_count = plan->h_start[out_w - 1] + plan->h_taps - plan->col_first;

  /* rows of the horizontal result (+ slack for 4-byte stores), strips */
  tmp_bytes = ((size_t) plan->row_count * out_w * 3 + 64 + 63) & ~(size_t) 63;
  strip_bytes = (size_t) (plan->col_count + out_w) * AX_STRIP_STRIDE;
  scratch = reuse_block (&plan->scratch, &plan->scratch_bytes,
      tmp_bytes + strip_bytes, 64);
  if (scratch == NULL)
    return -1;
  plan->tmp = scratch;
  plan->strip_in = scratch + tmp_bytes;
  plan->strip_out = plan->strip_in
      + (size_t) plan->col_count * AX_STRIP_STRIDE;
  /* cleared when the portable horizontal pass first needs them */
  plan->strips_zeroed = 0;
  build_fast_tables (plan);
  return 0;
}

int
ax_resize_plan_init_window (ax_resize_plan *plan, int src_w, int src_h,
    int scaled_w, int scaled_h, int crop_x, int crop_y, int out_w, int out_h)
{
  memset (plan, 0, sizeof (*plan));
  if (plan_window (plan, src_w, src_h, scaled_w, scaled_h, crop_x, crop_y,
          out_w, out_h) != 0) {
    ax_resize_plan_clear (plan);
    return -1;
  }
  return 0;
}

int
ax_resize_plan_update_window (ax_resize_plan *plan, int src_w, int src_h,
    int scaled_w, int scaled_h, int crop_x, int crop_y, int out_w, int out_h)
{
  /* same geometry as the plan has (data sets repeat a few sizes), with the
   * AVX-512 tables iff that code is allowed: nothing to do */
  if (plan->mem != NULL && plan->scratch != NULL && plan->src_w == src_w
      && plan->src_h == src_h && plan->scaled_w == scaled_w
      && plan->scaled_h == scaled_h && plan->crop_x == crop_x
      && plan->crop_y == crop_y && plan->out_w == out_w
      && plan->out_h == out_h
      && (plan->fast_h || plan->fast_v) == simd_allowed ())
    return 0;
  if (plan_window (plan, src_w, src_h, scaled_w, scaled_h, crop_x, crop_y,
          out_w, out_h) != 0) {
    ax_resize_plan_clear (plan);
    return -1;
  }
  return 0;
}

int
ax_resize_plan_update (ax_resize_plan *plan, int src_w, int src_h, int size)
{
  int sw, sh, cx, cy;

  if (src_w < 1 || src_h < 1 || size < 1) {
    ax_resize_plan_clear (plan);
    return -1;
  }
  ax_resize_geometry (&sw, &sh, &cx, &cy, src_w, src_h, size);
  return ax_resize_plan_update_window (plan, src_w, src_h, sw, sh, cx, cy,
      size, size);
}

int
ax_resize_plan_init (ax_resize_plan *plan, int src_w, int src_h, int size)
{
  memset (plan, 0, sizeof (*plan));
  return ax_resize_plan_update (plan, src_w, src_h, size);
}

void
ax_resize_plan_clear (ax_resize_plan *plan)
{
  free (plan->mem);
  free (plan->scratch);
  free (plan->fast);
  memset (plan, 0, sizeof (*plan));
}

static inline uint8_t
clip8 (int32_t v)
{
  v >>= AX_PRECISION_BITS;
  return (uint8_t) (v < 0 ? 0 : v > 255 ? 255 : v);
}

/* The horizontal pass works on strips of AX_STRIP rows transposed so that
 * one input column of the strip is AX_STRIP RGBx pixels, contiguous: each
 * output column is then a sum of `taps` such columns, a loop over a fixed
 * number of lanes that the compiler vectorises like the vertical pass. */
#define DEFINE_HSTRIP(name, TAPS)                                            \
AX_HOT static void                                                             \
name (uint8_t *restrict out_t, const uint8_t *restrict in_t,               \
    const int32_t *restrict coef, const int32_t *restrict start,           \
    int col_first, int out_w, int taps_arg)                                \
{                                                                          \
  const int taps = (TAPS) > 0 ? (TAPS) : taps_arg;                         \
  for (int x = 0; x < out_w; x++) {                                        \
    const uint8_t *restrict p = in_t + (size_t) (start[x] - col_first)     \
        * AX_STRIP_STRIDE;                                                 \
    const int32_t *k = coef + x * taps;                                    \
    int32_t acc[AX_STRIP_BYTES];                                           \
    for (int j = 0; j < AX_STRIP_BYTES; j++)                               \
      acc[j] = 1 << (AX_PRECISION_BITS - 1);                               \
    for (int t = 0; t < taps; t++) {                                       \
      const int32_t c = k[t];                                              \
      for (int j = 0; j < AX_STRIP_BYTES; j++)                             \
        acc[j] += p[t * AX_STRIP_STRIDE + j] * c;                          \
    }                                                                      \
    for (int j = 0; j < AX_STRIP_BYTES; j++)                               \
      out_t[(size_t) x * AX_STRIP_STRIDE + j] = clip8 (acc[j]);            \
  }                                                                        \
}

DEFINE_HSTRIP (hstrip_any, 0)
DEFINE_HSTRIP (hstrip_3, 3)
DEFINE_HSTRIP (hstrip_5, 5)
DEFINE_HSTRIP (hstrip_7, 7)
DEFINE_HSTRIP (hstrip_9, 9)

typedef void (*hstrip_fn) (uint8_t *restrict, const uint8_t *restrict,
    const int32_t *restrict, const int32_t *restrict, int, int, int);

/* Rows y0..y0+rows-1 of src, columns col_first.., into the strip layout:
 * one pixel per 4-byte slot, moved as a word (the spare byte is the next
 * pixel's red, computed and dropped); the last pixel of a row is copied
 * bytewise so no read passes the end of the image. */
AX_HOT static void
strip_transpose_in (uint8_t *restrict in_t, const uint8_t *restrict src,
    int src_stride, int y0, int rows, int col_first, int col_count)
{
  /* blocks of columns, so the strip lines being filled stay in L1 */
  for (int x0 = 0; x0 < col_count; x0 += AX_TRANSPOSE_BLOCK) {
    int x1 = x0 + AX_TRANSPOSE_BLOCK < col_count ? x0 + AX_TRANSPOSE_BLOCK
        : col_count;
    for (int r = 0; r < rows; r++) {
      const uint8_t *restrict row = src + (size_t) (y0 + r) * src_stride
          + (size_t) col_first * 3;
      uint8_t *restrict o = in_t + r * 4;
      int x;
      for (x = x0; x < x1 && x < col_count - 1; x++) {
        uint32_t v;
        memcpy (&v, row + 3 * x, 4);
        memcpy (o + (size_t) x * AX_STRIP_STRIDE, &v, 4);
      }
      if (x == col_count - 1) {
        o[(size_t) x * AX_STRIP_STRIDE + 0] = row[3 * x + 0];
        o[(size_t) x * AX_STRIP_STRIDE + 1] = row[3 * x + 1];
        o[(size_t) x * AX_STRIP_STRIDE + 2] = row[3 * x + 2];
      }
    }
  }
}

/* The strip's output columns back into rows of tmp (n bytes each), 4-byte
 * words again: the spare byte is overwritten by the next pixel, or by the
 * next row; tmp has slack after its last row. */
AX_HOT static void
strip_transpose_out (uint8_t *restrict tmp, const uint8_t *restrict out_t,
    int rows, int out_w)
{
  const size_t n = (size_t) out_w * 3;
  for (int r = 0; r < rows; r++) {
    const uint8_t *restrict i = out_t + r * 4;
    uint8_t *restrict o = tmp + r * n;
    for (int x = 0; x < out_w; x++) {
      uint32_t v;
      memcpy (&v, i + (size_t) x * AX_STRIP_STRIDE, 4);
      memcpy (o + 3 * x, &v, 4);
    }
  }
}


/* Output rows from the horizontal result, whole rows at a time. */
AX_HOT static void
vertical_pass (uint8_t *dst, int dst_stride, ax_resize_plan *plan)
{
  const int n = plan->out_w * 3, v_taps = plan->v_taps;
  int32_t *restrict acc = plan->acc;

  for (int y = 0; y < plan->out_h; y++) {
    const int32_t *k = plan->v_coef + (size_t) y * v_taps;
    const uint8_t *rows = plan->tmp
        + (size_t) (plan->v_start[y] - plan->row_first) * n;
    uint8_t *restrict out = dst + (size_t) y * dst_stride;

    for (int i = 0; i < n; i++)
      acc[i] = 1 << (AX_PRECISION_BITS - 1);
    for (int t = 0; t < v_taps; t++) {
      const uint8_t *restrict row = rows + (size_t) t * n;
      const int32_t c = k[t];
      if (c == 0)
        continue;
      for (int i = 0; i < n; i++)
        acc[i] += row[i] * c;
    }
    for (int i = 0; i < n; i++)
      out[i] = clip8 (acc[i]);
  }
}

#if AX_HAVE_AVX512
/* One 16-value group of `rows` rows: gather each row's window bytes into
 * the dot-product lanes of each quad, then the three digit products
 * (Horner), shifted back to 8 bits (not yet clamped). The group's tables
 * are loaded once for all the rows. */
AX_AVX512_INLINE void
hgroup_avx512 (__m512i *acc, const uint8_t *const *row, int32_t off,
    uint64_t mask, const uint8_t *tab, const int quads, const int rows)
{
  __m512i px[4][AX_FAST_MAX_HQUADS];

  for (int k = 0; k < rows; k++) {
    const __m512i win = _mm512_maskz_loadu_epi8 (mask, row[k] + off);
    for (int q = 0; q < quads; q++)
      px[k][q] = _mm512_permutexvar_epi8 (
          _mm512_load_si512 (tab + q * 256), win);
    acc[k] = _mm512_set1_epi32 (32);
  }
  for (int d = 1; d <= 3; d++) {
    for (int q = 0; q < quads; q++) {
      const __m512i dig = _mm512_load_si512 (tab + q * 256 + d * 64);
      for (int k = 0; k < rows; k++)
        acc[k] = _mm512_dpbusd_epi32 (acc[k], px[k][q], dig);
    }
    for (int k = 0; k < rows; k++)
      acc[k] = d < 3 ? _mm512_slli_epi32 (acc[k], 8)
          : _mm512_srai_epi32 (acc[k], AX_PRECISION_BITS);
  }
}

/* Horizontal pass of `rows` (1..4) rows from input row y0 of the window
 * into tmp row r0.., on the rows as they lie: each block of 64 output
 * bytes is four groups (see build_fast_tables), no transposes. The two
 * in-lane packs clamp to 0..255 as clip8 does (values are in -512..511
 * here) but leave each 128-bit lane holding 4 bytes of each group; a byte
 * permute (order) puts the 64 values back in order. */
AX_AVX512_INLINE void
hrows_avx512 (uint8_t *tmp, const uint8_t *src, int src_stride,
    const ax_resize_plan *plan, int r0, __m512i order, const int quads,
    const int rows)
{
  const fast_tables *f = plan->fast;
  const int n = plan->out_w * 3, groups = f->groups;
  const size_t gbytes = (size_t) quads * 256;
  const uint8_t *row[4], *ahead[4];

  for (int k = 0; k < rows; k++) {
    int later = r0 + k + AX_HPREFETCH < plan->row_count
        ? r0 + k + AX_HPREFETCH : plan->row_count - 1;
    row[k] = src + (size_t) (plan->row_first + r0 + k) * src_stride;
    ahead[k] = src + (size_t) (plan->row_first + later) * src_stride;
  }
  for (int g = 0; g < groups; g += 4) {
    const uint8_t *tab = f->htab + (size_t) g * gbytes;
    __m512i a[4], b[4], p01[4], p23[4];       /* [row] */
    int left = n - 16 * g;
    /* images often come from memory: fetch the same bytes of a later row */
    for (int k = 0; k < rows; k++) {
      _mm_prefetch ((const char *) ahead[k] + f->off[g], _MM_HINT_T0);
      _mm_prefetch ((const char *) ahead[k] + f->off[g] + 64, _MM_HINT_T0);
    }
    /* groups two at a time, packed to 16 bits at once (fewer live
     * registers): each 128-bit lane of p01 holds 4 values of either */
    hgroup_avx512 (a, row, f->off[g], f->mask[g], tab, quads, rows);
    hgroup_avx512 (b, row, f->off[g + 1], f->mask[g + 1], tab + gbytes,
        quads, rows);
    for (int k = 0; k < rows; k++)
      p01[k] = _mm512_packus_epi32 (a[k], b[k]);
    hgroup_avx512 (a, row, f->off[g + 2], f->mask[g + 2], tab + 2 * gbytes,
        quads, rows);
    hgroup_avx512 (b, row, f->off[g + 3], f->mask[g + 3], tab + 3 * gbytes,
        quads, rows);
    for (int k = 0; k < rows; k++)
      p23[k] = _mm512_packus_epi32 (a[k], b[k]);
    for (int k = 0; k < rows; k++) {
      __m512i p = _mm512_permutexvar_epi8 (order,
          _mm512_packus_epi16 (p01[k], p23[k]));
      uint8_t *out = tmp + (size_t) (r0 + k) * n + 16 * g;
      /* the row's last block may be short: store only its bytes */
      if (left >= 64)
        _mm512_storeu_si512 (out, p);
      else
        _mm512_mask_storeu_epi8 (out, ((uint64_t) 1 << left) - 1, p);
    }
  }
}

AX_AVX512_INLINE void
hpass_avx512_q (uint8_t *tmp, const uint8_t *src, int src_stride,
    const ax_resize_plan *plan, const int quads)
{
  uint8_t order_b[64];
  __m512i order;
  int r = 0;

  /* byte v of the packed block holds value 16 m + 4 L + j where
   * v = 16 L + 4 m + j: the inverse permutation gathers them back */
  for (int v = 0; v < 64; v++)
    order_b[v] = (uint8_t) (16 * ((v >> 2) & 3) + 4 * (v >> 4) + (v & 3));
  order = _mm512_loadu_si512 (order_b);

  /* AX_HROWS rows at a time share the loads of the tables */
  for (; r + AX_HROWS <= plan->row_count; r += AX_HROWS)
    hrows_avx512 (tmp, src, src_stride, plan, r, order, quads, AX_HROWS);
  for (; r < plan->row_count; r++)
    hrows_avx512 (tmp, src, src_stride, plan, r, order, quads, 1);
}

AX_AVX512 static void
hpass_avx512 (uint8_t *tmp, const uint8_t *src, int src_stride,
    const ax_resize_plan *plan)
{
  const fast_tables *f = plan->fast;
  if (f->hquads == 1)
    hpass_avx512_q (tmp, src, src_stride, plan, 1);
  else
    hpass_avx512_q (tmp, src, src_stride, plan, 2);
}

/* Vertical pass: 64 bytes of an output row at a time. The rows of each
 * quad of taps are interleaved bytewise (unpacks) so that each dword holds
 * one column of 4 rows, as the dot products want; the unpacks' in-lane
 * order is exactly what the two packs undo. Quads after the first are
 * summed in (without the rounding constant). */
AX_AVX512_INLINE void
vpass_avx512_q (uint8_t *dst, int dst_stride, const ax_resize_plan *plan,
    const int quads)
{
  const fast_tables *f = plan->fast;
  const int n = plan->out_w * 3, taps = plan->v_taps;

  for (int y = 0; y < plan->out_h; y++) {
    const uint8_t *base = plan->tmp
        + (size_t) (plan->v_start[y] - plan->row_first) * n;
    const int32_t *dig = f->vdig + (size_t) y * quads * 3;
    const uint8_t *rows[4 * AX_FAST_MAX_VQUADS];
    uint8_t *out = dst + (size_t) y * dst_stride;

    /* a missing tap of the last quad reads row 0 with digits 0 */
    for (int t = 0; t < 4 * quads; t++)
      rows[t] = base + (size_t) (t < taps ? t : 0) * n;

    for (int i = 0; i < n; i += 64) {
      const uint64_t mask = n - i >= 64 ? ~(uint64_t) 0
          : ((uint64_t) 1 << (n - i)) - 1;
      __m512i s[4] = { _mm512_setzero_si512 (), _mm512_setzero_si512 (),
        _mm512_setzero_si512 (), _mm512_setzero_si512 () };
      for (int q = 0; q < quads; q++) {
        __m512i a = _mm512_maskz_loadu_epi8 (mask, rows[4 * q] + i);
        __m512i b = _mm512_maskz_loadu_epi8 (mask, rows[4 * q + 1] + i);
        __m512i c = _mm512_maskz_loadu_epi8 (mask, rows[4 * q + 2] + i);
        /* (3 taps, the usual case: no fourth row to read) */
        __m512i d = 4 * q + 3 < taps
            ? _mm512_maskz_loadu_epi8 (mask, rows[4 * q + 3] + i)
            : _mm512_setzero_si512 ();
        __m512i ab0 = _mm512_unpacklo_epi8 (a, b);
        __m512i ab1 = _mm512_unpackhi_epi8 (a, b);
        __m512i cd0 = _mm512_unpacklo_epi8 (c, d);
        __m512i cd1 = _mm512_unpackhi_epi8 (c, d);
        __m512i x[4], d2, d1, d0;
        x[0] = _mm512_unpacklo_epi16 (ab0, cd0);
        x[1] = _mm512_unpackhi_epi16 (ab0, cd0);
        x[2] = _mm512_unpacklo_epi16 (ab1, cd1);
        x[3] = _mm512_unpackhi_epi16 (ab1, cd1);
        d2 = _mm512_set1_epi32 (dig[3 * q]);
        d1 = _mm512_set1_epi32 (dig[3 * q + 1]);
        d0 = _mm512_set1_epi32 (dig[3 * q + 2]);
        for (int m = 0; m < 4; m++) {
          __m512i h = _mm512_set1_epi32 (q == 0 ? 32 : 0);
          h = _mm512_dpbusd_epi32 (h, x[m], d2);
          h = _mm512_slli_epi32 (h, 8);
          h = _mm512_dpbusd_epi32 (h, x[m], d1);
          h = _mm512_slli_epi32 (h, 8);
          h = _mm512_dpbusd_epi32 (h, x[m], d0);
          s[m] = q == 0 ? h : _mm512_add_epi32 (s[m], h);
        }
      }
      for (int m = 0; m < 4; m++)
        s[m] = _mm512_srai_epi32 (s[m], AX_PRECISION_BITS);
      _mm512_mask_storeu_epi8 (out + i, mask,
          _mm512_packus_epi16 (_mm512_packus_epi32 (s[0], s[1]),
              _mm512_packus_epi32 (s[2], s[3])));
    }
  }
}

AX_AVX512 static void
vpass_avx512 (uint8_t *dst, int dst_stride, const ax_resize_plan *plan)
{
  const fast_tables *f = plan->fast;
  if (f->vquads == 1)
    vpass_avx512_q (dst, dst_stride, plan, 1);
  else if (f->vquads == 2)
    vpass_avx512_q (dst, dst_stride, plan, 2);
  else
    vpass_avx512_q (dst, dst_stride, plan, f->vquads);
}
#endif

/* Portable horizontal pass over the input rows the window needs, a strip
 * at a time. */
static void
hpass_portable (uint8_t *tmp, const uint8_t *src, int src_stride,
    ax_resize_plan *plan)
{
  const int out_w = plan->out_w, n = out_w * 3;
  const int h_taps = plan->h_taps;
  hstrip_fn hstrip;

  switch (h_taps) {
    case 3: hstrip = hstrip_3; break;
    case 5: hstrip = hstrip_5; break;
    case 7: hstrip = hstrip_7; break;
    case 9: hstrip = hstrip_9; break;
    default: hstrip = hstrip_any; break;
  }
  /* rows past the end of a short last strip are computed and dropped */
  if (!plan->strips_zeroed) {
    memset (plan->strip_in, 0, (size_t) (plan->col_count + out_w)
        * AX_STRIP_STRIDE);
    plan->strips_zeroed = 1;
  }
  for (int r = 0; r < plan->row_count; r += AX_STRIP) {
    int rows = plan->row_count - r < AX_STRIP ? plan->row_count - r : AX_STRIP;
    strip_transpose_in (plan->strip_in, src, src_stride, plan->row_first + r,
        rows, plan->col_first, plan->col_count);
    hstrip (plan->strip_out, plan->strip_in, plan->h_coef, plan->h_start,
        plan->col_first, out_w, h_taps);
    strip_transpose_out (tmp + (size_t) r * n, plan->strip_out, rows, out_w);
  }
}

void
ax_resize_rgb (uint8_t *dst, int dst_stride, const uint8_t *src,
    int src_stride, ax_resize_plan *plan)
{
  const int simd = simd_allowed ();

#if AX_HAVE_AVX512
  if (simd && plan->fast_h)
    hpass_avx512 (plan->tmp, src, src_stride, plan);
  else
#endif
    hpass_portable (plan->tmp, src, src_stride, plan);

#if AX_HAVE_AVX512
  if (simd && plan->fast_v)
    vpass_avx512 (dst, dst_stride, plan);
  else
#endif
    vertical_pass (dst, dst_stride, plan);
  (void) simd;
}
