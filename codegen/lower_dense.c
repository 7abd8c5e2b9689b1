/* lower_dense.c — kernels for the matrix products (matmul and both of its
 * gradients), conv2d and its gradients, and pooling.
 *
 * Matrix products are single rt_sgemm calls (cblas_sgemm's contract) whose transpose flags and
 * leading dimensions read the operands where they lie (no copies):
 *   matmul         y (R, OUT)  = x (R, IN) @ w (IN, OUT)        NN
 *   matmul_grad_x  dx (R, IN)  = dy (R, OUT) @ wᵀ               NT
 *   matmul_grad_w  dw (IN, OUT) = xᵀ @ dy                       TN
 *   matmul_bias    y = b (+ r), then y += x @ w                 NN, beta 1
 * matmul_bias (the fuse pass's) writes each row of y with the bias (plus the
 * residual row) and lets sgemm add the product into it: that write takes
 * the place of the pass in which sgemm would zero y for beta 0, so the bias
 * and the residual cost no pass over y of their own (one rounding less than
 * the unfused ops). Without contraction (no_contract) it runs the
 * interpreter's sequence instead, product, + b, + r, and matches it bit for
 * bit.
 * conv2d goes one image at a time through an im2col matrix in the scratch
 * area, col (C·K·K, OH·OW) (layout in runtime/kernels/conv.c):
 *   forward   y_n (O, OH·OW) = w (O, C·K·K) @ col_n              NN
 *   grad_w    dw (O, C·K·K)  = Σ_n dy_n @ col_nᵀ                 NT, beta 1
 *   grad_x    dcol = wᵀ @ dy_n (TN), scattered back by col2im.
 * A 1×1 stride-1 unpadded conv needs no im2col: col_n is x_n itself.
 * Pooling loops follow the reference: max keeps the first maximum of a
 * window, average sums in float, the global average in double.
 */
#include "cg_layout.h"
#include "lower_impl.h"

/* ---------------------------------------------------------------- matmul */

static void gemm(Lw *w, bool ta, bool tb, LLVMValueRef M, int64_t N, LLVMValueRef K,
                 LLVMValueRef A, int64_t lda, LLVMValueRef B, int64_t ldb, float beta,
                 LLVMValueRef C, int64_t ldc)
{
    CgGemm g = {.ta = ta, .tb = tb, .M = M, .N = lw_c(w, N), .K = K, .alpha = 1.0f,
                .beta = beta, .A = A, .lda = lw_c(w, lda), .B = B, .ldb = lw_c(w, ldb),
                .C = C, .ldc = lw_c(w, ldc)};
    cg_call_sgemm(w->m, &g);
}

/* y (R, OUT) = b, or r + b when the node has a residual r (operand 3). */
static void bias_rows(Lw *w, LLVMValueRef R, int64_t OUT)
{
    CgModule *m = w->m;
    if (w->n->n_in == 4) {
        lw_bias_loops(w, w->out, w->in[3], w->in[2], R, OUT, 1, false);
        return;
    }
    CgLoop r, j;
    cg_loop_begin(m, &r, lw_c(w, 0), R, "r");
    LLVMValueRef y = lw_off(w, w->out, lw_mul(w, r.i, lw_c(w, OUT)));
    cg_loop_begin(m, &j, lw_c(w, 0), lw_c(w, OUT), "j");
    cg_store_f32(m, y, j.i, cg_load_f32(m, w->in[2], j.i));
    cg_loop_end(m, &j);
    cg_loop_end(m, &r);
}

/* matmul_bias as the unfused sequence: y = x @ w; y += b; y += r. */
static void matmul_then_bias(Lw *w, LLVMValueRef R, int64_t IN, int64_t OUT)
{
    CgModule *m = w->m;
    gemm(w, false, false, R, OUT, lw_c(w, IN), w->in[0], IN, w->in[1], OUT, 0.0f, w->out, OUT);
    lw_bias_loops(w, w->out, w->out, w->in[2], R, OUT, 1, false);
    if (w->n->n_in < 4)
        return;
    CgLoop i;
    cg_loop_begin(m, &i, lw_c(w, 0), lw_mul(w, R, lw_c(w, OUT)), "i");
    LLVMValueRef v = cg_fadd(m, cg_load_f32(m, w->out, i.i), cg_load_f32(m, w->in[3], i.i));
    cg_store_f32(m, w->out, i.i, v);
    cg_loop_end(m, &i);
}

void lower_matmul(Lw *w)
{
    const IrType *x = lw_type(w, 0), *wt = lw_type(w, 1);
    int64_t IN = wt->dim[0], OUT = wt->dim[1];
    switch (w->n->op) {
    case IR_OP_MATMUL_BIAS:     /* x (R, IN), w (IN, OUT), b (OUT) [, r (R, OUT)] */
        if (lw_ref_math(w)) {
            matmul_then_bias(w, lw_rows(w, x), IN, OUT);
            break;
        }
        bias_rows(w, lw_rows(w, x), OUT);
        gemm(w, false, false, lw_rows(w, x), OUT, lw_c(w, IN), w->in[0], IN, w->in[1], OUT,
             1.0f, w->out, OUT);
        break;
    case IR_OP_MATMUL:          /* x (R, IN), w (IN, OUT) */
        gemm(w, false, false, lw_rows(w, x), OUT, lw_c(w, IN), w->in[0], IN, w->in[1], OUT,
             0.0f, w->out, OUT);
        break;
    case IR_OP_MATMUL_GRAD_X:   /* dy (R, OUT), w (IN, OUT) */
        gemm(w, false, true, lw_rows(w, x), IN, lw_c(w, OUT), w->in[0], OUT, w->in[1], OUT,
             0.0f, w->out, IN);
        break;
    case IR_OP_MATMUL_GRAD_W: { /* x (R, IN), dy (R, OUT) */
        int64_t in = lw_last_dim(x), out = lw_last_dim(wt);
        gemm(w, true, false, lw_c(w, in), out, lw_rows(w, x), w->in[0], in, w->in[1], out,
             0.0f, w->out, out);
        break;
    }
    default:
        IR_ASSERT(!"lower_matmul: not a matmul op");
    }
}

/* ------------------------------------------------------------------ conv */

/* The geometry (C, H, W, O, K, S, P, OH, OW) lives in cg_layout.c, which
 * also sizes the im2col scratch from it. */
typedef CgConvGeo Geo;

static bool direct(const Geo *g) { return g->K == 1 && g->S == 1 && g->P == 0; }

/* Input pixel (h, w) = (oh·S - P + i, ow·S - P + j) of window entry (i, j):
 * its offset in one (C, H, W) image for channel c, and whether it is inside. */
static LLVMValueRef pixel(Lw *w, const Geo *g, LLVMValueRef c, LLVMValueRef i, LLVMValueRef j,
                          LLVMValueRef oh, LLVMValueRef ow, LLVMValueRef *inside)
{
    LLVMBuilderRef b = w->m->b;
    LLVMValueRef h = lw_add(w, lw_mul(w, oh, lw_c(w, g->S)), lw_add(w, i, lw_c(w, -g->P)));
    LLVMValueRef x = lw_add(w, lw_mul(w, ow, lw_c(w, g->S)), lw_add(w, j, lw_c(w, -g->P)));
    LLVMValueRef okh = LLVMBuildICmp(b, LLVMIntULT, h, lw_c(w, g->H), "");
    LLVMValueRef okw = LLVMBuildICmp(b, LLVMIntULT, x, lw_c(w, g->W), "");
    *inside = LLVMBuildAnd(b, okh, okw, "");
    return lw_mad(w, lw_mad(w, c, lw_c(w, g->H), h), lw_c(w, g->W), x);
}

/* Loops over the rows (c, i, j) and columns (oh, ow) of an im2col matrix —
 * one loop nest, not K·K unrolled copies, to keep compile time small;
 * body(col index, pixel offset, inside). */
typedef void (*ColBody)(Lw *w, LLVMValueRef col, LLVMValueRef img, LLVMValueRef colidx,
                        LLVMValueRef pix, LLVMValueRef inside);

static void col_loops(Lw *w, const Geo *g, LLVMValueRef col, LLVMValueRef img, ColBody body)
{
    CgModule *m = w->m;
    LLVMBuilderRef b = m->b;
    CgLoop r, oh, ow;
    cg_loop_begin(m, &r, lw_c(w, 0), lw_c(w, g->C * g->K * g->K), "row");
    LLVMValueRef c = LLVMBuildUDiv(b, r.i, lw_c(w, g->K * g->K), "");
    LLVMValueRef i = LLVMBuildURem(b, LLVMBuildUDiv(b, r.i, lw_c(w, g->K), ""), lw_c(w, g->K), "");
    LLVMValueRef j = LLVMBuildURem(b, r.i, lw_c(w, g->K), "");
    cg_loop_begin(m, &oh, lw_c(w, 0), lw_c(w, g->OH), "oh");
    cg_loop_begin(m, &ow, lw_c(w, 0), lw_c(w, g->OW), "ow");
    LLVMValueRef inside;
    LLVMValueRef pix = pixel(w, g, c, i, j, oh.i, ow.i, &inside);
    LLVMValueRef at = lw_mad(w, lw_mad(w, r.i, lw_c(w, g->OH), oh.i), lw_c(w, g->OW), ow.i);
    body(w, col, img, at, pix, inside);
    cg_loop_end(m, &ow);
    cg_loop_end(m, &oh);
    cg_loop_end(m, &r);
}

/* col[at] = inside ? img[pix] : 0 (the load reads a clamped, valid index). */
static void im2col_body(Lw *w, LLVMValueRef col, LLVMValueRef img, LLVMValueRef at,
                        LLVMValueRef pix, LLVMValueRef inside)
{
    LLVMBuilderRef b = w->m->b;
    LLVMValueRef safe = LLVMBuildSelect(b, inside, pix, lw_c(w, 0), "");
    LLVMValueRef v = cg_load_f32(w->m, img, safe);
    cg_store_f32(w->m, col, at, LLVMBuildSelect(b, inside, v, cg_f32(w->m, 0.0f), ""));
}

/* img[pix] += col[at] for the pixels inside the image. */
static void col2im_body(Lw *w, LLVMValueRef col, LLVMValueRef img, LLVMValueRef at,
                        LLVMValueRef pix, LLVMValueRef inside)
{
    LwIf f;
    lw_if(w, &f, inside);
    LLVMValueRef v = cg_load_f32(w->m, col, at);
    cg_store_f32(w->m, img, pix, cg_fadd(w->m, cg_load_f32(w->m, img, pix), v));
    lw_endif(w, &f);
}

void lower_conv(Lw *w)
{
    CgModule *m = w->m;
    Geo g = cg_conv_geo(w->g, w->n);
    int64_t CKK = g.C * g.K * g.K, OHW = g.OH * g.OW, CHW = g.C * g.H * g.W;
    LLVMValueRef col = w->scratch;
    CgLoop n;
    if (w->n->op == IR_OP_CONV2D_GRAD_W)
        lw_zero(w, w->out, lw_c(w, g.O * CKK));
    cg_loop_begin(m, &n, lw_c(w, 0), w->N, "n");
    LLVMValueRef y_off = lw_mul(w, n.i, lw_c(w, g.O * OHW)), x_off = lw_mul(w, n.i, lw_c(w, CHW));
    switch (w->n->op) {
    case IR_OP_CONV2D:          /* x, w */
    case IR_OP_CONV2D_BIAS_RELU: {  /* x, w, b: + b[o], relu, while y_n is in cache */
        LLVMValueRef x = lw_off(w, w->in[0], x_off), y = lw_off(w, w->out, y_off);
        if (direct(&g))
            col = x;
        else
            col_loops(w, &g, col, x, im2col_body);
        gemm(w, false, false, lw_c(w, g.O), OHW, lw_c(w, CKK), w->in[1], CKK, col, OHW, 0.0f,
             y, OHW);
        if (w->n->op == IR_OP_CONV2D_BIAS_RELU)
            lw_bias_loops(w, y, y, w->in[2], lw_c(w, 1), g.O, OHW, true);
        break;
    }
    case IR_OP_CONV2D_GRAD_X: { /* dy, w, x */
        LLVMValueRef dx = lw_off(w, w->out, x_off);
        if (direct(&g))
            col = dx;
        gemm(w, true, false, lw_c(w, CKK), OHW, lw_c(w, g.O), w->in[1], CKK,
             lw_off(w, w->in[0], y_off), OHW, 0.0f, col, OHW);
        if (!direct(&g)) {
            lw_zero(w, dx, lw_c(w, CHW));
            col_loops(w, &g, col, dx, col2im_body);
        }
        break;
    }
    case IR_OP_CONV2D_GRAD_W: { /* x, dy, w */
        LLVMValueRef x = lw_off(w, w->in[0], x_off);
        if (direct(&g))
            col = x;
        else
            col_loops(w, &g, col, x, im2col_body);
        gemm(w, false, true, lw_c(w, g.O), CKK, lw_c(w, OHW), lw_off(w, w->in[1], y_off), OHW,
             col, OHW, 1.0f, w->out, CKK);
        break;
    }
    default:
        IR_ASSERT(!"lower_conv: not a conv2d op");
    }
    cg_loop_end(m, &n);
}

/* --------------------------------------------------------------- pooling */

/* Planes (N·C), and the window geometry of x (N, C, H, W). */
static Geo pool_geo(const IrNode *n, const IrType *x)
{
    Geo g = {x->dim[1], x->dim[2], x->dim[3], 0, n->a.kernel, n->a.stride, 0, 0, 0};
    g.OH = (g.H - g.K) / g.S + 1;
    g.OW = (g.W - g.K) / g.S + 1;
    return g;
}

/* Offset in the plane of window (oh, ow)'s first maximum, and its value. */
static LLVMValueRef window_max(Lw *w, const Geo *g, LLVMValueRef plane, LLVMValueRef oh,
                               LLVMValueRef ow, LLVMValueRef *best_val)
{
    LLVMBuilderRef b = w->m->b;
    LLVMValueRef base = lw_mad(w, lw_mul(w, oh, lw_c(w, g->S)), lw_c(w, g->W),
                               lw_mul(w, ow, lw_c(w, g->S)));
    LLVMValueRef best = base, bv = cg_load_f32(w->m, plane, base);
    for (int64_t i = 0; i < g->K; i++)
        for (int64_t j = 0; j < g->K; j++) {
            if (i == 0 && j == 0)
                continue;
            LLVMValueRef off = lw_add(w, base, lw_c(w, i * g->W + j));
            LLVMValueRef v = cg_load_f32(w->m, plane, off);
            LLVMValueRef gt = LLVMBuildFCmp(b, LLVMRealOGT, v, bv, "");  /* ties keep the first */
            best = LLVMBuildSelect(b, gt, off, best, "");
            bv = LLVMBuildSelect(b, gt, v, bv, "");
        }
    *best_val = bv;
    return best;
}

/* Window sum in float, row-major order. */
static LLVMValueRef window_sum(Lw *w, const Geo *g, LLVMValueRef plane, LLVMValueRef oh,
                               LLVMValueRef ow)
{
    LLVMValueRef base = lw_mad(w, lw_mul(w, oh, lw_c(w, g->S)), lw_c(w, g->W),
                               lw_mul(w, ow, lw_c(w, g->S)));
    LLVMValueRef acc = cg_f32(w->m, 0.0f);
    for (int64_t i = 0; i < g->K; i++)
        for (int64_t j = 0; j < g->K; j++)
            acc = cg_fadd(w->m, acc, cg_load_f32(w->m, plane, lw_add(w, base, lw_c(w, i * g->W + j))));
    return acc;
}

static void window_add(Lw *w, const Geo *g, LLVMValueRef plane, LLVMValueRef oh,
                       LLVMValueRef ow, LLVMValueRef d)
{
    LLVMValueRef base = lw_mad(w, lw_mul(w, oh, lw_c(w, g->S)), lw_c(w, g->W),
                               lw_mul(w, ow, lw_c(w, g->S)));
    for (int64_t i = 0; i < g->K; i++)
        for (int64_t j = 0; j < g->K; j++) {
            LLVMValueRef off = lw_add(w, base, lw_c(w, i * g->W + j));
            cg_store_f32(w->m, plane, off, cg_fadd(w->m, cg_load_f32(w->m, plane, off), d));
        }
}

void lower_pool(Lw *w)
{
    CgModule *m = w->m;
    IrOp op = w->n->op;
    bool grad = op == IR_OP_MAXPOOL_GRAD || op == IR_OP_AVGPOOL_GRAD;
    int xi = ir_op_info(op)->x;
    Geo g = pool_geo(w->n, lw_type(w, xi));
    float area = (float)(g.K * g.K);
    int64_t HW = g.H * g.W;
    LLVMValueRef planes = lw_mul(w, w->N, lw_c(w, g.C));
    if (grad)
        lw_zero(w, w->out, lw_mul(w, planes, lw_c(w, HW)));
    CgLoop p, oh, ow;
    cg_loop_begin(m, &p, lw_c(w, 0), planes, "p");
    LLVMValueRef xoff = lw_mul(w, p.i, lw_c(w, HW));
    LLVMValueRef src = lw_off(w, w->in[xi], xoff), dst = lw_off(w, w->out, xoff);
    cg_loop_begin(m, &oh, lw_c(w, 0), lw_c(w, g.OH), "oh");
    cg_loop_begin(m, &ow, lw_c(w, 0), lw_c(w, g.OW), "ow");
    LLVMValueRef yi = lw_mad(w, lw_mad(w, p.i, lw_c(w, g.OH), oh.i), lw_c(w, g.OW), ow.i), v;
    switch (op) {
    case IR_OP_MAXPOOL:
        window_max(w, &g, src, oh.i, ow.i, &v);
        cg_store_f32(m, w->out, yi, v);
        break;
    case IR_OP_MAXPOOL_GRAD: {
        LLVMValueRef at = window_max(w, &g, src, oh.i, ow.i, &v);
        LLVMValueRef d = cg_load_f32(m, w->in[0], yi);
        cg_store_f32(m, dst, at, cg_fadd(m, cg_load_f32(m, dst, at), d));
        break;
    }
    case IR_OP_AVGPOOL:
        cg_store_f32(m, w->out, yi, cg_fdiv(m, window_sum(w, &g, src, oh.i, ow.i), cg_f32(m, area)));
        break;
    case IR_OP_AVGPOOL_GRAD:
        window_add(w, &g, dst, oh.i, ow.i, cg_fdiv(m, cg_load_f32(m, w->in[0], yi), cg_f32(m, area)));
        break;
    default:
        IR_ASSERT(!"lower_pool: not a pooling op");
    }
    cg_loop_end(m, &ow);
    cg_loop_end(m, &oh);
    cg_loop_end(m, &p);
}

/* y (N·C) = mean over HW in double; the gradient spreads dy/HW. */
void lower_global_pool(Lw *w)
{
    CgModule *m = w->m;
    bool grad = w->n->op == IR_OP_GLOBAL_AVG_POOL_GRAD;
    const IrType *x = lw_type(w, ir_op_info(w->n->op)->x);
    int64_t HW = x->dim[2] * x->dim[3];
    CgLoop p, s;
    cg_loop_begin(m, &p, lw_c(w, 0), lw_mul(w, w->N, lw_c(w, x->dim[1])), "p");
    LLVMValueRef base = lw_mul(w, p.i, lw_c(w, HW));
    if (grad) {
        LLVMValueRef d = lw_trunc(w, cg_fdiv(m, lw_ext(w, cg_load_f32(m, w->in[0], p.i)),
                                             lw_f64(w, (double)HW)));
        cg_loop_begin(m, &s, lw_c(w, 0), lw_c(w, HW), "s");
        cg_store_f32(m, w->out, lw_add(w, base, s.i), d);
        cg_loop_end(m, &s);
    } else {
        LLVMFastMathFlags old = cg_fmf_set(m, m->fmf ? CG_FMF_REDUCE : 0);
        LLVMValueRef acc = lw_slot(w, w->t_f64, lw_f64(w, 0.0));
        cg_loop_begin(m, &s, lw_c(w, 0), lw_c(w, HW), "s");
        LLVMValueRef v = lw_ext(w, cg_load_f32(m, w->in[0], lw_add(w, base, s.i)));
        lw_set(w, acc, cg_fadd(m, lw_get(w, w->t_f64, acc), v));
        cg_loop_end(m, &s);
        cg_fmf_set(m, old);
        LLVMValueRef mean = cg_fdiv(m, lw_get(w, w->t_f64, acc), lw_f64(w, (double)HW));
        cg_store_f32(m, w->out, p.i, lw_trunc(w, mean));
    }
    cg_loop_end(m, &p);
}
