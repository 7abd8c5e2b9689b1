/* gradsim.c — gradient similarity: how far each block's local gradient is
 * from the true backprop gradient (docs/analyses.md).
 *
 * On one batch and one set of weights, the blocks' step graphs give each
 * parameter's local gradient (its block's own head loss, no gradient across
 * a block boundary) and the model compiled with backprop gives the true one
 * (the task loss through the whole network); the cosine of the two is one
 * row per parameter tensor. Both run on interpreter copies of the graphs
 * that get the trainer's parameters copied in, forward and backward only:
 * the trainer's executors, optimizer states and data order are only read,
 * so a run that measures trains bit for bit as one that does not.
 */
#include "rt_impl.h"
#include "trainer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GRADSIM_CSV_HEAD "step,block,layer,param,cosine"

typedef struct RtGradSim RtGradSim;

/* A parameter of the network: node `node` of block `block`'s graph, node
 * `ref` of the reference graph; frozen (--method last-layer): it has no
 * local gradient and gets no row, but its weights go to the reference. */
typedef struct GsParam {
    int block, node, ref;
    bool frozen;
} GsParam;

struct RtGradSim {
    RtExec *ex[RT_MAX_BLOCKS];      /* interpreter copies of the blocks */
    RtExec *ref;                    /* and of the reference (backprop) graph */
    int ref_x, ref_y;               /* its data and label inputs */
    int n, n_rows;
    GsParam *p;                     /* (n) in block order, then node order */
    RtGradSimRow *rows;             /* (n_rows) of the last measurement */
    FILE *log;
    const char *log_path;
};

static int find_op(const IrGraph *g, IrOp op)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == op)
            return i;
    return -1;
}

static int find_param(const IrGraph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (n->op == IR_OP_PARAM && n->grad >= 0 && n->name && strcmp(n->name, name) == 0)
            return i;
    }
    return -1;
}

/* Every trained parameter of the blocks that the reference has too (an
 * auxiliary head's has no true gradient); false (with err) when a parameter
 * of the reference is in no block: it would keep no weights. */
static bool map_params(const Trainer *t, RtGradSim *gs, const IrGraph *ref, char *err,
                       size_t errcap)
{
    int total = 0;
    for (int k = 0; k < t->K; k++)
        total += t->st[k].spec.g->n_nodes;
    gs->p = calloc((size_t)total + 1, sizeof *gs->p);
    gs->rows = calloc((size_t)total + 1, sizeof *gs->rows);
    if (!gs->p || !gs->rows) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    for (int k = 0; k < t->K; k++) {
        const IrGraph *g = t->st[k].spec.g;
        for (int i = 0; i < g->n_nodes; i++) {
            const IrNode *n = g->nodes[i];
            int r = n->op == IR_OP_PARAM && n->name ? find_param(ref, n->name) : -1;
            if (r >= 0)
                gs->p[gs->n++] = (GsParam){k, i, r, n->grad < 0};
        }
    }
    for (int i = 0; i < ref->n_nodes; i++) {
        const IrNode *n = ref->nodes[i];
        bool found = false;
        for (int j = 0; j < gs->n && !found; j++)
            found = gs->p[j].ref == i;
        if (n->op == IR_OP_PARAM && !found) {
            snprintf(err, errcap, "gradient similarity: parameter '%s' of the backprop graph "
                     "is in none of the blocks", n->name ? n->name : "?");
            return false;
        }
    }
    return true;
}

/* The CSV log: appended to; an existing file must be such a log. */
static bool open_log(RtGradSim *gs, const char *path, char *err, size_t errcap)
{
    char line[64] = "";
    FILE *r = fopen(path, "r");
    if (r) {
        if (!fgets(line, sizeof line, r))
            line[0] = '\0';
        fclose(r);
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] && strcmp(line, GRADSIM_CSV_HEAD) != 0) {
            snprintf(err, errcap, "--gradsim-log '%s': not a gradient-similarity log (its first "
                     "line is not '" GRADSIM_CSV_HEAD "'); refusing to append to it", path);
            return false;
        }
    }
    gs->log = fopen(path, "a");
    gs->log_path = path;
    if (!gs->log) {
        snprintf(err, errcap, "cannot write --gradsim-log '%s': %s", path, strerror(errno));
        return false;
    }
    if (!line[0])
        fputs(GRADSIM_CSV_HEAD "\n", gs->log);
    return true;
}

bool rt_gradsim_open(Trainer *t, char *err, size_t errcap)
{
    const RtTrainOpts *o = t->o;
    t->gradsim_step = -1;
    if (!o->gradsim_every && !o->gradsim_only)
        return true;
    if (t->comm) {
        snprintf(err, errcap, "gradient similarity is measured in a run of one process (not "
                 "under mpirun)");
        return false;
    }
    if (t->kind == RT_SCHED_PIPELINE) {
        snprintf(err, errcap, "gradient similarity does not apply to --schedule pipeline: its "
                 "stages are backprop cut in pieces, with no local gradient");
        return false;
    }
    const IrGraph *ref = o->gradsim_ref;
    RtGradSim *gs = calloc(1, sizeof *gs);
    if (!gs || !ref) {
        free(gs);
        snprintf(err, errcap, ref ? "out of memory" : "gradient similarity needs the model "
                 "compiled with backprop (RtTrainOpts.gradsim_ref)");
        return false;
    }
    t->gradsim = gs;
    gs->ref_x = find_op(ref, IR_OP_INPUT);
    gs->ref_y = find_op(ref, IR_OP_LABEL);
    for (int k = 0; k < t->K; k++)
        if (!(gs->ex[k] = rt_exec_interp_new(t->st[k].spec.g, t->n_step, err, errcap)))
            return false;
    if (!(gs->ref = rt_exec_interp_new(ref, t->n_step, err, errcap)))
        return false;
    return map_params(t, gs, ref, err, errcap) &&
           (!o->gradsim_log || open_log(gs, o->gradsim_log, err, errcap));
}

static size_t node_bytes(const IrGraph *g, int id)
{
    return (size_t)ir_type_numel(&g->nodes[id]->type) * 4;
}

/* The trainer's parameters and states into the copies. */
static void copy_weights(Trainer *t, RtGradSim *gs)
{
    for (int k = 0; k < t->K; k++) {
        const IrGraph *g = t->st[k].spec.g;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i]->op == IR_OP_PARAM || g->nodes[i]->op == IR_OP_STATE)
                memcpy(rt_exec_buffer(gs->ex[k], i), rt_exec_buffer(t->st[k].ex, i),
                       node_bytes(g, i));
    }
    for (int j = 0; j < gs->n; j++) {
        const GsParam *p = &gs->p[j];
        memcpy(rt_exec_buffer(gs->ref, p->ref), rt_exec_buffer(t->st[p->block].ex, p->node),
               node_bytes(t->st[p->block].spec.g, p->node));
    }
}

/* The batch the next step trains on, into the copies' inputs and labels. */
static void feed_batch(Trainer *t, RtGradSim *gs, int n)
{
    int32_t *y = NULL;
    for (int k = 0; k < t->K && !y; k++)
        if (t->st[k].spec.in_y >= 0)
            y = rt_exec_buffer(gs->ex[k], t->st[k].spec.in_y);
    const Block *b0 = &t->st[0];
    void *x = rt_exec_buffer(gs->ex[0], b0->spec.in_x);
    rt_feed_train_batch(&t->feed, t->c.epoch, t->c.step_in_epoch, x, y);
    for (int k = 0; k < t->K; k++) {
        int in_y = t->st[k].spec.in_y;
        void *dst = in_y >= 0 ? rt_exec_buffer(gs->ex[k], in_y) : NULL;
        if (dst && dst != y)
            memcpy(dst, y, rt_value_bytes(t->st[k].spec.g, in_y, n));
    }
    const IrGraph *ref = t->o->gradsim_ref;
    memcpy(rt_exec_buffer(gs->ref, gs->ref_x), x, rt_value_bytes(ref, gs->ref_x, n));
    memcpy(rt_exec_buffer(gs->ref, gs->ref_y), y, rt_value_bytes(ref, gs->ref_y, n));
}

/* Block k's forward and backward on the copies, its links taken from the
 * copies as the lockstep schedule takes them (a shared parameter: the
 * owner's current value). */
static void block_grads(Trainer *t, RtGradSim *gs, int k, const RtStepArgs *a)
{
    const RtBlockSpec *s = &t->st[k].spec;
    for (int i = 0; i < s->n_links; i++) {
        const RtLink *l = &s->links[i];
        memcpy(rt_exec_buffer(gs->ex[k], l->node), rt_exec_buffer(gs->ex[l->src_block], l->src_node),
               rt_value_bytes(s->g, l->node, a->n));
    }
    rt_exec_forward(gs->ex[k], a);
    rt_exec_backward(gs->ex[k], a);
}

static void compare(Trainer *t, RtGradSim *gs, const GsParam *p)
{
    const IrGraph *g = t->st[p->block].spec.g, *ref = t->o->gradsim_ref;
    const IrNode *n = g->nodes[p->node];
    const float *lg = rt_exec_buffer(gs->ex[p->block], n->grad);
    const float *tg = rt_exec_buffer(gs->ref, ref->nodes[p->ref]->grad);
    RtGradSimRow *r = &gs->rows[gs->n_rows++];
    *r = (RtGradSimRow){.block = p->block + 1};
    snprintf(r->param, sizeof r->param, "%s", n->name);
    const char *dot = strrchr(n->name, '.');
    int len = dot ? (int)(dot - n->name) : (int)strlen(n->name);
    snprintf(r->layer, sizeof r->layer, "%.*s", len, n->name);
    for (int64_t i = 0, m = ir_type_numel(&n->type); i < m; i++) {
        r->dot += (double)lg[i] * tg[i];
        r->local_sq += (double)lg[i] * lg[i];
        r->true_sq += (double)tg[i] * tg[i];
    }
    r->cosine = r->local_sq > 0 && r->true_sq > 0 ? r->dot / sqrt(r->local_sq * r->true_sq)
                                                  : NAN;
}

bool rt_gradsim_measure(Trainer *t, char *err, size_t errcap)
{
    RtGradSim *gs = t->gradsim;
    int64_t step = t->c.step;
    RtStepArgs a = {.n = t->n_step, .lr = rt_lr_at(t, step), .step = step + 1,
                    .seed = t->c.seed, .train = true};
    copy_weights(t, gs);
    feed_batch(t, gs, a.n);
    for (int k = 0; k < t->K; k++)
        block_grads(t, gs, k, &a);
    rt_exec_forward(gs->ref, &a);
    rt_exec_backward(gs->ref, &a);
    gs->n_rows = 0;
    for (int j = 0; j < gs->n; j++)
        if (!gs->p[j].frozen)
            compare(t, gs, &gs->p[j]);
    t->gradsim_step = step;
    if (t->o->gradsim_sink)
        t->o->gradsim_sink->rows(t->o->gradsim_sink, step, gs->rows, gs->n_rows);
    if (!gs->log)
        return true;
    errno = 0;
    for (int j = 0; j < gs->n_rows; j++) {
        const RtGradSimRow *r = &gs->rows[j];
        fprintf(gs->log, "%lld,%d,%s,%s,%.9g\n", (long long)step, r->block, r->layer, r->param,
                r->cosine);
    }
    if (fflush(gs->log) == 0 && !ferror(gs->log))
        return true;
    snprintf(err, errcap, "cannot write --gradsim-log '%s': %s", gs->log_path,
             strerror(errno ? errno : EIO));
    return false;
}

void rt_gradsim_close(Trainer *t)
{
    RtGradSim *gs = t->gradsim;
    if (!gs)
        return;
    for (int k = 0; k < t->K; k++)
        rt_exec_free(gs->ex[k]);
    rt_exec_free(gs->ref);
    if (gs->log)
        fclose(gs->log);
    free(gs->p);
    free(gs->rows);
    free(gs);
    t->gradsim = NULL;
}
