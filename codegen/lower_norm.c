/* lower_norm.c — kernels for the row-wise ops: softmax and log-softmax (and
 * their gradients from the saved output), LayerNorm (forward; the input and
 * gain gradients recompute the row statistics, as the interpreter does),
 * BatchNorm (per channel over the batch; the same recomputation),
 * cross-entropy over class / position targets (mean loss and #correct into
 * the two floats of its buffer) and its gradient, mean squared error, and the
 * embedding gather / scatter-add.
 *
 * Rows are the leading dims flattened (R) by the last dim (C or D). Every row
 * sum accumulates in double and rounds once (runtime/kernels/norm.c); row
 * maxima and arg-maxima are vectorized reductions (exact); the per-element
 * exponentials are float (cg_fmath.c, within 1 ulp) and so is LayerNorm's
 * forward output, from double statistics; results agree with the
 * interpreter to a few float roundings (bit for bit under no_contract,
 * which keeps the reference's double arithmetic).
 */
#include "lower_impl.h"

static LLVMValueRef ldx(Lw *w, LLVMValueRef base, LLVMValueRef i)
{
    return lw_ext(w, cg_load_f32(w->m, base, i));
}

static void st(Lw *w, LLVMValueRef base, LLVMValueRef i, LLVMValueRef d)
{
    cg_store_f32(w->m, base, i, lw_trunc(w, d));
}

/* Without contraction (CgOptions.no_contract) kernels reproduce the
 * reference bit for bit, so the exponentials are libm's, in double. */

/* e^d for a double d: cg_fexp of d rounded to float, widened again */
static LLVMValueRef fexp_of(Lw *w, LLVMValueRef d)
{
    if (lw_ref_math(w))
        return lw_math64(w, LW_EXP, d, NULL);
    return lw_ext(w, cg_fexp(w->m, lw_trunc(w, d)));
}

/* The maximum of a row of C: a maxnum reduction marked no-NaN, so that it
 * vectorizes (a NaN in the row makes the exponentials and their sum NaN all
 * the same). The maximum is exact, whatever order the lanes take. */
static LLVMValueRef row_max(Lw *w, LLVMValueRef xr, int64_t C)
{
    CgModule *m = w->m;
    LLVMValueRef mx = lw_slot(w, m->t_f32, cg_load_f32(m, xr, lw_c(w, 0)));
    CgLoop c;
    cg_loop_begin(m, &c, lw_c(w, 1), lw_c(w, C), "c");
    LLVMValueRef v = cg_fmax(m, lw_get(w, m->t_f32, mx), cg_load_f32(m, xr, c.i));
    LLVMSetFastMathFlags(v, LLVMFastMathNoNaNs | LLVMFastMathNoSignedZeros |
                            LLVMFastMathAllowReassoc);
    lw_set(w, mx, v);
    cg_loop_end(m, &c);
    return lw_get(w, m->t_f32, mx);
}

/* log Σ_c exp(x[c]) of one row, shifted by the row max: the exponentials
 * in float (cg_fexp, so the loop vectorizes), their sum and the one log per
 * row in double. */
static LLVMValueRef row_lse(Lw *w, LLVMValueRef xr, int64_t C)
{
    CgModule *m = w->m;
    LLVMValueRef mxf = row_max(w, xr, C), mxd = lw_ext(w, mxf);
    LwSum s;
    lw_sum_begin(w, &s, lw_c(w, 0), lw_c(w, C));
    LLVMValueRef xc = cg_load_f32(m, xr, s.l.i);
    LLVMValueRef e = lw_ref_math(w) ? lw_math64(w, LW_EXP, cg_fsub(m, lw_ext(w, xc), mxd), NULL)
                                 : lw_ext(w, cg_fexp(m, cg_fsub(m, xc, mxf)));
    lw_sum_add(w, &s, e);
    return cg_fadd(m, mxd, lw_math64(w, LW_LOG, lw_sum_end(w, &s), NULL));
}

/* ---------------------------------------------------------------- softmax */

void lower_softmax(Lw *w)
{
    CgModule *m = w->m;
    IrOp op = w->n->op;
    const IrType *t = &w->n->type;
    int64_t C = lw_last_dim(t);
    CgLoop r, c;
    cg_loop_begin(m, &r, lw_c(w, 0), lw_rows(w, t), "r");
    LLVMValueRef off = lw_mul(w, r.i, lw_c(w, C));
    LLVMValueRef a = lw_off(w, w->in[0], off), y = lw_off(w, w->out, off), row = NULL;
    LLVMValueRef b = op == IR_OP_SOFTMAX_GRAD || op == IR_OP_LOG_SOFTMAX_GRAD
                         ? lw_off(w, w->in[1], off) : NULL;
    LwSum s;
    if (op == IR_OP_SOFTMAX || op == IR_OP_LOG_SOFTMAX) {
        row = row_lse(w, a, C);
    } else {        /* grads (dy, y): Σ dy·y for softmax, Σ dy for log-softmax */
        lw_sum_begin(w, &s, lw_c(w, 0), lw_c(w, C));
        LLVMValueRef dy = ldx(w, a, s.l.i);
        lw_sum_add(w, &s, op == IR_OP_SOFTMAX_GRAD ? cg_fmul(m, dy, ldx(w, b, s.l.i)) : dy);
        row = lw_sum_end(w, &s);
    }
    cg_loop_begin(m, &c, lw_c(w, 0), lw_c(w, C), "c");
    LLVMValueRef v = ldx(w, a, c.i);
    switch (op) {
    case IR_OP_SOFTMAX: v = fexp_of(w, cg_fsub(m, v, row)); break;
    case IR_OP_LOG_SOFTMAX: v = cg_fsub(m, v, row); break;
    case IR_OP_SOFTMAX_GRAD: v = cg_fmul(m, ldx(w, b, c.i), cg_fsub(m, v, row)); break;
    case IR_OP_LOG_SOFTMAX_GRAD: {  /* dy - exp(y)·Σdy */
        LLVMValueRef e = fexp_of(w, ldx(w, b, c.i));
        v = cg_fsub(m, v, cg_fmul(m, e, row));
        break;
    }
    default:
        IR_ASSERT(!"lower_softmax: not a softmax op");
    }
    st(w, y, c.i, v);
    cg_loop_end(m, &c);
    cg_loop_end(m, &r);
}

/* -------------------------------------------------------------- layernorm */

/* Mean and 1/sqrt(biased var + eps) of one row of D, in double. */
static void ln_stats(Lw *w, LLVMValueRef xr, int64_t D, LLVMValueRef *mean, LLVMValueRef *rstd)
{
    CgModule *m = w->m;
    LwSum s;
    lw_sum_begin(w, &s, lw_c(w, 0), lw_c(w, D));
    lw_sum_add(w, &s, ldx(w, xr, s.l.i));
    LLVMValueRef mu = cg_fdiv(m, lw_sum_end(w, &s), lw_f64(w, (double)D));
    lw_sum_begin(w, &s, lw_c(w, 0), lw_c(w, D));
    LLVMValueRef e = cg_fsub(m, ldx(w, xr, s.l.i), mu);
    lw_sum_add(w, &s, cg_fmul(m, e, e));
    LLVMValueRef var = cg_fdiv(m, lw_sum_end(w, &s), lw_f64(w, (double)D));
    LLVMValueRef sd = lw_math64(w, LW_SQRT, cg_fadd(m, var, lw_f64(w, (double)w->n->a.eps)), NULL);
    *mean = mu;
    *rstd = cg_fdiv(m, lw_f64(w, 1.0), sd);
}

/* The statistics as the interpreter saves them: rounded to float. */
static void ln_saved(Lw *w, LLVMValueRef xr, int64_t D, LLVMValueRef *mean, LLVMValueRef *rstd)
{
    ln_stats(w, xr, D, mean, rstd);
    *mean = lw_ext(w, lw_trunc(w, *mean));
    *rstd = lw_ext(w, lw_trunc(w, *rstd));
}

/* The row statistics for float arithmetic: the mean as a sum of two
 * floats (hi, lo) and 1/std rounded once, so that x - mean stays accurate
 * when the mean is large against the spread (x - hi is exact there). */
static void ln_float_stats(Lw *w, LLVMValueRef mu, LLVMValueRef rs, LLVMValueRef c[3])
{
    c[0] = lw_trunc(w, mu);
    c[1] = lw_trunc(w, cg_fsub(w->m, mu, lw_ext(w, c[0])));
    c[2] = lw_trunc(w, rs);
}

/* (x - mean)·rstd in float, from ln_float_stats. */
static LLVMValueRef ln_xhat(Lw *w, LLVMValueRef x, const LLVMValueRef c[3])
{
    CgModule *m = w->m;
    return cg_fmul(m, cg_fsub(m, cg_fsub(m, x, c[0]), c[1]), c[2]);
}

void lower_layernorm(Lw *w)
{
    CgModule *m = w->m;
    IrOp op = w->n->op;
    const IrType *t = lw_type(w, ir_op_info(op)->x);
    int64_t D = lw_last_dim(t);
    LLVMValueRef acc = w->scratch, mu, rs;
    if (op == IR_OP_LAYERNORM_GRAD_G)
        lw_zero(w, acc, lw_c(w, 2 * D));
    CgLoop r, d;
    cg_loop_begin(m, &r, lw_c(w, 0), lw_rows(w, t), "r");
    LLVMValueRef off = lw_mul(w, r.i, lw_c(w, D)), y = lw_off(w, w->out, off);
    if (op == IR_OP_LAYERNORM) {            /* (x, g, b) */
        LLVMValueRef x = lw_off(w, w->in[0], off);
        ln_stats(w, x, D, &mu, &rs);
        LLVMValueRef c[3];
        ln_float_stats(w, mu, rs, c);
        cg_loop_begin(m, &d, lw_c(w, 0), lw_c(w, D), "d");
        LLVMValueRef v;
        if (lw_ref_math(w)) {
            LLVMValueRef xh = cg_fmul(m, cg_fsub(m, ldx(w, x, d.i), mu), rs);
            v = lw_trunc(w, cg_fadd(m, cg_fmul(m, xh, ldx(w, w->in[1], d.i)), ldx(w, w->in[2], d.i)));
        } else {
            LLVMValueRef xh = ln_xhat(w, cg_load_f32(m, x, d.i), c);
            v = cg_fadd(m, cg_fmul(m, xh, cg_load_f32(m, w->in[1], d.i)),
                        cg_load_f32(m, w->in[2], d.i));
        }
        cg_store_f32(m, y, d.i, v);
        cg_loop_end(m, &d);
    } else if (op == IR_OP_LAYERNORM_GRAD_G) {  /* (dy, x): acc[d] += dy·xhat */
        LLVMValueRef dy = lw_off(w, w->in[0], off), x = lw_off(w, w->in[1], off);
        ln_saved(w, x, D, &mu, &rs);
        cg_loop_begin(m, &d, lw_c(w, 0), lw_c(w, D), "d");
        LLVMValueRef v = cg_fmul(m, cg_fmul(m, ldx(w, dy, d.i), cg_fsub(m, ldx(w, x, d.i), mu)), rs);
        lw_store_f64(w, acc, d.i, cg_fadd(m, lw_load_f64(w, acc, d.i), v));
        cg_loop_end(m, &d);
    } else {                                /* grad_x (dy, x, g) */
        LLVMValueRef dy = lw_off(w, w->in[0], off), x = lw_off(w, w->in[1], off);
        ln_saved(w, x, D, &mu, &rs);
        LwSum s1, s2;
        lw_sum_begin(w, &s1, lw_c(w, 0), lw_c(w, D));
        LLVMValueRef dxh = cg_fmul(m, ldx(w, dy, s1.l.i), ldx(w, w->in[2], s1.l.i));
        lw_sum_add(w, &s1, dxh);
        LLVMValueRef mg = cg_fdiv(m, lw_sum_end(w, &s1), lw_f64(w, (double)D));
        lw_sum_begin(w, &s2, lw_c(w, 0), lw_c(w, D));
        dxh = cg_fmul(m, ldx(w, dy, s2.l.i), ldx(w, w->in[2], s2.l.i));
        lw_sum_add(w, &s2, cg_fmul(m, cg_fmul(m, dxh, cg_fsub(m, ldx(w, x, s2.l.i), mu)), rs));
        LLVMValueRef mgx = cg_fdiv(m, lw_sum_end(w, &s2), lw_f64(w, (double)D));
        cg_loop_begin(m, &d, lw_c(w, 0), lw_c(w, D), "d");
        dxh = cg_fmul(m, ldx(w, dy, d.i), ldx(w, w->in[2], d.i));
        LLVMValueRef xh = cg_fmul(m, cg_fsub(m, ldx(w, x, d.i), mu), rs);
        LLVMValueRef v = lw_trunc(w, cg_fmul(m, rs, cg_fsub(m, cg_fsub(m, dxh, mg),
                                                            cg_fmul(m, xh, mgx))));
        if (op == IR_OP_LAYERNORM_GRAD_X_ADD)   /* + a, as the add it replaces */
            v = cg_fadd(m, v, cg_load_f32(m, lw_off(w, w->in[3], off), d.i));
        cg_store_f32(m, y, d.i, v);
        cg_loop_end(m, &d);
    }
    cg_loop_end(m, &r);
    if (op == IR_OP_LAYERNORM_GRAD_G) {
        cg_loop_begin(m, &d, lw_c(w, 0), lw_c(w, D), "d");
        st(w, w->out, d.i, lw_load_f64(w, acc, d.i));
        cg_loop_end(m, &d);
    }
}

/* -------------------------------------------------------------- batchnorm */

/* The terms batchnorm sums over a channel's N·S values (element index i). */
typedef enum { BN_X, BN_SQDEV, BN_DY, BN_DY_XHAT } BnTerm;

typedef struct {
    LLVMValueRef x, dy;     /* the input and the upstream gradient (N, C, S) */
    LLVMValueRef mu, sd;    /* the channel's mean and rstd (double) */
} BnCh;

static LLVMValueRef bn_term(Lw *w, const BnCh *ch, BnTerm t, LLVMValueRef i)
{
    CgModule *m = w->m;
    switch (t) {
    case BN_X: return ldx(w, ch->x, i);
    case BN_SQDEV: {
        LLVMValueRef e = cg_fsub(m, ldx(w, ch->x, i), ch->mu);
        return cg_fmul(m, e, e);
    }
    case BN_DY: return ldx(w, ch->dy, i);
    case BN_DY_XHAT:
        return cg_fmul(m, cg_fmul(m, ldx(w, ch->dy, i), cg_fsub(m, ldx(w, ch->x, i), ch->mu)),
                       ch->sd);
    }
    IR_ASSERT(!"bn_term: unknown term");
    return NULL;
}

/* Σ of term t over channel c: per example a sum over its S positions, then
 * their total, in double (the reference's order). */
static LLVMValueRef bn_sum(Lw *w, const BnCh *ch, BnTerm t, LLVMValueRef c, int64_t C, int64_t S)
{
    CgModule *m = w->m;
    LLVMValueRef tot = lw_slot(w, w->t_f64, lw_f64(w, 0.0));
    CgLoop n;
    cg_loop_begin(m, &n, lw_c(w, 0), w->N, "n");
    LLVMValueRef base = lw_mul(w, lw_mad(w, n.i, lw_c(w, C), c), lw_c(w, S));
    LwSum s;
    lw_sum_begin(w, &s, lw_c(w, 0), lw_c(w, S));
    lw_sum_add(w, &s, bn_term(w, ch, t, lw_add(w, base, s.l.i)));
    LLVMValueRef part = lw_sum_end(w, &s);
    lw_set(w, tot, cg_fadd(m, lw_get(w, w->t_f64, tot), part));
    cg_loop_end(m, &n);
    return lw_get(w, w->t_f64, tot);
}

/* The loops over channel c's elements: every example n, every position s of
 * it; returns the element index (n·C + c)·S + s. Close with bn_loop_end. */
static LLVMValueRef bn_loop_begin(Lw *w, CgLoop *n, CgLoop *s, LLVMValueRef c, int64_t C,
                                  int64_t S)
{
    cg_loop_begin(w->m, n, lw_c(w, 0), w->N, "n");
    LLVMValueRef base = lw_mul(w, lw_mad(w, n->i, lw_c(w, C), c), lw_c(w, S));
    cg_loop_begin(w->m, s, lw_c(w, 0), lw_c(w, S), "s");
    return lw_add(w, base, s->i);
}

static void bn_loop_end(Lw *w, CgLoop *n, CgLoop *s)
{
    cg_loop_end(w->m, s);
    cg_loop_end(w->m, n);
}

/* The batch mean and biased variance of channel c (M = N·S values, double). */
static void bn_batch_stats(Lw *w, BnCh *ch, LLVMValueRef c, int64_t C, int64_t S,
                           LLVMValueRef M, LLVMValueRef *var)
{
    ch->mu = cg_fdiv(w->m, bn_sum(w, ch, BN_X, c, C, S), M);
    *var = cg_fdiv(w->m, bn_sum(w, ch, BN_SQDEV, c, C, S), M);
}

static LLVMValueRef bn_rstd(Lw *w, LLVMValueRef var)
{
    LLVMValueRef sd = lw_math64(w, LW_SQRT, cg_fadd(w->m, var, lw_f64(w, (double)w->n->a.eps)),
                                NULL);
    return cg_fdiv(w->m, lw_f64(w, 1.0), sd);
}

/* Training: the batch statistics of channel c into mu/var, and the running
 * ones (in3, in4) moved towards them in place, the variance unbiased. */
static void bn_train_stats(Lw *w, BnCh *ch, LLVMValueRef c, int64_t C, int64_t S,
                           LLVMValueRef M, LLVMValueRef mu, LLVMValueRef var)
{
    CgModule *m = w->m;
    LLVMValueRef v;
    bn_batch_stats(w, ch, c, C, S, M, &v);
    lw_set(w, mu, ch->mu);
    lw_set(w, var, v);
    if (w->n->a.momentum == 0)     /* not written at all (overlap's earlier window) */
        return;
    LLVMValueRef M1 = cg_fsub(m, M, lw_f64(w, 1.0));
    LLVMValueRef more = LLVMBuildFCmp(m->b, LLVMRealOGT, M, lw_f64(w, 1.0), "");
    LLVMValueRef unb = LLVMBuildSelect(m->b, more, cg_fdiv(m, cg_fmul(m, v, M), M1), v, "");
    double mom = w->n->a.momentum;
    LLVMValueRef keep = lw_f64(w, 1.0 - mom), take = lw_f64(w, mom);
    st(w, w->in[3], c, cg_fadd(m, cg_fmul(m, keep, ldx(w, w->in[3], c)), cg_fmul(m, take, ch->mu)));
    st(w, w->in[4], c, cg_fadd(m, cg_fmul(m, keep, ldx(w, w->in[4], c)), cg_fmul(m, take, unb)));
}

/* batchnorm (x, g, b, mean, var): batch statistics while training, else the running ones */
static void bn_forward(Lw *w, LLVMValueRef c, int64_t C, int64_t S, LLVMValueRef M)
{
    CgModule *m = w->m;
    BnCh ch = {.x = w->in[0]};
    LLVMValueRef mu = lw_slot(w, w->t_f64, ldx(w, w->in[3], c));
    LLVMValueRef var = lw_slot(w, w->t_f64, ldx(w, w->in[4], c));
    LwIf f;
    lw_if(w, &f, LLVMBuildICmp(m->b, LLVMIntNE, w->train, lw_c(w, 0), ""));
    bn_train_stats(w, &ch, c, C, S, M, mu, var);
    lw_endif(w, &f);
    ch.mu = lw_get(w, w->t_f64, mu);
    ch.sd = bn_rstd(w, lw_get(w, w->t_f64, var));
    LLVMValueRef g = ldx(w, w->in[1], c), b = ldx(w, w->in[2], c);
    CgLoop n, s;
    LLVMValueRef i = bn_loop_begin(w, &n, &s, c, C, S);
    LLVMValueRef xh = cg_fmul(m, cg_fsub(m, ldx(w, ch.x, i), ch.mu), ch.sd);
    st(w, w->out, i, cg_fadd(m, cg_fmul(m, xh, g), b));
    bn_loop_end(w, &n, &s);
}

/* batchnorm_grad_g (dy, x) and batchnorm_grad_x (dy, x, g), from the batch
 * statistics as the interpreter saves them (rounded to float) */
static void bn_backward(Lw *w, LLVMValueRef c, int64_t C, int64_t S, LLVMValueRef M)
{
    CgModule *m = w->m;
    BnCh ch = {.x = w->in[1], .dy = w->in[0]};
    LLVMValueRef var;
    bn_batch_stats(w, &ch, c, C, S, M, &var);
    ch.sd = lw_ext(w, lw_trunc(w, bn_rstd(w, var)));
    ch.mu = lw_ext(w, lw_trunc(w, ch.mu));
    LLVMValueRef sg = bn_sum(w, &ch, BN_DY_XHAT, c, C, S);
    if (w->n->op == IR_OP_BATCHNORM_GRAD_G) {
        st(w, w->out, c, sg);
        return;
    }
    LLVMValueRef mb = cg_fdiv(m, bn_sum(w, &ch, BN_DY, c, C, S), M), mg = cg_fdiv(m, sg, M);
    LLVMValueRef sdg = cg_fmul(m, ch.sd, ldx(w, w->in[2], c));
    CgLoop n, s;
    LLVMValueRef i = bn_loop_begin(w, &n, &s, c, C, S);
    LLVMValueRef xh = cg_fmul(m, cg_fsub(m, ldx(w, ch.x, i), ch.mu), ch.sd);
    LLVMValueRef v = cg_fsub(m, cg_fsub(m, ldx(w, ch.dy, i), mb), cg_fmul(m, xh, mg));
    st(w, w->out, i, cg_fmul(m, sdg, v));
    bn_loop_end(w, &n, &s);
}

void lower_batchnorm(Lw *w)
{
    const IrType *t = lw_type(w, ir_op_info(w->n->op)->x);
    int64_t C = t->dim[1], S = ir_type_numel(t) / C;
    LLVMValueRef M = lw_i2d(w, lw_mul(w, w->N, lw_c(w, S)));
    CgLoop c;
    cg_loop_begin(w->m, &c, lw_c(w, 0), lw_c(w, C), "c");
    if (w->n->op == IR_OP_BATCHNORM)
        bn_forward(w, c.i, C, S, M);
    else
        bn_backward(w, c.i, C, S, M);
    cg_loop_end(w->m, &c);
}

/* ----------------------------------------------------------------- losses */

/* First arg-max of a row of C: the least index holding the row's maximum,
 * an integer min reduction (vectorizes). A row with a NaN gets C, which
 * matches no label. */
static LLVMValueRef row_argmax(Lw *w, LLVMValueRef xr, int64_t C)
{
    CgModule *m = w->m;
    LLVMValueRef mx = row_max(w, xr, C);
    LLVMValueRef best = lw_slot(w, m->t_i64, lw_c(w, C));
    CgLoop c;
    cg_loop_begin(m, &c, lw_c(w, 0), lw_c(w, C), "c");
    LLVMValueRef eq = LLVMBuildFCmp(m->b, LLVMRealOEQ, cg_load_f32(m, xr, c.i), mx, "");
    LLVMValueRef at = LLVMBuildSelect(m->b, eq, c.i, lw_c(w, C), "");
    LLVMValueRef cur = lw_get(w, m->t_i64, best);
    LLVMValueRef lt = LLVMBuildICmp(m->b, LLVMIntSLT, at, cur, "");
    lw_set(w, best, LLVMBuildSelect(m->b, lt, at, cur, ""));
    cg_loop_end(m, &c);
    return lw_get(w, m->t_i64, best);
}

/* out[0] = mean_r (lse_r - x[r, label_r]), out[1] = #rows whose arg-max is the label. */
void lower_cross_entropy(Lw *w)
{
    CgModule *m = w->m;
    const IrType *t = lw_type(w, 0);
    int64_t C = lw_last_dim(t);
    LLVMValueRef R = lw_rows(w, t);
    LLVMValueRef loss = lw_slot(w, w->t_f64, lw_f64(w, 0.0));
    LLVMValueRef hits = lw_slot(w, m->t_i64, lw_c(w, 0));
    CgLoop r;
    cg_loop_begin(m, &r, lw_c(w, 0), R, "r");
    LLVMValueRef xr = lw_off(w, w->in[0], lw_mul(w, r.i, lw_c(w, C)));
    LLVMValueRef label = lw_load_i32(w, w->in[1], r.i);
    LLVMValueRef term = cg_fsub(m, row_lse(w, xr, C), ldx(w, xr, label));
    lw_set(w, loss, cg_fadd(m, lw_get(w, w->t_f64, loss), term));
    LLVMValueRef hit = LLVMBuildICmp(m->b, LLVMIntEQ, row_argmax(w, xr, C), label, "");
    LLVMValueRef h = LLVMBuildZExt(m->b, hit, m->t_i64, "");
    lw_set(w, hits, lw_add(w, lw_get(w, m->t_i64, hits), h));
    cg_loop_end(m, &r);
    st(w, w->out, lw_c(w, 0), cg_fdiv(m, lw_get(w, w->t_f64, loss), lw_i2d(w, R)));
    LLVMValueRef nh = LLVMBuildSIToFP(m->b, lw_get(w, m->t_i64, hits), m->t_f32, "");
    cg_store_f32(m, w->out, lw_c(w, 1), nh);
}

/* (dloss, logits, labels): dx = dloss/R · (softmax(x) - onehot) */
void lower_cross_entropy_grad(Lw *w)
{
    CgModule *m = w->m;
    const IrType *t = lw_type(w, 1);
    int64_t C = lw_last_dim(t);
    LLVMValueRef R = lw_rows(w, t);
    LLVMValueRef scale = cg_fdiv(m, ldx(w, w->in[0], lw_c(w, 0)), lw_i2d(w, R));
    CgLoop r, c;
    cg_loop_begin(m, &r, lw_c(w, 0), R, "r");
    LLVMValueRef off = lw_mul(w, r.i, lw_c(w, C));
    LLVMValueRef xr = lw_off(w, w->in[1], off), y = lw_off(w, w->out, off);
    LLVMValueRef label = lw_load_i32(w, w->in[2], r.i), lse = row_lse(w, xr, C);
    cg_loop_begin(m, &c, lw_c(w, 0), lw_c(w, C), "c");
    LLVMValueRef p = fexp_of(w, cg_fsub(m, ldx(w, xr, c.i), lse));
    LLVMValueRef is = LLVMBuildICmp(m->b, LLVMIntEQ, c.i, label, "");
    LLVMValueRef one = LLVMBuildSelect(m->b, is, lw_f64(w, 1.0), lw_f64(w, 0.0), "");
    st(w, y, c.i, cg_fmul(m, scale, cg_fsub(m, p, one)));
    cg_loop_end(m, &c);
    cg_loop_end(m, &r);
}

/* mse(pred, target) = mean (p - t)²; grad (dloss, pred, target) = 2·dloss/L·(p - t) */
void lower_mse(Lw *w)
{
    CgModule *m = w->m;
    bool grad = w->n->op == IR_OP_MSE_GRAD;
    LLVMValueRef L = lw_count(w, lw_type(w, ir_op_info(w->n->op)->x));
    if (!grad) {
        LwSum s;
        lw_sum_begin(w, &s, lw_c(w, 0), L);
        LLVMValueRef e = cg_fsub(m, ldx(w, w->in[0], s.l.i), ldx(w, w->in[1], s.l.i));
        lw_sum_add(w, &s, cg_fmul(m, e, e));
        LLVMValueRef sum = lw_sum_end(w, &s);  /* the loop closes before L is converted */
        st(w, w->out, lw_c(w, 0), cg_fdiv(m, sum, lw_i2d(w, L)));
        return;
    }
    LLVMValueRef two = cg_fmul(m, lw_f64(w, 2.0), ldx(w, w->in[0], lw_c(w, 0)));
    LLVMValueRef scale = cg_fdiv(m, two, lw_i2d(w, L));
    CgLoop i;
    cg_loop_begin(m, &i, lw_c(w, 0), L, "i");
    LLVMValueRef e = cg_fsub(m, ldx(w, w->in[1], i.i), ldx(w, w->in[2], i.i));
    st(w, w->out, i.i, cg_fmul(m, scale, e));
    cg_loop_end(m, &i);
}

/* -------------------------------------------------------------- embedding */

/* forward (ids, table): y[r] = table[id] or zeros; grad (dy, ids, table):
 * dtable = 0, then dtable[id] += dy[r]. Ids outside [0, V) are skipped. */
void lower_embedding(Lw *w)
{
    CgModule *m = w->m;
    const IrOpInfo *info = ir_op_info(w->n->op);     /* ids: the x operand, table: w */
    bool grad = w->n->op == IR_OP_EMBEDDING_GRAD;
    const IrType *tab = lw_type(w, info->w);
    int64_t V = tab->dim[0], D = tab->dim[1];
    LLVMValueRef ids = w->in[info->x], Dc = lw_c(w, D);
    if (grad)
        lw_zero(w, w->out, lw_c(w, V * D));
    CgLoop r, d;
    cg_loop_begin(m, &r, lw_c(w, 0), lw_count(w, lw_type(w, info->x)), "r");
    LLVMValueRef id = lw_load_i32(w, ids, r.i);
    LLVMValueRef ok = LLVMBuildICmp(m->b, LLVMIntULT, id, lw_c(w, V), "");
    LLVMValueRef row = lw_mul(w, r.i, Dc), trow = lw_mul(w, id, Dc);
    LwIf f;
    lw_if(w, &f, ok);
    if (grad) {
        cg_loop_begin(m, &d, lw_c(w, 0), Dc, "d");
        LLVMValueRef at = lw_add(w, trow, d.i);
        LLVMValueRef v = cg_load_f32(m, w->in[0], lw_add(w, row, d.i));
        cg_store_f32(m, w->out, at, cg_fadd(m, cg_load_f32(m, w->out, at), v));
        cg_loop_end(m, &d);
    } else {
        lw_copy(w, lw_off(w, w->out, row), lw_off(w, w->in[1], trow), Dc);
        lw_else(w, &f);
        lw_zero(w, lw_off(w, w->out, row), Dc);
    }
    lw_endif(w, &f);
    cg_loop_end(m, &r);
}
