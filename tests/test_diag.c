/* test_diag.c — the exact diagnostics for each kind of bad input: message,
 * line, column, source line and caret, as diag_print renders them. Every case
 * must also return no graph. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"

static void expect_diag(const char *src, const char *want)
{
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("bad.lnet", src, strlen(src), &d);
    char *out;
    size_t n;
    FILE *f = open_memstream(&out, &n);
    diag_print(&d, f);
    fclose(f);
    cr_expect_null(g, "a graph despite errors");
    cr_expect(d.n_errors > 0);
    cr_expect_str_eq(out, want);
    ir_graph_free(g);
    free(out);
    diag_fini(&d);
}

Test(diag, error_cap_reports_the_rest_as_a_count)
{
    char src[4096] = "";
    for (int i = 0; i < 30; i++)
        strcat(src, "x = $\n");
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("bad.lnet", src, strlen(src), &d);
    cr_expect_null(g);
    cr_expect_eq(d.n_msgs, d.max_errors, "stored messages are capped");
    char *out;
    size_t n;
    FILE *f = open_memstream(&out, &n);
    diag_print(&d, f);
    fclose(f);
    cr_expect(strstr(out, "more errors not shown") != NULL, "%s", out);
    free(out);
    diag_fini(&d);
}

Test(diag, unknown_function)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "h = foo(x)\n"
        "loss mse(h, x)\n",
        "bad.lnet:3:5: error: unknown function 'foo'\n"
        "h = foo(x)\n"
        "    ^\n");
}

Test(diag, unknown_function_suggests)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "h = rellu(x)\n"
        "loss mse(h, x)\n",
        "bad.lnet:3:5: error: unknown function 'rellu' (did you mean 'relu'?)\n"
        "h = rellu(x)\n"
        "    ^\n");
}

Test(diag, undefined_name)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "h = relu(z)\n"
        "loss mse(h, x)\n",
        "bad.lnet:3:10: error: undefined name 'z' (did you mean 'x'?)\n"
        "h = relu(z)\n"
        "         ^\n");
}

Test(diag, undefined_name_suggests)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "hidden = relu(x)\n"
        "loss mse(hiden, x)\n",
        "bad.lnet:4:10: error: undefined name 'hiden' (did you mean 'hidden'?)\n"
        "loss mse(hiden, x)\n"
        "         ^\n");
}

Test(diag, def_sees_no_globals)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "w = 4\n"
        "def f(a) { return dense(a, w) }\n"
        "loss cross_entropy(f(x), y)\n",
        "bad.lnet:4:28: error: undefined name 'w' (a def sees only its parameters and locals: pass it as an argument)\n"
        "def f(a) { return dense(a, w) }\n"
        "                           ^\n"
        "bad.lnet:5:20: note: in 'f' called here\n"
        "loss cross_entropy(f(x), y)\n"
        "                   ^\n");
}

Test(diag, def_too_many_args)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "def f(a) { return relu(a) }\n"
        "loss mse(f(x, 1), x)\n",
        "bad.lnet:4:15: error: 'f' takes 1 argument, got 2\n"
        "loss mse(f(x, 1), x)\n"
        "              ^\n");
}

Test(diag, def_too_few_args)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "def f(a, b) { return dense(a, b) }\n"
        "loss mse(f(x), x)\n",
        "bad.lnet:4:10: error: 'f' takes 2 arguments, got 1\n"
        "loss mse(f(x), x)\n"
        "         ^\n");
}

Test(diag, builtin_too_many_args)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(relu(x, 1), x)\n",
        "bad.lnet:3:18: error: 'relu' takes 1 argument, got 2\n"
        "loss mse(relu(x, 1), x)\n"
        "                 ^\n");
}

Test(diag, builtin_missing_arg)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss cross_entropy(dense(x), y)\n",
        "bad.lnet:3:20: error: missing argument 'units' in call to 'dense'\n"
        "loss cross_entropy(dense(x), y)\n"
        "                   ^\n");
}

Test(diag, unknown_named_arg)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss cross_entropy(dense(x, 4, unit = 3), y)\n",
        "bad.lnet:3:32: error: unknown argument 'unit' in call to 'dense' (did you mean 'units'?)\n"
        "loss cross_entropy(dense(x, 4, unit = 3), y)\n"
        "                               ^\n");
}

Test(diag, arg_given_twice)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss cross_entropy(dense(x, 4, units = 3), y)\n",
        "bad.lnet:3:32: error: argument 'units' given twice in call to 'dense'\n"
        "loss cross_entropy(dense(x, 4, units = 3), y)\n"
        "                               ^\n");
}

Test(diag, positional_after_named)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss cross_entropy(dense(x, units = 4, 0), y)\n",
        "bad.lnet:3:40: error: positional argument after a named argument\n"
        "loss cross_entropy(dense(x, units = 4, 0), y)\n"
        "                                       ^\n");
}

Test(diag, redefined_input)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "input x : f32[4]\n"
        "loss mse(x, x)\n",
        "bad.lnet:3:7: error: redefinition of 'x' (already defined as an input)\n"
        "input x : f32[4]\n"
        "      ^\n"
        "bad.lnet:1:7: note: 'x' was first defined here\n"
        "input x : f32[8]\n"
        "      ^\n");
}

Test(diag, label_redefines_input)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "label x : class[3]\n"
        "loss mse(x, x)\n",
        "bad.lnet:3:7: error: redefinition of 'x' (already defined as an input)\n"
        "label x : class[3]\n"
        "      ^\n"
        "bad.lnet:1:7: note: 'x' was first defined here\n"
        "input x : f32[8]\n"
        "      ^\n");
}

Test(diag, redefined_def)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "def f(a) { return a }\n"
        "def f(b) { return b }\n"
        "loss mse(f(x), x)\n",
        "bad.lnet:4:5: error: redefinition of def 'f'\n"
        "def f(b) { return b }\n"
        "    ^\n"
        "bad.lnet:3:5: note: 'f' was first defined here\n"
        "def f(a) { return a }\n"
        "    ^\n");
}

Test(diag, def_named_like_builtin)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "def relu(a) { return a }\n"
        "loss mse(x, x)\n",
        "bad.lnet:3:5: error: 'relu' is a builtin and cannot be redefined\n"
        "def relu(a) { return a }\n"
        "    ^\n");
}

Test(diag, shape_mismatch_add)
{
    expect_diag("input x : f32[8]\n"
        "input z : f32[4]\n"
        "loss mse(x + z, x)\n",
        "bad.lnet:3:12: error: shape mismatch in add: f32[N,8] vs f32[N,4]\n"
        "loss mse(x + z, x)\n"
        "           ^\n");
}

Test(diag, shape_mismatch_sub_unbatched_left)
{
    expect_diag("input x : f32[8]\n"
        "loss mse(param(8) - x, x)\n",
        "bad.lnet:2:19: error: shape mismatch in sub: f32[8] vs f32[N,8]\n"
        "loss mse(param(8) - x, x)\n"
        "                  ^\n");
}

Test(diag, batchnorm_of_unbatched_value)
{
    expect_diag("input x : f32[8]\n"
        "loss mse(x + batchnorm(param(8)), x)\n",
        "bad.lnet:2:24: error: batchnorm expects an f32 tensor [N,C], [N,C,L] or [N,C,H,W], "
        "got f32[8]\n"
        "loss mse(x + batchnorm(param(8)), x)\n"
        "                       ^\n");
}

Test(diag, batchnorm_negative_eps)
{
    expect_diag("input x : f32[8]\n"
        "loss mse(batchnorm(x, eps = -1e-5), x)\n",
        "bad.lnet:2:29: error: argument 'eps' of 'batchnorm' must be > 0, got -1e-05\n"
        "loss mse(batchnorm(x, eps = -1e-5), x)\n"
        "                            ^\n");
}

Test(diag, batchnorm_momentum_above_one)
{
    expect_diag("input x : f32[3, 4, 4]\n"
        "loss mse(batchnorm(x, momentum = 1.5), x)\n",
        "bad.lnet:2:34: error: argument 'momentum' of 'batchnorm' must be in [0, 1], got 1.5\n"
        "loss mse(batchnorm(x, momentum = 1.5), x)\n"
        "                                 ^\n");
}

Test(diag, number_where_tensor_needed)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(relu(3), x)\n",
        "bad.lnet:3:15: error: argument 'x' of 'relu' must be a tensor, got a number\n"
        "loss mse(relu(3), x)\n"
        "              ^\n");
}

Test(diag, tensor_where_number_needed)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss cross_entropy(dense(x, x), y)\n",
        "bad.lnet:3:29: error: argument 'units' of 'dense' must be a number, got a tensor\n"
        "loss cross_entropy(dense(x, x), y)\n"
        "                            ^\n");
}

Test(diag, repeat_zero)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "repeat 0 { x2 = relu(x) }\n"
        "loss mse(x, x)\n",
        "bad.lnet:3:8: error: repeat count must be a positive integer, got 0\n"
        "repeat 0 { x2 = relu(x) }\n"
        "       ^\n");
}

Test(diag, repeat_fraction)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "repeat 2.5 { h = relu(x) }\n"
        "loss mse(x, x)\n",
        "bad.lnet:3:8: error: repeat count must be a positive integer, got 2.5\n"
        "repeat 2.5 { h = relu(x) }\n"
        "       ^\n");
}

Test(diag, repeat_tensor)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "repeat x { h = relu(x) }\n"
        "loss mse(x, x)\n",
        "bad.lnet:3:8: error: repeat count must be a positive integer, got a tensor\n"
        "repeat x { h = relu(x) }\n"
        "       ^\n");
}

Test(diag, recursion_direct)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "def f(a) { return f(a) }\n"
        "loss mse(f(x), x)\n",
        "bad.lnet:3:19: error: recursive def: f -> f\n"
        "def f(a) { return f(a) }\n"
        "                  ^\n");
}

Test(diag, recursion_mutual)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "def a(t) { return b(t) }\n"
        "def b(t) { return c(t) }\n"
        "def c(t) {\n"
        "  return a(t)\n"
        "}\n"
        "loss mse(x, x)\n",
        "bad.lnet:6:10: error: recursive def: a -> b -> c -> a\n"
        "  return a(t)\n"
        "         ^\n");
}

Test(diag, section_unknown_key)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(x, x)\n"
        "train { batches = 32 }\n",
        "bad.lnet:4:9: error: unknown key 'batches' in train section (did you mean 'batch'?)\n"
        "train { batches = 32 }\n"
        "        ^\n");
}

Test(diag, section_optimizer_arg_as_key)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(x, x)\n"
        "train { lr = 0.1 }\n",
        "bad.lnet:4:9: error: unknown key 'lr' in train section ('lr' is an argument of the optimizer: optimizer = adam(lr = ...))\n"
        "train { lr = 0.1 }\n"
        "        ^\n");
}

Test(diag, section_bad_data)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(x, x)\n"
        "train { data = imagenet }\n",
        "bad.lnet:4:16: error: bad value for 'data': expected fashion_mnist, mnist, text, cifar10, "
        "cifar100 or npy(x = \"x.npy\", y = \"y.npy\", test_x = ..., test_y = ...), got 'imagenet'\n"
        "train { data = imagenet }\n"
        "               ^\n");
}

Test(diag, section_duplicate_key)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(x, x)\n"
        "train {\n"
        "  batch = 32\n"
        "  batch = 64\n"
        "}\n",
        "bad.lnet:6:3: error: duplicate key 'batch' in train section\n"
        "  batch = 64\n"
        "  ^\n"
        "bad.lnet:5:3: note: 'batch' was first set here\n"
        "  batch = 32\n"
        "  ^\n");
}

Test(diag, section_wrong_type)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(x, x)\n"
        "train { batch = \"32\" }\n",
        "bad.lnet:4:17: error: bad value for 'batch': expected an integer >= 1, got a string\n"
        "train { batch = \"32\" }\n"
        "                ^\n");
}

Test(diag, section_batch_not_integer)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(x, x)\n"
        "train { batch = 0.5 }\n",
        "bad.lnet:4:17: error: bad value for 'batch': expected an integer >= 1, got 0.5\n"
        "train { batch = 0.5 }\n"
        "                ^\n");
}

Test(diag, section_unknown_optimizer)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(x, x)\n"
        "train { optimizer = rmsprop(lr = 0.1) }\n",
        "bad.lnet:4:21: error: bad value for 'optimizer': expected sgd(lr, ...), adam(...) or adamw(...), got 'rmsprop(...)'\n"
        "train { optimizer = rmsprop(lr = 0.1) }\n"
        "                    ^\n");
}

Test(diag, section_sgd_needs_lr)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(x, x)\n"
        "train { optimizer = sgd(momentum = 0.9) }\n",
        "bad.lnet:4:21: error: missing argument 'lr' in call to 'sgd'\n"
        "train { optimizer = sgd(momentum = 0.9) }\n"
        "                    ^\n");
}

Test(diag, section_negative_lr)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(x, x)\n"
        "train { optimizer = adam(lr = -1e-3) }\n",
        "bad.lnet:4:31: error: argument 'lr' of 'adam' must be > 0, got -0.001\n"
        "train { optimizer = adam(lr = -1e-3) }\n"
        "                              ^\n");
}

Test(diag, section_bad_method)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(x, x)\n"
        "local { method = pipeline }\n",
        "bad.lnet:4:18: error: bad value for 'method': 'pipeline' is a schedule (lnet train "
        "--schedule pipeline), not a method; expected backprop, greedy, chunked, overlap or a "
        "plug-in's method\n"
        "local { method = pipeline }\n"
        "                 ^\n");
}

Test(diag, section_head_unknown)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(x, x)\n"
        "local { head = aux }\n",
        "bad.lnet:4:16: error: unknown def 'aux' for 'head'\n"
        "local { head = aux }\n"
        "               ^\n");
}

Test(diag, section_head_arity)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "def aux(a, b) { return a }\n"
        "loss mse(x, x)\n"
        "local { head = aux }\n",
        "bad.lnet:5:16: error: head 'aux' must take exactly one argument, it takes 2\n"
        "local { head = aux }\n"
        "               ^\n");
}

Test(diag, section_duplicate)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(x, x)\n"
        "local { blocks = 2 }\n"
        "local { blocks = 3 }\n",
        "bad.lnet:5:1: error: duplicate 'local' section\n"
        "local { blocks = 3 }\n"
        "^\n"
        "bad.lnet:4:1: note: the first 'local' section is here\n"
        "local { blocks = 2 }\n"
        "^\n");
}

Test(diag, loss_not_scalar)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss dense(x, 4)\n",
        "bad.lnet:3:6: error: the loss must be a scalar, got f32[N,4] (use cross_entropy or mse)\n"
        "loss dense(x, 4)\n"
        "     ^\n");
}

Test(diag, loss_number)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss 3\n",
        "bad.lnet:3:6: error: the loss must be a scalar tensor, got a number\n"
        "loss 3\n"
        "     ^\n");
}

Test(diag, loss_missing)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "h = relu(x)\n",
        "bad.lnet: error: no 'loss' statement: a model needs one\n");
}

Test(diag, loss_twice)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(x, x)\n"
        "loss mse(x, x)\n",
        "bad.lnet:4:1: error: duplicate 'loss' statement (a model has exactly one loss)\n"
        "loss mse(x, x)\n"
        "^\n"
        "bad.lnet:3:1: note: the first 'loss' is here\n"
        "loss mse(x, x)\n"
        "^\n");
}

Test(diag, cross_entropy_classes)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss cross_entropy(dense(x, 5), y)\n",
        "bad.lnet:3:20: error: cross_entropy: the logits f32[N,5] have 5 classes but label 'y' has 4\n"
        "loss cross_entropy(dense(x, 5), y)\n"
        "                   ^\n");
}

Test(diag, cross_entropy_needs_label)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss cross_entropy(dense(x, 4), x)\n",
        "bad.lnet:3:33: error: cross_entropy needs a class label (label NAME : class[K]) as its second argument\n"
        "loss cross_entropy(dense(x, 4), x)\n"
        "                                ^\n");
}

Test(diag, cross_entropy_positions)
{
    expect_diag("input t : i32[16]\n"
        "label y : class[4][8]\n"
        "loss cross_entropy(dense(embedding(t, 4, 8), 4), y)\n",
        "bad.lnet:3:6: error: shape mismatch between logits and labels in cross_entropy: f32[N,16,4] vs i32[N,8]\n"
        "loss cross_entropy(dense(embedding(t, 4, 8), 4), y)\n"
        "     ^\n");
}

Test(diag, conv2d_needs_nchw)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(conv2d(x, 4), x)\n",
        "bad.lnet:3:17: error: conv2d expects an f32[N,C,H,W] input, got f32[N,8] (reshape first, e.g. reshape(x, 1, 28, 28))\n"
        "loss mse(conv2d(x, 4), x)\n"
        "                ^\n");
}

Test(diag, embedding_needs_ids)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(embedding(x, 10, 4), x)\n",
        "bad.lnet:3:20: error: embedding expects i32 ids, got f32[N,8]\n"
        "loss mse(embedding(x, 10, 4), x)\n"
        "                   ^\n");
}

Test(diag, attention_heads)
{
    expect_diag("input t : i32[16]\n"
        "h = embedding(t, 4, 6)\n"
        "loss mse(attention(h, heads = 4), h)\n",
        "bad.lnet:3:31: error: attention: heads (4) must divide the width 6\n"
        "loss mse(attention(h, heads = 4), h)\n"
        "                              ^\n");
}

Test(diag, reshape_elements)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(flatten(reshape(x, 3, 3)), x)\n",
        "bad.lnet:3:18: error: element count mismatch in reshape: f32[N,8] vs f32[N,3,3]\n"
        "loss mse(flatten(reshape(x, 3, 3)), x)\n"
        "                 ^\n");
}

Test(diag, division_by_zero)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "k = 1 / (2 - 2)\n"
        "loss mse(x, x)\n",
        "bad.lnet:3:7: error: division by zero\n"
        "k = 1 / (2 - 2)\n"
        "      ^\n");
}

Test(diag, tensor_divided_by_zero)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(x / 0, x)\n",
        "bad.lnet:3:12: error: division by zero\n"
        "loss mse(x / 0, x)\n"
        "           ^\n");
}

Test(diag, number_divided_by_tensor)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(1 / x, x)\n",
        "bad.lnet:3:12: error: cannot divide a number by a tensor\n"
        "loss mse(1 / x, x)\n"
        "           ^\n");
}

Test(diag, string_outside_section)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "h = \"relu\"\n"
        "loss mse(x, x)\n",
        "bad.lnet:3:5: error: a string is only allowed as a train/local value\n"
        "h = \"relu\"\n"
        "    ^\n");
}

Test(diag, assign_to_input)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "x = relu(x)\n"
        "loss mse(x, x)\n",
        "bad.lnet:3:1: error: cannot assign to input 'x'\n"
        "x = relu(x)\n"
        "^\n");
}

Test(diag, cut_number)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "k = 3\n"
        "cut k\n"
        "loss mse(x, x)\n",
        "bad.lnet:4:5: error: cannot cut at 'k': it is a number, not a tensor\n"
        "cut k\n"
        "    ^\n");
}

Test(diag, dropout_p)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss mse(dropout(x, p = 1), x)\n",
        "bad.lnet:3:25: error: argument 'p' of 'dropout' must be in [0, 1), got 1\n"
        "loss mse(dropout(x, p = 1), x)\n"
        "                        ^\n");
}

Test(diag, leaky_relu_slope)
{
    expect_diag("input x : f32[8]\n"
        "loss mse(leaky_relu(x, 1e39), x)\n",
        "bad.lnet:2:24: error: argument 'slope' of 'leaky_relu' must be a finite number, "
        "got 1e+39\n"
        "loss mse(leaky_relu(x, 1e39), x)\n"
        "                       ^\n");
    expect_diag("input x : f32[8]\n"
        "loss mse(leaky_relu(x, slope = x), x)\n",
        "bad.lnet:2:32: error: argument 'slope' of 'leaky_relu' must be a number, got a tensor\n"
        "loss mse(leaky_relu(x, slope = x), x)\n"
        "                               ^\n");
}

Test(diag, bad_init)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "loss cross_entropy(dense(x, 4, init = uniform), y)\n",
        "bad.lnet:3:39: error: bad init: expected he, glorot, normal, normal(STD), zeros or ones\n"
        "loss cross_entropy(dense(x, 4, init = uniform), y)\n"
        "                                      ^\n");
}

Test(diag, i32_label)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "label z : i32[3]\n"
        "loss mse(x, x)\n",
        "bad.lnet:3:1: error: a label must be class[K] (class indices) or f32[...] (targets)\n"
        "label z : i32[3]\n"
        "^\n");
}

Test(diag, unclosed_paren)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "h = relu(dense(x, 4)\n"
        "loss mse(h, x)\n",
        "bad.lnet:4:1: error: expected ')' to close '(' opened at 3:9, got 'loss'\n"
        "loss mse(h, x)\n"
        "^\n");
}

Test(diag, unclosed_brace)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "def f(a) {\n"
        "  return relu(a)\n",
        "bad.lnet:5:1: error: expected '}' to close '{' opened at 3:10, got end of file\n"
        "\n"
        "^\n");
}

Test(diag, call_as_statement)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "relu(x)\n"
        "loss mse(x, x)\n",
        "bad.lnet:3:1: error: a call is not a statement; assign its result (NAME = relu(...))\n"
        "relu(x)\n"
        "^\n");
}

Test(diag, missing_equals)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "h relu(x)\n"
        "loss mse(x, x)\n",
        "bad.lnet:3:3: error: expected '=' after 'h', got 'relu'\n"
        "h relu(x)\n"
        "  ^\n");
}

Test(diag, bad_type_name)
{
    expect_diag("input x : f64[3]\n",
        "bad.lnet:1:11: error: expected a tensor type (f32[...] or i32[...]), got 'f64'\n"
        "input x : f64[3]\n"
        "          ^\n");
}

Test(diag, zero_dimension)
{
    expect_diag("input x : f32[28, 0]\n",
        "bad.lnet:1:19: error: a dimension must be a positive integer, got '0'\n"
        "input x : f32[28, 0]\n"
        "                  ^\n");
}

Test(diag, unexpected_character)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "h = relu(x) $ 2\n"
        "loss mse(h, x)\n",
        "bad.lnet:3:13: error: unexpected character '$'\n"
        "h = relu(x) $ 2\n"
        "            ^\n"
        "bad.lnet:3:15: error: expected a statement, got '2'\n"
        "h = relu(x) $ 2\n"
        "              ^\n");
}

Test(diag, malformed_number)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "h = x * 1e\n"
        "loss mse(h, x)\n",
        "bad.lnet:3:9: error: malformed number\n"
        "h = x * 1e\n"
        "        ^\n");
}

Test(diag, def_without_return)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "def f(a) {\n"
        "  b = relu(a)\n"
        "}\n",
        "bad.lnet:5:1: error: def 'f' must end with 'return EXPR'\n"
        "}\n"
        "^\n");
}

Test(diag, return_not_last)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "def f(a) {\n"
        "  return a\n"
        "  b = a\n"
        "}\n",
        "bad.lnet:4:3: error: 'return' must be the last statement of a def\n"
        "  return a\n"
        "  ^\n"
        "bad.lnet:6:1: error: def 'f' must end with 'return EXPR'\n"
        "}\n"
        "^\n");
}

Test(diag, several_errors)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "a = relu(q)\n"
        "b = foo(x)\n"
        "loss mse(x + param(3), x)\n",
        "bad.lnet:3:10: error: undefined name 'q' (did you mean 'x'?)\n"
        "a = relu(q)\n"
        "         ^\n"
        "bad.lnet:4:5: error: unknown function 'foo'\n"
        "b = foo(x)\n"
        "    ^\n"
        "bad.lnet:5:12: error: shape mismatch in add: f32[N,8] vs f32[3]\n"
        "loss mse(x + param(3), x)\n"
        "           ^\n");
}

Test(diag, long_line_window)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "h = x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + zz\n"
        "loss mse(h, x)\n",
        "bad.lnet:3:165: error: undefined name 'zz'\n"
        "...+ x + x + x + x + x + x + x + x + x + x + x + x + zz\n"
        "                                                     ^\n");
}

Test(diag, section_missing_brace)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "train { batch = 32\n"
        "loss mse(x, x)\n",
        "bad.lnet:4:1: error: expected '}' to close '{' opened at 3:7, got 'loss'\n"
        "loss mse(x, x)\n"
        "^\n");
}

Test(diag, def_body_missing_brace)
{
    expect_diag("input x : f32[8]\n"
        "label y : class[4]\n"
        "def f(a) {\n"
        "  return a\n"
        "loss mse(f(x), x)\n",
        "bad.lnet:5:1: error: expected '}' to close '{' opened at 3:10, got 'loss'\n"
        "loss mse(f(x), x)\n"
        "^\n");
}
