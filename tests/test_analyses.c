/* test_analyses.c — the random-labels permutation (--random-labels,
 * runtime/data/labels.c): the same labels in another order, fixed by the
 * seed, another order for another seed. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

enum { N = 1000, CLASSES = 10 };

/* N labels, class i % CLASSES at example i. */
static void make_labels(RtDataset *ds, int32_t *y)
{
    for (int i = 0; i < N; i++)
        y[i] = i % CLASSES;
    *ds = (RtDataset){.n = N, .n_classes = CLASSES, .y = y};
}

Test(random_labels, keeps_the_histogram)
{
    int32_t y[N];
    RtDataset ds;
    make_labels(&ds, y);
    double changed = rt_dataset_permute_labels(&ds, 7);
    int count[CLASSES] = {0}, differ = 0;
    for (int i = 0; i < N; i++) {
        cr_assert(y[i] >= 0 && y[i] < CLASSES);
        count[y[i]]++;
        differ += y[i] != i % CLASSES;
    }
    for (int c = 0; c < CLASSES; c++)
        cr_expect_eq(count[c], N / CLASSES, "class %d: %d labels", c, count[c]);
    cr_expect_float_eq(changed, (double)differ / N, 1e-12);
    cr_expect(changed > 0.8, "only %.3f of the labels changed", changed);
}

Test(random_labels, fixed_by_the_seed)
{
    int32_t a[N], b[N], c[N];
    RtDataset da, db, dc;
    make_labels(&da, a);
    make_labels(&db, b);
    make_labels(&dc, c);
    rt_dataset_permute_labels(&da, 7);
    rt_dataset_permute_labels(&db, 7);
    rt_dataset_permute_labels(&dc, 8);
    cr_expect(memcmp(a, b, sizeof a) == 0, "seed 7 twice gave two orders");
    cr_expect(memcmp(a, c, sizeof a) != 0, "seeds 7 and 8 gave the same order");
}
