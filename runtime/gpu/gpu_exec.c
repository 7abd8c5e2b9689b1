/* gpu_exec.c — the CUDA executor ("cuda"): a block's launch plan
 * (gpu_plan.h) run on one device through the driver wrapper (cuda.h).
 *
 * Everything the step touches lives on the device: one buffer per node
 * (views share their source's), parameters and optimizer state included,
 * so a step moves only what the trainer hands in or asks for. The trainer
 * reads and writes buffers through RtExecOps.buffer, so each buffer also has
 * a host mirror in pinned memory, kept coherent lazily:
 *   - after a run, every buffer a kernel wrote is newer on the device; the
 *     first buffer() call copies it back (a loss: 8 bytes);
 *   - a buffer handed out by buffer() may have been written (an activation
 *     from the previous block, parameters at initialization or a resume), so
 *     the next run first copies it in, queued on the executor's stream ahead
 *     of the launches (pinned memory: asynchronous copies). Inputs and labels
 *     (the batch's n examples) go in before every run, written through
 *     buffer() or through a pointer the trainer kept.
 * Launches run in node order on that one stream; a run ends with one stream
 * synchronization. A driver error mid-run cannot be returned through
 * RtExecOps: the executor prints it once, makes every scalar (the losses)
 * NaN so the trainer stops as for a diverged run, and runs nothing more.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda.h"
#include "exec.h"
#include "gpu_plan.h"

typedef struct CudaExec {
    RtExec base;                /* first: a CudaExec is an RtExec */
    GpuPlan plan;
    GpuCtx *ctx;
    GpuModule *mod;
    GpuFunc **fn;               /* per launch */
    GpuStream *stream;
    uint64_t *dev;              /* per node: device buffer (views: their source's) */
    void **host;                /* per node: pinned mirror (views: their source's) */
    unsigned char *dev_newer;   /* per source node: the device copy is newer */
    unsigned char *host_out;    /* per source node: handed out since the last run */
    bool failed;
} CudaExec;

static void fail(CudaExec *e, const GpuErr *err)
{
    const IrGraph *g = e->base.g;
    if (!e->failed)
        fprintf(stderr, "lnet: error: GPU %d: %s\n",
                gpu_ctx_device(e->ctx)->ordinal, err->msg);
    e->failed = true;
    for (int i = 0; i < g->n_nodes; i++)
        if (e->plan.src[i] == i && g->nodes[i]->type.rank == 0) {
            float *f = e->host[i];
            f[0] = f[1] = NAN;
            e->dev_newer[i] = 0;
        }
}

static bool copy_in(CudaExec *e, int n, GpuErr *err)
{
    const IrGraph *g = e->base.g;
    for (int i = 0; i < g->n_nodes; i++) {
        IrOp op = g->nodes[i]->op;
        bool batch = op == IR_OP_INPUT || op == IR_OP_LABEL;
        if (e->plan.src[i] != i || (!e->host_out[i] && !batch))
            continue;
        size_t bytes = batch ? (size_t)ir_value_bytes(g, i, n) : (size_t)e->plan.bytes[i];
        if (gpu_copy_htod(e->ctx, e->dev[i], e->host[i], bytes, e->stream, err) != 0)
            return false;
        e->host_out[i] = 0;
    }
    return true;
}

/* Launch l's arguments: the buffers, the batch and the step's scalars. */
static bool launch(CudaExec *e, int li, const RtStepArgs *a, GpuErr *err)
{
    const GpuLaunch *l = &e->plan.launch[li];
    uint64_t p[1 + GPU_MAX_IN];
    for (int k = 0; k <= GPU_MAX_IN; k++)
        p[k] = l->buf[k] >= 0 ? e->dev[l->buf[k]] : 0;
    int64_t n = a->n;
    float s[3];
    gpu_launch_scalars(l, a, s);
    void *args[GPU_KERNEL_NPARAMS];
    for (int k = 0; k <= GPU_MAX_IN; k++)
        args[k] = &p[k];
    args[1 + GPU_MAX_IN] = &n;
    for (int k = 0; k < 3; k++)
        args[2 + GPU_MAX_IN + k] = &s[k];
    unsigned grid[3] = {1, 1, 1}, block[3] = {1, 1, 1};
    gpu_launch_geometry(l, a->n, &grid[0], &block[0]);
    if (gpu_launch(e->ctx, e->fn[li], grid, block, 0, e->stream, args, err) != 0)
        return false;
    /* what it wrote: its value, and an update's parameter and state */
    e->dev_newer[l->buf[0]] = 1;
    if (l->scalars != GPU_SC_NONE)
        for (int k = 1; k <= GPU_MAX_IN; k++)
            if (l->buf[k] >= 0 && k != 2)   /* operand 1 is the gradient: read only */
                e->dev_newer[l->buf[k]] = 1;
    return true;
}

static void run(CudaExec *e, const RtStepArgs *a, bool forward_only)
{
    IR_ASSERT(a->n >= 1 && a->n <= e->base.max_batch);
    if (e->failed)
        return;
    GpuErr err;
    bool ok = copy_in(e, a->n, &err);
    for (int i = 0; ok && i < e->plan.n_launches; i++)
        if (gpu_launch_runs(&e->plan.launch[i], forward_only))
            ok = launch(e, i, a, &err);
    if (!ok || gpu_stream_sync(e->ctx, e->stream, &err) != 0)
        fail(e, &err);
}

static void cu_step(RtExec *x, const RtStepArgs *a) { run((CudaExec *)x, a, false); }
static void cu_forward(RtExec *x, const RtStepArgs *a) { run((CudaExec *)x, a, true); }

static void *cu_buffer(RtExec *x, int id)
{
    CudaExec *e = (CudaExec *)x;
    IR_ASSERT(id >= 0 && id < x->g->n_nodes);
    int s = e->plan.src[id];
    if (e->dev_newer[s] && !e->failed) {
        GpuErr err;
        if (gpu_copy_dtoh(e->ctx, e->host[s], e->dev[s], (size_t)e->plan.bytes[s], NULL,
                          &err) != 0)
            fail(e, &err);
        e->dev_newer[s] = 0;
    }
    e->host_out[s] = 1;
    return e->host[s];
}

static void cu_free(RtExec *x)
{
    CudaExec *e = (CudaExec *)x;
    if (!e)
        return;
    for (int i = 0; e->ctx && e->dev && i < x->g->n_nodes; i++)
        if (e->plan.src[i] == i) {
            if (e->dev[i])
                gpu_free(e->ctx, e->dev[i]);
            if (e->host[i])
                gpu_host_free(e->ctx, e->host[i]);
        }
    if (e->stream)
        gpu_stream_destroy(e->ctx, e->stream);
    if (e->mod)
        gpu_module_unload(e->ctx, e->mod);
    if (e->ctx)
        gpu_ctx_close(e->ctx);
    free(e->dev);
    free(e->host);
    free(e->fn);
    free(e->dev_newer);
    free(e->host_out);
    gpu_plan_fini(&e->plan);
    free(e);
}

static const RtExecOps cuda_ops = {"cuda", cu_step, cu_forward, cu_buffer, cu_free,
                                   NULL, NULL, NULL, NULL};

/* Device buffers zeroed, pinned mirrors zeroed; views point at their source's. */
static bool alloc_buffers(CudaExec *e, GpuErr *err)
{
    const IrGraph *g = e->base.g;
    for (int i = 0; i < g->n_nodes; i++) {
        if (e->plan.src[i] != i)
            continue;
        size_t bytes = (size_t)e->plan.bytes[i];
        if (gpu_alloc(e->ctx, bytes, &e->dev[i], err) != 0 ||
            gpu_memset0(e->ctx, e->dev[i], bytes, err) != 0 ||
            gpu_host_alloc(e->ctx, bytes, &e->host[i], err) != 0)
            return false;
        memset(e->host[i], 0, bytes);
        if (!ir_op_has(g->nodes[i]->op, IR_P_STATE))
            e->base.act_bytes += (int64_t)bytes;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        e->dev[i] = e->dev[e->plan.src[i]];
        e->host[i] = e->host[e->plan.src[i]];
    }
    return true;
}

static bool open_device(CudaExec *e, int ordinal, GpuErr *err)
{
    if (gpu_ctx_open(ordinal, &e->ctx, err) != 0 ||
        gpu_module_load(e->ctx, e->plan.ptx, &e->mod, err) != 0 ||
        gpu_stream_create(e->ctx, &e->stream, err) != 0)
        return false;
    for (int i = 0; i < e->plan.n_launches; i++)
        if (gpu_module_function(e->ctx, e->mod, e->plan.launch[i].kernel, &e->fn[i], err) != 0)
            return false;
    return alloc_buffers(e, err);
}

RtExec *gpu_exec_cuda_new(GpuPlan *plan, int ordinal, char *err, size_t errcap)
{
    const IrGraph *g = plan->g;
    CudaExec *e = calloc(1, sizeof *e);
    if (!e) {
        gpu_plan_fini(plan);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    e->base = (RtExec){&cuda_ops, g, plan->max_batch, 0, 0, NULL};
    e->plan = *plan;
    memset(plan, 0, sizeof *plan);
    size_t n = (size_t)g->n_nodes;
    e->dev = calloc(n, sizeof *e->dev);
    e->host = calloc(n, sizeof *e->host);
    e->fn = calloc((size_t)e->plan.n_launches + 1, sizeof *e->fn);
    e->dev_newer = calloc(n, 1);
    e->host_out = calloc(n, 1);
    if (!e->dev || !e->host || !e->fn || !e->dev_newer || !e->host_out) {
        snprintf(err, errcap, "out of memory");
        cu_free(&e->base);
        return NULL;
    }
    GpuErr ge;
    if (!open_device(e, ordinal, &ge)) {
        snprintf(err, errcap, "gpu%d: %s", ordinal, ge.msg);
        cu_free(&e->base);
        return NULL;
    }
    return &e->base;
}
