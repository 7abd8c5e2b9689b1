/* exec_compare.c — see exec_compare.h. */
#include "exec_compare.h"

#include <math.h>
#include <string.h>

float tc_frand(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / (float)(1u << 23) - 1.0f;
}

void tc_fill(RtExec *a, RtExec *b, const IrGraph *g, int n, unsigned seed, const bool *positive)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *nd = g->nodes[i];
        if (ir_op_info(nd->op)->kind != IR_KIND_SOURCE)
            continue;
        int64_t L = ir_type_numel(&nd->type) * (ir_type_batched(&nd->type) ? n : 1);
        float *fa = rt_exec_buffer(a, i), *fb = rt_exec_buffer(b, i);
        for (int64_t k = 0; k < L; k++) {
            float r = tc_frand(&seed);
            if (nd->op == IR_OP_LABEL) {
                int32_t v = (int32_t)((r + 1.0f) * 0.5f * (float)nd->a.classes);
                v = v >= nd->a.classes ? nd->a.classes - 1 : v;
                memcpy(fa + k, &v, 4);
            } else {
                fa[k] = positive[i] ? 1.0f + 0.5f * r : r;
            }
        }
        memcpy(fb, fa, (size_t)(L > 1 ? L : 1) * 4);
    }
}

double tc_err_of(const float *got, const float *want, int64_t L)
{
    double diff = 0, scale = 1;
    for (int64_t i = 0; i < L; i++) {
        if (isnan(got[i]) != isnan(want[i]))
            return INFINITY;
        if (isnan(want[i]))
            continue;
        double d = fabs((double)got[i] - want[i]);
        diff = d > diff ? d : diff;
        scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    }
    return diff / scale;
}

double tc_node_err(RtExec *got, RtExec *ref, const IrGraph *g, int id, int n)
{
    const IrNode *nd = g->nodes[id];
    int64_t L = ir_type_numel(&nd->type) * (ir_type_batched(&nd->type) ? n : 1);
    if (nd->op == IR_OP_CROSS_ENTROPY)
        L = 2;
    return tc_err_of(rt_exec_buffer(got, id), rt_exec_buffer(ref, id), L);
}

bool tc_is_forward(const IrNode *n)
{
    IrOpKind k = ir_op_info(n->op)->kind;
    return k != IR_KIND_BWD && k != IR_KIND_OPT;
}
