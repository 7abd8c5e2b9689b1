/* test_cov_passes.c — the pipeline driver (passes/manager.c) refusing bad
 * pipelines: an unknown, empty or overlong pass name (the message lists every
 * known pass), a pipeline over the length limit, an unknown --print-after
 * pass; and that nothing runs before the whole pipeline is checked.
 */
#include <criterion/criterion.h>

#include "build_graph.h"
#include "frontend.h"
#include "passes.h"

#include <stdlib.h>
#include <string.h>

static const char *const src =
    "model m\n"
    "input x : f32[4]\n"
    "label y : class[3]\n"
    "loss cross_entropy(dense(relu(dense(x, 8)), 3), y)\n";

typedef struct {
    Diag d;
    PassCtx ctx;
    IrGraph *g;
} Run;

static void load(Run *r)
{
    diag_init(&r->d);
    r->g = fe_compile("m.lnet", src, strlen(src), &r->d);
    cr_assert_not_null(r->g, "%s", tb_diag_text(&r->d));
    pass_ctx_init(&r->ctx, &r->d);
}

/* Runs the pipeline, which must fail with exactly one error holding `want`;
 * returns the diagnostics' text (caller frees). */
static char *expect_refused(Run *r, const char *pipeline, const char *want)
{
    cr_expect_not(pass_run_pipeline(r->g, pipeline, &r->ctx), "'%s' ran", pipeline);
    char *got = tb_diag_text(&r->d);
    cr_expect_eq(r->d.n_msgs, 1, "%s", got);
    cr_expect(strstr(got, want), "want '%s' in:\n%s", want, got);
    return got;
}

static void unload(Run *r)
{
    ir_graph_free(r->g);
    diag_fini(&r->d);
}

Test(manager, unknown_pass_lists_the_known_ones_and_runs_nothing)
{
    Run r;
    load(&r);
    char *got = expect_refused(&r, "shape,partition,stop-gard,verify",
                               "unknown pass 'stop-gard' (known passes: ");
    int n;
    const PassInfo *known = pass_list(&n);
    cr_assert_gt(n, 5);
    for (int i = 0; i < n; i++)
        cr_expect(strstr(got, known[i].name), "'%s' not listed:\n%s", known[i].name, got);
    /* every name is checked first: partition, before the typo, did not run */
    cr_expect_eq(r.g->n_blocks, 0);
    free(got);
    unload(&r);
}

Test(manager, empty_and_overlong_names)
{
    Run r;
    load(&r);
    free(expect_refused(&r, "shape,,verify", "unknown pass '' (known passes: "));
    unload(&r);
    /* a name of 64 characters or more is shown cut to 64 */
    char pipeline[128], want[96];
    memset(pipeline, 'p', 100);
    pipeline[100] = '\0';
    snprintf(want, sizeof want, "unknown pass '%.64s' (known", pipeline);
    load(&r);
    free(expect_refused(&r, pipeline, want));
    unload(&r);
    /* a trailing comma ends the list, it is not an empty name */
    load(&r);
    cr_expect(pass_run_pipeline(r.g, "shape,verify,", &r.ctx), "%s", tb_diag_text(&r.d));
    unload(&r);
}

Test(manager, at_most_64_passes)
{
    char pipeline[1024] = "";
    for (int i = 0; i < 64; i++)
        strcat(pipeline, i ? ",verify" : "verify");
    Run r;
    load(&r);
    cr_expect(pass_run_pipeline(r.g, pipeline, &r.ctx), "%s", tb_diag_text(&r.d));
    unload(&r);
    strcat(pipeline, ",verify");
    load(&r);
    free(expect_refused(&r, pipeline, "pipeline longer than 64 passes"));
    unload(&r);
}

Test(manager, unknown_print_after_pass)
{
    Run r;
    load(&r);
    r.ctx.print_after = "partitoin";
    free(expect_refused(&r, "shape,partition", "unknown pass 'partitoin' (known passes: "));
    cr_expect_eq(r.g->n_blocks, 0);
    unload(&r);
}
