/* test_cov_runtime.c — the trainer's data binding and progress output, where
 * no other suite reaches: a byte-level model trained on a text corpus (steps
 * per epoch, validation windows, bits per byte in the progress line and the
 * report), the binding errors of text and image data, and the progress line
 * the command line prints without --quiet; a block that fails inside the
 * local schedule's worker thread stops the run with its error.
 */
#include <criterion/criterion.h>

#include "build_graph.h"
#include "frontend.h"
#include "passes.h"
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define D(...) ((const int64_t[]){__VA_ARGS__})

/* A bigram model over a context of 8 bytes. */
static const char *const charlm =
    "model bigram\n"
    "input  tokens : i32[8]\n"
    "label  next   : class[256][8]\n"
    "loss cross_entropy(dense(embedding(tokens, 256, 16), 256), next)\n"
    "train { data = text optimizer = adam(lr = 3e-2) batch = 4 epochs = 1 seed = 3 }\n";

static const char *const small_mlp =
    "model small\n"
    "input image : f32[28, 28]\n"
    "label class : class[10]\n"
    "loss cross_entropy(dense(relu(dense(flatten(image), 16)), 10), class)\n"
    "train { data = fashion_mnist optimizer = adam(lr = 3e-3) batch = 32 epochs = 1 seed = 5 }\n";

static IrGraph *compile(const char *src)
{
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("t.lnet", src, strlen(src), &d);
    cr_assert_not_null(g, "%s", tb_diag_text(&d));
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    cr_assert(pass_run_pipeline(g, "shape,verify,autodiff,optimizer", &ctx), "%s",
              tb_diag_text(&d));
    diag_fini(&d);
    return g;
}

static char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "/tmp/lnet_test_cov_runtime_%d_%s", (int)getpid(), name);
    return p;
}

/* A corpus of n bytes "abcde" repeated: each byte determines the next. */
static const char *periodic_corpus(int n)
{
    const char *path = tmp_path("corpus.txt");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < n; i++)
        fputc("abcde"[i % 5], f);
    cr_assert_eq(fclose(f), 0);
    return path;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char *s = calloc(1, 1 << 16);
    size_t n = fread(s, 1, (1 << 16) - 1, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* The last occurrence of mark in s (s itself when there is none). */
static const char *last(const char *s, const char *mark)
{
    const char *p = s;
    for (const char *q = s; (q = strstr(q, mark)); q++)
        p = q;
    return p;
}

/* The progress line at the epoch's end (the last line) ends with the
 * validation loss in bits per byte. */
Test(text_feed, bigram_model_learns_a_periodic_corpus)
{
    IrGraph *g = compile(charlm);
    char *out = NULL;
    size_t len = 0;
    RtTrainOpts o = {0};
    o.data_dir = periodic_corpus(1000);     /* 900 bytes train, 100 validation */
    o.report_path = tmp_path("report.json");
    o.out = open_memstream(&out, &len);
    RtTrainResult r;
    char err[512];
    cr_assert(rt_train(g, &o, &r, err, sizeof err), "%s", err);
    fclose(o.out);
    cr_expect(r.is_text);
    cr_expect_eq(r.steps, 900 / (4 * 8), "steps %lld", (long long)r.steps);
    cr_expect_eq(r.final.examples, (100 - 1) / 8, "windows %lld", (long long)r.final.examples);
    /* ln 256 = 5.5 before training; each next byte is certain */
    cr_expect_lt(r.final.loss, 1.0, "validation loss %g", r.final.loss);
    cr_expect_gt(r.final.accuracy, 0.99, "accuracy %g", r.final.accuracy);

    char want[128];
    snprintf(want, sizeof want, " | val %.3f bits/byte\n", r.final.loss / log(2.0));
    cr_expect(strncmp(out, "epoch 1/1 step 1/28 loss ", 25) == 0, "%s", out);
    const char *line = last(out, "\nepoch") + 1;
    cr_expect(strncmp(line, "epoch 1/1 step 28/28 loss ", 26) == 0, "%s", out);
    cr_expect(len > strlen(want) && strcmp(out + len - strlen(want), want) == 0,
              "want '%s' at the end of:\n%s", want, out);
    char *rep = slurp(o.report_path);
    snprintf(want, sizeof want, "\"val_bits_per_byte\":%.6g", r.final.loss / log(2.0));
    cr_expect(strstr(rep, want), "want %s in %s", want, rep);
    free(rep);
    free(out);
    unlink(o.data_dir);
    unlink(o.report_path);
    ir_graph_free(g);
}

static void expect_refused(IrGraph *g, const RtTrainOpts *o, const char *want)
{
    RtTrainResult r;
    char err[512] = "";
    cr_expect_not(rt_train(g, o, &r, err, sizeof err), "trained (want '%s')", want);
    cr_expect(strstr(err, want), "want '%s', got '%s'", want, err);
}

Test(text_feed, binding_errors)
{
    RtTrainOpts o = {.quiet = true};
    o.data_dir = periodic_corpus(1000);
    /* image data for the byte model, byte data for the image model */
    IrGraph *g = compile(small_mlp);
    g->train.data = "text";
    expect_refused(g, &o, "data 'text' feeds an i32[T] input and a class[256][T] label; "
                          "input 'image' or label 'class' does not match");
    g->train.data = "fashion_mnist";
    o.data_dir = NULL;
    ir_graph_free(g);
    g = compile(charlm);
    g->train.data = "fashion_mnist";
    expect_refused(g, &o, "data 'fashion_mnist' feeds an f32 image input and a class label; "
                          "input 'tokens' or label 'next' has another type");
    /* 50 bytes: 5 for validation, not one window of 8 */
    g->train.data = "text";
    o.data_dir = periodic_corpus(50);
    char want[600];
    snprintf(want, sizeof want, "text corpus '%s' is too small for a context of 8", o.data_dir);
    expect_refused(g, &o, want);
    unlink(o.data_dir);
    ir_graph_free(g);
}

Test(image_feed, binding_errors)
{
    RtTrainOpts o = {.quiet = true, .train_limit = 20, .test_limit = 20};
    IrGraph *g = compile(small_mlp);
    expect_refused(g, &o, "the training set has 20 examples, fewer than one batch of 32");
    g->train.data = "mnist";
    expect_refused(g, &o, "data 'mnist' needs --data-dir (a folder of MNIST IDX files)");
    g->train.data = "cifar";
    expect_refused(g, &o, "unknown data set 'cifar' (fashion_mnist, mnist, text, cifar10, cifar100 or npy)");
    ir_graph_free(g);
    g = compile("model auto\ninput x : f32[4]\nloss mse(dense(x, 4), x)\n");
    expect_refused(g, &o, "model 'auto' needs an input and a label to train");
    ir_graph_free(g);
}

/* On a terminal the line is redrawn in place ("\r", erase to the end, no
 * newline); the epoch's end adds the test loss and accuracy and a newline. */
Test(progress, epoch_end_line_on_a_terminal)
{
    IrGraph *g = compile(small_mlp);
    char *out = NULL;
    size_t len = 0;
    RtTrainOpts o = {.train_limit = 64, .test_limit = 50, .progress_tty = true};
    o.out = open_memstream(&out, &len);
    RtTrainResult r;
    char err[512];
    cr_assert(rt_train(g, &o, &r, err, sizeof err), "%s", err);
    fclose(o.out);
    cr_expect_eq(r.steps, 2);
    const char *first = "\r\033[Kepoch 1/1 step 1/2 loss ";
    cr_expect(strncmp(out, first, strlen(first)) == 0, "%s", out);
    const char *line = last(out, "\r\033[K");
    const char *head = "\r\033[Kepoch 1/1 step 2/2 loss ";
    cr_expect(line > out && strncmp(line, head, strlen(head)) == 0, "%s", out);
    cr_expect_eq(strchr(out, '\n'), out + len - 1, "%s", out);
    char want[128];
    snprintf(want, sizeof want, " | test loss %.4f acc %.2f%%\n", r.final.loss,
             100 * r.final.accuracy);
    cr_expect(len > strlen(want) && strcmp(out + len - strlen(want), want) == 0,
              "want '%s' at the end of:\n%s", want, out);
    free(out);
    ir_graph_free(g);
}

/* Block k of 2 on Fashion-MNIST: dense(16)+relu, a dense(10)+CE head; block 1
 * reads block 0's activation (as test_pipeline.c builds them). */
static IrGraph *block(int k, float lr, RtBlockSpec *spec, RtLink *link, int *relu)
{
    IrGraph *g = ir_graph_new("two");
    g->train.batch = 16;
    g->train.optimizer = OPT_SGD;
    g->train.lr = lr;
    int act = k == 0 ? tb_input(g, "image", 2, D(28, 28)) : tb_input(g, "act", 1, D(16));
    int y = tb_label(g, "class", 10, 0, NULL);
    int x = k == 0 ? tb_op1(g, IR_OP_FLATTEN, act) : act;
    char name[16];
    snprintf(name, sizeof name, "b%d.w", k);
    int w = tb_param(g, name, 2, D(k ? 16 : 784, 16));
    snprintf(name, sizeof name, "b%d.b", k);
    int b = tb_param(g, name, 1, D(16));
    snprintf(name, sizeof name, "b%d.hw", k);
    int hw = tb_param(g, name, 2, D(16, 10));
    snprintf(name, sizeof name, "b%d.hb", k);
    int hb = tb_param(g, name, 1, D(10));
    g->nodes[w]->a.init = g->nodes[hw]->a.init = IR_INIT_HE;
    int out = tb_op1(g, IR_OP_RELU, tb_dense(g, x, w, b));
    g->loss = tb_op2(g, IR_OP_CROSS_ENTROPY, tb_dense(g, out, hw, hb), y);
    tb_passes(g, "autodiff,optimizer,verify");
    *spec = (RtBlockSpec){g, k == 0 ? act : -1, y, 0, NULL, 1};
    if (k == 0)
        *relu = out;
    else {
        *link = (RtLink){act, 0, *relu, RT_LINK_VALUE};
        spec->n_links = 1;
        spec->links = link;
    }
    return g;
}

/* A diverging step (lr 1e30) fails inside a worker thread: the run stops
 * with the loss error instead of hanging on the other worker's queue, and
 * writes no checkpoint (a hang fails at the timeout). */
Test(local_schedule, a_failing_worker_stops_the_run, .timeout = 60)
{
    RtBlockSpec spec[2];
    RtLink link;
    int relu;
    IrGraph *g0 = block(0, 1e30f, &spec[0], &link, &relu);
    IrGraph *g1 = block(1, 1e30f, &spec[1], &link, &relu);
    RtTrainOpts o = {.train_limit = 320, .test_limit = 32, .quiet = true, .cores = 2,
                     .schedule = RT_SCHED_LOCAL, .save_path = tmp_path("never.ckpt")};
    RtTrainResult r;
    char err[512] = "";
    cr_expect_not(rt_train_blocks(g0, spec, 2, &o, &r, err, sizeof err));
    cr_expect(strstr(err, " is NaN at step") || strstr(err, " is infinite at step"), "%s", err);
    cr_expect_neq(access(o.save_path, F_OK), 0, "a failed run wrote %s", o.save_path);
    /* the same blocks at a sane rate train, on two workers */
    ir_graph_free(g0);
    ir_graph_free(g1);
    g0 = block(0, 0.05f, &spec[0], &link, &relu);
    g1 = block(1, 0.05f, &spec[1], &link, &relu);
    cr_expect(rt_train_blocks(g0, spec, 2, &o, &r, err, sizeof err), "%s", err);
    cr_expect_eq(r.n_workers, 2);
    cr_expect_eq(r.steps, 20);
    unlink(o.save_path);
    ir_graph_free(g0);
    ir_graph_free(g1);
}
