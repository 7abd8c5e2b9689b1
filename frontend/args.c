/* args.c — binds the arguments of a call to the callee's parameters.
 *
 * One binder serves builtins, defs and the section values (optimizers,
 * schedules): positional arguments fill parameters in order, named ones by
 * name, then missing parameters take their defaults. Arguments are evaluated
 * left to right as written, so parameter names (`dense_0`, `dense_1`) follow
 * program order even for nested calls.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fe_impl.h"

static int find_param(const CallSpec *s, const char *name)
{
    for (int i = 0; i < s->n_params; i++)
        if (strcmp(s->params[i].name, name) == 0)
            return i;
    return -1;
}

static void unknown_arg(Lower *L, const CallSpec *s, const AstArg *a)
{
    const char *names[FE_MAX_ARGS];
    for (int i = 0; i < s->n_params; i++)
        names[i] = s->params[i].name;
    const char *near = fe_suggest(a->name, names, s->n_params);
    lower_error(L, a->name_loc, "unknown argument '%.64s' in call to '%s'%s%s%s", a->name,
                s->name, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
}

static bool all_required(const CallSpec *s)
{
    for (int i = 0; i < s->n_params; i++)
        if (!s->params[i].required)
            return false;
    return !s->variadic;
}

/* The number of arguments is wrong: "'f' takes 2 arguments, got 3". */
static void count_error(Lower *L, const CallSpec *s, const AstExpr *call, IrLoc loc)
{
    if (all_required(s))
        lower_error(L, loc, "'%s' takes %d argument%s, got %d", s->name, s->n_params,
                    s->n_params == 1 ? "" : "s", call->n_args);
    else
        lower_error(L, loc, "too many arguments in call to '%s' (at most %d positional)",
                    s->name, s->variadic ? s->n_pos + FE_MAX_EXTRA : s->n_params);
}

/* Matches each argument to a parameter index (or -1 for a variadic extra). */
static bool match_args(Lower *L, const CallSpec *s, const AstExpr *call,
                       const AstArg **given, int *slot)
{
    int pos = 0, k = 0, n_pos = s->variadic ? s->n_pos : s->n_params;
    bool named = false, ok = true;
    for (const AstArg *a = call->args; a; a = a->next, k++) {
        int i = a->name ? find_param(s, a->name) : pos++;
        slot[k] = i;
        if (a->name) {
            named = true;
            if (i < 0) {
                unknown_arg(L, s, a);
                ok = false;
            } else if (given[i]) {
                lower_error(L, a->name_loc, "argument '%s' given twice in call to '%s'",
                            a->name, s->name);
                ok = false;
            } else {
                given[i] = a;
            }
        } else if (named) {
            lower_error(L, a->value->loc, "positional argument after a named argument");
            ok = false;
        } else if (i >= n_pos && (!s->variadic || i - n_pos >= FE_MAX_EXTRA)) {
            count_error(L, s, call, a->value->loc);
            return false;
        } else if (i >= n_pos) {
            slot[k] = -1;
        } else {
            given[i] = a;
        }
    }
    return ok;
}

static const char *kind_word(ValKind k)
{
    return k == VAL_NUM ? "a number" : "a tensor";
}

/* Evaluates one argument as its parameter's kind requires. */
static bool eval_arg(Lower *L, const CallSpec *s, int i, const AstArg *a, Bound *b)
{
    const ArgSpec *p = &s->params[i];
    b->ast[i] = a->value;
    b->loc[i] = a->value->loc;
    if (p->kind == ARG_AST)
        return true;
    b->v[i] = lower_expr(L, a->value);
    if (b->v[i].kind == VAL_NONE)
        return false;
    ValKind want = p->kind == ARG_TENSOR ? VAL_TENSOR : VAL_NUM;
    if (p->kind != ARG_ANY && b->v[i].kind != want) {
        lower_error(L, a->value->loc, "argument '%s' of '%s' must be %s, got %s", p->name,
                    s->name, kind_word(want), kind_word(b->v[i].kind));
        return false;
    }
    return true;
}

/* Evaluates a variadic extra: always a number. */
static bool eval_extra(Lower *L, const CallSpec *s, const AstArg *a, Bound *b)
{
    Value v = lower_expr(L, a->value);
    if (v.kind == VAL_NONE)
        return false;
    if (v.kind != VAL_NUM) {
        lower_error(L, a->value->loc, "extra arguments of '%s' must be numbers, got a tensor",
                    s->name);
        return false;
    }
    b->extra_loc[b->n_extra] = a->value->loc;
    b->extra[b->n_extra++] = v.num;
    return true;
}

bool fe_bind(Lower *L, const CallSpec *s, const AstExpr *call, Bound *b)
{
    memset(b, 0, sizeof *b);
    const AstArg *given[FE_MAX_ARGS] = {0};
    int n = call->n_args, *slot = calloc((size_t)(n ? n : 1), sizeof *slot);
    IR_CHECK_ALLOC(slot);
    bool ok = match_args(L, s, call, given, slot);
    int k = 0;
    for (const AstArg *a = call->args; ok && a; a = a->next, k++)
        ok = slot[k] >= 0 ? eval_arg(L, s, slot[k], a, b) : eval_extra(L, s, a, b);
    free(slot);
    for (int i = 0; ok && i < s->n_params; i++) {
        if (given[i])
            continue;
        if (s->params[i].required) {
            if (all_required(s))
                count_error(L, s, call, call->loc);
            else
                lower_error(L, call->loc, "missing argument '%s' in call to '%s'",
                            s->params[i].name, s->name);
            ok = false;
        }
        b->v[i] = (Value){.kind = VAL_NUM, .num = s->params[i].dflt};
        b->loc[i] = call->loc;
    }
    return ok;
}

bool fe_arg_int(Lower *L, const CallSpec *s, const Bound *b, int i, long lo, long hi,
                int *out)
{
    double v = b->v[i].num;
    if (v >= (double)lo && v <= (double)hi && v == floor(v)) {
        *out = (int)v;
        return true;
    }
    if (hi >= INT_MAX)
        lower_error(L, b->loc[i], "argument '%s' of '%s' must be an integer >= %ld, got %g",
                    s->params[i].name, s->name, lo, v);
    else
        lower_error(L, b->loc[i],
                    "argument '%s' of '%s' must be an integer from %ld to %ld, got %g",
                    s->params[i].name, s->name, lo, hi, v);
    return false;
}

/* Levenshtein distance, capped: names longer than FE_NAME_MAX never match. */
static int distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > FE_NAME_MAX || m > FE_NAME_MAX)
        return INT_MAX;
    int row[FE_NAME_MAX + 1];
    for (size_t j = 0; j <= m; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[m];
}

static size_t common_prefix(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    return i;
}

/* Is a a better suggestion than b for name: closer, then a longer shared
 * prefix (`unit` → `units`, not `init`), then alphabetical? */
static bool better(const char *name, const char *a, int da, const char *b, int db)
{
    if (da != db)
        return da < db;
    size_t pa = common_prefix(name, a), pb = common_prefix(name, b);
    return pa != pb ? pa > pb : strcmp(a, b) < 0;
}

const char *fe_suggest(const char *name, const char *const *cands, int n)
{
    const char *best = NULL;
    int best_d = 0, limit = (int)strlen(name) / 3 + 1;     /* close enough to be a typo */
    if (limit > 3)
        limit = 3;
    for (int i = 0; i < n; i++) {
        int dist = distance(name, cands[i]);
        if (dist <= limit && (!best || better(name, cands[i], dist, best, best_d))) {
            best = cands[i];
            best_d = dist;
        }
    }
    return best;
}
