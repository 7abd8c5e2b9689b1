/* onnx_write.c — the task network of a model as an ONNX file (opset 17).
 *
 * ONNX files are protocol buffers. Only a writer is needed, and only for the
 * handful of messages a model uses (ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto, ValueInfoProto), so this file encodes them by
 * hand — varint keys, length-prefixed submessages built bottom-up in growable
 * buffers — rather than pulling in protobuf-c and generated code for the
 * whole onnx.proto. The field numbers are onnx.proto's.
 *
 * Each lnet op becomes one ONNX node or a short fixed sequence of them (GELU
 * through Erf, causal attention through MatMul / Softmax with a constant
 * mask, since opset 17 has neither). Parameters are initializers, stored
 * in lnet's layout (dense weights [in, out] feed MatMul directly).
 */
#include "cli.h"
#include "onnx_write.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ encoding */

typedef struct {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} Buf;

static void put(Buf *b, const void *src, size_t n)
{
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void varint(Buf *b, uint64_t v)
{
    uint8_t t[10];
    int n = 0;
    do {
        t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(b, t, (size_t)n);
}

enum { WT_VARINT = 0, WT_LEN = 2, WT_I32 = 5 };

static void key(Buf *b, int field, int wt) { varint(b, (uint64_t)field << 3 | (uint64_t)wt); }
static void f_int(Buf *b, int field, int64_t v) { key(b, field, WT_VARINT); varint(b, (uint64_t)v); }
static void f_bytes(Buf *b, int field, const void *p, size_t n)
{
    key(b, field, WT_LEN);
    varint(b, n);
    put(b, p, n);
}
static void f_str(Buf *b, int field, const char *s) { f_bytes(b, field, s, strlen(s)); }
static void f_float(Buf *b, int field, float v)
{
    key(b, field, WT_I32);
    uint8_t t[4];
    memcpy(t, &v, 4);   /* little-endian hosts only (x86-64, aarch64) */
    put(b, t, 4);
}
/* Appends sub as field `field` of b and empties sub. */
static void f_msg(Buf *b, int field, Buf *sub)
{
    f_bytes(b, field, sub->p, sub->n);
    b->oom |= sub->oom;
    sub->n = 0;
}

/* onnx.proto enums */
enum { T_FLOAT = 1, T_INT32 = 6, T_INT64 = 7 };
enum { A_FLOAT = 1, A_INT = 2, A_INTS = 7 };

/* ------------------------------------------------------------ graph */

typedef struct {
    const IrGraph *g;
    Buf graph, node, attr, tmp;
    int n_const, n_tmp;
} W;

static const char *vname(W *w, int id, char *out)
{
    const IrNode *n = w->g->nodes[id];
    if (n->op == IR_OP_PARAM || n->op == IR_OP_INPUT)
        return n->name;
    sprintf(out, "v%d", id);
    return out;
}

/* A fresh value name for a node's intermediate result. */
static const char *tmpname(W *w, char *out)
{
    sprintf(out, "t%d", w->n_tmp++);
    return out;
}

static void attr_int(W *w, const char *name, int64_t v)
{
    f_str(&w->attr, 1, name);
    f_int(&w->attr, 3, v);
    f_int(&w->attr, 20, A_INT);
    f_msg(&w->node, 5, &w->attr);
}

static void attr_float(W *w, const char *name, float v)
{
    f_str(&w->attr, 1, name);
    f_float(&w->attr, 2, v);
    f_int(&w->attr, 20, A_FLOAT);
    f_msg(&w->node, 5, &w->attr);
}

static void attr_ints(W *w, const char *name, const int64_t *v, int n)
{
    f_str(&w->attr, 1, name);
    for (int i = 0; i < n; i++) f_int(&w->attr, 8, v[i]);
    f_int(&w->attr, 20, A_INTS);
    f_msg(&w->node, 5, &w->attr);
}

/* Starts a node: its inputs and its output (attributes follow, then end). */
static void node_begin(W *w, const char *op, const char *out, int n_in, const char *const *in)
{
    for (int i = 0; i < n_in; i++) f_str(&w->node, 1, in[i]);
    f_str(&w->node, 2, out);
    f_str(&w->node, 4, op);
}
static void node_end(W *w) { f_msg(&w->graph, 1, &w->node); }

static void node1(W *w, const char *op, const char *out, const char *a)
{
    node_begin(w, op, out, 1, (const char *[]){a});
    node_end(w);
}
static void node2(W *w, const char *op, const char *out, const char *a, const char *b)
{
    node_begin(w, op, out, 2, (const char *[]){a, b});
    node_end(w);
}

/* An initializer: float data (or int64 when i64), named `name`. */
static void initializer(W *w, const char *name, int type, const int64_t *dims, int rank,
                        const void *data, size_t nbytes)
{
    for (int i = 0; i < rank; i++) f_int(&w->tmp, 1, dims[i]);
    f_int(&w->tmp, 2, type);
    f_str(&w->tmp, 8, name);
    f_bytes(&w->tmp, 9, data, nbytes);
    f_msg(&w->graph, 5, &w->tmp);
}

/* A float scalar constant; returns its name. */
static const char *const_f(W *w, float v, char *out)
{
    sprintf(out, "c%d", w->n_const++);
    initializer(w, out, T_FLOAT, NULL, 0, &v, 4);
    return out;
}

/* An int64 vector constant (Reshape's shape). */
static const char *const_i64(W *w, const int64_t *v, int n, char *out)
{
    sprintf(out, "c%d", w->n_const++);
    int64_t d = n;
    initializer(w, out, T_INT64, &d, 1, v, (size_t)n * 8);
    return out;
}

/* gelu(x) = 0.5·x·(1 + erf(x/√2)) */
static void gelu(W *w, const char *x, const char *out)
{
    char c1[16], c2[16], c3[16], t1[16], t2[16], t3[16], t4[16];
    node2(w, "Mul", tmpname(w, t1), x, const_f(w, (float)M_SQRT1_2, c1));
    node1(w, "Erf", tmpname(w, t2), t1);
    node2(w, "Add", tmpname(w, t3), t2, const_f(w, 1.0f, c2));
    node2(w, "Mul", tmpname(w, t4), x, t3);
    node2(w, "Mul", out, t4, const_f(w, 0.5f, c3));
}

/* lnet's causal_attention(q, k, v) with heads H over [N, T, D] values. */
static bool attention(W *w, const IrNode *n, const char *q, const char *k, const char *v,
                      const char *out)
{
    int64_t T = n->type.dim[1], D = n->type.dim[2], H = n->a.heads, hd = D / H;
    char shp[16], shp2[16], mask[16], sc[16], qh[16], kh[16], vh[16], qt[16], kt[16], vt[16];
    char s1[16], s2[16], s3[16], p[16], y[16], yt[16];
    const_i64(w, (int64_t[]){0, 0, H, hd}, 4, shp);
    const char *src[3] = {q, k, v};
    char *hs[3] = {qh, kh, vh}, *ts[3] = {qt, kt, vt};
    static const int64_t perm_q[4] = {0, 2, 1, 3}, perm_k[4] = {0, 2, 3, 1};
    for (int i = 0; i < 3; i++) {
        node2(w, "Reshape", tmpname(w, hs[i]), src[i], shp);
        node_begin(w, "Transpose", tmpname(w, ts[i]), 1, (const char *[]){hs[i]});
        attr_ints(w, "perm", i == 1 ? perm_k : perm_q, 4);
        node_end(w);
    }
    node2(w, "MatMul", tmpname(w, s1), qt, kt);                       /* [N,H,T,T] */
    node2(w, "Mul", tmpname(w, s2), s1, const_f(w, (float)(1.0 / sqrt((double)hd)), sc));
    float *m = malloc((size_t)(T * T) * sizeof *m);
    if (!m) return false;
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++) m[i * T + j] = j <= i ? 0.0f : -INFINITY;
    sprintf(mask, "c%d", w->n_const++);
    initializer(w, mask, T_FLOAT, (int64_t[]){T, T}, 2, m, (size_t)(T * T) * 4);
    free(m);
    node2(w, "Add", tmpname(w, s3), s2, mask);
    node_begin(w, "Softmax", tmpname(w, p), 1, (const char *[]){s3});
    attr_int(w, "axis", -1);
    node_end(w);
    node2(w, "MatMul", tmpname(w, y), p, vt);                         /* [N,H,T,hd] */
    node_begin(w, "Transpose", tmpname(w, yt), 1, (const char *[]){y});
    attr_ints(w, "perm", perm_q, 4);
    node_end(w);
    node2(w, "Reshape", out, yt, const_i64(w, (int64_t[]){0, 0, D}, 3, shp2));
    return true;
}

/* The nodes of lnet node i; false for an op without an ONNX spelling. */
static bool emit(W *w, const IrNode *n)
{
    char out[16], a[16], b[16], c[16], t[16], t2[16];
    const char *o = vname(w, n->id, out);
    const char *x = n->n_in > 0 ? vname(w, n->in[0], a) : NULL;
    const char *y = n->n_in > 1 ? vname(w, n->in[1], b) : NULL;
    const char *z = n->n_in > 2 ? vname(w, n->in[2], c) : NULL;
    int64_t k2[2] = {n->a.kernel, n->a.kernel}, s2[2] = {n->a.stride, n->a.stride};
    switch (n->op) {
    case IR_OP_INPUT:
    case IR_OP_PARAM:
        return true;
    case IR_OP_MATMUL: node2(w, "MatMul", o, x, y); return true;
    case IR_OP_BIAS_ADD:
        if (n->a.axis == 1 && n->type.rank > 2) {
            int64_t shape[3] = {-1, 1, 1};
            node2(w, "Reshape", tmpname(w, t), y, const_i64(w, shape, n->type.rank - 1, t2));
            node2(w, "Add", o, x, t);
        } else {
            node2(w, "Add", o, x, y);
        }
        return true;
    case IR_OP_ADD: node2(w, "Add", o, x, y); return true;
    case IR_OP_SUB: node2(w, "Sub", o, x, y); return true;
    case IR_OP_MUL: node2(w, "Mul", o, x, y); return true;
    case IR_OP_DIV: node2(w, "Div", o, x, y); return true;
    case IR_OP_ADD_SCALAR: node2(w, "Add", o, x, const_f(w, n->a.scalar, t)); return true;
    case IR_OP_MUL_SCALAR: node2(w, "Mul", o, x, const_f(w, n->a.scalar, t)); return true;
    case IR_OP_RELU: node1(w, "Relu", o, x); return true;
    case IR_OP_LEAKY_RELU:
        node_begin(w, "LeakyRelu", o, 1, &x);
        attr_float(w, "alpha", n->a.scalar);
        node_end(w);
        return true;
    case IR_OP_GELU: gelu(w, x, o); return true;
    case IR_OP_TANH: node1(w, "Tanh", o, x); return true;
    case IR_OP_SIGMOID: node1(w, "Sigmoid", o, x); return true;
    case IR_OP_SOFTMAX:
    case IR_OP_LOG_SOFTMAX:
        node_begin(w, n->op == IR_OP_SOFTMAX ? "Softmax" : "LogSoftmax", o, 1, &x);
        attr_int(w, "axis", -1);
        node_end(w);
        return true;
    case IR_OP_CONV2D: {
        const IrType *wt = &w->g->nodes[n->in[1]]->type;
        int64_t ks[2] = {wt->dim[2], wt->dim[3]}, p = n->a.padding, pads[4] = {p, p, p, p};
        int64_t st[2] = {n->a.stride, n->a.stride};
        node_begin(w, "Conv", o, 2, (const char *[]){x, y});
        attr_ints(w, "kernel_shape", ks, 2);
        attr_ints(w, "pads", pads, 4);
        attr_ints(w, "strides", st, 2);
        node_end(w);
        return true;
    }
    case IR_OP_MAXPOOL:
    case IR_OP_AVGPOOL:
        node_begin(w, n->op == IR_OP_MAXPOOL ? "MaxPool" : "AveragePool", o, 1, &x);
        attr_ints(w, "kernel_shape", k2, 2);
        attr_ints(w, "strides", s2, 2);
        node_end(w);
        return true;
    case IR_OP_GLOBAL_AVG_POOL:
        node1(w, "GlobalAveragePool", tmpname(w, t), x);
        node_begin(w, "Flatten", o, 1, (const char *[]){t});
        attr_int(w, "axis", 1);
        node_end(w);
        return true;
    case IR_OP_FLATTEN:
        node_begin(w, "Flatten", o, 1, &x);
        attr_int(w, "axis", 1);
        node_end(w);
        return true;
    case IR_OP_RESHAPE: {
        int64_t shape[IR_MAX_DIMS] = {-1};
        for (int d = 1; d < n->type.rank; d++) shape[d] = n->type.dim[d];
        node2(w, "Reshape", o, x, const_i64(w, shape, n->type.rank, t));
        return true;
    }
    case IR_OP_TRANSPOSE: {
        int64_t perm[IR_MAX_DIMS] = {0};
        for (int d = 0; d + 1 < n->type.rank; d++) perm[d + 1] = n->a.perm[d] + 1;
        node_begin(w, "Transpose", o, 1, &x);
        attr_ints(w, "perm", perm, n->type.rank);
        node_end(w);
        return true;
    }
    case IR_OP_LAYERNORM:
        node_begin(w, "LayerNormalization", o, 3, (const char *[]){x, y, z});
        attr_int(w, "axis", -1);
        attr_float(w, "epsilon", n->a.eps);
        node_end(w);
        return true;
    case IR_OP_BATCHNORM: {     /* inference: the running statistics */
        char d[16], e[16];
        const char *in[5] = {x, y, z, vname(w, n->in[3], d), vname(w, n->in[4], e)};
        node_begin(w, "BatchNormalization", o, 5, in);
        attr_float(w, "epsilon", n->a.eps);
        attr_float(w, "momentum", 1.0f - n->a.momentum);   /* ONNX: the running stats' weight */
        node_end(w);
        return true;
    }
    case IR_OP_EMBEDDING: node2(w, "Gather", o, y, x); return true;
    case IR_OP_CAUSAL_ATTENTION: return attention(w, n, x, y, z, o);
    case IR_OP_DROPOUT:
    case IR_OP_STOP_GRADIENT:
        node1(w, "Identity", o, x);
        return true;
    default:
        return false;
    }
}

/* A graph input or output: name, element type, shape with "N" for the batch. */
static void value_info(W *w, int field, const char *name, const IrType *t)
{
    Buf shape = {0}, dim = {0}, tensor = {0}, type = {0};
    for (int d = 0; d < t->rank; d++) {
        if (t->dim[d] == IR_DIM_N) f_str(&dim, 2, "N");
        else f_int(&dim, 1, t->dim[d]);
        f_msg(&shape, 1, &dim);
    }
    f_int(&tensor, 1, t->dtype == IR_F32 ? T_FLOAT : T_INT32);
    f_msg(&tensor, 2, &shape);
    f_msg(&type, 1, &tensor);
    f_str(&w->tmp, 1, name);
    f_msg(&w->tmp, 2, &type);
    f_msg(&w->graph, field, &w->tmp);
    w->graph.oom |= dim.oom | shape.oom | tensor.oom | type.oom;
    free(shape.p), free(dim.p), free(tensor.p), free(type.p);
}

bool onnx_write(FILE *f, const IrGraph *g, const bool *need, const StFile *ckpt,
                const char *model_path)
{
    W w = {.g = g};
    bool ok = true;
    for (int i = 0; i < g->n_nodes && ok; i++) {
        const IrNode *n = g->nodes[i];
        if (!need[i]) continue;
        if (n->op == IR_OP_PARAM) {
            const StTensor *t = st_find(ckpt, n->name);
            /* cmd_export checked presence and shapes; f32 is checked here. */
            if (!t || t->dtype != ST_F32) {
                fprintf(stderr, "lnet export: error: the checkpoint's '%s' is not float32\n", n->name);
                ok = false;
                break;
            }
            initializer(&w, n->name, T_FLOAT, t->shape, t->rank, t->data, t->nbytes);
        } else if (n->op == IR_OP_INPUT) {
            value_info(&w, 11, n->name, &n->type);
        } else if (!emit(&w, n)) {
            fprintf(stderr, "lnet export: error: %s:%d:%d: op '%s' cannot be exported to ONNX yet\n",
                    model_path, n->loc.line, n->loc.col, ir_op_info(n->op)->name);
            ok = false;
        }
    }
    if (ok) {
        char out[16];
        const IrNode *pred = g->nodes[g->nodes[g->loss]->in[0]];
        node1(&w, "Identity", "output", vname(&w, pred->id, out));
        value_info(&w, 12, "output", &pred->type);
        f_str(&w.graph, 2, g->model);
        Buf model = {0}, opset = {0};
        f_int(&model, 1, 8);                /* ir_version 8: opset 17's */
        f_str(&model, 2, "lnet");
        f_str(&model, 3, LNET_VERSION);
        f_msg(&model, 7, &w.graph);
        f_str(&opset, 1, "");
        f_int(&opset, 2, 17);
        f_msg(&model, 8, &opset);
        ok = !model.oom && !w.node.oom && !w.attr.oom && !w.tmp.oom;
        if (!ok)
            fprintf(stderr, "lnet export: error: out of memory\n");
        else if (fwrite(model.p, 1, model.n, f) != model.n)
            ok = false;
        free(model.p), free(opset.p);
    }
    free(w.graph.p), free(w.node.p), free(w.attr.p), free(w.tmp.p);
    return ok;
}
