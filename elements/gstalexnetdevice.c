/* The backend property's type and the CPU fallback warning:
 * gstalexnetdevice.h. */
#include "gstalexnetdevice.h"

#include "kernels/cpu/cpu_backend.h"

GST_DEBUG_CATEGORY_STATIC (gst_alexnet_device_debug);
#define GST_CAT_DEFAULT gst_alexnet_device_debug

GType
gst_alexnet_backend_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {AX_DEVICE_AUTO, "CUDA where a GPU is present and works, else the CPU",
        "auto"},
    {AX_DEVICE_CPU, "The CPU (oneDNN)", "cpu"},
    {AX_DEVICE_CUDA, "CUDA GPUs (cuDNN, cuBLAS, NCCL); the CPU with a "
          "warning where none can run", "cuda"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstAlexnetBackend", values);
    GST_DEBUG_CATEGORY_INIT (gst_alexnet_device_debug, "alexnet-device", 0,
        "alexnet device selection");
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_alexnet_conv_algorithm_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {AX_CONV_ALGO_AUTO, "Winograd where oneDNN has it and the batch is at "
          "least 8, else direct", "auto"},
    {AX_CONV_ALGO_DIRECT, "oneDNN's direct convolutions", "direct"},
    {AX_CONV_ALGO_WINOGRAD, "oneDNN's Winograd F(4x4,3x3) for every 3x3 "
          "stride-1 convolution", "winograd"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstAlexnetConvAlgorithm", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

void
gst_alexnet_warn_cpu_fallback (GstElement * element, gboolean asked_cuda,
    const gchar * note)
{
  static gint warned = 0;

  if (asked_cuda) {
    GST_ELEMENT_WARNING (element, RESOURCE, SETTINGS,
        ("backend=cuda: %s", note), (NULL));
  } else if (g_atomic_int_compare_and_exchange (&warned, 0, 1)) {
    GST_ELEMENT_WARNING (element, RESOURCE, SETTINGS,
        ("backend=auto: %s (said once per process)", note), (NULL));
  } else {
    GST_INFO_OBJECT (element, "backend=auto: %s", note);
  }
}
