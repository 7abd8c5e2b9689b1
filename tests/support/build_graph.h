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

/* Copies a fixture tensor into node id's interpreter buffer. The tensor must
 * fit the node's type exactly (dtype, rank, dims; the batch is the fixture's):
 * anything else aborts the test. */
void tb_load(RtInterp *in, const IrGraph *g, int id, const StFile *f, const char *name);
/* max |a-b| / max(1, max |b|) over n floats; INFINITY when either side holds a
 * NaN or an infinity, so a non-finite result never passes a tolerance (the
 * fixtures hold only finite values, so an identical non-finite pair is an
 * error too). */
double tb_max_err(const float *a, const float *b, int64_t n);
/* Compares node id's buffer with a fixture tensor that must fit the node as
 * for tb_load; returns the error (INFINITY for a NaN or infinity). */
double tb_compare(RtInterp *in, const IrGraph *g, int id, const StFile *f, const char *name);

#endif
