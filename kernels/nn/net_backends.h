/* Which backends a placement runs on: the CPU, CUDA GPUs, or the best
 * available. Shared by alexnet-train, alexnet-infer and any program that
 * builds a net, so that they pick devices the same way. */
#ifndef AX_NET_BACKENDS_H
#define AX_NET_BACKENDS_H

#include "kernels/nn/net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  AX_DEVICE_AUTO = 0,   /* CUDA where a GPU is present and works, else the CPU */
  AX_DEVICE_CPU,
  AX_DEVICE_CUDA,       /* CUDA; falls back to the CPU with a note if none */
} ax_device;

typedef struct {
  ax_device device;
  ax_placement placement;
  int n;                /* backends: 1 (one), 2 (towers), replicas (data) */
  int cpu_threads;      /* threads of a lone CPU backend (0: every core);
                         * several CPU backends get one thread each */
  int deterministic;    /* CUDA: deterministic cuDNN algorithms only */
  int conv_algo;        /* CPU: an ax_conv_algo (cpu_backend.h); CUDA:
                         * cuDNN's choice */
} ax_backends_request;

/* Creates req->n backends into out[] (the caller destroys them after the
 * net). On CUDA: one device for AX_PLACE_ONE; the towers on devices 0 and
 * 1 where there are two GPUs, else both on device 0 (two streams); a
 * replica per device for AX_PLACE_DATA (NCCL needs distinct devices, so
 * more replicas than GPUs is an error). Where CUDA was wanted (auto or
 * cuda) but cannot run, the CPU is used and `note` says why (else note is
 * ""). *used receives the device kind actually used. On failure nothing is
 * left allocated and err says what went wrong. */
ax_status ax_backends_create (const ax_backends_request *req,
    ax_backend **out, ax_device *used, char *note, size_t note_size,
    char *err, size_t err_size);

/* Destroys n backends of out[] (NULL entries skipped) and clears them. */
void ax_backends_destroy (ax_backend **out, int n);

#ifdef __cplusplus
}
#endif
#endif
