/* plan_memory.c — the memory plan of a step graph (see passes.h) and the
 * `plan-memory` pass, which prints it.
 *
 * Liveness: every value in the slab gets an interval [first, last] in each of
 * the two orders the compiled entries run nodes in (node order for `_step`;
 * forward, backward, update phases one after the other for the phase
 * entries), from the node that computes it to the last node that reads it
 * (directly or through views). Intervals are closed, so a node's output
 * conflicts with its inputs (no kernel is assumed to work in place). Values
 * computed in one phase and read in a later one are live across the phase
 * boundary: the boundary is a point of the phase order like any other.
 *
 * Offsets: values by decreasing size (then by position), each at the lowest
 * 64-byte aligned offset where it misses every conflicting value placed so
 * far (first fit). Quadratic in the slab values, which is a few hundred.
 */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

int pass_mem_source(const IrGraph *g, int id)
{
    while (ir_op_has(g->nodes[id]->op, IR_P_VIEW))
        id = g->nodes[id]->in[0];
    return id;
}

static bool is_state(const IrNode *n)
{
    return ir_op_has(n->op, IR_P_STATE);
}

/* ext[i] = 1: value i (a buffer source) keeps its own buffer. */
static void mark_external(const IrGraph *g, const unsigned char *keep, unsigned char *ext)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (ir_op_has(n->op, IR_P_VIEW))
            continue;
        if (ir_op_info(n->op)->kind == IR_KIND_SOURCE || n->type.rank == 0 || i == g->loss ||
            (n->flags & IR_F_LOSS))
            ext[i] = 1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        bool grad = n->op == IR_OP_PARAM || (n->flags & (IR_F_WANT_GRAD | IR_F_GRAD_SEED));
        if (grad && n->grad >= 0 && n->grad < g->n_nodes)
            ext[pass_mem_source(g, n->grad)] = 1;
        if (keep && keep[i])
            ext[pass_mem_source(g, i)] = 1;
        if (n->flags & IR_F_LOSS)
            ext[pass_mem_source(g, i)] = 1;
    }
    if (g->loss >= 0)
        ext[pass_mem_source(g, g->loss)] = 1;
}

static bool has_kernel(const IrNode *n)
{
    return ir_op_info(n->op)->kind != IR_KIND_SOURCE && !ir_op_has(n->op, IR_P_VIEW);
}

bool pass_mem_conflict(const PassMemPlan *p, int a, int b)
{
    const int *x = p->live + 4 * a, *y = p->live + 4 * b;
    return (x[0] <= y[1] && y[0] <= x[1]) || (x[2] <= y[3] && y[2] <= x[3]);
}

typedef struct {
    int64_t lo, hi;
} Range;

static int cmp_range(const void *a, const void *b)
{
    const Range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

typedef struct {
    int64_t bytes;
    int first, id;
} Value;

/* Larger first, then earlier first, then by id: deterministic. */
static int cmp_value(const void *a, const void *b)
{
    const Value *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

void pass_mem_plan(const IrGraph *g, int max_batch, const unsigned char *keep, PassMemPlan *p)
{
    int n = g->n_nodes;
    memset(p, 0, sizeof *p);
    p->n = n;
    p->max_batch = max_batch;
    size_t nn = (size_t)n + 1;
    p->bytes = calloc(nn, sizeof *p->bytes);
    p->offset = calloc(nn, sizeof *p->offset);
    p->live = calloc(4 * nn, sizeof *p->live);
    unsigned char *ext = calloc(nn, 1), *phase = calloc(nn, 1);
    int *pos = calloc(nn, sizeof *pos);
    Value *val = calloc(nn, sizeof *val);
    Range *r = calloc(nn, sizeof *r);
    IR_CHECK_ALLOC(p->bytes && p->offset && p->live && ext && phase && pos && val && r);

    mark_external(g, keep, ext);
    ir_graph_phases(g, phase);
    int t = 0;
    for (int ph = IR_PHASE_FORWARD; ph <= IR_PHASE_UPDATE; ph++)
        for (int i = 0; i < n; i++)
            if (phase[i] == ph)
                pos[i] = t++;
    for (int i = 0; i < n; i++) {
        const IrNode *nd = g->nodes[i];
        p->bytes[i] = ir_value_bytes(g, i, max_batch);
        p->offset[i] = -1;
        int *lv = p->live + 4 * i;
        lv[0] = lv[1] = i;
        lv[2] = lv[3] = pos[i];
        if (!has_kernel(nd))
            continue;
        for (int k = 0; k < nd->n_in; k++) {
            int *s = p->live + 4 * pass_mem_source(g, nd->in[k]);
            s[1] = i > s[1] ? i : s[1];
            s[3] = pos[i] > s[3] ? pos[i] : s[3];
        }
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        const IrNode *nd = g->nodes[i];
        if (ir_op_has(nd->op, IR_P_VIEW))
            continue;
        if (!ext[i] && has_kernel(nd))
            val[m++] = (Value){p->bytes[i], i, i};
        else if (is_state(nd))
            p->state_bytes += p->bytes[i];
        else
            p->own_bytes += p->bytes[i];
    }
    qsort(val, (size_t)m, sizeof *val, cmp_value);
    for (int j = 0; j < m; j++) {
        int v = val[j].id, nr = 0;
        for (int q = 0; q < j; q++) {
            int u = val[q].id;
            if (pass_mem_conflict(p, v, u))
                r[nr++] = (Range){p->offset[u], p->offset[u] + p->bytes[u]};
        }
        qsort(r, (size_t)nr, sizeof *r, cmp_range);
        int64_t at = 0;
        for (int q = 0; q < nr && r[q].lo < at + p->bytes[v]; q++)
            at = r[q].hi > at ? r[q].hi : at;
        p->offset[v] = at;
        p->slab = at + p->bytes[v] > p->slab ? at + p->bytes[v] : p->slab;
        p->slab_values += p->bytes[v];
    }
    p->n_slab = m;
    free(ext);
    free(phase);
    free(pos);
    free(val);
    free(r);
}

void pass_mem_plan_print(const IrGraph *g, const PassMemPlan *p, FILE *out)
{
    fprintf(out, "; memory plan at batch %d: slab %lld bytes for %d values of %lld bytes; "
                 "own buffers %lld bytes; parameters and state %lld bytes\n",
            p->max_batch, (long long)p->slab, p->n_slab, (long long)p->slab_values,
            (long long)p->own_bytes, (long long)p->state_bytes);
    for (int i = 0; i < p->n; i++) {
        if (p->offset[i] < 0)
            continue;
        char ty[96];
        ir_type_str(&g->nodes[i]->type, ty, sizeof ty);
        const int *lv = p->live + 4 * i;
        fprintf(out, ";   %%%-4d %-20s %-22s @%-10lld %10lld bytes  live %d..%d (phases %d..%d)\n",
                i, ir_op_info(g->nodes[i]->op)->name, ty, (long long)p->offset[i],
                (long long)p->bytes[i], lv[0], lv[1], lv[2], lv[3]);
    }
}

void pass_mem_plan_fini(PassMemPlan *p)
{
    free(p->bytes);
    free(p->offset);
    free(p->live);
    memset(p, 0, sizeof *p);
}

bool pass_plan_memory(IrGraph *g, PassCtx *ctx)
{
    PassMemPlan p;
    pass_mem_plan(g, g->train.batch > 0 ? g->train.batch : 1, NULL, &p);
    if (ctx->print_after_all ||
        (ctx->print_after && strcmp(ctx->print_after, "plan-memory") == 0))
        pass_mem_plan_print(g, &p, ctx->dump);
    pass_mem_plan_fini(&p);
    return true;
}
