/* print.c — the deterministic text form of a graph, and its Graphviz form.
 *
 * Text: one node per line,
 *   %4 = matmul %2, %3 : f32[N,1024]  @b1  cut=auto  ; 7:5 < block@14:5
 * with the op's attributes (those named in its ops.def mask) after the
 * operands, the block after the type when assigned (1-based, as users count
 * blocks), where a block ends (cut=user: a `cut` statement; cut=auto: the
 * method chose it), and the source location as a trailing comment with the
 * def calls and repeat iterations it ran in. This text is what the golden
 * tests compare.
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

static void print_dims(FILE *out, const int64_t *v, int n)
{
    fputc('[', out);
    for (int i = 0; i < n; i++)
        fprintf(out, "%s%lld", i ? "," : "", (long long)v[i]);
    fputc(']', out);
}

static void print_init(FILE *out, const IrAttrs *a)
{
    fprintf(out, " init=%s", ir_init_name(a->init));
    if (a->init == IR_INIT_NORMAL)
        fprintf(out, "(%g)", a->init_std);
}

static void print_opt(FILE *out, const IrNode *n)
{
    const IrAttrs *a = &n->a;
    if (n->op == IR_OP_SGD_UPDATE)
        fprintf(out, " momentum=%g nesterov=%d", a->momentum, a->nesterov);
    else
        fprintf(out, " beta1=%g beta2=%g eps=%g decoupled=%d", a->beta1, a->beta2, a->eps,
                a->decoupled);
    fprintf(out, " weight_decay=%g", a->weight_decay);
}

static void print_attrs(FILE *out, const IrNode *n)
{
    unsigned m = ir_op_info(n->op)->attrs;
    const IrAttrs *a = &n->a;
    if (m & IR_A_AXIS) fprintf(out, " axis=%d", a->axis);
    if (m & IR_A_KERNEL) fprintf(out, " kernel=%d", a->kernel);
    if (m & IR_A_STRIDE) fprintf(out, " stride=%d", a->stride);
    if (m & IR_A_PADDING) fprintf(out, " padding=%d", a->padding);
    if (m & IR_A_HEADS) fprintf(out, " heads=%d", a->heads);
    if (m & IR_A_SCALAR) fprintf(out, " scalar=%g", a->scalar);
    if (m & IR_A_EPS) fprintf(out, " eps=%g", a->eps);
    if (m & IR_A_MOMENTUM) fprintf(out, " momentum=%g", a->momentum);
    if (m & IR_A_P) fprintf(out, " p=%g", a->p);
    if ((m & IR_A_P) && a->salt) fprintf(out, " salt=%d", a->salt);
    if (m & IR_A_SLICE) fprintf(out, " start=%d len=%d", a->start, a->len);
    if (m & IR_A_OPT) print_opt(out, n);
    if (m & IR_A_CLASSES) fprintf(out, " classes=%d", a->classes);
    if (m & IR_A_INIT) print_init(out, a);
    if (n->flags & IR_F_BUFFER) fputs(" buffer", out);
    if (m & IR_A_SHAPE) {
        fputs(" shape=", out);
        print_dims(out, a->shape, a->rank);
    }
    if (m & IR_A_PERM) {
        int64_t p[IR_MAX_DIMS];
        int r = n->type.rank - 1;
        for (int i = 0; i < r && i < IR_MAX_DIMS; i++)
            p[i] = a->perm[i];
        fputs(" perm=", out);
        print_dims(out, p, r);
    }
}

/* The kind of cut after node i, or -1: cuts[] from ir_block_cuts (NULL when
 * the graph is not partitioned, where only user cuts show). */
static int cut_after(const IrGraph *g, const int *cuts, int i)
{
    if (g->nodes[i]->flags & IR_F_CUT)
        return IR_CUT_USER;
    for (int b = 0; cuts && b + 1 < g->n_blocks; b++)
        if (cuts[b] == i)
            return IR_CUT_AUTO;
    return -1;
}

/* The graph's block ends (caller frees), NULL when it has no blocks. */
static int *block_cuts(const IrGraph *g)
{
    if (g->n_blocks <= 0)
        return NULL;
    int *cuts = malloc((size_t)g->n_blocks * sizeof *cuts);
    IR_CHECK_ALLOC(cuts);
    ir_block_cuts(g, cuts);
    return cuts;
}

static void print_node(const IrGraph *g, const IrNode *n, int cut, FILE *out)
{
    char ty[96], loc[512];
    ir_type_str(&n->type, ty, sizeof ty);
    fprintf(out, "%%%d = %s", n->id, ir_op_info(n->op)->name);
    if (n->name)
        fprintf(out, " \"%s\"", n->name);
    if (n->op == IR_OP_STATE)
        fprintf(out, " of %%%d", n->state);
    for (int i = 0; i < n->n_in; i++)
        fprintf(out, "%s%%%d", i ? ", " : " ", n->in[i]);
    print_attrs(out, n);
    fprintf(out, " : %s", ty);
    if (n->block != IR_BLOCK_NONE)
        fprintf(out, "  @b%d", ir_block_no(n->block));
    if (cut >= 0)
        fputs(cut == IR_CUT_USER ? "  cut=user" : "  cut=auto", out);
    if (n->flags & IR_F_HEAD)
        fputs("  head", out);
    if (n->loc.line > 0)
        fprintf(out, "  ; %s", ir_loc_str(g, n->loc, loc, sizeof loc));
    fputc('\n', out);
}

static void print_config(const IrGraph *g, FILE *out)
{
    const IrTrainCfg *t = &g->train;
    const IrLocalCfg *l = &g->local;
    fprintf(out, "train data=%s", t->data);
    if (t->data_path)
        fprintf(out, " path=\"%s\"", t->data_path);
    for (int i = 0; i < 4; i++)
        if (t->npy[i])
            fprintf(out, " npy%d=\"%s\"", i, t->npy[i]);
    if (t->std > 0)
        fprintf(out, " mean=%g std=%g", t->mean, t->std);
    if (t->crop > 0 || t->flip)
        fprintf(out, " crop=%d flip=%d", t->crop, t->flip);
    fprintf(out, " optimizer=%s lr=%g", ir_optimizer_name(t->optimizer), t->lr);
    if (t->optimizer == OPT_SGD)
        fprintf(out, " momentum=%g nesterov=%d", t->momentum, t->nesterov);
    else
        fprintf(out, " beta1=%g beta2=%g eps=%g", t->beta1, t->beta2, t->eps);
    fprintf(out, " weight_decay=%g batch=%d epochs=%d schedule=%s warmup=%d seed=%llu",
            t->weight_decay, t->batch, t->epochs, ir_lr_schedule_name(t->lr_schedule),
            t->warmup, (unsigned long long)t->seed);
    if (t->clip > 0)
        fprintf(out, " clip=%g", t->clip);
    fprintf(out, "\nlocal method=%s blocks=%d overlap=%d", ir_method_name(l->method),
            l->blocks, l->overlap);
    if (l->head)
        fprintf(out, " head=%s", l->head);
    fputc('\n', out);
}

void ir_graph_print(const IrGraph *g, FILE *out)
{
    fprintf(out, "model %s\n", g->model);
    print_config(g, out);
    if (g->n_blocks > 0)
        fprintf(out, "blocks %d\n", g->n_blocks);
    int *cuts = block_cuts(g);
    for (int i = 0; i < g->n_nodes; i++)
        print_node(g, g->nodes[i], cut_after(g, cuts, i), out);
    free(cuts);
    if (g->loss >= 0)
        fprintf(out, "loss %%%d\n", g->loss);
}

/* ---------------------------------------------------------------- dot */

static const char *node_color(const IrNode *n)
{
    if (n->flags & IR_F_HEAD)
        return "lightsalmon";
    switch (ir_op_info(n->op)->kind) {
    case IR_KIND_SOURCE: return n->op == IR_OP_PARAM ? "lightgoldenrod1" : "lightblue";
    case IR_KIND_FWD:    return n->op == IR_OP_STOP_GRADIENT ? "gray80" : "white";
    case IR_KIND_BWD:    return "thistle";
    case IR_KIND_OPT:    return "palegreen";
    }
    return "white";
}

/* One fill colour per block, for its cluster. */
static const char *const block_fill[] = {
    "aliceblue", "honeydew", "lavenderblush", "lightyellow", "mintcream", "mistyrose",
    "azure", "oldlace", "lavender", "seashell",
};
enum { N_BLOCK_FILL = sizeof block_fill / sizeof *block_fill };

static void dot_node(const IrGraph *g, const IrNode *n, int cut, FILE *out)
{
    char ty[96];
    ir_type_str(&n->type, ty, sizeof ty);
    fprintf(out, "    n%d [label=\"%%%d %s", n->id, n->id, ir_op_info(n->op)->name);
    if (n->name)
        fprintf(out, "\\n%s", n->name);
    fprintf(out, "\\n%s", ty);
    if (cut >= 0)
        fprintf(out, "\\ncut (%s)", cut == IR_CUT_USER ? "user" : "auto");
    fprintf(out, "\", fillcolor=%s%s];\n", node_color(n), cut >= 0 ? ", penwidth=3" : "");
    (void)g;
}

/* What the colours, edges and marks mean, as one note-shaped node. */
static void dot_legend(const IrGraph *g, FILE *out)
{
    fputs("  legend [shape=note, fillcolor=white, fontsize=10, label=\"legend\\l", out);
    if (g->n_blocks > 0)
        fprintf(out, "box around nodes: block 1..%d (%s), one colour each\\l", g->n_blocks,
                ir_method_name(g->local.method));
    fputs("solid edge: a value used where it is made\\l"
          "dashed edge: a value another block reads (it crosses a cut)\\l"
          "thick border, cut (user): a block ends at a `cut` statement\\l"
          "thick border, cut (auto): the method chose this cut\\l"
          "fill: blue input or label, yellow parameter, white forward op,\\l"
          "  grey stop_gradient, salmon auxiliary head, purple backward, green optimizer\\l"
          "\"];\n", out);
}

void ir_graph_dot(const IrGraph *g, FILE *out)
{
    fprintf(out, "digraph \"%s\" {\n  rankdir=TB;\n"
                 "  node [shape=box, style=filled, fontname=\"monospace\"];\n", g->model);
    int *cuts = block_cuts(g);
    for (int b = 0; b < g->n_blocks; b++) {
        fprintf(out, "  subgraph cluster_b%d {\n    label=\"block %d\";\n"
                     "    style=\"rounded,filled\";\n    fillcolor=%s;\n", ir_block_no(b),
                ir_block_no(b), block_fill[b % N_BLOCK_FILL]);
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i]->block == b)
                dot_node(g, g->nodes[i], cut_after(g, cuts, i), out);
        fputs("  }\n", out);
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->block == IR_BLOCK_NONE || g->n_blocks == 0)
            dot_node(g, g->nodes[i], cut_after(g, cuts, i), out);
    free(cuts);
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            const IrNode *src = g->nodes[n->in[k]];
            bool cut = src->block != n->block && src->block != IR_BLOCK_NONE &&
                       n->block != IR_BLOCK_NONE;
            fprintf(out, "  n%d -> n%d%s;\n", src->id, n->id, cut ? " [style=dashed]" : "");
        }
    }
    if (g->loss >= 0)
        fprintf(out, "  loss [shape=doubleoctagon, fillcolor=tomato];\n  n%d -> loss;\n",
                g->loss);
    dot_legend(g, out);
    fputs("}\n", out);
}
