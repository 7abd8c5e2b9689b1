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
 *
 * In a distributed run (trainer.h, dist.c) each rank runs this schedule on
 * its own group of blocks. Its worker 0 is fed by a receiver thread that
 * takes the previous rank's messages (the rank that holds block 1 has the
 * loader instead), and its last worker's messages go into an outbox that a
 * sender thread sends to the next rank, so transfers overlap compute; the
 * rank holding the last block finishes the steps. A message carries the
 * losses of every head so far, so the last rank sees each step's whole row.
 * Overlap's shared parameter crosses ranks backward, one message per
 * version, received by a thread into the reader's version ring.
 */
#include "rt_impl.h"
#include "schedule.h"
#include "queue.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A message into worker w: this header (HDR bytes), the labels, then the
 * payload (worker 0 of block 1: the data batch; later workers: the values
 * their blocks read from earlier workers' blocks, in block and link order).
 * `end` marks the last message of a segment between ranks; `loss` holds the
 * heads' losses of the step so far (between ranks). */
typedef struct Msg {
    int64_t epoch, index, step;
    int32_t n, end;
    float loss[RT_MAX_HEADS];
} Msg;

enum { HDR = (sizeof(Msg) + 63) & ~(size_t)63 };

typedef struct Local {
    Trainer *t;
    int W;
    RtQueue q[RT_MAX_BLOCKS + 1];   /* q[w] feeds worker w; q[W]: the outbox to the next rank */
    size_t y_bytes;                 /* one batch of labels, padded to 64 */
    float *loss_ring;               /* ring_rows × RT_MAX_HEADS: losses by step */
    RtHealth *health_ring;          /* ring_rows × RT_MAX_BLOCKS: blocks' health by step */
    int64_t ring_rows;
    pthread_mutex_t mu;             /* guards the ring, failed, err and step_done */
    bool failed;
    char err[512];
    /* a distributed run */
    bool receive, send;             /* worker 0 fed by the previous rank; outbox to the next */
    size_t in_bytes, out_bytes;     /* of those messages */
    int prev_rank, next_rank;
} Local;

typedef struct {
    Local *L;
    int w;                          /* -1: the loader or receiver; -2: the sender; -3: a
                                       shared parameter's receiver */
    int64_t start, end;             /* loader: batches of the epoch to feed */
    int32_t *y;                     /* labels of the batch in flight */
    int shared;                     /* -3: the shared parameter */
} Worker;

static int first_block(const Local *L, int w) { return L->t->place.first[w]; }

/* A link into a block of worker w that arrives in worker w's messages. */
static bool arrives(const Local *L, int w, const RtLink *l)
{
    return l->kind == RT_LINK_VALUE && l->src_block < first_block(L, w);
}

static int32_t *msg_y(Msg *m) { return (int32_t *)((unsigned char *)m + HDR); }
static unsigned char *msg_payload(const Local *L, Msg *m)
{
    return (unsigned char *)m + HDR + L->y_bytes;
}

/* Records the first failure and wakes every thread; a distributed run ends
 * every rank with it. */
static void fail(Local *L, const char *msg)
{
    if (L->t->comm)
        L->t->comm->ops->abort(L->t->comm, msg);
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

/* Each block's losses and health of step s are kept until the last worker
 * finishes s.
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
    L->health_ring[(step % L->ring_rows) * RT_MAX_BLOCKS + k] = L->t->st[k].health;
    pthread_mutex_unlock(&L->mu);
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
        *m = (Msg){.epoch = t->c.epoch, .index = i, .step = step0 + (i - me->start),
                   .n = t->n_step};
        unsigned char *x = msg_payload(L, m);
        int32_t *y = msg_y(m);
        rt_feed_train_batch(&t->feed, t->c.epoch, i, x, y);
        if (t->replicas > 1) {
            /* this replica's part of the batch */
            size_t xb = (size_t)(t->n_step * t->st[0].x_elems) * 4;
            size_t yb = (size_t)(t->n_step * t->st[0].y_elems) * 4;
            memmove(x, x + (size_t)t->replica * xb, xb);
            memmove(y, (unsigned char *)y + (size_t)t->replica * yb, yb);
        }
        rt_queue_publish(&L->q[0]);
    }
    rt_queue_close(&L->q[0]);
    return NULL;
}

/* Worker 0's batches from the previous rank, until its end marker. */
static void *receiver_main(void *arg)
{
    Worker *me = arg;
    Local *L = me->L;
    RtComm *c = L->t->comm;
    for (;;) {
        Msg *m = rt_queue_reserve(&L->q[0], NULL);
        if (!m)
            break;
        c->ops->recv(c, L->prev_rank, RT_TAG_ACT, m, L->in_bytes);
        if (m->end)
            break;
        rt_queue_publish(&L->q[0]);
    }
    rt_queue_close(&L->q[0]);
    return NULL;
}

/* The last worker's messages to the next rank, then the end marker. */
static void *sender_main(void *arg)
{
    Worker *me = arg;
    Local *L = me->L;
    RtComm *c = L->t->comm;
    RtWorkerStats *ws = &L->t->ws[L->W - 1];
    Msg *m;
    while ((m = rt_queue_take(&L->q[L->W], NULL))) {
        double t0 = rt_now_s();
        c->ops->send(c, L->next_rank, RT_TAG_ACT, m, L->out_bytes);
        ws->send_s += rt_now_s() - t0;
        ws->bytes_sent += (int64_t)L->out_bytes;
        rt_queue_release(&L->q[L->W]);
    }
    Msg end = {.end = 1};
    c->ops->send(c, L->next_rank, RT_TAG_ACT, &end, sizeof end);
    return NULL;
}

/* Overlap: versions of shared parameter i from the owner's rank into the
 * reader's ring, until the end marker (a negative step). */
static void *shared_main(void *arg)
{
    Worker *me = arg;
    Trainer *t = me->L->t;
    Shared *sh = &t->shared[me->shared];
    for (;;) {
        t->comm->ops->recv(t->comm, rt_dist_peer(t, sh->owner), RT_TAG_PARAM + me->shared,
                           sh->msg, 64 + sh->p.bytes);
        int64_t step = *(int64_t *)sh->msg;
        if (step < 0)
            break;
        rt_shared_param_publish(&sh->p, step, (char *)sh->msg + 64);
    }
    return NULL;
}

static void copy_losses(Local *L, int64_t step, float *dst, bool from_ring)
{
    pthread_mutex_lock(&L->mu);
    float *row = ring_row(L, step);
    if (from_ring)
        memcpy(dst, row, sizeof(float) * RT_MAX_HEADS);
    else
        for (int h = 0; h < L->t->n_heads; h++)
            if (L->t->heads[h].block < L->t->b0)
                row[h] = dst[h];
    pthread_mutex_unlock(&L->mu);
}

/* The message into the buffers of worker w's blocks; returns its header. */
static Msg receive(Worker *me, Msg *m)
{
    Local *L = me->L;
    Trainer *t = L->t;
    unsigned char *p = msg_payload(L, m);
    memcpy(me->y, msg_y(m), L->y_bytes);
    if (me->w == 0 && L->receive)
        copy_losses(L, m->step, m->loss, false);
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

/* Blocks [a, b) of the next worker or rank: what they read from blocks
 * before a, into p (NULL: only counted); returns the bytes. */
static size_t pack(const Trainer *t, int a, int b, unsigned char *p)
{
    size_t bytes = 0;
    for (int k = a; k < b; k++) {
        const Block *s = &t->st[k];
        for (int i = 0; i < s->spec.n_links; i++) {
            const RtLink *l = &s->spec.links[i];
            if (l->kind != RT_LINK_VALUE || l->src_block >= a)
                continue;
            if (p)
                memcpy(p + bytes, rt_exec_buffer(t->st[l->src_block].ex, l->src_node),
                       s->link_bytes[i]);
            bytes += s->link_bytes[i];
        }
    }
    return bytes;
}

/* The next group's blocks [b1, end) (a distributed run). */
static int next_group_end(const Trainer *t)
{
    return t->groups.first[rt_place_worker(&t->groups, t->b1) + 1];
}

/* Packs what worker w+1's blocks read from this worker's into q[w+1] (the
 * last worker of a rank before the last: what the next rank reads, into
 * the outbox). */
static bool send(Worker *me, const Msg *h)
{
    Local *L = me->L;
    Trainer *t = L->t;
    int next = me->w + 1;
    bool out = next == L->W;
    Msg *o = rt_queue_reserve(&L->q[next], &t->ws[me->w].wait_out_s);
    if (!o)
        return false;
    *o = *h;
    memcpy(msg_y(o), me->y, L->y_bytes);
    if (out)
        copy_losses(L, h->step, o->loss, true);
    pack(t, out ? t->b1 : first_block(L, next), out ? next_group_end(t) : first_block(L, next + 1),
         msg_payload(L, o));
    rt_queue_publish(&L->q[next]);
    if (out) {
        /* this rank's share of the step is done */
        pthread_mutex_lock(&L->mu);
        t->c.step = h->step + 1;
        t->c.step_in_epoch = h->index + 1;
        t->steps_run++;
        pthread_mutex_unlock(&L->mu);
    }
    return true;
}

/* The last worker finished batch h: every block's loss and health of that
 * step are in the rings, so the log row is the same whatever the thread
 * timing (a distributed run: the health of this rank's blocks only). */
static bool finish_step(Local *L, const Msg *h, char *err, size_t errcap)
{
    pthread_mutex_lock(&L->mu);
    memcpy(L->t->health, L->health_ring + (h->step % L->ring_rows) * RT_MAX_BLOCKS,
           sizeof L->t->health);
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
    bool last = me->w + 1 == L->W && !L->send;     /* finishes the steps */
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
 * previous one (the only queue into it); every value the next rank reads,
 * from this rank's last worker. */
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
    for (int k = t->b1; L->send && k < next_group_end(t); k++)
        for (int i = 0; i < t->st[k].spec.n_links; i++) {
            const RtLink *l = &t->st[k].spec.links[i];
            if (l->kind == RT_LINK_VALUE && l->src_block < first_block(L, L->W - 1)) {
                snprintf(err, errcap, "ranks pass values only to the next rank's first worker, "
                         "but block %d (rank %d) reads from block %d (rank %d); use fewer ranks "
                         "or threads per rank", k + 1, L->next_rank, l->src_block + 1,
                         rt_dist_rank_of(t, l->src_block));
                return false;
            }
        }
    return true;
}

/* Bytes of a message into worker w (W: the outbox) besides its header and
 * labels. */
static size_t payload_bytes(Local *L, int w)
{
    Trainer *t = L->t;
    if (w == 0 && first_block(L, 0) == 0)
        return (size_t)(t->feed.batch * t->st[0].x_elems) * 4;
    if (w == L->W)
        return pack(t, t->b1, next_group_end(t), NULL);
    return pack(t, first_block(L, w), t->place.first[w + 1], NULL);
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
    L->receive = t->comm && t->b0 > 0;
    L->send = t->comm && t->b1 < t->K;
    L->prev_rank = t->rank + t->replicas;      /* the same replica of the groups around */
    L->next_rank = t->rank - t->replicas;
    if (!check_links(L, err, errcap))
        return false;
    int64_t ymax = 0;
    for (int k = 0; k < t->K; k++)
        ymax = t->st[k].y_elems > ymax ? t->st[k].y_elems : ymax;
    L->y_bytes = ((size_t)(t->feed.batch * ymax) * 4 + 63) & ~(size_t)63;
    int cap = t->o->queue_cap > 0 ? t->o->queue_cap : 1;
    L->ring_rows = (int64_t)L->W * (cap + 2) + 2;
    L->loss_ring = calloc((size_t)L->ring_rows * RT_MAX_HEADS, sizeof *L->loss_ring);
    L->health_ring = calloc((size_t)L->ring_rows * RT_MAX_BLOCKS, sizeof *L->health_ring);
    t->health_by_schedule = true;
    if (!L->loss_ring || !L->health_ring) {
        snprintf(err, errcap, "out of memory for the local schedule");
        return false;
    }
    L->in_bytes = HDR + L->y_bytes + payload_bytes(L, 0);
    L->out_bytes = HDR + L->y_bytes + payload_bytes(L, L->W);
    if (t->comm && (L->in_bytes > INT_MAX || L->out_bytes > INT_MAX)) {
        snprintf(err, errcap, "a batch's message between ranks would exceed 2 GiB; use a "
                 "smaller batch");
        return false;
    }
    for (int w = 0; w < L->W + L->send; w++) {
        if (!rt_queue_init(&L->q[w], cap, HDR + L->y_bytes + payload_bytes(L, w))) {
            snprintf(err, errcap, "out of memory for the local schedule's queues");
            return false;
        }
        if (w < L->W)
            t->ws[w] = (RtWorkerStats){.rank = t->comm ? t->rank : 0,
                                       .first_block = first_block(L, w),
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
    free(L->health_ring);
    for (int w = 0; w < L->W + L->send; w++)
        if (L->q[w].mem)
            rt_queue_fini(&L->q[w]);
    pthread_mutex_destroy(&L->mu);
    free(L);
    t->sched_state = NULL;
}

/* Overlap across ranks: the shared parameters whose versions this rank
 * receives (its block reads them) or sends (its block owns them). */
static bool receives_shared(const Trainer *t, int i)
{
    return t->shared[i].msg && rt_dist_peer(t, t->shared[i].reader) == t->rank;
}

static bool sends_shared(const Trainer *t, int i)
{
    return t->shared[i].msg && rt_dist_peer(t, t->shared[i].owner) == t->rank;
}

static bool local_run(Trainer *t, int64_t end, char *err, size_t errcap)
{
    Local *L = t->sched_state;
    enum { MAX_THREADS = 2 * RT_MAX_BLOCKS + 2 };
    pthread_t th[MAX_THREADS];
    Worker w[MAX_THREADS];
    int n = 0, started = 0;
    for (int i = 0; i < L->W + L->send; i++)
        rt_queue_reset(&L->q[i]);
    L->failed = false;
    /* the workers, then the feeder of worker 0, the sender, the receivers
     * of shared parameters */
    for (int i = 0; i < L->W; i++)
        w[n++] = (Worker){L, i, 0, 0, NULL, 0};
    w[n++] = (Worker){L, -1, t->c.step_in_epoch, end, NULL, 0};
    if (L->send)
        w[n++] = (Worker){L, -2, 0, 0, NULL, 0};
    for (int i = 0; i < t->n_shared && n < MAX_THREADS; i++)
        if (receives_shared(t, i))
            w[n++] = (Worker){L, -3, 0, 0, NULL, i};
    for (int i = 0; i < n; i++) {
        void *(*fn)(void *) = w[i].w >= 0 ? worker_main
                            : w[i].w == -1 ? (L->receive ? receiver_main : loader_main)
                            : w[i].w == -2 ? sender_main : shared_main;
        if (w[i].w >= 0 && !(w[i].y = malloc(L->y_bytes + 4))) {
            fail(L, "out of memory for a worker");
            break;
        }
        if (pthread_create(&th[i], NULL, fn, &w[i]) != 0) {
            free(w[i].y);
            fail(L, "cannot start a worker thread");
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        if (i == L->W - 1)      /* every worker is done: the shared versions are sent */
            for (int s = 0; s < t->n_shared; s++)
                if (sends_shared(t, s)) {
                    *(int64_t *)t->shared[s].msg = -1;
                    t->comm->ops->send(t->comm, rt_dist_peer(t, t->shared[s].reader),
                                       RT_TAG_PARAM + s, t->shared[s].msg, 64);
                }
    }
    for (int i = 0; i < started && i < L->W; i++)
        free(w[i].y);
    if (L->failed)
        snprintf(err, errcap, "%s", L->err);
    return !L->failed;
}

const RtSchedule rt_schedule_local = {"local", local_init, local_run, local_fini};
