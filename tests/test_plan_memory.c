/* test_plan_memory.c — the memory plan (passes/plan_memory.c) and the
 * compiled executors running over it.
 *
 *  - The plan's invariant, checked by an independent simulation of both
 *    orders the entries run nodes in (node order for `_step`, phase order for
 *    `_forward`/`_backward`/`_update`): when a node writes its output, no
 *    other value still to be read (including the node's own inputs) shares a
 *    byte with it. Over random graphs (elementwise ops, matmuls, bias, views;
 *    random extra `keep` marks) and the three example models under every
 *    method, whole graphs and split blocks.
 *  - Values something outside a step touches are never in the slab: sources,
 *    scalars (losses, counts), gradients of parameters and of IR_F_WANT_GRAD
 *    inputs, values seeded by IR_F_GRAD_SEED inputs, kept nodes.
 *  - The slab is no larger than the values it holds; the totals add up.
 *  - JIT with the plan == JIT without it, bit for bit (losses after every
 *    step, parameters and optimizer state at the end), the phase entries over
 *    the plan == the whole step, and the planned JIT == the interpreter within
 *    the tolerance of test_codegen_step.c (1e-5; no FMA contraction for the
 *    random graphs).
 *  - Training through the trainer (lockstep and local chunked K = 2,
 *    data-parallel, pipeline stages): checkpoints with the plan are byte for
 *    byte those without it (LNET_NO_MEMPLAN=1), and the report's act_bytes
 *    is the planned executor's, below one buffer per value.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_graph.h"
#include "codegen.h"
#include "exec.h"
#include "frontend.h"
#include "passes.h"
#include "safetensors.h"
#include "train.h"

#define TOL 1e-5
#define STEPS 4

/* ------------------------------------------------ an independent checker */

static bool view_op(IrOp op)
{
    return op == IR_OP_FLATTEN || op == IR_OP_RESHAPE || op == IR_OP_RESHAPE_LIKE ||
           op == IR_OP_STOP_GRADIENT;
}

static int src_of(const IrGraph *g, int id)
{
    while (view_op(g->nodes[id]->op))
        id = g->nodes[id]->in[0];
    return id;
}

static bool executes(const IrNode *n)
{
    return ir_op_info(n->op)->kind != IR_KIND_SOURCE && !view_op(n->op);
}

static bool external(const IrGraph *g, int s, const unsigned char *keep)
{
    const IrNode *n = g->nodes[s];
    if (ir_op_info(n->op)->kind == IR_KIND_SOURCE || n->type.rank == 0 ||
        (g->loss >= 0 && s == src_of(g, g->loss)))
        return true;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *m = g->nodes[i];
        if ((keep && keep[i]) || (m->flags & IR_F_LOSS))
            if (src_of(g, i) == s)
                return true;
        bool grad = m->op == IR_OP_PARAM || (m->flags & (IR_F_WANT_GRAD | IR_F_GRAD_SEED));
        if (grad && m->grad >= 0 && src_of(g, m->grad) == s)
            return true;
    }
    return false;
}

/* Checks p for g; returns the number of values in the slab. */
static int check_plan(const IrGraph *g, const PassMemPlan *p, const unsigned char *keep,
                      const char *what)
{
    int n = g->n_nodes, in_slab = 0;
    cr_assert_eq(p->n, n);
    int64_t total = 0, slab_values = 0;
    for (int i = 0; i < n; i++) {
        const IrNode *nd = g->nodes[i];
        int64_t c = ir_type_numel(&nd->type) * (ir_type_batched(&nd->type) ? p->max_batch : 1);
        int64_t want = view_op(nd->op) ? 0 : (4 * (c > 1 ? c : 2) + 63) / 64 * 64;
        cr_assert_eq(p->bytes[i], want, "%s: %%%d bytes", what, i);
        total += want;
        if (view_op(nd->op)) {
            cr_assert_eq(p->offset[i], -1, "%s: view %%%d has an offset", what, i);
            continue;
        }
        if (p->offset[i] < 0)
            continue;
        in_slab++;
        slab_values += p->bytes[i];
        cr_assert(executes(nd), "%s: %%%d (%s) is in the slab", what, i,
                  ir_op_info(nd->op)->name);
        cr_assert(!external(g, i, keep), "%s: external value %%%d (%s) is in the slab", what, i,
                  ir_op_info(nd->op)->name);
        cr_assert(p->offset[i] % 64 == 0 && p->offset[i] + p->bytes[i] <= p->slab,
                  "%s: %%%d at %lld", what, i, (long long)p->offset[i]);
    }
    cr_assert_eq(in_slab, p->n_slab, "%s", what);
    cr_assert_eq(slab_values, p->slab_values, "%s", what);
    cr_assert_eq(total, p->slab_values + p->own_bytes + p->state_bytes, "%s", what);
    cr_assert_leq(p->slab, p->slab_values, "%s", what);

    unsigned char *phase = calloc((size_t)n + 1, 1);
    int *at = calloc((size_t)n + 1, sizeof *at), *last = calloc((size_t)n + 1, sizeof *last);
    cr_assert(phase && at && last);
    ir_graph_phases(g, phase);
    for (int order = 0; order < 2; order++) {
        int t = 0;
        for (int i = 0; i < n; i++)
            at[i] = -1;
        if (order == 0) {
            for (int i = 0; i < n; i++)
                if (executes(g->nodes[i]))
                    at[i] = t++;
        } else {
            for (int ph = 0; ph < 3; ph++)
                for (int i = 0; i < n; i++)
                    if (phase[i] == ph && executes(g->nodes[i]))
                        at[i] = t++;
        }
        for (int i = 0; i < n; i++)
            last[i] = -1;
        for (int u = 0; u < n; u++)
            for (int k = 0; at[u] >= 0 && k < g->nodes[u]->n_in; k++) {
                int s = src_of(g, g->nodes[u]->in[k]);
                last[s] = at[u] > last[s] ? at[u] : last[s];
            }
        /* Node u writes its output: no slab value defined before it and read
         * at or after it may share a byte with it. */
        for (int u = 0; u < n; u++) {
            if (at[u] < 0 || p->offset[u] < 0)
                continue;
            int64_t lo = p->offset[u], hi = lo + p->bytes[u];
            for (int v = 0; v < n; v++) {
                if (v == u || p->offset[v] < 0 || at[v] < 0 || at[v] >= at[u] || last[v] < at[u])
                    continue;
                bool overlap = p->offset[v] < hi && lo < p->offset[v] + p->bytes[v];
                cr_assert(!overlap, "%s (%s order): %%%d (%s) overwrites live %%%d (%s)", what,
                          order ? "phase" : "node", u, ir_op_info(g->nodes[u]->op)->name, v,
                          ir_op_info(g->nodes[v]->op)->name);
            }
        }
    }
    free(phase);
    free(at);
    free(last);
    return in_slab;
}

static int plan_and_check(const IrGraph *g, int max_batch, const unsigned char *keep,
                          const char *what)
{
    PassMemPlan p;
    pass_mem_plan(g, max_batch, keep, &p);
    int k = check_plan(g, &p, keep, what);
    cr_log_info("%s: slab %lld bytes for %lld (%d values)", what, (long long)p.slab,
                (long long)p.slab_values, p.n_slab);
    pass_mem_plan_fini(&p);
    return k;
}

/* ------------------------------------------------------- random graphs */

static unsigned rnd(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* A random DAG over f32[N,D] values; every value reaches the mse loss. */
static IrGraph *random_graph(unsigned seed)
{
    IrGraph *g = ir_graph_new("rand");
    unsigned s = seed * 2654435761u + 1;
    int64_t D = 3 + rnd(&s) % 6;
    int x = tb_input(g, "x", 1, (int64_t[]){D});
    int t = tb_input(g, "t", 1, (int64_t[]){D});
    int vals[96], nv = 0, np = 0;
    bool used[512] = {false};
    vals[nv++] = tb_op2(g, IR_OP_MATMUL, x, tb_param(g, "w", 2, (int64_t[]){D, D}));
    used[x] = true;
    int ops = 6 + (int)(rnd(&s) % 30);
    for (int i = 0; i < ops; i++) {
        int a = vals[nv - 1 - (int)(rnd(&s) % (unsigned)(nv < 4 ? nv : 4))];
        int b = vals[rnd(&s) % (unsigned)nv];
        int y;
        char name[16];
        switch (rnd(&s) % 11) {
        case 0: y = tb_op2(g, IR_OP_ADD, a, b); break;
        case 1: y = tb_op2(g, IR_OP_MUL, a, b); break;
        case 2: y = tb_op2(g, IR_OP_SUB, a, b); break;
        case 3: y = tb_op1(g, IR_OP_RELU, a); break;
        case 4: y = tb_op1(g, IR_OP_TANH, a); break;
        case 5: y = tb_op1(g, IR_OP_SIGMOID, a); break;
        case 6:
        case 7:
            snprintf(name, sizeof name, "w%d", np++);
            y = tb_op2(g, IR_OP_MATMUL, a, tb_param(g, name, 2, (int64_t[]){D, D}));
            break;
        case 8: {
            snprintf(name, sizeof name, "b%d", np++);
            int in[2] = {a, tb_param(g, name, 1, (int64_t[]){D})};
            y = tb_op(g, IR_OP_BIAS_ADD, in, 2, &(IrAttrs){.axis = -1});
            break;
        }
        case 9:
            y = tb_op(g, IR_OP_RESHAPE, &a, 1, &(IrAttrs){.rank = 1, .shape = {D}});
            break;
        default:
            y = tb_op(g, IR_OP_MUL_SCALAR, &a, 1, &(IrAttrs){.scalar = 0.5f});
            break;
        }
        for (int k = 0; k < g->nodes[y]->n_in; k++)
            used[g->nodes[y]->in[k]] = true;
        vals[nv++] = y;
    }
    int y = vals[nv - 1];
    for (int i = 0; i < nv - 1; i++)
        if (!used[vals[i]])
            y = tb_op2(g, IR_OP_ADD, y, vals[i]);
    g->loss = tb_op2(g, IR_OP_MSE, y, t);
    g->train.batch = 6;
    g->train.optimizer = OPT_SGD;   /* Adam would turn rounding noise of a ~0 gradient into ±lr */
    g->train.lr = 1e-2f;
    tb_passes(g, "autodiff,optimizer");
    return g;
}

Test(plan_memory, invariant_over_random_graphs)
{
    int planned = 0;
    for (unsigned seed = 0; seed < 60; seed++) {
        IrGraph *g = random_graph(seed);
        char what[64];
        snprintf(what, sizeof what, "random graph %u", seed);
        for (int b = 1; b <= 7; b += 6) {
            planned += plan_and_check(g, b, NULL, what);
            unsigned char *keep = calloc((size_t)g->n_nodes, 1);
            unsigned s = seed + 99;
            for (int i = 0; i < g->n_nodes; i++)
                keep[i] = rnd(&s) % 5 == 0;
            plan_and_check(g, b, keep, what);
            free(keep);
        }
        ir_graph_free(g);
    }
    cr_expect_gt(planned, 100, "the plan should put many values in the slab");
}

/* ------------------------------------------------------ example models */

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

static IrGraph *compile(const char *src, const char *method, int blocks)
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
    bool ok = pass_run_pipeline(g, PASS_DEFAULT_PIPELINE ",autodiff,optimizer", &ctx);
    if (!ok)
        diag_print(&d, stderr);
    cr_assert(ok, "pipeline failed");
    diag_fini(&d);
    return g;
}

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

/* The same random batch into every executor's inputs and labels. */
static void feed(RtExec **e, int ne, const IrGraph *g, int n, unsigned seed)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *nd = g->nodes[i];
        if (nd->op != IR_OP_INPUT && nd->op != IR_OP_LABEL)
            continue;
        int64_t L = ir_type_numel(&nd->type) * n;
        float *fa = rt_exec_buffer(e[0], i);
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
        for (int j = 1; j < ne; j++)
            memcpy(rt_exec_buffer(e[j], i), fa, (size_t)L * 4);
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

/* The attention key bias: its true gradient is zero, both executors compute
 * noise that Adam normalizes (see test_codegen_step.c). */
static bool zero_grad_param(const IrGraph *g, int i)
{
    const IrNode *p = g->nodes[i];
    if (p->op == IR_OP_STATE)
        p = g->nodes[p->state];
    size_t len = p->name ? strlen(p->name) : 0;
    return len >= 4 && strcmp(p->name + len - 4, ".k.b") == 0;
}

enum { REF, PLAIN, PLANNED, PHASES, N_EXEC };

static RtExec *jit(const IrGraph *g, int B, const CgOptions *o, bool plan)
{
    char err[256];
    RtExec *e = cg_exec_new(g, B, o, err, sizeof err);
    cr_assert(e, "%s", err);
    if (plan)
        cr_assert(rt_exec_plan(e, NULL));
    return e;
}

/* Trains g in the interpreter and in three JIT executors (unplanned; planned;
 * planned, run phase by phase) from the same start on the same batches. */
static void run_case(const IrGraph *g, const char *what, const CgOptions *o, double tol)
{
    int B = g->train.batch;
    char err[256];
    plan_and_check(g, B, NULL, what);
    RtExec *e[N_EXEC];
    e[REF] = rt_exec_interp_new(g, B, err, sizeof err);
    cr_assert(e[REF], "%s", err);
    e[PLAIN] = jit(g, B, o, false);
    e[PLANNED] = jit(g, B, o, true);
    e[PHASES] = jit(g, B, o, true);
    cr_expect_lt(e[PLANNED]->act_bytes, e[PLAIN]->act_bytes, "%s: planned %lld, unplanned %lld",
                 what, (long long)e[PLANNED]->act_bytes, (long long)e[PLAIN]->act_bytes);
    cr_expect_eq(e[PLAIN]->act_bytes, rt_graph_act_bytes(g, B));
    for (int j = 0; j < N_EXEC; j++)
        rt_exec_init_params(e[j], 11);
    for (int s = 1; s <= STEPS + 1; s++) {
        int n = s <= STEPS ? B : B - 2, train = s <= STEPS;
        feed(e, N_EXEC, g, n, 97u * (unsigned)s);
        RtStepArgs a = {.n = n, .lr = g->train.lr, .step = s, .seed = 1234, .train = train};
        for (int j = 0; j < N_EXEC; j++) {
            if (!train) {
                rt_exec_forward(e[j], &a);
            } else if (j == PHASES) {
                rt_exec_forward(e[j], &a);
                rt_exec_backward(e[j], &a);
                rt_exec_update(e[j], &a);
            } else {
                rt_exec_step(e[j], &a);
            }
        }
        for (int i = 0; i < g->n_nodes; i++) {
            if (!is_loss(g, i))
                continue;
            size_t L = g->nodes[i]->op == IR_OP_CROSS_ENTROPY ? 2 : 1;
            for (int j = PLANNED; j <= PHASES; j++)
                cr_expect(memcmp(rt_exec_buffer(e[j], i), rt_exec_buffer(e[PLAIN], i), L * 4) == 0,
                          "%s: loss %%%d after step %d: %s differs from the unplanned JIT", what,
                          i, s, j == PLANNED ? "planned step" : "planned phases");
            double d = err_of(rt_exec_buffer(e[PLANNED], i), rt_exec_buffer(e[REF], i), (int64_t)L);
            cr_expect(d <= tol, "%s: loss %%%d after step %d differs from the interpreter by %g",
                      what, i, s, d);
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *nd = g->nodes[i];
        if (nd->op != IR_OP_PARAM && nd->op != IR_OP_STATE)
            continue;
        int64_t L = ir_type_numel(&nd->type);
        for (int j = PLANNED; j <= PHASES; j++)
            cr_expect(memcmp(rt_exec_buffer(e[j], i), rt_exec_buffer(e[PLAIN], i), (size_t)L * 4) ==
                          0,
                      "%s: '%s' differs from the unplanned JIT", what, nd->name ? nd->name : "?");
        double d = err_of(rt_exec_buffer(e[PLANNED], i), rt_exec_buffer(e[REF], i), L);
        double bound = zero_grad_param(g, i) ? 2.0 * g->train.lr * STEPS : tol;
        cr_expect(d <= bound, "%s: '%s' differs from the interpreter by %g", what,
                  nd->name ? nd->name : "?", d);
    }
    for (int j = 0; j < N_EXEC; j++)
        rt_exec_free(e[j]);
}

static void model_cases(const char *src, const char *name)
{
    static const char *const methods[] = {"backprop", "greedy", "chunked"};
    for (int i = 0; i < 3; i++) {
        char what[96];
        snprintf(what, sizeof what, "%s %s", name, methods[i]);
        IrGraph *g = compile(src, methods[i], i == 2 ? 2 : 0);
        run_case(g, what, NULL, TOL);
        if (i == 2) {
            Diag d;
            diag_init(&d);
            PassBlocks bs = {0};
            cr_assert(pass_split(g, &bs, &d), "split failed");
            for (int b = 0; b < bs.n; b++) {
                char bw[128];
                snprintf(bw, sizeof bw, "%s block %d", what, b);
                bs.b[b].g->train = g->train;
                run_case(bs.b[b].g, bw, NULL, TOL);
            }
            pass_blocks_fini(&bs);
            diag_fini(&d);
        }
        ir_graph_free(g);
    }
}

Test(plan_memory, mlp) { model_cases(mlp_src, "mlp"); }
Test(plan_memory, cnn) { model_cases(cnn_src, "cnn"); }
Test(plan_memory, transformer) { model_cases(tf_src, "transformer"); }

Test(plan_memory, random_graphs_run_as_the_interpreter)
{
    CgOptions o;
    cg_options_init(&o);
    o.no_contract = true;
    for (unsigned seed = 0; seed < 6; seed++) {
        IrGraph *g = random_graph(100 + seed);
        char what[64];
        snprintf(what, sizeof what, "random graph %u", 100 + seed);
        run_case(g, what, &o, TOL);
        ir_graph_free(g);
    }
}

/* ------------------------------------------------------------ training */

static const char *const fm_mlp =
    "model fmlp\n"
    "input image : f32[28, 28]\n"
    "label class : class[10]\n"
    "x = relu(dense(flatten(image), 48))\n"
    "x = relu(dense(x, 32))\n"
    "x = relu(dense(x, 24))\n"
    "loss cross_entropy(dense(x, 10), class)\n"
    "train { data = fashion_mnist optimizer = adam(lr = 2e-3) batch = 32 epochs = 1 seed = 5 }\n";

#define TRAIN_STEPS 5

/* The pipeline stages' graphs: the activation sent on (seeded by the
 * IR_F_GRAD_SEED input) and d(input) stay out of the slab. */
Test(plan_memory, pipeline_stage_values_stay_out)
{
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("t.lnet", fm_mlp, strlen(fm_mlp), &d);
    cr_assert(g);
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    cr_assert(pass_run_pipeline(g, "shape,verify", &ctx));
    PassBlocks bs = {0};
    cr_assert(pass_stages(g, 2, &bs, &ctx));
    int marked = 0;
    for (int k = 0; k < bs.n; k++) {
        const IrGraph *sg = bs.b[k].g;
        PassMemPlan p;
        pass_mem_plan(sg, 9, NULL, &p);
        check_plan(sg, &p, NULL, "pipeline stage");
        for (int i = 0; i < sg->n_nodes; i++) {
            const IrNode *n = sg->nodes[i];
            if ((n->flags & (IR_F_GRAD_SEED | IR_F_WANT_GRAD)) && n->grad >= 0) {
                cr_expect_eq(p.offset[src_of(sg, n->grad)], -1);
                marked++;
            }
        }
        pass_mem_plan_fini(&p);
    }
    cr_expect_eq(marked, 2);
    pass_blocks_fini(&bs);
    ir_graph_free(g);
    diag_fini(&d);
}


typedef struct {
    IrGraph *g;
    PassBlocks bs;
    RtBlockSpec spec[8];
    RtLink links[64];
} Blocks;

/* The model as blocks: chunked K = 2 (split) or K = 2 pipeline stages. */
static void make_blocks(Blocks *s, bool stages)
{
    memset(s, 0, sizeof *s);
    Diag d;
    diag_init(&d);
    s->g = fe_compile("t.lnet", fm_mlp, strlen(fm_mlp), &d);
    cr_assert(s->g);
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    if (stages) {
        cr_assert(pass_run_pipeline(s->g, "shape,verify", &ctx));
        cr_assert(pass_stages(s->g, 2, &s->bs, &ctx));
    } else {
        s->g->local.method = METHOD_CHUNKED;
        s->g->local.blocks = 2;
        cr_assert(pass_run_pipeline(s->g, PASS_DEFAULT_PIPELINE ",autodiff,optimizer", &ctx));
        cr_assert(pass_split(s->g, &s->bs, &d));
    }
    diag_fini(&d);
    int nl = 0;
    for (int k = 0; k < s->bs.n; k++) {
        const PassBlock *b = &s->bs.b[k];
        s->spec[k] = (RtBlockSpec){b->g, -1, -1, 0, &s->links[nl], 0};
        for (int i = 0; i < b->n_inputs; i++) {
            const PassBlockInput *in = &b->inputs[i];
            if (in->kind != PASS_IO_DATA)
                s->links[nl++] = (RtLink){in->node, in->src_block, in->src_node,
                                   in->kind == PASS_IO_PARAM ? RT_LINK_PARAM : RT_LINK_VALUE},
                s->spec[k].n_links++;
            else if (b->g->nodes[in->node]->op == IR_OP_LABEL)
                s->spec[k].in_y = in->node;
            else
                s->spec[k].in_x = in->node;
        }
    }
}

static char *tmp_path(const char *name)
{
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "/tmp/lnet_test_plan_memory_%d_%s", (int)getpid(), name);
    return p;
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

typedef enum { LOCKSTEP, LOCAL, DATA_PARALLEL, PIPELINE } Schedule;

/* Trains with and without the plan; the checkpoints must be identical. */
static void train_both(Schedule sch)
{
    Blocks s;
    bool blocks = sch == LOCKSTEP || sch == LOCAL || sch == PIPELINE;
    if (blocks)
        make_blocks(&s, sch == PIPELINE);
    else {
        memset(&s, 0, sizeof s);
        Diag d;
        diag_init(&d);
        s.g = fe_compile("t.lnet", fm_mlp, strlen(fm_mlp), &d);
        cr_assert(s.g);
        PassCtx ctx;
        pass_ctx_init(&ctx, &d);
        cr_assert(pass_run_pipeline(s.g, "shape,verify,autodiff,optimizer", &ctx));
        diag_fini(&d);
    }
    char *path[2] = {tmp_path("plain"), tmp_path("planned")};
    RtTrainResult r[2];
    for (int run = 0; run < 2; run++) {
        if (run == 0)
            setenv("LNET_NO_MEMPLAN", "1", 1);
        else
            unsetenv("LNET_NO_MEMPLAN");
        RtTrainOpts o = {0};
        o.train_limit = 640;
        o.test_limit = 64;
        o.max_steps = TRAIN_STEPS;
        o.quiet = true;
        o.save_path = path[run];
        o.make_exec = cg_exec_factory;
        o.schedule = sch == LOCAL ? RT_SCHED_LOCAL : RT_SCHED_SEQUENTIAL;
        if (sch == DATA_PARALLEL) {
            o.schedule = RT_SCHED_DATA_PARALLEL;
            o.cores = 2;
        } else if (sch == PIPELINE) {
            o.schedule = RT_SCHED_PIPELINE;
            o.cores = s.bs.n;       /* one thread per stage */
            o.microbatches = 4;
        }
        char err[512];
        bool ok = blocks ? rt_train_blocks(s.g, s.spec, s.bs.n, &o, &r[run], err, sizeof err)
                         : rt_train(s.g, &o, &r[run], err, sizeof err);
        cr_assert(ok, "%s", err);
        cr_assert_eq(r[run].steps, TRAIN_STEPS);
    }
    cr_expect(same_bytes(path[0], path[1]), "checkpoints with and without the plan differ");
    cr_expect_eq(r[0].last_loss, r[1].last_loss);
    cr_expect_eq(r[0].final.loss, r[1].final.loss);
    for (int k = 0; k < r[1].n_blocks; k++) {
        const IrGraph *g = blocks ? s.spec[k].g : s.g;
        cr_expect_eq(r[0].act_bytes[k], rt_graph_act_bytes(g, 32));
        cr_expect_lt(r[1].act_bytes[k], r[0].act_bytes[k], "block %d: planned %lld of %lld", k,
                     (long long)r[1].act_bytes[k], (long long)r[0].act_bytes[k]);
        cr_log_info("block %d: act_bytes planned %lld, unplanned %lld", k,
                    (long long)r[1].act_bytes[k], (long long)r[0].act_bytes[k]);
    }
    unlink(path[0]);
    unlink(path[1]);
    if (blocks)
        pass_blocks_fini(&s.bs);
    ir_graph_free(s.g);
}

Test(plan_training, lockstep_chunked) { train_both(LOCKSTEP); }
Test(plan_training, local_chunked) { train_both(LOCAL); }
Test(plan_training, data_parallel) { train_both(DATA_PARALLEL); }
Test(plan_training, pipeline_stages) { train_both(PIPELINE); }
