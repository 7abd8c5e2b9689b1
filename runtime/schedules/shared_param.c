/* shared_param.c — overlap's shared parameter versions (see shared_param.h). */
#include "shared_param.h"

#include <stdlib.h>
#include <string.h>

static unsigned char *slot(const RtSharedParam *s, int64_t v)
{
    return s->ring + (size_t)(v % (s->delay + 1)) * s->bytes;
}

bool rt_shared_param_init(RtSharedParam *s, size_t bytes, int delay, const void *value,
                          int64_t base)
{
    memset(s, 0, sizeof *s);
    s->ring = malloc((size_t)(delay + 1) * bytes + 1);
    if (!s->ring)
        return false;
    s->bytes = bytes;
    s->delay = delay;
    s->base = s->published = base;
    if (value)
        memcpy(slot(s, base), value, bytes);
    else
        memset(slot(s, base), 0, bytes);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    return true;
}

void rt_shared_param_fini(RtSharedParam *s)
{
    if (!s->ring)
        return;
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->ring);
    s->ring = NULL;
}

void rt_shared_param_publish(RtSharedParam *s, int64_t step, const void *value)
{
    pthread_mutex_lock(&s->mu);
    memcpy(slot(s, step + 1), value, s->bytes);
    s->published = step + 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

bool rt_shared_param_read(RtSharedParam *s, int64_t step, void *dst)
{
    int64_t v = step - s->delay > s->base ? step - s->delay : s->base;
    pthread_mutex_lock(&s->mu);
    while (s->published < v && !s->closed)
        pthread_cond_wait(&s->cv, &s->mu);
    bool ok = s->published >= v;
    pthread_mutex_unlock(&s->mu);
    /* The slot of v is rewritten only by version v + delay + 1, which the
     * owner publishes after a step that needs this reader's output of this
     * step: no lock needed for the copy. */
    if (ok)
        memcpy(dst, slot(s, v), s->bytes);
    return ok;
}

void rt_shared_param_close(RtSharedParam *s)
{
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void rt_shared_param_reopen(RtSharedParam *s)
{
    pthread_mutex_lock(&s->mu);
    s->closed = false;
    pthread_mutex_unlock(&s->mu);
}
