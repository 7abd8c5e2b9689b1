/* gpu_gather.c — GPU kernels that move values: transpose, slice_last,
 * embedding and its gradient. One thread per output element, which reads
 * where its value comes from; the embedding gradient's thread for (v, d)
 * sums the rows whose id is v in row order, as the reference does, so every
 * kernel here reproduces the reference exactly.
 */
#include "gpu_impl.h"

static LLVMValueRef C(Gk *k, int64_t v) { return cg_i64(k->w.m, v); }
static LLVMValueRef udiv(Gk *k, LLVMValueRef a, int64_t b)
{
    return LLVMBuildUDiv(k->w.m->b, a, C(k, b), "");
}
static LLVMValueRef urem(Gk *k, LLVMValueRef a, int64_t b)
{
    return LLVMBuildURem(k->w.m->b, a, C(k, b), "");
}

/* transpose(x) perm over the non-batch axes: y's axis a is x's axis perm[a] */
static void transpose(Gk *k, LLVMValueRef i)
{
    Lw *w = &k->w;
    const IrType *t = lw_type(w, 0);
    int rank = t->rank - 1;
    int64_t dims[IR_MAX_DIMS], stride[IR_MAX_DIMS], M = 1;
    for (int a = rank - 1; a >= 0; a--) {
        dims[a] = t->dim[a + 1];
        stride[a] = M;
        M *= dims[a];
    }
    LLVMValueRef o = urem(k, i, M), off = lw_mul(w, udiv(k, i, M), C(k, M));
    for (int a = rank - 1; a >= 0; a--) {   /* y's index, last axis fastest */
        int64_t yd = dims[w->n->a.perm[a]];
        off = lw_mad(w, urem(k, o, yd), C(k, stride[w->n->a.perm[a]]), off);
        o = udiv(k, o, yd);
    }
    cg_store_f32(w->m, w->out, i, cg_load_f32(w->m, w->in[0], off));
}

/* slice_last(x[.., W]) start len: y[r, j] = x[r, start + j] */
static void slice_last(Gk *k, LLVMValueRef i)
{
    Lw *w = &k->w;
    int64_t W = lw_last_dim(lw_type(w, 0)), len = w->n->a.len;
    LLVMValueRef src = lw_mad(w, udiv(k, i, len), C(k, W), lw_add(w, urem(k, i, len),
                                                                 C(k, w->n->a.start)));
    cg_store_f32(w->m, w->out, i, cg_load_f32(w->m, w->in[0], src));
}

/* id < 0 or >= V: no row (the reference's zeros) */
static LLVMValueRef valid_id(Gk *k, LLVMValueRef id, int64_t V)
{
    LLVMBuilderRef b = k->w.m->b;
    return LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, id, C(k, 0), ""),
                        LLVMBuildICmp(b, LLVMIntSLT, id, C(k, V), ""), "");
}

/* embedding(ids[R], table[V, D]): y[r, d] = table[ids[r], d] */
static void embedding(Gk *k, LLVMValueRef i)
{
    Lw *w = &k->w;
    CgModule *m = w->m;
    const IrType *tt = lw_type(w, 1);
    int64_t V = tt->dim[0], D = tt->dim[1];
    LLVMValueRef id = lw_load_i32(w, w->in[0], udiv(k, i, D));
    LLVMValueRef ok = valid_id(k, id, V);
    LLVMValueRef at = lw_mad(w, LLVMBuildSelect(m->b, ok, id, C(k, 0), ""), C(k, D), urem(k, i, D));
    LLVMValueRef v = cg_load_f32(m, w->in[1], at);
    cg_store_f32(m, w->out, i, LLVMBuildSelect(m->b, ok, v, cg_f32(m, 0.0f), ""));
}

/* embedding_grad(dy[R, D], ids[R], table[V, D]): dtable[v, d] = Σ_{r: ids[r] = v} dy[r, d] */
static void embedding_grad(Gk *k, LLVMValueRef i)
{
    Lw *w = &k->w;
    CgModule *m = w->m;
    int64_t D = lw_type(w, 2)->dim[1];
    LLVMValueRef v = udiv(k, i, D), d = urem(k, i, D);
    LLVMValueRef acc = lw_slot(w, m->t_f32, cg_f32(m, 0.0f));
    CgLoop r;
    cg_loop_begin(m, &r, C(k, 0), lw_count(w, lw_type(w, 1)), "r");
    LwIf f;
    lw_if(w, &f, LLVMBuildICmp(m->b, LLVMIntEQ, lw_load_i32(w, w->in[1], r.i), v, ""));
    LLVMValueRef dy = cg_load_f32(m, w->in[0], lw_mad(w, r.i, C(k, D), d));
    lw_set(w, acc, cg_fadd(m, lw_get(w, m->t_f32, acc), dy));
    lw_endif(w, &f);
    cg_loop_end(m, &r);
    cg_store_f32(m, w->out, i, lw_get(w, m->t_f32, acc));
}

void gk_emit_gather(Gk *k, LLVMValueRef i)
{
    switch (k->w.n->op) {
    case IR_OP_TRANSPOSE: transpose(k, i); return;
    case IR_OP_SLICE_LAST: slice_last(k, i); return;
    case IR_OP_EMBEDDING: embedding(k, i); return;
    case IR_OP_EMBEDDING_GRAD: embedding_grad(k, i); return;
    default: IR_ASSERT(!"gk_emit_gather: not a gather op");
    }
}
