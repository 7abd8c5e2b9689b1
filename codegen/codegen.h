/* codegen.h — the one public header of the code generator.
 *
 * Each block's training step becomes one LLVM module (`CgModule`) holding one
 * entry function. A module is built inside codegen/ (the IR→kernel lowering,
 * on top of the builder helpers in cg_impl.h), then handed to a target:
 *
 *   JIT  — ORC LLJIT for the host CPU (detected at run time); entry points are
 *          looked up as plain C function pointers. Used by `lnet train`.
 *   AOT  — an object file per module for a chosen CPU level, linked with the
 *          runtime library into a standalone trainer by `cc`. Used by `lnet build`.
 *
 * Both targets run the same pipeline on a module: verify → O3 with a target
 * machine for the CPU the code will run on (a NULL target machine would not
 * vectorize) → compile. Errors, LLVM's included, go to the caller's Diag; no
 * LLVM type appears in this header.
 */
#ifndef LNET_CODEGEN_H
#define LNET_CODEGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ir.h"

/* What to print after optimization (`lnet ir --emit llvm|asm`). */
typedef enum { CG_EMIT_NONE, CG_EMIT_LLVM, CG_EMIT_ASM } CgEmit;

/* Caller-owned settings shared by the module builder and both targets. */
typedef struct CgOptions {
    const char *cpu;        /* AOT CPU level: "x86-64-v3" (when NULL) or "native";
                               the JIT always compiles for the host */
    int opt_level;          /* 0 (verify only, no passes) or 1..3 (default<On>) */
    bool sanitize;          /* ASan-instrument generated code; defaults to on
                               when lnet itself is built with ASan */
    bool no_contract;       /* lowered graphs: no FMA contraction and the reference's
                               double-precision libm math instead of the inline
                               float math, so float results equal the reference
                               interpreter's bit for bit (tests) */
    CgEmit emit;            /* print each optimized module ... */
    FILE *emit_out;         /* ... here (borrowed) */
    const char *obj_dir;    /* AOT: write <obj_dir>/<module>.o; NULL = none */
    const char *cc;         /* AOT link driver; NULL = "cc" */
    bool profile;           /* lowered graphs: time every kernel call into the executor's
                               profile counters (runtime/profile.h); off: no hooks at all */
} CgOptions;

/* Fills in the defaults above. */
void cg_options_init(CgOptions *o);

/* ---------------------------------------------------------------- modules */

typedef struct CgModule CgModule;

/* A new empty module in its own LLVM context, owned by the caller until it
 * is handed to a target's add_module (or freed with cg_module_free). The
 * options are read now (sanitize) and not kept. */
CgModule *cg_module_new(const char *name, const CgOptions *o);
void      cg_module_free(CgModule *m);
/* Runs the LLVM verifier; a broken module becomes one Diag error. */
bool      cg_module_verify(CgModule *m, Diag *d);

/* --------------------------------------------------------------- targets */

/* A compiled entry point; cast it to its real type before calling. */
typedef void (*CgFn)(void);

/* An open target instance (a JIT session or an object-file writer). */
typedef struct CgBackend CgBackend;

/* JIT and AOT behind the same three operations (QBE's `Target`). */
typedef struct CgTarget {
    const char *name;                                     /* "jit", "aot" */
    /* A new backend; the options are copied (emit_out, obj_dir and cc
     * are borrowed and must outlive it). NULL + Diag error on failure. */
    CgBackend *(*open)(const CgOptions *o, Diag *d);
    /* Verifies, optimizes and compiles m. Always consumes m. */
    bool (*add_module)(CgBackend *b, CgModule *m, Diag *d);
    /* Frees the backend; JIT code looked up from it becomes invalid. */
    void (*close)(CgBackend *b);
} CgTarget;

extern const CgTarget cg_target_jit;
extern const CgTarget cg_target_aot;

/* Milliseconds spent optimizing and generating machine code so far. */
double cg_backend_compile_ms(const CgBackend *b);

/* JIT only: the address of an entry function added earlier (compiling it
 * now if needed); NULL + Diag error when missing. Valid until close. */
CgFn cg_jit_lookup(CgBackend *b, const char *name, Diag *d);

/* AOT only: the object files written so far, in add order (owned by b). */
int         cg_aot_n_objects(const CgBackend *b);
const char *cg_aot_object(const CgBackend *b, int i);

/* AOT only: links b's objects followed by `extra` (NULL-terminated: static
 * libraries, more objects or sources, -l/-L flags) and -lm into the
 * executable `exe` with the options' cc (posix_spawn, no shell). The driver's
 * output and exit status become a Diag error on failure. */
bool cg_aot_link(CgBackend *b, const char *const *extra, const char *exe, Diag *d);

/* --------------------------------------------------------------- probes */

/* Known small kernels, for self-checks (tests, `lnet` diagnostics) and as a
 * worked example of the builder for kernel emitters:
 *   SAXPY     void f(float **bufs, int64_t n, float a)
 *             y[i] = a*x[i] + y[i], x = bufs[0], y = bufs[1], i in [0,n)
 *   SGEMM_*   void f(float **bufs, int64_t M, int64_t N, int64_t K)
 *             C = 1*op(A)·op(B) + 0.5*C, A = bufs[0], B = bufs[1], C = bufs[2],
 *             row-major, op = transpose for T; A stored (M,K) or (K,M) if T,
 *             B stored (K,N) or (N,K) if T, C (M,N)
 *   MATH      void f(float **bufs, int64_t n)
 *             y[r*n + i] = g_r(x[i]), x = bufs[0] (n), y = bufs[1] (6, n),
 *             g = expf, logf, sqrtf, fabsf, tanhf, erff
 *   FMATH     as MATH with y (4, n) and g = the inline float exp, log, tanh,
 *             erf that kernels use (cg_fmath.c)
 *   BROKEN    a function with an unterminated block (fails verification) */
typedef enum {
    CG_PROBE_SAXPY,
    CG_PROBE_SGEMM_NN, CG_PROBE_SGEMM_TN, CG_PROBE_SGEMM_NT, CG_PROBE_SGEMM_TT,
    CG_PROBE_MATH, CG_PROBE_FMATH, CG_PROBE_BROKEN,
} CgProbe;

/* Adds the probe kernel `name` to m. */
void cg_probe_emit(CgModule *m, CgProbe p, const char *name);


/* ------------------------------------------------------ graph lowering */

/* A differentiated and optimized IrGraph (passes autodiff,optimizer; a plain
 * forward graph works too) lowers to ONE module with four entry functions:
 *
 *   void <name>_step   (void **bufs, int64_t n, float lr, int64_t step,
 *                       uint64_t seed, int64_t train);
 *   void <name>_forward(same arguments);   also _backward, _update
 *
 * `_step` runs every node in order (forward, losses, backward, updates);
 * `_forward`, `_backward`, `_update` the nodes of one phase (ir_graph_phases),
 * the same split as the interpreter's; called in turn they equal `_step`
 * (`_forward` alone is evaluation). The arguments are those of RtStepArgs:
 *   bufs   bufs[id] (id < g->n_nodes) is node id's buffer, laid out and sized
 *          as the interpreter's: f32 (i32 for i32 nodes), contiguous, batched
 *          values holding n × (elements per example), a scalar 2 floats (a
 *          cross_entropy's [mean loss, #correct as float]). Nodes for which
 *          cg_buffer_source(g, id) != id share that node's buffer (reshapes,
 *          stop_gradient: no copy). bufs[g->n_nodes] is the scratch area,
 *          cg_scratch_bytes(g, max_batch) bytes, 16-byte aligned.
 *   n      examples in this batch, 1..max_batch (shapes are otherwise static)
 *   lr     learning rate of this step;  step  1-based update count (Adam)
 *   seed   run seed (dropout masks);    train nonzero: dropout active
 * Parameters and optimizer states are updated in place. Generated code never
 * allocates; matrix products call cblas_sgemm. */
typedef void (*CgStepFn)(void **bufs, int64_t n, float lr, int64_t step, uint64_t seed,
                         int64_t train);

/* Builds the module `name` with the entries "<name>_step", _forward, ... above.
 * The graph is borrowed only during the call. NULL + Diag error when a node
 * cannot be lowered. */
CgModule *cg_lower_graph(const IrGraph *g, const char *name, const CgOptions *o, Diag *d);

/* The node whose buffer node id uses (id itself unless id is a pure view). */
int cg_buffer_source(const IrGraph *g, int id);

/* Scratch bytes the entries need at batch max_batch (at least 16). */
int64_t cg_scratch_bytes(const IrGraph *g, int max_batch);

/* `lnet ir --emit`: lowers g and prints the optimized module (kind
 * CG_EMIT_LLVM) or the host assembly (CG_EMIT_ASM) to out. */
bool cg_emit_text(const IrGraph *g, CgEmit kind, FILE *out, Diag *d);

/* ------------------------------------------------------------ executor */

typedef struct RtExec RtExec;

/* The JIT executor ("jit"): allocates one buffer per node for max_batch
 * examples (parameters and states persist; views share their source's
 * buffer), lowers g (borrowed: it must outlive the executor), compiles it
 * with the host JIT and records compile_ms. o may be NULL (defaults). The
 * caller frees it with rt_exec_free. NULL + err on failure. */
RtExec *cg_exec_new(const IrGraph *g, int max_batch, const CgOptions *o, char *err,
                    size_t errcap);
/* cg_exec_new as an RtExecFactory (runtime/train.h); ctx: CgOptions * or NULL. */
RtExec *cg_exec_factory(const IrGraph *g, int max_batch, void *ctx, char *err,
                        size_t errcap);

/* The linked executor ("aot"): the same buffers, running entries that are
 * already part of the program — an AOT trainer's blocks, linked by name
 * (`lnet build`): fn = {step, forward, backward, update} of one module, all
 * non-NULL. Needs no LLVM: this function, cg_buffer_source and
 * cg_scratch_bytes live in the library lnet_cgexec, which trainers link
 * instead of lnet_codegen. g is borrowed (it must outlive the executor and
 * be the graph the entries were compiled from). NULL + err on failure. */
RtExec *cg_exec_linked_new(const IrGraph *g, int max_batch, const CgStepFn fn[4], char *err,
                           size_t errcap);

#endif /* LNET_CODEGEN_H */
