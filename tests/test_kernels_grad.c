/* test_kernels_grad.c — finite-difference gradient checks of every
 * differentiable reference kernel (runtime/kernels/kernels.h).
 *
 * For one op and one shape: fill the inputs from a fixed-seed generator, run
 * the forward, draw a random r of the output's shape, and take the scalar
 *   loss = Σ out ⊙ r            (accumulated in double)
 * whose gradient wrt the output is r. The backward kernel, fed dy = r, gives
 * the analytic gradient of every input; each element is then compared with the
 * central difference (loss(x+h) - loss(x-h)) / (2h), h = 1e-2, where the step
 * actually taken after float rounding is used as the denominator.
 *
 * The forward runs in float, so the difference carries rounding noise of about
 * ε_f·|loss|/h plus a truncation term h²·f'''/6; both stay below ~1e-4 for
 * these O(1) inputs. An element passes when
 *   |numeric - analytic| <= TOL · (1 + |analytic|),   TOL = 1e-3,
 * which a wrong index, transposition, missing term or factor of 2 exceeds by
 * orders of magnitude. Inputs of non-smooth ops (relu, maxpool) are kept at
 * least 2h away from the kinks. Gradient buffers are pre-filled with NaN, so a
 * backward kernel that forgets to overwrite an element fails. The worst error
 * of each check is printed on failure (and always with LNET_GRAD_VERBOSE=1).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#define MAXIN 4
#define STEP 1e-2
#define TOL 1e-3

typedef struct Case Case;
struct Case {
    const char *name;
    int nin;
    float *in[MAXIN];           /* the op's float inputs */
    int64_t len[MAXIN];
    bool diff[MAXIN];           /* checked against finite differences */
    float *out;                 /* (nout) */
    int64_t nout;
    void (*fwd)(Case *);
    void (*bwd)(Case *, const float *dy, float *const *din);
    int64_t a[10];              /* dims and attributes, meaning per op */
    int perm[RK_MAX_RANK];
    float s;                    /* scalar attribute (p, eps, ...) */
    float *save[2];             /* forward state read by the backward */
    int32_t *ids;               /* labels / token ids */
    float *work;                /* conv scratch */
};

/* ------------------------------------------------------------ harness */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static double urand(void) {             /* splitmix64 -> [0, 1) */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static float *fill(float *x, int64_t n, double lo, double hi) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * urand());
    return x;
}

static float *alloc(int64_t n) {
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    cr_assert(p);
    return p;
}

static void case_start(Case *c, const char *name, int64_t nout) {
    memset(c, 0, sizeof *c);
    c->name = name;
    c->nout = nout;
    c->out = alloc(nout);
}

/* Adds an input of n elements uniform in [lo, hi); returns it. */
static float *case_in(Case *c, int64_t n, bool diff, double lo, double hi) {
    int i = c->nin++;
    c->len[i] = n;
    c->diff[i] = diff;
    c->in[i] = fill(alloc(n), n, lo, hi);
    return c->in[i];
}

static void case_free(Case *c) {
    for (int i = 0; i < c->nin; i++) free(c->in[i]);
    free(c->out);
    free(c->save[0]);
    free(c->save[1]);
    free(c->ids);
    free(c->work);
}

static double loss_of(Case *c, const float *r) {
    c->fwd(c);
    double l = 0.0;
    for (int64_t i = 0; i < c->nout; i++) l += (double)c->out[i] * r[i];
    return l;
}

static bool verbose(void) {
    const char *v = getenv("LNET_GRAD_VERBOSE");
    return v && *v && *v != '0';
}

/* Runs the check described at the top of the file on case c, then frees it. */
static void grad_check(Case *c) {
    float *r = fill(alloc(c->nout), c->nout, -1.0, 1.0);
    float *din[MAXIN] = {0};
    for (int i = 0; i < c->nin; i++)
        if (c->diff[i]) {
            din[i] = alloc(c->len[i]);
            for (int64_t j = 0; j < c->len[i]; j++) din[i][j] = NAN;
        }
    c->fwd(c);
    c->bwd(c, r, din);
    for (int i = 0; i < c->nin; i++) {
        if (!c->diff[i]) continue;
        double max_abs = 0, max_scaled = 0, worst_num = 0, worst_ana = 0;
        int64_t worst = 0;
        for (int64_t j = 0; j < c->len[i]; j++) {
            float v = c->in[i][j];
            float vp = (float)(v + STEP), vm = (float)(v - STEP);
            c->in[i][j] = vp;
            double lp = loss_of(c, r);
            c->in[i][j] = vm;
            double lm = loss_of(c, r);
            c->in[i][j] = v;
            double num = (lp - lm) / ((double)vp - vm), ana = din[i][j];
            double err = fabs(num - ana), scaled = err / (1.0 + fabs(ana));
            if (isnan(err)) scaled = err = INFINITY;   /* a NaN on either side */
            if (err > max_abs) max_abs = err;
            if (scaled >= max_scaled) {
                max_scaled = scaled;
                worst = j, worst_num = num, worst_ana = ana;
            }
        }
        bool ok = max_scaled <= TOL;
        if (!ok || verbose())
            fprintf(stderr, "%-44s in%d (%6lld el): max abs err %.3g, max err/(1+|g|) %.3g "
                    "[el %lld: numeric %.6g analytic %.6g]%s\n", c->name, i,
                    (long long)c->len[i], max_abs, max_scaled, (long long)worst,
                    worst_num, worst_ana, ok ? "" : "  FAIL");
        cr_expect(ok, "%s: gradient of input %d off by %.3g (scaled)", c->name, i, max_scaled);
        free(din[i]);
    }
    free(r);
    case_free(c);
}

/* --------------------------------------------------------------- dense */

static void matmul_fwd(Case *c) {
    rk_matmul_fwd(c->out, c->in[0], c->in[1], c->a[0], c->a[1], c->a[2]);
}
static void matmul_bwd(Case *c, const float *dy, float *const *d) {
    rk_matmul_bwd(d[0], d[1], dy, c->in[0], c->in[1], c->a[0], c->a[1], c->a[2]);
}

Test(grad, matmul) {
    int64_t shapes[][3] = {{1, 1, 1}, {3, 17, 5}, {4, 3, 1}, {17, 2, 3}};
    for (int s = 0; s < 4; s++) {
        int64_t R = shapes[s][0], I = shapes[s][1], O = shapes[s][2];
        for (int dx = 0; dx < 2; dx++) {     /* dx = NULL is allowed */
            Case c;
            char name[64];
            snprintf(name, sizeof name, "matmul R%lld I%lld O%lld%s", (long long)R,
                     (long long)I, (long long)O, dx ? "" : " (dx NULL)");
            case_start(&c, name, R * O);
            case_in(&c, R * I, dx, -1, 1);
            case_in(&c, I * O, true, -1, 1);
            c.a[0] = R, c.a[1] = I, c.a[2] = O;
            c.fwd = matmul_fwd, c.bwd = matmul_bwd;
            grad_check(&c);
        }
    }
}

static void bias_fwd(Case *c) {
    rk_bias_add_fwd(c->out, c->in[0], c->in[1], c->a[0], c->a[1], c->a[2]);
}
static void bias_bwd(Case *c, const float *dy, float *const *d) {
    rk_bias_add_bwd(d[0], d[1], dy, c->a[0], c->a[1], c->a[2]);
}

Test(grad, bias_add) {
    /* (N, C, S): S = 1 is axis last, S = H·W the NCHW channel axis */
    int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 1}, {17, 3, 1}, {2, 3, 20}, {1, 17, 9}};
    for (int s = 0; s < 5; s++) {
        int64_t N = shapes[s][0], C = shapes[s][1], S = shapes[s][2];
        Case c;
        char name[64];
        snprintf(name, sizeof name, "bias_add N%lld C%lld S%lld (%s)", (long long)N,
                 (long long)C, (long long)S, S == 1 ? "axis last" : "axis channel");
        case_start(&c, name, N * C * S);
        case_in(&c, N * C * S, true, -1, 1);
        case_in(&c, C, true, -1, 1);
        c.a[0] = N, c.a[1] = C, c.a[2] = S;
        c.fwd = bias_fwd, c.bwd = bias_bwd;
        grad_check(&c);
    }
}

/* ---------------------------------------------------------- elementwise */

/* a[0] = op (0 add, 1 sub, 2 mul, 3 div), a[1] = L, a[2] = B */
static void binary_fwd(Case *c) {
    void (*f[4])(float *, const float *, const float *, int64_t, int64_t) = {
        rk_add_fwd, rk_sub_fwd, rk_mul_fwd, rk_div_fwd};
    f[c->a[0]](c->out, c->in[0], c->in[1], c->a[1], c->a[2]);
}
static void binary_bwd(Case *c, const float *dy, float *const *d) {
    int64_t L = c->a[1], B = c->a[2];
    switch (c->a[0]) {
    case 0: rk_add_bwd(d[0], d[1], dy, L, B); break;
    case 1: rk_sub_bwd(d[0], d[1], dy, L, B); break;
    case 2: rk_mul_bwd(d[0], d[1], dy, c->in[0], c->in[1], L, B); break;
    default: rk_div_bwd(d[0], d[1], dy, c->in[0], c->in[1], L, B); break;
    }
}

Test(grad, binary_ops_with_broadcast) {
    static const char *ops[4] = {"add", "sub", "mul", "div"};
    int64_t shapes[][2] = {{1, 1}, {12, 12}, {12, 4}, {51, 17}, {17, 1}};
    for (int op = 0; op < 4; op++)
        for (int s = 0; s < 5; s++) {
            int64_t L = shapes[s][0], B = shapes[s][1];
            Case c;
            char name[64];
            snprintf(name, sizeof name, "%s L%lld B%lld", ops[op], (long long)L, (long long)B);
            case_start(&c, name, L);
            case_in(&c, L, true, -1, 1);
            float *b = case_in(&c, B, true, 0.5, 1.5);   /* keep |b| away from 0 */
            for (int64_t j = 0; j < B; j += 2) b[j] = -b[j];
            c.a[0] = op, c.a[1] = L, c.a[2] = B;
            c.fwd = binary_fwd, c.bwd = binary_bwd;
            grad_check(&c);
        }
}

/* a[0] = op: 0 add_scalar, 1 mul_scalar, 2 relu, 3 gelu, 4 tanh, 5 sigmoid,
 * 6 leaky_relu (slope c->s) */
static void unary_fwd(Case *c) {
    int64_t L = c->len[0];
    switch (c->a[0]) {
    case 0: rk_add_scalar_fwd(c->out, c->in[0], c->s, L); break;
    case 1: rk_mul_scalar_fwd(c->out, c->in[0], c->s, L); break;
    case 2: rk_relu_fwd(c->out, c->in[0], L); break;
    case 3: rk_gelu_fwd(c->out, c->in[0], L); break;
    case 4: rk_tanh_fwd(c->out, c->in[0], L); break;
    case 6: rk_leaky_relu_fwd(c->out, c->in[0], c->s, L); break;
    default: rk_sigmoid_fwd(c->out, c->in[0], L); break;
    }
}
static void unary_bwd(Case *c, const float *dy, float *const *d) {
    int64_t L = c->len[0];
    switch (c->a[0]) {
    case 0: rk_add_scalar_bwd(d[0], dy, L); break;
    case 1: rk_mul_scalar_bwd(d[0], dy, c->s, L); break;
    case 2: rk_relu_bwd(d[0], dy, c->in[0], L); break;
    case 3: rk_gelu_bwd(d[0], dy, c->in[0], L); break;
    case 4: rk_tanh_bwd(d[0], dy, c->out, L); break;
    case 6: rk_leaky_relu_bwd(d[0], dy, c->in[0], c->s, L); break;
    default: rk_sigmoid_bwd(d[0], dy, c->out, L); break;
    }
}

Test(grad, scalar_ops_and_activations) {
    static const char *ops[7] = {"add_scalar", "mul_scalar", "relu", "gelu", "tanh", "sigmoid",
                                 "leaky_relu"};
    int64_t sizes[3] = {1, 17, 64};
    for (int op = 0; op < 7; op++)
        for (int s = 0; s < 3; s++) {
            Case c;
            char name[64];
            snprintf(name, sizeof name, "%s L%lld", ops[op], (long long)sizes[s]);
            case_start(&c, name, sizes[s]);
            float *x = case_in(&c, sizes[s], true, -3, 3);
            for (int64_t i = 0; (op == 2 || op == 6) && i < sizes[s]; i++)   /* off the kink */
                if (fabsf(x[i]) < 2.5f * (float)STEP) x[i] = x[i] < 0 ? -0.1f : 0.1f;
            c.a[0] = op, c.s = op == 6 ? 0.2f : -1.7f;
            c.fwd = unary_fwd, c.bwd = unary_bwd;
            grad_check(&c);
        }
}

/* in[1] = uniforms u (not differentiated), save[0] = mask */
static void dropout_fwd(Case *c) {
    rk_dropout_fwd(c->out, c->save[0], c->in[0], c->in[1], c->s, c->len[0]);
}
static void dropout_bwd(Case *c, const float *dy, float *const *d) {
    rk_dropout_bwd(d[0], dy, c->save[0], c->len[0]);
}

Test(grad, dropout) {
    float ps[3] = {0.0f, 0.3f, 0.9f};
    for (int s = 0; s < 3; s++) {
        Case c;
        char name[64];
        snprintf(name, sizeof name, "dropout L33 p%.1f", (double)ps[s]);
        case_start(&c, name, 33);
        case_in(&c, 33, true, -1, 1);
        case_in(&c, 33, false, 0, 1);
        c.save[0] = alloc(33);
        c.s = ps[s];
        c.fwd = dropout_fwd, c.bwd = dropout_bwd;
        grad_check(&c);
    }
}

/* --------------------------------------------- softmax, norms, losses */

static void softmax_fwd(Case *c) {
    (c->a[0] ? rk_log_softmax_fwd : rk_softmax_fwd)(c->out, c->in[0], c->a[1], c->a[2]);
}
static void softmax_bwd(Case *c, const float *dy, float *const *d) {
    (c->a[0] ? rk_log_softmax_bwd : rk_softmax_bwd)(d[0], dy, c->out, c->a[1], c->a[2]);
}

Test(grad, softmax_and_log_softmax) {
    int64_t shapes[][2] = {{1, 1}, {1, 3}, {3, 17}, {5, 4}};
    for (int op = 0; op < 2; op++)
        for (int s = 0; s < 4; s++) {
            Case c;
            char name[64];
            snprintf(name, sizeof name, "%s R%lld C%lld", op ? "log_softmax" : "softmax",
                     (long long)shapes[s][0], (long long)shapes[s][1]);
            case_start(&c, name, shapes[s][0] * shapes[s][1]);
            case_in(&c, shapes[s][0] * shapes[s][1], true, -2, 2);
            c.a[0] = op, c.a[1] = shapes[s][0], c.a[2] = shapes[s][1];
            c.fwd = softmax_fwd, c.bwd = softmax_bwd;
            grad_check(&c);
        }
}

static void layernorm_fwd(Case *c) {
    rk_layernorm_fwd(c->out, c->save[0], c->save[1], c->in[0], c->in[1], c->in[2],
                     c->a[0], c->a[1], c->s);
}
static void layernorm_bwd(Case *c, const float *dy, float *const *d) {
    rk_layernorm_bwd(d[0], d[1], d[2], dy, c->in[0], c->save[0], c->save[1], c->in[1],
                     c->a[0], c->a[1]);
}

Test(grad, layernorm) {
    int64_t shapes[][2] = {{1, 2}, {1, 3}, {3, 17}, {4, 8}, {17, 5}};
    for (int s = 0; s < 5; s++) {
        int64_t R = shapes[s][0], D = shapes[s][1];
        Case c;
        char name[64];
        snprintf(name, sizeof name, "layernorm R%lld D%lld", (long long)R, (long long)D);
        case_start(&c, name, R * D);
        case_in(&c, R * D, true, -2, 2);
        case_in(&c, D, true, 0.5, 1.5);
        case_in(&c, D, true, -1, 1);
        c.save[0] = alloc(R), c.save[1] = alloc(R);
        c.a[0] = R, c.a[1] = D, c.s = 1e-5f;
        c.fwd = layernorm_fwd, c.bwd = layernorm_bwd;
        grad_check(&c);
    }
}

/* Training mode: the batch statistics (no running ones, so the repeated
 * forwards of the differences change no state). */
static void batchnorm_fwd(Case *c) {
    rk_batchnorm_fwd(c->out, c->save[0], c->save[1], c->in[0], c->in[1], c->in[2], NULL, NULL,
                     c->a[0], c->a[1], c->a[2], c->s, 0.1f, true);
}
static void batchnorm_bwd(Case *c, const float *dy, float *const *d) {
    rk_batchnorm_bwd(d[0], d[1], d[2], dy, c->in[0], c->save[0], c->save[1], c->in[1],
                     c->a[0], c->a[1], c->a[2]);
}

Test(grad, batchnorm) {
    int64_t shapes[][3] = {{2, 1, 1}, {3, 2, 1}, {2, 3, 5}, {4, 2, 9}, {1, 3, 17}};
    for (int s = 0; s < 5; s++) {
        int64_t N = shapes[s][0], C = shapes[s][1], S = shapes[s][2];
        Case c;
        char name[64];
        snprintf(name, sizeof name, "batchnorm N%lld C%lld S%lld", (long long)N, (long long)C,
                 (long long)S);
        case_start(&c, name, N * C * S);
        case_in(&c, N * C * S, true, -2, 2);
        case_in(&c, C, true, 0.5, 1.5);
        case_in(&c, C, true, -1, 1);
        c.save[0] = alloc(C), c.save[1] = alloc(C);
        c.a[0] = N, c.a[1] = C, c.a[2] = S, c.s = 1e-5f;
        c.fwd = batchnorm_fwd, c.bwd = batchnorm_bwd;
        grad_check(&c);
    }
}

static void ce_fwd(Case *c) {
    c->out[0] = rk_cross_entropy_fwd(c->in[0], c->ids, c->a[0], c->a[1], NULL);
}
static void ce_bwd(Case *c, const float *dy, float *const *d) {
    rk_cross_entropy_bwd(d[0], c->in[0], c->ids, dy[0], c->a[0], c->a[1]);
}

Test(grad, cross_entropy) {
    /* R rows = batch, or batch × positions flattened */
    int64_t shapes[][2] = {{1, 1}, {1, 3}, {3, 17}, {12, 5}};
    for (int s = 0; s < 4; s++) {
        int64_t R = shapes[s][0], C = shapes[s][1];
        Case c;
        char name[64];
        snprintf(name, sizeof name, "cross_entropy R%lld C%lld", (long long)R, (long long)C);
        case_start(&c, name, 1);
        case_in(&c, R * C, true, -3, 3);
        c.ids = malloc((size_t)R * sizeof *c.ids);
        for (int64_t r = 0; r < R; r++) c.ids[r] = (int32_t)(urand() * (double)C);
        c.a[0] = R, c.a[1] = C;
        c.fwd = ce_fwd, c.bwd = ce_bwd;
        grad_check(&c);
    }
}

static void mse_fwd(Case *c) {
    c->out[0] = rk_mse_fwd(c->in[0], c->in[1], c->len[0]);
}
static void mse_bwd(Case *c, const float *dy, float *const *d) {
    rk_mse_bwd(d[0], d[1], c->in[0], c->in[1], dy[0], c->len[0]);
}

Test(grad, mse) {
    int64_t sizes[3] = {1, 12, 17};
    for (int s = 0; s < 3; s++) {
        Case c;
        char name[64];
        snprintf(name, sizeof name, "mse L%lld", (long long)sizes[s]);
        case_start(&c, name, 1);
        case_in(&c, sizes[s], true, -1, 1);
        case_in(&c, sizes[s], true, -1, 1);
        c.fwd = mse_fwd, c.bwd = mse_bwd;
        grad_check(&c);
    }
}

/* ------------------------------------------------------ conv and pools */

static RkConv2d conv_geom(const Case *c) {
    return rk_conv2d_geom(c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5], c->a[6],
                          c->a[7]);
}
static void conv_fwd(Case *c) {
    RkConv2d g = conv_geom(c);
    rk_conv2d_fwd(c->out, c->in[0], c->in[1], &g, c->work);
}
static void conv_bwd(Case *c, const float *dy, float *const *d) {
    RkConv2d g = conv_geom(c);
    rk_conv2d_bwd_input(d[0], dy, c->in[1], &g, c->work);
    rk_conv2d_bwd_weight(d[1], dy, c->in[0], &g, c->work);
}

Test(grad, conv2d) {
    /* N C H W O K S P */
    int64_t shapes[][8] = {
        {1, 1, 1, 1, 1, 1, 1, 0}, {1, 1, 3, 3, 1, 1, 1, 0}, {2, 3, 7, 7, 4, 3, 1, 1},
        {2, 3, 7, 7, 4, 3, 2, 1}, {2, 2, 6, 5, 3, 3, 2, 0}, {1, 3, 5, 5, 2, 3, 1, 0},
        {1, 2, 4, 4, 1, 2, 2, 1}, {1, 17, 3, 3, 3, 3, 1, 1},
    };
    for (int s = 0; s < 8; s++) {
        Case c;
        char name[80];
        int64_t *a = shapes[s];
        snprintf(name, sizeof name, "conv2d N%lld C%lld H%lld W%lld O%lld K%lld S%lld P%lld",
                 (long long)a[0], (long long)a[1], (long long)a[2], (long long)a[3],
                 (long long)a[4], (long long)a[5], (long long)a[6], (long long)a[7]);
        memcpy(c.a, a, sizeof shapes[s]);
        RkConv2d g = conv_geom(&c);
        case_start(&c, name, g.N * g.O * g.OH * g.OW);
        memcpy(c.a, a, sizeof shapes[s]);
        case_in(&c, g.N * g.C * g.H * g.W, true, -1, 1);
        case_in(&c, g.O * g.C * g.K * g.K, true, -1, 1);
        c.work = alloc(rk_conv2d_work_floats(&g));
        c.fwd = conv_fwd, c.bwd = conv_bwd;
        grad_check(&c);
    }
}

/* a = N C H W K S, a[6]: 0 maxpool, 1 avgpool, 2 global_avg_pool */
static void pool_fwd(Case *c) {
    RkPool2d g = rk_pool2d_geom(c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
    if (c->a[6] == 0) rk_maxpool_fwd(c->out, c->in[0], &g);
    if (c->a[6] == 1) rk_avgpool_fwd(c->out, c->in[0], &g);
    if (c->a[6] == 2) rk_global_avg_pool_fwd(c->out, c->in[0], g.N, g.C, g.H * g.W);
}
static void pool_bwd(Case *c, const float *dy, float *const *d) {
    RkPool2d g = rk_pool2d_geom(c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
    if (c->a[6] == 0) rk_maxpool_bwd(d[0], dy, c->in[0], &g);
    if (c->a[6] == 1) rk_avgpool_bwd(d[0], dy, &g);
    if (c->a[6] == 2) rk_global_avg_pool_bwd(d[0], dy, g.N, g.C, g.H * g.W);
}

Test(grad, pools) {
    static const char *ops[3] = {"maxpool", "avgpool", "global_avg_pool"};
    /* N C H W K S; (1,2,7,7,3,2) has overlapping windows */
    int64_t shapes[][6] = {{1, 1, 1, 1, 1, 1}, {2, 3, 6, 6, 2, 2}, {1, 2, 7, 7, 3, 2},
                           {1, 1, 5, 5, 2, 1}, {2, 17, 3, 4, 3, 1}};
    for (int op = 0; op < 3; op++)
        for (int s = 0; s < 5; s++) {
            int64_t *a = shapes[s];
            Case c;
            char name[64];
            snprintf(name, sizeof name, "%s N%lld C%lld H%lld W%lld K%lld S%lld", ops[op],
                     (long long)a[0], (long long)a[1], (long long)a[2], (long long)a[3],
                     (long long)a[4], (long long)a[5]);
            RkPool2d g = rk_pool2d_geom(a[0], a[1], a[2], a[3], a[4], a[5]);
            case_start(&c, name, op == 2 ? g.N * g.C : g.N * g.C * g.OH * g.OW);
            int64_t L = g.N * g.C * g.H * g.W;
            float *x = case_in(&c, L, true, -1, 1);
            /* maxpool: distinct values 5h apart, shuffled, so no ±h flips a max */
            for (int64_t i = 0; i < L; i++) x[i] = (float)(5 * STEP * (double)(i - L / 2));
            for (int64_t i = L - 1; i > 0; i--) {
                int64_t j = (int64_t)(urand() * (double)(i + 1));
                float t = x[i];
                x[i] = x[j], x[j] = t;
            }
            memcpy(c.a, a, 6 * sizeof *a);
            c.a[6] = op;
            c.fwd = pool_fwd, c.bwd = pool_bwd;
            grad_check(&c);
        }
}

/* ------------------------------------------------------ data movement */

static void transpose_fwd(Case *c) {
    rk_transpose_fwd(c->out, c->in[0], c->a[0], (int)c->a[1], c->a + 2, c->perm);
}
static void transpose_bwd(Case *c, const float *dy, float *const *d) {
    rk_transpose_bwd(d[0], dy, c->a[0], (int)c->a[1], c->a + 2, c->perm);
}

Test(grad, transpose) {
    struct { int rank; int64_t dims[3]; int perm[3]; } cases[] = {
        {1, {17}, {0}}, {2, {3, 17}, {1, 0}}, {3, {3, 4, 5}, {2, 0, 1}},
        {3, {2, 3, 4}, {1, 2, 0}}, {3, {2, 1, 3}, {0, 2, 1}},
    };
    for (int s = 0; s < 5; s++) {
        Case c;
        char name[64];
        int64_t M = 1;
        for (int a = 0; a < cases[s].rank; a++) M *= cases[s].dims[a];
        snprintf(name, sizeof name, "transpose rank %d case %d", cases[s].rank, s);
        case_start(&c, name, 2 * M);
        case_in(&c, 2 * M, true, -1, 1);
        c.a[0] = 2, c.a[1] = cases[s].rank;
        memcpy(c.a + 2, cases[s].dims, sizeof cases[s].dims);
        memcpy(c.perm, cases[s].perm, sizeof cases[s].perm);
        c.fwd = transpose_fwd, c.bwd = transpose_bwd;
        grad_check(&c);
    }
}

/* --------------------------------------------- embedding and attention */

static void embedding_fwd(Case *c) {
    rk_embedding_fwd(c->out, c->ids, c->in[0], c->a[0], c->a[1], c->a[2]);
}
static void embedding_bwd(Case *c, const float *dy, float *const *d) {
    rk_embedding_bwd(d[0], dy, c->ids, c->a[0], c->a[1], c->a[2]);
}

Test(grad, embedding) {
    int64_t shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {17, 4, 6}};     /* R V D */
    for (int s = 0; s < 3; s++) {
        int64_t R = shapes[s][0], V = shapes[s][1], D = shapes[s][2];
        Case c;
        char name[64];
        snprintf(name, sizeof name, "embedding R%lld V%lld D%lld", (long long)R,
                 (long long)V, (long long)D);
        case_start(&c, name, R * D);
        case_in(&c, V * D, true, -1, 1);
        c.ids = malloc((size_t)R * sizeof *c.ids);
        for (int64_t r = 0; r < R; r++) c.ids[r] = (int32_t)(r * 3 % V);   /* repeats */
        c.a[0] = R, c.a[1] = V, c.a[2] = D;
        c.fwd = embedding_fwd, c.bwd = embedding_bwd;
        grad_check(&c);
    }
}

static void attention_fwd(Case *c) {
    rk_attention_fwd(c->out, c->save[0], c->in[0], c->in[1], c->in[2], c->a[0], c->a[1],
                     c->a[2], c->a[3]);
}
static void attention_bwd(Case *c, const float *dy, float *const *d) {
    rk_attention_bwd(d[0], d[1], d[2], dy, c->in[0], c->in[1], c->in[2], c->save[0],
                     c->a[0], c->a[1], c->a[2], c->a[3]);
}

Test(grad, causal_attention) {
    int64_t shapes[][4] = {{1, 1, 4, 1}, {1, 3, 4, 1}, {2, 5, 8, 2}, {2, 17, 6, 3},
                           {1, 4, 4, 2}};                       /* N T D NH */
    for (int s = 0; s < 5; s++) {
        int64_t N = shapes[s][0], T = shapes[s][1], D = shapes[s][2], NH = shapes[s][3];
        Case c;
        char name[64];
        snprintf(name, sizeof name, "attention N%lld T%lld D%lld NH%lld", (long long)N,
                 (long long)T, (long long)D, (long long)NH);
        case_start(&c, name, N * T * D);
        for (int i = 0; i < 3; i++) case_in(&c, N * T * D, true, -1.5, 1.5);
        c.save[0] = alloc(N * NH * T * T);
        c.a[0] = N, c.a[1] = T, c.a[2] = D, c.a[3] = NH;
        c.fwd = attention_fwd, c.bwd = attention_bwd;
        grad_check(&c);
    }
}
