/* optimizer.c — appends every parameter's update to the graph.
 *
 * After autodiff each parameter p has a gradient node. This pass adds its
 * optimizer state (`state` nodes, zero-initialized, shaped like p) and one
 * update op that writes p and its state in place, so one block's training
 * step — forward, loss, backward, update — is a single function. The learning
 * rate and the step count are arguments of that function (the schedule runs
 * outside, once per step).
 *
 * Global-norm clipping (train.clip > 0) is per block, since each block owns
 * its optimizer: sumsq of every gradient of the block, summed, turned into a
 * factor min(1, clip/‖g‖) that every update of the block multiplies in.
 */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

static int add_node(IrGraph *g, IrOp op, const int *in, int n_in, const IrAttrs *a,
                    const IrNode *owner)
{
    IrNode *n = ir_node_add(g, op, in, n_in, a, owner->loc);
    n->block = owner->block;
    Diag d;
    diag_init(&d);
    bool ok = ir_shape_infer(g, n, &d);
    diag_fini(&d);
    IR_ASSERT(ok);
    return n->id;
}

static int add_state(IrGraph *g, const IrNode *p, const char *suffix)
{
    IrNode *s = ir_node_add(g, IR_OP_STATE, NULL, 0, NULL, p->loc);
    size_t len = strlen(p->name ? p->name : "param") + strlen(suffix) + 2;
    char *name = ir_arena_alloc(&g->arena, len);
    snprintf(name, len, "%s.%s", p->name ? p->name : "param", suffix);
    s->name = name;
    s->type = p->type;
    s->block = p->block;
    s->state = p->id;
    return s->id;
}

/* The clip factor of one block (-1 when clipping is off or nothing to clip). */
static int clip_factor(IrGraph *g, int n_fwd, int block)
{
    if (g->train.clip <= 0)
        return -1;
    int total = -1;
    const IrNode *owner = NULL;
    for (int i = 0; i < n_fwd; i++) {
        const IrNode *p = g->nodes[i];
        if (p->op != IR_OP_PARAM || p->grad < 0 || p->block != block)
            continue;
        int sq = add_node(g, IR_OP_SUMSQ, &p->grad, 1, NULL, p);
        int in[2] = {total, sq};
        total = total < 0 ? sq : add_node(g, IR_OP_ADD, in, 2, NULL, p);
        owner = p;
    }
    if (total < 0)
        return -1;
    IrAttrs a = {.scalar = g->train.clip};
    return add_node(g, IR_OP_CLIP_FACTOR, &total, 1, &a, owner);
}

static IrAttrs update_attrs(const IrTrainCfg *t)
{
    IrAttrs a = {0};
    a.momentum = t->momentum;
    a.nesterov = t->nesterov;
    a.beta1 = t->beta1;
    a.beta2 = t->beta2;
    a.eps = t->eps;
    a.weight_decay = t->weight_decay;
    a.decoupled = t->optimizer == OPT_ADAMW;
    return a;
}

static void add_update(IrGraph *g, IrNode *p, int factor)
{
    IrAttrs a = update_attrs(&g->train);
    int in[5] = {p->id, p->grad};
    int n = 2;
    if (g->train.optimizer == OPT_SGD) {
        in[n++] = add_state(g, p, "momentum");
    } else {
        in[n++] = add_state(g, p, "m");
        in[n++] = add_state(g, p, "v");
    }
    if (factor >= 0)
        in[n++] = factor;
    add_node(g, g->train.optimizer == OPT_SGD ? IR_OP_SGD_UPDATE : IR_OP_ADAM_UPDATE,
             in, n, &a, p);
}

bool pass_optimizer(IrGraph *g, PassCtx *ctx)
{
    int n_fwd = g->n_nodes, n_upd = 0;
    int max_block = g->n_blocks > 0 ? g->n_blocks : 1;
    for (int b = 0; b < max_block; b++) {
        int blk = g->n_blocks > 0 ? b : IR_BLOCK_NONE;
        int factor = clip_factor(g, n_fwd, blk);
        for (int i = 0; i < n_fwd; i++) {
            IrNode *p = g->nodes[i];
            if (p->op == IR_OP_PARAM && p->grad >= 0 && p->block == blk) {
                add_update(g, p, factor);
                n_upd++;
            }
        }
    }
    if (n_upd == 0) {
        diag_error(ctx->diag, IR_LOC_NONE,
                   "optimizer: no parameter has a gradient (run autodiff first)");
        return false;
    }
    return true;
}
