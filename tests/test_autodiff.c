/* test_autodiff.c — autodiff + optimizer passes run by the reference
 * interpreter, against PyTorch (tests/fixtures): every gradient of the MLP,
 * CNN and transformer fixtures, three steps of each optimizer, and the local
 * (chunked / overlap) gradients of Σ_k loss_k with stop-gradients.
 * Tolerance: max|a-b| / max(1, max|b|) <= 1e-5 (2e-5 for the transformer,
 * whose attention and layernorm chain more float roundings).
 */
#include <criterion/criterion.h>

#include "build_graph.h"
#include "passes.h"

#include <string.h>

static StFile load_fixture(const char *name)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/%s", LNET_FIXTURE_DIR, name);
    StFile f;
    cr_assert(st_load(path, &f, err, sizeof err), "%s", err);
    return f;
}

#define D(...) ((const int64_t[]){__VA_ARGS__})

/* The fixture MLP: x(4,12) -> relu(@w1+b1) -> relu(@w2+b2) -> @w3+b3. */
typedef struct {
    IrGraph *g;
    int x, y, w[3], b[3], h1, h2, logits;
} Mlp;

static Mlp mlp_build(void)
{
    Mlp m;
    m.g = ir_graph_new("mlp");
    m.x = tb_input(m.g, "x", 1, D(12));
    m.y = tb_label(m.g, "y", 5, 0, NULL);
    const int64_t shapes[3][2] = {{12, 16}, {16, 16}, {16, 5}};
    for (int i = 0; i < 3; i++) {
        char wn[8], bn[8];
        snprintf(wn, sizeof wn, "w%d", i + 1);
        snprintf(bn, sizeof bn, "b%d", i + 1);
        m.w[i] = tb_param(m.g, wn, 2, shapes[i]);
        m.b[i] = tb_param(m.g, bn, 1, &shapes[i][1]);
    }
    m.h1 = tb_op1(m.g, IR_OP_RELU, tb_dense(m.g, m.x, m.w[0], m.b[0]));
    m.h2 = tb_op1(m.g, IR_OP_RELU, tb_dense(m.g, m.h1, m.w[1], m.b[1]));
    m.logits = tb_dense(m.g, m.h2, m.w[2], m.b[2]);
    m.g->loss = tb_op2(m.g, IR_OP_CROSS_ENTROPY, m.logits, m.y);
    return m;
}

static void mlp_load(RtInterp *in, const Mlp *m, const StFile *f, const char *prefix)
{
    char name[64];
    tb_load(in, m->g, m->x, f, "x");
    tb_load(in, m->g, m->y, f, "y");
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%sw%d", prefix, i + 1);
        tb_load(in, m->g, m->w[i], f, name);
        snprintf(name, sizeof name, "%sb%d", prefix, i + 1);
        tb_load(in, m->g, m->b[i], f, name);
    }
}

static RtInterp *interp(const IrGraph *g, int batch)
{
    char err[128];
    RtInterp *in = rt_interp_new(g, batch, err, sizeof err);
    cr_assert(in, "%s", err);
    return in;
}

Test(autodiff, mlp_matches_pytorch)
{
    StFile f = load_fixture("mlp.safetensors");
    Mlp m = mlp_build();
    tb_passes(m.g, "autodiff,verify");
    RtInterp *in = interp(m.g, 4);
    mlp_load(in, &m, &f, "param.");
    rt_interp_step(in, &(RtStepArgs){.n = 4, .lr = 0, .step = 1, .train = true});
    double e = tb_compare(in, m.g, m.logits, &f, "logits");
    e += tb_compare(in, m.g, m.g->loss, &f, "loss");
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "grad.w%d", i + 1);
        e += tb_compare(in, m.g, m.g->nodes[m.w[i]]->grad, &f, name);
        snprintf(name, sizeof name, "grad.b%d", i + 1);
        e += tb_compare(in, m.g, m.g->nodes[m.b[i]]->grad, &f, name);
    }
    cr_expect_leq(e, 8e-5, "summed max error %g", e);
    rt_interp_free(in);
    ir_graph_free(m.g);
    st_free(&f);
}

/* Three steps on the same batch with one optimizer; compare losses and params. */
static void optimizer_case(const char *opt, IrOptimizer kind, float lr, float mom, bool nest,
                           float wd)
{
    StFile f = load_fixture("mlp.safetensors");
    Mlp m = mlp_build();
    m.g->train.optimizer = kind;
    m.g->train.momentum = mom;
    m.g->train.nesterov = nest;
    m.g->train.weight_decay = wd;
    tb_passes(m.g, "autodiff,optimizer,verify");
    RtInterp *in = interp(m.g, 4);
    mlp_load(in, &m, &f, "param.");
    char name[64];
    snprintf(name, sizeof name, "%s.losses", opt);
    const float *losses = st_find(&f, name)->data;
    for (int s = 1; s <= 3; s++) {
        rt_interp_step(in, &(RtStepArgs){.n = 4, .lr = lr, .step = s, .train = true});
        float loss = rt_interp_scalar(in, m.g->loss);
        cr_expect_float_eq(loss, losses[s - 1], 1e-5, "%s step %d loss %g vs %g", opt, s, loss,
                           losses[s - 1]);
    }
    double e = 0;
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s.after3.w%d", opt, i + 1);
        e += tb_compare(in, m.g, m.w[i], &f, name);
        snprintf(name, sizeof name, "%s.after3.b%d", opt, i + 1);
        e += tb_compare(in, m.g, m.b[i], &f, name);
    }
    cr_expect_leq(e, 1e-4, "%s: summed max error %g", opt, e);
    rt_interp_free(in);
    ir_graph_free(m.g);
    st_free(&f);
}

Test(optimizer, sgd_momentum) { optimizer_case("sgd", OPT_SGD, 0.1f, 0.9f, false, 0); }
Test(optimizer, sgd_nesterov) { optimizer_case("sgd_nesterov", OPT_SGD, 0.1f, 0.9f, true, 0); }
Test(optimizer, adam) { optimizer_case("adam", OPT_ADAM, 1e-2f, 0, false, 0); }
Test(optimizer, adamw) { optimizer_case("adamw", OPT_ADAMW, 1e-2f, 0, false, 0.1f); }

/* An auxiliary head on h: dense(h) + cross-entropy, flagged as a loss. */
static int aux_head(Mlp *m, int h, const char *w, const char *b, int *wa, int *ba)
{
    *wa = tb_param(m->g, w, 2, D(16, 5));
    *ba = tb_param(m->g, b, 1, D(5));
    int l = tb_op2(m->g, IR_OP_CROSS_ENTROPY, tb_dense(m->g, h, *wa, *ba), m->y);
    m->g->nodes[l]->flags |= IR_F_LOSS;
    return l;
}

/* chunked K=2: block 1 = layer 1 + head on h1; block 2 = layers 2,3 on sg(h1). */
Test(autodiff, chunked_local_gradients_match_pytorch)
{
    StFile f = load_fixture("mlp_local.safetensors");
    Mlp m;
    m.g = ir_graph_new("mlp_chunked");
    m.x = tb_input(m.g, "x", 1, D(12));
    m.y = tb_label(m.g, "y", 5, 0, NULL);
    m.w[0] = tb_param(m.g, "w1", 2, D(12, 16));
    m.b[0] = tb_param(m.g, "b1", 1, D(16));
    m.w[1] = tb_param(m.g, "w2", 2, D(16, 16));
    m.b[1] = tb_param(m.g, "b2", 1, D(16));
    m.w[2] = tb_param(m.g, "w3", 2, D(16, 5));
    m.b[2] = tb_param(m.g, "b3", 1, D(5));
    m.h1 = tb_op1(m.g, IR_OP_RELU, tb_dense(m.g, m.x, m.w[0], m.b[0]));
    int wa, ba;
    int l1 = aux_head(&m, m.h1, "wa", "ba", &wa, &ba);
    int sg = tb_op1(m.g, IR_OP_STOP_GRADIENT, m.h1);
    m.h2 = tb_op1(m.g, IR_OP_RELU, tb_dense(m.g, sg, m.w[1], m.b[1]));
    m.logits = tb_dense(m.g, m.h2, m.w[2], m.b[2]);
    m.g->loss = tb_op2(m.g, IR_OP_CROSS_ENTROPY, m.logits, m.y);
    tb_passes(m.g, "autodiff,verify");
    RtInterp *in = interp(m.g, 4);
    mlp_load(in, &m, &f, "param.");
    tb_load(in, m.g, wa, &f, "param.wa");
    tb_load(in, m.g, ba, &f, "param.ba");
    rt_interp_step(in, &(RtStepArgs){.n = 4, .step = 1, .train = true});
    double e = tb_compare(in, m.g, l1, &f, "loss.block1");
    e += tb_compare(in, m.g, m.g->loss, &f, "loss.block2");
    const char *names[] = {"w1", "b1", "w2", "b2", "w3", "b3"};
    const int ids[] = {m.w[0], m.b[0], m.w[1], m.b[1], m.w[2], m.b[2]};
    for (int i = 0; i < 6; i++) {
        char n[32];
        snprintf(n, sizeof n, "chunked.grad.%s", names[i]);
        e += tb_compare(in, m.g, m.g->nodes[ids[i]]->grad, &f, n);
    }
    e += tb_compare(in, m.g, m.g->nodes[wa]->grad, &f, "chunked.grad.wa");
    e += tb_compare(in, m.g, m.g->nodes[ba]->grad, &f, "chunked.grad.ba");
    cr_expect_leq(e, 1e-4, "summed max error %g", e);
    rt_interp_free(in);
    ir_graph_free(m.g);
    st_free(&f);
}

/* overlap: window 1 = L1,L2 + head on h2; window 2 = L2,L3 on sg(h1). Layer 2
 * is computed twice (once per window) and its parameters get both gradients. */
Test(autodiff, overlap_local_gradients_match_pytorch)
{
    StFile f = load_fixture("mlp_local.safetensors");
    Mlp m = {.g = ir_graph_new("mlp_overlap")};
    m.x = tb_input(m.g, "x", 1, D(12));
    m.y = tb_label(m.g, "y", 5, 0, NULL);
    m.w[0] = tb_param(m.g, "w1", 2, D(12, 16));
    m.b[0] = tb_param(m.g, "b1", 1, D(16));
    m.w[1] = tb_param(m.g, "w2", 2, D(16, 16));
    m.b[1] = tb_param(m.g, "b2", 1, D(16));
    m.w[2] = tb_param(m.g, "w3", 2, D(16, 5));
    m.b[2] = tb_param(m.g, "b3", 1, D(5));
    m.h1 = tb_op1(m.g, IR_OP_RELU, tb_dense(m.g, m.x, m.w[0], m.b[0]));
    m.h2 = tb_op1(m.g, IR_OP_RELU, tb_dense(m.g, m.h1, m.w[1], m.b[1]));
    int wa, ba;
    int l1 = aux_head(&m, m.h2, "wa2", "ba2", &wa, &ba);
    int sg = tb_op1(m.g, IR_OP_STOP_GRADIENT, m.h1);
    int h2b = tb_op1(m.g, IR_OP_RELU, tb_dense(m.g, sg, m.w[1], m.b[1]));
    m.logits = tb_dense(m.g, h2b, m.w[2], m.b[2]);
    m.g->loss = tb_op2(m.g, IR_OP_CROSS_ENTROPY, m.logits, m.y);
    tb_passes(m.g, "autodiff,verify");
    RtInterp *in = interp(m.g, 4);
    mlp_load(in, &m, &f, "param.");
    tb_load(in, m.g, wa, &f, "param.wa2");
    tb_load(in, m.g, ba, &f, "param.ba2");
    rt_interp_step(in, &(RtStepArgs){.n = 4, .step = 1, .train = true});
    double e = tb_compare(in, m.g, l1, &f, "loss.window1");
    e += tb_compare(in, m.g, m.g->loss, &f, "loss.window2");
    const char *names[] = {"w1", "b1", "w2", "b2", "w3", "b3"};
    const int ids[] = {m.w[0], m.b[0], m.w[1], m.b[1], m.w[2], m.b[2]};
    for (int i = 0; i < 6; i++) {
        char n[32];
        snprintf(n, sizeof n, "overlap.grad.%s", names[i]);
        e += tb_compare(in, m.g, m.g->nodes[ids[i]]->grad, &f, n);
    }
    e += tb_compare(in, m.g, m.g->nodes[wa]->grad, &f, "overlap.grad.wa2");
    e += tb_compare(in, m.g, m.g->nodes[ba]->grad, &f, "overlap.grad.ba2");
    cr_expect_leq(e, 1e-4, "summed max error %g", e);
    rt_interp_free(in);
    ir_graph_free(m.g);
    st_free(&f);
}

static int conv_relu(IrGraph *g, int x, int k, int c, int stride)
{
    IrAttrs ca = {.stride = stride, .padding = 1}, ba = {.axis = 1};
    int in[2] = {x, k};
    int y = tb_op(g, IR_OP_CONV2D, in, 2, &ca);
    int in2[2] = {y, c};
    return tb_op1(g, IR_OP_RELU, tb_op(g, IR_OP_BIAS_ADD, in2, 2, &ba));
}

Test(autodiff, cnn_matches_pytorch)
{
    StFile f = load_fixture("cnn.safetensors");
    IrGraph *g = ir_graph_new("cnn");
    int x = tb_input(g, "x", 3, D(3, 8, 8)), y = tb_label(g, "y", 3, 0, NULL);
    int k1 = tb_param(g, "k1", 4, D(4, 3, 3, 3)), c1 = tb_param(g, "c1", 1, D(4));
    int k2 = tb_param(g, "k2", 4, D(6, 4, 3, 3)), c2 = tb_param(g, "c2", 1, D(6));
    int wd = tb_param(g, "wd", 2, D(6, 3)), bd = tb_param(g, "bd", 1, D(3));
    int a1 = conv_relu(g, x, k1, c1, 1);
    IrAttrs pa = {.kernel = 2, .stride = 2};
    int m1 = tb_op(g, IR_OP_MAXPOOL, &a1, 1, &pa);
    int av = tb_op(g, IR_OP_AVGPOOL, &a1, 1, &pa);
    int a2 = conv_relu(g, m1, k2, c2, 2);
    int gap = tb_op1(g, IR_OP_GLOBAL_AVG_POOL, a2);
    int logits = tb_dense(g, gap, wd, bd);
    g->loss = tb_op2(g, IR_OP_CROSS_ENTROPY, logits, y);
    tb_passes(g, "autodiff,verify");
    RtInterp *in = interp(g, 2);
    const char *pn[] = {"x", "y", "k1", "c1", "k2", "c2", "wd", "bd"};
    const int pid[] = {x, y, k1, c1, k2, c2, wd, bd};
    for (int i = 0; i < 8; i++) {
        char n[32];
        snprintf(n, sizeof n, "%s%s", i < 2 ? "" : "param.", pn[i]);
        tb_load(in, g, pid[i], &f, n);
    }
    rt_interp_step(in, &(RtStepArgs){.n = 2, .step = 1, .train = true});
    double e = tb_compare(in, g, a1, &f, "a1") + tb_compare(in, g, m1, &f, "m1") +
               tb_compare(in, g, a2, &f, "a2") + tb_compare(in, g, gap, &f, "gap") +
               tb_compare(in, g, av, &f, "avgpool_a1") + tb_compare(in, g, logits, &f, "logits") +
               tb_compare(in, g, g->loss, &f, "loss");
    for (int i = 2; i < 8; i++) {
        char n[32];
        snprintf(n, sizeof n, "grad.%s", pn[i]);
        e += tb_compare(in, g, g->nodes[pid[i]]->grad, &f, n);
    }
    cr_expect_leq(e, 1e-4, "summed max error %g", e);
    rt_interp_free(in);
    ir_graph_free(g);
    st_free(&f);
}

/* The fixture's pre-LayerNorm transformer block (2 heads, d 8, vocab 11, T 6). */
typedef struct {
    IrGraph *g;
    int tok, tgt, logits;
    int p[22];
} Tf;

static const char *const tf_names[22] = {
    "emb", "pos", "ln1_g", "ln1_b", "wq", "bq", "wk", "bk", "wv", "bv", "wo",
    "bo", "ln2_g", "ln2_b", "wf1", "bf1", "wf2", "bf2", "lnf_g", "lnf_b", "wh", "bh"};

static int ln(Tf *t, int x, int gi)
{
    IrAttrs a = {.eps = 1e-5f};
    int in[3] = {x, t->p[gi], t->p[gi + 1]};
    return tb_op(t->g, IR_OP_LAYERNORM, in, 3, &a);
}

static Tf tf_build(void)
{
    static const int64_t shapes[22][2] = {
        {11, 8}, {6, 8}, {8}, {8}, {8, 8}, {8}, {8, 8}, {8}, {8, 8}, {8}, {8, 8},
        {8}, {8}, {8}, {8, 32}, {32}, {32, 8}, {8}, {8}, {8}, {8, 11}, {11}};
    Tf t = {.g = ir_graph_new("transformer")};
    t.tok = tb_input(t.g, "tokens", 1, D(6));
    t.g->nodes[t.tok]->type.dtype = IR_I32;
    t.tgt = tb_label(t.g, "targets", 11, 1, D(6));
    for (int i = 0; i < 22; i++)
        t.p[i] = tb_param(t.g, tf_names[i], shapes[i][1] ? 2 : 1, shapes[i]);
    int h = tb_op2(t.g, IR_OP_ADD, tb_op2(t.g, IR_OP_EMBEDDING, t.tok, t.p[0]), t.p[1]);
    int a = ln(&t, h, 2);
    int q = tb_dense(t.g, a, t.p[4], t.p[5]), k = tb_dense(t.g, a, t.p[6], t.p[7]);
    int v = tb_dense(t.g, a, t.p[8], t.p[9]);
    IrAttrs ha = {.heads = 2};
    int att = tb_op(t.g, IR_OP_CAUSAL_ATTENTION, (int[]){q, k, v}, 3, &ha);
    h = tb_op2(t.g, IR_OP_ADD, h, tb_dense(t.g, att, t.p[10], t.p[11]));
    int f1 = tb_op1(t.g, IR_OP_GELU, tb_dense(t.g, ln(&t, h, 12), t.p[14], t.p[15]));
    h = tb_op2(t.g, IR_OP_ADD, h, tb_dense(t.g, f1, t.p[16], t.p[17]));
    t.logits = tb_dense(t.g, ln(&t, h, 18), t.p[20], t.p[21]);
    t.g->loss = tb_op2(t.g, IR_OP_CROSS_ENTROPY, t.logits, t.tgt);
    return t;
}

Test(autodiff, transformer_matches_pytorch)
{
    StFile f = load_fixture("transformer.safetensors");
    Tf t = tf_build();
    tb_passes(t.g, "autodiff,verify");
    RtInterp *in = interp(t.g, 2);
    tb_load(in, t.g, t.tok, &f, "tokens");
    tb_load(in, t.g, t.tgt, &f, "targets");
    for (int i = 0; i < 22; i++) {
        char n[32];
        snprintf(n, sizeof n, "param.%s", tf_names[i]);
        tb_load(in, t.g, t.p[i], &f, n);
    }
    rt_interp_step(in, &(RtStepArgs){.n = 2, .step = 1, .train = true});
    double e = tb_compare(in, t.g, t.logits, &f, "logits");
    e += tb_compare(in, t.g, t.g->loss, &f, "loss");
    for (int i = 0; i < 22; i++) {
        char n[32];
        snprintf(n, sizeof n, "grad.%s", tf_names[i]);
        double ei = tb_compare(in, t.g, t.g->nodes[t.p[i]]->grad, &f, n);
        cr_expect_leq(ei, 2e-5, "%s: max error %g", n, ei);
        e += ei;
    }
    cr_expect_leq(e, 2e-4, "summed max error %g", e);
    rt_interp_free(in);
    ir_graph_free(t.g);
    st_free(&f);
}
