/* gpu_lower.c — a block graph's GPU kernels as an LLVM module, for the PTX
 * target or for the host, and the launch plan that runs them.
 *
 * One kernel per node that computes something (gk_kind), named k<id>, with
 * the signature of runtime/gpu/gpu_plan.h. The two targets differ only in
 * the index source: on nvptx64 the kernel reads %ctaid, %ntid, %tid and
 * %nctaid and is marked a kernel (PTX_Kernel calling convention and the
 * nvvm.annotations entry older back ends look for), so it becomes an
 * `.entry`; on the host it takes the thread index and the thread count as
 * two more arguments and gpu_emu.c calls it once per thread. The module is
 * verified, optimized at O3 with the target's machine, and the PTX text is
 * LLVM's assembly output for nvptx64 (no CUDA toolkit is needed).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cg_layout.h"
#include "gpu_impl.h"

#define PTX_TRIPLE "nvptx64-nvidia-cuda"
#define CC_PTX_KERNEL 71    /* llvm::CallingConv::PTX_Kernel */

static pthread_once_t nvptx_once = PTHREAD_ONCE_INIT;

static void nvptx_init_once(void)
{
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
}

bool gpu_graph_supported(const IrGraph *g, Diag *d)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        bool known = (unsigned)n->op < IR_OP_COUNT;
        if (known && gk_kind(n->op) != GK_NONE && n->n_in <= GPU_MAX_IN)
            continue;
        char where[48] = "";
        if (n->block >= 0)
            snprintf(where, sizeof where, ", block %d", ir_block_no(n->block));
        diag_error(d, n->loc, "op '%s' (%%%d%s) has no GPU kernel",
                   known ? ir_op_info(n->op)->name : "?", n->id, where);
        return false;
    }
    return true;
}

static bool needs_kernel(const IrNode *n) { return gk_kind(n->op) != GK_SKIP; }

static void kernel_name(const IrNode *n, char *buf, size_t cap)
{
    snprintf(buf, cap, "k%d_%s", n->id, ir_op_info(n->op)->name);
}

/* ------------------------------------------------------- index source */

static LLVMValueRef sreg(CgModule *m, const char *name)
{
    char full[64];
    snprintf(full, sizeof full, "llvm.nvvm.read.ptx.sreg.%s", name);
    LLVMValueRef fn = cg_extern(m, full, LLVMFunctionType(m->t_i32, NULL, 0, 0));
    return LLVMBuildZExt(m->b, cg_call(m, fn, NULL, 0), m->t_i64, "");
}

/* tid = ctaid.x · ntid.x + tid.x, nthreads = nctaid.x · ntid.x */
static void ptx_index(Gk *k)
{
    CgModule *m = k->w.m;
    LLVMValueRef ntid = sreg(m, "ntid.x");
    k->tid = lw_mad(&k->w, sreg(m, "ctaid.x"), ntid, sreg(m, "tid.x"));
    k->nthreads = lw_mul(&k->w, sreg(m, "nctaid.x"), ntid);
}

static void mark_kernel(CgModule *m, LLVMValueRef fn)
{
    LLVMSetFunctionCallConv(fn, CC_PTX_KERNEL);
    LLVMMetadataRef md[3] = {LLVMValueAsMetadata(fn), LLVMMDStringInContext2(m->ctx, "kernel", 6),
                             LLVMValueAsMetadata(cg_i32(m, 1))};
    LLVMAddNamedMetadataOperand(m->mod, "nvvm.annotations",
                                LLVMMetadataAsValue(m->ctx, LLVMMDNodeInContext2(m->ctx, md, 3)));
}

static void emit_kernel(CgModule *m, const IrGraph *g, const IrNode *n, bool ptx)
{
    CgParamKind ps[GPU_KERNEL_NPARAMS + 2];
    int np = 0;
    for (int i = 0; i <= GPU_MAX_IN; i++)
        ps[np++] = CG_PARAM_PTR;
    ps[np++] = CG_PARAM_I64;
    for (int i = 0; i < 3; i++)
        ps[np++] = CG_PARAM_F32;
    if (!ptx)
        ps[np++] = CG_PARAM_I64, ps[np++] = CG_PARAM_I64;
    char name[64];
    kernel_name(n, name, sizeof name);
    LLVMValueRef fn = cg_func_begin(m, name, ps, np, CG_FN_ENTRY);
    if (ptx)
        mark_kernel(m, fn);
    Gk k = {.w = {.m = m, .g = g, .n = n, .t_f64 = LLVMDoubleTypeInContext(m->ctx)}};
    k.w.out = cg_param(m, 0);
    for (int i = 0; i < GPU_MAX_IN; i++)
        k.w.in[i] = cg_param(m, 1 + i);
    k.w.N = cg_param(m, 1 + GPU_MAX_IN);
    for (int i = 0; i < 3; i++)
        k.s[i] = cg_param(m, 2 + GPU_MAX_IN + i);
    if (ptx) {
        ptx_index(&k);
    } else {
        k.tid = cg_param(m, GPU_KERNEL_NPARAMS);
        k.nthreads = cg_param(m, GPU_KERNEL_NPARAMS + 1);
    }
    cg_fmf_set(m, CG_FMF_DEFAULT);
    gk_emit_body(&k);
    cg_func_end(m);
}

/* The kernels of g, unoptimized; NULL + Diag error on an unsupported op. */
static CgModule *build_module(const IrGraph *g, bool ptx, Diag *d)
{
    if (!gpu_graph_supported(g, d))
        return NULL;
    CgOptions o;
    cg_options_init(&o);
    o.sanitize = false;     /* device code; the emulation's host calls are plain */
    CgModule *m = cg_module_new(ptx ? "lnet_gpu" : "lnet_gpu_emu", &o);
    for (int i = 0; i < g->n_nodes; i++)
        if (needs_kernel(g->nodes[i]))
            emit_kernel(m, g, g->nodes[i], ptx);
    return m;
}

/* ----------------------------------------------------------------- PTX */

static LLVMTargetMachineRef ptx_tm(const char *sm, Diag *d)
{
    pthread_once(&nvptx_once, nvptx_init_once);
    LLVMTargetRef target;
    char *msg = NULL;
    if (LLVMGetTargetFromTriple(PTX_TRIPLE, &target, &msg)) {
        diag_error(d, IR_LOC_NONE, "codegen: no NVPTX target in this LLVM: %s", msg);
        LLVMDisposeMessage(msg);
        return NULL;
    }
    LLVMDisposeMessage(msg);
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, PTX_TRIPLE, sm, "",
                                                      LLVMCodeGenLevelAggressive,
                                                      LLVMRelocDefault, LLVMCodeModelDefault);
    if (!tm)
        diag_error(d, IR_LOC_NONE, "codegen: no NVPTX target machine for %s", sm);
    return tm;
}

char *gpu_emit_ptx(const IrGraph *g, const char *sm, Diag *d)
{
    if (!sm)
        sm = GPU_DEFAULT_SM;
    LLVMTargetMachineRef tm = ptx_tm(sm, d);
    if (!tm)
        return NULL;
    CgModule *m = build_module(g, true, d);
    char *ptx = NULL;
    CgOptions o;
    cg_options_init(&o);
    o.sanitize = false;
    if (m && cg_optimize(m, tm, &o, d)) {
        LLVMMemoryBufferRef buf = NULL;
        char *msg = NULL;
        bool failed = LLVMTargetMachineEmitToMemoryBuffer(tm, m->mod, LLVMAssemblyFile, &msg,
                                                          &buf);
        if (cg_check_msg(d, failed, msg, "PTX output")) {
            size_t len = LLVMGetBufferSize(buf);
            ptx = malloc(len + 1);
            IR_ASSERT(ptx != NULL);
            memcpy(ptx, LLVMGetBufferStart(buf), len);
            ptx[len] = '\0';
            LLVMDisposeMemoryBuffer(buf);
        }
    }
    cg_module_free(m);
    LLVMDisposeTargetMachine(tm);
    return ptx;
}

char *gpu_emit_llvm(const IrGraph *g, bool ptx, Diag *d)
{
    CgModule *m = build_module(g, ptx, d);
    if (!m || !cg_module_verify(m, d)) {
        cg_module_free(m);
        return NULL;
    }
    char *text = LLVMPrintModuleToString(m->mod), *copy = strdup(text);
    LLVMDisposeMessage(text);
    cg_module_free(m);
    IR_ASSERT(copy != NULL);
    return copy;
}

/* ---------------------------------------------------------------- plan */

static void plan_launch(const IrGraph *g, const IrNode *n, const int *src, unsigned char phase,
                        GpuLaunch *l)
{
    memset(l, 0, sizeof *l);
    kernel_name(n, l->kernel, sizeof l->kernel);
    l->node = n->id;
    l->phase = phase;
    l->buf[0] = src[n->id];
    for (int k = 0; k < GPU_MAX_IN; k++)
        l->buf[1 + k] = k < n->n_in ? src[n->in[k]] : -1;
    gk_work(g, n, &l->work0, &l->work_n, &l->div, &l->mul);
    l->serial = gk_kind(n->op) == GK_SERIAL;
    if (n->op == IR_OP_SGD_UPDATE) {
        l->scalars = GPU_SC_SGD;
    } else if (n->op == IR_OP_ADAM_UPDATE) {
        l->scalars = GPU_SC_ADAM;
        l->beta1 = n->a.beta1, l->beta2 = n->a.beta2, l->wd = n->a.weight_decay;
    }
}

bool gpu_plan_build(const IrGraph *g, int max_batch, const char *sm, GpuPlan *p, Diag *d)
{
    memset(p, 0, sizeof *p);
    if (!gpu_graph_supported(g, d))
        return false;
    p->g = g;
    p->max_batch = max_batch;
    p->src = malloc((size_t)g->n_nodes * sizeof *p->src);
    p->bytes = calloc((size_t)g->n_nodes, sizeof *p->bytes);
    p->launch = calloc((size_t)g->n_nodes, sizeof *p->launch);
    unsigned char *phase = calloc((size_t)g->n_nodes + 1, 1);
    IR_ASSERT(p->src && p->bytes && p->launch && phase);
    ir_graph_phases(g, phase);
    for (int i = 0; i < g->n_nodes; i++) {
        p->src[i] = cg_buffer_source(g, i);
        if (p->src[i] == i)
            p->bytes[i] = ir_value_bytes(g, i, max_batch);
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (needs_kernel(g->nodes[i]))
            plan_launch(g, g->nodes[i], p->src, phase[i], &p->launch[p->n_launches++]);
    free(phase);
    if (sm) {
        snprintf(p->sm, sizeof p->sm, "%s", sm);
        if (!(p->ptx = gpu_emit_ptx(g, sm, d))) {
            gpu_plan_fini(p);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------ host kernels */

/* Compiles g's kernels for the host into a JIT; fn[i] the kernel of launch i. */
CgBackend *gpu_host_kernels(const IrGraph *g, const GpuPlan *p, CgFn *fn, Diag *d)
{
    CgOptions o;
    cg_options_init(&o);
    o.sanitize = false;
    CgBackend *b = cg_target_jit.open(&o, d);
    if (!b)
        return NULL;
    CgModule *m = build_module(g, false, d);
    if (!m || !cg_target_jit.add_module(b, m, d)) {
        cg_target_jit.close(b);
        return NULL;
    }
    for (int i = 0; i < p->n_launches; i++)
        if (!(fn[i] = cg_jit_lookup(b, p->launch[i].kernel, d))) {
            cg_target_jit.close(b);
            return NULL;
        }
    return b;
}
