/* train_impl.h — the training loop's state, shared by train.c (the loop) and
 * report.c (step log, progress line, final JSON report). */
#ifndef LNET_RT_TRAIN_IMPL_H
#define LNET_RT_TRAIN_IMPL_H

#include "checkpoint.h"
#include "feed.h"
#include "exec.h"
#include "train.h"

#define RT_MAX_HEADS 64

typedef struct Trainer {
    const IrGraph *g;
    const RtTrainOpts *o;
    RtFeed feed;
    RtExec *ex;
    RtCounters c;
    int64_t steps_per_epoch, total_steps, steps_run;
    int n_heads;
    int heads[RT_MAX_HEADS];        /* loss node ids: the task loss first */
    float loss[RT_MAX_HEADS];       /* of the last step */
    RtEval eval[RT_MAX_HEADS];      /* of the last evaluation */
    bool evaluated;
    float lr;
    double start_s, train_s;        /* wall clock start; time inside steps */
    double last_progress_s;
    FILE *log;
    bool log_csv;
} Trainer;

const char *rt_head_name(const Trainer *t, int h);
bool rt_log_open(Trainer *t, char *err, size_t errcap);
void rt_log_close(Trainer *t);
void rt_log_step(Trainer *t);
void rt_log_eval(Trainer *t);
/* The progress line: redrawn on a terminal, plain lines otherwise. */
void rt_progress(Trainer *t, bool epoch_end);
bool rt_report_write(Trainer *t, const RtTrainResult *res, char *err, size_t errcap);
int64_t rt_peak_rss_bytes(void);

#endif
