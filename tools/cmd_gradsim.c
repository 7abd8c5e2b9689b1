/* cmd_gradsim.c — `lnet gradsim`: on one batch and one set of weights, the
 * cosine between each parameter's local gradient (the method's training
 * gradient) and its true backprop gradient, per parameter tensor and per
 * layer (runtime/gradsim.c; docs/analyses.md).
 */
#include "cli.h"
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CSV_HEAD "step,block,layer,param,cosine"

static const CliOpt gradsim_opts[] = {
    {"method", "M", "backprop | greedy | chunked | overlap | last-layer (default: the "
                    "model's, or as "
                    "trained with --load)"},
    {"blocks", "K", "number of blocks"},
    {"overlap", "W", "overlap window"},
    CLI_LOAD_PASS_OPT,
    {"load", "CKPT", "the weights (default: the initialization of --seed)"},
    {"batch", "B", "batch size"},
    {"seed", "S", "seed for initialization and the data order"},
    {"data-dir", "DIR", "data location (IDX folder, or text file/folder)"},
    {"train-limit", "N", "use the first N training examples"},
    {"out", "FILE", "also write the rows as CSV: " CSV_HEAD},
    {NULL, NULL, NULL}};

static const CliCmd gradsim_cmd = {
    "gradsim", "FILE [options]",
    "Compare each parameter's local gradient with its true backprop gradient on the\n"
    "next training batch: the cosine per parameter tensor and per layer.",
    gradsim_opts,
    "The local gradient is the method's training gradient: each block's own head\n"
    "loss, no gradient across a block boundary. The true gradient is the task loss\n"
    "backpropagated through the whole network. Auxiliary heads have no true\n"
    "gradient and are not listed. A cosine is nan when either gradient is zero.\n"};

/* The measurement's rows, kept for the tables. */
typedef struct Sink {
    RtGradSimSink base;
    int64_t step;
    int n;
    RtGradSimRow *rows;
} Sink;

static void keep_rows(RtGradSimSink *base, int64_t step, const RtGradSimRow *rows, int n)
{
    Sink *s = (Sink *)base;
    free(s->rows);
    s->rows = malloc((size_t)(n + 1) * sizeof *rows);
    if (!s->rows)
        return;
    memcpy(s->rows, rows, (size_t)n * sizeof *rows);
    s->n = n;
    s->step = step;
}

static double cosine(double dot, double a, double b)
{
    return a > 0 && b > 0 ? dot / sqrt(a * b) : NAN;
}

/* Per parameter, then per layer: a layer's cosine is that of its
 * parameters' gradients taken as one vector. */
static void print_tables(const Sink *s)
{
    printf("gradient similarity at step %lld: cosine(local, true backprop)\n\n",
           (long long)s->step);
    printf("%5s  %-24s %s\n", "block", "parameter", "cosine");
    for (int j = 0; j < s->n; j++)
        printf("%5d  %-24s %.6f\n", s->rows[j].block, s->rows[j].param, s->rows[j].cosine);
    printf("\n%5s  %-24s %s\n", "block", "layer", "cosine");
    for (int j = 0; j < s->n;) {
        const RtGradSimRow *r = &s->rows[j];
        double dot = 0, a = 0, b = 0;
        int e = j;
        for (; e < s->n && s->rows[e].block == r->block &&
               strcmp(s->rows[e].layer, r->layer) == 0; e++) {
            dot += s->rows[e].dot;
            a += s->rows[e].local_sq;
            b += s->rows[e].true_sq;
        }
        printf("%5d  %-24s %.6f\n", r->block, r->layer, cosine(dot, a, b));
        j = e;
    }
}

/* --out: written anew, but only over a file of these rows. */
static bool write_csv(const char *path, const Sink *s)
{
    char line[64] = "";
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] && strcmp(line, CSV_HEAD) != 0) {
            fprintf(stderr, "lnet gradsim: error: --out '%s': not a gradient-similarity CSV "
                    "(its first line is not '" CSV_HEAD "'); refusing to overwrite it\n", path);
            return false;
        }
    }
    errno = 0;
    f = fopen(path, "w");
    if (f) {
        fputs(CSV_HEAD "\n", f);
        for (int j = 0; j < s->n; j++)
            fprintf(f, "%lld,%d,%s,%s,%.9g\n", (long long)s->step, s->rows[j].block,
                    s->rows[j].layer, s->rows[j].param, s->rows[j].cosine);
        if (fclose(f) == 0)
            return true;
    }
    fprintf(stderr, "lnet gradsim: error: cannot write '%s': %s\n", path,
            strerror(errno ? errno : EIO));
    return false;
}

int cmd_gradsim(int argc, char **argv)
{
    CliArgs a;
    bool help;
    if (!cli_parse(&gradsim_cmd, argc, argv, &a, &help))
        return EXIT_USER;
    if (help) {
        cli_print_help(&gradsim_cmd, stdout);
        return EXIT_OK;
    }
    Sink sink = {.base = {keep_rows}};
    RtTrainOpts o = {.quiet = true, .gradsim_only = true, .out = stdout, .overlap_delay = -1,
                     .gradsim_sink = &sink.base};
    o.resume_path = cli_get(&gradsim_cmd, &a, "load");
    o.data_dir = cli_get(&gradsim_cmd, &a, "data-dir");
    const char *lim = cli_get(&gradsim_cmd, &a, "train-limit");
    long v;
    if (lim) {
        if (!cli_int("train-limit", lim, 1, 0x7fffffffL, &v))
            return EXIT_USER;
        o.train_limit = v;
    }
    int rc = cli_train_run(&gradsim_cmd, &a, &o, NULL);
    if (rc == EXIT_OK && !sink.rows) {
        fprintf(stderr, "lnet gradsim: error: nothing was measured\n");
        rc = EXIT_INTERNAL;
    }
    const char *out = cli_get(&gradsim_cmd, &a, "out");
    if (rc == EXIT_OK) {
        print_tables(&sink);
        if (out && !write_csv(out, &sink))
            rc = EXIT_USER;
    }
    free(sink.rows);
    return rc;
}
