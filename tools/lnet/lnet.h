/* lnet.h — lnet as a C library: compile a .lnet model with the JIT and train
 * it on batches the caller provides.
 *
 * Link with `pkg-config --cflags --libs lnet`. A model is an opaque handle:
 * lnet_model_create_from_file / _from_text compile it (the method and the
 * number of blocks may override the file's `local` section), then
 * lnet_model_train_step runs one training step of every block in turn on
 * the caller's batch (the sequential semantics of `lnet train --schedule
 * sequential`), lnet_model_evaluate the forward pass. Parameters are read
 * and written by their name in the model; checkpoints are the files of
 * `lnet train --save`.
 *
 * Errors: functions that can fail take `char **error_message` (may be
 * NULL). On failure they return NULL or a non-zero int and, when
 * error_message is not NULL, set *error_message to a heap string that the
 * caller frees with lnet_dispose_message; on success *error_message is left
 * untouched. No function prints or exits. A handle is not thread-safe: use
 * one from one thread at a time (distinct handles are independent).
 */
#ifndef LNET_LNET_H
#define LNET_LNET_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct LnetModel LnetModel;

/* "0.1.0": a static string, not to be freed. */
const char *lnet_version(void);

/* Frees a message an lnet function returned through error_message. NULL is
 * allowed. */
void lnet_dispose_message(char *message);

/* Compiles the model in the .lnet file at path for training. method
 * ("backprop", "greedy", "chunked", "overlap") and blocks (>= 1) replace the
 * file's `local` values; NULL / 0 keep them. Parameters are initialized
 * from the model's seed. Returns a handle the caller owns
 * (lnet_model_dispose), or NULL and the diagnostics (file:line:col: error:
 * ...) in *error_message. */
LnetModel *lnet_model_create_from_file(const char *path, const char *method, int blocks,
                                       char **error_message);

/* The same from the model's text (copied), called `name` in diagnostics. */
LnetModel *lnet_model_create_from_text(const char *name, const char *text, const char *method,
                                       int blocks, char **error_message);

/* Frees the model and everything it owns. NULL is allowed. */
void lnet_model_dispose(LnetModel *model);

/* The largest batch a step or an evaluation takes: the model's `batch`. */
int lnet_model_batch(const LnetModel *model);
/* The number of blocks the model was split into. */
int lnet_model_blocks(const LnetModel *model);
/* Floats per example of the input, and int32 labels per example (1 for a
 * class label). */
int64_t lnet_model_input_size(const LnetModel *model);
int64_t lnet_model_label_size(const LnetModel *model);
/* Updates done so far (train steps, plus those of a loaded checkpoint). */
int64_t lnet_model_step(const LnetModel *model);

/* The learning rate of the following steps (initially the model's). */
void lnet_model_set_learning_rate(LnetModel *model, float lr);

/* One training step on n examples (1 <= n <= lnet_model_batch): inputs
 * holds n * lnet_model_input_size floats, labels n * lnet_model_label_size
 * class indices (borrowed, read during the call). Every block runs its
 * forward pass, loss, backward pass and update in order. *loss (may be NULL)
 * receives the model's task loss before the update. Returns 0, or non-zero
 * with *error_message on a bad n, a label out of range or a non-finite
 * loss (the parameters are then updated anyway). */
int lnet_model_train_step(LnetModel *model, const float *inputs, const int32_t *labels, int n,
                          float *loss, char **error_message);

/* The task loss and accuracy (fraction of labels predicted) of n examples,
 * with no update. loss and accuracy may be NULL. Returns 0, or non-zero with
 * *error_message. */
int lnet_model_evaluate(LnetModel *model, const float *inputs, const int32_t *labels, int n,
                        float *loss, float *accuracy, char **error_message);

/* Inference: the task head's outputs (the logits its loss reads) for n
 * examples (1 <= n <= lnet_model_batch), in evaluation mode (no dropout;
 * batch norm uses its running statistics), with no labels and no update.
 * outputs receives n * lnet_model_output_size floats, example after example;
 * count is its capacity in floats. Returns 0, or non-zero with
 * *error_message on a bad n or a count too small. */
int64_t lnet_model_output_size(const LnetModel *model);
int lnet_model_predict(LnetModel *model, const float *inputs, int n, float *outputs,
                       int64_t count, char **error_message);

/* Parameters, in model order: the name of parameter i (0 <= i <
 * lnet_model_parameter_count; owned by the model, valid until it is
 * disposed), and the number of floats of a parameter by name (-1: none). */
int lnet_model_parameter_count(const LnetModel *model);
const char *lnet_model_parameter_name(const LnetModel *model, int i);
int64_t lnet_model_parameter_size(const LnetModel *model, const char *name);

/* Copies parameter `name` to / from count floats at values (count must be
 * lnet_model_parameter_size). Returns 0, or non-zero with *error_message
 * for an unknown name or a wrong count. */
int lnet_model_get_parameter(LnetModel *model, const char *name, float *values, int64_t count,
                             char **error_message);
int lnet_model_set_parameter(LnetModel *model, const char *name, const float *values,
                             int64_t count, char **error_message);

/* Writes every parameter, the optimizer's state and the step counter to a
 * checkpoint at path (safetensors, as `lnet train --save` writes; an
 * existing file is replaced only once the new one is complete). Loads one
 * (every tensor must be present with the model's shape; nothing changes
 * unless all are). Return 0, or non-zero with *error_message. */
int lnet_model_save(LnetModel *model, const char *path, char **error_message);
int lnet_model_load(LnetModel *model, const char *path, char **error_message);

#ifdef __cplusplus
}
#endif

#endif
