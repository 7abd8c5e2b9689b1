/* fuzz_text.c — libFuzzer harness for the byte-level text corpus reader.
 *
 * Input layout (tests/fuzz/seeds.c writes seeds in it):
 *   byte 0    bit 0: a directory (else one file); bits 1-7: the validation
 *             fraction (0-3: the invalid or extreme 0, 1, NaN, 1e-9; else k/128)
 *   byte 1    context (1-64), byte 2: batch (1-8)
 *   the rest  the file's bytes, or in directory mode up to 8 entries separated
 *             by 0xFF bytes; an entry's first byte picks its kind: a text file
 *             (named so, or hidden, or *.dat / *.u8 that the reader skips) or a
 *             subdirectory (skipped); the rest of the entry is the file's bytes.
 * rt_corpus_load must fail with a message or give exactly the concatenation,
 * in name order, of the files it should read, split as documented; then
 * rt_corpus_sample and the evaluation windows must stay inside the split and
 * hold consecutive bytes of it.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data.h"
#include "rng.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_ENTRIES = 8, MAX_CONTEXT = 64, MAX_BATCH = 8 };

static char root[64];               /* the harness's own temporary directory */

static void remove_root(void) { rmdir(root); }

/* In memory (/dev/shm) where there is one: every input writes files. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    struct stat sb;
    bool shm = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0;
    snprintf(root, sizeof root, "%s/lnet-fuzz-text-XXXXXX", shm ? "/dev/shm" : "/tmp");
    if (!mkdtemp(root))
        abort();
    atexit(remove_root);
    return 0;
}

/* Entry kinds: names the reader reads (k = 0, 1) or skips (the rest). */
static const char *const forms[] = {"%s/f%d", "%s/f%d.txt", "%s/.f%d",
                                    "%s/f%d.dat", "%s/f%d.u8", "%s/d%d"};
enum { N_FORMS = sizeof forms / sizeof forms[0], FORM_DIR = N_FORMS - 1 };

typedef struct Entry {
    char path[128];
    const uint8_t *bytes;
    size_t n;
    bool read;                      /* the reader must include it */
} Entry;

static void write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        abort();
}

/* Splits body at 0xFF into entries and creates them under root/c. */
static int make_dir(const char *dir, const uint8_t *p, size_t n, Entry *e)
{
    if (mkdir(dir, 0700) != 0)
        abort();
    int k = 0;
    for (size_t at = 0; k < MAX_ENTRIES && at < n; k++) {
        const uint8_t *end = memchr(p + at, 0xFF, n - at);
        size_t len = (end ? (size_t)(end - p) : n) - at;
        int form = len ? p[at] % N_FORMS : 0;
        snprintf(e[k].path, sizeof e[k].path, forms[form], dir, k);
        e[k].bytes = p + at + (len > 0);
        e[k].n = len - (len > 0);
        e[k].read = form < 2;
        if (form == FORM_DIR ? mkdir(e[k].path, 0700) != 0 : (write_file(e[k].path, e[k].bytes,
                                                                          e[k].n), false))
            abort();
        at += len + 1;
    }
    return k;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const Entry *)a)->path, ((const Entry *)b)->path);
}

/* The windows a corpus gives stay in their split and hold its bytes. */
static void check_windows(const RtCorpus *c, RtSplit split, int T, int B)
{
    size_t len;
    const uint8_t *s = rt_corpus_split(c, split, &len);
    int32_t x[MAX_BATCH * MAX_CONTEXT], y[MAX_BATCH * MAX_CONTEXT];
    RtRng rng;
    rt_rng_seed(&rng, (uint64_t)len);
    bool ok = rt_corpus_sample(c, split, T, B, &rng, x, y);
    if (ok != (len >= (size_t)T + 1))
        abort();
    for (int i = 0; ok && i < B * T; i++)
        if (x[i] < 0 || x[i] > 255 || y[i] < 0 || y[i] > 255 ||
            (i % T + 1 < T && y[i] != x[i + 1]))
            abort();
    int64_t w = rt_corpus_windows(c, split, T);
    if (w != (len ? (int64_t)((len - 1) / (size_t)T) : 0))
        abort();
    int64_t first = w > B ? w - B : 0;
    int64_t got = rt_corpus_window_fill(c, split, T, first, B, x, y);
    if (got != (w > 0 ? (w < B ? w : B) : 0))
        abort();
    for (int64_t i = 0; i < got * T; i++) {
        size_t at = (size_t)first * (size_t)T + (size_t)i;
        if (x[i] != s[at] || y[i] != s[at + 1])
            abort();
    }
}

static double val_frac(uint8_t b)
{
    static const double special[] = {0, 1, NAN, 1e-9};
    int k = b >> 1;
    return k < 4 ? special[k] : k / 128.0;
}

static void remove_all(const char *path, const Entry *e, int n, bool is_dir)
{
    for (int k = 0; k < n; k++)
        if (remove(e[k].path) != 0)
            abort();
    if ((is_dir ? rmdir(path) : remove(path)) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    bool is_dir = data[0] & 1;
    double vf = val_frac(data[0]);
    int T = 1 + data[1] % MAX_CONTEXT, B = 1 + data[2] % MAX_BATCH;
    const uint8_t *body = data + 3;
    size_t n = size - 3;
    char path[96];
    snprintf(path, sizeof path, "%s/c", root);
    Entry e[MAX_ENTRIES];
    int ne = 0;
    if (is_dir)
        ne = make_dir(path, body, n, e);
    else
        write_file(path, body, n);

    /* what the reader must return: the wanted files in name order */
    Entry want[MAX_ENTRIES];
    int nw = 0;
    size_t total = 0;
    for (int k = 0; k < ne; k++)
        if (e[k].read)
            want[nw++] = e[k], total += e[k].n;
    qsort(want, (size_t)nw, sizeof *want, cmp_entry);
    if (!is_dir)
        want[nw++] = (Entry){.bytes = body, .n = n}, total = n;

    RtCorpus c;
    char err[512] = "";
    bool ok = rt_corpus_load(path, vf, &c, err, sizeof err);
    size_t n_val = vf > 0 && vf < 1 ? (size_t)((double)total * vf) : 0;
    bool should = vf > 0 && vf < 1 && nw > 0 && n_val > 0 && n_val < total;
    if (ok != should || (!ok && (err[0] == '\0' || c.bytes || c.n)))
        abort();
    if (ok) {
        if (c.n != total || c.n_train != total - n_val || c.n_files != nw)
            abort();
        size_t at = 0;
        for (int k = 0; k < nw; at += want[k].n, k++)
            if (memcmp(c.bytes + at, want[k].bytes, want[k].n) != 0)
                abort();
        check_windows(&c, RT_SPLIT_TRAIN, T, B);
        check_windows(&c, RT_SPLIT_TEST, T, B);
    }
    rt_corpus_fini(&c);
    remove_all(path, e, ne, is_dir);
    return 0;
}
