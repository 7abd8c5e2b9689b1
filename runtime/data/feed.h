/* feed.h — binds a graph's input and label nodes to a data set, and fills
 * training and evaluation batches for them.
 *
 * Images (fashion_mnist, mnist): the input must hold 784 (rows×cols) f32 per
 * example in any shape ([28,28], [1,28,28], [784]); the label is class[C] with
 * C >= the data set's classes. Text: the input is i32[T] (T = context) and the
 * label class[256][T] (next byte at every position).
 *
 * An epoch of images is one pass over a seeded permutation (the last partial
 * batch is dropped in training, kept in evaluation). An epoch of text is
 * train_bytes / (batch·T) steps of random windows whose stream is derived from
 * (seed, epoch, step), so a resumed run draws the same windows.
 */
#ifndef LNET_RT_FEED_H
#define LNET_RT_FEED_H

#include "data.h"
#include "ir.h"
#include "train.h"

typedef struct RtFeed {
    bool text;
    int input, label;           /* node ids */
    int64_t feat;               /* input elements per example */
    int context;                /* text: T */
    int batch;
    uint64_t seed;
    RtDataset train, test;
    RtCorpus corpus;
    RtBatcher batcher;          /* training order */
    int64_t eval_windows;       /* text: validation windows used */
    RtNorm norm;                /* image sets: the input normalization used */
    bool norm_computed;         /* ... computed over the training set */
    int64_t test_limit;
} RtFeed;

bool rt_feed_open(RtFeed *f, const IrGraph *g, const RtTrainOpts *o, char *err, size_t errcap);
void rt_feed_close(RtFeed *f);
int64_t rt_feed_steps_per_epoch(const RtFeed *f);
/* Fills batch `index` of `epoch` into x (f32 or i32 input) and y. */
void rt_feed_train_batch(RtFeed *f, int64_t epoch, int64_t index, void *x, int32_t *y);
/* Evaluation batches: count, and fill (returns the examples in that batch). */
int64_t rt_feed_eval_batches(const RtFeed *f);
int64_t rt_feed_eval_batch(const RtFeed *f, int64_t index, void *x, int32_t *y);

#endif
