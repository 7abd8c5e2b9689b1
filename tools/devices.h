/* devices.h — where a run's blocks execute (`lnet train --devices LIST`,
 * `lnet devices`; docs/devices.md).
 *
 * LIST names one device per block, or one for every block:
 *   cpu     the JIT-compiled step on the CPU cores (the default)
 *   gpuN    CUDA device N: the block's GPU kernels (codegen/gpu.h)
 *   emu     the emulated GPU: the same kernels run on the CPU, thread by
 *           thread — a test device (exact and slow)
 * The executor of each block is chosen by the factory below, so the trainer
 * and its schedules run a GPU block as any other: its step is its plan run
 * on its device, activations in from the previous block and out to the next.
 */
#ifndef LNET_TOOLS_DEVICES_H
#define LNET_TOOLS_DEVICES_H

#include "cli.h"
#include "train.h"

typedef enum { DEV_CPU, DEV_EMU, DEV_GPU } CliDevKind;

typedef struct CliDevices {
    const char *spec;                   /* the LIST as given (messages) */
    int n;
    CliDevKind kind[CLI_MAX_BLOCKS];
    int ordinal[CLI_MAX_BLOCKS];        /* DEV_GPU */
    RtExecFactory cpu_make;             /* cpu blocks: --exec's factory (NULL: interp) */
    void *cpu_ctx;
    bool quiet;                         /* no "block k on DEV" lines */
    const CliTrainModel *tm;            /* the blocks being trained (set by
                                           cli_train_run) */
} CliDevices;

/* Parses LIST into dv and, with check, that every gpuN exists (the driver
 * loads, N < the device count); false with the message printed as
 * "lnet CMD: error: --devices LIST: ...". */
bool cli_devices_parse(const char *cmd, const char *list, bool check, CliDevices *dv);

/* False, with the message printed, unless dv has one device or K. */
bool cli_devices_fit(const char *cmd, const CliDevices *dv, int K);

/* `lnet cost --devices LIST`: each block's device and the bytes its step
 * copies between host and device (a GPU block: its inputs in — the batch,
 * or what the previous block sends — and what it sends out; a CPU block
 * none). c is g's cost (pass_cost); dv fits its blocks (cli_devices_fit). */
struct PassCost;
void cli_devices_print_cost(const CliDevices *dv, const IrGraph *g, const struct PassCost *c,
                            FILE *out);

/* An RtExecFactory (ctx: CliDevices *): the executor of the block graph g on
 * its device. */
RtExec *cli_devices_factory(const IrGraph *g, int max_batch, void *ctx, char *err,
                            size_t errcap);

#endif
