/* Writes Fashion-MNIST (the idx files of Debian's dataset-fashion-mnist) as
 * an ImageNet-layout folder of grayscale JPEGs: OUT/train/<class>/N.jpg and
 * OUT/test/<class>/N.jpg, so that the real decode path is exercised.
 * Usage: fashion-mnist-to-jpeg [--limit-train N] [--limit-test N] SRC_DIR OUT_DIR */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <zlib.h>

/* Folder names keep the original label order when sorted by name. */
static const char *class_names[10] = {
  "0-tshirt-top", "1-trouser", "2-pullover", "3-dress", "4-coat",
  "5-sandal", "6-shirt", "7-sneaker", "8-bag", "9-ankle-boot"
};

static unsigned char *
read_gz (const char *path, size_t *len)
{
  gzFile f = gzopen (path, "rb");
  size_t cap = 1 << 20, n = 0;
  unsigned char *buf;
  int r;

  if (f == NULL) {
    fprintf (stderr, "cannot open %s: %s\n", path, strerror (errno));
    return NULL;
  }
  buf = malloc (cap);
  while (buf != NULL && (r = gzread (f, buf + n, (unsigned) (cap - n))) > 0) {
    n += (size_t) r;
    if (n == cap) {
      unsigned char *bigger = realloc (buf, cap *= 2);
      if (bigger == NULL)
        free (buf);
      buf = bigger;
    }
  }
  if (buf == NULL || r < 0) {
    fprintf (stderr, "cannot read %s\n", path);
    free (buf);
    gzclose (f);
    return NULL;
  }
  gzclose (f);
  *len = n;
  return buf;
}

static unsigned
be32 (const unsigned char *p)
{
  return ((unsigned) p[0] << 24) | ((unsigned) p[1] << 16) |
      ((unsigned) p[2] << 8) | p[3];
}

static int
make_dir (const char *path)
{
  if (mkdir (path, 0755) != 0 && errno != EEXIST) {
    fprintf (stderr, "cannot create %s: %s\n", path, strerror (errno));
    return -1;
  }
  return 0;
}

static int
convert (tjhandle tj, const char *src, const char *prefix, const char *out,
    const char *split, long limit)
{
  char path[4096];
  size_t ilen, llen;
  unsigned char *images, *labels;
  int rc = -1;

  snprintf (path, sizeof path, "%s/%s-images-idx3-ubyte.gz", src, prefix);
  images = read_gz (path, &ilen);
  snprintf (path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", src, prefix);
  labels = read_gz (path, &llen);
  if (images == NULL || labels == NULL)
    goto out;
  if (ilen < 16 || llen < 8 || be32 (images) != 2051 || be32 (labels) != 2049) {
    fprintf (stderr, "%s: not idx image/label files\n", prefix);
    goto out;
  }
  unsigned n = be32 (images + 4), h = be32 (images + 8), w = be32 (images + 12);
  if (be32 (labels + 4) != n || ilen < 16 + (size_t) n * h * w || llen < 8 + n) {
    fprintf (stderr, "%s: truncated idx files\n", prefix);
    goto out;
  }
  if (limit > 0 && (unsigned long) limit < n)
    n = (unsigned) limit;

  snprintf (path, sizeof path, "%s/%s", out, split);
  if (make_dir (path) != 0)
    goto out;
  for (int c = 0; c < 10; c++) {
    snprintf (path, sizeof path, "%s/%s/%s", out, split, class_names[c]);
    if (make_dir (path) != 0)
      goto out;
  }
  for (unsigned i = 0; i < n; i++) {
    unsigned char *jpeg = NULL;
    unsigned long jlen = 0;
    unsigned label = labels[8 + i];
    FILE *f;

    if (label > 9) {
      fprintf (stderr, "%s: label %u of image %u out of range\n", prefix,
          label, i);
      goto out;
    }
    if (tjCompress2 (tj, images + 16 + (size_t) i * h * w, (int) w, 0,
            (int) h, TJPF_GRAY, &jpeg, &jlen, TJSAMP_GRAY, 95, 0) != 0) {
      fprintf (stderr, "JPEG encoding failed: %s\n", tjGetErrorStr2 (tj));
      goto out;
    }
    snprintf (path, sizeof path, "%s/%s/%s/%05u.jpg", out, split,
        class_names[label], i);
    f = fopen (path, "wb");
    if (f == NULL || fwrite (jpeg, 1, jlen, f) != jlen || fclose (f) != 0) {
      fprintf (stderr, "cannot write %s: %s\n", path, strerror (errno));
      tjFree (jpeg);
      goto out;
    }
    tjFree (jpeg);
  }
  printf ("%s: %u images in %s/%s\n", prefix, n, out, split);
  rc = 0;
out:
  free (images);
  free (labels);
  return rc;
}

int
main (int argc, char **argv)
{
  long limit_train = 0, limit_test = 0;
  int a = 1;
  tjhandle tj;
  int rc;

  while (a + 1 < argc && strncmp (argv[a], "--", 2) == 0) {
    if (strcmp (argv[a], "--limit-train") == 0)
      limit_train = atol (argv[a + 1]);
    else if (strcmp (argv[a], "--limit-test") == 0)
      limit_test = atol (argv[a + 1]);
    else
      break;
    a += 2;
  }
  if (argc - a != 2) {
    fprintf (stderr, "usage: %s [--limit-train N] [--limit-test N] "
        "SRC_DIR OUT_DIR\n(SRC_DIR: /usr/share/datasets/fashion-mnist)\n",
        argv[0]);
    return 2;
  }
  if (make_dir (argv[a + 1]) != 0)
    return 1;
  tj = tjInitCompress ();
  if (tj == NULL) {
    fprintf (stderr, "tjInitCompress failed: %s\n", tjGetErrorStr2 (NULL));
    return 1;
  }
  rc = convert (tj, argv[a], "train", argv[a + 1], "train", limit_train);
  if (rc == 0)
    rc = convert (tj, argv[a], "t10k", argv[a + 1], "test", limit_test);
  tjDestroy (tj);
  return rc == 0 ? 0 : 1;
}
