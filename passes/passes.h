/* passes.h — the one public header of the passes module.
 *
 * A pass is `bool pass_NAME(IrGraph *g, PassCtx *ctx)`: it transforms g in
 * place (a pass that rebuilds the graph swaps in a new arena) and reports
 * user-facing problems to ctx->diag, returning false on error. Passes are
 * registered by name in passes.def and composed into pipelines from a
 * comma-separated string.
 */
#ifndef LNET_PASSES_H
#define LNET_PASSES_H

#include "ir.h"

typedef struct PassCtx {
    Diag *diag;                 /* borrowed: where errors go */
    FILE *dump;                 /* borrowed: --print-after output (stdout) */
    const char *print_after;    /* print the graph after this pass, or NULL */
    bool print_after_all;
    bool verify_each;           /* run the verifier after every pass */
    bool time_passes;           /* report each pass's wall time to `dump` */
} PassCtx;

/* Fills ctx with defaults: no printing, no timing, verify_each on. */
void pass_ctx_init(PassCtx *ctx, Diag *diag);

typedef bool (*PassFn)(IrGraph *g, PassCtx *ctx);

typedef struct PassInfo {
    const char *name;
    PassFn fn;
    const char *help;
} PassInfo;

#define PASS(name, fn, help) bool fn(IrGraph *g, PassCtx *ctx);
#include "passes.def"
#undef PASS

/* The registry: all passes in passes.def order. */
const PassInfo *pass_list(int *count);
const PassInfo *pass_find(const char *name);

/* Runs a comma-separated pipeline ("shape,verify"). An unknown name is an
 * error that lists the known ones. Stops at the first failing pass. */
bool pass_run_pipeline(IrGraph *g, const char *pipeline, PassCtx *ctx);

/* The default pipeline `lnet ir` runs. */
#define PASS_DEFAULT_PIPELINE "shape,verify"

#endif
