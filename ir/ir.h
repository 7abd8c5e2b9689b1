/* ir.h — the one public header of the IR module.
 *
 * The IR is a graph of nodes in SSA form: every node produces exactly one value,
 * named by the node's index (`%id`). Nodes are kept in topological order (an
 * operand always has a smaller id than its user) and live in an arena owned by
 * the graph. Every value has a static type: a dtype and a shape whose leading
 * dimension may be the symbolic batch `N`, bound when a step function is
 * compiled. Every node remembers the `.lnet` source location that made it and
 * the block it belongs to, so errors from any pass point at user code.
 *
 * The module also holds the diagnostics sink (`Diag`) shared by every stage:
 * library code appends to it and returns false/NULL; only tools/ prints.
 */
#ifndef LNET_IR_H
#define LNET_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LNET_VERSION "0.1.0"

/* ---------------------------------------------------------------- arena */

typedef struct IrArenaChunk IrArenaChunk;

/* A bump allocator: memory is freed all at once by ir_arena_fini. */
typedef struct IrArena {
    IrArenaChunk *head;
} IrArena;

void  ir_arena_init(IrArena *a);
void  ir_arena_fini(IrArena *a);
/* Zeroed, 16-byte aligned memory owned by the arena; aborts on OOM. */
void *ir_arena_alloc(IrArena *a, size_t n);
char *ir_arena_strdup(IrArena *a, const char *s);
char *ir_arena_strndup(IrArena *a, const char *s, size_t n);

/* ------------------------------------------------------- locations, diag */

/* A position in a source file; line and col are 1-based, 0 means unknown. */
typedef struct IrLoc {
    int file;   /* index into Diag's source table, -1 when unknown */
    int line;
    int col;
    int site;   /* a node's: the def call or repeat iteration that ran this text
                 * (ir_site), 0 at the top level and everywhere outside a graph */
} IrLoc;

#define IR_LOC_NONE ((IrLoc){-1, 0, 0, 0})

typedef enum { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagLevel;

typedef struct DiagMsg {
    DiagLevel level;
    IrLoc loc;
    char *text;             /* heap-owned */
} DiagMsg;

typedef struct DiagSource {
    char *name;             /* heap-owned copy of the file name */
    const char *text;       /* borrowed: the caller keeps it alive */
    size_t len;
} DiagSource;

/* The diagnostics sink. Caller-owned: diag_init / diag_fini. */
typedef struct Diag {
    DiagMsg *msgs;
    int n_msgs, cap_msgs;
    int n_errors;
    int max_errors;         /* further errors are counted but not stored */
    DiagSource *srcs;
    int n_srcs, cap_srcs;
} Diag;

void diag_init(Diag *d);
void diag_fini(Diag *d);
/* Registers a source text (borrowed) under a name (copied); returns its file index. */
int  diag_add_source(Diag *d, const char *name, const char *text, size_t len);
void diag_error(Diag *d, IrLoc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_warning(Diag *d, IrLoc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_note(Diag *d, IrLoc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes every message as `file:line:col: error: text`, the source line and a
 * caret under the column (long lines are shown as a window around it). */
void diag_print(const Diag *d, FILE *out);
bool diag_has_errors(const Diag *d);
/* Prints the messages so far and forgets them (the sources and the error
 * count stay), so warnings appear before long work starts. */
void diag_flush(Diag *d, FILE *out);

/* Broken invariants (bugs, not user errors): print and abort. */
#define IR_ASSERT(x) \
    ((x) ? (void)0 : ir_assert_fail(#x, __FILE__, __LINE__))
_Noreturn void ir_assert_fail(const char *what, const char *file, int line);

/* Memory for compiling (the IR arena, node arrays, pass scratch) has no error
 * path: when it runs out, IR_CHECK_ALLOC prints "lnet: error: out of memory"
 * and exits with status 1 — the one place library code ends the process, and
 * not a crash. Training-time memory is checked and reported by the runtime. */
#define IR_CHECK_ALLOC(p) ((p) ? (void)0 : ir_out_of_memory())
_Noreturn void ir_out_of_memory(void);

/* ---------------------------------------------------------------- types */

typedef enum { IR_F32, IR_I32 } IrDType;

#define IR_MAX_DIMS 6
#define IR_DIM_N (-1)   /* the symbolic batch dimension, only ever dim[0] */

typedef struct IrType {
    IrDType dtype;
    int rank;                       /* 0 = scalar */
    int64_t dim[IR_MAX_DIMS];       /* dim[0] == IR_DIM_N when batched */
} IrType;

bool    ir_type_batched(const IrType *t);
/* Elements per example: product of all dims except a batched dim[0]. */
int64_t ir_type_numel(const IrType *t);
bool    ir_type_equal(const IrType *a, const IrType *b);
/* Writes e.g. "f32[N,28,28]" into buf (always NUL-terminated). */
void    ir_type_str(const IrType *t, char *buf, size_t cap);

/* ------------------------------------------------------------------ ops */

typedef enum {
    IR_KIND_SOURCE,     /* input, label, param, state: no operands */
    IR_KIND_FWD,        /* forward op (the grad column says which operands get gradients) */
    IR_KIND_BWD,        /* emitted by autodiff */
    IR_KIND_OPT,        /* optimizer update */
} IrOpKind;

/* Attributes an op may carry (bit mask, for the printer and verifier). */
enum {
    IR_A_AXIS = 1 << 0, IR_A_STRIDE = 1 << 1, IR_A_PADDING = 1 << 2,
    IR_A_KERNEL = 1 << 3, IR_A_HEADS = 1 << 4, IR_A_SCALAR = 1 << 5,
    IR_A_EPS = 1 << 6, IR_A_P = 1 << 7, IR_A_SHAPE = 1 << 8,
    IR_A_PERM = 1 << 9, IR_A_INIT = 1 << 10, IR_A_CLASSES = 1 << 11,
    IR_A_SLICE = 1 << 12, IR_A_OPT = 1 << 13, IR_A_MOMENTUM = 1 << 14,
};

/* The grad column: the op is differentiable in operand k (bit k). */
enum { IR_D0 = 1 << 0, IR_D1 = 1 << 1, IR_D2 = 1 << 2 };

/* The props column (ops.def's comment says what each means). */
enum {
    IR_P_VIEW = 1 << 0,     /* the value is operand 0's buffer reinterpreted */
    IR_P_BCAST = 1 << 1,    /* the last operand may be unbatched, broadcast over the batch */
    IR_P_LAYER = 1 << 2,    /* the compute a layer is built around (partition) */
    IR_P_NORM = 1 << 3,     /* normalizes its input: a lone one starts the next layer */
    IR_P_LOSS = 1 << 4,     /* a mean loss of (prediction, target) */
    IR_P_STATE = 1 << 5,    /* the value persists across steps */
};

typedef enum {
#define OP(e, name, lo, hi, kind, attrs, grad, props, x, w) IR_OP_##e,
#include "ops.def"
#undef OP
    IR_OP_COUNT
} IrOp;

/* One row of ops.def. */
typedef struct IrOpInfo {
    const char *name;
    int min_in, max_in;
    IrOpKind kind;
    unsigned attrs;         /* IR_A_* */
    unsigned grad;          /* IR_D*: operands a gradient flows to */
    unsigned props;         /* IR_P_* */
    int x, w;               /* operand index of the data input / the weight, -1 none */
} IrOpInfo;

/* The row of op; aborts (a bug, not a user error) when op is not in the table. */
const IrOpInfo *ir_op_info(IrOp op);
/* Looks an op up by its printer name; returns IR_OP_COUNT when unknown. */
IrOp ir_op_by_name(const char *name);
/* op's props column has every bit of p (IR_P_*). */
bool ir_op_has(IrOp op, unsigned p);
/* Index of the broadcast operand (the last) of an IR_P_BCAST op, else -1. */
int  ir_op_bcast_operand(IrOp op);

/* Parameter initializers. */
typedef enum {
    IR_INIT_DEFAULT,    /* chosen per use by the lowering (He for relu, ...) */
    IR_INIT_HE,         /* normal(0, sqrt(2/fan_in)) */
    IR_INIT_GLOROT,     /* uniform(+-sqrt(6/(fan_in+fan_out))) */
    IR_INIT_NORMAL,     /* normal(0, init_std) */
    IR_INIT_ZEROS,
    IR_INIT_ONES,
    IR_INIT_COUNT
} IrInit;

const char *ir_init_name(IrInit i);

/* Every op uses the subset of fields named by its IR_A_* mask. */
typedef struct IrAttrs {
    int axis;                       /* bias_add: -1 last dim, 1 channel */
    int stride, padding, kernel;
    int heads;
    int classes;                    /* label: number of classes */
    float scalar;                   /* add_scalar, mul_scalar, leaky_relu (the slope) */
    float eps;                      /* layernorm, batchnorm */
    float p;                        /* dropout probability */
    int salt;                       /* dropout: id of the forward node (mask seed) */
    int start, len;                 /* slice_last */
    /* sgd_update / adam_update hyper-parameters (lr is a step argument) */
    float momentum, beta1, beta2, weight_decay;    /* momentum: batchnorm's too */
    bool nesterov, decoupled;
    int rank;                       /* reshape: target rank (no batch) */
    int64_t shape[IR_MAX_DIMS];     /* reshape: target dims (no batch) */
    int perm[IR_MAX_DIMS];          /* transpose: perm of non-batch axes */
    IrInit init;                    /* param */
    float init_std;                 /* param with IR_INIT_NORMAL */
    int fan_in, fan_out;            /* param: set by the lowering for init */
} IrAttrs;

/* ---------------------------------------------------------------- nodes */

#define IR_MAX_IN 6
#define IR_BLOCK_NONE (-1)

enum {
    IR_F_CUT = 1 << 0,      /* the user declared a cut after this value */
    IR_F_HEAD = 1 << 1,     /* part of an auxiliary head */
    IR_F_LOSS = 1 << 2,     /* a loss that autodiff seeds (besides g->loss) */
    /* Pipeline stages of a backprop graph (passes/stages.c): */
    IR_F_GRAD_SEED = 1 << 3,    /* an input holding the upstream gradient of the value
                                 * its `grad` names: autodiff seeds that value with it */
    IR_F_WANT_GRAD = 1 << 4,    /* an input whose gradient autodiff computes (into `grad`) */
    IR_F_BUFFER = 1 << 5,   /* a param that is state, not trained (batchnorm's running
                             * statistics): saved in checkpoints, but no gradient, no
                             * optimizer update, not counted as a trainable parameter */
};

typedef struct IrNode {
    int id;                 /* == index in IrGraph.nodes */
    IrOp op;
    IrType type;
    int n_in;
    int in[IR_MAX_IN];      /* operand node ids, each < id */
    IrAttrs a;
    const char *name;       /* user-visible name (arena), or NULL */
    int block;              /* IR_BLOCK_NONE until partitioned */
    int grad;               /* params and IR_F_WANT_GRAD inputs: node id of the gradient,
                             * -1 before autodiff; IR_F_GRAD_SEED inputs: the seeded value */
    int state;              /* state nodes: the param they belong to */
    unsigned flags;
    IrLoc loc;
} IrNode;

/* ---------------------------------------------------------- train/local */

typedef enum { OPT_SGD, OPT_ADAM, OPT_ADAMW, OPT_COUNT } IrOptimizer;
typedef enum { LR_CONSTANT, LR_WARMUP, LR_COSINE, LR_COUNT } IrLrSchedule;
typedef enum {
    METHOD_BACKPROP, METHOD_GREEDY, METHOD_CHUNKED, METHOD_OVERLAP,
    METHOD_LAST_LAYER,      /* a control: one block, only its last layer trained */
    METHOD_COUNT
} IrMethod;

const char *ir_optimizer_name(IrOptimizer o);
const char *ir_lr_schedule_name(IrLrSchedule s);
const char *ir_method_name(IrMethod m);
/* What chunked blocks balance (`local { balance = ... }`): FLOPs, the
 * activation bytes a block keeps for its backward, or measured time. */
typedef enum { BALANCE_FLOPS, BALANCE_MEMORY, BALANCE_TIME, BALANCE_COUNT } IrBalance;
const char *ir_balance_name(IrBalance b);

/* The `train { }` section; every field can be overridden from the CLI. */
typedef struct IrTrainCfg {
    const char *data;           /* "fashion_mnist", "mnist", "text", "npy", "cifar10", ... */
    const char *data_path;      /* optional file or directory (npy: where relative files start) */
    const char *npy[4];         /* data = npy(...): x, y, test_x, test_y as written */
    float mean, std;            /* input normalization (x - mean) / std; std 0: the data set's */
    int crop;                   /* augmentation: random crop after zero padding by crop pixels */
    bool flip;                  /* augmentation: random horizontal flip */
    IrOptimizer optimizer;
    float lr, momentum, beta1, beta2, eps, weight_decay, clip;
    bool nesterov;
    int batch, epochs;
    IrLrSchedule lr_schedule;
    int warmup;                 /* warm-up steps for LR_WARMUP/COSINE */
    uint64_t seed;
    IrLoc loc;                  /* where the section starts */
} IrTrainCfg;

/* The `local { }` section. */
enum { IR_MAX_BLOCK_HEADS = 32 };  /* blocks that may name their own head (head1..head32) */
typedef struct IrLocalCfg {
    IrMethod method;
    int blocks;                 /* K; 0 = method default */
    int overlap;                /* window w for METHOD_OVERLAP */
    IrBalance balance;          /* what chunked blocks balance */
    const char *method_name;    /* a plug-in's method (`method = NAME`), else NULL */
    const char *head;           /* name of a user `def` to use as aux head */
    /* per-block heads (`head2 = NAME`, 1-based): block k's def, or NULL for `head` */
    const char *head_of[IR_MAX_BLOCK_HEADS];
    IrLoc loc;                  /* the `local` keyword */
    /* the value of each key as written (line 0 when not given in the file) */
    IrLoc method_loc, blocks_loc, overlap_loc, head_loc, balance_loc;
    IrLoc head_of_loc[IR_MAX_BLOCK_HEADS];
} IrLocalCfg;

void ir_train_cfg_default(IrTrainCfg *t);
void ir_local_cfg_default(IrLocalCfg *l);
/* The method's name as users wrote it: a plug-in's own, else the built-in's. */
const char *ir_local_method_name(const IrLocalCfg *l);

/* ---------------------------------------------------------------- sites */

/* Where the text of a def body or a repeat body ran when it made a node: one
 * link of a chain, innermost first. `at.site` is the enclosing link, so a
 * node made in `def block` called at 14:5 inside the third iteration of the
 * repeat at 13:1 has loc.site -> {14:5, "block"} -> {13:1, NULL, 3} -> 0. */
typedef struct IrSite {
    IrLoc at;               /* the call (its callee name) or the `repeat` keyword */
    const char *def;        /* the def called (graph arena); NULL: a repeat iteration */
    int iter;               /* a repeat's iteration, 1-based; 0 for a call */
} IrSite;

/* ---------------------------------------------------------------- graph */

/* The graph owns its arena; everything reachable from it lives there. */
typedef struct IrGraph {
    IrArena arena;
    const char *model;          /* model name */
    IrNode **nodes;             /* heap array of arena nodes, topological */
    int n_nodes, cap_nodes;
    int loss;                   /* node id of the task loss, -1 if none */
    int n_blocks;               /* 0 until partitioned; block ids are 0-based inside,
                                 * printed 1-based (ir_block_no) */
    IrSite *sites;              /* heap array: site s is sites[s - 1] (IrLoc.site) */
    int n_sites, cap_sites;
    IrTrainCfg train;
    IrLocalCfg local;
} IrGraph;

/* Caller-owned graph: allocated and freed by the callee. */
IrGraph *ir_graph_new(const char *model);
void     ir_graph_free(IrGraph *g);

/* Appends a node; operands must already exist. The type is left zeroed:
 * call ir_shape_infer (or set it) afterwards. Returns the node. */
IrNode *ir_node_add(IrGraph *g, IrOp op, const int *in, int n_in,
                    const IrAttrs *a, IrLoc loc);
IrNode *ir_node(const IrGraph *g, int id);
/* Bytes of node id's buffer for max_batch examples (scalars: 2 floats),
 * rounded up to 64; 0 for views (IR_P_VIEW: they alias their operand). What
 * the memory plan, the executors and the trainer size buffers with. */
int64_t ir_value_bytes(const IrGraph *g, int id, int max_batch);

/* When a step runs in parts (the data-parallel and pipeline schedules):
 *   IR_PHASE_FORWARD   sources, forward ops, loss seeds;
 *   IR_PHASE_BACKWARD  backward ops, IR_F_GRAD_SEED inputs, and every op that
 *                      reads a backward value (autodiff's add/mul/...);
 *   IR_PHASE_UPDATE    optimizer ops and every op that reads one.
 * Running the phases in that order, each in node order, computes what running
 * every node in order does (the optimizer appends its nodes last). Fills
 * phase[0..n_nodes) (caller-owned). */
typedef enum { IR_PHASE_FORWARD, IR_PHASE_BACKWARD, IR_PHASE_UPDATE } IrPhase;
void ir_graph_phases(const IrGraph *g, unsigned char *phase);

/* The id of the first node whose op is not a row of ops.def, or -1. The
 * consumers that report errors (verifier, autodiff, interpreter, codegen) call
 * it before anything looks such an op up. */
int ir_graph_unknown_op(const IrGraph *g);

/* Appends a site (def copied into the arena) and returns its number (>= 1). */
int ir_site_add(IrGraph *g, IrLoc at, const char *def, int iter);
/* Site s of g, or NULL when s is 0 or not in g's table. */
const IrSite *ir_site(const IrGraph *g, int s);
/* Gives dst a copy of src's sites, so copied nodes keep their chains. */
void ir_graph_copy_sites(IrGraph *dst, const IrGraph *src);
/* Writes loc as "9:17", followed by its chain: " < block@14:5 < repeat@13:1#3"
 * (each def call and repeat iteration it ran in, innermost first); "" when
 * the line is unknown. Returns buf. */
const char *ir_loc_str(const IrGraph *g, IrLoc loc, char *buf, size_t cap);
/* Appends a note per link of loc's chain ("in 'block' called here, iteration
 * 3 of the repeat at 13:1"), each at the call or the repeat, so an error in
 * a def body names the call that failed. */
void ir_diag_chain(const IrGraph *g, Diag *d, IrLoc loc);

/* ---------------------------------------------------------------- blocks
 *
 * Block ids are 0-based in the IR and every array; users see them 1-based
 * (`@b1`, "block 1"): ir_block_no converts at the print boundary. */
static inline int ir_block_no(int block) { return block + 1; }

/* Why a block boundary falls where it does. */
typedef enum {
    IR_CUT_USER,        /* a `cut` statement */
    IR_CUT_AUTO,        /* chosen by the method: its rule or its dynamic program */
} IrCutKind;

/* Fills cut[0..n_blocks) (caller-owned) with the value after which each block
 * ends: its last forward node outside a head; -1 for the last block. */
void ir_block_cuts(const IrGraph *g, int *cut);
/* Where a user `cut` or the method put node `cut` (a value ir_block_cuts gave). */
IrCutKind ir_cut_kind(const IrGraph *g, int cut);
/* Writes one line on why the block ends at `cut`: "user cut", or the
 * method's rule ("automatic: greedy makes one block per layer"). Returns buf. */
const char *ir_cut_reason(const IrGraph *g, int cut, char *buf, size_t cap);

/* ---------------------------------------------------------------- shape */

/* Computes n->type from its operands and attributes. On a mismatch appends
 * an error at n->loc (naming both shapes) and returns false. */
bool ir_shape_infer(const IrGraph *g, IrNode *n, Diag *d);

/* ----------------------------------------------------------------- cost */

/* Per-example cost of one node's forward computation. */
typedef struct IrCost {
    double flops;       /* floating-point operations per example */
    double bytes;       /* bytes read + written per example */
} IrCost;

IrCost ir_node_cost(const IrGraph *g, const IrNode *n);
/* Trained parameter elements (0 for non-params and IR_F_BUFFER params). */
int64_t ir_param_numel(const IrNode *n);

/* --------------------------------------------------- verifier, printer */

/* Checks the structural invariants: operand ids in range and earlier,
 * arity from the op table, types equal to what shape inference gives,
 * the loss a scalar, block ids in range. Errors go to d. */
bool ir_graph_verify(const IrGraph *g, Diag *d);

/* Deterministic text, one node per line (the format of golden tests). */
void ir_graph_print(const IrGraph *g, FILE *out);
/* Graphviz text; nodes labelled with op and shape, blocks as clusters. */
void ir_graph_dot(const IrGraph *g, FILE *out);

#endif
