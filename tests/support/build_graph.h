/* build_graph.h — test helpers that build IR graphs by hand (no frontend), so
 * the passes and the interpreter can be tested against the PyTorch fixtures
 * with exactly the fixtures' parameter layout. */
#ifndef LNET_TEST_BUILD_GRAPH_H
#define LNET_TEST_BUILD_GRAPH_H

#include "ir.h"
#include "interp.h"
#include "safetensors.h"

/* A source node: input (batched), label (batched i32) or param (unbatched). */
int tb_input(IrGraph *g, const char *name, int rank, const int64_t *dims);
int tb_label(IrGraph *g, const char *name, int classes, int rank, const int64_t *dims);
int tb_param(IrGraph *g, const char *name, int rank, const int64_t *dims);
/* An op node with attributes (may be NULL); aborts the test on a shape error. */
int tb_op(IrGraph *g, IrOp op, const int *in, int n_in, const IrAttrs *a);
int tb_op1(IrGraph *g, IrOp op, int a);
int tb_op2(IrGraph *g, IrOp op, int a, int b);
/* dense: matmul + bias_add over the last dim. */
int tb_dense(IrGraph *g, int x, int w, int b);

/* Every message of d as diag_print writes it (caller frees). */
char *tb_diag_text(const Diag *d);

/* Runs a pipeline ("autodiff" or "autodiff,optimizer"); aborts on error. */
void tb_passes(IrGraph *g, const char *pipeline);

/* Copies a fixture tensor into node id's interpreter buffer (n examples). */
void tb_load(RtInterp *in, const IrGraph *g, int id, const StFile *f, const char *name);
/* Largest |a-b| / (1e-6 + |b|)-style error: max |a-b| / max(1, max|b|). */
double tb_max_err(const float *a, const float *b, int64_t n);
/* Compares node id's buffer with a fixture tensor; returns the error. */
double tb_compare(RtInterp *in, const IrGraph *g, int id, const StFile *f, const char *name);

#endif
