/* onnx_pb.c — the bounded protobuf reader behind onnx_pb.h.
 *
 * Protobuf's wire format is a sequence of (field number, wire type) keys,
 * each followed by a varint, 8 or 4 bytes, or a length and that many bytes
 * (a nested message, a string, or a packed repeated field). A reader `Rd` is
 * a [p, end) window; every read checks it and sets `bad` instead of reading
 * past it, and a nested message is read through a window cut to its length.
 * Unknown fields are skipped by wire type, so newer ONNX files still read.
 */
#include "onnx_pb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE (64 << 20)

typedef struct {
    const uint8_t *p, *end;
    bool bad;
} Rd;

static uint64_t varint(Rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            r->bad = true;
            return 0;
        }
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

static uint64_t fixed(Rd *r, int bytes)
{
    if (r->end - r->p < bytes) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | r->p[i];
    r->p += bytes;
    return v;
}

static float f32_of(uint64_t bits)
{
    uint32_t u = (uint32_t)bits;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double f64_of(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

/* A length-delimited field's payload as its own window. */
static Rd sub(Rd *r)
{
    uint64_t n = varint(r);
    Rd s = {r->p, r->p, r->bad};
    if (r->bad || n > (uint64_t)(r->end - r->p)) {
        r->bad = s.bad = true;
        return s;
    }
    s.end = r->p + n;
    r->p += n;
    return s;
}

/* The next key; false at the end of the window (or on a bad read). */
static bool key(Rd *r, int *field, int *wire)
{
    if (r->bad || r->p >= r->end)
        return false;
    uint64_t k = varint(r);
    *field = (int)(k >> 3 & 0x1fffffff);
    *wire = (int)(k & 7);
    return !r->bad;
}

static void skip(Rd *r, int wire)
{
    switch (wire) {
    case 0: varint(r); break;
    case 1: fixed(r, 8); break;
    case 2: sub(r); break;
    case 5: fixed(r, 4); break;
    default: r->bad = true;     /* groups (3, 4) are not used by onnx.proto */
    }
}

/* Copies a string field into a fixed buffer (truncating). */
static void str(Rd *r, char *dst, size_t cap)
{
    Rd s = sub(r);
    size_t n = (size_t)(s.end - s.p);
    n = n < cap - 1 ? n : cap - 1;
    memcpy(dst, s.p, n);
    dst[n] = '\0';
}

/* One element of a repeated scalar field, packed (wire 2) or not, handed to
 * put(ctx, value); wire is the key's wire type, kind the element's
 * (0 varint, 1 fixed64 double, 5 fixed32 float). */
typedef void (*PutFn)(void *ctx, double v, int64_t i);

static void repeated(Rd *r, int wire, int kind, PutFn put, void *ctx)
{
    Rd s = *r;
    if (wire == 2)
        s = sub(r);
    else if (wire != kind) {
        r->bad = true;
        return;
    }
    do {
        if (kind == 0) {
            int64_t i = (int64_t)varint(&s);
            put(ctx, (double)i, i);
        } else if (kind == 1) {
            put(ctx, f64_of(fixed(&s, 8)), 0);
        } else {
            put(ctx, f32_of(fixed(&s, 4)), 0);
        }
    } while (wire == 2 && !s.bad && s.p < s.end);
    if (wire == 2)
        r->bad |= s.bad;
    else
        *r = s;
}

/* ------------------------------------------------------------- tensors */

typedef struct {
    double *v;
    int64_t n, cap;
    bool over;
} Vals;

static void put_val(void *ctx, double v, int64_t i)
{
    (void)i;
    Vals *a = ctx;
    if (a->n >= a->cap)
        a->over = true;
    else
        a->v[a->n++] = v;
}

static void put_dim(void *ctx, double v, int64_t i)
{
    (void)v;
    OxTensor *t = ctx;
    if (t->rank >= OX_MAX_DIMS)
        t->rank = OX_MAX_DIMS + 1;      /* flagged below */
    else
        t->dim[t->rank++] = i;
}

static int elem_size(int dtype)
{
    switch (dtype) {
    case OX_FLOAT: case OX_INT32: return 4;
    case OX_INT64: case OX_DOUBLE: return 8;
    case OX_UINT8: case OX_INT8: case OX_BOOL: return 1;
    default: return 0;
    }
}

/* raw_data is little-endian, elem_size bytes per element. */
static void from_raw(const uint8_t *p, OxTensor *t)
{
    for (int64_t k = 0; k < t->n; k++, p += elem_size(t->dtype)) {
        uint32_t u32;
        uint64_t u64;
        switch (t->dtype) {
        case OX_FLOAT: memcpy(&u32, p, 4); t->v[k] = f32_of(u32); break;
        case OX_INT32: memcpy(&u32, p, 4); t->v[k] = (int32_t)u32; break;
        case OX_INT64: memcpy(&u64, p, 8); t->v[k] = (double)(int64_t)u64; break;
        case OX_DOUBLE: memcpy(&u64, p, 8); t->v[k] = f64_of(u64); break;
        case OX_INT8: t->v[k] = (int8_t)*p; break;
        default: t->v[k] = *p; break;
        }
    }
}

static bool fail(char *err, size_t cap, const char *what)
{
    snprintf(err, cap, "%s", what);
    return false;
}

bool ox_tensor_parse(const uint8_t *p, size_t len, OxTensor *t, char *err, size_t errcap)
{
    memset(t, 0, sizeof *t);
    Rd r = {p, p + len, false}, raw = {NULL, NULL, false};
    int f, w;
    bool have_raw = false;
    /* pass 1: shape, type, name and where raw_data lies */
    while (key(&r, &f, &w)) {
        if (f == 1) repeated(&r, w, 0, put_dim, t);
        else if (f == 2 && w == 0) t->dtype = (int)varint(&r);
        else if (f == 8 && w == 2) str(&r, t->name, sizeof t->name);
        else if (f == 9 && w == 2) { raw = sub(&r); have_raw = true; }
        else skip(&r, w);
    }
    if (r.bad)
        return fail(err, errcap, "malformed TensorProto");
    if (t->rank > OX_MAX_DIMS)
        return fail(err, errcap, "tensor has too many dimensions");
    t->n = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dim[i] < 0 || (t->dim[i] > 0 && t->n > OX_MAX_ELEMS / t->dim[i]))
            return fail(err, errcap, "tensor dimensions out of range");
        t->n *= t->dim[i];
    }
    if (elem_size(t->dtype) == 0)
        return true;            /* a type the runner does not read: no values */
    t->v = malloc((size_t)(t->n ? t->n : 1) * sizeof *t->v);
    if (!t->v)
        return fail(err, errcap, "out of memory");
    if (have_raw) {
        if ((int64_t)(raw.end - raw.p) != t->n * elem_size(t->dtype)) {
            ox_tensor_fini(t);
            return fail(err, errcap, "raw_data size does not match the dims");
        }
        from_raw(raw.p, t);
        return true;
    }
    /* pass 2: the typed repeated field of this data type */
    int want = t->dtype == OX_FLOAT ? 4 : t->dtype == OX_INT64 ? 7
             : t->dtype == OX_DOUBLE ? 10 : 5;
    int kind = t->dtype == OX_FLOAT ? 5 : t->dtype == OX_DOUBLE ? 1 : 0;
    Vals a = {t->v, 0, t->n, false};
    r = (Rd){p, p + len, false};
    while (key(&r, &f, &w)) {
        if (f == want) repeated(&r, w, kind, put_val, &a);
        else skip(&r, w);
    }
    if (r.bad || a.over || a.n != t->n) {
        ox_tensor_fini(t);
        return fail(err, errcap, "tensor data does not match the dims");
    }
    return true;
}

void ox_tensor_fini(OxTensor *t)
{
    free(t->v);
    t->v = NULL;
}

/* Reads a whole file (at most MAX_FILE bytes); caller frees. */
static uint8_t *slurp(const char *path, size_t *len, char *err, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, cap, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(MAX_FILE);
    size_t n = buf ? fread(buf, 1, MAX_FILE, fp) : 0;
    bool big = buf && n == MAX_FILE;
    fclose(fp);
    if (!buf || big) {
        free(buf);
        snprintf(err, cap, "'%s': %s", path, buf ? "file too large" : "out of memory");
        return NULL;
    }
    *len = n;
    return buf;
}

bool ox_tensor_read(const char *path, OxTensor *t, char *err, size_t errcap)
{
    size_t len;
    uint8_t *buf = slurp(path, &len, err, errcap);
    if (!buf) {
        memset(t, 0, sizeof *t);
        return false;
    }
    bool ok = ox_tensor_parse(buf, len, t, err, errcap);
    free(buf);
    return ok;
}

/* -------------------------------------------------------------- models */

typedef struct {
    int n;
    double *f;
    int64_t *i;
} List;

static void put_f(void *ctx, double v, int64_t i)
{
    (void)i;
    List *l = ctx;
    if (l->n < OX_MAX_INTS)
        l->f[l->n] = v;
    l->n++;
}

static void put_i(void *ctx, double v, int64_t i)
{
    (void)v;
    List *l = ctx;
    if (l->n < OX_MAX_INTS)
        l->i[l->n] = i;
    l->n++;
}

/* AttributeProto: name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20
 * (AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7). */
static void attribute(Rd r, OxAttr *a, bool *bad)
{
    static const OxAttrKind kinds[] = {OX_ATTR_OTHER, OX_ATTR_FLOAT, OX_ATTR_INT,
        OX_ATTR_STRING, OX_ATTR_TENSOR, OX_ATTR_OTHER, OX_ATTR_FLOATS, OX_ATTR_INTS};
    List fl = {0, a->fs, NULL}, il = {0, NULL, a->is};
    int f, w;
    while (key(&r, &f, &w)) {
        if (f == 1 && w == 2) str(&r, a->name, sizeof a->name);
        else if (f == 2 && w == 5) a->f = f32_of(fixed(&r, 4));
        else if (f == 3 && w == 0) a->i = (int64_t)varint(&r);
        else if (f == 4 && w == 2) str(&r, a->s, sizeof a->s);
        else if (f == 7) repeated(&r, w, 5, put_f, &fl);
        else if (f == 8) repeated(&r, w, 0, put_i, &il);
        else if (f == 20 && w == 0) {
            uint64_t k = varint(&r);
            a->kind = k < sizeof kinds / sizeof kinds[0] ? kinds[k] : OX_ATTR_OTHER;
        } else skip(&r, w);
    }
    a->n = a->kind == OX_ATTR_FLOATS ? fl.n : il.n;
    if (a->n > OX_MAX_INTS)
        a->kind = OX_ATTR_OTHER;        /* too long to hold: the mapping refuses it */
    *bad |= r.bad;
}

/* NodeProto: input 1, output 2, op_type 4, attribute 5, domain 7. */
static void node(Rd r, OxNode *n, bool *bad)
{
    int f, w;
    while (key(&r, &f, &w)) {
        if (f == 1 && w == 2 && n->n_in < OX_MAX_IO) str(&r, n->in[n->n_in++], OX_NAME);
        else if (f == 2 && w == 2 && n->n_out < OX_MAX_IO) str(&r, n->out[n->n_out++], OX_NAME);
        else if (f == 4 && w == 2) str(&r, n->op, sizeof n->op);
        else if (f == 7 && w == 2) str(&r, n->domain, sizeof n->domain);
        else if (f == 5 && w == 2 && n->n_attr < OX_MAX_ATTRS)
            attribute(sub(&r), &n->attr[n->n_attr++], bad);
        else if ((f == 1 || f == 2 || f == 5) && w == 2)
            *bad = true;                /* more than the limits hold */
        else skip(&r, w);
    }
    *bad |= r.bad;
}

/* ValueInfoProto: name 1, type 2 (TypeProto: tensor_type 1; the other
 * members of its oneof are sequences, maps, optionals, sparse tensors). */
static void value_info(Rd r, char *dst, bool *other, bool *bad)
{
    int f, w;
    while (key(&r, &f, &w)) {
        if (f == 1 && w == 2) {
            str(&r, dst, OX_NAME);
        } else if (f == 2 && w == 2) {
            Rd t = sub(&r);
            while (key(&t, &f, &w)) {
                *other |= f != 1 && f != 6;     /* 6: denotation */
                skip(&t, w);
            }
            *bad |= t.bad;
        } else skip(&r, w);
    }
    *bad |= r.bad;
}

/* GraphProto: node 1, initializer 5, input 11, output 12. */
static void graph(Rd r, OxModel *m, bool *bad)
{
    int f, w;
    while (key(&r, &f, &w)) {
        if (f == 1 && w == 2) {
            if (m->n_nodes >= OX_MAX_NODES) {
                *bad = true;
                return;
            }
            node(sub(&r), &m->node[m->n_nodes++], bad);
        } else if (f == 5 && w == 2) {
            Rd t = sub(&r);
            char err[80];
            if (t.bad || m->n_init >= OX_MAX_INIT ||
                !ox_tensor_parse(t.p, (size_t)(t.end - t.p), &m->init[m->n_init++], err,
                                 sizeof err)) {
                *bad = true;
                return;
            }
        } else if ((f == 11 || f == 12) && w == 2) {
            int *k = f == 11 ? &m->n_in : &m->n_out;
            if (*k >= OX_MAX_IO) {
                *bad = true;
                return;
            }
            int i = (*k)++;
            value_info(sub(&r), f == 11 ? m->in[i] : m->out[i],
                       f == 11 ? &m->in_other[i] : &m->out_other[i], bad);
        } else skip(&r, w);
    }
    *bad |= r.bad;
}

/* ModelProto: graph 7, opset_import 8 (OperatorSetIdProto: domain 1, version 2). */
static bool model(Rd r, OxModel *m)
{
    bool bad = false;
    int f, w;
    while (key(&r, &f, &w)) {
        if (f == 7 && w == 2) {
            graph(sub(&r), m, &bad);
        } else if (f == 8 && w == 2) {
            Rd s = sub(&r);
            char dom[OX_NAME] = "";
            int64_t ver = 0;
            while (key(&s, &f, &w)) {
                if (f == 1 && w == 2) str(&s, dom, sizeof dom);
                else if (f == 2 && w == 0) ver = (int64_t)varint(&s);
                else skip(&s, w);
            }
            bad |= s.bad;
            if (dom[0] == '\0' || strcmp(dom, "ai.onnx") == 0)
                m->opset = ver;
        } else skip(&r, w);
    }
    return !(bad || r.bad);
}

bool ox_model_read(const char *path, OxModel *m, char *err, size_t errcap)
{
    memset(m, 0, sizeof *m);
    size_t len;
    uint8_t *buf = slurp(path, &len, err, errcap);
    if (!buf)
        return false;
    m->node = calloc(OX_MAX_NODES, sizeof *m->node);
    bool ok = m->node && model((Rd){buf, buf + len, false}, m);
    free(buf);
    if (!ok) {
        ox_model_fini(m);
        return fail(err, errcap, "malformed or oversized ModelProto");
    }
    return true;
}

void ox_model_fini(OxModel *m)
{
    for (int i = 0; i < m->n_init; i++)
        ox_tensor_fini(&m->init[i]);
    m->n_init = 0;
    free(m->node);
    m->node = NULL;
}

const OxAttr *ox_attr(const OxNode *n, const char *name)
{
    for (int i = 0; i < n->n_attr; i++)
        if (strcmp(n->attr[i].name, name) == 0)
            return &n->attr[i];
    return NULL;
}
