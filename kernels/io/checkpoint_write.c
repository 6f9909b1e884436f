/* Writing safetensors checkpoints: collect named host tensors and string
 * metadata, lay them out as the reference implementation does, and replace
 * the file atomically (temporary file in the same folder, fsync, rename;
 * the temporary files of writers that died are removed first). */
#include "kernels/io/checkpoint.h"
#include "kernels/io/checkpoint_internal.h"
#include "kernels/util/json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  char *name;
  ax_ckpt_dtype dtype;
  ax_ckpt_shape shape;
  const void *data;
  uint64_t bytes;
} wtensor;

typedef struct {
  char *key, *value;
} wmeta;

struct ax_checkpoint_writer {
  wtensor *tensors;
  size_t n_tensors, cap_tensors;
  wmeta *meta;
  size_t n_meta, cap_meta;
  ax_ckpt_status status;        /* first failure of add/set_meta */
  char error[256];
};

ax_checkpoint_writer *
ax_checkpoint_writer_new (void)
{
  return calloc (1, sizeof (ax_checkpoint_writer));
}

void
ax_checkpoint_writer_free (ax_checkpoint_writer *w)
{
  if (!w)
    return;
  for (size_t i = 0; i < w->n_tensors; i++)
    free (w->tensors[i].name);
  for (size_t i = 0; i < w->n_meta; i++) {
    free (w->meta[i].key);
    free (w->meta[i].value);
  }
  free (w->tensors);
  free (w->meta);
  free (w);
}

const char *
ax_checkpoint_writer_error (const ax_checkpoint_writer *w)
{
  return w ? w->error : "no writer";
}

/* Remembers the first failure; returns `status`. */
static ax_ckpt_status
writer_fail (ax_checkpoint_writer *w, ax_ckpt_status status,
    const char *fmt, ...)
{
  if (w->status == AX_CKPT_OK) {
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (w->error, sizeof w->error, fmt, ap);
    va_end (ap);
    w->status = status;
  }
  return status;
}

/* Room for one more element in a growing array. */
static int
reserve (void **items, size_t *cap, size_t n, size_t size)
{
  if (n < *cap)
    return 1;
  size_t ncap = *cap ? *cap * 2 : 16;
  void *p = realloc (*items, ncap * size);
  if (!p)
    return 0;
  *items = p;
  *cap = ncap;
  return 1;
}

static const char *
name_problem (const ax_checkpoint_writer *w, const char *name)
{
  if (!name || !name[0])
    return "is empty";
  if (!ax_utf8_valid (name, strlen (name)))
    return "is not valid UTF-8";
  if (strcmp (name, "__metadata__") == 0)
    return "is reserved for the metadata";
  for (size_t i = 0; i < w->n_tensors; i++)
    if (strcmp (w->tensors[i].name, name) == 0)
      return "is already taken";
  return NULL;
}

ax_ckpt_status
ax_checkpoint_writer_add (ax_checkpoint_writer *w, const char *name,
    ax_ckpt_dtype dtype, const ax_ckpt_shape *shape, const void *data)
{
  const char *problem;
  uint64_t bytes = 0;
  if (!w)
    return AX_CKPT_ERR_INVALID_ARG;
  if ((problem = name_problem (w, name)))
    return writer_fail (w, AX_CKPT_ERR_INVALID_ARG, "tensor name \"%.100s\" %s",
        name ? name : "(null)", problem);
  if (!ax_ckpt_dtype_name (dtype) || !shape
      || !ax_ckpt_shape_bytes (shape, dtype, &bytes) || bytes > SIZE_MAX
      || (!data && bytes > 0))
    return writer_fail (w, AX_CKPT_ERR_INVALID_ARG, "tensor \"%.100s\": bad "
        "dtype, shape (at most %d dimensions >= 0) or NULL data", name,
        AX_CKPT_MAX_DIMS);
  if (!reserve ((void **) &w->tensors, &w->cap_tensors, w->n_tensors,
          sizeof *w->tensors))
    return writer_fail (w, AX_CKPT_ERR_NO_MEMORY, "out of memory");
  wtensor *t = &w->tensors[w->n_tensors];
  if (!(t->name = strdup (name)))
    return writer_fail (w, AX_CKPT_ERR_NO_MEMORY, "out of memory");
  t->dtype = dtype;
  t->shape = *shape;
  t->data = data;
  t->bytes = bytes;
  w->n_tensors++;
  return AX_CKPT_OK;
}

ax_ckpt_status
ax_checkpoint_writer_set_meta (ax_checkpoint_writer *w, const char *key,
    const char *value)
{
  if (!w)
    return AX_CKPT_ERR_INVALID_ARG;
  if (!key || !value || !ax_utf8_valid (key, strlen (key))
      || !ax_utf8_valid (value, strlen (value)))
    return writer_fail (w, AX_CKPT_ERR_INVALID_ARG, "metadata \"%.100s\": "
        "key and value must be UTF-8 strings", key ? key : "(null)");
  char *copy = strdup (value);
  size_t i = 0;
  while (i < w->n_meta && strcmp (w->meta[i].key, key) != 0)
    i++;
  if (copy && i == w->n_meta && reserve ((void **) &w->meta, &w->cap_meta,
          w->n_meta, sizeof *w->meta) && (w->meta[i].key = strdup (key))) {
    w->meta[i].value = NULL;
    w->n_meta++;
  }
  if (!copy || i == w->n_meta) {
    free (copy);
    return writer_fail (w, AX_CKPT_ERR_NO_MEMORY, "out of memory");
  }
  free (w->meta[i].value);
  w->meta[i].value = copy;
  return AX_CKPT_OK;
}

/* The reference layout: larger element types first, then by name. */
static int
cmp_layout (const void *a, const void *b)
{
  const wtensor *x = *(const wtensor *const *) a, *y = *(const wtensor *const *) b;
  if (x->dtype != y->dtype)
    return x->dtype > y->dtype ? -1 : 1;
  return strcmp (x->name, y->name);
}

static int
cmp_wmeta (const void *a, const void *b)
{
  return strcmp (((const wmeta *) a)->key, ((const wmeta *) b)->key);
}

/* The JSON header, compact like serde_json's, metadata keys sorted,
 * tensors in layout order, padded with spaces to a multiple of 8. */
static void
build_header (ax_checkpoint_writer *w, wtensor **order, ax_strbuf *b)
{
  ax_json_writer j = { 0 };
  ax_json_begin_object (&j);
  if (w->n_meta) {
    qsort (w->meta, w->n_meta, sizeof *w->meta, cmp_wmeta);
    ax_json_key (&j, "__metadata__");
    ax_json_begin_object (&j);
    for (size_t i = 0; i < w->n_meta; i++) {
      ax_json_key (&j, w->meta[i].key);
      ax_json_string (&j, w->meta[i].value);
    }
    ax_json_end_object (&j);
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < w->n_tensors; i++) {
    const wtensor *t = order[i];
    ax_json_key (&j, t->name);
    ax_json_begin_object (&j);
    ax_json_key (&j, "dtype");
    ax_json_string (&j, ax_ckpt_dtype_name (t->dtype));
    ax_json_key (&j, "shape");
    ax_json_begin_array (&j);
    for (int d = 0; d < t->shape.ndim; d++)
      ax_json_int (&j, t->shape.dim[d]);
    ax_json_end_array (&j);
    ax_json_key (&j, "data_offsets");
    ax_json_begin_array (&j);
    ax_json_uint (&j, offset);
    ax_json_uint (&j, offset + t->bytes);
    ax_json_end_array (&j);
    ax_json_end_object (&j);
    offset += t->bytes;
  }
  ax_json_end_object (&j);
  *b = j.out;
  while (!b->failed && b->len % 8 != 0)
    ax_strbuf_puts (b, " ");
}

/* The PID of `name` when it is exactly "<base>.tmp-PID-N" (create_temp's
 * pattern: decimal PID > 0 and counter, nothing after), else 0. */
static long
temp_file_pid (const char *name, const char *base)
{
  size_t n = strlen (base);
  const char *p;
  long pid = 0;

  if (strncmp (name, base, n) != 0 || strncmp (name + n, ".tmp-", 5) != 0)
    return 0;
  p = name + n + 5;
  if (*p < '1' || *p > '9')
    return 0;
  for (; *p >= '0' && *p <= '9'; p++) {
    if (pid > 100000000L)       /* above any pid_t: not ours */
      return 0;
    pid = pid * 10 + (*p - '0');
  }
  if (*p++ != '-' || *p < '0' || *p > '9')
    return 0;
  while (*p >= '0' && *p <= '9')
    p++;
  return *p == '\0' ? pid : 0;
}

/* Removes the temporary files of writers that died (SIGKILL, power) before
 * renaming them over `path`: regular files beside it named by
 * create_temp's pattern whose process no longer exists (kill (pid, 0)
 * fails with ESRCH). A live writer's file, this process's, and anything
 * else are left alone. Best effort: a file that cannot be removed stays.
 * (A PID reused by an unrelated live process keeps its file until that
 * process ends.) */
static void
remove_stale_temps (const char *path)
{
  char *dir = strdup (path);
  const char *base;
  char *slash;
  DIR *d;
  struct dirent *e;

  if (!dir)
    return;
  slash = strrchr (dir, '/');
  base = slash ? slash + 1 : dir;
  if (slash == dir)
    d = opendir ("/");
  else if (slash) {
    *slash = '\0';
    d = opendir (dir);
  } else
    d = opendir (".");
  if (!d) {
    free (dir);
    return;
  }
  size_t dir_len = slash ? strlen (dir) : 0;
  while ((e = readdir (d))) {
    long pid = temp_file_pid (e->d_name, base);
    struct stat st;
    char *full;

    if (pid <= 0 || pid == (long) getpid ()
        || kill ((pid_t) pid, 0) == 0 || errno != ESRCH)
      continue;
    if (!(full = malloc (dir_len + strlen (e->d_name) + 2)))
      break;
    if (slash)
      sprintf (full, "%s/%s", slash == dir ? "" : dir, e->d_name);
    else
      strcpy (full, e->d_name);
    if (lstat (full, &st) == 0 && S_ISREG (st.st_mode))
      (void) unlink (full);     /* best effort: it may be gone already */
    free (full);
  }
  closedir (d);
  free (dir);
}

/* A new file next to `path` that nobody else has, mode 0666 & ~umask. */
static int
create_temp (const char *path, char **tmp)
{
  static unsigned counter;
  size_t n = strlen (path) + 48;
  if (!(*tmp = malloc (n))) {
    errno = ENOMEM;
    return -1;
  }
  for (int attempt = 0; attempt < 100; attempt++) {
    snprintf (*tmp, n, "%s.tmp-%ld-%u", path, (long) getpid (),
        __atomic_fetch_add (&counter, 1, __ATOMIC_RELAXED));
    int fd = open (*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST)
      return fd;
  }
  return -1;
}

/* Length, header and data through stdio, then flushed and synced. On
 * failure errno says why and `*step` what was being done. */
static int
write_contents (FILE *f, const ax_strbuf *header, wtensor **order, size_t n,
    const char **step)
{
  unsigned char len[8];
  for (int i = 0; i < 8; i++)
    len[i] = (unsigned char) ((uint64_t) header->len >> (8 * i));
  *step = "writing the header";
  if (fwrite (len, 1, 8, f) != 8
      || fwrite (header->data, 1, header->len, f) != header->len)
    return 0;
  *step = "writing tensor data";
  for (size_t i = 0; i < n; i++)
    if (order[i]->bytes
        && fwrite (order[i]->data, 1, order[i]->bytes, f) != order[i]->bytes)
      return 0;
  *step = "flushing";
  if (fflush (f) != 0)
    return 0;
  *step = "syncing to disk";
  return fsync (fileno (f)) == 0;
}

/* fsync of the folder holding `path`, so that the rename itself is on disk.
 * File systems that cannot sync folders (EINVAL) are not an error. */
static int
sync_folder (const char *path)
{
  char *dir = strdup (path);
  if (!dir)
    return 0;
  char *slash = strrchr (dir, '/');
  if (slash)
    slash[slash == dir ? 1 : 0] = '\0';
  int fd = open (slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int ok = fd >= 0 && (fsync (fd) == 0 || errno == EINVAL);
  int saved = errno;
  if (fd >= 0)
    close (fd);
  free (dir);
  errno = saved;
  return ok;
}

/* Temporary file, contents, close, rename; the temporary file is removed
 * on every failure. */
static ax_ckpt_status
write_atomic (const char *path, const ax_strbuf *header, wtensor **order,
    size_t n, char *err, size_t err_len)
{
  char *tmp = NULL;
  const char *step = "creating a temporary file next to it";
  FILE *f = NULL;
  int fd;

  remove_stale_temps (path);
  fd = create_temp (path, &tmp);
  int ok = fd >= 0, saved = errno;
  if (ok && !(f = fdopen (fd, "wb"))) {
    saved = errno;
    close (fd);
    ok = 0;
  }
  if (ok && !write_contents (f, header, order, n, &step)) {
    saved = errno;
    ok = 0;
  }
  if (f && fclose (f) != 0 && ok) {
    saved = errno;
    step = "closing";
    ok = 0;
  }
  if (ok && rename (tmp, path) != 0) {
    saved = errno;
    step = "renaming the temporary file over it";
    ok = 0;
  }
  if (!ok) {
    int removed = fd < 0 || unlink (tmp) == 0;
    ax_ckpt_set_error (err, err_len, "%s: %s failed: %s%s%s", path, step,
        strerror (saved), removed ? "" : "; could not remove ",
        removed ? "" : tmp);
  } else if (!sync_folder (path)) {
    ax_ckpt_set_error (err, err_len, "%s: written and renamed, but syncing its "
        "folder failed: %s", path, strerror (errno));
    ok = 0;
  }
  free (tmp);
  return ok ? AX_CKPT_OK : AX_CKPT_ERR_IO;
}

ax_ckpt_status
ax_checkpoint_writer_write (ax_checkpoint_writer *w, const char *path,
    char *err, size_t err_len)
{
  ax_ckpt_set_error (err, err_len, "%s", "");
  if (!w || !path || !path[0]) {
    ax_ckpt_set_error (err, err_len, "ax_checkpoint_writer_write: no writer "
        "or no path");
    return AX_CKPT_ERR_INVALID_ARG;
  }
  if (w->status != AX_CKPT_OK) {
    ax_ckpt_set_error (err, err_len, "%s: not written: %s", path, w->error);
    return w->status;
  }
  ax_strbuf header = { 0 };
  wtensor **order = malloc ((w->n_tensors + 1) * sizeof *order);
  for (size_t i = 0; order && i < w->n_tensors; i++)
    order[i] = &w->tensors[i];
  if (order) {
    qsort (order, w->n_tensors, sizeof *order, cmp_layout);
    build_header (w, order, &header);
  }
  ax_ckpt_status s = AX_CKPT_OK;
  if (!order || header.failed) {
    ax_ckpt_set_error (err, err_len, "%s: out of memory", path);
    s = AX_CKPT_ERR_NO_MEMORY;
  } else if (header.len > AX_CKPT_MAX_HEADER) {
    ax_ckpt_set_error (err, err_len, "%s: header of %zu bytes is above the "
        "%llu-byte limit of safetensors readers", path, header.len,
        AX_CKPT_MAX_HEADER);
    s = AX_CKPT_ERR_INVALID_ARG;
  } else {
    s = write_atomic (path, &header, order, w->n_tensors, err, err_len);
  }
  ax_strbuf_free (&header);
  free (order);
  return s;
}
