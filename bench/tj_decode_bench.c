/* tj-decode-bench: how many JPEGs per second libjpeg-turbo alone decodes to
 * RGB, at the DCT scale that `decode` picks for a target shorter side (the
 * ceiling for the whole image pipeline), or at full size with --full.
 *
 *   tj-decode-bench [--full | --pow2 | --scale N/D] [--target 256]
 *                   [--rounds 3] [--fast] FOLDER
 *
 * All files are read into memory first (timed separately); the decode timing
 * covers tjDecompressHeader3 + tjDecompress2 only. */

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <turbojpeg.h>

#ifndef TJ_VERSION_STR           /* set by bench/meson.build from pkg-config */
#define TJ_VERSION_STR "?"
#endif

typedef struct {
  char *path;
  unsigned char *data;
  unsigned long size;
} jpeg_file;

typedef struct {
  jpeg_file *files;
  size_t n, cap;
} file_list;

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
is_jpeg_name (const char *name)
{
  const char *dot = strrchr (name, '.');
  return dot && (!strcasecmp (dot, ".jpeg") || !strcasecmp (dot, ".jpg"));
}

static int
path_cmp (const void *a, const void *b)
{
  return strcmp (((const jpeg_file *) a)->path, ((const jpeg_file *) b)->path);
}

/* Collect the paths of all JPEG files under dir, recursively. */
static int
list_jpegs (const char *dir, file_list * list)
{
  DIR *d = opendir (dir);
  struct dirent *e;

  if (!d) {
    fprintf (stderr, "tj-decode-bench: cannot open %s: %s\n", dir,
        strerror (errno));
    return -1;
  }
  while ((e = readdir (d))) {
    char *path;
    struct stat st;

    if (e->d_name[0] == '.')
      continue;
    if (asprintf (&path, "%s/%s", dir, e->d_name) < 0)
      break;
    if (stat (path, &st) == 0 && S_ISDIR (st.st_mode)) {
      list_jpegs (path, list);
      free (path);
    } else if (S_ISREG (st.st_mode) && is_jpeg_name (e->d_name)) {
      if (list->n == list->cap) {
        list->cap = list->cap ? 2 * list->cap : 256;
        list->files = realloc (list->files, list->cap * sizeof (jpeg_file));
      }
      list->files[list->n++] = (jpeg_file) {.path = path };
    } else {
      free (path);
    }
  }
  closedir (d);
  return 0;
}

static int
read_file (jpeg_file * f)
{
  FILE *fp = fopen (f->path, "rb");
  long size;

  if (!fp || fseek (fp, 0, SEEK_END) || (size = ftell (fp)) <= 0
      || fseek (fp, 0, SEEK_SET)) {
    if (fp)
      fclose (fp);
    return -1;
  }
  f->data = malloc (size);
  f->size = size;
  if (fread (f->data, 1, size, fp) != (size_t) size) {
    fclose (fp);
    return -1;
  }
  fclose (fp);
  return 0;
}

/* The scale `decode` uses: the smallest libjpeg-turbo factor <= 1 whose
 * scaled shorter side is still >= target. 1/1 when none is smaller.
 * pow2: only 1/1, 1/2, 1/4, 1/8 (the factors with SIMD IDCTs). */
static tjscalingfactor
choose_scale (int width, int height, int target, int pow2)
{
  int n, i, shorter = width < height ? width : height;
  tjscalingfactor *sf = tjGetScalingFactors (&n);
  tjscalingfactor best = { 1, 1 };

  for (i = 0; i < n; i++) {
    if (sf[i].num > sf[i].denom)
      continue;
    if (pow2 && (sf[i].num != 1 || (sf[i].denom & (sf[i].denom - 1))))
      continue;
    if (TJSCALED (shorter, sf[i]) < target)
      continue;
    if (sf[i].num * best.denom < best.num * sf[i].denom)
      best = sf[i];
  }
  return best;
}

static void
usage (void)
{
  fprintf (stderr, "usage: tj-decode-bench [--full | --pow2 | --scale N/D] "
      "[--target S] [--rounds R] [--fast] FOLDER\n"
      "  --full      decode at full size (default: DCT-scaled for S)\n"
      "  --pow2      DCT-scaled, but only by 1/1, 1/2, 1/4 or 1/8\n"
      "  --scale N/D every image at this libjpeg-turbo factor\n"
      "  --target S  shorter side the scaled decode must keep (256)\n"
      "  --rounds R  passes over all files (3)\n"
      "  --fast      TJFLAG_FASTDCT | TJFLAG_FASTUPSAMPLE (default: "
      "accurate)\n");
}

int
main (int argc, char **argv)
{
  int full = 0, pow2 = 0, target = 256, rounds = 3, flags = 0, i, r;
  const char *dir = NULL;
  file_list list = { 0 };
  unsigned char *rgb = NULL;
  size_t rgb_cap = 0, bytes = 0;
  double t0, read_s, decode_s, out_pixels = 0;
  int scale_count[17][17] = { {0} };
  double scale_s[17][17] = { {0} };
  double t1;
  tjhandle tj;
  tjscalingfactor forced = { 0, 0 };

  for (i = 1; i < argc; i++) {
    if (!strcmp (argv[i], "--full"))
      full = 1;
    else if (!strcmp (argv[i], "--scale") && i + 1 < argc) {
      if (sscanf (argv[++i], "%d/%d", &forced.num, &forced.denom) != 2
          || forced.num < 1 || forced.denom < 1 || forced.num > 16
          || forced.denom > 16) {
        usage ();
        return 2;
      }
    } else if (!strcmp (argv[i], "--pow2"))
      pow2 = 1;
    else if (!strcmp (argv[i], "--fast"))
      flags = TJFLAG_FASTDCT | TJFLAG_FASTUPSAMPLE;
    else if (!strcmp (argv[i], "--target") && i + 1 < argc)
      target = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--rounds") && i + 1 < argc)
      rounds = atoi (argv[++i]);
    else if (argv[i][0] != '-' && !dir)
      dir = argv[i];
    else {
      usage ();
      return 2;
    }
  }
  if (!dir || target < 1 || rounds < 1) {
    usage ();
    return 2;
  }

  if (list_jpegs (dir, &list) < 0)
    return 1;
  if (list.n == 0) {
    fprintf (stderr, "tj-decode-bench: no .JPEG/.jpg files under %s\n", dir);
    return 1;
  }
  qsort (list.files, list.n, sizeof (jpeg_file), path_cmp);

  t0 = now_s ();
  for (size_t k = 0; k < list.n; k++) {
    if (read_file (&list.files[k]) < 0) {
      fprintf (stderr, "tj-decode-bench: cannot read %s\n", list.files[k].path);
      return 1;
    }
    bytes += list.files[k].size;
  }
  read_s = now_s () - t0;

  tj = tjInitDecompress ();
  if (!tj) {
    fprintf (stderr, "tj-decode-bench: tjInitDecompress: %s\n",
        tjGetErrorStr2 (NULL));
    return 1;
  }

  decode_s = 0;
  for (r = 0; r < rounds; r++) {
    t0 = now_s ();
    for (size_t k = 0; k < list.n; k++) {
      jpeg_file *f = &list.files[k];
      int w, h, sub, cs, ow, oh;
      tjscalingfactor sf = { 1, 1 };

      if (tjDecompressHeader3 (tj, f->data, f->size, &w, &h, &sub, &cs) < 0)
        goto decode_error;
      if (forced.num)
        sf = forced;
      else if (!full)
        sf = choose_scale (w, h, target, pow2);
      ow = TJSCALED (w, sf);
      oh = TJSCALED (h, sf);
      if ((size_t) ow * oh * 3 > rgb_cap) {
        rgb_cap = (size_t) ow * oh * 3;
        free (rgb);
        rgb = malloc (rgb_cap);
      }
      t1 = now_s ();
      if (tjDecompress2 (tj, f->data, f->size, rgb, ow, 0, oh, TJPF_RGB,
              flags) < 0)
        goto decode_error;
      if (sf.num <= 16 && sf.denom <= 16) {
        scale_s[sf.num][sf.denom] += now_s () - t1;
        if (r == 0)
          scale_count[sf.num][sf.denom]++;
      }
      if (r == 0)
        out_pixels += (double) ow * oh;
      continue;

    decode_error:
      fprintf (stderr, "tj-decode-bench: %s: %s\n", f->path,
          tjGetErrorStr2 (tj));
      return 1;
    }
    decode_s += now_s () - t0;
  }

  printf ("tj-decode-bench: libjpeg-turbo %s, %s decode to RGB, %s DCT/"
      "upsampling\n", TJ_VERSION_STR,
      forced.num ? "fixed-scale" : full ? "full-size" : pow2 ? "DCT-scaled (1/2^k only)" : "DCT-scaled",
      flags ? "fast" : "accurate");
  printf ("files %zu, %.1f kB mean, read in %.3f s (%.0f files/s, not in the "
      "figure below)\n", list.n, bytes / 1e3 / list.n, read_s,
      list.n / read_s);
  if (!full && !forced.num)
    printf ("scales for shorter side >= %d (images, ms per decode):\n",
        target);
  if (forced.num)
    printf ("scales (images, ms per decode):\n");
  for (int num = 1; (!full || forced.num) && num <= 16; num++)
    for (int den = 1; den <= 16; den++)
      if (scale_count[num][den])
        printf ("  %d/%d  %4d  %.2f ms\n", num, den, scale_count[num][den],
            1e3 * scale_s[num][den] / (scale_count[num][den] * rounds));
  printf ("decoded %zu images x %d rounds in %.3f s, mean output %.0f kpixel\n",
      list.n, rounds, decode_s, out_pixels / list.n / 1e3);
  printf ("images_per_s %.1f\n", list.n * rounds / decode_s);

  tjDestroy (tj);
  free (rgb);
  for (size_t k = 0; k < list.n; k++) {
    free (list.files[k].path);
    free (list.files[k].data);
  }
  free (list.files);
  return 0;
}
