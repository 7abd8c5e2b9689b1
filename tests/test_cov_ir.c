/* test_cov_ir.c — the IR verifier (ir/verify.c) against graphs broken by hand:
 * each invariant it checks, one corruption at a time, with the message that
 * names the node. The passes never produce such graphs, so no other suite
 * reaches these errors; a pass with a bug would. Also two shape-rule errors a
 * model can reach (a window larger than its input), with their exact text.
 */
#include <criterion/criterion.h>

#include "build_graph.h"
#include "frontend.h"

#include <stdlib.h>
#include <string.h>

/* %0 input x, %1 label y, %2 param w f32[4,3], %3 param b, %4 matmul,
 * %5 bias_add f32[N,3], %6 cross_entropy (the loss) */
static const char *const src =
    "model m\n"
    "input x : f32[4]\n"
    "label y : class[3]\n"
    "loss cross_entropy(dense(x, 3), y)\n";

static IrGraph *compile(void)
{
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("v.lnet", src, strlen(src), &d);
    cr_assert_not_null(g, "%s", tb_diag_text(&d));
    diag_fini(&d);
    cr_assert_eq(g->n_nodes, 7);
    cr_assert_eq(g->nodes[4]->op, IR_OP_MATMUL);
    cr_assert_eq(g->loss, 6);
    return g;
}

/* The graph must fail verification with a message holding `want`. */
static void expect_broken(IrGraph *g, const char *want)
{
    Diag d;
    diag_init(&d);
    cr_expect_not(ir_graph_verify(g, &d), "verified a broken graph (want '%s')", want);
    char *got = tb_diag_text(&d);
    cr_expect(strstr(got, want), "want '%s' in:\n%s", want, got);
    free(got);
    diag_fini(&d);
    ir_graph_free(g);
}

Test(verify, the_unbroken_graph_verifies)
{
    IrGraph *g = compile();
    Diag d;
    diag_init(&d);
    cr_expect(ir_graph_verify(g, &d), "%s", tb_diag_text(&d));
    diag_fini(&d);
    ir_graph_free(g);
}

Test(verify, node_id_must_be_its_index)
{
    IrGraph *g = compile();
    g->nodes[2]->id = 7;
    expect_broken(g, "verifier: node %7 stored at index 2");
}

Test(verify, operand_count_from_the_op_table)
{
    IrGraph *g = compile();
    g->nodes[6]->n_in = 1;
    expect_broken(g, "verifier: cross_entropy has 1 operands, expected 2..2");
}

Test(verify, operands_defined_before_use)
{
    IrGraph *g = compile();
    g->nodes[4]->in[1] = 5;     /* a later node */
    expect_broken(g, "verifier: %4 uses %5, which is not defined before it");
    g = compile();
    g->nodes[5]->in[0] = -1;
    expect_broken(g, "verifier: %5 uses %-1, which is not defined before it");
}

Test(verify, block_in_range)
{
    IrGraph *g = compile();
    cr_assert_eq(g->n_blocks, 0);
    g->nodes[4]->block = 0;     /* no blocks yet: even block 0 is out of range */
    expect_broken(g, "verifier: %4 has block 1, graph has 0 blocks (numbered from 1)");
}

Test(verify, parameter_without_batch)
{
    IrGraph *g = compile();
    IrType *t = &g->nodes[3]->type;     /* b : f32[3] -> f32[N,3] */
    t->rank = 2;
    t->dim[1] = t->dim[0];
    t->dim[0] = IR_DIM_N;
    expect_broken(g, "verifier: parameter %3 has a batch dimension");
}

Test(verify, type_is_what_the_shape_rule_gives)
{
    IrGraph *g = compile();
    g->nodes[5]->type.dim[1] = 5;
    expect_broken(g, "verifier: %5 (bias_add) has type f32[N,5], its shape rule gives f32[N,3]");
    g = compile();
    g->nodes[4]->in[1] = 3;     /* x @ b: b is not a matrix */
    expect_broken(g, "verifier: %4 (matmul) has type f32[N,3], its shape rule gives an error");
}

Test(verify, loss_in_range_and_scalar)
{
    IrGraph *g = compile();
    g->loss = 7;
    expect_broken(g, "verifier: loss %7 out of range");
    g = compile();
    g->loss = 5;
    expect_broken(g, "verifier: the loss is not a scalar");
}

/* Shape-rule errors the frontend leaves to ir/shape.c reach the user as
 * diagnostics at the layer's call, with the shapes. */
static void expect_shape_error(const char *line, const char *want)
{
    char src[256];
    snprintf(src, sizeof src, "model m\ninput t : f32[16]\n%s\nloss mse(x, x)\n", line);
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("s.lnet", src, strlen(src), &d);
    cr_expect_null(g, "compiled: %s", line);
    char *got = tb_diag_text(&d);
    cr_expect_str_eq(got, want);
    free(got);
    ir_graph_free(g);
    diag_fini(&d);
}

Test(shape, window_larger_than_the_input)
{
    expect_shape_error("x = maxpool(reshape(t, 1, 4, 4), 8)",
                       "s.lnet:3:5: error: pooling window larger than the input in maxpool: "
                       "got f32[N,1,4,4]\n"
                       "x = maxpool(reshape(t, 1, 4, 4), 8)\n"
                       "    ^\n");
    expect_shape_error("x = conv2d(reshape(t, 1, 4, 4), 4, 9)",
                       "s.lnet:3:5: error: kernel larger than the padded input in conv2d: "
                       "f32[N,1,4,4] vs f32[4,1,9,9]\n"
                       "x = conv2d(reshape(t, 1, 4, 4), 4, 9)\n"
                       "    ^\n");
}
