/* gpu_kernels.c — the bodies of the GPU kernels, one emitter per op family,
 * written against the index source of gpu_impl.h (thread tid of nthreads).
 *
 * Parallelization (gk_kind): elementwise ops and optimizer updates are
 * grid-stride loops over their elements; per-row ops (cross-entropy's
 * gradient) and per-output reductions (bias_grad, reduce_batch) give each
 * output one thread that sums in the reference's order; scalar losses run on
 * one thread, so their sums are the reference's; matrix products give each
 * thread a 4×4 tile of C, accumulated in float over k in order (FMA
 * contracted). No barriers and no shared memory anywhere: a thread's result
 * depends only on its index, which is what makes the emulation exact.
 *
 * Numerics follow the reference kernels (runtime/kernels/): the same float
 * expressions for elementwise ops and updates, sums in double where the
 * reference sums in double; exp, log and tanh are cg_fmath.c's inline float
 * math (no libm or libdevice on the GPU), and products sum in another order
 * than sgemm, so results agree within the tolerances of tests/test_gpu.c.
 */
#include "gpu_impl.h"

#define TILE 4  /* C tile per thread of a matrix product: TILE × TILE */

GkKind gk_kind(IrOp op)
{
    switch (op) {
    case IR_OP_INPUT:
    case IR_OP_LABEL:
    case IR_OP_PARAM:
    case IR_OP_STATE:
    case IR_OP_FLATTEN:
    case IR_OP_RESHAPE:
    case IR_OP_RESHAPE_LIKE:
    case IR_OP_STOP_GRADIENT:   return GK_SKIP;
    case IR_OP_ADD:
    case IR_OP_SUB:
    case IR_OP_MUL:
    case IR_OP_DIV:
    case IR_OP_ADD_SCALAR:
    case IR_OP_MUL_SCALAR:
    case IR_OP_RELU:
    case IR_OP_LEAKY_RELU:
    case IR_OP_TANH:
    case IR_OP_SIGMOID:
    case IR_OP_RELU_GRAD:
    case IR_OP_LEAKY_RELU_GRAD:
    case IR_OP_TANH_GRAD:
    case IR_OP_SIGMOID_GRAD:
    case IR_OP_DIV_GRAD_B:
    case IR_OP_BIAS_ADD:
    case IR_OP_BIAS_RELU:
    case IR_OP_MSE_GRAD:        return GK_ELEM;
    case IR_OP_SGD_UPDATE:
    case IR_OP_ADAM_UPDATE:     return GK_PARAM;
    case IR_OP_GELU:
    case IR_OP_GELU_GRAD:
    case IR_OP_GELU_GRAD_Y:     return GK_ELEM;
    case IR_OP_CROSS_ENTROPY_GRAD:
    case IR_OP_SOFTMAX:
    case IR_OP_LOG_SOFTMAX:
    case IR_OP_SOFTMAX_GRAD:
    case IR_OP_LOG_SOFTMAX_GRAD: return GK_ROW;
    case IR_OP_BIAS_GRAD:
    case IR_OP_REDUCE_BATCH:    return GK_CHAN;
    case IR_OP_MATMUL:
    case IR_OP_MATMUL_BIAS:
    case IR_OP_MATMUL_GRAD_X:
    case IR_OP_MATMUL_GRAD_W:   return GK_TILE;
    case IR_OP_CROSS_ENTROPY:
    case IR_OP_MSE:
    case IR_OP_FILL:
    case IR_OP_SUMSQ:
    case IR_OP_CLIP_FACTOR:     return GK_SERIAL;
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BIAS_RELU:
    case IR_OP_CONV2D_GRAD_X:
    case IR_OP_CONV2D_GRAD_X_RELU:
    case IR_OP_CONV2D_GRAD_W:
    case IR_OP_MAXPOOL:
    case IR_OP_MAXPOOL_GRAD:
    case IR_OP_MAXPOOL_GRAD_RELU:
    case IR_OP_AVGPOOL:
    case IR_OP_AVGPOOL_GRAD:
    case IR_OP_GLOBAL_AVG_POOL:
    case IR_OP_GLOBAL_AVG_POOL_GRAD: return GK_CONV;
    case IR_OP_TRANSPOSE:
    case IR_OP_SLICE_LAST:
    case IR_OP_EMBEDDING:
    case IR_OP_EMBEDDING_GRAD:  return GK_GATHER;
    default:                    return GK_NONE;
    }
}

/* ------------------------------------------------------------- helpers */

static CgModule *M(Gk *k) { return k->w.m; }
static LLVMValueRef C(Gk *k, int64_t v) { return cg_i64(k->w.m, v); }
static const IrType *T(Gk *k, int i) { return lw_type(&k->w, i); }

/* A grid-stride loop: for (i = tid; i < hi; i += nthreads), as a counted
 * loop over j with i = tid + j·nthreads (the body uses s->i). */
typedef struct GkLoop {
    CgLoop l;
    LLVMValueRef i;
} GkLoop;

static void stride_begin(Gk *k, GkLoop *s, LLVMValueRef hi)
{
    CgModule *m = M(k);
    LLVMValueRef in = LLVMBuildICmp(m->b, LLVMIntSLT, k->tid, hi, "");
    LLVMValueRef left = LLVMBuildSub(m->b, hi, k->tid, "");
    LLVMValueRef cnt = LLVMBuildUDiv(m->b, lw_add(&k->w, left,
                                                 LLVMBuildSub(m->b, k->nthreads, C(k, 1), "")),
                                     k->nthreads, "");
    cnt = LLVMBuildSelect(m->b, in, cnt, C(k, 0), "");
    cg_loop_begin(m, &s->l, C(k, 0), cnt, "j");
    s->i = lw_mad(&k->w, s->l.i, k->nthreads, k->tid);
}

static void stride_end(Gk *k, GkLoop *s) { cg_loop_end(M(k), &s->l); }

/* if (tid == 0) { ... } for the serial kernels. */
static void first_thread(Gk *k, LwIf *f)
{
    lw_if(&k->w, f, LLVMBuildICmp(M(k)->b, LLVMIntEQ, k->tid, C(k, 0), ""));
}

static LLVMValueRef fsel(Gk *k, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(M(k)->b, c, a, b, "");
}

static LLVMValueRef fgt0(Gk *k, LLVMValueRef x)
{
    return LLVMBuildFCmp(M(k)->b, LLVMRealOGT, x, cg_f32(M(k), 0.0f), "");
}

/* Index of the broadcast operand b for element i of a: i, or i mod |b|. */
static LLVMValueRef bcast_index(Gk *k, int bi, LLVMValueRef i)
{
    const IrType *a = &k->w.n->type, *b = T(k, bi);
    if (ir_type_batched(a) == ir_type_batched(b) && ir_type_numel(a) == ir_type_numel(b))
        return i;
    return LLVMBuildURem(M(k)->b, i, lw_count(&k->w, b), "");
}

/* --------------------------------------------------------- elementwise */

static LLVMValueRef ld(Gk *k, int in, LLVMValueRef i) { return cg_load_f32(M(k), k->w.in[in], i); }

/* out[i] = x[i] + b[(i / S) mod C] (then relu): bias over axis of x. */
static LLVMValueRef bias_elem(Gk *k, LLVMValueRef i)
{
    const IrType *t = T(k, 0);
    int ax = k->w.n->a.axis < 0 ? t->rank - 1 : k->w.n->a.axis;
    int64_t S = 1;
    for (int d = ax + 1; d < t->rank; d++)
        S *= t->dim[d];
    LLVMValueRef c = LLVMBuildURem(M(k)->b, LLVMBuildUDiv(M(k)->b, i, C(k, S), ""),
                                   C(k, t->dim[ax]), "");
    LLVMValueRef y = cg_fadd(M(k), ld(k, 0, i), ld(k, 1, c));
    if (k->w.n->op == IR_OP_BIAS_RELU)
        y = fsel(k, fgt0(k, y), y, cg_f32(M(k), 0.0f));
    return y;
}

/* 1 / (1 + e^-x), in float (the reference's double exp would need libm). */
static LLVMValueRef sigmoid(Gk *k, LLVMValueRef x)
{
    CgModule *m = M(k);
    LLVMValueRef e = cg_fexp(m, cg_fneg(m, x));
    return cg_fdiv(m, cg_f32(m, 1.0f), cg_fadd(m, cg_f32(m, 1.0f), e));
}

/* gelu(x) = x·Φ(x) and gelu'(x) = Φ(x) + x·φ(x), in float with the inline
 * erf and exp (the reference: double libm) */
static LLVMValueRef gelu(Gk *k, LLVMValueRef x, LLVMValueRef dy)
{
    CgModule *m = M(k);
    LLVMValueRef half = cg_f32(m, 0.5f);
    LLVMValueRef cdf = cg_fmul(m, half, cg_fadd(m, cg_f32(m, 1.0f),
                                               cg_ferf(m, cg_fmul(m, x, cg_f32(m, 0.70710678f)))));
    if (!dy)
        return cg_fmul(m, x, cdf);
    LLVMValueRef e = cg_fexp(m, cg_fmul(m, cg_f32(m, -0.5f), cg_fmul(m, x, x)));
    LLVMValueRef pdf = cg_fmul(m, cg_f32(m, 0.39894228f), e);
    return cg_fmul(m, dy, cg_fadd(m, cdf, cg_fmul(m, x, pdf)));
}

/* d(pred) = (float)(2·dl / L · (pred − target)), L the elements of pred */
static LLVMValueRef mse_grad(Gk *k, LLVMValueRef i)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    LLVMValueRef dl = lw_ext(w, ld(k, 0, C(k, 0)));
    LLVMValueRef scale = cg_fdiv(m, cg_fmul(m, lw_f64(w, 2.0), dl),
                                 lw_i2d(w, lw_count(w, T(k, 1))));
    LLVMValueRef e = cg_fsub(m, lw_ext(w, ld(k, 1, i)), lw_ext(w, ld(k, 2, i)));
    return lw_trunc(w, cg_fmul(m, scale, e));
}

static LLVMValueRef elem(Gk *k, LLVMValueRef i)
{
    CgModule *m = M(k);
    const IrNode *n = k->w.n;
    LLVMValueRef zero = cg_f32(m, 0.0f), one = cg_f32(m, 1.0f), sc = cg_f32(m, n->a.scalar);
    switch (n->op) {
    case IR_OP_ADD: return cg_fadd(m, ld(k, 0, i), ld(k, 1, bcast_index(k, 1, i)));
    case IR_OP_SUB: return cg_fsub(m, ld(k, 0, i), ld(k, 1, bcast_index(k, 1, i)));
    case IR_OP_MUL: return cg_fmul(m, ld(k, 0, i), ld(k, 1, bcast_index(k, 1, i)));
    case IR_OP_DIV: return cg_fdiv(m, ld(k, 0, i), ld(k, 1, bcast_index(k, 1, i)));
    case IR_OP_ADD_SCALAR: return cg_fadd(m, ld(k, 0, i), sc);
    case IR_OP_MUL_SCALAR: return cg_fmul(m, ld(k, 0, i), sc);
    case IR_OP_RELU: return fsel(k, fgt0(k, ld(k, 0, i)), ld(k, 0, i), zero);
    case IR_OP_LEAKY_RELU:
        return fsel(k, fgt0(k, ld(k, 0, i)), ld(k, 0, i), cg_fmul(m, sc, ld(k, 0, i)));
    case IR_OP_TANH: return cg_ftanh(m, ld(k, 0, i));
    case IR_OP_GELU: return gelu(k, ld(k, 0, i), NULL);
    case IR_OP_GELU_GRAD:
    case IR_OP_GELU_GRAD_Y:     /* the CPU's fusion reads Φ from y; here the unfused form */
        return gelu(k, ld(k, 1, i), ld(k, 0, i));
    case IR_OP_SIGMOID: return sigmoid(k, ld(k, 0, i));
    case IR_OP_RELU_GRAD: return fsel(k, fgt0(k, ld(k, 1, i)), ld(k, 0, i), zero);
    case IR_OP_LEAKY_RELU_GRAD:
        return fsel(k, fgt0(k, ld(k, 1, i)), ld(k, 0, i), cg_fmul(m, sc, ld(k, 0, i)));
    case IR_OP_TANH_GRAD: {     /* dy·(1 − y²) */
        LLVMValueRef y = ld(k, 1, i);
        return cg_fmul(m, ld(k, 0, i), cg_fsub(m, one, cg_fmul(m, y, y)));
    }
    case IR_OP_SIGMOID_GRAD: {  /* dy·y·(1 − y) */
        LLVMValueRef y = ld(k, 1, i);
        return cg_fmul(m, cg_fmul(m, ld(k, 0, i), y), cg_fsub(m, one, y));
    }
    case IR_OP_DIV_GRAD_B: {    /* −dy·a / b² */
        LLVMValueRef b = ld(k, 2, bcast_index(k, 2, i));
        return cg_fdiv(m, cg_fmul(m, cg_fneg(m, ld(k, 0, i)), ld(k, 1, i)), cg_fmul(m, b, b));
    }
    case IR_OP_BIAS_ADD:
    case IR_OP_BIAS_RELU: return bias_elem(k, i);
    case IR_OP_MSE_GRAD: return mse_grad(k, i);
    default: IR_ASSERT(!"not an elementwise op"); return zero;
    }
}

static void emit_elem(Gk *k)
{
    GkLoop s;
    stride_begin(k, &s, lw_count(&k->w, &k->w.n->type));
    if (gk_kind(k->w.n->op) == GK_CONV)
        gk_emit_conv(k, s.i);
    else if (gk_kind(k->w.n->op) == GK_GATHER)
        gk_emit_gather(k, s.i);
    else
        cg_store_f32(M(k), k->w.out, s.i, elem(k, s.i));
    stride_end(k, &s);
}

/* -------------------------------------------------------------- updates */

static LLVMValueRef grad_at(Gk *k, int factor_k, LLVMValueRef i)
{
    LLVMValueRef g = ld(k, 1, i);
    if (k->w.n->n_in > factor_k)
        g = cg_fmul(M(k), g, ld(k, factor_k, C(k, 0)));
    return g;
}

/* (p, g, buf [, factor]), s0 = lr: the reference's float arithmetic. */
static void sgd(Gk *k, LLVMValueRef i)
{
    CgModule *m = M(k);
    const IrAttrs *a = &k->w.n->a;
    LLVMValueRef p = ld(k, 0, i), d = grad_at(k, 3, i);
    if (a->weight_decay != 0.0f)
        d = cg_fadd(m, d, cg_fmul(m, cg_f32(m, a->weight_decay), p));
    if (a->momentum != 0.0f) {
        LLVMValueRef buf = cg_fadd(m, cg_fmul(m, ld(k, 2, i), cg_f32(m, a->momentum)), d);
        cg_store_f32(m, k->w.in[2], i, buf);
        d = a->nesterov ? cg_fadd(m, d, cg_fmul(m, cg_f32(m, a->momentum), buf)) : buf;
    }
    cg_store_f32(m, k->w.in[0], i, cg_fadd(m, p, cg_fmul(m, cg_fneg(m, k->s[0]), d)));
}

/* (p, g, m, v [, factor]), s = (step size, sqrt(1 − beta2^t), AdamW's shrink). */
static void adam(Gk *k, LLVMValueRef i)
{
    CgModule *m = M(k);
    const IrAttrs *a = &k->w.n->a;
    double b1 = a->beta1, b2 = a->beta2;
    LLVMValueRef p = ld(k, 0, i), g = grad_at(k, 4, i);
    if (a->decoupled)
        p = cg_fmul(m, p, k->s[2]);
    else if ((float)a->weight_decay != 0.0f)
        g = cg_fadd(m, g, cg_fmul(m, cg_f32(m, (float)a->weight_decay), p));
    LLVMValueRef mi = cg_fadd(m, cg_fmul(m, ld(k, 2, i), cg_f32(m, (float)b1)),
                              cg_fmul(m, cg_f32(m, (float)(1.0 - b1)), g));
    LLVMValueRef vi = cg_fadd(m, cg_fmul(m, ld(k, 3, i), cg_f32(m, (float)b2)),
                              cg_fmul(m, cg_fmul(m, cg_f32(m, (float)(1.0 - b2)), g), g));
    cg_store_f32(m, k->w.in[2], i, mi);
    cg_store_f32(m, k->w.in[3], i, vi);
    LLVMValueRef denom = cg_fadd(m, cg_fdiv(m, cg_math(m, CG_MATH_SQRT, vi), k->s[1]),
                                 cg_f32(m, a->eps));
    LLVMValueRef upd = cg_fdiv(m, cg_fmul(m, cg_fneg(m, k->s[0]), mi), denom);
    cg_store_f32(m, k->w.in[0], i, cg_fadd(m, p, upd));
}

static void emit_update(Gk *k)
{
    GkLoop s;
    stride_begin(k, &s, lw_count(&k->w, T(k, 0)));
    if (k->w.n->op == IR_OP_SGD_UPDATE)
        sgd(k, s.i);
    else
        adam(k, s.i);
    stride_end(k, &s);
    LwIf f;     /* an update's own value is 0 */
    first_thread(k, &f);
    cg_store_f32(M(k), k->w.out, C(k, 0), cg_f32(M(k), 0.0f));
    lw_endif(&k->w, &f);
}

/* ----------------------------------------------------------- reductions */

/* log Σ_c exp(x[c]) of row x (C floats) in double: max, then the shifted sum. */
static LLVMValueRef row_lse(Gk *k, LLVMValueRef x, int64_t Cn)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    LLVMValueRef mx = lw_slot(w, m->t_f32, cg_load_f32(m, x, C(k, 0)));
    CgLoop l;
    cg_loop_begin(m, &l, C(k, 1), C(k, Cn), "c");
    LLVMValueRef v = cg_load_f32(m, x, l.i), cur = lw_get(w, m->t_f32, mx);
    lw_set(w, mx, fsel(k, LLVMBuildFCmp(m->b, LLVMRealOGT, v, cur, ""), v, cur));
    cg_loop_end(m, &l);
    LLVMValueRef mxv = lw_get(w, m->t_f32, mx);
    LLVMValueRef sum = lw_slot(w, w->t_f64, lw_f64(w, 0.0));
    cg_loop_begin(m, &l, C(k, 0), C(k, Cn), "c");
    LLVMValueRef e = cg_fexp(m, cg_fsub(m, cg_load_f32(m, x, l.i), mxv));
    lw_set(w, sum, cg_fadd(m, lw_get(w, w->t_f64, sum), lw_ext(w, e)));
    cg_loop_end(m, &l);
    LLVMValueRef lg = cg_flog(m, lw_trunc(w, lw_get(w, w->t_f64, sum)));
    return cg_fadd(m, lw_ext(w, mxv), lw_ext(w, lg));
}

/* (logits[R, C], labels[R]) -> [mean loss, #rows whose first arg-max is the label] */
static void cross_entropy(Gk *k)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    const IrType *t = T(k, 0);
    int64_t Cn = lw_last_dim(t);
    LLVMValueRef R = lw_rows(w, t);
    LLVMValueRef loss = lw_slot(w, w->t_f64, lw_f64(w, 0.0));
    LLVMValueRef hits = lw_slot(w, m->t_i64, C(k, 0));
    CgLoop r;
    cg_loop_begin(m, &r, C(k, 0), R, "r");
    LLVMValueRef x = lw_off(w, w->in[0], lw_mul(w, r.i, C(k, Cn)));
    LLVMValueRef lab = lw_load_i32(w, w->in[1], r.i);
    LLVMValueRef term = cg_fsub(m, row_lse(k, x, Cn), lw_ext(w, cg_load_f32(m, x, lab)));
    lw_set(w, loss, cg_fadd(m, lw_get(w, w->t_f64, loss), term));
    LLVMValueRef best = lw_slot(w, m->t_i64, C(k, 0));
    CgLoop c;
    cg_loop_begin(m, &c, C(k, 1), C(k, Cn), "c");
    LLVMValueRef b = lw_get(w, m->t_i64, best);
    LLVMValueRef gt = LLVMBuildFCmp(m->b, LLVMRealOGT, cg_load_f32(m, x, c.i),
                                    cg_load_f32(m, x, b), "");
    lw_set(w, best, LLVMBuildSelect(m->b, gt, c.i, b, ""));
    cg_loop_end(m, &c);
    LLVMValueRef hit = LLVMBuildICmp(m->b, LLVMIntEQ, lw_get(w, m->t_i64, best), lab, "");
    lw_set(w, hits, lw_add(w, lw_get(w, m->t_i64, hits), LLVMBuildZExt(m->b, hit, m->t_i64, "")));
    cg_loop_end(m, &r);
    LLVMValueRef mean = cg_fdiv(m, lw_get(w, w->t_f64, loss), lw_i2d(w, R));
    cg_store_f32(m, w->out, C(k, 0), lw_trunc(w, mean));
    cg_store_f32(m, w->out, C(k, 1),
                 LLVMBuildSIToFP(m->b, lw_get(w, m->t_i64, hits), m->t_f32, ""));
}

/* (dl, logits, labels): row r = dl / R · (softmax(x_r) − onehot(label_r)) */
static void cross_entropy_grad(Gk *k)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    const IrType *t = T(k, 1);
    int64_t Cn = lw_last_dim(t);
    LLVMValueRef R = lw_rows(w, t);
    LLVMValueRef scale = cg_fdiv(m, lw_ext(w, ld(k, 0, C(k, 0))), lw_i2d(w, R));
    GkLoop s;
    stride_begin(k, &s, R);
    LLVMValueRef x = lw_off(w, w->in[1], lw_mul(w, s.i, C(k, Cn)));
    LLVMValueRef y = lw_off(w, w->out, lw_mul(w, s.i, C(k, Cn)));
    LLVMValueRef lse = row_lse(k, x, Cn), lab = lw_load_i32(w, w->in[2], s.i);
    CgLoop c;
    cg_loop_begin(m, &c, C(k, 0), C(k, Cn), "c");
    LLVMValueRef z = lw_trunc(w, cg_fsub(m, lw_ext(w, cg_load_f32(m, x, c.i)), lse));
    LLVMValueRef p = lw_ext(w, cg_fexp(m, z));
    LLVMValueRef is = LLVMBuildICmp(m->b, LLVMIntEQ, c.i, lab, "");
    p = cg_fsub(m, p, LLVMBuildSelect(m->b, is, lw_f64(w, 1.0), lw_f64(w, 0.0), ""));
    cg_store_f32(m, y, c.i, lw_trunc(w, cg_fmul(m, scale, p)));
    cg_loop_end(m, &c);
    stride_end(k, &s);
}

/* softmax, log_softmax (x) and their gradients (dy, y), one thread per row:
 *   softmax      y = exp(x − lse)        log_softmax      y = x − lse
 *   softmax_grad dx = y·(dy − Σ dy·y)    log_softmax_grad dx = dy − exp(y)·Σ dy
 * with lse and the sums in double, as the reference. */
static void softmax_rows(Gk *k)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    IrOp op = w->n->op;
    int64_t Cn = lw_last_dim(&w->n->type);
    bool grad = op == IR_OP_SOFTMAX_GRAD || op == IR_OP_LOG_SOFTMAX_GRAD;
    GkLoop s;
    stride_begin(k, &s, lw_rows(w, &w->n->type));
    LLVMValueRef base = lw_mul(w, s.i, C(k, Cn));
    LLVMValueRef a = lw_off(w, w->in[0], base), y = lw_off(w, w->out, base);
    LLVMValueRef b = grad ? lw_off(w, w->in[1], base) : NULL;    /* y of the forward */
    LLVMValueRef red = NULL;
    if (!grad) {
        red = row_lse(k, a, Cn);
    } else {    /* Σ dy·y, or Σ dy */
        LLVMValueRef acc = lw_slot(w, w->t_f64, lw_f64(w, 0.0));
        CgLoop c;
        cg_loop_begin(m, &c, C(k, 0), C(k, Cn), "c");
        LLVMValueRef t = lw_ext(w, cg_load_f32(m, a, c.i));
        if (op == IR_OP_SOFTMAX_GRAD)
            t = cg_fmul(m, t, lw_ext(w, cg_load_f32(m, b, c.i)));
        lw_set(w, acc, cg_fadd(m, lw_get(w, w->t_f64, acc), t));
        cg_loop_end(m, &c);
        red = lw_get(w, w->t_f64, acc);
    }
    CgLoop c;
    cg_loop_begin(m, &c, C(k, 0), C(k, Cn), "c");
    LLVMValueRef v = lw_ext(w, cg_load_f32(m, a, c.i)), r;
    switch (op) {
    case IR_OP_SOFTMAX: r = lw_ext(w, cg_fexp(m, lw_trunc(w, cg_fsub(m, v, red)))); break;
    case IR_OP_LOG_SOFTMAX: r = cg_fsub(m, v, red); break;
    case IR_OP_SOFTMAX_GRAD:
        r = cg_fmul(m, lw_ext(w, cg_load_f32(m, b, c.i)), cg_fsub(m, v, red));
        break;
    default:    /* log_softmax_grad */
        r = cg_fsub(m, v, cg_fmul(m, lw_ext(w, cg_fexp(m, cg_load_f32(m, b, c.i))), red));
        break;
    }
    cg_store_f32(m, y, c.i, lw_trunc(w, r));
    cg_loop_end(m, &c);
    stride_end(k, &s);
}

/* bias_grad: db[c] = Σ_{o, s} dy[(o·C + c)·S + s] in double, one thread per c */
static void bias_grad(Gk *k)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    const IrType *t = T(k, 0);
    int ax = w->n->a.axis < 0 ? t->rank - 1 : w->n->a.axis;
    int64_t Cn = t->dim[ax], S = 1;
    for (int d = ax + 1; d < t->rank; d++)
        S *= t->dim[d];
    LLVMValueRef outer = LLVMBuildUDiv(m->b, lw_count(w, t), C(k, Cn * S), "");
    GkLoop s;
    stride_begin(k, &s, C(k, Cn));
    LLVMValueRef acc = lw_slot(w, w->t_f64, lw_f64(w, 0.0));
    CgLoop o, q;
    cg_loop_begin(m, &o, C(k, 0), outer, "o");
    LLVMValueRef base = lw_mul(w, lw_mad(w, o.i, C(k, Cn), s.i), C(k, S));
    cg_loop_begin(m, &q, C(k, 0), C(k, S), "s");
    LLVMValueRef v = lw_ext(w, ld(k, 0, lw_add(w, base, q.i)));
    lw_set(w, acc, cg_fadd(m, lw_get(w, w->t_f64, acc), v));
    cg_loop_end(m, &q);
    cg_loop_end(m, &o);
    cg_store_f32(m, w->out, s.i, lw_trunc(w, lw_get(w, w->t_f64, acc)));
    stride_end(k, &s);
}

/* reduce_batch: y[j] = Σ_b dy[b·L + j], float adds in batch order (rk_acc) */
static void reduce_batch(Gk *k)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    LLVMValueRef L = lw_count(w, &w->n->type);
    GkLoop s;
    stride_begin(k, &s, L);
    LLVMValueRef acc = lw_slot(w, m->t_f32, cg_f32(m, 0.0f));
    CgLoop b;
    cg_loop_begin(m, &b, C(k, 0), w->N, "b");
    lw_set(w, acc, cg_fadd(m, lw_get(w, m->t_f32, acc), ld(k, 0, lw_mad(w, b.i, L, s.i))));
    cg_loop_end(m, &b);
    cg_store_f32(m, w->out, s.i, lw_get(w, m->t_f32, acc));
    stride_end(k, &s);
}

/* Σ over operand a's elements of f(i) in double (serial kernels). */
static LLVMValueRef dsum(Gk *k, LLVMValueRef L, LLVMValueRef (*f)(Gk *, LLVMValueRef))
{
    Lw *w = &k->w;
    LLVMValueRef acc = lw_slot(w, w->t_f64, lw_f64(w, 0.0));
    CgLoop l;
    cg_loop_begin(M(k), &l, C(k, 0), L, "i");
    lw_set(w, acc, cg_fadd(M(k), lw_get(w, w->t_f64, acc), f(k, l.i)));
    cg_loop_end(M(k), &l);
    return lw_get(w, w->t_f64, acc);
}

static LLVMValueRef sq_term(Gk *k, LLVMValueRef i)
{
    LLVMValueRef v = lw_ext(&k->w, ld(k, 0, i));
    return cg_fmul(M(k), v, v);
}

static LLVMValueRef mse_term(Gk *k, LLVMValueRef i)
{
    LLVMValueRef e = cg_fsub(M(k), lw_ext(&k->w, ld(k, 0, i)), lw_ext(&k->w, ld(k, 1, i)));
    return cg_fmul(M(k), e, e);
}

static void serial(Gk *k)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    LwIf f;
    first_thread(k, &f);
    switch (w->n->op) {
    case IR_OP_CROSS_ENTROPY: cross_entropy(k); break;
    case IR_OP_FILL: cg_store_f32(m, w->out, C(k, 0), cg_f32(m, w->n->a.scalar)); break;
    case IR_OP_SUMSQ:
        cg_store_f32(m, w->out, C(k, 0), lw_trunc(w, dsum(k, lw_count(w, T(k, 0)), sq_term)));
        break;
    case IR_OP_MSE: {
        LLVMValueRef L = lw_count(w, T(k, 0));
        LLVMValueRef mean = cg_fdiv(m, dsum(k, L, mse_term), lw_i2d(w, L));
        cg_store_f32(m, w->out, C(k, 0), lw_trunc(w, mean));
        break;
    }
    case IR_OP_CLIP_FACTOR: {   /* ‖g‖ > clip ? clip / (‖g‖ + 1e-6) : 1 */
        LLVMValueRef norm = lw_math64(w, LW_SQRT, lw_ext(w, ld(k, 0, C(k, 0))), NULL);
        LLVMValueRef clip = lw_f64(w, (double)w->n->a.scalar);
        LLVMValueRef fct = lw_trunc(w, cg_fdiv(m, clip, cg_fadd(m, norm, lw_f64(w, 1e-6))));
        LLVMValueRef big = LLVMBuildFCmp(m->b, LLVMRealOGT, norm, clip, "");
        cg_store_f32(m, w->out, C(k, 0), fsel(k, big, fct, cg_f32(m, 1.0f)));
        break;
    }
    default: IR_ASSERT(!"not a serial op");
    }
    lw_endif(w, &f);
}

/* ----------------------------------------------------- matrix products */

/* C (M, N) = op(A) · op(B), row-major; A stored (M, K) or (K, M) when ta,
 * B stored (K, N) or (N, K) when tb. */
typedef struct GkMM {
    bool ta, tb;
    LLVMValueRef A, B, Cp, M, N, K;
    int64_t tiles_n;            /* ceil(N / TILE), N is never batched */
} GkMM;

static GkMM mm_of(Gk *k)
{
    Lw *w = &k->w;
    const IrNode *n = w->n;
    GkMM p = {0};
    p.Cp = w->out;
    if (n->op == IR_OP_MATMUL || n->op == IR_OP_MATMUL_BIAS) {  /* x (R, IN) · w (IN, OUT) */
        p.A = w->in[0], p.B = w->in[1];
        p.M = lw_rows(w, T(k, 0)), p.K = C(k, T(k, 1)->dim[0]), p.N = C(k, T(k, 1)->dim[1]);
        p.tiles_n = (T(k, 1)->dim[1] + TILE - 1) / TILE;
    } else if (n->op == IR_OP_MATMUL_GRAD_X) { /* dy (R, OUT) · wᵀ, w (IN, OUT) */
        p.A = w->in[0], p.B = w->in[1], p.tb = true;
        p.M = lw_rows(w, T(k, 0)), p.K = C(k, T(k, 1)->dim[1]), p.N = C(k, T(k, 1)->dim[0]);
        p.tiles_n = (T(k, 1)->dim[0] + TILE - 1) / TILE;
    } else {                                /* xᵀ · dy: x (R, IN), dy (R, OUT) */
        p.A = w->in[0], p.B = w->in[1], p.ta = true;
        p.M = C(k, lw_last_dim(T(k, 0))), p.K = lw_rows(w, T(k, 0));
        p.N = C(k, lw_last_dim(T(k, 1)));
        p.tiles_n = (lw_last_dim(T(k, 1)) + TILE - 1) / TILE;
    }
    return p;
}

static LLVMValueRef imin(Gk *k, LLVMValueRef a, LLVMValueRef b)
{
    CgModule *m = M(k);
    return LLVMBuildSelect(m->b, LLVMBuildICmp(m->b, LLVMIntSLT, a, b, ""), a, b, "");
}

/* op(A)[i, kk] and op(B)[kk, j] */
static LLVMValueRef mm_a(Gk *k, const GkMM *p, LLVMValueRef i, LLVMValueRef kk)
{
    return cg_load_f32(M(k), p->A, p->ta ? lw_mad(&k->w, kk, p->M, i) : lw_mad(&k->w, i, p->K, kk));
}

static LLVMValueRef mm_b(Gk *k, const GkMM *p, LLVMValueRef kk, LLVMValueRef j)
{
    return cg_load_f32(M(k), p->B, p->tb ? lw_mad(&k->w, j, p->K, kk) : lw_mad(&k->w, kk, p->N, j));
}

/* Each thread: a TILE × TILE tile of C in registers. Rows and columns past
 * the edge read a clamped (valid) index and are not stored. */
static void matmul(Gk *k)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    GkMM p = mm_of(k);
    LLVMValueRef tn = C(k, p.tiles_n);
    LLVMValueRef tiles_m = LLVMBuildUDiv(m->b, lw_add(w, p.M, C(k, TILE - 1)), C(k, TILE), "");
    GkLoop s;
    stride_begin(k, &s, lw_mul(w, tiles_m, tn));
    LLVMValueRef i0 = lw_mul(w, LLVMBuildUDiv(m->b, s.i, tn, ""), C(k, TILE));
    LLVMValueRef j0 = lw_mul(w, LLVMBuildURem(m->b, s.i, tn, ""), C(k, TILE));
    LLVMValueRef acc[TILE][TILE], ii[TILE], jj[TILE];
    LLVMValueRef Mlast = LLVMBuildSub(m->b, p.M, C(k, 1), "");
    LLVMValueRef Nlast = LLVMBuildSub(m->b, p.N, C(k, 1), "");
    for (int r = 0; r < TILE; r++) {
        ii[r] = imin(k, lw_add(w, i0, C(k, r)), Mlast);
        jj[r] = imin(k, lw_add(w, j0, C(k, r)), Nlast);
        for (int c = 0; c < TILE; c++)
            acc[r][c] = lw_slot(w, m->t_f32, cg_f32(m, 0.0f));
    }
    CgLoop l;
    cg_loop_begin(m, &l, C(k, 0), p.K, "k");
    LLVMValueRef a[TILE], b[TILE];
    for (int r = 0; r < TILE; r++) {
        a[r] = mm_a(k, &p, ii[r], l.i);
        b[r] = mm_b(k, &p, l.i, jj[r]);
    }
    for (int r = 0; r < TILE; r++)
        for (int c = 0; c < TILE; c++)
            lw_set(w, acc[r][c], cg_fadd(m, lw_get(w, m->t_f32, acc[r][c]),
                                         cg_fmul(m, a[r], b[c])));
    cg_loop_end(m, &l);
    for (int r = 0; r < TILE; r++)
        for (int c = 0; c < TILE; c++) {
            LLVMValueRef i = lw_add(w, i0, C(k, r)), j = lw_add(w, j0, C(k, c));
            LLVMValueRef in = LLVMBuildAnd(m->b, LLVMBuildICmp(m->b, LLVMIntSLT, i, p.M, ""),
                                           LLVMBuildICmp(m->b, LLVMIntSLT, j, p.N, ""), "");
            LwIf f;
            lw_if(w, &f, in);
            LLVMValueRef at = lw_mad(w, i, p.N, j), v = lw_get(w, m->t_f32, acc[r][c]);
            if (w->n->op == IR_OP_MATMUL_BIAS) {   /* + b[j] (+ r[i, j]) */
                v = cg_fadd(m, v, cg_load_f32(m, w->in[2], j));
                if (w->n->n_in == 4)
                    v = cg_fadd(m, v, cg_load_f32(m, w->in[3], at));
            }
            cg_store_f32(m, p.Cp, at, v);
            lw_endif(w, &f);
        }
    stride_end(k, &s);
}

/* ------------------------------------------------------------ dispatch */

void gk_work(const IrGraph *g, const IrNode *n, int64_t *work0, int64_t *work_n, int64_t *div,
             int64_t *mul)
{
    const IrType *t = &n->type;
    *div = *mul = 1;
    *work0 = *work_n = 0;
    switch (gk_kind(n->op)) {
    case GK_PARAM:
        t = &g->nodes[n->in[0]]->type;
        break;
    case GK_ROW:    /* cross_entropy_grad: the logits' rows; the softmax family: its own */
        if (n->op == IR_OP_CROSS_ENTROPY_GRAD)
            t = &g->nodes[n->in[1]]->type;
        *div = lw_last_dim(t);
        break;
    case GK_CHAN:
        if (n->op == IR_OP_BIAS_GRAD)
            t = &n->type;
        break;
    case GK_TILE: {
        int64_t M0, Mn, N;      /* M = M0 + Mn·n */
        const IrType *a = &g->nodes[n->in[0]]->type, *b = &g->nodes[n->in[1]]->type;
        int64_t rows = ir_type_numel(a) / lw_last_dim(a);
        bool batched = ir_type_batched(a);
        if (n->op == IR_OP_MATMUL_GRAD_W) {
            M0 = lw_last_dim(a), Mn = 0, N = lw_last_dim(b);
        } else {
            M0 = batched ? 0 : rows, Mn = batched ? rows : 0;
            N = n->op == IR_OP_MATMUL_GRAD_X ? b->dim[0] : b->dim[1];
        }
        *work0 = M0, *work_n = Mn, *div = TILE, *mul = (N + TILE - 1) / TILE;
        return;
    }
    default:
        break;
    }
    if (ir_type_batched(t))
        *work_n = ir_type_numel(t);
    else
        *work0 = ir_type_numel(t);
}

void gk_emit_body(Gk *k)
{
    switch (gk_kind(k->w.n->op)) {
    case GK_ELEM:
    case GK_CONV:
    case GK_GATHER: emit_elem(k); return;
    case GK_PARAM: emit_update(k); return;
    case GK_ROW:
        if (k->w.n->op == IR_OP_CROSS_ENTROPY_GRAD)
            cross_entropy_grad(k);
        else
            softmax_rows(k);
        return;
    case GK_CHAN:
        if (k->w.n->op == IR_OP_BIAS_GRAD)
            bias_grad(k);
        else
            reduce_batch(k);
        return;
    case GK_TILE: matmul(k); return;
    case GK_SERIAL: serial(k); return;
    case GK_NONE:
    case GK_SKIP: break;
    }
    IR_ASSERT(!"gk_emit_body: no kernel");
}
