/* shape.c — the shape rule of every op.
 *
 * ir_shape_infer computes a node's type from its operands and attributes. The
 * switch has no default, so -Wswitch flags an op added to ops.def without a
 * rule. Errors name the op and print both shapes, at the node's location.
 */
#include "ir.h"

#include <string.h>

typedef struct {
    const IrGraph *g;
    IrNode *n;
    Diag *d;
} Ctx;

static const IrType *operand(const Ctx *c, int i)
{
    return &c->g->nodes[c->n->in[i]]->type;
}

static bool fail(const Ctx *c, const char *what)
{
    diag_error(c->d, c->n->loc, "%s in %s", what, ir_op_info(c->n->op)->name);
    return false;
}

static bool fail2(const Ctx *c, const char *what, const IrType *a, const IrType *b)
{
    char sa[96], sb[96];
    ir_type_str(a, sa, sizeof sa);
    ir_type_str(b, sb, sizeof sb);
    diag_error(c->d, c->n->loc, "%s in %s: %s vs %s", what,
               ir_op_info(c->n->op)->name, sa, sb);
    return false;
}

static bool fail1(const Ctx *c, const char *what, const IrType *a)
{
    char sa[96];
    ir_type_str(a, sa, sizeof sa);
    diag_error(c->d, c->n->loc, "%s in %s: got %s", what, ir_op_info(c->n->op)->name, sa);
    return false;
}

static bool need_f32(const Ctx *c, const IrType *t)
{
    return t->dtype == IR_F32 || fail1(c, "expected an f32 tensor", t);
}

/* Copies t, replacing its last dimension by last. */
static IrType with_last(const IrType *t, int64_t last)
{
    IrType r = *t;
    r.dim[r.rank - 1] = last;
    return r;
}

static IrType scalar_f32(void) { return (IrType){.dtype = IR_F32, .rank = 0}; }

/* matmul(x[N,..,I], w[I,O]) -> [N,..,O] */
static bool rule_matmul(Ctx *c)
{
    const IrType *x = operand(c, 0), *w = operand(c, 1);
    if (!need_f32(c, x) || !need_f32(c, w))
        return false;
    if (x->rank < 1 || w->rank != 2 || ir_type_batched(w) || x->dim[x->rank - 1] != w->dim[0])
        return fail2(c, "shape mismatch", x, w);
    c->n->type = with_last(x, w->dim[1]);
    return true;
}

/* bias_add(x, b[C]) along the last dim (axis -1) or the NCHW channel (axis 1) */
static bool rule_bias_add(Ctx *c)
{
    const IrType *x = operand(c, 0), *b = operand(c, 1);
    int axis = c->n->a.axis < 0 ? x->rank - 1 : c->n->a.axis;
    if (!need_f32(c, x) || axis < 0 || axis >= x->rank || b->rank != 1 ||
        b->dim[0] != x->dim[axis])
        return fail2(c, "shape mismatch", x, b);
    c->n->type = *x;
    return true;
}

/* add/sub/mul/div: equal shapes, or b unbatched and equal to a's trailing dims */
static bool rule_binary(Ctx *c)
{
    const IrType *a = operand(c, 0), *b = operand(c, 1);
    if (!need_f32(c, a) || !need_f32(c, b))
        return false;
    bool ok = ir_type_equal(a, b);
    if (!ok && ir_type_batched(a) && !ir_type_batched(b) && b->rank == a->rank - 1)
        ok = memcmp(a->dim + 1, b->dim, (size_t)b->rank * sizeof b->dim[0]) == 0;
    if (!ok)
        return fail2(c, "shape mismatch", a, b);
    c->n->type = *a;
    return true;
}

static bool rule_same(Ctx *c)
{
    const IrType *x = operand(c, 0);
    if (!need_f32(c, x))
        return false;
    c->n->type = *x;
    return true;
}

static bool rule_lastdim(Ctx *c)
{
    const IrType *x = operand(c, 0);
    if (!need_f32(c, x))
        return false;
    if (x->rank < 1)
        return fail1(c, "expected a tensor with at least one dimension", x);
    c->n->type = *x;
    return true;
}

static bool need_nchw(const Ctx *c, const IrType *x)
{
    if (x->rank != 4 || !ir_type_batched(x))
        return fail1(c, "expected a [N,C,H,W] tensor", x);
    return need_f32(c, x);
}

/* Output size of a window of k with stride s and padding p over n. */
static int64_t window_out(int64_t n, int k, int s, int p)
{
    return (n + 2 * p - k) / s + 1;
}

/* conv2d(x[N,C,H,W], w[O,C,K,K]) stride padding -> [N,O,H',W'] */
static bool rule_conv2d(Ctx *c)
{
    const IrType *x = operand(c, 0), *w = operand(c, 1);
    const IrAttrs *a = &c->n->a;
    if (!need_nchw(c, x))
        return false;
    if (w->rank != 4 || w->dim[1] != x->dim[1] || w->dim[2] != w->dim[3])
        return fail2(c, "shape mismatch", x, w);
    int k = (int)w->dim[2];
    if (a->stride < 1 || a->padding < 0)
        return fail(c, "stride must be >= 1 and padding >= 0");
    if (x->dim[2] + 2 * a->padding < k || x->dim[3] + 2 * a->padding < k)
        return fail2(c, "kernel larger than the padded input", x, w);
    IrType r = *x;
    r.dim[1] = w->dim[0];
    r.dim[2] = window_out(x->dim[2], k, a->stride, a->padding);
    r.dim[3] = window_out(x->dim[3], k, a->stride, a->padding);
    c->n->type = r;
    return true;
}

/* conv2d_bias_relu(x, w, b[O]): conv2d's shape, b one per output channel */
static bool rule_conv2d_bias(Ctx *c)
{
    if (!rule_conv2d(c))
        return false;
    const IrType *b = operand(c, 2);
    if (b->rank != 1 || b->dim[0] != c->n->type.dim[1])
        return fail2(c, "shape mismatch", &c->n->type, b);
    return true;
}

/* matmul_bias(x, w, b[O] [, r]): matmul's shape, r of that shape */
static bool rule_matmul_bias(Ctx *c)
{
    if (!rule_matmul(c))
        return false;
    const IrType *y = &c->n->type, *b = operand(c, 2);
    if (b->rank != 1 || b->dim[0] != y->dim[y->rank - 1])
        return fail2(c, "shape mismatch", y, b);
    if (c->n->n_in == 4 && !ir_type_equal(operand(c, 3), y))
        return fail2(c, "shape mismatch", y, operand(c, 3));
    return true;
}

/* maxpool/avgpool(x[N,C,H,W]) kernel stride, no padding */
static bool rule_pool(Ctx *c)
{
    const IrType *x = operand(c, 0);
    const IrAttrs *a = &c->n->a;
    if (!need_nchw(c, x))
        return false;
    if (a->kernel < 1 || a->stride < 1)
        return fail(c, "kernel and stride must be >= 1");
    if (x->dim[2] < a->kernel || x->dim[3] < a->kernel)
        return fail1(c, "pooling window larger than the input", x);
    IrType r = *x;
    r.dim[2] = window_out(x->dim[2], a->kernel, a->stride, 0);
    r.dim[3] = window_out(x->dim[3], a->kernel, a->stride, 0);
    c->n->type = r;
    return true;
}

static bool rule_global_avg_pool(Ctx *c)
{
    const IrType *x = operand(c, 0);
    if (!need_nchw(c, x))
        return false;
    IrType r = *x;
    r.rank = 2;
    c->n->type = r;
    return true;
}

static bool rule_flatten(Ctx *c)
{
    const IrType *x = operand(c, 0);
    if (!ir_type_batched(x))
        return fail1(c, "expected a batched tensor", x);
    IrType r = {.dtype = x->dtype, .rank = 2, .dim = {IR_DIM_N, ir_type_numel(x)}};
    c->n->type = r;
    return true;
}

/* reshape(x) to [N, shape...]; the element count per example must match */
static bool rule_reshape(Ctx *c)
{
    const IrType *x = operand(c, 0);
    const IrAttrs *a = &c->n->a;
    if (!ir_type_batched(x))
        return fail1(c, "expected a batched tensor", x);
    if (a->rank < 1 || a->rank >= IR_MAX_DIMS)
        return fail(c, "bad target rank");
    IrType r = {.dtype = x->dtype, .rank = a->rank + 1, .dim = {IR_DIM_N}};
    int64_t n = 1;
    for (int i = 0; i < a->rank; i++) {
        if (a->shape[i] < 1)
            return fail(c, "target dimensions must be positive");
        r.dim[i + 1] = a->shape[i];
        n *= a->shape[i];
    }
    if (n != ir_type_numel(x))
        return fail2(c, "element count mismatch", x, &r);
    c->n->type = r;
    return true;
}

/* transpose(x) with perm over the non-batch axes */
static bool rule_transpose(Ctx *c)
{
    const IrType *x = operand(c, 0);
    const int *perm = c->n->a.perm;
    int r = x->rank - 1;
    if (!ir_type_batched(x) || r < 1)
        return fail1(c, "expected a batched tensor", x);
    unsigned seen = 0;
    IrType t = *x;
    for (int i = 0; i < r; i++) {
        if (perm[i] < 0 || perm[i] >= r || (seen >> perm[i] & 1))
            return fail(c, "perm is not a permutation of the non-batch axes");
        seen |= 1u << perm[i];
        t.dim[i + 1] = x->dim[perm[i] + 1];
    }
    c->n->type = t;
    return true;
}

/* layernorm(x[..,D], g[D], b[D]) */
static bool rule_layernorm(Ctx *c)
{
    const IrType *x = operand(c, 0), *gm = operand(c, 1), *b = operand(c, 2);
    if (!need_f32(c, x) || x->rank < 1)
        return false;
    int64_t dd = x->dim[x->rank - 1];
    if (gm->rank != 1 || gm->dim[0] != dd)
        return fail2(c, "shape mismatch", x, gm);
    if (b->rank != 1 || b->dim[0] != dd)
        return fail2(c, "shape mismatch", x, b);
    c->n->type = *x;
    return true;
}

/* batchnorm(x[N,C,..], g[C], b[C], mean[C], var[C]): channels on axis 1 */
static bool rule_batchnorm(Ctx *c)
{
    const IrType *x = operand(c, 0);
    if (!need_f32(c, x))
        return false;
    if (!ir_type_batched(x) || x->rank < 2 || x->rank > 4)
        return fail1(c, "expected [N,C], [N,C,L] or [N,C,H,W]", x);
    for (int k = 1; k < 5; k++) {
        const IrType *p = operand(c, k);
        if (p->rank != 1 || p->dim[0] != x->dim[1])
            return fail2(c, "shape mismatch", x, p);
    }
    c->n->type = *x;
    return true;
}

/* embedding(ids[N,..] i32, table[V,D]) -> [N,..,D] */
static bool rule_embedding(Ctx *c)
{
    const IrType *ids = operand(c, 0), *t = operand(c, 1);
    if (ids->dtype != IR_I32 || !ir_type_batched(ids))
        return fail1(c, "expected batched i32 ids", ids);
    if (t->rank != 2 || t->dtype != IR_F32 || ids->rank >= IR_MAX_DIMS)
        return fail2(c, "shape mismatch", ids, t);
    IrType r = *ids;
    r.dtype = IR_F32;
    r.dim[r.rank++] = t->dim[1];
    c->n->type = r;
    return true;
}

/* causal_attention(q, k, v [N,T,D]) heads -> [N,T,D] */
static bool rule_attention(Ctx *c)
{
    const IrType *q = operand(c, 0);
    for (int i = 1; i < 3; i++)
        if (!ir_type_equal(q, operand(c, i)))
            return fail2(c, "shape mismatch", q, operand(c, i));
    if (!need_f32(c, q) || q->rank != 3 || !ir_type_batched(q))
        return fail1(c, "expected a [N,T,D] tensor", q);
    if (c->n->a.heads < 1 || q->dim[2] % c->n->a.heads != 0)
        return fail1(c, "heads must divide the model width", q);
    c->n->type = *q;
    return true;
}

/* cross_entropy(logits[N,..,C] f32, labels[N,..] i32) -> scalar */
static bool rule_cross_entropy(Ctx *c)
{
    const IrType *x = operand(c, 0), *y = operand(c, 1);
    bool ok = x->dtype == IR_F32 && y->dtype == IR_I32 && ir_type_batched(x) &&
              x->rank == y->rank + 1 &&
              memcmp(x->dim, y->dim, (size_t)y->rank * sizeof x->dim[0]) == 0;
    if (!ok)
        return fail2(c, "shape mismatch between logits and labels", x, y);
    c->n->type = scalar_f32();
    return true;
}

static bool rule_mse(Ctx *c)
{
    const IrType *x = operand(c, 0), *y = operand(c, 1);
    if (!need_f32(c, x) || !ir_type_equal(x, y))
        return fail2(c, "shape mismatch", x, y);
    c->n->type = scalar_f32();
    return true;
}


/* Backward ops take the type of the operand they are the gradient of. */
static bool same_as(Ctx *c, int k)
{
    c->n->type = *operand(c, k);
    c->n->type.dtype = IR_F32;
    return true;
}

static bool rule_reduce_batch(Ctx *c)
{
    const IrType *x = operand(c, 0);
    if (!ir_type_batched(x))
        return fail1(c, "expected a batched tensor", x);
    IrType r = *x;
    for (int i = 1; i < x->rank; i++)
        r.dim[i - 1] = x->dim[i];
    r.rank--;
    c->n->type = r;
    return true;
}

static bool rule_slice_last(Ctx *c)
{
    const IrType *x = operand(c, 0);
    const IrAttrs *a = &c->n->a;
    if (x->rank < 1 || a->start < 0 || a->len < 1 || a->start + a->len > x->dim[x->rank - 1])
        return fail1(c, "slice out of range", x);
    c->n->type = with_last(x, a->len);
    return true;
}

static bool rule_bias_grad(Ctx *c)
{
    const IrType *dy = operand(c, 0);
    int axis = c->n->a.axis < 0 ? dy->rank - 1 : c->n->a.axis;
    if (axis < 0 || axis >= dy->rank)
        return fail1(c, "bad axis", dy);
    c->n->type = (IrType){.dtype = IR_F32, .rank = 1, .dim = {dy->dim[axis]}};
    return true;
}

static bool rule_attention_grad(Ctx *c)
{
    c->n->type = with_last(operand(c, 1), 3 * operand(c, 1)->dim[2]);
    return true;
}

static bool rule_layernorm_grad_g(Ctx *c)
{
    const IrType *x = operand(c, 1);
    c->n->type = (IrType){.dtype = IR_F32, .rank = 1, .dim = {x->dim[x->rank - 1]}};
    return true;
}

static bool rule_batchnorm_grad_g(Ctx *c)
{
    c->n->type = (IrType){.dtype = IR_F32, .rank = 1, .dim = {operand(c, 1)->dim[1]}};
    return true;
}

/* matmul_grad_x(dy[N,..,O], w[I,O]) -> [N,..,I] */
static bool rule_matmul_grad_x(Ctx *c)
{
    c->n->type = with_last(operand(c, 0), operand(c, 1)->dim[0]);
    return true;
}

/* matmul_grad_w(x[N,..,I], dy[N,..,O]) -> [I,O] */
static bool rule_matmul_grad_w(Ctx *c)
{
    const IrType *x = operand(c, 0), *dy = operand(c, 1);
    c->n->type = (IrType){.dtype = IR_F32, .rank = 2,
                          .dim = {x->dim[x->rank - 1], dy->dim[dy->rank - 1]}};
    return true;
}

static bool rule_scalar(Ctx *c)
{
    c->n->type = scalar_f32();
    return true;
}

bool ir_shape_infer(const IrGraph *g, IrNode *n, Diag *d)
{
    Ctx c = {g, n, d};
    const IrOpInfo *info = ir_op_info(n->op);
    if (n->n_in < info->min_in || n->n_in > info->max_in)
        return fail(&c, "wrong number of operands");
    switch (n->op) {
    case IR_OP_INPUT:
    case IR_OP_LABEL:
    case IR_OP_PARAM:
        return true;        /* declared by their creator */
    case IR_OP_MATMUL:          return rule_matmul(&c);
    case IR_OP_BIAS_ADD:
    case IR_OP_BIAS_RELU:       return rule_bias_add(&c);
    case IR_OP_ADD:
    case IR_OP_SUB:
    case IR_OP_MUL:
    case IR_OP_DIV:             return rule_binary(&c);
    case IR_OP_ADD_SCALAR:
    case IR_OP_MUL_SCALAR:
    case IR_OP_RELU:
    case IR_OP_LEAKY_RELU:
    case IR_OP_GELU:
    case IR_OP_TANH:
    case IR_OP_SIGMOID:
    case IR_OP_DROPOUT:
    case IR_OP_STOP_GRADIENT:   return rule_same(&c);
    case IR_OP_SOFTMAX:
    case IR_OP_LOG_SOFTMAX:     return rule_lastdim(&c);
    case IR_OP_CONV2D:          return rule_conv2d(&c);
    case IR_OP_CONV2D_BIAS_RELU: return rule_conv2d_bias(&c);
    case IR_OP_MATMUL_BIAS:     return rule_matmul_bias(&c);
    case IR_OP_MAXPOOL:
    case IR_OP_AVGPOOL:         return rule_pool(&c);
    case IR_OP_GLOBAL_AVG_POOL: return rule_global_avg_pool(&c);
    case IR_OP_FLATTEN:         return rule_flatten(&c);
    case IR_OP_RESHAPE:         return rule_reshape(&c);
    case IR_OP_TRANSPOSE:       return rule_transpose(&c);
    case IR_OP_LAYERNORM:       return rule_layernorm(&c);
    case IR_OP_BATCHNORM:       return rule_batchnorm(&c);
    case IR_OP_EMBEDDING:       return rule_embedding(&c);
    case IR_OP_CAUSAL_ATTENTION: return rule_attention(&c);
    case IR_OP_CROSS_ENTROPY:   return rule_cross_entropy(&c);
    case IR_OP_MSE:             return rule_mse(&c);
    case IR_OP_FILL:
    case IR_OP_SUMSQ:
    case IR_OP_CLIP_FACTOR:
    case IR_OP_SGD_UPDATE:
    case IR_OP_ADAM_UPDATE:     return rule_scalar(&c);
    case IR_OP_STATE:           return true;    /* declared by the optimizer pass */
    case IR_OP_REDUCE_BATCH:    return rule_reduce_batch(&c);
    case IR_OP_SLICE_LAST:      return rule_slice_last(&c);
    case IR_OP_BIAS_GRAD:       return rule_bias_grad(&c);
    case IR_OP_ATTENTION_GRAD:  return rule_attention_grad(&c);
    case IR_OP_LAYERNORM_GRAD_G: return rule_layernorm_grad_g(&c);
    case IR_OP_BATCHNORM_GRAD_G: return rule_batchnorm_grad_g(&c);
    case IR_OP_RELU_GRAD:
    case IR_OP_LEAKY_RELU_GRAD:
    case IR_OP_GELU_GRAD:
    case IR_OP_GELU_GRAD_Y:
    case IR_OP_TANH_GRAD:
    case IR_OP_SIGMOID_GRAD:
    case IR_OP_SOFTMAX_GRAD:
    case IR_OP_LOG_SOFTMAX_GRAD:
    case IR_OP_DROPOUT_GRAD:
                                return same_as(&c, 0);
    case IR_OP_DIV_GRAD_B:
    case IR_OP_LAYERNORM_GRAD_X:
    case IR_OP_LAYERNORM_GRAD_X_ADD:
    case IR_OP_BATCHNORM_GRAD_X:
    case IR_OP_MAXPOOL_GRAD:
    case IR_OP_MAXPOOL_GRAD_RELU:
    case IR_OP_AVGPOOL_GRAD:
    case IR_OP_GLOBAL_AVG_POOL_GRAD:
    case IR_OP_RESHAPE_LIKE:
    case IR_OP_CROSS_ENTROPY_GRAD:
    case IR_OP_MSE_GRAD:        return same_as(&c, 1);
    case IR_OP_MATMUL_GRAD_X:   return rule_matmul_grad_x(&c);
    case IR_OP_MATMUL_GRAD_W:   return rule_matmul_grad_w(&c);
    case IR_OP_CONV2D_GRAD_X:
    case IR_OP_CONV2D_GRAD_X_RELU:
    case IR_OP_CONV2D_GRAD_W:
    case IR_OP_EMBEDDING_GRAD:  return same_as(&c, 2);
    case IR_OP_COUNT:           break;
    }
    IR_ASSERT(!"unknown op");
    return false;
}
