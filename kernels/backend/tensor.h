/* Status codes and the tensor descriptor of the compute core. A tensor is a
 * shape (NCHW), an element type, the backend that owns its memory and an
 * opaque device pointer that only that backend ever dereferences. */
#ifndef AX_TENSOR_H
#define AX_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  AX_OK = 0,
  AX_ERR_INVALID_ARG,     /* NULL pointer, bad parameter value */
  AX_ERR_SHAPE,           /* a tensor's shape or type does not match the op */
  AX_ERR_NONFINITE,       /* NaN or infinity in an input, a gradient or the loss */
  AX_ERR_NO_MEMORY,       /* an allocation failed */
  AX_ERR_UNSUPPORTED,     /* this backend does not implement this op or shape */
  AX_ERR_BACKEND,         /* the library under the backend failed (details in
                           * ax_backend_last_error) */
  AX_ERR_WRONG_BACKEND,   /* a tensor lives on another backend than the op */
  AX_ERR_IO,              /* a file could not be read or written */
  AX_ERR_FORMAT,          /* a file is not what it should be (checkpoint of
                           * another architecture, damaged, wrong shapes) */
} ax_status;

/* A short English description of a status, never NULL. */
const char *ax_status_str (ax_status status);

typedef enum {
  AX_F32 = 0,             /* activations, parameters, gradients */
  AX_I32,                 /* class labels */
} ax_dtype;

typedef struct {
  int n, c, h, w;         /* batch, channels, height, width */
} ax_shape;

typedef struct ax_backend ax_backend;

typedef struct {
  ax_shape shape;
  ax_dtype dtype;
  ax_backend *backend;    /* owner of the memory */
  void *data;             /* opaque device address: never dereferenced
                           * outside the owning backend */
} ax_tensor;

static inline ax_shape
ax_shape_make (int n, int c, int h, int w)
{
  ax_shape s = { n, c, h, w };
  return s;
}

static inline size_t
ax_shape_count (ax_shape s)
{
  return (size_t) s.n * (size_t) s.c * (size_t) s.h * (size_t) s.w;
}

static inline int
ax_shape_equal (ax_shape a, ax_shape b)
{
  return a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w;
}

static inline int
ax_shape_valid (ax_shape s)
{
  return s.n > 0 && s.c > 0 && s.h > 0 && s.w > 0;
}

static inline size_t
ax_dtype_size (ax_dtype t)
{
  return t == AX_I32 ? sizeof (int32_t) : sizeof (float);
}

static inline size_t
ax_tensor_bytes (const ax_tensor *t)
{
  return ax_shape_count (t->shape) * ax_dtype_size (t->dtype);
}

#ifdef __cplusplus
}
#endif
#endif
