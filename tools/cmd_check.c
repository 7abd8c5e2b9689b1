/* cmd_check.c — `lnet check`, `lnet ir` and `lnet dot`: compile a model and
 * report errors, print its IR after a pipeline, or draw it for Graphviz.
 */
#include "cli.h"
#include "codegen.h"
#include "gpu.h"

#include <stdlib.h>
#include <string.h>

#define LOCAL_OPTS                                                              \
    {"method", "M", "backprop | greedy | chunked | overlap | last-layer (overrides local)"}, \
    {"blocks", "K", "number of blocks (overrides local)"},                     \
    CLI_BALANCE_OPTS,                                                            \
    {"overlap", "W", "overlap window (overrides local)"},                      \
    CLI_LOAD_PASS_OPT

static const CliOpt check_opts[] = {CLI_LOAD_PASS_OPT, {NULL, NULL, NULL}};
static const CliCmd check_cmd = {
    "check", "FILE", "Parse, lower and shape-check a model; print a summary.", check_opts, NULL};

static const CliOpt ir_opts[] = {
    {"passes", "LIST", "comma-separated pipeline (default: " PASS_DEFAULT_PIPELINE ")"},
    {"print-after", "PASS", "print the IR after PASS"},
    {"print-after-all", NULL, "print the IR after every pass"},
    {"verify-each", NULL, "run the verifier after every pass (default)"},
    {"no-verify-each", NULL, "do not verify between passes"},
    {"time-passes", NULL, "report each pass's time"},
    {"list-passes", NULL, "list the registered passes and exit"},
    {"emit", "KIND", "llvm | asm | ptx: print each block's optimized step module (ptx: its GPU "
                     "kernels, docs/devices.md) instead of the IR\n"
                     "(default pipeline then: ... ,autodiff,optimizer,fuse)"},
    LOCAL_OPTS,
    {NULL, NULL, NULL}};
static const CliCmd ir_cmd = {
    "ir", "FILE [options]", "Print the model's IR after a pass pipeline.", ir_opts, NULL};

static const CliOpt dot_opts[] = {
    {"passes", "LIST", "pipeline to run first (default: " PASS_DEFAULT_PIPELINE ")"},
    LOCAL_OPTS,
    {NULL, NULL, NULL}};
static const CliCmd dot_cmd = {
    "dot", "FILE [options]",
    "Print the model graph as Graphviz text (nodes labelled with op and shape;\n"
    "blocks as clusters). Render with: lnet dot FILE | dot -Tpng -o model.png",
    dot_opts, NULL};

/* Parses, loads and applies overrides; returns an exit code or -1 to go on. */
static int front(const CliCmd *cmd, int argc, char **argv, CliArgs *a, Diag *d, Model *m)
{
    bool help;
    if (!cli_parse(cmd, argc, argv, a, &help))
        return EXIT_USER;
    if (help) {
        cli_print_help(cmd, stdout);
        return EXIT_OK;
    }
    if (!model_load(a->file, d, m)) {
        diag_print(d, stderr);
        return EXIT_USER;
    }
    if (!cli_apply_overrides(cmd, a, m->g))
        return EXIT_USER;
    return -1;
}

static void summary(const IrGraph *g, FILE *out)
{
    int64_t params = 0;
    int n_params = 0;
    double flops = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        params += ir_param_numel(n);
        n_params += n->op == IR_OP_PARAM && !(n->flags & IR_F_BUFFER);
        flops += ir_node_cost(g, n).flops;
    }
    fprintf(out, "%s: ok: %d nodes, %d parameter tensors, %lld parameters, "
                 "%.3g forward FLOPs per example\n",
            g->model, g->n_nodes, n_params, (long long)params, flops);
}

int cmd_check(int argc, char **argv)
{
    CliArgs a;
    Diag d;
    Model m = {0};
    diag_init(&d);
    int rc = front(&check_cmd, argc, argv, &a, &d, &m);
    if (rc < 0) {
        PassCtx ctx;
        model_pass_ctx(&m, &ctx, &d);
        rc = pass_run_pipeline(m.g, PASS_DEFAULT_PIPELINE, &ctx) ? EXIT_OK : EXIT_USER;
        diag_print(&d, stderr);
        if (rc == EXIT_OK)
            summary(m.g, stdout);
    }
    model_free(&m);
    diag_fini(&d);
    return rc;
}

static void list_passes(FILE *out)
{
    int n;
    const PassInfo *p = pass_list(&n);
    for (int i = 0; i < n; i++)
        fprintf(out, "  %-14s %s\n", p[i].name, p[i].help);
}

/* One graph's module as text; ptx: its GPU kernels for LNET_GPU_SM (default sm_70). */
static bool emit_one(const IrGraph *g, CgEmit kind, bool ptx, Diag *d)
{
    if (!ptx)
        return cg_emit_text(g, kind, stdout, d);
    const char *sm = getenv("LNET_GPU_SM");
    char *text = gpu_emit_ptx(g, sm && *sm ? sm : NULL, d);
    if (text)
        fputs(text, stdout);
    free(text);
    return text != NULL;
}

/* `--emit llvm|asm|ptx`: the optimized module of the graph, or of each block. */
static bool emit_blocks(const IrGraph *g, CgEmit kind, bool ptx, Diag *d)
{
    if (g->n_blocks <= 1)
        return emit_one(g, kind, ptx, d);
    PassBlocks bs = {0};
    bool ok = pass_split(g, &bs, d);
    for (int i = 0; ok && i < bs.n; i++) {
        printf("%s block %d\n", kind == CG_EMIT_LLVM ? ";" : ptx ? "//" : "#", ir_block_no(i));
        ok = emit_one(bs.b[i].g, kind, ptx, d);
    }
    pass_blocks_fini(&bs);
    return ok;
}

static bool parse_emit(const char *s, CgEmit *kind, bool *ptx)
{
    *kind = CG_EMIT_NONE;
    *ptx = s && strcmp(s, "ptx") == 0;
    if (!s)
        return true;
    if (strcmp(s, "llvm") == 0 || strcmp(s, "asm") == 0 || *ptx) {
        *kind = s[0] == 'l' ? CG_EMIT_LLVM : CG_EMIT_ASM;
        return true;
    }
    fprintf(stderr, "lnet ir: error: --emit: unknown kind '%s' (expected: llvm, asm or ptx)\n",
            s);
    return false;
}

static int run_ir(const CliCmd *cmd, int argc, char **argv, bool dot)
{
    CliArgs a;
    Diag d;
    Model m = {0};
    diag_init(&d);
    for (int i = 0; i < argc; i++) {
        if (!dot && strcmp(argv[i], "--list-passes") == 0) {
            list_passes(stdout);
            diag_fini(&d);
            return EXIT_OK;
        }
    }
    int rc = front(cmd, argc, argv, &a, &d, &m);
    if (rc < 0) {
        PassCtx ctx;
        model_pass_ctx(&m, &ctx, &d);
        const char *pipe = cli_get(cmd, &a, "passes");
        if (!dot) {
            ctx.print_after = cli_get(cmd, &a, "print-after");
            ctx.print_after_all = cli_flag(cmd, &a, "print-after-all");
            ctx.verify_each = !cli_flag(cmd, &a, "no-verify-each");
            ctx.time_passes = cli_flag(cmd, &a, "time-passes");
        }
        CgEmit emit = CG_EMIT_NONE;
        bool ptx = false;
        if (!dot && !parse_emit(cli_get(cmd, &a, "emit"), &emit, &ptx)) {
            rc = EXIT_USER;
            goto out;
        }
        const char *def =
            emit ? PASS_DEFAULT_PIPELINE ",autodiff,optimizer,fuse" : PASS_DEFAULT_PIPELINE;
        bool ok = pass_run_pipeline(m.g, pipe ? pipe : def, &ctx);
        if (ok && emit)
            ok = emit_blocks(m.g, emit, ptx, &d);
        diag_print(&d, stderr);
        if (ok && dot)
            ir_graph_dot(m.g, stdout);
        else if (ok && !emit && !ctx.print_after && !ctx.print_after_all)
            ir_graph_print(m.g, stdout);
        rc = ok ? EXIT_OK : EXIT_USER;
    }
out:
    model_free(&m);
    diag_fini(&d);
    return rc;
}

int cmd_ir(int argc, char **argv) { return run_ir(&ir_cmd, argc, argv, false); }
int cmd_dot(int argc, char **argv) { return run_ir(&dot_cmd, argc, argv, true); }
