/* cg_aot.c — the ahead-of-time target: object files for a chosen CPU level,
 * linked into an executable by the system C driver.
 *
 * Modules are optimized exactly as for the JIT, but for the CPU level named
 * in the options ("x86-64-v3" by default, so the binary runs on any recent
 * x86-64 machine and under valgrind; "native" for speed), and written as
 * position-independent objects to <obj_dir>/<module>.o. With no obj_dir the
 * target only optimizes and prints (`lnet ir --emit`). cg_aot_link runs `cc`
 * through posix_spawn — no shell, so paths need no quoting — and turns its
 * output and exit status into a Diag error.
 */
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cg_impl.h"

extern char **environ;

typedef struct CgAot {
    CgBackend base;             /* first: a CgAot is a CgBackend */
    LLVMTargetMachineRef tm;    /* the chosen CPU level, PIC */
    char **objs;                /* heap-owned paths, in add order */
    int n_objs, cap_objs;
} CgAot;

static CgAot *as_aot(CgBackend *b)
{
    IR_ASSERT(b && b->target == &cg_target_aot);
    return (CgAot *)b;
}

static CgBackend *aot_open(const CgOptions *o, Diag *d)
{
    LLVMTargetMachineRef tm = cg_tm_new(o->cpu ? o->cpu : "x86-64-v3", LLVMRelocPIC, d);
    if (!tm)
        return NULL;
    CgAot *a = calloc(1, sizeof *a);
    IR_ASSERT(a != NULL);
    a->base.target = &cg_target_aot;
    a->base.opt = *o;
    a->tm = tm;
    return &a->base;
}

/* <dir>/<module name>.o, with '/' in the name replaced. */
static char *object_path(const char *dir, LLVMModuleRef mod)
{
    size_t len;
    const char *name = LLVMGetModuleIdentifier(mod, &len);
    size_t cap = strlen(dir) + len + 4;
    char *path = malloc(cap);
    IR_ASSERT(path != NULL);
    int at = snprintf(path, cap, "%s/", dir);
    for (size_t i = 0; i < len; i++)
        path[at++] = name[i] == '/' ? '_' : name[i];
    memcpy(path + at, ".o", 3);
    return path;
}

static bool write_object(CgAot *a, CgModule *m, Diag *d)
{
    char *path = object_path(a->base.opt.obj_dir, m->mod);
    char *msg = NULL;
    bool failed = LLVMTargetMachineEmitToFile(a->tm, m->mod, path, LLVMObjectFile, &msg);
    if (!cg_check_msg(d, failed, msg, "writing an object file")) {
        free(path);
        return false;
    }
    if (a->n_objs == a->cap_objs) {
        a->cap_objs = a->cap_objs ? 2 * a->cap_objs : 4;
        a->objs = realloc(a->objs, (size_t)a->cap_objs * sizeof *a->objs);
        IR_ASSERT(a->objs != NULL);
    }
    a->objs[a->n_objs++] = path;
    return true;
}

static bool aot_add_module(CgBackend *b, CgModule *m, Diag *d)
{
    CgAot *a = as_aot(b);
    double t0 = cg_now_ms();
    bool ok = cg_optimize(m, a->tm, &b->opt, d);
    if (ok && b->opt.obj_dir)
        ok = write_object(a, m, d);
    cg_module_free(m);
    b->compile_ms += cg_now_ms() - t0;
    return ok;
}

static void aot_close(CgBackend *b)
{
    if (!b)
        return;
    CgAot *a = as_aot(b);
    for (int i = 0; i < a->n_objs; i++)
        free(a->objs[i]);
    free(a->objs);
    LLVMDisposeTargetMachine(a->tm);
    free(a);
}

int cg_aot_n_objects(const CgBackend *b)
{
    return as_aot((CgBackend *)b)->n_objs;
}

const char *cg_aot_object(const CgBackend *b, int i)
{
    CgAot *a = as_aot((CgBackend *)b);
    IR_ASSERT(i >= 0 && i < a->n_objs);
    return a->objs[i];
}

/* ----------------------------------------------------------------- link */

/* Keeps the first cap-1 bytes of the child's output, drains the rest. */
static void read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    char sink[512];
    for (;;) {
        char *to = n + 1 < cap ? buf + n : sink;
        size_t room = n + 1 < cap ? cap - 1 - n : sizeof sink;
        ssize_t got = read(fd, to, room);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (to != sink)
            n += (size_t)got;
    }
    buf[n] = '\0';
}

/* Runs argv[0] with stdout and stderr captured into out; returns the wait
 * status, or -1 with errno set when it could not be started. */
static int run(char *const *argv, char *out, size_t cap)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (err == 0)
        read_all(fds[0], out, cap);
    close(fds[0]);
    if (err != 0) {
        errno = err;
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

bool cg_aot_link(CgBackend *b, const char *const *extra, const char *exe, Diag *d)
{
    CgAot *a = as_aot(b);
    const char *cc = b->opt.cc ? b->opt.cc : "cc";
    int n_extra = 0;
    while (extra && extra[n_extra])
        n_extra++;
    /* cc -o exe objs... extra... [-fsanitize=address] -lm NULL */
    const char **argv = calloc((size_t)(a->n_objs + n_extra + 6), sizeof *argv);
    IR_ASSERT(argv != NULL);
    int n = 0;
    argv[n++] = cc;
    argv[n++] = "-o";
    argv[n++] = exe;
    for (int i = 0; i < a->n_objs; i++)
        argv[n++] = a->objs[i];
    for (int i = 0; i < n_extra; i++)
        argv[n++] = extra[i];
    if (b->opt.sanitize)    /* the objects call the ASan runtime */
        argv[n++] = "-fsanitize=address";
    argv[n++] = "-lm";
    char out[2048];
    int status = run((char *const *)argv, out, sizeof out);
    free(argv);
    if (status == -1) {
        diag_error(d, IR_LOC_NONE, "codegen: cannot run '%s': %s", cc, strerror(errno));
        return false;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    size_t len = strlen(out);
    while (len > 0 && out[len - 1] == '\n')
        out[--len] = '\0';
    diag_error(d, IR_LOC_NONE, "codegen: linking '%s' with '%s' failed (%s %d)%s%s", exe, cc,
               WIFEXITED(status) ? "exit status" : "signal",
               WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
               len ? ":\n" : "", out);
    return false;
}

const CgTarget cg_target_aot = {
    .name = "aot",
    .open = aot_open,
    .add_module = aot_add_module,
    .close = aot_close,
};
