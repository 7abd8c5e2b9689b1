/* checkpoint.h — saving and restoring a training run in the safetensors
 * layout: every parameter and optimizer state tensor under its IR name, plus
 * the counters `lnet.step`, `lnet.epoch`, `lnet.step_in_epoch` and the PRNG
 * root state `lnet.rng` (I64 tensors). Other tools read the tensors as is.
 * The run's partition is recorded in the file's __metadata__ (RtPartition). */
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
    int64_t lr_horizon;     /* the steps the learning-rate schedule spans, fixed by the
                               run that started it (0: not recorded, an older file) */
} RtCounters;

#include "exec.h"

/* Largest counter a checkpoint may hold (2^53: exact as a double, and far
 * beyond any real run); bigger ones are refused on load. */
#define RT_COUNTER_MAX (INT64_C(1) << 53)

/* The partition a checkpoint was trained with, kept as strings in the file's
 * __metadata__ (not as tensors: the method is a name, and tools that read
 * the tensors see only weights and counters):
 *   lnet.method     backprop | greedy | chunked | overlap
 *   lnet.blocks     K: the blocks (backprop: pipeline stages, else 1)
 *   lnet.overlap    the window (overlap only)
 *   lnet.balance    what chunked blocks balance: flops | memory | time
 *   lnet.partition  16 hex digits: FNV-1a over each saved tensor's name and
 *                   block, so a moved cut or a changed model is told apart.
 * Older checkpoints have none of these keys. */
typedef struct RtPartition {
    IrMethod method;
    int blocks;             /* >= 1 */
    int overlap;            /* METHOD_OVERLAP: the window; else 0 */
    IrBalance balance;      /* what the cuts balanced (the fingerprint tells the cuts apart) */
    uint64_t fingerprint;
} RtPartition;

/* The partition of K block graphs (the executors' graphs, in block order; K
 * backprop stages have a loss only in the last one). */
void rt_partition_of(const IrGraph *const *blocks, int K, RtPartition *p);
/* Whether a checkpoint trained with `rec` fits a run partitioned as `run`:
 * the same method, and for local learning the same K, window and fingerprint
 * (backprop's tensors do not depend on its stages). */
bool rt_partition_equal(const RtPartition *rec, const RtPartition *run);
/* The record as flags, "--method chunked --blocks 2" (backprop: just the
 * method; overlap: with --overlap W). */
void rt_partition_str(const RtPartition *p, char *out, size_t cap);
/* Reads the record from path's header alone: 1 found (*p filled), 0 the
 * file has no record (an older checkpoint), -1 an error in err (unreadable
 * file, or a record with a bad value). */
int rt_checkpoint_partition(const char *path, RtPartition *p, char *err, size_t errcap);

/* Writes the params and states of K executors (one per block; names are
 * unique across blocks) atomically: an existing file is replaced only once
 * the new one is complete on disk. Refused, with the file at path untouched,
 * when any tensor holds a NaN or an infinity (the error names the tensor).
 * The executors' partition (rt_partition_of) is recorded in the metadata. */
bool rt_checkpoint_save(const char *path, RtExec *const *ex, int K, const RtCounters *c,
                        char *err, size_t errcap);
/* Reads a checkpoint into the executors' buffers: a partition record, if the
 * file has one, must equal the executors' (rt_partition_equal); every param and state must
 * be present with its exact shape and finite values, and the counters within
 * [0, RT_COUNTER_MAX] with step >= epoch + step_in_epoch; anything else is an
 * error naming the tensor or counter. Nothing is written into the buffers
 * unless all checks pass. Stale temporaries of earlier saves to path whose
 * writer died are removed first (st_remove_stale_temps). */
bool rt_checkpoint_load(const char *path, RtExec *const *ex, int K, RtCounters *c, char *err,
                        size_t errcap);

#endif
