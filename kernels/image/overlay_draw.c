/* The classification overlay's drawing: an RGBA layer, the built-in font,
 * and blending onto 8-bit frames (see overlay_draw.h). */
#include <stdlib.h>
#include <string.h>

#include "kernels/image/font5x7.h"
#include "kernels/image/overlay_draw.h"

int
ax_layer_reset (ax_layer * l, int w, int h)
{
  size_t need;

  if (w < 0 || h < 0)
    w = h = 0;
  need = (size_t) w * (size_t) h * 4;
  if (need > l->capacity) {
    uint8_t *p = realloc (l->rgba, need);
    if (p == NULL) {
      l->w = l->h = 0;
      return -1;
    }
    l->rgba = p;
    l->capacity = need;
  }
  l->w = w;
  l->h = h;
  if (need > 0)
    memset (l->rgba, 0, need);
  return 0;
}

void
ax_layer_free (ax_layer * l)
{
  free (l->rgba);
  memset (l, 0, sizeof (*l));
}

void
ax_layer_fill (ax_layer * l, int x, int y, int w, int h,
    const uint8_t rgba[4])
{
  int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
  int x1 = x + w > l->w ? l->w : x + w, y1 = y + h > l->h ? l->h : y + h;

  for (int j = y0; j < y1; j++)
    for (int i = x0; i < x1; i++)
      memcpy (l->rgba + ((size_t) j * l->w + i) * 4, rgba, 4);
}

/* Length of the UTF-8 sequence that @s starts, or 0 when it starts none
 * (a stray continuation byte, an overlong or out-of-range lead, a sequence
 * cut short). */
static int
utf8_sequence_length (const unsigned char *s)
{
  int n;

  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    n = 2;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    n = 3;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    n = 4;
  else
    return 0;
  for (int i = 1; i < n; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

/* The character of the next cell of @s, advancing *pos past it. */
static unsigned char
next_cell (const char *s, size_t * pos)
{
  const unsigned char *p = (const unsigned char *) s + *pos;
  int n = utf8_sequence_length (p);

  *pos += n > 0 ? (size_t) n : 1;
  return n == 1 ? p[0] : '?';
}

int
ax_text_cells (const char *text)
{
  size_t pos = 0;
  int n = 0;

  while (text[pos] != '\0') {
    next_cell (text, &pos);
    n++;
  }
  return n;
}

size_t
ax_text_cell_bytes (const char *text, int n_cells)
{
  size_t pos = 0;

  for (int n = 0; n < n_cells && text[pos] != '\0'; n++)
    next_cell (text, &pos);
  return pos;
}

static void
draw_glyph (ax_layer * l, int x, int y, int scale, unsigned char c,
    const uint8_t rgba[4])
{
  const uint8_t *rows = ax_font_glyph (c);

  for (int row = 0; row < AX_FONT_CELL_H; row++)
    for (int col = 0; col < AX_FONT_CELL_W; col++)
      if (rows[row] & (0x80 >> col))
        ax_layer_fill (l, x + col * scale, y + row * scale, scale, scale,
            rgba);
}

int
ax_layer_text (ax_layer * l, int x, int y, int scale, const char *text,
    const uint8_t rgba[4])
{
  const int advance = AX_FONT_CELL_W * scale;
  size_t pos = 0;
  int n = 0;

  while (text[pos] != '\0') {
    unsigned char c = next_cell (text, &pos);
    int cx = x + n * advance;

    /* cells wholly outside the layer are counted but not drawn */
    if (cx < l->w && cx + advance > 0 && y < l->h
        && y + AX_FONT_CELL_H * scale > 0)
      draw_glyph (l, cx, y, scale, c, rgba);
    n++;
  }
  return n;
}

static uint8_t
clamp_round (float v)
{
  if (!(v > 0.0f))
    return 0;
  if (v >= 255.0f)
    return 255;
  return (uint8_t) (v + 0.5f);
}

void
ax_layer_to_components (ax_layer * l, const float m[3][4])
{
  size_t n = (size_t) l->w * l->h;

  for (size_t i = 0; i < n; i++) {
    uint8_t *p = l->rgba + 4 * i;
    float r = p[0], g = p[1], b = p[2];

    for (int c = 0; c < 3; c++)
      p[c] = clamp_round (m[c][0] * r + m[c][1] * g + m[c][2] * b + m[c][3]);
  }
}

/* One component: every sample whose frame pixels meet the layer gets
 * v' = (v (255 n - sum a) + sum a c) / (255 n) over its n frame pixels
 * (those outside the layer count with a = 0). */
static void
blend_comp (const ax_layer * l, int x, int y, int frame_w, int frame_h,
    const ax_frame_comp * comp, int channel)
{
  /* the frame pixels the layer covers */
  int fx0 = x < 0 ? 0 : x, fy0 = y < 0 ? 0 : y;
  int fx1 = x + l->w > frame_w ? frame_w : x + l->w;
  int fy1 = y + l->h > frame_h ? frame_h : y + l->h;
  int sw = 1 << comp->w_sub, sh = 1 << comp->h_sub;

  if (fx0 >= fx1 || fy0 >= fy1)
    return;
  for (int sy = fy0 >> comp->h_sub; sy <= (fy1 - 1) >> comp->h_sub; sy++) {
    uint8_t *row = comp->data + (size_t) sy * comp->stride;

    for (int sx = fx0 >> comp->w_sub; sx <= (fx1 - 1) >> comp->w_sub; sx++) {
      unsigned sum_a = 0, sum_ac = 0, n = 0;
      uint8_t *v;

      for (int py = sy * sh; py < sy * sh + sh && py < frame_h; py++)
        for (int px = sx * sw; px < sx * sw + sw && px < frame_w; px++) {
          n++;
          if (px >= fx0 && px < fx1 && py >= fy0 && py < fy1) {
            const uint8_t *p = l->rgba + ((size_t) (py - y) * l->w +
                (px - x)) * 4;
            sum_a += p[3];
            sum_ac += p[3] * p[channel];
          }
        }
      if (sum_a == 0)
        continue;
      v = row + (size_t) sx * comp->pstride;
      *v = (uint8_t) ((*v * (255 * n - sum_a) + sum_ac + 255 * n / 2) /
          (255 * n));
    }
  }
}

void
ax_layer_blend (const ax_layer * l, int x, int y, int frame_w, int frame_h,
    const ax_frame_comp comps[3])
{
  for (int c = 0; c < 3; c++)
    blend_comp (l, x, y, frame_w, frame_h, &comps[c], c);
}

void
ax_ycbcr_matrix (float m[3][4], double kr, double kb, const int offset[3],
    const int scale[3])
{
  const double kg = 1.0 - kr - kb;
  const double w[3][3] = {
    { kr, kg, kb },
    { -kr / (2.0 * (1.0 - kb)), -kg / (2.0 * (1.0 - kb)), 0.5 },
    { 0.5, -kg / (2.0 * (1.0 - kr)), -kb / (2.0 * (1.0 - kr)) },
  };
  for (int i = 0; i < 3; i++) {
    for (int c = 0; c < 3; c++)
      m[i][c] = (float) (scale[i] * w[i][c] / 255.0);
    m[i][3] = (float) offset[i];
  }
}
