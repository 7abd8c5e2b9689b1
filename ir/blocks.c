/* blocks.c — where a partitioned graph's blocks end, and why.
 *
 * The partition pass gives every node a block; blocks are contiguous runs of
 * forward layers, so block b ends at its last forward value outside a head
 * (the value the next block reads). A user `cut` there (IR_F_CUT) made the
 * boundary; otherwise the method did, by its rule (greedy: one block per
 * layer; overlap: windows of w layers) or by its dynamic program (chunked:
 * the least possible cost of the most expensive block).
 */
#include "ir.h"

static bool forward_body(const IrNode *n)
{
    return ir_op_info(n->op)->kind == IR_KIND_FWD && !(n->flags & IR_F_HEAD) &&
           !(n->flags & IR_F_LOSS) && n->op != IR_OP_STOP_GRADIENT;
}

void ir_block_cuts(const IrGraph *g, int *cut)
{
    for (int b = 0; b < g->n_blocks; b++)
        cut[b] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        int b = g->nodes[i]->block;
        if (b >= 0 && b + 1 < g->n_blocks && forward_body(g->nodes[i]))
            cut[b] = i;
    }
}

IrCutKind ir_cut_kind(const IrGraph *g, int cut)
{
    return g->nodes[cut]->flags & IR_F_CUT ? IR_CUT_USER : IR_CUT_AUTO;
}

const char *ir_cut_reason(const IrGraph *g, int cut, char *buf, size_t cap)
{
    const char *why = "automatic";
    if (ir_cut_kind(g, cut) == IR_CUT_USER)
        why = "user cut";
    else if (g->local.method == METHOD_GREEDY)
        why = "automatic: greedy makes one block per layer";
    else if (g->local.method == METHOD_CHUNKED)
        why = "automatic: chunked's dynamic program (least cost of the costliest block)";
    if (g->local.method == METHOD_OVERLAP && ir_cut_kind(g, cut) == IR_CUT_AUTO)
        snprintf(buf, cap, "automatic: overlap makes windows of %d layers", g->local.overlap);
    else
        snprintf(buf, cap, "%s", why);
    return buf;
}
