/* lower_impl.h — internals of the IR → LLVM lowering (codegen/lower*.c).
 *
 * Every IR node that computes something becomes one internal kernel function
 * with a fixed signature (all pointers noalias, so its loops vectorize):
 *
 *   void k<id>(float *out, void *in0, ..., void *in5, void *scratch,
 *              int64_t n, float lr, int64_t step, int64_t seed, int64_t train)
 *
 * `out` is the node's buffer, in<k> the buffers of its operands (NULL past
 * n_in), `scratch` the executor's shared work area, and the last five the
 * step arguments of the entry (codegen.h). Shapes are constants baked into
 * each kernel; only the batch n is a run-time value. The entry functions
 * load the buffer pointers from their table and call the kernels in node
 * order (lower.c). One emitter per op family: lower_elem.c (elementwise,
 * bias, copies, dropout), lower_dense.c (matmul, conv, pooling),
 * lower_norm.c (softmax, layernorm, batchnorm, losses, embedding), lower_attn.c
 * (attention), lower_optim.c (clipping, updates).
 *
 * Numerics follow the reference kernels (runtime/kernels/kernels.h): reductions
 * accumulate in double and round once, matrix products are sgemm, dropout
 * draws the interpreter's xoshiro stream. What differs is the order of some
 * double sums, FMA contraction of float expressions, and the exp/tanh/erf of
 * gelu, sigmoid, tanh, softmax and cross-entropy, which are cg_fmath.c's
 * inline float math where the reference calls libm (attention still calls
 * double exp). Under no_contract kernels use the reference's libm calls and
 * match it bit for bit.
 */
#ifndef LNET_LOWER_IMPL_H
#define LNET_LOWER_IMPL_H

#include "cg_impl.h"

/* Kernel parameter positions. */
enum { LW_OUT = 0, LW_IN0 = 1, LW_SCRATCH = 1 + IR_MAX_IN, LW_N, LW_LR, LW_STEP, LW_SEED,
       LW_TRAIN, LW_NPARAMS };

/* The kernel being emitted: its node and its parameters as LLVM values. */
typedef struct Lw {
    CgModule *m;
    const IrGraph *g;
    const IrNode *n;
    LLVMValueRef out, in[IR_MAX_IN], scratch;
    LLVMValueRef N;                 /* i64 batch of this run */
    LLVMValueRef lr, step, seed, train;
    LLVMTypeRef t_f64;
} Lw;

/* ----------------------------------------------------------- lower.c */

/* Type of operand k / of the node itself. */
const IrType *lw_type(const Lw *w, int k);
/* Elements of a value of type t for this run's batch (i64). */
LLVMValueRef lw_count(Lw *w, const IrType *t);
/* Rows of t viewed as (rows, last dim), for this run's batch (i64). */
LLVMValueRef lw_rows(Lw *w, const IrType *t);
int64_t lw_last_dim(const IrType *t);

/* Double-precision helpers: constants, conversions, math intrinsics. */
LLVMValueRef lw_f64(Lw *w, double v);
LLVMValueRef lw_ext(Lw *w, LLVMValueRef f32);      /* float -> double */
LLVMValueRef lw_trunc(Lw *w, LLVMValueRef f64);    /* double -> float */
LLVMValueRef lw_i2d(Lw *w, LLVMValueRef i64);      /* int64 -> double */
typedef enum { LW_EXP, LW_LOG, LW_SQRT, LW_ERF, LW_POW } LwMath64;
LLVMValueRef lw_math64(Lw *w, LwMath64 f, LLVMValueRef x, LLVMValueRef y);

/* Stack slots (mem2reg turns them into registers). */
LLVMValueRef lw_slot(Lw *w, LLVMTypeRef t, LLVMValueRef init);
LLVMValueRef lw_get(Lw *w, LLVMTypeRef t, LLVMValueRef slot);
void lw_set(Lw *w, LLVMValueRef slot, LLVMValueRef v);

/* int32 and double loads/stores at base[idx]. */
LLVMValueRef lw_load_i32(Lw *w, LLVMValueRef base, LLVMValueRef idx);
LLVMValueRef lw_load_f64(Lw *w, LLVMValueRef base, LLVMValueRef idx);
void lw_store_f64(Lw *w, LLVMValueRef base, LLVMValueRef idx, LLVMValueRef v);
/* A float pointer base + off (elements). */
LLVMValueRef lw_off(Lw *w, LLVMValueRef base, LLVMValueRef off);
/* dst[0..L) = 0 or = src[0..L), L in floats. */
void lw_zero(Lw *w, LLVMValueRef dst, LLVMValueRef L);
void lw_copy(Lw *w, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef L);

/* A double-precision sum over [lo, hi): lw_sum_begin opens the loop (index
 * s->l.i), lw_sum_add accumulates one term (reassociable, so it may
 * vectorize), lw_sum_end closes the loop and returns the total. */
typedef struct LwSum {
    CgLoop l;
    LLVMValueRef slot;
} LwSum;
void lw_sum_begin(Lw *w, LwSum *s, LLVMValueRef lo, LLVMValueRef hi);
void lw_sum_add(Lw *w, LwSum *s, LLVMValueRef term);
LLVMValueRef lw_sum_end(Lw *w, LwSum *s);

/* Structured control flow: if (cond) { then } [else { ... }]. */
typedef struct LwIf {
    LLVMBasicBlockRef els, end;
} LwIf;
void lw_if(Lw *w, LwIf *f, LLVMValueRef cond);
void lw_else(Lw *w, LwIf *f);
void lw_endif(Lw *w, LwIf *f);

/* Index arithmetic shorthands (i64, constants folded by LLVM). */
LLVMValueRef lw_c(Lw *w, int64_t v);
LLVMValueRef lw_add(Lw *w, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef lw_mul(Lw *w, LLVMValueRef a, LLVMValueRef b);
/* a*b + c, all i64. */
LLVMValueRef lw_mad(Lw *w, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c);

/* ------------------------------------------------------ per-family emitters */

/* Each emits the body of node w->n's kernel for the ops lower.c's switch
 * sends it (they assert on any other op). */

/* lower_elem.c */
void lower_elementwise(Lw *w);     /* binary, scalar, activations and their grads */
void lower_dropout(Lw *w);         /* dropout, dropout_grad */
void lower_bias_add(Lw *w);         /* bias_add, bias_relu */
/* out[o, c, s] = x[o, c, s] + b[c] (then relu when asked) over (outer, C, S);
 * out may be x. The conv2d_bias_relu epilogue. */
void lw_bias_loops(Lw *w, LLVMValueRef out, LLVMValueRef x, LLVMValueRef bias,
                   LLVMValueRef outer, int64_t C, int64_t S, bool relu);
void lower_bias_grad(Lw *w);
void lower_reduce_batch(Lw *w);
void lower_slice_last(Lw *w);
void lower_transpose(Lw *w);
void lower_fill(Lw *w);
/* lower_dense.c */
void lower_matmul(Lw *w);          /* matmul, matmul_grad_x, matmul_grad_w */
void lower_conv(Lw *w);            /* conv2d, conv2d_grad_x, conv2d_grad_w */
/* Copies planes of rows between a dense (R, Hh, Ww) tensor and one stored
 * with plane stride ld and row stride Wp starting at row r0, column c0. */
void lw_plane_rows(Lw *w, LLVMValueRef dense, LLVMValueRef strided, int64_t R, int64_t Hh,
                   int64_t Ww, int64_t ld, int64_t Wp, int64_t r0, int64_t c0, bool to_strided);
/* dx[k] = x[k] > 0 ? dx[k] : 0 for k < L. */
void lw_relu_mask(Lw *w, LLVMValueRef dx, LLVMValueRef x, int64_t L);
/* lower_wino.c: the convs cg_conv_winograd accepts, as Winograd products */
struct CgConvGeo;
void lower_conv_winograd(Lw *w, const struct CgConvGeo *g);
void lower_pool(Lw *w);            /* maxpool, avgpool and their grads */
void lower_global_pool(Lw *w);     /* global_avg_pool and its grad */
/* lower_norm.c */
void lower_softmax(Lw *w);         /* softmax, log_softmax and their grads */
void lower_layernorm(Lw *w);       /* layernorm, layernorm_grad_x, layernorm_grad_g */
void lower_batchnorm(Lw *w);       /* batchnorm, batchnorm_grad_x, batchnorm_grad_g */
void lower_cross_entropy(Lw *w);
void lower_cross_entropy_grad(Lw *w);
void lower_mse(Lw *w);             /* mse, mse_grad */
void lower_embedding(Lw *w);       /* embedding, embedding_grad */
/* Without contraction (CgOptions.no_contract) kernels reproduce the
 * reference interpreter bit for bit, with libm's math; otherwise they use
 * cg_fmath.c's inline float math, which vectorizes. */
static inline bool lw_ref_math(const Lw *w) { return w->m->fmf == 0; }
/* lower_attn.c */
void lower_attention(Lw *w);       /* causal_attention, attention_grad */
/* lower_optim.c */
void lower_sumsq(Lw *w);
void lower_clip_factor(Lw *w);
void lower_sgd(Lw *w);
void lower_adam(Lw *w);

#endif
