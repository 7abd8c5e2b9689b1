/* lower.c — an IR graph (forward + backward + optimizer) as one LLVM module.
 *
 * Every node that computes something gets an internal kernel function
 * (lower_impl.h lists the signature; the op-family files emit the bodies).
 * The entry functions ("<name>_step", and one per phase: _forward, _backward,
 * _update) load the buffer pointers from their table and call the kernels in
 * node order — no
 * dispatch at run time, no allocation. Pure views (IR_P_VIEW: flatten,
 * reshape, reshape_like, stop_gradient) get no kernel: they share their
 * operand's buffer (cg_buffer_source, in cg_layout.c). One switch over the op
 * table (emit_body) sends each op to its family's emitter. This file also
 * holds the small emission helpers the families share and `lnet ir --emit`.
 */
#include <stdlib.h>
#include <string.h>

#include "cg_layout.h"
#include "lower_impl.h"

/* ------------------------------------------------------------ helpers */

const IrType *lw_type(const Lw *w, int k)
{
    return &w->g->nodes[w->n->in[k]]->type;
}

int64_t lw_last_dim(const IrType *t)
{
    return t->rank ? t->dim[t->rank - 1] : 1;
}

LLVMValueRef lw_c(Lw *w, int64_t v) { return cg_i64(w->m, v); }
LLVMValueRef lw_add(Lw *w, LLVMValueRef a, LLVMValueRef b) { return cg_iadd(w->m, a, b); }
LLVMValueRef lw_mul(Lw *w, LLVMValueRef a, LLVMValueRef b) { return cg_imul(w->m, a, b); }
LLVMValueRef lw_mad(Lw *w, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
    return lw_add(w, lw_mul(w, a, b), c);
}

LLVMValueRef lw_count(Lw *w, const IrType *t)
{
    LLVMValueRef per = lw_c(w, ir_type_numel(t));
    return ir_type_batched(t) ? lw_mul(w, per, w->N) : per;
}

LLVMValueRef lw_rows(Lw *w, const IrType *t)
{
    LLVMValueRef per = lw_c(w, ir_type_numel(t) / lw_last_dim(t));
    return ir_type_batched(t) ? lw_mul(w, per, w->N) : per;
}

LLVMValueRef lw_f64(Lw *w, double v) { return LLVMConstReal(w->t_f64, v); }
LLVMValueRef lw_ext(Lw *w, LLVMValueRef f) { return LLVMBuildFPExt(w->m->b, f, w->t_f64, ""); }
LLVMValueRef lw_trunc(Lw *w, LLVMValueRef d)
{
    return LLVMBuildFPTrunc(w->m->b, d, w->m->t_f32, "");
}
LLVMValueRef lw_i2d(Lw *w, LLVMValueRef i) { return LLVMBuildSIToFP(w->m->b, i, w->t_f64, ""); }

/* exp, log, sqrt and pow are LLVM intrinsics at f64; erf is libm's. */
LLVMValueRef lw_math64(Lw *w, LwMath64 f, LLVMValueRef x, LLVMValueRef y)
{
    static const char *const names[] = {"llvm.exp", "llvm.log", "llvm.sqrt", "erf",
                                        "llvm.pow"};
    CgModule *m = w->m;
    LLVMValueRef fn;
    if (f == LW_ERF) {
        fn = LLVMGetNamedFunction(m->mod, "erf");
        if (!fn) {  /* no errno for erf: pure, as cg_math's libm calls */
            fn = cg_extern(m, "erf", LLVMFunctionType(w->t_f64, &w->t_f64, 1, 0));
            static const char *const attrs[] = {"nounwind", "willreturn", "memory"};
            for (int i = 0; i < 3; i++) {
                unsigned kind = LLVMGetEnumAttributeKindForName(attrs[i], strlen(attrs[i]));
                LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                                        LLVMCreateEnumAttribute(m->ctx, kind, 0));
            }
        }
    } else {
        unsigned id = LLVMLookupIntrinsicID(names[f], strlen(names[f]));
        IR_ASSERT(id != 0);
        fn = LLVMGetIntrinsicDeclaration(m->mod, id, &w->t_f64, 1);
    }
    LLVMValueRef args[2] = {x, y};
    return cg_call(m, fn, args, f == LW_POW ? 2 : 1);
}

LLVMValueRef lw_slot(Lw *w, LLVMTypeRef t, LLVMValueRef init)
{
    LLVMValueRef s = cg_alloca(w->m, t, "");
    LLVMBuildStore(w->m->b, init, s);
    return s;
}

LLVMValueRef lw_get(Lw *w, LLVMTypeRef t, LLVMValueRef slot)
{
    return LLVMBuildLoad2(w->m->b, t, slot, "");
}

void lw_set(Lw *w, LLVMValueRef slot, LLVMValueRef v) { LLVMBuildStore(w->m->b, v, slot); }

static LLVMValueRef gep(Lw *w, LLVMTypeRef t, LLVMValueRef base, LLVMValueRef idx)
{
    return LLVMBuildInBoundsGEP2(w->m->b, t, base, &idx, 1, "");
}

LLVMValueRef lw_load_i32(Lw *w, LLVMValueRef base, LLVMValueRef idx)
{
    LLVMValueRef v = LLVMBuildLoad2(w->m->b, w->m->t_i32, gep(w, w->m->t_i32, base, idx), "");
    LLVMSetAlignment(v, 4);
    return LLVMBuildSExt(w->m->b, v, w->m->t_i64, "");
}

LLVMValueRef lw_load_f64(Lw *w, LLVMValueRef base, LLVMValueRef idx)
{
    LLVMValueRef v = LLVMBuildLoad2(w->m->b, w->t_f64, gep(w, w->t_f64, base, idx), "");
    LLVMSetAlignment(v, 8);
    return v;
}

void lw_store_f64(Lw *w, LLVMValueRef base, LLVMValueRef idx, LLVMValueRef v)
{
    LLVMSetAlignment(LLVMBuildStore(w->m->b, v, gep(w, w->t_f64, base, idx)), 8);
}

LLVMValueRef lw_off(Lw *w, LLVMValueRef base, LLVMValueRef off)
{
    return cg_gep_f32(w->m, base, off);
}

void lw_zero(Lw *w, LLVMValueRef dst, LLVMValueRef L)
{
    LLVMValueRef bytes = lw_mul(w, L, lw_c(w, 4));
    LLVMBuildMemSet(w->m->b, dst, LLVMConstInt(LLVMInt8TypeInContext(w->m->ctx), 0, 0), bytes, 4);
}

void lw_copy(Lw *w, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef L)
{
    LLVMBuildMemCpy(w->m->b, dst, 4, src, 4, lw_mul(w, L, lw_c(w, 4)));
}

void lw_sum_begin(Lw *w, LwSum *s, LLVMValueRef lo, LLVMValueRef hi)
{
    s->slot = lw_slot(w, w->t_f64, lw_f64(w, 0.0));
    cg_loop_begin(w->m, &s->l, lo, hi, "k");
}

void lw_sum_add(Lw *w, LwSum *s, LLVMValueRef term)
{
    LLVMFastMathFlags old = cg_fmf_set(w->m, w->m->fmf ? CG_FMF_REDUCE : 0);
    lw_set(w, s->slot, cg_fadd(w->m, lw_get(w, w->t_f64, s->slot), term));
    cg_fmf_set(w->m, old);
}

LLVMValueRef lw_sum_end(Lw *w, LwSum *s)
{
    cg_loop_end(w->m, &s->l);
    return lw_get(w, w->t_f64, s->slot);
}

void lw_if(Lw *w, LwIf *f, LLVMValueRef cond)
{
    CgModule *m = w->m;
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(m->ctx, m->fn, "then");
    f->els = LLVMAppendBasicBlockInContext(m->ctx, m->fn, "else");
    f->end = LLVMAppendBasicBlockInContext(m->ctx, m->fn, "endif");
    LLVMBuildCondBr(m->b, cond, then, f->els);
    LLVMPositionBuilderAtEnd(m->b, then);
}

void lw_else(Lw *w, LwIf *f)
{
    LLVMBuildBr(w->m->b, f->end);
    LLVMPositionBuilderAtEnd(w->m->b, f->els);
    f->els = NULL;
}

void lw_endif(Lw *w, LwIf *f)
{
    LLVMBuildBr(w->m->b, f->end);
    if (f->els) {   /* no else branch: it falls through */
        LLVMPositionBuilderAtEnd(w->m->b, f->els);
        LLVMBuildBr(w->m->b, f->end);
    }
    LLVMPositionBuilderAtEnd(w->m->b, f->end);
}

/* ------------------------------------------------------------ kernels */

static bool needs_kernel(const IrNode *n)
{
    return ir_op_info(n->op)->kind != IR_KIND_SOURCE && !ir_op_has(n->op, IR_P_VIEW);
}

/* Emits the body of w->n's kernel. One case per op of ir/ops.def and no
 * default, so -Wswitch names an op a new row forgot; false for an op with no
 * kernel (sources and views, which needs_kernel skips, or a missing case). */
static bool emit_body(Lw *w)
{
    switch (w->n->op) {
    case IR_OP_ADD:
    case IR_OP_SUB:
    case IR_OP_MUL:
    case IR_OP_DIV:
    case IR_OP_ADD_SCALAR:
    case IR_OP_MUL_SCALAR:
    case IR_OP_RELU:
    case IR_OP_LEAKY_RELU:
    case IR_OP_GELU:
    case IR_OP_TANH:
    case IR_OP_SIGMOID:
    case IR_OP_RELU_GRAD:
    case IR_OP_LEAKY_RELU_GRAD:
    case IR_OP_GELU_GRAD:
    case IR_OP_GELU_GRAD_Y:
    case IR_OP_TANH_GRAD:
    case IR_OP_SIGMOID_GRAD:
    case IR_OP_DIV_GRAD_B:      lower_elementwise(w); return true;
    case IR_OP_DROPOUT:
    case IR_OP_DROPOUT_GRAD:    lower_dropout(w); return true;
    case IR_OP_BIAS_ADD:
    case IR_OP_BIAS_RELU:       lower_bias_add(w); return true;
    case IR_OP_BIAS_GRAD:       lower_bias_grad(w); return true;
    case IR_OP_REDUCE_BATCH:    lower_reduce_batch(w); return true;
    case IR_OP_SLICE_LAST:      lower_slice_last(w); return true;
    case IR_OP_TRANSPOSE:       lower_transpose(w); return true;
    case IR_OP_FILL:            lower_fill(w); return true;
    case IR_OP_MATMUL:
    case IR_OP_MATMUL_GRAD_X:
    case IR_OP_MATMUL_GRAD_W:
    case IR_OP_MATMUL_BIAS:     lower_matmul(w); return true;
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BIAS_RELU:
    case IR_OP_CONV2D_GRAD_X:
    case IR_OP_CONV2D_GRAD_X_RELU:
    case IR_OP_CONV2D_GRAD_W:   lower_conv(w); return true;
    case IR_OP_MAXPOOL:
    case IR_OP_MAXPOOL_GRAD:
    case IR_OP_MAXPOOL_GRAD_RELU:
    case IR_OP_AVGPOOL:
    case IR_OP_AVGPOOL_GRAD:    lower_pool(w); return true;
    case IR_OP_GLOBAL_AVG_POOL:
    case IR_OP_GLOBAL_AVG_POOL_GRAD: lower_global_pool(w); return true;
    case IR_OP_SOFTMAX:
    case IR_OP_LOG_SOFTMAX:
    case IR_OP_SOFTMAX_GRAD:
    case IR_OP_LOG_SOFTMAX_GRAD: lower_softmax(w); return true;
    case IR_OP_LAYERNORM:
    case IR_OP_LAYERNORM_GRAD_X:
    case IR_OP_LAYERNORM_GRAD_X_ADD:
    case IR_OP_LAYERNORM_GRAD_G: lower_layernorm(w); return true;
    case IR_OP_BATCHNORM:
    case IR_OP_BATCHNORM_GRAD_X:
    case IR_OP_BATCHNORM_GRAD_G: lower_batchnorm(w); return true;
    case IR_OP_CROSS_ENTROPY:   lower_cross_entropy(w); return true;
    case IR_OP_CROSS_ENTROPY_GRAD: lower_cross_entropy_grad(w); return true;
    case IR_OP_MSE:
    case IR_OP_MSE_GRAD:        lower_mse(w); return true;
    case IR_OP_EMBEDDING:
    case IR_OP_EMBEDDING_GRAD:  lower_embedding(w); return true;
    case IR_OP_CAUSAL_ATTENTION:
    case IR_OP_ATTENTION_GRAD:  lower_attention(w); return true;
    case IR_OP_SUMSQ:           lower_sumsq(w); return true;
    case IR_OP_CLIP_FACTOR:     lower_clip_factor(w); return true;
    case IR_OP_SGD_UPDATE:      lower_sgd(w); return true;
    case IR_OP_ADAM_UPDATE:     lower_adam(w); return true;
    case IR_OP_INPUT:
    case IR_OP_LABEL:
    case IR_OP_PARAM:
    case IR_OP_STATE:
    case IR_OP_FLATTEN:
    case IR_OP_RESHAPE:
    case IR_OP_RESHAPE_LIKE:
    case IR_OP_STOP_GRADIENT:
    case IR_OP_COUNT:
        return false;
    }
    return false;
}

static LLVMValueRef emit_kernel(CgModule *m, const IrGraph *g, const IrNode *n, bool contract,
                                Diag *d)
{
    CgParamKind ps[LW_NPARAMS];
    for (int i = 0; i <= LW_SCRATCH; i++)
        ps[i] = CG_PARAM_PTR;
    ps[LW_N] = CG_PARAM_I64;
    ps[LW_LR] = CG_PARAM_F32;
    ps[LW_STEP] = ps[LW_SEED] = ps[LW_TRAIN] = CG_PARAM_I64;
    char name[96];
    snprintf(name, sizeof name, "k%d.%s", n->id, ir_op_info(n->op)->name);
    LLVMValueRef fn = cg_func_begin(m, name, ps, LW_NPARAMS, CG_FN_KERNEL);
    /* Both entries call the forward kernels: compiled once, not inlined twice. */
    unsigned noinline = LLVMGetEnumAttributeKindForName("noinline", 8);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(m->ctx, noinline, 0));
    Lw w = {.m = m, .g = g, .n = n, .t_f64 = LLVMDoubleTypeInContext(m->ctx)};
    cg_fmf_set(m, contract ? CG_FMF_DEFAULT : 0);
    w.out = cg_param(m, LW_OUT);
    for (int k = 0; k < IR_MAX_IN; k++)
        w.in[k] = cg_param(m, LW_IN0 + k);
    w.scratch = cg_param(m, LW_SCRATCH);
    w.N = cg_param(m, LW_N);
    w.lr = cg_param(m, LW_LR);
    w.step = cg_param(m, LW_STEP);
    w.seed = cg_param(m, LW_SEED);
    w.train = cg_param(m, LW_TRAIN);
    if (!emit_body(&w)) {
        diag_error(d, n->loc, "codegen: internal error: no kernel for op '%s' (%%%d, block %d)",
                   ir_op_info(n->op)->name, n->id, n->block);
        return NULL;
    }
    cg_func_end(m);
    return fn;
}

/* void <name>(void **bufs, i64 n, float lr, i64 step, i64 seed, i64 train) */
/* Calls, in node order, the kernels of the nodes whose phase (IrPhase) is in
 * the bit set `phases`. */
/* Profiled: `t0 = rt_profile_now()` before a kernel call, and after it
 * `rt_profile_add(counters, node i, t0, n)`; counters is the table entry
 * after the scratch area's (runtime/profile.h). */
static LLVMValueRef profile_now(CgModule *m)
{
    LLVMValueRef fn = cg_extern(m, "rt_profile_now", LLVMFunctionType(m->t_i64, NULL, 0, 0));
    return cg_call(m, fn, NULL, 0);
}

static void profile_add(CgModule *m, LLVMValueRef counters, int i, LLVMValueRef t0)
{
    LLVMTypeRef pt[4] = {m->t_ptr, m->t_i64, m->t_i64, m->t_i64};
    LLVMValueRef fn = cg_extern(m, "rt_profile_add", LLVMFunctionType(m->t_void, pt, 4, 0));
    LLVMValueRef args[4] = {counters, cg_i64(m, i), t0, cg_param(m, 1)};
    cg_call(m, fn, args, 4);
}

static void emit_entry(CgModule *m, const IrGraph *g, LLVMValueRef *kern, const char *name,
                       const unsigned char *phase, unsigned phases, bool profile)
{
    static const CgParamKind ps[] = {CG_PARAM_PTR, CG_PARAM_I64, CG_PARAM_F32,
                                     CG_PARAM_I64, CG_PARAM_I64, CG_PARAM_I64};
    cg_func_begin(m, name, ps, 6, CG_FN_ENTRY);
    LLVMValueRef bufs = cg_param(m, 0);
    LLVMValueRef scratch = cg_load_ptr(m, bufs, cg_i64(m, g->n_nodes));
    LLVMValueRef null = LLVMConstNull(m->t_ptr);
    LLVMValueRef counters = profile ? cg_load_ptr(m, bufs, cg_i64(m, g->n_nodes + 1)) : NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (!kern[i] || !(phases & (1u << phase[i])))
            continue;
        LLVMValueRef args[LW_NPARAMS];
        args[LW_OUT] = cg_load_ptr(m, bufs, cg_i64(m, i));
        for (int k = 0; k < IR_MAX_IN; k++)
            args[LW_IN0 + k] = k < n->n_in ? cg_load_ptr(m, bufs, cg_i64(m, n->in[k])) : null;
        args[LW_SCRATCH] = scratch;
        for (int k = LW_N; k < LW_NPARAMS; k++)
            args[k] = cg_param(m, 1 + k - LW_N);
        LLVMValueRef t0 = profile ? profile_now(m) : NULL;
        cg_call(m, kern[i], args, LW_NPARAMS);
        if (profile)
            profile_add(m, counters, i, t0);
    }
    cg_func_end(m);
}

/* Everything a kernel's code depends on: op, operand count, attributes and
 * types. Nodes with equal keys share one kernel (repeated layers, the
 * updates of equally shaped parameters), which keeps compile time down. */
static void kernel_key(const IrGraph *g, const IrNode *n, char *buf, size_t cap)
{
    const IrAttrs *a = &n->a;
    int at = snprintf(buf, cap, "%d/%d|%d %d %d %d %d %d %d %d|%a %a %a %a %a %a %a|%d %d|",
                      (int)n->op, n->n_in, a->axis, a->stride, a->padding, a->kernel, a->heads,
                      a->salt, a->start, a->len, (double)a->scalar, (double)a->eps,
                      (double)a->p, (double)a->momentum, (double)a->beta1, (double)a->beta2,
                      (double)a->weight_decay, a->nesterov, a->decoupled);
    for (int i = 0; i < IR_MAX_DIMS && at < (int)cap; i++)
        at += snprintf(buf + at, cap - (size_t)at, "%d,", a->perm[i]);
    for (int k = -1; k < n->n_in && at < (int)cap; k++) {
        const IrType *t = k < 0 ? &n->type : &g->nodes[n->in[k]]->type;
        at += snprintf(buf + at, cap - (size_t)at, "|%d:", (int)t->dtype);
        for (int i = 0; i < t->rank && at < (int)cap; i++)
            at += snprintf(buf + at, cap - (size_t)at, "%lld,", (long long)t->dim[i]);
    }
    IR_ASSERT(at < (int)cap);
}

#define KEY_CAP 512

CgModule *cg_lower_graph(const IrGraph *g, const char *name, const CgOptions *o, Diag *d)
{
    int bad = ir_graph_unknown_op(g);
    if (bad >= 0) {
        diag_error(d, g->nodes[bad]->loc, "codegen: internal error: %%%d (block %d) has op id "
                   "%d, which ir/ops.def does not define", bad, g->nodes[bad]->block,
                   (int)g->nodes[bad]->op);
        return NULL;
    }
    CgModule *m = cg_module_new(name, o);
    LLVMValueRef *kern = calloc((size_t)g->n_nodes + 1, sizeof *kern);
    char *keys = calloc((size_t)g->n_nodes, KEY_CAP);
    IR_ASSERT(kern != NULL && keys != NULL);
    bool ok = true;
    for (int i = 0; ok && i < g->n_nodes; i++) {
        if (!needs_kernel(g->nodes[i]))
            continue;
        char *key = keys + (size_t)i * KEY_CAP;
        kernel_key(g, g->nodes[i], key, KEY_CAP);
        for (int j = 0; j < i && !kern[i]; j++)
            if (kern[j] && strcmp(keys + (size_t)j * KEY_CAP, key) == 0)
                kern[i] = kern[j];
        if (!kern[i])
            ok = (kern[i] = emit_kernel(m, g, g->nodes[i], !o || !o->no_contract, d)) != NULL;
    }
    free(keys);
    unsigned char *phase = calloc((size_t)g->n_nodes + 1, 1);
    IR_ASSERT(phase != NULL);
    ir_graph_phases(g, phase);
    static const struct {
        const char *suffix;
        unsigned phases;
    } entries[] = {{"step", ~0u},
                   {"forward", 1u << IR_PHASE_FORWARD},
                   {"backward", 1u << IR_PHASE_BACKWARD},
                   {"update", 1u << IR_PHASE_UPDATE}};
    for (size_t e = 0; ok && e < sizeof entries / sizeof entries[0]; e++) {
        char entry[160];
        snprintf(entry, sizeof entry, "%s_%s", name, entries[e].suffix);
        emit_entry(m, g, kern, entry, phase, entries[e].phases, o && o->profile);
    }
    free(phase);
    free(kern);
    if (!ok) {
        cg_module_free(m);
        return NULL;
    }
    return m;
}

/* ------------------------------------------------------------ --emit */

bool cg_emit_text(const IrGraph *g, CgEmit kind, FILE *out, Diag *d)
{
    CgOptions o;
    cg_options_init(&o);
    o.emit = kind;
    o.emit_out = out;
    CgBackend *b = cg_target_jit.open(&o, d);
    if (!b)
        return false;
    CgModule *m = cg_lower_graph(g, "lnet", &o, d);
    bool ok = m && cg_target_jit.add_module(b, m, d);
    cg_target_jit.close(b);
    return ok;
}
