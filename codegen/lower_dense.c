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
 * A 1×1 stride-1 unpadded conv needs no im2col: col_n is x_n itself. A 3×3
 * stride-1 conv with padding 1, even sizes and at least 16 channels in and
 * out runs as Winograd products (lower_wino.c). The other stride-1 convs
 * with at least 16 channels in and out need no im2col either: they
 * run as K·K products over a padded copy of the image ("shifted products"
 * below), which reads and writes 1× the image where im2col writes K·K×.
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
 * also sizes the scratch from it (cg_conv_scratch_floats). */
typedef CgConvGeo Geo;

static bool direct(const Geo *g) { return g->K == 1 && g->S == 1 && g->P == 0; }

/* The output columns [lo, hi) whose input column ow·S - P + j lies inside
 * [0, W) for window column j (a compile-time constant): the run of an
 * im2col row that is a strided copy of one image row; the columns outside
 * it read the zero padding. Empty runs have lo = hi. */
typedef struct { int64_t lo, hi; } Run;

static Run inside_run(const Geo *g, int64_t j)
{
    int64_t a = g->P - j, b = g->W - 1 + g->P - j;
    int64_t lo = a > 0 ? (a + g->S - 1) / g->S : 0, hi = b >= 0 ? b / g->S + 1 : 0;
    lo = lo < g->OW ? lo : g->OW;
    hi = hi < g->OW ? hi : g->OW;
    return (Run){lo, hi > lo ? hi : lo};
}

/* im2col: col (C·K·K, OH·OW) from one image (C, H, W); col2im: the image
 * (zeroed by the caller) += every col entry at the pixel it was read from.
 * Rows (c, i) loop, window column j is unrolled (K copies, not K·K, to keep
 * compile time small) so that each output row's inside run [lo, hi) is a
 * constant: a vectorizable copy (stride 1) with constant zero fills around
 * it, and one bounds test per output row (h = oh·S - P + i) rather than per
 * element. Per pixel, col2im adds the entries in row order (c, i, j), as the
 * reference does, so both match it bit for bit. */
static void col_rows(Lw *w, const Geo *g, LLVMValueRef col, LLVMValueRef img, bool scatter)
{
    CgModule *m = w->m;
    LLVMBuilderRef b = m->b;
    int64_t OHW = g->OH * g->OW;
    CgLoop ci, oh, ow;
    cg_loop_begin(m, &ci, lw_c(w, 0), lw_c(w, g->C * g->K), "ci");
    LLVMValueRef c = LLVMBuildUDiv(b, ci.i, lw_c(w, g->K), "");
    LLVMValueRef i = LLVMBuildURem(b, ci.i, lw_c(w, g->K), "");
    for (int64_t j = 0; j < g->K; j++) {
        Run run = inside_run(g, j);
        LLVMValueRef row = lw_off(w, col, lw_mul(w, lw_add(w, lw_mul(w, ci.i, lw_c(w, g->K)),
                                                          lw_c(w, j)), lw_c(w, OHW)));
        cg_loop_begin(m, &oh, lw_c(w, 0), lw_c(w, g->OH), "oh");
        LLVMValueRef dst = lw_off(w, row, lw_mul(w, oh.i, lw_c(w, g->OW)));
        LLVMValueRef h = lw_add(w, lw_mul(w, oh.i, lw_c(w, g->S)), lw_add(w, i, lw_c(w, -g->P)));
        LwIf f;
        lw_if(w, &f, LLVMBuildICmp(b, LLVMIntULT, h, lw_c(w, g->H), ""));
        /* pixel of column ow: src + ow·S, src = image row h shifted by j - P */
        LLVMValueRef src = lw_mad(w, lw_mad(w, c, lw_c(w, g->H), h), lw_c(w, g->W),
                                  lw_c(w, j - g->P));
        if (!scatter && run.lo > 0)
            lw_zero(w, dst, lw_c(w, run.lo));
        if (run.hi > run.lo) {
            cg_loop_begin(m, &ow, lw_c(w, run.lo), lw_c(w, run.hi), "ow");
            LLVMValueRef pix = lw_mad(w, ow.i, lw_c(w, g->S), src);
            if (scatter)
                cg_store_f32(m, img, pix, cg_fadd(m, cg_load_f32(m, img, pix),
                                                   cg_load_f32(m, dst, ow.i)));
            else
                cg_store_f32(m, dst, ow.i, cg_load_f32(m, img, pix));
            cg_loop_end(m, &ow);
        }
        if (!scatter && run.hi < g->OW)
            lw_zero(w, lw_off(w, dst, lw_c(w, run.hi)), lw_c(w, g->OW - run.hi));
        if (!scatter) {
            lw_else(w, &f);
            lw_zero(w, dst, lw_c(w, g->OW));
        }
        lw_endif(w, &f);
        cg_loop_end(m, &oh);
    }
    cg_loop_end(m, &ci);
}

/* dx[k] = x[k] > 0 ? dx[k] : 0 over one image (C·H·W): conv2d_grad_x_relu's
 * relu_grad, while the image's gradient is in cache. */
void lw_relu_mask(Lw *w, LLVMValueRef dx, LLVMValueRef x, int64_t L)
{
    CgModule *m = w->m;
    CgLoop k;
    cg_loop_begin(m, &k, lw_c(w, 0), lw_c(w, L), "k");
    LLVMValueRef pos = LLVMBuildFCmp(m->b, LLVMRealOGT, cg_load_f32(m, x, k.i), cg_f32(m, 0.0f), "");
    LLVMValueRef d = cg_load_f32(m, dx, k.i);
    cg_store_f32(m, dx, k.i, LLVMBuildSelect(m->b, pos, d, cg_f32(m, 0.0f), ""));
    cg_loop_end(m, &k);
}

/* ---------------------------------------------------- shifted products
 *
 * With stride 1 the window entry (i, j) of every output pixel is the input
 * shifted by (i - P, j - P). Over a zero-padded copy of the image,
 * xp (C, Hp·Wp + K-1) with Hp = H + 2P, Wp = W + 2P, the output computed
 * at the padded width, y' (O, OH·Wp), is a sum of K·K products whose right
 * operand is xp itself read from offset i·Wp + j (ld Hp·Wp + K-1):
 *   forward   y'  = Σ_ij w_ij (O, C) @ xp[:, i·Wp+j ..]                NN
 *   grad_w    dw_ij (O, C) += dy' @ xp[:, i·Wp+j ..]ᵀ                  NT
 *   grad_x    dxp[:, i·Wp+j ..] += w_ijᵀ @ dy'                         TN
 * with w_ij = w[:, :, i, j] repacked as wk (K·K, O, C). Columns ow >= OW of
 * y' read across the row's end: the forward drops them, the gradients give
 * them dy' = 0 so that they add nothing. No im2col matrix (9× the image) is
 * written and read back; the padded image is 1×. The sums run in another
 * order than im2col's single product: equal to the interpreter within
 * rounding, not bit for bit, so under no_contract the im2col path runs. */

/* Offsets (floats) of xp, y' and wk in the scratch area. */
typedef struct { int64_t Wp, LDX, NQ, y, wk; } Shift;

static Shift shift_of(const Geo *g)
{
    Shift s;
    s.Wp = g->W + 2 * g->P;
    s.LDX = (g->H + 2 * g->P) * s.Wp + g->K - 1;
    s.NQ = g->OH * s.Wp;
    s.y = g->C * s.LDX;
    s.wk = s.y + g->O * s.NQ;
    return s;
}

void lw_plane_rows(Lw *w, LLVMValueRef dense, LLVMValueRef strided, int64_t R, int64_t Hh,
                   int64_t Ww, int64_t ld, int64_t Wp, int64_t r0, int64_t c0, bool to_strided)
{
    CgLoop r;
    cg_loop_begin(w->m, &r, lw_c(w, 0), lw_c(w, R * Hh), "row");
    LLVMValueRef p = LLVMBuildUDiv(w->m->b, r.i, lw_c(w, Hh), "");
    LLVMValueRef h = LLVMBuildURem(w->m->b, r.i, lw_c(w, Hh), "");
    LLVMValueRef at = lw_mad(w, p, lw_c(w, ld), lw_mad(w, h, lw_c(w, Wp), lw_c(w, r0 * Wp + c0)));
    LLVMValueRef d = lw_off(w, dense, lw_mul(w, r.i, lw_c(w, Ww))), st = lw_off(w, strided, at);
    if (to_strided)
        lw_copy(w, st, d, lw_c(w, Ww));
    else
        lw_copy(w, d, st, lw_c(w, Ww));
    cg_loop_end(w->m, &r);
}

/* wk[(i·K + j)·O·C + o·C + c] <-> w[((o·C + c)·K + i)·K + j]. */
static void repack(Lw *w, const Geo *g, LLVMValueRef wk, LLVMValueRef wt, bool to_wk)
{
    int64_t KK = g->K * g->K;
    CgLoop t;
    cg_loop_begin(w->m, &t, lw_c(w, 0), lw_c(w, g->O * g->C * KK), "t");
    LLVMValueRef oc = LLVMBuildUDiv(w->m->b, t.i, lw_c(w, KK), "");
    LLVMValueRef ij = LLVMBuildURem(w->m->b, t.i, lw_c(w, KK), "");
    LLVMValueRef at = lw_mad(w, ij, lw_c(w, g->O * g->C), oc);
    if (to_wk)
        cg_store_f32(w->m, wk, at, cg_load_f32(w->m, wt, t.i));
    else
        cg_store_f32(w->m, wt, t.i, cg_load_f32(w->m, wk, at));
    cg_loop_end(w->m, &t);
}

static void shifted_gemm(Lw *w, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                         LLVMValueRef A, int64_t lda, LLVMValueRef B, int64_t ldb, float beta,
                         LLVMValueRef C, int64_t ldc)
{
    gemm(w, ta, tb, lw_c(w, M), N, lw_c(w, K), A, lda, B, ldb, beta, C, ldc);
}

/* The K·K products of one image (see above); xp, y', wk ready. */
static void shifted_products(Lw *w, const Geo *g, const Shift *s, LLVMValueRef xp,
                             LLVMValueRef yq, LLVMValueRef wk)
{
    for (int64_t i = 0; i < g->K; i++)
        for (int64_t j = 0; j < g->K; j++) {
            int64_t ij = i * g->K + j;
            LLVMValueRef x_ij = lw_off(w, xp, lw_c(w, i * s->Wp + j));
            LLVMValueRef w_ij = lw_off(w, wk, lw_c(w, ij * g->O * g->C));
            switch (w->n->op) {
            case IR_OP_CONV2D:
            case IR_OP_CONV2D_BIAS_RELU:
                shifted_gemm(w, false, false, g->O, s->NQ, g->C, w_ij, g->C, x_ij, s->LDX,
                             ij ? 1.0f : 0.0f, yq, s->NQ);
                break;
            case IR_OP_CONV2D_GRAD_W:
                shifted_gemm(w, false, true, g->O, g->C, s->NQ, yq, s->NQ, x_ij, s->LDX, 1.0f,
                             w_ij, g->C);
                break;
            default:    /* grad_x */
                shifted_gemm(w, true, false, g->C, s->NQ, g->O, w_ij, g->C, yq, s->NQ, 1.0f,
                             x_ij, s->LDX);
            }
        }
}

static void lower_conv_shifted(Lw *w, const Geo *g)
{
    CgModule *m = w->m;
    Shift s = shift_of(g);
    int64_t OHW = g->OH * g->OW, CHW = g->C * g->H * g->W;
    LLVMValueRef xp = w->scratch, yq = lw_off(w, w->scratch, lw_c(w, s.y));
    LLVMValueRef wk = lw_off(w, w->scratch, lw_c(w, s.wk));
    IrOp op = w->n->op;
    bool gx = op == IR_OP_CONV2D_GRAD_X || op == IR_OP_CONV2D_GRAD_X_RELU;
    bool gw = op == IR_OP_CONV2D_GRAD_W;
    /* pads of xp and the columns ow >= OW of dy' stay zero over the images */
    lw_zero(w, w->scratch, lw_c(w, s.wk));
    if (gw)
        lw_zero(w, wk, lw_c(w, g->K * g->K * g->O * g->C));
    else
        repack(w, g, wk, w->in[1], true);
    CgLoop n;
    cg_loop_begin(m, &n, lw_c(w, 0), w->N, "n");
    LLVMValueRef y_off = lw_mul(w, n.i, lw_c(w, g->O * OHW)), x_off = lw_mul(w, n.i, lw_c(w, CHW));
    if (gx) {           /* dy, w, x */
        lw_plane_rows(w, lw_off(w, w->in[0], y_off), yq, g->O, g->OH, g->OW, s.NQ, s.Wp, 0, 0, true);
        lw_zero(w, xp, lw_c(w, g->C * s.LDX));
        shifted_products(w, g, &s, xp, yq, wk);
        lw_plane_rows(w, lw_off(w, w->out, x_off), xp, g->C, g->H, g->W, s.LDX, s.Wp, g->P, g->P,
                   false);
        if (op == IR_OP_CONV2D_GRAD_X_RELU)
            lw_relu_mask(w, lw_off(w, w->out, x_off), lw_off(w, w->in[2], x_off), CHW);
    } else {            /* forward: x, w (, b); grad_w: x, dy, w */
        lw_plane_rows(w, lw_off(w, w->in[0], x_off), xp, g->C, g->H, g->W, s.LDX, s.Wp, g->P, g->P,
                   true);
        if (gw)
            lw_plane_rows(w, lw_off(w, w->in[1], y_off), yq, g->O, g->OH, g->OW, s.NQ, s.Wp, 0, 0,
                       true);
        shifted_products(w, g, &s, xp, yq, wk);
        if (!gw) {
            LLVMValueRef y = lw_off(w, w->out, y_off);
            lw_plane_rows(w, y, yq, g->O, g->OH, g->OW, s.NQ, s.Wp, 0, 0, false);
            if (op == IR_OP_CONV2D_BIAS_RELU)
                lw_bias_loops(w, y, y, w->in[2], lw_c(w, 1), g->O, OHW, true);
        }
    }
    cg_loop_end(m, &n);
    if (gw)
        repack(w, g, wk, w->out, false);
}

/* Shifted products where cg_conv_shifted allows them, except: under
 * no_contract (the reference's order), and for the weight gradient while the
 * im2col matrix is small enough to stay in a core's L2 (512 KiB here): then
 * one product with the long reduction over OH·OW beats K·K small (O, C)
 * ones that each pack dy' again (fmnist_cnn's 14×14 layers: 5 ms a step). */
static bool use_shifted(Lw *w, const Geo *g)
{
    if (!cg_conv_shifted(g) || lw_ref_math(w))
        return false;
    return w->n->op != IR_OP_CONV2D_GRAD_W || g->C * g->K * g->K * g->OH * g->OW > (1 << 17);
}

/* ---------------------------------------------------------- im2col path */

void lower_conv(Lw *w)
{
    CgModule *m = w->m;
    Geo g = cg_conv_geo(w->g, w->n);
    if (cg_conv_winograd(&g) && !lw_ref_math(w)) {
        lower_conv_winograd(w, &g);
        return;
    }
    if (use_shifted(w, &g)) {
        lower_conv_shifted(w, &g);
        return;
    }
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
            col_rows(w, &g, col, x, false);
        gemm(w, false, false, lw_c(w, g.O), OHW, lw_c(w, CKK), w->in[1], CKK, col, OHW, 0.0f,
             y, OHW);
        if (w->n->op == IR_OP_CONV2D_BIAS_RELU)
            lw_bias_loops(w, y, y, w->in[2], lw_c(w, 1), g.O, OHW, true);
        break;
    }
    case IR_OP_CONV2D_GRAD_X:   /* dy, w, x */
    case IR_OP_CONV2D_GRAD_X_RELU: {
        LLVMValueRef dx = lw_off(w, w->out, x_off);
        if (direct(&g))
            col = dx;
        gemm(w, true, false, lw_c(w, CKK), OHW, lw_c(w, g.O), w->in[1], CKK,
             lw_off(w, w->in[0], y_off), OHW, 0.0f, col, OHW);
        if (!direct(&g)) {
            lw_zero(w, dx, lw_c(w, CHW));
            col_rows(w, &g, col, dx, true);
        }
        if (w->n->op == IR_OP_CONV2D_GRAD_X_RELU)
            lw_relu_mask(w, dx, lw_off(w, w->in[2], x_off), CHW);
        break;
    }
    case IR_OP_CONV2D_GRAD_W: { /* x, dy, w */
        LLVMValueRef x = lw_off(w, w->in[0], x_off);
        if (direct(&g))
            col = x;
        else
            col_rows(w, &g, col, x, false);
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
    bool grad = op == IR_OP_MAXPOOL_GRAD || op == IR_OP_MAXPOOL_GRAD_RELU ||
                op == IR_OP_AVGPOOL_GRAD;
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
    case IR_OP_MAXPOOL_GRAD:
    case IR_OP_MAXPOOL_GRAD_RELU: {     /* relu: only where the maximum x[at] > 0 */
        LLVMValueRef at = window_max(w, &g, src, oh.i, ow.i, &v);
        LLVMValueRef d = cg_load_f32(m, w->in[0], yi);
        if (op == IR_OP_MAXPOOL_GRAD_RELU)
            d = LLVMBuildSelect(m->b, LLVMBuildFCmp(m->b, LLVMRealOGT, v, cg_f32(m, 0.0f), ""), d,
                                cg_f32(m, 0.0f), "");
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
