/* shared_param.h — a parameter two overlap windows share, with a fixed
 * staleness.
 *
 * The later window owns the parameter and updates it; the earlier window
 * reads it. Version v is the value after the owner's v-th update (the count
 * of steps: version `base` is the value the run starts from). At step t
 * (0-based, counted over the whole run) the reader uses version
 * max(base, t - delay): with delay 0 the value after step t - 1, exactly the
 * lockstep semantics; with delay D, the value D updates older, which lets the
 * two windows run at the same time. The owner keeps delay + 1 versions.
 *
 * Thread-safe: the owner publishes from one thread, the reader waits on
 * another. A reader waits until its version is published; closing wakes it
 * with failure (another worker failed).
 */
#ifndef LNET_RT_SHARED_PARAM_H
#define LNET_RT_SHARED_PARAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct RtSharedParam {
    size_t bytes;               /* of one version */
    int delay;                  /* D >= 0 */
    unsigned char *ring;        /* (delay + 1) versions; version v in slot v mod (delay + 1) */
    int64_t base;               /* the first version */
    int64_t published;          /* the newest version in the ring */
    bool closed;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} RtSharedParam;

/* Caller-owned s; `value` (bytes; NULL: zeros) is version `base`. False: out of
 * memory. */
bool rt_shared_param_init(RtSharedParam *s, size_t bytes, int delay, const void *value,
                          int64_t base);
void rt_shared_param_fini(RtSharedParam *s);
/* The owner, after the update of step `step`: its value is version step + 1. */
void rt_shared_param_publish(RtSharedParam *s, int64_t step, const void *value);
/* The reader, before step `step`: copies version max(base, step - delay) into
 * dst, waiting for the owner if needed; false when closed. */
bool rt_shared_param_read(RtSharedParam *s, int64_t step, void *dst);
/* Wakes a waiting reader for good (the run failed or stops); reopened by
 * rt_shared_param_reopen before the next segment of training. */
void rt_shared_param_close(RtSharedParam *s);
void rt_shared_param_reopen(RtSharedParam *s);

#endif
