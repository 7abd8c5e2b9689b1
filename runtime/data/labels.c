/* labels.c — the random-labels control (Zhang et al., "Understanding deep
 * learning requires rethinking generalization"): the training labels are
 * shuffled among the examples once, so the label histogram stays the same
 * but the labels no longer follow from the images.
 */
#include "data.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>

double rt_dataset_permute_labels(RtDataset *ds, uint64_t seed)
{
    if (ds->n <= 0)
        return 0;
    int64_t *idx = malloc((size_t)ds->n * sizeof *idx);
    int32_t *old = malloc((size_t)ds->n * sizeof *old);
    if (!idx || !old) {
        free(idx);
        free(old);
        return -1;
    }
    RtRng root;
    rt_rng_seed(&root, seed);
    RtRng r = rt_rng_split(&root, RT_RNG_STREAM_LABELS);
    for (int64_t i = 0; i < ds->n; i++)
        idx[i] = i;
    rt_rng_shuffle(&r, idx, ds->n);
    memcpy(old, ds->y, (size_t)ds->n * sizeof *old);
    int64_t changed = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        ds->y[i] = old[idx[i]];
        changed += ds->y[i] != old[i];
    }
    free(idx);
    free(old);
    return (double)changed / (double)ds->n;
}
