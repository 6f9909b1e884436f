/* Finds and loads the CUDA module (libaxcuda.so) at run time, so that the
 * core, the plugin and the tests link and run without any CUDA library.
 * Where it looks, in order: $AX_CUDA_MODULE (a full path, and then only
 * there); the directory of the shared object that holds this code (the
 * plugin's directory once installed); the build tree; the install
 * directory. A module built from other headers is refused. */
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_module.h"
#include "kernels/image/colour_math.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef AX_CUDA_BUILT
#define AX_CUDA_BUILT 0
#endif
#define MODULE_FILE "libaxcuda.so"

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const ax_cuda_module *module;
static char load_error[1024];

int
ax_cuda_built (void)
{
  return AX_CUDA_BUILT;
}

/* Records the first reason a candidate failed (later ones are likelier to
 * be "not there" and say less). */
static void note (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static void
note (const char *fmt, ...)
{
  va_list ap;
  if (load_error[0] != '\0')
    return;
  va_start (ap, fmt);
  vsnprintf (load_error, sizeof load_error, fmt, ap);
  va_end (ap);
}

static int
module_fits (const ax_cuda_module *m)
{
  return m->abi_version == AX_CUDA_ABI_VERSION
      && m->table_size == sizeof (ax_cuda_module)
      && m->iface_size == sizeof (ax_backend_i)
      && m->backend_size == sizeof (struct ax_backend)
      && m->kernel_size == sizeof (struct ax_kernel)
      && m->op_size == sizeof (ax_op);
}

/* 1 if the module at `path` is loaded and fits this build. */
static int
try_module (const char *path)
{
  if (access (path, F_OK) != 0)
    return 0;
  void *handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    /* Typically a CUDA library missing: "libcudnn.so.9: cannot open..." */
    note ("cannot load the CUDA module %s: %s", path, dlerror ());
    return 0;
  }
  ax_cuda_module_entry entry =
      (ax_cuda_module_entry) dlsym (handle, AX_CUDA_MODULE_ENTRY);
  const ax_cuda_module *m = entry ? entry () : NULL;
  if (!m) {
    note ("%s is not a CUDA module of this version (no %s)", path,
        AX_CUDA_MODULE_ENTRY);
    dlclose (handle);
    return 0;
  }
  if (!module_fits (m)) {
    note ("stale CUDA module %s (ABI %u, this build wants %d, or built from "
        "other headers): rebuild it", path, (unsigned) m->abi_version,
        AX_CUDA_ABI_VERSION);
    dlclose (handle);
    return 0;
  }
  module = m;                   /* the handle stays open for good */
  return 1;
}

static void
load_module (void)
{
  char path[PATH_MAX];
  const char *env = getenv ("AX_CUDA_MODULE");
  if (env && *env) {
    if (!try_module (env))
      note ("AX_CUDA_MODULE=%s: no such file", env);
    return;
  }
  /* Next to the object holding this code: the plugin once installed. */
  Dl_info info;
  if (dladdr (&load_once, &info) && info.dli_fname) {
    const char *slash = strrchr (info.dli_fname, '/');
    if (slash && (size_t) (slash - info.dli_fname) + sizeof MODULE_FILE + 1
        < sizeof path) {
      snprintf (path, sizeof path, "%.*s/%s", (int) (slash - info.dli_fname),
          info.dli_fname, MODULE_FILE);
      if (try_module (path))
        return;
    }
  }
#ifdef AX_CUDA_MODULE_BUILD_PATH
  if (try_module (AX_CUDA_MODULE_BUILD_PATH))
    return;
#endif
#ifdef AX_CUDA_MODULE_INSTALL_DIR
  if (try_module (AX_CUDA_MODULE_INSTALL_DIR "/" MODULE_FILE))
    return;
#endif
  if (!AX_CUDA_BUILT)
    note ("this build has no CUDA backend (configured with -Dcuda=disabled, "
        "or without nvcc, cuDNN, cuBLAS and NCCL)");
  else
    note ("the CUDA module %s was not found next to the plugin, in the build "
        "tree or in the install directory (set AX_CUDA_MODULE)", MODULE_FILE);
}

static const ax_cuda_module *
get_module (void)
{
  pthread_once (&load_once, load_module);
  return module;
}

static void
copy_reason (char *dst, size_t size, const char *reason)
{
  if (dst && size)
    snprintf (dst, size, "%s", reason);
}

int
ax_cuda_device_count (char *why, size_t why_size)
{
  const ax_cuda_module *m = get_module ();
  copy_reason (why, why_size, "");
  if (!m) {
    copy_reason (why, why_size, load_error);
    return 0;
  }
  return m->device_count (why, why_size);
}

ax_status
ax_cuda_backend_create (int device, int deterministic, ax_backend **out,
    char *err, size_t err_size)
{
  copy_reason (err, err_size, "");
  if (!out || device < 0)
    return AX_ERR_INVALID_ARG;
  *out = NULL;
  const ax_cuda_module *m = get_module ();
  if (!m) {
    copy_reason (err, err_size, load_error);
    return AX_ERR_UNSUPPORTED;
  }
  return m->backend_create (device, deterministic, out, err, err_size);
}

const char *
ax_cuda_module_description (void)
{
  const ax_cuda_module *m = get_module ();
  return m ? m->description : NULL;
}

int
ax_cuda_is_backend (const ax_backend *be)
{
  const ax_cuda_module *m = be ? get_module () : NULL;
  return m && m->is_backend (be);
}

ax_status
ax_cuda_colour_noise (ax_backend *be, void *pixels, int width, int height,
    size_t stride, const double alpha[3], const double eigval[3],
    const double eigvec[3][3])
{
  if (!be || !pixels || width <= 0 || height <= 0 || !alpha || !eigval
      || !eigvec || stride < (size_t) width * 3)
    return AX_ERR_INVALID_ARG;
  if (!ax_cuda_is_backend (be))
    return ax_backend_fail (be, AX_ERR_WRONG_BACKEND,
        "colour noise: %s is not a CUDA backend", ax_backend_name (be));
  /* Rounded once per image, as ax_pca_jitter_apply_rgb does. */
  int offsets[3];
  for (int c = 0; c < 3; c++)
    offsets[c] = ax_colour_round_offset (ax_colour_offset (c, alpha, eigval,
            eigvec));
  return module->colour_noise (be, pixels, width, height, stride, offsets);
}
