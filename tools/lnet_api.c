/* lnet_api.c — the embedding library of lnet.h (tools/lnet/, installed as <lnet/lnet.h>) over the pieces
 * `lnet train` uses.
 *
 * A model is compiled exactly as `lnet train` compiles it (cli_train_model:
 * the overrides, the pipeline, the split into blocks), each block gets a JIT
 * executor (cg_exec_factory) for the model's batch, with no memory plan so
 * that every value keeps its buffer, and the stage table of cli_stages. A
 * training step copies the caller's batch into the blocks that read data,
 * then runs each block's whole step in order after pulling the values (and
 * overlap's shared parameters) it reads from earlier blocks: the sequential
 * schedule (runtime/schedules/sequential.c) on the caller's thread.
 */
#include "lnet/lnet.h"

#include "cli.h"
#include "checkpoint.h"
#include "codegen.h"
#include "trainer.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct LnetModel {
    CliTrainModel tm;
    RtBlockSpec st[CLI_MAX_BLOCKS];
    RtLink *links;                  /* the stage table's links (heap) */
    RtExec *ex[CLI_MAX_BLOCKS];
    int K, batch;
    float lr;
    RtCounters c;                   /* step and seed, as checkpoints keep them */
    int n_params;
    const char **param_names;       /* the graphs' names (arena strings) */
};

/* Sets *out (when not NULL) to a heap copy of the formatted message; returns 1. */
static int fail(char **out, const char *fmt, ...)
{
    if (!out)
        return 1;
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int len = vsnprintf(NULL, 0, fmt, ap);
    char *msg = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (msg)
        vsnprintf(msg, (size_t)len + 1, fmt, again);
    va_end(again);
    va_end(ap);
    *out = msg;
    return 1;
}

static void diag_fail(char **out, const Diag *d)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f) {
        diag_print(d, f);
        fclose(f);
    }
    while (text && len > 0 && text[len - 1] == '\n')
        text[--len] = '\0';
    fail(out, "%s", text && *text ? text : "the model does not compile");
    free(text);
}

const char *lnet_version(void) { return LNET_VERSION; }

void lnet_dispose_message(char *message) { free(message); }

/* ------------------------------------------------------------- compile */

static const CliOpt api_opts[] = {{"method", "M", ""}, {"blocks", "K", ""}, {NULL, NULL, NULL}};
static const CliCmd api_cmd = {"lnet_model_create", "", "", api_opts, NULL};

/* The stage table: the split pass's, or one block reading the model's first
 * input and label. */
static bool make_stages(LnetModel *m)
{
    if (m->tm.bs.n > 0)
        return cli_stages(&m->tm.bs, m->tm.m.g, m->st, &m->links);
    const IrGraph *g = m->tm.blocks[0];
    m->st[0] = (RtBlockSpec){g, -1, -1, 0, NULL, 0};
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i]->op == IR_OP_INPUT && m->st[0].in_x < 0)
            m->st[0].in_x = i;
        if (g->nodes[i]->op == IR_OP_LABEL && m->st[0].in_y < 0)
            m->st[0].in_y = i;
    }
    return true;
}

static bool listed(const LnetModel *m, const char *name)
{
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->param_names[i], name) == 0)
            return true;
    return false;
}

static bool collect_params(LnetModel *m)
{
    int total = 0;
    for (int k = 0; k < m->K; k++)
        total += m->tm.blocks[k]->n_nodes;
    if (!(m->param_names = calloc((size_t)total + 1, sizeof *m->param_names)))
        return false;
    for (int k = 0; k < m->K; k++) {
        const IrGraph *g = m->tm.blocks[k];
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i]->op == IR_OP_PARAM && g->nodes[i]->name &&
                !listed(m, g->nodes[i]->name))
                m->param_names[m->n_params++] = g->nodes[i]->name;
    }
    return true;
}

/* Checks the input: f32 data read by block 0, labels below their classes. */
static bool check_model(LnetModel *m, char **err)
{
    const RtBlockSpec *s = &m->st[0];
    if (s->in_x < 0 || s->g->nodes[s->in_x]->type.dtype != IR_F32) {
        fail(err, "%s: the library trains models whose first block reads a float input "
             "(token inputs are not supported)", m->tm.file);
        return false;
    }
    if (m->st[m->K - 1].g->loss < 0) {
        fail(err, "%s: the model has no loss", m->tm.file);
        return false;
    }
    return true;
}

static LnetModel *create(const char *name, const char *text, const char *method, int blocks,
                         char **err)
{
    if (method) {
        int i = 0;
        while (i < METHOD_COUNT && strcmp(ir_method_name((IrMethod)i), method) != 0)
            i++;
        if (i == METHOD_COUNT) {
            fail(err, "unknown method '%s' (expected backprop, greedy, chunked or overlap)",
                 method);
            return NULL;
        }
    }
    if (blocks < 0 || blocks > CLI_MAX_BLOCKS) {
        fail(err, "blocks = %d: expected 1 to %d (0: the model's)", blocks, CLI_MAX_BLOCKS);
        return NULL;
    }
    LnetModel *m = calloc(1, sizeof *m);
    if (!m) {
        fail(err, "out of memory");
        return NULL;
    }
    char k[16];
    snprintf(k, sizeof k, "%d", blocks);
    CliArgs a = {.file = name, .val = {method, blocks > 0 ? k : NULL}};
    Diag d;
    diag_init(&d);
    bool ok = cli_train_model(&api_cmd, &a, text, &m->tm, &d);
    if (!ok)
        diag_fail(err, &d);
    diag_fini(&d);
    m->K = m->tm.n_blocks;
    if (!ok || !make_stages(m) || !collect_params(m)) {
        if (ok)
            fail(err, "out of memory");
        lnet_model_dispose(m);
        return NULL;
    }
    const IrGraph *whole = m->tm.m.g;
    m->batch = whole->train.batch;
    m->lr = whole->train.lr;
    m->c.seed = whole->train.seed;
    char msg[512];
    for (int i = 0; i < m->K; i++) {
        if (!(m->ex[i] = cg_exec_factory(m->tm.blocks[i], m->batch, NULL, msg, sizeof msg))) {
            fail(err, "%s: block %d does not compile: %s", name, ir_block_no(i), msg);
            lnet_model_dispose(m);
            return NULL;
        }
        rt_exec_init_params(m->ex[i], m->c.seed);
    }
    if (!check_model(m, err)) {
        lnet_model_dispose(m);
        return NULL;
    }
    return m;
}

LnetModel *lnet_model_create_from_file(const char *path, const char *method, int blocks,
                                       char **error_message)
{
    if (!path) {
        fail(error_message, "no model file given");
        return NULL;
    }
    return create(path, NULL, method, blocks, error_message);
}

LnetModel *lnet_model_create_from_text(const char *name, const char *text, const char *method,
                                       int blocks, char **error_message)
{
    if (!text) {
        fail(error_message, "no model text given");
        return NULL;
    }
    return create(name ? name : "<text>", text, method, blocks, error_message);
}

void lnet_model_dispose(LnetModel *m)
{
    if (!m)
        return;
    for (int k = 0; k < m->K; k++)
        rt_exec_free(m->ex[k]);
    free(m->links);
    free(m->param_names);
    cli_train_model_free(&m->tm);
    free(m);
}

/* ----------------------------------------------------------- accessors */

int lnet_model_batch(const LnetModel *m) { return m->batch; }
int lnet_model_blocks(const LnetModel *m) { return m->K; }
int64_t lnet_model_step(const LnetModel *m) { return m->c.step; }
void lnet_model_set_learning_rate(LnetModel *m, float lr) { m->lr = lr; }

int64_t lnet_model_input_size(const LnetModel *m)
{
    return ir_type_numel(&m->st[0].g->nodes[m->st[0].in_x]->type);
}

int64_t lnet_model_label_size(const LnetModel *m)
{
    for (int k = 0; k < m->K; k++)
        if (m->st[k].in_y >= 0)
            return ir_type_numel(&m->st[k].g->nodes[m->st[k].in_y]->type);
    return 0;
}

/* -------------------------------------------------------------- steps */

/* Copies the batch into every block that reads data; checks n and labels.
 * y NULL (inference): no labels — every label is class 0, so the losses
 * that still run read valid classes. */
static int feed(LnetModel *m, const float *x, const int32_t *y, int n, char **err)
{
    if (n < 1 || n > m->batch)
        return fail(err, "n = %d: a batch holds 1 to %d examples", n, m->batch);
    for (int k = 0; k < m->K; k++) {
        const RtBlockSpec *s = &m->st[k];
        if (s->in_x >= 0)
            memcpy(rt_exec_buffer(m->ex[k], s->in_x), x, rt_value_bytes(s->g, s->in_x, n));
        if (s->in_y < 0)
            continue;
        if (!y) {
            memset(rt_exec_buffer(m->ex[k], s->in_y), 0, rt_value_bytes(s->g, s->in_y, n));
            continue;
        }
        const IrNode *label = s->g->nodes[s->in_y];
        int64_t count = ir_type_numel(&label->type) * n;
        for (int64_t i = 0; i < count; i++)
            if (y[i] < 0 || (label->a.classes > 0 && y[i] >= label->a.classes))
                return fail(err, "label %lld is %d, not a class in [0, %lld)", (long long)i,
                            (int)y[i], (long long)label->a.classes);
        memcpy(rt_exec_buffer(m->ex[k], s->in_y), y, (size_t)count * sizeof *y);
    }
    return 0;
}

/* Block k's inputs from earlier blocks: values, and overlap's shared
 * parameters at their owner's latest version. */
static void pull(LnetModel *m, int k, int n)
{
    const RtBlockSpec *s = &m->st[k];
    for (int i = 0; i < s->n_links; i++) {
        const RtLink *l = &s->links[i];
        memcpy(rt_exec_buffer(m->ex[k], l->node), rt_exec_buffer(m->ex[l->src_block], l->src_node),
               rt_value_bytes(s->g, l->node, n));
    }
}

static float task_loss(LnetModel *m)
{
    return rt_exec_scalar(m->ex[m->K - 1], m->st[m->K - 1].g->loss);
}

int lnet_model_train_step(LnetModel *m, const float *inputs, const int32_t *labels, int n,
                          float *loss, char **error_message)
{
    if (!inputs || !labels)
        return fail(error_message, "no inputs or labels given");
    if (feed(m, inputs, labels, n, error_message))
        return 1;
    RtStepArgs a = {.n = n, .lr = m->lr, .step = m->c.step + 1, .seed = m->c.seed,
                    .train = true};
    for (int k = 0; k < m->K; k++) {
        pull(m, k, n);
        rt_exec_step(m->ex[k], &a);
    }
    m->c.step++;
    float l = task_loss(m);
    if (loss)
        *loss = l;
    if (!isfinite(l))
        return fail(error_message, "step %lld: the loss is %f", (long long)m->c.step, l);
    return 0;
}

/* Every block's forward pass in evaluation mode, in order. */
static void forward(LnetModel *m, int n)
{
    RtStepArgs a = {.n = n, .step = m->c.step + 1, .seed = m->c.seed, .train = false};
    for (int k = 0; k < m->K; k++) {
        pull(m, k, n);
        rt_exec_forward(m->ex[k], &a);
    }
}

int lnet_model_evaluate(LnetModel *m, const float *inputs, const int32_t *labels, int n,
                        float *loss, float *accuracy, char **error_message)
{
    if (!inputs || !labels)
        return fail(error_message, "no inputs or labels given");
    if (feed(m, inputs, labels, n, error_message))
        return 1;
    forward(m, n);
    RtExec *last = m->ex[m->K - 1];
    int head = m->st[m->K - 1].g->loss;
    if (loss)
        *loss = rt_exec_scalar(last, head);
    if (accuracy)
        *accuracy = (float)rt_exec_correct(last, head) /
                    (float)((int64_t)n * lnet_model_label_size(m));
    return 0;
}

/* ---------------------------------------------------------- inference */

/* The task head's logits: the first operand of the last block's loss. */
static int output_node(const LnetModel *m)
{
    const IrGraph *g = m->st[m->K - 1].g;
    return g->nodes[g->loss]->in[0];
}

int64_t lnet_model_output_size(const LnetModel *m)
{
    return ir_type_numel(&m->st[m->K - 1].g->nodes[output_node(m)]->type);
}

int lnet_model_predict(LnetModel *m, const float *inputs, int n, float *outputs, int64_t count,
                       char **error_message)
{
    if (!inputs || !outputs)
        return fail(error_message, "no inputs or no outputs given");
    if (feed(m, inputs, NULL, n, error_message))
        return 1;
    int64_t need = (int64_t)n * lnet_model_output_size(m);
    if (count < need)
        return fail(error_message, "outputs holds %lld floats; %d examples need %lld",
                    (long long)count, n, (long long)need);
    forward(m, n);
    memcpy(outputs, rt_exec_buffer(m->ex[m->K - 1], output_node(m)), (size_t)need * sizeof *outputs);
    return 0;
}

/* --------------------------------------------------------- parameters */

int lnet_model_parameter_count(const LnetModel *m) { return m->n_params; }

const char *lnet_model_parameter_name(const LnetModel *m, int i)
{
    return i >= 0 && i < m->n_params ? m->param_names[i] : NULL;
}

/* Calls fn on every copy of parameter `name` (a shared parameter has one in
 * each block that reads it); the number of copies. */
static int each_param(LnetModel *m, const char *name, void (*fn)(void *buf, void *ctx, size_t bytes),
                      void *ctx)
{
    int copies = 0;
    for (int k = 0; k < m->K; k++) {
        const IrGraph *g = m->tm.blocks[k];
        for (int i = 0; i < g->n_nodes; i++) {
            const IrNode *p = g->nodes[i];
            if (p->op == IR_OP_PARAM && p->name && strcmp(p->name, name) == 0) {
                copies++;
                if (fn)
                    fn(rt_exec_buffer(m->ex[k], i), ctx,
                       (size_t)ir_type_numel(&p->type) * sizeof(float));
            }
        }
    }
    return copies;
}

int64_t lnet_model_parameter_size(const LnetModel *m, const char *name)
{
    for (int k = 0; name && k < m->K; k++) {
        const IrGraph *g = m->tm.blocks[k];
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i]->op == IR_OP_PARAM && g->nodes[i]->name &&
                strcmp(g->nodes[i]->name, name) == 0)
                return ir_type_numel(&g->nodes[i]->type);
    }
    return -1;
}

static int check_param(LnetModel *m, const char *name, int64_t count, char **err)
{
    int64_t size = lnet_model_parameter_size(m, name);
    if (size < 0)
        return fail(err, "no parameter named '%s'", name ? name : "(null)");
    if (count != size)
        return fail(err, "parameter '%s' holds %lld floats, not %lld", name, (long long)size,
                    (long long)count);
    return 0;
}

static void copy_out(void *buf, void *ctx, size_t bytes) { memcpy(ctx, buf, bytes); }
static void copy_in(void *buf, void *ctx, size_t bytes) { memcpy(buf, ctx, bytes); }

int lnet_model_get_parameter(LnetModel *m, const char *name, float *values, int64_t count,
                             char **error_message)
{
    if (check_param(m, name, count, error_message))
        return 1;
    each_param(m, name, copy_out, values);   /* the last copy: the one checkpoints keep */
    return 0;
}

int lnet_model_set_parameter(LnetModel *m, const char *name, const float *values, int64_t count,
                             char **error_message)
{
    if (check_param(m, name, count, error_message))
        return 1;
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(values[i]))
            return fail(error_message, "parameter '%s': value %lld is not finite", name,
                        (long long)i);
    each_param(m, name, copy_in, (void *)values);
    return 0;
}

/* --------------------------------------------------------- checkpoints */

int lnet_model_save(LnetModel *m, const char *path, char **error_message)
{
    char msg[1024];
    if (!path)
        return fail(error_message, "no checkpoint path given");
    if (!rt_checkpoint_save(path, m->ex, m->K, &m->c, msg, sizeof msg))
        return fail(error_message, "%s", msg);
    return 0;
}

int lnet_model_load(LnetModel *m, const char *path, char **error_message)
{
    char msg[1024];
    if (!path)
        return fail(error_message, "no checkpoint path given");
    RtCounters c = m->c;
    if (!rt_checkpoint_load(path, m->ex, m->K, &c, msg, sizeof msg))
        return fail(error_message, "%s", msg);
    m->c = c;
    return 0;
}
