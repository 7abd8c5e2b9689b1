/* trainer.h — the training loop's state, shared by train.c (the loop),
 * pipeline.c (the local schedule's threads) and report.c (step log, progress
 * line, final JSON report). */
#ifndef LNET_RT_TRAIN_IMPL_H
#define LNET_RT_TRAIN_IMPL_H

#include "checkpoint.h"
#include "exec.h"
#include "feed.h"
#include "queue.h"
#include "train.h"

#include <pthread.h>

#define RT_MAX_HEADS 64
#define RT_MAX_BLOCKS 64

typedef struct Block {
    RtBlockSpec spec;
    RtExec *ex;
    int64_t x_elems, y_elems;       /* data and label elements per example (4 bytes each) */
    size_t *link_bytes;             /* per link: bytes at the full batch */
    size_t payload;                 /* bytes a message into this block carries besides labels */
} Block;

typedef struct Head {
    int stage, node;
} Head;

typedef struct Trainer {
    const IrGraph *g;               /* the whole model: config and data binding */
    const RtTrainOpts *o;
    RtFeed feed;
    int K;
    Block st[RT_MAX_BLOCKS];
    RtExec *ex[RT_MAX_BLOCKS];      /* st[k].ex, for checkpoints */
    RtCounters c;
    int64_t steps_per_epoch, total_steps, steps_run;
    int n_heads;
    Head heads[RT_MAX_HEADS];       /* the task loss first */
    float loss[RT_MAX_HEADS];       /* of the last step (local: each block's latest) */
    RtEval eval[RT_MAX_HEADS];      /* of the last evaluation */
    bool evaluated;
    bool saved;                     /* a checkpoint was written */
    bool reached;                   /* the target accuracy was reached */
    double reached_s;
    int64_t reached_step;
    float lr;
    double start_s, train_s;        /* wall clock start; time inside steps */
    double seg_start_s;             /* local: when the running pipeline segment started (0: none) */
    double last_progress_s;
    FILE *log;
    bool log_csv;
    /* the baseline schedules (RtTrainOpts.baseline) */
    struct RtDp *dp;                /* dataparallel.c */
    struct RtGpipe *gp;             /* gpipe.c */
    int n_workers;                  /* ws[] entries filled by the schedule (0: none) */
    /* the local schedule */
    RtQueue q[RT_MAX_BLOCKS];       /* q[k] feeds block k */
    RtWorkerStats ws[RT_MAX_BLOCKS];
    float *loss_ring;               /* ring_rows × RT_MAX_HEADS: losses by step */
    int64_t ring_rows;
    pthread_mutex_t mu;             /* guards failed/err below */
    bool failed;
    char err[512];
} Trainer;

/* A message into block k: this header, the labels, then the payload (block
 * 0: the data batch; later blocks: the values of their links, in order). */
typedef struct Msg {
    int64_t epoch, index, step;
    int n;
} Msg;

const char *rt_head_name(const Trainer *t, int h);
/* The step log: every call returns false with err ("cannot write log
 * 'PATH': ...") once a write, flush or close of it has failed. */
bool rt_log_open(Trainer *t, char *err, size_t errcap);
bool rt_log_close(Trainer *t, char *err, size_t errcap);
bool rt_log_step(Trainer *t, char *err, size_t errcap);
bool rt_log_eval(Trainer *t, char *err, size_t errcap);
/* The progress line: redrawn on a terminal, plain lines otherwise. */
void rt_progress(Trainer *t, bool epoch_end);
bool rt_report_write(Trainer *t, const RtTrainResult *res, char *err, size_t errcap);
int64_t rt_peak_rss_bytes(void);

/* train.c: one block's step on the batch in its input buffers; false (with
 * err) on a non-finite loss. */
bool rt_block_step(Trainer *t, int k, int64_t step, float *losses, char *err, size_t errcap);
float rt_lr_at(const Trainer *t, int64_t step);
/* Training seconds so far, including a pipeline segment in progress. */
double rt_train_elapsed(const Trainer *t);
/* RtTrainOpts.stop is set: finish the step, evaluate, save, stop. */
bool rt_stopping(const Trainer *t);
/* train.c: a new executor for g (RtTrainOpts.make_exec, else the interpreter). */
RtExec *rt_make_exec(const Trainer *t, const IrGraph *g, int max_batch, char *err,
                     size_t errcap);
/* train.c: false (with err) when loss l of head h, block k, is not finite. */
bool rt_check_loss(const Trainer *t, int h, int k, int64_t step, float l, char *err,
                   size_t errcap);

/* The dropout seed of part p of a batch (a data-parallel replica, a pipeline
 * micro-batch): part 0 keeps the run's seed, so one part is plain backprop. */
static inline uint64_t rt_part_seed(uint64_t seed, int p)
{
    return p ? seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)p) : seed;
}

/* The parameter gradients of a graph as one index space (dataparallel.c). */
typedef struct RtGrads {
    int n;                  /* parameters with a gradient */
    int *node;              /* their gradient nodes */
    int64_t *start;         /* n + 1 prefix sums of their element counts */
} RtGrads;

bool rt_grads_init(RtGrads *gr, const IrGraph *g);
void rt_grads_fini(RtGrads *gr);
/* Over elements [lo, hi) of the space: e[0]'s gradients become the sum of
 * e[0..n)'s, added in that order, times scale (deterministic, and the same
 * whatever the split of the range between threads). */
void rt_grads_reduce(const RtGrads *gr, RtExec *const *e, int n, float scale, int64_t lo,
                     int64_t hi);

/* dataparallel.c: RtTrainOpts.replicas copies of the one backprop graph
 * (block 0, whose executor is replica 0), one thread each. rt_dp_step runs
 * the batch already in block 0's input and label buffers. */
bool rt_dp_init(Trainer *t, char *err, size_t errcap);
bool rt_dp_step(Trainer *t, int64_t step, float *losses, char *err, size_t errcap);
void rt_dp_fini(Trainer *t);
/* gpipe.c: the K blocks are stages of one backprop graph (links carry the
 * activation forward and its gradient back); RtTrainOpts.microbatches per
 * batch, one thread per stage, one update per batch. */
bool rt_gpipe_init(Trainer *t, char *err, size_t errcap);
bool rt_gpipe_step(Trainer *t, int64_t step, float *losses, char *err, size_t errcap);
void rt_gpipe_fini(Trainer *t);

/* pipeline.c: trains batches [c.step_in_epoch, end) of the current epoch
 * with one thread per block; false with t->err on failure. */
bool rt_pipeline_epoch(Trainer *t, int64_t end);
bool rt_pipeline_init(Trainer *t, char *err, size_t errcap);
void rt_pipeline_fini(Trainer *t);

#endif
