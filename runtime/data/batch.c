/* data_batch.c — seeded per-epoch shuffling and batch filling.
 * The permutation of epoch e is a Fisher–Yates shuffle of 0..n-1 driven by a
 * generator derived from (seed, e) alone, so resuming at epoch e needs nothing
 * but the seed. TRAIN drops the last partial batch; EVAL keeps it. */
#include "data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rt_data_permutation(uint64_t seed, int64_t epoch, int64_t *perm, int64_t n) {
  RtRng base, shuf, ep;
  rt_rng_seed(&base, seed);
  shuf = rt_rng_split(&base, RT_RNG_STREAM_SHUFFLE);
  ep = rt_rng_split(&shuf, (uint64_t)epoch);
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  rt_rng_shuffle(&ep, perm, n);
}

bool rt_batcher_init(RtBatcher *b, const RtDataset *ds, int64_t batch, uint64_t seed,
                     RtBatchMode mode, char *err, size_t errcap) {
  memset(b, 0, sizeof *b);
  if (batch <= 0) {
    snprintf(err, errcap, "batch size %lld must be positive", (long long)batch);
    return false;
  }
  b->perm = malloc(((size_t)ds->n + 1) * sizeof *b->perm);
  if (!b->perm) {
    snprintf(err, errcap, "out of memory for a permutation of %lld examples", (long long)ds->n);
    return false;
  }
  b->ds = ds;
  b->batch = batch;
  b->seed = seed;
  b->mode = mode;
  rt_batcher_set_epoch(b, 0);
  return true;
}

void rt_batcher_fini(RtBatcher *b) {
  free(b->perm);
  free(b->aug.plane);
  memset(b, 0, sizeof *b);
}

void rt_batcher_set_epoch(RtBatcher *b, int64_t epoch) {
  b->epoch = epoch;
  if (b->mode == RT_BATCH_TRAIN) {
    rt_data_permutation(b->seed, epoch, b->perm, b->ds->n);
    return;
  }
  for (int64_t i = 0; i < b->ds->n; i++) b->perm[i] = i;
}

int64_t rt_batcher_count(const RtBatcher *b) {
  int64_t n = b->ds->n;
  return b->mode == RT_BATCH_TRAIN ? n / b->batch : (n + b->batch - 1) / b->batch;
}

int64_t rt_batcher_fill(const RtBatcher *b, int64_t index, float *x, int32_t *y) {
  if (index < 0 || index >= rt_batcher_count(b)) return 0;
  const RtDataset *ds = b->ds;
  int64_t first = index * b->batch;
  int64_t count = ds->n - first < b->batch ? ds->n - first : b->batch;
  size_t feat = (size_t)ds->feat;
  for (int64_t i = 0; i < count; i++) {
    int64_t e = b->perm[first + i];
    if (x) rt_dataset_row(ds, e, x + (size_t)i * feat);
    if (x && b->aug.crop + b->aug.flip > 0) rt_augment_row(&b->aug, b->seed, b->epoch, e, x + (size_t)i * feat);
    if (y) y[i] = ds->y[e];
  }
  return count;
}
