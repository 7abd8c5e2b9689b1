/* tsan_baselines.c — the backprop baselines under ThreadSanitizer (a plain
 * executable, like tsan_pipeline.c). It trains a hand-built MLP with the
 * data-parallel schedule (2 and 4 replicas: threads share the parameters and
 * split the gradient reduction) and the pipeline schedule (2 and 3 stages, 4
 * micro-batches: queues both ways), each twice, and fails unless the two
 * checkpoints are byte-identical. Exit status 0: deterministic and no data
 * race reported (TSan aborts on one with halt_on_error=1, set by the test).
 */
#include "build_graph.h"
#include "passes.h"
#include "train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define D(...) ((const int64_t[]){__VA_ARGS__})

/* image -> 3 dense+relu layers -> dense -> cross-entropy, batch 8. */
static IrGraph *mlp(void)
{
    IrGraph *g = ir_graph_new("tsan_bl");
    g->train.batch = 8;
    g->train.seed = 13;
    g->train.epochs = 1;
    int x = tb_op1(g, IR_OP_FLATTEN, tb_input(g, "image", 2, D(28, 28)));
    int y = tb_label(g, "class", 10, 0, NULL);
    int64_t in = 784;
    for (int l = 0; l < 4; l++) {
        char name[32];
        int64_t out = l == 3 ? 10 : 12;
        snprintf(name, sizeof name, "l%d.w", l);
        int w = tb_param(g, name, 2, D(in, out));
        g->nodes[w]->a.init = IR_INIT_HE;
        snprintf(name, sizeof name, "l%d.b", l);
        x = tb_dense(g, x, w, tb_param(g, name, 1, D(out)));
        if (l < 3)
            x = tb_op1(g, IR_OP_RELU, x);
        in = out;
    }
    g->loss = tb_op2(g, IR_OP_CROSS_ENTROPY, x, y);
    return g;
}

static bool run(IrGraph *model, const RtBlockSpec *spec, int K, RtTrainOpts *o,
                const char *ckpt)
{
    o->train_limit = 96;
    o->test_limit = 16;
    o->quiet = true;
    o->save_path = ckpt;
    RtTrainResult r;
    char err[256];
    bool ok = rt_train_blocks(model, spec, K, o, &r, err, sizeof err);
    if (!ok)
        fprintf(stderr, "train failed: %s\n", err);
    return ok;
}

static bool data_parallel(int n, const char *ckpt)
{
    IrGraph *g = mlp();
    tb_passes(g, "autodiff,optimizer");
    RtBlockSpec one = {g, 0, 2, 0, NULL};   /* image is node 0, class node 2 */
    RtTrainOpts o = {.schedule = RT_SCHED_DATA_PARALLEL, .cores = n};
    bool ok = run(g, &one, 1, &o, ckpt);
    ir_graph_free(g);
    return ok;
}

static bool pipeline(int K, const char *ckpt)
{
    IrGraph *g = mlp();
    Diag d;
    diag_init(&d);
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    PassBlocks bs;
    bool ok = pass_stages(g, K, &bs, &ctx);
    if (!ok)
        diag_print(&d, stderr);
    diag_fini(&d);
    RtBlockSpec spec[4];
    RtLink links[8];
    int nl = 0;
    for (int k = 0; ok && k < bs.n; k++) {
        const PassBlock *b = &bs.b[k];
        spec[k] = (RtBlockSpec){b->g, -1, -1, 0, &links[nl], 0};
        for (int i = 0; i < b->n_inputs; i++) {
            const PassBlockInput *in = &b->inputs[i];
            if (in->kind != PASS_IO_DATA) {
                links[nl++] = (RtLink){in->node, in->src_block, in->src_node,
                                   in->kind == PASS_IO_PARAM ? RT_LINK_PARAM : RT_LINK_VALUE};
                spec[k].n_links++;
            } else if (b->g->nodes[in->node]->op == IR_OP_LABEL) {
                spec[k].in_y = in->node;
            } else {
                spec[k].in_x = in->node;
            }
        }
    }
    RtTrainOpts o = {.schedule = RT_SCHED_PIPELINE, .cores = bs.n, .microbatches = 4};
    ok = ok && run(g, spec, bs.n, &o, ckpt);
    if (bs.b)
        pass_blocks_fini(&bs);
    ir_graph_free(g);
    return ok;
}

static bool same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

int main(void)
{
    char a[128], b[128];
    snprintf(a, sizeof a, "/tmp/lnet_tsan_bl_%d_a.ckpt", (int)getpid());
    snprintf(b, sizeof b, "/tmp/lnet_tsan_bl_%d_b.ckpt", (int)getpid());
    int failures = 0, checks = 0;
    for (int c = 0; c < 4; c++) {
        bool dp = c < 2;
        int n = dp ? 2 << c : 2 + (c - 2);
        bool ok = dp ? data_parallel(n, a) && data_parallel(n, b)
                     : pipeline(n, a) && pipeline(n, b);
        if (!ok)
            return 2;
        checks++;
        if (!same_file(a, b)) {
            fprintf(stderr, "%s %d: two runs differ\n", dp ? "data-parallel" : "pipeline", n);
            failures++;
        }
    }
    unlink(a);
    unlink(b);
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}
