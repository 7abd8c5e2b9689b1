/* data_parallel.c — the data-parallel backprop baseline: N replicas of the
 * whole backprop graph, each on its own thread and its own slice of the
 * batch, their gradients summed before one update.
 *
 * Replica 0 is block 0's executor (room for the full batch, so evaluation
 * and checkpoints work unchanged); replicas 1..N-1 are sized for a slice and
 * share replica 0's parameter and optimizer-state buffers (RtExecOps.share),
 * which nobody writes while gradients are computed. One step, with the main
 * thread as replica 0 and three barriers:
 *
 *   every replica r copies slice r of the batch (replica 0's is in place)
 *   and runs forward + backward on its B/N examples     — barrier
 *   every thread sums 1/N of the gradient elements over the replicas, in
 *   replica order, scaled by 1/N (each replica's loss is a mean over its
 *   slice), into replica 0's gradients                  — barrier
 *   replica 0 runs the update phase (clipping included); the loss is the
 *   mean of the replicas' losses.
 *
 * Every sum has a fixed order, so a run is deterministic, and it equals plain
 * backprop up to float summation order — except batchnorm, which normalizes
 * each slice with its own statistics (see make_replica). Dropout masks differ
 * per replica (rt_part_seed), as they would across the rows of one batch.
 */
#include "rt_impl.h"
#include "schedule.h"
#include "grads.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RT_MAX_REPLICAS 64

typedef struct RtDp RtDp;

typedef struct {
    RtDp *dp;
    int r;
} Replica;

struct RtDp {
    Trainer *t;
    int n, slice;                   /* replicas; examples per replica */
    RtExec *rep[RT_MAX_REPLICAS];   /* rep[0] is t->st[0].ex (borrowed) */
    RtGrads grads;
    RtStepArgs args;                /* of the step in progress (n = slice) */
    pthread_barrier_t bar;
    bool barrier_ready, quit;
    pthread_mutex_t mu;             /* the start gate: threads wait until every one runs */
    pthread_cond_t gate;
    bool open;
    int started;                    /* worker threads running (replicas 1..) */
    pthread_t th[RT_MAX_REPLICAS];
    Replica who[RT_MAX_REPLICAS];
};

/* ------------------------------------------------------------ one step */

/* Replica r: its slice of the batch, then forward and backward. */
static void replica_grad(RtDp *dp, int r)
{
    Trainer *t = dp->t;
    const Block *s = &t->st[0];
    RtExec *e = dp->rep[r];
    if (r > 0) {
        size_t xb = (size_t)(dp->slice * s->x_elems) * 4, yb = (size_t)(dp->slice * s->y_elems) * 4;
        unsigned char *x0 = rt_exec_buffer(dp->rep[0], s->spec.in_x);
        memcpy(rt_exec_buffer(e, s->spec.in_x), x0 + (size_t)r * xb, xb);
        if (s->spec.in_y >= 0) {
            unsigned char *y0 = rt_exec_buffer(dp->rep[0], s->spec.in_y);
            memcpy(rt_exec_buffer(e, s->spec.in_y), y0 + (size_t)r * yb, yb);
        }
    }
    RtStepArgs a = dp->args;
    a.seed = rt_part_seed(a.seed, r);
    rt_exec_forward(e, &a);
    rt_exec_backward(e, &a);
}

/* Thread r's share of the gradient reduction. */
static void replica_reduce(RtDp *dp, int r)
{
    int64_t total = dp->grads.start[dp->grads.n];
    int64_t lo = total * r / dp->n, hi = total * (r + 1) / dp->n;
    rt_grads_reduce(&dp->grads, dp->rep, dp->n, 1.0f / (float)dp->n, lo, hi);
}

/* One replica's part of a step between the barriers; false once told to quit.
 * *idle_from: when the thread last stopped working (its stats are written
 * before the last barrier, so the main thread may read them after it). */
static bool replica_round(RtDp *dp, int r, double *idle_from)
{
    RtWorkerStats *ws = &dp->t->ws[r];
    pthread_barrier_wait(&dp->bar);
    if (dp->quit)
        return false;
    double t1 = rt_now_s();
    replica_grad(dp, r);
    double t2 = rt_now_s();
    pthread_barrier_wait(&dp->bar);
    double t3 = rt_now_s();
    replica_reduce(dp, r);
    double t4 = rt_now_s();
    ws->wait_in_s += (t1 - *idle_from) + (t3 - t2);
    ws->busy_s += (t2 - t1) + (t4 - t3);
    ws->steps++;
    *idle_from = t4;
    pthread_barrier_wait(&dp->bar);
    return true;
}

static void *replica_main(void *arg)
{
    Replica *w = arg;
    RtDp *dp = w->dp;
    pthread_mutex_lock(&dp->mu);
    while (!dp->open && !dp->quit)
        pthread_cond_wait(&dp->gate, &dp->mu);
    bool run = dp->open;
    pthread_mutex_unlock(&dp->mu);
    double idle_from = rt_now_s();
    while (run && replica_round(dp, w->r, &idle_from))
        ;
    return NULL;
}

static bool dp_step(Trainer *t, int64_t step, float *losses, char *err, size_t errcap)
{
    RtDp *dp = t->sched_state;
    dp->args = (RtStepArgs){.n = dp->slice, .lr = rt_lr_at(t, step), .step = step + 1,
                            .seed = t->c.seed, .train = true};
    double t0 = rt_now_s();
    replica_round(dp, 0, &t0);
    rt_exec_update(dp->rep[0], &dp->args);
    t->ws[0].busy_s += rt_now_s() - t0;
    for (int h = 0; h < t->n_heads; h++) {
        float sum = 0;
        for (int r = 0; r < dp->n; r++)
            sum += rt_exec_scalar(dp->rep[r], t->heads[h].node);
        losses[h] = sum / (float)dp->n;
        if (!rt_check_loss(t, h, 0, step, losses[h], err, errcap))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------- set-up */

/* Replica r: a new executor whose parameters and states are replica 0's,
 * except the running statistics of batchnorm (IR_F_BUFFER params): every
 * replica normalizes with its own slice's statistics and moves running
 * statistics of its own, and replica 0's are the ones evaluated and saved
 * (as PyTorch's DDP without SyncBatchNorm, which broadcasts rank 0's). */
static bool make_replica(RtDp *dp, int r, char *err, size_t errcap)
{
    const IrGraph *g = dp->t->st[0].spec.g;
    if (!(dp->rep[r] = rt_make_exec(dp->t, g, dp->slice, err, errcap)))
        return false;
    for (int i = 0; i < g->n_nodes; i++) {
        IrOp op = g->nodes[i]->op;
        if ((op == IR_OP_PARAM && !(g->nodes[i]->flags & IR_F_BUFFER)) || op == IR_OP_STATE)
            rt_exec_share(dp->rep[r], i, rt_exec_buffer(dp->rep[0], i));
    }
    return true;
}

static bool check_request(const Trainer *t, int n, char *err, size_t errcap)
{
    int batch = t->feed.batch;
    if (t->K != 1)
        snprintf(err, errcap, "the data-parallel schedule trains one backprop graph, not %d "
                 "blocks", t->K);
    else if (n < 1 || n > RT_MAX_REPLICAS)
        snprintf(err, errcap, "data-parallel: %d threads: lnet supports 1 to %d", n,
                 RT_MAX_REPLICAS);
    else if (batch % n != 0)
        snprintf(err, errcap, "data-parallel: the batch (%d) must be a multiple of the thread "
                 "count (%d), so every thread gets an equal slice", batch, n);
    else if (!rt_exec_has_phases(t->st[0].ex))
        snprintf(err, errcap, "data-parallel: the '%s' executor cannot run a step in phases",
                 t->st[0].ex->ops->name);
    else if (t->st[0].spec.in_x < 0)
        snprintf(err, errcap, "data-parallel: the graph reads no data input");
    else
        return true;
    return false;
}

static bool dp_init(Trainer *t, char *err, size_t errcap)
{
    int n = t->cores;
    if (!check_request(t, n, err, errcap))
        return false;
    RtDp *dp = calloc(1, sizeof *dp);
    t->sched_state = dp;
    if (!dp || !rt_grads_init(&dp->grads, t->st[0].spec.g)) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    dp->t = t;
    dp->n = n;
    dp->slice = t->feed.batch / n;
    dp->rep[0] = t->st[0].ex;
    for (int r = 1; r < n; r++)
        if (!make_replica(dp, r, err, errcap))
            return false;
    if (pthread_barrier_init(&dp->bar, NULL, (unsigned)n) != 0) {
        snprintf(err, errcap, "cannot create the replicas' barrier");
        return false;
    }
    dp->barrier_ready = true;
    pthread_mutex_init(&dp->mu, NULL);
    pthread_cond_init(&dp->gate, NULL);
    for (int r = 1; r < n; r++) {
        dp->who[r] = (Replica){dp, r};
        if (pthread_create(&dp->th[r], NULL, replica_main, &dp->who[r]) != 0) {
            snprintf(err, errcap, "cannot start a replica thread");
            return false;
        }
        dp->started++;
    }
    pthread_mutex_lock(&dp->mu);
    dp->open = true;
    pthread_cond_broadcast(&dp->gate);
    pthread_mutex_unlock(&dp->mu);
    t->n_workers = n;
    for (int r = 0; r < n; r++)
        t->ws[r] = (RtWorkerStats){.first_block = 0, .last_block = 0, .threads = 1};
    return true;
}

static void dp_fini(Trainer *t)
{
    RtDp *dp = t->sched_state;
    if (!dp)
        return;
    if (dp->open) {                 /* every thread waits at the step's first barrier */
        dp->quit = true;
        pthread_barrier_wait(&dp->bar);
    } else if (dp->barrier_ready) { /* a thread failed to start: the others wait at the gate */
        pthread_mutex_lock(&dp->mu);
        dp->quit = true;
        pthread_cond_broadcast(&dp->gate);
        pthread_mutex_unlock(&dp->mu);
    }
    for (int r = 1; r <= dp->started; r++)
        pthread_join(dp->th[r], NULL);
    if (dp->barrier_ready) {
        pthread_barrier_destroy(&dp->bar);
        pthread_mutex_destroy(&dp->mu);
        pthread_cond_destroy(&dp->gate);
    }
    for (int r = 1; r < dp->n; r++)
        rt_exec_free(dp->rep[r]);
    rt_grads_fini(&dp->grads);
    free(dp);
    t->sched_state = NULL;
}

static bool dp_run(Trainer *t, int64_t end, char *err, size_t errcap)
{
    return rt_trainer_run_batches(t, end, dp_step, err, errcap);
}

const RtSchedule rt_schedule_data_parallel = {"data-parallel", dp_init, dp_run, dp_fini};
