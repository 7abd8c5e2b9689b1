/* sequential.c — the lockstep schedule: each batch through every block in
 * turn, on the trainer's thread.
 *
 * Block k's products run on the team of the worker the placement gives it,
 * the same thread count as in the local schedule, so both compute the same
 * bits (OpenBLAS's results depend on how a product is split). With one
 * block this is plain backprop on all the cores of the budget.
 */
#include "schedule.h"

static bool seq_init(Trainer *t, char *err, size_t errcap)
{
    (void)err, (void)errcap;
    int most = 1;       /* the largest team a block's products run on */
    for (int w = 0; w < t->place.workers; w++)
        most = t->place.threads[w] > most ? t->place.threads[w] : most;
    t->n_workers = 1;
    t->ws[0] = (RtWorkerStats){.first_block = 0, .last_block = t->K - 1, .threads = most};
    return true;
}

/* Every block in turn on the batch in their buffers, each on its team. */
static bool seq_step(Trainer *t, int64_t step, float *loss, char *err, size_t errcap)
{
    bool ok = true;
    for (int k = 0; ok && k < t->K; k++) {
        rt_team_bind(t->team[t->st[k].worker]);
        ok = rt_block_step(t, k, 0, step, loss, err, errcap);
    }
    rt_team_bind(NULL);
    t->ws[0].steps += ok;
    return ok;
}

static bool seq_run(Trainer *t, int64_t end, char *err, size_t errcap)
{
    return rt_trainer_run_batches(t, end, seq_step, err, errcap);
}

static void seq_fini(Trainer *t) { (void)t; }

const RtSchedule rt_schedule_sequential = {"sequential", seq_init, seq_run, seq_fini};
