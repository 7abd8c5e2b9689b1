/* queue.h — a bounded FIFO of fixed-size slots between two threads.
 *
 * The slots are allocated once (no allocation per step). A producer reserves
 * the next free slot, writes into it and publishes it; the consumer takes the
 * oldest published slot, reads it and releases it. Both sides block with a
 * condition variable; closing the queue wakes everyone and makes every later
 * call fail, which is how a failing worker stops the whole pipeline.
 */
#ifndef LNET_RT_QUEUE_H
#define LNET_RT_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct RtQueue {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    int cap;                /* slots */
    size_t slot_bytes;
    unsigned char *mem;     /* cap × slot_bytes */
    int64_t head, tail;     /* consumer takes head; producer fills tail */
    bool reserved, taken;   /* a slot is being written / read */
    bool closed;
} RtQueue;

/* cap (>= 1) slots of slot_bytes each; false when out of memory or when
 * their size does not fit in a size_t (the queue then holds no memory). */
bool rt_queue_init(RtQueue *q, int cap, size_t slot_bytes);
void rt_queue_fini(RtQueue *q);
/* Producer: a slot to write (blocks while full); NULL once closed. *waited
 * (may be NULL) accumulates the seconds spent blocked. */
void *rt_queue_reserve(RtQueue *q, double *waited);
void  rt_queue_publish(RtQueue *q);
/* Consumer: the oldest published slot (blocks while empty); NULL once closed
 * and empty. */
void *rt_queue_take(RtQueue *q, double *waited);
void  rt_queue_release(RtQueue *q);
/* Empties and reopens the queue; no thread may be using it. */
void  rt_queue_reset(RtQueue *q);
/* Wakes every waiter; later reserve/take return NULL (take drains first). */
void  rt_queue_close(RtQueue *q);

#endif
