/* kernels_optim.c — reference optimizer updates (SGD with momentum/Nesterov,
 * Adam, AdamW), global-norm gradient clipping and learning-rate schedules.
 *
 * The updates follow PyTorch 1.13's single-tensor code line by line, in float
 * arithmetic per element, with the bias corrections computed in double as
 * PyTorch computes them in Python; so three steps match torch.optim to float
 * rounding (tests/test_kernels_fixtures.c checks it). */
#include "kernels.h"

#include <math.h>

void rk_sgd_step(const RkSgd *h, float *p, float *buf, const float *g, int64_t L) {
    float wd = (float)h->weight_decay, mom = (float)h->momentum, lr = (float)h->lr;
    for (int64_t i = 0; i < L; i++) {
        float d = g[i];
        if (wd != 0.0f) d += wd * p[i];
        if (mom != 0.0f) {
            buf[i] = buf[i] * mom + d;              /* buf starts at 0: first step = d */
            d = h->nesterov ? d + mom * buf[i] : buf[i];
        }
        p[i] += -lr * d;
    }
}

void rk_adam_step(const RkAdam *h, int64_t t, float *p, float *m, float *v,
                  const float *g, int64_t L) {
    double c1 = 1.0 - pow(h->beta1, (double)t);
    double c2 = 1.0 - pow(h->beta2, (double)t);
    float step_size = (float)(h->lr / c1), c2_sqrt = (float)sqrt(c2);
    float b1 = (float)h->beta1, b2 = (float)h->beta2, eps = (float)h->eps;
    float one_b1 = (float)(1.0 - h->beta1), one_b2 = (float)(1.0 - h->beta2);
    float wd = (float)h->weight_decay, shrink = (float)(1.0 - h->lr * h->weight_decay);
    for (int64_t i = 0; i < L; i++) {
        float gi = g[i];
        if (h->decoupled)
            p[i] *= shrink;
        else if (wd != 0.0f)
            gi += wd * p[i];
        m[i] = m[i] * b1 + one_b1 * gi;
        v[i] = v[i] * b2 + one_b2 * gi * gi;
        float denom = sqrtf(v[i]) / c2_sqrt + eps;
        p[i] += -step_size * m[i] / denom;
    }
}

/* ---------------------------------------------------------------- clipping */

double rk_grad_norm(float *const *g, const int64_t *L, int n) {
    double ss = 0.0;
    for (int k = 0; k < n; k++)
        for (int64_t i = 0; i < L[k]; i++) ss += (double)g[k][i] * g[k][i];
    return sqrt(ss);
}

double rk_clip_grad_norm(float *const *g, const int64_t *L, int n, double max_norm) {
    double norm = rk_grad_norm(g, L, n);
    if (norm > max_norm) {
        float scale = (float)(max_norm / (norm + 1e-6));
        for (int k = 0; k < n; k++)
            for (int64_t i = 0; i < L[k]; i++) g[k][i] *= scale;
    }
    return norm;
}

/* --------------------------------------------------------------- schedules */

float rk_lr_at(RkLrSchedule s, float base_lr, int64_t step, int64_t warmup,
               int64_t total_steps) {
    if (s == RK_LR_CONSTANT) return base_lr;
    if (step < warmup) return base_lr * (float)(step + 1) / (float)warmup;
    if (s == RK_LR_WARMUP) return base_lr;
    double span = (double)(total_steps - (warmup > 0 ? warmup : 0));
    double q = span > 0 ? (double)(step - (warmup > 0 ? warmup : 0)) / span : 1.0;
    if (q < 0.0) q = 0.0;
    if (q > 1.0) q = 1.0;
    return (float)(base_lr * 0.5 * (1.0 + cos(M_PI * q)));
}
