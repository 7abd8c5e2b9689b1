/* cuda.c — the CUDA driver API through dlopen (see cuda.h).
 *
 * The driver's types are declared here by their ABI, not by including CUDA's
 * headers: a CUresult is an int, a CUdevice an int, a CUdeviceptr a 64-bit
 * integer, and contexts, modules, functions, streams and events are opaque
 * pointers. Entry points are looked up by the names the driver exports for
 * this ABI (the `_v2` spellings where the driver has them); the set is loaded
 * once, under a pthread_once, and every entry must be found.
 */
#define _GNU_SOURCE
#include "cuda.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef uint64_t CUdeviceptr;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUstream;
typedef void *CUevent;

enum {
    CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
    CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    CU_JIT_ERROR_LOG_BUFFER = 5,
    CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
    CU_STREAM_NON_BLOCKING = 1,
    CU_EVENT_DISABLE_TIMING = 2,
};

/* The entry points: X(name-in-this-file, exported symbol, signature). */
#define GPU_DRIVER_ENTRIES(X)                                                         \
    X(Init, "cuInit", (unsigned))                                                     \
    X(GetErrorName, "cuGetErrorName", (CUresult, const char **))                      \
    X(GetErrorString, "cuGetErrorString", (CUresult, const char **))                  \
    X(DeviceGetCount, "cuDeviceGetCount", (int *))                                    \
    X(DeviceGet, "cuDeviceGet", (CUdevice *, int))                                    \
    X(DeviceGetName, "cuDeviceGetName", (char *, int, CUdevice))                      \
    X(DeviceGetAttribute, "cuDeviceGetAttribute", (int *, int, CUdevice))             \
    X(DeviceTotalMem, "cuDeviceTotalMem_v2", (size_t *, CUdevice))                    \
    X(PrimaryCtxRetain, "cuDevicePrimaryCtxRetain", (CUcontext *, CUdevice))          \
    X(PrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", (CUdevice))                  \
    X(CtxSetCurrent, "cuCtxSetCurrent", (CUcontext))                                  \
    X(ModuleLoadDataEx, "cuModuleLoadDataEx",                                         \
      (CUmodule *, const void *, unsigned, int *, void **))                           \
    X(ModuleUnload, "cuModuleUnload", (CUmodule))                                     \
    X(ModuleGetFunction, "cuModuleGetFunction", (CUfunction *, CUmodule, const char *)) \
    X(MemAlloc, "cuMemAlloc_v2", (CUdeviceptr *, size_t))                             \
    X(MemFree, "cuMemFree_v2", (CUdeviceptr))                                         \
    X(MemsetD8, "cuMemsetD8_v2", (CUdeviceptr, unsigned char, size_t))                \
    X(MemAllocHost, "cuMemAllocHost_v2", (void **, size_t))                           \
    X(MemFreeHost, "cuMemFreeHost", (void *))                                         \
    X(MemcpyHtoD, "cuMemcpyHtoD_v2", (CUdeviceptr, const void *, size_t))             \
    X(MemcpyDtoH, "cuMemcpyDtoH_v2", (void *, CUdeviceptr, size_t))                   \
    X(MemcpyDtoD, "cuMemcpyDtoD_v2", (CUdeviceptr, CUdeviceptr, size_t))              \
    X(MemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2",                                        \
      (CUdeviceptr, const void *, size_t, CUstream))                                  \
    X(MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", (void *, CUdeviceptr, size_t, CUstream)) \
    X(MemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2",                                        \
      (CUdeviceptr, CUdeviceptr, size_t, CUstream))                                   \
    X(StreamCreate, "cuStreamCreate", (CUstream *, unsigned))                         \
    X(StreamDestroy, "cuStreamDestroy_v2", (CUstream))                                \
    X(StreamSynchronize, "cuStreamSynchronize", (CUstream))                           \
    X(CtxSynchronize, "cuCtxSynchronize", (void))                                     \
    X(LaunchKernel, "cuLaunchKernel",                                                 \
      (CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,        \
       unsigned, CUstream, void **, void **))                                         \
    X(EventCreate, "cuEventCreate", (CUevent *, unsigned))                            \
    X(EventDestroy, "cuEventDestroy_v2", (CUevent))                                   \
    X(EventRecord, "cuEventRecord", (CUevent, CUstream))                              \
    X(StreamWaitEvent, "cuStreamWaitEvent", (CUstream, CUevent, unsigned))

static struct {
#define X(field, sym, args) CUresult (*field) args;
    GPU_DRIVER_ENTRIES(X)
#undef X
} cu;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static GpuErr load_err;  /* empty when the driver loaded */

static int fail(GpuErr *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A driver error as "what: CUDA_ERROR_NAME (the driver's sentence)". */
static int cu_fail(GpuErr *err, CUresult r, const char *what)
{
    const char *name = NULL, *text = NULL;
    if (cu.GetErrorName) cu.GetErrorName(r, &name);
    if (cu.GetErrorString) cu.GetErrorString(r, &text);
    return fail(err, "%s: %s (%s)", what, name ? name : "CUDA error",
                text ? text : "no description");
}

#define CU_CHECK(call, what)                        \
    do {                                            \
        CUresult r_ = (call);                       \
        if (r_ != 0) return cu_fail(err, r_, what); \
    } while (0)

/* LNET_CUDA_DRIVER names another library to open instead of libcuda.so.1:
 * a driver at a non-standard path, or the test suite's fake driver. */
static void load_driver(void)
{
    const char *path = getenv("LNET_CUDA_DRIVER");
    if (!path || !*path) path = "libcuda.so.1";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        fail(&load_err, "no CUDA driver (%s)", why ? why : path);
        return;
    }
#define X(field, sym, args)                                                           \
    if (!(*(void **)&cu.field = dlsym(lib, sym))) {                                   \
        fail(&load_err, "the CUDA driver %s has no %s: a driver older than CUDA 11?", \
             path, sym);                                                              \
        memset(&cu, 0, sizeof cu);                                                    \
        return;                                                                       \
    }
    GPU_DRIVER_ENTRIES(X)
#undef X
    CUresult r = cu.Init(0);
    if (r != 0) {
        cu_fail(&load_err, r, "cuInit");
        memset(&cu, 0, sizeof cu);
    }
}

int gpu_driver_load(GpuErr *err)
{
    pthread_once(&load_once, load_driver);
    if (load_err.msg[0]) {
        if (err) *err = load_err;
        return -1;
    }
    return 0;
}

int gpu_device_count(int *count, GpuErr *err)
{
    *count = 0;
    if (gpu_driver_load(err)) return -1;
    CU_CHECK(cu.DeviceGetCount(count), "cuDeviceGetCount");
    return 0;
}

int gpu_device_info(int ordinal, GpuDeviceInfo *info, GpuErr *err)
{
    int n;
    if (gpu_device_count(&n, err)) return -1;
    if (ordinal < 0 || ordinal >= n)
        return fail(err, "no GPU %d (this machine has %d)", ordinal, n);
    memset(info, 0, sizeof *info);
    CUdevice dev;
    CU_CHECK(cu.DeviceGet(&dev, ordinal), "cuDeviceGet");
    CU_CHECK(cu.DeviceGetName(info->name, (int)sizeof info->name - 1, dev),
             "cuDeviceGetName");
    info->ordinal = ordinal;
    CU_CHECK(cu.DeviceGetAttribute(&info->cc_major,
                                   CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev),
             "cuDeviceGetAttribute");
    CU_CHECK(cu.DeviceGetAttribute(&info->cc_minor,
                                   CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev),
             "cuDeviceGetAttribute");
    CU_CHECK(cu.DeviceGetAttribute(&info->multiprocessors,
                                   CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev),
             "cuDeviceGetAttribute");
    CU_CHECK(cu.DeviceGetAttribute(&info->max_threads_per_block,
                                   CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, dev),
             "cuDeviceGetAttribute");
    CU_CHECK(cu.DeviceTotalMem(&info->total_mem, dev), "cuDeviceTotalMem");
    return 0;
}

/* ------------------------------------------------------------ contexts */

/* The device's primary context: the one the CUDA runtime (and so PyTorch) in
 * the same process would use, retained for as long as the GpuCtx lives. */
struct GpuCtx {
    CUdevice dev;
    CUcontext ctx;
    GpuDeviceInfo info;
};

static int make_current(GpuCtx *c, GpuErr *err)
{
    CU_CHECK(cu.CtxSetCurrent(c->ctx), "cuCtxSetCurrent");
    return 0;
}

int gpu_ctx_open(int ordinal, GpuCtx **out, GpuErr *err)
{
    *out = NULL;
    GpuCtx *c = calloc(1, sizeof *c);
    if (!c) return fail(err, "out of memory");
    if (gpu_device_info(ordinal, &c->info, err)) {
        free(c);
        return -1;
    }
    CUresult r = cu.DeviceGet(&c->dev, ordinal);
    if (r == 0) r = cu.PrimaryCtxRetain(&c->ctx, c->dev);
    if (r != 0) {
        free(c);
        return cu_fail(err, r, "cuDevicePrimaryCtxRetain");
    }
    *out = c;
    return 0;
}

void gpu_ctx_close(GpuCtx *c)
{
    if (!c) return;
    cu.PrimaryCtxRelease(c->dev);
    free(c);
}

const GpuDeviceInfo *gpu_ctx_device(const GpuCtx *c) { return &c->info; }

/* ------------------------------------------------------------ modules */

int gpu_module_load(GpuCtx *c, const char *ptx, GpuModule **out, GpuErr *err)
{
    *out = NULL;
    if (make_current(c, err)) return -1;
    char log[4096] = "";
    int opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *vals[] = {log, (void *)(uintptr_t)sizeof log};
    CUmodule mod = NULL;
    CUresult r = cu.ModuleLoadDataEx(&mod, ptx, 2, opts, vals);
    if (r != 0) {
        cu_fail(err, r, "cuModuleLoadDataEx");
        if (log[0] && err) {  /* the assembler's first complaint says the most */
            char *nl = strchr(log, '\n');
            if (nl) *nl = 0;
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof err->msg - n, ": %s", log);
        }
        return -1;
    }
    *out = (GpuModule *)mod;
    return 0;
}

void gpu_module_unload(GpuCtx *c, GpuModule *mod)
{
    if (!mod || make_current(c, NULL)) return;
    cu.ModuleUnload((CUmodule)mod);
}

int gpu_module_function(GpuCtx *c, GpuModule *mod, const char *name, GpuFunc **out,
                        GpuErr *err)
{
    *out = NULL;
    if (make_current(c, err)) return -1;
    CUfunction f = NULL;
    CUresult r = cu.ModuleGetFunction(&f, (CUmodule)mod, name);
    if (r != 0) {
        char what[160];
        snprintf(what, sizeof what, "cuModuleGetFunction(%s)", name);
        return cu_fail(err, r, what);
    }
    *out = (GpuFunc *)f;
    return 0;
}

/* ------------------------------------------------------------ memory */

int gpu_alloc(GpuCtx *c, size_t bytes, uint64_t *dptr, GpuErr *err)
{
    *dptr = 0;
    if (make_current(c, err)) return -1;
    CUresult r = cu.MemAlloc(dptr, bytes ? bytes : 1);
    if (r != 0) {
        char what[96];
        snprintf(what, sizeof what, "cuMemAlloc of %zu bytes", bytes);
        return cu_fail(err, r, what);
    }
    return 0;
}

void gpu_free(GpuCtx *c, uint64_t dptr)
{
    if (!dptr || make_current(c, NULL)) return;
    cu.MemFree(dptr);
}

int gpu_memset0(GpuCtx *c, uint64_t dptr, size_t bytes, GpuErr *err)
{
    if (make_current(c, err)) return -1;
    CU_CHECK(cu.MemsetD8(dptr, 0, bytes), "cuMemsetD8");
    return 0;
}

int gpu_host_alloc(GpuCtx *c, size_t bytes, void **host, GpuErr *err)
{
    *host = NULL;
    if (make_current(c, err)) return -1;
    CU_CHECK(cu.MemAllocHost(host, bytes ? bytes : 1), "cuMemAllocHost");
    return 0;
}

void gpu_host_free(GpuCtx *c, void *host)
{
    if (!host || make_current(c, NULL)) return;
    cu.MemFreeHost(host);
}

/* ------------------------------------------------------------ streams */

int gpu_stream_create(GpuCtx *c, GpuStream **out, GpuErr *err)
{
    *out = NULL;
    if (make_current(c, err)) return -1;
    CUstream s = NULL;
    CU_CHECK(cu.StreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    *out = (GpuStream *)s;
    return 0;
}

void gpu_stream_destroy(GpuCtx *c, GpuStream *s)
{
    if (!s || make_current(c, NULL)) return;
    cu.StreamDestroy((CUstream)s);
}

int gpu_stream_sync(GpuCtx *c, GpuStream *s, GpuErr *err)
{
    if (make_current(c, err)) return -1;
    if (s)
        CU_CHECK(cu.StreamSynchronize((CUstream)s), "cuStreamSynchronize");
    else
        CU_CHECK(cu.CtxSynchronize(), "cuCtxSynchronize");
    return 0;
}

int gpu_copy_htod(GpuCtx *c, uint64_t dst, const void *src, size_t bytes, GpuStream *s,
                  GpuErr *err)
{
    if (make_current(c, err)) return -1;
    if (s)
        CU_CHECK(cu.MemcpyHtoDAsync(dst, src, bytes, (CUstream)s), "cuMemcpyHtoDAsync");
    else
        CU_CHECK(cu.MemcpyHtoD(dst, src, bytes), "cuMemcpyHtoD");
    return 0;
}

int gpu_copy_dtoh(GpuCtx *c, void *dst, uint64_t src, size_t bytes, GpuStream *s,
                  GpuErr *err)
{
    if (make_current(c, err)) return -1;
    if (s)
        CU_CHECK(cu.MemcpyDtoHAsync(dst, src, bytes, (CUstream)s), "cuMemcpyDtoHAsync");
    else
        CU_CHECK(cu.MemcpyDtoH(dst, src, bytes), "cuMemcpyDtoH");
    return 0;
}

int gpu_copy_dtod(GpuCtx *c, uint64_t dst, uint64_t src, size_t bytes, GpuStream *s,
                  GpuErr *err)
{
    if (make_current(c, err)) return -1;
    if (s)
        CU_CHECK(cu.MemcpyDtoDAsync(dst, src, bytes, (CUstream)s), "cuMemcpyDtoDAsync");
    else
        CU_CHECK(cu.MemcpyDtoD(dst, src, bytes), "cuMemcpyDtoD");
    return 0;
}

int gpu_launch(GpuCtx *c, GpuFunc *fn, const unsigned grid[3], const unsigned block[3],
               unsigned shared_bytes, GpuStream *s, void **args, GpuErr *err)
{
    if (make_current(c, err)) return -1;
    CU_CHECK(cu.LaunchKernel((CUfunction)fn, grid[0], grid[1], grid[2], block[0], block[1],
                             block[2], shared_bytes, (CUstream)s, args, NULL),
             "cuLaunchKernel");
    return 0;
}

/* ------------------------------------------------------------ events */

int gpu_event_create(GpuCtx *c, GpuEvent **out, GpuErr *err)
{
    *out = NULL;
    if (make_current(c, err)) return -1;
    CUevent e = NULL;
    CU_CHECK(cu.EventCreate(&e, CU_EVENT_DISABLE_TIMING), "cuEventCreate");
    *out = (GpuEvent *)e;
    return 0;
}

void gpu_event_destroy(GpuCtx *c, GpuEvent *e)
{
    if (!e || make_current(c, NULL)) return;
    cu.EventDestroy((CUevent)e);
}

int gpu_event_record(GpuCtx *c, GpuEvent *e, GpuStream *s, GpuErr *err)
{
    if (make_current(c, err)) return -1;
    CU_CHECK(cu.EventRecord((CUevent)e, (CUstream)s), "cuEventRecord");
    return 0;
}

int gpu_stream_wait(GpuCtx *c, GpuStream *s, GpuEvent *e, GpuErr *err)
{
    if (make_current(c, err)) return -1;
    CU_CHECK(cu.StreamWaitEvent((CUstream)s, (CUevent)e, 0), "cuStreamWaitEvent");
    return 0;
}
