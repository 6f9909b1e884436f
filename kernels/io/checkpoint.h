/* Checkpoints as safetensors files: a writer that replaces a file atomically
 * with named host tensors and string metadata, and a reader that maps and
 * validates a file and looks tensors up. Names/keys: docs/checkpoint-format.md. */
#ifndef AX_CHECKPOINT_H
#define AX_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  AX_CKPT_OK = 0,
  AX_CKPT_ERR_INVALID_ARG,  /* NULL pointer, bad name, shape or dtype */
  AX_CKPT_ERR_IO,           /* open, read, write, fsync or rename failed */
  AX_CKPT_ERR_FORMAT,       /* the file is not a valid safetensors file */
  AX_CKPT_ERR_NOT_FOUND,    /* no tensor or metadata key of that name */
  AX_CKPT_ERR_MISMATCH,     /* a tensor's dtype or shape is not the expected one */
  AX_CKPT_ERR_NO_MEMORY,
} ax_ckpt_status;

/* A short English description of a status, never NULL. */
const char *ax_ckpt_status_str (ax_ckpt_status status);

/* The safetensors element types, in the reference implementation's order
 * (which the writer's layout depends on: larger types first). */
typedef enum {
  AX_CKPT_BOOL = 0, AX_CKPT_U8, AX_CKPT_I8, AX_CKPT_F8_E5M2, AX_CKPT_F8_E4M3,
  AX_CKPT_I16, AX_CKPT_U16, AX_CKPT_F16, AX_CKPT_BF16, AX_CKPT_I32,
  AX_CKPT_U32, AX_CKPT_F32, AX_CKPT_F64, AX_CKPT_I64, AX_CKPT_U64,
  AX_CKPT_N_DTYPES
} ax_ckpt_dtype;

/* "F32", "I64", ...; NULL for a value out of range. */
const char *ax_ckpt_dtype_name (ax_ckpt_dtype dtype);
/* Bytes per element; 0 for a value out of range. */
size_t ax_ckpt_dtype_size (ax_ckpt_dtype dtype);

#define AX_CKPT_MAX_DIMS 8

/* A shape in PyTorch order (outermost first); ndim 0 is a scalar. */
typedef struct {
  int ndim;
  int64_t dim[AX_CKPT_MAX_DIMS];
} ax_ckpt_shape;

/* Writes the shape as "[96,3,11,11]" into buf; returns buf. */
char *ax_ckpt_shape_str (const ax_ckpt_shape *shape, char *buf, size_t len);

/* ---- writing ---- */

typedef struct ax_checkpoint_writer ax_checkpoint_writer;

/* NULL when out of memory. */
ax_checkpoint_writer *ax_checkpoint_writer_new (void);
void ax_checkpoint_writer_free (ax_checkpoint_writer *w);

/* Adds a tensor. The data is NOT copied: it must stay valid and unchanged
 * until ax_checkpoint_writer_write returns. Names are non-empty UTF-8, not
 * "__metadata__", and unique. A failure here is also remembered and makes
 * the write fail with the same message (so callers may check once). */
ax_ckpt_status ax_checkpoint_writer_add (ax_checkpoint_writer *w,
    const char *name, ax_ckpt_dtype dtype, const ax_ckpt_shape *shape,
    const void *data);
/* Sets a metadata key to a UTF-8 string (copied); setting a key again
 * replaces its value. Values may hold JSON text (class names, constants). */
ax_ckpt_status ax_checkpoint_writer_set_meta (ax_checkpoint_writer *w,
    const char *key, const char *value);
/* The first error of add/set_meta ("" when none). */
const char *ax_checkpoint_writer_error (const ax_checkpoint_writer *w);

/* Writes the file: a temporary file next to `path`, then fflush, fsync and
 * rename over `path`; on any failure the temporary file is removed and
 * `path` is left as it was. Layout as the reference implementation writes
 * it: tensors sorted by element size (largest first) then name, packed
 * back to back, so every tensor starts at a multiple of its element size
 * in the file; header padded with spaces to a multiple of 8. */
ax_ckpt_status ax_checkpoint_writer_write (ax_checkpoint_writer *w,
    const char *path, char *err, size_t err_len);

/* ---- reading ---- */

typedef struct ax_checkpoint ax_checkpoint;

typedef struct {
  const char *name;
  ax_ckpt_dtype dtype;
  ax_ckpt_shape shape;
  const void *data;         /* inside the mapped file: read-only, aligned
                             * only as far as the file's offsets are; copy
                             * with memcpy or the getters below */
  size_t bytes;
} ax_ckpt_tensor;

/* Maps and validates `path`. Every problem is an error naming the file:
 * "a.safetensors: truncated: header says 1234 bytes of data, file has 1000". */
ax_ckpt_status ax_checkpoint_open (const char *path, ax_checkpoint **out,
    char *err, size_t err_len);
/* The same from bytes in memory (copied); `label` names it in messages. */
ax_ckpt_status ax_checkpoint_open_buffer (const void *bytes, size_t len,
    const char *label, ax_checkpoint **out, char *err, size_t err_len);
void ax_checkpoint_close (ax_checkpoint *ckpt);

/* Tensors in name order (strcmp), for iteration. */
size_t ax_checkpoint_n_tensors (const ax_checkpoint *ckpt);
const ax_ckpt_tensor *ax_checkpoint_tensor_at (const ax_checkpoint *ckpt,
    size_t i);
/* NULL when there is no tensor `name`. */
const ax_ckpt_tensor *ax_checkpoint_find (const ax_checkpoint *ckpt,
    const char *name);

/* Copies tensor `name` into dst after checking its dtype and that its shape
 * is `expected` ("conv1.weight has shape [64,3,11,11], expected
 * [96,3,11,11]"). dst holds the product of `expected` elements. */
ax_ckpt_status ax_checkpoint_get (const ax_checkpoint *ckpt, const char *name,
    ax_ckpt_dtype dtype, const ax_ckpt_shape *expected, void *dst,
    char *err, size_t err_len);
ax_ckpt_status ax_checkpoint_get_f32 (const ax_checkpoint *ckpt,
    const char *name, const ax_ckpt_shape *expected, float *dst,
    char *err, size_t err_len);

/* Metadata in key order; the value of `key` or NULL. */
size_t ax_checkpoint_n_meta (const ax_checkpoint *ckpt);
const char *ax_checkpoint_meta_key_at (const ax_checkpoint *ckpt, size_t i);
const char *ax_checkpoint_meta (const ax_checkpoint *ckpt, const char *key);
/* A metadata value that is a decimal integer ("1000", "-3"). */
ax_ckpt_status ax_checkpoint_meta_i64 (const ax_checkpoint *ckpt,
    const char *key, int64_t *value, char *err, size_t err_len);
/* A metadata value that is a JSON array of strings (class names): one
 * malloc block of `*count` pointers, a NULL, then the strings; free() it. */
ax_ckpt_status ax_checkpoint_meta_strings (const ax_checkpoint *ckpt,
    const char *key, char ***strings, size_t *count, char *err, size_t err_len);

/* n 64-bit words as 16 lowercase hex digits each, most significant digit
 * first (the rng_state key); `out` holds 16 * n + 1 bytes. */
void ax_ckpt_u64_to_hex (const uint64_t *words, int n, char *out);
/* The inverse: exactly 16 * n hex digits; 0 when the text is not that. */
int ax_ckpt_hex_to_u64 (const char *text, uint64_t *words, int n);

#ifdef __cplusplus
}
#endif
#endif
