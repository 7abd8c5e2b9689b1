/* graph.c — creating graphs and appending nodes.
 *
 * Nodes live in the graph's arena; the graph keeps a heap array of pointers to
 * them in topological order (operands always come first).
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

IrGraph *ir_graph_new(const char *model)
{
    IrGraph *g = calloc(1, sizeof *g);
    IR_CHECK_ALLOC(g);
    ir_arena_init(&g->arena);
    g->model = ir_arena_strdup(&g->arena, model ? model : "model");
    g->loss = -1;
    ir_train_cfg_default(&g->train);
    ir_local_cfg_default(&g->local);
    return g;
}

void ir_graph_free(IrGraph *g)
{
    if (!g)
        return;
    free(g->nodes);
    free(g->sites);
    ir_arena_fini(&g->arena);
    free(g);
}

IrNode *ir_node_add(IrGraph *g, IrOp op, const int *in, int n_in,
                    const IrAttrs *a, IrLoc loc)
{
    IR_ASSERT(n_in >= 0 && n_in <= IR_MAX_IN);
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        IrNode **p = realloc(g->nodes, (size_t)cap * sizeof *p);
        IR_CHECK_ALLOC(p);
        g->nodes = p;
        g->cap_nodes = cap;
    }
    IrNode *n = ir_arena_alloc(&g->arena, sizeof *n);
    n->id = g->n_nodes;
    n->op = op;
    n->n_in = n_in;
    for (int i = 0; i < n_in; i++) {
        IR_ASSERT(in[i] >= 0 && in[i] < n->id);
        n->in[i] = in[i];
    }
    if (a)
        n->a = *a;
    n->block = IR_BLOCK_NONE;
    n->grad = -1;
    n->state = -1;
    n->loc = loc;
    g->nodes[g->n_nodes++] = n;
    return n;
}

IrNode *ir_node(const IrGraph *g, int id)
{
    IR_ASSERT(id >= 0 && id < g->n_nodes);
    return g->nodes[id];
}

void ir_graph_phases(const IrGraph *g, unsigned char *phase)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        IrOpKind k = ir_op_info(n->op)->kind;
        unsigned char ph = k == IR_KIND_OPT ? IR_PHASE_UPDATE
                           : k == IR_KIND_BWD || (n->flags & IR_F_GRAD_SEED) ? IR_PHASE_BACKWARD
                                                                             : IR_PHASE_FORWARD;
        for (int j = 0; j < n->n_in; j++)
            ph = phase[n->in[j]] > ph ? phase[n->in[j]] : ph;
        phase[i] = ph;
    }
}

int ir_graph_unknown_op(const IrGraph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        if ((unsigned)g->nodes[i]->op >= IR_OP_COUNT)
            return i;
    return -1;
}

int64_t ir_value_bytes(const IrGraph *g, int id, int max_batch)
{
    const IrType *t = &g->nodes[id]->type;
    if (ir_op_has(g->nodes[id]->op, IR_P_VIEW))
        return 0;
    int64_t c = ir_type_numel(t) * (ir_type_batched(t) ? max_batch : 1);
    return (4 * (c > 1 ? c : 2) + 63) / 64 * 64;
}
