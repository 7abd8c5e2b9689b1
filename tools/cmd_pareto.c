/* cmd_pareto.c — `lnet pareto SWEEP_DIR`: from a sweep's summary.csv, the
 * cost of reaching the target with each method and batch size, in the cost
 * model of docs/method.md §5 (docs/sweeps.md):
 *
 * 1. rows: the runs whose status is "done"; a run's setting is its sweep
 *    axes other than method, batch and seed (e.g. its learning rate);
 * 2. per (method, batch, setting): the mean over seeds of the steps to the
 *    target and of the measured training time to it; a setting counts only
 *    when every one of its seeds reached the target;
 * 3. per (method, batch): the setting with the fewest mean steps S; then
 *    compute = S · batch · the FLOPs per example of the whole training step,
 *    time = S · the FLOPs per example of the most expensive block: on ideal
 *    parallel hardware the blocks run concurrently and the batch's examples
 *    side by side, so the slowest block's work on one example bounds a step
 *    (docs/method.md §5). A larger batch costs compute and saves steps: the
 *    frontier is that trade;
 * 4. per method, the Pareto frontier: the points no other point of the
 *    method matches or beats in both compute and time;
 * 5. the table on stdout; with --csv the same as CSV; with -o the frontiers
 *    drawn by gnuplot on log-log axes, compute on x, time on y.
 */
#include "sweep.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const CliOpt pareto_opts[] = {
    {"output", "OUT", "draw the frontiers with gnuplot into OUT.png or OUT.svg (also -o OUT)"},
    {"csv", "FILE", "also write the table as CSV"},
    {"title", "TEXT", "the plot's title (default: SWEEP_DIR)"},
    {"target-accuracy", "A", "another target than the sweep's: the first evaluation in each "
                             "run's log.csv with the task's test accuracy >= A"},
    {"target-loss", "L", "another target than the sweep's: the first evaluation in each "
                         "run's log.csv with the task's test loss <= L"},
    {NULL, NULL, NULL}};

static const CliCmd pareto_cmd = {
    "pareto", "SWEEP_DIR [options]",
    "From the summary.csv of an lnet sweep with a target: per method and batch size,\n"
    "the best setting's steps to the target (mean over seeds), the compute (steps x\n"
    "batch x FLOPs of a training step per example), the time on ideal parallel\n"
    "hardware (steps x FLOPs of the slowest block per example) and the measured\n"
    "training time to the target; '*' marks each method's Pareto frontier in\n"
    "(compute, time). See docs/sweeps.md.",
    pareto_opts, NULL};

enum { MAX_COLS = 64, MAX_ROWS = 4096 };

/* One finished run of the summary. */
typedef struct Row {
    const char *method, *setting;   /* setting: "lr=0.03 optimizer=adam" */
    double batch, flops, max_flops;
    bool reached;
    double steps, secs;             /* to the target, when reached */
} Row;

/* One (method, batch): its best setting and what it costs. */
typedef struct Point {
    const char *method, *setting;   /* setting NULL: not reached */
    int m;                          /* the method's index in Table.methods */
    double batch, steps, compute, time, wall;
    int seeds;
    bool frontier;
} Point;

typedef struct Table {
    const char *dir;
    double target;                  /* --target-accuracy/--target-loss (0: the summary's) */
    bool by_loss;                   /* the target is --target-loss */
    char *text;                     /* summary.csv, cut into fields */
    Row rows[MAX_ROWS];
    int n_rows, left_out;           /* left_out: runs not done */
    Point pts[MAX_ROWS];
    int n_pts;
    const char *methods[MAX_ROWS];  /* in order of first appearance */
    int n_methods;
} Table;

static bool pareto_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static bool pareto_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lnet pareto: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return false;
}

/* Cuts a CSV line (no quoting: a sweep writes none) into at most MAX_COLS
 * fields; how many. */
static int split_csv(char *line, char **f)
{
    int n = 0;
    for (char *p = line; n < MAX_COLS;) {
        f[n++] = p;
        p = strchr(p, ',');
        if (!p)
            break;
        *p++ = '\0';
    }
    return n;
}

static int column(char **head, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(head[i], name) == 0)
            return i;
    return -1;
}

static bool number(const char *path, int line, const char *col, const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    if (end == s || *end || !(*out >= 0))
        return pareto_error("%s:%d: %s: expected a number, got '%s'", path, line, col, s);
    return true;
}

/* The columns a row is read from. */
typedef struct Cols {
    int name, method, batch, status, reached, steps, secs, flops, max_flops;
    int setting[MAX_COLS], n_setting;
} Cols;

static bool find_cols(const char *path, char **head, int n, Cols *c)
{
    static const char *const need[] = {"name", "method", "batch", "status", "reached",
                                       "steps_to_target", "time_to_target_s",
                                       "flops_per_example", "max_block_flops"};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        if (column(head, n, need[i]) < 0)
            return pareto_error("%s: no %s column%s", path, need[i],
                                i >= 4 && i <= 6 ? " (the sweep had no target-accuracy or "
                                                   "target-loss)" : "");
    *c = (Cols){column(head, n, "name"), column(head, n, "method"), column(head, n, "batch"),
                column(head, n, "status"), column(head, n, "reached"),
                column(head, n, "steps_to_target"), column(head, n, "time_to_target_s"),
                column(head, n, "flops_per_example"), column(head, n, "max_block_flops"),
                {0}, 0};
    /* the sweep's axes sit between name and status */
    for (int i = column(head, n, "name") + 1; i < c->status; i++)
        if (i != c->method && i != c->batch && strcmp(head[i], "seed") != 0)
            c->setting[c->n_setting++] = i;
    return true;
}

/* A row's setting, "lr=0.03 optimizer=adam", into buf. */
static const char *setting_of(const Cols *c, char **head, char **f, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->n_setting && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s=%s", i ? " " : "",
                                head[c->setting[i]], f[c->setting[i]]);
    return buf;
}

/* --target-accuracy (--target-loss): the first evaluation row of
 * DIR/NAME/log.csv whose task accuracy reaches t->target (whose task loss
 * falls to it) gives the run's steps and training seconds to it; none: not
 * reached. */
static bool log_target(const Table *t, const char *name, Row *r)
{
    char path[8192], line[16384];
    snprintf(path, sizeof path, "%s/%s/log.csv", t->dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return pareto_error("cannot read '%s': %s", path, strerror(errno));
    char *fld[MAX_COLS];
    const char *metric = t->by_loss ? "loss_task" : "acc_task";
    int acc = -1, step = -1, secs = -1, n = 0;
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        n = split_csv(line, fld);
        acc = column(fld, n, metric), step = column(fld, n, "step");
        secs = column(fld, n, "train_s");
    }
    bool ok = acc >= 0 && step >= 0 && secs >= 0;
    if (!ok)
        pareto_error("%s: not a CSV step log with step, train_s and %s", path, metric);
    r->reached = false;
    while (ok && !r->reached && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (split_csv(line, fld) != n || strcmp(fld[0], "eval") != 0)
            continue;
        char *end;
        double v = strtod(fld[acc], &end);
        if (end != fld[acc] && (t->by_loss ? v <= t->target : v >= t->target)) {
            r->reached = true;
            r->steps = strtod(fld[step], NULL);
            r->secs = strtod(fld[secs], NULL);
        }
    }
    fclose(f);
    return ok;
}

static bool read_row(Table *t, const char *path, int line, const Cols *c, char **f,
                     char *setting)
{
    Row *r = &t->rows[t->n_rows];
    r->method = f[c->method];
    r->setting = setting;
    r->reached = strcmp(f[c->reached], "1") == 0;
    if (!number(path, line, "batch", f[c->batch], &r->batch) ||
        !number(path, line, "flops_per_example", f[c->flops], &r->flops) ||
        !number(path, line, "max_block_flops", f[c->max_flops], &r->max_flops) ||
        (!t->target && r->reached &&
         (!number(path, line, "steps_to_target", f[c->steps], &r->steps) ||
          !number(path, line, "time_to_target_s", f[c->secs], &r->secs))) ||
        (t->target && !log_target(t, f[c->name], r)))
        return false;
    t->n_rows++;
    return true;
}

/* SWEEP_DIR/summary.csv into t->rows (the runs that are done). */
static bool read_summary(Table *t, const char *dir)
{
    char path[4096 + 16];
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    t->text = sweep_read_text(path);
    if (!t->text)
        return pareto_error("cannot read '%s': %s (is %s a sweep's directory?)", path,
                            strerror(errno), dir);
    char *head[MAX_COLS], *fields[MAX_COLS], *save = NULL;
    char *line = strtok_r(t->text, "\r\n", &save);
    int n = line ? split_csv(line, head) : 0;
    Cols c = {0};
    if (!line)
        return pareto_error("%s: empty file", path);
    if (!find_cols(path, head, n, &c))
        return false;
    for (int ln = 2; (line = strtok_r(NULL, "\r\n", &save)); ln++) {
        if (split_csv(line, fields) != n)
            return pareto_error("%s:%d: expected %d fields", path, ln, n);
        if (strcmp(fields[c.status], "done") != 0) {
            t->left_out++;
            continue;
        }
        if (t->n_rows == MAX_ROWS)
            return pareto_error("%s: more than %d runs", path, MAX_ROWS);
        char buf[1024];
        char *setting = strdup(setting_of(&c, head, fields, buf, sizeof buf));
        IR_CHECK_ALLOC(setting);
        if (!read_row(t, path, ln, &c, fields, setting)) {
            free(setting);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------- points */

static int method_index(Table *t, const char *method)
{
    for (int i = 0; i < t->n_methods; i++)
        if (strcmp(t->methods[i], method) == 0)
            return i;
    t->methods[t->n_methods] = method;
    return t->n_methods++;
}

static Point *point_of(Table *t, const Row *r)
{
    for (int i = 0; i < t->n_pts; i++)
        if (strcmp(t->pts[i].method, r->method) == 0 && t->pts[i].batch == r->batch)
            return &t->pts[i];
    Point *p = &t->pts[t->n_pts++];
    *p = (Point){.method = r->method, .m = method_index(t, r->method), .batch = r->batch};
    return p;
}

static bool same_group(const Row *a, const Row *b)
{
    return strcmp(a->method, b->method) == 0 && a->batch == b->batch &&
           strcmp(a->setting, b->setting) == 0;
}

/* Steps 2 and 3: each (method, batch, setting) over its seeds; the best
 * setting of each (method, batch). */
static void make_points(Table *t)
{
    static bool used[MAX_ROWS];
    memset(used, 0, sizeof used);
    for (int i = 0; i < t->n_rows; i++) {
        const Row *r = &t->rows[i];
        if (used[i])
            continue;
        Point *p = point_of(t, r);
        int seeds = 0, reached = 0;
        double steps = 0, secs = 0;
        for (int j = i; j < t->n_rows; j++)
            if (!used[j] && same_group(r, &t->rows[j])) {
                used[j] = true;
                seeds++;
                reached += t->rows[j].reached;
                steps += t->rows[j].steps;
                secs += t->rows[j].secs;
            }
        if (reached < seeds || (p->setting && steps / seeds >= p->steps))
            continue;
        p->setting = r->setting;
        p->seeds = seeds;
        p->steps = steps / seeds;
        p->wall = secs / seeds;
        p->compute = p->steps * r->batch * r->flops;
        p->time = p->steps * r->max_flops;
    }
}

static int by_method_batch(const void *a, const void *b)
{
    const Point *p = a, *q = b;
    if (p->m != q->m)
        return p->m - q->m;
    return (p->batch > q->batch) - (p->batch < q->batch);
}

/* Step 4: a reached point is on its method's frontier unless another point
 * of the method costs no more in both compute and time, and less in one. */
static void mark_frontier(Table *t)
{
    for (int i = 0; i < t->n_pts; i++) {
        Point *p = &t->pts[i];
        p->frontier = p->setting != NULL;
        for (int j = 0; j < t->n_pts && p->frontier; j++) {
            const Point *q = &t->pts[j];
            if (j != i && q->setting && q->m == p->m && q->compute <= p->compute &&
                q->time <= p->time && (q->compute < p->compute || q->time < p->time))
                p->frontier = false;
        }
    }
}

/* ------------------------------------------------------------- output */

static const Row *first_row(const Table *t, const char *method)
{
    for (int i = 0; i < t->n_rows; i++)
        if (strcmp(t->rows[i].method, method) == 0)
            return &t->rows[i];
    return NULL;
}

static void print_table(const Table *t, const char *dir)
{
    printf("%s: %d finished run%s", dir, t->n_rows, t->n_rows == 1 ? "" : "s");
    if (t->left_out)
        printf(" (%d not done, left out)", t->left_out);
    printf("\nper method and batch: the setting with the fewest steps to the target (mean\n"
           "over seeds); compute = steps x batch x FLOPs of a training step per example;\n"
           "time = steps x FLOPs of the slowest block per example (ideal parallel\n"
           "hardware); wall = measured training seconds to the target; * = the method's\n"
           "Pareto frontier\n");
    for (int m = 0; m < t->n_methods; m++) {
        const Row *r = first_row(t, t->methods[m]);
        printf("\n%s: %.6g FLOPs per example a step, %.6g in the slowest block\n",
               t->methods[m], r->flops, r->max_flops);
        printf("  %6s %10s %12s %12s %9s %5s  %s\n", "batch", "steps", "compute", "time",
               "wall s", "seeds", "setting");
        for (int i = 0; i < t->n_pts; i++) {
            const Point *p = &t->pts[i];
            if (p->m != m)
                continue;
            if (!p->setting)
                printf("  %6.0f  not reached\n", p->batch);
            else
                printf("%c %6.0f %10.6g %12.6g %12.6g %9.3f %5d  %s\n", p->frontier ? '*' : ' ',
                       p->batch, p->steps, p->compute, p->time, p->wall, p->seeds, p->setting);
        }
    }
}

static bool write_csv(const Table *t, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return pareto_error("cannot write '%s': %s", path, strerror(errno));
    fputs("method,batch,reached,setting,seeds,steps,compute_flops,time_flops,wall_s,frontier\n",
          f);
    for (int i = 0; i < t->n_pts; i++) {
        const Point *p = &t->pts[i];
        if (p->setting)
            fprintf(f, "%s,%.0f,1,%s,%d,%.10g,%.10g,%.10g,%.3f,%d\n", p->method, p->batch,
                    p->setting, p->seeds, p->steps, p->compute, p->time, p->wall, p->frontier);
        else
            fprintf(f, "%s,%.0f,0,,,,,,,0\n", p->method, p->batch);
    }
    bool ok = !ferror(f);
    if (!(fclose(f) == 0 && ok))
        return pareto_error("cannot write '%s': %s", path, strerror(errno));
    return true;
}

/* s as a gnuplot single-quoted string ('' is a quote). */
static void gp_string(FILE *g, const char *s)
{
    fputc('\'', g);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', g);
        fputc(*s, g);
    }
    fputc('\'', g);
}

/* The reached points of method m on its frontier (or off it): how many,
 * and with g, written as an inline data block. */
static int gp_data(FILE *g, const Table *t, int m, bool frontier)
{
    int n = 0;
    for (int i = 0; i < t->n_pts; i++) {
        const Point *p = &t->pts[i];
        if (p->m == m && p->setting && p->frontier == frontier && ++n && g)
            fprintf(g, "%.10g %.10g\n", p->compute, p->time);
    }
    if (g && n)
        fputs("e\n", g);
    return n;
}

/* Step 5: gnuplot draws each method's frontier into out (.png or .svg). */
static bool plot(const Table *t, const char *title, const char *out, bool svg)
{
    fflush(stdout);
    FILE *g = popen("gnuplot", "w");
    if (!g)
        return pareto_error("cannot run gnuplot: %s", strerror(errno));
    fprintf(g, "set terminal %s size 900,600 noenhanced\nset output ",
            svg ? "svg" : "pngcairo");
    gp_string(g, out);
    fputs("\nset logscale xy\nset grid\nset key outside right\n"
          "set xlabel 'compute to the target (FLOPs)'\n"
          "set ylabel 'time to the target (steps x FLOPs of the slowest block per example)'\n"
          "set title ", g);
    gp_string(g, title);
    /* a frontier as a line, the dominated points as rings of its colour */
    const char *sep = "\nplot ";
    for (int m = 0; m < t->n_methods; m++) {
        if (gp_data(NULL, t, m, true)) {
            fprintf(g, "%s'-' using 1:2 with linespoints lc %d pt 7 title ", sep, m + 1);
            gp_string(g, t->methods[m]);
            sep = ", ";
        }
        if (gp_data(NULL, t, m, false))
            fprintf(g, "%s'-' using 1:2 with points lc %d pt 6 notitle", sep, m + 1);
    }
    fputc('\n', g);
    for (int m = 0; m < t->n_methods; m++) {
        gp_data(g, t, m, true);
        gp_data(g, t, m, false);
    }
    int st = pclose(g);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return pareto_error("gnuplot failed (%s %d) drawing '%s'%s",
                            st != -1 && WIFEXITED(st) ? "exit status" : "status",
                            st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : st, out,
                            st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 127
                                ? "; is gnuplot installed?" : "");
    printf("\nplot: %s\n", out);
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int pareto(const CliArgs *a, Table *t)
{
    const char *out = cli_get(&pareto_cmd, a, "output"), *csv = cli_get(&pareto_cmd, a, "csv");
    bool svg = out && ends_with(out, ".svg");
    if (out && !svg && !ends_with(out, ".png")) {
        pareto_error("-o %s: expected a file name ending in .png or .svg", out);
        return EXIT_USER;
    }
    const char *target = cli_get(&pareto_cmd, a, "target-accuracy");
    const char *loss = cli_get(&pareto_cmd, a, "target-loss");
    t->dir = a->file;
    if (target && loss) {
        pareto_error("--target-accuracy and --target-loss exclude each other");
        return EXIT_USER;
    }
    if (target && !(cli_float("target-accuracy", target, &t->target) && t->target > 0 &&
                    t->target <= 1)) {
        pareto_error("--target-accuracy: expected a number in (0, 1], got '%s'", target);
        return EXIT_USER;
    }
    if (loss && !(cli_float("target-loss", loss, &t->target) && t->target > 0)) {
        pareto_error("--target-loss: expected a number above 0, got '%s'", loss);
        return EXIT_USER;
    }
    t->by_loss = loss != NULL;
    if (!read_summary(t, a->file))
        return EXIT_USER;
    make_points(t);
    qsort(t->pts, (size_t)t->n_pts, sizeof *t->pts, by_method_batch);
    mark_frontier(t);
    print_table(t, a->file);
    if (csv && !write_csv(t, csv))
        return EXIT_USER;
    bool any = false;
    for (int i = 0; i < t->n_pts; i++)
        any = any || t->pts[i].setting;
    if (out && !any) {
        pareto_error("no run reached the target: nothing to draw");
        return EXIT_USER;
    }
    const char *title = cli_get(&pareto_cmd, a, "title");
    return out && !plot(t, title ? title : a->file, out, svg) ? EXIT_USER : EXIT_OK;
}

int cmd_pareto(int argc, char **argv)
{
    CliArgs a;
    int rc0 = cli_parse_cmd(&pareto_cmd, argc, argv, &a);
    if (rc0 >= 0)
        return rc0;
    if (!a.file) {
        fprintf(stderr, "lnet pareto: error: missing SWEEP_DIR\nusage: lnet pareto %s\n",
                pareto_cmd.usage);
        return EXIT_USER;
    }
    Table *t = calloc(1, sizeof *t);
    IR_CHECK_ALLOC(t);
    int rc = pareto(&a, t);
    for (int i = 0; i < t->n_rows; i++)
        free((char *)t->rows[i].setting);
    free(t->text);
    free(t);
    return rc;
}
