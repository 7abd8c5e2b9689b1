/* exec.h — the executor interface: what the training loop needs from
 * whatever runs a compiled step (the reference interpreter, or the
 * JIT-compiled step functions of codegen/).
 *
 * An executor owns one buffer per IR node of its graph (parameters and
 * optimizer state persist across calls) and runs either the whole step
 * (forward, losses, backward, updates) or one of its phases (ir_graph_phases):
 * forward only (evaluation), and — for the baseline schedules, which sum
 * gradients of several executors before one update — backward and update.
 * forward, backward, update in turn compute exactly what step does. A
 * cross_entropy node's buffer holds two floats: the mean loss, then the
 * number of rows whose arg-max matched the label.
 */
#ifndef LNET_RT_EXEC_H
#define LNET_RT_EXEC_H

#include "interp.h"

typedef struct RtExec RtExec;

typedef struct RtExecOps {
    const char *name;                               /* "interp", "jit", ... */
    void (*step)(RtExec *e, const RtStepArgs *a);
    void (*forward)(RtExec *e, const RtStepArgs *a);
    void *(*buffer)(RtExec *e, int id);
    void (*free)(RtExec *e);
    /* Optional (NULL: the executor cannot run the baseline schedules). */
    void (*backward)(RtExec *e, const RtStepArgs *a);   /* after forward, same args */
    void (*update)(RtExec *e, const RtStepArgs *a);     /* after backward */
    /* Node id's buffer (a source: parameter, state, input) becomes `mem`,
     * borrowed: it must outlive the executor and be as large as the
     * executor's own, which is freed now. Replicas share parameters so. */
    void (*share)(RtExec *e, int id, void *mem);
    /* Optional (NULL: one buffer per value, as the interpreter keeps): the
     * memory plan (passes.h, pass_mem_plan). Once, before the first step:
     * from now on nothing outside the entry calls reads or writes a value
     * except those the graph marks (sources, scalars such as losses, the
     * gradients of parameters ...) and the nodes with keep[i] != 0 (may be
     * NULL); every other value moves into one activation slab shared by
     * liveness, so its buffer means nothing between calls. */
    void (*plan)(RtExec *e, const unsigned char *keep);
} RtExecOps;

/* Executors embed this as their first member. */
struct RtExec {
    const RtExecOps *ops;
    const IrGraph *g;       /* borrowed */
    int max_batch;
    double compile_ms;      /* time to build the executor's code (0 for interp) */
    int64_t act_bytes;      /* bytes of its value buffers besides parameters and optimizer
                             * state, as allocated (planned or not); 0: not known */
    struct RtProfCounters *prof; /* --profile: its kernel times (runtime/profile.h; borrowed,
                                  * set by the trainer); NULL: not profiled */
};

/* The reference interpreter as an executor. */
RtExec *rt_exec_interp_new(const IrGraph *g, int max_batch, char *err, size_t errcap);

/* Convenience wrappers. */
static inline void rt_exec_step(RtExec *e, const RtStepArgs *a) { e->ops->step(e, a); }
static inline void rt_exec_forward(RtExec *e, const RtStepArgs *a) { e->ops->forward(e, a); }
static inline void rt_exec_backward(RtExec *e, const RtStepArgs *a) { e->ops->backward(e, a); }
static inline void rt_exec_update(RtExec *e, const RtStepArgs *a) { e->ops->update(e, a); }
static inline void rt_exec_share(RtExec *e, int id, void *mem) { e->ops->share(e, id, mem); }
static inline bool rt_exec_has_phases(const RtExec *e)
{
    return e->ops->backward && e->ops->update && e->ops->share;
}
/* Applies the memory plan when the executor has one; false when it has not. */
static inline bool rt_exec_plan(RtExec *e, const unsigned char *keep)
{
    if (!e->ops->plan)
        return false;
    e->ops->plan(e, keep);
    return true;
}
static inline void *rt_exec_buffer(RtExec *e, int id) { return e->ops->buffer(e, id); }
static inline void rt_exec_free(RtExec *e)
{
    if (e)
        e->ops->free(e);
}
static inline float rt_exec_scalar(RtExec *e, int id) { return ((float *)rt_exec_buffer(e, id))[0]; }
static inline int64_t rt_exec_correct(RtExec *e, int id)
{
    return (int64_t)((float *)rt_exec_buffer(e, id))[1];
}

/* Initializes every parameter of g in the executor's buffers from its
 * initializer (stream derived from (seed, parameter name)); zeroes states. */
void rt_exec_init_params(RtExec *e, uint64_t seed);

#endif
