/* safetensors.c — strict reader of the safetensors layout (see safetensors.h).
 * Order of work: size and header length → JSON → each entry (dtype, shape,
 * offsets, sizes) → the entries tile the data section → read data → place
 * each tensor at an aligned address. Every check happens before any use. */
#include "rt_impl.h"
#include "safetensors.h"

#include "data.h"
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const dtype_names[] = {"F32", "I32", "U8", "I64"};
static const size_t dtype_sizes[] = {4, 4, 1, 8};
_Static_assert(sizeof dtype_names / sizeof dtype_names[0] == ST_I64 + 1, "dtype table");
_Static_assert(sizeof dtype_sizes / sizeof dtype_sizes[0] == ST_I64 + 1, "dtype table");

size_t st_dtype_size(StDType d) { return (unsigned)d <= ST_I64 ? dtype_sizes[d] : 0; }

const char *st_dtype_name(StDType d) { return (unsigned)d <= ST_I64 ? dtype_names[d] : "?"; }

int64_t st_numel(int rank, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (shape[i] < 0) return -1;
    if (shape[i] != 0 && n > INT64_MAX / shape[i]) return -1;
    n *= shape[i];
  }
  return n;
}


/* A tensor's validated byte range inside the data section. */
typedef struct Range {
  int64_t begin, end;
  int idx;
} Range;

static bool parse_dtype(const RtJson *v, StDType *out) {
  if (!v || v->kind != RT_JSON_STRING) return false;
  for (int d = 0; d <= ST_I64; d++)
    if (strcmp(v->str, dtype_names[d]) == 0) return *out = (StDType)d, true;
  return false;
}

/* shape: array of <= 8 non-negative integers, whose byte size fits. */
static const char *parse_shape(const RtJson *v, StTensor *t) {
  if (!v || v->kind != RT_JSON_ARRAY) return "\"shape\" missing or not an array";
  if (v->n > ST_MAX_RANK) return "rank exceeds 8";
  t->rank = v->n;
  for (int i = 0; i < v->n; i++) {
    if (v->items[i].kind != RT_JSON_INT || v->items[i].num < 0)
      return "shape entries must be non-negative integers";
    t->shape[i] = v->items[i].num;
  }
  int64_t numel = st_numel(t->rank, t->shape);
  int64_t es = (int64_t)st_dtype_size(t->dtype);
  if (numel < 0 || numel > INT64_MAX / es || (uint64_t)(numel * es) > SIZE_MAX)
    return "shape byte size overflows";
  t->nbytes = (size_t)(numel * es);
  return NULL;
}

static const char *parse_offsets(const RtJson *v, int64_t data_size, Range *r) {
  if (!v || v->kind != RT_JSON_ARRAY || v->n != 2 || v->items[0].kind != RT_JSON_INT ||
      v->items[1].kind != RT_JSON_INT)
    return "\"data_offsets\" must be an array of two integers";
  r->begin = v->items[0].num;
  r->end = v->items[1].num;
  if (r->begin < 0 || r->end < r->begin) return "data_offsets are not an ordered pair >= 0";
  if (r->end > data_size) return "data_offsets run past the end of the file";
  return NULL;
}

/* One tensor entry: {"dtype", "shape", "data_offsets"} and nothing else. */
static bool parse_entry(const char *path, const char *name, const RtJson *e, int64_t data_size,
                        StTensor *t, Range *r, char *err, size_t cap) {
  if (e->kind != RT_JSON_OBJECT)
    return rt_fail_path(err, cap, path, "tensor \"%s\": entry is not an object", name);
  for (int i = 0; i < e->n; i++)
    if (strcmp(e->keys[i], "dtype") && strcmp(e->keys[i], "shape") &&
        strcmp(e->keys[i], "data_offsets"))
      return rt_fail_path(err, cap, path, "tensor \"%s\": unknown field \"%s\"", name, e->keys[i]);
  const RtJson *dt = rt_json_get(e, "dtype");
  if (!parse_dtype(dt, &t->dtype))
    return rt_fail_path(err, cap, path, "tensor \"%s\": unsupported dtype %s%s%s", name,
                   dt && dt->str ? "\"" : "", dt && dt->str ? dt->str : "(missing)",
                   dt && dt->str ? "\" (expected F32, I32, U8 or I64)" : "");
  const char *msg = parse_shape(rt_json_get(e, "shape"), t);
  if (!msg) msg = parse_offsets(rt_json_get(e, "data_offsets"), data_size, r);
  if (msg) return rt_fail_path(err, cap, path, "tensor \"%s\": %s", name, msg);
  if ((uint64_t)(r->end - r->begin) != t->nbytes)
    return rt_fail_path(err, cap, path,
                   "tensor \"%s\": shape needs %zu bytes but data_offsets [%lld, %lld) span %lld",
                   name, t->nbytes, (long long)r->begin, (long long)r->end,
                   (long long)(r->end - r->begin));
  return true;
}

/* __metadata__: an object of string values, kept as raw header text. */
static bool parse_metadata(const char *path, const char *hdr, const RtJson *m, StFile *out,
                           char *err, size_t cap) {
  if (out->metadata_json) return rt_fail_path(err, cap, path, "duplicate __metadata__");
  if (m->kind != RT_JSON_OBJECT) return rt_fail_path(err, cap, path, "__metadata__ is not an object");
  for (int i = 0; i < m->n; i++)
    if (m->items[i].kind != RT_JSON_STRING)
      return rt_fail_path(err, cap, path, "__metadata__ value \"%s\" is not a string", m->keys[i]);
  size_t len = m->end - m->begin;
  out->metadata_json = malloc(len + 1);
  if (!out->metadata_json) return rt_fail_path(err, cap, path, "out of memory");
  memcpy(out->metadata_json, hdr + m->begin, len);
  out->metadata_json[len] = '\0';
  return true;
}

static int cmp_range(const void *a, const void *b) {
  const Range *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

/* Sorted, the ranges must cover [0, data_size) exactly, each after the last. */
static bool check_tiling(const char *path, const StFile *f, Range *rs, int64_t data_size,
                         char *err, size_t cap) {
  qsort(rs, (size_t)f->n, sizeof *rs, cmp_range);
  int64_t at = 0;
  for (int i = 0; i < f->n; i++) {
    const char *name = f->t[rs[i].idx].name;
    if (rs[i].begin < at)
      return rt_fail_path(err, cap, path, "tensor \"%s\" [%lld, %lld) overlaps tensor \"%s\"", name,
                     (long long)rs[i].begin, (long long)rs[i].end, f->t[rs[i - 1].idx].name);
    if (rs[i].begin > at)
      return rt_fail_path(err, cap, path, "gap in data before tensor \"%s\" at offset %lld", name,
                     (long long)rs[i].begin);
    at = rs[i].end;
  }
  if (at != data_size)
    return rt_fail_path(err, cap, path, "%lld bytes of data after the last tensor",
                   (long long)(data_size - at));
  return true;
}

/* Walks the header object: metadata, then every tensor entry in order. */
static bool parse_header(const char *path, const char *hdr, const RtJson *root, int64_t data_size,
                         StFile *out, Range *rs, char *err, size_t cap) {
  for (int i = 0; i < root->n; i++) {
    const char *key = root->keys[i];
    if (strcmp(key, "__metadata__") == 0) {
      if (!parse_metadata(path, hdr, &root->items[i], out, err, cap)) return false;
      continue;
    }
    StTensor *t = &out->t[out->n];
    Range *r = &rs[out->n];
    if (!parse_entry(path, key, &root->items[i], data_size, t, r, err, cap)) return false;
    t->name = strdup(key);
    if (!t->name) return rt_fail_path(err, cap, path, "out of memory");
    r->idx = out->n++;
  }
  return check_tiling(path, out, rs, data_size, err, cap);
}

/* Copies the data section into out->blob, each tensor at an address aligned
 * to its element size (the file's offsets are kept when they already are). */
static bool place_data(const char *path, StFile *out, const uint8_t *data, const Range *rs,
                       size_t data_size, char *err, size_t cap) {
  const size_t align = 8;
  bool aligned = true;
  size_t total = 0;
  for (int i = 0; i < out->n; i++) {
    aligned &= (size_t)rs[i].begin % st_dtype_size(out->t[rs[i].idx].dtype) == 0;
    total += (out->t[rs[i].idx].nbytes + align - 1) / align * align;
  }
  if (aligned) total = data_size;
  out->blob = malloc(total ? total : 1);
  if (!out->blob) return rt_fail_path(err, cap, path, "out of memory for %zu bytes of data", total);
  size_t at = 0;
  for (int i = 0; i < out->n; i++) {
    StTensor *t = &out->t[rs[i].idx];
    size_t dst = aligned ? (size_t)rs[i].begin : at;
    t->data = (uint8_t *)out->blob + dst;
    memcpy(t->data, data + rs[i].begin, t->nbytes);
    at += (t->nbytes + align - 1) / align * align;
  }
  return true;
}

/* Reads the rest of the file after the header and builds the tensors. */
static bool load_body(const char *path, FILE *fp, const char *hdr, size_t hlen, int64_t data_size,
                      StFile *out, char *err, size_t cap) {
  RtJson root;
  char jerr[200];
  if (!rt_json_parse(hdr, hlen, &root, jerr, sizeof jerr))
    return rt_fail_path(err, cap, path, "bad JSON header: %s", jerr);
  bool ok = root.kind == RT_JSON_OBJECT || rt_fail_path(err, cap, path, "header is not a JSON object");
  Range *rs = NULL;
  uint8_t *data = NULL;
  if (ok) {
    out->t = calloc((size_t)root.n + 1, sizeof *out->t);
    rs = calloc((size_t)root.n + 1, sizeof *rs);
    data = malloc((size_t)data_size + 1);
    ok = (out->t && rs && data) || rt_fail_path(err, cap, path, "out of memory");
  }
  ok = ok && parse_header(path, hdr, &root, data_size, out, rs, err, cap);
  if (ok && fread(data, 1, (size_t)data_size, fp) != (size_t)data_size)
    ok = rt_fail_path(err, cap, path, "short read of the data section");
  ok = ok && place_data(path, out, data, rs, (size_t)data_size, err, cap);
  free(rs);
  free(data);
  rt_json_free(&root);
  return ok;
}

/* Reads the 8-byte length and the header text; the caller frees *hdr. */
static bool load_header(const char *path, FILE *fp, int64_t size, char **hdr, size_t *hlen,
                        char *err, size_t cap) {
  uint8_t lb[8];
  if (size < 8 || fread(lb, 1, 8, fp) != 8)
    return rt_fail_path(err, cap, path, "file is %lld bytes, too short for a header length",
                   (long long)size);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | lb[i];
  if (n > (uint64_t)(size - 8))
    return rt_fail_path(err, cap, path, "header length %llu exceeds the %lld bytes after it",
                   (unsigned long long)n, (long long)(size - 8));
  if (n > ST_MAX_HEADER)
    return rt_fail_path(err, cap, path, "header length %llu exceeds the limit of %u bytes",
                   (unsigned long long)n, ST_MAX_HEADER);
  if (n < 2) return rt_fail_path(err, cap, path, "header of %llu bytes is too short", (unsigned long long)n);
  *hdr = malloc((size_t)n + 1);
  if (!*hdr) return rt_fail_path(err, cap, path, "out of memory for the header");
  if (fread(*hdr, 1, (size_t)n, fp) != (size_t)n) return rt_fail_path(err, cap, path, "short read of the header");
  (*hdr)[n] = '\0';
  if ((*hdr)[0] != '{') return rt_fail_path(err, cap, path, "header does not start with '{'");
  *hlen = (size_t)n;
  return true;
}

/* The header's __metadata__ object, or nothing. */
static bool header_metadata(const char *path, const char *hdr, size_t hlen, StFile *out, char *err,
                            size_t cap) {
  RtJson root;
  char jerr[200];
  if (!rt_json_parse(hdr, hlen, &root, jerr, sizeof jerr))
    return rt_fail_path(err, cap, path, "bad JSON header: %s", jerr);
  bool ok = root.kind == RT_JSON_OBJECT || rt_fail_path(err, cap, path, "header is not a JSON object");
  for (int i = 0; ok && i < root.n; i++)
    if (strcmp(root.keys[i], "__metadata__") == 0)
      ok = parse_metadata(path, hdr, &root.items[i], out, err, cap);
  rt_json_free(&root);
  return ok;
}

/* The file's header, then its body (the tensors) or only its metadata. */
static bool load_file(const char *path, bool body, StFile *out, char *err, size_t errcap) {
  memset(out, 0, sizeof *out);
  int64_t size = 0;
  int fd = rt_input_open(path, &size, err, errcap);
  if (fd < 0) return false;
  FILE *fp = fdopen(fd, "rb");
  if (!fp) {
    close(fd);
    return rt_fail_path(err, errcap, path, "cannot open: %s", strerror(errno));
  }
  char *hdr = NULL;
  size_t hlen = 0;
  bool ok = load_header(path, fp, size, &hdr, &hlen, err, errcap) &&
            (body ? load_body(path, fp, hdr, hlen, size - 8 - (int64_t)hlen, out, err, errcap)
                  : header_metadata(path, hdr, hlen, out, err, errcap));
  free(hdr);
  fclose(fp);
  if (!ok) st_free(out);
  return ok;
}

bool st_load(const char *path, StFile *out, char *err, size_t errcap) {
  return load_file(path, true, out, err, errcap);
}

bool st_load_metadata(const char *path, StFile *out, char *err, size_t errcap) {
  return load_file(path, false, out, err, errcap);
}

const StTensor *st_find(const StFile *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
  return NULL;
}

void st_free(StFile *f) {
  if (!f) return;
  for (int i = 0; i < f->n; i++) free(f->t[i].name);
  free(f->t);
  free(f->metadata_json);
  free(f->blob);
  memset(f, 0, sizeof *f);
}

bool st_meta_get(const StFile *f, const char *key, char *out, size_t outcap) {
  if (!f->metadata_json || outcap == 0) return false;
  RtJson m;
  char jerr[128];
  if (!rt_json_parse(f->metadata_json, strlen(f->metadata_json), &m, jerr, sizeof jerr)) return false;
  const RtJson *v = rt_json_get(&m, key);
  bool ok = v && v->kind == RT_JSON_STRING && v->len < outcap;
  if (ok) memcpy(out, v->str, v->len + 1);
  rt_json_free(&m);
  return ok;
}
