/* fuzz_frontend.c — libFuzzer harness for the whole frontend.
 *
 * Each input is compiled as a .lnet file. The harness checks the contract
 * (a graph exactly when no error was reported, and a graph that verifies)
 * and renders the diagnostics, so locations in error messages are exercised
 * too. Build with -DLNET_FUZZ=ON (clang); see docs/testing.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile("fuzz.lnet", (const char *)data, size, &d);
    if ((g != NULL) == (d.n_errors > 0))
        abort();                        /* errors <=> no graph */
    if (g) {
        Diag v;
        diag_init(&v);
        if (!ir_graph_verify(g, &v) || g->loss < 0)
            abort();
        diag_fini(&v);
    }
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        diag_print(&d, null);
        fclose(null);
    }
    ir_graph_free(g);
    diag_fini(&d);
    return 0;
}
