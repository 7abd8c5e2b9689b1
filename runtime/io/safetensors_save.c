/* safetensors_save.c — atomic writer of the safetensors layout.
 * The header is built in memory (open_memstream), tensors are laid out by
 * decreasing element size so each is aligned, and the file is written to
 * path.tmp.<pid>, fsynced and renamed over path; then the directory is
 * fsynced so the rename itself survives a crash. A writer killed before the
 * rename leaves its temporary behind: the next save (or checkpoint load) of
 * the same path removes it once no process has that pid. */
#include "rt_impl.h"
#include "safetensors.h"

#include "json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* Each tensor must be well formed and uniquely named before anything is written. */
static bool check_tensors(const char *path, const StTensor *ts, int n, char *err, size_t cap) {
  for (int i = 0; i < n; i++) {
    const StTensor *t = &ts[i];
    if (!t->name || !*t->name || strcmp(t->name, "__metadata__") == 0)
      return rt_fail_path(err, cap, path, "tensor %d has an empty or reserved name", i);
    if ((unsigned)t->dtype > ST_I64 || t->rank < 0 || t->rank > ST_MAX_RANK)
      return rt_fail_path(err, cap, path, "tensor \"%s\": bad dtype or rank", t->name);
    int64_t numel = st_numel(t->rank, t->shape);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / st_dtype_size(t->dtype) ||
        (size_t)numel * st_dtype_size(t->dtype) != t->nbytes)
      return rt_fail_path(err, cap, path, "tensor \"%s\": nbytes %zu does not match its shape",
                       t->name, t->nbytes);
    if (t->nbytes && !t->data) return rt_fail_path(err, cap, path, "tensor \"%s\": no data", t->name);
    for (int j = 0; j < i; j++)
      if (strcmp(ts[j].name, t->name) == 0)
        return rt_fail_path(err, cap, path, "duplicate tensor name \"%s\"", t->name);
  }
  return true;
}

/* Data order: by decreasing element size, stable (insertion sort on indices). */
static void layout_order(const StTensor *ts, int n, int *order) {
  for (int i = 0; i < n; i++) {
    int j = i;
    while (j > 0 && st_dtype_size(ts[order[j - 1]].dtype) < st_dtype_size(ts[i].dtype)) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
  }
}

static void write_entry(FILE *h, const StTensor *t, size_t begin) {
  rt_json_write_string(h, t->name);
  fprintf(h, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(t->dtype));
  for (int d = 0; d < t->rank; d++) fprintf(h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
  fprintf(h, "],\"data_offsets\":[%zu,%zu]}", begin, begin + t->nbytes);
}

/* Header JSON in header (i.e. caller) order, padded with spaces to 8 bytes. */
static char *build_header(const StTensor *ts, int n, const int *order, const char *const *kv,
                          int n_meta, size_t *len) {
  size_t *begin = calloc((size_t)n + 1, sizeof *begin);
  char *buf = NULL;
  FILE *h = begin ? open_memstream(&buf, len) : NULL;
  if (!h) return free(begin), NULL;
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    begin[order[i]] = at;
    at += ts[order[i]].nbytes;
  }
  fputc('{', h);
  if (n_meta > 0) {
    fputs("\"__metadata__\":{", h);
    for (int i = 0; i < n_meta; i++) {
      if (i) fputc(',', h);
      rt_json_write_string(h, kv[2 * i]);
      fputc(':', h);
      rt_json_write_string(h, kv[2 * i + 1]);
    }
    fputc('}', h);
  }
  for (int i = 0; i < n; i++) {
    if (i || n_meta > 0) fputc(',', h);
    write_entry(h, &ts[i], begin[i]);
  }
  fputc('}', h);
  while ((ftell(h) % 8) != 0) fputc(' ', h);
  bool ok = !ferror(h);
  free(begin);
  if (fclose(h) != 0 || !ok) return free(buf), NULL;
  return buf;
}

/* ---- test hook: killing the writer in the middle of a save ----
 * LNET_FAULT_KILL_AFTER_BYTES=N makes the writer raise SIGKILL once exactly N
 * bytes of the temporary file are written (N >= the file's size: once it is
 * complete and fsynced, just before the rename), and
 * LNET_FAULT_KILL_AFTER_RENAME=1 just after the rename. Only
 * tests/faults/checkpoint_kill.sh sets them, to show that a save killed at
 * any point leaves the old or the new file at the path, and a temporary that
 * the next save or checkpoint load removes. */
static int64_t fault_kill_after(void) {
  const char *v = getenv("LNET_FAULT_KILL_AFTER_BYTES");
  char *end;
  long long n = v && *v ? strtoll(v, &end, 10) : -1;
  return n >= 0 && *end == '\0' ? n : -1;
}

static void fault_point_rename(void) {
  const char *v = getenv("LNET_FAULT_KILL_AFTER_RENAME");
  if (v && strcmp(v, "1") == 0) raise(SIGKILL);
}

/* The temporary file being written. */
typedef struct Writer {
  int fd;
  int64_t written;    /* bytes so far */
  int64_t kill_after; /* the test hook's N, or -1 */
} Writer;

static bool put(Writer *w, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n > 0) {
    size_t k = n;
    if (w->kill_after >= 0 && w->written + (int64_t)k > w->kill_after)
      k = (size_t)(w->kill_after - w->written);
    if (k == 0) raise(SIGKILL);
    ssize_t r = write(w->fd, b, k);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return false;
    b += r;
    n -= (size_t)r;
    w->written += r;
  }
  return true;
}

/* Length prefix, header, then the data in layout order; then fsync. */
static bool write_all(Writer *w, const StTensor *ts, int n, const int *order, const char *hdr,
                      size_t hlen) {
  uint8_t lb[8];
  for (int i = 0; i < 8; i++) lb[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
  bool ok = put(w, lb, 8) && put(w, hdr, hlen);
  for (int i = 0; ok && i < n; i++) ok = put(w, ts[order[i]].data, ts[order[i]].nbytes);
  ok = ok && fsync(w->fd) == 0;
  if (ok && w->kill_after >= 0) raise(SIGKILL);
  return ok;
}

/* fsync the directory holding path; EINVAL (not supported) is not an error. */
static bool sync_dir(const char *path) {
  char *copy = strdup(path);
  if (!copy) return false;
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  free(copy);
  if (fd < 0) return false;
  bool ok = fsync(fd) == 0 || errno == EINVAL;
  close(fd);
  return ok;
}

/* Writes everything to tmp and renames it over path; tmp is removed on failure. */
static bool write_atomic(const char *path, const char *tmp, const StTensor *ts, int n,
                         const int *order, const char *hdr, size_t hlen, char *err, size_t cap) {
  Writer w = {open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), 0, fault_kill_after()};
  if (w.fd < 0) return rt_fail_path(err, cap, path, "cannot create %s: %s", tmp, strerror(errno));
  bool ok = write_all(&w, ts, n, order, hdr, hlen);
  int saved = errno;
  ok = close(w.fd) == 0 && ok;
  if (!ok) {
    unlink(tmp);
    return rt_fail_path(err, cap, path, "writing %s failed: %s", tmp, strerror(saved ? saved : errno));
  }
  if (rename(tmp, path) != 0) {
    saved = errno;
    unlink(tmp);
    return rt_fail_path(err, cap, path, "rename from %s failed: %s", tmp, strerror(saved));
  }
  fault_point_rename();
  if (!sync_dir(path)) return rt_fail_path(err, cap, path, "fsync of directory failed: %s", strerror(errno));
  return true;
}

/* The pid of a name "<base>.tmp.<pid>", or 0 if name is not one. */
static pid_t temp_pid(const char *name, const char *base) {
  size_t bl = strlen(base);
  if (strncmp(name, base, bl) != 0 || strncmp(name + bl, ".tmp.", 5) != 0) return 0;
  const char *d = name + bl + 5;
  long long pid = 0;
  for (int i = 0; d[i]; i++) {
    if (d[i] < '0' || d[i] > '9' || i >= 10) return 0;
    pid = pid * 10 + (d[i] - '0');
  }
  return pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0;
}

void st_remove_stale_temps(const char *path) {
  char *dcopy = strdup(path), *bcopy = strdup(path);
  DIR *d = dcopy && bcopy ? opendir(dirname(dcopy)) : NULL;
  const char *base = d ? basename(bcopy) : NULL;
  for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
    pid_t pid = temp_pid(e->d_name, base);
    struct stat sb;
    /* Only a dead writer's regular file: kill(pid, 0) fails with ESRCH
     * exactly when no process has that pid (EPERM: it lives, not ours). */
    if (pid == 0 || pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH) continue;
    if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
      unlinkat(dirfd(d), e->d_name, 0);
  }
  if (d) closedir(d);
  free(dcopy);
  free(bcopy);
}

bool st_save(const char *path, const StTensor *ts, int n, const char *const *meta_kv, int n_meta,
             char *err, size_t errcap) {
  if (n < 0 || n_meta < 0 || (n_meta > 0 && !meta_kv))
    return rt_fail_path(err, errcap, path, "bad arguments to st_save");
  for (int i = 0; i < 2 * n_meta; i++)
    if (!meta_kv[i]) return rt_fail_path(err, errcap, path, "metadata entry %d is NULL", i / 2);
  if (!check_tensors(path, ts, n, err, errcap)) return false;
  st_remove_stale_temps(path);
  int *order = malloc(((size_t)n + 1) * sizeof *order);
  size_t hlen = 0;
  char *hdr = NULL;
  if (order) layout_order(ts, n, order);
  if (order) hdr = build_header(ts, n, order, meta_kv, n_meta, &hlen);
  char tmp[4096];
  bool ok = hdr != NULL || rt_fail_path(err, errcap, path, "out of memory building the header");
  if (ok && snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
    ok = rt_fail_path(err, errcap, path, "path too long");
  ok = ok && write_atomic(path, tmp, ts, n, order, hdr, hlen, err, errcap);
  free(hdr);
  free(order);
  return ok;
}
