/* basic.c — the `shape` and `verify` passes.
 *
 * `shape` re-runs every node's shape rule in order and stores the result, so
 * a pass that edits attributes can ask for fresh types; `verify` runs the IR
 * verifier and, once the graph is partitioned, the local-training checks of
 * verify_local.c. Both are thin: the rules and invariants live elsewhere.
 */
#include "passes.h"

bool pass_shape(IrGraph *g, PassCtx *ctx)
{
    bool ok = true;
    for (int i = 0; i < g->n_nodes; i++)
        ok = ir_shape_infer(g, g->nodes[i], ctx->diag) && ok;
    return ok;
}

bool pass_verify(IrGraph *g, PassCtx *ctx)
{
    return ir_graph_verify(g, ctx->diag) && pass_verify_local(g, ctx->diag);
}
