/* cmd_sweep.c — `lnet sweep SPEC`: runs `lnet train` over a grid of
 * configurations and collects one summary (docs/sweeps.md).
 *
 * 1. The spec (sweep_spec.c): the model, the grid's axes (method, batch,
 *    lr, seed and every key with several values; method slowest) and the
 *    keys passed to every run; each method's FLOPs per example, of a step
 *    and of its slowest block, from the model compiled once per method.
 * 2. Configuration i is the axes' values as the digits of i.
 * 3. Each configuration is a run directory DIR/NAME (NAME from the axes'
 *    values) holding args.txt (the flags it ran with), run.txt (its output),
 *    log.csv and report.json. `lnet train` writes the report as
 *    report.json.part; only a run that exits 0 has it renamed, so report.json
 *    exists only for finished runs, and a run is skipped when its
 *    report.json is complete and args.txt still holds the same flags.
 * 4. Runs start as children of this process (/proc/self/exe train ...),
 *    --jobs at a time, each in its own process group and killed with the
 *    sweep (PR_SET_PDEATHSIG). A stop signal (Ctrl-C) is passed on once to
 *    the runs in flight and no more start; a second one ends everything.
 * 5. After every finished run, DIR/summary.csv is rewritten (atomically):
 *    one row per configuration, its axes, then its results.
 */
#include "sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const CliOpt sweep_opts[] = {
    {"output", "DIR", "where the runs and summary.csv go (also -o DIR; default: SPEC without "
                      "its extension, plus .runs)"},
    {"jobs", "N", "run N configurations at a time, each with --threads cores/N (default 1)"},
    {"dry-run", NULL, "list the runs and their commands; run nothing"},
    {NULL, NULL, NULL}};

static const char sweep_notes[] =
    "SPEC holds 'key = value[, value ...]' lines ('#' starts a comment): 'model =\n"
    "FILE', 'method = backprop, greedy, chunked:K, overlap:W', and any lnet train\n"
    "option. method, batch, lr, seed and every key with several values form the\n"
    "grid; the other keys are passed to every run. A run whose report.json is\n"
    "complete is skipped, so a stopped sweep continues where it was. See\n"
    "docs/sweeps.md.\n";

static const CliCmd sweep_cmd = {
    "sweep", "SPEC [options]",
    "Run lnet train on every configuration of a grid: one directory per run\n"
    "(report.json, log.csv, run.txt) and DIR/summary.csv.",
    sweep_opts, sweep_notes};

enum { RD_CAP = 4096 + 512 };     /* a run directory: DIR/NAME */
enum { MAX_ARGS = 128 };          /* of one lnet train */

/* One configuration: the value index of each axis. */
typedef enum { RUN_TODO, RUN_DONE, RUN_FAILED, RUN_STOPPED } RunState;

/* What a finished run's report says (report.json, runtime/report.c). */
typedef struct Result {
    double steps, batch, acc, loss, wall, rate;
    bool reached;
    double reached_step, reached_s;
} Result;

/* One configuration: the value index of each axis, and how it went. */
typedef struct Run {
    int v[SWEEP_MAX_KEYS];
    char name[256];
    RunState state;
    Result res;                 /* RUN_DONE */
    pid_t pid;                  /* in flight: > 0 */
} Run;

/* An argument vector with its own storage. */
typedef struct Argv {
    char *a[MAX_ARGS + 1];
    int n;
    int own;                    /* a[1 .. own): the run's own flags (args.txt) */
    char buf[16384];
    size_t used;
} Argv;

static void argv_push(Argv *v, const char *s)
{
    size_t len = strlen(s) + 1;
    IR_ASSERT(v->n < MAX_ARGS && v->used + len <= sizeof v->buf);
    v->a[v->n++] = memcpy(v->buf + v->used, s, len);
    v->a[v->n] = NULL;
    v->used += len;
}

/* ------------------------------------------------------------ the runs */

/* Appends s to a run name: ':' dropped ("chunked:2" names as "chunked2"),
 * any byte but letters, digits, '.', '+' and '-' made '_'. */
static void name_append(char *name, size_t cap, const char *s)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-";
    size_t len = strlen(name);
    for (; *s && len + 1 < cap; s++)
        if (*s != ':')
            name[len++] = strchr(ok, *s) ? *s : '_';
    name[len] = '\0';
}

/* Configuration i: the axes as digits of i, the first axis the slowest;
 * its name joins the axes' values ("chunked2-batch128-lr0.03-seed1"). */
static void run_config(const Sweep *s, int i, Run *r)
{
    for (int a = s->n_axes - 1; a >= 0; a--) {
        int n = s->k[s->axes[a]].n;
        r->v[a] = i % n;
        i /= n;
    }
    r->name[0] = '\0';
    for (int a = 0; a < s->n_axes; a++) {
        const SweepKey *k = &s->k[s->axes[a]];
        if (a)
            name_append(r->name, sizeof r->name, "-");
        if (k != s->method)
            name_append(r->name, sizeof r->name, k->key);
        name_append(r->name, sizeof r->name, k->v[r->v[a]]);
    }
    if (!r->name[0])
        name_append(r->name, sizeof r->name, "run");
}

/* The progress label: "chunked:2 batch=128 lr=0.03 seed=1". */
static void run_label(const Sweep *s, const Run *r, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int a = 0; a < s->n_axes && len < cap; a++) {
        const SweepKey *k = &s->k[s->axes[a]];
        len += (size_t)snprintf(buf + len, cap - len, "%s%s%s%s", a ? " " : "",
                                k == s->method ? "" : k->key, k == s->method ? "" : "=",
                                k->v[r->v[a]]);
    }
}

/* The `lnet train` arguments of run r, writing into run directory rd. */
static void run_argv(const Sweep *s, const Run *r, const char *rd, Argv *v)
{
    char path[RD_CAP + 64];
    v->n = 0;
    v->used = 0;
    argv_push(v, "lnet");
    argv_push(v, "train");
    argv_push(v, s->model->v[0]);
    for (int a = 0; a < s->n_axes; a++) {
        const SweepKey *k = &s->k[s->axes[a]];
        const char *m[3];
        if (k == s->method) {
            sweep_method_flags(k->v[r->v[a]], m);
            argv_push(v, "--method");
            argv_push(v, m[0]);
            if (m[1]) {
                snprintf(path, sizeof path, "--%s", m[1]);
                argv_push(v, path);
                argv_push(v, m[2]);
            }
            continue;
        }
        snprintf(path, sizeof path, "--%s", k->key);
        argv_push(v, path);
        argv_push(v, k->v[r->v[a]]);
    }
    const char *batch = NULL;
    for (int a = 0; a < s->n_axes; a++)
        if (strcmp(s->k[s->axes[a]].key, "batch") == 0)
            batch = s->k[s->axes[a]].v[r->v[a]];
    if (!batch && sweep_key(s, "batch"))
        batch = sweep_key(s, "batch")->v[0];
    for (int i = 0; i < s->n_keys; i++) {
        const SweepKey *k = &s->k[i];
        if (k->axis || k == s->model)
            continue;
        if (strcmp(k->key, "eval-examples") == 0) {
            /* the same number of examples between evaluations at every batch size */
            long every = batch ? atol(k->v[0]) / atol(batch) : 0;
            snprintf(path, sizeof path, "%ld", every > 0 ? every : 1);
            argv_push(v, "--eval-every");
            argv_push(v, path);
            continue;
        }
        snprintf(path, sizeof path, "--%s", k->key);
        argv_push(v, path);
        if (k->n)
            argv_push(v, k->v[0]);
    }
    /* what follows is the sweep's: another --jobs or DIR reruns nothing */
    v->own = v->n;
    if (s->threads > 0 && !sweep_key(s, "threads")) {
        snprintf(path, sizeof path, "%d", s->threads);
        argv_push(v, "--threads");
        argv_push(v, path);
    }
    argv_push(v, "--report");
    snprintf(path, sizeof path, "%s/report.json.part", rd);
    argv_push(v, path);
    argv_push(v, "--log");
    snprintf(path, sizeof path, "%s/log.csv", rd);
    argv_push(v, path);
}

/* The run's own arguments, one per line (args.txt). */
static void argv_text(const Argv *v, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 1; i < v->own && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s\n", v->a[i]);
}

/* Run r's folder (rd, RD_CAP bytes) and `lnet train` command: the arguments,
 * and their text as args.txt holds it. The caller frees the Argv. */
static Argv *run_command(const Sweep *s, const Run *r, char *rd, char *args, size_t cap)
{
    Argv *v = malloc(sizeof *v);
    IR_CHECK_ALLOC(v);
    snprintf(rd, RD_CAP, "%s/%s", s->dir, r->name);
    run_argv(s, r, rd, v);
    argv_text(v, args, cap);
    return v;
}

static bool write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fputs(text, f);
    bool ok = !ferror(f);
    return fclose(f) == 0 && ok;
}

/* The number after the first "key": in text (true/false as 1/0). */
static bool json_number(const char *text, const char *key, double *out)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    if (!p)
        return false;
    p += strlen(pat);
    if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0) {
        *out = *p == 't';
        return true;
    }
    char *end;
    *out = strtod(p, &end);
    return end != p;
}

/* A complete report: every field read, and the text ends where the report's
 * last object does. */
static bool read_result(const char *rd, Result *r)
{
    char path[RD_CAP + 64];
    snprintf(path, sizeof path, "%s/report.json", rd);
    char *t = sweep_read_text(path);
    if (!t)
        return false;
    size_t len = strlen(t);
    double reached = 0;
    bool ok = len > 3 && strcmp(t + len - 3, "]}\n") == 0 &&
              json_number(t, "steps", &r->steps) && json_number(t, "batch", &r->batch) &&
              json_number(t, "wall_s", &r->wall) && json_number(t, "samples_per_s", &r->rate) &&
              json_number(t, "test_loss", &r->loss) &&
              json_number(t, "test_accuracy", &r->acc) &&
              json_number(t, "reached", &reached) &&
              json_number(t, "reached_step", &r->reached_step) &&
              json_number(t, "reached_train_s", &r->reached_s);
    r->reached = reached != 0;
    free(t);
    return ok;
}

/* Done: a complete report, from a run of these arguments. */
static bool run_done(const char *rd, const char *args, Result *res)
{
    char path[RD_CAP + 64];
    snprintf(path, sizeof path, "%s/args.txt", rd);
    char *had = sweep_read_text(path);
    bool same = had && strcmp(had, args) == 0;
    free(had);
    return same && read_result(rd, res);
}

/* -------------------------------------------------------- summary.csv */

/* The axis that key k is, or -1. */
static int axis_of(const Sweep *s, const SweepKey *k)
{
    for (int a = 0; a < s->n_axes; a++)
        if (&s->k[s->axes[a]] == k)
            return a;
    return -1;
}

static void summary_head(const Sweep *s, FILE *f)
{
    fputs("name,method,batch", f);
    for (int a = 0; a < s->n_axes; a++) {
        const SweepKey *k = &s->k[s->axes[a]];
        if (k != s->method && strcmp(k->key, "batch") != 0)
            fprintf(f, ",%s", k->key);
    }
    fputs(",status,steps,test_accuracy,test_loss", f);
    if (s->target)
        fputs(",reached,steps_to_target,time_to_target_s", f);
    fputs(",wall_s,examples_per_s,flops_per_example,max_block_flops\n", f);
}

static void summary_row(const Sweep *s, const Run *r, FILE *f)
{
    static const char *const states[] = {"todo", "done", "failed", "stopped"};
    const Result *x = &r->res;
    bool done = r->state == RUN_DONE;
    int m = s->method ? r->v[0] : 0;
    const SweepKey *batch = sweep_key(s, "batch");
    fprintf(f, "%s,%s,", r->name, s->method ? s->method->v[m] : "model");
    int ba = batch ? axis_of(s, batch) : -1;
    if (ba >= 0)
        fputs(batch->v[r->v[ba]], f);
    else if (done)
        fprintf(f, "%.0f", x->batch);
    for (int a = 0; a < s->n_axes; a++) {
        const SweepKey *k = &s->k[s->axes[a]];
        if (k != s->method && k != batch)
            fprintf(f, ",%s", k->v[r->v[a]]);
    }
    fprintf(f, ",%s", states[r->state]);
    if (done)
        fprintf(f, ",%.0f,%.6g,%.6g", x->steps, x->acc, x->loss);
    else
        fputs(",,,", f);
    if (s->target && done && x->reached)
        fprintf(f, ",1,%.0f,%.3f", x->reached_step, x->reached_s);
    else if (s->target)
        fputs(done ? ",0,," : ",,,", f);
    if (done)
        fprintf(f, ",%.3f,%.1f", x->wall, x->rate);
    else
        fputs(",,", f);
    fprintf(f, ",%.10g,%.10g\n", s->flops[m], s->max_flops[m]);
}

/* DIR/summary.csv, replaced atomically. */
static bool write_summary(const Sweep *s, const Run *runs)
{
    char path[4096 + 32], tmp[4096 + 32];
    snprintf(path, sizeof path, "%s/summary.csv", s->dir);
    snprintf(tmp, sizeof tmp, "%s/summary.csv.tmp", s->dir);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "lnet sweep: error: cannot write '%s': %s\n", tmp, strerror(errno));
        return false;
    }
    summary_head(s, f);
    for (int i = 0; i < s->n_runs; i++)
        summary_row(s, &runs[i], f);
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok && rename(tmp, path) == 0;
    if (!ok)
        fprintf(stderr, "lnet sweep: error: cannot write '%s': %s\n", path, strerror(errno));
    return ok;
}

/* ------------------------------------------------------- running them */

/* mkdir -p path; false with the error printed. */
static bool make_dirs(const char *path)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *c = p + 1;; c++) {
        if (*c != '/' && *c)
            continue;
        char was = *c;
        *c = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "lnet sweep: error: cannot create '%s': %s\n", p, strerror(errno));
            return false;
        }
        *c = was;
        if (!was)
            return true;
    }
}

/* Starts run r in rd: its old report goes first (so that a run stopped now
 * never counts as done), then args.txt, then `lnet train` with its output
 * in run.txt. The child is its own process group (a Ctrl-C reaches it
 * through the sweep, once) and dies with the sweep. */
static bool run_start(Run *r, const char *rd, const Argv *v, const char *args)
{
    char path[RD_CAP + 64];
    snprintf(path, sizeof path, "%s/report.json", rd);
    if (!make_dirs(rd) || (unlink(path) != 0 && errno != ENOENT))
        return false;
    snprintf(path, sizeof path, "%s/args.txt", rd);
    if (!write_file(path, args)) {
        fprintf(stderr, "lnet sweep: error: cannot write '%s': %s\n", path, strerror(errno));
        return false;
    }
    snprintf(path, sizeof path, "%s/run.txt", rd);
    FILE *out = fopen(path, "w");
    if (!out) {
        fprintf(stderr, "lnet sweep: error: cannot write '%s': %s\n", path, strerror(errno));
        return false;
    }
    fputs("$", out);
    for (int i = 0; i < v->n; i++)
        fprintf(out, " %s", v->a[i]);
    fputc('\n', out);
    fflush(out);
    pid_t parent = getpid();
    int fd = fileno(out);
    r->pid = fork();
    if (r->pid == 0) {     /* only async-signal-safe calls until execv */
        int in = open("/dev/null", O_RDONLY);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || in < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 ||
            dup2(fd, 2) < 0)
            _exit(127);
        execv("/proc/self/exe", v->a);
        _exit(127);
    }
    fclose(out);
    if (r->pid < 0) {
        fprintf(stderr, "lnet sweep: error: cannot start a run: %s\n", strerror(errno));
        return false;
    }
    return true;
}

/* "[3/24] chunked:2 batch=128 lr=0.03 seed=1 ... " */
static void progress_head(const Sweep *s, const Run *runs, const Run *r)
{
    char label[1024];
    run_label(s, r, label, sizeof label);
    printf("[%d/%d] %s ... ", (int)(r - runs) + 1, s->n_runs, label);
}

/* Run r ended with wait status st: done when it exited 0 and its report is
 * complete (then renamed from report.json.part). */
static void run_finish(const Sweep *s, const Run *runs, Run *r, int st)
{
    char rd[RD_CAP], part[RD_CAP + 64], path[RD_CAP + 64];
    snprintf(rd, sizeof rd, "%s/%s", s->dir, r->name);
    snprintf(part, sizeof part, "%s/report.json.part", rd);
    snprintf(path, sizeof path, "%s/report.json", rd);
    r->pid = 0;
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && rename(part, path) == 0 &&
              read_result(rd, &r->res);
    bool stopped = !ok && WIFEXITED(st) && WEXITSTATUS(st) > 128;
    r->state = ok ? RUN_DONE : stopped ? RUN_STOPPED : RUN_FAILED;
    progress_head(s, runs, r);
    if (stopped)
        printf("stopped by %s (unfinished)\n", cli_signal_name(WEXITSTATUS(st) - 128));
    else if (!ok && WIFEXITED(st))
        printf("failed (exit status %d; see %s/run.txt)\n", WEXITSTATUS(st), rd);
    else if (!ok)
        printf("failed (killed by signal %d; see %s/run.txt)\n", WTERMSIG(st), rd);
    else if (!s->target)
        printf("%.4f in %.1f s\n", r->res.acc, r->res.wall);
    else if (r->res.reached)
        printf("%.4f in %.1f s, target at step %.0f\n", r->res.acc, r->res.wall,
               r->res.reached_step);
    else
        printf("%.4f in %.1f s, target not reached\n", r->res.acc, r->res.wall);
    fflush(stdout);
}

/* Runs every RUN_TODO run, s->jobs at a time, until all ended or a stop
 * signal ended those in flight. Returns the signal (0: none). */
static int run_all(const Sweep *s, Run *runs)
{
    volatile sig_atomic_t *stop = cli_catch_stop_signals("lnet sweep");
    int next = 0, running = 0, passed_on = 0;
    for (;;) {
        while (!*stop && running < s->jobs && next < s->n_runs) {
            Run *r = &runs[next++];
            if (r->state != RUN_TODO)
                continue;
            char rd[RD_CAP], args[16384];
            Argv *v = run_command(s, r, rd, args, sizeof args);
            if (run_start(r, rd, v, args))
                running++;
            else
                r->state = RUN_FAILED;
            free(v);
        }
        if (*stop && !passed_on) {
            passed_on = *stop;
            for (int i = 0; i < s->n_runs; i++)
                if (runs[i].pid > 0)
                    kill(runs[i].pid, passed_on);
        }
        if (running == 0)
            return passed_on;
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0) {
            /* a signal cuts the sleep short; waitpid would be restarted */
            nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
            continue;
        }
        for (int i = 0; i < s->n_runs; i++)
            if (runs[i].pid == pid) {
                run_finish(s, runs, &runs[i], st);
                running--;
                write_summary(s, runs);
            }
    }
}

/* --dry-run: every run, whether it is done, and its command. */
static void dry_run(const Sweep *s, const Run *runs)
{
    printf("%s: %d run%s of %s in %s\n", s->path, s->n_runs, s->n_runs == 1 ? "" : "s",
           s->model->v[0], s->dir);
    for (int i = 0; i < s->n_runs; i++) {
        const Run *r = &runs[i];
        char rd[RD_CAP];
        snprintf(rd, sizeof rd, "%s/%s", s->dir, r->name);
        Argv *v = malloc(sizeof *v);
        IR_CHECK_ALLOC(v);
        run_argv(s, r, rd, v);
        printf("[%d/%d] %s%s\n ", i + 1, s->n_runs, r->name,
               r->state == RUN_DONE ? " (done)" : "");
        for (int j = 0; j < v->n; j++)
            printf(" %s", v->a[j]);
        putchar('\n');
        free(v);
    }
}

/* The runs of s: their names (distinct) and which are done already. */
static bool make_runs(const Sweep *s, Run *runs)
{
    for (int i = 0; i < s->n_runs; i++) {
        Run *r = &runs[i];
        run_config(s, i, r);
        for (int j = 0; j < i; j++)
            if (strcmp(runs[j].name, r->name) == 0)
                return fprintf(stderr, "lnet sweep: error: %s: two runs would share the "
                               "folder name '%s'\n", s->path, r->name), false;
        char rd[RD_CAP], args[16384];
        free(run_command(s, r, rd, args, sizeof args));
        r->state = run_done(rd, args, &r->res) ? RUN_DONE : RUN_TODO;
    }
    return true;
}

/* SPEC minus its extension, plus ".runs". */
static void default_dir(const char *spec, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s", spec);
    char *dot = strrchr(dir, '.'), *slash = strrchr(dir, '/');
    if (dot && dot > dir && (!slash || dot > slash + 1))
        *dot = '\0';
    size_t len = strlen(dir);
    snprintf(dir + len, cap - len, ".runs");
}

/* Runs what is left of the sweep; the exit status. */
static int sweep(Sweep *s, Run *runs)
{
    if (!make_dirs(s->dir))
        return EXIT_USER;
    int done = 0;
    for (int i = 0; i < s->n_runs; i++)
        if (runs[i].state == RUN_DONE) {
            progress_head(s, runs, &runs[i]);
            printf("skipped (done)\n");
            done++;
        }
    fflush(stdout);
    if (!write_summary(s, runs))
        return EXIT_USER;
    int sig = run_all(s, runs), failed = 0, todo = 0;
    for (int i = 0; i < s->n_runs; i++) {
        failed += runs[i].state == RUN_FAILED;
        todo += runs[i].state != RUN_DONE;
    }
    printf("%d run%s: %d done before, %d now, %d failed, %d unfinished; %s/summary.csv\n",
           s->n_runs, s->n_runs == 1 ? "" : "s", done, s->n_runs - todo - done, failed,
           todo - failed, s->dir);
    fflush(stdout);
    if (sig) {
        fprintf(stderr, "lnet sweep: stopped by %s: %d run%s unfinished (run the sweep again "
                "to finish them)\n", cli_signal_name(sig), todo, todo == 1 ? "" : "s");
        return 128 + sig;
    }
    if (failed)
        fprintf(stderr, "lnet sweep: error: %d of %d runs failed (see their run.txt)\n", failed,
                s->n_runs);
    return failed ? EXIT_USER : EXIT_OK;
}

int cmd_sweep(int argc, char **argv)
{
    CliArgs a;
    int rc0 = cli_parse_cmd(&sweep_cmd, argc, argv, &a);
    if (rc0 >= 0)
        return rc0;
    if (!a.file) {
        fprintf(stderr, "lnet sweep: error: missing SPEC\nusage: lnet sweep %s\n",
                sweep_cmd.usage);
        return EXIT_USER;
    }
    long jobs = 1;
    const char *j = cli_get(&sweep_cmd, &a, "jobs");
    if (j && !cli_int("jobs", j, 1, 1024, &jobs))
        return EXIT_USER;
    Sweep *s = calloc(1, sizeof *s);
    Run *runs = calloc(SWEEP_MAX_RUNS, sizeof *runs);
    IR_CHECK_ALLOC(s && runs);
    char dir[4096];
    default_dir(a.file, dir, sizeof dir);
    s->path = a.file;
    s->dir = cli_get(&sweep_cmd, &a, "output") ? cli_get(&sweep_cmd, &a, "output") : dir;
    s->jobs = (int)jobs;
    int cores = rt_available_cores();
    s->threads = j ? (cores / s->jobs > 0 ? cores / s->jobs : 1) : 0;
    int rc = EXIT_USER;
    if (sweep_spec_read(s) && sweep_costs(s) && make_runs(s, runs)) {
        if (cli_flag(&sweep_cmd, &a, "dry-run")) {
            dry_run(s, runs);
            rc = EXIT_OK;
        } else {
            rc = sweep(s, runs);
        }
    }
    free(s->text);
    free(s);
    free(runs);
    return rc;
}
