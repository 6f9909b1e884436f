/* Reading safetensors checkpoints: map the file, parse the JSON header with
 * kernels/util/json.c, validate every entry (dtype, shape against offsets,
 * bounds, overlaps, unique names) before anything is handed out. */
#include "kernels/io/checkpoint.h"
#include "kernels/io/checkpoint_internal.h"
#include "kernels/util/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint data is little-endian and copied as is: port the copies"
#endif

typedef struct {
  const char *key, *value;
} meta_entry;

struct ax_checkpoint {
  char *label;                  /* the path, for messages */
  unsigned char *bytes;         /* the whole file */
  size_t size;
  int mapped;                   /* bytes from mmap (else malloc) */
  const unsigned char *data;    /* the data area, after the header */
  size_t data_len;
  ax_json *header;
  ax_ckpt_tensor *tensors;      /* sorted by name */
  size_t n_tensors;
  meta_entry *meta;             /* sorted by key */
  size_t n_meta;
};

static const struct {
  const char *name;
  size_t size;
} dtypes[AX_CKPT_N_DTYPES] = {
  { "BOOL", 1 }, { "U8", 1 }, { "I8", 1 }, { "F8_E5M2", 1 }, { "F8_E4M3", 1 },
  { "I16", 2 }, { "U16", 2 }, { "F16", 2 }, { "BF16", 2 }, { "I32", 4 },
  { "U32", 4 }, { "F32", 4 }, { "F64", 8 }, { "I64", 8 }, { "U64", 8 },
};

const char *
ax_ckpt_status_str (ax_ckpt_status status)
{
  switch (status) {
    case AX_CKPT_OK: return "success";
    case AX_CKPT_ERR_INVALID_ARG: return "invalid argument";
    case AX_CKPT_ERR_IO: return "input/output error";
    case AX_CKPT_ERR_FORMAT: return "not a valid safetensors file";
    case AX_CKPT_ERR_NOT_FOUND: return "not found";
    case AX_CKPT_ERR_MISMATCH: return "dtype or shape mismatch";
    case AX_CKPT_ERR_NO_MEMORY: return "out of memory";
  }
  return "unknown status";
}

const char *
ax_ckpt_dtype_name (ax_ckpt_dtype dtype)
{
  return (unsigned) dtype < AX_CKPT_N_DTYPES ? dtypes[dtype].name : NULL;
}

size_t
ax_ckpt_dtype_size (ax_ckpt_dtype dtype)
{
  return (unsigned) dtype < AX_CKPT_N_DTYPES ? dtypes[dtype].size : 0;
}

static int
dtype_from_name (const char *name, ax_ckpt_dtype *out)
{
  for (int i = 0; i < AX_CKPT_N_DTYPES; i++)
    if (strcmp (dtypes[i].name, name) == 0) {
      *out = (ax_ckpt_dtype) i;
      return 1;
    }
  return 0;
}

char *
ax_ckpt_shape_str (const ax_ckpt_shape *shape, char *buf, size_t len)
{
  size_t n = 0;
  if (len == 0)
    return buf;
  buf[0] = '\0';
  n += snprintf (buf, len, "[");
  for (int i = 0; i < shape->ndim && i < AX_CKPT_MAX_DIMS && n < len; i++)
    n += snprintf (buf + n, len - n, "%s%lld", i ? "," : "",
        (long long) shape->dim[i]);
  if (n < len)
    snprintf (buf + n, len - n, "]");
  return buf;
}

int
ax_ckpt_shape_bytes (const ax_ckpt_shape *shape, ax_ckpt_dtype dtype,
    uint64_t *bytes)
{
  uint64_t n = ax_ckpt_dtype_size (dtype);
  if (n == 0 || shape->ndim < 0 || shape->ndim > AX_CKPT_MAX_DIMS)
    return 0;
  for (int i = 0; i < shape->ndim; i++)
    if (shape->dim[i] < 0
        || __builtin_mul_overflow (n, (uint64_t) shape->dim[i], &n))
      return 0;
  *bytes = n;
  return 1;
}

void
ax_ckpt_set_error (char *err, size_t err_len, const char *fmt, ...)
{
  if (!err || err_len == 0)
    return;
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (err, err_len, fmt, ap);
  va_end (ap);
}

void
ax_ckpt_u64_to_hex (const uint64_t *words, int n, char *out)
{
  for (int i = 0; i < n; i++)
    snprintf (out + 16 * i, 17, "%016llx", (unsigned long long) words[i]);
  out[16 * (n > 0 ? n : 0)] = '\0';
}

int
ax_ckpt_hex_to_u64 (const char *text, uint64_t *words, int n)
{
  if (!text || n < 0 || strlen (text) != 16 * (size_t) n)
    return 0;
  for (int i = 0; i < n; i++) {
    uint64_t v = 0;
    for (int j = 0; j < 16; j++) {
      char c = text[16 * i + j];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
          c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0)
        return 0;
      v = (v << 4) | (uint64_t) d;
    }
    words[i] = v;
  }
  return 1;
}

/* ---- reading: the file ---- */

static ax_ckpt_status
read_whole (int fd, ax_checkpoint *ck, char *err, size_t err_len)
{
  if (!(ck->bytes = malloc (ck->size))) {
    ax_ckpt_set_error (err, err_len, "%s: out of memory for %zu bytes",
        ck->label, ck->size);
    return AX_CKPT_ERR_NO_MEMORY;
  }
  for (size_t got = 0; got < ck->size;) {
    ssize_t r = read (fd, ck->bytes + got, ck->size - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      ax_ckpt_set_error (err, err_len, "%s: read failed: %s", ck->label,
          r < 0 ? strerror (errno) : "the file shrank while being read");
      return AX_CKPT_ERR_IO;
    }
    got += (size_t) r;
  }
  return AX_CKPT_OK;
}

/* Maps the file (or reads it where mapping is refused). */
static ax_ckpt_status
load_file (const char *path, ax_checkpoint *ck, char *err, size_t err_len)
{
  struct stat st;
  ax_ckpt_status s = AX_CKPT_OK;
  /* O_NONBLOCK: a FIFO is refused below instead of blocking the open. */
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    ax_ckpt_set_error (err, err_len, "%s: cannot open: %s", path,
        strerror (errno));
    return AX_CKPT_ERR_IO;
  }
  int stat_ok = fstat (fd, &st) == 0;
  if (!stat_ok || !S_ISREG (st.st_mode)) {
    ax_ckpt_set_error (err, err_len, "%s: %s", path, stat_ok ?
        "not a regular file" : strerror (errno));
    close (fd);
    return AX_CKPT_ERR_IO;
  }
  ck->size = (size_t) st.st_size;
  if (ck->size > 0) {
    void *m = mmap (NULL, ck->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m != MAP_FAILED) {
      ck->bytes = m;
      ck->mapped = 1;
    } else {
      s = read_whole (fd, ck, err, err_len);
    }
  }
  close (fd);     /* read-only: nothing to lose; the mapping stays valid */
  return s;
}

/* ---- reading: the header ---- */

static ax_ckpt_status
parse_length (ax_checkpoint *ck, uint64_t *n, char *err, size_t err_len)
{
  if (ck->size < 8) {
    ax_ckpt_set_error (err, err_len, "%s: truncated: %zu bytes, shorter than "
        "the 8-byte header length", ck->label, ck->size);
    return AX_CKPT_ERR_FORMAT;
  }
  *n = 0;
  for (int i = 7; i >= 0; i--)
    *n = (*n << 8) | ck->bytes[i];
  if (*n == 0 || *n > AX_CKPT_MAX_HEADER) {
    if (*n)
      ax_ckpt_set_error (err, err_len, "%s: header length %llu bytes is above "
          "this reader's limit of %llu bytes (AX_CKPT_MAX_HEADER): not a "
          "checkpoint of this program, or corrupt", ck->label,
          (unsigned long long) *n, (unsigned long long) AX_CKPT_MAX_HEADER);
    else
      ax_ckpt_set_error (err, err_len, "%s: corrupt: header length is zero "
          "(an empty header is \"{}\" padded to 8 bytes)", ck->label);
    return AX_CKPT_ERR_FORMAT;
  }
  if (*n > ck->size - 8) {
    ax_ckpt_set_error (err, err_len, "%s: truncated: header says %llu bytes "
        "of header, file has %zu after the length", ck->label,
        (unsigned long long) *n, ck->size - 8);
    return AX_CKPT_ERR_FORMAT;
  }
  ck->data = ck->bytes + 8 + *n;
  ck->data_len = ck->size - 8 - (size_t) *n;
  return AX_CKPT_OK;
}

/* An array of non-negative integers, at most `max` of them. */
static int
int_array (const ax_json *v, int64_t *out, int max, int *count)
{
  if (!v || v->type != AX_JSON_ARRAY || v->count > (size_t) max)
    return 0;
  for (size_t i = 0; i < v->count; i++) {
    if (v->items[i].type != AX_JSON_NUMBER || !v->items[i].is_integer
        || v->items[i].integer < 0)
      return 0;
    out[i] = v->items[i].integer;
  }
  *count = (int) v->count;
  return 1;
}

/* Only the three known members, each once; NULL when so. */
static const char *
entry_members_problem (const ax_json *v)
{
  static const char *known[] = { "dtype", "shape", "data_offsets" };
  int seen[3] = { 0, 0, 0 };
  if (v->type != AX_JSON_OBJECT)
    return "is not an object";
  for (size_t i = 0; i < v->count; i++) {
    int k = 0;
    while (k < 3 && strcmp (v->keys[i], known[k]) != 0)
      k++;
    if (k == 3)
      return "has an unknown member (only dtype, shape, data_offsets)";
    seen[k] = 1;                /* (the JSON reader refuses a key twice) */
  }
  return seen[0] && seen[1] && seen[2] ? NULL :
      "lacks dtype, shape or data_offsets";
}

/* One tensor entry; offsets are checked against the data area later. */
static ax_ckpt_status
parse_entry (ax_checkpoint *ck, const char *name, const ax_json *v,
    ax_ckpt_tensor *t, uint64_t off[2], char *err, size_t err_len)
{
  const char *what = entry_members_problem (v);
  const ax_json *dt = ax_json_get (v, "dtype");
  int64_t o[2];
  int n_off = 0;
  uint64_t bytes = 0;
  t->name = name;
  if (!what && dt->type != AX_JSON_STRING)
    what = "has a dtype that is not a string";
  if (!what && !dtype_from_name (dt->string, &t->dtype)) {
    ax_ckpt_set_error (err, err_len, "%s: tensor \"%s\" has an unknown dtype "
        "\"%.32s\"", ck->label, name, dt->string);
    return AX_CKPT_ERR_FORMAT;
  }
  if (!what && !int_array (ax_json_get (v, "shape"), t->shape.dim,
          AX_CKPT_MAX_DIMS, &t->shape.ndim))
    what = "has a bad shape (at most 8 non-negative integers)";
  if (!what && (!int_array (ax_json_get (v, "data_offsets"), o, 2, &n_off)
          || n_off != 2 || o[0] > o[1]))
    what = "has bad data_offsets (need [begin, end] with begin <= end)";
  if (!what && (!ax_ckpt_shape_bytes (&t->shape, t->dtype, &bytes)
          || bytes != (uint64_t) (o[1] - o[0])))
    what = "has a shape and dtype that do not match its data_offsets";
  if (what) {
    ax_ckpt_set_error (err, err_len, "%s: tensor \"%s\" %s", ck->label, name,
        what);
    return AX_CKPT_ERR_FORMAT;
  }
  off[0] = (uint64_t) o[0];
  off[1] = (uint64_t) o[1];
  t->bytes = (size_t) bytes;
  return AX_CKPT_OK;
}

static ax_ckpt_status
parse_meta (ax_checkpoint *ck, const ax_json *v, char *err, size_t err_len)
{
  if (v->type != AX_JSON_OBJECT) {
    ax_ckpt_set_error (err, err_len, "%s: __metadata__ is not an object",
        ck->label);
    return AX_CKPT_ERR_FORMAT;
  }
  if (!(ck->meta = calloc (v->count + 1, sizeof *ck->meta))) {
    ax_ckpt_set_error (err, err_len, "%s: out of memory", ck->label);
    return AX_CKPT_ERR_NO_MEMORY;
  }
  for (size_t i = 0; i < v->count; i++) {
    if (v->items[i].type != AX_JSON_STRING) {
      ax_ckpt_set_error (err, err_len, "%s: metadata \"%s\" is not a string "
          "(safetensors metadata maps strings to strings)", ck->label,
          v->keys[i]);
      return AX_CKPT_ERR_FORMAT;
    }
    ck->meta[i].key = v->keys[i];
    ck->meta[i].value = v->items[i].string;
  }
  ck->n_meta = v->count;
  return AX_CKPT_OK;
}

typedef struct {
  uint64_t begin, end;
  const char *name;
  size_t index;                 /* in ck->tensors before sorting by name */
} extent;

static int
cmp_extent (const void *a, const void *b)
{
  const extent *x = a, *y = b;
  return x->begin != y->begin ? (x->begin < y->begin ? -1 : 1) :
      (x->end < y->end ? -1 : x->end > y->end);
}

/* Every tensor inside the data area, none overlapping, nothing after the
 * last one (the reference reader refuses such files too). */
static ax_ckpt_status
check_extents (ax_checkpoint *ck, extent *ext, size_t n, char *err,
    size_t err_len)
{
  uint64_t end = 0;
  const char *last = NULL;      /* the tensor that reaches `end` */
  qsort (ext, n, sizeof *ext, cmp_extent);
  for (size_t i = 0; i < n; i++) {
    if (ext[i].begin < end && ext[i].begin < ext[i].end) {
      ax_ckpt_set_error (err, err_len, "%s: tensors \"%s\" and \"%s\" overlap "
          "in the data area", ck->label, last, ext[i].name);
      return AX_CKPT_ERR_FORMAT;
    }
    if (ext[i].end > end) {
      end = ext[i].end;
      last = ext[i].name;
    }
  }
  if (end != ck->data_len) {
    ax_ckpt_set_error (err, err_len, end > ck->data_len ? "%s: truncated: "
        "header says %llu bytes of data, file has %zu" : "%s: corrupt: header "
        "says %llu bytes of data, file has %zu", ck->label,
        (unsigned long long) end, ck->data_len);
    return AX_CKPT_ERR_FORMAT;
  }
  return AX_CKPT_OK;
}

static int
cmp_tensor (const void *a, const void *b)
{
  return strcmp (((const ax_ckpt_tensor *) a)->name,
      ((const ax_ckpt_tensor *) b)->name);
}

static int
cmp_meta (const void *a, const void *b)
{
  return strcmp (((const meta_entry *) a)->key, ((const meta_entry *) b)->key);
}

/* Sorts tensors by name and metadata by key (for lookups by bsearch);
 * no name is there twice: the JSON reader refuses a key twice. */
static void
sort_entries (ax_checkpoint *ck)
{
  qsort (ck->tensors, ck->n_tensors, sizeof *ck->tensors, cmp_tensor);
  if (ck->n_meta)
    qsort (ck->meta, ck->n_meta, sizeof *ck->meta, cmp_meta);
}

/* The JSON header into tensors and metadata, all validated. */
static ax_ckpt_status
parse_header (ax_checkpoint *ck, uint64_t n, char *err, size_t err_len)
{
  char jerr[160];
  ax_ckpt_status s = AX_CKPT_OK;
  ck->header = ax_json_parse ((const char *) ck->bytes + 8, n, jerr, sizeof jerr);
  if (!ck->header || ck->header->type != AX_JSON_OBJECT) {
    ax_ckpt_set_error (err, err_len, "%s: corrupt header: %s", ck->label,
        ck->header ? "not a JSON object" : jerr);
    return AX_CKPT_ERR_FORMAT;
  }
  const ax_json *h = ck->header;
  extent *ext = calloc (h->count + 1, sizeof *ext);
  ck->tensors = calloc (h->count + 1, sizeof *ck->tensors);
  if (!ext || !ck->tensors) {
    ax_ckpt_set_error (err, err_len, "%s: out of memory", ck->label);
    s = AX_CKPT_ERR_NO_MEMORY;
  }
  for (size_t i = 0; s == AX_CKPT_OK && i < h->count; i++) {
    uint64_t off[2];
    ax_ckpt_tensor *t = &ck->tensors[ck->n_tensors];
    if (strcmp (h->keys[i], "__metadata__") == 0) {
      s = parse_meta (ck, &h->items[i], err, err_len);
      continue;
    }
    s = parse_entry (ck, h->keys[i], &h->items[i], t, off, err, err_len);
    if (s == AX_CKPT_OK)
      ext[ck->n_tensors] = (extent) { off[0], off[1], t->name, ck->n_tensors };
    ck->n_tensors++;
  }
  if (s == AX_CKPT_OK)
    s = check_extents (ck, ext, ck->n_tensors, err, err_len);
  for (size_t i = 0; s == AX_CKPT_OK && i < ck->n_tensors; i++)
    ck->tensors[ext[i].index].data = ck->data + ext[i].begin;
  if (s == AX_CKPT_OK)
    sort_entries (ck);
  free (ext);
  return s;
}

static ax_ckpt_status
open_common (ax_checkpoint *ck, ax_checkpoint **out, char *err, size_t err_len)
{
  uint64_t n = 0;
  ax_ckpt_status s = parse_length (ck, &n, err, err_len);
  if (s == AX_CKPT_OK)
    s = parse_header (ck, n, err, err_len);
  if (s != AX_CKPT_OK) {
    ax_checkpoint_close (ck);
    return s;
  }
  *out = ck;
  return AX_CKPT_OK;
}

static ax_checkpoint *
checkpoint_new (const char *label, char *err, size_t err_len)
{
  ax_checkpoint *ck = calloc (1, sizeof *ck);
  if (ck && !(ck->label = strdup (label))) {
    free (ck);
    ck = NULL;
  }
  if (!ck)
    ax_ckpt_set_error (err, err_len, "%s: out of memory", label);
  return ck;
}

ax_ckpt_status
ax_checkpoint_open (const char *path, ax_checkpoint **out, char *err,
    size_t err_len)
{
  ax_ckpt_set_error (err, err_len, "%s", "");
  if (!path || !out) {
    ax_ckpt_set_error (err, err_len, "ax_checkpoint_open: NULL argument");
    return AX_CKPT_ERR_INVALID_ARG;
  }
  *out = NULL;
  ax_checkpoint *ck = checkpoint_new (path, err, err_len);
  if (!ck)
    return AX_CKPT_ERR_NO_MEMORY;
  ax_ckpt_status s = load_file (path, ck, err, err_len);
  if (s != AX_CKPT_OK) {
    ax_checkpoint_close (ck);
    return s;
  }
  return open_common (ck, out, err, err_len);
}

ax_ckpt_status
ax_checkpoint_open_buffer (const void *bytes, size_t len, const char *label,
    ax_checkpoint **out, char *err, size_t err_len)
{
  ax_ckpt_set_error (err, err_len, "%s", "");
  if ((!bytes && len) || !out) {
    ax_ckpt_set_error (err, err_len, "ax_checkpoint_open_buffer: NULL argument");
    return AX_CKPT_ERR_INVALID_ARG;
  }
  *out = NULL;
  ax_checkpoint *ck = checkpoint_new (label ? label : "(buffer)", err, err_len);
  if (!ck)
    return AX_CKPT_ERR_NO_MEMORY;
  if (len && !(ck->bytes = malloc (len))) {
    ax_ckpt_set_error (err, err_len, "%s: out of memory", ck->label);
    ax_checkpoint_close (ck);
    return AX_CKPT_ERR_NO_MEMORY;
  }
  if (len)
    memcpy (ck->bytes, bytes, len);
  ck->size = len;
  return open_common (ck, out, err, err_len);
}

void
ax_checkpoint_close (ax_checkpoint *ck)
{
  if (!ck)
    return;
  if (ck->mapped)
    munmap (ck->bytes, ck->size);
  else
    free (ck->bytes);
  ax_json_free (ck->header);
  free (ck->tensors);
  free (ck->meta);
  free (ck->label);
  free (ck);
}

/* ---- reading: lookups ---- */

size_t
ax_checkpoint_n_tensors (const ax_checkpoint *ck)
{
  return ck ? ck->n_tensors : 0;
}

const ax_ckpt_tensor *
ax_checkpoint_tensor_at (const ax_checkpoint *ck, size_t i)
{
  return ck && i < ck->n_tensors ? &ck->tensors[i] : NULL;
}

const ax_ckpt_tensor *
ax_checkpoint_find (const ax_checkpoint *ck, const char *name)
{
  ax_ckpt_tensor key = { .name = name };
  if (!ck || !name || ck->n_tensors == 0)
    return NULL;
  return bsearch (&key, ck->tensors, ck->n_tensors, sizeof key, cmp_tensor);
}

ax_ckpt_status
ax_checkpoint_get (const ax_checkpoint *ck, const char *name,
    ax_ckpt_dtype dtype, const ax_ckpt_shape *expected, void *dst,
    char *err, size_t err_len)
{
  char have[160], want[160];
  if (!ck || !name || !expected || !dst) {
    ax_ckpt_set_error (err, err_len, "ax_checkpoint_get: NULL argument");
    return AX_CKPT_ERR_INVALID_ARG;
  }
  const ax_ckpt_tensor *t = ax_checkpoint_find (ck, name);
  if (!t) {
    ax_ckpt_set_error (err, err_len, "%s: no tensor \"%s\"", ck->label, name);
    return AX_CKPT_ERR_NOT_FOUND;
  }
  if (t->dtype != dtype) {
    ax_ckpt_set_error (err, err_len, "%s: %s is %s, expected %s", ck->label,
        name, ax_ckpt_dtype_name (t->dtype), ax_ckpt_dtype_name (dtype) ?
        ax_ckpt_dtype_name (dtype) : "(invalid dtype)");
    return AX_CKPT_ERR_MISMATCH;
  }
  int same = t->shape.ndim == expected->ndim;
  for (int i = 0; same && i < t->shape.ndim; i++)
    same = t->shape.dim[i] == expected->dim[i];
  if (!same) {
    ax_ckpt_set_error (err, err_len, "%s: %s has shape %s, expected %s",
        ck->label, name, ax_ckpt_shape_str (&t->shape, have, sizeof have),
        ax_ckpt_shape_str (expected, want, sizeof want));
    return AX_CKPT_ERR_MISMATCH;
  }
  if (t->bytes)
    memcpy (dst, t->data, t->bytes);
  return AX_CKPT_OK;
}

ax_ckpt_status
ax_checkpoint_get_f32 (const ax_checkpoint *ck, const char *name,
    const ax_ckpt_shape *expected, float *dst, char *err, size_t err_len)
{
  return ax_checkpoint_get (ck, name, AX_CKPT_F32, expected, dst, err, err_len);
}

/* ---- reading: metadata ---- */

size_t
ax_checkpoint_n_meta (const ax_checkpoint *ck)
{
  return ck ? ck->n_meta : 0;
}

const char *
ax_checkpoint_meta_key_at (const ax_checkpoint *ck, size_t i)
{
  return ck && i < ck->n_meta ? ck->meta[i].key : NULL;
}

const char *
ax_checkpoint_meta (const ax_checkpoint *ck, const char *key)
{
  meta_entry k = { key, NULL };
  if (!ck || !key || ck->n_meta == 0)
    return NULL;
  const meta_entry *e = bsearch (&k, ck->meta, ck->n_meta, sizeof k, cmp_meta);
  return e ? e->value : NULL;
}

/* The value of `key`, or NULL with a "no metadata" error. */
static const char *
meta_required (const ax_checkpoint *ck, const char *key, char *err,
    size_t err_len)
{
  const char *v = ax_checkpoint_meta (ck, key);
  if (!v)
    ax_ckpt_set_error (err, err_len, "%s: no metadata \"%s\"",
        ck ? ck->label : "(null)", key ? key : "(null)");
  return v;
}

ax_ckpt_status
ax_checkpoint_meta_i64 (const ax_checkpoint *ck, const char *key,
    int64_t *value, char *err, size_t err_len)
{
  const char *v = meta_required (ck, key, err, err_len);
  if (!v || !value)
    return v ? AX_CKPT_ERR_INVALID_ARG : AX_CKPT_ERR_NOT_FOUND;
  /* A JSON integer without surrounding white space is exactly the
   * decimal syntax wanted here. */
  size_t n = strlen (v);
  ax_json *j = ax_json_parse (v, n, NULL, 0);
  int ok = j && j->type == AX_JSON_NUMBER && j->is_integer
      && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'))
      && v[n - 1] >= '0' && v[n - 1] <= '9';
  if (ok)
    *value = j->integer;
  else
    ax_ckpt_set_error (err, err_len, "%s: metadata %s = \"%.60s\" is not an "
        "integer", ck->label, key, v);
  ax_json_free (j);
  return ok ? AX_CKPT_OK : AX_CKPT_ERR_FORMAT;
}

ax_ckpt_status
ax_checkpoint_meta_strings (const ax_checkpoint *ck, const char *key,
    char ***strings, size_t *count, char *err, size_t err_len)
{
  char jerr[160];
  const char *v = meta_required (ck, key, err, err_len);
  if (!v || !strings || !count)
    return v ? AX_CKPT_ERR_INVALID_ARG : AX_CKPT_ERR_NOT_FOUND;
  *strings = ax_json_parse_string_array (v, strlen (v), count, jerr,
      sizeof jerr);
  if (!*strings) {
    ax_ckpt_set_error (err, err_len, "%s: metadata %s is not a JSON array of "
        "strings: %s", ck->label, key, jerr);
    return AX_CKPT_ERR_FORMAT;
  }
  return AX_CKPT_OK;
}
