/* The float fixtures that the PyTorch generators write (AXLF format, see
 * tests/data/gen_layer_fixture.py and gen_net_fixture.py): "AXLF", version
 * 1, a record count, then per record a 32-byte name, four int32 dims and
 * the float32 values. Read whole into memory. */
#ifndef AX_FIXTURE_UTIL_H
#define AX_FIXTURE_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char name[33];
  int shape[4];
  float *data;
  size_t count;
} ax_fixture_record;

typedef struct {
  ax_fixture_record *records;
  uint32_t n;
} ax_fixture;

static inline void
ax_fixture_free (ax_fixture *fx)
{
  for (uint32_t i = 0; fx->records && i < fx->n; i++)
    free (fx->records[i].data);
  free (fx->records);
  fx->records = NULL;
  fx->n = 0;
}

/* 1 if `path` was read whole and well formed; 0 otherwise (nothing kept). */
static inline int
ax_fixture_load (ax_fixture *fx, const char *path)
{
  FILE *f = fopen (path, "rb");
  char magic[4];
  uint32_t version;
  fx->records = NULL;
  fx->n = 0;
  if (!f)
    return 0;
  int ok = fread (magic, 4, 1, f) == 1 && memcmp (magic, "AXLF", 4) == 0
      && fread (&version, 4, 1, f) == 1 && version == 1
      && fread (&fx->n, 4, 1, f) == 1 && fx->n < 10000;
  fx->records = ok ? calloc (fx->n, sizeof *fx->records) : NULL;
  ok = ok && fx->records != NULL;
  for (uint32_t i = 0; ok && i < fx->n; i++) {
    ax_fixture_record *r = &fx->records[i];
    ok = fread (r->name, 32, 1, f) == 1 && fread (r->shape, 16, 1, f) == 1;
    size_t n = 1;
    for (int d = 0; ok && d < 4; d++) {
      ok = r->shape[d] > 0 && r->shape[d] < (1 << 20);
      n *= ok ? (size_t) r->shape[d] : 0;
    }
    r->count = n;
    ok = ok && n < (1u << 24) && (r->data = malloc (n * sizeof (float)))
        && fread (r->data, sizeof (float), n, f) == n;
  }
  fclose (f);
  if (!ok)
    ax_fixture_free (fx);
  return ok;
}

/* The record called `name`, or NULL. */
static inline const ax_fixture_record *
ax_fixture_find (const ax_fixture *fx, const char *name)
{
  for (uint32_t i = 0; i < fx->n; i++)
    if (strcmp (fx->records[i].name, name) == 0)
      return &fx->records[i];
  return NULL;
}

#ifdef AX_TEST_H
/* The values of record `name`, checked (AX_CHECK, so tests/ax_test.h comes
 * first) to be there and to hold `count` floats; NULL otherwise. */
static inline const float *
ax_fixture_values (const ax_fixture *fx, const char *name, size_t count)
{
  const ax_fixture_record *r = ax_fixture_find (fx, name);
  AX_CHECK (r != NULL, "%s missing from the fixture", name);
  if (!r)
    return NULL;
  AX_CHECK (r->count == count, "%s: %zu values, expected %zu", name,
      r->count, count);
  return r->count == count ? r->data : NULL;
}
#endif

#endif
