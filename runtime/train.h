/* train.h — the training driver behind `lnet train`.
 *
 * Binds a compiled graph to a data set (its first `input` and first `label`
 * node), runs epochs of steps with the learning-rate schedule, evaluates on
 * the test / validation split at every epoch end, writes the step log, the
 * final JSON report and checkpoints, and resumes from one bit-identically.
 * The step itself is delegated to an executor (today the reference
 * interpreter; the JIT-compiled blocks plug in behind the same calls).
 */
#ifndef LNET_RT_TRAIN_H
#define LNET_RT_TRAIN_H

#include "comm.h"
#include "exec.h"
#include "ir.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The first bytes of the files a run writes (report.c), by which the command
 * line recognises a file it may overwrite: the CSV log, the JSON-lines log,
 * the JSON report. */
#define RT_LOG_CSV_HEAD "kind,step,epoch,"
#define RT_LOG_JSON_HEAD "{\"kind\":\""
#define RT_REPORT_HEAD "{\"model\":"

/* OpenBLAS's per-thread buffer (its BUFFER_SIZE, 32 << 22 on x86-64 and
 * arm64): every thread that runs a matrix product holds one, and OpenBLAS
 * retries a failed allocation of it forever. */
#define RT_BLAS_BUFFER_BYTES ((size_t)128 << 20)

/* Builds the executor for a graph (NULL in RtTrainOpts: the interpreter). */
typedef RtExec *(*RtExecFactory)(const IrGraph *g, int max_batch, void *ctx, char *err,
                                 size_t errcap);

/* How the blocks run (runtime/schedules/, docs/architecture.md):
 *   SEQUENTIAL     every block in turn on one thread (lockstep);
 *   LOCAL          the blocks on min(K, cores) worker threads, activations
 *                  forward through bounded queues; the same numbers;
 *   DATA_PARALLEL  backprop baseline: one graph, `cores` replicas on slices;
 *   PIPELINE       backprop baseline: GPipe stages, `microbatches` per batch.
 * DEFAULT is LOCAL with several blocks, else SEQUENTIAL. */
typedef enum {
    RT_SCHED_DEFAULT,
    RT_SCHED_SEQUENTIAL,
    RT_SCHED_LOCAL,
    RT_SCHED_DATA_PARALLEL,
    RT_SCHED_PIPELINE,
} RtSchedKind;

const char *rt_sched_name(RtSchedKind s);

/* The cores this process may run on (its CPU affinity mask). */
int rt_available_cores(void);

/* `lnet predict`: an evaluation (RtTrainOpts.eval_only) of the examples of
 * `input` (.npy, N x the input's shape) instead of the test split, with the
 * class ids of `labels` (.npy; NULL: every label 0, the accuracy means
 * nothing). After each evaluation batch, `sink` gets the logits (n, classes)
 * of the head named `head` (NULL: the task head); `found` says it existed. */
typedef struct RtPredict {
    const char *input, *labels, *head;
    void (*sink)(void *ctx, const float *logits, int64_t n, int64_t classes);
    void *ctx;
    bool found;
} RtPredict;

typedef struct RtTrainOpts {
    RtExecFactory make_exec;    /* NULL: reference interpreter */
    void *exec_ctx;
    int64_t max_steps;          /* stop after this many steps in total (0: no cap) */
    int64_t train_limit;        /* use the first N training examples (0: all) */
    int64_t test_limit;         /* use the first N test examples (0: all) */
    int64_t eval_every;         /* also evaluate every N steps (0: epoch ends only) */
    const char *data_dir;       /* overrides train.data_path */
    const char *log_path;       /* CSV (.csv) or JSON lines; NULL: none */
    const char *report_path;    /* final JSON summary; NULL: none */
    const char *save_path;      /* checkpoint written at every epoch end and at the end */
    const char *resume_path;    /* checkpoint to continue from */
    bool quiet;                 /* no progress output */
    bool eval_only;             /* no training: evaluate (after resume_path) */
    RtSchedKind schedule;       /* DEFAULT: local with several blocks, else sequential */
    volatile sig_atomic_t *stop; /* set non-zero (by a signal handler): finish the step,
                                   evaluate, save, stop; NULL: never */
    double target_accuracy;     /* stop at the first evaluation reaching it (0: off) */
    int microbatches;           /* pipeline: micro-batches per batch (divides batch) */
    int queue_cap;              /* local: activations in flight between neighbours (>= 1) */
    int cores;                  /* the core budget: no schedule runs more compute threads
                                   (0: every available core); data-parallel: its replicas */
    int overlap_delay;          /* overlap: the earlier window reads the shared parameters
                                   this many updates late (-1: 1 for local, 0 sequential) */
    RtComm *comm;               /* the ranks of a distributed run (comm.h); NULL: this
                                   process trains every block */
    int replicas;               /* distributed: copies of each block group that split the
                                   batch and sum their gradients (0, 1: none) */
    int dead_block_steps;       /* warn when a block's loss stays at chance level, or its
                                   gradient norm below 1e-8, this many steps in a row (0: off) */
    bool fail_on_dead_block;    /* ... and stop with an error instead */
    bool watch_grads;           /* the vanished-gradient rule too (a pass over the
                                   gradients each step; always on with a log) */
    bool progress_tty;          /* redraw one progress line (a terminal) */
    FILE *out;                  /* progress and summary (stdout) */
    /* analyses (docs/analyses.md) */
    double target_loss;         /* stop at the first evaluation whose task loss <= it (0: off) */
    bool random_labels;         /* train on a permutation of the training labels, seeded
                                   by train.seed (the test labels are untouched) */
    int64_t eval_train;         /* also evaluate on the first N training examples (0: off) */
    int64_t gradsim_every;      /* gradient similarity every N steps, before the step (0: off) */
    bool gradsim_only;          /* no training: one measurement on the next batch, no
                                   evaluation, no report */
    const IrGraph *gradsim_ref; /* the model compiled with backprop: the true gradient */
    const char *gradsim_log;    /* CSV the measurements are appended to (NULL: none) */
    struct RtGradSimSink *gradsim_sink; /* also handed every measurement (NULL: none) */
    RtPredict *predict;         /* lnet predict (with eval_only); NULL: none */
    struct RtProfile *profile;  /* --profile: every executor's kernel times (profile.h;
                                   borrowed; the JIT's need CgOptions.profile); NULL: off */
} RtTrainOpts;

/* Gradient similarity (runtime/gradsim.c): one row per parameter tensor of
 * the network (auxiliary heads have no true gradient and get none). */
typedef struct RtGradSimRow {
    int block;                  /* 1-based: the block that owns the parameter */
    char layer[64];             /* the parameter's name up to its last '.' */
    char param[96];             /* the parameter's name */
    double dot, local_sq, true_sq;  /* <local, true>, |local|^2, |true|^2 */
    double cosine;              /* dot / (|local| |true|); NAN when either is zero */
} RtGradSimRow;

typedef struct RtGradSimSink {
    void (*rows)(struct RtGradSimSink *s, int64_t step, const RtGradSimRow *rows, int n);
} RtGradSimSink;

/* Per-worker telemetry of a threaded schedule: which blocks the worker runs
 * (local) and on how many threads its products run. */
typedef struct RtWorkerStats {
    int rank;                       /* the process (distributed runs; else 0) */
    int first_block, last_block;    /* 0-based, inclusive */
    int threads;
    int64_t steps;
    double busy_s, wait_in_s, wait_out_s;
    int64_t bytes_sent;             /* to the next rank (the rank's last worker) */
    double send_s;                  /* seconds its sends took, overlapped with compute */
} RtWorkerStats;

/* Evaluation of one loss (the task head or an auxiliary head). */
typedef struct RtEval {
    double loss;                /* mean over the split */
    double accuracy;            /* fraction of correct arg-max (classification) */
    int64_t examples;
} RtEval;

typedef struct RtTrainResult {
    int64_t steps;              /* total steps after the run (resume included) */
    int epochs_done;
    double wall_s;              /* this run's training time, evaluation excluded */
    double samples_per_s;
    double last_loss;
    RtEval final;               /* task loss on the test / validation split */
    bool is_text;               /* final.loss in nats per byte: report bits per byte */
    double compile_ms;          /* executor build time */
    int n_heads;                /* heads[0] is the task loss */
    RtEval heads[16];
    char head_names[16][32];
    bool interrupted;           /* stopped through RtTrainOpts.stop */
    bool saved;                 /* this run wrote a checkpoint to save_path */
    int64_t steps_run;          /* steps of this run (0: stopped before training) */
    bool reached;               /* target_accuracy (or target_loss) reached ... */
    double reached_s;           /* ... after this many training seconds */
    int64_t reached_step;
    int n_blocks;
    int64_t act_bytes[64];      /* per block: bytes of its executor's value buffers */
    int n_workers;              /* the schedule's threads (local: min(K, cores); distributed:
                                   every rank's) */
    int ranks;                  /* processes of a distributed run (1: none) */
    RtWorkerStats workers[64];
    int cores;                  /* the core budget the run used */
    int overlap_delay;          /* overlap: the staleness the run used */
    int dead_blocks;            /* blocks reported dead (RtTrainOpts.dead_block_steps; the
                                   report lists them) */
    RtEval train_eval;          /* RtTrainOpts.eval_train: the task head on the first N
                                   training examples, with the labels trained on */
    double labels_changed;      /* RtTrainOpts.random_labels: fraction of labels changed */
} RtTrainResult;

/* A value one block reads from another block: before each step, the buffer
 * of src_node in block src_block is copied into this block's `node`.
 *   RT_LINK_VALUE  from an earlier block: the detached activation, or
 *                  overlap's gradient contribution to a shared parameter;
 *   RT_LINK_PARAM  overlap: a parameter the later window src_block owns and
 *                  this earlier window reads, RtTrainOpts.overlap_delay
 *                  updates late (runtime/schedules/shared_param.h). */
typedef enum { RT_LINK_VALUE, RT_LINK_PARAM } RtLinkKind;

typedef struct RtLink {
    int node, src_block, src_node;
    RtLinkKind kind;
} RtLink;

/* One block of a model: its own step graph (forward, head loss, backward,
 * updates) and what it reads. */
typedef struct RtBlockSpec {
    const IrGraph *g;       /* borrowed */
    int in_x;               /* the data input node, -1 if the block reads none */
    int in_y;               /* the label node, -1 if the block reads none */
    int n_links;
    const RtLink *links;    /* borrowed */
    double cost;            /* forward + backward + head FLOPs per example (0: unknown);
                               places the blocks on workers */
} RtBlockSpec;

/* Trains the K blocks of `model`. `model` (the whole graph) gives the
 * training configuration and the data binding (its first input and label);
 * with K == 1 the single stage is usually `model` itself after autodiff and
 * optimizer. Errors (data, checkpoint, NaN loss, a log or report that cannot
 * be written) are written to err; a failing run never overwrites an existing
 * checkpoint with a broken one. When o->stop is set during the run, it
 * finishes the step, evaluates, saves and returns with res->interrupted; when
 * it is set before the first step (while compiling), nothing is evaluated,
 * saved or reported (res->steps_run == 0). Under an address-space limit
 * (ulimit -v) that cannot hold OpenBLAS's buffers for the schedule's threads,
 * it fails before training rather than hang. */
bool rt_train_blocks(const IrGraph *model, const RtBlockSpec *st, int K, const RtTrainOpts *o,
                     RtTrainResult *res, char *err, size_t errcap);

/* Bytes of every non-parameter value of g at `batch` examples: what an
 * executor without memory planning holds during a step. */
int64_t rt_graph_act_bytes(const IrGraph *g, int batch);

/* rt_train_blocks with one block: g itself (already differentiated). */
bool rt_train(const IrGraph *g, const RtTrainOpts *o, RtTrainResult *res, char *err,
              size_t errcap);

#endif
