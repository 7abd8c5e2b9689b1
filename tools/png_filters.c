/* png_filters.c — `lnet plot filters`: a conv layer's filters as an image.
 *
 * The weight w (O, C, K, K') of a conv layer is drawn as a grid of tiles with
 * 1-pixel separators (also around the border), each tile enlarged by an
 * integer factor s (ceil(32 / K): a 3x3 filter becomes 33x33 pixels, 5x5
 * 35x35, 7x7 35x35; smaller while the image would pass 4096 pixels):
 *   C = 1: one grey tile per filter, in a near-square grid of
 *          cols = ceil(sqrt(O)) columns and ceil(O / cols) rows;
 *   C = 3: the same grid, each filter one colour tile (its channels as RGB);
 *   else:  a row per filter, a grey tile per input channel (O x C tiles).
 * Each filter is scaled to [0, 1] on its own (min -> black, max -> white; a
 * constant filter is mid-grey), so that weak filters show their pattern.
 *
 * The image is written here (png.c) rather than by gnuplot: every pixel is
 * the value computed, its size follows from the filters alone (the tests
 * check it), and one checkpoint needs no gnuplot. Several checkpoints are
 * drawn side by side by gnuplot instead, because their panels need labels
 * (each checkpoint's file name) and gnuplot has the fonts: each panel is
 * handed over as raw RGB (`with rgbimage`).
 */
#include "cli.h"
#include "plot.h"
#include "safetensors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SEP = 1, MAX_SIDE = 4096 };
static const uint8_t sep_rgb[3] = {60, 90, 140};   /* separators: no grey of a filter */

/* A grid of filter tiles, and the image it becomes. */
typedef struct Tiles {
    int O, C, K, K2;        /* w (O, C, K, K2) */
    bool rgb;               /* C == 3: a colour tile per filter */
    int rows, cols, s;      /* tiles, enlargement */
    int w, h;               /* pixels */
} Tiles;

static void tiles_layout(Tiles *t)
{
    t->rgb = t->C == 3;
    if (t->C == 1 || t->rgb) {
        t->cols = (int)ceil(sqrt((double)t->O));
        t->rows = (t->O + t->cols - 1) / t->cols;
    } else {
        t->rows = t->O, t->cols = t->C;
    }
    int big = t->K > t->K2 ? t->K : t->K2;
    for (t->s = (32 + big - 1) / big;; t->s--) {
        t->w = t->cols * (t->K2 * t->s + SEP) + SEP;
        t->h = t->rows * (t->K * t->s + SEP) + SEP;
        if (t->s == 1 || (t->w <= MAX_SIDE && t->h <= MAX_SIDE))
            return;
    }
}

/* Tile (row, col) of channel c of filter o, values of w scaled by lo, hi. */
static void put_tile(const Tiles *t, uint8_t *img, int row, int col, const float *f,
                     int channels, float lo, float hi)
{
    for (int y = 0; y < t->K * t->s; y++)
        for (int x = 0; x < t->K2 * t->s; x++) {
            uint8_t *p = img + 3 * ((size_t)(SEP + row * (t->K * t->s + SEP) + y) * t->w +
                                    (size_t)(SEP + col * (t->K2 * t->s + SEP) + x));
            for (int ch = 0; ch < 3; ch++) {
                float v = f[(size_t)(channels == 3 ? ch : 0) * t->K * t->K2 +
                            (size_t)(y / t->s) * t->K2 + (size_t)(x / t->s)];
                p[ch] = (uint8_t)lrintf(hi > lo ? 255.0f * (v - lo) / (hi - lo) : 127.5f);
            }
        }
}

/* The image of w (t->O filters of C x K x K2 floats), h x w x 3 bytes. */
static uint8_t *tiles_draw(const Tiles *t, const float *w)
{
    uint8_t *img = malloc((size_t)t->w * t->h * 3);
    if (!img)
        return NULL;
    for (size_t i = 0; i < (size_t)t->w * t->h; i++)
        memcpy(img + 3 * i, sep_rgb, 3);
    size_t per = (size_t)t->C * t->K * t->K2;
    for (int o = 0; o < t->O; o++) {
        const float *f = w + o * per;
        float lo = f[0], hi = f[0];
        for (size_t i = 1; i < per; i++)
            lo = fminf(lo, f[i]), hi = fmaxf(hi, f[i]);
        if (t->C == 1 || t->rgb)
            put_tile(t, img, o / t->cols, o % t->cols, f, t->C, lo, hi);
        else
            for (int c = 0; c < t->C; c++)
                put_tile(t, img, o, c, f + (size_t)c * t->K * t->K2, 1, lo, hi);
    }
    return img;
}

/* The tensor to draw: `param`, or the first 4-D F32 one. */
static const StTensor *pick(const StFile *sf, const char *path, const char *param, char *err,
                            size_t errcap)
{
    for (int i = 0; i < sf->n; i++) {
        const StTensor *x = &sf->t[i];
        bool conv = x->rank == 4 && x->dtype == ST_F32;
        for (int d = 0; conv && d < 4; d++)
            conv = x->shape[d] <= (1 << 20);    /* fits an int, with room to multiply */
        if (param ? strcmp(x->name, param) == 0 : conv) {
            if (conv && x->shape[0] > 0 && x->shape[1] > 0 && x->shape[2] > 0 && x->shape[3] > 0)
                return x;
            snprintf(err, errcap, "%s: '%s' is not a conv weight (an F32 tensor (O, C, K, K) "
                     "of filters)", path, x->name);
            return NULL;
        }
    }
    if (param)
        snprintf(err, errcap, "%s: no tensor '%s'", path, param);
    else
        snprintf(err, errcap, "%s: no conv weight (a 4-D F32 tensor) in the checkpoint", path);
    return NULL;
}

/* Checkpoint path's filters as an image, *img (malloc'ed) of t's size. */
static bool draw_ckpt(const char *path, const char *param, Tiles *t, uint8_t **img, char *err,
                      size_t errcap)
{
    StFile sf = {0};
    *img = NULL;
    if (!st_load(path, &sf, err, errcap))
        return false;
    const StTensor *x = pick(&sf, path, param, err, errcap);
    if (x) {
        *t = (Tiles){.O = (int)x->shape[0], .C = (int)x->shape[1], .K = (int)x->shape[2],
                     .K2 = (int)x->shape[3]};
        tiles_layout(t);
        if ((double)t->w * t->h > (double)MAX_SIDE * MAX_SIDE * 4)
            snprintf(err, errcap, "%s: '%s' (%d x %d x %d x %d) has too many filters to draw",
                     path, x->name, t->O, t->C, t->K, t->K2);
        else if (!(*img = tiles_draw(t, x->data)))
            snprintf(err, errcap, "%s: out of memory", path);
    }
    st_free(&sf);
    return *img != NULL;
}

/* The panels side by side, each titled with its checkpoint's file name. */
static bool draw_panels(const char *const *ckpts, int n, const Tiles *t, uint8_t **img,
                        const char *out, bool keep, char *err, size_t errcap)
{
    PlotTmp tmp = {.keep = false};
    char script[4200], path[4200], name[32];
    if (!plot_tmp_open(&tmp, keep, err, errcap))
        return false;
    bool ok = true;
    int width = 0, height = 0;
    for (int i = 0; ok && i < n; i++) {
        snprintf(name, sizeof name, "panel%d.rgb", i);
        FILE *f = plot_tmp_file(&tmp, name, path, sizeof path, err, errcap);
        if (f)
            fwrite(img[i], 3, (size_t)t[i].w * t[i].h, f);  /* plot_tmp_done sees an error */
        ok = f && plot_tmp_done(f, path, err, errcap);
        width += t[i].w + 100;    /* room for gnuplot's margins */
        height = t[i].h > height ? t[i].h : height;
    }
    FILE *f = ok ? plot_tmp_file(&tmp, "plot.gp", script, sizeof script, err, errcap) : NULL;
    if (f) {
        plot_gp_terminal(f, out, width, height + 100);
        fprintf(f, "unset border\nunset tics\nunset key\nset size ratio -1\n"
                   "set multiplot layout 1,%d\n", n);
        for (int i = 0; i < n; i++) {
            char stem[1024];
            fputs("set title ", f);
            plot_gp_quote(f, plot_stem(ckpts[i], stem, sizeof stem));
            fprintf(f, "\nset xrange [-0.5:%d.5]\nset yrange [-0.5:%d.5]\nplot ", t[i].w - 1,
                    t[i].h - 1);
            snprintf(path, sizeof path, "%s/panel%d.rgb", tmp.dir, i);
            plot_gp_quote(f, path);
            fprintf(f, " binary array=(%d,%d) flipy format='%%uchar%%uchar%%uchar' "
                       "with rgbimage\n", t[i].w, t[i].h);
        }
        fputs("unset multiplot\n", f);
        ok = plot_tmp_done(f, script, err, errcap) && plot_gnuplot(script, err, errcap);
    }
    plot_tmp_close(&tmp);
    return ok && f;
}

int plot_filters(const char *const *ckpts, int n, const char *param, const char *out,
                 bool keep)
{
    char err[4096] = "";
    Tiles *t = calloc((size_t)n, sizeof *t);
    uint8_t **img = calloc((size_t)n, sizeof *img);
    bool ok = t && img;
    for (int i = 0; ok && i < n; i++)
        ok = draw_ckpt(ckpts[i], param, &t[i], &img[i], err, sizeof err);
    if (ok && n == 1)
        ok = png_write_rgb(out, t[0].w, t[0].h, img[0], err, sizeof err);
    else if (ok)
        ok = draw_panels(ckpts, n, t, img, out, keep, err, sizeof err);
    for (int i = 0; img && i < n; i++)
        free(img[i]);
    free(img);
    free(t);
    if (!ok)
        fprintf(stderr, "lnet plot: error: %s\n", err[0] ? err : "out of memory");
    return ok ? EXIT_OK : EXIT_USER;
}
