/* queue.c — see queue.h. One mutex and one condition variable per queue:
 * each queue has exactly one producer and one consumer, and both wait for
 * the same event (the queue changed). */
#include "rt_impl.h"
#include "queue.h"

#include <stdlib.h>
#include <time.h>

bool rt_queue_init(RtQueue *q, int cap, size_t slot_bytes)
{
    q->cap = cap;
    q->slot_bytes = (slot_bytes + 63) & ~(size_t)63;
    q->mem = NULL;
    q->head = q->tail = 0;
    q->reserved = q->taken = q->closed = false;
    if (cap < 1 || q->slot_bytes < slot_bytes || q->slot_bytes > SIZE_MAX / (size_t)cap)
        return false;   /* the size does not fit in size_t */
    q->mem = aligned_alloc(64, (size_t)cap * q->slot_bytes);
    if (!q->mem)
        return false;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->changed, NULL);
    return true;
}

void rt_queue_fini(RtQueue *q)
{
    if (!q->mem)
        return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->changed);
    free(q->mem);
    q->mem = NULL;
}

static void *slot(RtQueue *q, int64_t i) { return q->mem + (size_t)(i % q->cap) * q->slot_bytes; }

void *rt_queue_reserve(RtQueue *q, double *waited)
{
    pthread_mutex_lock(&q->mu);
    double t0 = 0;
    if (q->tail - q->head == q->cap && !q->closed && waited)
        t0 = rt_now_s();
    while (q->tail - q->head == q->cap && !q->closed)
        pthread_cond_wait(&q->changed, &q->mu);
    if (t0 > 0)
        *waited += rt_now_s() - t0;
    void *p = q->closed ? NULL : slot(q, q->tail);
    q->reserved = p != NULL;
    pthread_mutex_unlock(&q->mu);
    return p;
}

void rt_queue_publish(RtQueue *q)
{
    pthread_mutex_lock(&q->mu);
    q->tail++;
    q->reserved = false;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->mu);
}

void *rt_queue_take(RtQueue *q, double *waited)
{
    pthread_mutex_lock(&q->mu);
    double t0 = 0;
    if (q->tail == q->head && !q->closed && waited)
        t0 = rt_now_s();
    while (q->tail == q->head && !q->closed)
        pthread_cond_wait(&q->changed, &q->mu);
    if (t0 > 0)
        *waited += rt_now_s() - t0;
    void *p = q->tail == q->head ? NULL : slot(q, q->head);
    q->taken = p != NULL;
    pthread_mutex_unlock(&q->mu);
    return p;
}

void rt_queue_release(RtQueue *q)
{
    pthread_mutex_lock(&q->mu);
    q->head++;
    q->taken = false;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->mu);
}

void rt_queue_close(RtQueue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->mu);
}

void rt_queue_reset(RtQueue *q)
{
    pthread_mutex_lock(&q->mu);
    q->head = q->tail = 0;
    q->reserved = q->taken = q->closed = false;
    pthread_mutex_unlock(&q->mu);
}
