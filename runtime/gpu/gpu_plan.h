/* gpu_plan.h — a block's training step as a list of GPU kernel launches.
 *
 * The code generator (codegen/gpu*.c) turns each IR node of a block's step
 * into one kernel and describes the step here as plain data: one buffer per
 * node (views share their source's), and the launches in node order, each
 * with its kernel's name, the buffers it reads and writes, how many threads
 * it wants for a batch of n and how its three float scalars follow from the
 * step's arguments. Two executors run the same plan: the CUDA one
 * (gpu_exec.c, over the driver in cuda.h) and the emulated device
 * (codegen/gpu_emu.c), which calls the host-compiled kernel bodies for every
 * thread index. No LLVM here: the runtime depends on ir/ only.
 *
 * Every kernel has one signature (PTX: an .entry with these parameters):
 *   void k(float *out, void *in0, ..., void *in4, int64_t n, float s0, float s1, float s2)
 * out and in<k> are node buffers (in<k> NULL past the node's operands), n the
 * batch, s the launch's scalars (gpu_launch_scalars). The host build of a
 * kernel takes two more int64_t arguments: the global thread index and the
 * number of threads, which the GPU build reads from its special registers.
 * Kernels have no barriers and no shared memory, so running the threads one
 * after another computes exactly what the GPU computes.
 */
#ifndef LNET_RT_GPU_PLAN_H
#define LNET_RT_GPU_PLAN_H

#include "interp.h"

#include <stdbool.h>
#include <stdint.h>

#define GPU_MAX_IN 5            /* operand buffers of a kernel */
#define GPU_KERNEL_NPARAMS (1 + GPU_MAX_IN + 4)
#define GPU_BLOCK_THREADS 256   /* threads per block of a parallel launch */
#define GPU_MAX_BLOCKS 4096     /* grid-stride loops cover the rest */

/* How a launch's scalars s0..s2 follow from the step's arguments. */
typedef enum {
    GPU_SC_NONE,    /* unused */
    GPU_SC_SGD,     /* s0 = lr */
    GPU_SC_ADAM,    /* s0 = lr / (1 - beta1^t), s1 = sqrt(1 - beta2^t), s2 = 1 - lr·wd
                       (in double, rounded once, as the reference computes them) */
} GpuScalars;

typedef struct GpuLaunch {
    char kernel[48];            /* the kernel's name in the module */
    int node;                   /* the IR node it computes */
    unsigned char phase;        /* its IrPhase */
    int buf[1 + GPU_MAX_IN];    /* node ids whose buffers are out, in0..in4 (-1: none) */
    int64_t work0, work_n;      /* threads wanted for a batch of n: */
    int64_t div, mul;           /* ceil((work0 + work_n·n) / div) · mul */
    bool serial;                /* one thread does it all (scalar reductions) */
    GpuScalars scalars;
    double beta1, beta2, wd;    /* GPU_SC_ADAM's hyper-parameters */
} GpuLaunch;

typedef struct GpuPlan {
    const IrGraph *g;           /* borrowed */
    int max_batch;
    int n_launches;
    GpuLaunch *launch;          /* in node order */
    int *src;                   /* per node: the node whose buffer it uses (views) */
    int64_t *bytes;             /* per node: its buffer's bytes at max_batch (0: a view) */
    char *ptx;                  /* the module as PTX text (NULL: not emitted) */
    char sm[16];                /* the PTX target, "sm_70" ... */
} GpuPlan;

/* Frees what the plan owns (launch, src, bytes, ptx) and zeroes it. */
void gpu_plan_fini(GpuPlan *p);

/* Grid and block sizes of launch l for a batch of n (one-dimensional). */
void gpu_launch_geometry(const GpuLaunch *l, int n, unsigned *grid, unsigned *block);

/* The scalars s0..s2 of launch l for the step a. */
void gpu_launch_scalars(const GpuLaunch *l, const RtStepArgs *a, float s[3]);

/* True when the launch belongs to a run of `forward_only` (evaluation). */
static inline bool gpu_launch_runs(const GpuLaunch *l, bool forward_only)
{
    return !forward_only || l->phase == IR_PHASE_FORWARD;
}

/* The CUDA executor ("cuda"): device `ordinal`, the plan's PTX loaded there,
 * one device buffer per node, host mirrors in pinned memory. Takes the plan
 * over (freed with the executor). NULL + err (the driver's message) on
 * failure, the plan then freed too. */
struct RtExec;
struct RtExec *gpu_exec_cuda_new(GpuPlan *plan, int ordinal, char *err, size_t errcap);

#endif
