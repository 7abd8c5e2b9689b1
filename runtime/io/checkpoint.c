/* checkpoint.c — see checkpoint.h. */
#include "checkpoint.h"
#include "rng.h"
#include "safetensors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N_COUNTERS = 4 };
static const char *const counter_names[N_COUNTERS] = {
    "lnet.step", "lnet.epoch", "lnet.step_in_epoch", "lnet.seed"};

static bool saved(const IrNode *n) { return n->op == IR_OP_PARAM || n->op == IR_OP_STATE; }

/* Overlap: a shared layer's parameters appear in two blocks, the earlier
 * window's copy and the owner's (the later block). The owner's is saved;
 * loading gives both the saved value. */
static bool owned_later(RtExec *const *ex, int K, int b, const char *name)
{
    for (int k = b + 1; k < K; k++)
        for (int i = 0; i < ex[k]->g->n_nodes; i++)
            if (saved(ex[k]->g->nodes[i]) && strcmp(ex[k]->g->nodes[i]->name, name) == 0)
                return true;
    return false;
}

static bool written(RtExec *const *ex, int K, int b, const IrNode *n)
{
    return saved(n) && !owned_later(ex, K, b, n->name);
}

static int count_saved(RtExec *const *ex, int K)
{
    int n = 0;
    for (int k = 0; k < K; k++)
        for (int i = 0; i < ex[k]->g->n_nodes; i++)
            n += written(ex, K, k, ex[k]->g->nodes[i]);
    return n;
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
    int n = N_COUNTERS + count_saved(ex, K);
    StTensor *t = calloc((size_t)n, sizeof *t);
    if (!t) {
        snprintf(err, errcap, "out of memory writing checkpoint '%s'", path);
        return false;
    }
    int64_t vals[N_COUNTERS] = {c->step, c->epoch, c->step_in_epoch, (int64_t)c->seed};
    int k = 0;
    for (int i = 0; i < N_COUNTERS; i++, k++)
        t[k] = (StTensor){.name = (char *)counter_names[i], .dtype = ST_I64, .rank = 1,
                          .shape = {1}, .data = &vals[i], .nbytes = 8};
    for (int b = 0; b < K; b++) {
        const IrGraph *g = ex[b]->g;
        for (int i = 0; i < g->n_nodes; i++) {
            const IrNode *nd = g->nodes[i];
            if (!written(ex, K, b, nd))
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
    const char *meta[] = {"format", "lnet-checkpoint-1", "model", ex[0]->g->model};
    bool ok = st_save(path, t, n, meta, 2, err, errcap);
    free(t);
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
    if (ok) {
        *c = (RtCounters){v[0], v[1], v[2], (uint64_t)v[3]};
    }
    st_free(&f);
    return ok;
}
