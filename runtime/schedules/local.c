/* pipeline.c — the local schedule: one worker thread per block, bounded FIFO
 * queues of detached activations between neighbours, and a loader thread that
 * feeds block 0.
 *
 * Worker k takes (activation, labels) of batch t from q[k], copies them into
 * its executor's input buffers, releases the slot, runs its step and pushes
 * its output for batch t into q[k+1]. No barrier and no backward message:
 * block 1 may be several batches ahead of block K. Each queue is FIFO and each
 * worker's arithmetic depends only on its own state and inputs, so the numbers
 * are exactly those of the sequential schedule, whatever the timing.
 */
#include "rt_impl.h"
#include "trainer.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    Trainer *t;
    int k;
    int64_t start, end;     /* batches of the epoch to train (loader only) */
    int64_t step0, epoch;   /* global step of batch `start`, the epoch (loader only) */
    int32_t *y;             /* labels of the batch in flight (blocks without a label input) */
} Worker;

/* Bytes of one batch of labels (every block reads the same label tensor). */
static size_t y_bytes(const Trainer *t)
{
    int64_t m = 0;
    for (int k = 0; k < t->K; k++)
        m = t->st[k].y_elems > m ? t->st[k].y_elems : m;
    return (size_t)(t->feed.batch * m) * 4;
}

static int32_t *msg_y(Msg *m) { return (int32_t *)((unsigned char *)m + 64); }
static unsigned char *msg_payload(const Trainer *t, Msg *m)
{
    return (unsigned char *)m + 64 + ((y_bytes(t) + 63) & ~(size_t)63);
}

/* Records the first failure and wakes every thread. */
static void fail(Trainer *t, const char *msg)
{
    pthread_mutex_lock(&t->mu);
    if (!t->failed) {
        t->failed = true;
        snprintf(t->err, sizeof t->err, "%s", msg);
    }
    pthread_mutex_unlock(&t->mu);
    for (int k = 0; k < t->K; k++)
        rt_queue_close(&t->q[k]);
}

static void *loader_main(void *arg)
{
    Worker *w = arg;
    Trainer *t = w->t;
    for (int64_t i = w->start; i < w->end && !rt_stopping(t); i++) {
        Msg *m = rt_queue_reserve(&t->q[0], NULL);
        if (!m)
            break;
        *m = (Msg){w->epoch, i, w->step0 + (i - w->start), t->feed.batch};
        rt_feed_train_batch(&t->feed, w->epoch, i, msg_payload(t, m), msg_y(m));
        rt_queue_publish(&t->q[0]);
    }
    rt_queue_close(&t->q[0]);
    return NULL;
}

/* Copies the message into block k's input buffers; returns its header. */
static Msg receive(Worker *w, Msg *m)
{
    Trainer *t = w->t;
    Block *s = &t->st[w->k];
    unsigned char *p = msg_payload(t, m);
    memcpy(w->y, msg_y(m), y_bytes(t));
    if (s->spec.in_y >= 0)
        memcpy(rt_exec_buffer(s->ex, s->spec.in_y), w->y, (size_t)(m->n * s->y_elems) * 4);
    if (w->k == 0) {
        memcpy(rt_exec_buffer(s->ex, s->spec.in_x), p, (size_t)(m->n * s->x_elems) * 4);
        return *m;
    }
    for (int i = 0; i < s->spec.n_links; i++) {
        memcpy(rt_exec_buffer(s->ex, s->spec.links[i].node), p, s->link_bytes[i]);
        p += s->link_bytes[i];
    }
    return *m;
}

/* Packs what block k+1 reads from block k (its links) into its queue. */
static bool send(Worker *w, const Msg *h)
{
    Trainer *t = w->t;
    const Block *s = &t->st[w->k], *next = &t->st[w->k + 1];
    Msg *o = rt_queue_reserve(&t->q[w->k + 1], &t->ws[w->k].wait_out_s);
    if (!o)
        return false;
    *o = *h;
    memcpy(msg_y(o), w->y, y_bytes(t));
    unsigned char *p = msg_payload(t, o);
    for (int i = 0; i < next->spec.n_links; i++) {
        memcpy(p, rt_exec_buffer(s->ex, next->spec.links[i].src_node), next->link_bytes[i]);
        p += next->link_bytes[i];
    }
    rt_queue_publish(&t->q[w->k + 1]);
    return true;
}

/* The last block finished batch h: advance the counters, log, show progress. */
/* Each block's losses of step s, kept until the last block finishes s. A
 * block can be ahead of the last one by at most the batches in flight (queue
 * slots plus one per worker), which the ring's size bounds. */
static float *ring_row(Trainer *t, int64_t step)
{
    return t->loss_ring + (size_t)(step % t->ring_rows) * RT_MAX_HEADS;
}

static void record_losses(Trainer *t, int k, int64_t step, const float *loss)
{
    pthread_mutex_lock(&t->mu);
    float *row = ring_row(t, step);
    for (int i = 0; i < t->n_heads; i++)
        if (t->heads[i].stage == k)
            row[i] = loss[i];
    pthread_mutex_unlock(&t->mu);
}

/* The last block finished batch h: every block's loss of that step is in the
 * ring, so the log row is the same whatever the thread timing. A failed log
 * write stops the pipeline. */
static void finish_step(Trainer *t, const Msg *h, const float *loss)
{
    char err[512];
    record_losses(t, t->K - 1, h->step, loss);
    pthread_mutex_lock(&t->mu);
    memcpy(t->loss, ring_row(t, h->step), (size_t)t->n_heads * sizeof *t->loss);
    t->c.step = h->step + 1;
    t->c.step_in_epoch = h->index + 1;
    t->steps_run++;
    t->lr = rt_lr_at(t, h->step);
    bool logged = rt_log_step(t, err, sizeof err);
    rt_progress(t, false);
    pthread_mutex_unlock(&t->mu);
    if (!logged)
        fail(t, err);
}

static void *worker_main(void *arg)
{
    Worker *w = arg;
    Trainer *t = w->t;
    RtWorkerStats *ws = &t->ws[w->k];
    float loss[RT_MAX_HEADS];
    char err[512];
    for (;;) {
        Msg *m = rt_queue_take(&t->q[w->k], &ws->wait_in_s);
        if (!m)
            break;
        Msg h = receive(w, m);
        rt_queue_release(&t->q[w->k]);
        double t0 = rt_now_s();
        bool ok = rt_block_step(t, w->k, h.step, loss, err, sizeof err);
        ws->busy_s += rt_now_s() - t0;
        if (!ok) {
            fail(t, err);
            break;
        }
        ws->steps++;
        if (w->k + 1 < t->K) {
            record_losses(t, w->k, h.step, loss);
            if (!send(w, &h))
                break;
        } else {
            finish_step(t, &h, loss);
        }
    }
    if (w->k + 1 < t->K)
        rt_queue_close(&t->q[w->k + 1]);
    return NULL;
}

bool rt_pipeline_init(Trainer *t, char *err, size_t errcap)
{
    pthread_mutex_init(&t->mu, NULL);
    for (int k = 0; k < t->K; k++) {
        for (int i = 0; i < t->st[k].spec.n_links; i++) {
            int src = t->st[k].spec.links[i].src_stage;
            if (src != k - 1) {
                snprintf(err, errcap, "the local schedule passes values only forward to the next "
                         "block, but block %d reads from block %d (overlap shares parameters "
                         "between windows); use --schedule sequential", k + 1, src + 1);
                return false;
            }
        }
    }
    int cap = t->o->queue_cap > 0 ? t->o->queue_cap : 1;
    t->ring_rows = (int64_t)t->K * (cap + 2) + 2;
    t->loss_ring = calloc((size_t)t->ring_rows * RT_MAX_HEADS, sizeof *t->loss_ring);
    if (!t->loss_ring) {
        snprintf(err, errcap, "out of memory for the pipeline");
        return false;
    }
    for (int k = 0; k < t->K; k++) {
        size_t bytes = 64 + ((y_bytes(t) + 63) & ~(size_t)63) + t->st[k].payload;
        if (!rt_queue_init(&t->q[k], cap, bytes)) {
            snprintf(err, errcap, "out of memory for the pipeline queues (%d slots of %zu "
                     "bytes; a smaller --queue needs less)", cap, bytes);
            return false;
        }
    }
    if (t->o->blas_threads <= 0)
        openblas_set_num_threads(1);    /* the blocks are the parallelism */
    return true;
}

void rt_pipeline_fini(Trainer *t)
{
    free(t->loss_ring);
    t->loss_ring = NULL;
    for (int k = 0; k < t->K; k++)
        rt_queue_fini(&t->q[k]);
    pthread_mutex_destroy(&t->mu);
}

bool rt_pipeline_epoch(Trainer *t, int64_t end)
{
    pthread_t th[RT_MAX_BLOCKS + 1];
    Worker w[RT_MAX_BLOCKS + 1];
    int started = 0;
    for (int k = 0; k < t->K; k++)
        rt_queue_reset(&t->q[k]);
    t->failed = false;
    double t0 = rt_now_s();
    t->seg_start_s = t0;
    for (int k = 0; k <= t->K; k++) {
        bool loader = k == t->K;
        w[k] = (Worker){t, loader ? -1 : k, t->c.step_in_epoch, end, t->c.step, t->c.epoch, NULL};
        if (!loader && !(w[k].y = malloc(y_bytes(t) + 4))) {
            fail(t, "out of memory for a worker");
            break;
        }
        if (pthread_create(&th[k], NULL, loader ? loader_main : worker_main, &w[k]) != 0) {
            free(w[k].y);
            fail(t, "cannot start a worker thread");
            break;
        }
        started++;
    }
    for (int k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    for (int k = 0; k < started && k < t->K; k++)
        free(w[k].y);
    pthread_mutex_lock(&t->mu);
    t->train_s += rt_now_s() - t0;
    t->seg_start_s = 0;
    pthread_mutex_unlock(&t->mu);
    return !t->failed;
}
