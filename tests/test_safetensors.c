/* test_safetensors.c — fixtures from PyTorch load, save/load round trips,
 * atomic replacement, hostile files rejected with a message, and the
 * checkpoint layer's checks (finite tensors, sane counters, stale temporaries). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build_graph.h"
#include "checkpoint.h"
#include "exec.h"
#include "json.h"
#include "safetensors.h"

static char tmpdir[256];

static void make_tmpdir(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/lnet_st_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  cr_expect_eq(system(cmd), 0);
}

TestSuite(safetensors, .init = make_tmpdir, .fini = remove_tmpdir);
TestSuite(checkpoint, .init = make_tmpdir, .fini = remove_tmpdir);

static const char *tmp_path(const char *name) {
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", tmpdir, name);
  return p;
}

/* Writes raw bytes to tmpdir/name and returns the path. */
static const char *write_raw(const char *name, const void *bytes, size_t n) {
  const char *p = tmp_path(name);
  FILE *f = fopen(p, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(bytes, 1, n, f), n);
  fclose(f);
  return p;
}

/* A safetensors file with the given header text, header length field
 * (hlen_field; -1 = the real length) and data_len zero bytes of data. */
static const char *write_st(const char *name, const char *hdr, long long hlen_field,
                            size_t data_len) {
  size_t hl = strlen(hdr), n = 8 + hl + data_len;
  unsigned char *buf = calloc(1, n);
  unsigned long long v = hlen_field < 0 ? hl : (unsigned long long)hlen_field;
  for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(v >> (8 * i));
  memcpy(buf + 8, hdr, hl);
  const char *p = write_raw(name, buf, n);
  free(buf);
  return p;
}

/* StTensor.name is char * (loaded files own it); st_save only reads it. */
#define NAME(lit) ((char *)(lit))

static float f32_at(const StTensor *t, int i) { return ((const float *)t->data)[i]; }

Test(safetensors, mlp_fixture_loads) {
  StFile f;
  char err[512];
  cr_assert(st_load(LNET_FIXTURE_DIR "/mlp.safetensors", &f, err, sizeof err), "%s", err);
  cr_expect_eq(f.n, 44);
  const StTensor *x = st_find(&f, "x"), *y = st_find(&f, "y"), *loss = st_find(&f, "loss");
  cr_assert(x && y && loss);
  cr_expect_eq(x->dtype, ST_F32);
  cr_expect_eq(x->rank, 2);
  cr_expect_eq(x->shape[0], 4);
  cr_expect_eq(x->shape[1], 12);
  cr_expect_eq(x->nbytes, 4 * 12 * 4);
  cr_expect_float_eq(f32_at(x, 0), -0.1117185652256012f, 0);
  cr_expect_float_eq(f32_at(loss, 0), 5.8491926193237305f, 0);
  cr_expect_eq(y->dtype, ST_I32);
  const int32_t *yv = y->data;
  cr_expect(yv[0] == 0 && yv[1] == 3 && yv[2] == 1 && yv[3] == 4);
  cr_expect_null(st_find(&f, "nope"));
  char model[512];
  cr_assert_not_null(f.metadata_json);
  cr_expect(st_meta_get(&f, "model", model, sizeof model));
  cr_expect(strstr(model, "cross-entropy") != NULL, "%s", model);
  st_free(&f);
  cr_expect_eq(f.n, 0);
}

Test(safetensors, every_fixture_loads_with_expected_shapes) {
  StFile f;
  char err[512];
  cr_assert(st_load(LNET_FIXTURE_DIR "/cnn.safetensors", &f, err, sizeof err), "%s", err);
  const StTensor *x = st_find(&f, "x");
  cr_assert_not_null(x);
  cr_expect(x->rank == 4 && x->shape[0] == 2 && x->shape[1] == 3 && x->shape[2] == 8 &&
            x->shape[3] == 8);
  cr_expect_float_eq(f32_at(st_find(&f, "loss"), 0), 5.251035690307617f, 0);
  st_free(&f);
  cr_assert(st_load(LNET_FIXTURE_DIR "/transformer.safetensors", &f, err, sizeof err), "%s", err);
  const StTensor *tok = st_find(&f, "tokens");
  cr_assert_not_null(tok);
  cr_expect(tok->dtype == ST_I32 && tok->rank == 2 && tok->shape[1] == 6);
  cr_expect_eq(((const int32_t *)tok->data)[0], 9);
  st_free(&f);
  cr_assert(st_load(LNET_FIXTURE_DIR "/mlp_local.safetensors", &f, err, sizeof err), "%s", err);
  cr_expect_eq(f.n, 32);
  st_free(&f);
}

Test(safetensors, round_trip_all_dtypes_and_metadata) {
  float w[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f};
  int32_t ids[3] = {-1, 0, 2147483647};
  uint8_t bytes[5] = {0, 1, 2, 254, 255};
  int64_t step = 123456789012345LL, *nothing = NULL;
  StTensor ts[5] = {
      {.name = NAME("u8"), .dtype = ST_U8, .rank = 1, .shape = {5}, .data = bytes, .nbytes = 5},
      {.name = NAME("w"), .dtype = ST_F32, .rank = 2, .shape = {2, 3}, .data = w, .nbytes = 24},
      {.name = NAME("ids"), .dtype = ST_I32, .rank = 1, .shape = {3}, .data = ids, .nbytes = 12},
      {.name = NAME("step \"quoted\""), .dtype = ST_I64, .rank = 0, .data = &step, .nbytes = 8},
      {.name = NAME("empty"), .dtype = ST_F32, .rank = 2, .shape = {0, 4}, .data = nothing, .nbytes = 0},
  };
  const char *meta[] = {"format", "lnet", "note", "tab\there \"q\" \\ é"};
  char err[512];
  const char *p = tmp_path("rt.safetensors");
  cr_assert(st_save(p, ts, 5, meta, 2, err, sizeof err), "%s", err);
  StFile f;
  cr_assert(st_load(p, &f, err, sizeof err), "%s", err);
  cr_assert_eq(f.n, 5);
  for (int i = 0; i < 5; i++) {
    const StTensor *t = st_find(&f, ts[i].name);
    cr_assert_not_null(t, "%s missing", ts[i].name);
    cr_expect_str_eq(f.t[i].name, ts[i].name, "header order kept");
    cr_expect_eq(t->dtype, ts[i].dtype);
    cr_expect_eq(t->rank, ts[i].rank);
    cr_expect_eq(memcmp(t->shape, ts[i].shape, sizeof t->shape[0] * (size_t)t->rank), 0);
    cr_assert_eq(t->nbytes, ts[i].nbytes);
    if (t->nbytes) cr_expect_eq(memcmp(t->data, ts[i].data, t->nbytes), 0, "%s", t->name);
    cr_expect_eq((uintptr_t)t->data % st_dtype_size(t->dtype), 0, "%s misaligned", t->name);
  }
  char v[64];
  cr_expect(st_meta_get(&f, "note", v, sizeof v));
  cr_expect_str_eq(v, "tab\there \"q\" \\ é");
  cr_expect_not(st_meta_get(&f, "note", v, 4), "too small a buffer must fail");
  cr_expect_not(st_meta_get(&f, "absent", v, sizeof v));
  st_free(&f);
  /* Header length is padded to 8 bytes, so the data starts aligned. */
  struct stat sb;
  cr_assert_eq(stat(p, &sb), 0);
  FILE *fp = fopen(p, "rb");
  unsigned char lb[8];
  cr_assert_eq(fread(lb, 1, 8, fp), 8);
  fclose(fp);
  cr_expect_eq(lb[0] % 8, 0);
}

Test(safetensors, misaligned_offsets_are_realigned) {
  /* U8 [1] at [0,1) then F32 [1] at [1,5): the float is misaligned in the file. */
  const char *hdr = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1,5]}}";
  size_t hl = strlen(hdr);
  unsigned char buf[512] = {0};
  buf[0] = (unsigned char)hl;
  memcpy(buf + 8, hdr, hl);
  float two = 2.0f;
  buf[8 + hl] = 7;
  memcpy(buf + 8 + hl + 1, &two, 4);
  const char *p = write_raw("mis.safetensors", buf, 8 + hl + 5);
  StFile f;
  char err[512];
  cr_assert(st_load(p, &f, err, sizeof err), "%s", err);
  const StTensor *b = st_find(&f, "b");
  cr_expect_eq((uintptr_t)b->data % 4, 0);
  cr_expect_float_eq(f32_at(b, 0), 2.0f, 0);
  cr_expect_eq(*(const uint8_t *)st_find(&f, "a")->data, 7);
  st_free(&f);
}

static void save_one(const char *p, float value) {
  float v[2] = {value, value};
  StTensor t = {.name = NAME("v"), .dtype = ST_F32, .rank = 1, .shape = {2}, .data = v, .nbytes = 8};
  char err[512];
  cr_assert(st_save(p, &t, 1, NULL, 0, err, sizeof err), "%s", err);
}

static float load_one(const char *p) {
  StFile f;
  char err[512];
  cr_assert(st_load(p, &f, err, sizeof err), "%s", err);
  float v = f32_at(st_find(&f, "v"), 0);
  st_free(&f);
  return v;
}

Test(safetensors, failed_save_keeps_old_file) {
  char p[512], tmp[600], err[512];
  snprintf(p, sizeof p, "%s", tmp_path("ckpt.safetensors"));
  save_one(p, 1.0f);
  save_one(p, 2.0f); /* a normal overwrite replaces it */
  cr_expect_float_eq(load_one(p), 2.0f, 0);
  /* Block the temp file name with a directory: creating it fails (even as root). */
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
  cr_assert_eq(mkdir(tmp, 0755), 0);
  float v[2] = {3, 3};
  StTensor t = {.name = NAME("v"), .dtype = ST_F32, .rank = 1, .shape = {2}, .data = v, .nbytes = 8};
  cr_expect_not(st_save(p, &t, 1, NULL, 0, err, sizeof err));
  cr_expect(strstr(err, p) != NULL, "message names the file: %s", err);
  cr_expect_float_eq(load_one(p), 2.0f, 0, "old file clobbered");
  rmdir(tmp);
  /* Invalid input (duplicate names) fails before anything is written. */
  StTensor two[2] = {t, t};
  cr_expect_not(st_save(p, two, 2, NULL, 0, err, sizeof err));
  cr_expect(strstr(err, "duplicate") != NULL, "%s", err);
  cr_expect_float_eq(load_one(p), 2.0f, 0);
  cr_expect_neq(access(tmp, F_OK), 0, "temp file left behind");
  /* A directory that does not exist. */
  cr_expect_not(st_save(tmp_path("no/such/dir/x.safetensors"), &t, 1, NULL, 0, err, sizeof err));
  cr_expect(strstr(err, "no/such/dir") != NULL, "%s", err);
}

Test(safetensors, rename_over_directory_fails_cleanly) {
  char err[512], p[512], tmp[600];
  snprintf(p, sizeof p, "%s", tmp_path("adir"));
  cr_assert_eq(mkdir(p, 0755), 0);
  cr_assert_eq(mkdir(tmp_path("adir/keep"), 0755), 0);
  float v[2] = {3, 3};
  StTensor t = {.name = NAME("v"), .dtype = ST_F32, .rank = 1, .shape = {2}, .data = v, .nbytes = 8};
  cr_expect_not(st_save(p, &t, 1, NULL, 0, err, sizeof err));
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
  cr_expect_neq(access(tmp, F_OK), 0, "temp file left behind after failed rename");
}

/* ---- hostile files: each rejected with a message naming the file ---- */

static void expect_reject(const char *p, const char *needle) {
  StFile f;
  char err[512] = "";
  memset(&f, 0x5a, sizeof f);
  cr_expect_not(st_load(p, &f, err, sizeof err), "accepted %s", p);
  cr_expect(strncmp(err, p, strlen(p)) == 0, "message does not name the file: %s", err);
  cr_expect(strstr(err, needle) != NULL, "expected '%s' in: %s", needle, err);
  cr_expect(f.n == 0 && f.t == NULL && f.blob == NULL, "out not left empty");
  st_free(&f);
}

#define T1(dtype, shape, off) "{\"a\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" off "}}"

Test(safetensors, rejects_truncated_length_and_header) {
  expect_reject(write_raw("empty", "", 0), "too short");
  expect_reject(write_raw("short", "\x10\0\0", 3), "too short");
  expect_reject(write_st("hdrlong", T1("F32", "[1]", "[0,4]"), 4096, 4), "exceeds");
  expect_reject(write_st("hdrhuge", T1("F32", "[1]", "[0,4]"), 0x7fffffffffffffffLL, 4), "exceeds");
  expect_reject(write_st("nobrace", " {}", -1, 0), "'{'");
}

Test(safetensors, rejects_bad_json) {
  expect_reject(write_st("badjson", "{\"a\":{\"dtype\":\"F32\",", -1, 0), "bad JSON");
  expect_reject(write_st("trailing", "{}x", -1, 0), "trailing");
  expect_reject(write_st("float", T1("F32", "[1.5]", "[0,4]"), -1, 4), "integer");
  expect_reject(write_st("ctrl", "{\"a\tb\":{}}", -1, 0), "control character");
  expect_reject(write_st("notobj", "{\"a\":[1,2]}", -1, 0), "not an object");
  char deep[300];
  memset(deep, '[', sizeof deep);
  deep[0] = '{';
  memcpy(deep + 1, "\"a\":", 4);
  deep[sizeof deep - 1] = '\0';
  expect_reject(write_st("deep", deep, -1, 0), "nesting");
}

Test(safetensors, rejects_offsets_out_of_range) {
  expect_reject(write_st("oor", T1("F32", "[2]", "[0,8]"), -1, 4), "past the end");
  expect_reject(write_st("reversed", T1("F32", "[0]", "[4,0]"), -1, 4), "ordered");
  expect_reject(write_st("neg", T1("F32", "[1]", "[-4,0]"), -1, 4), "ordered");
  expect_reject(write_st("bignum", T1("F32", "[1]", "[0,99999999999999999999]"), -1, 4),
                "out of range");
  expect_reject(write_st("oneoff", T1("F32", "[1]", "[0]"), -1, 4), "two integers");
}

Test(safetensors, rejects_overlap_gap_and_trailing_data) {
  expect_reject(write_st("overlap",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                         -1, 12),
                "overlaps");
  expect_reject(write_st("gap",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                         -1, 12),
                "gap");
  expect_reject(write_st("extra", T1("F32", "[1]", "[0,4]"), -1, 16), "after the last tensor");
}

Test(safetensors, rejects_shape_offset_mismatch) {
  expect_reject(write_st("mismatch", T1("F32", "[3]", "[0,8]"), -1, 8), "needs 12 bytes");
  expect_reject(write_st("negdim", T1("F32", "[-1]", "[0,0]"), -1, 0), "non-negative");
  expect_reject(write_st("noshape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,0]}}", -1, 0),
                "shape");
}

Test(safetensors, rejects_unknown_dtype_and_fields) {
  expect_reject(write_st("f16", T1("F16", "[2]", "[0,4]"), -1, 4), "unsupported dtype \"F16\"");
  expect_reject(write_st("nodtype", "{\"a\":{\"shape\":[0],\"data_offsets\":[0,0]}}", -1, 0),
                "dtype");
  expect_reject(write_st("field",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0],\"x\":1}}",
                         -1, 0),
                "unknown field");
}

Test(safetensors, rejects_huge_rank_and_shape_overflow) {
  expect_reject(write_st("rank9", T1("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), -1, 4), "rank");
  expect_reject(write_st("ovf", T1("F32", "[4294967296,4294967296,16]", "[0,0]"), -1, 0),
                "overflow");
  expect_reject(write_st("ovf2", T1("I64", "[2305843009213693952]", "[0,0]"), -1, 0), "overflow");
}

Test(safetensors, rejects_duplicate_names_and_bad_metadata) {
  expect_reject(write_st("dup",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                         -1, 8),
                "duplicate");
  expect_reject(write_st("meta", "{\"__metadata__\":{\"k\":[1]}}", -1, 0), "not a string");
  expect_reject(tmp_path("nonexistent"), "cannot open");
}

Test(safetensors, fifo_is_refused_without_blocking, .timeout = 20) {
  cr_assert_eq(mkfifo(tmp_path("fifo"), 0600), 0);
  expect_reject(tmp_path("fifo"), "is a FIFO, not a regular file");
  expect_reject(tmpdir, "is a directory, not a regular file");
}

/* A header of n zero-size U8 tensors "t0", "t1", ... (the last one named
 * "t0" again when dup); the caller frees it. */
static char *many_entries(int n, bool dup) {
  size_t cap = (size_t)n * 64 + 16, at = 0;
  char *h = malloc(cap);
  h[at++] = '{';
  for (int i = 0; i < n; i++)
    at += (size_t)snprintf(h + at, cap - at, "%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[0],"
                           "\"data_offsets\":[0,0]}", i ? "," : "", dup && i == n - 1 ? 0 : i);
  h[at++] = '}';
  h[at] = '\0';
  return h;
}

/* 200k entries: the duplicate-key check used to compare every pair (4.5
 * minutes); sorted, it is well within the timeout. */
Test(safetensors, header_with_200k_entries_is_fast, .timeout = 60) {
  enum { N = 200000 };
  char *h = many_entries(N, false);
  StFile f;
  char err[512];
  cr_assert(st_load(write_st("many", h, -1, 0), &f, err, sizeof err), "%s", err);
  cr_expect_eq(f.n, N);
  cr_expect_str_eq(f.t[N - 1].name, "t199999");
  st_free(&f);
  free(h);
  h = many_entries(N, true);
  expect_reject(write_st("manydup", h, -1, 0), "duplicate key \"t0\"");
  free(h);
}

Test(json, parses_escapes_and_spans) {
  const char *s = " {\"k\\u00e9\\ud83d\\ude00\": [1, -2, 0], \"s\": \"a\\n\\\"b\\/\"} ";
  RtJson v;
  char err[128];
  cr_assert(rt_json_parse(s, strlen(s), &v, err, sizeof err), "%s", err);
  cr_assert_eq(v.kind, RT_JSON_OBJECT);
  cr_expect_str_eq(v.keys[0], "k\xc3\xa9\xf0\x9f\x98\x80");
  cr_expect_eq(v.items[0].n, 3);
  cr_expect_eq(v.items[0].items[1].num, -2);
  cr_expect_str_eq(rt_json_get(&v, "s")->str, "a\n\"b/");
  cr_expect_eq(s[v.begin], '{');
  cr_expect_eq(s[v.end - 1], '}');
  rt_json_free(&v);
  const char *bad[] = {"", "{", "[1,]", "{\"a\" 1}", "01", "\"\\ud800\"", "\"\\x\"", "tru", "1e5",
                       "[1] [2]", "\"\\u0000\"", "-"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_expect_not(rt_json_parse(bad[i], strlen(bad[i]), &v, err, sizeof err), "accepted <%s>", bad[i]);
    cr_expect(strncmp(err, "offset ", 7) == 0, "%s", err);
  }
}

Test(json, write_string_escapes) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert(rt_json_write_string(f, "a\"b\\c\nd\x01\xc3\xa9"));
  fclose(f);
  cr_expect_str_eq(buf, "\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\"");
  RtJson v;
  char err[128];
  cr_assert(rt_json_parse(buf, len, &v, err, sizeof err), "%s", err);
  cr_expect_str_eq(v.str, "a\"b\\c\nd\x01\xc3\xa9");
  rt_json_free(&v);
  free(buf);
}

Test(json, duplicate_key_error_points_at_the_first_duplicate) {
  const char *s = "{\"b\":1,\"a\":2,\"c\":{\"x\":1,\"x\":2},\"a\":3,\"b\":4}";
  RtJson v;
  char err[128];
  cr_expect_not(rt_json_parse(s, strlen(s), &v, err, sizeof err));
  cr_expect_str_eq(err, "offset 24: duplicate key \"x\"");
  const char *t = "{\"b\":1,\"a\":2,\"a\":3,\"b\":4}";
  cr_expect_not(rt_json_parse(t, strlen(t), &v, err, sizeof err));
  cr_expect_str_eq(err, "offset 13: duplicate key \"a\"");
}

/* ---- checkpoints: an executor over a hand-built graph ---- */

typedef struct Tiny {
  IrGraph *g;
  RtExec *ex;
  int w, b; /* node ids of the parameters */
} Tiny;

static Tiny tiny_new(void) {
  Tiny t = {.g = ir_graph_new("tiny")};
  tb_input(t.g, "x", 1, (int64_t[]){3});
  t.w = tb_param(t.g, "w", 2, (int64_t[]){3, 2});
  t.b = tb_param(t.g, "b", 1, (int64_t[]){2});
  char err[512];
  t.ex = rt_exec_interp_new(t.g, 1, err, sizeof err);
  cr_assert_not_null(t.ex, "%s", err);
  float *w = rt_exec_buffer(t.ex, t.w), *b = rt_exec_buffer(t.ex, t.b);
  for (int i = 0; i < 6; i++) w[i] = (float)i;
  b[0] = b[1] = 0.5f;
  return t;
}

static void tiny_free(Tiny *t) {
  rt_exec_free(t->ex);
  ir_graph_free(t->g);
}

/* The bytes of a whole file (caller frees); *n gets its size. */
static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "%s", path);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  rewind(f);
  unsigned char *b = malloc(*n + 1);
  cr_assert_eq(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

/* A NaN or infinity in a parameter refuses the save and leaves the previous
 * checkpoint byte for byte; a file holding one is refused on load. */
Test(checkpoint, non_finite_tensors_are_never_saved_or_loaded) {
  Tiny t = tiny_new();
  RtCounters c = {.step = 3, .epoch = 1, .step_in_epoch = 1, .seed = 7};
  char err[512], p[512];
  snprintf(p, sizeof p, "%s", tmp_path("c.ckpt"));
  cr_assert(rt_checkpoint_save(p, &t.ex, 1, &c, err, sizeof err), "%s", err);
  size_t n0, n1;
  unsigned char *before = slurp(p, &n0);
  float *w = rt_exec_buffer(t.ex, t.w);
  float bad[] = {NAN, INFINITY, -INFINITY};
  for (int i = 0; i < 3; i++) {
    w[4] = bad[i];
    cr_expect_not(rt_checkpoint_save(p, &t.ex, 1, &c, err, sizeof err), "saved %g", bad[i]);
    cr_expect(strstr(err, "not written") && strstr(err, "tensor 'w' holds") &&
              strstr(err, "(element 4)"), "%s", err);
    unsigned char *after = slurp(p, &n1);
    cr_expect(n0 == n1 && memcmp(before, after, n0) == 0, "the good checkpoint was replaced");
    free(after);
  }
  /* The same NaN written into the file by hand: the load refuses it and
   * leaves the executor's buffers alone. */
  StFile f;
  cr_assert(st_load(p, &f, err, sizeof err), "%s", err);
  ((float *)st_find(&f, "b")->data)[1] = NAN;
  cr_assert(st_save(tmp_path("nan.ckpt"), f.t, f.n, NULL, 0, err, sizeof err), "%s", err);
  st_free(&f);
  w[4] = 42;
  RtCounters got;
  cr_expect_not(rt_checkpoint_load(tmp_path("nan.ckpt"), &t.ex, 1, &got, err, sizeof err));
  cr_expect(strstr(err, "nan.ckpt' is damaged: tensor 'b' holds NaN (element 1)"), "%s", err);
  cr_expect_eq(w[4], 42.0f);
  cr_assert(rt_checkpoint_load(p, &t.ex, 1, &got, err, sizeof err), "%s", err);
  cr_expect(w[4] == 4.0f && got.step == 3 && got.epoch == 1 && got.seed == 7);
  free(before);
  tiny_free(&t);
}

/* Writes the checkpoint at p with counter `name` replaced by v. */
static void with_counter(const char *p, const char *src, const char *name, int64_t v) {
  StFile f;
  char err[512];
  cr_assert(st_load(src, &f, err, sizeof err), "%s", err);
  memcpy(st_find(&f, name)->data, &v, 8);
  cr_assert(st_save(p, f.t, f.n, NULL, 0, err, sizeof err), "%s", err);
  st_free(&f);
}

/* Counters near 2^63 overflowed step arithmetic (UBSan) or skipped training. */
Test(checkpoint, counters_are_validated) {
  Tiny t = tiny_new();
  RtCounters c = {.step = 10, .epoch = 2, .step_in_epoch = 3, .seed = 1};
  char err[512], good[512];
  snprintf(good, sizeof good, "%s", tmp_path("good.ckpt"));
  cr_assert(rt_checkpoint_save(good, &t.ex, 1, &c, err, sizeof err), "%s", err);
  struct {
    const char *name;
    int64_t v;
    const char *msg;
  } cases[] = {
      {"lnet.step", INT64_MAX, "counter 'lnet.step' is 9223372036854775807, outside [0, 2^53]"},
      {"lnet.epoch", INT64_MAX - 1, "counter 'lnet.epoch' is 9223372036854775806"},
      {"lnet.step_in_epoch", (INT64_C(1) << 53) + 1, "'lnet.step_in_epoch' is 9007199254740993"},
      {"lnet.seed", -1, "counter 'lnet.seed' is -1"},
      {"lnet.epoch", 9, "inconsistent (step 10, epoch 9, step in epoch 3"},
      {"lnet.step", 4, "inconsistent (step 4, epoch 2, step in epoch 3"},
  };
  RtCounters got = {0};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    with_counter(tmp_path("bad.ckpt"), good, cases[i].name, cases[i].v);
    cr_expect_not(rt_checkpoint_load(tmp_path("bad.ckpt"), &t.ex, 1, &got, err, sizeof err),
                  "case %zu accepted", i);
    cr_expect(strstr(err, cases[i].msg), "case %zu: %s", i, err);
  }
  cr_expect_eq(got.step, 0, "counters written on failure");
  with_counter(tmp_path("edge.ckpt"), good, "lnet.step", INT64_C(1) << 53);
  cr_expect(rt_checkpoint_load(tmp_path("edge.ckpt"), &t.ex, 1, &got, err, sizeof err), "%s", err);
  cr_expect_eq(got.step, INT64_C(1) << 53);
  tiny_free(&t);
}

/* The pid of a child that has exited and been reaped: no process has it
 * (until the system reuses it, far later than this test looks). */
static pid_t dead_pid(void) {
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) _exit(0);
  cr_assert_eq(waitpid(pid, NULL, 0), pid);
  return pid;
}

/* A save killed before its rename leaves CKPT.tmp.<pid>: the next save and
 * the next load of CKPT remove it once its writer is gone, and never touch
 * a live writer's temporary or another checkpoint's. */
Test(checkpoint, stale_temporaries_are_removed) {
  Tiny t = tiny_new();
  RtCounters c = {0, 0, 0, 1, 0};
  char err[512], p[512], dead[600], live[600], other[600], lookalike[600];
  snprintf(p, sizeof p, "%s", tmp_path("c.ckpt"));
  snprintf(dead, sizeof dead, "%s.tmp.%ld", p, (long)dead_pid());
  snprintf(live, sizeof live, "%s.tmp.%ld", p, (long)getppid());
  snprintf(other, sizeof other, "%s.tmp.%ld", tmp_path("d.ckpt"), (long)dead_pid());
  snprintf(lookalike, sizeof lookalike, "%s.tmp.%ldx", p, (long)dead_pid());
  const char *files[] = {dead, live, other, lookalike};
  for (int i = 0; i < 4; i++) write_raw(strrchr(files[i], '/') + 1, "partial", 7);
  cr_assert(rt_checkpoint_save(p, &t.ex, 1, &c, err, sizeof err), "%s", err);
  cr_expect_neq(access(dead, F_OK), 0, "a dead writer's temporary survived the save");
  cr_expect_eq(access(live, F_OK), 0, "a live writer's temporary was removed");
  cr_expect_eq(access(other, F_OK), 0, "another checkpoint's temporary was removed");
  cr_expect_eq(access(lookalike, F_OK), 0, "a file that is not a temporary was removed");
  write_raw(strrchr(dead, '/') + 1, "partial", 7);
  RtCounters got;
  cr_assert(rt_checkpoint_load(p, &t.ex, 1, &got, err, sizeof err), "%s", err);
  cr_expect_neq(access(dead, F_OK), 0, "a dead writer's temporary survived the load");
  cr_expect_eq(access(live, F_OK), 0, "a live writer's temporary was removed");
  tiny_free(&t);
}
