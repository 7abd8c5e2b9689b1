/* rng.c — xoshiro256** with splitmix64 seeding and stream splitting.
 * Reference: https://prng.di.unimi.it/xoshiro256starstar.c (public domain). */
#include "rng.h"

#include <math.h>
#include <string.h>

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* splitmix64 step: advances *x and returns a well-mixed output. */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Fills the state from a splitmix64 sequence; never all zero in practice, but
 * guard anyway since a zero state would emit zeros forever. */
static void fill_state(RtRng *r, uint64_t sm) {
  for (int i = 0; i < RT_RNG_WORDS; i++) r->s[i] = splitmix64(&sm);
  if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

void rt_rng_seed(RtRng *r, uint64_t seed) { fill_state(r, seed); }

RtRng rt_rng_split(const RtRng *r, uint64_t stream) {
  /* Hash the parent words together with the stream id into one 64-bit key,
   * then expand. Each word goes through splitmix64 so nearby ids diverge. */
  uint64_t key = stream ^ 0x6a09e667f3bcc909ULL;
  for (int i = 0; i < RT_RNG_WORDS; i++) {
    uint64_t x = key ^ r->s[i];
    key = splitmix64(&x) + rotl(key, 17);
  }
  RtRng out;
  fill_state(&out, key);
  return out;
}

uint64_t rt_rng_u64(RtRng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

float rt_rng_uniform(RtRng *r) {
  return (float)(rt_rng_u64(r) >> 40) * 0x1.0p-24f;
}

double rt_rng_uniform_f64(RtRng *r) {
  return (double)(rt_rng_u64(r) >> 11) * 0x1.0p-53;
}

float rt_rng_normal(RtRng *r) {
  /* u1 in (0, 1] so log(u1) is finite; radius sqrt(-2 ln u1), angle 2πu2. */
  double u1 = (double)((rt_rng_u64(r) >> 11) + 1) * 0x1.0p-53;
  double u2 = rt_rng_uniform_f64(r);
  const double two_pi = 6.283185307179586476925286766559;
  return (float)(sqrt(-2.0 * log(u1)) * cos(two_pi * u2));
}

uint64_t rt_rng_below(RtRng *r, uint64_t n) {
  if (n == 0) return 0;
  /* Lemire: the high word of x*n is uniform in [0, n) once the low word is
   * outside the biased zone [0, 2^64 mod n). */
  unsigned __int128 m = (unsigned __int128)rt_rng_u64(r) * n;
  uint64_t lo = (uint64_t)m;
  if (lo < n) {
    uint64_t threshold = (0 - n) % n;
    while (lo < threshold) {
      m = (unsigned __int128)rt_rng_u64(r) * n;
      lo = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

void rt_rng_shuffle(RtRng *r, int64_t *idx, int64_t n) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)rt_rng_below(r, (uint64_t)i + 1);
    int64_t t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}

void rt_rng_get_state(const RtRng *r, uint64_t out[RT_RNG_WORDS]) {
  memcpy(out, r->s, sizeof r->s);
}

bool rt_rng_set_state(RtRng *r, const uint64_t in[RT_RNG_WORDS]) {
  if ((in[0] | in[1] | in[2] | in[3]) == 0) return false;
  memcpy(r->s, in, sizeof r->s);
  return true;
}
