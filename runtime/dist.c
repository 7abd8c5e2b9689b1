/* dist.c — the trainer's side of a distributed run (trainer.h, comm.h).
 *
 * Every rank runs the same trainer on the same model and data and takes the
 * same decisions (segments, evaluations, stops) at the same steps; what
 * differs is which blocks it trains. The blocks are cut into R contiguous
 * groups by the cost model (the placement of the threaded schedule, one
 * level up) and group g runs on rank R - 1 - g: the last group, with the
 * task head, is on rank 0, so every step's losses reach rank 0 with the
 * activations and it alone logs, evaluates, reports and saves.
 *
 * A rank holds executors only for the blocks it needs: its own, the blocks
 * whose shared parameters its blocks read (overlap: the initial version), and
 * on rank 0 every block, for evaluation and checkpoints. Before rank 0
 * evaluates, the owners send it their blocks' parameters and optimizer
 * states (rt_dist_gather); after a resume, rank 0 sends them out
 * (rt_dist_scatter). Both walk the blocks in order, so each pair of ranks
 * exchanges its tensors in one fixed order.
 */
#include "trainer.h"

#include <stdio.h>
#include <string.h>

/* Ranks: replica p of group g is rank (G - 1 - g) * P + p. */
static int groups(const Trainer *t) { return t->ranks / t->replicas; }
static int group_of_rank(const Trainer *t, int r) { return groups(t) - 1 - r / t->replicas; }

int rt_dist_rank_of(const Trainer *t, int k)
{
    return (groups(t) - 1 - rt_place_worker(&t->groups, k)) * t->replicas;
}

int rt_dist_peer(const Trainer *t, int k) { return rt_dist_rank_of(t, k) + t->replica; }

/* Rank r needs an executor for block k. */
static bool needs(const Trainer *t, int r, int k)
{
    int g = group_of_rank(t, r);
    if (r == 0 || rt_place_worker(&t->groups, k) == g)
        return true;
    for (int j = 0; j < t->K; j++)
        for (int i = 0; i < t->st[j].spec.n_links; i++) {
            const RtLink *l = &t->st[j].spec.links[i];
            if (l->kind == RT_LINK_PARAM && l->src_block == k &&
                rt_place_worker(&t->groups, j) == g)
                return true;
        }
    return false;
}

bool rt_dist_place(Trainer *t, const RtBlockSpec *specs, char *err, size_t errcap)
{
    t->rank = t->comm->rank;
    t->ranks = t->comm->size;
    int P = t->replicas = t->o->replicas > 1 ? t->o->replicas : 1;
    if (t->ranks % P != 0) {
        snprintf(err, errcap, "--replicas %d: the %d ranks (mpirun -np) must be a multiple of "
                 "the replicas (ranks = block groups x replicas)", P, t->ranks);
        return false;
    }
    if (t->feed.batch % P != 0) {
        snprintf(err, errcap, "--replicas %d: the batch of %d must be a multiple of the "
                 "replicas (they split it)", P, t->feed.batch);
        return false;
    }
    int G = t->ranks / P;
    if (t->K < G) {
        snprintf(err, errcap, "%d ranks%s need at least %d blocks, but the model has %d; use "
                 "--blocks %d or more, or fewer ranks (mpirun -np)", t->ranks,
                 P > 1 ? " in groups of replicas" : "", G, t->K, G);
        return false;
    }
    t->replica = t->rank % P;
    t->n_step = t->feed.batch / P;
    if (t->o->schedule != RT_SCHED_DEFAULT && t->o->schedule != RT_SCHED_LOCAL) {
        snprintf(err, errcap, "--schedule %s runs in one process; under mpirun with %d ranks "
                 "the blocks train with the local schedule", rt_sched_name(t->o->schedule),
                 t->ranks);
        return false;
    }
    if (t->o->eval_only) {
        snprintf(err, errcap, "lnet eval runs in one process: start it without mpirun");
        return false;
    }
    double cost[RT_MAX_BLOCKS];
    for (int k = 0; k < t->K; k++) {
        cost[k] = specs[k].cost;
        t->st[k].spec = specs[k];   /* the links, for needs() */
    }
    rt_place(cost, t->K, G, &t->groups);
    int g = group_of_rank(t, t->rank);
    t->b0 = t->groups.first[g];
    t->b1 = t->groups.first[g + 1];
    for (int k = 0; k < t->K; k++)
        t->has[k] = needs(t, t->rank, k);
    return true;
}

static bool saved(const IrNode *n) { return n->op == IR_OP_PARAM || n->op == IR_OP_STATE; }

/* Block k's parameters and states to (send) or from (!send) rank `peer`. */
static void move_block(Trainer *t, int k, int peer, bool send)
{
    RtExec *ex = t->st[k].ex;
    const IrGraph *g = t->st[k].spec.g;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!saved(g->nodes[i]))
            continue;
        void *p = rt_exec_buffer(ex, i);
        size_t bytes = rt_value_bytes(g, i, 1);
        if (send)
            t->comm->ops->send(t->comm, peer, RT_TAG_TENSOR, p, bytes);
        else
            t->comm->ops->recv(t->comm, peer, RT_TAG_TENSOR, p, bytes);
    }
}

void rt_dist_scatter(Trainer *t)
{
    RtComm *c = t->comm;
    if (t->rank == 0) {
        for (int r = 1; r < t->ranks; r++)
            c->ops->send(c, r, RT_TAG_TENSOR, &t->c, sizeof t->c);
        for (int k = 0; k < t->K; k++)
            for (int r = 1; r < t->ranks; r++)
                if (needs(t, r, k))
                    move_block(t, k, r, true);
        return;
    }
    c->ops->recv(c, 0, RT_TAG_TENSOR, &t->c, sizeof t->c);
    for (int k = 0; k < t->K; k++)
        if (t->has[k])
            move_block(t, k, 0, false);
}

void rt_dist_gather(Trainer *t)
{
    for (int k = 0; k < t->K; k++) {
        int owner = rt_dist_rank_of(t, k);
        if (owner != 0 && t->rank == owner)
            move_block(t, k, 0, true);
        else if (owner != 0 && t->rank == 0)
            move_block(t, k, owner, false);
    }
}

void rt_dist_share_eval(Trainer *t)
{
    RtComm *c = t->comm;
    size_t bytes = (size_t)t->n_heads * sizeof *t->eval;
    if (t->rank == 0)
        for (int r = 1; r < t->ranks; r++)
            c->ops->send(c, r, RT_TAG_EVAL, t->eval, bytes);
    else
        c->ops->recv(c, 0, RT_TAG_EVAL, t->eval, bytes);
}

void rt_dist_agree(Trainer *t)
{
    const RtCounters *n = &t->c;
    int64_t v[7] = {t->o->stop && *t->o->stop, n->step, -n->step, n->epoch, -n->epoch,
                    n->step_in_epoch, -n->step_in_epoch};
    t->comm->ops->max(t->comm, v, 7);
    t->stop_agreed = t->stop_agreed || v[0];
    if (v[1] != -v[2] || v[3] != -v[4] || v[5] != -v[6]) {
        char msg[256];
        snprintf(msg, sizeof msg, "the ranks disagree on the step reached (%lld to %lld): "
                 "this is a bug in lnet", (long long)-v[2], (long long)v[1]);
        t->comm->ops->abort(t->comm, msg);
    }
}

void rt_dist_gather_stats(Trainer *t)
{
    RtComm *c = t->comm;
    if (t->rank != 0) {
        int64_t n = t->n_workers;
        c->ops->send(c, 0, RT_TAG_STATS, &n, sizeof n);
        c->ops->send(c, 0, RT_TAG_STATS, t->ws, (size_t)n * sizeof *t->ws);
        return;
    }
    for (int r = 1; r < t->ranks; r++) {
        int64_t n = 0;
        c->ops->recv(c, r, RT_TAG_STATS, &n, sizeof n);
        if (n < 0 || t->n_workers + n > RT_MAX_BLOCKS)
            c->ops->abort(c, "a rank sent a bad worker count (a bug in lnet)");
        c->ops->recv(c, r, RT_TAG_STATS, t->ws + t->n_workers, (size_t)n * sizeof *t->ws);
        t->n_workers += (int)n;
    }
    for (int i = 1; i < t->n_workers; i++)     /* in block order */
        for (int j = i; j > 0 && t->ws[j].first_block < t->ws[j - 1].first_block; j--) {
            RtWorkerStats w = t->ws[j];
            t->ws[j] = t->ws[j - 1];
            t->ws[j - 1] = w;
        }
}

void rt_dist_reduce(Trainer *t, int k, float *losses)
{
    RtComm *c = t->comm;
    Block *s = &t->st[k];
    const RtGrads *gr = &s->grads;
    int64_t n = gr->start[gr->n];
    float *buf = s->gbuf;
    size_t bytes = (size_t)(n + RT_MAX_HEADS) * sizeof *buf;
    int lead = t->rank - t->replica, tag = RT_TAG_GRAD + k;
    if (t->replica > 0) {
        for (int j = 0; j < gr->n; j++)
            memcpy(buf + gr->start[j], rt_exec_buffer(s->ex, gr->node[j]),
                   (size_t)(gr->start[j + 1] - gr->start[j]) * sizeof *buf);
        memcpy(buf + n, losses, RT_MAX_HEADS * sizeof *buf);
        c->ops->send(c, lead, tag, buf, bytes);
        c->ops->recv(c, lead, tag, buf, bytes);
    } else {
        /* the sum in replica order, scaled, as the data-parallel schedule */
        float sum[RT_MAX_HEADS];
        for (int h = 0; h < t->n_heads; h++)
            sum[h] = t->heads[h].block == k ? 0.0f + losses[h] : 0;
        for (int p = 1; p < t->replicas; p++) {
            c->ops->recv(c, lead + p, tag, buf, bytes);
            for (int j = 0; j < gr->n; j++) {
                float *g = rt_exec_buffer(s->ex, gr->node[j]);
                const float *q = buf + gr->start[j];
                for (int64_t i = 0, m = gr->start[j + 1] - gr->start[j]; i < m; i++)
                    g[i] += q[i];
            }
            for (int h = 0; h < t->n_heads; h++)
                sum[h] += t->heads[h].block == k ? buf[n + h] : 0;
        }
        float scale = 1.0f / (float)t->replicas;
        for (int j = 0; j < gr->n; j++) {
            float *g = rt_exec_buffer(s->ex, gr->node[j]);
            for (int64_t i = 0, m = gr->start[j + 1] - gr->start[j]; i < m; i++)
                buf[gr->start[j] + i] = g[i] *= scale;
        }
        for (int h = 0; h < t->n_heads; h++)
            buf[n + h] = sum[h] / (float)t->replicas;
        for (int p = 1; p < t->replicas; p++)
            c->ops->send(c, lead + p, tag, buf, bytes);
    }
    for (int j = 0; j < gr->n && t->replica > 0; j++)
        memcpy(rt_exec_buffer(s->ex, gr->node[j]), buf + gr->start[j],
               (size_t)(gr->start[j + 1] - gr->start[j]) * sizeof *buf);
    for (int h = 0; h < t->n_heads; h++)
        if (t->heads[h].block == k)
            losses[h] = buf[n + h];
}
