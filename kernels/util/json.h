/* The project's one JSON reader and one JSON writer, for every file other
 * programs read (checkpoint headers and metadata, metrics, results,
 * statistics). The reader is strict and bounded: RFC 8259 only (no
 * comments, no trailing commas, no NaN), UTF-8 checked, nesting, text,
 * number lengths bounded, duplicate object keys refused. Both read and
 * write numbers the same in every locale (a '.' decimal point whatever
 * LC_NUMERIC says) and the writer escapes strings as RFC 8259 says. */
#ifndef AX_JSON_H
#define AX_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Arrays and objects nested deeper than this are refused (no deep recursion
 * on hostile input). */
#define AX_JSON_MAX_DEPTH 64
/* Texts longer than this are refused before any parsing (a safetensors
 * header is bounded by 100 MB by its own format). */
#define AX_JSON_MAX_TEXT ((size_t) 256 << 20)

typedef enum {
  AX_JSON_NULL = 0,
  AX_JSON_BOOL,
  AX_JSON_NUMBER,
  AX_JSON_STRING,
  AX_JSON_ARRAY,
  AX_JSON_OBJECT,
} ax_json_type;

typedef struct ax_json ax_json;

/* One parsed value; a parse returns the root, which owns everything below. */
struct ax_json {
  ax_json_type type;
  size_t offset;          /* byte offset of the value in the text */
  int boolean;            /* BOOL */
  double number;          /* NUMBER, always set */
  int is_integer;         /* NUMBER written without fraction or exponent and
                           * within int64: `integer` holds it exactly */
  int64_t integer;
  char *string;           /* STRING: decoded UTF-8, NUL-terminated (\u0000 is
                           * refused, so the length is strlen) */
  size_t count;           /* ARRAY elements / OBJECT members */
  ax_json *items;         /* ARRAY elements / OBJECT values, `count` of them */
  char **keys;            /* OBJECT member names, parallel to `items`, in the
                           * order of the text (a duplicate key is refused) */
};

/* Parses `len` bytes of `text` (no NUL needed) holding exactly one value,
 * with white space around it. NULL on failure, with a message such as
 * "at byte 17: expected ',' or '}' after an object member" in `err`. */
ax_json *ax_json_parse (const char *text, size_t len, char *err, size_t err_len);
void ax_json_free (ax_json *value);

/* The first member `key` of an object; NULL when `obj` is not an object or
 * has no such member. */
const ax_json *ax_json_get (const ax_json *obj, const char *key);

/* A JSON array of strings, e.g. class names, as one malloc block: `*count`
 * pointers followed by a NULL, then the strings. free() it once. NULL on
 * failure with the reason in `err`. */
char **ax_json_parse_string_array (const char *text, size_t len,
    size_t *count, char *err, size_t err_len);

/* 1 when the `len` bytes are well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing past U+10FFFF), else 0. */
int ax_utf8_valid (const char *s, size_t len);

/* A growable text buffer for writers. After an allocation failure it stays
 * `failed` and ignores further appends; `data` is NUL-terminated. */
typedef struct {
  char *data;
  size_t len, cap;
  int failed;
} ax_strbuf;

void ax_strbuf_append (ax_strbuf *b, const char *s, size_t n);
void ax_strbuf_puts (ax_strbuf *b, const char *s);
void ax_strbuf_printf (ax_strbuf *b, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
void ax_strbuf_free (ax_strbuf *b);
/* `s` as a quoted JSON string: '"' and '\' escaped, control characters as
 * \n, \t, ... or \u00XX; UTF-8 copied as it is; bytes that are not UTF-8
 * become U+FFFD, so the text written is always valid JSON in UTF-8. */
void ax_json_append_string (ax_strbuf *b, const char *s);

/* Numbers as text, the same in every locale ('.' as decimal point), into
 * buf (AX_JSON_NUMBER_MAX bytes, NUL-terminated); the length written.
 * ax_json_format_double: the shortest %g form (up to 17 digits) that reads
 * back as the same double; ax_json_format_float: the shortest from 6 to 9
 * digits that reads back as the same float (0.973f is "0.973"). NaN and
 * the infinities, which JSON cannot hold, are "null". */
#define AX_JSON_NUMBER_MAX 32
int ax_json_format_double (char *buf, double v);
int ax_json_format_float (char *buf, float v);
/* strtod in the C locale whatever the process's: JSON's '.' is always the
 * decimal point. */
double ax_json_strtod (const char *s, char **end);

/* A JSON writer: nesting and commas kept, keys and strings escaped, numbers
 * locale-independent. Values go after a key inside an object and as they
 * come inside an array. With `pretty` set objects and arrays put one
 * member per line, indented by two spaces. The text accumulates in `out`
 * (check out.failed, then use out.data; free with ax_strbuf_free). A
 * misuse (a value where a key is due, more than AX_JSON_MAX_DEPTH levels,
 * an unbalanced end) marks `out` failed. */
typedef struct {
  ax_strbuf out;
  int pretty;
  int depth;
  int after_key;
  unsigned char count[AX_JSON_MAX_DEPTH + 1];   /* 1: a value at this level */
  unsigned char is_object[AX_JSON_MAX_DEPTH + 1];
} ax_json_writer;

void ax_json_begin_object (ax_json_writer *w);
void ax_json_end_object (ax_json_writer *w);
void ax_json_begin_array (ax_json_writer *w);
void ax_json_end_array (ax_json_writer *w);
void ax_json_key (ax_json_writer *w, const char *key);
void ax_json_string (ax_json_writer *w, const char *s);  /* NULL: null */
void ax_json_int (ax_json_writer *w, int64_t v);
void ax_json_uint (ax_json_writer *w, uint64_t v);
void ax_json_double (ax_json_writer *w, double v);
void ax_json_float (ax_json_writer *w, float v);
void ax_json_bool (ax_json_writer *w, int v);
void ax_json_null (ax_json_writer *w);
/* n doubles or floats as an array */
void ax_json_doubles (ax_json_writer *w, const double *v, size_t n);
void ax_json_floats (ax_json_writer *w, const float *v, size_t n);
/* A value already written as JSON by this writer (e.g. a nested object
 * built apart), copied as it is. */
void ax_json_raw (ax_json_writer *w, const char *json);

#ifdef __cplusplus
}
#endif
#endif
