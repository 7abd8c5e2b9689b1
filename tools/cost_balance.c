/* cost_balance.c — `lnet cost`'s view of the balance objectives.
 *
 * For a chunked model of K > 1 blocks it prints each block's value under the
 * model's objective (`balance`), then, for every objective, the cuts that
 * objective chooses (after which layer, numbered from 1 as `lnet cost --layers`
 * does, and which op at which line ends it) and the largest and smallest block share each objective
 * would see on those blocks: the price of balancing one thing in the others.
 * The plans are the partition pass's own (pass_plan_layers, _costs, _blocks),
 * made on the forward graph before the pipeline runs; the time objective's
 * column appears only when the layer times are known (balance = time).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *const units[] = {"MFLOP", "KB", "ms"};
static const double scale[] = {1e-6, 1.0 / 1024, 1e3};

/* Largest and smallest block share of p under objective b, in percent. */
static void shares(const PassPlan *p, IrBalance b, double *max, double *min)
{
    double sum = 0, hi = 0, lo = PASS_NO_HEAD;
    for (int k = 0; k < p->n_blocks; k++) {
        double v = pass_plan_block_value(p, b, p->first[k], p->last[k]);
        sum += v;
        hi = v > hi ? v : hi;
        lo = v < lo ? v : lo;
    }
    *max = sum > 0 ? 100 * hi / sum : 0;
    *min = sum > 0 ? 100 * lo / sum : 0;
}

/* The blocks objective b chooses on p's layers (p->first/last replaced). */
static bool blocks_for(const IrGraph *g, IrBalance b, PassPlan *p)
{
    IrGraph v = *g;     /* a view with another objective; nothing is freed through it */
    v.local.balance = b;
    free(p->first);
    free(p->last);
    p->first = p->last = NULL;
    Diag scratch;
    diag_init(&scratch);
    bool ok = pass_plan_blocks(&v, p, &scratch);
    diag_fini(&scratch);
    return ok;
}

static void print_row(const IrGraph *g, IrBalance b, const PassPlan *p, int n_obj, FILE *out)
{
    char cuts[256] = "";
    size_t n = 0;
    for (int k = 0; k + 1 < p->n_blocks && n < sizeof cuts; k++) {
        const IrNode *c = g->nodes[p->layer[p->last[k]].last];
        n += (size_t)snprintf(cuts + n, sizeof cuts - n, "%s%d:%s@%d:%d", k ? " " : "",
                              p->last[k] + 1, ir_op_info(c->op)->name, c->loc.line, c->loc.col);
    }
    fprintf(out, "%-9s %-30s", ir_balance_name(b), cuts);
    for (int o = 0; o < n_obj; o++) {
        double hi, lo;
        shares(p, (IrBalance)o, &hi, &lo);
        fprintf(out, " %6.1f%% / %5.1f%%", hi, lo);
    }
    fputc('\n', out);
}

static void print_blocks(const IrGraph *g, const PassPlan *p, FILE *out)
{
    IrBalance b = g->local.balance;
    fprintf(out, "\nbalance = %s; each block's %s:", ir_balance_name(b),
            b == BALANCE_FLOPS    ? "FLOPs per example"
            : b == BALANCE_MEMORY ? "activations kept for backward, per example"
                                  : "estimated step time");
    for (int k = 0; k < p->n_blocks; k++)
        fprintf(out, "%s block %d %.3f %s", k ? "," : "", k + 1,
                pass_plan_block_value(p, b, p->first[k], p->last[k]) * scale[b], units[b]);
    fputc('\n', out);
}

char *cli_cost_balance(const IrGraph *g, PassCtx *ctx)
{
    const IrLocalCfg *l = &g->local;
    if (l->method != METHOD_CHUNKED || l->method_name || ctx->partitioner || l->blocks == 1 ||
        g->n_blocks > 0)
        return NULL;
    PassPlan p;
    Diag scratch;
    diag_init(&scratch);
    PassCtx quiet = *ctx;
    quiet.diag = &scratch;
    int n_obj = ctx->layer_secs ? BALANCE_COUNT : BALANCE_TIME;
    bool ok = pass_plan_layers(g, &p, &scratch) && pass_plan_costs(g, &p, &quiet) &&
              (n_obj < BALANCE_COUNT || pass_plan_times(g, &p, &quiet, &scratch));
    diag_fini(&scratch);
    char *text = NULL;
    size_t len = 0;
    FILE *out = ok ? open_memstream(&text, &len) : NULL;
    if (out && blocks_for(g, l->balance, &p) && p.n_blocks > 1) {
        print_blocks(g, &p, out);
        fprintf(out, "\n%-9s %-30s", "objective", "cuts after layer:op@line:col");
        for (int o = 0; o < n_obj; o++)
            fprintf(out, " %8s max/min", ir_balance_name((IrBalance)o));
        fputc('\n', out);
        for (int b = 0; b < n_obj; b++)
            if (blocks_for(g, (IrBalance)b, &p))
                print_row(g, (IrBalance)b, &p, n_obj, out);
    }
    if (out)
        fclose(out);
    pass_plan_fini(&p);
    return text;
}
