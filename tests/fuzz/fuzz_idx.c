/* fuzz_idx.c — libFuzzer harness for the IDX image and label reader, raw and
 * gzip.
 *
 * Input layout (tests/fuzz/seeds.c writes seeds in it):
 *   byte 0    how each file is stored: bits 0-1 the images, bits 2-3 the labels
 *             (0: the bytes as given, which may be gzip; 1: gzip-compressed by
 *             the harness; 2: compressed, then one bit flipped; 3: compressed,
 *             then truncated), bits 4-7 the example limit (0: all)
 *   byte 1    n_classes (0: the reader's default, 10)
 *   byte 2-3  length of the images part (little-endian); the labels are the rest
 *   byte 4    where the corruption of modes 2 and 3 lands
 * Both files go to memfds and are read by rt_idx_load_files. It must fail
 * with a message or succeed with exactly what the files hold: n = min(count,
 * limit), pixel / 255 and labels below n_classes, equal to the plain IDX
 * bytes (a corrupted gzip file must not load different data silently).
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "data.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { AS_GIVEN, GZIP, GZIP_FLIP, GZIP_CUT };

typedef struct File {
    int fd;
    char path[64];
    const uint8_t *plain;   /* the IDX bytes the file decodes to, NULL if unknown */
    size_t n_plain;
} File;

static File images, labels;

static void open_file(File *f, const char *name)
{
    f->fd = memfd_create(name, 0);
    if (f->fd < 0)
        abort();
    snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    open_file(&images, "images-idx3-ubyte");
    open_file(&labels, "labels-idx1-ubyte");
    return 0;
}

/* gzip of src, in a heap buffer of *n bytes. */
static uint8_t *gzip(const uint8_t *src, size_t len, size_t *n)
{
    z_stream z = {0};
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&z, len);
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (!out || deflate(&z, Z_FINISH) != Z_STREAM_END)
        abort();
    *n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* Writes part to f stored as `mode`; at picks the corrupted byte. */
static void store(File *f, const uint8_t *part, size_t len, int mode, uint8_t at)
{
    bool gz = len >= 2 && part[0] == 0x1f && part[1] == 0x8b;
    f->plain = mode == AS_GIVEN && gz ? NULL : part;
    f->n_plain = len;
    size_t n = len;
    uint8_t *z = mode == AS_GIVEN ? NULL : gzip(part, len, &n);
    if (mode == GZIP_FLIP)
        z[(size_t)at * 7919 % n] ^= (uint8_t)(1u << (at % 8));
    if (mode == GZIP_CUT)
        n -= 1 + (size_t)at % n;
    const uint8_t *bytes = z ? z : part;
    if (ftruncate(f->fd, 0) != 0 || pwrite(f->fd, bytes, n, 0) != (ssize_t)n)
        abort();
    free(z);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A loaded set holds exactly what the plain files say. */
static void check(const RtDataset *ds, int64_t limit, int n_classes)
{
    if (ds->n_classes != (n_classes > 0 ? n_classes : 10) || ds->n < 0 ||
        ds->feat != (int64_t)ds->rows * ds->cols || ds->feat <= 0)
        abort();
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->y[i] < 0 || ds->y[i] >= ds->n_classes)
            abort();
    for (int64_t i = 0; i < ds->n * ds->feat; i++)
        if (!(ds->x[i] >= 0 && ds->x[i] <= 1))
            abort();
    if (images.plain) {
        const uint8_t *p = images.plain;
        if (images.n_plain < 16 || be32(p) != 0x803 || be32(p + 8) != (uint32_t)ds->rows ||
            be32(p + 12) != (uint32_t)ds->cols ||
            ds->n != (limit > 0 && limit < be32(p + 4) ? limit : be32(p + 4)) ||
            images.n_plain < 16 + (size_t)(ds->n * ds->feat))
            abort();
        for (int64_t i = 0; i < ds->n * ds->feat; i++)
            if (ds->x[i] != (float)p[16 + i] / 255.0f)
                abort();
    }
    if (labels.plain) {
        const uint8_t *p = labels.plain;
        if (labels.n_plain < 8 + (size_t)ds->n || be32(p) != 0x801)
            abort();
        for (int64_t i = 0; i < ds->n; i++)
            if (ds->y[i] != p[8 + i])
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    size_t n_img = (size_t)data[2] | (size_t)data[3] << 8;
    if (n_img > size - 5)
        n_img = size - 5;
    const uint8_t *img = data + 5, *lab = img + n_img;
    store(&images, img, n_img, data[0] & 3, data[4]);
    store(&labels, lab, size - 5 - n_img, data[0] >> 2 & 3, (uint8_t)(data[4] + 101));
    int64_t limit = data[0] >> 4;
    int n_classes = data[1];
    RtDataset ds;
    char err[512] = "";
    bool ok = rt_idx_load_files(images.path, labels.path, limit, n_classes, &ds, err,
                                sizeof err);
    if (!ok && (err[0] == '\0' || ds.x || ds.y || ds.n))
        abort();
    if (ok)
        check(&ds, limit, n_classes);
    rt_dataset_fini(&ds);
    return 0;
}
