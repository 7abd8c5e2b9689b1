/* gpu.h — a block's training step as GPU kernels (codegen/gpu*.c).
 *
 * Every node of a differentiated block graph that computes something becomes
 * one kernel (runtime/gpu/gpu_plan.h gives the signature and the plan that
 * launches them). Each kernel body is written once, against an *index
 * source* — the global thread index and the number of threads — and emitted
 * for two targets:
 *
 *   PTX   nvptx64-nvidia-cuda: the index from the special registers
 *         (ctaid·ntid + tid), the function an `.entry`; the text is what the
 *         CUDA driver loads (runtime/gpu/gpu_exec.c).
 *   host  the CPU: the index is two more arguments, and the emulated device
 *         (gpu_emu.c) calls the kernel for every thread of the launch.
 *
 * Kernels are barrier-free: elementwise ops as grid-stride loops, per-row and
 * per-column reductions with one thread per output, scalar losses on one
 * thread, matrix products register-tiled (each thread a 4×4 tile of C read
 * from global memory). So the emulation computes exactly what the GPU does,
 * and the CPU machines test every kernel. No LLVM type appears here.
 */
#ifndef LNET_CG_GPU_H
#define LNET_CG_GPU_H

#include "codegen.h"
#include "gpu_plan.h"

/* The PTX target when the device does not say (`lnet ir --emit ptx`, tests). */
#define GPU_DEFAULT_SM "sm_70"

/* Checks that every node of g has a GPU kernel: false + Diag error
 * "op 'X' (%id, block k) has no GPU kernel" otherwise. */
bool gpu_graph_supported(const IrGraph *g, Diag *d);

/* Builds g's plan for max_batch (buffers, launches) into p; with sm non-NULL
 * it also emits the PTX for that target (p->ptx). g is borrowed and must
 * outlive the plan. False + Diag error (an unsupported op, an LLVM error). */
bool gpu_plan_build(const IrGraph *g, int max_batch, const char *sm, GpuPlan *p, Diag *d);

/* The PTX of g's kernels for target sm (NULL: GPU_DEFAULT_SM), malloc'd;
 * NULL + Diag error. */
char *gpu_emit_ptx(const IrGraph *g, const char *sm, Diag *d);

/* The verified, unoptimized LLVM IR of g's kernels for target (PTX when
 * ptx, else the host), malloc'd text; NULL + Diag error. For tests. */
char *gpu_emit_llvm(const IrGraph *g, bool ptx, Diag *d);

/* The emulated device ("emu"): the plan's kernels compiled for the host by
 * the JIT and launched thread by thread over host buffers. A test device:
 * exact, and slow. NULL + err on failure. g is borrowed. */
RtExec *gpu_exec_emu_new(const IrGraph *g, int max_batch, char *err, size_t errcap);

/* The CUDA executor for g on device `ordinal`: the plan built for the
 * device's compute capability and handed to gpu_exec_cuda_new. NULL + err
 * (no driver, no such device, an unsupported op, a driver error). */
RtExec *gpu_exec_cuda_make(const IrGraph *g, int max_batch, int ordinal, char *err,
                           size_t errcap);

#endif
