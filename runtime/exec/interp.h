/* interp.h — the reference interpreter: runs any IR graph (forward, backward
 * and optimizer ops) with the plain-C reference kernels of kernels.h.
 *
 * It is the oracle the LLVM code generator is tested against, not the fast
 * path: every node gets its own buffer (no memory planning), layernorm and
 * attention recompute their saved statistics in the backward op, and dropout
 * masks are regenerated from a counter-based hash of (seed, step, node, i), so
 * a forward and its backward agree without storing the mask.
 */
#ifndef LNET_RT_INTERP_H
#define LNET_RT_INTERP_H

#include "ir.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct RtInterp RtInterp;

typedef struct RtStepArgs {
    int n;              /* examples in this batch, 1..max_batch */
    float lr;           /* learning rate of this step (after the schedule) */
    int64_t step;       /* 1-based update count (Adam's bias correction) */
    uint64_t seed;      /* run seed (dropout masks) */
    bool train;         /* dropout active */
} RtStepArgs;

/* Allocates buffers for g (borrowed: it must outlive the interpreter) with
 * room for max_batch examples. Parameters start at zero: call
 * rt_interp_init_params. Returns NULL and fills err on allocation failure. */
RtInterp *rt_interp_new(const IrGraph *g, int max_batch, char *err, size_t errcap);
void      rt_interp_free(RtInterp *in);

/* Initializes every parameter of g through buf(ctx, id) from its initializer:
 * He/Glorot/normal/zeros/ones, each parameter drawing from a PRNG stream
 * derived from (seed, parameter name), so adding a head does not change the
 * other parameters' values. Optimizer states are zeroed. */
void rt_params_init(const IrGraph *g, void *(*buf)(void *, int), void *ctx, uint64_t seed);

/* Initializes every parameter from its initializer with a stream derived from
 * (seed, parameter name), and zeroes every optimizer state. */
void rt_interp_init_params(RtInterp *in, uint64_t seed);

/* The buffer of node id: f32 values, or int32 for i32 nodes (cast the pointer).
 * Batched buffers hold n × (elements per example). */
void *rt_interp_buffer(RtInterp *in, int id);

/* Runs every node in order: the whole training step when the graph has
 * backward and optimizer ops. */
void rt_interp_step(RtInterp *in, const RtStepArgs *args);
/* Runs forward nodes only (evaluation: no gradients, no updates). */
void rt_interp_forward(RtInterp *in, const RtStepArgs *args);
struct RtProfCounters;
/* Times every node it runs from now on into c (runtime/profile.h; NULL: off). */
void rt_interp_profile(RtInterp *in, struct RtProfCounters *c);
/* Runs the nodes of one IrPhase in order (forward, backward, update in turn
 * equal one step). */
void rt_interp_run_phase(RtInterp *in, const RtStepArgs *args, IrPhase phase);
/* Node id's buffer becomes mem (borrowed, as large as the interpreter's own,
 * which is freed). */
void rt_interp_share(RtInterp *in, int id, void *mem);

/* The value of a scalar node (a loss) after a run. */
float   rt_interp_scalar(RtInterp *in, int id);
/* Rows whose arg-max matched the label, for a cross_entropy node, after a run. */
int64_t rt_interp_correct(RtInterp *in, int id);

#endif
