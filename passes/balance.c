/* balance.c — what a chunked partition balances (`local { balance = ... }`).
 *
 * The chunked dynamic program (partition.c) minimises the largest block
 * value; this file says what a block's value is, from the per-layer numbers
 * pass_plan_costs measured:
 *   flops   forward + backward + head FLOPs (pass_plan_block_cost);
 *   memory  bytes per example of the forward values the block keeps for its
 *           backward: every activation of its layers, its head's, and the
 *           stop-gradient copy of its input (what `lnet cost`'s act column
 *           counts, per example);
 *   time    the FLOP cost with each layer's share weighted by that layer's
 *           measured seconds per FLOP. A layer's measured time is its step as
 *           a block of its own (forward, backward without input gradient, its
 *           head, the update); dividing by the FLOPs of that same block gives
 *           the rate at which this machine runs the layer's ops, which then
 *           prices the layer inside any block.
 * The tools measure the times (a JIT step per layer) and hand them over in
 * PassCtx.layer_secs; the passes never run code.
 */
#include "passes_impl.h"

/* Seconds per FLOP of layer l (1 when it has no measured time or no FLOPs). */
static double rate(const PassPlan *p, int l)
{
    double f = pass_plan_block_cost(p, l, l);
    return p->layer[l].secs > 0 && f > 0 && f < PASS_NO_HEAD ? p->layer[l].secs / f : 1;
}

static double block_memory(const PassPlan *p, int first, int last)
{
    double bytes = p->layer[first].in_act;
    for (int l = first; l <= last; l++)
        bytes += p->layer[l].act;
    if (last < p->n_layers - 1)
        bytes += p->layer[last].head >= PASS_NO_HEAD ? PASS_NO_HEAD : p->layer[last].head_act;
    return bytes;
}

/* pass_plan_block_cost, each layer's part at its own rate. */
static double block_time(const PassPlan *p, int first, int last)
{
    const PassLayer *ly = p->layer;
    double t = ly[first].bwd_first * rate(p, first);
    for (int l = first; l <= last; l++)
        t += (ly[l].fwd + (l > first ? ly[l].bwd_rest : 0)) * rate(p, l);
    if (last < p->n_layers - 1)
        t += ly[last].head >= PASS_NO_HEAD ? PASS_NO_HEAD : ly[last].head * rate(p, last);
    return t;
}

double pass_plan_block_value(const PassPlan *p, IrBalance b, int first, int last)
{
    switch (b) {
    case BALANCE_MEMORY: return block_memory(p, first, last);
    case BALANCE_TIME: return block_time(p, first, last);
    default: return pass_plan_block_cost(p, first, last);
    }
}

bool pass_plan_times(const IrGraph *g, PassPlan *p, const PassCtx *ctx, Diag *d)
{
    const IrLocalCfg *l = &g->local;
    IrLoc at = l->balance_loc.line > 0 ? l->balance_loc : l->loc;
    if (!ctx->layer_secs) {
        diag_error(d, at, "balance = time needs each layer's measured time, and this "
                   "pipeline has none (PassCtx.layer_secs: the lnet command measures them, a "
                   "trainer of lnet build cannot; build with balance = flops or memory)");
        return false;
    }
    if (ctx->n_layer_secs != p->n_layers) {
        diag_error(d, at, "balance = time: %d measured layer times for %d layers (were they "
                   "measured on another model?)", ctx->n_layer_secs, p->n_layers);
        return false;
    }
    for (int k = 0; k < p->n_layers; k++)
        p->layer[k].secs = ctx->layer_secs[k];
    return true;
}
