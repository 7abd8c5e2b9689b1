/* onnx_map.c — each ONNX op the conformance runner checks, as lnet IR ops.
 *
 * One function per ONNX op: it checks the attributes and shapes lnet can
 * express and returns the reason when it cannot; otherwise it builds the
 * op (or a short composition of lnet ops) and names the nodes the runner
 * feeds and compares. Where lnet's semantics deliberately differ, the
 * mapping runs the equivalent lnet configuration and says so:
 *   - Gemm's transposed operands are the matrix products autodiff emits:
 *     A·Bᵀ is matmul_grad_x(A, B), Aᵀ·B is matmul_grad_w(A, B);
 *   - Softmax / LogSoftmax over an inner axis transpose it last and back
 *     (opset < 13: the axis and every later one, as one reshaped last axis);
 *   - LayerNormalization over the axes from `axis` on reshapes them into one;
 *   - SoftmaxCrossEntropyLoss: lnet's cross_entropy takes classes last
 *     (transposed from ONNX's axis 1) and is a mean; `sum` is that mean times
 *     the count; ignore_index applies when no label equals it;
 *   - Momentum (ONNX: v = αv + βg, x -= r v) is lnet's undamped momentum
 *     (buf = αbuf + g) on buf = v/β with lr = rβ; Nesterov only when β = 1;
 *   - Adam: ONNX folds the bias corrections into the learning rate and adds
 *     ε to √v; lnet (PyTorch's Adam) adds ε to √v̂ = √v/√(1-β2ᵗ), so lnet's
 *     ε = ONNX's ε / √(1-β2ᵗ) gives the same update. At T = 0 ONNX corrects
 *     nothing: lnet runs step 1 with lr = r(1-β1)/√(1-β2), ε / √(1-β2);
 *   - Max / Min of two tensors are a + relu(b - a) and a - relu(a - b);
 *   - the moves (Flatten, Reshape, Transpose, Squeeze, Unsqueeze) and the
 *     reductions take the whole ONNX tensor as one example (batch 1), so
 *     that its first axis can move too; ReduceSum / ReduceMean /
 *     ReduceSumSquare are a product with a constant column (ones or 1/R).
 */
#include "onnx_map.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef const char *(*MapFn)(OxMap *m);

/* ------------------------------------------------------------- helpers */

static const char *why(OxMap *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static const char *why(OxMap *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->why, sizeof m->why, fmt, ap);
    va_end(ap);
    return m->why;
}

static int64_t attr_i(const OxMap *m, const char *name, int64_t dflt)
{
    const OxAttr *a = ox_attr(m->node, name);
    return a && a->kind == OX_ATTR_INT ? a->i : dflt;
}

static double attr_f(const OxMap *m, const char *name, double dflt)
{
    const OxAttr *a = ox_attr(m->node, name);
    return a && a->kind == OX_ATTR_FLOAT ? a->f : dflt;
}

/* Which data-set tensor feeds node input k (graph inputs are named). */
static int input_index(const OxMap *m, int k)
{
    for (int i = 0; i < m->model->n_in && i < m->n_in; i++)
        if (strcmp(m->model->in[i], m->node->in[k]) == 0)
            return i;
    return -1;
}

const OxTensor *ox_map_input(const OxMap *m, int k)
{
    if (k >= m->node->n_in || m->node->in[k][0] == '\0')
        return NULL;
    for (int i = 0; i < m->model->n_init; i++)
        if (strcmp(m->model->init[i].name, m->node->in[k]) == 0)
            return &m->model->init[i];
    int i = input_index(m, k);
    return i >= 0 ? &m->in[i] : NULL;
}

static const OxTensor *input(const OxMap *m, int k) { return ox_map_input(m, k); }

static int source(OxMap *m, IrOp op, IrDType dt, bool batched, int rank, const int64_t *dim)
{
    IrNode *n = ir_node_add(m->g, op, NULL, 0, NULL, IR_LOC_NONE);
    char name[16];
    snprintf(name, sizeof name, "s%d", n->id);
    n->name = ir_arena_strdup(&m->g->arena, name);
    n->type.dtype = dt;
    n->type.rank = rank;
    memcpy(n->type.dim, dim, (size_t)rank * sizeof *dim);
    if (batched)
        n->type.dim[0] = IR_DIM_N;
    return n->id;
}

/* Node input k as a batched lnet input (its first dim is the batch), fed. */
static int batched(OxMap *m, int k, IrDType dt)
{
    const OxTensor *t = input(m, k);
    int whole = m->whole;
    if (!t || t->rank + whole < 1 || t->rank + whole > IR_MAX_DIMS) {
        m->failed = true;
        why(m, "input %d cannot be a batched lnet input", k);
        return -1;
    }
    int64_t dim[IR_MAX_DIMS] = {1}, n = whole ? 1 : t->dim[0];
    memcpy(dim + whole, t->dim, (size_t)t->rank * sizeof *dim);
    if (m->batch && m->batch != n) {
        m->failed = true;
        why(m, "inputs disagree on the batch");
        return -1;
    }
    m->batch = (int)n;
    int id = source(m, dt == IR_I32 ? IR_OP_LABEL : IR_OP_INPUT, dt, true, t->rank + whole, dim);
    m->feed[k] = id;
    return id;
}

/* Node input k as an unbatched lnet parameter of the given shape (the
 * tensor's own when rank < 0), fed. */
static int param_as(OxMap *m, int k, int rank, const int64_t *dim)
{
    const OxTensor *t = input(m, k);
    if (!t || t->rank > IR_MAX_DIMS) {
        m->failed = true;
        why(m, "input %d cannot be an lnet parameter", k);
        return -1;
    }
    int id = rank < 0 ? source(m, IR_OP_PARAM, IR_F32, false, t->rank, t->dim)
                      : source(m, IR_OP_PARAM, IR_F32, false, rank, dim);
    m->feed[k] = id;
    return id;
}

static int param(OxMap *m, int k) { return param_as(m, k, -1, NULL); }

/* An op node; a shape rule refusing it marks the mapping failed. */
static int op(OxMap *m, IrOp o, const int *in, int n, IrAttrs a)
{
    for (int i = 0; i < n; i++)
        if (in[i] < 0 || m->failed)
            return -1;
    IrNode *nd = ir_node_add(m->g, o, in, n, &a, IR_LOC_NONE);
    Diag d;
    diag_init(&d);
    if (!ir_shape_infer(m->g, nd, &d)) {
        m->failed = true;
        why(m, "%s", d.n_msgs ? d.msgs[0].text : "shape error");
    }
    diag_fini(&d);
    return nd->id;
}

static int op1(OxMap *m, IrOp o, int x, IrAttrs a) { return op(m, o, &x, 1, a); }
static int op2(OxMap *m, IrOp o, int x, int y) { return op(m, o, (int[]){x, y}, 2, (IrAttrs){0}); }

/* reshape x to [N, dim[1..rank)] (dim[0] is the batch). */
static int reshape(OxMap *m, int x, int rank, const int64_t *dim)
{
    IrAttrs a = {.rank = rank - 1};
    memcpy(a.shape, dim + 1, (size_t)(rank - 1) * sizeof *dim);
    return op1(m, IR_OP_RESHAPE, x, a);
}

/* transpose of a batched x swapping non-batch axes i and j (1-based dims) */
static int swap_axes(OxMap *m, int x, int rank, int i, int j)
{
    IrAttrs a = {0};
    for (int k = 0; k < rank - 1; k++)
        a.perm[k] = k;
    a.perm[i - 1] = j - 1;
    a.perm[j - 1] = i - 1;
    return op1(m, IR_OP_TRANSPOSE, x, a);
}

static bool all_float(const OxMap *m)
{
    for (int k = 0; k < m->n_in; k++)
        if (m->in[k].dtype != OX_FLOAT)
            return false;
    for (int k = 0; k < m->n_out; k++)
        if (m->out[k].dtype != OX_FLOAT)
            return false;
    return true;
}

static const char *dtype_reason(const OxMap *m)
{
    for (int k = 0; k < m->n_in; k++)
        if (m->in[k].dtype != OX_FLOAT)
            return m->in[k].dtype == OX_DOUBLE ? "f64 tensors (lnet computes in f32)"
                                               : "integer or bool tensors (lnet's ops are f32)";
    return "non-f32 outputs";
}

static int64_t prod(const int64_t *d, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= d[i];
    return p;
}

/* ---------------------------------------------------------- elementwise */

static const char *unary(OxMap *m, IrOp o, IrAttrs a)
{
    if (!all_float(m))
        return dtype_reason(m);
    if (input(m, 0)->rank < 1)
        return "a scalar input (lnet's inputs are batched)";
    m->result[0] = op1(m, o, batched(m, 0, IR_F32), a);
    return NULL;
}

static const char *map_relu(OxMap *m) { return unary(m, IR_OP_RELU, (IrAttrs){0}); }
static const char *map_leaky_relu(OxMap *m)
{
    return unary(m, IR_OP_LEAKY_RELU, (IrAttrs){.scalar = (float)attr_f(m, "alpha", 0.01)});
}
static const char *map_tanh(OxMap *m) { return unary(m, IR_OP_TANH, (IrAttrs){0}); }
static const char *map_sigmoid(OxMap *m) { return unary(m, IR_OP_SIGMOID, (IrAttrs){0}); }
static const char *map_neg(OxMap *m)
{
    return unary(m, IR_OP_MUL_SCALAR, (IrAttrs){.scalar = -1.0f});
}
/* Identity: stop_gradient is the identity in the forward direction. */
static const char *map_identity(OxMap *m) { return unary(m, IR_OP_STOP_GRADIENT, (IrAttrs){0}); }

/* a (op) b: equal shapes (both batched), or b equal to a's trailing dims
 * (b a parameter, broadcast over the batch); other broadcasts are not lnet's. */
static int binary_pair(OxMap *m, IrOp o, int ka, int kb)
{
    const OxTensor *a = input(m, ka), *b = input(m, kb);
    int x = batched(m, ka, IR_F32);
    if (a->rank == b->rank && memcmp(a->dim, b->dim, (size_t)a->rank * 8) == 0)
        return op2(m, o, x, batched(m, kb, IR_F32));
    return op2(m, o, x, param(m, kb));
}

static const char *binary_reason(const OxMap *m, int ka, int kb)
{
    const OxTensor *a = input(m, ka), *b = input(m, kb);
    if (!a || !b)
        return "a missing input";
    if (!all_float(m))
        return dtype_reason(m);
    if (a->rank < 1)
        return "a scalar input (lnet's inputs are batched)";
    bool same = a->rank == b->rank && memcmp(a->dim, b->dim, (size_t)a->rank * 8) == 0;
    bool trailing = b->rank == a->rank - 1 &&
                    memcmp(a->dim + 1, b->dim, (size_t)b->rank * 8) == 0;
    if (!same && !trailing)
        return "broadcasting other than B = A's trailing dims";
    return NULL;
}

static const char *binary(OxMap *m, IrOp o)
{
    const char *r = binary_reason(m, 0, 1);
    if (r)
        return r;
    m->result[0] = binary_pair(m, o, 0, 1);
    return NULL;
}

static const char *map_add(OxMap *m) { return binary(m, IR_OP_ADD); }
static const char *map_sub(OxMap *m) { return binary(m, IR_OP_SUB); }
static const char *map_mul(OxMap *m) { return binary(m, IR_OP_MUL); }
static const char *map_div(OxMap *m) { return binary(m, IR_OP_DIV); }

/* Sum / Mean of k same-shaped inputs: a chain of adds (times 1/k). */
static const char *variadic(OxMap *m, bool mean)
{
    int k = m->node->n_in;
    if (!all_float(m))
        return dtype_reason(m);
    for (int i = 1; i < k; i++) {
        const char *r = binary_reason(m, 0, i);
        if (r)
            return r;
        if (input(m, i)->rank != input(m, 0)->rank)
            return "broadcasting other than equal shapes";
    }
    int acc = batched(m, 0, IR_F32);
    if (k == 1)
        acc = op1(m, IR_OP_STOP_GRADIENT, acc, (IrAttrs){0});
    for (int i = 1; i < k; i++)
        acc = op2(m, IR_OP_ADD, acc, batched(m, i, IR_F32));
    if (mean && k > 1)
        acc = op1(m, IR_OP_MUL_SCALAR, acc, (IrAttrs){.scalar = 1.0f / (float)k});
    m->result[0] = acc;
    return NULL;
}

/* Max / Min of k inputs: a + relu(b - a), a - relu(a - b), chained. */
static const char *extremum(OxMap *m, bool max)
{
    int k = m->node->n_in;
    if (!all_float(m))
        return dtype_reason(m);
    for (int i = 1; i < k; i++) {
        const char *r = binary_reason(m, 0, i);
        if (r)
            return r;
        if (input(m, i)->rank != input(m, 0)->rank)
            return "broadcasting other than equal shapes";
    }
    int acc = batched(m, 0, IR_F32);
    if (k == 1)
        acc = op1(m, IR_OP_STOP_GRADIENT, acc, (IrAttrs){0});
    for (int i = 1; i < k; i++) {
        int b = batched(m, i, IR_F32);
        int d = op1(m, IR_OP_RELU, max ? op2(m, IR_OP_SUB, b, acc) : op2(m, IR_OP_SUB, acc, b),
                    (IrAttrs){0});
        acc = op2(m, max ? IR_OP_ADD : IR_OP_SUB, acc, d);
    }
    m->result[0] = acc;
    return NULL;
}

static const char *map_max(OxMap *m) { return extremum(m, true); }
static const char *map_min(OxMap *m) { return extremum(m, false); }
static const char *map_sum(OxMap *m) { return variadic(m, false); }
static const char *map_mean(OxMap *m) { return variadic(m, true); }

/* ------------------------------------------------------------- matrices */

static const char *map_matmul(OxMap *m)
{
    const OxTensor *a = input(m, 0), *b = input(m, 1);
    if (!all_float(m))
        return dtype_reason(m);
    if (b->rank != 2)
        return "B of rank != 2 (lnet's matmul weight is one [I,O] matrix)";
    if (a->rank < 2)
        return "a 1-D A (lnet's inputs are batched)";
    m->result[0] = op2(m, IR_OP_MATMUL, batched(m, 0, IR_F32), param(m, 1));
    return NULL;
}

/* Y = alpha A' B' + beta C. */
static const char *map_gemm(OxMap *m)
{
    bool ta = attr_i(m, "transA", 0), tb = attr_i(m, "transB", 0);
    float alpha = (float)attr_f(m, "alpha", 1), beta = (float)attr_f(m, "beta", 1);
    const OxTensor *c = input(m, 2), *a = input(m, 0), *b = input(m, 1);
    if (!all_float(m))
        return dtype_reason(m);
    if (ta && tb)
        return "transA and transB together (no lnet product of two transposes)";
    int64_t rows = ta ? a->dim[1] : a->dim[0], cols = tb ? b->dim[0] : b->dim[1];
    /* Y is batched [rows, cols] unless transA makes it lnet's unbatched [I,O]. */
    bool c_full = c && c->rank == 2 && c->dim[0] == rows && c->dim[1] == cols;
    bool c_row = c && c->rank >= 1 && c->dim[c->rank - 1] == cols && c->n == cols;     /* [cols], [1,cols] */
    if (c && !c_full && !(c_row && !ta))
        return "a C that broadcasts other than along the batch";
    int y;
    if (ta)
        y = op2(m, IR_OP_MATMUL_GRAD_W, batched(m, 0, IR_F32), batched(m, 1, IR_F32));
    else if (tb)
        y = op2(m, IR_OP_MATMUL_GRAD_X, batched(m, 0, IR_F32), param(m, 1));
    else
        y = op2(m, IR_OP_MATMUL, batched(m, 0, IR_F32), param(m, 1));
    if (alpha != 1.0f)
        y = op1(m, IR_OP_MUL_SCALAR, y, (IrAttrs){.scalar = alpha});
    if (c) {
        int cn = c_full && !ta ? batched(m, 2, IR_F32)
                 : c_full ? param(m, 2) : param_as(m, 2, 1, &cols);
        if (beta != 1.0f)
            cn = op1(m, IR_OP_MUL_SCALAR, cn, (IrAttrs){.scalar = beta});
        y = op2(m, IR_OP_ADD, y, cn);
    }
    m->result[0] = y;
    return NULL;
}

/* --------------------------------------------------------- convolutions */

/* The one value of a pair of equal ints (strides, kernel), or -1. */
static int64_t square(const OxAttr *a, int64_t dflt)
{
    if (!a)
        return dflt;
    if (a->kind != OX_ATTR_INTS || a->n != 2 || a->is[0] != a->is[1])
        return -1;
    return a->is[0];
}

/* The common attributes of Conv and the pools: 2-D, symmetric, undilated. */
static const char *window_reason(OxMap *m, int64_t *pad)
{
    const OxAttr *ap = ox_attr(m->node, "auto_pad"), *pads = ox_attr(m->node, "pads");
    const OxAttr *dil = ox_attr(m->node, "dilations");
    if (!all_float(m))
        return dtype_reason(m);
    if (input(m, 0)->rank != 4)
        return "not 2-D (lnet's windows are over [N,C,H,W])";
    if (ap && strcmp(ap->s, "NOTSET") != 0 && strcmp(ap->s, "VALID") != 0)
        return why(m, "auto_pad=%s", ap->s);
    if (dil)
        for (int i = 0; i < dil->n; i++)
            if (dil->is[i] != 1)
                return "dilations";
    *pad = 0;
    if (pads) {
        for (int i = 1; i < pads->n; i++)
            if (pads->is[i] != pads->is[0])
                return "asymmetric padding";
        *pad = pads->n ? pads->is[0] : 0;
    }
    if (square(ox_attr(m->node, "strides"), 1) < 0)
        return "different strides along H and W";
    if (attr_i(m, "ceil_mode", 0))
        return "ceil_mode";
    return NULL;
}

static const char *map_conv(OxMap *m)
{
    int64_t pad;
    const char *r = window_reason(m, &pad);
    if (r)
        return r;
    const OxTensor *w = input(m, 1);
    if (attr_i(m, "group", 1) != 1)
        return "group != 1";
    if (w->dim[2] != w->dim[3])
        return "a non-square kernel";
    IrAttrs a = {.stride = (int)square(ox_attr(m->node, "strides"), 1), .padding = (int)pad};
    int y = op(m, IR_OP_CONV2D, (int[]){batched(m, 0, IR_F32), param(m, 1)}, 2, a);
    if (input(m, 2))
        y = op(m, IR_OP_BIAS_ADD, (int[]){y, param(m, 2)}, 2, (IrAttrs){.axis = 1});
    m->result[0] = y;
    return NULL;
}

static const char *pool(OxMap *m, IrOp o)
{
    int64_t pad;
    const char *r = window_reason(m, &pad);
    if (r)
        return r;
    if (pad)
        return "padding (lnet's pools have none)";
    if (m->node->n_out > 1)
        return "the Indices output";
    if (attr_i(m, "storage_order", 0))
        return "storage_order";
    int64_t k = square(ox_attr(m->node, "kernel_shape"), -1);
    if (k < 1)
        return "a non-square window";
    IrAttrs a = {.kernel = (int)k, .stride = (int)square(ox_attr(m->node, "strides"), 1)};
    m->result[0] = op1(m, o, batched(m, 0, IR_F32), a);
    return NULL;
}

static const char *map_maxpool(OxMap *m) { return pool(m, IR_OP_MAXPOOL); }
static const char *map_avgpool(OxMap *m) { return pool(m, IR_OP_AVGPOOL); }

/* GlobalAveragePool keeps H and W as 1s: global_avg_pool, reshaped. */
static const char *map_gap(OxMap *m)
{
    const OxTensor *x = input(m, 0);
    if (!all_float(m))
        return dtype_reason(m);
    if (x->rank != 4)
        return "not 2-D (lnet's windows are over [N,C,H,W])";
    int y = op1(m, IR_OP_GLOBAL_AVG_POOL, batched(m, 0, IR_F32), (IrAttrs){0});
    m->result[0] = reshape(m, y, 4, (int64_t[]){x->dim[0], x->dim[1], 1, 1});
    return NULL;
}

/* ---------------------------------------------------------------- moves */

/* The moves take the whole ONNX tensor as one example (batch 1), so that
 * every ONNX axis is one lnet can move. */

/* reshape of a whole-tensor value to ONNX dims d[0..rank) (all >= 1). */
static int reshape_whole(OxMap *m, int x, int rank, const int64_t *d)
{
    int64_t w[IR_MAX_DIMS] = {1};
    if (rank < 1 || rank + 1 > IR_MAX_DIMS) {
        m->failed = true;
        why(m, "reshape to rank %d", rank);
        return -1;
    }
    memcpy(w + 1, d, (size_t)rank * sizeof *d);
    return reshape(m, x, rank + 1, w);
}

static const char *shape_reason(const OxMap *m, const OxTensor *out)
{
    if (m->in[0].dtype != OX_FLOAT)
        return dtype_reason(m);
    if (m->in[0].rank + 1 > IR_MAX_DIMS || out->rank + 1 > IR_MAX_DIMS)
        return "more dimensions than lnet's 5 besides the batch";
    if (out->rank == 0)
        return "a scalar result (lnet keeps a batch axis and at least one more)";
    for (int i = 0; i < out->rank; i++)
        if (out->dim[i] < 1)
            return "an empty tensor (lnet's dims are positive)";
    return NULL;
}

/* Flatten, Reshape, Squeeze, Unsqueeze: a reshape to the output's shape,
 * which the expected output gives (the mapping checks it is the op's:
 * the element count, and for Reshape the target resolved as ONNX does). */
static const char *map_flatten(OxMap *m)
{
    const OxTensor *x = input(m, 0);
    int64_t axis = attr_i(m, "axis", 1);
    axis += axis < 0 ? x->rank : 0;
    int64_t d[2] = {prod(x->dim, 0, (int)axis), prod(x->dim, (int)axis, x->rank)};
    const char *r = shape_reason(m, &m->out[0]);
    if (r)
        return r;
    m->whole = true;
    m->result[0] = reshape_whole(m, batched(m, 0, IR_F32), 2, d);
    return NULL;
}

/* Reshape: the target (input 1) resolved as ONNX does: 0 copies the input's
 * dim (unless allowzero), -1 takes what is left. */
static const char *map_reshape(OxMap *m)
{
    const OxTensor *x = input(m, 0), *s = input(m, 1);
    const char *r = shape_reason(m, &m->out[0]);
    if (r)
        return r;
    if (!s || !s->v || s->rank != 1 || s->n < 1 || s->n > IR_MAX_DIMS - 1)
        return "a target shape lnet cannot hold";
    int64_t d[IR_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < s->n; i++) {
        d[i] = (int64_t)s->v[i];
        if (d[i] == 0 && !attr_i(m, "allowzero", 0))
            d[i] = i < x->rank ? x->dim[i] : 0;
        if (d[i] == -1)
            infer = i;
        else
            known *= d[i];
    }
    if (infer >= 0)
        d[infer] = known ? x->n / known : 0;
    m->whole = true;
    m->result[0] = reshape_whole(m, batched(m, 0, IR_F32), (int)s->n, d);
    return NULL;
}

/* Squeeze / Unsqueeze: the output's dims are the input's with 1s dropped or
 * inserted; the runner checks the output's shape against lnet's. */
static const char *map_squeeze(OxMap *m)
{
    const char *r = shape_reason(m, &m->out[0]);
    if (r)
        return r;
    if (m->out[0].n != input(m, 0)->n)
        return "an element count that changes";
    m->whole = true;
    m->result[0] = reshape_whole(m, batched(m, 0, IR_F32), m->out[0].rank, m->out[0].dim);
    return NULL;
}

static const char *map_transpose(OxMap *m)
{
    const OxTensor *x = input(m, 0);
    const OxAttr *p = ox_attr(m->node, "perm");
    const char *r = shape_reason(m, &m->out[0]);
    if (r)
        return r;
    IrAttrs a = {0};
    for (int i = 0; i < x->rank; i++)
        a.perm[i] = p ? (i < p->n ? (int)p->is[i] : -1) : x->rank - 1 - i;
    m->whole = true;
    m->result[0] = op1(m, IR_OP_TRANSPOSE, batched(m, 0, IR_F32), a);
    return NULL;
}

/* The reduced axes (axes attribute, or input 1 from opset 13/18 on; none
 * given: every axis unless noop_with_empty_axes) as a bit mask; -1 when the
 * reduction is the identity. */
static int reduced_axes(const OxMap *m, int rank)
{
    const OxAttr *a = ox_attr(m->node, "axes");
    const OxTensor *t = input(m, 1);
    int mask = 0, n = a ? a->n : t && t->v ? (int)t->n : 0;
    for (int i = 0; i < n; i++) {
        int64_t v = a ? a->is[i] : (int64_t)t->v[i];
        mask |= 1 << (v + (v < 0 ? rank : 0));
    }
    if (n == 0)
        mask = attr_i(m, "noop_with_empty_axes", 0) ? -1 : (1 << rank) - 1;
    return mask;
}

/* ReduceSum / ReduceMean / ReduceSumSquare: the reduced axes moved last and
 * merged into one, then a product with a constant column of ones (or 1/R):
 * x[1, kept.., R] . c[R, 1] -> [1, kept.., 1], reshaped to the output. */
static const char *reduce(OxMap *m, bool mean, bool square_first)
{
    const OxTensor *x = input(m, 0);
    const char *r = shape_reason(m, &m->out[0]);
    if (r)
        return r;
    int mask = reduced_axes(m, x->rank);
    m->whole = true;
    int y = batched(m, 0, IR_F32);
    if (mask < 0) {     /* noop_with_empty_axes and no axes: the identity */
        m->result[0] = op1(m, IR_OP_STOP_GRADIENT, y, (IrAttrs){0});
        return NULL;
    }
    if (square_first)
        y = op2(m, IR_OP_MUL, y, y);
    IrAttrs t = {0};
    int64_t d[IR_MAX_DIMS], R = 1;
    int kept = 0;
    for (int i = 0; i < x->rank; i++)
        if (!(mask >> i & 1)) {
            t.perm[kept] = i;
            d[kept++] = x->dim[i];
        }
    for (int i = 0, j = kept; i < x->rank; i++)
        if (mask >> i & 1) {
            t.perm[j++] = i;
            R *= x->dim[i];
        }
    y = op1(m, IR_OP_TRANSPOSE, y, t);
    d[kept] = R;
    y = reshape_whole(m, y, kept + 1, d);
    int64_t col[2] = {R, 1};
    int c = source(m, IR_OP_PARAM, IR_F32, false, 2, col);
    m->fill = c;
    m->fill_value = mean ? 1.0f / (float)R : 1.0f;
    y = op2(m, IR_OP_MATMUL, y, c);
    m->result[0] = reshape_whole(m, y, m->out[0].rank, m->out[0].dim);
    return NULL;
}

static const char *map_reducesum(OxMap *m) { return reduce(m, false, false); }
static const char *map_reducemean(OxMap *m) { return reduce(m, true, false); }
static const char *map_reducesumsquare(OxMap *m) { return reduce(m, false, true); }

/* ---------------------------------------------------------- normalizers */

/* Softmax / LogSoftmax along `axis` (opset >= 13: that axis alone; before:
 * the axis and every later one, flattened, default axis 1). */
static const char *softmax(OxMap *m, IrOp o)
{
    const OxTensor *x = input(m, 0);
    bool old = m->model->opset > 0 && m->model->opset < 13;
    int64_t axis = attr_i(m, "axis", old ? 1 : -1);
    axis += axis < 0 ? x->rank : 0;
    if (!all_float(m))
        return dtype_reason(m);
    /* along axis 0: the whole tensor is one example (lnet's axes: ld) */
    int off = axis == 0, r = x->rank + off, a = (int)axis + off;
    int64_t ld[IR_MAX_DIMS] = {1}, flat[IR_MAX_DIMS];
    if (r > IR_MAX_DIMS)
        return "more dimensions than lnet's 5 besides the batch";
    memcpy(ld + off, x->dim, (size_t)x->rank * 8);
    m->whole = off;
    int in = batched(m, 0, IR_F32);
    if (a == r - 1) {
        m->result[0] = op1(m, o, in, (IrAttrs){0});
    } else if (old) {
        memcpy(flat, ld, (size_t)a * 8);
        flat[a] = prod(ld, a, r);
        int y = op1(m, o, reshape(m, in, a + 1, flat), (IrAttrs){0});
        m->result[0] = reshape(m, y, r, ld);
    } else {
        int y = op1(m, o, swap_axes(m, in, r, a, r - 1), (IrAttrs){0});
        m->result[0] = swap_axes(m, y, r, a, r - 1);
    }
    return NULL;
}

static const char *map_softmax(OxMap *m) { return softmax(m, IR_OP_SOFTMAX); }
static const char *map_logsoftmax(OxMap *m) { return softmax(m, IR_OP_LOG_SOFTMAX); }

/* LayerNormalization over the axes from `axis` on, as one last axis. */
static const char *map_layernorm(OxMap *m)
{
    const OxTensor *x = input(m, 0);
    int64_t axis = attr_i(m, "axis", -1);
    axis += axis < 0 ? x->rank : 0;
    if (!all_float(m))
        return dtype_reason(m);
    if (m->node->n_out > 1)
        return "the Mean and InvStdDev outputs (lnet keeps them inside its kernel)";
    /* from axis 0: the whole tensor is one example (lnet's axes: ld) */
    int off = axis == 0, r = x->rank + off, a = (int)axis + off;
    int64_t ld[IR_MAX_DIMS] = {1}, flat[IR_MAX_DIMS];
    if (r > IR_MAX_DIMS)
        return "more dimensions than lnet's 5 besides the batch";
    memcpy(ld + off, x->dim, (size_t)x->rank * 8);
    m->whole = off;
    int in = batched(m, 0, IR_F32);
    int64_t dd = prod(ld, a, r);
    memcpy(flat, ld, (size_t)a * 8);
    flat[a] = dd;
    int xs = a == r - 1 ? in : reshape(m, in, a + 1, flat);
    int g = param_as(m, 1, 1, &dd), b;
    if (input(m, 2)) {
        b = param_as(m, 2, 1, &dd);
    } else {
        b = source(m, IR_OP_PARAM, IR_F32, false, 1, &dd);
        m->fill = b;
        m->fill_value = 0.0f;
    }
    IrAttrs at = {.eps = (float)attr_f(m, "epsilon", 1e-5)};
    int y = op(m, IR_OP_LAYERNORM, (int[]){xs, g, b}, 3, at);
    m->result[0] = a == r - 1 ? y : reshape(m, y, r, ld);
    return NULL;
}

/* BatchNormalization in inference mode: lnet's batchnorm evaluating with the
 * node's mean and variance as its running statistics. Spatial axes beyond
 * lnet's [N, C, L] / [N, C, H, W] fold into one, since the statistics are per
 * channel over everything else. Training mode is not mapped: its running
 * variance output is ONNX's biased batch variance, where lnet (as PyTorch)
 * keeps the unbiased one. */
static const char *map_batchnorm(OxMap *m)
{
    const OxTensor *x = input(m, 0);
    if (attr_i(m, "training_mode", 0) != 0 || m->node->n_out > 1)
        return "training mode (ONNX's running variance is the biased batch variance; "
               "lnet keeps PyTorch's unbiased one)";
    if (!all_float(m))
        return dtype_reason(m);
    if (x->rank < 2)
        return "an input without a channel axis";
    int in = batched(m, 0, IR_F32);
    int64_t c = x->dim[1], flat[3] = {x->dim[0], c, prod(x->dim, 2, x->rank)};
    int xs = x->rank <= 4 ? in : reshape(m, in, 3, flat);
    int g = param_as(m, 1, 1, &c), b = param_as(m, 2, 1, &c);
    int mean = param_as(m, 3, 1, &c), var = param_as(m, 4, 1, &c);
    if (mean >= 0 && var >= 0) {
        m->g->nodes[mean]->flags |= IR_F_BUFFER;
        m->g->nodes[var]->flags |= IR_F_BUFFER;
    }
    /* ONNX's momentum weighs the old statistics, lnet's (PyTorch's) the new */
    IrAttrs at = {.eps = (float)attr_f(m, "epsilon", 1e-5),
                  .momentum = 1.0f - (float)attr_f(m, "momentum", 0.9)};
    int y = op(m, IR_OP_BATCHNORM, (int[]){xs, g, b, mean, var}, 5, at);
    m->result[0] = x->rank <= 4 ? y : reshape(m, y, x->rank, x->dim);
    return NULL;
}

/* Dropout in inference mode is the identity: lnet's dropout, training off. */
static const char *map_dropout(OxMap *m)
{
    const OxTensor *ratio = input(m, 1), *train = input(m, 2);
    if (m->node->n_out > 1)
        return "the mask output (bool; lnet regenerates its mask from the seed)";
    if (train && train->n == 1 && train->v && train->v[0] != 0)
        return "training mode (a random mask)";
    if (input(m, 0)->dtype != OX_FLOAT)
        return dtype_reason(m);
    float p = ratio && ratio->v && ratio->n == 1 ? (float)ratio->v[0]
                                                 : (float)attr_f(m, "ratio", 0.5);
    m->result[0] = op1(m, IR_OP_DROPOUT, batched(m, 0, IR_F32), (IrAttrs){.p = p});
    return NULL;
}

/* Gather along axis 0 of a [V, ...] table: lnet's embedding on the table
 * reshaped to [V, D]. */
static const char *map_gather(OxMap *m)
{
    const OxTensor *data = input(m, 0), *idx = input(m, 1);
    if (attr_i(m, "axis", 0) != 0)
        return "axis != 0 (lnet's embedding looks up rows)";
    if (data->dtype != OX_FLOAT)
        return dtype_reason(m);
    if (idx->rank < 1)
        return "scalar indices (lnet's ids are batched)";
    if (data->rank < 1 || idx->rank + data->rank - 1 > IR_MAX_DIMS)
        return "a table lnet cannot hold";
    for (int64_t i = 0; i < idx->n; i++)
        if (idx->v[i] < 0)
            return "negative indices (lnet's ids are 0-based)";
    int64_t tv[2] = {data->dim[0], prod(data->dim, 1, data->rank)};
    int ids = batched(m, 1, IR_I32);
    m->g->nodes[ids]->a.classes = (int)data->dim[0];
    int y = op2(m, IR_OP_EMBEDDING, ids, param_as(m, 0, 2, tv));
    if (data->rank != 2) {
        int64_t d[IR_MAX_DIMS];
        memcpy(d, idx->dim, (size_t)idx->rank * 8);
        memcpy(d + idx->rank, data->dim + 1, (size_t)(data->rank - 1) * 8);
        y = reshape(m, y, idx->rank + data->rank - 1, d);
    }
    m->result[0] = y;
    return NULL;
}

/* -------------------------------------------------------------- losses */

static const char *map_sce(OxMap *m)
{
    const OxTensor *x = input(m, 0), *lab = input(m, 1);
    const OxAttr *red = ox_attr(m->node, "reduction"), *ii = ox_attr(m->node, "ignore_index");
    const char *reduction = red ? red->s : "mean";
    if (x->dtype != OX_FLOAT)
        return dtype_reason(m);
    if (input(m, 2))
        return "class weights (lnet's cross-entropy is unweighted)";
    if (strcmp(reduction, "none") == 0)
        return "reduction 'none' (lnet's cross-entropy is a mean)";
    if (ii)
        for (int64_t i = 0; i < lab->n; i++)
            if (lab->v[i] == (double)ii->i)
                return "ignore_index occurs in the labels (lnet has no ignore_index)";
    int r = x->rank, xs = batched(m, 0, IR_F32), classes = (int)x->dim[1];
    if (r > 2) {    /* classes last: [N,C,d..] -> [N,d..,C] */
        IrAttrs a = {0};
        for (int i = 0; i < r - 2; i++)
            a.perm[i] = i + 1;
        a.perm[r - 2] = 0;
        xs = op1(m, IR_OP_TRANSPOSE, xs, a);
    }
    int labels = batched(m, 1, IR_I32);
    m->g->nodes[labels]->a.classes = classes;
    int loss = op2(m, IR_OP_CROSS_ENTROPY, xs, labels);
    if (strcmp(reduction, "sum") == 0)
        m->result_scale[0] = (double)lab->n;
    m->result[0] = loss;
    if (m->node->n_out > 1) {   /* log_prob, back to [N,C,d..] */
        int lp = op1(m, IR_OP_LOG_SOFTMAX, xs, (IrAttrs){0});
        if (r > 2) {
            IrAttrs a = {0};
            a.perm[0] = r - 2;
            for (int i = 1; i < r - 1; i++)
                a.perm[i] = i - 1;
            lp = op1(m, IR_OP_TRANSPOSE, lp, a);
        }
        m->result[1] = lp;
    }
    return NULL;
}

/* ----------------------------------------------------------- optimizers */

/* Inputs R, T, then k tensors per group (X, G, V[, H]); outputs one group
 * fewer (X', V'[, H']). Every tensor is an unbatched parameter or state. */
static const char *optimizer(OxMap *m, bool adam)
{
    int groups = adam ? 4 : 3, k = (m->node->n_in - 2) / groups;
    const OxTensor *R = input(m, 0), *T = input(m, 1);
    if (!R || !T || !R->v || !T->v || R->n != 1 || T->n != 1 || k < 1 ||
        m->node->n_in != 2 + groups * k)
        return "inputs lnet cannot hold";
    for (int i = 2; i < m->node->n_in; i++)
        if (input(m, i)->dtype != OX_FLOAT)
            return dtype_reason(m);
    double t = T->v[0], alpha = attr_f(m, "alpha", 0.9), beta = attr_f(m, "beta", 0.999);
    double wd = attr_f(m, "norm_coefficient", 0);
    IrAttrs a = {.weight_decay = (float)wd};
    m->t = (int64_t)t;
    m->lr = (float)R->v[0];
    if (adam) {
        if (attr_f(m, "norm_coefficient_post", 0) != 0)
            return "norm_coefficient_post (lnet's decay scales by the learning rate)";
        a.beta1 = (float)alpha;
        a.beta2 = (float)beta;
        a.eps = (float)(attr_f(m, "epsilon", 0) / sqrt(1 - pow(beta, t)));
        if (t < 1) {    /* no bias correction: lnet's step 1, its corrections undone */
            m->t = 1;
            a.eps = (float)(attr_f(m, "epsilon", 0) / sqrt(1 - beta));
            m->lr = (float)(R->v[0] * (1 - alpha) / sqrt(1 - beta));
        }
    } else {
        const OxAttr *mode = ox_attr(m->node, "mode");
        a.nesterov = mode && strcmp(mode->s, "nesterov") == 0;
        double b = t > 0 ? beta : 1;
        if (b == 0 || (a.nesterov && b != 1))
            return why(m, "beta %g with %s (lnet's momentum buffer is undamped)", beta,
                       a.nesterov ? "Nesterov" : "momentum");
        a.momentum = (float)alpha;
        m->lr = (float)(R->v[0] * b);
        for (int i = 0; i < k; i++)
            m->feed_scale[2 + 2 * k + i] = 1 / b;
        for (int i = 0; i < k; i++)
            m->result_scale[k + i] = b;
    }
    for (int i = 0; i < k; i++) {
        int p = param(m, 2 + i), g = param(m, 2 + k + i), in[4] = {p, g};
        for (int s = 0; s < groups - 2; s++) {
            int st = param(m, 2 + (2 + s) * k + i);
            m->g->nodes[st]->op = IR_OP_STATE;
            m->g->nodes[st]->state = p;
            in[2 + s] = st;
            m->result[(1 + s) * k + i] = st;
        }
        op(m, adam ? IR_OP_ADAM_UPDATE : IR_OP_SGD_UPDATE, in, groups, a);
        m->result[i] = p;
    }
    return NULL;
}

static const char *map_adam(OxMap *m) { return optimizer(m, true); }
static const char *map_momentum(OxMap *m) { return optimizer(m, false); }

/* ---------------------------------------------------------------- table */

static const struct { const char *op; MapFn fn; } maps[] = {
    {"Relu", map_relu}, {"LeakyRelu", map_leaky_relu}, {"Tanh", map_tanh},
    {"Sigmoid", map_sigmoid}, {"Neg", map_neg}, {"Identity", map_identity},
    {"Add", map_add}, {"Sub", map_sub}, {"Mul", map_mul}, {"Div", map_div},
    {"Sum", map_sum}, {"Mean", map_mean}, {"Max", map_max}, {"Min", map_min},
    {"MatMul", map_matmul}, {"Gemm", map_gemm}, {"Conv", map_conv},
    {"MaxPool", map_maxpool}, {"AveragePool", map_avgpool},
    {"GlobalAveragePool", map_gap}, {"Flatten", map_flatten}, {"Reshape", map_reshape},
    {"Transpose", map_transpose}, {"Squeeze", map_squeeze}, {"Unsqueeze", map_squeeze},
    {"ReduceSum", map_reducesum}, {"ReduceMean", map_reducemean},
    {"ReduceSumSquare", map_reducesumsquare}, {"Softmax", map_softmax}, {"LogSoftmax", map_logsoftmax},
    {"LayerNormalization", map_layernorm}, {"BatchNormalization", map_batchnorm},
    {"Dropout", map_dropout}, {"Gather", map_gather},
    {"SoftmaxCrossEntropyLoss", map_sce}, {"Adam", map_adam}, {"Momentum", map_momentum},
};

const char *const ox_mapped_ops[] = {
    "Relu", "LeakyRelu", "Tanh", "Sigmoid", "Neg", "Identity", "Add", "Sub", "Mul", "Div", "Sum",
    "Mean", "Max", "Min",
    "MatMul", "Gemm", "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten",
    "Reshape", "Transpose", "Squeeze", "Unsqueeze", "ReduceSum", "ReduceMean", "ReduceSumSquare", "Softmax", "LogSoftmax", "LayerNormalization",
    "BatchNormalization", "Dropout",
    "Gather", "SoftmaxCrossEntropyLoss", "Adam", "Momentum", NULL,
};

_Static_assert(sizeof maps / sizeof maps[0] == sizeof ox_mapped_ops / sizeof ox_mapped_ops[0] - 1,
               "every mapped op is in ox_mapped_ops");

const char *ox_map(OxMap *m)
{
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        if (strcmp(maps[i].op, m->node->op) != 0)
            continue;
        for (int k = 0; k < m->node->n_in; k++)
            if (m->node->in[k][0] && !input(m, k))
                return "an input that is neither a graph input nor an initializer";
        const char *r = maps[i].fn(m);
        return m->failed ? NULL : r;
    }
    return "no lnet op";
}
