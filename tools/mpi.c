/* mpi.c — the processes of a distributed run on Open MPI (runtime/comm.h).
 *
 * Built only where MPI is found at configure time (LNET_HAVE_MPI). A process
 * joins MPI only when a launcher started it (mpirun sets OMPI_COMM_WORLD_SIZE,
 * PMIX_RANK ...): `lnet train` run by hand never touches MPI, and behaves
 * exactly as a build without it.
 *
 * Threads: the trainer's receiver, sender and workers call MPI at the same
 * time, so the library must give MPI_THREAD_MULTIPLE (Open MPI does). Waits
 * poll MPI_Test with sleeps of at most POLL_MAX_NS: Open MPI's own blocking
 * calls spin, which would take a core from a rank's compute threads while
 * they wait for a batch.
 */
#include "cli.h"
#include "comm.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { POLL_MAX_NS = 100000 };  /* 0.1 ms: far below a step, far above a poll's cost */

static RtComm world;
static bool started;

static void fatal(RtComm *c, const char *msg)
{
    fprintf(stderr, "lnet: rank %d: error: %s\n", c->rank, msg);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);    /* not reached */
}

static void check(RtComm *c, int rc, const char *what)
{
    if (rc == MPI_SUCCESS)
        return;
    char s[MPI_MAX_ERROR_STRING], msg[MPI_MAX_ERROR_STRING + 64];
    int n = 0;
    MPI_Error_string(rc, s, &n);
    snprintf(msg, sizeof msg, "%s failed: %s", what, s);
    fatal(c, msg);
}

/* Completes r, sleeping between tests: from 1 us, doubling, to POLL_MAX_NS. */
static void wait(RtComm *c, MPI_Request *r, const char *what)
{
    long ns = 1000;
    for (;;) {
        int done = 0;
        check(c, MPI_Test(r, &done, MPI_STATUS_IGNORE), what);
        if (done)
            return;
        struct timespec d = {0, ns};
        nanosleep(&d, NULL);
        ns = ns * 2 < POLL_MAX_NS ? ns * 2 : POLL_MAX_NS;
    }
}

/* Messages go in pieces of at most 1 GiB (MPI counts are ints). */
enum { PIECE = 1 << 30 };

/* Sends p to (send) or receives it from rank `peer`, piece by piece. */
static void transfer(RtComm *c, bool send, int peer, int tag, void *p, size_t bytes)
{
    char *b = p;
    do {
        int n = bytes < PIECE ? (int)bytes : PIECE;
        MPI_Request r;
        if (send)
            check(c, MPI_Isend(b, n, MPI_BYTE, peer, tag, MPI_COMM_WORLD, &r), "MPI_Isend");
        else
            check(c, MPI_Irecv(b, n, MPI_BYTE, peer, tag, MPI_COMM_WORLD, &r), "MPI_Irecv");
        wait(c, &r, send ? "a send" : "a receive");
        b += n;
        bytes -= (size_t)n;
    } while (bytes > 0);
}

static void mpi_send(RtComm *c, int to, int tag, const void *p, size_t bytes)
{
    transfer(c, true, to, tag, (void *)p, bytes);     /* MPI_Isend only reads it */
}

static void mpi_recv(RtComm *c, int from, int tag, void *p, size_t bytes)
{
    transfer(c, false, from, tag, p, bytes);
}

static void mpi_max(RtComm *c, int64_t *v, int n)
{
    MPI_Request r;
    check(c, MPI_Iallreduce(MPI_IN_PLACE, v, n, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD, &r),
          "MPI_Iallreduce");
    wait(c, &r, "a reduction");
}

static const RtCommOps mpi_ops = {mpi_send, mpi_recv, mpi_max, fatal};

static void finish(void)
{
    if (started)
        MPI_Finalize();
}

static RtComm *start(const char *prog)
{
    if (!cli_under_launcher())
        return NULL;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "%s: error: MPI_Init_thread failed\n", prog);
        exit(EXIT_USER);
    }
    started = true;
    atexit(finish);
    world.ops = &mpi_ops;
    MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world.size);
    if (provided < MPI_THREAD_MULTIPLE && world.size > 1)
        fatal(&world, "this MPI library does not support MPI_THREAD_MULTIPLE, which a "
                      "distributed run needs (Open MPI does)");
    return world.size > 1 ? &world : NULL;
}

void cli_use_mpi(void) { cli_comm_start = start; }
