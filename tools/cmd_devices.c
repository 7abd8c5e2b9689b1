/* cmd_devices.c — `lnet devices` (what a run could place blocks on) and the
 * `--devices LIST` placement of `lnet train` (devices.h).
 *
 * Without a CUDA driver `lnet devices` still lists the CPU and the emulated
 * device and says why there is no GPU, with exit status 0: a machine without
 * a GPU is a normal answer, not an error. `--devices gpu0` there is an
 * error (exit 1) before anything is compiled.
 */
#include "codegen.h"
#include "cuda.h"
#include "devices.h"
#include "gpu.h"
#include "passes.h"

#include <stdlib.h>
#include <string.h>

static const CliOpt devices_opts[] = {{NULL, NULL, NULL}};
static const CliCmd devices_cmd = {
    "devices", "",
    "List the devices lnet train --devices can place blocks on: cpu, the CUDA GPUs\n"
    "(gpu0, gpu1, ...) and emu, the emulated GPU (a test device).",
    devices_opts,
    "Without a CUDA driver (libcuda.so.1) the GPUs are left out with the reason, and\n"
    "the exit status is still 0.\n"};

static void gib(double bytes, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.1f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
}

int cmd_devices(int argc, char **argv)
{
    CliArgs a;
    bool help;
    if (!cli_parse(&devices_cmd, argc, argv, &a, &help))
        return EXIT_USER;
    if (help) {
        cli_print_help(&devices_cmd, stdout);
        return EXIT_OK;
    }
    printf("cpu    %d cores (JIT-compiled steps)\n", rt_available_cores());
    GpuErr err;
    int count = 0;
    if (gpu_driver_load(&err) != 0 || gpu_device_count(&count, &err) != 0) {
        printf("gpu    none: %s\n", err.msg);
    } else if (count == 0) {
        printf("gpu    none: the CUDA driver sees no device\n");
    }
    for (int i = 0; i < count; i++) {
        GpuDeviceInfo info;
        if (gpu_device_info(i, &info, &err) != 0) {
            printf("gpu%-3d %s\n", i, err.msg);
            continue;
        }
        char mem[32];
        gib((double)info.total_mem, mem, sizeof mem);
        printf("gpu%-3d %s, compute capability %d.%d, %d multiprocessors, %s%s\n", i, info.name,
               info.cc_major, info.cc_minor, info.multiprocessors, mem,
               info.cc_major < 7 ? " (unsupported: lnet needs 7.0 or later)" : "");
    }
    printf("emu    the emulated GPU: the GPU kernels run on the CPU (a test device, slow)\n");
    return EXIT_OK;
}

/* ------------------------------------------------------------ --devices */

static bool parse_one(const char *s, size_t len, CliDevKind *kind, int *ordinal)
{
    if (len == 3 && strncmp(s, "cpu", 3) == 0) {
        *kind = DEV_CPU;
        return true;
    }
    if (len == 3 && strncmp(s, "emu", 3) == 0) {
        *kind = DEV_EMU;
        return true;
    }
    if (len < 4 || len > 6 || strncmp(s, "gpu", 3) != 0)
        return false;
    int v = 0;
    for (size_t i = 3; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *kind = DEV_GPU;
    *ordinal = v;
    return true;
}

static bool check_gpus(const char *cmd, const CliDevices *dv)
{
    GpuErr err;
    int count = 0;
    for (int i = 0; i < dv->n; i++) {
        if (dv->kind[i] != DEV_GPU)
            continue;
        if (gpu_driver_load(&err) != 0 || gpu_device_count(&count, &err) != 0) {
            fprintf(stderr, "lnet %s: error: --devices %s: %s\n", cmd, dv->spec, err.msg);
            return false;
        }
        if (dv->ordinal[i] >= count) {
            fprintf(stderr, "lnet %s: error: --devices %s: no device gpu%d (the CUDA driver "
                    "sees %d; see lnet devices)\n", cmd, dv->spec, dv->ordinal[i], count);
            return false;
        }
    }
    return true;
}

bool cli_devices_parse(const char *cmd, const char *list, bool check, CliDevices *dv)
{
    memset(dv, 0, sizeof *dv);
    dv->spec = list;
    const char *s = list;
    for (;;) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (dv->n == CLI_MAX_BLOCKS) {
            fprintf(stderr, "lnet %s: error: --devices %s: more than %d devices\n", cmd, list,
                    CLI_MAX_BLOCKS);
            return false;
        }
        if (!parse_one(s, len, &dv->kind[dv->n], &dv->ordinal[dv->n])) {
            fprintf(stderr, "lnet %s: error: --devices %s: unknown device '%.*s' (expected cpu, "
                    "gpuN or emu, comma-separated: one per block, or one for all)\n", cmd, list,
                    (int)len, s);
            return false;
        }
        dv->n++;
        if (!end)
            break;
        s = end + 1;
    }
    return !check || check_gpus(cmd, dv);
}

/* The block whose step graph g is; -1 for another graph (gradient
 * similarity's backprop reference runs on the CPU). */
static int graph_block(const CliDevices *dv, const IrGraph *g)
{
    for (int k = 0; dv->tm && k < dv->tm->n_blocks; k++)
        if (dv->tm->blocks[k] == g)
            return k;
    return -1;
}

RtExec *cli_devices_factory(const IrGraph *g, int max_batch, void *ctx, char *err,
                            size_t errcap)
{
    const CliDevices *dv = ctx;
    int k = graph_block(dv, g), K = dv->tm ? dv->tm->n_blocks : 1;
    if (dv->n > 1 && dv->n != K) {
        snprintf(err, errcap, "--devices %s: %d devices for %d block%s (give one device per "
                 "block, or one for all)", dv->spec, dv->n, K, K == 1 ? "" : "s");
        return NULL;
    }
    int i = dv->n > 1 ? k : 0;
    RtExec *e;
    char name[16] = "cpu";
    if (k < 0 || dv->kind[i] == DEV_CPU) {
        e = dv->cpu_make ? dv->cpu_make(g, max_batch, dv->cpu_ctx, err, errcap)
                         : rt_exec_interp_new(g, max_batch, err, errcap);
    } else if (dv->kind[i] == DEV_EMU) {
        snprintf(name, sizeof name, "emu");
        e = gpu_exec_emu_new(g, max_batch, err, errcap);
    } else {
        snprintf(name, sizeof name, "gpu%d", dv->ordinal[i]);
        e = gpu_exec_cuda_make(g, max_batch, dv->ordinal[i], err, errcap);
    }
    if (!e) {   /* the trainer prefixes "lnet train: error: " */
        char why[512];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errcap, "--devices %s: block %d on %s: %s", dv->spec, ir_block_no(k),
                 name, why);
        return NULL;
    }
    if (!dv->quiet && k >= 0)
        printf("block %d on %s (%s executor)\n", ir_block_no(k), name, e->ops->name);
    return e;
}

/* Bytes of g's inputs and labels for a batch: what the first block reads. */
static double data_bytes(const IrGraph *g, int batch)
{
    double b = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == IR_OP_INPUT || g->nodes[i]->op == IR_OP_LABEL)
            b += (double)ir_value_bytes(g, i, batch);
    return b;
}

bool cli_devices_fit(const char *cmd, const CliDevices *dv, int K)
{
    if (dv->n == 1 || dv->n == K)
        return true;
    fprintf(stderr, "lnet %s: error: --devices %s: %d devices for %d block%s (give one device "
            "per block, or one for all)\n", cmd, dv->spec, dv->n, K, K == 1 ? "" : "s");
    return false;
}

void cli_devices_print_cost(const CliDevices *dv, const IrGraph *g, const PassCost *c,
                            FILE *out)
{
    fprintf(out, "\ndevices (--devices %s): bytes each step copies between host and device, "
            "batch %d\n", dv->spec, c->batch);
    fprintf(out, "%5s %8s %16s %16s\n", "block", "device", "host->dev MB", "dev->host MB");
    double in_total = 0, out_total = 0;
    for (int b = 0; b < c->n; b++) {
        int i = dv->n > 1 ? b : 0;
        char name[16] = "cpu";
        double in = 0, sent = 0;
        if (dv->kind[i] != DEV_CPU) {
            if (dv->kind[i] == DEV_EMU)
                snprintf(name, sizeof name, "emu");
            else
                snprintf(name, sizeof name, "gpu%d", dv->ordinal[i]);
            in = b == 0 ? data_bytes(g, c->batch) : c->b[b - 1].send_bytes;
            sent = c->b[b].send_bytes;
        }
        in_total += in, out_total += sent;
        fprintf(out, "%5d %8s %16.3f %16.3f\n", ir_block_no(b), name, in / 1e6, sent / 1e6);
    }
    fprintf(out, "%5s %8s %16.3f %16.3f\n", "total", "", in_total / 1e6, out_total / 1e6);
    fprintf(out, "(a GPU block's losses, 8 bytes each, come back too; parameters and optimizer "
            "state stay on the device)\n");
}
