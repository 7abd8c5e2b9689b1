/* arena.c — the bump allocator that owns every IR node, shape and name.
 *
 * Memory comes in chunks of at least 64 KiB; an allocation larger than a chunk
 * gets a chunk of its own. Nothing is freed until ir_arena_fini.
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

struct IrArenaChunk {
    IrArenaChunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

enum { CHUNK_MIN = 64 * 1024 };

void ir_arena_init(IrArena *a) { a->head = NULL; }

void ir_arena_fini(IrArena *a)
{
    IrArenaChunk *c = a->head;
    while (c) {
        IrArenaChunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

static IrArenaChunk *chunk_new(size_t need)
{
    size_t cap = need > CHUNK_MIN ? need : CHUNK_MIN;
    IrArenaChunk *c = malloc(sizeof *c + cap);
    IR_CHECK_ALLOC(c);
    c->next = NULL;
    c->used = 0;
    c->cap = cap;
    return c;
}

void *ir_arena_alloc(IrArena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    IrArenaChunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        c = chunk_new(n);
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *ir_arena_strndup(IrArena *a, const char *s, size_t n)
{
    char *p = ir_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *ir_arena_strdup(IrArena *a, const char *s)
{
    return ir_arena_strndup(a, s, strlen(s));
}
