/* test_kernels_fixtures.c — the reference kernels, composed by hand into the
 * fixture models, against what PyTorch 1.13 computed (tests/fixtures, see its
 * README): the MLP (logits, loss, every gradient, three steps of SGD with
 * momentum, Nesterov, Adam and AdamW), the same MLP trained locally (chunked and
 * overlap, with their stop-gradients), the CNN (every activation, the loss,
 * every gradient including the input's, avg-pool) and the transformer block
 * (logits, loss, every gradient, exact GELU).
 *
 * Tolerance: an element matches when |got - want| <= 1e-6 + 1e-5·|want|
 * (float32 computed in a different order than PyTorch). Every compared tensor's
 * max abs difference and max relative difference (over elements with
 * |want| >= 1e-4) is printed to stderr.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "safetensors.h"

#define ATOL 1e-6
#define RTOL 1e-5

/* ------------------------------------------------------------ helpers */

/* Every buffer of a test, freed together at its end. */
typedef struct Bufs {
    float *p[128];
    int n;
} Bufs;

static float *buf(Bufs *b, int64_t n) {
    cr_assert(b->n < 128);
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    cr_assert(p);
    return b->p[b->n++] = p;
}

static void bufs_free(Bufs *b) {
    for (int i = 0; i < b->n; i++) free(b->p[i]);
    b->n = 0;
}

static void load(StFile *f, const char *file) {
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/%s", LNET_FIXTURE_DIR, file);
    cr_assert(st_load(path, f, err, sizeof err), "%s", err);
}

/* Tensor `name` of f with n elements of the given dtype. */
static const void *get(const StFile *f, const char *name, StDType dt, int64_t n) {
    const StTensor *t = st_find(f, name);
    cr_assert(t, "fixture tensor %s missing", name);
    cr_assert_eq(t->dtype, dt, "%s: wrong dtype", name);
    cr_assert_eq(st_numel(t->rank, t->shape), n, "%s: wrong element count", name);
    return t->data;
}
static const float *getf(const StFile *f, const char *name, int64_t n) {
    return get(f, name, ST_F32, n);
}

/* A copy of float tensor `name` that the test may modify. */
static float *dup(Bufs *b, const StFile *f, const char *name, int64_t n) {
    float *p = buf(b, n);
    memcpy(p, getf(f, name, n), (size_t)n * sizeof *p);
    return p;
}

/* Compares got with the fixture tensor `name`, prints the max differences. */
static void expect_close(const StFile *f, const char *name, const float *got, int64_t n) {
    const float *want = getf(f, name, n);
    double max_abs = 0, max_rel = 0, worst = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (d > max_abs) max_abs = d;
        if (fabs((double)want[i]) >= 1e-4 && d / fabs((double)want[i]) > max_rel)
            max_rel = d / fabs((double)want[i]);        /* relative: only where |want| >= 1e-4 */
        double ratio = d / (ATOL + RTOL * fabs((double)want[i]));
        if (ratio > worst) worst = ratio;
        if (!(ratio <= 1.0)) bad++;
    }
    fprintf(stderr, "%-26s %5lld el: max abs diff %.3g, max rel diff %.3g, %.2f of tolerance%s\n",
            name, (long long)n, max_abs, max_rel, worst, bad ? "  MISMATCH" : "");
    cr_expect_eq(bad, 0, "%s: %lld of %lld elements differ (max abs %.3g)", name,
                 (long long)bad, (long long)n, max_abs);
}

static void expect_scalar(const StFile *f, const char *name, float got) {
    expect_close(f, name, &got, 1);
}

/* y (R, O) = x (R, I) @ w (I, O) + b (O) */
static void dense_fwd(float *y, const float *x, const float *w, const float *b,
                      int64_t R, int64_t I, int64_t O) {
    rk_matmul_fwd(y, x, w, R, I, O);
    rk_bias_add_fwd(y, y, b, R, O, 1);
}

/* dx (R, I) may be NULL, dw (I, O), db (O) */
static void dense_bwd(float *dx, float *dw, float *db, const float *dy, const float *x,
                      const float *w, int64_t R, int64_t I, int64_t O) {
    rk_matmul_bwd(dx, dw, dy, x, w, R, I, O);
    rk_bias_add_bwd(NULL, db, dy, R, O, 1);
}

/* ---------------------------------------------------------------- MLP */

/* x (B, 12) -> relu dense 16 -> relu dense 16 -> dense 5 -> CE; B = 4 */
enum { MB = 4, MI = 12, MH = 16, MC = 5, NP = 6 };
static const char *const mlp_names[NP] = {"w1", "b1", "w2", "b2", "w3", "b3"};
static const int64_t mlp_sizes[NP] = {MI * MH, MH, MH * MH, MH, MH * MC, MC};

typedef struct Mlp {
    float *p[NP], *g[NP];               /* w1 b1 w2 b2 w3 b3 and their gradients */
    float *h1p, *h1, *h2p, *h2, *logits; /* (B, 16) x4, (B, 5) */
    float *dlogits, *dh2, *dh1;         /* scratch gradients */
} Mlp;

static void mlp_init(Mlp *m, Bufs *b, const StFile *f, const char *prefix) {
    char name[64];
    for (int i = 0; i < NP; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, mlp_names[i]);
        m->p[i] = dup(b, f, name, mlp_sizes[i]);
        m->g[i] = buf(b, mlp_sizes[i]);
    }
    m->h1p = buf(b, MB * MH), m->h1 = buf(b, MB * MH);
    m->h2p = buf(b, MB * MH), m->h2 = buf(b, MB * MH);
    m->logits = buf(b, MB * MC), m->dlogits = buf(b, MB * MC);
    m->dh2 = buf(b, MB * MH), m->dh1 = buf(b, MB * MH);
}

static void mlp_forward(Mlp *m, const float *x) {
    dense_fwd(m->h1p, x, m->p[0], m->p[1], MB, MI, MH);
    rk_relu_fwd(m->h1, m->h1p, MB * MH);
    dense_fwd(m->h2p, m->h1, m->p[2], m->p[3], MB, MH, MH);
    rk_relu_fwd(m->h2, m->h2p, MB * MH);
    dense_fwd(m->logits, m->h2, m->p[4], m->p[5], MB, MH, MC);
}

/* Forward, loss and every gradient into m->g; returns the loss. */
static float mlp_step(Mlp *m, const float *x, const int32_t *y) {
    mlp_forward(m, x);
    float loss = rk_cross_entropy_fwd(m->logits, y, MB, MC, NULL);
    rk_cross_entropy_bwd(m->dlogits, m->logits, y, 1.0f, MB, MC);
    dense_bwd(m->dh2, m->g[4], m->g[5], m->dlogits, m->h2, m->p[4], MB, MH, MC);
    rk_relu_bwd(m->dh2, m->dh2, m->h2p, MB * MH);
    dense_bwd(m->dh1, m->g[2], m->g[3], m->dh2, m->h1, m->p[2], MB, MH, MH);
    rk_relu_bwd(m->dh1, m->dh1, m->h1p, MB * MH);
    dense_bwd(NULL, m->g[0], m->g[1], m->dh1, x, m->p[0], MB, MI, MH);
    return loss;
}

Test(fixtures, mlp_forward_backward) {
    StFile f;
    Bufs b = {0};
    Mlp m;
    load(&f, "mlp.safetensors");
    mlp_init(&m, &b, &f, "param.");
    const float *x = getf(&f, "x", MB * MI);
    const int32_t *y = get(&f, "y", ST_I32, MB);
    float loss = mlp_step(&m, x, y);
    expect_close(&f, "logits", m.logits, MB * MC);
    expect_scalar(&f, "loss", loss);
    char name[64];
    for (int i = 0; i < NP; i++) {
        snprintf(name, sizeof name, "grad.%s", mlp_names[i]);
        expect_close(&f, name, m.g[i], mlp_sizes[i]);
    }
    bufs_free(&b);
    st_free(&f);
}

/* Three steps on the same batch with optimizer `opt` ("sgd", ...). */
static void mlp_three_steps(const char *opt) {
    StFile f;
    Bufs b = {0};
    Mlp m;
    load(&f, "mlp.safetensors");
    mlp_init(&m, &b, &f, "param.");
    const float *x = getf(&f, "x", MB * MI);
    const int32_t *y = get(&f, "y", ST_I32, MB);
    float *s1[NP], *s2[NP];                         /* momentum / Adam moments */
    for (int i = 0; i < NP; i++) s1[i] = buf(&b, mlp_sizes[i]), s2[i] = buf(&b, mlp_sizes[i]);
    RkSgd sgd = {.lr = 0.1, .momentum = 0.9, .nesterov = !strcmp(opt, "sgd_nesterov")};
    RkAdam adam = {.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    if (!strcmp(opt, "adamw")) adam.weight_decay = 0.1, adam.decoupled = true;
    bool is_sgd = !strncmp(opt, "sgd", 3);
    float losses[3];
    for (int t = 1; t <= 3; t++) {
        losses[t - 1] = mlp_step(&m, x, y);
        for (int i = 0; i < NP; i++) {
            if (is_sgd) rk_sgd_step(&sgd, m.p[i], s1[i], m.g[i], mlp_sizes[i]);
            else rk_adam_step(&adam, t, m.p[i], s1[i], s2[i], m.g[i], mlp_sizes[i]);
        }
    }
    char name[64];
    snprintf(name, sizeof name, "%s.losses", opt);
    expect_close(&f, name, losses, 3);
    for (int i = 0; i < NP; i++) {
        snprintf(name, sizeof name, "%s.after3.%s", opt, mlp_names[i]);
        expect_close(&f, name, m.p[i], mlp_sizes[i]);
    }
    bufs_free(&b);
    st_free(&f);
}

Test(fixtures, mlp_sgd_momentum) { mlp_three_steps("sgd"); }
Test(fixtures, mlp_sgd_nesterov) { mlp_three_steps("sgd_nesterov"); }
Test(fixtures, mlp_adam) { mlp_three_steps("adam"); }
Test(fixtures, mlp_adamw) { mlp_three_steps("adamw"); }

/* ------------------------------------------------------ MLP, local */

/* Aux head on h (B, 16): logits = h @ wa + ba, CE; adds its gradient wrt h to
 * dh_acc (if not NULL) and writes dwa, dba. Returns the loss. */
static float aux_head(float *dh_acc, float *dwa, float *dba, const float *h, const float *wa,
                      const float *ba, const int32_t *y, Bufs *b) {
    float *logits = buf(b, MB * MC), *dlogits = buf(b, MB * MC), *dh = buf(b, MB * MH);
    dense_fwd(logits, h, wa, ba, MB, MH, MC);
    float loss = rk_cross_entropy_fwd(logits, y, MB, MC, NULL);
    rk_cross_entropy_bwd(dlogits, logits, y, 1.0f, MB, MC);
    dense_bwd(dh, dwa, dba, dlogits, h, wa, MB, MH, MC);
    if (dh_acc) rk_acc(dh_acc, dh, MB * MH);
    return loss;
}

Test(fixtures, mlp_local_chunked) {
    StFile f;
    Bufs b = {0};
    Mlp m;
    load(&f, "mlp_local.safetensors");
    mlp_init(&m, &b, &f, "param.");
    const float *x = getf(&f, "x", MB * MI);
    const int32_t *y = get(&f, "y", ST_I32, MB);
    const float *wa = getf(&f, "param.wa", MH * MC), *ba = getf(&f, "param.ba", MC);
    float *dwa = buf(&b, MH * MC), *dba = buf(&b, MC);
    /* one graph with stop_gradient(h1) at block 2's input: block 2's gradient
     * (mlp_step) stops at layer 2; layer 1 sees only the aux loss. */
    float loss2 = mlp_step(&m, x, y);
    float *dh1 = buf(&b, MB * MH);
    float loss1 = aux_head(dh1, dwa, dba, m.h1, wa, ba, y, &b);
    rk_relu_bwd(dh1, dh1, m.h1p, MB * MH);
    dense_bwd(NULL, m.g[0], m.g[1], dh1, x, m.p[0], MB, MI, MH);
    expect_scalar(&f, "loss.block1", loss1);
    expect_scalar(&f, "loss.block2", loss2);
    char name[64];
    for (int i = 0; i < NP; i++) {
        snprintf(name, sizeof name, "chunked.grad.%s", mlp_names[i]);
        expect_close(&f, name, m.g[i], mlp_sizes[i]);
    }
    expect_close(&f, "chunked.grad.wa", dwa, MH * MC);
    expect_close(&f, "chunked.grad.ba", dba, MC);
    bufs_free(&b);
    st_free(&f);
}

Test(fixtures, mlp_local_overlap) {
    StFile f;
    Bufs b = {0};
    Mlp m;
    load(&f, "mlp_local.safetensors");
    mlp_init(&m, &b, &f, "param.");
    const float *x = getf(&f, "x", MB * MI);
    const int32_t *y = get(&f, "y", ST_I32, MB);
    const float *wa = getf(&f, "param.wa2", MH * MC), *ba = getf(&f, "param.ba2", MC);
    float *dwa = buf(&b, MH * MC), *dba = buf(&b, MC);
    /* window 2 = L2, L3 on stop_gradient(h1): mlp_step's gradients of layers 2
     * and 3; its layer-1 gradient is discarded (the cut). */
    float lw2 = mlp_step(&m, x, y);
    float *gw2 = buf(&b, MH * MH), *gb2 = buf(&b, MH);
    rk_copy(gw2, m.g[2], MH * MH);
    rk_copy(gb2, m.g[3], MH);
    /* window 1 = L1, L2 + aux head on h2, backprop through both layers */
    float *dh2 = buf(&b, MB * MH), *dh1 = buf(&b, MB * MH);
    float lw1 = aux_head(dh2, dwa, dba, m.h2, wa, ba, y, &b);
    rk_relu_bwd(dh2, dh2, m.h2p, MB * MH);
    dense_bwd(dh1, m.g[2], m.g[3], dh2, m.h1, m.p[2], MB, MH, MH);
    rk_acc(m.g[2], gw2, MH * MH);                   /* layer 2: both windows */
    rk_acc(m.g[3], gb2, MH);
    rk_relu_bwd(dh1, dh1, m.h1p, MB * MH);
    dense_bwd(NULL, m.g[0], m.g[1], dh1, x, m.p[0], MB, MI, MH);
    expect_scalar(&f, "loss.window1", lw1);
    expect_scalar(&f, "loss.window2", lw2);
    char name[64];
    for (int i = 0; i < NP; i++) {
        snprintf(name, sizeof name, "overlap.grad.%s", mlp_names[i]);
        expect_close(&f, name, m.g[i], mlp_sizes[i]);
    }
    expect_close(&f, "overlap.grad.wa2", dwa, MH * MC);
    expect_close(&f, "overlap.grad.ba2", dba, MC);
    bufs_free(&b);
    st_free(&f);
}

/* ---------------------------------------------------------------- CNN */

/* x (2,3,8,8) -> conv k1 (4,3,3,3) pad 1 + c1, relu = a1 (2,4,8,8) -> maxpool 2
 * = m1 (2,4,4,4) -> conv k2 (6,4,3,3) stride 2 pad 1 + c2, relu = a2 (2,6,2,2)
 * -> global average pool = gap (2,6) -> @ wd (6,3) + bd = logits -> CE */
Test(fixtures, cnn) {
    StFile f;
    Bufs b = {0};
    load(&f, "cnn.safetensors");
    RkConv2d g1 = rk_conv2d_geom(2, 3, 8, 8, 4, 3, 1, 1);
    RkPool2d gp = rk_pool2d_geom(2, 4, 8, 8, 2, 2);
    RkConv2d g2 = rk_conv2d_geom(2, 4, 4, 4, 6, 3, 2, 1);
    cr_assert_eq(g2.OH, 2);
    const float *x = getf(&f, "x", 2 * 3 * 64);
    const int32_t *y = get(&f, "y", ST_I32, 2);
    const float *k1 = getf(&f, "param.k1", 4 * 27), *c1 = getf(&f, "param.c1", 4);
    const float *k2 = getf(&f, "param.k2", 6 * 36), *c2 = getf(&f, "param.c2", 6);
    const float *wd = getf(&f, "param.wd", 18), *bd = getf(&f, "param.bd", 3);
    int64_t n1 = 2 * 4 * 64, nm = 2 * 4 * 16, n2 = 2 * 6 * 4;
    float *work = buf(&b, rk_conv2d_work_floats(&g1) + rk_conv2d_work_floats(&g2));
    float *a1 = buf(&b, n1), *m1 = buf(&b, nm), *a2 = buf(&b, n2), *gap = buf(&b, 12);
    float *logits = buf(&b, 6), *avg = buf(&b, nm);

    rk_conv2d_fwd(a1, x, k1, &g1, work);
    rk_bias_add_fwd(a1, a1, c1, 2, 4, 64);
    rk_relu_fwd(a1, a1, n1);                        /* relu' reads its output: same sign */
    rk_maxpool_fwd(m1, a1, &gp);
    rk_conv2d_fwd(a2, m1, k2, &g2, work);
    rk_bias_add_fwd(a2, a2, c2, 2, 6, 4);
    rk_relu_fwd(a2, a2, n2);
    rk_global_avg_pool_fwd(gap, a2, 2, 6, 4);
    dense_fwd(logits, gap, wd, bd, 2, 6, 3);
    float loss = rk_cross_entropy_fwd(logits, y, 2, 3, NULL);
    rk_avgpool_fwd(avg, a1, &gp);
    expect_close(&f, "a1", a1, n1);
    expect_close(&f, "m1", m1, nm);
    expect_close(&f, "a2", a2, n2);
    expect_close(&f, "gap", gap, 12);
    expect_close(&f, "logits", logits, 6);
    expect_scalar(&f, "loss", loss);
    expect_close(&f, "avgpool_a1", avg, nm);

    float *dlogits = buf(&b, 6), *dgap = buf(&b, 12), *da2 = buf(&b, n2);
    float *dm1 = buf(&b, nm), *da1 = buf(&b, n1), *dx = buf(&b, 2 * 3 * 64);
    float *dwd = buf(&b, 18), *dbd = buf(&b, 3), *dk2 = buf(&b, 6 * 36), *dc2 = buf(&b, 6);
    float *dk1 = buf(&b, 4 * 27), *dc1 = buf(&b, 4);
    rk_cross_entropy_bwd(dlogits, logits, y, 1.0f, 2, 3);
    dense_bwd(dgap, dwd, dbd, dlogits, gap, wd, 2, 6, 3);
    rk_global_avg_pool_bwd(da2, dgap, 2, 6, 4);
    rk_relu_bwd(da2, da2, a2, n2);
    rk_bias_add_bwd(NULL, dc2, da2, 2, 6, 4);
    rk_conv2d_bwd_weight(dk2, da2, m1, &g2, work);
    rk_conv2d_bwd_input(dm1, da2, k2, &g2, work);
    rk_maxpool_bwd(da1, dm1, a1, &gp);
    rk_relu_bwd(da1, da1, a1, n1);
    rk_bias_add_bwd(NULL, dc1, da1, 2, 4, 64);
    rk_conv2d_bwd_weight(dk1, da1, x, &g1, work);
    rk_conv2d_bwd_input(dx, da1, k1, &g1, work);
    expect_close(&f, "grad.wd", dwd, 18);
    expect_close(&f, "grad.bd", dbd, 3);
    expect_close(&f, "grad.k2", dk2, 6 * 36);
    expect_close(&f, "grad.c2", dc2, 6);
    expect_close(&f, "grad.k1", dk1, 4 * 27);
    expect_close(&f, "grad.c1", dc1, 4);
    expect_close(&f, "grad.x", dx, 2 * 3 * 64);
    bufs_free(&b);
    st_free(&f);
}

/* -------------------------------------------------------- transformer */

/* tokens (B=2, T=6), vocab V=11, width D=8, NH=2 heads, FF=32; R = B·T rows.
 *   h0 = emb[tok] + pos
 *   h1 = h0 + attn(LN1(h0) @ wq+bq, @ wk+bk, @ wv+bv) @ wo + bo
 *   h2 = h1 + gelu(LN2(h1) @ wf1 + bf1) @ wf2 + bf2
 *   logits = LNf(h2) @ wh + bh;  loss = mean CE over the R positions */
enum { TB = 2, TT = 6, TV = 11, TD = 8, TNH = 2, TF = 32, TR = TB * TT, TP = 21 };
static const char *const tf_names[TP] = {
    "emb", "pos", "ln1_g", "ln1_b", "wq", "bq", "wk", "bk", "wv", "bv", "wo",
    "bo", "ln2_g", "ln2_b", "wf1", "bf1", "wf2", "bf2", "lnf_g", "lnf_b", "wh"};
static const int64_t tf_sizes[TP] = {
    TV * TD, TT * TD, TD, TD, TD * TD, TD, TD * TD, TD, TD * TD, TD, TD * TD,
    TD, TD, TD, TD * TF, TF, TF * TD, TD, TD, TD, TD * TV};
enum { EMB, POS, LN1G, LN1B, WQ, BQ, WK, BK, WV, BV, WO, BO, LN2G, LN2B, WF1, BF1,
       WF2, BF2, LNFG, LNFB, WH };

/* The activations of one forward pass, kept for the backward. */
typedef struct Tf {
    const float *p[TP + 1], *bh;                    /* parameters (bh last) */
    float *h0, *ln1, *mean1, *rstd1, *q, *k, *v, *att, *a, *h1;
    float *ln2, *mean2, *rstd2, *f1, *gl, *h2, *lnf, *meanf, *rstdf, *logits;
} Tf;

static void tf_forward(Tf *m, Bufs *b, const int32_t *tok) {
    const float *const *p = m->p;
    m->h0 = buf(b, TR * TD);
    rk_embedding_fwd(m->h0, tok, p[EMB], TR, TV, TD);
    rk_add_fwd(m->h0, m->h0, p[POS], TR * TD, TT * TD);     /* pos: unbatched */
    m->ln1 = buf(b, TR * TD), m->mean1 = buf(b, TR), m->rstd1 = buf(b, TR);
    rk_layernorm_fwd(m->ln1, m->mean1, m->rstd1, m->h0, p[LN1G], p[LN1B], TR, TD, 1e-5f);
    m->q = buf(b, TR * TD), m->k = buf(b, TR * TD), m->v = buf(b, TR * TD);
    dense_fwd(m->q, m->ln1, p[WQ], p[BQ], TR, TD, TD);
    dense_fwd(m->k, m->ln1, p[WK], p[BK], TR, TD, TD);
    dense_fwd(m->v, m->ln1, p[WV], p[BV], TR, TD, TD);
    m->att = buf(b, TB * TNH * TT * TT), m->a = buf(b, TR * TD), m->h1 = buf(b, TR * TD);
    rk_attention_fwd(m->a, m->att, m->q, m->k, m->v, TB, TT, TD, TNH);
    dense_fwd(m->h1, m->a, p[WO], p[BO], TR, TD, TD);
    rk_add_fwd(m->h1, m->h1, m->h0, TR * TD, TR * TD);
    m->ln2 = buf(b, TR * TD), m->mean2 = buf(b, TR), m->rstd2 = buf(b, TR);
    rk_layernorm_fwd(m->ln2, m->mean2, m->rstd2, m->h1, p[LN2G], p[LN2B], TR, TD, 1e-5f);
    m->f1 = buf(b, TR * TF), m->gl = buf(b, TR * TF), m->h2 = buf(b, TR * TD);
    dense_fwd(m->f1, m->ln2, p[WF1], p[BF1], TR, TD, TF);
    rk_gelu_fwd(m->gl, m->f1, TR * TF);
    dense_fwd(m->h2, m->gl, p[WF2], p[BF2], TR, TF, TD);
    rk_add_fwd(m->h2, m->h2, m->h1, TR * TD, TR * TD);
    m->lnf = buf(b, TR * TD), m->meanf = buf(b, TR), m->rstdf = buf(b, TR);
    rk_layernorm_fwd(m->lnf, m->meanf, m->rstdf, m->h2, p[LNFG], p[LNFB], TR, TD, 1e-5f);
    m->logits = buf(b, TR * TV);
    dense_fwd(m->logits, m->lnf, p[WH], m->bh, TR, TD, TV);
}

/* Every parameter gradient: g[i] for tf_names[i], g[TP] for bh. */
static void tf_backward(const Tf *m, Bufs *b, float *const *g, const int32_t *tok,
                        const int32_t *tgt) {
    const float *const *p = m->p;
    float *dlogits = buf(b, TR * TV), *dlnf = buf(b, TR * TD), *dh2 = buf(b, TR * TD);
    rk_cross_entropy_bwd(dlogits, m->logits, tgt, 1.0f, TR, TV);
    dense_bwd(dlnf, g[WH], g[TP], dlogits, m->lnf, p[WH], TR, TD, TV);
    rk_layernorm_bwd(dh2, g[LNFG], g[LNFB], dlnf, m->h2, m->meanf, m->rstdf, p[LNFG], TR, TD);
    /* MLP branch; dh1 = dh2 (residual) + the branch's gradient */
    float *dgl = buf(b, TR * TF), *dln2 = buf(b, TR * TD), *dh1 = buf(b, TR * TD);
    dense_bwd(dgl, g[WF2], g[BF2], dh2, m->gl, p[WF2], TR, TF, TD);
    rk_gelu_bwd(dgl, dgl, m->f1, TR * TF);
    dense_bwd(dln2, g[WF1], g[BF1], dgl, m->ln2, p[WF1], TR, TD, TF);
    rk_layernorm_bwd(dh1, g[LN2G], g[LN2B], dln2, m->h1, m->mean2, m->rstd2, p[LN2G], TR, TD);
    rk_acc(dh1, dh2, TR * TD);
    /* attention branch; dh0 = dh1 + the branch's gradient */
    float *da = buf(b, TR * TD), *dq = buf(b, TR * TD), *dk = buf(b, TR * TD);
    float *dv = buf(b, TR * TD), *dln1 = buf(b, TR * TD), *tmp = buf(b, TR * TD);
    float *dh0 = buf(b, TR * TD);
    dense_bwd(da, g[WO], g[BO], dh1, m->a, p[WO], TR, TD, TD);
    rk_attention_bwd(dq, dk, dv, da, m->q, m->k, m->v, m->att, TB, TT, TD, TNH);
    dense_bwd(dln1, g[WQ], g[BQ], dq, m->ln1, p[WQ], TR, TD, TD);
    dense_bwd(tmp, g[WK], g[BK], dk, m->ln1, p[WK], TR, TD, TD);
    rk_acc(dln1, tmp, TR * TD);
    dense_bwd(tmp, g[WV], g[BV], dv, m->ln1, p[WV], TR, TD, TD);
    rk_acc(dln1, tmp, TR * TD);
    rk_layernorm_bwd(dh0, g[LN1G], g[LN1B], dln1, m->h0, m->mean1, m->rstd1, p[LN1G], TR, TD);
    rk_acc(dh0, dh1, TR * TD);
    rk_add_bwd(NULL, g[POS], dh0, TR * TD, TT * TD);
    rk_embedding_bwd(g[EMB], dh0, tok, TR, TV, TD);
}

Test(fixtures, transformer) {
    StFile f;
    Bufs b = {0};
    Tf m;
    load(&f, "transformer.safetensors");
    char name[64];
    for (int i = 0; i < TP; i++) {
        snprintf(name, sizeof name, "param.%s", tf_names[i]);
        m.p[i] = getf(&f, name, tf_sizes[i]);
    }
    m.bh = getf(&f, "param.bh", TV);
    const int32_t *tok = get(&f, "tokens", ST_I32, TR);
    const int32_t *tgt = get(&f, "targets", ST_I32, TR);
    tf_forward(&m, &b, tok);
    expect_close(&f, "logits", m.logits, TR * TV);
    expect_scalar(&f, "loss", rk_cross_entropy_fwd(m.logits, tgt, TR, TV, NULL));

    float *g[TP + 1];
    for (int i = 0; i < TP; i++) g[i] = buf(&b, tf_sizes[i]);
    g[TP] = buf(&b, TV);
    tf_backward(&m, &b, g, tok, tgt);
    for (int i = 0; i < TP; i++) {
        snprintf(name, sizeof name, "grad.%s", tf_names[i]);
        expect_close(&f, name, g[i], tf_sizes[i]);
    }
    expect_close(&f, "grad.bh", g[TP], TV);
    bufs_free(&b);
    st_free(&f);
}

Test(fixtures, gelu_exact) {
    StFile f;
    float y[33];
    load(&f, "transformer.safetensors");
    rk_gelu_fwd(y, getf(&f, "gelu.x", 33), 33);
    expect_close(&f, "gelu.erf", y, 33);
    st_free(&f);
}
