/* blas.h — the one matrix product of lnet's kernels and generated steps, and
 * the thread teams that share it.
 *
 * OpenBLAS's thread count is one setting for the whole process, so it cannot
 * give two concurrent blocks two and one threads; lnet therefore keeps
 * OpenBLAS single-threaded while it trains and parallelises a product itself:
 * a thread bound to a team of T threads cuts every product into T bands of
 * rows of C and computes them on the team (itself and T - 1 helpers), one
 * single-threaded sgemm call per band. The bands depend only on the shape
 * and T, so a block computes the same bits on any team of the same size,
 * whatever the timing. A thread bound to no team calls sgemm once.
 */
#ifndef LNET_RT_BLAS_H
#define LNET_RT_BLAS_H

#include <stdbool.h>

typedef struct RtTeam RtTeam;

/* A team of `threads` (the calling thread and threads - 1 helpers, started
 * now); NULL with errno ENOMEM when memory ran out, else pthread_create's
 * error (a thread could not be started). rt_team_new(1) has no helper. */
RtTeam *rt_team_new(int threads);
void rt_team_free(RtTeam *team);
int rt_team_threads(const RtTeam *team);

/* Products on the calling thread run on `team` from now on (NULL: alone).
 * A team serves one thread at a time. */
void rt_team_bind(RtTeam *team);
/* The threads of the calling thread's team (1 when unbound). */
int rt_team_bound_threads(void);

/* OpenBLAS itself single-threaded (what every training schedule uses), or
 * restored to its thread count at start-up. */
void rt_blas_single_threaded(bool single);

/* cblas_sgemm's contract, row-major only: C = alpha·op(A)·op(B) + beta·C with
 * op(A) M×K, op(B) K×N; ta / tb are CBLAS_TRANSPOSE values (111 no, 112 yes).
 * Generated code calls it by this name. */
void rt_sgemm(int order, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                int lda, const float *B, int ldb, float beta, float *C, int ldc);

#endif
