/* npy.c — NumPy .npy arrays: reading them memory-mapped, writing them.
 *
 * A .npy file is the magic "\x93NUMPY", a version byte pair (1.0, 2.0 or
 * 3.0), the header's length (u16 little-endian in 1.0, u32 in 2.0 / 3.0), an
 * ASCII header — a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (100, 3, 32, 32), }
 * padded with spaces and ended by '\n' — and then the array's bytes.
 * The header is parsed by a small bounded reader (never past header_len,
 * which is itself capped at RT_NPY_MAX_HEADER); the data must be exactly
 * prod(shape) * itemsize bytes. Only C order and little-endian (or one-byte)
 * types are read. The file is mapped read-only, so an array larger than
 * memory is paged in as the batches touch it.
 */
#include "rt_impl.h"
#include "data.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"

static const struct {
    const char *descr[3]; /* the spellings numpy writes (and '=' for native) */
    RtNpyType type;
    int size;
} TYPES[] = {
    {{"<f4", "=f4", NULL}, RT_NPY_F32, 4}, {{"<f8", "=f8", NULL}, RT_NPY_F64, 8},
    {{"|u1", "<u1", "u1"}, RT_NPY_U8, 1},  {{"<i4", "=i4", NULL}, RT_NPY_I32, 4},
    {{"<i8", "=i8", NULL}, RT_NPY_I64, 8},
};

const char *rt_npy_type_name(RtNpyType t)
{
    static const char *const names[] = {"float32", "float64", "uint8", "int32", "int64"};
    return t >= 0 && t <= RT_NPY_I64 ? names[t] : "?";
}

int rt_npy_type_size(RtNpyType t)
{
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (TYPES[i].type == t)
            return TYPES[i].size;
    return 0;
}

/* ---- the header dict ---- */

typedef struct Hdr {
    const char *s, *end; /* the unread header text */
} Hdr;

static void skip_space(Hdr *h)
{
    while (h->s < h->end && (*h->s == ' ' || *h->s == '\t' || *h->s == '\n'))
        h->s++;
}

static bool eat(Hdr *h, char c)
{
    skip_space(h);
    if (h->s < h->end && *h->s == c) {
        h->s++;
        return true;
    }
    return false;
}

/* A quoted string ('...' or "...") of at most cap - 1 bytes into out. */
static bool quoted(Hdr *h, char *out, size_t cap)
{
    skip_space(h);
    if (h->s >= h->end || (*h->s != '\'' && *h->s != '"'))
        return false;
    char q = *h->s++;
    size_t n = 0;
    while (h->s < h->end && *h->s != q) {
        if (n + 1 >= cap)
            return false;
        out[n++] = *h->s++;
    }
    out[n] = 0;
    return h->s++ < h->end;
}

/* A tuple of non-negative integers: (), (5,), (5, 3). */
static bool tuple(Hdr *h, RtNpy *a)
{
    if (!eat(h, '('))
        return false;
    a->rank = 0;
    for (;;) {
        if (eat(h, ')'))
            return true;
        if (a->rank == RT_NPY_MAX_RANK || h->s >= h->end || *h->s < '0' || *h->s > '9')
            return false;
        int64_t v = 0;
        while (h->s < h->end && *h->s >= '0' && *h->s <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return false;
            v = v * 10 + (*h->s++ - '0');
        }
        a->shape[a->rank++] = v;
        if (!eat(h, ',') && !(skip_space(h), h->s < h->end && *h->s == ')'))
            return false;
    }
}

static bool descr(RtNpy *a, const char *d, char *err, size_t cap)
{
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        for (int k = 0; k < 3; k++)
            if (TYPES[i].descr[k] && strcmp(TYPES[i].descr[k], d) == 0) {
                a->type = TYPES[i].type;
                return true;
            }
    if (d[0] == '>')
        return rt_fail_path(err, cap, a->path, "dtype '%s' is big-endian: save the array as "
                            "little-endian ('<%s')", d, d + 1);
    return rt_fail_path(err, cap, a->path, "dtype '%s' is not supported (float32 '<f4', "
                        "float64 '<f8', uint8 '|u1', int32 '<i4' or int64 '<i8')", d);
}

/* {'descr': ..., 'fortran_order': ..., 'shape': (...), } — every key once. */
static bool parse_header(RtNpy *a, const char *text, size_t len, char *err, size_t cap)
{
    Hdr h = {text, text + len};
    bool have[3] = {false, false, false}, fortran = false;
    char key[32], val[32];
    if (!eat(&h, '{'))
        return rt_fail_path(err, cap, a->path, "malformed header: expected a '{'");
    while (!eat(&h, '}')) {
        if (!quoted(&h, key, sizeof key) || !eat(&h, ':'))
            return rt_fail_path(err, cap, a->path, "malformed header near offset %zu",
                                (size_t)(h.s - text));
        int k = strcmp(key, "descr") == 0 ? 0 : strcmp(key, "fortran_order") == 0 ? 1
                : strcmp(key, "shape") == 0 ? 2 : -1;
        if (k < 0 || have[k])
            return rt_fail_path(err, cap, a->path, "malformed header: %s key '%s'",
                                k < 0 ? "unknown" : "repeated", key);
        have[k] = true;
        skip_space(&h);
        bool ok = true;
        if (k == 0 && quoted(&h, val, sizeof val))
            ok = descr(a, val, err, cap);
        else if (k == 1 && (size_t)(h.end - h.s) >= 4 && memcmp(h.s, "True", 4) == 0)
            fortran = true, h.s += 4;
        else if (k == 1 && (size_t)(h.end - h.s) >= 5 && memcmp(h.s, "False", 5) == 0)
            h.s += 5;
        else if (k == 2)
            ok = tuple(&h, a) || rt_fail_path(err, cap, a->path, "malformed header: bad shape");
        else
            ok = rt_fail_path(err, cap, a->path, "malformed header: bad value of '%s'", key);
        if (!ok)
            return false;
        if (!eat(&h, ',') && !(skip_space(&h), h.s < h.end && *h.s == '}'))
            return rt_fail_path(err, cap, a->path, "malformed header near offset %zu",
                                (size_t)(h.s - text));
    }
    if (!have[0] || !have[1] || !have[2])
        return rt_fail_path(err, cap, a->path, "malformed header: no '%s' key",
                            !have[0] ? "descr" : !have[1] ? "fortran_order" : "shape");
    if (fortran)
        return rt_fail_path(err, cap, a->path, "is in Fortran order: save it in C order "
                            "(numpy.ascontiguousarray)");
    return true;
}

/* "(10, 3)" as Python writes the shape. */
void rt_npy_shape_str(const int64_t *shape, int rank, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "%s)", rank == 1 ? "," : "");
}

/* The fixed part: magic, version, header length; *off gets the data offset. */
static bool preamble(RtNpy *a, const uint8_t *p, int64_t size, size_t *hlen, size_t *off,
                     char *err, size_t cap)
{
    if (size < 10 || memcmp(p, NPY_MAGIC, 6) != 0)
        return rt_fail_path(err, cap, a->path, "not a .npy file (no \\x93NUMPY magic)");
    if (p[6] < 1 || p[6] > 3)
        return rt_fail_path(err, cap, a->path, ".npy version %d.%d is not supported (1.0, 2.0 "
                            "or 3.0)", p[6], p[7]);
    size_t pre = p[6] == 1 ? 10 : 12;
    if (size < (int64_t)pre)
        return rt_fail_path(err, cap, a->path, "truncated in the header");
    *hlen = p[6] == 1 ? (size_t)(p[8] | p[9] << 8)
                      : (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 |
                            (size_t)p[11] << 24;
    if (*hlen > RT_NPY_MAX_HEADER)
        return rt_fail_path(err, cap, a->path, "header of %zu bytes is too long (at most %d)",
                            *hlen, RT_NPY_MAX_HEADER);
    if ((int64_t)(pre + *hlen) > size)
        return rt_fail_path(err, cap, a->path, "truncated: the header needs %zu bytes, the "
                            "file has %lld", pre + *hlen, (long long)size);
    *off = pre;
    return true;
}

/* prod(shape) * itemsize must be exactly the bytes after the header. */
static bool check_size(RtNpy *a, int64_t data_bytes, char *err, size_t cap)
{
    int64_t n = 1;
    for (int i = 0; i < a->rank; i++) {
        if (a->shape[i] != 0 && n > INT64_MAX / 8 / a->shape[i])
            return rt_fail_path(err, cap, a->path, "shape is too large");
        n *= a->shape[i];
    }
    a->count = n;
    int64_t need = n * rt_npy_type_size(a->type);
    if (need == data_bytes)
        return true;
    char s[160];
    rt_npy_shape_str(a->shape, a->rank, s, sizeof s);
    return rt_fail_path(err, cap, a->path, "header says shape %s of %s (%lld bytes) but the "
                        "file holds %lld bytes of data", s, rt_npy_type_name(a->type),
                        (long long)need, (long long)data_bytes);
}

bool rt_npy_open(const char *path, RtNpy *a, char *err, size_t errcap)
{
    memset(a, 0, sizeof *a);
    a->path = path;
    int64_t size = 0;
    int fd = rt_input_open(path, &size, err, errcap);
    if (fd < 0)
        return false;
    void *m = size > 0 ? mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    int e = errno;
    close(fd);
    if (m == MAP_FAILED)
        return size == 0 ? rt_fail_path(err, errcap, path, "is empty (not a .npy file)")
                         : rt_fail_path(err, errcap, path, "cannot map: %s", strerror(e));
    a->map = m;
    a->map_len = (size_t)size;
    size_t hlen = 0, off = 0;
    const uint8_t *p = m;
    bool ok = preamble(a, p, size, &hlen, &off, err, errcap) &&
              parse_header(a, (const char *)p + off, hlen, err, errcap) &&
              check_size(a, size - (int64_t)(off + hlen), err, errcap);
    a->data = p + off + hlen;
    if (!ok)
        rt_npy_close(a);
    return ok;
}

void rt_npy_close(RtNpy *a)
{
    if (a->map)
        munmap(a->map, a->map_len);
    memset(a, 0, sizeof *a);
}

/* ---- writing ---- */

static bool write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

bool rt_npy_write(const char *path, RtNpyType type, const int64_t *shape, int rank,
                  const void *data, char *err, size_t errcap)
{
    char h[256], s[200];
    rt_npy_shape_str(shape, rank, s, sizeof s);
    const char *d = type == RT_NPY_F32 ? "<f4" : type == RT_NPY_F64 ? "<f8"
                    : type == RT_NPY_U8 ? "|u1" : type == RT_NPY_I32 ? "<i4" : "<i8";
    int n = snprintf(h + 10, sizeof h - 10, "{'descr': '%s', 'fortran_order': False, "
                     "'shape': %s, }", d, s);
    size_t total = ((size_t)n + 10 + 1 + 63) / 64 * 64; /* numpy pads to 64 */
    memset(h + 10 + n, ' ', total - 10 - (size_t)n);
    h[total - 1] = '\n';
    memcpy(h, NPY_MAGIC "\x01\x00", 8);
    h[8] = (char)((total - 10) & 0xff);
    h[9] = (char)((total - 10) >> 8);
    size_t bytes = (size_t)rt_npy_type_size(type);
    for (int i = 0; i < rank; i++)
        bytes *= (size_t)shape[i];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return rt_fail_path(err, errcap, path, "cannot create: %s", strerror(errno));
    bool ok = write_all(fd, h, total) && write_all(fd, data, bytes);
    int e = errno;
    if (close(fd) != 0 && ok)
        ok = false, e = errno;
    return ok || rt_fail_path(err, errcap, path, "write error: %s", strerror(e));
}
