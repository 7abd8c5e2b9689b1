/* lower.c — turns the AST into the forward IR graph.
 *
 * Lowering is an interpreter over the AST whose values are numbers (folded at
 * compile time) or tensors (IR node ids). `def` calls run the def's body in a
 * fresh frame (parameters + locals) and are thereby inlined; `repeat` runs its
 * body N times in the enclosing scope, so the graph comes out unrolled. Every
 * node gets the location of the expression that made it, and the site of the
 * def call or repeat iteration it ran in (ir/site.c), so the IR and errors can
 * say which call of a def a node comes from. After an error a value is
 * VAL_NONE, which later uses pass along silently (no cascades).
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fe_impl.h"

static const Value NONE = {.kind = VAL_NONE};

static Value num(double x) { return (Value){.kind = VAL_NUM, .num = x}; }
static Value tensor(int id) { return id < 0 ? NONE : (Value){.kind = VAL_TENSOR, .node = id}; }

static bool already_reported(const Diag *d, IrLoc loc, const char *msg)
{
    for (int i = 0; i < d->n_msgs; i++) {
        const DiagMsg *m = &d->msgs[i];
        if (m->level == DIAG_ERROR && m->loc.file == loc.file && m->loc.line == loc.line &&
            m->loc.col == loc.col && strcmp(m->text, msg) == 0)
            return true;
    }
    return false;
}

void lower_error(Lower *L, IrLoc loc, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (already_reported(L->d, loc, msg))
        return;
    diag_error(L->d, loc, "%s", msg);
    if (loc.site == 0)
        loc.site = L->site;
    ir_diag_chain(L->g, L->d, loc);
}

LowerSite lower_enter(Lower *L, IrLoc at, const char *def, int iter)
{
    LowerSite outer = {L->site, L->g->n_nodes};
    at.site = outer.site;
    L->site = ir_site_add(L->g, at, def, iter);
    return outer;
}

/* A call or an iteration that made no node leaves no site behind, so that a
 * long repeat of arithmetic on numbers does not fill the table. */
void lower_leave(Lower *L, LowerSite outer)
{
    if (L->site == L->g->n_sites && L->g->n_nodes == outer.nodes)
        L->g->n_sites--;
    L->site = outer.site;
}

/* Stops lowering once a size limit is hit (one error, then quiet). */
static void too_big(Lower *L, IrLoc loc, const char *what, long limit)
{
    if (!L->too_big)
        lower_error(L, loc, "model too large: more than %ld %s", limit, what);
    L->too_big = true;
}

const IrType *lower_type(const Lower *L, int node)
{
    return &L->g->nodes[node]->type;
}

const char *lower_type_str(const Lower *L, int node, char *buf, size_t cap)
{
    ir_type_str(lower_type(L, node), buf, cap);
    return buf;
}

int lower_emit(Lower *L, IrOp op, const int *in, int n_in, const IrAttrs *a, IrLoc loc)
{
    if (L->g->n_nodes >= FE_MAX_IR_NODES) {
        too_big(L, loc, "IR nodes (check repeat counts)", FE_MAX_IR_NODES);
        return -1;
    }
    if (loc.site == 0)
        loc.site = L->site;
    IrNode *n = ir_node_add(L->g, op, in, n_in, a, loc);
    Diag tmp;       /* shape errors go through lower_error, to drop repeats */
    diag_init(&tmp);
    bool ok = ir_shape_infer(L->g, n, &tmp);
    for (int i = 0; i < tmp.n_msgs; i++)
        lower_error(L, tmp.msgs[i].loc, "%s", tmp.msgs[i].text);
    diag_fini(&tmp);
    return ok ? n->id : -1;
}

int lower_param(Lower *L, const char *prefix, const ParamSpec *ps, IrLoc loc)
{
    IrAttrs a = {.init = ps->init, .init_std = ps->std, .fan_in = ps->fan_in,
                 .fan_out = ps->fan_out, .rank = ps->rank};
    memcpy(a.shape, ps->dim, sizeof a.shape);
    int id = lower_emit(L, IR_OP_PARAM, NULL, 0, &a, loc);
    if (id < 0)
        return -1;
    IrNode *n = L->g->nodes[id];
    n->type = (IrType){.dtype = IR_F32, .rank = ps->rank};
    memcpy(n->type.dim, ps->dim, sizeof n->type.dim);
    size_t len = strlen(prefix) + strlen(ps->suffix) + 2;
    char *name = ir_arena_alloc(&L->g->arena, len);
    snprintf(name, len, "%s.%s", prefix, ps->suffix);
    n->name = name;
    return id;
}

static Value scalar_op(Lower *L, IrOp op, int x, float c, IrLoc loc)
{
    IrAttrs a = {.scalar = c};
    return tensor(lower_emit(L, op, &x, 1, &a, loc));
}

/* tensor (op) tensor; an unbatched left operand of + or * moves to the right. */
static Value tensor_binary(Lower *L, char op, int x, int y, IrLoc loc)
{
    static const struct { char c; IrOp op; } ops[] = {
        {'+', IR_OP_ADD}, {'-', IR_OP_SUB}, {'*', IR_OP_MUL}, {'/', IR_OP_DIV}};
    IrOp o = IR_OP_ADD;
    for (size_t i = 0; i < 4; i++)
        if (ops[i].c == op)
            o = ops[i].op;
    if ((op == '+' || op == '*') && !ir_type_batched(lower_type(L, x)) &&
        ir_type_batched(lower_type(L, y))) {
        int t = x;
        x = y;
        y = t;
    }
    int in[2] = {x, y};
    return tensor(lower_emit(L, o, in, 2, NULL, loc));
}

/* number (op) number, folded */
static Value fold(Lower *L, char op, double a, double b, IrLoc loc)
{
    switch (op) {
    case '+': return num(a + b);
    case '-': return num(a - b);
    case '*': return num(a * b);
    default:
        if (b == 0) {
            lower_error(L, loc, "division by zero");
            return NONE;
        }
        return num(a / b);
    }
}

/* tensor (op) number and number (op) tensor, as add_scalar / mul_scalar */
static Value mixed_binary(Lower *L, char op, Value a, Value b, IrLoc loc)
{
    if (a.kind == VAL_TENSOR) {
        if (op == '/' && b.num == 0) {
            lower_error(L, loc, "division by zero");
            return NONE;
        }
        if (op == '+' || op == '-')
            return scalar_op(L, IR_OP_ADD_SCALAR, a.node, (float)(op == '+' ? b.num : -b.num), loc);
        return scalar_op(L, IR_OP_MUL_SCALAR, a.node, (float)(op == '*' ? b.num : 1 / b.num), loc);
    }
    switch (op) {
    case '+': return scalar_op(L, IR_OP_ADD_SCALAR, b.node, (float)a.num, loc);
    case '*': return scalar_op(L, IR_OP_MUL_SCALAR, b.node, (float)a.num, loc);
    case '-': {
        Value neg = scalar_op(L, IR_OP_MUL_SCALAR, b.node, -1.0f, loc);
        return neg.kind == VAL_NONE ? NONE : scalar_op(L, IR_OP_ADD_SCALAR, neg.node, (float)a.num, loc);
    }
    default:
        lower_error(L, loc, "cannot divide a number by a tensor");
        return NONE;
    }
}

static Value lower_binary(Lower *L, const AstExpr *e)
{
    Value a = lower_expr(L, e->lhs);
    Value b = lower_expr(L, e->rhs);
    if (a.kind == VAL_NONE || b.kind == VAL_NONE)
        return NONE;
    if (a.kind == VAL_NUM && b.kind == VAL_NUM)
        return fold(L, e->op, a.num, b.num, e->loc);
    if (a.kind == VAL_TENSOR && b.kind == VAL_TENSOR)
        return tensor_binary(L, e->op, a.node, b.node, e->loc);
    return mixed_binary(L, e->op, a, b, e->loc);
}

/* Collects the names of a scope (for "did you mean"); caller frees. */
static const char **scope_names(const Scope *s, int *n)
{
    const char **names = malloc((size_t)(s->n + 1) * sizeof *names);
    IR_CHECK_ALLOC(names);
    *n = 0;
    for (int i = 0; i < s->cap; i++)
        if (s->slots[i].name)
            names[(*n)++] = s->slots[i].name;
    return names;
}

static Value lower_name(Lower *L, const AstExpr *e)
{
    const Sym *y = scope_find(L->scope, e->str);
    if (y)
        return y->v;
    if (L->scope != &L->globals && scope_find(&L->globals, e->str)) {
        lower_error(L, e->loc, "undefined name '%.64s' (a def sees only its parameters and "
                    "locals: pass it as an argument)", e->str);
        return NONE;
    }
    int n;
    const char **names = scope_names(L->scope, &n);
    const char *near = fe_suggest(e->str, names, n);
    lower_error(L, e->loc, "undefined name '%.64s'%s%s%s", e->str,
                near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    free(names);
    return NONE;
}

Value lower_def_apply(Lower *L, const AstStmt *def, const Value *args, const IrLoc *locs)
{
    Scope frame, *outer = L->scope;
    scope_init(&frame);
    int i = 0;
    for (const AstParam *q = def->params; q; q = q->next, i++) {
        bool fresh;
        Sym *y = scope_put(&frame, q->name, &fresh);
        *y = (Sym){.name = q->name, .kind = SYM_VAR, .v = args[i], .loc = locs[i]};
    }
    L->scope = &frame;
    L->call_depth++;
    lower_stmts(L, def->body);
    Value r = L->too_big ? NONE : lower_expr(L, def->expr);
    L->call_depth--;
    L->scope = outer;
    scope_fini(&frame);
    return r;
}

/* Binds a call's arguments to the def's parameters, then runs the def. */
static Value call_def(Lower *L, const AstStmt *def, const AstExpr *call)
{
    if (L->call_depth >= FE_MAX_CALL_DEPTH) {
        lower_error(L, call->loc, "def calls nested too deeply (more than %d)", FE_MAX_CALL_DEPTH);
        return NONE;
    }
    ArgSpec specs[FE_MAX_PARAMS];
    int n = 0;
    for (const AstParam *q = def->params; q && n < FE_MAX_PARAMS; q = q->next)
        specs[n++] = (ArgSpec){.name = q->name, .kind = ARG_ANY, .required = true};
    CallSpec spec = {.name = def->name, .params = specs, .n_params = n};
    Bound b;
    if (!fe_bind(L, &spec, call, &b))
        return NONE;
    LowerSite outer = lower_enter(L, call->loc, def->name, 0);
    Value r = lower_def_apply(L, def, b.v, b.loc);
    lower_leave(L, outer);
    return r;
}

static Value lower_call(Lower *L, const AstExpr *e)
{
    const Sym *def = scope_find(&L->defs, e->str);
    if (def)
        return call_def(L, def->def, e);
    Value v;
    if (builtin_call(L, e, &v))
        return v;
    const char *bnames[FE_MAX_BUILTINS];
    int nb = builtin_names(bnames, FE_MAX_BUILTINS), nd;
    const char **dnames = scope_names(&L->defs, &nd);
    const char *near = fe_suggest(e->str, bnames, nb);
    if (!near)
        near = fe_suggest(e->str, dnames, nd);
    lower_error(L, e->loc, "unknown function '%.64s'%s%s%s", e->str,
                near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    free(dnames);
    return NONE;
}

static Value eval(Lower *L, const AstExpr *e)
{
    switch (e->kind) {
    case AST_NUM: return num(e->num);
    case AST_NAME: return lower_name(L, e);
    case AST_BIN: return lower_binary(L, e);
    case AST_CALL: return lower_call(L, e);
    case AST_NEG: {
        Value v = lower_expr(L, e->lhs);
        if (v.kind == VAL_NUM)
            return num(-v.num);
        return v.kind == VAL_TENSOR ? scalar_op(L, IR_OP_MUL_SCALAR, v.node, -1.0f, e->loc) : NONE;
    }
    case AST_STR: break;
    }
    lower_error(L, e->loc, "a string is only allowed as a train/local value");
    return NONE;
}

Value lower_expr(Lower *L, const AstExpr *e)
{
    if (L->too_big)
        return NONE;
    if (L->eval_depth >= FE_MAX_EVAL_DEPTH) {
        too_big(L, e->loc, "levels of nested expressions (after def expansion)",
                FE_MAX_EVAL_DEPTH);
        return NONE;
    }
    L->eval_depth++;
    Value v = eval(L, e);
    L->eval_depth--;
    return v;
}
