#define _GNU_SOURCE     /* sched_getaffinity */
/* train.c — the trainer behind `lnet train` (see train.h, trainer.h).
 *
 * A model is K blocks, each its own step graph and executor. The trainer
 * binds them to the data, places them on the core budget (placement.h),
 * picks the schedule (schedules/schedule.h) and runs epochs of it in
 * segments that end at evaluations; every epoch ends with an evaluation of
 * every head and, with --save, a checkpoint. Schedules run the blocks'
 * steps through the small API at the end of trainer.h; the trainer calls
 * them only through their table.
 */
#include "rt_impl.h"
#include "trainer.h"
#include "kernels.h"
#include "profile.h"
#include "schedule.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

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
    return rk_lr_at(map[c->lr_schedule], c->lr, step, c->warmup,
                    t->c.lr_horizon > 0 ? t->c.lr_horizon : t->total_steps);
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

size_t rt_value_bytes(const IrGraph *g, int id, int n)
{
    const IrType *ty = &g->nodes[id]->type;
    return (size_t)(ir_type_numel(ty) * (ir_type_batched(ty) ? n : 1)) * 4;
}

/* Block k's links from blocks >= from into its buffers, the values as they
 * are now (a shared parameter too: evaluation reads the owner's latest). */
static void pull_links(Trainer *t, int k, int from, int n)
{
    const Block *s = &t->st[k];
    for (int i = 0; i < s->spec.n_links; i++) {
        const RtLink *l = &s->spec.links[i];
        if (l->src_block >= from || l->kind == RT_LINK_PARAM)
            memcpy(rt_exec_buffer(s->ex, l->node),
                   rt_exec_buffer(t->st[l->src_block].ex, l->src_node),
                   rt_value_bytes(s->spec.g, l->node, n));
    }
}

/* Block k's links for a training step: values from blocks >= from, shared
 * parameters at the version the delay allows. */
static bool pull_for_step(Trainer *t, int k, int from, int64_t step, char *err,
                          size_t errcap)
{
    const Block *s = &t->st[k];
    for (int i = 0; i < s->spec.n_links; i++) {
        const RtLink *l = &s->spec.links[i];
        if (l->kind == RT_LINK_PARAM) {
            if (!rt_shared_param_read(&t->shared[s->shared[i]].p, step,
                                      rt_exec_buffer(s->ex, l->node))) {
                snprintf(err, errcap, "stopped");
                return false;
            }
        } else if (l->src_block >= from) {
            memcpy(rt_exec_buffer(s->ex, l->node),
                   rt_exec_buffer(t->st[l->src_block].ex, l->src_node), s->link_bytes[i]);
        }
    }
    return true;
}

bool rt_block_step(Trainer *t, int k, int from, int64_t step, float *losses, char *err,
                   size_t errcap)
{
    Block *s = &t->st[k];
    if (!pull_for_step(t, k, from, step, err, errcap))
        return false;
    RtStepArgs a = {.n = t->n_step, .lr = rt_lr_at(t, step), .step = step + 1,
                    .seed = t->c.seed, .train = true};
    if (t->replicas > 1) {
        /* this replica's part of the batch; the update from every part's */
        a.seed = rt_part_seed(a.seed, t->replica);
        rt_exec_forward(s->ex, &a);
        rt_exec_backward(s->ex, &a);
        for (int h = 0; h < t->n_heads; h++)
            if (t->heads[h].block == k)
                losses[h] = rt_exec_scalar(s->ex, t->heads[h].node);
        rt_dist_reduce(t, k, losses);
        rt_exec_update(s->ex, &a);
    } else {
        rt_exec_step(s->ex, &a);
        for (int h = 0; h < t->n_heads; h++)
            if (t->heads[h].block == k)
                losses[h] = rt_exec_scalar(s->ex, t->heads[h].node);
    }
    for (int i = 0; i < t->n_shared; i++) {
        Shared *sh = &t->shared[i];
        if (sh->owner != k)
            continue;
        const void *v = rt_exec_buffer(s->ex, sh->owner_node);
        if (!sh->msg) {
            rt_shared_param_publish(&sh->p, step, v);
            continue;
        }
        /* the reader is on another rank: the version goes there */
        *(int64_t *)sh->msg = step;
        memcpy((char *)sh->msg + 64, v, sh->p.bytes);
        t->comm->ops->send(t->comm, rt_dist_peer(t, sh->reader), RT_TAG_PARAM + i, sh->msg,
                           64 + sh->p.bytes);
    }
    for (int h = 0; h < t->n_heads; h++) {
        if (t->heads[h].block != k)
            continue;
        if (!rt_check_loss(t, h, k, step, losses[h], err, errcap))
            return false;
    }
    return !t->watch || rt_block_watch(t, k, step, a.lr, losses, err, errcap);
}

void rt_trainer_abort(Trainer *t)
{
    for (int i = 0; i < t->n_shared; i++)
        rt_shared_param_close(&t->shared[i].p);
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

/* lnet predict: the logits of the chosen head (the input of its loss). */
static void predict_batch(Trainer *t, int n)
{
    RtPredict *p = t->o->predict;
    for (int h = 0; h < t->n_heads; h++) {
        if (p->head ? strcmp(p->head, rt_head_name(t, h)) != 0 : h != 0)
            continue;
        const IrGraph *g = t->st[t->heads[h].block].spec.g;
        int logits = g->nodes[t->heads[h].node]->in[0];
        p->sink(p->ctx, rt_exec_buffer(t->st[t->heads[h].block].ex, logits), n,
                ir_type_numel(&g->nodes[logits]->type));
        p->found = true;
    }
}

/* --eval-train: batch b of the first o->eval_train training examples, in
 * the data set's order, with the labels trained on (returns the examples). */
static int64_t train_eval_batch(const Trainer *t, int64_t b, float *x, int32_t *y)
{
    const RtDataset *d = &t->feed.train;
    int64_t total = t->o->eval_train < d->n ? t->o->eval_train : d->n;
    int64_t first = b * t->feed.batch;
    int64_t count = total - first < t->feed.batch ? total - first : t->feed.batch;
    if (count <= 0)
        return 0;
    for (int64_t i = 0; i < count; i++)
        rt_dataset_row(d, first + i, x + i * d->feat);
    memcpy(y, d->y + first, (size_t)count * sizeof *y);
    return count;
}

/* Mean loss and accuracy of every head over the evaluation split (on_train:
 * the first o->eval_train training examples), into out[]. */
static void evaluate_into(Trainer *t, bool on_train, RtEval *out)
{
    RtFeed *f = &t->feed;
    double sum[RT_MAX_HEADS] = {0};
    int64_t correct[RT_MAX_HEADS] = {0}, seen = 0;
    int32_t *y = label_buffer(t);
    int64_t nb = on_train ? (t->o->eval_train + f->batch - 1) / f->batch
                          : rt_feed_eval_batches(f);
    for (int64_t b = 0; b < nb; b++) {
        void *x = rt_exec_buffer(t->st[0].ex, t->st[0].spec.in_x);
        int64_t n = on_train ? train_eval_batch(t, b, x, y) : rt_feed_eval_batch(f, b, x, y);
        if (n <= 0)
            break;
        spread_labels(t, y, (int)n);
        RtStepArgs a = {.n = (int)n, .step = t->c.step + 1, .seed = t->c.seed, .train = false};
        for (int k = 0; k < t->K; k++) {
            pull_links(t, k, 0, (int)n);
            rt_team_bind(t->team[t->st[k].worker]);
            rt_exec_forward(t->st[k].ex, &a);
        }
        rt_team_bind(NULL);
        for (int h = 0; h < t->n_heads; h++) {
            RtExec *ex = t->st[t->heads[h].block].ex;
            sum[h] += (double)rt_exec_scalar(ex, t->heads[h].node) * (double)n;
            correct[h] += rt_exec_correct(ex, t->heads[h].node);
        }
        if (t->o->predict && !on_train)
            predict_batch(t, (int)n);
        seen += n;
    }
    int64_t rows = seen * (f->text ? f->context : 1);
    for (int h = 0; h < t->n_heads; h++) {
        out[h].loss = seen ? sum[h] / (double)seen : NAN;
        out[h].accuracy = rows ? (double)correct[h] / (double)rows : 0;
        out[h].examples = seen;
    }
}

static void evaluate_here(Trainer *t)
{
    evaluate_into(t, false, t->eval);
    if (t->o->eval_train > 0)
        evaluate_into(t, true, t->train_eval);
}

/* Every head evaluated (a distributed run: by rank 0, on the blocks' latest
 * parameters, and shared with every rank). */
static void evaluate(Trainer *t)
{
    rt_profile_pause(t->o->profile, true);     /* the profile is the training step's */
    if (t->comm)
        rt_dist_gather(t);
    if (!t->comm || t->rank == 0)
        evaluate_here(t);
    if (t->comm)
        rt_dist_share_eval(t);
    rt_profile_pause(t->o->profile, false);
}

void rt_trainer_feed_blocks(Trainer *t, int64_t index)
{
    int32_t *y = label_buffer(t);
    rt_feed_train_batch(&t->feed, t->c.epoch, index,
                        rt_exec_buffer(t->st[0].ex, t->st[0].spec.in_x), y);
    spread_labels(t, y, t->feed.batch);
}

bool rt_trainer_run_batches(Trainer *t, int64_t end, RtBatchStep fn, char *err, size_t errcap)
{
    float loss[RT_MAX_HEADS];
    bool ok = true;
    for (int64_t i = t->c.step_in_epoch; ok && i < end && !rt_stopping(t); i++) {
        int64_t step = t->c.step;
        rt_trainer_feed_blocks(t, i);
        ok = fn(t, step, loss, err, errcap) && rt_trainer_step_done(t, step, i, loss, err, errcap);
    }
    return ok;
}

bool rt_trainer_step_done(Trainer *t, int64_t step, int64_t index, const float *losses,
                          char *err, size_t errcap)
{
    memcpy(t->loss, losses, (size_t)t->n_heads * sizeof *t->loss);
    for (int k = 0; k < t->K && !t->health_by_schedule; k++)
        t->health[k] = t->st[k].health;
    t->c.step = step + 1;
    t->c.step_in_epoch = index + 1;
    t->steps_run++;
    t->lr = rt_lr_at(t, step);
    if (!rt_log_step(t, err, errcap))
        return false;
    rt_progress(t, false);
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

/* A distributed run stops where every rank agreed to (rt_dist_agree); only
 * the rank that reads the data acts on its own signal at once, by feeding no
 * more batches. */
bool rt_stopping(const Trainer *t)
{
    bool mine = t->o->stop && *t->o->stop;
    if (t->comm)
        return t->stop_agreed || (mine && t->b0 == 0);
    return mine;
}

static bool done(const Trainer *t)
{
    bool stop = t->comm ? t->stop_agreed : rt_stopping(t);
    return (t->o->max_steps > 0 && t->c.step >= t->o->max_steps) || stop || t->reached;
}

/* Evaluates, logs, and notes whether the target accuracy (or the target
 * loss) is reached; false (with err) when the log cannot be written. */
static bool evaluate_and_log(Trainer *t, char *err, size_t errcap)
{
    evaluate(t);
    const RtTrainOpts *o = t->o;
    bool hit = (o->target_accuracy > 0 && t->eval[0].accuracy >= o->target_accuracy) ||
               (o->target_loss > 0 && t->eval[0].loss <= o->target_loss);
    if (hit && !t->reached) {
        t->reached = true;
        t->reached_s = rt_train_elapsed(t);
        t->reached_step = t->c.step;
    }
    return rt_log_eval(t, err, errcap);
}

/* The epoch in segments that end at --eval-every points and --max-steps:
 * the schedule runs each, then every head is evaluated, training goes on. */
static bool train_epoch(Trainer *t, char *err, size_t errcap)
{
    while (t->c.step_in_epoch < t->steps_per_epoch && !done(t)) {
        int64_t end = t->steps_per_epoch;
        if (t->o->max_steps > 0 && t->o->max_steps - t->c.step < end - t->c.step_in_epoch)
            end = t->c.step_in_epoch + (t->o->max_steps - t->c.step);
        int64_t every = t->o->eval_every, gs = t->o->gradsim_every;
        if (every > 0 && every - t->c.step % every < end - t->c.step_in_epoch)
            end = t->c.step_in_epoch + (every - t->c.step % every);
        /* gradient similarity on the segment's first batch, before its step */
        if (gs > 0 && gs - t->c.step % gs < end - t->c.step_in_epoch)
            end = t->c.step_in_epoch + (gs - t->c.step % gs);
        if (gs > 0 && t->c.step % gs == 0 && t->gradsim_step != t->c.step &&
            !rt_gradsim_measure(t, err, errcap))
            return false;
        double t0 = rt_now_s();
        t->seg_start_s = t0;
        bool ok = t->sched->run(t, end, err, errcap);
        t->train_s += rt_now_s() - t0;
        t->seg_start_s = 0;
        if (!ok)
            return false;
        if (t->comm)
            rt_dist_agree(t);
        if (every > 0 && t->c.step % every == 0 && !evaluate_and_log(t, err, errcap))
            return false;
    }
    return true;
}

static bool run_epoch(Trainer *t, char *err, size_t errcap)
{
    if (!train_epoch(t, err, errcap))
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
            if (l->src_block == k && l->src_node >= 0 && l->src_node < g->n_nodes)
                keep[l->src_node] = 1;
            if (j == k)
                keep[l->node] = 1;
        }
    for (int h = 0; h < t->n_heads; h++)
        if (t->heads[h].block == k) {
            keep[t->heads[h].node] = 1;
            if (t->o->predict)  /* the logits outlive the forward pass */
                keep[g->nodes[t->heads[h].node]->in[0]] = 1;
        }
    rt_exec_plan(e, keep);
    free(keep);
}

RtExec *rt_make_exec(const Trainer *t, const IrGraph *g, int max_batch, char *err,
                     size_t errcap)
{
    RtExec *e = t->o->make_exec ? t->o->make_exec(g, max_batch, t->o->exec_ctx, err, errcap)
                                : rt_exec_interp_new(g, max_batch, err, errcap);
    if (e && t->o->profile)
        e->prof = rt_profile_attach(t->o->profile, g);
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

static bool make_block(Trainer *t, int k, const RtBlockSpec *spec, char *err, size_t errcap)
{
    Block *s = &t->st[k];
    s->spec = *spec;
    s->x_elems = elems(spec->g, spec->in_x);
    s->y_elems = elems(spec->g, spec->in_y);
    s->link_bytes = calloc((size_t)spec->n_links + 1, sizeof *s->link_bytes);
    s->shared = malloc(((size_t)spec->n_links + 1) * sizeof *s->shared);
    if (!s->link_bytes || !s->shared) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    for (int i = 0; i < spec->n_links; i++) {
        const RtLink *l = &spec->links[i];
        if (l->src_block < 0 || l->src_block >= t->K || l->node < 0 || l->src_node < 0) {
            snprintf(err, errcap, "block %d reads from a block that does not exist", k + 1);
            return false;
        }
        s->link_bytes[i] = rt_value_bytes(spec->g, l->node, t->n_step);
        s->shared[i] = -1;
    }
    if (t->comm && !t->has[k])
        return true;    /* another rank's block */
    s->ex = rt_make_exec(t, spec->g, t->feed.batch, err, errcap);
    if (!s->ex)
        return false;
    t->ex[k] = s->ex;
    rt_exec_init_params(s->ex, t->g->train.seed);
    if (t->replicas > 1 && k >= t->b0 && k < t->b1) {
        if (!rt_exec_has_phases(s->ex)) {
            snprintf(err, errcap, "--replicas needs an executor with separate backward and "
                     "update phases (--exec jit), not '%s'", s->ex->ops->name);
            return false;
        }
        if (!rt_grads_init(&s->grads, spec->g) ||
            !(s->gbuf = malloc((size_t)(s->grads.start[s->grads.n] + RT_MAX_HEADS) *
                               sizeof *s->gbuf))) {
            snprintf(err, errcap, "out of memory");
            return false;
        }
    }
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
    /* threads running products: the core budget (the pipeline: a thread per
     * stage); threads started: those but the caller, and local's loader */
    int n = t->kind == RT_SCHED_PIPELINE ? t->K : t->cores;
    int threads = n - 1 + (t->kind == RT_SCHED_LOCAL);
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

const char *rt_sched_name(RtSchedKind s)
{
    switch (s) {
    case RT_SCHED_DEFAULT:       return "default";
    case RT_SCHED_SEQUENTIAL:    return "sequential";
    case RT_SCHED_LOCAL:         return "local";
    case RT_SCHED_DATA_PARALLEL: return "data-parallel";
    case RT_SCHED_PIPELINE:      return "pipeline";
    }
    return "?";
}

int rt_available_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* The schedule, the core budget and the placement: decided once, here. */
static bool choose_schedule(Trainer *t, char *err, size_t errcap)
{
    static const RtSchedule *const table[] = {
        [RT_SCHED_SEQUENTIAL] = &rt_schedule_sequential,
        [RT_SCHED_LOCAL] = &rt_schedule_local,
        [RT_SCHED_DATA_PARALLEL] = &rt_schedule_data_parallel,
        [RT_SCHED_PIPELINE] = &rt_schedule_pipeline,
    };
    t->kind = t->o->schedule;
    if (t->kind == RT_SCHED_DEFAULT)
        t->kind = t->K > 1 ? RT_SCHED_LOCAL : RT_SCHED_SEQUENTIAL;
    if (t->kind == RT_SCHED_LOCAL && t->K == 1)
        t->kind = RT_SCHED_SEQUENTIAL;      /* one block: nothing to overlap */
    if (t->comm)
        t->kind = RT_SCHED_LOCAL;           /* rt_dist_place refused any other */
    t->sched = table[t->kind];
    t->cores = t->o->cores > 0 ? t->o->cores : rt_available_cores();
    int D = t->o->overlap_delay;
    t->overlap_delay = D >= 0 ? D : t->kind == RT_SCHED_LOCAL ? 1 : 0;
    if (t->kind == RT_SCHED_PIPELINE && t->K > t->cores) {
        snprintf(err, errcap, "--schedule pipeline runs one thread per stage: %d stages need %d "
                 "cores, but the budget is %d (--threads); use fewer stages (--blocks)",
                 t->K, t->K, t->cores);
        return false;
    }
    double cost[RT_MAX_BLOCKS];
    for (int k = 0; k < t->K; k++)
        cost[k] = t->st[k].spec.cost;
    bool placed = t->kind == RT_SCHED_LOCAL || t->kind == RT_SCHED_SEQUENTIAL;
    if (t->comm) {
        /* this rank's blocks [b0, b1) on its own cores; rank 0 evaluates
         * the other ranks' blocks on its first worker's team */
        rt_place(cost + t->b0, t->b1 - t->b0, t->cores, &t->place);
        for (int w = 0; w <= t->place.workers; w++)
            t->place.first[w] += t->b0;
        for (int k = 0; k < t->K; k++)
            t->st[k].worker = k >= t->b0 && k < t->b1 ? rt_place_worker(&t->place, k) : 0;
    } else {
        rt_place(cost, t->K, placed ? t->cores : 1, &t->place);
        for (int k = 0; k < t->K; k++)
            t->st[k].worker = rt_place_worker(&t->place, k);
    }
    for (int w = 0; placed && w < t->place.workers; w++)
        if (!(t->team[w] = rt_team_new(t->place.threads[w]))) {
            if (errno == ENOMEM)
                snprintf(err, errcap, "out of memory for the threads of worker %d", w + 1);
            else
                snprintf(err, errcap, "cannot start the threads of worker %d: %s", w + 1,
                         strerror(errno));
            return false;
        }
    return true;
}

/* Overlap's shared parameters: one version ring per RT_LINK_PARAM link. */
static bool share_params(Trainer *t, char *err, size_t errcap)
{
    int n = 0;
    for (int k = 0; k < t->K; k++)
        for (int i = 0; i < t->st[k].spec.n_links; i++)
            n += t->st[k].spec.links[i].kind == RT_LINK_PARAM;
    if (n == 0)
        return true;
    if (t->kind == RT_SCHED_LOCAL && t->overlap_delay == 0) {
        snprintf(err, errcap, "the local schedule runs overlapping windows with a delay of at "
                 "least 1 (--overlap-delay 0 is the lockstep semantics: use --schedule "
                 "sequential)");
        return false;
    }
    t->shared = calloc((size_t)n, sizeof *t->shared);
    if (!t->shared) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    for (int k = 0; k < t->K; k++)
        for (int i = 0; i < t->st[k].spec.n_links; i++) {
            const RtLink *l = &t->st[k].spec.links[i];
            if (l->kind != RT_LINK_PARAM)
                continue;
            Shared *sh = &t->shared[t->n_shared];
            *sh = (Shared){l->src_block, l->src_node, k, l->node, {0}, NULL};
            /* the owner's value (a rank that holds neither block keeps an
             * unused ring: every rank numbers the shared parameters alike) */
            RtExec *own = t->st[l->src_block].ex;
            const void *v = own ? rt_exec_buffer(own, l->src_node) : NULL;
            size_t bytes = rt_value_bytes(t->st[k].spec.g, l->node, 1);
            bool remote = t->comm && rt_dist_rank_of(t, k) != rt_dist_rank_of(t, l->src_block);
            if (!rt_shared_param_init(&sh->p, bytes, t->overlap_delay, v, t->c.step) ||
                (remote && !(sh->msg = malloc(64 + bytes)))) {
                snprintf(err, errcap, "out of memory");
                return false;
            }
            t->st[k].shared[i] = t->n_shared++;
        }
    return true;
}

/* --random-labels and --eval-train, on the data just loaded (images only). */
static bool analyses_data(Trainer *t, char *err, size_t errcap)
{
    const RtTrainOpts *o = t->o;
    if ((o->random_labels || o->eval_train > 0) && t->feed.text) {
        snprintf(err, errcap, "%s applies to a labelled image data set, not text",
                 o->random_labels ? "--random-labels" : "--eval-train");
        return false;
    }
    if (!o->random_labels)
        return true;
    t->labels_changed = rt_dataset_permute_labels(&t->feed.train, t->g->train.seed);
    if (t->labels_changed < 0) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    return true;
}

/* Builds everything a run needs. A stop signal while it compiles returns
 * early (true: nothing failed; the run then does nothing). */
static bool setup(Trainer *t, const RtBlockSpec *specs, char *err, size_t errcap)
{
    if (t->K < 1 || t->K > RT_MAX_BLOCKS) {
        snprintf(err, errcap, "%d blocks: lnet supports 1 to %d", t->K, RT_MAX_BLOCKS);
        return false;
    }
    if (!rt_feed_open(&t->feed, t->g, t->o, err, errcap) || !analyses_data(t, err, errcap))
        return false;
    t->n_step = t->feed.batch;
    t->replicas = 1;
    t->watch = t->o->log_path || t->o->dead_block_steps > 0;
    if (t->comm && !rt_dist_place(t, specs, err, errcap))
        return false;
    for (int k = 0; k < t->K; k++) {
        if (rt_stopping(t) && !t->comm)
            return true;
        if (!make_block(t, k, &specs[k], err, errcap))
            return false;
    }
    collect_heads(t);
    for (int k = 0; k < t->K; k++)
        if (t->st[k].ex)
            plan_exec(t, k, t->st[k].ex);
    t->c = (RtCounters){0, 0, 0, t->g->train.seed, 0};
    if (t->o->resume_path && (!t->comm || t->rank == 0) &&
        !rt_checkpoint_load(t->o->resume_path, t->ex, t->K, &t->c, err, errcap))
        return false;
    if (t->comm && t->o->resume_path)
        rt_dist_scatter(t);
    t->steps_per_epoch = rt_feed_steps_per_epoch(&t->feed);
    t->total_steps = t->steps_per_epoch * t->g->train.epochs;
    if (t->o->max_steps > 0 && t->o->max_steps < t->total_steps)
        t->total_steps = t->o->max_steps;
    /* A cosine schedule spans the length the run was started with, recorded
     * in its checkpoints: a resumed run with another --max-steps or --epochs
     * stops elsewhere, but its learning rate does not jump (docs/language.md).
     * Other schedules do not depend on the length and record none. */
    if (t->g->train.lr_schedule != LR_COSINE)
        t->c.lr_horizon = 0;
    else if (t->c.lr_horizon == 0)
        t->c.lr_horizon = t->total_steps;
    else if (t->c.lr_horizon != t->total_steps && !t->o->quiet && (!t->comm || t->rank == 0))
        fprintf(stderr, "lnet train: note: the cosine schedule keeps the length of the run that "
                "started it (%lld steps); this run stops at step %lld\n",
                (long long)t->c.lr_horizon, (long long)t->total_steps);
    if (!choose_schedule(t, err, errcap) || !share_params(t, err, errcap))
        return false;
    if (!blas_room(t, err, errcap) || !t->sched->init(t, err, errcap))
        return false;
    return rt_gradsim_open(t, err, errcap) && rt_log_open(t, err, errcap);
}

static void teardown(Trainer *t)
{
    char err[8];
    rt_log_close(t, err, sizeof err);   /* closed already, unless the run failed */
    rt_gradsim_close(t);
    if (t->sched)
        t->sched->fini(t);
    for (int i = 0; i < t->n_shared; i++) {
        rt_shared_param_fini(&t->shared[i].p);
        free(t->shared[i].msg);
    }
    free(t->shared);
    for (int w = 0; w < RT_MAX_BLOCKS; w++)
        rt_team_free(t->team[w]);
    for (int k = 0; k < t->K; k++) {
        rt_exec_free(t->st[k].ex);
        free(t->st[k].link_bytes);
        free(t->st[k].shared);
        rt_grads_fini(&t->st[k].grads);
        free(t->st[k].gbuf);
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
        res->compile_ms += t->st[k].ex ? t->st[k].ex->compile_ms : 0;
    res->n_heads = t->n_heads < 16 ? t->n_heads : 16;
    for (int h = 0; h < res->n_heads; h++) {
        res->heads[h] = t->eval[h];
        snprintf(res->head_names[h], sizeof res->head_names[h], "%s", rt_head_name(t, h));
    }
    for (int k = 0; k < t->K && k < 64; k++)
        res->act_bytes[k] = t->st[k].ex && t->st[k].ex->act_bytes > 0
                                ? t->st[k].ex->act_bytes
                                : rt_graph_act_bytes(t->st[k].spec.g, t->feed.batch);
    res->n_blocks = t->K;
    res->reached = t->reached;
    res->reached_s = t->reached_s;
    res->reached_step = t->reached_step;
    res->n_workers = t->n_workers;
    for (int k = 0; k < res->n_workers && k < 64; k++)
        res->workers[k] = t->ws[k];
    res->cores = t->cores;
    res->overlap_delay = t->overlap_delay;
    res->ranks = t->comm ? t->ranks : 1;
    for (int k = 0; k < t->K; k++)
        res->dead_blocks += t->st[k].dead;
    res->train_eval = t->train_eval[0];
    res->labels_changed = t->labels_changed;
}

bool rt_train_blocks(const IrGraph *model, const RtBlockSpec *st, int K, const RtTrainOpts *o,
                     RtTrainResult *res, char *err, size_t errcap)
{
    Trainer *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    /* a distributed run: rank 0 alone logs, reports and saves */
    RtTrainOpts mine = *o;
    if (o->comm && o->comm->rank != 0) {
        mine.log_path = mine.report_path = mine.save_path = NULL;
        mine.quiet = true;
    }
    t->g = model;
    t->o = &mine;
    t->K = K;
    t->comm = o->comm;
    memset(res, 0, sizeof *res);
    rt_blas_single_threaded(true);     /* the schedule's teams are the parallelism */
    bool ok = setup(t, st, err, errcap);
    t->start_s = rt_now_s();
    if (o->gradsim_only) {
        /* one measurement (lnet gradsim): no training, evaluation or report */
        ok = ok && (rt_stopping(t) || rt_gradsim_measure(t, err, errcap));
        res->interrupted = rt_stopping(t);
        teardown(t);
        free(t);
        rt_blas_single_threaded(false);
        return ok;
    }
    while (ok && !o->eval_only && t->c.epoch < model->train.epochs && !done(t))
        ok = run_epoch(t, err, errcap);
    /* stopped before the first step (while compiling): nothing to report */
    bool stopped = t->comm ? t->stop_agreed : rt_stopping(t);
    bool idle = stopped && t->steps_run == 0 && !o->eval_only;
    if (ok && !idle && !t->evaluated)
        evaluate(t);    /* nothing left to train: still report the numbers */
    char lerr[512];
    if (!rt_log_close(t, lerr, sizeof lerr) && ok) {
        snprintf(err, errcap, "%s", lerr);
        ok = false;
    }
    if (ok && !idle && t->comm)
        rt_dist_gather_stats(t);
    if (ok && !idle) {
        fill_result(t, res);
        ok = rt_report_write(t, res, err, errcap);
    }
    res->interrupted = t->comm ? t->stop_agreed : rt_stopping(t);
    res->saved = t->saved;
    res->steps_run = t->steps_run;
    teardown(t);
    free(t);
    rt_blas_single_threaded(false);
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
    RtBlockSpec one = {g, in_x, in_y, 0, NULL, 0};
    return rt_train_blocks(g, &one, 1, o, res, err, errcap);
}
