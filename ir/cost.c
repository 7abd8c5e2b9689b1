/* cost.c — per-example forward cost of every op.
 *
 * FLOPs count multiply and add separately (a multiply-add is 2). Bytes are the
 * f32 elements read and written. These feed the partition pass's balancing
 * and `lnet cost`; the backward pass is costed by the passes from these
 * (≈ 2× forward for ops with parameters).
 */
#include "ir.h"

static double numel(const IrGraph *g, int id)
{
    return (double)ir_type_numel(&g->nodes[id]->type);
}

int64_t ir_param_numel(const IrNode *n)
{
    return n->op == IR_OP_PARAM && !(n->flags & IR_F_BUFFER) ? ir_type_numel(&n->type) : 0;
}

IrCost ir_node_cost(const IrGraph *g, const IrNode *n)
{
    double out = (double)ir_type_numel(&n->type);
    double in0 = n->n_in > 0 ? numel(g, n->in[0]) : 0;
    double flops = 0, bytes = 4 * (in0 + out);
    const IrType *w = n->n_in > 1 ? &g->nodes[n->in[1]]->type : NULL;
    switch (n->op) {
    case IR_OP_INPUT:
    case IR_OP_LABEL:
    case IR_OP_PARAM:
    case IR_OP_FLATTEN:
    case IR_OP_RESHAPE:
    case IR_OP_STOP_GRADIENT:
        bytes = 0;
        break;
    case IR_OP_TRANSPOSE:
        break;
    case IR_OP_MATMUL:          /* out elements, each a dot of length I */
    case IR_OP_MATMUL_BIAS:     /* + the bias (and the residual: read, added) */
        flops = 2 * out * (double)w->dim[0] + (n->op == IR_OP_MATMUL_BIAS ? out * (n->n_in - 2) : 0);
        bytes += 4 * (double)ir_type_numel(w) + (n->n_in == 4 ? 4 * out : 0);
        break;
    case IR_OP_CONV2D:          /* out elements, each a dot of C*K*K */
    case IR_OP_CONV2D_BIAS_RELU: {  /* + the bias and the relu */
        double ckk = (double)(w->dim[1] * w->dim[2] * w->dim[3]);
        flops = 2 * out * ckk + (n->op == IR_OP_CONV2D_BIAS_RELU ? 2 * out : 0);
        bytes += 4 * (double)ir_type_numel(w);
        break;
    }
    case IR_OP_BIAS_RELU:
        flops = 2 * out;
        break;
    case IR_OP_BIAS_ADD:
    case IR_OP_ADD:
    case IR_OP_SUB:
    case IR_OP_MUL:
    case IR_OP_DIV:
        flops = out;
        bytes += 4 * out;
        break;
    case IR_OP_ADD_SCALAR:
    case IR_OP_MUL_SCALAR:
    case IR_OP_RELU:
    case IR_OP_LEAKY_RELU:
    case IR_OP_DROPOUT:
        flops = out;
        break;
    case IR_OP_GELU:
    case IR_OP_TANH:
    case IR_OP_SIGMOID:
        flops = 8 * out;        /* a transcendental ≈ 8 flops */
        break;
    case IR_OP_SOFTMAX:
    case IR_OP_LOG_SOFTMAX:
        flops = 5 * out;
        break;
    case IR_OP_MAXPOOL:
    case IR_OP_AVGPOOL:
        flops = out * n->a.kernel * n->a.kernel;
        break;
    case IR_OP_GLOBAL_AVG_POOL:
        flops = in0;
        break;
    case IR_OP_LAYERNORM:
    case IR_OP_BATCHNORM:
        flops = 8 * out;
        break;
    case IR_OP_EMBEDDING:
        bytes = 8 * out;
        break;
    case IR_OP_CAUSAL_ATTENTION: {
        /* scores T×T×D/2 (causal) and the weighted sum of values, 2 flops each */
        const IrType *q = &n->type;
        double t = (double)q->dim[1], d = (double)q->dim[2];
        flops = 2 * t * t * d + 5 * t * t * n->a.heads / 2;
        bytes += 8 * in0 + 4 * t * t * n->a.heads;
        break;
    }
    case IR_OP_CROSS_ENTROPY:
    case IR_OP_MSE:
        flops = 5 * in0;
        bytes = 4 * in0;
        break;
    case IR_OP_MATMUL_GRAD_X:   /* dy[..,O] @ wT: out elements, dots of length O */
        flops = 2 * out * (double)w->dim[1];
        break;
    case IR_OP_MATMUL_GRAD_W:   /* xT @ dy: per example numel(x) * O multiply-adds */
        flops = 2 * in0 * (double)(w->rank ? w->dim[w->rank - 1] : 1);
        break;
    case IR_OP_CONV2D_GRAD_X:   /* as costly as the forward conv it reverses */
    case IR_OP_CONV2D_GRAD_X_RELU:
    case IR_OP_CONV2D_GRAD_W: {
        const IrOpInfo *r = ir_op_info(n->op);
        const IrType *k = &g->nodes[n->in[r->w]]->type;
        const IrType *dy = &g->nodes[n->in[3 - r->x - r->w]]->type;    /* neither x nor w */
        flops = 2 * (double)ir_type_numel(dy) * (double)(k->dim[1] * k->dim[2] * k->dim[3]);
        break;
    }
    case IR_OP_ATTENTION_GRAD: {
        const IrType *q = &g->nodes[n->in[ir_op_info(n->op)->x]]->type;
        double t = (double)q->dim[1], d = (double)q->dim[2];
        flops = 5 * t * t * d;
        break;
    }
    case IR_OP_FILL:
    case IR_OP_STATE:
    case IR_OP_RESHAPE_LIKE:
        bytes = 0;
        break;
    case IR_OP_GELU_GRAD:
    case IR_OP_GELU_GRAD_Y:
    case IR_OP_TANH_GRAD:
    case IR_OP_SIGMOID_GRAD:
    case IR_OP_SOFTMAX_GRAD:
    case IR_OP_LOG_SOFTMAX_GRAD:
    case IR_OP_LAYERNORM_GRAD_X:
    case IR_OP_LAYERNORM_GRAD_X_ADD:
    case IR_OP_LAYERNORM_GRAD_G:
    case IR_OP_BATCHNORM_GRAD_X:
    case IR_OP_BATCHNORM_GRAD_G:
    case IR_OP_CROSS_ENTROPY_GRAD:
    case IR_OP_MSE_GRAD:
    case IR_OP_DIV_GRAD_B:
        flops = 8 * (in0 > out ? in0 : out);
        break;
    case IR_OP_REDUCE_BATCH:
    case IR_OP_SLICE_LAST:
    case IR_OP_BIAS_GRAD:
    case IR_OP_RELU_GRAD:
    case IR_OP_LEAKY_RELU_GRAD:
    case IR_OP_DROPOUT_GRAD:
    case IR_OP_MAXPOOL_GRAD:
    case IR_OP_MAXPOOL_GRAD_RELU:
    case IR_OP_AVGPOOL_GRAD:
    case IR_OP_GLOBAL_AVG_POOL_GRAD:
    case IR_OP_EMBEDDING_GRAD:
        flops = in0 > out ? in0 : out;
        break;
    case IR_OP_SUMSQ:
    case IR_OP_CLIP_FACTOR:
    case IR_OP_SGD_UPDATE:
    case IR_OP_ADAM_UPDATE:
        /* per step, not per example: the runtime costs updates separately */
        bytes = 0;
        break;
    case IR_OP_COUNT:
        IR_ASSERT(!"unknown op");
    }
    return (IrCost){flops, bytes};
}
