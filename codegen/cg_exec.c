/* cg_exec.c — the JIT executor: a graph lowered to one module (lower.c),
 * compiled by the host JIT, behind the runtime's RtExec interface.
 *
 * Buffers mirror the interpreter's (same sizes and layouts, so parameter
 * initialization, checkpoints and the trainer work unchanged): one
 * zero-initialized, 64-byte aligned buffer per node for max_batch examples,
 * scalars 2 floats; views share their source's buffer. The scratch area the
 * kernels share is the table's last entry. Nothing is allocated per step.
 */
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "exec.h"

typedef struct CgExec {
    RtExec base;            /* first: a CgExec is an RtExec */
    CgBackend *jit;
    CgStepFn step, forward;
    void **bufs;            /* g->n_nodes node buffers, then the scratch area */
    int n_bufs;
} CgExec;

static void *zalloc(int64_t bytes)
{
    size_t n = (size_t)(bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, n ? n : 64);
    if (p)
        memset(p, 0, n);
    return p;
}

static void run(CgStepFn fn, CgExec *e, const RtStepArgs *a)
{
    IR_ASSERT(a->n >= 1 && a->n <= e->base.max_batch);
    fn(e->bufs, a->n, a->lr, a->step, a->seed, a->train);
}

static void cx_step(RtExec *x, const RtStepArgs *a) { run(((CgExec *)x)->step, (CgExec *)x, a); }
static void cx_forward(RtExec *x, const RtStepArgs *a)
{
    run(((CgExec *)x)->forward, (CgExec *)x, a);
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
        if (i == e->n_bufs - 1 || cg_buffer_source(x->g, i) == i)
            free(e->bufs[i]);
    free(e->bufs);
    if (e->jit)
        cg_target_jit.close(e->jit);
    free(e);
}

static const RtExecOps jit_ops = {"jit", cx_step, cx_forward, cx_buffer, cx_free};

static bool alloc_buffers(CgExec *e, const IrGraph *g, int max_batch)
{
    e->n_bufs = g->n_nodes + 1;
    e->bufs = calloc((size_t)e->n_bufs, sizeof *e->bufs);
    if (!e->bufs)
        return false;
    for (int i = 0; i < g->n_nodes; i++) {
        int src = cg_buffer_source(g, i);
        if (src != i) {
            e->bufs[i] = e->bufs[src];
            continue;
        }
        const IrType *t = &g->nodes[i]->type;
        int64_t c = ir_type_numel(t) * (ir_type_batched(t) ? max_batch : 1);
        if (!(e->bufs[i] = zalloc(4 * (c > 1 ? c : 2))))     /* scalars: value + count */
            return false;
    }
    return (e->bufs[g->n_nodes] = zalloc(cg_scratch_bytes(g, max_batch))) != NULL;
}

static const char *first_error(const Diag *d)
{
    for (int i = 0; i < d->n_msgs; i++)
        if (d->msgs[i].level == DIAG_ERROR)
            return d->msgs[i].text;
    return "unknown error";
}

/* Lowers, compiles and looks up both entries. */
static bool compile(CgExec *e, const IrGraph *g, const CgOptions *o, Diag *d)
{
    if (!(e->jit = cg_target_jit.open(o, d)))
        return false;
    CgModule *m = cg_lower_graph(g, "lnet", o, d);
    if (!m || !cg_target_jit.add_module(e->jit, m, d))
        return false;
    e->step = (CgStepFn)cg_jit_lookup(e->jit, "lnet_step", d);
    e->forward = e->step ? (CgStepFn)cg_jit_lookup(e->jit, "lnet_forward", d) : NULL;
    e->base.compile_ms = cg_backend_compile_ms(e->jit);
    return e->forward != NULL;
}

RtExec *cg_exec_new(const IrGraph *g, int max_batch, const CgOptions *o, char *err,
                    size_t errcap)
{
    CgOptions def;
    if (!o) {
        cg_options_init(&def);
        o = &def;
    }
    CgExec *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    e->base = (RtExec){&jit_ops, g, max_batch, 0};
    if (!alloc_buffers(e, g, max_batch)) {
        snprintf(err, errcap, "out of memory allocating the JIT executor's buffers");
        cx_free(&e->base);
        return NULL;
    }
    Diag d;
    diag_init(&d);
    bool ok = compile(e, g, o, &d);
    if (!ok)
        snprintf(err, errcap, "%s", first_error(&d));
    diag_fini(&d);
    if (!ok) {
        cx_free(&e->base);
        return NULL;
    }
    return &e->base;
}

RtExec *cg_exec_factory(const IrGraph *g, int max_batch, void *ctx, char *err, size_t errcap)
{
    return cg_exec_new(g, max_batch, ctx, err, errcap);
}
