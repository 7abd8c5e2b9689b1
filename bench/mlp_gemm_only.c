/* mlp_gemm_only.c — the matrix products of one fmnist_mlp training step
 * alone: the GEMM-bound limit of lnet's step (bench/RESULTS.md, "I: fusion").
 *
 * Batch 128, layers 784-1024-1024-1024-1024-10: the forward products (NN),
 * every weight gradient (TN) and every input gradient but the first
 * layer's (NT), as lnet's step issues them (codegen/lower_dense.c), each on
 * its own buffers. Prints the CPU and wall milliseconds per step after 5
 * warm-up steps.
 *
 *   cc -O2 bench/mlp_gemm_only.c -o mlp_gemm_only -lopenblas
 *   OPENBLAS_NUM_THREADS=1 ./mlp_gemm_only [STEPS]
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static float *buffer(long n)
{
    float *p = malloc(sizeof *p * (size_t)n);
    if (!p)
        exit(1);
    for (long i = 0; i < n; i++)
        p[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * 0.1f;
    return p;
}

int main(int argc, char **argv)
{
    enum { R = 128, L = 5 };
    static const int d[L + 1] = {784, 1024, 1024, 1024, 1024, 10};
    int steps = argc > 1 ? atoi(argv[1]) : 40;
    float *W[L], *G[L], *X[L + 1], *DY[L + 1];   /* W, G (d[l], d[l+1]); X, DY (R, d[l]) */
    for (int l = 0; l < L; l++) {
        W[l] = buffer((long)d[l] * d[l + 1]);
        G[l] = buffer((long)d[l] * d[l + 1]);
    }
    for (int l = 0; l <= L; l++) {
        X[l] = buffer((long)R * d[l]);
        DY[l] = buffer((long)R * d[l]);
    }
    double cpu0 = 0, wall0 = 0;
    for (int s = 0; s < steps + 5; s++) {
        if (s == 5) {
            cpu0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
            wall0 = seconds(CLOCK_MONOTONIC);
        }
        for (int l = 0; l < L; l++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, d[l + 1], d[l], 1.0f,
                        X[l], d[l], W[l], d[l + 1], 0.0f, X[l + 1], d[l + 1]);
        for (int l = L - 1; l >= 0; l--) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d[l], d[l + 1], R, 1.0f, X[l],
                        d[l], DY[l + 1], d[l + 1], 0.0f, G[l], d[l + 1]);
            if (l > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, d[l], d[l + 1], 1.0f,
                            DY[l + 1], d[l + 1], W[l], d[l + 1], 0.0f, DY[l], d[l]);
        }
    }
    printf("matrix products of one step: %.2f ms CPU, %.2f ms wall\n",
           (seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / steps * 1e3,
           (seconds(CLOCK_MONOTONIC) - wall0) / steps * 1e3);
    return 0;
}
