/* cg_module.c — the module builder every kernel emitter uses.
 *
 * A CgModule owns one LLVM context (wrapped in an ORC thread-safe context so
 * the JIT can take the module over without a copy), the module and an IR
 * builder. Helpers here emit the shapes all kernels are made of: functions
 * with noalias pointer parameters, rotated counted loops with a phi index,
 * float loads and stores at base + index, and float arithmetic that carries
 * the module's fast-math flags (`contract` by default, see cg_impl.h).
 */
#include <stdlib.h>
#include <string.h>

#include "cg_impl.h"

#define CG_MAX_PARAMS 32

CgModule *cg_module_new(const char *name, const CgOptions *o)
{
    CgOptions def;
    if (!o) {
        cg_options_init(&def);
        o = &def;
    }
    cg_llvm_init();
    CgModule *m = calloc(1, sizeof *m);
    IR_ASSERT(m != NULL);
    m->tsc = LLVMOrcCreateNewThreadSafeContext();
    m->ctx = LLVMOrcThreadSafeContextGetContext(m->tsc);
    m->mod = LLVMModuleCreateWithNameInContext(name, m->ctx);
    m->b = LLVMCreateBuilderInContext(m->ctx);
    m->fmf = CG_FMF_DEFAULT;
    m->sanitize = o->sanitize;
    m->t_void = LLVMVoidTypeInContext(m->ctx);
    m->t_i1 = LLVMInt1TypeInContext(m->ctx);
    m->t_i32 = LLVMInt32TypeInContext(m->ctx);
    m->t_i64 = LLVMInt64TypeInContext(m->ctx);
    m->t_f32 = LLVMFloatTypeInContext(m->ctx);
    m->t_ptr = LLVMPointerTypeInContext(m->ctx, 0);
    return m;
}

/* The module goes before the context that owns its types; a module already
 * handed to the JIT (m->mod == NULL) is the JIT's to free. */
void cg_module_free(CgModule *m)
{
    if (!m)
        return;
    LLVMDisposeBuilder(m->b);
    if (m->mod)
        LLVMDisposeModule(m->mod);
    LLVMOrcDisposeThreadSafeContext(m->tsc);
    free(m);
}

bool cg_module_verify(CgModule *m, Diag *d)
{
    char *msg = NULL;
    size_t len;
    const char *name = LLVMGetModuleIdentifier(m->mod, &len);
    char what[160];
    snprintf(what, sizeof what, "module '%.*s' is invalid", (int)len, name);
    bool broken = LLVMVerifyModule(m->mod, LLVMReturnStatusAction, &msg);
    return cg_check_msg(d, broken, msg, what);
}

/* ------------------------------------------------------------ functions */

static void add_attr(CgModule *m, LLVMValueRef fn, LLVMAttributeIndex idx, const char *name)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    IR_ASSERT(kind != 0);
    LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(m->ctx, kind, 0));
}

LLVMValueRef cg_func_begin(CgModule *m, const char *name, const CgParamKind *params,
                           int n, CgFnKind kind)
{
    LLVMTypeRef pt[CG_MAX_PARAMS];
    IR_ASSERT(n >= 0 && n <= CG_MAX_PARAMS);
    for (int i = 0; i < n; i++)
        pt[i] = params[i] == CG_PARAM_PTR ? m->t_ptr
              : params[i] == CG_PARAM_I64 ? m->t_i64 : m->t_f32;
    LLVMValueRef fn = LLVMAddFunction(m->mod, name, LLVMFunctionType(m->t_void, pt, (unsigned)n, 0));
    if (kind == CG_FN_KERNEL)
        LLVMSetLinkage(fn, LLVMInternalLinkage);
    add_attr(m, fn, LLVMAttributeFunctionIndex, "nounwind");
    if (m->sanitize)
        add_attr(m, fn, LLVMAttributeFunctionIndex, "sanitize_address");
    /* Parameter attributes are indexed from 1. */
    for (int i = 0; i < n; i++) {
        if (params[i] != CG_PARAM_PTR)
            continue;
        add_attr(m, fn, (LLVMAttributeIndex)(i + 1), "noalias");
        add_attr(m, fn, (LLVMAttributeIndex)(i + 1), "nocapture");
    }
    m->fn = fn;
    m->entry = LLVMAppendBasicBlockInContext(m->ctx, fn, "entry");
    LLVMPositionBuilderAtEnd(m->b, m->entry);
    return fn;
}

LLVMValueRef cg_param(CgModule *m, int i)
{
    IR_ASSERT(m->fn && i >= 0 && (unsigned)i < LLVMCountParams(m->fn));
    return LLVMGetParam(m->fn, (unsigned)i);
}

void cg_func_end(CgModule *m)
{
    LLVMBuildRetVoid(m->b);
    m->fn = NULL;
    m->entry = NULL;
}

/* ---------------------------------------------------------------- loops */

/*   pre:   br (lo < hi), body, exit
 *   body:  i = phi [lo, pre], [i.next, latch]
 *          ...                         (the caller's code, any blocks)
 *   latch: i.next = i + 1; br (i.next < hi), body, exit
 *   exit:                              (builder left here) */
void cg_loop_begin(CgModule *m, CgLoop *l, LLVMValueRef lo, LLVMValueRef hi,
                   const char *name)
{
    char buf[64];
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(m->b);
    snprintf(buf, sizeof buf, "%s.end", name);
    l->hi = hi;
    l->body = LLVMAppendBasicBlockInContext(m->ctx, m->fn, name);
    l->exit = LLVMAppendBasicBlockInContext(m->ctx, m->fn, buf);
    LLVMBuildCondBr(m->b, LLVMBuildICmp(m->b, LLVMIntSLT, lo, hi, ""), l->body, l->exit);
    LLVMPositionBuilderAtEnd(m->b, l->body);
    l->i = LLVMBuildPhi(m->b, m->t_i64, name);
    LLVMAddIncoming(l->i, &lo, &pre, 1);
}

void cg_loop_end(CgModule *m, CgLoop *l)
{
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(m->b);
    LLVMValueRef next = LLVMBuildNSWAdd(m->b, l->i, cg_i64(m, 1), "");
    LLVMValueRef more = LLVMBuildICmp(m->b, LLVMIntSLT, next, l->hi, "");
    LLVMBuildCondBr(m->b, more, l->body, l->exit);
    LLVMAddIncoming(l->i, &next, &latch, 1);
    /* Keep blocks in source order: the exit follows the body's last block. */
    LLVMMoveBasicBlockAfter(l->exit, latch);
    LLVMPositionBuilderAtEnd(m->b, l->exit);
}

LLVMValueRef cg_call(CgModule *m, LLVMValueRef fn, LLVMValueRef *args, unsigned n)
{
    return LLVMBuildCall2(m->b, LLVMGlobalGetValueType(fn), fn, args, n, "");
}

/* Allocas belong at the top of the entry block, where mem2reg finds them.
 * The builder always appends, so returning to the end of the block it was
 * in restores its position. */
LLVMValueRef cg_alloca(CgModule *m, LLVMTypeRef t, const char *name)
{
    LLVMBasicBlockRef here = LLVMGetInsertBlock(m->b);
    LLVMValueRef first = LLVMGetFirstInstruction(m->entry);
    if (first)
        LLVMPositionBuilderBefore(m->b, first);
    else
        LLVMPositionBuilderAtEnd(m->b, m->entry);
    LLVMValueRef slot = LLVMBuildAlloca(m->b, t, name);
    LLVMPositionBuilderAtEnd(m->b, here);
    return slot;
}

/* ------------------------------------------------------ constants, memory */

LLVMValueRef cg_i32(CgModule *m, int32_t v)
{
    return LLVMConstInt(m->t_i32, (unsigned long long)(int64_t)v, 1);
}

LLVMValueRef cg_i64(CgModule *m, int64_t v)
{
    return LLVMConstInt(m->t_i64, (unsigned long long)v, 1);
}

LLVMValueRef cg_f32(CgModule *m, float v)
{
    return LLVMConstReal(m->t_f32, (double)v);
}

LLVMValueRef cg_gep_f32(CgModule *m, LLVMValueRef base, LLVMValueRef idx)
{
    return LLVMBuildInBoundsGEP2(m->b, m->t_f32, base, &idx, 1, "");
}

LLVMValueRef cg_load_f32(CgModule *m, LLVMValueRef base, LLVMValueRef idx)
{
    LLVMValueRef v = LLVMBuildLoad2(m->b, m->t_f32, cg_gep_f32(m, base, idx), "");
    LLVMSetAlignment(v, 4);
    return v;
}

void cg_store_f32(CgModule *m, LLVMValueRef base, LLVMValueRef idx, LLVMValueRef v)
{
    LLVMSetAlignment(LLVMBuildStore(m->b, v, cg_gep_f32(m, base, idx)), 4);
}

LLVMValueRef cg_load_ptr(CgModule *m, LLVMValueRef base, LLVMValueRef idx)
{
    LLVMValueRef p = LLVMBuildInBoundsGEP2(m->b, m->t_ptr, base, &idx, 1, "");
    LLVMValueRef v = LLVMBuildLoad2(m->b, m->t_ptr, p, "");
    LLVMSetAlignment(v, 8);
    return v;
}

/* ----------------------------------------------------------- arithmetic */

/* Constant operands fold to constants, which carry no flags. */
static LLVMValueRef with_fmf(CgModule *m, LLVMValueRef v)
{
    if (LLVMIsAInstruction(v) && LLVMCanValueUseFastMathFlags(v))
        LLVMSetFastMathFlags(v, m->fmf);
    return v;
}

LLVMValueRef cg_fadd(CgModule *m, LLVMValueRef a, LLVMValueRef b)
{
    return with_fmf(m, LLVMBuildFAdd(m->b, a, b, ""));
}

LLVMValueRef cg_fsub(CgModule *m, LLVMValueRef a, LLVMValueRef b)
{
    return with_fmf(m, LLVMBuildFSub(m->b, a, b, ""));
}

LLVMValueRef cg_fmul(CgModule *m, LLVMValueRef a, LLVMValueRef b)
{
    return with_fmf(m, LLVMBuildFMul(m->b, a, b, ""));
}

LLVMValueRef cg_fdiv(CgModule *m, LLVMValueRef a, LLVMValueRef b)
{
    return with_fmf(m, LLVMBuildFDiv(m->b, a, b, ""));
}

LLVMValueRef cg_fneg(CgModule *m, LLVMValueRef a)
{
    return with_fmf(m, LLVMBuildFNeg(m->b, a, ""));
}

LLVMFastMathFlags cg_fmf_set(CgModule *m, LLVMFastMathFlags f)
{
    LLVMFastMathFlags old = m->fmf;
    m->fmf = f;
    return old;
}

LLVMValueRef cg_iadd(CgModule *m, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildNSWAdd(m->b, a, b, "");
}

LLVMValueRef cg_imul(CgModule *m, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildNSWMul(m->b, a, b, "");
}
