/* gpu_cuda.c — a block's CUDA executor: the driver opened, the device's
 * compute capability checked, the plan and its PTX built, and both handed to
 * runtime/gpu/gpu_exec.c.
 *
 * The PTX targets GPU_DEFAULT_SM (sm_70) unless LNET_GPU_SM names another
 * target LLVM knows: PTX is forward compatible, so the driver compiles sm_70
 * code for any newer device (Volta and later), and a device older than 7.0
 * is refused here rather than at load time.
 */
#include <stdlib.h>

#include "cuda.h"
#include "exec.h"
#include "gpu_impl.h"

RtExec *gpu_exec_cuda_make(const IrGraph *g, int max_batch, int ordinal, char *err,
                           size_t errcap)
{
    GpuErr ge;
    GpuDeviceInfo info;
    int count = 0;
    if (gpu_driver_load(&ge) != 0 || gpu_device_count(&count, &ge) != 0) {
        snprintf(err, errcap, "%s", ge.msg);
        return NULL;
    }
    if (ordinal < 0 || ordinal >= count) {
        snprintf(err, errcap, "gpu%d: no such device (%d CUDA device%s)", ordinal, count,
                 count == 1 ? "" : "s");
        return NULL;
    }
    if (gpu_device_info(ordinal, &info, &ge) != 0) {
        snprintf(err, errcap, "gpu%d: %s", ordinal, ge.msg);
        return NULL;
    }
    if (info.cc_major < 7) {
        snprintf(err, errcap, "gpu%d (%s): compute capability %d.%d; lnet's PTX needs 7.0 or "
                 "later", ordinal, info.name, info.cc_major, info.cc_minor);
        return NULL;
    }
    const char *sm = getenv("LNET_GPU_SM");
    Diag d;
    diag_init(&d);
    GpuPlan plan;
    double t0 = cg_now_ms();
    if (!gpu_plan_build(g, max_batch, sm && *sm ? sm : GPU_DEFAULT_SM, &plan, &d)) {
        snprintf(err, errcap, "%s", d.n_msgs ? d.msgs[0].text : "PTX generation failed");
        diag_fini(&d);
        return NULL;
    }
    diag_fini(&d);
    RtExec *e = gpu_exec_cuda_new(&plan, ordinal, err, errcap);
    if (e)
        e->compile_ms = cg_now_ms() - t0;
    return e;
}
