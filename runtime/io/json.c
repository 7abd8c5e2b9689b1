/* json.c — recursive-descent strict JSON reader and string writer.
 * Grammar handled (RFC 8259 minus numbers that are not integers and minus
 * literals):  value = object | array | string | integer
 * All input is bounded by (text, len); the reader never looks past len. */
#include "json.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct Reader {
  const char *s;
  size_t len, pos;
  int depth;
  char *err;
  size_t errcap;
  bool failed;
} Reader;

static bool fail(Reader *r, const char *fmt, ...) {
  if (r->failed) return false;
  r->failed = true;
  int k = snprintf(r->err, r->errcap, "offset %zu: ", r->pos);
  if (k >= 0 && (size_t)k < r->errcap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + k, r->errcap - (size_t)k, fmt, ap);
    va_end(ap);
  }
  return false;
}

static int peek(const Reader *r) { return r->pos < r->len ? (unsigned char)r->s[r->pos] : -1; }

static void skip_ws(Reader *r) {
  while (r->pos < r->len) {
    char c = r->s[r->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    r->pos++;
  }
}

static bool expect(Reader *r, char c) {
  skip_ws(r);
  if (peek(r) != (unsigned char)c) {
    if (peek(r) < 0) return fail(r, "unexpected end of text, expected '%c'", c);
    return fail(r, "expected '%c', found '%c'", c, r->s[r->pos]);
  }
  r->pos++;
  return true;
}

static bool parse_value(Reader *r, RtJson *v);

/* ---- strings ---- */

typedef struct Buf {
  char *p;
  size_t n, cap;
} Buf;

static bool buf_push(Buf *b, char c) {
  if (b->n + 1 >= b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 32;
    char *p = realloc(b->p, cap);
    if (!p) return false;
    b->p = p;
    b->cap = cap;
  }
  b->p[b->n++] = c;
  b->p[b->n] = '\0';
  return true;
}

static bool buf_push_utf8(Buf *b, uint32_t cp) {
  if (cp < 0x80) return buf_push(b, (char)cp);
  if (cp < 0x800)
    return buf_push(b, (char)(0xC0 | (cp >> 6))) && buf_push(b, (char)(0x80 | (cp & 0x3F)));
  if (cp < 0x10000)
    return buf_push(b, (char)(0xE0 | (cp >> 12))) &&
           buf_push(b, (char)(0x80 | ((cp >> 6) & 0x3F))) &&
           buf_push(b, (char)(0x80 | (cp & 0x3F)));
  return buf_push(b, (char)(0xF0 | (cp >> 18))) &&
         buf_push(b, (char)(0x80 | ((cp >> 12) & 0x3F))) &&
         buf_push(b, (char)(0x80 | ((cp >> 6) & 0x3F))) &&
         buf_push(b, (char)(0x80 | (cp & 0x3F)));
}

/* Four hex digits after "\u"; r->pos is at the first digit. */
static bool read_hex4(Reader *r, uint32_t *out) {
  if (r->len - r->pos < 4) return fail(r, "truncated \\u escape");
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = r->s[r->pos + (size_t)i];
    int d = c >= '0' && c <= '9' ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return fail(r, "bad hex digit in \\u escape");
    v = v * 16 + (uint32_t)d;
  }
  r->pos += 4;
  *out = v;
  return true;
}

/* "\uXXXX" or a surrogate pair "\uD8xx\uDCxx" → one code point. */
static bool read_unicode(Reader *r, uint32_t *cp) {
  if (!read_hex4(r, cp)) return false;
  if (*cp >= 0xDC00 && *cp <= 0xDFFF) return fail(r, "lone low surrogate in \\u escape");
  if (*cp < 0xD800 || *cp > 0xDBFF) return true;
  uint32_t lo;
  if (r->len - r->pos < 2 || r->s[r->pos] != '\\' || r->s[r->pos + 1] != 'u')
    return fail(r, "high surrogate not followed by \\u low surrogate");
  r->pos += 2;
  if (!read_hex4(r, &lo)) return false;
  if (lo < 0xDC00 || lo > 0xDFFF) return fail(r, "high surrogate not followed by low surrogate");
  *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
  return true;
}

static bool read_escape(Reader *r, Buf *b) {
  if (r->pos >= r->len) return fail(r, "unterminated string");
  char c = r->s[r->pos++];
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  const char *hit = c ? strchr(from, c) : NULL;
  if (hit) return buf_push(b, to[hit - from]) || fail(r, "out of memory");
  if (c != 'u') return fail(r, "bad escape '\\%c'", c);
  uint32_t cp;
  if (!read_unicode(r, &cp)) return false;
  if (cp == 0) return fail(r, "\\u0000 in string is not supported");
  return buf_push_utf8(b, cp) || fail(r, "out of memory");
}

/* string = '"' { char | escape } '"' ; r->pos is at the opening quote. */
static bool parse_string(Reader *r, char **out, size_t *outlen) {
  Buf b = {0};
  r->pos++;
  bool ok = buf_push(&b, 0) || fail(r, "out of memory");
  b.n = 0;
  while (ok) {
    if (r->pos >= r->len) {
      ok = fail(r, "unterminated string");
      break;
    }
    unsigned char c = (unsigned char)r->s[r->pos];
    if (c == '"') break;
    if (c < 0x20) {
      ok = fail(r, "control character 0x%02x in string", c);
      break;
    }
    r->pos++;
    ok = c == '\\' ? read_escape(r, &b) : (buf_push(&b, (char)c) || fail(r, "out of memory"));
  }
  if (!ok) {
    free(b.p);
    return false;
  }
  r->pos++;
  *out = b.p;
  *outlen = b.n;
  return true;
}

/* ---- numbers ---- */

/* integer = [ '-' ] ( '0' | [1-9][0-9]* ), must fit int64_t. */
static bool parse_int(Reader *r, int64_t *out) {
  bool neg = peek(r) == '-';
  if (neg) r->pos++;
  if (peek(r) < '0' || peek(r) > '9') return fail(r, "expected a digit");
  if (peek(r) == '0' && r->pos + 1 < r->len && r->s[r->pos + 1] >= '0' && r->s[r->pos + 1] <= '9')
    return fail(r, "leading zero in number");
  uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  while (peek(r) >= '0' && peek(r) <= '9') {
    uint64_t d = (uint64_t)(r->s[r->pos] - '0');
    if (v > (limit - d) / 10) return fail(r, "integer out of range");
    v = v * 10 + d;
    r->pos++;
  }
  int c = peek(r);
  if (c == '.' || c == 'e' || c == 'E') return fail(r, "only integer numbers are supported");
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

/* ---- containers ---- */

/* Appends a zeroed slot to v's members; returns its index or -1. */
static int grow(Reader *r, RtJson *v, int *cap, bool with_key) {
  if (v->n == *cap) {
    if (*cap > (1 << 26)) return fail(r, "too many members"), -1;
    int nc = *cap ? *cap * 2 : 8;
    RtJson *items = realloc(v->items, (size_t)nc * sizeof *items);
    if (items) v->items = items;
    char **keys = with_key ? realloc(v->keys, (size_t)nc * sizeof *keys) : NULL;
    if (keys) v->keys = keys;
    if (!items || (with_key && !keys)) return fail(r, "out of memory"), -1;
    *cap = nc;
  }
  memset(&v->items[v->n], 0, sizeof v->items[0]);
  if (with_key) v->keys[v->n] = NULL;
  return v->n++;
}

/* member = string ':' value ; *at gets the key's offset. */
static bool parse_member(Reader *r, RtJson *v, int *cap, size_t *at) {
  skip_ws(r);
  if (peek(r) != '"') return fail(r, "expected a string key");
  *at = r->pos;
  size_t klen;
  int i = grow(r, v, cap, true);
  if (i < 0 || !parse_string(r, &v->keys[i], &klen)) return false;
  return expect(r, ':') && parse_value(r, &v->items[i]);
}

/* Member indices sorted by key, ties by position (qsort_r is not C11). */
typedef struct KeyRef {
  const char *key;
  int idx;
} KeyRef;

static int cmp_keyref(const void *a, const void *b) {
  const KeyRef *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Object keys must be unique: sorted, equal keys are neighbours, so the check
 * is O(n log n) (a pairwise scan took minutes on a 200k-entry header). The
 * error points at the first duplicate in source order, at[i] being the offset
 * of key i. */
static bool check_unique_keys(Reader *r, const RtJson *v, const size_t *at) {
  if (v->n < 2) return true;
  KeyRef *ks = malloc((size_t)v->n * sizeof *ks);
  if (!ks) return fail(r, "out of memory");
  for (int i = 0; i < v->n; i++) ks[i] = (KeyRef){v->keys[i], i};
  qsort(ks, (size_t)v->n, sizeof *ks, cmp_keyref);
  int dup = -1;
  for (int i = 1; i < v->n; i++)
    if (strcmp(ks[i - 1].key, ks[i].key) == 0 && (dup < 0 || ks[i].idx < dup)) dup = ks[i].idx;
  free(ks);
  if (dup < 0) return true;
  r->pos = at[dup];
  return fail(r, "duplicate key \"%s\"", v->keys[dup]);
}

/* Room for one more key offset in *at (capacity *cap). */
static bool grow_offsets(Reader *r, size_t **at, int *cap, int n) {
  if (n < *cap) return true;
  int nc = *cap ? *cap * 2 : 8;
  size_t *p = realloc(*at, (size_t)nc * sizeof *p);
  if (!p) return fail(r, "out of memory");
  *at = p;
  *cap = nc;
  return true;
}

/* object = '{' [ member { ',' member } ] '}'  or  array = '[' [ value { ',' value } ] ']' */
static bool parse_container(Reader *r, RtJson *v, bool object) {
  char close = object ? '}' : ']';
  int cap = 0, at_cap = 0;
  size_t *at = NULL; /* OBJECT: (n) offsets of the keys, for the duplicate error */
  v->kind = object ? RT_JSON_OBJECT : RT_JSON_ARRAY;
  if (++r->depth > RT_JSON_MAX_DEPTH) return fail(r, "nesting deeper than %d", RT_JSON_MAX_DEPTH);
  r->pos++;
  skip_ws(r);
  bool ok = true, more = peek(r) != (unsigned char)close;
  if (!more) r->pos++;
  while (ok && more) {
    int i;
    ok = object ? grow_offsets(r, &at, &at_cap, v->n) && parse_member(r, v, &cap, &at[v->n])
                : ((i = grow(r, v, &cap, false)) >= 0 && parse_value(r, &v->items[i]));
    skip_ws(r);
    more = ok && peek(r) == ',';
    if (more)
      r->pos++;
    else
      ok = ok && expect(r, close);
  }
  ok = ok && (!object || check_unique_keys(r, v, at));
  free(at);
  r->depth--;
  return ok;
}

static bool parse_value(Reader *r, RtJson *v) {
  skip_ws(r);
  v->begin = r->pos;
  int c = peek(r);
  bool ok;
  if (c == '{' || c == '[') {
    ok = parse_container(r, v, c == '{');
  } else if (c == '"') {
    v->kind = RT_JSON_STRING;
    ok = parse_string(r, &v->str, &v->len);
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    v->kind = RT_JSON_INT;
    ok = parse_int(r, &v->num);
  } else {
    ok = c < 0 ? fail(r, "unexpected end of text, expected a value")
               : fail(r, "unexpected character '%c'", (char)c);
  }
  v->end = r->pos;
  return ok;
}

bool rt_json_parse(const char *text, size_t len, RtJson *out, char *err, size_t errcap) {
  Reader r = {.s = text, .len = len, .err = err, .errcap = errcap};
  memset(out, 0, sizeof *out);
  bool ok = parse_value(&r, out);
  if (ok) {
    skip_ws(&r);
    if (r.pos != len) ok = fail(&r, "trailing characters after the value");
  }
  if (!ok) rt_json_free(out);
  return ok;
}

void rt_json_free(RtJson *v) {
  if (!v) return;
  for (int i = 0; i < v->n; i++) {
    if (v->items) rt_json_free(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->str);
  memset(v, 0, sizeof *v);
}

const RtJson *rt_json_get(const RtJson *obj, const char *key) {
  if (!obj || obj->kind != RT_JSON_OBJECT) return NULL;
  for (int i = 0; i < obj->n; i++)
    if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
  return NULL;
}

bool rt_json_write_string(FILE *f, const char *s) {
  bool ok = fputc('"', f) != EOF;
  for (const unsigned char *p = (const unsigned char *)s; ok && *p; p++) {
    const char *esc = *p == '"' ? "\\\"" : *p == '\\' ? "\\\\" : *p == '\n' ? "\\n"
                    : *p == '\r' ? "\\r" : *p == '\t' ? "\\t" : NULL;
    if (esc) ok = fputs(esc, f) != EOF;
    else if (*p < 0x20 || *p == 0x7F) ok = fprintf(f, "\\u%04x", *p) > 0;
    else ok = fputc(*p, f) != EOF;
  }
  return ok && fputc('"', f) != EOF;
}
