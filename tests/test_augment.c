/* test_augment.c — crop and flip of training images (runtime/data/augment.c):
 * every output pixel is a zero or the input pixel the crop offset and flip
 * say; the draw depends on (seed, epoch, example) alone; the raw .npy rows
 * are normalized as recorded. */
#include <criterion/criterion.h>
#include <string.h>

#include "data.h"

enum { C = 2, H = 5, W = 6 };

static void fill(float *row)
{
    for (int i = 0; i < C * H * W; i++)
        row[i] = (float)(i + 1);
}

/* The (dy, dx, flip) that explain out, by trying every one; false if none. */
static bool explain(const float *in, const float *out, int crop, int *how)
{
    for (int dy = -crop; dy <= crop; dy++)
        for (int dx = -crop; dx <= crop; dx++)
            for (int f = 0; f < 2; f++) {
                bool ok = true;
                for (int c = 0; ok && c < C; c++)
                    for (int y = 0; ok && y < H; y++)
                        for (int x = 0; ok && x < W; x++) {
                            int sy = y + dy, sx = (f ? W - 1 - x : x) + dx;
                            bool inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
                            float want = inside ? in[(c * H + sy) * W + sx] : 0.0f;
                            ok = out[(c * H + y) * W + x] == want;
                        }
                if (ok) {
                    *how = ((dy + crop) * (2 * crop + 1) + dx + crop) * 2 + f;
                    return true;
                }
            }
    return false;
}

Test(augment, every_pixel_comes_from_the_drawn_crop_and_flip)
{
    float plane[H * W], in[C * H * W], out[C * H * W];
    RtAugment a = {2, true, C, H, W, plane};
    fill(in);
    int seen[50] = {0}, kinds = 0;
    for (int64_t e = 0; e < 400; e++) {
        memcpy(out, in, sizeof in);
        rt_augment_row(&a, 7, 0, e, out);
        int how = -1;
        cr_assert(explain(in, out, 2, &how), "example %lld is not a crop of its input",
                  (long long)e);
        kinds += !seen[how]++;
    }
    cr_expect_eq(kinds, 50, "400 examples drew %d of the 50 (dy, dx, flip)", kinds);
}

Test(augment, draw_depends_on_seed_epoch_and_example_only)
{
    float plane[H * W], in[C * H * W], a1[C * H * W], a2[C * H * W];
    RtAugment a = {1, true, C, H, W, plane};
    fill(in);
    int differ_epoch = 0, differ_seed = 0;
    for (int64_t e = 0; e < 64; e++) {
        memcpy(a1, in, sizeof in);
        memcpy(a2, in, sizeof in);
        rt_augment_row(&a, 3, 5, e, a1);
        rt_augment_row(&a, 3, 5, e, a2);
        cr_assert(memcmp(a1, a2, sizeof a1) == 0, "example %lld: two draws differ", (long long)e);
        memcpy(a2, in, sizeof in);
        rt_augment_row(&a, 3, 6, e, a2);
        differ_epoch += memcmp(a1, a2, sizeof a1) != 0;
        memcpy(a2, in, sizeof in);
        rt_augment_row(&a, 4, 5, e, a2);
        differ_seed += memcmp(a1, a2, sizeof a1) != 0;
    }
    cr_expect_gt(differ_epoch, 32, "another epoch changed only %d of 64 examples", differ_epoch);
    cr_expect_gt(differ_seed, 32, "another seed changed only %d of 64 examples", differ_seed);
}

Test(augment, flip_alone_mirrors_or_keeps)
{
    float plane[H * W], in[C * H * W], out[C * H * W];
    RtAugment a = {0, true, C, H, W, plane};
    fill(in);
    int flipped = 0;
    for (int64_t e = 0; e < 64; e++) {
        memcpy(out, in, sizeof in);
        rt_augment_row(&a, 1, 0, e, out);
        bool same = memcmp(out, in, sizeof in) == 0;
        bool mirror = true;
        for (int i = 0; i < C * H * W; i++)
            mirror = mirror && out[i] == in[i - i % W + (W - 1 - i % W)];
        cr_assert(same || mirror);
        flipped += !same;
    }
    cr_expect(flipped > 16 && flipped < 48, "%d of 64 flipped", flipped);
}
