/* passes.h — the one public header of the passes module.
 *
 * A pass is `bool pass_NAME(IrGraph *g, PassCtx *ctx)`: it transforms g in
 * place (a pass that rebuilds the graph swaps in a new arena) and reports
 * user-facing problems to ctx->diag, returning false on error. Passes are
 * registered by name in passes.def and composed into pipelines from a
 * comma-separated string.
 */
#ifndef LNET_PASSES_H
#define LNET_PASSES_H

#include "ir.h"
#include "lnet_pass.h"

typedef struct PassBlocks PassBlocks;
/* A partition method a plug-in registered (lnet_pass.h, plugin.c). */
typedef struct PassPartitioner PassPartitioner;

typedef struct PassCtx {
    Diag *diag;                 /* borrowed: where errors go */
    FILE *dump;                 /* borrowed: --print-after output (stdout) */
    const char *print_after;    /* print the graph after this pass, or NULL */
    bool print_after_all;
    bool verify_each;           /* run the verifier after every pass */
    bool time_passes;           /* report each pass's wall time to `dump` */
    /* A custom auxiliary head (`local { head = NAME }`): instantiates the
     * user's def NAME (g->local.head) on value `input`, appending its nodes
     * to g, and returns the head's output (what the task loss is applied to),
     * or NULL after reporting to d. aux-heads flags the appended nodes and
     * puts them in `block`. NULL callback: custom heads are an error. */
    IrNode *(*build_head)(void *head_ctx, IrGraph *g, int input, int block, Diag *d);
    void *head_ctx;
    /* Where the `split` pass leaves its per-block graphs (caller-owned,
     * pass_blocks_fini); NULL: split only checks that the graph splits. */
    PassBlocks *blocks;
    /* A plug-in's partition method that chooses the blocks instead of
     * g->local.method's (unless that is backprop); NULL: the built-in one. */
    const PassPartitioner *partitioner;
    /* `balance = time`: the measured step time of every layer as its own
     * block (a greedy partition's blocks, in order), borrowed; NULL: none. */
    const double *layer_secs;
    int n_layer_secs;
} PassCtx;

/* Fills ctx with defaults: no printing, no timing, verify_each on. */
void pass_ctx_init(PassCtx *ctx, Diag *diag);

typedef bool (*PassFn)(IrGraph *g, PassCtx *ctx);

typedef struct PassInfo {
    const char *name;
    PassFn fn;
    const char *help;
} PassInfo;

#define PASS(name, fn, help) bool fn(IrGraph *g, PassCtx *ctx);
#include "passes.def"
#undef PASS

/* The registry: all passes in passes.def order. */
const PassInfo *pass_list(int *count);
const PassInfo *pass_find(const char *name);

/* Runs a comma-separated pipeline ("shape,verify"). An unknown name is an
 * error that lists the known ones. Stops at the first failing pass. */
bool pass_run_pipeline(IrGraph *g, const char *pipeline, PassCtx *ctx);

/* The default pipeline `lnet ir` runs: the forward graph, partitioned by
 * the model's `local { }` section, with heads and stop-gradients. */
#define PASS_DEFAULT_PIPELINE "shape,verify,partition,aux-heads,stop-grad,verify"
/* The front of every training pipeline (autodiff,optimizer follow). */
#define PASS_LOCAL_PIPELINE PASS_DEFAULT_PIPELINE

/* ------------------------------------------------------------ partition
 *
 * A legal cut is a value through which all data flows from the part of the
 * forward graph above it to the part below: in topological order, the single
 * non-source value live across its position (parameters, inputs and labels do
 * not count). Consecutive legal cuts delimit segments; segments without a
 * matmul, conv2d, attention or embedding (a lone flatten, the activation after
 * a conv, the loss) are merged into the previous layer (a leading one, or a
 * lone layernorm, into the next), so each *layer* has real compute. User cuts
 * (IR_F_CUT) are always layer boundaries.
 */

typedef struct PassLayer {
    int first, last;        /* node ids of the forward graph; `last` is the output */
    /* per-example FLOPs, measured on differentiated copies of the graph: */
    double fwd;             /* forward */
    double bwd_first;       /* backward when the layer starts a block (no input gradient) */
    double bwd_rest;        /* backward inside a block */
    double head;            /* forward + backward of an auxiliary head on the output
                             * (PASS_NO_HEAD when none can be built there) */
    /* per-example activation bytes of the forward values (what backward keeps): */
    double act;             /* the layer's */
    double head_act;        /* its auxiliary head's */
    double in_act;          /* the stop-gradient copy of its input, when it starts a block */
    double secs;            /* measured step time of the layer as its own block, or 0 */
} PassLayer;

#define PASS_NO_HEAD 1e300

/* The partition plan: layers, then blocks as layer ranges. */
typedef struct PassPlan {
    int n_cuts;
    int *cuts;              /* legal cut values, ascending node ids */
    int n_layers;
    PassLayer *layer;
    bool costed;            /* layer costs filled by pass_plan_costs */
    int n_blocks;
    int *first, *last;      /* layer range of block k; overlap: first[k+1] == last[k] */
} PassPlan;

/* Finds the legal cuts and the layers of a forward graph. A user cut that is
 * not legal is an error at its node. Caller-owned plan: pass_plan_fini. */
bool pass_plan_layers(const IrGraph *g, PassPlan *p, Diag *d);
/* Measures every layer's costs (runs aux-heads, stop-grad and autodiff on
 * copies of g; ctx supplies the head builder and the diagnostics). */
bool pass_plan_costs(const IrGraph *g, PassPlan *p, PassCtx *ctx);
/* Cost of a block made of layers first..last: forward, backward (the first
 * layer computes no input gradient), and the head unless last is the final layer. */
double pass_plan_block_cost(const PassPlan *p, int first, int last);
/* A block's value under an objective (balance.c): FLOPs as above; memory:
 * activation bytes per example, its head's included; time: the FLOP cost
 * with every layer's share scaled by the layer's measured seconds per FLOP.
 * PASS_NO_HEAD when the block ends where no head can be built. */
double pass_plan_block_value(const PassPlan *p, IrBalance b, int first, int last);
/* Gives the plan's layers their measured times (ctx->layer_secs); false with
 * an error at the `balance` key when there are none or not one per layer. */
bool pass_plan_times(const IrGraph *g, PassPlan *p, const PassCtx *ctx, Diag *d);
/* Chooses the blocks for g->local (method, blocks, overlap). Chunked needs
 * costs. Impossible requests are errors at the relevant source line. */
bool pass_plan_blocks(const IrGraph *g, PassPlan *p, Diag *d);
void pass_plan_fini(PassPlan *p);

/* ---------------------------------------------------- plug-in methods
 *
 * Plug-ins (lnet_pass.h) register partition methods by name into one
 * process-wide registry. Loading the library is the caller's (dlopen, then
 * the plug-in's lnet_pass_plugin_init given here).
 */
/* Runs a plug-in's init with the API table; origin (its path) names it in
 * messages. All or nothing: false + err (no method of it stays registered)
 * when init fails or registers a bad or taken name. */
bool pass_plugin_init(LnetPassPluginInitFn init, const char *origin, char *err, size_t errcap);
/* The registered method named `name`, or NULL. */
const PassPartitioner *pass_partitioner_find(const char *name);
const char *pass_partitioner_name(const PassPartitioner *m);
/* The registered methods' names, space-separated ("" when none). */
void pass_partitioner_names(char *buf, size_t cap);

/* ------------------------------------------------------------------ split
 *
 * After autodiff and optimizer, `split` cuts the partitioned graph into one
 * self-contained graph per block: the step function of that block. A block
 * graph's sources are its own parameters and optimizer state, the data
 * (input, labels), and one `input` node per value it receives from another
 * block. Its loss (g->loss) is the block's loss: the auxiliary head's, or the
 * task loss for the last block.
 *
 * What flows between blocks, always from a lower block to a higher one, so a
 * pipeline needs no backward messages:
 *   PASS_IO_ACTIVATION  the detached activation the next block starts from;
 *   PASS_IO_GRAD        overlap: a window's gradient contribution to the
 *                       shared layer's parameters, which the next window (the
 *                       owner) adds to its own before the update;
 *   PASS_IO_PARAM       overlap: the shared layer's parameters, owned and
 *                       updated by the later window, read by the earlier one
 *                       (in lockstep it runs first, so it sees the values
 *                       after step t-1 — exactly the single graph's).
 * To run block b: for each of its inputs, copy the producer block's buffer
 * `src_node` into the buffer of `node`; PASS_IO_DATA inputs take the batch.
 */
typedef enum { PASS_IO_DATA, PASS_IO_ACTIVATION, PASS_IO_GRAD, PASS_IO_PARAM } PassIoKind;

typedef struct PassBlockInput {
    PassIoKind kind;
    int node;               /* the receiving node in this block's graph */
    int src_block;          /* producing block; -1 for data */
    int src_node;           /* its node in the producer's graph; -1 for data */
    int orig;               /* the value's id in the whole graph */
} PassBlockInput;

typedef struct PassBlock {
    IrGraph *g;             /* owned: the block's step (fwd, loss, bwd, updates) */
    int *orig;              /* orig[i]: id in the whole graph of node i of g */
    int n_inputs;
    PassBlockInput *inputs;
    int act_out;            /* node of g sent on as the next block's activation, -1 */
    int loss;               /* == g->loss */
} PassBlock;

struct PassBlocks {
    int n;
    PassBlock *b;
};

/* Splits a partitioned, differentiated graph. Caller-owned: pass_blocks_fini. */
bool pass_split(const IrGraph *g, PassBlocks *out, Diag *d);
void pass_blocks_fini(PassBlocks *bs);

/* ------------------------------------------------------ pipeline stages
 *
 * The GPipe baseline trains a network with plain backprop, cut into K stages
 * that run on K threads: pass_stages cuts a forward graph (after shape; no
 * partition, heads or stop-gradients) at its legal cuts into K stages of
 * balanced forward + backward cost and writes the stages' blocks into g.
 * Each stage graph is differentiated and optimized on its own: its
 * activation input (PASS_IO_ACTIVATION from stage k-1) is flagged
 * IR_F_WANT_GRAD, so its `grad` is d(input), which goes back to stage k-1;
 * stage k < K-1 has a PASS_IO_GRAD input from stage k+1 (flagged
 * IR_F_GRAD_SEED; src_node is stage k+1's d(input)) that seeds the gradient
 * of its output, act_out. Only the last stage has a loss. Errors: more stages
 * than layers, a parameter used by two stages, gradient clipping (it would
 * be per stage). Caller-owned out: pass_blocks_fini. */
bool pass_stages(IrGraph *g, int K, PassBlocks *out, PassCtx *ctx);

/* -------------------------------------------------------------- cost model */

typedef struct PassBlockCost {
    double fwd, bwd, head;  /* per-example FLOPs; head = its forward + backward */
    int64_t params;         /* parameter elements owned by the block */
    double param_bytes;
    double act_bytes;       /* forward values held for the backward, per step */
    double send_bytes;      /* sent to later blocks per step (activation, labels, grads) */
} PassBlockCost;

typedef struct PassCost {
    int n;
    PassBlockCost *b;       /* heap */
    int batch;              /* the batch the per-step numbers use */
    double total;           /* Σ per-example FLOPs of all blocks */
    double max;             /* the most expensive block */
    double speedup;         /* ideal pipeline: total / max */
} PassCost;

/* Costs every block of g as it will run (call after autodiff for backward
 * costs; an unpartitioned graph is one block). Caller-owned: pass_cost_fini. */
void pass_cost(const IrGraph *g, PassCost *c);
void pass_cost_fini(PassCost *c);

/* Local-training invariants of a partitioned graph (run by `verify`). */
bool pass_verify_local(const IrGraph *g, Diag *d);

/* ------------------------------------------------------------ memory plan
 *
 * Where an executor of compiled steps keeps each value (passes/plan_memory.c,
 * the `plan-memory` pass prints it). A value keeps its own buffer when
 * anything outside one entry call reads or writes it: sources (inputs,
 * labels, parameters, optimizer state, IR_F_GRAD_SEED inputs), scalars
 * (losses, cross-entropy counts, clipping norms), the gradients of
 * parameters and of IR_F_WANT_GRAD inputs, the value an IR_F_GRAD_SEED input
 * seeds, and what the caller marks in `keep` (values other blocks read).
 * Every other value lives in one activation slab, at an offset chosen by
 * liveness: values live at the same time never share bytes. Views (reshape,
 * flatten, reshape_like, stop_gradient) are their source's bytes.
 *
 * The compiled entries run nodes in two orders: `_step` in node order, the
 * phase entries (`_forward`, `_backward`, `_update`) phase after phase
 * (ir_graph_phases), each in node order. A value is live from its node to
 * its last reader in each order, both ends included (so no kernel's output
 * overlaps one of its inputs); two values conflict when their intervals
 * meet in either order. The plan is a pure function of (g, max_batch, keep).
 */

/* The node whose buffer id's value is (id itself unless id is a view,
 * IR_P_VIEW: those alias their operand's buffer, no kernel, no storage). */
int pass_mem_source(const IrGraph *g, int id);

typedef struct PassMemPlan {
    int n;                  /* nodes of the graph */
    int max_batch;
    int64_t *bytes;         /* per node: ir_value_bytes */
    int64_t *offset;        /* per node: offset in the slab (a multiple of 64), -1: its own
                             * buffer; views -1 (they are their source's bytes) */
    int *live;              /* per node, 4 ints: first and last position in node order,
                             * then in phase order (values in the slab only) */
    int n_slab;             /* values in the slab */
    int64_t slab;           /* the slab's bytes */
    int64_t slab_values;    /* Σ bytes of the values in the slab (their unplanned total) */
    int64_t own_bytes;      /* Σ bytes of the other values with their own buffer, except
                             * parameters and optimizer state */
    int64_t state_bytes;    /* Σ bytes of parameters and optimizer state */
} PassMemPlan;

/* Plans g's buffers for max_batch examples; keep (NULL: none) marks nodes
 * read or written from outside besides the ones the graph implies.
 * Caller-owned: pass_mem_plan_fini. */
void pass_mem_plan(const IrGraph *g, int max_batch, const unsigned char *keep, PassMemPlan *p);
/* Whether values a and b (in the slab) are live together in either order. */
bool pass_mem_conflict(const PassMemPlan *p, int a, int b);
/* The plan as comment lines (`; ...`): totals, then every slab value. */
void pass_mem_plan_print(const IrGraph *g, const PassMemPlan *p, FILE *out);
void pass_mem_plan_fini(PassMemPlan *p);

#endif
