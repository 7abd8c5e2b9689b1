/* cost_layers.c — `lnet cost --layers`: every layer the partition chose
 * blocks from, and why each block starts where it does.
 *
 * Runs the partition's own planning (pass_plan_layers, pass_plan_costs,
 * pass_plan_blocks) on the forward graph before the pass rewrites it, and
 * keeps one row per layer: the compute it is built around (the first conv,
 * matmul, attention or embedding, else its output), that node's source
 * location with the chain of def calls and repeat iterations it ran in, the
 * source line itself, and the layer costs the method chose from (per
 * example: forward FLOPs, backward FLOPs when it starts a block and when it
 * does not, the FLOPs of an auxiliary head on its output, forward bytes).
 * Blocks are numbered from 1, layers too.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

enum { WHERE_MAX = 160, TEXT_MAX = 48, WHY_MAX = 128 };

typedef struct LayerRow {
    int first, last;            /* node ids in the forward graph */
    const char *op;             /* the op the layer is built around */
    IrLoc loc;                  /* that op's location */
    char where[WHERE_MAX];      /* "9:14 < block@15:25 < repeat@15:1#1" */
    char text[TEXT_MAX];        /* that source line, trimmed */
    double fwd, bwd_first, bwd_rest, head, bytes;
} LayerRow;

struct CostLayers {
    int n;
    LayerRow *row;
    int n_blocks;               /* 0: a plug-in chose the blocks */
    int *first, *last;          /* layer range of each block */
    char (*why)[WHY_MAX];       /* why block k starts (k >= 1): ir_cut_reason */
    char (*at)[WHERE_MAX];      /* ... the location of the value it starts after */
    int *after;                 /* block k starts after this forward node */
    IrCutKind *kind;            /* ... put there by a user cut or the method */
    double max_block;           /* the cost of the costliest block */
};

/* The node a layer is built around: its first IR_P_LAYER op, else its output. */
static const IrNode *layer_core(const IrGraph *g, int first, int last)
{
    for (int i = first; i <= last; i++)
        if (ir_op_has(g->nodes[i]->op, IR_P_LAYER))
            return g->nodes[i];
    return g->nodes[last];
}

/* Line loc.line of the source in d, trimmed, into text. */
static void source_text(const Diag *d, IrLoc loc, char *text, size_t cap)
{
    text[0] = '\0';
    if (loc.file < 0 || loc.file >= d->n_srcs || loc.line <= 0)
        return;
    const DiagSource *s = &d->srcs[loc.file];
    size_t i = 0;
    for (int l = 1; l < loc.line && i < s->len; i++)
        l += s->text[i] == '\n';
    while (i < s->len && (s->text[i] == ' ' || s->text[i] == '\t'))
        i++;
    size_t n = 0;
    while (i + n < s->len && s->text[i + n] != '\n' && s->text[i + n] != '#')
        n++;
    while (n > 0 && (s->text[i + n - 1] == ' ' || s->text[i + n - 1] == '\r'))
        n--;
    size_t keep = n < cap - 1 ? n : cap - 4;
    snprintf(text, cap, "%.*s%s", (int)keep, s->text + i, keep < n ? "..." : "");
    for (size_t k = 0; text[k]; k++)
        if ((unsigned char)text[k] < 32)
            text[k] = ' ';
}

static void fill_row(const IrGraph *g, const PassLayer *ly, const Diag *d, LayerRow *r)
{
    const IrNode *core = layer_core(g, ly->first, ly->last);
    *r = (LayerRow){.first = ly->first, .last = ly->last, .op = ir_op_info(core->op)->name,
                    .loc = core->loc,
                    .fwd = ly->fwd, .bwd_first = ly->bwd_first, .bwd_rest = ly->bwd_rest,
                    .head = ly->head};
    ir_loc_str(g, core->loc, r->where, sizeof r->where);
    source_text(d, core->loc, r->text, sizeof r->text);
    for (int i = ly->first; i <= ly->last; i++)
        r->bytes += ir_node_cost(g, g->nodes[i]).bytes;
}

/* Why block k (>= 1) starts: the cut before its first layer (with overlap,
 * inside the block before, which shares that layer). */
static void block_reason(const IrGraph *g, const PassPlan *p, int k, CostLayers *cl)
{
    int cut = p->layer[p->first[k] - 1].last;
    ir_loc_str(g, g->nodes[cut]->loc, cl->at[k], sizeof cl->at[k]);
    ir_cut_reason(g, cut, cl->why[k], sizeof cl->why[k]);
    cl->after[k] = cut;
    cl->kind[k] = ir_cut_kind(g, cut);
}

CostLayers *cost_layers_plan(const IrGraph *g, const PassCtx *ctx, bool plugin)
{
    /* the partition pass plans again and reports what goes wrong (once) */
    Diag quiet;
    diag_init(&quiet);
    PassCtx qctx = *ctx;
    qctx.diag = &quiet;
    PassPlan p;
    bool ok = pass_plan_layers(g, &p, &quiet) && pass_plan_costs(g, &p, &qctx);
    ok = ok && (plugin || pass_plan_blocks(g, &p, &quiet));
    diag_fini(&quiet);
    CostLayers *cl = ok ? calloc(1, sizeof *cl) : NULL;
    if (ok) {
        IR_CHECK_ALLOC(cl);
        cl->n = p.n_layers;
        cl->row = calloc((size_t)p.n_layers, sizeof *cl->row);
        IR_CHECK_ALLOC(cl->row);
        for (int l = 0; l < p.n_layers; l++)
            fill_row(g, &p.layer[l], ctx->diag, &cl->row[l]);
        cl->n_blocks = plugin ? 0 : p.n_blocks;
        cl->first = calloc((size_t)p.n_blocks + 1, sizeof *cl->first);
        cl->last = calloc((size_t)p.n_blocks + 1, sizeof *cl->last);
        cl->why = calloc((size_t)p.n_blocks + 1, sizeof *cl->why);
        cl->at = calloc((size_t)p.n_blocks + 1, sizeof *cl->at);
        cl->after = calloc((size_t)p.n_blocks + 1, sizeof *cl->after);
        cl->kind = calloc((size_t)p.n_blocks + 1, sizeof *cl->kind);
        IR_CHECK_ALLOC(cl->first && cl->last && cl->why && cl->at && cl->after && cl->kind);
        for (int k = 0; k < cl->n_blocks; k++) {
            cl->first[k] = p.first[k];
            cl->last[k] = p.last[k];
            double c = pass_plan_block_cost(&p, p.first[k], p.last[k]);
            cl->max_block = c > cl->max_block ? c : cl->max_block;
            if (k > 0)
                block_reason(g, &p, k, cl);
        }
    }
    pass_plan_fini(&p);
    return cl;
}

void cost_layers_free(CostLayers *cl)
{
    if (!cl)
        return;
    free(cl->row);
    free(cl->first);
    free(cl->last);
    free(cl->why);
    free(cl->at);
    free(cl->after);
    free(cl->kind);
    free(cl);
}

/* Prints block k's start line when layer l begins it. */
static void block_start(const CostLayers *cl, int l, FILE *out)
{
    for (int k = 0; k < cl->n_blocks; k++) {
        if (cl->first[k] != l)
            continue;
        char layers[48];
        int a = cl->first[k] + 1, b = cl->last[k] + 1;
        if (a == b)
            snprintf(layers, sizeof layers, "layer %d", a);
        else
            snprintf(layers, sizeof layers, "layers %d-%d", a, b);
        if (k == 0)
            fprintf(out, "-- block %d (%s): starts the model\n", ir_block_no(k), layers);
        else
            fprintf(out, "-- block %d (%s%s): after %%%d (%s): %s\n", ir_block_no(k), layers,
                    cl->first[k] == cl->last[k - 1] ? ", the first shared with the block before"
                                                    : "", cl->after[k], cl->at[k], cl->why[k]);
    }
}

void cost_layers_print(const CostLayers *cl, FILE *out)
{
    fprintf(out, "\nlayers (FLOPs and bytes per example; bwd: backward inside a block, "
                 "bwd first: when the layer starts one; head: an auxiliary head on its output)\n");
    fprintf(out, "%5s %9s %10s %10s %10s %10s %10s  %-14s %s\n", "layer", "nodes", "fwd MFLOP",
            "bwd MFLOP", "bwd first", "head MFLOP", "fwd MB", "op", "source");
    for (int l = 0; l < cl->n; l++) {
        const LayerRow *r = &cl->row[l];
        char nodes[32], head[16];
        block_start(cl, l, out);
        snprintf(nodes, sizeof nodes, "%%%d-%%%d", r->first, r->last);
        if (r->head >= PASS_NO_HEAD)
            snprintf(head, sizeof head, "-");
        else
            snprintf(head, sizeof head, "%.3f", r->head / 1e6);
        fprintf(out, "%5d %9s %10.3f %10.3f %10.3f %10s %10.3f  %-14s %s  %s\n", l + 1, nodes,
                r->fwd / 1e6, r->bwd_rest / 1e6, r->bwd_first / 1e6, head, r->bytes / 1e6,
                r->op, r->where, r->text);
    }
    if (cl->n_blocks == 0)
        fputs("blocks: chosen by a plug-in method (lnet ir marks them: cut=auto)\n", out);
    else
        fprintf(out, "costliest block: %.3f MFLOP per example (forward + backward + head)\n",
                cl->max_block / 1e6);
}

/* The block that computes layer l first (overlap: the earlier of two). */
static int block_of_layer(const CostLayers *cl, int l)
{
    for (int k = 0; k < cl->n_blocks; k++)
        if (l <= cl->last[k])
            return k;
    return -1;
}

void cost_layers_json(const CostLayers *cl, FILE *out)
{
    fputs(",\"layers\":[", out);
    for (int l = 0; l < cl->n; l++) {
        const LayerRow *r = &cl->row[l];
        int b = block_of_layer(cl, l);
        fprintf(out, "%s{\"layer\":%d,\"block\":", l ? "," : "", l + 1);
        if (b >= 0)
            fprintf(out, "%d", ir_block_no(b));
        else
            fputs("null", out);
        fprintf(out, ",\"first_node\":%d,\"last_node\":%d,\"op\":\"%s\",\"line\":%d,"
                     "\"col\":%d,\"source\":\"%s\",\"fwd_flops\":%.17g,\"bwd_flops\":%.17g,"
                     "\"bwd_first_flops\":%.17g,\"head_flops\":", r->first, r->last, r->op,
                r->loc.line, r->loc.col, r->where, r->fwd, r->bwd_rest, r->bwd_first);
        if (r->head >= PASS_NO_HEAD)
            fputs("null", out);
        else
            fprintf(out, "%.17g", r->head);
        fprintf(out, ",\"fwd_bytes\":%.17g}", r->bytes);
    }
    fputs("],\"block_starts\":[", out);
    for (int k = 0; k < cl->n_blocks; k++) {
        fprintf(out, "%s{\"block\":%d,\"first_layer\":%d,\"last_layer\":%d", k ? "," : "",
                ir_block_no(k), cl->first[k] + 1, cl->last[k] + 1);
        if (k > 0)
            fprintf(out, ",\"after_node\":%d,\"after_source\":\"%s\",\"cut\":\"%s\","
                         "\"reason\":\"%s\"", cl->after[k], cl->at[k],
                    cl->kind[k] == IR_CUT_USER ? "user" : "auto", cl->why[k]);
        fputc('}', out);
    }
    fputc(']', out);
}
