/* The dropout generator, defined once. Every ISA must reproduce these bits.
 *
 * A row's stream: the row key (ht_dropout_key: a splitmix64 chain over seed,
 * layer, step and row) seeds HT_RNG_LANES = 8 independent xoshiro128++
 * generators (32-bit output, 128-bit state each). Lane l's state is the
 * four 32-bit halves of the next two outputs of a splitmix64 sequence
 * started at key ^ (l+1)*HT_RNG_LANE_GAMMA. Element j of the row takes the
 * (j / 8)-th output of lane j % 8, so one 8-lane vector step yields 8
 * consecutive elements (AVX2: one ymm; NEON: two uint32x4_t).
 * Element j is dropped when its 32-bit draw r < thr (thr = round(p*2^32));
 * keep bit j = r >= thr. Integer compare, no float conversion.
 */
#ifndef HT_SIMD_RNG_H
#define HT_SIMD_RNG_H

#include <stdint.h>

#define HT_RNG_LANES 8
#define HT_RNG_LANE_GAMMA 0xD1B54A32D192ED03ull

static inline uint64_t ht_splitmix64_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t ht_mix64(uint64_t x)
{
    uint64_t s = x;
    return ht_splitmix64_next(&s);
}

static inline uint32_t ht_rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

/* State of 8 lanes, structure-of-arrays so SIMD loads one word of all lanes. */
typedef struct ht_rng8 {
    uint32_t s[4][HT_RNG_LANES];
} ht_rng8;

static inline void ht_rng8_seed(ht_rng8 *r, uint64_t key)
{
    for (int l = 0; l < HT_RNG_LANES; l++) {
        uint64_t sm = key ^ ((uint64_t)(l + 1) * HT_RNG_LANE_GAMMA);
        uint64_t a = ht_splitmix64_next(&sm);
        uint64_t b = ht_splitmix64_next(&sm);
        r->s[0][l] = (uint32_t)a;
        r->s[1][l] = (uint32_t)(a >> 32);
        r->s[2][l] = (uint32_t)b;
        r->s[3][l] = (uint32_t)(b >> 32);
        /* xoshiro must not start from the all-zero state */
        if ((a | b) == 0)
            r->s[0][l] = 1;
    }
}

/* One xoshiro128++ step of one lane; returns its output. */
static inline uint32_t ht_rng8_next_lane(ht_rng8 *r, int l)
{
    uint32_t s0 = r->s[0][l], s1 = r->s[1][l], s2 = r->s[2][l],
             s3 = r->s[3][l];
    uint32_t out = ht_rotl32(s0 + s3, 7) + s0;
    uint32_t t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = ht_rotl32(s3, 11);
    r->s[0][l] = s0;
    r->s[1][l] = s1;
    r->s[2][l] = s2;
    r->s[3][l] = s3;
    return out;
}

#endif /* HT_SIMD_RNG_H */
