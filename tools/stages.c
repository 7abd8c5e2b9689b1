/* stages.c — turns the split pass's per-block graphs into the runtime's
 * stage table: data inputs become the stage's input/label nodes, values from
 * other blocks become links (overlap's shared parameters: RT_LINK_PARAM), and
 * the cost model gives each block its cost.
 */
#include "cli.h"

#include <stdlib.h>

bool cli_stages(const PassBlocks *bs, const IrGraph *whole, RtBlockSpec *specs,
                RtLink **links_out)
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
        *s = (RtBlockSpec){b->g, -1, -1, 0, next, 0};
        for (int i = 0; i < b->n_inputs; i++) {
            const PassBlockInput *in = &b->inputs[i];
            if (in->kind != PASS_IO_DATA) {
                RtLinkKind kind = in->kind == PASS_IO_PARAM ? RT_LINK_PARAM : RT_LINK_VALUE;
                *next++ = (RtLink){in->node, in->src_block, in->src_node, kind};
                s->n_links++;
            } else if (b->g->nodes[in->node]->op == IR_OP_LABEL) {
                s->in_y = in->node;
            } else {
                s->in_x = in->node;
            }
        }
    }
    *links_out = links;
    /* each block's cost per example, for placing the blocks on workers */
    if (whole && whole->n_blocks == bs->n) {
        PassCost c;
        pass_cost(whole, &c);
        for (int k = 0; k < bs->n && k < c.n; k++)
            specs[k].cost = c.b[k].fwd + c.b[k].bwd + c.b[k].head;
        pass_cost_fini(&c);
    }
    return true;
}
