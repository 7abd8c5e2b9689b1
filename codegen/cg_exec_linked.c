/* cg_exec_linked.c — the executor behind compiled step functions, whether
 * the JIT produced them (cg_exec.c) or they were linked into an AOT trainer.
 * No LLVM here: a trainer links this file without the code generator.
 *
 * Buffers mirror the interpreter's (same sizes and layouts, so parameter
 * initialization, checkpoints and the trainer work unchanged): one 64-byte
 * aligned buffer per node for max_batch examples, scalars 2 floats, zeroed
 * except large computed values (their kernels write them first); views
 * share their source's buffer. The scratch area the kernels share is the
 * table's last entry. Nothing is allocated per step.
 *
 * RtExecOps.plan then applies the memory plan (passes.h, pass_mem_plan):
 * every value nothing outside an entry call touches moves into one slab at
 * its planned offset (its own buffer is freed), so the table points into the
 * slab. The table's entry after the scratch area is RtExec.prof, for code
 * compiled with CgOptions.profile. The trainer plans its executors; tests
 * that inspect every node's value after a step simply do not.
 */
#include <stdlib.h>
#include <string.h>

#include "cg_layout.h"
#include "exec.h"
#include "passes.h"

typedef struct CgExec {
    RtExec base;                    /* first: a CgExec is an RtExec */
    CgBackend *code;                /* owned; NULL for linked entries */
    void (*release)(CgBackend *);
    CgStepFn step, forward;
    CgStepFn backward, update;      /* NULL unless cg_exec_set_phases */
    void **bufs;                    /* g->n_nodes node buffers, the scratch area, then the
                                     * profile counters (RtExec.prof) */
    unsigned char *borrowed;        /* per buffer: given by share or in the slab, not
                                     * ours to free on its own */
    int n_bufs;
    unsigned char *slab;            /* the planned values (NULL until plan) */
} CgExec;

/* 64-byte aligned; zeroed unless `zero` is false. Large buffers that
 * kernels write before anything reads them are not zeroed: their pages stay
 * untouched until a step writes them, so buffers the memory plan frees
 * again never become resident (peak RSS is the planned size). */
static void *alloc64(int64_t bytes, bool zero)
{
    size_t n = (size_t)(bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, n ? n : 64);
    if (p && zero)
        memset(p, 0, n);
    return p;
}

static void *zalloc(int64_t bytes) { return alloc64(bytes, true); }

static void run(CgStepFn fn, CgExec *e, const RtStepArgs *a)
{
    IR_ASSERT(a->n >= 1 && a->n <= e->base.max_batch);
    e->bufs[e->base.g->n_nodes + 1] = e->base.prof;    /* read by profiled code only */
    fn(e->bufs, a->n, a->lr, a->step, a->seed, a->train);
}

static void cx_step(RtExec *x, const RtStepArgs *a) { run(((CgExec *)x)->step, (CgExec *)x, a); }
static void cx_forward(RtExec *x, const RtStepArgs *a)
{
    run(((CgExec *)x)->forward, (CgExec *)x, a);
}

static void cx_backward(RtExec *x, const RtStepArgs *a)
{
    IR_ASSERT(((CgExec *)x)->backward);
    run(((CgExec *)x)->backward, (CgExec *)x, a);
}
static void cx_update(RtExec *x, const RtStepArgs *a)
{
    IR_ASSERT(((CgExec *)x)->update);
    run(((CgExec *)x)->update, (CgExec *)x, a);
}

/* Node id's buffer (and its views') becomes mem, borrowed. */
static void cx_share(RtExec *x, int id, void *mem)
{
    CgExec *e = (CgExec *)x;
    IR_ASSERT(id >= 0 && id < x->g->n_nodes && cg_buffer_source(x->g, id) == id);
    IR_ASSERT(!e->borrowed[id]);
    free(e->bufs[id]);
    for (int i = id; i < x->g->n_nodes; i++)
        if (cg_buffer_source(x->g, i) == id)
            e->bufs[i] = mem;
    e->borrowed[id] = 1;
}

void cg_exec_set_phases(RtExec *x, CgStepFn backward, CgStepFn update)
{
    ((CgExec *)x)->backward = backward;
    ((CgExec *)x)->update = update;
}

static void *cx_buffer(RtExec *x, int id)
{
    IR_ASSERT(id >= 0 && id < x->g->n_nodes);
    return ((CgExec *)x)->bufs[id];
}

static void cx_free(RtExec *x)
{
    CgExec *e = (CgExec *)x;
    if (!e)
        return;
    for (int i = 0; e->bufs && i < e->n_bufs; i++)
        if (i == x->g->n_nodes || (i < x->g->n_nodes && cg_buffer_source(x->g, i) == i &&
                                   !e->borrowed[i]))
            free(e->bufs[i]);
    free(e->bufs);
    free(e->borrowed);
    free(e->slab);
    if (e->code)
        e->release(e->code);
    free(e);
}

/* Moves the values the plan puts in the slab there. Out of memory for the
 * slab: the executor stays as it is (one buffer per value). */
static void cx_plan(RtExec *x, const unsigned char *keep)
{
    CgExec *e = (CgExec *)x;
    const IrGraph *g = x->g;
    IR_ASSERT(!e->slab);
    PassMemPlan p;
    pass_mem_plan(g, x->max_batch, keep, &p);
    if (p.n_slab > 0 && (e->slab = alloc64(p.slab, false)) != NULL) {
        for (int i = 0; i < g->n_nodes; i++) {
            int s = cg_buffer_source(g, i);
            if (p.offset[s] < 0)
                continue;
            if (i == s) {
                IR_ASSERT(!e->borrowed[i]);
                free(e->bufs[i]);
                e->borrowed[i] = 1;
            }
            e->bufs[i] = e->slab + p.offset[s];
        }
        x->act_bytes = p.slab + p.own_bytes;
    }
    pass_mem_plan_fini(&p);
}

/* Both always have the phase entries (cg_exec_set_phases, cg_exec_linked_new). */
static const RtExecOps jit_ops = {"jit", cx_step, cx_forward, cx_buffer, cx_free,
                                  cx_backward, cx_update, cx_share, cx_plan};
static const RtExecOps aot_ops = {"aot", cx_step, cx_forward, cx_buffer, cx_free,
                                  cx_backward, cx_update, cx_share, cx_plan};

static bool alloc_buffers(CgExec *e, const IrGraph *g, int max_batch)
{
    e->n_bufs = g->n_nodes + 2;
    e->bufs = calloc((size_t)e->n_bufs, sizeof *e->bufs);
    e->borrowed = calloc((size_t)e->n_bufs, 1);
    if (!e->bufs || !e->borrowed)
        return false;
    for (int i = 0; i < g->n_nodes; i++) {
        int src = cg_buffer_source(g, i);
        if (src != i) {
            e->bufs[i] = e->bufs[src];
            continue;
        }
        int64_t bytes = ir_value_bytes(g, i, max_batch);  /* scalars: value + count */
        bool computed = ir_op_info(g->nodes[i]->op)->kind != IR_KIND_SOURCE;
        if (!(e->bufs[i] = alloc64(bytes, !computed || bytes <= 65536)))
            return false;
        if (!ir_op_has(g->nodes[i]->op, IR_P_STATE))
            e->base.act_bytes += bytes;
    }
    return (e->bufs[g->n_nodes] = zalloc(cg_scratch_bytes(g, max_batch))) != NULL;
}

RtExec *cg_exec_make(const IrGraph *g, int max_batch, CgStepFn step, CgStepFn forward,
                     CgBackend *code, void (*release)(CgBackend *), char *err, size_t errcap)
{
    IR_ASSERT(step && forward && (!code || release));
    CgExec *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errcap, "out of memory");
        if (code)
            release(code);
        return NULL;
    }
    e->base = (RtExec){code ? &jit_ops : &aot_ops, g, max_batch, 0, 0, NULL};
    e->code = code;
    e->release = release;
    e->step = step;
    e->forward = forward;
    if (!alloc_buffers(e, g, max_batch)) {
        snprintf(err, errcap, "out of memory allocating the %s executor's buffers",
                 e->base.ops->name);
        cx_free(&e->base);
        return NULL;
    }
    return &e->base;
}

RtExec *cg_exec_linked_new(const IrGraph *g, int max_batch, const CgStepFn fn[4], char *err,
                           size_t errcap)
{
    IR_ASSERT(fn[2] && fn[3]);
    RtExec *e = cg_exec_make(g, max_batch, fn[0], fn[1], NULL, NULL, err, errcap);
    if (e)
        cg_exec_set_phases(e, fn[2], fn[3]);
    return e;
}
