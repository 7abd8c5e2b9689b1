/* layer_times.c — the measured layer times of `balance = time`, and their cache.
 *
 * A layer's time is the single-thread step time of a block made of that layer
 * alone: the model is compiled for training with one block per layer (method
 * greedy: each block is a layer, its head, its backward and its update) and
 * every block stepped on the JIT (cli_measure_blocks, a median of a few
 * steps). The partition pass turns these into seconds per FLOP (balance.c).
 *
 * Measuring takes seconds, so the times are kept in a text file next to the
 * model, MODEL.lnet.times:
 *     lnet layer times 1
 *     key model=<fingerprint of the unpartitioned IR> batch=<B> nproc=<N> cpu=<model name>
 *     <seconds of layer 1>
 *     ...
 * A file whose key differs (the model changed, another batch, another
 * machine) is measured again and rewritten; so is any file with --remeasure.
 * A cache that cannot be written is a warning: the times were measured.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { TIME_STEPS = 5, TIME_WARMUP = 2 };

/* The CPU's model name from /proc/cpuinfo, or "unknown". */
static void cpu_name(char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(out, cap, "%s", colon + 1 + (colon[1] == ' '));
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    }
    fclose(f);
}

/* What the times depend on: the model (without its local section, which
 * the times are used to choose), the batch and the machine. */
static void cache_key(IrGraph *g, char *out, size_t cap)
{
    IrLocalCfg saved = g->local;
    ir_local_cfg_default(&g->local);
    uint64_t fp = cli_graph_fingerprint(g);
    g->local = saved;
    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    snprintf(out, cap, "key model=%016llx batch=%d nproc=%ld cpu=%s", (unsigned long long)fp,
             g->train.batch, sysconf(_SC_NPROCESSORS_ONLN), cpu);
}

/* The times in path when its key is `key`; false when absent, stale or bad. */
static bool read_cache(const char *path, const char *key, Model *m)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[512];
    bool ok = fgets(line, sizeof line, f) && strcmp(line, "lnet layer times 1\n") == 0 &&
              fgets(line, sizeof line, f) && strncmp(line, key, strlen(key)) == 0 &&
              line[strlen(key)] == '\n';
    int n = 0, cap = 16;
    double *secs = malloc((size_t)cap * sizeof *secs);
    IR_CHECK_ALLOC(secs);
    double v;
    while (ok && fscanf(f, "%lf", &v) == 1 && v > 0) {
        if (n == cap)
            secs = realloc(secs, (size_t)(cap *= 2) * sizeof *secs);
        IR_CHECK_ALLOC(secs);
        secs[n++] = v;
    }
    ok = ok && n > 0 && feof(f);
    fclose(f);
    if (!ok) {
        free(secs);
        return false;
    }
    m->layer_secs = secs;
    m->n_layer_secs = n;
    return true;
}

static void write_cache(const char *path, const char *key, const Model *m)
{
    FILE *f = fopen(path, "w");
    bool ok = f && fprintf(f, "lnet layer times 1\n%s\n", key) > 0;
    for (int i = 0; ok && i < m->n_layer_secs; i++)
        ok = fprintf(f, "%.9g\n", m->layer_secs[i]) > 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "lnet: warning: cannot write the layer times to '%s'; they will be "
                "measured again next time\n", path);
}

/* m compiled with one block per layer, into tm (free it either way). */
static bool compile_layers(Model *m, CliTrainModel *tm, Diag *d)
{
    memset(tm, 0, sizeof *tm);
    tm->file = m->path;
    if (!model_load_text(m->path, m->text, d, &tm->m))
        return false;
    IrGraph *g = tm->m.g;
    g->train = m->g->train;         /* the overridden batch, seed, ... */
    ir_local_cfg_default(&g->local);    /* one block per layer, nothing to balance */
    g->local.method = METHOD_GREEDY;
    g->local.head = m->g->local.head;
    PassCtx ctx;
    model_pass_ctx(&tm->m, &ctx, d);
    ctx.partitioner = NULL;
    if (!pass_run_pipeline(g, CLI_TRAIN_PIPELINE, &ctx))
        return false;
    if (g->n_blocks > CLI_MAX_BLOCKS) {
        diag_error(d, g->local.loc, "balance = time: %d layers, and at most %d can be timed",
                   g->n_blocks, CLI_MAX_BLOCKS);
        return false;
    }
    if (g->n_blocks <= 1) {
        tm->blocks[tm->n_blocks++] = g;
        return true;
    }
    if (!pass_split(g, &tm->bs, d))
        return false;
    for (int k = 0; k < tm->bs.n; k++)
        tm->blocks[tm->n_blocks++] = tm->bs.b[k].g;
    return true;
}

static bool measure(Model *m, Diag *d)
{
    CliTrainModel tm;
    bool ok = compile_layers(m, &tm, d);
    char err[512] = "";
    if (ok) {
        m->layer_secs = calloc((size_t)tm.n_blocks, sizeof *m->layer_secs);
        IR_CHECK_ALLOC(m->layer_secs);
        m->n_layer_secs = tm.n_blocks;
        ok = cli_measure_blocks(&tm, TIME_STEPS, TIME_WARMUP, m->layer_secs, err, sizeof err);
        if (!ok)
            diag_error(d, m->g->local.loc, "balance = time: measuring the layers: %s", err);
    }
    cli_train_model_free(&tm);
    return ok;
}

bool cli_layer_times(Model *m, Diag *d)
{
    if (m->layer_secs)
        return true;
    char key[512], path[4096 + 8];
    cache_key(m->g, key, sizeof key);
    snprintf(path, sizeof path, "%s.times", m->path ? m->path : "model");
    if (!cli_remeasure() && read_cache(path, key, m)) {
        fprintf(stderr, "lnet: balance = time: %d layer times from '%s'\n", m->n_layer_secs,
                path);
        return true;
    }
    fprintf(stderr, "lnet: balance = time: measuring every layer's step time (cached in '%s')\n",
            path);
    if (!measure(m, d)) {
        free(m->layer_secs);
        m->layer_secs = NULL;
        m->n_layer_secs = 0;
        return false;
    }
    write_cache(path, key, m);
    return true;
}
