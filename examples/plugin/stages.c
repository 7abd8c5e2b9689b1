/* stages.c — an example partition plug-in: one block per resolution stage.
 *
 * A CNN computes at a few resolutions (28x28, then 14x14 after a pool, ...).
 * This method ends a block after every layer whose output has fewer spatial
 * positions than the previous layer's, so each block is one stage; the
 * classifier after the last stage joins that stage. User cuts (`cut` in the
 * model) still end blocks. For examples/fmnist_resnet.lnet it makes two
 * blocks: stem + two residual blocks + pool, then two residual blocks +
 * global pool + classifier.
 *
 * Build and use (docs/passes.md):
 *   cc -shared -fPIC -I lnet/passes -o libstages.so examples/plugin/stages.c
 *   lnet cost examples/fmnist_resnet.lnet --load-pass ./libstages.so --method stages
 */
#include "lnet_pass.h"

#include <stdbool.h>
#include <stdlib.h>

LNET_PASS_PLUGIN;

/* Spatial positions of a value: H*W of [N,C,H,W], else 1. */
static int64_t spatial(const LnetPassApi *api, const LnetPartition *p, int node)
{
    if (api->rank(p, node) != 4)
        return 1;
    return api->dim(p, node, 2) * api->dim(p, node, 3);
}

static int stages(LnetPartition *p, void *user)
{
    const LnetPassApi *api = user;
    int L = api->n_layers(p);
    int *last = malloc((size_t)L * sizeof *last);
    if (!last) {
        api->error(p, "out of memory");
        return 1;
    }
    int n = 0;
    for (int l = 0; l + 1 < L; l++) {
        bool shrinks = l > 0 && spatial(api, p, api->layer_last(p, l)) <
                                    spatial(api, p, api->layer_last(p, l - 1));
        /* a stage's end, unless only the classifier would follow */
        if ((shrinks && l + 2 < L) || api->layer_forced_end(p, l))
            last[n++] = l;
    }
    last[n++] = L - 1;
    int want = api->requested_blocks(p);
    if (want > 0 && want != n)
        api->warning(p, "%d resolution stages make %d blocks; blocks = %d is ignored", n, n,
                     want);
    int rc = api->set_blocks(p, n, last);
    free(last);
    return rc;
}

int lnet_pass_plugin_init(const LnetPassApi *api, LnetPassRegistry *reg)
{
    /* the table outlives every call: hand it to the method as its user data */
    return api->register_method(reg, "stages", "one block per resolution stage",
                                stages, (void *)api);
}
