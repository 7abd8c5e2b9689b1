/* sweep.h — the spec of `lnet sweep` (tools/sweep_spec.c), read by
 * tools/cmd_sweep.c, which runs it. docs/sweeps.md describes the format.
 */
#ifndef LNET_SWEEP_H
#define LNET_SWEEP_H

#include "cli.h"

enum { SWEEP_MAX_KEYS = 48, SWEEP_MAX_VALUES = 64, SWEEP_MAX_RUNS = 4096 };

/* One `key = values` line; values point into the spec's text. */
typedef struct SweepKey {
    const char *key;
    int line;
    int n;                      /* values (0: a flag) */
    const char *v[SWEEP_MAX_VALUES];
    bool axis;
} SweepKey;

/* A sweep: its spec, the grid, the costs of its methods, and how to run it. */
typedef struct Sweep {
    const char *path, *dir;
    char *text;                 /* the spec, cut into keys and values */
    SweepKey k[SWEEP_MAX_KEYS];
    int n_keys;
    int axes[SWEEP_MAX_KEYS];         /* key indices of the axes, method first */
    int n_axes;
    const SweepKey *model, *method;
    bool target;                /* target-accuracy or target-loss given */
    double flops[SWEEP_MAX_VALUES];   /* per method value: the whole step, per example */
    double max_flops[SWEEP_MAX_VALUES];   /* ... and its most expensive block */
    int n_runs, jobs, threads;  /* threads: --threads for each run (0: not given) */
} Sweep;

/* Reads and checks the spec at s->path (set by the caller) into s: its keys,
 * the axes (method first, then in the file's order) and the number of runs;
 * false after printing `lnet sweep: error: SPEC:LINE: ...`. s->text is the
 * caller's to free. */
bool sweep_spec_read(Sweep *s);
/* Compiles the model once per method value (passes only) for s->flops and
 * s->max_flops; false after printing the model's errors and the spec line. */
bool sweep_costs(Sweep *s);
/* The key named `key`, or NULL. */
const SweepKey *sweep_key(const Sweep *s, const char *key);
/* The lnet train flags of a method value that sweep_spec_read accepted:
 * m[0] the method, then m[1] "blocks" or "overlap" and m[2] its number, or
 * NULL and NULL. */
void sweep_method_flags(const char *v, const char *m[3]);
/* The whole of a small file, NUL-terminated, caller-owned (NULL with errno
 * set if it cannot be read). */
char *sweep_read_text(const char *path);

#endif
