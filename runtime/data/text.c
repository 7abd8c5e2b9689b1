/* data_text.c — byte-level text corpus for character language models.
 * A path names one file or a directory; a directory contributes every regular
 * file (not hidden, not *.dat / *.u8 fortune index files, no recursion) in
 * strcmp order of names, concatenated. The last val_frac of the bytes is the
 * validation split, so the split depends only on the files. */
#include "rt_impl.h"
#include "data.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* Appends the whole file at path to c->bytes. */
static bool append_file(RtCorpus *c, const char *path, char *err, size_t cap) {
  int64_t size;
  int fd = rt_input_open(path, &size, err, cap);
  if (fd < 0) return false;
  FILE *fp = fdopen(fd, "rb");
  if (!fp) {
    close(fd);
    return rt_fail_path(err, cap, path, "cannot open: %s", strerror(errno));
  }
  size_t sz = (size_t)size;
  uint8_t *nb = realloc(c->bytes, c->n + sz + 1);
  bool ok = nb || rt_fail_path(err, cap, path, "out of memory for %zu bytes", c->n + sz);
  if (ok) {
    c->bytes = nb;
    if (fread(c->bytes + c->n, 1, sz, fp) != sz) ok = rt_fail_path(err, cap, path, "short read");
  }
  fclose(fp);
  if (ok) {
    c->n += sz;
    c->n_files++;
  }
  return ok;
}

/* Whether a directory entry is a text file to read. */
static bool wanted(const char *dir, const char *name) {
  size_t len = strlen(name);
  if (name[0] == '.') return false;
  if (len >= 4 && strcmp(name + len - 4, ".dat") == 0) return false;
  if (len >= 3 && strcmp(name + len - 3, ".u8") == 0) return false;
  char path[4096];
  struct stat sb;
  if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return false;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Collects the wanted names of dir, sorted; the caller frees each and the array. */
static bool list_dir(const char *dir, char ***names, int *n, char *err, size_t cap) {
  DIR *d = opendir(dir);
  if (!d) return rt_fail_path(err, cap, dir, "cannot open directory: %s", strerror(errno));
  int capn = 0;
  bool ok = true;
  for (struct dirent *e; ok && (e = readdir(d)) != NULL;) {
    if (!wanted(dir, e->d_name)) continue;
    if (*n == capn) {
      capn = capn ? 2 * capn : 64;
      char **nn = realloc(*names, (size_t)capn * sizeof *nn);
      if (!nn) ok = rt_fail_path(err, cap, dir, "out of memory");
      else *names = nn;
    }
    if (ok && !((*names)[*n] = strdup(e->d_name))) ok = rt_fail_path(err, cap, dir, "out of memory");
    if (ok) (*n)++;
  }
  closedir(d);
  if (ok && *n > 1) qsort(*names, (size_t)*n, sizeof **names, cmp_str);
  return ok;
}

static bool append_dir(RtCorpus *c, const char *dir, char *err, size_t cap) {
  char **names = NULL, path[4096];
  int n = 0;
  bool ok = list_dir(dir, &names, &n, err, cap);
  for (int i = 0; ok && i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    ok = append_file(c, path, err, cap);
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  if (ok && c->n_files == 0) return rt_fail_path(err, cap, dir, "no text files in directory");
  return ok;
}

bool rt_corpus_load(const char *path, double val_frac, RtCorpus *out, char *err, size_t errcap) {
  memset(out, 0, sizeof *out);
  if (!path) path = RT_FORTUNES_DIR;
  if (!(val_frac > 0 && val_frac < 1))
    return rt_fail_path(err, errcap, path, "validation fraction %g is not in (0, 1)", val_frac);
  struct stat sb;
  if (stat(path, &sb) != 0) return rt_fail_path(err, errcap, path, "cannot open: %s", strerror(errno));
  bool ok = S_ISDIR(sb.st_mode) ? append_dir(out, path, err, errcap)
                                : append_file(out, path, err, errcap);
  size_t n_val = (size_t)((double)out->n * val_frac);
  if (ok && (n_val == 0 || n_val >= out->n))
    ok = rt_fail_path(err, errcap, path, "%zu bytes are too few to split into train and validation",
                   out->n);
  out->n_train = out->n - n_val;
  if (!ok) rt_corpus_fini(out);
  return ok;
}

void rt_corpus_fini(RtCorpus *c) {
  free(c->bytes);
  memset(c, 0, sizeof *c);
}

const uint8_t *rt_corpus_split(const RtCorpus *c, RtSplit split, size_t *len) {
  bool train = split == RT_SPLIT_TRAIN;
  *len = train ? c->n_train : c->n - c->n_train;
  return c->bytes + (train ? 0 : c->n_train);
}

/* x[t] = w[t], y[t] = w[t + 1] for t < context. */
static void fill_window(const uint8_t *w, int context, int32_t *x, int32_t *y) {
  for (int t = 0; t < context; t++) {
    x[t] = w[t];
    y[t] = w[t + 1];
  }
}

bool rt_corpus_sample(const RtCorpus *c, RtSplit split, int context, int batch, RtRng *rng,
                      int32_t *x, int32_t *y) {
  size_t len;
  const uint8_t *s = rt_corpus_split(c, split, &len);
  if (context <= 0 || len < (size_t)context + 1) return false;
  for (int b = 0; b < batch; b++) {
    size_t start = (size_t)rt_rng_below(rng, len - (size_t)context);
    size_t off = (size_t)b * (size_t)context;
    fill_window(s + start, context, x + off, y + off);
  }
  return true;
}

int64_t rt_corpus_windows(const RtCorpus *c, RtSplit split, int context) {
  size_t len;
  rt_corpus_split(c, split, &len);
  if (context <= 0 || len < 1) return 0;
  return (int64_t)((len - 1) / (size_t)context);
}

int64_t rt_corpus_window_fill(const RtCorpus *c, RtSplit split, int context, int64_t first,
                              int64_t count, int32_t *x, int32_t *y) {
  size_t len;
  const uint8_t *s = rt_corpus_split(c, split, &len);
  int64_t total = rt_corpus_windows(c, split, context);
  if (first < 0 || first >= total || count <= 0) return 0;
  if (count > total - first) count = total - first;
  for (int64_t i = 0; i < count; i++) {
    size_t off = (size_t)i * (size_t)context;
    fill_window(s + (size_t)(first + i) * (size_t)context, context, x + off, y + off);
  }
  return count;
}
