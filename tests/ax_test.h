/* A minimal test harness for the plain-C unit tests of kernels/: checks
 * count failures, print where they happened, and main() returns non-zero if
 * any check failed. */
#ifndef AX_TEST_H
#define AX_TEST_H

#include <math.h>
#include <stdio.h>

static int ax_test_failures = 0;
static int ax_test_checks = 0;

#define AX_CHECK(cond, ...)                                              \
  do {                                                                   \
    ax_test_checks++;                                                    \
    if (!(cond)) {                                                       \
      ax_test_failures++;                                                \
      fprintf (stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__,  \
          #cond);                                                        \
      fprintf (stderr, __VA_ARGS__);                                     \
      fprintf (stderr, "\n");                                            \
    }                                                                    \
  } while (0)

/* |a - b| <= atol + rtol * |b| */
#define AX_CHECK_CLOSE(a, b, atol, rtol)                                 \
  AX_CHECK (fabs ((double) (a) - (double) (b)) <=                        \
      (atol) + (rtol) * fabs ((double) (b)), "%.9g vs %.9g", (double) (a), \
      (double) (b))

#define AX_RUN(fn)                                                       \
  do {                                                                   \
    int before = ax_test_failures;                                       \
    fn ();                                                               \
    printf ("%s %s\n", ax_test_failures == before ? "ok  " : "FAIL", #fn); \
  } while (0)

static inline int
ax_test_finish (void)
{
  printf ("%d checks, %d failed\n", ax_test_checks, ax_test_failures);
  return ax_test_failures == 0 ? 0 : 1;
}

/* "<dir>/<name>" in one of four rotating static buffers: the temporary
 * files of a test (dir from mkdtemp). */
static inline char *
ax_test_path (const char *dir, const char *name)
{
  static char buf[4][512];
  static int next;
  char *p = buf[next++ % 4];
  snprintf (p, sizeof buf[0], "%s/%s", dir, name);
  return p;
}

#endif
