/* test_placement.c — blocks packed onto a core budget: W = min(K, N)
 * contiguous groups that minimise the most expensive one (checked against
 * every possible grouping), N threads in all, remainder to the busiest. */
#include <criterion/criterion.h>

#include "placement.h"

/* The least possible maximum group cost, by trying every grouping. */
static double brute(const double *c, int K, int W, int from)
{
    if (W == 1) {
        double s = 0;
        for (int k = from; k < K; k++)
            s += c[k];
        return s;
    }
    double best = -1, s = 0;
    for (int end = from + 1; end <= K - (W - 1); end++) {
        s += c[end - 1];
        double rest = brute(c, K, W - 1, end);
        double m = s > rest ? s : rest;
        if (best < 0 || m < best)
            best = m;
    }
    return best;
}

Test(placement, groups_are_optimal_and_cover_every_block)
{
    double c[8];
    unsigned seed = 7;
    for (int trial = 0; trial < 200; trial++) {
        int K = 1 + trial % 8, N = 1 + (trial / 8) % 5;
        for (int k = 0; k < K; k++)
            c[k] = 1 + (seed = seed * 1103515245u + 12345u) % 100;
        RtPlacement p;
        cr_assert(rt_place(c, K, N, &p));
        int W = K < N ? K : N;
        cr_assert_eq(p.workers, W);
        cr_assert_eq(p.first[0], 0);
        cr_assert_eq(p.first[W], K);
        double worst = 0;
        int threads = 0;
        for (int w = 0; w < W; w++) {
            cr_assert(p.first[w] < p.first[w + 1], "worker %d has no block", w);
            cr_assert(p.threads[w] >= 1);
            threads += p.threads[w];
            worst = p.cost[w] > worst ? p.cost[w] : worst;
            for (int k = p.first[w]; k < p.first[w + 1]; k++)
                cr_assert_eq(rt_place_worker(&p, k), w);
        }
        cr_assert_eq(threads, N);
        cr_assert_float_eq(worst, brute(c, K, W, 0), 1e-9, "K %d N %d", K, N);
    }
}

Test(placement, examples)
{
    /* five equal blocks on two cores: two and three (ties take the earliest cut) */
    RtPlacement p;
    cr_assert(rt_place(NULL, 5, 2, &p));
    cr_assert_eq(p.workers, 2);
    cr_assert_eq(p.first[1], 2);
    /* two blocks, five cores: the costlier block gets the spare thread */
    double c[2] = {1, 3};
    cr_assert(rt_place(c, 2, 5, &p));
    cr_assert_eq(p.threads[0], 2);
    cr_assert_eq(p.threads[1], 3);
    cr_assert_float_eq(rt_place_speedup(&p), 4.0 / (3.0 / 3.0), 1e-9);
    /* bad requests */
    cr_assert(!rt_place(NULL, 0, 2, &p));
    cr_assert(!rt_place(NULL, 2, 0, &p));
    cr_assert(!rt_place(NULL, 65, 2, &p));
}
