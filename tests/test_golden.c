/* test_golden.c — golden IR: every tests/golden/NAME.lnet, and every example,
 * compiled by the frontend and printed by ir_graph_print must equal
 * tests/golden/NAME.ir byte for byte. LNET_UPDATE_GOLDEN=1 rewrites the .ir
 * files instead (review the diff before committing it). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"

#define GOLDEN_DIR LNET_SOURCE_DIR "/tests/golden"

static char *slurp(const char *path, size_t *len)
{
    Diag d;
    diag_init(&d);
    char *text = fe_read_file(path, len, &d);
    diag_fini(&d);
    return text;
}

/* Compiles src_path and compares (or rewrites) the IR text in ir_path. */
static void golden(const char *src_path, const char *ir_path)
{
    size_t len;
    char *text = slurp(src_path, &len);
    cr_assert_not_null(text, "cannot read %s", src_path);
    Diag d;
    diag_init(&d);
    IrGraph *g = fe_compile(src_path, text, len, &d);
    char *out;
    size_t n;
    FILE *f = open_memstream(&out, &n);
    diag_print(&d, f);
    if (g)
        ir_graph_print(g, f);
    fclose(f);
    cr_expect_not_null(g, "%s does not compile:\n%s", src_path, out);
    const char *update = getenv("LNET_UPDATE_GOLDEN");
    if (update && strcmp(update, "1") == 0) {
        FILE *w = fopen(ir_path, "w");
        cr_assert_not_null(w, "cannot write %s", ir_path);
        fputs(out, w);
        fclose(w);
    } else {
        size_t want_len;
        char *want = slurp(ir_path, &want_len);
        cr_assert_not_null(want, "missing %s (run with LNET_UPDATE_GOLDEN=1)", ir_path);
        cr_expect_str_eq(out, want, "%s differs from %s", src_path, ir_path);
        free(want);
    }
    ir_graph_free(g);
    free(out);
    free(text);
    diag_fini(&d);
}

/* Runs golden() for every NAME.lnet in dir, with NAME.ir in GOLDEN_DIR
 * (prefixed by ir_prefix). Returns how many files were checked. */
static int golden_dir(const char *dir, const char *ir_prefix)
{
    DIR *dp = opendir(dir);
    cr_assert_not_null(dp, "cannot open %s", dir);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".lnet") != 0)
            continue;
        char src[1024], ir[1024];
        snprintf(src, sizeof src, "%s/%s", dir, e->d_name);
        snprintf(ir, sizeof ir, "%s/%s%.*s.ir", GOLDEN_DIR, ir_prefix, (int)(n - 5), e->d_name);
        golden(src, ir);
        count++;
    }
    closedir(dp);
    return count;
}

Test(golden, inputs)
{
    cr_expect_geq(golden_dir(GOLDEN_DIR, ""), 4);
}

Test(golden, examples)
{
    cr_expect_geq(golden_dir(LNET_SOURCE_DIR "/examples", "example_"), 4);
}
