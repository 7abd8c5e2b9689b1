/* cmd_train.c — `lnet train`: compile a model, build its training step, and
 * train it on its data set, printing progress and the final evaluation.
 */
#include "cli.h"
#include "train.h"

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
    {"exec", "E", "interp (reference interpreter)"},
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
    o->out = stdout;
    const char *exec = cli_get(&train_cmd, a, "exec");
    if (exec && strcmp(exec, "interp") != 0) {
        fprintf(stderr, "lnet train: error: --exec: unknown executor '%s' (expected: interp)\n",
                exec);
        return false;
    }
    return long_opt(a, "max-steps", 1, &o->max_steps) &&
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
    RtTrainResult res;
    char err[512];
    if (!rt_train(m.g, &o, &res, err, sizeof err)) {
        fprintf(stderr, "lnet %s: error: %s\n", cmd->name, err);
        goto out;
    }
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
