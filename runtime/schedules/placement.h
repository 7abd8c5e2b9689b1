/* placement.h — where the blocks of a local run go on a core budget.
 *
 * K blocks on N cores run on W = min(K, N) workers. Worker w runs the
 * contiguous group of blocks [first[w], first[w+1]) in order on each batch;
 * the groups minimise the most expensive group's cost (the cost model's
 * per-block forward + backward + head FLOPs: the same dynamic program as the
 * chunked partition, one level up). Each worker gets N / W threads for its
 * matrix products and the remaining N mod W go, one at a time, to the worker
 * whose cost per thread is highest. The sequential schedule runs every block
 * with its worker's thread count too, so both compute the same bits.
 */
#ifndef LNET_RT_PLACEMENT_H
#define LNET_RT_PLACEMENT_H

#include <stdbool.h>

#define RT_PLACE_MAX 64

typedef struct RtPlacement {
    int blocks;                     /* K */
    int cores;                      /* N */
    int workers;                    /* W = min(K, N) */
    int first[RT_PLACE_MAX + 1];    /* worker w runs blocks [first[w], first[w+1]) */
    int threads[RT_PLACE_MAX];      /* worker w's threads; they sum to N */
    double cost[RT_PLACE_MAX];      /* worker w's group: the sum of its blocks' costs */
    double total;                   /* every block's cost */
} RtPlacement;

/* Places K blocks of the given costs (NULL or all zero: equal costs) on N
 * cores; false when K or N is outside 1..RT_PLACE_MAX (K) or below 1 (N). */
bool rt_place(const double *cost, int K, int N, RtPlacement *p);

/* The worker that runs block k. */
int rt_place_worker(const RtPlacement *p, int k);

/* Predicted speed-up over one core: total cost over the slowest worker's
 * cost per thread (ideal scaling inside a worker; no communication). */
double rt_place_speedup(const RtPlacement *p);

#endif
