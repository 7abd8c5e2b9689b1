/* fe_impl.h — internals shared by the frontend's files (not a public header).
 *
 * Pipeline: lexer.c (text → tokens, on demand) → parser.c (tokens → AST in an
 * arena; ast.c prints it) → recursion.c (the def call graph must be acyclic)
 * → stmt.c and lower.c (AST → IR: statements; expressions and def calls),
 * with scope.c (name tables), args.c (binding call arguments), builtins.c and
 * layers.c (the builtin functions) and sections.c (train/local); head.c calls
 * a def later, on a value of a graph (custom auxiliary heads).
 * Tests include this header to check the lexer and the parser directly.
 */
#ifndef LNET_FE_IMPL_H
#define LNET_FE_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "frontend.h"
#include "ir.h"

/* Limits that keep hostile input from exhausting the stack, memory or time. */
#define FE_MAX_DEPTH 256          /* nested parentheses, blocks, operator chains */
#define FE_MAX_AST_NODES 1000000  /* expressions + statements per file */
#define FE_MAX_IR_NODES 100000    /* nodes in the lowered graph */
#define FE_MAX_WORK 2000000       /* statements executed while unrolling */
#define FE_MAX_CALL_DEPTH 32      /* def calls inside def calls */
#define FE_MAX_EVAL_DEPTH 2048    /* expression nesting after def expansion */
#define FE_MAX_PARAMS 16          /* parameters of a def */
#define FE_NAME_MAX 64            /* longest name quoted in a message */

/* ---------------------------------------------------------------- lexer */

typedef enum {
    TK_EOF, TK_IDENT, TK_NUMBER, TK_STRING,
    TK_LPAREN, TK_RPAREN, TK_LBRACE, TK_RBRACE, TK_LBRACKET, TK_RBRACKET,
    TK_COMMA, TK_EQ, TK_COLON, TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH,
    /* keywords */
    TK_MODEL, TK_INPUT, TK_LABEL, TK_DEF, TK_RETURN, TK_REPEAT, TK_CUT,
    TK_LOSS, TK_TRAIN, TK_LOCAL,
    TK_COUNT
} TokKind;

typedef struct Token {
    TokKind kind;
    const char *start;      /* lexeme in the source text (strings: inside the quotes) */
    size_t len;
    double num;             /* TK_NUMBER: the value */
    bool bol;               /* first token on its line */
    IrLoc loc;
} Token;

/* Produces tokens on demand so that huge inputs never need a token array. */
typedef struct Lexer {
    const char *src;
    size_t len, pos;
    size_t line_start;      /* offset of the current line's first byte */
    int line;
    int file;
    int err_line;           /* last line that got a lexical error (one per line) */
    bool bol;
    Diag *d;
} Lexer;

void lex_init(Lexer *lx, const char *src, size_t len, int file, Diag *d);
/* Returns the next token; lexical errors are reported and the bad bytes skipped. */
Token lex_next(Lexer *lx);
/* Spelling of a token kind for messages: "')'", "identifier", "end of file". */
const char *lex_kind_name(TokKind k);

/* ------------------------------------------------------------------ AST */

typedef enum { AST_NUM, AST_STR, AST_NAME, AST_CALL, AST_NEG, AST_BIN } AstExprKind;

typedef struct AstExpr AstExpr;

/* A call argument or a section entry: `[name =] value`. */
typedef struct AstArg {
    const char *name;       /* NULL when positional */
    IrLoc name_loc;
    AstExpr *value;
    struct AstArg *next;
} AstArg;

struct AstExpr {
    AstExprKind kind;
    IrLoc loc;              /* the operator for AST_BIN, the callee for AST_CALL */
    int depth;              /* height of this subtree, bounded by FE_MAX_DEPTH */
    double num;             /* AST_NUM */
    const char *str;        /* AST_STR text, AST_NAME name, AST_CALL callee */
    char op;                /* AST_BIN: '+', '-', '*', '/' */
    AstExpr *lhs, *rhs;     /* AST_BIN both; AST_NEG lhs */
    AstArg *args;           /* AST_CALL */
    int n_args;
};

typedef enum {
    ST_MODEL, ST_INPUT, ST_LABEL, ST_DEF, ST_ASSIGN, ST_REPEAT, ST_CUT, ST_LOSS,
    ST_TRAIN, ST_LOCAL, ST_RETURN     /* ST_RETURN only while parsing a def body */
} AstStmtKind;

/* `f32[28,28]`, `i32[64]`, `class[10]`, `class[256][64]`. */
typedef struct AstType {
    IrDType dtype;
    int classes;            /* > 0 for class labels */
    int rank;               /* without the batch dim */
    int64_t dim[IR_MAX_DIMS];
} AstType;

typedef struct AstParam {
    const char *name;
    IrLoc loc;
    struct AstParam *next;
} AstParam;

typedef struct AstStmt {
    AstStmtKind kind;
    IrLoc loc;              /* the keyword, or the name of an assignment */
    struct AstStmt *next;
    const char *name;       /* model, input, label, def, assign target, cut target */
    IrLoc name_loc;
    AstType type;           /* input, label */
    AstExpr *expr;          /* assign value, repeat count, loss, def return value, cut's N */
    IrLoc ret_loc;          /* def: the `return` keyword */
    AstParam *params;       /* def */
    int n_params;
    struct AstStmt *body;   /* def, repeat */
    AstArg *entries;        /* train, local: `key = value` */
    /* cut: `every N` (N in expr, NULL when absent) and `unless last` */
    bool unless_last;
    IrLoc cond_loc;         /* cut: the first of `every` / `unless` */
} AstStmt;

typedef struct AstProgram {
    AstStmt *stmts;
} AstProgram;

/* Parses a whole file into arena memory. Returns NULL when there was any
 * syntax error (all of them are reported to d). */
AstProgram *parse_program(const char *src, size_t len, int file, IrArena *arena,
                          Diag *d);
/* Writes the AST as one S-expression per statement (for tests). */
void ast_print(const AstProgram *p, FILE *out);

/* ------------------------------------------------------- lowering state */

typedef enum { VAL_NONE, VAL_NUM, VAL_TENSOR } ValKind;

/* The value of an expression: VAL_NONE after an error (already reported). */
typedef struct Value {
    ValKind kind;
    double num;
    int node;               /* VAL_TENSOR: node id */
} Value;

typedef enum { SYM_VAR, SYM_INPUT, SYM_LABEL, SYM_DEF } SymKind;

typedef struct Sym {
    const char *name;       /* NULL: empty slot */
    SymKind kind;
    Value v;
    IrLoc loc;              /* where it was declared */
    const AstStmt *def;     /* SYM_DEF */
} Sym;

/* An open-addressing hash table of names (variables or defs). */
typedef struct Scope {
    Sym *slots;
    int cap, n;
} Scope;

void scope_init(Scope *s);
void scope_fini(Scope *s);
Sym *scope_find(const Scope *s, const char *name);
/* Finds name, or inserts a zeroed symbol for it; *fresh tells which. */
Sym *scope_put(Scope *s, const char *name, bool *fresh);

/* Names the next use of each builtin for its parameters (`dense_0.w`). */
#define FE_MAX_BUILTINS 48

typedef struct Lower {
    IrGraph *g;
    Diag *d;
    int file;
    Scope defs;             /* def name -> SYM_DEF */
    Scope globals;
    Scope *scope;           /* innermost: globals or a def call's frame */
    int uses[FE_MAX_BUILTINS];
    int call_depth;
    int eval_depth;         /* lower_expr recursion, across def calls */
    long work;
    bool too_big;           /* a size limit was hit: stop quietly */
    IrLoc loss_loc, train_loc, local_loc, model_loc;
    const char *prefix;     /* prepended to parameter names ("head1"), or NULL */
    int site;               /* the def call or repeat iteration running (ir_site), 0: none */
    long rep_i, rep_n;      /* the innermost repeat being unrolled: iteration i of n (n 0: none) */
} Lower;

/* Evaluates an expression in the current scope. */
Value lower_expr(Lower *L, const AstExpr *e);
/* Runs a list of statements in the current scope (top level, def or repeat body). */
void lower_stmts(Lower *L, const AstStmt *s);
/* Appends a node, infers its type, returns its id or -1 after an error. */
int lower_emit(Lower *L, IrOp op, const int *in, int n_in, const IrAttrs *a,
               IrLoc loc);
/* Appends an unbatched f32 PARAM node named `<prefix>.<suffix>`. */
typedef struct ParamSpec {
    const char *suffix;
    int rank;
    int64_t dim[IR_MAX_DIMS];
    IrInit init;
    float std;              /* IR_INIT_NORMAL */
    int fan_in, fan_out;
} ParamSpec;
int lower_param(Lower *L, const char *prefix, const ParamSpec *ps, IrLoc loc);
/* Reports an error unless the same message was already reported at loc
 * (a def called many times, or a repeat body, would repeat it), with a note
 * per def call and repeat iteration it ran in. */
void lower_error(Lower *L, IrLoc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Lowers a whole program into a new graph; NULL after any error. With defs
 * not NULL, the def table (names borrowed from p's arena) is handed to the
 * caller (scope_fini) instead of being dropped, also after an error. */
IrGraph *lower_program(const AstProgram *p, const char *model, int file, Diag *d,
                       Scope *defs);
/* Enters a def call (def: its name) or a repeat's iteration iter (def NULL)
 * at `at`: the nodes made until lower_leave carry it in their locations. */
typedef struct LowerSite {
    int site;               /* the site to go back to */
    int nodes;              /* the graph's node count on entering */
} LowerSite;
LowerSite lower_enter(Lower *L, IrLoc at, const char *def, int iter);
void lower_leave(Lower *L, LowerSite outer);
/* Runs def's body in a new frame whose parameters are bound to args (one per
 * parameter; locs: where each came from) and returns its value. */
Value lower_def_apply(Lower *L, const AstStmt *def, const Value *args, const IrLoc *locs);
const IrType *lower_type(const Lower *L, int node);
/* Formats a type into a caller buffer (at least 64 bytes) and returns it. */
const char *lower_type_str(const Lower *L, int node, char *buf, size_t cap);
/* The closest of n candidate names to name, or NULL when none is close. */
const char *fe_suggest(const char *name, const char *const *cands, int n);

/* --------------------------------------------------------- call binding */

typedef enum {
    ARG_TENSOR,     /* evaluated, must be a tensor */
    ARG_NUM,        /* evaluated, must be a number */
    ARG_ANY,        /* evaluated, tensor or number (def parameters) */
    ARG_AST,        /* not evaluated: interpreted by the callee (init specs, names) */
} ArgKind;

typedef struct ArgSpec {
    const char *name;
    ArgKind kind;
    bool required;
    double dflt;            /* ARG_NUM default */
} ArgSpec;

typedef struct CallSpec {
    const char *name;       /* for messages */
    const ArgSpec *params;
    int n_params;
    bool variadic;          /* extra positional numbers (dims, axes) after n_pos */
    int n_pos;              /* variadic: how many params may be positional */
} CallSpec;

#define FE_MAX_ARGS FE_MAX_PARAMS
#define FE_MAX_EXTRA IR_MAX_DIMS

typedef struct Bound {
    Value v[FE_MAX_ARGS];
    const AstExpr *ast[FE_MAX_ARGS];    /* NULL when not given */
    IrLoc loc[FE_MAX_ARGS];             /* the argument, or the call when defaulted */
    double extra[FE_MAX_EXTRA];
    IrLoc extra_loc[FE_MAX_EXTRA];
    int n_extra;
} Bound;

/* Binds and evaluates the arguments of call against spec. Returns false after
 * reporting an error (unknown/duplicate/missing argument, wrong type). */
bool fe_bind(Lower *L, const CallSpec *spec, const AstExpr *call, Bound *b);
/* Checks that argument i is an integer in [lo, hi]; reports and fails otherwise. */
bool fe_arg_int(Lower *L, const CallSpec *spec, const Bound *b, int i, long lo,
                long hi, int *out);

/* ------------------------------------------------------------- builtins */

/* Lowers a call to a builtin; returns false when callee names no builtin. */
bool builtin_call(Lower *L, const AstExpr *call, Value *out);
/* Writes up to cap builtin names (for "did you mean"); returns the count. */
int builtin_names(const char **names, int cap);

/* Layers with learned parameters (layers.c), called by builtin_call with bound
 * arguments. */
Value layer_dense(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc);
Value layer_conv2d(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc);
Value layer_layernorm(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc);
Value layer_batchnorm(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc);
Value layer_embedding(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc);
Value layer_param(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc);
Value layer_attention(Lower *L, const CallSpec *s, const Bound *b, IrLoc loc);
/* The next parameter prefix for builtin `name` (e.g. "dense_3"), in the graph arena. */
const char *layer_prefix(Lower *L, const char *name);

/* Reads an init spec (he, glorot, zeros, ones, normal, normal(std)). */
bool fe_init_spec(Lower *L, const AstExpr *e, IrInit *init, float *std);

/* ------------------------------------------------------------- sections */

void section_train(Lower *L, const AstStmt *s);
void section_local(Lower *L, const AstStmt *s);

/* ------------------------------------------------------------ the model */

/* The parts of a compilation a later def call needs (frontend.h, head.c). */
struct FeModel {
    IrArena ast;            /* the AST: def bodies, names */
    Scope defs;             /* def name -> SYM_DEF, names borrowed from ast */
    int file;               /* the source's index in the Diag */
};

/* ------------------------------------------------------------ recursion */

/* Reports every def that can reach itself through calls, naming the cycle.
 * Returns false when there is one. */
bool fe_check_recursion(Lower *L, const AstProgram *p);

#endif
