/* recursion.c — rejects defs that call themselves, directly or through others.
 *
 * Inlining a recursive def would never end, so before lowering we build the
 * call graph of the defs (an edge per call site naming a def) and search it
 * depth-first with an explicit stack (a chain of 100k defs must not overflow
 * the C stack). A back edge closes a cycle, reported at its call site with
 * the whole path: "recursive def: a -> b -> a".
 */
#include <stdlib.h>
#include <string.h>

#include "fe_impl.h"

typedef struct Edge {
    int to;
    IrLoc loc;
} Edge;

typedef struct DefNode {
    const AstStmt *def;
    Edge *edges;
    int n_edges, cap_edges;
    int color;              /* 0 unvisited, 1 on the DFS path, 2 done */
    int next_edge;          /* DFS cursor */
} DefNode;

typedef struct Graph {
    Lower *L;
    DefNode *nodes;
    int n;
} Graph;

static void add_edge(DefNode *n, int to, IrLoc loc)
{
    if (n->n_edges == n->cap_edges) {
        n->cap_edges = n->cap_edges ? 2 * n->cap_edges : 4;
        n->edges = realloc(n->edges, (size_t)n->cap_edges * sizeof *n->edges);
        IR_CHECK_ALLOC(n->edges);
    }
    n->edges[n->n_edges++] = (Edge){to, loc};
}

/* Adds an edge for every call to a def inside e (AST depth is bounded). */
static void scan_expr(Graph *G, DefNode *from, const AstExpr *e)
{
    if (!e)
        return;
    if (e->kind == AST_CALL) {
        const Sym *y = scope_find(&G->L->defs, e->str);
        if (y)
            add_edge(from, y->v.node, e->loc);
        for (const AstArg *a = e->args; a; a = a->next)
            scan_expr(G, from, a->value);
    }
    scan_expr(G, from, e->lhs);
    scan_expr(G, from, e->rhs);
}

static void scan_stmts(Graph *G, DefNode *from, const AstStmt *s)
{
    for (; s; s = s->next) {
        scan_expr(G, from, s->expr);
        scan_stmts(G, from, s->body);
    }
}

/* Reports the cycle closed by edge e from the top of the DFS path. */
static void report_cycle(Graph *G, const int *path, int depth, const Edge *e)
{
    int start = depth - 1;
    while (path[start] != e->to)
        start--;
    size_t cap = 256;
    char *msg = malloc(cap);
    IR_CHECK_ALLOC(msg);
    size_t len = (size_t)snprintf(msg, cap, "recursive def: ");
    for (int i = start; i <= depth && len < cap; i++) {
        const char *name = G->nodes[i < depth ? path[i] : e->to].def->name;
        len += (size_t)snprintf(msg + len, cap - len, "%s%.32s", i > start ? " -> " : "", name);
    }
    if (len >= cap)
        strcpy(msg + cap - 4, "...");
    lower_error(G->L, e->loc, "%s", msg);
    free(msg);
}

/* Iterative DFS from root; returns false when a cycle was found. */
static bool dfs(Graph *G, int root, int *path)
{
    bool ok = true;
    int depth = 0;
    path[depth++] = root;
    G->nodes[root].color = 1;
    while (depth > 0) {
        DefNode *n = &G->nodes[path[depth - 1]];
        if (n->next_edge == n->n_edges) {
            n->color = 2;
            depth--;
            continue;
        }
        const Edge *e = &n->edges[n->next_edge++];
        if (G->nodes[e->to].color == 1) {
            report_cycle(G, path, depth, e);
            ok = false;
        } else if (G->nodes[e->to].color == 0) {
            G->nodes[e->to].color = 1;
            path[depth++] = e->to;
        }
    }
    return ok;
}

bool fe_check_recursion(Lower *L, const AstProgram *p)
{
    Graph G = {.L = L, .n = L->defs.n};
    G.nodes = calloc((size_t)(G.n ? G.n : 1), sizeof *G.nodes);
    int *path = calloc((size_t)(G.n ? G.n : 1), sizeof *path);
    IR_CHECK_ALLOC(G.nodes && path);
    for (const AstStmt *s = p->stmts; s; s = s->next) {
        const Sym *y = s->kind == ST_DEF ? scope_find(&L->defs, s->name) : NULL;
        if (y && y->def == s)
            G.nodes[y->v.node].def = s;
    }
    for (int i = 0; i < G.n; i++) {
        scan_stmts(&G, &G.nodes[i], G.nodes[i].def->body);
        scan_expr(&G, &G.nodes[i], G.nodes[i].def->expr);
    }
    bool ok = true;
    for (int i = 0; i < G.n; i++)
        if (G.nodes[i].color == 0)
            ok &= dfs(&G, i, path);
    for (int i = 0; i < G.n; i++)
        free(G.nodes[i].edges);
    free(G.nodes);
    free(path);
    return ok;
}
