/* cg_exec.c — the JIT executor: a graph lowered to one module (lower.c),
 * compiled by the host JIT; its two entries then run behind the runtime's
 * RtExec interface through the same buffers as linked AOT entries
 * (cg_exec_linked.c), the executor owning the JIT session.
 */
#include "cg_layout.h"
#include "exec.h"

static const char *first_error(const Diag *d)
{
    for (int i = 0; i < d->n_msgs; i++)
        if (d->msgs[i].level == DIAG_ERROR)
            return d->msgs[i].text;
    return "unknown error";
}

/* Lowers, compiles and looks up both entries into *step and *forward. */
static CgBackend *compile(const IrGraph *g, const CgOptions *o, CgStepFn *step,
                          CgStepFn *forward, Diag *d)
{
    CgBackend *jit = cg_target_jit.open(o, d);
    if (!jit)
        return NULL;
    CgModule *m = cg_lower_graph(g, "lnet", o, d);
    if (m && cg_target_jit.add_module(jit, m, d)) {
        *step = (CgStepFn)cg_jit_lookup(jit, "lnet_step", d);
        *forward = *step ? (CgStepFn)cg_jit_lookup(jit, "lnet_forward", d) : NULL;
        if (*forward)
            return jit;
    }
    cg_target_jit.close(jit);
    return NULL;
}

RtExec *cg_exec_new(const IrGraph *g, int max_batch, const CgOptions *o, char *err,
                    size_t errcap)
{
    CgOptions def;
    if (!o) {
        cg_options_init(&def);
        o = &def;
    }
    Diag d;
    diag_init(&d);
    CgStepFn step = NULL, forward = NULL;
    CgBackend *jit = compile(g, o, &step, &forward, &d);
    if (!jit)
        snprintf(err, errcap, "%s", first_error(&d));
    diag_fini(&d);
    if (!jit)
        return NULL;
    double ms = cg_backend_compile_ms(jit);
    RtExec *e = cg_exec_make(g, max_batch, step, forward, jit, cg_target_jit.close, err,
                             errcap);
    if (e)
        e->compile_ms = ms;
    return e;
}

RtExec *cg_exec_factory(const IrGraph *g, int max_batch, void *ctx, char *err, size_t errcap)
{
    return cg_exec_new(g, max_batch, ctx, err, errcap);
}
