/* The CUDA module's small kernels: one thread per element (or per row for
 * the softmax), each running the body of cuda_elementwise.h for its flat
 * index, exactly as the host tests do. Built with --fmad=false so that
 * a * b + c rounds twice, as the CPU code does: the dropout, SGD, axpy and
 * colour results are then the CPU's bit for bit (expf/logf in the softmax
 * are CUDA's, within 2 ulp). */
#include "cu_kernels.h"
#include "kernels/backend/cuda_elementwise.h"

#include <cuda_runtime.h>

/* The flat index of this thread. */
__device__ static inline size_t
flat_index (void)
{
  return (size_t) blockIdx.x * blockDim.x + threadIdx.x;
}

/* The most blocks a grid's x dimension takes (2^31 - 1). */
#define MAX_BLOCKS ((size_t) 0x7fffffff)

/* Launches `kernel` over n indices and reports the launch's error. One
 * thread per index: more than MAX_BLOCKS * AX_EW_THREADS (5.5e11) indices
 * is refused rather than ax_ew_blocks' unsigned wrapping round and
 * silently leaving the tail untouched. */
#define LAUNCH(kernel, n, stream, ...)                                     \
  do {                                                                     \
    if ((n) == 0)                                                          \
      return cudaSuccess;                                                  \
    if ((n) > MAX_BLOCKS * AX_EW_THREADS)                                  \
      return cudaErrorInvalidValue;                                        \
    kernel<<<ax_ew_blocks (n), AX_EW_THREADS, 0, stream>>> (__VA_ARGS__);  \
    return cudaGetLastError ();                                            \
  } while (0)

__global__ static void
fill_kernel (float *dst, size_t n, float value)
{
  size_t i = flat_index ();
  if (i < n)
    ax_ew_fill (i, dst, value);
}

__global__ static void
axpy_kernel (float *dst, float alpha, const float *src, size_t n)
{
  size_t i = flat_index ();
  if (i < n)
    ax_ew_axpy (i, dst, alpha, src);
}

__global__ static void
count_nonfinite_kernel (const float *v, size_t n, unsigned long long *count)
{
  size_t i = flat_index ();
  /* Only the rare bad elements touch the counter. */
  if (i < n && ax_ew_nonfinite (i, v))
    atomicAdd (count, 1ull);
}

__global__ static void
dropout_kernel (float *out, const float *in, size_t n, uint64_t key,
    uint64_t index0, uint32_t threshold, float scale)
{
  size_t i = flat_index ();
  if (i < n)
    ax_ew_dropout (i, out, in, key, index0, threshold, scale);
}

__global__ static void
softmax_rows_kernel (float *probs, float *losses, const float *logits,
    const int32_t *labels, int rows, int classes, unsigned long long *flags)
{
  size_t r = flat_index ();
  if (r < (size_t) rows) {
    unsigned bad = ax_ew_softmax_row ((int) r, probs, losses, logits, labels,
        classes);
    if (bad)
      atomicOr (flags, (unsigned long long) bad);
  }
}

__global__ static void
softmax_grad_kernel (float *dlogits, const float *probs,
    const int32_t *labels, size_t n, int classes, float scale,
    unsigned long long *flags)
{
  size_t i = flat_index ();
  if (i < n) {
    unsigned bad = ax_ew_softmax_grad (i, dlogits, probs, labels, classes,
        scale);
    if (bad)
      atomicOr (flags, (unsigned long long) bad);
  }
}

__global__ static void
sgd_kernel (float *w, float *v, const float *g, size_t n, float lr,
    float momentum, float weight_decay)
{
  size_t i = flat_index ();
  if (i < n)
    ax_ew_sgd (i, w, v, g, lr, momentum, weight_decay);
}

__global__ static void
bias_rows_kernel (float *out, const float *bias, size_t n, int features)
{
  size_t i = flat_index ();
  if (i < n)
    ax_ew_bias_rows (i, out, bias, features);
}

__global__ static void
avgpool_kernel (float *out, const float *in, size_t n, int ih, int iw,
    int oh, int ow)
{
  size_t i = flat_index ();
  if (i < n)
    ax_ew_avgpool (i, out, in, ih, iw, oh, ow);
}

__global__ static void
avgpool_grad_kernel (float *din, const float *dout, size_t n, int ih, int iw,
    int oh, int ow)
{
  size_t i = flat_index ();
  if (i < n)
    ax_ew_avgpool_grad (i, din, dout, ih, iw, oh, ow);
}

__global__ static void
colour_noise_kernel (uint8_t *pixels, size_t n, size_t row_bytes,
    size_t stride, int off_r, int off_g, int off_b)
{
  size_t i = flat_index ();
  if (i < n)
    ax_ew_colour_noise (i, pixels, row_bytes, stride, off_r, off_g, off_b);
}

extern "C" cudaError_t
axcu_launch_fill (cudaStream_t stream, float *dst, size_t n, float value)
{
  LAUNCH (fill_kernel, n, stream, dst, n, value);
}

extern "C" cudaError_t
axcu_launch_axpy (cudaStream_t stream, float *dst, float alpha,
    const float *src, size_t n)
{
  LAUNCH (axpy_kernel, n, stream, dst, alpha, src, n);
}

extern "C" cudaError_t
axcu_launch_count_nonfinite (cudaStream_t stream, const float *v, size_t n,
    unsigned long long *count)
{
  LAUNCH (count_nonfinite_kernel, n, stream, v, n, count);
}

extern "C" cudaError_t
axcu_launch_dropout (cudaStream_t stream, float *out, const float *in,
    size_t n, uint64_t key, uint64_t index0, uint32_t threshold, float scale)
{
  LAUNCH (dropout_kernel, n, stream, out, in, n, key, index0, threshold,
      scale);
}

extern "C" cudaError_t
axcu_launch_softmax_rows (cudaStream_t stream, float *probs, float *losses,
    const float *logits, const int32_t *labels, int rows, int classes,
    unsigned long long *flags)
{
  size_t n = (size_t) rows;
  LAUNCH (softmax_rows_kernel, n, stream, probs, losses, logits, labels, rows,
      classes, flags);
}

extern "C" cudaError_t
axcu_launch_softmax_grad (cudaStream_t stream, float *dlogits,
    const float *probs, const int32_t *labels, int rows, int classes,
    float scale, unsigned long long *flags)
{
  size_t n = (size_t) rows * (size_t) classes;
  LAUNCH (softmax_grad_kernel, n, stream, dlogits, probs, labels, n, classes,
      scale, flags);
}

extern "C" cudaError_t
axcu_launch_sgd (cudaStream_t stream, float *w, float *v, const float *g,
    size_t n, float lr, float momentum, float weight_decay)
{
  LAUNCH (sgd_kernel, n, stream, w, v, g, n, lr, momentum, weight_decay);
}

extern "C" cudaError_t
axcu_launch_bias_rows (cudaStream_t stream, float *out, const float *bias,
    int rows, int features)
{
  size_t n = (size_t) rows * (size_t) features;
  LAUNCH (bias_rows_kernel, n, stream, out, bias, n, features);
}

extern "C" cudaError_t
axcu_launch_avgpool (cudaStream_t stream, float *out, const float *in,
    size_t planes, int ih, int iw, int oh, int ow)
{
  size_t n = planes * (size_t) oh * (size_t) ow;
  LAUNCH (avgpool_kernel, n, stream, out, in, n, ih, iw, oh, ow);
}

extern "C" cudaError_t
axcu_launch_avgpool_grad (cudaStream_t stream, float *din, const float *dout,
    size_t planes, int ih, int iw, int oh, int ow)
{
  size_t n = planes * (size_t) ih * (size_t) iw;
  LAUNCH (avgpool_grad_kernel, n, stream, din, dout, n, ih, iw, oh, ow);
}

extern "C" cudaError_t
axcu_launch_colour_noise (cudaStream_t stream, uint8_t *pixels, int width,
    int height, size_t stride, int off_r, int off_g, int off_b)
{
  size_t row_bytes = (size_t) width * 3, n = row_bytes * (size_t) height;
  LAUNCH (colour_noise_kernel, n, stream, pixels, n, row_bytes, stride,
      off_r, off_g, off_b);
}
