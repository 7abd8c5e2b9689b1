/* aux_heads.c — an auxiliary head and the task loss on every block but the last.
 *
 * The head of block k reads the block's output (its last forward value) and
 * ends in the same loss op as the task loss, against the same target (labels),
 * so every block learns the task (docs/method.md §1). Default heads by the kind of
 * the output, with the task logits' last dimension C as width:
 *   features [N,D]        dense D→C
 *   maps     [N,C',H,W]   global_avg_pool, dense C'→C
 *   sequences [N,T,D]     layernorm, dense D→C at every position
 * Head parameters are named `head<k+1>.dense.w` / `.dense.b` / `.ln.g` /
 * `.ln.b`; the dense weight is He-initialized with its fans (the frontend's
 * dense default, so a head starts like the model's own classifier), biases
 * zero, layernorm gain one. The head's loss is named `head<k+1>` (the trainer
 * and its report use that name) and flagged IR_F_LOSS; every head node is
 * flagged IR_F_HEAD and belongs to block k. A head written in the model
 * (`local { head = NAME }`, or block k's own `head<k+1> = NAME`) is built by
 * ctx->build_head instead (the tools
 * set it to the frontend's fe_model_head, which calls the def on the block
 * output); the task loss is then applied to what it returns.
 *
 * Heads are built at the end of the graph, then moved right after the value
 * they read, so the printed IR reads block by block.
 */
#include "passes_impl.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    IrGraph *g;
    int block;
    IrLoc loc;
    char prefix[16];        /* "head1" */
} Head;

static int param(Head *h, const char *part, int rank, const int64_t *dim, IrInit init,
                 int fan_in, int fan_out)
{
    IrAttrs a = {.init = init, .fan_in = fan_in, .fan_out = fan_out};
    IrNode *n = ir_node_add(h->g, IR_OP_PARAM, NULL, 0, &a, h->loc);
    char name[64];
    snprintf(name, sizeof name, "%s.%s", h->prefix, part);
    n->name = ir_arena_strdup(&h->g->arena, name);
    n->type = (IrType){.dtype = IR_F32, .rank = rank};
    for (int i = 0; i < rank; i++)
        n->type.dim[i] = dim[i];
    n->block = h->block;
    return n->id;
}

static int op(Head *h, IrOp o, const int *in, int n_in, const IrAttrs *a)
{
    return pass_add_node(h->g, o, in, n_in, a, h->block, h->loc)->id;
}

static int dense(Head *h, int x, int64_t out)
{
    const IrType *t = &h->g->nodes[x]->type;
    int64_t in = t->dim[t->rank - 1];
    int w = param(h, "dense.w", 2, (int64_t[]){in, out}, IR_INIT_HE, (int)in, (int)out);
    int b = param(h, "dense.b", 1, &out, IR_INIT_ZEROS, 0, 0);
    int mm = op(h, IR_OP_MATMUL, (int[]){x, w}, 2, NULL);
    IrAttrs ba = {.axis = -1};
    return op(h, IR_OP_BIAS_ADD, (int[]){mm, b}, 2, &ba);
}

static int layernorm(Head *h, int x)
{
    const IrType *t = &h->g->nodes[x]->type;
    int64_t d = t->dim[t->rank - 1];
    int gn = param(h, "ln.g", 1, &d, IR_INIT_ONES, 0, 0);
    int bn = param(h, "ln.b", 1, &d, IR_INIT_ZEROS, 0, 0);
    IrAttrs a = {.eps = 1e-5f};
    return op(h, IR_OP_LAYERNORM, (int[]){x, gn, bn}, 3, &a);
}

/* The default head on x; -1 (with an error) when x's kind has none. */
static int default_head(Head *h, int x, const IrType *logits, Diag *d)
{
    const IrType *t = &h->g->nodes[x]->type;
    int64_t C = logits->dim[logits->rank - 1];
    bool batched = ir_type_batched(t) && t->dtype == IR_F32;
    if (batched && t->rank == 2 && logits->rank == 2)
        return dense(h, x, C);
    if (batched && t->rank == 4 && logits->rank == 2)
        return dense(h, op(h, IR_OP_GLOBAL_AVG_POOL, &x, 1, NULL), C);
    if (batched && t->rank == 3 && logits->rank == 3 && logits->dim[1] == t->dim[1])
        return dense(h, layernorm(h, x), C);
    char ts[96], ls[96];
    ir_type_str(t, ts, sizeof ts);
    ir_type_str(logits, ls, sizeof ls);
    diag_error(d, h->g->nodes[x]->loc, "no default auxiliary head from a block output of type "
               "%s to logits %s; write one and name it in local { head = NAME }", ts, ls);
    ir_diag_chain(h->g, d, h->g->nodes[x]->loc);
    return -1;
}

/* Block k's own head (`headK = NAME`), or NULL. */
static const char *own_head(const IrGraph *g, int k)
{
    return k < IR_MAX_BLOCK_HEADS ? g->local.head_of[k] : NULL;
}

static int custom_head(Head *h, PassCtx *ctx, int x)
{
    if (!ctx->build_head) {
        const IrLocalCfg *l = &h->g->local;
        const char *name = own_head(h->g, h->block) ? own_head(h->g, h->block) : l->head;
        diag_error(ctx->diag, l->head_loc.line > 0 ? l->head_loc : l->loc, "custom head '%s': "
                   "this pipeline has no head builder (PassCtx.build_head); remove "
                   "`head = %s` to use the default heads", name, name);
        return -1;
    }
    int start = h->g->n_nodes;
    IrNode *out = ctx->build_head(ctx->head_ctx, h->g, x, h->block, ctx->diag);
    for (int i = start; i < h->g->n_nodes; i++)
        h->g->nodes[i]->block = h->block;
    return out ? out->id : -1;
}

/* Builds block k's head and loss at the end of g; false on error. */
static bool build(IrGraph *g, PassCtx *ctx, int k, int x)
{
    const IrNode *task = g->nodes[g->loss];
    Head h = {g, k, g->nodes[x]->loc, ""};
    snprintf(h.prefix, sizeof h.prefix, "head%d", k + 1);
    int start = g->n_nodes;
    int logits = g->local.head || own_head(g, k) ? custom_head(&h, ctx, x)
                               : default_head(&h, x, &g->nodes[task->in[0]]->type, ctx->diag);
    if (logits < 0)
        return false;
    int in[2] = {logits, task->in[1]};
    IrNode *loss = ir_node_add(g, task->op, in, 2, &task->a, h.loc);
    loss->block = k;
    if (!ir_shape_infer(g, loss, ctx->diag))
        return false;
    loss->name = ir_arena_strdup(&g->arena, h.prefix);
    loss->flags |= IR_F_LOSS;
    for (int i = start; i < g->n_nodes; i++)
        g->nodes[i]->flags |= IR_F_HEAD;
    return true;
}

/* Moves every head right after the value it reads (head_at[x]: the block
 * whose head reads x, or -1). */
static void reorder(IrGraph *g, int n_body, const int *head_at)
{
    PassRebuild rb;
    rebuild_begin(&rb, g);
    for (int i = 0; i < n_body; i++) {
        rebuild_copy(&rb, g->nodes[i]);
        if (head_at[i] < 0)
            continue;
        for (int j = n_body; j < g->n_nodes; j++)
            if (g->nodes[j]->block == head_at[i])
                rebuild_copy(&rb, g->nodes[j]);
    }
    rebuild_commit(&rb, g);
}

/* Builds every head. With `failed`, a head that cannot be built is skipped
 * (failed[k] set, its diagnostics dropped, its partial nodes removed). */
static bool heads(IrGraph *g, PassCtx *ctx, bool *failed)
{
    if (g->n_blocks <= 1)
        return true;
    if (g->loss < 0 || !ir_op_has(g->nodes[g->loss]->op, IR_P_LOSS)) {
        diag_error(ctx->diag, g->loss >= 0 ? g->nodes[g->loss]->loc : IR_LOC_NONE,
                   "aux-heads: the task loss must be cross_entropy or mse");
        return false;
    }
    for (int k = g->n_blocks - 1; k < IR_MAX_BLOCK_HEADS; k++)
        if (own_head(g, k)) {
            const IrLocalCfg *l = &g->local;
            diag_error(ctx->diag, l->head_of_loc[k].line > 0 ? l->head_of_loc[k] : l->loc,
                       "head%d: the model has %d blocks, and only blocks 1 to %d have an "
                       "auxiliary head (the last block ends in the task loss)", k + 1,
                       g->n_blocks, g->n_blocks - 1);
            return false;
        }
    int n_body = g->n_nodes;
    int *head_at = malloc((size_t)n_body * sizeof *head_at);
    IR_CHECK_ALLOC(head_at);
    for (int i = 0; i < n_body; i++)
        head_at[i] = -1;
    Diag scratch;
    diag_init(&scratch);
    PassCtx quiet = *ctx;
    quiet.diag = &scratch;
    bool ok = true;
    for (int k = 0; k + 1 < g->n_blocks && ok; k++) {
        int x = pass_block_output(g, k), start = g->n_nodes;
        IR_ASSERT(x >= 0);
        head_at[x] = k;
        if (build(g, failed ? &quiet : ctx, k, x))
            continue;
        g->n_nodes = start;     /* drop the partial head (its memory stays in the arena) */
        head_at[x] = -1;
        if (failed)
            failed[k] = true;
        else
            ok = false;
    }
    diag_fini(&scratch);
    if (ok)
        reorder(g, n_body, head_at);
    free(head_at);
    return ok;
}

bool pass_aux_heads(IrGraph *g, PassCtx *ctx) { return heads(g, ctx, NULL); }

bool pass_aux_heads_tolerant(IrGraph *g, PassCtx *ctx, bool *failed)
{
    return heads(g, ctx, failed);
}
