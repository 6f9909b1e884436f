/* The `backend` property of alexnet-train and alexnet-infer (auto, cpu,
 * cuda: ax_device's values) and the warning when CUDA cannot run. */
#ifndef __GST_ALEXNET_DEVICE_H__
#define __GST_ALEXNET_DEVICE_H__

#include <gst/gst.h>

#include "kernels/nn/net_backends.h"

G_BEGIN_DECLS

#define GST_TYPE_ALEXNET_BACKEND (gst_alexnet_backend_get_type ())
GType gst_alexnet_backend_get_type (void);
/* The CPU's convolution algorithm (ax_conv_algo), value for value. */
#define GST_TYPE_ALEXNET_CONV_ALGORITHM (gst_alexnet_conv_algorithm_get_type ())
GType gst_alexnet_conv_algorithm_get_type (void);
/* The property's blurb, shared by alexnet-train and alexnet-infer. */
#define GST_ALEXNET_CONV_ALGORITHM_BLURB "CPU: how 3x3 stride-1 " \
  "convolutions (VGG's, AlexNet's conv3-5 in towers) compute: auto takes " \
  "oneDNN's Winograd F(4x4,3x3) where it has one (AVX-512) and the batch " \
  "is at least 8, direct elsewhere; direct matches a float64 reference to " \
  "1e-5; winograd forces it (an error where oneDNN has none). CUDA: cuDNN " \
  "chooses"

/* Posts a warning that the CPU runs instead of CUDA (`note` says why):
 * every time when the user asked for backend=cuda, once per process for
 * backend=auto (a machine without a GPU is normal), then only in the log. */
void gst_alexnet_warn_cpu_fallback (GstElement * element, gboolean asked_cuda,
    const gchar * note);

G_END_DECLS
#endif
