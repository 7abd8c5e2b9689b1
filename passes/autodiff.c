/* autodiff.c — reverse-mode differentiation over the IR.
 *
 * Seeds every loss (g->loss and the nodes flagged IR_F_LOSS, e.g. auxiliary
 * heads) with d/dloss = 1 and walks the forward nodes backwards, emitting the
 * ordinary IR ops that compute each operand's gradient. So one pass computes
 * the gradient of Σ_k loss_k, which (docs/method.md §3) is exactly what local
 * training needs once stop_gradient cuts the graph at block inputs.
 *
 * - Gradients that meet at a value are summed with `add`.
 * - Only values that depend on a parameter get gradients, and only through
 *   the operands the grad column of ir/ops.def names; `stop_gradient` (grad
 *   0) ends the flow. An op with a grad bit but no rule here is an internal
 *   error, never a silent zero gradient.
 * - Every emitted node inherits the block and source location of the forward
 *   node it differentiates, so split and diagnostics keep working.
 * - Afterwards each parameter's `grad` field names its gradient node.
 * - Pipeline stages (passes/stages.c): an input flagged IR_F_GRAD_SEED seeds
 *   the value its `grad` names with its contents (the gradient the next stage
 *   sends back), and an input flagged IR_F_WANT_GRAD gets a gradient like a
 *   parameter (what this stage sends back), named by its `grad`.
 */
#include "passes.h"

#include <stdlib.h>

typedef struct {
    IrGraph *g;
    int *grad;          /* per forward node: gradient node id, -1 if none */
    bool *needs;        /* per forward node: depends on a parameter */
    int n_fwd;
} Ad;

/* Appends a node whose operands are valid by construction. */
static int emit(Ad *ad, IrOp op, const int *in, int n_in, const IrAttrs *a, const IrNode *from)
{
    IrNode *n = ir_node_add(ad->g, op, in, n_in, a, from->loc);
    n->block = from->block;
    n->flags = from->flags & IR_F_HEAD;
    Diag d;
    diag_init(&d);
    bool ok = ir_shape_infer(ad->g, n, &d);
    diag_fini(&d);
    IR_ASSERT(ok);
    return n->id;
}

static int emit1(Ad *ad, IrOp op, int a0, const IrNode *from)
{
    return emit(ad, op, &a0, 1, NULL, from);
}

static int emit2(Ad *ad, IrOp op, int a0, int a1, const IrNode *from)
{
    int in[2] = {a0, a1};
    return emit(ad, op, in, 2, NULL, from);
}

static int emit3(Ad *ad, IrOp op, int a0, int a1, int a2, const IrNode *from)
{
    int in[3] = {a0, a1, a2};
    return emit(ad, op, in, 3, &from->a, from);
}

/* Adds gradient contribution gid to value v, summing with what is there. */
static void acc(Ad *ad, int v, int gid, const IrNode *from)
{
    if (!ad->needs[v])
        return;
    if (ad->grad[v] < 0) {
        ad->grad[v] = gid;
        return;
    }
    IrNode *recv = ad->g->nodes[v];
    int sum = emit2(ad, IR_OP_ADD, ad->grad[v], gid, from);
    ad->g->nodes[sum]->block = recv->block;
    ad->grad[v] = sum;
}

/* Gradient of the broadcast operand of an IR_P_BCAST op: summed over the
 * batch when that operand is unbatched. */
static void acc_bcast(Ad *ad, const IrNode *n, int gid)
{
    const IrNode *b = ad->g->nodes[n->in[ir_op_bcast_operand(n->op)]];
    if (!ir_type_batched(&b->type) && ir_type_batched(&n->type))
        gid = emit1(ad, IR_OP_REDUCE_BATCH, gid, n);
    acc(ad, b->id, gid, n);
}

static int scaled(Ad *ad, int gid, float s, const IrNode *from)
{
    IrAttrs a = {.scalar = s};
    return emit(ad, IR_OP_MUL_SCALAR, &gid, 1, &a, from);
}

static bool need(const Ad *ad, const IrNode *n, int k) { return ad->needs[n->in[k]]; }

static void grad_attention(Ad *ad, const IrNode *n, int dy)
{
    int in[4] = {dy, n->in[0], n->in[1], n->in[2]};
    int G = emit(ad, IR_OP_ATTENTION_GRAD, in, 4, &n->a, n);
    int d = (int)n->type.dim[2];
    for (int k = 0; k < 3; k++) {
        if (!need(ad, n, k))
            continue;
        IrAttrs a = {.start = k * d, .len = d};
        acc(ad, n->in[k], emit(ad, IR_OP_SLICE_LAST, &G, 1, &a, n), n);
    }
}

static void grad_transpose(Ad *ad, const IrNode *n, int dy)
{
    IrAttrs a = n->a;
    int r = n->type.rank - 1;
    for (int i = 0; i < r; i++)
        a.perm[n->a.perm[i]] = i;
    acc(ad, n->in[0], emit(ad, IR_OP_TRANSPOSE, &dy, 1, &a, n), n);
}

static void grad_layernorm(Ad *ad, const IrNode *n, int dy)
{
    int x = n->in[0], g = n->in[1];
    if (need(ad, n, 0))
        acc(ad, x, emit3(ad, IR_OP_LAYERNORM_GRAD_X, dy, x, g, n), n);
    if (need(ad, n, 1)) {
        int in[2] = {dy, x};
        acc(ad, g, emit(ad, IR_OP_LAYERNORM_GRAD_G, in, 2, &n->a, n), n);
    }
    if (need(ad, n, 2)) {
        IrAttrs a = {.axis = -1};
        acc(ad, n->in[2], emit(ad, IR_OP_BIAS_GRAD, &dy, 1, &a, n), n);
    }
}

/* batchnorm(x, g, b, mean, var): the running statistics get no gradient */
static void grad_batchnorm(Ad *ad, const IrNode *n, int dy)
{
    int x = n->in[0], g = n->in[1];
    if (need(ad, n, 0))
        acc(ad, x, emit3(ad, IR_OP_BATCHNORM_GRAD_X, dy, x, g, n), n);
    if (need(ad, n, 1)) {
        int in[2] = {dy, x};
        acc(ad, g, emit(ad, IR_OP_BATCHNORM_GRAD_G, in, 2, &n->a, n), n);
    }
    if (need(ad, n, 2)) {
        IrAttrs a = {.axis = 1};
        acc(ad, n->in[2], emit(ad, IR_OP_BIAS_GRAD, &dy, 1, &a, n), n);
    }
}

/* Emits the operand gradients of node n, whose gradient is dy. One case per
 * op of ir/ops.def and no default, so -Wswitch names an op a new row forgot;
 * false when n's op has no rule although its grad column says it has
 * differentiable operands (the caller reports it). */
static bool grad_node(Ad *ad, IrNode *n, int dy)
{
    int x = n->n_in > 0 ? n->in[0] : -1;
    int in1 = n->n_in > 1 ? n->in[1] : -1;
    switch (n->op) {
    case IR_OP_MATMUL:
        if (need(ad, n, 0))
            acc(ad, x, emit2(ad, IR_OP_MATMUL_GRAD_X, dy, in1, n), n);
        if (need(ad, n, 1))
            acc(ad, in1, emit2(ad, IR_OP_MATMUL_GRAD_W, x, dy, n), n);
        return true;
    case IR_OP_BIAS_ADD:
        acc(ad, x, dy, n);
        if (need(ad, n, 1))
            acc(ad, in1, emit(ad, IR_OP_BIAS_GRAD, &dy, 1, &n->a, n), n);
        return true;
    case IR_OP_ADD:
        acc(ad, x, dy, n);
        if (need(ad, n, 1))
            acc_bcast(ad, n, dy);
        return true;
    case IR_OP_SUB:
        acc(ad, x, dy, n);
        if (need(ad, n, 1))
            acc_bcast(ad, n, scaled(ad, dy, -1.0f, n));
        return true;
    case IR_OP_MUL:
        if (need(ad, n, 0))
            acc(ad, x, emit2(ad, IR_OP_MUL, dy, in1, n), n);
        if (need(ad, n, 1))
            acc_bcast(ad, n, emit2(ad, IR_OP_MUL, dy, x, n));
        return true;
    case IR_OP_DIV:
        if (need(ad, n, 0))
            acc(ad, x, emit2(ad, IR_OP_DIV, dy, in1, n), n);
        if (need(ad, n, 1))
            acc_bcast(ad, n, emit3(ad, IR_OP_DIV_GRAD_B, dy, x, in1, n));
        return true;
    case IR_OP_ADD_SCALAR:
        acc(ad, x, dy, n);
        return true;
    case IR_OP_MUL_SCALAR:
        acc(ad, x, scaled(ad, dy, n->a.scalar, n), n);
        return true;
    case IR_OP_RELU:    acc(ad, x, emit2(ad, IR_OP_RELU_GRAD, dy, x, n), n); return true;
    case IR_OP_LEAKY_RELU: {
        int in[2] = {dy, x};
        acc(ad, x, emit(ad, IR_OP_LEAKY_RELU_GRAD, in, 2, &n->a, n), n);
        return true;
    }
    case IR_OP_GELU:    acc(ad, x, emit2(ad, IR_OP_GELU_GRAD, dy, x, n), n); return true;
    case IR_OP_TANH:    acc(ad, x, emit2(ad, IR_OP_TANH_GRAD, dy, n->id, n), n); return true;
    case IR_OP_SIGMOID: acc(ad, x, emit2(ad, IR_OP_SIGMOID_GRAD, dy, n->id, n), n); return true;
    case IR_OP_SOFTMAX: acc(ad, x, emit2(ad, IR_OP_SOFTMAX_GRAD, dy, n->id, n), n); return true;
    case IR_OP_LOG_SOFTMAX:
        acc(ad, x, emit2(ad, IR_OP_LOG_SOFTMAX_GRAD, dy, n->id, n), n);
        return true;
    case IR_OP_CONV2D:
        if (need(ad, n, 0))
            acc(ad, x, emit3(ad, IR_OP_CONV2D_GRAD_X, dy, in1, x, n), n);
        if (need(ad, n, 1))
            acc(ad, in1, emit3(ad, IR_OP_CONV2D_GRAD_W, x, dy, in1, n), n);
        return true;
    case IR_OP_MAXPOOL:
    case IR_OP_AVGPOOL: {
        int in[2] = {dy, x};
        IrOp op = n->op == IR_OP_MAXPOOL ? IR_OP_MAXPOOL_GRAD : IR_OP_AVGPOOL_GRAD;
        acc(ad, x, emit(ad, op, in, 2, &n->a, n), n);
        return true;
    }
    case IR_OP_GLOBAL_AVG_POOL:
        acc(ad, x, emit2(ad, IR_OP_GLOBAL_AVG_POOL_GRAD, dy, x, n), n);
        return true;
    case IR_OP_FLATTEN:
    case IR_OP_RESHAPE:
        acc(ad, x, emit2(ad, IR_OP_RESHAPE_LIKE, dy, x, n), n);
        return true;
    case IR_OP_TRANSPOSE:
        grad_transpose(ad, n, dy);
        return true;
    case IR_OP_LAYERNORM:
        grad_layernorm(ad, n, dy);
        return true;
    case IR_OP_BATCHNORM:
        grad_batchnorm(ad, n, dy);
        return true;
    case IR_OP_EMBEDDING:
        if (need(ad, n, 1))
            acc(ad, in1, emit3(ad, IR_OP_EMBEDDING_GRAD, dy, x, in1, n), n);
        return true;
    case IR_OP_CAUSAL_ATTENTION:
        grad_attention(ad, n, dy);
        return true;
    case IR_OP_DROPOUT: {
        IrAttrs a = n->a;
        acc(ad, x, emit(ad, IR_OP_DROPOUT_GRAD, &dy, 1, &a, n), n);
        return true;
    }
    case IR_OP_CROSS_ENTROPY:
        acc(ad, x, emit3(ad, IR_OP_CROSS_ENTROPY_GRAD, dy, x, in1, n), n);
        return true;
    case IR_OP_MSE: {
        int gp = emit3(ad, IR_OP_MSE_GRAD, dy, x, in1, n);
        acc(ad, x, gp, n);
        if (need(ad, n, 1))
            acc(ad, in1, scaled(ad, gp, -1.0f, n), n);
        return true;
    }
    /* No rule: sources, stop_gradient and fill (gradients end there), and the
     * ops autodiff and the optimizer emit (pass_autodiff rejects those). */
    case IR_OP_INPUT:
    case IR_OP_LABEL:
    case IR_OP_PARAM:
    case IR_OP_STATE:
    case IR_OP_STOP_GRADIENT:
    case IR_OP_FILL:
    case IR_OP_BIAS_RELU:           /* fused after autodiff */
    case IR_OP_CONV2D_BIAS_RELU:
    case IR_OP_MATMUL_BIAS:
    case IR_OP_REDUCE_BATCH:
    case IR_OP_RESHAPE_LIKE:
    case IR_OP_SLICE_LAST:
    case IR_OP_MATMUL_GRAD_X:
    case IR_OP_MATMUL_GRAD_W:
    case IR_OP_BIAS_GRAD:
    case IR_OP_DIV_GRAD_B:
    case IR_OP_RELU_GRAD:
    case IR_OP_LEAKY_RELU_GRAD:
    case IR_OP_GELU_GRAD:
    case IR_OP_GELU_GRAD_Y:
    case IR_OP_TANH_GRAD:
    case IR_OP_SIGMOID_GRAD:
    case IR_OP_SOFTMAX_GRAD:
    case IR_OP_LOG_SOFTMAX_GRAD:
    case IR_OP_CONV2D_GRAD_X:
    case IR_OP_CONV2D_GRAD_X_RELU:  /* fused after autodiff */
    case IR_OP_CONV2D_GRAD_W:
    case IR_OP_MAXPOOL_GRAD:
    case IR_OP_MAXPOOL_GRAD_RELU:
    case IR_OP_AVGPOOL_GRAD:
    case IR_OP_GLOBAL_AVG_POOL_GRAD:
    case IR_OP_LAYERNORM_GRAD_X:
    case IR_OP_LAYERNORM_GRAD_X_ADD:
    case IR_OP_LAYERNORM_GRAD_G:
    case IR_OP_BATCHNORM_GRAD_X:
    case IR_OP_BATCHNORM_GRAD_G:
    case IR_OP_EMBEDDING_GRAD:
    case IR_OP_ATTENTION_GRAD:
    case IR_OP_DROPOUT_GRAD:
    case IR_OP_CROSS_ENTROPY_GRAD:
    case IR_OP_MSE_GRAD:
    case IR_OP_SUMSQ:
    case IR_OP_CLIP_FACTOR:
    case IR_OP_SGD_UPDATE:
    case IR_OP_ADAM_UPDATE:
        return ir_op_info(n->op)->grad == 0;
    case IR_OP_COUNT:
        break;
    }
    return false;
}

/* needs[i]: node i depends on a parameter through the operands its op is
 * differentiable in (the grad column of ops.def). */
static void mark_needs(Ad *ad)
{
    for (int i = 0; i < ad->n_fwd; i++) {
        const IrNode *n = ad->g->nodes[i];
        unsigned diff = ir_op_info(n->op)->grad;
        bool need_it = n->op == IR_OP_PARAM || (n->flags & IR_F_WANT_GRAD);
        for (int j = 0; j < n->n_in; j++)
            if (diff & (1u << j))
                need_it = need_it || ad->needs[n->in[j]];
        ad->needs[i] = need_it;
    }
}

static void seed_losses(Ad *ad)
{
    for (int i = 0; i < ad->n_fwd; i++) {
        IrNode *n = ad->g->nodes[i];
        if ((i == ad->g->loss || (n->flags & IR_F_LOSS)) && ad->needs[i]) {
            IrAttrs a = {.scalar = 1.0f};
            ad->grad[i] = emit(ad, IR_OP_FILL, NULL, 0, &a, n);
        }
    }
    for (int i = 0; i < ad->n_fwd; i++) {
        IrNode *n = ad->g->nodes[i];
        if ((n->flags & IR_F_GRAD_SEED) && n->grad >= 0 && n->grad < ad->n_fwd)
            acc(ad, n->grad, i, ad->g->nodes[n->grad]);
    }
}

/* The graph has something to differentiate: a loss or a seeded value. */
static bool has_seed(const IrGraph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->flags & IR_F_GRAD_SEED)
            return true;
    return g->loss >= 0;
}

bool pass_autodiff(IrGraph *g, PassCtx *ctx)
{
    int bad = ir_graph_unknown_op(g);
    if (bad >= 0) {
        diag_error(ctx->diag, g->nodes[bad]->loc, "autodiff: internal error: %%%d has op id %d, "
                   "which ir/ops.def does not define", bad, (int)g->nodes[bad]->op);
        return false;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        IrOpKind k = ir_op_info(g->nodes[i]->op)->kind;
        if (k == IR_KIND_BWD || k == IR_KIND_OPT) {
            diag_error(ctx->diag, g->nodes[i]->loc, "autodiff: the graph is already differentiated");
            return false;
        }
        if (g->nodes[i]->op == IR_OP_DROPOUT)
            g->nodes[i]->a.salt = i + 1;    /* the mask's seed, shared with dropout_grad */
    }
    if (!has_seed(g)) {
        diag_error(ctx->diag, IR_LOC_NONE, "autodiff: the model has no loss");
        return false;
    }
    Ad ad = {g, NULL, NULL, g->n_nodes};
    ad.grad = malloc((size_t)ad.n_fwd * sizeof *ad.grad);
    ad.needs = calloc((size_t)ad.n_fwd, sizeof *ad.needs);
    IR_CHECK_ALLOC(ad.grad && ad.needs);
    for (int i = 0; i < ad.n_fwd; i++)
        ad.grad[i] = -1;
    mark_needs(&ad);
    seed_losses(&ad);
    bool ok = true;
    for (int i = ad.n_fwd - 1; ok && i >= 0; i--) {
        IrNode *n = g->nodes[i];
        if (ad.grad[i] >= 0 && !(ok = grad_node(&ad, n, ad.grad[i])))
            diag_error(ctx->diag, n->loc, "autodiff: internal error: op '%s' (%%%d, block %d) is "
                       "differentiable by ir/ops.def but has no gradient rule",
                       ir_op_info(n->op)->name, i, n->block);
    }
    for (int i = 0; ok && i < ad.n_fwd; i++)
        if (g->nodes[i]->op == IR_OP_PARAM || (g->nodes[i]->flags & IR_F_WANT_GRAD))
            g->nodes[i]->grad = ad.grad[i];
    free(ad.grad);
    free(ad.needs);
    return ok;
}
