/* kernels.h — the reference kernels (prefix rk_): the numerical oracle of lnet.
 *
 * One plain-C forward kernel for every forward op of ir/ops.def and the
 * backward kernel(s) of every differentiable one, plus the optimizer updates,
 * gradient clipping and learning-rate schedules. They are written to be
 * obviously right, not fast: straight loops, cblas_sgemm for matrix products
 * (conv2d as im2col + sgemm). The reference interpreter runs them, the gradient
 * checks test them against finite differences, the fixture tests against
 * PyTorch, and the LLVM code generator is later tested against them.
 *
 * Conventions (the same as PyTorch's, pinned by tests/fixtures):
 *   - storage is float32, contiguous, row-major; images are NCHW;
 *   - reductions (sums, means, variances, dot products, log-sum-exp)
 *     accumulate in double and round once; matrix products are sgemm (float);
 *   - every kernel writes its outputs, it never accumulates into them: a
 *     backward kernel OVERWRITES its gradient buffers, and the caller sums the
 *     gradients of a value with several users (rk_acc helps);
 *   - an output gradient pointer documented as "may be NULL" is skipped;
 *   - no kernel allocates, prints or exits; scratch memory is the caller's;
 *   - in place: the elementwise kernels (arithmetic, activations, dropout,
 *     bias_add) and softmax/log-softmax (fwd and bwd) may write over an input
 *     of the output's shape; no other kernel may alias its inputs.
 *
 * IR op (ops.def)     forward                 backward
 *   matmul            rk_matmul_fwd           rk_matmul_bwd (dx, dw)
 *   bias_add          rk_bias_add_fwd         rk_bias_add_bwd (dx, db)
 *   add sub mul div   rk_<op>_fwd             rk_<op>_bwd (da, db)
 *   add/mul_scalar    rk_<op>_fwd             rk_<op>_bwd
 *   relu gelu tanh sigmoid  rk_<op>_fwd       rk_<op>_bwd
 *   softmax, log_softmax    rk_<op>_fwd       rk_<op>_bwd
 *   conv2d            rk_conv2d_fwd           rk_conv2d_bwd_input, _bwd_weight
 *   maxpool avgpool   rk_<op>_fwd             rk_<op>_bwd
 *   global_avg_pool   rk_global_avg_pool_fwd  rk_global_avg_pool_bwd
 *   flatten, reshape  rk_copy                 rk_copy
 *   transpose         rk_transpose_fwd        rk_transpose_bwd
 *   layernorm         rk_layernorm_fwd        rk_layernorm_bwd (dx, dg, db)
 *   batchnorm         rk_batchnorm_fwd        rk_batchnorm_bwd (dx, dg, db)
 *   embedding         rk_embedding_fwd        rk_embedding_bwd (dtable)
 *   causal_attention  rk_attention_fwd        rk_attention_bwd (dq, dk, dv)
 *   dropout           rk_dropout_fwd          rk_dropout_bwd
 *   cross_entropy     rk_cross_entropy_fwd    rk_cross_entropy_bwd (dlogits)
 *   mse               rk_mse_fwd              rk_mse_bwd (dpred, dtarget)
 *   stop_gradient     rk_copy                 (none)
 *
 * Dimension letters, used in every shape comment below:
 *   N  batch                      R  rows: all leading dims flattened
 *   IN, OUT  input, output features of a matmul (not I: <complex.h>, which
 *            cblas.h includes, defines I as a macro)
 *   O  output channels of a conv
 *   C  channels or classes        H, W  input height, width
 *   K  kernel size (square)       S  stride        P  zero padding per side
 *   OH, OW  output height, width  T  sequence length   D  model width
 *   NH heads   HD = D/NH head width   V  vocabulary   L  element count
 *   B  elements of a broadcast right operand (B divides L)
 */
#ifndef LNET_RUNTIME_KERNELS_H
#define LNET_RUNTIME_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

/* ------------------------------------------------------------ data moves */

/* y = x: the kernel of reshape, flatten and their backward. */
void rk_copy(float *y, const float *x, int64_t L);
/* dst += src: how a caller sums the gradients of a value with several users. */
void rk_acc(float *dst, const float *src, int64_t L);
/* out = 0 */
void rk_zero(float *out, int64_t L);

/* transpose: permute the `rank` non-batch axes of x (N, dims[0..rank)).
 * Output axis i is input axis perm[i], so y has dims[perm[0]], dims[perm[1]], ...
 * rank <= RK_MAX_RANK. The backward is the same kernel with the inverse
 * permutation over the output's dims: rk_transpose_bwd does that. */
#define RK_MAX_RANK 8
void rk_transpose_fwd(float *y, const float *x, int64_t N, int rank,
                      const int64_t *dims, const int *perm);
/* dx = inverse-permute(dy); dims and perm are the FORWARD ones (x's dims). */
void rk_transpose_bwd(float *dx, const float *dy, int64_t N, int rank,
                      const int64_t *dims, const int *perm);

/* ----------------------------------------------------------------- dense */

/* y = x @ w.   y (R, OUT), x (R, IN), w (IN, OUT) */
void rk_matmul_fwd(float *y, const float *x, const float *w,
                   int64_t R, int64_t IN, int64_t OUT);
/* dx = dy @ wᵀ (may be NULL), dw = xᵀ @ dy (may be NULL).
 * dx (R, IN), dw (IN, OUT), dy (R, OUT), x (R, IN), w (IN, OUT) */
void rk_matmul_bwd(float *dx, float *dw, const float *dy, const float *x,
                   const float *w, int64_t R, int64_t IN, int64_t OUT);

/* bias_add with x viewed as (N, C, S): axis last is (R, C, 1), the NCHW
 * channel axis is (N, C, H*W).  y[n,c,s] = x[n,c,s] + b[c].
 * y, x (N, C, S), b (C) */
void rk_bias_add_fwd(float *y, const float *x, const float *b,
                     int64_t N, int64_t C, int64_t S);
/* dx = dy (may be NULL), db[c] = Σ_{n,s} dy[n,c,s] (may be NULL). */
void rk_bias_add_bwd(float *dx, float *db, const float *dy,
                     int64_t N, int64_t C, int64_t S);

/* ----------------------------------------------------------- elementwise */

/* Binary ops y = a ∘ b. a, y have L elements; b has B elements, either B = L
 * (same shape) or B = the trailing dims of a (an unbatched right operand,
 * repeated over the L/B leading positions): b is read at index i % B.
 * Backward: da (L) and db (B) may be NULL; db sums over the repetitions. */
void rk_add_fwd(float *y, const float *a, const float *b, int64_t L, int64_t B);
void rk_sub_fwd(float *y, const float *a, const float *b, int64_t L, int64_t B);
void rk_mul_fwd(float *y, const float *a, const float *b, int64_t L, int64_t B);
void rk_div_fwd(float *y, const float *a, const float *b, int64_t L, int64_t B);
void rk_add_bwd(float *da, float *db, const float *dy, int64_t L, int64_t B);
void rk_sub_bwd(float *da, float *db, const float *dy, int64_t L, int64_t B);
void rk_mul_bwd(float *da, float *db, const float *dy, const float *a,
                const float *b, int64_t L, int64_t B);
void rk_div_bwd(float *da, float *db, const float *dy, const float *a,
                const float *b, int64_t L, int64_t B);

/* y = x + s;  dx = dy */
void rk_add_scalar_fwd(float *y, const float *x, float s, int64_t L);
void rk_add_scalar_bwd(float *dx, const float *dy, int64_t L);
/* y = x * s;  dx = dy * s */
void rk_mul_scalar_fwd(float *y, const float *x, float s, int64_t L);
void rk_mul_scalar_bwd(float *dx, const float *dy, float s, int64_t L);

/* Activations, all (L). The backward reads what it needs: relu, leaky_relu
 * and gelu the input x, tanh and sigmoid the output y. relu'(0) = 0 and
 * leaky_relu'(0) = slope (PyTorch's choices: x > 0 takes the identity side).
 * gelu is the exact form 0.5·x·(1 + erf(x/√2)), computed in double. */
void rk_relu_fwd(float *y, const float *x, int64_t L);
void rk_relu_bwd(float *dx, const float *dy, const float *x, int64_t L);
/* y = x for x > 0, slope·x otherwise;  dx = dy for x > 0, slope·dy otherwise */
void rk_leaky_relu_fwd(float *y, const float *x, float slope, int64_t L);
void rk_leaky_relu_bwd(float *dx, const float *dy, const float *x, float slope, int64_t L);
void rk_gelu_fwd(float *y, const float *x, int64_t L);
void rk_gelu_bwd(float *dx, const float *dy, const float *x, int64_t L);
void rk_tanh_fwd(float *y, const float *x, int64_t L);
void rk_tanh_bwd(float *dx, const float *dy, const float *y, int64_t L);
void rk_sigmoid_fwd(float *y, const float *x, int64_t L);
void rk_sigmoid_bwd(float *dx, const float *dy, const float *y, int64_t L);

/* dropout with an explicit randomness buffer. u (L) holds uniforms in [0,1)
 * (the caller fills it from the seeded PRNG); the kernel keeps element i iff
 * u[i] >= p and writes the mask it used: mask[i] = 1/(1-p) or 0 (p >= 1 drops
 * everything). y = x ⊙ mask.  y, mask, x, u (L) */
void rk_dropout_fwd(float *y, float *mask, const float *x, const float *u,
                    float p, int64_t L);
/* dx = dy ⊙ mask */
void rk_dropout_bwd(float *dx, const float *dy, const float *mask, int64_t L);

/* ------------------------------------------------- softmax, norms, losses */

/* Over the last dim.  y, x (R, C). Backward from the saved output y. */
void rk_softmax_fwd(float *y, const float *x, int64_t R, int64_t C);
void rk_softmax_bwd(float *dx, const float *dy, const float *y, int64_t R, int64_t C);
void rk_log_softmax_fwd(float *y, const float *x, int64_t R, int64_t C);
void rk_log_softmax_bwd(float *dx, const float *dy, const float *y, int64_t R, int64_t C);

/* LayerNorm over the last dim, biased variance:
 * y = (x - mean) * rstd * g + b, rstd = 1/sqrt(var + eps).
 * y, x (R, D), g, b (D), mean, rstd (R) saved for the backward. */
void rk_layernorm_fwd(float *y, float *mean, float *rstd, const float *x,
                      const float *g, const float *b, int64_t R, int64_t D, float eps);
/* dx (R, D), dg, db (D): each may be NULL. */
void rk_layernorm_bwd(float *dx, float *dg, float *db, const float *dy,
                      const float *x, const float *mean, const float *rstd,
                      const float *g, int64_t R, int64_t D);

/* BatchNorm over axis 1 of x viewed as (N, C, S), S the spatial positions
 * (1 for [N,C]): per channel c the statistics of its M = N·S values.
 *   train:  mean and biased var of x; y = (x - mean)·rstd·g + b with
 *           rstd = 1/sqrt(var + eps); the running statistics (may be NULL)
 *           become (1 - momentum)·r + momentum·stat, with the variance
 *           unbiased (·M/(M-1), M > 1) as PyTorch's (momentum 0: not
 *           written at all);
 *   !train: mean, var are the running statistics, which stay as they are.
 * y, x (N, C, S) (y may be NULL: statistics only), g, b, run_mean, run_var,
 * mean, rstd (C) (mean, rstd may be NULL; saved for the backward). */
void rk_batchnorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *g,
                      const float *b, float *run_mean, float *run_var, int64_t N, int64_t C,
                      int64_t S, float eps, float momentum, bool train);
/* The training-mode backward from the saved batch statistics, with
 * xhat = (x - mean)·rstd:  dx = rstd·g·(dy - mean(dy) - xhat·mean(dy·xhat))
 * (means over the channel's M values), dg = Σ dy·xhat, db = Σ dy.
 * dx (N, C, S), dg, db (C): each may be NULL. */
void rk_batchnorm_bwd(float *dx, float *dg, float *db, const float *dy, const float *x,
                      const float *mean, const float *rstd, const float *g, int64_t N,
                      int64_t C, int64_t S);

/* Mean cross-entropy over the R rows (batch, or batch × positions):
 * loss = mean_r (logsumexp(logits[r]) - logits[r, labels[r]]).
 * labels must lie in [0, C). *ncorrect (may be NULL) gets the number of rows
 * whose first arg-max equals the label.  logits (R, C), labels (R) */
float rk_cross_entropy_fwd(const float *logits, const int32_t *labels,
                           int64_t R, int64_t C, int64_t *ncorrect);
/* dlogits = dloss · (softmax(logits) - onehot(labels)) / R.  dlogits (R, C) */
void rk_cross_entropy_bwd(float *dlogits, const float *logits, const int32_t *labels,
                          float dloss, int64_t R, int64_t C);

/* mse = mean (pred - target)².  pred, target (L) */
float rk_mse_fwd(const float *pred, const float *target, int64_t L);
/* dpred = dloss · 2 (pred - target) / L; dtarget = -dpred. Each may be NULL. */
void rk_mse_bwd(float *dpred, float *dtarget, const float *pred, const float *target,
                float dloss, int64_t L);

/* ------------------------------------------------------- conv and pooling */

/* Geometry of a conv2d: x (N, C, H, W), w (O, C, K, K), y (N, O, OH, OW),
 * OH = (H + 2P - K)/S + 1. No bias: that is a separate bias_add on axis 1. */
typedef struct RkConv2d {
    int64_t N, C, H, W, O, K, S, P, OH, OW;
} RkConv2d;
RkConv2d rk_conv2d_geom(int64_t N, int64_t C, int64_t H, int64_t W,
                        int64_t O, int64_t K, int64_t S, int64_t P);
/* Floats of scratch the conv kernels need: one im2col matrix (C·K·K, OH·OW). */
int64_t rk_conv2d_work_floats(const RkConv2d *g);
/* y = conv(x, w).  work: rk_conv2d_work_floats floats. */
void rk_conv2d_fwd(float *y, const float *x, const float *w, const RkConv2d *g,
                   float *work);
/* dx (N, C, H, W) from dy (N, O, OH, OW) and w. */
void rk_conv2d_bwd_input(float *dx, const float *dy, const float *w,
                         const RkConv2d *g, float *work);
/* dw (O, C, K, K) from dy and x. */
void rk_conv2d_bwd_weight(float *dw, const float *dy, const float *x,
                          const RkConv2d *g, float *work);

/* Geometry of max/avg pooling: x (N, C, H, W) -> y (N, C, OH, OW), window K,
 * stride S, no padding, OH = (H - K)/S + 1. */
typedef struct RkPool2d {
    int64_t N, C, H, W, K, S, OH, OW;
} RkPool2d;
RkPool2d rk_pool2d_geom(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t S);
void rk_maxpool_fwd(float *y, const float *x, const RkPool2d *g);
/* Routes dy to the first maximum of each window (recomputed from x; ties go
 * to the first in row-major order, as PyTorch). Overlapping windows sum. */
void rk_maxpool_bwd(float *dx, const float *dy, const float *x, const RkPool2d *g);
void rk_avgpool_fwd(float *y, const float *x, const RkPool2d *g);
void rk_avgpool_bwd(float *dx, const float *dy, const RkPool2d *g);

/* global average pool: y (N, C) = mean over H·W of x (N, C, HW). */
void rk_global_avg_pool_fwd(float *y, const float *x, int64_t N, int64_t C, int64_t HW);
void rk_global_avg_pool_bwd(float *dx, const float *dy, int64_t N, int64_t C, int64_t HW);

/* ------------------------------------------------- embedding and attention */

/* y[r] = table[ids[r]].  y (R, D), ids (R), table (V, D).
 * An id outside [0, V) yields a zero row (and no gradient). */
void rk_embedding_fwd(float *y, const int32_t *ids, const float *table,
                      int64_t R, int64_t V, int64_t D);
/* dtable = 0, then dtable[ids[r]] += dy[r] (repeated ids sum). */
void rk_embedding_bwd(float *dtable, const float *dy, const int32_t *ids,
                      int64_t R, int64_t V, int64_t D);

/* Causal multi-head self-attention on projected q, k, v (N, T, D), NH heads:
 * head h uses columns [h·HD, (h+1)·HD); scores q·k / sqrt(HD), position t
 * attends to positions <= t; y[n,t, head h] = Σ_t2 att[n,h,t,t2] v[n,t2, head h].
 * y (N, T, D); att (N, NH, T, T) saves the probabilities (zero above the diagonal). */
void rk_attention_fwd(float *y, float *att, const float *q, const float *k,
                      const float *v, int64_t N, int64_t T, int64_t D, int64_t NH);
/* dq, dk, dv (N, T, D), each may be NULL; dy (N, T, D), att from the forward. */
void rk_attention_bwd(float *dq, float *dk, float *dv, const float *dy,
                      const float *q, const float *k, const float *v,
                      const float *att, int64_t N, int64_t T, int64_t D, int64_t NH);

/* ------------------------------------------------------------- optimizers */

/* One optimizer step on one parameter tensor p (L) with gradient g (L) and its
 * state, PyTorch semantics. `t` is the 1-based step number. The gradient is
 * read, never modified. Hyper-parameters are double, as Python floats are in
 * PyTorch: derived constants (1-β, lr·wd, lr/c1) are formed in double and
 * rounded to float once, then the per-element arithmetic is float. */

/* SGD: g' = g + wd·p; buf = momentum·buf + g' (buf starts at zero, so the
 * first step gives buf = g' as PyTorch's clone); step = nesterov ? g' +
 * momentum·buf : buf; p -= lr·step. buf (L) may be NULL when momentum is 0. */
typedef struct RkSgd {
    double lr, momentum, weight_decay;
    bool nesterov;
} RkSgd;
void rk_sgd_step(const RkSgd *h, float *p, float *buf, const float *g, int64_t L);

/* Adam / AdamW: decoupled = false adds wd·p to the gradient (Adam's L2);
 * decoupled = true multiplies p by 1 - lr·wd first (AdamW). Then
 * m = β1 m + (1-β1) g, v = β2 v + (1-β2) g², bias corrections c1 = 1-β1^t,
 * c2 = 1-β2^t, p -= (lr/c1) · m / (sqrt(v)/sqrt(c2) + eps).  m, v (L) start at 0. */
typedef struct RkAdam {
    double lr, beta1, beta2, eps, weight_decay;
    bool decoupled;
} RkAdam;
void rk_adam_step(const RkAdam *h, int64_t t, float *p, float *m, float *v,
                  const float *g, int64_t L);

/* Global L2 norm over n tensors g[i] of L[i] elements (accumulated in double). */
double rk_grad_norm(float *const *g, const int64_t *L, int n);
/* torch.nn.utils.clip_grad_norm_: if norm > max_norm, scale every tensor by
 * max_norm / (norm + 1e-6). Returns the norm before clipping. */
double rk_clip_grad_norm(float *const *g, const int64_t *L, int n, double max_norm);

/* Learning rate at 0-based step `step`.
 *   RK_LR_CONSTANT: base_lr.
 *   RK_LR_WARMUP:   base_lr·(step+1)/warmup while step < warmup, then base_lr.
 *   RK_LR_COSINE:   the same warm-up, then base_lr·½(1 + cos(π·q)) with
 *                   q = (step - warmup)/(total_steps - warmup) clamped to [0, 1].
 * warmup <= 0 means no warm-up. */
typedef enum { RK_LR_CONSTANT, RK_LR_WARMUP, RK_LR_COSINE } RkLrSchedule;
float rk_lr_at(RkLrSchedule s, float base_lr, int64_t step, int64_t warmup,
               int64_t total_steps);

#endif /* LNET_RUNTIME_KERNELS_H */
