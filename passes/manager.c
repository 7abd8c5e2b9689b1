/* manager.c — the pass registry and the pipeline driver.
 *
 * The registry is generated from passes.def. A pipeline string is split on
 * commas; every name is checked before anything runs, so a typo fails fast.
 * Options mirror LLVM's opt: --print-after=NAME, --print-after-all,
 * --verify-each, --time-passes.
 */
#include "passes.h"

#include <string.h>
#include <time.h>

static const PassInfo registry[] = {
#define PASS(name, fn, help) {#name, fn, help},
#include "passes.def"
#undef PASS
};

enum { N_PASSES = sizeof registry / sizeof registry[0], MAX_PIPELINE = 64 };

const PassInfo *pass_list(int *count)
{
    *count = N_PASSES;
    return registry;
}

const PassInfo *pass_find(const char *name)
{
    for (int i = 0; i < N_PASSES; i++)
        if (strcmp(registry[i].name, name) == 0)
            return &registry[i];
    return NULL;
}

void pass_ctx_init(PassCtx *ctx, Diag *diag)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->diag = diag;
    ctx->dump = stdout;
    ctx->verify_each = true;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void unknown_pass(PassCtx *ctx, const char *name, size_t len)
{
    char known[512] = "";
    for (int i = 0; i < N_PASSES; i++) {
        strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, registry[i].name, sizeof known - strlen(known) - 1);
    }
    diag_error(ctx->diag, IR_LOC_NONE, "unknown pass '%.*s' (known passes: %s)",
               (int)(len > 64 ? 64 : len), name, known);
}

/* Splits the pipeline into pass pointers; false on an unknown or empty name. */
static bool parse_pipeline(const char *s, PassCtx *ctx, const PassInfo **out, int *n)
{
    *n = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        char name[64];
        if (len == 0 || len >= sizeof name) {
            unknown_pass(ctx, s, len);
            return false;
        }
        memcpy(name, s, len);
        name[len] = '\0';
        const PassInfo *p = pass_find(name);
        if (!p) {
            unknown_pass(ctx, s, len);
            return false;
        }
        if (*n == MAX_PIPELINE) {
            diag_error(ctx->diag, IR_LOC_NONE, "pipeline longer than %d passes", MAX_PIPELINE);
            return false;
        }
        out[(*n)++] = p;
        s += len + (s[len] == ',');
    }
    return true;
}

static bool run_one(IrGraph *g, const PassInfo *p, PassCtx *ctx)
{
    double t0 = now_ms();
    bool ok = p->fn(g, ctx) && !diag_has_errors(ctx->diag);
    if (ctx->time_passes)
        fprintf(ctx->dump, "; pass %-12s %8.3f ms\n", p->name, now_ms() - t0);
    if (ok && ctx->verify_each && strcmp(p->name, "verify") != 0)
        ok = ir_graph_verify(g, ctx->diag);
    if (ok && (ctx->print_after_all ||
               (ctx->print_after && strcmp(ctx->print_after, p->name) == 0))) {
        fprintf(ctx->dump, "; --- after %s ---\n", p->name);
        ir_graph_print(g, ctx->dump);
    }
    return ok;
}

bool pass_run_pipeline(IrGraph *g, const char *pipeline, PassCtx *ctx)
{
    const PassInfo *list[MAX_PIPELINE];
    int n;
    if (!parse_pipeline(pipeline, ctx, list, &n))
        return false;
    if (ctx->print_after && !pass_find(ctx->print_after)) {
        unknown_pass(ctx, ctx->print_after, strlen(ctx->print_after));
        return false;
    }
    for (int i = 0; i < n; i++)
        if (!run_one(g, list[i], ctx))
            return false;
    return true;
}
