/* cost_measure.c — the single-thread step time of every block, for the
 * scaling model of `lnet cost --ranks` (cmd_cost.c).
 *
 * The model is compiled for training exactly as `lnet train` compiles it
 * (cli_train_model: the same overrides, pipeline and split), and each block
 * gets what a block of the local schedule gets: a JIT executor
 * (cg_exec_factory) for the model's batch, the memory plan that keeps the
 * values other blocks read, parameters initialised from the model's seed.
 * Instead of a data set, every input of the block holds deterministic values:
 * data and the activations other blocks would send in [-0.5, 0.5), token ids
 * below the smallest embedding table that reads them, labels below their
 * number of classes. Then the block's whole step (forward, heads, backward,
 * update) runs `warmup` times untimed and `steps` times timed on the calling
 * thread, with OpenBLAS single-threaded and no thread team; the block's time
 * is the median of the timed steps.
 */
#include "cli.h"
#include "blas.h"
#include "codegen.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A deterministic hash of (node, element) in [0, 1). */
static double unit(int node, int64_t i)
{
    uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ull ^ (uint64_t)(node + 1) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 29;
    return (double)(h >> 11) * 0x1p-53;
}

/* The exclusive upper bound of the i32 values node id may hold: a label's
 * classes, else the rows of the smallest embedding table that reads it (1:
 * nothing indexes with it). */
static int64_t i32_range(const IrGraph *g, int id)
{
    const IrNode *n = g->nodes[id];
    if (n->op == IR_OP_LABEL)
        return n->a.classes > 0 ? n->a.classes : 1;
    int64_t range = 0;
    for (int i = id + 1; i < g->n_nodes; i++) {
        const IrNode *u = g->nodes[i];
        if (u->op == IR_OP_EMBEDDING && u->in[0] == id) {
            int64_t rows = g->nodes[u->in[1]]->type.dim[0];
            range = range == 0 || rows < range ? rows : range;
        }
    }
    return range > 0 ? range : 1;
}

/* Fills every input and label of g in e's buffers for a batch of n. */
static void fill_inputs(RtExec *e, const IrGraph *g, int n)
{
    for (int id = 0; id < g->n_nodes; id++) {
        const IrNode *node = g->nodes[id];
        if (node->op != IR_OP_INPUT && node->op != IR_OP_LABEL)
            continue;
        int64_t count = ir_type_numel(&node->type) * (ir_type_batched(&node->type) ? n : 1);
        void *buf = rt_exec_buffer(e, id);
        if (node->type.dtype == IR_I32) {
            int64_t range = i32_range(g, id);
            for (int64_t i = 0; i < count; i++)
                ((int32_t *)buf)[i] = (int32_t)(unit(id, i) * (double)range);
        } else {
            for (int64_t i = 0; i < count; i++)
                ((float *)buf)[i] = (float)(unit(id, i) - 0.5);
        }
    }
}

/* The memory plan of block k, as the trainer makes it: the values other
 * blocks read from k keep their buffers (sources keep theirs anyway). */
static void plan_block(const CliTrainModel *tm, int k, RtExec *e)
{
    const IrGraph *g = tm->blocks[k];
    unsigned char *keep = calloc((size_t)g->n_nodes + 1, 1);
    if (!keep)
        return;     /* the plan only saves memory */
    for (int j = 0; j < tm->bs.n; j++)
        for (int i = 0; i < tm->bs.b[j].n_inputs; i++) {
            const PassBlockInput *in = &tm->bs.b[j].inputs[i];
            if (in->src_block == k && in->src_node >= 0 && in->src_node < g->n_nodes)
                keep[in->src_node] = 1;
        }
    rt_exec_plan(e, keep);
    free(keep);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Block k's median step time; false + err when its executor fails. */
static bool measure_block(const CliTrainModel *tm, int k, int steps, int warmup, double *secs,
                          double *times, char *err, size_t errcap)
{
    const IrGraph *whole = tm->m.g, *g = tm->blocks[k];
    int batch = whole->train.batch;
    RtExec *e = cg_exec_factory(g, batch, NULL, err, errcap);
    if (!e)
        return false;
    plan_block(tm, k, e);
    rt_exec_init_params(e, whole->train.seed);
    fill_inputs(e, g, batch);
    RtStepArgs args = {.n = batch, .lr = whole->train.lr, .seed = whole->train.seed,
                       .train = true};
    for (int s = 0; s < warmup + steps; s++) {
        args.step = s + 1;
        double t0 = now_s();
        rt_exec_step(e, &args);
        if (s >= warmup)
            times[s - warmup] = now_s() - t0;
    }
    qsort(times, (size_t)steps, sizeof *times, cmp_double);
    *secs = steps % 2 ? times[steps / 2] : 0.5 * (times[steps / 2 - 1] + times[steps / 2]);
    rt_exec_free(e);
    return true;
}

bool cli_measure_blocks(const CliTrainModel *tm, int steps, int warmup, double *secs, char *err,
                        size_t errcap)
{
    double *times = malloc((size_t)steps * sizeof *times);
    if (!times) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    rt_team_bind(NULL);
    rt_blas_single_threaded(true);
    bool ok = true;
    for (int k = 0; ok && k < tm->n_blocks; k++)
        ok = measure_block(tm, k, steps, warmup, &secs[k], times, err, errcap);
    rt_blas_single_threaded(false);
    free(times);
    return ok;
}
