/* report.c — what a training run tells the user: the step log (CSV or JSON
 * lines), the progress line, and the final JSON report. */
#include "rt_impl.h"
#include "profile.h"
#include "schedule.h"
#include "json.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

double rt_train_elapsed(const Trainer *t)
{
    return t->train_s + (t->seg_start_s > 0 ? rt_now_s() - t->seg_start_s : 0);
}

const char *rt_head_name(const Trainer *t, int h)
{
    if (h == 0)
        return "task";
    const IrNode *n = t->st[t->heads[h].block].spec.g->nodes[t->heads[h].node];
    return n->name ? n->name : "aux";
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A write, flush or close of the log failed (errno says why): err names the
 * file. */
static bool log_failed(const Trainer *t, char *err, size_t errcap)
{
    snprintf(err, errcap, "cannot write log '%s': %s", t->o->log_path,
             strerror(errno ? errno : EIO));
    return false;
}

bool rt_log_open(Trainer *t, char *err, size_t errcap)
{
    if (!t->o->log_path)
        return true;
    errno = 0;
    t->log = fopen(t->o->log_path, "w");
    if (!t->log)
        return log_failed(t, err, errcap);
    t->log_csv = ends_with(t->o->log_path, ".csv");
    if (t->log_csv) {
        fputs(RT_LOG_CSV_HEAD "train_s,lr,examples_per_s", t->log);
        for (int h = 0; h < t->n_heads; h++)
            fprintf(t->log, ",loss_%s,acc_%s", rt_head_name(t, h), rt_head_name(t, h));
        for (int k = 1; k <= t->K; k++)
            fprintf(t->log, ",grad_norm_%d,update_ratio_%d", k, k);
        fputc('\n', t->log);
    }
    return !ferror(t->log) || log_failed(t, err, errcap);
}

bool rt_log_close(Trainer *t, char *err, size_t errcap)
{
    if (!t->log)
        return true;
    errno = 0;
    bool ok = !ferror(t->log);
    ok = fclose(t->log) == 0 && ok;
    t->log = NULL;
    return ok || log_failed(t, err, errcap);
}

static double rate(const Trainer *t)
{
    double el = rt_train_elapsed(t);
    return el > 0 ? (double)t->steps_run * t->feed.batch / el : 0;
}

/* The step's health of every block this process holds (rt_block_watch). */
static void log_health(const Trainer *t, FILE *f)
{
    fputs(",\"blocks\":[", f);
    for (int k = 0, n = 0; k < t->K; k++) {
        const RtHealth *h = &t->health[k];
        if (h->known)
            fprintf(f, "%s{\"block\":%d,\"grad_norm\":%.6g,\"update_ratio\":%.6g}",
                    n++ ? "," : "", k + 1, h->grad_norm, h->update_ratio);
    }
    fputc(']', f);
}

/* A training row (ev NULL: the step's losses and health) or an evaluation
 * row (ev: every head's evaluation). */
static void log_row(Trainer *t, const char *kind, const RtEval *ev)
{
    FILE *f = t->log;
    bool eval = ev != NULL;
    if (t->log_csv) {
        fprintf(f, "%s,%lld,%lld,%.3f,%g,%.1f", kind, (long long)t->c.step, (long long)t->c.epoch,
                rt_train_elapsed(t), t->lr, rate(t));
        for (int h = 0; h < t->n_heads; h++) {
            if (eval)
                fprintf(f, ",%.6g,%.6g", ev[h].loss, ev[h].accuracy);
            else
                fprintf(f, ",%.6g,", t->loss[h]);
        }
        for (int k = 0; k < t->K; k++) {
            if (eval || !t->health[k].known)
                fputs(",,", f);
            else
                fprintf(f, ",%.6g,%.6g", t->health[k].grad_norm, t->health[k].update_ratio);
        }
        fputc('\n', f);
        return;
    }
    fprintf(f, RT_LOG_JSON_HEAD "%s\",\"step\":%lld,\"epoch\":%lld,\"train_s\":%.3f,\"lr\":%g,"
               "\"examples_per_s\":%.1f",
            kind, (long long)t->c.step, (long long)t->c.epoch, rt_train_elapsed(t), t->lr, rate(t));
    fprintf(f, ",\"loss\":%.6g", eval ? ev[0].loss : t->loss[0]);
    if (eval)
        fprintf(f, ",\"accuracy\":%.6g", ev[0].accuracy);
    fputs(",\"heads\":[", f);
    for (int h = 0; h < t->n_heads; h++) {
        fprintf(f, "%s{\"name\":", h ? "," : "");
        rt_json_write_string(f, rt_head_name(t, h));
        fprintf(f, ",\"loss\":%.6g", eval ? ev[h].loss : t->loss[h]);
        if (eval)
            fprintf(f, ",\"accuracy\":%.6g", ev[h].accuracy);
        fputc('}', f);
    }
    fputc(']', f);
    if (!eval)
        log_health(t, f);
    fputs("}\n", f);
}

/* A row is buffered: a failed write shows as the stream's error flag, seen
 * here at the row after it (stdio reports it at the next flush at the latest). */
bool rt_log_step(Trainer *t, char *err, size_t errcap)
{
    if (!t->log)
        return true;
    errno = 0;
    log_row(t, "train", NULL);
    return !ferror(t->log) || log_failed(t, err, errcap);
}

bool rt_log_eval(Trainer *t, char *err, size_t errcap)
{
    if (!t->log)
        return true;
    errno = 0;
    log_row(t, "eval", t->eval);
    if (t->o->eval_train > 0)   /* every head on the first N training examples */
        log_row(t, "eval_train", t->train_eval);
    return (fflush(t->log) == 0 && !ferror(t->log)) || log_failed(t, err, errcap);
}

static void print_eval(const Trainer *t, FILE *out)
{
    if (t->feed.text)
        fprintf(out, "val %.3f bits/byte", t->eval[0].loss / log(2.0));
    else
        fprintf(out, "test loss %.4f acc %.2f%%", t->eval[0].loss, 100 * t->eval[0].accuracy);
    for (int h = 1; h < t->n_heads; h++)
        fprintf(out, " | %s acc %.2f%%", rt_head_name(t, h), 100 * t->eval[h].accuracy);
}

void rt_progress(Trainer *t, bool epoch_end)
{
    FILE *out = t->o->out;
    if (t->o->quiet || !out)
        return;
    double now = rt_now_s();
    if (!epoch_end && now - t->last_progress_s < (t->o->progress_tty ? 0.1 : 5.0))
        return;
    t->last_progress_s = now;
    double left = (double)(t->total_steps - t->c.step);
    double eta = t->steps_run ? rt_train_elapsed(t) / (double)t->steps_run * left : 0;
    int64_t ep = epoch_end && t->c.step_in_epoch == 0 ? t->c.epoch : t->c.epoch + 1;
    fprintf(out, "%sepoch %lld/%d step %lld/%lld loss %.4f %.0f ex/s ETA %d:%02d",
            t->o->progress_tty ? "\r\033[K" : "", (long long)ep, t->g->train.epochs,
            (long long)t->c.step, (long long)t->total_steps, t->loss[0], rate(t),
            (int)(eta / 60), (int)fmod(eta, 60));
    if (t->kind == RT_SCHED_LOCAL) {
        if (t->comm)    /* rank 0's own workers: the last group */
            fprintf(out, " | rank 0 of %d", t->ranks);
        fputs(" | workers", out);
        for (int w = 0; w < t->n_workers; w++)
            if (t->ws[w].first_block == t->ws[w].last_block)
                fprintf(out, " b%d×%d", t->ws[w].first_block + 1, t->ws[w].threads);
            else
                fprintf(out, " b%d-%d×%d", t->ws[w].first_block + 1, t->ws[w].last_block + 1,
                        t->ws[w].threads);
    }
    if (epoch_end) {
        fputs(" | ", out);
        print_eval(t, out);
    }
    if (epoch_end || !t->o->progress_tty)
        fputc('\n', out);
    fflush(out);
}

static void write_eval(FILE *f, const Trainer *t, const RtEval *e)
{
    fprintf(f, "{\"test_loss\":%.6g", e->loss);
    if (t->feed.text)
        fprintf(f, ",\"val_bits_per_byte\":%.6g", e->loss / log(2.0));
    fprintf(f, ",\"test_accuracy\":%.6g,\"examples\":%lld}", e->accuracy, (long long)e->examples);
}

/* --target-loss, --random-labels, --eval-train (docs/analyses.md). */
static void write_analyses(FILE *f, const Trainer *t, const RtTrainResult *res)
{
    const RtTrainOpts *o = t->o;
    if (o->target_loss > 0)
        fprintf(f, ",\"target_loss\":%g", o->target_loss);
    if (o->target_loss > 0 || o->target_accuracy > 0) {
        if (res->reached)
            fprintf(f, ",\"steps_to_target\":%lld", (long long)res->reached_step);
        else
            fputs(",\"steps_to_target\":null", f);
    }
    if (o->random_labels)
        fprintf(f, ",\"random_labels\":{\"seed\":%llu,\"fraction_changed\":%.6g}",
                (unsigned long long)t->g->train.seed, res->labels_changed);
    if (o->eval_train > 0)
        fprintf(f, ",\"train_eval\":{\"loss\":%.6g,\"accuracy\":%.6g,\"examples\":%lld}",
                res->train_eval.loss, res->train_eval.accuracy,
                (long long)res->train_eval.examples);
}

static bool is_baseline(const Trainer *t)
{
    return t->kind == RT_SCHED_DATA_PARALLEL || t->kind == RT_SCHED_PIPELINE;
}

bool rt_report_write(Trainer *t, const RtTrainResult *res, char *err, size_t errcap)
{
    const char *path = t->o->report_path;
    if (!path)
        return true;
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errcap, "cannot write report '%s': %s", path, strerror(errno));
        return false;
    }
    const IrGraph *g = t->g;
    fputs(RT_REPORT_HEAD, f);
    rt_json_write_string(f, g->model);
    if (!t->feed.text)  /* the input normalization: the model's, or the training set's */
        fprintf(f, ",\"norm\":{\"mean\":%.7g,\"std\":%.7g,\"computed\":%s}", t->feed.norm.mean,
                t->feed.norm.std, t->feed.norm_computed ? "true" : "false");
    fprintf(f, ",\"method\":\"%s\",\"blocks\":%d,\"schedule\":\"%s\",\"exec\":\"%s\",\"compile_ms\":%.1f,"
               "\"threads\":%d,\"batch\":%d,\"epochs\":%d,\"steps\":%lld,\"wall_s\":%.3f,"
               "\"samples_per_s\":%.1f,\"peak_rss_bytes\":%lld",
            (t->K > 1 || g->n_blocks > 1 || g->local.method == METHOD_LAST_LAYER) &&
                    !is_baseline(t)
                ? ir_local_method_name(&g->local) : "backprop",
            t->K, t->sched->name, t->ex[0]->ops->name, res->compile_ms, t->cores,
            t->feed.batch,
            res->epochs_done, (long long)res->steps, res->wall_s, res->samples_per_s,
            (long long)rt_peak_rss_bytes());
    bool mixed = false;     /* blocks on different executors (--devices) */
    for (int k = 1; k < t->K; k++)
        mixed |= strcmp(t->ex[k]->ops->name, t->ex[0]->ops->name) != 0;
    if (mixed) {
        fputs(",\"block_exec\":[", f);
        for (int k = 0; k < t->K; k++)
            fprintf(f, "%s\"%s\"", k ? "," : "", t->ex[k]->ops->name);
        fputc(']', f);
    }
    fputs(",\"final\":", f);
    write_eval(f, t, &t->eval[0]);
    if (t->kind == RT_SCHED_PIPELINE)
        fprintf(f, ",\"microbatches\":%d", t->o->microbatches);
    if (t->n_shared > 0)
        fprintf(f, ",\"overlap_delay\":%d", t->overlap_delay);
    if (res->ranks > 1)
        fprintf(f, ",\"ranks\":%d", res->ranks);
    if (t->o->profile) {
        fprintf(f, ",\"profile_clock\":\"%s\",\"profile\":",
                rt_profile_clock() == RT_PROF_CPU ? "cpu" : "wall");
        rt_profile_write_json(t->o->profile, f);
    }
    if (res->dead_blocks > 0) {
        /* 1-based, as the warning names them (this rank's blocks) */
        fputs(",\"dead_blocks\":[", f);
        for (int k = 0, n = 0; k < t->K; k++)
            if (t->st[k].dead)
                fprintf(f, "%s%d", n++ ? "," : "", k + 1);
        fputc(']', f);
    }
    fputs(",\"heads\":[", f);
    for (int h = 0; h < t->n_heads; h++) {
        fprintf(f, "%s{\"name\":", h ? "," : "");
        rt_json_write_string(f, rt_head_name(t, h));
        fputs(",\"final\":", f);
        write_eval(f, t, &t->eval[h]);
        fputc('}', f);
    }
    fprintf(f, "],\"target_accuracy\":%g,\"reached\":%s,\"reached_train_s\":%.3f,"
               "\"reached_step\":%lld",
            t->o->target_accuracy, res->reached ? "true" : "false", res->reached_s,
            (long long)res->reached_step);
    write_analyses(f, t, res);
    fputs(",\"act_bytes\":[", f);
    for (int k = 0; k < res->n_blocks; k++)
        fprintf(f, "%s%lld", k ? "," : "", (long long)res->act_bytes[k]);
    /* what one buffer per value would take (the memory plan's saving) */
    fputs("],\"act_bytes_unplanned\":[", f);
    for (int k = 0; k < res->n_blocks; k++)
        fprintf(f, "%s%lld", k ? "," : "",
                (long long)rt_graph_act_bytes(t->st[k].spec.g, t->feed.batch));
    fputs("],\"workers\":[", f);
    for (int k = 0; k < res->n_workers; k++) {
        const RtWorkerStats *w = &res->workers[k];
        fprintf(f, "%s{\"worker\":%d,\"blocks\":[%d,%d],\"threads\":%d,\"steps\":%lld,"
                   "\"busy_s\":%.3f,\"wait_in_s\":%.3f,\"wait_out_s\":%.3f,"
                   "\"examples_per_s\":%.1f",
                k ? "," : "", k + 1, w->first_block + 1, w->last_block + 1, w->threads,
                (long long)w->steps, w->busy_s, w->wait_in_s, w->wait_out_s,
                res->wall_s > 0 ? (double)w->steps * t->feed.batch / res->wall_s : 0);
        if (res->ranks > 1)     /* what this rank sent to the next, and how fast */
            fprintf(f, ",\"rank\":%d,\"bytes_sent\":%lld,\"send_s\":%.3f,\"sent_MBps\":%.1f",
                    w->rank, (long long)w->bytes_sent, w->send_s,
                    res->wall_s > 0 ? (double)w->bytes_sent / res->wall_s / 1e6 : 0);
        fputc('}', f);
    }
    fputs("]}\n", f);
    errno = 0;
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok)
        snprintf(err, errcap, "cannot write report '%s': %s", path, strerror(errno ? errno : EIO));
    return ok;
}
