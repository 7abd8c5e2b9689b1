/* blas.c — rt_sgemm and the thread teams (see blas.h).
 *
 * A team's helpers sleep on a condition variable; a product publishes its
 * arguments with a new generation number, computes band 0 on the caller,
 * and waits until every helper has finished its band. Bands are whole
 * multiples of RT_BAND_ROWS rows (the last takes the rest); a product too
 * small to be worth waking helpers for is one band on the caller.
 */
#include "blas.h"

#include <cblas.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

enum { RT_BAND_ROWS = 16 };
#define RT_SPLIT_MIN_FLOPS (1 << 18)

typedef struct {
    int ta, tb, M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int rows;               /* rows of C per band */
} Gemm;

struct RtTeam {
    int n;                  /* threads, the caller included */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t gen;
    int pending;            /* helpers still computing this generation */
    bool quit;
    Gemm job;
};

typedef struct {
    RtTeam *team;
    int index;              /* 1 .. n - 1 */
} Helper;

static _Thread_local RtTeam *bound;

/* Band b of the product: rows [b·rows, min(M, (b+1)·rows)) of C. */
static void band(const Gemm *g, int b)
{
    int r0 = b * g->rows;
    if (r0 >= g->M)
        return;
    int m = g->M - r0 < g->rows ? g->M - r0 : g->rows;
    const float *A = g->ta == CblasTrans ? g->A + r0 : g->A + (size_t)r0 * (size_t)g->lda;
    cblas_sgemm(CblasRowMajor, g->ta, g->tb, m, g->N, g->K, g->alpha, A, g->lda, g->B, g->ldb,
                g->beta, g->C + (size_t)r0 * (size_t)g->ldc, g->ldc);
}

static void *helper_main(void *arg)
{
    Helper h = *(Helper *)arg;
    free(arg);
    RtTeam *t = h.team;
    uint64_t seen = 0;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (!t->quit && t->gen == seen)
            pthread_cond_wait(&t->go, &t->mu);
        if (t->quit)
            break;
        seen = t->gen;
        Gemm g = t->job;
        pthread_mutex_unlock(&t->mu);
        band(&g, h.index);
        pthread_mutex_lock(&t->mu);
        if (--t->pending == 0)
            pthread_cond_signal(&t->done);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

RtTeam *rt_team_new(int threads)
{
    if (threads < 1)
        threads = 1;
    RtTeam *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->th = calloc((size_t)threads, sizeof *t->th);
    if (!t->th) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->go, NULL);
    pthread_cond_init(&t->done, NULL);
    t->n = 1;
    int why = 0;
    for (int i = 1; i < threads && !why; i++) {
        Helper *h = malloc(sizeof *h);
        if (!h) {
            why = ENOMEM;
            break;
        }
        *h = (Helper){t, i};
        if ((why = pthread_create(&t->th[i], NULL, helper_main, h)) != 0) {
            free(h);
            break;
        }
        t->n++;
    }
    if (why) {
        rt_team_free(t);
        errno = why;
        return NULL;
    }
    return t;
}

void rt_team_free(RtTeam *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->quit = true;
    pthread_cond_broadcast(&t->go);
    pthread_mutex_unlock(&t->mu);
    for (int i = 1; i < t->n; i++)
        pthread_join(t->th[i], NULL);
    pthread_cond_destroy(&t->done);
    pthread_cond_destroy(&t->go);
    pthread_mutex_destroy(&t->mu);
    free(t->th);
    free(t);
}

int rt_team_threads(const RtTeam *t) { return t ? t->n : 1; }

void rt_team_bind(RtTeam *t) { bound = t; }

int rt_team_bound_threads(void) { return rt_team_threads(bound); }

void rt_blas_single_threaded(bool single)
{
    static int initial;
    if (!initial)
        initial = openblas_get_num_threads();
    openblas_set_num_threads(single ? 1 : initial);
}

void rt_sgemm(int order, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    RtTeam *t = bound;
    double flops = 2.0 * M * N * K;
    if (order != CblasRowMajor || !t || t->n < 2 || M < 2 * RT_BAND_ROWS ||
        flops < RT_SPLIT_MIN_FLOPS) {
        cblas_sgemm(order, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int per = (M + t->n - 1) / t->n;
    per = (per + RT_BAND_ROWS - 1) / RT_BAND_ROWS * RT_BAND_ROWS;
    Gemm g = {ta, tb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C, per};
    pthread_mutex_lock(&t->mu);
    t->job = g;
    t->pending = t->n - 1;
    t->gen++;
    pthread_cond_broadcast(&t->go);
    pthread_mutex_unlock(&t->mu);
    band(&g, 0);
    pthread_mutex_lock(&t->mu);
    while (t->pending > 0)
        pthread_cond_wait(&t->done, &t->mu);
    pthread_mutex_unlock(&t->mu);
}
