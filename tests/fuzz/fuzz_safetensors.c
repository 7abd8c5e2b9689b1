/* fuzz_safetensors.c — libFuzzer harness for the safetensors reader and the
 * checkpoint loader.
 *
 * Input layout (tests/fuzz/seeds.c writes seeds in it): byte 0 even: the
 * rest is the file; odd: bytes 1-2 (little-endian) are the length D of the
 * data section, which is the last D bytes, and the JSON header is what lies
 * between; the harness writes the 8-byte header length itself, so that
 * mutations of the JSON text keep it right.
 *
 * The file is written to a memfd and read through its /proc/self/fd path,
 * first with st_load, then with rt_checkpoint_load into the executor of a
 * tiny model (compiled once; the seed corpus holds its checkpoints, written
 * by rt_checkpoint_save). The harness aborts when
 *   - st_load fails without a message, or succeeds with a tensor whose size,
 *     alignment or place in the data block breaks the header's promises, or
 *     whose name st_find does not find;
 *   - rt_checkpoint_load fails without a message or changes the executor's
 *     buffers on failure, or succeeds without copying every tensor exactly.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "checkpoint.h"
#include "frontend.h"
#include "passes.h"
#include "safetensors.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The model whose checkpoints the seeds are; tests/fuzz/seeds.c writes them. */
static const char model_src[] =
    "model tiny\n"
    "input x : f32[3]\n"
    "label y : class[2]\n"
    "loss cross_entropy(dense(relu(dense(x, 4)), 2), y)\n"
    "train { optimizer = adam(lr = 0.01) }\n";

static char path[64];           /* /proc/self/fd/N of the memfd */
static int fd = -1;
static IrGraph *graph;
static RtExec *ex;
static uint8_t *before;         /* the saved buffers' bytes before a load */
static size_t saved_bytes;

static bool saved(const IrNode *n) { return n->op == IR_OP_PARAM || n->op == IR_OP_STATE; }

static size_t buf_bytes(int id) { return (size_t)ir_type_numel(&graph->nodes[id]->type) * 4; }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fd = memfd_create("fuzz.safetensors", 0);
    if (fd < 0)
        abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    Diag d;
    diag_init(&d);
    graph = fe_compile("tiny.lnet", model_src, strlen(model_src), &d);
    PassCtx ctx;
    pass_ctx_init(&ctx, &d);
    if (!graph || !pass_run_pipeline(graph, "shape,verify,autodiff,optimizer", &ctx))
        abort();
    diag_fini(&d);
    char err[256];
    ex = rt_exec_interp_new(graph, 1, err, sizeof err);
    if (!ex)
        abort();
    for (int i = 0; i < graph->n_nodes; i++)
        if (saved(graph->nodes[i]))
            saved_bytes += buf_bytes(i);
    before = malloc(saved_bytes);
    if (!before)
        abort();
    return 0;
}

static void put(const void *p, size_t n, off_t at)
{
    if (pwrite(fd, p, n, at) != (ssize_t)n)
        abort();
}

/* The file an input stands for (see the layout above). */
static void write_input(const uint8_t *data, size_t size)
{
    if (ftruncate(fd, 0) != 0)
        abort();
    if (size < 3 || !(data[0] & 1)) {
        put(data + (size > 0), size - (size > 0), 0);
        return;
    }
    size_t n_data = (size_t)data[1] | (size_t)data[2] << 8;
    if (n_data > size - 3)
        n_data = size - 3;
    uint64_t n_hdr = size - 3 - n_data;
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(n_hdr >> (8 * i));
    put(len, 8, 0);
    put(data + 3, size - 3, 8);
}

static int cmp_data(const void *a, const void *b)
{
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    if (x->data != y->data)
        return (uint8_t *)x->data < (uint8_t *)y->data ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;  /* empty ones first */
}

/* No two tensors share bytes of the data block. */
static void check_disjoint(const StFile *f)
{
    const StTensor **by = malloc((size_t)f->n * sizeof *by + 1);
    for (int i = 0; i < f->n; i++)
        by[i] = &f->t[i];
    qsort(by, (size_t)f->n, sizeof *by, cmp_data);
    for (int i = 1; i < f->n; i++)
        if ((uint8_t *)by[i - 1]->data + by[i - 1]->nbytes > (uint8_t *)by[i]->data)
            abort();
    free(by);
}

/* Every tensor keeps the header's promises inside f's data block. */
static void check_file(const StFile *f)
{
    size_t blob = 0;
    for (int i = 0; i < f->n; i++)
        blob += (f->t[i].nbytes + 7) / 8 * 8;
    for (int i = 0; i < f->n; i++) {
        const StTensor *t = &f->t[i];
        int64_t numel = st_numel(t->rank, t->shape);
        size_t es = st_dtype_size(t->dtype);
        if (es == 0 || t->rank < 0 || t->rank > ST_MAX_RANK || numel < 0 ||
            (uint64_t)numel * es != t->nbytes)
            abort();
        size_t at = (size_t)((uint8_t *)t->data - (uint8_t *)f->blob);
        if ((uint8_t *)t->data < (uint8_t *)f->blob || at + t->nbytes > blob ||
            (uintptr_t)t->data % es != 0)
            abort();
        if (t->nbytes > 0)                      /* ASan: the bytes are really there */
            (void)(volatile uint8_t)((uint8_t *)t->data)[t->nbytes - 1];
        if (st_find(f, t->name) != t)
            abort();
    }
    check_disjoint(f);
    char v[64];
    if (f->metadata_json)
        (void)st_meta_get(f, "format", v, sizeof v);
}

static void snapshot(uint8_t *dst)
{
    for (int i = 0; i < graph->n_nodes; i++)
        if (saved(graph->nodes[i])) {
            memcpy(dst, rt_exec_buffer(ex, i), buf_bytes(i));
            dst += buf_bytes(i);
        }
}

/* A failed load leaves the buffers as they were; a good one holds the file's. */
static void check_checkpoint(const StFile *f, bool loaded)
{
    RtCounters c;
    char err[512] = "";
    bool ok = rt_checkpoint_load(path, &ex, 1, &c, err, sizeof err);
    if (ok && !loaded)
        abort();
    if (!ok && err[0] == '\0')
        abort();
    if (!ok) {
        uint8_t *now = malloc(saved_bytes);
        snapshot(now);
        if (memcmp(now, before, saved_bytes) != 0)
            abort();
        free(now);
        return;
    }
    for (int i = 0; i < graph->n_nodes; i++) {
        const IrNode *nd = graph->nodes[i];
        const StTensor *t = saved(nd) ? st_find(f, nd->name) : NULL;
        if (saved(nd) && (!t || t->nbytes != buf_bytes(i) ||
                          memcmp(t->data, rt_exec_buffer(ex, i), t->nbytes) != 0))
            abort();
    }
    const StTensor *step = st_find(f, "lnet.step");
    if (!step || memcmp(step->data, &c.step, 8) != 0 || c.step < 0 || c.epoch < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_input(data, size);
    StFile f;
    char err[512] = "";
    bool loaded = st_load(path, &f, err, sizeof err);
    if (!loaded && (err[0] == '\0' || f.n != 0 || f.t || f.blob))
        abort();
    if (loaded)
        check_file(&f);
    /* distinct non-zero bytes in the buffers, so a partial load shows */
    rt_exec_init_params(ex, (uint64_t)size + 1);
    snapshot(before);
    check_checkpoint(&f, loaded);
    st_free(&f);
    return 0;
}
