/* train_mlp.c — lnet embedded in a program that brings its own data.
 *
 *   cc train_mlp.c $(pkg-config --cflags --libs lnet) -o train_mlp
 *   ./train_mlp PREFIX/share/lnet/examples/fmnist_mlp.lnet [STEPS] [CHECKPOINT]
 *
 * Compiles the model with lnet's JIT, then trains it on synthetic images
 * made here: each of the model's classes is a random pattern, each example
 * its class's pattern plus noise. Prints the loss as it falls, the accuracy
 * on fresh examples, and saves a checkpoint that it loads back. Exits 1 if
 * anything fails or the loss did not fall.
 */
#include <lnet/lnet.h>

#include <stdio.h>
#include <stdlib.h>

/* xorshift64*: uniform in [0, 1). */
static double uniform(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 0x2545f4914f6cdd1dull) >> 11) * 0x1p-53;
}

/* n examples of `size` floats: class y[i] = a random class, x = its
 * pattern + noise. */
static void make_batch(const float *patterns, int classes, int64_t size, int n, uint64_t *rng,
                       float *x, int32_t *y)
{
    for (int i = 0; i < n; i++) {
        y[i] = (int32_t)(uniform(rng) * classes);
        for (int64_t j = 0; j < size; j++)
            x[i * size + j] = patterns[y[i] * size + j] + 4.0f * (float)(uniform(rng) - 0.5);
    }
}

static int die(const char *what, char *msg)
{
    fprintf(stderr, "train_mlp: error: %s: %s\n", what, msg ? msg : "(no message)");
    lnet_dispose_message(msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: train_mlp MODEL.lnet [STEPS] [CHECKPOINT]\n");
        return 2;
    }
    int steps = argc > 2 ? atoi(argv[2]) : 30;
    const char *ckpt = argc > 3 ? argv[3] : "train_mlp.safetensors";
    char *err = NULL;
    LnetModel *m = lnet_model_create_from_file(argv[1], NULL, 0, &err);
    if (!m)
        return die(argv[1], err);
    enum { CLASSES = 10 };
    int batch = lnet_model_batch(m);
    int64_t size = lnet_model_input_size(m);
    printf("lnet %s: %s, %d blocks, batch %d, %lld inputs, %d parameters\n", lnet_version(),
           argv[1], lnet_model_blocks(m), batch, (long long)size,
           lnet_model_parameter_count(m));

    float *patterns = malloc(sizeof(float) * CLASSES * (size_t)size);
    float *x = malloc(sizeof(float) * (size_t)batch * (size_t)size);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)batch);
    if (!patterns || !x || !y)
        return die("memory", NULL);
    uint64_t rng = 42;
    for (int64_t i = 0; i < CLASSES * size; i++)
        patterns[i] = (float)(uniform(&rng) - 0.5);

    float first = 0, loss = 0;
    for (int s = 0; s < steps; s++) {
        make_batch(patterns, CLASSES, size, batch, &rng, x, y);
        if (lnet_model_train_step(m, x, y, batch, &loss, &err))
            return die("train", err);
        if (s == 0)
            first = loss;
        if (s % 5 == 0 || s == steps - 1)
            printf("step %3lld  loss %.4f\n", (long long)lnet_model_step(m), loss);
    }
    float acc = 0, eval_loss = 0;
    make_batch(patterns, CLASSES, size, batch, &rng, x, y);
    if (lnet_model_evaluate(m, x, y, batch, &eval_loss, &acc, &err))
        return die("evaluate", err);
    printf("evaluation: loss %.4f, accuracy %.3f\n", eval_loss, acc);

    /* a checkpoint round trip: the first parameter survives it */
    const char *p0 = lnet_model_parameter_name(m, 0);
    int64_t n0 = lnet_model_parameter_size(m, p0);
    float *before = malloc(sizeof(float) * (size_t)n0), *after = malloc(sizeof(float) * (size_t)n0);
    if (!before || !after)
        return die("memory", NULL);
    if (lnet_model_get_parameter(m, p0, before, n0, &err) || lnet_model_save(m, ckpt, &err))
        return die("save", err);
    for (int64_t i = 0; i < n0; i++)
        after[i] = 0;
    if (lnet_model_set_parameter(m, p0, after, n0, &err) || lnet_model_load(m, ckpt, &err) ||
        lnet_model_get_parameter(m, p0, after, n0, &err))
        return die("load", err);
    for (int64_t i = 0; i < n0; i++)
        if (before[i] != after[i])
            return die("load", NULL);
    printf("checkpoint %s: saved and loaded at step %lld\n", ckpt, (long long)lnet_model_step(m));

    lnet_model_dispose(m);
    free(patterns), free(x), free(y), free(before), free(after);
    if (!(loss < first)) {
        fprintf(stderr, "train_mlp: error: the loss did not fall (%.4f -> %.4f)\n", first, loss);
        return 1;
    }
    printf("loss fell from %.4f to %.4f\n", first, loss);
    return 0;
}
