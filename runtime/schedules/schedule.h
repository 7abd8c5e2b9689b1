/* schedule.h — the one interface of every schedule: how a trainer's blocks
 * run on its threads.
 *
 * The trainer (trainer.h) calls init once the blocks have executors, then
 * run for each segment of an epoch (segments end at evaluations, at
 * --max-steps and at a stop request), then fini. A schedule trains batches
 * [c.step_in_epoch, end) of the current epoch, reports every finished step
 * through rt_trainer_step_done in step order, and returns when they are done
 * (or at the first step boundary after rt_stopping). Between two run calls
 * no schedule thread touches an executor, so the trainer can evaluate and
 * save. Each schedule is one file; none calls another.
 */
#ifndef LNET_RT_SCHEDULE_H
#define LNET_RT_SCHEDULE_H

#include "trainer.h"

typedef struct RtSchedule {
    const char *name;               /* as --schedule spells it */
    bool (*init)(Trainer *t, char *err, size_t errcap);
    bool (*run)(Trainer *t, int64_t end, char *err, size_t errcap);
    void (*fini)(Trainer *t);       /* also after a failed init */
} RtSchedule;

extern const RtSchedule rt_schedule_sequential;    /* sequential.c */
extern const RtSchedule rt_schedule_local;         /* local.c */
extern const RtSchedule rt_schedule_data_parallel; /* data_parallel.c */
extern const RtSchedule rt_schedule_pipeline;      /* gpipe.c */

#endif
