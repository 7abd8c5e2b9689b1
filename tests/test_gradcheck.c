/* test_gradcheck.c — whole-graph gradient checks: autodiff through the
 * interpreter against central finite differences, for graphs that use every
 * differentiable op that the fixture tests do not (sub, mul, div with a
 * broadcast operand, scalar ops, leaky_relu, tanh, sigmoid, softmax, log_softmax,
 * transpose, reshape, flatten, avgpool, mse, and the mse target gradient).
 *
 * The forward runs in float, so differences use h = 1e-2 and the check is
 * |fd - ad| <= 2e-2 · max(1e-2, |ad|) + 1e-3 per element — loose enough for
 * float rounding, tight enough that a wrong index, sign or transposition
 * fails (those give O(1) relative errors).
 */
#include <criterion/criterion.h>

#include "build_graph.h"
#include "passes.h"
#include "rng.h"

#include <math.h>

#define D(...) ((const int64_t[]){__VA_ARGS__})

static void fill_random(float *p, int64_t n, RtRng *r, float scale, float offset)
{
    for (int64_t i = 0; i < n; i++)
        p[i] = offset + scale * (2 * rt_rng_uniform(r) - 1);
}

/* Checks every parameter's gradient of g->loss by finite differences. */
static void check_graph(IrGraph *g, int batch, int n_inputs, const int *inputs)
{
    tb_passes(g, "autodiff,verify");
    char err[128];
    RtInterp *in = rt_interp_new(g, batch, err, sizeof err);
    cr_assert(in, "%s", err);
    RtRng r;
    rt_rng_seed(&r, 7);
    for (int i = 0; i < n_inputs; i++)
        fill_random(rt_interp_buffer(in, inputs[i]),
                    ir_type_numel(&g->nodes[inputs[i]]->type) * batch, &r, 1.0f, 0);
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == IR_OP_PARAM)     /* offset keeps divisors away from 0 */
            fill_random(rt_interp_buffer(in, i), ir_type_numel(&g->nodes[i]->type), &r, 0.5f,
                        g->nodes[i]->a.fan_in == -1 ? 2.0f : 0.0f);
    RtStepArgs args = {.n = batch, .step = 1, .train = false};
    rt_interp_step(in, &args);
    int checked = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *p = g->nodes[i];
        if (p->op != IR_OP_PARAM)
            continue;
        cr_assert_geq(p->grad, 0, "param %s has no gradient", p->name);
        float *w = rt_interp_buffer(in, i);
        int64_t n = ir_type_numel(&p->type);
        float *ad = malloc((size_t)n * 4);
        memcpy(ad, rt_interp_buffer(in, p->grad), (size_t)n * 4);
        for (int64_t k = 0; k < n; k++) {
            float keep = w[k];
            const float h = 1e-2f;
            w[k] = keep + h;
            rt_interp_forward(in, &args);
            double lp = rt_interp_scalar(in, g->loss);
            w[k] = keep - h;
            rt_interp_forward(in, &args);
            double lm = rt_interp_scalar(in, g->loss);
            w[k] = keep;
            double fd = (lp - lm) / (2 * h);
            cr_expect_leq(fabs(fd - ad[k]), 2e-2 * fmax(1e-2, fabs(ad[k])) + 1e-3,
                          "%s[%lld]: autodiff %g, finite difference %g", p->name, (long long)k,
                          ad[k], fd);
            checked++;
        }
        free(ad);
    }
    cr_expect_gt(checked, 0);
    rt_interp_free(in);
}

Test(gradcheck, elementwise_and_broadcast)
{
    IrGraph *g = ir_graph_new("elementwise");
    int x = tb_input(g, "x", 2, D(3, 4));
    int t = tb_input(g, "t", 2, D(3, 4));
    int a = tb_param(g, "a", 2, D(3, 4));
    int b = tb_param(g, "b", 2, D(3, 4));
    g->nodes[b]->a.fan_in = -1;     /* marker: initialize away from zero (divisor) */
    int c = tb_param(g, "c", 2, D(3, 4));
    int y = tb_op2(g, IR_OP_MUL, x, a);                         /* broadcast mul */
    y = tb_op2(g, IR_OP_DIV, y, b);                             /* broadcast div */
    y = tb_op2(g, IR_OP_SUB, tb_op1(g, IR_OP_TANH, y), c);      /* broadcast sub */
    IrAttrs s = {.scalar = 1.5f};
    y = tb_op(g, IR_OP_MUL_SCALAR, &y, 1, &s);
    y = tb_op(g, IR_OP_ADD_SCALAR, &y, 1, &s);
    y = tb_op2(g, IR_OP_MUL, tb_op1(g, IR_OP_SIGMOID, y), tb_op1(g, IR_OP_GELU, y));
    g->loss = tb_op2(g, IR_OP_MSE, y, t);
    check_graph(g, 3, 2, (int[]){x, t});
    ir_graph_free(g);
}

Test(gradcheck, leaky_relu)
{
    /* Both sides of the kink, with a slope that is neither 0 nor 1: a rule
     * that drops the slope, or uses relu's gradient, is off by O(1). */
    IrGraph *g = ir_graph_new("leaky");
    int x = tb_input(g, "x", 1, D(6));
    int t = tb_input(g, "t", 1, D(4));
    int w = tb_param(g, "w", 2, D(6, 4));
    int y = tb_op2(g, IR_OP_MATMUL, x, w);
    y = tb_op(g, IR_OP_LEAKY_RELU, &y, 1, &(IrAttrs){.scalar = 0.2f});
    y = tb_op(g, IR_OP_LEAKY_RELU, &y, 1, &(IrAttrs){.scalar = -0.5f});
    g->loss = tb_op2(g, IR_OP_MSE, y, t);
    check_graph(g, 3, 2, (int[]){x, t});
    ir_graph_free(g);
}

Test(gradcheck, softmax_transpose_reshape_pool)
{
    IrGraph *g = ir_graph_new("moves");
    int x = tb_input(g, "x", 3, D(2, 4, 4));
    int t = tb_input(g, "t", 1, D(6));
    int w = tb_param(g, "w", 2, D(4, 3));
    IrAttrs tr = {.perm = {0, 2, 1}};
    int y = tb_op(g, IR_OP_TRANSPOSE, &x, 1, &tr);              /* [N,2,4,4] swap H,W */
    IrAttrs pool = {.kernel = 2, .stride = 2};
    y = tb_op(g, IR_OP_AVGPOOL, &y, 1, &pool);                  /* [N,2,2,2] */
    IrAttrs rs = {.rank = 2, .shape = {2, 4}};
    y = tb_op(g, IR_OP_RESHAPE, &y, 1, &rs);                    /* [N,2,4] */
    y = tb_op2(g, IR_OP_MATMUL, y, w);                          /* [N,2,3] */
    y = tb_op1(g, IR_OP_SOFTMAX, y);
    y = tb_op1(g, IR_OP_LOG_SOFTMAX, tb_op(g, IR_OP_MUL_SCALAR, &y, 1,
                                           &(IrAttrs){.scalar = 3.0f}));
    y = tb_op1(g, IR_OP_FLATTEN, y);                            /* [N,6] */
    g->loss = tb_op2(g, IR_OP_MSE, y, t);
    check_graph(g, 2, 2, (int[]){x, t});
    ir_graph_free(g);
}

Test(gradcheck, mse_target_and_shared_param)
{
    /* The same parameter used twice (gradients sum) and a learned target. */
    IrGraph *g = ir_graph_new("shared");
    int x = tb_input(g, "x", 1, D(5));
    int w = tb_param(g, "w", 2, D(5, 5));
    int tgt = tb_param(g, "tgt", 1, D(5));
    int h = tb_op1(g, IR_OP_TANH, tb_op2(g, IR_OP_MATMUL, x, w));
    h = tb_op2(g, IR_OP_MATMUL, h, w);
    int t = tb_op2(g, IR_OP_ADD, tb_op(g, IR_OP_MUL_SCALAR, &x, 1, &(IrAttrs){.scalar = 0}), tgt);
    g->loss = tb_op2(g, IR_OP_MSE, h, t);
    check_graph(g, 3, 1, (int[]){x});
    ir_graph_free(g);
}
