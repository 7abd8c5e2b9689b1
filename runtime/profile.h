/* profile.h — `lnet train --profile`: where a training step's time goes,
 * kernel by kernel.
 *
 * An RtProfile collects per-node counters (calls, nanoseconds, examples)
 * from every executor of a run. Each executor gets its own counters
 * (rt_profile_attach), so the threads of the local and data-parallel
 * schedules never write the same memory; the JIT's generated code brackets
 * every kernel call with rt_profile_now / rt_profile_add when it was compiled
 * with CgOptions.profile (no hooks otherwise: zero cost when off). At the end
 * the counters are summed per block (the replicas of a block together) and
 * per (phase, op), and priced with the IR cost model (ir_node_cost): FLOPs
 * and bytes per second.
 */
#ifndef LNET_RT_PROFILE_H
#define LNET_RT_PROFILE_H

#include "ir.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

typedef struct RtProfile RtProfile;

/* One executor's counters: cnt[i] for node i of its graph. */
typedef struct RtProfCounters {
    const atomic_int *paused;   /* the profile's: evaluation is not counted */
    int n;
    struct {
        int64_t calls, ns, examples;
    } cnt[];
} RtProfCounters;

/* A new, empty profile, owned by the caller (rt_profile_free). NULL: out of
 * memory. */
RtProfile *rt_profile_new(void);
void rt_profile_free(RtProfile *p);

/* Counters for one executor of graph g, owned by p (they outlive the
 * executor). Executors of the same graph count as one block; blocks are
 * numbered in the order their first executor attaches. Thread-safe. NULL:
 * out of memory (the executor then runs unprofiled). */
RtProfCounters *rt_profile_attach(RtProfile *p, const IrGraph *g);

/* The clock kernels are timed with, for every profile of the process:
 * RT_PROF_WALL (monotonic wall clock, the default) or RT_PROF_CPU (the
 * calling thread's CPU time: leaves out the time a thread waits for a core
 * on a loaded machine, but also the work of other threads a kernel starts,
 * such as OpenBLAS's own). Set it before the run starts. */
typedef enum { RT_PROF_WALL, RT_PROF_CPU } RtProfClock;
void rt_profile_set_clock(RtProfClock c);
RtProfClock rt_profile_clock(void);

/* While paused (evaluation), kernel calls are not counted. */
void rt_profile_pause(RtProfile *p, bool paused);

/* Called by generated code around each kernel: the profile clock in
 * nanoseconds, then the call's time charged to node i for n examples. */
int64_t rt_profile_now(void);
void rt_profile_add(RtProfCounters *c, int64_t i, int64_t t0, int64_t n);

/* The table per block: rows (phase, op) by time, with calls, total ms, share
 * of the block's kernel time, GFLOP/s and GB/s. */
void rt_profile_print(const RtProfile *p, FILE *f);

/* The rows as a JSON array (the report's "profile"). */
void rt_profile_write_json(const RtProfile *p, FILE *f);

#endif
