/* grads.c — parameter gradients as one index space (see grads.h). */
#include "grads.h"

#include <stdlib.h>
#include <string.h>

bool rt_grads_init(RtGrads *gr, const IrGraph *g)
{
    memset(gr, 0, sizeof *gr);
    gr->node = malloc((size_t)(g->n_nodes + 1) * sizeof *gr->node);
    gr->start = calloc((size_t)(g->n_nodes + 1), sizeof *gr->start);
    if (!gr->node || !gr->start)
        return false;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *p = g->nodes[i];
        if (p->op != IR_OP_PARAM || p->grad < 0)
            continue;
        gr->node[gr->n] = p->grad;
        gr->start[gr->n + 1] = gr->start[gr->n] + ir_type_numel(&p->type);
        gr->n++;
    }
    return true;
}

void rt_grads_fini(RtGrads *gr)
{
    free(gr->node);
    free(gr->start);
    memset(gr, 0, sizeof *gr);
}

void rt_grads_reduce(const RtGrads *gr, RtExec *const *e, int n, float scale, int64_t lo,
                     int64_t hi)
{
    for (int j = 0; j < gr->n && lo < hi; j++) {
        int64_t a = gr->start[j], b = gr->start[j + 1];
        if (b <= lo || a >= hi)
            continue;
        int64_t from = (lo > a ? lo : a) - a, to = (hi < b ? hi : b) - a;
        float *g0 = rt_exec_buffer(e[0], gr->node[j]);
        for (int64_t c = from; c < to; c += 4096) {     /* a cache-sized chunk at a time */
            int64_t end = c + 4096 < to ? c + 4096 : to;
            for (int r = 1; r < n; r++) {
                const float *gq = rt_exec_buffer(e[r], gr->node[j]);
                for (int64_t i = c; i < end; i++)
                    g0[i] += gq[i];
            }
            if (scale != 1.0f)
                for (int64_t i = c; i < end; i++)
                    g0[i] *= scale;
        }
    }
}

