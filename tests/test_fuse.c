/* test_fuse.c — the fuse pass (passes/fuse.c).
 *
 * What it rewrites (bias_add + relu after a dense layer, conv2d + bias_add +
 * relu, relu_grad reading the fused value, relu_grad after maxpool_grad or
 * conv2d_grad_x) and what it must leave alone (a
 * bias_add or conv2d output something else reads, a relu of anything but a
 * bias); and that it changes no number: the interpreter trains the fused and
 * the unfused graph of the same model to the same floats, bit for bit, since
 * it runs a fused op as the unfused sequence and relu(t) > 0 exactly where
 * t > 0. (JIT against interpreter on fused graphs: test_codegen_ops `fused`,
 * test_codegen_step.)
 */
#include <criterion/criterion.h>
#include <string.h>

#include "exec.h"
#include "frontend.h"
#include "passes.h"

#define STEPS 3

static const char *const mlp_src =
    "model fmlp\n"
    "input x : f32[6]\n"
    "label y : class[3]\n"
    "h = relu(dense(x, 9))\n"
    "h = relu(dense(h, 9))\n"
    "loss cross_entropy(dense(h, 3), y)\n"
    "train { optimizer = adam(lr = 1e-2) batch = 5 seed = 3 }\n";

static const char *const cnn_src =
    "model fcnn\n"
    "input image : f32[7, 7]\n"
    "label y : class[4]\n"
    "x = reshape(image, 1, 7, 7)\n"
    "x = relu(conv2d(x, 3, padding = 1))\n"
    "x = relu(conv2d(x, 4, stride = 2, padding = 1))\n"
    "x = relu(conv2d(x, 2, kernel = 1))\n"
    "loss cross_entropy(dense(flatten(x), 4), y)\n"
    "train { optimizer = sgd(lr = 0.05, momentum = 0.9) batch = 4 seed = 5 }\n";

/* relu_grad after maxpool_grad and after conv2d_grad_x of the relu's
 * output fuses; conv2d_grad_x of the pool's output (no relu) stays. */
static const char *const pool_src =
    "model fpool\n"
    "input image : f32[8, 6]\n"
    "label y : class[4]\n"
    "x = reshape(image, 1, 8, 6)\n"
    "x = relu(conv2d(x, 3, padding = 1))\n"
    "x = maxpool(x, 2)\n"
    "x = relu(conv2d(x, 4, padding = 1))\n"
    "x = relu(conv2d(x, 2, kernel = 1))\n"
    "loss cross_entropy(dense(flatten(x), 4), y)\n"
    "train { optimizer = sgd(lr = 0.05, momentum = 0.9) batch = 4 seed = 5 }\n";

/* A bias_add read twice (relu and add), a relu of a product, a conv2d
 * output read by two bias_adds: none of them fuses. */
static const char *const shared_src =
    "model fshared\n"
    "input x : f32[6]\n"
    "label y : class[3]\n"
    "h = dense(x, 6)\n"
    "h = relu(h) + h\n"
    "h = relu(h * h)\n"
    "loss cross_entropy(dense(h, 3), y)\n"
    "train { batch = 4 }\n";

/* Two pre-LayerNorm transformer blocks: every dense layer's bias folds into
 * its product, the residual adds after the attention output and the MLP
 * into theirs, and the GELU's gradient reads the GELU. */
static const char *const tf_src =
    "model ftf\n"
    "input tokens : i32[5]\n"
    "label next : class[7][5]\n"
    "def block(x) {\n"
    "    x = x + attention(layernorm(x), heads = 2)\n"
    "    x = x + dense(gelu(dense(layernorm(x), 12)), 6)\n"
    "    return x\n"
    "}\n"
    "x = embedding(tokens, 7, 6) + param(5, 6)\n"
    "repeat 2 { x = block(x) }\n"
    "loss cross_entropy(dense(layernorm(x), 7), next)\n"
    "train { optimizer = adamw(lr = 1e-2) batch = 3 seed = 4 }\n";

/* A dense output plus a broadcast parameter (not a residual of its shape),
 * and a dense output read twice (its bias_add has two readers). */
static const char *const bcast_src =
    "model fbcast\n"
    "input x : f32[6]\n"
    "label y : class[3]\n"
    "h = dense(x, 6) + param(6)\n"
    "h = dense(h, 6)\n"
    "h = tanh(h) + h\n"
    "loss cross_entropy(dense(h, 3), y)\n"
    "train { batch = 4 }\n";

static IrGraph *compile(const char *src, const char *method, bool fuse)
{
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("test.lnet", src, strlen(src), &d);
    if (!g)
        diag_print(&d, stderr);
    cr_assert(g, "frontend failed");
    g->local.method = strcmp(method, "chunked") == 0 ? METHOD_CHUNKED : METHOD_BACKPROP;
    g->local.blocks = g->local.method == METHOD_CHUNKED ? 2 : 0;
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    bool ok = pass_run_pipeline(g, fuse ? PASS_DEFAULT_PIPELINE ",autodiff,optimizer,fuse"
                                        : PASS_DEFAULT_PIPELINE ",autodiff,optimizer", &ctx);
    if (!ok)
        diag_print(&d, stderr);
    cr_assert(ok, "pipeline failed");
    diag_fini(&d);
    return g;
}

static int count_op(const IrGraph *g, IrOp op)
{
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        k += g->nodes[i]->op == op;
    return k;
}

/* Every relu_grad reads a fused value as its x. */
static void expect_grads_read_fused(const IrGraph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (n->op != IR_OP_RELU_GRAD)
            continue;
        IrOp x = g->nodes[n->in[1]]->op;
        cr_expect(x == IR_OP_BIAS_RELU || x == IR_OP_CONV2D_BIAS_RELU,
                  "relu_grad %%%d reads a %s", i, ir_op_info(x)->name);
    }
}

Test(fuse, dense_bias_relu)
{
    IrGraph *g = compile(mlp_src, "backprop", true);
    cr_expect_eq(count_op(g, IR_OP_BIAS_RELU), 2);
    cr_expect_eq(count_op(g, IR_OP_RELU), 0);
    cr_expect_eq(count_op(g, IR_OP_BIAS_ADD), 0);
    cr_expect_eq(count_op(g, IR_OP_MATMUL_BIAS), 1, "the logits' bias, without a relu, "
                 "folds into its product");
    cr_expect_eq(count_op(g, IR_OP_RELU_GRAD), 2);
    expect_grads_read_fused(g);
    ir_graph_free(g);
}

Test(fuse, conv_bias_relu)
{
    IrGraph *g = compile(cnn_src, "chunked", true);
    cr_expect_eq(count_op(g, IR_OP_CONV2D_BIAS_RELU), 3);
    cr_expect_eq(count_op(g, IR_OP_CONV2D), 0);
    cr_expect_eq(count_op(g, IR_OP_RELU), 0);
    expect_grads_read_fused(g);
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (n->op == IR_OP_CONV2D_BIAS_RELU)
            cr_expect_eq(n->block, g->nodes[n->in[1]]->block, "a fused op keeps its block");
    }
    ir_graph_free(g);
}

Test(fuse, relu_grad_into_pool_and_conv_grads)
{
    IrGraph *g = compile(pool_src, "backprop", true);
    cr_expect_eq(count_op(g, IR_OP_MAXPOOL_GRAD_RELU), 1);
    cr_expect_eq(count_op(g, IR_OP_MAXPOOL_GRAD), 0);
    cr_expect_eq(count_op(g, IR_OP_CONV2D_GRAD_X_RELU), 1);
    cr_expect_eq(count_op(g, IR_OP_CONV2D_GRAD_X), 1, "the pool's output has no relu");
    cr_expect_eq(count_op(g, IR_OP_RELU_GRAD), 1, "the last relu's, after the dense layer");
    expect_grads_read_fused(g);
    ir_graph_free(g);
}

Test(fuse, leaves_shared_values)
{
    IrGraph *g = compile(shared_src, "backprop", true);
    cr_expect_eq(count_op(g, IR_OP_BIAS_RELU), 0);
    cr_expect_eq(count_op(g, IR_OP_RELU), 2);
    ir_graph_free(g);
}

static int count_residuals(const IrGraph *g)
{
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        k += g->nodes[i]->op == IR_OP_MATMUL_BIAS && g->nodes[i]->n_in == 4;
    return k;
}

Test(fuse, transformer_matmul_bias_residual_gelu_grad)
{
    IrGraph *g = compile(tf_src, "backprop", true);
    cr_expect_eq(count_op(g, IR_OP_MATMUL), 0);
    cr_expect_eq(count_op(g, IR_OP_BIAS_ADD), 0);
    cr_expect_eq(count_op(g, IR_OP_MATMUL_BIAS), 2 * 6 + 1, "q, k, v, o and two MLP "
                 "layers per block, and the logits");
    cr_expect_eq(count_residuals(g), 2 * 2, "the attention output's and the MLP's");
    cr_expect_eq(count_op(g, IR_OP_GELU_GRAD), 0);
    cr_expect_eq(count_op(g, IR_OP_GELU_GRAD_Y), 2);
    cr_expect_eq(count_op(g, IR_OP_LAYERNORM_GRAD_X_ADD), 2 * 2, "the residual stream's "
                 "gradient after each block's two LayerNorms");
    cr_expect_eq(count_op(g, IR_OP_LAYERNORM_GRAD_X), 1, "the final LayerNorm's: no add");
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (n->op == IR_OP_GELU_GRAD_Y)
            cr_expect_eq(g->nodes[n->in[2]]->op, IR_OP_GELU, "y is the gelu of x");
        if (n->op == IR_OP_GELU_GRAD_Y)
            cr_expect_eq(g->nodes[n->in[2]]->in[0], n->in[1]);
    }
    ir_graph_free(g);
}

Test(fuse, matmul_bias_leaves_other_adds)
{
    IrGraph *g = compile(bcast_src, "backprop", true);
    cr_expect_eq(count_op(g, IR_OP_MATMUL_BIAS), 3);
    cr_expect_eq(count_residuals(g), 0, "a broadcast operand and a twice-read output");
    cr_expect_eq(count_op(g, IR_OP_BIAS_ADD), 0);
    ir_graph_free(g);
}

/* The node of g named name (and of the same op as like), or -1. */
static int find(const IrGraph *g, const IrNode *like)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == like->op && g->nodes[i]->name && like->name &&
            strcmp(g->nodes[i]->name, like->name) == 0)
            return i;
    return -1;
}

/* Sources of b get a's values by name (inputs, labels) after every step. */
static void feed(RtExec *a, const IrGraph *ga, RtExec *b, const IrGraph *gb, int n,
                 unsigned seed)
{
    for (int i = 0; i < ga->n_nodes; i++) {
        const IrNode *nd = ga->nodes[i];
        if (nd->op != IR_OP_INPUT && nd->op != IR_OP_LABEL)
            continue;
        int j = find(gb, nd);
        cr_assert(j >= 0, "no '%s' in the fused graph", nd->name);
        int64_t L = ir_type_numel(&nd->type) * n;
        float *fa = rt_exec_buffer(a, i);
        for (int64_t k = 0; k < L; k++) {
            seed = seed * 1664525u + 1013904223u;
            if (nd->op == IR_OP_LABEL) {
                int32_t v = (int32_t)((seed >> 8) % (unsigned)nd->a.classes);
                memcpy(fa + k, &v, 4);
            } else {
                fa[k] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
            }
        }
        memcpy(rt_exec_buffer(b, j), fa, (size_t)L * 4);
    }
}

/* The interpreter on both graphs: same losses, same parameters and states. */
static void same_training(const char *src, const char *method)
{
    IrGraph *u = compile(src, method, false), *f = compile(src, method, true);
    cr_assert_lt(f->n_nodes, u->n_nodes, "%s %s: nothing fused", src, method);
    int B = u->train.batch;
    char err[256];
    RtExec *ru = rt_exec_interp_new(u, B, err, sizeof err);
    cr_assert(ru, "%s", err);
    RtExec *rf = rt_exec_interp_new(f, B, err, sizeof err);
    cr_assert(rf, "%s", err);
    rt_exec_init_params(ru, 11);
    rt_exec_init_params(rf, 11);
    for (int s = 1; s <= STEPS; s++) {
        feed(ru, u, rf, f, B, 31u * (unsigned)s);
        RtStepArgs a = {.n = B, .lr = u->train.lr, .step = s, .seed = 9, .train = true};
        rt_exec_step(ru, &a);
        rt_exec_step(rf, &a);
        cr_expect_eq(memcmp(rt_exec_buffer(ru, u->loss), rt_exec_buffer(rf, f->loss), 4), 0,
                     "%s: losses differ after step %d", method, s);
    }
    for (int i = 0; i < u->n_nodes; i++) {
        const IrNode *p = u->nodes[i];
        if (p->op != IR_OP_PARAM && p->op != IR_OP_STATE)
            continue;
        int j = find(f, p);
        cr_assert(j >= 0, "no '%s' in the fused graph", p->name);
        size_t bytes = (size_t)ir_type_numel(&p->type) * 4;
        cr_expect_eq(memcmp(rt_exec_buffer(ru, i), rt_exec_buffer(rf, j), bytes), 0,
                     "%s: '%s' differs", method, p->name);
    }
    rt_exec_free(rf);
    rt_exec_free(ru);
    ir_graph_free(f);
    ir_graph_free(u);
}

Test(fuse, interpreter_trains_fused_as_unfused)
{
    same_training(mlp_src, "backprop");
    same_training(mlp_src, "chunked");
    same_training(cnn_src, "backprop");
    same_training(cnn_src, "chunked");
    same_training(tf_src, "backprop");
    same_training(tf_src, "chunked");
    same_training(bcast_src, "backprop");
    same_training(pool_src, "backprop");
    same_training(pool_src, "chunked");
}
