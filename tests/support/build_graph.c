/* build_graph.c — see build_graph.h. */
#include "build_graph.h"
#include "passes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int source(IrGraph *g, IrOp op, const char *name, IrDType dt, bool batched, int rank,
                  const int64_t *dims)
{
    IrNode *n = ir_node_add(g, op, NULL, 0, NULL, IR_LOC_NONE);
    n->name = ir_arena_strdup(&g->arena, name);
    n->type.dtype = dt;
    n->type.rank = rank + batched;
    if (batched)
        n->type.dim[0] = IR_DIM_N;
    for (int i = 0; i < rank; i++)
        n->type.dim[i + batched] = dims[i];
    return n->id;
}

int tb_input(IrGraph *g, const char *name, int rank, const int64_t *dims)
{
    return source(g, IR_OP_INPUT, name, IR_F32, true, rank, dims);
}

int tb_label(IrGraph *g, const char *name, int classes, int rank, const int64_t *dims)
{
    int id = source(g, IR_OP_LABEL, name, IR_I32, true, rank, dims);
    g->nodes[id]->a.classes = classes;
    return id;
}

int tb_param(IrGraph *g, const char *name, int rank, const int64_t *dims)
{
    return source(g, IR_OP_PARAM, name, IR_F32, false, rank, dims);
}

int tb_op(IrGraph *g, IrOp op, const int *in, int n_in, const IrAttrs *a)
{
    IrNode *n = ir_node_add(g, op, in, n_in, a, IR_LOC_NONE);
    Diag d;
    diag_init(&d);
    if (!ir_shape_infer(g, n, &d)) {
        diag_print(&d, stderr);
        abort();
    }
    diag_fini(&d);
    return n->id;
}

int tb_op1(IrGraph *g, IrOp op, int a) { return tb_op(g, op, &a, 1, NULL); }

int tb_op2(IrGraph *g, IrOp op, int a, int b)
{
    int in[2] = {a, b};
    return tb_op(g, op, in, 2, NULL);
}

int tb_dense(IrGraph *g, int x, int w, int b)
{
    IrAttrs a = {.axis = -1};
    int in[2] = {tb_op2(g, IR_OP_MATMUL, x, w), b};
    return tb_op(g, IR_OP_BIAS_ADD, in, 2, &a);
}

char *tb_diag_text(const Diag *d)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    diag_print(d, f);
    fclose(f);
    return s;
}

void tb_passes(IrGraph *g, const char *pipeline)
{
    Diag d;
    diag_init(&d);
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    if (!pass_run_pipeline(g, pipeline, &ctx)) {
        diag_print(&d, stderr);
        abort();
    }
    diag_fini(&d);
}

/* Fixture tensor `name`, checked against node id's type: the dtype must agree,
 * and the elements: an unbatched node holds as many as the fixture tensor (a
 * scalar loss is stored with shape (1)); a batched node has the fixture's rank
 * and dimensions after the batch, which is the fixture's. A mismatch aborts:
 * comparing a prefix of a buffer, or reading past one, would let a wrong
 * layout pass. */
static const StTensor *fixture_for(const IrGraph *g, int id, const StFile *f, const char *name)
{
    const StTensor *t = st_find(f, name);
    if (!t) {
        fprintf(stderr, "fixture has no tensor '%s'\n", name);
        abort();
    }
    const IrType *ty = &g->nodes[id]->type;
    bool fits = t->dtype == (ty->dtype == IR_F32 ? ST_F32 : ST_I32);
    if (!ir_type_batched(ty))
        fits = fits && st_numel(t->rank, t->shape) == ir_type_numel(ty);
    else
        fits = fits && t->rank == ty->rank && t->shape[0] >= 1;
    for (int i = 1; fits && ir_type_batched(ty) && i < t->rank; i++)
        fits = t->shape[i] == ty->dim[i];
    if (!fits) {
        fprintf(stderr, "fixture tensor '%s' (rank %d, %lld elements) does not fit node %%%d\n",
                name, t->rank, (long long)st_numel(t->rank, t->shape), id);
        abort();
    }
    return t;
}

void tb_load(RtInterp *in, const IrGraph *g, int id, const StFile *f, const char *name)
{
    const StTensor *t = fixture_for(g, id, f, name);
    memcpy(rt_interp_buffer(in, id), t->data, t->nbytes);
}

double tb_max_err(const float *a, const float *b, int64_t n)
{
    double diff = 0, scale = 1;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i]))
            return INFINITY;
        diff = fmax(diff, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return diff / scale;
}

double tb_compare(RtInterp *in, const IrGraph *g, int id, const StFile *f, const char *name)
{
    const StTensor *t = fixture_for(g, id, f, name);
    double e = tb_max_err(rt_interp_buffer(in, id), t->data, st_numel(t->rank, t->shape));
    if (!(e <= 1e-5))
        fprintf(stderr, "  %-24s max error %.3g\n", name, e);
    return e;
}
