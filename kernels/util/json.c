/* The strict JSON parser behind kernels/util/json.h: recursive descent over a
 * byte range into a tree of ax_json values, each failure reported once with
 * its byte offset; the locale-independent number conversions; the text
 * buffer and the writer. */
#include "kernels/util/json.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const unsigned char *s;
  size_t len, pos;
  int depth;
  char *err;
  size_t err_len;
  int failed;
} parser;

static int parse_value (parser *p, ax_json *out);

static int
fail (parser *p, size_t at, const char *fmt, ...)
{
  if (!p->failed && p->err && p->err_len > 0) {
    int n = snprintf (p->err, p->err_len, "at byte %zu: ", at);
    if (n >= 0 && (size_t) n < p->err_len) {
      va_list ap;
      va_start (ap, fmt);
      vsnprintf (p->err + n, p->err_len - n, fmt, ap);
      va_end (ap);
    }
  }
  p->failed = 1;
  return 0;
}

static void
skip_ws (parser *p)
{
  while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'
          || p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
    p->pos++;
}

/* Length of the well-formed UTF-8 sequence at s[0..avail), or 0. */
static size_t
utf8_seq_len (const unsigned char *s, size_t avail)
{
  unsigned c = s[0];
  size_t n;
  unsigned cp, min;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2; cp = c & 0x1f; min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3; cp = c & 0x0f; min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4; cp = c & 0x07; min = 0x10000;
  } else {
    return 0;
  }
  if (avail < n)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

int
ax_utf8_valid (const char *s, size_t len)
{
  const unsigned char *u = (const unsigned char *) s;
  size_t i = 0;
  while (i < len) {
    size_t n = utf8_seq_len (u + i, len - i);
    if (n == 0)
      return 0;
    i += n;
  }
  return 1;
}

static size_t
put_utf8 (char *dst, unsigned cp)
{
  unsigned char *d = (unsigned char *) dst;
  if (cp < 0x80) {
    d[0] = cp;
    return 1;
  }
  if (cp < 0x800) {
    d[0] = 0xc0 | (cp >> 6); d[1] = 0x80 | (cp & 0x3f);
    return 2;
  }
  if (cp < 0x10000) {
    d[0] = 0xe0 | (cp >> 12); d[1] = 0x80 | ((cp >> 6) & 0x3f);
    d[2] = 0x80 | (cp & 0x3f);
    return 3;
  }
  d[0] = 0xf0 | (cp >> 18); d[1] = 0x80 | ((cp >> 12) & 0x3f);
  d[2] = 0x80 | ((cp >> 6) & 0x3f); d[3] = 0x80 | (cp & 0x3f);
  return 4;
}

/* Four hex digits at p->pos; -1 (and a failure) when they are not. */
static long
read_hex4 (parser *p)
{
  long v = 0;
  if (p->len - p->pos < 4)
    return fail (p, p->pos, "truncated \\u escape"), -1;
  for (int i = 0; i < 4; i++) {
    int c = p->s[p->pos + i], d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return fail (p, p->pos + i, "bad hex digit in \\u escape"), -1;
    v = v * 16 + d;
  }
  p->pos += 4;
  return v;
}

/* The code point of a \u escape (p->pos just after the 'u'), joining a
 * surrogate pair; 0 on failure. */
static unsigned
read_unicode_escape (parser *p)
{
  size_t at = p->pos - 2;
  long hi = read_hex4 (p), lo;
  if (hi < 0)
    return 0;
  if (hi == 0)
    return fail (p, at, "\\u0000 in a string is not supported");
  if (hi >= 0xdc00 && hi <= 0xdfff)
    return fail (p, at, "lone low surrogate \\u%04lX", hi);
  if (hi < 0xd800 || hi > 0xdbff)
    return (unsigned) hi;
  if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
    return fail (p, at, "high surrogate \\u%04lX without a low one", hi);
  p->pos += 2;
  if ((lo = read_hex4 (p)) < 0)
    return 0;
  if (lo < 0xdc00 || lo > 0xdfff)
    return fail (p, at, "high surrogate \\u%04lX followed by \\u%04lX", hi, lo);
  return 0x10000 + (((unsigned) hi - 0xd800) << 10) + ((unsigned) lo - 0xdc00);
}

/* One escape (p->pos on the backslash) decoded into dst; bytes written, or
 * 0 on failure. */
static size_t
read_escape (parser *p, char *dst)
{
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  size_t at = p->pos;
  if (p->len - p->pos < 2)
    return fail (p, at, "unterminated string");
  int c = p->s[p->pos + 1];
  p->pos += 2;
  if (c == 'u') {
    unsigned cp = read_unicode_escape (p);
    return cp ? put_utf8 (dst, cp) : 0;
  }
  const char *e = c ? strchr (from, c) : NULL;
  if (!e)
    return fail (p, at, "unknown escape \\%c", c >= 0x20 && c < 0x7f ? c : '?');
  dst[0] = to[e - from];
  return 1;
}

/* A string (p->pos on the opening quote) into a fresh NUL-terminated
 * buffer; decoded text is never longer than its source. */
static char *
parse_string (parser *p)
{
  size_t start = p->pos++, n = 0, end = p->pos;
  while (end < p->len && p->s[end] != '"')
    end += p->s[end] == '\\' ? 2 : 1;
  if (end >= p->len)
    return fail (p, start, "unterminated string"), NULL;
  char *out = malloc (end - p->pos + 1);
  if (!out)
    return fail (p, start, "out of memory"), NULL;
  while (!p->failed && p->s[p->pos] != '"') {
    unsigned c = p->s[p->pos];
    size_t k;
    if (c < 0x20) {
      fail (p, p->pos, "control character 0x%02X in a string", c);
    } else if (c == '\\') {
      n += read_escape (p, out + n);
    } else if ((k = utf8_seq_len (p->s + p->pos, end - p->pos)) == 0) {
      fail (p, p->pos, "invalid UTF-8 in a string");
    } else {
      memcpy (out + n, p->s + p->pos, k);
      n += k;
      p->pos += k;
    }
  }
  if (p->failed)
    return free (out), NULL;
  p->pos++;
  out[n] = '\0';
  return out;
}

static size_t
skip_digits (parser *p)
{
  size_t start = p->pos;
  while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
    p->pos++;
  return p->pos - start;
}

/* Exact int64 of an integer literal; 0 when it does not fit. */
static int
integer_value (const char *t, size_t n, int64_t *out)
{
  int neg = t[0] == '-';
  uint64_t v = 0, limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
  for (size_t i = neg; i < n; i++) {
    unsigned d = t[i] - '0';
    if (v > (limit - d) / 10)
      return 0;
    v = v * 10 + d;
  }
  *out = neg ? (int64_t) (0 - v) : (int64_t) v;
  return 1;
}

static int
parse_number (parser *p, ax_json *out)
{
  size_t start = p->pos;
  int is_int = 1;
  if (p->pos < p->len && p->s[p->pos] == '-')
    p->pos++;
  size_t digits = skip_digits (p);
  if (digits == 0)
    return fail (p, start, "expected a value");
  if (digits > 1 && p->s[p->pos - digits] == '0')
    return fail (p, start, "number with a leading zero");
  if (p->pos < p->len && p->s[p->pos] == '.') {
    p->pos++;
    is_int = 0;
    if (skip_digits (p) == 0)
      return fail (p, p->pos, "expected digits after '.'");
  }
  if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
    p->pos++;
    is_int = 0;
    if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
      p->pos++;
    if (skip_digits (p) == 0)
      return fail (p, p->pos, "expected digits in the exponent");
  }
  char text[128];
  size_t n = p->pos - start;
  if (n >= sizeof text)
    return fail (p, start, "number longer than %zu characters", sizeof text - 1);
  memcpy (text, p->s + start, n);
  text[n] = '\0';
  out->type = AX_JSON_NUMBER;
  out->is_integer = is_int && integer_value (text, n, &out->integer);
  errno = 0;
  out->number = ax_json_strtod (text, NULL);
  if (errno == ERANGE && (out->number > 1.0 || out->number < -1.0))
    return fail (p, start, "number out of range");
  return 1;
}

static int
parse_literal (parser *p, ax_json *out)
{
  static const struct { const char *word; ax_json_type type; int b; } lits[] = {
    { "true", AX_JSON_BOOL, 1 }, { "false", AX_JSON_BOOL, 0 },
    { "null", AX_JSON_NULL, 0 },
  };
  for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++) {
    size_t n = strlen (lits[i].word);
    if (p->len - p->pos >= n && memcmp (p->s + p->pos, lits[i].word, n) == 0) {
      out->type = lits[i].type;
      out->boolean = lits[i].b;
      p->pos += n;
      return 1;
    }
  }
  return parse_number (p, out);
}

/* Appends a zeroed slot to a container being built; NULL when out of memory. */
static ax_json *
grow (parser *p, ax_json *c, size_t *cap, int with_keys)
{
  if (c->count == *cap) {
    size_t ncap = *cap ? *cap * 2 : 4;
    ax_json *items = realloc (c->items, ncap * sizeof *items);
    if (items)
      c->items = items;
    char **keys = with_keys && items ? realloc (c->keys, ncap * sizeof *keys) : NULL;
    if (keys)
      c->keys = keys;
    if (!items || (with_keys && !keys))
      return fail (p, p->pos, "out of memory"), NULL;
    *cap = ncap;
  }
  memset (&c->items[c->count], 0, sizeof c->items[0]);
  if (with_keys)
    c->keys[c->count] = NULL;
  return &c->items[c->count++];
}

/* After an element: ',' (more follow, returns 1) or the closing bracket
 * (returns 0, p->failed unset); anything else fails. */
static int
next_or_close (parser *p, char close, const char *what)
{
  skip_ws (p);
  if (p->pos < p->len && p->s[p->pos] == ',') {
    p->pos++;
    return 1;
  }
  if (p->pos < p->len && p->s[p->pos] == close) {
    p->pos++;
    return 0;
  }
  return fail (p, p->pos, "expected ',' or '%c' after %s", close, what);
}

static int
parse_array (parser *p, ax_json *out)
{
  size_t cap = 0;
  out->type = AX_JSON_ARRAY;
  p->pos++;
  skip_ws (p);
  if (p->pos < p->len && p->s[p->pos] == ']') {
    p->pos++;
    return 1;
  }
  do {
    ax_json *item = grow (p, out, &cap, 0);
    if (!item || !parse_value (p, item))
      return 0;
  } while (next_or_close (p, ']', "an array element"));
  return !p->failed;
}

static int
parse_member (parser *p, ax_json *obj, size_t *cap)
{
  skip_ws (p);
  if (p->pos >= p->len || p->s[p->pos] != '"')
    return fail (p, p->pos, "expected a string key");
  ax_json *value = grow (p, obj, cap, 1);
  if (!value)
    return 0;
  char **key = &obj->keys[obj->count - 1];
  if (!(*key = parse_string (p)))
    return 0;
  skip_ws (p);
  if (p->pos >= p->len || p->s[p->pos] != ':')
    return fail (p, p->pos, "expected ':' after the key \"%.40s\"", *key);
  p->pos++;
  return parse_value (p, value);
}

static int
compare_keys (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Fails on the first key found twice (sorted copy: n log n, whatever the
 * number of members). */
static int
check_duplicates (parser *p, const ax_json *obj)
{
  if (obj->count < 2)
    return 1;
  char **sorted = malloc (obj->count * sizeof *sorted);
  if (!sorted)
    return fail (p, obj->offset, "out of memory");
  memcpy (sorted, obj->keys, obj->count * sizeof *sorted);
  qsort (sorted, obj->count, sizeof *sorted, compare_keys);
  const char *dup = NULL;
  for (size_t i = 1; i < obj->count && !dup; i++)
    if (strcmp (sorted[i - 1], sorted[i]) == 0)
      dup = sorted[i];
  if (dup)
    fail (p, obj->offset, "the key \"%.40s\" appears twice in an object", dup);
  free (sorted);
  return dup == NULL;
}

static int
parse_object (parser *p, ax_json *out)
{
  size_t cap = 0;
  out->type = AX_JSON_OBJECT;
  p->pos++;
  skip_ws (p);
  if (p->pos < p->len && p->s[p->pos] == '}') {
    p->pos++;
    return 1;
  }
  do {
    if (!parse_member (p, out, &cap))
      return 0;
  } while (next_or_close (p, '}', "an object member"));
  return !p->failed && check_duplicates (p, out);
}

static int
parse_value (parser *p, ax_json *out)
{
  int ok;
  skip_ws (p);
  out->offset = p->pos;
  if (p->pos >= p->len)
    return fail (p, p->pos, "unexpected end of the text, expected a value");
  switch (p->s[p->pos]) {
    case '{':
    case '[':
      if (p->depth >= AX_JSON_MAX_DEPTH)
        return fail (p, p->pos, "nested deeper than %d levels", AX_JSON_MAX_DEPTH);
      p->depth++;
      ok = p->s[p->pos] == '{' ? parse_object (p, out) : parse_array (p, out);
      p->depth--;
      return ok;
    case '"':
      out->type = AX_JSON_STRING;
      return (out->string = parse_string (p)) != NULL;
    default:
      return parse_literal (p, out);
  }
}

static void
json_clear (ax_json *v)
{
  for (size_t i = 0; i < v->count; i++) {
    json_clear (&v->items[i]);
    if (v->keys)
      free (v->keys[i]);
  }
  free (v->items);
  free (v->keys);
  free (v->string);
}

void
ax_json_free (ax_json *value)
{
  if (value) {
    json_clear (value);
    free (value);
  }
}

ax_json *
ax_json_parse (const char *text, size_t len, char *err, size_t err_len)
{
  parser p = { (const unsigned char *) text, len, 0, 0, err, err_len, 0 };
  ax_json *root = calloc (1, sizeof *root);
  if (err && err_len)
    err[0] = '\0';
  if (!root || !text || len > AX_JSON_MAX_TEXT) {
    snprintf (err, err ? err_len : 0, "%s", !root ? "out of memory"
        : !text ? "no text" : "text longer than the JSON reader's bound");
    free (root);
    return NULL;
  }
  if (parse_value (&p, root)) {
    skip_ws (&p);
    if (p.pos < p.len)
      fail (&p, p.pos, "unexpected text after the value");
  }
  if (p.failed) {
    ax_json_free (root);
    return NULL;
  }
  return root;
}

const ax_json *
ax_json_get (const ax_json *obj, const char *key)
{
  if (!obj || obj->type != AX_JSON_OBJECT || !key)
    return NULL;
  for (size_t i = 0; i < obj->count; i++)
    if (strcmp (obj->keys[i], key) == 0)
      return &obj->items[i];
  return NULL;
}

char **
ax_json_parse_string_array (const char *text, size_t len, size_t *count,
    char *err, size_t err_len)
{
  ax_json *root = ax_json_parse (text, len, err, err_len);
  char **out = NULL;
  if (!root)
    return NULL;
  size_t bytes = 0;
  for (size_t i = 0; root->type == AX_JSON_ARRAY && i < root->count; i++) {
    if (root->items[i].type != AX_JSON_STRING) {
      snprintf (err, err_len, "element %zu is not a string", i);
      goto done;
    }
    bytes += strlen (root->items[i].string) + 1;
  }
  if (root->type != AX_JSON_ARRAY) {
    snprintf (err, err_len, "not a JSON array");
    goto done;
  }
  size_t table = (root->count + 1) * sizeof (char *);
  if (!(out = malloc (table + bytes))) {
    snprintf (err, err_len, "out of memory");
    goto done;
  }
  char *dst = (char *) out + table;
  for (size_t i = 0; i < root->count; i++) {
    size_t n = strlen (root->items[i].string) + 1;
    out[i] = memcpy (dst, root->items[i].string, n);
    dst += n;
  }
  out[root->count] = NULL;
  *count = root->count;
done:
  ax_json_free (root);
  return out;
}

static int
strbuf_reserve (ax_strbuf *b, size_t extra)
{
  if (b->failed)
    return 0;
  if (b->len + extra + 1 <= b->cap)
    return 1;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1)
    cap *= 2;
  char *d = realloc (b->data, cap);
  if (!d) {
    b->failed = 1;
    return 0;
  }
  b->data = d;
  b->cap = cap;
  return 1;
}

void
ax_strbuf_append (ax_strbuf *b, const char *s, size_t n)
{
  if (!strbuf_reserve (b, n))
    return;
  memcpy (b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void
ax_strbuf_puts (ax_strbuf *b, const char *s)
{
  ax_strbuf_append (b, s, strlen (s));
}

void
ax_strbuf_printf (ax_strbuf *b, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (NULL, 0, fmt, ap);
  va_end (ap);
  if (n < 0 || !strbuf_reserve (b, (size_t) n)) {
    b->failed = 1;
    return;
  }
  va_start (ap, fmt);
  vsnprintf (b->data + b->len, (size_t) n + 1, fmt, ap);
  va_end (ap);
  b->len += (size_t) n;
}

void
ax_strbuf_free (ax_strbuf *b)
{
  free (b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->failed = 0;
}

void
ax_json_append_string (ax_strbuf *b, const char *s)
{
  static const char named[] = "btnvfr";   /* \b \t \n (\v has none) \f \r */
  const unsigned char *u = (const unsigned char *) s;
  size_t left = strlen (s);
  ax_strbuf_append (b, "\"", 1);
  while (left > 0) {
    /* the longest run copied as it is: printable, not '"' or '\', UTF-8 */
    size_t run = 0, k;
    while (run < left && u[run] >= 0x20 && u[run] != '"' && u[run] != '\\'
        && (k = utf8_seq_len (u + run, left - run)) != 0)
      run += k;
    ax_strbuf_append (b, (const char *) u, run);
    u += run;
    left -= run;
    if (left == 0)
      break;
    unsigned c = *u;
    if (c == '"' || c == '\\')
      ax_strbuf_printf (b, "\\%c", c);
    else if (c >= '\b' && c <= '\r' && c != '\v')
      ax_strbuf_printf (b, "\\%c", named[c - '\b']);
    else if (c < 0x20)
      ax_strbuf_printf (b, "\\u%04x", c);
    else
      ax_strbuf_puts (b, "\xef\xbf\xbd");       /* not UTF-8: U+FFFD */
    u++;
    left--;
  }
  ax_strbuf_append (b, "\"", 1);
}

/* --- numbers, locale-independent --- */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void
make_c_locale (void)
{
  c_locale = newlocale (LC_NUMERIC_MASK, "C", (locale_t) 0);
}

/* The C locale for numbers; (locale_t) 0 only if newlocale failed, which
 * for "C" it does not (glibc builds it in). */
static locale_t
numeric_c_locale (void)
{
  pthread_once (&c_locale_once, make_c_locale);
  return c_locale;
}

double
ax_json_strtod (const char *s, char **end)
{
  locale_t c = numeric_c_locale ();
  if (c)
    return strtod_l (s, end, c);
  /* no C locale object: the text with the locale's own decimal point */
  char tmp[AX_JSON_NUMBER_MAX * 4], *dot;
  snprintf (tmp, sizeof tmp, "%s", s);
  if ((dot = strchr (tmp, '.')) && localeconv ()->decimal_point[0])
    *dot = localeconv ()->decimal_point[0];
  char *e;
  double v = strtod (tmp, &e);
  if (end)
    *end = (char *) s + (e - tmp);
  return v;
}

/* snprintf "%.*g" in the C locale (this thread only, restored after). */
static int
format_g (char *buf, int digits, double v)
{
  locale_t c = numeric_c_locale (), old = (locale_t) 0;
  if (c)
    old = uselocale (c);
  int n = snprintf (buf, AX_JSON_NUMBER_MAX, "%.*g", digits, v);
  if (c)
    uselocale (old);
  if (!c) {
    /* replace whatever decimal point the locale wrote */
    char *p = buf;
    while (*p && (*p == '-' || (*p >= '0' && *p <= '9')))
      p++;
    if (*p && *p != 'e') {
      size_t dp = strlen (localeconv ()->decimal_point);
      *p = '.';
      memmove (p + 1, p + dp, strlen (p + dp) + 1);
      n = (int) strlen (buf);
    }
  }
  return n;
}

int
ax_json_format_double (char *buf, double v)
{
  if (!isfinite (v))
    return snprintf (buf, AX_JSON_NUMBER_MAX, "null");
  int n = 0;
  for (int digits = 15; digits <= 17; digits++) {
    n = format_g (buf, digits, v);
    if (ax_json_strtod (buf, NULL) == v)
      break;
  }
  return n;
}

int
ax_json_format_float (char *buf, float v)
{
  if (!isfinite (v))
    return snprintf (buf, AX_JSON_NUMBER_MAX, "null");
  int n = 0;
  for (int digits = 6; digits <= 9; digits++) {
    n = format_g (buf, digits, v);
    if ((float) ax_json_strtod (buf, NULL) == v)
      break;
  }
  return n;
}

/* --- the writer --- */

static void
writer_fail (ax_json_writer *w)
{
  w->out.failed = 1;
}

static void
newline (ax_json_writer *w)
{
  ax_strbuf_append (&w->out, "\n", 1);
  for (int i = 0; i < w->depth; i++)
    ax_strbuf_append (&w->out, "  ", 2);
}

/* Before any value: a comma and a new line where needed; 0 when a key is
 * due instead (the writer is marked failed). */
static int
before_value (ax_json_writer *w)
{
  if (w->out.failed)
    return 0;
  if (w->depth < 0 || w->depth > AX_JSON_MAX_DEPTH)
    return writer_fail (w), 0;
  if (w->depth > 0 && w->is_object[w->depth]) {
    if (!w->after_key)
      return writer_fail (w), 0;
    w->after_key = 0;
    return 1;
  }
  if (w->depth == 0 && w->count[0] > 0)
    return writer_fail (w), 0;     /* one value at the top */
  if (w->count[w->depth])
    ax_strbuf_append (&w->out, ",", 1);
  w->count[w->depth] = 1;
  if (w->pretty && w->depth > 0)
    newline (w);
  return 1;
}

static void
begin (ax_json_writer *w, int object)
{
  if (!before_value (w))
    return;
  if (w->depth >= AX_JSON_MAX_DEPTH)
    return writer_fail (w);
  ax_strbuf_append (&w->out, object ? "{" : "[", 1);
  w->depth++;
  w->count[w->depth] = 0;
  w->is_object[w->depth] = (unsigned char) object;
}

static void
end (ax_json_writer *w, int object)
{
  if (w->out.failed)
    return;
  if (w->depth <= 0 || w->depth > AX_JSON_MAX_DEPTH
      || w->is_object[w->depth] != object || w->after_key)
    return writer_fail (w);
  int had = w->count[w->depth];
  w->depth--;
  if (w->pretty && had)
    newline (w);
  ax_strbuf_append (&w->out, object ? "}" : "]", 1);
  if (w->depth == 0)
    w->count[0] = 1;
}

void ax_json_begin_object (ax_json_writer *w) { begin (w, 1); }
void ax_json_end_object (ax_json_writer *w) { end (w, 1); }
void ax_json_begin_array (ax_json_writer *w) { begin (w, 0); }
void ax_json_end_array (ax_json_writer *w) { end (w, 0); }

void
ax_json_key (ax_json_writer *w, const char *key)
{
  if (w->out.failed)
    return;
  if (w->depth <= 0 || w->depth > AX_JSON_MAX_DEPTH
      || !w->is_object[w->depth] || w->after_key || !key)
    return writer_fail (w);
  if (w->count[w->depth])
    ax_strbuf_append (&w->out, ",", 1);
  w->count[w->depth] = 1;
  if (w->pretty)
    newline (w);
  ax_json_append_string (&w->out, key);
  ax_strbuf_puts (&w->out, w->pretty ? ": " : ":");
  w->after_key = 1;
}

static void
scalar (ax_json_writer *w, const char *text)
{
  if (before_value (w)) {
    ax_strbuf_puts (&w->out, text);
    if (w->depth == 0)
      w->count[0] = 1;
  }
}

void
ax_json_string (ax_json_writer *w, const char *s)
{
  if (!s) {
    scalar (w, "null");
  } else if (before_value (w)) {
    ax_json_append_string (&w->out, s);
    if (w->depth == 0)
      w->count[0] = 1;
  }
}

void
ax_json_int (ax_json_writer *w, int64_t v)
{
  char buf[AX_JSON_NUMBER_MAX];
  snprintf (buf, sizeof buf, "%lld", (long long) v);
  scalar (w, buf);
}

void
ax_json_uint (ax_json_writer *w, uint64_t v)
{
  char buf[AX_JSON_NUMBER_MAX];
  snprintf (buf, sizeof buf, "%llu", (unsigned long long) v);
  scalar (w, buf);
}

void
ax_json_double (ax_json_writer *w, double v)
{
  char buf[AX_JSON_NUMBER_MAX];
  ax_json_format_double (buf, v);
  scalar (w, buf);
}

void
ax_json_float (ax_json_writer *w, float v)
{
  char buf[AX_JSON_NUMBER_MAX];
  ax_json_format_float (buf, v);
  scalar (w, buf);
}

void ax_json_bool (ax_json_writer *w, int v) { scalar (w, v ? "true" : "false"); }
void ax_json_null (ax_json_writer *w) { scalar (w, "null"); }
void ax_json_raw (ax_json_writer *w, const char *json) { scalar (w, json); }

void
ax_json_doubles (ax_json_writer *w, const double *v, size_t n)
{
  ax_json_begin_array (w);
  for (size_t i = 0; i < n; i++)
    ax_json_double (w, v[i]);
  ax_json_end_array (w);
}

void
ax_json_floats (ax_json_writer *w, const float *v, size_t n)
{
  ax_json_begin_array (w);
  for (size_t i = 0; i < n; i++)
    ax_json_float (w, v[i]);
  ax_json_end_array (w);
}
