/* partition.c — legal cuts, layers, and the block of every node.
 *
 * 1. Legal cuts (pass_plan_layers). Walking the forward graph in topological
 *    order, a value v is a legal cut when it is the only non-source value live
 *    across its position: everything below v depends on what is above only
 *    through v. Inside a residual block the skip path is live too, so there is
 *    no cut there; between residual (or transformer) sub-blocks there is one.
 * 2. Layers: the segments between consecutive cuts, with compute-free
 *    segments (flatten, an activation, pooling, the loss) merged into the
 *    previous layer, or into the next one at the start of the graph; a lone
 *    layernorm merges into the next layer (it normalizes that layer's input).
 *    A user cut (IR_F_CUT) always starts a new layer.
 * 3. Blocks (pass_plan_blocks), per docs/method.md §1: backprop one block; greedy
 *    one per layer; chunked K contiguous ranges minimising the most expensive
 *    block (a dynamic program over the layer costs, user cuts forced);
 *    overlap windows of w layers, each sharing its first layer with the
 *    previous window. A plug-in's method (PassCtx.partitioner, plugin.c)
 *    chooses contiguous layer ranges instead.
 * 4. The pass writes the blocks into the graph. Overlap duplicates each shared
 *    layer: the original belongs to the earlier window (its head reads it),
 *    the copy to the later one, computed from the layer's input; the layers
 *    after it read the copy. Parameters belong to the latest block that uses
 *    them (a shared layer's to the later window, which receives the earlier
 *    window's gradient, see split); inputs and labels to no block.
 */
#include "passes_impl.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

/* live[p]: non-source values defined at or before p and used after p;
 * used[v]: v has a user after it. */
static int *live_counts(const IrGraph *g, bool *used)
{
    int n = g->n_nodes;
    int *last = malloc((size_t)n * sizeof *last);
    int *live = calloc((size_t)n + 1, sizeof *live);
    IR_CHECK_ALLOC(last && live);
    for (int i = 0; i < n; i++)
        last[i] = -1;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i]->n_in; k++)
            last[g->nodes[i]->in[k]] = i;
    for (int v = 0; v < n; v++) {
        used[v] = last[v] > v;
        if (pass_is_source(g->nodes[v]) || !used[v])
            continue;
        live[v]++;
        live[last[v]]--;
    }
    for (int p = 1; p < n; p++)
        live[p] += live[p - 1];
    free(last);
    return live;
}

static void user_cut_error(const IrGraph *g, const int *live, const bool *used, int v,
                           Diag *d)
{
    const IrNode *n = g->nodes[v];
    if (pass_is_source(n) || !used[v])
        diag_error(d, n->loc, "cannot cut here: nothing after this value depends on it "
                   "through the network");
    else
        diag_error(d, n->loc, "cannot cut here: %d tensors cross this point (a cut needs one "
                   "tensor carrying everything forward; inside a residual block the skip path "
                   "crosses too)", live[v]);
    ir_diag_chain(g, d, n->loc);  /* inside a def: the call that made it */
}

/* Some node of [first, last] has every property of p (IR_P_*). */
static bool segment_has(const IrGraph *g, int first, int last, unsigned p)
{
    for (int i = first; i <= last; i++)
        if (ir_op_has(g->nodes[i]->op, p))
            return true;
    return false;
}

/* Merges the segments between cuts into layers (see the file comment). */
static void make_layers(const IrGraph *g, PassPlan *p)
{
    int n_seg = p->n_cuts + 1;
    p->layer = calloc((size_t)n_seg, sizeof *p->layer);
    IR_CHECK_ALLOC(p->layer);
    p->n_layers = 0;
    bool cur_heavy = false;
    for (int s = 0; s < n_seg; s++) {
        int first = s == 0 ? 0 : p->cuts[s - 1] + 1;
        int last = s < p->n_cuts ? p->cuts[s] : g->n_nodes - 1;
        /* A segment with a matmul, conv2d, attention or embedding (IR_P_LAYER)
         * is a layer. A normalization (IR_P_NORM) prepares the next layer's
         * input (a pre-LN transformer's final layernorm belongs to the
         * classifier), so it starts a layer. */
        bool heavy = segment_has(g, first, last, IR_P_LAYER);
        bool leads = !heavy && segment_has(g, first, last, IR_P_NORM);
        bool forced = s > 0 && (g->nodes[p->cuts[s - 1]]->flags & IR_F_CUT);
        if (p->n_layers == 0 || forced || ((heavy || leads) && cur_heavy)) {
            p->layer[p->n_layers++] = (PassLayer){.first = first, .last = last};
            cur_heavy = heavy;
        } else {
            p->layer[p->n_layers - 1].last = last;
            cur_heavy = cur_heavy || heavy;
        }
    }
}

bool pass_plan_layers(const IrGraph *g, PassPlan *p, Diag *d)
{
    memset(p, 0, sizeof *p);
    if (g->n_nodes == 0)
        return true;
    bool *used = malloc((size_t)g->n_nodes * sizeof *used);
    IR_CHECK_ALLOC(used);
    int *live = live_counts(g, used);
    p->cuts = malloc((size_t)g->n_nodes * sizeof *p->cuts);
    IR_CHECK_ALLOC(p->cuts);
    bool ok = true;
    for (int v = 0; v < g->n_nodes; v++) {
        bool cut = !pass_is_source(g->nodes[v]) && used[v] && live[v] == 1;
        if (cut)
            p->cuts[p->n_cuts++] = v;
        if (!cut && (g->nodes[v]->flags & IR_F_CUT)) {
            user_cut_error(g, live, used, v, d);
            ok = false;
        }
    }
    free(live);
    free(used);
    make_layers(g, p);
    return ok;
}

void pass_plan_fini(PassPlan *p)
{
    free(p->cuts);
    free(p->layer);
    free(p->first);
    free(p->last);
    memset(p, 0, sizeof *p);
}

/* ------------------------------------------------------------- blocks */

double pass_plan_block_cost(const PassPlan *p, int first, int last)
{
    double c = p->layer[first].bwd_first;
    for (int l = first; l <= last; l++)
        c += p->layer[l].fwd + (l > first ? p->layer[l].bwd_rest : 0);
    if (last < p->n_layers - 1)
        c += p->layer[last].head;
    return c;
}

static void alloc_blocks(PassPlan *p, int k)
{
    p->n_blocks = k;
    p->first = calloc((size_t)k, sizeof *p->first);
    p->last = calloc((size_t)k, sizeof *p->last);
    IR_CHECK_ALLOC(p->first && p->last);
}

/* forced[l]: a user cut ends layer l, so no block may run across it. */
static bool *forced_ends(const IrGraph *g, const PassPlan *p, int *n_forced)
{
    bool *f = calloc((size_t)p->n_layers, sizeof *f);
    IR_CHECK_ALLOC(f);
    *n_forced = 0;
    for (int l = 0; l + 1 < p->n_layers; l++) {
        f[l] = (g->nodes[p->layer[l].last]->flags & IR_F_CUT) != 0;
        *n_forced += f[l];
    }
    return f;
}

/* Chunked: best[k][j] = the least possible maximum block cost when layers
 * 0..j form k+1 blocks; the last block [i..j] must not span a forced end. */
static void chunk_dp(const PassPlan *p, const bool *forced, int K, IrBalance bal)
{
    int L = p->n_layers;
    double *best = malloc((size_t)(K * L) * sizeof *best);
    int *from = malloc((size_t)(K * L) * sizeof *from);
    IR_CHECK_ALLOC(best && from);
    for (int k = 0; k < K; k++) {
        for (int j = 0; j < L; j++) {
            double b = DBL_MAX;
            int arg = -1;
            for (int i = j; i >= k; i--) {
                if (i < j && forced[i])
                    break;      /* [i..j] would span a forced end */
                double prev = k == 0 ? (i == 0 ? 0 : DBL_MAX) : best[(k - 1) * L + i - 1];
                if (prev == DBL_MAX)
                    continue;
                double c = pass_plan_block_value(p, bal, i, j);
                double m = prev > c ? prev : c;
                if (m < b || (m == b && i < arg)) {
                    b = m;
                    arg = i;
                }
            }
            best[k * L + j] = b;
            from[k * L + j] = arg;
        }
    }
    for (int k = K - 1, j = L - 1; k >= 0; k--) {
        IR_ASSERT(from[k * L + j] >= 0);
        p->first[k] = from[k * L + j];
        p->last[k] = j;
        j = p->first[k] - 1;
    }
    free(best);
    free(from);
}

/* Where a local { } key was written (key: its location, line 0 when the
 * file does not set it, e.g. a command-line override); else the section,
 * else the loss. */
static IrLoc local_loc(const IrGraph *g, IrLoc key)
{
    if (key.line > 0)
        return key;
    if (g->local.loc.line > 0)
        return g->local.loc;
    return g->loss >= 0 ? g->nodes[g->loss]->loc : IR_LOC_NONE;
}

static bool plan_chunked(const IrGraph *g, PassPlan *p, Diag *d)
{
    int n_forced;
    bool *forced = forced_ends(g, p, &n_forced);
    int K = g->local.blocks > 0 ? g->local.blocks : (n_forced > 0 ? n_forced + 1 : 2);
    bool ok = true;
    IrLoc at = local_loc(g, g->local.blocks > 0 ? g->local.blocks_loc : g->local.method_loc);
    if (K > p->n_layers) {
        diag_error(d, at, "cannot split into %d blocks: the model has %d legal cut "
                   "point%s between its layers, so at most %d block%s", K, p->n_layers - 1,
                   p->n_layers == 2 ? "" : "s", p->n_layers, p->n_layers == 1 ? "" : "s");
        ok = false;
    } else if (n_forced > K - 1) {
        diag_error(d, at, "cannot split into %d block%s: the model declares %d cut%s, "
                   "which make%s %d blocks (inside a repeat, `cut NAME every N` or `unless "
                   "last` cuts fewer)", K, K == 1 ? "" : "s", n_forced, n_forced == 1 ? "" : "s",
                   n_forced == 1 ? "s" : "", n_forced + 1);
        for (int l = 0; l + 1 < p->n_layers; l++)
            if (forced[l]) {
                diag_note(d, g->nodes[p->layer[l].last]->loc, "the first cut is after this");
                break;
            }
        ok = false;
    } else {
        alloc_blocks(p, K);
        chunk_dp(p, forced, K, g->local.balance);
    }
    free(forced);
    return ok;
}

static bool plan_overlap(const IrGraph *g, PassPlan *p, Diag *d)
{
    int w = g->local.overlap, L = p->n_layers;
    if (w < 2) {
        diag_error(d, local_loc(g, g->local.overlap_loc), "overlap window of %d layer%s: a "
                   "window needs at least 2 layers, since it shares one with its neighbour", w,
                   w == 1 ? "" : "s");
        return false;
    }
    int K = L <= w ? 1 : (L - 1 + w - 2) / (w - 1);
    alloc_blocks(p, K);
    for (int k = 0; k < K; k++) {
        p->first[k] = k == 0 ? 0 : p->last[k - 1];
        p->last[k] = p->first[k] + w - 1 < L - 1 ? p->first[k] + w - 1 : L - 1;
    }
    if (g->local.blocks > 0 && g->local.blocks != K)
        diag_warning(d, local_loc(g, g->local.blocks_loc), "overlap with windows of %d layers "
                     "makes %d blocks from %d layers; blocks = %d is ignored", w, K, L,
                     g->local.blocks);
    return true;
}

/* Greedy makes one block per layer: a block count is an error unless it is
 * that, or it is the file's count for the file's method that --method
 * replaced. */
static bool greedy_blocks(const IrGraph *g, const PassPlan *p, Diag *d)
{
    const IrLocalCfg *l = &g->local;
    bool cli = l->blocks_loc.line == 0;
    if (l->blocks <= 0 || l->blocks == p->n_layers || (!cli && l->method_loc.line == 0))
        return true;
    if (cli)
        diag_error(d, local_loc(g, l->blocks_loc), "--blocks does not apply to --method greedy "
                   "(one block per layer: this model has %d layers); drop --blocks, or use "
                   "--method chunked --blocks %d", p->n_layers, l->blocks);
    else
        diag_error(d, l->blocks_loc, "blocks = %d does not apply to method = greedy (one block "
                   "per layer: this model has %d layers); drop it, or use method = chunked",
                   l->blocks, p->n_layers);
    return false;
}

bool pass_plan_blocks(const IrGraph *g, PassPlan *p, Diag *d)
{
    switch (g->local.method) {
    case METHOD_CHUNKED:
        return plan_chunked(g, p, d);
    case METHOD_OVERLAP:
        return plan_overlap(g, p, d);
    case METHOD_GREEDY:
        if (!greedy_blocks(g, p, d))
            return false;
        alloc_blocks(p, p->n_layers);
        for (int k = 0; k < p->n_layers; k++)
            p->first[k] = p->last[k] = k;
        return true;
    default:
        alloc_blocks(p, 1);
        p->first[0] = 0;
        p->last[0] = p->n_layers - 1;
        return true;
    }
}

/* ------------------------------------------------------- the graph */

/* layer_of[i] for every node (sources: the layer their position falls in). */
static int *layer_of_nodes(const IrGraph *g, const PassPlan *p)
{
    int *lay = malloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *lay);
    IR_CHECK_ALLOC(lay);
    for (int l = 0; l < p->n_layers; l++)
        for (int i = p->layer[l].first; i <= p->layer[l].last; i++)
            lay[i] = l;
    return lay;
}

/* Parameters: the latest block that uses them (0 if unused); data: none. */
static void assign_sources(IrGraph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (pass_is_source(g->nodes[i]))
            g->nodes[i]->block = pass_is_data(g->nodes[i]) ? IR_BLOCK_NONE : 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            IrNode *s = g->nodes[n->in[k]];
            if (s->op == IR_OP_PARAM && n->block > s->block)
                s->block = n->block;
        }
    }
}

/* The window that computes layer l first (the earlier one for a shared layer). */
static int window_of(const PassPlan *p, int l)
{
    for (int k = 0; k < p->n_blocks; k++)
        if (l <= p->last[k])
            return k;
    return p->n_blocks - 1;
}

/* Copies the non-source nodes of layer l for window k; later layers read
 * the copies (rebuild_copy redirects the map). A batchnorm's running
 * statistics are the copy's to update: the original (the earlier window's,
 * which its head reads) gets momentum 0, so the two windows, which run at
 * the same time, never both write them. */
static void duplicate_layer(PassRebuild *rb, const PassLayer *ly, int k)
{
    for (int i = ly->first; i <= ly->last; i++) {
        const IrNode *n = rb->old->nodes[i];
        if (n->op == IR_OP_BATCHNORM)
            rb->g->nodes[rb->map[i]]->a.momentum = 0.0f;
        if (!pass_is_source(n))
            rebuild_copy(rb, n)->block = k;
    }
}

void pass_plan_apply(IrGraph *g, const PassPlan *p)
{
    int *lay = layer_of_nodes(g, p);
    PassRebuild rb;
    rebuild_begin(&rb, g);
    for (int i = 0; i < g->n_nodes; i++) {
        IrNode *c = rebuild_copy(&rb, g->nodes[i]);
        c->block = window_of(p, lay[i]);
        for (int k = 1; k < p->n_blocks; k++)
            if (p->first[k] == p->last[k - 1] && i == p->layer[p->first[k]].last)
                duplicate_layer(&rb, &p->layer[p->first[k]], k);
    }
    rb.g->n_blocks = p->n_blocks;
    rebuild_commit(&rb, g);
    assign_sources(g);
    free(lay);
}

/* last-layer: the one block's layers before the last get no gradient — a
 * stop_gradient on every edge into the last layer, so autodiff gives their
 * parameters none and the optimizer never updates them (they stay at their
 * initialization, or at what a checkpoint holds). Runs on the applied
 * single-block plan, whose node ids are the plan's. */
static void freeze_before_last(IrGraph *g, const PassPlan *p)
{
    int *lay = layer_of_nodes(g, p), last = p->n_layers - 1;
    int *sg = malloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *sg);
    IR_CHECK_ALLOC(sg);
    for (int i = 0; i < g->n_nodes; i++)
        sg[i] = -1;
    PassRebuild rb;
    rebuild_begin(&rb, g);
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        int in[IR_MAX_IN];
        for (int k = 0; k < n->n_in; k++) {
            const IrNode *s = g->nodes[n->in[k]];
            in[k] = rb.map[s->id];
            if (pass_is_source(s) || lay[s->id] == last || lay[i] != last)
                continue;
            if (sg[s->id] < 0)      /* one stop_gradient per frozen value */
                sg[s->id] = rebuild_add(&rb, IR_OP_STOP_GRADIENT, &in[k], 1, NULL, 0,
                                        s->loc)->id;
            in[k] = sg[s->id];
        }
        IrNode *c = rebuild_copy(&rb, n);
        for (int k = 0; k < n->n_in; k++)
            c->in[k] = in[k];
    }
    rebuild_commit(&rb, g);
    free(sg);
    free(lay);
}

static bool already_done(const IrGraph *g, Diag *d)
{
    if (g->n_blocks > 0) {
        diag_error(d, IR_LOC_NONE, "partition: the graph is already partitioned");
        return true;
    }
    if (pass_backward_start(g) < g->n_nodes) {
        diag_error(d, IR_LOC_NONE, "partition must run before autodiff");
        return true;
    }
    return false;
}

/* The plug-in method that partitions g: --method's (ctx->partitioner), else
 * the one `local { method = NAME }` names; false (an error at NAME) when no
 * loaded plug-in has it. */
static bool plugin_method(const IrGraph *g, const PassCtx *ctx, const PassPartitioner **m)
{
    const char *name = g->local.method_name;
    *m = ctx->partitioner;
    if (*m || !name)
        return true;
    if ((*m = pass_partitioner_find(name)))
        return true;
    char loaded[512];
    pass_partitioner_names(loaded, sizeof loaded);
    diag_error(ctx->diag, local_loc(g, g->local.method_loc), "unknown method '%.64s': expected "
               "backprop, greedy, chunked, overlap or a plug-in's method (%s%s)", name,
               loaded[0] ? "loaded: " : "none loaded; load one with --load-pass LIB", loaded);
    return false;
}

bool pass_partition(IrGraph *g, PassCtx *ctx)
{
    if (already_done(g, ctx->diag))
        return false;
    const PassPartitioner *plugin = NULL;
    if (g->local.method != METHOD_BACKPROP && !plugin_method(g, ctx, &plugin))
        return false;
    PassPlan p;
    bool ok = pass_plan_layers(g, &p, ctx->diag);
    if (ok && (plugin || (g->local.method == METHOD_CHUNKED && g->local.blocks != 1)))
        ok = pass_plan_costs(g, &p, ctx) &&
             (plugin || g->local.balance != BALANCE_TIME || pass_plan_times(g, &p, ctx, ctx->diag));
    if (plugin)
        ok = ok && pass_plan_plugin(g, &p, plugin, ctx->diag);
    else
        ok = ok && pass_plan_blocks(g, &p, ctx->diag);
    if (ok && g->local.method == METHOD_LAST_LAYER && p.n_layers < 2) {
        diag_error(ctx->diag, local_loc(g, g->local.method_loc), "last-layer trains the last "
                   "layer only, but the model has one layer");
        ok = false;
    }
    if (ok)
        pass_plan_apply(g, &p);
    if (ok && g->local.method == METHOD_LAST_LAYER)
        freeze_before_last(g, &p);
    pass_plan_fini(&p);
    return ok;
}
