/* cg_layout.h — the part of the code generator that needs no LLVM: where each
 * node's buffer lives, how much scratch the kernels share, and the executor
 * that runs a graph's two entry functions over those buffers. The lowering
 * (lower*.c) and the JIT (cg_exec.c) use it, and so does an AOT trainer,
 * which links these files (library lnet_cgexec) but not LLVM.
 */
#ifndef LNET_CG_LAYOUT_H
#define LNET_CG_LAYOUT_H

#include "codegen.h"

/* The geometry of a conv2d node or one of its gradients. */
typedef struct CgConvGeo {
    int64_t C, H, W;        /* input channels, height, width */
    int64_t O, K, S, P;     /* output channels, kernel size, stride, padding */
    int64_t OH, OW;         /* output height, width */
} CgConvGeo;
CgConvGeo cg_conv_geo(const IrGraph *g, const IrNode *n);
/* Whether the conv kernels run as K·K shifted products over a zero-padded
 * copy of each image (stride 1, K > 1, at least 16 channels in and out)
 * rather than through an im2col matrix (codegen/lower_dense.c). */
bool cg_conv_shifted(const CgConvGeo *c);
/* Whether they run as Winograd F(2×2, 3×3) products (codegen/lower_wino.c):
 * 3×3, stride 1, padding 1, even height and width, at least 16 channels in
 * and out; and how many images one chunk of its products covers. */
bool cg_conv_winograd(const CgConvGeo *c);
int64_t cg_conv_wino_chunk(const CgConvGeo *c);
/* Floats of scratch a conv kernel needs (its largest path's). */
int64_t cg_conv_scratch_floats(const CgConvGeo *c);

/* An executor over entries step/forward (both non-NULL) with fresh buffers
 * for g at max_batch. `code` (may be NULL) is the backend the entries live
 * in; the executor owns it and frees it with release(code). Named "jit"
 * when it owns code, "aot" otherwise. NULL + err on failure (code is then
 * released too). */
RtExec *cg_exec_make(const IrGraph *g, int max_batch, CgStepFn step, CgStepFn forward,
                     CgBackend *code, void (*release)(CgBackend *), char *err, size_t errcap);

/* Gives an executor of cg_exec_make its phase entries, so it can run the
 * baseline schedules (RtExecOps backward/update); the JIT always does. */
void cg_exec_set_phases(RtExec *e, CgStepFn backward, CgStepFn update);

#endif /* LNET_CG_LAYOUT_H */
