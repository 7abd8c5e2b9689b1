/* test_data.c — Fashion-MNIST through the IDX reader, crafted bad IDX files,
 * the fortunes text corpus, and the seeded batch iterator. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data.h"

static char tmpdir[256];

static void make_tmpdir(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/lnet_data_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  cr_expect_eq(system(cmd), 0);
}

TestSuite(idx, .init = make_tmpdir, .fini = remove_tmpdir);
TestSuite(corpus, .init = make_tmpdir, .fini = remove_tmpdir);

static const char *tmp_path(const char *name) {
  static char p[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
  return p[k];
}

static void write_bytes(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f, "%s", path);
  cr_assert_eq(fwrite(b, 1, n, f), n);
  fclose(f);
}

/* ---- Fashion-MNIST ---- */

Test(idx, fashion_mnist_train_loads_and_normalizes) {
  RtDataset d;
  char err[512];
  cr_assert(rt_idx_load(NULL, RT_SPLIT_TRAIN, 0, 10, &d, err, sizeof err), "%s", err);
  cr_expect_eq(d.n, 60000);
  cr_expect(d.rows == 28 && d.cols == 28 && d.feat == 784);
  int count[10] = {0};
  for (int64_t i = 0; i < d.n; i++) {
    cr_assert(d.y[i] >= 0 && d.y[i] < 10);
    count[d.y[i]]++;
  }
  for (int c = 0; c < 10; c++) cr_expect_eq(count[c], 6000, "class %d", c);
  int32_t first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
  cr_expect_eq(memcmp(d.y, first, sizeof first), 0);
  double s = 0;
  for (int i = 0; i < 784; i++) s += d.x[i] * 255.0;
  cr_expect(fabs(s - 76247) < 0.5, "sum of first image's pixels %g", s);
  RtNorm st = rt_dataset_stats(&d);
  cr_expect(fabs(st.mean - 0.2860) < 5e-4 && fabs(st.std - 0.3530) < 5e-4, "%g %g", st.mean,
            st.std);
  rt_dataset_normalize(&d, RT_NORM_FASHION_MNIST);
  RtNorm after = rt_dataset_stats(&d);
  cr_expect(fabs(after.mean) < 2e-3 && fabs(after.std - 1) < 2e-3, "%g %g", after.mean, after.std);
  rt_dataset_fini(&d);
  cr_expect_null(d.x);
}

Test(idx, fashion_mnist_test_split_and_limit) {
  RtDataset d;
  char err[512];
  cr_assert(rt_idx_load(RT_FASHION_MNIST_DIR, RT_SPLIT_TEST, 0, 10, &d, err, sizeof err), "%s", err);
  cr_expect_eq(d.n, 10000);
  int32_t first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
  cr_expect_eq(memcmp(d.y, first, sizeof first), 0);
  rt_dataset_fini(&d);
  cr_assert(rt_idx_load(NULL, RT_SPLIT_TEST, 5, 10, &d, err, sizeof err), "%s", err);
  cr_expect_eq(d.n, 5);
  cr_expect_eq(memcmp(d.y, first, 5 * sizeof first[0]), 0);
  rt_dataset_fini(&d);
}

/* A raw idx3 file: header (magic, n, rows, cols) + npix pixel bytes. */
static void write_images(const char *path, uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols,
                         size_t npix) {
  size_t len = 16 + npix;
  unsigned char *b = calloc(1, len);
  uint32_t h[4] = {magic, n, rows, cols};
  for (int i = 0; i < 16; i++) b[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
  for (size_t i = 0; i < npix; i++) b[16 + i] = (unsigned char)(i * 37);
  write_bytes(path, b, len);
  free(b);
}

static void write_labels(const char *path, uint32_t magic, uint32_t n, const unsigned char *lab,
                         size_t nlab) {
  unsigned char b[64] = {0};
  uint32_t h[2] = {magic, n};
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
  memcpy(b + 8, lab, nlab);
  write_bytes(path, b, 8 + nlab);
}

static const unsigned char good_labels[3] = {1, 0, 2};

static void expect_idx_error(const char *img, const char *lab, const char *file, const char *needle) {
  RtDataset d;
  char err[512] = "";
  cr_expect_not(rt_idx_load_files(img, lab, 0, 3, &d, err, sizeof err), "accepted");
  cr_expect(strncmp(err, file, strlen(file)) == 0, "message does not name %s: %s", file, err);
  cr_expect(strstr(err, needle) != NULL, "expected '%s' in: %s", needle, err);
  cr_expect(d.x == NULL && d.y == NULL && d.n == 0);
}

Test(idx, crafted_good_files_raw_and_gzip) {
  const char *img = tmp_path("train-images.idx3-ubyte"); /* MNIST's other spelling */
  write_images(img, 0x803, 3, 2, 2, 12);
  /* Labels gzip-compressed through zlib. */
  const char *lab = tmp_path("train-labels-idx1-ubyte.gz");
  gzFile g = gzopen(lab, "wb");
  unsigned char hdr[8] = {0, 0, 8, 1, 0, 0, 0, 3};
  cr_assert(g && gzwrite(g, hdr, 8) == 8 && gzwrite(g, good_labels, 3) == 3);
  gzclose(g);
  RtDataset d;
  char err[512];
  cr_assert(rt_idx_load(tmpdir, RT_SPLIT_TRAIN, 0, 3, &d, err, sizeof err), "%s", err);
  cr_expect(d.n == 3 && d.feat == 4 && d.rows == 2);
  cr_expect_eq(memcmp(d.y, (int32_t[]){1, 0, 2}, 12), 0);
  cr_expect_float_eq(d.x[1], 37.0f / 255.0f, 1e-7);
  cr_expect_float_eq(d.x[11], (float)((11 * 37) & 255) / 255.0f, 1e-7);
  rt_dataset_fini(&d);
}

Test(idx, crafted_bad_files_are_rejected) {
  const char *lab = tmp_path("lab"), *img = tmp_path("img");
  write_labels(lab, 0x801, 3, good_labels, 3);
  write_images(img, 0x802, 3, 2, 2, 12);
  expect_idx_error(img, lab, img, "wrong magic");
  write_images(img, 0x803, 3, 2, 2, 11);
  expect_idx_error(img, lab, img, "truncated");
  write_bytes(img, "\0\0\x08\x03\0\0", 6);
  expect_idx_error(img, lab, img, "truncated");
  write_images(img, 0x803, 3, 0, 2, 0);
  expect_idx_error(img, lab, img, "image size");
  write_images(img, 0x803, 3, 2, 2, 12);
  write_labels(lab, 0x803, 3, good_labels, 3);
  expect_idx_error(img, lab, lab, "wrong magic");
  write_labels(lab, 0x801, 4, good_labels, 3);
  expect_idx_error(img, lab, lab, "has 4 labels but the image file has 3");
  write_labels(lab, 0x801, 3, good_labels, 2);
  expect_idx_error(img, lab, lab, "truncated");
  write_labels(lab, 0x801, 3, (const unsigned char[]){1, 7, 0}, 3);
  expect_idx_error(img, lab, lab, "out of range");
  expect_idx_error(tmp_path("missing"), lab, tmp_path("missing"), "cannot open");
  /* A corrupt gzip stream: gzip magic, then garbage. */
  write_bytes(img, "\x1f\x8b\x08\0\0\0\0\0\0\x03garbagegarbage", 24);
  expect_idx_error(img, lab, img, "");
}

Test(idx, missing_directory_names_the_file) {
  RtDataset d;
  char err[512];
  cr_expect_not(rt_idx_load(tmp_path("nowhere"), RT_SPLIT_TEST, 0, 10, &d, err, sizeof err));
  cr_expect(strstr(err, "nowhere/t10k-images-idx3-ubyte.gz") != NULL, "%s", err);
  cr_expect(strstr(err, "no such file") != NULL, "%s", err);
}

/* ---- hostile files: FIFOs and damaged gzip streams ---- */

/* A FIFO with no writer: a blocking open() would wait forever (the timeout
 * catches that regression); the loaders refuse it at once. */
Test(idx, fifo_is_refused_without_blocking, .timeout = 20) {
  const char *img = tmp_path("img"), *lab = tmp_path("lab"), *fifo = tmp_path("fifo");
  write_images(img, 0x803, 3, 2, 2, 12);
  write_labels(lab, 0x801, 3, good_labels, 3);
  cr_assert_eq(mkfifo(fifo, 0600), 0);
  expect_idx_error(fifo, lab, fifo, "is a FIFO, not a regular file");
  expect_idx_error(img, fifo, fifo, "is a FIFO, not a regular file");
  expect_idx_error(tmpdir, lab, tmpdir, "is a directory, not a regular file");
}

Test(corpus, fifo_is_refused_without_blocking, .timeout = 20) {
  const char *fifo = tmp_path("fifo");
  cr_assert_eq(mkfifo(fifo, 0600), 0);
  RtCorpus c;
  char err[512];
  cr_expect_not(rt_corpus_load(fifo, 0.1, &c, err, sizeof err));
  cr_expect(strstr(err, "fifo: is a FIFO, not a regular file") != NULL, "%s", err);
}

/* gzip-compresses n bytes into path with zlib; returns the file's size. */
static size_t write_gz(const char *path, const unsigned char *b, size_t n) {
  gzFile g = gzopen(path, "wb");
  cr_assert(g && gzwrite(g, b, (unsigned)n) == (int)n);
  cr_assert_eq(gzclose(g), Z_OK);
  struct stat sb;
  cr_assert_eq(stat(path, &sb), 0);
  return (size_t)sb.st_size;
}

static unsigned char *read_all(const char *path, size_t n) {
  unsigned char *b = malloc(n + 64);
  FILE *f = fopen(path, "rb");
  cr_assert(f && fread(b, 1, n, f) == n);
  fclose(f);
  return b;
}

/* A gzip file whose deflate data, CRC or length is damaged, or that has
 * bytes after the stream, is an error, even when `limit` keeps one image:
 * the reader inflates to the end and zlib checks the trailer there. */
Test(idx, damaged_gzip_is_rejected) {
  enum { N = 200, R = 8, C = 8 };
  static unsigned char raw[16 + N * R * C];
  uint32_t h[4] = {0x803, N, R, C};
  for (int i = 0; i < 16; i++) raw[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
  for (size_t i = 16, x = 1; i < sizeof raw; i++, x = x * 1103515245 + 12345)
    raw[i] = (unsigned char)(x >> 16);
  unsigned char lab[8 + N] = {0, 0, 8, 1, 0, 0, 0, N};
  const char *labp = tmp_path("lab"), *good = tmp_path("good.gz"), *bad = tmp_path("bad.gz");
  write_bytes(labp, lab, sizeof lab);
  size_t n = write_gz(good, raw, sizeof raw);
  unsigned char *gz = read_all(good, n);
  RtDataset d;
  char err[512];
  cr_assert(rt_idx_load_files(good, labp, 1, 10, &d, err, sizeof err), "%s", err);
  rt_dataset_fini(&d);
  struct {
    size_t at;     /* byte flipped (n + k: k bytes appended instead) */
    const char *msg;
  } cases[] = {{n / 2, "corrupt data in the pixel data"},   /* deflate data */
               {n - 8, "incorrect data check"},             /* CRC-32 */
               {n - 2, "incorrect length check"},           /* ISIZE */
               {n + 7, "garbage after the gzip stream"}};   /* trailing bytes */
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    unsigned char *b = read_all(good, n);
    size_t len = n;
    if (cases[i].at < n) {
      b[cases[i].at] ^= 0x55;
    } else {
      len = cases[i].at;
      memcpy(b + n, "garbage", len - n);
    }
    write_bytes(bad, b, len);
    free(b);
    for (int64_t limit = 0; limit <= 1; limit++) {
      cr_expect_not(rt_idx_load_files(bad, labp, limit, 10, &d, err, sizeof err),
                    "case %zu limit %lld accepted", i, (long long)limit);
      cr_expect(strstr(err, bad) == err && strstr(err, cases[i].msg), "case %zu: %s", i, err);
    }
  }
  /* Two gzip members are one stream of data: too many pixel bytes here. */
  unsigned char *two = malloc(2 * n);
  memcpy(two, gz, n);
  memcpy(two + n, gz, n);
  write_bytes(bad, two, 2 * n);
  cr_expect_not(rt_idx_load_files(bad, labp, 1, 10, &d, err, sizeof err));
  cr_expect(strstr(err, "unexpected data after the pixel data"), "%s", err);
  /* A raw file with one byte too many. */
  raw[sizeof raw - 1] = 0;
  unsigned char *longer = calloc(1, sizeof raw + 1);
  memcpy(longer, raw, sizeof raw);
  write_bytes(bad, longer, sizeof raw + 1);
  cr_expect_not(rt_idx_load_files(bad, labp, 0, 10, &d, err, sizeof err));
  cr_expect(strstr(err, "unexpected data after the pixel data"), "%s", err);
  free(longer);
  free(two);
  free(gz);
}

/* ---- text corpus ---- */

/* Sum of sizes of the fortune text files: regular files whose names have no dot. */
static size_t fortune_text_bytes(int *nfiles) {
  DIR *d = opendir(RT_FORTUNES_DIR);
  cr_assert_not_null(d);
  size_t total = 0;
  *nfiles = 0;
  for (struct dirent *e; (e = readdir(d));) {
    char p[1024];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", RT_FORTUNES_DIR, e->d_name);
    if (strchr(e->d_name, '.') || lstat(p, &sb) || !S_ISREG(sb.st_mode)) continue;
    total += (size_t)sb.st_size;
    (*nfiles)++;
  }
  closedir(d);
  return total;
}

Test(corpus, fortunes_load_skipping_index_files) {
  RtCorpus c, c2;
  char err[512];
  cr_assert(rt_corpus_load(NULL, 0.1, &c, err, sizeof err), "%s", err);
  int nfiles;
  size_t expect = fortune_text_bytes(&nfiles);
  cr_expect_gt(nfiles, 5);
  cr_expect_eq(c.n_files, nfiles);
  cr_expect_eq(c.n, expect, "%zu bytes, expected %zu (index files read?)", c.n, expect);
  cr_expect_eq(c.n_train, c.n - (size_t)(c.n * 0.1));
  /* First file in sorted order is "art". */
  FILE *f = fopen(RT_FORTUNES_DIR "/art", "rb");
  unsigned char head[64];
  cr_assert_eq(fread(head, 1, 64, f), 64);
  fclose(f);
  cr_expect_eq(memcmp(c.bytes, head, 64), 0);
  cr_assert(rt_corpus_load(RT_FORTUNES_DIR, 0.1, &c2, err, sizeof err), "%s", err);
  cr_expect(c2.n == c.n && c2.n_train == c.n_train && memcmp(c.bytes, c2.bytes, c.n) == 0);
  rt_corpus_fini(&c2);
  rt_corpus_fini(&c);
}

Test(corpus, directory_order_and_skips) {
  char sub[600];
  write_bytes(tmp_path("b.txt"), "BBBB", 4);
  write_bytes(tmp_path("a.txt"), "AAAAAA", 6);
  write_bytes(tmp_path("a.dat"), "index", 5);
  write_bytes(tmp_path("a.u8"), "dup", 3);
  write_bytes(tmp_path(".hidden"), "h", 1);
  snprintf(sub, sizeof sub, "%s", tmp_path("off"));
  cr_assert_eq(mkdir(sub, 0755), 0);
  write_bytes(tmp_path("off/c.txt"), "offensive", 9);
  RtCorpus c;
  char err[512];
  cr_assert(rt_corpus_load(tmpdir, 0.2, &c, err, sizeof err), "%s", err);
  cr_expect_eq(c.n_files, 2);
  cr_assert_eq(c.n, 10);
  cr_expect_eq(memcmp(c.bytes, "AAAAAABBBB", 10), 0);
  cr_expect_eq(c.n_train, 8);
  size_t len;
  const uint8_t *v = rt_corpus_split(&c, RT_SPLIT_TEST, &len);
  cr_expect(len == 2 && v[0] == 'B');
  rt_corpus_fini(&c);
  /* A single file works too. */
  cr_assert(rt_corpus_load(tmp_path("a.txt"), 0.5, &c, err, sizeof err), "%s", err);
  cr_expect(c.n == 6 && c.n_files == 1 && c.n_train == 3);
  rt_corpus_fini(&c);
}

Test(corpus, errors) {
  RtCorpus c;
  char err[512];
  cr_expect_not(rt_corpus_load(tmp_path("absent"), 0.1, &c, err, sizeof err));
  cr_expect(strstr(err, "absent: cannot open") != NULL, "%s", err);
  cr_expect_not(rt_corpus_load(tmpdir, 0.1, &c, err, sizeof err));
  cr_expect(strstr(err, "no text files") != NULL, "%s", err);
  write_bytes(tmp_path("tiny"), "abc", 3);
  cr_expect_not(rt_corpus_load(tmp_path("tiny"), 0.1, &c, err, sizeof err));
  cr_expect(strstr(err, "too few") != NULL, "%s", err);
  cr_expect_not(rt_corpus_load(tmp_path("tiny"), 1.5, &c, err, sizeof err));
  cr_expect(c.bytes == NULL && c.n == 0);
}

Test(corpus, random_windows_are_shifted_slices_of_the_split) {
  RtCorpus c;
  char err[512];
  cr_assert(rt_corpus_load(NULL, 0.1, &c, err, sizeof err), "%s", err);
  enum { B = 16, T = 64 };
  int32_t x[B * T], y[B * T], x2[B * T];
  RtRng r, r2;
  rt_rng_seed(&r, 1);
  r2 = r;
  for (int split = 0; split < 2; split++) {
    size_t len;
    const uint8_t *s = rt_corpus_split(&c, (RtSplit)split, &len);
    cr_assert(rt_corpus_sample(&c, (RtSplit)split, T, B, &r, x, y));
    cr_assert(rt_corpus_sample(&c, (RtSplit)split, T, B, &r2, x2, y));
    cr_expect_eq(memcmp(x, x2, sizeof x), 0, "same seed, same windows");
    for (int b = 0; b < B; b++) {
      const int32_t *xb = x + b * T, *yb = y + b * T;
      for (int t = 0; t < T; t++) cr_assert(xb[t] >= 0 && xb[t] < 256 && yb[t] >= 0 && yb[t] < 256);
      for (int t = 0; t + 1 < T; t++) cr_assert_eq(yb[t], xb[t + 1]);
      /* The window occurs in this split: find its start. */
      uint8_t w[T + 1];
      for (int t = 0; t < T; t++) w[t] = (uint8_t)xb[t];
      w[T] = (uint8_t)yb[T - 1];
      int found = 0;
      for (size_t i = 0; !found && i + T + 1 <= len; i++) found = memcmp(s + i, w, T + 1) == 0;
      cr_expect(found, "window %d of split %d not in the split", b, split);
    }
  }
  cr_expect_not(rt_corpus_sample(&c, RT_SPLIT_TEST, (int)c.n, 1, &r, x, y), "context too long");
  rt_corpus_fini(&c);
}

Test(corpus, evaluation_windows_tile_the_split) {
  RtCorpus c;
  char err[512];
  write_bytes(tmp_path("t"), "0123456789abcdefghij", 20);
  cr_assert(rt_corpus_load(tmp_path("t"), 0.5, &c, err, sizeof err), "%s", err);
  /* validation = "abcdefghij": windows of 3 → "abc"->"bcd", "def"->"efg", "ghi"->"hij" */
  cr_assert_eq(rt_corpus_windows(&c, RT_SPLIT_TEST, 3), 3);
  int32_t x[9], y[9];
  cr_assert_eq(rt_corpus_window_fill(&c, RT_SPLIT_TEST, 3, 1, 10, x, y), 2);
  cr_expect(x[0] == 'd' && y[0] == 'e' && x[5] == 'i' && y[5] == 'j');
  cr_expect_eq(rt_corpus_window_fill(&c, RT_SPLIT_TEST, 3, 3, 1, x, y), 0);
  rt_corpus_fini(&c);
}

/* ---- batch iterator ---- */

static RtDataset tiny_dataset(int64_t n) {
  RtDataset d = {.n = n, .feat = 2, .n_classes = 10};
  d.x = malloc((size_t)n * 2 * sizeof *d.x);
  d.y = malloc((size_t)n * sizeof *d.y);
  for (int64_t i = 0; i < n; i++) {
    d.x[2 * i] = (float)i;
    d.x[2 * i + 1] = -(float)i;
    d.y[i] = (int32_t)(i % 10);
  }
  return d;
}

static void expect_permutation(const int64_t *p, int64_t n) {
  char *seen = calloc((size_t)n, 1);
  for (int64_t i = 0; i < n; i++) {
    cr_assert(p[i] >= 0 && p[i] < n);
    cr_assert_not(seen[p[i]], "%lld twice", (long long)p[i]);
    seen[p[i]] = 1;
  }
  free(seen);
}

Test(batch, permutation_depends_only_on_seed_and_epoch) {
  enum { N = 1000 };
  static int64_t a[N], b[N], c[N], e1[N];
  rt_data_permutation(42, 3, a, N);
  rt_data_permutation(42, 3, b, N);
  rt_data_permutation(43, 3, c, N);
  rt_data_permutation(42, 4, e1, N);
  expect_permutation(a, N);
  expect_permutation(e1, N);
  cr_expect_eq(memcmp(a, b, sizeof a), 0);
  cr_expect_neq(memcmp(a, c, sizeof a), 0);
  cr_expect_neq(memcmp(a, e1, sizeof a), 0);
}

Test(batch, train_mode_shuffles_and_drops_partial_batch) {
  RtDataset d = tiny_dataset(10);
  RtBatcher b, again;
  char err[128];
  cr_assert(rt_batcher_init(&b, &d, 3, 7, RT_BATCH_TRAIN, err, sizeof err), "%s", err);
  cr_assert(rt_batcher_init(&again, &d, 3, 7, RT_BATCH_TRAIN, err, sizeof err), "%s", err);
  cr_expect_eq(rt_batcher_count(&b), 3, "10 / 3: the partial batch of 1 is dropped");
  float x[6];
  int32_t y[3];
  int64_t seen[9], epoch0[9];
  for (int epoch = 0; epoch < 3; epoch++) {
    rt_batcher_set_epoch(&b, epoch);
    for (int i = 0; i < 3; i++) {
      cr_assert_eq(rt_batcher_fill(&b, i, x, y), 3);
      for (int k = 0; k < 3; k++) {
        seen[3 * i + k] = (int64_t)x[2 * k];
        cr_expect_eq(x[2 * k + 1], -x[2 * k]);
        cr_expect_eq(y[k], (int32_t)x[2 * k] % 10);
      }
    }
    if (epoch == 0) memcpy(epoch0, seen, sizeof seen);
    else cr_expect_neq(memcmp(epoch0, seen, sizeof seen), 0, "epoch %d repeats epoch 0", epoch);
  }
  cr_expect_eq(rt_batcher_fill(&b, 3, x, y), 0);
  /* Jumping straight to epoch 0 on another batcher (a resume) gives the same order. */
  rt_batcher_set_epoch(&again, 0);
  for (int i = 0; i < 3; i++) {
    rt_batcher_fill(&again, i, x, y);
    for (int k = 0; k < 3; k++) cr_expect_eq((int64_t)x[2 * k], epoch0[3 * i + k]);
  }
  rt_batcher_fini(&b);
  rt_batcher_fini(&again);
  rt_dataset_fini(&d);
}

Test(batch, eval_mode_keeps_order_and_partial_batch) {
  RtDataset d = tiny_dataset(10);
  RtBatcher b;
  char err[128];
  cr_assert(rt_batcher_init(&b, &d, 4, 7, RT_BATCH_EVAL, err, sizeof err), "%s", err);
  cr_expect_eq(rt_batcher_count(&b), 3);
  float x[8];
  int32_t y[4];
  cr_expect_eq(rt_batcher_fill(&b, 0, x, y), 4);
  cr_expect(x[0] == 0 && x[6] == 3 && y[3] == 3);
  cr_expect_eq(rt_batcher_fill(&b, 2, x, y), 2, "last batch keeps its 2 examples");
  cr_expect(x[0] == 8 && x[2] == 9 && y[1] == 9);
  rt_batcher_fini(&b);
  cr_expect_not(rt_batcher_init(&b, &d, 0, 7, RT_BATCH_EVAL, err, sizeof err));
  rt_dataset_fini(&d);
}
