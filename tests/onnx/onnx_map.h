/* onnx_map.h — how one ONNX node test becomes an lnet IR graph.
 *
 * A mapping builds the graph, says which lnet node receives each ONNX input
 * and which one is compared with each ONNX output, and how to run it. The
 * ONNX tensor's first dimension becomes lnet's batch when the mapping feeds
 * it into a batched input; parameters (unbatched) take a tensor as is.
 */
#ifndef LNET_ONNX_MAP_H
#define LNET_ONNX_MAP_H

#include "ir.h"
#include "onnx_pb.h"

typedef struct OxMap {
    /* what the mapping reads */
    const OxModel *model;
    const OxNode *node;
    const OxTensor *in;         /* the data set's inputs, in graph-input order */
    int n_in;
    const OxTensor *out;        /* its expected outputs */
    int n_out;
    /* what the mapping fills */
    IrGraph *g;
    int batch;                  /* the n the executors run with (0: none batched) */
    bool whole;                 /* each batched input is the whole ONNX tensor as one
                                 * example (batch 1), not split along its first dim */
    int feed[OX_MAX_IO];        /* lnet node loaded with the node's input k, -1: none */
    double feed_scale[OX_MAX_IO];   /* loaded value = ONNX value * feed_scale */
    int result[OX_MAX_IO];      /* lnet node compared with ONNX output k */
    double result_scale[OX_MAX_IO]; /* ONNX value = lnet value * result_scale */
    int fill;                   /* a param the runner fills with fill_value (a constant:
                                 * an absent bias, a reduction's ones), -1: none */
    float fill_value;
    float lr;                   /* step arguments (optimizer updates) */
    int64_t t;
    char why[160];              /* the reason a mapping refuses, or a shape error */
    bool failed;                /* a shape rule refused a node the mapping built */
} OxMap;

/* Maps m->node onto m->g (a fresh graph). Returns NULL when mapped, else the
 * reason the case is not applicable (static text or m->why). A shape rule
 * refusing a node the mapping built is an error, not a reason: m->failed is
 * set and the runner reports a failure (m->why says what). */
const char *ox_map(OxMap *m);

/* The tensor of the node's input k: an initializer of the model, or the data
 * set's tensor of that graph input; NULL when omitted. */
const OxTensor *ox_map_input(const OxMap *m, int k);

/* The op families the runner maps, for the table (NULL-terminated). */
extern const char *const ox_mapped_ops[];

#endif
