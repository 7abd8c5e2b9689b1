/* train.c — the training loop behind `lnet train` (see train.h).
 *
 * One step: fill the batch into the input and label buffers, compute the
 * learning rate from the schedule, run the executor's step (forward, losses,
 * backward, updates), check the loss is finite, log. Every epoch ends with an
 * evaluation of every loss (the task head and each auxiliary head) on the
 * test / validation split and, with --save, a checkpoint.
 */
#include "train_impl.h"
#include "checkpoint.h"
#include "feed.h"
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t rt_peak_rss_bytes(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_maxrss * 1024;
}

static float *exec_buf(void *exec, int id) { return rt_exec_buffer(exec, id); }

/* Every loss node: the task loss first, then auxiliary heads in graph order. */
static int collect_losses(const IrGraph *g, int *ids, int cap)
{
    int n = 0;
    ids[n++] = g->loss;
    for (int i = 0; i < g->n_nodes && n < cap; i++)
        if ((g->nodes[i]->flags & IR_F_LOSS) && i != g->loss)
            ids[n++] = i;
    return n;
}

/* Mean loss and accuracy of every loss node over the evaluation split. */
static void evaluate(Trainer *t)
{
    RtFeed *f = &t->feed;
    double sum[RT_MAX_HEADS] = {0};
    int64_t correct[RT_MAX_HEADS] = {0}, seen = 0;
    int64_t nb = rt_feed_eval_batches(f);
    for (int64_t b = 0; b < nb; b++) {
        int64_t n = rt_feed_eval_batch(f, b, rt_exec_buffer(t->ex, f->input),
                                       rt_exec_buffer(t->ex, f->label));
        if (n <= 0)
            break;
        RtStepArgs a = {.n = (int)n, .step = t->c.step + 1, .seed = t->c.seed, .train = false};
        rt_exec_forward(t->ex, &a);
        for (int h = 0; h < t->n_heads; h++) {
            sum[h] += (double)rt_exec_scalar(t->ex, t->heads[h]) * (double)n;
            correct[h] += rt_exec_correct(t->ex, t->heads[h]);
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

static float lr_at(const Trainer *t)
{
    const IrTrainCfg *c = &t->g->train;
    static const RkLrSchedule map[SCHED_COUNT] = {RK_LR_CONSTANT, RK_LR_WARMUP, RK_LR_COSINE};
    return rk_lr_at(map[c->schedule], c->lr, t->c.step, c->warmup, t->total_steps);
}

/* One training step; false (with err) on a non-finite loss. */
static bool step(Trainer *t, char *err, size_t errcap)
{
    RtFeed *f = &t->feed;
    rt_feed_train_batch(f, t->c.epoch, t->c.step_in_epoch, rt_exec_buffer(t->ex, f->input),
                        rt_exec_buffer(t->ex, f->label));
    t->lr = lr_at(t);
    RtStepArgs a = {.n = f->batch, .lr = t->lr, .step = t->c.step + 1, .seed = t->c.seed,
                    .train = true};
    double t0 = now_s();
    rt_exec_step(t->ex, &a);
    t->train_s += now_s() - t0;
    for (int h = 0; h < t->n_heads; h++) {
        t->loss[h] = rt_exec_scalar(t->ex, t->heads[h]);
        if (!isfinite(t->loss[h])) {
            snprintf(err, errcap, "loss '%s' is %s at step %lld (epoch %lld); stopping — the "
                     "last checkpoint, if any, is kept", rt_head_name(t, h),
                     isnan(t->loss[h]) ? "NaN" : "infinite", (long long)t->c.step + 1,
                     (long long)t->c.epoch + 1);
            return false;
        }
    }
    t->c.step++;
    t->c.step_in_epoch++;
    t->steps_run++;
    return true;
}

static bool save(Trainer *t, char *err, size_t errcap)
{
    if (!t->o->save_path)
        return true;
    return rt_checkpoint_save(t->o->save_path, t->g, exec_buf, t->ex, &t->c, err, errcap);
}

static bool done(const Trainer *t)
{
    return t->o->max_steps > 0 && t->c.step >= t->o->max_steps;
}

static bool run_epoch(Trainer *t, char *err, size_t errcap)
{
    while (t->c.step_in_epoch < t->steps_per_epoch && !done(t)) {
        if (!step(t, err, errcap))
            return false;
        rt_log_step(t);
        rt_progress(t, false);
        if (t->o->eval_every > 0 && t->c.step % t->o->eval_every == 0) {
            evaluate(t);
            rt_log_eval(t);
        }
    }
    bool finished = t->c.step_in_epoch >= t->steps_per_epoch;
    if (finished) {
        t->c.epoch++;
        t->c.step_in_epoch = 0;
    }
    evaluate(t);
    t->evaluated = true;
    rt_log_eval(t);
    rt_progress(t, true);
    return save(t, err, errcap);
}

static bool setup(Trainer *t, char *err, size_t errcap)
{
    if (!rt_feed_open(&t->feed, t->g, t->o, err, errcap))
        return false;
    t->ex = t->o->make_exec
                ? t->o->make_exec(t->g, t->feed.batch, t->o->exec_ctx, err, errcap)
                : rt_exec_interp_new(t->g, t->feed.batch, err, errcap);
    if (!t->ex)
        return false;
    rt_exec_init_params(t->ex, t->g->train.seed);
    t->c = (RtCounters){0, 0, 0, t->g->train.seed};
    if (t->o->resume_path &&
        !rt_checkpoint_load(t->o->resume_path, t->g, exec_buf, t->ex, &t->c, err, errcap))
        return false;
    t->steps_per_epoch = rt_feed_steps_per_epoch(&t->feed);
    t->total_steps = t->steps_per_epoch * t->g->train.epochs;
    if (t->o->max_steps > 0 && t->o->max_steps < t->total_steps)
        t->total_steps = t->o->max_steps;
    t->n_heads = collect_losses(t->g, t->heads, RT_MAX_HEADS);
    return rt_log_open(t, err, errcap);
}

static void teardown(Trainer *t)
{
    rt_log_close(t);
    rt_exec_free(t->ex);
    rt_feed_close(&t->feed);
}

bool rt_train(const IrGraph *g, const RtTrainOpts *o, RtTrainResult *res, char *err,
              size_t errcap)
{
    Trainer t = {.g = g, .o = o};
    memset(res, 0, sizeof *res);
    bool ok = setup(&t, err, errcap);
    t.start_s = now_s();
    while (ok && !o->eval_only && t.c.epoch < g->train.epochs && !done(&t))
        ok = run_epoch(&t, err, errcap);
    if (ok && !t.evaluated)
        evaluate(&t);   /* resumed at the end already: still report the numbers */
    if (ok) {
        res->steps = t.c.step;
        res->epochs_done = (int)t.c.epoch;
        res->wall_s = t.train_s;
        res->samples_per_s = t.train_s > 0 ? (double)t.steps_run * t.feed.batch / t.train_s : 0;
        res->last_loss = t.loss[0];
        res->final = t.eval[0];
        res->is_text = t.feed.text;
        res->compile_ms = t.ex->compile_ms;
        res->n_heads = t.n_heads < 16 ? t.n_heads : 16;
        for (int h = 0; h < res->n_heads; h++) {
            res->heads[h] = t.eval[h];
            snprintf(res->head_names[h], sizeof res->head_names[h], "%s", rt_head_name(&t, h));
        }
        ok = rt_report_write(&t, res, err, errcap);
    }
    teardown(&t);
    return ok;
}
