/* interp_exec.c — one node of the reference interpreter: a flat switch from
 * each op of ir/ops.def to its reference kernel.
 *
 * Shapes come from the IR types with the batch bound to args.n. Views used
 * throughout: R rows × last dim for row-wise ops, (N, C, S) for bias_add.
 */
#include "interp_impl.h"
#include "kernels.h"

#include <math.h>
#include <string.h>

typedef struct {
    RtInterp *in;
    const IrNode *n;
    int N;
} X;

static float *F(const X *x, int k) { return x->in->buf[x->n->in[k]]; }
static const int32_t *I32(const X *x, int k) { return x->in->buf[x->n->in[k]]; }
static float *OUT(const X *x) { return x->in->buf[x->n->id]; }
static const IrType *T(const X *x, int k) { return &x->in->g->nodes[x->n->in[k]]->type; }
static int64_t CNT(const X *x, int k) { return interp_count(x->in->g, x->n->in[k], x->N); }
static int64_t OUTCNT(const X *x) { return interp_count(x->in->g, x->n->id, x->N); }

/* Rows of a value viewed as (R, last dim). */
static int64_t rows(const X *x, const IrType *t)
{
    return (ir_type_numel(t) / interp_last_dim(t)) * (ir_type_batched(t) ? x->N : 1);
}

/* Elements of the broadcast operand (IR_P_BCAST), B when it is unbatched. */
static int64_t bcast(const X *x) { return CNT(x, ir_op_bcast_operand(x->n->op)); }

static void bias_view(const X *x, const IrType *t, int axis, int64_t *n, int64_t *c, int64_t *s)
{
    int ax = axis < 0 ? t->rank - 1 : axis;
    int64_t total = ir_type_numel(t) * (ir_type_batched(t) ? x->N : 1);
    *c = t->dim[ax];
    *s = 1;
    for (int i = ax + 1; i < t->rank; i++)
        *s *= t->dim[i];
    *n = total / (*c * *s);
}

static RkConv2d conv_geom(const X *x, const IrType *xt, const IrType *wt)
{
    return rk_conv2d_geom(x->N, xt->dim[1], xt->dim[2], xt->dim[3], wt->dim[0], wt->dim[2],
                          x->n->a.stride, x->n->a.padding);
}

static RkPool2d pool_geom(const X *x, const IrType *xt)
{
    return rk_pool2d_geom(x->N, xt->dim[1], xt->dim[2], xt->dim[3], x->n->a.kernel,
                          x->n->a.stride);
}

static void transpose(const X *x)
{
    const IrType *t = T(x, 0);
    int64_t dims[IR_MAX_DIMS];
    for (int i = 1; i < t->rank; i++)
        dims[i - 1] = t->dim[i];
    rk_transpose_fwd(OUT(x), F(x, 0), x->N, t->rank - 1, dims, x->n->a.perm);
}

static void layernorm(const X *x, int xi, float *y, float **mean, float **rstd)
{
    const IrType *t = T(x, xi);
    int64_t R = rows(x, t), D = interp_last_dim(t);
    *mean = x->in->scratch;
    *rstd = x->in->scratch + R;
    int wi = ir_op_info(x->n->op)->w;     /* the gain g; layernorm_grad_g has none */
    float *g = wi < 0 ? NULL : F(x, wi);
    if (!g) {   /* layernorm_grad_g only needs the statistics: run with g = 1, b = 0 */
        float *ones = x->in->scratch2;
        for (int64_t i = 0; i < D; i++)
            ones[i] = 1.0f, ones[D + i] = 0.0f;
        rk_layernorm_fwd(y, *mean, *rstd, F(x, xi), ones, ones + D, R, D, x->n->a.eps);
        return;
    }
    float *b = x->n->op == IR_OP_LAYERNORM ? F(x, 2) : NULL;
    if (!b) {
        b = x->in->scratch2;
        memset(b, 0, (size_t)D * 4);
    }
    rk_layernorm_fwd(y, *mean, *rstd, F(x, xi), g, b, R, D, x->n->a.eps);
}

static void layernorm_grad(const X *x)
{
    const IrType *t = T(x, 1);
    int64_t R = rows(x, t), D = interp_last_dim(t);
    float *mean, *rstd;
    float *y = x->in->scratch + 2 * R;
    layernorm(x, 1, y, &mean, &rstd);
    if (x->n->op == IR_OP_LAYERNORM_GRAD_X_ADD) {   /* the unfused sequence */
        rk_layernorm_bwd(OUT(x), NULL, NULL, F(x, 0), F(x, 1), mean, rstd, F(x, 2), R, D);
        rk_add_fwd(OUT(x), OUT(x), F(x, 3), R * D, R * D);
    } else if (x->n->op == IR_OP_LAYERNORM_GRAD_X)
        rk_layernorm_bwd(OUT(x), NULL, NULL, F(x, 0), F(x, 1), mean, rstd, F(x, 2), R, D);
    else
        rk_layernorm_bwd(NULL, OUT(x), NULL, F(x, 0), F(x, 1), mean, rstd, NULL, R, D);
}

/* x (N, C, S) for batchnorm: channels on axis 1, S the positions after it */
static void bn_view(const IrType *t, int64_t *C, int64_t *S)
{
    *C = t->dim[1];
    *S = ir_type_numel(t) / *C;
}

static void batchnorm(const X *x)
{
    int64_t C, S;
    bn_view(T(x, 0), &C, &S);
    rk_batchnorm_fwd(OUT(x), NULL, NULL, F(x, 0), F(x, 1), F(x, 2), F(x, 3), F(x, 4), x->N, C,
                     S, x->n->a.eps, x->n->a.momentum, x->in->args.train);
}

/* (dy, x, g) or (dy, x): the batch statistics of x recomputed, as layernorm's */
static void batchnorm_grad(const X *x)
{
    int64_t C, S;
    bn_view(T(x, 1), &C, &S);
    float *mean = x->in->scratch, *rstd = x->in->scratch + C;
    rk_batchnorm_fwd(NULL, mean, rstd, F(x, 1), NULL, NULL, NULL, NULL, x->N, C, S,
                     x->n->a.eps, 0.0f, true);
    if (x->n->op == IR_OP_BATCHNORM_GRAD_X)
        rk_batchnorm_bwd(OUT(x), NULL, NULL, F(x, 0), F(x, 1), mean, rstd, F(x, 2), x->N, C, S);
    else
        rk_batchnorm_bwd(NULL, OUT(x), NULL, F(x, 0), F(x, 1), mean, rstd, NULL, x->N, C, S);
}

static void attention(const X *x)
{
    const IrType *q = T(x, 0);
    rk_attention_fwd(OUT(x), x->in->scratch, F(x, 0), F(x, 1), F(x, 2), x->N, q->dim[1],
                     q->dim[2], x->n->a.heads);
}

static void attention_grad(const X *x)
{
    const IrType *q = T(x, 1);
    int64_t T_ = q->dim[1], D = q->dim[2], L = x->N * T_ * D;
    float *att = x->in->scratch, *y = x->in->scratch + (int64_t)x->N * x->n->a.heads * T_ * T_;
    rk_attention_fwd(y, att, F(x, 1), F(x, 2), F(x, 3), x->N, T_, D, x->n->a.heads);
    /* dq | dk | dv are packed along the last dim: write each to scratch2 and interleave */
    float *d3 = x->in->scratch2;
    rk_attention_bwd(d3, d3 + L, d3 + 2 * L, F(x, 0), F(x, 1), F(x, 2), F(x, 3), att, x->N, T_,
                     D, x->n->a.heads);
    float *out = OUT(x);
    for (int64_t r = 0; r < x->N * T_; r++)
        for (int k = 0; k < 3; k++)
            memcpy(out + (r * 3 + k) * D, d3 + k * L + r * D, (size_t)D * 4);
}

static void dropout(const X *x, const float *src)
{
    int64_t L = OUTCNT(x);
    if (!x->in->args.train) {
        memcpy(OUT(x), src, (size_t)L * 4);
        return;
    }
    float *u = x->in->scratch, *mask = x->in->scratch + L;
    interp_dropout_uniforms(u, L, &x->in->args, x->n->a.salt);
    rk_dropout_fwd(OUT(x), mask, src, u, x->n->a.p, L);
}

static void slice_last(const X *x)
{
    const IrType *t = T(x, 0);
    int64_t W = interp_last_dim(t), R = rows(x, t), len = x->n->a.len;
    for (int64_t r = 0; r < R; r++)
        memcpy(OUT(x) + r * len, F(x, 0) + r * W + x->n->a.start, (size_t)len * 4);
}

static void reduce_batch(const X *x)
{
    int64_t L = OUTCNT(x);
    float *y = OUT(x);
    memset(y, 0, (size_t)L * 4);
    for (int b = 0; b < x->N; b++)
        rk_acc(y, F(x, 0) + (int64_t)b * L, L);
}

static void clip_factor(const X *x)
{
    double norm = sqrt((double)F(x, 0)[0]);
    double clip = x->n->a.scalar;
    OUT(x)[0] = norm > clip ? (float)(clip / (norm + 1e-6)) : 1.0f;
}

/* The gradient an update applies: g, or g scaled by the clip factor operand. */
static const float *update_grad(const X *x, int factor_k)
{
    if (x->n->n_in <= factor_k)
        return F(x, 1);
    float f = F(x, factor_k)[0];
    int64_t L = CNT(x, 0);
    float *s = x->in->scratch;
    for (int64_t i = 0; i < L; i++)
        s[i] = F(x, 1)[i] * f;
    return s;
}

static void update(const X *x)
{
    const IrAttrs *a = &x->n->a;
    int64_t L = CNT(x, 0);
    if (x->n->op == IR_OP_SGD_UPDATE) {
        RkSgd h = {x->in->args.lr, a->momentum, a->weight_decay, a->nesterov};
        rk_sgd_step(&h, F(x, 0), F(x, 2), update_grad(x, 3), L);
    } else {
        RkAdam h = {x->in->args.lr, a->beta1, a->beta2, a->eps, a->weight_decay, a->decoupled};
        rk_adam_step(&h, x->in->args.step, F(x, 0), F(x, 2), F(x, 3), update_grad(x, 4), L);
    }
    OUT(x)[0] = 0.0f;
}

static void sumsq(const X *x)
{
    double s = 0;
    for (int64_t i = 0; i < CNT(x, 0); i++)
        s += (double)F(x, 0)[i] * F(x, 0)[i];
    OUT(x)[0] = (float)s;
}

static void cross_entropy(const X *x)
{
    const IrType *t = T(x, 0);
    int64_t C = interp_last_dim(t), R = rows(x, t);
    int64_t *hits = &x->in->correct[x->n->id];
    OUT(x)[0] = rk_cross_entropy_fwd(F(x, 0), I32(x, 1), R, C, hits);
    OUT(x)[1] = (float)*hits;
}

/* Kills the process (a bug, not a user error): n's op has no case below. */
static _Noreturn void no_kernel(const IrNode *n)
{
    char what[160];
    snprintf(what, sizeof what, "interpreter: no kernel for op '%s' (id %d, %%%d, block %d)",
             (unsigned)n->op < IR_OP_COUNT ? ir_op_info(n->op)->name : "?", (int)n->op, n->id,
             n->block);
    ir_assert_fail(what, __FILE__, __LINE__);
}

/* One case per op of ir/ops.def, each returning, and no default: -Wswitch
 * names an op a new row forgot, and running one stops the process with its
 * id (rt_interp_new has already rejected ids outside the table). */
void interp_exec(RtInterp *in, const IrNode *n)
{
    X xs = {in, n, in->args.n}, *x = &xs;
    int64_t L = OUTCNT(x), nb, c, s;
    switch (n->op) {
    case IR_OP_INPUT:
    case IR_OP_LABEL:
    case IR_OP_PARAM:
    case IR_OP_STATE:
        return;     /* filled by the caller / init */
    case IR_OP_FLATTEN:     /* views: the interpreter gives every node its own buffer */
    case IR_OP_RESHAPE:
    case IR_OP_RESHAPE_LIKE:
    case IR_OP_STOP_GRADIENT:
        memcpy(OUT(x), F(x, 0), (size_t)L * 4);
        return;
    case IR_OP_MATMUL:
        rk_matmul_fwd(OUT(x), F(x, 0), F(x, 1), rows(x, T(x, 0)), T(x, 1)->dim[0],
                      T(x, 1)->dim[1]);
        return;
    case IR_OP_BIAS_ADD:
        bias_view(x, T(x, 0), n->a.axis, &nb, &c, &s);
        rk_bias_add_fwd(OUT(x), F(x, 0), F(x, 1), nb, c, s);
        return;
    case IR_OP_ADD: rk_add_fwd(OUT(x), F(x, 0), F(x, 1), L, bcast(x)); return;
    case IR_OP_SUB: rk_sub_fwd(OUT(x), F(x, 0), F(x, 1), L, bcast(x)); return;
    case IR_OP_MUL: rk_mul_fwd(OUT(x), F(x, 0), F(x, 1), L, bcast(x)); return;
    case IR_OP_DIV: rk_div_fwd(OUT(x), F(x, 0), F(x, 1), L, bcast(x)); return;
    case IR_OP_ADD_SCALAR: rk_add_scalar_fwd(OUT(x), F(x, 0), n->a.scalar, L); return;
    case IR_OP_MUL_SCALAR: rk_mul_scalar_fwd(OUT(x), F(x, 0), n->a.scalar, L); return;
    case IR_OP_RELU: rk_relu_fwd(OUT(x), F(x, 0), L); return;
    case IR_OP_LEAKY_RELU: rk_leaky_relu_fwd(OUT(x), F(x, 0), n->a.scalar, L); return;
    case IR_OP_GELU: rk_gelu_fwd(OUT(x), F(x, 0), L); return;
    case IR_OP_TANH: rk_tanh_fwd(OUT(x), F(x, 0), L); return;
    case IR_OP_SIGMOID: rk_sigmoid_fwd(OUT(x), F(x, 0), L); return;
    case IR_OP_SOFTMAX:
        rk_softmax_fwd(OUT(x), F(x, 0), rows(x, &n->type), interp_last_dim(&n->type));
        return;
    case IR_OP_LOG_SOFTMAX:
        rk_log_softmax_fwd(OUT(x), F(x, 0), rows(x, &n->type), interp_last_dim(&n->type));
        return;
    case IR_OP_CONV2D: {
        RkConv2d geo = conv_geom(x, T(x, 0), T(x, 1));
        rk_conv2d_fwd(OUT(x), F(x, 0), F(x, 1), &geo, x->in->scratch);
        return;
    }
    case IR_OP_BIAS_RELU:       /* the unfused sequence, in place */
        bias_view(x, T(x, 0), n->a.axis, &nb, &c, &s);
        rk_bias_add_fwd(OUT(x), F(x, 0), F(x, 1), nb, c, s);
        rk_relu_fwd(OUT(x), OUT(x), L);
        return;
    case IR_OP_CONV2D_BIAS_RELU: {
        RkConv2d geo = conv_geom(x, T(x, 0), T(x, 1));
        rk_conv2d_fwd(OUT(x), F(x, 0), F(x, 1), &geo, x->in->scratch);
        bias_view(x, &n->type, 1, &nb, &c, &s);
        rk_bias_add_fwd(OUT(x), OUT(x), F(x, 2), nb, c, s);
        rk_relu_fwd(OUT(x), OUT(x), L);
        return;
    }
    case IR_OP_MATMUL_BIAS:     /* the unfused sequence, in place */
        rk_matmul_fwd(OUT(x), F(x, 0), F(x, 1), rows(x, T(x, 0)), T(x, 1)->dim[0],
                      T(x, 1)->dim[1]);
        rk_bias_add_fwd(OUT(x), OUT(x), F(x, 2), rows(x, T(x, 0)), T(x, 1)->dim[1], 1);
        if (n->n_in == 4)
            rk_add_fwd(OUT(x), OUT(x), F(x, 3), L, L);
        return;
    case IR_OP_MAXPOOL: {
        RkPool2d geo = pool_geom(x, T(x, 0));
        rk_maxpool_fwd(OUT(x), F(x, 0), &geo);
        return;
    }
    case IR_OP_AVGPOOL: {
        RkPool2d geo = pool_geom(x, T(x, 0));
        rk_avgpool_fwd(OUT(x), F(x, 0), &geo);
        return;
    }
    case IR_OP_GLOBAL_AVG_POOL:
        rk_global_avg_pool_fwd(OUT(x), F(x, 0), x->N, T(x, 0)->dim[1],
                               T(x, 0)->dim[2] * T(x, 0)->dim[3]);
        return;
    case IR_OP_TRANSPOSE: transpose(x); return;
    case IR_OP_LAYERNORM: {
        float *mean, *rstd;
        layernorm(x, 0, OUT(x), &mean, &rstd);
        return;
    }
    case IR_OP_BATCHNORM: batchnorm(x); return;
    case IR_OP_EMBEDDING:
        rk_embedding_fwd(OUT(x), I32(x, 0), F(x, 1), CNT(x, 0), T(x, 1)->dim[0],
                         T(x, 1)->dim[1]);
        return;
    case IR_OP_CAUSAL_ATTENTION: attention(x); return;
    case IR_OP_DROPOUT: dropout(x, F(x, 0)); return;
    case IR_OP_CROSS_ENTROPY: cross_entropy(x); return;
    case IR_OP_MSE: OUT(x)[0] = rk_mse_fwd(F(x, 0), F(x, 1), CNT(x, 0)); return;
    case IR_OP_FILL: OUT(x)[0] = n->a.scalar; return;
    case IR_OP_REDUCE_BATCH: reduce_batch(x); return;
    case IR_OP_SLICE_LAST: slice_last(x); return;
    case IR_OP_MATMUL_GRAD_X:   /* dy (R, OUT), w (IN, OUT) */
        rk_matmul_bwd(OUT(x), NULL, F(x, 0), NULL, F(x, 1), rows(x, T(x, 0)), T(x, 1)->dim[0],
                      T(x, 1)->dim[1]);
        return;
    case IR_OP_MATMUL_GRAD_W:   /* x (R, IN), dy (R, OUT) */
        rk_matmul_bwd(NULL, OUT(x), F(x, 1), F(x, 0), NULL, rows(x, T(x, 0)),
                      interp_last_dim(T(x, 0)), interp_last_dim(T(x, 1)));
        return;
    case IR_OP_BIAS_GRAD:
        bias_view(x, T(x, 0), n->a.axis, &nb, &c, &s);
        rk_bias_add_bwd(NULL, OUT(x), F(x, 0), nb, c, s);
        return;
    case IR_OP_DIV_GRAD_B:      /* d(a/b)/db = -dy·a/b² */
        for (int64_t i = 0, B = bcast(x); i < L; i++)
            OUT(x)[i] = -F(x, 0)[i] * F(x, 1)[i] / (F(x, 2)[i % B] * F(x, 2)[i % B]);
        return;
    case IR_OP_RELU_GRAD: rk_relu_bwd(OUT(x), F(x, 0), F(x, 1), L); return;
    case IR_OP_LEAKY_RELU_GRAD:
        rk_leaky_relu_bwd(OUT(x), F(x, 0), F(x, 1), n->a.scalar, L);
        return;
    case IR_OP_GELU_GRAD:
    case IR_OP_GELU_GRAD_Y:     /* the unfused gradient: y unread */
        rk_gelu_bwd(OUT(x), F(x, 0), F(x, 1), L);
        return;
    case IR_OP_TANH_GRAD: rk_tanh_bwd(OUT(x), F(x, 0), F(x, 1), L); return;
    case IR_OP_SIGMOID_GRAD: rk_sigmoid_bwd(OUT(x), F(x, 0), F(x, 1), L); return;
    case IR_OP_SOFTMAX_GRAD:
        rk_softmax_bwd(OUT(x), F(x, 0), F(x, 1), rows(x, &n->type), interp_last_dim(&n->type));
        return;
    case IR_OP_LOG_SOFTMAX_GRAD:
        rk_log_softmax_bwd(OUT(x), F(x, 0), F(x, 1), rows(x, &n->type),
                           interp_last_dim(&n->type));
        return;
    case IR_OP_CONV2D_GRAD_X: {
        RkConv2d geo = conv_geom(x, T(x, 2), T(x, 1));
        rk_conv2d_bwd_input(OUT(x), F(x, 0), F(x, 1), &geo, x->in->scratch);
        return;
    }
    case IR_OP_CONV2D_GRAD_W: {
        RkConv2d geo = conv_geom(x, T(x, 0), T(x, 2));
        rk_conv2d_bwd_weight(OUT(x), F(x, 1), F(x, 0), &geo, x->in->scratch);
        return;
    }
    case IR_OP_MAXPOOL_GRAD: {
        RkPool2d geo = pool_geom(x, T(x, 1));
        rk_maxpool_bwd(OUT(x), F(x, 0), F(x, 1), &geo);
        return;
    }
    case IR_OP_MAXPOOL_GRAD_RELU: {     /* the unfused pair, in place */
        RkPool2d geo = pool_geom(x, T(x, 1));
        rk_maxpool_bwd(OUT(x), F(x, 0), F(x, 1), &geo);
        rk_relu_bwd(OUT(x), OUT(x), F(x, 1), L);
        return;
    }
    case IR_OP_CONV2D_GRAD_X_RELU: {
        RkConv2d geo = conv_geom(x, T(x, 2), T(x, 1));
        rk_conv2d_bwd_input(OUT(x), F(x, 0), F(x, 1), &geo, x->in->scratch);
        rk_relu_bwd(OUT(x), OUT(x), F(x, 2), L);
        return;
    }
    case IR_OP_AVGPOOL_GRAD: {
        RkPool2d geo = pool_geom(x, T(x, 1));
        rk_avgpool_bwd(OUT(x), F(x, 0), &geo);
        return;
    }
    case IR_OP_GLOBAL_AVG_POOL_GRAD:
        rk_global_avg_pool_bwd(OUT(x), F(x, 0), x->N, T(x, 1)->dim[1],
                               T(x, 1)->dim[2] * T(x, 1)->dim[3]);
        return;
    case IR_OP_LAYERNORM_GRAD_X:
    case IR_OP_LAYERNORM_GRAD_X_ADD:
    case IR_OP_LAYERNORM_GRAD_G: layernorm_grad(x); return;
    case IR_OP_BATCHNORM_GRAD_X:
    case IR_OP_BATCHNORM_GRAD_G: batchnorm_grad(x); return;
    case IR_OP_EMBEDDING_GRAD:
        rk_embedding_bwd(OUT(x), F(x, 0), I32(x, 1), CNT(x, 1), T(x, 2)->dim[0],
                         T(x, 2)->dim[1]);
        return;
    case IR_OP_ATTENTION_GRAD: attention_grad(x); return;
    case IR_OP_DROPOUT_GRAD: dropout(x, F(x, 0)); return;
    case IR_OP_CROSS_ENTROPY_GRAD: {
        const IrType *t = T(x, 1);
        rk_cross_entropy_bwd(OUT(x), F(x, 1), I32(x, 2), F(x, 0)[0], rows(x, t),
                             interp_last_dim(t));
        return;
    }
    case IR_OP_MSE_GRAD:
        rk_mse_bwd(OUT(x), NULL, F(x, 1), F(x, 2), F(x, 0)[0], CNT(x, 1));
        return;
    case IR_OP_SUMSQ: sumsq(x); return;
    case IR_OP_CLIP_FACTOR: clip_factor(x); return;
    case IR_OP_SGD_UPDATE:
    case IR_OP_ADAM_UPDATE: update(x); return;
    case IR_OP_COUNT:
        break;
    }
    no_kernel(n);
}
