/* AX_HOSTDEV marks the per-element maths shared by the CPU code and the
 * CUDA kernels: __host__ __device__ static inline under nvcc, plain static
 * inline under a C compiler, so the host tests run the code the GPU runs.
 * One definition for every header that uses it (layer_math.h,
 * colour_math.h, cuda_elementwise.h), so a .cu file can include them all. */
#ifndef AX_HOSTDEV_H
#define AX_HOSTDEV_H

#ifdef __CUDACC__
#define AX_HOSTDEV static inline __host__ __device__
#else
#define AX_HOSTDEV static inline
#endif

#endif
