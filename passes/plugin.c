/* plugin.c — partition methods from plug-ins (lnet_pass.h).
 *
 * The registry of plug-in methods is process-wide: a plug-in's init
 * registers its methods through the API table, all or nothing (a failed
 * registration or a nonzero init drops the plug-in's names). The partition
 * pass runs a selected method (PassCtx.partitioner) on the plan's layers
 * and checks the blocks it sets. Loading the library (dlopen) is the
 * command line's business (tools/overrides.c): passes/ links no libdl.
 */
#include "lnet_pass.h"
#include "passes_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct PassPartitioner {
    char name[64];
    char *help;
    char *origin;           /* the plug-in's path */
    LnetPartitionFn fn;
    void *user;
};

enum { MAX_PARTITIONERS = 64 };
static PassPartitioner partitioners[MAX_PARTITIONERS];
static int n_partitioners;

struct LnetPassRegistry {
    const char *origin;
    int first;              /* the plug-in's first entry in partitioners[] */
    char *err;
    size_t errcap;
    bool failed;
};

struct LnetPartition {
    const IrGraph *g;
    PassPlan *p;
    const PassPartitioner *m;
    bool *forced;           /* per layer: a user cut ends it */
    IrLoc at;
    Diag *d;
    bool set;
};

/* ------------------------------------------------------------ registry */

static bool valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static char *dup_str(const char *s)
{
    char *c = strdup(s ? s : "");
    IR_CHECK_ALLOC(c);
    return c;
}

static int reg_method(LnetPassRegistry *r, const char *name, const char *help,
                      LnetPartitionFn fn, void *user)
{
    if (r->failed)
        return -1;
    const char *why = NULL;
    char buf[160];
    if (!valid_name(name)) {
        why = "is not a valid method name (letters, digits, '_' and '-', at most 63)";
    } else if (!fn) {
        why = "has no function";
    } else if (n_partitioners == MAX_PARTITIONERS) {
        why = "is one method too many";
    } else {
        for (int i = 0; i < METHOD_COUNT && !why; i++)
            if (strcmp(ir_method_name((IrMethod)i), name) == 0)
                why = "is a built-in method";
        for (int i = 0; i < n_partitioners && !why; i++)
            if (strcmp(partitioners[i].name, name) == 0) {
                snprintf(buf, sizeof buf, "is already registered (by %s)",
                         partitioners[i].origin);
                why = buf;
            }
    }
    if (why) {
        snprintf(r->err, r->errcap, "method '%.63s' %s", name ? name : "(null)", why);
        r->failed = true;
        return -1;
    }
    PassPartitioner *m = &partitioners[n_partitioners++];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->help = dup_str(help);
    m->origin = dup_str(r->origin);
    m->fn = fn;
    m->user = user;
    return 0;
}

static void drop_from(int first)
{
    while (n_partitioners > first) {
        PassPartitioner *m = &partitioners[--n_partitioners];
        free(m->help);
        free(m->origin);
        memset(m, 0, sizeof *m);
    }
}

const PassPartitioner *pass_partitioner_find(const char *name)
{
    for (int i = 0; i < n_partitioners; i++)
        if (strcmp(partitioners[i].name, name) == 0)
            return &partitioners[i];
    return NULL;
}

const char *pass_partitioner_name(const PassPartitioner *m)
{
    return m->name;
}

void pass_partitioner_names(char *buf, size_t cap)
{
    buf[0] = '\0';
    for (int i = 0; i < n_partitioners; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? " " : "",
                 partitioners[i].name);
}

/* ------------------------------------------------------- the graph side */

static const IrNode *node_at(const LnetPartition *p, int i)
{
    return i >= 0 && i < p->g->n_nodes ? p->g->nodes[i] : NULL;
}

static int api_n_nodes(const LnetPartition *p) { return p->g->n_nodes; }

static const char *api_op(const LnetPartition *p, int i)
{
    const IrNode *n = node_at(p, i);
    return n ? ir_op_info(n->op)->name : NULL;
}

static const char *api_name(const LnetPartition *p, int i)
{
    const IrNode *n = node_at(p, i);
    return n ? n->name : NULL;
}

static int api_line(const LnetPartition *p, int i)
{
    const IrNode *n = node_at(p, i);
    return n ? n->loc.line : 0;
}

static int api_n_inputs(const LnetPartition *p, int i)
{
    const IrNode *n = node_at(p, i);
    return n ? n->n_in : 0;
}

static int api_input(const LnetPartition *p, int i, int k)
{
    const IrNode *n = node_at(p, i);
    return n && k >= 0 && k < n->n_in ? n->in[k] : -1;
}

static int api_rank(const LnetPartition *p, int i)
{
    const IrNode *n = node_at(p, i);
    return n ? n->type.rank : 0;
}

static int64_t api_dim(const LnetPartition *p, int i, int axis)
{
    const IrNode *n = node_at(p, i);
    return n && axis >= 0 && axis < n->type.rank ? n->type.dim[axis] : 0;
}

static double api_flops(const LnetPartition *p, int i)
{
    const IrNode *n = node_at(p, i);
    return n ? ir_node_cost(p->g, n).flops : 0;
}

static int64_t api_param_numel(const LnetPartition *p, int i)
{
    const IrNode *n = node_at(p, i);
    return n ? ir_param_numel(n) : 0;
}

static bool layer_ok(const LnetPartition *p, int l)
{
    return l >= 0 && l < p->p->n_layers;
}

static int api_n_layers(const LnetPartition *p) { return p->p->n_layers; }

static int api_layer_first(const LnetPartition *p, int l)
{
    return layer_ok(p, l) ? p->p->layer[l].first : -1;
}

static int api_layer_last(const LnetPartition *p, int l)
{
    return layer_ok(p, l) ? p->p->layer[l].last : -1;
}

static double api_layer_cost(const LnetPartition *p, int l, LnetCost which)
{
    if (!layer_ok(p, l) || !p->p->costed)
        return 0;
    const PassLayer *ly = &p->p->layer[l];
    switch (which) {
    case LNET_COST_FWD: return ly->fwd;
    case LNET_COST_BWD_FIRST: return ly->bwd_first;
    case LNET_COST_BWD_REST: return ly->bwd_rest;
    case LNET_COST_HEAD: return ly->head;
    }
    return 0;
}

static int64_t api_layer_params(const LnetPartition *p, int l)
{
    if (!layer_ok(p, l))
        return 0;
    int64_t sum = 0;
    const PassLayer *ly = &p->p->layer[l];
    for (int i = ly->first; i <= ly->last; i++)
        for (int k = 0; k < p->g->nodes[i]->n_in; k++) {
            const IrNode *s = p->g->nodes[p->g->nodes[i]->in[k]];
            bool seen = false;      /* a parameter used twice counts once */
            for (int j = 0; j < k && !seen; j++)
                seen = p->g->nodes[i]->in[j] == s->id;
            if (!seen)
                sum += ir_param_numel(s);
        }
    return sum;
}

static int api_layer_forced_end(const LnetPartition *p, int l)
{
    return layer_ok(p, l) && p->forced[l];
}

static double api_block_cost(const LnetPartition *p, int first, int last)
{
    if (!layer_ok(p, first) || !layer_ok(p, last) || first > last || !p->p->costed)
        return 0;
    return pass_plan_block_cost(p->p, first, last);
}

static int api_requested_blocks(const LnetPartition *p) { return p->g->local.blocks; }

static void report(LnetPartition *p, bool error, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (error)
        diag_error(p->d, p->at, "partition method '%s': %s", p->m->name, msg);
    else
        diag_warning(p->d, p->at, "partition method '%s': %s", p->m->name, msg);
}

static void api_error(LnetPartition *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(p, true, fmt, ap);
    va_end(ap);
}

static void api_warning(LnetPartition *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(p, false, fmt, ap);
    va_end(ap);
}

static int api_set_blocks(LnetPartition *p, int n, const int *last)
{
    int L = p->p->n_layers;
    if (n < 1 || n > L || !last) {
        api_error(p, "set_blocks: %d blocks, but the model has %d layer%s (1 to %d blocks)", n,
                  L, L == 1 ? "" : "s", L);
        return -1;
    }
    for (int k = 0; k < n; k++) {
        int from = k ? last[k - 1] + 1 : 0;
        if (last[k] < from || last[k] >= L || (k == n - 1 && last[k] != L - 1)) {
            api_error(p, "set_blocks: block %d ends at layer %d; the ends must increase "
                      "strictly and the last must be layer %d", k, last[k], L - 1);
            return -1;
        }
        for (int l = from; l < last[k]; l++)
            if (p->forced[l]) {
                api_error(p, "set_blocks: block %d runs across the user cut after layer %d",
                          k, l);
                return -1;
            }
    }
    free(p->p->first);
    free(p->p->last);
    p->p->n_blocks = n;
    p->p->first = malloc((size_t)n * sizeof *p->p->first);
    p->p->last = malloc((size_t)n * sizeof *p->p->last);
    IR_CHECK_ALLOC(p->p->first && p->p->last);
    for (int k = 0; k < n; k++) {
        p->p->first[k] = k ? last[k - 1] + 1 : 0;
        p->p->last[k] = last[k];
    }
    p->set = true;
    return 0;
}

static const LnetPassApi api = {
    .abi_version = LNET_PASS_ABI_VERSION,
    .register_method = reg_method,
    .n_nodes = api_n_nodes,
    .op = api_op,
    .name = api_name,
    .line = api_line,
    .n_inputs = api_n_inputs,
    .input = api_input,
    .rank = api_rank,
    .dim = api_dim,
    .flops = api_flops,
    .param_numel = api_param_numel,
    .n_layers = api_n_layers,
    .layer_first = api_layer_first,
    .layer_last = api_layer_last,
    .layer_cost = api_layer_cost,
    .layer_params = api_layer_params,
    .layer_forced_end = api_layer_forced_end,
    .block_cost = api_block_cost,
    .requested_blocks = api_requested_blocks,
    .set_blocks = api_set_blocks,
    .error = api_error,
    .warning = api_warning,
};

bool pass_plugin_init(LnetPassPluginInitFn init, const char *origin, char *err, size_t errcap)
{
    LnetPassRegistry r = {origin, n_partitioners, err, errcap, false};
    err[0] = '\0';
    int rc = init(&api, &r);
    if (!r.failed && rc != 0)
        snprintf(err, errcap, "lnet_pass_plugin_init failed (returned %d)", rc);
    if (r.failed || rc != 0) {
        drop_from(r.first);
        return false;
    }
    return true;
}

/* ------------------------------------------------------- the partition */

bool pass_plan_plugin(const IrGraph *g, PassPlan *p, const PassPartitioner *m, Diag *d)
{
    LnetPartition lp = {g, p, m, calloc((size_t)p->n_layers + 1, sizeof(bool)),
                        g->local.loc.line > 0 ? g->local.loc
                        : g->loss >= 0        ? g->nodes[g->loss]->loc
                                              : IR_LOC_NONE,
                        d, false};
    IR_CHECK_ALLOC(lp.forced);
    for (int l = 0; l + 1 < p->n_layers; l++)
        lp.forced[l] = (g->nodes[p->layer[l].last]->flags & IR_F_CUT) != 0;
    bool had = diag_has_errors(d);  /* false inside a pipeline: it stops at errors */
    int rc = m->fn(&lp, m->user);
    bool reported = !had && diag_has_errors(d);
    bool ok = rc == 0 && !reported;
    if (ok && !lp.set) {
        api_error(&lp, "returned without setting the blocks (api->set_blocks)");
        ok = false;
    } else if (rc != 0 && !reported) {
        api_error(&lp, "failed (returned %d)", rc);
    }
    free(lp.forced);
    return ok;
}
