/* test_codegen_step.c — whole training steps, JIT against the reference
 * interpreter, on small versions of the three examples written in .lnet and
 * compiled by the frontend: an MLP (dropout, gelu/tanh/sigmoid, Adam with
 * clipping), a CNN (conv stride 1/2, padding, max/avg pooling, SGD with
 * Nesterov momentum and weight decay) and a transformer (embedding, learned
 * positions, layernorm, 2-head causal attention, AdamW with clipping), and
 * a CNN wide enough (16+ channels) for the shifted conv products.
 *
 * Each model runs with local methods backprop, greedy and chunked: the whole
 * partitioned graph (aux heads, stop-gradients) in one executor, and for
 * chunked also each split block graph on its own, and each of those graphs
 * once more after the fuse pass (bias_relu, conv2d_bias_relu, which the
 * interpreter runs as the unfused ops). Both executors start from
 * the same initialization and see the same random batches: 4 steps at the
 * full batch, 1 at a partial batch (the last batch of an epoch), then an
 * evaluation forward. Checked: every loss (both floats of a cross-entropy)
 * after every step and every parameter and optimizer state at the end.
 *
 * Tolerance: max |jit - ref| / max(1, max |ref|) <= 1e-5. The JIT contracts
 * float a*b+c into FMAs and reorders double sums, so single ops differ by an
 * ulp (test_codegen_ops.c); five optimizer steps grow that to ~1e-6.
 * One exception: the attention key bias (`*.k.b`). Its true gradient is
 * identically zero (a constant added to every key shifts each score row by
 * the same amount, which softmax cancels), so what both executors compute is
 * rounding noise, and Adam normalizes noise into steps of about ±lr. For that
 * tensor the bound is what Adam can move it: |jit - ref| <= 2·lr·steps.
 *
 * Without FMA contraction (CgOptions.no_contract) the JIT performs the
 * reference's float operations in the reference's order, so the MLP and CNN
 * steps (everything but attention, whose products are sgemm in the JIT and
 * double dot products in the reference) must match bit for bit.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "codegen.h"
#include "exec.h"
#include "frontend.h"
#include "passes.h"

#define TOL 1e-5
#define STEPS 5

static const char *const mlp_src =
    "model tmlp\n"
    "input x : f32[4, 5]\n"
    "label y : class[7]\n"
    "h = relu(dense(flatten(x), 33))\n"
    "h = dropout(h, p = 0.25)\n"
    "h = tanh(dense(h, 17))\n"
    "h = h * sigmoid(dense(h, 17))\n"
    "h = gelu(dense(h, 17))\n"
    "loss cross_entropy(dense(h, 7), y)\n"
    "train { optimizer = adam(lr = 1e-2, weight_decay = 1e-3) batch = 9 clip = 0.5 seed = 3 }\n";

static const char *const cnn_src =
    "model tcnn\n"
    "input image : f32[9, 9]\n"
    "label y : class[5]\n"
    "x = reshape(image, 1, 9, 9)\n"
    "x = relu(conv2d(x, 4, padding = 1))\n"
    "x = maxpool(x, 2)\n"
    "x = relu(conv2d(x, 6, stride = 2, padding = 1))\n"
    "x = avgpool(x, 2, stride = 1)\n"
    "x = relu(conv2d(x, 5, kernel = 1))\n"
    "x = global_avg_pool(x)\n"
    "loss cross_entropy(dense(x, 5), y)\n"
    "train { optimizer = sgd(lr = 0.05, momentum = 0.9, nesterov = 1, weight_decay = 1e-3)\n"
    "        batch = 6 seed = 5 }\n";

/* Wide enough (16+ channels, stride 1) for the shifted conv products. */
static const char *const wide_cnn_src =
    "model twcnn\n"
    "input image : f32[5, 4]\n"
    "label y : class[5]\n"
    "x = reshape(image, 1, 5, 4)\n"
    "x = relu(conv2d(x, 16, padding = 1))\n"
    "x = relu(conv2d(x, 17, padding = 1))\n"
    "x = maxpool(x, 2)\n"
    "x = relu(conv2d(x, 16, kernel = 2))\n"
    "loss cross_entropy(dense(flatten(x), 5), y)\n"
    "train { optimizer = adam(lr = 1e-2) batch = 6 seed = 7 }\n";

/* The same with even sizes: its second conv runs as Winograd products. */
static const char *const wino_cnn_src =
    "model twino\n"
    "input image : f32[6, 8]\n"
    "label y : class[5]\n"
    "x = reshape(image, 1, 6, 8)\n"
    "x = relu(conv2d(x, 16, padding = 1))\n"
    "x = relu(conv2d(x, 17, padding = 1))\n"
    "x = maxpool(x, 2)\n"
    "x = relu(conv2d(x, 16, kernel = 2))\n"
    "loss cross_entropy(dense(flatten(x), 5), y)\n"
    "train { optimizer = adam(lr = 1e-2) batch = 6 seed = 7 }\n";

static const char *const tf_src =
    "model ttf\n"
    "input tokens : i32[7]\n"
    "label next : class[11][7]\n"
    "d = 8\n"
    "def block(x, d) {\n"
    "    x = x + attention(layernorm(x), heads = 2)\n"
    "    x = x + dense(gelu(dense(layernorm(x), 2 * d)), d)\n"
    "    return x\n"
    "}\n"
    "x = embedding(tokens, 11, d) + param(7, d)\n"
    "repeat 2 { x = block(x, d) }\n"
    "loss cross_entropy(dense(layernorm(x), 11), next)\n"
    "train { optimizer = adamw(lr = 3e-3, weight_decay = 0.1) clip = 1.0 batch = 5 seed = 7 }\n";

/* ------------------------------------------------------------- harness */

static float frand(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / (float)(1u << 23) - 1.0f;
}

/* Classes of a label, or the table size of the embedding an i32 input feeds. */
static int int_range(const IrGraph *g, int id)
{
    if (g->nodes[id]->op == IR_OP_LABEL)
        return g->nodes[id]->a.classes;
    for (int i = id + 1; i < g->n_nodes; i++)
        if (g->nodes[i]->op == IR_OP_EMBEDDING && g->nodes[i]->in[0] == id)
            return (int)g->nodes[g->nodes[i]->in[1]]->type.dim[0];
    return 1;
}

/* The same random batch into both executors' inputs and labels. */
static void feed(RtExec *a, RtExec *b, const IrGraph *g, int n, unsigned seed)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *nd = g->nodes[i];
        if (nd->op != IR_OP_INPUT && nd->op != IR_OP_LABEL)
            continue;
        int64_t L = ir_type_numel(&nd->type) * n;
        float *fa = rt_exec_buffer(a, i);
        int range = int_range(g, i);
        for (int64_t k = 0; k < L; k++) {
            float r = frand(&seed);
            if (nd->type.dtype == IR_I32) {
                int32_t v = (int32_t)((r + 1.0f) * 0.5f * (float)range);
                v = v >= range ? range - 1 : v;
                memcpy(fa + k, &v, 4);
            } else {
                fa[k] = r;
            }
        }
        memcpy(rt_exec_buffer(b, i), fa, (size_t)L * 4);
    }
}

static double err_of(const float *got, const float *want, int64_t L)
{
    double diff = 0, scale = 1;
    for (int64_t i = 0; i < L; i++) {
        if (!isfinite(got[i]) || !isfinite(want[i]))
            return INFINITY;
        double d = fabs((double)got[i] - want[i]);
        diff = d > diff ? d : diff;
        scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    }
    return diff / scale;
}

static bool is_loss(const IrGraph *g, int i)
{
    return i == g->loss || (g->nodes[i]->flags & IR_F_LOSS);
}

/* Largest error over the losses (both floats of a cross-entropy). */
static double loss_err(RtExec *jit, RtExec *ref, const IrGraph *g)
{
    double worst = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!is_loss(g, i))
            continue;
        int L = g->nodes[i]->op == IR_OP_CROSS_ENTROPY ? 2 : 1;
        double e = err_of(rt_exec_buffer(jit, i), rt_exec_buffer(ref, i), L);
        worst = e > worst ? e : worst;
    }
    return worst;
}

/* An attention key bias or its optimizer state (see the tolerance above). */
static bool zero_grad_param(const IrGraph *g, int i)
{
    const IrNode *p = g->nodes[i];
    if (p->op == IR_OP_STATE)
        p = g->nodes[p->state];
    size_t len = p->name ? strlen(p->name) : 0;
    return len >= 4 && strcmp(p->name + len - 4, ".k.b") == 0;
}

/* Trains g in both executors (the JIT built with o, NULL: defaults) and
 * checks errors <= tol; returns the largest error seen. */
static double run_case_with(const IrGraph *g, const char *what, const CgOptions *o, double tol)
{
    int B = g->train.batch;
    char err[256];
    RtExec *ref = rt_exec_interp_new(g, B, err, sizeof err);
    cr_assert(ref, "%s", err);
    RtExec *jit = cg_exec_new(g, B, o, err, sizeof err);
    cr_assert(jit, "%s: %s", what, err);
    rt_exec_init_params(ref, 11);
    rt_exec_init_params(jit, 11);
    double worst = 0;
    for (int s = 1; s <= STEPS + 1; s++) {
        int n = s <= STEPS ? B : B - 2, train = s <= STEPS;
        feed(jit, ref, g, n, 97u * (unsigned)s);
        RtStepArgs a = {.n = n, .lr = g->train.lr, .step = s, .seed = 1234, .train = train};
        if (train) {
            rt_exec_step(jit, &a);
            rt_exec_step(ref, &a);
        } else {
            rt_exec_forward(jit, &a);
            rt_exec_forward(ref, &a);
        }
        double e = loss_err(jit, ref, g);
        cr_expect(e <= tol, "%s: losses after step %d differ by %g", what, s, e);
        worst = e > worst ? e : worst;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *nd = g->nodes[i];
        if (nd->op != IR_OP_PARAM && nd->op != IR_OP_STATE)
            continue;
        double e = err_of(rt_exec_buffer(jit, i), rt_exec_buffer(ref, i),
                          ir_type_numel(&nd->type));
        if (zero_grad_param(g, i)) {
            double bound = 2.0 * g->train.lr * STEPS;
            cr_expect(e <= bound, "%s: '%s' differs by %g > %g", what, nd->name, e, bound);
            continue;
        }
        cr_expect(e <= tol, "%s: %s '%s' differs by %g", what, ir_op_info(nd->op)->name,
                  nd->name ? nd->name : "?", e);
        worst = e > worst ? e : worst;
    }
    cr_log_info("%s: max error %.3g (tolerance %.0e), compile %.0f ms", what, worst, tol,
                jit->compile_ms);
    rt_exec_free(jit);
    rt_exec_free(ref);
    return worst;
}

static double run_case(const IrGraph *g, const char *what)
{
    return run_case_with(g, what, NULL, TOL);
}

/* The training pipeline, with the fuse pass at its end when asked. */
static IrGraph *compile_as(const char *src, const char *method, int blocks, bool fuse)
{
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("test.lnet", src, strlen(src), &d);
    if (!g)
        diag_print(&d, stderr);
    cr_assert(g, "frontend failed");
    g->local.method = strcmp(method, "backprop") == 0 ? METHOD_BACKPROP
                    : strcmp(method, "greedy") == 0 ? METHOD_GREEDY : METHOD_CHUNKED;
    g->local.blocks = blocks;
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    const char *pipe = fuse ? PASS_DEFAULT_PIPELINE ",autodiff,optimizer,fuse"
                            : PASS_DEFAULT_PIPELINE ",autodiff,optimizer";
    bool ok = pass_run_pipeline(g, pipe, &ctx);
    if (!ok)
        diag_print(&d, stderr);
    cr_assert(ok, "pipeline failed");
    diag_fini(&d);
    return g;
}

static IrGraph *compile(const char *src, const char *method, int blocks)
{
    return compile_as(src, method, blocks, false);
}

/* Each split block on its own: links and data are fresh random inputs. */
static void run_blocks(const IrGraph *g, const char *what)
{
    Diag d;
    diag_init(&d);
    PassBlocks bs = {0};
    cr_assert(pass_split(g, &bs, &d), "split failed");
    cr_expect_gt(bs.n, 1, "%s: expected several blocks", what);
    for (int b = 0; b < bs.n; b++) {
        char name[128];
        snprintf(name, sizeof name, "%s block %d", what, b);
        bs.b[b].g->train = g->train;
        run_case(bs.b[b].g, name);
    }
    pass_blocks_fini(&bs);
    diag_fini(&d);
}

/* Every method, unfused and fused (the interpreter runs a fused op as the
 * unfused sequence). */
static void model_cases(const char *src, const char *name)
{
    static const char *const methods[] = {"backprop", "greedy", "chunked"};
    for (int i = 0; i < 6; i++) {
        char what[96];
        snprintf(what, sizeof what, "%s %s%s", name, methods[i % 3], i >= 3 ? " fused" : "");
        IrGraph *g = compile_as(src, methods[i % 3], i % 3 == 2 ? 2 : 0, i >= 3);
        run_case(g, what);
        if (i % 3 == 2)
            run_blocks(g, what);
        ir_graph_free(g);
    }
}

Test(codegen_step, mlp_adam_clip_dropout) { model_cases(mlp_src, "mlp"); }
Test(codegen_step, cnn_sgd_nesterov) { model_cases(cnn_src, "cnn"); }
/* The shifted and the Winograd conv products under backprop, unfused and
 * fused (the local methods run the same kernels: the small CNN above covers
 * them). */
Test(codegen_step, wide_cnn_adam)
{
    for (int fuse = 0; fuse < 4; fuse++) {
        IrGraph *g = compile_as(fuse < 2 ? wide_cnn_src : wino_cnn_src, "backprop", 0, fuse % 2);
        static const char *const what[] = {"wide cnn", "wide cnn fused", "winograd cnn",
                                           "winograd cnn fused"};
        run_case(g, what[fuse]);
        ir_graph_free(g);
    }
}
Test(codegen_step, transformer_adamw_clip) { model_cases(tf_src, "transformer"); }

/* no_contract: identical floats, step after step. */
Test(codegen_step, exact_without_contraction)
{
    CgOptions o;
    cg_options_init(&o);
    o.no_contract = true;
    IrGraph *g = compile(mlp_src, "chunked", 2);
    cr_expect_eq(run_case_with(g, "mlp exact", &o, 0.0), 0.0);
    ir_graph_free(g);
    g = compile(cnn_src, "backprop", 0);
    cr_expect_eq(run_case_with(g, "cnn exact", &o, 0.0), 0.0);
    ir_graph_free(g);
    g = compile_as(mlp_src, "chunked", 2, true);
    cr_expect_eq(run_case_with(g, "mlp fused exact", &o, 0.0), 0.0);
    ir_graph_free(g);
    g = compile_as(cnn_src, "backprop", 0, true);
    cr_expect_eq(run_case_with(g, "cnn fused exact", &o, 0.0), 0.0);
    ir_graph_free(g);
    g = compile_as(wide_cnn_src, "backprop", 0, true);
    cr_expect_eq(run_case_with(g, "wide cnn fused exact", &o, 0.0), 0.0);
    ir_graph_free(g);
    g = compile_as(wino_cnn_src, "backprop", 0, true);      /* no Winograd here */
    cr_expect_eq(run_case_with(g, "winograd cnn fused exact", &o, 0.0), 0.0);
    ir_graph_free(g);
}
