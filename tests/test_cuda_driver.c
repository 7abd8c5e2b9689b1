/* The CUDA driver wrapper (runtime/gpu/cuda.c) against a machine without a
 * driver and against tests/fake_cuda.c, a host-memory stand-in loaded through
 * LNET_CUDA_DRIVER. Criterion runs each test in its own process, so each one
 * loads the driver afresh. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cuda.h"

static void use_fake(void) { setenv("LNET_CUDA_DRIVER", FAKE_CUDA_PATH, 1); }

Test(cuda_driver, missing_driver_is_a_clear_error)
{
    setenv("LNET_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);
    GpuErr err = {{0}};
    int n = 7;
    cr_assert_eq(gpu_device_count(&n, &err), -1);
    cr_assert_eq(n, 0);
    cr_assert(strstr(err.msg, "no CUDA driver") && strstr(err.msg, "/nonexistent"),
              "%s", err.msg);
    GpuCtx *ctx = (GpuCtx *)1;
    cr_assert_eq(gpu_ctx_open(0, &ctx, &err), -1);
    cr_assert_null(ctx);
}

Test(cuda_driver, a_library_without_the_entries_is_refused)
{
    setenv("LNET_CUDA_DRIVER", "libz.so.1", 1);
    GpuErr err = {{0}};
    cr_assert_eq(gpu_driver_load(&err), -1);
    cr_assert(strstr(err.msg, "has no cuInit"), "%s", err.msg);
}

Test(cuda_driver, devices_and_their_properties)
{
    use_fake();
    setenv("FAKE_CUDA_DEVICES", "2", 1);
    GpuErr err = {{0}};
    int n = 0;
    cr_assert_eq(gpu_device_count(&n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
    GpuDeviceInfo info;
    cr_assert_eq(gpu_device_info(1, &info, &err), 0, "%s", err.msg);
    cr_assert_str_eq(info.name, "lnet fake GPU 1");
    cr_assert_eq(info.cc_major, 9);
    cr_assert_eq(info.cc_minor, 0);
    cr_assert_eq(info.multiprocessors, 132);
    cr_assert_eq(info.max_threads_per_block, 1024);
    cr_assert_eq(info.total_mem, (size_t)1 << 30);
    cr_assert_eq(gpu_device_info(2, &info, &err), -1);
    cr_assert(strstr(err.msg, "no GPU 2 (this machine has 2)"), "%s", err.msg);
}

Test(cuda_driver, memory_round_trips_and_a_kernel_runs)
{
    use_fake();
    GpuErr err = {{0}};
    GpuCtx *ctx;
    cr_assert_eq(gpu_ctx_open(0, &ctx, &err), 0, "%s", err.msg);
    cr_assert_str_eq(gpu_ctx_device(ctx)->name, "lnet fake GPU 0");

    enum { N = 100 };
    float host[N], back[N];
    for (int i = 0; i < N; i++) host[i] = (float)i;
    uint64_t d, d2;
    cr_assert_eq(gpu_alloc(ctx, sizeof host, &d, &err), 0, "%s", err.msg);
    cr_assert_eq(gpu_alloc(ctx, sizeof host, &d2, &err), 0, "%s", err.msg);
    cr_assert_eq(gpu_copy_htod(ctx, d, host, sizeof host, NULL, &err), 0, "%s", err.msg);

    GpuModule *mod;
    GpuFunc *fn;
    const char *ptx = ".version 7.0\n.target sm_70\n.visible .entry fake_axpb(\n)\n{ ret; }\n";
    cr_assert_eq(gpu_module_load(ctx, ptx, &mod, &err), 0, "%s", err.msg);
    cr_assert_eq(gpu_module_function(ctx, mod, "fake_axpb", &fn, &err), 0, "%s", err.msg);
    unsigned n = 90;  /* the last ten stay as they are */
    float a = 2.0f, b = 1.0f;
    void *args[] = {&d, &n, &a, &b};
    unsigned grid[3] = {2, 1, 1}, block[3] = {64, 1, 1};
    cr_assert_eq(gpu_launch(ctx, fn, grid, block, 0, NULL, args, &err), 0, "%s", err.msg);

    GpuStream *s;
    GpuEvent *e;
    cr_assert_eq(gpu_stream_create(ctx, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(gpu_event_create(ctx, &e, &err), 0, "%s", err.msg);
    cr_assert_eq(gpu_copy_dtod(ctx, d2, d, sizeof host, s, &err), 0, "%s", err.msg);
    cr_assert_eq(gpu_event_record(ctx, e, s, &err), 0, "%s", err.msg);
    cr_assert_eq(gpu_stream_wait(ctx, s, e, &err), 0, "%s", err.msg);
    float *pinned;
    cr_assert_eq(gpu_host_alloc(ctx, sizeof host, (void **)&pinned, &err), 0, "%s", err.msg);
    cr_assert_eq(gpu_copy_dtoh(ctx, pinned, d2, sizeof host, s, &err), 0, "%s", err.msg);
    cr_assert_eq(gpu_stream_sync(ctx, s, &err), 0, "%s", err.msg);
    for (int i = 0; i < N; i++)
        cr_assert_eq(pinned[i], i < 90 ? 2.0f * (float)i + 1.0f : (float)i, "x[%d] = %g", i,
                     (double)pinned[i]);

    cr_assert_eq(gpu_memset0(ctx, d, sizeof host, &err), 0, "%s", err.msg);
    cr_assert_eq(gpu_copy_dtoh(ctx, back, d, sizeof back, NULL, &err), 0, "%s", err.msg);
    for (int i = 0; i < N; i++) cr_assert_eq(back[i], 0.0f);
    cr_assert_eq(gpu_stream_sync(ctx, NULL, &err), 0, "%s", err.msg);

    gpu_host_free(ctx, pinned);
    gpu_event_destroy(ctx, e);
    gpu_stream_destroy(ctx, s);
    gpu_module_unload(ctx, mod);
    gpu_free(ctx, d);
    gpu_free(ctx, d2);
    gpu_ctx_close(ctx);
}

Test(cuda_driver, driver_errors_carry_the_name_and_the_log)
{
    use_fake();
    GpuErr err = {{0}};
    GpuCtx *ctx;
    cr_assert_eq(gpu_ctx_open(0, &ctx, &err), 0, "%s", err.msg);
    GpuModule *mod = (GpuModule *)1;
    cr_assert_eq(gpu_module_load(ctx, ".version 7.0\n", &mod, &err), -1);
    cr_assert_null(mod);
    cr_assert_str_eq(err.msg, "cuModuleLoadDataEx: CUDA_ERROR_INVALID_PTX (a PTX JIT "
                              "compilation failed): ptxas fatal   : no .entry in module");
    cr_assert_eq(gpu_module_load(ctx, ".entry k(\n)", &mod, &err), 0, "%s", err.msg);
    GpuFunc *fn;
    cr_assert_eq(gpu_module_function(ctx, mod, "missing", &fn, &err), -1);
    cr_assert_str_eq(err.msg, "cuModuleGetFunction(missing): CUDA_ERROR_NOT_FOUND (named "
                              "symbol not found)");
    gpu_module_unload(ctx, mod);
    gpu_ctx_close(ctx);
    cr_assert_eq(gpu_ctx_open(3, &ctx, &err), -1);
    cr_assert(strstr(err.msg, "no GPU 3 (this machine has 1)"), "%s", err.msg);
}
