/* test_blas.c — rt_sgemm on thread teams: every team size and transpose
 * gives the product (against a double-precision reference), the same team
 * size gives the same bits run after run, and a team is reusable. */
#include <criterion/criterion.h>

#include "blas.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *rnd(size_t n, unsigned seed)
{
    float *p = malloc(n * sizeof *p);
    cr_assert(p);
    srand(seed);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return p;
}

/* op(A)[i][k] for a row-major A (ta: A is K×M). */
static double at(const float *A, bool t, int lda, int i, int k)
{
    return t ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
}

static void check(int M, int N, int K, bool ta, bool tb, int threads)
{
    int lda = ta ? M : K, ldb = tb ? K : N;
    float *A = rnd((size_t)M * K, 1), *B = rnd((size_t)K * N, 2);
    float *C = rnd((size_t)M * N, 3), *C2 = malloc((size_t)M * N * sizeof *C2);
    float *C0 = malloc((size_t)M * N * sizeof *C0);
    memcpy(C0, C, (size_t)M * N * sizeof *C);
    memcpy(C2, C, (size_t)M * N * sizeof *C);
    RtTeam *team = rt_team_new(threads);
    cr_assert(team && rt_team_threads(team) == threads);
    rt_team_bind(team);
    cr_assert_eq(rt_team_bound_threads(), threads);
    int tA = ta ? CblasTrans : CblasNoTrans, tB = tb ? CblasTrans : CblasNoTrans;
    rt_sgemm(CblasRowMajor, tA, tB, M, N, K, 0.5f, A, lda, B, ldb, 0.25f, C, N);
    rt_sgemm(CblasRowMajor, tA, tB, M, N, K, 0.5f, A, lda, B, ldb, 0.25f, C2, N);
    rt_team_bind(NULL);
    rt_team_free(team);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double ref = 0.25 * C0[(size_t)i * N + j];
            for (int k = 0; k < K; k++)
                ref += 0.5 * at(A, ta, lda, i, k) * at(B, !tb, ldb, j, k);
            float got = C[(size_t)i * N + j];
            cr_assert(fabs(got - ref) <= 1e-4 * (1 + fabs(ref)),
                      "M%d N%d K%d ta%d tb%d T%d: C[%d][%d] = %g, expected %g", M, N, K, ta, tb,
                      threads, i, j, got, ref);
        }
    cr_assert(memcmp(C, C2, (size_t)M * N * sizeof *C) == 0, "same team size, other bits");
    free(A); free(B); free(C); free(C2); free(C0);
}

Test(blas, team_products_match_reference)
{
    for (int threads = 1; threads <= 4; threads++)
        for (int t = 0; t < 4; t++) {
            check(128, 96, 80, t & 1, t & 2, threads);
            check(77, 33, 129, t & 1, t & 2, threads);     /* ragged bands */
            check(8, 300, 64, t & 1, t & 2, threads);      /* too few rows to split */
        }
}

Test(blas, unbound_thread_is_alone)
{
    cr_assert_eq(rt_team_bound_threads(), 1);
    RtTeam *t = rt_team_new(1);
    cr_assert(t);
    cr_assert_eq(rt_team_threads(t), 1);
    rt_team_free(t);
    rt_team_free(NULL);
}
