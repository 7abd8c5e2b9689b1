/* gpipe.c — the pipeline baseline: GPipe-style pipelined backprop.
 *
 * The K blocks are stages of one backprop graph (passes/stages.c): stage k
 * reads its activation from stage k-1 and, unless it is the last, the
 * gradient of its output from stage k+1; it sends d(activation) back. A batch
 * of B examples is M micro-batches of B/M. Each stage keeps one executor per
 * micro-batch, so the forward values of every micro-batch stay alive until
 * its backward (no recomputation); executor 0 is the stage's own (room for the
 * full batch: evaluation and checkpoints), the others share its parameters and
 * optimizer state (RtExecOps.share). One step, stage k on thread k (the
 * caller's thread is stage 0):
 *
 *   for m = 0..M-1: take micro-batch m's activation (stage 0: its slice of the
 *     batch), forward, send the output on — the last stage runs the backward
 *     at once and sends d(activation) back;
 *   for m = 0..M-1 (k < K-1): take the gradient of micro-batch m's output,
 *     backward, send d(activation) back;
 *   sum the M executors' parameter gradients in micro-batch order, scaled by
 *     1/M (each micro-batch's loss is a mean over its examples), then one
 *     update of the stage.
 *
 * Queues are FIFO with room for M messages, so no stage ever waits on a full
 * queue and the order of every sum is fixed: a run is deterministic, and it
 * equals plain backprop up to float summation order. No barrier between
 * stages is needed inside a step: stage k updates only its own parameters,
 * after its last backward, and the next step starts once every stage is done.
 */
#include "rt_impl.h"
#include "schedule.h"
#include "grads.h"
#include "queue.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RT_MAX_MICRO 64

typedef struct RtGpipe RtGpipe;

typedef struct {
    RtGpipe *gp;
    int k;
    RtExec *mb[RT_MAX_MICRO];   /* mb[0] is t->st[k].ex (borrowed) */
    int act_in, act_out;        /* activation from k-1 / to k+1 (-1: none) */
    int seed, dx;               /* gradient of act_out from k+1 / of act_in to k-1 */
    size_t in_bytes, seed_bytes;    /* per micro-batch */
    RtGrads grads;
} GpStage;

/* A message: this header, then the tensor (64-byte aligned). */
typedef struct {
    int m;
} GpMsg;

struct RtGpipe {
    Trainer *t;
    int K, M, micro;
    GpStage st[RT_MAX_BLOCKS];
    RtQueue fq[RT_MAX_BLOCKS];  /* fq[k]: activations into stage k (k >= 1) */
    RtQueue bq[RT_MAX_BLOCKS];  /* bq[k]: gradients into stage k (k <= K-2) */
    RtStepArgs args;            /* of the step in progress (n = micro) */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    bool sync_ready, quit;
    int64_t gen;                /* steps started */
    int finished;               /* stage threads done with step gen */
    int started;                /* stage threads running (stages 1..) */
    pthread_t th[RT_MAX_BLOCKS];
};

static size_t bytes_of(const IrGraph *g, int id, int n)
{
    const IrType *ty = &g->nodes[id]->type;
    return (size_t)(ir_type_numel(ty) * (ir_type_batched(ty) ? n : 1)) * 4;
}

static void *msg_data(GpMsg *m) { return (unsigned char *)m + 64; }

/* ------------------------------------------------------------ one step */

/* Micro-batch m's slice of the batch's data and labels (stage executor 0
 * holds the whole batch; slice 0 is already in place). */
static void copy_slices(GpStage *s, int m)
{
    const Trainer *t = s->gp->t;
    const Block *st = &t->st[s->k];
    int n = s->gp->micro;
    int node[2] = {st->spec.in_x, st->spec.in_y};
    int64_t elems[2] = {st->x_elems, st->y_elems};
    for (int i = 0; i < 2 && m > 0; i++) {
        if (node[i] < 0)
            continue;
        size_t b = (size_t)(n * elems[i]) * 4;
        unsigned char *src = rt_exec_buffer(s->mb[0], node[i]);
        memcpy(rt_exec_buffer(s->mb[m], node[i]), src + (size_t)m * b, b);
    }
}

/* Takes the next message of q (micro-batch m) into node `to` of e. */
static void receive(GpStage *s, RtQueue *q, int m, RtExec *e, int to, size_t bytes)
{
    GpMsg *msg = rt_queue_take(q, &s->gp->t->ws[s->k].wait_in_s);
    IR_ASSERT(msg && msg->m == m);
    memcpy(rt_exec_buffer(e, to), msg_data(msg), bytes);
    rt_queue_release(q);
}

static void send(GpStage *s, RtQueue *q, int m, RtExec *e, int from, size_t bytes)
{
    GpMsg *msg = rt_queue_reserve(q, &s->gp->t->ws[s->k].wait_out_s);
    IR_ASSERT(msg);     /* room for every micro-batch: never full, never closed here */
    msg->m = m;
    memcpy(msg_data(msg), rt_exec_buffer(e, from), bytes);
    rt_queue_publish(q);
}

static RtStepArgs micro_args(const RtGpipe *gp, int m)
{
    RtStepArgs a = gp->args;
    a.seed = rt_part_seed(a.seed, m);
    return a;
}

/* Backward of micro-batch m, then d(activation) back to stage k-1. */
static void backward(GpStage *s, int m)
{
    RtGpipe *gp = s->gp;
    RtStepArgs a = micro_args(gp, m);
    rt_exec_backward(s->mb[m], &a);
    if (s->k > 0)
        send(s, &gp->bq[s->k - 1], m, s->mb[m], s->dx, s->in_bytes);
}

/* Block k's part of one step (see the file comment). */
static void stage_step(GpStage *s)
{
    RtGpipe *gp = s->gp;
    int k = s->k, last = k == gp->K - 1;
    double t0 = rt_now_s(), waited = gp->t->ws[k].wait_in_s + gp->t->ws[k].wait_out_s;
    for (int m = 0; m < gp->M; m++) {
        copy_slices(s, m);
        if (k > 0)
            receive(s, &gp->fq[k], m, s->mb[m], s->act_in, s->in_bytes);
        RtStepArgs a = micro_args(gp, m);
        rt_exec_forward(s->mb[m], &a);
        if (last)
            backward(s, m);
        else
            send(s, &gp->fq[k + 1], m, s->mb[m], s->act_out, s->seed_bytes);
    }
    for (int m = 0; !last && m < gp->M; m++) {
        receive(s, &gp->bq[k], m, s->mb[m], s->seed, s->seed_bytes);
        backward(s, m);
    }
    rt_grads_reduce(&s->grads, s->mb, gp->M, 1.0f / (float)gp->M, 0,
                    s->grads.start[s->grads.n]);
    rt_exec_update(s->mb[0], &gp->args);
    RtWorkerStats *ws = &gp->t->ws[k];
    ws->busy_s += rt_now_s() - t0 - (ws->wait_in_s + ws->wait_out_s - waited);
    ws->steps++;
}

static void *stage_main(void *arg)
{
    GpStage *s = arg;
    RtGpipe *gp = s->gp;
    int64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&gp->mu);
        while (gp->gen == seen && !gp->quit)
            pthread_cond_wait(&gp->go, &gp->mu);
        bool quit = gp->quit;
        seen = gp->gen;
        pthread_mutex_unlock(&gp->mu);
        if (quit)
            return NULL;
        stage_step(s);
        pthread_mutex_lock(&gp->mu);
        if (++gp->finished == gp->K - 1)
            pthread_cond_signal(&gp->done);
        pthread_mutex_unlock(&gp->mu);
    }
}

static bool gpipe_step(Trainer *t, int64_t step, float *losses, char *err, size_t errcap)
{
    RtGpipe *gp = t->sched_state;
    gp->args = (RtStepArgs){.n = gp->micro, .lr = rt_lr_at(t, step), .step = step + 1,
                            .seed = t->c.seed, .train = true};
    pthread_mutex_lock(&gp->mu);
    gp->gen++;
    gp->finished = 0;
    pthread_cond_broadcast(&gp->go);
    pthread_mutex_unlock(&gp->mu);
    stage_step(&gp->st[0]);
    pthread_mutex_lock(&gp->mu);
    while (gp->finished < gp->K - 1)
        pthread_cond_wait(&gp->done, &gp->mu);
    pthread_mutex_unlock(&gp->mu);
    for (int h = 0; h < t->n_heads; h++) {
        const GpStage *s = &gp->st[t->heads[h].block];
        float sum = 0;
        for (int m = 0; m < gp->M; m++)
            sum += rt_exec_scalar(s->mb[m], t->heads[h].node);
        losses[h] = sum / (float)gp->M;
        if (!rt_check_loss(t, h, t->heads[h].block, step, losses[h], err, errcap))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------- set-up */

/* The stages' boundaries from their links; false when they are not a chain
 * of activations forward and gradients back. */
static bool find_boundaries(RtGpipe *gp)
{
    const Trainer *t = gp->t;
    for (int k = 0; k < gp->K; k++)
        gp->st[k] = (GpStage){.gp = gp, .k = k, .act_in = -1, .act_out = -1, .seed = -1,
                              .dx = -1};
    for (int k = 0; k < gp->K; k++) {
        const RtBlockSpec *sp = &t->st[k].spec;
        if (k > 0 && sp->in_x >= 0)
            return false;
        for (int i = 0; i < sp->n_links; i++) {
            const RtLink *l = &sp->links[i];
            if (l->src_block == k - 1 && gp->st[k].act_in < 0) {
                gp->st[k].act_in = l->node;
                gp->st[k - 1].act_out = l->src_node;
            } else if (l->src_block == k + 1 && gp->st[k].seed < 0) {
                gp->st[k].seed = l->node;
                gp->st[k + 1].dx = l->src_node;
            } else {
                return false;
            }
        }
    }
    for (int k = 0; k < gp->K; k++) {
        const GpStage *s = &gp->st[k];
        if ((k > 0) != (s->act_in >= 0 && s->dx >= 0) ||
            (k < gp->K - 1) != (s->act_out >= 0 && s->seed >= 0))
            return false;
    }
    return true;
}

/* Block k's executors for micro-batches 1..M-1, sharing executor 0's state. */
static bool make_stage(RtGpipe *gp, int k, char *err, size_t errcap)
{
    GpStage *s = &gp->st[k];
    const IrGraph *g = gp->t->st[k].spec.g;
    s->mb[0] = gp->t->st[k].ex;
    s->in_bytes = s->act_in >= 0 ? bytes_of(g, s->act_in, gp->micro) : 0;
    s->seed_bytes = s->seed >= 0 ? bytes_of(g, s->seed, gp->micro) : 0;
    if (!rt_grads_init(&s->grads, g)) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    for (int m = 1; m < gp->M; m++) {
        if (!(s->mb[m] = rt_make_exec(gp->t, g, gp->micro, err, errcap)))
            return false;
        for (int i = 0; i < g->n_nodes; i++) {
            IrOp op = g->nodes[i]->op;
            if (op == IR_OP_PARAM || op == IR_OP_STATE)
                rt_exec_share(s->mb[m], i, rt_exec_buffer(s->mb[0], i));
        }
    }
    size_t slot = 64 + (s->in_bytes > s->seed_bytes ? s->in_bytes : s->seed_bytes);
    if ((k > 0 && !rt_queue_init(&gp->fq[k], gp->M, slot)) ||
        (k < gp->K - 1 && !rt_queue_init(&gp->bq[k], gp->M, slot))) {
        snprintf(err, errcap, "out of memory for the pipeline queues");
        return false;
    }
    return true;
}

static bool check_request(const Trainer *t, int M, char *err, size_t errcap)
{
    if (M < 1 || M > RT_MAX_MICRO)
        snprintf(err, errcap, "pipeline: %d micro-batches: lnet supports 1 to %d", M,
                 RT_MAX_MICRO);
    else if (t->feed.batch % M != 0)
        snprintf(err, errcap, "pipeline: the batch (%d) must be a multiple of the number of "
                 "micro-batches (%d), so every micro-batch has the same size", t->feed.batch, M);
    else if (!rt_exec_has_phases(t->st[0].ex))
        snprintf(err, errcap, "pipeline: the '%s' executor cannot run a step in phases",
                 t->st[0].ex->ops->name);
    else
        return true;
    return false;
}

static bool start_threads(RtGpipe *gp, char *err, size_t errcap)
{
    pthread_mutex_init(&gp->mu, NULL);
    pthread_cond_init(&gp->go, NULL);
    pthread_cond_init(&gp->done, NULL);
    gp->sync_ready = true;
    for (int k = 1; k < gp->K; k++) {
        if (pthread_create(&gp->th[k], NULL, stage_main, &gp->st[k]) != 0) {
            snprintf(err, errcap, "cannot start a pipeline stage thread");
            return false;
        }
        gp->started++;
    }
    return true;
}

static bool gpipe_init(Trainer *t, char *err, size_t errcap)
{
    int M = t->o->microbatches;
    if (!check_request(t, M, err, errcap))
        return false;
    RtGpipe *gp = calloc(1, sizeof *gp);
    t->sched_state = gp;
    if (!gp) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    *gp = (RtGpipe){.t = t, .K = t->K, .M = M, .micro = t->feed.batch / M};
    if (!find_boundaries(gp)) {
        snprintf(err, errcap, "the pipeline schedule needs backprop stages that pass one "
                 "activation forward and its gradient back (the pipeline-stages pass)");
        return false;
    }
    for (int k = 0; k < gp->K; k++)
        if (!make_stage(gp, k, err, errcap))
            return false;
    t->n_workers = gp->K;
    for (int k = 0; k < gp->K; k++)
        t->ws[k] = (RtWorkerStats){.first_block = k, .last_block = k, .threads = 1};
    return start_threads(gp, err, errcap);
}

static void gpipe_fini(Trainer *t)
{
    RtGpipe *gp = t->sched_state;
    if (!gp)
        return;
    if (gp->sync_ready) {
        pthread_mutex_lock(&gp->mu);
        gp->quit = true;
        pthread_cond_broadcast(&gp->go);
        pthread_mutex_unlock(&gp->mu);
        for (int k = 1; k <= gp->started; k++)
            pthread_join(gp->th[k], NULL);
        pthread_mutex_destroy(&gp->mu);
        pthread_cond_destroy(&gp->go);
        pthread_cond_destroy(&gp->done);
    }
    for (int k = 0; k < gp->K; k++) {
        GpStage *s = &gp->st[k];
        for (int m = 1; m < gp->M; m++)
            rt_exec_free(s->mb[m]);
        rt_grads_fini(&s->grads);
        rt_queue_fini(&gp->fq[k]);
        rt_queue_fini(&gp->bq[k]);
    }
    free(gp);
    t->sched_state = NULL;
}

static bool gpipe_run(Trainer *t, int64_t end, char *err, size_t errcap)
{
    return rt_trainer_run_batches(t, end, gpipe_step, err, errcap);
}

const RtSchedule rt_schedule_pipeline = {"pipeline", gpipe_init, gpipe_run, gpipe_fini};
