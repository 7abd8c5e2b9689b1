/* rng.h — lnet's one pseudo-random generator: xoshiro256** (Blackman & Vigna).
 *
 * Chosen for speed, a 256-bit state of four plain uint64_t words (a checkpoint
 * saves and restores it as bytes, e.g. an I64 tensor of RT_RNG_WORDS), and
 * good statistical quality. Seeding expands a 64-bit seed with splitmix64, so
 * every seed (including 0) gives a valid non-zero state.
 *
 * Independent streams (initialization, shuffling, dropout, text sampling) come
 * from rt_rng_split: a new generator whose state is a splitmix64 hash of the
 * parent's state and a stream id. Splitting never advances the parent, so the
 * stream for (seed, id) is fixed no matter what else has been drawn.
 *
 * Every function is deterministic and bit-identical across runs on one machine;
 * rt_rng_normal goes through libm (log, cos), so across libm versions only the
 * integer and uniform draws are guaranteed identical.
 */
#ifndef LNET_RT_RNG_H
#define LNET_RT_RNG_H

#include <stdbool.h>
#include <stdint.h>

#define RT_RNG_WORDS 4

/* Caller-owned plain state; copy it to fork, memcpy it to save. */
typedef struct RtRng {
  uint64_t s[RT_RNG_WORDS];
} RtRng;

/* Well-known stream ids, so every module derives the same sub-generators. */
enum {
  RT_RNG_STREAM_INIT = 1,    /* parameter initialization */
  RT_RNG_STREAM_SHUFFLE = 2, /* per-epoch data permutation */
  RT_RNG_STREAM_DROPOUT = 3, /* dropout masks */
  RT_RNG_STREAM_SAMPLE = 4,  /* random windows of the text corpus */
  RT_RNG_STREAM_LABELS = 5,  /* --random-labels: the permutation of the labels */
  RT_RNG_STREAM_AUGMENT = 6  /* crops and flips of training images */
};

/* Sets *r to the state derived from seed (any value, 0 included). */
void rt_rng_seed(RtRng *r, uint64_t seed);

/* Returns a generator for stream `stream`, derived from r's current state
 * without advancing r. Different streams give unrelated sequences. */
RtRng rt_rng_split(const RtRng *r, uint64_t stream);

/* Next 64 random bits. */
uint64_t rt_rng_u64(RtRng *r);

/* Uniform float in [0, 1), 24 random bits (every value a multiple of 2^-24). */
float rt_rng_uniform(RtRng *r);

/* Uniform double in [0, 1), 53 random bits. */
double rt_rng_uniform_f64(RtRng *r);

/* Standard normal N(0, 1) by the Box–Muller transform; draws two u64 per call
 * (no cached spare, so the state stays four plain words). */
float rt_rng_normal(RtRng *r);

/* Unbiased integer in [0, n) (Lemire's multiply-and-reject). n == 0 gives 0. */
uint64_t rt_rng_below(RtRng *r, uint64_t n);

/* Fisher–Yates shuffle of idx[0..n) in place. */
void rt_rng_shuffle(RtRng *r, int64_t *idx, int64_t n);

/* Raw state access for checkpoints. rt_rng_set_state rejects the all-zero
 * state (a fixed point of xoshiro) and leaves *r untouched then. */
void rt_rng_get_state(const RtRng *r, uint64_t out[RT_RNG_WORDS]);
bool rt_rng_set_state(RtRng *r, const uint64_t in[RT_RNG_WORDS]);

#endif
