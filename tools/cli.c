/* cli.c — option parsing and model loading for the `lnet` subcommands.
 *
 * Options are `--name value` or `--name=value`; flags take no value. Every
 * subcommand declares its options in a table, which also drives --help.
 */
#include "cli.h"
#include "frontend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int opt_index(const CliCmd *cmd, const char *name, size_t len)
{
    for (int i = 0; cmd->opts[i].name; i++)
        if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, name, len) == 0)
            return i;
    return -1;
}

static bool parse_long_opt(const CliCmd *cmd, int argc, char **argv, int *i, CliArgs *out)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    int k = opt_index(cmd, arg, len);
    if (k < 0) {
        fprintf(stderr, "lnet %s: error: unknown option '--%.*s' (see 'lnet %s --help')\n",
                cmd->name, (int)len, arg, cmd->name);
        return false;
    }
    if (!cmd->opts[k].arg) {
        if (eq) {
            fprintf(stderr, "lnet %s: error: option '--%s' takes no value\n", cmd->name,
                    cmd->opts[k].name);
            return false;
        }
        out->val[k] = "";
        return true;
    }
    if (eq) {
        out->val[k] = eq + 1;
    } else if (*i + 1 < argc) {
        out->val[k] = argv[++*i];
    } else {
        fprintf(stderr, "lnet %s: error: option '--%s' needs a value %s\n", cmd->name,
                cmd->opts[k].name, cmd->opts[k].arg);
        return false;
    }
    return true;
}

bool cli_parse(const CliCmd *cmd, int argc, char **argv, CliArgs *out, bool *help)
{
    memset(out, 0, sizeof *out);
    *help = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            *help = true;
            return true;
        }
        if (strncmp(argv[i], "--", 2) == 0 && argv[i][2]) {
            if (!parse_long_opt(cmd, argc, argv, &i, out))
                return false;
        } else if (!out->file) {
            out->file = argv[i];
        } else {
            fprintf(stderr, "lnet %s: error: unexpected argument '%s'\n", cmd->name, argv[i]);
            return false;
        }
    }
    if (!out->file && strstr(cmd->usage, "FILE") == cmd->usage) {
        fprintf(stderr, "lnet %s: error: missing FILE\nusage: lnet %s %s\n", cmd->name,
                cmd->name, cmd->usage);
        return false;
    }
    return true;
}

void cli_print_help(const CliCmd *cmd, FILE *out)
{
    fprintf(out, "usage: lnet %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
    if (cmd->opts[0].name)
        fputs("\noptions:\n", out);
    for (int i = 0; cmd->opts[i].name; i++) {
        char lhs[64];
        snprintf(lhs, sizeof lhs, "--%s%s%s", cmd->opts[i].name,
                 cmd->opts[i].arg ? " " : "", cmd->opts[i].arg ? cmd->opts[i].arg : "");
        fprintf(out, "  %-26s %s\n", lhs, cmd->opts[i].help);
    }
    fputs("  --help                     show this help\n", out);
    if (cmd->notes)
        fprintf(out, "\n%s", cmd->notes);
}

const char *cli_get(const CliCmd *cmd, const CliArgs *a, const char *name)
{
    int k = opt_index(cmd, name, strlen(name));
    return k < 0 ? NULL : a->val[k];
}

bool cli_flag(const CliCmd *cmd, const CliArgs *a, const char *name)
{
    return cli_get(cmd, a, name) != NULL;
}

bool cli_int(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "lnet: error: --%s expects an integer in [%ld, %ld], got '%s'\n",
                opt, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

bool cli_float(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v == v)) {
        fprintf(stderr, "lnet: error: --%s expects a number, got '%s'\n", opt, s);
        return false;
    }
    *out = v;
    return true;
}

/* Compiles m->text (len bytes), keeping the frontend's state for custom heads. */
static bool model_compile(const char *name, size_t len, Diag *d, Model *m)
{
    m->fe = fe_model_new(name, m->text, len, d, &m->g);
    return m->g != NULL;
}

bool model_load(const char *path, Diag *d, Model *m)
{
    size_t len;
    *m = (Model){0};
    m->text = fe_read_file(path, &len, d);
    m->path = path;
    return m->text && model_compile(path, len, d, m);
}

bool model_load_text(const char *name, const char *text, Diag *d, Model *m)
{
    size_t len = strlen(text);
    *m = (Model){0};
    m->text = malloc(len + 1);
    IR_ASSERT(m->text);
    memcpy(m->text, text, len + 1);
    m->path = name;
    return model_compile(name, len, d, m);
}

void model_free(Model *m)
{
    ir_graph_free(m->g);
    fe_model_free(m->fe);
    free(m->text);
    free(m->layer_secs);
    *m = (Model){0};
}

/* PassCtx.build_head over the frontend: head_ctx is the model's FeModel. */
static IrNode *build_head(void *fe, IrGraph *g, int input, int block, Diag *d)
{
    return fe_model_head(fe, g, input, block, d);
}

/* The partition balances measured time: chunked into more than one block
 * by lnet itself (a plug-in chooses its own way). */
static bool wants_times(const IrGraph *g)
{
    const IrLocalCfg *l = &g->local;
    return g->n_blocks == 0 && l->balance == BALANCE_TIME && l->method == METHOD_CHUNKED &&
           !l->method_name && l->blocks != 1 && !cli_partitioner();
}

static CliLayerTimer layer_timer;

void cli_use_layer_timer(CliLayerTimer timer)
{
    layer_timer = timer;
}

void model_pass_ctx(Model *m, PassCtx *ctx, Diag *d)
{
    pass_ctx_init(ctx, d);
    if (m->fe) {
        ctx->build_head = build_head;
        ctx->head_ctx = m->fe;
    }
    ctx->partitioner = cli_partitioner();
    if (layer_timer && m->g && m->text && wants_times(m->g) && layer_timer(m, d)) {
        ctx->layer_secs = m->layer_secs;
        ctx->n_layer_secs = m->n_layer_secs;
    }
}

int cli_parse_cmd(const CliCmd *cmd, int argc, char **argv, CliArgs *out)
{
    /* -o X is --output X (cli_parse knows long options only) */
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args)
        return EXIT_INTERNAL;
    for (int i = 0; i < argc; i++)
        args[i] = strcmp(argv[i], "-o") == 0 ? (char *)"--output" : argv[i];
    bool help;
    bool parsed = cli_parse(cmd, argc, args, out, &help);
    free(args);
    if (!parsed)
        return EXIT_USER;
    if (help) {
        cli_print_help(cmd, stdout);
        return EXIT_OK;
    }
    return -1;
}
