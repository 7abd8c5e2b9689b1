/* test_ops_table.c — the op table (ir/ops.def) against the code behind it.
 *
 * For every forward op the test builds a tiny graph around one node of it
 * (build_op): each f32 operand is a batched value that depends on a
 * parameter of its own (input + param), i32 operands are labels, weights are
 * parameters, and the loss is the op itself (losses) or mse(op, target).
 * Then:
 *   1. autodiff succeeds, and operand k's parameter gets a gradient exactly
 *      when the grad column of the op has bit k — so a differentiable op
 *      without a rule, or a rule that forgets an operand, fails here;
 *   2. the differentiated and optimized graph (autodiff, clipping, SGD or
 *      Adam) runs in the reference interpreter and in the JIT, which agree
 *      on every node; every op of the table must have run in some graph
 *      (backward and optimizer ops come from the passes);
 *   3. a node with an op id the table does not define is an error in the
 *      verifier, autodiff, the interpreter and the code generator, never a
 *      skipped node or a zero gradient.
 * The table's own columns are checked for consistency as well.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "build_graph.h"
#include "codegen.h"
#include "exec.h"
#include "passes.h"

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define MAXB 3
#define TOL 1e-4

/* One graph around one op: its node and, per operand, the parameter that
 * operand depends on (-1 when none: labels). */
typedef struct {
    IrGraph *g;
    int node;
    int param[IR_MAX_IN];
} OpGraph;

/* A batched f32 value of non-batch shape dims that depends on a parameter:
 * input + param (the param broadcast over the batch). */
static int data(OpGraph *o, int k, int rank, const int64_t *dims)
{
    char name[16];
    snprintf(name, sizeof name, "x%d", k);
    int x = tb_input(o->g, name, rank, dims);
    snprintf(name, sizeof name, "p%d", k);
    o->param[k] = tb_param(o->g, name, rank, dims);
    return tb_op2(o->g, IR_OP_ADD, x, o->param[k]);
}

static int weight(OpGraph *o, int k, int rank, const int64_t *dims)
{
    char name[16];
    snprintf(name, sizeof name, "w%d", k);
    return o->param[k] = tb_param(o->g, name, rank, dims);
}

static bool op(OpGraph *o, IrOp code, const int *in, int n_in, IrAttrs a)
{
    o->node = tb_op(o->g, code, in, n_in, &a);
    return true;
}

/* Builds the graph of forward op `code` into o; false for the ops no graph is
 * built around: sources, fill and the backward and optimizer ops, which the
 * passes emit. One case per op and no default, as in the code under test. */
static bool build_op(OpGraph *o, IrOp code)
{
    IrAttrs none = {0};
    switch (code) {
    case IR_OP_MATMUL:
        return op(o, code, (int[]){data(o, 0, 2, D(3, 4)), weight(o, 1, 2, D(4, 5))}, 2, none);
    case IR_OP_BIAS_ADD:
        return op(o, code, (int[]){data(o, 0, 2, D(3, 4)), weight(o, 1, 1, D(4))}, 2,
                  (IrAttrs){.axis = -1});
    case IR_OP_BIAS_RELU:       /* the fuse pass's: no gradient, forward runs only */
        return op(o, code, (int[]){data(o, 0, 2, D(3, 4)), weight(o, 1, 1, D(4))}, 2,
                  (IrAttrs){.axis = -1});
    case IR_OP_MATMUL_BIAS:     /* the fuse pass's, with a residual */
        return op(o, code, (int[]){data(o, 0, 2, D(3, 4)), weight(o, 1, 2, D(4, 5)),
                                   weight(o, 2, 1, D(5)), data(o, 3, 2, D(3, 5))}, 4, none);
    case IR_OP_CONV2D_BIAS_RELU:
        return op(o, code, (int[]){data(o, 0, 3, D(2, 5, 5)), weight(o, 1, 4, D(3, 2, 3, 3)),
                                   weight(o, 2, 1, D(3))}, 3, (IrAttrs){.stride = 1, .padding = 1});
    case IR_OP_ADD:
    case IR_OP_SUB:
    case IR_OP_MUL:
    case IR_OP_DIV:             /* b unbatched: broadcast */
        return op(o, code, (int[]){data(o, 0, 1, D(4)), weight(o, 1, 1, D(4))}, 2, none);
    case IR_OP_ADD_SCALAR:
    case IR_OP_MUL_SCALAR:
        return op(o, code, (int[]){data(o, 0, 2, D(3, 4))}, 1, (IrAttrs){.scalar = 1.5f});
    case IR_OP_RELU:
    case IR_OP_GELU:
    case IR_OP_TANH:
    case IR_OP_SIGMOID:
    case IR_OP_SOFTMAX:
    case IR_OP_LOG_SOFTMAX:
    case IR_OP_FLATTEN:
    case IR_OP_GLOBAL_AVG_POOL:
    case IR_OP_STOP_GRADIENT:
        return op(o, code, (int[]){data(o, 0, 3, D(2, 4, 4))}, 1, none);
    case IR_OP_LEAKY_RELU:
        return op(o, code, (int[]){data(o, 0, 3, D(2, 4, 4))}, 1, (IrAttrs){.scalar = 0.2f});
    case IR_OP_DROPOUT:
        return op(o, code, (int[]){data(o, 0, 2, D(3, 4))}, 1, (IrAttrs){.p = 0.5f});
    case IR_OP_RESHAPE:
        return op(o, code, (int[]){data(o, 0, 2, D(3, 4))}, 1,
                  (IrAttrs){.rank = 2, .shape = {2, 6}});
    case IR_OP_TRANSPOSE:
        return op(o, code, (int[]){data(o, 0, 2, D(3, 4))}, 1, (IrAttrs){.perm = {1, 0}});
    case IR_OP_CONV2D:
        return op(o, code, (int[]){data(o, 0, 3, D(2, 5, 5)), weight(o, 1, 4, D(3, 2, 3, 3))},
                  2, (IrAttrs){.stride = 1, .padding = 1});
    case IR_OP_MAXPOOL:
    case IR_OP_AVGPOOL:
        return op(o, code, (int[]){data(o, 0, 3, D(2, 4, 4))}, 1,
                  (IrAttrs){.kernel = 2, .stride = 2});
    case IR_OP_CONV2D_GRAD_X_RELU:  /* the fuse pass's backward ops: run on their own */
        return op(o, code, (int[]){data(o, 0, 3, D(3, 5, 5)), weight(o, 1, 4, D(3, 2, 3, 3)),
                                   data(o, 2, 3, D(2, 5, 5))}, 3,
                  (IrAttrs){.stride = 1, .padding = 1});
    case IR_OP_MAXPOOL_GRAD_RELU:
        return op(o, code, (int[]){data(o, 0, 3, D(2, 2, 2)), data(o, 1, 3, D(2, 4, 4))}, 2,
                  (IrAttrs){.kernel = 2, .stride = 2});
    case IR_OP_LAYERNORM:
        return op(o, code, (int[]){data(o, 0, 2, D(3, 4)), weight(o, 1, 1, D(4)),
                                   weight(o, 2, 1, D(4))}, 3, (IrAttrs){.eps = 1e-5f});
    case IR_OP_BATCHNORM:       /* the running statistics (3, 4) get no gradient */
        return op(o, code, (int[]){data(o, 0, 3, D(3, 2, 2)), weight(o, 1, 1, D(3)),
                                   weight(o, 2, 1, D(3)), weight(o, 3, 1, D(3)),
                                   weight(o, 4, 1, D(3))}, 5,
                  (IrAttrs){.eps = 1e-5f, .momentum = 0.1f});
    case IR_OP_EMBEDDING:
        return op(o, code, (int[]){tb_label(o->g, "ids", 5, 1, D(3)), weight(o, 1, 2, D(5, 4))},
                  2, none);
    case IR_OP_CAUSAL_ATTENTION:
        return op(o, code, (int[]){data(o, 0, 2, D(4, 6)), data(o, 1, 2, D(4, 6)),
                                   data(o, 2, 2, D(4, 6))}, 3, (IrAttrs){.heads = 2});
    case IR_OP_CROSS_ENTROPY:
        return op(o, code, (int[]){data(o, 0, 1, D(5)), tb_label(o->g, "y", 5, 0, NULL)}, 2,
                  none);
    case IR_OP_MSE:
        return op(o, code, (int[]){data(o, 0, 1, D(4)), data(o, 1, 1, D(4))}, 2, none);
    case IR_OP_INPUT:
    case IR_OP_LABEL:
    case IR_OP_PARAM:
    case IR_OP_STATE:
    case IR_OP_FILL:
    case IR_OP_REDUCE_BATCH:
    case IR_OP_RESHAPE_LIKE:
    case IR_OP_SLICE_LAST:
    case IR_OP_MATMUL_GRAD_X:
    case IR_OP_MATMUL_GRAD_W:
    case IR_OP_BIAS_GRAD:
    case IR_OP_DIV_GRAD_B:
    case IR_OP_RELU_GRAD:
    case IR_OP_LEAKY_RELU_GRAD:
    case IR_OP_GELU_GRAD:
    case IR_OP_GELU_GRAD_Y:
    case IR_OP_TANH_GRAD:
    case IR_OP_SIGMOID_GRAD:
    case IR_OP_SOFTMAX_GRAD:
    case IR_OP_LOG_SOFTMAX_GRAD:
    case IR_OP_CONV2D_GRAD_X:
    case IR_OP_CONV2D_GRAD_W:
    case IR_OP_MAXPOOL_GRAD:
    case IR_OP_AVGPOOL_GRAD:
    case IR_OP_GLOBAL_AVG_POOL_GRAD:
    case IR_OP_LAYERNORM_GRAD_X:
    case IR_OP_LAYERNORM_GRAD_X_ADD:
    case IR_OP_LAYERNORM_GRAD_G:
    case IR_OP_BATCHNORM_GRAD_X:
    case IR_OP_BATCHNORM_GRAD_G:
    case IR_OP_EMBEDDING_GRAD:
    case IR_OP_ATTENTION_GRAD:
    case IR_OP_DROPOUT_GRAD:
    case IR_OP_CROSS_ENTROPY_GRAD:
    case IR_OP_MSE_GRAD:
    case IR_OP_SUMSQ:
    case IR_OP_CLIP_FACTOR:
    case IR_OP_SGD_UPDATE:
    case IR_OP_ADAM_UPDATE:
    case IR_OP_COUNT:
        return false;
    }
    return false;
}

/* The graph of forward op `code` with its loss; false when there is none. */
static bool op_graph(OpGraph *o, IrOp code)
{
    memset(o, 0, sizeof *o);
    for (int k = 0; k < IR_MAX_IN; k++)
        o->param[k] = -1;
    o->g = ir_graph_new(ir_op_info(code)->name);
    if (!build_op(o, code)) {
        ir_graph_free(o->g);
        return false;
    }
    const IrNode *n = o->g->nodes[o->node];
    if (n->type.rank == 0) {
        o->g->loss = o->node;
    } else {
        int t = tb_input(o->g, "target", n->type.rank - 1, n->type.dim + 1);
        o->g->loss = tb_op2(o->g, IR_OP_MSE, o->node, t);
    }
    return true;
}

/* Runs pipeline on g; the diagnostics' text on failure (caller frees), else NULL. */
static char *run_passes(IrGraph *g, const char *pipeline)
{
    Diag d;
    diag_init(&d);
    PassCtx ctx = {.diag = &d, .verify_each = true};
    char *text = pass_run_pipeline(g, pipeline, &ctx) ? NULL : tb_diag_text(&d);
    diag_fini(&d);
    return text;
}

/* ----------------------------------------------------------- the table */

Test(ops_table, columns_are_consistent)
{
    for (int i = 0; i < IR_OP_COUNT; i++) {
        const IrOpInfo *r = ir_op_info((IrOp)i);
        cr_expect(r->min_in <= r->max_in && r->max_in <= IR_MAX_IN, "%s: arity", r->name);
        cr_expect((r->kind == IR_KIND_SOURCE) == (r->max_in == 0 && i != IR_OP_FILL),
                  "%s: a source has no operands, and only a source (or fill)", r->name);
        cr_expect(r->grad < (1u << r->max_in), "%s: grad names an operand it lacks", r->name);
        cr_expect(r->grad == 0 || r->kind == IR_KIND_FWD,
                  "%s: only forward ops are differentiated", r->name);
        cr_expect(r->x < r->max_in && r->w < r->max_in && r->x >= -1 && r->w >= -1 &&
                  (r->x < 0 || r->x != r->w), "%s: x and w must be distinct operands", r->name);
        cr_expect(!ir_op_has((IrOp)i, IR_P_VIEW) || r->min_in >= 1,
                  "%s: a view needs an operand", r->name);
        cr_expect(!ir_op_has((IrOp)i, IR_P_BCAST) || r->min_in == r->max_in,
                  "%s: the broadcast operand is the last one, so arity is fixed", r->name);
    }
}

/* ------------------------------------------------------------ autodiff */

Test(ops_table, every_differentiable_op_has_a_gradient_rule)
{
    int checked = 0;
    for (int i = 0; i < IR_OP_COUNT; i++) {
        const IrOpInfo *r = ir_op_info((IrOp)i);
        OpGraph o;
        if (!op_graph(&o, (IrOp)i)) {
            cr_expect(r->kind != IR_KIND_FWD || r->min_in == 0,
                      "forward op %s has no test graph: add it to build_op", r->name);
            continue;
        }
        if (r->kind == IR_KIND_BWD) {   /* the fuse pass's: autodiff never meets them */
            ir_graph_free(o.g);
            continue;
        }
        char *err = run_passes(o.g, "verify,autodiff,verify");
        cr_expect(err == NULL, "%s: autodiff failed:\n%s", r->name, err ? err : "");
        for (int k = 0; !err && k < IR_MAX_IN; k++) {
            if (o.param[k] < 0)
                continue;
            bool has = o.g->nodes[o.param[k]]->grad >= 0;
            bool want = (r->grad >> k) & 1;
            cr_expect(has == want, "%s: operand %d %s a gradient, but the grad column says it "
                      "%s", r->name, k, has ? "gets" : "gets no", want ? "should" : "should not");
        }
        free(err);
        ir_graph_free(o.g);
        checked++;
    }
    cr_expect_gt(checked, 20);
}

/* ------------------------------------------ interpreter and code generator */

static float frand(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / (float)(1u << 24);   /* [0, 1) */
}

/* The same values in both executors: labels in range, floats in [0.5, 1.5)
 * (divisors stay away from 0). */
static void fill(RtExec *a, RtExec *b, const IrGraph *g, int n)
{
    unsigned seed = 7;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *nd = g->nodes[i];
        if (ir_op_info(nd->op)->kind != IR_KIND_SOURCE)
            continue;
        int64_t L = ir_type_numel(&nd->type) * (ir_type_batched(&nd->type) ? n : 1);
        float *fa = rt_exec_buffer(a, i), *fb = rt_exec_buffer(b, i);
        for (int64_t k = 0; k < L; k++) {
            float r = frand(&seed);
            if (nd->op == IR_OP_LABEL) {
                int32_t v = (int32_t)(r * (float)nd->a.classes);
                memcpy(fa + k, &v, 4);
            } else {
                fa[k] = nd->op == IR_OP_STATE ? 0.0f : 0.5f + r;
            }
        }
        memcpy(fb, fa, (size_t)(L > 1 ? L : 1) * 4);
    }
}

/* max |jit - ref| / max(1, max |ref|) over node id's value. */
static double node_err(RtExec *jit, RtExec *ref, const IrGraph *g, int id, int n)
{
    const IrNode *nd = g->nodes[id];
    if (nd->type.dtype != IR_F32)
        return 0;
    int64_t L = ir_type_numel(&nd->type) * (ir_type_batched(&nd->type) ? n : 1);
    const float *a = rt_exec_buffer(jit, id), *b = rt_exec_buffer(ref, id);
    double diff = 0, scale = 1;
    for (int64_t i = 0; i < L; i++) {
        if (isnan(a[i]) || isnan(b[i]))
            return INFINITY;
        diff = fmax(diff, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return diff / scale;
}

/* Runs one training step of g in both executors and compares every node;
 * marks the ops that ran in seen[]. */
static void run_both(const IrGraph *g, const char *what, bool *seen)
{
    char err[256];
    RtExec *ref = rt_exec_interp_new(g, MAXB, err, sizeof err);
    cr_assert(ref, "%s: %s", what, err);
    RtExec *jit = cg_exec_new(g, MAXB, NULL, err, sizeof err);
    cr_assert(jit, "%s: %s", what, err);
    fill(jit, ref, g, MAXB);
    RtStepArgs a = {.n = MAXB, .lr = 0.01f, .step = 1, .seed = 42, .train = true};
    rt_exec_step(jit, &a);
    rt_exec_step(ref, &a);
    for (int i = 0; i < g->n_nodes; i++) {
        double e = node_err(jit, ref, g, i, MAXB);
        cr_expect(e <= TOL, "%s: node %%%d %s: JIT and interpreter differ by %g", what, i,
                  ir_op_info(g->nodes[i]->op)->name, e);
        seen[g->nodes[i]->op] = true;
    }
    rt_exec_free(jit);
    rt_exec_free(ref);
}

Test(ops_table, every_op_runs_in_the_interpreter_and_the_jit)
{
    bool seen[IR_OP_COUNT] = {0};
    for (int i = 0, built = 0; i < IR_OP_COUNT; i++) {
        OpGraph o;
        if (!op_graph(&o, (IrOp)i))
            continue;
        const char *name = ir_op_info((IrOp)i)->name;
        /* both optimizers over the ops, clipping on (sumsq, clip_factor) */
        o.g->train.optimizer = built++ % 2 ? OPT_SGD : OPT_ADAM;
        o.g->train.momentum = 0.9f;
        o.g->train.clip = 1.0f;
        bool diff = ir_op_info((IrOp)i)->grad != 0;
        char *err = run_passes(o.g, diff ? "verify,autodiff,optimizer" : "verify");
        cr_assert(err == NULL, "%s: %s", name, err);
        run_both(o.g, name, seen);
        ir_graph_free(o.g);
    }
    /* gelu_grad_y, which only the fuse pass emits: gelu's graph, fused */
    OpGraph o;
    cr_assert(op_graph(&o, IR_OP_GELU));
    char *err = run_passes(o.g, "verify,autodiff,optimizer,fuse");
    cr_assert(err == NULL, "gelu, fused: %s", err);
    run_both(o.g, "gelu, fused", seen);
    ir_graph_free(o.g);
    /* layernorm_grad_x_add: h + layernorm(h), fused */
    memset(&o, 0, sizeof o);
    o.g = ir_graph_new("layernorm residual");
    int h = data(&o, 0, 2, D(3, 4));
    int ln = tb_op(o.g, IR_OP_LAYERNORM, (int[]){h, weight(&o, 1, 1, D(4)), weight(&o, 2, 1, D(4))},
                   3, &(IrAttrs){.eps = 1e-5f});
    int s = tb_op2(o.g, IR_OP_ADD, h, ln);
    o.g->loss = tb_op2(o.g, IR_OP_MSE, s, tb_input(o.g, "target", 2, D(3, 4)));
    err = run_passes(o.g, "verify,autodiff,optimizer,fuse");
    cr_assert(err == NULL, "layernorm residual, fused: %s", err);
    run_both(o.g, "layernorm residual, fused", seen);
    ir_graph_free(o.g);
    for (int i = 0; i < IR_OP_COUNT; i++)
        cr_expect(seen[i], "op %s ran in no test graph", ir_op_info((IrOp)i)->name);
}

/* ----------------------------------------------------- an unknown op */

/* relu's graph with the relu node's op replaced by an id ops.def lacks. */
static OpGraph unknown_op_graph(void)
{
    OpGraph o;
    cr_assert(op_graph(&o, IR_OP_RELU));
    o.g->nodes[o.node]->op = IR_OP_COUNT + 7;
    return o;
}

static void expect_text(const char *text, const char *want)
{
    cr_expect(text && strstr(text, want), "expected '%s' in:\n%s", want, text ? text : "(none)");
}

Test(ops_table, an_unknown_op_is_an_error_everywhere)
{
    OpGraph o = unknown_op_graph();
    char want[96];
    snprintf(want, sizeof want, "%%%d has op id %d, which ir/ops.def does not define", o.node,
             IR_OP_COUNT + 7);

    Diag d;
    diag_init(&d);
    cr_expect(!ir_graph_verify(o.g, &d));
    char *text = tb_diag_text(&d);
    expect_text(text, "verifier: ");
    expect_text(text, want);
    free(text);
    diag_fini(&d);

    text = run_passes(o.g, "autodiff");
    expect_text(text, "autodiff: internal error: ");
    expect_text(text, want);
    free(text);
    cr_expect(o.g->nodes[o.param[0]]->grad < 0, "no gradient was made up");

    char err[256] = "";
    cr_expect(rt_exec_interp_new(o.g, MAXB, err, sizeof err) == NULL);
    expect_text(err, "interpreter: internal error: ");
    snprintf(want, sizeof want, "%%%d (block -1) has op id %d", o.node, IR_OP_COUNT + 7);
    expect_text(err, want);

    err[0] = 0;
    cr_expect(cg_exec_new(o.g, MAXB, NULL, err, sizeof err) == NULL);
    expect_text(err, "codegen: internal error: ");
    expect_text(err, want);
    ir_graph_free(o.g);
}
