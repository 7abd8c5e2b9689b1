/* plot.h — the pieces of `lnet plot` (cmd_plot.c): reading step logs
 * (plot_log.c), running gnuplot (plot_gnuplot.c), drawing conv filters
 * (png_filters.c) and writing PNG images (png.c). */
#ifndef LNET_PLOT_H
#define LNET_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { PLOT_MAX_HEADS = 64 };

/* `lnet plot` (tools/main.c's table). */
int cmd_plot(int argc, char **argv);

/* One row of a step log: a training step or an evaluation. */
typedef struct PlotRow {
    double step;        /* the global step after it */
    double secs;        /* training seconds so far (train_s) */
    double rate;        /* examples per second so far (examples_per_s; NaN: absent) */
    double *v;          /* (2 * n_heads): head h's loss at v[2h], its accuracy at
                           v[2h + 1]; NaN where the row has none */
} PlotRow;

/* A step log written by `lnet train --log FILE`, as CSV or JSON lines. */
typedef struct PlotLog {
    int n_heads;
    char *heads[PLOT_MAX_HEADS];    /* head names in log order ("task" first) */
    int n_train, n_eval;
    PlotRow *train, *eval;          /* (n_train), (n_eval), in file order */
} PlotLog;

/* Reads path (CSV when its first line is lnet's CSV header, JSON lines when
 * it starts with '{'). false with "PATH:LINE: what is wrong" (or "PATH: ...")
 * in err when it cannot be read or is not an lnet step log; *log is then
 * empty. The caller frees *log with plot_log_free. */
/* on_train: the evaluation rows read are those of the training-set evaluation
 * (kind "eval_train", `lnet train --eval-train N`) instead of the test's. */
bool plot_log_read(const char *path, PlotLog *log, bool on_train, char *err, size_t errcap);
void plot_log_free(PlotLog *log);

/* The examples one step consumed, from the log's own numbers: at the last
 * training row, examples_per_s x train_s is (steps this run made) x batch.
 * 0 when the log cannot tell (no training row with a rate). */
double plot_log_batch(const PlotLog *log);

/* ------------------------------------------ gnuplot and its files (plot_gnuplot.c) */

#include <stdio.h>

/* A temporary folder under $TMPDIR (or /tmp) for gnuplot's script and data. */
typedef struct PlotTmp {
    char dir[4096];
    bool keep;          /* --keep-temps: plot_tmp_close prints the folder, keeps it */
} PlotTmp;

/* Creates t's folder; false with the reason in err. */
bool plot_tmp_open(PlotTmp *t, bool keep, char *err, size_t errcap);
/* Removes the folder and every file in it (or, with keep, says where it is). */
void plot_tmp_close(PlotTmp *t);
/* Opens t's file `name` for writing (its path in path); NULL with err. */
FILE *plot_tmp_file(const PlotTmp *t, const char *name, char *path, size_t cap, char *err,
                    size_t errcap);
/* Closes a file of plot_tmp_file; false with err when a write failed. */
bool plot_tmp_done(FILE *f, const char *path, char *err, size_t errcap);
/* Runs `gnuplot SCRIPT`; false with the reason (and gnuplot's output) in err,
 * or how to install gnuplot when it is missing. */
bool plot_gnuplot(const char *script, char *err, size_t errcap);
/* Writes s as a gnuplot string literal. */
void plot_gp_quote(FILE *f, const char *s);
/* The terminal for OUT's extension (.svg: svg, else png), w x h pixels, text
 * as written (noenhanced: '_' is no subscript), and `set output OUT`. */
void plot_gp_terminal(FILE *f, const char *out, int w, int h);
/* path's file name without its last extension, in buf. */
const char *plot_stem(const char *path, char *buf, size_t cap);

/* ------------------------------------------------ filters (png_filters.c) */

/* `lnet plot filters`: the 4-D tensor `param` (NULL: the first) of each of
 * the n checkpoints, drawn into the PNG out. Returns the exit code, the
 * error printed. */
int plot_filters(const char *const *ckpts, int n, const char *param, const char *out,
                 bool keep);

/* ------------------------------------------------------------- png.c */

/* Writes w x h 8-bit RGB pixels (rgb: h rows of 3w bytes, top row first)
 * to path as a PNG; false with "cannot write 'PATH': why" in err. */
bool png_write_rgb(const char *path, int w, int h, const uint8_t *rgb, char *err,
                   size_t errcap);

#endif
