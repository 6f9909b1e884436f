/* PIL-exact BILINEAR resize of RGB with a centre-crop window: coefficient
 * tables are computed once per plan exactly as PIL's precompute_coeffs and
 * normalize_coeffs_8bpc do; the per-frame passes are fixed-point loops the
 * compiler vectorises: the vertical pass over whole rows, the horizontal one
 * over strips of 16 rows transposed so that it looks like a vertical pass. */
#include "kernels/image_resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* Coefficients of outputs first..first+count-1 of that axis, as PIL
 * computes them. Each output gets exactly `taps` coefficients starting at
 * start[i], zero-padded; the start moves left where the window would run
 * past the input, so every read stays inside it. k: scratch of in_size. */
static void
axis_coeffs (int32_t *coef, int32_t *start, double *k, int taps, int in_size,
    int scaled, int first, int count)
{
  double scale = (double) in_size / scaled;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = 1.0 * filterscale;
  double ss = 1.0 / filterscale;

  for (int i = 0; i < count; i++) {
    int xx = first + i;
    double center = (xx + 0.5) * scale;
    double ww = 0.0;
    int xmin = (int) (center - support + 0.5);
    int xmax = (int) (center + support + 0.5);
    int s;
    if (xmin < 0)
      xmin = 0;
    if (xmax > in_size)
      xmax = in_size;
    xmax -= xmin;
    for (int x = 0; x < xmax; x++) {
      k[x] = bilinear_filter ((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    s = xmin;
    if (s + taps > in_size)
      s = in_size - taps;
    for (int t = 0; t < taps; t++)
      coef[i * taps + t] = 0;
    for (int x = 0; x < xmax; x++) {
      double w = ww != 0.0 ? k[x] / ww : k[x];
      w *= (double) (1 << AX_PRECISION_BITS);
      coef[i * taps + (xmin - s) + x] = (int32_t) (w < 0 ? w - 0.5 : w + 0.5);
    }
    start[i] = s;
  }
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
    /* taps of the new window [s, s + width) from the old [start, +taps) */
    for (int t = 0; t < width; t++) {
      int old = s + t - start[i];
      row[t] = old >= 0 && old < taps ? c[old] : 0;
    }
    memcpy (o, row, sizeof (int32_t) * (size_t) width);
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
      || crop_y + out_h > scaled_h || src_w > (1 << 20) || src_h > (1 << 20)
      || scaled_w > (1 << 20) || scaled_h > (1 << 20))
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
      + sizeof (double) * (size_t) ((src_w > src_h ? src_w : src_h) + 1), 0);
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
  /* rows past the end of a short last strip are computed and dropped */
  memset (plan->strip_in, 0, strip_bytes);
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
ax_resize_plan_update (ax_resize_plan *plan, int src_w, int src_h, int size)
{
  int sw, sh, cx, cy;

  if (src_w < 1 || src_h < 1 || size < 1) {
    ax_resize_plan_clear (plan);
    return -1;
  }
  ax_resize_geometry (&sw, &sh, &cx, &cy, src_w, src_h, size);
  if (plan_window (plan, src_w, src_h, sw, sh, cx, cy, size, size) != 0) {
    ax_resize_plan_clear (plan);
    return -1;
  }
  return 0;
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

void
ax_resize_rgb (uint8_t *dst, int dst_stride, const uint8_t *src,
    int src_stride, ax_resize_plan *plan)
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

  /* horizontal pass over the input rows the window needs, a strip at a time */
  for (int r = 0; r < plan->row_count; r += AX_STRIP) {
    int rows = plan->row_count - r < AX_STRIP ? plan->row_count - r : AX_STRIP;
    strip_transpose_in (plan->strip_in, src, src_stride, plan->row_first + r,
        rows, plan->col_first, plan->col_count);
    hstrip (plan->strip_out, plan->strip_in, plan->h_coef, plan->h_start,
        plan->col_first, out_w, h_taps);
    strip_transpose_out (plan->tmp + (size_t) r * n, plan->strip_out, rows,
        out_w);
  }

  vertical_pass (dst, dst_stride, plan);
}
