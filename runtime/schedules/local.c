/* local.c — the local schedule: the blocks on W = min(K, cores) worker
 * threads, bounded FIFO queues of detached activations between neighbouring
 * workers, and a loader thread that feeds worker 0.
 *
 * Worker w runs the contiguous group of blocks the placement gave it
 * (placement.h), in order, on each batch, its products on its own team of
 * threads. It takes (labels, values) of batch t from q[w] — the values its
 * blocks read from the previous worker's — copies them into its executors'
 * input buffers, releases the slot, runs its blocks' steps (a block's links
 * from earlier blocks of the same group are copied directly) and pushes what
 * the next worker's blocks read into q[w+1]. No barrier and no backward
 * message: worker 0 may be several batches ahead of worker W-1. Overlap's
 * shared parameters are the one value that goes backward, through a version
 * ring with a fixed delay (shared_param.h), never through a queue. Each
 * queue is FIFO and each block's arithmetic depends only on its own state,
 * its inputs and the versions the delay fixes, so the numbers are exactly
 * those of the sequential schedule, whatever the timing.
 */
#include "rt_impl.h"
#include "schedule.h"
#include "queue.h"

#include <stdlib.h>
#include <string.h>

/* A message into worker w: this header (64 bytes), the labels, then the
 * payload (worker 0: the data batch; later workers: the values their blocks
 * read from the previous worker's, in block and link order). */
typedef struct Msg {
    int64_t epoch, index, step;
    int n;
} Msg;

typedef struct Local {
    Trainer *t;
    int W;
    RtQueue q[RT_MAX_BLOCKS];       /* q[w] feeds worker w */
    size_t y_bytes;                 /* one batch of labels, padded to 64 */
    float *loss_ring;               /* ring_rows × RT_MAX_HEADS: losses by step */
    int64_t ring_rows;
    pthread_mutex_t mu;             /* guards the ring, failed, err and step_done */
    bool failed;
    char err[512];
} Local;

typedef struct {
    Local *L;
    int w;                          /* -1: the loader */
    int64_t start, end;             /* loader: batches of the epoch to feed */
    int32_t *y;                     /* labels of the batch in flight */
} Worker;

static int first_block(const Local *L, int w) { return L->t->place.first[w]; }

/* A link into a block of worker w that arrives in worker w's messages. */
static bool arrives(const Local *L, int w, const RtLink *l)
{
    return l->kind == RT_LINK_VALUE && l->src_block < first_block(L, w);
}

static int32_t *msg_y(Msg *m) { return (int32_t *)((unsigned char *)m + 64); }
static unsigned char *msg_payload(const Local *L, Msg *m)
{
    return (unsigned char *)m + 64 + L->y_bytes;
}

/* Records the first failure and wakes every thread. */
static void fail(Local *L, const char *msg)
{
    pthread_mutex_lock(&L->mu);
    if (!L->failed) {
        L->failed = true;
        snprintf(L->err, sizeof L->err, "%s", msg);
    }
    pthread_mutex_unlock(&L->mu);
    for (int w = 0; w < L->W; w++)
        rt_queue_close(&L->q[w]);
    rt_trainer_abort(L->t);
}

static void *loader_main(void *arg)
{
    Worker *me = arg;
    Local *L = me->L;
    Trainer *t = L->t;
    int64_t step0 = t->c.step;
    for (int64_t i = me->start; i < me->end && !rt_stopping(t); i++) {
        Msg *m = rt_queue_reserve(&L->q[0], NULL);
        if (!m)
            break;
        *m = (Msg){t->c.epoch, i, step0 + (i - me->start), t->feed.batch};
        rt_feed_train_batch(&t->feed, t->c.epoch, i, msg_payload(L, m), msg_y(m));
        rt_queue_publish(&L->q[0]);
    }
    rt_queue_close(&L->q[0]);
    return NULL;
}

/* The message into the buffers of worker w's blocks; returns its header. */
static Msg receive(Worker *me, Msg *m)
{
    Local *L = me->L;
    Trainer *t = L->t;
    unsigned char *p = msg_payload(L, m);
    memcpy(me->y, msg_y(m), L->y_bytes);
    for (int k = first_block(L, me->w); k < t->place.first[me->w + 1]; k++) {
        Block *s = &t->st[k];
        if (s->spec.in_y >= 0)
            memcpy(rt_exec_buffer(s->ex, s->spec.in_y), me->y, (size_t)(m->n * s->y_elems) * 4);
        if (k == 0) {
            memcpy(rt_exec_buffer(s->ex, s->spec.in_x), p, (size_t)(m->n * s->x_elems) * 4);
            continue;
        }
        for (int i = 0; i < s->spec.n_links; i++)
            if (arrives(L, me->w, &s->spec.links[i])) {
                memcpy(rt_exec_buffer(s->ex, s->spec.links[i].node), p, s->link_bytes[i]);
                p += s->link_bytes[i];
            }
    }
    return *m;
}

/* Packs what worker w+1's blocks read from this worker's into q[w+1]. */
static bool send(Worker *me, const Msg *h)
{
    Local *L = me->L;
    Trainer *t = L->t;
    int next = me->w + 1;
    Msg *o = rt_queue_reserve(&L->q[next], &t->ws[me->w].wait_out_s);
    if (!o)
        return false;
    *o = *h;
    memcpy(msg_y(o), me->y, L->y_bytes);
    unsigned char *p = msg_payload(L, o);
    for (int k = first_block(L, next); k < t->place.first[next + 1]; k++) {
        const Block *s = &t->st[k];
        for (int i = 0; i < s->spec.n_links; i++) {
            const RtLink *l = &s->spec.links[i];
            if (!arrives(L, next, l))
                continue;
            memcpy(p, rt_exec_buffer(t->st[l->src_block].ex, l->src_node), s->link_bytes[i]);
            p += s->link_bytes[i];
        }
    }
    rt_queue_publish(&L->q[next]);
    return true;
}

/* Each block's losses of step s are kept until the last worker finishes s.
 * A worker can be ahead of the last one by at most the batches in flight
 * (queue slots plus one per worker), which the ring's size bounds. */
static float *ring_row(Local *L, int64_t step)
{
    return L->loss_ring + (size_t)(step % L->ring_rows) * RT_MAX_HEADS;
}

static void record_losses(Local *L, int k, int64_t step, const float *loss)
{
    pthread_mutex_lock(&L->mu);
    float *row = ring_row(L, step);
    for (int i = 0; i < L->t->n_heads; i++)
        if (L->t->heads[i].block == k)
            row[i] = loss[i];
    pthread_mutex_unlock(&L->mu);
}

/* The last worker finished batch h: every block's loss of that step is in
 * the ring, so the log row is the same whatever the thread timing. */
static bool finish_step(Local *L, const Msg *h, char *err, size_t errcap)
{
    pthread_mutex_lock(&L->mu);
    bool ok = rt_trainer_step_done(L->t, h->step, h->index, ring_row(L, h->step), err, errcap);
    pthread_mutex_unlock(&L->mu);
    return ok;
}

/* Worker w's blocks on one batch; false (with err) on failure. */
static bool run_group(Worker *me, const Msg *h, float *loss, char *err, size_t errcap)
{
    Trainer *t = me->L->t;
    int from = first_block(me->L, me->w);
    for (int k = from; k < t->place.first[me->w + 1]; k++) {
        if (!rt_block_step(t, k, from, h->step, loss, err, errcap))
            return false;
        record_losses(me->L, k, h->step, loss);
    }
    return true;
}

static void *worker_main(void *arg)
{
    Worker *me = arg;
    Local *L = me->L;
    Trainer *t = L->t;
    RtWorkerStats *ws = &t->ws[me->w];
    bool last = me->w + 1 == L->W;
    float loss[RT_MAX_HEADS];
    char err[512];
    rt_team_bind(t->team[me->w]);
    for (;;) {
        Msg *m = rt_queue_take(&L->q[me->w], &ws->wait_in_s);
        if (!m)
            break;
        Msg h = receive(me, m);
        rt_queue_release(&L->q[me->w]);
        double t0 = rt_now_s();
        bool ok = run_group(me, &h, loss, err, sizeof err);
        ws->busy_s += rt_now_s() - t0;
        ok = ok && (last ? finish_step(L, &h, err, sizeof err) : send(me, &h));
        if (!ok) {
            fail(L, err);   /* only the first failure is kept */
            break;
        }
        ws->steps++;
    }
    rt_team_bind(NULL);
    if (!last)
        rt_queue_close(&L->q[me->w + 1]);
    return NULL;
}

/* Every value a block reads from another worker must come from the
 * previous one (the only queue into it). */
static bool check_links(Local *L, char *err, size_t errcap)
{
    Trainer *t = L->t;
    for (int w = 1; w < L->W; w++)
        for (int k = first_block(L, w); k < t->place.first[w + 1]; k++)
            for (int i = 0; i < t->st[k].spec.n_links; i++) {
                const RtLink *l = &t->st[k].spec.links[i];
                if (arrives(L, w, l) && l->src_block < first_block(L, w - 1)) {
                    snprintf(err, errcap, "the local schedule passes values only to the next "
                             "worker, but block %d (worker %d) reads from block %d (worker %d); "
                             "use --schedule sequential or more blocks per worker (--threads)",
                             k + 1, w + 1, l->src_block + 1, t->st[l->src_block].worker + 1);
                    return false;
                }
            }
    return true;
}

/* Bytes of a message into worker w besides its header and labels. */
static size_t payload_bytes(Local *L, int w)
{
    Trainer *t = L->t;
    size_t bytes = w == 0 ? (size_t)(t->feed.batch * t->st[0].x_elems) * 4 : 0;
    for (int k = first_block(L, w); w > 0 && k < t->place.first[w + 1]; k++)
        for (int i = 0; i < t->st[k].spec.n_links; i++)
            if (arrives(L, w, &t->st[k].spec.links[i]))
                bytes += t->st[k].link_bytes[i];
    return bytes;
}

static bool local_init(Trainer *t, char *err, size_t errcap)
{
    Local *L = calloc(1, sizeof *L);
    if (!L) {
        snprintf(err, errcap, "out of memory for the local schedule");
        return false;
    }
    t->sched_state = L;
    L->t = t;
    L->W = t->place.workers;
    pthread_mutex_init(&L->mu, NULL);
    if (!check_links(L, err, errcap))
        return false;
    int64_t ymax = 0;
    for (int k = 0; k < t->K; k++)
        ymax = t->st[k].y_elems > ymax ? t->st[k].y_elems : ymax;
    L->y_bytes = ((size_t)(t->feed.batch * ymax) * 4 + 63) & ~(size_t)63;
    int cap = t->o->queue_cap > 0 ? t->o->queue_cap : 1;
    L->ring_rows = (int64_t)L->W * (cap + 2) + 2;
    L->loss_ring = calloc((size_t)L->ring_rows * RT_MAX_HEADS, sizeof *L->loss_ring);
    if (!L->loss_ring) {
        snprintf(err, errcap, "out of memory for the local schedule");
        return false;
    }
    for (int w = 0; w < L->W; w++) {
        if (!rt_queue_init(&L->q[w], cap, 64 + L->y_bytes + payload_bytes(L, w))) {
            snprintf(err, errcap, "out of memory for the local schedule's queues");
            return false;
        }
        t->ws[w] = (RtWorkerStats){.first_block = first_block(L, w),
                                   .last_block = t->place.first[w + 1] - 1,
                                   .threads = t->place.threads[w]};
    }
    t->n_workers = L->W;
    return true;
}

static void local_fini(Trainer *t)
{
    Local *L = t->sched_state;
    if (!L)
        return;
    free(L->loss_ring);
    for (int w = 0; w < L->W; w++)
        if (L->q[w].mem)
            rt_queue_fini(&L->q[w]);
    pthread_mutex_destroy(&L->mu);
    free(L);
    t->sched_state = NULL;
}

static bool local_run(Trainer *t, int64_t end, char *err, size_t errcap)
{
    Local *L = t->sched_state;
    pthread_t th[RT_MAX_BLOCKS + 1];
    Worker w[RT_MAX_BLOCKS + 1];
    int started = 0;
    for (int i = 0; i < L->W; i++)
        rt_queue_reset(&L->q[i]);
    L->failed = false;
    for (int i = 0; i <= L->W; i++) {
        bool loader = i == L->W;
        w[i] = (Worker){L, loader ? -1 : i, t->c.step_in_epoch, end, NULL};
        if (!loader && !(w[i].y = malloc(L->y_bytes + 4))) {
            fail(L, "out of memory for a worker");
            break;
        }
        if (pthread_create(&th[i], NULL, loader ? loader_main : worker_main, &w[i]) != 0) {
            free(w[i].y);
            fail(L, "cannot start a worker thread");
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < started && i < L->W; i++)
        free(w[i].y);
    if (L->failed)
        snprintf(err, errcap, "%s", L->err);
    return !L->failed;
}

const RtSchedule rt_schedule_local = {"local", local_init, local_run, local_fini};
