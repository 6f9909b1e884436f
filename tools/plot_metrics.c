/* plot-metrics: draws training curves from a metrics file (JSON lines, one
 * object per log interval, as alexnet-train writes it) into a PNG, with no
 * plotting library: two panels (losses; top-1/top-5 errors and accuracies)
 * against a chosen x field, drawn with the overlay's 5x7 font.
 * Usage: plot-metrics [--x step] METRICS.jsonl OUT.png */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kernels/util/json.h"
#include "kernels/image/overlay_draw.h"

#define W 960
#define H 720
#define MAX_SERIES 8
#define MAX_POINTS 100000

typedef struct {
  char name[64];
  int panel;                    /* 0: losses, 1: errors/accuracies */
  int n;
  double *x, *y;
} series;

static const uint8_t palette[MAX_SERIES][4] = {
  {31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255},
  {214, 39, 40, 255}, {148, 103, 189, 255}, {140, 86, 75, 255},
  {227, 119, 194, 255}, {127, 127, 127, 255},
};

/* Which panel a field belongs to, or -1 for fields not plotted. */
static int
panel_of (const char *key)
{
  if (strstr (key, "loss"))
    return 0;
  if (strstr (key, "top1") || strstr (key, "top5") || strstr (key, "acc")
      || strstr (key, "error"))
    return 1;
  return -1;
}

static series *
series_for (series *s, int *n_series, const char *key)
{
  for (int i = 0; i < *n_series; i++)
    if (strcmp (s[i].name, key) == 0)
      return &s[i];
  if (*n_series == MAX_SERIES || panel_of (key) < 0)
    return NULL;
  series *t = &s[(*n_series)++];
  snprintf (t->name, sizeof t->name, "%s", key);
  t->panel = panel_of (key);
  t->x = malloc (sizeof (double) * MAX_POINTS);
  t->y = malloc (sizeof (double) * MAX_POINTS);
  return t->x && t->y ? t : NULL;
}

static int
read_metrics (const char *path, const char *xkey, series *s, int *n_series)
{
  FILE *f = fopen (path, "r");
  char line[16384], err[256];
  int lineno = 0;

  if (!f) {
    perror (path);
    return -1;
  }
  while (fgets (line, sizeof line, f)) {
    ax_json *j;
    const ax_json *xv;
    lineno++;
    if (line[0] == '\n' || line[0] == '\0')
      continue;
    j = ax_json_parse (line, strlen (line), err, sizeof err);
    if (!j || j->type != AX_JSON_OBJECT) {
      fprintf (stderr, "%s:%d: not a JSON object (%s), skipped\n", path,
          lineno, j ? "not an object" : err);
      ax_json_free (j);
      continue;
    }
    xv = ax_json_get (j, xkey);
    for (size_t i = 0; xv && xv->type == AX_JSON_NUMBER && i < j->count; i++) {
      series *t;
      if (j->items[i].type != AX_JSON_NUMBER || strcmp (j->keys[i], xkey) == 0)
        continue;
      t = series_for (s, n_series, j->keys[i]);
      if (t && t->n < MAX_POINTS && isfinite (j->items[i].number)) {
        t->x[t->n] = xv->number;
        t->y[t->n++] = j->items[i].number;
      }
    }
    ax_json_free (j);
  }
  fclose (f);
  return 0;
}

static void
draw_line (ax_layer *l, double x0, double y0, double x1, double y1,
    const uint8_t c[4])
{
  int steps = (int) (fabs (x1 - x0) > fabs (y1 - y0) ? fabs (x1 - x0)
      : fabs (y1 - y0)) + 1;
  for (int i = 0; i <= steps; i++) {
    double t = (double) i / steps;
    ax_layer_fill (l, (int) lround (x0 + t * (x1 - x0)) - 1,
        (int) lround (y0 + t * (y1 - y0)) - 1, 2, 2, c);
  }
}

static void
draw_panel (ax_layer *l, const series *s, int n_series, int panel, int top,
    int height, const char *title, const char *xkey)
{
  const uint8_t black[4] = { 0, 0, 0, 255 }, grey[4] = { 200, 200, 200, 255 };
  const int left = 90, right = W - 20, bottom = top + height - 40;
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  char label[64];
  int legend = 0;

  for (int i = 0; i < n_series; i++)
    for (int k = 0; s[i].panel == panel && k < s[i].n; k++) {
      xmin = fmin (xmin, s[i].x[k]), xmax = fmax (xmax, s[i].x[k]);
      ymin = fmin (ymin, s[i].y[k]), ymax = fmax (ymax, s[i].y[k]);
    }
  ax_layer_text (l, left, top, 2, title, black);
  if (!(xmax >= xmin))
    return;
  if (panel == 1)
    ymin = fmin (ymin, 0.0);
  if (xmax == xmin)
    xmax = xmin + 1;
  if (ymax == ymin)
    ymax = ymin + 1;
  for (int g = 0; g <= 4; g++) {
    int y = bottom - (bottom - top - 30) * g / 4;
    ax_layer_fill (l, left, y, right - left, 1, grey);
    snprintf (label, sizeof label, "%.3g", ymin + (ymax - ymin) * g / 4);
    ax_layer_text (l, 8, y - 7, 2, label, black);
  }
  ax_layer_fill (l, left, top + 30, 1, bottom - top - 30, black);
  ax_layer_fill (l, left, bottom, right - left, 1, black);
  snprintf (label, sizeof label, "%s %.6g", xkey, xmin);
  ax_layer_text (l, left, bottom + 8, 2, label, black);
  snprintf (label, sizeof label, "%.6g", xmax);
  ax_layer_text (l, right - 12 * (int) strlen (label), bottom + 8, 2, label,
      black);
  for (int i = 0; i < n_series; i++) {
    if (s[i].panel != panel)
      continue;
    for (int k = 1; k < s[i].n; k++)
      draw_line (l, left + (s[i].x[k - 1] - xmin) / (xmax - xmin) * (right -
              left), bottom - (s[i].y[k - 1] - ymin) / (ymax - ymin) * (bottom
              - top - 30), left + (s[i].x[k] - xmin) / (xmax - xmin) * (right
              - left), bottom - (s[i].y[k] - ymin) / (ymax - ymin) * (bottom -
              top - 30), palette[i]);
    if (s[i].n == 1)
      ax_layer_fill (l, left - 3, bottom - 3, 6, 6, palette[i]);
    ax_layer_fill (l, right - 260, top + 36 + 20 * legend, 20, 4, palette[i]);
    ax_layer_text (l, right - 232, top + 30 + 20 * legend, 2, s[i].name,
        black);
    legend++;
  }
}

static void
put32 (unsigned char *p, uint32_t v)
{
  p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

static int
write_chunk (FILE *f, const char *type, const unsigned char *data,
    uint32_t len)
{
  unsigned char head[8], crc[4];
  uLong c = crc32 (0, (const Bytef *) type, 4);
  put32 (head, len);
  memcpy (head + 4, type, 4);
  if (len)
    c = crc32 (c, data, len);
  put32 (crc, (uint32_t) c);
  return fwrite (head, 1, 8, f) == 8 && (len == 0 || fwrite (data, 1, len,
          f) == len) && fwrite (crc, 1, 4, f) == 4 ? 0 : -1;
}

/* An 8-bit RGB PNG of the layer over white. */
static int
write_png (const char *path, const ax_layer *l)
{
  static const unsigned char sig[8] = { 137, 80, 78, 71, 13, 10, 26, 10 };
  size_t raw_len = (size_t) l->h * (1 + 3 * (size_t) l->w);
  unsigned char *raw = malloc (raw_len), ihdr[13];
  uLongf zlen = compressBound (raw_len);
  unsigned char *z = malloc (zlen);
  FILE *f;
  int rc = -1;

  if (!raw || !z)
    goto out;
  for (int y = 0; y < l->h; y++) {
    unsigned char *o = raw + (size_t) y * (1 + 3 * (size_t) l->w);
    *o++ = 0;
    for (int x = 0; x < l->w; x++) {
      const uint8_t *p = l->rgba + ((size_t) y * l->w + x) * 4;
      for (int c = 0; c < 3; c++)
        *o++ = (unsigned char) ((p[c] * p[3] + 255 * (255 - p[3])) / 255);
    }
  }
  if (compress2 (z, &zlen, raw, raw_len, 9) != Z_OK)
    goto out;
  put32 (ihdr, (uint32_t) l->w);
  put32 (ihdr + 4, (uint32_t) l->h);
  ihdr[8] = 8, ihdr[9] = 2, ihdr[10] = ihdr[11] = ihdr[12] = 0;
  f = fopen (path, "wb");
  if (!f)
    goto out;
  rc = fwrite (sig, 1, 8, f) == 8 && write_chunk (f, "IHDR", ihdr, 13) == 0
      && write_chunk (f, "IDAT", z, (uint32_t) zlen) == 0
      && write_chunk (f, "IEND", NULL, 0) == 0 ? 0 : -1;
  if (fclose (f) != 0)
    rc = -1;
out:
  free (raw);
  free (z);
  return rc;
}

int
main (int argc, char **argv)
{
  const char *xkey = "step";
  series s[MAX_SERIES] = { 0 };
  int n_series = 0, a = 1, rc;
  ax_layer canvas = { 0 };

  if (argc > 3 && strcmp (argv[1], "--x") == 0) {
    xkey = argv[2];
    a = 3;
  }
  if (argc - a != 2) {
    fprintf (stderr, "usage: %s [--x FIELD] METRICS.jsonl OUT.png\n",
        argv[0]);
    return 2;
  }
  if (read_metrics (argv[a], xkey, s, &n_series) != 0)
    return 1;
  if (n_series == 0) {
    fprintf (stderr, "%s: no numeric loss/top1/top5/accuracy fields with a "
        "numeric '%s'\n", argv[a], xkey);
    return 1;
  }
  if (ax_layer_reset (&canvas, W, H) != 0)
    return 1;
  ax_layer_fill (&canvas, 0, 0, W, H, (const uint8_t[4]) {255, 255, 255, 255});
  draw_panel (&canvas, s, n_series, 0, 10, H / 2, "loss", xkey);
  draw_panel (&canvas, s, n_series, 1, H / 2 + 10, H / 2, "top-1 / top-5",
      xkey);
  rc = write_png (argv[a + 1], &canvas);
  if (rc != 0)
    fprintf (stderr, "cannot write %s\n", argv[a + 1]);
  ax_layer_free (&canvas);
  for (int i = 0; i < n_series; i++) {
    free (s[i].x);
    free (s[i].y);
  }
  return rc == 0 ? 0 : 1;
}
