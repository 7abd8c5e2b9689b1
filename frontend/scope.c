/* scope.c — hash tables from names to symbols (variables, inputs, labels, defs).
 *
 * Open addressing with linear probing, kept at most half full. Names are
 * borrowed (they live in the AST arena for the whole lowering), so a table
 * only owns its slot array. Symbols are never removed: a def call's frame is a
 * whole table, dropped when the call returns.
 */
#include <stdlib.h>
#include <string.h>

#include "fe_impl.h"

void scope_init(Scope *s)
{
    memset(s, 0, sizeof *s);
}

void scope_fini(Scope *s)
{
    free(s->slots);
    memset(s, 0, sizeof *s);
}

/* FNV-1a */
static uint32_t hash(const char *name)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* The slot holding name, or the empty slot where it would go. */
static Sym *probe(const Scope *s, const char *name)
{
    uint32_t mask = (uint32_t)s->cap - 1;
    for (uint32_t i = hash(name) & mask;; i = (i + 1) & mask)
        if (!s->slots[i].name || strcmp(s->slots[i].name, name) == 0)
            return &s->slots[i];
}

Sym *scope_find(const Scope *s, const char *name)
{
    if (s->cap == 0)
        return NULL;
    Sym *y = probe(s, name);
    return y->name ? y : NULL;
}

static void grow(Scope *s)
{
    Scope bigger = {.cap = s->cap ? s->cap * 2 : 16};
    bigger.slots = calloc((size_t)bigger.cap, sizeof *bigger.slots);
    IR_CHECK_ALLOC(bigger.slots);
    for (int i = 0; i < s->cap; i++)
        if (s->slots[i].name)
            *probe(&bigger, s->slots[i].name) = s->slots[i];
    bigger.n = s->n;
    free(s->slots);
    *s = bigger;
}

Sym *scope_put(Scope *s, const char *name, bool *fresh)
{
    if (2 * (s->n + 1) > s->cap)
        grow(s);
    Sym *y = probe(s, name);
    *fresh = y->name == NULL;
    if (*fresh) {
        y->name = name;
        s->n++;
    }
    return y;
}
