/* cmd_train.c — `lnet train`: compile a model, build its training step, and
 * train it on its data set, printing progress and the final evaluation.
 */
#include "cli.h"
#include "codegen.h"
#include "train.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const CliOpt train_opts[] = {
    {"epochs", "N", "total epochs (a resumed run counts the epochs already done)"},
    {"max-steps", "N", "stop after N steps in total"},
    {"batch", "B", "batch size"},
    {"lr", "LR", "base learning rate"},
    {"optimizer", "OPT", "sgd | adam | adamw"},
    {"schedule-lr", "S", "constant | warmup | cosine"},
    {"seed", "S", "seed for initialization, shuffling and dropout"},
    {"method", "M", "backprop | greedy | chunked | overlap"},
    {"blocks", "K", "number of blocks"},
    {"overlap", "W", "overlap window"},
    {"data-dir", "DIR", "data location (IDX folder, or text file/folder)"},
    {"train-limit", "N", "use the first N training examples"},
    {"test-limit", "N", "use the first N test examples (text: validation windows)"},
    {"eval-every", "N", "also evaluate every N steps"},
    {"log", "FILE", "step log: CSV if FILE ends in .csv, JSON lines otherwise"},
    {"report", "FILE", "final JSON summary"},
    {"save", "CKPT", "write a checkpoint at every epoch end (atomically)"},
    {"resume", "CKPT", "continue from a checkpoint"},
    {"schedule", "S", "local (one thread per block; default with K > 1) | sequential"},
    {"queue", "N", "local: activations in flight between neighbouring blocks (default 1)"},
    {"threads", "N", "OpenBLAS threads (default: environment; local: 1 per worker)"},
    {"exec", "E", "jit (LLVM-compiled steps, the default) | interp (reference interpreter)"},
    {"quiet", NULL, "no progress output"},
    {NULL, NULL, NULL}};

static const CliCmd train_cmd = {
    "train", "FILE [options]",
    "Train a model. Options override the model's train { } and local { } sections.",
    train_opts};

#define TRAIN_PIPELINE PASS_LOCAL_PIPELINE ",autodiff,optimizer"

static bool long_opt(const CliArgs *a, const char *name, long lo, int64_t *out)
{
    const char *s = cli_get(&train_cmd, a, name);
    long v;
    if (!s)
        return true;
    if (!cli_int(name, s, lo, 0x7fffffffL, &v))
        return false;
    *out = v;
    return true;
}

/* --schedule, --queue, --threads */
static bool schedule_opts(const CliArgs *a, RtTrainOpts *o)
{
    const char *s = cli_get(&train_cmd, a, "schedule");
    o->local = true;
    if (s) {
        o->schedule_explicit = true;
        if (strcmp(s, "local") != 0 && strcmp(s, "sequential") != 0) {
            fprintf(stderr, "lnet train: error: --schedule: unknown schedule '%s' (expected "
                    "local or sequential)\n", s);
            return false;
        }
        o->local = strcmp(s, "local") == 0;
    }
    int64_t q = 1, th = 0;
    if (!long_opt(a, "queue", 1, &q) || !long_opt(a, "threads", 1, &th))
        return false;
    o->queue_cap = (int)q;
    o->blas_threads = (int)th;
    return true;
}

static bool fill_opts(const CliArgs *a, RtTrainOpts *o)
{
    memset(o, 0, sizeof *o);
    o->log_path = cli_get(&train_cmd, a, "log");
    o->report_path = cli_get(&train_cmd, a, "report");
    o->save_path = cli_get(&train_cmd, a, "save");
    o->resume_path = cli_get(&train_cmd, a, "resume");
    o->data_dir = cli_get(&train_cmd, a, "data-dir");
    o->quiet = cli_flag(&train_cmd, a, "quiet");
    o->progress_tty = isatty(STDOUT_FILENO);
    o->catch_sigint = true;
    o->out = stdout;
    const char *exec = cli_get(&train_cmd, a, "exec");
    if (exec && strcmp(exec, "interp") != 0 && strcmp(exec, "jit") != 0) {
        fprintf(stderr, "lnet train: error: --exec: unknown executor '%s' (expected: jit or "
                "interp)\n", exec);
        return false;
    }
    if (!exec || strcmp(exec, "jit") == 0)
        o->make_exec = cg_exec_factory;     /* exec_ctx NULL: default CgOptions */
    return schedule_opts(a, o) && long_opt(a, "max-steps", 1, &o->max_steps) &&
           long_opt(a, "train-limit", 1, &o->train_limit) &&
           long_opt(a, "test-limit", 1, &o->test_limit) &&
           long_opt(a, "eval-every", 1, &o->eval_every);
}

static int run_training(const CliCmd *cmd, const CliArgs *a, RtTrainOpts *opts);

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

static const CliOpt eval_opts[] = {
    {"load", "CKPT", "checkpoint to evaluate (required)"},
    {"method", "M", "backprop | greedy | chunked | overlap (as trained)"},
    {"blocks", "K", "number of blocks (as trained)"},
    {"overlap", "W", "overlap window (as trained)"},
    {"data-dir", "DIR", "data location (IDX folder, or text file/folder)"},
    {"test-limit", "N", "use the first N test examples (text: validation windows)"},
    {"report", "FILE", "JSON summary"},
    {NULL, NULL, NULL}};

static const CliCmd eval_cmd = {
    "eval", "FILE --load CKPT [options]",
    "Evaluate a checkpoint on the model's test / validation split: the task head\n"
    "and every auxiliary head.",
    eval_opts};

int cmd_eval(int argc, char **argv)
{
    CliArgs a;
    bool help;
    if (!cli_parse(&eval_cmd, argc, argv, &a, &help))
        return EXIT_USER;
    if (help) {
        cli_print_help(&eval_cmd, stdout);
        return EXIT_OK;
    }
    RtTrainOpts o = {.quiet = true, .eval_only = true, .out = stdout};
    o.resume_path = cli_get(&eval_cmd, &a, "load");
    o.data_dir = cli_get(&eval_cmd, &a, "data-dir");
    o.report_path = cli_get(&eval_cmd, &a, "report");
    const char *lim = cli_get(&eval_cmd, &a, "test-limit");
    long v;
    if (!o.resume_path) {
        fprintf(stderr, "lnet eval: error: --load CKPT is required\n");
        return EXIT_USER;
    }
    if (lim) {
        if (!cli_int("test-limit", lim, 1, 0x7fffffffL, &v))
            return EXIT_USER;
        o.test_limit = v;
    }
    return run_training(&eval_cmd, &a, &o);
}

int cmd_train(int argc, char **argv)
{
    CliArgs a;
    bool help;
    if (!cli_parse(&train_cmd, argc, argv, &a, &help))
        return EXIT_USER;
    if (help) {
        cli_print_help(&train_cmd, stdout);
        return EXIT_OK;
    }
    RtTrainOpts o;
    if (!fill_opts(&a, &o))
        return EXIT_USER;
    return run_training(&train_cmd, &a, &o);
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

/* Trains the whole graph (one block) or its split blocks. The local schedule
 * is the default with several blocks, except where blocks share parameters
 * (overlap), which only the sequential schedule can run. */
static bool train_blocks(IrGraph *g, RtTrainOpts *o, RtTrainResult *res, Diag *d, char *err,
                         size_t errcap)
{
    err[0] = '\0';
    if (g->n_blocks <= 1)
        return rt_train(g, o, res, err, errcap);
    PassBlocks bs = {0};
    RtStageSpec specs[64];
    RtLink *links = NULL;
    bool ok = false;
    if (g->n_blocks > 64) {
        snprintf(err, errcap, "%d blocks: at most 64 are supported", g->n_blocks);
        return false;
    }
    if (!pass_split(g, &bs, d))
        return false;
    if (!cli_stages(&bs, specs, &links)) {
        snprintf(err, errcap, "out of memory");
        goto done;
    }
    if (o->local && g->local.method == METHOD_OVERLAP && !o->schedule_explicit) {
        o->local = false;   /* windows share a layer: lockstep */
        if (!o->quiet)
            fprintf(stderr, "lnet: note: overlap windows share parameters; using the "
                    "sequential schedule\n");
    }
    ok = rt_train_blocks(g, specs, bs.n, o, res, err, errcap);
done:
    free(links);
    pass_blocks_fini(&bs);
    return ok;
}

static int run_training(const CliCmd *cmd, const CliArgs *a, RtTrainOpts *opts)
{
    RtTrainOpts o = *opts;
    Diag d;
    diag_init(&d);
    Model m = {0};
    int rc = EXIT_USER;
    if (!model_load(a->file, &d, &m) || !cli_apply_overrides(cmd, a, m.g))
        goto out;
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    if (!pass_run_pipeline(m.g, TRAIN_PIPELINE, &ctx))
        goto out;
    diag_flush(&d, stderr);     /* warnings before the training starts */
    RtTrainResult res;
    char err[512];
    if (!train_blocks(m.g, &o, &res, &d, err, sizeof err)) {
        if (err[0])
            fprintf(stderr, "lnet %s: error: %s\n", cmd->name, err);
        goto out;
    }
    if (res.interrupted)
        fprintf(stderr, "lnet %s: interrupted after step %lld%s\n", cmd->name,
                (long long)res.steps, o.save_path ? "; checkpoint saved" : "");
    if (o.eval_only)
        print_heads(&res);
    else if (!o.quiet)
        print_summary(m.g, &res);
    rc = EXIT_OK;
out:
    diag_print(&d, stderr);
    model_free(&m);
    diag_fini(&d);
    return rc;
}
