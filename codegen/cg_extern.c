/* cg_extern.c — what generated code calls outside itself: the runtime's
 * rt_sgemm (cblas_sgemm's contract, run on the calling thread's team;
 * runtime/kernels/blas.h), float math (LLVM intrinsics where they exist, libm calls
 * otherwise) and the memset/memcpy that loop-idiom recognition introduces.
 *
 * The declarations here and the table `cg_symbols` are kept side by side:
 * every name a module may reference is in the table with its address in
 * this process, and the JIT binds exactly these (cg_jit.c). The AOT link
 * resolves the same names from the runtime library and libm.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "blas.h"
#include "cg_impl.h"
#include "profile.h"

const CgSymbol cg_symbols[] = {
    {"rt_sgemm", (CgFn)rt_sgemm},
    {"rt_profile_now", (CgFn)rt_profile_now}, {"rt_profile_add", (CgFn)rt_profile_add},
    {"expf", (CgFn)expf},   {"logf", (CgFn)logf},   {"sqrtf", (CgFn)sqrtf},
    {"tanhf", (CgFn)tanhf}, {"erff", (CgFn)erff},   {"powf", (CgFn)powf},
    {"fabsf", (CgFn)fabsf}, {"fmaxf", (CgFn)fmaxf}, {"fminf", (CgFn)fminf},
    {"exp", (CgFn)exp},     {"log", (CgFn)log},     {"erf", (CgFn)erf},
    {"pow", (CgFn)pow},     {"sqrt", (CgFn)sqrt},
    {"memset", (CgFn)memset}, {"memcpy", (CgFn)memcpy}, {"memmove", (CgFn)memmove},
    {NULL, NULL},
};

LLVMValueRef cg_extern(CgModule *m, const char *name, LLVMTypeRef fnty)
{
    LLVMValueRef fn = LLVMGetNamedFunction(m->mod, name);
    if (!fn) {
        fn = LLVMAddFunction(m->mod, name, fnty);
        LLVMSetLinkage(fn, LLVMExternalLinkage);
    }
    return fn;
}

/* An overloaded intrinsic such as llvm.exp, instantiated at f32. */
static LLVMValueRef intrinsic_f32(CgModule *m, const char *name)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    IR_ASSERT(id != 0);
    return LLVMGetIntrinsicDeclaration(m->mod, id, &m->t_f32, 1);
}

static void fn_attr(CgModule *m, LLVMValueRef fn, const char *name)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    IR_ASSERT(kind != 0);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(m->ctx, kind, 0));
}

/* float f(float) from libm. tanhf and erff have no domain errors, so they
 * never write errno: `memory(none)` (value 0 of the memory attribute) lets
 * LLVM hoist and CSE them like the intrinsics. */
static LLVMValueRef libm_f32(CgModule *m, const char *name)
{
    LLVMValueRef fn = LLVMGetNamedFunction(m->mod, name);
    if (fn)
        return fn;
    fn = cg_extern(m, name, LLVMFunctionType(m->t_f32, &m->t_f32, 1, 0));
    fn_attr(m, fn, "nounwind");
    fn_attr(m, fn, "willreturn");
    fn_attr(m, fn, "memory");
    return fn;
}

LLVMValueRef cg_math(CgModule *m, CgMath f, LLVMValueRef x)
{
    static const char *const names[] = {
        [CG_MATH_EXP] = "llvm.exp", [CG_MATH_LOG] = "llvm.log",
        [CG_MATH_SQRT] = "llvm.sqrt", [CG_MATH_FABS] = "llvm.fabs",
        [CG_MATH_TANH] = "tanhf", [CG_MATH_ERF] = "erff",
    };
    _Static_assert(sizeof names / sizeof names[0] == CG_MATH_COUNT, "cg_math names");
    IR_ASSERT(f >= 0 && f < CG_MATH_COUNT);
    LLVMValueRef fn = f <= CG_MATH_FABS ? intrinsic_f32(m, names[f]) : libm_f32(m, names[f]);
    return cg_call(m, fn, &x, 1);
}

LLVMValueRef cg_fmax(CgModule *m, LLVMValueRef a, LLVMValueRef b)
{
    LLVMValueRef args[2] = {a, b};
    return cg_call(m, intrinsic_f32(m, "llvm.maxnum"), args, 2);
}

LLVMValueRef cg_fmin(CgModule *m, LLVMValueRef a, LLVMValueRef b)
{
    LLVMValueRef args[2] = {a, b};
    return cg_call(m, intrinsic_f32(m, "llvm.minnum"), args, 2);
}

/* void rt_sgemm(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE,
 *                  blasint M, blasint N, blasint K, float alpha,
 *                  const float *A, blasint lda, const float *B, blasint ldb,
 *                  float beta, float *C, blasint ldc);
 * The enums are C ints; blasint is int in the LP64 OpenBLAS we link. */
void cg_call_sgemm(CgModule *m, const CgGemm *g)
{
    LLVMTypeRef i32 = m->t_i32, f32 = m->t_f32, p = m->t_ptr;
    LLVMTypeRef pt[14] = {i32, i32, i32, i32, i32, i32, f32, p, i32, p, i32, f32, p, i32};
    LLVMValueRef fn = cg_extern(m, "rt_sgemm", LLVMFunctionType(m->t_void, pt, 14, 0));
#define I32(v) LLVMBuildTrunc(m->b, (v), i32, "")
    LLVMValueRef args[14] = {
        cg_i32(m, CblasRowMajor),
        cg_i32(m, g->ta ? CblasTrans : CblasNoTrans),
        cg_i32(m, g->tb ? CblasTrans : CblasNoTrans),
        I32(g->M), I32(g->N), I32(g->K), cg_f32(m, g->alpha),
        g->A, I32(g->lda), g->B, I32(g->ldb), cg_f32(m, g->beta), g->C, I32(g->ldc),
    };
#undef I32
    cg_call(m, fn, args, 14);
}
