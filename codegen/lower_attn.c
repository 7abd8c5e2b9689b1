/* lower_attn.c — causal multi-head self-attention on projected q, k, v
 * (N, T, D) and its gradient, as sgemm calls per (example n, head h) around
 * an emitted causal softmax. Head h owns columns [h·HD, (h+1)·HD), so every
 * operand is read in place with leading dimension D (3D for the packed
 * gradient [dq | dk | dv]); nothing is copied.
 *
 *   forward   att (T, T) = softmax_causal(q_h @ k_hᵀ · 1/√HD)   NT + loop
 *             y_h        = att @ v_h                              NN
 *   backward  att recomputed, then
 *             dv_h = attᵀ @ dy_h                                  TN
 *             datt = dy_h @ v_hᵀ                                  NT
 *             ds   = att ⊙ (datt - Σ_j att·datt) / √HD            loop
 *             dq_h = ds @ k_h,  dk_h = dsᵀ @ q_h                  NN, TN
 * Scratch: att and datt/ds, T×T floats each. Row sums are float
 * (reassociated, vectorized) where runtime/kernels/attn.c sums in double;
 * the products are sgemm and the exponentials float.
 */
#include <math.h>

#include "lower_impl.h"

typedef struct {
    int64_t T, D, NH, HD;
    double scale;
} Att;

static void gemm(Lw *w, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                 LLVMValueRef A, int64_t lda, LLVMValueRef B, int64_t ldb, LLVMValueRef C,
                 int64_t ldc)
{
    CgGemm g = {.ta = ta, .tb = tb, .M = lw_c(w, M), .N = lw_c(w, N), .K = lw_c(w, K),
                .alpha = alpha, .beta = 0.0f, .A = A, .lda = lw_c(w, lda), .B = B,
                .ldb = lw_c(w, ldb), .C = C, .ldc = lw_c(w, ldc)};
    cg_call_sgemm(w->m, &g);
}

/* The mask of row t at column c: c <= t. */
static LLVMValueRef causal(Lw *w, LLVMValueRef c, LLVMValueRef t)
{
    return LLVMBuildICmp(w->m->b, LLVMIntSLE, c, t, "");
}

/* A float sum over the loop l's iterations, reassociable so that it
 * vectorizes at the full float width (a double accumulator halves it). */
static LLVMValueRef fsum_add(Lw *w, LLVMValueRef slot, LLVMValueRef term)
{
    LLVMFastMathFlags old = cg_fmf_set(w->m, w->m->fmf ? CG_FMF_REDUCE : 0);
    LLVMValueRef v = cg_fadd(w->m, lw_get(w, w->m->t_f32, slot), term);
    lw_set(w, slot, v);
    cg_fmf_set(w->m, old);
    return v;
}

/* The causal loops run over groups of rows: rows [r0, r1) read columns
 * [0, r1) only, a constant trip count per group (so every loop vectorizes
 * to full-width iterations with no scalar remainder) that skips most of the
 * zero upper triangle; the columns of the group's own diagonal block above
 * the diagonal are masked with a select, and the rest of each row is
 * stored as zeros for the products that read whole rows. At most four
 * groups, 16 rows (a float vector) or a multiple of 16 each, keep the
 * code small: for T = 64 the loops cover 5/8 of the T×T matrix. */
static int64_t group_rows(const Att *a)
{
    int64_t per = (a->T + 3) / 4;
    return (per + 15) / 16 * 16;
}

/* row[c] = 0 for c in [from, T). */
static void zero_tail(Lw *w, const Att *a, LLVMValueRef row, int64_t from)
{
    if (from < a->T)
        lw_zero(w, lw_off(w, row, lw_c(w, from)), lw_c(w, a->T - from));
}

/* Scores in att (T, T) → causal softmax in place for rows [r0, r1), which
 * keep t2 <= t: max-shifted float exponentials summed in float, zeros
 * above the diagonal. The maximum is a maxnum reduction marked no-NaN so
 * that it vectorizes (a NaN score makes its row NaN through the
 * exponentials all the same). */
static void softmax_rows(Lw *w, const Att *a, LLVMValueRef att, int64_t r0, int64_t r1)
{
    CgModule *m = w->m;
    LLVMBuilderRef b = m->b;
    CgLoop t, c;
    cg_loop_begin(m, &t, lw_c(w, r0), lw_c(w, r1), "t");
    LLVMValueRef row = lw_off(w, att, lw_mul(w, t.i, lw_c(w, a->T)));
    LLVMValueRef mx = lw_slot(w, m->t_f32, cg_f32(m, -INFINITY));
    cg_loop_begin(m, &c, lw_c(w, 0), lw_c(w, r1), "c");
    LLVMValueRef v = LLVMBuildSelect(b, causal(w, c.i, t.i), cg_load_f32(m, row, c.i),
                                     cg_f32(m, -INFINITY), "");
    LLVMValueRef nx = cg_fmax(m, lw_get(w, m->t_f32, mx), v);
    LLVMSetFastMathFlags(nx, LLVMFastMathNoNaNs | LLVMFastMathNoSignedZeros |
                             LLVMFastMathAllowReassoc);
    lw_set(w, mx, nx);
    cg_loop_end(m, &c);
    LLVMValueRef mx0 = lw_get(w, m->t_f32, mx);
    LLVMValueRef sum = lw_slot(w, m->t_f32, cg_f32(m, 0.0f));
    cg_loop_begin(m, &c, lw_c(w, 0), lw_c(w, r1), "c");
    LLVMValueRef d = cg_fsub(m, cg_load_f32(m, row, c.i), mx0);
    LLVMValueRef e = lw_ref_math(w) ? cg_math(m, CG_MATH_EXP, d) : cg_fexp(m, d);
    e = LLVMBuildSelect(b, causal(w, c.i, t.i), e, cg_f32(m, 0.0f), "");
    cg_store_f32(m, row, c.i, e);
    fsum_add(w, sum, e);
    cg_loop_end(m, &c);
    LLVMValueRef inv = cg_fdiv(m, cg_f32(m, 1.0f), lw_get(w, m->t_f32, sum));
    cg_loop_begin(m, &c, lw_c(w, 0), lw_c(w, r1), "c");
    cg_store_f32(m, row, c.i, cg_fmul(m, cg_load_f32(m, row, c.i), inv));
    cg_loop_end(m, &c);
    zero_tail(w, a, row, r1);
    cg_loop_end(m, &t);
}

static void causal_softmax(Lw *w, const Att *a, LLVMValueRef att)
{
    int64_t G = group_rows(a);
    for (int64_t r0 = 0; r0 < a->T; r0 += G)
        softmax_rows(w, a, att, r0, r0 + G < a->T ? r0 + G : a->T);
}

/* att = causal softmax of q_h k_hᵀ / √HD; q, k point at (n, head h). */
static void scores(Lw *w, const Att *a, LLVMValueRef q, LLVMValueRef k, LLVMValueRef att)
{
    gemm(w, false, true, a->T, a->T, a->HD, (float)a->scale, q, a->D, k, a->D, att, a->T);
    causal_softmax(w, a, att);
}

/* ds = att ⊙ (datt - Σ_j att·datt) · scale, in place over datt, for rows
 * [r0, r1); zero above the diagonal, where att is (grouped and masked as in
 * softmax_rows). */
static void softmax_back_rows(Lw *w, const Att *a, LLVMValueRef att, LLVMValueRef ds,
                              int64_t r0, int64_t r1)
{
    CgModule *m = w->m;
    CgLoop t, c;
    cg_loop_begin(m, &t, lw_c(w, r0), lw_c(w, r1), "t");
    LLVMValueRef off = lw_mul(w, t.i, lw_c(w, a->T));
    LLVMValueRef ar = lw_off(w, att, off), dr = lw_off(w, ds, off);
    LLVMValueRef sum = lw_slot(w, m->t_f32, cg_f32(m, 0.0f));
    cg_loop_begin(m, &c, lw_c(w, 0), lw_c(w, r1), "c");
    LLVMValueRef p = cg_fmul(m, cg_load_f32(m, ar, c.i), cg_load_f32(m, dr, c.i));
    fsum_add(w, sum, LLVMBuildSelect(m->b, causal(w, c.i, t.i), p, cg_f32(m, 0.0f), ""));
    cg_loop_end(m, &c);
    LLVMValueRef dot = lw_get(w, m->t_f32, sum);
    cg_loop_begin(m, &c, lw_c(w, 0), lw_c(w, r1), "c");
    LLVMValueRef av = cg_load_f32(m, ar, c.i);
    LLVMValueRef g = cg_fsub(m, cg_load_f32(m, dr, c.i), dot);
    LLVMValueRef r = cg_fmul(m, cg_fmul(m, av, g), cg_f32(m, (float)a->scale));
    cg_store_f32(m, dr, c.i, LLVMBuildSelect(m->b, causal(w, c.i, t.i), r, cg_f32(m, 0.0f), ""));
    cg_loop_end(m, &c);
    zero_tail(w, a, dr, r1);
    cg_loop_end(m, &t);
}

static void softmax_back(Lw *w, const Att *a, LLVMValueRef att, LLVMValueRef ds)
{
    int64_t G = group_rows(a);
    for (int64_t r0 = 0; r0 < a->T; r0 += G)
        softmax_back_rows(w, a, att, ds, r0, r0 + G < a->T ? r0 + G : a->T);
}

void lower_attention(Lw *w)
{
    CgModule *m = w->m;
    bool grad = w->n->op == IR_OP_ATTENTION_GRAD;
    int qi = ir_op_info(w->n->op)->x;     /* q, k, v follow one another */
    const IrType *qt = lw_type(w, qi);
    Att a = {qt->dim[1], qt->dim[2], w->n->a.heads, qt->dim[2] / w->n->a.heads, 0};
    a.scale = 1.0 / sqrt((double)a.HD);
    LLVMValueRef q = w->in[qi], k = w->in[qi + 1], v = w->in[qi + 2];
    LLVMValueRef att = w->scratch, ds = lw_off(w, w->scratch, lw_c(w, a.T * a.T));
    int64_t D3 = 3 * a.D;
    CgLoop n, h;
    cg_loop_begin(m, &n, lw_c(w, 0), w->N, "n");
    cg_loop_begin(m, &h, lw_c(w, 0), lw_c(w, a.NH), "h");
    LLVMValueRef hc = lw_mul(w, h.i, lw_c(w, a.HD));
    LLVMValueRef off = lw_mad(w, n.i, lw_c(w, a.T * a.D), hc);     /* (n, 0, head h) */
    LLVMValueRef qh = lw_off(w, q, off), kh = lw_off(w, k, off), vh = lw_off(w, v, off);
    scores(w, &a, qh, kh, att);
    if (!grad) {
        gemm(w, false, false, a.T, a.HD, a.T, 1.0f, att, a.T, vh, a.D, lw_off(w, w->out, off),
             a.D);
    } else {
        LLVMValueRef dy = lw_off(w, w->in[0], off);
        LLVMValueRef o = lw_mad(w, n.i, lw_c(w, a.T * D3), hc);   /* dq of (n, 0, head h) */
        LLVMValueRef dq = lw_off(w, w->out, o), dk = lw_off(w, w->out, lw_add(w, o, lw_c(w, a.D)));
        LLVMValueRef dv = lw_off(w, w->out, lw_add(w, o, lw_c(w, 2 * a.D)));
        gemm(w, true, false, a.T, a.HD, a.T, 1.0f, att, a.T, dy, a.D, dv, D3);
        gemm(w, false, true, a.T, a.T, a.HD, 1.0f, dy, a.D, vh, a.D, ds, a.T);
        softmax_back(w, &a, att, ds);
        gemm(w, false, false, a.T, a.HD, a.T, 1.0f, ds, a.T, kh, a.D, dq, D3);
        gemm(w, true, false, a.T, a.HD, a.T, 1.0f, ds, a.T, qh, a.D, dk, D3);
    }
    cg_loop_end(m, &h);
    cg_loop_end(m, &n);
}
