/* Checkpoints (kernels/io/checkpoint.h) and the JSON parser under them: round
 * trips, the reference implementation's bytes, a Python-written fixture, and
 * damaged files of every kind, which must give clear errors, never crashes. */
#include "kernels/io/checkpoint.h"
#include "kernels/util/json.h"
#include "tests/ax_test.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/ax-ckpt-XXXXXX";
static char err[512];

static const char *
tmp_path (const char *name)
{
  static char path[2][256];
  static int which;
  which ^= 1;
  snprintf (path[which], sizeof path[which], "%s/%.200s", tmpdir, name);
  return path[which];
}

static unsigned char *
slurp (const char *path, size_t *len)
{
  FILE *f = fopen (path, "rb");
  unsigned char *buf = NULL;
  long n;
  if (f && fseek (f, 0, SEEK_END) == 0 && (n = ftell (f)) >= 0
      && fseek (f, 0, SEEK_SET) == 0 && (buf = malloc ((size_t) n + 1))
      && fread (buf, 1, (size_t) n, f) != (size_t) n) {
    free (buf);
    buf = NULL;
  }
  if (f) {
    *len = buf ? (size_t) n : 0;
    fclose (f);
  }
  return buf;
}

static int
spit (const char *path, const void *bytes, size_t len)
{
  FILE *f = fopen (path, "wb");
  int ok = f && fwrite (bytes, 1, len, f) == len;
  return f && fclose (f) == 0 && ok;
}

/* Entries of tmpdir whose name contains `part`. */
static int
count_files (const char *part)
{
  DIR *d = opendir (tmpdir);
  struct dirent *e;
  int n = 0;
  while (d && (e = readdir (d)))
    n += strstr (e->d_name, part) != NULL;
  if (d)
    closedir (d);
  return n;
}

/* A file image: 8-byte length of `header` padded to 8 with spaces, then
 * `data_len` bytes counting up from 0. */
static unsigned char *
image (const char *header, size_t data_len, size_t *len)
{
  size_t n = strlen (header), padded = (n + 7) / 8 * 8;
  unsigned char *b = malloc (8 + padded + data_len + 1);
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char) ((uint64_t) padded >> (8 * i));
  memcpy (b + 8, header, n);
  memset (b + 8 + n, ' ', padded - n);
  for (size_t i = 0; i < data_len; i++)
    b[8 + padded + i] = (unsigned char) i;
  *len = 8 + padded + data_len;
  return b;
}

/* Opening `header` + data must fail with `status` and a message naming
 * the file and containing `want`. */
static void
expect_open_fails (const char *header, size_t data_len, ax_ckpt_status status,
    const char *want)
{
  size_t len;
  unsigned char *b = image (header, data_len, &len);
  ax_checkpoint *ck = (ax_checkpoint *) 1;
  ax_ckpt_status s = ax_checkpoint_open_buffer (b, len, "bad.safetensors", &ck,
      err, sizeof err);
  AX_CHECK (s == status, "%s: status %d (%s), expected %d", header, s, err,
      status);
  AX_CHECK (ck == NULL, "%s: no checkpoint on failure", header);
  AX_CHECK (strncmp (err, "bad.safetensors: ", 17) == 0 && strstr (err, want),
      "%s: message \"%s\" lacks \"%s\"", header, err, want);
  free (b);
}

static ax_ckpt_shape
shape4 (int64_t a, int64_t b, int64_t c, int64_t d)
{
  ax_ckpt_shape s = { 4, { a, b, c, d } };
  return s;
}

static ax_ckpt_shape
shape1 (int64_t a)
{
  ax_ckpt_shape s = { 1, { a } };
  return s;
}

/* ---- the JSON parser ---- */

static void
test_json_valid (void)
{
  const char *text = " {\"a\": [1, -0, 9223372036854775807, -9223372036854775808,"
      " 1.5e2, -2.5E-1, 92233720368547758070], \"s\": \"q\\\"\\\\\\/\\b\\f\\n\\r\\t"
      "\\u00e9\\u20AC\\ud83d\\udc1f\xc3\xa9\", \"t\": true, \"f\": false,"
      " \"n\": null, \"e\": {}, \"z\": [] }\r\n\t";
  ax_json *j = ax_json_parse (text, strlen (text), err, sizeof err);
  AX_CHECK (j && j->type == AX_JSON_OBJECT && j->count == 7, "%s", err);
  if (!j)
    return;
  const ax_json *a = ax_json_get (j, "a");
  AX_CHECK (a && a->type == AX_JSON_ARRAY && a->count == 7, "array a");
  int64_t want[] = { 1, 0, INT64_MAX, INT64_MIN };
  for (int i = 0; a && i < 4; i++)
    AX_CHECK (a->items[i].is_integer && a->items[i].integer == want[i],
        "integer %d", i);
  AX_CHECK (a && !a->items[4].is_integer && a->items[4].number == 150.0, "1.5e2");
  AX_CHECK (a && a->items[5].number == -0.25, "-2.5E-1");
  AX_CHECK (a && !a->items[6].is_integer && a->items[6].number > 9.2e19,
      "an integer beyond int64 is still a number");
  const ax_json *s = ax_json_get (j, "s");
  AX_CHECK (s && strcmp (s->string, "q\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac"
          "\xf0\x9f\x90\x9f\xc3\xa9") == 0, "escapes decode to UTF-8");
  AX_CHECK (ax_json_get (j, "t")->boolean == 1 && ax_json_get (j, "f")->boolean == 0
      && ax_json_get (j, "n")->type == AX_JSON_NULL, "literals");
  AX_CHECK (ax_json_get (j, "e")->count == 0 && ax_json_get (j, "z")->count == 0,
      "empty containers");
  AX_CHECK (ax_json_get (j, "missing") == NULL && ax_json_get (a, "a") == NULL,
      "lookups that must fail");
  ax_json_free (j);

  size_t n = 0;
  const char *names = "[\"tench\", \"caf\\u00e9\", \"\"]";
  char **v = ax_json_parse_string_array (names, strlen (names), &n, err, sizeof err);
  AX_CHECK (v && n == 3 && strcmp (v[1], "caf\xc3\xa9") == 0 && v[2][0] == '\0'
      && v[3] == NULL, "string array: %s", err);
  free (v);
  AX_CHECK (!ax_json_parse_string_array ("[\"a\", 1]", 8, &n, err, sizeof err)
      && strstr (err, "element 1"), "%s", err);
  AX_CHECK (!ax_json_parse_string_array ("{}", 2, &n, err, sizeof err)
      && strstr (err, "not a JSON array"), "%s", err);
}

static void
test_json_invalid (void)
{
  static const char *bad[] = {
    "", "   ", "{", "[1,]", "{\"a\":1,}", "[01]", "[1.]", "[.5]", "[-]", "[1e]",
    "[+1]", "[1e999]", "[-1e999]", "[NaN]", "[Infinity]", "{'a':1}", "{a:1}", "{\"a\" 1}", "[1 2]",
    "\"abc", "\"a\\qb\"", "\"tab\there\"", "\"\\u12\"", "\"\\u12G4\"",
    "\"\\ud83d\"", "\"\\ud83dx\"", "\"\\ud83d\\u0041\"", "\"\\udc1f\"",
    "\"\\u0000\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"",
    "\"\xe2\x82\"", "\"\x80\"", "[1] x", "{} {}", "tru", "nul", "[true false]",
    "/* c */ {}", "{\"a\":1 // c\n}", "[1,\n,2]",
    "[123456789012345678901234567890123456789012345678901234567890123456789"
        "0123456789012345678901234567890123456789012345678901234567890]",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    ax_json *j = ax_json_parse (bad[i], strlen (bad[i]), err, sizeof err);
    AX_CHECK (j == NULL && strncmp (err, "at byte ", 8) == 0,
        "'%s' must fail with a position, got \"%s\"", bad[i], err);
    ax_json_free (j);
  }
  /* A NUL inside the text is just a bad byte. */
  AX_CHECK (!ax_json_parse ("[1,\0 2]", 7, err, sizeof err), "NUL byte");
  /* Nesting: 64 levels parse, 65 do not. */
  char deep[200];
  for (int depth = 64; depth <= 65; depth++) {
    memset (deep, '[', depth);
    memset (deep + depth, ']', depth);
    ax_json *j = ax_json_parse (deep, 2 * depth, err, sizeof err);
    AX_CHECK ((j != NULL) == (depth == 64), "depth %d: %s", depth, err);
    ax_json_free (j);
  }
  AX_CHECK (strstr (err, "nested deeper than 64"), "%s", err);
}

static void
test_json_writer (void)
{
  ax_strbuf b = { 0 };
  ax_json_append_string (&b, "a\"b\\c\n\t\x01\x1f/\xc3\xa9");
  AX_CHECK (!b.failed && strcmp (b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f/"
          "\xc3\xa9\"") == 0, "escaped: %s", b.data);
  ax_json *j = ax_json_parse (b.data, b.len, err, sizeof err);
  AX_CHECK (j && strcmp (j->string, "a\"b\\c\n\t\x01\x1f/\xc3\xa9") == 0,
      "escaping then parsing gives the string back");
  ax_json_free (j);
  ax_strbuf_free (&b);
  AX_CHECK (ax_utf8_valid ("\xf0\x9f\x90\x9f", 4) && !ax_utf8_valid ("\xff", 1)
      && !ax_utf8_valid ("\xf0\x9f\x90", 3), "UTF-8 check");
}

/* ---- writing and reading back ---- */

typedef struct {
  float w[8 * 3 * 5 * 5], b[7];
  int64_t step;
  uint8_t mask[5];
  double d[3];
} sample;

static void
sample_fill (sample *s)
{
  for (size_t i = 0; i < sizeof s->w / sizeof s->w[0]; i++)
    s->w[i] = (float) (i * 0.37 - 11.0) / 3.0f;
  uint32_t special[] = { 0x80000000u, 0x7f800000u, 0x00000001u, 0x7fc00001u };
  memcpy (s->w, special, sizeof special);   /* -0, inf, subnormal, a NaN */
  for (int i = 0; i < 7; i++)
    s->b[i] = 1.0f / (float) (i + 1);
  s->step = -1234567890123LL;
  memcpy (s->mask, "\x00\x01\x7f\x80\xff", 5);
  s->d[0] = 0.1; s->d[1] = -1e-310; s->d[2] = 1e308;
}

static ax_checkpoint_writer *
sample_writer (const sample *s)
{
  ax_checkpoint_writer *w = ax_checkpoint_writer_new ();
  ax_ckpt_shape ws = shape4 (8, 3, 5, 5), bs = shape1 (7), scalar = { 0, { 0 } };
  ax_ckpt_shape ms = shape1 (5), ds = shape1 (3), empty = shape4 (0, 3, 1, 1);
  AX_CHECK (w != NULL, "writer");
  AX_CHECK (ax_checkpoint_writer_add (w, "conv.weight", AX_CKPT_F32, &ws, s->w) == 0
      && ax_checkpoint_writer_add (w, "conv.bias", AX_CKPT_F32, &bs, s->b) == 0
      && ax_checkpoint_writer_add (w, "step", AX_CKPT_I64, &scalar, &s->step) == 0
      && ax_checkpoint_writer_add (w, "mask", AX_CKPT_U8, &ms, s->mask) == 0
      && ax_checkpoint_writer_add (w, "doubles", AX_CKPT_F64, &ds, s->d) == 0
      && ax_checkpoint_writer_add (w, "empty", AX_CKPT_F32, &empty, NULL) == 0
      && ax_checkpoint_writer_add (w, "\xc3\xa9t\xc3\xa9 \"q\"", AX_CKPT_F32,
          &bs, s->b) == 0, "adds: %s", ax_checkpoint_writer_error (w));
  AX_CHECK (ax_checkpoint_writer_set_meta (w, "format", "gst-alexnet") == 0
      && ax_checkpoint_writer_set_meta (w, "class_names",
          "[\"a \\\"b\\\"\", \"caf\xc3\xa9\", \"line\\nbreak\"]") == 0
      && ax_checkpoint_writer_set_meta (w, "note", "tab\there \"q\" \\ \x01") == 0
      && ax_checkpoint_writer_set_meta (w, "step", "7") == 0
      && ax_checkpoint_writer_set_meta (w, "step", "1234") == 0
      && ax_checkpoint_writer_set_meta (w, "empty", "") == 0, "metadata");
  return w;
}

static void
check_sample (const ax_checkpoint *ck, const sample *s)
{
  const ax_ckpt_tensor *t = ax_checkpoint_find (ck, "conv.weight");
  AX_CHECK (t && t->dtype == AX_CKPT_F32 && t->shape.ndim == 4
      && t->shape.dim[0] == 8 && t->shape.dim[3] == 5 && t->bytes == sizeof s->w
      && memcmp (t->data, s->w, sizeof s->w) == 0, "conv.weight bit-exact");
  sample r;
  memset (&r, 0xab, sizeof r);
  ax_ckpt_shape bs = shape1 (7), scalar = { 0, { 0 } }, ds = shape1 (3);
  AX_CHECK (ax_checkpoint_get_f32 (ck, "conv.bias", &bs, r.b, err, sizeof err) == 0
      && memcmp (r.b, s->b, sizeof r.b) == 0, "conv.bias: %s", err);
  AX_CHECK (ax_checkpoint_get (ck, "step", AX_CKPT_I64, &scalar, &r.step, err,
          sizeof err) == 0 && r.step == s->step, "step: %s", err);
  AX_CHECK (ax_checkpoint_get (ck, "doubles", AX_CKPT_F64, &ds, r.d, err,
          sizeof err) == 0 && memcmp (r.d, s->d, sizeof r.d) == 0, "doubles");
  t = ax_checkpoint_find (ck, "mask");
  AX_CHECK (t && t->dtype == AX_CKPT_U8 && memcmp (t->data, s->mask, 5) == 0, "mask");
  t = ax_checkpoint_find (ck, "empty");
  AX_CHECK (t && t->bytes == 0 && t->shape.ndim == 4 && t->shape.dim[0] == 0,
      "a tensor with no elements");
  t = ax_checkpoint_find (ck, "\xc3\xa9t\xc3\xa9 \"q\"");
  AX_CHECK (t && memcmp (t->data, s->b, sizeof s->b) == 0, "UTF-8 name");
  AX_CHECK (ax_checkpoint_find (ck, "nope") == NULL, "missing name");
}

static void
check_sample_meta (const ax_checkpoint *ck)
{
  int64_t step = 0;
  char **names = NULL;
  size_t n = 0;
  AX_CHECK (ax_checkpoint_n_meta (ck) == 5, "5 keys, got %zu",
      ax_checkpoint_n_meta (ck));
  AX_CHECK (strcmp (ax_checkpoint_meta (ck, "format"), "gst-alexnet") == 0
      && strcmp (ax_checkpoint_meta (ck, "note"), "tab\there \"q\" \\ \x01") == 0
      && strcmp (ax_checkpoint_meta (ck, "empty"), "") == 0, "values");
  AX_CHECK (ax_checkpoint_meta_i64 (ck, "step", &step, err, sizeof err) == 0
      && step == 1234, "step replaced: %s", err);
  AX_CHECK (ax_checkpoint_meta_strings (ck, "class_names", &names, &n, err,
          sizeof err) == 0 && n == 3 && strcmp (names[0], "a \"b\"") == 0
      && strcmp (names[1], "caf\xc3\xa9") == 0
      && strcmp (names[2], "line\nbreak") == 0, "class names: %s", err);
  free (names);
  const char *prev = "";
  for (size_t i = 0; i < ax_checkpoint_n_meta (ck); i++) {
    AX_CHECK (strcmp (prev, ax_checkpoint_meta_key_at (ck, i)) < 0, "key order");
    prev = ax_checkpoint_meta_key_at (ck, i);
  }
}

static void
test_round_trip (void)
{
  sample s;
  sample_fill (&s);
  ax_checkpoint_writer *w = sample_writer (&s);
  const char *path = tmp_path ("round.safetensors");
  AX_CHECK (ax_checkpoint_writer_write (w, path, err, sizeof err) == AX_CKPT_OK,
      "write: %s", err);
  ax_checkpoint_writer_free (w);
  ax_checkpoint *ck = NULL;
  AX_CHECK (ax_checkpoint_open (path, &ck, err, sizeof err) == AX_CKPT_OK,
      "open: %s", err);
  if (!ck)
    return;
  AX_CHECK (ax_checkpoint_n_tensors (ck) == 7, "7 tensors");
  const char *prev = "";
  for (size_t i = 0; i < ax_checkpoint_n_tensors (ck); i++) {
    const char *name = ax_checkpoint_tensor_at (ck, i)->name;
    AX_CHECK (strcmp (prev, name) < 0, "names in order: %s, %s", prev, name);
    prev = name;
  }
  AX_CHECK (ax_checkpoint_tensor_at (ck, 7) == NULL, "past the end");
  check_sample (ck, &s);
  check_sample_meta (ck);
  ax_checkpoint_close (ck);
  AX_CHECK (count_files (".tmp-") == 0, "no temporary file left");
}

/* ---- the header's bytes ---- */

/* Writes `w` and compares the file with `want` (8-byte length included). */
static void
expect_bytes (ax_checkpoint_writer *w, const char *name,
    const unsigned char *want, size_t want_len)
{
  size_t len = 0;
  const char *path = tmp_path (name);
  AX_CHECK (ax_checkpoint_writer_write (w, path, err, sizeof err) == 0, "%s", err);
  unsigned char *got = slurp (path, &len);
  AX_CHECK (got && len == want_len && memcmp (got, want, len) == 0,
      "%s: %zu bytes, expected the reference implementation's %zu", name,
      len, want_len);
  free (got);
  ax_checkpoint_writer_free (w);
}

/* The byte strings of the reference implementation's own tests
 * (safetensors/src/tensor.rs: test_empty, test_serialization). */
static void
test_reference_bytes (void)
{
  static const unsigned char empty[] = "\x08\0\0\0\0\0\0\0{}      ";
  expect_bytes (ax_checkpoint_writer_new (), "empty.safetensors", empty, 16);

  static const unsigned char meta[] = "\x28\0\0\0\0\0\0\0"
      "{\"__metadata__\":{\"framework\":\"pt\"}}     ";
  ax_checkpoint_writer *w = ax_checkpoint_writer_new ();
  ax_checkpoint_writer_set_meta (w, "framework", "pt");
  expect_bytes (w, "meta.safetensors", meta, 48);

  static const float v[6] = { 0, 1, 2, 3, 4, 5 };
  static const unsigned char one[] = "\x40\0\0\0\0\0\0\0"
      "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}"
      "\0\0\0\0" "\0\0\x80\x3f" "\0\0\0\x40" "\0\0\x40\x40" "\0\0\x80\x40"
      "\0\0\xa0\x40";
  ax_ckpt_shape s = { 3, { 1, 2, 3 } };
  w = ax_checkpoint_writer_new ();
  ax_checkpoint_writer_add (w, "attn.0", AX_CKPT_F32, &s, v);
  expect_bytes (w, "one.safetensors", one, 8 + 64 + 24);
}

/* The sample file: header length a multiple of 8 padded with spaces,
 * metadata first with sorted keys, tensors by element size then name,
 * packed, each at a multiple of its element size in the file. */
static void
test_header_layout (void)
{
  sample s;
  size_t len = 0;
  sample_fill (&s);
  ax_checkpoint_writer *w = sample_writer (&s);
  const char *path = tmp_path ("layout.safetensors");
  AX_CHECK (ax_checkpoint_writer_write (w, path, err, sizeof err) == 0, "%s", err);
  ax_checkpoint_writer_free (w);
  unsigned char *b = slurp (path, &len);
  if (!b || len < 8)
    return;
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--)
    n = (n << 8) | b[i];
  AX_CHECK (n % 8 == 0 && n + 8 < len, "header length %llu", (unsigned long long) n);
  const char *h = (const char *) b + 8;
  size_t end = n;
  while (end > 0 && h[end - 1] == ' ')
    end--;
  AX_CHECK (end > 0 && h[end - 1] == '}' && n - end < 8, "padding of %zu spaces",
      (size_t) (n - end));
  const char *first = "{\"__metadata__\":{\"class_names\":\"[\\\"a \\\\\\\"b";
  AX_CHECK (strncmp (h, first, strlen (first)) == 0, "metadata first, sorted: "
      "%.60s", h);
  static const char *order[] = { "\"step\":{\"dtype\":\"I64\",\"shape\":[],"
      "\"data_offsets\":[0,8]}", "\"doubles\":{\"dtype\":\"F64\",\"shape\":[3],"
      "\"data_offsets\":[8,32]}", "\"conv.bias\":{\"dtype\":\"F32\",\"shape\""
      ":[7],\"data_offsets\":[32,60]}", "\"conv.weight\":{\"dtype\":\"F32\","
      "\"shape\":[8,3,5,5],\"data_offsets\":[60,2460]}", "\"empty\":{\"dtype\":"
      "\"F32\",\"shape\":[0,3,1,1],\"data_offsets\":[2460,2460]}",
      "\"\xc3\xa9t\xc3\xa9 \\\"q\\\"\":{\"dtype\":\"F32\",\"shape\":[7],"
      "\"data_offsets\":[2460,2488]}", "\"mask\":{\"dtype\":\"U8\",\"shape\":"
      "[5],\"data_offsets\":[2488,2493]}}" };
  const char *at = h;
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    const char *found = strstr (h, order[i]);
    AX_CHECK (found && found > at, "entry %zu (%.30s) in order", i, order[i]);
    at = found ? found : at;
  }
  AX_CHECK (len == 8 + n + 2493, "file ends with the last tensor");
  AX_CHECK ((8 + n + 8) % 8 == 0 && (8 + n + 32) % 4 == 0, "aligned starts");
  free (b);
}

/* ---- a file written the way PyTorch's safetensors writes it ---- */

static void
check_fixture_tensors (const ax_checkpoint *ck)
{
  float w[4 * 3 * 3 * 3], want[4 * 3 * 3 * 3];
  ax_ckpt_shape ws = shape4 (4, 3, 3, 3);
  for (int i = 0; i < 108; i++)
    want[i] = (float) (i % 23 - 11) * 0.125f;
  uint32_t special[] = { 0x80000000u, 0x3dcccccdu, 0x000116c2u, 0x7f7fffffu };
  memcpy (want, special, sizeof special);  /* -0, 0.1f, 1e-40f, FLT_MAX */
  AX_CHECK (ax_checkpoint_get_f32 (ck, "conv1.weight", &ws, w, err, sizeof err)
      == 0 && memcmp (w, want, sizeof w) == 0, "conv1.weight: %s", err);
  float fc8[12], b[3];
  ax_ckpt_shape fs = { 2, { 3, 4 } }, bs = shape1 (3);
  AX_CHECK (ax_checkpoint_get_f32 (ck, "fc8.weight", &fs, fc8, err, sizeof err)
      == 0 && fc8[0] == -3.0f && fc8[11] == 2.5f, "fc8.weight: %s", err);
  AX_CHECK (ax_checkpoint_get_f32 (ck, "fc8.bias", &bs, b, err, sizeof err) == 0
      && b[0] == 0.25f && b[1] == -0.5f && b[2] == 0.75f, "fc8.bias");
  int64_t counter = 0;
  ax_ckpt_shape scalar = { 0, { 0 } };
  AX_CHECK (ax_checkpoint_get (ck, "counter", AX_CKPT_I64, &scalar, &counter,
          err, sizeof err) == 0 && counter == 123456789012345LL, "counter");
  int32_t state[4];
  ax_ckpt_shape ss = shape1 (4);
  AX_CHECK (ax_checkpoint_get (ck, "state", AX_CKPT_I32, &ss, state, err,
          sizeof err) == 0 && state[0] == INT32_MIN && state[1] == -1
      && state[2] == 0 && state[3] == INT32_MAX, "I32 state: %s", err);
  const ax_ckpt_tensor *t;
  t = ax_checkpoint_find (ck, "half");
  AX_CHECK (t && t->dtype == AX_CKPT_F16 && t->bytes == 4
      && memcmp (t->data, "\x00\x3c\x00\xc0", 4) == 0, "F16 bits");
  t = ax_checkpoint_find (ck, "mask");
  AX_CHECK (t && memcmp (t->data, "\x00\x01\x02\xfe\xff", 5) == 0, "U8 mask");
  double d[2];
  ax_ckpt_shape ds = shape1 (2);
  AX_CHECK (ax_checkpoint_get (ck, "doubles", AX_CKPT_F64, &ds, d, err,
          sizeof err) == 0 && d[0] == 0.1 && d[1] == -1e300, "F64");
}

static void
test_python_fixture (void)
{
  const char *dir = getenv ("ALEXNET_TEST_DATA");
  char path[4096];
  snprintf (path, sizeof path, "%s/checkpoint_fixture.safetensors",
      dir ? dir : "tests/data");
  ax_checkpoint *ck = NULL;
  AX_CHECK (ax_checkpoint_open (path, &ck, err, sizeof err) == 0, "%s", err);
  if (!ck)
    return;
  AX_CHECK (ax_checkpoint_n_tensors (ck) == 10, "10 tensors");
  check_fixture_tensors (ck);
  char **names = NULL;
  size_t n = 0;
  int64_t classes = 0;
  AX_CHECK (ax_checkpoint_meta_strings (ck, "class_names", &names, &n, err,
          sizeof err) == 0 && n == 3 && strcmp (names[0], "tench") == 0
      && strcmp (names[1], "caf\xc3\xa9 cr\xc3\xa8me") == 0
      && strcmp (names[2], "\xf0\x9f\x90\x9f \"quoted\" \\ back") == 0,
      "class names: %s", err);
  free (names);
  AX_CHECK (ax_checkpoint_meta_i64 (ck, "num_classes", &classes, err, sizeof err)
      == 0 && classes == 3, "num_classes");
  AX_CHECK (strcmp (ax_checkpoint_meta (ck, "note"), "Gr\xc3\xb6\xc3\x9f" "e "
          "\xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac\ttab\nnewline") == 0, "raw UTF-8");
  AX_CHECK (strcmp (ax_checkpoint_meta (ck, "architecture"),
          "alexnet-torchvision") == 0, "architecture");
  ax_checkpoint_close (ck);
}

/* ---- damaged files ---- */

/* Every prefix of a valid file, cut every 97 bytes (and one byte short),
 * from memory and (for some) from disk: always a clean error. */
static void
test_truncated (void)
{
  sample s;
  size_t len = 0;
  sample_fill (&s);
  ax_checkpoint_writer *w = sample_writer (&s);
  const char *path = tmp_path ("whole.safetensors");
  AX_CHECK (ax_checkpoint_writer_write (w, path, err, sizeof err) == 0, "%s", err);
  ax_checkpoint_writer_free (w);
  unsigned char *b = slurp (path, &len);
  int cuts = 0, bad = 0;
  for (size_t cut = 0; b && cut < len; cut = cut + 97 < len || cut == len - 1
      ? cut + 97 : len - 1) {
    ax_checkpoint *ck = NULL;
    ax_ckpt_status st = ax_checkpoint_open_buffer (b, cut, "cut.safetensors",
        &ck, err, sizeof err);
    cuts++;
    bad += st != AX_CKPT_ERR_FORMAT || ck || !strstr (err, "cut.safetensors: ");
    if (cut % 5 == 0 && spit (tmp_path ("cut.safetensors"), b, cut)) {
      st = ax_checkpoint_open (tmp_path ("cut.safetensors"), &ck, err, sizeof err);
      bad += st != AX_CKPT_ERR_FORMAT || ck || !strstr (err, "truncated");
    }
    ax_checkpoint_close (ck);
  }
  AX_CHECK (cuts > 20 && bad == 0, "%d of %d cuts not a clean error", bad, cuts);
  /* The message for a cut in the data area. */
  ax_checkpoint *ck = NULL;
  ax_checkpoint_open_buffer (b, len - 1, "checkpoint.safetensors", &ck, err,
      sizeof err);
  AX_CHECK (strstr (err, "checkpoint.safetensors: truncated: header says 2493 "
          "bytes of data, file has 2492"), "%s", err);
  free (b);
}

static void
test_corrupt_length (void)
{
  size_t len;
  unsigned char *b = image ("{}", 0, &len);
  /* (16 MiB + 1 and 100 MB: refused by the reader's bound before any
   * parsing; a 100 MB header once cost 4 GB and 10 s before its error) */
  static const uint64_t lengths[] = { 0, 9, (16ull << 20) + 1, 100000000ull,
    1ull << 63, UINT64_MAX };
  static const char *want[] = { "header length is zero",
    "truncated: header says 9 bytes of header, file has 8",
    "header length 16777217 bytes is above this reader's limit of 16777216 "
        "bytes (AX_CKPT_MAX_HEADER)", "limit of 16777216", "above", "above" };
  for (int k = 0; k < 6; k++) {
    ax_checkpoint *ck = NULL;
    for (int i = 0; i < 8; i++)
      b[i] = (unsigned char) (lengths[k] >> (8 * i));
    ax_ckpt_status st = ax_checkpoint_open_buffer (b, len, "len.safetensors",
        &ck, err, sizeof err);
    AX_CHECK (st == AX_CKPT_ERR_FORMAT && !ck && strstr (err, want[k]),
        "length %llu: %s", (unsigned long long) lengths[k], err);
  }
  free (b);
  ax_checkpoint *ck = NULL;
  AX_CHECK (ax_checkpoint_open_buffer ("\x08\0\0", 3, "short", &ck, err,
          sizeof err) == AX_CKPT_ERR_FORMAT && strstr (err, "short: truncated: "
          "3 bytes"), "%s", err);
  AX_CHECK (ax_checkpoint_open (tmp_path ("missing.safetensors"), &ck, err,
          sizeof err) == AX_CKPT_ERR_IO && strstr (err, "missing.safetensors: "
          "cannot open"), "%s", err);
  AX_CHECK (ax_checkpoint_open (tmpdir, &ck, err, sizeof err) == AX_CKPT_ERR_IO
      && strstr (err, "not a regular file"), "%s", err);
  /* A FIFO with no writer is refused at once, not waited on. */
  AX_CHECK (mkfifo (tmp_path ("fifo"), 0600) == 0, "mkfifo");
  AX_CHECK (ax_checkpoint_open (tmp_path ("fifo"), &ck, err, sizeof err)
      == AX_CKPT_ERR_IO && strstr (err, "not a regular file"), "%s", err);
}

#define T(dtype, shape, b, e) \
  "{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void
test_bad_headers (void)
{
  const ax_ckpt_status F = AX_CKPT_ERR_FORMAT;
  expect_open_fails ("{\"a\":" T ("F32", "[2]", 0, 8) ",}", 8, F,
      "corrupt header: at byte 54: expected a string key");
  expect_open_fails ("[]", 0, F, "corrupt header: not a JSON object");
  expect_open_fails ("{\"a\":" T ("F32", "[2]", 0, 8), 8, F, "corrupt header");
  expect_open_fails ("{\"a\":" T ("F33", "[2]", 0, 8) "}", 8, F,
      "tensor \"a\" has an unknown dtype \"F33\"");
  expect_open_fails ("{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}",
      8, F, "dtype that is not a string");
  expect_open_fails ("{\"a\":" T ("F32", "[-2]", 0, 8) "}", 8, F, "bad shape");
  expect_open_fails ("{\"a\":" T ("F32", "[2.0]", 0, 8) "}", 8, F, "bad shape");
  expect_open_fails ("{\"a\":" T ("F32", "[1,1,1,1,1,1,1,1,2]", 0, 8) "}", 8, F,
      "bad shape");
  expect_open_fails ("{\"a\":" T ("F32", "[2]", 8, 0) "}", 8, F, "bad data_offsets");
  expect_open_fails ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":"
      "[0,8,9]}}", 9, F, "bad data_offsets");
  expect_open_fails ("{\"a\":" T ("F32", "[3]", 0, 8) "}", 8, F,
      "tensor \"a\" has a shape and dtype that do not match its data_offsets");
  expect_open_fails ("{\"a\":" T ("F32", "[4611686018427387904,4]", 0, 8) "}",
      8, F, "do not match");
  expect_open_fails ("{\"a\":" T ("F32", "[2]", 0, 8) ",\"b\":" T ("F32", "[2]",
          4, 12) "}", 12, F, "tensors \"a\" and \"b\" overlap");
  expect_open_fails ("{\"a\":" T ("F32", "[2]", 0, 8) ",\"a\":" T ("F32", "[2]",
          8, 16) "}", 16, F, "\"a\" appears twice");
  expect_open_fails ("{\"a\":" T ("F32", "[2]", 0, 8) "}", 9, F,
      "corrupt: header says 8 bytes of data, file has 9");
  expect_open_fails ("{\"a\":" T ("F32", "[2]", 0, 8) "}", 4, F,
      "truncated: header says 8 bytes of data, file has 4");
  expect_open_fails ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 0, F,
      "lacks dtype, shape or data_offsets");
  expect_open_fails ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":"
      "[0,8],\"x\":1}}", 8, F, "unknown member");
  expect_open_fails ("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],"
      "\"data_offsets\":[0,8]}}", 8, F, "\"dtype\" appears twice");
  expect_open_fails ("{\"a\":[]}", 0, F, "tensor \"a\" is not an object");
  expect_open_fails ("{\"__metadata__\":{\"k\":1}}", 0, F,
      "metadata \"k\" is not a string");
  expect_open_fails ("{\"__metadata__\":[]}", 0, F, "__metadata__ is not an object");
  expect_open_fails ("{\"__metadata__\":{},\"__metadata__\":{}}", 0, F,
      "\"__metadata__\" appears twice");
  expect_open_fails ("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, F,
      "\"k\" appears twice");
  expect_open_fails ("{\"a\":" T ("F32", "[2]", 0, 8) "}\x01", 8, F,
      "at byte 54: unexpected text after the value");
  expect_open_fails ("{\"\xff\":" T ("F32", "[2]", 0, 8) "}", 8, F,
      "invalid UTF-8");
}

/* Every byte of a valid header replaced by a few others: each result is a
 * valid checkpoint or a clean format error, never a crash (run under
 * valgrind or a sanitizer to see more than the status). */
static void
test_header_mutations (void)
{
  sample s;
  size_t len = 0;
  sample_fill (&s);
  ax_checkpoint_writer *w = sample_writer (&s);
  const char *path = tmp_path ("mutate.safetensors");
  AX_CHECK (ax_checkpoint_writer_write (w, path, err, sizeof err) == 0, "%s", err);
  ax_checkpoint_writer_free (w);
  unsigned char *b = slurp (path, &len);
  static const unsigned char values[] = { 0, '"', '\\', '{', ']', ',', ':',
    '0', '9', '-', 'e', ' ', 0x7f, 0xc3, 0xff };
  size_t n = b ? b[0] | (size_t) b[1] << 8 : 0, runs = 0, bad = 0, ok = 0;
  for (size_t pos = 0; pos < 8 + n && pos < len; pos++)
    for (size_t k = 0; k < sizeof values; k++) {
      unsigned char keep = b[pos];
      ax_checkpoint *ck = NULL;
      b[pos] = values[k];
      ax_ckpt_status st = ax_checkpoint_open_buffer (b, len, "m", &ck, err,
          sizeof err);
      b[pos] = keep;
      runs++;
      ok += st == AX_CKPT_OK;
      bad += !(st == AX_CKPT_OK && ck) && !(st == AX_CKPT_ERR_FORMAT && !ck
          && strncmp (err, "m: ", 3) == 0);
      ax_checkpoint_close (ck);
    }
  AX_CHECK (runs > 1000 && bad == 0 && ok > 0 && ok < runs,
      "%zu of %zu mutations not clean (%zu opened)", bad, runs, ok);
  free (b);
}

/* Gaps between tensors are tolerated (the reference writer leaves none);
 * tensors may come in any order in the header. */
static void
test_lenient_layout (void)
{
  size_t len;
  unsigned char *b = image ("{\"b\":" T ("U8", "[4]", 12, 16) ",\"a\":"
      T ("F32", "[2]", 0, 8) "}", 16, &len);
  ax_checkpoint *ck = NULL;
  AX_CHECK (ax_checkpoint_open_buffer (b, len, "gap", &ck, err, sizeof err) == 0,
      "%s", err);
  const ax_ckpt_tensor *t = ck ? ax_checkpoint_find (ck, "b") : NULL;
  AX_CHECK (t && memcmp (t->data, "\x0c\x0d\x0e\x0f", 4) == 0, "b at 12");
  ax_checkpoint_close (ck);
  free (b);
}

/* ---- lookups that fail ---- */

static void
test_get_errors (void)
{
  static float w[64 * 3 * 11 * 11];
  ax_ckpt_shape have = shape4 (64, 3, 11, 11), want = shape4 (96, 3, 11, 11);
  ax_ckpt_shape flat = shape1 (64 * 3 * 11 * 11);
  ax_checkpoint_writer *wr = ax_checkpoint_writer_new ();
  ax_checkpoint_writer_add (wr, "conv1.weight", AX_CKPT_F32, &have, w);
  ax_checkpoint_writer_set_meta (wr, "num_classes", "10x");
  ax_checkpoint_writer_set_meta (wr, "class_names", "[\"a\",");
  ax_checkpoint_writer_set_meta (wr, "big", "9223372036854775808");
  const char *path = tmp_path ("checkpoint.safetensors");
  AX_CHECK (ax_checkpoint_writer_write (wr, path, err, sizeof err) == 0, "%s", err);
  ax_checkpoint_writer_free (wr);
  ax_checkpoint *ck = NULL;
  if (ax_checkpoint_open (path, &ck, err, sizeof err) != 0)
    return;
  AX_CHECK (ax_checkpoint_get_f32 (ck, "conv1.weight", &want, w, err, sizeof err)
      == AX_CKPT_ERR_MISMATCH && strstr (err, "checkpoint.safetensors: "
          "conv1.weight has shape [64,3,11,11], expected [96,3,11,11]"), "%s", err);
  AX_CHECK (ax_checkpoint_get_f32 (ck, "conv1.weight", &flat, w, err, sizeof err)
      == AX_CKPT_ERR_MISMATCH, "same size, other shape: %s", err);
  AX_CHECK (ax_checkpoint_get (ck, "conv1.weight", AX_CKPT_I64, &have, w, err,
          sizeof err) == AX_CKPT_ERR_MISMATCH && strstr (err, "conv1.weight is "
          "F32, expected I64"), "%s", err);
  AX_CHECK (ax_checkpoint_get_f32 (ck, "conv2.weight", &want, w, err, sizeof err)
      == AX_CKPT_ERR_NOT_FOUND && strstr (err, "no tensor \"conv2.weight\""),
      "%s", err);
  int64_t v;
  char **names = NULL;
  size_t n;
  AX_CHECK (ax_checkpoint_meta (ck, "epoch") == NULL
      && ax_checkpoint_meta_i64 (ck, "epoch", &v, err, sizeof err)
      == AX_CKPT_ERR_NOT_FOUND && strstr (err, "no metadata \"epoch\""), "%s", err);
  AX_CHECK (ax_checkpoint_meta_i64 (ck, "num_classes", &v, err, sizeof err)
      == AX_CKPT_ERR_FORMAT && strstr (err, "\"10x\" is not an integer"), "%s", err);
  AX_CHECK (ax_checkpoint_meta_i64 (ck, "big", &v, err, sizeof err)
      == AX_CKPT_ERR_FORMAT, "beyond int64");
  AX_CHECK (ax_checkpoint_meta_strings (ck, "class_names", &names, &n, err,
          sizeof err) == AX_CKPT_ERR_FORMAT && !names && strstr (err,
          "class_names is not a JSON array of strings"), "%s", err);
  ax_checkpoint_close (ck);
}

/* ---- writer errors and atomic replacement ---- */

/* A writer with one bad call: the call fails, write fails with the same
 * message, and no file appears. */
static void
expect_writer_fails (const char *name, ax_ckpt_dtype dtype, ax_ckpt_shape shape,
    const void *data, const char *want)
{
  ax_checkpoint_writer *w = ax_checkpoint_writer_new ();
  float x[4] = { 0 };
  ax_ckpt_shape one = shape1 (4);
  ax_checkpoint_writer_add (w, "taken", AX_CKPT_F32, &one, x);
  AX_CHECK (ax_checkpoint_writer_add (w, name, dtype, &shape, data) != 0
      && strstr (ax_checkpoint_writer_error (w), want), "%s: \"%s\"", want,
      ax_checkpoint_writer_error (w));
  ax_checkpoint_writer_add (w, "fine", AX_CKPT_F32, &one, x);
  AX_CHECK (ax_checkpoint_writer_write (w, tmp_path ("never.safetensors"), err,
          sizeof err) == AX_CKPT_ERR_INVALID_ARG && strstr (err, "never"
          ".safetensors: not written: ") && strstr (err, want), "%s", err);
  AX_CHECK (count_files ("never") == 0, "no file after a refused write");
  ax_checkpoint_writer_free (w);
}

static void
test_writer_errors (void)
{
  float x[4] = { 0 };
  ax_ckpt_shape one = shape1 (4), nine = { 9, { 1 } }, neg = shape1 (-1);
  ax_ckpt_shape huge = { 3, { INT64_MAX / 2, 4, 4 } };
  expect_writer_fails ("taken", AX_CKPT_F32, one, x, "\"taken\" is already taken");
  expect_writer_fails ("", AX_CKPT_F32, one, x, "is empty");
  expect_writer_fails (NULL, AX_CKPT_F32, one, x, "is empty");
  expect_writer_fails ("__metadata__", AX_CKPT_F32, one, x, "reserved");
  expect_writer_fails ("bad\xff", AX_CKPT_F32, one, x, "not valid UTF-8");
  expect_writer_fails ("n", AX_CKPT_F32, nine, x, "bad dtype, shape");
  expect_writer_fails ("n", AX_CKPT_F32, neg, x, "bad dtype, shape");
  expect_writer_fails ("n", AX_CKPT_F32, huge, x, "bad dtype, shape");
  expect_writer_fails ("n", (ax_ckpt_dtype) 99, one, x, "bad dtype, shape");
  expect_writer_fails ("n", AX_CKPT_F32, one, NULL, "NULL data");
  ax_checkpoint_writer *w = ax_checkpoint_writer_new ();
  AX_CHECK (ax_checkpoint_writer_set_meta (w, "k", "\xc3") != 0
      && strstr (ax_checkpoint_writer_error (w), "UTF-8"), "bad metadata");
  ax_checkpoint_writer_free (w);
}

/* A small checkpoint whose one tensor holds `value` everywhere. */
static ax_ckpt_status
write_filled (const char *path, float value, size_t count)
{
  float *v = malloc (count * sizeof *v);
  for (size_t i = 0; i < count; i++)
    v[i] = value;
  ax_ckpt_shape s = shape1 ((int64_t) count);
  ax_checkpoint_writer *w = ax_checkpoint_writer_new ();
  ax_checkpoint_writer_add (w, "v", AX_CKPT_F32, &s, v);
  ax_ckpt_status st = ax_checkpoint_writer_write (w, path, err, sizeof err);
  ax_checkpoint_writer_free (w);
  free (v);
  return st;
}

static void
test_atomic_write (void)
{
  /* A folder that does not exist: an error naming the file, nothing made. */
  char path[300];
  snprintf (path, sizeof path, "%s/no/such/dir/x.safetensors", tmpdir);
  AX_CHECK (write_filled (path, 1, 4) == AX_CKPT_ERR_IO && strstr (err, path)
      && strstr (err, "creating a temporary file"), "%s", err);
  /* A folder we may not write to (not testable as root, who may). */
  if (geteuid () != 0 && mkdir (tmp_path ("ro"), 0555) == 0) {
    snprintf (path, sizeof path, "%s/ro/x.safetensors", tmpdir);
    AX_CHECK (write_filled (path, 1, 4) == AX_CKPT_ERR_IO && strstr (err, path)
        && strstr (err, "Permission denied"), "%s", err);
  }
  /* The target is a folder: rename fails, the temporary file goes. */
  AX_CHECK (mkdir (tmp_path ("adir"), 0755) == 0, "mkdir");
  AX_CHECK (write_filled (tmp_path ("adir"), 1, 4) == AX_CKPT_ERR_IO
      && strstr (err, "renaming"), "%s", err);
  AX_CHECK (count_files (".tmp-") == 0, "temporary file removed");
  /* An existing file survives a write that fails half-way (file size limit),
   * and is replaced by one that succeeds. */
  const char *target = tmp_path ("keep.safetensors");
  size_t len0 = 0, len1 = 0;
  AX_CHECK (write_filled (target, 1, 4) == 0, "%s", err);
  unsigned char *before = slurp (target, &len0);
  struct rlimit old, small = { 4096, 4096 };
  getrlimit (RLIMIT_FSIZE, &old);
  small.rlim_max = old.rlim_max;
  signal (SIGXFSZ, SIG_IGN);
  AX_CHECK (setrlimit (RLIMIT_FSIZE, &small) == 0, "setrlimit");
  ax_ckpt_status st = write_filled (target, 2, 1 << 16);
  setrlimit (RLIMIT_FSIZE, &old);
  AX_CHECK (st == AX_CKPT_ERR_IO && strstr (err, target), "%s", err);
  unsigned char *after = slurp (target, &len1);
  AX_CHECK (before && after && len0 == len1 && memcmp (before, after, len0) == 0,
      "the old file is untouched");
  AX_CHECK (count_files (".tmp-") == 0, "temporary file removed");
  free (after);
  AX_CHECK (write_filled (target, 3, 8) == 0, "%s", err);
  after = slurp (target, &len1);
  AX_CHECK (after && len1 == len0 + 16, "replaced on success");
  free (before);
  free (after);
}

static void
test_hex (void)
{
  uint64_t s[4] = { 0x0123456789abcdefULL, 0, UINT64_MAX, 42 }, r[4];
  char hex[65];
  ax_ckpt_u64_to_hex (s, 4, hex);
  AX_CHECK (strcmp (hex, "0123456789abcdef0000000000000000ffffffffffffffff"
          "000000000000002a") == 0, "%s", hex);
  AX_CHECK (ax_ckpt_hex_to_u64 (hex, r, 4) && memcmp (r, s, sizeof s) == 0,
      "round trip");
  hex[5] = 'g';
  AX_CHECK (!ax_ckpt_hex_to_u64 (hex, r, 4), "bad digit");
  AX_CHECK (!ax_ckpt_hex_to_u64 ("0123", r, 1), "too short");
}

static void
remove_tmpdir (void)
{
  DIR *d = opendir (tmpdir);
  struct dirent *e;
  while (d && (e = readdir (d)))
    if (e->d_name[0] != '.' || (e->d_name[1] && strcmp (e->d_name, "..")))
      if (unlink (tmp_path (e->d_name)) != 0)
        rmdir (tmp_path (e->d_name));
  if (d)
    closedir (d);
  rmdir (tmpdir);
}

int
main (void)
{
  if (!mkdtemp (tmpdir)) {
    perror ("mkdtemp");
    return 1;
  }
  AX_RUN (test_json_valid);
  AX_RUN (test_json_invalid);
  AX_RUN (test_json_writer);
  AX_RUN (test_round_trip);
  AX_RUN (test_reference_bytes);
  AX_RUN (test_header_layout);
  AX_RUN (test_python_fixture);
  AX_RUN (test_truncated);
  AX_RUN (test_corrupt_length);
  AX_RUN (test_bad_headers);
  AX_RUN (test_header_mutations);
  AX_RUN (test_lenient_layout);
  AX_RUN (test_get_errors);
  AX_RUN (test_writer_errors);
  AX_RUN (test_atomic_write);
  AX_RUN (test_hex);
  remove_tmpdir ();
  return ax_test_finish ();
}
