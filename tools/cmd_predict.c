/* cmd_predict.c — `lnet predict`: a checkpoint's outputs on the examples of
 * an .npy file. It is `lnet eval` (the same compile, checkpoint load,
 * normalization and batches in evaluation mode) with the .npy file as the
 * evaluation split; the logits of one head are collected batch by batch and
 * written as float32 (N, classes), or their arg-max as int64 (N).
 */
#include "cli.h"
#include "data.h"
#include "train.h"

#include <stdlib.h>
#include <string.h>

static const CliOpt predict_opts[] = {
    {"load", "CKPT", "checkpoint to run (required)"},
    {"input", "X.npy", "examples: N x the input's shape, float32, float64 or uint8 (required)"},
    {"output", "Y.npy", "write the logits (float32, N x classes), or the class ids with --classes"},
    {"classes", NULL, "write the arg-max class ids (int64, N) instead of the logits"},
    {"labels", "L.npy", "class ids of the examples (uint8, int32 or int64): print the accuracy"},
    {"head", "NAME", "the head to read: task (default) or an auxiliary head (head1, ...)"},
    {"method", "M", "backprop | greedy | chunked | overlap | last-layer (default: as trained)"},
    {"blocks", "K", "number of blocks (default: as trained)"},
    {"overlap", "W", "overlap window (default: as trained)"},
    CLI_LOAD_PASS_OPT,
    {"data-dir", "DIR", "the model's data (its normalization is computed over the training set)"},
    {"test-limit", "N", "use the first N examples of --input"},
    {NULL, NULL, NULL}};

static const CliCmd predict_cmd = {
    "predict", "FILE --load CKPT --input X.npy [options]",
    "Run a checkpoint on the examples of an .npy file (evaluation mode, batch by\n"
    "batch) and write its logits or class ids as .npy.",
    predict_opts,
    "The examples are normalized as in training: the model's mean and std, else the\n"
    "training set's statistics (so the model's data must be readable). See\n"
    "docs/inference.md.\n"};

/* The logits of every batch, appended. */
typedef struct Sink {
    float *logits;  /* (n, classes) */
    int64_t n, cap, classes;
    bool oom;
} Sink;

static void sink_batch(void *ctx, const float *logits, int64_t n, int64_t classes)
{
    Sink *s = ctx;
    s->classes = classes;
    if (s->oom)
        return;
    if ((s->n + n) * classes > s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < (s->n + n) * classes)
            cap *= 2;
        float *p = realloc(s->logits, (size_t)cap * sizeof *p);
        if (!p) {
            s->oom = true;
            return;
        }
        s->logits = p;
        s->cap = cap;
    }
    memcpy(s->logits + s->n * classes, logits, (size_t)(n * classes) * sizeof *logits);
    s->n += n;
}

/* Arg-max of each row (the first on ties, as the accuracy counts it). */
static int64_t *argmax(const Sink *s)
{
    int64_t *ids = malloc((size_t)(s->n + 1) * sizeof *ids);
    for (int64_t i = 0; ids && i < s->n; i++) {
        const float *r = s->logits + i * s->classes;
        int64_t best = 0;
        for (int64_t c = 1; c < s->classes; c++)
            if (r[c] > r[best])
                best = c;
        ids[i] = best;
    }
    return ids;
}

/* Fraction of ids equal to the labels file's first n class ids. */
static bool accuracy(const char *path, const int64_t *ids, int64_t n, double *acc)
{
    RtNpy y;
    char err[512];
    if (!rt_npy_open(path, &y, err, sizeof err)) {
        fprintf(stderr, "lnet predict: error: %s\n", err);
        return false;
    }
    int64_t right = 0;
    int size = rt_npy_type_size(y.type);
    for (int64_t i = 0; i < n && i < y.count; i++) {
        int64_t v = 0;
        if (y.type == RT_NPY_I64)
            memcpy(&v, y.data + 8 * i, 8);
        else if (y.type == RT_NPY_I32) {
            int32_t w;
            memcpy(&w, y.data + 4 * i, 4);
            v = w;
        } else if (size == 1)
            v = y.data[i];
        right += v == ids[i];
    }
    rt_npy_close(&y);
    *acc = n ? (double)right / (double)n : 0;
    return true;
}

static int finish(const CliArgs *a, const Sink *s)
{
    const char *out = cli_get(&predict_cmd, a, "output");
    const char *labels = cli_get(&predict_cmd, a, "labels");
    bool classes = cli_get(&predict_cmd, a, "classes") != NULL;
    int64_t *ids = argmax(s);
    char err[512];
    double acc = 0;
    int rc = EXIT_OK;
    if (!ids || s->oom) {
        fprintf(stderr, "lnet predict: error: out of memory for %lld x %lld logits\n",
                (long long)s->n, (long long)s->classes);
        rc = EXIT_USER;
    } else if (out && !(classes ? rt_npy_write(out, RT_NPY_I64, &s->n, 1, ids, err, sizeof err)
                                : rt_npy_write(out, RT_NPY_F32, (int64_t[]){s->n, s->classes},
                                               2, s->logits, err, sizeof err))) {
        fprintf(stderr, "lnet predict: error: %s\n", err);
        rc = EXIT_USER;
    } else if (labels && !accuracy(labels, ids, s->n, &acc)) {
        rc = EXIT_USER;
    }
    if (rc == EXIT_OK) {
        printf("predicted %lld examples, %lld classes", (long long)s->n, (long long)s->classes);
        if (labels)
            printf(", accuracy %.2f%%", 100 * acc);
        if (out)
            printf(" -> %s (%s)", out, classes ? "int64 class ids" : "float32 logits");
        printf("\n");
    }
    free(ids);
    return rc;
}

int cmd_predict(int argc, char **argv)
{
    CliArgs a;
    bool help;
    if (!cli_parse(&predict_cmd, argc, argv, &a, &help))
        return EXIT_USER;
    if (help) {
        cli_print_help(&predict_cmd, stdout);
        return EXIT_OK;
    }
    Sink s = {0};
    RtPredict p = {cli_get(&predict_cmd, &a, "input"), cli_get(&predict_cmd, &a, "labels"),
                   cli_get(&predict_cmd, &a, "head"), sink_batch, &s, false};
    RtTrainOpts o = {.quiet = true, .eval_only = true, .out = stdout, .overlap_delay = -1,
                     .predict = &p};
    o.resume_path = cli_get(&predict_cmd, &a, "load");
    o.data_dir = cli_get(&predict_cmd, &a, "data-dir");
    const char *lim = cli_get(&predict_cmd, &a, "test-limit");
    long v;
    if (!o.resume_path || !p.input) {
        fprintf(stderr, "lnet predict: error: --%s is required\n",
                o.resume_path ? "input X.npy" : "load CKPT");
        return EXIT_USER;
    }
    if (lim) {
        if (!cli_int("test-limit", lim, 1, 0x7fffffffL, &v))
            return EXIT_USER;
        o.test_limit = v;
    }
    int rc = cli_train_run(&predict_cmd, &a, &o, NULL);
    if (rc == EXIT_OK && !p.found) {
        fprintf(stderr, "lnet predict: error: the model has no head named '%s' (task, or "
                "head1 ... for the auxiliary heads of a local run)\n", p.head);
        rc = EXIT_USER;
    }
    if (rc == EXIT_OK)
        rc = finish(&a, &s);
    free(s.logits);
    return rc;
}
