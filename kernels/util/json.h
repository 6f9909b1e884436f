/* A small, strict JSON parser and writer helpers for the compute core's file
 * formats (checkpoint headers now, statistics and lists later): RFC 8259
 * only — no comments, no trailing commas, UTF-8 checked, nesting bounded. */
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
                           * order of the text; duplicates are kept */
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
 * \n, \t, ... or \u00XX; other bytes (UTF-8) copied as they are. */
void ax_json_append_string (ax_strbuf *b, const char *s);

#ifdef __cplusplus
}
#endif
#endif
