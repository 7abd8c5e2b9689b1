/* frontend.c — the frontend's entry points: read a file, compile a source.
 *
 * fe_compile registers the text with the diagnostics sink, parses it into an
 * AST held in a private arena, and lowers the AST only when parsing succeeded
 * (lowering a broken AST would bury the real error under follow-ups).
 */
#include <errno.h>
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
    IR_ASSERT(s);
    memcpy(s, base, n);
    s[n] = '\0';
    return s;
}

IrGraph *fe_compile(const char *filename, const char *text, size_t len, Diag *d)
{
    int file = diag_add_source(d, filename, text, len);
    int errors = d->n_errors;
    IrArena ast;
    ir_arena_init(&ast);
    AstProgram *prog = parse_program(text, len, file, &ast, d);
    IrGraph *g = NULL;
    if (prog && d->n_errors == errors) {
        char *model = stem(filename);
        g = lower_program(prog, model, file, d);
        free(model);
    }
    ir_arena_fini(&ast);
    if (d->n_errors != errors) {
        ir_graph_free(g);
        return NULL;
    }
    return g;
}

char *fe_read_file(const char *path, size_t *len, Diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error(d, IR_LOC_NONE, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    IR_ASSERT(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            IR_ASSERT(buf);
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
