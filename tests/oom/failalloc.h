/* failalloc.h — a counting, failing allocator for the out-of-memory test.
 *
 * tests/oom.cmake links test_oom with `-Wl,--wrap=malloc,...`, so every call
 * that lnet's static libraries (and the test) make to malloc, calloc,
 * realloc, aligned_alloc, strdup, fopen, fdopen, open_memstream and gzopen
 * goes through failalloc.c first; allocations inside libc, zlib, OpenBLAS and
 * Criterion do not. While armed, each such call is one numbered
 * *acquisition*; the chosen ones fail as a real shortage would (NULL, errno
 * ENOMEM), and every block or stream acquired while armed is tracked until it
 * is freed or closed, so a test can tell that an error path released
 * everything. The wrappers forward to the real functions, which under ASan
 * are ASan's: the mechanism works in both builds.
 */
#ifndef LNET_TEST_FAILALLOC_H
#define LNET_TEST_FAILALLOC_H

#include <stdbool.h>

typedef enum {
    FA_ONCE,        /* only acquisition `at` fails */
    FA_FROM,        /* acquisition `at` and every later one fail */
} FaMode;

/* Starts counting acquisitions from 1 and tracking what they return; with
 * at > 0, fails acquisition `at` (FA_ONCE) or all from `at` on (FA_FROM).
 * Forgets what an earlier arming tracked. */
void fa_arm(long at, FaMode mode);
/* Stops counting (frees and closes are still tracked); returns how many
 * acquisitions were counted since fa_arm. */
long fa_disarm(void);
/* Whether an injected failure happened since fa_arm. */
bool fa_failed(void);
/* Tracked blocks and streams not yet released. */
long fa_live(void);
/* Describes the oldest live acquisition ("acquisition 12 (malloc) at
 * test_oom+0x1a2b3"; addr2line -e test_oom 0x1a2b3 names the line) into buf;
 * false if none is live. */
bool fa_describe_live(char *buf, unsigned long cap);
/* Describes where the first injected failure happened, the same way. */
bool fa_describe_failure(char *buf, unsigned long cap);
/* Also writes that description into buf the moment the failure happens
 * (memory shared with a parent process: a child that then crashes still
 * tells where); NULL: no such note. */
void fa_note_failure_in(char *buf, unsigned long cap);

#endif
