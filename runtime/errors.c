/* errors.c — the one writer of "PATH: message" errors for the loaders
 * (IDX, text corpus, safetensors) — see rt_impl.h. */
#include "rt_impl.h"

#include <stdarg.h>
#include <stdio.h>

bool rt_fail_path(char *err, size_t cap, const char *path, const char *fmt, ...)
{
    int k = snprintf(err, cap, "%s: ", path);
    if (k >= 0 && (size_t)k < cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + k, cap - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return false;
}
