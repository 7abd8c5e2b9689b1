/* lower_wino.c — 3×3 stride-1 convolutions with padding 1 and even output
 * sizes as Winograd F(2×2, 3×3) products: the forward and both gradients.
 *
 * Each 2×2 output tile y of one channel pair is Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A,
 * d the 4×4 input patch at the tile (rows 2ty-1 .. 2ty+2 of the image, with
 * its zero padding), g the 3×3 kernel:
 *   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]
 *   Aᵀ = [1 1 1 0; 0 1 -1 -1]
 * Summed over input channels, each of the 16 positions ξ of the 4×4
 * transformed tile is one matrix product over all the tiles of a chunk of
 * images, T = images · (OH/2)·(OW/2) columns:
 *   forward   M_ξ (O, T)  = U_ξ (O, C) @ V_ξ (C, T)       U = G g Gᵀ, V = Bᵀ d B
 *             y = Aᵀ M A per tile
 *   grad_x    the same forward over dy (O channels in, C out) with the kernel
 *             flipped and transposed, w'[c, o, i, j] = w[o, c, 2-i, 2-j]:
 *             G J = P G, P swapping rows 0 and 3, so U' = P U Pᵀ — U_ξ read
 *             at ξ's rows and columns swapped 0 ↔ 3, transposed (TN)
 *   grad_w    dU_ξ (O, C) += dM_ξ (O, T) @ V_ξᵀ (NT), dM = A dy Aᵀ per
 *             tile (the adjoint of the output transform); dw = Gᵀ dU G
 * The products do 16 multiplies per tile and channel pair where the shifted
 * products and im2col do 36 (2.25× fewer); the transforms are elementwise
 * over the chunk and vectorize. The sums run in another order than the
 * interpreter's, and B, G and A round (½ is exact, the sums are not): equal
 * within rounding, not bit for bit, so under no_contract the im2col path runs.
 *
 * Scratch (floats; cg_conv_scratch_floats sizes it): the padded image of one input,
 * xp (max(C, O), (H+2)·(W+2)), then V (16, Cin, LDT), M (16, Cout, LDT)
 * and U (16, O, C), LDT = chunk images · tiles.
 */
#include "cg_layout.h"
#include "lower_impl.h"

typedef CgConvGeo Geo;

typedef struct {
    int64_t Wp, PL, TH, TW, tiles, B, LDT;  /* padded width, plane; tiles; chunk */
    int64_t cin, cout;                      /* channels into / out of the products */
    LLVMValueRef xp, V, M, U;
} Wino;

static LLVMValueRef add(Lw *w, LLVMValueRef a, LLVMValueRef b) { return cg_fadd(w->m, a, b); }
static LLVMValueRef sub(Lw *w, LLVMValueRef a, LLVMValueRef b) { return cg_fsub(w->m, a, b); }
static LLVMValueRef half(Lw *w, LLVMValueRef a) { return cg_fmul(w->m, a, cg_f32(w->m, 0.5f)); }
static LLVMValueRef neg(Lw *w, LLVMValueRef a) { return LLVMBuildFNeg(w->m->b, a, ""); }

/* The loop over (channel, tile row) pairs of a transform: begins it over
 * chans · TH and splits its index. */
typedef struct { CgLoop loop; LLVMValueRef ch, ty; } TileRows;

static void tile_rows_begin(Lw *w, const Wino *s, TileRows *t, int64_t chans, const char *name)
{
    cg_loop_begin(w->m, &t->loop, lw_c(w, 0), lw_c(w, chans * s->TH), name);
    t->ch = LLVMBuildUDiv(w->m->b, t->loop.i, lw_c(w, s->TH), "");
    t->ty = LLVMBuildURem(w->m->b, t->loop.i, lw_c(w, s->TH), "");
}

/* The tile row's first column in a transformed buffer (16, chans, LDT),
 * image b of the chunk; and its first pixel in a dense (chans, 2·TH, 2·TW)
 * image. */
static LLVMValueRef tile_cols(Lw *w, const Wino *s, LLVMValueRef buf, const TileRows *t,
                              LLVMValueRef b)
{
    return lw_off(w, buf, lw_mad(w, t->ch, lw_c(w, s->LDT),
                                 lw_mad(w, b, lw_c(w, s->tiles), lw_mul(w, t->ty, lw_c(w, s->TW)))));
}

static LLVMValueRef image_row(Lw *w, const Wino *s, LLVMValueRef img, const TileRows *t)
{
    int64_t OW = 2 * s->TW;
    return lw_off(w, img, lw_mad(w, t->ch, lw_c(w, 2 * s->TH * OW),
                                 lw_mul(w, t->ty, lw_c(w, 2 * OW))));
}

/* V for image b of the chunk: its Cin planes copied into the interior of
 * xp (whose border stays zero), then Bᵀ d B of every tile. */
static void input_transform(Lw *w, const Wino *s, LLVMValueRef img, LLVMValueRef b, int64_t H,
                            int64_t W)
{
    CgModule *m = w->m;
    lw_plane_rows(w, img, s->xp, s->cin, H, W, s->PL, s->Wp, 1, 1, true);
    TileRows r;
    CgLoop tx;
    tile_rows_begin(w, s, &r, s->cin, "cty");
    LLVMValueRef src = lw_off(w, s->xp, lw_mad(w, r.ch, lw_c(w, s->PL),
                                               lw_mul(w, r.ty, lw_c(w, 2 * s->Wp))));
    LLVMValueRef dst = tile_cols(w, s, s->V, &r, b);
    cg_loop_begin(m, &tx, lw_c(w, 0), lw_c(w, s->TW), "tx");
    LLVMValueRef p = lw_off(w, src, lw_mul(w, tx.i, lw_c(w, 2))), t[4][4];
    for (int j = 0; j < 4; j++) {
        LLVMValueRef d[4];
        for (int i = 0; i < 4; i++)
            d[i] = cg_load_f32(m, p, lw_c(w, i * s->Wp + j));
        t[0][j] = sub(w, d[0], d[2]);
        t[1][j] = add(w, d[1], d[2]);
        t[2][j] = sub(w, d[2], d[1]);
        t[3][j] = sub(w, d[1], d[3]);
    }
    for (int i = 0; i < 4; i++) {
        LLVMValueRef v[4] = {sub(w, t[i][0], t[i][2]), add(w, t[i][1], t[i][2]),
                             sub(w, t[i][2], t[i][1]), sub(w, t[i][1], t[i][3])};
        for (int j = 0; j < 4; j++)
            cg_store_f32(m, lw_off(w, dst, lw_c(w, (i * 4 + j) * s->cin * s->LDT)), tx.i, v[j]);
    }
    cg_loop_end(m, &tx);
    cg_loop_end(m, &r.loop);
}

/* Image b of the chunk into out (Cout, 2·TH, 2·TW): Aᵀ M A of every tile. */
static void output_transform(Lw *w, const Wino *s, LLVMValueRef out, LLVMValueRef b)
{
    CgModule *m = w->m;
    int64_t OW = 2 * s->TW;
    TileRows r;
    CgLoop tx;
    tile_rows_begin(w, s, &r, s->cout, "oty");
    LLVMValueRef src = tile_cols(w, s, s->M, &r, b), row = image_row(w, s, out, &r);
    cg_loop_begin(m, &tx, lw_c(w, 0), lw_c(w, s->TW), "tx");
    LLVMValueRef x[4][4], u[2][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            x[i][j] = cg_load_f32(m, lw_off(w, src, lw_c(w, (i * 4 + j) * s->cout * s->LDT)),
                                  tx.i);
    for (int j = 0; j < 4; j++) {
        u[0][j] = add(w, add(w, x[0][j], x[1][j]), x[2][j]);
        u[1][j] = sub(w, sub(w, x[1][j], x[2][j]), x[3][j]);
    }
    LLVMValueRef at = lw_mul(w, tx.i, lw_c(w, 2));
    for (int i = 0; i < 2; i++) {
        LLVMValueRef y = lw_off(w, row, lw_c(w, i * OW));
        cg_store_f32(m, y, at, add(w, add(w, u[i][0], u[i][1]), u[i][2]));
        cg_store_f32(m, y, lw_add(w, at, lw_c(w, 1)), sub(w, sub(w, u[i][1], u[i][2]), u[i][3]));
    }
    cg_loop_end(m, &tx);
    cg_loop_end(m, &r.loop);
}

/* M for image b of the chunk from dy (O, 2·TH, 2·TW): A dy Aᵀ of every tile,
 * A = [1 0; 1 1; 1 -1; 0 -1]. */
static void dy_transform(Lw *w, const Wino *s, LLVMValueRef dy, LLVMValueRef b)
{
    CgModule *m = w->m;
    int64_t OW = 2 * s->TW;
    TileRows r;
    CgLoop tx;
    tile_rows_begin(w, s, &r, s->cout, "dty");
    LLVMValueRef row = image_row(w, s, dy, &r), dst = tile_cols(w, s, s->M, &r, b);
    cg_loop_begin(m, &tx, lw_c(w, 0), lw_c(w, s->TW), "tx");
    LLVMValueRef at = lw_mul(w, tx.i, lw_c(w, 2)), t[4][2];
    for (int j = 0; j < 2; j++) {
        LLVMValueRef y0 = cg_load_f32(m, row, lw_add(w, at, lw_c(w, j)));
        LLVMValueRef y1 = cg_load_f32(m, row, lw_add(w, at, lw_c(w, OW + j)));
        t[0][j] = y0;
        t[1][j] = add(w, y0, y1);
        t[2][j] = sub(w, y0, y1);
        t[3][j] = neg(w, y1);
    }
    for (int i = 0; i < 4; i++) {
        LLVMValueRef v[4] = {t[i][0], add(w, t[i][0], t[i][1]), sub(w, t[i][0], t[i][1]),
                             neg(w, t[i][1])};
        for (int j = 0; j < 4; j++)
            cg_store_f32(m, lw_off(w, dst, lw_c(w, (i * 4 + j) * s->cout * s->LDT)), tx.i, v[j]);
    }
    cg_loop_end(m, &tx);
    cg_loop_end(m, &r.loop);
}

/* U_ξ (O, C) = G g Gᵀ for every kernel g = w[o, c]. */
static void weight_transform(Lw *w, const Geo *g, LLVMValueRef wt, LLVMValueRef U)
{
    CgModule *m = w->m;
    int64_t OC = g->O * g->C;
    CgLoop k;
    cg_loop_begin(m, &k, lw_c(w, 0), lw_c(w, OC), "oc");
    LLVMValueRef src = lw_off(w, wt, lw_mul(w, k.i, lw_c(w, 9))), t[4][3];
    for (int j = 0; j < 3; j++) {
        LLVMValueRef g0 = cg_load_f32(m, src, lw_c(w, j)), g1 = cg_load_f32(m, src, lw_c(w, 3 + j));
        LLVMValueRef g2 = cg_load_f32(m, src, lw_c(w, 6 + j)), s02 = add(w, g0, g2);
        t[0][j] = g0;
        t[1][j] = half(w, add(w, s02, g1));
        t[2][j] = half(w, sub(w, s02, g1));
        t[3][j] = g2;
    }
    for (int i = 0; i < 4; i++) {
        LLVMValueRef s02 = add(w, t[i][0], t[i][2]);
        LLVMValueRef u[4] = {t[i][0], half(w, add(w, s02, t[i][1])), half(w, sub(w, s02, t[i][1])),
                             t[i][2]};
        for (int j = 0; j < 4; j++)
            cg_store_f32(m, lw_off(w, U, lw_c(w, (i * 4 + j) * OC)), k.i, u[j]);
    }
    cg_loop_end(m, &k);
}

/* dw[o, c] = Gᵀ dU G, Gᵀ = [1 ½ ½ 0; 0 ½ -½ 0; 0 ½ ½ 1]. */
static void weight_grad_transform(Lw *w, const Geo *g, LLVMValueRef U, LLVMValueRef dw)
{
    CgModule *m = w->m;
    int64_t OC = g->O * g->C;
    CgLoop k;
    cg_loop_begin(m, &k, lw_c(w, 0), lw_c(w, OC), "oc");
    LLVMValueRef z[3][4];
    for (int j = 0; j < 4; j++) {
        LLVMValueRef x[4];
        for (int i = 0; i < 4; i++)
            x[i] = cg_load_f32(m, lw_off(w, U, lw_c(w, (i * 4 + j) * OC)), k.i);
        LLVMValueRef h12 = half(w, add(w, x[1], x[2]));
        z[0][j] = add(w, x[0], h12);
        z[1][j] = half(w, sub(w, x[1], x[2]));
        z[2][j] = add(w, h12, x[3]);
    }
    LLVMValueRef dst = lw_off(w, dw, lw_mul(w, k.i, lw_c(w, 9)));
    for (int i = 0; i < 3; i++) {
        LLVMValueRef h12 = half(w, add(w, z[i][1], z[i][2]));
        cg_store_f32(m, dst, lw_c(w, 3 * i), add(w, z[i][0], h12));
        cg_store_f32(m, dst, lw_c(w, 3 * i + 1), half(w, sub(w, z[i][1], z[i][2])));
        cg_store_f32(m, dst, lw_c(w, 3 * i + 2), add(w, h12, z[i][3]));
    }
    cg_loop_end(m, &k);
}

/* ξ's rows and columns with 0 and 3 swapped: where the flipped kernel's
 * transform reads U. */
static int flip(int xi)
{
    static const int p[4] = {3, 1, 2, 0};
    return p[xi / 4] * 4 + p[xi % 4];
}

/* The 16 products of one chunk of T (run-time) columns. */
static void products(Lw *w, const Geo *g, const Wino *s, LLVMValueRef T)
{
    for (int xi = 0; xi < 16; xi++) {
        LLVMValueRef V = lw_off(w, s->V, lw_c(w, xi * s->cin * s->LDT));
        LLVMValueRef M = lw_off(w, s->M, lw_c(w, xi * s->cout * s->LDT));
        CgGemm p;
        switch (w->n->op) {
        case IR_OP_CONV2D:
        case IR_OP_CONV2D_BIAS_RELU:    /* M (O, T) = U (O, C) @ V (C, T) */
            p = (CgGemm){.M = lw_c(w, g->O), .N = T, .K = lw_c(w, g->C), .alpha = 1.0f,
                         .A = lw_off(w, s->U, lw_c(w, xi * g->O * g->C)), .lda = lw_c(w, g->C),
                         .B = V, .ldb = lw_c(w, s->LDT), .C = M, .ldc = lw_c(w, s->LDT)};
            break;
        case IR_OP_CONV2D_GRAD_W:       /* dU (O, C) += dM (O, T) @ Vᵀ */
            p = (CgGemm){.tb = true, .M = lw_c(w, g->O), .N = lw_c(w, g->C), .K = T,
                         .alpha = 1.0f, .beta = 1.0f, .A = M, .lda = lw_c(w, s->LDT), .B = V,
                         .ldb = lw_c(w, s->LDT),
                         .C = lw_off(w, s->U, lw_c(w, xi * g->O * g->C)), .ldc = lw_c(w, g->C)};
            break;
        default:                        /* grad_x: M (C, T) = U'ᵀ (C, O) @ V (O, T) */
            p = (CgGemm){.ta = true, .M = lw_c(w, g->C), .N = T, .K = lw_c(w, g->O),
                         .alpha = 1.0f, .A = lw_off(w, s->U, lw_c(w, flip(xi) * g->O * g->C)),
                         .lda = lw_c(w, g->C), .B = V, .ldb = lw_c(w, s->LDT), .C = M,
                         .ldc = lw_c(w, s->LDT)};
        }
        cg_call_sgemm(w->m, &p);
    }
}

void lower_conv_winograd(Lw *w, const Geo *g)
{
    CgModule *m = w->m;
    IrOp op = w->n->op;
    bool gx = op == IR_OP_CONV2D_GRAD_X || op == IR_OP_CONV2D_GRAD_X_RELU;
    bool gw = op == IR_OP_CONV2D_GRAD_W;
    Wino s = {.Wp = g->W + 2, .TH = g->OH / 2, .TW = g->OW / 2};
    s.PL = (g->H + 2) * s.Wp;
    s.tiles = s.TH * s.TW;
    s.B = cg_conv_wino_chunk(g);
    s.LDT = s.B * s.tiles;
    s.cin = gx ? g->O : g->C;
    s.cout = gx ? g->C : g->O;
    int64_t cmax = g->C > g->O ? g->C : g->O;
    s.xp = w->scratch;
    s.V = lw_off(w, s.xp, lw_c(w, cmax * s.PL));
    s.M = lw_off(w, s.V, lw_c(w, 16 * s.cin * s.LDT));
    s.U = lw_off(w, s.M, lw_c(w, 16 * s.cout * s.LDT));
    int64_t HW = g->H * g->W, OC = g->O * g->C;

    lw_zero(w, s.xp, lw_c(w, s.cin * s.PL));    /* the border stays zero */
    if (gw)
        lw_zero(w, s.U, lw_c(w, 16 * OC));
    else
        weight_transform(w, g, w->in[1], s.U);
    /* chunks of B images; the last holds what is left */
    LLVMValueRef nchunks = LLVMBuildUDiv(m->b, lw_add(w, w->N, lw_c(w, s.B - 1)), lw_c(w, s.B), "");
    CgLoop k, b;
    cg_loop_begin(m, &k, lw_c(w, 0), nchunks, "chunk");
    LLVMValueRef n0 = lw_mul(w, k.i, lw_c(w, s.B)), left = LLVMBuildSub(m->b, w->N, n0, "");
    LLVMValueRef fits = LLVMBuildICmp(m->b, LLVMIntULT, left, lw_c(w, s.B), "");
    LLVMValueRef bn = LLVMBuildSelect(m->b, fits, left, lw_c(w, s.B), "bn");
    /* gx reads dy (O planes), the others x (C planes); grad_w also dy */
    cg_loop_begin(m, &b, lw_c(w, 0), bn, "b");
    LLVMValueRef n = lw_add(w, n0, b.i);
    LLVMValueRef src = lw_off(w, w->in[0], lw_mul(w, n, lw_c(w, s.cin * HW)));
    input_transform(w, &s, src, b.i, g->H, g->W);
    if (gw)
        dy_transform(w, &s, lw_off(w, w->in[1], lw_mul(w, n, lw_c(w, g->O * HW))), b.i);
    cg_loop_end(m, &b);
    products(w, g, &s, lw_mul(w, bn, lw_c(w, s.tiles)));
    if (!gw) {
        cg_loop_begin(m, &b, lw_c(w, 0), bn, "b");
        LLVMValueRef ni = lw_add(w, n0, b.i);
        LLVMValueRef out = lw_off(w, w->out, lw_mul(w, ni, lw_c(w, s.cout * HW)));
        output_transform(w, &s, out, b.i);
        if (op == IR_OP_CONV2D_BIAS_RELU)
            lw_bias_loops(w, out, out, w->in[2], lw_c(w, 1), g->O, HW, true);
        if (op == IR_OP_CONV2D_GRAD_X_RELU)
            lw_relu_mask(w, out, lw_off(w, w->in[2], lw_mul(w, ni, lw_c(w, g->C * HW))),
                         g->C * HW);
        cg_loop_end(m, &b);
    }
    cg_loop_end(m, &k);
    if (gw)
        weight_grad_transform(w, g, s.U, w->out);
}
