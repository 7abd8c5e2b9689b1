/* cg_jit.c — the JIT target: ORC LLJIT for the host CPU.
 *
 * One CgJit is one LLJIT session with its own main JITDylib, so a process
 * may hold many (tests compile dozens). The dylib gets the external symbols
 * of cg_symbols bound explicitly to their addresses in this process, then a
 * process-symbol generator as a fallback for what LLVM itself may introduce
 * (the ASan runtime's __asan_* entry points in a sanitized build).
 *
 * add_module runs the O3 pipeline with a host target machine and hands the
 * module to LLJIT; machine code is generated lazily, on the first lookup.
 * Both phases are timed into compile_ms.
 */
#include <stdlib.h>

#include "cg_impl.h"

typedef struct CgJit {
    CgBackend base;             /* first: a CgJit is a CgBackend */
    LLVMOrcLLJITRef jit;
    LLVMOrcJITDylibRef jd;      /* owned by jit */
    LLVMTargetMachineRef tm;    /* host, for the optimization pipeline */
} CgJit;

static CgJit *as_jit(CgBackend *b)
{
    IR_ASSERT(b && b->target == &cg_target_jit);
    return (CgJit *)b;
}

/* Defines every cg_symbols entry in the main dylib as an absolute address. */
static bool bind_symbols(CgJit *j, Diag *d)
{
    size_t n = 0;
    while (cg_symbols[n].name)
        n++;
    LLVMOrcCSymbolMapPairs pairs = calloc(n, sizeof *pairs);
    IR_ASSERT(pairs != NULL);
    for (size_t i = 0; i < n; i++) {
        pairs[i].Name = LLVMOrcLLJITMangleAndIntern(j->jit, cg_symbols[i].name);
        pairs[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)cg_symbols[i].addr;
        pairs[i].Sym.Flags.GenericFlags =
            LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
    }
    /* The unit takes the names; a failed define leaves the unit with us. */
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(pairs, n);
    free(pairs);
    LLVMErrorRef err = LLVMOrcJITDylibDefine(j->jd, mu);
    if (err)
        LLVMOrcDisposeMaterializationUnit(mu);
    return cg_check(d, err, "binding JIT symbols");
}

static bool add_process_symbols(CgJit *j, Diag *d)
{
    LLVMOrcDefinitionGeneratorRef gen = NULL;
    char prefix = LLVMOrcLLJITGetGlobalPrefix(j->jit);
    LLVMErrorRef err = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, prefix, NULL, NULL);
    if (!cg_check(d, err, "process symbol generator"))
        return false;
    LLVMOrcJITDylibAddGenerator(j->jd, gen);    /* takes gen */
    return true;
}

static void jit_close(CgBackend *b);

static CgBackend *jit_open(const CgOptions *o, Diag *d)
{
    cg_llvm_init();
    CgJit *j = calloc(1, sizeof *j);
    IR_ASSERT(j != NULL);
    j->base.target = &cg_target_jit;
    j->base.opt = *o;
    LLVMOrcJITTargetMachineBuilderRef jtmb = NULL;
    LLVMOrcLLJITBuilderRef builder;
    if (!cg_check(d, LLVMOrcJITTargetMachineBuilderDetectHost(&jtmb), "detecting the host"))
        goto fail;
    builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);  /* takes jtmb */
    if (!cg_check(d, LLVMOrcCreateLLJIT(&j->jit, builder), "creating the JIT"))  /* takes builder */
        goto fail;
    j->jd = LLVMOrcLLJITGetMainJITDylib(j->jit);
    if (!bind_symbols(j, d) || !add_process_symbols(j, d))
        goto fail;
    j->tm = cg_tm_new(NULL, LLVMRelocDefault, d);
    if (!j->tm)
        goto fail;
    return &j->base;
fail:
    jit_close(&j->base);
    return NULL;
}

static bool jit_add_module(CgBackend *b, CgModule *m, Diag *d)
{
    CgJit *j = as_jit(b);
    double t0 = cg_now_ms();
    bool ok = cg_optimize(m, j->tm, &b->opt, d);
    if (ok) {
        /* The thread-safe module takes the module; it shares m's context. */
        LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(m->mod, m->tsc);
        m->mod = NULL;
        LLVMErrorRef err = LLVMOrcLLJITAddLLVMIRModule(j->jit, j->jd, tsm);
        if (err)
            LLVMOrcDisposeThreadSafeModule(tsm);
        ok = cg_check(d, err, "adding a module to the JIT");
    }
    cg_module_free(m);
    b->compile_ms += cg_now_ms() - t0;
    return ok;
}

CgFn cg_jit_lookup(CgBackend *b, const char *name, Diag *d)
{
    CgJit *j = as_jit(b);
    double t0 = cg_now_ms();
    LLVMOrcExecutorAddress addr = 0;
    bool ok = cg_check(d, LLVMOrcLLJITLookup(j->jit, &addr, name), "JIT lookup");
    b->compile_ms += cg_now_ms() - t0;
    return ok ? (CgFn)(uintptr_t)addr : NULL;
}

static void jit_close(CgBackend *b)
{
    if (!b)
        return;
    CgJit *j = as_jit(b);
    if (j->jit)     /* nobody to report to on close: discarded */
        cg_check(NULL, LLVMOrcDisposeLLJIT(j->jit), "closing the JIT");
    if (j->tm)
        LLVMDisposeTargetMachine(j->tm);
    free(j);
}

const CgTarget cg_target_jit = {
    .name = "jit",
    .open = jit_open,
    .add_module = jit_add_module,
    .close = jit_close,
};
