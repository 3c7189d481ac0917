/* The dropout generator, defined once. Every ISA must reproduce these bits.
 *
 * A row's stream: the row key (ht_dropout_key: a splitmix64 chain over seed,
 * layer, step and row) seeds HT_RNG_LANES = 8 independent xoshiro128++
 * generators (32-bit output, 128-bit state each). Lane l's state is the
 * four 32-bit halves of the next two outputs of a splitmix64 sequence
 * started at key ^ (l+1)*HT_RNG_LANE_GAMMA. Step t of the row's stream is
 * the t-th output u[t][l] of every lane l (ht_rng8_step), 8 words.
 *
 * Each 32-bit output gives two 16-bit draws: element j of the row, with
 * t = j / 16 and i = j % 16, draws r = the low half of u[t][i/2] for even i
 * and its high half for odd i. In memory order (little-endian lanes) that
 * is simply the 16 half-words of step t, so one 8-lane vector step yields
 * elements 16t .. 16t+15 (AVX2: one ymm of 16-bit lanes; NEON: two
 * uint16x8_t). Element j is dropped when r < thr, thr = round(p * 2^16)
 * (ht_dropout_threshold, at most 65535); keep bit j = r >= thr. Integer
 * compare, no float conversion; p is thereby quantised to 1/65536, which
 * shifts no keep rate by more than 7.7e-6. Half-width draws halve the
 * generator's work per element: it is most of a dropout pass's
 * arithmetic.
 */
#ifndef HT_SIMD_RNG_H
#define HT_SIMD_RNG_H

#include <stddef.h>
#include <stdint.h>

#define HT_RNG_LANES 8
/* splitmix64: the state's increment and the output function's two
 * multipliers (the SIMD seeders use them too) */
#define HT_SPLITMIX_GAMMA 0x9E3779B97F4A7C15ull
#define HT_SPLITMIX_M1 0xBF58476D1CE4E5B9ull
#define HT_SPLITMIX_M2 0x94D049BB133111EBull
#define HT_RNG_LANE_GAMMA 0xD1B54A32D192ED03ull

static inline uint64_t ht_splitmix64_next(uint64_t *state)
{
    uint64_t z = (*state += HT_SPLITMIX_GAMMA);
    z = (z ^ (z >> 30)) * HT_SPLITMIX_M1;
    z = (z ^ (z >> 27)) * HT_SPLITMIX_M2;
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
        /* xoshiro must not start from the all-zero state. This cannot
         * fire: splitmix64's output function is a bijection (xor-shifts
         * and odd multipliers) and a, b come from two different inputs,
         * so they are never both zero. The SIMD seeders rely on that and
         * leave the test out; it stays here as the reference's statement
         * of the invariant. */
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

/* Step t of the stream: the next output of every lane, lane l in u[l]. */
static inline void ht_rng8_step(ht_rng8 *r, uint32_t u[HT_RNG_LANES])
{
    for (int l = 0; l < HT_RNG_LANES; l++)
        u[l] = ht_rng8_next_lane(r, l);
}

/* The 16-bit draw of element i (0 <= i < 16) of a step's outputs u. */
static inline uint32_t ht_rng8_draw(const uint32_t u[HT_RNG_LANES], int i)
{
    return (u[i / 2] >> (16 * (i % 2))) & 0xFFFFu;
}

/* A threshold above 65535 (outside ht_dropout_threshold's range) drops
 * every element, as the scalar's r >= thr does; a 16-bit compare cannot
 * say so. For the SIMD kernels: when thr is such a threshold, zero keep
 * bits (ceil(n/32) words) and, when y != NULL, y[0..n), and return 1. */
static inline int ht_dropout_drop_all(uint32_t thr, size_t n, uint32_t *bits,
                                      float *y)
{
    if (thr <= 0xFFFFu)
        return 0;
    for (size_t w = 0; w < (n + 31) / 32; w++)
        bits[w] = 0;
    for (size_t j = 0; y && j < n; j++)
        y[j] = 0.0f;
    return 1;
}

#endif /* HT_SIMD_RNG_H */
