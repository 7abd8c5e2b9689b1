/* cg_fmath.c — single-precision exp, log, tanh and erf emitted inline as IR.
 *
 * Calls to libm (or to llvm.exp, which the backend expands to one) stop the
 * loop vectorizer, and the reference's double-precision math costs a
 * conversion each way besides. These emitters write each function as
 * straight-line float IR — range reduction, a polynomial, exponent bit
 * tricks, selects for the special cases — so a loop that uses them
 * vectorizes to the full width of the target. Any kernel emitter may call
 * them (the arguments and results are scalar floats; the loop vectorizer
 * widens them).
 *
 * Accuracy against double-precision libm, measured by tests/test_fmath.c
 * over millions of inputs (docs/performance.md): exp, log and erf within
 * 1 ulp, tanh within 1.5 ulp, on targets with FMA (llvm.fmuladd fuses);
 * special values (±inf, NaN, 0, negative log arguments, overflow and
 * underflow) are those of libm. Denormal inputs and results are computed,
 * not flushed.
 *
 * Algorithms: exp and log are Cephes' expf/logf (Cody-Waite reduction by
 * ln 2, degree-6 and degree-9 polynomials); tanh is Cephes' odd polynomial
 * below 0.625 and 1 - 2/(e^{2|x|} + 1) above; erf is a minimax polynomial
 * in x² below 0.9277 and 1 - exp(-|x|·q(|x|)) above (the two-piece form
 * published by N. Juffa).
 */
#include <string.h>

#include "cg_impl.h"

static LLVMValueRef intrinsic(CgModule *m, const char *name, LLVMTypeRef t)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    IR_ASSERT(id != 0);
    return LLVMGetIntrinsicDeclaration(m->mod, id, &t, 1);
}

static LLVMValueRef call1(CgModule *m, const char *name, LLVMValueRef x)
{
    return cg_call(m, intrinsic(m, name, m->t_f32), &x, 1);
}

static LLVMValueRef call2(CgModule *m, const char *name, LLVMValueRef x, LLVMValueRef y)
{
    LLVMValueRef args[2] = {x, y};
    return cg_call(m, intrinsic(m, name, m->t_f32), args, 2);
}

/* a·b + c, one FMA where the target has it */
static LLVMValueRef mad(CgModule *m, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
    LLVMValueRef args[3] = {a, b, c};
    return cg_call(m, intrinsic(m, "llvm.fmuladd", m->t_f32), args, 3);
}

static LLVMValueRef madc(CgModule *m, LLVMValueRef a, LLVMValueRef b, float c)
{
    return mad(m, a, b, cg_f32(m, c));
}

/* Horner: ((c[0]·x + c[1])·x + ...)·x + c[n-1] */
static LLVMValueRef horner(CgModule *m, LLVMValueRef x, const float *c, int n)
{
    LLVMValueRef p = cg_f32(m, c[0]);
    for (int i = 1; i < n; i++)
        p = madc(m, p, x, c[i]);
    return p;
}

static LLVMValueRef fcmp(CgModule *m, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFCmp(m->b, p, a, b, "");
}

static LLVMValueRef sel(CgModule *m, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(m->b, c, a, b, "");
}

static LLVMValueRef isnan_(CgModule *m, LLVMValueRef x) { return fcmp(m, LLVMRealUNO, x, x); }
static LLVMValueRef bits(CgModule *m, LLVMValueRef f) { return LLVMBuildBitCast(m->b, f, m->t_i32, ""); }
static LLVMValueRef flt(CgModule *m, LLVMValueRef i) { return LLVMBuildBitCast(m->b, i, m->t_f32, ""); }

/* 2^k for an i32 k in [-126, 127], built in the exponent field */
static LLVMValueRef pow2i(CgModule *m, LLVMValueRef k)
{
    LLVMValueRef e = LLVMBuildAdd(m->b, k, cg_i32(m, 127), "");
    return flt(m, LLVMBuildShl(m->b, e, cg_i32(m, 23), ""));
}

/* e^x = 2^n·e^r, n = round(x/ln 2), r = x - n·ln 2 in two parts (n·C1 is
 * exact: C1 has 9 significant bits). 2^n is applied as two factors so that
 * n may run from -150 (results in the denormals) to 128. */
LLVMValueRef cg_fexp(CgModule *m, LLVMValueRef x)
{
    static const float P[] = {1.9875691500E-4f, 1.3981999507E-3f, 8.3334519073E-3f,
                              4.1665795894E-2f, 1.6666665459E-1f, 5.0000001201E-1f};
    const float hi = 88.7228394f, lo = -104.0f;   /* e^hi < FLT_MAX; e^lo < 2^-150 */
    LLVMValueRef xc = call2(m, "llvm.minnum", call2(m, "llvm.maxnum", x, cg_f32(m, lo)),
                            cg_f32(m, hi));     /* NaN becomes lo here, x at the end */
    /* n = round(x/ln 2) by adding and subtracting 1.5·2^23 (exact for |n| < 2^22;
     * llvm.rint would be a libm call on CPUs without SSE4.1) */
    LLVMValueRef shift = cg_f32(m, 0x1.8p23f);
    LLVMValueRef n = cg_fsub(m, madc(m, xc, cg_f32(m, 1.44269504088896341f), 0x1.8p23f), shift);
    LLVMValueRef r = madc(m, n, cg_f32(m, -0.693359375f), 0.0f);
    r = mad(m, n, cg_f32(m, 2.12194440e-4f), cg_fadd(m, xc, r));
    LLVMValueRef p = mad(m, horner(m, r, P, 6), cg_fmul(m, r, r), r);
    p = cg_fadd(m, p, cg_f32(m, 1.0f));
    LLVMValueRef ni = LLVMBuildFPToSI(m->b, n, m->t_i32, "");
    LLVMValueRef h = LLVMBuildAShr(m->b, ni, cg_i32(m, 1), "");
    LLVMValueRef y = cg_fmul(m, cg_fmul(m, p, pow2i(m, h)), pow2i(m, LLVMBuildSub(m->b, ni, h, "")));
    y = sel(m, fcmp(m, LLVMRealOGT, x, cg_f32(m, hi)), cg_f32(m, __builtin_inff()), y);
    return sel(m, isnan_(m, x), x, y);
}

/* log x = e·ln 2 + log(1 + t), x = 2^e·(1 + t) with 1 + t in [√½, √2);
 * denormal x are scaled by 2^23 first. */
LLVMValueRef cg_flog(CgModule *m, LLVMValueRef x)
{
    static const float P[] = {7.0376836292E-2f, -1.1514610310E-1f, 1.1676998740E-1f,
                              -1.2420140846E-1f, 1.4249322787E-1f, -1.6668057665E-1f,
                              2.0000714765E-1f, -2.4999993993E-1f, 3.3333331174E-1f};
    LLVMValueRef sub = fcmp(m, LLVMRealOLT, x, cg_f32(m, 0x1p-126f));
    LLVMValueRef xs = sel(m, sub, cg_fmul(m, x, cg_f32(m, 0x1p23f)), x);
    LLVMValueRef u = bits(m, xs);
    /* mantissa in [0.5, 1), exponent to match */
    LLVMValueRef mm = flt(m, LLVMBuildOr(m->b, LLVMBuildAnd(m->b, u, cg_i32(m, 0x007fffff), ""),
                                          cg_i32(m, 0x3f000000), ""));
    LLVMValueRef e = LLVMBuildSub(m->b, LLVMBuildLShr(m->b, u, cg_i32(m, 23), ""),
                                  sel(m, sub, cg_i32(m, 126 + 23), cg_i32(m, 126)), "");
    LLVMValueRef low = fcmp(m, LLVMRealOLT, mm, cg_f32(m, 0.707106781186547524f));
    e = LLVMBuildSub(m->b, e, LLVMBuildZExt(m->b, low, m->t_i32, ""), "");
    LLVMValueRef ef = LLVMBuildSIToFP(m->b, e, m->t_f32, "");
    LLVMValueRef t = cg_fsub(m, sel(m, low, cg_fadd(m, mm, mm), mm), cg_f32(m, 1.0f));
    LLVMValueRef z = cg_fmul(m, t, t);
    LLVMValueRef y = cg_fmul(m, cg_fmul(m, horner(m, t, P, 9), t), z);
    y = mad(m, ef, cg_f32(m, -2.12194440e-4f), y);
    y = mad(m, z, cg_f32(m, -0.5f), y);
    LLVMValueRef r = mad(m, ef, cg_f32(m, 0.693359375f), cg_fadd(m, t, y));
    /* log 0 = -inf, log of a negative = NaN, log inf = inf, NaN stays */
    r = sel(m, fcmp(m, LLVMRealOEQ, x, cg_f32(m, 0.0f)), cg_f32(m, -__builtin_inff()), r);
    r = sel(m, fcmp(m, LLVMRealOLT, x, cg_f32(m, 0.0f)), cg_f32(m, __builtin_nanf("")), r);
    r = sel(m, fcmp(m, LLVMRealOEQ, x, cg_f32(m, __builtin_inff())), x, r);
    return sel(m, isnan_(m, x), x, r);
}

/* |x| < 0.625: x + x·z·P(z), z = x²; else sign(x)·(1 - 2/(e^{2|x|} + 1)),
 * |x| capped at 10 where tanh rounds to ±1. */
LLVMValueRef cg_ftanh(CgModule *m, LLVMValueRef x)
{
    static const float P[] = {-5.70498872745E-3f, 2.06390887954E-2f, -5.37397155531E-2f,
                              1.33314422036E-1f, -3.33332819422E-1f};
    LLVMValueRef a = call1(m, "llvm.fabs", x), z = cg_fmul(m, x, x);
    LLVMValueRef small = mad(m, cg_fmul(m, horner(m, z, P, 5), z), x, x);
    small = call2(m, "llvm.copysign", small, x);   /* tanh(-0) = -0 */
    LLVMValueRef a2 = cg_fmul(m, cg_f32(m, 2.0f), call2(m, "llvm.minnum", a, cg_f32(m, 10.0f)));
    LLVMValueRef e1 = cg_fadd(m, cg_fexp(m, a2), cg_f32(m, 1.0f));
    LLVMValueRef big = cg_fsub(m, cg_f32(m, 1.0f), cg_fdiv(m, cg_f32(m, 2.0f), e1));
    big = call2(m, "llvm.copysign", big, x);
    /* a NaN fails the compare and minnum turns it into 10: passed on explicitly */
    LLVMValueRef r = sel(m, fcmp(m, LLVMRealOLT, a, cg_f32(m, 0.625f)), small, big);
    return sel(m, isnan_(m, x), x, r);
}

/* |x| <= 0.9277: x + x·P(x²); else sign(x)·(1 - e^{q(|x|)}), q a polynomial
 * with q(t) ≈ log erfc(t); e^q underflows to 0 past t ≈ 10. */
LLVMValueRef cg_ferf(CgModule *m, LLVMValueRef x)
{
    static const float S[] = {-5.96761703e-4f, 4.99119423e-3f, -2.67681349e-2f,
                              1.12819925e-1f, -3.76125336e-1f, 1.28379166e-1f};
    LLVMValueRef t = call1(m, "llvm.fabs", x), s = cg_fmul(m, x, x);
    LLVMValueRef small = mad(m, horner(m, s, S, 6), x, x);
    LLVMValueRef q = madc(m, cg_f32(m, -1.72853470e-5f), t, 3.83197126e-4f);
    LLVMValueRef u = madc(m, cg_f32(m, -3.88396438e-3f), t, 2.42546219e-2f);
    q = mad(m, q, s, u);
    q = madc(m, q, t, -1.06777877e-1f);
    q = madc(m, q, t, -6.34846687e-1f);
    q = madc(m, q, t, -1.28717512e-1f);
    q = mad(m, q, t, cg_fneg(m, t));
    LLVMValueRef big = call2(m, "llvm.copysign", cg_fsub(m, cg_f32(m, 1.0f), cg_fexp(m, q)), x);
    LLVMValueRef r = sel(m, fcmp(m, LLVMRealOGT, t, cg_f32(m, 0.927734375f)), big, small);
    return sel(m, isnan_(m, x), x, r);
}
