/* verify_local.c — the local-training invariants of a partitioned graph.
 *
 * Run by the `verify` pass once g->n_blocks > 0, at any point of the pipeline:
 * - every node has a block, except data inputs and labels (shared by all);
 * - no edge goes from a later block to an earlier one, except a shared
 *   layer's parameter in overlap (owned by the later window, read by the
 *   earlier one);
 * - an edge from an earlier block into a later one enters a stop_gradient of
 *   the next block, or (overlap) is the earlier window's gradient contribution
 *   added into the owner's gradient of a shared parameter — so no gradient
 *   path crosses a block boundary except that declared overlap;
 * - every block has exactly one loss (its head's, the last block the task's);
 * - every parameter is owned by exactly one block: its block field.
 */
#include "passes_impl.h"

static const char *op_name(const IrNode *n) { return ir_op_info(n->op)->name; }

static bool check_blocks(const IrNode *n, Diag *d)
{
    if (n->block == IR_BLOCK_NONE && !pass_is_data(n)) {
        diag_error(d, n->loc, "verifier: %%%d (%s) belongs to no block", n->id, op_name(n));
        return false;
    }
    return true;
}

/* An edge from s in an earlier block into n in a later one. */
static bool forward_edge_ok(const IrGraph *g, const IrNode *s, const IrNode *n, int bwd)
{
    if (n->op == IR_OP_STOP_GRADIENT && s->block == n->block - 1)
        return true;
    return g->local.method == METHOD_OVERLAP && n->op == IR_OP_ADD && s->id >= bwd &&
           n->id >= bwd && s->block == n->block - 1;
}

static bool check_edges(const IrGraph *g, const IrNode *n, int bwd, Diag *d)
{
    for (int k = 0; k < n->n_in; k++) {
        const IrNode *s = g->nodes[n->in[k]];
        if (s->block == IR_BLOCK_NONE || n->block == IR_BLOCK_NONE || s->block == n->block)
            continue;
        if (s->block > n->block) {
            if (s->op == IR_OP_PARAM && g->local.method == METHOD_OVERLAP &&
                s->block == n->block + 1)
                continue;
            diag_error(d, n->loc, "verifier: %%%d (%s) in block %d reads %%%d (%s) of the "
                       "later block %d", n->id, op_name(n), n->block, s->id, op_name(s),
                       s->block);
            return false;
        }
        if (!forward_edge_ok(g, s, n, bwd)) {
            diag_error(d, n->loc, "verifier: %%%d (%s) in block %d reads %%%d (%s) of block %d "
                       "without a stop_gradient: a gradient path crosses a block boundary",
                       n->id, op_name(n), n->block, s->id, op_name(s), s->block);
            return false;
        }
    }
    return true;
}

static bool check_losses(const IrGraph *g, Diag *d)
{
    bool ok = true;
    for (int b = 0; b < g->n_blocks; b++) {
        int count = 0;
        for (int i = 0; i < g->n_nodes; i++)
            count += g->nodes[i]->block == b &&
                     (i == g->loss || (g->nodes[i]->flags & IR_F_LOSS));
        if (count != 1) {
            diag_error(d, IR_LOC_NONE, "verifier: block %d has %d losses, expected one%s", b,
                       count, count ? "" : " (run aux-heads)");
            ok = false;
        }
    }
    if (g->loss >= 0 && g->nodes[g->loss]->block != g->n_blocks - 1) {
        diag_error(d, g->nodes[g->loss]->loc, "verifier: the task loss is in block %d, not in "
                   "the last block %d", g->nodes[g->loss]->block, g->n_blocks - 1);
        ok = false;
    }
    return ok;
}

bool pass_verify_local(const IrGraph *g, Diag *d)
{
    if (g->n_blocks <= 0)
        return true;
    int bwd = pass_backward_start(g);
    bool ok = true;
    for (int i = 0; i < g->n_nodes && ok; i++)
        ok = check_blocks(g->nodes[i], d) && check_edges(g, g->nodes[i], bwd, d);
    if (ok && g->loss >= 0)
        ok = check_losses(g, d);
    return ok;
}
