/* runner.c — lnet's ops and optimizers against ONNX's own backend node tests.
 *
 * usage: onnx_runner DATA_DIR... [--table FILE] [--only SUBSTRING] [-v]
 *
 * DATA_DIR holds ONNX's node tests (Debian's libonnx-testdata installs them in
 * /usr/share/libonnx-testdata/data/node): one directory per case, with a
 * one-node model.onnx and test_data_set_N directories of input_K.pb and output_K.pb TensorProtos.
 * For each case:
 *   1. read the model and each data set (onnx_pb.c);
 *   2. map the node onto lnet IR ops (onnx_map.c), or record why lnet cannot
 *      express it (an op lnet lacks, an attribute it does not support, ...);
 *   3. run the graph through the reference interpreter AND the JIT (codegen's
 *      executor), feeding the ONNX inputs into the nodes the mapping names;
 *   4. compare every ONNX output with its lnet node, as ONNX's backend tests
 *      do: |got - want| <= atol + rtol |want|, rtol 1e-3, atol 1e-7.
 * The table of counts (applicable / passing / not applicable and why, per
 * ONNX op) goes to FILE in the markdown that docs/testing.md holds between
 * its onnx-conformance markers; ctest checks that the two agree. The exit
 * status is 1 when any applicable case fails (or a file cannot be read).
 *
 * Protobuf is read by a small reader of the few messages needed (onnx_pb.c),
 * not by protobuf-c code generated from onnx.proto: no generated code nor a
 * build-time dependency on protoc-c and libonnx-dev, every read bounded and
 * checked (a malformed file is refused, never a crash), and a writer twin can
 * serve an ONNX export later.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codegen.h"
#include "exec.h"
#include "onnx_map.h"

#define RTOL 1e-3
#define ATOL 1e-7
#define MAX_CASES 2048
#define MAX_SETS 8

typedef enum { ST_PASS, ST_FAIL, ST_NA } Status;

typedef struct {
    const char *root;           /* the directory of test directories it is in */
    char name[256];             /* its directory; the table's name: dir/name outside node/ */
    char family[OX_NAME];       /* the node's op, or "" for a graph of several nodes */
    Status st;
    char why[200];              /* not applicable: why; failed: what differed */
} Case;

static bool verbose;

static bool is_dir(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISDIR(s.st_mode);
}

static bool exists(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0;
}

/* Reads prefix_0.pb, prefix_1.pb, ... of one data set; -1 on a read error. */
static int read_tensors(const char *dir, const char *prefix, OxTensor *t, char *err,
                        size_t cap)
{
    int n = 0;
    for (; n < OX_MAX_IO; n++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s_%d.pb", dir, prefix, n);
        if (!exists(path))
            break;
        if (!ox_tensor_read(path, &t[n], err, cap)) {
            for (int i = 0; i < n; i++)
                ox_tensor_fini(&t[i]);
            return -1;
        }
    }
    return n;
}

/* ------------------------------------------------------------ running */

static int64_t count_of(const IrGraph *g, int id, int batch)
{
    const IrType *t = &g->nodes[id]->type;
    return ir_type_numel(t) * (ir_type_batched(t) ? batch : 1);
}

static bool feed(RtExec *e, const OxMap *m, char *why, size_t cap)
{
    for (int k = 0; k < m->node->n_in; k++) {
        int id = m->feed[k];
        if (id < 0)
            continue;
        const OxTensor *t = ox_map_input(m, k);
        if (!t || !t->v || count_of(m->g, id, m->batch) != t->n) {
            snprintf(why, cap, "input %d: %lld values for an lnet value of %lld", k,
                     (long long)t->n, (long long)count_of(m->g, id, m->batch));
            return false;
        }
        void *buf = rt_exec_buffer(e, id);
        for (int64_t i = 0; i < t->n; i++) {
            if (m->g->nodes[id]->type.dtype == IR_I32)
                ((int32_t *)buf)[i] = (int32_t)t->v[i];
            else
                ((float *)buf)[i] = (float)(t->v[i] * m->feed_scale[k]);
        }
    }
    if (m->fill >= 0) {
        float *buf = rt_exec_buffer(e, m->fill);
        for (int64_t i = 0; i < count_of(m->g, m->fill, 1); i++)
            buf[i] = m->fill_value;
    }
    return true;
}

/* Whether an lnet type, with the batch bound, is the tensor's shape (when
 * the mapping made the whole tensor one example, without its batch of 1). */
static bool same_shape(const IrType *ty, const OxMap *m, const OxTensor *t)
{
    int skip = m->whole && ir_type_batched(ty);
    if (ty->rank - skip != t->rank)
        return false;
    for (int i = 0; i < t->rank; i++) {
        int64_t d = i + skip == 0 && ir_type_batched(ty) ? m->batch : ty->dim[i + skip];
        if (d != t->dim[i])
            return false;
    }
    return true;
}

static bool compare(RtExec *e, const OxMap *m, char *why, size_t cap)
{
    for (int k = 0; k < m->n_out; k++) {
        const OxTensor *t = &m->out[k];
        int id = m->result[k];
        if (id < 0 || !t->v) {
            snprintf(why, cap, "output %d has no lnet value", k);
            return false;
        }
        const IrType *ty = &m->g->nodes[id]->type;
        if (!same_shape(ty, m, t)) {
            char s[96];
            ir_type_str(ty, s, sizeof s);
            snprintf(why, cap, "output %d: lnet's %s (batch %d) is not ONNX's shape", k, s,
                     m->batch);
            return false;
        }
        const float *got = rt_exec_buffer(e, id);
        for (int64_t i = 0; i < t->n; i++) {
            double g = got[i] * m->result_scale[k], w = t->v[i];
            if (isnan(g) != isnan(w) || (!isnan(w) && !(fabs(g - w) <= ATOL + RTOL * fabs(w)))) {
                snprintf(why, cap, "output %d [%lld]: %s gives %.9g, ONNX %.9g", k,
                         (long long)i, e->ops->name, g, w);
                return false;
            }
        }
    }
    return true;
}

/* Runs the mapped graph on one executor and compares; false + why. */
static bool run_on(RtExec *e, const OxMap *m, char *why, size_t cap)
{
    if (!feed(e, m, why, cap))
        return false;
    /* the whole step: Gemm's transposed products are backward ops, and
     * optimizer updates the update phase; training off (dropout: identity) */
    RtStepArgs a = {.n = m->batch, .lr = m->lr, .step = m->t, .seed = 1, .train = false};
    rt_exec_step(e, &a);
    return compare(e, m, why, cap);
}

/* One data set of a case: map, run on both executors, compare. */
static Status run_set(const OxModel *model, const char *dir, char *why, size_t cap)
{
    OxTensor in[OX_MAX_IO], out[OX_MAX_IO];
    int n_in = read_tensors(dir, "input", in, why, cap);
    if (n_in < 0)
        return ST_FAIL;
    int n_out = read_tensors(dir, "output", out, why, cap);
    if (n_out < 0) {
        for (int i = 0; i < n_in; i++)
            ox_tensor_fini(&in[i]);
        return ST_FAIL;
    }
    OxMap m = {.model = model, .node = &model->node[0], .in = in, .n_in = n_in, .out = out,
               .n_out = n_out, .g = ir_graph_new("onnx"), .fill = -1};
    for (int k = 0; k < OX_MAX_IO; k++) {
        m.feed[k] = m.result[k] = -1;
        m.feed_scale[k] = m.result_scale[k] = 1.0;
    }
    Status st = ST_PASS;
    const char *na = ox_map(&m);
    if (m.failed) {
        snprintf(why, cap, "mapping: %s", m.why);
        st = ST_FAIL;
    } else if (na) {
        snprintf(why, cap, "%s", na);
        st = ST_NA;
    } else {
        int maxb = m.batch > 0 ? m.batch : 1;
        m.batch = maxb;
        char err[256] = "";
        RtExec *ex[2] = {rt_exec_interp_new(m.g, maxb, err, sizeof err),
                         cg_exec_new(m.g, maxb, NULL, err, sizeof err)};
        for (int i = 0; i < 2 && st == ST_PASS; i++) {
            if (!ex[i]) {
                snprintf(why, cap, "executor: %s", err);
                st = ST_FAIL;
            } else if (!run_on(ex[i], &m, why, cap)) {
                st = ST_FAIL;
            }
        }
        rt_exec_free(ex[0]);
        rt_exec_free(ex[1]);
    }
    ir_graph_free(m.g);
    for (int i = 0; i < n_in; i++)
        ox_tensor_fini(&in[i]);
    for (int i = 0; i < n_out; i++)
        ox_tensor_fini(&out[i]);
    return st;
}

/* Cases whose data ONNX itself got wrong: not run, and the table says why. */
static const struct { const char *name, *why; } onnx_bugs[] = {
    {"test_adam_multiple", "ONNX's expected outputs use epsilon 1e-2, which its model omits "
                           "(onnx/onnx#7749, fixed upstream)"},
};

static void run_case(Case *c)
{
    const char *root = c->root;
    char dir[600], err[200];
    snprintf(dir, sizeof dir, "%s/%s/model.onnx", root, c->name);
    OxModel model;
    if (!ox_model_read(dir, &model, err, sizeof err)) {
        c->st = ST_FAIL;
        snprintf(c->why, sizeof c->why, "%s", err);
        return;
    }
    c->st = ST_NA;
    if (model.n_nodes != 1) {
        snprintf(c->why, sizeof c->why, "a graph of %d nodes", model.n_nodes);
    } else {
        snprintf(c->family, sizeof c->family, "%s", model.node[0].op);
        for (size_t i = 0; i < sizeof onnx_bugs / sizeof onnx_bugs[0]; i++)
            if (strcmp(root + strlen(root) - 5, "/node") == 0 &&
                strcmp(c->name, onnx_bugs[i].name) == 0)
                snprintf(c->why, sizeof c->why, "%s", onnx_bugs[i].why);
        for (int k = 0; k < model.n_in + model.n_out; k++)
            if (k < model.n_in ? model.in_other[k] : model.out_other[k - model.n_in])
                snprintf(c->why, sizeof c->why, "a sequence or optional, not a tensor");
    }
    for (int s = 0; s < MAX_SETS && !c->why[0]; s++) {
        snprintf(dir, sizeof dir, "%s/%s/test_data_set_%d", root, c->name, s);
        if (!is_dir(dir))
            break;
        c->st = run_set(&model, dir, c->why, sizeof c->why);
        if (c->st != ST_PASS)
            break;
    }
    ox_model_fini(&model);
}

/* -------------------------------------------------------------- table */

static int by_family(const void *a, const void *b)
{
    const Case *x = a, *y = b;
    int c = strcmp(x->family, y->family);
    return c ? c : strcmp(x->name, y->name);
}

static bool mapped(const char *op)
{
    for (const char *const *p = ox_mapped_ops; *p; p++)
        if (strcmp(*p, op) == 0)
            return true;
    return false;
}

/* "" for ONNX's node tests, "pytorch-converted/" and so on for the others. */
static const char *label(const Case *c)
{
    static char buf[128];
    const char *b = strrchr(c->root, '/');
    b = b ? b + 1 : c->root;
    if (strcmp(b, "node") == 0)
        return "";
    snprintf(buf, sizeof buf, "%s/", b);
    return buf;
}

static void table(FILE *f, Case *cs, int n)
{
    qsort(cs, (size_t)n, sizeof *cs, by_family);
    int app = 0, pass = 0, multi = 0;
    for (int i = 0; i < n; i++) {
        app += cs[i].st != ST_NA;
        pass += cs[i].st == ST_PASS;
        multi += cs[i].family[0] == '\0';
    }
    fprintf(f, "<!-- onnx-conformance:begin -->\n"
               "<!-- generated by tests/onnx/runner.c: ctest onnx_conformance writes it to "
               "build/tests/onnx_conformance.md -->\n"
               "%d ONNX backend tests (node/, and the pytorch-converted/ and "
               "pytorch-operator/ models): %d applicable, %d passing on both executors, %d "
               "not applicable.\n\n"
               "| ONNX op | cases | applicable | passing | not applicable |\n"
               "|---|---|---|---|---|\n", n, app, pass, n - app);
    for (int i = 0; i < n;) {
        int j = i, a = 0, p = 0;
        for (; j < n && strcmp(cs[j].family, cs[i].family) == 0; j++) {
            a += cs[j].st != ST_NA;
            p += cs[j].st == ST_PASS;
        }
        if (cs[i].family[0] && mapped(cs[i].family))
            fprintf(f, "| %s | %d | %d | %d | %d |\n", cs[i].family, j - i, a, p, j - i - a);
        i = j;
    }
    fprintf(f, "\nNot applicable, and why:\n\n| case | why |\n|---|---|\n");
    for (int i = 0; i < n; i++)
        if (cs[i].family[0] && mapped(cs[i].family) && cs[i].st == ST_NA)
            fprintf(f, "| %s%s | %s |\n", label(&cs[i]), cs[i].name, cs[i].why);
    fprintf(f, "\nONNX ops lnet has no op or composition for (cases):");
    for (int i = 0, first = 1; i < n;) {
        int j = i;
        while (j < n && strcmp(cs[j].family, cs[i].family) == 0)
            j++;
        if (cs[i].family[0] && !mapped(cs[i].family)) {
            fprintf(f, "%s %s (%d)", first ? "" : ",", cs[i].family, j - i);
            first = 0;
        }
        i = j;
    }
    fprintf(f, ".\n\n%d cases are graphs of several nodes (function bodies expanded into "
               "primitive ops, `*_expanded`): not applicable, the one-node case of the same "
               "op is what is checked.\n<!-- onnx-conformance:end -->\n", multi);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Appends the cases of one directory (sorted by name). */
static int add_cases(const char *root, const char *only, Case *cs, int n)
{
    struct dirent **ents;
    int ne = scandir(root, &ents, NULL, by_name);
    for (int i = 0; i < ne; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s/model.onnx", root, ents[i]->d_name);
        if (n < MAX_CASES && strncmp(ents[i]->d_name, "test_", 5) == 0 && exists(path) &&
            (!only || strstr(ents[i]->d_name, only))) {
            cs[n].root = root;
            snprintf(cs[n++].name, sizeof cs[0].name, "%s", ents[i]->d_name);
        }
        free(ents[i]);
    }
    if (ne >= 0)
        free(ents);
    return n;
}

int main(int argc, char **argv)
{
    const char *out = NULL, *only = NULL;
    Case *cs = calloc(MAX_CASES, sizeof *cs);
    int n = 0, failed = 0, app = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--table") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "-v") == 0) {
            verbose = true;
        } else if (!is_dir(argv[i])) {
            fprintf(stderr, "onnx_runner: error: '%s' is not a directory of ONNX tests "
                            "(install libonnx-testdata: tools/setup.sh)\n", argv[i]);
            return 1;
        } else {
            n = add_cases(argv[i], only, cs, n);
        }
    }
    if (n == 0) {
        fprintf(stderr, "onnx_runner: error: no ONNX test cases given\n");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        Case *c = &cs[i];
        run_case(c);
        if (c->st == ST_FAIL || verbose)
            fprintf(stderr, "%s %s%s: %s\n", c->st == ST_FAIL ? "FAIL" : c->st == ST_NA
                    ? "n/a " : "ok  ", label(c), c->name, c->why);
        failed += c->st == ST_FAIL;
        app += c->st != ST_NA;
    }
    if (out) {
        FILE *f = fopen(out, "w");
        if (!f) {
            fprintf(stderr, "onnx_runner: error: cannot write '%s'\n", out);
            return 1;
        }
        table(f, cs, n);
        fclose(f);
    }
    printf("onnx: %d cases, %d applicable, %d passing, %d failing\n", n, app, app - failed,
           failed);
    free(cs);
    return failed ? 1 : 0;
}
