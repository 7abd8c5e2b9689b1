/* lexer.c — turns `.lnet` text into tokens, one at a time.
 *
 * The text is a byte buffer of known length (it need not be NUL-terminated and
 * may contain anything). Newlines are whitespace for the grammar, but every
 * token records whether it starts a line so the parser can resynchronize after
 * an error. Bytes that start no token are reported and skipped; at most one
 * lexical error is reported per line, so binary input cannot flood the
 * diagnostics.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fe_impl.h"

static const char *const kind_names[TK_COUNT] = {
    [TK_EOF] = "end of file", [TK_IDENT] = "identifier", [TK_NUMBER] = "number",
    [TK_STRING] = "string", [TK_LPAREN] = "'('", [TK_RPAREN] = "')'",
    [TK_LBRACE] = "'{'", [TK_RBRACE] = "'}'", [TK_LBRACKET] = "'['",
    [TK_RBRACKET] = "']'", [TK_COMMA] = "','", [TK_EQ] = "'='", [TK_COLON] = "':'",
    [TK_PLUS] = "'+'", [TK_MINUS] = "'-'", [TK_STAR] = "'*'", [TK_SLASH] = "'/'",
    [TK_MODEL] = "'model'", [TK_INPUT] = "'input'", [TK_LABEL] = "'label'",
    [TK_DEF] = "'def'", [TK_RETURN] = "'return'", [TK_REPEAT] = "'repeat'",
    [TK_CUT] = "'cut'", [TK_LOSS] = "'loss'", [TK_TRAIN] = "'train'",
    [TK_LOCAL] = "'local'",
};

const char *lex_kind_name(TokKind k)
{
    return k < TK_COUNT ? kind_names[k] : "?";
}

void lex_init(Lexer *lx, const char *src, size_t len, int file, Diag *d)
{
    memset(lx, 0, sizeof *lx);
    lx->src = src;
    lx->len = src ? len : 0;
    lx->line = 1;
    lx->file = file;
    lx->bol = true;
    lx->d = d;
}

static IrLoc loc_at(const Lexer *lx, size_t pos)
{
    size_t col = pos - lx->line_start + 1;
    return (IrLoc){lx->file, lx->line, col > 0x7fffffff ? 0x7fffffff : (int)col, 0};
}

static int peek(const Lexer *lx, size_t ahead)
{
    size_t i = lx->pos + ahead;
    return i < lx->len ? (unsigned char)lx->src[i] : -1;
}

/* Reports a lexical error unless this line already has one. */
static void lex_error(Lexer *lx, size_t pos, const char *msg, int c)
{
    if (lx->err_line == lx->line)
        return;
    lx->err_line = lx->line;
    if (c < 0)
        diag_error(lx->d, loc_at(lx, pos), "%s", msg);
    else if (isprint(c))
        diag_error(lx->d, loc_at(lx, pos), "%s '%c'", msg, c);
    else
        diag_error(lx->d, loc_at(lx, pos), "%s (byte 0x%02x)", msg, c);
}

/* Skips blanks, newlines and `#` comments. */
static void skip_space(Lexer *lx)
{
    for (;;) {
        int c = peek(lx, 0);
        if (c == '\n') {
            lx->pos++;
            lx->line++;
            lx->line_start = lx->pos;
            lx->bol = true;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            lx->pos++;
        } else if (c == '#') {
            const char *nl = memchr(lx->src + lx->pos, '\n', lx->len - lx->pos);
            lx->pos = nl ? (size_t)(nl - lx->src) : lx->len;
        } else {
            return;
        }
    }
}

static bool is_ident_start(int c) { return c == '_' || (c >= 0 && c < 128 && isalpha(c)); }
static bool is_ident_char(int c) { return c == '_' || (c >= 0 && c < 128 && isalnum(c)); }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static const struct { const char *word; TokKind kind; } keywords[] = {
    {"model", TK_MODEL}, {"input", TK_INPUT}, {"label", TK_LABEL}, {"def", TK_DEF},
    {"return", TK_RETURN}, {"repeat", TK_REPEAT}, {"cut", TK_CUT}, {"loss", TK_LOSS},
    {"train", TK_TRAIN}, {"local", TK_LOCAL},
};

/* ident = letter { letter | digit | "_" }, unless it is a keyword */
static void lex_ident(Lexer *lx, Token *t)
{
    while (is_ident_char(peek(lx, 0)))
        lx->pos++;
    t->len = lx->pos - (size_t)(t->start - lx->src);
    t->kind = TK_IDENT;
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (strlen(keywords[i].word) == t->len &&
            memcmp(keywords[i].word, t->start, t->len) == 0)
            t->kind = keywords[i].kind;
}

static void skip_digits(Lexer *lx)
{
    while (is_digit(peek(lx, 0)))
        lx->pos++;
}

/* number = ( digits [ "." { digit } ] | "." digits ) [ ("e"|"E") ["+"|"-"] digits ] */
static void lex_number(Lexer *lx, Token *t)
{
    size_t begin = lx->pos;
    skip_digits(lx);
    if (peek(lx, 0) == '.') {
        lx->pos++;
        skip_digits(lx);
    }
    bool ok = true;
    int c = peek(lx, 0);
    if (c == 'e' || c == 'E') {
        int s = peek(lx, 1);
        size_t k = (s == '+' || s == '-') ? 2 : 1;
        lx->pos += k;
        ok = is_digit(peek(lx, 0));
        skip_digits(lx);
    }
    size_t n = lx->pos - begin;
    if (is_ident_char(peek(lx, 0))) {
        while (is_ident_char(peek(lx, 0)))
            lx->pos++;
        ok = false;
    }
    t->kind = TK_NUMBER;
    t->len = lx->pos - begin;
    char buf[64];
    if (!ok || n >= sizeof buf) {
        lex_error(lx, begin, ok ? "number too long" : "malformed number", -1);
        t->num = 0;
        return;
    }
    memcpy(buf, lx->src + begin, n);
    buf[n] = '\0';
    t->num = strtod(buf, NULL);
}

/* string = '"' { any byte but '"' and newline } '"' */
static void lex_string(Lexer *lx, Token *t)
{
    size_t begin = lx->pos++;
    while (peek(lx, 0) >= 0 && peek(lx, 0) != '"' && peek(lx, 0) != '\n')
        lx->pos++;
    t->kind = TK_STRING;
    t->start = lx->src + begin + 1;
    t->len = lx->pos - begin - 1;
    if (peek(lx, 0) == '"')
        lx->pos++;
    else
        lex_error(lx, begin, "unterminated string", -1);
}

static TokKind punct_kind(int c)
{
    switch (c) {
    case '(': return TK_LPAREN;
    case ')': return TK_RPAREN;
    case '{': return TK_LBRACE;
    case '}': return TK_RBRACE;
    case '[': return TK_LBRACKET;
    case ']': return TK_RBRACKET;
    case ',': return TK_COMMA;
    case '=': return TK_EQ;
    case ':': return TK_COLON;
    case '+': return TK_PLUS;
    case '-': return TK_MINUS;
    case '*': return TK_STAR;
    case '/': return TK_SLASH;
    default: return TK_COUNT;
    }
}

Token lex_next(Lexer *lx)
{
    for (;;) {
        skip_space(lx);
        Token t = {.start = lx->src + lx->pos, .bol = lx->bol, .loc = loc_at(lx, lx->pos)};
        int c = peek(lx, 0);
        if (c < 0) {
            t.kind = TK_EOF;
            return t;
        }
        lx->bol = false;
        if (is_ident_start(c)) {
            lex_ident(lx, &t);
        } else if (is_digit(c) || (c == '.' && is_digit(peek(lx, 1)))) {
            lex_number(lx, &t);
        } else if (c == '"') {
            lex_string(lx, &t);
        } else if (punct_kind(c) != TK_COUNT) {
            t.kind = punct_kind(c);
            t.len = 1;
            lx->pos++;
        } else {
            lex_error(lx, lx->pos, "unexpected character", c);
            lx->pos++;
            continue;
        }
        return t;
    }
}
