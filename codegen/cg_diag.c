/* cg_diag.c — the one place where LLVM errors become diagnostics, plus the
 * process-wide LLVM setup and the clock used for compile-time reports.
 *
 * LLVM reports failures two ways: an LLVMErrorRef (ORC, the pass builder)
 * that must be consumed exactly once, and a malloc'ed char * message
 * (verifier, target machine) that must be disposed. Both are turned into
 * one Diag error "codegen: <what>: <message>" and released here, so no
 * other file touches an LLVM error message.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "cg_impl.h"

/* Strips trailing newlines: LLVM messages often end with one or more. */
static void report(Diag *d, const char *what, const char *msg)
{
    size_t n = msg ? strlen(msg) : 0;
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    if (n == 0)
        diag_error(d, IR_LOC_NONE, "codegen: %s failed", what);
    else
        diag_error(d, IR_LOC_NONE, "codegen: %s: %.*s", what, (int)n, msg);
}

bool cg_check(Diag *d, LLVMErrorRef err, const char *what)
{
    if (!err)
        return true;
    if (!d) {
        LLVMConsumeError(err);
        return false;
    }
    char *msg = LLVMGetErrorMessage(err);   /* consumes err */
    report(d, what, msg);
    LLVMDisposeErrorMessage(msg);
    return false;
}

bool cg_check_msg(Diag *d, bool failed, char *msg, const char *what)
{
    if (failed)
        report(d, what, msg);
    if (msg)
        LLVMDisposeMessage(msg);
    return !failed;
}

/* LLVM's target registry is process-global; registering twice is harmless
 * but racy, so it happens once. */
static pthread_once_t llvm_once = PTHREAD_ONCE_INIT;

static void llvm_init_once(void)
{
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    LLVMInitializeNativeAsmParser();
}

void cg_llvm_init(void)
{
    pthread_once(&llvm_once, llvm_init_once);
}

double cg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

double cg_backend_compile_ms(const CgBackend *b)
{
    return b->compile_ms;
}
