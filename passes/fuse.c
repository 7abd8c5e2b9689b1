/* fuse.c — the `fuse` pass: elementwise chains of a differentiated graph
 * become one kernel each.
 *
 * It runs after autodiff and optimizer (the training pipeline's last pass
 * before split), so the fused ops need no gradient rule. Two patterns fold
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
 * A third folds a dense layer's bias, and the residual added to it, into the
 * matrix product (where no relu took the bias first):
 *
 *   m = matmul(x, w); t = bias_add(m, b); [y = add(r, t)]
 *                                   ->  t (or y) = matmul_bias(x, w, b [, r])
 *
 * The kernel writes b (+ r) into the output and sgemm adds the product into
 * it, so the bias and the residual need no pass of their own. m may have no
 * other reader (the matmul's gradients read x and w, never m), and the add
 * joins in only when it is t's one reader and r has t's shape. Unlike the
 * relu patterns this one changes roundings: the product is added to b + r in
 * one rounding (sgemm's own, per block of the inner dimension) instead of
 * being rounded, then added to b, then to r.
 *
 * A fourth gives GELU's gradient the forward value:
 *
 *   y = gelu(x); ... dx = gelu_grad(dy, x)  ->  dx = gelu_grad_y(dy, x, y)
 *
 * Φ(x) = y / x, so the kernel computes φ's exponential but no erf (y is
 * alive there anyway: the next layer's weight gradient reads it). And a
 * fifth adds the residual stream's gradient as LayerNorm's input gradient
 * is stored:
 *
 *   l = layernorm_grad_x(dy, x, g); s = add(a, l)
 *                                   ->  s = layernorm_grad_x_add(dy, x, g, a)
 *
 * when the add is l's only reader and a has l's shape (the same float add,
 * so the same numbers).
 *
 * Last, on the graph that made, the backward of a relu after a pooling or
 * a conv whose input x is that relu's output (fused or not):
 *
 *   a = maxpool_grad(dy, x); d = relu_grad(a, x)     ->  d = maxpool_grad_relu(dy, x)
 *   a = conv2d_grad_x(dy, w, x); d = relu_grad(a, x) ->  d = conv2d_grad_x_relu(dy, w, x)
 *
 * The mask is applied where each gradient value is written (the window's
 * maximum, each image's col2im) instead of in a pass over the whole tensor;
 * masking a sum or summing masked terms is the same here, since the mask
 * depends only on the position. a must have no other reader and be no
 * value's gradient.
 *
 * The interpreter runs a fused op as the unfused sequence, so it stays the
 * oracle.
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

/* The matmul under bias_add t that matmul_bias can take in, or NULL. */
static const IrNode *foldable_matmul(const IrGraph *g, const IrNode *t, const bool *gone)
{
    if (t->op != IR_OP_BIAS_ADD || gone[t->id] || t->id == g->loss ||
        (t->a.axis >= 0 && t->a.axis != t->type.rank - 1))
        return NULL;
    const IrNode *m = g->nodes[t->in[0]];
    if (m->op != IR_OP_MATMUL || m->block != t->block || m->id == g->loss ||
        readers(g, m->id) != 1)
        return NULL;
    return m;
}

/* The add that is t's only reader, in t's block, adding a residual of t's
 * shape, and not yet taken by another chain (at[a] < 0); or NULL. */
static const IrNode *foldable_residual(const IrGraph *g, const IrNode *t, const int *at)
{
    if (readers(g, t->id) != 1)
        return NULL;
    for (int i = t->id + 1; i < g->n_nodes; i++) {
        const IrNode *a = g->nodes[i];
        if (a->op != IR_OP_ADD || (a->in[0] != t->id && a->in[1] != t->id))
            continue;
        int r = a->in[0] == t->id ? a->in[1] : a->in[0];
        bool ok = a->block == t->block && at[a->id] < 0 && a->id != g->loss &&
                  ir_type_equal(&g->nodes[r]->type, &t->type);
        return ok ? a : NULL;
    }
    return NULL;
}

/* at[v] = the bias_add whose matmul_bias node v becomes (v is the bias_add,
 * or the add of a residual); the matmul and a folded bias_add are gone. */
static int plan_matmul_bias(const IrGraph *g, int *at, bool *gone)
{
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *t = g->nodes[i];
        const IrNode *m = foldable_matmul(g, t, gone);
        if (!m)
            continue;
        const IrNode *a = foldable_residual(g, t, at);
        gone[m->id] = true;
        if (a)
            gone[t->id] = true;
        at[a ? a->id : t->id] = t->id;
        count++;
    }
    return count;
}

/* The matmul_bias node that takes the place of v, bias_add t's chain. */
static void add_matmul_bias(PassRebuild *rb, const IrGraph *g, const IrNode *v, const IrNode *t)
{
    const IrNode *m = g->nodes[t->in[0]];
    int in[4] = {rb->map[m->in[0]], rb->map[m->in[1]], rb->map[t->in[1]], -1};
    if (v != t)
        in[3] = rb->map[v->in[0] == t->id ? v->in[1] : v->in[0]];
    IrAttrs none = {0};
    IrNode *f = rebuild_add(rb, IR_OP_MATMUL_BIAS, in, v != t ? 4 : 3, &none, v->block, v->loc);
    f->name = v->name ? ir_arena_strdup(&rb->g->arena, v->name) : NULL;
    f->flags = v->flags;
    rb->map[v->id] = f->id;
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

/* gelu_of[d] = the gelu(x) in d's block before it, for each gelu_grad(dy, x) d. */
static int plan_gelu_grad(const IrGraph *g, int *gelu_of)
{
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *d = g->nodes[i];
        if (d->op != IR_OP_GELU_GRAD)
            continue;
        for (int j = 0; j < i; j++) {
            const IrNode *y = g->nodes[j];
            if (y->op == IR_OP_GELU && y->in[0] == d->in[1] && y->block == d->block) {
                gelu_of[i] = j;
                count++;
                break;
            }
        }
    }
    return count;
}

static void add_gelu_grad(PassRebuild *rb, const IrNode *d, int y)
{
    int in[3] = {rb->map[d->in[0]], rb->map[d->in[1]], rb->map[y]};
    IrNode *f = rebuild_add(rb, IR_OP_GELU_GRAD_Y, in, 3, &d->a, d->block, d->loc);
    f->name = d->name ? ir_arena_strdup(&rb->g->arena, d->name) : NULL;
    f->flags = d->flags;
    rb->map[d->id] = f->id;
}

/* The layernorm_grad_x that add s can take in (its only reader, in its
 * block, the other operand of its shape), or NULL. */
static const IrNode *foldable_ln_grad(const IrGraph *g, const IrNode *s, const int *at)
{
    if (s->op != IR_OP_ADD || at[s->id] >= 0 || s->in[0] == s->in[1])
        return NULL;
    for (int k = 0; k < 2; k++) {
        const IrNode *l = g->nodes[s->in[k]], *a = g->nodes[s->in[1 - k]];
        if (l->op == IR_OP_LAYERNORM_GRAD_X && l->block == s->block && l->id != g->loss &&
            readers(g, l->id) == 1 && ir_type_equal(&a->type, &l->type))
            return l;
    }
    return NULL;
}

/* ln_of[s] = the layernorm_grad_x add s takes in; it is gone. */
static int plan_ln_grad(const IrGraph *g, const int *at, int *ln_of, bool *gone)
{
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *l = foldable_ln_grad(g, g->nodes[i], at);
        if (!l)
            continue;
        ln_of[i] = l->id;
        gone[l->id] = true;
        count++;
    }
    return count;
}

static void add_ln_grad(PassRebuild *rb, const IrNode *s, const IrNode *l)
{
    int a = s->in[0] == l->id ? s->in[1] : s->in[0];
    int in[4] = {rb->map[l->in[0]], rb->map[l->in[1]], rb->map[l->in[2]], rb->map[a]};
    IrNode *f = rebuild_add(rb, IR_OP_LAYERNORM_GRAD_X_ADD, in, 4, &l->a, s->block, s->loc);
    f->name = s->name ? ir_arena_strdup(&rb->g->arena, s->name) : NULL;
    f->flags = s->flags;
    rb->map[s->id] = f->id;
}

static int *minus_ones(size_t n)
{
    int *a = malloc(n * sizeof *a);
    IR_CHECK_ALLOC(a);
    for (size_t i = 0; i < n; i++)
        a[i] = -1;
    return a;
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
    size_t cap = (size_t)(g->n_nodes ? g->n_nodes : 1);
    int *fused = minus_ones(cap), *at = minus_ones(cap), *gelu_of = minus_ones(cap);
    int *ln_of = minus_ones(cap);
    bool *gone = calloc(cap, sizeof *gone);
    IR_CHECK_ALLOC(gone);
    int count = plan(g, fused, gone);
    count += plan_matmul_bias(g, at, gone);
    count += plan_ln_grad(g, at, ln_of, gone);
    if (count + plan_gelu_grad(g, gelu_of) > 0) {
        PassRebuild rb;
        rebuild_begin(&rb, g);
        for (int i = 0; i < g->n_nodes; i++) {
            if (fused[i] >= 0)
                add_fused(&rb, g, g->nodes[i], g->nodes[fused[i]]);
            else if (at[i] >= 0)
                add_matmul_bias(&rb, g, g->nodes[i], g->nodes[at[i]]);
            else if (gelu_of[i] >= 0)
                add_gelu_grad(&rb, g->nodes[i], gelu_of[i]);
            else if (ln_of[i] >= 0)
                add_ln_grad(&rb, g->nodes[i], g->nodes[ln_of[i]]);
            else if (!gone[i])
                rebuild_copy(&rb, g->nodes[i]);
        }
        rebuild_commit(&rb, g);
    }
    free(gone);
    free(ln_of);
    free(gelu_of);
    free(at);
    free(fused);
    fuse_grads(g);
    return true;
}
