/* onnx_pb.h — a small, bounded reader of the ONNX protobuf messages the
 * conformance runner needs: ModelProto -> GraphProto -> NodeProto /
 * AttributeProto / ValueInfoProto (names only), and TensorProto (dims,
 * data_type, raw_data / float_data / int32_data / int64_data / double_data).
 *
 * Every read is checked against the end of its message and against the
 * limits below; a malformed or oversized file is refused with a message,
 * never a crash. Everything a read returns is heap-owned by the struct it
 * fills and released by the matching _fini.
 */
#ifndef LNET_ONNX_PB_H
#define LNET_ONNX_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OX_MAX_DIMS 8
#define OX_MAX_IO 16            /* inputs or outputs of a node or graph */
#define OX_MAX_ATTRS 16
#define OX_MAX_NODES 64
#define OX_MAX_INIT 16          /* initializers (weights stored in the model) */
#define OX_MAX_INTS 16          /* ints / floats of one attribute */
#define OX_MAX_ELEMS (1 << 24)  /* elements of one tensor */
#define OX_NAME 64              /* names are truncated to this (NUL included) */

/* TensorProto.DataType values the runner meets. */
enum { OX_FLOAT = 1, OX_UINT8 = 2, OX_INT8 = 3, OX_INT32 = 6, OX_INT64 = 7, OX_BOOL = 9,
       OX_DOUBLE = 11 };

/* A tensor; its elements converted to double (exact for every int32, for
 * int64 up to 2^53, for float and double). */
typedef struct OxTensor {
    char name[OX_NAME];
    int dtype;                  /* OX_* (or another DataType: no data read) */
    int rank;
    int64_t dim[OX_MAX_DIMS];
    int64_t n;                  /* product of dims */
    double *v;                  /* n values, heap; NULL when dtype is unsupported */
} OxTensor;

typedef enum { OX_ATTR_OTHER, OX_ATTR_FLOAT, OX_ATTR_INT, OX_ATTR_STRING, OX_ATTR_FLOATS,
               OX_ATTR_INTS, OX_ATTR_TENSOR } OxAttrKind;

typedef struct OxAttr {
    char name[OX_NAME];
    OxAttrKind kind;
    double f;                   /* FLOAT */
    int64_t i;                  /* INT */
    char s[OX_NAME];            /* STRING */
    int n;                      /* FLOATS / INTS: count (at most OX_MAX_INTS) */
    double fs[OX_MAX_INTS];
    int64_t is[OX_MAX_INTS];
} OxAttr;

typedef struct OxNode {
    char op[OX_NAME], domain[OX_NAME];
    int n_in, n_out, n_attr;
    char in[OX_MAX_IO][OX_NAME];    /* "" for an omitted optional input */
    char out[OX_MAX_IO][OX_NAME];
    OxAttr attr[OX_MAX_ATTRS];
} OxNode;

typedef struct OxModel {
    int64_t opset;              /* version of the default domain "" (0: not given) */
    int n_nodes, n_in, n_out, n_init;
    OxNode *node;               /* n_nodes, heap */
    OxTensor init[OX_MAX_INIT]; /* n_init initializers */
    char in[OX_MAX_IO][OX_NAME], out[OX_MAX_IO][OX_NAME];
    bool in_other[OX_MAX_IO], out_other[OX_MAX_IO];    /* a sequence, optional, map...: not a tensor */
} OxModel;

/* Reads a model file. false + err on a missing, malformed or oversized file. */
bool ox_model_read(const char *path, OxModel *m, char *err, size_t errcap);
void ox_model_fini(OxModel *m);
/* Reads one TensorProto file (input_k.pb / output_k.pb). */
bool ox_tensor_read(const char *path, OxTensor *t, char *err, size_t errcap);
/* Parses a TensorProto from memory (fuzzing, attributes). */
bool ox_tensor_parse(const uint8_t *p, size_t len, OxTensor *t, char *err, size_t errcap);
void ox_tensor_fini(OxTensor *t);

/* The attribute called name, or NULL. */
const OxAttr *ox_attr(const OxNode *n, const char *name);

#endif
