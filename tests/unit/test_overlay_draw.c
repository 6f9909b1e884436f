/* The overlay's drawing kernel: UTF-8 cells, text and boxes clipped to the
 * layer, the blend formula, subsampled samples at odd offsets and the frame
 * edge, layers partly or wholly outside the frame, colour conversion. */
#include "kernels/image/font5x7.h"
#include "kernels/image/overlay_draw.h"
#include "tests/ax_test.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t white[4] = { 255, 255, 255, 255 };

static void
test_text_cells (void)
{
  AX_CHECK (ax_text_cells ("") == 0, "empty");
  AX_CHECK (ax_text_cells ("abc") == 3, "ascii");
  AX_CHECK (ax_text_cells ("caf\xc3\xa9") == 4, "two-byte UTF-8 is one cell");
  AX_CHECK (ax_text_cells ("\xe2\x9c\x93\xf0\x9f\x90\x88") == 2, "3 and 4 "
      "byte sequences");
  AX_CHECK (ax_text_cells ("\xff\xfe") == 2, "invalid bytes, one cell each");
  AX_CHECK (ax_text_cells ("\xe2\x9c") == 2, "cut sequence: %d",
      ax_text_cells ("\xe2\x9c"));
  AX_CHECK (ax_text_cells ("\x80x") == 2, "stray continuation byte");
  AX_CHECK (ax_text_cell_bytes ("caf\xc3\xa9!", 4) == 5, "bytes of 4 cells");
  AX_CHECK (ax_text_cell_bytes ("ab", 5) == 2, "more cells than text");
}

/* Draws @text at (x, y) into a w x h layer and compares every pixel with
 * the font table placed the same way. */
static void
check_text (int w, int h, int x, int y, int scale, const char *text,
    const char *as_drawn)
{
  ax_layer l = { 0 };
  int bad = 0;

  AX_CHECK (ax_layer_reset (&l, w, h) == 0, "reset");
  AX_CHECK (ax_layer_text (&l, x, y, scale, text, white) ==
      (int) strlen (as_drawn), "cells of %s", as_drawn);
  for (int py = 0; py < h; py++)
    for (int px = 0; px < w; px++) {
      int cx = px - x, cy = py - y, cell = cx / (AX_FONT_CELL_W * scale);
      int ink = 0;
      if (cx >= 0 && cy >= 0 && cy < AX_FONT_CELL_H * scale
          && cell < (int) strlen (as_drawn)) {
        const uint8_t *g = ax_font_glyph ((unsigned char) as_drawn[cell]);
        int col = (cx % (AX_FONT_CELL_W * scale)) / scale;
        ink = (g[cy / scale] >> (7 - col)) & 1;
      }
      bad += l.rgba[(py * w + px) * 4 + 3] != (ink ? 255 : 0);
    }
  AX_CHECK (bad == 0, "\"%s\" at %d,%d scale %d in %dx%d: %d wrong pixels",
      as_drawn, x, y, scale, w, h, bad);
  ax_layer_free (&l);
}

static void
test_text (void)
{
  check_text (40, 12, 1, 2, 1, "Hi?", "Hi?");
  check_text (40, 20, 0, 0, 2, "caf\xc3\xa9", "caf?");
  /* clipped on every side */
  check_text (9, 5, -3, -2, 1, "WM", "WM");
  check_text (20, 20, 14, 15, 3, "gy", "gy");
  check_text (10, 10, 50, 50, 1, "far", "far");
  check_text (10, 10, -50, 0, 1, "far", "far");
  check_text (1, 1, 0, 0, 1, "#", "#");
}

static void
test_fill_clipped (void)
{
  ax_layer l = { 0 };
  const uint8_t c[4] = { 1, 2, 3, 4 };
  int inside = 0, bad = 0;

  ax_layer_reset (&l, 6, 4);
  ax_layer_fill (&l, -2, 2, 5, 10, c);
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 6; x++) {
      int in = x < 3 && y >= 2;
      inside += in;
      bad += memcmp (l.rgba + (y * 6 + x) * 4, in ? c : (uint8_t[4]) {
          0}, 4) != 0;
    }
  AX_CHECK (inside == 6 && bad == 0, "%d wrong pixels", bad);
  /* a second reset makes it transparent again, and may shrink */
  ax_layer_reset (&l, 2, 2);
  AX_CHECK (l.rgba[3] == 0 && l.w == 2 && l.h == 2, "reset");
  ax_layer_reset (&l, 0, 0);
  ax_layer_fill (&l, 0, 0, 5, 5, c);
  ax_layer_free (&l);
}

/* v' = (v (255 - a) + a c + 127) / 255 for one full-resolution pixel. */
static void
test_blend_formula (void)
{
  ax_layer l = { 0 };
  uint8_t frame[3] = { 100, 0, 255 };
  ax_frame_comp comps[3];

  ax_layer_reset (&l, 1, 1);
  l.rgba[0] = 200;
  l.rgba[1] = 255;
  l.rgba[2] = 0;
  l.rgba[3] = 128;
  for (int c = 0; c < 3; c++)
    comps[c] = (ax_frame_comp) {
    frame + c, 3, 3, 0, 0};
  ax_layer_blend (&l, 0, 0, 1, 1, comps);
  AX_CHECK (frame[0] == (100 * 127 + 128 * 200 + 127) / 255, "%d", frame[0]);
  AX_CHECK (frame[1] == (0 * 127 + 128 * 255 + 127) / 255, "%d", frame[1]);
  AX_CHECK (frame[2] == (255 * 127 + 0 + 127) / 255, "%d", frame[2]);
  /* transparent: untouched */
  l.rgba[3] = 0;
  frame[0] = 7;
  ax_layer_blend (&l, 0, 0, 1, 1, comps);
  AX_CHECK (frame[0] == 7, "alpha 0 changed the frame");
  ax_layer_free (&l);
}

/* A 5x3 frame with a 2x2-subsampled component (3x2 samples, stride 4, a
 * guard byte at the end of each row); an opaque black 2x2 layer at (1, 1). */
static void
test_blend_subsampled (void)
{
  ax_layer l = { 0 };
  uint8_t plane[2 * 4 + 4];
  uint8_t full[5 * 3];
  ax_frame_comp comps[3];
  uint8_t want[2 * 4 + 4];

  memset (plane, 255, sizeof (plane));
  memset (full, 255, sizeof (full));
  ax_layer_reset (&l, 2, 2);
  ax_layer_fill (&l, 0, 0, 2, 2, (const uint8_t[4]) {
      0, 0, 0, 255});
  comps[0] = (ax_frame_comp) {
  full, 1, 5, 0, 0};
  comps[1] = (ax_frame_comp) {
  plane, 1, 4, 1, 1};
  comps[2] = comps[0];
  ax_layer_blend (&l, 1, 1, 5, 3, comps);

  memset (want, 255, sizeof (want));
  /* sample (0,0): pixels (0..1, 0..1), one of four covered */
  want[0] = (255 * (1020 - 255) + 510) / 1020;
  /* sample (1,0): pixels (2..3, 0..1), one covered: (2,1) */
  want[1] = want[0];
  /* sample (0,1): pixels (0..1, 2) only (row 3 is outside the frame), one
   * of two covered */
  want[4] = (255 * (510 - 255) + 255) / 510;
  /* sample (1,1): pixels (2..3, 2), one of two covered */
  want[5] = want[4];
  AX_CHECK (memcmp (plane, want, sizeof (want)) == 0,
      "samples %d %d %d %d / %d %d %d %d", plane[0], plane[1], plane[2],
      plane[3], plane[4], plane[5], plane[6], plane[7]);
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 5; x++) {
      int in = x >= 1 && x <= 2 && y >= 1 && y <= 2;
      AX_CHECK (full[y * 5 + x] == (in ? 0 : 255), "pixel %d,%d", x, y);
    }
  ax_layer_free (&l);
}

/* Layers bigger than the frame, or beside it: only the frame is touched. */
static void
test_blend_outside (void)
{
  const int w = 4, h = 3, guard = 16;
  uint8_t *buf = malloc (w * h + 2 * guard);
  uint8_t *frame = buf + guard;
  ax_layer l = { 0 };
  ax_frame_comp comps[3];
  const int at[][2] = { {-5, -5}, {-20, 0}, {4, 0}, {0, 3}, {-1, 2} };
  int outside = 0;

  ax_layer_reset (&l, 8, 8);
  ax_layer_fill (&l, 0, 0, 8, 8, white);
  for (int c = 0; c < 3; c++)
    comps[c] = (ax_frame_comp) {
    frame, 1, w, 0, 0};
  for (unsigned i = 0; i < sizeof (at) / sizeof (at[0]); i++) {
    memset (buf, 0, w * h + 2 * guard);
    ax_layer_blend (&l, at[i][0], at[i][1], w, h, comps);
    for (int j = 0; j < guard; j++)
      outside += buf[j] != 0 || frame[w * h + j] != 0;
  }
  AX_CHECK (outside == 0, "%d bytes written outside the frame", outside);
  /* the first placement covers the whole frame */
  memset (buf, 0, w * h + 2 * guard);
  ax_layer_blend (&l, -2, -2, w, h, comps);
  AX_CHECK (frame[0] == 255 && frame[w * h - 1] == 255, "frame not covered");
  free (buf);
  ax_layer_free (&l);
}

static void
test_to_components (void)
{
  ax_layer l = { 0 };
  const float identity[3][4] = { {1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0} };
  const float odd[3][4] = { {0, 0, 0, 300}, {0, 0, 0, -4}, {0.5f, 0.5f, 0,
          0.2f}
  };

  ax_layer_reset (&l, 1, 1);
  memcpy (l.rgba, (uint8_t[4]) {
      10, 20, 30, 40}, 4);
  ax_layer_to_components (&l, identity);
  AX_CHECK (l.rgba[0] == 10 && l.rgba[1] == 20 && l.rgba[2] == 30
      && l.rgba[3] == 40, "identity");
  ax_layer_to_components (&l, odd);
  AX_CHECK (l.rgba[0] == 255 && l.rgba[1] == 0 && l.rgba[2] == 15
      && l.rgba[3] == 40, "clamped and rounded: %d %d %d", l.rgba[0],
      l.rgba[1], l.rgba[2]);
  ax_layer_free (&l);
}

int
main (void)
{
  AX_RUN (test_text_cells);
  AX_RUN (test_text);
  AX_RUN (test_fill_clipped);
  AX_RUN (test_blend_formula);
  AX_RUN (test_blend_subsampled);
  AX_RUN (test_blend_outside);
  AX_RUN (test_to_components);
  return ax_test_finish ();
}
