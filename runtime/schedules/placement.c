/* placement.c — blocks onto workers (see placement.h). */
#include "placement.h"

#include <string.h>

/* best[w][j]: the least possible maximum group cost of blocks [0, j) in w
 * groups; cut[w][j] the start of the last of those groups. Ties take the
 * earliest cut, so the placement is a function of the costs alone. */
static void balance(const double *c, int K, int W, int *first)
{
    double best[RT_PLACE_MAX + 1][RT_PLACE_MAX + 1];     /* on the stack: reentrant */
    int cut[RT_PLACE_MAX + 1][RT_PLACE_MAX + 1];
    double pre[RT_PLACE_MAX + 1] = {0};
    for (int j = 0; j < K; j++)
        pre[j + 1] = pre[j] + c[j];
    for (int j = 1; j <= K; j++)
        best[1][j] = pre[j], cut[1][j] = 0;
    for (int w = 2; w <= W; w++)
        for (int j = w; j <= K; j++) {
            best[w][j] = -1;
            for (int i = w - 1; i < j; i++) {
                double last = pre[j] - pre[i];
                double m = best[w - 1][i] > last ? best[w - 1][i] : last;
                if (best[w][j] < 0 || m < best[w][j])
                    best[w][j] = m, cut[w][j] = i;
            }
        }
    first[W] = K;
    for (int w = W, j = K; w >= 1; w--)
        j = first[w - 1] = cut[w][j];
}

bool rt_place(const double *cost, int K, int N, RtPlacement *p)
{
    if (K < 1 || K > RT_PLACE_MAX || N < 1)
        return false;
    memset(p, 0, sizeof *p);
    double c[RT_PLACE_MAX];
    bool any = false;
    for (int k = 0; k < K; k++)
        any |= cost && cost[k] > 0;
    for (int k = 0; k < K; k++)
        c[k] = any ? (cost[k] > 0 ? cost[k] : 0) : 1;
    p->blocks = K;
    p->cores = N;
    p->workers = K < N ? K : N;
    balance(c, K, p->workers, p->first);
    for (int w = 0; w < p->workers; w++) {
        for (int k = p->first[w]; k < p->first[w + 1]; k++)
            p->cost[w] += c[k];
        p->total += p->cost[w];
        p->threads[w] = N / p->workers;
    }
    for (int r = N % p->workers; r > 0; r--) {
        int top = 0;
        for (int w = 1; w < p->workers; w++)
            if (p->cost[w] / p->threads[w] > p->cost[top] / p->threads[top])
                top = w;
        p->threads[top]++;
    }
    return true;
}

int rt_place_worker(const RtPlacement *p, int k)
{
    int w = 0;
    while (w + 1 < p->workers && k >= p->first[w + 1])
        w++;
    return w;
}

double rt_place_speedup(const RtPlacement *p)
{
    double slow = 0;
    for (int w = 0; w < p->workers; w++)
        if (p->cost[w] / p->threads[w] > slow)
            slow = p->cost[w] / p->threads[w];
    return slow > 0 ? p->total / slow : 1;
}
