/* lower_elem.c — kernels for the elementwise ops and the data moves around
 * them: binary arithmetic with an unbatched right operand broadcast over the
 * batch, scalar ops, activations and their gradients, dropout (the
 * interpreter's xoshiro stream, drawn in the loop), bias_add / bias_grad,
 * reduce_batch, slice_last, transpose and fill.
 *
 * Elementwise kernels are one loop over the L elements (two, rows × B, when
 * the right operand is broadcast, so no modulo is needed); each op is one
 * expression in `value`, all in float: gelu, sigmoid and tanh use the
 * inline float math of cg_fmath.c (the reference kernels compute gelu and
 * sigmoid in double; the two agree to a few float roundings), except under
 * no_contract, where they are the reference's libm calls.
 */
#include "lower_impl.h"

static LLVMValueRef ld(Lw *w, int k, LLVMValueRef i) { return cg_load_f32(w->m, w->in[k], i); }

static LLVMValueRef fgt0(Lw *w, LLVMValueRef x)
{
    return LLVMBuildFCmp(w->m->b, LLVMRealOGT, x, cg_f32(w->m, 0.0f), "");
}

static LLVMValueRef sel(Lw *w, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(w->m->b, c, a, b, "");
}

/* Without contraction (CgOptions.no_contract) kernels reproduce the
 * reference bit for bit: gelu and sigmoid in double with libm, tanh libm's
 * tanhf. Otherwise all three are float, with cg_fmath.c's inline math. */

/* 0.5·x·(1 + erf(x/√2)) */
static LLVMValueRef gelu(Lw *w, LLVMValueRef x)
{
    CgModule *m = w->m;
    if (lw_ref_math(w)) {
        LLVMValueRef v = lw_ext(w, x);
        LLVMValueRef e = lw_math64(w, LW_ERF, cg_fmul(m, v, lw_f64(w, 0.70710678118654752440)), NULL);
        return lw_trunc(w, cg_fmul(m, cg_fmul(m, lw_f64(w, 0.5), v), cg_fadd(m, lw_f64(w, 1.0), e)));
    }
    LLVMValueRef e = cg_ferf(m, cg_fmul(m, x, cg_f32(m, 0.70710678118654752440f)));
    return cg_fmul(m, cg_fmul(m, cg_f32(m, 0.5f), x), cg_fadd(m, cg_f32(m, 1.0f), e));
}

/* dy·(Φ(x) + x·φ(x)) */
static LLVMValueRef gelu_grad(Lw *w, LLVMValueRef dy, LLVMValueRef x)
{
    CgModule *m = w->m;
    if (lw_ref_math(w)) {
        LLVMValueRef v = lw_ext(w, x);
        LLVMValueRef e = lw_math64(w, LW_ERF, cg_fmul(m, v, lw_f64(w, 0.70710678118654752440)), NULL);
        LLVMValueRef cdf = cg_fmul(m, lw_f64(w, 0.5), cg_fadd(m, lw_f64(w, 1.0), e));
        LLVMValueRef sq = cg_fmul(m, cg_fmul(m, lw_f64(w, -0.5), v), v);
        LLVMValueRef pdf = cg_fmul(m, lw_f64(w, 0.39894228040143267794), lw_math64(w, LW_EXP, sq, NULL));
        return lw_trunc(w, cg_fmul(m, lw_ext(w, dy), cg_fadd(m, cdf, cg_fmul(m, v, pdf))));
    }
    LLVMValueRef e = cg_ferf(m, cg_fmul(m, x, cg_f32(m, 0.70710678118654752440f)));
    LLVMValueRef cdf = cg_fmul(m, cg_f32(m, 0.5f), cg_fadd(m, cg_f32(m, 1.0f), e));
    LLVMValueRef sq = cg_fmul(m, cg_fmul(m, cg_f32(m, -0.5f), x), x);
    LLVMValueRef pdf = cg_fmul(m, cg_f32(m, 0.39894228040143267794f), cg_fexp(m, sq));
    return cg_fmul(m, dy, cg_fadd(m, cdf, cg_fmul(m, x, pdf)));
}

/* gelu_grad_y: dy·(Φ(x) + x·φ(x)) with Φ(x) = y/x from the forward value
 * y = x·Φ(x), so only φ's exponential is computed, not erf. Φ is 1/2 where
 * |x| < 1e-30 (x = 0, or y subnormal and imprecise); elsewhere y/x is Φ to
 * a few float roundings, as the erf would be (and as absolutely accurate:
 * for x << 0 both are tiny). The reference path recomputes the erf. */
static LLVMValueRef gelu_grad_y(Lw *w, LLVMValueRef dy, LLVMValueRef x, LLVMValueRef y)
{
    CgModule *m = w->m;
    if (lw_ref_math(w))
        return gelu_grad(w, dy, x);
    LLVMValueRef tiny = LLVMBuildFCmp(m->b, LLVMRealOLT, cg_math(m, CG_MATH_FABS, x),
                                      cg_f32(m, 1e-30f), "");
    LLVMValueRef cdf = sel(w, tiny, cg_f32(m, 0.5f), cg_fdiv(m, y, x));
    LLVMValueRef sq = cg_fmul(m, cg_fmul(m, cg_f32(m, -0.5f), x), x);
    LLVMValueRef pdf = cg_fmul(m, cg_f32(m, 0.39894228040143267794f), cg_fexp(m, sq));
    return cg_fmul(m, dy, cg_fadd(m, cdf, cg_fmul(m, x, pdf)));
}

/* 1/(1 + e^-x): e^-x overflows to inf for x < -88.7, giving 0 */
static LLVMValueRef sigmoid(Lw *w, LLVMValueRef x)
{
    CgModule *m = w->m;
    if (lw_ref_math(w)) {
        LLVMValueRef e = lw_math64(w, LW_EXP, cg_fneg(m, lw_ext(w, x)), NULL);
        return lw_trunc(w, cg_fdiv(m, lw_f64(w, 1.0), cg_fadd(m, lw_f64(w, 1.0), e)));
    }
    LLVMValueRef e = cg_fexp(m, cg_fneg(m, x));
    return cg_fdiv(m, cg_f32(m, 1.0f), cg_fadd(m, cg_f32(m, 1.0f), e));
}

static LLVMValueRef tanh_(Lw *w, LLVMValueRef x)
{
    return lw_ref_math(w) ? cg_math(w->m, CG_MATH_TANH, x) : cg_ftanh(w->m, x);
}

/* Element i of the node; bi indexes the broadcast operand. */
static LLVMValueRef value(Lw *w, LLVMValueRef i, LLVMValueRef bi)
{
    CgModule *m = w->m;
    const IrNode *n = w->n;
    LLVMValueRef a = ld(w, 0, i), one = cg_f32(m, 1.0f), zero = cg_f32(m, 0.0f);
    switch (n->op) {
    case IR_OP_ADD: return cg_fadd(m, a, ld(w, 1, bi));
    case IR_OP_SUB: return cg_fsub(m, a, ld(w, 1, bi));
    case IR_OP_MUL: return cg_fmul(m, a, ld(w, 1, bi));
    case IR_OP_DIV: return cg_fdiv(m, a, ld(w, 1, bi));
    case IR_OP_ADD_SCALAR: return cg_fadd(m, a, cg_f32(m, n->a.scalar));
    case IR_OP_MUL_SCALAR: return cg_fmul(m, a, cg_f32(m, n->a.scalar));
    case IR_OP_RELU: return sel(w, fgt0(w, a), a, zero);
    case IR_OP_RELU_GRAD: return sel(w, fgt0(w, ld(w, 1, i)), a, zero);
    case IR_OP_LEAKY_RELU:
        return sel(w, fgt0(w, a), a, cg_fmul(m, a, cg_f32(m, n->a.scalar)));
    case IR_OP_LEAKY_RELU_GRAD:
        return sel(w, fgt0(w, ld(w, 1, i)), a, cg_fmul(m, a, cg_f32(m, n->a.scalar)));
    case IR_OP_GELU: return gelu(w, a);
    case IR_OP_GELU_GRAD: return gelu_grad(w, a, ld(w, 1, i));
    case IR_OP_GELU_GRAD_Y: return gelu_grad_y(w, a, ld(w, 1, i), ld(w, 2, i));
    case IR_OP_TANH: return tanh_(w, a);
    case IR_OP_SIGMOID: return sigmoid(w, a);
    case IR_OP_TANH_GRAD: {          /* dy·(1 - y²) */
        LLVMValueRef y = ld(w, 1, i);
        return cg_fmul(m, a, cg_fsub(m, one, cg_fmul(m, y, y)));
    }
    case IR_OP_SIGMOID_GRAD: {       /* dy·y·(1 - y) */
        LLVMValueRef y = ld(w, 1, i);
        return cg_fmul(m, cg_fmul(m, a, y), cg_fsub(m, one, y));
    }
    case IR_OP_DIV_GRAD_B: {         /* div_grad_b(dy, a, b) = -dy·a / b² */
        LLVMValueRef b = ld(w, 2, bi);
        return cg_fdiv(m, cg_fmul(m, cg_fneg(m, a), ld(w, 1, i)), cg_fmul(m, b, b));
    }
    default:
        IR_ASSERT(!"lower_elementwise: not an elementwise op");
    }
}

void lower_elementwise(Lw *w)
{
    CgModule *m = w->m;
    const IrType *ot = &w->n->type;
    int kb = ir_op_bcast_operand(w->n->op);
    CgLoop l, r;
    if (kb < 0 || !ir_type_batched(ot) || ir_type_batched(lw_type(w, kb))) {
        cg_loop_begin(m, &l, lw_c(w, 0), lw_count(w, ot), "i");
        cg_store_f32(m, w->out, l.i, value(w, l.i, l.i));
        cg_loop_end(m, &l);
        return;
    }
    /* out (R, B) with b (B) repeated over the R rows */
    int64_t B = ir_type_numel(lw_type(w, kb));
    LLVMValueRef R = lw_mul(w, w->N, lw_c(w, ir_type_numel(ot) / B));
    cg_loop_begin(m, &r, lw_c(w, 0), R, "r");
    cg_loop_begin(m, &l, lw_c(w, 0), lw_c(w, B), "j");
    LLVMValueRef i = lw_mad(w, r.i, lw_c(w, B), l.i);
    cg_store_f32(m, w->out, i, value(w, i, l.i));
    cg_loop_end(m, &l);
    cg_loop_end(m, &r);
}

/* ------------------------------------------------------------- dropout */

static LLVMValueRef u64c(Lw *w, uint64_t v) { return LLVMConstInt(w->m->t_i64, v, 0); }
static LLVMValueRef xr(Lw *w, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildXor(w->m->b, a, b, ""); }
static LLVMValueRef shr(Lw *w, LLVMValueRef a, int k) { return LLVMBuildLShr(w->m->b, a, u64c(w, (uint64_t)k), ""); }
static LLVMValueRef shl(Lw *w, LLVMValueRef a, int k) { return LLVMBuildShl(w->m->b, a, u64c(w, (uint64_t)k), ""); }
static LLVMValueRef mulu(Lw *w, LLVMValueRef a, uint64_t c) { return LLVMBuildMul(w->m->b, a, u64c(w, c), ""); }
static LLVMValueRef rotl(Lw *w, LLVMValueRef x, int k)
{
    return LLVMBuildOr(w->m->b, shl(w, x, k), shr(w, x, 64 - k), "");
}

/* splitmix64 (runtime/data/rng.c): advances *x, returns the mixed output. */
static LLVMValueRef splitmix(Lw *w, LLVMValueRef *x)
{
    *x = LLVMBuildAdd(w->m->b, *x, u64c(w, 0x9e3779b97f4a7c15ULL), "");
    LLVMValueRef z = mulu(w, xr(w, *x, shr(w, *x, 30)), 0xbf58476d1ce4e5b9ULL);
    z = mulu(w, xr(w, z, shr(w, z, 27)), 0x94d049bb133111ebULL);
    return xr(w, z, shr(w, z, 31));
}

static void fill_state(Lw *w, LLVMValueRef sm, LLVMValueRef s[4])
{
    for (int i = 0; i < 4; i++)
        s[i] = splitmix(w, &sm);
    LLVMValueRef any = LLVMBuildOr(w->m->b, LLVMBuildOr(w->m->b, s[0], s[1], ""),
                                   LLVMBuildOr(w->m->b, s[2], s[3], ""), "");
    LLVMValueRef zero = LLVMBuildICmp(w->m->b, LLVMIntEQ, any, u64c(w, 0), "");
    s[0] = sel(w, zero, u64c(w, 1), s[0]);
}

/* The stream of interp_dropout_uniforms: rt_rng_seed(seed ^ step<<20 ^ salt),
 * then rt_rng_split(RT_RNG_STREAM_DROPOUT = 3). */
static void dropout_state(Lw *w, LLVMValueRef s[4])
{
    LLVMValueRef root[4];
    LLVMValueRef key = xr(w, xr(w, w->seed, shl(w, w->step, 20)), u64c(w, (uint64_t)w->n->a.salt));
    fill_state(w, key, root);
    key = u64c(w, 3 ^ 0x6a09e667f3bcc909ULL);
    for (int i = 0; i < 4; i++) {
        LLVMValueRef x = xr(w, key, root[i]);
        key = LLVMBuildAdd(w->m->b, splitmix(w, &x), rotl(w, key, 17), "");
    }
    fill_state(w, key, s);
}

/* xoshiro256** next() over four state slots. */
static LLVMValueRef xoshiro(Lw *w, LLVMValueRef slot[4])
{
    LLVMValueRef s[4];
    for (int i = 0; i < 4; i++)
        s[i] = lw_get(w, w->m->t_i64, slot[i]);
    LLVMValueRef result = mulu(w, rotl(w, mulu(w, s[1], 5), 7), 9);
    LLVMValueRef t = shl(w, s[1], 17);
    s[2] = xr(w, s[2], s[0]);
    s[3] = xr(w, s[3], s[1]);
    s[1] = xr(w, s[1], s[2]);
    s[0] = xr(w, s[0], s[3]);
    s[2] = xr(w, s[2], t);
    s[3] = rotl(w, s[3], 45);
    for (int i = 0; i < 4; i++)
        lw_set(w, slot[i], s[i]);
    return result;
}

/* y = x ⊙ mask, mask[i] = u[i] >= p ? 1/(1-p) : 0 while training; y = x otherwise. */
void lower_dropout(Lw *w)
{
    CgModule *m = w->m;
    float p = w->n->a.p, keep = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    LLVMValueRef L = lw_count(w, &w->n->type);
    LwIf f;
    lw_if(w, &f, LLVMBuildICmp(m->b, LLVMIntNE, w->train, lw_c(w, 0), ""));
    LLVMValueRef s[4], slot[4];
    dropout_state(w, s);
    for (int i = 0; i < 4; i++)
        slot[i] = lw_slot(w, m->t_i64, s[i]);
    CgLoop l;
    cg_loop_begin(m, &l, lw_c(w, 0), L, "i");
    LLVMValueRef bits = shr(w, xoshiro(w, slot), 40);
    LLVMValueRef u = cg_fmul(m, LLVMBuildUIToFP(m->b, bits, m->t_f32, ""), cg_f32(m, 0x1.0p-24f));
    LLVMValueRef kept = LLVMBuildFCmp(m->b, LLVMRealOGE, u, cg_f32(m, p), "");
    LLVMValueRef mask = sel(w, kept, cg_f32(m, keep), cg_f32(m, 0.0f));
    cg_store_f32(m, w->out, l.i, cg_fmul(m, ld(w, 0, l.i), mask));
    cg_loop_end(m, &l);
    lw_else(w, &f);
    lw_copy(w, w->out, w->in[0], L);
    lw_endif(w, &f);
}

/* ---------------------------------------------------------------- bias */

/* x viewed as (outer, C, S) around the bias axis (kernels.h). */
static LLVMValueRef bias_view(Lw *w, const IrType *t, int64_t *C, int64_t *S)
{
    int ax = w->n->a.axis < 0 ? t->rank - 1 : w->n->a.axis;
    *C = t->dim[ax];
    *S = 1;
    for (int i = ax + 1; i < t->rank; i++)
        *S *= t->dim[i];
    LLVMValueRef per = lw_c(w, ir_type_numel(t) / (*C * *S));
    return ir_type_batched(t) ? lw_mul(w, per, w->N) : per;
}

/* x + b, and max(·, 0) after it for bias_relu (the relu of lower_elementwise). */
static LLVMValueRef biased(Lw *w, LLVMValueRef x, LLVMValueRef b, bool relu)
{
    LLVMValueRef v = cg_fadd(w->m, x, b);
    return relu ? sel(w, fgt0(w, v), v, cg_f32(w->m, 0.0f)) : v;
}

/* out[o, c, s] = x[o, c, s] + b[c] over a view (outer, C, S); relu after it
 * when asked. The conv2d epilogue calls it on one image's output in place. */
void lw_bias_loops(Lw *w, LLVMValueRef out, LLVMValueRef x, LLVMValueRef bias,
                   LLVMValueRef outer, int64_t C, int64_t S, bool relu)
{
    CgModule *m = w->m;
    CgLoop o, c, s;
    cg_loop_begin(m, &o, lw_c(w, 0), outer, "o");
    cg_loop_begin(m, &c, lw_c(w, 0), lw_c(w, C), "c");
    LLVMValueRef b = cg_load_f32(m, bias, c.i), row = lw_mad(w, o.i, lw_c(w, C), c.i);
    if (S == 1) {
        cg_store_f32(m, out, row, biased(w, cg_load_f32(m, x, row), b, relu));
    } else {
        cg_loop_begin(m, &s, lw_c(w, 0), lw_c(w, S), "s");
        LLVMValueRef i = lw_mad(w, row, lw_c(w, S), s.i);
        cg_store_f32(m, out, i, biased(w, cg_load_f32(m, x, i), b, relu));
        cg_loop_end(m, &s);
    }
    cg_loop_end(m, &c);
    cg_loop_end(m, &o);
}

/* bias_add, and bias_relu (the fuse pass's bias + relu in one loop) */
void lower_bias_add(Lw *w)
{
    int64_t C, S;
    LLVMValueRef outer = bias_view(w, &w->n->type, &C, &S);
    lw_bias_loops(w, w->out, w->in[0], w->in[1], outer, C, S, w->n->op == IR_OP_BIAS_RELU);
}

/* db[c] = Σ_{o,s} dy[o,c,s], accumulated in double in the scratch area, in
 * the reference's order for each c (o, then s). Each run of S elements is
 * summed in a register starting from acc[c] (reassociable, so it vectorizes,
 * except under no_contract, where the order is the reference's exactly). */
void lower_bias_grad(Lw *w)
{
    CgModule *m = w->m;
    int64_t C, S;
    LLVMValueRef outer = bias_view(w, lw_type(w, 0), &C, &S), acc = w->scratch;
    lw_zero(w, acc, lw_c(w, 2 * C));
    CgLoop o, c;
    cg_loop_begin(m, &o, lw_c(w, 0), outer, "o");
    cg_loop_begin(m, &c, lw_c(w, 0), lw_c(w, C), "c");
    LLVMValueRef row = lw_mad(w, o.i, lw_c(w, C), c.i);
    if (S == 1) {
        LLVMValueRef v = lw_ext(w, ld(w, 0, row));
        lw_store_f64(w, acc, c.i, cg_fadd(m, lw_load_f64(w, acc, c.i), v));
    } else {
        LwSum s;
        LLVMValueRef base = lw_mul(w, row, lw_c(w, S)), start = lw_load_f64(w, acc, c.i);
        s.slot = lw_slot(w, w->t_f64, start);   /* lw_sum_begin, from acc[c] */
        cg_loop_begin(m, &s.l, lw_c(w, 0), lw_c(w, S), "s");
        lw_sum_add(w, &s, lw_ext(w, ld(w, 0, lw_add(w, base, s.l.i))));
        lw_store_f64(w, acc, c.i, lw_sum_end(w, &s));
    }
    cg_loop_end(m, &c);
    cg_loop_end(m, &o);
    cg_loop_begin(m, &c, lw_c(w, 0), lw_c(w, C), "c");
    cg_store_f32(m, w->out, c.i, lw_trunc(w, lw_load_f64(w, acc, c.i)));
    cg_loop_end(m, &c);
}

/* ------------------------------------------------------------ data moves */

/* out (L) = Σ_b dy[b] (L), in float and batch order, as rk_acc. */
void lower_reduce_batch(Lw *w)
{
    CgModule *m = w->m;
    LLVMValueRef L = lw_c(w, ir_type_numel(&w->n->type));
    lw_zero(w, w->out, L);
    CgLoop b, j;
    cg_loop_begin(m, &b, lw_c(w, 0), w->N, "b");
    cg_loop_begin(m, &j, lw_c(w, 0), L, "j");
    LLVMValueRef v = ld(w, 0, lw_mad(w, b.i, L, j.i));
    cg_store_f32(m, w->out, j.i, cg_fadd(m, cg_load_f32(m, w->out, j.i), v));
    cg_loop_end(m, &j);
    cg_loop_end(m, &b);
}

/* out (R, len) = x (R, W)[:, start:start+len] */
void lower_slice_last(Lw *w)
{
    const IrType *t = lw_type(w, 0);
    int64_t W = lw_last_dim(t), len = w->n->a.len;
    CgLoop r;
    cg_loop_begin(w->m, &r, lw_c(w, 0), lw_rows(w, t), "r");
    LLVMValueRef src = lw_off(w, w->in[0], lw_mad(w, r.i, lw_c(w, W), lw_c(w, w->n->a.start)));
    lw_copy(w, lw_off(w, w->out, lw_mul(w, r.i, lw_c(w, len))), src, lw_c(w, len));
    cg_loop_end(w->m, &r);
}

/* y[b, j0, j1, ...] = x[b, i...] with i[perm[a]] = j[a]: one loop per output
 * axis, carrying the input offset Σ_a j[a]·xstride[perm[a]]. */
void lower_transpose(Lw *w)
{
    CgModule *m = w->m;
    const IrType *t = lw_type(w, 0);
    bool batched = ir_type_batched(t);
    int r = t->rank - batched;
    const int64_t *dims = t->dim + batched;
    int64_t xstride[IR_MAX_DIMS], M = 1;
    for (int a = r - 1; a >= 0; a--) {
        xstride[a] = M;
        M *= dims[a];
    }
    CgLoop b, l[IR_MAX_DIMS];
    cg_loop_begin(m, &b, lw_c(w, 0), batched ? w->N : lw_c(w, 1), "b");
    /* output offset by Horner from the batch index: ((b·d0 + j0)·d1 + j1)... */
    LLVMValueRef xo = lw_mul(w, b.i, lw_c(w, M)), y = b.i;
    for (int a = 0; a < r; a++) {
        int pa = w->n->a.perm[a];
        cg_loop_begin(m, &l[a], lw_c(w, 0), lw_c(w, dims[pa]), "t");
        xo = lw_mad(w, l[a].i, lw_c(w, xstride[pa]), xo);
        y = lw_mad(w, y, lw_c(w, dims[pa]), l[a].i);
    }
    cg_store_f32(m, w->out, y, ld(w, 0, xo));
    for (int a = r - 1; a >= 0; a--)
        cg_loop_end(m, &l[a]);
    cg_loop_end(m, &b);
}

void lower_fill(Lw *w)
{
    cg_store_f32(w->m, w->out, lw_c(w, 0), cg_f32(w->m, w->n->a.scalar));
}
