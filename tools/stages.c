/* stages.c — turns the split pass's per-block graphs into the runtime's
 * stage table: data inputs become the stage's input/label nodes, values from
 * other blocks become links.
 */
#include "cli.h"

#include <stdlib.h>

bool cli_stages(const PassBlocks *bs, RtBlockSpec *specs, RtLink **links_out)
{
    int total = 0;
    for (int k = 0; k < bs->n; k++)
        total += bs->b[k].n_inputs;
    RtLink *links = calloc((size_t)total + 1, sizeof *links);
    if (!links)
        return false;
    RtLink *next = links;
    for (int k = 0; k < bs->n; k++) {
        const PassBlock *b = &bs->b[k];
        RtBlockSpec *s = &specs[k];
        *s = (RtBlockSpec){b->g, -1, -1, 0, next};
        for (int i = 0; i < b->n_inputs; i++) {
            const PassBlockInput *in = &b->inputs[i];
            if (in->kind != PASS_IO_DATA) {
                *next++ = (RtLink){in->node, in->src_block, in->src_node};
                s->n_links++;
            } else if (b->g->nodes[in->node]->op == IR_OP_LABEL) {
                s->in_y = in->node;
            } else {
                s->in_x = in->node;
            }
        }
    }
    *links_out = links;
    return true;
}
