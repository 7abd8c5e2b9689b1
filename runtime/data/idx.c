/* data_idx.c — IDX image/label files (the MNIST format), gzip or raw.
 * An IDX file is a big-endian header — magic 0x0000 08 <ndims> (unsigned
 * bytes), then ndims u32 sizes — followed by the bytes. Images are idx3
 * (n, rows, cols), labels idx1 (n). A file is raw or gzip (zlib's inflate,
 * every member's CRC checked: see Src below) and is read to its end.
 * Pixels become floats pixel / 255; normalization is a separate step. */
#include "rt_impl.h"
#include "data.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAX_PIXELS (1u << 24) /* rows * cols of one image */
#define IDX_CHUNK (1u << 20)  /* bytes inflated or converted per step */
#define IDX_IN (1u << 16)     /* bytes of input read per read() */


/* ---- a verified byte source ----
 * The file's bytes as they are, or, when it starts with the gzip magic, the
 * inflated bytes of its gzip members. zlib's inflate checks each member's CRC
 * and length when its trailer arrives, so the IDX reader reads every file to
 * its end (src_finish): a flipped byte anywhere fails, and so does anything
 * after the last member that is not another gzip member. */

typedef struct Src {
  const char *path;
  int fd;
  bool gz;          /* bytes come through z */
  bool member_end;  /* gz: the current member and its trailer are done */
  bool eof;         /* the file has no more bytes to read */
  z_stream z;       /* next_in / avail_in: unread input in `in` (raw files too) */
  uint8_t *in;      /* (IDX_IN) input buffer */
} Src;

/* Tops the unread input up to at least k bytes unless the file ends first. */
static bool src_fill(Src *s, unsigned k, char *err, size_t cap) {
  if (s->z.avail_in >= k || s->eof) return true;
  memmove(s->in, s->z.next_in, s->z.avail_in);
  s->z.next_in = s->in;
  while (s->z.avail_in < k && !s->eof) {
    ssize_t r = read(s->fd, s->in + s->z.avail_in, IDX_IN - s->z.avail_in);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return rt_fail_path(err, cap, s->path, "read error: %s", strerror(errno));
    s->eof = r == 0;
    s->z.avail_in += (unsigned)r;
  }
  return true;
}

static bool src_open(Src *s, const char *path, char *err, size_t cap) {
  memset(s, 0, sizeof *s);
  s->path = path;
  s->fd = rt_input_open(path, NULL, err, cap);
  if (s->fd < 0) return false;
  s->in = malloc(IDX_IN);
  if (!s->in) return rt_fail_path(err, cap, path, "out of memory");
  s->z.next_in = s->in;
  if (!src_fill(s, 2, err, cap)) return false;
  s->gz = s->z.avail_in >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b;
  uint8_t *next = s->z.next_in;
  unsigned avail = s->z.avail_in;
  if (s->gz && inflateInit2(&s->z, 15 + 16) != Z_OK) {  /* 16: gzip wrapper only */
    s->gz = false;
    return rt_fail_path(err, cap, path, "out of memory for the gzip reader");
  }
  s->z.next_in = next;  /* inflateInit2 may reset them; keep the bytes already read */
  s->z.avail_in = avail;
  return true;
}

static void src_close(Src *s) {
  if (s->gz) inflateEnd(&s->z);
  if (s->fd >= 0) close(s->fd);
  free(s->in);
}

/* Up to n bytes of a raw file into buf; *got gets how many. */
static bool raw_read(Src *s, uint8_t *buf, size_t n, size_t *got, char *err, size_t cap) {
  while (*got < n) {
    if (!src_fill(s, 1, err, cap)) return false;
    if (s->z.avail_in == 0) break;
    size_t k = n - *got < s->z.avail_in ? n - *got : s->z.avail_in;
    memcpy(buf + *got, s->z.next_in, k);
    s->z.next_in += k;
    s->z.avail_in -= (unsigned)k;
    *got += k;
  }
  return true;
}

/* After a member's trailer: the end of the file, or another member. */
static bool gz_next_member(Src *s, bool *end, const char *what, char *err, size_t cap) {
  if (!src_fill(s, 2, err, cap)) return false;
  *end = s->z.avail_in == 0;
  if (*end) return true;
  if (s->z.avail_in < 2 || s->z.next_in[0] != 0x1f || s->z.next_in[1] != 0x8b)
    return rt_fail_path(err, cap, s->path, "corrupt data in %s: garbage after the gzip stream",
                        what);
  s->member_end = false;
  return inflateReset(&s->z) == Z_OK ||
         rt_fail_path(err, cap, s->path, "corrupt data in %s: %s", what, s->z.msg);
}

/* Up to n inflated bytes into buf; *got gets how many (fewer only at the end). */
static bool gz_read(Src *s, uint8_t *buf, size_t n, size_t *got, const char *what, char *err,
                    size_t cap) {
  while (*got < n) {
    bool end = false;
    if (s->member_end && !gz_next_member(s, &end, what, err, cap)) return false;
    if (end) break;
    if (!src_fill(s, 1, err, cap)) return false;
    if (s->z.avail_in == 0)
      return rt_fail_path(err, cap, s->path, "corrupt data in %s: truncated gzip stream", what);
    size_t want = n - *got < IDX_CHUNK ? n - *got : IDX_CHUNK;
    s->z.next_out = buf + *got;
    s->z.avail_out = (unsigned)want;
    int zr = inflate(&s->z, Z_NO_FLUSH);
    *got += want - s->z.avail_out;
    if (zr == Z_STREAM_END) s->member_end = true;
    else if (zr != Z_OK && zr != Z_BUF_ERROR)
      return rt_fail_path(err, cap, s->path, "corrupt data in %s: %s", what,
                          s->z.msg ? s->z.msg : "gzip error");
  }
  return true;
}

/* Reads exactly n bytes or explains why not (truncated / corrupt gzip). */
static bool read_exact(Src *s, void *buf, size_t n, const char *what, char *err, size_t cap) {
  size_t got = 0;
  bool ok = s->gz ? gz_read(s, buf, n, &got, what, err, cap) : raw_read(s, buf, n, &got, err, cap);
  if (ok && got < n)
    return rt_fail_path(err, cap, s->path, "truncated: %s needs %zu bytes, file has %zu", what, n,
                        got);
  return ok;
}

/* Reads (and checks, for gzip) n more bytes that are not kept, then requires
 * the end of the file. */
static bool src_finish(Src *s, size_t n, const char *what, char *err, size_t cap) {
  uint8_t *buf = malloc(IDX_CHUNK);
  bool ok = buf || rt_fail_path(err, cap, s->path, "out of memory");
  for (size_t at = 0; ok && at < n; at += IDX_CHUNK)
    ok = read_exact(s, buf, n - at < IDX_CHUNK ? n - at : IDX_CHUNK, what, err, cap);
  size_t got = 0;
  if (ok)
    ok = s->gz ? gz_read(s, buf, 1, &got, what, err, cap) : raw_read(s, buf, 1, &got, err, cap);
  if (ok && got) ok = rt_fail_path(err, cap, s->path, "unexpected data after %s", what);
  free(buf);
  return ok;
}

/* Magic and sizes; dims gets ndims sizes. */
static bool read_header(Src *s, uint32_t magic, int ndims, uint32_t *dims, char *err, size_t cap) {
  uint8_t h[16];
  size_t hn = 4 + 4 * (size_t)ndims;
  if (!read_exact(s, h, hn, "the header", err, cap)) return false;
  uint32_t v[4];
  for (size_t i = 0; i < hn / 4; i++)
    v[i] = (uint32_t)h[4 * i] << 24 | (uint32_t)h[4 * i + 1] << 16 | (uint32_t)h[4 * i + 2] << 8 |
           h[4 * i + 3];
  if (v[0] != magic)
    return rt_fail_path(err, cap, s->path, "wrong magic number 0x%08x (expected 0x%08x: %s)", v[0],
                        magic,
                        magic == IDX_MAGIC_IMAGES ? "idx3 unsigned-byte images"
                                                  : "idx1 unsigned-byte labels");
  memcpy(dims, v + 1, (size_t)ndims * sizeof *dims);
  return true;
}

/* Grows x (*have floats) to hold at least `need` of `total`, doubling. */
static bool grow_pixels(float **x, size_t *have, size_t need, size_t total) {
  size_t want = *have * 2 < total ? *have * 2 : total;
  if (want < need) want = need;
  float *nx = realloc(*x, want * sizeof *nx);
  if (!nx) return false;
  *x = nx;
  *have = want;
  return true;
}

/* n * feat pixels, converted chunk by chunk into out->x (pixel / 255). x grows
 * with the data read, so a header that promises more images than the file
 * holds fails as truncated instead of allocating what it promises. */
static bool read_pixels(Src *s, RtDataset *out, char *err, size_t cap) {
  size_t total = (size_t)out->n * (size_t)out->feat;
  size_t have = total < IDX_CHUNK ? total : IDX_CHUNK;
  out->x = malloc((have ? have : 1) * sizeof *out->x);
  uint8_t *buf = malloc(IDX_CHUNK);
  bool ok =
      (out->x && buf) || rt_fail_path(err, cap, s->path, "out of memory for %zu pixels", have);
  for (size_t at = 0; ok && at < total; at += IDX_CHUNK) {
    size_t k = total - at < IDX_CHUNK ? total - at : IDX_CHUNK;
    ok = read_exact(s, buf, k, "the pixel data", err, cap);
    if (ok && at + k > have && !grow_pixels(&out->x, &have, at + k, total))
      ok = rt_fail_path(err, cap, s->path, "out of memory for %zu pixels", at + k);
    for (size_t i = 0; ok && i < k; i++) out->x[at + i] = (float)buf[i] / 255.0f;
  }
  free(buf);
  return ok;
}

/* Images: header (n, rows, cols), then the first min(n, limit) images; the
 * rest is read and checked but not kept. */
static bool read_images(const char *path, int64_t limit, RtDataset *out, uint32_t *count,
                        char *err, size_t cap) {
  Src s;
  uint32_t d[3] = {0, 0, 0};
  bool ok = src_open(&s, path, err, cap) && read_header(&s, IDX_MAGIC_IMAGES, 3, d, err, cap);
  if (ok && (d[1] == 0 || d[2] == 0 || (uint64_t)d[1] * d[2] > IDX_MAX_PIXELS))
    ok = rt_fail_path(err, cap, path, "bad image size %ux%u", d[1], d[2]);
  if (ok) {
    *count = d[0];
    out->n = limit > 0 && limit < (int64_t)d[0] ? limit : (int64_t)d[0];
    out->rows = (int)d[1];
    out->cols = (int)d[2];
    out->feat = (int64_t)d[1] * d[2];
    ok = read_pixels(&s, out, err, cap) &&
         src_finish(&s, (size_t)(d[0] - out->n) * (size_t)out->feat, "the pixel data", err, cap);
  }
  src_close(&s);
  return ok;
}

/* Labels: header (count must equal the images'), then n labels < n_classes;
 * the rest is read and checked but not kept. */
static bool read_labels(const char *path, uint32_t img_count, int n_classes, RtDataset *out,
                        char *err, size_t cap) {
  Src s;
  uint32_t cnt = 0;
  uint8_t *buf = NULL;
  bool ok = src_open(&s, path, err, cap) && read_header(&s, IDX_MAGIC_LABELS, 1, &cnt, err, cap);
  if (ok && cnt != img_count)
    ok = rt_fail_path(err, cap, path, "has %u labels but the image file has %u images", cnt, img_count);
  if (ok) {
    buf = malloc((size_t)out->n + 1);
    out->y = malloc(((size_t)out->n + 1) * sizeof *out->y);
    ok = (buf && out->y) || rt_fail_path(err, cap, path, "out of memory");
  }
  ok = ok && read_exact(&s, buf, (size_t)out->n, "the labels", err, cap);
  for (int64_t i = 0; ok && i < out->n; i++) {
    if (buf[i] >= n_classes)
      ok = rt_fail_path(err, cap, path, "label %u of example %lld is out of range [0, %d)", buf[i],
                    (long long)i, n_classes);
    out->y[i] = buf[i];
  }
  ok = ok && src_finish(&s, cnt - (size_t)out->n, "the labels", err, cap);
  free(buf);
  src_close(&s);
  return ok;
}

bool rt_idx_load_files(const char *images_path, const char *labels_path, int64_t limit,
                       int n_classes, RtDataset *out, char *err, size_t errcap) {
  memset(out, 0, sizeof *out);
  out->n_classes = n_classes > 0 ? n_classes : 10;
  uint32_t count = 0;
  bool ok = read_images(images_path, limit, out, &count, err, errcap) &&
            read_labels(labels_path, count, out->n_classes, out, err, errcap);
  if (!ok) rt_dataset_fini(out);
  return ok;
}

/* First existing spelling of dir/<split>-<kind>; false if none. */
static bool find_file(const char *dir, const char *split, const char *kind, int nd, char *path,
                      size_t cap) {
  static const char *const forms[] = {"%s/%s-%s-idx%d-ubyte.gz", "%s/%s-%s-idx%d-ubyte",
                                      "%s/%s-%s.idx%d-ubyte", "%s/%s-%s.idx%d-ubyte.gz"};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    snprintf(path, cap, forms[i], dir, split, kind, nd);
    if (access(path, F_OK) == 0) return true;
  }
  snprintf(path, cap, forms[0], dir, split, kind, nd);
  return false;
}

bool rt_idx_find(const char *dir, RtSplit split, char *images, char *labels, size_t pathcap,
                 char *err, size_t errcap) {
  const char *s = split == RT_SPLIT_TRAIN ? "train" : "t10k";
  if (!dir) dir = RT_FASHION_MNIST_DIR;
  if (!find_file(dir, s, "images", 3, images, pathcap))
    return rt_fail_path(err, errcap, images, "no such file (nor its raw or .idx3-ubyte variants)");
  if (!find_file(dir, s, "labels", 1, labels, pathcap))
    return rt_fail_path(err, errcap, labels, "no such file (nor its raw or .idx1-ubyte variants)");
  return true;
}

bool rt_idx_load(const char *dir, RtSplit split, int64_t limit, int n_classes, RtDataset *out,
                 char *err, size_t errcap) {
  char img[4096], lab[4096];
  memset(out, 0, sizeof *out);
  return rt_idx_find(dir, split, img, lab, sizeof img, err, errcap) &&
         rt_idx_load_files(img, lab, limit, n_classes, out, err, errcap);
}

RtNorm rt_dataset_stats(const RtDataset *ds) {
  /* Double accumulators: 47M values would lose precision in float. A raw set
   * is read a row at a time (its recorded norm undone: the stats of the data). */
  double s = 0, ss = 0;
  size_t total = (size_t)ds->n * (size_t)ds->feat;
  float *row = ds->raw ? malloc(((size_t)ds->feat + 1) * sizeof *row) : NULL;
  RtDataset plain = *ds;
  plain.norm = (RtNorm){0, 1};
  for (int64_t e = 0; e < ds->n; e++) {
    const float *v = row;
    if (row) rt_dataset_row(&plain, e, row);
    else if (!ds->raw) v = ds->x + (size_t)e * (size_t)ds->feat;
    for (int64_t i = 0; v && i < ds->feat; i++) {
      s += v[i];
      ss += (double)v[i] * v[i];
    }
  }
  free(row);
  double mean = total ? s / (double)total : 0;
  double var = total ? ss / (double)total - mean * mean : 0;
  RtNorm nm = {(float)mean, (float)(var > 0 ? sqrt(var) : 1.0)};
  return nm;
}

void rt_dataset_normalize(RtDataset *ds, RtNorm nm) {
  if (ds->raw) {
    ds->norm = nm;
    return;
  }
  size_t total = (size_t)ds->n * (size_t)ds->feat;
  for (size_t i = 0; i < total; i++) ds->x[i] = (ds->x[i] - nm.mean) / nm.std;
}

void rt_dataset_fini(RtDataset *ds) {
  free(ds->x);
  free(ds->y);
  free(ds->own);
  if (ds->map) munmap(ds->map, ds->map_len);
  memset(ds, 0, sizeof *ds);
}
