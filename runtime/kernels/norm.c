/* kernels_norm.c — reference kernels for softmax, log-softmax, LayerNorm,
 * BatchNorm and the two losses (cross-entropy over class/position targets, mean squared
 * error).
 *
 * Every row reduction (max-shifted exp sums, mean, variance, the gradient's
 * row sums, the loss mean) accumulates in double and rounds once into float. */
#include "kernels.h"

#include <math.h>

/* log Σ_c exp(x[c]), shifted by the max so no exp overflows. */
static double row_logsumexp(const float *x, int64_t C) {
    double mx = x[0];
    for (int64_t c = 1; c < C; c++)
        if (x[c] > mx) mx = x[c];
    double sum = 0.0;
    for (int64_t c = 0; c < C; c++) sum += exp((double)x[c] - mx);
    return mx + log(sum);
}

/* ---------------------------------------------------------------- softmax */

void rk_softmax_fwd(float *y, const float *x, int64_t R, int64_t C) {
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x + r * C;
        double lse = row_logsumexp(xr, C);
        for (int64_t c = 0; c < C; c++) y[r * C + c] = (float)exp((double)xr[c] - lse);
    }
}

/* dx = y ⊙ (dy - Σ_c dy·y) */
void rk_softmax_bwd(float *dx, const float *dy, const float *y, int64_t R, int64_t C) {
    for (int64_t r = 0; r < R; r++) {
        const float *yr = y + r * C, *dyr = dy + r * C;
        double dot = 0.0;
        for (int64_t c = 0; c < C; c++) dot += (double)dyr[c] * yr[c];
        for (int64_t c = 0; c < C; c++) dx[r * C + c] = (float)(yr[c] * (dyr[c] - dot));
    }
}

void rk_log_softmax_fwd(float *y, const float *x, int64_t R, int64_t C) {
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x + r * C;
        double lse = row_logsumexp(xr, C);
        for (int64_t c = 0; c < C; c++) y[r * C + c] = (float)((double)xr[c] - lse);
    }
}

/* dx = dy - exp(y) · Σ_c dy */
void rk_log_softmax_bwd(float *dx, const float *dy, const float *y, int64_t R, int64_t C) {
    for (int64_t r = 0; r < R; r++) {
        const float *yr = y + r * C, *dyr = dy + r * C;
        double sum = 0.0;
        for (int64_t c = 0; c < C; c++) sum += dyr[c];
        for (int64_t c = 0; c < C; c++)
            dx[r * C + c] = (float)(dyr[c] - exp((double)yr[c]) * sum);
    }
}

/* -------------------------------------------------------------- layernorm */

void rk_layernorm_fwd(float *y, float *mean, float *rstd, const float *x,
                      const float *g, const float *b, int64_t R, int64_t D, float eps) {
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x + r * D;
        double m = 0.0, var = 0.0;
        for (int64_t d = 0; d < D; d++) m += xr[d];
        m /= (double)D;
        for (int64_t d = 0; d < D; d++) var += (xr[d] - m) * (xr[d] - m);
        var /= (double)D;                               /* biased, as PyTorch */
        double s = 1.0 / sqrt(var + eps);
        for (int64_t d = 0; d < D; d++)
            y[r * D + d] = (float)((xr[d] - m) * s * g[d] + b[d]);
        mean[r] = (float)m;
        rstd[r] = (float)s;
    }
}

/* With xhat = (x - mean)·rstd and dxhat = dy ⊙ g:
 *   dx = rstd · (dxhat - mean(dxhat) - xhat · mean(dxhat ⊙ xhat))
 *   dg = Σ_rows dy ⊙ xhat,  db = Σ_rows dy */
void rk_layernorm_bwd(float *dx, float *dg, float *db, const float *dy,
                      const float *x, const float *mean, const float *rstd,
                      const float *g, int64_t R, int64_t D) {
    for (int64_t r = 0; dx && r < R; r++) {
        const float *xr = x + r * D, *dyr = dy + r * D;
        double m = mean[r], s = rstd[r], mg = 0.0, mgx = 0.0;
        for (int64_t d = 0; d < D; d++) {
            double dxhat = (double)dyr[d] * g[d];
            mg += dxhat;
            mgx += dxhat * (xr[d] - m) * s;
        }
        mg /= (double)D;
        mgx /= (double)D;
        for (int64_t d = 0; d < D; d++) {
            double xhat = (xr[d] - m) * s;
            dx[r * D + d] = (float)(s * ((double)dyr[d] * g[d] - mg - xhat * mgx));
        }
    }
    for (int64_t d = 0; (dg || db) && d < D; d++) {
        double sg = 0.0, sb = 0.0;
        for (int64_t r = 0; r < R; r++) {
            double dyv = dy[r * D + d];
            sg += dyv * (x[r * D + d] - (double)mean[r]) * rstd[r];
            sb += dyv;
        }
        if (dg) dg[d] = (float)sg;
        if (db) db[d] = (float)sb;
    }
}

/* -------------------------------------------------------------- batchnorm */

/* Mean and biased variance of channel c of x (N, C, S), in double: per
 * example a partial sum over its S positions, then their total (the order
 * the generated code adds in). */
static void bn_stats(const float *x, int64_t N, int64_t C, int64_t S, int64_t c,
                     double *mean, double *var)
{
    double m = 0.0, v = 0.0;
    for (int64_t n = 0; n < N; n++) {
        double p = 0.0;
        for (int64_t s = 0; s < S; s++) p += x[(n * C + c) * S + s];
        m += p;
    }
    m /= (double)(N * S);
    for (int64_t n = 0; n < N; n++) {
        double p = 0.0;
        for (int64_t s = 0; s < S; s++) {
            double e = x[(n * C + c) * S + s] - m;
            p += e * e;
        }
        v += p;
    }
    *mean = m;
    *var = v / (double)(N * S);
}

void rk_batchnorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *g,
                      const float *b, float *run_mean, float *run_var, int64_t N, int64_t C,
                      int64_t S, float eps, float momentum, bool train) {
    int64_t M = N * S;
    for (int64_t c = 0; c < C; c++) {
        double m = run_mean ? run_mean[c] : 0.0, v = run_var ? run_var[c] : 1.0;
        if (train)
            bn_stats(x, N, C, S, c, &m, &v);
        double sd = 1.0 / sqrt(v + eps);
        if (mean) mean[c] = (float)m;
        if (rstd) rstd[c] = (float)sd;
        for (int64_t n = 0; y && n < N; n++)
            for (int64_t s = 0; s < S; s++) {
                int64_t i = (n * C + c) * S + s;
                y[i] = (float)((x[i] - m) * sd * g[c] + b[c]);
            }
        if (train && run_mean && momentum != 0) {     /* momentum 0: left as they are */
            double unbiased = M > 1 ? v * (double)M / (double)(M - 1) : v;
            run_mean[c] = (float)((1.0 - momentum) * run_mean[c] + momentum * m);
            run_var[c] = (float)((1.0 - momentum) * run_var[c] + momentum * unbiased);
        }
    }
}

void rk_batchnorm_bwd(float *dx, float *dg, float *db, const float *dy, const float *x,
                      const float *mean, const float *rstd, const float *g, int64_t N,
                      int64_t C, int64_t S) {
    int64_t M = N * S;
    for (int64_t c = 0; c < C; c++) {
        double m = mean[c], sd = rstd[c], sb = 0.0, sg = 0.0;
        for (int64_t n = 0; n < N; n++) {
            double pb = 0.0, pg = 0.0;
            for (int64_t s = 0; s < S; s++) {
                int64_t i = (n * C + c) * S + s;
                pb += dy[i];
                pg += dy[i] * (x[i] - m) * sd;
            }
            sb += pb;
            sg += pg;
        }
        if (dg) dg[c] = (float)sg;
        if (db) db[c] = (float)sb;
        double mb = sb / (double)M, mg = sg / (double)M;
        for (int64_t n = 0; dx && n < N; n++)
            for (int64_t s = 0; s < S; s++) {
                int64_t i = (n * C + c) * S + s;
                double xhat = (x[i] - m) * sd;
                dx[i] = (float)(sd * g[c] * (dy[i] - mb - xhat * mg));
            }
    }
}

/* ----------------------------------------------------------------- losses */

float rk_cross_entropy_fwd(const float *logits, const int32_t *labels,
                           int64_t R, int64_t C, int64_t *ncorrect) {
    double loss = 0.0;
    int64_t correct = 0;
    for (int64_t r = 0; r < R; r++) {
        const float *xr = logits + r * C;
        loss += row_logsumexp(xr, C) - xr[labels[r]];
        int64_t best = 0;                           /* first arg-max */
        for (int64_t c = 1; c < C; c++)
            if (xr[c] > xr[best]) best = c;
        correct += best == labels[r];
    }
    if (ncorrect) *ncorrect = correct;
    return (float)(loss / (double)R);
}

void rk_cross_entropy_bwd(float *dlogits, const float *logits, const int32_t *labels,
                          float dloss, int64_t R, int64_t C) {
    double scale = (double)dloss / (double)R;
    for (int64_t r = 0; r < R; r++) {
        const float *xr = logits + r * C;
        double lse = row_logsumexp(xr, C);
        for (int64_t c = 0; c < C; c++) {
            double p = exp((double)xr[c] - lse) - (c == labels[r] ? 1.0 : 0.0);
            dlogits[r * C + c] = (float)(scale * p);
        }
    }
}

float rk_mse_fwd(const float *pred, const float *target, int64_t L) {
    double acc = 0.0;
    for (int64_t i = 0; i < L; i++) {
        double e = (double)pred[i] - target[i];
        acc += e * e;
    }
    return (float)(acc / (double)L);
}

void rk_mse_bwd(float *dpred, float *dtarget, const float *pred, const float *target,
                float dloss, int64_t L) {
    double scale = 2.0 * dloss / (double)L;
    for (int64_t i = 0; i < L; i++) {
        float d = (float)(scale * ((double)pred[i] - target[i]));
        if (dpred) dpred[i] = d;
        if (dtarget) dtarget[i] = -d;
    }
}
