/* cg_opt.c — target machines and the optimization pipeline.
 *
 * Every module is verified, given the triple and data layout of the machine
 * it is compiled for, and optimized by LLVM's default<O3> pipeline *with
 * that target machine*: the vectorizers ask the target for its vector width
 * and costs, and with no target machine they see a machine without vectors.
 * The JIT's target machine is the host's, detected when the JIT is opened;
 * the AOT target names a CPU level ("x86-64-v3" unless told "native").
 * In an ASan build the `asan` pass runs last, as in clang, and instruments
 * every function carrying the sanitize_address attribute.
 */
#include <string.h>

#include "cg_impl.h"

#if defined(LNET_SANITIZE) || defined(__SANITIZE_ADDRESS__)
#define CG_ASAN_BUILD true
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CG_ASAN_BUILD true
#endif
#endif
#ifndef CG_ASAN_BUILD
#define CG_ASAN_BUILD false
#endif

void cg_options_init(CgOptions *o)
{
    memset(o, 0, sizeof *o);
    o->opt_level = 3;
    o->sanitize = CG_ASAN_BUILD;
    o->emit = CG_EMIT_NONE;
}

/* CPU levels `lnet build --cpu` accepts besides "native". */
static bool known_cpu(const char *cpu)
{
    static const char *const levels[] = {"x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4"};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(cpu, levels[i]) == 0)
            return true;
    return false;
}

LLVMTargetMachineRef cg_tm_new(const char *cpu, LLVMRelocMode reloc, Diag *d)
{
    bool host = !cpu || strcmp(cpu, "native") == 0;
    if (!host && !known_cpu(cpu)) {
        diag_error(d, IR_LOC_NONE, "codegen: unknown CPU '%s' (expected native, x86-64, "
                   "x86-64-v2, x86-64-v3 or x86-64-v4)", cpu);
        return NULL;
    }
    cg_llvm_init();
    LLVMTargetMachineRef tm = NULL;
    LLVMTargetRef target;
    char *msg = NULL, *name = NULL, *features = NULL;
    char *triple = LLVMGetDefaultTargetTriple();
    bool failed = LLVMGetTargetFromTriple(triple, &target, &msg);
    if (!cg_check_msg(d, failed, msg, "target lookup"))
        goto out;
    /* Detected on every call: a cached answer could outlive a migration. */
    if (host) {
        name = LLVMGetHostCPUName();
        features = LLVMGetHostCPUFeatures();
    }
    tm = LLVMCreateTargetMachine(target, triple, host ? name : cpu, host ? features : "",
                                 LLVMCodeGenLevelAggressive, reloc, LLVMCodeModelDefault);
    if (!tm)
        diag_error(d, IR_LOC_NONE, "codegen: no target machine for %s (cpu %s)", triple,
                   host ? name : cpu);
out:
    LLVMDisposeMessage(features);
    LLVMDisposeMessage(name);
    LLVMDisposeMessage(triple);
    return tm;
}

/* Machine code generation rewrites IR in place (CodeGenPrepare), so the
 * assembly listing is produced from a copy of the module. */
static bool emit(CgModule *m, LLVMTargetMachineRef tm, const CgOptions *o, Diag *d)
{
    if (o->emit == CG_EMIT_NONE || !o->emit_out)
        return true;
    if (o->emit == CG_EMIT_LLVM) {
        char *text = LLVMPrintModuleToString(m->mod);
        fputs(text, o->emit_out);
        LLVMDisposeMessage(text);
        return true;
    }
    LLVMModuleRef copy = LLVMCloneModule(m->mod);
    LLVMMemoryBufferRef buf = NULL;
    char *msg = NULL;
    bool failed = LLVMTargetMachineEmitToMemoryBuffer(tm, copy, LLVMAssemblyFile, &msg, &buf);
    LLVMDisposeModule(copy);
    if (!cg_check_msg(d, failed, msg, "assembly output"))
        return false;
    fwrite(LLVMGetBufferStart(buf), 1, LLVMGetBufferSize(buf), o->emit_out);
    LLVMDisposeMemoryBuffer(buf);
    return true;
}

static bool run_passes(CgModule *m, LLVMTargetMachineRef tm, int level, Diag *d)
{
    char pipeline[64] = "";
    if (level > 0)
        snprintf(pipeline, sizeof pipeline, "default<O%d>", level > 3 ? 3 : level);
    if (m->sanitize)
        strcat(pipeline, level > 0 ? ",asan" : "asan");
    if (!pipeline[0])
        return true;
    /* The C API's defaults leave SLP vectorization off; clang turns it on
     * at O2 and above, and so do we. */
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(opts, level >= 2);
    LLVMPassBuilderOptionsSetSLPVectorization(opts, level >= 2);
    LLVMPassBuilderOptionsSetLoopInterleaving(opts, level >= 2);
    LLVMPassBuilderOptionsSetLoopUnrolling(opts, level >= 2);
    LLVMErrorRef err = LLVMRunPasses(m->mod, pipeline, tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    return cg_check(d, err, "optimization");
}

bool cg_optimize(CgModule *m, LLVMTargetMachineRef tm, const CgOptions *o, Diag *d)
{
    if (!cg_module_verify(m, d))
        return false;
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(m->mod, td);
    LLVMDisposeTargetData(td);
    char *triple = LLVMGetTargetMachineTriple(tm);
    LLVMSetTarget(m->mod, triple);
    LLVMDisposeMessage(triple);
    return run_passes(m, tm, o->opt_level, d) && emit(m, tm, o, d);
}
