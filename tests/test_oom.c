/* test_oom.c — out of memory at every acquisition of a small training run.
 *
 * tests/oom/failalloc.c numbers every malloc, calloc, realloc, aligned_alloc,
 * strdup, fopen, fdopen, open_memstream and gzopen that lnet makes while
 * armed (see failalloc.h). Each test:
 *   1. runs its scenario once armed but never failing, which counts the
 *      acquisitions A and gives the reference result;
 *   2. for N = 1..A, forks a child that runs the scenario with acquisition N
 *      failing, then checks that the call reported an error that says so
 *      ("out of memory", "Cannot allocate memory") or, where lnet can do
 *      without that memory, gave the reference's exact result; that
 *      everything acquired while armed was released; that nothing was
 *      printed; and, for training, that the checkpoint on disk is the
 *      reference's (never clobbered) and no temporary file was left. A child
 *      that crashes fails the test with the acquisition that was failed and
 *      where (test_oom+0xOFFSET: addr2line -e build/tests/test_oom 0xOFFSET);
 *      its sanitizer report, if any, is printed.
 * Step 2 also runs with every acquisition from N on failing (a lasting
 * shortage: the error path itself cannot allocate).
 * Every N is tried when A <= 3000, else the first 500 and then a stride
 * that keeps about 3000 runs (today A is 79 to 563: every N).
 *
 * Compiling has no error path for memory (the IR arena): there, ending the
 * process with IR_CHECK_ALLOC's "lnet: error: out of memory" and status 1
 * is also right. Training must return its error.
 *
 * The scenarios: compiling a model with a custom head through the frontend,
 * the local passes, autodiff, optimizer and split (and the same model with
 * an error the partition pass reports); and training its two blocks
 * (interpreter; sequential and local schedules) for one epoch on tiny IDX
 * files, resumed from a checkpoint, with a log, a report and a new checkpoint.
 */
#include <criterion/criterion.h>

#include "build_graph.h"
#include "failalloc.h"
#include "frontend.h"
#include "passes.h"
#include "train.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MAX_RUNS = 3000, EVERY_FIRST = 500, BLOCKS = 2 };

static const char model_src[] =
    "model oom\n"
    "input  image : f32[4, 4]\n"
    "label  class : class[3]\n"
    "def aux(h) { return dense(relu(dense(h, 5)), 3) }\n"
    "x = flatten(image)\n"
    "repeat 3 { x = relu(dense(x, 8)) }\n"
    "loss cross_entropy(dense(x, 3), class)\n"
    "train { data = mnist  optimizer = adam(lr = 0.01)  batch = 4  epochs = 1  seed = 3 }\n"
    "local { method = chunked  blocks = 2  head = aux }\n";

/* ------------------------------------------------------------ the sweep */

/* A scenario runs once in a child with failalloc armed; it returns NULL if
 * the outcome is right, else what is wrong (a static string). Leaks are
 * checked by the sweep after it returns. */
typedef const char *(*Scenario)(void *ctx);

/* The acquisitions tried: all when A <= MAX_RUNS, else a spread. */
static long next_n(long n, long A)
{
    if (A <= MAX_RUNS || n < EVERY_FIRST)
        return n + 1;
    return n + (A - EVERY_FIRST) / (MAX_RUNS - EVERY_FIRST) + 1;
}

/* In the child: run, check, write the verdict to stderr (the pipe); exit 0
 * if right. */
static void child(Scenario run, void *ctx, long n, FaMode mode)
{
    fa_arm(n, mode);
    const char *wrong = run(ctx);
    fa_disarm();
    char msg[512], where[160], leak[160];
    if (!fa_describe_failure(where, sizeof where))
        snprintf(where, sizeof where, "acquisition %ld never happened", n);
    if (!wrong && fa_live() > 0 && fa_describe_live(leak, sizeof leak)) {
        snprintf(msg, sizeof msg, "%ld blocks or streams leaked, the first: %s", fa_live(), leak);
        wrong = msg;
    }
    if (!wrong && !fa_failed())
        wrong = "the run made fewer acquisitions than the dry run";
    if (wrong)
        fprintf(stderr, "failing %s: %s\n", where, wrong);
    _exit(wrong ? 1 : 0);
}

/* Runs the scenario in a child with acquisition n failing; false (and what
 * the child printed, or how it died, in why) if it went wrong. With
 * may_exit, ending the process with IR_CHECK_ALLOC's message is right. */
static bool try_one(Scenario run, void *ctx, bool may_exit, long n, FaMode mode, char *why,
                    size_t cap)
{
    static const char oom_exit[] = "lnet: error: out of memory\n";
    static char *note;      /* where the child's failure happened, shared with it */
    if (!note) {
        note = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        cr_assert_neq(note, MAP_FAILED);
    }
    note[0] = '\0';
    int p[2];
    cr_assert_eq(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        fa_note_failure_in(note, 4096);
        child(run, ctx, n, mode);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t r;
    char rest[4096];    /* what does not fit is read and dropped: the child must not block */
    while ((r = read(p[0], got + 1 < cap ? why + got : rest,
                     got + 1 < cap ? cap - 1 - got : sizeof rest)) > 0)
        got += got + 1 < cap ? (size_t)r : 0;
    why[got] = '\0';
    close(p[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !got)
        return true;
    if (may_exit && WIFEXITED(status) && WEXITSTATUS(status) == 1 && strcmp(why, oom_exit) == 0)
        return true;
    size_t len = strlen(why);
    if (WIFSIGNALED(status))
        snprintf(why + len, cap - len, "failing %s: killed by signal %d (%s)\n",
                 note[0] ? note : "nothing", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (WEXITSTATUS(status) != 1 || !len)
        snprintf(why + len, cap - len, "failing %s: exit status %d\n",
                 note[0] ? note : "nothing", WEXITSTATUS(status));
    return false;
}

/* Step 1 (A acquisitions) was done by the caller; step 2 for both modes.
 * What a wrong child printed (a sanitizer report too) goes to stderr. */
static void sweep(Scenario run, void *ctx, bool may_exit, long A)
{
    static const FaMode modes[] = {FA_ONCE, FA_FROM};
    static const char *const names[] = {"once", "from then on"};
    int bad = 0;
    for (int m = 0; m < 2; m++)
        for (long n = 1; n <= A; n = next_n(n, A)) {
            static char why[1 << 16];
            if (try_one(run, ctx, may_exit, n, modes[m], why, sizeof why))
                continue;
            if (++bad <= 10)
                fprintf(stderr, "[%s] %s", names[m], why);
        }
    cr_expect_eq(bad, 0, "%d of the runs with a failing acquisition went wrong (A = %ld)", bad,
                 A);
}

/* ---------------------------------------------------------- compiling */

static IrNode *build_head(void *fe, IrGraph *g, int input, int block, Diag *d)
{
    return fe_model_head(fe, g, input, block, d);
}

/* Frontend, passes and split; fills *m, *g and bs (caller frees). */
static bool compile(const char *src, Diag *d, FeModel **m, IrGraph **g, PassBlocks *bs)
{
    memset(bs, 0, sizeof *bs);
    *m = fe_model_new("oom.lnet", src, strlen(src), d, g);
    if (!*m)
        return false;
    PassCtx ctx;
    pass_ctx_init(&ctx, d);
    ctx.build_head = build_head;
    ctx.head_ctx = *m;
    return pass_run_pipeline(*g, PASS_LOCAL_PIPELINE ",autodiff,optimizer", &ctx) &&
           pass_split(*g, bs, d);
}

/* Every block graph as text (caller frees). */
static char *blocks_text(const PassBlocks *bs)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    cr_assert(f);
    for (int k = 0; k < bs->n; k++)
        ir_graph_print(bs->b[k].g, f);
    fclose(f);
    return s;
}

typedef struct {
    const char *src;
    char *ref;      /* the dry run's result: the block graphs, or the diagnostics */
} Compile;

/* The block graphs, or the diagnostics as the user sees them, must be the
 * dry run's, unless compiling failed saying memory ran out. */
static const char *compile_scenario(void *ctx)
{
    Compile *c = ctx;
    Diag d;
    diag_init(&d);
    FeModel *m;
    IrGraph *g;
    PassBlocks bs;
    bool ok = compile(c->src, &d, &m, &g, &bs);
    fa_disarm();
    char *text = ok ? blocks_text(&bs) : tb_diag_text(&d);
    const char *wrong = NULL;
    if (!ok && !diag_has_errors(&d))
        wrong = "compiling failed without an error";
    else if (!c->ref)
        c->ref = text, text = NULL;     /* the dry run */
    else if (strcmp(text, c->ref) != 0 && !(!ok && strstr(text, "memory")))
        wrong = ok ? "compiling succeeded with other block graphs than the dry run"
                   : "compiling failed with another error than the dry run's";
    free(text);
    pass_blocks_fini(&bs);
    ir_graph_free(g);
    fe_model_free(m);
    diag_fini(&d);
    return wrong;
}

static void compile_case(const char *src)
{
    Compile c = {src, NULL};
    fa_arm(0, FA_ONCE);
    cr_assert_null(compile_scenario(&c));
    long A = fa_disarm();
    cr_assert_eq(fa_live(), 0, "the dry run leaked");
    cr_log_info("compile: %ld acquisitions", A);
    sweep(compile_scenario, &c, true, A);
    free(c.ref);
}

Test(oom, compile) { compile_case(model_src); }

/* A model that fails in the partition pass, after the whole frontend: the
 * user sees its error, or the out-of-memory one. */
Test(oom, compile_error)
{
    char src[sizeof model_src + 8];
    snprintf(src, sizeof src, "%s", model_src);
    char *blocks = strstr(src, "blocks = 2");
    cr_assert(blocks);
    blocks[9] = '9';
    compile_case(src);
}

/* ----------------------------------------------------------- training */

typedef struct {
    char dir[64];               /* mkdtemp: the data and every file written */
    IrGraph *g;
    PassBlocks bs;
    RtBlockSpec specs[BLOCKS];
    RtLink links[16];
    RtTrainOpts o;
    RtTrainResult ref;          /* the dry run's */
    char *ckpt;                 /* the checkpoint the dry run wrote */
    long ckpt_len;
    int files;                  /* entries in dir after the dry run */
} Train;

static char *path_in(const Train *t, const char *name)
{
    static char buf[4][128];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", t->dir, name);
    return p;
}

/* An IDX file: magic 0x0000080<nd>, nd big-endian sizes, bytes. */
static void write_idx(const Train *t, const char *name, int nd, const uint32_t *dims,
                      const uint8_t *data, size_t n)
{
    FILE *f = fopen(path_in(t, name), "wb");
    cr_assert(f);
    uint8_t h[4] = {0, 0, 8, (uint8_t)nd};
    fwrite(h, 1, 4, f);
    for (int i = 0; i < nd; i++) {
        uint8_t b[4] = {dims[i] >> 24, dims[i] >> 16 & 255, dims[i] >> 8 & 255, dims[i] & 255};
        fwrite(b, 1, 4, f);
    }
    fwrite(data, 1, n, f);
    cr_assert_eq(fclose(f), 0);
}

/* 16 training and 8 test images of 4x4 pixels, labels 0..2. */
static void write_data(const Train *t)
{
    uint8_t px[16 * 16], lab[16];
    uint32_t x = 7;
    for (int i = 0; i < 16 * 16; i++) {
        x = x * 1664525u + 1013904223u;
        px[i] = (uint8_t)(x >> 24);
    }
    for (int i = 0; i < 16; i++)
        lab[i] = (uint8_t)(px[i * 16] % 3);
    write_idx(t, "train-images-idx3-ubyte", 3, (uint32_t[]){16, 4, 4}, px, sizeof px);
    write_idx(t, "train-labels-idx1-ubyte", 1, (uint32_t[]){16}, lab, 16);
    write_idx(t, "t10k-images-idx3-ubyte", 3, (uint32_t[]){8, 4, 4}, px, 8 * 16);
    write_idx(t, "t10k-labels-idx1-ubyte", 1, (uint32_t[]){8}, lab, 8);
}

/* The split blocks as the runtime's stage table (as tools/stages.c does). */
static void make_specs(Train *t)
{
    int used = 0;
    cr_assert_eq(t->bs.n, BLOCKS);
    for (int k = 0; k < BLOCKS; k++) {
        const PassBlock *b = &t->bs.b[k];
        RtBlockSpec *s = &t->specs[k];
        *s = (RtBlockSpec){b->g, -1, -1, 0, t->links + used, 0};
        for (int i = 0; i < b->n_inputs; i++) {
            const PassBlockInput *in = &b->inputs[i];
            if (in->kind != PASS_IO_DATA) {
                cr_assert_lt(used, 16);
                t->links[used++] = (RtLink){in->node, in->src_block, in->src_node,
                                   in->kind == PASS_IO_PARAM ? RT_LINK_PARAM : RT_LINK_VALUE};
                s->n_links++;
            } else if (b->g->nodes[in->node]->op == IR_OP_LABEL) {
                s->in_y = in->node;
            } else {
                s->in_x = in->node;
            }
        }
    }
}

static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    rewind(f);
    char *b = malloc((size_t)*len + 1);
    cr_assert_eq(fread(b, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return b;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static const char *train_scenario(void *ctx)
{
    Train *t = ctx;
    RtTrainResult r;
    char err[512] = "";
    bool ok = rt_train_blocks(t->g, t->specs, BLOCKS, &t->o, &r, err, sizeof err);
    fa_disarm();
    if (!ok && !strstr(err, "memory")) {
        static char msg[700];
        snprintf(msg, sizeof msg, "training failed with '%s', which does not say memory ran out",
                 err);
        return msg;
    }
    if (ok && (r.steps != t->ref.steps || r.final.loss != t->ref.final.loss ||
               r.last_loss != t->ref.last_loss))
        return "training succeeded with other numbers than the dry run";
    long len;
    char *ck = slurp(t->o.save_path, &len);
    bool same = len == t->ckpt_len && memcmp(ck, t->ckpt, (size_t)len) == 0;
    free(ck);
    if (!same)
        return "the checkpoint on disk is not the dry run's";
    if (count_files(t->dir) != t->files)
        return "a file was left behind";
    return NULL;
}

static void train_setup(Train *t)
{
    memset(t, 0, sizeof *t);
    strcpy(t->dir, access("/dev/shm", W_OK) == 0 ? "/dev/shm/lnet_oom_XXXXXX" : "/tmp/lnet_oom_XXXXXX");
    cr_assert(mkdtemp(t->dir));
    write_data(t);
    Diag d;
    diag_init(&d);
    FeModel *m;
    cr_assert(compile(model_src, &d, &m, &t->g, &t->bs), "the model does not compile");
    fe_model_free(m);
    diag_fini(&d);
    make_specs(t);
    /* one epoch to resume from */
    t->o.quiet = true;
    t->o.data_dir = t->dir;
    t->o.save_path = path_in(t, "start.ckpt");
    char err[512];
    RtTrainResult r;
    cr_assert(rt_train_blocks(t->g, t->specs, BLOCKS, &t->o, &r, err, sizeof err), "%s", err);
    /* the scenario: the second epoch, with every output */
    t->g->train.epochs = 2;
    t->o.resume_path = path_in(t, "start.ckpt");
    t->o.save_path = strdup(path_in(t, "run.ckpt"));
    t->o.log_path = strdup(path_in(t, "log.csv"));
    t->o.report_path = strdup(path_in(t, "report.json"));
}

static void train_teardown(Train *t)
{
    const char *const names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                                 "start.ckpt", "run.ckpt", "log.csv", "report.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(path_in(t, names[i]));
    rmdir(t->dir);
    free((char *)t->o.save_path);
    free((char *)t->o.log_path);
    free((char *)t->o.report_path);
    free(t->ckpt);
    pass_blocks_fini(&t->bs);
    ir_graph_free(t->g);
}

/* The sequential schedule, or the local one (a thread per block). */
static void train_case(bool local)
{
    Train t;
    train_setup(&t);
    t.o.schedule = local ? RT_SCHED_LOCAL : RT_SCHED_SEQUENTIAL;
    char err[512];
    fa_arm(0, FA_ONCE);
    bool ok = rt_train_blocks(t.g, t.specs, BLOCKS, &t.o, &t.ref, err, sizeof err);
    long A = fa_disarm();
    cr_assert(ok, "%s", err);
    cr_assert_eq(t.ref.steps, 8);
    cr_assert_eq(fa_live(), 0, "the dry run leaked");
    t.ckpt = slurp(t.o.save_path, &t.ckpt_len);
    t.files = count_files(t.dir);
    cr_log_info("train (%s schedule): %ld acquisitions", local ? "local" : "sequential", A);
    sweep(train_scenario, &t, false, A);
    train_teardown(&t);
}

Test(oom, train) { train_case(false); }
Test(oom, train_local) { train_case(true); }
