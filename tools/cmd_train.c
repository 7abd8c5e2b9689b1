/* cmd_train.c — `lnet train` and `lnet eval`: compile a model, build its
 * training step with the chosen executor, and train it on its data set (or
 * evaluate a checkpoint). The driver itself is train_run.c, shared with the
 * standalone trainers of `lnet build`.
 */
#include "cli.h"
#include "codegen.h"
#include "devices.h"
#include "profile.h"
#include "train.h"

#include <stdlib.h>
#include <string.h>

static const CliCmd train_cmd = {
    "train", "FILE [options]",
    "Train a model. Options override the model's train { } and local { } sections.",
    cli_train_opts, cli_train_notes};

/* --devices: each block's executor from the list (devices.h); the cpu
 * blocks keep the factory and context chosen so far. */
static bool devices_opt(const CliArgs *a, RtTrainOpts *o, CliDevices *dv)
{
    const char *list = cli_get(&train_cmd, a, "devices");
    if (!list)
        return true;
    if (!cli_devices_parse("train", list, true, dv))
        return false;
    if (o->schedule == RT_SCHED_DATA_PARALLEL || o->schedule == RT_SCHED_PIPELINE) {
        fprintf(stderr, "lnet train: error: --devices applies to the local and sequential "
                "schedules, not --schedule %s\n", rt_sched_name(o->schedule));
        return false;
    }
    dv->cpu_make = o->make_exec;
    dv->cpu_ctx = o->exec_ctx;
    dv->quiet = o->quiet;
    o->make_exec = cli_devices_factory;
    o->exec_ctx = dv;
    return true;
}

/* cg: the JIT's options (o->exec_ctx points at them with --profile). */
static bool fill_opts(const CliArgs *a, RtTrainOpts *o, CgOptions *cg, CliDevices *dv)
{
    if (!cli_train_fill(&train_cmd, a, o))
        return false;
    const char *exec = cli_get(&train_cmd, a, "exec");
    if (exec && strcmp(exec, "interp") != 0 && strcmp(exec, "jit") != 0) {
        fprintf(stderr, "lnet train: error: --exec: unknown executor '%s' (expected: jit or "
                "interp)\n", exec);
        return false;
    }
    if (!exec || strcmp(exec, "jit") == 0)
        o->make_exec = cg_exec_factory;     /* exec_ctx NULL: default CgOptions */
    const char *clock = cli_get(&train_cmd, a, "profile-clock");
    if (clock && strcmp(clock, "wall") != 0 && strcmp(clock, "cpu") != 0) {
        fprintf(stderr, "lnet train: error: --profile-clock: unknown clock '%s' (expected: wall "
                "or cpu)\n", clock);
        return false;
    }
    rt_profile_set_clock(clock && strcmp(clock, "cpu") == 0 ? RT_PROF_CPU : RT_PROF_WALL);
    if (cli_flag(&train_cmd, a, "profile") || clock) {
        cg_options_init(cg);
        cg->profile = true;
        if (o->make_exec)
            o->exec_ctx = cg;
        if (!(o->profile = rt_profile_new())) {
            fprintf(stderr, "lnet train: error: out of memory\n");
            return false;
        }
    }
    return devices_opt(a, o, dv);
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
    CgOptions cg;
    CliDevices dv;
    if (!fill_opts(&a, &o, &cg, &dv))
        return EXIT_USER;
    bool devices = o.make_exec == cli_devices_factory;
    int rc = cli_train_run(&train_cmd, &a, &o, devices ? &dv.tm : NULL);
    rt_profile_free(o.profile);
    return rc;
}

static const CliOpt eval_opts[] = {
    {"load", "CKPT", "checkpoint to evaluate (required)"},
    {"method", "M", "backprop | greedy | chunked | overlap | last-layer (default: as "
                    "trained)"},
    {"blocks", "K", "number of blocks (default: as trained)"},
    CLI_BALANCE_OPTS,
    {"overlap", "W", "overlap window (default: as trained)"},
    CLI_LOAD_PASS_OPT,
    {"data-dir", "DIR", "data location (IDX folder, or text file/folder)"},
    {"test-limit", "N", "use the first N test examples (text: validation windows)"},
    {"report", "FILE", "JSON summary"},
    {NULL, NULL, NULL}};

static const CliCmd eval_cmd = {
    "eval", "FILE --load CKPT [options]",
    "Evaluate a checkpoint on the model's test / validation split: the task head\n"
    "and every auxiliary head.",
    eval_opts,
    "The checkpoint records the partition it was trained with (lnet train --save):\n"
    "--method, --blocks and --overlap default to it, and other values are refused.\n"
    "A checkpoint without the record (written before lnet kept it) needs them as\n"
    "trained.\n"};

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
    RtTrainOpts o = {.quiet = true, .eval_only = true, .out = stdout, .overlap_delay = -1};
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
    return cli_train_run(&eval_cmd, &a, &o, NULL);
}
