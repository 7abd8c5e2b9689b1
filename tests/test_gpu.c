/* test_gpu.c — the GPU kernels (codegen/gpu*.c) on a machine without a GPU.
 *
 * 1. Every supported op's kernels form a verified LLVM module for nvptx64
 *    and for the host, and the PTX holds one `.entry` per kernel; one small
 *    kernel's PTX is a golden file (tests/golden/gpu_relu.ptx; regenerate
 *    with LNET_UPDATE_GOLDEN=1).
 * 2. Every kernel under the emulated device (the host build of the same
 *    bodies, run thread by thread) against the reference interpreter, at
 *    feature sizes 1, 3, 17, 129 and batches 1, 3, 17, whole step with
 *    training on and the forward part alone, comparing EVERY node:
 *      err = max |emu - ref| / max(1, max |ref|)
 *    Tolerances: 1e-6 for elementwise code, bias and batch reductions and the
 *    updates (the reference's float expressions and summation order, up to
 *    FMA contraction); 2e-6 for products (a float sum over k in order
 *    against sgemm's blocked order; measured below 1e-6); 1e-5 for the
 *    losses and tanh/sigmoid (inline float exp/log/tanh against libm's double).
 * 3. An unsupported op is a clear error naming the op and the block.
 *
 * On a machine with a GPU (tools/device-check.sh) two variables turn the
 * same tests on the device: LNET_TEST_GPU_DEVICE=N runs every check on CUDA
 * device N instead of the emulation, and LNET_GPU_PTX_DIR=DIR writes each
 * test's PTX for sm_70 and sm_90 to DIR/<test>.sm_70.ptx and .sm_90.ptx
 * (tests/gpu.cmake assembles them with ptxas where the machine has it).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_graph.h"
#include "exec_compare.h"
#include "codegen.h"
#include "exec.h"
#include "gpu.h"

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define MAXB 17

static const int batches[] = {1, 3, MAXB};
static const int64_t sizes[] = {1, 3, 17, 129};

/* ------------------------------------------------------------- harness */

static bool positive[1024];

/* The PTX of g: one .entry per kernel, and a verified module for both targets. */
static void check_ptx(const IrGraph *g, const char *what)
{
    Diag d;
    diag_init(&d);
    for (int ptx = 0; ptx < 2; ptx++) {
        char *ll = gpu_emit_llvm(g, ptx, &d);
        cr_assert(ll, "%s: module: %s", what, d.n_msgs ? d.msgs[0].text : "?");
        free(ll);
    }
    char *text = gpu_emit_ptx(g, NULL, &d);
    cr_assert(text, "%s: PTX: %s", what, d.n_msgs ? d.msgs[0].text : "?");
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (ir_op_info(n->op)->kind == IR_KIND_SOURCE || ir_op_has(n->op, IR_P_VIEW))
            continue;
        char entry[96];
        snprintf(entry, sizeof entry, ".entry k%d_%s(", i, ir_op_info(n->op)->name);
        cr_expect(strstr(text, entry), "%s: no '%s' in the PTX", what, entry);
    }
    cr_expect(strstr(text, ".target sm_70"), "%s: PTX target", what);
    free(text);
    /* and for Hopper (sm_90, PTX ISA 7.8) */
    char *text90 = gpu_emit_ptx(g, "sm_90", &d);
    cr_assert(text90, "%s: PTX for sm_90: %s", what, d.n_msgs ? d.msgs[0].text : "?");
    cr_expect(strstr(text90, ".target sm_90"), "%s: PTX target sm_90", what);
    const char *dir = getenv("LNET_GPU_PTX_DIR");
    for (int sm = 0; dir && *dir && sm < 2; sm++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.%s.ptx", dir, what, sm ? "sm_90" : "sm_70");
        FILE *f = fopen(path, "w");
        cr_assert(f, "cannot write %s", path);
        char *t = sm ? text90 : gpu_emit_ptx(g, NULL, &d);
        fputs(t, f);
        fclose(f);
        if (!sm)
            free(t);
    }
    free(text90);
    diag_fini(&d);
}

/* Runs g on the emulated device and the interpreter at every batch size,
 * whole step and forward only; compares every node. tol_of gives a node's
 * tolerance. */
static double check(const IrGraph *g, double (*tol_of)(IrOp), const char *what)
{
    check_ptx(g, what);
    char err[256];
    RtExec *ref = rt_exec_interp_new(g, MAXB, err, sizeof err);
    cr_assert(ref, "%s", err);
    const char *dev = getenv("LNET_TEST_GPU_DEVICE");
    RtExec *emu = dev && *dev ? gpu_exec_cuda_make(g, MAXB, atoi(dev), err, sizeof err)
                              : gpu_exec_emu_new(g, MAXB, err, sizeof err);
    cr_assert(emu, "%s: %s", what, err);
    double worst = 0;
    for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
        int n = batches[bi];
        for (int mode = 0; mode < 2; mode++) {
            tc_fill(emu, ref, g, n, 17u * (unsigned)n + (unsigned)mode, positive);
            RtStepArgs a = {.n = n, .lr = 0.01f, .step = 3, .seed = 42, .train = mode == 0};
            if (mode == 0) {
                rt_exec_step(emu, &a);
                rt_exec_step(ref, &a);
            } else {
                rt_exec_forward(emu, &a);
                rt_exec_forward(ref, &a);
            }
            for (int i = 0; i < g->n_nodes; i++) {
                if (mode == 1 && !tc_is_forward(g->nodes[i]))
                    continue;
                double e = tc_node_err(emu, ref, g, i, n), tol = tol_of(g->nodes[i]->op);
                worst = e > worst ? e : worst;
                cr_expect(e <= tol, "%s: node %%%d %s, batch %d, %s: error %g > %g", what, i,
                          ir_op_info(g->nodes[i]->op)->name, n, mode ? "forward" : "step", e,
                          tol);
            }
        }
    }
    cr_log_info("%s: max error %.3g (%s)", what, worst, emu->ops->name);
    rt_exec_free(emu);
    rt_exec_free(ref);
    return worst;
}

static double tol_exact(IrOp op)
{
    switch (op) {
    case IR_OP_MATMUL:
    case IR_OP_MATMUL_GRAD_X:
    case IR_OP_MATMUL_GRAD_W:
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BIAS_RELU:
    case IR_OP_CONV2D_GRAD_X:
    case IR_OP_CONV2D_GRAD_W: return 2e-6;
    case IR_OP_CROSS_ENTROPY:
    case IR_OP_CROSS_ENTROPY_GRAD:
    case IR_OP_TANH:
    case IR_OP_SIGMOID:
    case IR_OP_TANH_GRAD:
    case IR_OP_SIGMOID_GRAD:
    case IR_OP_GELU:
    case IR_OP_GELU_GRAD:
    case IR_OP_SOFTMAX:
    case IR_OP_LOG_SOFTMAX:
    case IR_OP_SOFTMAX_GRAD:
    case IR_OP_LOG_SOFTMAX_GRAD: return 1e-5;
    default: return 1e-6;
    }
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
    int th = tb_op1(g, IR_OP_TANH, x), sg = tb_op1(g, IR_OP_SIGMOID, x);
    tb_op2(g, IR_OP_RELU_GRAD, y, x);
    op_a2(g, IR_OP_LEAKY_RELU_GRAD, y, x, (IrAttrs){.scalar = 0.2f});
    tb_op2(g, IR_OP_TANH_GRAD, y, th);
    tb_op2(g, IR_OP_SIGMOID_GRAD, y, sg);
    op3(g, IR_OP_DIV_GRAD_B, y, x, p, (IrAttrs){0});
    op3(g, IR_OP_DIV_GRAD_B, y, x, bp, (IrAttrs){0});
    tb_op1(g, IR_OP_REDUCE_BATCH, x);
}

Test(gpu, elementwise)
{
    IrGraph *g = fresh("elementwise");
    for (int i = 0; i < 4; i++)
        elementwise_on(g, 1, D(sizes[i]));
    elementwise_on(g, 2, D(3, 17));
    int s1 = tb_param(g, "s1", 0, NULL), s2 = tb_param(g, "s2", 0, NULL);
    tb_op2(g, IR_OP_ADD, s1, s2);
    tb_op(g, IR_OP_FILL, NULL, 0, &(IrAttrs){.scalar = 2.5f});
    check(g, tol_exact, "elementwise");
    ir_graph_free(g);
}

/* bias_add / bias_relu / bias_grad over the last dim and the NCHW channel axis. */
Test(gpu, bias)
{
    IrGraph *g = fresh("bias");
    for (int i = 0; i < 4; i++) {
        int x = tb_input(g, "x", 2, D(3, sizes[i])), b = tb_param(g, "b", 1, D(sizes[i]));
        op_a2(g, IR_OP_BIAS_ADD, x, b, (IrAttrs){.axis = -1});
        op_a2(g, IR_OP_BIAS_RELU, x, b, (IrAttrs){.axis = -1});
        op_a(g, IR_OP_BIAS_GRAD, x, (IrAttrs){.axis = -1});
    }
    int img = tb_input(g, "img", 3, D(3, 5, 7)), b3 = tb_param(g, "b3", 1, D(3));
    int x4 = tb_input(g, "x4", 4, D(2, 3, 4, 5));
    op_a2(g, IR_OP_BIAS_ADD, img, b3, (IrAttrs){.axis = 1});
    op_a2(g, IR_OP_BIAS_RELU, img, b3, (IrAttrs){.axis = 1});
    op_a(g, IR_OP_BIAS_GRAD, img, (IrAttrs){.axis = 1});
    op_a(g, IR_OP_BIAS_GRAD, x4, (IrAttrs){.axis = 2});
    int fl = tb_op1(g, IR_OP_FLATTEN, img);     /* a view feeding a kernel */
    tb_op1(g, IR_OP_RELU, fl);
    check(g, tol_exact, "bias");
    ir_graph_free(g);
}

/* matmul and both gradients, every pair of sizes 1/3/17/129 on either side
 * (the 4×4 tiles' edges), rank-2 and rank-3 inputs. */
Test(gpu, matmul)
{
    IrGraph *g = fresh("matmul");
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            int64_t I = sizes[i], O = sizes[j];
            bool r3 = (i + j) % 3 == 0;
            int x = r3 ? tb_input(g, "x", 2, D(3, I)) : tb_input(g, "x", 1, D(I));
            int dy = r3 ? tb_input(g, "dy", 2, D(3, O)) : tb_input(g, "dy", 1, D(O));
            int w = tb_param(g, "w", 2, D(I, O));
            tb_op2(g, IR_OP_MATMUL, x, w);
            tb_op2(g, IR_OP_MATMUL_GRAD_X, dy, w);
            tb_op2(g, IR_OP_MATMUL_GRAD_W, x, dy);
            /* the CPU's fused dense layer: + bias, and + a residual */
            int b = tb_param(g, "b", 1, D(O));
            op3(g, IR_OP_MATMUL_BIAS, x, w, b, (IrAttrs){0});
            tb_op(g, IR_OP_MATMUL_BIAS, (int[]){x, w, b, dy}, 4, &(IrAttrs){0});
        }
    check(g, tol_exact, "matmul");
    ir_graph_free(g);
}

/* cross-entropy and its gradient over classes 1..129, mse and its gradient. */
Test(gpu, losses)
{
    IrGraph *g = fresh("losses");
    for (int i = 0; i < 4; i++) {
        int x = tb_input(g, "x", 1, D(sizes[i]));
        int y = tb_label(g, "y", (int)sizes[i], 0, NULL);
        int l = tb_op2(g, IR_OP_CROSS_ENTROPY, x, y);
        int dl = tb_op(g, IR_OP_FILL, NULL, 0, &(IrAttrs){.scalar = 1.5f});
        op3(g, IR_OP_CROSS_ENTROPY_GRAD, dl, x, y, (IrAttrs){0});
        (void)l;
        int p = tb_input(g, "p", 2, D(3, sizes[i])), t = tb_input(g, "t", 2, D(3, sizes[i]));
        tb_op2(g, IR_OP_MSE, p, t);
        op3(g, IR_OP_MSE_GRAD, dl, p, t, (IrAttrs){0});
    }
    int x = tb_input(g, "xs", 2, D(3, 17)), y = tb_label(g, "ys", 17, 1, D(3));
    tb_op2(g, IR_OP_CROSS_ENTROPY, x, y);   /* rows per example: 3 */
    check(g, tol_exact, "losses");
    ir_graph_free(g);
}

/* gelu and its gradient; softmax, log_softmax and their gradients over last
 * dims 1, 3, 17, 129. */
Test(gpu, softmax_gelu)
{
    IrGraph *g = fresh("softmax_gelu");
    for (int i = 0; i < 4; i++) {
        int x = tb_input(g, "x", 2, D(3, sizes[i])), dy = tb_input(g, "dy", 2, D(3, sizes[i]));
        tb_op1(g, IR_OP_GELU, x);
        tb_op2(g, IR_OP_GELU_GRAD, dy, x);
        op3(g, IR_OP_GELU_GRAD_Y, dy, x, tb_op1(g, IR_OP_GELU, x), (IrAttrs){0});
        int sm = tb_op1(g, IR_OP_SOFTMAX, x), ls = tb_op1(g, IR_OP_LOG_SOFTMAX, x);
        tb_op2(g, IR_OP_SOFTMAX_GRAD, dy, sm);
        tb_op2(g, IR_OP_LOG_SOFTMAX_GRAD, dy, ls);
    }
    check(g, tol_exact, "softmax_gelu");
    ir_graph_free(g);
}

/* transpose (rank 2 and 4), slice_last, embedding and its gradient (repeated
 * ids; with V = 4 the id 4 is out of range: zeros, though a read past the
 * table would also see the buffer's zeroed padding here). */
Test(gpu, moves)
{
    IrGraph *g = fresh("moves");
    int x = tb_input(g, "x", 2, D(3, 17)), x4 = tb_input(g, "x4", 4, D(2, 3, 4, 5));
    op_a(g, IR_OP_TRANSPOSE, x, (IrAttrs){.perm = {1, 0}});
    op_a(g, IR_OP_TRANSPOSE, x4, (IrAttrs){.perm = {2, 0, 3, 1}});
    op_a(g, IR_OP_SLICE_LAST, x, (IrAttrs){.start = 2, .len = 5});
    op_a(g, IR_OP_SLICE_LAST, x, (IrAttrs){.start = 16, .len = 1});
    for (int i = 0; i < 4; i++) {
        int ids = tb_label(g, "ids", 5, 1, D(3));      /* ids in [0, 5) */
        int table = tb_param(g, "table", 2, D(i == 0 ? 4 : 5, sizes[i]));
        tb_op2(g, IR_OP_EMBEDDING, ids, table);         /* V = 4: id 4 is outside */
        int dy = tb_input(g, "dy", 2, D(3, sizes[i]));
        op3(g, IR_OP_EMBEDDING_GRAD, dy, ids, table, (IrAttrs){0});
    }
    check(g, tol_exact, "moves");
    ir_graph_free(g);
}

/* SGD (momentum, Nesterov, weight decay), Adam and AdamW, with and without a
 * clip factor; sumsq and clip_factor. */
Test(gpu, optimizers)
{
    IrGraph *g = fresh("optim");
    for (int i = 0; i < 4; i++) {
        int64_t L = sizes[i];
        int gr = tb_param(g, "g", 1, D(L));
        int ss = tb_op1(g, IR_OP_SUMSQ, gr);
        int cf = op_a(g, IR_OP_CLIP_FACTOR, ss, (IrAttrs){.scalar = 0.5f});
        for (int clip = 0; clip < 2; clip++) {
            static const IrAttrs sgd[] = {{.momentum = 0.0f}, {.momentum = 0.9f},
                                          {.momentum = 0.9f, .nesterov = 1,
                                           .weight_decay = 0.01f}};
            for (int s = 0; s < 3; s++) {
                int p = tb_param(g, "p", 1, D(L)), buf = tb_param(g, "buf", 1, D(L));
                int in[4] = {p, gr, buf, cf};
                tb_op(g, IR_OP_SGD_UPDATE, in, 3 + clip, &sgd[s]);
            }
            static const IrAttrs adam[] = {
                {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f},
                {.beta1 = 0.8f, .beta2 = 0.99f, .eps = 1e-6f, .weight_decay = 0.1f},
                {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f,
                 .decoupled = 1}};
            for (int s = 0; s < 3; s++) {
                int p = tb_param(g, "p", 1, D(L)), m = tb_param(g, "m", 1, D(L));
                int v = tb_param(g, "v", 1, D(L));
                positive[v] = true;
                int in[5] = {p, gr, m, v, cf};
                tb_op(g, IR_OP_ADAM_UPDATE, in, 4 + clip, &adam[s]);
            }
        }
    }
    check(g, tol_exact, "optimizers");
    ir_graph_free(g);
}

/* conv2d (plain and fused with bias + relu) and both gradients: kernel 1/3,
 * stride 1/2, padding 0/1, odd sizes. */
Test(gpu, conv2d)
{
    IrGraph *g = fresh("conv");
    static const int cfg[][6] = {   /* C, O, H, K, S, P */
        {1, 2, 7, 3, 1, 1}, {3, 5, 8, 3, 2, 1}, {3, 2, 5, 3, 1, 0},
        {2, 3, 7, 1, 1, 0}, {2, 3, 6, 1, 2, 0}, {1, 1, 3, 3, 2, 1}, {3, 17, 4, 3, 1, 1},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        const int *c = cfg[i];
        int x = tb_input(g, "x", 3, D(c[0], c[2], c[2] + 1));
        int w = tb_param(g, "w", 4, D(c[1], c[0], c[3], c[3]));
        int b = tb_param(g, "b", 1, D(c[1]));
        IrAttrs a = {.stride = c[4], .padding = c[5]};
        int y = op_a2(g, IR_OP_CONV2D, x, w, a);
        op3(g, IR_OP_CONV2D_BIAS_RELU, x, w, b, a);
        const IrType *t = &g->nodes[y]->type;
        int dy = tb_input(g, "dy", 3, D(t->dim[1], t->dim[2], t->dim[3]));
        op3(g, IR_OP_CONV2D_GRAD_X, dy, w, x, a);
        op3(g, IR_OP_CONV2D_GRAD_X_RELU, dy, w, x, a);  /* masked where x <= 0 */
        op3(g, IR_OP_CONV2D_GRAD_W, x, dy, w, a);
    }
    check(g, tol_exact, "conv2d");
    ir_graph_free(g);
}

/* max/avg pooling (kernel 2/3, stride 1/2, overlapping windows) and the
 * global average, with gradients. */
Test(gpu, pooling)
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
            if (!avg)
                op_a2(g, IR_OP_MAXPOOL_GRAD_RELU, dy, x, a);
        }
    }
    int x = tb_input(g, "x", 3, D(5, 3, 7)), dy = tb_input(g, "dy", 1, D(5));
    tb_op1(g, IR_OP_GLOBAL_AVG_POOL, x);
    tb_op2(g, IR_OP_GLOBAL_AVG_POOL_GRAD, dy, x);
    check(g, tol_exact, "pooling");
    ir_graph_free(g);
}

/* One small kernel's PTX, as LLVM 19 writes it for sm_70. */
Test(gpu, golden_ptx)
{
    IrGraph *g = fresh("golden");
    int x = tb_input(g, "x", 1, D(3));
    tb_op1(g, IR_OP_RELU, x);
    Diag d;
    diag_init(&d);
    char *text = gpu_emit_ptx(g, "sm_70", &d);
    cr_assert(text);
    const char *path = LNET_SOURCE_DIR "/tests/golden/gpu_relu.ptx";
    if (getenv("LNET_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "w");
        cr_assert(f);
        fputs(text, f);
        fclose(f);
    }
    FILE *f = fopen(path, "r");
    cr_assert(f, "missing %s (LNET_UPDATE_GOLDEN=1 writes it)", path);
    static char want[65536];
    size_t len = fread(want, 1, sizeof want - 1, f);
    want[len] = '\0';
    fclose(f);
    cr_expect_str_eq(text, want, "PTX differs from %s", path);
    free(text);
    diag_fini(&d);
    ir_graph_free(g);
}

#ifdef FAKE_CUDA_PATH
/* The CUDA executor over the fake driver (tests/fake_cuda.c), which keeps
 * device memory in host memory and runs no kernel of ours: what the trainer
 * writes through buffer() reaches the device before a step and comes back
 * after it (the update marks its parameter and state newer on the device),
 * computed values come back as the device holds them (zeroed), the
 * inputs go in every step, and a second executor is independent. */
Test(gpu, cuda_executor_fake_driver)
{
    setenv("LNET_CUDA_DRIVER", FAKE_CUDA_PATH, 1);
    IrGraph *g = fresh("fake");
    int x = tb_input(g, "x", 1, D(3));
    int r = tb_op1(g, IR_OP_RELU, x);
    int p = tb_param(g, "p", 1, D(5)), gr = tb_param(g, "g", 1, D(5));
    int m = tb_param(g, "m", 1, D(5)), v = tb_param(g, "v", 1, D(5));
    int in[4] = {p, gr, m, v};
    tb_op(g, IR_OP_ADAM_UPDATE, in, 4, &(IrAttrs){.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f});
    char err[256];
    RtExec *e = gpu_exec_cuda_make(g, 4, 0, err, sizeof err);
    cr_assert(e, "%s", err);
    cr_expect_str_eq(e->ops->name, "cuda");
    RtExec *e2 = gpu_exec_cuda_make(g, 4, 0, err, sizeof err);
    cr_assert(e2, "%s", err);
    float *pp = rt_exec_buffer(e, p), *xx = rt_exec_buffer(e, x);
    for (int i = 0; i < 5; i++)
        pp[i] = (float)i + 1;
    for (int i = 0; i < 12; i++)
        xx[i] = -1.0f - (float)i;
    float *rr = rt_exec_buffer(e, r);
    rr[0] = 42.0f;      /* a computed value: the device's copy wins after a step */
    RtStepArgs a = {.n = 4, .lr = 0.1f, .step = 1};
    rt_exec_step(e, &a);
    pp = rt_exec_buffer(e, p);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(pp[i], (float)i + 1, "p[%d] = %g after the round trip", i, pp[i]);
    cr_expect_eq(((float *)rt_exec_buffer(e, r))[0], 42.0f, "relu out, uploaded: %g",
                 ((float *)rt_exec_buffer(e, r))[0]);
    xx = rt_exec_buffer(e, x);
    cr_expect_eq(xx[11], -12.0f);
    cr_expect_eq(((float *)rt_exec_buffer(e2, p))[0], 0.0f, "the second executor's p");
    rt_exec_free(e2);
    rt_exec_free(e);
    ir_graph_free(g);
}
#endif

/* An op without a GPU kernel: an error naming it and its block, no crash. */
Test(gpu, unsupported_op)
{
    IrGraph *g = fresh("unsupported");
    int x = tb_input(g, "x", 2, D(3, 5));
    int y = op_a(g, IR_OP_DROPOUT, x, (IrAttrs){.p = 0.5f, .salt = 1});
    g->nodes[y]->block = 1;
    char err[256];
    RtExec *e = gpu_exec_emu_new(g, 4, err, sizeof err);
    cr_assert_null(e);
    cr_expect(strstr(err, "op 'dropout' (%1, block 2) has no GPU kernel"), "got: %s", err);
    Diag d;
    diag_init(&d);
    cr_expect_null(gpu_emit_ptx(g, NULL, &d));
    cr_expect_eq(d.n_errors, 1);
    diag_fini(&d);
    ir_graph_free(g);
}
