/* stmt.c — lowers statements: declarations, assignments, repeat, cut, loss,
 * and the whole program (collecting defs first, so a def may be called before
 * the line that defines it).
 *
 * Names live in the current scope: the globals at the top level, a def call's
 * frame inside a def. `repeat` has no scope of its own: its body assigns in
 * the enclosing one, which is how `repeat 4 { x = f(x) }` chains layers.
 */
#include <math.h>
#include <string.h>

#include "fe_impl.h"

static void redefinition(Lower *L, const char *what, const char *name, IrLoc loc,
                         IrLoc prev)
{
    lower_error(L, loc, "redefinition of %s '%.64s'", what, name);
    diag_note(L->d, prev, "'%.64s' was first defined here", name);
}

/* input NAME : type   /   label NAME : type  → an INPUT or LABEL node */
static void lower_decl(Lower *L, const AstStmt *s)
{
    const AstType *t = &s->type;
    bool label = s->kind == ST_LABEL;
    if (label && t->classes == 0 && t->dtype != IR_F32) {
        lower_error(L, s->loc, "a label must be class[K] (class indices) or f32[...] (targets)");
        return;
    }
    bool fresh;
    Sym *y = scope_put(L->scope, s->name, &fresh);
    if (!fresh) {
        lower_error(L, s->name_loc, "redefinition of '%.64s' (already defined as %s)", s->name,
                    y->kind == SYM_VAR ? "a variable" : y->kind == SYM_LABEL ? "a label"
                                                                             : "an input");
        diag_note(L->d, y->loc, "'%.64s' was first defined here", s->name);
        return;
    }
    IrAttrs a = {.classes = t->classes};
    int id = lower_emit(L, label ? IR_OP_LABEL : IR_OP_INPUT, NULL, 0, &a, s->name_loc);
    *y = (Sym){.name = s->name, .kind = label ? SYM_LABEL : SYM_INPUT, .loc = s->name_loc,
               .v = {.kind = id < 0 ? VAL_NONE : VAL_TENSOR, .node = id}};
    if (id < 0)
        return;
    IrNode *n = L->g->nodes[id];
    n->type = (IrType){.dtype = t->dtype, .rank = t->rank + 1, .dim = {IR_DIM_N}};
    memcpy(n->type.dim + 1, t->dim, (size_t)t->rank * sizeof t->dim[0]);
    n->name = ir_arena_strdup(&L->g->arena, s->name);
}

/* NAME = expr */
static void lower_assign(Lower *L, const AstStmt *s)
{
    Value v = lower_expr(L, s->expr);
    bool fresh;
    Sym *y = scope_put(L->scope, s->name, &fresh);
    if (!fresh && (y->kind == SYM_INPUT || y->kind == SYM_LABEL)) {
        lower_error(L, s->name_loc, "cannot assign to %s '%.64s'",
                    y->kind == SYM_INPUT ? "input" : "label", s->name);
        return;
    }
    if (fresh)
        y->loc = s->name_loc;
    y->kind = SYM_VAR;
    y->v = v;
}

/* repeat COUNT { body }: the body runs COUNT times in this scope */
static void lower_repeat(Lower *L, const AstStmt *s)
{
    Value c = lower_expr(L, s->expr);
    if (c.kind == VAL_NONE)
        return;
    if (c.kind != VAL_NUM || !(c.num >= 1 && c.num <= 1e9 && c.num == floor(c.num))) {
        if (c.kind == VAL_NUM)
            lower_error(L, s->expr->loc, "repeat count must be a positive integer, got %g", c.num);
        else
            lower_error(L, s->expr->loc, "repeat count must be a positive integer, got a tensor");
        return;
    }
    int errors = L->d->n_errors;
    long outer_i = L->rep_i, outer_n = L->rep_n;
    L->rep_n = (long)c.num;
    for (long i = 0; i < (long)c.num && !L->too_big && L->d->n_errors == errors; i++) {
        if (++L->work > FE_MAX_WORK) {
            lower_error(L, s->loc, "model too large: more than %d statements executed "
                        "(check repeat counts)", FE_MAX_WORK);
            L->too_big = true;
        }
        L->rep_i = i;
        LowerSite outer = lower_enter(L, s->loc, NULL, (int)i + 1);
        lower_stmts(L, s->body);
        lower_leave(L, outer);
    }
    L->rep_i = outer_i;
    L->rep_n = outer_n;
}

/* Whether a cut's condition (`every N`, `unless last`) holds in this
 * iteration of the innermost repeat; false after an error. */
static bool cut_applies(Lower *L, const AstStmt *s)
{
    if (!s->expr && !s->unless_last)
        return true;
    if (L->rep_n == 0) {
        lower_error(L, s->cond_loc, "'%s' needs an enclosing repeat (it counts its iterations)",
                    s->expr ? "every" : "unless last");
        return false;
    }
    long every = 1;
    if (s->expr) {
        Value v = lower_expr(L, s->expr);
        if (v.kind != VAL_NUM || !(v.num >= 1 && v.num <= 1e9 && v.num == floor(v.num))) {
            if (v.kind == VAL_NUM)
                lower_error(L, s->expr->loc, "'every' needs a positive integer, got %g", v.num);
            else if (v.kind == VAL_TENSOR)
                lower_error(L, s->expr->loc, "'every' needs a positive integer, got a tensor");
            return false;
        }
        every = (long)v.num;
    }
    bool last = L->rep_i == L->rep_n - 1;
    return (L->rep_i + 1) % every == 0 && !(s->unless_last && last);
}

/* cut NAME [every N] [unless last]: the user's cut point after NAME's
 * current value; inside a repeat, only in iterations N, 2N, ... (1-based) of
 * the innermost one, and not in its last with `unless last` */
static void lower_cut(Lower *L, const AstStmt *s)
{
    const Sym *y = scope_find(L->scope, s->name);
    if (!y) {
        lower_error(L, s->name_loc, "undefined name '%.64s'", s->name);
    } else if (y->v.kind == VAL_NUM) {
        lower_error(L, s->name_loc, "cannot cut at '%.64s': it is a number, not a tensor",
                    s->name);
    } else if (cut_applies(L, s) && y->v.kind == VAL_TENSOR) {
        L->g->nodes[y->v.node]->flags |= IR_F_CUT;
    }
}

/* loss EXPR: exactly once, a scalar tensor */
static void lower_loss(Lower *L, const AstStmt *s)
{
    if (L->loss_loc.line > 0) {
        lower_error(L, s->loc, "duplicate 'loss' statement (a model has exactly one loss)");
        diag_note(L->d, L->loss_loc, "the first 'loss' is here");
        return;
    }
    L->loss_loc = s->loc;
    Value v = lower_expr(L, s->expr);
    char buf[96];
    if (v.kind == VAL_NUM) {
        lower_error(L, s->expr->loc, "the loss must be a scalar tensor, got a number");
    } else if (v.kind == VAL_TENSOR && lower_type(L, v.node)->rank != 0) {
        lower_error(L, s->expr->loc, "the loss must be a scalar, got %s "
                    "(use cross_entropy or mse)", lower_type_str(L, v.node, buf, sizeof buf));
    } else if (v.kind == VAL_TENSOR) {
        L->g->loss = v.node;
    }
}

static void lower_model(Lower *L, const AstStmt *s)
{
    if (L->model_loc.line > 0) {
        lower_error(L, s->loc, "duplicate 'model' statement");
        diag_note(L->d, L->model_loc, "the first 'model' is here");
        return;
    }
    L->model_loc = s->loc;
    L->g->model = ir_arena_strdup(&L->g->arena, s->name);
}

static void lower_stmt(Lower *L, const AstStmt *s)
{
    switch (s->kind) {
    case ST_MODEL: lower_model(L, s); break;
    case ST_INPUT:
    case ST_LABEL: lower_decl(L, s); break;
    case ST_DEF: break;     /* collected before lowering */
    case ST_ASSIGN: lower_assign(L, s); break;
    case ST_REPEAT: lower_repeat(L, s); break;
    case ST_CUT: lower_cut(L, s); break;
    case ST_LOSS: lower_loss(L, s); break;
    case ST_TRAIN: section_train(L, s); break;
    case ST_LOCAL: section_local(L, s); break;
    case ST_RETURN: IR_ASSERT(!"return outside a def body"); break;
    }
}

void lower_stmts(Lower *L, const AstStmt *s)
{
    for (; s && !L->too_big; s = s->next) {
        if (++L->work > FE_MAX_WORK) {
            lower_error(L, s->loc, "model too large: more than %d statements executed "
                        "(check repeat counts)", FE_MAX_WORK);
            L->too_big = true;
            return;
        }
        lower_stmt(L, s);
    }
}

/* Enters every def into L->defs; a builtin's name or a second def is an error. */
static void collect_defs(Lower *L, const AstProgram *p)
{
    const char *bnames[FE_MAX_BUILTINS];
    int nb = builtin_names(bnames, FE_MAX_BUILTINS), k = 0;
    for (const AstStmt *s = p->stmts; s; s = s->next) {
        if (s->kind != ST_DEF)
            continue;
        bool builtin = false;
        for (int i = 0; i < nb; i++)
            builtin |= strcmp(bnames[i], s->name) == 0;
        bool fresh;
        Sym *y = builtin ? NULL : scope_put(&L->defs, s->name, &fresh);
        if (builtin)
            lower_error(L, s->name_loc, "'%.64s' is a builtin and cannot be redefined", s->name);
        else if (!fresh)
            redefinition(L, "def", s->name, s->name_loc, y->loc);
        else
            *y = (Sym){.name = s->name, .kind = SYM_DEF, .loc = s->name_loc, .def = s,
                       .v = {.node = k++}};
    }
}

IrGraph *lower_program(const AstProgram *p, const char *model, int file, Diag *d,
                       Scope *defs)
{
    Lower L = {.g = ir_graph_new(model), .d = d, .file = file};
    int errors = d->n_errors;
    scope_init(&L.defs);
    scope_init(&L.globals);
    L.scope = &L.globals;
    collect_defs(&L, p);
    if (d->n_errors == errors && fe_check_recursion(&L, p)) {
        lower_stmts(&L, p->stmts);
        if (L.loss_loc.line == 0 && !L.too_big)
            lower_error(&L, (IrLoc){file, 0, 0, 0}, "no 'loss' statement: a model needs one");
    }
    if (defs)
        *defs = L.defs;
    else
        scope_fini(&L.defs);
    scope_fini(&L.globals);
    if (d->n_errors != errors) {
        ir_graph_free(L.g);
        return NULL;
    }
    return L.g;
}
