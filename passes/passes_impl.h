/* passes_impl.h — internals shared by the files of passes/ (not a public header).
 *
 * Rebuilding: passes that insert nodes in the middle of the graph (partition's
 * overlap copies, aux-heads, stop-grad) copy the graph node by node into a new
 * one, in a new order, then swap it in. `PassRebuild` keeps the map from old
 * ids to new ones; copies get their operands remapped through it.
 */
#ifndef LNET_PASSES_IMPL_H
#define LNET_PASSES_IMPL_H

#include "passes.h"

typedef struct PassRebuild {
    const IrGraph *old;     /* borrowed: the graph being copied */
    IrGraph *g;             /* the new graph (owned until commit) */
    int *map;               /* old id -> new id, -1 while not copied */
} PassRebuild;

/* Starts a new graph with old's model name and train/local sections. */
void rebuild_begin(PassRebuild *rb, const IrGraph *old);
/* Copies node n of the old graph (operands through map); sets map[n->id].
 * Returns the new node. */
IrNode *rebuild_copy(PassRebuild *rb, const IrNode *n);
/* Appends a new node whose operands are ids in the new graph, infers its type
 * (a failure is a bug) and gives it block and loc. */
IrNode *rebuild_add(PassRebuild *rb, IrOp op, const int *in, int n_in, const IrAttrs *a,
                    int block, IrLoc loc);
/* Replaces old's contents by the new graph (the loss is remapped); frees the
 * old nodes and arena. `old` must be the graph given to rebuild_begin. */
void rebuild_commit(PassRebuild *rb, IrGraph *old);
/* Drops the new graph. */
void rebuild_abort(PassRebuild *rb);

/* A deep copy of g (caller-owned). */
IrGraph *pass_graph_clone(const IrGraph *g);

/* Appends a node with operands in g, inferring its type; a shape error is a
 * bug (IR_ASSERT). */
IrNode *pass_add_node(IrGraph *g, IrOp op, const int *in, int n_in, const IrAttrs *a,
                      int block, IrLoc loc);

/* The id of the first node emitted by autodiff (its first loss seed), or
 * g->n_nodes when the graph is not differentiated. */
int pass_backward_start(const IrGraph *g);

/* Sources shared by every block: data inputs and labels. */
static inline bool pass_is_data(const IrNode *n)
{
    return n->op == IR_OP_INPUT || n->op == IR_OP_LABEL;
}

/* Values that never cross a cut as activations: sources of any kind. */
static inline bool pass_is_source(const IrNode *n)
{
    return ir_op_info(n->op)->kind == IR_KIND_SOURCE;
}

/* The value an auxiliary head of block b reads: the block's last forward
 * value (partition orders every block so that it ends with its output).
 * Returns -1 when the block has no forward computation. */
int pass_block_output(const IrGraph *g, int block);

/* aux-heads, but a head that cannot be built is skipped and marked in
 * failed[block] instead of being an error (for costing candidate blocks). */
bool pass_aux_heads_tolerant(IrGraph *g, PassCtx *ctx, bool *failed);

/* Writes the plan's blocks into g and sets g->n_blocks (overlap: with the
 * shared layers copied for the later window). */
void pass_plan_apply(IrGraph *g, const PassPlan *p);

/* Chooses the blocks with plug-in method m (p has its layers and, when the
 * model has a loss, their costs); its errors go to d. */
bool pass_plan_plugin(const IrGraph *g, PassPlan *p, const PassPartitioner *m, Diag *d);

#endif
