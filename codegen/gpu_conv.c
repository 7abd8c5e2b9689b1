/* gpu_conv.c — GPU kernels of the CNN ops: conv2d (and its fused bias +
 * relu), its two gradients, max/avg pooling and the global average, with
 * their gradients. Every kernel gives one thread to each element of its
 * output and gathers what that element needs, so nothing is accumulated by
 * two threads (no atomics, no barriers):
 *
 *   conv2d        y[n,o,oh,ow] = Σ_{c,i,j} w[o,c,i,j]·x[n,c,oh·S−P+i, ow·S−P+j]
 *   conv2d_grad_x dx[n,c,h,w]  = Σ over (o, i, j) whose output position
 *                 (h+P−i)/S, (w+P−j)/S is whole and inside: dy·w
 *   conv2d_grad_w dw[o,c,i,j]  = Σ_{n,oh,ow} dy[n,o,oh,ow]·x[...] (in double:
 *                 a sum over the whole batch)
 *   maxpool_grad  dx[h,w] = Σ over the windows containing (h, w) whose first
 *                 maximum it is, in the reference's window order (exact)
 *
 * Products sum in float in (c, i, j) order where the reference runs sgemm
 * over im2col, so convolutions agree within the products' tolerance; the
 * pooling kernels reproduce the reference's arithmetic exactly.
 */
#include "cg_layout.h"
#include "gpu_impl.h"

static CgModule *M(Gk *k) { return k->w.m; }
static LLVMValueRef C(Gk *k, int64_t v) { return cg_i64(k->w.m, v); }
static LLVMBuilderRef B(Gk *k) { return k->w.m->b; }

static LLVMValueRef udiv(Gk *k, LLVMValueRef a, int64_t b)
{
    return LLVMBuildUDiv(B(k), a, C(k, b), "");
}
static LLVMValueRef urem(Gk *k, LLVMValueRef a, int64_t b)
{
    return LLVMBuildURem(B(k), a, C(k, b), "");
}
static LLVMValueRef sub(Gk *k, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSub(B(k), a, b, "");
}
static LLVMValueRef and2(Gk *k, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildAnd(B(k), a, b, "");
}
/* 0 <= v < hi (signed) */
static LLVMValueRef inside(Gk *k, LLVMValueRef v, int64_t hi)
{
    return and2(k, LLVMBuildICmp(B(k), LLVMIntSGE, v, C(k, 0), ""),
                LLVMBuildICmp(B(k), LLVMIntSLT, v, C(k, hi), ""));
}
/* base[ok ? idx : 0], 0.0 when !ok: no load outside the buffer */
static LLVMValueRef load_if(Gk *k, LLVMValueRef base, LLVMValueRef ok, LLVMValueRef idx)
{
    LLVMValueRef v = cg_load_f32(M(k), base, LLVMBuildSelect(B(k), ok, idx, C(k, 0), ""));
    return LLVMBuildSelect(B(k), ok, v, cg_f32(M(k), 0.0f), "");
}
/* ((a·B + b)·C + c)·D + d */
static LLVMValueRef at4(Gk *k, LLVMValueRef a, int64_t nb, LLVMValueRef b, int64_t nc,
                        LLVMValueRef c, int64_t nd, LLVMValueRef d)
{
    Lw *w = &k->w;
    return lw_mad(w, lw_mad(w, lw_mad(w, a, C(k, nb), b), C(k, nc), c), C(k, nd), d);
}

/* Index i of an (A, B1, C1, D1) value split into its four coordinates. */
static void split4(Gk *k, LLVMValueRef i, int64_t b1, int64_t c1, int64_t d1, LLVMValueRef *a,
                   LLVMValueRef *b, LLVMValueRef *c, LLVMValueRef *d)
{
    *d = urem(k, i, d1);
    LLVMValueRef t = udiv(k, i, d1);
    *c = urem(k, t, c1);
    t = udiv(k, t, c1);
    *b = urem(k, t, b1);
    *a = udiv(k, t, b1);
}

/* for (v = lo; v < hi; v++) with the index in l->i */
static void loop(Gk *k, CgLoop *l, LLVMValueRef lo, LLVMValueRef hi)
{
    cg_loop_begin(M(k), l, lo, hi, "l");
}

/* -------------------------------------------------------------- conv */

static void conv_fwd(Gk *k, LLVMValueRef i)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    CgConvGeo g = cg_conv_geo(w->g, w->n);
    LLVMValueRef n, o, oh, ow;
    split4(k, i, g.O, g.OH, g.OW, &n, &o, &oh, &ow);
    LLVMValueRef acc = lw_slot(w, m->t_f32, cg_f32(m, 0.0f));
    CgLoop lc, li, lj;
    loop(k, &lc, C(k, 0), C(k, g.C));
    loop(k, &li, C(k, 0), C(k, g.K));
    LLVMValueRef h = lw_add(w, sub(k, lw_mul(w, oh, C(k, g.S)), C(k, g.P)), li.i);
    LLVMValueRef okh = inside(k, h, g.H);
    loop(k, &lj, C(k, 0), C(k, g.K));
    LLVMValueRef x = lw_add(w, sub(k, lw_mul(w, ow, C(k, g.S)), C(k, g.P)), lj.i);
    LLVMValueRef ok = and2(k, okh, inside(k, x, g.W));
    LLVMValueRef xv = load_if(k, w->in[0], ok, at4(k, n, g.C, lc.i, g.H, h, g.W, x));
    LLVMValueRef wv = cg_load_f32(m, w->in[1], at4(k, o, g.C, lc.i, g.K, li.i, g.K, lj.i));
    lw_set(w, acc, cg_fadd(m, lw_get(w, m->t_f32, acc), cg_fmul(m, wv, xv)));
    cg_loop_end(m, &lj);
    cg_loop_end(m, &li);
    cg_loop_end(m, &lc);
    LLVMValueRef y = lw_get(w, m->t_f32, acc);
    if (w->n->op == IR_OP_CONV2D_BIAS_RELU) {
        y = cg_fadd(m, y, cg_load_f32(m, w->in[2], o));
        LLVMValueRef pos = LLVMBuildFCmp(m->b, LLVMRealOGT, y, cg_f32(m, 0.0f), "");
        y = LLVMBuildSelect(m->b, pos, y, cg_f32(m, 0.0f), "");
    }
    cg_store_f32(m, w->out, i, y);
}

/* One coordinate of dx's gather: the output position (v + P − t) / S, and
 * whether it is whole and inside [0, hi). */
static LLVMValueRef out_pos(Gk *k, LLVMValueRef v, LLVMValueRef t, const CgConvGeo *g,
                            int64_t hi, LLVMValueRef *ok)
{
    LLVMValueRef a = sub(k, lw_add(&k->w, v, C(k, g->P)), t);
    LLVMValueRef whole = LLVMBuildICmp(B(k), LLVMIntEQ, LLVMBuildSRem(B(k), a, C(k, g->S), ""),
                                       C(k, 0), "");
    LLVMValueRef q = LLVMBuildSDiv(B(k), a, C(k, g->S), "");
    *ok = and2(k, and2(k, whole, LLVMBuildICmp(B(k), LLVMIntSGE, a, C(k, 0), "")),
               LLVMBuildICmp(B(k), LLVMIntSLT, q, C(k, hi), ""));
    return q;
}

/* The fused relu gradients (maxpool_grad_relu, conv2d_grad_x_relu): v where
 * the relu's output, operand xk, is > 0, else 0; v itself for the plain ops. */
static LLVMValueRef relu_mask(Gk *k, int xk, LLVMValueRef i, LLVMValueRef v)
{
    IrOp op = k->w.n->op;
    if (op != IR_OP_MAXPOOL_GRAD_RELU && op != IR_OP_CONV2D_GRAD_X_RELU)
        return v;
    CgModule *m = M(k);
    LLVMValueRef pos = LLVMBuildFCmp(m->b, LLVMRealOGT, cg_load_f32(m, k->w.in[xk], i),
                                     cg_f32(m, 0.0f), "");
    return LLVMBuildSelect(m->b, pos, v, cg_f32(m, 0.0f), "");
}

/* (dy, w, x) -> dx */
static void conv_grad_x(Gk *k, LLVMValueRef i)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    CgConvGeo g = cg_conv_geo(w->g, w->n);
    LLVMValueRef n, c, h, x;
    split4(k, i, g.C, g.H, g.W, &n, &c, &h, &x);
    LLVMValueRef acc = lw_slot(w, m->t_f32, cg_f32(m, 0.0f));
    CgLoop lo, li, lj;
    loop(k, &lo, C(k, 0), C(k, g.O));
    loop(k, &li, C(k, 0), C(k, g.K));
    LLVMValueRef okh, oh = out_pos(k, h, li.i, &g, g.OH, &okh);
    loop(k, &lj, C(k, 0), C(k, g.K));
    LLVMValueRef okw, ow = out_pos(k, x, lj.i, &g, g.OW, &okw);
    LLVMValueRef ok = and2(k, okh, okw);
    LLVMValueRef dy = load_if(k, w->in[0], ok, at4(k, n, g.O, lo.i, g.OH, oh, g.OW, ow));
    LLVMValueRef wv = cg_load_f32(m, w->in[1], at4(k, lo.i, g.C, c, g.K, li.i, g.K, lj.i));
    lw_set(w, acc, cg_fadd(m, lw_get(w, m->t_f32, acc), cg_fmul(m, dy, wv)));
    cg_loop_end(m, &lj);
    cg_loop_end(m, &li);
    cg_loop_end(m, &lo);
    cg_store_f32(m, w->out, i, relu_mask(k, 2, i, lw_get(w, m->t_f32, acc)));
}

/* (x, dy, w) -> dw, summed in double over the batch and the output positions */
static void conv_grad_w(Gk *k, LLVMValueRef i)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    CgConvGeo g = cg_conv_geo(w->g, w->n);
    LLVMValueRef o, c, ki, kj;
    split4(k, i, g.C, g.K, g.K, &o, &c, &ki, &kj);
    LLVMValueRef acc = lw_slot(w, w->t_f64, lw_f64(w, 0.0));
    CgLoop ln, lh, lw_;
    loop(k, &ln, C(k, 0), w->N);
    loop(k, &lh, C(k, 0), C(k, g.OH));
    LLVMValueRef h = lw_add(w, sub(k, lw_mul(w, lh.i, C(k, g.S)), C(k, g.P)), ki);
    LLVMValueRef okh = inside(k, h, g.H);
    loop(k, &lw_, C(k, 0), C(k, g.OW));
    LLVMValueRef x = lw_add(w, sub(k, lw_mul(w, lw_.i, C(k, g.S)), C(k, g.P)), kj);
    LLVMValueRef ok = and2(k, okh, inside(k, x, g.W));
    LLVMValueRef xv = load_if(k, w->in[0], ok, at4(k, ln.i, g.C, c, g.H, h, g.W, x));
    LLVMValueRef dy = cg_load_f32(m, w->in[1], at4(k, ln.i, g.O, o, g.OH, lh.i, g.OW, lw_.i));
    LLVMValueRef t = cg_fmul(m, lw_ext(w, dy), lw_ext(w, xv));
    lw_set(w, acc, cg_fadd(m, lw_get(w, w->t_f64, acc), t));
    cg_loop_end(m, &lw_);
    cg_loop_end(m, &lh);
    cg_loop_end(m, &ln);
    cg_store_f32(m, w->out, i, lw_trunc(w, lw_get(w, w->t_f64, acc)));
}

/* ----------------------------------------------------------- pooling */

typedef struct Pool {
    int64_t H, W, K, S, OH, OW;
} Pool;

static Pool pool_of(Gk *k)
{
    const IrType *x = lw_type(&k->w, ir_op_info(k->w.n->op)->x);
    Pool p = {x->dim[2], x->dim[3], k->w.n->a.kernel, k->w.n->a.stride, 0, 0};
    p.OH = (p.H - p.K) / p.S + 1;
    p.OW = (p.W - p.K) / p.S + 1;
    return p;
}

/* Offset in plane of the first maximum of window (oh, ow) (strict >: ties
 * keep the first, as the reference). */
static LLVMValueRef window_argmax(Gk *k, const Pool *p, LLVMValueRef plane, LLVMValueRef oh,
                                  LLVMValueRef ow)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    LLVMValueRef h0 = lw_mul(w, oh, C(k, p->S)), w0 = lw_mul(w, ow, C(k, p->S));
    LLVMValueRef best = lw_slot(w, m->t_i64, lw_mad(w, h0, C(k, p->W), w0));
    for (int64_t i = 0; i < p->K; i++)
        for (int64_t j = 0; j < p->K; j++) {
            LLVMValueRef off = lw_mad(w, lw_add(w, h0, C(k, i)), C(k, p->W), lw_add(w, w0, C(k, j)));
            LLVMValueRef b = lw_get(w, m->t_i64, best);
            LLVMValueRef gt = LLVMBuildFCmp(m->b, LLVMRealOGT, cg_load_f32(m, plane, off),
                                            cg_load_f32(m, plane, b), "");
            lw_set(w, best, LLVMBuildSelect(m->b, gt, off, b, ""));
        }
    return lw_get(w, m->t_i64, best);
}

/* x (N·C planes of H×W) -> y (N·C planes of OH×OW) */
static void pool_fwd(Gk *k, LLVMValueRef i)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    Pool p = pool_of(k);
    LLVMValueRef ow = urem(k, i, p.OW), t = udiv(k, i, p.OW);
    LLVMValueRef oh = urem(k, t, p.OH), pl = udiv(k, t, p.OH);
    LLVMValueRef plane = lw_off(w, w->in[0], lw_mul(w, pl, C(k, p.H * p.W)));
    if (w->n->op == IR_OP_MAXPOOL) {
        cg_store_f32(m, w->out, i, cg_load_f32(m, plane, window_argmax(k, &p, plane, oh, ow)));
        return;
    }
    LLVMValueRef acc = cg_f32(m, 0.0f);
    for (int64_t a = 0; a < p.K; a++)
        for (int64_t b = 0; b < p.K; b++) {
            LLVMValueRef hh = lw_add(w, lw_mul(w, oh, C(k, p.S)), C(k, a));
            LLVMValueRef ww = lw_add(w, lw_mul(w, ow, C(k, p.S)), C(k, b));
            acc = cg_fadd(m, acc, cg_load_f32(m, plane, lw_mad(w, hh, C(k, p.W), ww)));
        }
    cg_store_f32(m, w->out, i, cg_fdiv(m, acc, cg_f32(m, (float)(p.K * p.K))));
}

/* The windows containing row (or column) v: [lo, hi). */
static void window_range(Gk *k, const Pool *p, LLVMValueRef v, int64_t n_out, LLVMValueRef *lo,
                         LLVMValueRef *hi)
{
    CgModule *m = M(k);
    LLVMValueRef a = lw_add(&k->w, v, C(k, 1 - p->K));   /* v − K + 1 */
    LLVMValueRef up = udiv(k, lw_add(&k->w, a, C(k, p->S - 1)), p->S);
    *lo = LLVMBuildSelect(m->b, LLVMBuildICmp(m->b, LLVMIntSGT, a, C(k, 0), ""), up, C(k, 0), "");
    LLVMValueRef top = udiv(k, v, p->S);
    LLVMValueRef cap = LLVMBuildICmp(m->b, LLVMIntSLT, top, C(k, n_out - 1), "");
    *hi = lw_add(&k->w, LLVMBuildSelect(m->b, cap, top, C(k, n_out - 1), ""), C(k, 1));
}

/* (dy, x) -> dx: each element gathers the windows that contain it */
static void pool_grad(Gk *k, LLVMValueRef i)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    Pool p = pool_of(k);
    LLVMValueRef x = urem(k, i, p.W), t = udiv(k, i, p.W);
    LLVMValueRef h = urem(k, t, p.H), pl = udiv(k, t, p.H);
    LLVMValueRef plane = lw_off(w, w->in[1], lw_mul(w, pl, C(k, p.H * p.W)));
    LLVMValueRef dy = lw_off(w, w->in[0], lw_mul(w, pl, C(k, p.OH * p.OW)));
    LLVMValueRef me = lw_mad(w, h, C(k, p.W), x), area = cg_f32(m, (float)(p.K * p.K));
    LLVMValueRef hlo, hhi, wlo, whi;
    window_range(k, &p, h, p.OH, &hlo, &hhi);
    window_range(k, &p, x, p.OW, &wlo, &whi);
    LLVMValueRef acc = lw_slot(w, m->t_f32, cg_f32(m, 0.0f));
    CgLoop lh, lw2;
    loop(k, &lh, hlo, hhi);
    loop(k, &lw2, wlo, whi);
    LLVMValueRef d = cg_load_f32(m, dy, lw_mad(w, lh.i, C(k, p.OW), lw2.i));
    if (w->n->op != IR_OP_AVGPOOL_GRAD) {
        LLVMValueRef mine = LLVMBuildICmp(m->b, LLVMIntEQ,
                                          window_argmax(k, &p, plane, lh.i, lw2.i), me, "");
        LwIf f;     /* the reference adds only where the window's maximum is */
        lw_if(w, &f, mine);
        lw_set(w, acc, cg_fadd(m, lw_get(w, m->t_f32, acc), d));
        lw_endif(w, &f);
    } else {
        lw_set(w, acc, cg_fadd(m, lw_get(w, m->t_f32, acc), cg_fdiv(m, d, area)));
    }
    cg_loop_end(m, &lw2);
    cg_loop_end(m, &lh);
    cg_store_f32(m, w->out, i, relu_mask(k, 1, i, lw_get(w, m->t_f32, acc)));
}

/* global_avg_pool: y[p] = Σ_s x[p·HW + s] / HW in double;
 * its gradient: dx[p·HW + s] = (float)(dy[p] / HW) */
static void global_pool(Gk *k, LLVMValueRef i)
{
    Lw *w = &k->w;
    CgModule *m = M(k);
    const IrType *x = lw_type(w, ir_op_info(w->n->op)->x);
    int64_t HW = x->dim[2] * x->dim[3];
    if (w->n->op == IR_OP_GLOBAL_AVG_POOL_GRAD) {
        LLVMValueRef d = lw_ext(w, cg_load_f32(m, w->in[0], udiv(k, i, HW)));
        cg_store_f32(m, w->out, i, lw_trunc(w, cg_fdiv(m, d, lw_f64(w, (double)HW))));
        return;
    }
    LLVMValueRef acc = lw_slot(w, w->t_f64, lw_f64(w, 0.0));
    CgLoop l;
    loop(k, &l, C(k, 0), C(k, HW));
    LLVMValueRef v = lw_ext(w, cg_load_f32(m, w->in[0], lw_mad(w, i, C(k, HW), l.i)));
    lw_set(w, acc, cg_fadd(m, lw_get(w, w->t_f64, acc), v));
    cg_loop_end(m, &l);
    LLVMValueRef mean = cg_fdiv(m, lw_get(w, w->t_f64, acc), lw_f64(w, (double)HW));
    cg_store_f32(m, w->out, i, lw_trunc(w, mean));
}

void gk_emit_conv(Gk *k, LLVMValueRef i)
{
    switch (k->w.n->op) {
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BIAS_RELU: conv_fwd(k, i); return;
    case IR_OP_CONV2D_GRAD_X:
    case IR_OP_CONV2D_GRAD_X_RELU: conv_grad_x(k, i); return;
    case IR_OP_CONV2D_GRAD_W: conv_grad_w(k, i); return;
    case IR_OP_MAXPOOL:
    case IR_OP_AVGPOOL: pool_fwd(k, i); return;
    case IR_OP_MAXPOOL_GRAD:
    case IR_OP_MAXPOOL_GRAD_RELU:
    case IR_OP_AVGPOOL_GRAD: pool_grad(k, i); return;
    case IR_OP_GLOBAL_AVG_POOL:
    case IR_OP_GLOBAL_AVG_POOL_GRAD: global_pool(k, i); return;
    default: IR_ASSERT(!"gk_emit_conv: not a CNN op");
    }
}
