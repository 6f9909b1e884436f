/* The CUDA loader on any machine: how it finds the module, and what it says
 * when it cannot use one. Run three ways (tests/meson.build):
 *   default  - no AX_CUDA_MODULE; the build's own module when it has one
 *   missing  - AX_CUDA_MODULE names no file
 *   stale    - AX_CUDA_MODULE names a module of another ABI
 * A module that loads may still find no GPU: then the reason names CUDA. */
#include "kernels/cuda/cuda_backend.h"
#include "tests/ax_test.h"

#include <stdlib.h>
#include <string.h>

static void
check_unavailable (const char *expect)
{
  char why[1024] = "x", err[1024] = "x";
  ax_backend *be = (ax_backend *) 1;
  AX_CHECK (ax_cuda_device_count (why, sizeof why) == 0, "no devices");
  AX_CHECK (strstr (why, expect) != NULL, "reason \"%s\" lacks \"%s\"", why,
      expect);
  AX_CHECK (ax_cuda_module_description () == NULL, "no module");
  AX_CHECK (ax_cuda_backend_create (0, 0, &be, err, sizeof err)
      == AX_ERR_UNSUPPORTED && be == NULL, "create refused");
  AX_CHECK (strcmp (why, err) == 0, "the same reason: %s / %s", why, err);
  AX_CHECK (ax_cuda_device_count (NULL, 0) == 0, "why may be NULL");
  printf ("  %s\n", why);
}

static void
test_default (void)
{
  char why[1024] = "", err[1024] = "";
  int n = ax_cuda_device_count (why, sizeof why);
  const char *desc = ax_cuda_module_description ();
  printf ("  built %d, module %s, %d devices%s%s\n", ax_cuda_built (),
      desc ? desc : "(none)", n, n ? "" : ": ", why);
  if (!ax_cuda_built ()) {
    check_unavailable ("this build has no CUDA backend");
    return;
  }
  AX_CHECK (desc != NULL, "the build's module loads: %s", why);
  AX_CHECK (n > 0 || why[0] != '\0', "no device and no reason");
  ax_backend *be = NULL;
  ax_status st = ax_cuda_backend_create (n, 0, &be, err, sizeof err);
  AX_CHECK (st != AX_OK && be == NULL && err[0], "device %d does not exist: "
      "%s (%s)", n, ax_status_str (st), err);
  AX_CHECK (ax_cuda_backend_create (-1, 0, &be, NULL, 0)
      == AX_ERR_INVALID_ARG, "negative device");
  AX_CHECK (!ax_cuda_is_backend (NULL), "NULL is no CUDA backend");
}

static void
test_missing (void)
{
  check_unavailable ("AX_CUDA_MODULE=");
}

static void
test_stale (void)
{
  check_unavailable ("stale CUDA module");
}

int
main (int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "default";
  if (strcmp (mode, "missing") == 0)
    AX_RUN (test_missing);
  else if (strcmp (mode, "stale") == 0)
    AX_RUN (test_stale);
  else
    AX_RUN (test_default);
  return ax_test_finish ();
}
