/* The backend front door: status strings, slabs and tensor views, and the
 * argument checks run before every slot of a backend's table, so that every
 * backend rejects the same bad calls with the same statuses. */
#include "kernels/backend/backend_impl.h"
#include "kernels/backend/layer_math.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

const char *
ax_status_str (ax_status status)
{
  switch (status) {
    case AX_OK: return "success";
    case AX_ERR_INVALID_ARG: return "invalid argument";
    case AX_ERR_SHAPE: return "shape or type mismatch";
    case AX_ERR_NONFINITE: return "NaN or infinity in the data";
    case AX_ERR_NO_MEMORY: return "out of memory";
    case AX_ERR_UNSUPPORTED: return "not supported by this backend";
    case AX_ERR_BACKEND: return "backend library error";
    case AX_ERR_WRONG_BACKEND: return "tensor belongs to another backend";
    case AX_ERR_IO: return "file input/output error";
    case AX_ERR_FORMAT: return "bad or mismatched file";
  }
  return "unknown status";
}

ax_status
ax_backend_fail (ax_backend *be, ax_status status, const char *fmt, ...)
{
  if (be) {
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (be->last_error, sizeof be->last_error, fmt, ap);
    va_end (ap);
  }
  return status;
}

void
ax_backend_destroy (ax_backend *be)
{
  if (be)
    be->iface->destroy (be);
}

const char *
ax_backend_name (const ax_backend *be)
{
  return be ? be->iface->name : "(null)";
}

const char *
ax_backend_last_error (const ax_backend *be)
{
  return be ? be->last_error : "";
}

int
ax_backend_supports_op (ax_backend *be, const ax_op *op)
{
  ax_op_shapes_t shapes;
  if (!be || ax_op_shapes (op, &shapes) != AX_OK)
    return 0;
  return be->iface->supports_op (be, op);
}

/* --- memory --- */

ax_status
ax_slab_alloc (ax_backend *be, size_t bytes, ax_slab *slab)
{
  if (!be || !slab || bytes == 0)
    return AX_ERR_INVALID_ARG;
  memset (slab, 0, sizeof *slab);
  ax_status st = be->iface->alloc (be, bytes, &slab->base);
  if (st != AX_OK)
    return st;
  slab->backend = be;
  slab->bytes = bytes;
  return AX_OK;
}

void
ax_slab_free (ax_slab *slab)
{
  if (slab && slab->backend && slab->base)
    slab->backend->iface->free (slab->backend, slab->base);
  if (slab)
    memset (slab, 0, sizeof *slab);
}

size_t
ax_tensor_footprint (ax_shape shape, ax_dtype dtype)
{
  size_t bytes = ax_shape_count (shape) * ax_dtype_size (dtype);
  return (bytes + AX_ALIGN - 1) / AX_ALIGN * AX_ALIGN;
}

ax_status
ax_tensor_view (ax_tensor *t, ax_slab *slab, size_t offset, ax_shape shape,
    ax_dtype dtype)
{
  if (!t || !slab || !slab->base)
    return AX_ERR_INVALID_ARG;
  if (offset % AX_ALIGN)
    return ax_backend_fail (slab->backend, AX_ERR_INVALID_ARG,
        "tensor offset %zu is not a multiple of %d", offset, AX_ALIGN);
  if (!ax_shape_valid (shape))
    return AX_ERR_SHAPE;
  size_t bytes = ax_shape_count (shape) * ax_dtype_size (dtype);
  if (offset > slab->bytes || bytes > slab->bytes - offset)
    return ax_backend_fail (slab->backend, AX_ERR_SHAPE,
        "tensor of %zu bytes at %zu does not fit a slab of %zu", bytes,
        offset, slab->bytes);
  t->shape = shape;
  t->dtype = dtype;
  t->backend = slab->backend;
  t->data = (char *) slab->base + offset;
  return AX_OK;
}

/* --- data movement --- */

static int
tensor_ok (const ax_tensor *t)
{
  return t && t->backend && t->data && ax_shape_valid (t->shape);
}

ax_status
ax_host_alloc (ax_backend *be, size_t bytes, void **ptr)
{
  if (!be || !ptr || bytes == 0)
    return AX_ERR_INVALID_ARG;
  *ptr = NULL;
  if (be->iface->host_alloc)
    return be->iface->host_alloc (be, bytes, ptr);
  if (posix_memalign (ptr, AX_ALIGN, bytes) != 0) {
    *ptr = NULL;
    return ax_backend_fail (be, AX_ERR_NO_MEMORY, "%zu bytes of host memory",
        bytes);
  }
  return AX_OK;
}

void
ax_host_free (ax_backend *be, void *ptr)
{
  if (!be || !ptr)
    return;
  if (be->iface->host_free)
    be->iface->host_free (be, ptr);
  else
    free (ptr);
}

ax_status
ax_tensor_upload (ax_tensor *dst, const void *host, size_t bytes)
{
  if (!tensor_ok (dst) || !host)
    return AX_ERR_INVALID_ARG;
  if (bytes != ax_tensor_bytes (dst))
    return ax_backend_fail (dst->backend, AX_ERR_SHAPE,
        "upload of %zu bytes into a tensor of %zu", bytes,
        ax_tensor_bytes (dst));
  if (dst->dtype == AX_F32) {
    const float *v = host;
    for (size_t i = 0; i < bytes / sizeof (float); i++)
      if (!ax_isfinite (v[i]))
        return ax_backend_fail (dst->backend, AX_ERR_NONFINITE,
            "upload: element %zu is %g", i, (double) v[i]);
  }
  ax_copy2d c = { bytes, 1, bytes, bytes };
  return dst->backend->iface->upload (dst->backend, dst->data, host, &c);
}

ax_status
ax_tensor_download (void *host, size_t bytes, const ax_tensor *src)
{
  if (!tensor_ok (src) || !host)
    return AX_ERR_INVALID_ARG;
  if (bytes != ax_tensor_bytes (src))
    return ax_backend_fail (src->backend, AX_ERR_SHAPE,
        "download of a tensor of %zu bytes into %zu", ax_tensor_bytes (src),
        bytes);
  ax_copy2d c = { bytes, 1, bytes, bytes };
  return src->backend->iface->download (src->backend, host, src->data, &c);
}

/* Moves a 2-D block between any two backends. */
static ax_status
transfer (ax_backend *db, void *dst, ax_backend *sb, const void *src,
    const ax_copy2d *c)
{
  if (db == sb)
    return db->iface->copy (db, dst, src, c);
  if (sb->iface->host_memory)
    return db->iface->upload (db, dst, src, c);
  if (db->iface->host_memory)
    return sb->iface->download (sb, dst, src, c);
  if (db->iface->copy_peer)
    return db->iface->copy_peer (db, dst, sb, src, c);
  return ax_backend_fail (db, AX_ERR_UNSUPPORTED, "no copy from %s to %s",
      sb->iface->name, db->iface->name);
}

ax_status
ax_tensor_copy (ax_tensor *dst, const ax_tensor *src)
{
  if (!tensor_ok (dst) || !tensor_ok (src))
    return AX_ERR_INVALID_ARG;
  if (dst->dtype != src->dtype || !ax_shape_equal (dst->shape, src->shape))
    return ax_backend_fail (dst->backend, AX_ERR_SHAPE,
        "copy between different shapes");
  size_t bytes = ax_tensor_bytes (src);
  ax_copy2d c = { bytes, 1, bytes, bytes };
  return transfer (dst->backend, dst->data, src->backend, src->data, &c);
}

ax_status
ax_tensor_copy_channels (ax_tensor *dst, int dst_channel,
    const ax_tensor *src, int src_channel, int channels)
{
  if (!tensor_ok (dst) || !tensor_ok (src))
    return AX_ERR_INVALID_ARG;
  ax_shape d = dst->shape, s = src->shape;
  if (dst->dtype != src->dtype || d.n != s.n || d.h != s.h || d.w != s.w
      || channels <= 0 || dst_channel < 0 || src_channel < 0
      || dst_channel > d.c - channels || src_channel > s.c - channels)
    return ax_backend_fail (dst->backend, AX_ERR_SHAPE,
        "copy of maps %d+%d of %dx%dx%dx%d to maps %d+ of %dx%dx%dx%d",
        src_channel, channels, s.n, s.c, s.h, s.w, dst_channel, d.n, d.c,
        d.h, d.w);
  size_t map = (size_t) s.h * s.w * ax_dtype_size (src->dtype);
  ax_copy2d c = { channels * map, (size_t) s.n, d.c * map, s.c * map };
  return transfer (dst->backend, (char *) dst->data + dst_channel * map,
      src->backend, (const char *) src->data + src_channel * map, &c);
}

ax_status
ax_tensor_fill (ax_tensor *dst, float value)
{
  if (!tensor_ok (dst) || dst->dtype != AX_F32)
    return AX_ERR_INVALID_ARG;
  return dst->backend->iface->fill (dst->backend, dst, value);
}

ax_status
ax_tensor_axpy (ax_tensor *dst, float alpha, const ax_tensor *src)
{
  if (!tensor_ok (dst) || !tensor_ok (src) || !ax_isfinite (alpha))
    return AX_ERR_INVALID_ARG;
  if (dst->backend != src->backend)
    return ax_backend_fail (dst->backend, AX_ERR_WRONG_BACKEND,
        "axpy: the tensors are on two backends; copy first");
  if (dst->dtype != AX_F32 || src->dtype != AX_F32
      || !ax_shape_equal (dst->shape, src->shape))
    return ax_backend_fail (dst->backend, AX_ERR_SHAPE,
        "axpy: %dx%dx%dx%d += %dx%dx%dx%d", dst->shape.n, dst->shape.c,
        dst->shape.h, dst->shape.w, src->shape.n, src->shape.c, src->shape.h,
        src->shape.w);
  return dst->backend->iface->axpy (dst->backend, dst, alpha, src);
}

ax_status
ax_tensor_check_finite (const ax_tensor *t)
{
  size_t count = 0;
  if (!tensor_ok (t) || t->dtype != AX_F32)
    return AX_ERR_INVALID_ARG;
  ax_status st = t->backend->iface->count_nonfinite (t->backend, t, &count);
  if (st != AX_OK)
    return st;
  if (count)
    return ax_backend_fail (t->backend, AX_ERR_NONFINITE,
        "%zu elements are NaN or infinite", count);
  return AX_OK;
}

/* --- kernels --- */

ax_status
ax_kernel_prepare (ax_backend *be, const ax_op *op, ax_kernel **out)
{
  ax_op_shapes_t shapes;
  if (!be || !op || !out)
    return AX_ERR_INVALID_ARG;
  *out = NULL;
  ax_status st = ax_op_shapes (op, &shapes);
  if (st != AX_OK)
    return ax_backend_fail (be, st, "%s: parameters do not fit input %dx%dx%dx%d",
        ax_op_name (op->type), op->in.n, op->in.c, op->in.h, op->in.w);
  if (!be->iface->supports_op (be, op))
    return ax_backend_fail (be, AX_ERR_UNSUPPORTED, "%s: not on backend %s",
        ax_op_name (op->type), be->iface->name);
  st = be->iface->prepare (be, op, &shapes, out);
  if (st != AX_OK)
    return st;
  (*out)->backend = be;
  (*out)->op = *op;
  (*out)->shapes = shapes;
  return AX_OK;
}

void
ax_kernel_release (ax_kernel *k)
{
  if (k)
    k->backend->iface->release (k);
}

const ax_op *
ax_kernel_op (const ax_kernel *k)
{
  return &k->op;
}

const ax_op_shapes_t *
ax_kernel_shapes (const ax_kernel *k)
{
  return &k->shapes;
}

ax_shape
ax_kernel_workspace_shape (const ax_kernel *k)
{
  return k->workspace;
}

size_t
ax_kernel_temp_bytes (const ax_kernel *k)
{
  return k ? k->temp_bytes : 0;
}

ax_status
ax_kernel_bind_temp (ax_kernel *k, void *forward, void *backward)
{
  if (!k || !forward || (!backward && !k->op.forward_only))
    return AX_ERR_INVALID_ARG;
  if (!k->temp_bytes || !k->backend->iface->bind_temp)
    return AX_OK;
  return k->backend->iface->bind_temp (k, forward, backward);
}
