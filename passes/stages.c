/* stages.c — a backprop graph cut into pipeline stages (the GPipe baseline).
 *
 * Unlike local learning's blocks, stages train the network with plain
 * backprop: no auxiliary heads, no stop-gradient; the gradient crosses every
 * boundary backwards. The cut reuses the partition pass: legal cuts, layers
 * and the chunked dynamic program, with each layer costed as forward +
 * backward and no head (a stage's first layer also computes its input's
 * gradient, which it sends back). The split pass then makes one forward graph
 * per stage, and each is differentiated on its own:
 *
 *   stage k's activation input (from stage k-1) is flagged IR_F_WANT_GRAD,
 *     so autodiff computes d(input), which is sent back to stage k-1;
 *   stage k < K-1 gets an input "grad.<value>" flagged IR_F_GRAD_SEED: the
 *     gradient of its output, received from stage k+1, seeds the backward.
 *
 * In PassBlocks terms, that seed is a PASS_IO_GRAD input from block k+1 whose
 * src_node is block k+1's d(input). A parameter used by two stages (tied
 * weights) would need its gradients summed across stages: an error here.
 */
#include "passes_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Layers costed for backprop stages: forward + backward, no head. */
static bool plan_stages(IrGraph *g, int K, PassPlan *p, PassCtx *ctx)
{
    IrLocalCfg saved = g->local;
    g->local.method = METHOD_CHUNKED;
    g->local.blocks = K;
    g->local.head = NULL;       /* heads are not costed: none is built */
    g->local.balance = BALANCE_FLOPS;   /* stages balance compute, whatever local says */
    bool ok = pass_plan_layers(g, p, ctx->diag);
    if (ok && K > p->n_layers) {
        diag_error(ctx->diag, IR_LOC_NONE,
                   "the pipeline schedule cannot cut this model into %d stages: it has %d legal "
                   "cut point%s between its layers, so at most %d stage%s", K, p->n_layers - 1,
                   p->n_layers == 2 ? "" : "s", p->n_layers, p->n_layers == 1 ? "" : "s");
        ok = false;
    }
    if (ok && K > 1 && (ok = pass_plan_costs(g, p, ctx))) {
        for (int l = 0; l < p->n_layers; l++) {
            p->layer[l].head = 0;
            if (l > 0)
                p->layer[l].bwd_first = p->layer[l].bwd_rest;
        }
    }
    ok = ok && pass_plan_blocks(g, p, ctx->diag);
    g->local = saved;
    return ok;
}

static int stage_input(const PassBlock *b, PassIoKind kind)
{
    for (int i = 0; i < b->n_inputs; i++)
        if (b->inputs[i].kind == kind)
            return i;
    return -1;
}

/* Refuses stages that share a parameter (its gradient would cross stages). */
static bool check_shared_params(const IrGraph *g, const PassBlocks *bs, Diag *d)
{
    for (int k = 0; k < bs->n; k++) {
        const PassBlock *b = &bs->b[k];
        for (int i = 0; i < b->n_inputs; i++) {
            const PassBlockInput *in = &b->inputs[i];
            if (in->kind != PASS_IO_PARAM)
                continue;
            const IrNode *p = g->nodes[in->orig];
            diag_error(d, p->loc, "the pipeline schedule keeps every parameter in one stage, but "
                       "'%s' is used by stages %d and %d", p->name ? p->name : "?", k + 1,
                       in->src_block + 1);
            ir_diag_chain(g, d, p->loc);
            return false;
        }
    }
    return true;
}

/* Appends stage b's gradient seed: an input shaped like its output. */
static void add_seed(PassBlock *b, int k)
{
    IrGraph *g = b->g;
    const IrNode *out = g->nodes[b->act_out];
    IrNode *s = ir_node_add(g, IR_OP_INPUT, NULL, 0, NULL, out->loc);
    char name[48];
    snprintf(name, sizeof name, "grad.b%d.%d", k, b->orig[b->act_out]);
    s->name = ir_arena_strdup(&g->arena, name);
    s->type = out->type;
    s->flags |= IR_F_GRAD_SEED;
    s->grad = out->id;
    b->inputs = realloc(b->inputs, (size_t)(b->n_inputs + 1) * sizeof *b->inputs);
    IR_CHECK_ALLOC(b->inputs);
    b->inputs[b->n_inputs++] = (PassBlockInput){PASS_IO_GRAD, s->id, k + 1, -1, -1};
}

/* Flags stage k's boundaries, differentiates it and appends its updates. */
static bool differentiate(PassBlock *b, int k, int K, PassCtx *ctx)
{
    int act = stage_input(b, PASS_IO_ACTIVATION);
    if (k > 0) {
        IR_ASSERT(act >= 0 && b->inputs[act].src_block == k - 1);
        b->g->nodes[b->inputs[act].node]->flags |= IR_F_WANT_GRAD;
    }
    if (k < K - 1) {
        IR_ASSERT(b->act_out >= 0);
        add_seed(b, k);
    }
    int n_split = b->g->n_nodes;
    if (!pass_run_pipeline(b->g, "autodiff,optimizer", ctx))
        return false;
    b->orig = realloc(b->orig, (size_t)b->g->n_nodes * sizeof *b->orig);
    IR_CHECK_ALLOC(b->orig);
    for (int i = n_split; i < b->g->n_nodes; i++)
        b->orig[i] = -1;    /* the seed, gradients and updates exist only here */
    b->loss = b->g->loss;
    return true;
}

/* Points every stage's seed at the next stage's d(input). */
static void link_grads(PassBlocks *bs)
{
    for (int k = 0; k + 1 < bs->n; k++) {
        const PassBlock *next = &bs->b[k + 1];
        int act = stage_input(next, PASS_IO_ACTIVATION);
        int dx = next->g->nodes[next->inputs[act].node]->grad;
        IR_ASSERT(dx >= 0);     /* the next stage's loss depends on its input */
        PassBlock *b = &bs->b[k];
        b->inputs[stage_input(b, PASS_IO_GRAD)].src_node = dx;
    }
}

bool pass_stages(IrGraph *g, int K, PassBlocks *out, PassCtx *ctx)
{
    memset(out, 0, sizeof *out);
    if (g->n_blocks > 0 || pass_backward_start(g) < g->n_nodes || g->loss < 0) {
        diag_error(ctx->diag, IR_LOC_NONE, "pipeline stages: expected a forward graph with a "
                   "loss, not partitioned or differentiated");
        return false;
    }
    if (g->train.clip > 0) {
        diag_error(ctx->diag, g->train.loc, "the pipeline schedule does not support gradient "
                   "clipping (train.clip): each stage would clip its own gradients");
        return false;
    }
    PassPlan p;
    bool ok = plan_stages(g, K, &p, ctx);
    if (ok)
        pass_plan_apply(g, &p);
    pass_plan_fini(&p);
    ok = ok && pass_split(g, out, ctx->diag) && check_shared_params(g, out, ctx->diag);
    for (int k = 0; ok && k < out->n; k++)
        ok = differentiate(&out->b[k], k, out->n, ctx);
    if (ok)
        link_grads(out);
    else
        pass_blocks_fini(out);
    return ok;
}

bool pass_pipeline_stages(IrGraph *g, PassCtx *ctx)
{
    PassBlocks tmp, *bs = ctx->blocks ? ctx->blocks : &tmp;
    if (ctx->blocks)
        pass_blocks_fini(ctx->blocks);
    if (!pass_stages(g, g->local.blocks > 0 ? g->local.blocks : 2, bs, ctx))
        return false;
    if (!ctx->blocks)
        pass_blocks_fini(&tmp);
    return true;
}
