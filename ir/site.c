/* site.c — the chain of def calls and repeat iterations behind a node.
 *
 * Lowering inlines every def call and unrolls every repeat, so the nodes of
 * `def block` called four times all come from the same text. Each call and
 * each iteration gets a site in the graph's table (the call's location, the
 * def's name or the iteration number, and through the location's own site the
 * enclosing one); a node's location names the innermost. The IR prints the
 * chain after the location and errors add a note per link, so one can tell
 * which call a node, or a failure, comes from.
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

int ir_site_add(IrGraph *g, IrLoc at, const char *def, int iter)
{
    if (g->n_sites == g->cap_sites) {
        int cap = g->cap_sites ? 2 * g->cap_sites : 16;
        IrSite *s = realloc(g->sites, (size_t)cap * sizeof *s);
        IR_CHECK_ALLOC(s);
        g->sites = s;
        g->cap_sites = cap;
    }
    /* a def called again (the common case) shares its name with the last site */
    const IrSite *last = g->n_sites ? &g->sites[g->n_sites - 1] : NULL;
    const IrSite *up = ir_site(g, at.site);
    const char *name = NULL;
    if (def && last && last->def && strcmp(last->def, def) == 0)
        name = last->def;
    else if (def && up && up->def && strcmp(up->def, def) == 0)
        name = up->def;
    else if (def)
        name = ir_arena_strdup(&g->arena, def);
    g->sites[g->n_sites] = (IrSite){at, name, iter};
    return ++g->n_sites;
}

const IrSite *ir_site(const IrGraph *g, int s)
{
    return g && s >= 1 && s <= g->n_sites ? &g->sites[s - 1] : NULL;
}

void ir_graph_copy_sites(IrGraph *dst, const IrGraph *src)
{
    for (int s = 1; s <= src->n_sites; s++) {
        const IrSite *p = &src->sites[s - 1];
        ir_site_add(dst, p->at, p->def, p->iter);
    }
}

/* Sites only point outwards (a site is added before the ones inside it), so
 * a chain ends; the bound guards a corrupt table. */
static bool outer(const IrGraph *g, const IrSite **p, int *steps)
{
    *p = ++*steps <= g->n_sites ? ir_site(g, (*p)->at.site) : NULL;
    return *p != NULL;
}

const char *ir_loc_str(const IrGraph *g, IrLoc loc, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    if (loc.line <= 0)
        return buf;
    n += (size_t)snprintf(buf, cap, "%d:%d", loc.line, loc.col);
    int steps = 0;
    for (const IrSite *p = ir_site(g, loc.site); p && n < cap; outer(g, &p, &steps)) {
        if (p->def)
            n += (size_t)snprintf(buf + n, cap - n, " < %s@%d:%d", p->def, p->at.line, p->at.col);
        else
            n += (size_t)snprintf(buf + n, cap - n, " < repeat@%d:%d#%d", p->at.line, p->at.col,
                                  p->iter);
    }
    return buf;
}

enum { MAX_CHAIN_NOTES = 8 };

void ir_diag_chain(const IrGraph *g, Diag *d, IrLoc loc)
{
    int steps = 0, notes = 0;
    for (const IrSite *p = ir_site(g, loc.site); p; outer(g, &p, &steps)) {
        const IrSite *up = ir_site(g, p->at.site);
        if (notes++ == MAX_CHAIN_NOTES) {
            int more = 0;
            for (const IrSite *q = p; q && more < g->n_sites; q = ir_site(g, q->at.site))
                more++;
            diag_note(d, p->at, "... and %d more calls and repeat iterations, outwards from here",
                      more);
            return;
        }
        if (!p->def) {
            diag_note(d, p->at, "in iteration %d of this repeat", p->iter);
        } else if (up && !up->def) {
            /* the call's repeat is said with it, not as a note of its own */
            diag_note(d, p->at, "in '%s' called here, iteration %d of the repeat at %d:%d",
                      p->def, up->iter, up->at.line, up->at.col);
            outer(g, &p, &steps);
        } else {
            diag_note(d, p->at, "in '%s' called here", p->def);
        }
    }
}
