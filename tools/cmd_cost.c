/* cmd_cost.c — `lnet cost`: the per-block cost table of a partitioned model,
 * and the predicted speed of running it on threads and on MPI ranks.
 *
 * Compiles the model through partition, aux-heads, stop-grad and autodiff,
 * then sums the cost model over the nodes each block really runs (passes/
 * cost.c): FLOPs per example (forward, backward, head), parameters, the
 * activations a block holds during a step and what it sends to later blocks,
 * per step at the model's batch size; then the ideal pipeline speed-up of K
 * workers over one worker running every block (total / most expensive block).
 * With --threads N, also the placement the local schedule would use on N
 * cores: the blocks' groups, each worker's threads, the predicted speed-up.
 *
 * With --ranks R, the scaling model of `mpirun -np R lnet train`:
 *   1. placement: the K blocks are cut into R contiguous groups by their
 *      FLOPs (rt_place, as the runtime cuts them); group g runs on rank
 *      R-1-g, and inside a rank its blocks go on N = --threads cores as the
 *      threaded local schedule places them (rt_place again);
 *   2. times: each block's single-thread step time, measured (--measure
 *      STEPS, cost_measure.c: the median of STEPS JIT-compiled steps) or,
 *      with --measure 0, its FLOPs at an assumed rate; a worker's time is the
 *      sum of its blocks' times over its threads, a rank's time its slowest
 *      worker's;
 *   3. links: each step, group g sends group g+1 one message — a header,
 *      the labels (padded to 64 bytes) and the values that group g+1's
 *      blocks read from earlier blocks, once per link as the runtime packs
 *      them — taking bytes / bandwidth + latency; a sender thread overlaps
 *      it with compute;
 *   4. the step takes the slowest of all of these, and no less than every
 *      block's work shared by the cores when the ranks ask for more threads
 *      (R·N) than there are cores: the core-sharing factor is that bound over
 *      the slowest rank or link (1 when the cores suffice); examples/s =
 *      batch / step, printed for R and for one rank (every block on N
 *      threads).
 */
#include "cli.h"
#include "placement.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"

static const CliOpt cost_opts[] = {
    {"method", "M", "backprop | greedy | chunked | overlap | last-layer (overrides local)"},
    {"blocks", "K", "number of blocks (overrides local)"},
    CLI_BALANCE_OPTS,
    {"overlap", "W", "overlap window (overrides local)"},
    CLI_LOAD_PASS_OPT,
    {"batch", "B", "batch size for the per-step memory and traffic (overrides train)"},
    {"threads", "N", "also place the blocks on N cores as lnet train --threads N would"
                     " (with --ranks: N per rank, default 1)"},
    {"ranks", "R", "predict mpirun -np R lnet train: the ranks' blocks, their links, the "
                   "examples/s"},
    {"link", "GB/s", "with --ranks: bandwidth of a link between two ranks (default 5)"},
    {"latency", "us", "with --ranks: latency of a message between two ranks (default 2)"},
    {"measure", "STEPS", "with --ranks: time each block's step, median of STEPS (default 20; "
                         "0: assume a FLOP rate)"},
    {"cores", "C", "with --ranks: cores the ranks share (default: those this process may use)"},
    {"devices", "LIST", "also each block's device as lnet train --devices LIST places it, and "
                        "the bytes its step copies between host and device"},
    {"json", NULL, "print JSON instead of a table"},
    {"layers", NULL, "also list every layer: its source line and chain of def calls and repeats,"
                     "\nits costs, and where each block starts and why (user or automatic cut)"},
    {NULL, NULL, NULL}};

static const char cost_notes[] =
    "With --ranks R the blocks are cut into R contiguous groups of balanced FLOPs; the\n"
    "last group runs on rank 0, the first (which reads the data) on rank R-1. Each\n"
    "block's single-thread step time is measured (--measure: its training step, as\n"
    "lnet train compiles it, on deterministic inputs) and a rank's time is its slowest\n"
    "worker's on --threads N cores. Each step a rank sends the next one a message (a\n"
    "header, the labels, the activations its blocks read), in bytes / --link +\n"
    "--latency, overlapped with compute. Predicted step: the slowest rank or link,\n"
    "times max(1, R·N / --cores).\n"
    "\n"
    "The default link (5 GB/s, 2 us) is shared memory between processes on one\n"
    "machine. For ranks on a network give its numbers: e.g. 10 Gb/s Ethernet is\n"
    "--link 1.25 --latency 50.\n";

static const CliCmd cost_cmd = {
    "cost", "FILE [options]",
    "Print the cost of every block of the partitioned model: forward, backward and\n"
    "head FLOPs per example, parameters, activation memory and traffic per step, and\n"
    "the predicted speed-up of one worker per block (ideal pipeline).",
    cost_opts, cost_notes};

static void print_table(const IrGraph *g, const PassCost *c, FILE *out)
{
    fprintf(out, "%s: %s, %d block%s; FLOPs per example, memory and traffic per step of %d\n\n",
            g->model, ir_local_method_name(&g->local), c->n, c->n == 1 ? "" : "s", c->batch);
    fprintf(out, "%5s %11s %11s %11s %11s %6s %11s %10s %10s %10s\n", "block", "fwd MFLOP",
            "bwd MFLOP", "head MFLOP", "total MFLOP", "share", "params", "param MB", "act MB",
            "send MB");
    for (int b = 0; b < c->n; b++) {
        const PassBlockCost *bc = &c->b[b];
        double t = bc->fwd + bc->bwd + bc->head;
        fprintf(out, "%5d %11.3f %11.3f %11.3f %11.3f %5.1f%% %11lld %10.3f %10.3f %10.3f\n",
                ir_block_no(b), bc->fwd / 1e6, bc->bwd / 1e6, bc->head / 1e6, t / 1e6,
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
        int a = ir_block_no(p.first[w]), b = ir_block_no(p.first[w + 1] - 1);
        if (a == b)
            snprintf(blocks, sizeof blocks, "%d", a);
        else
            snprintf(blocks, sizeof blocks, "%d-%d", a, b);
        fprintf(out, "%6d %8s %8d %11.3f %5.1f%%\n", w + 1, blocks, p.threads[w], p.cost[w] / 1e6,
                p.total > 0 ? 100 * p.cost[w] / p.total : 0);
    }
    fprintf(out, "predicted speed-up on %d core%s relative to one: %.2fx (total / slowest "
                 "worker's cost per thread)\n", N, N == 1 ? "" : "s", rt_place_speedup(&p));
}

/* ------------------------------------------------------- --ranks R */

enum { MEASURE_STEPS = 20, WARMUP_STEPS = 3, HEADER_BYTES = 320 };
#define ASSUMED_FLOPS 50e9      /* per thread and second, without --measure */

typedef struct RankOpts {
    int R, N, C;                /* ranks, threads per rank, cores they share */
    int measure;                /* timed steps per block (0: assume ASSUMED_FLOPS) */
    double link_gbs, latency_us;
} RankOpts;

/* The scaling model of R ranks (the file's comment, steps 1-4). */
typedef struct RankModel {
    RankOpts o;
    int K, batch;
    double block_s[RT_PLACE_MAX];       /* block k's single-thread step time */
    double cost[RT_PLACE_MAX];          /* block k's FLOPs per example */
    RtPlacement groups;                 /* group g runs on rank R-1-g */
    RtPlacement inner[RT_PLACE_MAX];    /* group g's blocks on its N threads */
    double group_s[RT_PLACE_MAX];       /* group g's compute time per step */
    double label_bytes;                 /* per message, padded to 64 */
    double act_bytes[RT_PLACE_MAX];     /* message g -> g+1: what group g+1 reads */
    bool param_links;                   /* overlap's shared parameters cross a cut */
    double oversub, step_s, one_s;      /* R ranks; one rank on N threads */
} RankModel;

/* The time of worker w of placement p over the blocks first, first+1, ... */
static double worker_s(const RankModel *m, const RtPlacement *p, int first, int w)
{
    double t = 0;
    for (int b = p->first[w]; b < p->first[w + 1]; b++)
        t += m->block_s[first + b];
    return t / p->threads[w];
}

/* The n blocks from `first` on N threads: the placement, the slowest worker's time. */
static double group_s(const RankModel *m, int first, int n, RtPlacement *p)
{
    rt_place(m->cost + first, n, m->o.N, p);
    double t = 0;
    for (int w = 0; w < p->workers; w++) {
        double tw = worker_s(m, p, first, w);
        t = tw > t ? tw : t;
    }
    return t;
}

/* Bytes per step of the values that the next group's blocks [cut, end) read
 * from blocks before the cut: the payload the runtime packs, link by link
 * at the model's batch. *param: a shared parameter (overlap) is read across
 * the cut, either way. */
static double cut_bytes(const CliTrainModel *tm, int cut, int end, int batch, bool *param)
{
    double bytes = 0;
    for (int k = 0; k < tm->bs.n; k++)
        for (int i = 0; i < tm->bs.b[k].n_inputs; i++) {
            const PassBlockInput *in = &tm->bs.b[k].inputs[i];
            if (in->kind == PASS_IO_DATA || (in->src_block < cut) == (k < cut))
                continue;
            if (in->kind == PASS_IO_PARAM)
                *param = true;
            else if (k >= cut && k < end) {
                const IrType *t = &tm->blocks[k]->nodes[in->node]->type;
                bytes += 4.0 * (double)ir_type_numel(t) * (ir_type_batched(t) ? batch : 1);
            }
        }
    return bytes;
}

/* The labels every message carries: batch × label elements × 4, padded to 64. */
static double label_bytes(const IrGraph *g, int batch)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == IR_OP_LABEL) {
            double b = 4.0 * (double)ir_type_numel(&g->nodes[i]->type) * batch;
            return 64 * ceil(b / 64);
        }
    return 0;
}

static double link_s(const RankModel *m, int g)
{
    double bytes = HEADER_BYTES + m->label_bytes + m->act_bytes[g];
    return bytes / (m->o.link_gbs * 1e9) + m->o.latency_us * 1e-6;
}

/* Fills m from the blocks' costs c, the compiled blocks tm and o; measures
 * the blocks unless o->measure is 0. false + err when a block fails. */
static bool rank_model(const PassCost *c, const CliTrainModel *tm, const RankOpts *o,
                       RankModel *m, char *err, size_t errcap)
{
    memset(m, 0, sizeof *m);
    m->o = *o;
    m->K = c->n;
    m->batch = c->batch;
    for (int k = 0; k < m->K; k++) {
        m->cost[k] = c->b[k].fwd + c->b[k].bwd + c->b[k].head;
        m->block_s[k] = m->cost[k] * m->batch / ASSUMED_FLOPS;
    }
    if (o->measure > 0 &&
        !cli_measure_blocks(tm, o->measure, WARMUP_STEPS, m->block_s, err, errcap))
        return false;
    rt_place(m->cost, m->K, o->R, &m->groups);
    double slowest = 0;
    m->label_bytes = label_bytes(tm->m.g, m->batch);
    for (int g = 0; g < o->R; g++) {
        int first = m->groups.first[g], n = m->groups.first[g + 1] - first;
        m->group_s[g] = group_s(m, first, n, &m->inner[g]);
        slowest = m->group_s[g] > slowest ? m->group_s[g] : slowest;
        if (g + 1 < o->R) {
            m->act_bytes[g] = cut_bytes(tm, first + n, m->groups.first[g + 2], m->batch,
                                        &m->param_links);
            slowest = link_s(m, g) > slowest ? link_s(m, g) : slowest;
        }
    }
    /* the cores bound: every block's work shares the C cores */
    double work = 0;
    for (int k = 0; k < m->K; k++)
        work += m->block_s[k];
    double shared = o->R * o->N > o->C ? work / o->C : 0;
    m->oversub = slowest > 0 && shared > slowest ? shared / slowest : 1;
    m->step_s = slowest * m->oversub;
    RtPlacement one;
    double one_s = group_s(m, 0, m->K, &one), one_shared = o->N > o->C ? work / o->C : 0;
    m->one_s = one_shared > one_s ? one_shared : one_s;
    return true;
}

/* "3" or "2-4": blocks first .. first + count - 1, numbered from 1. */
static const char *block_range(int first, int count, char *buf, size_t cap)
{
    if (count == 1)
        snprintf(buf, cap, "%d", ir_block_no(first));
    else
        snprintf(buf, cap, "%d-%d", ir_block_no(first), ir_block_no(first + count - 1));
    return buf;
}

static void print_block_times(const RankModel *m, FILE *out)
{
    if (m->o.measure > 0)
        fprintf(out, "\nstep time of each block on one thread: measured, median of %d steps "
                     "after %d warm-up (JIT)\n", m->o.measure, WARMUP_STEPS);
    else
        fprintf(out, "\nstep time of each block on one thread: assumed, not measured "
                     "(its FLOPs at %.0f GFLOP/s)\n", ASSUMED_FLOPS / 1e9);
    fprintf(out, "%5s %10s\n", "block", "step ms");
    for (int k = 0; k < m->K; k++)
        fprintf(out, "%5d %10.3f\n", ir_block_no(k), 1e3 * m->block_s[k]);
}

static void print_rank_table(const RankModel *m, FILE *out)
{
    fprintf(out, "\n%4s %8s %6s %11s  %s\n", "rank", "blocks", "share", "compute ms",
            "workers (blocks x threads)");
    for (int r = 0; r < m->o.R; r++) {
        int g = m->o.R - 1 - r, first = m->groups.first[g];
        const RtPlacement *p = &m->inner[g];
        char b[32];
        fprintf(out, "%4d %8s %5.1f%% %11.3f  ", r,
                block_range(first, m->groups.first[g + 1] - first, b, sizeof b),
                m->groups.total > 0 ? 100 * m->groups.cost[g] / m->groups.total : 0,
                1e3 * m->group_s[g]);
        for (int w = 0; w < p->workers; w++)
            fprintf(out, "%s%sx%d", w ? " " : "",
                    block_range(first + p->first[w], p->first[w + 1] - p->first[w], b,
                                sizeof b), p->threads[w]);
        fputc('\n', out);
    }
}

static void print_links(const RankModel *m, FILE *out)
{
    if (m->o.R == 1)
        return;
    fprintf(out, "\n%-12s %11s %7s %9s %12s %10s\n", "link", "bytes/step", "header", "labels",
            "activations", "ms");
    for (int g = 0; g + 1 < m->o.R; g++) {
        char name[32];
        snprintf(name, sizeof name, "rank %d -> %d", m->o.R - 1 - g, m->o.R - 2 - g);
        fprintf(out, "%-12s %11.0f %7d %9.0f %12.0f %10.3f\n", name,
                HEADER_BYTES + m->label_bytes + m->act_bytes[g], HEADER_BYTES, m->label_bytes,
                m->act_bytes[g], 1e3 * link_s(m, g));
    }
    if (m->param_links)
        fputs("note: shared parameters (overlap) are read across ranks; their traffic is not "
              "modelled\n", out);
}

static void print_ranks(const RankModel *m, FILE *out)
{
    const RankOpts *o = &m->o;
    fprintf(out, "\non %d rank%s (--ranks %d), %d thread%s each, %d core%s; links %g GB/s, "
                 "latency %g us\n", o->R, o->R == 1 ? "" : "s", o->R, o->N,
            o->N == 1 ? "" : "s", o->C, o->C == 1 ? "" : "s", o->link_gbs, o->latency_us);
    print_block_times(m, out);
    print_rank_table(m, out);
    print_links(m, out);
    fprintf(out, "\npredicted step %.3f ms (slowest rank or link%s); core sharing %.2f "
                 "(%d x %d threads on %d cores)\n", 1e3 * m->step_s,
            m->o.measure > 0 ? "" : ", assumed times", m->oversub, o->R, o->N, o->C);
    fprintf(out, "predicted throughput: %.0f examples/s on %d rank%s; %.0f on one rank with "
                 "%d thread%s (%.2fx)\n", m->batch / m->step_s, o->R, o->R == 1 ? "" : "s",
            m->batch / m->one_s, o->N, o->N == 1 ? "" : "s", m->one_s / m->step_s);
}

/* The "ranks" object of --json. */
static void json_ranks(const RankModel *m, FILE *out)
{
    const RankOpts *o = &m->o;
    fprintf(out, ",\"ranks\":{\"count\":%d,\"threads\":%d,\"cores\":%d,\"link_gb_per_s\":%.17g,"
                 "\"latency_us\":%.17g,\"times\":\"%s\",\"measure_steps\":%d,"
                 "\"assumed_flops_per_s\":%.17g,\"block_step_s\":[", o->R, o->N, o->C,
            o->link_gbs, o->latency_us, o->measure > 0 ? "measured" : "assumed", o->measure,
            o->measure > 0 ? 0 : ASSUMED_FLOPS);
    for (int k = 0; k < m->K; k++)
        fprintf(out, "%s%.17g", k ? "," : "", m->block_s[k]);
    fputs("],\"per_rank\":[", out);
    for (int r = 0; r < o->R; r++) {
        int g = o->R - 1 - r, first = m->groups.first[g];
        const RtPlacement *p = &m->inner[g];
        fprintf(out, "%s{\"rank\":%d,\"blocks\":[%d,%d],\"total_flops\":%.17g,"
                     "\"compute_s\":%.17g,\"workers\":[", r ? "," : "", r, ir_block_no(first),
                ir_block_no(m->groups.first[g + 1] - 1), m->groups.cost[g], m->group_s[g]);
        for (int w = 0; w < p->workers; w++)
            fprintf(out, "%s{\"blocks\":[%d,%d],\"threads\":%d,\"time_s\":%.17g}",
                    w ? "," : "", ir_block_no(first + p->first[w]),
                    ir_block_no(first + p->first[w + 1] - 1),
                    p->threads[w], worker_s(m, p, first, w));
        fputs("]}", out);
    }
    fputs("],\"links\":[", out);
    for (int g = 0; g + 1 < o->R; g++)
        fprintf(out, "%s{\"from_rank\":%d,\"to_rank\":%d,\"bytes\":%.17g,\"header_bytes\":%d,"
                     "\"label_bytes\":%.17g,\"activation_bytes\":%.17g,\"time_s\":%.17g}",
                g ? "," : "", o->R - 1 - g, o->R - 2 - g,
                HEADER_BYTES + m->label_bytes + m->act_bytes[g], HEADER_BYTES,
                m->label_bytes, m->act_bytes[g], link_s(m, g));
    fprintf(out, "],\"core_sharing\":%.17g,\"step_s\":%.17g,\"examples_per_s\":%.17g,"
                 "\"one_rank\":{\"step_s\":%.17g,\"examples_per_s\":%.17g}}", m->oversub,
            m->step_s, m->batch / m->step_s, m->one_s, m->batch / m->one_s);
}

static void print_json(const IrGraph *g, const PassCost *c, int N, const RankModel *rm,
                       const CostLayers *cl, FILE *out)
{
    fprintf(out, "{\"model\":\"%s\",\"method\":\"%s\",\"blocks\":%d,\"batch\":%d,"
                 "\"per_block\":[", g->model, ir_local_method_name(&g->local), c->n, c->batch);
    for (int b = 0; b < c->n; b++) {
        const PassBlockCost *bc = &c->b[b];
        fprintf(out, "%s{\"block\":%d,\"fwd_flops\":%.17g,\"bwd_flops\":%.17g,"
                     "\"head_flops\":%.17g,\"total_flops\":%.17g,\"params\":%lld,"
                     "\"param_bytes\":%.17g,\"activation_bytes\":%.17g,\"send_bytes\":%.17g}",
                b ? "," : "", ir_block_no(b), bc->fwd, bc->bwd, bc->head, bc->fwd + bc->bwd + bc->head,
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
                         "\"total_flops\":%.17g}", w ? "," : "", w + 1, ir_block_no(p.first[w]),
                    ir_block_no(p.first[w + 1] - 1), p.threads[w], p.cost[w]);
        fprintf(out, "],\"speedup\":%.17g}", rt_place_speedup(&p));
    }
    if (rm)
        json_ranks(rm, out);
    if (cl)
        cost_layers_json(cl, out);
    fputs("}\n", out);
}

/* --NAME as a number in [lo, hi] (whole: an integer); prints the error and
 * returns false. */
static bool number_opt(const CliArgs *a, const char *name, double lo, double hi, bool whole,
                       const char *what, double *out)
{
    const char *v = cli_get(&cost_cmd, a, name);
    char *end;
    if (!v)
        return true;
    double x = strtod(v, &end);
    if (end == v || *end || !(x >= lo && x <= hi) || (whole && x != floor(x))) {
        fprintf(stderr, "lnet cost: error: --%s expects %s, got '%s'\n", name, what, v);
        return false;
    }
    *out = x;
    return true;
}

/* --ranks and the options that go with it, into o (o->R == 0: no --ranks). */
static bool rank_opts(const CliArgs *a, RankOpts *o)
{
    static const char *const with[] = {"link", "latency", "measure", "cores"};
    double R = 0, N = 1, C = rt_available_cores(), steps = MEASURE_STEPS, gbs = 5, us = 2;
    if (!number_opt(a, "ranks", 1, RT_PLACE_MAX, true, "a whole number of ranks from 1 to 64",
                    &R) ||
        !number_opt(a, "threads", 1, 4096, true, "a whole number of threads from 1 to 4096",
                    &N) ||
        !number_opt(a, "cores", 1, 1 << 20, true, "a whole number of cores (at least 1)", &C) ||
        !number_opt(a, "measure", 0, 1e6, true, "a whole number of steps (0: assume a FLOP "
                    "rate)", &steps) ||
        !number_opt(a, "link", 1e-9, 1e9, false, "a bandwidth in GB/s above 0", &gbs) ||
        !number_opt(a, "latency", 0, 1e9, false, "a latency in microseconds (0 or more)", &us))
        return false;
    for (size_t i = 0; R == 0 && i < sizeof with / sizeof *with; i++)
        if (cli_get(&cost_cmd, a, with[i])) {
            fprintf(stderr, "lnet cost: error: --%s applies to --ranks R\n", with[i]);
            return false;
        }
    *o = (RankOpts){(int)R, (int)N, (int)C, (int)steps, gbs, us};
    return true;
}

/* The rank model of the model in a->file (compiled again, for training);
 * false after printing the error. */
static bool ranks_of(const CliArgs *a, const PassCost *c, const RankOpts *o, RankModel *m)
{
    if (c->n < o->R) {
        fprintf(stderr, "lnet cost: error: --ranks %d needs at least %d blocks; this model has "
                "%d (set more with --blocks)\n", o->R, o->R, c->n);
        return false;
    }
    /* the training compile repeats the cost compile's warnings: its own sink,
     * printed only when it fails */
    Diag td;
    diag_init(&td);
    CliTrainModel tm;
    char err[512] = "";
    bool ok = cli_train_model(&cost_cmd, a, NULL, &tm, &td);
    IR_ASSERT(!ok || tm.n_blocks == c->n);
    ok = ok && rank_model(c, &tm, o, m, err, sizeof err);
    if (!ok)
        diag_print(&td, stderr);
    if (err[0])
        fprintf(stderr, "lnet cost: error: %s\n", err);
    cli_train_model_free(&tm);
    diag_fini(&td);
    return ok;
}

/* The table (or JSON) of g's costs; with --ranks, the rank model's too; with --layers
 * (cl), the layers in the JSON (the table prints them after). */
static bool report(const CliArgs *a, const IrGraph *g, const RankOpts *o,
                   const CostLayers *cl)
{
    PassCost c;
    pass_cost(g, &c);
    bool json = cli_flag(&cost_cmd, a, "json"), ok = true;
    int N = cli_get(&cost_cmd, a, "threads") ? o->N : 0;
    RankModel *rm = o->R > 0 ? malloc(sizeof *rm) : NULL;
    IR_CHECK_ALLOC(o->R == 0 || rm);
    if (rm)
        ok = ranks_of(a, &c, o, rm);
    const char *devices = cli_get(&cost_cmd, a, "devices");
    CliDevices dv;
    if (ok && devices)
        ok = cli_devices_parse("cost", devices, false, &dv) && cli_devices_fit("cost", &dv, c.n);
    if (ok && json)
        print_json(g, &c, N, rm, cl, stdout);
    else if (ok)
        print_table(g, &c, stdout);
    if (ok && !json && N > 0)
        print_placement(&c, N, stdout);
    if (ok && !json && rm)
        print_ranks(rm, stdout);
    if (ok && !json && devices)
        cli_devices_print_cost(&dv, g, &c, stdout);
    free(rm);
    pass_cost_fini(&c);
    return ok;
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
    RankOpts ro;
    if (!rank_opts(&a, &ro))
        return EXIT_USER;
    Diag d;
    diag_init(&d);
    Model m = {0};
    int rc = EXIT_USER;
    if (model_load(a.file, &d, &m) && cli_apply_overrides(&cost_cmd, &a, m.g)) {
        PassCtx ctx;
        model_pass_ctx(&m, &ctx, &d);
        /* --layers plans on the forward graph, before partition rewrites it */
        CostLayers *cl = NULL;
        bool layers = cli_flag(&cost_cmd, &a, "layers");
        char *balance = cli_cost_balance(m.g, &ctx);
        bool ok = !layers || pass_run_pipeline(m.g, "shape,verify", &ctx);
        if (ok && layers)
            cl = cost_layers_plan(m.g, &ctx, cli_partitioner() &&
                                                 m.g->local.method != METHOD_BACKPROP);
        if (ok && pass_run_pipeline(m.g, PASS_LOCAL_PIPELINE ",autodiff", &ctx) &&
            report(&a, m.g, &ro, cl)) {
            if (cl && !cli_flag(&cost_cmd, &a, "json"))
                cost_layers_print(cl, stdout);
            rc = EXIT_OK;
        }
        cost_layers_free(cl);
        if (rc == EXIT_OK && balance && !cli_flag(&cost_cmd, &a, "json"))
            fputs(balance, stdout);
        free(balance);
    }
    diag_print(&d, stderr);
    model_free(&m);
    diag_fini(&d);
    return rc;
}
