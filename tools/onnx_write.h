/* onnx_write.h — an ONNX file of a model's task network (tools/onnx_write.c). */
#ifndef LNET_ONNX_WRITE_H
#define LNET_ONNX_WRITE_H

#include "ir.h"
#include "safetensors.h"

#include <stdbool.h>
#include <stdio.h>

/* Writes to f the ONNX model (opset 17) of the nodes of g marked in need —
 * the ancestors of the task loss's prediction, which is the graph's one
 * output, "output" — with the parameters of ckpt as initializers (present
 * and of the model's shapes: the caller checked). Prints an error naming
 * model_path:line:col for an op ONNX cannot express yet. */
bool onnx_write(FILE *f, const IrGraph *g, const bool *need, const StFile *ckpt,
                const char *model_path);

#endif
