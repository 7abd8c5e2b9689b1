/* json.h — a small strict JSON reader and a string writer.
 *
 * The reader covers what safetensors headers and lnet's own files need:
 * objects, arrays, strings (all escapes, \u with surrogate pairs, decoded to
 * UTF-8) and integers that fit int64_t. Fractions, exponents, true/false/null,
 * trailing commas, comments, control characters in strings, NUL (\u0000) in
 * strings, duplicate object keys and nesting deeper than RT_JSON_MAX_DEPTH are
 * errors. Whitespace may surround the top-level value; nothing else may.
 *
 * The result is a tree of RtJson values owned by the root (rt_json_free).
 * Every value records the byte span of its source text, so a caller can keep
 * a sub-object verbatim (safetensors' __metadata__).
 */
#ifndef LNET_RT_JSON_H
#define LNET_RT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RT_JSON_MAX_DEPTH 64

typedef enum { RT_JSON_OBJECT, RT_JSON_ARRAY, RT_JSON_STRING, RT_JSON_INT } RtJsonKind;

typedef struct RtJson RtJson;
struct RtJson {
  RtJsonKind kind;
  size_t begin, end; /* source span [begin, end) of this value */
  char *str;         /* STRING: decoded text, NUL-terminated */
  size_t len;        /* STRING: bytes in str, without the NUL */
  int64_t num;       /* INT: the value */
  int n;             /* OBJECT/ARRAY: number of members */
  RtJson *items;     /* OBJECT/ARRAY: (n) member values, in source order */
  char **keys;       /* OBJECT: (n) decoded keys, parallel to items */
};

/* Parses text[0..len) into *out (caller-owned struct, callee-owned contents).
 * On failure returns false, leaves *out empty (safe to rt_json_free), and
 * writes "offset N: what is wrong" into err. */
bool rt_json_parse(const char *text, size_t len, RtJson *out, char *err, size_t errcap);

/* Frees what rt_json_parse allocated inside v (not v itself). */
void rt_json_free(RtJson *v);

/* Member of an object by key, or NULL (also when obj is not an object). */
const RtJson *rt_json_get(const RtJson *obj, const char *key);

/* Writes s as a JSON string literal (quotes included), escaping '"', '\\' and
 * every control character; bytes >= 0x80 pass through (UTF-8 stays UTF-8).
 * Returns false if the stream reports a write error. */
bool rt_json_write_string(FILE *f, const char *s);

#endif
