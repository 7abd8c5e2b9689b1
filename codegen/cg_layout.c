/* cg_layout.c — buffer layout of a lowered graph: views that alias their
 * source's buffer, and the scratch area the kernels share. No LLVM here: an
 * AOT trainer sizes its buffers with these functions at start-up, and they
 * must agree with what the lowering assumed at build time. Where the other
 * values live (own buffers or offsets in one activation slab) is the memory
 * plan of passes/plan_memory.c, which the executor applies at run time (the
 * entries load every pointer from the buffer table, so code does not depend
 * on it).
 */
#include "cg_layout.h"
#include "passes.h"

/* One definition with the memory plan's: views (IR_P_VIEW) alias. */
int cg_buffer_source(const IrGraph *g, int id)
{
    return pass_mem_source(g, id);
}

/* conv2d reads (x, w); grad_x (dy, w, x); grad_w (x, dy, w): the x and w
 * columns of ops.def say which is which. */
CgConvGeo cg_conv_geo(const IrGraph *g, const IrNode *n)
{
    const IrOpInfo *r = ir_op_info(n->op);
    const IrType *x = &g->nodes[n->in[r->x]]->type, *w = &g->nodes[n->in[r->w]]->type;
    CgConvGeo c = {x->dim[1], x->dim[2], x->dim[3], w->dim[0], w->dim[2], n->a.stride,
                   n->a.padding, 0, 0};
    c.OH = (c.H + 2 * c.P - c.K) / c.S + 1;
    c.OW = (c.W + 2 * c.P - c.K) / c.S + 1;
    return c;
}

bool cg_conv_shifted(const CgConvGeo *c)
{
    return c->S == 1 && c->K > 1 && c->C >= 16 && c->O >= 16;
}

/* Images per chunk: about WINO_COLUMNS tile columns per product (at least
 * one image), few enough that a chunk's transformed tiles stay in a core's
 * L2 while the products read them. Measured on fmnist_cnn (bench/RESULTS.md,
 * "I: Winograd convolutions"): 98 to 128 columns best, 49 and 256 within
 * 3-6%, 800 9% slower. A chunk's V and M may take at most WINO_MAX_FLOATS
 * (16 MiB): larger images (a 112×112 image at 64 channels in and out would
 * need 26 MiB) keep the shifted products. */
enum { WINO_COLUMNS = 128, WINO_MAX_FLOATS = 1 << 22 };

int64_t cg_conv_wino_chunk(const CgConvGeo *c)
{
    int64_t tiles = (c->OH / 2) * (c->OW / 2), b = WINO_COLUMNS / tiles;
    return b > 1 ? b : 1;
}

bool cg_conv_winograd(const CgConvGeo *c)
{
    if (c->K != 3 || c->S != 1 || c->P != 1 || c->H % 2 || c->W % 2 || c->C < 16 || c->O < 16)
        return false;
    int64_t tiles = (c->OH / 2) * (c->OW / 2);
    return 16 * (c->C + c->O) * cg_conv_wino_chunk(c) * tiles <= WINO_MAX_FLOATS;
}

/* The im2col matrix (C·K·K, OH·OW); shifted, the padded image
 * (C, (H+2P)·(W+2P) + K-1), an output-sized (O, OH·(W+2P)) matrix and the
 * repacked weights (K·K, O, C). The larger: no_contract runs im2col. */
int64_t cg_conv_scratch_floats(const CgConvGeo *c)
{
    int64_t Hp = c->H + 2 * c->P, Wp = c->W + 2 * c->P;
    int64_t col = c->C * c->K * c->K * c->OH * c->OW;
    int64_t sh = c->C * (Hp * Wp + c->K - 1) + c->O * c->OH * Wp + c->K * c->K * c->O * c->C;
    int64_t n = cg_conv_shifted(c) && sh > col ? sh : col;
    if (cg_conv_winograd(c)) {  /* xp, V, M, U (codegen/lower_wino.c) */
        int64_t ldt = cg_conv_wino_chunk(c) * (c->OH / 2) * (c->OW / 2);
        int64_t wi = (c->C > c->O ? c->C : c->O) * Hp * Wp + 16 * (c->C + c->O) * ldt +
                     16 * c->O * c->C;
        n = wi > n ? wi : n;
    }
    return n;
}

/* Scratch bytes of one node's kernel (nb: the batch; no kernel depends on
 * it today): double accumulators of the per-feature reductions, conv's work
 * area (per image, or per chunk of images for Winograd;
 * cg_conv_scratch_floats), attention's two (T, T) score matrices of one
 * head. */
static int64_t node_scratch(const IrGraph *g, const IrNode *n, int nb)
{
    (void)nb;
    switch (n->op) {
    case IR_OP_BIAS_GRAD:
    case IR_OP_LAYERNORM_GRAD_G:
        return 8 * n->type.dim[0];
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BIAS_RELU:
    case IR_OP_CONV2D_GRAD_X:
    case IR_OP_CONV2D_GRAD_X_RELU:
    case IR_OP_CONV2D_GRAD_W: {
        CgConvGeo c = cg_conv_geo(g, n);
        return 4 * cg_conv_scratch_floats(&c);
    }
    case IR_OP_CAUSAL_ATTENTION:
    case IR_OP_ATTENTION_GRAD: {
        const IrType *q = &g->nodes[n->in[ir_op_info(n->op)->x]]->type;
        return 2 * 4 * q->dim[1] * q->dim[1];
    }
    default:
        return 0;
    }
}

int64_t cg_scratch_bytes(const IrGraph *g, int max_batch)
{
    int64_t need = 16;
    for (int i = 0; i < g->n_nodes; i++) {
        int64_t s = node_scratch(g, g->nodes[i], max_batch);
        need = s > need ? s : need;
    }
    return (need + 15) / 16 * 16;
}
