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

/* Reads a whole file into a caller-owned, NUL-terminated heap buffer (free()).
 * On failure appends an error to d (no location) and returns NULL. */
char *fe_read_file(const char *path, size_t *len, Diag *d);

#endif
