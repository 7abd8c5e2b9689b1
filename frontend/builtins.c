/* builtins.c — the table of builtin functions and the ones without parameters.
 *
 * Each builtin has a CallSpec (its parameters, kinds and defaults, shared with
 * the binder in args.c) and a lowering function. Builtins that own learned
 * parameters live in layers.c. The table order is the order of
 * docs/language.md; `uses` counts each builtin's calls for parameter names.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "fe_impl.h"

typedef Value (*BuiltinFn)(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc);

typedef struct Builtin {
    CallSpec spec;
    BuiltinFn fn;
    IrOp op;                /* the op of simple one-operand builtins */
} Builtin;

static const Value NONE = {.kind = VAL_NONE};

static Value tensor(int id) { return id < 0 ? NONE : (Value){.kind = VAL_TENSOR, .node = id}; }

/* relu(x), gelu(x), ..., flatten(x), global_avg_pool(x): one operand, no attributes */
static Value bi_unary(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc);

/* maxpool(x, kernel=2, stride=kernel), avgpool(...) */
static Value bi_pool(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    IrAttrs a = {0};
    if (!fe_arg_int(L, s, b, 1, 1, 1 << 20, &a.kernel) ||
        !fe_arg_int(L, s, b, 2, 0, 1 << 20, &a.stride))
        return NONE;
    if (a.stride == 0)
        a.stride = a.kernel;
    IrOp op = strcmp(s->name, "maxpool") == 0 ? IR_OP_MAXPOOL : IR_OP_AVGPOOL;
    return tensor(lower_emit(L, op, &b->v[0].node, 1, &a, loc));
}

/* dropout(x, p=0.1) */
static Value bi_dropout(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    (void)s;
    double p = b->v[1].num;
    if (!(p >= 0 && p < 1)) {
        lower_error(L, b->loc[1], "argument 'p' of 'dropout' must be in [0, 1), got %g", p);
        return NONE;
    }
    IrAttrs a = {.p = (float)p};
    return tensor(lower_emit(L, IR_OP_DROPOUT, &b->v[0].node, 1, &a, loc));
}

/* leaky_relu(x, slope=0.01): slope·x for x <= 0 */
static Value bi_leaky_relu(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    (void)s;
    double slope = b->v[1].num;
    if (!(fabs(slope) <= FLT_MAX)) {      /* finite as an f32 */
        lower_error(L, b->loc[1], "argument 'slope' of 'leaky_relu' must be a finite number, "
                    "got %g", slope);
        return NONE;
    }
    IrAttrs a = {.scalar = (float)slope};
    return tensor(lower_emit(L, IR_OP_LEAKY_RELU, &b->v[0].node, 1, &a, loc));
}

/* Reads the extras of a call as integers in [lo, hi]. */
static bool extras_int(Lower *L, const CallSpec *s, const Bound *b, long lo, long hi, int *out)
{
    for (int i = 0; i < b->n_extra; i++) {
        double v = b->extra[i];
        if (!(v >= lo && v <= hi && v == floor(v))) {
            lower_error(L, b->extra_loc[i], "'%s': %g is not a valid %s", s->name, v,
                        lo > 0 ? "dimension (a positive integer)" : "axis");
            return false;
        }
        out[i] = (int)v;
    }
    return true;
}

/* reshape(x, d1, d2, ...): new non-batch dims; one of them may be -1 (inferred) */
static Value bi_reshape(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    int d[FE_MAX_EXTRA], infer = -1;
    if (b->n_extra == 0 || b->n_extra > IR_MAX_DIMS - 1) {
        lower_error(L, loc, "reshape needs 1 to %d dimensions after the tensor", IR_MAX_DIMS - 1);
        return NONE;
    }
    if (!extras_int(L, s, b, -1, 1 << 30, d))
        return NONE;
    IrAttrs a = {.rank = b->n_extra};
    int64_t known = 1;
    for (int i = 0; i < b->n_extra; i++) {
        if (d[i] == 0 || (d[i] < 0 && infer >= 0)) {
            lower_error(L, b->extra_loc[i], "'reshape': %d is not a valid dimension", d[i]);
            return NONE;
        }
        if (d[i] < 0)
            infer = i;
        else
            known *= d[i];
        a.shape[i] = d[i];
    }
    if (infer >= 0)
        a.shape[infer] = ir_type_numel(lower_type(L, b->v[0].node)) / known;
    return tensor(lower_emit(L, IR_OP_RESHAPE, &b->v[0].node, 1, &a, loc));
}

/* transpose(x, a, b): swap two non-batch axes; transpose(x, p0, p1, ...): full perm */
static Value bi_transpose(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    const IrType *t = lower_type(L, b->v[0].node);
    int r = t->rank - (ir_type_batched(t) ? 1 : 0), ax[FE_MAX_EXTRA];
    if (!extras_int(L, s, b, -r, r - 1, ax))
        return NONE;
    IrAttrs a = {0};
    for (int i = 0; i < r; i++)
        a.perm[i] = i;
    if (b->n_extra == 2) {
        int x = (ax[0] + r) % r, y = (ax[1] + r) % r;
        a.perm[x] = y;
        a.perm[y] = x;
    } else if (b->n_extra == r) {
        for (int i = 0; i < r; i++)
            a.perm[i] = (ax[i] + r) % r;
    } else {
        lower_error(L, loc, "transpose needs two axes or a permutation of all %d non-batch axes",
                    r);
        return NONE;
    }
    return tensor(lower_emit(L, IR_OP_TRANSPOSE, &b->v[0].node, 1, &a, loc));
}

/* causal_attention(q, k, v, heads=1) */
static Value bi_causal_attention(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    IrAttrs a = {0};
    if (!fe_arg_int(L, s, b, 3, 1, 1 << 16, &a.heads))
        return NONE;
    int in[3] = {b->v[0].node, b->v[1].node, b->v[2].node};
    return tensor(lower_emit(L, IR_OP_CAUSAL_ATTENTION, in, 3, &a, loc));
}

/* cross_entropy(logits, labels): labels is a class label with matching classes */
static Value bi_cross_entropy(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    (void)s;
    const IrNode *y = L->g->nodes[b->v[1].node];
    const IrType *x = lower_type(L, b->v[0].node);
    char buf[96];
    if (y->op != IR_OP_LABEL || y->a.classes == 0) {
        lower_error(L, b->loc[1], "cross_entropy needs a class label (label NAME : class[K]) "
                    "as its second argument");
        return NONE;
    }
    if (x->rank >= 1 && x->dim[x->rank - 1] != y->a.classes) {
        lower_error(L, b->loc[0], "cross_entropy: the logits %s have %lld classes but label "
                    "'%s' has %d", lower_type_str(L, b->v[0].node, buf, sizeof buf),
                    (long long)x->dim[x->rank - 1], y->name, y->a.classes);
        return NONE;
    }
    int in[2] = {b->v[0].node, b->v[1].node};
    return tensor(lower_emit(L, IR_OP_CROSS_ENTROPY, in, 2, NULL, loc));
}

/* mse(pred, target) */
static Value bi_mse(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    (void)s;
    int in[2] = {b->v[0].node, b->v[1].node};
    return tensor(lower_emit(L, IR_OP_MSE, in, 2, NULL, loc));
}

#define T(n) {n, ARG_TENSOR, true, 0}
#define N(n, d) {n, ARG_NUM, false, d}
#define R(n) {n, ARG_NUM, true, 0}
#define SPEC(name, params) {name, params, (int)(sizeof params / sizeof params[0]), false, 0}
#define VSPEC(name, params, npos) {name, params, (int)(sizeof params / sizeof params[0]), true, npos}

static const ArgSpec X[] = {T("x")};
static const ArgSpec DENSE[] = {T("x"), R("units"), N("bias", 1), {"init", ARG_AST, false, 0}};
static const ArgSpec CONV[] = {T("x"), R("out"), N("kernel", 3), N("stride", 1),
                               N("padding", 0), N("bias", 1), {"init", ARG_AST, false, 0}};
static const ArgSpec POOL[] = {T("x"), N("kernel", 2), N("stride", 0)};
static const ArgSpec LEAKY[] = {T("x"), N("slope", 0.01)};
static const ArgSpec DROPOUT[] = {T("x"), N("p", 0.1)};
static const ArgSpec LAYERNORM[] = {T("x"), N("eps", 1e-5)};
static const ArgSpec BATCHNORM[] = {T("x"), N("eps", 1e-5), N("momentum", 0.1)};
static const ArgSpec EMBEDDING[] = {T("ids"), R("vocab"), R("dim"), {"init", ARG_AST, false, 0}};
static const ArgSpec PARAM[] = {{"init", ARG_AST, false, 0}};
static const ArgSpec ATTENTION[] = {T("x"), N("heads", 4)};
static const ArgSpec CAUSAL[] = {T("q"), T("k"), T("v"), N("heads", 1)};
static const ArgSpec LOSS2[] = {T("logits"), T("labels")};
static const ArgSpec MSE[] = {T("pred"), T("target")};

static const Builtin builtins[] = {
    {SPEC("dense", DENSE), layer_dense, IR_OP_MATMUL},
    {SPEC("conv2d", CONV), layer_conv2d, IR_OP_CONV2D},
    {SPEC("maxpool", POOL), bi_pool, IR_OP_MAXPOOL},
    {SPEC("avgpool", POOL), bi_pool, IR_OP_AVGPOOL},
    {SPEC("global_avg_pool", X), bi_unary, IR_OP_GLOBAL_AVG_POOL},
    {SPEC("flatten", X), bi_unary, IR_OP_FLATTEN},
    {VSPEC("reshape", X, 1), bi_reshape, IR_OP_RESHAPE},
    {VSPEC("transpose", X, 1), bi_transpose, IR_OP_TRANSPOSE},
    {SPEC("relu", X), bi_unary, IR_OP_RELU},
    {SPEC("leaky_relu", LEAKY), bi_leaky_relu, IR_OP_LEAKY_RELU},
    {SPEC("gelu", X), bi_unary, IR_OP_GELU},
    {SPEC("tanh", X), bi_unary, IR_OP_TANH},
    {SPEC("sigmoid", X), bi_unary, IR_OP_SIGMOID},
    {SPEC("softmax", X), bi_unary, IR_OP_SOFTMAX},
    {SPEC("log_softmax", X), bi_unary, IR_OP_LOG_SOFTMAX},
    {SPEC("stop_gradient", X), bi_unary, IR_OP_STOP_GRADIENT},
    {SPEC("dropout", DROPOUT), bi_dropout, IR_OP_DROPOUT},
    {SPEC("layernorm", LAYERNORM), layer_layernorm, IR_OP_LAYERNORM},
    {SPEC("batchnorm", BATCHNORM), layer_batchnorm, IR_OP_BATCHNORM},
    {SPEC("embedding", EMBEDDING), layer_embedding, IR_OP_EMBEDDING},
    {VSPEC("param", PARAM, 0), layer_param, IR_OP_PARAM},
    {SPEC("attention", ATTENTION), layer_attention, IR_OP_CAUSAL_ATTENTION},
    {SPEC("causal_attention", CAUSAL), bi_causal_attention, IR_OP_CAUSAL_ATTENTION},
    {SPEC("cross_entropy", LOSS2), bi_cross_entropy, IR_OP_CROSS_ENTROPY},
    {SPEC("mse", MSE), bi_mse, IR_OP_MSE},
};
#define N_BUILTINS ((int)(sizeof builtins / sizeof builtins[0]))
_Static_assert(N_BUILTINS <= FE_MAX_BUILTINS, "raise FE_MAX_BUILTINS");

static Value bi_unary(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    for (int i = 0; i < N_BUILTINS; i++)
        if (&builtins[i].spec == s)
            return tensor(lower_emit(L, builtins[i].op, &b->v[0].node, 1, NULL, loc));
    IR_ASSERT(!"bi_unary: spec not in the table");
    return NONE;
}

int builtin_names(const char **names, int cap)
{
    int n = 0;
    for (; n < N_BUILTINS && n < cap; n++)
        names[n] = builtins[n].spec.name;
    return n;
}

const char *layer_prefix(Lower *L, const char *name)
{
    for (int i = 0; i < N_BUILTINS; i++) {
        if (strcmp(builtins[i].spec.name, name) != 0)
            continue;
        char buf[96];
        snprintf(buf, sizeof buf, "%.32s%s%s_%d", L->prefix ? L->prefix : "",
                 L->prefix ? "." : "", name, L->uses[i]++);
        return ir_arena_strdup(&L->g->arena, buf);
    }
    IR_ASSERT(!"layer_prefix: not a builtin");
    return NULL;
}

bool builtin_call(Lower *L, const AstExpr *call, Value *out)
{
    for (int i = 0; i < N_BUILTINS; i++) {
        const Builtin *bi = &builtins[i];
        if (strcmp(bi->spec.name, call->str) != 0)
            continue;
        Bound b;
        *out = fe_bind(L, &bi->spec, call, &b) ? bi->fn(L, &bi->spec, &b, call->loc) : NONE;
        return true;
    }
    return false;
}
