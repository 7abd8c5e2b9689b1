/* gpu_emu.c — the emulated GPU ("emu"): a block's launch plan run on the
 * CPU, its kernels compiled for the host from the same bodies as the PTX.
 *
 * A launch of grid × block threads is a loop over the global thread index
 * calling the kernel once per index. GPU kernels have no barriers and no
 * shared memory (gpu_kernels.c), so this computes what the device computes,
 * thread for thread — which is what lets the CPU machines test every kernel
 * and the whole placement → plan → executor path (`lnet train --devices
 * emu`). It is a test device: one thread, no vectorization across threads.
 * Buffers are the interpreter's layout in host memory.
 */
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "gpu_impl.h"

typedef void (*GkHostFn)(void *out, void *in0, void *in1, void *in2, void *in3, void *in4,
                         int64_t n, float s0, float s1, float s2, int64_t tid,
                         int64_t nthreads);

typedef struct EmuExec {
    RtExec base;                /* first: an EmuExec is an RtExec */
    GpuPlan plan;
    CgBackend *jit;
    CgFn *fn;                   /* per launch */
    void **buf;                 /* per node (views: their source's) */
} EmuExec;

static void run(EmuExec *e, const RtStepArgs *a, bool forward_only)
{
    IR_ASSERT(a->n >= 1 && a->n <= e->base.max_batch);
    for (int i = 0; i < e->plan.n_launches; i++) {
        const GpuLaunch *l = &e->plan.launch[i];
        if (!gpu_launch_runs(l, forward_only))
            continue;
        unsigned grid, block;
        gpu_launch_geometry(l, a->n, &grid, &block);
        float s[3];
        gpu_launch_scalars(l, a, s);
        void *p[1 + GPU_MAX_IN];
        for (int k = 0; k <= GPU_MAX_IN; k++)
            p[k] = l->buf[k] >= 0 ? e->buf[l->buf[k]] : NULL;
        GkHostFn f = (GkHostFn)e->fn[i];
        int64_t T = (int64_t)grid * block;
        for (int64_t t = 0; t < T; t++)
            f(p[0], p[1], p[2], p[3], p[4], p[5], a->n, s[0], s[1], s[2], t, T);
    }
}

static void emu_step(RtExec *x, const RtStepArgs *a) { run((EmuExec *)x, a, false); }
static void emu_forward(RtExec *x, const RtStepArgs *a) { run((EmuExec *)x, a, true); }

static void *emu_buffer(RtExec *x, int id)
{
    IR_ASSERT(id >= 0 && id < x->g->n_nodes);
    return ((EmuExec *)x)->buf[id];
}

static void emu_free(RtExec *x)
{
    EmuExec *e = (EmuExec *)x;
    if (!e)
        return;
    for (int i = 0; e->buf && i < x->g->n_nodes; i++)
        if (e->plan.src && e->plan.src[i] == i)
            free(e->buf[i]);
    free(e->buf);
    free(e->fn);
    if (e->jit)
        cg_target_jit.close(e->jit);
    gpu_plan_fini(&e->plan);
    free(e);
}

static const RtExecOps emu_ops = {"emu", emu_step, emu_forward, emu_buffer, emu_free,
                                  NULL, NULL, NULL, NULL};

static bool alloc_buffers(EmuExec *e)
{
    const IrGraph *g = e->base.g;
    if (!(e->buf = calloc((size_t)g->n_nodes, sizeof *e->buf)))
        return false;
    for (int i = 0; i < g->n_nodes; i++) {
        int64_t bytes = e->plan.bytes[i];
        if (e->plan.src[i] != i)
            continue;
        size_t n = (size_t)(bytes + 63) / 64 * 64;
        if (!(e->buf[i] = aligned_alloc(64, n ? n : 64)))
            return false;
        memset(e->buf[i], 0, n ? n : 64);
        if (!ir_op_has(g->nodes[i]->op, IR_P_STATE))
            e->base.act_bytes += bytes;
    }
    for (int i = 0; i < g->n_nodes; i++)
        e->buf[i] = e->buf[e->plan.src[i]];
    return true;
}

static void diag_to(Diag *d, char *err, size_t errcap)
{
    snprintf(err, errcap, "%s", d->n_msgs > 0 ? d->msgs[0].text : "unknown error");
}

RtExec *gpu_exec_emu_new(const IrGraph *g, int max_batch, char *err, size_t errcap)
{
    EmuExec *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    e->base = (RtExec){&emu_ops, g, max_batch, 0, 0, NULL};
    Diag d;
    diag_init(&d);
    double t0 = cg_now_ms();
    bool ok = gpu_plan_build(g, max_batch, NULL, &e->plan, &d);
    if (ok && !(e->fn = calloc((size_t)e->plan.n_launches + 1, sizeof *e->fn))) {
        snprintf(err, errcap, "out of memory");
        diag_fini(&d);
        emu_free(&e->base);
        return NULL;
    }
    ok = ok && (e->jit = gpu_host_kernels(g, &e->plan, e->fn, &d)) != NULL;
    if (!ok)
        diag_to(&d, err, errcap);
    diag_fini(&d);
    if (!ok || !alloc_buffers(e)) {
        if (ok)
            snprintf(err, errcap, "out of memory allocating the emu executor's buffers");
        emu_free(&e->base);
        return NULL;
    }
    e->base.compile_ms = cg_now_ms() - t0;
    return &e->base;
}
