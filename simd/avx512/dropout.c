/* AVX-512 dropout for two rows at once (dropout_fwd2, dropout_mask2): the
 * two rows' generators of simd/rng.h (8 xoshiro128++ lanes each) share one
 * set of four zmm registers, row 0 in lanes 0-7 and row 1 in lanes 8-15.
 *
 * Why: the generator is most of a dropout pass's arithmetic, and AVX-512
 * both doubles the lanes and rotates in one instruction (AVX2 needs three).
 * In 16-bit lanes one step's outputs are row 0's draws for elements 16t ..
 * 16t+15, then row 1's: one unsigned 16-bit compare (AVX512BW) against the
 * threshold gives both rows' keep bits in element order, directly usable
 * as the write masks of the apply. No float conversion, no mask shuffles.
 *
 * The draws, the keep test (r >= thr) and y = keep ? x*scale : +0 are the
 * scalar twin's, so masks and outputs are bitwise those of every other
 * table (tests/test_kernels.c). One-row calls stay with the AVX2 kernels:
 * with one row only half of each register would do useful work. */
#include <immintrin.h>
#include <stdint.h>

#include "../rng.h"
#include "avx512.h"

typedef struct rng2 {
    __m512i s0, s1, s2, s3;
} rng2;

static inline __m512i halves(const uint32_t *lo, const uint32_t *hi)
{
    return _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)lo)),
        _mm256_loadu_si256((const __m256i *)hi), 1);
}

static inline void rng2_seed(rng2 *r, uint64_t key0, uint64_t key1)
{
    ht_rng8 a, b;
    ht_rng8_seed(&a, key0);
    ht_rng8_seed(&b, key1);
    r->s0 = halves(a.s[0], b.s[0]);
    r->s1 = halves(a.s[1], b.s[1]);
    r->s2 = halves(a.s[2], b.s[2]);
    r->s3 = halves(a.s[3], b.s[3]);
}

/* One xoshiro128++ step of all 16 lanes; returns the 16 outputs. */
static inline __m512i rng2_next(rng2 *r)
{
    const __m512i out = _mm512_add_epi32(
        _mm512_rol_epi32(_mm512_add_epi32(r->s0, r->s3), 7), r->s0);
    const __m512i t = _mm512_slli_epi32(r->s1, 9);
    r->s2 = _mm512_xor_si512(r->s2, r->s0);
    r->s3 = _mm512_xor_si512(r->s3, r->s1);
    r->s1 = _mm512_xor_si512(r->s1, r->s2);
    r->s0 = _mm512_xor_si512(r->s0, r->s3);
    r->s2 = _mm512_xor_si512(r->s2, t);
    r->s3 = _mm512_rol_epi32(r->s3, 11);
    return out;
}

/* Keep bits of the next 16 elements of both rows: row 0's in bits 0-15,
 * row 1's in bits 16-31; thr16 is thr in every 16-bit lane. */
static inline __mmask32 rng2_keep(rng2 *r, __m512i thr16)
{
    return _mm512_cmpge_epu16_mask(rng2_next(r), thr16);
}

/* Row 0's and row 1's 32-bit words of keep bits from two steps. */
static inline uint32_t word0(__mmask32 a, __mmask32 b)
{
    return ((uint32_t)a & 0xFFFFu) | ((uint32_t)b << 16);
}
static inline uint32_t word1(__mmask32 a, __mmask32 b)
{
    return ((uint32_t)a >> 16) | ((uint32_t)b & 0xFFFF0000u);
}

/* Bits below n (0 <= n < 32) of a word. */
static inline uint32_t low_bits(uint32_t w, size_t n)
{
    return w & ((1u << n) - 1u);
}

static void dropout_mask2_avx512(uint64_t key0, uint64_t key1, size_t n,
                                 uint32_t thr, uint32_t *bits0,
                                 uint32_t *bits1)
{
    if (ht_dropout_drop_all(thr, n, bits0, NULL) +
        ht_dropout_drop_all(thr, n, bits1, NULL))
        return;
    rng2 r;
    rng2_seed(&r, key0, key1);
    const __m512i t16 = _mm512_set1_epi16((short)thr);
    const size_t nw = n / 32;
    for (size_t w = 0; w < nw; w++) {
        const __mmask32 a = rng2_keep(&r, t16), b = rng2_keep(&r, t16);
        bits0[w] = word0(a, b);
        bits1[w] = word1(a, b);
    }
    if (n % 32) {
        const __mmask32 a = rng2_keep(&r, t16), b = rng2_keep(&r, t16);
        bits0[nw] = low_bits(word0(a, b), n % 32);
        bits1[nw] = low_bits(word1(a, b), n % 32);
    }
}

/* 16 elements: y = keep ? x*s : +0 (x loaded before y is stored). */
static inline void apply16(__mmask16 keep, __m512 s, const float *x,
                           float *y, int nt)
{
    const __m512 v = _mm512_maskz_mul_ps(keep, _mm512_loadu_ps(x), s);
    if (nt)
        _mm512_stream_ps(y, v);
    else
        _mm512_storeu_ps(y, v);
}

/* The first rem < 16 elements only (masked: nothing past them is read or
 * written). */
static inline void apply_part(__mmask16 keep, size_t rem, __m512 s,
                              const float *x, float *y)
{
    const __mmask16 in = (__mmask16)((1u << rem) - 1u);
    _mm512_mask_storeu_ps(
        y, in, _mm512_maskz_mul_ps(keep & in, _mm512_maskz_loadu_ps(in, x), s));
}

/* The last rem (0 < rem < 32) elements of a row from its two steps' keep
 * bits ka, kb. */
static inline void apply_tail(__mmask16 ka, __mmask16 kb, size_t rem,
                              __m512 s, const float *x, float *y)
{
    if (rem >= 16) {
        apply16(ka, s, x, y, 0);
        if (rem > 16)
            apply_part(kb, rem - 16, s, x + 16, y + 16);
    } else {
        apply_part(ka, rem, s, x, y);
    }
}

/* Streaming only on 64-byte aligned outputs, where every 32-element word
 * is two whole lines (see the AVX2 file for why partial lines cost more
 * than they save). */
static void dropout_fwd2_avx512(uint64_t key0, uint64_t key1, size_t n,
                                uint32_t thr, float scale, const float *x0,
                                const float *x1, float *y0, float *y1,
                                uint32_t *bits0, uint32_t *bits1, int stream)
{
    if (ht_dropout_drop_all(thr, n, bits0, y0) +
        ht_dropout_drop_all(thr, n, bits1, y1))
        return;
    rng2 r;
    rng2_seed(&r, key0, key1);
    const __m512i t16 = _mm512_set1_epi16((short)thr);
    const __m512 s = _mm512_set1_ps(scale);
    const size_t nw = n / 32;
    const int nt = stream && ((uintptr_t)y0 & 63u) == 0 &&
                   ((uintptr_t)y1 & 63u) == 0;
    for (size_t w = 0; w < nw; w++) {
        const __mmask32 a = rng2_keep(&r, t16), b = rng2_keep(&r, t16);
        const size_t o = 32 * w;
        apply16((__mmask16)a, s, x0 + o, y0 + o, nt);
        apply16((__mmask16)b, s, x0 + o + 16, y0 + o + 16, nt);
        apply16((__mmask16)(a >> 16), s, x1 + o, y1 + o, nt);
        apply16((__mmask16)(b >> 16), s, x1 + o + 16, y1 + o + 16, nt);
        bits0[w] = word0(a, b);
        bits1[w] = word1(a, b);
    }
    if (n % 32) {
        const __mmask32 a = rng2_keep(&r, t16), b = rng2_keep(&r, t16);
        const size_t o = 32 * nw, rem = n % 32;
        apply_tail((__mmask16)a, (__mmask16)b, rem, s, x0 + o, y0 + o);
        apply_tail((__mmask16)(a >> 16), (__mmask16)(b >> 16), rem, s,
                   x1 + o, y1 + o);
        bits0[nw] = low_bits(word0(a, b), rem);
        bits1[nw] = low_bits(word1(a, b), rem);
    }
    if (nt)
        _mm_sfence();
}

void ht_avx512_dropout_init(ht_kernels *k)
{
    k->dropout_fwd2 = dropout_fwd2_avx512;
    k->dropout_mask2 = dropout_mask2_avx512;
}
