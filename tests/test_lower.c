/* test_lower.c — the lowered graph: ops, shapes, parameter names and inits,
 * arithmetic lowering, def/repeat expansion, cuts, and section values. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "build_graph.h"
#include "fe_impl.h"
#include "frontend.h"

/* Compiles src; fails the test on any error. */
static IrGraph *compile(const char *src)
{
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("t.lnet", src, strlen(src), &d);
    char *msg = tb_diag_text(&d);
    cr_assert_not_null(g, "compile failed:\n%s", msg);
    cr_assert_eq(d.n_errors, 0);
    free(msg);
    diag_fini(&d);
    return g;
}

static const IrNode *by_name(const IrGraph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->name && strcmp(g->nodes[i]->name, name) == 0)
            return g->nodes[i];
    cr_assert_fail("no node named %s", name);
    return NULL;
}

static int count_op(const IrGraph *g, IrOp op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += g->nodes[i]->op == op;
    return n;
}

static void expect_type(const IrNode *n, const char *want)
{
    char buf[96];
    ir_type_str(&n->type, buf, sizeof buf);
    cr_expect_str_eq(buf, want, "node %%%d", n->id);
}

/* The ops of nodes [from, to) as a space-separated list. */
static void expect_ops(const IrGraph *g, int from, const char *want)
{
    char buf[1024] = "";
    for (int i = from; i < g->n_nodes; i++) {
        strcat(buf, ir_op_info(g->nodes[i]->op)->name);
        strcat(buf, i + 1 < g->n_nodes ? " " : "");
    }
    cr_expect_str_eq(buf, want);
}

static const char *HEAD = "input x : f32[8]\nlabel y : class[4]\n";

static IrGraph *with_head(const char *body)
{
    char src[2048];
    snprintf(src, sizeof src, "%s%s\n", HEAD, body);
    return compile(src);
}

Test(lower, inputs_and_labels)
{
    IrGraph *g = compile("input img : f32[28,28]\ninput tok : i32[64]\nlabel c : class[10]\n"
                         "label nxt : class[256][64]\nlabel t : f32[3]\n"
                         "loss mse(flatten(img) * 0, flatten(img))");
    expect_type(by_name(g, "img"), "f32[N,28,28]");
    expect_type(by_name(g, "tok"), "i32[N,64]");
    expect_type(by_name(g, "c"), "i32[N]");
    cr_expect_eq(by_name(g, "c")->a.classes, 10);
    expect_type(by_name(g, "nxt"), "i32[N,64]");
    cr_expect_eq(by_name(g, "nxt")->a.classes, 256);
    expect_type(by_name(g, "t"), "f32[N,3]");
    cr_expect_eq(by_name(g, "img")->op, IR_OP_INPUT);
    cr_expect_eq(by_name(g, "t")->op, IR_OP_LABEL);
    ir_graph_free(g);
}

Test(lower, dense_makes_params_matmul_bias)
{
    IrGraph *g = with_head("loss cross_entropy(dense(x, 4), y)");
    expect_ops(g, 2, "param param matmul bias_add cross_entropy");
    const IrNode *w = by_name(g, "dense_0.w"), *b = by_name(g, "dense_0.b");
    expect_type(w, "f32[8,4]");
    expect_type(b, "f32[4]");
    cr_expect_eq(w->a.init, IR_INIT_HE);
    cr_expect_eq(w->a.fan_in, 8);
    cr_expect_eq(w->a.fan_out, 4);
    cr_expect_eq(b->a.init, IR_INIT_ZEROS);
    cr_expect_eq(g->nodes[5]->a.axis, -1);
    cr_expect_eq(g->loss, g->n_nodes - 1);
    expect_type(g->nodes[g->loss], "f32[]");
    ir_graph_free(g);
}

Test(lower, dense_options)
{
    IrGraph *g = with_head("h = dense(x, 6, bias = 0, init = normal(0.5))\n"
                           "h = dense(h, 4, init = glorot)\nloss cross_entropy(h, y)");
    cr_expect_eq(count_op(g, IR_OP_BIAS_ADD), 1);
    cr_expect_eq(by_name(g, "dense_0.w")->a.init, IR_INIT_NORMAL);
    cr_expect_float_eq(by_name(g, "dense_0.w")->a.init_std, 0.5f, 1e-7);
    cr_expect_eq(by_name(g, "dense_1.w")->a.init, IR_INIT_GLOROT);
    ir_graph_free(g);
}

Test(lower, param_names_follow_program_order)
{
    IrGraph *g = with_head("h = dense(dense(x, 5), 4)\nloss cross_entropy(h, y)");
    expect_type(by_name(g, "dense_0.w"), "f32[8,5]");
    expect_type(by_name(g, "dense_1.w"), "f32[5,4]");
    ir_graph_free(g);
}

Test(lower, def_and_repeat_unroll)
{
    IrGraph *g = with_head("def hidden(x, w) { h = dense(x, w)  return relu(h) }\n"
                           "h = x\nrepeat 3 { h = hidden(h, 8) }\nloss cross_entropy(dense(h, 4), y)");
    cr_expect_eq(count_op(g, IR_OP_RELU), 3);
    cr_expect_eq(count_op(g, IR_OP_MATMUL), 4);
    by_name(g, "dense_2.w");
    expect_type(by_name(g, "dense_3.w"), "f32[8,4]");
    ir_graph_free(g);
}

Test(lower, nested_repeat_and_number_arithmetic)
{
    IrGraph *g = with_head("n = 2\nh = x\nrepeat n { repeat n + 1 { h = relu(h) } }\n"
                           "loss cross_entropy(dense(h, 2 * n), y)");
    cr_expect_eq(count_op(g, IR_OP_RELU), 6);
    ir_graph_free(g);
}

Test(lower, def_called_before_its_definition)
{
    IrGraph *g = with_head("loss cross_entropy(head(x), y)\n"
                           "def head(x) { return dense(x, 4) }");
    cr_expect_eq(count_op(g, IR_OP_MATMUL), 1);
    ir_graph_free(g);
}

Test(lower, tensor_number_arithmetic)
{
    IrGraph *g = with_head("a = x - 2\nb = x / 4\nc = 3 - x\nd = 2 * x + 1\ne = -x\n"
                           "loss mse(a + b + c + d + e, x)");
    const IrNode *const *n = (const IrNode *const *)g->nodes;
    cr_expect_eq(n[2]->op, IR_OP_ADD_SCALAR);
    cr_expect_float_eq(n[2]->a.scalar, -2.0f, 1e-7);
    cr_expect_eq(n[3]->op, IR_OP_MUL_SCALAR);
    cr_expect_float_eq(n[3]->a.scalar, 0.25f, 1e-7);
    cr_expect_eq(n[4]->op, IR_OP_MUL_SCALAR);
    cr_expect_float_eq(n[4]->a.scalar, -1.0f, 1e-7);
    cr_expect_eq(n[5]->op, IR_OP_ADD_SCALAR);
    cr_expect_float_eq(n[5]->a.scalar, 3.0f, 1e-7);
    cr_expect_eq(n[5]->in[0], 4);
    cr_expect_eq(n[6]->op, IR_OP_MUL_SCALAR);
    cr_expect_eq(n[7]->op, IR_OP_ADD_SCALAR);
    cr_expect_eq(n[8]->op, IR_OP_MUL_SCALAR);
    cr_expect_float_eq(n[8]->a.scalar, -1.0f, 1e-7);
    ir_graph_free(g);
}

Test(lower, numbers_fold)
{
    IrGraph *g = with_head("k = (4 * 2 - 1e0) / 7 + -1\nloss cross_entropy(dense(x, 4 + k), y)");
    expect_type(by_name(g, "dense_0.w"), "f32[8,4]");
    ir_graph_free(g);
}

Test(lower, unbatched_left_operand_moves_right)
{
    IrGraph *g = compile("input t : i32[16]\nlabel y : class[32][16]\n"
                         "h = param(16, 8) + embedding(t, 32, 8)\n"
                         "loss cross_entropy(dense(h, 32), y)");
    const IrNode *add = NULL;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == IR_OP_ADD)
            add = g->nodes[i];
    cr_assert_not_null(add);
    expect_type(add, "f32[N,16,8]");
    cr_expect_eq(g->nodes[add->in[1]]->op, IR_OP_PARAM);
    expect_type(by_name(g, "param_0.w"), "f32[16,8]");
    cr_expect_eq(by_name(g, "param_0.w")->a.init, IR_INIT_NORMAL);
    cr_expect_float_eq(by_name(g, "embedding_0.w")->a.init_std, 0.02f, 1e-7);
    ir_graph_free(g);
}

Test(lower, conv_pool_reshape_flatten)
{
    IrGraph *g = compile("input img : f32[28,28]\nlabel y : class[10]\n"
                         "h = reshape(img, 1, 28, 28)\nh = conv2d(h, 8, padding = 1)\n"
                         "h = maxpool(h)\nh = conv2d(h, 4, kernel = 5, stride = 2, bias = 0)\n"
                         "h = avgpool(h, 3, stride = 1)\n"
                         "loss cross_entropy(dense(flatten(h), 10), y)");
    const IrNode *w = by_name(g, "conv2d_0.w");
    expect_type(w, "f32[8,1,3,3]");
    cr_expect_eq(w->a.fan_in, 9);
    cr_expect_eq(w->a.fan_out, 72);
    expect_type(by_name(g, "conv2d_1.w"), "f32[4,8,5,5]");
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (n->op == IR_OP_MAXPOOL) {
            expect_type(n, "f32[N,8,14,14]");
            cr_expect_eq(n->a.stride, 2, "stride defaults to the kernel");
        }
        if (n->op == IR_OP_AVGPOOL)
            expect_type(n, "f32[N,4,3,3]");
        if (n->op == IR_OP_BIAS_ADD && g->nodes[n->in[0]]->op == IR_OP_CONV2D)
            cr_expect_eq(n->a.axis, 1);
    }
    cr_expect_eq(count_op(g, IR_OP_BIAS_ADD), 2, "conv2d_1 has no bias, dense has one");
    ir_graph_free(g);
}

Test(lower, reshape_infers_one_dim_and_transpose_perm)
{
    IrGraph *g = compile("input a : f32[6,4]\nb = reshape(a, 2, -1, 4)\nc = transpose(b, 0, 2)\n"
                         "d = transpose(b, 2, 0, 1)\nloss mse(flatten(c), flatten(d))");
    const IrNode *r = g->nodes[1], *t1 = g->nodes[2], *t2 = g->nodes[3];
    expect_type(r, "f32[N,2,3,4]");
    expect_type(t1, "f32[N,4,3,2]");
    cr_expect_eq(t1->a.perm[0], 2);
    cr_expect_eq(t1->a.perm[2], 0);
    expect_type(t2, "f32[N,4,2,3]");
    ir_graph_free(g);
}

Test(lower, layernorm_attention_embedding)
{
    IrGraph *g = compile("input t : i32[16]\nlabel y : class[32][16]\n"
                         "h = embedding(t, 32, 8)\nh = h + attention(layernorm(h), heads = 2)\n"
                         "loss cross_entropy(dense(h, 32), y)");
    cr_expect_eq(by_name(g, "layernorm_0.g")->a.init, IR_INIT_ONES);
    cr_expect_eq(by_name(g, "layernorm_0.b")->a.init, IR_INIT_ZEROS);
    const char *names[] = {"attention_0.q.w", "attention_0.k.w", "attention_0.v.w",
                           "attention_0.o.w"};
    for (int i = 0; i < 4; i++) {
        expect_type(by_name(g, names[i]), "f32[8,8]");
        cr_expect_eq(by_name(g, names[i])->a.init, IR_INIT_GLOROT);
    }
    cr_expect_eq(count_op(g, IR_OP_CAUSAL_ATTENTION), 1);
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == IR_OP_CAUSAL_ATTENTION)
            cr_expect_eq(g->nodes[i]->a.heads, 2);
    cr_expect_eq(count_op(g, IR_OP_MATMUL), 5, "q, k, v, o and the head");
    ir_graph_free(g);
}

Test(lower, simple_ops_and_dropout)
{
    IrGraph *g = with_head("h = stop_gradient(softmax(log_softmax(sigmoid(tanh(gelu(x))))))\n"
                           "h = dropout(h)\nh = dropout(h, p = 0.5)\nloss mse(h, x)");
    expect_ops(g, 2, "gelu tanh sigmoid log_softmax softmax stop_gradient dropout dropout mse");
    cr_expect_float_eq(g->nodes[8]->a.p, 0.1f, 1e-7);
    cr_expect_float_eq(g->nodes[9]->a.p, 0.5f, 1e-7);
    ir_graph_free(g);
}

Test(lower, leaky_relu_slope)
{
    IrGraph *g = with_head("h = leaky_relu(x)\nh = leaky_relu(h, 0.2)\n"
                           "h = leaky_relu(h, slope = -0.5)\nloss mse(h, x)");
    expect_ops(g, 2, "leaky_relu leaky_relu leaky_relu mse");
    cr_expect_float_eq(g->nodes[2]->a.scalar, 0.01f, 1e-9, "PyTorch's and ONNX's default");
    cr_expect_float_eq(g->nodes[3]->a.scalar, 0.2f, 1e-9);
    cr_expect_float_eq(g->nodes[4]->a.scalar, -0.5f, 1e-9);
    ir_graph_free(g);
}

Test(lower, cut_flags_the_current_value)
{
    IrGraph *g = with_head("h = relu(x)\ncut h\nh = relu(h)\nloss mse(h, x)");
    cr_expect(g->nodes[2]->flags & IR_F_CUT);
    cr_expect(!(g->nodes[3]->flags & IR_F_CUT));
    ir_graph_free(g);
}

Test(lower, locations_point_at_the_expression)
{
    IrGraph *g = with_head("def f(a) {\n  return relu(a)\n}\nh = f(x)\nloss mse(h, x)");
    const IrNode *r = g->nodes[2];
    cr_expect_eq(r->op, IR_OP_RELU);
    cr_expect_eq(r->loc.line, 4, "inside the def body");
    cr_expect_eq(r->loc.col, 10);
    cr_expect_eq(g->nodes[0]->loc.line, 1);
    cr_expect_eq(g->nodes[0]->loc.col, 7);
    ir_graph_free(g);
}

Test(lower, model_name)
{
    IrGraph *g = with_head("model my_net\nloss mse(x, x)");
    cr_expect_str_eq(g->model, "my_net");
    ir_graph_free(g);
    Diag d;
    diag_init(&d);
    const char *src = "input x : f32[2]\nloss mse(x, x)";
    g = fe_compile("dir/some.model.lnet", src, strlen(src), &d);
    cr_assert_not_null(g);
    cr_expect_str_eq(g->model, "some.model", "defaults to the file's stem");
    ir_graph_free(g);
    diag_fini(&d);
}

Test(lower, train_defaults)
{
    IrGraph *g = with_head("loss mse(x, x)");
    IrTrainCfg t;
    ir_train_cfg_default(&t);
    cr_expect_eq(g->train.optimizer, t.optimizer);
    cr_expect_eq(g->train.batch, t.batch);
    cr_expect_float_eq(g->train.lr, t.lr, 1e-9);
    cr_expect_eq(g->local.method, METHOD_BACKPROP);
    ir_graph_free(g);
}

Test(lower, train_section)
{
    IrGraph *g = with_head("loss mse(x, x)\nbs = 64\n"
                           "train { data = text  path = \"/usr/share/games/fortunes\" "
                           "optimizer = adamw(lr = 3e-4, beta2 = 0.95) batch = 2 * bs "
                           "epochs = 3 schedule = cosine(warmup = 100) seed = 7 clip = 1.5 }");
    const IrTrainCfg *t = &g->train;
    cr_expect_str_eq(t->data, "text");
    cr_expect_str_eq(t->data_path, "/usr/share/games/fortunes");
    cr_expect_eq(t->optimizer, OPT_ADAMW);
    cr_expect_float_eq(t->lr, 3e-4f, 1e-9);
    cr_expect_float_eq(t->beta1, 0.9f, 1e-7);
    cr_expect_float_eq(t->beta2, 0.95f, 1e-7);
    cr_expect_float_eq(t->eps, 1e-8f, 1e-12);
    cr_expect_float_eq(t->weight_decay, 0.01f, 1e-7, "adamw's default decay");
    cr_expect_eq(t->batch, 128);
    cr_expect_eq(t->epochs, 3);
    cr_expect_eq(t->lr_schedule, LR_COSINE);
    cr_expect_eq(t->warmup, 100);
    cr_expect_eq(t->seed, 7);
    cr_expect_float_eq(t->clip, 1.5f, 1e-7);
    cr_expect_eq(t->loc.line, 5);
    ir_graph_free(g);
}

Test(lower, sgd_and_warmup)
{
    IrGraph *g = with_head("loss mse(x, x)\ntrain { optimizer = sgd(0.1, momentum = 0.9, "
                           "nesterov = 1, weight_decay = 5e-4) schedule = warmup(steps = 50) }");
    cr_expect_eq(g->train.optimizer, OPT_SGD);
    cr_expect_float_eq(g->train.lr, 0.1f, 1e-7);
    cr_expect_float_eq(g->train.momentum, 0.9f, 1e-7);
    cr_expect(g->train.nesterov);
    cr_expect_float_eq(g->train.weight_decay, 5e-4f, 1e-9);
    cr_expect_eq(g->train.lr_schedule, LR_WARMUP);
    cr_expect_eq(g->train.warmup, 50);
    ir_graph_free(g);
}

Test(lower, local_section)
{
    IrGraph *g = with_head("def aux(h) { return dense(h, 4) }\nloss mse(x, x)\n"
                           "local { method = overlap blocks = 3 overlap = 2 head = aux }");
    cr_expect_eq(g->local.method, METHOD_OVERLAP);
    cr_expect_eq(g->local.blocks, 3);
    cr_expect_eq(g->local.overlap, 2);
    cr_expect_str_eq(g->local.head, "aux");
    cr_expect_eq(g->local.loc.line, 5);
    cr_expect_eq(count_op(g, IR_OP_MATMUL), 0, "a head def is not lowered by itself");
    ir_graph_free(g);
}

static IrGraph *compile_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/examples/%s", LNET_SOURCE_DIR, name);
    Diag d;
    diag_init(&d);
    size_t len;
    char *text = fe_read_file(path, &len, &d);
    cr_assert_not_null(text, "%s", path);
    IrGraph *g = fe_compile(path, text, len, &d);
    char *msg = tb_diag_text(&d);
    cr_assert_not_null(g, "%s", msg);
    Diag v;
    diag_init(&v);
    cr_expect(ir_graph_verify(g, &v), "verify %s", name);
    diag_fini(&v);
    free(msg);
    free(text);
    diag_fini(&d);
    return g;
}

Test(lower, example_mlp)
{
    IrGraph *g = compile_file("fmnist_mlp.lnet");
    cr_expect_eq(count_op(g, IR_OP_MATMUL), 5);
    cr_expect_eq(count_op(g, IR_OP_RELU), 4);
    expect_type(by_name(g, "dense_0.w"), "f32[784,1024]");
    expect_type(by_name(g, "dense_3.w"), "f32[1024,1024]");
    expect_type(by_name(g, "dense_4.w"), "f32[1024,10]");
    cr_expect_eq(g->train.optimizer, OPT_ADAM);
    cr_expect_float_eq(g->train.lr, 1e-3f, 1e-9);
    cr_expect_eq(g->train.batch, 128);
    cr_expect_eq(g->train.epochs, 5);
    cr_expect_eq(g->local.method, METHOD_CHUNKED);
    cr_expect_eq(g->local.blocks, 2);
    ir_graph_free(g);
}

Test(lower, example_cnn)
{
    IrGraph *g = compile_file("fmnist_cnn.lnet");
    cr_expect_eq(count_op(g, IR_OP_CONV2D), 4);
    cr_expect_eq(count_op(g, IR_OP_MAXPOOL), 2);
    expect_type(by_name(g, "conv2d_0.w"), "f32[32,1,3,3]");
    expect_type(by_name(g, "conv2d_3.w"), "f32[64,64,3,3]");
    expect_type(by_name(g, "dense_0.w"), "f32[3136,10]");
    ir_graph_free(g);
}

Test(lower, example_resnet)
{
    IrGraph *g = compile_file("fmnist_resnet.lnet");
    cr_expect_geq(count_op(g, IR_OP_ADD), 4, "at least 4 residual blocks");
    cr_expect_eq(count_op(g, IR_OP_GLOBAL_AVG_POOL), 1);
    ir_graph_free(g);
}

Test(lower, example_charlm)
{
    IrGraph *g = compile_file("charlm.lnet");
    cr_expect_eq(count_op(g, IR_OP_CAUSAL_ATTENTION), 4);
    cr_expect_eq(count_op(g, IR_OP_LAYERNORM), 9);
    cr_expect_eq(count_op(g, IR_OP_GELU), 4);
    expect_type(by_name(g, "dense_1.w"), "f32[512,128]");
    expect_type(g->nodes[g->loss - 2], "f32[N,64,256]");
    cr_expect_str_eq(g->train.data, "text");
    cr_expect_eq(g->train.optimizer, OPT_ADAMW);
    cr_expect_eq(g->train.batch, 32);
    ir_graph_free(g);
}
