/* grads.h — a graph's parameter gradients as one index space, and their
 * deterministic sum over copies of the graph (the data-parallel replicas,
 * the pipeline's micro-batches). */
#ifndef LNET_RT_GRADS_H
#define LNET_RT_GRADS_H

#include "exec.h"
#include "ir.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct RtGrads {
    int n;                  /* parameters with a gradient */
    int *node;              /* their gradient nodes */
    int64_t *start;         /* n + 1 prefix sums of their element counts */
} RtGrads;

/* Caller-owned gr; false: out of memory (gr is then safe to fini). */
bool rt_grads_init(RtGrads *gr, const IrGraph *g);
void rt_grads_fini(RtGrads *gr);
/* Over elements [lo, hi) of the space: e[0]'s gradients become the sum of
 * e[0..n)'s, added in that order, times scale (deterministic, and the same
 * whatever the split of the range between threads). */
void rt_grads_reduce(const RtGrads *gr, RtExec *const *e, int n, float scale, int64_t lo,
                     int64_t hi);

#endif
