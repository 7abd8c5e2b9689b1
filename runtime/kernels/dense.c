/* kernels_dense.c — reference kernels for data moves, matmul, bias_add, the
 * binary and scalar arithmetic ops, the activations and dropout.
 *
 * Matrix products call rt_sgemm (OpenBLAS sgemm: float accumulation, BLAS order); sums over
 * the batch (bias and broadcast gradients) accumulate in double. The
 * elementwise kernels are single loops; see kernels.h for the conventions. */
#include "kernels.h"
#include "blas.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ data moves */

void rk_copy(float *y, const float *x, int64_t L) {
    if (y != x) memmove(y, x, (size_t)L * sizeof *y);
}

void rk_acc(float *dst, const float *src, int64_t L) {
    for (int64_t i = 0; i < L; i++) dst[i] += src[i];
}

void rk_zero(float *out, int64_t L) {
    memset(out, 0, (size_t)L * sizeof *out);
}

/* y[n, j0, j1, ...] = x[n, i...] with i[perm[a]] = j[a]: walk the output in
 * order, keeping the input offset as Σ_a j[a]·xstride[perm[a]]. */
void rk_transpose_fwd(float *y, const float *x, int64_t N, int rank,
                      const int64_t *dims, const int *perm) {
    int64_t xstride[RK_MAX_RANK], ydims[RK_MAX_RANK], j[RK_MAX_RANK];
    int64_t M = 1;                                  /* elements per example */
    for (int a = rank - 1; a >= 0; a--) {
        xstride[a] = M;
        M *= dims[a];
    }
    for (int a = 0; a < rank; a++) ydims[a] = dims[perm[a]];
    for (int64_t n = 0; n < N; n++) {
        const float *xn = x + n * M;
        float *yn = y + n * M;
        memset(j, 0, sizeof j);
        for (int64_t o = 0; o < M; o++) {
            int64_t off = 0;
            for (int a = 0; a < rank; a++) off += j[a] * xstride[perm[a]];
            yn[o] = xn[off];
            /* odometer increment of the output index j */
            for (int a = rank - 1; a >= 0; a--) {
                if (++j[a] < ydims[a]) break;
                j[a] = 0;
            }
        }
    }
}

void rk_transpose_bwd(float *dx, const float *dy, int64_t N, int rank,
                      const int64_t *dims, const int *perm) {
    int64_t ydims[RK_MAX_RANK];
    int inv[RK_MAX_RANK];
    for (int a = 0; a < rank; a++) {
        ydims[a] = dims[perm[a]];
        inv[perm[a]] = a;
    }
    rk_transpose_fwd(dx, dy, N, rank, ydims, inv);
}

/* ----------------------------------------------------------------- dense */

void rk_matmul_fwd(float *y, const float *x, const float *w,
                   int64_t R, int64_t IN, int64_t OUT) {
    /* y (R, OUT) = x (R, IN) @ w (IN, OUT) */
    rt_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)OUT, (int)IN,
                1.0f, x, (int)IN, w, (int)OUT, 0.0f, y, (int)OUT);
}

void rk_matmul_bwd(float *dx, float *dw, const float *dy, const float *x,
                   const float *w, int64_t R, int64_t IN, int64_t OUT) {
    if (dx) /* dx (R, IN) = dy (R, OUT) @ wᵀ (OUT, IN) */
        rt_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)IN, (int)OUT,
                    1.0f, dy, (int)OUT, w, (int)OUT, 0.0f, dx, (int)IN);
    if (dw) /* dw (IN, OUT) = xᵀ (IN, R) @ dy (R, OUT) */
        rt_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)IN, (int)OUT, (int)R,
                    1.0f, x, (int)IN, dy, (int)OUT, 0.0f, dw, (int)OUT);
}

void rk_bias_add_fwd(float *y, const float *x, const float *b,
                     int64_t N, int64_t C, int64_t S) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            int64_t base = (n * C + c) * S;
            for (int64_t s = 0; s < S; s++) y[base + s] = x[base + s] + b[c];
        }
}

void rk_bias_add_bwd(float *dx, float *db, const float *dy,
                     int64_t N, int64_t C, int64_t S) {
    if (dx) rk_copy(dx, dy, N * C * S);
    if (!db) return;
    for (int64_t c = 0; c < C; c++) {
        double acc = 0.0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t s = 0; s < S; s++) acc += dy[(n * C + c) * S + s];
        db[c] = (float)acc;
    }
}

/* ----------------------------------------------------------- elementwise */

void rk_add_fwd(float *y, const float *a, const float *b, int64_t L, int64_t B) {
    for (int64_t i = 0; i < L; i++) y[i] = a[i] + b[i % B];
}
void rk_sub_fwd(float *y, const float *a, const float *b, int64_t L, int64_t B) {
    for (int64_t i = 0; i < L; i++) y[i] = a[i] - b[i % B];
}
void rk_mul_fwd(float *y, const float *a, const float *b, int64_t L, int64_t B) {
    for (int64_t i = 0; i < L; i++) y[i] = a[i] * b[i % B];
}
void rk_div_fwd(float *y, const float *a, const float *b, int64_t L, int64_t B) {
    for (int64_t i = 0; i < L; i++) y[i] = a[i] / b[i % B];
}

/* db[j] = sign · Σ_{i ≡ j mod B} dy[i] · (a[i] if a) / (b[j]^2 if div): the
 * reduction shared by every binary backward. kind: 0 plain, 1 times a, 2 div. */
static void reduce_db(float *db, const float *dy, const float *a, const float *b,
                      int64_t L, int64_t B, double sign, int kind) {
    for (int64_t j = 0; j < B; j++) {
        double acc = 0.0;
        for (int64_t i = j; i < L; i += B) acc += kind ? (double)dy[i] * a[i] : dy[i];
        if (kind == 2) acc /= (double)b[j] * b[j];
        db[j] = (float)(sign * acc);
    }
}

void rk_add_bwd(float *da, float *db, const float *dy, int64_t L, int64_t B) {
    if (da) rk_copy(da, dy, L);
    if (db) reduce_db(db, dy, NULL, NULL, L, B, 1.0, 0);
}

void rk_sub_bwd(float *da, float *db, const float *dy, int64_t L, int64_t B) {
    if (da) rk_copy(da, dy, L);
    if (db) reduce_db(db, dy, NULL, NULL, L, B, -1.0, 0);
}

void rk_mul_bwd(float *da, float *db, const float *dy, const float *a,
                const float *b, int64_t L, int64_t B) {
    if (da)
        for (int64_t i = 0; i < L; i++) da[i] = dy[i] * b[i % B];
    if (db) reduce_db(db, dy, a, b, L, B, 1.0, 1);
}

/* d(a/b)/da = 1/b, d(a/b)/db = -a/b² */
void rk_div_bwd(float *da, float *db, const float *dy, const float *a,
                const float *b, int64_t L, int64_t B) {
    if (da)
        for (int64_t i = 0; i < L; i++) da[i] = dy[i] / b[i % B];
    if (db) reduce_db(db, dy, a, b, L, B, -1.0, 2);
}

void rk_add_scalar_fwd(float *y, const float *x, float s, int64_t L) {
    for (int64_t i = 0; i < L; i++) y[i] = x[i] + s;
}
void rk_add_scalar_bwd(float *dx, const float *dy, int64_t L) {
    rk_copy(dx, dy, L);
}
void rk_mul_scalar_fwd(float *y, const float *x, float s, int64_t L) {
    for (int64_t i = 0; i < L; i++) y[i] = x[i] * s;
}
void rk_mul_scalar_bwd(float *dx, const float *dy, float s, int64_t L) {
    for (int64_t i = 0; i < L; i++) dx[i] = dy[i] * s;
}

/* ----------------------------------------------------------- activations */

void rk_relu_fwd(float *y, const float *x, int64_t L) {
    for (int64_t i = 0; i < L; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
void rk_relu_bwd(float *dx, const float *dy, const float *x, int64_t L) {
    for (int64_t i = 0; i < L; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

void rk_leaky_relu_fwd(float *y, const float *x, float slope, int64_t L) {
    for (int64_t i = 0; i < L; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}
void rk_leaky_relu_bwd(float *dx, const float *dy, const float *x, float slope, int64_t L) {
    for (int64_t i = 0; i < L; i++) dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
}

/* gelu(x) = x·Φ(x), Φ the standard normal CDF; gelu'(x) = Φ(x) + x·φ(x). */
void rk_gelu_fwd(float *y, const float *x, int64_t L) {
    for (int64_t i = 0; i < L; i++) {
        double v = x[i];
        y[i] = (float)(0.5 * v * (1.0 + erf(v * M_SQRT1_2)));
    }
}
void rk_gelu_bwd(float *dx, const float *dy, const float *x, int64_t L) {
    const double inv_sqrt_2pi = 0.39894228040143267794;
    for (int64_t i = 0; i < L; i++) {
        double v = x[i];
        double cdf = 0.5 * (1.0 + erf(v * M_SQRT1_2));
        double pdf = inv_sqrt_2pi * exp(-0.5 * v * v);
        dx[i] = (float)(dy[i] * (cdf + v * pdf));
    }
}

void rk_tanh_fwd(float *y, const float *x, int64_t L) {
    for (int64_t i = 0; i < L; i++) y[i] = tanhf(x[i]);
}
void rk_tanh_bwd(float *dx, const float *dy, const float *y, int64_t L) {
    for (int64_t i = 0; i < L; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

/* 1/(1+e^-x) in double: no overflow for large |x|. */
void rk_sigmoid_fwd(float *y, const float *x, int64_t L) {
    for (int64_t i = 0; i < L; i++) y[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
}
void rk_sigmoid_bwd(float *dx, const float *dy, const float *y, int64_t L) {
    for (int64_t i = 0; i < L; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

/* --------------------------------------------------------------- dropout */

void rk_dropout_fwd(float *y, float *mask, const float *x, const float *u,
                    float p, int64_t L) {
    float keep = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (int64_t i = 0; i < L; i++) {
        mask[i] = u[i] >= p ? keep : 0.0f;
        y[i] = x[i] * mask[i];
    }
}

void rk_dropout_bwd(float *dx, const float *dy, const float *mask, int64_t L) {
    for (int64_t i = 0; i < L; i++) dx[i] = dy[i] * mask[i];
}
