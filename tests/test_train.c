/* test_train.c — the training loop end to end on real Fashion-MNIST subsets:
 * the loss falls, a resumed run is bit-identical to a straight one,
 * checkpoints are validated and never clobbered by a failing run, and data
 * and path errors are reported, not crashed on.
 */
#include <criterion/criterion.h>

#include "checkpoint.h"
#include "frontend.h"
#include "passes.h"
#include "safetensors.h"
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const small_mlp =
    "model small\n"
    "input image : f32[28, 28]\n"
    "label class : class[10]\n"
    "x = relu(dense(flatten(image), 32))\n"
    "loss cross_entropy(dense(x, 10), class)\n"
    "train { data = fashion_mnist optimizer = adam(lr = 3e-3) batch = 32 epochs = 1 seed = 5 }\n";

static IrGraph *compile(const char *src)
{
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("test.lnet", src, strlen(src), &d);
    if (!g)
        diag_print(&d, stderr);
    cr_assert(g);
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    cr_assert(pass_run_pipeline(g, "shape,verify,autodiff,optimizer", &ctx));
    diag_fini(&d);
    return g;
}

static RtTrainOpts quiet_opts(void)
{
    RtTrainOpts o = {0};
    o.train_limit = 640;
    o.test_limit = 200;
    o.quiet = true;
    return o;
}

static char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "/tmp/lnet_test_train_%d_%s", (int)getpid(), name);
    return p;
}

Test(train, loss_falls_on_fashion_mnist)
{
    IrGraph *g = compile(small_mlp);
    g->train.epochs = 3;
    RtTrainOpts o = quiet_opts();
    o.log_path = tmp_path("log.csv");
    RtTrainResult r;
    char err[256];
    cr_assert(rt_train(g, &o, &r, err, sizeof err), "%s", err);
    cr_expect_eq(r.steps, 3 * 20);
    cr_expect_lt(r.final.loss, 1.0, "test loss %g after 3 epochs", r.final.loss);
    cr_expect_gt(r.final.accuracy, 0.6, "test accuracy %g", r.final.accuracy);
    /* the log's first train loss is ~ln(10), well above the final one */
    FILE *f = fopen(o.log_path, "r");
    char line[512];
    cr_assert(fgets(line, sizeof line, f) && fgets(line, sizeof line, f));
    double first = 0;   /* kind,step,epoch,train_s,lr,examples_per_s,loss_task,... */
    cr_assert_eq(sscanf(line, "train,%*d,%*d,%*g,%*g,%*g,%lg", &first), 1, "%s", line);
    fclose(f);
    cr_expect_gt(first, 1.5, "first logged loss %g", first);
    cr_expect_lt(r.last_loss, first);
    unlink(o.log_path);
    ir_graph_free(g);
}

/* Parameters of a checkpoint file, as one flat array in file order. */
static float *ckpt_params(const char *path, int64_t *n)
{
    StFile f;
    char err[256];
    cr_assert(st_load(path, &f, err, sizeof err), "%s", err);
    int64_t total = 0;
    for (int i = 0; i < f.n; i++)
        total += f.t[i].dtype == ST_F32 ? (int64_t)f.t[i].nbytes / 4 : 0;
    float *v = malloc((size_t)total * 4), *p = v;
    for (int i = 0; i < f.n; i++) {
        if (f.t[i].dtype != ST_F32)
            continue;
        memcpy(p, f.t[i].data, f.t[i].nbytes);
        p += f.t[i].nbytes / 4;
    }
    st_free(&f);
    *n = total;
    return v;
}

Test(train, resume_is_bit_identical)
{
    char err[256];
    RtTrainResult r;
    IrGraph *g = compile(small_mlp);
    RtTrainOpts o = quiet_opts();
    /* straight: 2 epochs */
    g->train.epochs = 2;
    o.save_path = tmp_path("straight.ckpt");
    cr_assert(rt_train(g, &o, &r, err, sizeof err), "%s", err);
    double straight_loss = r.final.loss;
    /* 1 epoch, then resume to 2 */
    g->train.epochs = 1;
    o.save_path = tmp_path("half.ckpt");
    cr_assert(rt_train(g, &o, &r, err, sizeof err), "%s", err);
    g->train.epochs = 2;
    o.resume_path = tmp_path("half.ckpt");
    o.save_path = tmp_path("resumed.ckpt");
    cr_assert(rt_train(g, &o, &r, err, sizeof err), "%s", err);
    cr_expect_eq(r.steps, 40);
    cr_expect_eq(r.final.loss, straight_loss, "resumed %.9g vs straight %.9g", r.final.loss,
                 straight_loss);
    int64_t na, nb;
    float *a = ckpt_params(tmp_path("straight.ckpt"), &na);
    float *b = ckpt_params(tmp_path("resumed.ckpt"), &nb);
    cr_assert_eq(na, nb);
    cr_expect(memcmp(a, b, (size_t)na * 4) == 0, "parameters and optimizer state differ");
    free(a);
    free(b);
    /* mid-epoch stop (--max-steps) then resume also matches */
    g->train.epochs = 2;
    o.resume_path = NULL;
    o.max_steps = 27;
    o.save_path = tmp_path("mid.ckpt");
    cr_assert(rt_train(g, &o, &r, err, sizeof err), "%s", err);
    o.max_steps = 0;
    o.resume_path = tmp_path("mid.ckpt");
    o.save_path = tmp_path("mid2.ckpt");
    cr_assert(rt_train(g, &o, &r, err, sizeof err), "%s", err);
    a = ckpt_params(tmp_path("straight.ckpt"), &na);
    b = ckpt_params(tmp_path("mid2.ckpt"), &nb);
    cr_expect(memcmp(a, b, (size_t)na * 4) == 0, "mid-epoch resume diverged");
    free(a);
    free(b);
    const char *names[] = {"straight.ckpt", "half.ckpt", "resumed.ckpt", "mid.ckpt", "mid2.ckpt"};
    for (int i = 0; i < 5; i++)
        unlink(tmp_path(names[i]));
    ir_graph_free(g);
}

Test(train, checkpoint_of_another_model_is_rejected)
{
    char err[256];
    RtTrainResult r;
    IrGraph *g = compile(small_mlp);
    RtTrainOpts o = quiet_opts();
    o.max_steps = 2;
    o.save_path = tmp_path("a.ckpt");
    cr_assert(rt_train(g, &o, &r, err, sizeof err), "%s", err);
    IrGraph *g2 = compile(
        "model other\ninput image : f32[28, 28]\nlabel class : class[10]\n"
        "x = relu(dense(flatten(image), 16))\nloss cross_entropy(dense(x, 10), class)\n");
    o.resume_path = tmp_path("a.ckpt");
    cr_expect_not(rt_train(g2, &o, &r, err, sizeof err));
    cr_expect(strstr(err, "does not have the model's shape") != NULL, "%s", err);
    /* a truncated checkpoint */
    FILE *f = fopen(tmp_path("a.ckpt"), "r+");
    cr_assert(f);
    cr_assert_eq(ftruncate(fileno(f), 100), 0);
    fclose(f);
    cr_expect_not(rt_train(g, &o, &r, err, sizeof err));
    cr_expect(strstr(err, "a.ckpt") != NULL, "%s", err);
    unlink(tmp_path("a.ckpt"));
    ir_graph_free(g);
    ir_graph_free(g2);
}

Test(train, nan_loss_stops_and_keeps_the_last_checkpoint)
{
    char err[256];
    RtTrainResult r;
    IrGraph *g = compile(small_mlp);
    RtTrainOpts o = quiet_opts();
    o.save_path = tmp_path("good.ckpt");
    cr_assert(rt_train(g, &o, &r, err, sizeof err), "%s", err);
    int64_t na, nb;
    float *before = ckpt_params(o.save_path, &na);
    IrGraph *bad = compile(small_mlp);
    bad->train.lr = 1e30f;
    bad->train.epochs = 3;
    o.resume_path = NULL;
    cr_expect_not(rt_train(bad, &o, &r, err, sizeof err));
    cr_expect(strstr(err, "is NaN at step") || strstr(err, "is infinite at step"), "%s", err);
    float *after = ckpt_params(o.save_path, &nb);
    cr_expect(na == nb && memcmp(before, after, (size_t)na * 4) == 0,
              "the good checkpoint was overwritten");
    free(before);
    free(after);
    unlink(o.save_path);
    ir_graph_free(g);
    ir_graph_free(bad);
}

Test(train, bad_paths_are_errors)
{
    char err[256];
    RtTrainResult r;
    IrGraph *g = compile(small_mlp);
    RtTrainOpts o = quiet_opts();
    o.data_dir = "/nonexistent/dir";
    cr_expect_not(rt_train(g, &o, &r, err, sizeof err));
    cr_expect(strstr(err, "/nonexistent/dir") != NULL, "%s", err);
    o = quiet_opts();
    o.max_steps = 1;
    o.save_path = "/nonexistent/dir/x.ckpt";
    cr_expect_not(rt_train(g, &o, &r, err, sizeof err));
    cr_expect(strstr(err, "x.ckpt") != NULL, "%s", err);
    o = quiet_opts();
    o.log_path = "/nonexistent/dir/log.csv";
    cr_expect_not(rt_train(g, &o, &r, err, sizeof err));
    cr_expect(strstr(err, "log.csv") != NULL, "%s", err);
    ir_graph_free(g);
}
