/* ax_resize_rgb against an independent float64 reference (within 1 level)
 * for shrink factors 1..8, upscales, odd sizes and strides, and against
 * fixtures made by PIL (tests/data/gen_resize_fixture.py). */
#include "kernels/image/image_resize.h"
#include "tests/ax_test.h"
#include "tests/ref_resize.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

/* Same generator as lcg_image() in gen_resize_fixture.py. */
static void
make_lcg_image (uint8_t *img, int w, int h, int stride, uint64_t seed)
{
  uint64_t s = seed;
  for (int y = 0; y < h; y++)
    for (int i = 0; i < w * 3; i++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      img[(size_t) y * stride + i] = (uint8_t) (s >> 56);
    }
}

/* Resizes a w x h image (strided) to S and compares with the reference;
 * returns the largest difference. Checks the dst padding is untouched. */
static int
check_case (int w, int h, int S, int src_pad, int dst_pad, uint64_t seed)
{
  int stride = w * 3 + src_pad, dstride = S * 3 + dst_pad;
  int sw, sh, cx, cy, maxd = 0, pad_ok = 1;
  uint8_t *src = calloc ((size_t) stride * h, 1);
  uint8_t *dst = malloc ((size_t) dstride * S);
  uint8_t *ref = malloc ((size_t) S * S * 3);
  ax_resize_plan plan;

  make_lcg_image (src, w, h, stride, seed);
  memset (dst, 0xA5, (size_t) dstride * S);
  AX_CHECK (ax_resize_plan_init (&plan, w, h, S) == 0, "plan %dx%d->%d", w,
      h, S);
  ref_geometry (w, h, S, &sw, &sh, &cx, &cy);
  AX_CHECK (plan.scaled_w == sw && plan.scaled_h == sh && plan.crop_x == cx
      && plan.crop_y == cy, "%dx%d->%d: geometry %dx%d+%d+%d, want "
      "%dx%d+%d+%d", w, h, S, plan.scaled_w, plan.scaled_h, plan.crop_x,
      plan.crop_y, sw, sh, cx, cy);
  ax_resize_rgb (dst, dstride, src, stride, &plan);
  ref_resize (ref, src, stride, w, h, sw, sh, cx, cy, S);
  for (int y = 0; y < S; y++) {
    for (int i = 0; i < S * 3; i++) {
      int d = abs (dst[(size_t) y * dstride + i] - ref[((size_t) y * S) * 3 + i]);
      if (d > maxd)
        maxd = d;
    }
    for (int i = S * 3; i < dstride; i++)
      pad_ok &= dst[(size_t) y * dstride + i] == 0xA5;
  }
  AX_CHECK (maxd <= 1, "%dx%d->%d (strides %d/%d): max difference %d", w, h,
      S, stride, dstride, maxd);
  AX_CHECK (pad_ok, "%dx%d->%d: wrote into the row padding", w, h, S);
  ax_resize_plan_clear (&plan);
  free (src);
  free (dst);
  free (ref);
  return maxd;
}

static void
test_geometry (void)
{
  int sw, sh, cx, cy;
  ax_resize_geometry (&sw, &sh, &cx, &cy, 500, 375, 256);
  /* 256*500/375 = 341.33 -> 341; (341-256)/2 = 42.5 rounds to even 42 */
  AX_CHECK (sw == 341 && sh == 256 && cx == 42 && cy == 0, "500x375: "
      "%dx%d+%d+%d", sw, sh, cx, cy);
  ax_resize_geometry (&sw, &sh, &cx, &cy, 375, 500, 256);
  AX_CHECK (sw == 256 && sh == 341 && cx == 0 && cy == 42, "375x500: "
      "%dx%d+%d+%d", sw, sh, cx, cy);
  ax_resize_geometry (&sw, &sh, &cx, &cy, 1024, 683, 256);
  /* 383.8 -> 383; 127/2 = 63.5 rounds to even 64 */
  AX_CHECK (sw == 383 && cx == 64, "1024x683: %dx%d+%d+%d", sw, sh, cx, cy);
  ax_resize_geometry (&sw, &sh, &cx, &cy, 28, 28, 256);
  AX_CHECK (sw == 256 && sh == 256 && cx == 0 && cy == 0, "28x28");
}

static void
test_downscale_factors (void)
{
  /* shorter side S * f for f = 1, 1.25, 1.5, 2, 3, 4.5, 6, 8 */
  static const int shorts[] = { 32, 40, 48, 64, 96, 144, 192, 256 };
  int worst = 0;
  for (unsigned i = 0; i < sizeof (shorts) / sizeof (shorts[0]); i++) {
    int s = shorts[i], l = s * 4 / 3 + (int) i;
    int d1 = check_case (l, s, 32, 0, 0, 10 + i);
    int d2 = check_case (s, l, 32, 5, 7, 20 + i);
    worst = d1 > worst ? d1 : worst;
    worst = d2 > worst ? d2 : worst;
  }
  printf ("  downscale: max difference to float64 reference %d\n", worst);
}

static void
test_upscale_and_odd (void)
{
  int worst = 0, d;
  d = check_case (28, 28, 256, 0, 0, 30); worst = d > worst ? d : worst;
  d = check_case (5, 7, 17, 1, 3, 31); worst = d > worst ? d : worst;
  d = check_case (1, 1, 9, 0, 0, 32); worst = d > worst ? d : worst;
  d = check_case (3, 200, 8, 2, 0, 33); worst = d > worst ? d : worst;
  d = check_case (67, 45, 45, 1, 1, 34); worst = d > worst ? d : worst;  /* no shrink on y */
  d = check_case (131, 97, 33, 3, 5, 35); worst = d > worst ? d : worst;
  d = check_case (100, 37, 50, 0, 0, 36); worst = d > worst ? d : worst;  /* mixed */
  printf ("  upscale/odd: max difference to float64 reference %d\n", worst);
}

static void
test_identity (void)
{
  /* A square image already at S is returned unchanged. */
  uint8_t src[16 * 16 * 3], dst[16 * 16 * 3];
  ax_resize_plan plan;
  make_lcg_image (src, 16, 16, 48, 99);
  AX_CHECK (ax_resize_plan_init (&plan, 16, 16, 16) == 0, "plan");
  ax_resize_rgb (dst, 48, src, 48, &plan);
  AX_CHECK (memcmp (src, dst, sizeof (src)) == 0, "16x16->16 not identity");
  ax_resize_plan_clear (&plan);
}

static void
test_bad_sizes (void)
{
  ax_resize_plan plan;
  AX_CHECK (ax_resize_plan_init (&plan, 0, 10, 8) == -1, "0 width accepted");
  AX_CHECK (ax_resize_plan_init (&plan, 10, 10, 0) == -1, "size 0 accepted");
  AX_CHECK (ax_resize_plan_init_window (&plan, 10, 10, 20, 20, 15, 0, 8, 8)
      == -1, "window outside the image accepted");
  ax_resize_plan_clear (&plan);
}

static void
test_plan_reuse (void)
{
  /* One plan, two images: each equals a fresh plan's result. */
  uint8_t a[90 * 70 * 3], b[90 * 70 * 3], o1[24 * 24 * 3], o2[24 * 24 * 3];
  ax_resize_plan plan, fresh;
  make_lcg_image (a, 90, 70, 270, 1);
  make_lcg_image (b, 90, 70, 270, 2);
  ax_resize_plan_init (&plan, 90, 70, 24);
  ax_resize_rgb (o1, 72, a, 270, &plan);
  ax_resize_rgb (o1, 72, b, 270, &plan);
  ax_resize_plan_init (&fresh, 90, 70, 24);
  ax_resize_rgb (o2, 72, b, 270, &fresh);
  AX_CHECK (memcmp (o1, o2, sizeof (o1)) == 0, "reused plan differs");
  ax_resize_rgb (o2, 72, a, 270, &fresh);
  AX_CHECK (memcmp (o1, o2, sizeof (o1)) != 0, "different images, same output");
  ax_resize_plan_clear (&plan);
  ax_resize_plan_clear (&fresh);
}

static void
test_plan_update_sizes (void)
{
  /* One plan updated through growing and shrinking sizes (its memory is
   * reused) gives exactly what a fresh plan gives for each size. */
  static const int sizes[][2] = { {90, 70}, {300, 200}, {40, 41}, {300, 200},
      {17, 255}, {90, 70} };
  static uint8_t img[300 * 255 * 3], o1[32 * 32 * 3], o2[32 * 32 * 3];
  ax_resize_plan plan, fresh;

  ax_resize_plan_init (&plan, 8, 8, 32);
  for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    int w = sizes[i][0], h = sizes[i][1];
    make_lcg_image (img, w, h, w * 3, 10 + i);
    AX_CHECK (ax_resize_plan_update (&plan, w, h, 32) == 0, "update %dx%d",
        w, h);
    AX_CHECK (ax_resize_plan_init (&fresh, w, h, 32) == 0, "init %dx%d", w,
        h);
    ax_resize_rgb (o1, 96, img, w * 3, &plan);
    ax_resize_rgb (o2, 96, img, w * 3, &fresh);
    AX_CHECK (memcmp (o1, o2, sizeof (o1)) == 0, "updated plan differs at "
        "%dx%d", w, h);
    ax_resize_plan_clear (&fresh);
  }
  AX_CHECK (ax_resize_plan_update (&plan, 0, 5, 32) == -1, "bad size taken");
  AX_CHECK (plan.mem == NULL && plan.scratch == NULL, "failed update keeps "
      "memory");
  ax_resize_plan_clear (&plan);
}

static void
test_pil_fixtures (void)
{
  static const int cases[][4] = {
    { 67, 45, 32, 1 }, { 45, 67, 40, 2 }, { 300, 200, 64, 3 },
    { 97, 131, 48, 4 }, { 28, 28, 256, 5 },
  };
  const char *dir = getenv ("ALEXNET_TEST_DATA");
  int worst = 0;

  AX_CHECK (dir != NULL, "ALEXNET_TEST_DATA is not set");
  if (dir == NULL)
    return;
  for (unsigned c = 0; c < sizeof (cases) / sizeof (cases[0]); c++) {
    int w = cases[c][0], h = cases[c][1], S = cases[c][2];
    size_t n = (size_t) S * S * 3, got;
    char path[1024];
    uint8_t *src = malloc ((size_t) w * h * 3), *dst = malloc (n),
        *pil = malloc (n);
    ax_resize_plan plan;
    FILE *f;
    int maxd = 0, n_diff = 0;

    snprintf (path, sizeof (path), "%s/resize_%dx%d_s%d.rgb", dir, w, h, S);
    f = fopen (path, "rb");
    AX_CHECK (f != NULL, "cannot open %s", path);
    got = f ? fread (pil, 1, n, f) : 0;
    if (f)
      fclose (f);
    AX_CHECK (got == n, "%s: %zu bytes, want %zu", path, got, n);
    if (got == n) {
      make_lcg_image (src, w, h, w * 3, (uint64_t) cases[c][3]);
      ax_resize_plan_init (&plan, w, h, S);
      ax_resize_rgb (dst, S * 3, src, w * 3, &plan);
      ax_resize_plan_clear (&plan);
      for (size_t i = 0; i < n; i++) {
        int d = abs (dst[i] - pil[i]);
        maxd = d > maxd ? d : maxd;
        n_diff += d != 0;
      }
      /* Same coefficients, fixed point and pass order as PIL: exact. */
      AX_CHECK (maxd == 0, "%dx%d->%d: %d values differ from PIL, max %d", w,
          h, S, n_diff, maxd);
      worst = maxd > worst ? maxd : worst;
    }
    free (src);
    free (dst);
    free (pil);
  }
  printf ("  PIL fixtures: max difference %d\n", worst);
}

/* n bytes that end right before an inaccessible page (and start after
 * one), so reading or writing past either end faults; plain malloc where
 * that is not available. Free with guarded_free. */
typedef struct {
  uint8_t *p;
  void *base;
  size_t len;
} guarded;

static guarded
guarded_alloc (size_t n)
{
  guarded g = { NULL, NULL, 0 };
#ifdef __linux__
  size_t page = (size_t) sysconf (_SC_PAGESIZE), body = (n + page - 1)
      / page * page;
  g.len = body + 2 * page;
  g.base = mmap (NULL, g.len, PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (g.base != MAP_FAILED) {
    mprotect (g.base, page, PROT_NONE);
    mprotect ((uint8_t *) g.base + page + body, page, PROT_NONE);
    g.p = (uint8_t *) g.base + page + (body - n);
    return g;
  }
  g.base = NULL;
#endif
  g.p = malloc (n ? n : 1);
  return g;
}

static void
guarded_free (guarded *g)
{
#ifdef __linux__
  if (g->base != NULL) {
    munmap (g->base, g->len);
    return;
  }
#endif
  free (g->p);
}

static uint64_t rnd_state = 0x9E3779B97F4A7C15ULL;
static int
rnd (int n)
{
  rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (int) ((rnd_state >> 33) % (uint64_t) n);
}

/* The AVX-512 code (where this CPU runs it) and the portable code give the
 * same bytes, on random sizes (shrinks of 1..10x, upscales, thin images),
 * strides and windows; images and outputs sit against unmapped pages so
 * any read or write outside them crashes the test. */
static void
test_simd_matches_portable (void)
{
  static const int sizes[] = { 1, 7, 16, 24, 33, 64, 100, 224, 256 };
  int have = ax_resize_set_simd (1), n_fast = 0, n_cases = 0, n_wide = 0;

  for (int it = 0; it < 400; it++) {
    int S = sizes[rnd (9)], w, h, pad = rnd (3) == 0 ? 0 : rnd (70);
    int dpad = rnd (2) ? 0 : rnd (9), stride, dstride;
    ax_resize_plan plan;
    guarded src, d1, d2;
    switch (rnd (4)) {
      case 0:                   /* anything */
        w = 1 + rnd (700);
        h = 1 + rnd (700);
        break;
      case 1:                   /* shrink 1..2.9x: the data sets' range */
        w = S + rnd (2 * S) + 1;
        h = S + rnd (2 * S) + 1;
        break;
      case 2:                   /* thin */
        w = 1 + rnd (4);
        h = 1 + rnd (900);
        break;
      default:                  /* large shrink */
        w = 3 * S + rnd (8 * S) + 1;
        h = 3 * S + rnd (8 * S) + 1;
        break;
    }
    if (rnd (2)) {
      int t = w;
      w = h;
      h = t;
    }
    stride = w * 3 + pad;
    dstride = S * 3 + dpad;
    /* the last row ends the buffer: no padding after it */
    src = guarded_alloc ((size_t) stride * (h - 1) + (size_t) w * 3);
    d1 = guarded_alloc ((size_t) dstride * (S - 1) + (size_t) S * 3);
    d2 = guarded_alloc ((size_t) dstride * (S - 1) + (size_t) S * 3);
    for (int y = 0; y < h; y++)
      for (int i = 0; i < w * 3; i++)
        src.p[(size_t) y * stride + i] = (uint8_t) rnd (256);
    memset (d1.p, 0x5A, (size_t) dstride * (S - 1) + (size_t) S * 3);
    memset (d2.p, 0x5A, (size_t) dstride * (S - 1) + (size_t) S * 3);

    ax_resize_set_simd (1);
    AX_CHECK (ax_resize_plan_init (&plan, w, h, S) == 0, "plan %dx%d->%d",
        w, h, S);
    n_fast += plan.fast_h && plan.fast_v;
    n_wide += plan.fast_h && plan.h_taps > 4;
    n_cases++;
    ax_resize_rgb (d1.p, dstride, src.p, stride, &plan);
    ax_resize_set_simd (0);
    ax_resize_rgb (d2.p, dstride, src.p, stride, &plan);
    AX_CHECK (memcmp (d1.p, d2.p, (size_t) dstride * (S - 1) + (size_t) S
            * 3) == 0, "%dx%d->%d strides %d/%d: AVX-512 and portable "
        "differ", w, h, S, stride, dstride);
    ax_resize_plan_clear (&plan);
    guarded_free (&src);
    guarded_free (&d1);
    guarded_free (&d2);
  }
  ax_resize_set_simd (1);
  printf ("  AVX-512 code %s; both passes on it in %d of %d cases, "
      "horizontal with 5-8 taps in %d\n", have ? "in use" : "not available",
      n_fast, n_cases, n_wide);
}

/* The shorter side before a crop: the paper's 256 for 224, in proportion,
 * rounded to the nearest (checked against float64 rounding). */
static void
test_resize_for_input (void)
{
  AX_CHECK (ax_resize_size_for_input (224) == 256, "224");
  for (int in = 1; in <= 1024; in++) {
    int want = (int) floor (in * 256.0 / 224.0 + 0.5);
    AX_CHECK (ax_resize_size_for_input (in) == want, "input %d: %d, want %d",
        in, ax_resize_size_for_input (in), want);
  }
}

static void
run_all (void)
{
  AX_RUN (test_resize_for_input);
  AX_RUN (test_geometry);
  AX_RUN (test_identity);
  AX_RUN (test_bad_sizes);
  AX_RUN (test_plan_reuse);
  AX_RUN (test_plan_update_sizes);
  AX_RUN (test_downscale_factors);
  AX_RUN (test_upscale_and_odd);
  AX_RUN (test_pil_fixtures);
}

int
main (void)
{
  /* everything on the fastest code, then again on the portable code */
  printf ("AVX-512 code: %s\n", ax_resize_set_simd (1) ? "yes" : "no");
  run_all ();
  AX_RUN (test_simd_matches_portable);
  ax_resize_set_simd (0);
  printf ("portable code:\n");
  run_all ();
  return ax_test_finish ();
}
