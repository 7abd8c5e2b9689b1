/* test_rng.c — the PRNG: pinned outputs, determinism, distributions, streams,
 * state round trip. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "rng.h"

/* Values from an independent Python implementation of splitmix64 seeding +
 * xoshiro256**; changing them breaks bit-identical resumes of old runs. */
Test(rng, pinned_outputs) {
  RtRng r;
  rt_rng_seed(&r, 42);
  cr_expect_eq(rt_rng_u64(&r), 0x15780b2e0c2ec716ULL);
  cr_expect_eq(rt_rng_u64(&r), 0x6104d9866d113a7eULL);
  cr_expect_eq(rt_rng_u64(&r), 0xae17533239e499a1ULL);
  rt_rng_seed(&r, 0);
  cr_expect_eq(rt_rng_u64(&r), 0x99ec5f36cb75f2b4ULL);
  cr_expect_eq(rt_rng_u64(&r), 0xbf6e1f784956452aULL);
}

Test(rng, same_seed_same_sequence) {
  RtRng a, b, c;
  rt_rng_seed(&a, 1234);
  rt_rng_seed(&b, 1234);
  rt_rng_seed(&c, 1235);
  int differ = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t x = rt_rng_u64(&a);
    cr_assert_eq(x, rt_rng_u64(&b));
    differ += x != rt_rng_u64(&c);
  }
  cr_expect_gt(differ, 990);
  /* Float draws are deterministic too, bit for bit. */
  for (int i = 0; i < 100; i++) {
    float u = rt_rng_normal(&a), v = rt_rng_normal(&b);
    cr_assert_eq(memcmp(&u, &v, sizeof u), 0);
  }
}

Test(rng, uniform_range_and_moments) {
  RtRng r;
  rt_rng_seed(&r, 7);
  const int n = 200000;
  double s = 0, ss = 0;
  for (int i = 0; i < n; i++) {
    float u = rt_rng_uniform(&r);
    cr_assert(u >= 0.0f && u < 1.0f, "uniform out of range: %g", u);
    s += u;
    ss += (double)u * u;
  }
  double mean = s / n, var = ss / n - mean * mean;
  cr_expect(fabs(mean - 0.5) < 0.005, "mean %g", mean);
  cr_expect(fabs(var - 1.0 / 12) < 0.002, "variance %g", var);
}

Test(rng, normal_moments_and_tails) {
  RtRng r;
  rt_rng_seed(&r, 99);
  const int n = 200000;
  double s = 0, ss = 0;
  int beyond2 = 0;
  for (int i = 0; i < n; i++) {
    float z = rt_rng_normal(&r);
    cr_assert(isfinite(z));
    s += z;
    ss += (double)z * z;
    beyond2 += fabsf(z) > 2.0f;
  }
  double mean = s / n, var = ss / n - mean * mean;
  cr_expect(fabs(mean) < 0.01, "mean %g", mean);
  cr_expect(fabs(var - 1.0) < 0.02, "variance %g", var);
  /* P(|z| > 2) = 0.0455 */
  cr_expect(fabs((double)beyond2 / n - 0.0455) < 0.003, "tail fraction %g", (double)beyond2 / n);
}

Test(rng, below_is_in_range_and_unbiased) {
  RtRng r;
  rt_rng_seed(&r, 3);
  int counts[7] = {0};
  const int n = 70000;
  for (int i = 0; i < n; i++) {
    uint64_t k = rt_rng_below(&r, 7);
    cr_assert_lt(k, 7);
    counts[k]++;
  }
  double chi2 = 0;
  for (int k = 0; k < 7; k++) chi2 += (counts[k] - 10000.0) * (counts[k] - 10000.0) / 10000.0;
  cr_expect_lt(chi2, 22.5, "chi-square %g with 6 dof (p = 0.001 at 22.46)", chi2);
  cr_expect_eq(rt_rng_below(&r, 1), 0);
  cr_expect_eq(rt_rng_below(&r, 0), 0);
  uint64_t big = (1ULL << 63) + 12345;
  for (int i = 0; i < 1000; i++) cr_assert_lt(rt_rng_below(&r, big), big);
}

Test(rng, split_streams_are_distinct_and_do_not_advance_parent) {
  RtRng base, copy;
  rt_rng_seed(&base, 2024);
  copy = base;
  RtRng s1 = rt_rng_split(&base, RT_RNG_STREAM_INIT);
  RtRng s2 = rt_rng_split(&base, RT_RNG_STREAM_SHUFFLE);
  RtRng s1b = rt_rng_split(&base, RT_RNG_STREAM_INIT);
  cr_expect_eq(memcmp(&base, &copy, sizeof base), 0, "split advanced the parent");
  int same12 = 0, same1p = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t a = rt_rng_u64(&s1), b = rt_rng_u64(&s2), p = rt_rng_u64(&copy);
    cr_assert_eq(a, rt_rng_u64(&s1b), "split is not deterministic");
    same12 += a == b;
    same1p += a == p;
  }
  cr_expect_eq(same12, 0);
  cr_expect_eq(same1p, 0);
  /* Neighbouring stream ids (epochs 0, 1, 2 ...) give unrelated first draws. */
  uint64_t first[64];
  for (int e = 0; e < 64; e++) {
    RtRng s = rt_rng_split(&base, (uint64_t)e);
    first[e] = rt_rng_u64(&s);
    for (int j = 0; j < e; j++) cr_assert_neq(first[e], first[j]);
  }
}

Test(rng, state_round_trip_through_bytes) {
  RtRng r;
  rt_rng_seed(&r, 5);
  for (int i = 0; i < 17; i++) rt_rng_u64(&r);
  uint64_t words[RT_RNG_WORDS];
  unsigned char bytes[sizeof words];
  rt_rng_get_state(&r, words);
  memcpy(bytes, words, sizeof bytes); /* as a checkpoint would store them */
  uint64_t expect[50];
  for (int i = 0; i < 50; i++) expect[i] = rt_rng_u64(&r);
  RtRng back;
  uint64_t restored[RT_RNG_WORDS];
  memcpy(restored, bytes, sizeof restored);
  cr_assert(rt_rng_set_state(&back, restored));
  for (int i = 0; i < 50; i++) cr_assert_eq(rt_rng_u64(&back), expect[i]);
  uint64_t zero[RT_RNG_WORDS] = {0};
  RtRng keep = back;
  cr_expect_not(rt_rng_set_state(&back, zero), "all-zero state must be rejected");
  cr_expect_eq(memcmp(&keep, &back, sizeof back), 0);
}

Test(rng, shuffle_is_a_permutation) {
  RtRng r;
  rt_rng_seed(&r, 11);
  int64_t idx[1000];
  for (int i = 0; i < 1000; i++) idx[i] = i;
  rt_rng_shuffle(&r, idx, 1000);
  int seen[1000] = {0}, fixed = 0;
  for (int i = 0; i < 1000; i++) {
    cr_assert(idx[i] >= 0 && idx[i] < 1000);
    seen[idx[i]]++;
    fixed += idx[i] == i;
  }
  for (int i = 0; i < 1000; i++) cr_assert_eq(seen[i], 1);
  cr_expect_lt(fixed, 10, "a shuffle of 1000 should move almost everything");
}
