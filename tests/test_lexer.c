/* test_lexer.c — tokens, numbers, keywords, locations and lexical errors. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "fe_impl.h"

/* Lexes src into at most 64 tokens (EOF included); returns the count. */
static int lex_all(const char *src, size_t len, Diag *d, Token *out)
{
    Lexer lx;
    lex_init(&lx, src, len, 0, d);
    int n = 0;
    do
        out[n] = lex_next(&lx);
    while (out[n++].kind != TK_EOF && n < 64);
    return n;
}

static int lex_str(const char *src, Diag *d, Token *out)
{
    return lex_all(src, strlen(src), d, out);
}

static bool tok_text(const Token *t, const char *s)
{
    return t->len == strlen(s) && memcmp(t->start, s, t->len) == 0;
}

Test(lexer, punctuation_and_names)
{
    Diag d;
    diag_init(&d);
    Token t[64];
    int n = lex_str("x = f(a, b=2) { } [ ] : + - * /", &d, t);
    TokKind want[] = {TK_IDENT, TK_EQ, TK_IDENT, TK_LPAREN, TK_IDENT, TK_COMMA, TK_IDENT,
                      TK_EQ, TK_NUMBER, TK_RPAREN, TK_LBRACE, TK_RBRACE, TK_LBRACKET,
                      TK_RBRACKET, TK_COLON, TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_EOF};
    cr_assert_eq(n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < n; i++)
        cr_expect_eq(t[i].kind, want[i], "token %d: kind %d", i, t[i].kind);
    cr_expect(tok_text(&t[2], "f"));
    cr_expect_eq(d.n_errors, 0);
    diag_fini(&d);
}

Test(lexer, keywords_are_reserved_but_type_words_are_not)
{
    Diag d;
    diag_init(&d);
    Token t[64];
    lex_str("model input label def return repeat cut loss train local class f32 i32 models", &d, t);
    TokKind want[] = {TK_MODEL, TK_INPUT, TK_LABEL, TK_DEF, TK_RETURN, TK_REPEAT, TK_CUT,
                      TK_LOSS, TK_TRAIN, TK_LOCAL, TK_IDENT, TK_IDENT, TK_IDENT, TK_IDENT};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect_eq(t[i].kind, want[i], "token %zu", i);
    diag_fini(&d);
}

Test(lexer, numbers)
{
    Diag d;
    diag_init(&d);
    Token t[64];
    lex_str("0 128 0.5 1e-3 .9 2. 1E+2 3e0", &d, t);
    double want[] = {0, 128, 0.5, 1e-3, 0.9, 2, 100, 3};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cr_expect_eq(t[i].kind, TK_NUMBER);
        cr_expect_float_eq(t[i].num, want[i], 1e-12, "number %zu", i);
    }
    cr_expect(tok_text(&t[3], "1e-3"));
    cr_expect_eq(d.n_errors, 0);
    diag_fini(&d);
}

Test(lexer, minus_is_a_separate_token)
{
    Diag d;
    diag_init(&d);
    Token t[64];
    lex_str("-1", &d, t);
    cr_expect_eq(t[0].kind, TK_MINUS);
    cr_expect_eq(t[1].kind, TK_NUMBER);
    diag_fini(&d);
}

Test(lexer, locations_and_line_starts)
{
    Diag d;
    diag_init(&d);
    Token t[64];
    lex_str("a b\n  c # comment d\n\td", &d, t);
    cr_expect_eq(t[0].loc.line, 1);
    cr_expect_eq(t[0].loc.col, 1);
    cr_expect(t[0].bol);
    cr_expect_eq(t[1].loc.col, 3);
    cr_expect(!t[1].bol);
    cr_expect_eq(t[2].loc.line, 2);
    cr_expect_eq(t[2].loc.col, 3);
    cr_expect(t[2].bol);
    cr_expect_eq(t[3].loc.line, 3, "the comment hides 'd' on line 2");
    cr_expect_eq(t[3].loc.col, 2);
    cr_expect_eq(t[4].kind, TK_EOF);
    diag_fini(&d);
}

Test(lexer, strings)
{
    Diag d;
    diag_init(&d);
    Token t[64];
    lex_str("path = \"/data/fortunes\"", &d, t);
    cr_expect_eq(t[2].kind, TK_STRING);
    cr_expect(tok_text(&t[2], "/data/fortunes"));
    cr_expect_eq(d.n_errors, 0);
    diag_fini(&d);
}

Test(lexer, unterminated_string)
{
    Diag d;
    diag_init(&d);
    Token t[64];
    lex_str("s = \"abc\nx", &d, t);
    cr_expect_eq(d.n_errors, 1);
    cr_expect_str_eq(d.msgs[0].text, "unterminated string");
    cr_expect_eq(d.msgs[0].loc.col, 5);
    cr_expect_eq(t[3].kind, TK_IDENT, "lexing goes on at the next line");
    diag_fini(&d);
}

Test(lexer, malformed_numbers)
{
    Diag d;
    diag_init(&d);
    Token t[64];
    lex_str("1e\n12abc\n1e+", &d, t);
    cr_expect_eq(d.n_errors, 3);
    for (int i = 0; i < 3; i++) {
        cr_expect_str_eq(d.msgs[i].text, "malformed number");
        cr_expect_eq(d.msgs[i].loc.line, i + 1);
    }
    cr_expect_eq(t[1].kind, TK_NUMBER, "'12abc' is one (bad) number token");
    diag_fini(&d);
}

Test(lexer, bad_bytes_one_error_per_line)
{
    Diag d;
    diag_init(&d);
    Token t[64];
    int n = lex_str("a $ @ ! b\n\x01\x02 c", &d, t);
    cr_expect_eq(d.n_errors, 2);
    cr_expect_str_eq(d.msgs[0].text, "unexpected character '$'");
    cr_expect_str_eq(d.msgs[1].text, "unexpected character (byte 0x01)");
    cr_expect_eq(n, 4, "a b c EOF");
    diag_fini(&d);
}

Test(lexer, reads_only_len_bytes)
{
    Diag d;
    diag_init(&d);
    Token t[64];
    char *buf = malloc(5);
    memcpy(buf, "ab 12", 5);    /* no terminating NUL */
    int n = lex_all(buf, 5, &d, t);
    cr_expect_eq(n, 3);
    cr_expect_float_eq(t[1].num, 12, 1e-12);
    free(buf);
    diag_fini(&d);
}

Test(lexer, nul_byte_is_an_error)
{
    Diag d;
    diag_init(&d);
    Token t[64];
    lex_all("a\0b", 3, &d, t);
    cr_expect_eq(d.n_errors, 1);
    cr_expect_str_eq(d.msgs[0].text, "unexpected character (byte 0x00)");
    diag_fini(&d);
}

Test(lexer, kind_names)
{
    cr_expect_str_eq(lex_kind_name(TK_RPAREN), "')'");
    cr_expect_str_eq(lex_kind_name(TK_EOF), "end of file");
    cr_expect_str_eq(lex_kind_name(TK_REPEAT), "'repeat'");
}
