/* test_parser.c — the AST of every construct (printed as S-expressions),
 * precedence, named arguments, and that syntax errors give no AST. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "fe_impl.h"

typedef struct Parsed {
    char *ast;      /* printed AST, or NULL */
    char *diag;     /* printed diagnostics */
    int n_errors;
} Parsed;

static Parsed parse(const char *src)
{
    Diag d;
    diag_init(&d);
    IrArena arena;
    ir_arena_init(&arena);
    int file = diag_add_source(&d, "p.lnet", src, strlen(src));
    AstProgram *p = parse_program(src, strlen(src), file, &arena, &d);
    Parsed r = {0};
    size_t n;
    if (p) {
        FILE *f = open_memstream(&r.ast, &n);
        ast_print(p, f);
        fclose(f);
    }
    FILE *f = open_memstream(&r.diag, &n);
    diag_print(&d, f);
    fclose(f);
    r.n_errors = d.n_errors;
    ir_arena_fini(&arena);
    diag_fini(&d);
    return r;
}

static void expect_ast(const char *src, const char *want)
{
    Parsed r = parse(src);
    cr_assert_not_null(r.ast, "parse failed:\n%s", r.diag);
    cr_expect_str_eq(r.ast, want);
    cr_expect_eq(r.n_errors, 0);
    free(r.ast);
    free(r.diag);
}

static void expect_error(const char *src, const char *want_diag)
{
    Parsed r = parse(src);
    cr_expect_null(r.ast, "an AST after a syntax error");
    cr_expect_str_eq(r.diag, want_diag);
    free(r.ast);
    free(r.diag);
}

Test(parser, declarations)
{
    expect_ast("model m\ninput image : f32[28, 28]\ninput ids : i32[64]\n"
               "label class : class[10]\nlabel next : class[256][64]\nlabel t : f32[3]\n",
               "(model m)\n(input image f32[28,28])\n(input ids i32[64])\n"
               "(label class class[10])\n(label next class[256][64])\n(label t f32[3])\n");
}

Test(parser, precedence_and_associativity)
{
    expect_ast("x = 1 + 2 * 3 - 4 / 2 / 1\ny = -a * b\nz = -(a + b)\nw = 2 * (3 + 4)\n",
               "(= x (- (+ 1 (* 2 3)) (/ (/ 4 2) 1)))\n(= y (* (- a) b))\n"
               "(= z (- (+ a b)))\n(= w (* 2 (+ 3 4)))\n");
}

Test(parser, calls_with_named_arguments)
{
    expect_ast("y = conv2d(x, 32, kernel = 3, padding=1)\nz = f()\n",
               "(= y (conv2d x 32 kernel=3 padding=1))\n(= z (f))\n");
}

Test(parser, def_moves_its_return_out_of_the_body)
{
    expect_ast("def hidden(x, width) { h = dense(x, width)  return relu(h) }\n",
               "(def hidden (x width)\n  (= h (dense x width))\n  (return (relu h))\n)\n");
}

Test(parser, def_without_parameters)
{
    expect_ast("def one() { return 1 }", "(def one ()\n  (return 1)\n)\n");
}

Test(parser, nested_repeat_cut_loss)
{
    expect_ast("repeat 2 { repeat n * 2 { x = f(x) } cut x }\nloss cross_entropy(x, y)\n",
               "(repeat 2\n  (repeat (* n 2)\n    (= x (f x))\n  )\n  (cut x)\n)\n"
               "(loss (cross_entropy x y))\n");
}

Test(parser, sections)
{
    expect_ast("train { data = fashion_mnist  optimizer = adam(lr = 1e-3)  batch = 128 "
               "path = \"/tmp/x\" }\nlocal { method = chunked blocks = 2 }\n",
               "(train (data fashion_mnist) (optimizer (adam lr=0.001)) (batch 128) "
               "(path \"/tmp/x\"))\n(local (method chunked) (blocks 2))\n");
}

Test(parser, empty_and_comment_only)
{
    expect_ast("", "");
    expect_ast("# nothing here\n\n   # at all", "");
}

Test(parser, statements_need_no_newlines)
{
    expect_ast("a = 1 b = a c = f(b) - 1", "(= a 1)\n(= b a)\n(= c (- (f b) 1))\n");
}

Test(parser, unclosed_paren_names_the_opener)
{
    expect_error("y = relu(x\nz = 1\n",
                 "p.lnet:2:1: error: expected ')' to close '(' opened at 1:9, got 'z'\n"
                 "z = 1\n^\n");
}

Test(parser, several_errors_in_one_run)
{
    Parsed r = parse("a = (1\nb = 2 +\nc = 3\nd = )\n");
    cr_expect_null(r.ast);
    cr_expect_eq(r.n_errors, 3, "%s", r.diag);
    free(r.diag);
}

Test(parser, one_error_per_statement)
{
    Parsed r = parse("x = f(((((\n");
    cr_expect_eq(r.n_errors, 1, "%s", r.diag);
    free(r.diag);
}

Test(parser, deep_nesting_is_an_error_not_a_crash)
{
    size_t n = 100000;
    char *src = malloc(2 * n + 8);
    memcpy(src, "x = ", 4);
    memset(src + 4, '(', n);
    src[4 + n] = '1';
    memset(src + 5 + n, ')', n);
    src[5 + 2 * n] = '\0';
    Parsed r = parse(src);
    cr_expect_null(r.ast);
    cr_expect_eq(r.n_errors, 1);
    cr_expect(strstr(r.diag, "nesting too deep (more than 256 levels)") != NULL, "%s", r.diag);
    free(src);
    free(r.diag);
}

Test(parser, long_operator_chain_is_bounded)
{
    size_t n = 5000;
    char *src = malloc(4 * n + 8);
    strcpy(src, "x = 1");
    for (size_t i = 0; i < n; i++)
        strcat(src + 4 * i, " + 1");
    Parsed r = parse(src);
    cr_expect_null(r.ast);
    cr_expect(strstr(r.diag, "expression too deep") != NULL, "%s", r.diag);
    free(src);
    free(r.diag);
}

Test(parser, return_outside_a_def)
{
    expect_error("repeat 2 { return x }",
                 "p.lnet:1:12: error: 'return' outside a def\nrepeat 2 { return x }\n"
                 "           ^\n");
}

Test(parser, def_inside_a_block)
{
    expect_error("repeat 2 { def f(x) { return x } }",
                 "p.lnet:1:12: error: 'def' is only allowed at the top level\n"
                 "repeat 2 { def f(x) { return x } }\n           ^\n");
}

Test(parser, stray_closing_brace)
{
    expect_error("x = 1\n}\n", "p.lnet:2:1: error: unexpected '}' (no block is open)\n}\n^\n");
}
