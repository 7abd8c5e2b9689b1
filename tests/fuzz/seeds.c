/* seeds.c — writes the generated seeds of tests/fuzz/corpus/ (the .lnet seeds
 * of fuzz_step are written by hand):
 *   fuzz_safetensors/  a checkpoint of fuzz_safetensors.c's tiny model written
 *                      by rt_checkpoint_save, and st_save files of every dtype,
 *                      each in both of the harness's input layouts;
 *   fuzz_idx/          image and label sets in fuzz_idx.c's input layout, raw
 *                      and gzip, stored as given and compressed by the harness;
 *   fuzz_text/         a file and directories in fuzz_text.c's input layout.
 * Usage: fuzz_seeds DIR (DIR/<harness>/ must exist).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "checkpoint.h"
#include "frontend.h"
#include "passes.h"
#include "safetensors.h"

static const char *dir;

static void put(const char *harness, const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", dir, harness, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
        exit(1);
    }
}

/* ------------------------------------------------------ safetensors */

/* Turns the file at tmp into two fuzz_safetensors inputs: the file as is
 * (0, file) and with the harness writing the header length (1, D, JSON, data). */
static void st_seed(const char *tmp, const char *name)
{
    uint8_t in[8192], out[8192 + 3];
    FILE *f = fopen(tmp, "rb");
    size_t n = f ? fread(in, 1, sizeof in, f) : 0;
    if (!f || n < 8 || n == sizeof in)
        abort();
    fclose(f);
    remove(tmp);
    char seed[64];
    out[0] = 0;
    memcpy(out + 1, in, n);
    snprintf(seed, sizeof seed, "file-%s", name);
    put("fuzz_safetensors", seed, out, n + 1);
    uint64_t hdr = 0;
    for (int i = 7; i >= 0; i--)
        hdr = hdr << 8 | in[i];
    size_t data = n - 8 - (size_t)hdr;
    out[0] = 1, out[1] = (uint8_t)data, out[2] = (uint8_t)(data >> 8);
    memcpy(out + 3, in + 8, n - 8);
    snprintf(seed, sizeof seed, "json-%s", name);
    put("fuzz_safetensors", seed, out, n - 5);
}

static const char tiny_src[] =          /* fuzz_safetensors.c's model */
    "model tiny\n"
    "input x : f32[3]\n"
    "label y : class[2]\n"
    "loss cross_entropy(dense(relu(dense(x, 4)), 2), y)\n"
    "train { optimizer = adam(lr = 0.01) }\n";

static void safetensors_seeds(void)
{
    char path[512], err[256];
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("tiny.lnet", tiny_src, strlen(tiny_src), &d);
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    if (!g || !pass_run_pipeline(g, "shape,verify,autodiff,optimizer", &ctx))
        abort();
    RtExec *ex = rt_exec_interp_new(g, 1, err, sizeof err);
    rt_exec_init_params(ex, 1);
    snprintf(path, sizeof path, "/tmp/fuzz-seed-%d.safetensors", (int)getpid());
    RtCounters c = {12, 3, 4, 42, 0};
    if (!rt_checkpoint_save(path, &ex, 1, &c, err, sizeof err))
        abort();
    st_seed(path, "checkpoint");
    rt_exec_free(ex);
    ir_graph_free(g);
    diag_fini(&d);

    int32_t i32[6] = {1, -2, 3, -4, 5, -6};
    int64_t i64[2] = {-1, 1LL << 40};
    uint8_t u8[5] = {0, 1, 2, 254, 255};
    float f32[3] = {0.5f, -1.0f, 3e38f};
    StTensor t[] = {
        {.name = "u8", .dtype = ST_U8, .rank = 1, .shape = {5}, .data = u8, .nbytes = 5},
        {.name = "i32", .dtype = ST_I32, .rank = 2, .shape = {2, 3}, .data = i32, .nbytes = 24},
        {.name = "i64", .dtype = ST_I64, .rank = 1, .shape = {2}, .data = i64, .nbytes = 16},
        {.name = "f32", .dtype = ST_F32, .rank = 3, .shape = {1, 3, 1}, .data = f32, .nbytes = 12},
        {.name = "scalar", .dtype = ST_F32, .rank = 0, .data = f32, .nbytes = 4},
        {.name = "empty", .dtype = ST_F32, .rank = 2, .shape = {0, 7}, .data = f32, .nbytes = 0},
    };
    const char *meta[] = {"format", "pt", "note", "\"quoted\" \\ \xc3\xa9"};
    if (!st_save(path, t, 6, meta, 2, err, sizeof err))
        abort();
    st_seed(path, "dtypes");
    if (!st_save(path, t + 1, 1, NULL, 0, err, sizeof err))
        abort();
    st_seed(path, "one");
}

/* -------------------------------------------------------------- idx */

/* An IDX file: magic, dims (big-endian), then the bytes. */
static size_t idx(uint8_t *out, int kind, const uint32_t *dims, int nd, const uint8_t *p,
                  size_t n)
{
    size_t at = 0;
    uint32_t v[4] = {0x800u | (uint32_t)kind};
    memcpy(v + 1, dims, (size_t)nd * 4);
    for (int i = 0; i <= nd; i++)
        for (int b = 3; b >= 0; b--)
            out[at++] = (uint8_t)(v[i] >> (8 * b));
    memcpy(out + at, p, n);
    return at + n;
}

static size_t gz(uint8_t *out, size_t cap, const uint8_t *p, size_t n)
{
    z_stream z = {0};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        abort();
    deflateEnd(&z);
    return cap - z.avail_out;
}

/* One fuzz_idx input: flags, classes, images length, corruption byte, files. */
static void idx_seed(const char *name, uint8_t flags, uint8_t classes, const uint8_t *img,
                     size_t ni, const uint8_t *lab, size_t nl)
{
    uint8_t buf[4096];
    buf[0] = flags, buf[1] = classes, buf[2] = (uint8_t)ni, buf[3] = (uint8_t)(ni >> 8);
    buf[4] = 17;
    memcpy(buf + 5, img, ni);
    memcpy(buf + 5 + ni, lab, nl);
    put("fuzz_idx", name, buf, 5 + ni + nl);
}

static void idx_seeds(void)
{
    uint8_t px[3 * 4 * 5], lb[3] = {0, 9, 4}, img[256], lab[64], zi[512], zl[256];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 37);
    size_t ni = idx(img, 3, (uint32_t[]){3, 4, 5}, 3, px, sizeof px);
    size_t nl = idx(lab, 1, (uint32_t[]){3}, 1, lb, sizeof lb);
    idx_seed("raw", 0x00, 10, img, ni, lab, nl);
    idx_seed("harness-gzip", 0x05, 10, img, ni, lab, nl);
    idx_seed("limit-2", 0x20, 0, img, ni, lab, nl);
    idx_seed("flip", 0x06, 10, img, ni, lab, nl);
    idx_seed("cut", 0x0f, 10, img, ni, lab, nl);
    size_t nzi = gz(zi, sizeof zi, img, ni), nzl = gz(zl, sizeof zl, lab, nl);
    idx_seed("given-gzip", 0x00, 10, zi, nzi, zl, nzl);
    uint8_t one = 200, l1 = 1;
    ni = idx(img, 3, (uint32_t[]){1, 1, 1}, 3, &one, 1);
    nl = idx(lab, 1, (uint32_t[]){1}, 1, &l1, 1);
    idx_seed("one-pixel", 0x00, 2, img, ni, lab, nl);
}

/* ------------------------------------------------------------- text */

static void text_seeds(void)
{
    static const char one[] = "\x80\x07\x03" "Q: What is a fortune?\nA: A file of text.\n%\n";
    put("fuzz_text", "file", one, sizeof one - 1);
    /* a directory: a text file, a .txt, a hidden file, an index, a subdirectory */
    static const char many[] = "\x41\x10\x02"
                               "\x00Hello, world.\n\xff"
                               "\x01Second file.\n\xff"
                               "\x02hidden\xff"
                               "\x03\x00\x00\x00\x02index\xff"
                               "\x05";
    put("fuzz_text", "dir", many, sizeof many - 1);
    static const char tiny[] = "\x40\x00\x00" "ab";
    put("fuzz_text", "two-bytes", tiny, sizeof tiny - 1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds DIR\n");
        return 2;
    }
    dir = argv[1];
    safetensors_seeds();
    idx_seeds();
    text_seeds();
    return 0;
}
