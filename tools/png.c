/* png.c — a minimal PNG writer: 8-bit RGB, no interlace, filter 0 on every
 * row. A PNG is the 8-byte signature, then chunks (length, type, data, CRC of
 * type + data, big-endian): IHDR (size and pixel format), one IDAT (the
 * zlib stream of the rows, each prefixed with its filter byte) and IEND.
 * zlib gives both the compression and the CRC. `lnet plot filters` writes its
 * images here so that every pixel is exactly the one it computed.
 */
#include "plot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* One chunk: length, type, data, CRC-32 of type and data. */
static bool put_chunk(FILE *f, const char type[4], const uint8_t *data, size_t n)
{
    uint8_t head[8], tail[4];
    put32(head, (uint32_t)n);
    memcpy(head + 4, type, 4);
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    if (n)
        crc = crc32(crc, data, (uInt)n);
    put32(tail, (uint32_t)crc);
    return fwrite(head, 1, 8, f) == 8 && (n == 0 || fwrite(data, 1, n, f) == n) &&
           fwrite(tail, 1, 4, f) == 4;
}

/* The rows with a filter byte (0: none) before each, deflated into *out. */
static bool deflate_rows(int w, int h, const uint8_t *rgb, uint8_t **out, uLongf *n)
{
    size_t row = (size_t)w * 3, raw_n = (row + 1) * (size_t)h;
    uint8_t *raw = malloc(raw_n);
    *n = compressBound((uLong)raw_n);
    *out = malloc(*n);
    bool ok = raw && *out;
    for (int y = 0; ok && y < h; y++) {
        raw[(row + 1) * (size_t)y] = 0;
        memcpy(raw + (row + 1) * (size_t)y + 1, rgb + row * (size_t)y, row);
    }
    ok = ok && compress2(*out, n, raw, (uLong)raw_n, Z_BEST_COMPRESSION) == Z_OK;
    free(raw);
    return ok;
}

bool png_write_rgb(const char *path, int w, int h, const uint8_t *rgb, char *err,
                   size_t errcap)
{
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13] = {0};
    put32(ihdr, (uint32_t)w);
    put32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;    /* bits per sample */
    ihdr[9] = 2;    /* colour type: RGB; compression, filter, interlace: 0 */
    uint8_t *idat = NULL;
    uLongf n = 0;
    if (!deflate_rows(w, h, rgb, &idat, &n)) {
        free(idat);
        snprintf(err, errcap, "cannot write '%s': out of memory", path);
        return false;
    }
    errno = 0;
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(signature, 1, 8, f) == 8 && put_chunk(f, "IHDR", ihdr, 13) &&
              put_chunk(f, "IDAT", idat, n) && put_chunk(f, "IEND", NULL, 0);
    ok = f && fclose(f) == 0 && ok;
    free(idat);
    if (!ok)
        snprintf(err, errcap, "cannot write '%s': %s", path, strerror(errno ? errno : EIO));
    return ok;
}
