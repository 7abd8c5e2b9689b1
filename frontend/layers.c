/* layers.c — builtins that own learned parameters.
 *
 * Each call creates PARAM nodes named `<builtin>_<k>.<part>` (k counts that
 * builtin's calls in program order), with the initializer and the fans the
 * runtime needs to draw initial values:
 *   dense      w [in,units] (He) → matmul, b [units] (zeros) → bias_add axis -1
 *   conv2d     w [out,C,k,k] (He) → conv2d, b [out] (zeros) → bias_add axis 1
 *   layernorm  g [D] (ones), b [D] (zeros)
 *   batchnorm  g [C] (ones), b [C] (zeros), and the running statistics
 *              running_mean [C] (zeros), running_var [C] (ones): IR_F_BUFFER
 *              params, state the op updates, not trained
 *   embedding  w [vocab,dim] (normal 0.02)
 *   param      w [dims...] (normal 0.02)
 *   attention  q, k, v, o: w [D,D] (Glorot) and b [D] (zeros) each
 */
#include <string.h>

#include "fe_impl.h"

static const Value NONE = {.kind = VAL_NONE};

static Value tensor(int id) { return id < 0 ? NONE : (Value){.kind = VAL_TENSOR, .node = id}; }

/* init = "he" | "glorot" | "zeros" | "ones" | "normal" [ "(" [ "std" "=" ] expr ")" ] */
bool fe_init_spec(Lower *L, const AstExpr *e, IrInit *init, float *std)
{
    static const struct { const char *name; IrInit init; } inits[] = {
        {"he", IR_INIT_HE}, {"glorot", IR_INIT_GLOROT}, {"zeros", IR_INIT_ZEROS},
        {"ones", IR_INIT_ONES}, {"normal", IR_INIT_NORMAL}};
    if (e->kind == AST_NAME || (e->kind == AST_CALL && strcmp(e->str, "normal") == 0)) {
        for (size_t i = 0; i < sizeof inits / sizeof inits[0]; i++) {
            if (strcmp(e->str, inits[i].name) != 0)
                continue;
            *init = inits[i].init;
            *std = 0.02f;
            if (e->kind == AST_NAME)
                return true;
            static const ArgSpec STD[] = {{"std", ARG_NUM, false, 0.02}};
            CallSpec spec = {"normal", STD, 1, false, 0};
            Bound b;
            if (!fe_bind(L, &spec, e, &b))
                return false;
            if (!(b.v[0].num > 0)) {
                lower_error(L, b.loc[0], "argument 'std' of 'normal' must be > 0, got %g",
                            b.v[0].num);
                return false;
            }
            *std = (float)b.v[0].num;
            return true;
        }
    }
    lower_error(L, e->loc, "bad init: expected he, glorot, normal, normal(STD), zeros or ones");
    return false;
}

/* The init argument at index i, or dflt when it was not given. */
static bool init_arg(Lower *L, const Bound *b, int i, IrInit dflt, float dflt_std,
                     IrInit *init, float *std)
{
    *init = dflt;
    *std = dflt_std;
    return !b->ast[i] || fe_init_spec(L, b->ast[i], init, std);
}

static ParamSpec pspec(const char *suffix, int rank, const int64_t *dim, IrInit init,
                       float std, int fan_in, int fan_out)
{
    ParamSpec ps = {.suffix = suffix, .rank = rank, .init = init, .std = std,
                    .fan_in = fan_in, .fan_out = fan_out};
    memcpy(ps.dim, dim, (size_t)rank * sizeof dim[0]);
    return ps;
}

/* Checks that x is f32 with a feature dim other than the batch. */
static bool need_features(Lower *L, const char *fn, const Bound *b)
{
    const IrType *t = lower_type(L, b->v[0].node);
    if (t->dtype == IR_F32 && t->rank >= 1 && !(t->rank == 1 && ir_type_batched(t)))
        return true;
    char buf[96];
    lower_error(L, b->loc[0], "%s expects an f32 tensor with a feature dimension, got %s", fn,
                lower_type_str(L, b->v[0].node, buf, sizeof buf));
    return false;
}

/* x·w + b over the last dim, parameters named prefix.w / prefix.b */
static int dense_core(Lower *L, const char *prefix, int x, int units, bool bias, IrInit init,
                      float std, IrLoc loc)
{
    const IrType *t = lower_type(L, x);
    int64_t in = t->dim[t->rank - 1];
    ParamSpec w = pspec("w", 2, (int64_t[]){in, units}, init, std, (int)in, units);
    int wid = lower_param(L, prefix, &w, loc);
    int bid = -1;
    if (bias) {
        ParamSpec bs = pspec("b", 1, (int64_t[]){units}, IR_INIT_ZEROS, 0, (int)in, units);
        bid = lower_param(L, prefix, &bs, loc);
    }
    int mm[2] = {x, wid};
    int h = wid < 0 ? -1 : lower_emit(L, IR_OP_MATMUL, mm, 2, NULL, loc);
    if (!bias || h < 0 || bid < 0)
        return bias && bid < 0 ? -1 : h;
    int ba[2] = {h, bid};
    IrAttrs a = {.axis = -1};
    return lower_emit(L, IR_OP_BIAS_ADD, ba, 2, &a, loc);
}

/* dense(x, units, bias=1, init=he) */
Value layer_dense(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    int units, bias;
    IrInit init;
    float std;
    if (!need_features(L, "dense", b) || !fe_arg_int(L, s, b, 1, 1, 1 << 24, &units) ||
        !fe_arg_int(L, s, b, 2, 0, 1, &bias) || !init_arg(L, b, 3, IR_INIT_HE, 0, &init, &std))
        return NONE;
    const char *prefix = layer_prefix(L, "dense");
    return tensor(dense_core(L, prefix, b->v[0].node, units, bias, init, std, loc));
}

/* conv2d(x, out, kernel=3, stride=1, padding=0, bias=1, init=he), x [N,C,H,W] */
Value layer_conv2d(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    const IrType *t = lower_type(L, b->v[0].node);
    char buf[96];
    if (t->dtype != IR_F32 || t->rank != 4 || !ir_type_batched(t)) {
        lower_error(L, b->loc[0], "conv2d expects an f32[N,C,H,W] input, got %s "
                    "(reshape first, e.g. reshape(x, 1, 28, 28))",
                    lower_type_str(L, b->v[0].node, buf, sizeof buf));
        return NONE;
    }
    int out, k, bias;
    IrAttrs a = {0};
    IrInit init;
    float std;
    if (!fe_arg_int(L, s, b, 1, 1, 1 << 20, &out) || !fe_arg_int(L, s, b, 2, 1, 1 << 10, &k) ||
        !fe_arg_int(L, s, b, 3, 1, 1 << 10, &a.stride) ||
        !fe_arg_int(L, s, b, 4, 0, 1 << 10, &a.padding) || !fe_arg_int(L, s, b, 5, 0, 1, &bias) ||
        !init_arg(L, b, 6, IR_INIT_HE, 0, &init, &std))
        return NONE;
    const char *prefix = layer_prefix(L, "conv2d");
    int c = (int)t->dim[1];
    ParamSpec w = pspec("w", 4, (int64_t[]){out, c, k, k}, init, std, c * k * k, out * k * k);
    int in[2] = {b->v[0].node, lower_param(L, prefix, &w, loc)};
    int bid = -1;
    if (bias) {
        ParamSpec bs = pspec("b", 1, (int64_t[]){out}, IR_INIT_ZEROS, 0, c * k * k, out * k * k);
        bid = lower_param(L, prefix, &bs, loc);
    }
    int y = in[1] < 0 ? -1 : lower_emit(L, IR_OP_CONV2D, in, 2, &a, loc);
    if (!bias || y < 0 || bid < 0)
        return tensor(bias && bid < 0 ? -1 : y);
    int ba[2] = {y, bid};
    IrAttrs ab = {.axis = 1};
    return tensor(lower_emit(L, IR_OP_BIAS_ADD, ba, 2, &ab, loc));
}

/* layernorm(x, eps=1e-5) over the last dim */
Value layer_layernorm(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    (void)s;
    if (!need_features(L, "layernorm", b))
        return NONE;
    if (!(b->v[1].num > 0)) {
        lower_error(L, b->loc[1], "argument 'eps' of 'layernorm' must be > 0, got %g", b->v[1].num);
        return NONE;
    }
    const IrType *t = lower_type(L, b->v[0].node);
    int64_t d = t->dim[t->rank - 1];
    const char *prefix = layer_prefix(L, "layernorm");
    ParamSpec g = pspec("g", 1, &d, IR_INIT_ONES, 0, (int)d, (int)d);
    ParamSpec bs = pspec("b", 1, &d, IR_INIT_ZEROS, 0, (int)d, (int)d);
    int in[3] = {b->v[0].node, lower_param(L, prefix, &g, loc), lower_param(L, prefix, &bs, loc)};
    IrAttrs a = {.eps = (float)b->v[1].num};
    return tensor(in[1] < 0 || in[2] < 0 ? -1 : lower_emit(L, IR_OP_LAYERNORM, in, 3, &a, loc));
}

/* batchnorm(x, eps=1e-5, momentum=0.1) per channel (axis 1) of x [N,C],
 * [N,C,L] or [N,C,H,W], as PyTorch's BatchNorm1d/2d */
Value layer_batchnorm(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    (void)s;
    const IrType *t = lower_type(L, b->v[0].node);
    char buf[96];
    if (t->dtype != IR_F32 || !ir_type_batched(t) || t->rank < 2 || t->rank > 4) {
        lower_error(L, b->loc[0], "batchnorm expects an f32 tensor [N,C], [N,C,L] or "
                    "[N,C,H,W], got %s", lower_type_str(L, b->v[0].node, buf, sizeof buf));
        return NONE;
    }
    if (!(b->v[1].num > 0)) {
        lower_error(L, b->loc[1], "argument 'eps' of 'batchnorm' must be > 0, got %g", b->v[1].num);
        return NONE;
    }
    if (!(b->v[2].num >= 0 && b->v[2].num <= 1)) {
        lower_error(L, b->loc[2], "argument 'momentum' of 'batchnorm' must be in [0, 1], got %g",
                    b->v[2].num);
        return NONE;
    }
    int64_t c = t->dim[1];
    const char *prefix = layer_prefix(L, "batchnorm");
    static const struct { const char *suffix; IrInit init; bool buffer; } parts[] = {
        {"g", IR_INIT_ONES, false}, {"b", IR_INIT_ZEROS, false},
        {"running_mean", IR_INIT_ZEROS, true}, {"running_var", IR_INIT_ONES, true}};
    int in[5] = {b->v[0].node};
    for (int k = 0; k < 4; k++) {
        ParamSpec ps = pspec(parts[k].suffix, 1, &c, parts[k].init, 0, (int)c, (int)c);
        if ((in[k + 1] = lower_param(L, prefix, &ps, loc)) < 0)
            return NONE;
        if (parts[k].buffer)
            L->g->nodes[in[k + 1]]->flags |= IR_F_BUFFER;
    }
    IrAttrs a = {.eps = (float)b->v[1].num, .momentum = (float)b->v[2].num};
    return tensor(lower_emit(L, IR_OP_BATCHNORM, in, 5, &a, loc));
}

/* embedding(ids, vocab, dim, init=normal(0.02)), ids i32 */
Value layer_embedding(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    char buf[96];
    if (lower_type(L, b->v[0].node)->dtype != IR_I32) {
        lower_error(L, b->loc[0], "embedding expects i32 ids, got %s",
                    lower_type_str(L, b->v[0].node, buf, sizeof buf));
        return NONE;
    }
    int vocab, dim;
    IrInit init;
    float std;
    if (!fe_arg_int(L, s, b, 1, 1, 1 << 24, &vocab) || !fe_arg_int(L, s, b, 2, 1, 1 << 20, &dim) ||
        !init_arg(L, b, 3, IR_INIT_NORMAL, 0.02f, &init, &std))
        return NONE;
    const char *prefix = layer_prefix(L, "embedding");
    ParamSpec w = pspec("w", 2, (int64_t[]){vocab, dim}, init, std, vocab, dim);
    int in[2] = {b->v[0].node, lower_param(L, prefix, &w, loc)};
    return tensor(in[1] < 0 ? -1 : lower_emit(L, IR_OP_EMBEDDING, in, 2, NULL, loc));
}

/* param(d1, d2, ..., init=normal(0.02)): a free learned tensor, no batch dim */
Value layer_param(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    (void)s;
    if (b->n_extra == 0) {
        lower_error(L, loc, "param needs at least one dimension");
        return NONE;
    }
    int64_t dim[IR_MAX_DIMS];
    for (int i = 0; i < b->n_extra; i++) {
        double v = b->extra[i];
        if (!(v >= 1 && v <= (1 << 24) && v == (double)(int64_t)v)) {
            lower_error(L, b->extra_loc[i], "'param': %g is not a valid dimension "
                        "(a positive integer)", v);
            return NONE;
        }
        dim[i] = (int64_t)v;
    }
    IrInit init;
    float std;
    if (!init_arg(L, b, 0, IR_INIT_NORMAL, 0.02f, &init, &std))
        return NONE;
    int r = b->n_extra;
    int64_t fan_in = 1;
    for (int i = 0; i + 1 < r; i++)
        fan_in *= dim[i];
    ParamSpec w = pspec("w", r, dim, init, std, (int)fan_in, (int)dim[r - 1]);
    return tensor(lower_param(L, layer_prefix(L, "param"), &w, loc));
}

/* attention(x, heads=4): x [N,T,D] → q,k,v projections → causal_attention → o */
Value layer_attention(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc)
{
    const IrType *t = lower_type(L, b->v[0].node);
    char buf[96];
    int heads;
    if (t->dtype != IR_F32 || t->rank != 3 || !ir_type_batched(t)) {
        lower_error(L, b->loc[0], "attention expects an f32[N,T,D] input, got %s",
                    lower_type_str(L, b->v[0].node, buf, sizeof buf));
        return NONE;
    }
    if (!fe_arg_int(L, s, b, 1, 1, 1 << 16, &heads))
        return NONE;
    int d = (int)t->dim[2];
    if (d % heads != 0) {
        lower_error(L, b->loc[1], "attention: heads (%d) must divide the width %d", heads, d);
        return NONE;
    }
    const char *prefix = layer_prefix(L, "attention");
    static const char *const parts[] = {"q", "k", "v"};
    int qkv[3];
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(prefix) + 3;
        char *p = ir_arena_alloc(&L->g->arena, n);
        snprintf(p, n, "%s.%s", prefix, parts[i]);
        if ((qkv[i] = dense_core(L, p, b->v[0].node, d, true, IR_INIT_GLOROT, 0, loc)) < 0)
            return NONE;
    }
    IrAttrs a = {.heads = heads};
    int y = lower_emit(L, IR_OP_CAUSAL_ATTENTION, qkv, 3, &a, loc);
    size_t n = strlen(prefix) + 3;
    char *o = ir_arena_alloc(&L->g->arena, n);
    snprintf(o, n, "%s.o", prefix);
    return tensor(y < 0 ? -1 : dense_core(L, o, y, d, true, IR_INIT_GLOROT, 0, loc));
}
