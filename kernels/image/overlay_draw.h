/* Drawing for the classification overlay, in plain C: a small RGBA layer
 * into which boxes and text (the 5x7 font of font5x7.h, scaled) are drawn,
 * then blended onto the components of an 8-bit frame, packed or planar,
 * subsampled or not. Nothing is ever written outside the layer or frame. */
#ifndef AX_OVERLAY_DRAW_H
#define AX_OVERLAY_DRAW_H

#include <stddef.h>
#include <stdint.h>

/* Pixels with straight (not premultiplied) alpha: r, g, b, a per pixel,
 * rows of 4 * w bytes. The memory is kept between frames. */
typedef struct
{
  int w, h;
  uint8_t *rgba;
  size_t capacity;
} ax_layer;

/* One colour component of a frame: the sample of frame pixel (x, y) is at
 * data + (y >> h_sub) * stride + (x >> w_sub) * pstride. */
typedef struct
{
  uint8_t *data;
  int pstride, stride;
  int w_sub, h_sub;             /* log2 of the subsampling, 0 or 1 */
} ax_frame_comp;

/* Makes @l w x h (w, h >= 0) and fully transparent. 0, or -1 when the
 * memory cannot be had (the layer is then empty). */
int ax_layer_reset (ax_layer * l, int w, int h);
void ax_layer_free (ax_layer * l);

/* Sets the pixels of the rectangle (clipped to the layer) to @rgba. */
void ax_layer_fill (ax_layer * l, int x, int y, int w, int h,
    const uint8_t rgba[4]);

/* Draws @text with its first cell's top-left corner at (x, y), each font
 * pixel a @scale x @scale square of @rgba, clipped to the layer. One cell
 * per character: printable ASCII as itself, any other character (a whole
 * UTF-8 sequence, or a byte that is not valid UTF-8) as '?'. Returns the
 * number of cells. */
int ax_layer_text (ax_layer * l, int x, int y, int scale, const char *text,
    const uint8_t rgba[4]);

/* Number of cells ax_layer_text() uses for @text. */
int ax_text_cells (const char *text);
/* Bytes of @text that its first @n_cells cells take. */
size_t ax_text_cell_bytes (const char *text, int n_cells);

/* Turns the layer's r, g, b into the frame's three components:
 * c_i = clamp(round(m[i][0] r + m[i][1] g + m[i][2] b + m[i][3])). The
 * identity for RGB frames, an RGB -> YCbCr matrix for YUV ones. */
void ax_layer_to_components (ax_layer * l, const float m[3][4]);

/* The matrix for ax_layer_to_components that turns 8-bit R, G, B into
 * Y, Cb, Cr with luma weights kr, kb (BT.601: 0.299, 0.114) and the
 * range's offsets and scales per component (GStreamer's
 * gst_video_color_range_offsets): Y = o + s Y', Cb = o + s (B - Y') /
 * (2 (1 - kb)), Cr = o + s (R - Y') / (2 (1 - kr)), on a 0..1 scale. */
void ax_ycbcr_matrix (float m[3][4], double kr, double kb,
    const int offset[3], const int scale[3]);

/* Blends the (converted) layer onto a frame_w x frame_h frame with its
 * top-left corner at (x, y), component by component: comps[i] receives
 * the layer's channel i. A subsampled sample takes the mean coverage of the
 * frame pixels it stands for. Parts outside the frame are left out. */
void ax_layer_blend (const ax_layer * l, int x, int y, int frame_w,
    int frame_h, const ax_frame_comp comps[3]);

#endif
