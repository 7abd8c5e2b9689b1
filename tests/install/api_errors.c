/* api_errors.c — the errors of <lnet/lnet.h>, built against an installed
 * lnet with pkg-config (tests/install.cmake): each call that must fail does,
 * with a message, and the model stays usable after it. Prints one line per
 * check ("NAME: MESSAGE"); exits 1 when a call that must fail succeeds or
 * one that must succeed fails.
 */
#include <lnet/lnet.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const tiny =
    "model tiny\n"
    "input  x : f32[4]\n"
    "label  y : class[3]\n"
    "loss cross_entropy(dense(relu(dense(x, 8)), 3), y)\n"
    "train { optimizer = sgd(lr = 0.1)  batch = 4  seed = 1 }\n";

static int failures;

/* rc must be non-zero with a message: prints it and frees it. */
static void expect_error(const char *what, int rc, char *msg)
{
    if (rc == 0 || !msg) {
        printf("%s: UNEXPECTED SUCCESS\n", what);
        failures++;
    } else {
        printf("%s: %s\n", what, msg);
    }
    lnet_dispose_message(msg);
}

static void expect_ok(const char *what, int rc, char *msg)
{
    if (rc != 0) {
        printf("%s: UNEXPECTED ERROR: %s\n", what, msg ? msg : "(none)");
        failures++;
    }
    lnet_dispose_message(msg);
}

/* `call` (which may use err) must fail / succeed. */
#define FAILS(what, call)                                                                  \
    do {                                                                                   \
        char *err = NULL;                                                                  \
        int rc = (call);                                                                   \
        expect_error(what, rc, err);                                                       \
    } while (0)
#define WORKS(what, call)                                                                  \
    do {                                                                                   \
        char *err = NULL;                                                                  \
        int rc = (call);                                                                   \
        expect_ok(what, rc, err);                                                          \
    } while (0)

int main(void)
{
    LnetModel *m = NULL;
    const char *broken = "model bad\ninput x : f32[?]\n";
    FAILS("syntax", !(m = lnet_model_create_from_text("tiny-bad.lnet", broken, NULL, 0, &err)));
    FAILS("method", !(m = lnet_model_create_from_text("tiny.lnet", tiny, "sideways", 0, &err)));
    FAILS("blocks", !(m = lnet_model_create_from_text("tiny.lnet", tiny, NULL, -1, &err)));
    FAILS("file", !(m = lnet_model_create_from_file("/nonexistent/model.lnet", NULL, 0, &err)));
    if (lnet_model_create_from_text("bad.lnet", "model bad\n", NULL, 0, NULL))
        failures++;     /* a NULL error_message is allowed */
    lnet_model_dispose(NULL);

    WORKS("create", !(m = lnet_model_create_from_text("tiny.lnet", tiny, "backprop", 1, &err)));
    if (!m)
        return 1;
    float x[4 * 4] = {0};
    int32_t y[4] = {0, 1, 2, 0};
    float loss = -1, acc = -1;
    FAILS("n=0", lnet_model_train_step(m, x, y, 0, &loss, &err));
    FAILS("n>batch", lnet_model_train_step(m, x, y, 5, &loss, &err));
    int32_t bad[4] = {0, 3, 0, 0};
    FAILS("label", lnet_model_train_step(m, x, bad, 4, &loss, &err));
    FAILS("no inputs", lnet_model_evaluate(m, NULL, y, 4, &loss, &acc, &err));
    WORKS("step", lnet_model_train_step(m, x, y, 4, &loss, &err));
    WORKS("evaluate", lnet_model_evaluate(m, x, y, 3, &loss, &acc, &err));
    printf("step %lld, loss %.4f, accuracy %.3f\n", (long long)lnet_model_step(m), loss, acc);

    /* lnet_model_predict: the logits lnet_model_evaluate scores — their
     * mean cross-entropy is its loss, their arg-max its accuracy. */
    float xs[4 * 4], out[4 * 3];
    for (int i = 0; i < 16; i++)
        xs[i] = (float)((i * 7) % 5) - 2.0f;
    FAILS("predict n=0", lnet_model_predict(m, xs, 0, out, 12, &err));
    FAILS("predict count", lnet_model_predict(m, xs, 4, out, 11, &err));
    WORKS("predict", lnet_model_predict(m, xs, 4, out, 12, &err));
    WORKS("evaluate 4", lnet_model_evaluate(m, xs, y, 4, &loss, &acc, &err));
    double ce = 0;
    int right = 0;
    for (int i = 0; i < 4; i++) {
        const float *r = out + 3 * i;
        int best = 0;
        double mx = r[0], z = 0;
        for (int c = 1; c < 3; c++)
            if (r[c] > r[best])
                best = c, mx = r[c];
        for (int c = 0; c < 3; c++)
            z += exp(r[c] - mx);
        ce += mx + log(z) - r[y[i]];
        right += best == y[i];
    }
    if (lnet_model_output_size(m) != 3 || fabs(ce / 4 - loss) > 1e-5 || right / 4.0f != acc) {
        printf("predict: outputs %lld, loss %.6f vs %.6f, accuracy %.3f vs %.3f\n",
               (long long)lnet_model_output_size(m), ce / 4, loss, right / 4.0, acc);
        failures++;
    }

    const char *p0 = lnet_model_parameter_name(m, 0);
    int64_t n0 = lnet_model_parameter_size(m, p0);
    float w[64] = {0};
    FAILS("param name", lnet_model_get_parameter(m, "nope", w, n0, &err));
    FAILS("param count", lnet_model_get_parameter(m, p0, w, n0 + 1, &err));
    FAILS("load", lnet_model_load(m, "/nonexistent/c.safetensors", &err));
    FAILS("save", lnet_model_save(m, "/nonexistent/c.safetensors", &err));
    printf("parameters %d, %s holds %lld, unknown holds %lld, index 99: %s\n",
           lnet_model_parameter_count(m), p0, (long long)n0,
           (long long)lnet_model_parameter_size(m, "nope"),
           lnet_model_parameter_name(m, 99) ? "named" : "none");
    lnet_model_dispose(m);
    printf("%d unexpected results\n", failures);
    return failures > 0;
}
