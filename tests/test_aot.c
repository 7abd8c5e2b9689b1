/* test_aot.c — standalone trainers from `lnet build`, end to end: a tiny MLP
 * is built (default CPU level x86-64-v3), trained for 8 steps on a
 * Fashion-MNIST subset, and compared with `lnet train --exec jit` on the same
 * flags — backprop (one block), chunked K = 2 (two linked blocks on the local
 * schedule) and the pipeline baseline (two stages, built for it). The trainer
 * must not link LLVM, its checkpoint must load in `lnet eval`, and flags fixed
 * at build time must be refused.
 *
 * Tolerance: the JIT compiles for the host CPU, the trainer for x86-64-v3.
 * Both contract a*b+c into FMAs, but on a wider host (AVX-512) the vectorized
 * reductions may add in another order, so per-step training losses and final
 * test losses are compared to 1e-3 relative; on an AVX2 host the checkpoints
 * must be byte-identical. A trainer built with --cpu native runs the JIT's
 * code, so its checkpoints must be byte-identical on any host.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const tiny_mlp =
    "model tiny\n"
    "input image : f32[28, 28]\n"
    "label class : class[10]\n"
    "x = flatten(image)\n"
    "repeat 2 { x = relu(dense(x, 32)) }\n"
    "loss cross_entropy(dense(x, 10), class)\n"
    "train { data = fashion_mnist optimizer = adam(lr = 3e-3) batch = 32 seed = 3 }\n"
    "local { method = backprop }\n";

#define FLAGS "--train-limit 256 --test-limit 64 --max-steps 8 --quiet"

/* A fresh folder per test with the model in it. */
static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/lnet_test_aot_XXXXXX");
    cr_assert(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/tiny.lnet", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(tiny_mlp, f);
    fclose(f);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Runs a shell command in the test folder; returns its exit status. */
static int sh(const char *fmt, ...)
{
    char body[1024], cmd[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd %s && %s", dir, body);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open %s", path);
    static char buf[4][1 << 16];
    static int k;
    char *b = buf[k++ % 4];
    size_t n = fread(b, 1, sizeof buf[0] - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

/* The number after the first `key` of every line of text, in order (at
 * most cap). */
static int numbers_after(const char *text, const char *key, double *out, int cap)
{
    int n = 0;
    for (const char *line = text; *line && n < cap;) {
        const char *end = strchr(line, '\n'), *p = strstr(line, key);
        if (!end)
            end = line + strlen(line);
        if (p && p < end)
            out[n++] = strtod(p + strlen(key), NULL);
        line = *end ? end + 1 : end;
    }
    return n;
}

static void expect_close(const char *what, const char *key, const char *aot, const char *jit)
{
    double a[64], j[64];
    int na = numbers_after(aot, key, a, 64), nj = numbers_after(jit, key, j, 64);
    cr_assert(na > 0 && na == nj, "%s: %d values in the trainer's output, %d in lnet train's",
              what, na, nj);
    for (int i = 0; i < na; i++)
        cr_expect(fabs(a[i] - j[i]) <= 1e-3 * fmax(1.0, fabs(j[i])),
                  "%s %d: trainer %.6f, lnet train --exec jit %.6f", what, i, a[i], j[i]);
}

/* The trainer links no LLVM. lnet links LLVM statically, so ldd would not
 * show it: look for its symbols (the C API's LLVM*, C++'s llvm::) in the
 * symbol table, which must hold `main` (else nm saw a stripped file). */
static void expect_no_llvm(const char *binary)
{
    cr_assert_eq(sh("nm %s | grep -q ' T main$'", binary), 0, "nm finds no main in %s", binary);
    cr_expect_eq(sh("nm %s | grep -Eq ' (LLVM[A-Z]|_ZN4llvm)'", binary), 1, "%s links LLVM",
                 binary);
}

/* Builds the trainer (build_flags, then cpu_flags), runs it with run_flags
 * and `lnet train --exec jit` with build_flags and run_flags, each writing a
 * log, a report and a checkpoint (aot.* and jit.*). */
static void build_and_train(const char *build_flags, const char *cpu_flags,
                            const char *run_flags)
{
    cr_assert_eq(sh("%s build tiny.lnet -o trainer --quiet %s %s", LNET_BINARY, build_flags,
                    cpu_flags), 0);
    expect_no_llvm("./trainer");
    cr_assert_eq(sh("./trainer " FLAGS " %s --log aot.jsonl --report aot.json --save aot.ckpt",
                    run_flags), 0);
    cr_assert_eq(sh("%s train tiny.lnet --exec jit %s " FLAGS " %s --log jit.jsonl --report "
                    "jit.json --save jit.ckpt", LNET_BINARY, build_flags, run_flags), 0);
}

/* True when the host has AVX-512, where the JIT's code may sum in another
 * order than the default x86-64-v3 trainer's. */
static bool host_wider_than_avx2(void)
{
    return system("grep -qw avx512f /proc/cpuinfo") == 0;
}

/* Builds the trainer at the default CPU level, runs it and `lnet train --exec
 * jit` with the same flags, and compares their logs and reports (and their
 * checkpoints byte for byte on an AVX2 host, as docs/architecture.md says). */
static void build_and_compare(const char *build_flags, const char *eval_flags)
{
    build_and_train(build_flags, "", "");
    const char *ra = slurp("aot.json"), *rj = slurp("jit.json");
    cr_expect(strstr(ra, "\"exec\":\"aot\""), "report: %s", ra);
    cr_expect(strstr(ra, "\"steps\":8"), "report: %s", ra);
    /* each log line's first loss is the last block's (the task loss): an
     * auxiliary head's loss on a line is whatever its block, running ahead on
     * the local schedule, last posted, which varies from run to run */
    expect_close("train loss", "\"loss\":", slurp("aot.jsonl"), slurp("jit.jsonl"));
    expect_close("test loss", "\"test_loss\":", ra, rj);
    if (strstr(rj, "\"head1\""))
        expect_close("aux test loss", "\"name\":\"head1\",\"final\":{\"test_loss\":", ra,
                     rj);
    if (!host_wider_than_avx2())
        cr_expect_eq(sh("cmp aot.ckpt jit.ckpt"), 0, "%s: checkpoints differ", build_flags);
    cr_assert_eq(sh("%s eval tiny.lnet %s --load aot.ckpt --test-limit 64 > eval.txt",
                    LNET_BINARY, eval_flags), 0);
    const char *ev = slurp("eval.txt");
    cr_expect(strstr(ev, "task "), "%s", ev);
    if (strstr(rj, "\"head1\""))     /* lnet eval reports every head */
        cr_expect(strstr(ev, "head1 "), "%s", ev);
}

TestSuite(aot, .init = setup, .fini = teardown, .timeout = 120);

Test(aot, backprop_trainer_matches_jit)
{
    build_and_compare("", "");
}

Test(aot, chunked_two_blocks_trainer_matches_jit)
{
    build_and_compare("--method chunked --blocks 2", "--method chunked --blocks 2");
    cr_expect(strstr(slurp("aot.json"), "\"blocks\":2"));
}

/* Built for the host (--cpu native), a trainer runs the code the JIT runs:
 * its checkpoint equals lnet train --exec jit's byte for byte on any host, for
 * one block, two linked blocks on the local schedule and the pipeline, and on
 * the schedules chosen at run time (sequential, data-parallel). */
static void native_case(const char *build_flags, const char *run_flags)
{
    build_and_train(build_flags, "--cpu native", run_flags);
    cr_expect_eq(sh("cmp aot.ckpt jit.ckpt"), 0, "'%s' '%s': checkpoints differ", build_flags,
                 run_flags);
}

Test(aot, native_backprop_checkpoint_equals_jit) { native_case("", ""); }

Test(aot, native_chunked_checkpoint_equals_jit)
{
    native_case("--method chunked --blocks 2", "");
}

Test(aot, native_chunked_sequential_checkpoint_equals_jit)
{
    native_case("--method chunked --blocks 2", "--schedule sequential");
}

Test(aot, native_data_parallel_checkpoint_equals_jit)
{
    native_case("", "--schedule data-parallel --threads 2");
}

Test(aot, native_pipeline_checkpoint_equals_jit)
{
    native_case("--schedule pipeline --blocks 2", "");
}

/* The pipeline baseline's stages are other graphs: built with --schedule. */
Test(aot, pipeline_trainer_matches_jit)
{
    build_and_compare("--schedule pipeline --blocks 2", "");
    cr_expect(strstr(slurp("aot.json"), "pipeline"));
    cr_expect_eq(sh("./trainer --schedule local 2> err.txt"), 1);
    cr_expect(strstr(slurp("err.txt"), "rebuild with 'lnet build without --schedule'"));
}

Test(aot, fixed_flags_help_and_errors)
{
    cr_assert_eq(sh("%s build tiny.lnet -o trainer --quiet --method chunked --blocks 2",
                    LNET_BINARY), 0);
    cr_assert_eq(sh("./trainer --help > help.txt"), 0);
    const char *help = slurp("help.txt");
    cr_expect(strstr(help, "--epochs N"));
    cr_expect(strstr(help, "--method M                 fixed at build time: chunked"), "%s",
              help);
    cr_expect(!strstr(help, "--exec"));
    /* the same value is accepted; another is refused with the rebuild hint */
    cr_expect_eq(sh("./trainer --blocks 3 2> err.txt"), 1);
    cr_expect(strstr(slurp("err.txt"), "--blocks is fixed at build time to '2' (got '3')"));
    cr_expect_eq(sh("./trainer --optimizer sgd 2> err.txt"), 1);
    cr_expect_eq(sh("./trainer --schedule pipeline 2> err.txt"), 1);
    cr_expect(strstr(slurp("err.txt"), "not built for --schedule pipeline"));
    cr_expect_eq(sh("./trainer tiny.lnet 2> err.txt"), 1);
    cr_expect(strstr(slurp("err.txt"), "unexpected argument 'tiny.lnet'"));
    cr_expect_eq(sh("./trainer --bogus 2> err.txt"), 1);
    cr_expect(strstr(slurp("err.txt"), "unknown option '--bogus'"));
    cr_expect_eq(sh("./trainer --method chunked --blocks 2 " FLAGS " --max-steps 1"), 0);
    /* lnet build's own errors */
    cr_expect_eq(sh("%s build tiny.lnet 2> err.txt", LNET_BINARY), 1);
    cr_expect(strstr(slurp("err.txt"), "-o TRAINER is required"));
    cr_expect_eq(sh("%s build tiny.lnet -o t2 --cpu pentium9 2> err.txt", LNET_BINARY), 1);
}

/* The portable CPU level still vectorizes: 8-float AVX2 registers in the
 * kept object of the single block (and no AVX-512). */
Test(aot, x86_64_v3_objects_are_vectorized)
{
    cr_assert_eq(sh("%s build tiny.lnet -o trainer --keep-temps > out.txt", LNET_BINARY), 0);
    const char *out = slurp("out.txt"), *kept = strstr(out, "objects and ");
    cr_assert(kept, "%s", out);
    char tmp[128];
    cr_assert_eq(sscanf(kept, "objects and %127[^ ]", tmp), 1);
    char *slash = strrchr(tmp, '/');
    cr_assert(slash);
    *slash = '\0';
    cr_expect_eq(sh("objdump -d %s/lnet_b0.o | grep -q 'ps .*%%ymm'", tmp), 0);
    cr_expect_eq(sh("objdump -d %s/lnet_b0.o | grep -q zmm", tmp), 1);
    cr_assert_eq(sh("rm -r %s", tmp), 0);
}
