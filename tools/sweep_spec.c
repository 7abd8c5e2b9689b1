/* sweep_spec.c — the spec file of `lnet sweep` (docs/sweeps.md):
 *
 * 1. lines of `key = value[, value ...]` or a flag `key`, '#' comments;
 * 2. each key checked as it is read: model and method, or an `lnet train`
 *    option; not one the sweep sets itself; no duplicates, no empty values,
 *    numbers where the option takes one, known methods;
 * 3. the grid: method, batch, lr and seed, and every key given several
 *    values, are axes (method first); the rest pass through to every run;
 * 4. the cost of each method: the model compiled once per method (passes
 *    only) for the FLOPs per example of a step and of its slowest block.
 *
 * Every error names SPEC:LINE and stops the sweep before anything runs.
 */
#include "sweep.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool spec_error(const Sweep *s, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool spec_error(const Sweep *s, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lnet sweep: error: %s:%d: ", s->path, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return false;
}

/* The whole of a small file, NUL-terminated (NULL if it cannot be read). */
char *sweep_read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    IR_CHECK_ALLOC(buf);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            IR_CHECK_ALLOC(buf);
        }
    }
    if (ferror(f)) {   /* a directory, or a read error: errno says which */
        int e = errno;
        fclose(f);
        free(buf);
        errno = e;
        return NULL;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* ------------------------------------------------------------ the spec */

/* Keys the sweep sets itself, and why they may not be given. */
static const char *reserved(const char *key)
{
    static const char *const sweep_set[] = {"report", "log", "save", "resume"};
    for (size_t i = 0; i < sizeof sweep_set / sizeof *sweep_set; i++)
        if (strcmp(key, sweep_set[i]) == 0)
            return "is set by the sweep (each run writes DIR/NAME/report.json and log.csv)";
    if (strcmp(key, "blocks") == 0 || strcmp(key, "overlap") == 0)
        return "is given with the method (chunked:K, overlap:W)";
    return NULL;
}

/* The `lnet train` option `key`, or NULL. target-loss is known before
 * lnet train knows it: the run then reports the unknown option. */
static const CliOpt *train_opt(const char *key)
{
    static const CliOpt target_loss = {"target-loss", "L", ""};
    static const CliOpt eval_examples = {"eval-examples", "E", ""};
    for (int i = 0; cli_train_opts[i].name; i++)
        if (strcmp(cli_train_opts[i].name, key) == 0)
            return &cli_train_opts[i];
    if (strcmp(key, "eval-examples") == 0)
        return &eval_examples;      /* the sweep's own: --eval-every E / batch per run */
    return strcmp(key, "target-loss") == 0 ? &target_loss : NULL;
}

static bool in_list(const char *key, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(key, *list) == 0)
            return true;
    return false;
}

/* A value of an option that takes a number: an integer (>= 0 for seeds,
 * else >= 1) or a positive number, checked here so that a typo fails
 * before anything runs. */
static bool check_number(const Sweep *s, const SweepKey *k, const char *v)
{
    static const char *const ints[] = {
        "epochs", "max-steps", "batch", "seed", "train-limit", "test-limit", "eval-every",
        "eval-examples",
        "threads", "queue", "overlap-delay", "microbatches", "replicas", "dead-block-steps",
        NULL};
    static const char *const reals[] = {"lr", "target-accuracy", "target-loss", NULL};
    char *end;
    errno = 0;
    if (in_list(k->key, ints)) {
        long x = strtol(v, &end, 10);
        long lo = strcmp(k->key, "seed") == 0 || strcmp(k->key, "overlap-delay") == 0 ||
                  strcmp(k->key, "dead-block-steps") == 0 ? 0 : 1;
        if (errno || end == v || *end || x < lo || x > 0x7fffffffL)
            return spec_error(s, k->line, "'%s' expects an integer of at least %ld, got '%s'",
                              k->key, lo, v);
    } else if (in_list(k->key, reals)) {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !(x > 0))
            return spec_error(s, k->line, "'%s' expects a number above 0, got '%s'", k->key,
                              v);
    }
    return true;
}

static const char *const method_names[] = {"backprop", "greedy", "chunked", "overlap"};

/* The index in method_names of the method value v ("chunked:2"), or -1. */
static int method_kind(const char *v)
{
    const char *colon = strchr(v, ':');
    size_t len = colon ? (size_t)(colon - v) : strlen(v);
    for (int i = 0; i < 4; i++)
        if (strlen(method_names[i]) == len && strncmp(v, method_names[i], len) == 0)
            return i;
    return -1;
}

/* A method value: backprop | greedy | chunked[:K] | overlap[:W]. */
static bool check_method(const Sweep *s, int line, const char *v)
{
    int kind = method_kind(v);
    const char *colon = strchr(v, ':');
    if (kind < 0)
        return spec_error(s, line, "unknown method '%s' (expected backprop, greedy, "
                          "chunked:K or overlap:W)", v);
    if (colon && kind < 2)
        return spec_error(s, line, "method '%s': %s takes no number", v, method_names[kind]);
    if (colon) {
        char *end;
        errno = 0;
        long n = strtol(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end || n < (kind == 2 ? 1 : 2) || n > 4096)
            return spec_error(s, line, "method '%s': expected %s:%s with a whole number %s",
                              v, method_names[kind], kind == 2 ? "K" : "W",
                              kind == 2 ? "of blocks (1 or more)" : "window (2 or more)");
    }
    return true;
}

void sweep_method_flags(const char *v, const char *m[3])
{
    int kind = method_kind(v);
    const char *colon = strchr(v, ':');
    IR_ASSERT(kind >= 0);
    m[0] = method_names[kind];
    m[1] = colon ? (kind == 2 ? "blocks" : "overlap") : NULL;
    m[2] = colon ? colon + 1 : NULL;
}

static char *trim(char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    char *e = p + strlen(p);
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return p;
}

/* Splits the text after '=' at commas into k's values. */
static bool split_values(const Sweep *s, SweepKey *k, char *p)
{
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        char *v = trim(p);
        if (!*v)
            return spec_error(s, k->line, "'%s' has an empty value%s", k->key,
                              comma || k->n ? " in its list" : "");
        if (k->n == SWEEP_MAX_VALUES)
            return spec_error(s, k->line, "'%s' has more than %d values", k->key, SWEEP_MAX_VALUES);
        k->v[k->n++] = v;
        if (!comma)
            return true;
        p = comma + 1;
    }
}

/* Checks one key line against the rules of the format. */
static bool check_key(Sweep *s, SweepKey *k)
{
    for (int i = 0; i < s->n_keys; i++)
        if (strcmp(s->k[i].key, k->key) == 0)
            return spec_error(s, k->line, "duplicate key '%s' (first given at line %d)",
                              k->key, s->k[i].line);
    const char *why = reserved(k->key);
    if (why)
        return spec_error(s, k->line, "'%s' %s", k->key, why);
    bool model = strcmp(k->key, "model") == 0, method = strcmp(k->key, "method") == 0;
    const CliOpt *o = model || method ? NULL : train_opt(k->key);
    if (!model && !method && !o)
        return spec_error(s, k->line, "unknown key '%s' (expected model, method or an lnet "
                          "train option)", k->key);
    if (o && !o->arg && k->n > 0)
        return spec_error(s, k->line, "'%s' is a flag: write it alone on its line", k->key);
    if ((model || (o && o->arg)) && k->n == 0)
        return spec_error(s, k->line, "'%s' needs a value: '%s = ...'", k->key, k->key);
    if (model && k->n > 1)
        return spec_error(s, k->line, "one model per sweep ('model' has %d values)", k->n);
    for (int i = 0; i < k->n; i++)
        if (!(method ? check_method(s, k->line, k->v[i]) : check_number(s, k, k->v[i])))
            return false;
    static const char *const always[] = {"method", "batch", "lr", "seed", NULL};
    k->axis = !model && (k->n > 1 || in_list(k->key, always));
    return true;
}

/* `key = value, ...` or a flag `key`, without its comment. */
static bool parse_line(Sweep *s, char *p, int line)
{
    char *hash = strchr(p, '#');
    if (hash)
        *hash = '\0';
    p = trim(p);
    if (!*p)
        return true;
    if (s->n_keys == SWEEP_MAX_KEYS)
        return spec_error(s, line, "more than %d keys", SWEEP_MAX_KEYS);
    SweepKey *k = &s->k[s->n_keys];
    *k = (SweepKey){.line = line};
    char *eq = strchr(p, '=');
    if (eq)
        *eq = '\0';
    char *key = trim(p);
    if (!*key || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(key))
        return spec_error(s, line, "expected 'key = value', got '%s'", key);
    k->key = key;
    if (eq && !split_values(s, k, eq + 1))
        return false;
    if (!check_key(s, k))
        return false;
    s->n_keys++;
    return true;
}

const SweepKey *sweep_key(const Sweep *s, const char *key)
{
    for (int i = 0; i < s->n_keys; i++)
        if (strcmp(s->k[i].key, key) == 0)
            return &s->k[i];
    return NULL;
}

/* Reads and checks the spec at s->path; the axes are ordered method first,
 * then as given. */
bool sweep_spec_read(Sweep *s)
{
    s->text = sweep_read_text(s->path);
    if (!s->text) {
        fprintf(stderr, "lnet sweep: error: cannot read '%s': %s\n", s->path, strerror(errno));
        return false;
    }
    int line = 1;
    for (char *p = s->text; p && *p; line++) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (!parse_line(s, p, line))
            return false;
        p = nl ? nl + 1 : NULL;
    }
    s->model = sweep_key(s, "model");
    if (!s->model)
        return spec_error(s, line - 1, "missing 'model = FILE'");
    if (access(s->model->v[0], R_OK) != 0)
        return spec_error(s, s->model->line, "cannot read model '%s': %s", s->model->v[0],
                          strerror(errno));
    s->method = sweep_key(s, "method");
    s->target = sweep_key(s, "target-accuracy") || sweep_key(s, "target-loss");
    const SweepKey *ee = sweep_key(s, "eval-examples");
    if (ee && sweep_key(s, "eval-every"))
        return spec_error(s, ee->line, "give eval-every or eval-examples, not both");
    if (ee && !sweep_key(s, "batch"))
        return spec_error(s, ee->line, "eval-examples needs 'batch' (it evaluates every "
                          "eval-examples / batch steps)");
    if (ee && ee->n > 1)
        return spec_error(s, ee->line, "eval-examples takes one value");
    if (s->target && !sweep_key(s, "eval-every") && !ee)
        fprintf(stderr, "lnet sweep: warning: %s: a target without eval-every is checked only "
                "at the end of each epoch (steps_to_target counts whole epochs)\n", s->path);
    if (s->method)
        s->axes[s->n_axes++] = (int)(s->method - s->k);
    for (int i = 0; i < s->n_keys; i++)
        if (s->k[i].axis && &s->k[i] != s->method)
            s->axes[s->n_axes++] = i;
    long runs = 1;
    for (int a = 0; a < s->n_axes && runs <= SWEEP_MAX_RUNS; a++)
        runs *= s->k[s->axes[a]].n;
    if (runs > SWEEP_MAX_RUNS)
        return spec_error(s, line - 1, "the grid has more than %d runs", SWEEP_MAX_RUNS);
    s->n_runs = (int)runs;
    return true;
}

/* ------------------------------------------------------- method costs */

/* Per-example FLOPs of the model trained with method value v (NULL: the
 * model's own method): the step's and its most expensive block's, as
 * `lnet cost` sums them. false after printing the model's errors. */
static bool method_cost(const Sweep *s, const char *v, double *total, double *max)
{
    static const CliOpt opts[] = {{"method", "M", ""}, {"blocks", "K", ""},
                                  {"overlap", "W", ""}, CLI_LOAD_PASS_OPT, {NULL, NULL, NULL}};
    static const CliCmd cmd = {"sweep", "FILE", "", opts, NULL};
    CliArgs a = {.file = s->model->v[0]};
    const char *m[3] = {NULL, NULL, NULL};
    const SweepKey *lp = sweep_key(s, "load-pass");
    if (v)
        sweep_method_flags(v, m);
    a.val[0] = m[0];
    a.val[m[1] && strcmp(m[1], "blocks") == 0 ? 1 : 2] = m[2];
    a.val[3] = lp ? lp->v[0] : NULL;
    Diag d;
    diag_init(&d);
    Model model = {0};
    bool ok = model_load(a.file, &d, &model) && cli_apply_overrides(&cmd, &a, model.g);
    if (ok) {
        PassCtx ctx;
        model_pass_ctx(&model, &ctx, &d);
        ok = pass_run_pipeline(model.g, PASS_LOCAL_PIPELINE ",autodiff", &ctx);
    }
    if (ok) {
        PassCost c;
        pass_cost(model.g, &c);
        *total = c.total;
        *max = c.max;
        pass_cost_fini(&c);
    } else {
        diag_print(&d, stderr);
    }
    model_free(&model);
    diag_fini(&d);
    return ok;
}

bool sweep_costs(Sweep *s)
{
    int n = s->method ? s->method->n : 1;
    for (int i = 0; i < n; i++) {
        const char *v = s->method ? s->method->v[i] : NULL;
        if (!method_cost(s, v, &s->flops[i], &s->max_flops[i]))
            return spec_error(s, s->method ? s->method->line : s->model->line,
                              "the model does not compile with method %s", v ? v : "(its own)");
    }
    return true;
}

