/* fake_cuda.c — a stand-in for libcuda.so.1 that runs on the host, so the
 * driver wrapper (runtime/gpu/cuda.c) is tested on machines without a GPU.
 *
 * Device memory is host memory, copies are memcpy, and a "module" is kept
 * PTX text: it loads when the text has an `.entry`, and its functions are
 * the names after `.entry`. One kernel really runs: `fake_axpb`, which sets
 * x[i] = a * x[i] + b for i < n over the launch's grid × block threads
 * (parameters x: device pointer, n: u32, a and b: f32), so a launch's
 * argument passing and geometry are checked end to end. FAKE_CUDA_DEVICES
 * sets the number of devices (default 1).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
enum { OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, INVALID_DEVICE = 101,
       INVALID_PTX = 218, NOT_FOUND = 500 };

int fake_cuda_launches;  /* visible to a test that dlopens this library */

CUresult cuInit(unsigned flags) { return flags ? INVALID_VALUE : OK; }

CUresult cuGetErrorName(CUresult r, const char **s)
{
    switch (r) {
    case OK: *s = "CUDA_SUCCESS"; return OK;
    case INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; return OK;
    case OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; return OK;
    case INVALID_DEVICE: *s = "CUDA_ERROR_INVALID_DEVICE"; return OK;
    case INVALID_PTX: *s = "CUDA_ERROR_INVALID_PTX"; return OK;
    case NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; return OK;
    }
    *s = NULL;
    return INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult r, const char **s)
{
    switch (r) {
    case INVALID_PTX: *s = "a PTX JIT compilation failed"; return OK;
    case NOT_FOUND: *s = "named symbol not found"; return OK;
    case OUT_OF_MEMORY: *s = "out of memory"; return OK;
    }
    *s = "fake driver error";
    return OK;
}

static int ndevices(void)
{
    const char *s = getenv("FAKE_CUDA_DEVICES");
    return s ? atoi(s) : 1;
}

CUresult cuDeviceGetCount(int *n) { *n = ndevices(); return OK; }
CUresult cuDeviceGet(int *dev, int ordinal)
{
    if (ordinal < 0 || ordinal >= ndevices()) return INVALID_DEVICE;
    *dev = ordinal;
    return OK;
}
CUresult cuDeviceGetName(char *name, int len, int dev)
{
    snprintf(name, (size_t)len, "lnet fake GPU %d", dev);
    return OK;
}
CUresult cuDeviceGetAttribute(int *v, int attr, int dev)
{
    (void)dev;
    switch (attr) {
    case 1: *v = 1024; return OK;   /* max threads per block */
    case 16: *v = 132; return OK;   /* multiprocessors */
    case 75: *v = 9; return OK;     /* compute capability */
    case 76: *v = 0; return OK;
    }
    return INVALID_VALUE;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int dev) { (void)dev; *bytes = (size_t)1 << 30; return OK; }

static int contexts[16];
static int current = -1;
CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev) { contexts[dev]++; *ctx = &contexts[dev]; return OK; }
CUresult cuDevicePrimaryCtxRelease_v2(int dev) { return contexts[dev]-- > 0 ? OK : INVALID_VALUE; }
CUresult cuCtxSetCurrent(void *ctx) { current = (int)((int *)ctx - contexts); return OK; }
CUresult cuCtxSynchronize(void) { return current >= 0 ? OK : INVALID_VALUE; }

CUresult cuModuleLoadDataEx(void **mod, const void *image, unsigned nopt, int *opt, void **val)
{
    const char *ptx = image;
    if (!strstr(ptx, ".entry")) {
        for (unsigned i = 0; i < nopt; i++)
            if (opt[i] == 5) snprintf(val[i], 64, "ptxas fatal   : no .entry in module\nmore");
        return INVALID_PTX;
    }
    *mod = strdup(ptx);
    return OK;
}
CUresult cuModuleUnload(void *mod) { free(mod); return OK; }
CUresult cuModuleGetFunction(void **fn, void *mod, const char *name)
{
    char want[256];
    snprintf(want, sizeof want, ".entry %s(", name);
    if (!strstr(mod, want)) return NOT_FOUND;
    *fn = strcmp(name, "fake_axpb") == 0 ? (void *)1 : (void *)2;
    return OK;
}

CUresult cuMemAlloc_v2(uint64_t *p, size_t n)
{
    void *m = malloc(n);
    if (!m) return OUT_OF_MEMORY;
    *p = (uint64_t)(uintptr_t)m;
    return OK;
}
CUresult cuMemFree_v2(uint64_t p) { free((void *)(uintptr_t)p); return OK; }
CUresult cuMemsetD8_v2(uint64_t p, unsigned char v, size_t n) { memset((void *)(uintptr_t)p, v, n); return OK; }
CUresult cuMemAllocHost_v2(void **p, size_t n) { *p = malloc(n); return *p ? OK : OUT_OF_MEMORY; }
CUresult cuMemFreeHost(void *p) { free(p); return OK; }
CUresult cuMemcpyHtoD_v2(uint64_t d, const void *s, size_t n) { memcpy((void *)(uintptr_t)d, s, n); return OK; }
CUresult cuMemcpyDtoH_v2(void *d, uint64_t s, size_t n) { memcpy(d, (void *)(uintptr_t)s, n); return OK; }
CUresult cuMemcpyDtoD_v2(uint64_t d, uint64_t s, size_t n) { memcpy((void *)(uintptr_t)d, (void *)(uintptr_t)s, n); return OK; }
CUresult cuMemcpyHtoDAsync_v2(uint64_t d, const void *s, size_t n, void *st) { return st ? cuMemcpyHtoD_v2(d, s, n) : INVALID_VALUE; }
CUresult cuMemcpyDtoHAsync_v2(void *d, uint64_t s, size_t n, void *st) { return st ? cuMemcpyDtoH_v2(d, s, n) : INVALID_VALUE; }
CUresult cuMemcpyDtoDAsync_v2(uint64_t d, uint64_t s, size_t n, void *st) { return st ? cuMemcpyDtoD_v2(d, s, n) : INVALID_VALUE; }

static int streams;
CUresult cuStreamCreate(void **s, unsigned flags) { *s = &streams; streams++; return flags == 1 ? OK : INVALID_VALUE; }
CUresult cuStreamDestroy_v2(void *s) { (void)s; streams--; return OK; }
CUresult cuStreamSynchronize(void *s) { return s ? OK : INVALID_VALUE; }

CUresult cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                        unsigned by, unsigned bz, unsigned shared, void *stream, void **args,
                        void **extra)
{
    (void)stream; (void)shared;
    if (extra || !args) return INVALID_VALUE;
    fake_cuda_launches++;
    if (fn != (void *)1) return OK;
    float *x = (float *)(uintptr_t)*(uint64_t *)args[0];
    unsigned n = *(unsigned *)args[1];
    float a = *(float *)args[2], b = *(float *)args[3];
    unsigned threads = gx * gy * gz * bx * by * bz;
    for (unsigned i = 0; i < threads && i < n; i++) x[i] = a * x[i] + b;
    return OK;
}

static int events;
CUresult cuEventCreate(void **e, unsigned flags) { *e = &events; return flags == 2 ? OK : INVALID_VALUE; }
CUresult cuEventDestroy_v2(void *e) { (void)e; return OK; }
CUresult cuEventRecord(void *e, void *s) { (void)s; return e ? OK : INVALID_VALUE; }
CUresult cuStreamWaitEvent(void *s, void *e, unsigned flags) { return s && e && !flags ? OK : INVALID_VALUE; }
