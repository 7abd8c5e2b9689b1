/* test_batchnorm.c — batchnorm through the real compiler path (frontend,
 * default passes, autodiff, SGD) in the reference interpreter and in the JIT,
 * against PyTorch (tests/fixtures/batchnorm.safetensors, gen_batchnorm.py):
 * the training-mode forward, every gradient (input included), the running
 * statistics after one and after two steps, and the evaluation-mode forward
 * with the running statistics. Also: the running statistics are state, not
 * trained (no gradient, no optimizer state, not counted as parameters).
 * Tolerance: max|a-b| / max(1, max|b|) <= 1e-5.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "codegen.h"
#include "exec.h"
#include "frontend.h"
#include "passes.h"
#include "safetensors.h"

#define TOL 1e-5

static const char *const src =
    "model tbn\n"
    "input x : f32[2, 6, 6]\n"
    "label y : class[5]\n"
    "h = relu(batchnorm(conv2d(x, 3, padding = 1, bias = 0)))\n"
    "h = maxpool(h, 2)\n"
    "loss cross_entropy(batchnorm(dense(flatten(h), 5)), y)\n"
    "train { optimizer = sgd(lr = 0.1, momentum = 0) batch = 4 seed = 1 }\n";

static IrGraph *compile_src(const char *text, IrMethod method)
{
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("tbn.lnet", text, strlen(text), &d);
    if (!g)
        diag_print(&d, stderr);
    cr_assert(g, "frontend failed");
    g->nodes[0]->flags |= IR_F_WANT_GRAD;       /* grad.x */
    g->local.method = method;
    g->local.overlap = 2;
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    bool ok = pass_run_pipeline(g, PASS_DEFAULT_PIPELINE ",autodiff,optimizer", &ctx);
    if (!ok)
        diag_print(&d, stderr);
    cr_assert(ok, "pipeline failed");
    diag_fini(&d);
    return g;
}

static IrGraph *compile(void) { return compile_src(src, METHOD_BACKPROP); }

static int node_named(const IrGraph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->name && strcmp(g->nodes[i]->name, name) == 0)
            return i;
    cr_assert_fail("no node named %s", name);
    return -1;
}

/* The k-th batchnorm node (the logits are the second). */
static int batchnorm_node(const IrGraph *g, int k)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == IR_OP_BATCHNORM && k-- == 0)
            return i;
    cr_assert_fail("no batchnorm %d", k);
    return -1;
}

static const StTensor *tensor(const StFile *f, const char *name, int64_t n)
{
    const StTensor *t = st_find(f, name);
    cr_assert(t, "fixture tensor %s missing", name);
    cr_assert_eq((int64_t)(t->nbytes / 4), n, "%s: %zu bytes, expected %lld floats", name,
                 t->nbytes, (long long)n);
    return t;
}

static int64_t count(const IrGraph *g, int id, int n)
{
    const IrType *t = &g->nodes[id]->type;
    return ir_type_numel(t) * (ir_type_batched(t) ? n : 1);
}

static void load(RtExec *e, int id, const StFile *f, const char *name, int n)
{
    const StTensor *t = tensor(f, name, count(e->g, id, n));
    memcpy(rt_exec_buffer(e, id), t->data, t->nbytes);
}

static void expect(RtExec *e, int id, const StFile *f, const char *name, int n)
{
    int64_t L = count(e->g, id, n);
    const float *want = tensor(f, name, L)->data, *got = rt_exec_buffer(e, id);
    double diff = 0, scale = 1;
    for (int64_t i = 0; i < L; i++) {
        double d = fabs((double)got[i] - want[i]);
        diff = d > diff || d != d ? d : diff;
        scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    }
    cr_expect(diff / scale <= TOL, "%s: %s differs from PyTorch by %g", e->ops->name, name,
              diff / scale);
}

static const char *const trained[] = {"conv2d_0.w", "batchnorm_0.g", "batchnorm_0.b", "dense_0.w",
                                      "dense_0.b", "batchnorm_1.g", "batchnorm_1.b"};
#define N_TRAINED ((int)(sizeof trained / sizeof trained[0]))

static void expect_running(RtExec *e, const StFile *f, const char *when)
{
    static const char *const stats[] = {"batchnorm_0.running_mean", "batchnorm_0.running_var",
                                        "batchnorm_1.running_mean", "batchnorm_1.running_var"};
    char name[96];
    for (int k = 0; k < 4; k++) {
        snprintf(name, sizeof name, "%s.%s", when, stats[k]);
        expect(e, node_named(e->g, stats[k]), f, name, 1);
    }
}

/* Two training steps on the fixture's batch, then an evaluation forward. */
static void run(RtExec *e, const StFile *f)
{
    const IrGraph *g = e->g;
    int B = 4;
    rt_exec_init_params(e, 1);          /* the running statistics start at 0 and 1 */
    char name[96];
    for (int k = 0; k < N_TRAINED; k++) {
        snprintf(name, sizeof name, "param.%s", trained[k]);
        load(e, node_named(g, trained[k]), f, name, 1);
    }
    load(e, node_named(g, "x"), f, "x", B);
    load(e, node_named(g, "y"), f, "y", B);
    RtStepArgs a = {.n = B, .lr = 0.1f, .step = 1, .seed = 1, .train = true};
    rt_exec_step(e, &a);
    int logits = batchnorm_node(g, 1);
    expect(e, logits, f, "logits", B);
    expect(e, g->loss, f, "loss", 1);
    expect(e, g->nodes[0]->grad, f, "grad.x", B);
    for (int k = 0; k < N_TRAINED; k++) {
        snprintf(name, sizeof name, "grad.%s", trained[k]);
        expect(e, g->nodes[node_named(g, trained[k])]->grad, f, name, 1);
    }
    expect_running(e, f, "step1");
    a.step = 2;
    rt_exec_step(e, &a);
    expect(e, g->loss, f, "step2.loss", 1);
    expect_running(e, f, "step2");
    a.train = false;
    rt_exec_forward(e, &a);
    expect(e, logits, f, "eval.logits", B);
    expect_running(e, f, "step2");       /* evaluation leaves them alone */
}

static StFile fixture(void)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/batchnorm.safetensors", LNET_FIXTURE_DIR);
    StFile f;
    cr_assert(st_load(path, &f, err, sizeof err), "%s", err);
    return f;
}

Test(batchnorm, interpreter_matches_pytorch)
{
    StFile f = fixture();
    IrGraph *g = compile();
    char err[256];
    RtExec *e = rt_exec_interp_new(g, 4, err, sizeof err);
    cr_assert(e, "%s", err);
    run(e, &f);
    rt_exec_free(e);
    ir_graph_free(g);
    st_free(&f);
}

Test(batchnorm, jit_matches_pytorch)
{
    StFile f = fixture();
    IrGraph *g = compile();
    char err[256];
    RtExec *e = cg_exec_new(g, 4, NULL, err, sizeof err);
    cr_assert(e, "%s", err);
    run(e, &f);
    rt_exec_free(e);
    ir_graph_free(g);
    st_free(&f);
}

/* The running statistics: no gradient, no optimizer state or update, not
 * counted as parameters, yet saved (params). */
Test(batchnorm, running_statistics_are_not_trained)
{
    IrGraph *g = compile();
    int n_buffers = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        bool running = n->name && strstr(n->name, ".running_");
        if (n->op == IR_OP_PARAM && running) {
            n_buffers++;
            cr_expect(n->flags & IR_F_BUFFER, "%s is not a buffer", n->name);
            cr_expect_eq(n->grad, -1, "%s has a gradient", n->name);
            cr_expect_eq(ir_param_numel(n), 0, "%s counts as a parameter", n->name);
        }
        if (n->op == IR_OP_STATE)
            cr_expect(!(g->nodes[n->state]->flags & IR_F_BUFFER), "%s: optimizer state of a "
                      "buffer", n->name);
        if (n->op == IR_OP_SGD_UPDATE || n->op == IR_OP_ADAM_UPDATE)
            cr_expect(!(g->nodes[n->in[0]]->flags & IR_F_BUFFER), "update of buffer %s",
                      g->nodes[n->in[0]]->name);
    }
    cr_expect_eq(n_buffers, 4);
    ir_graph_free(g);
}

/* overlap computes a shared layer in both windows, which run at the same
 * time: only one of the two batchnorm nodes may move the running statistics
 * (the other has momentum 0, which writes nothing). */
Test(batchnorm, overlap_updates_shared_running_statistics_once)
{
    static const char *const three =
        "model tbn3\n"
        "input x : f32[2, 6, 6]\n"
        "label y : class[5]\n"
        "h = relu(batchnorm(conv2d(x, 3, padding = 1, bias = 0)))\n"
        "h = relu(batchnorm(conv2d(h, 3, padding = 1, bias = 0)))\n"
        "h = relu(batchnorm(conv2d(h, 3, padding = 1, bias = 0)))\n"
        "loss cross_entropy(dense(flatten(h), 5), y)\n"
        "train { optimizer = sgd(lr = 0.1) batch = 4 }\n";
    IrGraph *g = compile_src(three, METHOD_OVERLAP);
    cr_assert_gt(g->n_blocks, 1);
    int shared = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *p = g->nodes[i];
        if (p->op != IR_OP_PARAM || !(p->flags & IR_F_BUFFER) || !strstr(p->name, "_mean"))
            continue;
        int readers = 0, movers = 0;
        for (int j = 0; j < g->n_nodes; j++) {
            const IrNode *n = g->nodes[j];
            if (n->op == IR_OP_BATCHNORM && n->in[3] == i) {
                readers++;
                movers += n->a.momentum != 0;
            }
        }
        cr_expect_eq(movers, 1, "%s: %d of its %d batchnorm nodes move it", p->name, movers,
                     readers);
        shared += readers > 1;
    }
    cr_expect_gt(shared, 0, "no shared layer with a batchnorm");
    ir_graph_free(g);
}
