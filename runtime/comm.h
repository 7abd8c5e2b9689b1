/* comm.h — the processes of one distributed run, as the trainer sees them.
 *
 * Under `mpirun -np R`, R copies of the same command train one model: each
 * process (rank) runs a contiguous group of the blocks and passes the
 * activations to the rank of the next group. The runtime reaches the other
 * ranks only through this table, so it has no MPI dependency itself: the
 * command line (tools/mpi.c, built where Open MPI is installed) provides the
 * implementation; RtTrainOpts.comm == NULL is a run in one process.
 *
 * Every call moves whole messages between two ranks, in order for a given
 * (peer, tag) pair, and may be made from any thread. Waiting polls with short
 * sleeps rather than spinning, so a rank's idle threads leave its cores to
 * the compute. A transport failure, or a peer that died, ends the whole job
 * (the launcher kills every rank): these calls never return an error to
 * handle, and never hang on a dead peer.
 */
#ifndef LNET_RT_COMM_H
#define LNET_RT_COMM_H

#include <stddef.h>
#include <stdint.h>

typedef struct RtComm RtComm;

typedef struct RtCommOps {
    void (*send)(RtComm *c, int to, int tag, const void *p, size_t bytes);
    void (*recv)(RtComm *c, int from, int tag, void *p, size_t bytes);
    /* The largest of every rank's v[0..n) into v, on every rank. */
    void (*max)(RtComm *c, int64_t *v, int n);
    /* Prints "lnet: rank R: error: msg" and ends every rank of the job with
     * exit status 1. Never returns. */
    void (*abort)(RtComm *c, const char *msg);
} RtCommOps;

struct RtComm {
    const RtCommOps *ops;
    int rank, size;
};

/* Message tags: one stream per purpose between two ranks. */
enum {
    RT_TAG_ACT = 1,         /* a batch's labels, losses and activations, forward */
    RT_TAG_TENSOR = 2,      /* parameters to rank 0 (evaluation, checkpoints) or from it */
    RT_TAG_STATS = 3,       /* telemetry to rank 0 at the end */
    RT_TAG_EVAL = 4,        /* rank 0's evaluation, to every rank */
    RT_TAG_PARAM = 16,      /* + i: overlap's shared parameter i, backward */
    RT_TAG_GRAD = 128,      /* + k: block k's gradients between the replicas of its group */
};

#endif
