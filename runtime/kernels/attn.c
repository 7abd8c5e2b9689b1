/* kernels_attn.c — reference kernels for embedding lookup and causal
 * multi-head self-attention on already projected q, k, v.
 *
 * Attention, per example n, head h, query position t (HD = D/NH, head h owns
 * columns [h·HD, (h+1)·HD) of q, k, v and y):
 *   s[t2]  = q_t · k_t2 / sqrt(HD)              for t2 <= t (causal)
 *   att    = softmax(s)                         saved, zero for t2 > t
 *   y_t    = Σ_t2 att[t2] v_t2
 * Backward, with datt[t2] = dy_t · v_t2:
 *   dv_t2 += att[t2] dy_t
 *   ds[t2] = att[t2] (datt[t2] - Σ_j att[j] datt[j])
 *   dq_t  += ds[t2] k_t2 / sqrt(HD),   dk_t2 += ds[t2] q_t / sqrt(HD)
 * datt is recomputed in a second pass instead of being stored, so the kernel
 * needs no scratch. Dot products and row sums accumulate in double. */
#include "kernels.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------- embedding */

void rk_embedding_fwd(float *y, const int32_t *ids, const float *table,
                      int64_t R, int64_t V, int64_t D) {
    for (int64_t r = 0; r < R; r++) {
        if (ids[r] >= 0 && ids[r] < V)
            memcpy(y + r * D, table + (int64_t)ids[r] * D, (size_t)D * sizeof *y);
        else
            memset(y + r * D, 0, (size_t)D * sizeof *y);
    }
}

void rk_embedding_bwd(float *dtable, const float *dy, const int32_t *ids,
                      int64_t R, int64_t V, int64_t D) {
    memset(dtable, 0, (size_t)(V * D) * sizeof *dtable);
    for (int64_t r = 0; r < R; r++) {
        if (ids[r] < 0 || ids[r] >= V) continue;
        float *row = dtable + (int64_t)ids[r] * D;
        for (int64_t d = 0; d < D; d++) row[d] += dy[r * D + d];
    }
}

/* ------------------------------------------------------------- attention */

static double dot(const float *a, const float *b, int64_t n) {
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++) acc += (double)a[i] * b[i];
    return acc;
}

void rk_attention_fwd(float *y, float *att, const float *q, const float *k,
                      const float *v, int64_t N, int64_t T, int64_t D, int64_t NH) {
    int64_t HD = D / NH;
    double scale = 1.0 / sqrt((double)HD);
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < NH; h++)
            for (int64_t t = 0; t < T; t++) {
                const float *qt = q + (n * T + t) * D + h * HD;
                float *a = att + ((n * NH + h) * T + t) * T;   /* (T) row of probs */
                double mx = -INFINITY, sum = 0.0;
                for (int64_t t2 = 0; t2 <= t; t2++) {
                    a[t2] = (float)(dot(qt, k + (n * T + t2) * D + h * HD, HD) * scale);
                    if (a[t2] > mx) mx = a[t2];
                }
                for (int64_t t2 = 0; t2 <= t; t2++) sum += exp(a[t2] - mx);
                for (int64_t t2 = 0; t2 < T; t2++)
                    a[t2] = t2 <= t ? (float)(exp(a[t2] - mx) / sum) : 0.0f;
                float *yt = y + (n * T + t) * D + h * HD;
                for (int64_t d = 0; d < HD; d++) {
                    double acc = 0.0;
                    for (int64_t t2 = 0; t2 <= t; t2++)
                        acc += (double)a[t2] * v[(n * T + t2) * D + h * HD + d];
                    yt[d] = (float)acc;
                }
            }
}

/* The gradients of one (n, h, t) query row, accumulated into dq, dk, dv. */
static void attention_row_bwd(float *dq, float *dk, float *dv, const float *dy,
                              const float *q, const float *k, const float *v,
                              const float *a, int64_t t, int64_t D, int64_t HD) {
    /* pointers are already offset to example n, head h: rows stride D */
    double scale = 1.0 / sqrt((double)HD);
    const float *dyt = dy + t * D, *qt = q + t * D;
    double adot = 0.0;                                  /* Σ_j att[j]·datt[j] */
    for (int64_t t2 = 0; t2 <= t; t2++) adot += a[t2] * dot(dyt, v + t2 * D, HD);
    for (int64_t t2 = 0; t2 <= t; t2++) {
        double ds = a[t2] * (dot(dyt, v + t2 * D, HD) - adot) * scale;
        for (int64_t d = 0; d < HD; d++) {
            if (dv) dv[t2 * D + d] += a[t2] * dyt[d];
            if (dq) dq[t * D + d] += (float)(ds * k[t2 * D + d]);
            if (dk) dk[t2 * D + d] += (float)(ds * qt[d]);
        }
    }
}

void rk_attention_bwd(float *dq, float *dk, float *dv, const float *dy,
                      const float *q, const float *k, const float *v,
                      const float *att, int64_t N, int64_t T, int64_t D, int64_t NH) {
    int64_t HD = D / NH;
    float *outs[3] = {dq, dk, dv};
    for (int i = 0; i < 3; i++)
        if (outs[i]) memset(outs[i], 0, (size_t)(N * T * D) * sizeof(float));
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < NH; h++) {
            int64_t off = n * T * D + h * HD;           /* example n, head h */
            for (int64_t t = 0; t < T; t++)
                attention_row_bwd(dq ? dq + off : NULL, dk ? dk + off : NULL,
                                  dv ? dv + off : NULL, dy + off, q + off, k + off,
                                  v + off, att + ((n * NH + h) * T + t) * T, t, D, HD);
        }
}
