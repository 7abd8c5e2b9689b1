/* fuse.c — the `fuse` pass: elementwise chains of a differentiated graph
 * become one kernel each.
 *
 * It runs after autodiff and optimizer (the training pipeline's last pass
 * before split), so the fused ops need no gradient rule. Two patterns, both
 * the activation after a layer's bias:
 *
 *   t = bias_add(x, b); y = relu(t)             ->  y = bias_relu(x, b)
 *   c = conv2d(x, w); t = bias_add(c, b) (axis 1); y = relu(t)
 *                                               ->  y = conv2d_bias_relu(x, w, b)
 *
 * The first is one loop that reads x once instead of writing t and reading it
 * back; the second adds the bias and clamps each image's output right after
 * its matrix product, while it is in cache. t (and c) disappear: their only
 * other readers may be relu_grad(dy, t), which read y instead — relu(t) > 0
 * exactly where t > 0, so the gradient is the same bit for bit. Anything else
 * reading t or c (a cut, a head, a probe) leaves the chain alone, as does a
 * chain spread over two blocks.
 *
 * Then, on the graph that made, the backward of a relu after a pooling or
 * a conv whose input x is that relu's output (fused or not):
 *
 *   a = maxpool_grad(dy, x); d = relu_grad(a, x)     ->  d = maxpool_grad_relu(dy, x)
 *   a = conv2d_grad_x(dy, w, x); d = relu_grad(a, x) ->  d = conv2d_grad_x_relu(dy, w, x)
 *
 * The mask is applied where each gradient value is written (the window's
 * maximum, each image's col2im) instead of in a pass over the whole tensor;
 * masking a sum or summing masked terms is the same here, since the mask
 * depends only on the position. a must have no other reader and be no
 * value's gradient. The interpreter runs every fused op as the unfused
 * sequence, so it stays the oracle.
 */
#include "passes_impl.h"

#include <stdlib.h>

/* Does every reader of t other than `relu` read it as relu_grad's x? */
static bool only_relu_and_grads(const IrGraph *g, int t, int relu)
{
    for (int i = t + 1; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == t && i != relu && !(n->op == IR_OP_RELU_GRAD && k == 1))
                return false;
    }
    return true;
}

static int readers(const IrGraph *g, int v)
{
    int count = 0;
    for (int i = v + 1; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_in; k++)
            count += g->nodes[i]->in[k] == v;
    return count;
}

/* The bias_add under relu r that can fuse with it, or NULL. */
static const IrNode *fusable_bias(const IrGraph *g, const IrNode *r)
{
    if (r->op != IR_OP_RELU)
        return NULL;
    const IrNode *t = g->nodes[r->in[0]];
    if (t->op != IR_OP_BIAS_ADD || t->block != r->block || t->id == g->loss ||
        !only_relu_and_grads(g, t->id, r->id))
        return NULL;
    return t;
}

/* The conv2d under bias_add t that can fuse with it, or NULL. */
static const IrNode *fusable_conv(const IrGraph *g, const IrNode *t)
{
    const IrNode *c = g->nodes[t->in[0]];
    int axis = t->a.axis;
    if (c->op != IR_OP_CONV2D || c->block != t->block || c->id == g->loss || axis != 1 ||
        readers(g, c->id) != 1)
        return NULL;
    return c;
}

/* fused[r] = the bias_add under relu r; gone[v]: v is folded into a fused op. */
static int plan(const IrGraph *g, int *fused, bool *gone)
{
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *t = fusable_bias(g, g->nodes[i]);
        fused[i] = t ? t->id : -1;
        if (!t)
            continue;
        gone[t->id] = true;
        const IrNode *c = fusable_conv(g, t);
        if (c)
            gone[c->id] = true;
        count++;
    }
    return count;
}

/* The fused node for relu r over bias_add t; t maps to it, so relu_grad
 * readers of t read it once copied. */
static void add_fused(PassRebuild *rb, const IrGraph *g, const IrNode *r, const IrNode *t)
{
    const IrNode *c = g->nodes[t->in[0]];
    IrNode *f;
    if (c->op == IR_OP_CONV2D && rb->map[c->id] < 0) {     /* the conv was folded */
        int in[3] = {rb->map[c->in[0]], rb->map[c->in[1]], rb->map[t->in[1]]};
        f = rebuild_add(rb, IR_OP_CONV2D_BIAS_RELU, in, 3, &c->a, r->block, r->loc);
    } else {
        int in[2] = {rb->map[t->in[0]], rb->map[t->in[1]]};
        f = rebuild_add(rb, IR_OP_BIAS_RELU, in, 2, &t->a, r->block, r->loc);
    }
    f->name = r->name ? ir_arena_strdup(&rb->g->arena, r->name) : NULL;
    f->flags = r->flags;
    rb->map[r->id] = f->id;
    rb->map[t->id] = f->id;
}

/* The fused backward op of relu_grad d, or IR_OP_COUNT: d's gradient
 * operand a is a maxpool_grad / conv2d_grad_x of the same x, in the same
 * block, read only by d and no value's gradient. */
static IrOp fusable_grad(const IrGraph *g, const IrNode *d)
{
    if (d->op != IR_OP_RELU_GRAD)
        return IR_OP_COUNT;
    const IrNode *a = g->nodes[d->in[0]];
    IrOp f = a->op == IR_OP_MAXPOOL_GRAD    ? IR_OP_MAXPOOL_GRAD_RELU
             : a->op == IR_OP_CONV2D_GRAD_X ? IR_OP_CONV2D_GRAD_X_RELU : IR_OP_COUNT;
    if (f == IR_OP_COUNT || a->in[ir_op_info(a->op)->x] != d->in[1] || a->block != d->block ||
        a->id == g->loss || a->flags || readers(g, a->id) != 1)
        return IR_OP_COUNT;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->grad == a->id)
            return IR_OP_COUNT;
    return f;
}

/* Second stage: relu_grad folded into the maxpool_grad / conv2d_grad_x
 * before it. The fused node takes the relu_grad's place and name. */
static void fuse_grads(IrGraph *g)
{
    int nn = g->n_nodes ? g->n_nodes : 1;
    IrOp *op = malloc((size_t)nn * sizeof *op);
    bool *gone = calloc((size_t)nn, sizeof *gone);
    IR_CHECK_ALLOC(op);
    IR_CHECK_ALLOC(gone);
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if ((op[i] = fusable_grad(g, g->nodes[i])) != IR_OP_COUNT) {
            gone[g->nodes[i]->in[0]] = true;
            count++;
        }
    if (count > 0) {
        PassRebuild rb;
        rebuild_begin(&rb, g);
        for (int i = 0; i < g->n_nodes; i++) {
            const IrNode *d = g->nodes[i];
            if (op[i] != IR_OP_COUNT) {
                const IrNode *a = g->nodes[d->in[0]];
                int in[IR_MAX_IN];
                for (int k = 0; k < a->n_in; k++)
                    in[k] = rb.map[a->in[k]];
                IrNode *f = rebuild_add(&rb, op[i], in, a->n_in, &a->a, d->block, a->loc);
                f->name = d->name ? ir_arena_strdup(&rb.g->arena, d->name) : NULL;
                f->flags = d->flags;
                rb.map[d->id] = f->id;
            } else if (!gone[i]) {
                rebuild_copy(&rb, d);
            }
        }
        rebuild_commit(&rb, g);
    }
    free(gone);
    free(op);
}

bool pass_fuse(IrGraph *g, PassCtx *ctx)
{
    (void)ctx;
    int *fused = malloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *fused);
    bool *gone = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *gone);
    IR_CHECK_ALLOC(fused);
    IR_CHECK_ALLOC(gone);
    if (plan(g, fused, gone) > 0) {
        PassRebuild rb;
        rebuild_begin(&rb, g);
        for (int i = 0; i < g->n_nodes; i++) {
            if (fused[i] >= 0)
                add_fused(&rb, g, g->nodes[i], g->nodes[fused[i]]);
            else if (!gone[i])
                rebuild_copy(&rb, g->nodes[i]);
        }
        rebuild_commit(&rb, g);
    }
    free(gone);
    free(fused);
    fuse_grads(g);
    return true;
}
