/* The one JSON writer (kernels/util/json.h): exact text for every kind of
 * value, nesting and commas, RFC 8259 escaping (control characters, quotes,
 * UTF-8 kept, bytes that are not UTF-8 as U+FFFD), numbers that read back
 * exactly and look the same whatever the locale (the test switches
 * LC_NUMERIC to a comma locale when one is installed: tests/locale/ runs
 * the elements under de_DE.UTF-8), misuse marked failed; and the reader's
 * bounds: duplicate keys refused. */
#include "kernels/util/json.h"
#include "tests/ax_test.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
check_text (ax_json_writer *w, const char *want, const char *what)
{
  AX_CHECK (!w->out.failed && w->out.data && strcmp (w->out.data, want) == 0,
      "%s: got '%s', want '%s'", what, w->out.data ? w->out.data : "(none)",
      want);
  /* and it reads back */
  char err[128];
  ax_json *j = ax_json_parse (w->out.data, w->out.len, err, sizeof err);
  AX_CHECK (j != NULL, "%s: does not read back: %s", what, err);
  ax_json_free (j);
  ax_strbuf_free (&w->out);
  memset (w, 0, sizeof *w);
}

static void
test_values (void)
{
  ax_json_writer w = { 0 };
  ax_json_begin_object (&w);
  ax_json_key (&w, "s");
  ax_json_string (&w, "a\"b\\c\n\t\x01\x1f/\xc3\xa9");
  ax_json_key (&w, "null string");
  ax_json_string (&w, NULL);
  ax_json_key (&w, "i");
  ax_json_int (&w, INT64_MIN);
  ax_json_key (&w, "u");
  ax_json_uint (&w, UINT64_MAX);
  ax_json_key (&w, "d");
  ax_json_double (&w, 0.1);
  ax_json_key (&w, "f");
  ax_json_float (&w, 0.485f);
  ax_json_key (&w, "nan");
  ax_json_double (&w, NAN);
  ax_json_key (&w, "inf");
  ax_json_float (&w, INFINITY);
  ax_json_key (&w, "b");
  ax_json_bool (&w, 1);
  ax_json_key (&w, "e");
  ax_json_begin_array (&w);
  ax_json_end_array (&w);
  ax_json_key (&w, "a");
  ax_json_begin_array (&w);
  ax_json_null (&w);
  ax_json_raw (&w, "{\"x\":1}");
  ax_json_end_array (&w);
  ax_json_end_object (&w);
  check_text (&w, "{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001\\u001f/\xc3\xa9\","
      "\"null string\":null,\"i\":-9223372036854775808,"
      "\"u\":18446744073709551615,\"d\":0.1,\"f\":0.485,\"nan\":null,"
      "\"inf\":null,\"b\":true,\"e\":[],\"a\":[null,{\"x\":1}]}", "values");

  /* more than 255 values at one level still get their commas */
  ax_json_begin_array (&w);
  for (int i = 0; i < 300; i++)
    ax_json_int (&w, i % 10);
  ax_json_end_array (&w);
  AX_CHECK (!w.out.failed && w.out.len == 2 + 300 + 299, "300 values: %zu "
      "bytes", w.out.len);
  ax_strbuf_free (&w.out);
  memset (&w, 0, sizeof w);

  w.pretty = 1;
  ax_json_begin_object (&w);
  ax_json_key (&w, "m");
  ax_json_begin_array (&w);
  ax_json_int (&w, 1);
  ax_json_int (&w, 2);
  ax_json_end_array (&w);
  ax_json_key (&w, "o");
  ax_json_begin_object (&w);
  ax_json_end_object (&w);
  ax_json_end_object (&w);
  check_text (&w, "{\n  \"m\": [\n    1,\n    2\n  ],\n  \"o\": {}\n}",
      "pretty");
}

/* Bytes that are not UTF-8 become U+FFFD, one per byte, so the text is
 * always valid; good UTF-8 (2, 3, 4 bytes) is copied. */
static void
test_invalid_utf8 (void)
{
  ax_json_writer w = { 0 };
  ax_json_string (&w, "a\xff" "b\xc3" "\xe2\x82\xac\xf0\x9f\x90\x9f\xe2\x82");
  check_text (&w, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd" "\xe2\x82\xac"
      "\xf0\x9f\x90\x9f\xef\xbf\xbd\xef\xbf\xbd\"", "invalid UTF-8");
}

/* The shortest text that reads back as the same number, in every locale. */
static void
test_numbers_round_trip (void)
{
  char buf[AX_JSON_NUMBER_MAX];
  const double d[] = { 0.0, -0.0, 1.0, 0.1, 1.0 / 3.0, 1e-300, 5e-324,
    1.7976931348623157e308, 0.015, 123456789.125, -2.5e-7 };
  for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
    ax_json_format_double (buf, d[i]);
    AX_CHECK (ax_json_strtod (buf, NULL) == d[i] && !strchr (buf, ','),
        "double %.17g written '%s'", d[i], buf);
  }
  const float f[] = { 0.485f, 0.229f, 1e-4f, 3.4028235e38f, 1.4e-45f,
    0.1f + 0.2f };
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    ax_json_format_float (buf, f[i]);
    AX_CHECK ((float) ax_json_strtod (buf, NULL) == f[i]
        && !strchr (buf, ','), "float %.9g written '%s'", f[i], buf);
  }
  ax_json_format_float (buf, 0.485f);
  AX_CHECK (strcmp (buf, "0.485") == 0, "0.485f is '%s'", buf);
  ax_json_format_double (buf, 0.015);
  AX_CHECK (strcmp (buf, "0.015") == 0, "0.015 is '%s'", buf);
  char *end;
  AX_CHECK (ax_json_strtod ("2.5x", &end) == 2.5 && *end == 'x', "strtod end");
}

static void
test_misuse (void)
{
  ax_json_writer w = { 0 };
  ax_json_begin_object (&w);
  ax_json_int (&w, 1);            /* a value where a key is due */
  AX_CHECK (w.out.failed, "value without a key accepted");
  ax_strbuf_free (&w.out);
  memset (&w, 0, sizeof w);
  ax_json_begin_array (&w);
  ax_json_end_object (&w);        /* unbalanced */
  AX_CHECK (w.out.failed, "] closed by }");
  ax_strbuf_free (&w.out);
  memset (&w, 0, sizeof w);
  for (int i = 0; i <= AX_JSON_MAX_DEPTH; i++)
    ax_json_begin_array (&w);
  AX_CHECK (w.out.failed, "nested deeper than the reader reads");
  ax_strbuf_free (&w.out);
  memset (&w, 0, sizeof w);
  ax_json_int (&w, 1);
  ax_json_int (&w, 2);            /* two values at the top */
  AX_CHECK (w.out.failed, "two top-level values");
  ax_strbuf_free (&w.out);
}

static void
test_reader_bounds (void)
{
  char err[128];
  const char *dup = "{\"a\":1,\"b\":{\"c\":1,\"c\":2}}";
  AX_CHECK (!ax_json_parse (dup, strlen (dup), err, sizeof err)
      && strstr (err, "\"c\" appears twice"), "duplicate key: %s", err);
  AX_CHECK (!ax_json_parse ("[0,5]x", 6, err, sizeof err), "trailing text");
  AX_CHECK (!ax_json_parse ("1", AX_JSON_MAX_TEXT + 1, err, sizeof err)
      && strstr (err, "bound"), "oversized text: %s", err);
  ax_json *j = ax_json_parse ("[0.5]", 5, err, sizeof err);
  AX_CHECK (j && j->items[0].number == 0.5, "0.5 read as %g", j ?
      j->items[0].number : -1.0);
  ax_json_free (j);
}

int
main (void)
{
  AX_RUN (test_values);
  AX_RUN (test_invalid_utf8);
  AX_RUN (test_numbers_round_trip);
  AX_RUN (test_misuse);
  AX_RUN (test_reader_bounds);
  /* the same again with a comma as decimal point, where installed */
  const char *comma[] = { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8" };
  const char *used = NULL;
  for (size_t i = 0; i < sizeof comma / sizeof comma[0] && !used; i++)
    if (setlocale (LC_ALL, comma[i]) && localeconv ()->decimal_point[0] == ',')
      used = comma[i];
  if (used) {
    printf ("again in %s\n", used);
    AX_RUN (test_values);
    AX_RUN (test_numbers_round_trip);
    AX_RUN (test_reader_bounds);
  } else {
    printf ("no comma locale installed here: tests/locale covers it\n");
  }
  return ax_test_finish ();
}
