/* frontend.c — the frontend's entry points: read a file, compile a source.
 *
 * fe_model_new registers the text with the diagnostics sink, parses it into
 * an AST held in the model's arena, and lowers the AST only when parsing
 * succeeded (lowering a broken AST would bury the real error under
 * follow-ups). The model keeps the AST and the def table, so head.c can call
 * a def later; fe_compile is the same without keeping them.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "fe_impl.h"

/* "dir/fmnist_mlp.lnet" -> "fmnist_mlp", the model name when there is no `model`. */
static char *stem(const char *path)
{
    const char *base = path ? strrchr(path, '/') : NULL;
    base = base ? base + 1 : path ? path : "model";
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *s = malloc(n + 1);
    IR_CHECK_ALLOC(s);
    memcpy(s, base, n);
    s[n] = '\0';
    return s;
}

FeModel *fe_model_new(const char *filename, const char *text, size_t len, Diag *d,
                      IrGraph **graph)
{
    FeModel *m = calloc(1, sizeof *m);
    IR_CHECK_ALLOC(m);
    m->file = diag_add_source(d, filename, text, len);
    int errors = d->n_errors;
    ir_arena_init(&m->ast);
    scope_init(&m->defs);
    AstProgram *prog = parse_program(text, len, m->file, &m->ast, d);
    IrGraph *g = NULL;
    if (prog && d->n_errors == errors) {
        char *model = stem(filename);
        g = lower_program(prog, model, m->file, d, &m->defs);
        free(model);
    }
    if (d->n_errors != errors) {
        ir_graph_free(g);
        fe_model_free(m);
        *graph = NULL;
        return NULL;
    }
    *graph = g;
    return m;
}

void fe_model_free(FeModel *m)
{
    if (!m)
        return;
    scope_fini(&m->defs);
    ir_arena_fini(&m->ast);
    free(m);
}

IrGraph *fe_compile(const char *filename, const char *text, size_t len, Diag *d)
{
    IrGraph *g;
    fe_model_free(fe_model_new(filename, text, len, d, &g));
    return g;
}

/* Opens path for reading without ever blocking in open(): a FIFO nobody
 * writes to reads as empty instead of hanging, while a pipe with a writer
 * (`lnet check <(...)`) still reads to its end. */
static FILE *open_source(const char *path, Diag *d)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        diag_error(d, IR_LOC_NONE, "cannot open '%s': %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        diag_error(d, IR_LOC_NONE, "cannot read '%s': it is a directory", path);
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode))
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        diag_error(d, IR_LOC_NONE, "cannot open '%s': %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

char *fe_read_file(const char *path, size_t *len, Diag *d)
{
    FILE *f = open_source(path, d);
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    IR_CHECK_ALLOC(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            IR_CHECK_ALLOC(buf);
        }
    }
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        diag_error(d, IR_LOC_NONE, "cannot read '%s'", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}
