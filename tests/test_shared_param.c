/* test_shared_param.c — overlap's shared parameter: the reader at step t
 * gets version max(base, t - D); it waits for the owner; closing wakes it. */
#include <criterion/criterion.h>

#include "shared_param.h"

#include <pthread.h>
#include <unistd.h>

Test(shared_param, reader_sees_the_version_d_steps_old)
{
    for (int D = 0; D <= 3; D++) {
        RtSharedParam s;
        float v = 100, got;
        cr_assert(rt_shared_param_init(&s, sizeof v, D, &v, 5));   /* resumed at step 5 */
        for (int64_t t = 5; t < 20; t++) {
            cr_assert(rt_shared_param_read(&s, t, &got));
            int64_t want = t - D > 5 ? t - D : 5;
            cr_assert_eq(got, (float)(want == 5 ? 100 : want), "D %d step %lld: %g", D,
                         (long long)t, got);
            v = (float)(t + 1);                 /* the owner's value after step t */
            rt_shared_param_publish(&s, t, &v);
        }
        rt_shared_param_fini(&s);
    }
}

/* The owner's step t needs the reader's output of step t (as in training:
 * the activation and the gradient contribution travel forward). */
typedef struct {
    RtSharedParam *s;
    int steps;
    int reader_done;            /* steps the reader has finished */
    pthread_mutex_t mu;
    pthread_cond_t cv;
} Owner;

static void *owner(void *arg)
{
    Owner *o = arg;
    for (int t = 0; t < o->steps; t++) {
        pthread_mutex_lock(&o->mu);
        while (o->reader_done <= t)
            pthread_cond_wait(&o->cv, &o->mu);
        pthread_mutex_unlock(&o->mu);
        usleep(100);
        float v = (float)(t + 1);
        rt_shared_param_publish(o->s, t, &v);
    }
    return NULL;
}

Test(shared_param, reader_waits_for_the_owner)
{
    RtSharedParam s;
    float v = 0, got;
    cr_assert(rt_shared_param_init(&s, sizeof v, 1, &v, 0));
    Owner o = {&s, 50, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
    pthread_t th;
    pthread_create(&th, NULL, owner, &o);
    for (int t = 0; t <= 50; t++) {
        cr_assert(rt_shared_param_read(&s, t, &got));
        cr_assert_eq(got, (float)(t - 1 > 0 ? t - 1 : 0));
        pthread_mutex_lock(&o.mu);
        o.reader_done = t + 1;
        pthread_cond_signal(&o.cv);
        pthread_mutex_unlock(&o.mu);
    }
    pthread_join(th, NULL);
    rt_shared_param_close(&s);
    cr_assert(!rt_shared_param_read(&s, 60, &got), "a closed ring must not block");
    rt_shared_param_fini(&s);
}
