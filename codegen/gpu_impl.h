/* gpu_impl.h — internals of the GPU kernel generator (codegen/gpu*.c).
 *
 * A kernel body is emitted against a Gk: the lowering's Lw (node, operand
 * pointers, batch, and the helpers of lower_impl.h), the launch's three
 * scalars and the index source — the global thread index and the number
 * of threads — which gpu_lower.c fills from the PTX special registers or
 * from the host kernel's last two arguments.
 */
#ifndef LNET_GPU_IMPL_H
#define LNET_GPU_IMPL_H

#include "gpu.h"
#include "lower_impl.h"

typedef struct Gk {
    Lw w;                       /* m, g, n, out, in[0..GPU_MAX_IN), N, t_f64 */
    LLVMValueRef s[3];          /* f32 scalars (gpu_launch_scalars) */
    LLVMValueRef tid, nthreads; /* i64 index source */
} Gk;

/* How an op's kernel is parallelized (gpu_kernels.c). */
typedef enum {
    GK_NONE,        /* no kernel on the GPU (unsupported) */
    GK_SKIP,        /* no kernel at all: sources and views */
    GK_ELEM,        /* one thread per output element (grid-stride) */
    GK_PARAM,       /* one thread per element of operand 0 (updates) */
    GK_ROW,         /* one thread per row of operand x (last dim) */
    GK_CHAN,        /* one thread per output element, a reduction each */
    GK_TILE,        /* matrix products: one thread per 4×4 tile of the output */
    GK_SERIAL,      /* one thread in all */
    GK_CONV,        /* CNN ops: one thread per output element, gathering (gpu_conv.c) */
    GK_GATHER,      /* moves: one thread per output element (gpu_gather.c) */
} GkKind;

GkKind gk_kind(IrOp op);

/* The threads a launch of node n wants, as gpu_launch_geometry counts them:
 * ceil((work0 + work_n·n) / div) · mul. */
void gk_work(const IrGraph *g, const IrNode *n, int64_t *work0, int64_t *work_n, int64_t *div,
             int64_t *mul);

/* Emits the body of k->w.n's kernel (gk_kind(op) is neither NONE nor SKIP). */
void gk_emit_body(Gk *k);

/* gpu_conv.c: output element i of k->w.n (a GK_CONV op). */
void gk_emit_conv(Gk *k, LLVMValueRef i);

/* gpu_gather.c: output element i of k->w.n (a GK_GATHER op). */
void gk_emit_gather(Gk *k, LLVMValueRef i);

/* gpu_lower.c: g's kernels compiled for the host by a new JIT (returned,
 * the caller closes it); fn[i] is the kernel of p's launch i. NULL + Diag. */
CgBackend *gpu_host_kernels(const IrGraph *g, const GpuPlan *p, CgFn *fn, Diag *d);

#endif
