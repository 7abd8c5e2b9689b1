/* verify.c — structural invariants of a graph.
 *
 * Run after every pass under --verify-each. Violations are reported as errors
 * at the offending node's source location, so a pass bug still points at the
 * user's line that was being compiled.
 */
#include "ir.h"

static bool check_node(const IrGraph *g, const IrNode *n, int idx, Diag *d)
{
    const IrOpInfo *info = ir_op_info(n->op);
    if (n->id != idx) {
        diag_error(d, n->loc, "verifier: node %%%d stored at index %d", n->id, idx);
        return false;
    }
    if (n->n_in < info->min_in || n->n_in > info->max_in) {
        diag_error(d, n->loc, "verifier: %s has %d operands, expected %d..%d",
                   info->name, n->n_in, info->min_in, info->max_in);
        return false;
    }
    for (int i = 0; i < n->n_in; i++) {
        if (n->in[i] < 0 || n->in[i] >= idx) {
            diag_error(d, n->loc, "verifier: %%%d uses %%%d, which is not defined before it",
                       idx, n->in[i]);
            return false;
        }
    }
    if (n->block != IR_BLOCK_NONE && (n->block < 0 || n->block >= g->n_blocks)) {
        diag_error(d, n->loc, "verifier: %%%d has block %d, graph has %d blocks "
                   "(numbered from 1)", idx, ir_block_no(n->block), g->n_blocks);
        return false;
    }
    if (n->op == IR_OP_PARAM && ir_type_batched(&n->type)) {
        diag_error(d, n->loc, "verifier: parameter %%%d has a batch dimension", idx);
        return false;
    }
    /* The stored type must be what the shape rule gives. */
    IrNode copy = *n;
    Diag scratch;
    diag_init(&scratch);
    bool ok = ir_shape_infer(g, &copy, &scratch);
    diag_fini(&scratch);
    if (!ok || !ir_type_equal(&copy.type, &n->type)) {
        char want[96], have[96];
        ir_type_str(&copy.type, want, sizeof want);
        ir_type_str(&n->type, have, sizeof have);
        diag_error(d, n->loc, "verifier: %%%d (%s) has type %s, its shape rule gives %s",
                   idx, info->name, have, ok ? want : "an error");
        return false;
    }
    return true;
}

bool ir_graph_verify(const IrGraph *g, Diag *d)
{
    int bad = ir_graph_unknown_op(g);
    if (bad >= 0) {     /* nothing else can be checked: every check reads the op's row */
        diag_error(d, g->nodes[bad]->loc, "verifier: %%%d has op id %d, which ir/ops.def "
                   "does not define", bad, (int)g->nodes[bad]->op);
        return false;
    }
    bool ok = true;
    for (int i = 0; i < g->n_nodes; i++)
        ok = check_node(g, g->nodes[i], i, d) && ok;
    if (g->loss >= g->n_nodes) {
        diag_error(d, IR_LOC_NONE, "verifier: loss %%%d out of range", g->loss);
        return false;
    }
    if (g->loss >= 0 && g->nodes[g->loss]->type.rank != 0) {
        diag_error(d, g->nodes[g->loss]->loc, "verifier: the loss is not a scalar");
        ok = false;
    }
    return ok;
}
