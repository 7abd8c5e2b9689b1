/* diag.c — the diagnostics sink shared by every stage.
 *
 * Library code appends messages with a source location; tools/ prints them
 * with diag_print as `file:line:col: error: text`, then the source line, then a
 * caret under the column. Lines longer than the display window (a 10 MB line
 * is legal input) are shown as a window around the column.
 */
#include "ir.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { DEFAULT_MAX_ERRORS = 20, WINDOW = 100 };

void diag_init(Diag *d)
{
    memset(d, 0, sizeof *d);
    d->max_errors = DEFAULT_MAX_ERRORS;
}

void diag_fini(Diag *d)
{
    for (int i = 0; i < d->n_msgs; i++)
        free(d->msgs[i].text);
    for (int i = 0; i < d->n_srcs; i++)
        free(d->srcs[i].name);
    free(d->msgs);
    free(d->srcs);
    memset(d, 0, sizeof *d);
}

static void *grow(void *p, int *cap, size_t elem)
{
    int ncap = *cap ? *cap * 2 : 8;
    void *q = realloc(p, (size_t)ncap * elem);
    IR_CHECK_ALLOC(q);
    *cap = ncap;
    return q;
}

int diag_add_source(Diag *d, const char *name, const char *text, size_t len)
{
    if (d->n_srcs == d->cap_srcs)
        d->srcs = grow(d->srcs, &d->cap_srcs, sizeof *d->srcs);
    DiagSource *s = &d->srcs[d->n_srcs];
    s->name = strdup(name ? name : "<input>");
    IR_CHECK_ALLOC(s->name);
    s->text = text;
    s->len = len;
    return d->n_srcs++;
}

static void vadd(Diag *d, DiagLevel lvl, IrLoc loc, const char *fmt, va_list ap)
{
    if (lvl == DIAG_ERROR && d->n_errors++ >= d->max_errors)
        return;
    if (lvl == DIAG_NOTE && d->n_errors > d->max_errors)
        return;     /* a note to a dropped error */
    if (d->n_msgs == d->cap_msgs)
        d->msgs = grow(d->msgs, &d->cap_msgs, sizeof *d->msgs);
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    char *text = strdup(buf);
    IR_CHECK_ALLOC(text);
    d->msgs[d->n_msgs++] = (DiagMsg){lvl, loc, text};
}

void diag_error(Diag *d, IrLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd(d, DIAG_ERROR, loc, fmt, ap);
    va_end(ap);
}

void diag_warning(Diag *d, IrLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd(d, DIAG_WARNING, loc, fmt, ap);
    va_end(ap);
}

void diag_note(Diag *d, IrLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd(d, DIAG_NOTE, loc, fmt, ap);
    va_end(ap);
}

bool diag_has_errors(const Diag *d) { return d->n_errors > 0; }

/* Finds the start and length of 1-based line `line` in src. */
static bool find_line(const DiagSource *s, int line, size_t *start, size_t *len)
{
    size_t i = 0;
    for (int l = 1; l < line; l++) {
        const char *nl = memchr(s->text + i, '\n', s->len - i);
        if (!nl)
            return false;
        i = (size_t)(nl - s->text) + 1;
    }
    const char *nl = memchr(s->text + i, '\n', s->len - i);
    *start = i;
    *len = nl ? (size_t)(nl - (s->text + i)) : s->len - i;
    return true;
}

/* Prints the source line (or a window of it) and a caret under col. */
static void print_excerpt(const DiagSource *s, IrLoc loc, FILE *out)
{
    size_t start, len;
    if (loc.line <= 0 || !find_line(s, loc.line, &start, &len))
        return;
    size_t col = loc.col > 0 ? (size_t)loc.col - 1 : 0;
    size_t from = 0;
    if (len > WINDOW && col > WINDOW / 2)
        from = col - WINDOW / 2;
    size_t to = len < from + WINDOW ? len : from + WINDOW;
    const char *p = s->text + start;
    fputs(from ? "..." : "", out);
    for (size_t i = from; i < to; i++) {
        unsigned char c = (unsigned char)p[i];
        fputc(c == '\t' || c >= 32 ? (c == 127 ? '?' : c) : '?', out);
    }
    fputs(to < len ? "...\n" : "\n", out);
    if (from)
        fputs("   ", out);
    size_t stop = col < to ? col : to;
    for (size_t i = from; i < stop; i++)
        fputc(p[i] == '\t' ? '\t' : ' ', out);
    fputs("^\n", out);
}

static const char *level_name(DiagLevel l)
{
    return l == DIAG_ERROR ? "error" : l == DIAG_WARNING ? "warning" : "note";
}

void diag_print(const Diag *d, FILE *out)
{
    for (int i = 0; i < d->n_msgs; i++) {
        const DiagMsg *m = &d->msgs[i];
        const DiagSource *s = m->loc.file >= 0 && m->loc.file < d->n_srcs
                                  ? &d->srcs[m->loc.file] : NULL;
        if (s && m->loc.line > 0)
            fprintf(out, "%s:%d:%d: ", s->name, m->loc.line, m->loc.col);
        else if (s)
            fprintf(out, "%s: ", s->name);
        else
            fputs("lnet: ", out);
        fprintf(out, "%s: %s\n", level_name(m->level), m->text);
        if (s)
            print_excerpt(s, m->loc, out);
    }
    if (d->n_errors > d->max_errors)
        fprintf(out, "lnet: %d more errors not shown\n", d->n_errors - d->max_errors);
}

void diag_flush(Diag *d, FILE *out)
{
    diag_print(d, out);
    for (int i = 0; i < d->n_msgs; i++)
        free(d->msgs[i].text);
    d->n_msgs = 0;
}

_Noreturn void ir_assert_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "lnet: internal error: %s:%d: assertion failed: %s\n", file, line, what);
    abort();
}

/* _Exit after flushing: no atexit handlers or C++ destructors run on a heap
 * that just failed, and no leak report lists the interrupted compilation. */
_Noreturn void ir_out_of_memory(void)
{
    fflush(NULL);
    fputs("lnet: error: out of memory\n", stderr);
    _Exit(EXIT_FAILURE);
}
