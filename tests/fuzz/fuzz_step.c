/* fuzz_step.c — libFuzzer harness for the path from .lnet text to a trained
 * step: frontend, the training passes of `lnet train` (partition, heads,
 * stop-gradients, autodiff, optimizer), the split into per-block graphs, and
 * one step of each block on the reference interpreter, then one evaluation.
 *
 * Models over a size bound are skipped, so that each input stays fast: more
 * than MAX_NODES forward nodes, MAX_ELEMS values or parameter elements per
 * example, MAX_FLOPS forward FLOPs per example, or more than MAX_BYTES of
 * buffers after the passes. The harness aborts when
 *   - a pass or the split fails without reporting an error;
 *   - a block reads a value of another type than the one it is sent;
 *   - a step leaves a block's loss unwritten (sanitizer reports and
 *     IR_ASSERTs in the passes and the interpreter are findings too).
 * Losses are not required to be finite: a model may well overflow.
 */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "frontend.h"
#include "passes.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_NODES = 256, MAX_BLOCKS = 64, BATCH = 2 };
#define MAX_ELEMS 1e5
#define MAX_FLOPS 2e6
#define MAX_BYTES (16 << 20)
#define TRAIN_PIPELINE PASS_LOCAL_PIPELINE ",autodiff,optimizer" /* as `lnet train` */

static const uint32_t unwritten = 0x7fc0dead; /* a NaN no kernel produces */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    openblas_set_num_threads(1);
    return 0;
}

/* Whether the forward graph is small enough to train per input. */
static bool small(const IrGraph *g)
{
    if (g->n_nodes > MAX_NODES)
        return false;
    double elems = 0, params = 0, flops = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        elems += (double)ir_type_numel(&n->type);
        params += (double)ir_param_numel(n);
        flops += ir_node_cost(g, n).flops;
    }
    return elems <= MAX_ELEMS && params <= MAX_ELEMS && flops <= MAX_FLOPS;
}

static IrNode *build_head(void *fe, IrGraph *g, int input, int block, Diag *d)
{
    return fe_model_head(fe, g, input, block, d);
}

static size_t value_bytes(const IrGraph *g, int id)
{
    const IrType *t = &g->nodes[id]->type;
    return (size_t)ir_type_numel(t) * (ir_type_batched(t) ? BATCH : 1) * 4;
}

/* Deterministic data for a data node: floats in [-1, 1), i32 tokens in
 * [0, 256), labels in [0, classes). */
static void fill_data(RtExec *e, const IrGraph *g, int id, uint32_t seed)
{
    const IrNode *nd = g->nodes[id];
    size_t n = value_bytes(g, id) / 4;
    uint32_t mod = nd->op == IR_OP_LABEL ? (uint32_t)nd->a.classes : 256;
    void *buf = rt_exec_buffer(e, id);
    for (size_t k = 0; k < n; k++) {
        seed = seed * 1664525u + 1013904223u;
        if (nd->type.dtype == IR_I32)
            ((int32_t *)buf)[k] = (int32_t)((seed >> 8) % (mod ? mod : 1));
        else
            ((float *)buf)[k] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

/* The blocks to run: the split graphs, or the whole graph as one block. */
typedef struct Run {
    int n;
    const IrGraph *g[MAX_BLOCKS];
    const PassBlock *b[MAX_BLOCKS];     /* NULL for the whole graph */
    RtExec *ex[MAX_BLOCKS];
} Run;

/* Feeds block k: data from the generator, links from the other blocks. */
static void feed(Run *r, int k, uint32_t step)
{
    const IrGraph *g = r->g[k];
    const PassBlock *b = r->b[k];
    for (int i = 0; !b && i < g->n_nodes; i++)
        if (g->nodes[i]->op == IR_OP_INPUT || g->nodes[i]->op == IR_OP_LABEL)
            fill_data(r->ex[k], g, i, 977u * (uint32_t)i + step);
    for (int i = 0; b && i < b->n_inputs; i++) {
        const PassBlockInput *in = &b->inputs[i];
        if (in->kind == PASS_IO_DATA) {
            fill_data(r->ex[k], g, in->node, 977u * (uint32_t)in->orig + step);
            continue;
        }
        const IrGraph *src = r->g[in->src_block];
        if (!ir_type_equal(&g->nodes[in->node]->type, &src->nodes[in->src_node]->type))
            abort();
        memcpy(rt_exec_buffer(r->ex[k], in->node), rt_exec_buffer(r->ex[in->src_block],
                                                                  in->src_node),
               value_bytes(g, in->node));
    }
}

/* One training step of every block in order, then one evaluation of each. */
static void run_blocks(Run *r, const IrGraph *whole)
{
    RtStepArgs a = {.n = BATCH, .lr = whole->train.lr, .step = 1, .seed = whole->train.seed,
                    .train = true};
    for (int phase = 0; phase < 2; phase++) {
        for (int k = 0; k < r->n; k++) {
            const IrGraph *g = r->g[k];
            feed(r, k, (uint32_t)phase);
            float *loss = g->loss >= 0 ? rt_exec_buffer(r->ex[k], g->loss) : NULL;
            if (loss)
                memcpy(loss, &unwritten, 4);
            if (phase == 0)
                rt_exec_step(r->ex[k], &a);
            else
                rt_exec_forward(r->ex[k], &(RtStepArgs){.n = BATCH, .seed = a.seed});
            if (loss && memcmp(loss, &unwritten, 4) == 0)
                abort();
        }
    }
}

static void train_one_step(IrGraph *g, Diag *d)
{
    PassBlocks bs = {0};
    Run r = {0};
    if (g->n_blocks > 1) {
        bool ok = g->n_blocks <= MAX_BLOCKS && pass_split(g, &bs, d);
        if (!ok && g->n_blocks <= MAX_BLOCKS && d->n_errors == 0)
            abort();
        if (!ok)
            return;
        for (int k = 0; k < bs.n; k++)
            r.g[r.n] = bs.b[k].g, r.b[r.n++] = &bs.b[k];
    } else {
        r.g[r.n++] = g;
    }
    int64_t bytes = 0;
    for (int k = 0; k < r.n; k++)
        for (int i = 0; i < r.g[k]->n_nodes; i++)
            bytes += (int64_t)value_bytes(r.g[k], i);
    char err[256];
    for (int k = 0; bytes <= MAX_BYTES && k < r.n; k++) {
        r.ex[k] = rt_exec_interp_new(r.g[k], BATCH, err, sizeof err);
        if (!r.ex[k])
            abort();
        rt_exec_init_params(r.ex[k], g->train.seed);
    }
    if (bytes <= MAX_BYTES)
        run_blocks(&r, g);
    for (int k = 0; k < r.n; k++)
        rt_exec_free(r.ex[k]);
    pass_blocks_fini(&bs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Diag d;
    diag_init(&d);
    IrGraph *g = NULL;
    FeModel *m = fe_model_new("fuzz.lnet", (const char *)data, size, &d, &g);
    if (m && small(g)) {
        PassCtx ctx;
        pass_ctx_init(&ctx, &d);
        ctx.build_head = build_head;
        ctx.head_ctx = m;
        if (pass_run_pipeline(g, TRAIN_PIPELINE, &ctx))
            train_one_step(g, &d);
        else if (d.n_errors == 0)
            abort();                    /* a failing pass reports why */
    }
    ir_graph_free(g);
    fe_model_free(m);
    diag_fini(&d);
    return 0;
}
