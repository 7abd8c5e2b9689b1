/* gpu_plan.c — what a launch of a GPU plan needs at run time: its geometry
 * for this batch and its scalars for this step (gpu_plan.h). Shared by the
 * CUDA executor and the emulated device, so both launch the same threads
 * with the same arguments.
 */
#include "gpu_plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void gpu_plan_fini(GpuPlan *p)
{
    free(p->launch);
    free(p->src);
    free(p->bytes);
    free(p->ptx);
    memset(p, 0, sizeof *p);
}

void gpu_launch_geometry(const GpuLaunch *l, int n, unsigned *grid, unsigned *block)
{
    if (l->serial) {
        *grid = *block = 1;
        return;
    }
    int64_t work = (l->work0 + l->work_n * n + l->div - 1) / l->div * l->mul;
    int64_t blocks = (work + GPU_BLOCK_THREADS - 1) / GPU_BLOCK_THREADS;
    *block = GPU_BLOCK_THREADS;
    *grid = (unsigned)(blocks < 1 ? 1 : blocks > GPU_MAX_BLOCKS ? GPU_MAX_BLOCKS : blocks);
}

void gpu_launch_scalars(const GpuLaunch *l, const RtStepArgs *a, float s[3])
{
    s[0] = s[1] = s[2] = 0.0f;
    switch (l->scalars) {
    case GPU_SC_NONE:
        return;
    case GPU_SC_SGD:
        s[0] = a->lr;
        return;
    case GPU_SC_ADAM: {
        double lr = a->lr, t = (double)a->step;
        double c1 = 1.0 - pow(l->beta1, t), c2 = 1.0 - pow(l->beta2, t);
        s[0] = (float)(lr / c1);
        s[1] = (float)sqrt(c2);
        s[2] = (float)(1.0 - lr * l->wd);
        return;
    }
    }
}
