/* test_custom_head.c — auxiliary heads written in the model
 * (`local { head = NAME }`), built by the frontend's fe_model_head through
 * PassCtx.build_head:
 * - the IR after aux-heads holds the def's nodes in each block but the last,
 *   with per-block parameter names, the frontend's initializers, the def's
 *   source lines, and the task loss on their output; golden IR;
 * - the split per-block graphs compute, bit for bit, what the single graph
 *   Σ_k loss_k computes (docs/method.md §3), for chunked, greedy and overlap;
 * - diagnostics for bad heads (exact text, caret and note);
 * - per-key locations of `local { }`.
 */
#include <criterion/criterion.h>

#include "build_graph.h"
#include "frontend.h"
#include "interp.h"
#include "passes.h"

#include <stdlib.h>
#include <string.h>

#define LOCAL_DIR LNET_SOURCE_DIR "/tests/golden_local"
#define TRAIN_PIPE PASS_LOCAL_PIPELINE ",autodiff,optimizer"

/* A compiled model with its frontend state, as the tools keep it. */
typedef struct {
    Diag d;
    char *text;
    IrGraph *g;
    FeModel *fe;
} Model;

static bool load(Model *m, const char *name, const char *src)
{
    diag_init(&m->d);
    m->text = strdup(src);
    m->fe = fe_model_new(name, m->text, strlen(m->text), &m->d, &m->g);
    return m->fe != NULL;
}

static void unload(Model *m)
{
    ir_graph_free(m->g);
    fe_model_free(m->fe);
    free(m->text);
    diag_fini(&m->d);
}

static IrNode *build_head(void *fe, IrGraph *g, int input, int block, Diag *d)
{
    return fe_model_head(fe, g, input, block, d);
}

static bool run(Model *m, const char *pipeline)
{
    PassCtx ctx;
    pass_ctx_init(&ctx, &m->d);
    ctx.build_head = build_head;
    ctx.head_ctx = m->fe;
    return pass_run_pipeline(m->g, pipeline, &ctx);
}

/* Compiles src and runs pipeline; fails the test on any error. */
static void build(Model *m, const char *src, const char *pipeline)
{
    cr_assert(load(m, "t.lnet", src), "compile failed:\n%s", tb_diag_text(&m->d));
    cr_assert(run(m, pipeline), "pipeline failed:\n%s", tb_diag_text(&m->d));
}

static int by_name(const IrGraph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->name && strcmp(g->nodes[i]->name, name) == 0)
            return i;
    return -1;
}

/* Four layers of 16 features; the head is an MLP 16 -> 32 -> 10 (line 3). */
#define MLP "input x : f32[12]\nlabel y : class[10]\n" \
            "def myhead(x) { return dense(relu(dense(x, 32)), 10) }\n" \
            "h = relu(dense(x, 16))\nh = relu(dense(h, 16))\nh = relu(dense(h, 16))\n" \
            "loss cross_entropy(dense(h, 10), y)\n"

/* ------------------------------------------------------------ the IR */

static void expect_param(const IrGraph *g, const char *name, int64_t d0, int64_t d1,
                         IrInit init, int block)
{
    int i = by_name(g, name);
    cr_assert(i >= 0, "no parameter %s", name);
    const IrNode *n = g->nodes[i];
    cr_expect_eq(n->op, IR_OP_PARAM, "%s", name);
    cr_expect_eq(n->type.dim[0], d0, "%s", name);
    cr_expect_eq(n->type.rank == 2 ? n->type.dim[1] : -1, d1, "%s", name);
    cr_expect_eq(n->a.init, init, "%s", name);
    cr_expect_eq(n->block, block, "%s", name);
    cr_expect(n->flags & IR_F_HEAD, "%s", name);
    cr_expect_eq(n->loc.line, 3, "%s: the def's line", name);
}

Test(custom_head, nodes_in_block_0)
{
    Model m;
    build(&m, MLP "local { method = chunked  blocks = 2  head = myhead }\n",
          PASS_LOCAL_PIPELINE);
    const IrGraph *g = m.g;
    cr_assert_eq(g->n_blocks, 2);
    expect_param(g, "head1.dense_0.w", 16, 32, IR_INIT_HE, 0);
    expect_param(g, "head1.dense_0.b", 32, -1, IR_INIT_ZEROS, 0);
    expect_param(g, "head1.dense_1.w", 32, 10, IR_INIT_HE, 0);
    expect_param(g, "head1.dense_1.b", 10, -1, IR_INIT_ZEROS, 0);
    cr_expect_eq(g->nodes[by_name(g, "head1.dense_0.w")]->a.fan_in, 16);
    cr_expect_eq(by_name(g, "head2.dense_0.w"), -1, "the last block has no head");
    int loss = by_name(g, "head1");
    cr_assert(loss >= 0);
    const IrNode *l = g->nodes[loss];
    cr_expect_eq(l->op, IR_OP_CROSS_ENTROPY);
    cr_expect(l->flags & IR_F_LOSS);
    cr_expect_eq(l->block, 0);
    /* the loss reads the head's bias_add, which reads head1.dense_1 */
    const IrNode *logits = g->nodes[l->in[0]];
    cr_expect_eq(logits->op, IR_OP_BIAS_ADD);
    cr_expect_eq(logits->in[1], by_name(g, "head1.dense_1.b"));
    cr_expect_eq(logits->type.rank, 2);
    cr_expect_eq(logits->type.dim[1], 10);
    cr_expect_eq(l->in[1], by_name(g, "y"));
    /* every head node sits in block 0, on the def's line, after its input */
    int n_head = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (!(n->flags & IR_F_HEAD) || n->op == IR_OP_CROSS_ENTROPY)
            continue;
        n_head++;
        cr_expect_eq(n->block, 0, "%%%d", i);
        cr_expect_eq(n->loc.line, 3, "%%%d", i);
    }
    cr_expect_eq(n_head, 9, "4 params, 2 matmul, 2 bias_add, 1 relu");
    unload(&m);
}

Test(custom_head, one_head_per_block_with_its_own_parameters)
{
    Model m;
    build(&m, MLP "local { method = greedy  head = myhead }\n", PASS_LOCAL_PIPELINE);
    cr_assert_eq(m.g->n_blocks, 4);
    for (int k = 1; k <= 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "head%d.dense_1.w", k);
        expect_param(m.g, name, 32, 10, IR_INIT_HE, k - 1);
        snprintf(name, sizeof name, "head%d", k);
        cr_expect(by_name(m.g, name) >= 0, "%s", name);
    }
    cr_expect_eq(by_name(m.g, "head4"), -1);
    cr_expect(by_name(m.g, "dense_0.w") >= 0, "the model's own names are unchanged");
    unload(&m);
}

/* A head that calls another def: nested parameters get the head's prefix. */
Test(custom_head, head_calling_a_def)
{
    Model m;
    build(&m, "input x : f32[12]\nlabel y : class[10]\n"
              "def block(x, w) { return relu(dense(x, w)) }\n"
              "def myhead(x) { return dense(block(x, 8), 10) }\n"
              "h = relu(dense(x, 16))\nloss cross_entropy(dense(h, 10), y)\n"
              "local { method = greedy  head = myhead }\n",
          PASS_LOCAL_PIPELINE);
    expect_param(m.g, "head1.dense_0.w", 16, 8, IR_INIT_HE, 0);
    cr_expect_eq(m.g->nodes[by_name(m.g, "head1.dense_0.w")]->loc.line, 3);
    cr_expect_eq(m.g->nodes[by_name(m.g, "head1.dense_1.w")]->loc.line, 4);
    unload(&m);
}

static char *print_graph(const IrGraph *g)
{
    char *s;
    size_t n;
    FILE *f = open_memstream(&s, &n);
    ir_graph_print(g, f);
    fclose(f);
    return s;
}

/* tests/golden_local/mlp_head.lnet through the local pipeline (its own
 * `local { }`) equals mlp_head.chunked.ir; LNET_UPDATE_GOLDEN=1 rewrites it. */
Test(custom_head, golden_ir)
{
    const char *src = LOCAL_DIR "/mlp_head.lnet", *ir = LOCAL_DIR "/mlp_head.chunked.ir";
    Model m;
    diag_init(&m.d);
    size_t len;
    m.text = fe_read_file(src, &len, &m.d);
    cr_assert_not_null(m.text, "cannot read %s", src);
    m.fe = fe_model_new(src, m.text, len, &m.d, &m.g);
    cr_assert(m.fe && run(&m, PASS_LOCAL_PIPELINE), "%s", tb_diag_text(&m.d));
    char *out = print_graph(m.g);
    const char *update = getenv("LNET_UPDATE_GOLDEN");
    if (update && strcmp(update, "1") == 0) {
        FILE *w = fopen(ir, "w");
        cr_assert_not_null(w, "cannot write %s", ir);
        fputs(out, w);
        fclose(w);
    } else {
        Diag d;
        diag_init(&d);
        char *want = fe_read_file(ir, &len, &d);
        cr_assert_not_null(want, "missing %s (run with LNET_UPDATE_GOLDEN=1)", ir);
        cr_expect_str_eq(out, want, "%s differs from %s", src, ir);
        free(want);
        diag_fini(&d);
    }
    free(out);
    unload(&m);
}

/* ------------------------------------------ split == single graph */

static int64_t elems(const IrGraph *g, int id, int n)
{
    const IrType *t = &g->nodes[id]->type;
    return ir_type_numel(t) * (ir_type_batched(t) ? n : 1);
}

static RtInterp *interp(const IrGraph *g, int batch)
{
    char err[128];
    RtInterp *in = rt_interp_new(g, batch, err, sizeof err);
    cr_assert(in, "%s", err);
    return in;
}

/* Deterministic batch for step s: floats in [-1,1), labels in [0,classes). */
static void fill_data(RtInterp *in, const IrGraph *g, int n, int s)
{
    uint32_t x = 4242u + 131u * (uint32_t)s;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *nd = g->nodes[i];
        if (nd->op != IR_OP_INPUT && nd->op != IR_OP_LABEL)
            continue;
        void *buf = rt_interp_buffer(in, i);
        for (int64_t k = 0; k < elems(g, i, n); k++) {
            x = x * 1664525u + 1013904223u;
            if (nd->op == IR_OP_LABEL)
                ((int32_t *)buf)[k] = (int32_t)((x >> 8) % (uint32_t)nd->a.classes);
            else
                ((float *)buf)[k] = (float)((x >> 8) & 0xffff) / 32768.0f - 1.0f;
        }
    }
}

static void copy_value(RtInterp *dst, const IrGraph *dg, int dn, RtInterp *src, int sn, int n)
{
    memcpy(rt_interp_buffer(dst, dn), rt_interp_buffer(src, sn), (size_t)elems(dg, dn, n) * 4);
}

/* One step of every block in order, each fed from its producers. */
static void blocks_step(const PassBlocks *bs, RtInterp **in, RtInterp *whole,
                        const RtStepArgs *a)
{
    for (int b = 0; b < bs->n; b++) {
        const PassBlock *pb = &bs->b[b];
        for (int k = 0; k < pb->n_inputs; k++) {
            const PassBlockInput *x = &pb->inputs[k];
            if (x->kind == PASS_IO_DATA)
                copy_value(in[b], pb->g, x->node, whole, x->orig, a->n);
            else
                copy_value(in[b], pb->g, x->node, in[x->src_block], x->src_node, a->n);
        }
        rt_interp_step(in[b], a);
    }
}

/* Every value of every block (gradients, updated parameters, head
 * parameters and losses included) equals the single graph's, bit for bit. */
static void compare_all(const PassBlocks *bs, RtInterp **in, RtInterp *whole,
                        const IrGraph *g, const char *what)
{
    for (int b = 0; b < bs->n; b++) {
        const PassBlock *pb = &bs->b[b];
        for (int i = 0; i < pb->g->n_nodes; i++) {
            const IrNode *nd = pb->g->nodes[i];
            if (nd->op == IR_OP_INPUT || nd->op == IR_OP_LABEL || nd->op == IR_OP_FILL)
                continue;
            if (nd->op == IR_OP_PARAM && g->nodes[pb->orig[i]]->block != b)
                continue;   /* overlap: a non-owner's copy, refreshed next step */
            cr_expect(memcmp(rt_interp_buffer(in[b], i), rt_interp_buffer(whole, pb->orig[i]),
                             (size_t)elems(pb->g, i, 4) * 4) == 0,
                      "%s: block %d node %d (%s %s) differs", what, b, i,
                      ir_op_info(nd->op)->name, nd->name ? nd->name : "");
        }
    }
}

static void split_case(const char *local, int want_k)
{
    char src[1024];
    snprintf(src, sizeof src, "%s%s\n", MLP, local);
    Model m;
    build(&m, src, TRAIN_PIPE);
    const IrGraph *g = m.g;
    cr_assert_eq(g->n_blocks, want_k, "%s: %d blocks", local, g->n_blocks);
    PassBlocks bs;
    cr_assert(pass_split(g, &bs, &m.d), "%s: %s", local, tb_diag_text(&m.d));
    RtInterp *whole = interp(g, 4), **in = calloc((size_t)bs.n, sizeof *in);
    rt_interp_init_params(whole, 19);
    for (int b = 0; b < bs.n; b++) {
        in[b] = interp(bs.b[b].g, 4);
        for (int i = 0; i < bs.b[b].g->n_nodes; i++) {
            IrOp op = bs.b[b].g->nodes[i]->op;
            if (op == IR_OP_PARAM || op == IR_OP_STATE)
                copy_value(in[b], bs.b[b].g, i, whole, bs.b[b].orig[i], 1);
        }
        char head[16];
        snprintf(head, sizeof head, "head%d", b + 1);
        if (b + 1 < bs.n)
            cr_expect_str_eq(bs.b[b].g->nodes[bs.b[b].loss]->name, head);
    }
    for (int s = 0; s < 3; s++) {
        RtStepArgs a = {.n = 4, .lr = 1e-2f, .step = s + 1, .seed = 5, .train = true};
        fill_data(whole, g, 4, s);
        rt_interp_step(whole, &a);
        blocks_step(&bs, in, whole, &a);
        compare_all(&bs, in, whole, g, local);
    }
    for (int b = 0; b < bs.n; b++)
        rt_interp_free(in[b]);
    free(in);
    rt_interp_free(whole);
    pass_blocks_fini(&bs);
    unload(&m);
}

Test(custom_head, split_blocks_match_single_graph)
{
    split_case("local { method = chunked  blocks = 2  head = myhead }", 2);
    split_case("local { method = greedy  head = myhead }", 4);
    split_case("local { method = overlap  head = myhead }", 3);
}

/* ----------------------------------------------------- diagnostics */

static void expect_error(const char *src, const char *want)
{
    Model m;
    bool ok = load(&m, "t.lnet", src) && run(&m, PASS_LOCAL_PIPELINE);
    cr_expect(!ok, "the model should be rejected");
    char *got = tb_diag_text(&m.d);
    cr_expect_str_eq(got, want);
    free(got);
    unload(&m);
}

#define TWO "input x : f32[4]\nlabel y : class[3]\nh = relu(dense(x, 8))\n" \
            "loss cross_entropy(dense(h, 3), y)\n"

Test(custom_head, wrong_output_shape)
{
    expect_error("def aux(h) {\n    return relu(dense(h, 5))\n}\n" TWO
                 "local { method = greedy  head = aux }\n",
                 "t.lnet:2:12: error: head 'aux' returns f32[N,5], but the task loss needs "
                 "logits of type f32[N,3]\n"
                 "    return relu(dense(h, 5))\n"
                 "           ^\n"
                 "t.lnet:8:33: note: in the auxiliary head of block 1, called on its output of "
                 "type f32[N,8]\n"
                 "local { method = greedy  head = aux }\n"
                 "                                ^\n");
}

Test(custom_head, error_inside_the_head)
{
    expect_error("def aux(h) { return dense(layernorm(h, eps = 0), 3) }\n" TWO
                 "local { method = greedy  head = aux }\n",
                 "t.lnet:1:46: error: argument 'eps' of 'layernorm' must be > 0, got 0\n"
                 "def aux(h) { return dense(layernorm(h, eps = 0), 3) }\n"
                 "                                             ^\n"
                 "t.lnet:6:33: note: in the auxiliary head of block 1, called on its output of "
                 "type f32[N,8]\n"
                 "local { method = greedy  head = aux }\n"
                 "                                ^\n");
}

Test(custom_head, head_returning_a_number)
{
    expect_error("def aux(h) { return 3 }\n" TWO "local { method = greedy  head = aux }\n",
                 "t.lnet:1:21: error: head 'aux' must return a tensor, got a number\n"
                 "def aux(h) { return 3 }\n"
                 "                    ^\n"
                 "t.lnet:6:33: note: in the auxiliary head of block 1, called on its output of "
                 "type f32[N,8]\n"
                 "local { method = greedy  head = aux }\n"
                 "                                ^\n");
}

Test(custom_head, head_with_two_parameters)
{
    expect_error("def aux(h, n) { return dense(h, n) }\n" TWO
                 "local { method = greedy  head = aux }\n",
                 "t.lnet:6:33: error: head 'aux' must take exactly one argument, it takes 2\n"
                 "local { method = greedy  head = aux }\n"
                 "                                ^\n");
}

Test(custom_head, unknown_def)
{
    expect_error(TWO "local { method = greedy  head = aux }\n",
                 "t.lnet:5:33: error: unknown def 'aux' for 'head'\n"
                 "local { method = greedy  head = aux }\n"
                 "                                ^\n");
}

/* The pass side of the same checks: a head name that no def has (set after
 * compiling, as a tool could) is an error at the `head` value. */
Test(custom_head, unknown_def_at_build_time)
{
    Model m;
    cr_assert(load(&m, "t.lnet", "def aux(h) { return dense(h, 3) }\n" TWO
                                 "local { method = greedy  head = aux }\n"));
    m.g->local.head = "nohead";
    cr_expect(!run(&m, PASS_LOCAL_PIPELINE));
    char *got = tb_diag_text(&m.d);
    cr_expect_str_eq(got, "t.lnet:6:33: error: unknown def 'nohead' for 'head'\n"
                          "local { method = greedy  head = aux }\n"
                          "                                ^\n");
    free(got);
    unload(&m);
}

/* ----------------------------------------------- key locations */

Test(custom_head, local_keys_keep_their_locations)
{
    Model m;
    cr_assert(load(&m, "t.lnet", "def aux(h) { return dense(h, 3) }\n" TWO
                                 "local {\n  method = overlap\n  blocks = 2\n  overlap = 3\n"
                                 "  head = aux\n}\n"));
    const IrLocalCfg *l = &m.g->local;
    cr_expect_eq(l->loc.line, 6);
    cr_expect(l->method_loc.line == 7 && l->method_loc.col == 12);
    cr_expect(l->blocks_loc.line == 8 && l->blocks_loc.col == 12);
    cr_expect(l->overlap_loc.line == 9 && l->overlap_loc.col == 13);
    cr_expect(l->head_loc.line == 10 && l->head_loc.col == 10);
    unload(&m);
    cr_assert(load(&m, "t.lnet", TWO "local { method = greedy }\n"));
    cr_expect_eq(m.g->local.blocks_loc.line, 0, "not given: no location");
    cr_expect_eq(m.g->local.head_loc.line, 0);
    unload(&m);
}
