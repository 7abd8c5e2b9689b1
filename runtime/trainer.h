/* trainer.h — the trainer's state and the small API the schedules call.
 *
 * The trainer (train.c: data feed, evaluation, checkpoints; report.c: step
 * log, progress line, report) owns the blocks and their executors and calls
 * a schedule only through the table in schedules/schedule.h. A schedule
 * calls back only through the functions below: run a block's step, load a
 * batch, say a step is done. Nothing here calls a schedule's functions.
 */
#ifndef LNET_RT_TRAINER_H
#define LNET_RT_TRAINER_H

#include "blas.h"
#include "checkpoint.h"
#include "exec.h"
#include "feed.h"
#include "grads.h"
#include "placement.h"
#include "shared_param.h"
#include "train.h"

#include <pthread.h>

#define RT_MAX_HEADS 64
#define RT_MAX_BLOCKS 64

struct RtSchedule;

/* A block's health after a step (train.c, watch_block): the L2 norm of its
 * parameters' gradients, and the learning rate times that over the L2 norm
 * of its parameters — the update-to-weight ratio of a plain SGD step (the
 * update itself is not kept; momentum and Adam scale it differently). */
typedef struct RtHealth {
    float grad_norm, update_ratio;
    bool known;                     /* computed: health is on and this rank holds the block */
} RtHealth;

typedef struct Block {
    RtBlockSpec spec;
    RtExec *ex;
    int64_t x_elems, y_elems;       /* data and label elements per example (4 bytes each) */
    size_t *link_bytes;             /* per link: bytes at the full batch */
    int *shared;                    /* per link: its index in Trainer.shared (-1: a value) */
    int worker;                     /* the placement's worker that runs the block */
    RtGrads grads;                  /* distributed with replicas: the gradients summed */
    float *gbuf;                    /* over replicas, and the message that carries them */
    /* written by the thread that runs the block's steps */
    RtHealth health;                /* after its latest step */
    int64_t chance_run, still_run;  /* consecutive steps at chance loss / with no gradient */
    bool dead;                      /* reported dead (once) */
} Block;

typedef struct Head {
    int block, node;
} Head;

/* Overlap: a parameter the later window `owner` updates and the earlier
 * window `reader` reads overlap_delay updates late. */
typedef struct Shared {
    int owner, owner_node, reader, reader_node;
    RtSharedParam p;
    void *msg;                      /* distributed, owner and reader on two ranks: the
                                       message of one version (64-byte header, value) */
} Shared;

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
    float loss[RT_MAX_HEADS];       /* of the last finished step */
    bool watch;                     /* blocks' health computed (a log, or the dead-block check) */
    bool health_by_schedule;        /* the schedule fills health[] before each step_done (local:
                                       the blocks run ahead of the finishing thread) */
    RtHealth health[RT_MAX_BLOCKS]; /* of the last finished step (the log) */
    RtEval eval[RT_MAX_HEADS];      /* of the last evaluation */
    bool evaluated;
    bool saved;                     /* a checkpoint was written */
    bool reached;                   /* the target accuracy was reached */
    double reached_s;
    int64_t reached_step;
    float lr;
    double start_s, train_s;        /* wall clock start; time inside the schedule */
    double seg_start_s;             /* when the running segment started (0: none) */
    double last_progress_s;
    FILE *log;
    bool log_csv;
    /* how the blocks run */
    RtSchedKind kind;               /* resolved: never DEFAULT */
    const struct RtSchedule *sched;
    void *sched_state;              /* the schedule's own */
    int cores;                      /* the core budget N */
    RtPlacement place;              /* sequential and local: blocks onto workers */
    RtTeam *team[RT_MAX_BLOCKS];    /* per worker: the threads of its products */
    int overlap_delay;
    int n_shared;
    Shared *shared;
    int n_workers;                  /* ws[] entries the schedule fills */
    RtWorkerStats ws[RT_MAX_BLOCKS];
    /* a distributed run (comm != NULL; dist.c): group g of the blocks runs on
     * rank ranks - 1 - g, so rank 0 holds the last blocks and sees every
     * step's losses, and rank ranks - 1 reads the data */
    RtComm *comm;
    int rank, ranks;
    int replicas, replica;          /* P copies of each group, split the batch; this one's */
    int n_step;                     /* examples per step on this rank: batch / replicas */
    RtPlacement groups;             /* the blocks onto ranks' groups: groups.first[g] ... */
    int b0, b1;                     /* this rank's blocks [b0, b1) */
    bool has[RT_MAX_BLOCKS];        /* this rank holds an executor for block k */
    bool stop_agreed;               /* a stop every rank has agreed on */
    /* analyses (docs/analyses.md) */
    struct RtGradSim *gradsim;      /* RtTrainOpts.gradsim_every / gradsim_only (gradsim.c) */
    int64_t gradsim_step;           /* the step last measured (-1: none) */
    RtEval train_eval[RT_MAX_HEADS]; /* RtTrainOpts.eval_train: every head, last evaluation */
    double labels_changed;          /* RtTrainOpts.random_labels */
} Trainer;

/* ------------------------------------------------ the API schedules call */

/* Block k's step on the batch in its buffers: its links from blocks >= from
 * are copied in first (earlier ones arrived in a message), a shared
 * parameter it reads is taken at the version the delay allows (waiting for
 * its owner), and after the update the parameters it owns are published.
 * Products run on the calling thread's team. losses[h] gets block k's heads'
 * losses, and the block's health (Block.health, t->watch) is measured and
 * checked for a dead block. False (with err) on a non-finite loss, a dead
 * block under RtTrainOpts.fail_on_dead_block, or when a wait was cut short
 * by rt_trainer_abort. */
bool rt_block_step(Trainer *t, int k, int from, int64_t step, float *losses, char *err,
                   size_t errcap);
/* After block k's step (losses has its heads' losses, lr the step's rate):
 * its health into Block.health, and the dead-block check
 * (RtTrainOpts.dead_block_steps): a warning on stderr once per block, or
 * false (with err) under fail_on_dead_block. health.c. */
bool rt_block_watch(Trainer *t, int k, int64_t step, float lr, const float *losses, char *err,
                    size_t errcap);
/* Batch `index` of the current epoch into block 0's input and every block's
 * label buffer (the sequential and the backprop schedules). */
void rt_trainer_feed_blocks(Trainer *t, int64_t index);
/* The step `step` (batch `index` of the epoch) is finished; losses has every
 * head's loss of it (and health[] every block's health, when the schedule
 * fills it; else it is taken from the blocks): counters, log row, progress line. False (with err) when
 * the log cannot be written. Called in step order, one call at a time. */
bool rt_trainer_step_done(Trainer *t, int64_t step, int64_t index, const float *losses,
                          char *err, size_t errcap);
/* The schedules that take one batch at a time on the trainer's thread
 * (sequential and the backprop baselines): batches [c.step_in_epoch, end),
 * each fed into the blocks' buffers, trained by `step` (losses of every
 * head), then reported; stops at the first step boundary after rt_stopping. */
typedef bool (*RtBatchStep)(Trainer *t, int64_t step, float *losses, char *err,
                            size_t errcap);
bool rt_trainer_run_batches(Trainer *t, int64_t end, RtBatchStep step, char *err,
                            size_t errcap);
/* Wakes every thread waiting on a shared parameter, for good (a worker failed). */
void rt_trainer_abort(Trainer *t);

float rt_lr_at(const Trainer *t, int64_t step);
/* RtTrainOpts.stop is set: finish the step, evaluate, save, stop. */
bool rt_stopping(const Trainer *t);
/* A new executor for g (RtTrainOpts.make_exec, else the interpreter). */
RtExec *rt_make_exec(const Trainer *t, const IrGraph *g, int max_batch, char *err,
                     size_t errcap);
/* False (with err) when loss l of head h, block k, is not finite. */
bool rt_check_loss(const Trainer *t, int h, int k, int64_t step, float l, char *err,
                   size_t errcap);
/* Bytes of node id's value in block graph g for n examples. */
size_t rt_value_bytes(const IrGraph *g, int id, int n);

/* The dropout seed of part p of a batch (a data-parallel replica, a pipeline
 * micro-batch): part 0 keeps the run's seed, so one part is plain backprop. */
static inline uint64_t rt_part_seed(uint64_t seed, int p)
{
    return p ? seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)p) : seed;
}

/* --------------------------------------------------------------- dist.c */

/* The rank that trains block k (with replicas: replica 0 of its group). */
int rt_dist_rank_of(const Trainer *t, int k);
/* The rank that trains block k in this rank's replica. */
int rt_dist_peer(const Trainer *t, int k);
/* Replicas: block k's gradients (after its backward phase) become their
 * sum over the group's replicas, in replica order, times 1 / replicas, and
 * losses[h] of its heads the replicas' mean, on every replica. */
void rt_dist_reduce(Trainer *t, int k, float *losses);
/* Places the blocks on the ranks (this rank's b0, b1, has[]); false (with
 * err) when there are fewer blocks than ranks or a schedule other than local
 * was asked for. */
bool rt_dist_place(Trainer *t, const RtBlockSpec *specs, char *err, size_t errcap);
/* Rank 0's parameters, optimizer states and counters to every rank that
 * holds the blocks (after rank 0 resumed from a checkpoint). */
void rt_dist_scatter(Trainer *t);
/* Every block's parameters and optimizer states to rank 0, from the rank
 * that trains it (before rank 0 evaluates or saves). */
void rt_dist_gather(Trainer *t);
/* Rank 0's evaluation to every rank. */
void rt_dist_share_eval(Trainer *t);
/* After a segment: every rank's stop request and counters, agreed; aborts
 * the job when the ranks' counters differ (they cannot, short of a bug). */
void rt_dist_agree(Trainer *t);
/* Every rank's worker telemetry into rank 0's ws[] (in rank order). */
void rt_dist_gather_stats(Trainer *t);

/* ------------------------------------------------------------ gradsim.c */

/* Gradient similarity: interpreter copies of the blocks and of
 * RtTrainOpts.gradsim_ref, and the CSV log (its header checked when it has
 * one). False (with err) when they cannot be made. */
bool rt_gradsim_open(Trainer *t, char *err, size_t errcap);
/* On batch c.step_in_epoch of epoch c.epoch, with the parameters as they are
 * now: every block's local gradient (its own head's loss, lockstep links)
 * and the true one (the reference graph's task loss), compared per
 * parameter; rows to the log and the sink. Nothing of the trainer changes. */
bool rt_gradsim_measure(Trainer *t, char *err, size_t errcap);
void rt_gradsim_close(Trainer *t);

/* ------------------------------------------------------------- report.c */

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
/* Training seconds so far, including a segment in progress. */
double rt_train_elapsed(const Trainer *t);

#endif
