/* checkpoint.c — see checkpoint.h. */
#include "checkpoint.h"
#include "json.h"
#include "rng.h"
#include "safetensors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N_COUNTERS = 4 };
static const char *const counter_names[N_COUNTERS] = {
    "lnet.step", "lnet.epoch", "lnet.step_in_epoch", "lnet.seed"};

/* Optional (files before it lack it): the learning-rate schedule's span. */
#define HORIZON "lnet.lr_horizon"

static bool saved(const IrNode *n) { return n->op == IR_OP_PARAM || n->op == IR_OP_STATE; }

/* Overlap: a shared layer's parameters appear in two blocks, the earlier
 * window's copy and the owner's (the later block). The owner's is saved;
 * loading gives both the saved value. */
static bool owned_later(const IrGraph *const *gs, int K, int b, const char *name)
{
    for (int k = b + 1; k < K; k++)
        for (int i = 0; i < gs[k]->n_nodes; i++)
            if (saved(gs[k]->nodes[i]) && strcmp(gs[k]->nodes[i]->name, name) == 0)
                return true;
    return false;
}

static bool written(const IrGraph *const *gs, int K, int b, const IrNode *n)
{
    return saved(n) && !owned_later(gs, K, b, n->name);
}

static int count_saved(const IrGraph *const *gs, int K)
{
    int n = 0;
    for (int k = 0; k < K; k++)
        for (int i = 0; i < gs[k]->n_nodes; i++)
            n += written(gs, K, k, gs[k]->nodes[i]);
    return n;
}

/* The executors' graphs, in block order (caller frees). */
static const IrGraph **graphs_of(RtExec *const *ex, int K)
{
    const IrGraph **gs = malloc((size_t)(K > 0 ? K : 1) * sizeof *gs);
    for (int k = 0; gs && k < K; k++)
        gs[k] = ex[k]->g;
    return gs;
}

/* ----------------------------------------------------------- partition */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ull;
    return h;
}

void rt_partition_of(const IrGraph *const *blocks, int K, RtPartition *p)
{
    bool stages = K > 1 && blocks[0]->loss < 0;     /* backprop cut into stages */
    p->method = stages ? METHOD_BACKPROP : blocks[0]->local.method;
    p->blocks = K;
    p->overlap = p->method == METHOD_OVERLAP ? blocks[0]->local.overlap : 0;
    p->balance = p->method == METHOD_CHUNKED ? blocks[0]->local.balance : BALANCE_FLOPS;
    uint64_t h = 0xcbf29ce484222325ull;
    for (int k = 0; k < K; k++)
        for (int i = 0; i < blocks[k]->n_nodes; i++) {
            const IrNode *n = blocks[k]->nodes[i];
            if (!written(blocks, K, k, n))
                continue;
            unsigned char b[2] = {(unsigned char)k, (unsigned char)(k >> 8)};
            h = fnv(fnv(h, n->name, strlen(n->name) + 1), b, 2);
        }
    p->fingerprint = h;
}

bool rt_partition_equal(const RtPartition *rec, const RtPartition *run)
{
    if (rec->method != run->method)
        return false;
    return rec->method == METHOD_BACKPROP ||
           (rec->blocks == run->blocks && rec->overlap == run->overlap &&
            rec->fingerprint == run->fingerprint);
}

void rt_partition_str(const RtPartition *p, char *out, size_t cap)
{
    int n = snprintf(out, cap, "--method %s", ir_method_name(p->method));
    if (p->method != METHOD_BACKPROP && n >= 0 && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, " --blocks %d", p->blocks);
    if (p->method == METHOD_OVERLAP && n >= 0 && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, " --overlap %d", p->overlap);
    if (p->balance != BALANCE_FLOPS && n >= 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, " --balance %s", ir_balance_name(p->balance));
}

enum { META_PARTITION = 5 };    /* key/value pairs the record adds */

/* The record's metadata strings; bufs holds the numbers' text. */
static void partition_meta(const RtPartition *p, const char **kv, char (*bufs)[24])
{
    snprintf(bufs[0], 24, "%d", p->blocks);
    snprintf(bufs[1], 24, "%d", p->overlap);
    snprintf(bufs[2], 24, "%016llx", (unsigned long long)p->fingerprint);
    const char *v[] = {"lnet.method", ir_method_name(p->method), "lnet.blocks", bufs[0],
                       "lnet.overlap", bufs[1], "lnet.balance", ir_balance_name(p->balance), "lnet.partition",
                       bufs[2]};
    memcpy(kv, v, sizeof v);
}

/* A decimal in [lo, hi], the whole string. */
static bool meta_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

/* Metadata value by key, a string of at most cap - 1 bytes, or NULL. */
static const char *meta_str(const RtJson *m, const char *key, size_t cap)
{
    const RtJson *v = rt_json_get(m, key);
    return v && v->kind == RT_JSON_STRING && v->len < cap && strlen(v->str) == v->len ? v->str
                                                                                     : NULL;
}

static bool parse_partition(const RtJson *meta, RtPartition *p)
{
    const char *m = meta_str(meta, "lnet.method", 32), *b = meta_str(meta, "lnet.blocks", 24),
               *w = meta_str(meta, "lnet.overlap", 24), *fp = meta_str(meta, "lnet.partition", 24),
               *bal = meta_str(meta, "lnet.balance", 24);
    int k = 0;
    while (bal && k < BALANCE_COUNT && strcmp(ir_balance_name((IrBalance)k), bal) != 0)
        k++;
    if (!m || !b || !w || !fp || !bal || k == BALANCE_COUNT)
        return false;
    p->balance = (IrBalance)k;
    int i = 0;
    while (i < METHOD_COUNT && strcmp(ir_method_name((IrMethod)i), m) != 0)
        i++;
    char *end;
    p->method = (IrMethod)i;
    p->fingerprint = strtoull(fp, &end, 16);
    return i < METHOD_COUNT && strlen(fp) == 16 && !*end && meta_int(b, 1, 1 << 16, &p->blocks) &&
           meta_int(w, 0, 1 << 16, &p->overlap);
}

/* 1 record read, 0 none (neither lnet.method nor lnet.blocks), -1 a bad one
 * or no memory to read it (st_load checked that the metadata parses). */
static int read_partition(const StFile *f, const char *path, RtPartition *p, char *err,
                          size_t errcap)
{
    if (!f->metadata_json)
        return 0;
    RtJson meta;
    char jerr[128];
    if (!rt_json_parse(f->metadata_json, strlen(f->metadata_json), &meta, jerr, sizeof jerr)) {
        snprintf(err, errcap, "out of memory reading checkpoint '%s'", path);
        return -1;
    }
    int r = !rt_json_get(&meta, "lnet.method") && !rt_json_get(&meta, "lnet.blocks") ? 0
            : parse_partition(&meta, p)                                              ? 1
                                                                                     : -1;
    rt_json_free(&meta);
    if (r < 0)
        snprintf(err, errcap, "checkpoint '%s': its partition record (lnet.method, lnet.blocks, "
                 "lnet.overlap, lnet.balance, lnet.partition) is damaged", path);
    return r;
}

int rt_checkpoint_partition(const char *path, RtPartition *p, char *err, size_t errcap)
{
    StFile f;
    if (!st_load_metadata(path, &f, err, errcap))
        return -1;
    int r = read_partition(&f, path, p, err, errcap);
    st_free(&f);
    return r;
}

/* The file's record, if any, must be the executors' partition. */
static bool check_partition(const StFile *f, const IrGraph *const *gs, int K, const char *path,
                            char *err, size_t errcap)
{
    RtPartition rec, run;
    int r = read_partition(f, path, &rec, err, errcap);
    if (r <= 0)
        return r == 0;
    rt_partition_of(gs, K, &run);
    if (rt_partition_equal(&rec, &run))
        return true;
    char a[96], b[96];
    rt_partition_str(&rec, a, sizeof a);
    rt_partition_str(&run, b, sizeof b);
    if (strcmp(a, b) == 0)
        snprintf(err, errcap, "checkpoint '%s' was trained with %s but another cut of the model "
                 "into blocks (its blocks hold other tensors: a changed model?)", path, a);
    else
        snprintf(err, errcap, "checkpoint '%s' was trained with %s, but this run has %s", path,
                 a, b);
    return false;
}

/* Index of the first NaN or infinity among n floats, or -1. */
static int64_t first_non_finite(const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return i;
    return -1;
}

/* A tensor that is not all finite makes the whole checkpoint invalid. */
static bool check_finite(const char *what, const char *path, const char *name, const float *v,
                         int64_t n, char *err, size_t errcap)
{
    int64_t i = first_non_finite(v, n);
    if (i < 0)
        return true;
    snprintf(err, errcap, "checkpoint '%s' %s: tensor '%s' holds %s (element %lld)", path, what,
             name, isnan(v[i]) ? "NaN" : "an infinity", (long long)i);
    return false;
}

bool rt_checkpoint_save(const char *path, RtExec *const *ex, int K, const RtCounters *c,
                        char *err, size_t errcap)
{
    for (int b = 0; b < K; b++)
        for (int i = 0; i < ex[b]->g->n_nodes; i++) {
            const IrNode *nd = ex[b]->g->nodes[i];
            if (saved(nd) && !check_finite("not written, the previous one is kept", path,
                                           nd->name, rt_exec_buffer(ex[b], i),
                                           ir_type_numel(&nd->type), err, errcap))
                return false;
        }
    const IrGraph **gs = graphs_of(ex, K);
    int64_t horizon = c->lr_horizon;    /* recorded only when the schedule has one */
    int n = gs ? N_COUNTERS + (horizon > 0) + count_saved(gs, K) : 0;
    StTensor *t = gs ? calloc((size_t)n, sizeof *t) : NULL;
    if (!t) {
        free(gs);
        snprintf(err, errcap, "out of memory writing checkpoint '%s'", path);
        return false;
    }
    int64_t vals[N_COUNTERS] = {c->step, c->epoch, c->step_in_epoch, (int64_t)c->seed};
    int k = 0;
    for (int i = 0; i < N_COUNTERS; i++, k++)
        t[k] = (StTensor){.name = (char *)counter_names[i], .dtype = ST_I64, .rank = 1,
                          .shape = {1}, .data = &vals[i], .nbytes = 8};
    if (horizon > 0)
        t[k++] = (StTensor){.name = (char *)HORIZON, .dtype = ST_I64, .rank = 1,
                            .shape = {1}, .data = &horizon, .nbytes = 8};
    for (int b = 0; b < K; b++) {
        const IrGraph *g = ex[b]->g;
        for (int i = 0; i < g->n_nodes; i++) {
            const IrNode *nd = g->nodes[i];
            if (!written(gs, K, b, nd))
                continue;
            StTensor *s = &t[k++];
            s->name = (char *)nd->name;
            s->dtype = ST_F32;
            s->rank = nd->type.rank;
            for (int d = 0; d < nd->type.rank; d++)
                s->shape[d] = nd->type.dim[d];
            s->data = rt_exec_buffer(ex[b], i);
            s->nbytes = (size_t)ir_type_numel(&nd->type) * 4;
        }
    }
    RtPartition p;
    rt_partition_of(gs, K, &p);
    char bufs[3][24];
    const char *meta[4 + 2 * META_PARTITION] = {"format", "lnet-checkpoint-1", "model",
                                                ex[0]->g->model};
    partition_meta(&p, meta + 4, bufs);
    bool ok = st_save(path, t, n, meta, 2 + META_PARTITION, err, errcap);
    free(t);
    free(gs);
    return ok;
}

static bool check_tensor(const StFile *f, const IrNode *nd, const char *path, char *err,
                         size_t errcap)
{
    const StTensor *t = st_find(f, nd->name);
    if (!t) {
        snprintf(err, errcap, "checkpoint '%s' has no tensor '%s' (a different model?)", path,
                 nd->name);
        return false;
    }
    bool same = t->dtype == ST_F32 && t->rank == nd->type.rank;
    for (int d = 0; same && d < t->rank; d++)
        same = t->shape[d] == nd->type.dim[d];
    if (!same) {
        char want[96];
        ir_type_str(&nd->type, want, sizeof want);
        snprintf(err, errcap, "checkpoint '%s': tensor '%s' does not have the model's shape %s",
                 path, nd->name, want);
        return false;
    }
    return check_finite("is damaged", path, nd->name, t->data, (int64_t)(t->nbytes / 4), err,
                        errcap);
}

static bool read_counter(const StFile *f, const char *name, int64_t *out, const char *path,
                         char *err, size_t errcap)
{
    const StTensor *t = st_find(f, name);
    if (!t || t->dtype != ST_I64 || t->nbytes != 8) {
        snprintf(err, errcap, "checkpoint '%s' has no valid '%s' counter (not an lnet "
                 "checkpoint?)", path, name);
        return false;
    }
    memcpy(out, t->data, 8);
    if (*out < 0 || *out > RT_COUNTER_MAX) {
        snprintf(err, errcap, "checkpoint '%s': counter '%s' is %lld, outside [0, 2^53]", path,
                 name, (long long)*out);
        return false;
    }
    return true;
}

/* Every epoch ended after at least one step, so step >= epoch + step_in_epoch. */
static bool check_counters(const int64_t *v, const char *path, char *err, size_t errcap)
{
    if (v[0] >= v[1] + v[2])
        return true;
    snprintf(err, errcap, "checkpoint '%s': counters are inconsistent (step %lld, epoch %lld, "
             "step in epoch %lld: the step count is below epoch + step in epoch)", path,
             (long long)v[0], (long long)v[1], (long long)v[2]);
    return false;
}

bool rt_checkpoint_load(const char *path, RtExec *const *ex, int K, RtCounters *c, char *err,
                        size_t errcap)
{
    StFile f;
    st_remove_stale_temps(path);
    if (!st_load(path, &f, err, errcap))
        return false;
    int64_t v[N_COUNTERS];
    bool ok = true;
    for (int i = 0; ok && i < N_COUNTERS; i++)
        ok = read_counter(&f, counter_names[i], &v[i], path, err, errcap);
    ok = ok && check_counters(v, path, err, errcap);
    const IrGraph **gs = ok ? graphs_of(ex, K) : NULL;
    if (ok && !gs) {
        snprintf(err, errcap, "out of memory reading checkpoint '%s'", path);
        ok = false;
    }
    ok = ok && check_partition(&f, gs, K, path, err, errcap);
    free(gs);
    for (int b = 0; ok && b < K; b++)
        for (int i = 0; ok && i < ex[b]->g->n_nodes; i++)
            if (saved(ex[b]->g->nodes[i]))
                ok = check_tensor(&f, ex[b]->g->nodes[i], path, err, errcap);
    for (int b = 0; ok && b < K; b++) {
        for (int i = 0; i < ex[b]->g->n_nodes; i++) {
            if (!saved(ex[b]->g->nodes[i]))
                continue;
            const StTensor *t = st_find(&f, ex[b]->g->nodes[i]->name);
            memcpy(rt_exec_buffer(ex[b], i), t->data, t->nbytes);
        }
    }
    int64_t horizon = 0;
    if (ok && st_find(&f, HORIZON))
        ok = read_counter(&f, HORIZON, &horizon, path, err, errcap);
    if (ok) {
        *c = (RtCounters){v[0], v[1], v[2], (uint64_t)v[3], horizon};
    }
    st_free(&f);
    return ok;
}
