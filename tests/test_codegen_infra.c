/* test_codegen_infra.c — the code generator's plumbing, without the IR
 * lowering: the probe kernels (codegen.h) go through the builder, the
 * verifier, O3 with the host target machine, and then the JIT (called and
 * compared with C) or the AOT target (object file linked by cc, run).
 *
 * Tolerances: saxpy may be contracted into an FMA by the JIT but not in the
 * C reference (ISO C11 mode: -ffp-contract=off), so results agree to about
 * one rounding, 1e-6 relative; sgemm sums in a different order than the
 * naive loop, 1e-4 relative.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen.h"

typedef void (*SaxpyFn)(float **bufs, int64_t n, float a);
typedef void (*SgemmFn)(float **bufs, int64_t M, int64_t N, int64_t K);

/* Deterministic values in [-1, 1). */
static void fill(float *x, int64_t n, unsigned seed)
{
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
    }
}

static bool close_to(float got, float want, float rel)
{
    return fabsf(got - want) <= rel * (1.0f + fabsf(want));
}

static const char *first_error(const Diag *d)
{
    for (int i = 0; i < d->n_msgs; i++)
        if (d->msgs[i].level == DIAG_ERROR)
            return d->msgs[i].text;
    return "";
}

/* A JIT holding one probe kernel; fails the test on any error. */
static CgBackend *jit_probe(CgProbe p, const char *name, const CgOptions *o, Diag *d)
{
    CgBackend *b = cg_target_jit.open(o, d);
    cr_assert(b != NULL, "jit open: %s", first_error(d));
    CgModule *m = cg_module_new(name, o);
    cg_probe_emit(m, p, name);
    cr_assert(cg_target_jit.add_module(b, m, d), "add_module: %s", first_error(d));
    return b;
}

/* y = a*x + y in C, then through the JIT, for odd sizes. */
Test(codegen_jit, saxpy_matches_c)
{
    static const int64_t sizes[] = {1, 3, 17, 129, 1000};
    CgOptions o;
    cg_options_init(&o);
    Diag d;
    diag_init(&d);
    CgBackend *b = jit_probe(CG_PROBE_SAXPY, "saxpy", &o, &d);
    SaxpyFn f = (SaxpyFn)cg_jit_lookup(b, "saxpy", &d);
    cr_assert(f != NULL, "lookup: %s", first_error(&d));
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
        float *want = malloc((size_t)n * sizeof *want);
        fill(x, n, 1);
        fill(y, n, 2);
        for (int64_t i = 0; i < n; i++)
            want[i] = 0.75f * x[i] + y[i];
        float *bufs[2] = {x, y};
        f(bufs, n, 0.75f);
        for (int64_t i = 0; i < n; i++)
            cr_assert(close_to(y[i], want[i], 1e-6f), "n=%lld i=%lld: %g vs %g",
                      (long long)n, (long long)i, y[i], want[i]);
        free(x), free(y), free(want);
    }
    cr_assert(cg_backend_compile_ms(b) > 0.0);
    cg_target_jit.close(b);
    cr_assert(!diag_has_errors(&d));
    diag_fini(&d);
}

/* Intrinsics (exp, log, sqrt, fabs) and libm calls (tanhf, erff) bound in
 * the JIT give libm's results, in the vector loop and the scalar tail. */
Test(codegen_jit, math_functions_match_libm)
{
    typedef void (*MathFn)(float **bufs, int64_t n);
    static float (*const ref[6])(float) = {expf, logf, sqrtf, fabsf, tanhf, erff};
    enum { N = 37 };
    CgOptions o;
    cg_options_init(&o);
    Diag d;
    diag_init(&d);
    CgBackend *b = jit_probe(CG_PROBE_MATH, "math", &o, &d);
    MathFn f = (MathFn)cg_jit_lookup(b, "math", &d);
    cr_assert(f != NULL, "lookup: %s", first_error(&d));
    float x[N], y[6 * N];
    fill(x, N, 6);
    for (int i = 0; i < N; i++)
        x[i] = 0.05f + 2.0f * fabsf(x[i]);      /* (0.05, 2.05): log and sqrt defined */
    float *bufs[2] = {x, y};
    f(bufs, N);
    for (int r = 0; r < 6; r++)
        for (int i = 0; i < N; i++)
            cr_assert(close_to(y[r * N + i], ref[r](x[i]), 1e-6f), "fn %d x=%g: %g vs %g", r,
                      x[i], y[r * N + i], ref[r](x[i]));
    cg_target_jit.close(b);
    diag_fini(&d);
}

/* C (M,N) = op(A)·op(B) + 0.5*C with op per transpose flag, row-major. */
static void naive_gemm(bool ta, bool tb, int M, int N, int K, const float *A, const float *B,
                       float *C)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)(ta ? A[k * M + i] : A[i * K + k]) *
                     (double)(tb ? B[j * K + k] : B[k * N + j]);
            C[i * N + j] = (float)s + 0.5f * C[i * N + j];
        }
}

static void check_sgemm(CgProbe p, bool ta, bool tb, int M, int N, int K)
{
    CgOptions o;
    cg_options_init(&o);
    Diag d;
    diag_init(&d);
    CgBackend *b = jit_probe(p, "gemm", &o, &d);
    SgemmFn f = (SgemmFn)cg_jit_lookup(b, "gemm", &d);
    cr_assert(f != NULL, "lookup: %s", first_error(&d));
    float *A = malloc(sizeof(float) * (size_t)(M * K)), *B = malloc(sizeof(float) * (size_t)(K * N));
    float *C = malloc(sizeof(float) * (size_t)(M * N)), *want = malloc(sizeof(float) * (size_t)(M * N));
    fill(A, M * K, 3);
    fill(B, K * N, 4);
    fill(C, M * N, 5);
    memcpy(want, C, sizeof(float) * (size_t)(M * N));
    naive_gemm(ta, tb, M, N, K, A, B, want);
    float *bufs[3] = {A, B, C};
    f(bufs, M, N, K);
    for (int i = 0; i < M * N; i++)
        cr_assert(close_to(C[i], want[i], 1e-4f), "ta=%d tb=%d %dx%dx%d [%d]: %g vs %g", ta, tb,
                  M, N, K, i, C[i], want[i]);
    free(A), free(B), free(C), free(want);
    cg_target_jit.close(b);
    diag_fini(&d);
}

Test(codegen_jit, sgemm_all_transposes)
{
    static const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 9, 33}, {64, 10, 129}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        check_sgemm(CG_PROBE_SGEMM_NN, false, false, M, N, K);
        check_sgemm(CG_PROBE_SGEMM_TN, true, false, M, N, K);
        check_sgemm(CG_PROBE_SGEMM_NT, false, true, M, N, K);
        check_sgemm(CG_PROBE_SGEMM_TT, true, true, M, N, K);
    }
}

/* Runs the saxpy probe through a target with emit set; returns the text. */
static char *emitted(const CgTarget *t, CgEmit what, const char *cpu)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    CgOptions o;
    cg_options_init(&o);
    o.emit = what;
    o.emit_out = out;
    o.cpu = cpu;
    Diag d;
    diag_init(&d);
    CgBackend *b = t->open(&o, &d);
    cr_assert(b != NULL, "open: %s", first_error(&d));
    CgModule *m = cg_module_new("saxpy", &o);
    cg_probe_emit(m, CG_PROBE_SAXPY, "saxpy");
    cr_assert(t->add_module(b, m, &d), "add_module: %s", first_error(&d));
    t->close(b);
    fclose(out);
    diag_fini(&d);
    return text;
}

/* The loop is vectorized as wide as the host allows: proof that the pass
 * pipeline ran with the host target machine (a NULL one gives no vectors). */
Test(codegen_opt, saxpy_vectorized_for_host)
{
    char *ir = emitted(&cg_target_jit, CG_EMIT_LLVM, NULL);
    cr_assert(strstr(ir, "define void @saxpy(ptr noalias") != NULL, "%s", ir);
    cr_assert(strstr(ir, "contract") != NULL, "no contract flag:\n%s", ir);
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2"))
        cr_assert(strstr(ir, "<8 x float>") || strstr(ir, "<16 x float>"),
                  "no 8-wide vectors on an AVX2 host:\n%s", ir);
    else
        cr_assert(strstr(ir, "x float>") != NULL, "no vectors:\n%s", ir);
    free(ir);
    /* ASan puts a shadow check between the multiply and the add, in another
     * block, where instruction selection cannot fuse them. */
    CgOptions o;
    cg_options_init(&o);
    if (__builtin_cpu_supports("fma") && !o.sanitize) {
        char *as = emitted(&cg_target_jit, CG_EMIT_ASM, NULL);
        cr_assert(strstr(as, "vfmadd") != NULL, "contract did not give an FMA:\n%s", as);
        free(as);
    }
}

/* The AOT CPU level decides the vectors, not the host: plain x86-64 has SSE2
 * only, so 4 floats at most. */
Test(codegen_opt, aot_cpu_level_sets_vector_width)
{
    char *ir = emitted(&cg_target_aot, CG_EMIT_LLVM, "x86-64");
    cr_assert(strstr(ir, "<4 x float>") != NULL, "%s", ir);
    cr_assert(strstr(ir, "<8 x float>") == NULL, "%s", ir);
    free(ir);
    ir = emitted(&cg_target_aot, CG_EMIT_LLVM, "x86-64-v3");
    cr_assert(strstr(ir, "<8 x float>") != NULL, "%s", ir);
    free(ir);
}

Test(codegen_opt, unknown_cpu_is_a_diagnostic)
{
    CgOptions o;
    cg_options_init(&o);
    o.cpu = "pentium9";
    Diag d;
    diag_init(&d);
    cr_assert(cg_target_aot.open(&o, &d) == NULL);
    cr_assert(strstr(first_error(&d), "unknown CPU 'pentium9'") != NULL, "%s", first_error(&d));
    diag_fini(&d);
}

/* Many JITs, and many modules in one JIT, in one process. */
Test(codegen_jit, many_modules_and_jits)
{
    CgOptions o;
    cg_options_init(&o);
    Diag d;
    diag_init(&d);
    for (int round = 0; round < 6; round++) {
        CgBackend *b = cg_target_jit.open(&o, &d);
        cr_assert(b != NULL, "%s", first_error(&d));
        char name[32];
        for (int k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "saxpy%d", k);
            CgModule *m = cg_module_new(name, &o);
            cg_probe_emit(m, CG_PROBE_SAXPY, name);
            cr_assert(cg_target_jit.add_module(b, m, &d), "%s", first_error(&d));
        }
        for (int k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "saxpy%d", k);
            SaxpyFn f = (SaxpyFn)cg_jit_lookup(b, name, &d);
            cr_assert(f != NULL, "%s", first_error(&d));
            float x[5] = {1, 2, 3, 4, 5}, y[5] = {1, 1, 1, 1, 1};
            float *bufs[2] = {x, y};
            f(bufs, 5, (float)(round + k));
            cr_assert_float_eq(y[4], 1.0f + 5.0f * (float)(round + k), 1e-6f);
        }
        cr_assert(cg_jit_lookup(b, "nope", &d) == NULL);
        cr_assert(strstr(first_error(&d), "nope") != NULL, "%s", first_error(&d));
        diag_fini(&d);
        diag_init(&d);
        cg_target_jit.close(b);
    }
    diag_fini(&d);
}

Test(codegen_diag, invalid_module_is_a_diagnostic)
{
    CgOptions o;
    cg_options_init(&o);
    Diag d;
    diag_init(&d);
    CgModule *m = cg_module_new("bad", &o);
    cg_probe_emit(m, CG_PROBE_BROKEN, "bad");
    cr_assert(!cg_module_verify(m, &d));
    cr_assert(strstr(first_error(&d), "module 'bad' is invalid") != NULL, "%s", first_error(&d));
    cr_assert(strstr(first_error(&d), "terminator") != NULL, "%s", first_error(&d));
    cg_module_free(m);
    diag_fini(&d);

    /* Through both targets: refused, the module freed, the backend usable. */
    const CgTarget *targets[2] = {&cg_target_jit, &cg_target_aot};
    for (int t = 0; t < 2; t++) {
        diag_init(&d);
        CgBackend *b = targets[t]->open(&o, &d);
        cr_assert(b != NULL);
        m = cg_module_new("bad", &o);
        cg_probe_emit(m, CG_PROBE_BROKEN, "bad");
        cr_assert(!targets[t]->add_module(b, m, &d));
        cr_assert_eq(d.n_errors, 1);
        targets[t]->close(b);
        diag_fini(&d);
    }
}

/* ------------------------------------------------------------------ AOT */

static const char main_c[] =
    "#include <stdio.h>\n"
    "#include <stdint.h>\n"
    "void lnet_saxpy(float **bufs, int64_t n, float a);\n"
    "int main(void) {\n"
    "    float x[17], y[17];\n"
    "    for (int i = 0; i < 17; i++) x[i] = (float)i, y[i] = 1.0f;\n"
    "    float *bufs[2] = {x, y};\n"
    "    lnet_saxpy(bufs, 17, 2.0f);\n"
    "    for (int i = 0; i < 17; i++) printf(\"%g \", y[i]);\n"
    "    printf(\"\\n\");\n"
    "    return 0;\n"
    "}\n";

static char *run_output(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL);
    static char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    cr_assert_eq(pclose(p), 0, "%s failed: %s", cmd, buf);
    return buf;
}

Test(codegen_aot, object_linked_into_executable)
{
    char dir[] = "/tmp/lnet-cg-XXXXXX";
    cr_assert(mkdtemp(dir) != NULL);
    char main_path[64], exe[64];
    snprintf(main_path, sizeof main_path, "%s/main.c", dir);
    snprintf(exe, sizeof exe, "%s/trainer", dir);
    FILE *f = fopen(main_path, "w");
    fputs(main_c, f);
    fclose(f);

    CgOptions o;
    cg_options_init(&o);
    o.obj_dir = dir;
    __builtin_cpu_init();
    o.cpu = __builtin_cpu_supports("avx2") ? "x86-64-v3" : "x86-64";
    Diag d;
    diag_init(&d);
    CgBackend *b = cg_target_aot.open(&o, &d);
    cr_assert(b != NULL, "%s", first_error(&d));
    CgModule *m = cg_module_new("blocks", &o);
    cg_probe_emit(m, CG_PROBE_SAXPY, "lnet_saxpy");
    cr_assert(cg_target_aot.add_module(b, m, &d), "%s", first_error(&d));
    cr_assert_eq(cg_aot_n_objects(b), 1);
    cr_assert_str_eq(cg_aot_object(b, 0), strcat(strcpy((char[64]){0}, dir), "/blocks.o"));

    const char *extra[] = {main_path, NULL};
    cr_assert(cg_aot_link(b, extra, exe, &d), "%s", first_error(&d));
    cr_assert_str_eq(run_output(exe), "1 3 5 7 9 11 13 15 17 19 21 23 25 27 29 31 33 \n");

    /* A failing link reports the driver's message. */
    const char *bad[] = {"/nonexistent/lib.a", NULL};
    cr_assert(!cg_aot_link(b, bad, exe, &d));
    cr_assert(strstr(first_error(&d), "failed (exit status") != NULL, "%s", first_error(&d));
    cr_assert(strstr(first_error(&d), "/nonexistent/lib.a") != NULL, "%s", first_error(&d));
    cg_target_aot.close(b);
    diag_fini(&d);

    /* A driver that does not exist. */
    diag_init(&d);
    o.cc = "/nonexistent/cc";
    b = cg_target_aot.open(&o, &d);
    cr_assert(!cg_aot_link(b, extra, exe, &d));
    cr_assert(strstr(first_error(&d), "cannot run '/nonexistent/cc'") != NULL, "%s",
              first_error(&d));
    cg_target_aot.close(b);
    diag_fini(&d);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
