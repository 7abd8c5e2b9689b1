/* plot_log.c — reads the step logs of `lnet train --log FILE` for `lnet plot`.
 *
 * Two formats, told apart by the first line (runtime/report.c writes both):
 *   CSV: a header "kind,step,epoch,train_s,lr,examples_per_s,loss_H,acc_H,...
 *        grad_norm_K,update_ratio_K" and one row per step or evaluation; a
 *        training row leaves acc_H empty.
 *   JSON lines: {"kind":"train"|"eval","step":S,"train_s":T,"examples_per_s":R,
 *        "heads":[{"name":H,"loss":L[,"accuracy":A]},...],...} per line.
 * Columns and keys the plot does not use are skipped, as are rows of another
 * kind, so a later log with more in it still plots. The runtime's JSON reader
 * (runtime/io/json.h) takes integers only, so the JSON lines are scanned here:
 * a small strict reader of exactly one object per line.
 */
#include "plot.h"
#include "train.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the reader is: the file and line that an error names. */
typedef struct Reader {
    const char *path;
    long line;
    char *err;
    size_t errcap;
    PlotLog *log;
    const char *eval_kind;  /* "eval", or "eval_train" for the training-set evaluations */
} Reader;

static bool fail(Reader *r, const char *fmt, ...)
{
    int n = snprintf(r->err, r->errcap, "%s:%ld: ", r->path, r->line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < r->errcap)
        vsnprintf(r->err + n, r->errcap - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

/* Appends a row of the given kind, its values NaN; NULL when out of memory. */
static PlotRow *add_row(PlotLog *log, bool eval)
{
    PlotRow **rows = eval ? &log->eval : &log->train;
    int *n = eval ? &log->n_eval : &log->n_train;
    if ((*n & (*n - 1)) == 0) {     /* grows at every power of two */
        PlotRow *bigger = realloc(*rows, (size_t)(*n ? 2 * *n : 1) * sizeof *bigger);
        if (!bigger)
            return NULL;
        *rows = bigger;
    }
    PlotRow *row = &(*rows)[*n];
    *row = (PlotRow){.step = NAN, .secs = NAN, .rate = NAN};
    row->v = malloc(2 * (size_t)log->n_heads * sizeof *row->v);
    if (!row->v)
        return NULL;
    for (int i = 0; i < 2 * log->n_heads; i++)
        row->v[i] = NAN;
    ++*n;
    return row;
}

static bool add_head(Reader *r, const char *name, size_t len)
{
    if (r->log->n_heads == PLOT_MAX_HEADS)
        return fail(r, "more than %d heads", PLOT_MAX_HEADS);
    char *copy = malloc(len + 1);
    if (!copy)
        return fail(r, "out of memory");
    memcpy(copy, name, len);
    copy[len] = '\0';
    r->log->heads[r->log->n_heads++] = copy;
    return true;
}

static int head_index(const PlotLog *log, const char *name, size_t len)
{
    for (int h = 0; h < log->n_heads; h++)
        if (strlen(log->heads[h]) == len && strncmp(log->heads[h], name, len) == 0)
            return h;
    return -1;
}

/* ------------------------------------------------------------------ CSV */

/* What each CSV column holds. */
enum { COL_SKIP = -1, COL_KIND = -2, COL_STEP = -3, COL_SECS = -4, COL_RATE = -5 };

typedef struct Csv {
    int n_cols;
    int *col;       /* (n_cols): a COL_ value, or 2h (loss of head h) / 2h + 1 (accuracy) */
} Csv;

static int csv_fields(char *line, char **field, int cap)
{
    int n = 0;
    for (char *p = line;; p++) {
        if (n < cap)
            field[n] = p;
        n++;
        p = strchr(p, ',');
        if (!p)
            return n;
        *p = '\0';
    }
}

/* The header: the fixed columns, then loss_H / acc_H of every head. */
static bool csv_header(Reader *r, char *line, Csv *c)
{
    char *field[1024];
    c->n_cols = csv_fields(line, field, 1024);
    if (c->n_cols > 1024)
        return fail(r, "%d columns (at most 1024)", c->n_cols);
    c->col = malloc((size_t)c->n_cols * sizeof *c->col);
    if (!c->col)
        return fail(r, "out of memory");
    bool step = false, secs = false;
    for (int i = 0; i < c->n_cols; i++) {
        const char *f = field[i];
        bool loss = strncmp(f, "loss_", 5) == 0, acc = strncmp(f, "acc_", 4) == 0;
        c->col[i] = COL_SKIP;
        if (i == 0)
            c->col[i] = COL_KIND;
        else if (strcmp(f, "step") == 0)
            c->col[i] = COL_STEP, step = true;
        else if (strcmp(f, "train_s") == 0)
            c->col[i] = COL_SECS, secs = true;
        else if (strcmp(f, "examples_per_s") == 0)
            c->col[i] = COL_RATE;
        else if (loss || acc) {
            const char *name = f + (loss ? 5 : 4);
            int h = head_index(r->log, name, strlen(name));
            if (h < 0 && !add_head(r, name, strlen(name)))
                return false;
            c->col[i] = 2 * (h < 0 ? r->log->n_heads - 1 : h) + (acc ? 1 : 0);
        }
    }
    if (!step || !secs)
        return fail(r, "the CSV header has no '%s' column", step ? "train_s" : "step");
    if (r->log->n_heads == 0)
        return fail(r, "the CSV header has no loss_HEAD column");
    return true;
}

static bool number(Reader *r, const char *what, const char *s, double *out)
{
    char *end;
    if (!*s) {
        *out = NAN;
        return true;
    }
    errno = 0;
    *out = strtod(s, &end);
    if (end == s || *end || errno == ERANGE)
        return fail(r, "%s: '%s' is not a number", what, s);
    return true;
}

static bool csv_row(Reader *r, char *line, const Csv *c, char *const *names)
{
    char *field[1024];
    int n = csv_fields(line, field, 1024);
    if (n != c->n_cols)
        return fail(r, "%d fields, but the CSV header has %d", n, c->n_cols);
    bool eval = strcmp(field[0], r->eval_kind) == 0;
    if (!eval && strcmp(field[0], "train") != 0)
        return true;    /* a kind of row the plot does not draw */
    PlotRow *row = add_row(r->log, eval);
    if (!row)
        return fail(r, "out of memory");
    for (int i = 1; i < n; i++) {
        int k = c->col[i];
        double *to = k == COL_STEP ? &row->step : k == COL_SECS ? &row->secs
                   : k == COL_RATE ? &row->rate : k >= 0 ? &row->v[k] : NULL;
        if (to && !number(r, names[i], field[i], to))
            return false;
    }
    if (isnan(row->step) || isnan(row->secs))
        return fail(r, "no %s in a row of kind '%s'", isnan(row->step) ? "step" : "train_s",
                    field[0]);
    return true;
}

/* ----------------------------------------------------------- JSON lines */

typedef struct Js {
    Reader *r;
    const char *p;          /* the next character */
    const char *line;
} Js;

static bool js_fail(Js *j, const char *what)
{
    return fail(j->r, "column %ld: %s", (long)(j->p - j->line) + 1, what);
}

static void js_ws(Js *j)
{
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\r')
        j->p++;
}

static bool js_expect(Js *j, char c)
{
    js_ws(j);
    if (*j->p != c) {
        char what[32];
        snprintf(what, sizeof what, "expected '%c'", c);
        return js_fail(j, what);
    }
    j->p++;
    return true;
}

/* A string's raw text (escapes kept) in [*s, *s + *len): names and kinds in
 * lnet's logs are plain. */
static bool js_string(Js *j, const char **s, size_t *len)
{
    if (!js_expect(j, '"'))
        return false;
    *s = j->p;
    while (*j->p && *j->p != '"')
        j->p += j->p[0] == '\\' && j->p[1] ? 2 : 1;
    if (!*j->p)
        return js_fail(j, "unterminated string");
    *len = (size_t)(j->p++ - *s);
    return true;
}

static bool js_number(Js *j, double *out)
{
    js_ws(j);
    char *end;
    *out = strtod(j->p, &end);
    if (end == j->p || !(isdigit((unsigned char)*j->p) || *j->p == '-'))
        return js_fail(j, "expected a number");
    j->p = end;
    return true;
}

/* Skips any value (nested up to a depth of 16). */
static bool js_skip(Js *j, int depth)
{
    js_ws(j);
    const char *s;
    size_t len;
    double d;
    char open = *j->p;
    if (open == '"')
        return js_string(j, &s, &len);
    if (open != '{' && open != '[') {
        for (const char *lit = "true\0false\0null\0"; *lit; lit += strlen(lit) + 1)
            if (strncmp(j->p, lit, strlen(lit)) == 0) {
                j->p += strlen(lit);
                return true;
            }
        return js_number(j, &d);
    }
    if (depth == 16)
        return js_fail(j, "nested too deeply");
    j->p++;
    js_ws(j);
    char close = open == '{' ? '}' : ']';
    while (*j->p != close) {
        if ((open == '{' && !(js_string(j, &s, &len) && js_expect(j, ':'))) ||
            !js_skip(j, depth + 1))
            return false;
        js_ws(j);
        if (*j->p != close && !js_expect(j, ','))
            return false;
        js_ws(j);
    }
    j->p++;
    return true;
}

/* Iterates over an object's members: calls member(j, key, keylen, ctx) with
 * j at the value, which it must consume. */
static bool js_object(Js *j, bool (*member)(Js *, const char *, size_t, void *), void *ctx)
{
    if (!js_expect(j, '{'))
        return false;
    js_ws(j);
    while (*j->p != '}') {
        const char *key;
        size_t len;
        if (!js_string(j, &key, &len) || !js_expect(j, ':') || !member(j, key, len, ctx))
            return false;
        js_ws(j);
        if (*j->p != '}' && !js_expect(j, ','))
            return false;
        js_ws(j);
    }
    j->p++;
    return true;
}

static bool is_key(const char *key, size_t len, const char *want)
{
    return strlen(want) == len && strncmp(key, want, len) == 0;
}

/* One line's fields, before they go into a row. */
typedef struct JsLine {
    const char *kind;
    size_t kind_len;
    double step, secs, rate;
    int n_heads;
    const char *name[PLOT_MAX_HEADS];
    size_t name_len[PLOT_MAX_HEADS];
    double loss[PLOT_MAX_HEADS], acc[PLOT_MAX_HEADS];
} JsLine;

static bool head_member(Js *j, const char *key, size_t len, void *ctx)
{
    JsLine *l = ctx;
    int h = l->n_heads;
    if (is_key(key, len, "name"))
        return js_string(j, &l->name[h], &l->name_len[h]);
    if (is_key(key, len, "loss"))
        return js_number(j, &l->loss[h]);
    if (is_key(key, len, "accuracy"))
        return js_number(j, &l->acc[h]);
    return js_skip(j, 2);
}

static bool js_heads(Js *j, JsLine *l)
{
    if (!js_expect(j, '['))
        return false;
    js_ws(j);
    while (*j->p != ']') {
        if (l->n_heads == PLOT_MAX_HEADS)
            return js_fail(j, "too many heads");
        int h = l->n_heads;
        l->name[h] = NULL;
        l->loss[h] = l->acc[h] = NAN;
        if (!js_object(j, head_member, l))
            return false;
        if (!l->name[h])
            return js_fail(j, "a head without a \"name\"");
        l->n_heads++;
        js_ws(j);
        if (*j->p != ']' && !js_expect(j, ','))
            return false;
        js_ws(j);
    }
    j->p++;
    return true;
}

static bool line_member(Js *j, const char *key, size_t len, void *ctx)
{
    JsLine *l = ctx;
    if (is_key(key, len, "kind"))
        return js_string(j, &l->kind, &l->kind_len);
    if (is_key(key, len, "step"))
        return js_number(j, &l->step);
    if (is_key(key, len, "train_s"))
        return js_number(j, &l->secs);
    if (is_key(key, len, "examples_per_s"))
        return js_number(j, &l->rate);
    if (is_key(key, len, "heads"))
        return js_heads(j, l);
    return js_skip(j, 1);
}

/* The first line names the heads; every later one must name the same. */
static bool js_same_heads(Reader *r, const JsLine *l)
{
    PlotLog *log = r->log;
    if (log->n_heads == 0) {
        for (int h = 0; h < l->n_heads; h++)
            if (!add_head(r, l->name[h], l->name_len[h]))
                return false;
        return true;
    }
    bool same = l->n_heads == log->n_heads;
    for (int h = 0; same && h < l->n_heads; h++)
        same = head_index(log, l->name[h], l->name_len[h]) == h;
    return same || fail(r, "its heads differ from those of the first line");
}

static bool js_line(Reader *r, const char *text)
{
    Js j = {.r = r, .p = text, .line = text};
    JsLine l = {.step = NAN, .secs = NAN, .rate = NAN};
    if (!js_object(&j, line_member, &l))
        return false;
    js_ws(&j);
    if (*j.p && *j.p != '\n')
        return js_fail(&j, "text after the object");
    if (!l.kind)
        return fail(r, "no \"kind\": not a line of an lnet step log");
    bool eval = is_key(l.kind, l.kind_len, r->eval_kind);
    if (!eval && !is_key(l.kind, l.kind_len, "train"))
        return true;
    if (isnan(l.step) || isnan(l.secs) || l.n_heads == 0)
        return fail(r, "no \"%s\" in a line of kind '%.*s'",
                    isnan(l.step) ? "step" : isnan(l.secs) ? "train_s" : "heads",
                    (int)l.kind_len, l.kind);
    if (!js_same_heads(r, &l))
        return false;
    PlotRow *row = add_row(r->log, eval);
    if (!row)
        return fail(r, "out of memory");
    row->step = l.step, row->secs = l.secs, row->rate = l.rate;
    for (int h = 0; h < l.n_heads; h++)
        row->v[2 * h] = l.loss[h], row->v[2 * h + 1] = l.acc[h];
    return true;
}

/* ----------------------------------------------------------------- files */

static bool read_lines(Reader *r, FILE *f)
{
    char *line = NULL, *names = NULL, *name_at[1024];
    size_t cap = 0;
    ssize_t n;
    Csv csv = {0};
    bool ok = true, json = false;
    while (ok && (n = getline(&line, &cap, f)) >= 0) {
        r->line++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))   /* CRLF too */
            line[--n] = '\0';
        if (r->line == 1) {
            json = line[0] == '{';
            if (!json && strncmp(line, RT_LOG_CSV_HEAD, strlen(RT_LOG_CSV_HEAD)) != 0) {
                ok = fail(r, "not an lnet step log (expected a CSV header '" RT_LOG_CSV_HEAD
                          "...' or JSON lines '" RT_LOG_JSON_HEAD "...')");
                break;
            }
            if (!json) {
                ok = (names = strdup(line)) != NULL || fail(r, "out of memory");
                ok = ok && csv_header(r, line, &csv);
                if (ok)
                    csv_fields(names, name_at, 1024);
                continue;
            }
        }
        if (n == 0)
            continue;
        ok = json ? js_line(r, line) : csv_row(r, line, &csv, name_at);
    }
    free(line);
    free(names);
    free(csv.col);
    return ok;
}

bool plot_log_read(const char *path, PlotLog *log, bool on_train, char *err, size_t errcap)
{
    *log = (PlotLog){0};
    Reader r = {.path = path, .err = err, .errcap = errcap, .log = log,
                .eval_kind = on_train ? "eval_train" : "eval"};
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "cannot open '%s': %s", path, strerror(errno));
        return false;
    }
    bool ok = read_lines(&r, f);
    if (ok && ferror(f))
        ok = fail(&r, "read error: %s", strerror(errno ? errno : EIO));
    fclose(f);
    if (ok && r.line == 0) {
        snprintf(err, errcap, "%s: empty file: not an lnet step log", path);
        ok = false;
    } else if (ok && log->n_train + log->n_eval == 0) {
        snprintf(err, errcap, "%s: no training or evaluation rows (the run made no step)",
                 path);
        ok = false;
    }
    if (!ok)
        plot_log_free(log);
    return ok;
}

void plot_log_free(PlotLog *log)
{
    for (int h = 0; h < log->n_heads; h++)
        free(log->heads[h]);
    for (int i = 0; i < log->n_train; i++)
        free(log->train[i].v);
    for (int i = 0; i < log->n_eval; i++)
        free(log->eval[i].v);
    free(log->train);
    free(log->eval);
    *log = (PlotLog){0};
}

double plot_log_batch(const PlotLog *log)
{
    if (log->n_train == 0)
        return 0;
    const PlotRow *last = &log->train[log->n_train - 1];
    double steps = last->step - log->train[0].step + 1;
    double b = round(last->rate * last->secs / steps);
    return isfinite(b) && b >= 1 ? b : 0;
}
