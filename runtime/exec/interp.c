/* interp.c — the reference interpreter (see interp.h).
 *
 * Each node's value lives in its own buffer, sized for max_batch examples;
 * parameters and optimizer state persist across steps, everything else is
 * overwritten by the next run. Execution is one flat switch per node over the
 * op table, each case a call to a reference kernel (interp_exec.c).
 */
#include "interp_impl.h"
#include "kernels.h"
#include "profile.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Scratch floats a node needs beyond its own buffer (for max_batch). */
static int64_t scratch_need(const IrGraph *g, const IrNode *n, int nb)
{
    const IrOpInfo *r = ir_op_info(n->op);     /* x, w: which operand is which */
    switch (n->op) {
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BIAS_RELU:
    case IR_OP_CONV2D_GRAD_X:
    case IR_OP_CONV2D_GRAD_X_RELU:
    case IR_OP_CONV2D_GRAD_W: {
        const IrType *x = &g->nodes[n->in[r->x]]->type, *w = &g->nodes[n->in[r->w]]->type;
        RkConv2d geo = rk_conv2d_geom(1, x->dim[1], x->dim[2], x->dim[3], w->dim[0], w->dim[2],
                                      n->a.stride, n->a.padding);
        return rk_conv2d_work_floats(&geo);
    }
    case IR_OP_LAYERNORM:
    case IR_OP_LAYERNORM_GRAD_X:
    case IR_OP_LAYERNORM_GRAD_X_ADD:
    case IR_OP_LAYERNORM_GRAD_G:
        return interp_count(g, n->in[r->x], nb) * 3 + 4;
    case IR_OP_BATCHNORM_GRAD_X:
    case IR_OP_BATCHNORM_GRAD_G:       /* mean, rstd per channel */
        return 2 * g->nodes[n->in[r->x]]->type.dim[1] + 4;
    case IR_OP_CAUSAL_ATTENTION:
    case IR_OP_ATTENTION_GRAD: {
        const IrType *q = &g->nodes[n->in[r->x]]->type;
        int64_t att = (int64_t)nb * n->a.heads * q->dim[1] * q->dim[1];
        int64_t L = (int64_t)nb * ir_type_numel(q);
        return att + L > 3 * L ? att + L : 3 * L;
    }
    case IR_OP_DROPOUT:
    case IR_OP_DROPOUT_GRAD:
        return 2 * interp_count(g, n->id, nb);
    case IR_OP_SGD_UPDATE:
    case IR_OP_ADAM_UPDATE:
        return interp_count(g, n->in[r->w], nb);
    default:
        return 0;
    }
}

RtInterp *rt_interp_new(const IrGraph *g, int max_batch, char *err, size_t errcap)
{
    int bad = ir_graph_unknown_op(g);
    if (bad >= 0) {
        snprintf(err, errcap, "interpreter: internal error: %%%d (block %d) has op id %d, which "
                 "ir/ops.def does not define", bad, g->nodes[bad]->block, (int)g->nodes[bad]->op);
        return NULL;
    }
    RtInterp *in = calloc(1, sizeof *in);
    if (!in)
        goto oom;
    in->g = g;
    in->max_batch = max_batch;
    in->buf = calloc((size_t)g->n_nodes, sizeof *in->buf);
    in->correct = calloc((size_t)g->n_nodes, sizeof *in->correct);
    in->phase = calloc((size_t)g->n_nodes + 1, 1);
    in->borrowed = calloc((size_t)g->n_nodes + 1, 1);
    if (!in->buf || !in->correct || !in->phase || !in->borrowed)
        goto oom;
    ir_graph_phases(g, in->phase);
    int64_t need = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        int64_t c = interp_count(g, i, max_batch);
        in->buf[i] = calloc((size_t)(c > 1 ? c : 2), 4);   /* scalars: value + count */
        if (!in->buf[i])
            goto oom;
        int64_t s = scratch_need(g, g->nodes[i], max_batch);
        need = s > need ? s : need;
    }
    in->scratch = calloc((size_t)need, 4);
    in->scratch2 = calloc((size_t)need, 4);
    if (in->scratch && in->scratch2)
        return in;
oom:
    snprintf(err, errcap, "out of memory allocating the interpreter's buffers");
    rt_interp_free(in);
    return NULL;
}

void rt_interp_free(RtInterp *in)
{
    if (!in)
        return;
    for (int i = 0; in->buf && i < in->g->n_nodes; i++)
        if (!in->borrowed || !in->borrowed[i])
            free(in->buf[i]);
    free(in->buf);
    free(in->phase);
    free(in->borrowed);
    free(in->correct);
    free(in->scratch);
    free(in->scratch2);
    free(in);
}

void *rt_interp_buffer(RtInterp *in, int id)
{
    IR_ASSERT(id >= 0 && id < in->g->n_nodes);
    return in->buf[id];
}

void rt_interp_share(RtInterp *in, int id, void *mem)
{
    IR_ASSERT(id >= 0 && id < in->g->n_nodes && !in->borrowed[id]);
    free(in->buf[id]);
    in->buf[id] = mem;
    in->borrowed[id] = 1;
}

float rt_interp_scalar(RtInterp *in, int id) { return *(float *)rt_interp_buffer(in, id); }
int64_t rt_interp_correct(RtInterp *in, int id) { return in->correct[id]; }

void rt_interp_init_params(RtInterp *in, uint64_t seed)
{
    rt_params_init(in->g, (void *(*)(void *, int))rt_interp_buffer, in, seed);
}

/* Uniforms for dropout: a counter-based hash of (seed, step, salt, i), so a
 * forward and its backward see the same numbers without storing them. */
void interp_dropout_uniforms(float *u, int64_t L, const RtStepArgs *a, int salt)
{
    RtRng root;
    rt_rng_seed(&root, a->seed ^ ((uint64_t)a->step << 20) ^ (uint64_t)salt);
    RtRng r = rt_rng_split(&root, RT_RNG_STREAM_DROPOUT);
    for (int64_t i = 0; i < L; i++)
        u[i] = rt_rng_uniform(&r);
}

/* Runs the nodes whose phase is in the bit set `phases` (1 << IrPhase). */
static void run(RtInterp *in, const RtStepArgs *args, unsigned phases)
{
    IR_ASSERT(args->n >= 1 && args->n <= in->max_batch);
    in->args = *args;
    for (int i = 0; i < in->g->n_nodes; i++) {
        const IrNode *n = in->g->nodes[i];
        if (!(phases & (1u << in->phase[i])))
            continue;
        /* profiled: the nodes the JIT gives a kernel (not sources, not views) */
        bool timed = in->prof && ir_op_info(n->op)->kind != IR_KIND_SOURCE &&
                     !ir_op_has(n->op, IR_P_VIEW);
        int64_t t0 = timed ? rt_profile_now() : 0;
        interp_exec(in, n);
        if (timed)
            rt_profile_add(in->prof, i, t0, args->n);
    }
}

void rt_interp_profile(RtInterp *in, struct RtProfCounters *c) { in->prof = c; }
void rt_interp_step(RtInterp *in, const RtStepArgs *args) { run(in, args, ~0u); }
void rt_interp_forward(RtInterp *in, const RtStepArgs *args)
{
    run(in, args, 1u << IR_PHASE_FORWARD);
}
void rt_interp_run_phase(RtInterp *in, const RtStepArgs *args, IrPhase phase)
{
    run(in, args, 1u << phase);
}
