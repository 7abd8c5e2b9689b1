/* raw.c — raw datasets: examples kept as stored (float32, float64 or uint8,
 * mapped from a .npy file or read into memory from CIFAR files) and turned
 * into normalized floats one row at a time, when a batch is filled. Also the
 * .npy data set: an examples file and a labels file checked against the
 * model's input shape and classes. */
#include "rt_impl.h"
#include "data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void rt_dataset_row(const RtDataset *ds, int64_t e, float *dst)
{
    size_t feat = (size_t)ds->feat;
    if (!ds->raw) {
        memcpy(dst, ds->x + (size_t)e * feat, feat * sizeof *dst);
        return;
    }
    float mean = ds->norm.mean, inv = 1.0f / ds->norm.std;
    const uint8_t *src = ds->raw + (size_t)e * feat * (size_t)rt_npy_type_size(ds->raw_type);
    if (ds->raw_type == RT_NPY_U8) {
        for (size_t i = 0; i < feat; i++)
            dst[i] = ((float)src[i] / 255.0f - mean) * inv;
    } else if (ds->raw_type == RT_NPY_F32) {
        for (size_t i = 0; i < feat; i++) {
            float v;
            memcpy(&v, src + 4 * i, 4); /* the mapping need not be 4-byte aligned */
            dst[i] = (v - mean) * inv;
        }
    } else {
        for (size_t i = 0; i < feat; i++) {
            double v;
            memcpy(&v, src + 8 * i, 8);
            dst[i] = ((float)v - mean) * inv;
        }
    }
}

/* ---- the .npy data set ---- */

/* Labels of `n` examples as int32 in [0, n_classes). */
static bool npy_labels(const RtNpy *a, int64_t n, int n_classes, int32_t *y, char *err,
                       size_t cap)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t v;
        if (a->type == RT_NPY_U8) {
            v = a->data[i];
        } else if (a->type == RT_NPY_I32) {
            int32_t w;
            memcpy(&w, a->data + 4 * i, 4);
            v = w;
        } else {
            memcpy(&v, a->data + 8 * i, 8);
        }
        if (v < 0 || v >= n_classes)
            return rt_fail_path(err, cap, a->path, "label %lld of example %lld is out of range "
                                "[0, %d)", (long long)v, (long long)i, n_classes);
        y[i] = (int32_t)v;
    }
    return true;
}

static bool check_labels(const RtNpy *y, const RtNpy *x, char *err, size_t cap)
{
    if (y->type != RT_NPY_U8 && y->type != RT_NPY_I32 && y->type != RT_NPY_I64)
        return rt_fail_path(err, cap, y->path, "labels are %s: class ids must be uint8, int32 "
                            "or int64", rt_npy_type_name(y->type));
    if (y->rank != 1 || y->shape[0] != x->shape[0]) {
        char s[160];
        rt_npy_shape_str(y->shape, y->rank, s, sizeof s);
        return rt_fail_path(err, cap, y->path, "labels have shape %s, but %s holds %lld "
                            "examples: expected (%lld,)", s, x->path, (long long)x->shape[0],
                            (long long)x->shape[0]);
    }
    return true;
}

static bool check_examples(const RtNpy *x, const int64_t *dims, int rank, char *err, size_t cap)
{
    if (x->type != RT_NPY_F32 && x->type != RT_NPY_F64 && x->type != RT_NPY_U8)
        return rt_fail_path(err, cap, x->path, "examples are %s: they must be float32, float64 "
                            "or uint8", rt_npy_type_name(x->type));
    bool same = x->rank == rank + 1;
    for (int i = 0; same && i < rank; i++)
        same = x->shape[i + 1] == dims[i];
    if (same && x->shape[0] > 0)
        return true;
    char got[160], want[160];
    int64_t w[RT_NPY_MAX_RANK + 1] = {x->rank ? x->shape[0] : 0};
    memcpy(w + 1, dims, (size_t)rank * sizeof *dims);
    rt_npy_shape_str(x->shape, x->rank, got, sizeof got);
    rt_npy_shape_str(w, rank + 1, want, sizeof want);
    if (same)
        return rt_fail_path(err, cap, x->path, "holds no examples");
    return rt_fail_path(err, cap, x->path, "has shape %s, but the model's input takes %s "
                        "(examples x the input's shape)", got, want);
}

bool rt_npy_load(const char *x_path, const char *y_path, const int64_t *dims, int rank,
                 int64_t limit, int n_classes, RtDataset *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    RtNpy x, y;
    if (!rt_npy_open(x_path, &x, err, errcap))
        return false;
    bool ok = check_examples(&x, dims, rank, err, errcap);
    if (ok && !y_path) {        /* no labels: every example's is 0 */
        out->n = limit > 0 && limit < x.shape[0] ? limit : x.shape[0];
        out->y = calloc((size_t)out->n, sizeof *out->y);
        ok = out->y || rt_fail_path(err, errcap, x_path, "out of memory");
    } else if (ok && (ok = rt_npy_open(y_path, &y, err, errcap))) {
        ok = check_labels(&y, &x, err, errcap);
        out->n = limit > 0 && limit < x.shape[0] ? limit : x.shape[0];
        out->y = ok ? malloc((size_t)out->n * sizeof *out->y) : NULL;
        ok = ok && (out->y || rt_fail_path(err, errcap, y_path, "out of memory"));
        ok = ok && npy_labels(&y, out->n, n_classes, out->y, err, errcap);
        rt_npy_close(&y);
    }
    if (!ok) {
        rt_npy_close(&x);
        rt_dataset_fini(out);
        return false;
    }
    out->feat = x.count / x.shape[0];
    out->n_classes = n_classes;
    out->rows = rank >= 2 ? (int)dims[rank - 2] : 0;
    out->cols = rank >= 2 ? (int)dims[rank - 1] : 0;
    out->raw = x.data;
    out->raw_type = x.type;
    out->norm = (RtNorm){0, 1};
    out->map = x.map;           /* the dataset owns the mapping now */
    out->map_len = x.map_len;
    return true;
}
