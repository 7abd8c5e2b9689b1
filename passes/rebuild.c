/* rebuild.c — copying a graph into a new one in a new order (see passes_impl.h).
 *
 * The IR keeps nodes in topological order and ids equal to positions, so a
 * pass that inserts a node in the middle writes a new graph: it copies the old
 * nodes one by one, adding new ones where they belong, and swaps the result
 * in. Names and config strings are copied into the new arena, since the old
 * arena is freed on commit.
 */
#include "passes_impl.h"

#include <stdlib.h>
#include <string.h>

static const char *dup_str(IrGraph *g, const char *s)
{
    return s ? ir_arena_strdup(&g->arena, s) : NULL;
}

void rebuild_begin(PassRebuild *rb, const IrGraph *old)
{
    rb->old = old;
    rb->g = ir_graph_new(old->model);
    rb->g->train = old->train;
    rb->g->train.data = dup_str(rb->g, old->train.data);
    rb->g->train.data_path = dup_str(rb->g, old->train.data_path);
    for (int i = 0; i < 4; i++)
        rb->g->train.npy[i] = dup_str(rb->g, old->train.npy[i]);
    rb->g->local = old->local;
    rb->g->local.head = dup_str(rb->g, old->local.head);
    rb->g->local.method_name = dup_str(rb->g, old->local.method_name);
    for (int k = 0; k < IR_MAX_BLOCK_HEADS; k++)
        rb->g->local.head_of[k] = dup_str(rb->g, old->local.head_of[k]);
    rb->g->n_blocks = old->n_blocks;
    ir_graph_copy_sites(rb->g, old);
    rb->map = malloc((size_t)(old->n_nodes ? old->n_nodes : 1) * sizeof *rb->map);
    IR_CHECK_ALLOC(rb->map);
    for (int i = 0; i < old->n_nodes; i++)
        rb->map[i] = -1;
}

static int remap(const PassRebuild *rb, int old_id)
{
    IR_ASSERT(old_id >= 0 && old_id < rb->old->n_nodes && rb->map[old_id] >= 0);
    return rb->map[old_id];
}

IrNode *rebuild_copy(PassRebuild *rb, const IrNode *n)
{
    int in[IR_MAX_IN];
    for (int i = 0; i < n->n_in; i++)
        in[i] = remap(rb, n->in[i]);
    IrNode *c = ir_node_add(rb->g, n->op, in, n->n_in, &n->a, n->loc);
    c->type = n->type;
    c->name = dup_str(rb->g, n->name);
    c->block = n->block;
    c->flags = n->flags;
    c->state = n->state >= 0 ? remap(rb, n->state) : -1;
    /* a gradient comes after its parameter: fixed up at commit */
    c->grad = n->grad;
    rb->map[n->id] = c->id;
    return c;
}

IrNode *pass_add_node(IrGraph *g, IrOp op, const int *in, int n_in, const IrAttrs *a,
                      int block, IrLoc loc)
{
    IrNode *n = ir_node_add(g, op, in, n_in, a, loc);
    n->block = block;
    Diag d;
    diag_init(&d);
    bool ok = ir_shape_infer(g, n, &d);
    diag_fini(&d);
    IR_ASSERT(ok);
    return n;
}

IrNode *rebuild_add(PassRebuild *rb, IrOp op, const int *in, int n_in, const IrAttrs *a,
                    int block, IrLoc loc)
{
    return pass_add_node(rb->g, op, in, n_in, a, block, loc);
}

void rebuild_commit(PassRebuild *rb, IrGraph *old)
{
    IR_ASSERT(old == rb->old);
    IrGraph *g = rb->g;
    for (int i = 0; i < g->n_nodes; i++) {
        IrNode *n = g->nodes[i];
        if (n->grad >= 0)
            n->grad = rb->map[n->grad];
    }
    g->loss = old->loss >= 0 ? remap(rb, old->loss) : -1;
    IrGraph tmp = *old;
    *old = *g;
    *g = tmp;
    ir_graph_free(g);       /* frees the old nodes array and arena */
    free(rb->map);
    rb->map = NULL;
    rb->g = NULL;
}

void rebuild_abort(PassRebuild *rb)
{
    ir_graph_free(rb->g);
    free(rb->map);
    rb->g = NULL;
    rb->map = NULL;
}

IrGraph *pass_graph_clone(const IrGraph *g)
{
    PassRebuild rb;
    rebuild_begin(&rb, g);
    for (int i = 0; i < g->n_nodes; i++)
        rebuild_copy(&rb, g->nodes[i]);
    IrGraph *c = rb.g;
    for (int i = 0; i < c->n_nodes; i++)
        if (c->nodes[i]->grad >= 0)
            c->nodes[i]->grad = rb.map[c->nodes[i]->grad];
    c->loss = g->loss;
    free(rb.map);
    return c;
}

int pass_backward_start(const IrGraph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        IrOpKind k = ir_op_info(g->nodes[i]->op)->kind;
        if (g->nodes[i]->op == IR_OP_FILL || k == IR_KIND_BWD || k == IR_KIND_OPT)
            return i;
    }
    return g->n_nodes;
}

int pass_block_output(const IrGraph *g, int block)
{
    int end = pass_backward_start(g), out = -1;
    for (int i = 0; i < end; i++) {
        const IrNode *n = g->nodes[i];
        if (n->block == block && !pass_is_source(n) && !(n->flags & IR_F_HEAD) &&
            (n->flags & IR_F_LOSS) == 0 && i != g->loss)
            out = i;
    }
    return out;
}
