/* cmd_cost.c — `lnet cost`: the per-block cost table of a partitioned model.
 *
 * Compiles the model through partition, aux-heads, stop-grad and autodiff,
 * then sums the cost model over the nodes each block really runs (passes/
 * cost.c): FLOPs per example (forward, backward, head), parameters, the
 * activations a block holds during a step and what it sends to later blocks,
 * per step at the model's batch size; then the ideal pipeline speed-up of K
 * workers over one worker running every block (total / most expensive block).
 * With --threads N, also the placement the local schedule would use on N
 * cores: the blocks' groups, each worker's threads, the predicted speed-up.
 */
#include "cli.h"
#include "placement.h"

#include <string.h>

static const CliOpt cost_opts[] = {
    {"method", "M", "backprop | greedy | chunked | overlap (overrides local)"},
    {"blocks", "K", "number of blocks (overrides local)"},
    {"overlap", "W", "overlap window (overrides local)"},
    {"batch", "B", "batch size for the per-step memory and traffic (overrides train)"},
    {"threads", "N", "also place the blocks on N cores as lnet train --threads N would"},
    {"json", NULL, "print JSON instead of a table"},
    {NULL, NULL, NULL}};

static const CliCmd cost_cmd = {
    "cost", "FILE [options]",
    "Print the cost of every block of the partitioned model: forward, backward and\n"
    "head FLOPs per example, parameters, activation memory and traffic per step, and\n"
    "the predicted speed-up of one worker per block (ideal pipeline).",
    cost_opts, NULL};

static void print_table(const IrGraph *g, const PassCost *c, FILE *out)
{
    fprintf(out, "%s: %s, %d block%s; FLOPs per example, memory and traffic per step of %d\n\n",
            g->model, ir_method_name(g->local.method), c->n, c->n == 1 ? "" : "s", c->batch);
    fprintf(out, "%5s %11s %11s %11s %11s %6s %11s %10s %10s %10s\n", "block", "fwd MFLOP",
            "bwd MFLOP", "head MFLOP", "total MFLOP", "share", "params", "param MB", "act MB",
            "send MB");
    for (int b = 0; b < c->n; b++) {
        const PassBlockCost *bc = &c->b[b];
        double t = bc->fwd + bc->bwd + bc->head;
        fprintf(out, "%5d %11.3f %11.3f %11.3f %11.3f %5.1f%% %11lld %10.3f %10.3f %10.3f\n", b,
                bc->fwd / 1e6, bc->bwd / 1e6, bc->head / 1e6, t / 1e6,
                c->total > 0 ? 100 * t / c->total : 0, (long long)bc->params,
                bc->param_bytes / 1e6, bc->act_bytes / 1e6, bc->send_bytes / 1e6);
    }
    fprintf(out, "%5s %47.3f\n\n", "total", c->total / 1e6);
    fprintf(out, "predicted throughput of %d workers relative to one: %.2fx "
                 "(total / most expensive block)\n", c->n, c->speedup);
}

/* The local schedule's placement of c's blocks on N cores. */
static void place(const PassCost *c, int N, RtPlacement *p)
{
    double cost[RT_PLACE_MAX];
    for (int b = 0; b < c->n && b < RT_PLACE_MAX; b++)
        cost[b] = c->b[b].fwd + c->b[b].bwd + c->b[b].head;
    rt_place(cost, c->n < RT_PLACE_MAX ? c->n : RT_PLACE_MAX, N, p);
}

static void print_placement(const PassCost *c, int N, FILE *out)
{
    RtPlacement p;
    place(c, N, &p);
    fprintf(out, "\non %d core%s (--threads %d): %d worker%s\n", N, N == 1 ? "" : "s", N,
            p.workers, p.workers == 1 ? "" : "s");
    fprintf(out, "%6s %8s %8s %11s %6s\n", "worker", "blocks", "threads", "total MFLOP", "share");
    for (int w = 0; w < p.workers; w++) {
        char blocks[32];
        int a = p.first[w], b = p.first[w + 1] - 1;
        if (a == b)
            snprintf(blocks, sizeof blocks, "%d", a);
        else
            snprintf(blocks, sizeof blocks, "%d-%d", a, b);
        fprintf(out, "%6d %8s %8d %11.3f %5.1f%%\n", w, blocks, p.threads[w], p.cost[w] / 1e6,
                p.total > 0 ? 100 * p.cost[w] / p.total : 0);
    }
    fprintf(out, "predicted speed-up on %d core%s relative to one: %.2fx (total / slowest "
                 "worker's cost per thread)\n", N, N == 1 ? "" : "s", rt_place_speedup(&p));
}

static void print_json(const IrGraph *g, const PassCost *c, int N, FILE *out)
{
    fprintf(out, "{\"model\":\"%s\",\"method\":\"%s\",\"blocks\":%d,\"batch\":%d,"
                 "\"per_block\":[", g->model, ir_method_name(g->local.method), c->n, c->batch);
    for (int b = 0; b < c->n; b++) {
        const PassBlockCost *bc = &c->b[b];
        fprintf(out, "%s{\"block\":%d,\"fwd_flops\":%.17g,\"bwd_flops\":%.17g,"
                     "\"head_flops\":%.17g,\"total_flops\":%.17g,\"params\":%lld,"
                     "\"param_bytes\":%.17g,\"activation_bytes\":%.17g,\"send_bytes\":%.17g}",
                b ? "," : "", b, bc->fwd, bc->bwd, bc->head, bc->fwd + bc->bwd + bc->head,
                (long long)bc->params, bc->param_bytes, bc->act_bytes, bc->send_bytes);
    }
    fprintf(out, "],\"total_flops\":%.17g,\"max_block_flops\":%.17g,\"speedup\":%.17g",
            c->total, c->max, c->speedup);
    if (N > 0) {
        RtPlacement p;
        place(c, N, &p);
        fprintf(out, ",\"placement\":{\"cores\":%d,\"workers\":[", N);
        for (int w = 0; w < p.workers; w++)
            fprintf(out, "%s{\"worker\":%d,\"blocks\":[%d,%d],\"threads\":%d,"
                         "\"total_flops\":%.17g}", w ? "," : "", w, p.first[w],
                    p.first[w + 1] - 1, p.threads[w], p.cost[w]);
        fprintf(out, "],\"speedup\":%.17g}", rt_place_speedup(&p));
    }
    fputs("}\n", out);
}

int cmd_cost(int argc, char **argv)
{
    CliArgs a;
    bool help;
    if (!cli_parse(&cost_cmd, argc, argv, &a, &help))
        return EXIT_USER;
    if (help) {
        cli_print_help(&cost_cmd, stdout);
        return EXIT_OK;
    }
    long N = 0;
    const char *th = cli_get(&cost_cmd, &a, "threads");
    if (th && !cli_int("threads", th, 1, 4096, &N))
        return EXIT_USER;
    Diag d;
    diag_init(&d);
    Model m = {0};
    int rc = EXIT_USER;
    if (model_load(a.file, &d, &m) && cli_apply_overrides(&cost_cmd, &a, m.g)) {
        PassCtx ctx;
        model_pass_ctx(&m, &ctx, &d);
        if (pass_run_pipeline(m.g, PASS_LOCAL_PIPELINE ",autodiff", &ctx)) {
            PassCost c;
            pass_cost(m.g, &c);
            if (cli_flag(&cost_cmd, &a, "json"))
                print_json(m.g, &c, (int)N, stdout);
            else
                print_table(m.g, &c, stdout);
            if (N > 0 && !cli_flag(&cost_cmd, &a, "json"))
                print_placement(&c, (int)N, stdout);
            pass_cost_fini(&c);
            rc = EXIT_OK;
        }
    }
    diag_print(&d, stderr);
    model_free(&m);
    diag_fini(&d);
    return rc;
}
