/* parser.c — recursive descent from tokens to the AST (grammar: docs/language.md).
 *
 * Each function parses one grammar rule, written above it. Newlines are
 * whitespace: a statement ends where its grammar ends. After a syntax error the
 * parser enters panic mode (later errors in the same statement are dropped)
 * and skips to the next token that can start a statement: a keyword, a name at
 * the start of a line, or a closing '}'. Recursion is bounded by FE_MAX_DEPTH,
 * so 100k nested parentheses give one error instead of a stack overflow.
 */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "fe_impl.h"

typedef struct Parser {
    Lexer lx;
    Token tok;              /* the current token */
    Token next;             /* one token of lookahead, when has_next */
    bool has_next;
    IrArena *arena;
    Diag *d;
    int depth;              /* nesting of expressions and blocks */
    bool panic;             /* an error in this statement: drop further ones */
    bool stop;              /* a size limit was hit: parse no further */
    long n_nodes;
    int errors;             /* syntax errors, counted even when not reported */
    int errors0;            /* d->n_errors when the parse started */
} Parser;

/* Which statements a list may hold. */
typedef enum { CTX_TOP, CTX_DEF, CTX_REPEAT } Ctx;

static void advance(Parser *p)
{
    if (p->has_next) {
        p->tok = p->next;
        p->has_next = false;
    } else {
        p->tok = lex_next(&p->lx);
    }
}

static const Token *peek_next(Parser *p)
{
    if (!p->has_next) {
        p->next = lex_next(&p->lx);
        p->has_next = true;
    }
    return &p->next;
}

/* Describes a token for "got ..." in messages. */
static const char *tok_desc(const Token *t, char *buf, size_t cap)
{
    if (t->kind == TK_IDENT || t->kind == TK_NUMBER) {
        int n = t->len > FE_NAME_MAX ? FE_NAME_MAX : (int)t->len;
        snprintf(buf, cap, "'%.*s%s'", n, t->start, t->len > FE_NAME_MAX ? "..." : "");
        return buf;
    }
    return lex_kind_name(t->kind);
}

/* Reports a syntax error unless this statement already has one. */
__attribute__((format(printf, 3, 4)))
static void error_at(Parser *p, IrLoc loc, const char *fmt, ...)
{
    p->errors++;
    if (p->panic)
        return;
    p->panic = true;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(p->d, loc, "%s", msg);
}

static void error_expected(Parser *p, const char *what)
{
    char buf[96];
    error_at(p, p->tok.loc, "expected %s, got %s", what, tok_desc(&p->tok, buf, sizeof buf));
}

static bool accept(Parser *p, TokKind k)
{
    if (p->tok.kind != k)
        return false;
    advance(p);
    return true;
}

static bool expect(Parser *p, TokKind k, const char *what)
{
    if (accept(p, k))
        return true;
    error_expected(p, what ? what : lex_kind_name(k));
    return false;
}

/* Expects the closer of `open`, naming where the opener was. */
static bool expect_close(Parser *p, TokKind k, const Token *open)
{
    if (accept(p, k))
        return true;
    char buf[96];
    error_at(p, p->tok.loc, "expected %s to close %s opened at %d:%d, got %s",
             lex_kind_name(k), lex_kind_name(open->kind), open->loc.line,
             open->loc.col, tok_desc(&p->tok, buf, sizeof buf));
    return false;
}

static char *tok_str(Parser *p, const Token *t)
{
    return ir_arena_strndup(p->arena, t->start, t->len);
}

/* Counts AST nodes; past FE_MAX_AST_NODES the parse stops. */
static void *new_node(Parser *p, size_t size)
{
    if (++p->n_nodes == FE_MAX_AST_NODES) {
        p->panic = false;
        error_at(p, p->tok.loc, "program too large: more than %d syntax nodes",
                 FE_MAX_AST_NODES);
        p->stop = true;
    }
    return ir_arena_alloc(p->arena, size);
}

static AstExpr *new_expr(Parser *p, AstExprKind kind, IrLoc loc)
{
    AstExpr *e = new_node(p, sizeof *e);
    e->kind = kind;
    e->loc = loc;
    e->depth = 1;
    return e;
}

/* Bounds recursion: false (after one error) when nested too deeply. */
static bool enter(Parser *p)
{
    if (p->depth >= FE_MAX_DEPTH) {
        error_at(p, p->tok.loc, "nesting too deep (more than %d levels)", FE_MAX_DEPTH);
        return false;
    }
    p->depth++;
    return true;
}

/* Makes a binary node; fails when the operator chain is too deep. */
static AstExpr *new_bin(Parser *p, char op, IrLoc loc, AstExpr *l, AstExpr *r)
{
    int depth = 1 + (l->depth > r->depth ? l->depth : r->depth);
    if (depth > FE_MAX_DEPTH) {
        error_at(p, loc, "expression too deep (more than %d nested operations)",
                 FE_MAX_DEPTH);
        return NULL;
    }
    AstExpr *e = new_expr(p, AST_BIN, loc);
    e->op = op;
    e->lhs = l;
    e->rhs = r;
    e->depth = depth;
    return e;
}

static AstExpr *parse_expr(Parser *p);

/* arg = [ IDENT "=" ] expr */
static AstArg *parse_arg(Parser *p)
{
    AstArg *a = new_node(p, sizeof *a);
    if (p->tok.kind == TK_IDENT && peek_next(p)->kind == TK_EQ) {
        a->name = tok_str(p, &p->tok);
        a->name_loc = p->tok.loc;
        advance(p);
        advance(p);
    }
    a->value = parse_expr(p);
    return a->value ? a : NULL;
}

/* call = IDENT "(" [ arg { "," arg } ] ")"      (the IDENT is already read) */
static AstExpr *parse_call(Parser *p, AstExpr *e)
{
    Token open = p->tok;
    advance(p);
    e->kind = AST_CALL;
    AstArg **tail = &e->args;
    if (p->tok.kind != TK_RPAREN) {
        do {
            AstArg *a = parse_arg(p);
            if (!a)
                return NULL;
            if (a->value->depth >= e->depth)
                e->depth = a->value->depth + 1;
            *tail = a;
            tail = &a->next;
            e->n_args++;
        } while (accept(p, TK_COMMA));
    }
    return expect_close(p, TK_RPAREN, &open) ? e : NULL;
}

/* primary = NUMBER | STRING | IDENT | call | "(" expr ")" */
static AstExpr *parse_primary(Parser *p)
{
    Token t = p->tok;
    if (t.kind == TK_NUMBER || t.kind == TK_STRING) {
        AstExpr *e = new_expr(p, t.kind == TK_NUMBER ? AST_NUM : AST_STR, t.loc);
        e->num = t.num;
        e->str = t.kind == TK_STRING ? tok_str(p, &t) : NULL;
        advance(p);
        return e;
    }
    if (t.kind == TK_IDENT) {
        AstExpr *e = new_expr(p, AST_NAME, t.loc);
        e->str = tok_str(p, &t);
        advance(p);
        return p->tok.kind == TK_LPAREN ? parse_call(p, e) : e;
    }
    if (t.kind == TK_LPAREN) {
        advance(p);
        AstExpr *e = parse_expr(p);
        return e && expect_close(p, TK_RPAREN, &t) ? e : NULL;
    }
    error_expected(p, "an expression");
    return NULL;
}

/* unary = "-" unary | primary */
static AstExpr *parse_unary(Parser *p)
{
    if (!enter(p))
        return NULL;
    AstExpr *e;
    if (p->tok.kind == TK_MINUS) {
        IrLoc loc = p->tok.loc;
        advance(p);
        AstExpr *x = parse_unary(p);
        e = x ? new_expr(p, AST_NEG, loc) : NULL;
        if (e) {
            e->lhs = x;
            e->depth = x->depth + 1;
        }
    } else {
        e = parse_primary(p);
    }
    p->depth--;
    return e;
}

/* term = unary { ("*" | "/") unary } */
static AstExpr *parse_term(Parser *p)
{
    AstExpr *e = parse_unary(p);
    while (e && (p->tok.kind == TK_STAR || p->tok.kind == TK_SLASH)) {
        Token op = p->tok;
        advance(p);
        AstExpr *r = parse_unary(p);
        e = r ? new_bin(p, op.kind == TK_STAR ? '*' : '/', op.loc, e, r) : NULL;
    }
    return e;
}

/* expr = term { ("+" | "-") term } */
static AstExpr *parse_expr(Parser *p)
{
    AstExpr *e = parse_term(p);
    while (e && (p->tok.kind == TK_PLUS || p->tok.kind == TK_MINUS)) {
        Token op = p->tok;
        advance(p);
        AstExpr *r = parse_term(p);
        e = r ? new_bin(p, op.kind == TK_PLUS ? '+' : '-', op.loc, e, r) : NULL;
    }
    return e;
}

/* Reads a name: IDENT. */
static bool parse_name(Parser *p, const char *what, const char **name, IrLoc *loc)
{
    if (p->tok.kind != TK_IDENT) {
        error_expected(p, what);
        return false;
    }
    *name = tok_str(p, &p->tok);
    *loc = p->tok.loc;
    advance(p);
    return true;
}

/* A positive integer literal (a dimension or a class count). */
static bool parse_int(Parser *p, const char *what, int64_t *out)
{
    if (p->tok.kind != TK_NUMBER) {
        error_expected(p, what);
        return false;
    }
    double v = p->tok.num;
    if (!(v >= 1 && v <= 2147483647.0 && v == floor(v))) {
        char buf[96];
        error_at(p, p->tok.loc, "%s must be a positive integer, got %s", what,
                 tok_desc(&p->tok, buf, sizeof buf));
        return false;
    }
    *out = (int64_t)v;
    advance(p);
    return true;
}

/* dims = "[" INT { "," INT } "]"   (appended to t, at most IR_MAX_DIMS-1 in all) */
static bool parse_dims(Parser *p, AstType *t)
{
    Token open = p->tok;
    if (!expect(p, TK_LBRACKET, "'['"))
        return false;
    do {
        if (t->rank == IR_MAX_DIMS - 1) {
            error_at(p, p->tok.loc, "too many dimensions (at most %d besides the batch)",
                     IR_MAX_DIMS - 1);
            return false;
        }
        if (!parse_int(p, "a dimension", &t->dim[t->rank]))
            return false;
        t->rank++;
    } while (accept(p, TK_COMMA));
    return expect_close(p, TK_RBRACKET, &open);
}

static bool tok_is(const Token *t, const char *word)
{
    return t->kind == TK_IDENT && t->len == strlen(word) && memcmp(t->start, word, t->len) == 0;
}

/* type = ("f32" | "i32") dims | "class" "[" INT "]" [ dims ]   (class: labels only) */
static bool parse_type(Parser *p, AstType *t, bool is_label)
{
    if (is_label && tok_is(&p->tok, "class")) {
        advance(p);
        Token open = p->tok;
        int64_t classes;
        if (!expect(p, TK_LBRACKET, "'['") || !parse_int(p, "the number of classes", &classes) ||
            !expect_close(p, TK_RBRACKET, &open))
            return false;
        t->dtype = IR_I32;
        t->classes = (int)classes;
        return p->tok.kind != TK_LBRACKET || parse_dims(p, t);
    }
    if (tok_is(&p->tok, "f32") || tok_is(&p->tok, "i32")) {
        t->dtype = tok_is(&p->tok, "f32") ? IR_F32 : IR_I32;
        advance(p);
        return parse_dims(p, t);
    }
    error_expected(p, is_label ? "a label type (class[K], f32[...] or i32[...])"
                               : "a tensor type (f32[...] or i32[...])");
    return false;
}

static AstStmt *new_stmt(Parser *p, AstStmtKind kind, IrLoc loc)
{
    AstStmt *s = new_node(p, sizeof *s);
    s->kind = kind;
    s->loc = loc;
    return s;
}

/* input = "input" IDENT ":" type      label = "label" IDENT ":" type */
static AstStmt *parse_decl(Parser *p, AstStmtKind kind)
{
    AstStmt *s = new_stmt(p, kind, p->tok.loc);
    advance(p);
    if (!parse_name(p, "a name", &s->name, &s->name_loc) || !expect(p, TK_COLON, "':'") ||
        !parse_type(p, &s->type, kind == ST_LABEL))
        return NULL;
    return s;
}

static bool parse_block(Parser *p, Ctx ctx, AstStmt **body, IrLoc *close);

/* params = "(" [ IDENT { "," IDENT } ] ")" */
static bool parse_params(Parser *p, AstStmt *s)
{
    Token open = p->tok;
    if (!expect(p, TK_LPAREN, "'(' after the def name"))
        return false;
    AstParam **tail = &s->params;
    if (p->tok.kind != TK_RPAREN) {
        do {
            AstParam *q = new_node(p, sizeof *q);
            if (!parse_name(p, "a parameter name", &q->name, &q->loc))
                return false;
            for (const AstParam *o = s->params; o; o = o->next)
                if (strcmp(o->name, q->name) == 0)
                    error_at(p, q->loc, "duplicate parameter '%.64s'", q->name);
            if (s->n_params++ == FE_MAX_PARAMS)
                error_at(p, q->loc, "too many parameters (at most %d)", FE_MAX_PARAMS);
            *tail = q;
            tail = &q->next;
        } while (accept(p, TK_COMMA));
    }
    return expect_close(p, TK_RPAREN, &open) && !p->panic;
}

/* Moves the body's final `return` into the def; reports misplaced or missing ones. */
static void split_return(Parser *p, AstStmt *def, IrLoc close)
{
    AstStmt **link = &def->body;
    while (*link && (*link)->next)
        link = &(*link)->next;
    if (*link && (*link)->kind == ST_RETURN) {
        def->expr = (*link)->expr;
        def->ret_loc = (*link)->loc;
        *link = NULL;
    } else {
        error_at(p, close, "def '%.64s' must end with 'return EXPR'", def->name);
    }
}

/* def = "def" IDENT params "{" { stmt } "return" expr "}" */
static AstStmt *parse_def(Parser *p)
{
    AstStmt *s = new_stmt(p, ST_DEF, p->tok.loc);
    advance(p);
    if (!parse_name(p, "a def name", &s->name, &s->name_loc) || !parse_params(p, s))
        return NULL;
    IrLoc close;
    if (!parse_block(p, CTX_DEF, &s->body, &close))
        return NULL;
    split_return(p, s, close);
    return s;
}

/* repeat = "repeat" expr "{" { stmt } "}" */
static AstStmt *parse_repeat(Parser *p)
{
    AstStmt *s = new_stmt(p, ST_REPEAT, p->tok.loc);
    advance(p);
    s->expr = parse_expr(p);
    IrLoc close;
    if (!s->expr || !parse_block(p, CTX_REPEAT, &s->body, &close))
        return NULL;
    return s;
}

/* section = ("train" | "local") "{" { IDENT "=" expr } "}" */
static AstStmt *parse_section(Parser *p, AstStmtKind kind)
{
    AstStmt *s = new_stmt(p, kind, p->tok.loc);
    advance(p);
    Token open = p->tok;
    if (!expect(p, TK_LBRACE, "'{'"))
        return NULL;
    AstArg **tail = &s->entries;
    /* a keyword means the '}' was forgotten: report that, not a bad key */
    while (p->tok.kind != TK_RBRACE && p->tok.kind != TK_EOF && p->tok.kind < TK_MODEL &&
           !p->stop) {
        AstArg *a = new_node(p, sizeof *a);
        if (parse_name(p, "a key", &a->name, &a->name_loc) && expect(p, TK_EQ, "'='") &&
            (a->value = parse_expr(p)) != NULL) {
            *tail = a;
            tail = &a->next;
            continue;
        }
        if (p->tok.kind != TK_RBRACE && p->tok.kind != TK_EOF)
            advance(p);
        while (p->tok.kind != TK_RBRACE && p->tok.kind != TK_EOF &&
               !(p->tok.bol && p->tok.kind == TK_IDENT))
            advance(p);
        p->panic = false;
    }
    return expect_close(p, TK_RBRACE, &open) ? s : NULL;
}

/* assign = IDENT "=" expr */
static AstStmt *parse_assign(Parser *p)
{
    AstStmt *s = new_stmt(p, ST_ASSIGN, p->tok.loc);
    s->name = tok_str(p, &p->tok);
    s->name_loc = p->tok.loc;
    if (peek_next(p)->kind != TK_EQ) {
        char buf[96];
        const Token *n = peek_next(p);
        if (n->kind == TK_LPAREN)
            error_at(p, s->loc, "a call is not a statement; assign its result (NAME = %.64s(...))",
                     s->name);
        else
            error_at(p, n->loc, "expected '=' after '%.64s', got %s", s->name,
                     tok_desc(n, buf, sizeof buf));
        return NULL;
    }
    advance(p);
    advance(p);
    s->expr = parse_expr(p);
    return s->expr ? s : NULL;
}

/* cut = "cut" IDENT [ "every" expr ] [ "unless" "last" ]
 * (`every` and `unless` are words, not keywords: they count only on the
 * cut's own line, so a variable may still be named `every`) */
static AstStmt *parse_cut(Parser *p)
{
    AstStmt *s = new_stmt(p, ST_CUT, p->tok.loc);
    advance(p);
    if (!parse_name(p, "a name", &s->name, &s->name_loc))
        return NULL;
    if (!p->tok.bol && tok_is(&p->tok, "every")) {
        s->cond_loc = p->tok.loc;
        advance(p);
        if (!(s->expr = parse_expr(p)))
            return NULL;
    }
    if (!p->tok.bol && tok_is(&p->tok, "unless")) {
        if (!s->expr)
            s->cond_loc = p->tok.loc;
        advance(p);
        if (!tok_is(&p->tok, "last")) {
            error_expected(p, "'last' after 'unless'");
            return NULL;
        }
        s->unless_last = true;
        advance(p);
    }
    return s;
}

/* stmt = model | input | label | def | assign | repeat | cut | loss | section
 *      | "return" expr        (only as the last statement of a def)
 * model = "model" IDENT       loss = "loss" expr */
static AstStmt *parse_stmt(Parser *p)
{
    AstStmt *s;
    switch (p->tok.kind) {
    case TK_INPUT: return parse_decl(p, ST_INPUT);
    case TK_LABEL: return parse_decl(p, ST_LABEL);
    case TK_DEF: return parse_def(p);
    case TK_REPEAT: return parse_repeat(p);
    case TK_TRAIN: return parse_section(p, ST_TRAIN);
    case TK_LOCAL: return parse_section(p, ST_LOCAL);
    case TK_IDENT: return parse_assign(p);
    case TK_CUT: return parse_cut(p);
    case TK_MODEL:
        s = new_stmt(p, ST_MODEL, p->tok.loc);
        advance(p);
        return parse_name(p, "a name", &s->name, &s->name_loc) ? s : NULL;
    case TK_LOSS:
    case TK_RETURN:
        s = new_stmt(p, p->tok.kind == TK_LOSS ? ST_LOSS : ST_RETURN, p->tok.loc);
        advance(p);
        s->expr = parse_expr(p);
        return s->expr ? s : NULL;
    default:
        error_expected(p, "a statement");
        return NULL;
    }
}

/* Reports statements that are not allowed in this context. */
static void check_context(Parser *p, const AstStmt *s, Ctx ctx, bool last)
{
    static const char *const kw[] = {
        [ST_MODEL] = "model", [ST_INPUT] = "input", [ST_LABEL] = "label", [ST_DEF] = "def",
        [ST_LOSS] = "loss", [ST_TRAIN] = "train", [ST_LOCAL] = "local",
    };
    bool top_only = s->kind != ST_ASSIGN && s->kind != ST_REPEAT && s->kind != ST_CUT &&
                    s->kind != ST_RETURN;
    if (top_only && ctx != CTX_TOP) {
        diag_error(p->d, s->loc, "'%s' is only allowed at the top level", kw[s->kind]);
        p->errors++;
    } else if (s->kind == ST_RETURN && ctx != CTX_DEF) {
        diag_error(p->d, s->loc, "'return' outside a def");
        p->errors++;
    } else if (s->kind == ST_RETURN && !last) {
        diag_error(p->d, s->loc, "'return' must be the last statement of a def");
        p->errors++;
    }
}

/* Skips to a token that can start a statement (or closes a block). */
static void sync(Parser *p)
{
    while (p->tok.kind != TK_EOF && p->tok.kind != TK_RBRACE &&
           !(p->tok.kind >= TK_MODEL && p->tok.kind < TK_COUNT) &&
           !(p->tok.bol && p->tok.kind == TK_IDENT))
        advance(p);
    p->panic = false;
}

/* Stop once this parse alone has filled the diagnostics: the rest would be dropped. */
static bool diag_full(const Parser *p)
{
    return p->d->max_errors > 0 && p->d->n_errors - p->errors0 >= p->d->max_errors;
}

/* A top-level-only keyword in column 1 inside a block: a '}' is missing above. */
static bool top_only_at_margin(const Token *t)
{
    return t->bol && t->loc.col == 1 && t->kind >= TK_MODEL && t->kind != TK_RETURN &&
           t->kind != TK_REPEAT && t->kind != TK_CUT;
}

/* stmts = { stmt }    until '}' (in a block) or end of file; returns the list */
static AstStmt *parse_stmts(Parser *p, Ctx ctx)
{
    AstStmt *head = NULL, **tail = &head;
    while (p->tok.kind != TK_EOF && !p->stop && !diag_full(p)) {
        if (ctx != CTX_TOP && top_only_at_margin(&p->tok))
            break;      /* the block's '}' was forgotten: its closer reports it */
        if (p->tok.kind == TK_RBRACE) {
            if (ctx != CTX_TOP)
                break;
            error_at(p, p->tok.loc, "unexpected '}' (no block is open)");
        }
        const char *before = p->tok.start;
        AstStmt *s = parse_stmt(p);
        if (s) {
            *tail = s;
            tail = &s->next;
        }
        if (p->panic) {
            if (p->tok.start == before && p->tok.kind != TK_EOF)
                advance(p);
            sync(p);
        }
    }
    for (const AstStmt *s = head; s; s = s->next)
        check_context(p, s, ctx, s->next == NULL);
    return head;
}

/* block = "{" stmts "}"      (*close: where the closing brace is) */
static bool parse_block(Parser *p, Ctx ctx, AstStmt **body, IrLoc *close)
{
    Token open = p->tok;
    if (!expect(p, TK_LBRACE, "'{'") || !enter(p))
        return false;
    *body = parse_stmts(p, ctx);
    p->depth--;
    *close = p->tok.loc;
    return expect_close(p, TK_RBRACE, &open);
}

AstProgram *parse_program(const char *src, size_t len, int file, IrArena *arena, Diag *d)
{
    Parser p = {.arena = arena, .d = d, .errors0 = d->n_errors};
    lex_init(&p.lx, src, len, file, d);
    advance(&p);
    AstProgram *prog = ir_arena_alloc(arena, sizeof *prog);
    prog->stmts = parse_stmts(&p, CTX_TOP);
    return p.errors == 0 && d->n_errors == p.errors0 ? prog : NULL;
}
