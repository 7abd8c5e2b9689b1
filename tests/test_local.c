/* test_local.c — local training through the real passes, run by the reference
 * interpreter:
 * - K = 1 (method backprop) is bit-identical to the plain pipeline;
 * - auxiliary heads change no other parameter's initial value;
 * - for every method on a small MLP, residual CNN and transformer, running the
 *   split per-block graphs in order gives bit-identical losses, gradients and
 *   parameters to the single partitioned graph (the gradient of Σ_k loss_k,
 *   docs/method.md §3), over several optimizer steps;
 * - the chunked and overlap gradients of the PyTorch fixture mlp_local;
 * - the cost model on a tiny MLP, computed by hand.
 */
#include <criterion/criterion.h>

#include "build_graph.h"
#include "frontend.h"
#include "passes.h"

#include <stdlib.h>
#include <string.h>

#define LOCAL_DIR LNET_SOURCE_DIR "/tests/golden_local"
#define TRAIN_PIPE PASS_LOCAL_PIPELINE ",autodiff,optimizer"

/* Compiles src, applies the method, runs pipeline; fails the test on error. */
static IrGraph *build(const char *src, IrMethod m, int blocks, const char *pipeline)
{
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("t.lnet", src, strlen(src), &d);
    cr_assert_not_null(g, "compile failed:\n%s", tb_diag_text(&d));
    g->local.method = m;
    g->local.blocks = blocks;
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    bool ok = pass_run_pipeline(g, pipeline, &ctx);
    cr_assert(ok, "pipeline failed:\n%s", tb_diag_text(&d));
    diag_fini(&d);
    return g;
}

static char *slurp(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", LOCAL_DIR, name);
    Diag d;
    diag_init(&d);
    size_t len;
    char *text = fe_read_file(path, &len, &d);
    cr_assert_not_null(text, "cannot read %s", path);
    diag_fini(&d);
    return text;
}

static RtInterp *interp(const IrGraph *g, int batch)
{
    char err[128];
    RtInterp *in = rt_interp_new(g, batch, err, sizeof err);
    cr_assert(in, "%s", err);
    return in;
}

static int64_t elems(const IrGraph *g, int id, int n)
{
    const IrType *t = &g->nodes[id]->type;
    return ir_type_numel(t) * (ir_type_batched(t) ? n : 1);
}

/* Deterministic batch for step s: floats in [-1,1), labels/ids in [0,classes). */
static void fill_data(RtInterp *in, const IrGraph *g, int n, int s)
{
    uint32_t x = 12345u + 977u * (uint32_t)s;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *nd = g->nodes[i];
        if (nd->op != IR_OP_INPUT && nd->op != IR_OP_LABEL)
            continue;
        int64_t c = elems(g, i, n);
        void *buf = rt_interp_buffer(in, i);
        int mod = nd->op == IR_OP_LABEL ? nd->a.classes : 11;
        for (int64_t k = 0; k < c; k++) {
            x = x * 1664525u + 1013904223u;
            if (nd->type.dtype == IR_I32)
                ((int32_t *)buf)[k] = (int32_t)((x >> 8) % (uint32_t)mod);
            else
                ((float *)buf)[k] = (float)((x >> 8) & 0xffff) / 32768.0f - 1.0f;
        }
    }
}

/* ------------------------------------------------------- K = 1 */

static void step_n(RtInterp *in, const IrGraph *g, int steps, float *losses)
{
    for (int s = 0; s < steps; s++) {
        fill_data(in, g, 4, s);
        rt_interp_step(in, &(RtStepArgs){.n = 4, .lr = 1e-2f, .step = s + 1, .seed = 3,
                                         .train = true});
        losses[s] = rt_interp_scalar(in, g->loss);
    }
}

static void k1_case(const char *file)
{
    char *src = slurp(file);
    IrGraph *a = build(src, METHOD_BACKPROP, 0, "shape,verify,autodiff,optimizer");
    IrGraph *b = build(src, METHOD_BACKPROP, 0, TRAIN_PIPE);
    cr_assert_eq(b->n_blocks, 1);
    cr_assert_eq(a->n_nodes, b->n_nodes, "%s: the partitioned graph has other nodes", file);
    for (int i = 0; i < a->n_nodes; i++)
        cr_assert_eq(a->nodes[i]->op, b->nodes[i]->op, "%s: node %d differs", file, i);
    RtInterp *ia = interp(a, 4), *ib = interp(b, 4);
    rt_interp_init_params(ia, 7);
    rt_interp_init_params(ib, 7);
    float la[3], lb[3];
    step_n(ia, a, 3, la);
    step_n(ib, b, 3, lb);
    cr_expect(memcmp(la, lb, sizeof la) == 0, "%s: losses differ", file);
    for (int i = 0; i < a->n_nodes; i++)
        if (a->nodes[i]->op == IR_OP_PARAM || a->nodes[i]->op == IR_OP_STATE)
            cr_expect(memcmp(rt_interp_buffer(ia, i), rt_interp_buffer(ib, i),
                             (size_t)elems(a, i, 4) * 4) == 0,
                      "%s: %s differs after 3 steps", file, a->nodes[i]->name);
    rt_interp_free(ia);
    rt_interp_free(ib);
    ir_graph_free(a);
    ir_graph_free(b);
    free(src);
}

Test(local, k1_is_bit_identical_to_backprop)
{
    k1_case("mlp.lnet");
    k1_case("resnet.lnet");
    k1_case("transformer.lnet");
}

/* Adding auxiliary heads (greedy: one per layer) changes no other
 * parameter's initial value: each draws from a stream of (seed, its name). */
static void heads_case(const char *file)
{
    char *src = slurp(file);
    IrGraph *a = build(src, METHOD_BACKPROP, 0, TRAIN_PIPE);
    IrGraph *b = build(src, METHOD_GREEDY, 0, TRAIN_PIPE);
    RtInterp *ia = interp(a, 1), *ib = interp(b, 1);
    rt_interp_init_params(ia, 7);
    rt_interp_init_params(ib, 7);
    int shared = 0, params_b = 0;
    for (int i = 0; i < b->n_nodes; i++)
        params_b += b->nodes[i]->op == IR_OP_PARAM;
    for (int i = 0; i < a->n_nodes; i++) {
        if (a->nodes[i]->op != IR_OP_PARAM)
            continue;
        int j = 0;
        while (j < b->n_nodes && !(b->nodes[j]->op == IR_OP_PARAM &&
                                   strcmp(b->nodes[j]->name, a->nodes[i]->name) == 0))
            j++;
        cr_assert_lt(j, b->n_nodes, "%s: no %s with heads", file, a->nodes[i]->name);
        cr_expect(memcmp(rt_interp_buffer(ia, i), rt_interp_buffer(ib, j),
                         (size_t)elems(a, i, 1) * 4) == 0,
                  "%s: %s starts elsewhere with heads", file, a->nodes[i]->name);
        shared++;
    }
    cr_expect_gt(params_b, shared, "%s: greedy added no head parameters", file);
    rt_interp_free(ia);
    rt_interp_free(ib);
    ir_graph_free(a);
    ir_graph_free(b);
    free(src);
}

Test(local, heads_leave_other_initial_values)
{
    heads_case("mlp.lnet");
    heads_case("resnet.lnet");
    heads_case("transformer.lnet");
}

/* ---------------------------------------- split == single graph */

typedef struct {
    PassBlocks bs;
    RtInterp **in;
} Blocks;

static void copy_value(RtInterp *dst, const IrGraph *dg, int dn, RtInterp *src, int sn, int n)
{
    memcpy(rt_interp_buffer(dst, dn), rt_interp_buffer(src, sn), (size_t)elems(dg, dn, n) * 4);
}

/* One step of every block in order, feeding each block's inputs. */
static void blocks_step(Blocks *B, RtInterp *whole, const RtStepArgs *a)
{
    for (int b = 0; b < B->bs.n; b++) {
        const PassBlock *pb = &B->bs.b[b];
        for (int k = 0; k < pb->n_inputs; k++) {
            const PassBlockInput *x = &pb->inputs[k];
            if (x->kind == PASS_IO_DATA)
                copy_value(B->in[b], pb->g, x->node, whole, x->orig, a->n);
            else
                copy_value(B->in[b], pb->g, x->node, B->in[x->src_block], x->src_node, a->n);
        }
        rt_interp_step(B->in[b], a);
    }
}

/* Copies the whole graph's parameters and states into the blocks that own them. */
static void blocks_load(Blocks *B, RtInterp *whole)
{
    for (int b = 0; b < B->bs.n; b++) {
        const PassBlock *pb = &B->bs.b[b];
        for (int i = 0; i < pb->g->n_nodes; i++) {
            IrOp op = pb->g->nodes[i]->op;
            if (op == IR_OP_PARAM || op == IR_OP_STATE)
                copy_value(B->in[b], pb->g, i, whole, pb->orig[i], 1);
        }
    }
}

/* Every node of every block graph equals its original, bit for bit. */
static void compare_all(Blocks *B, RtInterp *whole, const IrGraph *g, const char *what, int n)
{
    for (int b = 0; b < B->bs.n; b++) {
        const PassBlock *pb = &B->bs.b[b];
        for (int i = 0; i < pb->g->n_nodes; i++) {
            const IrNode *nd = pb->g->nodes[i];
            if (nd->op == IR_OP_INPUT || nd->op == IR_OP_LABEL || nd->op == IR_OP_FILL)
                continue;
            /* overlap: a non-owner's copy of a shared parameter is refreshed next step */
            if (nd->op == IR_OP_PARAM && g->nodes[pb->orig[i]]->block != b)
                continue;
            int64_t c = elems(pb->g, i, n);
            cr_expect(memcmp(rt_interp_buffer(B->in[b], i),
                             rt_interp_buffer(whole, pb->orig[i]), (size_t)c * 4) == 0,
                      "%s: block %d node %d (%s, whole %%%d) differs", what, b, i,
                      ir_op_info(nd->op)->name, pb->orig[i]);
        }
    }
}

static void split_case(const char *file, IrMethod m, int blocks, int want_k)
{
    char *src = slurp(file);
    IrGraph *g = build(src, m, blocks, TRAIN_PIPE);
    char what[96];
    snprintf(what, sizeof what, "%s %s", file, ir_method_name(m));
    cr_assert_eq(g->n_blocks, want_k, "%s: %d blocks, expected %d", what, g->n_blocks, want_k);
    Diag d;
    diag_init(&d);
    Blocks B;
    cr_assert(pass_split(g, &B.bs, &d), "%s: split failed:\n%s", what, tb_diag_text(&d));
    diag_fini(&d);
    B.in = calloc((size_t)B.bs.n, sizeof *B.in);
    RtInterp *whole = interp(g, 4);
    rt_interp_init_params(whole, 11);
    for (int b = 0; b < B.bs.n; b++) {
        B.in[b] = interp(B.bs.b[b].g, 4);
        cr_expect(b == B.bs.n - 1 || B.bs.b[b].act_out >= 0, "%s: block %d sends nothing",
                  what, b);
    }
    blocks_load(&B, whole);
    for (int s = 0; s < 3; s++) {
        RtStepArgs a = {.n = 4, .lr = 1e-2f, .step = s + 1, .seed = 5, .train = true};
        fill_data(whole, g, 4, s);
        rt_interp_step(whole, &a);
        blocks_step(&B, whole, &a);
        compare_all(&B, whole, g, what, 4);
    }
    for (int b = 0; b < B.bs.n; b++)
        rt_interp_free(B.in[b]);
    free(B.in);
    rt_interp_free(whole);
    pass_blocks_fini(&B.bs);
    ir_graph_free(g);
    free(src);
}

Test(local, split_blocks_match_single_graph_mlp)
{
    split_case("mlp.lnet", METHOD_GREEDY, 0, 4);
    split_case("mlp.lnet", METHOD_CHUNKED, 2, 2);
    split_case("mlp.lnet", METHOD_CHUNKED, 3, 3);
    split_case("mlp.lnet", METHOD_OVERLAP, 0, 3);
}

Test(local, split_blocks_match_single_graph_resnet)
{
    split_case("resnet.lnet", METHOD_GREEDY, 0, 5);
    split_case("resnet.lnet", METHOD_CHUNKED, 2, 2);
    split_case("resnet.lnet", METHOD_OVERLAP, 0, 4);
}

Test(local, split_blocks_match_single_graph_transformer)
{
    split_case("transformer.lnet", METHOD_GREEDY, 0, 6);
    split_case("transformer.lnet", METHOD_CHUNKED, 3, 3);
    split_case("transformer.lnet", METHOD_OVERLAP, 0, 5);
}

/* The split table of chunked K=2: what flows where. */
Test(local, split_table_chunked)
{
    char *src = slurp("mlp.lnet");
    IrGraph *g = build(src, METHOD_CHUNKED, 2, TRAIN_PIPE);
    Diag d;
    diag_init(&d);
    PassBlocks bs;
    cr_assert(pass_split(g, &bs, &d));
    cr_assert_eq(bs.n, 2);
    int acts = 0, data = 0;
    for (int k = 0; k < bs.b[1].n_inputs; k++) {
        const PassBlockInput *x = &bs.b[1].inputs[k];
        acts += x->kind == PASS_IO_ACTIVATION;
        data += x->kind == PASS_IO_DATA;
        cr_expect(x->kind == PASS_IO_ACTIVATION || x->kind == PASS_IO_DATA);
        if (x->kind == PASS_IO_ACTIVATION) {
            cr_expect_eq(x->src_block, 0);
            cr_expect_eq(x->src_node, bs.b[0].act_out);
        }
    }
    cr_expect_eq(acts, 1);
    cr_expect_eq(data, 1, "block 1 reads the labels only");
    cr_expect_str_eq(bs.b[0].g->nodes[bs.b[0].loss]->name, "head1");
    cr_expect_eq(bs.b[1].orig[bs.b[1].loss], g->loss);
    pass_blocks_fini(&bs);
    diag_fini(&d);
    ir_graph_free(g);
    free(src);
}

/* ------------------------------------------ the PyTorch fixture */

/* The fixture's MLP: x(4,12) -> relu(@w1+b1) -> relu(@w2+b2) -> @w3+b3. */
static const char *MLP_LOCAL =
    "model mlp_local\n"
    "input x : f32[12]\n"
    "label y : class[5]\n"
    "h1 = relu(dense(x, 16))\n"
    "cut h1\n"
    "h2 = relu(dense(h1, 16))\n"
    "loss cross_entropy(dense(h2, 5), y)\n";

static int by_name(const IrGraph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->name && strcmp(g->nodes[i]->name, name) == 0)
            return i;
    cr_assert_fail("no node named %s", name);
    return -1;
}

static StFile load_fixture(void)
{
    char err[256];
    StFile f;
    cr_assert(st_load(LNET_FIXTURE_DIR "/mlp_local.safetensors", &f, err, sizeof err), "%s",
              err);
    return f;
}

/* map: our parameter names, then the fixture's (without prefix). */
static const char *const MAP[][2] = {
    {"dense_0.w", "w1"}, {"dense_0.b", "b1"}, {"dense_1.w", "w2"},
    {"dense_1.b", "b2"}, {"dense_2.w", "w3"}, {"dense_2.b", "b3"},
};

static double fixture_case(IrMethod m, const char *prefix, const char *wa, const char *ba,
                           const char *loss1, const char *loss2)
{
    StFile f = load_fixture();
    IrGraph *g = build(MLP_LOCAL, m, 2, PASS_LOCAL_PIPELINE ",autodiff,verify");
    cr_assert_eq(g->n_blocks, 2);
    RtInterp *in = interp(g, 4);
    tb_load(in, g, by_name(g, "x"), &f, "x");
    tb_load(in, g, by_name(g, "y"), &f, "y");
    char name[64];
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "param.%s", MAP[i][1]);
        tb_load(in, g, by_name(g, MAP[i][0]), &f, name);
    }
    int hw = by_name(g, "head1.dense.w"), hb = by_name(g, "head1.dense.b");
    snprintf(name, sizeof name, "param.%s", wa);
    tb_load(in, g, hw, &f, name);
    snprintf(name, sizeof name, "param.%s", ba);
    tb_load(in, g, hb, &f, name);
    rt_interp_step(in, &(RtStepArgs){.n = 4, .step = 1, .train = true});
    double e = tb_compare(in, g, by_name(g, "head1"), &f, loss1);
    e += tb_compare(in, g, g->loss, &f, loss2);
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "%s.grad.%s", prefix, MAP[i][1]);
        e += tb_compare(in, g, g->nodes[by_name(g, MAP[i][0])]->grad, &f, name);
    }
    snprintf(name, sizeof name, "%s.grad.%s", prefix, wa);
    e += tb_compare(in, g, g->nodes[hw]->grad, &f, name);
    snprintf(name, sizeof name, "%s.grad.%s", prefix, ba);
    e += tb_compare(in, g, g->nodes[hb]->grad, &f, name);
    rt_interp_free(in);
    ir_graph_free(g);
    st_free(&f);
    return e;
}

Test(local, chunked_fixture_through_the_passes)
{
    /* `cut h1` puts layer 1 alone in block 1, as the fixture does */
    double e = fixture_case(METHOD_CHUNKED, "chunked", "wa", "ba", "loss.block1", "loss.block2");
    cr_expect_leq(e, 1e-4, "summed max error %g", e);
}

Test(local, overlap_fixture_through_the_passes)
{
    double e = fixture_case(METHOD_OVERLAP, "overlap", "wa2", "ba2", "loss.window1",
                            "loss.window2");
    cr_expect_leq(e, 1e-4, "summed max error %g", e);
}

/* ------------------------------------------------ the cost model */

/* x[4] -> dense 3 -> relu | cut | dense 2 -> cross-entropy, at batch 10.
 * Per example (FLOPs; a multiply-add is 2):
 *   block 0 fwd: matmul 2·4·3 = 24, bias 3, relu 3                       = 30
 *           bwd: relu_grad 3, bias_grad 3, matmul_grad_w 2·4·3 = 24
 *                (no input gradient: x is data)                          = 30
 *           head: matmul 12 + bias 2 + CE 5·2 = 24 forward;
 *                 CE grad 8·2 = 16, bias_grad 2, grad_x 2·3·2 = 12,
 *                 grad_w 2·3·2 = 12 backward                             = 66
 *   block 1 fwd: matmul 12, bias 2, CE 10                                = 24
 *           bwd: CE grad 16, bias_grad 2, grad_w 12 (no grad_x: stop_gradient) = 30
 * total 180, max 126, speed-up 180/126. */
Test(local, cost_model_by_hand)
{
    const char *src = "model tiny\ninput x : f32[4]\nlabel y : class[2]\n"
                      "h = relu(dense(x, 3))\ncut h\nloss cross_entropy(dense(h, 2), y)\n"
                      "train { batch = 10 }\n";
    IrGraph *g = build(src, METHOD_CHUNKED, 0, PASS_LOCAL_PIPELINE ",autodiff,optimizer");
    PassCost c;
    pass_cost(g, &c);
    cr_assert_eq(c.n, 2);
    cr_expect_float_eq(c.b[0].fwd, 30, 1e-9);
    cr_expect_float_eq(c.b[0].bwd, 30, 1e-9);
    cr_expect_float_eq(c.b[0].head, 66, 1e-9);
    cr_expect_float_eq(c.b[1].fwd, 24, 1e-9);
    cr_expect_float_eq(c.b[1].bwd, 30, 1e-9);
    cr_expect_float_eq(c.b[1].head, 0, 1e-9);
    cr_expect_float_eq(c.total, 180, 1e-9);
    cr_expect_float_eq(c.max, 126, 1e-9);
    cr_expect_float_eq(c.speedup, 180.0 / 126.0, 1e-12);
    cr_expect_eq(c.b[0].params, 4 * 3 + 3 + 3 * 2 + 2);
    cr_expect_eq(c.b[1].params, 3 * 2 + 2);
    cr_expect_float_eq(c.b[0].param_bytes, 4.0 * 23, 1e-9);
    /* activations held: block 0 matmul, bias, relu [3] + head matmul, bias [2] */
    cr_expect_float_eq(c.b[0].act_bytes, (3 + 3 + 3 + 2 + 2) * 4.0 * 10, 1e-9);
    /* block 1: stop_gradient [3], matmul, bias [2] */
    cr_expect_float_eq(c.b[1].act_bytes, (3 + 2 + 2) * 4.0 * 10, 1e-9);
    /* sent: h [3] and the labels, per example, × batch */
    cr_expect_float_eq(c.b[0].send_bytes, (3 + 1) * 4.0 * 10, 1e-9);
    cr_expect_float_eq(c.b[1].send_bytes, 0, 1e-9);
    pass_cost_fini(&c);
    ir_graph_free(g);
}
