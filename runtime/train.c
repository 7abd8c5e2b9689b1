/* train.c — the training loop behind `lnet train` (see train.h).
 *
 * A model is K blocks, each its own step graph and executor. One step of the
 * sequential (lockstep) schedule: fill the batch into block 0's input and
 * every block's label buffer, then for k = 0..K-1 run block k's step
 * (forward, head loss, backward, update) and copy its output into block k+1's
 * input. The local schedule (pipeline.c) runs the same block steps on one
 * thread per block; because every queue is FIFO and each block's arithmetic
 * depends only on its own state and inputs, both give identical numbers.
 * Every epoch ends with an evaluation of every head on the test / validation
 * split and, with --save, a checkpoint.
 */
#include "rt_impl.h"
#include "trainer.h"
#include "kernels.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

int64_t rt_peak_rss_bytes(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_maxrss * 1024;
}

static int64_t elems(const IrGraph *g, int id)
{
    return id < 0 ? 0 : ir_type_numel(&g->nodes[id]->type);
}

/* Heads: the last block's task loss first, then every auxiliary loss. */
static void collect_heads(Trainer *t)
{
    const Block *last = &t->st[t->K - 1];
    t->heads[t->n_heads++] = (Head){t->K - 1, last->spec.g->loss};
    for (int k = 0; k < t->K; k++) {
        const IrGraph *g = t->st[k].spec.g;
        for (int i = 0; i < g->n_nodes && t->n_heads < RT_MAX_HEADS; i++) {
            bool is_loss = (g->nodes[i]->flags & IR_F_LOSS) || i == g->loss;
            if (is_loss && !(k == t->K - 1 && i == g->loss))
                t->heads[t->n_heads++] = (Head){k, i};
        }
    }
}

/* One buffer per value (views are their source's bytes), as the
 * interpreter and an unplanned executor allocate them. */
int64_t rt_graph_act_bytes(const IrGraph *g, int batch)
{
    int64_t bytes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (n->op != IR_OP_PARAM && n->op != IR_OP_STATE)
            bytes += ir_value_bytes(g, i, batch);
    }
    return bytes;
}

float rt_lr_at(const Trainer *t, int64_t step)
{
    const IrTrainCfg *c = &t->g->train;
    static const RkLrSchedule map[LR_COUNT] = {RK_LR_CONSTANT, RK_LR_WARMUP, RK_LR_COSINE};
    return rk_lr_at(map[c->lr_schedule], c->lr, step, c->warmup, t->total_steps);
}

bool rt_check_loss(const Trainer *t, int h, int k, int64_t step, float l, char *err,
                   size_t errcap)
{
    if (isfinite(l))
        return true;
    snprintf(err, errcap, "loss '%s' (block %d) is %s at step %lld; stopping — the "
             "last checkpoint, if any, is kept", rt_head_name(t, h), k + 1,
             isnan(l) ? "NaN" : "infinite", (long long)step + 1);
    return false;
}

bool rt_block_step(Trainer *t, int k, int64_t step, float *losses, char *err, size_t errcap)
{
    Block *s = &t->st[k];
    RtStepArgs a = {.n = t->feed.batch, .lr = rt_lr_at(t, step), .step = step + 1,
                    .seed = t->c.seed, .train = true};
    rt_exec_step(s->ex, &a);
    for (int h = 0; h < t->n_heads; h++) {
        if (t->heads[h].stage != k)
            continue;
        losses[h] = rt_exec_scalar(s->ex, t->heads[h].node);
        if (!rt_check_loss(t, h, k, step, losses[h], err, errcap))
            return false;
    }
    return true;
}

/* Bytes of node id's value in g for n examples. */
static size_t value_bytes(const IrGraph *g, int id, int n)
{
    const IrType *ty = &g->nodes[id]->type;
    return (size_t)(ir_type_numel(ty) * (ir_type_batched(ty) ? n : 1)) * 4;
}

/* Copies every value block k reads from other blocks into its buffers. */
static void pull_links(Trainer *t, int k, int n)
{
    const Block *s = &t->st[k];
    for (int i = 0; i < s->spec.n_links; i++) {
        const RtLink *l = &s->spec.links[i];
        memcpy(rt_exec_buffer(s->ex, l->node), rt_exec_buffer(t->st[l->src_stage].ex, l->src_node),
               value_bytes(s->spec.g, l->node, n));
    }
}

/* The batch's labels into every block that reads labels (from block 0's). */
static void spread_labels(Trainer *t, const int32_t *y, int n)
{
    for (int k = 0; k < t->K; k++) {
        const Block *s = &t->st[k];
        void *dst = s->spec.in_y >= 0 ? rt_exec_buffer(s->ex, s->spec.in_y) : NULL;
        if (dst && dst != y)
            memcpy(dst, y, (size_t)(n * s->y_elems) * 4);
    }
}

/* The label buffer the feed fills: the first block that has one. */
static int32_t *label_buffer(Trainer *t)
{
    for (int k = 0; k < t->K; k++)
        if (t->st[k].spec.in_y >= 0)
            return rt_exec_buffer(t->st[k].ex, t->st[k].spec.in_y);
    return NULL;
}

/* Mean loss and accuracy of every head over the evaluation split. */
static void evaluate(Trainer *t)
{
    RtFeed *f = &t->feed;
    double sum[RT_MAX_HEADS] = {0};
    int64_t correct[RT_MAX_HEADS] = {0}, seen = 0;
    int32_t *y = label_buffer(t);
    for (int64_t b = 0, nb = rt_feed_eval_batches(f); b < nb; b++) {
        int64_t n = rt_feed_eval_batch(f, b, rt_exec_buffer(t->st[0].ex, t->st[0].spec.in_x), y);
        if (n <= 0)
            break;
        spread_labels(t, y, (int)n);
        RtStepArgs a = {.n = (int)n, .step = t->c.step + 1, .seed = t->c.seed, .train = false};
        for (int k = 0; k < t->K; k++) {
            pull_links(t, k, (int)n);
            rt_exec_forward(t->st[k].ex, &a);
        }
        for (int h = 0; h < t->n_heads; h++) {
            RtExec *ex = t->st[t->heads[h].stage].ex;
            sum[h] += (double)rt_exec_scalar(ex, t->heads[h].node) * (double)n;
            correct[h] += rt_exec_correct(ex, t->heads[h].node);
        }
        seen += n;
    }
    int64_t rows = seen * (f->text ? f->context : 1);
    for (int h = 0; h < t->n_heads; h++) {
        t->eval[h].loss = seen ? sum[h] / (double)seen : NAN;
        t->eval[h].accuracy = rows ? (double)correct[h] / (double)rows : 0;
        t->eval[h].examples = seen;
    }
}

/* The batch in the blocks' buffers through every block, by the schedule. */
static bool run_blocks(Trainer *t, char *err, size_t errcap)
{
    switch (t->o->baseline) {
    case RT_BASELINE_DATA_PARALLEL:
        return rt_dp_step(t, t->c.step, t->loss, err, errcap);
    case RT_BASELINE_PIPELINE:
        return rt_gpipe_step(t, t->c.step, t->loss, err, errcap);
    default:
        for (int k = 0; k < t->K; k++) {
            pull_links(t, k, t->feed.batch);
            if (!rt_block_step(t, k, t->c.step, t->loss, err, errcap))
                return false;
        }
        return true;
    }
}

/* One lockstep step of every block on the next batch. */
static bool step(Trainer *t, char *err, size_t errcap)
{
    RtFeed *f = &t->feed;
    int32_t *y = label_buffer(t);
    rt_feed_train_batch(f, t->c.epoch, t->c.step_in_epoch,
                        rt_exec_buffer(t->st[0].ex, t->st[0].spec.in_x), y);
    spread_labels(t, y, f->batch);
    t->lr = rt_lr_at(t, t->c.step);
    double t0 = rt_now_s();
    if (!run_blocks(t, err, errcap))
        return false;
    t->train_s += rt_now_s() - t0;
    t->c.step++;
    t->c.step_in_epoch++;
    t->steps_run++;
    return true;
}

static bool save(Trainer *t, char *err, size_t errcap)
{
    if (!t->o->save_path)
        return true;
    if (!rt_checkpoint_save(t->o->save_path, t->ex, t->K, &t->c, err, errcap))
        return false;
    t->saved = true;
    return true;
}

bool rt_stopping(const Trainer *t) { return t->o->stop && *t->o->stop; }

static bool done(const Trainer *t)
{
    return (t->o->max_steps > 0 && t->c.step >= t->o->max_steps) || rt_stopping(t) ||
           t->reached;
}

/* Evaluates, logs, and notes whether the target accuracy is reached; false
 * (with err) when the log cannot be written. */
static bool evaluate_and_log(Trainer *t, char *err, size_t errcap)
{
    evaluate(t);
    if (t->o->target_accuracy > 0 && t->eval[0].accuracy >= t->o->target_accuracy &&
        !t->reached) {
        t->reached = true;
        t->reached_s = rt_train_elapsed(t);
        t->reached_step = t->c.step;
    }
    return rt_log_eval(t, err, errcap);
}

static bool train_sequential(Trainer *t, char *err, size_t errcap)
{
    while (t->c.step_in_epoch < t->steps_per_epoch && !done(t)) {
        if (!step(t, err, errcap) || !rt_log_step(t, err, errcap))
            return false;
        rt_progress(t, false);
        if (t->o->eval_every > 0 && t->c.step % t->o->eval_every == 0 &&
            !evaluate_and_log(t, err, errcap))
            return false;
    }
    return true;
}

/* The local schedule runs the epoch in segments that end at --eval-every
 * points (the pipeline drains, every head is evaluated, training goes on). */
static bool train_local(Trainer *t, char *err, size_t errcap)
{
    while (t->c.step_in_epoch < t->steps_per_epoch && !done(t)) {
        int64_t end = t->steps_per_epoch;
        if (t->o->max_steps > 0 && t->o->max_steps - t->c.step < end - t->c.step_in_epoch)
            end = t->c.step_in_epoch + (t->o->max_steps - t->c.step);
        int64_t every = t->o->eval_every;
        if (every > 0 && every - t->c.step % every < end - t->c.step_in_epoch)
            end = t->c.step_in_epoch + (every - t->c.step % every);
        if (!rt_pipeline_epoch(t, end)) {
            snprintf(err, errcap, "%s", t->err);
            return false;
        }
        if (every > 0 && t->c.step % every == 0 && !evaluate_and_log(t, err, errcap))
            return false;
    }
    return true;
}

/* The local schedule's threads run the blocks (else: steps from this thread). */
static bool uses_local(const Trainer *t)
{
    return t->o->local && t->K > 1 && t->o->baseline == RT_BASELINE_NONE;
}

static bool run_epoch(Trainer *t, char *err, size_t errcap)
{
    bool ok = uses_local(t) ? train_local(t, err, errcap) : train_sequential(t, err, errcap);
    if (!ok)
        return false;
    if (t->c.step_in_epoch >= t->steps_per_epoch) {
        t->c.epoch++;
        t->c.step_in_epoch = 0;
    }
    bool logged = evaluate_and_log(t, err, errcap);
    t->evaluated = true;
    rt_progress(t, true);
    /* the epoch's checkpoint even when the log failed (its error is reported) */
    char serr[512];
    bool saved = save(t, logged ? err : serr, logged ? errcap : sizeof serr);
    return logged && saved;
}

/* Block k's executor e gets its memory plan: what the trainer touches
 * between steps keeps its own buffer — data and label inputs, the values
 * other blocks read from it and the ones it receives (links), the heads'
 * losses; the graph marks the rest (parameter gradients for the baselines,
 * ...). LNET_NO_MEMPLAN in the environment: no plan (one buffer per value). */
static void plan_exec(const Trainer *t, int k, RtExec *e)
{
    const char *off = getenv("LNET_NO_MEMPLAN");
    if (!e->ops->plan || (off && *off && strcmp(off, "0") != 0))
        return;
    const IrGraph *g = t->st[k].spec.g;
    unsigned char *keep = calloc((size_t)g->n_nodes + 1, 1);
    if (!keep)
        return;     /* the plan only saves memory: without it the executor still works */
    const RtBlockSpec *sp = &t->st[k].spec;
    if (sp->in_x >= 0)
        keep[sp->in_x] = 1;
    if (sp->in_y >= 0)
        keep[sp->in_y] = 1;
    for (int j = 0; j < t->K; j++)
        for (int i = 0; i < t->st[j].spec.n_links; i++) {
            const RtLink *l = &t->st[j].spec.links[i];
            if (l->src_stage == k && l->src_node >= 0 && l->src_node < g->n_nodes)
                keep[l->src_node] = 1;
            if (j == k)
                keep[l->node] = 1;
        }
    for (int h = 0; h < t->n_heads; h++)
        if (t->heads[h].stage == k)
            keep[t->heads[h].node] = 1;
    rt_exec_plan(e, keep);
    free(keep);
}

RtExec *rt_make_exec(const Trainer *t, const IrGraph *g, int max_batch, char *err,
                     size_t errcap)
{
    RtExec *e = t->o->make_exec ? t->o->make_exec(g, max_batch, t->o->exec_ctx, err, errcap)
                                : rt_exec_interp_new(g, max_batch, err, errcap);
    /* A replica of block k (data-parallel, pipeline micro-batches), made once
     * every block has its executor: planned now. Blocks' own executors are
     * planned by setup, when every block's links are known. */
    for (int k = 0; e && k < t->K; k++)
        if (t->st[k].spec.g == g && t->st[k].ex) {
            plan_exec(t, k, e);
            break;
        }
    return e;
}

static bool make_stage(Trainer *t, int k, const RtBlockSpec *spec, char *err, size_t errcap)
{
    Block *s = &t->st[k];
    s->spec = *spec;
    s->x_elems = elems(spec->g, spec->in_x);
    s->y_elems = elems(spec->g, spec->in_y);
    s->link_bytes = calloc((size_t)spec->n_links + 1, sizeof *s->link_bytes);
    if (!s->link_bytes) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    s->payload = k == 0 ? (size_t)(t->feed.batch * s->x_elems) * 4 : 0;
    for (int i = 0; i < spec->n_links; i++) {
        const RtLink *l = &spec->links[i];
        if (l->src_stage < 0 || l->src_stage >= t->K || l->node < 0 || l->src_node < 0) {
            snprintf(err, errcap, "block %d reads from a block that does not exist", k + 1);
            return false;
        }
        s->link_bytes[i] = value_bytes(spec->g, l->node, t->feed.batch);
        s->payload += s->link_bytes[i];
    }
    s->ex = rt_make_exec(t, spec->g, t->feed.batch, err, errcap);
    if (!s->ex)
        return false;
    t->ex[k] = s->ex;
    rt_exec_init_params(s->ex, t->g->train.seed);
    return true;
}

/* OpenBLAS gives every thread that runs a matrix product a buffer of
 * RT_BLAS_BUFFER_BYTES and retries a failed allocation of it forever: under
 * an address-space limit (ulimit -v) a worker would spin in its first step
 * and the run would never end. So the schedule starts only when the address
 * space is there for one buffer per thread that runs products, plus
 * THREAD_BYTES per thread the schedule starts (its stack) and some slack —
 * a safe side to err on: a run near the limit is refused, not hung. */
enum { THREAD_BYTES = 16 << 20, SLACK_BYTES = 32 << 20 };

static bool blas_room(const Trainer *t, char *err, size_t errcap)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_AS, &r) != 0 || r.rlim_cur == RLIM_INFINITY)
        return true;
    bool dp = t->o->baseline == RT_BASELINE_DATA_PARALLEL;
    bool staged = uses_local(t) || t->o->baseline == RT_BASELINE_PIPELINE;
    int n = staged ? t->K : dp ? t->o->replicas : 1;    /* threads running products */
    int threads = uses_local(t) ? t->K + 1 : n > 1 ? n : 0;     /* local: and a loader */
    size_t bytes = (size_t)n * RT_BLAS_BUFFER_BYTES + (size_t)threads * THREAD_BYTES +
                   SLACK_BYTES;
    void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
        munmap(p, bytes);
        return true;
    }
    snprintf(err, errcap, "out of address space: the limit (ulimit -v) of %llu MiB leaves less "
             "than the %zu MiB that OpenBLAS's buffers (%d MiB for each of %d thread%s) and "
             "the threads need; raise the limit, or train with fewer blocks or threads",
             (unsigned long long)(r.rlim_cur >> 20), bytes >> 20,
             (int)(RT_BLAS_BUFFER_BYTES >> 20), n, n == 1 ? "" : "s");
    return false;
}

/* Builds everything a run needs. A stop signal while it compiles returns
 * early (true: nothing failed; the run then does nothing). */
static bool setup(Trainer *t, const RtBlockSpec *specs, char *err, size_t errcap)
{
    if (t->K < 1 || t->K > RT_MAX_BLOCKS) {
        snprintf(err, errcap, "%d blocks: lnet supports 1 to %d", t->K, RT_MAX_BLOCKS);
        return false;
    }
    if (t->o->blas_threads > 0)
        openblas_set_num_threads(t->o->blas_threads);
    if (!rt_feed_open(&t->feed, t->g, t->o, err, errcap))
        return false;
    for (int k = 0; k < t->K; k++) {
        if (rt_stopping(t))
            return true;
        if (!make_stage(t, k, &specs[k], err, errcap))
            return false;
    }
    collect_heads(t);
    for (int k = 0; k < t->K; k++)
        plan_exec(t, k, t->st[k].ex);
    t->c = (RtCounters){0, 0, 0, t->g->train.seed};
    if (t->o->resume_path &&
        !rt_checkpoint_load(t->o->resume_path, t->ex, t->K, &t->c, err, errcap))
        return false;
    t->steps_per_epoch = rt_feed_steps_per_epoch(&t->feed);
    t->total_steps = t->steps_per_epoch * t->g->train.epochs;
    if (t->o->max_steps > 0 && t->o->max_steps < t->total_steps)
        t->total_steps = t->o->max_steps;
    if (uses_local(t) && !rt_pipeline_init(t, err, errcap))
        return false;
    if (t->o->baseline == RT_BASELINE_DATA_PARALLEL && !rt_dp_init(t, err, errcap))
        return false;
    if (t->o->baseline == RT_BASELINE_PIPELINE && !rt_gpipe_init(t, err, errcap))
        return false;
    return blas_room(t, err, errcap) && rt_log_open(t, err, errcap);
}

static void teardown(Trainer *t)
{
    char err[8];
    rt_log_close(t, err, sizeof err);   /* closed already, unless the run failed */
    if (uses_local(t))
        rt_pipeline_fini(t);
    rt_dp_fini(t);
    rt_gpipe_fini(t);
    for (int k = 0; k < t->K; k++) {
        rt_exec_free(t->st[k].ex);
        free(t->st[k].link_bytes);
    }
    rt_feed_close(&t->feed);
}

static void fill_result(Trainer *t, RtTrainResult *res)
{
    res->steps = t->c.step;
    res->epochs_done = (int)t->c.epoch;
    res->wall_s = t->train_s;
    res->samples_per_s = t->train_s > 0 ? (double)t->steps_run * t->feed.batch / t->train_s : 0;
    res->last_loss = t->loss[0];
    res->final = t->eval[0];
    res->is_text = t->feed.text;
    for (int k = 0; k < t->K; k++)
        res->compile_ms += t->st[k].ex->compile_ms;
    res->n_heads = t->n_heads < 16 ? t->n_heads : 16;
    for (int h = 0; h < res->n_heads; h++) {
        res->heads[h] = t->eval[h];
        snprintf(res->head_names[h], sizeof res->head_names[h], "%s", rt_head_name(t, h));
    }
    for (int k = 0; k < t->K && k < 64; k++)
        res->act_bytes[k] = t->st[k].ex->act_bytes > 0
                                ? t->st[k].ex->act_bytes
                                : rt_graph_act_bytes(t->st[k].spec.g, t->feed.batch);
    res->n_blocks = t->K;
    res->reached = t->reached;
    res->reached_s = t->reached_s;
    res->reached_step = t->reached_step;
    res->n_workers = uses_local(t) ? t->K : t->n_workers;
    for (int k = 0; k < res->n_workers && k < 64; k++)
        res->workers[k] = t->ws[k];
}

bool rt_train_blocks(const IrGraph *model, const RtBlockSpec *st, int K, const RtTrainOpts *o,
                     RtTrainResult *res, char *err, size_t errcap)
{
    Trainer *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    t->g = model;
    t->o = o;
    t->K = K;
    memset(res, 0, sizeof *res);
    bool ok = setup(t, st, err, errcap);
    t->start_s = rt_now_s();
    while (ok && !o->eval_only && t->c.epoch < model->train.epochs && !done(t))
        ok = run_epoch(t, err, errcap);
    /* stopped before the first step (while compiling): nothing to report */
    bool idle = rt_stopping(t) && t->steps_run == 0 && !o->eval_only;
    if (ok && !idle && !t->evaluated)
        evaluate(t);    /* nothing left to train: still report the numbers */
    char lerr[512];
    if (!rt_log_close(t, lerr, sizeof lerr) && ok) {
        snprintf(err, errcap, "%s", lerr);
        ok = false;
    }
    if (ok && !idle) {
        fill_result(t, res);
        ok = rt_report_write(t, res, err, errcap);
    }
    res->interrupted = rt_stopping(t);
    res->saved = t->saved;
    res->steps_run = t->steps_run;
    teardown(t);
    free(t);
    return ok;
}

bool rt_train(const IrGraph *g, const RtTrainOpts *o, RtTrainResult *res, char *err,
              size_t errcap)
{
    int in_x = -1, in_y = -1;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        if (g->nodes[i]->op == IR_OP_INPUT)
            in_x = i;
        if (g->nodes[i]->op == IR_OP_LABEL)
            in_y = i;
    }
    RtBlockSpec one = {g, in_x, in_y, 0, NULL};
    return rt_train_blocks(g, &one, 1, o, res, err, errcap);
}
