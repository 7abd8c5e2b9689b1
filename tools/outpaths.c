/* outpaths.c — before a run compiles or trains anything, the files it will
 * write (--save, --log, --report) are checked, so that a typo cannot destroy
 * a model, a checkpoint or a data file, and an unwritable path is found at
 * once rather than after an epoch:
 *
 * 1. an output may not be the same file (device and inode) as an input — the
 *    model source, the --resume / --load checkpoint (except that --save may
 *    replace the checkpoint it resumes: it is read first and replaced
 *    atomically), the data — nor as another output (same file, or the same
 *    resolved path when it does not exist yet);
 * 2. it may not be a directory, and an existing file must be what lnet would
 *    write there: an lnet checkpoint for --save (a safetensors file whose
 *    header metadata says "format": "lnet-checkpoint-..."), an lnet log or
 *    report for --log and --report (their first bytes, RT_*_HEAD); an empty
 *    file holds nothing to lose. --save replaces the file by renaming, so it
 *    must be a regular file; --log and --report may also be devices or pipes
 *    (/dev/stdout);
 * 3. its directory must take a new file (one is created and removed).
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Path {
    const char *what;       /* "--save", "the model", ... */
    const char *path;       /* NULL: not given */
    bool ckpt;              /* outputs: a checkpoint (else a log or report) */
    bool resumed;           /* inputs: the checkpoint a run resumes (--save may replace it) */
    bool exists;
    struct stat st;
    char resolved[PATH_MAX];    /* outputs that do not exist: the resolved path */
} Path;

/* The first n bytes of path into buf (NUL-terminated); how many were read. */
static size_t read_head(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY);
    size_t got = 0;
    while (fd >= 0 && got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (fd >= 0)
        close(fd);
    buf[got] = '\0';
    return got;
}

/* An lnet checkpoint: safetensors (an 8-byte little-endian header length,
 * then the JSON header) whose __metadata__, written first, names lnet's
 * format (runtime/io/checkpoint.c). */
static bool is_checkpoint(const char *path)
{
    char buf[8 + 4096 + 1];
    size_t got = read_head(path, buf, sizeof buf - 1);
    if (got < 8)
        return false;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--)
        len = len << 8 | (unsigned char)buf[i];
    if (len < 2 || got - 8 < (len < 4096 ? len : 4096))
        return false;
    const char *hdr = buf + 8;
    return hdr[0] == '{' && strstr(hdr, "\"format\":\"lnet-checkpoint-") != NULL;
}

static bool is_log_or_report(const char *path)
{
    char buf[32];
    read_head(path, buf, sizeof buf - 1);
    const char *heads[] = {RT_LOG_CSV_HEAD, RT_LOG_JSON_HEAD, RT_REPORT_HEAD};
    for (int i = 0; i < 3; i++)
        if (strncmp(buf, heads[i], strlen(heads[i])) == 0)
            return true;
    return false;
}

/* "lnet CMD: error: --save 'PATH' <message>"; returns false. */
static bool __attribute__((format(printf, 3, 4)))
fail(const CliCmd *cmd, const Path *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lnet %s: error: %s '%s' ", cmd->name, p->what, p->path);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return false;
}

/* The directory part of path ("." for a bare name) into dir. */
static void dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, cap, ".");
    else if (slash == path)
        snprintf(dir, cap, "/");
    else
        snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

/* A new file can be created in path's directory: one is, then removed. */
static bool dir_writable(const CliCmd *cmd, const Path *p)
{
    char dir[PATH_MAX], tmp[PATH_MAX + 32];
    dir_of(p->path, dir, sizeof dir);
    snprintf(tmp, sizeof tmp, "%s/.lnet-write-test-XXXXXX", dir);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return fail(cmd, p, "cannot be written: cannot create a file in '%s': %s", dir,
                    strerror(errno));
    close(fd);
    unlink(tmp);
    return true;
}

/* An output that does not exist yet: its resolved path, for comparisons. */
static bool resolve(const CliCmd *cmd, Path *p)
{
    char dir[PATH_MAX], real[PATH_MAX];
    dir_of(p->path, dir, sizeof dir);
    const char *slash = strrchr(p->path, '/');
    if (!realpath(dir, real))
        return fail(cmd, p, "cannot be written: directory '%s': %s", dir, strerror(errno));
    if (snprintf(p->resolved, sizeof p->resolved, "%s/%s", real, slash ? slash + 1 : p->path) >=
        (int)sizeof p->resolved)
        return fail(cmd, p, "cannot be written: %s", strerror(ENAMETOOLONG));
    return true;
}

static bool same(const Path *a, const Path *b)
{
    if (a->exists && b->exists)
        return a->st.st_dev == b->st.st_dev && a->st.st_ino == b->st.st_ino;
    return !a->exists && !b->exists && strcmp(a->resolved, b->resolved) == 0;
}

/* An existing output: not an input's file, not a directory, and what lnet
 * would write there. */
static bool check_existing(const CliCmd *cmd, const Path *p, const Path *in, int n_in)
{
    for (int j = 0; j < n_in; j++) {
        if (in[j].exists && same(p, &in[j]) && !(p->ckpt && in[j].resumed))
            return fail(cmd, p, "is the same file as %s '%s'; choose another name",
                        in[j].what, in[j].path);
    }
    if (S_ISDIR(p->st.st_mode))
        return fail(cmd, p, "is a directory; give a file name");
    if (p->ckpt && !S_ISREG(p->st.st_mode))
        return fail(cmd, p, "is not a regular file; choose another name");
    if (!S_ISREG(p->st.st_mode) || p->st.st_size == 0)
        return true;
    if (p->ckpt ? !is_checkpoint(p->path) : !is_log_or_report(p->path))
        return fail(cmd, p, "exists and is not %s; remove it or choose another name",
                    p->ckpt ? "an lnet checkpoint" : "an lnet log or report");
    if (!p->ckpt && access(p->path, W_OK) != 0)
        return fail(cmd, p, "cannot be written: %s", strerror(errno));
    return true;
}

bool cli_check_outputs(const CliCmd *cmd, const char *model, const RtTrainOpts *o,
                       const char *data)
{
    Path in[] = {{.what = "the model", .path = model},
                 {.what = o->eval_only ? "--load" : "--resume", .path = o->resume_path,
                  .resumed = true},
                 {.what = "the data", .path = data}};
    Path out[] = {{.what = "--save", .path = o->save_path, .ckpt = true},
                  {.what = "--log", .path = o->log_path},
                  {.what = "--report", .path = o->report_path}};
    enum { N_IN = sizeof in / sizeof in[0], N_OUT = sizeof out / sizeof out[0] };
    for (int j = 0; j < N_IN; j++)
        in[j].exists = in[j].path && stat(in[j].path, &in[j].st) == 0;
    for (int i = 0; i < N_OUT; i++) {
        Path *p = &out[i];
        if (!p->path)
            continue;
        p->exists = stat(p->path, &p->st) == 0;
        if (!p->exists && errno != ENOENT)
            return fail(cmd, p, "cannot be written: %s", strerror(errno));
        if (p->exists ? !check_existing(cmd, p, in, N_IN) : !resolve(cmd, p))
            return false;
        if ((p->ckpt || !p->exists) && !dir_writable(cmd, p))
            return false;
        for (int j = 0; j < i; j++)
            if (out[j].path && same(p, &out[j]))
                return fail(cmd, p, "is the same file as %s '%s'; give each its own file",
                            out[j].what, out[j].path);
    }
    return true;
}

/* lnet build -o TRAINER: never the model source or a directory, and an
 * existing file only when it is an executable (ELF), as lnet build writes. */
bool cli_check_trainer_output(const CliCmd *cmd, const char *model, const char *out)
{
    Path m = {.what = "the model", .path = model};
    Path o = {.what = "-o", .path = out};
    m.exists = stat(model, &m.st) == 0;
    o.exists = stat(out, &o.st) == 0;
    if (!o.exists)
        return resolve(cmd, &o) && dir_writable(cmd, &o);
    if (m.exists && same(&o, &m))
        return fail(cmd, &o, "is the same file as the model '%s'; choose another name", model);
    if (S_ISDIR(o.st.st_mode))
        return fail(cmd, &o, "is a directory; give a file name");
    char head[8];
    if (S_ISREG(o.st.st_mode) && o.st.st_size > 0 &&
        (read_head(out, head, 4) < 4 || memcmp(head, "\x7f" "ELF", 4) != 0))
        return fail(cmd, &o, "exists and is not an executable; remove it or choose another "
                    "name");
    return true;
}
