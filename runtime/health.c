/* health.c — a block's health after each step, and the dead-block check.
 *
 * A block of a local method learns only from its own head: when that head
 * is stuck at chance level, or no gradient reaches the block's parameters,
 * the block stops learning while the run goes on. Its health — the norm of
 * its parameters' gradients and the update-to-weight ratio — goes into the
 * step log, and a block that stays dead for RtTrainOpts.dead_block_steps
 * steps is reported once (a warning, or an error that stops the run).
 */
#include "trainer.h"

#include <math.h>
#include <stdio.h>

#define NO_GRAD_NORM 1e-8      /* a gradient norm below this is none */

/* Sum of squares of x[0..n): eight float lanes (vectorizable), added up in
 * double every 4096 elements. */
static double sum_sq(const float *x, int64_t n)
{
    double total = 0;
    for (int64_t c = 0; c < n; c += 4096) {
        int64_t end = c + 4096 < n ? c + 4096 : n, i = c;
        float lane[8] = {0};
        for (; i + 8 <= end; i += 8)
            for (int l = 0; l < 8; l++)
                lane[l] += x[i + l] * x[i + l];
        for (; i < end; i++)
            lane[0] += x[i] * x[i];
        for (int l = 0; l < 8; l++)
            total += lane[l];
    }
    return total;
}

/* L2 norms of block k's parameters' gradients (after its step: the memory
 * plan keeps the gradients of parameters) and, when the log shows the
 * ratio, of the parameters. */
static RtHealth measure(const Trainer *t, int k, float lr)
{
    const Block *s = &t->st[k];
    const IrGraph *g = s->spec.g;
    bool ratio = t->log != NULL;
    double ww = 0, gg = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *p = g->nodes[i];
        if (p->op != IR_OP_PARAM || p->grad < 0)
            continue;
        int64_t n = ir_type_numel(&p->type);
        gg += sum_sq(rt_exec_buffer(s->ex, p->grad), n);
        ww += ratio ? sum_sq(rt_exec_buffer(s->ex, i), n) : 0;
    }
    double gn = sqrt(gg), wn = sqrt(ww);
    return (RtHealth){.grad_norm = (float)gn, .update_ratio = wn > 0 ? (float)(lr * gn / wn) : 0,
                      .known = true};
}

/* The class count of head h when it is a cross-entropy over class labels,
 * else 0. */
static int head_classes(const Trainer *t, int h)
{
    const IrGraph *g = t->st[t->heads[h].block].spec.g;
    const IrNode *n = g->nodes[t->heads[h].node];
    if (n->op != IR_OP_CROSS_ENTROPY || n->n_in < 2)
        return 0;
    const IrNode *y = g->nodes[n->in[1]];
    return y->op == IR_OP_LABEL && y->a.classes > 1 ? y->a.classes : 0;
}

/* The class count of a head of block k whose loss is within 1% of
 * ln(classes), the loss of a uniform guess; 0 when none is. */
static int chance_classes(const Trainer *t, int k, const float *losses)
{
    for (int h = 0; h < t->n_heads; h++) {
        int c = t->heads[h].block == k ? head_classes(t, h) : 0;
        if (c && fabs(losses[h] - log(c)) <= 0.01 * log(c))
            return c;
    }
    return 0;
}

/* Whether g has a parameter with a gradient (else its gradient norm is 0
 * and says nothing). */
static bool has_grads(const IrGraph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == IR_OP_PARAM && g->nodes[i]->grad >= 0)
            return true;
    return false;
}

bool rt_block_watch(Trainer *t, int k, int64_t step, float lr, const float *losses, char *err,
                    size_t errcap)
{
    Block *s = &t->st[k];
    bool grads = t->log || t->o->watch_grads;
    s->health = grads ? measure(t, k, lr) : (RtHealth){0};
    int64_t n = t->o->dead_block_steps;
    if (n <= 0 || s->dead || t->replica > 0)
        return true;    /* off, reported already, or another replica reports it */
    int classes = chance_classes(t, k, losses);
    s->chance_run = classes ? s->chance_run + 1 : 0;
    bool still = grads && s->health.grad_norm < NO_GRAD_NORM && has_grads(s->spec.g);
    s->still_run = still ? s->still_run + 1 : 0;
    if (s->chance_run < n && s->still_run < n)
        return true;
    s->dead = true;
    char why[128];
    if (s->chance_run >= n)
        snprintf(why, sizeof why, "its loss has stayed at chance level (ln %d = %.3f)", classes,
                 log(classes));
    else
        snprintf(why, sizeof why, "its gradient norm has stayed below %g", NO_GRAD_NORM);
    /* steps are 1-based for the user: this one is step + 1 */
    char msg[256];
    snprintf(msg, sizeof msg, "block %d looks dead: %s for %lld steps (since step %lld)", k + 1,
             why, (long long)n, (long long)(step + 2 - n));
    if (t->o->fail_on_dead_block) {
        snprintf(err, errcap, "%s; stopping (--fail-on-dead-block) — the last checkpoint, if "
                 "any, is kept", msg);
        return false;
    }
    fprintf(stderr, "lnet train: warning: %s\n", msg);
    return true;
}
