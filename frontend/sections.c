/* sections.c — the `train { }` and `local { }` sections.
 *
 * Each section is a list of `key = value`; keys come from a table (unknown or
 * repeated keys are errors at the key), values are checked at the value and
 * stored in g->train / g->local (local keys with the value's location, for the
 * passes' messages), which start from ir_*_cfg_default. Numbers
 * are expressions evaluated in the global scope (`batch = 2 * 64`).
 */
#include <math.h>
#include <string.h>

#include "fe_impl.h"

typedef bool (*EntryFn)(Lower *L, const AstArg *a);

typedef struct Key {
    const char *name;
    EntryFn fn;
} Key;

/* Describes a value for "got ..." (numbers, names, calls, strings). */
static const char *got(Lower *L, const AstExpr *e, char *buf, size_t cap)
{
    if (e->kind == AST_NAME || e->kind == AST_CALL)
        snprintf(buf, cap, "'%.64s%s'", e->str, e->kind == AST_CALL ? "(...)" : "");
    else if (e->kind == AST_STR)
        snprintf(buf, cap, "a string");
    else {
        Value v = lower_expr(L, e);
        if (v.kind == VAL_NUM)
            snprintf(buf, cap, "%g", v.num);
        else
            snprintf(buf, cap, "a tensor");
    }
    return buf;
}

static bool bad_value(Lower *L, const AstArg *a, const char *expected)
{
    char buf[128];
    lower_error(L, a->value->loc, "bad value for '%s': expected %s, got %s", a->name, expected,
                got(L, a->value, buf, sizeof buf));
    return false;
}

/* A number value in [lo, hi]; integer when `integer`. */
static bool entry_num(Lower *L, const AstArg *a, double lo, double hi, bool integer, double *out)
{
    const AstExpr *e = a->value;
    Value v = {.kind = VAL_NUM, .num = NAN};
    if (e->kind != AST_CALL && e->kind != AST_STR &&
        (e->kind != AST_NAME || scope_find(L->scope, e->str))) {
        v = lower_expr(L, e);
        if (v.kind == VAL_NONE)
            return false;
    }
    if (v.kind == VAL_NUM && v.num >= lo && v.num <= hi && (!integer || v.num == floor(v.num))) {
        *out = v.num;
        return true;
    }
    char what[96];
    if (integer)
        snprintf(what, sizeof what, "an integer >= %g", lo);
    else
        snprintf(what, sizeof what, "a number >= %g", lo);
    return bad_value(L, a, what);
}

/* One of a list of names (or the same word as a string). */
static int entry_word(Lower *L, const AstArg *a, const char *const *words, int n,
                      const char *expected)
{
    const AstExpr *e = a->value;
    if (e->kind == AST_NAME || e->kind == AST_STR)
        for (int i = 0; i < n; i++)
            if (strcmp(e->str, words[i]) == 0)
                return i;
    bad_value(L, a, expected);
    return -1;
}

/* data = npy(x = "x.npy", y = "y.npy", test_x = "xt.npy", test_y = "yt.npy"):
 * examples and labels of each split, kept as written (the feed resolves them
 * against `path`). */
static bool data_npy(Lower *L, const AstArg *a)
{
    static const ArgSpec FILES[] = {{"x", ARG_AST, true, 0}, {"y", ARG_AST, true, 0},
                                    {"test_x", ARG_AST, true, 0}, {"test_y", ARG_AST, true, 0}};
    static const CallSpec spec = {"npy", FILES, 4, false, 0};
    Bound b;
    if (!fe_bind(L, &spec, a->value, &b))
        return false;
    for (int i = 0; i < 4; i++) {
        if (b.ast[i]->kind != AST_STR || !b.ast[i]->str[0]) {
            lower_error(L, b.loc[i], "argument '%s' of 'npy' must be a file name in quotes",
                        FILES[i].name);
            return false;
        }
        L->g->train.npy[i] = ir_arena_strdup(&L->g->arena, b.ast[i]->str);
    }
    L->g->train.data = "npy";
    return true;
}

/* data = fashion_mnist | mnist | text | cifar10 | cifar100 | npy(...) */
static bool key_data(Lower *L, const AstArg *a)
{
    static const char *const sets[] = {"fashion_mnist", "mnist", "text", "cifar10", "cifar100"};
    if (a->value->kind == AST_CALL && strcmp(a->value->str, "npy") == 0)
        return data_npy(L, a);
    int i = entry_word(L, a, sets, 5,
                       "fashion_mnist, mnist, text, cifar10, cifar100 or npy(x = \"x.npy\", "
                       "y = \"y.npy\", test_x = ..., test_y = ...)");
    if (i >= 0)
        L->g->train.data = sets[i];
    return i >= 0;
}

static bool key_path(Lower *L, const AstArg *a)
{
    if (a->value->kind != AST_STR)
        return bad_value(L, a, "a string");
    L->g->train.data_path = ir_arena_strdup(&L->g->arena, a->value->str);
    return true;
}

/* mean = number: subtracted from every input value before dividing by std. */
static bool key_mean(Lower *L, const AstArg *a)
{
    double v;
    if (!entry_num(L, a, -1e30, 1e30, false, &v))
        return false;
    L->g->train.mean = (float)v;
    return true;
}

static bool key_std(Lower *L, const AstArg *a)
{
    double v;
    if (!entry_num(L, a, 1e-30, 1e30, false, &v))
        return false;
    L->g->train.std = (float)v;
    return true;
}

/* crop = pixels of zero padding on each side before a random crop (0: off). */
static bool key_crop(Lower *L, const AstArg *a)
{
    double v;
    if (!entry_num(L, a, 0, 64, true, &v))
        return false;
    L->g->train.crop = (int)v;
    return true;
}

/* flip = true | false (or 1 | 0): random horizontal flip. */
static bool key_flip(Lower *L, const AstArg *a)
{
    static const char *const words[] = {"false", "true"};
    const AstExpr *e = a->value;
    if (e->kind == AST_NUM && (e->num == 0 || e->num == 1)) {
        L->g->train.flip = e->num == 1;
        return true;
    }
    int i = entry_word(L, a, words, 2, "true or false");
    if (i >= 0)
        L->g->train.flip = i == 1;
    return i >= 0;
}

/* npy files without `path` start at the model file's folder. */
static void data_default_path(Lower *L)
{
    IrTrainCfg *t = &L->g->train;
    if (strcmp(t->data, "npy") != 0 || t->data_path || L->file < 0 || L->file >= L->d->n_srcs)
        return;
    const char *name = L->d->srcs[L->file].name;
    const char *slash = strrchr(name, '/');
    t->data_path = slash ? ir_arena_strndup(&L->g->arena, name, (size_t)(slash - name + (slash == name)))
                         : ".";
}

static bool key_batch(Lower *L, const AstArg *a)
{
    double v;
    if (!entry_num(L, a, 1, 1 << 24, true, &v))
        return false;
    L->g->train.batch = (int)v;
    return true;
}

static bool key_epochs(Lower *L, const AstArg *a)
{
    double v;
    if (!entry_num(L, a, 1, 1 << 24, true, &v))
        return false;
    L->g->train.epochs = (int)v;
    return true;
}

static bool key_seed(Lower *L, const AstArg *a)
{
    double v;
    if (!entry_num(L, a, 0, 9007199254740992.0, true, &v))
        return false;
    L->g->train.seed = (uint64_t)v;
    return true;
}

static bool key_clip(Lower *L, const AstArg *a)
{
    double v;
    if (!entry_num(L, a, 0, 1e30, false, &v))
        return false;
    L->g->train.clip = (float)v;
    return true;
}

/* Treats a bare name (`adam`) as a call without arguments (`adam()`). */
static AstExpr as_call(const AstExpr *e)
{
    AstExpr c = *e;
    if (c.kind == AST_NAME) {
        c.kind = AST_CALL;
        c.args = NULL;
        c.n_args = 0;
    }
    return c;
}

/* A number argument of an optimizer or schedule in [lo, hi). */
static bool arg_range(Lower *L, const CallSpec *s, const Bound *b, int i, double lo, double hi)
{
    double v = b->v[i].num;
    if (v >= lo && v < hi)
        return true;
    lower_error(L, b->loc[i], "argument '%s' of '%s' must be in [%g, %g), got %g",
                s->params[i].name, s->name, lo, hi, v);
    return false;
}

#define OPT_N(n, d) {n, ARG_NUM, false, d}
static const ArgSpec SGD[] = {{"lr", ARG_NUM, true, 0}, OPT_N("momentum", 0),
                              OPT_N("nesterov", 0), OPT_N("weight_decay", 0)};
static const ArgSpec ADAM[] = {OPT_N("lr", 1e-3), OPT_N("beta1", 0.9), OPT_N("beta2", 0.999),
                               OPT_N("eps", 1e-8), OPT_N("weight_decay", 0)};
static const ArgSpec ADAMW[] = {OPT_N("lr", 1e-3), OPT_N("beta1", 0.9), OPT_N("beta2", 0.999),
                                OPT_N("eps", 1e-8), OPT_N("weight_decay", 0.01)};

/* optimizer = sgd(lr, momentum=0, nesterov=0, weight_decay=0) | adam(...) | adamw(...) */
static bool key_optimizer(Lower *L, const AstArg *a)
{
    static const CallSpec specs[] = {{"sgd", SGD, 4, false, 0}, {"adam", ADAM, 5, false, 0},
                                     {"adamw", ADAMW, 5, false, 0}};
    static const IrOptimizer kinds[] = {OPT_SGD, OPT_ADAM, OPT_ADAMW};
    const AstExpr *e = a->value;
    int k = -1;
    for (int i = 0; i < 3 && (e->kind == AST_NAME || e->kind == AST_CALL); i++)
        if (strcmp(e->str, specs[i].name) == 0)
            k = i;
    if (k < 0)
        return bad_value(L, a, "sgd(lr, ...), adam(...) or adamw(...)");
    AstExpr call = as_call(e);
    Bound b;
    const CallSpec *s = &specs[k];
    if (!fe_bind(L, s, &call, &b))
        return false;
    if (!(b.v[0].num > 0)) {
        lower_error(L, b.loc[0], "argument 'lr' of '%s' must be > 0, got %g", s->name, b.v[0].num);
        return false;
    }
    IrTrainCfg *t = &L->g->train;
    t->optimizer = kinds[k];
    t->lr = (float)b.v[0].num;
    if (k == 0) {
        int nesterov;
        if (!arg_range(L, s, &b, 1, 0, 1) || !fe_arg_int(L, s, &b, 2, 0, 1, &nesterov) ||
            !arg_range(L, s, &b, 3, 0, 1))
            return false;
        t->momentum = (float)b.v[1].num;
        t->nesterov = nesterov;
        t->weight_decay = (float)b.v[3].num;
        return true;
    }
    if (!arg_range(L, s, &b, 1, 0, 1) || !arg_range(L, s, &b, 2, 0, 1) ||
        !arg_range(L, s, &b, 3, 1e-30, 1) || !arg_range(L, s, &b, 4, 0, 1))
        return false;
    t->beta1 = (float)b.v[1].num;
    t->beta2 = (float)b.v[2].num;
    t->eps = (float)b.v[3].num;
    t->weight_decay = (float)b.v[4].num;
    return true;
}

/* schedule = constant | warmup(steps) | cosine(warmup=0) */
static bool key_schedule(Lower *L, const AstArg *a)
{
    static const ArgSpec NONE_ARGS[] = {{"unused", ARG_NUM, false, 0}};
    static const ArgSpec STEPS[] = {{"steps", ARG_NUM, true, 0}};
    static const ArgSpec WARM[] = {{"warmup", ARG_NUM, false, 0}};
    static const CallSpec specs[] = {{"constant", NONE_ARGS, 0, false, 0},
                                     {"warmup", STEPS, 1, false, 0},
                                     {"cosine", WARM, 1, false, 0}};
    static const IrLrSchedule kinds[] = {LR_CONSTANT, LR_WARMUP, LR_COSINE};
    const AstExpr *e = a->value;
    int k = -1;
    for (int i = 0; i < 3 && (e->kind == AST_NAME || e->kind == AST_CALL); i++)
        if (strcmp(e->str, specs[i].name) == 0)
            k = i;
    if (k < 0)
        return bad_value(L, a, "constant, warmup(steps) or cosine(warmup=0)");
    AstExpr call = as_call(e);
    Bound b;
    int steps = 0;
    if (!fe_bind(L, &specs[k], &call, &b) ||
        (k > 0 && !fe_arg_int(L, &specs[k], &b, 0, 0, 1 << 30, &steps)))
        return false;
    L->g->train.lr_schedule = kinds[k];
    L->g->train.warmup = steps;
    return true;
}

/* method = backprop | greedy | chunked | overlap | NAME: any other name is a
 * plug-in's method, looked up when the model is partitioned (plug-ins load
 * after the model compiles: --load-pass). */
static bool key_method(Lower *L, const AstArg *a)
{
    static const char *const names[] = {"backprop", "greedy", "chunked", "overlap"};
    static const IrMethod kinds[] = {METHOD_BACKPROP, METHOD_GREEDY, METHOD_CHUNKED,
                                     METHOD_OVERLAP};
    static const char *const schedules[] = {"local", "pipeline", "data-parallel"};
    const AstExpr *e = a->value;
    bool word = e->kind == AST_NAME || e->kind == AST_STR;
    int i = 0;
    while (word && i < 4 && strcmp(e->str, names[i]) != 0)
        i++;
    for (int k = 0; word && i == 4 && k < 3; k++)
        if (strcmp(e->str, schedules[k]) == 0) {
            lower_error(L, e->loc, "bad value for 'method': '%s' is a schedule (lnet train "
                        "--schedule %s), not a method; expected backprop, greedy, chunked, "
                        "overlap or a plug-in's method", e->str, e->str);
            return false;
        }
    if (!word)
        return bad_value(L, a, "backprop, greedy, chunked, overlap or a plug-in's method");
    L->g->local.method = i < 4 ? kinds[i] : METHOD_CHUNKED;
    L->g->local.method_name = i < 4 ? NULL : ir_arena_strdup(&L->g->arena, e->str);
    L->g->local.method_loc = e->loc;
    return true;
}

/* balance = flops | memory | time */
static bool key_balance(Lower *L, const AstArg *a)
{
    static const char *const names[] = {"flops", "memory", "time"};
    int i = entry_word(L, a, names, 3, "flops, memory or time");
    if (i >= 0) {
        L->g->local.balance = (IrBalance)i;
        L->g->local.balance_loc = a->value->loc;
    }
    return i >= 0;
}

static bool key_blocks(Lower *L, const AstArg *a)
{
    double v;
    if (!entry_num(L, a, 1, 1 << 16, true, &v))
        return false;
    L->g->local.blocks = (int)v;
    L->g->local.blocks_loc = a->value->loc;
    return true;
}

static bool key_overlap(Lower *L, const AstArg *a)
{
    double v;
    if (!entry_num(L, a, 1, 1 << 16, true, &v))
        return false;
    L->g->local.overlap = (int)v;
    L->g->local.overlap_loc = a->value->loc;
    return true;
}

/* The def a head key names (one tensor parameter), or NULL after an error. */
static const AstStmt *head_def(Lower *L, const AstArg *a)
{
    if (a->value->kind != AST_NAME) {
        bad_value(L, a, "the name of a def");
        return NULL;
    }
    const Sym *y = scope_find(&L->defs, a->value->str);
    if (!y) {
        lower_error(L, a->value->loc, "unknown def '%.64s' for '%s'", a->value->str, a->name);
        return NULL;
    }
    if (y->def->n_params != 1) {
        lower_error(L, a->value->loc, "head '%.64s' must take exactly one argument, it takes %d",
                    y->def->name, y->def->n_params);
        return NULL;
    }
    return y->def;
}

/* head = NAME of a def taking one tensor */
static bool key_head(Lower *L, const AstArg *a)
{
    const AstStmt *def = head_def(L, a);
    if (!def)
        return false;
    L->g->local.head = ir_arena_strdup(&L->g->arena, def->name);
    L->g->local.head_loc = a->value->loc;
    return true;
}

/* The block number of a per-block head key "headK" (1-based), else 0. */
static int block_head_key(const char *name)
{
    if (strncmp(name, "head", 4) != 0 || name[4] < '1' || name[4] > '9')
        return 0;
    int k = 0;
    for (const char *c = name + 4; *c; c++) {
        if (*c < '0' || *c > '9' || k > 1000000)
            return 0;
        k = 10 * k + (*c - '0');
    }
    return k;
}

/* headK = NAME: block K's own head (K in 1..IR_MAX_BLOCK_HEADS) */
static void key_block_head(Lower *L, const AstArg *a, int k)
{
    IrLocalCfg *l = &L->g->local;
    if (k > IR_MAX_BLOCK_HEADS) {
        lower_error(L, a->name_loc, "'%s': blocks 1 to %d may name their own head", a->name,
                    IR_MAX_BLOCK_HEADS);
        return;
    }
    if (l->head_of[k - 1]) {
        lower_error(L, a->name_loc, "duplicate key '%s' in local section", a->name);
        diag_note(L->d, l->head_of_loc[k - 1], "'%s' was first set here", a->name);
        return;
    }
    const AstStmt *def = head_def(L, a);
    if (!def)
        return;
    l->head_of[k - 1] = ir_arena_strdup(&L->g->arena, def->name);
    l->head_of_loc[k - 1] = a->value->loc;
}

static const Key train_keys[] = {
    {"data", key_data}, {"path", key_path}, {"optimizer", key_optimizer},
    {"batch", key_batch}, {"epochs", key_epochs}, {"schedule", key_schedule},
    {"seed", key_seed}, {"clip", key_clip}, {"mean", key_mean}, {"std", key_std},
    {"crop", key_crop}, {"flip", key_flip},
};
static const Key local_keys[] = {
    {"method", key_method}, {"blocks", key_blocks}, {"overlap", key_overlap},
    {"head", key_head}, {"balance", key_balance},
};

/* Is name an argument of some optimizer (a common misplaced key)? */
static bool find_opt_arg(const char *name)
{
    for (size_t i = 0; i < sizeof ADAMW / sizeof ADAMW[0]; i++)
        if (strcmp(ADAMW[i].name, name) == 0)
            return true;
    return strcmp(name, "momentum") == 0 || strcmp(name, "nesterov") == 0;
}

/* Runs each entry's key function once; unknown and repeated keys are errors. */
static void run_section(Lower *L, const AstStmt *s, const char *what, const Key *keys, int n)
{
    const AstArg *seen[16] = {0};
    const char *names[16];
    for (int i = 0; i < n; i++)
        names[i] = keys[i].name;
    for (const AstArg *a = s->entries; a; a = a->next) {
        int k = -1;
        for (int i = 0; i < n; i++)
            if (strcmp(a->name, keys[i].name) == 0)
                k = i;
        bool opt_arg = strcmp(what, "train") == 0 && find_opt_arg(a->name);
        int block = strcmp(what, "local") == 0 ? block_head_key(a->name) : 0;
        if (k < 0 && block > 0) {
            key_block_head(L, a, block);
        } else if (k < 0 && opt_arg) {
            lower_error(L, a->name_loc, "unknown key '%.64s' in train section ('%s' is an "
                        "argument of the optimizer: optimizer = adam(%s = ...))", a->name,
                        a->name, a->name);
        } else if (k < 0) {
            const char *near = fe_suggest(a->name, names, n);
            lower_error(L, a->name_loc, "unknown key '%.64s' in %s section%s%s%s", a->name, what,
                        near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        } else if (seen[k]) {
            lower_error(L, a->name_loc, "duplicate key '%s' in %s section", a->name, what);
            diag_note(L->d, seen[k]->name_loc, "'%s' was first set here", a->name);
        } else {
            seen[k] = a;
            keys[k].fn(L, a);
        }
    }
}

void section_train(Lower *L, const AstStmt *s)
{
    if (L->train_loc.line > 0) {
        lower_error(L, s->loc, "duplicate 'train' section");
        diag_note(L->d, L->train_loc, "the first 'train' section is here");
        return;
    }
    L->train_loc = L->g->train.loc = s->loc;
    run_section(L, s, "train", train_keys, (int)(sizeof train_keys / sizeof train_keys[0]));
    data_default_path(L);
}

void section_local(Lower *L, const AstStmt *s)
{
    if (L->local_loc.line > 0) {
        lower_error(L, s->loc, "duplicate 'local' section");
        diag_note(L->d, L->local_loc, "the first 'local' section is here");
        return;
    }
    L->local_loc = L->g->local.loc = s->loc;
    run_section(L, s, "local", local_keys, (int)(sizeof local_keys / sizeof local_keys[0]));
}
