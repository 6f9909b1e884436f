/* The launchers of the CUDA module's small kernels (cu_kernels.cu), callable
 * from C. Each launches on `stream` and returns cudaGetLastError() after the
 * launch; n counts elements (rows for the softmax). */
#ifndef AX_CU_KERNELS_H
#define AX_CU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif
cudaError_t axcu_launch_fill (cudaStream_t stream, float *dst, size_t n,
    float value);
cudaError_t axcu_launch_axpy (cudaStream_t stream, float *dst, float alpha,
    const float *src, size_t n);
cudaError_t axcu_launch_count_nonfinite (cudaStream_t stream,
    const float *v, size_t n, unsigned long long *count);
cudaError_t axcu_launch_dropout (cudaStream_t stream, float *out,
    const float *in, size_t n, uint64_t key, uint64_t index0,
    uint32_t threshold, float scale);
cudaError_t axcu_launch_softmax_rows (cudaStream_t stream, float *probs,
    float *losses, const float *logits, const int32_t *labels, int rows,
    int classes, unsigned long long *flags);
cudaError_t axcu_launch_softmax_grad (cudaStream_t stream, float *dlogits,
    const float *probs, const int32_t *labels, int rows, int classes,
    float scale, unsigned long long *flags);
cudaError_t axcu_launch_sgd (cudaStream_t stream, float *w, float *v,
    const float *g, size_t n, float lr, float momentum, float weight_decay);
cudaError_t axcu_launch_bias_rows (cudaStream_t stream, float *out,
    const float *bias, int rows, int features);
/* The adaptive average pool over `planes` planes (N * C) of ih x iw into
 * oh x ow, and its gradient (din written). */
cudaError_t axcu_launch_avgpool (cudaStream_t stream, float *out,
    const float *in, size_t planes, int ih, int iw, int oh, int ow);
cudaError_t axcu_launch_avgpool_grad (cudaStream_t stream, float *din,
    const float *dout, size_t planes, int ih, int iw, int oh, int ow);
cudaError_t axcu_launch_colour_noise (cudaStream_t stream, uint8_t *pixels,
    int width, int height, size_t stride, int off_r, int off_g, int off_b);
#ifdef __cplusplus
}
#endif

#endif
