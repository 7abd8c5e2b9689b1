/* cost.c — the cost model of local training.
 *
 * Costs count what a step really computes: they are sums of ir_node_cost over
 * the nodes of the differentiated graph, attributed by block. So the first
 * layer of a block costs no input gradient (autodiff emits none past a
 * stop_gradient), a head's forward and backward belong to its block, and an
 * overlapped layer is paid by both windows (each computes its own copy).
 *
 * The partition pass needs layer costs before the graph is differentiated:
 * pass_plan_costs measures them the same way on two copies of the graph,
 * both with one block per layer and differentiated:
 *   A  with heads and stop-gradients  → forward, backward of a layer that
 *      starts a block, and the head on the layer's output;
 *   B  without                        → backward of a layer inside a block.
 * A layer whose output has no head (no default for its kind) gets the head
 * cost PASS_NO_HEAD, so a balanced split never ends a block there.
 * A block's cost is then a sum of layer costs (pass_plan_block_cost); it
 * differs from the real graph's by at most the gradient sums at the block's
 * end (an add per skip path, negligible).
 */
#include "passes_impl.h"

#include <stdlib.h>
#include <string.h>

/* A node's block; an unpartitioned graph is block 0; data belongs to none. */
static int block_of(const IrGraph *g, const IrNode *n)
{
    if (pass_is_data(n))
        return IR_BLOCK_NONE;
    return g->n_blocks > 0 ? n->block : 0;
}

/* Adds each node's FLOPs to the fwd / bwd / head sums of its block. */
static void tally(const IrGraph *g, double *fwd, double *bwd, double *head)
{
    int start = pass_backward_start(g);
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        int b = block_of(g, n);
        if (b == IR_BLOCK_NONE || ir_op_info(n->op)->kind == IR_KIND_OPT)
            continue;
        double f = ir_node_cost(g, n).flops;
        if (n->flags & IR_F_HEAD)
            head[b] += f;
        else if (i < start)
            fwd[b] += f;
        else
            bwd[b] += f;
    }
}

/* Adds the bytes per example of each block's batched forward values to act
 * (a head's to head_act, the stop-gradient copy of its input to in_act): the
 * activations backward reads. */
static void tally_act(const IrGraph *g, double *act, double *head_act, double *in_act)
{
    int start = pass_backward_start(g);
    for (int i = 0; i < start; i++) {
        const IrNode *n = g->nodes[i];
        int b = block_of(g, n);
        if (b == IR_BLOCK_NONE || pass_is_source(n) || !ir_type_batched(&n->type))
            continue;
        double bytes = 4 * (double)ir_type_numel(&n->type);
        if (n->flags & IR_F_HEAD)
            head_act[b] += bytes;
        else if (n->op == IR_OP_STOP_GRADIENT)
            in_act[b] += bytes;
        else
            act[b] += bytes;
    }
}

/* A copy of g with one block per layer; heads and stop-gradients on request;
 * differentiated. NULL on error (reported to ctx). */
static IrGraph *layered_copy(const IrGraph *g, const PassPlan *p, bool local, bool *no_head,
                             PassCtx *ctx)
{
    PassPlan greedy = *p;
    greedy.n_blocks = p->n_layers;
    greedy.first = malloc((size_t)p->n_layers * sizeof *greedy.first);
    IR_CHECK_ALLOC(greedy.first);
    for (int l = 0; l < p->n_layers; l++)
        greedy.first[l] = l;
    greedy.last = greedy.first;
    IrGraph *c = pass_graph_clone(g);
    c->local.method = METHOD_GREEDY;
    /* every layer's head is the common one (a block's own head is its business) */
    memset(c->local.head_of, 0, sizeof c->local.head_of);
    pass_plan_apply(c, &greedy);
    free(greedy.first);
    bool ok = !local || (pass_aux_heads_tolerant(c, ctx, no_head) && pass_stop_grad(c, ctx));
    ok = ok && pass_autodiff(c, ctx);
    if (!ok) {
        ir_graph_free(c);
        return NULL;
    }
    return c;
}

bool pass_plan_costs(const IrGraph *g, PassPlan *p, PassCtx *ctx)
{
    int L = p->n_layers;
    if (L == 0 || g->loss < 0)
        return true;
    bool *no_head = calloc((size_t)L, sizeof *no_head);
    IR_CHECK_ALLOC(no_head);
    IrGraph *a = layered_copy(g, p, true, no_head, ctx);
    IrGraph *b = a ? layered_copy(g, p, false, NULL, ctx) : NULL;
    if (!b) {
        ir_graph_free(a);
        free(no_head);
        return false;
    }
    double *sum = calloc((size_t)L * 9, sizeof *sum);
    IR_CHECK_ALLOC(sum);
    tally(a, sum, sum + L, sum + 2 * L);
    tally(b, sum + 3 * L, sum + 4 * L, sum + 5 * L);
    tally_act(a, sum + 6 * L, sum + 7 * L, sum + 8 * L);
    for (int l = 0; l < L; l++) {
        p->layer[l].fwd = sum[l];
        p->layer[l].bwd_first = sum[L + l];
        p->layer[l].head = no_head[l] ? PASS_NO_HEAD : sum[2 * L + l];
        p->layer[l].bwd_rest = sum[4 * L + l];
        p->layer[l].act = sum[6 * L + l];
        p->layer[l].head_act = sum[7 * L + l];
        p->layer[l].in_act = sum[8 * L + l];
    }
    p->costed = true;
    free(sum);
    free(no_head);
    ir_graph_free(a);
    ir_graph_free(b);
    return true;
}

/* ------------------------------------------------------ block costs */

/* Bytes per step that the edge s → n carries to a later block (0 if none). */
static double sent_bytes(const IrGraph *g, const IrNode *s, const IrNode *n, int batch)
{
    int a = block_of(g, s), b = block_of(g, n);
    if (g->n_blocks <= 1 || a == IR_BLOCK_NONE || b == IR_BLOCK_NONE || a >= b ||
        pass_is_source(s))
        return 0;
    double bytes = 4 * (double)ir_type_numel(&s->type);
    return ir_type_batched(&s->type) ? bytes * batch : bytes;
}

static void block_memory(const IrGraph *g, PassCost *c, int start)
{
    bool *seen = calloc((size_t)g->n_nodes + 1, sizeof *seen);
    IR_CHECK_ALLOC(seen);
    double labels = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (n->op == IR_OP_LABEL)
            labels += 4 * (double)ir_type_numel(&n->type) * c->batch;
        int b = block_of(g, n);
        if (b == IR_BLOCK_NONE)
            continue;
        PassBlockCost *bc = &c->b[b];
        if (n->op == IR_OP_PARAM) {
            bc->params += ir_param_numel(n);
            bc->param_bytes += 4 * (double)ir_type_numel(&n->type);   /* buffers too */
        }
        if (i < start && !pass_is_source(n) && ir_type_batched(&n->type))
            bc->act_bytes += 4 * (double)ir_type_numel(&n->type) * c->batch;
        for (int k = 0; k < n->n_in; k++) {
            const IrNode *s = g->nodes[n->in[k]];
            double bytes = seen[s->id] ? 0 : sent_bytes(g, s, n, c->batch);
            seen[s->id] = seen[s->id] || bytes > 0;
            if (bytes > 0)
                c->b[block_of(g, s)].send_bytes += bytes;
        }
    }
    for (int b = 0; b + 1 < c->n; b++)
        c->b[b].send_bytes += labels;
    free(seen);
}

void pass_cost(const IrGraph *g, PassCost *c)
{
    memset(c, 0, sizeof *c);
    int n = c->n = g->n_blocks > 0 ? g->n_blocks : 1;
    c->batch = g->train.batch;
    c->b = calloc((size_t)n, sizeof *c->b);
    double *f = calloc((size_t)n * 3, sizeof *f);
    IR_CHECK_ALLOC(c->b && f);
    tally(g, f, f + n, f + 2 * n);
    for (int b = 0; b < n; b++) {
        PassBlockCost *bc = &c->b[b];
        bc->fwd = f[b];
        bc->bwd = f[n + b];
        bc->head = f[2 * n + b];
        double t = bc->fwd + bc->bwd + bc->head;
        c->total += t;
        c->max = t > c->max ? t : c->max;
    }
    c->speedup = c->max > 0 ? c->total / c->max : 1;
    block_memory(g, c, pass_backward_start(g));
    free(f);
}

void pass_cost_fini(PassCost *c)
{
    free(c->b);
    memset(c, 0, sizeof *c);
}
