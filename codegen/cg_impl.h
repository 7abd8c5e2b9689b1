/* cg_impl.h — internals of the code generator, shared by the codegen/ sources only.
 *
 * This is the only header that includes LLVM. It declares the module
 * builder every kernel emitter uses (cg_module.c, cg_extern.c), the pass
 * pipeline and target machines (cg_opt.c), the one converter from LLVM
 * errors to Diag (cg_diag.c), and the backend base struct the JIT and AOT
 * targets extend (cg_jit.c, cg_aot.c).
 *
 * Emitting a kernel, in short:
 *
 *   CgParamKind ps[] = {CG_PARAM_PTR, CG_PARAM_PTR, CG_PARAM_I64};
 *   cg_func_begin(m, "k", ps, 3, CG_FN_KERNEL);        // noalias pointers
 *   CgLoop l;
 *   cg_loop_begin(m, &l, cg_i64(m, 0), cg_param(m, 2), "i");
 *   LLVMValueRef v = cg_load_f32(m, cg_param(m, 0), l.i);
 *   cg_store_f32(m, cg_param(m, 1), l.i, cg_fmul(m, v, v));
 *   cg_loop_end(m, &l);
 *   cg_func_end(m);
 *
 * Aliasing: `noalias` is only known for pointer *parameters*, so a step
 * entry that receives buffers as `float **bufs` should pass them on to
 * kernel functions (internal, noalias params); once O3 inlines a kernel the
 * noalias facts survive as scoped alias metadata and its loops vectorize.
 */
#ifndef LNET_CG_IMPL_H
#define LNET_CG_IMPL_H

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "codegen.h"

/* ------------------------------------------------------------ cg_diag.c */

/* The one place LLVM errors become diagnostics. Both dispose what they
 * are given and return true when there was no error.
 * cg_check: consumes err (NULL = success); with d NULL the error is
 * discarded (teardown paths with nobody to report to).
 * cg_check_msg: `failed` is the LLVM call's status; msg (may be NULL, may be
 * set even on success, as LLVMVerifyModule does) is disposed. */
bool cg_check(Diag *d, LLVMErrorRef err, const char *what);
bool cg_check_msg(Diag *d, bool failed, char *msg, const char *what);

/* Registers the native target, asm printer and parser, once per process. */
void cg_llvm_init(void);

/* Wall-clock milliseconds (monotonic), for compile-time reports. */
double cg_now_ms(void);

/* ---------------------------------------------------------- cg_module.c */

struct CgModule {
    LLVMOrcThreadSafeContextRef tsc;    /* owns ctx; shared with the JIT */
    LLVMContextRef ctx;
    LLVMModuleRef mod;                  /* NULL once handed to the JIT */
    LLVMBuilderRef b;
    LLVMValueRef fn;                    /* function being built */
    LLVMBasicBlockRef entry;            /* its entry block (allocas) */
    LLVMFastMathFlags fmf;              /* put on every cg_f* arithmetic op */
    bool sanitize;                      /* sanitize_address on functions */
    LLVMTypeRef t_void, t_i1, t_i32, t_i64, t_f32, t_ptr;
};

typedef enum { CG_PARAM_PTR, CG_PARAM_I64, CG_PARAM_F32 } CgParamKind;

typedef enum {
    CG_FN_ENTRY,    /* external: looked up by the JIT / linked by name */
    CG_FN_KERNEL,   /* internal: called from an entry, inlined at will */
} CgFnKind;

/* Starts `void name(params...)`, positions the builder in its entry block
 * and makes it the current function. Pointer parameters are noalias and
 * nocapture; every function is nounwind (and sanitize_address when the
 * module is sanitized). */
LLVMValueRef cg_func_begin(CgModule *m, const char *name, const CgParamKind *params,
                           int n, CgFnKind kind);
LLVMValueRef cg_param(CgModule *m, int i);
/* Terminates the current block with `ret void`. */
void cg_func_end(CgModule *m);

/* A counted loop `for (i = lo; i < hi; i++)`, rotated (guard, body, latch
 * at the bottom) with the index as a phi. The body may create blocks and
 * nested loops; values carried across iterations go through cg_alloca
 * slots, which SROA/mem2reg turn into phis. */
typedef struct CgLoop {
    LLVMValueRef i;                     /* i64 index, valid in the body */
    LLVMValueRef hi;
    LLVMBasicBlockRef body, exit;
} CgLoop;
void cg_loop_begin(CgModule *m, CgLoop *l, LLVMValueRef lo, LLVMValueRef hi,
                   const char *name);
void cg_loop_end(CgModule *m, CgLoop *l);

/* A call to fn (a function of this module, or an extern). */
LLVMValueRef cg_call(CgModule *m, LLVMValueRef fn, LLVMValueRef *args, unsigned n);

/* A stack slot in the current function's entry block. */
LLVMValueRef cg_alloca(CgModule *m, LLVMTypeRef t, const char *name);

/* Constants. */
LLVMValueRef cg_i32(CgModule *m, int32_t v);
LLVMValueRef cg_i64(CgModule *m, int64_t v);
LLVMValueRef cg_f32(CgModule *m, float v);

/* Memory: base[idx] for float buffers and pointer tables (idx is i64;
 * inbounds, naturally aligned). */
LLVMValueRef cg_gep_f32(CgModule *m, LLVMValueRef base, LLVMValueRef idx);
LLVMValueRef cg_load_f32(CgModule *m, LLVMValueRef base, LLVMValueRef idx);
void         cg_store_f32(CgModule *m, LLVMValueRef base, LLVMValueRef idx,
                          LLVMValueRef v);
LLVMValueRef cg_load_ptr(CgModule *m, LLVMValueRef base, LLVMValueRef idx);

/* Float arithmetic carrying m->fmf. The default is `contract` only: a*b+c
 * may become one FMA (as with -ffp-contract=fast), nothing else changes —
 * no reassociation, NaN/Inf and signed zeros kept. A reduction that must
 * vectorize sets CG_FMF_REDUCE around its accumulation (cg_fmf_set). */
LLVMValueRef cg_fadd(CgModule *m, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_fsub(CgModule *m, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_fmul(CgModule *m, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_fdiv(CgModule *m, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_fneg(CgModule *m, LLVMValueRef a);
/* Sets m->fmf and returns the previous flags, to restore afterwards. */
LLVMFastMathFlags cg_fmf_set(CgModule *m, LLVMFastMathFlags f);
#define CG_FMF_DEFAULT   LLVMFastMathAllowContract
#define CG_FMF_REDUCE    (LLVMFastMathAllowContract | LLVMFastMathAllowReassoc)

/* Integer index arithmetic (i64, nsw: indices never wrap). */
LLVMValueRef cg_iadd(CgModule *m, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_imul(CgModule *m, LLVMValueRef a, LLVMValueRef b);

/* ---------------------------------------------------------- cg_extern.c */

/* Unary float math. EXP, LOG, SQRT, FABS are LLVM intrinsics (vectorizable;
 * expanded to expf/logf calls or instructions by the backend); TANH and ERF
 * are libm calls. */
typedef enum { CG_MATH_EXP, CG_MATH_LOG, CG_MATH_SQRT, CG_MATH_FABS,
               CG_MATH_TANH, CG_MATH_ERF, CG_MATH_COUNT } CgMath;
LLVMValueRef cg_math(CgModule *m, CgMath f, LLVMValueRef x);
/* llvm.maxnum / llvm.minnum on floats. */
LLVMValueRef cg_fmax(CgModule *m, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_fmin(CgModule *m, LLVMValueRef a, LLVMValueRef b);

/* Declares (once) an external function of type fnty; returns it. */
LLVMValueRef cg_extern(CgModule *m, const char *name, LLVMTypeRef fnty);

/* cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta,
 * C, ldc). Dimensions are i64 values (truncated to OpenBLAS's 32-bit
 * blasint); pointers are float buffers. */
typedef struct CgGemm {
    bool ta, tb;
    LLVMValueRef M, N, K;
    float alpha, beta;
    LLVMValueRef A, lda, B, ldb, C, ldc;
} CgGemm;
void cg_call_sgemm(CgModule *m, const CgGemm *g);

/* Every external symbol generated code may reference, with its address in
 * this process: the JIT binds these explicitly. NULL-terminated. */
typedef struct CgSymbol {
    const char *name;
    CgFn addr;
} CgSymbol;
extern const CgSymbol cg_symbols[];

/* ---------------------------------------------------------- cg_fmath.c */

/* Single-precision exp, log, tanh and erf as inline float IR (no calls), so
 * loops using them vectorize; within 1-1.5 ulp of libm with FMA, libm's
 * special values (docs/performance.md). x and the result are f32 values. */
LLVMValueRef cg_fexp(CgModule *m, LLVMValueRef x);
LLVMValueRef cg_flog(CgModule *m, LLVMValueRef x);
LLVMValueRef cg_ftanh(CgModule *m, LLVMValueRef x);
LLVMValueRef cg_ferf(CgModule *m, LLVMValueRef x);

/* ------------------------------------------------------------- cg_opt.c */

/* A target machine for the host (cpu NULL or "native": name and features
 * detected now) or a named CPU level such as "x86-64-v3". Caller disposes
 * with LLVMDisposeTargetMachine. */
LLVMTargetMachineRef cg_tm_new(const char *cpu, LLVMRelocMode reloc, Diag *d);

/* Verifies m, sets its triple and data layout from tm, runs
 * default<O{opt_level}> (plus `asan` when m is sanitized) with tm, and
 * prints the result when o->emit asks. */
bool cg_optimize(CgModule *m, LLVMTargetMachineRef tm, const CgOptions *o, Diag *d);

/* --------------------------------------------------------- backends */

/* The common head of every backend (first member of CgJit, CgAot). */
struct CgBackend {
    const CgTarget *target;
    CgOptions opt;
    double compile_ms;
};

#endif /* LNET_CG_IMPL_H */
