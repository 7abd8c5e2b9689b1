/* cmd_plot.c — `lnet plot`: images of training runs, drawn by gnuplot.
 *
 *   lnet plot LOG [LOG...] -o OUT      training and test loss / accuracy of
 *                                      every head of every run, overlaid;
 *   lnet plot gradsim LOG -o OUT       the mean cosine similarity of each
 *                                      layer's gradients against step;
 *   lnet plot filters CKPT... -o OUT   a conv layer's filters (png_filters.c).
 *
 * The line plots read the logs (plot_log.c), write the numbers gnuplot needs
 * to a temporary folder — one data file per run and kind of row, NaN where a
 * value is missing — with a script next to them, and run gnuplot on it
 * (plot_gnuplot.c). The image type follows OUT's extension: .png (the cairo
 * terminal when gnuplot has it, else libgd's) or .svg.
 */
#include "cli.h"
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const CliOpt plot_opts[] = {
    {"output", "OUT", "the image to write: .png or .svg (also -o OUT; required)"},
    {"x", "AXIS", "step (default) | seconds (training time) | examples (examples seen)"},
    {"smooth", "N", "moving average of the training curves over the last N steps "
                    "(default 1: none)"},
    {"metric", "M", "loss | accuracy (test) | all (default: loss above accuracy)"},
    {"label", "NAME[,NAME]", "the runs' names in the legend (default: each LOG's file name "
                             "without its extension)"},
    {"title", "TEXT", "a title above the plot"},
    {"eval", "SPLIT", "test (default) | train: the evaluations drawn are those on the first N "
                      "training examples (lnet train --eval-train N)"},
    {"batch", "N", "examples per step for --x examples (default: from the log's "
                   "examples_per_s x train_s)"},
    {"param", "NAME", "filters: the 4-D tensor to draw (default: the checkpoint's first)"},
    {"keep-temps", NULL, "keep gnuplot's script and data files, to restyle the plot (the "
                         "folder is printed)"},
    {NULL, NULL, NULL}};

static const char plot_notes[] =
    "Draws with gnuplot (apt install gnuplot). The other forms:\n"
    "  lnet plot gradsim LOG -o OUT          mean cosine similarity of each layer's\n"
    "      gradients against step, from a CSV log with the header\n"
    "      step,block,layer,param,cosine (one row per parameter per measurement)\n"
    "  lnet plot filters CKPT [CKPT...] -o OUT.png [--param NAME]\n"
    "      a conv layer's filters, each scaled to [0, 1], tiled and enlarged; one\n"
    "      panel per checkpoint\n"
    "LOG is a step log of 'lnet train --log FILE' (CSV or JSON lines).\n";

static const CliCmd plot_cmd = {
    "plot", "LOG [LOG...] -o OUT [options]",
    "Plot the training and test loss and accuracy of one or more runs from their\n"
    "step logs, against step, training time or examples seen.",
    plot_opts, plot_notes};

static bool fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lnet plot: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return false;
}

/* ------------------------------------------------------------ line plots */

/* What `lnet plot LOG...` draws. */
typedef struct LinePlot {
    const char *out, *title;
    bool keep;              /* --keep-temps */
    int x;                  /* 0 step, 1 seconds, 2 examples: the data files' column - 1 */
    int smooth;             /* moving-average window of the training curves */
    bool loss, acc;         /* the panels asked for */
    bool on_train;          /* --eval train: the training-set evaluations */
    double batch;           /* --batch; 0: each log's own */
    int n;                  /* runs */
    const char *const *paths;
    char **labels;          /* (n) */
    PlotLog *logs;          /* (n) */
} LinePlot;

static const char *const x_names[] = {"step", "seconds", "examples"};
static const char *const x_labels[] = {"step", "training time (s)", "examples seen"};
static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
enum { N_COLOURS = sizeof colours / sizeof colours[0] };

static void put_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.9g", v);
    else
        fputs(" NaN", f);
}

/* Rows as "step seconds examples loss... [accuracy...]"; the training losses
 * averaged over the last `smooth` steps (those that have one). */
static void write_rows(FILE *f, const PlotLog *log, bool eval, double batch, int smooth)
{
    const PlotRow *rows = eval ? log->eval : log->train;
    int n = eval ? log->n_eval : log->n_train, H = log->n_heads;
    double sum[PLOT_MAX_HEADS] = {0};
    int count[PLOT_MAX_HEADS] = {0};
    for (int i = 0; i < n; i++) {
        fprintf(f, "%.9g %.9g %.9g", rows[i].step, rows[i].secs, rows[i].step * batch);
        for (int h = 0; h < H && !eval; h++) {
            double in = rows[i].v[2 * h], out = i >= smooth ? rows[i - smooth].v[2 * h] : NAN;
            if (isfinite(in))
                sum[h] += in, count[h]++;
            if (isfinite(out))
                sum[h] -= out, count[h]--;
            put_num(f, count[h] ? sum[h] / count[h] : NAN);
        }
        for (int k = 0; k < 2 && eval; k++)     /* losses, then accuracies */
            for (int h = 0; h < H; h++)
                put_num(f, rows[i].v[2 * h + k]);
        fputc('\n', f);
    }
}

/* Whether a column (loss of head h: k = 0, its accuracy: k = 1) has a value. */
static bool has_values(const PlotLog *log, bool eval, int h, int k)
{
    const PlotRow *rows = eval ? log->eval : log->train;
    int n = eval ? log->n_eval : log->n_train;
    for (int i = 0; i < n; i++)
        if (isfinite(rows[i].v[2 * h + k]))
            return true;
    return false;
}

static bool write_data(const LinePlot *p, const PlotTmp *t, char *err, size_t errcap)
{
    for (int r = 0; r < p->n; r++) {
        double batch = p->batch ? p->batch : plot_log_batch(&p->logs[r]);
        if (p->x == 2 && batch == 0) {
            snprintf(err, errcap, "%s: cannot tell the batch size (no training row with "
                     "examples_per_s): give --batch N", p->paths[r]);
            return false;
        }
        for (int eval = 0; eval < 2; eval++) {
            char name[32], path[4200];
            snprintf(name, sizeof name, "run%d_%s.dat", r, eval ? "eval" : "train");
            FILE *f = plot_tmp_file(t, name, path, sizeof path, err, errcap);
            if (!f)
                return false;
            write_rows(f, &p->logs[r], eval, batch, p->smooth);
            if (!plot_tmp_done(f, path, err, errcap))
                return false;
        }
    }
    return true;
}

/* Run r's curve of head h: its training (eval 0) or test (eval 1) loss
 * (k = 0), or its test accuracy (k = 1); a solid line for training, dashed
 * with points for the tests, one colour per run and head. */
static void put_curve(FILE *f, const LinePlot *p, const PlotTmp *t, int r, int h, int eval,
                      int k)
{
    const PlotLog *log = &p->logs[r];
    char file[4200], title[1024];
    snprintf(file, sizeof file, "%s/run%d_%s.dat", t->dir, r, eval ? "eval" : "train");
    plot_gp_quote(f, file);
    fprintf(f, " using %d:%d with %s lc rgb '%s' title ", p->x + 1,
            4 + h + (k ? log->n_heads : 0),
            eval ? "linespoints dt 2 pt 7 ps 0.6 lw 1.5" : "lines lw 1.5",
            colours[(r * log->n_heads + h) % N_COLOURS]);
    /* "RUN train"; with several heads "RUN HEAD train" */
    snprintf(title, sizeof title, "%s%s%s %s", p->labels[r], log->n_heads > 1 ? " " : "",
             log->n_heads > 1 ? log->heads[h] : "",
             eval ? (p->on_train ? "train-set eval" : "test") : "train");
    plot_gp_quote(f, title);
}

/* One panel's `plot` command (f NULL: only counts): k = 0 the losses
 * (training and test), 1 the test accuracies. Returns the number of curves,
 * those with a value. */
static int plot_panel(FILE *f, const LinePlot *p, const PlotTmp *t, int k)
{
    int n = 0;
    for (int r = 0; r < p->n; r++)
        for (int h = 0; h < p->logs[r].n_heads; h++)
            for (int eval = k; eval < 2; eval++) {
                if (!has_values(&p->logs[r], eval, h, k))
                    continue;
                if (f) {
                    fputs(n ? ", \\\n     " : "plot ", f);
                    put_curve(f, p, t, r, h, eval, k);
                }
                n++;
            }
    if (n && f)
        fputc('\n', f);
    return n;
}

/* The script: the loss panel above the accuracy panel (those asked for that
 * have a curve), the legend on the right. */
static bool write_script(const LinePlot *p, const PlotTmp *t, bool loss, bool acc, FILE *f)
{
    plot_gp_terminal(f, p->out, 1000, loss && acc ? 800 : 500);
    fprintf(f, "set grid\nset key outside right top\nset lmargin 10\n"
               "set rmargin at screen 0.7\nset xlabel '%s'\n", x_labels[p->x]);
    if (loss && acc) {
        fputs("set multiplot layout 2,1", f);
        if (p->title) {
            fputs(" title ", f);
            plot_gp_quote(f, p->title);
        }
        fputc('\n', f);
    } else if (p->title) {
        fputs("set title ", f);
        plot_gp_quote(f, p->title);
        fputc('\n', f);
    }
    if (loss) {
        if (p->smooth > 1)
            fprintf(f, "set ylabel 'loss (training: mean of %d steps)'\n", p->smooth);
        else
            fputs("set ylabel 'loss'\n", f);
        plot_panel(f, p, t, 0);
        if (acc)    /* the accuracy panel below on the same x range */
            fputs("set xrange [GPVAL_X_MIN:GPVAL_X_MAX]\n", f);
    }
    if (acc) {
        fprintf(f, "set ylabel '%s accuracy'\n", p->on_train ? "training-set" : "test");
        plot_panel(f, p, t, 1);
    }
    if (loss && acc)
        fputs("unset multiplot\n", f);
    return true;
}

/* Draws p into p->out; false with the error in err. */
static bool draw_lines(const LinePlot *p, char *err, size_t errcap)
{
    bool loss = p->loss && plot_panel(NULL, p, NULL, 0) > 0;
    bool acc = p->acc && plot_panel(NULL, p, NULL, 1) > 0;
    if (!loss && !acc) {
        snprintf(err, errcap, "nothing to plot: %s", p->acc && !p->loss
                 ? "no test accuracy in the log (it has no evaluation row: train with "
                   "--eval-every N)" : "no loss in the log");
        return false;
    }
    PlotTmp t;
    if (!plot_tmp_open(&t, p->keep, err, errcap))
        return false;
    char script[4200];
    FILE *f = NULL;
    bool ok = write_data(p, &t, err, errcap) &&
              (f = plot_tmp_file(&t, "plot.gp", script, sizeof script, err, errcap)) &&
              write_script(p, &t, loss, acc, f) && plot_tmp_done(f, script, err, errcap) &&
              plot_gnuplot(script, err, errcap);
    plot_tmp_close(&t);
    return ok;
}

/* --------------------------------------------------------------- gradsim */

#define GRADSIM_HEAD "step,block,layer,param,cosine"

/* One layer's curve: the mean cosine of its parameters at each step. */
typedef struct SimLayer {
    char *name;
    int block;
    int n, cap;
    double *step, *sum;     /* (n) */
    int *count;             /* (n): the finite cosines summed */
} SimLayer;

typedef struct SimLog {
    int n, cap;
    SimLayer *layers;       /* in order of first appearance */
} SimLog;

static void sim_free(SimLog *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->layers[i].name);
        free(s->layers[i].step);
        free(s->layers[i].sum);
        free(s->layers[i].count);
    }
    free(s->layers);
}

static SimLayer *sim_layer(SimLog *s, const char *name, int block)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->layers[i].name, name) == 0)
            return &s->layers[i];
    if (s->n == s->cap) {
        SimLayer *bigger = realloc(s->layers, (size_t)(s->cap = 2 * s->cap + 4) * sizeof *bigger);
        if (!bigger)
            return NULL;
        s->layers = bigger;
    }
    SimLayer *l = &s->layers[s->n];
    *l = (SimLayer){.name = strdup(name), .block = block};
    return l->name ? &s->layers[s->n++] : NULL;
}

/* Adds a cosine at a step: to the layer's last point when it is that step. */
static bool sim_add(SimLayer *l, double step, double cosine)
{
    if (l->n == 0 || l->step[l->n - 1] != step) {
        if (l->n == l->cap) {
            l->cap = 2 * l->cap + 16;
            double *st = realloc(l->step, (size_t)l->cap * sizeof *st);
            l->step = st ? st : l->step;
            double *su = realloc(l->sum, (size_t)l->cap * sizeof *su);
            l->sum = su ? su : l->sum;
            int *c = realloc(l->count, (size_t)l->cap * sizeof *c);
            l->count = c ? c : l->count;
            if (!st || !su || !c)
                return false;
        }
        l->step[l->n] = step, l->sum[l->n] = 0, l->count[l->n] = 0;
        l->n++;
    }
    if (isfinite(cosine))
        l->sum[l->n - 1] += cosine, l->count[l->n - 1]++;
    return true;
}

static bool to_long(const char *s, long lo, long *out)
{
    char *end;
    errno = 0;
    *out = strtol(s, &end, 10);
    return end != s && !*end && !errno && *out >= lo;
}

/* One row "step,block,layer,param,cosine"; false with "what is wrong". */
static bool sim_row(SimLog *s, char *line, char *err, size_t errcap)
{
    char *f[5];
    int n = 0;
    for (char *p = line; n < 5 && p; n++) {
        f[n] = p;
        if ((p = strchr(p, ',')))
            *p++ = '\0';
        else if (n < 4)
            break;
        if (n == 4 && p) {
            snprintf(err, errcap, "more than 5 fields (" GRADSIM_HEAD ")");
            return false;
        }
    }
    long step, block;
    char *end;
    double c = n == 5 && *f[4] ? strtod(f[4], &end) : NAN;
    bool bad_c = n == 5 && *f[4] && (*end || (isnan(c) ? false : !(fabs(c) <= 1.0001)));
    const char *bad = n < 5 ? "fewer than 5 fields (" GRADSIM_HEAD ")"
                    : !to_long(f[0], 0, &step) ? "step: not an integer >= 0"
                    : !to_long(f[1], 1, &block) ? "block: not an integer >= 1"
                    : !*f[2] ? "an empty layer name"
                    : bad_c ? "cosine: not a number in [-1, 1] (nor nan)"
                    : NULL;
    if (bad) {
        snprintf(err, errcap, "%s", bad);
        return false;
    }
    SimLayer *l = sim_layer(s, f[2], (int)block);
    if (!l || !sim_add(l, (double)step, c)) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    return true;
}

static bool sim_read(const char *path, SimLog *s, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "cannot open '%s': %s", path, strerror(errno));
        return false;
    }
    char *line = NULL, what[256];
    size_t cap = 0;
    long no = 0;
    ssize_t n;
    bool ok = true;
    while (ok && (n = getline(&line, &cap, f)) >= 0) {
        no++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (no == 1 && strcmp(line, GRADSIM_HEAD) != 0) {
            snprintf(err, errcap, "%s:1: not a gradient-similarity log (expected the CSV "
                     "header '" GRADSIM_HEAD "')", path);
            ok = false;
        } else if (no > 1 && n > 0 && !sim_row(s, line, what, sizeof what)) {
            snprintf(err, errcap, "%s:%ld: %s", path, no, what);
            ok = false;
        }
    }
    free(line);
    fclose(f);
    if (ok && s->n == 0) {
        snprintf(err, errcap, "%s: %s", path, no ? "no measurement rows" : "empty file: not a "
                 "gradient-similarity log");
        ok = false;
    }
    return ok;
}

static bool write_sim(const SimLog *s, const PlotTmp *t, const char *out, const char *title,
                      char *script, size_t cap, char *err, size_t errcap)
{
    char path[4200], name[32];
    for (int i = 0; i < s->n; i++) {
        snprintf(name, sizeof name, "layer%d.dat", i);
        FILE *f = plot_tmp_file(t, name, path, sizeof path, err, errcap);
        if (!f)
            return false;
        const SimLayer *l = &s->layers[i];
        for (int k = 0; k < l->n; k++) {
            fprintf(f, "%.9g", l->step[k]);
            put_num(f, l->count[k] ? l->sum[k] / l->count[k] : NAN);
            fputc('\n', f);
        }
        if (!plot_tmp_done(f, path, err, errcap))
            return false;
    }
    FILE *f = plot_tmp_file(t, "plot.gp", script, cap, err, errcap);
    if (!f)
        return false;
    plot_gp_terminal(f, out, 1000, 500);
    fputs("set grid\nset key outside right top\nset xlabel 'step'\n"
          "set ylabel 'gradient cosine similarity (layer mean)'\n", f);
    if (title) {
        fputs("set title ", f);
        plot_gp_quote(f, title);
        fputc('\n', f);
    }
    for (int i = 0; i < s->n; i++) {
        char label[1024];
        snprintf(label, sizeof label, "%s (block %d)", s->layers[i].name, s->layers[i].block);
        snprintf(path, sizeof path, "%s/layer%d.dat", t->dir, i);
        fputs(i ? ", \\\n     " : "plot ", f);
        plot_gp_quote(f, path);
        fprintf(f, " using 1:2 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '%s' title ",
                colours[i % N_COLOURS]);
        plot_gp_quote(f, label);
    }
    fputc('\n', f);
    return plot_tmp_done(f, script, err, errcap);
}

static bool draw_gradsim(const char *log, const char *out, const char *title, bool keep,
                         char *err, size_t errcap)
{
    SimLog s = {0};
    PlotTmp t = {.keep = false};
    char script[4200];
    bool ok = sim_read(log, &s, err, errcap) && plot_tmp_open(&t, keep, err, errcap) &&
              write_sim(&s, &t, out, title, script, sizeof script, err, errcap) &&
              plot_gnuplot(script, err, errcap);
    plot_tmp_close(&t);
    sim_free(&s);
    return ok;
}

/* ------------------------------------------------------------- the command */

/* Splits argv into the positional arguments (pos) and the options, with -o
 * read as --output (opts: what cli_parse reads). */
static int split_args(int argc, char **argv, char **pos, char **opts, int *n_opts)
{
    int n_pos = 0;
    *n_opts = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0 || strcmp(a, "-h") == 0 || (strncmp(a, "--", 2) == 0 && a[2])) {
            opts[(*n_opts)++] = strcmp(a, "-o") == 0 ? (char *)"--output" : argv[i];
            const char *name = strcmp(a, "-o") == 0 ? "output" : a + 2;
            for (int k = 0; plot_opts[k].name && !strchr(a, '='); k++)
                if (strcmp(plot_opts[k].name, name) == 0 && plot_opts[k].arg && i + 1 < argc)
                    opts[(*n_opts)++] = argv[++i];
        } else {
            pos[n_pos++] = argv[i];
        }
    }
    return n_pos;
}

/* OUT may be written: not a directory, nor one of the inputs, in a folder
 * that takes files (gnuplot's own message would name its script instead). */
static bool check_output(const char *out, char *const *in, int n)
{
    struct stat so, si;
    bool exists = stat(out, &so) == 0;
    if (exists && S_ISDIR(so.st_mode))
        return fail("-o %s is a directory; give a file name", out);
    for (int i = 0; exists && i < n; i++)
        if (stat(in[i], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return fail("-o %s is the input '%s'; choose another name", out, in[i]);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir] = '\0';    /* "/x.png": the root */
    if (access(dir, W_OK) != 0)
        return fail("-o %s cannot be written: directory '%s': %s", out, dir, strerror(errno));
    return true;
}

/* The options a form does not take: an error naming the first one given. */
static bool only(const CliArgs *a, const char *form, const char *const *allowed)
{
    for (int k = 0; plot_opts[k].name; k++) {
        bool ok = false;
        for (int i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], plot_opts[k].name) == 0;
        if (!ok && a->val[k])
            return fail("--%s does not apply to 'lnet plot%s'", plot_opts[k].name, form);
    }
    return true;
}

/* The comma-separated labels, or each log's stem. */
static bool labels(LinePlot *p, const char *list)
{
    p->labels = calloc((size_t)p->n, sizeof *p->labels);
    char *copy = list ? strdup(list) : NULL, *save = NULL;
    char *tok = copy ? strtok_r(copy, ",", &save) : NULL;
    for (int r = 0; r < p->n; r++, tok = tok ? strtok_r(NULL, ",", &save) : NULL) {
        char stem[1024];
        if (list && !tok) {
            free(copy);
            return fail("--label: %d name%s for %d logs", r, r == 1 ? "" : "s", p->n);
        }
        p->labels[r] = strdup(tok ? tok : plot_stem(p->paths[r], stem, sizeof stem));
    }
    bool extra = tok != NULL;
    free(copy);
    return !extra || fail("--label: more names than the %d log%s", p->n, p->n == 1 ? "" : "s");
}

static bool line_opts(const CliArgs *a, LinePlot *p)
{
    const char *x = cli_get(&plot_cmd, a, "x"), *m = cli_get(&plot_cmd, a, "metric");
    const char *s = cli_get(&plot_cmd, a, "smooth"), *b = cli_get(&plot_cmd, a, "batch");
    p->x = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(x ? x : "step", x_names[i]) == 0)
            p->x = i;
    if (p->x < 0)
        return fail("--x: expected step, seconds or examples, got '%s'", x);
    if (m && strcmp(m, "loss") != 0 && strcmp(m, "accuracy") != 0 && strcmp(m, "all") != 0)
        return fail("--metric: expected loss, accuracy or all, got '%s'", m);
    p->loss = !m || strcmp(m, "accuracy") != 0;
    p->acc = !m || strcmp(m, "loss") != 0;
    long v = 1;
    if (s && !cli_int("smooth", s, 1, 1000000, &v))
        return false;
    p->smooth = (int)v;
    v = 0;
    if (b && !cli_int("batch", b, 1, 1L << 30, &v))
        return false;
    p->batch = (double)v;
    p->title = cli_get(&plot_cmd, a, "title");
    const char *e = cli_get(&plot_cmd, a, "eval");
    if (e && strcmp(e, "test") != 0 && strcmp(e, "train") != 0)
        return fail("--eval: expected test or train, got '%s'", e);
    p->on_train = e && strcmp(e, "train") == 0;
    return true;
}

static int plot_logs(const CliArgs *a, char **paths, int n, const char *out)
{
    static const char *const allowed[] = {"output", "x", "smooth", "metric", "label", "title",
                                          "batch", "eval", "keep-temps", NULL};
    LinePlot p = {.out = out, .keep = cli_flag(&plot_cmd, a, "keep-temps"), .n = n,
                  .paths = (const char *const *)paths};
    char err[4096];
    bool ok = only(a, "", allowed) && line_opts(a, &p) &&
              labels(&p, cli_get(&plot_cmd, a, "label"));
    p.logs = calloc((size_t)n, sizeof *p.logs);
    for (int r = 0; ok && r < n; r++)
        ok = plot_log_read(paths[r], &p.logs[r], p.on_train, err, sizeof err) || fail("%s", err);
    ok = ok && (draw_lines(&p, err, sizeof err) || fail("%s", err));
    for (int r = 0; r < n; r++) {
        plot_log_free(&p.logs[r]);
        free(p.labels ? p.labels[r] : NULL);
    }
    free(p.logs);
    free(p.labels);
    return ok ? EXIT_OK : EXIT_USER;
}

static int plot_gradsim(const CliArgs *a, char **pos, int n, const char *out)
{
    static const char *const allowed[] = {"output", "title", "keep-temps", NULL};
    char err[4096];
    bool ok = only(a, " gradsim", allowed) &&
              (n == 1 || fail("'lnet plot gradsim' takes one LOG, got %d", n)) &&
              (draw_gradsim(pos[0], out, cli_get(&plot_cmd, a, "title"),
                            cli_flag(&plot_cmd, a, "keep-temps"), err, sizeof err) ||
               fail("%s", err));
    return ok ? EXIT_OK : EXIT_USER;
}

static int plot_filters_form(const CliArgs *a, char **pos, int n, const char *out)
{
    static const char *const allowed[] = {"output", "param", "keep-temps", NULL};
    if (!only(a, " filters", allowed))
        return EXIT_USER;
    return plot_filters((const char *const *)pos, n, cli_get(&plot_cmd, a, "param"), out,
                        cli_flag(&plot_cmd, a, "keep-temps"));
}

int cmd_plot(int argc, char **argv)
{
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    char **opts = calloc((size_t)argc + 1, sizeof *opts);
    if (!pos || !opts) {
        free(pos);
        free(opts);
        return EXIT_INTERNAL;
    }
    int n_opts, n = split_args(argc, argv, pos, opts, &n_opts);
    CliArgs a;
    bool help;
    int rc = EXIT_USER;
    if (!cli_parse(&plot_cmd, n_opts, opts, &a, &help))
        goto done;
    if (help) {
        cli_print_help(&plot_cmd, stdout);
        rc = EXIT_OK;
        goto done;
    }
    const char *form = n && (strcmp(pos[0], "gradsim") == 0 || strcmp(pos[0], "filters") == 0)
                     ? pos[0] : NULL;
    const char *out = cli_get(&plot_cmd, &a, "output");
    const char *dot = out ? strrchr(out, '.') : NULL;
    bool png = dot && strcmp(dot, ".png") == 0, svg = dot && strcmp(dot, ".svg") == 0;
    if (n == (form != NULL))
        fprintf(stderr, "lnet plot: error: missing %s\nusage: lnet plot %s\n",
                form && form[0] == 'f' ? "CKPT" : "LOG", plot_cmd.usage);
    else if (!out)
        fail("-o OUT is required (an image: OUT.png or OUT.svg)");
    else if (!png && !(svg && !(form && form[0] == 'f')))
        fail("-o %s: the image type follows the extension: %s", out,
             form && form[0] == 'f' ? ".png" : ".png or .svg");
    else if (check_output(out, pos, n))
        rc = !form ? plot_logs(&a, pos, n, out)
           : form[0] == 'g' ? plot_gradsim(&a, pos + 1, n - 1, out)
           : plot_filters_form(&a, pos + 1, n - 1, out);
done:
    free(pos);
    free(opts);
    return rc;
}
