/* kernels_conv.c — reference kernels for conv2d (stride, zero padding) and
 * max / average / global-average pooling, all NCHW.
 *
 * conv2d works one image at a time through an im2col matrix
 *   col (C·K·K, OH·OW):  col[(c·K + i)·K + j, oh·OW + ow] = x[c, oh·S-P+i, ow·S-P+j]
 * (zero outside the image), so that
 *   forward        y_n (O, OH·OW)   = w (O, C·K·K) @ col_n
 *   weight grad    dw  (O, C·K·K)   = Σ_n dy_n @ col_nᵀ
 *   input grad     dcol (C·K·K, OH·OW) = wᵀ @ dy_n, scattered back by col2im.
 * The products are rt_sgemm (cblas_sgemm on the thread's team); col2im and the pools sum in float (at most
 * K·K terms per element), the global average pool in double. */
#include "kernels.h"
#include "blas.h"

#include <cblas.h>
#include <string.h>

RkConv2d rk_conv2d_geom(int64_t N, int64_t C, int64_t H, int64_t W,
                        int64_t O, int64_t K, int64_t S, int64_t P) {
    RkConv2d g = {N, C, H, W, O, K, S, P, 0, 0};
    g.OH = (H + 2 * P - K) / S + 1;
    g.OW = (W + 2 * P - K) / S + 1;
    return g;
}

int64_t rk_conv2d_work_floats(const RkConv2d *g) {
    return g->C * g->K * g->K * g->OH * g->OW;
}

/* col (C·K·K, OH·OW) from one image x (C, H, W). */
static void im2col(float *col, const float *x, const RkConv2d *g) {
    int64_t K = g->K, OHW = g->OH * g->OW;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t i = 0; i < K; i++)
            for (int64_t j = 0; j < K; j++) {
                float *row = col + ((c * K + i) * K + j) * OHW;
                for (int64_t oh = 0; oh < g->OH; oh++)
                    for (int64_t ow = 0; ow < g->OW; ow++) {
                        int64_t h = oh * g->S - g->P + i, w = ow * g->S - g->P + j;
                        bool in = h >= 0 && h < g->H && w >= 0 && w < g->W;
                        row[oh * g->OW + ow] = in ? x[(c * g->H + h) * g->W + w] : 0.0f;
                    }
            }
}

/* x (C, H, W) = Σ of the col entries that im2col read from each pixel. */
static void col2im(float *x, const float *col, const RkConv2d *g) {
    int64_t K = g->K, OHW = g->OH * g->OW;
    memset(x, 0, (size_t)(g->C * g->H * g->W) * sizeof *x);
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t i = 0; i < K; i++)
            for (int64_t j = 0; j < K; j++) {
                const float *row = col + ((c * K + i) * K + j) * OHW;
                for (int64_t oh = 0; oh < g->OH; oh++)
                    for (int64_t ow = 0; ow < g->OW; ow++) {
                        int64_t h = oh * g->S - g->P + i, w = ow * g->S - g->P + j;
                        if (h >= 0 && h < g->H && w >= 0 && w < g->W)
                            x[(c * g->H + h) * g->W + w] += row[oh * g->OW + ow];
                    }
            }
}

void rk_conv2d_fwd(float *y, const float *x, const float *w, const RkConv2d *g,
                   float *work) {
    int CKK = (int)(g->C * g->K * g->K), OHW = (int)(g->OH * g->OW), O = (int)g->O;
    for (int64_t n = 0; n < g->N; n++) {
        im2col(work, x + n * g->C * g->H * g->W, g);
        rt_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, OHW, CKK,
                    1.0f, w, CKK, work, OHW, 0.0f, y + n * O * OHW, OHW);
    }
}

void rk_conv2d_bwd_input(float *dx, const float *dy, const float *w,
                         const RkConv2d *g, float *work) {
    int CKK = (int)(g->C * g->K * g->K), OHW = (int)(g->OH * g->OW), O = (int)g->O;
    for (int64_t n = 0; n < g->N; n++) {
        rt_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, OHW, O,
                    1.0f, w, CKK, dy + n * O * OHW, OHW, 0.0f, work, OHW);
        col2im(dx + n * g->C * g->H * g->W, work, g);
    }
}

void rk_conv2d_bwd_weight(float *dw, const float *dy, const float *x,
                          const RkConv2d *g, float *work) {
    int CKK = (int)(g->C * g->K * g->K), OHW = (int)(g->OH * g->OW), O = (int)g->O;
    for (int64_t n = 0; n < g->N; n++) {
        im2col(work, x + n * g->C * g->H * g->W, g);
        rt_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, CKK, OHW,
                    1.0f, dy + n * O * OHW, OHW, work, OHW, n ? 1.0f : 0.0f, dw, CKK);
    }
}

/* ---------------------------------------------------------------- pooling */

RkPool2d rk_pool2d_geom(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t S) {
    RkPool2d g = {N, C, H, W, K, S, (H - K) / S + 1, (W - K) / S + 1};
    return g;
}

/* Offset in one (H, W) plane of the first maximum of window (oh, ow). */
static int64_t window_argmax(const float *plane, const RkPool2d *g, int64_t oh, int64_t ow) {
    int64_t best = oh * g->S * g->W + ow * g->S;
    for (int64_t i = 0; i < g->K; i++)
        for (int64_t j = 0; j < g->K; j++) {
            int64_t off = (oh * g->S + i) * g->W + ow * g->S + j;
            if (plane[off] > plane[best]) best = off;   /* strict: ties keep the first */
        }
    return best;
}

void rk_maxpool_fwd(float *y, const float *x, const RkPool2d *g) {
    for (int64_t p = 0; p < g->N * g->C; p++) {
        const float *plane = x + p * g->H * g->W;
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++)
                y[(p * g->OH + oh) * g->OW + ow] = plane[window_argmax(plane, g, oh, ow)];
    }
}

void rk_maxpool_bwd(float *dx, const float *dy, const float *x, const RkPool2d *g) {
    memset(dx, 0, (size_t)(g->N * g->C * g->H * g->W) * sizeof *dx);
    for (int64_t p = 0; p < g->N * g->C; p++) {
        const float *plane = x + p * g->H * g->W;
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++)
                dx[p * g->H * g->W + window_argmax(plane, g, oh, ow)] +=
                    dy[(p * g->OH + oh) * g->OW + ow];
    }
}

void rk_avgpool_fwd(float *y, const float *x, const RkPool2d *g) {
    float area = (float)(g->K * g->K);
    for (int64_t p = 0; p < g->N * g->C; p++) {
        const float *plane = x + p * g->H * g->W;
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++) {
                float acc = 0.0f;
                for (int64_t i = 0; i < g->K; i++)
                    for (int64_t j = 0; j < g->K; j++)
                        acc += plane[(oh * g->S + i) * g->W + ow * g->S + j];
                y[(p * g->OH + oh) * g->OW + ow] = acc / area;
            }
    }
}

void rk_avgpool_bwd(float *dx, const float *dy, const RkPool2d *g) {
    float area = (float)(g->K * g->K);
    memset(dx, 0, (size_t)(g->N * g->C * g->H * g->W) * sizeof *dx);
    for (int64_t p = 0; p < g->N * g->C; p++) {
        float *plane = dx + p * g->H * g->W;
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++) {
                float d = dy[(p * g->OH + oh) * g->OW + ow] / area;
                for (int64_t i = 0; i < g->K; i++)
                    for (int64_t j = 0; j < g->K; j++)
                        plane[(oh * g->S + i) * g->W + ow * g->S + j] += d;
            }
    }
}

void rk_global_avg_pool_fwd(float *y, const float *x, int64_t N, int64_t C, int64_t HW) {
    for (int64_t p = 0; p < N * C; p++) {
        double acc = 0.0;
        for (int64_t s = 0; s < HW; s++) acc += x[p * HW + s];
        y[p] = (float)(acc / (double)HW);
    }
}

void rk_global_avg_pool_bwd(float *dx, const float *dy, int64_t N, int64_t C, int64_t HW) {
    for (int64_t p = 0; p < N * C; p++) {
        float d = (float)((double)dy[p] / (double)HW);
        for (int64_t s = 0; s < HW; s++) dx[p * HW + s] = d;
    }
}
