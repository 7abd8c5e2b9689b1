/* lnet_pass.h — the plug-in API of lnet's partition pass (ABI version 1).
 *
 * A plug-in is a shared library that adds partition methods: strategies that
 * decide where lnet cuts a model into blocks for local training. Load it with
 * `--load-pass PATH` and pick a method with `--method NAME`; docs/passes.md is
 * the guide. This header is all a plug-in includes: it needs no other lnet
 * header and links against nothing, since every call into lnet goes through
 * the table of functions (LnetPassApi) that lnet hands to the entry point.
 *
 * A plug-in defines, at file scope:
 *
 *     LNET_PASS_PLUGIN;      (the ABI version it was built for; checked first)
 *     int lnet_pass_plugin_init(const LnetPassApi *api, LnetPassRegistry *reg)
 *     {
 *         return api->register_method(reg, "mine", "what it does", my_fn, NULL);
 *     }
 *
 * What a method decides. The partition pass first finds the model's *layers*:
 * the segments between the legal cut points (values through which everything
 * flows forward; none inside a residual block), with compute-free segments
 * merged into their neighbours. A method groups consecutive layers into
 * blocks — it calls set_blocks with the last layer of every block — and lnet
 * does the rest exactly as for its own methods: it writes each node's block
 * into the graph (parameters go to the latest block that uses them, inputs
 * and labels to none), then aux-heads, stop-grad, autodiff, optimizer and
 * split run unchanged. A method cannot change the graph, cut inside a layer,
 * run blocks across a user cut (`cut` in the model), or share layers between
 * blocks (that is the built-in `overlap`).
 *
 * Lifetime. lnet never unloads a plug-in. The LnetPassApi table lives as
 * long as the process (a plug-in may keep it, e.g. as a method's user data).
 * Every other pointer lnet passes (LnetPartition, the registry, strings it
 * returns) is borrowed and valid only during the call that received it;
 * strings a plug-in passes in are copied. Node and layer arguments out of
 * range give 0, -1 or NULL, never a crash.
 *
 * Stability. A new function is added at the end of LnetPassApi and does not
 * change LNET_PASS_ABI_VERSION; any other change does, and lnet refuses a
 * plug-in built for another version.
 */
#ifndef LNET_PASS_H
#define LNET_PASS_H

#include <stddef.h>
#include <stdint.h>

#define LNET_PASS_ABI_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

/* One run of a partition method on one model (opaque, borrowed). */
typedef struct LnetPartition LnetPartition;
/* Where a plug-in's init registers its methods (opaque, borrowed). */
typedef struct LnetPassRegistry LnetPassRegistry;

/* A partition method: reads the model through api, calls api->set_blocks
 * once, returns 0. On failure it calls api->error (the message is printed as
 * `FILE:LINE: error: partition method 'NAME': MESSAGE`) and returns nonzero;
 * returning 0 without set_blocks is an error too. user: as registered. */
typedef int (*LnetPartitionFn)(LnetPartition *p, void *user);

/* The costs of a layer, in FLOPs per example, measured on the differentiated
 * model as lnet's cost model (`lnet cost`) measures blocks. */
typedef enum {
    LNET_COST_FWD,          /* forward */
    LNET_COST_BWD_FIRST,    /* backward when the layer starts a block (no input gradient) */
    LNET_COST_BWD_REST,     /* backward inside a block */
    LNET_COST_HEAD          /* an auxiliary head on the layer's output, forward + backward;
                             * LNET_NO_HEAD when no head can be built there */
} LnetCost;

#define LNET_NO_HEAD 1e300

typedef struct LnetPassApi {
    int abi_version;        /* LNET_PASS_ABI_VERSION of the lnet that loaded the plug-in */

    /* --- registration: only inside lnet_pass_plugin_init ----------------- */

    /* Adds a method named `name` ([A-Za-z0-9_-], at most 63 characters),
     * selected with --method NAME; `help` is a one-line description (may be
     * NULL). Returns 0, or -1 when the name is invalid or already taken (a
     * built-in method or another plug-in's): the load then fails and says so. */
    int (*register_method)(LnetPassRegistry *reg, const char *name, const char *help,
                           LnetPartitionFn fn, void *user);

    /* --- the forward graph: nodes 0 .. n_nodes-1 in topological order ------ */

    int (*n_nodes)(const LnetPartition *p);
    /* The op's name as `lnet ir` prints it ("conv2d", "param", "relu", ...). */
    const char *(*op)(const LnetPartition *p, int node);
    /* The user's name for the value (`h = dense(...)`: "h"), or NULL. */
    const char *(*name)(const LnetPartition *p, int node);
    /* Line of the model file the node comes from (0 when none). */
    int (*line)(const LnetPartition *p, int node);
    int (*n_inputs)(const LnetPartition *p, int node);
    /* The k-th operand's node id (always < node). */
    int (*input)(const LnetPartition *p, int node, int k);
    /* Shape: rank (0 = scalar) and dims; a batched value has dim 0 == -1. */
    int (*rank)(const LnetPartition *p, int node);
    int64_t (*dim)(const LnetPartition *p, int node, int axis);
    /* Forward FLOPs per example of the node; parameter elements of a param. */
    double (*flops)(const LnetPartition *p, int node);
    int64_t (*param_numel)(const LnetPartition *p, int node);

    /* --- layers: 0 .. n_layers-1, each a range of node ids ---------------- */

    int (*n_layers)(const LnetPartition *p);
    int (*layer_first)(const LnetPartition *p, int layer);
    /* The layer's last node: its output, the value a block ending here sends on. */
    int (*layer_last)(const LnetPartition *p, int layer);
    /* One of the layer's costs (0 for all when the model has no loss). */
    double (*layer_cost)(const LnetPartition *p, int layer, LnetCost which);
    /* Parameter elements the layer's nodes use. */
    int64_t (*layer_params)(const LnetPartition *p, int layer);
    /* 1 when a user cut ends the layer: a block must end there too. */
    int (*layer_forced_end)(const LnetPartition *p, int layer);
    /* What lnet's cost model says a block of layers first..last costs per
     * example: forward, backward and its auxiliary head (none for the last). */
    double (*block_cost)(const LnetPartition *p, int first_layer, int last_layer);
    /* The block count the user asked for (--blocks K or local { blocks = K }),
     * 0 when unset. A method may ignore it. */
    int (*requested_blocks)(const LnetPartition *p);

    /* --- the result -------------------------------------------------------- */

    /* Makes n_blocks blocks: block k is the layers after last_layer[k-1] up
     * to last_layer[k]. last_layer (copied) must increase strictly, end at
     * n_layers-1, and keep every forced end as some block's end. Returns 0,
     * or -1 after reporting what is wrong (the method should then return
     * nonzero). A later call replaces an earlier one. */
    int (*set_blocks)(LnetPartition *p, int n_blocks, const int *last_layer);

    /* Reports an error (printf format) at the model's `local` section. */
    void (*error)(LnetPartition *p, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
    void (*warning)(LnetPartition *p, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
} LnetPassApi;

/* The entry point lnet calls once after loading the plug-in: register the
 * methods and return 0; nonzero fails the load (nothing stays registered). */
int lnet_pass_plugin_init(const LnetPassApi *api, LnetPassRegistry *reg);
typedef int (*LnetPassPluginInitFn)(const LnetPassApi *api, LnetPassRegistry *reg);

/* The ABI stamp, checked before anything in the plug-in runs (declared
 * here so that it has external linkage in C++ too). */
extern const int lnet_pass_plugin_abi;
#define LNET_PASS_PLUGIN const int lnet_pass_plugin_abi = LNET_PASS_ABI_VERSION

#ifdef __cplusplus
}
#endif

#endif
