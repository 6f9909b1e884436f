/* The `backend` property of alexnet-train and alexnet-infer (auto, cpu,
 * cuda: ax_device's values) and the warning when CUDA cannot run. */
#ifndef __GST_ALEXNET_DEVICE_H__
#define __GST_ALEXNET_DEVICE_H__

#include <gst/gst.h>

#include "kernels/nn/net_backends.h"

G_BEGIN_DECLS

#define GST_TYPE_ALEXNET_BACKEND (gst_alexnet_backend_get_type ())
GType gst_alexnet_backend_get_type (void);

/* Posts a warning that the CPU runs instead of CUDA (`note` says why):
 * every time when the user asked for backend=cuda, once per process for
 * backend=auto (a machine without a GPU is normal), then only in the log. */
void gst_alexnet_warn_cpu_fallback (GstElement * element, gboolean asked_cuda,
    const gchar * note);

G_END_DECLS
#endif
