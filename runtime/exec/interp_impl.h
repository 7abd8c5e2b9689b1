/* interp_impl.h — internals shared by interp.c (buffers, init) and
 * interp_exec.c (the per-op switch). */
#ifndef LNET_RT_INTERP_IMPL_H
#define LNET_RT_INTERP_IMPL_H

#include "interp.h"

struct RtInterp {
    const IrGraph *g;
    int max_batch;
    void **buf;             /* per node: its value */
    unsigned char *phase;   /* per node: IrPhase (ir_graph_phases) */
    unsigned char *borrowed;/* per node: buf was given by rt_interp_share (not ours to free) */
    int64_t *correct;       /* per node: cross_entropy arg-max hits */
    float *scratch;         /* work space, sized for the largest need */
    float *scratch2;
    RtStepArgs args;        /* of the run in progress */
    struct RtProfCounters *prof;    /* the executor's RtExec.prof (NULL: not profiled) */
};

/* Elements of node id's value for n examples. */
static inline int64_t interp_count(const IrGraph *g, int id, int n)
{
    const IrType *t = &g->nodes[id]->type;
    return ir_type_numel(t) * (ir_type_batched(t) ? n : 1);
}

static inline int64_t interp_last_dim(const IrType *t)
{
    return t->rank ? t->dim[t->rank - 1] : 1;
}

void interp_dropout_uniforms(float *u, int64_t L, const RtStepArgs *a, int salt);
/* Executes one node on the current run's arguments. */
void interp_exec(RtInterp *in, const IrNode *n);

#endif
