/* process.c — what a command that trains sets up for its whole process:
 *
 * 1. The stop signals. SIGINT, SIGTERM and SIGHUP (Ctrl-C, and what `kill`,
 *    `timeout` and batch schedulers send) set a flag that the training loop
 *    reads (RtTrainOpts.stop): it finishes the step, evaluates, saves and
 *    stops, and the command exits with 128 + the signal, as if the signal had
 *    killed it. The first signal puts every stop signal back to its default,
 *    so a second one ends the process at once — a stuck run can always be
 *    killed from the keyboard. A SIGHUP ignored at start (nohup) stays ignored.
 * 2. SIGXFSZ ignored: a write past `ulimit -f` fails with EFBIG instead of
 *    killing the process silently, and the write's error names the file.
 * 3. OpenBLAS's threads under an address-space limit. The pthread build starts
 *    its threads when it loads; each allocates a buffer of
 *    RT_BLAS_BUFFER_BYTES, retries forever when that fails, and exit() waits
 *    for them. When `ulimit -v` cannot hold those buffers the process would
 *    spin and never end, so it stops at once with an error instead.
 */
#include "cli.h"

#include <cblas.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
enum { N_STOP = sizeof stop_signals / sizeof stop_signals[0] };

static volatile sig_atomic_t stop_signal;   /* the first stop signal, 0 before one */
static char stop_note[160];                 /* written by the handler */
static size_t stop_note_len;

static void on_stop(int sig)
{
    stop_signal = sig;
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    for (int i = 0; i < N_STOP; i++)
        sigaction(stop_signals[i], &dfl, NULL);
    ssize_t w = write(STDERR_FILENO, stop_note, stop_note_len);
    (void)w;    /* nothing to do about a failed note */
}

volatile sig_atomic_t *cli_catch_stop_signals(const char *prog)
{
    snprintf(stop_note, sizeof stop_note, "\n%s: stopping after this step (a second signal "
             "stops at once)\n", prog);
    stop_note_len = strlen(stop_note);
    /* the stop signals wait while the handler runs: a second one then meets
     * the default disposition */
    struct sigaction sa = {.sa_handler = on_stop, .sa_flags = SA_RESTART}, old;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < N_STOP; i++)
        sigaddset(&sa.sa_mask, stop_signals[i]);
    for (int i = 0; i < N_STOP; i++) {
        int sig = stop_signals[i];
        if (sig == SIGHUP && sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(sig, &sa, NULL);
    }
    return &stop_signal;
}

const char *cli_signal_name(int sig)
{
    switch (sig) {
    case SIGINT:  return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP:  return "SIGHUP";
    default:      return "a signal";
    }
}

/* OpenBLAS's threads (itself and the ones it started) each hold a buffer;
 * lnet itself needs at least two buffers' worth besides (code, data). */
static void check_blas_threads(const char *prog)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_AS, &r) != 0 || r.rlim_cur == RLIM_INFINITY)
        return;
    int n = openblas_get_num_threads();
    unsigned long long need = (unsigned long long)(n + 2) * RT_BLAS_BUFFER_BYTES;
    if (n <= 1 || r.rlim_cur >= need)
        return;
    fprintf(stderr, "%s: error: the address-space limit (ulimit -v) of %llu MiB is too small "
            "for OpenBLAS's %d threads (%d MiB each, and lnet needs %llu MiB in all); run "
            "with OPENBLAS_NUM_THREADS=1 or raise the limit\n", prog,
            (unsigned long long)(r.rlim_cur >> 20), n, (int)(RT_BLAS_BUFFER_BYTES >> 20),
            need >> 20);
    fflush(NULL);
    _exit(EXIT_USER);   /* exit() would wait for OpenBLAS's threads, which never finish */
}

void cli_process_init(const char *prog)
{
    signal(SIGXFSZ, SIG_IGN);
    check_blas_threads(prog);
}
