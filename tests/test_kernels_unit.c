/* test_kernels_unit.c — hand-computed values for the reference kernels that
 * finite differences and the fixtures do not pin down: learning-rate
 * schedules, gradient clipping, optimizer corner cases (weight decay in SGD,
 * Adam's L2 vs AdamW's decoupled decay, momentum 0 with no buffer), the
 * max-pool tie rule, cross-entropy's accuracy count, the dropout mask,
 * broadcast bookkeeping and the transpose layout. */
#include <criterion/criterion.h>
#include <math.h>

#include "kernels.h"

#define EPS 1e-6f

Test(schedule, constant_and_warmup) {
    cr_expect_float_eq(rk_lr_at(RK_LR_CONSTANT, 0.1f, 0, 10, 100), 0.1f, EPS);
    cr_expect_float_eq(rk_lr_at(RK_LR_CONSTANT, 0.1f, 99, 10, 100), 0.1f, EPS);
    /* linear warm-up over 4 steps: (step+1)/4 · lr, then lr */
    cr_expect_float_eq(rk_lr_at(RK_LR_WARMUP, 0.1f, 0, 4, 100), 0.025f, EPS);
    cr_expect_float_eq(rk_lr_at(RK_LR_WARMUP, 0.1f, 2, 4, 100), 0.075f, EPS);
    cr_expect_float_eq(rk_lr_at(RK_LR_WARMUP, 0.1f, 3, 4, 100), 0.1f, EPS);
    cr_expect_float_eq(rk_lr_at(RK_LR_WARMUP, 0.1f, 50, 4, 100), 0.1f, EPS);
    cr_expect_float_eq(rk_lr_at(RK_LR_WARMUP, 0.1f, 0, 0, 100), 0.1f, EPS);
}

Test(schedule, cosine) {
    /* warm-up 10 of 110 steps: peak at step 10, half at 60, 0 at 110 and after */
    cr_expect_float_eq(rk_lr_at(RK_LR_COSINE, 1.0f, 4, 10, 110), 0.5f, EPS);
    cr_expect_float_eq(rk_lr_at(RK_LR_COSINE, 1.0f, 10, 10, 110), 1.0f, EPS);
    cr_expect_float_eq(rk_lr_at(RK_LR_COSINE, 1.0f, 60, 10, 110), 0.5f, EPS);
    cr_expect_float_eq(rk_lr_at(RK_LR_COSINE, 1.0f, 35, 10, 110),
                       (float)(0.5 * (1 + cos(M_PI * 0.25))), EPS);
    cr_expect_float_eq(rk_lr_at(RK_LR_COSINE, 1.0f, 110, 10, 110), 0.0f, EPS);
    cr_expect_float_eq(rk_lr_at(RK_LR_COSINE, 1.0f, 500, 10, 110), 0.0f, EPS);
    cr_expect_float_eq(rk_lr_at(RK_LR_COSINE, 2.0f, 0, 0, 100), 2.0f, EPS);
}

Test(clip, global_norm_over_tensors) {
    float a[2] = {3, 0}, b[1] = {4};
    float *g[2] = {a, b};
    int64_t L[2] = {2, 1};
    cr_expect_float_eq(rk_grad_norm(g, L, 2), 5.0, 1e-12);
    /* under the threshold: untouched */
    cr_expect_float_eq(rk_clip_grad_norm(g, L, 2, 10.0), 5.0, 1e-12);
    cr_expect_eq(a[0], 3.0f);
    /* over: scaled by max_norm / (norm + 1e-6) */
    cr_expect_float_eq(rk_clip_grad_norm(g, L, 2, 1.0), 5.0, 1e-12);
    cr_expect_float_eq(a[0], 3.0f / (5.0f + 1e-6f), EPS);
    cr_expect_float_eq(b[0], 4.0f / (5.0f + 1e-6f), EPS);
    cr_expect_float_eq(rk_grad_norm(g, L, 2), 1.0, 1e-5);
}

Test(optim, sgd_weight_decay_and_plain) {
    /* momentum 0: buf may be NULL; g' = g + wd·p */
    float p[1] = {2}, g[1] = {0.5f};
    RkSgd plain = {.lr = 0.1, .weight_decay = 0.25};
    rk_sgd_step(&plain, p, NULL, g, 1);
    cr_expect_float_eq(p[0], 2 - 0.1f * (0.5f + 0.25f * 2), EPS);
    /* momentum: buf = 0.9·buf + g, two steps with the same g */
    float q[1] = {1}, buf[1] = {0};
    RkSgd mom = {.lr = 0.1, .momentum = 0.9};
    rk_sgd_step(&mom, q, buf, g, 1);
    rk_sgd_step(&mom, q, buf, g, 1);
    cr_expect_float_eq(buf[0], 0.5f * 1.9f, EPS);
    cr_expect_float_eq(q[0], 1 - 0.1f * 0.5f - 0.1f * 0.95f, EPS);
}

Test(optim, adam_first_step_and_decay_kinds) {
    /* step 1: m̂ = g, v̂ = g², update = lr·g/(|g| + eps) ≈ lr·sign(g) */
    float p[2] = {1, -1}, m[2] = {0}, v[2] = {0}, g[2] = {0.3f, -2};
    RkAdam h = {.lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    rk_adam_step(&h, 1, p, m, v, g, 2);
    cr_expect_float_eq(p[0], 1 - 0.01f, 1e-6f);
    cr_expect_float_eq(p[1], -1 + 0.01f, 1e-6f);
    cr_expect_float_eq(m[0], 0.1f * 0.3f, EPS);
    cr_expect_float_eq(v[1], 0.001f * 4, EPS);
    /* zero gradient: AdamW still shrinks p by 1 - lr·wd; Adam's L2 makes the
     * gradient wd·p, so the step is again ≈ lr·sign(p) */
    float pw[1] = {2}, pa[1] = {2}, mw[1] = {0}, vw[1] = {0}, ma[1] = {0}, va[1] = {0};
    float zero[1] = {0};
    RkAdam aw = h, al = h;
    aw.weight_decay = 0.5, aw.decoupled = true;
    al.weight_decay = 0.5;
    rk_adam_step(&aw, 1, pw, mw, vw, zero, 1);
    rk_adam_step(&al, 1, pa, ma, va, zero, 1);
    cr_expect_float_eq(pw[0], 2 * (1 - 0.01f * 0.5f), EPS);
    cr_expect_float_eq(pa[0], 2 - 0.01f, 1e-6f);
}

Test(pool, maxpool_ties_go_to_first) {
    /* one 2x2 window of equal values: the gradient lands on the first */
    float x[4] = {1, 1, 1, 1}, y[1], dy[1] = {3}, dx[4];
    RkPool2d g = rk_pool2d_geom(1, 1, 2, 2, 2, 2);
    rk_maxpool_fwd(y, x, &g);
    rk_maxpool_bwd(dx, dy, x, &g);
    cr_expect_eq(y[0], 1.0f);
    cr_expect_eq(dx[0], 3.0f);
    cr_expect_eq(dx[1] + dx[2] + dx[3], 0.0f);
    /* overlapping 2x2 windows at stride 1 sharing their max add the gradients */
    float xr[6] = {0, 5, 0, 0, 1, 0}, dxr[6], dyr[2] = {1, 2}, yr[2];
    RkPool2d gr = rk_pool2d_geom(1, 1, 2, 3, 2, 1);
    rk_maxpool_fwd(yr, xr, &gr);
    rk_maxpool_bwd(dxr, dyr, xr, &gr);
    cr_expect_eq(yr[0], 5.0f);
    cr_expect_eq(yr[1], 5.0f);
    cr_expect_eq(dxr[1], 3.0f);
    cr_expect_eq(dxr[0] + dxr[2] + dxr[3] + dxr[4] + dxr[5], 0.0f);
}

Test(loss, cross_entropy_counts_correct) {
    float logits[3 * 3] = {2, 1, 0, 0, 0, 0, -1, 5, 5};
    int32_t labels[3] = {0, 1, 2};
    int64_t correct = -1;
    float loss = rk_cross_entropy_fwd(logits, labels, 3, 3, &correct);
    /* row 0 right; row 1 all equal -> first (0), wrong; row 2 tie -> 1, wrong */
    cr_expect_eq(correct, 1);
    double l0 = log(exp(2) + exp(1) + 1) - 2, l1 = log(3.0);
    double l2 = log(exp(-1) + 2 * exp(5)) - 5;
    cr_expect_float_eq(loss, (float)((l0 + l1 + l2) / 3), 1e-6f);
}

Test(activation, leaky_relu_slope_and_zero_side) {
    float x[4] = {-2, 0, 3, -0.5f}, dy[4] = {1, 4, 2, -2}, y[4], dx[4];
    rk_leaky_relu_fwd(y, x, 0.2f, 4);
    cr_expect_float_eq(y[0], -0.4f, EPS);
    cr_expect_eq(y[1], 0.0f);
    cr_expect_eq(y[2], 3.0f);
    cr_expect_float_eq(y[3], -0.1f, EPS);
    rk_leaky_relu_bwd(dx, dy, x, 0.2f, 4);
    /* x > 0 -> dy, else slope·dy: x = 0 takes the slope's side, as PyTorch does */
    cr_expect_float_eq(dx[0], 0.2f, EPS);
    cr_expect_float_eq(dx[1], 0.8f, EPS);
    cr_expect_eq(dx[2], 2.0f);
    cr_expect_float_eq(dx[3], -0.4f, EPS);
}

Test(dropout, mask_from_uniforms) {
    float x[4] = {1, 2, 3, 4}, u[4] = {0.1f, 0.5f, 0.25f, 0.9f}, y[4], mask[4];
    rk_dropout_fwd(y, mask, x, u, 0.25f, 4);
    /* keep iff u >= p, scaled by 1/(1-p) */
    float k = 1 / 0.75f;
    cr_expect_eq(mask[0], 0.0f);
    cr_expect_float_eq(mask[1], k, EPS);
    cr_expect_float_eq(mask[2], k, EPS);
    cr_expect_float_eq(y[3], 4 * k, EPS);
    rk_dropout_fwd(y, mask, x, u, 1.0f, 4);         /* p = 1 drops everything */
    for (int i = 0; i < 4; i++) cr_expect_eq(y[i], 0.0f);
}

Test(layout, transpose_permutes_non_batch_axes) {
    /* N 1, dims (2, 3), perm (1, 0): a plain matrix transpose */
    float x[6] = {0, 1, 2, 3, 4, 5}, y[6], back[6];
    int64_t dims[2] = {2, 3};
    int perm[2] = {1, 0};
    rk_transpose_fwd(y, x, 1, 2, dims, perm);
    float want[6] = {0, 3, 1, 4, 2, 5};
    for (int i = 0; i < 6; i++) cr_expect_eq(y[i], want[i]);
    rk_transpose_bwd(back, y, 1, 2, dims, perm);
    for (int i = 0; i < 6; i++) cr_expect_eq(back[i], x[i]);
    /* (T, NH, HD) -> (NH, T, HD): the head split of attention, 2 examples */
    float a[2 * 12], b[2 * 12], c[2 * 12];
    for (int i = 0; i < 24; i++) a[i] = (float)i;
    int64_t d3[3] = {3, 2, 2};
    int p3[3] = {1, 0, 2};
    rk_transpose_fwd(b, a, 2, 3, d3, p3);
    cr_expect_eq(b[12 + 1 * 6 + 2 * 2 + 1], a[12 + 2 * 4 + 1 * 2 + 1]);
    rk_transpose_bwd(c, b, 2, 3, d3, p3);
    for (int i = 0; i < 24; i++) cr_expect_eq(c[i], a[i]);
}

Test(elementwise, broadcast_gradient_sums_over_batch) {
    float dy[6] = {1, 2, 3, 4, 5, 6}, da[6], db[3];
    rk_add_bwd(da, db, dy, 6, 3);
    cr_expect_eq(db[0], 5.0f);
    cr_expect_eq(db[2], 9.0f);
    rk_sub_bwd(NULL, db, dy, 6, 3);
    cr_expect_eq(db[1], -7.0f);
    float a[6] = {1, 1, 1, 2, 2, 2}, b[3] = {2, 4, 8};
    rk_div_bwd(da, db, dy, a, b, 6, 3);
    cr_expect_float_eq(db[0], -(1 * 1 + 4 * 2) / 4.0f, EPS);
    cr_expect_float_eq(da[5], 6 / 8.0f, EPS);
}
