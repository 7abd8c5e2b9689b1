/* trainer_main.c — main() of the standalone trainers that `lnet build` links.
 *
 * `lnet build` compiles every block of a model to an object file and writes
 * a small C file (cmd_build.c) that defines the symbols declared below: the
 * model's .lnet text, the flags fixed at build time, and per block its two
 * linked entry points and the fingerprint of the graph they were compiled
 * from. At start-up the trainer compiles the embedded text again with the
 * same overrides through the same passes and split (plain C, deterministic:
 * no LLVM), checks each block graph against its fingerprint — a run-time
 * flag that changed the code would be caught here — and trains through the
 * driver of `lnet train` with executors over the linked entries.
 */
#include "cli.h"
#include "codegen.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------ defined by the generated file */

extern const char lnet_aot_source[];            /* the .lnet text, NUL-terminated */
extern const char lnet_aot_name[];              /* its file name, for diagnostics */
extern const char lnet_aot_cpu[];               /* CPU level of the objects */
extern const char *const lnet_aot_fixed[];      /* {flag, value} pairs, then NULL */
extern const int lnet_aot_n_blocks;
extern const CgStepFn lnet_aot_entries[];       /* step, forward, backward, update of
                                                   block 0, then 1, ... */
extern const uint64_t lnet_aot_fingerprints[];  /* cli_graph_fingerprint per block */

/* ------------------------------------------------------------- options */

enum { MAX_OPTS = 40 };

typedef struct Trainer {
    const char *prog;
    CliOpt opts[MAX_OPTS];
    char help[8][96];               /* help texts of the fixed flags */
    CliCmd cmd;
    CliTrainModel tm;
} Trainer;

static const char *fixed_value(const char *name)
{
    for (int i = 0; lnet_aot_fixed[i]; i += 2)
        if (strcmp(lnet_aot_fixed[i], name) == 0)
            return lnet_aot_fixed[i + 1];
    return NULL;
}

/* The flags of `lnet train` but --exec, --profile(-clock) and --no-fuse; the fixed ones say their value. */
static void make_cmd(Trainer *t, const char *prog)
{
    int n = 0, nh = 0;
    for (int i = 0; cli_train_opts[i].name && n < MAX_OPTS - 1; i++) {
        CliOpt o = cli_train_opts[i];
        if (strcmp(o.name, "exec") == 0 || strcmp(o.name, "profile") == 0 ||
            strcmp(o.name, "devices") == 0 ||
            strcmp(o.name, "profile-clock") == 0 ||
            strcmp(o.name, "no-fuse") == 0)     /* the linked code is fused */
            continue;
        const char *v = fixed_value(o.name);
        if (v && nh < 8) {
            snprintf(t->help[nh], sizeof t->help[nh], "fixed at build time: %s",
                     *v ? v : "the model's default");
            o.help = t->help[nh++];
        }
        t->opts[n++] = o;
    }
    t->opts[n] = (CliOpt){NULL, NULL, NULL};
    const char *slash = strrchr(prog, '/');
    t->prog = prog;
    t->cmd = (CliCmd){slash ? slash + 1 : prog, "[options]",
                      "A standalone lnet trainer. Options override the model's train { } "
                      "section.", t->opts, NULL};
}

static void print_help(const Trainer *t)
{
    printf("usage: %s [options]\n\nTrains model '%s' (embedded; built by lnet %s for CPU "
           "level %s).\nOptions override the model's train { } section.\n\noptions:\n",
           t->prog, lnet_aot_name, LNET_VERSION, lnet_aot_cpu);
    for (int i = 0; t->opts[i].name; i++) {
        char lhs[64];
        snprintf(lhs, sizeof lhs, "--%s%s%s", t->opts[i].name, t->opts[i].arg ? " " : "",
                 t->opts[i].arg ? t->opts[i].arg : "");
        printf("  %-26s %s\n", lhs, t->opts[i].help);
    }
    puts("  --help                     show this help");
    fputs(cli_train_notes, stdout);
}

/* Before cli_parse: positional arguments and unknown flags, reported under
 * the trainer's own name. */
static bool check_args(const Trainer *t, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0)
            return true;
        if (strncmp(s, "--", 2) != 0 || !s[2]) {
            fprintf(stderr, "%s: error: unexpected argument '%s' (the model is built in)\n",
                    t->prog, s);
            return false;
        }
        size_t len = strcspn(s + 2, "=");
        int k = 0;
        while (t->opts[k].name && !(strlen(t->opts[k].name) == len &&
                                   strncmp(t->opts[k].name, s + 2, len) == 0))
            k++;
        if (!t->opts[k].name) {
            fprintf(stderr, "%s: error: unknown option '%s' (see '%s --help')\n", t->prog, s,
                    t->prog);
            return false;
        }
        if (t->opts[k].arg && !strchr(s, '='))
            i++;    /* its value (cli_parse reports a missing one) */
    }
    return true;
}

/* The fixed flags: a different value is an error (numbers compare by value);
 * then every fixed value is applied, exactly as `lnet build` applied it. An
 * empty value is the model's default: the flag may not be given at all. */
static bool apply_fixed(const Trainer *t, CliArgs *a)
{
    for (int k = 0; t->opts[k].name; k++) {
        const char *v = fixed_value(t->opts[k].name), *got = a->val[k];
        if (!v)
            continue;
        bool same = !got || strcmp(got, v) == 0 || (*v && atol(v) && atol(got) == atol(v));
        if (!same) {
            char hint[96];
            if (strcmp(t->opts[k].name, "schedule") == 0)
                snprintf(hint, sizeof hint, "without --schedule");
            else
                snprintf(hint, sizeof hint, "--%s %s", t->opts[k].name, got);
            fprintf(stderr, "%s: error: --%s is fixed at build time to '%s' (got '%s'); "
                    "rebuild with 'lnet build %s'\n", t->prog, t->opts[k].name,
                    *v ? v : "the model's default", got, hint);
            return false;
        }
        a->val[k] = *v ? v : NULL;
    }
    return true;
}

/* ------------------------------------------------------------ executors */

/* The linked entries of the block whose graph g is. */
static RtExec *linked_exec(const IrGraph *g, int max_batch, void *ctx, char *err,
                           size_t errcap)
{
    const CliTrainModel *tm = ctx;
    for (int k = 0; k < tm->n_blocks; k++)
        if (tm->blocks[k] == g)
            return cg_exec_linked_new(g, max_batch, lnet_aot_entries + 4 * k, err, errcap);
    snprintf(err, errcap, "no compiled block for graph '%s'", g->model);
    return NULL;
}

/* The pipeline baseline runs other graphs (stages): chosen at build time. */
static bool check_schedule(const Trainer *t, const CliArgs *a)
{
    const char *s = cli_get(&t->cmd, a, "schedule");
    if (!s || strcmp(s, "pipeline") != 0 || fixed_value("schedule"))
        return true;
    fprintf(stderr, "%s: error: this trainer was not built for --schedule pipeline (its "
            "stages are other code); rebuild with 'lnet build --schedule pipeline'\n",
            t->prog);
    return false;
}

/* The rebuilt graphs must be the ones the entries were compiled from. */
static bool check_blocks(const Trainer *t)
{
    if (t->tm.n_blocks != lnet_aot_n_blocks) {
        fprintf(stderr, "%s: error: the model split into %d blocks, but %d were compiled at "
                "build time\n", t->prog, t->tm.n_blocks, lnet_aot_n_blocks);
        return false;
    }
    for (int k = 0; k < t->tm.n_blocks; k++) {
        if (cli_graph_fingerprint(t->tm.blocks[k]) != lnet_aot_fingerprints[k]) {
            fprintf(stderr, "%s: error: block %d's graph differs from the one compiled at "
                    "build time (a flag changed the model's code; rebuild with lnet build "
                    "and that flag)\n", t->prog, ir_block_no(k));
            return false;
        }
    }
    return true;
}

static int run(Trainer *t, int argc, char **argv)
{
    CliArgs a;
    bool help;
    RtTrainOpts o;
    if (!check_args(t, argc, argv) || !cli_parse(&t->cmd, argc - 1, argv + 1, &a, &help))
        return EXIT_USER;
    if (help) {
        print_help(t);
        return EXIT_OK;
    }
    if (!check_schedule(t, &a) || !apply_fixed(t, &a) || !cli_train_fill(&t->cmd, &a, &o))
        return EXIT_USER;
    a.file = lnet_aot_name;
    o.stop = cli_catch_stop_signals(t->prog);
    Diag d;
    diag_init(&d);
    int rc = EXIT_USER;
    if (cli_train_model(&t->cmd, &a, lnet_aot_source, &t->tm, &d) && check_blocks(t)) {
        o.make_exec = linked_exec;
        o.exec_ctx = &t->tm;
        rc = cli_train_exec(&t->cmd, &t->tm, &o, &d);
    }
    diag_print(&d, stderr);
    cli_train_model_free(&t->tm);
    diag_fini(&d);
    return rc;
}

int main(int argc, char **argv)
{
    static Trainer t;
    make_cmd(&t, argc > 0 ? argv[0] : "trainer");
    cli_process_init(t.prog);
#ifdef LNET_HAVE_MPI
    cli_use_mpi();      /* built by `lnet build --mpi` */
#endif
    return run(&t, argc, argv);
}
