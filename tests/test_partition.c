/* test_partition.c — the partition, aux-heads, stop-grad and verifier passes
 * on models compiled by the frontend: legal cuts and layers of an MLP, a
 * residual CNN and a transformer; the blocks of every method; chunked balance
 * against brute force over all legal splits; diagnostics for impossible
 * requests (exact text); golden IR of every method (tests/golden_local,
 * LNET_UPDATE_GOLDEN=1 rewrites the .ir files).
 */
#include <criterion/criterion.h>

#include "build_graph.h"
#include "frontend.h"
#include "passes.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#define LOCAL_DIR LNET_SOURCE_DIR "/tests/golden_local"
#define EXAMPLES LNET_SOURCE_DIR "/examples"

typedef struct {
    Diag d;
    char *text;
    IrGraph *g;
} Model;

static void load_src(Model *m, const char *name, const char *src)
{
    diag_init(&m->d);
    m->text = strdup(src);
    m->g = fe_compile(name, m->text, strlen(m->text), &m->d);
    cr_assert_not_null(m->g, "compile failed:\n%s", tb_diag_text(&m->d));
}

static void load_file(Model *m, const char *path)
{
    diag_init(&m->d);
    size_t len;
    m->text = fe_read_file(path, &len, &m->d);
    cr_assert_not_null(m->text, "cannot read %s", path);
    m->g = fe_compile(path, m->text, len, &m->d);
    cr_assert_not_null(m->g, "compile failed:\n%s", tb_diag_text(&m->d));
}

static void unload(Model *m)
{
    ir_graph_free(m->g);
    free(m->text);
    diag_fini(&m->d);
}

static bool run(Model *m, const char *pipeline)
{
    PassCtx ctx;
    pass_ctx_init(&ctx, &m->d);
    return pass_run_pipeline(m->g, pipeline, &ctx);
}

static void plan(Model *m, PassPlan *p, bool costs)
{
    cr_assert(pass_plan_layers(m->g, p, &m->d), "%s", tb_diag_text(&m->d));
    PassCtx ctx;
    pass_ctx_init(&ctx, &m->d);
    if (costs)
        cr_assert(pass_plan_costs(m->g, p, &ctx), "%s", tb_diag_text(&m->d));
}

static IrOp last_op(const Model *m, const PassPlan *p, int l)
{
    return m->g->nodes[p->layer[l].last]->op;
}

/* ------------------------------------------------ cuts and layers */

Test(partition, mlp_every_chain_value_is_a_cut)
{
    Model m;
    load_file(&m, LOCAL_DIR "/mlp.lnet");
    PassPlan p;
    plan(&m, &p, false);
    /* in a chain every computed value but the loss is a legal cut */
    int computed = 0;
    for (int i = 0; i < m.g->n_nodes; i++)
        computed += ir_op_info(m.g->nodes[i]->op)->kind != IR_KIND_SOURCE;
    cr_expect_eq(p.n_cuts, computed - 1);
    /* flatten merges into the first dense layer; the loss into the classifier */
    cr_assert_eq(p.n_layers, 4);
    cr_expect_eq(m.g->nodes[p.layer[0].first]->op, IR_OP_INPUT);
    for (int l = 0; l < 3; l++)
        cr_expect_eq(last_op(&m, &p, l), IR_OP_RELU, "layer %d", l);
    cr_expect_eq(last_op(&m, &p, 3), IR_OP_CROSS_ENTROPY);
    pass_plan_fini(&p);
    unload(&m);
}

/* No cut inside a residual block: only the block outputs (relu after the
 * add), the stem, the pool and the head's values are cuts. */
Test(partition, resnet_cuts_only_between_residual_blocks)
{
    Model m;
    load_file(&m, LOCAL_DIR "/resnet.lnet");
    PassPlan p;
    plan(&m, &p, false);
    for (int c = 0; c < p.n_cuts; c++) {
        const IrNode *n = m.g->nodes[p.cuts[c]];
        bool inside = false;
        /* a value inside a block is followed by the block's add before the
         * next relu-after-add; the add reads the block input, which is live */
        for (int i = n->id + 1; i < m.g->n_nodes && !inside; i++) {
            const IrNode *u = m.g->nodes[i];
            if (u->op == IR_OP_ADD)
                inside = u->in[0] < n->id;
            if (u->op == IR_OP_ADD || u->op == IR_OP_GLOBAL_AVG_POOL)
                break;
        }
        cr_expect(!inside, "cut %%%d (%s) lies inside a residual block", n->id,
                  ir_op_info(n->op)->name);
    }
    /* stem, block, block (+ pool, dropout), block (+ global pool), classifier */
    cr_assert_eq(p.n_layers, 5);
    cr_expect_eq(last_op(&m, &p, 0), IR_OP_RELU);
    cr_expect_eq(last_op(&m, &p, 1), IR_OP_RELU);
    cr_expect_eq(last_op(&m, &p, 2), IR_OP_DROPOUT);
    cr_expect_eq(last_op(&m, &p, 3), IR_OP_GLOBAL_AVG_POOL);
    cr_expect_eq(last_op(&m, &p, 4), IR_OP_CROSS_ENTROPY);
    pass_plan_fini(&p);
    unload(&m);
}

/* A pre-LN transformer block has two residual sub-blocks; the cut between
 * them is legal, none inside attention or the MLP. The final layernorm
 * belongs to the classifier layer. */
Test(partition, transformer_cuts_between_sub_blocks)
{
    Model m;
    load_file(&m, LOCAL_DIR "/transformer.lnet");
    PassPlan p;
    plan(&m, &p, false);
    int ln_cuts = 0;
    for (int c = 0; c < p.n_cuts; c++) {
        IrOp op = m.g->nodes[p.cuts[c]]->op;
        cr_expect(op != IR_OP_CAUSAL_ATTENTION && op != IR_OP_GELU,
                  "cut %%%d inside a sub-block", p.cuts[c]);
        ln_cuts += op == IR_OP_LAYERNORM;
    }
    cr_expect_eq(ln_cuts, 1, "only the final layernorm is a cut, not the sub-blocks' own");
    cr_assert_eq(p.n_layers, 6);
    cr_expect_eq(last_op(&m, &p, 0), IR_OP_ADD);     /* embedding + positions */
    for (int l = 1; l < 5; l++)
        cr_expect_eq(last_op(&m, &p, l), IR_OP_ADD, "sub-block %d ends at its residual", l);
    cr_expect_eq(m.g->nodes[p.layer[5].first]->op, IR_OP_PARAM);
    cr_expect_eq(last_op(&m, &p, 5), IR_OP_CROSS_ENTROPY);
    bool ln = false;
    for (int i = p.layer[5].first; i <= p.layer[5].last; i++)
        ln = ln || m.g->nodes[i]->op == IR_OP_LAYERNORM;
    cr_expect(ln, "the final layernorm belongs to the classifier layer");
    pass_plan_fini(&p);
    unload(&m);
}

/* ---------------------------------------------------- methods */

static void expect_blocks(const char *file, IrMethod method, int blocks, int overlap, int k,
                          const int *first, const int *last)
{
    Model m;
    load_file(&m, file);
    m.g->local.method = method;
    m.g->local.blocks = blocks;
    m.g->local.overlap = overlap;
    PassPlan p;
    plan(&m, &p, method == METHOD_CHUNKED);
    cr_assert(pass_plan_blocks(m.g, &p, &m.d), "%s", tb_diag_text(&m.d));
    cr_assert_eq(p.n_blocks, k, "%s %s: %d blocks", file, ir_method_name(method), p.n_blocks);
    for (int b = 0; b < k; b++) {
        cr_expect_eq(p.first[b], first[b], "%s %s block %d first", file,
                     ir_method_name(method), b);
        cr_expect_eq(p.last[b], last[b], "%s %s block %d last", file, ir_method_name(method),
                     b);
    }
    pass_plan_fini(&p);
    unload(&m);
}

#define I(...) ((const int[]){__VA_ARGS__})

Test(partition, methods_assign_layer_ranges)
{
    const char *mlp = EXAMPLES "/fmnist_mlp.lnet";
    expect_blocks(mlp, METHOD_BACKPROP, 0, 2, 1, I(0), I(4));
    expect_blocks(mlp, METHOD_GREEDY, 0, 2, 5, I(0, 1, 2, 3, 4), I(0, 1, 2, 3, 4));
    /* [784→1024, 1024→1024] + head | [1024→1024 ×2, classifier]: 47.6% / 52.4% */
    expect_blocks(mlp, METHOD_CHUNKED, 2, 2, 2, I(0, 2), I(1, 4));
    expect_blocks(mlp, METHOD_OVERLAP, 0, 2, 4, I(0, 1, 2, 3), I(1, 2, 3, 4));
    expect_blocks(mlp, METHOD_OVERLAP, 0, 3, 2, I(0, 2), I(2, 4));
    expect_blocks(mlp, METHOD_OVERLAP, 0, 4, 2, I(0, 3), I(3, 4));
    /* the declared cut after the first pool fixes the chunked boundary */
    expect_blocks(EXAMPLES "/fmnist_cnn.lnet", METHOD_CHUNKED, 0, 2, 2, I(0, 2), I(1, 4));
}

/* The graph: every node gets its block; the overlap copy reads stop_gradient. */
Test(partition, overlap_copies_the_shared_layer)
{
    Model m;
    load_file(&m, LOCAL_DIR "/mlp.lnet");
    m.g->local.method = METHOD_OVERLAP;
    cr_assert(run(&m, PASS_LOCAL_PIPELINE), "%s", tb_diag_text(&m.d));
    cr_assert_eq(m.g->n_blocks, 3);
    int matmuls[3] = {0}, sg = 0;
    for (int i = 0; i < m.g->n_nodes; i++) {
        const IrNode *n = m.g->nodes[i];
        if (n->op == IR_OP_MATMUL && !(n->flags & IR_F_HEAD))
            matmuls[n->block]++;
        if (n->op == IR_OP_STOP_GRADIENT) {
            sg++;
            cr_expect_eq(m.g->nodes[n->in[0]]->block, n->block - 1);
        }
        if (n->op == IR_OP_PARAM && strcmp(n->name, "dense_1.w") == 0)
            cr_expect_eq(n->block, 1, "the shared layer's weights belong to the later window");
    }
    /* windows [L0,L1] [L1,L2] [L2,L3]: two matmuls each, L1 and L2 computed twice */
    cr_expect(matmuls[0] == 2 && matmuls[1] == 2 && matmuls[2] == 2);
    cr_expect_eq(sg, 2);
    unload(&m);
}

/* ------------------------------------------------------ balance */

/* Best max block cost over all ways to cut L layers into K chunks. */
static double brute(const PassPlan *p, int K, int start, int k_left)
{
    int L = p->n_layers;
    if (k_left == 1)
        return pass_plan_block_cost(p, start, L - 1);
    double best = DBL_MAX;
    for (int end = start; end <= L - k_left; end++) {
        double c = pass_plan_block_cost(p, start, end);
        double rest = brute(p, K, end + 1, k_left - 1);
        double m = c > rest ? c : rest;
        best = m < best ? m : best;
    }
    return best;
}

static void balance_case(const char *file, int K)
{
    Model m;
    load_file(&m, file);
    m.g->local.method = METHOD_CHUNKED;
    m.g->local.blocks = K;
    PassPlan p;
    plan(&m, &p, true);
    cr_assert(pass_plan_blocks(m.g, &p, &m.d));
    double worst = 0;
    for (int b = 0; b < K; b++) {
        double c = pass_plan_block_cost(&p, p.first[b], p.last[b]);
        worst = c > worst ? c : worst;
        cr_expect_eq(p.first[b], b ? p.last[b - 1] + 1 : 0);
    }
    cr_expect_eq(p.last[K - 1], p.n_layers - 1);
    double opt = brute(&p, K, 0, K);
    cr_expect_eq(worst, opt, "%s K=%d: DP max %.17g, brute force %.17g", file, K, worst, opt);
    pass_plan_fini(&p);
    unload(&m);
}

/* Best max block value under objective b (brute force, as brute()). */
static double brute_value(const PassPlan *p, IrBalance b, int start, int k_left)
{
    int L = p->n_layers;
    if (k_left == 1)
        return pass_plan_block_value(p, b, start, L - 1);
    double best = DBL_MAX;
    for (int end = start; end <= L - k_left; end++) {
        double c = pass_plan_block_value(p, b, start, end);
        double rest = brute_value(p, b, end + 1, k_left - 1);
        double m = c > rest ? c : rest;
        best = m < best ? m : best;
    }
    return best;
}

/* Chunked under objective b is optimal; time with made-up layer times (the
 * layer's index squared in ms). */
static void objective_case(const char *file, int K, IrBalance bal)
{
    Model m;
    load_file(&m, file);
    m.g->local.method = METHOD_CHUNKED;
    m.g->local.blocks = K;
    m.g->local.balance = bal;
    PassPlan p;
    plan(&m, &p, true);
    for (int l = 0; bal == BALANCE_TIME && l < p.n_layers; l++)
        p.layer[l].secs = 1e-3 * (l + 1) * (l + 1);
    cr_assert(pass_plan_blocks(m.g, &p, &m.d));
    double worst = 0;
    for (int b = 0; b < K; b++) {
        double c = pass_plan_block_value(&p, bal, p.first[b], p.last[b]);
        worst = c > worst ? c : worst;
    }
    double opt = brute_value(&p, bal, 0, K);
    cr_expect_eq(worst, opt, "%s K=%d %s: DP max %.17g, brute force %.17g", file, K,
                 ir_balance_name(bal), worst, opt);
    pass_plan_fini(&p);
    unload(&m);
}

Test(partition, memory_and_time_balance_are_optimal)
{
    for (IrBalance b = BALANCE_MEMORY; b <= BALANCE_TIME; b++) {
        objective_case(EXAMPLES "/fmnist_mlp.lnet", 3, b);
        objective_case(EXAMPLES "/fmnist_resnet.lnet", 4, b);
        objective_case(LOCAL_DIR "/transformer.lnet", 3, b);
    }
}

/* A layer's time at its own block's FLOPs is its measured time: the rate
 * prices the layer exactly where it was measured. */
Test(partition, time_of_a_one_layer_block_is_its_measurement)
{
    Model m;
    load_file(&m, EXAMPLES "/fmnist_mlp.lnet");
    PassPlan p;
    plan(&m, &p, true);
    for (int l = 0; l < p.n_layers; l++)
        p.layer[l].secs = 0.25 * (l + 1);
    for (int l = 0; l < p.n_layers; l++)
        cr_expect_float_eq(pass_plan_block_value(&p, BALANCE_TIME, l, l), 0.25 * (l + 1), 1e-12);
    pass_plan_fini(&p);
    unload(&m);
}

Test(partition, chunked_balance_is_optimal)
{
    balance_case(EXAMPLES "/fmnist_mlp.lnet", 2);
    balance_case(EXAMPLES "/fmnist_mlp.lnet", 4);
    balance_case(EXAMPLES "/fmnist_resnet.lnet", 2);
    balance_case(EXAMPLES "/fmnist_resnet.lnet", 4);
    balance_case(LOCAL_DIR "/transformer.lnet", 3);
}

/* The plan's layer costs predict the real graph's block costs (MLP: exactly). */
Test(partition, plan_costs_match_the_differentiated_graph)
{
    Model m;
    load_file(&m, EXAMPLES "/fmnist_mlp.lnet");
    PassPlan p;
    plan(&m, &p, true);
    cr_assert(pass_plan_blocks(m.g, &p, &m.d));
    cr_assert(run(&m, PASS_LOCAL_PIPELINE ",autodiff"), "%s", tb_diag_text(&m.d));
    PassCost c;
    pass_cost(m.g, &c);
    cr_assert_eq(c.n, 2);
    for (int b = 0; b < 2; b++) {
        double want = pass_plan_block_cost(&p, p.first[b], p.last[b]);
        double got = c.b[b].fwd + c.b[b].bwd + c.b[b].head;
        cr_expect_float_eq(got, want, 1e-9 * want, "block %d: graph %.17g, plan %.17g", b, got,
                           want);
    }
    cr_expect(c.speedup > 1.85 && c.speedup < 1.95, "speed-up %g", c.speedup);
    pass_cost_fini(&c);
    pass_plan_fini(&p);
    unload(&m);
}

/* -------------------------------------------------- diagnostics */

static void expect_error(const char *src, const char *pipeline, const char *want)
{
    Model m;
    load_src(&m, "t.lnet", src);
    cr_expect(!run(&m, pipeline), "the pipeline should fail");
    char *got = tb_diag_text(&m.d);
    cr_expect_str_eq(got, want);
    free(got);
    unload(&m);
}

#define MLP2 "input x : f32[4]\nlabel y : class[2]\nh = relu(dense(x, 3))\n" \
             "loss cross_entropy(dense(h, 2), y)\n"

Test(partition, too_many_blocks)
{
    expect_error(MLP2 "local { method = chunked  blocks = 3 }\n", PASS_LOCAL_PIPELINE,
                 "t.lnet:5:36: error: cannot split into 3 blocks: the model has 1 legal cut "
                 "point between its layers, so at most 2 blocks\n"
                 "local { method = chunked  blocks = 3 }\n"
                 "                                   ^\n");
}

Test(partition, default_block_count_points_at_the_method)
{
    /* chunked without `blocks` means 2, which a one-layer model cannot have */
    expect_error("input x : f32[4]\nlabel y : class[2]\nloss cross_entropy(dense(x, 2), y)\n"
                 "local { method = chunked }\n", PASS_LOCAL_PIPELINE,
                 "t.lnet:4:18: error: cannot split into 2 blocks: the model has 0 legal cut "
                 "points between its layers, so at most 1 block\n"
                 "local { method = chunked }\n"
                 "                 ^\n");
}

Test(partition, ignored_blocks_warning_points_at_the_value)
{
    Model m;
    load_src(&m, "t.lnet", MLP2 "local { method = overlap  blocks = 5 }\n");
    cr_expect(run(&m, PASS_LOCAL_PIPELINE));
    char *got = tb_diag_text(&m.d);
    cr_expect_str_eq(got, "t.lnet:5:36: warning: overlap with windows of 2 layers makes 1 "
                     "blocks from 2 layers; blocks = 5 is ignored\n"
                     "local { method = overlap  blocks = 5 }\n"
                     "                                   ^\n");
    free(got);
    unload(&m);
}

Test(partition, cut_inside_a_residual_block)
{
    expect_error("input image : f32[6, 6]\nlabel class : class[4]\n"
                 "x = reshape(image, 1, 6, 6)\n"
                 "x = relu(conv2d(x, 4, padding = 1))\n"
                 "h = relu(conv2d(x, 4, padding = 1))\n"
                 "cut h\n"
                 "x = relu(x + conv2d(h, 4, padding = 1))\n"
                 "loss cross_entropy(dense(global_avg_pool(x), 4), class)\n"
                 "local { method = chunked }\n",
                 PASS_LOCAL_PIPELINE,
                 "t.lnet:5:5: error: cannot cut here: 2 tensors cross this point (a cut needs "
                 "one tensor carrying everything forward; inside a residual block the skip "
                 "path crosses too)\n"
                 "h = relu(conv2d(x, 4, padding = 1))\n    ^\n");
}

Test(partition, more_cuts_than_blocks)
{
    expect_error("input x : f32[4]\nlabel y : class[2]\n"
                 "h = relu(dense(x, 3))\ncut h\nh = relu(dense(h, 3))\ncut h\n"
                 "loss cross_entropy(dense(h, 2), y)\nlocal { method = chunked  blocks = 2 }\n",
                 PASS_LOCAL_PIPELINE,
                 "t.lnet:8:36: error: cannot split into 2 blocks: the model declares 2 cuts, "
                 "which make 3 blocks (inside a repeat, `cut NAME every N` or `unless last` "
                 "cuts fewer)\nlocal { method = chunked  blocks = 2 }\n"
                 "                                   ^\n"
                 "t.lnet:3:5: note: the first cut is after this\n"
                 "h = relu(dense(x, 3))\n    ^\n");
}

Test(partition, overlap_window_of_one)
{
    expect_error(MLP2 "local { method = overlap  overlap = 1 }\n", PASS_LOCAL_PIPELINE,
                 "t.lnet:5:37: error: overlap window of 1 layer: a window needs at least 2 "
                 "layers, since it shares one with its neighbour\n"
                 "local { method = overlap  overlap = 1 }\n"
                 "                                    ^\n");
}

Test(partition, custom_head_without_a_builder)
{
    expect_error("input x : f32[4]\nlabel y : class[2]\ndef aux(h) { return dense(h, 2) }\n"
                 "h = relu(dense(x, 3))\nloss cross_entropy(dense(h, 2), y)\n"
                 "local { method = greedy  head = aux }\n",
                 PASS_LOCAL_PIPELINE,
                 "t.lnet:6:33: error: custom head 'aux': this pipeline has no head builder "
                 "(PassCtx.build_head); remove `head = aux` to use the default heads\n"
                 "local { method = greedy  head = aux }\n"
                 "                                ^\n");
}

Test(partition, no_default_head_for_the_kind)
{
    /* a sequence [N,6,8] pooled into one class: no default head on the sequence */
    expect_error("input t : i32[6]\nlabel y : class[3]\n"
                 "x = embedding(t, 11, 8)\nx = relu(dense(x, 8))\n"
                 "loss cross_entropy(dense(flatten(x), 3), y)\n"
                 "local { method = greedy }\n",
                 PASS_LOCAL_PIPELINE,
                 "t.lnet:3:5: error: no default auxiliary head from a block output of type "
                 "f32[N,6,8] to logits f32[N,3]; write one and name it in local { head = NAME }\n"
                 "x = embedding(t, 11, 8)\n    ^\n");
}

Test(partition, runs_once_and_before_autodiff)
{
    expect_error(MLP2, "shape,partition,partition",
                 "lnet: error: partition: the graph is already partitioned\n");
    expect_error(MLP2, "shape,autodiff,partition", "lnet: error: partition must run before autodiff\n");
}

/* The verifier rejects a gradient path across blocks and a block without a loss. */
Test(partition, verifier_catches_broken_graphs)
{
    expect_error(MLP2 "local { method = chunked }\n", "shape,partition,stop-grad,verify",
                 "lnet: error: verifier: block 0 has 0 losses, expected one (run aux-heads)\n");
    Model m;
    load_src(&m, "t.lnet", MLP2 "local { method = chunked }\n");
    cr_assert(run(&m, PASS_LOCAL_PIPELINE));
    for (int i = 0; i < m.g->n_nodes; i++) {
        IrNode *n = m.g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (m.g->nodes[n->in[k]]->op == IR_OP_STOP_GRADIENT)
                n->in[k] = m.g->nodes[n->in[k]]->in[0];     /* bypass the cut */
    }
    cr_expect(!run(&m, "verify"));
    char *got = tb_diag_text(&m.d);
    cr_expect(strstr(got, "without a stop_gradient: a gradient path crosses a block boundary"),
              "%s", got);
    free(got);
    unload(&m);
}

/* -------------------------------------------------------- golden */

static char *print_graph(const IrGraph *g)
{
    char *s;
    size_t n;
    FILE *f = open_memstream(&s, &n);
    ir_graph_print(g, f);
    fclose(f);
    return s;
}

static void golden(const char *name, IrMethod method)
{
    char src[512], ir[512];
    snprintf(src, sizeof src, "%s/%s.lnet", LOCAL_DIR, name);
    snprintf(ir, sizeof ir, "%s/%s.%s.ir", LOCAL_DIR, name, ir_method_name(method));
    Model m;
    load_file(&m, src);
    m.g->local.method = method;
    m.g->local.method_loc = IR_LOC_NONE;    /* as --method does: the file's blocks are not greedy's */
    cr_assert(run(&m, PASS_LOCAL_PIPELINE), "%s", tb_diag_text(&m.d));
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
        size_t len;
        char *want = fe_read_file(ir, &len, &d);
        cr_assert_not_null(want, "missing %s (run with LNET_UPDATE_GOLDEN=1)", ir);
        cr_expect_str_eq(out, want, "%s differs from %s", src, ir);
        free(want);
        diag_fini(&d);
    }
    free(out);
    unload(&m);
}

Test(partition, golden_ir_of_every_method)
{
    const char *models[] = {"mlp", "resnet", "transformer"};
    for (int i = 0; i < 3; i++)
        for (int meth = 0; meth < METHOD_COUNT; meth++)
            golden(models[i], (IrMethod)meth);
}

Test(partition, dot_draws_blocks_heads_and_cut_edges)
{
    Model m;
    load_file(&m, LOCAL_DIR "/mlp.lnet");
    cr_assert(run(&m, PASS_LOCAL_PIPELINE));
    char *s;
    size_t n;
    FILE *f = open_memstream(&s, &n);
    ir_graph_dot(m.g, f);
    fclose(f);
    cr_expect(strstr(s, "subgraph cluster_b1"));
    cr_expect(strstr(s, "lightsalmon"), "heads have their own colour");
    cr_expect(strstr(s, "[style=dashed]"), "the cut edge is dashed");
    free(s);
    unload(&m);
}

/* A layer whose output has no default head cannot end a chunk: the balanced
 * split avoids it instead of failing. */
Test(partition, chunked_avoids_layers_without_a_head)
{
    Model m;
    load_src(&m, "t.lnet", "input t : i32[6]\nlabel y : class[3]\n"
                           "x = embedding(t, 11, 8)\nx = relu(dense(x, 8))\n"
                           "loss cross_entropy(dense(flatten(x), 3), y)\n"
                           "local { method = chunked  blocks = 2 }\n");
    PassPlan p;
    plan(&m, &p, true);
    cr_assert_eq(p.n_layers, 3);
    cr_expect_eq(p.layer[0].head, PASS_NO_HEAD);
    cr_assert(pass_plan_blocks(m.g, &p, &m.d));
    cr_expect(p.last[0] == 1 && p.first[1] == 2, "blocks [%d,%d] [%d,%d]", p.first[0],
              p.last[0], p.first[1], p.last[1]);
    pass_plan_fini(&p);
    cr_expect(run(&m, PASS_LOCAL_PIPELINE ",autodiff,optimizer,verify"), "%s",
              tb_diag_text(&m.d));
    unload(&m);
}
