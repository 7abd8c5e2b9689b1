/* cg_probe.c — small known kernels built with the module builder.
 *
 * They let tests and tools check the whole path (builder → verifier → O3
 * with the right target machine → JIT or object file → call) without the
 * IR lowering, and they show the pattern kernel emitters follow: the entry
 * takes a table of buffers and passes them to an internal kernel whose
 * pointer parameters are noalias, so the kernel's loop vectorizes.
 * Signatures are listed in codegen.h.
 */
#include "cg_impl.h"

/* kernel(x, y, n, a): y[i] = a*x[i] + y[i] for i in [0, n); x, y: (n) */
static LLVMValueRef saxpy_kernel(CgModule *m, const char *name)
{
    static const CgParamKind ps[] = {CG_PARAM_PTR, CG_PARAM_PTR, CG_PARAM_I64, CG_PARAM_F32};
    LLVMValueRef fn = cg_func_begin(m, name, ps, 4, CG_FN_KERNEL);
    LLVMValueRef x = cg_param(m, 0), y = cg_param(m, 1), a = cg_param(m, 3);
    CgLoop l;
    cg_loop_begin(m, &l, cg_i64(m, 0), cg_param(m, 2), "i");
    LLVMValueRef ax = cg_fmul(m, a, cg_load_f32(m, x, l.i));
    cg_store_f32(m, y, l.i, cg_fadd(m, ax, cg_load_f32(m, y, l.i)));  /* contract: FMA */
    cg_loop_end(m, &l);
    cg_func_end(m);
    return fn;
}

static void saxpy(CgModule *m, const char *name)
{
    char kname[128];
    snprintf(kname, sizeof kname, "%s.saxpy", name);
    LLVMValueRef kernel = saxpy_kernel(m, kname);
    static const CgParamKind ps[] = {CG_PARAM_PTR, CG_PARAM_I64, CG_PARAM_F32};
    cg_func_begin(m, name, ps, 3, CG_FN_ENTRY);
    LLVMValueRef bufs = cg_param(m, 0);
    LLVMValueRef args[4] = {cg_load_ptr(m, bufs, cg_i64(m, 0)), cg_load_ptr(m, bufs, cg_i64(m, 1)),
                            cg_param(m, 1), cg_param(m, 2)};
    cg_call(m, kernel, args, 4);
    cg_func_end(m);
}

/* C (M,N) = op(A)·op(B) + 0.5*C, leading dimensions from the stored shapes:
 * A (M,K) → lda K, transposed (K,M) → lda M; B (K,N) → ldb N, (N,K) → ldb K. */
static void sgemm(CgModule *m, const char *name, bool ta, bool tb)
{
    static const CgParamKind ps[] = {CG_PARAM_PTR, CG_PARAM_I64, CG_PARAM_I64, CG_PARAM_I64};
    cg_func_begin(m, name, ps, 4, CG_FN_ENTRY);
    LLVMValueRef bufs = cg_param(m, 0);
    LLVMValueRef M = cg_param(m, 1), N = cg_param(m, 2), K = cg_param(m, 3);
    CgGemm g = {
        .ta = ta, .tb = tb, .M = M, .N = N, .K = K, .alpha = 1.0f, .beta = 0.5f,
        .A = cg_load_ptr(m, bufs, cg_i64(m, 0)), .lda = ta ? M : K,
        .B = cg_load_ptr(m, bufs, cg_i64(m, 1)), .ldb = tb ? K : N,
        .C = cg_load_ptr(m, bufs, cg_i64(m, 2)), .ldc = N,
    };
    cg_call_sgemm(m, &g);
    cg_func_end(m);
}

static LLVMValueRef fmath(CgModule *m, int r, LLVMValueRef x)
{
    LLVMValueRef (*const f[])(CgModule *, LLVMValueRef) = {cg_fexp, cg_flog, cg_ftanh, cg_ferf};
    return f[r](m, x);
}

/* kernel(x, y, n): y (rows, n), row r = math function r of x (n): the
 * CG_MATH_COUNT cg_math functions, or the 4 of cg_fmath.c when inline. */
static LLVMValueRef math_kernel(CgModule *m, const char *name, bool inline_math)
{
    static const CgParamKind ps[] = {CG_PARAM_PTR, CG_PARAM_PTR, CG_PARAM_I64};
    LLVMValueRef fn = cg_func_begin(m, name, ps, 3, CG_FN_KERNEL);
    LLVMValueRef x = cg_param(m, 0), y = cg_param(m, 1), n = cg_param(m, 2);
    CgLoop l;
    cg_loop_begin(m, &l, cg_i64(m, 0), n, "i");
    LLVMValueRef v = cg_load_f32(m, x, l.i);
    for (int r = 0; r < (inline_math ? 4 : CG_MATH_COUNT); r++) {
        LLVMValueRef at = cg_iadd(m, cg_imul(m, cg_i64(m, r), n), l.i);
        cg_store_f32(m, y, at, inline_math ? fmath(m, r, v) : cg_math(m, (CgMath)r, v));
    }
    cg_loop_end(m, &l);
    cg_func_end(m);
    return fn;
}

static void math(CgModule *m, const char *name, bool inline_math)
{
    char kname[128];
    snprintf(kname, sizeof kname, "%s.math", name);
    LLVMValueRef kernel = math_kernel(m, kname, inline_math);
    static const CgParamKind ps[] = {CG_PARAM_PTR, CG_PARAM_I64};
    cg_func_begin(m, name, ps, 2, CG_FN_ENTRY);
    LLVMValueRef bufs = cg_param(m, 0);
    LLVMValueRef args[3] = {cg_load_ptr(m, bufs, cg_i64(m, 0)), cg_load_ptr(m, bufs, cg_i64(m, 1)),
                            cg_param(m, 1)};
    cg_call(m, kernel, args, 3);
    cg_func_end(m);
}

/* An entry block with no terminator: the verifier must reject it. */
static void broken(CgModule *m, const char *name)
{
    static const CgParamKind ps[] = {CG_PARAM_I64};
    cg_func_begin(m, name, ps, 1, CG_FN_ENTRY);
    cg_iadd(m, cg_param(m, 0), cg_i64(m, 1));
    m->fn = NULL;
    m->entry = NULL;
}

void cg_probe_emit(CgModule *m, CgProbe p, const char *name)
{
    switch (p) {
    case CG_PROBE_SAXPY:    saxpy(m, name); break;
    case CG_PROBE_SGEMM_NN: sgemm(m, name, false, false); break;
    case CG_PROBE_SGEMM_TN: sgemm(m, name, true, false); break;
    case CG_PROBE_SGEMM_NT: sgemm(m, name, false, true); break;
    case CG_PROBE_SGEMM_TT: sgemm(m, name, true, true); break;
    case CG_PROBE_MATH:     math(m, name, false); break;
    case CG_PROBE_FMATH:    math(m, name, true); break;
    case CG_PROBE_BROKEN:   broken(m, name); break;
    }
}
