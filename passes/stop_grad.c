/* stop_grad.c — a stop_gradient at every block input.
 *
 * Every edge from a value of block a into a node of a later block b becomes
 * an edge from stop_gradient(value), one stop_gradient per (value, block),
 * placed right before its first user and belonging to block b (docs/method.md §2:
 * in_k = stop_gradient(h_{s_k - 1})). In overlap the copy of a shared layer
 * reads the previous layer's output this way, so the later window cuts the
 * gradient at its own input while the shared parameters still get both
 * windows' gradients. Sources (parameters, data) are not activations and keep
 * their edges.
 */
#include "passes_impl.h"

#include <stdlib.h>

/* Does the edge from s into n cross into a later block? */
static bool crosses(const IrNode *s, const IrNode *n)
{
    return !pass_is_source(s) && s->block != IR_BLOCK_NONE && n->block != IR_BLOCK_NONE &&
           s->block < n->block;
}

static bool any_crossing(const IrGraph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_in; k++)
            if (crosses(g->nodes[g->nodes[i]->in[k]], g->nodes[i]))
                return true;
    return false;
}

bool pass_stop_grad(IrGraph *g, PassCtx *ctx)
{
    if (g->n_blocks <= 1 || !any_crossing(g))
        return true;
    if (pass_backward_start(g) < g->n_nodes) {
        diag_error(ctx->diag, IR_LOC_NONE, "stop-grad must run before autodiff");
        return false;
    }
    /* sg[v * K + b]: the stop_gradient of old value v for block b, or -1 */
    int K = g->n_blocks;
    int *sg = malloc((size_t)g->n_nodes * (size_t)K * sizeof *sg);
    IR_CHECK_ALLOC(sg);
    for (int i = 0; i < g->n_nodes * K; i++)
        sg[i] = -1;
    PassRebuild rb;
    rebuild_begin(&rb, g);
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        int in[IR_MAX_IN];
        for (int k = 0; k < n->n_in; k++) {
            const IrNode *s = g->nodes[n->in[k]];
            in[k] = rb.map[s->id];
            if (!crosses(s, n))
                continue;
            int *slot = &sg[s->id * K + n->block];
            if (*slot < 0)
                *slot = rebuild_add(&rb, IR_OP_STOP_GRADIENT, &in[k], 1, NULL, n->block,
                                    s->loc)->id;
            in[k] = *slot;
        }
        IrNode *c = rebuild_copy(&rb, n);
        for (int k = 0; k < n->n_in; k++)
            c->in[k] = in[k];
    }
    rebuild_commit(&rb, g);
    free(sg);
    return true;
}
