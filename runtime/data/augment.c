/* augment.c — random crop with zero padding and horizontal flip of training
 * images, one example at a time on the thread that fills the batches. Every
 * draw comes from a stream derived from (seed, epoch, example index) alone,
 * so the local and sequential schedules, and a resumed run, see the same
 * pixels. */
#include "data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Crop offsets dy, dx in [0, 2 * crop] and the flip, drawn in this order. */
static void draw(const RtAugment *a, uint64_t seed, int64_t epoch, int64_t example, int *dy,
                 int *dx, bool *flip)
{
    RtRng r;
    rt_rng_seed(&r, seed);
    r = rt_rng_split(&r, RT_RNG_STREAM_AUGMENT);
    r = rt_rng_split(&r, (uint64_t)epoch);
    r = rt_rng_split(&r, (uint64_t)example);
    uint64_t span = 2 * (uint64_t)a->crop + 1;
    *dy = (int)rt_rng_below(&r, span);
    *dx = (int)rt_rng_below(&r, span);
    *flip = a->flip && rt_rng_below(&r, 2) == 1;
}

void rt_augment_row(const RtAugment *a, uint64_t seed, int64_t epoch, int64_t example,
                    float *row)
{
    int dy, dx;
    bool flip;
    draw(a, seed, epoch, example, &dy, &dx, &flip);
    int H = a->height, W = a->width, c = a->crop;
    if (dy == c && dx == c && !flip)
        return;
    for (int ch = 0; ch < a->channels; ch++) {
        float *p = row + (size_t)ch * (size_t)H * (size_t)W;
        memcpy(a->plane, p, (size_t)H * (size_t)W * sizeof *p);
        /* out(y, x) = in(y + dy - c, x' + dx - c), x' = x or W-1-x; 0 outside */
        for (int y = 0; y < H; y++) {
            int sy = y + dy - c;
            for (int x = 0; x < W; x++) {
                int sx = (flip ? W - 1 - x : x) + dx - c;
                bool in = sy >= 0 && sy < H && sx >= 0 && sx < W;
                p[(size_t)y * (size_t)W + (size_t)x] =
                    in ? a->plane[(size_t)sy * (size_t)W + (size_t)sx] : 0.0f;
            }
        }
    }
}

bool rt_batcher_set_augment(RtBatcher *b, const RtAugment *a, char *err, size_t errcap)
{
    free(b->aug.plane);
    b->aug = *a;
    b->aug.plane = malloc((size_t)a->height * (size_t)a->width * sizeof *b->aug.plane + 1);
    if (!b->aug.plane) {
        snprintf(err, errcap, "out of memory for the augmentation of %dx%d images", a->height,
                 a->width);
        return false;
    }
    return true;
}
