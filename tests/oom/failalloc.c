/* failalloc.c — the wrappers behind failalloc.h.
 *
 * `ld --wrap=malloc` sends the linked objects' calls to malloc to
 * __wrap_malloc and lets __real_malloc name the real one. Each wrapper:
 *   1. while armed, numbers the call and decides whether it fails;
 *   2. otherwise calls the real function;
 *   3. while armed, records the result (pointer, number, caller) in an
 *      open-addressing table, which free/fclose/gzclose remove it from.
 * Memory acquired before arming, or by libc itself (an open_memstream
 * buffer), is not in the table, so freeing it changes nothing. One mutex
 * guards the state: lnet's worker threads may allocate too.
 */
#define _GNU_SOURCE
#include "failalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void __real_free(void *p);
FILE *__real_fopen(const char *path, const char *mode);
FILE *__real_fdopen(int fd, const char *mode);
FILE *__real_open_memstream(char **buf, size_t *len);
int __real_fclose(FILE *f);
gzFile __real_gzopen(const char *path, const char *mode);
int __real_gzclose(gzFile g);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
FILE *__wrap_fopen(const char *path, const char *mode);
FILE *__wrap_fdopen(int fd, const char *mode);
FILE *__wrap_open_memstream(char **buf, size_t *len);
int __wrap_fclose(FILE *f);
gzFile __wrap_gzopen(const char *path, const char *mode);
int __wrap_gzclose(gzFile g);

extern const char __executable_start[];     /* GNU ld: where the executable is mapped */

enum { SLOTS = 1 << 17 };                   /* > acquisitions of one armed run */
#define TOMB ((const void *)1)

typedef struct {
    const void *p;          /* NULL: empty; TOMB: removed */
    long seq;               /* acquisition number */
    const char *what;       /* "malloc", "fopen", ... */
    const void *site;       /* the caller's return address */
} Slot;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static Slot table[SLOTS];
static long used, live;     /* slots not empty; live entries */
static bool armed, failed;
static long count, fail_at;
static FaMode fail_mode;
static const void *fail_site;
static const char *fail_what;
static char *note;
static unsigned long note_cap;

static void describe(char *buf, unsigned long cap, long seq, const char *what, const void *site)
{
    snprintf(buf, cap, "acquisition %ld (%s) at test_oom+0x%lx", seq, what,
             (unsigned long)((const char *)site - __executable_start - 1));
}

static size_t hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 47) & (SLOTS - 1);
}

static void track(const void *p, long seq, const char *what, const void *site)
{
    if (used >= SLOTS / 2) {
        fprintf(stderr, "failalloc: more than %d acquisitions in one armed run\n", SLOTS / 2);
        abort();
    }
    size_t i = hash(p);
    while (table[i].p && table[i].p != TOMB)
        i = (i + 1) & (SLOTS - 1);
    if (!table[i].p)
        used++;
    table[i] = (Slot){p, seq, what, site};
    live++;
}

static void untrack(const void *p)
{
    if (!p || !live)
        return;
    for (size_t i = hash(p); table[i].p; i = (i + 1) & (SLOTS - 1))
        if (table[i].p == p) {
            table[i].p = TOMB;
            live--;
            return;
        }
}

/* Step 1: numbers an acquisition; true if it must fail. */
static bool should_fail(long *seq, const char *what, const void *site)
{
    *seq = 0;
    if (!armed)
        return false;
    *seq = ++count;
    bool fail = fail_at > 0 && (count == fail_at || (fail_mode == FA_FROM && count > fail_at));
    if (fail && !failed) {
        failed = true;
        fail_site = site;
        fail_what = what;
        if (note)
            describe(note, note_cap, count, what, site);    /* snprintf: no allocation */
    }
    return fail;
}

/* Steps 1 and 2 of every wrapper; `call` is the real acquisition. */
#define ACQUIRE(what, type, call)                                       \
    const void *site = __builtin_return_address(0);                     \
    long seq;                                                           \
    pthread_mutex_lock(&mu);                                            \
    bool fail = should_fail(&seq, what, site);                          \
    pthread_mutex_unlock(&mu);                                          \
    if (fail) {                                                         \
        errno = ENOMEM;                                                 \
        return (type)NULL;                                              \
    }                                                                   \
    type r = call;                                                      \
    if (r && seq) {                                                     \
        pthread_mutex_lock(&mu);                                        \
        track(r, seq, what, site);                                      \
        pthread_mutex_unlock(&mu);                                      \
    }                                                                   \
    return r

void *__wrap_malloc(size_t n) { ACQUIRE("malloc", void *, __real_malloc(n)); }
void *__wrap_calloc(size_t n, size_t size) { ACQUIRE("calloc", void *, __real_calloc(n, size)); }

void *__wrap_aligned_alloc(size_t align, size_t n)
{
    ACQUIRE("aligned_alloc", void *, __real_aligned_alloc(align, n));
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
    ACQUIRE("fopen", FILE *, __real_fopen(path, mode));
}

FILE *__wrap_fdopen(int fd, const char *mode) { ACQUIRE("fdopen", FILE *, __real_fdopen(fd, mode)); }

FILE *__wrap_open_memstream(char **buf, size_t *len)
{
    ACQUIRE("open_memstream", FILE *, __real_open_memstream(buf, len));
}

gzFile __wrap_gzopen(const char *path, const char *mode)
{
    ACQUIRE("gzopen", gzFile, __real_gzopen(path, mode));
}

/* The copy comes from the wrapped malloc, so it is counted and tracked. */
char *__wrap_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    const void *site = __builtin_return_address(0);
    long seq;
    pthread_mutex_lock(&mu);
    bool fail = should_fail(&seq, "strdup", site);
    pthread_mutex_unlock(&mu);
    if (fail) {
        errno = ENOMEM;
        return NULL;
    }
    char *r = __real_malloc(n);
    if (r) {
        memcpy(r, s, n);
        if (seq) {
            pthread_mutex_lock(&mu);
            track(r, seq, "strdup", site);
            pthread_mutex_unlock(&mu);
        }
    }
    return r;
}

/* A block realloc moves stays tracked under its original number if it was. */
void *__wrap_realloc(void *p, size_t n)
{
    const void *site = __builtin_return_address(0);
    long seq;
    pthread_mutex_lock(&mu);
    bool fail = should_fail(&seq, "realloc", site);
    pthread_mutex_unlock(&mu);
    if (fail) {
        errno = ENOMEM;
        return NULL;
    }
    void *r = __real_realloc(p, n);
    pthread_mutex_lock(&mu);
    bool was = false;
    if (p && r && live)
        for (size_t i = hash(p); table[i].p; i = (i + 1) & (SLOTS - 1))
            if (table[i].p == p) {
                was = true;
                seq = table[i].seq;
                break;
            }
    if (r && (was || (!p && seq))) {
        untrack(p);
        track(r, seq, "realloc", site);
    }
    pthread_mutex_unlock(&mu);
    return r;
}

void __wrap_free(void *p)
{
    pthread_mutex_lock(&mu);
    untrack(p);
    pthread_mutex_unlock(&mu);
    __real_free(p);
}

int __wrap_fclose(FILE *f)
{
    pthread_mutex_lock(&mu);
    untrack(f);
    pthread_mutex_unlock(&mu);
    return __real_fclose(f);
}

int __wrap_gzclose(gzFile g)
{
    pthread_mutex_lock(&mu);
    untrack(g);
    pthread_mutex_unlock(&mu);
    return __real_gzclose(g);
}

void fa_arm(long at, FaMode mode)
{
    pthread_mutex_lock(&mu);
    memset(table, 0, sizeof table);
    used = live = count = 0;
    fail_at = at;
    fail_mode = mode;
    failed = false;
    fail_site = NULL;
    fail_what = NULL;
    armed = true;
    pthread_mutex_unlock(&mu);
}

long fa_disarm(void)
{
    pthread_mutex_lock(&mu);
    armed = false;
    long n = count;
    pthread_mutex_unlock(&mu);
    return n;
}

bool fa_failed(void)
{
    pthread_mutex_lock(&mu);
    bool f = failed;
    pthread_mutex_unlock(&mu);
    return f;
}

long fa_live(void)
{
    pthread_mutex_lock(&mu);
    long n = live;
    pthread_mutex_unlock(&mu);
    return n;
}

bool fa_describe_live(char *buf, unsigned long cap)
{
    pthread_mutex_lock(&mu);
    const Slot *first = NULL;
    for (size_t i = 0; i < SLOTS; i++)
        if (table[i].p && table[i].p != TOMB && (!first || table[i].seq < first->seq))
            first = &table[i];
    if (first)
        describe(buf, cap, first->seq, first->what, first->site);
    pthread_mutex_unlock(&mu);
    return first != NULL;
}

bool fa_describe_failure(char *buf, unsigned long cap)
{
    pthread_mutex_lock(&mu);
    bool f = failed;
    if (f)
        describe(buf, cap, fail_at, fail_what, fail_site);
    pthread_mutex_unlock(&mu);
    return f;
}

void fa_note_failure_in(char *buf, unsigned long cap)
{
    pthread_mutex_lock(&mu);
    note = buf;
    note_cap = cap;
    pthread_mutex_unlock(&mu);
}
