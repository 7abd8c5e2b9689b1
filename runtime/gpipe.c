/* gpipe.c — the pipeline (GPipe) baseline (in progress). */
#include "train_impl.h"

bool rt_gpipe_init(Trainer *t, char *err, size_t errcap)
{
    (void)t;
    snprintf(err, errcap, "the pipeline schedule is not implemented yet");
    return false;
}

bool rt_gpipe_step(Trainer *t, int64_t step, float *losses, char *err, size_t errcap)
{
    (void)t, (void)step, (void)losses;
    snprintf(err, errcap, "the pipeline schedule is not implemented yet");
    return false;
}

void rt_gpipe_fini(Trainer *t) { (void)t; }
