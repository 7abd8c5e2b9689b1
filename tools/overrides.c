/* overrides.c — command-line values that replace the model's `train` and
 * `local` sections. Each subcommand lists the ones it accepts in its option
 * table; an option the command does not declare is simply absent here.
 */
#include "cli.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The plug-in method --method chose (model_pass_ctx hands it to the passes). */
static const PassPartitioner *chosen_partitioner;

const PassPartitioner *cli_partitioner(void)
{
    return chosen_partitioner;
}

/* --remeasure: the layer times of `balance = time` are measured again. */
static bool remeasure;

bool cli_remeasure(void)
{
    return remeasure;
}

/* --load-pass PATH: dlopen()s the plug-in, checks its ABI stamp and runs its
 * init (lnet_pass.h). Loading the same library again (a command compiles the
 * model twice) does nothing: dlopen returns the handle it already has. */
static bool load_pass(const CliCmd *c, const char *path)
{
    enum { MAX_LOADED = 16 };
    static void *loaded[MAX_LOADED];
    static int n_loaded;
    /* dlopen searches the library path for a name without '/': a plug-in
     * is a file, so make it a path */
    char file[4096 + 2];
    snprintf(file, sizeof file, "%s%s", strchr(path, '/') ? "" : "./", path);
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "lnet %s: error: --load-pass %s: cannot load: %s\n", c->name, path,
                dlerror());
        return false;
    }
    for (int i = 0; i < n_loaded; i++)
        if (loaded[i] == h) {
            dlclose(h);     /* drops the extra reference only */
            return true;
        }
    const int *abi = dlsym(h, "lnet_pass_plugin_abi");
    /* ISO C has no function-pointer cast from void *; POSIX guarantees it works */
    LnetPassPluginInitFn init;
    *(void **)&init = dlsym(h, "lnet_pass_plugin_init");
    char err[512] = "";
    if (!abi || !init)
        snprintf(err, sizeof err, "not an lnet pass plug-in: no %s (see docs/passes.md)",
                 !abi ? "lnet_pass_plugin_abi (LNET_PASS_PLUGIN;)"
                      : "entry point lnet_pass_plugin_init");
    else if (*abi != LNET_PASS_ABI_VERSION)
        snprintf(err, sizeof err, "built for pass ABI version %d; this lnet has version %d "
                 "(rebuild it against this lnet's lnet_pass.h)", *abi, LNET_PASS_ABI_VERSION);
    else if (n_loaded == MAX_LOADED)
        snprintf(err, sizeof err, "more than %d plug-ins", MAX_LOADED);
    if (!err[0] && pass_plugin_init(init, path, err, sizeof err)) {
        loaded[n_loaded++] = h;
        return true;
    }
    fprintf(stderr, "lnet %s: error: --load-pass %s: %s\n", c->name, path, err);
    dlclose(h);
    return false;
}

/* --load-pass LIB[,LIB...]: each in turn. */
static bool load_passes(const CliCmd *c, const char *list)
{
    while (*list) {
        size_t len = strcspn(list, ",");
        char path[4096];
        snprintf(path, sizeof path, "%.*s", (int)len, list);
        if (len > 0 && !load_pass(c, path))
            return false;
        list += len + (list[len] == ',');
    }
    return true;
}

static bool enum_value(const char *opt, const char *s, const char *(*name)(int), int count,
                       int *out)
{
    for (int i = 0; i < count; i++) {
        if (strcmp(name(i), s) == 0) {
            *out = i;
            return true;
        }
    }
    fprintf(stderr, "lnet: error: --%s: unknown value '%s' (expected one of:", opt, s);
    for (int i = 0; i < count; i++)
        fprintf(stderr, " %s", name(i));
    char plugins[512];
    pass_partitioner_names(plugins, sizeof plugins);
    if (strcmp(opt, "method") == 0 && plugins[0])
        fprintf(stderr, ", or a plug-in's: %s", plugins);
    fputs(")\n", stderr);
    return false;
}

static const char *method_name(int i) { return ir_method_name((IrMethod)i); }
static const char *balance_name(int i) { return ir_balance_name((IrBalance)i); }
static const char *optimizer_name(int i) { return ir_optimizer_name((IrOptimizer)i); }
static const char *schedule_name(int i) { return ir_lr_schedule_name((IrLrSchedule)i); }

static bool int_opt(const CliCmd *c, const CliArgs *a, const char *name, long lo, long hi,
                    int *out)
{
    const char *s = cli_get(c, a, name);
    long v;
    if (!s)
        return true;
    if (!cli_int(name, s, lo, hi, &v))
        return false;
    *out = (int)v;
    return true;
}

static bool section_enums(const CliCmd *c, const CliArgs *a, IrGraph *g)
{
    const char *s;
    int v = 0;
    chosen_partitioner = NULL;
    if ((s = cli_get(c, a, "load-pass")) && !load_passes(c, s))
        return false;
    if ((s = cli_get(c, a, "method"))) {
        /* a plug-in's method: contiguous blocks like chunked, chosen by it */
        if ((chosen_partitioner = pass_partitioner_find(s)))
            v = METHOD_CHUNKED;
        else if (!enum_value("method", s, method_name, METHOD_COUNT, &v))
            return false;
        g->local.method = (IrMethod)v;
        g->local.method_name = chosen_partitioner ? s : NULL;
        g->local.method_loc = IR_LOC_NONE;     /* not the file's value any more */
    }
    if ((s = cli_get(c, a, "balance"))) {
        if (!enum_value("balance", s, balance_name, BALANCE_COUNT, &v))
            return false;
        g->local.balance = (IrBalance)v;
        g->local.balance_loc = IR_LOC_NONE;
    }
    remeasure = cli_flag(c, a, "remeasure");
    if ((s = cli_get(c, a, "optimizer"))) {
        if (!enum_value("optimizer", s, optimizer_name, OPT_COUNT, &v))
            return false;
        g->train.optimizer = (IrOptimizer)v;
    }
    if ((s = cli_get(c, a, "schedule-lr"))) {
        if (!enum_value("schedule-lr", s, schedule_name, LR_COUNT, &v))
            return false;
        g->train.lr_schedule = (IrLrSchedule)v;
    }
    return true;
}

bool cli_apply_overrides(const CliCmd *c, const CliArgs *a, IrGraph *g)
{
    if (!section_enums(c, a, g))
        return false;
    if (cli_get(c, a, "blocks"))
        g->local.blocks_loc = IR_LOC_NONE;
    if (cli_get(c, a, "overlap"))
        g->local.overlap_loc = IR_LOC_NONE;
    if (!int_opt(c, a, "blocks", 1, 4096, &g->local.blocks) ||
        !int_opt(c, a, "overlap", 2, 4096, &g->local.overlap) ||
        !int_opt(c, a, "epochs", 1, 1000000, &g->train.epochs) ||
        !int_opt(c, a, "batch", 1, 1 << 20, &g->train.batch))
        return false;
    const char *s;
    double v;
    long seed;
    if ((s = cli_get(c, a, "lr"))) {
        if (!cli_float("lr", s, &v))
            return false;
        if (v <= 0) {
            fprintf(stderr, "lnet: error: --lr must be positive, got '%s'\n", s);
            return false;
        }
        g->train.lr = (float)v;
    }
    if ((s = cli_get(c, a, "seed"))) {
        if (!cli_int("seed", s, 0, 0x7fffffffL, &seed))
            return false;
        g->train.seed = (uint64_t)seed;
    }
    if ((s = cli_get(c, a, "data-dir")))
        g->train.data_path = s;
    return true;
}

/* ------------------------------------------------- checkpoint partition */

/* The checkpoint a command continues or evaluates, or NULL. */
static const char *ckpt_path(const CliCmd *c, const CliArgs *a)
{
    const char *s = cli_get(c, a, "resume");
    return s ? s : cli_get(c, a, "load");
}

/* This process's rank under a launcher (0 when none started it). */
static int launcher_rank(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i]))
            return atoi(getenv(vars[i]));
    return 0;
}

/* Under mpirun, rank 0 loads the checkpoint and sends the others their
 * parameters, so a rank on another machine may not have the file. It needs
 * the record only to take the partition from it: when the command gives
 * the partition (or a trainer fixed it), rank 0 alone checks it; else the
 * rank cannot know it. */
static int remote_rank_without_file(const CliCmd *c, const CliArgs *a, bool adopt,
                                    const char *path)
{
    if (cli_launcher_ranks() <= 1 || launcher_rank() == 0 || access(path, F_OK) == 0)
        return 1;
    const char *m = cli_get(c, a, "method");
    if (!adopt || (m && (strcmp(m, "backprop") == 0 || cli_get(c, a, "blocks"))))
        return 0;
    fprintf(stderr, "lnet %s: error: %s: no such file on rank %d's machine; each rank takes "
            "the partition from the checkpoint: copy it there, or give --method and --blocks "
            "(and --overlap) as trained\n", c->name, path, launcher_rank());
    return -1;
}

int cli_ckpt_partition_adopt(const CliCmd *c, const CliArgs *a, bool adopt, IrGraph *g,
                             RtPartition *rec)
{
    const char *path = ckpt_path(c, a);
    char err[512];
    int r = path ? remote_rank_without_file(c, a, adopt, path) : 0;
    if (r > 0 && (r = rt_checkpoint_partition(path, rec, err, sizeof err)) < 0)
        fprintf(stderr, "lnet %s: error: %s\n", c->name, err);
    if (r <= 0 || !adopt)
        return r;
    if (!cli_get(c, a, "method")) {
        g->local.method = rec->method;
        g->local.method_loc = IR_LOC_NONE;
    }
    if (rec->method == METHOD_BACKPROP)
        return r;
    if (!cli_get(c, a, "blocks")) {
        g->local.blocks = rec->blocks;
        g->local.blocks_loc = IR_LOC_NONE;
    }
    if (rec->method == METHOD_OVERLAP && !cli_get(c, a, "overlap")) {
        g->local.overlap = rec->overlap;
        g->local.overlap_loc = IR_LOC_NONE;
    }
    if (!cli_get(c, a, "balance")) {
        g->local.balance = rec->balance;
        g->local.balance_loc = IR_LOC_NONE;
    }
    return r;
}

/* Appends " --NAME VALUE" when the command gives --NAME. */
static void asked(const CliCmd *c, const CliArgs *a, const char *name, char *out, size_t cap)
{
    const char *v = cli_get(c, a, name);
    size_t n = strlen(out);
    if (v && n < cap)
        snprintf(out + n, cap - n, "%s--%s %s", n ? " " : "", name, v);
}

bool cli_ckpt_partition_check(const CliCmd *c, const CliArgs *a, const RtPartition *rec,
                              const CliTrainModel *tm, bool trainer)
{
    RtPartition run;
    rt_partition_of(tm->blocks, tm->n_blocks, &run);
    if (rt_partition_equal(rec, &run))
        return true;
    char want[96], have[96], ask[160] = "";
    rt_partition_str(rec, want, sizeof want);
    rt_partition_str(&run, have, sizeof have);
    const char *path = ckpt_path(c, a);
    if (strcmp(want, have) == 0) {
        fprintf(stderr, "lnet %s: error: %s was trained with %s but another cut of the model "
                "into blocks (its blocks hold other tensors: was the model changed?)\n",
                c->name, path, want);
        return false;
    }
    if (rec->method != run.method) {
        asked(c, a, "method", ask, sizeof ask);
        asked(c, a, "schedule", ask, sizeof ask);
    }
    if (rec->blocks != run.blocks)
        asked(c, a, "blocks", ask, sizeof ask);
    if (rec->overlap != run.overlap)
        asked(c, a, "overlap", ask, sizeof ask);
    if (trainer)
        fprintf(stderr, "lnet %s: error: %s was trained with %s, but this trainer runs %s "
                "(fixed by lnet build: build one with the checkpoint's flags)\n", c->name, path,
                want, have);
    else if (ask[0])
        fprintf(stderr, "lnet %s: error: %s was trained with %s, but the command asks for "
                "%s\n", c->name, path, want, ask);
    else
        fprintf(stderr, "lnet %s: error: %s was trained with %s, but this run has %s\n",
                c->name, path, want, have);
    return false;
}
