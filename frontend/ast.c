/* ast.c — prints the AST as S-expressions, one statement per line.
 *
 * Used by the parser tests and for debugging: `(= x (relu (dense x 10)))`.
 * Numbers print with %g, strings quoted, named arguments as `name=value`,
 * block bodies indented by two spaces per level.
 */
#include "fe_impl.h"

static void print_expr(const AstExpr *e, FILE *out)
{
    switch (e->kind) {
    case AST_NUM: fprintf(out, "%g", e->num); break;
    case AST_STR: fprintf(out, "\"%s\"", e->str); break;
    case AST_NAME: fputs(e->str, out); break;
    case AST_NEG:
        fputs("(- ", out);
        print_expr(e->lhs, out);
        fputc(')', out);
        break;
    case AST_BIN:
        fprintf(out, "(%c ", e->op);
        print_expr(e->lhs, out);
        fputc(' ', out);
        print_expr(e->rhs, out);
        fputc(')', out);
        break;
    case AST_CALL:
        fprintf(out, "(%s", e->str);
        for (const AstArg *a = e->args; a; a = a->next) {
            fprintf(out, " %s%s", a->name ? a->name : "", a->name ? "=" : "");
            print_expr(a->value, out);
        }
        fputc(')', out);
        break;
    }
}

static void print_type(const AstType *t, FILE *out)
{
    if (t->classes)
        fprintf(out, "class[%d]", t->classes);
    else
        fputs(t->dtype == IR_F32 ? "f32" : "i32", out);
    if (t->rank == 0)
        return;
    for (int i = 0; i < t->rank; i++)
        fprintf(out, "%c%lld", i ? ',' : '[', (long long)t->dim[i]);
    fputc(']', out);
}

static void print_stmts(const AstStmt *s, int indent, FILE *out);

static void print_stmt(const AstStmt *s, int indent, FILE *out)
{
    static const char *const head[] = {
        [ST_MODEL] = "model", [ST_INPUT] = "input", [ST_LABEL] = "label", [ST_DEF] = "def",
        [ST_ASSIGN] = "=", [ST_REPEAT] = "repeat", [ST_CUT] = "cut", [ST_LOSS] = "loss",
        [ST_TRAIN] = "train", [ST_LOCAL] = "local", [ST_RETURN] = "return",
    };
    fprintf(out, "%*s(%s", indent, "", head[s->kind]);
    if (s->name)
        fprintf(out, " %s", s->name);
    if (s->kind == ST_INPUT || s->kind == ST_LABEL) {
        fputc(' ', out);
        print_type(&s->type, out);
    }
    if (s->kind == ST_DEF) {
        fputs(" (", out);
        for (const AstParam *q = s->params; q; q = q->next)
            fprintf(out, "%s%s", q->name, q->next ? " " : "");
        fputc(')', out);
    }
    if (s->expr && s->kind != ST_DEF) {
        fputc(' ', out);
        print_expr(s->expr, out);
    }
    for (const AstArg *a = s->entries; a; a = a->next) {
        fprintf(out, " (%s ", a->name);
        print_expr(a->value, out);
        fputc(')', out);
    }
    if (s->kind == ST_DEF || s->kind == ST_REPEAT) {
        fputc('\n', out);
        print_stmts(s->body, indent + 2, out);
        if (s->kind == ST_DEF) {
            fprintf(out, "%*s(return ", indent + 2, "");
            print_expr(s->expr, out);
            fputs(")\n", out);
        }
        fprintf(out, "%*s", indent, "");
    }
    fputs(")\n", out);
}

static void print_stmts(const AstStmt *s, int indent, FILE *out)
{
    for (; s; s = s->next)
        print_stmt(s, indent, out);
}

void ast_print(const AstProgram *p, FILE *out)
{
    print_stmts(p->stmts, 0, out);
}
