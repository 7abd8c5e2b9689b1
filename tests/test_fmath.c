/* test_fmath.c — the inline float exp, log, tanh and erf of cg_fmath.c
 * (through the FMATH probe: builder, O3 with the host machine, JIT) against
 * double-precision libm.
 *
 * Each function is swept over the floats of the range that matters to it,
 * every k-th bit pattern so that each binade is sampled (about 4 million
 * inputs per function), and the largest error in ulps of the correctly
 * rounded float result is asserted below a bound: these bounds are the ones
 * docs/performance.md states (0.5 where the result is ±1 rounded correctly). Below FLT_MIN an ulp is the denormal spacing
 * 2^-149. Special values (±0, ±inf, NaN, overflow, underflow, negative log
 * arguments) must be exactly libm's.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"

typedef void (*FmathFn)(float **bufs, int64_t n);

enum { ROWS = 4, EXP = 0, LOG, TANH, ERF };
static double (*const ref[ROWS])(double) = {exp, log, tanh, erf};

static const char *first_error(const Diag *d)
{
    for (int i = 0; i < d->n_msgs; i++)
        if (d->msgs[i].level == DIAG_ERROR)
            return d->msgs[i].text;
    return "";
}

/* The probe's y (ROWS, n) for x (n); the JIT lives for the whole run. */
static void eval(const float *x, float *y, int64_t n)
{
    static CgBackend *b;
    static FmathFn f;
    if (!f) {
        CgOptions o;
        cg_options_init(&o);
        Diag d;
        diag_init(&d);
        b = cg_target_jit.open(&o, &d);
        cr_assert(b != NULL, "jit open: %s", first_error(&d));
        CgModule *m = cg_module_new("fmath", &o);
        cg_probe_emit(m, CG_PROBE_FMATH, "fmath");
        cr_assert(cg_target_jit.add_module(b, m, &d), "add_module: %s", first_error(&d));
        f = (FmathFn)cg_jit_lookup(b, "fmath", &d);
        cr_assert(f != NULL, "lookup: %s", first_error(&d));
        diag_fini(&d);
    }
    float *bufs[2] = {(float *)x, y};
    f(bufs, n);
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* |got - want| in ulps of the float nearest want. */
static double ulps(float got, double want)
{
    if (isnan(want) || isinf(want))
        return (isnan(want) && isnan(got)) || (double)got == want ? 0 : INFINITY;
    if (isnan(got))
        return INFINITY;
    int e;
    frexp(fabs(want), &e);
    double ulp = ldexp(1.0, (e - 24 > -149 ? e - 24 : -149));
    return fabs((double)got - want) / ulp;
}

/* Largest error of function r over about `samples` floats in [lo, hi]
 * (lo <= 0 <= hi or both of one sign), evenly spaced in bit pattern. */
static double sweep(int r, float lo, float hi, int64_t samples, float *worst_x)
{
    enum { CHUNK = 1 << 20 };
    float *x = malloc(CHUNK * sizeof *x), *y = malloc(ROWS * CHUNK * sizeof *y);
    cr_assert(x && y);
    double worst = 0;
    for (int side = 0; side < 2; side++) {       /* negatives, then positives */
        float a = side ? fmaxf(lo, 0.0f) : -fminf(hi, -0.0f);
        float z = side ? hi : -lo;
        if ((side && hi < 0) || (!side && lo >= 0) || a > z)
            continue;
        uint32_t ua = to_bits(a), uz = to_bits(z), step = (uz - ua) / (uint32_t)(samples / 2) + 1;
        for (uint64_t u = ua; u <= uz;) {
            int64_t n = 0;
            for (; n < CHUNK && u <= uz; n++, u += step)
                x[n] = side ? from_bits((uint32_t)u) : -from_bits((uint32_t)u);
            eval(x, y, n);
            for (int64_t i = 0; i < n; i++) {
                double e = ulps(y[r * n + i], ref[r](x[i]));
                if (e > worst) {
                    worst = e;
                    *worst_x = x[i];
                }
            }
        }
    }
    free(x);
    free(y);
    return worst;
}

static void check(int r, const char *name, float lo, float hi, double bound)
{
    float at = 0;
    double e = sweep(r, lo, hi, 4000000, &at);
    cr_log_info("%s on [%g, %g]: max error %.3f ulp at %.9g (bound %.2f)", name, lo, hi, e,
                at, bound);
    cr_expect(e <= bound, "%s on [%g, %g]: %.3f ulp at x = %.9g > %.2f", name, lo, hi, e, at,
              bound);
}

Test(fmath, exp_within_bound)
{
    check(EXP, "exp", -87.0f, 88.0f, 1.0);
    check(EXP, "exp (to overflow)", 88.0f, 88.7228f, 1.0);
    check(EXP, "exp (denormal results)", -103.9f, -87.0f, 1.0);
}

Test(fmath, log_within_bound)
{
    check(LOG, "log", FLT_MIN, FLT_MAX, 1.0);
    check(LOG, "log (near 1)", 0.5f, 2.0f, 1.0);
    check(LOG, "log (denormal arguments)", 0x1p-149f, FLT_MIN, 1.0);
}

Test(fmath, tanh_within_bound)
{
    check(TANH, "tanh", -10.0f, 10.0f, 1.5);
    check(TANH, "tanh (tails)", 10.0f, FLT_MAX, 0.5);
    check(TANH, "tanh (tails)", -FLT_MAX, -10.0f, 0.5);
}

Test(fmath, erf_within_bound)
{
    check(ERF, "erf", -10.0f, 10.0f, 1.0);
    check(ERF, "erf (tails)", 10.0f, FLT_MAX, 0.5);
    check(ERF, "erf (tails)", -FLT_MAX, -10.0f, 0.5);
}

/* The values where a polynomial alone would go wrong. */
Test(fmath, special_values_are_libms)
{
    static const float xs[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 89.0f, -89.0f,
                               -105.0f, -200.0f, 1e30f, -1e30f, FLT_MIN, 0x1p-149f, -1.0f,
                               FLT_MAX, -FLT_MAX, 1.0f};
    enum { N = sizeof xs / sizeof xs[0] };
    float y[ROWS * N];
    eval(xs, y, N);
    for (int r = 0; r < ROWS; r++)
        for (int i = 0; i < N; i++) {
            double want = ref[r](xs[i]);
            float got = y[r * N + i];
            bool ok = isnan(want) ? isnan(got)
                                  : (float)want == got && !signbit(got) == !signbit(want);
            if (!isinf((float)want) && (float)want != 0.0f)
                ok = ulps(got, want) <= 1.0;    /* finite values: to the bounds */
            cr_expect(ok, "function %d at %g: %.9g, libm %.9g", r, xs[i], got, want);
        }
}
