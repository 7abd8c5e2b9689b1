/* exec_compare.h — one executor's values against the reference interpreter's,
 * for the tests that check generated kernels node by node (test_codegen_ops:
 * the JIT; test_gpu: the emulated GPU). */
#ifndef LNET_TESTS_EXEC_COMPARE_H
#define LNET_TESTS_EXEC_COMPARE_H

#include <stdbool.h>
#include <stdint.h>

#include "exec.h"
#include "ir.h"

/* A value in [-1, 1) from a linear congruential state. */
float tc_frand(unsigned *s);

/* The same values into both executors' sources (inputs, labels, parameters,
 * state) for batch n: labels in [0, classes), the nodes positive[id] marks in
 * [0.5, 1.5) (divisors, variances), the rest in [-1, 1). */
void tc_fill(RtExec *a, RtExec *b, const IrGraph *g, int n, unsigned seed, const bool *positive);

/* max |got - want| / max(1, max |want|) over L floats; infinite when NaNs
 * disagree. */
double tc_err_of(const float *got, const float *want, int64_t L);

/* That error for node id at batch n (a cross_entropy's two floats). */
double tc_node_err(RtExec *got, RtExec *ref, const IrGraph *g, int id, int n);

/* Forward ops (not emitted by autodiff or the optimizer). */
bool tc_is_forward(const IrNode *n);

#endif
