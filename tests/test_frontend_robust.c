/* test_frontend_robust.c — hostile inputs: fe_compile must never crash or
 * hang, and must return a graph exactly when it reported no error. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"

/* Compiles buf; checks errors <=> NULL (and a verified graph otherwise).
 * Returns the number of errors. */
static int check(const char *buf, size_t len)
{
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("fuzz.lnet", buf, len, &d);
    int errors = d.n_errors;
    if (g) {
        cr_assert_eq(errors, 0, "a graph despite %d errors", errors);
        Diag v;
        diag_init(&v);
        cr_expect(ir_graph_verify(g, &v), "the graph does not verify");
        cr_expect_geq(g->loss, 0);
        diag_fini(&v);
    } else {
        cr_assert_gt(errors, 0, "NULL without an error");
    }
    /* printing must cope with whatever locations the errors carry */
    FILE *null = fopen("/dev/null", "w");
    diag_print(&d, null);
    fclose(null);
    ir_graph_free(g);
    diag_fini(&d);
    return errors;
}

static int check_str(const char *s)
{
    return check(s, strlen(s));
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static char *read_example(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/examples/%s", LNET_SOURCE_DIR, name);
    Diag d;
    diag_init(&d);
    char *text = fe_read_file(path, len, &d);
    cr_assert_not_null(text, "%s", path);
    diag_fini(&d);
    return text;
}

static const char *const examples[] = {"fmnist_mlp.lnet", "fmnist_cnn.lnet",
                                       "fmnist_resnet.lnet", "charlm.lnet"};

Test(robust, empty_and_blank)
{
    cr_expect_gt(check("", 0), 0, "no loss is an error");
    cr_expect_gt(check_str("\n\n   \t\n# only a comment"), 0);
    cr_expect_gt(check(NULL, 0), 0);
}

Test(robust, examples_compile)
{
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        size_t len;
        char *text = read_example(examples[i], &len);
        cr_expect_eq(check(text, len), 0, "%s", examples[i]);
        free(text);
    }
}

Test(robust, every_truncation_of_every_example)
{
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        size_t len;
        char *text = read_example(examples[i], &len);
        for (size_t n = 0; n < len; n++) {
            char *copy = malloc(n ? n : 1);     /* exact size: no terminator to lean on */
            memcpy(copy, text, n);
            check(copy, n);
            free(copy);
        }
        free(text);
    }
}

Test(robust, random_bytes)
{
    uint64_t seed = 0x9e3779b97f4a7c15u;
    char buf[4096];
    for (int i = 0; i < 300; i++) {
        size_t n = next_rand(&seed) % sizeof buf;
        for (size_t j = 0; j < n; j++)
            buf[j] = (char)next_rand(&seed);
        check(buf, n);
    }
}

Test(robust, random_token_soup)
{
    static const char *const words[] = {
        "x", "y", "f", "(", ")", "{", "}", "[", "]", ",", "=", ":", "+", "-", "*", "/", "1",
        "0", "2.5", "1e-3", "\n", "def", "return", "repeat", "cut", "loss", "input", "label",
        "model", "train", "local", "f32[4]", "i32[3]", "class[3]", "dense", "relu", "conv2d",
        "attention", "param", "reshape", "transpose", "cross_entropy", "mse", "\"s\"", "heads",
        "units", "batch", "optimizer", "adam", "sgd", "embedding", "layernorm", "#c\n"};
    const int nw = (int)(sizeof words / sizeof words[0]);
    uint64_t seed = 12345;
    char buf[2048];
    for (int i = 0; i < 1500; i++) {
        size_t n = 0;
        int k = (int)(next_rand(&seed) % 60);
        for (int j = 0; j < k; j++) {
            const char *w = words[next_rand(&seed) % (uint64_t)nw];
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s ", w);
        }
        check(buf, n);
    }
}

/* A buffer of `count` copies of `unit` between prefix and suffix. */
static char *repeat_str(const char *prefix, const char *unit, size_t count, const char *suffix,
                        size_t *len)
{
    size_t p = strlen(prefix), u = strlen(unit), s = strlen(suffix);
    *len = p + u * count + s;
    char *buf = malloc(*len + 1);
    memcpy(buf, prefix, p);
    for (size_t i = 0; i < count; i++)
        memcpy(buf + p + i * u, unit, u);
    memcpy(buf + p + u * count, suffix, s + 1);
    return buf;
}

static void check_repeat(const char *prefix, const char *unit, size_t count, const char *suffix)
{
    size_t len;
    char *buf = repeat_str(prefix, unit, count, suffix, &len);
    cr_expect_gt(check(buf, len), 0, "%s%s...", prefix, unit);
    free(buf);
}

Test(robust, deep_nesting)
{
    check_repeat("x = ", "(", 100000, "1");
    check_repeat("input x : f32[2]\nloss mse(", "relu(", 100000, "x");
    check_repeat("x = ", "-", 100000, "1");
    check_repeat("input x : f32[2]\n", "repeat 1 { ", 100000, "x = relu(x)");
    check_repeat("x = 1", " + 1", 100000, "\n");
    check_repeat("", "def f(", 100000, "");
}

Test(robust, ten_megabyte_lines)
{
    const size_t mb10 = 10u << 20;
    check_repeat("input x : f32[2]\nh = ", "a", mb10, "\n");          /* one huge name */
    check_repeat("# ", "c", mb10, "\n");                              /* one huge comment */
    check_repeat("x = ", "9", mb10, "\n");                            /* one huge number */
    check_repeat("x = \"", "s", mb10, "");                            /* unterminated string */
    check_repeat("input x : f32[2]\n", "x2 = relu(x) ", mb10 / 13, "\n");
    check_repeat("", "x = $ ", mb10 / 6, "\n");                       /* an error per stmt */
}

Test(robust, huge_unrolling_is_refused)
{
    cr_expect_gt(check_str("input x : f32[2]\nrepeat 1000000000 { x2 = relu(x) }\n"
                           "loss mse(x, x)"), 0);
    cr_expect_gt(check_str("input x : f32[2]\nh = x\nrepeat 1000 { repeat 1000 { "
                           "h = relu(h) } }\nloss mse(h, x)"), 0);
    cr_expect_gt(check_str("input x : f32[2]\nrepeat 1000000000 { }\nloss mse(x, x)"), 0);
}

Test(robust, long_def_chains)
{
    /* f0 -> f1 -> ... -> f99999: too deep to inline, and a long cycle */
    size_t cap = 100000 * 48 + 128, n = 0;
    char *buf = malloc(cap);
    for (int i = 0; i < 100000; i++)
        n += (size_t)snprintf(buf + n, cap - n, "def f%d(x) { return f%d(x) }\n", i,
                              (i + 1) % 100000);
    n += (size_t)snprintf(buf + n, cap - n, "input x : f32[2]\nloss mse(f0(x), x)\n");
    cr_expect_gt(check(buf, n), 0, "a cycle through 100000 defs");
    buf[strstr(buf, "return f0(x)") - buf + 7] = 'g';      /* break the cycle */
    char *last = strstr(buf, "return g0(x)");
    cr_assert_not_null(last);
    memcpy(last, "return  x   ", 12);
    cr_expect_gt(check(buf, n), 0, "a chain 100000 calls deep");
    free(buf);
}
