/* rt_impl.h — small internals shared across the runtime's files: the
 * monotonic clock and the "PATH: message" error writer used by every loader. */
#ifndef LNET_RT_IMPL_H
#define LNET_RT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double rt_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes "PATH: message" into err (cap bytes) and returns false. */
bool rt_fail_path(char *err, size_t cap, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
