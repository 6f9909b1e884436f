/* Resize of packed 8-bit RGB images as torchvision's Resize(S) + CenterCrop(S)
 * (or Resize(S) alone) does it on PIL images: PIL's BILINEAR filter
 * (antialiased when shrinking), separable, horizontal pass then vertical
 * pass, with PIL's 22-bit fixed point, so the result equals PIL's. Only the
 * pixels inside the crop window are computed. */
#ifndef AX_IMAGE_RESIZE_H
#define AX_IMAGE_RESIZE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where Resize(size) + CenterCrop(size) lands for a src_w x src_h image:
 * the shorter side becomes size, the longer int(size * long / short), and
 * the crop offset is int(round((scaled - size) / 2.0)) with Python's
 * round-half-to-even. */
void ax_resize_geometry (int *scaled_w, int *scaled_h, int *crop_x,
    int *crop_y, int src_w, int src_h, int size);

/* The largest side, of the input or of the resized image, a plan takes. */
#define AX_RESIZE_MAX_SIDE (1 << 20)

/* The whole of Resize(size), nothing cut away: the VGG paper's isotropic
 * rescale. The shorter side becomes size and the longer int(size * long /
 * short), as in ax_resize_geometry (it is that function's scaled size).
 * Returns 0, or -1 when a size is below 1 or a side of the result would be
 * larger than AX_RESIZE_MAX_SIDE. */
int ax_resize_scaled_size (int *scaled_w, int *scaled_h, int src_w,
    int src_h, int size);

/* Everything a resize needs that depends only on the sizes: filter taps and
 * scratch rows. Made once per input size, reused for every frame; a plan is
 * not shared between threads running at the same time (it owns scratch). */
typedef struct {
  int src_w, src_h;             /* input image */
  int scaled_w, scaled_h;       /* whole resized image (virtual) */
  int crop_x, crop_y;           /* window of the resized image computed */
  int out_w, out_h;
  int h_taps, v_taps;           /* taps per output column / row */
  int32_t *h_coef;              /* [out_w][h_taps], 22-bit fixed point */
  int32_t *h_start;             /* [out_w] first input column */
  int32_t *v_coef;              /* [out_h][v_taps] */
  int32_t *v_start;             /* [out_h] first input row */
  int row_first, row_count;     /* input rows the horizontal pass reads */
  int col_first, col_count;     /* input columns it reads */
  uint8_t *tmp;                 /* [row_count][out_w * 3] horizontal result */
  uint8_t *strip_in, *strip_out; /* transposed strips of rows */
  int32_t *acc;                 /* [out_w * 3] vertical accumulators */
  void *mem;                    /* block holding taps and acc */
  void *scratch;                /* block holding tmp and the strips */
  size_t mem_bytes, scratch_bytes;      /* their capacities */
  int strips_zeroed;            /* strip_in cleared (portable path) */
  int fast_h, fast_v;           /* the AVX-512 tables of each pass are valid */
  void *fast;                   /* block holding those tables */
  size_t fast_bytes;            /* its capacity */
} ax_resize_plan;

/* Plan for Resize(size) + CenterCrop(size): output size x size.
 * Returns 0, or -1 on bad sizes or when out of memory. */
int ax_resize_plan_init (ax_resize_plan *plan, int src_w, int src_h,
    int size);
/* General form: resize to scaled_w x scaled_h and compute only the window
 * (crop_x, crop_y, out_w, out_h) of that image. Returns 0 or -1. */
int ax_resize_plan_init_window (ax_resize_plan *plan, int src_w, int src_h,
    int scaled_w, int scaled_h, int crop_x, int crop_y, int out_w, int out_h);
/* Re-plan an initialised (or cleared) plan for a new input size, keeping
 * its memory when it is large enough: data sets change size every image,
 * and this keeps the per-image cost to the coefficient tables. On failure
 * the plan is cleared. Returns 0 or -1. */
int ax_resize_plan_update (ax_resize_plan *plan, int src_w, int src_h,
    int size);
/* The same for the general form: re-plans an initialised (or cleared) plan,
 * keeping its memory, and does nothing when the plan already has this
 * geometry. On failure the plan is cleared. Returns 0 or -1. */
int ax_resize_plan_update_window (ax_resize_plan *plan, int src_w,
    int src_h, int scaled_w, int scaled_h, int crop_x, int crop_y, int out_w,
    int out_h);
void ax_resize_plan_clear (ax_resize_plan *plan);

/* dst: out_h rows of out_w RGB pixels, dst_stride bytes apart;
 * src: src_h rows of src_w RGB pixels, src_stride bytes apart.
 * No allocation; uses the plan's scratch. */
void ax_resize_rgb (uint8_t *dst, int dst_stride, const uint8_t *src,
    int src_stride, ax_resize_plan *plan);

/* For tests and benchmarks: 0 makes ax_resize_rgb use the portable code
 * even where the CPU runs the AVX-512 (VBMI + VNNI) code, 1 allows that code
 * again (the default; the environment variable AX_RESIZE_PORTABLE=1 turns it
 * off at start). Both give the same bytes. Not thread-safe: set it before
 * resizing. Returns 1 when the AVX-512 code is now in use. */
int ax_resize_set_simd (int allow);

/* The shorter side to resize to before cropping `input_size` squares:
 * the paper's 256 for 224, in proportion and rounded to the nearest
 * (input 224 -> 256, 67 -> 77). Training's validation, alexnet-infer and
 * the benchmarks all take it from here. */
static inline int
ax_resize_size_for_input (int input_size)
{
  return (input_size * 256 + 112) / 224;
}

#ifdef __cplusplus
}
#endif
#endif
