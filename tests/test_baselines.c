/* test_baselines.c — the backprop baselines lnet's local parallelism is
 * compared against, under the same compiler and kernels:
 *
 *  - phases: an executor's forward, backward and update entries, run in turn,
 *    equal its whole step bit for bit (interpreter and JIT, MLP and CNN);
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "exec.h"
#include "frontend.h"
#include "passes.h"
#include "rng.h"

static const char *const mlp_src =
    "model bmlp\n"
    "input x : f32[4, 5]\n"
    "label y : class[7]\n"
    "h = relu(dense(flatten(x), 33))\n"
    "h = tanh(dense(h, 17))\n"
    "h = h * sigmoid(dense(h, 17))\n"
    "loss cross_entropy(dense(h, 7), y)\n"
    "train { optimizer = adam(lr = 1e-2, weight_decay = 1e-3) batch = 8 clip = 0.5 seed = 3 }\n";

static const char *const cnn_src =
    "model bcnn\n"
    "input image : f32[9, 9]\n"
    "label y : class[5]\n"
    "x = reshape(image, 1, 9, 9)\n"
    "x = relu(conv2d(x, 4, padding = 1))\n"
    "x = maxpool(x, 2)\n"
    "x = relu(conv2d(x, 6, padding = 1))\n"
    "loss cross_entropy(dense(flatten(x), 5), y)\n"
    "train { optimizer = sgd(lr = 0.05, momentum = 0.9) batch = 8 seed = 4 }\n";

/* The model through `pipeline` (caller frees with ir_graph_free). */
static IrGraph *compile(const char *src, const char *pipeline)
{
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("t.lnet", src, strlen(src), &d);
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    bool ok = g && pass_run_pipeline(g, pipeline, &ctx);
    if (!ok)
        diag_print(&d, stderr);
    diag_fini(&d);
    cr_assert(ok);
    return g;
}

static RtExec *make(const IrGraph *g, bool jit, int max_batch)
{
    char err[256];
    RtExec *e = jit ? cg_exec_new(g, max_batch, NULL, err, sizeof err)
                    : rt_exec_interp_new(g, max_batch, err, sizeof err);
    cr_assert(e, "%s", err);
    cr_assert(rt_exec_has_phases(e));
    rt_exec_init_params(e, g->train.seed);
    return e;
}

static int first_op(const IrGraph *g, IrOp op)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == op)
            return i;
    return -1;
}

/* A reproducible batch of n examples into e's input and label buffers. */
static void fill_batch(RtExec *e, int n, uint64_t seed)
{
    const IrGraph *g = e->g;
    int x = first_op(g, IR_OP_INPUT), y = first_op(g, IR_OP_LABEL);
    RtRng r;
    rt_rng_seed(&r, seed);
    float *xb = rt_exec_buffer(e, x);
    for (int64_t i = 0; i < n * ir_type_numel(&g->nodes[x]->type); i++)
        xb[i] = rt_rng_uniform(&r) * 2 - 1;
    int32_t *yb = rt_exec_buffer(e, y);
    for (int64_t i = 0; i < n * ir_type_numel(&g->nodes[y]->type); i++)
        yb[i] = (int32_t)(rt_rng_uniform(&r) * (float)g->nodes[y]->a.classes);
}

/* Bytes of every parameter and optimizer state of g. */
static void expect_same_params(RtExec *a, RtExec *b)
{
    const IrGraph *g = a->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (n->op != IR_OP_PARAM && n->op != IR_OP_STATE)
            continue;
        size_t bytes = (size_t)ir_type_numel(&n->type) * 4;
        cr_expect(memcmp(rt_exec_buffer(a, i), rt_exec_buffer(b, i), bytes) == 0,
                  "%s differs", n->name ? n->name : "?");
    }
}

static void phases_equal_step(const char *src, bool jit)
{
    IrGraph *g = compile(src, "shape,verify,autodiff,optimizer");
    RtExec *whole = make(g, jit, 8), *parts = make(g, jit, 8);
    for (int s = 0; s < 3; s++) {
        RtStepArgs a = {.n = 8 - s, .lr = 1e-2f, .step = s + 1, .seed = 7, .train = true};
        fill_batch(whole, a.n, 100 + (uint64_t)s);
        fill_batch(parts, a.n, 100 + (uint64_t)s);
        rt_exec_step(whole, &a);
        rt_exec_forward(parts, &a);
        rt_exec_backward(parts, &a);
        rt_exec_update(parts, &a);
        cr_expect_eq(rt_exec_scalar(whole, g->loss), rt_exec_scalar(parts, g->loss));
    }
    expect_same_params(whole, parts);
    rt_exec_free(whole);
    rt_exec_free(parts);
    ir_graph_free(g);
}

Test(phases, mlp_interp) { phases_equal_step(mlp_src, false); }
Test(phases, mlp_jit) { phases_equal_step(mlp_src, true); }
Test(phases, cnn_interp) { phases_equal_step(cnn_src, false); }
Test(phases, cnn_jit) { phases_equal_step(cnn_src, true); }
