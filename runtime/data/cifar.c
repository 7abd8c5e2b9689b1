/* cifar.c — the binary version of CIFAR-10 and CIFAR-100.
 * CIFAR-10: data_batch_1.bin … data_batch_5.bin (training, in that order)
 * and test_batch.bin, records of 1 label byte + 3072 pixel bytes.
 * CIFAR-100: train.bin and test.bin, records of a coarse and a fine label
 * byte + 3072 pixel bytes (the fine label, of 100 classes, is kept).
 * The pixels are three 32x32 planes, red, green, blue: the example [3,32,32]
 * as the model reads it. They stay bytes (a raw u8 set, 3 KiB per example)
 * and become floats when a batch is filled. */
#include "rt_impl.h"
#include "data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CIFAR_PIXELS 3072
#define CIFAR_MAX_FILES 5

/* The files of a split, in order; returns how many. */
static int cifar_files(const char *dir, bool c100, RtSplit split, char (*path)[4096])
{
    if (c100 || split == RT_SPLIT_TEST) {
        snprintf(path[0], sizeof path[0], "%s/%s", dir,
                 split == RT_SPLIT_TEST ? (c100 ? "test.bin" : "test_batch.bin") : "train.bin");
        return 1;
    }
    for (int i = 0; i < CIFAR_MAX_FILES; i++)
        snprintf(path[i], sizeof path[i], "%s/data_batch_%d.bin", dir, i + 1);
    return CIFAR_MAX_FILES;
}

static bool read_all(int fd, uint8_t *buf, size_t n, const char *path, char *err, size_t cap)
{
    while (n > 0) {
        ssize_t r = read(fd, buf, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return rt_fail_path(err, cap, path, "read error: %s", strerror(errno));
        if (r == 0)
            return rt_fail_path(err, cap, path, "shrank while it was read");
        buf += r;
        n -= (size_t)r;
    }
    return true;
}

/* Appends the records of one file (all of them, or up to `room`) to out. */
static bool cifar_file(const char *path, int lab_bytes, int64_t room, RtDataset *out,
                       uint8_t **pix, char *err, size_t cap)
{
    size_t rec = (size_t)lab_bytes + CIFAR_PIXELS;
    int64_t size = 0;
    int fd = rt_input_open(path, &size, err, cap);
    if (fd < 0)
        return false;
    bool ok = true;
    if (size == 0 || size % (int64_t)rec != 0)
        ok = rt_fail_path(err, cap, path, "holds %lld bytes, not a whole number of %zu-byte "
                          "records (%d label byte%s + 3072 pixels)", (long long)size, rec,
                          lab_bytes, lab_bytes > 1 ? "s" : "");
    int64_t k = ok ? size / (int64_t)rec : 0;
    if (room >= 0 && k > room)
        k = room;
    uint8_t *buf = ok ? malloc(rec) : NULL;
    uint8_t *np = ok ? realloc(*pix, (size_t)(out->n + k) * CIFAR_PIXELS + 1) : NULL;
    int32_t *ny = ok ? realloc(out->y, (size_t)(out->n + k) * sizeof *ny + 1) : NULL;
    if (np)
        *pix = np;
    if (ny)
        out->y = ny;
    if (ok && (!buf || !np || !ny))
        ok = rt_fail_path(err, cap, path, "out of memory for %lld images",
                          (long long)(out->n + k));
    for (int64_t i = 0; ok && i < k; i++) {
        ok = read_all(fd, buf, rec, path, err, cap);
        uint8_t label = ok ? buf[lab_bytes - 1] : 0;
        if (ok && label >= out->n_classes)
            ok = rt_fail_path(err, cap, path, "label %u of record %lld is out of range [0, %d)",
                              label, (long long)i, out->n_classes);
        if (ok) {
            out->y[out->n] = label;
            memcpy(*pix + (size_t)out->n++ * CIFAR_PIXELS, buf + lab_bytes, CIFAR_PIXELS);
        }
    }
    free(buf);
    close(fd);
    return ok;
}

bool rt_cifar_load(const char *dir, bool cifar100, RtSplit split, int64_t limit, RtDataset *out,
                   char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    char path[CIFAR_MAX_FILES][4096];
    int nf = cifar_files(dir, cifar100, split, path);
    uint8_t *pix = NULL;
    out->n_classes = cifar100 ? 100 : 10;
    bool ok = true;
    for (int i = 0; ok && i < nf && (limit <= 0 || out->n < limit); i++)
        ok = cifar_file(path[i], cifar100 ? 2 : 1, limit > 0 ? limit - out->n : -1, out, &pix,
                        err, errcap);
    out->own = pix;
    out->raw = pix;
    out->raw_type = RT_NPY_U8;
    out->norm = (RtNorm){0, 1};
    out->feat = CIFAR_PIXELS;
    out->rows = out->cols = 32;
    if (!ok)
        rt_dataset_fini(out);
    return ok;
}
