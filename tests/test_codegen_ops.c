/* test_codegen_ops.c — every kernel the code generator emits, against the
 * reference interpreter.
 *
 * Each test builds one graph by hand holding many nodes of one op family
 * (forward and backward ops side by side, odd sizes 1, 3, 17, 129 and the
 * attribute combinations in use), fills every input, label and parameter
 * with the same random values in both executors, runs the JIT and the
 * interpreter — the whole step with training on, then the forward part
 * with training off — at batch sizes 1, 3 and the maximum, and compares
 * EVERY node's buffer (updated parameters included):
 *
 *   err = max |jit - ref| / max(1, max |ref|)        (NaN mismatch = inf)
 *
 * Tolerances: 1e-6 for everything computed as the reference does (float
 * elementwise code may differ by one rounding where LLVM contracts a*b+c into
 * an FMA; double-accumulated reductions are reassociated); 1e-5 for
 * attention, whose score and value sums are sgemm (float) in the JIT but
 * double dot products in the reference. Matrix products and im2col conv are
 * the same sgemm calls in both, so they agree to the last bit; the shifted
 * conv products (16+ channels, stride 1) sum in another order.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "build_graph.h"
#include "exec_compare.h"
#include "cg_layout.h"
#include "codegen.h"
#include "exec.h"

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define TOL 1e-6
#define MAXB 17

static const int batches[] = {1, 3, MAXB};

/* ------------------------------------------------------------- harness */

/* Per node id: fill with values in [0.5, 1.5) (divisors, ...). */
static bool positive[1024];

/* Compiles g (with options o, NULL: the defaults), runs it at every batch
 * size in both modes, compares every node; returns the largest error seen. */
static double check_with(const IrGraph *g, double tol, const char *what, const CgOptions *o)
{
    char err[256];
    RtExec *ref = rt_exec_interp_new(g, MAXB, err, sizeof err);
    cr_assert(ref, "%s", err);
    RtExec *jit = cg_exec_new(g, MAXB, o, err, sizeof err);
    cr_assert(jit, "%s: %s", what, err);
    double worst = 0;
    for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
        int n = batches[bi];
        for (int mode = 0; mode < 2; mode++) {
            tc_fill(jit, ref, g, n, 17u * (unsigned)n + (unsigned)mode, positive);
            RtStepArgs a = {.n = n, .lr = 0.01f, .step = 3, .seed = 42, .train = mode == 0};
            if (mode == 0) {
                rt_exec_step(jit, &a);
                rt_exec_step(ref, &a);
            } else {
                rt_exec_forward(jit, &a);
                rt_exec_forward(ref, &a);
            }
            for (int i = 0; i < g->n_nodes; i++) {
                if (mode == 1 && !tc_is_forward(g->nodes[i]))
                    continue;
                double e = tc_node_err(jit, ref, g, i, n);
                worst = e > worst ? e : worst;
                cr_expect(e <= tol, "%s: node %%%d %s, batch %d, %s: error %g > %g", what, i,
                          ir_op_info(g->nodes[i]->op)->name, n, mode ? "forward" : "step", e,
                          tol);
            }
        }
    }
    cr_log_info("%s: max error %.3g (tolerance %.0e)", what, worst, tol);
    rt_exec_free(jit);
    rt_exec_free(ref);
    return worst;
}

static double check(const IrGraph *g, double tol, const char *what)
{
    return check_with(g, tol, what, NULL);
}

static int op_a(IrGraph *g, IrOp op, int x, IrAttrs a) { return tb_op(g, op, &x, 1, &a); }
static int op_a2(IrGraph *g, IrOp op, int x, int y, IrAttrs a)
{
    int in[2] = {x, y};
    return tb_op(g, op, in, 2, &a);
}
static int op3(IrGraph *g, IrOp op, int x, int y, int z, IrAttrs a)
{
    int in[3] = {x, y, z};
    return tb_op(g, op, in, 3, &a);
}

static IrGraph *fresh(const char *name)
{
    memset(positive, 0, sizeof positive);
    return ir_graph_new(name);
}

/* --------------------------------------------------------------- tests */

/* Binary ops (same shape and broadcast), activations and their gradients. */
static void elementwise_on(IrGraph *g, int rank, const int64_t *dims)
{
    int x = tb_input(g, "x", rank, dims), y = tb_input(g, "y", rank, dims);
    int p = tb_input(g, "p", rank, dims), bu = tb_param(g, "bu", rank, dims);
    int bp = tb_param(g, "bp", rank, dims);
    positive[p] = positive[bp] = true;
    static const IrOp bin[] = {IR_OP_ADD, IR_OP_SUB, IR_OP_MUL, IR_OP_DIV};
    for (int i = 0; i < 4; i++) {
        tb_op2(g, bin[i], x, bin[i] == IR_OP_DIV ? p : y);
        tb_op2(g, bin[i], x, bin[i] == IR_OP_DIV ? bp : bu);
    }
    op_a(g, IR_OP_ADD_SCALAR, x, (IrAttrs){.scalar = 0.5f});
    op_a(g, IR_OP_MUL_SCALAR, x, (IrAttrs){.scalar = -1.5f});
    tb_op1(g, IR_OP_RELU, x);
    op_a(g, IR_OP_LEAKY_RELU, x, (IrAttrs){.scalar = 0.2f});
    op_a(g, IR_OP_LEAKY_RELU, x, (IrAttrs){.scalar = -1.5f});
    tb_op1(g, IR_OP_GELU, x);
    int th = tb_op1(g, IR_OP_TANH, x), sg = tb_op1(g, IR_OP_SIGMOID, x);
    tb_op2(g, IR_OP_RELU_GRAD, y, x);
    op_a2(g, IR_OP_LEAKY_RELU_GRAD, y, x, (IrAttrs){.scalar = 0.2f});
    tb_op2(g, IR_OP_GELU_GRAD, y, x);
    tb_op2(g, IR_OP_TANH_GRAD, y, th);
    tb_op2(g, IR_OP_SIGMOID_GRAD, y, sg);
    op3(g, IR_OP_DIV_GRAD_B, y, x, p, (IrAttrs){0});
    op3(g, IR_OP_DIV_GRAD_B, y, x, bp, (IrAttrs){0});
    tb_op1(g, IR_OP_REDUCE_BATCH, x);
}

Test(codegen_ops, elementwise)
{
    IrGraph *g = fresh("elementwise");
    elementwise_on(g, 1, D(1));
    elementwise_on(g, 1, D(129));
    elementwise_on(g, 2, D(3, 17));
    /* unbatched scalars, as the clipping sums are */
    int s1 = tb_param(g, "s1", 0, NULL), s2 = tb_param(g, "s2", 0, NULL);
    tb_op2(g, IR_OP_ADD, s1, s2);
    tb_op(g, IR_OP_FILL, NULL, 0, &(IrAttrs){.scalar = 2.5f});
    check(g, TOL, "elementwise");
    ir_graph_free(g);
}

Test(codegen_ops, bias_and_moves)
{
    IrGraph *g = fresh("moves");
    int x = tb_input(g, "x", 2, D(3, 17)), y = tb_input(g, "y", 2, D(3, 17));
    int img = tb_input(g, "img", 3, D(3, 5, 7)), x4 = tb_input(g, "x4", 4, D(2, 3, 4, 5));
    int b17 = tb_param(g, "b17", 1, D(17)), b3 = tb_param(g, "b3", 1, D(3));
    op_a2(g, IR_OP_BIAS_ADD, x, b17, (IrAttrs){.axis = -1});
    op_a2(g, IR_OP_BIAS_ADD, img, b3, (IrAttrs){.axis = 1});
    op_a(g, IR_OP_BIAS_GRAD, x, (IrAttrs){.axis = -1});
    op_a(g, IR_OP_BIAS_GRAD, img, (IrAttrs){.axis = 1});
    op_a(g, IR_OP_BIAS_GRAD, x4, (IrAttrs){.axis = 2});
    op_a(g, IR_OP_SLICE_LAST, x, (IrAttrs){.start = 2, .len = 5});
    op_a(g, IR_OP_SLICE_LAST, x, (IrAttrs){.start = 16, .len = 1});
    op_a(g, IR_OP_TRANSPOSE, x, (IrAttrs){.perm = {1, 0}});
    op_a(g, IR_OP_TRANSPOSE, x4, (IrAttrs){.perm = {2, 0, 3, 1}});
    op_a(g, IR_OP_TRANSPOSE, img, (IrAttrs){.perm = {0, 1, 2}});
    /* views feeding real ops */
    int fl = tb_op1(g, IR_OP_FLATTEN, x);
    tb_op1(g, IR_OP_RELU, fl);
    int rs = op_a(g, IR_OP_RESHAPE, img, (IrAttrs){.rank = 2, .shape = {15, 7}});
    tb_op1(g, IR_OP_TANH, rs);
    int sgr = tb_op1(g, IR_OP_STOP_GRADIENT, x);
    tb_op2(g, IR_OP_MUL, sgr, y);
    tb_op2(g, IR_OP_RELU_GRAD, tb_op2(g, IR_OP_RESHAPE_LIKE, fl, x), y);
    /* dropout: forward and its regenerated-mask gradient, p 0 / 0.3 / 1 */
    static const float ps[] = {0.0f, 0.3f, 1.0f};
    for (int i = 0; i < 3; i++) {
        op_a(g, IR_OP_DROPOUT, x, (IrAttrs){.p = ps[i], .salt = 5 + i});
        op_a(g, IR_OP_DROPOUT_GRAD, y, (IrAttrs){.p = ps[i], .salt = 5 + i});
    }
    op_a(g, IR_OP_DROPOUT, img, (IrAttrs){.p = 0.5f, .salt = 9});
    check(g, TOL, "bias_and_moves");
    ir_graph_free(g);
}

/* matmul and both gradients over rank-2 and rank-3 inputs. */
Test(codegen_ops, matmul)
{
    IrGraph *g = fresh("matmul");
    static const int64_t shapes[][2] = {{17, 129}, {1, 3}, {129, 1}, {3, 17}};
    for (int i = 0; i < 4; i++) {
        int64_t I = shapes[i][0], O = shapes[i][1];
        int x = i == 3 ? tb_input(g, "x", 2, D(3, I)) : tb_input(g, "x", 1, D(I));
        int dy = i == 3 ? tb_input(g, "dy", 2, D(3, O)) : tb_input(g, "dy", 1, D(O));
        int w = tb_param(g, "w", 2, D(I, O));
        tb_op2(g, IR_OP_MATMUL, x, w);
        tb_op2(g, IR_OP_MATMUL_GRAD_X, dy, w);
        tb_op2(g, IR_OP_MATMUL_GRAD_W, x, dy);
    }
    check(g, TOL, "matmul");
    ir_graph_free(g);
}

/* conv2d and both gradients: kernel 1/3, stride 1/2, padding 0/1, odd sizes. */
Test(codegen_ops, conv2d)
{
    IrGraph *g = fresh("conv");
    static const int cfg[][6] = {   /* C, O, H, K, S, P */
        {1, 2, 7, 3, 1, 1}, {3, 5, 8, 3, 2, 1}, {3, 2, 5, 3, 1, 0},
        {2, 3, 7, 1, 1, 0}, {2, 3, 6, 1, 2, 0}, {1, 1, 3, 3, 2, 1},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        const int *c = cfg[i];
        int x = tb_input(g, "x", 3, D(c[0], c[2], c[2] + 1));
        int w = tb_param(g, "w", 4, D(c[1], c[0], c[3], c[3]));
        IrAttrs a = {.stride = c[4], .padding = c[5]};
        int y = op_a2(g, IR_OP_CONV2D, x, w, a);
        const IrType *t = &g->nodes[y]->type;
        int dy = tb_input(g, "dy", 3, D(t->dim[1], t->dim[2], t->dim[3]));
        op3(g, IR_OP_CONV2D_GRAD_X, dy, w, x, a);
        op3(g, IR_OP_CONV2D_GRAD_W, x, dy, w, a);
    }
    check(g, TOL, "conv2d");
    ir_graph_free(g);
}

/* conv2d, conv2d_bias_relu and the three gradients of one geometry. */
static void conv_ops(IrGraph *g, int C, int O, int H, int W, int K, int P)
{
    int x = tb_input(g, "x", 3, D(C, H, W));
    int w = tb_param(g, "w", 4, D(O, C, K, K));
    int b = tb_param(g, "b", 1, D(O));
    IrAttrs a = {.stride = 1, .padding = P};
    int y = op_a2(g, IR_OP_CONV2D, x, w, a);
    op3(g, IR_OP_CONV2D_BIAS_RELU, x, w, b, a);
    const IrType *t = &g->nodes[y]->type;
    int dy = tb_input(g, "dy", 3, D(t->dim[1], t->dim[2], t->dim[3]));
    op3(g, IR_OP_CONV2D_GRAD_X, dy, w, x, a);
    op3(g, IR_OP_CONV2D_GRAD_X_RELU, dy, w, x, a);
    op3(g, IR_OP_CONV2D_GRAD_W, x, dy, w, a);
}

/* The shifted-product convolutions (stride 1, at least 16 channels in and
 * out; codegen/lower_dense.c): channels not multiples of 16, W != H, kernel
 * 2/3/5, padding 0/1/2 (2 > K/2 with K = 3: whole padded rows), a 1×1 image,
 * a 1×1 kernel with padding, and an image large enough that the weight
 * gradient is shifted too; forward, fused bias + relu, both gradients.
 * Their sums run in another order than the interpreter's im2col product. */
Test(codegen_ops, conv2d_shifted)
{
    IrGraph *g = fresh("conv_shifted");
    static const int cfg[][6] = {   /* C, O, H, W, K, P */
        {16, 16, 5, 6, 3, 1}, {17, 19, 7, 4, 3, 0}, {16, 17, 3, 5, 5, 2}, {18, 16, 1, 1, 3, 1},
        {16, 16, 4, 3, 2, 0}, {16, 20, 3, 3, 3, 2}, {33, 16, 6, 5, 3, 1}, {16, 18, 3, 4, 1, 1},
        {16, 17, 30, 33, 3, 1},     /* im2col matrix over 2^17 floats: grad_w shifted too */
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        conv_ops(g, cfg[i][0], cfg[i][1], cfg[i][2], cfg[i][3], cfg[i][4], cfg[i][5]);
    check(g, TOL, "conv2d_shifted");
    ir_graph_free(g);
}

/* 3×3 stride-1 convs with padding 1 and even sizes run as Winograd
 * F(2×2, 3×3) products in chunks of images (codegen/lower_wino.c): shapes
 * whose chunk is one image (28×28), several (14×14, 4×6, 2×2) with the
 * batches 3 and 17 leaving a partial last chunk, and channel counts off the
 * vector width. */
Test(codegen_ops, conv2d_winograd)
{
    IrGraph *g = fresh("conv_winograd");
    static const int cfg[][4] = {   /* C, O, H, W */
        {16, 16, 4, 6}, {17, 32, 8, 8}, {16, 19, 2, 2}, {32, 16, 28, 28}, {16, 16, 14, 14},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        conv_ops(g, cfg[i][0], cfg[i][1], cfg[i][2], cfg[i][3], 3, 1);
    /* 2e-6 as for the GPU's products: the 28×28 weight gradient sums 17·196
     * tiles of 32 channels (measured 8.8e-7; the shifted products 7.1e-7) */
    check(g, 2e-6, "conv2d_winograd");
    ir_graph_free(g);
}

/* Which convs take the Winograd path: 3×3, stride 1, padding 1, even sizes,
 * 16+ channels, and a chunk's transformed tiles within 16 MiB. */
Test(codegen_ops, conv2d_winograd_where)
{
    CgConvGeo g = {.C = 32, .H = 28, .W = 28, .O = 32, .K = 3, .S = 1, .P = 1, .OH = 28, .OW = 28};
    cr_expect(cg_conv_winograd(&g));
    cr_expect_eq(cg_conv_wino_chunk(&g), 1);
    CgConvGeo h = g;
    h.H = h.W = h.OH = h.OW = 14;
    cr_expect_eq(cg_conv_wino_chunk(&h), 2);
    h = g;
    h.C = h.O = 64;
    h.H = h.W = h.OH = h.OW = 112;     /* 16·128·56² floats: 26 MiB */
    cr_expect_not(cg_conv_winograd(&h));
    h.H = h.W = h.OH = h.OW = 56;      /* 6.4 MiB */
    cr_expect(cg_conv_winograd(&h));
    h = g;
    h.H = h.OH = 27;
    cr_expect_not(cg_conv_winograd(&h));
    h = g;
    h.C = 15;
    cr_expect_not(cg_conv_winograd(&h));
    h = g;
    h.P = 0;
    h.OH = h.OW = 26;
    cr_expect_not(cg_conv_winograd(&h));
}

/* The fuse pass's ops: bias_relu over last dims 1, 3, 17, 129 and the NCHW
 * channel axis, conv2d_bias_relu and conv2d_grad_x_relu over conv2d's
 * configurations (im2col and the direct 1×1 path), maxpool_grad_relu with
 * overlapping windows; values in [-1, 1), so the relu clamps about half. */
Test(codegen_ops, fused)
{
    IrGraph *g = fresh("fused");
    static const int64_t widths[] = {1, 3, 17, 129};
    for (int i = 0; i < 4; i++) {
        int x = tb_input(g, "x", 2, D(3, widths[i]));
        int b = tb_param(g, "b", 1, D(widths[i]));
        op_a2(g, IR_OP_BIAS_RELU, x, b, (IrAttrs){.axis = -1});
    }
    int img = tb_input(g, "img", 3, D(3, 5, 7)), b3 = tb_param(g, "b3", 1, D(3));
    op_a2(g, IR_OP_BIAS_RELU, img, b3, (IrAttrs){.axis = 1});
    static const int cfg[][6] = {   /* C, O, H, K, S, P */
        {1, 2, 7, 3, 1, 1}, {3, 5, 8, 3, 2, 1}, {3, 2, 5, 3, 1, 0},
        {2, 3, 7, 1, 1, 0}, {2, 3, 6, 1, 2, 0}, {1, 1, 3, 3, 2, 1},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        const int *c = cfg[i];
        int x = tb_input(g, "x", 3, D(c[0], c[2], c[2] + 1));
        int w = tb_param(g, "w", 4, D(c[1], c[0], c[3], c[3]));
        int b = tb_param(g, "b", 1, D(c[1]));
        IrAttrs a = {.stride = c[4], .padding = c[5]};
        int y = op3(g, IR_OP_CONV2D_BIAS_RELU, x, w, b, a);
        const IrType *t = &g->nodes[y]->type;
        int dy = tb_input(g, "dy", 3, D(t->dim[1], t->dim[2], t->dim[3]));
        op3(g, IR_OP_CONV2D_GRAD_X_RELU, dy, w, x, a);
    }
    static const int pool[][3] = {{2, 2, 8}, {3, 2, 7}, {2, 1, 5}};     /* K, S, H */
    for (int i = 0; i < 3; i++) {
        int x = tb_input(g, "x", 3, D(3, pool[i][2], pool[i][2] + 2));
        IrAttrs a = {.kernel = pool[i][0], .stride = pool[i][1]};
        const IrType *t = &g->nodes[op_a(g, IR_OP_MAXPOOL, x, a)]->type;
        int dy = tb_input(g, "dy", 3, D(t->dim[1], t->dim[2], t->dim[3]));
        op_a2(g, IR_OP_MAXPOOL_GRAD_RELU, dy, x, a);
    }
    check(g, TOL, "fused");
    ir_graph_free(g);
}

/* max/avg pooling (kernel 2/3, stride 1/2, overlapping windows) and the
 * global average, with gradients. */
Test(codegen_ops, pooling)
{
    IrGraph *g = fresh("pool");
    static const int cfg[][3] = {{2, 2, 8}, {3, 2, 7}, {2, 1, 5}, {3, 3, 3}};   /* K, S, H */
    for (int i = 0; i < 4; i++) {
        int x = tb_input(g, "x", 3, D(3, cfg[i][2], cfg[i][2] + 2));
        IrAttrs a = {.kernel = cfg[i][0], .stride = cfg[i][1]};
        for (int avg = 0; avg < 2; avg++) {
            int y = op_a(g, avg ? IR_OP_AVGPOOL : IR_OP_MAXPOOL, x, a);
            const IrType *t = &g->nodes[y]->type;
            int dy = tb_input(g, "dy", 3, D(t->dim[1], t->dim[2], t->dim[3]));
            op_a2(g, avg ? IR_OP_AVGPOOL_GRAD : IR_OP_MAXPOOL_GRAD, dy, x, a);
        }
    }
    int x = tb_input(g, "x", 3, D(5, 3, 7)), dy = tb_input(g, "dy", 1, D(5));
    tb_op1(g, IR_OP_GLOBAL_AVG_POOL, x);
    tb_op2(g, IR_OP_GLOBAL_AVG_POOL_GRAD, dy, x);
    check(g, TOL, "pooling");
    ir_graph_free(g);
}

/* softmax, log-softmax, layernorm and their gradients, over last dims 1..129. */
static void rows_on(IrGraph *g, int rank, const int64_t *dims)
{
    int64_t Dl = dims[rank - 1];
    int x = tb_input(g, "x", rank, dims), dy = tb_input(g, "dy", rank, dims);
    int sm = tb_op1(g, IR_OP_SOFTMAX, x), ls = tb_op1(g, IR_OP_LOG_SOFTMAX, x);
    tb_op2(g, IR_OP_SOFTMAX_GRAD, dy, sm);
    tb_op2(g, IR_OP_LOG_SOFTMAX_GRAD, dy, ls);
    int gm = tb_param(g, "g", 1, &Dl), b = tb_param(g, "b", 1, &Dl);
    IrAttrs a = {.eps = 1e-5f};
    op3(g, IR_OP_LAYERNORM, x, gm, b, a);
    op3(g, IR_OP_LAYERNORM_GRAD_X, dy, x, gm, a);
    op_a2(g, IR_OP_LAYERNORM_GRAD_G, dy, x, a);
}

Test(codegen_ops, softmax_layernorm)
{
    IrGraph *g = fresh("rows");
    rows_on(g, 1, D(1));
    rows_on(g, 1, D(17));
    rows_on(g, 2, D(3, 129));
    check(g, TOL, "softmax_layernorm");
    ir_graph_free(g);
}

/* batchnorm (training: batch statistics and the running ones updated in
 * place; evaluation: the running ones) and its gradients, channels 1..17
 * by positions 1..129. */
static void batchnorm_on(IrGraph *g, int rank, const int64_t *dims)
{
    int64_t C = dims[0];
    int x = tb_input(g, "x", rank, dims), dy = tb_input(g, "dy", rank, dims);
    int in[5] = {x, tb_param(g, "g", 1, &C), tb_param(g, "b", 1, &C), tb_param(g, "rm", 1, &C),
                 tb_param(g, "rv", 1, &C)};
    positive[in[4]] = true;     /* a variance */
    IrAttrs a = {.eps = 1e-5f, .momentum = 0.1f};
    tb_op(g, IR_OP_BATCHNORM, in, 5, &a);
    op3(g, IR_OP_BATCHNORM_GRAD_X, dy, x, in[1], a);
    op_a2(g, IR_OP_BATCHNORM_GRAD_G, dy, x, a);
}

Test(codegen_ops, batchnorm)
{
    IrGraph *g = fresh("batchnorm");
    batchnorm_on(g, 1, D(1));
    batchnorm_on(g, 1, D(17));
    batchnorm_on(g, 2, D(3, 129));
    batchnorm_on(g, 3, D(3, 1, 3));
    check(g, TOL, "batchnorm");
    ir_graph_free(g);
}

/* LayerNorm of rows whose mean is large against their spread (1000 ± 0.01):
 * the float kernel must centre x on the mean as exactly as the double
 * reference (a mean rounded to float is off by 3e-5, 0.3% of the spread). */
Test(codegen_ops, layernorm_offset)
{
    IrGraph *g = fresh("ln_offset");
    const int64_t D = 129;
    int x = tb_input(g, "x", 1, &D);
    int gm = tb_param(g, "g", 1, &D), b = tb_param(g, "b", 1, &D);
    int y = op3(g, IR_OP_LAYERNORM, x, gm, b, (IrAttrs){.eps = 1e-5f});
    char err[256];
    RtExec *ex[2] = {rt_exec_interp_new(g, 3, err, sizeof err), cg_exec_new(g, 3, NULL, err, sizeof err)};
    unsigned seed = 7;
    float xs[3 * 129];
    for (int i = 0; i < 3 * 129; i++)
        xs[i] = 1000.0f + 0.01f * tc_frand(&seed);
    for (int e = 0; e < 2; e++) {
        cr_assert(ex[e], "%s", err);
        memcpy(rt_exec_buffer(ex[e], x), xs, sizeof xs);
        float *gb = rt_exec_buffer(ex[e], gm), *bb = rt_exec_buffer(ex[e], b);
        for (int64_t d = 0; d < D; d++) {
            gb[d] = 1.0f;
            bb[d] = 0.0f;
        }
        RtStepArgs a = {.n = 3, .train = false};
        rt_exec_forward(ex[e], &a);
    }
    double e = tc_err_of(rt_exec_buffer(ex[1], y), rt_exec_buffer(ex[0], y), 3 * D);
    cr_expect(e <= TOL, "layernorm of 1000 ± 0.01: error %g > %g", e, TOL);
    rt_exec_free(ex[0]);
    rt_exec_free(ex[1]);
    ir_graph_free(g);
}

/* cross-entropy over classes and over positions (+ #correct), mse, grads. */
Test(codegen_ops, losses)
{
    IrGraph *g = fresh("losses");
    int dl = tb_param(g, "dl", 0, NULL);
    static const int64_t cls[] = {1, 10, 129};
    for (int i = 0; i < 3; i++) {
        int x = tb_input(g, "x", 1, &cls[i]), y = tb_label(g, "y", (int)cls[i], 0, NULL);
        tb_op2(g, IR_OP_CROSS_ENTROPY, x, y);
        op3(g, IR_OP_CROSS_ENTROPY_GRAD, dl, x, y, (IrAttrs){0});
    }
    int xs = tb_input(g, "xs", 2, D(3, 17)), ys = tb_label(g, "ys", 17, 1, D(3));
    tb_op2(g, IR_OP_CROSS_ENTROPY, xs, ys);
    op3(g, IR_OP_CROSS_ENTROPY_GRAD, dl, xs, ys, (IrAttrs){0});
    int p = tb_input(g, "p", 2, D(3, 17)), t = tb_input(g, "t", 2, D(3, 17));
    tb_op2(g, IR_OP_MSE, p, t);
    op3(g, IR_OP_MSE_GRAD, dl, p, t, (IrAttrs){0});
    check(g, TOL, "losses");
    ir_graph_free(g);
}

/* #correct with tied maxima: the first arg-max counts, as in the
 * interpreter. Rows: all equal (label 0: a hit), maxima at 7 and 30 with
 * label 7 (a hit) and label 30 (not one). */
Test(codegen_ops, cross_entropy_ties)
{
    IrGraph *g = fresh("ce_ties");
    const int64_t C = 40;
    int x = tb_input(g, "x", 1, &C), y = tb_label(g, "y", (int)C, 0, NULL);
    int ce = tb_op2(g, IR_OP_CROSS_ENTROPY, x, y);
    char err[256];
    RtExec *ex[2] = {rt_exec_interp_new(g, 3, err, sizeof err), cg_exec_new(g, 3, NULL, err, sizeof err)};
    static const int32_t labels[3] = {0, 7, 30};
    for (int e = 0; e < 2; e++) {
        cr_assert(ex[e], "%s", err);
        float *xb = rt_exec_buffer(ex[e], x), *yb = rt_exec_buffer(ex[e], y);
        for (int r = 0; r < 3; r++) {
            for (int64_t c = 0; c < C; c++)
                xb[r * C + c] = r == 0 ? 0.5f : (c == 7 || c == 30) ? 2.0f : 0.0f;
            memcpy(yb + r, &labels[r], 4);
        }
        RtStepArgs a = {.n = 3, .train = false};
        rt_exec_forward(ex[e], &a);
        float hits = ((float *)rt_exec_buffer(ex[e], ce))[1];
        cr_expect_eq(hits, 2.0f, "%s: #correct %g, want 2", e ? "jit" : "interpreter", hits);
        rt_exec_free(ex[e]);
    }
    ir_graph_free(g);
}

/* Gather and scatter-add, with repeated ids and ids outside the table. */
Test(codegen_ops, embedding)
{
    IrGraph *g = fresh("embedding");
    static const int64_t VD[][2] = {{5, 3}, {129, 17}, {1, 1}};
    for (int i = 0; i < 3; i++) {
        int ids = tb_label(g, "ids", (int)VD[i][0] + 2, 1, D(3));   /* ids V, V+1 invalid */
        int tab = tb_param(g, "table", 2, VD[i]);
        int y = tb_op2(g, IR_OP_EMBEDDING, ids, tab);
        const IrType *t = &g->nodes[y]->type;
        int dy = tb_input(g, "dy", 2, D(t->dim[1], t->dim[2]));
        op3(g, IR_OP_EMBEDDING_GRAD, dy, ids, tab, (IrAttrs){0});
    }
    check(g, TOL, "embedding");
    ir_graph_free(g);
}

/* Causal attention, heads 1, 2 and 4, sequence 1, 3, 17, 64 (charlm's) and
 * 129: rows longer than one vector, and a last partial vector past a
 * multiple of 16 (the kernels' whole-row loops mask the upper triangle). */
Test(codegen_ops, attention)
{
    IrGraph *g = fresh("attention");
    static const int cfg[][3] = {{1, 4, 1}, {3, 6, 2}, {17, 8, 2}, {17, 5, 1}, {64, 8, 4},
                                 {129, 6, 2}};   /* T, D, heads */
    for (int i = 0; i < 6; i++) {
        const int64_t *dims = D(cfg[i][0], cfg[i][1]);
        int q = tb_input(g, "q", 2, dims), k = tb_input(g, "k", 2, dims);
        int v = tb_input(g, "v", 2, dims), dy = tb_input(g, "dy", 2, dims);
        IrAttrs a = {.heads = cfg[i][2]};
        op3(g, IR_OP_CAUSAL_ATTENTION, q, k, v, a);
        int in[4] = {dy, q, k, v};
        tb_op(g, IR_OP_ATTENTION_GRAD, in, 4, &a);
    }
    check(g, 1e-5, "attention");
    ir_graph_free(g);
}

/* Clipping and every update variant, with and without a clip factor. */
Test(codegen_ops, optimizer)
{
    IrGraph *g = fresh("optimizer");
    int gr = tb_param(g, "g", 2, D(3, 17)), g2 = tb_param(g, "g2", 1, D(129));
    int tot = tb_op2(g, IR_OP_ADD, tb_op1(g, IR_OP_SUMSQ, gr), tb_op1(g, IR_OP_SUMSQ, g2));
    int f = op_a(g, IR_OP_CLIP_FACTOR, tot, (IrAttrs){.scalar = 1.0f});
    op_a(g, IR_OP_CLIP_FACTOR, tot, (IrAttrs){.scalar = 1e3f});
    static const IrAttrs sgd[] = {
        {.momentum = 0.0f}, {.momentum = 0.9f}, {.momentum = 0.9f, .nesterov = true},
        {.momentum = 0.9f, .weight_decay = 5e-4f},
    };
    for (int i = 0; i < 8; i++) {
        int p = tb_param(g, "p", 2, D(3, 17)), buf = tb_param(g, "buf", 2, D(3, 17));
        int in[4] = {p, gr, buf, f};
        tb_op(g, IR_OP_SGD_UPDATE, in, 3 + i / 4, &sgd[i % 4]);
    }
    static const IrAttrs adam[] = {
        {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f},
        {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f},
        {.beta1 = 0.8f, .beta2 = 0.99f, .eps = 1e-6f, .weight_decay = 0.1f, .decoupled = true},
    };
    for (int i = 0; i < 6; i++) {
        int p = tb_param(g, "p", 1, D(129)), m = tb_param(g, "m", 1, D(129));
        int v = tb_param(g, "v", 1, D(129));
        positive[v] = true;     /* second moments are never negative */
        int in[5] = {p, g2, m, v, f};
        tb_op(g, IR_OP_ADAM_UPDATE, in, 4 + i / 3, &adam[i % 3]);
    }
    check(g, TOL, "optimizer");
    ir_graph_free(g);
}

/* A node the lowering cannot handle is a diagnostic, not a crash; and the
 * entries exist under the documented names. */
Test(codegen_ops, module_entries)
{
    IrGraph *g = fresh("entries");
    int x = tb_input(g, "x", 1, D(3));
    tb_op1(g, IR_OP_RELU, x);
    Diag d;
    diag_init(&d);
    CgOptions o;
    cg_options_init(&o);
    CgBackend *b = cg_target_jit.open(&o, &d);
    cr_assert(b);
    CgModule *m = cg_lower_graph(g, "blk0", &o, &d);
    cr_assert(m && cg_target_jit.add_module(b, m, &d));
    cr_expect(cg_jit_lookup(b, "blk0_step", &d) != NULL);
    cr_expect(cg_jit_lookup(b, "blk0_forward", &d) != NULL);
    cr_expect(!diag_has_errors(&d));
    cg_target_jit.close(b);
    diag_fini(&d);
    ir_graph_free(g);
}

/* The fuse pass's matmul_bias: shapes (in, out) over 1, 3, 17, 129, one and
 * three rows per example, with and without the residual; the bias rows are
 * written first and sgemm adds the product (one rounding less than the
 * interpreter's matmul, bias_add, add). */
static IrGraph *matmul_bias_graph(void)
{
    IrGraph *g = fresh("matmul_bias");
    static const int64_t shapes[][2] = {{17, 129}, {1, 3}, {129, 1}, {3, 17}, {129, 129}};
    for (int i = 0; i < 5; i++) {
        int64_t I = shapes[i][0], O = shapes[i][1];
        bool rows3 = i % 2 == 1;
        int x = rows3 ? tb_input(g, "x", 2, D(3, I)) : tb_input(g, "x", 1, D(I));
        int r = rows3 ? tb_input(g, "r", 2, D(3, O)) : tb_input(g, "r", 1, D(O));
        int w = tb_param(g, "w", 2, D(I, O)), b = tb_param(g, "b", 1, D(O));
        op3(g, IR_OP_MATMUL_BIAS, x, w, b, (IrAttrs){0});
        tb_op(g, IR_OP_MATMUL_BIAS, (int[]){x, w, b, r}, 4, &(IrAttrs){0});
    }
    return g;
}

Test(codegen_ops, matmul_bias)
{
    IrGraph *g = matmul_bias_graph();
    check(g, TOL, "matmul_bias");
    ir_graph_free(g);
}

/* Without contraction matmul_bias is the interpreter's sequence: bit for bit. */
Test(codegen_ops, matmul_bias_exact_without_contraction)
{
    CgOptions o;
    cg_options_init(&o);
    o.no_contract = true;
    IrGraph *g = matmul_bias_graph();
    check_with(g, 0.0, "matmul_bias exact", &o);
    ir_graph_free(g);
}

/* gelu_grad_y (the fuse pass's gelu gradient from y = gelu(x)) over widths
 * 1, 3, 17, 129, x in [-1, 1) and, scaled, in [-12, 12) (where Φ(x) is
 * tiny or 1), and x = 0 and ±1e-35 (Φ = 1/2 where y/x is 0/0 or subnormal). */
Test(codegen_ops, gelu_grad_y)
{
    IrGraph *g = fresh("gelu_grad_y");
    static const int64_t widths[] = {1, 3, 17, 129};
    for (int i = 0; i < 4; i++) {
        int x = tb_input(g, "x", 1, D(widths[i])), dy = tb_input(g, "dy", 1, D(widths[i]));
        for (int s = 0; s < 2; s++) {
            int xs = s ? op_a(g, IR_OP_MUL_SCALAR, x, (IrAttrs){.scalar = 12.0f}) : x;
            int y = tb_op1(g, IR_OP_GELU, xs);
            op3(g, IR_OP_GELU_GRAD_Y, dy, xs, y, (IrAttrs){0});
        }
    }
    int c = tb_input(g, "c", 1, D(3)), dc = tb_input(g, "dc", 1, D(3));
    int z = op_a(g, IR_OP_MUL_SCALAR, c, (IrAttrs){.scalar = 0.0f});      /* 0 */
    int t = op_a(g, IR_OP_MUL_SCALAR, c, (IrAttrs){.scalar = 1e-35f});    /* tiny */
    op3(g, IR_OP_GELU_GRAD_Y, dc, z, tb_op1(g, IR_OP_GELU, z), (IrAttrs){0});
    op3(g, IR_OP_GELU_GRAD_Y, dc, t, tb_op1(g, IR_OP_GELU, t), (IrAttrs){0});
    check(g, TOL, "gelu_grad_y");
    ir_graph_free(g);
}

/* layernorm_grad_x_add (the fuse pass's LayerNorm input gradient plus the
 * residual stream's) over last dims 1, 3, 17, 129: the same float add as
 * the add it replaces, after the gradient's rounding. */
Test(codegen_ops, layernorm_grad_x_add)
{
    IrGraph *g = fresh("layernorm_grad_x_add");
    static const int64_t widths[] = {1, 3, 17, 129};
    for (int i = 0; i < 4; i++) {
        int64_t C = widths[i];
        int x = tb_input(g, "x", 2, D(3, C)), dy = tb_input(g, "dy", 2, D(3, C));
        int a = tb_input(g, "a", 2, D(3, C)), gm = tb_param(g, "g", 1, D(C));
        tb_op(g, IR_OP_LAYERNORM_GRAD_X_ADD, (int[]){dy, x, gm, a}, 4, &(IrAttrs){.eps = 1e-5f});
    }
    check(g, TOL, "layernorm_grad_x_add");
    ir_graph_free(g);
}
