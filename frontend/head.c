/* head.c — calls a model's `def` on a value of an existing graph: the custom
 * auxiliary heads of `local { head = NAME }` and of `headK = NAME` (block K's).
 *
 * The aux-heads pass asks for one head per block but the last, on graphs the
 * passes made (partitioned copies too), long after fe_model_new returned. So
 * the model keeps the AST and the def table, and each call here runs a fresh
 * lowering state over the target graph: no globals (a def sees only its
 * parameter), builtin counters from zero, and parameter names prefixed by the
 * head's name (`head1.dense_0.w`), so heads of different blocks never clash
 * with each other or with the model's own `dense_0.w`.
 */
#include <stdio.h>

#include "fe_impl.h"

/* Block k's head: its own (`headK = NAME`, 1-based K) or the common one. */
static const char *head_name(const IrGraph *g, int block)
{
    const IrLocalCfg *l = &g->local;
    return block < IR_MAX_BLOCK_HEADS && l->head_of[block] ? l->head_of[block] : l->head;
}

static IrLoc head_loc(const IrGraph *g, int block)
{
    const IrLocalCfg *l = &g->local;
    if (block < IR_MAX_BLOCK_HEADS && l->head_of[block])
        return l->head_of_loc[block].line > 0 ? l->head_of_loc[block] : l->loc;
    return l->head_loc.line > 0 ? l->head_loc : l->loc;
}

/* The def that block k's head names, or NULL after an error. */
static const AstStmt *head_def(const FeModel *m, const IrGraph *g, int block, Diag *d)
{
    const char *name = head_name(g, block);
    const Sym *y = scope_find(&m->defs, name);
    if (!y) {
        diag_error(d, head_loc(g, block), "unknown def '%.64s' for 'head'", name);
        return NULL;
    }
    if (y->def->n_params != 1) {
        diag_error(d, head_loc(g, block), "head '%.64s' must take exactly one argument, it "
                   "takes %d", y->def->name, y->def->n_params);
        return NULL;
    }
    return y->def;
}

/* The head's value must be the logits the task loss reads. */
static int check_output(Lower *L, const AstStmt *def, Value v)
{
    const IrGraph *g = L->g;
    if (v.kind == VAL_NUM)
        lower_error(L, def->expr->loc, "head '%.64s' must return a tensor, got a number",
                    def->name);
    if (v.kind != VAL_TENSOR)
        return -1;
    const IrType *want = &g->nodes[g->nodes[g->loss]->in[0]]->type;
    if (ir_type_equal(&g->nodes[v.node]->type, want))
        return v.node;
    char got[96], exp[96];
    ir_type_str(want, exp, sizeof exp);
    lower_error(L, def->expr->loc, "head '%.64s' returns %s, but the task loss needs logits "
                "of type %s", def->name, lower_type_str(L, v.node, got, sizeof got), exp);
    return -1;
}

IrNode *fe_model_head(const FeModel *m, IrGraph *g, int input, int block, Diag *d)
{
    IR_ASSERT(head_name(g, block) && g->loss >= 0 && input >= 0 && input < g->n_nodes);
    const AstStmt *def = head_def(m, g, block, d);
    if (!def)
        return NULL;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "head%d", block + 1);
    Lower L = {.g = g, .d = d, .file = m->file, .defs = m->defs, .prefix = prefix};
    scope_init(&L.globals);
    L.scope = &L.globals;
    int errors = d->n_errors;
    Value x = {.kind = VAL_TENSOR, .node = input};
    IrLoc at = g->nodes[input]->loc;
    int out = check_output(&L, def, lower_def_apply(&L, def, &x, &at));
    scope_fini(&L.globals);
    if (d->n_errors == errors)
        return out < 0 ? NULL : g->nodes[out];
    char ts[96];
    ir_type_str(&g->nodes[input]->type, ts, sizeof ts);
    diag_note(d, head_loc(g, block), "in the auxiliary head of block %d, called on its output of "
              "type %s", block + 1, ts);
    return NULL;
}
