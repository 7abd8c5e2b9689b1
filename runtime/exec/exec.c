/* exec.c — parameter initialization shared by every executor, and the
 * reference interpreter wrapped as an executor (see exec.h). */
#include "exec.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t last_dim(const IrType *t) { return t->rank ? t->dim[t->rank - 1] : 1; }

/* ------------------------------------------------------- initialization */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void init_param(const IrNode *p, float *w, const RtRng *base)
{
    RtRng r = rt_rng_split(base, fnv1a(p->name));
    int64_t L = ir_type_numel(&p->type);
    IrInit init = p->a.init;
    if (init == IR_INIT_DEFAULT)
        init = p->type.rank >= 2 ? IR_INIT_HE : IR_INIT_ZEROS;
    int fan_in = p->a.fan_in > 0 ? p->a.fan_in : (int)p->type.dim[0];
    int fan_out = p->a.fan_out > 0 ? p->a.fan_out : (int)last_dim(&p->type);
    double he = sqrt(2.0 / fan_in), gl = sqrt(6.0 / (fan_in + fan_out));
    for (int64_t i = 0; i < L; i++) {
        switch (init) {
        case IR_INIT_HE:     w[i] = (float)(he * rt_rng_normal(&r)); break;
        case IR_INIT_GLOROT: w[i] = (float)(gl * (2.0 * rt_rng_uniform_f64(&r) - 1.0)); break;
        case IR_INIT_NORMAL: w[i] = p->a.init_std * rt_rng_normal(&r); break;
        case IR_INIT_ONES:   w[i] = 1.0f; break;
        default:             w[i] = 0.0f; break;
        }
    }
}

void rt_params_init(const IrGraph *g, void *(*buf)(void *, int), void *ctx, uint64_t seed)
{
    RtRng root, base;
    rt_rng_seed(&root, seed);
    base = rt_rng_split(&root, RT_RNG_STREAM_INIT);
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (n->op == IR_OP_PARAM)
            init_param(n, buf(ctx, i), &base);
        else if (n->op == IR_OP_STATE)
            memset(buf(ctx, i), 0, (size_t)ir_type_numel(&n->type) * 4);
    }
}

void rt_exec_init_params(RtExec *e, uint64_t seed)
{
    rt_params_init(e->g, (void *(*)(void *, int))e->ops->buffer, e, seed);
}


/* ------------------------------------------------ the interpreter executor */

typedef struct {
    RtExec base;
    RtInterp *in;
} InterpExec;

/* The interpreter of e, profiled when e is. */
static RtInterp *run_in(RtExec *e)
{
    RtInterp *in = ((InterpExec *)e)->in;
    rt_interp_profile(in, e->prof);
    return in;
}

static void ie_step(RtExec *e, const RtStepArgs *a) { rt_interp_step(run_in(e), a); }
static void ie_forward(RtExec *e, const RtStepArgs *a) { rt_interp_forward(run_in(e), a); }
static void ie_backward(RtExec *e, const RtStepArgs *a)
{
    rt_interp_run_phase(run_in(e), a, IR_PHASE_BACKWARD);
}
static void ie_update(RtExec *e, const RtStepArgs *a)
{
    rt_interp_run_phase(run_in(e), a, IR_PHASE_UPDATE);
}
static void ie_share(RtExec *e, int id, void *mem) { rt_interp_share(((InterpExec *)e)->in, id, mem); }
static void *ie_buffer(RtExec *e, int id) { return rt_interp_buffer(((InterpExec *)e)->in, id); }
static void ie_free(RtExec *e)
{
    rt_interp_free(((InterpExec *)e)->in);
    free(e);
}

/* No plan: the reference keeps every value in its own buffer. */
static const RtExecOps interp_ops = {"interp",   ie_step,   ie_forward, ie_buffer,
                                     ie_free,    ie_backward, ie_update, ie_share, NULL};

RtExec *rt_exec_interp_new(const IrGraph *g, int max_batch, char *err, size_t errcap)
{
    InterpExec *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    e->in = rt_interp_new(g, max_batch, err, errcap);
    if (!e->in) {
        free(e);
        return NULL;
    }
    e->base = (RtExec){&interp_ops, g, max_batch, 0, 0, NULL};
    return &e->base;
}
