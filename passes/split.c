/* split.c — one self-contained step graph per block (see passes.h).
 *
 * Block b's graph holds, in the whole graph's order, every node of block b,
 * plus a copy of each source it reads from outside: data inputs and labels,
 * and (overlap) the shared parameters owned by the next window. A value it
 * reads from an earlier block (the detached activation; in overlap also the
 * earlier window's gradient contribution) becomes an `input` node named
 * "from.b<k>.<id>". Nodes of block graphs carry no block (each is a plain
 * graph); `orig` maps them back to the whole graph, and each input records
 * which node of which block graph feeds it.
 */
#include "passes_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int block_of(const IrGraph *g, const IrNode *n)
{
    if (pass_is_data(n))
        return IR_BLOCK_NONE;
    return g->n_blocks > 0 ? n->block : 0;
}

typedef struct {
    const IrGraph *g;
    PassRebuild rb;
    PassBlock *pb;
    int cap_in, cap_orig;
    int bwd;                /* first backward node of the whole graph */
} Split;

static void add_input(Split *s, PassIoKind kind, int node, const IrNode *src)
{
    PassBlock *pb = s->pb;
    if (pb->n_inputs == s->cap_in) {
        s->cap_in = s->cap_in ? 2 * s->cap_in : 8;
        pb->inputs = realloc(pb->inputs, (size_t)s->cap_in * sizeof *pb->inputs);
        IR_CHECK_ALLOC(pb->inputs);
    }
    int src_block = kind == PASS_IO_DATA ? -1 : block_of(s->g, src);
    pb->inputs[pb->n_inputs++] = (PassBlockInput){kind, node, src_block, -1, src->id};
}

/* Makes operand v of the whole graph available in the block graph. */
static void bring(Split *s, int v)
{
    if (s->rb.map[v] >= 0)
        return;
    const IrNode *src = s->g->nodes[v];
    if (pass_is_source(src)) {
        IrNode *c = rebuild_copy(&s->rb, src);
        c->grad = -1;       /* the owner computes its gradient */
        add_input(s, pass_is_data(src) ? PASS_IO_DATA : PASS_IO_PARAM, c->id, src);
        return;
    }
    IrNode *in = ir_node_add(s->rb.g, IR_OP_INPUT, NULL, 0, NULL, src->loc);
    char name[48];
    snprintf(name, sizeof name, "from.b%d.%d", block_of(s->g, src), v);
    in->name = ir_arena_strdup(&s->rb.g->arena, name);
    in->type = src->type;
    s->rb.map[v] = in->id;
    add_input(s, v < s->bwd ? PASS_IO_ACTIVATION : PASS_IO_GRAD, in->id, src);
}

static void build_block(Split *s, int b)
{
    const IrGraph *g = s->g;
    rebuild_begin(&s->rb, g);
    s->rb.g->n_blocks = 0;
    s->cap_in = 0;
    int loss = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (block_of(g, n) != b)
            continue;
        for (int k = 0; k < n->n_in; k++)
            bring(s, n->in[k]);
        if (n->op == IR_OP_STATE)
            bring(s, n->state);
        rebuild_copy(&s->rb, n);
        if (i == g->loss || (n->flags & IR_F_LOSS))
            loss = s->rb.map[i];
    }
    IrGraph *bg = s->rb.g;
    for (int i = 0; i < bg->n_nodes; i++) {
        IrNode *n = bg->nodes[i];
        n->block = IR_BLOCK_NONE;
        if (n->grad >= 0)
            n->grad = s->rb.map[n->grad];
    }
    bg->loss = loss;
    s->pb->g = bg;
    s->pb->loss = loss;
    s->pb->act_out = -1;
    s->pb->orig = malloc((size_t)(bg->n_nodes ? bg->n_nodes : 1) * sizeof *s->pb->orig);
    IR_CHECK_ALLOC(s->pb->orig);
    for (int v = 0; v < g->n_nodes; v++)
        if (s->rb.map[v] >= 0)
            s->pb->orig[s->rb.map[v]] = v;
    free(s->rb.map);
}

static int find_orig(const PassBlock *pb, int orig)
{
    for (int i = 0; i < pb->g->n_nodes; i++)
        if (pb->orig[i] == orig)
            return i;
    return -1;
}

/* Points every input at its producer's node; marks activation outputs. */
static void link(PassBlocks *bs)
{
    for (int b = 0; b < bs->n; b++) {
        for (int k = 0; k < bs->b[b].n_inputs; k++) {
            PassBlockInput *in = &bs->b[b].inputs[k];
            if (in->src_block < 0)
                continue;
            PassBlock *src = &bs->b[in->src_block];
            in->src_node = find_orig(src, in->orig);
            IR_ASSERT(in->src_node >= 0);
            if (in->kind == PASS_IO_ACTIVATION)
                src->act_out = in->src_node;
        }
    }
}

bool pass_split(const IrGraph *g, PassBlocks *out, Diag *d)
{
    memset(out, 0, sizeof *out);
    out->n = g->n_blocks > 0 ? g->n_blocks : 1;
    out->b = calloc((size_t)out->n, sizeof *out->b);
    IR_CHECK_ALLOC(out->b);
    Split s = {.g = g, .bwd = pass_backward_start(g)};
    bool ok = true;
    for (int b = 0; b < out->n; b++) {
        s.pb = &out->b[b];
        build_block(&s, b);
        ok = ir_graph_verify(s.pb->g, d) && ok;
    }
    link(out);
    if (!ok)
        pass_blocks_fini(out);
    return ok;
}

void pass_blocks_fini(PassBlocks *bs)
{
    for (int b = 0; bs->b && b < bs->n; b++) {
        ir_graph_free(bs->b[b].g);
        free(bs->b[b].orig);
        free(bs->b[b].inputs);
    }
    free(bs->b);
    memset(bs, 0, sizeof *bs);
}

bool pass_split_pass(IrGraph *g, PassCtx *ctx)
{
    PassBlocks tmp, *bs = ctx->blocks ? ctx->blocks : &tmp;
    if (ctx->blocks)
        pass_blocks_fini(ctx->blocks);
    if (!pass_split(g, bs, ctx->diag))
        return false;
    if (!ctx->blocks)
        pass_blocks_fini(&tmp);
    return true;
}
