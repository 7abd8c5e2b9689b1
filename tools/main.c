/* main.c — the `lnet` command: one entry point, one subcommand per verb.
 *
 * Exit status: 0 ok, 1 user error (bad input, bad flags), 2 internal error.
 */
#include "cli.h"
#include "plot.h"

#include <string.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Subcommand;

static const Subcommand subcommands[] = {
    {"check", cmd_check, "parse, lower and shape-check a model"},
    {"ir", cmd_ir, "print the IR after a pass pipeline"},
    {"dot", cmd_dot, "print the graph as Graphviz text"},
    {"train", cmd_train, "train a model on its data set"},
    {"cost", cmd_cost, "print the per-block cost table of the partitioned model"},
    {"eval", cmd_eval, "evaluate a checkpoint on the test / validation split"},
    {"predict", cmd_predict, "run a checkpoint on the examples of an .npy file"},
    {"build", cmd_build, "compile a model into a standalone trainer executable"},
    {"export", cmd_export, "write a trained model out as a PyTorch module or ONNX file"},
    {"plot", cmd_plot, "plot training curves, gradient similarity or conv filters"},
    {"sweep", cmd_sweep, "run lnet train over a grid of configurations"},
    {"pareto", cmd_pareto, "steps, compute and time to a target from a sweep, per method"},
    {"gradsim", cmd_gradsim, "compare each parameter's local gradient with backprop's"},
    {"devices", cmd_devices, "list the devices lnet train --devices can use"},
};

enum { N_SUB = sizeof subcommands / sizeof subcommands[0] };

static void usage(FILE *out)
{
    fputs("usage: lnet COMMAND [FILE] [options]\n\n"
          "lnet compiles .lnet models and trains them with local parallelism.\n\n"
          "commands:\n", out);
    for (int i = 0; i < N_SUB; i++)
        fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
    fputs("\n'lnet COMMAND --help' describes a command's options.\n"
          "'lnet --version' prints the version.\n", out);
}

/* The version, LLVM's, and where `lnet build` finds its libraries. */
static void version(void)
{
    printf("lnet %s\nLLVM %s\n", LNET_VERSION, LNET_LLVM_VERSION);
    char dir[4096], err[8192];
    if (cmd_build_libdir(dir, sizeof dir, err, sizeof err))
        printf("libraries: %s\n", dir);
    else
        printf("libraries: none (%s)\n", err);
}

int main(int argc, char **argv)
{
    cli_process_init("lnet");
    cli_use_layer_timer(cli_layer_times);
#ifdef LNET_HAVE_MPI
    cli_use_mpi();
#endif
    if (argc < 2) {
        usage(stderr);
        return EXIT_USER;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 || strcmp(verb, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(verb, "--version") == 0) {
        version();
        return EXIT_OK;
    }
    for (int i = 0; i < N_SUB; i++)
        if (strcmp(verb, subcommands[i].name) == 0)
            return subcommands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "lnet: error: unknown command '%s'\n\n", verb);
    usage(stderr);
    return EXIT_USER;
}
