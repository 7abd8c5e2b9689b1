/* tsan_pipeline.c — the local schedule under ThreadSanitizer (Criterion does
 * not start under TSan, so this is a plain executable run by ctest in the
 * -DLNET_TSAN=ON configuration). It trains hand-built 2-, 3- and 4-block
 * models with the local schedule (queue capacities 1 and 4) and with the
 * sequential one, and fails unless every checkpoint is byte-identical.
 * Exit status 0: identical and no data race reported (TSan aborts on one
 * with halt_on_error=1, set by the test).
 */
#include "build_graph.h"
#include "train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define D(...) ((const int64_t[]){__VA_ARGS__})

static IrGraph *block(int k, int K, int *in_x, int *in_y, int *act, int *out)
{
    char name[32];
    IrGraph *g = ir_graph_new("tsan");
    g->train.batch = 8;
    g->train.seed = 11;
    g->train.epochs = 1;
    *act = k == 0 ? tb_input(g, "image", 2, D(28, 28)) : tb_input(g, "act", 1, D(8));
    *in_x = k == 0 ? *act : -1;
    *in_y = tb_label(g, "class", 10, 0, NULL);
    int x = k == 0 ? tb_op1(g, IR_OP_FLATTEN, *act) : *act;
    snprintf(name, sizeof name, "b%d.w", k);
    int w = tb_param(g, name, 2, D(k == 0 ? 784 : 8, 8));
    snprintf(name, sizeof name, "b%d.b", k);
    int b = tb_param(g, name, 1, D(8));
    *out = tb_op1(g, IR_OP_RELU, tb_dense(g, x, w, b));
    snprintf(name, sizeof name, "b%d.hw", k);
    int hw = tb_param(g, name, 2, D(8, 10));
    snprintf(name, sizeof name, "b%d.hb", k);
    int hb = tb_param(g, name, 1, D(10));
    g->nodes[w]->a.init = g->nodes[hw]->a.init = IR_INIT_HE;
    g->loss = tb_op2(g, IR_OP_CROSS_ENTROPY, tb_dense(g, *out, hw, hb), *in_y);
    if (k + 1 == K)
        *out = -1;
    tb_passes(g, "autodiff,optimizer,verify");
    return g;
}

static bool train(int K, bool local, int cap, const char *ckpt)
{
    IrGraph *g[4];
    RtBlockSpec spec[4];
    RtLink links[4];
    int act[4], out[4];
    for (int k = 0; k < K; k++) {
        g[k] = block(k, K, &spec[k].in_x, &spec[k].in_y, &act[k], &out[k]);
        spec[k] = (RtBlockSpec){g[k], spec[k].in_x, spec[k].in_y, 0, NULL, 0};
        if (k > 0) {
            links[k] = (RtLink){act[k], k - 1, out[k - 1], RT_LINK_VALUE};
            spec[k].n_links = 1;
            spec[k].links = &links[k];
        }
    }
    RtTrainOpts o = {.train_limit = 160, .test_limit = 40, .quiet = true, .schedule = local ? RT_SCHED_LOCAL : RT_SCHED_SEQUENTIAL,
                     .queue_cap = cap, .save_path = ckpt};
    RtTrainResult r;
    char err[256];
    bool ok = rt_train_blocks(g[0], spec, K, &o, &r, err, sizeof err);
    if (!ok)
        fprintf(stderr, "train failed: %s\n", err);
    for (int k = 0; k < K; k++)
        ir_graph_free(g[k]);
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
    snprintf(a, sizeof a, "/tmp/lnet_tsan_%d_a.ckpt", (int)getpid());
    snprintf(b, sizeof b, "/tmp/lnet_tsan_%d_b.ckpt", (int)getpid());
    int failures = 0, checks = 0;
    const int cases[][2] = {{2, 1}, {3, 1}, {4, 4}, {2, 4}};
    for (int c = 0; c < 4; c++) {
        int K = cases[c][0], cap = cases[c][1];
        if (!train(K, false, cap, a))
            return 2;
        for (int rep = 0; rep < 2; rep++) {
            if (!train(K, true, cap, b))
                return 2;
            checks++;
            if (!same_file(a, b)) {
                fprintf(stderr, "K=%d queue=%d run %d: local != sequential\n", K, cap, rep);
                failures++;
            }
        }
    }
    unlink(a);
    unlink(b);
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}
