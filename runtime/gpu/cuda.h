/* cuda.h — the CUDA driver API, loaded at run time.
 *
 * lnet never links against CUDA: the driver (libcuda.so.1, installed with the
 * NVIDIA kernel driver) is opened with dlopen the first time a GPU is asked
 * for, so one lnet binary builds and runs on machines without a GPU and uses
 * one where there is. Only the driver API is used (no runtime API, no
 * toolkit): modules are loaded from PTX text, which the driver assembles for
 * the device it finds.
 *
 * Every call returns 0 on success and -1 on failure, with a one-line message
 * (the driver's own error name and string where it gave one) in `err`.
 * Device pointers are CUdeviceptr values carried as uint64_t.
 */
#ifndef LNET_RUNTIME_GPU_CUDA_H
#define LNET_RUNTIME_GPU_CUDA_H

#include <stddef.h>
#include <stdint.h>

typedef struct GpuErr { char msg[256]; } GpuErr;

/* The driver: loaded once per process (thread-safe), cuInit(0) called. Fails
 * with "no CUDA driver (libcuda.so.1: ...)" where there is none. */
int gpu_driver_load(GpuErr *err);
/* Number of devices (0 where the driver loads but sees none). */
int gpu_device_count(int *count, GpuErr *err);

typedef struct GpuDeviceInfo {
    char name[128];
    int ordinal;
    int cc_major, cc_minor;        /* compute capability: PTX target sm_<major><minor> */
    int multiprocessors;
    int max_threads_per_block;
    size_t total_mem;
} GpuDeviceInfo;
int gpu_device_info(int ordinal, GpuDeviceInfo *info, GpuErr *err);

/* One context on one device, made current on the calling thread by every call
 * that takes it (so any thread may use it, one at a time). */
typedef struct GpuCtx GpuCtx;
int gpu_ctx_open(int ordinal, GpuCtx **out, GpuErr *err);
void gpu_ctx_close(GpuCtx *ctx);
const GpuDeviceInfo *gpu_ctx_device(const GpuCtx *ctx);

/* Modules from NUL-terminated PTX; on a failed load, err holds the driver's
 * JIT error log (first line). */
typedef struct GpuModule GpuModule;
typedef struct GpuFunc GpuFunc;     /* opaque CUfunction */
int gpu_module_load(GpuCtx *ctx, const char *ptx, GpuModule **out, GpuErr *err);
void gpu_module_unload(GpuCtx *ctx, GpuModule *mod);
int gpu_module_function(GpuCtx *ctx, GpuModule *mod, const char *name, GpuFunc **out,
                        GpuErr *err);

/* Memory. */
int gpu_alloc(GpuCtx *ctx, size_t bytes, uint64_t *dptr, GpuErr *err);
void gpu_free(GpuCtx *ctx, uint64_t dptr);
int gpu_memset0(GpuCtx *ctx, uint64_t dptr, size_t bytes, GpuErr *err);
int gpu_host_alloc(GpuCtx *ctx, size_t bytes, void **host, GpuErr *err);   /* pinned */
void gpu_host_free(GpuCtx *ctx, void *host);

/* Streams; stream NULL is the context's default stream. */
typedef struct GpuStream GpuStream;  /* opaque CUstream */
int gpu_stream_create(GpuCtx *ctx, GpuStream **out, GpuErr *err);
void gpu_stream_destroy(GpuCtx *ctx, GpuStream *s);
int gpu_stream_sync(GpuCtx *ctx, GpuStream *s, GpuErr *err);

/* Copies: synchronous when s is NULL, else queued on s (the host side must
 * then be pinned memory and stay valid until the stream is synchronized). */
int gpu_copy_htod(GpuCtx *ctx, uint64_t dst, const void *src, size_t bytes, GpuStream *s,
                  GpuErr *err);
int gpu_copy_dtoh(GpuCtx *ctx, void *dst, uint64_t src, size_t bytes, GpuStream *s,
                  GpuErr *err);
int gpu_copy_dtod(GpuCtx *ctx, uint64_t dst, uint64_t src, size_t bytes, GpuStream *s,
                  GpuErr *err);

/* A kernel launch: args[i] points at the i-th kernel parameter's value, as
 * cuLaunchKernel takes them. */
int gpu_launch(GpuCtx *ctx, GpuFunc *fn, const unsigned grid[3], const unsigned block[3],
               unsigned shared_bytes, GpuStream *s, void **args, GpuErr *err);

/* Events, to order one stream after another without a host wait. */
typedef struct GpuEvent GpuEvent;
int gpu_event_create(GpuCtx *ctx, GpuEvent **out, GpuErr *err);
void gpu_event_destroy(GpuCtx *ctx, GpuEvent *e);
int gpu_event_record(GpuCtx *ctx, GpuEvent *e, GpuStream *s, GpuErr *err);
int gpu_stream_wait(GpuCtx *ctx, GpuStream *s, GpuEvent *e, GpuErr *err);

#endif
