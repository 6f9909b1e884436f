/* What kernels/io/checkpoint.c (reading) and checkpoint_write.c (writing)
 * share and no caller needs. */
#ifndef AX_CHECKPOINT_INTERNAL_H
#define AX_CHECKPOINT_INTERNAL_H

#include "kernels/io/checkpoint.h"

/* Headers above this size are refused before anything is parsed. The
 * format allows 100,000,000 bytes; a checkpoint's header is a few KB
 * (100,000 class names fit in a few MB), and parsing 100 MB of JSON costs
 * gigabytes of memory. */
#define AX_CKPT_MAX_HEADER (16ull << 20)

/* Bytes of a tensor of `shape` and `dtype`; 0 when a dimension is negative,
 * ndim is out of range or the product overflows. */
int ax_ckpt_shape_bytes (const ax_ckpt_shape *shape, ax_ckpt_dtype dtype,
    uint64_t *bytes);
/* snprintf into err (when err is not NULL). */
void ax_ckpt_set_error (char *err, size_t err_len, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

#endif
