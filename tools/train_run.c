/* train_run.c — the training driver shared by `lnet train`, `lnet eval` and
 * the standalone trainers `lnet build` links: the table of training flags,
 * compiling a model for training (load, overrides, the training pipeline,
 * split into per-block graphs), and the run with its printed summary.
 *
 * No LLVM here: the caller chooses the executor (the JIT, the interpreter, or
 * a trainer's linked blocks) through RtTrainOpts.make_exec.
 */
#include "cli.h"
#include "profile.h"
#include "frontend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const CliOpt cli_train_opts[] = {
    {"epochs", "N", "total epochs (a resumed run counts the epochs already done)"},
    {"max-steps", "N", "stop after N steps in total"},
    {"batch", "B", "batch size"},
    {"lr", "LR", "base learning rate"},
    {"optimizer", "OPT", "sgd | adam | adamw"},
    {"schedule-lr", "S", "constant | warmup | cosine"},
    {"seed", "S", "seed for initialization, shuffling and dropout"},
    {"method", "M", "backprop | greedy | chunked | overlap | last-layer (the last layer "
                    "trained, the rest frozen at initialization)"},
    {"blocks", "K", "number of blocks"},
    CLI_BALANCE_OPTS,
    {"overlap", "W", "overlap window"},
    CLI_LOAD_PASS_OPT,
    {"data-dir", "DIR", "data location (IDX folder, or text file/folder)"},
    {"train-limit", "N", "use the first N training examples"},
    {"test-limit", "N", "use the first N test examples (text: validation windows)"},
    {"eval-every", "N", "also evaluate every N steps"},
    {"target-accuracy", "A", "stop at the first evaluation reaching test accuracy A (0.88)"},
    {"target-loss", "L", "stop at the first evaluation whose test loss (task head) is at most L"},
    {"random-labels", NULL, "train on a fixed permutation of the training labels, drawn from "
                            "--seed (the test labels are untouched)"},
    {"eval-train", "N", "at every evaluation also evaluate on the first N training examples, "
                        "with the labels trained on"},
    {"gradsim-every", "N", "every N steps, before the step: the cosine of each parameter's local "
                           "gradient and its true backprop gradient (needs --gradsim-log)"},
    {"gradsim-log", "FILE", "CSV the --gradsim-every rows are appended to: "
                            "step,block,layer,param,cosine"},
    {"log", "FILE", "step log: CSV if FILE ends in .csv, JSON lines otherwise; a training "
                    "row has each head's loss and each block's health: the L2 norm of its "
                    "parameters' gradients (grad_norm) and lr x that / the L2 norm of its "
                    "parameters (update_ratio, SGD's update/weight ratio)"},
    {"report", "FILE", "final JSON summary"},
    {"save", "CKPT", "write a checkpoint at every epoch end (atomically)"},
    {"resume", "CKPT", "continue from a checkpoint"},
    {"schedule", "S", "local (blocks on min(K, N) worker threads; default with K > 1) | "
                      "sequential | data-parallel | pipeline (backprop baselines)"},
    {"threads", "N", "cores the run may use (default: all); local: N / workers threads each; "
                     "data-parallel: N replicas"},
    {"queue", "N", "local: batches in flight between neighbouring workers (1 to 1024, "
                   "default 1)"},
    {"overlap-delay", "D", "overlap: the earlier window reads shared parameters D updates late "
                           "(default: 1 local, 0 sequential)"},
    {"microbatches", "M", "pipeline: micro-batches per batch (default 4; divides the batch)"},
    {"replicas", "P", "under mpirun -np R: P copies of each block group (R = groups x P) "
                      "split each batch and sum their gradients (default 1)"},
    {"exec", "E", "jit (LLVM-compiled steps, the default) | interp (reference interpreter)"},
    {"devices", "LIST", "where blocks run: one of cpu, gpuN (CUDA device N), emu (the emulated "
                        "GPU, a test device) per block, or one for all (default: cpu; see "
                        "lnet devices)"},
    {"dead-block-steps", "N", "warn when a block's head loss stays at chance level (within 1% "
                              "of ln(classes)) or its gradient norm below 1e-8 for N steps in "
                              "a row (default 200; 0: off; the gradient rule runs with --log or "
                              "when this flag is given)"},
    {"fail-on-dead-block", NULL, "a dead block (--dead-block-steps) is an error: the run stops "
                                 "with exit status 1, the last checkpoint kept"},
    {"quiet", NULL, "no progress output"},
    {"profile", NULL, "time every kernel: a table per block at the end (phase, op, calls, ms, "
                      "share, GFLOP/s, GB/s) and \"profile\" in the report"},
    {"profile-clock", "CLOCK", "what --profile times kernels with: wall (the default) or cpu "
                               "(each thread's CPU time: no time spent waiting for a core, "
                               "but none of OpenBLAS's other threads either); implies --profile"},
    {"no-fuse", NULL, "compile the step without the fuse pass (bias + relu, conv2d + bias + "
                      "relu as separate kernels)"},
    {NULL, NULL, NULL}};

enum { MAX_QUEUE = 1024 };   /* --queue: slots of a whole batch's activations each */

static bool bounded_opt(const CliCmd *cmd, const CliArgs *a, const char *name, long lo,
                        long hi, int64_t *out)
{
    const char *s = cli_get(cmd, a, name);
    long v;
    if (!s)
        return true;
    if (!cli_int(name, s, lo, hi, &v))
        return false;
    *out = v;
    return true;
}

const char cli_train_notes[] =
    "--save, --log and --report overwrite only files lnet wrote (a checkpoint, a log or\n"
    "a report; --save may replace the checkpoint it resumes), never the model, the data\n"
    "or another output; each directory must be writable. Any other file is refused.\n"
    "\n"
    "A checkpoint records the run's partition: --resume takes --method, --blocks and\n"
    "--overlap from it when they are not given, and refuses other values (under\n"
    "mpirun every rank reads it, unless --method and --blocks are given).\n"
    "\n"
    "SIGINT (Ctrl-C), SIGTERM and SIGHUP stop a run after the current step: it evaluates,\n"
    "saves the checkpoint (--save) and exits with 128 + the signal (130, 143, 129). A\n"
    "second signal ends it at once, without saving. Exit status: 0 done, 1 error, 130,\n"
    "143 or 129 stopped by a signal.\n";

static bool long_opt(const CliCmd *cmd, const CliArgs *a, const char *name, long lo,
                     int64_t *out)
{
    return bounded_opt(cmd, a, name, lo, 0x7fffffffL, out);
}

/* --schedule by name. */
static bool schedule_kind(const CliCmd *cmd, const char *s, RtSchedKind *kind)
{
    static const RtSchedKind kinds[] = {RT_SCHED_LOCAL, RT_SCHED_SEQUENTIAL,
                                        RT_SCHED_DATA_PARALLEL, RT_SCHED_PIPELINE};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strcmp(s, rt_sched_name(kinds[i])) == 0) {
            *kind = kinds[i];
            return true;
        }
    fprintf(stderr, "lnet %s: error: --schedule: unknown schedule '%s' (expected local, "
            "sequential, data-parallel or pipeline)\n", cmd->name, s);
    return false;
}

/* --threads N: the core budget; more than the machine has gets a warning and
 * the cores there are. */
static int core_budget(const CliCmd *cmd, int64_t asked)
{
    int there = rt_available_cores();
    if (asked <= 0)
        return 0;
    if (asked > there) {
        fprintf(stderr, "lnet %s: warning: --threads %lld: only %d core%s available to this "
                "process; using %d\n", cmd->name, (long long)asked, there,
                there == 1 ? " is" : "s are", there);
        return there;
    }
    return (int)asked;
}

/* --schedule, --threads, --queue, --overlap-delay, --microbatches */
static bool schedule_opts(const CliCmd *cmd, const CliArgs *a, RtTrainOpts *o)
{
    const char *s = cli_get(cmd, a, "schedule");
    o->schedule = RT_SCHED_DEFAULT;
    if (s && !schedule_kind(cmd, s, &o->schedule))
        return false;
    int64_t q = 1, th = 0, m = 4, d = -1;
    if (!bounded_opt(cmd, a, "queue", 1, MAX_QUEUE, &q) || !long_opt(cmd, a, "threads", 1, &th) ||
        !bounded_opt(cmd, a, "overlap-delay", 0, MAX_QUEUE, &d) ||
        !long_opt(cmd, a, "microbatches", 1, &m))
        return false;
    if (o->schedule != RT_SCHED_PIPELINE && cli_get(cmd, a, "microbatches")) {
        fprintf(stderr, "lnet %s: error: --microbatches applies to --schedule pipeline\n",
                cmd->name);
        return false;
    }
    int64_t p = 1;
    if (!long_opt(cmd, a, "replicas", 1, &p))
        return false;
    o->replicas = (int)p;
    o->queue_cap = (int)q;
    o->cores = core_budget(cmd, th);
    o->overlap_delay = (int)d;
    o->microbatches = (int)m;
    return true;
}

/* --target-loss, --random-labels, --eval-train, --gradsim-every, --gradsim-log
 * (docs/analyses.md) */
static bool analyses_opts(const CliCmd *cmd, const CliArgs *a, RtTrainOpts *o)
{
    const char *loss = cli_get(cmd, a, "target-loss");
    if (loss && !cli_float("target-loss", loss, &o->target_loss))
        return false;
    if (loss && !(o->target_loss > 0 && isfinite(o->target_loss))) {
        fprintf(stderr, "lnet %s: error: --target-loss expects a positive number, got '%s'\n",
                cmd->name, loss);
        return false;
    }
    o->random_labels = cli_flag(cmd, a, "random-labels");
    o->gradsim_log = cli_get(cmd, a, "gradsim-log");
    if (!long_opt(cmd, a, "eval-train", 1, &o->eval_train) ||
        !long_opt(cmd, a, "gradsim-every", 1, &o->gradsim_every))
        return false;
    if (!o->gradsim_every != !o->gradsim_log) {
        fprintf(stderr, "lnet %s: error: --gradsim-every N and --gradsim-log FILE go together\n",
                cmd->name);
        return false;
    }
    return true;
}

bool cli_train_fill(const CliCmd *cmd, const CliArgs *a, RtTrainOpts *o)
{
    memset(o, 0, sizeof *o);
    o->log_path = cli_get(cmd, a, "log");
    o->report_path = cli_get(cmd, a, "report");
    o->save_path = cli_get(cmd, a, "save");
    o->resume_path = cli_get(cmd, a, "resume");
    o->data_dir = cli_get(cmd, a, "data-dir");
    o->quiet = cli_flag(cmd, a, "quiet");
    o->fail_on_dead_block = cli_flag(cmd, a, "fail-on-dead-block");
    int64_t dead = 200;
    if (!bounded_opt(cmd, a, "dead-block-steps", 0, 0x7fffffffL, &dead))
        return false;
    o->dead_block_steps = (int)dead;
    /* the chance-level rule is free; the gradient rule reads every gradient
     * each step, so by default only a run that logs (and measures them for
     * the log anyway) or asks for the check by name pays for it */
    o->watch_grads = cli_get(cmd, a, "dead-block-steps") || cli_flag(cmd, a, "fail-on-dead-block");
    o->progress_tty = isatty(STDOUT_FILENO);
    o->out = stdout;
    const char *acc = cli_get(cmd, a, "target-accuracy");
    if (acc && !cli_float("target-accuracy", acc, &o->target_accuracy))
        return false;
    if (acc && (o->target_accuracy <= 0 || o->target_accuracy > 1)) {
        fprintf(stderr, "lnet %s: error: --target-accuracy expects a fraction in (0, 1], got "
                "'%s'\n", cmd->name, acc);
        return false;
    }
    return analyses_opts(cmd, a, o) && schedule_opts(cmd, a, o) &&
           long_opt(cmd, a, "max-steps", 1, &o->max_steps) &&
           long_opt(cmd, a, "train-limit", 1, &o->train_limit) &&
           long_opt(cmd, a, "test-limit", 1, &o->test_limit) &&
           long_opt(cmd, a, "eval-every", 1, &o->eval_every);
}

/* ------------------------------------------------------------- compile */

/* The baselines train with backprop, whatever the model's local { method }. */
static bool backprop_only(const CliCmd *cmd, const CliArgs *a, const char *sched, Diag *d)
{
    const char *m = cli_get(cmd, a, "method");
    if (!m || strcmp(m, "backprop") == 0)
        return true;
    diag_error(d, IR_LOC_NONE, "--schedule %s trains with backprop; --method %s does not "
               "apply", sched, m);
    return false;
}

/* The pipeline baseline: the forward graph cut into --blocks backprop stages
 * (default: the model's local { blocks }, else 2), each differentiated. */
static bool pipeline_model(CliTrainModel *tm, PassCtx *ctx, Diag *d)
{
    IrGraph *g = tm->m.g;
    int K = g->local.blocks > 0 ? g->local.blocks : 2;
    if (K > CLI_MAX_BLOCKS) {
        diag_error(d, IR_LOC_NONE, "%d stages: at most %d are supported", K, CLI_MAX_BLOCKS);
        return false;
    }
    if (!pass_run_pipeline(g, "shape,verify", ctx) || !pass_stages(g, K, &tm->bs, ctx))
        return false;
    for (int k = 0; k < tm->bs.n; k++)
        tm->blocks[tm->n_blocks++] = tm->bs.b[k].g;
    return true;
}

const char *cli_train_pipeline(const CliCmd *cmd, const CliArgs *a)
{
    return cli_flag(cmd, a, "no-fuse") ? CLI_TRAIN_PIPELINE : CLI_TRAIN_PIPELINE ",fuse";
}

/* The overridden model compiled into tm's blocks. */
static bool compile_blocks(const CliCmd *cmd, const CliArgs *a, CliTrainModel *tm, Diag *d)
{
    PassCtx ctx;
    model_pass_ctx(&tm->m, &ctx, d);
    const char *sched = cli_get(cmd, a, "schedule");
    bool dp = sched && strcmp(sched, "data-parallel") == 0;
    bool pipe = sched && strcmp(sched, "pipeline") == 0;
    if ((dp || pipe) && !backprop_only(cmd, a, sched, d))
        return false;
    if (pipe)
        return pipeline_model(tm, &ctx, d);
    if (dp)
        tm->m.g->local.method = METHOD_BACKPROP;
    if (!pass_run_pipeline(tm->m.g, cli_train_pipeline(cmd, a), &ctx))
        return false;
    IrGraph *g = tm->m.g;
    if (g->n_blocks <= 1) {
        tm->blocks[tm->n_blocks++] = g;
        return true;
    }
    if (g->n_blocks > CLI_MAX_BLOCKS) {
        diag_error(d, g->local.loc, "%d blocks: at most %d are supported", g->n_blocks,
                   CLI_MAX_BLOCKS);
        return false;
    }
    if (!pass_split(g, &tm->bs, d))
        return false;
    for (int k = 0; k < tm->bs.n; k++)
        tm->blocks[tm->n_blocks++] = tm->bs.b[k].g;
    return true;
}

/* A checkpoint's recorded partition is the default for what the command
 * does not give (a trainer's flags were fixed at build time: it only checks). */
bool cli_train_model(const CliCmd *cmd, const CliArgs *a, const char *text, CliTrainModel *tm,
                     Diag *d)
{
    memset(tm, 0, sizeof *tm);
    tm->file = a->file;
    if (text)
        model_load_text(a->file, text, d, &tm->m);
    else
        model_load(a->file, d, &tm->m);
    RtPartition rec;
    int has = 0;
    if (!tm->m.g || !cli_apply_overrides(cmd, a, tm->m.g) ||
        (has = cli_ckpt_partition_adopt(cmd, a, !text, tm->m.g, &rec)) < 0)
        return false;
    return compile_blocks(cmd, a, tm, d) &&
           (!has || cli_ckpt_partition_check(cmd, a, &rec, tm, text != NULL));
}

bool cli_train_model_backprop(const CliCmd *cmd, const CliArgs *a, CliTrainModel *tm, Diag *d)
{
    memset(tm, 0, sizeof *tm);
    tm->file = a->file;
    if (!model_load(a->file, d, &tm->m) || !cli_apply_overrides(cmd, a, tm->m.g))
        return false;
    tm->m.g->local.method = METHOD_BACKPROP;
    PassCtx ctx;
    model_pass_ctx(&tm->m, &ctx, d);
    if (!pass_run_pipeline(tm->m.g, cli_train_pipeline(cmd, a), &ctx))
        return false;
    tm->blocks[tm->n_blocks++] = tm->m.g;
    return true;
}

void cli_train_model_free(CliTrainModel *tm)
{
    pass_blocks_fini(&tm->bs);
    model_free(&tm->m);
}

/* FNV-1a over the printed IR, without the `train` line (learning rate,
 * epochs, batch, ... are run-time values that do not change the code). */
uint64_t cli_graph_fingerprint(const IrGraph *g)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return 0;
    ir_graph_print(g, f);
    fclose(f);
    uint64_t h = 0xcbf29ce484222325ull;
    bool skip = false, bol = true;
    for (size_t i = 0; i < len; i++) {
        if (bol)
            skip = strncmp(text + i, "train ", 6) == 0;
        bol = text[i] == '\n';
        if (!skip)
            h = (h ^ (unsigned char)text[i]) * 0x100000001b3ull;
    }
    free(text);
    return h;
}

/* ----------------------------------------------------------------- run */

static void print_summary(const IrGraph *g, const RtTrainResult *r)
{
    printf("%s: %lld steps, %.1f s training, %.0f examples/s; ", g->model,
           (long long)r->steps, r->wall_s, r->samples_per_s);
    if (r->is_text)
        printf("validation %.3f bits/byte\n", r->final.loss / 0.6931471805599453);
    else
        printf("test loss %.4f, test accuracy %.2f%%\n", r->final.loss,
               100 * r->final.accuracy);
}

static void print_heads(const RtTrainResult *r)
{
    for (int h = 0; h < r->n_heads; h++) {
        const RtEval *e = &r->heads[h];
        if (r->is_text)
            printf("  %-10s loss %.4f  %.3f bits/byte  (%lld windows)\n", r->head_names[h],
                   e->loss, e->loss / 0.6931471805599453, (long long)e->examples);
        else
            printf("  %-10s loss %.4f  accuracy %.2f%%  (%lld examples)\n", r->head_names[h],
                   e->loss, 100 * e->accuracy, (long long)e->examples);
    }
}

/* Trains the whole graph (one block) or its split blocks (the local schedule
 * is the default with several blocks). */
static bool train_blocks(const CliTrainModel *tm, RtTrainOpts *o, RtTrainResult *res,
                         char *err, size_t errcap)
{
    const IrGraph *g = tm->m.g;
    err[0] = '\0';
    if (o->overlap_delay >= 0 && g->local.method != METHOD_OVERLAP) {
        snprintf(err, errcap, "--overlap-delay applies to --method overlap (this run's method "
                 "is %s)", ir_local_method_name(&g->local));
        return false;
    }
    if (tm->bs.n == 0)
        return rt_train(g, o, res, err, errcap);
    RtBlockSpec specs[CLI_MAX_BLOCKS];
    RtLink *links = NULL;
    if (!cli_stages(&tm->bs, g, specs, &links)) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    bool ok = rt_train_blocks(g, specs, tm->bs.n, o, res, err, errcap);
    free(links);
    return ok;
}

/* What a stop signal left behind. */
static void print_stop(const CliCmd *cmd, const RtTrainOpts *o, const RtTrainResult *r)
{
    fprintf(stderr, "lnet %s: stopped by %s ", cmd->name, cli_signal_name(*o->stop));
    if (r->steps_run == 0)
        fputs("before training started; nothing saved\n", stderr);
    else if (r->saved)
        fprintf(stderr, "after step %lld; checkpoint saved to '%s'\n", (long long)r->steps,
                o->save_path);
    else
        fprintf(stderr, "after step %lld; nothing saved%s\n", (long long)r->steps,
                o->save_path ? "" : " (no --save)");
}

RtComm *(*cli_comm_start)(const char *prog);

bool cli_under_launcher(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                       "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i]))
            return true;
    return false;
}

int cli_launcher_ranks(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0)
            return atoi(v);
    }
    return 1;
}

/* This process's place in a distributed run; false (with the error
 * printed) when it was started as one rank of several by a build without
 * MPI. */
static bool join_ranks(const CliCmd *cmd, RtComm **comm)
{
    char prog[64];
    snprintf(prog, sizeof prog, "lnet %s", cmd->name);
    *comm = cli_comm_start ? cli_comm_start(prog) : NULL;
    if (cli_comm_start || cli_launcher_ranks() <= 1)
        return true;
    fprintf(stderr, "%s: error: started by mpirun as one of %d ranks, but this program was "
            "built without MPI (a trainer: build it with 'lnet build --mpi'; lnet itself: "
            "install libopenmpi-dev and build again, as tools/setup.sh does)\n", prog,
            cli_launcher_ranks());
    return false;
}

int cli_train_exec(const CliCmd *cmd, const CliTrainModel *tm, const RtTrainOpts *opts, Diag *d)
{
    RtTrainOpts o = *opts;
    diag_flush(d, stderr);      /* warnings before the training starts */
    RtTrainResult res;
    char err[512];
    const char *data = o.data_dir ? o.data_dir : tm->m.g->train.data_path;
    if (!join_ranks(cmd, &o.comm))
        return EXIT_USER;
    RtComm *c = o.comm;
    if (!c && o.replicas > 1) {
        fprintf(stderr, "lnet %s: error: --replicas %d applies to a distributed run: start it "
                "with mpirun -np R, R a multiple of %d\n", cmd->name, o.replicas, o.replicas);
        return EXIT_USER;
    }
    if (c && c->rank != 0)
        o.quiet = true;         /* rank 0 prints the run */
    if ((o.gradsim_every > 0 || o.gradsim_only) && !o.gradsim_ref) {
        fprintf(stderr, "lnet %s: error: gradient similarity is measured by 'lnet train' and "
                "'lnet gradsim', not by a built trainer\n", cmd->name);
        return EXIT_USER;
    }
    if (!cli_check_outputs(cmd, tm->file, &o, data)) {
        if (c)
            c->ops->abort(c, "stopping every rank (the error above)");
        return EXIT_USER;
    }
    if (!train_blocks(tm, &o, &res, err, sizeof err)) {
        if (c)
            c->ops->abort(c, err[0] ? err : "stopping every rank (the error above)");
        if (err[0])
            fprintf(stderr, "lnet %s: error: %s\n", cmd->name, err);
        return EXIT_USER;
    }
    if (c && c->rank != 0)
        return res.interrupted && *o.stop ? 128 + *o.stop : EXIT_OK;
    if (res.interrupted) {
        print_stop(cmd, &o, &res);
        if (res.steps_run == 0)
            return 128 + *o.stop;
    }
    if (o.eval_only && !o.predict)
        print_heads(&res);
    else if (!o.quiet)
        print_summary(tm->m.g, &res);
    if (o.profile)
        rt_profile_print(o.profile, stdout);
    /* a distributed run stopped by a signal to another rank: not an error here */
    return res.interrupted && *o.stop ? 128 + *o.stop : EXIT_OK;
}

int cli_train_run(const CliCmd *cmd, const CliArgs *a, const RtTrainOpts *o,
                  const CliTrainModel **current)
{
    RtTrainOpts opts = *o;
    if (!o->eval_only) {
        char prog[64];
        snprintf(prog, sizeof prog, "lnet %s", cmd->name);
        opts.stop = cli_catch_stop_signals(prog);
    }
    Diag d;
    diag_init(&d);
    CliTrainModel tm, ref = {0};
    int rc = EXIT_USER;
    bool gradsim = o->gradsim_every > 0 || o->gradsim_only;
    if (cli_train_model(cmd, a, NULL, &tm, &d) &&
        (!gradsim || cli_train_model_backprop(cmd, a, &ref, &d))) {
        opts.gradsim_ref = ref.m.g;
        if (current)
            *current = &tm;
        rc = cli_train_exec(cmd, &tm, &opts, &d);
        if (current)
            *current = NULL;
    }
    diag_print(&d, stderr);
    cli_train_model_free(&tm);
    cli_train_model_free(&ref);
    diag_fini(&d);
    return rc;
}
