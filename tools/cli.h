/* cli.h — shared pieces of the `lnet` command: option parsing, loading a
 * model, and the subcommand entry points. Only tools/ prints and chooses exit
 * codes: 0 ok, 1 user error, 2 internal error.
 */
#ifndef LNET_CLI_H
#define LNET_CLI_H

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
const char *cli_get(const CliCmd *cmd, const CliArgs *a, const char *name);
bool cli_flag(const CliCmd *cmd, const CliArgs *a, const char *name);
/* Parses an integer / float option value; prints an error and returns false. */
bool cli_int(const char *opt, const char *s, long lo, long hi, long *out);
bool cli_float(const char *opt, const char *s, double *out);

/* Reads and compiles a model file. The returned graph and the source text
 * (kept alive for diagnostics in d) are owned by the caller: model_free. */
typedef struct Model {
    IrGraph *g;
    char *text;
} Model;

bool model_load(const char *path, Diag *d, Model *m);
void model_free(Model *m);

/* Applies the --method/--blocks/--overlap/--epochs/--batch/--lr/... overrides
 * that a subcommand accepts to the graph's train and local sections. */
bool cli_apply_overrides(const CliCmd *cmd, const CliArgs *a, IrGraph *g);

/* The runtime's stage table for the split pass's blocks; *links is
 * heap-allocated (free it after training). */
#include "train.h"
bool cli_stages(const PassBlocks *bs, RtStageSpec *specs, RtLink **links);

/* Subcommands. */
int cmd_check(int argc, char **argv);
int cmd_ir(int argc, char **argv);
int cmd_dot(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_cost(int argc, char **argv);
int cmd_eval(int argc, char **argv);

#endif
