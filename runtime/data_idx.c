/* data_idx.c — IDX image/label files (the MNIST format), gzip or raw.
 * An IDX file is a big-endian header — magic 0x0000 08 <ndims> (unsigned
 * bytes), then ndims u32 sizes — followed by the bytes. Images are idx3
 * (n, rows, cols), labels idx1 (n). zlib's gzread reads both gzip and raw
 * files. Pixels become floats pixel / 255; normalization is a separate step. */
#include "rt_impl.h"
#include "data.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAX_PIXELS (1u << 24) /* rows * cols of one image */
#define IDX_CHUNK (1u << 20)


/* zlib's error for a failed gzread, as "corrupt data in WHAT: ...". */
static bool corrupt(gzFile g, const char *path, const char *what, char *err, size_t cap) {
  int zerr;
  const char *msg = gzerror(g, &zerr);
  size_t pl = strlen(path); /* zlib prefixes its message with the path */
  if (strncmp(msg, path, pl) == 0 && strncmp(msg + pl, ": ", 2) == 0) msg += pl + 2;
  return rt_fail_path(err, cap, path, "corrupt data in %s: %s", what, msg);
}

/* Reads exactly n bytes or explains why not (truncated / corrupt gzip). */
static bool read_exact(gzFile g, const char *path, void *buf, size_t n, const char *what,
                       char *err, size_t cap) {
  size_t got = 0;
  while (got < n) {
    size_t want = n - got < IDX_CHUNK ? n - got : IDX_CHUNK;
    int r = gzread(g, (uint8_t *)buf + got, (unsigned)want);
    if (r < 0) return corrupt(g, path, what, err, cap);
    if (r == 0) break;
    got += (size_t)r;
  }
  if (got < n)
    return rt_fail_path(err, cap, path, "truncated: %s needs %zu bytes, file has %zu", what, n, got);
  return true;
}

/* zlib checks a gzip stream's CRC and length only at its end: reads the rest
 * of the file, so that corrupt data fails instead of loading silently. At
 * the end gzread returns 0, with Z_BUF_ERROR when the stream is cut short. */
static bool read_to_end(gzFile g, const char *path, const char *what, char *err, size_t cap) {
  uint8_t buf[4096];
  int r, zerr;
  while ((r = gzread(g, buf, sizeof buf)) > 0) continue;
  gzerror(g, &zerr);
  return (r == 0 && zerr == Z_OK) || corrupt(g, path, what, err, cap);
}

/* Magic and sizes; dims gets ndims sizes. */
static bool read_header(gzFile g, const char *path, uint32_t magic, int ndims, uint32_t *dims,
                        char *err, size_t cap) {
  uint8_t h[16];
  size_t hn = 4 + 4 * (size_t)ndims;
  if (!read_exact(g, path, h, hn, "the header", err, cap)) return false;
  uint32_t v[4];
  for (size_t i = 0; i < hn / 4; i++)
    v[i] = (uint32_t)h[4 * i] << 24 | (uint32_t)h[4 * i + 1] << 16 | (uint32_t)h[4 * i + 2] << 8 |
           h[4 * i + 3];
  if (v[0] != magic)
    return rt_fail_path(err, cap, path, "wrong magic number 0x%08x (expected 0x%08x: %s)", v[0], magic,
                    magic == IDX_MAGIC_IMAGES ? "idx3 unsigned-byte images"
                                              : "idx1 unsigned-byte labels");
  memcpy(dims, v + 1, (size_t)ndims * sizeof *dims);
  return true;
}

static gzFile open_idx(const char *path, char *err, size_t cap) {
  errno = 0;
  gzFile g = gzopen(path, "rb");
  if (!g) rt_fail_path(err, cap, path, "cannot open: %s", errno ? strerror(errno) : "out of memory");
  return g;
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
static bool read_pixels(gzFile g, const char *path, RtDataset *out, char *err, size_t cap) {
  size_t total = (size_t)out->n * (size_t)out->feat;
  size_t have = total < IDX_CHUNK ? total : IDX_CHUNK;
  out->x = malloc((have ? have : 1) * sizeof *out->x);
  uint8_t *buf = malloc(IDX_CHUNK);
  bool ok = (out->x && buf) || rt_fail_path(err, cap, path, "out of memory for %zu pixels", have);
  for (size_t at = 0; ok && at < total; at += IDX_CHUNK) {
    size_t k = total - at < IDX_CHUNK ? total - at : IDX_CHUNK;
    ok = read_exact(g, path, buf, k, "the pixel data", err, cap);
    if (ok && at + k > have && !grow_pixels(&out->x, &have, at + k, total))
      ok = rt_fail_path(err, cap, path, "out of memory for %zu pixels", at + k);
    for (size_t i = 0; ok && i < k; i++) out->x[at + i] = (float)buf[i] / 255.0f;
  }
  free(buf);
  return ok;
}

/* Images: header (n, rows, cols), then the first min(n, limit) images. */
static bool read_images(const char *path, int64_t limit, RtDataset *out, uint32_t *count,
                        char *err, size_t cap) {
  gzFile g = open_idx(path, err, cap);
  if (!g) return false;
  uint32_t d[3];
  bool ok = read_header(g, path, IDX_MAGIC_IMAGES, 3, d, err, cap);
  if (ok && (d[1] == 0 || d[2] == 0 || (uint64_t)d[1] * d[2] > IDX_MAX_PIXELS))
    ok = rt_fail_path(err, cap, path, "bad image size %ux%u", d[1], d[2]);
  if (ok) {
    *count = d[0];
    out->n = limit > 0 && limit < (int64_t)d[0] ? limit : (int64_t)d[0];
    out->rows = (int)d[1];
    out->cols = (int)d[2];
    out->feat = (int64_t)d[1] * d[2];
    ok = read_pixels(g, path, out, err, cap) && read_to_end(g, path, "the pixel data", err, cap);
  }
  gzclose(g);
  return ok;
}

/* Labels: header (count must equal the images'), then n labels < n_classes. */
static bool read_labels(const char *path, uint32_t img_count, int n_classes, RtDataset *out,
                        char *err, size_t cap) {
  gzFile g = open_idx(path, err, cap);
  if (!g) return false;
  uint32_t cnt;
  uint8_t *buf = NULL;
  bool ok = read_header(g, path, IDX_MAGIC_LABELS, 1, &cnt, err, cap);
  if (ok && cnt != img_count)
    ok = rt_fail_path(err, cap, path, "has %u labels but the image file has %u images", cnt, img_count);
  if (ok) {
    buf = malloc((size_t)out->n + 1);
    out->y = malloc(((size_t)out->n + 1) * sizeof *out->y);
    ok = (buf && out->y) || rt_fail_path(err, cap, path, "out of memory");
  }
  ok = ok && read_exact(g, path, buf, (size_t)out->n, "the labels", err, cap) &&
       read_to_end(g, path, "the labels", err, cap);
  for (int64_t i = 0; ok && i < out->n; i++) {
    if (buf[i] >= n_classes)
      ok = rt_fail_path(err, cap, path, "label %u of example %lld is out of range [0, %d)", buf[i],
                    (long long)i, n_classes);
    out->y[i] = buf[i];
  }
  free(buf);
  gzclose(g);
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

bool rt_idx_load(const char *dir, RtSplit split, int64_t limit, int n_classes, RtDataset *out,
                 char *err, size_t errcap) {
  char img[4096], lab[4096];
  const char *s = split == RT_SPLIT_TRAIN ? "train" : "t10k";
  if (!dir) dir = RT_FASHION_MNIST_DIR;
  memset(out, 0, sizeof *out);
  if (!find_file(dir, s, "images", 3, img, sizeof img))
    return rt_fail_path(err, errcap, img, "no such file (nor its raw or .idx3-ubyte variants)");
  if (!find_file(dir, s, "labels", 1, lab, sizeof lab))
    return rt_fail_path(err, errcap, lab, "no such file (nor its raw or .idx1-ubyte variants)");
  return rt_idx_load_files(img, lab, limit, n_classes, out, err, errcap);
}

RtNorm rt_dataset_stats(const RtDataset *ds) {
  /* Double accumulators: 47M values would lose precision in float. */
  double s = 0, ss = 0;
  size_t total = (size_t)ds->n * (size_t)ds->feat;
  for (size_t i = 0; i < total; i++) {
    s += ds->x[i];
    ss += (double)ds->x[i] * ds->x[i];
  }
  double mean = total ? s / (double)total : 0;
  double var = total ? ss / (double)total - mean * mean : 0;
  RtNorm nm = {(float)mean, (float)(var > 0 ? sqrt(var) : 1.0)};
  return nm;
}

void rt_dataset_normalize(RtDataset *ds, RtNorm nm) {
  size_t total = (size_t)ds->n * (size_t)ds->feat;
  for (size_t i = 0; i < total; i++) ds->x[i] = (ds->x[i] - nm.mean) / nm.std;
}

void rt_dataset_fini(RtDataset *ds) {
  free(ds->x);
  free(ds->y);
  memset(ds, 0, sizeof *ds);
}
