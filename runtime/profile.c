/* profile.c — the counters behind `lnet train --profile` (profile.h) and
 * their table.
 *
 * A block (one graph) keeps what each node's kernel costs by the IR cost
 * model — FLOPs and bytes per example, or per step for the optimizer ops,
 * which ir_node_cost leaves to the runtime — and the counters of every
 * executor attached to it. The table sums those counters per (phase, op).
 */
#include "profile.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


enum { MAX_BLOCKS = 64, MAX_EXECS = 64, NPHASE = 3 };

/* Per node of a block: its op, phase and cost. */
typedef struct {
    IrOp op;
    unsigned char phase;
    bool per_step;              /* cost per call, not per example (optimizer ops) */
    double flops, bytes;
} NodeCost;

typedef struct {
    const IrGraph *g;           /* borrowed: identifies the block */
    int n;
    NodeCost *node;             /* (n) */
    RtProfCounters *ex[MAX_EXECS];
    int n_ex;
} Block;

struct RtProfile {
    pthread_mutex_t mu;         /* guards attach */
    atomic_int paused;
    Block blk[MAX_BLOCKS];
    int n_blk;
};

/* One table row: a (phase, op) of a block. */
typedef struct {
    int phase;
    IrOp op;
    int64_t calls, ns;
    double flops, bytes;
} Row;

static const char *const phase_names[NPHASE] = {"forward", "backward", "update"};

RtProfile *rt_profile_new(void)
{
    RtProfile *p = calloc(1, sizeof *p);
    if (p && pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void rt_profile_free(RtProfile *p)
{
    if (!p)
        return;
    for (int b = 0; b < p->n_blk; b++) {
        for (int e = 0; e < p->blk[b].n_ex; e++)
            free(p->blk[b].ex[e]);
        free(p->blk[b].node);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static double numel_in(const IrGraph *g, const IrNode *n, int k)
{
    return n->n_in > k ? (double)ir_type_numel(&g->nodes[n->in[k]]->type) : 0;
}

/* ir_node_cost, completed for the optimizer ops (per step: the parameter's
 * elements, read and written as the update kernels do). */
static NodeCost node_cost(const IrGraph *g, const IrNode *n, unsigned char phase)
{
    NodeCost c = {n->op, phase, false, 0, 0};
    double p = numel_in(g, n, 0);
    switch (n->op) {
    case IR_OP_ADAM_UPDATE:     /* reads p, g, m, v; writes p, m, v */
        return (NodeCost){n->op, phase, true, 12 * p, 4 * 7 * p};
    case IR_OP_SGD_UPDATE:      /* reads p, g, velocity; writes p, velocity */
        return (NodeCost){n->op, phase, true, 4 * p, 4 * 5 * p};
    case IR_OP_SUMSQ:
        return (NodeCost){n->op, phase, true, 2 * p, 4 * p};
    case IR_OP_CLIP_FACTOR:
        return (NodeCost){n->op, phase, true, 0, 0};
    default: {
        IrCost k = ir_node_cost(g, n);
        c.flops = k.flops;
        c.bytes = k.bytes;
        return c;
    }
    }
}

static bool block_init(Block *b, const IrGraph *g)
{
    unsigned char *phase = calloc((size_t)g->n_nodes + 1, 1);
    b->node = calloc((size_t)g->n_nodes + 1, sizeof *b->node);
    if (!phase || !b->node) {
        free(phase);
        free(b->node);
        b->node = NULL;
        return false;
    }
    ir_graph_phases(g, phase);
    for (int i = 0; i < g->n_nodes; i++)
        b->node[i] = node_cost(g, g->nodes[i], phase[i]);
    free(phase);
    b->g = g;
    b->n = g->n_nodes;
    return true;
}

static Block *find_block(RtProfile *p, const IrGraph *g)
{
    for (int b = 0; b < p->n_blk; b++)
        if (p->blk[b].g == g)
            return &p->blk[b];
    if (p->n_blk == MAX_BLOCKS || !block_init(&p->blk[p->n_blk], g))
        return NULL;
    return &p->blk[p->n_blk++];
}

RtProfCounters *rt_profile_attach(RtProfile *p, const IrGraph *g)
{
    pthread_mutex_lock(&p->mu);
    Block *b = find_block(p, g);
    RtProfCounters *c = NULL;
    if (b && b->n_ex < MAX_EXECS) {
        c = calloc(1, sizeof *c + (size_t)(g->n_nodes + 1) * sizeof c->cnt[0]);
        if (c) {
            c->paused = &p->paused;
            c->n = g->n_nodes;
            b->ex[b->n_ex++] = c;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return c;
}

void rt_profile_pause(RtProfile *p, bool paused)
{
    if (p)
        atomic_store_explicit(&p->paused, paused, memory_order_relaxed);
}

static atomic_int prof_clock = RT_PROF_WALL;

void rt_profile_set_clock(RtProfClock c) { atomic_store(&prof_clock, (int)c); }
RtProfClock rt_profile_clock(void) { return (RtProfClock)atomic_load(&prof_clock); }

int64_t rt_profile_now(void)
{
    struct timespec ts;
    clock_gettime(atomic_load_explicit(&prof_clock, memory_order_relaxed) == RT_PROF_CPU
                      ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void rt_profile_add(RtProfCounters *c, int64_t i, int64_t t0, int64_t n)
{
    int64_t t1 = rt_profile_now();
    if (!c || i < 0 || i >= c->n || atomic_load_explicit(c->paused, memory_order_relaxed))
        return;
    c->cnt[i].calls++;
    c->cnt[i].ns += t1 - t0;
    c->cnt[i].examples += n;
}

/* ------------------------------------------------------------ the table */

static int by_time(const void *a, const void *b)
{
    const Row *x = a, *y = b;
    if (x->ns != y->ns)
        return x->ns < y->ns ? 1 : -1;
    return x->phase != y->phase ? x->phase - y->phase : (int)x->op - (int)y->op;
}

/* Block b's rows with calls, by time (most first); their count, and the
 * block's kernel nanoseconds in *total. rows has NPHASE * IR_OP_COUNT. */
static int block_rows(const Block *b, Row *rows, int64_t *total)
{
    memset(rows, 0, NPHASE * IR_OP_COUNT * sizeof *rows);
    *total = 0;
    for (int e = 0; e < b->n_ex; e++)
        for (int i = 0; i < b->n; i++) {
            const NodeCost *nc = &b->node[i];
            int64_t calls = b->ex[e]->cnt[i].calls;
            if (!calls || nc->phase >= NPHASE)
                continue;
            Row *r = &rows[nc->phase * IR_OP_COUNT + nc->op];
            double times = nc->per_step ? (double)calls : (double)b->ex[e]->cnt[i].examples;
            r->phase = nc->phase;
            r->op = nc->op;
            r->calls += calls;
            r->ns += b->ex[e]->cnt[i].ns;
            r->flops += nc->flops * times;
            r->bytes += nc->bytes * times;
            *total += b->ex[e]->cnt[i].ns;
        }
    int n = 0;
    for (int k = 0; k < NPHASE * IR_OP_COUNT; k++)
        if (rows[k].calls)
            rows[n++] = rows[k];
    qsort(rows, (size_t)n, sizeof *rows, by_time);
    return n;
}

/* FLOPs or bytes per nanosecond are G/s. */
static double per_ns(double x, int64_t ns) { return ns > 0 ? x / (double)ns : 0; }

void rt_profile_print(const RtProfile *p, FILE *f)
{
    Row *rows = malloc(NPHASE * IR_OP_COUNT * sizeof *rows);
    if (!rows)
        return;
    for (int b = 0; b < p->n_blk; b++) {
        int64_t total;
        int n = block_rows(&p->blk[b], rows, &total);
        const char *clock = rt_profile_clock() == RT_PROF_CPU ? ", thread CPU time" : "";
        if (p->n_blk > 1)
            fprintf(f, "profile of block %d (kernel time %.1f ms%s)\n", b + 1, total / 1e6, clock);
        else
            fprintf(f, "profile (kernel time %.1f ms%s)\n", total / 1e6, clock);
        fprintf(f, "  %-9s %-20s %8s %11s %7s %9s %8s\n", "phase", "op", "calls", "total ms",
                "share", "GFLOP/s", "GB/s");
        for (int i = 0; i < n; i++) {
            const Row *r = &rows[i];
            fprintf(f, "  %-9s %-20s %8lld %11.2f %6.1f%% %9.2f %8.2f\n", phase_names[r->phase],
                    ir_op_info(r->op)->name, (long long)r->calls, r->ns / 1e6,
                    total ? 100.0 * (double)r->ns / (double)total : 0.0,
                    per_ns(r->flops, r->ns), per_ns(r->bytes, r->ns));
        }
    }
    free(rows);
}

void rt_profile_write_json(const RtProfile *p, FILE *f)
{
    Row *rows = malloc(NPHASE * IR_OP_COUNT * sizeof *rows);
    fputc('[', f);
    for (int b = 0, first = 1; rows && b < p->n_blk; b++) {
        int64_t total;
        int n = block_rows(&p->blk[b], rows, &total);
        for (int i = 0; i < n; i++, first = 0) {
            const Row *r = &rows[i];
            fprintf(f, "%s{\"block\":%d,\"phase\":\"%s\",\"op\":\"%s\",\"calls\":%lld,"
                    "\"ms\":%.3f,\"share\":%.4f,\"gflops\":%.3f,\"gbs\":%.3f}",
                    first ? "" : ",", b + 1, phase_names[r->phase], ir_op_info(r->op)->name,
                    (long long)r->calls, r->ns / 1e6,
                    total ? (double)r->ns / (double)total : 0.0, per_ns(r->flops, r->ns),
                    per_ns(r->bytes, r->ns));
        }
    }
    fputc(']', f);
    free(rows);
}
