/* test_baselines.c — the backprop baselines lnet's local parallelism is
 * compared against, under the same compiler and kernels:
 *
 *  - phases: an executor's forward, backward and update entries, run in turn,
 *    equal its whole step bit for bit (interpreter and JIT, MLP and CNN);
 *  - data-parallel, 2 replicas: parameters and optimizer state after 6 steps
 *    on Fashion-MNIST equal plain backprop's within DP_TOL (relative to the
 *    tensor's scale), SGD and Adam, interpreter and JIT; two runs are
 *    bit-identical; a thread count that does not divide the batch is an error.
 *  - pipeline (GPipe): the stages of pass_stages, K = 2 with M = 4
 *    micro-batches (and K = 3, M = 2), equal plain backprop within the same
 *    DP_TOL, two runs bit-identical; too many stages, micro-batches that do
 *    not divide the batch and gradient clipping are errors.
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
#include "safetensors.h"
#include "train.h"

#include <unistd.h>

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

/* ------------------------------------------------------------ training */

static const char *const fm_mlp =
    "model fmlp\n"
    "input image : f32[28, 28]\n"
    "label class : class[10]\n"
    "x = relu(dense(flatten(image), 48))\n"
    "x = relu(dense(x, 32))\n"
    "x = relu(dense(x, 24))\n"
    "loss cross_entropy(dense(x, 10), class)\n"
    "train { data = fashion_mnist optimizer = OPT batch = 32 epochs = 1 seed = 5 }\n";

static const char *const fm_cnn =
    "model fcnn\n"
    "input image : f32[28, 28]\n"
    "label class : class[10]\n"
    "x = reshape(image, 1, 28, 28)\n"
    "x = relu(conv2d(x, 4, kernel = 3, padding = 1))\n"
    "x = maxpool(x, 2)\n"
    "x = relu(conv2d(x, 6, kernel = 3, padding = 1))\n"
    "x = maxpool(x, 2)\n"
    "loss cross_entropy(dense(flatten(x), 10), class)\n"
    "train { data = fashion_mnist optimizer = OPT batch = 32 epochs = 1 seed = 5 }\n";

#define SGD "sgd(lr = 0.05, momentum = 0.9)"
#define ADAM "adam(lr = 2e-3)"
#define STEPS 6

/* The model text with OPT replaced by an optimizer (static buffer). */
static const char *with_opt(const char *src, const char *opt)
{
    static char buf[2048];
    const char *at = strstr(src, "OPT");
    cr_assert(at);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - src), src, opt, at + 3);
    return buf;
}

static char *tmp_path(const char *name)
{
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "/tmp/lnet_test_baselines_%d_%s", (int)getpid(), name);
    return p;
}

static RtTrainOpts train_opts(bool jit, const char *save)
{
    RtTrainOpts o = {0};
    o.train_limit = 640;
    o.test_limit = 64;
    o.max_steps = STEPS;
    o.quiet = true;
    o.save_path = save;
    o.make_exec = jit ? cg_exec_factory : NULL;
    return o;
}

/* Largest |a - b| / max(1, max |b|) over every f32 tensor of two checkpoints
 * (same names); INFINITY when either holds a NaN or an infinity; -1 when they
 * hold different tensors. */
static double ckpt_diff(const char *pa, const char *pb)
{
    StFile a, b;
    char err[256];
    cr_assert(st_load(pa, &a, err, sizeof err), "%s", err);
    cr_assert(st_load(pb, &b, err, sizeof err), "%s", err);
    double worst = a.n == b.n ? 0 : -1;
    for (int i = 0; i < a.n && worst >= 0; i++) {
        const StTensor *ta = &a.t[i], *tb = st_find(&b, ta->name);
        if (!tb || tb->nbytes != ta->nbytes) {
            worst = -1;
            break;
        }
        if (ta->dtype != ST_F32)
            continue;
        const float *x = ta->data, *y = tb->data;
        int64_t n = (int64_t)(ta->nbytes / 4);
        double d = 0, m = 1;
        for (int64_t j = 0; j < n; j++) {
            if (!isfinite(x[j]) || !isfinite(y[j])) {   /* fmax would skip a NaN */
                d = INFINITY;
                break;
            }
            d = fmax(d, fabs((double)x[j] - (double)y[j]));
            m = fmax(m, fabs((double)y[j]));
        }
        worst = fmax(worst, d / m);
    }
    st_free(&a);
    st_free(&b);
    return worst;
}

static bool same_bytes(const char *pa, const char *pb)
{
    StFile a, b;
    char err[256];
    cr_assert(st_load(pa, &a, err, sizeof err), "%s", err);
    cr_assert(st_load(pb, &b, err, sizeof err), "%s", err);
    bool same = a.n == b.n;
    for (int i = 0; i < a.n && same; i++) {
        const StTensor *tb = st_find(&b, a.t[i].name);
        same = tb && tb->nbytes == a.t[i].nbytes &&
               memcmp(tb->data, a.t[i].data, tb->nbytes) == 0;
    }
    st_free(&a);
    st_free(&b);
    return same;
}

/* Trains g (one backprop graph) with o; returns the last training loss. */
static double train(const IrGraph *g, const RtTrainOpts *o)
{
    RtTrainResult r;
    char err[512];
    cr_assert(rt_train(g, o, &r, err, sizeof err), "%s", err);
    cr_assert_eq(r.steps, STEPS);
    return r.last_loss;
}

/* ------------------------------------------------------- data-parallel */

static void dp_equals_backprop(const char *model, const char *opt, bool jit, double tol)
{
    IrGraph *g = compile(with_opt(model, opt), "shape,verify,autodiff,optimizer");
    char *ref = tmp_path("ref"), *a = tmp_path("dp_a"), *b = tmp_path("dp_b");
    RtTrainOpts o = train_opts(jit, ref);
    double l_ref = train(g, &o);
    o = train_opts(jit, a);
    o.schedule = RT_SCHED_DATA_PARALLEL;
    o.cores = 2;
    double l_dp = train(g, &o);
    o.save_path = b;
    double l_again = train(g, &o);
    double d = ckpt_diff(a, ref);
    cr_expect(d >= 0 && d <= tol, "data-parallel vs backprop after %d steps: %g (tolerance %g)",
              STEPS, d, tol);
    cr_expect(fabs(l_dp - l_ref) <= 1e-4 * fabs(l_ref), "loss %g vs %g", l_dp, l_ref);
    cr_expect(same_bytes(a, b) && l_again == l_dp, "two data-parallel runs differ");
    unlink(ref);
    unlink(a);
    unlink(b);
    ir_graph_free(g);
}

/* Measured: 1e-7 to 3e-7 (float summation order); a wrong gradient scale or
 * a missing slice moves parameters by ~lr = 1e-2. */
#define DP_TOL 2e-6

Test(data_parallel, mlp_sgd_interp) { dp_equals_backprop(fm_mlp, SGD, false, DP_TOL); }
Test(data_parallel, mlp_adam_jit) { dp_equals_backprop(fm_mlp, ADAM, true, DP_TOL); }
Test(data_parallel, cnn_sgd_jit) { dp_equals_backprop(fm_cnn, SGD, true, DP_TOL); }
Test(data_parallel, cnn_adam_interp) { dp_equals_backprop(fm_cnn, ADAM, false, DP_TOL); }

Test(data_parallel, threads_must_divide_the_batch)
{
    IrGraph *g = compile(with_opt(fm_mlp, SGD), "shape,verify,autodiff,optimizer");
    RtTrainOpts o = train_opts(false, NULL);
    o.schedule = RT_SCHED_DATA_PARALLEL;
    o.cores = 3;
    RtTrainResult r;
    char err[512];
    cr_assert_not(rt_train(g, &o, &r, err, sizeof err));
    cr_expect_str_eq(err, "data-parallel: the batch (32) must be a multiple of the thread count "
                          "(3), so every thread gets an equal slice");
    ir_graph_free(g);
}

/* ------------------------------------------------------------ pipeline */

typedef struct {
    IrGraph *g;             /* the forward graph, cut into stages */
    PassBlocks bs;
    RtBlockSpec spec[8];
    RtLink links[32];
} Stages;

/* The model cut into K backprop stages and their runtime table (as the CLI
 * builds it); false with the first error in err. */
static bool make_stages(Stages *s, const char *src, int K, char *err, size_t errcap)
{
    memset(s, 0, sizeof *s);
    s->g = compile(src, "shape,verify");
    Diag d;
    diag_init(&d);
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    bool ok = pass_stages(s->g, K, &s->bs, &ctx);
    snprintf(err, errcap, "%s", d.n_msgs ? d.msgs[0].text : "");
    diag_fini(&d);
    int nl = 0;
    for (int k = 0; ok && k < s->bs.n; k++) {
        const PassBlock *b = &s->bs.b[k];
        s->spec[k] = (RtBlockSpec){b->g, -1, -1, 0, &s->links[nl], 0};
        for (int i = 0; i < b->n_inputs; i++) {
            const PassBlockInput *in = &b->inputs[i];
            if (in->kind != PASS_IO_DATA)
                s->links[nl++] = (RtLink){in->node, in->src_block, in->src_node,
                                   in->kind == PASS_IO_PARAM ? RT_LINK_PARAM : RT_LINK_VALUE}, s->spec[k].n_links++;
            else if (b->g->nodes[in->node]->op == IR_OP_LABEL)
                s->spec[k].in_y = in->node;
            else
                s->spec[k].in_x = in->node;
        }
    }
    return ok;
}

static void free_stages(Stages *s)
{
    pass_blocks_fini(&s->bs);
    ir_graph_free(s->g);
}

static double train_pipeline(Stages *s, RtTrainOpts *o, int M)
{
    o->schedule = RT_SCHED_PIPELINE;
    o->cores = s->bs.n;         /* one thread per stage */
    o->microbatches = M;
    RtTrainResult r;
    char err[512];
    cr_assert(rt_train_blocks(s->g, s->spec, s->bs.n, o, &r, err, sizeof err), "%s", err);
    cr_assert_eq(r.steps, STEPS);
    return r.last_loss;
}

static void pipeline_equals_backprop(const char *model, const char *opt, bool jit, int K, int M,
                                     double tol)
{
    const char *src = with_opt(model, opt);
    IrGraph *g = compile(src, "shape,verify,autodiff,optimizer");
    Stages s;
    char err[512];
    cr_assert(make_stages(&s, src, K, err, sizeof err), "%s", err);
    cr_assert_eq(s.bs.n, K);
    char *ref = tmp_path("ref"), *a = tmp_path("pipe_a"), *b = tmp_path("pipe_b");
    RtTrainOpts o = train_opts(jit, ref);
    double l_ref = train(g, &o);
    o = train_opts(jit, a);
    double l_pipe = train_pipeline(&s, &o, M);
    o.save_path = b;
    double l_again = train_pipeline(&s, &o, M);
    double d = ckpt_diff(a, ref);
    cr_expect(d >= 0 && d <= tol, "pipeline K=%d M=%d vs backprop after %d steps: %g "
              "(tolerance %g)", K, M, STEPS, d, tol);
    cr_expect(fabs(l_pipe - l_ref) <= 1e-4 * fabs(l_ref), "loss %g vs %g", l_pipe, l_ref);
    cr_expect(same_bytes(a, b) && l_again == l_pipe, "two pipeline runs differ");
    unlink(ref);
    unlink(a);
    unlink(b);
    free_stages(&s);
    ir_graph_free(g);
}

Test(pipeline, mlp_sgd_interp) { pipeline_equals_backprop(fm_mlp, SGD, false, 2, 4, DP_TOL); }
Test(pipeline, mlp_adam_jit) { pipeline_equals_backprop(fm_mlp, ADAM, true, 2, 4, DP_TOL); }
Test(pipeline, mlp_three_stages_jit) { pipeline_equals_backprop(fm_mlp, SGD, true, 3, 2, DP_TOL); }
Test(pipeline, cnn_adam_interp) { pipeline_equals_backprop(fm_cnn, ADAM, false, 2, 4, DP_TOL); }
Test(pipeline, cnn_sgd_jit) { pipeline_equals_backprop(fm_cnn, SGD, true, 2, 4, DP_TOL); }

Test(pipeline, more_stages_than_layers)
{
    Stages s;
    char err[512];
    cr_assert_not(make_stages(&s, with_opt(fm_mlp, SGD), 5, err, sizeof err));
    cr_expect_str_eq(err, "the pipeline schedule cannot cut this model into 5 stages: it has 3 "
                          "legal cut points between its layers, so at most 4 stages");
    free_stages(&s);
}

Test(pipeline, microbatches_must_divide_the_batch)
{
    Stages s;
    char err[512];
    cr_assert(make_stages(&s, with_opt(fm_mlp, SGD), 2, err, sizeof err), "%s", err);
    RtTrainOpts o = train_opts(false, NULL);
    o.schedule = RT_SCHED_PIPELINE;
    o.microbatches = 3;
    RtTrainResult r;
    cr_assert_not(rt_train_blocks(s.g, s.spec, s.bs.n, &o, &r, err, sizeof err));
    cr_expect_str_eq(err, "pipeline: the batch (32) must be a multiple of the number of "
                          "micro-batches (3), so every micro-batch has the same size");
    free_stages(&s);
}

Test(pipeline, clipping_is_refused)
{
    Stages s;
    char err[512];
    const char *src = with_opt(fm_mlp, "sgd(lr = 0.1) clip = 1");
    cr_assert_not(make_stages(&s, src, 2, err, sizeof err));
    cr_expect_str_eq(err, "the pipeline schedule does not support gradient clipping "
                          "(train.clip): each stage would clip its own gradients");
    free_stages(&s);
}
