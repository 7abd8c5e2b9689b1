/* lower_optim.c — kernels for gradient clipping (sumsq, clip_factor) and the
 * parameter updates: one fused loop per parameter tensor that reads p, its
 * gradient (times the clip factor when there is one) and its state, and
 * writes p and the state in place.
 *
 * The per-element arithmetic is float in the order of the reference
 * (runtime/kernels/optim.c, PyTorch's single-tensor code); hyper-parameters
 * derived from the step's lr and count (Adam's bias corrections, AdamW's
 * shrink factor) are formed in double once per call and rounded to float.
 */
#include "lower_impl.h"

/* out[0] = Σ g² in double */
void lower_sumsq(Lw *w)
{
    LwSum s;
    lw_sum_begin(w, &s, lw_c(w, 0), lw_count(w, lw_type(w, 0)));
    LLVMValueRef v = lw_ext(w, cg_load_f32(w->m, w->in[0], s.l.i));
    lw_sum_add(w, &s, cg_fmul(w->m, v, v));
    cg_store_f32(w->m, w->out, lw_c(w, 0), lw_trunc(w, lw_sum_end(w, &s)));
}

/* out[0] = ‖g‖ > clip ? clip / (‖g‖ + 1e-6) : 1, ‖g‖ = sqrt(total sumsq) */
void lower_clip_factor(Lw *w)
{
    CgModule *m = w->m;
    LLVMValueRef norm = lw_math64(w, LW_SQRT, lw_ext(w, cg_load_f32(m, w->in[0], lw_c(w, 0))), NULL);
    LLVMValueRef clip = lw_f64(w, (double)w->n->a.scalar);
    LLVMValueRef f = lw_trunc(w, cg_fdiv(m, clip, cg_fadd(m, norm, lw_f64(w, 1e-6))));
    LLVMValueRef big = LLVMBuildFCmp(m->b, LLVMRealOGT, norm, clip, "");
    cg_store_f32(m, w->out, lw_c(w, 0), LLVMBuildSelect(m->b, big, f, cg_f32(m, 1.0f), ""));
}

/* The gradient element the update applies: g[i], or g[i]·factor. */
static LLVMValueRef grad_at(Lw *w, LLVMValueRef factor, LLVMValueRef i)
{
    LLVMValueRef g = cg_load_f32(w->m, w->in[1], i);
    return factor ? cg_fmul(w->m, g, factor) : g;
}

/* An update's own value is 0: it writes its parameter and state in place. */
static void update_done(Lw *w)
{
    cg_store_f32(w->m, w->out, lw_c(w, 0), cg_f32(w->m, 0.0f));
}

static LLVMValueRef clip_operand(Lw *w, int k)
{
    return w->n->n_in > k ? cg_load_f32(w->m, w->in[k], lw_c(w, 0)) : NULL;
}

/* (p, g, buf [, factor]): d = g + wd·p; buf = mom·buf + d;
 * d = nesterov ? d + mom·buf : buf; p -= lr·d */
void lower_sgd(Lw *w)
{
    CgModule *m = w->m;
    const IrAttrs *a = &w->n->a;
    float wd = a->weight_decay, mom = a->momentum;
    LLVMValueRef factor = clip_operand(w, 3), neg_lr = cg_fneg(m, w->lr);
    CgLoop l;
    cg_loop_begin(m, &l, lw_c(w, 0), lw_count(w, lw_type(w, 0)), "i");
    LLVMValueRef p = cg_load_f32(m, w->in[0], l.i), d = grad_at(w, factor, l.i);
    if (wd != 0.0f)
        d = cg_fadd(m, d, cg_fmul(m, cg_f32(m, wd), p));
    if (mom != 0.0f) {
        LLVMValueRef buf = cg_load_f32(m, w->in[2], l.i);
        buf = cg_fadd(m, cg_fmul(m, buf, cg_f32(m, mom)), d);
        cg_store_f32(m, w->in[2], l.i, buf);
        d = a->nesterov ? cg_fadd(m, d, cg_fmul(m, cg_f32(m, mom), buf)) : buf;
    }
    cg_store_f32(m, w->in[0], l.i, cg_fadd(m, p, cg_fmul(m, neg_lr, d)));
    cg_loop_end(m, &l);
    update_done(w);
}

/* (p, g, m, v [, factor]): Adam, or AdamW when decoupled (kernels.h). */
void lower_adam(Lw *w)
{
    CgModule *m = w->m;
    const IrAttrs *a = &w->n->a;
    double b1 = a->beta1, b2 = a->beta2, wd = a->weight_decay;
    LLVMValueRef t = lw_i2d(w, w->step), lr = lw_ext(w, w->lr);
    LLVMValueRef c1 = cg_fsub(m, lw_f64(w, 1.0), lw_math64(w, LW_POW, lw_f64(w, b1), t));
    LLVMValueRef c2 = cg_fsub(m, lw_f64(w, 1.0), lw_math64(w, LW_POW, lw_f64(w, b2), t));
    LLVMValueRef step_size = lw_trunc(w, cg_fdiv(m, lr, c1));
    LLVMValueRef c2_sqrt = lw_trunc(w, lw_math64(w, LW_SQRT, c2, NULL));
    LLVMValueRef shrink = lw_trunc(w, cg_fsub(m, lw_f64(w, 1.0), cg_fmul(m, lr, lw_f64(w, wd))));
    LLVMValueRef neg_step = cg_fneg(m, step_size), factor = clip_operand(w, 4);
    LLVMValueRef fb1 = cg_f32(m, (float)b1), fb2 = cg_f32(m, (float)b2);
    LLVMValueRef one_b1 = cg_f32(m, (float)(1.0 - b1)), one_b2 = cg_f32(m, (float)(1.0 - b2));
    CgLoop l;
    cg_loop_begin(m, &l, lw_c(w, 0), lw_count(w, lw_type(w, 0)), "i");
    LLVMValueRef p = cg_load_f32(m, w->in[0], l.i), g = grad_at(w, factor, l.i);
    if (a->decoupled)
        p = cg_fmul(m, p, shrink);
    else if ((float)wd != 0.0f)
        g = cg_fadd(m, g, cg_fmul(m, cg_f32(m, (float)wd), p));
    LLVMValueRef mi = cg_fadd(m, cg_fmul(m, cg_load_f32(m, w->in[2], l.i), fb1),
                              cg_fmul(m, one_b1, g));
    LLVMValueRef vi = cg_fadd(m, cg_fmul(m, cg_load_f32(m, w->in[3], l.i), fb2),
                              cg_fmul(m, cg_fmul(m, one_b2, g), g));
    cg_store_f32(m, w->in[2], l.i, mi);
    cg_store_f32(m, w->in[3], l.i, vi);
    LLVMValueRef denom = cg_fadd(m, cg_fdiv(m, cg_math(m, CG_MATH_SQRT, vi), c2_sqrt),
                                 cg_f32(m, a->eps));
    cg_store_f32(m, w->in[0], l.i, cg_fadd(m, p, cg_fdiv(m, cg_fmul(m, neg_step, mi), denom)));
    cg_loop_end(m, &l);
    update_done(w);
}
