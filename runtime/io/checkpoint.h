/* checkpoint.h — saving and restoring a training run in the safetensors
 * layout: every parameter and optimizer state tensor under its IR name, plus
 * the counters `lnet.step`, `lnet.epoch`, `lnet.step_in_epoch` and the PRNG
 * root state `lnet.rng` (I64 tensors). Other tools read the tensors as is. */
#ifndef LNET_RT_CHECKPOINT_H
#define LNET_RT_CHECKPOINT_H

#include "ir.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct RtCounters {
    int64_t step;           /* updates done */
    int64_t epoch;          /* current epoch (0-based) */
    int64_t step_in_epoch;  /* batches of `epoch` already trained */
    uint64_t seed;
} RtCounters;

#include "exec.h"

/* Largest counter a checkpoint may hold (2^53: exact as a double, and far
 * beyond any real run); bigger ones are refused on load. */
#define RT_COUNTER_MAX (INT64_C(1) << 53)

/* Writes the params and states of K executors (one per block; names are
 * unique across blocks) atomically: an existing file is replaced only once
 * the new one is complete on disk. Refused, with the file at path untouched,
 * when any tensor holds a NaN or an infinity (the error names the tensor). */
bool rt_checkpoint_save(const char *path, RtExec *const *ex, int K, const RtCounters *c,
                        char *err, size_t errcap);
/* Reads a checkpoint into the executors' buffers: every param and state must
 * be present with its exact shape and finite values, and the counters within
 * [0, RT_COUNTER_MAX] with step >= epoch + step_in_epoch; anything else is an
 * error naming the tensor or counter. Nothing is written into the buffers
 * unless all checks pass. Stale temporaries of earlier saves to path whose
 * writer died are removed first (st_remove_stale_temps). */
bool rt_checkpoint_load(const char *path, RtExec *const *ex, int K, RtCounters *c, char *err,
                        size_t errcap);

#endif
