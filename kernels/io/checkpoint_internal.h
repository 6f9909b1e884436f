/* What kernels/io/checkpoint.c (reading) and checkpoint_write.c (writing)
 * share and no caller needs. */
#ifndef AX_CHECKPOINT_INTERNAL_H
#define AX_CHECKPOINT_INTERNAL_H

#include "kernels/io/checkpoint.h"

/* The reference implementation refuses headers above this size. */
#define AX_CKPT_MAX_HEADER 100000000ull

/* Bytes of a tensor of `shape` and `dtype`; 0 when a dimension is negative,
 * ndim is out of range or the product overflows. */
int ax_ckpt_shape_bytes (const ax_ckpt_shape *shape, ax_ckpt_dtype dtype,
    uint64_t *bytes);
/* snprintf into err (when err is not NULL). */
void ax_ckpt_set_error (char *err, size_t err_len, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

#endif
