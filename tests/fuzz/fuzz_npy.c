/* fuzz_npy.c — libFuzzer harness for the .npy reader (runtime/data/npy.c).
 *
 * The input is one file, put in a memfd and opened by rt_npy_open, then
 * loaded by rt_npy_load as the examples (against its own shape) with itself
 * as the labels. Either fails with a message, or succeeds with a header that
 * describes exactly the bytes after it: data + count * itemsize is the end
 * of the mapping, every byte of which the harness reads (an over-read would
 * fault under ASan or past the mapping).
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fd = memfd_create("x.npy", 0);
    if (fd < 0)
        abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return 0;
}

static void check_open(void)
{
    RtNpy a;
    char err[512] = "";
    if (!rt_npy_open(path, &a, err, sizeof err)) {
        if (!err[0])
            abort();    /* a failure always says why */
        return;
    }
    const uint8_t *end = (const uint8_t *)a.map + a.map_len;
    if (a.rank < 0 || a.rank > RT_NPY_MAX_RANK ||
        a.data + a.count * rt_npy_type_size(a.type) != end)
        abort();
    volatile uint8_t sum = 0;
    for (const uint8_t *p = a.data; p < end; p++)
        sum += *p;
    int64_t dims[RT_NPY_MAX_RANK];
    int rank = a.rank > 0 ? a.rank - 1 : 0;
    memcpy(dims, a.shape + 1, (size_t)rank * sizeof *dims);
    rt_npy_close(&a);
    RtDataset ds;
    if (rt_npy_load(path, path, dims, rank, 0, 256, &ds, err, sizeof err)) {
        float *row = malloc(((size_t)ds.feat + 1) * sizeof *row);
        for (int64_t e = 0; row && e < ds.n; e++)
            rt_dataset_row(&ds, e, row);
        free(row);
        rt_dataset_fini(&ds);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    check_open();
    return 0;
}
