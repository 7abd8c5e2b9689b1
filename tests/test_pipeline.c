/* test_pipeline.c — the local schedule (min(K, N) workers, each running a
 * contiguous group of blocks, FIFO queues between them) gives bit-identical
 * parameters, optimizer state and losses to the sequential lockstep
 * schedule, for K = 1..5 blocks on N = 1..4 cores and queue capacities 1 to
 * 4, over repeated runs. The block graphs are built by hand here, so this
 * suite tests the runtime independently of the passes.
 */
#include <criterion/criterion.h>

#include "build_graph.h"
#include "passes.h"
#include "safetensors.h"
#include "train.h"

#include <string.h>
#include <unistd.h>

#define D(...) ((const int64_t[]){__VA_ARGS__})

/* Block k of a K-block MLP on Fashion-MNIST: dense(16)+relu then, except for
 * the last block, an auxiliary dense(10)+CE head; the last block's loss is
 * the task loss. Parameter names are unique across blocks. */
static IrGraph *block(int k, int K, int *in_x, int *in_y, int *act_in, int *out)
{
    int act;
    char name[32];
    IrGraph *g = ir_graph_new("pipe");
    g->train.batch = 16;
    g->train.seed = 3;
    g->train.epochs = 2;
    g->train.optimizer = OPT_ADAM;
    g->train.lr = 2e-3f;
    act = k == 0 ? tb_input(g, "image", 2, D(28, 28)) : tb_input(g, "act", 1, D(16));
    *in_x = k == 0 ? act : -1;
    *act_in = act;
    *in_y = tb_label(g, "class", 10, 0, NULL);
    int x = k == 0 ? tb_op1(g, IR_OP_FLATTEN, act) : act;
    snprintf(name, sizeof name, "b%d.w", k);
    int w = tb_param(g, name, 2, D(k == 0 ? 784 : 16, 16));
    snprintf(name, sizeof name, "b%d.b", k);
    int b = tb_param(g, name, 1, D(16));
    *out = tb_op1(g, IR_OP_RELU, tb_dense(g, x, w, b));
    snprintf(name, sizeof name, "b%d.head.w", k);
    int hw = tb_param(g, name, 2, D(16, 10));
    snprintf(name, sizeof name, "b%d.head.b", k);
    int hb = tb_param(g, name, 1, D(10));
    g->nodes[w]->a.init = g->nodes[hw]->a.init = IR_INIT_HE;
    g->loss = tb_op2(g, IR_OP_CROSS_ENTROPY, tb_dense(g, *out, hw, hb), *in_y);
    if (k + 1 == K)
        *out = -1;
    tb_passes(g, "autodiff,optimizer,verify");
    return g;
}

static void *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    char *p = malloc(*n + 1);
    cr_assert_eq(fread(p, 1, *n, f), *n);
    p[*n] = '\0';
    fclose(f);
    return p;
}

static void run(int K, int N, bool local, int cap, const char *ckpt, RtTrainResult *r,
                const char *log)
{
    IrGraph *g[5];
    RtBlockSpec spec[5];
    RtLink links[5];
    int out[5], act[5];
    for (int k = 0; k < K; k++) {
        g[k] = block(k, K, &spec[k].in_x, &spec[k].in_y, &act[k], &out[k]);
        spec[k].g = g[k];
        spec[k].n_links = 0;
        spec[k].links = NULL;
        spec[k].cost = k == 0 ? 784 * 16 : 16 * 16 + (k % 2) * 200;   /* unequal groups */
        if (k > 0) {    /* block k reads block k-1's activation */
            links[k] = (RtLink){act[k], k - 1, out[k - 1], RT_LINK_VALUE};
            spec[k].n_links = 1;
            spec[k].links = &links[k];
        }
    }
    RtTrainOpts o = {.train_limit = 320, .test_limit = 100, .quiet = true, .schedule = local ? RT_SCHED_LOCAL : RT_SCHED_SEQUENTIAL,
                     .cores = N, .queue_cap = cap, .save_path = ckpt, .log_path = log};
    char err[256];
    /* the model graph for config and data binding: block 0's input, the label */
    cr_assert(rt_train_blocks(g[0], spec, K, &o, r, err, sizeof err), "%s", err);
    for (int k = 0; k < K; k++)
        ir_graph_free(g[k]);
}

/* The log with the timing columns (train_s, examples_per_s) blanked. */
static char *losses_of_log(const char *path)
{
    size_t n;
    char *text = read_all(path, &n), *out = calloc(n + 1, 1), *o = out;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        int col = 0;
        for (char *c = line; *c; c++) {
            col += *c == ',';
            if (col != 3 && col != 5)
                *o++ = *c;
        }
        *o++ = '\n';
    }
    free(text);
    return out;
}

static void expect_same(int K, int N, int cap, int reps)
{
    char a[128], b[128];
    snprintf(a, sizeof a, "/tmp/lnet_pipe_%d_seq.ckpt", (int)getpid());
    snprintf(b, sizeof b, "/tmp/lnet_pipe_%d_loc.ckpt", (int)getpid());
    char la[128], lb[128];
    snprintf(la, sizeof la, "/tmp/lnet_pipe_%d_seq.csv", (int)getpid());
    snprintf(lb, sizeof lb, "/tmp/lnet_pipe_%d_loc.csv", (int)getpid());
    RtTrainResult rs, rl;
    run(K, N, false, cap, a, &rs, la);
    char *log_seq = losses_of_log(la);
    for (int rep = 0; rep < reps; rep++) {
        run(K, N, true, cap, b, &rl, lb);
        char *log_loc = losses_of_log(lb);
        cr_expect_str_eq(log_loc, log_seq, "K=%d N=%d cap=%d run %d: the logged losses differ",
                         K, N, cap, rep);
        free(log_loc);
        cr_expect_eq(rl.steps, rs.steps);
        int W = K == 1 ? 1 : K < N ? K : N;
        cr_expect_eq(rl.n_workers, W, "K=%d N=%d: %d workers", K, N, rl.n_workers);
        int threads = 0;
        for (int w = 0; w < rl.n_workers; w++)
            threads += rl.workers[w].threads;
        cr_expect(K == 1 || threads == N, "K=%d N=%d: %d threads in all", K, N, threads);
        for (int h = 0; h < rs.n_heads; h++)
            cr_expect_eq(rl.heads[h].loss, rs.heads[h].loss, "K=%d cap=%d head %d: %.9g vs %.9g",
                         K, cap, h, rl.heads[h].loss, rs.heads[h].loss);
        size_t na, nb;
        void *pa = read_all(a, &na), *pb = read_all(b, &nb);
        cr_expect(na == nb && memcmp(pa, pb, na) == 0,
                  "K=%d N=%d cap=%d run %d: checkpoints differ", K, N, cap, rep);
        free(pa);
        free(pb);
    }
    free(log_seq);
    unlink(a);
    unlink(b);
    unlink(la);
    unlink(lb);
}

/* K blocks on N = 1..4 cores, queue capacities 1 to 4: the local schedule
 * (min(K, N) workers) equals the sequential one, run after run. */
static void every_core_count(int K)
{
    for (int N = 1; N <= 4; N++)
        expect_same(K, N, 1 + (K + N) % 4, 2);
}

Test(pipeline, local_equals_sequential_k1) { every_core_count(1); }
Test(pipeline, local_equals_sequential_k2) { every_core_count(2); }
Test(pipeline, local_equals_sequential_k3) { every_core_count(3); }
Test(pipeline, local_equals_sequential_k4) { every_core_count(4); }
Test(pipeline, local_equals_sequential_k5) { every_core_count(5); }
