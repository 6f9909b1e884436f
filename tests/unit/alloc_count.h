/* Counting allocations for the no-allocation tests: malloc and friends
 * interposed (they call glibc's own), counted while `counting` is set, from
 * any thread. Include once, in a test built without a sanitizer (which
 * brings its own malloc): the including file skips itself then. */
#ifndef AX_ALLOC_COUNT_H
#define AX_ALLOC_COUNT_H

#include <malloc.h>
#include <stddef.h>

extern void *__libc_malloc (size_t);
extern void *__libc_calloc (size_t, size_t);
extern void *__libc_realloc (void *, size_t);
extern void *__libc_memalign (size_t, size_t);

static int counting;
/* Allocations, their bytes and the largest block while counting. */
static size_t n_allocs, n_bytes, largest;

static void
count (size_t bytes)
{
  if (__atomic_load_n (&counting, __ATOMIC_RELAXED)) {
    __atomic_fetch_add (&n_allocs, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add (&n_bytes, bytes, __ATOMIC_RELAXED);
    size_t l = __atomic_load_n (&largest, __ATOMIC_RELAXED);
    while (bytes > l && !__atomic_compare_exchange_n (&largest, &l, bytes, 0,
            __ATOMIC_RELAXED, __ATOMIC_RELAXED))
      ;
  }
}

void *malloc (size_t n) { count (n); return __libc_malloc (n); }
void *calloc (size_t n, size_t m) { count (n * m); return __libc_calloc (n, m); }
void *realloc (void *p, size_t n) { count (n); return __libc_realloc (p, n); }
void *memalign (size_t a, size_t n) { count (n); return __libc_memalign (a, n); }
void *aligned_alloc (size_t a, size_t n) { count (n); return __libc_memalign (a, n); }
int
posix_memalign (void **p, size_t a, size_t n)
{
  count (n);
  *p = __libc_memalign (a, n);
  return *p ? 0 : 12;  /* ENOMEM */
}

#endif
