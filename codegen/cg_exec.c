/* cg_exec.c — the JIT executor: a graph lowered to one module (lower.c),
 * compiled by the host JIT; its entries then run behind the runtime's
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

/* Lowers, compiles and looks up the entries step, forward, backward, update
 * into fn[0..3]. */
static CgBackend *compile(const IrGraph *g, const CgOptions *o, CgStepFn fn[4], Diag *d)
{
    static const char *const names[4] = {"lnet_step", "lnet_forward", "lnet_backward",
                                         "lnet_update"};
    CgBackend *jit = cg_target_jit.open(o, d);
    if (!jit)
        return NULL;
    CgModule *m = cg_lower_graph(g, "lnet", o, d);
    if (m && cg_target_jit.add_module(jit, m, d)) {
        bool ok = true;
        for (int i = 0; ok && i < 4; i++)
            ok = (fn[i] = (CgStepFn)cg_jit_lookup(jit, names[i], d)) != NULL;
        if (ok)
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
    CgStepFn fn[4] = {NULL};
    CgBackend *jit = compile(g, o, fn, &d);
    if (!jit)
        snprintf(err, errcap, "%s", first_error(&d));
    diag_fini(&d);
    if (!jit)
        return NULL;
    double ms = cg_backend_compile_ms(jit);
    RtExec *e = cg_exec_make(g, max_batch, fn[0], fn[1], jit, cg_target_jit.close, err,
                             errcap);
    if (e) {
        e->compile_ms = ms;
        cg_exec_set_phases(e, fn[2], fn[3]);
    }
    return e;
}

RtExec *cg_exec_factory(const IrGraph *g, int max_batch, void *ctx, char *err, size_t errcap)
{
    return cg_exec_new(g, max_batch, ctx, err, errcap);
}
