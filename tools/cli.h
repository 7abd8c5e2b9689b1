/* cli.h — shared pieces of the `lnet` command: option parsing, loading a
 * model, and the subcommand entry points. Only tools/ prints and chooses exit
 * codes: 0 ok, 1 user error, 2 internal error.
 */
#ifndef LNET_CLI_H
#define LNET_CLI_H

#include "frontend.h"
#include "ir.h"
#include "passes.h"

#include <stdbool.h>

enum { EXIT_OK = 0, EXIT_USER = 1, EXIT_INTERNAL = 2 };

/* One option a subcommand accepts. `value` is NULL for a flag. */
typedef struct CliOpt {
    const char *name;       /* without the leading "--" */
    const char *arg;        /* metavariable for --help, NULL for a flag */
    const char *help;
} CliOpt;

typedef struct CliCmd {
    const char *name;
    const char *usage;      /* e.g. "FILE [options]" */
    const char *summary;
    const CliOpt *opts;     /* terminated by {NULL} */
    const char *notes;      /* printed after the options (NULL: none) */
} CliCmd;

/* Parsed arguments: one positional FILE, then option values by index. */
typedef struct CliArgs {
    const char *file;
    const char *val[64];    /* val[i] for opts[i]: value, "" for a set flag, NULL unset */
} CliArgs;

/* Parses argv (after the subcommand). Prints an error and returns false on an
 * unknown option, a missing value or a missing FILE. Sets *help on --help. */
bool cli_parse(const CliCmd *cmd, int argc, char **argv, CliArgs *out, bool *help);
void cli_print_help(const CliCmd *cmd, FILE *out);
/* cli_parse for a command with an --output option, which -o also spells;
 * prints --help. Returns -1 to go on, else the exit status (0 after --help). */
int cli_parse_cmd(const CliCmd *cmd, int argc, char **argv, CliArgs *out);
const char *cli_get(const CliCmd *cmd, const CliArgs *a, const char *name);
bool cli_flag(const CliCmd *cmd, const CliArgs *a, const char *name);
/* Parses an integer / float option value; prints an error and returns false. */
bool cli_int(const char *opt, const char *s, long lo, long hi, long *out);
bool cli_float(const char *opt, const char *s, double *out);

/* Reads and compiles a model file. The returned graph, the source text (kept
 * alive for diagnostics in d) and the frontend's state (for the model's
 * custom heads) are owned by the caller: model_free. */
typedef struct Model {
    IrGraph *g;
    char *text;
    FeModel *fe;
    const char *path;       /* the file (or name) it was loaded from, borrowed */
    double *layer_secs;     /* `balance = time`: measured layer times (layer_times.c) */
    int n_layer_secs;
} Model;

bool model_load(const char *path, Diag *d, Model *m);
/* model_load from a copy of text, named `name` in diagnostics. */
bool model_load_text(const char *name, const char *text, Diag *d, Model *m);
void model_free(Model *m);
/* pass_ctx_init(ctx, d) for a pipeline over m's graph (or a graph made from
 * it), with aux-heads building m's `local { head = NAME }` through the
 * frontend. Every command that runs aux-heads gets its PassCtx here. With
 * `balance = time` it also gives the passes m's layer times, measuring them
 * first (or reading them from their cache) on first use: a failure is an
 * error in d. */
void model_pass_ctx(Model *m, PassCtx *ctx, Diag *d);
/* The step time of every layer of m's graph as a block of its own, in
 * m->layer_secs: read from the cache file next to the model (PATH.times),
 * or measured and written there when it is missing, --remeasure is given,
 * or it was written for another model, batch or machine. Notes to stderr
 * say which. False with an error in d. */
bool cli_layer_times(Model *m, Diag *d);
/* Measuring needs the JIT, which only the lnet command links: its main()
 * hands cli_layer_times to model_pass_ctx here. Without it (the trainers of
 * lnet build, liblnet) `balance = time` is the partition pass's error. */
typedef bool (*CliLayerTimer)(Model *m, Diag *d);
void cli_use_layer_timer(CliLayerTimer timer);
/* `lnet cost`'s table of the balance objectives for g's forward graph
 * (chunked, K > 1; else NULL): each block's value under g's objective and
 * every objective's cuts and block shares. Heap text, the caller frees it. */
char *cli_cost_balance(const IrGraph *g, PassCtx *ctx);
/* --remeasure was given (cli_apply_overrides sets it). */
bool cli_remeasure(void);

/* Applies the --method/--blocks/--overlap/--epochs/--batch/--lr/... overrides
 * that a subcommand accepts to the graph's train and local sections. */
bool cli_apply_overrides(const CliCmd *cmd, const CliArgs *a, IrGraph *g);
/* --load-pass LIB[,LIB...] (in cli_apply_overrides, before --method) dlopen()s a
 * plug-in and registers its partition methods (docs/passes.md); --method
 * NAME then picks one: this returns it (NULL: a built-in method), and
 * model_pass_ctx gives it to the passes. */
const PassPartitioner *cli_partitioner(void);
/* The option-table lines of --balance and --remeasure. */
#define CLI_BALANCE_OPTS                                                               \
    {"balance", "OBJ", "what chunked blocks balance: flops, memory or time"},          \
    {"remeasure", NULL, "--balance time: measure the layer times again, not from cache"}
/* The option-table line of --load-pass. */
#define CLI_LOAD_PASS_OPT \
    {"load-pass", "LIB[,LIB]", "load partition plug-ins: their methods are --method NAMEs"}

/* The runtime's stage table for the split pass's blocks; *links is
 * heap-allocated (free it after training). */
#include "checkpoint.h"
#include "train.h"
bool cli_stages(const PassBlocks *bs, const IrGraph *whole, RtBlockSpec *specs,
                RtLink **links);

/* ------------------------------------------------ training (train_run.c)
 * Shared by `lnet train`, `lnet eval`, `lnet build` and the trainers that
 * `lnet build` links (tools/trainer_main.c), which must rebuild exactly the
 * graphs the build compiled. */

#define CLI_TRAIN_PIPELINE PASS_LOCAL_PIPELINE ",autodiff,optimizer"
/* What the executors compile: the training pipeline, then `fuse` unless the
 * command has --no-fuse (lnet train; builds and their trainers always fuse). */
const char *cli_train_pipeline(const CliCmd *cmd, const CliArgs *a);
enum { CLI_MAX_BLOCKS = 64 };

/* The training flags of `lnet train` (terminated by {NULL}), and what its
 * help says after them: outputs, stop signals, exit status. */
extern const CliOpt cli_train_opts[];
extern const char cli_train_notes[];

/* Fills o from the training flags cmd declares (not the executor, which
 * stays NULL: the caller picks it). Prints an error and returns false on a
 * bad value. */
bool cli_train_fill(const CliCmd *cmd, const CliArgs *a, RtTrainOpts *o);

/* A model compiled for training: the whole graph after CLI_TRAIN_PIPELINE
 * and the graphs its blocks run, one per block (the whole graph itself when
 * it has one block; else the split pass's graphs, owned by bs). */
typedef struct CliTrainModel {
    const char *file;                       /* the model's file name (a->file) */
    Model m;
    PassBlocks bs;                          /* bs.n == 0 with one block */
    int n_blocks;
    const IrGraph *blocks[CLI_MAX_BLOCKS];
} CliTrainModel;

/* Compiles a->file — or `text` (not NULL: an embedded copy, named a->file in
 * diagnostics) — with cmd's overrides applied. Errors go to d. tm is always
 * initialized: free it with cli_train_model_free. */
bool cli_train_model(const CliCmd *cmd, const CliArgs *a, const char *text, CliTrainModel *tm,
                     Diag *d);
/* The partition recorded in the checkpoint cmd continues (--resume) or
 * evaluates (--load), in *rec: returns 1, 0 when there is none (no such flag,
 * or an older checkpoint), -1 with the error printed. With adopt, the
 * --method/--blocks/--overlap the command does not give are set in g from
 * the record (before compiling, as the overrides are). */
int cli_ckpt_partition_adopt(const CliCmd *cmd, const CliArgs *a, bool adopt, IrGraph *g,
                             RtPartition *rec);
/* After compiling: false, with a message naming the record and what the
 * command asks for, when tm's blocks are not the recorded partition. */
bool cli_ckpt_partition_check(const CliCmd *cmd, const CliArgs *a, const RtPartition *rec,
                              const CliTrainModel *tm, bool trainer);
void cli_train_model_free(CliTrainModel *tm);
/* a->file compiled with backprop (one block), cmd's other overrides applied:
 * the true gradient that gradient similarity compares with. tm is always
 * initialized: free it with cli_train_model_free. */
bool cli_train_model_backprop(const CliCmd *cmd, const CliArgs *a, CliTrainModel *tm, Diag *d);

/* A hash of g's code-relevant content (its printed IR minus the `train`
 * line): a trainer checks that it rebuilt the graphs it was compiled from. */
uint64_t cli_graph_fingerprint(const IrGraph *g);

/* Checks the files o will write (--save, --log, --report) against the model
 * file, o's checkpoint and data, and each other, and that they may be
 * written (outpaths.c); prints the error and returns false. */
bool cli_check_outputs(const CliCmd *cmd, const char *model, const RtTrainOpts *o,
                       const char *data);
/* lnet build -o TRAINER: false (message printed) when TRAINER is the model,
 * a directory, or an existing file that is not an executable. */
bool cli_check_trainer_output(const CliCmd *cmd, const char *model, const char *out);

/* Trains tm with o (flushing d's warnings first), prints the summary or, for
 * o->eval_only, every head; returns the exit code: 0, 1 on an error, 128 + the
 * signal when a stop signal ended the run (o->stop). Checks the outputs
 * (cli_check_outputs) before anything else. */
int cli_train_exec(const CliCmd *cmd, const CliTrainModel *tm, const RtTrainOpts *o, Diag *d);

/* cli_train_model from a->file, then cli_train_exec: `lnet train`/`eval`.
 * Training (not o->eval_only) catches the stop signals first. With
 * `current` not NULL, *current points at the model while it trains (and is
 * NULL again after): how `--devices`' executor factory, which o carries,
 * tells which block a graph is. */
int cli_train_run(const CliCmd *cmd, const CliArgs *a, const RtTrainOpts *o,
                  const CliTrainModel **current);

/* ------------------------------------------- distributed runs (mpi.c) */

/* Joins the job when a launcher (mpirun) started this process: the ranks of
 * a distributed run, or NULL when it is the only one. Set by cli_use_mpi()
 * in a build with MPI; NULL in one without (a run under mpirun with more
 * than one rank is then refused with a clear error). */
extern RtComm *(*cli_comm_start)(const char *prog);
void cli_use_mpi(void);
/* A launcher (mpirun) started this process: its environment says so. */
bool cli_under_launcher(void);
/* The ranks a launcher started this process among (its environment; 1 when
 * none did). */
int cli_launcher_ranks(void);

/* ------------------------------------------------- process (process.c) */

/* At the start of main(): ignores SIGXFSZ (a write past `ulimit -f` fails
 * with EFBIG instead of killing the process), and ends the process with an
 * error when an address-space limit (ulimit -v) cannot hold the buffers of
 * OpenBLAS's threads (they would retry forever). prog names the program. */
void cli_process_init(const char *prog);
/* Installs the handlers of SIGINT, SIGTERM and SIGHUP (unless ignored at
 * start, as under nohup): the first sets the returned flag to the signal's
 * number (RtTrainOpts.stop) and restores the default disposition, so that a
 * second signal ends the process at once. Call it before compiling. */
volatile sig_atomic_t *cli_catch_stop_signals(const char *prog);
/* "SIGINT", "SIGTERM", "SIGHUP". */
const char *cli_signal_name(int sig);

/* Subcommands. */
int cmd_check(int argc, char **argv);
int cmd_ir(int argc, char **argv);
int cmd_dot(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_cost(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_pareto(int argc, char **argv);
int cmd_gradsim(int argc, char **argv);
int cmd_devices(int argc, char **argv);
/* The folder of the static libraries `lnet build` links trainers with,
 * found from lnet's own executable (cmd_build.c); false + err if missing. */
bool cmd_build_libdir(char *dir, size_t cap, char *err, size_t errcap);

/* ------------------------------- `lnet cost --layers` (cost_layers.c) */

typedef struct CostLayers CostLayers;
/* The partition's layers of forward graph g (after shape,verify; before
 * partition), their costs, and the blocks the method makes of them with the
 * reason each starts where it does (plugin: a plug-in chooses the blocks,
 * which are not planned here). NULL when planning fails: the partition pass
 * then reports why. Free with cost_layers_free. */
CostLayers *cost_layers_plan(const IrGraph *g, const PassCtx *ctx, bool plugin);
void cost_layers_print(const CostLayers *cl, FILE *out);
/* The "layers" and "block_starts" members of `lnet cost --json`. */
void cost_layers_json(const CostLayers *cl, FILE *out);
void cost_layers_free(CostLayers *cl);

/* ------------------------------------ block step times (cost_measure.c) */

/* The single-thread time of one training step of each of tm's blocks, at
 * the model's batch, in secs[0 .. tm->n_blocks): each block compiled with
 * the JIT as `lnet train` compiles it, its inputs and labels filled with
 * deterministic values in range, its step run `warmup` times and then
 * `steps` (>= 1) times on the calling thread; the median of those. OpenBLAS
 * runs single-threaded meanwhile. false + err when a block cannot be built. */
bool cli_measure_blocks(const CliTrainModel *tm, int steps, int warmup, double *secs, char *err,
                        size_t errcap);

#endif
