/* frontend.h — the one public header of the frontend: `.lnet` text in, IR graph out.
 *
 * The frontend lexes and parses a model file into an AST (in a private arena),
 * checks the `def`s for recursion, then lowers the AST into a forward IR graph:
 * `def` calls are inlined, `repeat` bodies unrolled, builtins become IR ops and
 * learned parameters, number arithmetic is folded, and the `train { }` and
 * `local { }` sections fill the graph's configuration. The language is
 * specified in docs/language.md.
 */
#ifndef LNET_FRONTEND_H
#define LNET_FRONTEND_H

#include <stddef.h>

#include "ir.h"

/* Parses and lowers one .lnet source. Registers the text with d
 * (diag_add_source), so diagnostics print file:line:col + source line + caret;
 * the text is borrowed, the caller keeps it alive as long as d. Returns a
 * caller-owned graph (ir_graph_free) with every node shape-inferred and g->loss
 * set, or NULL when any error was reported during this call (several errors can
 * be reported per run). Never prints. */
IrGraph *fe_compile(const char *filename, const char *text, size_t len, Diag *d);

/* What a compilation keeps for later: the AST and the def table, so that a
 * def can be called on a value of a graph after lowering (the auxiliary
 * heads of `local { head = NAME }`, built by the aux-heads pass). */
typedef struct FeModel FeModel;

/* fe_compile that also keeps the model: returns a caller-owned FeModel
 * (fe_model_free) and sets *graph to the caller-owned graph (ir_graph_free);
 * the two are independent, and the model borrows text like d does. On any
 * error returns NULL with *graph NULL. */
FeModel *fe_model_new(const char *filename, const char *text, size_t len, Diag *d,
                      IrGraph **graph);
void fe_model_free(FeModel *m);

/* Calls the head def g->local.head on value `input` of g — any graph compiled
 * from this model or derived from it by passes (copies included): appends
 * the def's nodes to g with the locations of the def's body, parameters
 * named `head<block+1>.<builtin>_<i>.<part>` with the frontend's initializers,
 * and returns the head's output, which must have the type of the task loss's
 * logits (its first operand). Errors (unknown def, not exactly one parameter,
 * a shape error in the body, a wrong output type) go to d, which must know
 * the model's source (the Diag given to fe_model_new); returns NULL then. */
IrNode *fe_model_head(const FeModel *m, IrGraph *g, int input, int block, Diag *d);

/* Reads a whole file into a caller-owned, NUL-terminated heap buffer (free()).
 * On failure appends an error to d (no location) and returns NULL. */
char *fe_read_file(const char *path, size_t *len, Diag *d);

#endif
